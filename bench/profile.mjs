// Where Keygate's CPU goes on the valid-key path: starts the demo origin and
// Keygate (local workerd with the V8 inspector on), drives it with wrk for
// BENCH_DURATION with one valid key, samples the isolate with the V8
// profiler, and prints the functions with the most self time (JS and wasm).
// Run: `make build && node bench/profile.mjs` (PROFILE_TOP sets the rows).
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { startOrigin, startGateway } from "../tests/e2e/harness.mjs";
import { benchKey } from "./harness.mjs";

const duration = process.env.BENCH_DURATION ?? "8s";
const top = Number(process.env.PROFILE_TOP ?? 40);
const inspectorPort = 9230 + Math.floor(Math.random() * 500);

const origin = await startOrigin();
const gw = await startGateway({ originUrl: origin.url, miniflare: { inspectorPort } });
const key = await benchKey(gw, "profile");

const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const target = targets.find((t) => !t.title?.includes("miniflare")) ?? targets[0];
const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
let nextId = 1;
const pending = new Map();
socket.on("message", (data) => {
  const message = JSON.parse(data);
  if (message.id && pending.has(message.id)) {
    pending.get(message.id)(message);
    pending.delete(message.id);
  }
});
const send = (method, params = {}) =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 100 });
await send("Profiler.start");
const out = execFileSync("wrk", ["-t2", "-c16", `-d${duration}`, "-H", `X-API-Key: ${key}`, `${gw.url}/bench`], {
  encoding: "utf8",
});
const { result } = await send("Profiler.stop");
const profile = result.profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const nameOf = (frame) => `${frame.functionName || "(anonymous)"} ${frame.url ? frame.url.split("/").pop() : ""}`.trim();
const selfSamples = new Map();
for (const id of profile.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
const byFunction = new Map();
let total = 0;
for (const [id, count] of selfSamples) {
  const frame = byId.get(id).callFrame;
  const name = nameOf(frame);
  byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  total += count;
}
// Inclusive time: samples with the function anywhere on the stack.
const inclusive = new Map();
for (const [id, count] of selfSamples) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parentOf.get(at)) seen.add(nameOf(byId.get(at).callFrame));
  for (const name of seen) inclusive.set(name, (inclusive.get(name) ?? 0) + count);
}
console.log(`target: ${target.title}; ${/Requests\/sec:\s+([\d.]+)/.exec(out)[1]} req/s under the profiler`);
console.log(`${total} samples; self time by function:`);
for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
}
console.log(`\ninclusive time (the function or what it calls):`);
for (const [name, count] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
}
socket.close();
await gw.stop();
await origin.stop();
