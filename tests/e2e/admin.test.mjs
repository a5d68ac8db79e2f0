// The admin API (issue 4; SPEC sections 1, 3 and 4), black box against the
// built Worker in real workerd: create, list, search, page, get, patch,
// disable/enable, roll (with and without grace), revoke, usage, audit,
// verify, health; validation, size, not-found and auth errors; the per-owner
// key cap under concurrency and per plan; owner-scoped admin keys.
//
// One gateway for the whole file; every test uses its own owners so tests do
// not depend on each other.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { startOrigin, startGateway, makeKey, forgeKey, ADMIN_TOKEN, VERIFY_TOKEN, KEY_PEPPER } from "./harness.mjs";

// Plans for the cap tests: `pro` lifts the default cap of 2 to 10, `trio` sets 3.
const PLANS = {
  pro: { max_keys: 10 },
  trio: { max_keys: 3 },
  metered: { rate_limit: "50/1m", credits: { remaining: 7 } },
};

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({ originUrl: origin.url, vars: { PLANS: JSON.stringify(PLANS) } });
});
after(async () => {
  await gw?.stop();
  await origin?.stop();
});

// ---------------------------------------------------------------------------
// Helpers

const KEY_RE = /^kg_(sk|pk)_[0-9A-Za-z]{49}$/;
const SIGNING_SECRET_RE = /^kg_sig_[0-9A-Za-z]{43}$/;
const ID_RE = /^key_[0-9A-Za-z_-]+$/;
// RFC 3339, in UTC.
const RFC3339_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$/;
const RECORD_FIELDS = [
  "id",
  "owner",
  "name",
  "description",
  "kind",
  "prefix",
  "scopes",
  "allowed_domains",
  "rate_limit",
  "credits",
  "plan",
  "expires_at",
  "enabled",
  "require_signature",
  "metadata",
  "created_at",
  "updated_at",
  "last_used_at",
];
const VERIFY_FIELDS = ["valid", "code", "status", "key_id", "owner", "kind", "scopes", "ratelimit", "credits_remaining"];

let ownerCounter = 0;
/** A fresh owner id for one test. */
function newOwner(label) {
  ownerCounter += 1;
  return `t-${label}-${ownerCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a response: { status, headers, text, json } (json undefined when not JSON). */
async function read(res) {
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts every response carries a non-empty X-Request-Id. */
function assertRequestId(r, what = "") {
  const id = r.headers.get("x-request-id");
  assert.ok(id && id.length > 0, `${what} lacks X-Request-Id (status ${r.status}, body ${r.text})`);
  return id;
}

/** Asserts a JSON success answer with this status; returns the body. */
function assertJson(r, status, what = "") {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json\b/, `${what}: content-type`);
  assertRequestId(r, what);
  assert.ok(r.json !== undefined, `${what}: body is not JSON: ${r.text}`);
  return r.json;
}

/** Asserts an RFC 9457 problem (SPEC section 2's members); returns the body. */
function assertProblem(r, status, code, what = "") {
  assert.equal(r.status, status, `${what}: expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json\b/, `${what}: content-type`);
  const problem = r.json;
  assert.ok(problem && typeof problem === "object", `${what}: body is not JSON: ${r.text}`);
  for (const member of ["type", "title", "detail", "code", "request_id"]) {
    assert.equal(typeof problem[member], "string", `${what}: problem lacks string ${member}: ${r.text}`);
  }
  assert.equal(problem.status, status, `${what}: body status`);
  assert.equal(problem.code, code, `${what}: code in ${r.text}`);
  const id = assertRequestId(r, what);
  assert.equal(id, problem.request_id, `${what}: X-Request-Id equals body.request_id`);
  return problem;
}

/** Asserts a 400 bad_request whose detail names `field`. */
function assertBadRequest(r, field, what = "") {
  const problem = assertProblem(r, 400, "bad_request", what);
  assert.ok(problem.detail.includes(field), `${what}: detail should name \`${field}\`: ${problem.detail}`);
  return problem;
}

async function admin(method, route, body, token = ADMIN_TOKEN) {
  return read(await gw.admin(method, route, body, token));
}

/** Creates a key with the admin token (or `token`), asserting 201; returns the body. */
async function create(body, token = ADMIN_TOKEN) {
  const r = await admin("POST", "/v1/keys", body, token);
  return assertJson(r, 201, `create ${JSON.stringify(body)}`);
}

async function verify(key, extra = {}, token = ADMIN_TOKEN) {
  const r = await admin("POST", "/v1/verify", { key, ...extra }, token);
  return assertJson(r, 200, `verify ${key}`);
}

async function listAll(query) {
  const r = await admin("GET", `/v1/keys?${new URLSearchParams(query)}`);
  return assertJson(r, 200, `list ${JSON.stringify(query)}`);
}

/** Every string a leak of `key` could show up as: itself, its body, its stored hashes. */
function leakForms(key) {
  const forms = [key, key.slice(key.lastIndexOf("_") + 1)];
  for (const digest of [createHmac("sha256", KEY_PEPPER).update(key).digest(), createHash("sha256").update(key).digest()]) {
    forms.push(digest.toString("hex"), digest.toString("base64"), digest.toString("base64url"), digest.toString("hex").toUpperCase());
  }
  return forms;
}

function assertNoLeak(text, secrets, where) {
  for (const secret of secrets) {
    for (const form of leakForms(secret)) {
      assert.ok(!text.includes(form), `${where} contains a secret form ${form.slice(0, 12)}…: ${text.slice(0, 400)}`);
    }
  }
}

/** Asserts a key record; `issued` (create/roll answers) may also carry `key` and `signing_secret`. */
function assertRecord(record, what = "record", { issued = false } = {}) {
  for (const field of RECORD_FIELDS) assert.ok(Object.hasOwn(record, field), `${what} lacks ${field}: ${JSON.stringify(record)}`);
  assert.match(record.id, ID_RE, `${what}.id`);
  assert.match(record.prefix, /^kg_(sk|pk)_[0-9A-Za-z]{4}$/, `${what}.prefix`);
  assert.equal(record.prefix.slice(3, 5), record.kind === "secret" ? "sk" : "pk", `${what}: prefix names the kind`);
  assert.ok(["secret", "publishable"].includes(record.kind), `${what}.kind`);
  for (const time of ["created_at", "updated_at"]) assert.match(record[time], RFC3339_UTC_RE, `${what}.${time}`);
  for (const time of ["expires_at", "last_used_at"]) {
    if (record[time] !== null) assert.match(record[time], RFC3339_UTC_RE, `${what}.${time}`);
  }
  assert.ok(Array.isArray(record.scopes) && Array.isArray(record.allowed_domains), `${what}: arrays`);
  assert.equal(typeof record.enabled, "boolean");
  assert.equal(typeof record.require_signature, "boolean");
  assert.ok(record.metadata && typeof record.metadata === "object" && !Array.isArray(record.metadata), `${what}.metadata is an object`);
  for (const secretish of issued ? ["hash", "key_hash", "secret"] : ["key", "hash", "key_hash", "signing_secret", "secret"]) {
    assert.ok(!Object.hasOwn(record, secretish), `${what} must not carry ${secretish}`);
  }
}

function assertVerifyShape(answer, what = "verify") {
  for (const field of VERIFY_FIELDS) assert.ok(Object.hasOwn(answer, field), `${what} lacks ${field}: ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.valid, "boolean");
  assert.equal(typeof answer.code, "string");
  assert.equal(typeof answer.status, "number");
}

function assertValid(answer, what = "verify") {
  assertVerifyShape(answer, what);
  assert.equal(answer.valid, true, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.code, "ok", what);
  assert.equal(answer.status, 200, what);
}

function assertInvalid(answer, code, status, what = "verify") {
  assertVerifyShape(answer, what);
  assert.equal(answer.valid, false, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.code, code, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer)}`);
}

