// Secrets at rest (issue 4; SPEC sections 1 and 2.6): after creating, using,
// patching, rolling (with and without grace) and revoking keys, nothing that
// Keygate stored — local KV and both Durable Objects, persisted to a temp
// directory by Miniflare — contains a plaintext key or a signing secret, in
// any common encoding. KV maps hashes to key ids only.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  startOrigin,
  startGatewayPersisted,
  ADMIN_TOKEN,
  VERIFY_TOKEN,
  KEY_PEPPER,
  ORIGIN_SECRET,
  SIGNING_SECRET_KEY,
} from "./harness.mjs";

const PLANS = { pro: { max_keys: 10, credits: { remaining: 50 } } };

let origin;
let persistDir;
/** Every plaintext key issued (current and rolled out). */
const keys = [];
/** Every signing secret issued. */
const signingSecrets = [];
/** Keys still valid when the gateway stopped (current, or within a grace). */
const liveKeys = [];
/** Every key id created. */
const ids = new Set();
/** The KV namespace as listed before stopping: [{ name, value, metadata }]. */
let kvEntries = [];
/** Every file under the persist dir: [{ file, bytes }]. */
let files = [];
/** Every line the Worker logged. */
const logLines = [];

const hmacHex = (key) => createHmac("sha256", KEY_PEPPER).update(key).digest("hex");

function signedHeaders(secret, method, target, body = "") {
  const ts = String(Math.floor(Date.now() / 1000));
  const bodyHash = createHash("sha256").update(body).digest("hex");
  const v1 = createHmac("sha256", secret).update(`${ts}\n${method}\n${target}\n${bodyHash}`).digest("hex");
  return { "x-keygate-timestamp": ts, "x-keygate-signature": `v1=${v1}` };
}

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** `text`'s base64 as it would appear inside a longer base64 string, at each of the 3 alignments. */
function base64Fragments(text, alphabet) {
  const bytes = Buffer.from(text, "utf8");
  const out = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet);
    const start = offset === 0 ? 0 : 4;
    const end = Math.floor((offset + bytes.length) / 3) * 4;
    out.push(encoded.slice(start, end));
  }
  return out;
}

/** Every byte pattern under which `secret` could have been written to disk. */
function encodings(secret) {
  const body = secret.slice(secret.lastIndexOf("_") + 1);
  const forms = [
    { label: "plaintext", bytes: Buffer.from(secret, "utf8") },
    { label: "body", bytes: Buffer.from(body, "utf8") },
    { label: "utf-16le", bytes: Buffer.from(secret, "utf16le") },
    { label: "hex", bytes: Buffer.from(Buffer.from(secret).toString("hex")) },
    { label: "HEX", bytes: Buffer.from(Buffer.from(secret).toString("hex").toUpperCase()) },
  ];
  for (const alphabet of ["base64", "base64url"]) {
    base64Fragments(secret, alphabet).forEach((fragment, i) => forms.push({ label: `${alphabet}@${i}`, bytes: Buffer.from(fragment) }));
  }
  return forms;
}

function findings(secret) {
  const hits = [];
  for (const { label, bytes } of encodings(secret)) {
    for (const { file, bytes: content } of files) {
      if (content.includes(bytes)) hits.push(`${label} in ${path.relative(persistDir, file)}`);
    }
  }
  return hits;
}

