//! Credits (SPEC section 2 step 8): a usage allowance with an optional periodic refill.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refill {
    pub amount: u64,
    pub interval_seconds: u64,
}

/// The live allowance of one key, kept in its Durable Object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credits {
    pub remaining: u64,
    pub refill: Option<Refill>,
    /// How many refills since creation have been applied.
    #[serde(default)]
    pub refills_applied: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOutcome {
    Spent {
        remaining: u64,
    },
    /// Not enough; `retry_after_seconds` until the next refill when there is one.
    Exhausted {
        retry_after_seconds: Option<u64>,
    },
}

impl Credits {
    /// Applies every refill due since `created_ms` (each sets `remaining` to `amount`).
    pub fn apply_refills(&mut self, created_ms: u64, now_ms: u64) {
        todo!("{created_ms}{now_ms}")
    }

    /// Takes `cost` if that much remains (after applying due refills); never goes below zero.
    pub fn try_spend(&mut self, cost: u64, created_ms: u64, now_ms: u64) -> SpendOutcome {
        todo!("{cost}{created_ms}{now_ms}")
    }
}
