// The edge check (SPEC section 2 steps 1-6 and 9, issue 5), black box: the
// built Worker in real workerd via Miniflare, a real origin process, raw HTTP
// requests. Every expectation below is a line of the SPEC.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import {
  startOrigin,
  startGateway,
  rawRequest,
  closedPortUrl,
  forgeKey,
  makeKey,
  ORIGIN_SECRET,
} from "./harness.mjs";

const ROUTES = [
  { method: "GET", path: "/datasets/{name}/*", scope: "read:datasets/{name}" },
  { method: "DELETE", path: "/datasets/{name}/*", scope: "delete:datasets/{name}" },
  { method: "*", path: "/anymethod/{name}", scope: "read:datasets/{name}" },
  { method: "GET", path: "/ordered/*", scope: "read:datasets/first" },
  { method: "GET", path: "/ordered/x", scope: "read:datasets/second" },
  { method: "POST", path: "/search", scope: "read:all" },
];

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({
    originUrl: origin.url,
    vars: { ALLOW_QUERY_KEY: "true", MAX_KEYS_PER_OWNER: "1000", ROUTES: JSON.stringify(ROUTES) },
  });
});
after(async () => {
  await gw?.stop();
  await origin?.stop();
});

// ---------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256hex = (data) => createHash("sha256").update(data).digest("hex");
const nowSeconds = () => Math.floor(Date.now() / 1000);

let ownerCounter = 0;
/** Creates a key on `g` with a generous rate limit (so limits never interfere) and a fresh owner. */
async function key(body = {}, g = gw) {
  return g.createKey({ owner: `edge-${++ownerCounter}`, rate_limit: { limit: 10000, period_seconds: 1 }, ...body });
}

/** A raw request to the main gateway (or `g`). */
function req(method, target, headers = {}, body, g = gw) {
  return rawRequest(g.url, { method, target, headers, body });
}

/** Asserts an RFC 9457 problem with SPEC section 2's members; returns the body. */
function assertProblem(res, status, code) {
  const text = res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json\b/, "content-type");
  const problem = JSON.parse(text);
  for (const member of ["type", "title", "detail", "code", "request_id"]) {
    assert.equal(typeof problem[member], "string", `problem lacks string ${member}: ${text}`);
  }
  assert.equal(problem.status, status, "body status");
  assert.equal(problem.code, code, "code");
  assert.equal(res.headers["x-request-id"], problem.request_id, "X-Request-Id equals body.request_id");
  return problem;
}

/** Asserts a 401 with `WWW-Authenticate` as RFC 6750 and SPEC section 2 give it. */
function assert401(res, code, credentialSent = true) {
  const problem = assertProblem(res, 401, code);
  assert.equal(
    res.headers["www-authenticate"],
    credentialSent ? 'Bearer realm="keygate", error="invalid_token"' : 'Bearer realm="keygate"',
    "WWW-Authenticate",
  );
  return problem;
}

function assertScopeDenied(res, required) {
  const problem = assertProblem(res, 403, "insufficient_scope");
  assert.equal(problem.required_scope, required, "required_scope member");
  assert.ok(problem.detail.includes(required), `detail names ${required}: ${problem.detail}`);
  assert.equal(
    res.headers["www-authenticate"],
    `Bearer realm="keygate", error="insufficient_scope", scope="${required}"`,
  );
  return problem;
}

/** Asserts the request was proxied: 200 from the demo origin, with a request id. Returns what the origin saw. */
function assertProxied(res, what = "") {
  assert.equal(res.status, 200, `${what} expected 200 from the origin, got ${res.status}: ${res.text().slice(0, 500)}`);
  assert.equal(res.headers["x-demo-origin"], "1", `${what} answer comes from the origin`);
  assert.ok(res.headers["x-request-id"], `${what} X-Request-Id`);
  return res.body.length ? res.json() : undefined;
}

const listOf = (value) => (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);

function assertCorsEcho(res, originValue) {
  assert.equal(res.headers["access-control-allow-origin"], originValue, "Access-Control-Allow-Origin echoes Origin");
  assert.ok(listOf(res.headers.vary).includes("origin"), `Vary includes Origin: ${res.headers.vary}`);
  const exposed = listOf(res.headers["access-control-expose-headers"]);
  for (const name of ["ratelimit", "ratelimit-policy", "retry-after", "x-request-id"]) {
    assert.ok(exposed.includes(name), `Access-Control-Expose-Headers has ${name}: ${res.headers["access-control-expose-headers"]}`);
  }
}

/** SPEC section 2 step 6: lowercase hex HMAC-SHA256(secret, ts\nMETHOD\ntarget\nsha256hex(body)). */
function sign(secret, ts, method, target, body = "") {
  return createHmac("sha256", secret).update(`${ts}\n${method}\n${target}\n${sha256hex(body)}`).digest("hex");
}
function signedHeaders(secret, method, target, body = "", ts = nowSeconds()) {
  return { "x-keygate-timestamp": String(ts), "x-keygate-signature": `v1=${sign(secret, ts, method, target, body)}` };
}

/** The origin's view of the last proxied request with this target. */
async function seenAt(target) {
  const all = (await origin.requests()).filter((r) => r.target === target);
  assert.ok(all.length > 0, `the origin saw ${target}`);
  return all.at(-1);
}

// ---------------------------------------------------------------------------
// Step 2: credentials