before(async () => {
  origin = await startOrigin();
  persistDir = mkdtempSync(path.join(os.tmpdir(), "keygate-at-rest-"));
  const gw = await startGatewayPersisted({
    originUrl: origin.url,
    persistDir,
    vars: { PLANS: JSON.stringify(PLANS) },
    onLog: (entry) => logLines.push(typeof entry === "string" ? entry : JSON.stringify(entry)),
  });
  try {
    const admin = async (method, route, body, token) => {
      const res = await gw.admin(method, route, body, token);
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
    };
    const create = async (body) => {
      const r = await admin("POST", "/v1/keys", body);
      assert.equal(r.status, 201, r.text);
      keys.push(r.json.key);
      if (r.json.signing_secret) signingSecrets.push(r.json.signing_secret);
      ids.add(r.json.id);
      return r.json;
    };
    const roll = async (id, grace_seconds) => {
      const r = await admin("POST", `/v1/keys/${id}/roll`, grace_seconds === undefined ? {} : { grace_seconds });
      assert.equal(r.status, 200, r.text);
      keys.push(r.json.key);
      if (r.json.signing_secret) signingSecrets.push(r.json.signing_secret);
      return r.json;
    };
    const verify = async (key) => {
      // The origin suits the publishable key's domains and is ignored by the others.
      const r = await admin("POST", "/v1/verify", { key, origin: "https://app.example.com" }, VERIFY_TOKEN);
      assert.equal(r.status, 200, r.text);
      return r.json;
    };

    const owner = "at-rest";
    const plain = await create({ owner, name: "plain", plan: "pro", metadata: { note: "plain" } });
    const pk = await create({ owner, kind: "publishable", plan: "pro", allowed_domains: ["app.example.com"] });
    const signed = await create({ owner, name: "signed", plan: "pro", require_signature: true });
    const signedGrace = await create({ owner, name: "signed-grace", plan: "pro", require_signature: true, credits: { remaining: 500 } });
    const graceOnly = await create({ owner, name: "grace", plan: "pro" });
    const doomed = await create({ owner, name: "doomed", plan: "pro", require_signature: true });
    const adminKey = await create({ owner, name: "owner admin", plan: "pro", scopes: ["admin"] });
    const turnedOn = await create({ owner, name: "turned on later", plan: "pro" });

    // Use them: verify, proxied requests (signed ones too), admin calls with the admin key.
    for (const k of [plain, pk, signed, signedGrace, graceOnly, doomed, adminKey, turnedOn]) await verify(k.key);
    for (const k of [signed, signedGrace]) {
      const res = await gw.fetch("/v1/at-rest?x=1", { headers: { "x-api-key": k.key, ...signedHeaders(k.signing_secret, "GET", "/v1/at-rest?x=1") } });
      assert.equal(res.status, 200, await res.text());
    }
    assert.equal((await gw.fetch("/v1/plain", { headers: { authorization: `Bearer ${plain.key}` } })).status, 200);
    assert.equal((await gw.fetch("/v1/pk", { headers: { "x-api-key": pk.key, origin: "https://app.example.com" } })).status, 200);
    assert.equal((await admin("GET", "/v1/keys", undefined, adminKey.key)).status, 200);

    // Patch: turn signatures on (a new signing secret), rename, disable and enable.
    const patched = await admin("PATCH", `/v1/keys/${turnedOn.id}`, { require_signature: true, name: "now signed" });
    assert.equal(patched.status, 200, patched.text);
    assert.match(patched.json.signing_secret ?? "", /^kg_sig_[0-9A-Za-z]{43}$/, "PATCH turning signatures on returns a signing secret");
    signingSecrets.push(patched.json.signing_secret);
    assert.equal((await admin("PATCH", `/v1/keys/${plain.id}`, { enabled: false })).status, 200);
    assert.equal((await admin("PATCH", `/v1/keys/${plain.id}`, { enabled: true })).status, 200);

    // Roll: without grace, with grace, twice, and by the owner's admin key.
    const plainRolled = await roll(plain.id);
    const signedRolled = await roll(signed.id, 0);
    const signedGraceRolled = await roll(signedGrace.id, 3600);
    const graceRolled = await roll(graceOnly.id, 120);
    const graceRolledTwice = await roll(graceOnly.id, 60);
    const byAdminKey = await admin("POST", `/v1/keys/${pk.id}/roll`, { grace_seconds: 30 }, adminKey.key);
    assert.equal(byAdminKey.status, 200, byAdminKey.text);
    keys.push(byAdminKey.json.key);
    const doomedRolled = await roll(doomed.id, 600);

    // The old signed key still signs with its old secret during the grace.
    const res = await gw.fetch("/v1/grace", { headers: { "x-api-key": signedGrace.key, ...signedHeaders(signedGrace.signing_secret, "GET", "/v1/grace") } });
    assert.equal(res.status, 200, await res.text());
    for (const k of [plainRolled, signedGraceRolled, graceRolledTwice, byAdminKey.json]) {
      const answer = await verify(k.key);
      assert.equal(answer.valid, true, JSON.stringify(answer));
    }

    // Revoke one (after its roll, during the grace).
    assert.equal((await admin("DELETE", `/v1/keys/${doomed.id}`)).status, 204);
    assert.equal((await verify(doomedRolled.key)).valid, false);

    liveKeys.push(
      plainRolled.key,
      pk.key, // within the 30 s grace
      byAdminKey.json.key,
      signedRolled.key,
      signedGrace.key,
      signedGraceRolled.key,
      graceRolled.key,
      graceRolledTwice.key,
      adminKey.key,
      turnedOn.key,
    );
    for (const key of liveKeys) {
      const answer = await verify(key);
      assert.equal(answer.valid, true, `${key.slice(0, 10)} is live: ${JSON.stringify(answer)}`);
    }

    // A positive control for the log capture: with the origin gone, a proxied
    // request answers 502 and the Worker logs that the origin was unreachable.
    await origin.stop();
    origin = undefined;
    const unreachable = await gw.fetch("/v1/origin-gone", { headers: { authorization: `Bearer ${plainRolled.key}` } });
    assert.equal(unreachable.status, 502, await unreachable.text());

    // Let the key objects flush their held-back writes (at most 1 s) before listing and stopping.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const kv = await gw.mf.getKVNamespace("KEYS");
    let cursor;
    do {
      const page = await kv.list(cursor ? { cursor } : {});
      for (const { name } of page.keys) {
        const { value, metadata } = await kv.getWithMetadata(name);
        kvEntries.push({ name, value, metadata });
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  } finally {
    await gw.stop();
  }
  files = walk(persistDir).map((file) => ({ file, bytes: readFileSync(file) }));
  if (process.env.KEYGATE_TEST_DEBUG) console.log(`worker log lines: ${logLines.length}\n${logLines.slice(0, 20).join("\n")}`);
});

after(async () => {
  await origin?.stop();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

describe("secrets at rest", () => {
  test("the scenario issued the keys and signing secrets it meant to", () => {
    assert.equal(keys.length, 15, "8 created + 7 rolled");
    assert.equal(new Set(keys).size, keys.length, "every issued key is distinct");
    for (const key of keys) assert.match(key, /^kg_(sk|pk)_[0-9A-Za-z]{49}$/);
    assert.equal(signingSecrets.length, 7, "3 created with signatures + 1 PATCH turning them on + 3 rolls of signed keys");
    for (const secret of signingSecrets) assert.match(secret, /^kg_sig_[0-9A-Za-z]{43}$/);
  });

  test("storage was persisted where the scan looks: KV and both Durable Object classes, with the key ids in them", () => {
    assert.ok(files.length > 0, `files under ${persistDir}`);
    const total = files.reduce((n, f) => n + f.bytes.length, 0);
    assert.ok(total > 0, "non-empty storage");
    // Positive controls: the scan does see stored data (so "not found" below means something).
    for (const id of ids) {
      const needle = Buffer.from(id);
      assert.ok(files.some((f) => f.bytes.includes(needle)), `key id ${id} is somewhere at rest`);
    }
    const stored = files.map((f) => f.bytes);
    for (const key of liveKeys) {
      const hash = Buffer.from(hmacHex(key));
      const b64 = Buffer.from(createHmac("sha256", KEY_PEPPER).update(key).digest("base64"));
      assert.ok(stored.some((b) => b.includes(hash) || b.includes(b64)), `HMAC of a live key ${key.slice(0, 10)} is at rest`);
    }
  });

  test("KV maps hashes to key ids only", () => {
    assert.ok(kvEntries.length > 0, "KV holds entries");
    for (const { name, value, metadata } of kvEntries) {
      assert.ok(ids.has(value), `KV value ${JSON.stringify(value)} of ${name} is a key id`);
      assert.ok(metadata === null || metadata === undefined || !JSON.stringify(metadata).includes("kg_"), `KV metadata of ${name}: ${JSON.stringify(metadata)}`);
      const text = `${name} ${value} ${JSON.stringify(metadata ?? null)}`;
      for (const secret of [...keys, ...signingSecrets]) {
        assert.ok(!text.includes(secret), `KV entry ${name} holds a plaintext secret`);
        assert.ok(!text.includes(secret.slice(secret.lastIndexOf("_") + 1)), `KV entry ${name} holds a secret's body`);
      }
    }
    // Every live key is found by its HMAC-SHA256(KEY_PEPPER, key), and that entry names its id.
    for (const key of liveKeys) {
      const hex = hmacHex(key);
      const b64 = createHmac("sha256", KEY_PEPPER).update(key).digest("base64url");
      const entry = kvEntries.find(({ name }) => name.includes(hex) || name.includes(b64));
      assert.ok(entry, `a KV entry is named by the HMAC of live key ${key.slice(0, 10)}`);
      assert.match(entry.value, /^key_/);
    }
    // Nothing is keyed by a plain SHA-256 of a key while a pepper is set.
    for (const key of keys) {
      const plainHash = createHash("sha256").update(key).digest("hex");
      assert.ok(!kvEntries.some(({ name }) => name.includes(plainHash)), "no unpeppered hash in KV");
    }
  });

  test("no file at rest contains a plaintext key (any encoding), nor its unpeppered SHA-256", () => {
    const leaks = [];
    for (const key of keys) {
      for (const hit of findings(key)) leaks.push(`${key.slice(0, 10)}…: ${hit}`);
      const plainHash = Buffer.from(createHash("sha256").update(key).digest("hex"));
      for (const { file, bytes } of files) if (bytes.includes(plainHash)) leaks.push(`${key.slice(0, 10)}… plain SHA-256 in ${file}`);
    }
    assert.deepEqual(leaks, [], `plaintext keys at rest:\n${leaks.join("\n")}`);
  });

  test("no file at rest contains a signing secret (any encoding)", () => {
    const leaks = [];
    for (const secret of signingSecrets) for (const hit of findings(secret)) leaks.push(`${secret.slice(0, 11)}…: ${hit}`);
    assert.deepEqual(leaks, [], `signing secrets at rest:\n${leaks.join("\n")}`);
  });

  test("nothing the Worker logged contains a plaintext key or a signing secret", () => {
    const log = logLines.join("\n");
    const leaks = [];
    for (const secret of [...keys, ...signingSecrets]) {
      for (const form of [secret, secret.slice(secret.lastIndexOf("_") + 1)]) if (log.includes(form)) leaks.push(secret.slice(0, 10));
    }
    assert.ok(logLines.some((line) => /origin/i.test(line)), `the log capture works: the 502 was logged (${logLines.length} lines)`);
    assert.deepEqual(leaks, [], `secrets in the Worker's log (${logLines.length} lines)`);
  });

  test("no file at rest contains the Worker's own secrets", () => {
    const leaks = [];
    const workerSecrets = { ADMIN_TOKEN, VERIFY_TOKEN, KEY_PEPPER, ORIGIN_SECRET, SIGNING_SECRET_KEY };
    for (const [name, value] of Object.entries(workerSecrets)) {
      const needles = [Buffer.from(value)];
      if (name === "SIGNING_SECRET_KEY") needles.push(Buffer.from(value, "base64"));
      for (const needle of needles) for (const { file, bytes } of files) if (bytes.includes(needle)) leaks.push(`${name} in ${path.relative(persistDir, file)}`);
    }
    assert.deepEqual(leaks, [], leaks.join("\n"));
  });

  test("the files scanned include every storage file, WAL and blobs too", () => {
    const names = files.map((f) => path.relative(persistDir, f.file));
    assert.ok(names.some((n) => /KeyObject/i.test(n)), `a KeyObject file among ${names.join(", ")}`);
    assert.ok(names.some((n) => /OwnerRegistry/i.test(n)), "an OwnerRegistry file");
    assert.ok(names.some((n) => /kv/i.test(n)), "a KV file");
    for (const { file } of files) assert.ok(statSync(file).isFile());
  });
});
