// Foundation (issue 3, SPEC sections 2-4), black box against the built Worker
// in real workerd: health, the gateway closed without a key, and a bad
// configuration refusing every request with a 503 naming the variable.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startOrigin, startGateway, rawRequest, makeKey, ADMIN_TOKEN } from "./harness.mjs";

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({ originUrl: origin.url });
});
after(async () => {
  await gw?.stop();
  await origin?.stop();
});

/** Asserts an RFC 9457 problem with SPEC section 2's members; returns the body. */
function assertProblem(res, status, code) {
  const body = res.text();
  assert.equal(res.status, status, `status ${res.status}, body ${body}`);
  assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json\b/, "content-type");
  const problem = JSON.parse(body);
  for (const member of ["type", "title", "detail", "code", "request_id"]) {
    assert.equal(typeof problem[member], "string", `problem lacks string ${member}: ${body}`);
  }
  assert.equal(problem.status, status, "body status");
  if (code !== undefined) assert.equal(problem.code, code, "code");
  assert.equal(res.headers["x-request-id"], problem.request_id, "X-Request-Id equals body.request_id");
  return problem;
}

/** Finds `name` anywhere in a JSON document (health may nest its checks). */
function findMember(value, name) {
  if (value === null || typeof value !== "object") return undefined;
  if (Object.hasOwn(value, name)) return value[name];
  for (const child of Object.values(value)) {
    const found = findMember(child, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

const aKey = makeKey("kg", "sk", "1234567890ABCDEFGHIJabcdefghij1234567890abc");

test("GET /_keygate/health answers 200 JSON with KV and both Durable Objects ok", async () => {
  const res = await rawRequest(gw.url, { target: "/_keygate/health" });
  assert.equal(res.status, 200, res.text());
  assert.match(res.headers["content-type"] ?? "", /^application\/json\b/);
  const body = res.json();
  for (const check of ["kv", "key_object", "owner_registry"]) {
    assert.equal(findMember(body, check), "ok", `${check} in ${JSON.stringify(body)}`);
  }
});

test("health needs no credential and is never proxied", async () => {
  await origin.clear();
  const res = await rawRequest(gw.url, { target: "/_keygate/health", headers: { authorization: "Bearer nonsense" } });
  assert.equal(res.status, 200);
  assert.deepEqual(await origin.requests(), []);
});

test("a request without a key gets 401 missing_key, WWW-Authenticate without error, and the origin receives nothing", async () => {
  await origin.clear();
  for (const [method, target, body] of [
    ["GET", "/", undefined],
    ["GET", "/v1/things?x=1", undefined],
    ["POST", "/v1/things", '{"a":1}'],
    ["DELETE", "/v1/things/1", undefined],
    ["HEAD", "/v1/things", undefined],
    ["GET", "/_keygatex/health", undefined],
    ["GET", "/health/_keygate", undefined],
  ]) {
    const res = await rawRequest(gw.url, { method, target, body, headers: body ? { "content-type": "application/json" } : {} });
    if (method === "HEAD") {
      assert.equal(res.status, 401, `${method} ${target}`);
      assert.ok(res.headers["x-request-id"], "X-Request-Id on HEAD");
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="keygate"');
      continue;
    }
    const problem = assertProblem(res, 401, "missing_key");
    assert.equal(res.headers["www-authenticate"], 'Bearer realm="keygate"', `${method} ${target}`);
    assert.doesNotMatch(res.headers["www-authenticate"], /error=/);
    assert.ok(problem.request_id.length > 0);
  }
  assert.deepEqual(await origin.requests(), [], "the origin received nothing");
});

test("every response carries a fresh request id", async () => {
  const a = await rawRequest(gw.url, { target: "/x" });
  const b = await rawRequest(gw.url, { target: "/x" });
  assert.ok(a.headers["x-request-id"] && b.headers["x-request-id"]);
  assert.notEqual(a.headers["x-request-id"], b.headers["x-request-id"]);
});

test("the admin API refuses a missing or wrong admin token with a 401 problem", async () => {
  const none = await rawRequest(gw.url, { target: "/_keygate/v1/keys" });
  assertProblem(none, 401, "unauthorized");
  const wrong = await rawRequest(gw.url, { target: "/_keygate/v1/keys", headers: { authorization: "Bearer not-the-admin-token-at-all" } });
  assertProblem(wrong, 401, "unauthorized");
});

test("a handful of malformed requests never get a 500 and the gateway keeps answering", async () => {
  const cases = [
    { method: "PROPFIND", target: "/x" },
    { method: "PURGE", target: "/x" },
    { method: "QUERY", target: "/x", body: "junk" },
    { method: "GET", target: "/x", headers: { "x-api-key": "k".repeat(16000) } },
    { method: "GET", target: "/x", headers: { "x-api-key": Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x41]).toString("latin1") } },
    { method: "GET", target: "/x", headers: { authorization: "Bearer \xff\xfe\x80" } },
    { method: "GET", target: "/x", headers: { origin: "\xff://\x80" } },
    { method: "GET", target: "/" + "a/".repeat(3000) },
    { method: "GET", target: "/%zz/%00/%ff?%%%&&==" },
    { method: "POST", target: "/_keygate/v1/keys", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: "\xff\xfe{{{" },
  ];
  for (const c of cases) {
    const res = await rawRequest(gw.url, c);
    assert.ok(res.status < 500, `${c.method} ${c.target.slice(0, 40)} → ${res.status} ${res.text().slice(0, 200)}`);
    assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json\b/, `${c.method} ${c.target.slice(0, 40)}`);
  }
  const health = await rawRequest(gw.url, { target: "/_keygate/health" });
  assert.equal(health.status, 200);
});

