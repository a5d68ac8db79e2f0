// docs/openapi.yaml against the running Worker (issue 4; SPEC section 3):
// every documented operation is called, every answer's status must be one
// the document lists for that operation, its content type one it lists for
// that status, its required headers present, and its body valid against the
// documented schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Request
// bodies the server accepts must be valid against the documented request
// schema, and bodies it refuses for their shape must be invalid against it.
// The last test checks that every documented operation and response status
// (but 503, which needs a broken store) was exercised, so the document
// cannot drift from the implementation in either direction.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { startOrigin, startGateway, forgeKey, ADMIN_TOKEN, VERIFY_TOKEN } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const doc = YAML.parse(readFileSync(path.join(root, "docs/openapi.yaml"), "utf8"));

const DOC_ID = "https://keygate.invalid/openapi.json";
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: DOC_ID });

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];
const PLANS = { pro: { max_keys: 10, credits: { remaining: 1000 } } };

let origin;
let gw;
/** `${METHOD} ${path} ${status}` of every answer seen. */
const exercised = new Set();

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({ originUrl: origin.url, vars: { PLANS: JSON.stringify(PLANS) } });
});
after(async () => {
  await gw?.stop();
  await origin?.stop();
});

// ---------------------------------------------------------------------------
// The document

const pointer = (...parts) => "/" + parts.map((p) => encodeURIComponent(String(p).replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");

/** Follows a local `$ref` ("#/components/...") in the document. */
function deref(object) {
  let current = object;
  for (let i = 0; current && current.$ref && i < 10; i++) {
    const parts = current.$ref.replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    current = parts.reduce((node, part) => node?.[part], doc);
  }
  return current;
}

/** The pointer of an object that may be a `$ref`: where its content really lives. */
function locate(object, fallback) {
  return object && object.$ref ? object.$ref.replace(/^#/, "") : fallback;
}

const operations = [];
for (const [route, item] of Object.entries(doc.paths ?? {})) {
  for (const method of METHODS) {
    if (item[method]) operations.push({ route, method: method.toUpperCase(), op: item[method], pathParams: item.parameters ?? [] });
  }
}
const byId = new Map(operations.map((o) => [o.op.operationId, o]));

const validators = new Map();
function validatorAt(schemaPointer) {
  if (!validators.has(schemaPointer)) validators.set(schemaPointer, ajv.compile({ $ref: `${DOC_ID}#${schemaPointer}` }));
  return validators.get(schemaPointer);
}

function explain(validate) {
  return ajv.errorsText(validate.errors, { separator: "\n  " });
}

// ---------------------------------------------------------------------------
// Calling an operation

/**
 * Calls the operation `operationId` and checks the answer against the document.
 * opts: params (path), query, body (object or raw string), token (null: none), headers,
 * requestValid (default true: a JSON body must satisfy the request schema; false: not checked;
 * "invalid": it must NOT satisfy it). Resolves to { status, headers, text, json }.
 */
async function call(operationId, { params = {}, query = {}, body, token = ADMIN_TOKEN, requestValid = true, headers = {} } = {}) {
  const entry = byId.get(operationId);
  assert.ok(entry, `operation ${operationId} is documented`);
  const { route, method, op } = entry;
  const documentedParams = [...entry.pathParams, ...(op.parameters ?? [])].map(deref);

  // The request: path parameters and query names must be documented.
  let target = route.replace(/\{(\w+)\}/g, (_, name) => {
    assert.ok(documentedParams.some((p) => p.in === "path" && p.name === name), `${operationId}: path parameter ${name} documented`);
    assert.ok(params[name] !== undefined, `${operationId}: value for {${name}}`);
    return encodeURIComponent(params[name]);
  });
  for (const name of Object.keys(query)) {
    assert.ok(documentedParams.some((p) => p.in === "query" && p.name === name), `${operationId}: query parameter ${name} is documented`);
  }
  const search = new URLSearchParams(query).toString();
  if (search) target += `?${search}`;

  if (body !== undefined && typeof body !== "string" && requestValid !== false) {
    const requestBody = deref(op.requestBody);
    assert.ok(requestBody?.content?.["application/json"], `${operationId}: a JSON request body is documented`);
    const schemaPointer = locate(op.requestBody, pointer("paths", route, method.toLowerCase(), "requestBody")) + pointer("content", "application/json", "schema");
    const validate = validatorAt(schemaPointer);
    const ok = validate(body);
    if (requestValid === "invalid") assert.equal(ok, false, `${operationId}: the documented request schema should refuse ${JSON.stringify(body).slice(0, 200)}`);
    else assert.ok(ok, `${operationId}: request ${JSON.stringify(body).slice(0, 200)} should satisfy the documented schema:\n  ${explain(validate)}`);
  }

  const requestHeaders = { ...headers };
  if (token) requestHeaders.authorization = `Bearer ${token}`;
  if (body !== undefined) requestHeaders["content-type"] = "application/json";
  const res = await fetch(`${gw.url}/_keygate${target}`, {
    method,
    headers: requestHeaders,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const what = `${method} ${target} → ${res.status}`;

  // The answer: a documented status, content type, headers and body.
  const statusKey = String(res.status);
  const responseRef = op.responses?.[statusKey];
  assert.ok(responseRef, `${what} is not documented for ${operationId} (documented: ${Object.keys(op.responses ?? {}).join(", ")}); body ${text.slice(0, 300)}`);
  exercised.add(`${method} ${route} ${statusKey}`);
  const response = deref(responseRef);
  const responsePointer = locate(responseRef, pointer("paths", route, method.toLowerCase(), "responses", statusKey));

  for (const [name, headerRef] of Object.entries(response.headers ?? {})) {
    const header = deref(headerRef);
    const value = res.headers.get(name);
    if (header.required) assert.ok(value !== null, `${what}: documented header ${name} is missing`);
    if (value !== null && header.schema) {
      const headerPointer = locate(headerRef, responsePointer + pointer("headers", name)) + "/schema";
      const validate = validatorAt(headerPointer);
      assert.ok(validate(value), `${what}: header ${name}: ${value}: ${explain(validate)}`);
    }
  }

  const content = response.content ?? {};
  const mediaTypes = Object.keys(content);
  if (mediaTypes.length === 0) {
    assert.equal(text, "", `${what}: no body is documented`);
  } else {
    const contentType = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    assert.ok(mediaTypes.includes(contentType), `${what}: content-type ${contentType} not among ${mediaTypes.join(", ")}`);
    const schemaPointer = responsePointer + pointer("content", contentType, "schema");
    const validate = validatorAt(schemaPointer);
    let value = text;
    if (/json$/.test(contentType)) {
      try {
        value = JSON.parse(text);
      } catch {
        assert.fail(`${what}: body is not JSON: ${text.slice(0, 300)}`);
      }
    }
    assert.ok(validate(value), `${what}: body does not match the documented schema:\n  ${explain(validate)}\n  body: ${text.slice(0, 600)}`);
  }
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function expectStatus(status, operationId, opts) {
  const r = await call(operationId, opts);
  assert.equal(r.status, status, `${operationId}: expected ${status}, got ${r.status}: ${r.text.slice(0, 400)}`);
  return r;
}

let ownerCounter = 0;
const newOwner = (label) => `oa-${label}-${++ownerCounter}-${Math.random().toString(36).slice(2, 7)}`;
const bigBody = (fields) => JSON.stringify({ ...fields, metadata: { blob: "x".repeat(70 * 1024) } });

// ---------------------------------------------------------------------------

describe("the document", () => {
  test("is OpenAPI 3.1 with bearerAuth security and compiles with ajv (JSON Schema 2020-12)", () => {
    assert.match(String(doc.openapi), /^3\.1\.\d+$/);
    assert.equal(doc.components.securitySchemes.bearerAuth.type, "http");
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme.toLowerCase(), "bearer");
    assert.ok(doc.security.some((s) => Object.hasOwn(s, "bearerAuth")), "bearerAuth is the default security");
    for (const name of Object.keys(doc.components.schemas)) {
      assert.doesNotThrow(() => validatorAt(pointer("components", "schemas", name)), `schema ${name} compiles`);
    }
    for (const name of [
      "KeyRecord",
      "CreateKeyRequest",
      "PatchKeyRequest",
      "IssuedKey",
      "KeyList",
      "UsageReport",
      "AuditPage",
      "VerifyRequest",
      "VerifyAnswer",
      "Health",
      "Problem",
    ]) {
      assert.ok(doc.components.schemas[name], `schema ${name}`);
    }
  });

  test("describes every route of SPEC section 3, each with an operationId", () => {
    const routes = new Set(operations.map((o) => `${o.method} ${o.route}`));
    for (const route of [
      "POST /v1/keys",
      "GET /v1/keys",
      "GET /v1/keys/{id}",
      "PATCH /v1/keys/{id}",
      "DELETE /v1/keys/{id}",
      "POST /v1/keys/{id}/roll",
      "GET /v1/keys/{id}/usage",
      "GET /v1/audit",
      "POST /v1/verify",
      "GET /health",
      "GET /console",
    ]) {
      assert.ok(routes.has(route), `${route} is documented`);
    }
    for (const { op, method, route } of operations) assert.ok(op.operationId, `${method} ${route} has an operationId`);
    assert.equal(new Set(operations.map((o) => o.op.operationId)).size, operations.length, "operationIds are unique");
    assert.match(doc.servers[0].url, /\/_keygate$/, "the server URL carries the admin prefix");
  });

  test("the record and verify schemas carry the members SPEC sections 1 and 3 name; errors are problem+json", () => {
    const record = doc.components.schemas.KeyRecordFields;
    for (const field of [
      "id", "owner", "name", "description", "kind", "prefix", "scopes", "allowed_domains", "rate_limit", "credits",
      "plan", "expires_at", "enabled", "require_signature", "metadata", "created_at", "updated_at", "last_used_at",
    ]) {
      assert.ok(record.required.includes(field) && record.properties[field], `KeyRecord.${field}`);
    }
    const create = doc.components.schemas.CreateKeyRequest.properties;
    for (const field of ["owner", "name", "description", "kind", "scopes", "allowed_domains", "rate_limit", "credits", "expires_at", "require_signature", "metadata", "enabled", "plan"]) {
      assert.ok(create[field], `CreateKeyRequest.${field}`);
    }
    assert.ok(!doc.components.schemas.PatchKeyRequest.properties.owner && !doc.components.schemas.PatchKeyRequest.properties.kind, "owner and kind cannot be patched");
    const answer = doc.components.schemas.VerifyAnswer;
    for (const field of ["valid", "code", "status", "key_id", "owner", "kind", "scopes", "ratelimit", "credits_remaining"]) {
      assert.ok(answer.required.includes(field), `VerifyAnswer.${field}`);
    }
    const problem = doc.components.schemas.Problem;
    for (const field of ["type", "title", "status", "detail", "code", "request_id"]) assert.ok(problem.required.includes(field), `Problem.${field}`);
    for (const { op, method, route } of operations) {
      for (const [status, ref] of Object.entries(op.responses)) {
        if (Number(status) >= 400 && route !== "/health") {
          assert.deepEqual(Object.keys(deref(ref).content ?? {}), ["application/problem+json"], `${method} ${route} ${status} is problem+json`);
        }
      }
      if (op.security === undefined || op.security.length > 0) assert.ok(op.responses["401"], `${method} ${route} documents 401`);
    }
  });
});

describe("keys", () => {
  test("createKey: 201 (with and without signing secret), 400, 401, 403, 409, 413", async () => {
    const owner = newOwner("create");
    const full = await expectStatus(201, "createKey", {
      body: {
        owner,
        name: "documented",
        description: "every field",
        kind: "secret",
        scopes: ["read:all", "write:datasets/*"],
        allowed_domains: ["app.example.com", "*.example.org"],
        rate_limit: { limit: 10, period_seconds: 60 },
        credits: { remaining: 100, refill: { amount: 100, interval_seconds: 3600 } },
        expires_at: new Date(Date.now() + 86_400_000).toISOString(),
        require_signature: true,
        metadata: { team: "docs" },
        enabled: true,
      },
    });
    assert.ok(full.json.signing_secret, "signing_secret with require_signature");
    const minimal = await expectStatus(201, "createKey", { body: { owner, kind: "publishable" } });
    assert.ok(!Object.hasOwn(minimal.json, "signing_secret"));
    await expectStatus(409, "createKey", { body: { owner } });
    await expectStatus(400, "createKey", { body: { owner: newOwner("x"), colour: "blue" }, requestValid: "invalid" });
    await expectStatus(400, "createKey", { body: { owner: newOwner("x"), scopes: ["read:"] }, requestValid: "invalid" });
    await expectStatus(400, "createKey", { body: { owner: newOwner("x"), expires_at: "2001-01-01T00:00:00Z" }, requestValid: false });
    await expectStatus(401, "createKey", { body: { owner }, token: null });
    await expectStatus(401, "createKey", { body: { owner }, token: "wrong" });
    await expectStatus(403, "createKey", { body: { owner }, token: VERIFY_TOKEN });
    await expectStatus(413, "createKey", { body: bigBody({ owner }), requestValid: false });
  });

  test("listKeys: 200 with search and paging, 400, 401, 403", async () => {
    const owner = newOwner("list");
    const made = [];
    for (const name of ["one", "two", "three"]) made.push((await expectStatus(201, "createKey", { body: { owner, name, plan: "pro" } })).json);
    const all = await expectStatus(200, "listKeys", { query: { owner } });
    assert.deepEqual(all.json.keys.map((k) => k.id), made.map((k) => k.id));
    const page1 = await expectStatus(200, "listKeys", { query: { owner, limit: "2" } });
    assert.equal(page1.json.keys.length, 2);
    assert.equal(typeof page1.json.next_cursor, "string");
    const page2 = await expectStatus(200, "listKeys", { query: { owner, limit: "2", cursor: page1.json.next_cursor } });
    assert.deepEqual(page2.json.keys.map((k) => k.id), [made[2].id]);
    assert.equal(page2.json.next_cursor, null);
    const found = await expectStatus(200, "listKeys", { query: { owner, q: "thr" } });
    assert.deepEqual(found.json.keys.map((k) => k.id), [made[2].id]);
    await expectStatus(200, "listKeys", { query: { limit: "5" } });
    await expectStatus(400, "listKeys", { query: { limit: "abc" } });
    await expectStatus(401, "listKeys", { token: null });
    await expectStatus(401, "listKeys", { token: forgeKey(made[0].key) });
    await expectStatus(403, "listKeys", { token: made[0].key }); // a key without admin
    await expectStatus(403, "listKeys", { token: VERIFY_TOKEN });
  });

  test("getKey: 200, 401, 403, 404", async () => {
    const created = (await expectStatus(201, "createKey", { body: { owner: newOwner("get"), require_signature: true } })).json;
    const got = await expectStatus(200, "getKey", { params: { id: created.id } });
    assert.equal(got.json.id, created.id);
    await expectStatus(401, "getKey", { params: { id: created.id }, token: null });
    await expectStatus(403, "getKey", { params: { id: created.id }, token: VERIFY_TOKEN });
    await expectStatus(404, "getKey", { params: { id: "key_0000000000000000000000" } });
    // An owner's admin key asking for another owner's key.
    const adminKey = (await expectStatus(201, "createKey", { body: { owner: newOwner("get-admin"), scopes: ["admin"] } })).json;
    await expectStatus(404, "getKey", { params: { id: created.id }, token: adminKey.key });
  });

  test("updateKey: 200 (and the signing secret when signatures are turned on), 400, 401, 403, 404, 413", async () => {
    const created = (await expectStatus(201, "createKey", { body: { owner: newOwner("patch") } })).json;
    const id = created.id;
    const patched = await expectStatus(200, "updateKey", {
      params: { id },
      body: {
        name: "renamed",
        description: "changed",
        scopes: ["read:all"],
        allowed_domains: ["*.example.com"],
        rate_limit: { limit: 3, period_seconds: 1 },
        credits: { remaining: 5, refill: null },
        plan: "pro",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        metadata: { v: 2 },
        enabled: false,
      },
    });
    assert.equal(patched.json.name, "renamed");
    const cleared = await expectStatus(200, "updateKey", { params: { id }, body: { rate_limit: null, credits: null, plan: null, expires_at: null, enabled: true } });
    assert.equal(cleared.json.rate_limit, null);
    const signed = await expectStatus(200, "updateKey", { params: { id }, body: { require_signature: true } });
    assert.ok(signed.json.signing_secret, "signing_secret when signatures are turned on");
    await expectStatus(400, "updateKey", { params: { id }, body: { owner: "someone-else" }, requestValid: "invalid" });
    await expectStatus(400, "updateKey", { params: { id }, body: { kind: "publishable" }, requestValid: "invalid" });
    await expectStatus(400, "updateKey", { params: { id }, body: { rate_limit: { limit: 0, period_seconds: 1 } }, requestValid: "invalid" });
    await expectStatus(401, "updateKey", { params: { id }, body: { name: "x" }, token: "wrong" });
    await expectStatus(403, "updateKey", { params: { id }, body: { name: "x" }, token: VERIFY_TOKEN });
    await expectStatus(404, "updateKey", { params: { id: "key_0000000000000000000000" }, body: { name: "x" } });
    await expectStatus(413, "updateKey", { params: { id }, body: bigBody({}), requestValid: false });
  });

  test("rollKey: 200 (empty body, grace, signing secret), 400, 401, 403, 404, 413", async () => {
    const owner = newOwner("roll");
    const plain = (await expectStatus(201, "createKey", { body: { owner } })).json;
    const signed = (await expectStatus(201, "createKey", { body: { owner, require_signature: true } })).json;
    const rolled = await expectStatus(200, "rollKey", { params: { id: plain.id } });
    assert.notEqual(rolled.json.key, plain.key);
    await expectStatus(200, "rollKey", { params: { id: plain.id }, body: { grace_seconds: 5 } });
    const rolledSigned = await expectStatus(200, "rollKey", { params: { id: signed.id }, body: { grace_seconds: 0 } });
    assert.ok(rolledSigned.json.signing_secret);
    await expectStatus(400, "rollKey", { params: { id: plain.id }, body: { grace_seconds: 604801 }, requestValid: "invalid" });
    await expectStatus(400, "rollKey", { params: { id: plain.id }, body: { grace: 1 }, requestValid: "invalid" });
    await expectStatus(401, "rollKey", { params: { id: plain.id }, body: {}, token: null });
    await expectStatus(403, "rollKey", { params: { id: plain.id }, body: {}, token: VERIFY_TOKEN });
    await expectStatus(404, "rollKey", { params: { id: "key_0000000000000000000000" }, body: {} });
    await expectStatus(413, "rollKey", { params: { id: plain.id }, body: JSON.stringify({ grace_seconds: 1, pad: "x".repeat(70 * 1024) }), requestValid: false });
  });

  test("revokeKey: 204, 401, 403, 404", async () => {
    const created = (await expectStatus(201, "createKey", { body: { owner: newOwner("revoke") } })).json;
    await expectStatus(401, "revokeKey", { params: { id: created.id }, token: null });
    await expectStatus(403, "revokeKey", { params: { id: created.id }, token: VERIFY_TOKEN });
    await expectStatus(204, "revokeKey", { params: { id: created.id } });
    await expectStatus(404, "revokeKey", { params: { id: created.id } });
    await expectStatus(404, "getKey", { params: { id: created.id } });
  });
});

describe("usage and audit", () => {
  test("getKeyUsage: 200 (before and after use), 401, 403, 404", async () => {
    const created = (await expectStatus(201, "createKey", { body: { owner: newOwner("usage"), credits: { remaining: 10 } } })).json;
    await expectStatus(200, "getKeyUsage", { params: { id: created.id } });
    await expectStatus(200, "verifyKey", { body: { key: created.key } });
    await expectStatus(200, "verifyKey", { body: { key: created.key, scope: "admin" } });
    const used = await expectStatus(200, "getKeyUsage", { params: { id: created.id } });
    assert.equal(used.json.credits_remaining, 9);
    assert.equal(used.json.totals.allowed, 1);
    await expectStatus(401, "getKeyUsage", { params: { id: created.id }, token: "wrong" });
    await expectStatus(403, "getKeyUsage", { params: { id: created.id }, token: VERIFY_TOKEN });
    await expectStatus(404, "getKeyUsage", { params: { id: "key_0000000000000000000000" } });
  });

  test("getGatewayUsage: 200, 401, 403", async () => {
    await fetch(`${gw.url}/v1/anything`); // a missing_key denial at the edge
    await expectStatus(200, "getGatewayUsage");
    await expectStatus(401, "getGatewayUsage", { token: null });
    await expectStatus(403, "getGatewayUsage", { token: VERIFY_TOKEN });
    const adminKey = (await expectStatus(201, "createKey", { body: { owner: newOwner("gu"), scopes: ["admin"] } })).json;
    await expectStatus(403, "getGatewayUsage", { token: adminKey.key });
  });

  test("listAudit: 200 with every action and paging, 400, 401, 403", async () => {
    const owner = newOwner("audit");
    const created = (await expectStatus(201, "createKey", { body: { owner } })).json;
    await expectStatus(200, "updateKey", { params: { id: created.id }, body: { name: "n" } });
    await expectStatus(200, "updateKey", { params: { id: created.id }, body: { enabled: false } });
    await expectStatus(200, "updateKey", { params: { id: created.id }, body: { enabled: true } });
    await expectStatus(200, "rollKey", { params: { id: created.id }, body: { grace_seconds: 2 } });
    await expectStatus(204, "revokeKey", { params: { id: created.id } });
    const all = await expectStatus(200, "listAudit", { query: { owner } });
    assert.deepEqual(all.json.events.map((e) => e.action), ["created", "updated", "disabled", "enabled", "rolled", "revoked"]);
    const first = await expectStatus(200, "listAudit", { query: { owner, limit: "4" } });
    assert.equal(typeof first.json.next_cursor, "string");
    const rest = await expectStatus(200, "listAudit", { query: { owner, limit: "4", cursor: first.json.next_cursor } });
    assert.equal(first.json.events.length + rest.json.events.length, 6);
    await expectStatus(200, "listAudit", { query: { limit: "100" } });
    await expectStatus(400, "listAudit", { query: { limit: "abc" } });
    await expectStatus(401, "listAudit", { token: null });
    await expectStatus(403, "listAudit", { token: VERIFY_TOKEN });
  });
});

describe("verify, health, console", () => {
  test("verifyKey: 200 for valid and invalid keys, 400, 401, 403, 413", async () => {
    const owner = newOwner("verify");
    const created = (await expectStatus(201, "createKey", { body: { owner, credits: { remaining: 3 }, allowed_domains: ["app.example.com"] } })).json;
    const ok = await expectStatus(200, "verifyKey", { body: { key: created.key, method: "GET", path: "/v1/x?y=1", origin: "https://app.example.com" }, token: VERIFY_TOKEN });
    assert.equal(ok.json.valid, true);
    assert.equal(ok.json.credits_remaining, 2);
    const costly = await expectStatus(200, "verifyKey", { body: { key: created.key, origin: "https://app.example.com", cost: 5 } });
    assert.equal(costly.json.code, "credits_exhausted");
    const domain = await expectStatus(200, "verifyKey", { body: { key: created.key, origin: "https://evil.example.net" } });
    assert.equal(domain.json.code, "domain_not_allowed");
    const malformed = await expectStatus(200, "verifyKey", { body: { key: "kg_sk_nope" } });
    assert.equal(malformed.json.code, "malformed_key");
    const unknown = await expectStatus(200, "verifyKey", { body: { key: forgeKey(created.key) } });
    assert.equal(unknown.json.code, "invalid_key");
    const missing = await expectStatus(200, "verifyKey", { body: { key: "" } });
    assert.equal(missing.json.valid, false);
    await expectStatus(200, "updateKey", { params: { id: created.id }, body: { enabled: false } });
    const disabled = await expectStatus(200, "verifyKey", { body: { key: created.key, origin: "https://app.example.com" } });
    assert.equal(disabled.json.code, "key_disabled");
    await expectStatus(400, "verifyKey", { body: {}, requestValid: "invalid" });
    await expectStatus(400, "verifyKey", { body: { key: created.key, colour: 1 }, requestValid: "invalid" });
    await expectStatus(400, "verifyKey", { body: "{" });
    await expectStatus(401, "verifyKey", { body: { key: created.key }, token: null });
    const plain = (await expectStatus(201, "createKey", { body: { owner } })).json;
    await expectStatus(403, "verifyKey", { body: { key: created.key }, token: plain.key });
    await expectStatus(413, "verifyKey", { body: JSON.stringify({ key: created.key, path: "/" + "x".repeat(70 * 1024) }), requestValid: false });
  });

  test("health: 200 with every check ok, no credential", async () => {
    const r = await expectStatus(200, "health", { token: null });
    assert.equal(r.json.status, "ok");
    assert.deepEqual(r.json.checks, { kv: "ok", key_object: "ok", owner_registry: "ok" });
  });

  test("console: 200 text/html, no credential", async () => {
    const r = await expectStatus(200, "console", { token: null });
    assert.match(r.text, /<html/i);
  });
});

describe("coverage", () => {
  test("every documented operation and response status (but 503) was exercised", () => {
    const missing = [];
    for (const { route, method, op } of operations) {
      for (const status of Object.keys(op.responses)) {
        if (status === "503") continue; // needs a broken store
        if (!exercised.has(`${method} ${route} ${status}`)) missing.push(`${method} ${route} ${status} (${op.operationId})`);
      }
      assert.ok([...exercised].some((e) => e.startsWith(`${method} ${route} `)), `${method} ${route} was called`);
    }
    assert.deepEqual(missing, [], `documented but never seen:\n${missing.join("\n")}`);
  });
});
