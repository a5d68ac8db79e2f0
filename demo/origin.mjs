// The demo origin: a small HTTP server that echoes what it receives, so you
// can see what Keygate forwards. It verifies X-Keygate-Signature-Origin when
// ORIGIN_SECRET is set (the same check your own origin should make).
//
//   PORT=8788 ORIGIN_SECRET=... node demo/origin.mjs
//
// Paths: anything echoes; /slow?ms=N answers after N ms; /drip?ms=N sends
// its headers at once and then ten body lines over N ms; /status/NNN answers
// with that status; /__demo/requests lists (GET) or clears (DELETE) what was
// received. It listens on 127.0.0.1 only.
import { createServer } from "node:http";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

const secret = process.env.ORIGIN_SECRET || "";
const received = [];
// Only the latest requests are kept, so a long-running demo stays small.
const KEPT = 10000;

/** Checks `t=<unix>,v1=<hex>` over t\nrequest_id\nkey_id\nMETHOD\ntarget. */
export function verifyOriginSignature(headers, method, target, originSecret, nowSeconds = Date.now() / 1000) {
  const header = headers["x-keygate-signature-origin"] || "";
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match || !originSecret) return false;
  const [, t, v1] = match;
  if (Math.abs(nowSeconds - Number(t)) > 300) return false;
  const message = [t, headers["x-keygate-request-id"], headers["x-keygate-key-id"], method, target].join("\n");
  const expected = createHmac("sha256", originSecret).update(message).digest();
  return timingSafeEqual(expected, Buffer.from(v1, "hex"));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://origin");
  if (url.pathname === "/__demo/requests") {
    if (req.method === "DELETE") received.length = 0;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(received));
    return;
  }
  const hash = createHash("sha256");
  let length = 0;
  req.on("data", (chunk) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on("end", () => {
    const seen = {
      method: req.method,
      target: req.url,
      headers: req.headers,
      body_length: length,
      body_sha256: hash.digest("hex"),
      signature_valid: verifyOriginSignature(req.headers, req.method, req.url, secret),
    };
    received.push(seen);
    if (received.length > KEPT) received.splice(0, received.length - KEPT);
    const answer = () => {
      const status = url.pathname.startsWith("/status/") ? Number(url.pathname.slice(8)) || 200 : 200;
      res.writeHead(status, { "content-type": "application/json", "x-demo-origin": "1" });
      res.end(status === 204 || status === 304 ? undefined : JSON.stringify(seen));
    };
    if (url.pathname === "/slow") setTimeout(answer, Number(url.searchParams.get("ms")) || 1000);
    else if (url.pathname === "/drip") drip(res, Number(url.searchParams.get("ms")) || 1000);
    else answer();
  });
});

/** Headers now, then `line 0` .. `line 9` spread over `ms`. */
function drip(res, ms) {
  res.writeHead(200, { "content-type": "text/plain", "x-demo-origin": "1" });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(`line ${sent}\n`);
    if (++sent === 10) {
      clearInterval(timer);
      res.end();
    }
  }, ms / 10);
}

// Keep idle connections open longer than a client (workerd) would reuse them,
// so a reused connection is never closed under a request in flight.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

if (import.meta.url === `file://${process.argv[1]}`) {
  server.listen(Number(process.env.PORT ?? 8788), "127.0.0.1", () => {
    console.log(`demo origin listening on http://127.0.0.1:${server.address().port}`);
  });
}
