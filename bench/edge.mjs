// Starts the demo origin, a pass-through Worker and Keygate (each in local
// workerd via Miniflare), drives each with wrk in the same run, and prints
// requests/s and p50/p99 latency. Run through `bash bench/edge.sh`.
import { startOrigin, startGateway } from "../tests/e2e/harness.mjs";
import { benchKey, median, ratio, runRounds, startJsWorker } from "./harness.mjs";

const seconds = process.env.BENCH_DURATION ?? "4s";
const connections = process.env.BENCH_CONNECTIONS ?? "16";
// Many short rounds: each ratio is taken within a round, so more rounds give
// a steadier median on a machine whose speed drifts.
const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
// Every target first runs unmeasured for this long, so JIT and wasm tier-up
// (and the pass-through's JS JIT alike) are done before anything is counted.
const warmup = process.env.BENCH_WARMUP ?? "3s";

// The origin does the same work for every case: checking Keygate's
// X-Keygate-Signature-Origin is the origin's cost, not the gateway's.
const origin = await startOrigin({ secret: "" });
const passthrough = await startJsWorker("passthrough.mjs", { bindings: { ORIGIN_URL: origin.url } });
// Each Keygate case gets its own workerd, as the pass-through has its own:
// local workerd's memory and latency tail grow with every request a process
// serves (the plain pass-through's too), so one process serving all three
// cases would be measured with about three times the pass-through's history.
const keygate = () => startGateway({ originUrl: origin.url, vars: { MAX_KEYS_PER_OWNER: "100" } });
const [validGw, malformedGw, manyGw] = [await keygate(), await keygate(), await keygate()];
const validKey = await benchKey(validGw, "bench");
// Refused on its checksum before any storage, so no key need exist for it.
const malformed = validKey.slice(0, -1) + (validKey.endsWith("A") ? "B" : "A");
// One key's requests are serialized by its Durable Object; many keys spread out.
const manyKeys = [];
for (let i = 0; i < Number(connections); i++) manyKeys.push(await benchKey(manyGw, `bench ${i}`));

const cases = [
  ["origin direct", `${origin.url}/bench`, {}],
  ["pass-through Worker", `${passthrough.url}/bench`, {}],
  ["Keygate valid key", `${validGw.url}/bench`, { headers: { "X-API-Key": validKey } }],
  ["Keygate malformed key", `${malformedGw.url}/bench`, { headers: { "X-API-Key": malformed } }],
  [`Keygate ${manyKeys.length} valid keys`, `${manyGw.url}/bench`, { rotateKeys: manyKeys }],
];
const results = runRounds(cases, { rounds, seconds, warmup, connections });
console.log(`\nwrk -t2 -c${connections} -d${seconds} after a ${warmup} warm-up, ${rounds} rounds, median of each figure\n`);
console.log("case                      req/s     p50 ms   p99 ms   non-2xx");
for (const [name] of cases) {
  const runs = results[name];
  const row = {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: median(runs.map((r) => r.non2xx)),
  };
  console.log(
    `${name.padEnd(24)} ${row.rps.toFixed(0).padStart(7)} ${row.p50.toFixed(2).padStart(9)} ${row.p99.toFixed(2).padStart(8)} ${String(row.non2xx).padStart(9)}`,
  );
}
const manyName = `Keygate ${manyKeys.length} valid keys`;
console.log(`\nKeygate valid / pass-through:     ${ratio(results, "Keygate valid key", "pass-through Worker").toFixed(2)}x  (target >= 0.6x)`);
console.log(`Keygate malformed / pass-through: ${ratio(results, "Keygate malformed key", "pass-through Worker").toFixed(2)}x  (target >= 1.0x)`);
console.log(`${manyName} / pass-through: ${ratio(results, manyName, "pass-through Worker").toFixed(2)}x`);
console.log("(each the median of the per-round ratios)");
for (const gw of [validGw, malformedGw, manyGw]) await gw.stop();
await passthrough.stop();
await origin.stop();
