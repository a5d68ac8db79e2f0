// Rate limits, credits and usage (SPEC section 2 steps 7, 8, 10) in real
// workerd, with parallel clients and a real origin process.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startOrigin, startGateway } from "./harness.mjs";

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({
    originUrl: origin.url,
    vars: {
      MAX_KEYS_PER_OWNER: "50",
      ROUTES: JSON.stringify([{ method: "GET", path: "/costly/*", scope: "read:all", cost: 5 }]),
      PLANS: JSON.stringify({ pro: { rate_limit: "3/1s" } }),
    },
  });
});
after(async () => {
  await gw?.stop();
  await origin?.stop();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const call = (key, path = "/limited") => gw.fetch(path, { headers: { "X-API-Key": key } });

function parseRateLimit(value) {
  const match = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(value ?? "");
  assert.ok(match, `RateLimit header malformed: ${value}`);
  return { policy: match[1], remaining: Number(match[2]), reset: Number(match[3]) };
}

test("a 5/1s key hit by 10 parallel clients admits exactly 5; the rest get 429 with Retry-After", async () => {
  const { key } = await gw.createKey({ owner: "burst", rate_limit: { limit: 5, period_seconds: 1 } });
  await origin.clear();
  const responses = await Promise.all(Array.from({ length: 10 }, () => call(key, "/burst")));
  const statuses = responses.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
  const received = (await origin.requests()).filter((r) => r.target === "/burst");
  assert.equal(received.length, 5, "exactly 5 reached the origin");
  for (const refused of responses.filter((r) => r.status === 429)) {
    const body = await refused.json();
    assert.equal(body.code, "rate_limited");
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    const retry = Number(refused.headers.get("retry-after"));
    assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${retry}`);
    assert.equal(parseRateLimit(refused.headers.get("ratelimit")).remaining, 0);
  }
  await sleep(1200);
  assert.equal((await call(key, "/burst")).status, 200, "works again after the window");
});

test("the default limit is 12 per second, announced in RateLimit-Policy", async () => {
  const { key } = await gw.createKey({ owner: "default-limit" });
  const responses = await Promise.all(Array.from({ length: 15 }, () => call(key)));
  assert.equal(responses.filter((r) => r.status === 200).length, 12);
  assert.equal(responses.filter((r) => r.status === 429).length, 3);
  assert.equal(responses[0].headers.get("ratelimit-policy"), '"default";q=12;w=1');
});

test("RateLimit remaining counts down on allowed responses and is on later denials", async () => {
  const { key, id } = await gw.createKey({ owner: "countdown", rate_limit: { limit: 4, period_seconds: 10 }, scopes: ["read:all"] });
  const seen = [];
  for (let i = 0; i < 4; i++) {
    const response = await call(key);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("ratelimit-policy"), '"default";q=4;w=10');
    const rate = parseRateLimit(response.headers.get("ratelimit"));
    assert.ok(rate.reset >= 1 && rate.reset <= 10, `reset ${rate.reset}`);
    seen.push(rate.remaining);
  }
  assert.deepEqual(seen, [3, 2, 1, 0]);
  // A later denial (scope) still carries the figures, and takes nothing.
  const denied = await gw.fetch("/x", { method: "POST", headers: { "X-API-Key": key } });
  assert.equal(denied.status, 403);
  assert.equal(parseRateLimit(denied.headers.get("ratelimit")).remaining, 0);
  const refused = await call(key);
  assert.equal(refused.status, 429);
  const usage = await (await gw.admin("GET", `/v1/keys/${id}/usage`)).json();
  assert.equal(usage.totals.allowed, 4);
  assert.equal(usage.totals.insufficient_scope, 1);
  assert.equal(usage.totals.rate_limited, 1);
});

test("a plan's limit applies and names the policy", async () => {
  const { key } = await gw.createKey({ owner: "planned", plan: "pro" });
  const response = await call(key);
  assert.equal(response.headers.get("ratelimit-policy"), '"pro";q=3;w=1');
  assert.equal(parseRateLimit(response.headers.get("ratelimit")).policy, "pro");
});

test("credits: 3 allowed then credits_exhausted; a denial costs nothing; PATCH tops up", async () => {
  const { key, id } = await gw.createKey({ owner: "credits", scopes: ["read:all"], credits: { remaining: 3 } });
  const scopeDenial = await gw.fetch("/x", { method: "POST", headers: { "X-API-Key": key } });
  assert.equal(scopeDenial.status, 403, "read:all cannot POST");
  assert.equal((await gw.admin("GET", `/v1/keys/${id}`).then((r) => r.json())).credits.remaining, 3, "the denial cost nothing");
  for (let i = 0; i < 3; i++) assert.equal((await call(key)).status, 200);
  const exhausted = await call(key);
  assert.equal(exhausted.status, 429);
  assert.equal((await exhausted.json()).code, "credits_exhausted");
  assert.equal(exhausted.headers.get("retry-after"), null, "no refill, no Retry-After");
  let record = await (await gw.admin("GET", `/v1/keys/${id}`)).json();
  assert.equal(record.credits.remaining, 0);
  await gw.admin("PATCH", `/v1/keys/${id}`, { credits: { remaining: 2 } });
  assert.equal((await call(key)).status, 200);
  record = await (await gw.admin("GET", `/v1/keys/${id}`)).json();
  assert.equal(record.credits.remaining, 1);
});

test("the rate limit is decided before credits (SPEC step 7, then 8)", async () => {
  const { key, id } = await gw.createKey({ owner: "order", credits: { remaining: 1 }, rate_limit: { limit: 1, period_seconds: 60 } });
  assert.equal((await call(key)).status, 200);
  const second = await call(key);
  assert.equal(second.status, 429);
  assert.equal((await second.json()).code, "rate_limited", "both are used up: the limit answers");
  const record = await (await gw.admin("GET", `/v1/keys/${id}`)).json();
  assert.equal(record.credits.remaining, 0);
});

test("credits refill to the amount (not added) every interval, with Retry-After until then", async () => {
  const { key } = await gw.createKey({ owner: "refill", credits: { remaining: 2, refill: { amount: 2, interval_seconds: 2 } } });
  assert.equal((await call(key)).status, 200);
  assert.equal((await call(key)).status, 200);
  const exhausted = await call(key);
  assert.equal(exhausted.status, 429);
  const retry = Number(exhausted.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
  await sleep(retry * 1000 + 300);
  const verify = await (await gw.admin("POST", "/v1/verify", { key })).json();
  assert.equal(verify.valid, true);
  assert.equal(verify.credits_remaining, 1, "refilled to 2, then this verify took 1");
});

test("a route with cost 5 takes 5 credits; concurrent requests never go below zero", async () => {
  const { key, id } = await gw.createKey({ owner: "costly", credits: { remaining: 12 }, rate_limit: { limit: 100, period_seconds: 1 } });
  assert.equal((await call(key, "/costly/report")).status, 200);
  let record = await (await gw.admin("GET", `/v1/keys/${id}`)).json();
  assert.equal(record.credits.remaining, 7);
  const responses = await Promise.all(Array.from({ length: 10 }, () => call(key)));
  assert.equal(responses.filter((r) => r.status === 200).length, 7);
  record = await (await gw.admin("GET", `/v1/keys/${id}`)).json();
  assert.equal(record.credits.remaining, 0);
});

test("usage counts exactly what was sent, by outcome and by minute, with last_used_at", async () => {
  const { key, id } = await gw.createKey({ owner: "usage", rate_limit: { limit: 3, period_seconds: 60 }, scopes: ["read:all"] });
  for (let i = 0; i < 5; i++) await call(key);
  await gw.fetch("/x", { method: "DELETE", headers: { "X-API-Key": key } });
  const usage = await (await gw.admin("GET", `/v1/keys/${id}/usage`)).json();
  assert.deepEqual(usage.totals, { allowed: 3, rate_limited: 2, insufficient_scope: 1 });
  const minuteTotal = usage.minutes.reduce((sum, bucket) => sum + Object.values(bucket.counts).reduce((a, b) => a + b, 0), 0);
  assert.equal(minuteTotal, 6);
  const hourTotal = usage.hours.reduce((sum, bucket) => sum + Object.values(bucket.counts).reduce((a, b) => a + b, 0), 0);
  assert.equal(hourTotal, 6);
  assert.match(usage.last_used_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const listed = await (await gw.admin("GET", "/v1/keys?owner=usage")).json();
  assert.equal(listed.keys[0].last_used_at, usage.last_used_at);
});

test("verify counts against the limit like a proxied request", async () => {
  const { key } = await gw.createKey({ owner: "verify-limit", rate_limit: { limit: 2, period_seconds: 5 } });
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await (await gw.admin("POST", "/v1/verify", { key })).json());
  assert.deepEqual(answers.map((a) => a.code), ["ok", "ok", "rate_limited"]);
  assert.deepEqual(answers.map((a) => a.ratelimit.remaining), [1, 0, 0]);
  assert.equal(answers[2].status, 429);
  assert.equal((await call(key)).status, 429, "the proxied path shares the window");
});