describe("credentials (step 2)", () => {
  let k;
  before(async () => {
    k = await key({ scopes: ["read:all"] });
  });

  test("Authorization: Bearer, ApiKey and X-API-Key each authenticate", async () => {
    for (const headers of [{ authorization: `Bearer ${k.key}` }, { apikey: k.key }, { "x-api-key": k.key }]) {
      const seen = assertProxied(await req("GET", "/cred/forms", headers), JSON.stringify(Object.keys(headers)));
      assert.equal(seen.headers["x-keygate-key-id"], k.id);
    }
  });

  test("header names are case-insensitive", async () => {
    for (const headers of [
      ["AUTHORIZATION", `Bearer ${k.key}`],
      ["Authorization", `Bearer ${k.key}`],
      ["APIKEY", k.key],
      ["ApiKey", k.key],
      ["apiKey", k.key],
      ["X-API-KEY", k.key],
      ["x-Api-Key", k.key],
    ]) {
      assertProxied(await req("GET", "/cred/case", headers), headers[0]);
    }
  });

  test("the Bearer scheme is matched case-insensitively (RFC 9110 11.1)", async () => {
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      assertProxied(await req("GET", "/cred/scheme", { authorization: `${scheme} ${k.key}` }), scheme);
    }
  });

  test("values are trimmed", async () => {
    for (const headers of [
      { "x-api-key": `   ${k.key}   ` },
      { apikey: `\t${k.key}\t` },
      { authorization: `Bearer    ${k.key}   ` },
      { authorization: `  Bearer ${k.key}` },
    ]) {
      assertProxied(await req("GET", "/cred/trim", headers), JSON.stringify(headers));
    }
  });

  test("api_key query parameter works with ALLOW_QUERY_KEY=true and is stripped before the origin", async () => {
    await origin.clear();
    for (const [sent, forwarded] of [
      [`/q1?api_key=${k.key}`, "/q1"],
      [`/q2?a=1&api_key=${k.key}&b=2`, "/q2?a=1&b=2"],
      [`/q3?api_key=${k.key}&z=%20y`, "/q3?z=%20y"],
      // An encoded parameter name is the same parameter: used, then stripped.
      [`/q4?api%5Fkey=${k.key}&b=2`, "/q4?b=2"],
    ]) {
      const seen = assertProxied(await req("GET", sent), sent);
      assert.equal(seen.target, forwarded, "api_key stripped, the rest untouched");
      assert.ok(!seen.target.includes(k.key), "the key never reaches the origin");
      assert.equal(seen.signature_valid, true, "origin signature valid over the forwarded target");
    }
  });

  test("the same key twice (header and header, header and query, repeated header) is fine", async () => {
    assertProxied(await req("GET", "/cred/twice", { authorization: `Bearer ${k.key}`, "x-api-key": k.key, apikey: k.key }), "three headers");
    assertProxied(await req("GET", "/cred/twice", { authorization: `Bearer ${k.key}`, "x-api-key": `  ${k.key}` }), "trimmed equal");
    assertProxied(await req("GET", `/cred/twice?api_key=${k.key}`, { "x-api-key": k.key }), "header and query");
    assertProxied(await req("GET", "/cred/twice", ["X-API-Key", k.key, "X-API-Key", k.key]), "repeated header");
  });

  test("api_key given twice with the same key is fine and both are stripped; two different ones are ambiguous", async () => {
    await origin.clear();
    const seen = assertProxied(await req("GET", `/qq?api_key=${k.key}&x=1&api_key=${k.key}`));
    assert.equal(seen.target, "/qq?x=1");
    const other = await key({ scopes: ["read:all"] });
    assertProblem(await req("GET", `/qq?api_key=${k.key}&api_key=${other.key}`), 400, "ambiguous_credentials");
  });

  test("the api_key value is a query parameter value: percent-encoding is decoded", async () => {
    const encoded = k.key.replaceAll("_", "%5F");
    const seen = assertProxied(await req("GET", `/qe?api_key=${encoded}&y=2`));
    assert.equal(seen.target, "/qe?y=2");
  });

  test("an Authorization header with another scheme is not a key: the X-API-Key decides", async () => {
    assertProxied(await req("GET", "/cred/basic", { authorization: "Basic dXNlcjpwYXNz", "x-api-key": k.key }));
  });

  test("two different keys give 400 ambiguous_credentials with error=invalid_request and reach nothing", async () => {
    const other = await key({ scopes: ["read:all"] });
    await origin.clear();
    for (const headers of [
      { authorization: `Bearer ${k.key}`, "x-api-key": other.key },
      { apikey: k.key, "x-api-key": other.key },
      { authorization: `Bearer ${k.key}`, apikey: other.key },
      ["X-API-Key", k.key, "X-API-Key", other.key],
    ]) {
      const res = await req("GET", "/cred/ambiguous", headers);
      assertProblem(res, 400, "ambiguous_credentials");
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="keygate", error="invalid_request"');
    }
    const res = await req("GET", `/cred/ambiguous?api_key=${other.key}`, { "x-api-key": k.key });
    assertProblem(res, 400, "ambiguous_credentials");
    assert.deepEqual(await origin.requests(), []);
  });

  test("no credential: 401 missing_key with WWW-Authenticate carrying no error", async () => {
    await origin.clear();
    const res = await req("GET", "/cred/none");
    assert401(res, "missing_key", false);
    assert.doesNotMatch(res.headers["www-authenticate"], /error/);
    assert.deepEqual(await origin.requests(), []);
  });

  test("malformed keys and bad checksums: 401 malformed_key with error=invalid_token", async () => {
    const body = k.key.slice(6, 49);
    const last = k.key.at(-1);
    const cases = {
      "garbage": "hello",
      "bad checksum (last char changed)": k.key.slice(0, -1) + (last === "0" ? "1" : "0"),
      "body changed, checksum kept": k.key.slice(0, 6) + (body[0] === "A" ? "B" : "A") + k.key.slice(7),
      "one char short": k.key.slice(0, -1),
      "one char long": k.key + "0",
      "non-base62 character": k.key.slice(0, 10) + "-" + k.key.slice(11),
      "unknown kind": makeKey("kg", "xk", body),
      "other namespace, valid checksum": makeKey("zz", "sk", body),
      "uppercase namespace": k.key.replace(/^kg/, "KG"),
      "secret signing-style string": `kg_sig_${body}`,
    };
    await origin.clear();
    for (const [name, bad] of Object.entries(cases)) {
      for (const headers of [{ "x-api-key": bad }, { authorization: `Bearer ${bad}` }, { apikey: bad }]) {
        const res = await req("GET", "/cred/malformed", headers);
        assert.equal(res.status, 401, `${name}: ${res.text()}`);
        assert401(res, "malformed_key");
      }
    }
    assert.deepEqual(await origin.requests(), []);
  });

  test("a well-formed key with a correct checksum that was never issued: 401 invalid_key", async () => {
    const forged = forgeKey(k.key);
    assert.notEqual(forged, k.key);
    assert.match(forged, /^kg_sk_[0-9A-Za-z]{49}$/);
    const forgedPk = makeKey("kg", "pk", forged.slice(6, 49));
    await origin.clear();
    for (const bad of [forged, forgedPk]) {
      for (const headers of [{ "x-api-key": bad }, { authorization: `Bearer ${bad}` }, { apikey: bad }]) {
        assert401(await req("GET", "/cred/unknown", headers), "invalid_key");
      }
    }
    assert.deepEqual(await origin.requests(), []);
  });
});

