//! Pure Keygate logic: no `worker` imports, no clock, no I/O.
//!
//! Every function here takes plain data (time included) and returns a value or
//! an error, so it is tested natively with `cargo test`. The Worker glue in
//! `edge`, `admin` and `store` gathers facts, calls in here, and acts.

pub mod config;
pub mod credentials;
pub mod credits;
pub mod decision;
pub mod domains;
pub mod error;
pub mod hashing;
pub mod key_format;
pub mod ratelimit;
pub mod record;
pub mod routes;
pub mod scopes;
pub mod secret_box;
pub mod signature;
pub mod time;
