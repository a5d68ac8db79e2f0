// What the benchmarks share: a plain JS Worker in local workerd, and wrk
// runs read back as requests/s, p50/p99 latency (ms) and non-2xx answers.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Serves bench/<file> in its own local workerd; resolves to its URL and a stop function. */
export async function startJsWorker(file, { bindings, durableObjects }) {
  const worker = new Miniflare(
    convertV4MiniflareOptions({
      modules: [{ type: "ESModule", path: path.join(here, file) }],
      modulesRoot: here,
      compatibilityDate: "2026-11-01",
      bindings,
      durableObjects,
      cf: false,
      port: 0,
    }),
  );
  const url = (await worker.ready).toString().replace(/\/$/, "");
  return { url, stop: () => worker.dispose() };
}

/** `rotateKeys`: send each request with the next of these keys (bench/rotate_keys.lua). */
export function wrk(url, { headers = {}, rotateKeys = null, seconds, connections }) {
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

/** A key on `gw` that the rate limit never stops (1,000,000 per second); resolves to its plaintext. */
export async function benchKey(gw, name) {
  return (await gw.createKey({ owner: "bench", name, rate_limit: { limit: 1000000, period_seconds: 1 } })).key;
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Runs every case once unmeasured (`warmup`), then `rounds` rounds of all
 * cases; returns each case's runs. Each round starts one case further on, so
 * every case follows every other equally often and none is always measured
 * just after the heaviest. Cases are [name, url, wrk options].
 */
export function runRounds(cases, { rounds, seconds, warmup, connections }) {
  for (const [, url, options] of cases) wrk(url, { ...options, seconds: warmup, connections });
  const results = Object.fromEntries(cases.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < cases.length; turn++) {
      const [name, url, options] = cases[(round + turn) % cases.length];
      results[name].push(wrk(url, { ...options, seconds, connections }));
    }
  }
  return results;
}

/**
 * The median over rounds of `name`'s throughput over `base`'s: each ratio is
 * taken within a round (the same minute of the same machine), so a noisy
 * neighbour moves it less than a ratio of medians.
 */
export const ratio = (results, name, base) =>
  median(results[name].map((run, round) => run.rps / results[base][round].rps));