describe("ALLOW_QUERY_KEY unset (default false); CORS_ALLOWED_ORIGINS set; ORIGIN_TIMEOUT_MS=500", () => {
  let gw2;
  let k;
  before(async () => {
    gw2 = await startGateway({
      originUrl: origin.url,
      vars: { CORS_ALLOWED_ORIGINS: "https://app.example.com, https://console.example.org", ORIGIN_TIMEOUT_MS: "500" },
    });
    k = await key({ scopes: ["read:all"] }, gw2);
  });
  after(async () => {
    await gw2?.stop();
  });

  test("the api_key query parameter is ignored: 401 missing_key, nothing proxied", async () => {
    await origin.clear();
    const res = await req("GET", `/qk?api_key=${k.key}`, {}, undefined, gw2);
    assertProblem(res, 401, "missing_key");
    assert.match(res.headers["www-authenticate"] ?? "", /^Bearer realm="keygate"/);
    assert.deepEqual(await origin.requests(), []);
  });

  test("the api_key parameter does not make a header key ambiguous when query keys are off", async () => {
    const other = await key({ scopes: ["read:all"] }, gw2);
    assertProxied(await req("GET", `/qk2?api_key=${other.key}`, { "x-api-key": k.key }, undefined, gw2));
  });

  test("preflight from an origin in CORS_ALLOWED_ORIGINS: 204 allowing it; never proxied", async () => {
    await origin.clear();
    const res = await req(
      "OPTIONS",
      "/data",
      { origin: "https://app.example.com", "access-control-request-method": "GET" },
      undefined,
      gw2,
    );
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "https://app.example.com");
    assert.ok(res.headers["x-request-id"]);
    assert.deepEqual(await origin.requests(), []);
  });

  test("preflight from an origin outside CORS_ALLOWED_ORIGINS is not allowed; never proxied", async () => {
    await origin.clear();
    for (const other of ["https://evil.example.net", "https://app.example.com.evil.net", "http://app.example.com:1"]) {
      const res = await req("OPTIONS", "/data", { origin: other, "access-control-request-method": "GET" }, undefined, gw2);
      assert.ok(res.status < 500, `${other}: ${res.status}`);
      assert.notEqual(res.headers["access-control-allow-origin"], other, `${other} is not allowed`);
      assert.notEqual(res.headers["access-control-allow-origin"], "*");
      assert.ok(res.headers["x-request-id"]);
    }
    assert.deepEqual(await origin.requests(), []);
  });

  test("no answer within ORIGIN_TIMEOUT_MS: 504 origin_timeout", async () => {
    const started = Date.now();
    const res = await req("GET", "/slow?ms=3000", { "x-api-key": k.key }, undefined, gw2);
    const elapsed = Date.now() - started;
    assertProblem(res, 504, "origin_timeout");
    assert.ok(elapsed < 2500, `answered after ${elapsed} ms, not after the origin`);
    assert.ok(res.headers.ratelimit, "the key was identified, so RateLimit is present");
  });

  test("ORIGIN_TIMEOUT_MS bounds the wait for the answer, not a body still streaming after it", async () => {
    const started = Date.now();
    const res = await req("GET", "/drip?ms=1500", { "x-api-key": k.key }, undefined, gw2);
    assert.equal(res.status, 200);
    assert.equal(res.text(), Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(""), "the whole body arrives");
    assert.ok(Date.now() - started >= 1400, "the body really streamed past the 500 ms timeout");
  });

  test("an origin answering within ORIGIN_TIMEOUT_MS is relayed", async () => {
    assertProxied(await req("GET", "/slow?ms=50", { "x-api-key": k.key }, undefined, gw2));
  });
});

// ---------------------------------------------------------------------------
// Step 1: HTTPS

describe("REQUIRE_HTTPS=true", () => {
  let gw3;
  before(async () => {
    gw3 = await startGateway({ originUrl: origin.url, vars: { REQUIRE_HTTPS: "true" } });
  });
  after(async () => {
    await gw3?.stop();
  });

  test("plain HTTP gets 403 https_required before any key check; nothing proxied", async () => {
    await origin.clear();
    const wellFormed = makeKey("kg", "sk", "A".repeat(43));
    for (const headers of [{}, { "x-api-key": "garbage" }, { "x-api-key": wellFormed }]) {
      const res = await req("GET", "/secure", headers, undefined, gw3);
      assertProblem(res, 403, "https_required");
    }
    const res = await req("POST", "/secure", { authorization: `Bearer ${wellFormed}` }, "{}", gw3);
    assertProblem(res, 403, "https_required");
    assert.deepEqual(await origin.requests(), []);
  });
});

describe("REQUIRE_HTTPS unset (the production default is true)", () => {
  let gw4;
  before(async () => {
    gw4 = await startGateway({ originUrl: origin.url, vars: { REQUIRE_HTTPS: undefined } });
  });
  after(async () => {
    await gw4?.stop();
  });

  test("plain HTTP gets 403 https_required", async () => {
    await origin.clear();
    assertProblem(await req("GET", "/secure", {}, undefined, gw4), 403, "https_required");
    assert.deepEqual(await origin.requests(), []);
  });
});

// ---------------------------------------------------------------------------
// Step 3: key status — expiry, disable, revoke, roll

describe("key status (step 3)", () => {
  test("expired: 401 expired_key once expires_at has passed", async () => {
    const k = await key({ scopes: ["read:all"], expires_at: new Date(Date.now() + 3000).toISOString() });
    assertProxied(await req("GET", "/expiry", { "x-api-key": k.key }), "before expiry");
    await sleep(4000);
    await origin.clear();
    assert401(await req("GET", "/expiry", { "x-api-key": k.key }), "expired_key");
    assert.deepEqual(await origin.requests(), []);
  });

  test("disable gives 423 key_disabled on the very next request; enable restores it on the next", async () => {
    const k = await key({ scopes: ["read:all"] });
    assertProxied(await req("GET", "/state/disable", { "x-api-key": k.key }), "warm");
    const patched = await gw.admin("PATCH", `/v1/keys/${k.id}`, { enabled: false });
    assert.equal(patched.status, 200);
    await origin.clear();
    const res = await req("GET", "/state/disable", { "x-api-key": k.key });
    assertProblem(res, 423, "key_disabled");
    assert.deepEqual(await origin.requests(), []);
    assert.equal((await gw.admin("PATCH", `/v1/keys/${k.id}`, { enabled: true })).status, 200);
    assertProxied(await req("GET", "/state/disable", { "x-api-key": k.key }), "re-enabled");
  });

  test("a key created disabled gets 423", async () => {
    const k = await key({ scopes: ["read:all"], enabled: false });
    assertProblem(await req("GET", "/state/created-disabled", { "x-api-key": k.key }), 423, "key_disabled");
  });

  test("revoke: 401 invalid_key on the very next request", async () => {
    const k = await key({ scopes: ["read:all"] });
    for (let i = 0; i < 3; i++) assertProxied(await req("GET", "/state/revoke", { "x-api-key": k.key }), "warm");
    const revoked = await gw.admin("DELETE", `/v1/keys/${k.id}`);
    assert.equal(revoked.status, 204);
    await origin.clear();
    assert401(await req("GET", "/state/revoke", { "x-api-key": k.key }), "invalid_key");
    assert401(await req("GET", "/state/revoke", { authorization: `Bearer ${k.key}` }), "invalid_key");
    assert.deepEqual(await origin.requests(), []);
  });

  test("roll: the old key gets 401 invalid_key on the very next request; the new one works", async () => {
    const k = await key({ scopes: ["read:all"] });
    for (let i = 0; i < 3; i++) assertProxied(await req("GET", "/state/roll", { "x-api-key": k.key }), "warm");
    const rolled = await gw.admin("POST", `/v1/keys/${k.id}/roll`, {});
    assert.equal(rolled.status, 200);
    const { key: fresh, id } = await rolled.json();
    assert.equal(id, k.id, "same id across the roll");
    assert.notEqual(fresh, k.key);
    await origin.clear();
    assert401(await req("GET", "/state/roll", { "x-api-key": k.key }), "invalid_key");
    const seen = assertProxied(await req("GET", "/state/roll", { "x-api-key": fresh }), "new key");
    assert.equal(seen.headers["x-keygate-key-id"], k.id);
    assert.equal((await origin.requests()).length, 1, "only the new key's request reached the origin");
  });
});