const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();

// ---------------------------------------------------------------------------

describe("health", () => {
  test("GET /_keygate/health answers 200 JSON, no auth, with kv, key_object and owner_registry ok", async () => {
    const r = await read(await gw.fetch("/_keygate/health"));
    const body = assertJson(r, 200, "health");
    const checks = body.checks ?? body;
    for (const check of ["kv", "key_object", "owner_registry"]) {
      assert.equal(checks[check], "ok", `${check} in ${r.text}`);
    }
  });
});

describe("create", () => {
  test("201 with every record field of SPEC section 1, the key once, no signing secret without require_signature", async () => {
    const owner = newOwner("create");
    const expires = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
    const before = Date.now();
    const body = {
      owner,
      name: "Server key",
      description: "for the billing service",
      kind: "secret",
      scopes: ["read:all", "write:datasets/*"],
      allowed_domains: ["app.example.com", "*.example.org"],
      rate_limit: { limit: 5, period_seconds: 60 },
      credits: { remaining: 100, refill: { amount: 100, interval_seconds: 3600 } },
      expires_at: expires,
      require_signature: false,
      metadata: { team: "billing", tier: 2 },
      enabled: true,
      plan: "pro",
    };
    const r = await admin("POST", "/v1/keys", body);
    const created = assertJson(r, 201, "create");
    assertRecord(created, "created", { issued: true });
    assert.equal(created.owner, owner);
    assert.equal(created.name, "Server key");
    assert.equal(created.description, "for the billing service");
    assert.equal(created.kind, "secret");
    assert.deepEqual([...created.scopes].sort(), ["read:all", "write:datasets/*"]);
    assert.deepEqual([...created.allowed_domains].sort(), ["*.example.org", "app.example.com"]);
    assert.deepEqual(created.rate_limit, { limit: 5, period_seconds: 60 });
    assert.equal(created.credits.remaining, 100);
    assert.deepEqual(created.credits.refill, { amount: 100, interval_seconds: 3600 });
    assert.equal(created.plan, "pro");
    assert.equal(Date.parse(created.expires_at), Date.parse(expires), "expires_at is the requested instant");
    assert.equal(created.enabled, true);
    assert.equal(created.require_signature, false);
    assert.deepEqual(created.metadata, { team: "billing", tier: 2 });
    assert.equal(created.last_used_at, null);
    const createdAt = Date.parse(created.created_at);
    assert.ok(createdAt >= before - 2000 && createdAt <= Date.now() + 2000, `created_at ${created.created_at} is now`);
    // The key: shown once, well formed, with a valid checksum, starting with the prefix.
    assert.match(created.key, KEY_RE);
    assert.ok(created.key.startsWith("kg_sk_"), created.key);
    assert.equal(created.key, makeKey("kg", "sk", created.key.slice(6, 49)), "checksum is CRC-32 in base62 (SPEC 1)");
    assert.equal(created.prefix, created.key.slice(0, 10), "prefix: namespace, kind and 4 body characters");
    assert.ok(!Object.hasOwn(created, "signing_secret") || created.signing_secret === null, "no signing secret without require_signature");
    assert.ok(!r.text.includes("signing_secret\":\"kg_sig_"), "no signing secret value");
  });

  test("require_signature: the create response carries signing_secret kg_sig_ + 43 base62", async () => {
    const created = await create({ owner: newOwner("sig"), require_signature: true });
    assert.equal(created.require_signature, true);
    assert.match(created.signing_secret, SIGNING_SECRET_RE);
    assert.match(created.key, KEY_RE);
    const got = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200, "get");
    assert.ok(!JSON.stringify(got).includes(created.signing_secret), "GET never shows the signing secret");
  });

  test("every create issues a different key and id", async () => {
    const owner = newOwner("distinct");
    const a = await create({ owner });
    const b = await create({ owner });
    assert.notEqual(a.key, b.key);
    assert.notEqual(a.id, b.id);
    assert.equal(a.key.length, "kg".length + 53);
  });

  test("a minimal body gets a secret, enabled key without signatures", async () => {
    const created = await create({ owner: newOwner("minimal") });
    assertRecord(created, "created", { issued: true });
    assert.equal(created.kind, "secret");
    assert.equal(created.enabled, true);
    assert.equal(created.require_signature, false);
    assert.deepEqual(created.allowed_domains, []);
    assert.deepEqual(created.metadata, {});
    assert.equal(created.expires_at, null);
    assert.equal(created.last_used_at, null);
  });

  test("publishable keys: pk key and prefix, read:all by default", async () => {
    const created = await create({ owner: newOwner("pk"), kind: "publishable", allowed_domains: ["app.example.com"] });
    assertRecord(created, "created", { issued: true });
    assert.equal(created.kind, "publishable");
    assert.match(created.key, /^kg_pk_[0-9A-Za-z]{49}$/);
    assert.ok(created.prefix.startsWith("kg_pk_"));
    assert.deepEqual(created.scopes, ["read:all"]);
    const answer = await verify(created.key, { origin: "https://app.example.com" });
    assertValid(answer, "publishable verify");
    assert.equal(answer.kind, "publishable");
    assert.deepEqual(answer.scopes, ["read:all"]);
  });

  test("publishable keys can never hold admin, write:* or delete:* (400 naming scopes), on create or patch", async () => {
    const owner = newOwner("pk-scopes");
    for (const scope of ["admin", "write:all", "delete:all", "write:datasets/x", "delete:datasets/*"]) {
      const r = await admin("POST", "/v1/keys", { owner, kind: "publishable", scopes: ["read:all", scope] });
      assertBadRequest(r, "scopes", `publishable with ${scope}`);
    }
    const ok = await create({ owner, kind: "publishable", scopes: ["read:datasets/prices"] });
    assert.deepEqual(ok.scopes, ["read:datasets/prices"]);
    for (const scope of ["admin", "write:all", "delete:all"]) {
      const r = await admin("PATCH", `/v1/keys/${ok.id}`, { scopes: [scope] });
      assertBadRequest(r, "scopes", `patch publishable to ${scope}`);
    }
    const after = assertJson(await admin("GET", `/v1/keys/${ok.id}`), 200, "get");
    assert.deepEqual(after.scopes, ["read:datasets/prices"], "a refused patch changes nothing");
    assert.equal(assertJson(await admin("GET", `/v1/keys?owner=${owner}`), 200).keys.length, 1, "refused creates created nothing");
  });
});