describe("a bad configuration value refuses every request with a 503 naming the variable", () => {
  const broken = [
    ["KEY_PREFIX", "X"],
    ["KEY_PREFIX", "Kg"],
    ["DEFAULT_RATE_LIMIT", "fast"],
    ["DEFAULT_RATE_LIMIT", "abc"],
    ["DEFAULT_RATE_LIMIT", "1/31d"],
    ["ROUTES", "[not json"],
    ["ROUTES", '{"method": "GET"}'],
    ["PLANS", "{"],
    ["PLANS", '{"p": {"rate_limit": {"limit": 0, "period_seconds": 1}}}'],
    ["PLANS", '{"p": {"rate_limit": "5/2592001s"}}'],
    ["REQUIRE_HTTPS", "maybe"],
    ["ALLOW_QUERY_KEY", "perhaps"],
    ["ORIGIN_TIMEOUT_MS", "soon"],
    ["MAX_KEYS_PER_OWNER", "many"],
    ["RATE_LIMIT_MODE", "lenient"],
  ];
  for (const [variable, value] of broken) {
    test(`${variable}=${JSON.stringify(value)}`, async () => {
      const bad = await startGateway({ originUrl: origin.url, vars: { [variable]: value } });
      try {
        await origin.clear();
        const requests = [
          { target: "/anything" },
          { target: "/anything", headers: { "x-api-key": aKey } },
          { method: "POST", target: "/v1/things", headers: { authorization: `Bearer ${aKey}` }, body: "{}" },
          { method: "OPTIONS", target: "/anything", headers: { origin: "https://app.example.com", "access-control-request-method": "GET" } },
          { target: "/_keygate/health" },
          { method: "POST", target: "/_keygate/v1/keys", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: '{"owner":"o"}' },
          { target: "/anything" },
        ];
        for (const r of requests) {
          const res = await rawRequest(bad.url, r);
          const problem = assertProblem(res, 503);
          assert.ok(problem.detail.includes(variable), `detail names ${variable}: ${problem.detail}`);
        }
        assert.deepEqual(await origin.requests(), [], "no request reached the origin");
      } finally {
        await bad.stop();
      }
    });
  }
});

test("a missing Durable Object binding is a 503 naming it, not a bare storage error", async () => {
  const bad = await startGateway({
    originUrl: origin.url,
    miniflare: { durableObjects: { OWNER_REGISTRY: { className: "OwnerRegistry", useSQLite: true } } },
  });
  try {
    const res = await rawRequest(bad.url, {
      method: "POST",
      target: "/_keygate/v1/keys",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: '{"owner":"o"}',
    });
    const problem = assertProblem(res, 503);
    assert.equal(problem.code, "config_invalid");
    assert.ok(problem.detail.includes("KEY_OBJECT"), `detail names KEY_OBJECT: ${problem.detail}`);
  } finally {
    await bad.stop();
  }
});

test("weak but usable settings work: a short ADMIN_TOKEN is warned about, not refused; CORS_ALLOWED_ORIGINS=* admits any origin", async () => {
  const logs = [];
  const lenient = await startGateway({
    originUrl: origin.url,
    vars: { ADMIN_TOKEN: "short-token", CORS_ALLOWED_ORIGINS: "*" },
    onLog: (event) => logs.push(JSON.stringify(event)),
  });
  try {
    assert.equal((await lenient.fetch("/_keygate/health")).status, 200);
    const created = await lenient.admin("POST", "/v1/keys", { owner: "weak" }, "short-token");
    assert.equal(created.status, 201);
    const { key } = await created.json();
    const proxied = await lenient.fetch("/weak", { headers: { "x-api-key": key, origin: "https://anything.example" } });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.headers.get("access-control-allow-origin"), "https://anything.example");
    const preflight = await lenient.fetch("/weak", {
      method: "OPTIONS",
      headers: { origin: "https://anything.example", "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://anything.example");
    assert.ok(logs.some((line) => line.includes("ADMIN_TOKEN is shorter")), "the weak token is logged as a warning");
    assert.ok(!logs.some((line) => line.includes("short-token")), "the token itself is never logged");
  } finally {
    await lenient.stop();
  }
});
