// The module the runtime loads: the Worker and Durable Objects that
// worker-build generated from the Rust crate, with the two object classes
// declared as deriving from `DurableObject`, since the runtime only offers
// RPC (`stub.command(json)`, see src/store/mod.rs) to such classes. RPC
// keeps the per-request call to a key's object to one string each way.
import { DurableObject } from "cloudflare:workers";
import worker, { KeyObject, OwnerRegistry } from "../build/index.js";

for (const objectClass of [KeyObject, OwnerRegistry]) {
  Object.setPrototypeOf(objectClass.prototype, DurableObject.prototype);
  Object.setPrototypeOf(objectClass, DurableObject);
}

export { KeyObject, OwnerRegistry };
export default worker;
