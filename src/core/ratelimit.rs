//! Strict rate limiting (SPEC section 2 step 7): in any interval of one period,
//! no more than `limit` admissions.

use serde::{Deserialize, Serialize};

/// A limit of `limit` requests per `period_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub limit: u32,
    pub period_seconds: u64,
}

impl RateLimit {
    /// Parses `12/1s`, `1000/1m`, `50000/1d` (units s, m, h, d; the count may be omitted: `10/s`).
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        todo!("{text}")
    }
}

/// What the limiter says about one request, and the figures for the RateLimit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateOutcome {
    pub admitted: bool,
    /// Admissions left in the current window after this decision.
    pub remaining: u32,
    /// Whole seconds (rounded up) until the oldest counted admission stops counting; 0 when none.
    pub reset_seconds: u64,
    /// For a refusal: whole seconds (>= 1) until one admission is possible.
    pub retry_after_seconds: u64,
}

/// The per-key limiter state, persisted by the key's Durable Object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimiter {}

impl RateLimiter {
    /// Admits (and counts) the request at `now_ms` if the limit allows it.
    pub fn try_admit(&mut self, limit: RateLimit, now_ms: u64) -> RateOutcome {
        todo!("{limit:?}{now_ms}")
    }

    /// The current figures without counting anything (for responses that are denied earlier).
    pub fn peek(&self, limit: RateLimit, now_ms: u64) -> RateOutcome {
        todo!("{limit:?}{now_ms}")
    }
}
