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
export async function startOrigin() {
  const child = spawn(process.execPath, [path.join(root, "demo/origin.mjs")], {
    env: { ...process.env, PORT: "0", ORIGIN_SECRET },
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

/** Starts Keygate in workerd; `vars` override the test defaults. */
export async function startGateway({ originUrl, vars = {} } = {}) {
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
        { type: "ESModule", path: path.join(root, "build/index.js") },
        { type: "CompiledWasm", path: path.join(root, "build/index_bg.wasm") },
      ],
      modulesRoot: path.join(root, "build"),
      compatibilityDate: "2026-11-01",
      bindings,
      kvNamespaces: ["KEYS"],
      durableObjects: {
        KEY_OBJECT: { className: "KeyObject", useSQLite: true },
        OWNER_REGISTRY: { className: "OwnerRegistry", useSQLite: true },
      },
      cf: false,
      port: 0,
    }),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    mf,
    url,
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