// ---------------------------------------------------------------------------
// Step 4: allowed domains and CORS

describe("allowed domains and CORS (step 4)", () => {
  let restricted;
  let open;
  before(async () => {
    restricted = await key({ scopes: ["read:all"], allowed_domains: ["app.example.net", "*.example.com"] });
    open = await key({ scopes: ["read:all"] });
  });

  const call = (k, headers, method = "GET", target = "/dom") => req(method, target, { "x-api-key": k.key, ...headers });

  test("an exact domain matches; the answer echoes Origin with Vary and Expose headers", async () => {
    const res = await call(restricted, { origin: "https://app.example.net" });
    assertProxied(res);
    assertCorsEcho(res, "https://app.example.net");
  });

  test("a wildcard matches subdomains at any depth", async () => {
    for (const o of ["https://a.example.com", "https://a.b.example.com", "https://x-1.y.z.example.com"]) {
      const res = await call(restricted, { origin: o });
      assertProxied(res, o);
      assertCorsEcho(res, o);
    }
  });

  test("matching ignores case, scheme and port", async () => {
    for (const o of ["https://APP.Example.NET", "http://app.example.net", "https://app.example.net:8443", "HTTP://A.EXAMPLE.COM:80"]) {
      const res = await call(restricted, { origin: o });
      assertProxied(res, o);
      assert.equal(res.headers["access-control-allow-origin"], o);
    }
  });

  test("the wildcard does not match the apex nor look-alike hosts: 403 domain_not_allowed, origin not echoed", async () => {
    await origin.clear();
    for (const o of [
      "https://example.com",
      "https://notexample.com",
      "https://example.com.evil.net",
      "https://evil.net",
      "https://other.app.example.net",
      "https://example.net",
      "null",
    ]) {
      const res = await call(restricted, { origin: o });
      assertProblem(res, 403, "domain_not_allowed");
      assert.notEqual(res.headers["access-control-allow-origin"], o, `${o} must never be echoed`);
      assert.notEqual(res.headers["access-control-allow-origin"], "*");
    }
    assert.deepEqual(await origin.requests(), []);
  });

  test("the host is the URL's host: userinfo, paths and queries naming an allowed domain do not pass", async () => {
    for (const o of [
      "https://app.example.net@evil.net",
      "https://a.example.com:443@evil.net",
      "https://evil.net/a.example.com",
      "https://evil.net?a.example.com",
      "https://evil.net#.example.com",
      "https://evil.net\\.example.com",
    ]) {
      const res = await call(restricted, { origin: o });
      assertProblem(res, 403, "domain_not_allowed");
      assert.notEqual(res.headers["access-control-allow-origin"], o);
    }
    for (const r of ["https://app.example.net@evil.net/", "https://evil.net/https://app.example.net/"]) {
      assertProblem(await call(restricted, { referer: r }), 403, "domain_not_allowed");
    }
  });

  test("Referer is used when there is no Origin", async () => {
    assertProxied(await call(restricted, { referer: "https://a.example.com/page?x=1#top" }), "good referer");
    assertProxied(await call(restricted, { referer: "http://APP.example.net:3000/" }), "good referer, case and port");
    assertProblem(await call(restricted, { referer: "https://example.com/a.example.com" }), 403, "domain_not_allowed");
  });

  test("Origin wins over Referer", async () => {
    assertProblem(
      await call(restricted, { origin: "https://evil.net", referer: "https://app.example.net/" }),
      403,
      "domain_not_allowed",
    );
    assertProxied(await call(restricted, { origin: "https://app.example.net", referer: "https://evil.net/" }));
  });

  test("an Origin that names no host (null) decides alone: an allowed Referer does not rescue it", async () => {
    await origin.clear();
    const res = await call(restricted, { origin: "null", referer: "https://app.example.net/page" });
    assertProblem(res, 403, "domain_not_allowed");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
    assert.deepEqual(await origin.requests(), []);
  });

  test("a refused origin is never echoed, whichever check refuses first (disabled key)", async () => {
    const locked = await key({ scopes: ["read:all"], allowed_domains: ["app.example.net"], enabled: false });
    const refused = await call(locked, { origin: "https://evil.net" });
    assertProblem(refused, 423, "key_disabled");
    assert.equal(refused.headers["access-control-allow-origin"], undefined, "evil.net is not echoed");
    const allowed = await call(locked, { origin: "https://app.example.net" });
    assertProblem(allowed, 423, "key_disabled");
    assert.equal(allowed.headers["access-control-allow-origin"], "https://app.example.net");
  });

  test("neither Origin nor Referer on a domain-restricted key: 403 domain_not_allowed", async () => {
    await origin.clear();
    assertProblem(await call(restricted, {}), 403, "domain_not_allowed");
    assert.deepEqual(await origin.requests(), []);
  });

  test("a key without domains accepts any origin and echoes it", async () => {
    const res = await call(open, { origin: "https://anything.test" });
    assertProxied(res);
    assertCorsEcho(res, "https://anything.test");
    assertProxied(await call(open, {}), "no origin at all");
  });

  test("denials other than a refused domain echo the origin too (insufficient_scope, missing_key, invalid_key)", async () => {
    const o = "https://app.example.net";
    const scope = await call(restricted, { origin: o }, "POST");
    assertScopeDenied(scope, "write:all");
    assertCorsEcho(scope, o);
    const missing = await req("GET", "/dom", { origin: o });
    assert401(missing, "missing_key", false);
    assertCorsEcho(missing, o);
    const invalid = await req("GET", "/dom", { origin: o, "x-api-key": forgeKey(open.key) });
    assert401(invalid, "invalid_key");
    assertCorsEcho(invalid, o);
  });

  test("preflight: 204 at the edge, never proxied, allowing the origin, the methods and the client headers", async () => {
    await origin.clear();
    const o = "https://app.example.net";
    const res = await req("OPTIONS", "/dom/anything", {
      origin: o,
      "access-control-request-method": "POST",
      "access-control-request-headers": "x-api-key, content-type, x-keygate-signature",
    });
    assert.equal(res.status, 204, res.text());
    assert.equal(res.body.length, 0);
    assert.equal(res.headers["access-control-allow-origin"], o);
    assert.ok(res.headers["x-request-id"]);
    const methods = listOf(res.headers["access-control-allow-methods"]);
    for (const m of ["get", "head", "post", "put", "patch", "delete", "options"]) {
      assert.ok(methods.includes(m), `allow-methods has ${m}: ${res.headers["access-control-allow-methods"]}`);
    }
    const allowed = listOf(res.headers["access-control-allow-headers"]);
    for (const h of ["authorization", "apikey", "x-api-key", "content-type", "x-keygate-timestamp", "x-keygate-signature"]) {
      assert.ok(allowed.includes(h), `allow-headers has ${h}: ${res.headers["access-control-allow-headers"]}`);
    }
    assert.deepEqual(await origin.requests(), [], "the preflight was not proxied");
  });

  test("preflight needs no key and ignores one; any origin is allowed when CORS_ALLOWED_ORIGINS is empty", async () => {
    await origin.clear();
    for (const headers of [
      { origin: "https://elsewhere.test", "access-control-request-method": "DELETE" },
      { origin: "https://elsewhere.test", "access-control-request-method": "GET", "x-api-key": "junk" },
      { origin: "https://elsewhere.test", "access-control-request-method": "GET", "x-api-key": restricted.key },
    ]) {
      const res = await req("OPTIONS", "/dom/x", headers);
      assert.equal(res.status, 204);
      assert.equal(res.headers["access-control-allow-origin"], "https://elsewhere.test");
    }
    assert.deepEqual(await origin.requests(), []);
  });

  test("OPTIONS without Access-Control-Request-Method is a real request: it needs a key and is proxied as OPTIONS", async () => {
    await origin.clear();
    assert401(await req("OPTIONS", "/opt", { origin: "https://app.example.net" }), "missing_key", false);
    assert.deepEqual(await origin.requests(), []);
    const res = await req("OPTIONS", "/opt", { origin: "https://app.example.net", "x-api-key": restricted.key });
    const seen = assertProxied(res);
    assert.equal(seen.method, "OPTIONS");
    assertCorsEcho(res, "https://app.example.net");
  });
});

