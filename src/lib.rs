//! Keygate: API-key authentication at the edge.
//!
//! `core` is pure logic tested natively; `edge`, `admin` and `store` are the
//! Worker glue, compiled only for wasm32.

pub mod core;
