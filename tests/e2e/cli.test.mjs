// The `keygate` CLI against the running Worker: every command, and `sign`
// output that the gateway accepts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startOrigin, startGateway, ADMIN_TOKEN } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const binary = path.join(root, "target/debug/keygate");
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

function keygate(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      { env: { PATH: process.env.PATH, KEYGATE_URL: gw.url, KEYGATE_ADMIN_TOKEN: ADMIN_TOKEN, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
}

async function json(args) {
  const result = await keygate([...args, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test("keys create, list, get, update, disable, enable, roll, usage, revoke and audit", async () => {
  const created = await json(["keys", "create", "--owner", "cli", "--name", "from cli", "--scope", "read:all", "--rate-limit", "50/1s"]);
  assert.match(created.key, /^kg_sk_[0-9A-Za-z]{49}$/);
  assert.deepEqual(created.rate_limit, { limit: 50, period_seconds: 1 });

  const table = await keygate(["keys", "list", "--owner", "cli"]);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^ID\s+NAME\s+PREFIX/m);
  assert.ok(table.stdout.includes(created.id) && table.stdout.includes("from cli"));
  assert.ok(!table.stdout.includes(created.key), "the plaintext is never listed");

  assert.equal((await json(["keys", "get", created.id])).name, "from cli");
  assert.equal((await json(["keys", "update", created.id, "--name", "renamed"])).name, "renamed");
  assert.equal((await json(["keys", "disable", created.id])).enabled, false);
  assert.equal((await gw.fetch("/x", { headers: { "X-API-Key": created.key } })).status, 423);
  assert.equal((await json(["keys", "enable", created.id])).enabled, true);
  assert.equal((await gw.fetch("/x", { headers: { "X-API-Key": created.key } })).status, 200);

  const rolled = await json(["keys", "roll", created.id]);
  assert.notEqual(rolled.key, created.key);
  assert.equal((await gw.fetch("/x", { headers: { "X-API-Key": created.key } })).status, 401);
  assert.equal((await gw.fetch("/x", { headers: { "X-API-Key": rolled.key } })).status, 200);

  const verified = await json(["verify", rolled.key]);
  assert.equal(verified.valid, true);
  const usage = await json(["keys", "usage", created.id]);
  assert.ok(usage.totals.allowed >= 2);

  const revoked = await keygate(["keys", "revoke", created.id]);
  assert.equal(revoked.code, 0);
  const gone = await keygate(["keys", "get", created.id]);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /404 not_found/);

  const audit = await json(["audit", "--owner", "cli"]);
  assert.deepEqual(
    audit.events.map((e) => e.action),
    ["created", "updated", "disabled", "enabled", "rolled", "revoked"],
  );
});

test("errors exit non-zero with the problem detail", async () => {
  const wrongToken = await keygate(["keys", "list"], { KEYGATE_ADMIN_TOKEN: "wrong-token-0123456789" });
  assert.notEqual(wrongToken.code, 0);
  assert.match(wrongToken.stderr, /401 unauthorized/);
  const badField = await keygate(["keys", "create", "--owner", "cli2", "--scope", "fly:all"]);
  assert.notEqual(badField.code, 0);
  assert.match(badField.stderr, /400 bad_request: .*scopes\[0\]/);
  const invalid = await keygate(["verify", "kg_sk_notakey"]);
  assert.notEqual(invalid.code, 0);
});

test("check is offline: a real key passes, a mistyped one fails", async () => {
  const { key } = await gw.createKey({ owner: "cli-check" });
  const ok = await keygate(["check", key], { KEYGATE_URL: "http://127.0.0.1:9" });
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /ok: well-formed secret key/);
  const typo = key.slice(0, 10) + (key[10] === "a" ? "b" : "a") + key.slice(11);
  const bad = await keygate(["check", typo]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /checksum/);
});

test("sign prints headers the gateway accepts for a signed request", async () => {
  const created = await gw.createKey({ owner: "cli-sign", require_signature: true });
  const dir = mkdtempSync(path.join(tmpdir(), "kg-"));
  const bodyFile = path.join(dir, "body.json");
  writeFileSync(bodyFile, '{"order":42}');
  const target = "/v1/orders?b=2&a=1";
  const signed = await json(["sign", "--secret", created.signing_secret, "--method", "post", "--url", `${gw.url}${target}`, "--body-file", bodyFile]);
  const response = await gw.fetch(target, {
    method: "POST",
    body: '{"order":42}',
    headers: {
      "X-API-Key": created.key,
      "X-Keygate-Timestamp": signed["X-Keygate-Timestamp"],
      "X-Keygate-Signature": signed["X-Keygate-Signature"],
    },
  });
  assert.equal(response.status, 200, await response.text());
});