// ---------------------------------------------------------------------------
// Step 5: scopes and the route policy

describe("scopes and ROUTES (step 5)", () => {
  const keys = {};
  before(async () => {
    for (const [name, scopes] of Object.entries({
      read: ["read:all"],
      write: ["write:all"],
      del: ["delete:all"],
      admin: ["admin"],
      prices: ["read:datasets/prices"],
      datasets: ["read:datasets/*"],
      delDatasets: ["delete:datasets/*"],
      first: ["read:datasets/first"],
      second: ["read:datasets/second"],
    })) {
      keys[name] = await key({ scopes });
    }
  });
  const as = (name, method, target, body) =>
    req(method, target, { "x-api-key": keys[name].key, ...(body ? { "content-type": "application/json" } : {}) }, body);

  test("defaults by method: GET/HEAD/OPTIONS read:all, POST/PUT/PATCH write:all, DELETE delete:all", async () => {
    for (const method of ["GET", "HEAD", "OPTIONS"]) {
      const res = await as("read", method, "/plain/thing");
      assert.equal(res.status, 200, `read:all ${method}`);
      assert.equal(res.headers["x-demo-origin"], "1");
      const denied = await as("write", method, "/plain/thing");
      assert.equal(denied.status, 403, `write:all ${method}`);
      if (method !== "HEAD") assertScopeDenied(denied, "read:all");
      else assert.match(denied.headers["www-authenticate"] ?? "", /scope="read:all"/);
    }
    for (const method of ["POST", "PUT", "PATCH"]) {
      assertProxied(await as("write", method, "/plain/thing", "{}"), `write:all ${method}`);
      assertScopeDenied(await as("read", method, "/plain/thing", "{}"), "write:all");
      assertScopeDenied(await as("del", method, "/plain/thing", "{}"), "write:all");
    }
    assertProxied(await as("del", "DELETE", "/plain/thing"), "delete:all DELETE");
    assertScopeDenied(await as("read", "DELETE", "/plain/thing"), "delete:all");
    assertScopeDenied(await as("write", "DELETE", "/plain/thing"), "delete:all");
    assertScopeDenied(await as("del", "GET", "/plain/thing"), "read:all");
  });

  test("write:all does not give read:all, nor delete:all", async () => {
    assertScopeDenied(await as("write", "GET", "/w"), "read:all");
    assertScopeDenied(await as("write", "DELETE", "/w"), "delete:all");
  });

  test("admin implies every scope", async () => {
    for (const [method, target] of [
      ["GET", "/a"],
      ["POST", "/a"],
      ["PUT", "/a"],
      ["PATCH", "/a"],
      ["DELETE", "/a"],
      ["GET", "/datasets/prices"],
      ["DELETE", "/datasets/prices/x"],
      ["POST", "/anymethod/secret"],
      ["GET", "/ordered/x"],
    ]) {
      assertProxied(await as("admin", method, target, method === "GET" || method === "DELETE" ? undefined : "{}"), `admin ${method} ${target}`);
    }
  });

  test("a {name} capture and a trailing /* (including no rest) give the dataset scope", async () => {
    for (const target of ["/datasets/prices", "/datasets/prices/", "/datasets/prices/2024/01/02", "/datasets/prices?from=2024"]) {
      assertProxied(await as("prices", "GET", target), `prices ${target}`);
    }
    assertScopeDenied(await as("prices", "GET", "/datasets/volumes"), "read:datasets/volumes");
    assertScopeDenied(await as("prices", "GET", "/datasets/volumes/2024"), "read:datasets/volumes");
    assertScopeDenied(await as("prices", "GET", "/datasets/pricesx"), "read:datasets/pricesx");
  });

  test("{name} matches one segment: /datasets alone falls back to the method default", async () => {
    assertScopeDenied(await as("prices", "GET", "/datasets"), "read:all");
    assertProxied(await as("read", "GET", "/datasets"));
  });

  test("a {name} value that cannot be written in a scope still matches its rule and needs the covering grant", async () => {
    for (const target of ["/datasets/a~b", "/datasets/a%20b/rows", "/datasets/x:y"]) {
      assertScopeDenied(await as("prices", "GET", target), "read:datasets/*");
      assertProxied(await as("datasets", "GET", target), `datasets ${target}`);
    }
  });

  test("read:datasets/* grants every dataset, read:all grants them too", async () => {
    for (const target of ["/datasets/prices", "/datasets/volumes/x", "/datasets/a.b-c_d"]) {
      assertProxied(await as("datasets", "GET", target), `datasets ${target}`);
      assertProxied(await as("read", "GET", target), `read ${target}`);
    }
    assertScopeDenied(await as("datasets", "GET", "/not-a-dataset"), "read:all");
  });

  test("no action implies another on datasets: delete:datasets/* deletes but does not read", async () => {
    assertProxied(await as("delDatasets", "DELETE", "/datasets/prices"));
    assertScopeDenied(await as("delDatasets", "GET", "/datasets/prices"), "read:datasets/prices");
    assertScopeDenied(await as("read", "DELETE", "/datasets/prices"), "delete:datasets/prices");
    assertScopeDenied(await as("datasets", "DELETE", "/datasets/prices/1"), "delete:datasets/prices");
    assertScopeDenied(await as("write", "GET", "/datasets/prices"), "read:datasets/prices");
  });

  test("a rule with method * applies to every method", async () => {
    for (const method of ["GET", "POST", "PUT", "DELETE"]) {
      assertProxied(await as("prices", method, "/anymethod/prices", method === "POST" || method === "PUT" ? "{}" : undefined), method);
      assertScopeDenied(await as("write", method, "/anymethod/prices", method === "POST" || method === "PUT" ? "{}" : undefined), "read:datasets/prices");
    }
  });

  test("the first matching rule wins", async () => {
    assertProxied(await as("first", "GET", "/ordered/x"));
    assertScopeDenied(await as("second", "GET", "/ordered/x"), "read:datasets/first");
  });

  test("a rule overrides the method default (POST /search needs read:all)", async () => {
    assertProxied(await as("read", "POST", "/search", "{}"));
    assertScopeDenied(await as("write", "POST", "/search", "{}"), "read:all");
  });

  test("a scope denial never reaches the origin", async () => {
    await origin.clear();
    assertScopeDenied(await as("read", "POST", "/never", "{}"), "write:all");
    assert.deepEqual(await origin.requests(), []);
  });
});

