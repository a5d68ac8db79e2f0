// What the runtime allows: the pass-through Worker, a JS Worker that adds
// one Durable Object RPC, a JS Worker doing all the runtime work Keygate does
// (bench/floor_worker.mjs) and Keygate with a valid key, driven with wrk in
// the same run. Run through `bash bench/floor.sh`; tuned as bench/edge.sh.
import { startOrigin, startGateway } from "../tests/e2e/harness.mjs";
import { benchKey, median, ratio, runRounds, startJsWorker } from "./harness.mjs";

const seconds = process.env.BENCH_DURATION ?? "4s";
const connections = process.env.BENCH_CONNECTIONS ?? "16";
const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
const warmup = process.env.BENCH_WARMUP ?? "3s";

const origin = await startOrigin({ secret: "" });
const floorWorker = (mode) =>
  startJsWorker("floor_worker.mjs", {
    bindings: { ORIGIN_URL: origin.url, MODE: mode },
    durableObjects: { COUNTER: { className: "Counter", useSQLite: true } },
  });
const workers = {
  "pass-through Worker": await startJsWorker("passthrough.mjs", { bindings: { ORIGIN_URL: origin.url } }),
  "JS + object RPC": await floorWorker("object"),
  "JS gateway, no checks": await floorWorker("gateway"),
};
const gw = await startGateway({ originUrl: origin.url });
const key = await benchKey(gw, "bench");

const cases = [
  ...Object.entries(workers).map(([name, worker]) => [name, `${worker.url}/bench`, {}]),
  ["Keygate valid key", `${gw.url}/bench`, { headers: { "X-API-Key": key } }],
];
const results = runRounds(cases, { rounds, seconds, warmup, connections });
console.log(`\nwrk -t2 -c${connections} -d${seconds} after a ${warmup} warm-up, ${rounds} rounds\n`);
console.log("case                      req/s   / pass-through");
for (const [name] of cases) {
  const rps = median(results[name].map((run) => run.rps));
  const share = ratio(results, name, "pass-through Worker");
  console.log(`${name.padEnd(24)} ${rps.toFixed(0).padStart(7)}   ${share.toFixed(2)}x`);
}
console.log("(req/s: the median run; ratios: the median of the per-round ratios)");
await gw.stop();
for (const worker of Object.values(workers)) await worker.stop();
await origin.stop();
