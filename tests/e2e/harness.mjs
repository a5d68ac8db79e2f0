// Runs the built Worker (build/index.js + build/index_bg.wasm) in real workerd
// through Miniflare's API, with local KV and SQLite-backed Durable Objects,
// in front of the demo origin started as a separate process on a free port.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const VERIFY_TOKEN = "test-verify-token-0123456789abcdef";
export const ORIGIN_SECRET = "test-origin-secret";
export const KEY_PEPPER = "test-pepper";
// 32 bytes, base64.
export const SIGNING_SECRET_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/** Starts the demo origin on a free port; resolves to { url, requests(), clear(), stop() }. */
/** Starts the demo origin; `secret: ""` turns its signature check off. */
export async function startOrigin({ secret = ORIGIN_SECRET } = {}) {
  const child = spawn(process.execPath, [path.join(root, "demo/origin.mjs")], {
    env: { ...process.env, PORT: "0", ORIGIN_SECRET: secret },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`origin exited ${code}`)));
  });
  return {
    url,
    async requests() {
      return (await fetch(`${url}/__demo/requests`)).json();
    },
    async clear() {
      await fetch(`${url}/__demo/requests`, { method: "DELETE" });
    },
    async stop() {
      child.kill();
      await once(child, "exit").catch(() => {});
    },
  };
}

/**
 * Starts Keygate in workerd; `vars` override the test defaults. With
 * `persistDir`, KV and Durable Objects persist under `persistDir/state`
 * (scratch under `persistDir/tmp`) so a test can read every stored byte;
 * `onLog(entry)` receives every line the Worker logs instead of printing it.
 */
export async function startGateway({ originUrl, vars = {}, persistDir, onLog, miniflare = {} } = {}) {
  const bindings = {
    ORIGIN_URL: originUrl ?? "http://127.0.0.1:9",
    REQUIRE_HTTPS: "false",
    ADMIN_TOKEN,
    VERIFY_TOKEN,
    ORIGIN_SECRET,
    KEY_PEPPER,
    SIGNING_SECRET_KEY,
    ...vars,
  };
  for (const [name, value] of Object.entries(bindings)) if (value === undefined) delete bindings[name];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: [
        { type: "ESModule", path: path.join(root, "worker/entry.mjs") },
        { type: "ESModule", path: path.join(root, "build/index.js") },
        { type: "CompiledWasm", path: path.join(root, "build/index_bg.wasm") },
      ],
      modulesRoot: root,
      compatibilityDate: "2026-11-01",
      bindings,
      kvNamespaces: ["KEYS"],
      durableObjects: {
        KEY_OBJECT: { className: "KeyObject", useSQLite: true },
        OWNER_REGISTRY: { className: "OwnerRegistry", useSQLite: true },
      },
      cf: false,
      port: 0,
      ...(persistDir
        ? { resourcePersistencePath: path.join(persistDir, "state"), resourceTmpPath: path.join(persistDir, "tmp") }
        : {}),
      ...(onLog ? { handleStructuredLogs: onLog } : {}),
      ...miniflare,
    }),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    mf,
    url,
    persistDir,
    fetch: (pathOrUrl, init) => fetch(pathOrUrl.startsWith("http") ? pathOrUrl : url + pathOrUrl, init),
    admin(method, route, body, token = ADMIN_TOKEN) {
      return fetch(`${url}/_keygate${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    async createKey(body) {
      const res = await this.admin("POST", "/v1/keys", body);
      const json = await res.json();
      if (res.status !== 201) throw new Error(`create failed ${res.status}: ${JSON.stringify(json)}`);
      return json;
    },
    stop: () => mf.dispose(),
  };
}

// ---------------------------------------------------------------------------
// Helpers for the edge, foundation and fuzz tests: raw HTTP requests (exact
// request line, any method, duplicate or odd headers) and the key format of
// SPEC section 1 (base62, CRC-32) written independently of the Rust code.
import { request as httpRequest } from "node:http";
import { createServer as createNetServer } from "node:net";

/**
 * One HTTP/1.1 request through node:http, without fetch's rules: `target` is
 * sent as the request line exactly; `headers` is an object or a flat raw array
 * [name, value, name, value, ...] (keeps order, case and duplicates); `body` is
 * a string/Buffer, or a function (req) => void that writes and ends it.
 * Resolves to { status, headers (lowercased), rawHeaders, body (Buffer), text(), json() }.
 */
export function rawRequest(baseUrl, { method = "GET", target = "/", headers = {}, body, timeoutMs = 30000 } = {}) {
  const { hostname, port } = new URL(baseUrl);
  // Node sends raw (array) headers as given, without adding Host; HTTP/1.1 needs it.
  if (Array.isArray(headers) && !headers.some((h, i) => i % 2 === 0 && /^host$/i.test(h))) {
    headers = ["Host", `${hostname}:${port}`, ...headers];
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path: target, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const buffer = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: buffer,
          text: () => buffer.toString("utf8"),
          json: () => JSON.parse(buffer.toString("utf8")),
        });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${method} ${target.slice(0, 200)}`)));
    req.on("error", reject);
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

/** A URL on 127.0.0.1 where nothing listens (a port bound then released). */
export async function closedPortUrl() {
  const server = createNetServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `value` (BigInt or number) in base62, most significant digit first, left-padded with 0. */
export function base62(value, width) {
  let n = BigInt(value);
  let out = "";
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, "0");
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as crc32fast computes it) of a string's ASCII bytes or a Buffer. */
export function crc32(input) {
  const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A well-formed key (right length, alphabet and checksum) for `namespace`, `kind`, 43-char `body`. */
export function makeKey(namespace, kind, body) {
  const head = `${namespace}_${kind}_${body}`;
  return head + base62(crc32(head), 6);
}

/** A well-formed key that no gateway issued: `key` with its body changed and the checksum recomputed. */
export function forgeKey(key) {
  const match = /^([a-z][a-z0-9]{1,15})_(sk|pk)_([0-9A-Za-z]{43})[0-9A-Za-z]{6}$/.exec(key);
  if (!match) throw new Error(`not a key: ${key}`);
  const [, namespace, kind, body] = match;
  const first = BASE62[(BASE62.indexOf(body[0]) + 1) % 62];
  return makeKey(namespace, kind, first + body.slice(1, 20) + [...body.slice(20)].reverse().join(""));
}

// ---------------------------------------------------------------------------
// Persistence (secrets-at-rest test): the same gateway as startGateway, with
// local KV and Durable Object storage written under `persistDir` (Miniflare's
// `resourcePersistencePath`, with its scratch `resourceTmpPath` beside it),
// so a test can read every byte stored after the gateway stops.

/**
 * Like startGateway, plus `persistDir`: KV and Durable Objects persist under
 * `persistDir/state`, scratch files under `persistDir/tmp`. `onLog(entry)`, when
 * given, receives every line the Worker logs (Miniflare's structured logs:
 * { timestamp, level, message }) instead of the default printing.
 */
export async function startGatewayPersisted({ persistDir, ...options } = {}) {
  if (!persistDir) throw new Error("startGatewayPersisted needs persistDir");
  return startGateway({ ...options, persistDir });
}
