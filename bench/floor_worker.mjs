// For bench/floor.sh: the runtime work a gateway like Keygate cannot skip,
// done in plain JS with no checks at all, so Keygate's figures can be read
// against what the runtime allows. MODE picks how much of it is done:
// - "object": one RPC to a Durable Object, then forward as the pass-through;
// - "gateway": also read the client's headers, build the upstream request
//   (credential removed, six identity headers, an abort timer) and answer
//   with a new response carrying three more headers, as Keygate does.
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  count = 0;

  command(json) {
    this.count += 1;
    return JSON.stringify({ ok: json.length, count: this.count });
  }
}

const IDENTITY = ["Key-Id", "Owner", "Scopes", "Kind", "Request-Id", "Signature-Origin"];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = env.ORIGIN_URL + url.pathname + url.search;
    const counter = env.COUNTER.getByName("bench");
    if (env.MODE === "object") {
      await counter.command("{}");
      return fetch(target, request);
    }
    await counter.command(JSON.stringify(Array.from(request.headers)));
    const upstream = new Request(target, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    });
    upstream.headers.delete("X-API-Key");
    for (const name of IDENTITY) upstream.headers.set(`X-Keygate-${name}`, "bench");
    const answer = await fetch(upstream);
    const response = new Response(answer.body, answer);
    for (const name of ["RateLimit", "RateLimit-Policy", "X-Request-Id"]) response.headers.set(name, "bench");
    return response;
  },
};