describe("publishable keys", () => {
  test("default to read:all, read works, writes are refused; the origin sees kind publishable", async () => {
    const pk = await key({ kind: "publishable" });
    assert.match(pk.key, /^kg_pk_[0-9A-Za-z]{49}$/);
    assert.deepEqual(pk.scopes, ["read:all"]);
    const seen = assertProxied(await req("GET", "/pk", { "x-api-key": pk.key }));
    assert.equal(seen.headers["x-keygate-kind"], "publishable");
    assert.equal(seen.headers["x-keygate-scopes"], "read:all");
    assertScopeDenied(await req("POST", "/pk", { "x-api-key": pk.key }, "{}"), "write:all");
    assertScopeDenied(await req("DELETE", "/pk", { "x-api-key": pk.key }), "delete:all");
  });

  test("can never hold admin, write:* or delete:*: creation refused with 400", async () => {
    for (const scopes of [["write:all"], ["admin"], ["delete:all"], ["read:all", "write:datasets/*"], ["delete:datasets/prices"], ["write:datasets/prices"]]) {
      const res = await gw.admin("POST", "/v1/keys", { owner: "pk-refused", kind: "publishable", scopes });
      assert.equal(res.status, 400, `${JSON.stringify(scopes)} → ${res.status}`);
      const problem = await res.json();
      assert.equal(problem.code, "bad_request");
    }
  });

  test("dataset read grants are allowed on publishable keys", async () => {
    const pk = await key({ kind: "publishable", scopes: ["read:datasets/prices"] });
    assertProxied(await req("GET", "/datasets/prices/today", { "x-api-key": pk.key }));
  });

  test("a PATCH cannot give a publishable key write scopes", async () => {
    const pk = await key({ kind: "publishable" });
    const res = await gw.admin("PATCH", `/v1/keys/${pk.id}`, { scopes: ["write:all"] });
    assert.equal(res.status, 400);
    assertScopeDenied(await req("POST", "/pk", { "x-api-key": pk.key }, "{}"), "write:all");
  });
});

// ---------------------------------------------------------------------------
// Step 6: signed requests

