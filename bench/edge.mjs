// Starts the demo origin, a pass-through Worker and Keygate (each in local
// workerd via Miniflare), drives each with wrk in the same run, and prints
// requests/s and p50/p99 latency. Run through `bash bench/edge.sh`.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { startOrigin, startGateway } from "../tests/e2e/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const duration = process.env.BENCH_DURATION ?? "4s";
const connections = process.env.BENCH_CONNECTIONS ?? "16";
// Many short rounds: each ratio is taken within a round, so more rounds give
// a steadier median on a machine whose speed drifts.
const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
// Every target first runs unmeasured for this long, so JIT and wasm tier-up
// (and the pass-through's JS JIT alike) are done before anything is counted.
const warmup = process.env.BENCH_WARMUP ?? "3s";

function wrk(url, headers = {}, rotateKeys = null, seconds = duration) {
  const args = ["-t2", `-c${connections}`, `-d${seconds}`, "--latency"];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}: ${value}`);
  if (rotateKeys) args.push("-s", path.join(here, "rotate_keys.lua"));
  const env = rotateKeys ? { ...process.env, KEYGATE_KEYS: rotateKeys.join(",") } : process.env;
  const out = execFileSync("wrk", [...args, url], { encoding: "utf8", env });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const toMs = (text) => {
    const match = /([\d.]+)(us|ms|s|m)/.exec(text);
    if (!match) throw new Error(`unreadable wrk latency \`${text}\` in:\n${out}`);
    const [, n, unit] = match;
    if (unit === "m") return Number(n) * 60_000;
    return Number(n) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1);
  };
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)[1]);
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50, p99, non2xx };
}

// The origin does the same work for every case: checking Keygate's
// X-Keygate-Signature-Origin is the origin's cost, not the gateway's.
const origin = await startOrigin({ secret: "" });
const passthrough = new Miniflare(
  convertV4MiniflareOptions({
    modules: [{ type: "ESModule", path: path.join(here, "passthrough.mjs") }],
    modulesRoot: here,
    compatibilityDate: "2026-11-01",
    bindings: { ORIGIN_URL: origin.url },
    cf: false,
    port: 0,
  }),
);
const passthroughUrl = (await passthrough.ready).toString().replace(/\/$/, "");
const gw = await startGateway({ originUrl: origin.url, vars: { MAX_KEYS_PER_OWNER: "100" } });
const created = await gw.createKey({
  owner: "bench",
  name: "bench",
  rate_limit: { limit: 1000000, period_seconds: 1 },
});
const malformed = created.key.slice(0, -1) + (created.key.endsWith("A") ? "B" : "A");
// One key's requests are serialized by its Durable Object; many keys spread out.
const manyKeys = [];
for (let i = 0; i < Number(connections); i++) {
  const extra = await gw.createKey({ owner: "bench", name: `bench ${i}`, rate_limit: { limit: 1000000, period_seconds: 1 } });
  manyKeys.push(extra.key);
}

const cases = [
  ["origin direct", `${origin.url}/bench`, {}],
  ["pass-through Worker", `${passthroughUrl}/bench`, {}],
  ["Keygate valid key", `${gw.url}/bench`, { "X-API-Key": created.key }],
  ["Keygate malformed key", `${gw.url}/bench`, { "X-API-Key": malformed }],
  [`Keygate ${manyKeys.length} valid keys`, `${gw.url}/bench`, {}, manyKeys],
];
const results = Object.fromEntries(cases.map(([name]) => [name, []]));
for (const [, url, headers, rotate] of cases) wrk(url, headers, rotate, warmup);
for (let round = 1; round <= rounds; round++) {
  for (const [name, url, headers, rotate] of cases) {
    results[name].push(wrk(url, headers, rotate));
  }
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = {};
console.log(`\nwrk -t2 -c${connections} -d${duration} after a ${warmup} warm-up, ${rounds} rounds, median of each figure\n`);
console.log("case                      req/s     p50 ms   p99 ms   non-2xx");
for (const [name] of cases) {
  const runs = results[name];
  const row = {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: median(runs.map((r) => r.non2xx)),
  };
  summary[name] = row;
  console.log(
    `${name.padEnd(24)} ${row.rps.toFixed(0).padStart(7)} ${row.p50.toFixed(2).padStart(9)} ${row.p99.toFixed(2).padStart(8)} ${String(row.non2xx).padStart(9)}`,
  );
}
// Each ratio is taken within a round (the same minute of the same machine)
// and the median of those is reported, so a noisy neighbour moves it less.
const ratio = (name) =>
  median(results[name].map((run, round) => run.rps / results["pass-through Worker"][round].rps));
const manyName = `Keygate ${manyKeys.length} valid keys`;
console.log(`\nKeygate valid / pass-through:     ${ratio("Keygate valid key").toFixed(2)}x  (target >= 0.6x)`);
console.log(`Keygate malformed / pass-through: ${ratio("Keygate malformed key").toFixed(2)}x  (target >= 1.0x)`);
console.log(`${manyName} / pass-through: ${ratio(manyName).toFixed(2)}x`);
console.log("(each the median of the per-round ratios)");
await gw.stop();
await passthrough.dispose();
await origin.stop();