describe("validation", () => {
  const cases = [
    ["unknown field", { colour: "blue" }, "colour"],
    ["name of the wrong type", { name: 5 }, "name"],
    ["description of the wrong type", { description: ["x"] }, "description"],
    ["kind not secret/publishable", { kind: "private" }, "kind"],
    ["scopes not an array", { scopes: "read:all" }, "scopes"],
    ["scope with empty resource", { scopes: ["read:"] }, "scopes"],
    ["scope with an unknown action", { scopes: ["fly:all"] }, "scopes"],
    ["scope without action", { scopes: ["everything"] }, "scopes"],
    ["scope with a space", { scopes: ["read:data sets"] }, "scopes"],
    ["domain with a scheme", { allowed_domains: ["https://app.example.com"] }, "allowed_domains"],
    ["domain with a path", { allowed_domains: ["app.example.com/x"] }, "allowed_domains"],
    ["domain with a space", { allowed_domains: ["bad domain.com"] }, "allowed_domains"],
    ["domains not an array", { allowed_domains: "app.example.com" }, "allowed_domains"],
    ["expires_at in the past", { expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
    ["expires_at not RFC 3339", { expires_at: "tomorrow" }, "expires_at"],
    ["expires_at a number", { expires_at: 1893456000 }, "expires_at"],
    ["rate_limit.limit 0", { rate_limit: { limit: 0, period_seconds: 1 } }, "rate_limit"],
    ["rate_limit.period_seconds 0", { rate_limit: { limit: 5, period_seconds: 0 } }, "rate_limit"],
    ["rate_limit of the wrong type", { rate_limit: 12 }, "rate_limit"],
    ["rate_limit with an unknown member", { rate_limit: { limit: 5, period_seconds: 1, burst: 2 } }, "burst"],
    ["negative credits", { credits: { remaining: -1 } }, "credits"],
    ["credits refill interval 0", { credits: { remaining: 5, refill: { amount: 5, interval_seconds: 0 } } }, "credits"],
    ["plan not in PLANS", { plan: "gold" }, "plan"],
    ["plan of the wrong type", { plan: 3 }, "plan"],
    ["require_signature not a boolean", { require_signature: "yes" }, "require_signature"],
    ["enabled not a boolean", { enabled: 1 }, "enabled"],
    ["metadata not an object", { metadata: ["a"] }, "metadata"],
    ["owner with a space", { owner: "a b" }, "owner"],
    ["owner of the wrong type", { owner: 42 }, "owner"],
  ];
  for (const [label, fields, field] of cases) {
    test(`create: ${label} → 400 bad_request naming \`${field}\`, nothing created`, async () => {
      const owner = newOwner("val");
      const body = { owner, ...fields };
      const r = await admin("POST", "/v1/keys", body);
      assertBadRequest(r, field, label);
      const list = await listAll({ owner });
      assert.equal(list.keys.length, 0, `${label}: nothing may be created`);
    });
  }

  test("create without an owner (admin token) → 400 naming owner", async () => {
    assertBadRequest(await admin("POST", "/v1/keys", { name: "orphan" }), "owner", "no owner");
  });

  test("create: a body that is not a JSON object → 400 bad_request", async () => {
    for (const body of ["{", "[]", '"key"', "null", "", "{\"owner\": \"a\",}"]) {
      const r = await admin("POST", "/v1/keys", body);
      assertProblem(r, 400, "bad_request", `body ${JSON.stringify(body)}`);
    }
  });

  test("create: a body over 64 KiB → 413 payload_too_large (with and without Content-Length)", async () => {
    const owner = newOwner("big");
    const big = JSON.stringify({ owner, name: "x", metadata: { blob: "x".repeat(70 * 1024) } });
    assertProblem(await admin("POST", "/v1/keys", big), 413, "payload_too_large", "create with Content-Length");
    // Streamed, without Content-Length.
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
        controller.close();
      },
    });
    const res = await gw.fetch("/_keygate/v1/keys", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    });
    assertProblem(await read(res), 413, "payload_too_large", "create streamed");
    assert.equal((await listAll({ owner })).keys.length, 0);
  });

  test("patch: a body over 64 KiB → 413 payload_too_large", async () => {
    const created = await create({ owner: newOwner("bigpatch") });
    const big = JSON.stringify({ description: "x".repeat(70 * 1024) });
    assertProblem(await admin("PATCH", `/v1/keys/${created.id}`, big), 413, "payload_too_large", "patch");
  });

  test("list and audit: a bad limit, cursor, owner or an unknown parameter → 400 naming it", async () => {
    for (const route of ["/v1/keys", "/v1/audit"]) {
      for (const limit of ["abc", "-1", "1.5"]) {
        assertBadRequest(await admin("GET", `${route}?limit=${limit}`), "limit", `${route} limit=${limit}`);
      }
      assertBadRequest(await admin("GET", `${route}?cursor=not-a-cursor`), "cursor", `${route} cursor`);
      assertBadRequest(await admin("GET", `${route}?owner=${encodeURIComponent("a b")}`), "owner", `${route} owner`);
      assertBadRequest(await admin("GET", `${route}?colour=blue`), "colour", `${route} unknown parameter`);
    }
  });

  test("list and audit: empty parameters, as in the SPEC's `?owner=&q=&limit=&cursor=`, are absent ones", async () => {
    const created = await create({ owner: newOwner("emptyparams") });
    const listed = assertJson(await admin("GET", "/v1/keys?owner=&q=&limit=&cursor="), 200, "list");
    assert.ok(Array.isArray(listed.keys));
    assertJson(await admin("GET", `/v1/keys?owner=${created.owner}&q=&limit=&cursor=`), 200, "list one owner");
    assert.ok(Array.isArray(assertJson(await admin("GET", "/v1/audit?owner="), 200, "audit").events));
  });
});

describe("get, list and search", () => {
  test("GET returns the record; unknown ids → 404 not_found on every key route", async () => {
    const created = await create({ owner: newOwner("get"), name: "got" });
    const got = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200, "get");
    assertRecord(got, "got");
    const { key, signing_secret, ...record } = created;
    assert.deepEqual(got, record, "GET shows the same record as create, without the key");
    const unknown = "key_0000000000000000000000";
    for (const [method, route, body] of [
      ["GET", `/v1/keys/${unknown}`],
      ["PATCH", `/v1/keys/${unknown}`, { name: "x" }],
      ["DELETE", `/v1/keys/${unknown}`],
      ["POST", `/v1/keys/${unknown}/roll`, {}],
      ["GET", `/v1/keys/${unknown}/usage`],
      ["GET", `/v1/keys/not-a-key-id`],
    ]) {
      assertProblem(await admin(method, route, body), 404, "not_found", `${method} ${route}`);
    }
  });

  test("GET, list, usage and audit never contain the plaintext key, the signing secret or any hash", async () => {
    const owner = newOwner("noleak");
    const a = await create({ owner, name: "leak-a", require_signature: true });
    const b = await create({ owner, name: "leak-b" });
    const secrets = [a.key, b.key, a.signing_secret];
    assertValid(await verify(a.key));
    for (const route of [
      `/v1/keys/${a.id}`,
      `/v1/keys/${b.id}`,
      `/v1/keys?owner=${owner}`,
      `/v1/keys?q=leak-`,
      `/v1/keys`,
      `/v1/keys/${a.id}/usage`,
      `/v1/audit?owner=${owner}`,
      `/v1/audit`,
    ]) {
      const r = await admin("GET", route);
      assertJson(r, 200, route);
      assertNoLeak(r.text, secrets, route);
    }
    const list = await listAll({ owner });
    for (const record of list.keys) assertRecord(record, "listed");
  });

  test("list is oldest to newest; q matches name, description and prefix; limit and next_cursor page through", async () => {
    const owner = newOwner("list");
    const made = [];
    const specs = [
      { name: "Alpha service", description: "first" },
      { name: "bravo", description: "the Zebra-Reporting job" },
      { name: "charlie", description: "" },
      { name: "delta", description: "nightly export" },
      { name: "echo", description: "the last one" },
    ];
    for (const spec of specs) made.push(await create({ owner, plan: "pro", ...spec }));
    const ids = made.map((k) => k.id);

    const all = await listAll({ owner });
    assert.deepEqual(all.keys.map((k) => k.id), ids, "oldest to newest");
    assert.ok(Object.hasOwn(all, "next_cursor"), "list has next_cursor");
    assert.equal(all.next_cursor, null, "one page holds all");
    for (const record of all.keys) {
      assertRecord(record, "listed");
      assert.equal(record.owner, owner);
    }

    // q: name, description, prefix.
    const byName = await listAll({ owner, q: "Alpha" });
    assert.deepEqual(byName.keys.map((k) => k.id), [ids[0]], "q matches the name");
    const byDescription = await listAll({ owner, q: "Zebra-Reporting" });
    assert.deepEqual(byDescription.keys.map((k) => k.id), [ids[1]], "q matches the description");
    const byPrefix = await listAll({ owner, q: made[2].prefix });
    assert.ok(byPrefix.keys.map((k) => k.id).includes(ids[2]), `q matches the prefix ${made[2].prefix}`);
    for (const k of byPrefix.keys) assert.equal(k.prefix, made[2].prefix, "only keys with that prefix");
    const none = await listAll({ owner, q: "no-such-key-anywhere" });
    assert.deepEqual(none.keys, []);
    // q never matches the secret part of a key.
    const bySecret = await listAll({ owner, q: made[3].key.slice(20, 40) });
    assert.deepEqual(bySecret.keys, [], "q does not search the plaintext key");

    // Paging.
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await listAll({ owner, limit: "2", ...(cursor ? { cursor } : {}) });
      assert.ok(page.keys.length <= 2, "a page holds at most limit keys");
      seen.push(...page.keys.map((k) => k.id));
      cursor = page.next_cursor;
      pages += 1;
      assert.ok(pages <= 5, "paging terminates");
      if (cursor !== null) assert.equal(typeof cursor, "string");
    } while (cursor);
    assert.deepEqual(seen, ids, "pages concatenate to the whole list, in order, without repeats");
    assert.equal(pages, 3);

    // Paging a search.
    const firstSearchPage = await listAll({ owner, q: "e", limit: "1" });
    assert.equal(firstSearchPage.keys.length, 1);
    assert.equal(typeof firstSearchPage.next_cursor, "string");

    // The admin token may list without owner: every owner's keys, ours among them, in creation order.
    const everything = [];
    cursor = undefined;
    do {
      const page = await listAll({ limit: "100", ...(cursor ? { cursor } : {}) });
      everything.push(...page.keys.map((k) => k.id));
      cursor = page.next_cursor;
    } while (cursor);
    const ours = everything.filter((id) => ids.includes(id));
    assert.deepEqual(ours, ids, "the unscoped list holds our keys in creation order");
  });
});

