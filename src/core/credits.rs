//! Credits (SPEC section 2 step 8): a usage allowance with an optional
//! periodic refill. Every `interval_seconds` after the key's creation,
//! `remaining` is set to `amount` (not added to).

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
    /// A new allowance at `now_ms` for a key created at `created_ms`: the
    /// refills already due count as applied, so the next one is the next due.
    pub fn new(remaining: u64, refill: Option<Refill>, created_ms: u64, now_ms: u64) -> Credits {
        let mut credits = Credits {
            remaining,
            refill,
            refills_applied: 0,
        };
        if let Some(interval) = credits.interval_ms() {
            credits.refills_applied = now_ms.saturating_sub(created_ms) / interval;
        }
        credits
    }

    fn interval_ms(&self) -> Option<u64> {
        self.refill
            .map(|r| r.interval_seconds.saturating_mul(1000))
            .filter(|ms| *ms > 0)
    }

    /// Applies every refill due since `created_ms` (each sets `remaining` to `amount`).
    pub fn apply_refills(&mut self, created_ms: u64, now_ms: u64) {
        let (Some(refill), Some(interval)) = (self.refill, self.interval_ms()) else {
            return;
        };
        let due = now_ms.saturating_sub(created_ms) / interval;
        if due > self.refills_applied {
            self.remaining = refill.amount;
            self.refills_applied = due;
        }
    }

    /// Takes `cost` if that much remains (after applying due refills); never goes below zero.
    pub fn try_spend(&mut self, cost: u64, created_ms: u64, now_ms: u64) -> SpendOutcome {
        self.apply_refills(created_ms, now_ms);
        if self.remaining >= cost {
            self.remaining -= cost;
            return SpendOutcome::Spent {
                remaining: self.remaining,
            };
        }
        let retry_after_seconds = self.interval_ms().map(|interval| {
            let next_refill = created_ms + (self.refills_applied + 1) * interval;
            next_refill.saturating_sub(now_ms).div_ceil(1000).max(1)
        });
        SpendOutcome::Exhausted {
            retry_after_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: u64 = 1_000_000;

    fn credits(remaining: u64, refill: Option<(u64, u64)>) -> Credits {
        Credits {
            remaining,
            refill: refill.map(|(amount, interval_seconds)| Refill {
                amount,
                interval_seconds,
            }),
            refills_applied: 0,
        }
    }

    #[test]
    fn three_credits_three_spends_then_exhausted() {
        let mut c = credits(3, None);
        for left in [2, 1, 0] {
            assert_eq!(
                c.try_spend(1, CREATED, CREATED),
                SpendOutcome::Spent { remaining: left }
            );
        }
        assert_eq!(
            c.try_spend(1, CREATED, CREATED),
            SpendOutcome::Exhausted {
                retry_after_seconds: None
            }
        );
        assert_eq!(c.remaining, 0);
    }

    #[test]
    fn cost_above_remaining_takes_nothing() {
        let mut c = credits(4, None);
        assert!(matches!(
            c.try_spend(5, CREATED, CREATED),
            SpendOutcome::Exhausted { .. }
        ));
        assert_eq!(c.remaining, 4);
        assert_eq!(
            c.try_spend(4, CREATED, CREATED),
            SpendOutcome::Spent { remaining: 0 }
        );
    }

    #[test]
    fn refill_sets_not_adds_and_retry_after_points_at_it() {
        let mut c = credits(2, Some((5, 60)));
        c.try_spend(2, CREATED, CREATED + 1_000);
        assert_eq!(
            c.try_spend(1, CREATED, CREATED + 10_000),
            SpendOutcome::Exhausted {
                retry_after_seconds: Some(50)
            }
        );
        assert_eq!(
            c.try_spend(1, CREATED, CREATED + 60_000),
            SpendOutcome::Spent { remaining: 4 }
        );
        // Unused credits do not accumulate across refills.
        c.apply_refills(CREATED, CREATED + 185_000);
        assert_eq!(c.remaining, 5);
        assert_eq!(c.refills_applied, 3);
        c.apply_refills(CREATED, CREATED + 190_000);
        assert_eq!(c.remaining, 5);
    }

    #[test]
    fn an_allowance_set_later_is_not_overwritten_by_past_refills() {
        let mut c = Credits::new(
            3,
            Some(Refill {
                amount: 10,
                interval_seconds: 60,
            }),
            CREATED,
            CREATED + 600_000,
        );
        assert_eq!(
            c.try_spend(1, CREATED, CREATED + 601_000),
            SpendOutcome::Spent { remaining: 2 }
        );
        assert_eq!(
            c.try_spend(1, CREATED, CREATED + 660_000),
            SpendOutcome::Spent { remaining: 9 }
        );
    }

    #[test]
    fn zero_interval_never_refills_or_panics() {
        let mut c = credits(0, Some((5, 0)));
        assert_eq!(
            c.try_spend(1, CREATED, u64::MAX),
            SpendOutcome::Exhausted {
                retry_after_seconds: None
            }
        );
    }
}