describe("signed requests (step 6)", () => {
  let k;
  let secret;
  before(async () => {
    k = await key({ require_signature: true });
    secret = k.signing_secret;
  });

  test("the create response returns the signing secret once, in the SPEC's format", async () => {
    assert.match(secret ?? "", /^kg_sig_[0-9A-Za-z]{43}$/);
    const got = await (await gw.admin("GET", `/v1/keys/${k.id}`)).json();
    assert.equal(got.signing_secret, undefined, "never returned again");
    assert.ok(!JSON.stringify(got).includes(secret));
  });

  test("a good signature over a GET with the query as sent reaches the origin", async () => {
    const target = "/v1/x?b=2&a=1";
    await origin.clear();
    const seen = assertProxied(await req("GET", target, { "x-api-key": k.key, ...signedHeaders(secret, "GET", target) }));
    assert.equal(seen.target, target);
    assert.equal(seen.signature_valid, true);
    assert.equal(seen.headers["x-keygate-timestamp"], undefined, "client X-Keygate-* headers are not forwarded");
    assert.equal(seen.headers["x-keygate-signature"], undefined);
  });

  test("a good signature over a POST body reaches the origin with the body intact", async () => {
    const target = "/v1/upload?z=%2Fy&a=1";
    const body = JSON.stringify({ hello: "wörld", n: [1, 2, 3] });
    const seen = assertProxied(
      await req("POST", target, { authorization: `Bearer ${k.key}`, "content-type": "application/json", ...signedHeaders(secret, "POST", target, body) }, body),
    );
    assert.equal(seen.method, "POST");
    assert.equal(seen.target, target);
    assert.equal(seen.body_sha256, sha256hex(body));
  });

  test("an empty body hashes as the empty string; a target without query has no ?", async () => {
    assertProxied(await req("POST", "/v1/empty", { "x-api-key": k.key, ...signedHeaders(secret, "POST", "/v1/empty", "") }, ""));
    assertProxied(await req("DELETE", "/v1/empty", { "x-api-key": k.key, ...signedHeaders(secret, "DELETE", "/v1/empty") }));
  });

  test("with ALLOW_QUERY_KEY the signed target includes the api_key parameter as sent; the origin gets it stripped", async () => {
    const target = `/v1/qsigned?api_key=${k.key}&x=1`;
    const seen = assertProxied(await req("GET", target, signedHeaders(secret, "GET", target)));
    assert.equal(seen.target, "/v1/qsigned?x=1");
    assert.equal(seen.signature_valid, true);
  });

  // workerd hands the Worker a WHATWG-normalized request.url (`'` becomes %27,
  // dot segments resolve), and no API exposes the raw request line, so a
  // target that normalization changes cannot be verified as sent. Documented in
  // README "Signed requests"; kept here so a runtime that exposes it turns it green.
  test("the target is the request line exactly as sent, even characters a URL parser would re-encode", { todo: "workerd normalizes request.url before the Worker sees it" }, async () => {
    const target = "/v1/names?q=O'Brien&sort=-name";
    const seen = assertProxied(await req("GET", target, { "x-api-key": k.key, ...signedHeaders(secret, "GET", target) }));
    assert.equal(seen.target, target);
  });

  test("a timestamp 290 s old is still inside the window", async () => {
    assertProxied(await req("GET", "/v1/old", { "x-api-key": k.key, ...signedHeaders(secret, "GET", "/v1/old", "", nowSeconds() - 290) }));
  });

  test("a wrong signature: 401 invalid_signature, nothing proxied", async () => {
    await origin.clear();
    const target = "/v1/x?b=2&a=1";
    const cases = {
      "other secret": signedHeaders("kg_sig_" + "A".repeat(43), "GET", target),
      "query reordered in the signature": signedHeaders(secret, "GET", "/v1/x?a=1&b=2"),
      "other method": signedHeaders(secret, "POST", target),
      "lowercase method": signedHeaders(secret, "get", target),
      "garbage hex": { "x-keygate-timestamp": String(nowSeconds()), "x-keygate-signature": `v1=${"0".repeat(64)}` },
      "no v1= prefix": { "x-keygate-timestamp": String(nowSeconds()), "x-keygate-signature": sign(secret, nowSeconds(), "GET", target) },
      "non-decimal timestamp": (() => {
        const ts = `${nowSeconds()}.0`;
        return { "x-keygate-timestamp": ts, "x-keygate-signature": `v1=${sign(secret, ts, "GET", target)}` };
      })(),
      "timestamp in milliseconds": (() => {
        const ts = Date.now();
        return { "x-keygate-timestamp": String(ts), "x-keygate-signature": `v1=${sign(secret, ts, "GET", target)}` };
      })(),
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await req("GET", target, { "x-api-key": k.key, ...headers });
      assert.equal(res.status, 401, `${name}: ${res.text()}`);
      assert401(res, "invalid_signature");
    }
    assert.deepEqual(await origin.requests(), []);
  });

  test("a signed body that was changed: 401 invalid_signature", async () => {
    const target = "/v1/tamper";
    const headers = { "x-api-key": k.key, ...signedHeaders(secret, "POST", target, '{"amount":1}') };
    assert401(await req("POST", target, headers, '{"amount":1000}'), "invalid_signature");
  });

  test("skew over 300 s either way: 401 invalid_signature", async () => {
    for (const ts of [nowSeconds() - 301, nowSeconds() + 301, nowSeconds() - 3600, 0]) {
      const res = await req("GET", "/v1/skew", { "x-api-key": k.key, ...signedHeaders(secret, "GET", "/v1/skew", "", ts) });
      assert401(res, "invalid_signature");
    }
  });

  test("a signature accepted once is refused when replayed", async () => {
    const target = `/v1/replay?n=${Date.now()}`;
    const headers = { "x-api-key": k.key, ...signedHeaders(secret, "GET", target) };
    assertProxied(await req("GET", target, headers), "first");
    await origin.clear();
    assert401(await req("GET", target, headers), "invalid_signature");
    assert401(await req("GET", target, headers), "invalid_signature");
    assert.deepEqual(await origin.requests(), []);
  });

  test("missing signature headers: 401 invalid_signature", async () => {
    const ts = nowSeconds();
    for (const headers of [
      {},
      { "x-keygate-timestamp": String(ts) },
      { "x-keygate-signature": `v1=${sign(secret, ts, "GET", "/v1/missing")}` },
    ]) {
      assert401(await req("GET", "/v1/missing", { "x-api-key": k.key, ...headers }), "invalid_signature");
    }
    assert401(await req("POST", "/v1/missing", { "x-api-key": k.key }, "{}"), "invalid_signature");
  });

  test("keys without require_signature ignore signature headers", async () => {
    const plain = await key({ scopes: ["read:all"] });
    assertProxied(await req("GET", "/v1/plain", { "x-api-key": plain.key, "x-keygate-timestamp": "1", "x-keygate-signature": "v1=zz" }));
  });

  test("roll returns a new signing secret; the new key signs with it", async () => {
    const s = await key({ require_signature: true, scopes: ["read:all"] });
    const rolled = await (await gw.admin("POST", `/v1/keys/${s.id}/roll`, {})).json();
    assert.match(rolled.signing_secret ?? "", /^kg_sig_[0-9A-Za-z]{43}$/);
    assert.notEqual(rolled.signing_secret, s.signing_secret);
    assertProxied(await req("GET", "/v1/rolled", { "x-api-key": rolled.key, ...signedHeaders(rolled.signing_secret, "GET", "/v1/rolled") }));
    assert401(
      await req("GET", "/v1/rolled2", { "x-api-key": rolled.key, ...signedHeaders(s.signing_secret, "GET", "/v1/rolled2") }),
      "invalid_signature",
    );
  });
});

// ---------------------------------------------------------------------------
// Step 9: the proxy