describe("patch", () => {
  test("PATCH changes every editable field and answers 200 with the record", async () => {
    const owner = newOwner("patch");
    const created = await create({ owner, name: "before", description: "old", scopes: ["read:all"] });
    const expires = new Date(Date.now() + 7 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
    const change = {
      name: "after",
      description: "new description",
      scopes: ["read:all", "write:all"],
      allowed_domains: ["*.example.com"],
      rate_limit: { limit: 3, period_seconds: 10 },
      credits: { remaining: 9 },
      plan: "pro",
      expires_at: expires,
      metadata: { env: "prod" },
    };
    await sleep(1100); // so updated_at can move past created_at at one-second precision
    const r = await admin("PATCH", `/v1/keys/${created.id}`, change);
    const patched = assertJson(r, 200, "patch");
    assertRecord(patched, "patched");
    assert.ok(!Object.hasOwn(patched, "key"), "PATCH never returns a key");
    assert.equal(patched.id, created.id);
    assert.equal(patched.owner, owner);
    assert.equal(patched.kind, "secret");
    assert.equal(patched.prefix, created.prefix, "prefix unchanged");
    assert.equal(patched.name, "after");
    assert.equal(patched.description, "new description");
    assert.deepEqual([...patched.scopes].sort(), ["read:all", "write:all"]);
    assert.deepEqual(patched.allowed_domains, ["*.example.com"]);
    assert.deepEqual(patched.rate_limit, { limit: 3, period_seconds: 10 });
    assert.equal(patched.credits.remaining, 9);
    assert.equal(patched.plan, "pro");
    assert.equal(Date.parse(patched.expires_at), Date.parse(expires));
    assert.deepEqual(patched.metadata, { env: "prod" });
    assert.equal(patched.created_at, created.created_at, "created_at unchanged");
    assert.ok(Date.parse(patched.updated_at) > Date.parse(created.updated_at), "updated_at moves");
    const got = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200);
    assert.deepEqual(got, patched, "GET shows the patched record");
    // The key still works with its new settings.
    const answer = await verify(created.key, { origin: "https://a.example.com" });
    assertValid(answer, "patched key");
    assert.equal(answer.ratelimit.limit, 3);
    assert.equal(answer.credits_remaining, 8);
  });

  test("PATCH owner or kind → 400 naming the field, nothing changes", async () => {
    const created = await create({ owner: newOwner("immutable"), name: "fixed" });
    assertBadRequest(await admin("PATCH", `/v1/keys/${created.id}`, { owner: "someone-else" }), "owner", "owner");
    assertBadRequest(await admin("PATCH", `/v1/keys/${created.id}`, { kind: "publishable" }), "kind", "kind");
    assertBadRequest(await admin("PATCH", `/v1/keys/${created.id}`, { name: "changed", kind: "publishable" }), "kind", "kind with name");
    const got = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200);
    assert.equal(got.owner, created.owner);
    assert.equal(got.kind, "secret");
    assert.equal(got.name, "fixed", "a refused patch changes nothing");
  });

  test("PATCH validation: unknown field, wrong type, bad scope, bad domain, past expiry, limit 0, bad plan → 400 naming the field", async () => {
    const created = await create({ owner: newOwner("patchval") });
    for (const [body, field] of [
      [{ colour: 1 }, "colour"],
      [{ name: 7 }, "name"],
      [{ scopes: ["read"] }, "scopes"],
      [{ allowed_domains: ["https://x.com"] }, "allowed_domains"],
      [{ expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
      [{ rate_limit: { limit: 0, period_seconds: 1 } }, "rate_limit"],
      [{ plan: "gold" }, "plan"],
      [{ enabled: "no" }, "enabled"],
      [{ key: "kg_sk_x" }, "key"],
    ]) {
      assertBadRequest(await admin("PATCH", `/v1/keys/${created.id}`, body), field, JSON.stringify(body));
    }
    const got = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200);
    const { key, ...record } = created;
    assert.deepEqual(got, record, "refused patches change nothing");
  });

  test("PATCH that turns require_signature on returns a new signing secret once", async () => {
    const created = await create({ owner: newOwner("sigon") });
    const patched = assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { require_signature: true }), 200, "patch");
    assert.equal(patched.require_signature, true);
    assert.match(patched.signing_secret, SIGNING_SECRET_RE);
    const got = await admin("GET", `/v1/keys/${created.id}`);
    assert.ok(!got.text.includes(patched.signing_secret));
  });

  test("disable → verify says key_disabled (423); enable restores", async () => {
    const created = await create({ owner: newOwner("disable") });
    assertValid(await verify(created.key), "before");
    const disabled = assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: false }), 200, "disable");
    assert.equal(disabled.enabled, false);
    const denied = await verify(created.key);
    assertInvalid(denied, "key_disabled", 423, "disabled");
    assert.equal(denied.key_id, created.id, "a disabled key is still identified");
    assert.equal(assertJson(await admin("GET", `/v1/keys/${created.id}`), 200).enabled, false);
    const enabled = assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: true }), 200, "enable");
    assert.equal(enabled.enabled, true);
    assertValid(await verify(created.key), "enabled again");
  });

  test("a key created disabled is refused until enabled", async () => {
    const created = await create({ owner: newOwner("created-off"), enabled: false });
    assert.equal(created.enabled, false);
    assertInvalid(await verify(created.key), "key_disabled", 423);
  });
});

