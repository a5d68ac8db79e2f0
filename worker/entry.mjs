// The module the runtime loads, around what worker-build generated from the
// Rust crate (build/index.js):
// - The two object classes are declared as deriving from `DurableObject`,
//   since the runtime only offers RPC (`stub.command(json)`, see
//   src/store/mod.rs) to such classes; RPC keeps the per-request call to a
//   key's object to one string each way.
// - The Worker is exported as a plain handler object calling the generated
//   `fetch`, so the runtime does not construct an entrypoint instance (and
//   the generated proxies around it) for every request. A panic is still
//   recovered from: the generated glue resets the wasm instance on the next
//   call after one.
// - `queueMicrotask` is a plain promise reaction. wasm-bindgen's executor
//   wakes each Rust future with it (two or three times per proxied request);
//   workerd's native version wraps every callback in a new function, and the
//   promise reaction measured 6-8% more valid-key throughput (A/B runs of the
//   old and new build interleaved with the pass-through; two copies of one
//   build differ by 3%). A callback that throws becomes an unhandled
//   rejection, which the runtime logs.
import { DurableObject } from "cloudflare:workers";
import worker, { KeyObject, OwnerRegistry } from "../build/index.js";

const settled = Promise.resolve();
globalThis.queueMicrotask = (callback) => {
  settled.then(callback);
};

for (const objectClass of [KeyObject, OwnerRegistry]) {
  Object.setPrototypeOf(objectClass.prototype, DurableObject.prototype);
  Object.setPrototypeOf(objectClass, DurableObject);
}

const generatedFetch = worker.prototype.fetch;

export { KeyObject, OwnerRegistry };
export default {
  fetch(request, env, ctx) {
    return generatedFetch.call({ env, ctx }, request);
  },
};