describe("proxy (step 9)", () => {
  let k;
  let admin;
  before(async () => {
    k = await key({ scopes: ["read:all", "write:all"] });
    admin = await key({ scopes: ["admin"] });
  });

  test("the origin sees method, target and headers; credentials and client X-Keygate-* stripped; identity added", async () => {
    const target = "/v1/items/%7Eid?b=2&a=1&c=%20d&e";
    await origin.clear();
    for (const credential of [{ authorization: `Bearer ${k.key}` }, { apikey: k.key }, { "X-API-Key": k.key }]) {
      const res = await req("GET", target, {
        ...credential,
        "X-Keygate-Key-Id": "key_forged",
        "X-Keygate-Owner": "mallory",
        "X-Keygate-Scopes": "admin",
        "X-Keygate-Kind": "secret",
        "X-Keygate-Request-Id": "req_forged",
        "X-Keygate-Signature-Origin": "t=1,v1=00",
        "x-keygate-anything": "forged",
        "X-Custom-Header": "kept",
        accept: "application/json",
      });
      const seen = assertProxied(res);
      assert.equal(seen.method, "GET");
      assert.equal(seen.target, target, "path and query exactly as sent");
      const h = seen.headers;
      assert.equal(h.authorization, undefined, "no Authorization");
      assert.equal(h.apikey, undefined, "no ApiKey");
      assert.equal(h["x-api-key"], undefined, "no X-API-Key");
      assert.ok(!JSON.stringify(seen).includes(k.key), "the key appears nowhere at the origin");
      assert.equal(h["x-keygate-anything"], undefined, "client X-Keygate-* removed");
      assert.equal(h["x-keygate-key-id"], k.id);
      assert.equal(h["x-keygate-owner"], k.owner);
      assert.deepEqual(h["x-keygate-scopes"].split(" ").sort(), [...k.scopes].sort());
      assert.equal(h["x-keygate-kind"], "secret");
      assert.equal(h["x-keygate-request-id"], res.headers["x-request-id"], "the origin sees the response's request id");
      assert.equal(h["x-custom-header"], "kept");
      assert.equal(h.accept, "application/json");
      assert.equal(seen.signature_valid, true, "the demo origin accepts X-Keygate-Signature-Origin");
      // Recompute the origin signature independently (SPEC step 9).
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(h["x-keygate-signature-origin"] ?? "");
      assert.ok(m, `X-Keygate-Signature-Origin format: ${h["x-keygate-signature-origin"]}`);
      assert.ok(Math.abs(Number(m[1]) - nowSeconds()) <= 5, "t is the gateway's current time");
      const expected = createHmac("sha256", ORIGIN_SECRET)
        .update([m[1], h["x-keygate-request-id"], k.id, "GET", target].join("\n"))
        .digest("hex");
      assert.equal(m[2], expected);
    }
  });

  test("a Bearer key in a repeated Authorization header is used and never reaches the origin", async () => {
    await origin.clear();
    const res = await req("GET", "/v1/repeated-auth", ["Authorization", "Basic dXNlcjpwdw==", "Authorization", `Bearer ${k.key}`]);
    const seen = assertProxied(res);
    assert.equal(seen.headers["x-keygate-key-id"], k.id, "the Bearer part authenticated");
    assert.ok(!JSON.stringify(seen).includes(k.key), "the key appears nowhere at the origin");
    assert.equal(seen.headers.authorization, undefined, "the Authorization header carrying it is removed");
  });

  test("methods are relayed as sent (POST, PUT, PATCH, DELETE, HEAD)", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const body = method === "DELETE" ? undefined : `{"m":"${method}"}`;
      const seen = assertProxied(await req(method, `/m/${method}`, { "x-api-key": admin.key, "content-type": "application/json" }, body), method);
      assert.equal(seen.method, method);
      if (body) assert.equal(seen.body_sha256, sha256hex(body));
      assert.equal(seen.signature_valid, true);
    }
    await origin.clear();
    const head = await req("HEAD", "/m/HEAD", { "x-api-key": admin.key });
    assert.equal(head.status, 200);
    assert.equal((await seenAt("/m/HEAD")).method, "HEAD");
  });

  test("a method outside the common set (PROPFIND) reaches the origin as PROPFIND", async () => {
    await origin.clear();
    const res = await req("PROPFIND", "/m/propfind", { "x-api-key": admin.key, "content-type": "application/xml" }, "<propfind/>");
    assert.equal(res.status, 200, res.text());
    const seen = await seenAt("/m/propfind");
    assert.equal(seen.method, "PROPFIND");
    assert.equal(seen.signature_valid, true);
  });

  test("the origin's status, headers and body are relayed", async () => {
    for (const status of [201, 302, 404, 418, 500, 503]) {
      const res = await req("GET", `/status/${status}`, { "x-api-key": k.key });
      assert.equal(res.status, status, `origin ${status} relayed`);
      assert.equal(res.headers["x-demo-origin"], "1");
      assert.equal(res.headers["content-type"], "application/json", "the origin's own content type, not a problem");
      assert.equal(res.json().target, `/status/${status}`);
      assert.ok(res.headers["x-request-id"], "X-Request-Id on relayed answers");
    }
    const empty = await req("GET", "/status/204", { "x-api-key": k.key });
    assert.equal(empty.status, 204);
    assert.equal(empty.body.length, 0);
    assert.equal(empty.headers["x-demo-origin"], "1");
  });

  test("an allowed answer carries the RateLimit fields", async () => {
    const res = await req("GET", "/rl", { "x-api-key": k.key });
    assertProxied(res);
    assert.match(res.headers["ratelimit-policy"] ?? "", /^"default";q=10000;w=1$/);
    assert.match(res.headers.ratelimit ?? "", /^"default";r=\d+;t=\d+$/);
  });

  test("a 10 MB POST body arrives intact", async () => {
    const body = randomBytes(10 * 1024 * 1024);
    const res = await req("POST", "/big", { "x-api-key": k.key, "content-type": "application/octet-stream" }, body);
    const seen = assertProxied(res);
    assert.equal(seen.body_length, body.length);
    assert.equal(seen.body_sha256, sha256hex(body));
  });

  test("a 10 MB chunked PUT body (no Content-Length) arrives intact", async () => {
    const chunks = Array.from({ length: 40 }, () => randomBytes(256 * 1024));
    const hash = createHash("sha256");
    for (const c of chunks) hash.update(c);
    const res = await rawRequest(gw.url, {
      method: "PUT",
      target: "/big-chunked",
      headers: { "x-api-key": k.key, "transfer-encoding": "chunked" },
      body: (r) => {
        for (const c of chunks) r.write(c);
        r.end();
      },
    });
    const seen = assertProxied(res);
    assert.equal(seen.body_length, 40 * 256 * 1024);
    assert.equal(seen.body_sha256, hash.digest("hex"));
  });

  test("a denied request with a body never reaches the origin", async () => {
    await origin.clear();
    const ro = await key({ scopes: ["read:all"] });
    assertScopeDenied(await req("POST", "/big-denied", { "x-api-key": ro.key }, randomBytes(1024 * 1024)), "write:all");
    assert.deepEqual(await origin.requests(), []);
  });
});

describe("origin down", () => {
  let gw5;
  let k;
  before(async () => {
    gw5 = await startGateway({ originUrl: await closedPortUrl() });
    k = await key({ scopes: ["read:all"] }, gw5);
  });
  after(async () => {
    await gw5?.stop();
  });

  test("an unreachable origin gives 502 origin_unreachable", async () => {
    const res = await req("GET", "/down", { "x-api-key": k.key, origin: "https://app.test" }, undefined, gw5);
    assertProblem(res, 502, "origin_unreachable");
    assertCorsEcho(res, "https://app.test");
    assert.ok(res.headers.ratelimit, "the key was identified, so RateLimit is present");
  });

  test("without a key the answer is still 401, never 502", async () => {
    assert401(await req("GET", "/down", {}, undefined, gw5), "missing_key", false);
  });
});

// ---------------------------------------------------------------------------
// The status table and the problem format, all in one place

test("every denial is problem+json with X-Request-Id; every allowed answer has X-Request-Id", async () => {
  const ro = await key({ scopes: ["read:all"] });
  const ok = await req("GET", "/ids", { "x-api-key": ro.key });
  const seen = assertProxied(ok);
  assert.equal(seen.headers["x-keygate-request-id"], ok.headers["x-request-id"]);
  const ids = new Set();
  for (const [res, status, code] of [
    [await req("GET", "/ids"), 401, "missing_key"],
    [await req("GET", "/ids", { "x-api-key": "nope" }), 401, "malformed_key"],
    [await req("GET", "/ids", { "x-api-key": forgeKey(ro.key) }), 401, "invalid_key"],
    [await req("GET", "/ids", { "x-api-key": ro.key, apikey: forgeKey(ro.key) }), 400, "ambiguous_credentials"],
    [await req("DELETE", "/ids", { "x-api-key": ro.key }), 403, "insufficient_scope"],
  ]) {
    const problem = assertProblem(res, status, code);
    assert.match(problem.type, /\S/);
    assert.match(problem.title, /\S/);
    assert.match(problem.detail, /\S/);
    ids.add(problem.request_id);
  }
  assert.equal(ids.size, 5, "request ids are unique");
});