describe("roll", () => {
  test("roll without grace: same id and settings, new key; the old key is invalid on the very next verify", async () => {
    const owner = newOwner("roll");
    const created = await create({ owner, name: "rolled", scopes: ["read:all"], metadata: { a: 1 } });
    assertValid(await verify(created.key), "old key before roll");
    const r = await admin("POST", `/v1/keys/${created.id}/roll`, {});
    const rolled = assertJson(r, 200, "roll");
    assertRecord(rolled, "rolled", { issued: true });
    assert.equal(rolled.id, created.id, "id is stable across rolls");
    assert.equal(rolled.owner, owner);
    assert.equal(rolled.name, "rolled");
    assert.deepEqual(rolled.scopes, ["read:all"]);
    assert.deepEqual(rolled.metadata, { a: 1 });
    assert.match(rolled.key, KEY_RE);
    assert.notEqual(rolled.key, created.key);
    assert.equal(rolled.prefix, rolled.key.slice(0, 10), "the prefix follows the new key");
    assert.ok(!Object.hasOwn(rolled, "signing_secret") || rolled.signing_secret === null);
    assertInvalid(await verify(created.key), "invalid_key", 401, "old key right after roll");
    const fresh = await verify(rolled.key);
    assertValid(fresh, "new key");
    assert.equal(fresh.key_id, created.id);
    // And the old key stays invalid.
    assertInvalid(await verify(created.key), "invalid_key", 401, "old key again");
  });

  test("roll of a key with require_signature returns a new signing secret", async () => {
    const created = await create({ owner: newOwner("rollsig"), require_signature: true });
    const rolled = assertJson(await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: 0 }), 200, "roll");
    assert.match(rolled.key, KEY_RE);
    assert.match(rolled.signing_secret, SIGNING_SECRET_RE);
    assert.notEqual(rolled.signing_secret, created.signing_secret);
  });

  test("roll with grace_seconds 3: the old key works until the grace ends, then not", async () => {
    const created = await create({ owner: newOwner("grace") });
    const r = await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: 3 });
    const rolledAt = Date.now();
    const rolled = assertJson(r, 200, "roll with grace");
    assertValid(await verify(created.key), "old key within the grace");
    assertValid(await verify(rolled.key), "new key within the grace");
    assert.ok(Date.now() - rolledAt < 2500, "the checks within the grace ran in time");
    await sleep(3500 - (Date.now() - rolledAt));
    assertInvalid(await verify(created.key), "invalid_key", 401, "old key after the grace");
    assertValid(await verify(rolled.key), "new key after the grace");
  });

  test("during a roll's grace the old key signs with the old signing secret and the new key with the new one", async () => {
    const created = await create({ owner: newOwner("gracesig"), require_signature: true, scopes: ["read:all"] });
    const rolled = assertJson(await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: 600 }), 200, "roll");
    assert.match(rolled.signing_secret, SIGNING_SECRET_RE);
    const signed = (key, secret, target) => {
      const ts = String(Math.floor(Date.now() / 1000));
      const bodyHash = createHash("sha256").update("").digest("hex");
      const v1 = createHmac("sha256", secret).update(`${ts}\nGET\n${target}\n${bodyHash}`).digest("hex");
      return gw.fetch(target, { headers: { "x-api-key": key, "x-keygate-timestamp": ts, "x-keygate-signature": `v1=${v1}` } }).then(read);
    };
    const cases = [
      [created.key, created.signing_secret, "/grace/old-old", 200, undefined],
      [rolled.key, rolled.signing_secret, "/grace/new-new", 200, undefined],
      [created.key, rolled.signing_secret, "/grace/old-new", 401, "invalid_signature"],
      [rolled.key, created.signing_secret, "/grace/new-old", 401, "invalid_signature"],
    ];
    for (const [key, secret, target, status, code] of cases) {
      const r = await signed(key, secret, target);
      if (code) assertProblem(r, status, code, target);
      else assert.equal(r.status, status, `${target}: ${r.text}`);
    }
  });

  test("grace_seconds over 7 days → 400 naming grace_seconds; exactly 7 days is accepted", async () => {
    const created = await create({ owner: newOwner("longgrace") });
    for (const grace of [7 * 86_400 + 1, 10 ** 9, -1, "5"]) {
      assertBadRequest(await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: grace }), "grace_seconds", `grace ${grace}`);
    }
    assertValid(await verify(created.key), "refused rolls leave the key alone");
    assertBadRequest(await admin("POST", `/v1/keys/${created.id}/roll`, { grace: 5 }), "grace", "unknown field");
    const rolled = assertJson(await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: 7 * 86_400 }), 200, "7 days");
    assertValid(await verify(created.key), "old key within a 7-day grace");
    assertValid(await verify(rolled.key));
  });
});

describe("revoke", () => {
  test("DELETE → 204; GET 404; the next verify says invalid_key; it leaves the list; a second DELETE is 404", async () => {
    const owner = newOwner("revoke");
    const created = await create({ owner });
    const keep = await create({ owner });
    assertValid(await verify(created.key));
    const r = await admin("DELETE", `/v1/keys/${created.id}`);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, "", "204 has no body");
    assertRequestId(r, "204");
    assertInvalid(await verify(created.key), "invalid_key", 401, "revoked key");
    assertProblem(await admin("GET", `/v1/keys/${created.id}`), 404, "not_found", "GET revoked");
    assertProblem(await admin("GET", `/v1/keys/${created.id}/usage`), 404, "not_found", "usage of revoked");
    assertProblem(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: true }), 404, "not_found", "patch revoked");
    assertProblem(await admin("POST", `/v1/keys/${created.id}/roll`, {}), 404, "not_found", "roll revoked");
    assertProblem(await admin("DELETE", `/v1/keys/${created.id}`), 404, "not_found", "second delete");
    const list = await listAll({ owner });
    assert.deepEqual(list.keys.map((k) => k.id), [keep.id]);
    assertValid(await verify(keep.key), "the other key is untouched");
  });

  test("revoking during a roll's grace ends both the old and the new key", async () => {
    const created = await create({ owner: newOwner("revoke-grace") });
    const rolled = assertJson(await admin("POST", `/v1/keys/${created.id}/roll`, { grace_seconds: 600 }), 200);
    assertValid(await verify(created.key));
    assert.equal((await admin("DELETE", `/v1/keys/${created.id}`)).status, 204);
    assertInvalid(await verify(created.key), "invalid_key", 401, "old key");
    assertInvalid(await verify(rolled.key), "invalid_key", 401, "new key");
  });
});

describe("usage", () => {
  test("GET /v1/keys/{id}/usage: counts by outcome, last_used_at and credits left", async () => {
    const created = await create({ owner: newOwner("usage"), credits: { remaining: 10 } });
    const before = assertJson(await admin("GET", `/v1/keys/${created.id}/usage`), 200, "usage");
    assert.ok(Object.hasOwn(before, "last_used_at"), `usage has last_used_at: ${JSON.stringify(before)}`);
    assert.equal(before.last_used_at, null);
    assert.equal(before.credits_remaining ?? before.credits?.remaining, 10);
    assertValid(await verify(created.key));
    assertValid(await verify(created.key));
    await admin("PATCH", `/v1/keys/${created.id}`, { enabled: false });
    assertInvalid(await verify(created.key), "key_disabled", 423);
    const after = assertJson(await admin("GET", `/v1/keys/${created.id}/usage`), 200, "usage");
    assert.match(after.last_used_at ?? "", RFC3339_UTC_RE, "last_used_at set");
    assert.equal(after.credits_remaining ?? after.credits?.remaining, 8);
    const text = JSON.stringify(after);
    assert.ok(/allowed/.test(text) && /key_disabled/.test(text), `counts by outcome: ${text}`);
    const record = assertJson(await admin("GET", `/v1/keys/${created.id}`), 200);
    assert.equal(record.last_used_at, after.last_used_at, "the record's last_used_at agrees");
  });
});

describe("audit", () => {
  const eventAction = (e) => e.action ?? e.event ?? e.type;
  const eventTime = (e) => e.time;
  const eventChanged = (e) => e.changed_fields ?? e.changed ?? e.changes;

  async function auditOf(owner) {
    const events = [];
    let cursor;
    do {
      const r = await admin("GET", `/v1/audit?${new URLSearchParams({ owner, ...(cursor ? { cursor } : {}) })}`);
      const page = assertJson(r, 200, "audit");
      assert.ok(Array.isArray(page.events), `audit has events: ${r.text}`);
      events.push(...page.events);
      cursor = page.next_cursor;
    } while (cursor);
    return events;
  }

  test("created, updated, disabled, enabled, rolled, revoked: with actor, time, key id, changed fields, no secret", async () => {
    const owner = newOwner("audit");
    const started = Date.now();
    const created = await create({ owner, name: "audited", require_signature: true });
    assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { name: "renamed", description: "d" }), 200);
    assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: false }), 200);
    assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: true }), 200);
    const rolled = assertJson(await admin("POST", `/v1/keys/${created.id}/roll`, {}), 200);
    assert.equal((await admin("DELETE", `/v1/keys/${created.id}`)).status, 204);

    const r = await admin("GET", `/v1/audit?owner=${owner}`);
    assertJson(r, 200, "audit");
    assertNoLeak(r.text, [created.key, rolled.key, created.signing_secret, rolled.signing_secret], "audit");
    const events = (await auditOf(owner)).filter((e) => e.key_id === created.id);
    assert.deepEqual(events.map(eventAction), ["created", "updated", "disabled", "enabled", "rolled", "revoked"], JSON.stringify(events));
    for (const e of events) {
      assert.equal(typeof e.actor, "string", `actor in ${JSON.stringify(e)}`);
      assert.ok(e.actor.length > 0);
      assert.ok(!e.actor.includes(ADMIN_TOKEN), "the actor is not the token itself");
      assert.match(eventTime(e) ?? "", RFC3339_UTC_RE, `time in ${JSON.stringify(e)}`);
      const t = Date.parse(eventTime(e));
      assert.ok(t >= started - 2000 && t <= Date.now() + 2000, "time is now");
      assert.equal(e.key_id, created.id);
    }
    const updated = events[1];
    const changed = eventChanged(updated);
    assert.ok(Array.isArray(changed) || (changed && typeof changed === "object"), `changed fields in ${JSON.stringify(updated)}`);
    const names = Array.isArray(changed) ? changed.map(String) : Object.keys(changed);
    assert.ok(names.some((n) => n.startsWith("name")), `updated names name: ${JSON.stringify(updated)}`);
    assert.ok(names.some((n) => n.startsWith("description")), `updated names description: ${JSON.stringify(updated)}`);
    assert.ok(
      JSON.stringify(eventChanged(events[2]) ?? []).includes("enabled"),
      `disabled names enabled: ${JSON.stringify(events[2])}`,
    );
  });

  test("a patch that disables or enables along with other fields is logged as disabled or enabled, with every field", async () => {
    const owner = newOwner("audit-combined");
    const created = await create({ owner, name: "combined" });
    assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { enabled: false, name: "off" }), 200);
    assertJson(await admin("PATCH", `/v1/keys/${created.id}`, { description: "on again", enabled: true }), 200);
    const events = (await auditOf(owner)).filter((e) => e.key_id === created.id);
    assert.deepEqual(events.map(eventAction), ["created", "disabled", "enabled"], JSON.stringify(events));
    assert.deepEqual([...eventChanged(events[1])].sort(), ["enabled", "name"]);
    assert.deepEqual([...eventChanged(events[2])].sort(), ["description", "enabled"]);
  });

  test("the audit is per owner and the admin token may read it without owner", async () => {
    const a = newOwner("audit-a");
    const b = newOwner("audit-b");
    const ka = await create({ owner: a });
    const kb = await create({ owner: b });
    const eventsA = await auditOf(a);
    assert.ok(eventsA.some((e) => e.key_id === ka.id));
    assert.ok(!eventsA.some((e) => e.key_id === kb.id), "owner A's audit holds none of B's events");
    const all = assertJson(await admin("GET", "/v1/audit?limit=100"), 200, "audit without owner");
    assert.ok(Array.isArray(all.events));
  });
});

describe("owner key cap", () => {
  test("20 concurrent creates for one owner with the default cap 2 → exactly 2 × 201 and 18 × 409 key_limit_reached", async () => {
    const owner = newOwner("cap");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gw.admin("POST", "/v1/keys", { owner, name: `race-${i}` }).then(read)),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.equal(results.filter((r) => r.status === 201).length, 2, `statuses ${statuses}`);
    assert.equal(results.filter((r) => r.status === 409).length, 18, `statuses ${statuses}`);
    for (const r of results.filter((r) => r.status === 409)) assertProblem(r, 409, "key_limit_reached", "over the cap");
    const winners = results.filter((r) => r.status === 201).map((r) => r.json);
    const list = await listAll({ owner });
    assert.equal(list.keys.length, 2, "list shows 2");
    assert.deepEqual(new Set(list.keys.map((k) => k.id)), new Set(winners.map((k) => k.id)));
    for (const w of winners) assertValid(await verify(w.key), "a winner's key works");
  });

  test("revoked keys free a slot; disabled keys still count", async () => {
    const owner = newOwner("slot");
    const first = await create({ owner });
    const second = await create({ owner });
    assertProblem(await admin("POST", "/v1/keys", { owner }), 409, "key_limit_reached", "third");
    assertJson(await admin("PATCH", `/v1/keys/${second.id}`, { enabled: false }), 200);
    assertProblem(await admin("POST", "/v1/keys", { owner }), 409, "key_limit_reached", "a disabled key counts");
    assert.equal((await admin("DELETE", `/v1/keys/${first.id}`)).status, 204);
    const third = await create({ owner });
    assert.equal(third.owner, owner);
    assertProblem(await admin("POST", "/v1/keys", { owner }), 409, "key_limit_reached", "full again");
    assert.equal((await listAll({ owner })).keys.length, 2);
  });

  test("expired keys still count against the cap", async () => {
    const owner = newOwner("expired-cap");
    const short = await create({ owner, expires_at: inSeconds(1.5) });
    await create({ owner });
    await sleep(2000);
    assertInvalid(await verify(short.key), "expired_key", 401, "expired");
    assertProblem(await admin("POST", "/v1/keys", { owner }), 409, "key_limit_reached", "an expired key counts");
  });

  test("a plan's max_keys is the cap for keys on that plan, also under concurrency", async () => {
    const owner = newOwner("plan-cap");
    const results = await Promise.all(
      Array.from({ length: 8 }, () => gw.admin("POST", "/v1/keys", { owner, plan: "trio" }).then(read)),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 3, results.map((r) => r.status).join(","));
    for (const r of results.filter((r) => r.status !== 201)) assertProblem(r, 409, "key_limit_reached");
    assert.equal((await listAll({ owner })).keys.length, 3);
    // With 3 keys held, a key without a plan meets the default cap of 2.
    assertProblem(await admin("POST", "/v1/keys", { owner }), 409, "key_limit_reached", "default cap");
    // A pro key (max_keys 10) still fits.
    const pro = await create({ owner, plan: "pro" });
    assert.equal(pro.plan, "pro");
  });

  test("a pro plan (max_keys 10): 12 concurrent creates → 10 × 201 and 2 × 409", async () => {
    const owner = newOwner("pro-cap");
    const results = await Promise.all(
      Array.from({ length: 12 }, () => gw.admin("POST", "/v1/keys", { owner, plan: "pro" }).then(read)),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 10, results.map((r) => r.status).join(","));
    assert.equal(results.filter((r) => r.status === 409).length, 2);
  });
});

describe("admin authentication", () => {
  test("no credential → 401 with WWW-Authenticate Bearer realm=\"keygate\" and no error", async () => {
    for (const [method, route, body] of [
      ["GET", "/v1/keys"],
      ["POST", "/v1/keys", { owner: "x" }],
      ["GET", "/v1/keys/key_0000000000000000000000"],
      ["GET", "/v1/audit"],
      ["POST", "/v1/verify", { key: "kg_sk_x" }],
    ]) {
      const res = await gw.fetch(`/_keygate${route}`, {
        method,
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const r = await read(res);
      assertProblem(r, 401, "unauthorized", `${method} ${route} without credential`);
      assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="keygate"', `${method} ${route}`);
    }
  });

  test("a wrong token or an unknown key → 401 unauthorized with error=\"invalid_token\"", async () => {
    const real = await create({ owner: newOwner("auth"), scopes: ["admin"] });
    for (const token of ["wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN.slice(0, -1), forgeKey(real.key), "kg_sk_short"]) {
      const r = await admin("GET", "/v1/keys", undefined, token);
      assertProblem(r, 401, "unauthorized", `token ${token}`);
      const www = r.headers.get("www-authenticate") ?? "";
      assert.match(www, /^Bearer realm="keygate"/, www);
      assert.match(www, /error="invalid_token"/, www);
    }
  });

  test("VERIFY_TOKEN: 403 forbidden on every other route, but works on /v1/verify", async () => {
    const created = await create({ owner: newOwner("verifytoken") });
    for (const [method, route, body] of [
      ["GET", "/v1/keys"],
      ["POST", "/v1/keys", { owner: newOwner("vt") }],
      ["GET", `/v1/keys/${created.id}`],
      ["PATCH", `/v1/keys/${created.id}`, { name: "x" }],
      ["POST", `/v1/keys/${created.id}/roll`, {}],
      ["GET", `/v1/keys/${created.id}/usage`],
      ["DELETE", `/v1/keys/${created.id}`],
      ["GET", "/v1/audit"],
    ]) {
      assertProblem(await admin(method, route, body, VERIFY_TOKEN), 403, "forbidden", `${method} ${route} with VERIFY_TOKEN`);
    }
    assertValid(await verify(created.key, {}, VERIFY_TOKEN), "verify with VERIFY_TOKEN");
    assert.equal(assertJson(await admin("GET", `/v1/keys/${created.id}`), 200).name, created.name, "the key was not touched");
  });

  test("an API key without admin → 403 forbidden", async () => {
    const plain = await create({ owner: newOwner("noadmin"), scopes: ["read:all", "write:all", "delete:all"] });
    for (const [method, route, body] of [
      ["GET", "/v1/keys"],
      ["POST", "/v1/keys", { name: "x" }],
      ["GET", `/v1/keys/${plain.id}`],
    ]) {
      assertProblem(await admin(method, route, body, plain.key), 403, "forbidden", `${method} ${route}`);
    }
  });

  test("an owner's admin key verifying another owner's key gets invalid_key, and it costs that key nothing", async () => {
    const adminA = await create({ owner: newOwner("verA"), scopes: ["admin"] });
    const keyB = await create({ owner: newOwner("verB"), credits: { remaining: 1 } });
    const seen = await verify(keyB.key, {}, adminA.key);
    assert.equal(seen.valid, false);
    assert.equal(seen.code, "invalid_key");
    assert.equal(seen.owner ?? null, null, "nothing of B's key is told");
    const own = await verify(keyB.key);
    assert.equal(own.code, "ok", "B's one credit is still there");
    assert.equal(own.credits_remaining, 0);
  });

  test("an owner's admin key: only its owner's keys; another owner's keys 404 (never the record); creating for another owner 403; owner defaults to its own", async () => {
    const ownerA = newOwner("ownA");
    const ownerB = newOwner("ownB");
    const adminA = await create({ owner: ownerA, scopes: ["admin"], plan: "pro" });
    const keyA = await create({ owner: ownerA, name: "a-key", plan: "pro" });
    const keyB = await create({ owner: ownerB, name: "b-secret-name", description: "b-description" });

    // List: only A's keys.
    const list = assertJson(await admin("GET", "/v1/keys?limit=100", undefined, adminA.key), 200, "list as A");
    const ids = list.keys.map((k) => k.id);
    assert.ok(ids.includes(adminA.id) && ids.includes(keyA.id), "A's keys listed");
    for (const k of list.keys) assert.equal(k.owner, ownerA, "only A's keys");
    const explicit = assertJson(await admin("GET", `/v1/keys?owner=${ownerA}`, undefined, adminA.key), 200);
    assert.deepEqual(explicit.keys.map((k) => k.id).sort(), [adminA.id, keyA.id].sort());
    const searched = assertJson(await admin("GET", `/v1/keys?q=b-secret-name`, undefined, adminA.key), 200);
    assert.deepEqual(searched.keys, [], "search never finds B's keys");

    // B's key: 404 everywhere, never the record.
    for (const [method, route, body] of [
      ["GET", `/v1/keys/${keyB.id}`],
      ["PATCH", `/v1/keys/${keyB.id}`, { name: "hijacked" }],
      ["POST", `/v1/keys/${keyB.id}/roll`, {}],
      ["GET", `/v1/keys/${keyB.id}/usage`],
      ["DELETE", `/v1/keys/${keyB.id}`],
    ]) {
      const r = await admin(method, route, body, adminA.key);
      assertProblem(r, 404, "not_found", `${method} ${route} as A`);
      assert.ok(!r.text.includes(ownerB) && !r.text.includes("b-secret-name"), `no trace of B's record: ${r.text}`);
    }
    // Listing or auditing B explicitly: refused (403 or 404), never B's data.
    for (const route of [`/v1/keys?owner=${ownerB}`, `/v1/audit?owner=${ownerB}`]) {
      const r = await admin("GET", route, undefined, adminA.key);
      assert.ok([403, 404].includes(r.status), `${route} as A: ${r.status} ${r.text}`);
      assertProblem(r, r.status, r.status === 403 ? "forbidden" : "not_found", route);
      assert.ok(!r.text.includes(keyB.id) && !r.text.includes("b-secret-name"));
    }
    // B's key is untouched.
    const b = assertJson(await admin("GET", `/v1/keys/${keyB.id}`), 200);
    assert.equal(b.name, "b-secret-name");
    assertValid(await verify(keyB.key), "B's key still works");

    // Creating for B: 403; without owner: owner A.
    assertProblem(await admin("POST", "/v1/keys", { owner: ownerB, name: "x" }, adminA.key), 403, "forbidden", "create for B");
    assert.equal((await listAll({ owner: ownerB })).keys.length, 1, "nothing created for B");
    const made = assertJson(await admin("POST", "/v1/keys", { name: "made by A", plan: "pro" }, adminA.key), 201, "create as A");
    assert.equal(made.owner, ownerA);
    assert.match(made.key, KEY_RE);
    const sameOwner = assertJson(await admin("POST", "/v1/keys", { owner: ownerA, plan: "pro" }, adminA.key), 201, "create for A");
    assert.equal(sameOwner.owner, ownerA);

    // A's admin key manages A's keys.
    const patched = assertJson(await admin("PATCH", `/v1/keys/${keyA.id}`, { name: "renamed by A" }, adminA.key), 200);
    assert.equal(patched.name, "renamed by A");
    const audit = assertJson(await admin("GET", "/v1/audit", undefined, adminA.key), 200, "audit as A");
    for (const e of audit.events) assert.notEqual(e.key_id, keyB.id, "A's audit holds none of B's events");
    const update = audit.events.find((e) => e.key_id === keyA.id && (e.action ?? e.event) === "updated");
    assert.ok(update, `A's update is audited: ${JSON.stringify(audit.events)}`);
    const byToken = audit.events.find((e) => e.key_id === keyA.id && (e.action ?? e.event) === "created");
    assert.ok(byToken, "A's key creation (by the admin token) is in A's audit");
    assert.notEqual(update.actor, byToken.actor, `the actor tells A's admin key from the admin token: ${update.actor}`);
    assert.ok(!JSON.stringify(audit).includes(adminA.key), "the actor is never the key itself");
  });

  test("an owner's admin key loses its power once revoked", async () => {
    const owner = newOwner("revoked-admin");
    const adminKey = await create({ owner, scopes: ["admin"] });
    assertJson(await admin("GET", "/v1/keys", undefined, adminKey.key), 200);
    assert.equal((await admin("DELETE", `/v1/keys/${adminKey.id}`)).status, 204);
    assertProblem(await admin("GET", "/v1/keys", undefined, adminKey.key), 401, "unauthorized", "revoked admin key");
  });
});

describe("verify", () => {
  test("a valid key: {valid, code ok, status 200, key_id, owner, kind, scopes, ratelimit {limit, remaining, reset}, credits_remaining}", async () => {
    const owner = newOwner("verify");
    const created = await create({ owner, scopes: ["read:all", "write:all"], rate_limit: { limit: 5, period_seconds: 60 } });
    const answer = await verify(created.key);
    assertValid(answer);
    assert.equal(answer.key_id, created.id);
    assert.equal(answer.owner, owner);
    assert.equal(answer.kind, "secret");
    assert.deepEqual([...answer.scopes].sort(), ["read:all", "write:all"]);
    assert.deepEqual(Object.keys(answer.ratelimit).sort(), ["limit", "remaining", "reset"]);
    assert.equal(answer.ratelimit.limit, 5);
    assert.equal(answer.ratelimit.remaining, 4, "the verify counted against the limit");
    assert.ok(Number.isInteger(answer.ratelimit.reset) && answer.ratelimit.reset >= 1 && answer.ratelimit.reset <= 60, `reset ${answer.ratelimit.reset}`);
    assert.equal(answer.credits_remaining, null, "null without credits");
    assert.ok(!JSON.stringify(answer).includes(created.key), "verify never echoes the key");
    const second = await verify(created.key);
    assert.equal(second.ratelimit.remaining, 3);
  });

  test("credits are counted: credits_remaining goes down by 1 or by cost", async () => {
    const created = await create({ owner: newOwner("vcredits"), credits: { remaining: 10 } });
    assert.equal((await verify(created.key)).credits_remaining, 9);
    assert.equal((await verify(created.key, { cost: 3 })).credits_remaining, 6);
    const plan = await create({ owner: newOwner("vplan"), plan: "metered" });
    const answer = await verify(plan.key);
    assertValid(answer);
    assert.equal(answer.credits_remaining, 6, "the plan's credits apply");
    assert.equal(answer.ratelimit.limit, 50, "the plan's rate limit applies");
  });

  test("verify counts against the rate limit: over it, rate_limited 429 with remaining 0", async () => {
    const created = await create({ owner: newOwner("vrate"), rate_limit: { limit: 2, period_seconds: 60 } });
    assert.equal((await verify(created.key)).ratelimit.remaining, 1);
    assert.equal((await verify(created.key)).ratelimit.remaining, 0);
    const over = await verify(created.key);
    assertInvalid(over, "rate_limited", 429, "third within the window");
    assert.equal(over.key_id, created.id);
    assert.equal(over.ratelimit.limit, 2);
    assert.equal(over.ratelimit.remaining, 0);
    assert.ok(over.ratelimit.reset >= 1 && over.ratelimit.reset <= 60, `reset ${over.ratelimit.reset}`);
  });

  test("invalid keys: the same shape with valid false, code and status", async () => {
    const created = await create({ owner: newOwner("vinvalid") });
    const forged = forgeKey(created.key);
    const unknown = await verify(forged);
    assertInvalid(unknown, "invalid_key", 401, "unknown well-formed key");
    assert.equal(unknown.key_id, null);
    assert.equal(unknown.credits_remaining, null);

    const flipped = created.key.slice(0, -1) + (created.key.endsWith("A") ? "B" : "A");
    for (const bad of [flipped, "kg_sk_short", "not a key at all", created.key.replace("kg_", "xx_"), created.key + "0"]) {
      const answer = await verify(bad);
      assertInvalid(answer, "malformed_key", 401, `malformed ${bad}`);
      assert.equal(answer.key_id, null);
    }
    // A key with a valid checksum for another namespace is malformed here.
    const otherNamespace = makeKey("zz", "sk", created.key.slice(6, 49));
    assertInvalid(await verify(otherNamespace), "malformed_key", 401, "other namespace");
  });

  test("scope, method and origin are decided as at the edge", async () => {
    const created = await create({ owner: newOwner("vscope"), scopes: ["read:all"], allowed_domains: ["app.example.com"] });
    const good = { origin: "https://app.example.com" };
    assertValid(await verify(created.key, good), "GET with read:all");
    const post = await verify(created.key, { ...good, method: "POST", path: "/v1/things" });
    assertInvalid(post, "insufficient_scope", 403, "POST needs write:all");
    assert.equal(post.key_id, created.id);
    assertInvalid(await verify(created.key, { ...good, scope: "write:all" }), "insufficient_scope", 403, "explicit scope");
    assertInvalid(await verify(created.key, { origin: "https://evil.example.net" }), "domain_not_allowed", 403, "other origin");
    assertInvalid(await verify(created.key), "domain_not_allowed", 403, "no origin for a key with domains");
    assertValid(await verify(created.key, { origin: "app.example.com" }), "a bare host names the origin too");
    assertInvalid(await verify(created.key, { origin: "evil.example.net" }), "domain_not_allowed", 403, "other bare host");
  });

  test("expires_at keeps the milliseconds sent, and the key expires at that instant", async () => {
    const whole = Math.floor(Date.now() / 1000) * 1000;
    const later = new Date(whole + 86_400_250).toISOString();
    assert.match(later, /\.250Z$/);
    const created = await create({ owner: newOwner("vmillis"), expires_at: later });
    assert.equal(created.expires_at, later);
    assert.equal(assertJson(await admin("GET", `/v1/keys/${created.id}`), 200, "get").expires_at, later);
  });

  test("expired keys → expired_key 401", async () => {
    const created = await create({ owner: newOwner("vexpired"), expires_at: inSeconds(1.2) });
    assertValid(await verify(created.key));
    await sleep(1700);
    assertInvalid(await verify(created.key), "expired_key", 401);
  });

  test("a bad verify request is a problem+json 400", async () => {
    for (const [body, field] of [
      [{}, "key"],
      [{ key: 5 }, "key"],
      [{ key: "kg_sk_x", colour: 1 }, "colour"],
      [{ key: "kg_sk_x", cost: -1 }, "cost"],
      [{ key: "kg_sk_x", scope: "not a scope" }, "scope"],
    ]) {
      assertBadRequest(await admin("POST", "/v1/verify", body), field, JSON.stringify(body));
    }
    assertProblem(await admin("POST", "/v1/verify", "{"), 400, "bad_request", "not JSON");
  });
});

describe("responses", () => {
  test("every admin response carries X-Request-Id, and each request gets its own", async () => {
    const created = await create({ owner: newOwner("reqid") });
    const ids = new Set();
    for (const [method, route, body, token] of [
      ["GET", "/v1/keys"],
      ["GET", `/v1/keys/${created.id}`],
      ["PATCH", `/v1/keys/${created.id}`, { name: "x" }],
      ["GET", `/v1/keys/${created.id}/usage`],
      ["GET", "/v1/audit"],
      ["POST", "/v1/verify", { key: created.key }],
      ["GET", "/v1/keys", undefined, "wrong"],
      ["GET", `/v1/keys/key_0000000000000000000000`],
      ["POST", `/v1/keys/${created.id}/roll`, {}],
      ["DELETE", `/v1/keys/${created.id}`],
    ]) {
      const r = await admin(method, route, body, token);
      ids.add(assertRequestId(r, `${method} ${route}`));
    }
    const health = await read(await gw.fetch("/_keygate/health"));
    ids.add(assertRequestId(health, "health"));
    assert.equal(ids.size, 11, "request ids are unique");
  });
});
