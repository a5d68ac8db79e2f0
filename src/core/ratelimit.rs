//! Strict rate limiting (SPEC section 2 step 7): in ANY interval of one period,
//! no more than `limit` admissions.
//!
//! A fixed window fails this (a burst at the end of one window and another at
//! the start of the next admit twice the limit within one period), and so does
//! a token bucket (a full bucket plus its refill). Keygate counts admissions
//! in buckets of width `w` and admits a request at time `t` only if fewer than
//! `limit` admissions are counted in the buckets from `floor((t + 1 - P) / w)`
//! on, which hold every admission of the last period `P`; so no interval of
//! length `P` can hold more than `limit` admissions.
//!
//! - Limits up to 256: `w` = 1 ms, an exact sliding log. An admission stops
//!   counting exactly `P` after it; memory is at most `limit` entries.
//! - Larger limits: `w` = `P / 50` (20 ms of a 1 s period), a conservative
//!   sliding window: the oldest, partial bucket counts whole, so an admission
//!   may keep counting up to `w` longer than `P` (under-admission of at most
//!   one sub-bucket, 2% of the period). Memory is at most 51 buckets per key.
//!
//! Only admissions are counted; refusals never take a slot.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The longest period a limit may have (30 days).
pub const MAX_PERIOD_SECONDS: u64 = 30 * 86_400;

/// A limit of `limit` requests per `period_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub limit: u32,
    pub period_seconds: u64,
}

impl RateLimit {
    /// Parses `12/1s`, `1000/1m`, `50000/1d` (units s, m, h, d; the count may
    /// be omitted: `10/s`), in the same ranges as [`RateLimit::validate`].
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let usage =
            || format!("`{text}` is not `<limit>/<period>` such as 12/1s, 1000/1m or 50000/1d");
        let (limit, period) = text.trim().split_once('/').ok_or_else(usage)?;
        let limit: u32 = limit.trim().parse().map_err(|_| usage())?;
        let period = period.trim();
        let unit_at = period.len().checked_sub(1).ok_or_else(usage)?;
        let (count, unit) = period.split_at(unit_at);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| usage())?
        };
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(usage()),
        };
        let period_seconds = count.checked_mul(unit_seconds).ok_or_else(usage)?;
        RateLimit {
            limit,
            period_seconds,
        }
        .validate()
        .map_err(|invalid| format!("`{text}`: {invalid}"))
    }

    /// Checks a limit given as numbers (`{"limit": .., "period_seconds": ..}`).
    pub fn validate(self) -> Result<RateLimit, InvalidRateLimit> {
        if self.limit == 0 {
            return Err(InvalidRateLimit {
                field: "limit",
                rule: "must be >= 1".into(),
            });
        }
        if self.period_seconds == 0 || self.period_seconds > MAX_PERIOD_SECONDS {
            return Err(InvalidRateLimit {
                field: "period_seconds",
                rule: format!("must be from 1 to {MAX_PERIOD_SECONDS}"),
            });
        }
        Ok(self)
    }

    fn period_ms(self) -> u64 {
        self.period_seconds.saturating_mul(1000).max(1)
    }
}

/// Which field of a [`RateLimit`] is out of range, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRateLimit {
    pub field: &'static str,
    pub rule: String,
}

impl std::fmt::Display for InvalidRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.field, self.rule)
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

/// Limits up to this are counted exactly, one bucket per millisecond.
const EXACT_UP_TO: u32 = 256;
/// Sub-buckets per period above that.
const SUB_BUCKETS: u64 = 50;

/// The per-key limiter state, persisted by the key's Durable Object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimiter {
    /// The period and bucket width the buckets were counted for; others start afresh.
    period_ms: u64,
    width_ms: u64,
    /// `(bucket index, admissions)`, oldest first, only non-empty buckets.
    buckets: VecDeque<(u64, u32)>,
}

fn ceil_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// The geometry of one limit: period and bucket width, in ms.
#[derive(Clone, Copy)]
struct Window {
    period: u64,
    width: u64,
}

impl Window {
    fn of(limit: RateLimit) -> Window {
        let period = limit.period_ms();
        let width = if limit.limit <= EXACT_UP_TO {
            1
        } else {
            (period / SUB_BUCKETS).max(1)
        };
        Window { period, width }
    }

    /// The oldest bucket that still counts at `now`.
    fn oldest_counted(self, now: u64) -> u64 {
        (now + 1).saturating_sub(self.period) / self.width
    }

    /// The first instant at which bucket `index` no longer counts.
    fn expiry(self, index: u64) -> u64 {
        (index + 1) * self.width + self.period - 1
    }
}

impl RateLimiter {
    fn counting(&self, window: Window, now_ms: u64) -> impl Iterator<Item = &(u64, u32)> {
        let oldest = window.oldest_counted(now_ms);
        self.buckets
            .iter()
            .filter(move |(index, _)| *index >= oldest)
    }

    fn outcome(&self, limit: RateLimit, now_ms: u64, admitted: bool) -> RateOutcome {
        let window = Window::of(limit);
        let counted: u64 = self
            .counting(window, now_ms)
            .map(|(_, n)| u64::from(*n))
            .sum();
        let reset_seconds = self
            .counting(window, now_ms)
            .next()
            .map_or(0, |(index, _)| {
                ceil_seconds(window.expiry(*index).saturating_sub(now_ms))
            });
        let limit_count = u64::from(limit.limit);
        let retry_after_seconds = if counted < limit_count {
            0
        } else {
            // Wait until enough of the oldest buckets expire to leave one slot.
            let mut left = counted;
            let mut wait_ms = 0;
            for (index, n) in self.counting(window, now_ms) {
                left -= u64::from(*n);
                wait_ms = window.expiry(*index).saturating_sub(now_ms);
                if left < limit_count {
                    break;
                }
            }
            ceil_seconds(wait_ms).max(1)
        };
        RateOutcome {
            admitted,
            remaining: u32::try_from(limit_count.saturating_sub(counted)).unwrap_or(u32::MAX),
            reset_seconds,
            retry_after_seconds,
        }
    }

    /// Admits (and counts) the request at `now_ms` if the limit allows it.
    pub fn try_admit(&mut self, limit: RateLimit, now_ms: u64) -> RateOutcome {
        let window = Window::of(limit);
        if (self.period_ms, self.width_ms) != (window.period, window.width) {
            *self = RateLimiter {
                period_ms: window.period,
                width_ms: window.width,
                buckets: VecDeque::new(),
            };
        }
        // A clock that steps back must not free slots early: time never runs
        // behind the newest counted bucket.
        let newest = self.buckets.back().map_or(0, |(index, _)| *index);
        let current = (now_ms / window.width).max(newest);
        let now_ms = now_ms.max(current * window.width);
        let oldest = window.oldest_counted(now_ms);
        while self
            .buckets
            .front()
            .is_some_and(|(index, _)| *index < oldest)
        {
            self.buckets.pop_front();
        }
        let counted: u64 = self.buckets.iter().map(|(_, n)| u64::from(*n)).sum();
        if counted >= u64::from(limit.limit) {
            return self.outcome(limit, now_ms, false);
        }
        match self.buckets.back_mut() {
            Some((index, n)) if *index == current => *n += 1,
            _ => self.buckets.push_back((current, 1)),
        }
        self.outcome(limit, now_ms, true)
    }

    /// The current figures without counting anything (for responses denied earlier).
    pub fn peek(&self, limit: RateLimit, now_ms: u64) -> RateOutcome {
        let window = Window::of(limit);
        if (self.period_ms, self.width_ms) != (window.period, window.width) {
            return RateLimiter::default().outcome(limit, now_ms, true);
        }
        let outcome = self.outcome(limit, now_ms, true);
        RateOutcome {
            admitted: outcome.remaining > 0,
            ..outcome
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn per_second(limit: u32) -> RateLimit {
        RateLimit {
            limit,
            period_seconds: 1,
        }
    }

    #[test]
    fn parses_the_spec_forms() {
        assert_eq!(RateLimit::parse("12/1s"), Ok(per_second(12)));
        assert_eq!(RateLimit::parse("1000/1m").unwrap().period_seconds, 60);
        assert_eq!(RateLimit::parse("50000/1d").unwrap().period_seconds, 86_400);
        assert_eq!(RateLimit::parse("10/s"), Ok(per_second(10)));
        assert_eq!(RateLimit::parse("100/2h").unwrap().period_seconds, 7_200);
        for bad in [
            "", "12", "0/1s", "12/0s", "12/1x", "a/1s", "12/", "-1/1s", "12/1.5s",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_text_form_has_the_object_forms_period_cap() {
        assert_eq!(
            RateLimit::parse("1/30d").unwrap().period_seconds,
            MAX_PERIOD_SECONDS
        );
        let refused = RateLimit::parse("1/31d").unwrap_err();
        assert!(refused.contains("period_seconds"), "{refused}");
        assert!(RateLimit::parse("1/2592001s").is_err());
    }

    #[test]
    fn ten_at_once_admit_exactly_five_counting_down() {
        let mut limiter = RateLimiter::default();
        let outcomes: Vec<RateOutcome> = (0..10)
            .map(|_| limiter.try_admit(per_second(5), 10_000))
            .collect();
        assert_eq!(outcomes.iter().filter(|o| o.admitted).count(), 5);
        let remaining: Vec<u32> = outcomes.iter().take(5).map(|o| o.remaining).collect();
        assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
        for refused in &outcomes[5..] {
            assert!(!refused.admitted);
            assert_eq!(refused.retry_after_seconds, 1, "{refused:?}");
            assert_eq!(refused.reset_seconds, 1);
        }
    }

    #[test]
    fn the_fixed_window_boundary_burst_is_refused() {
        let mut limiter = RateLimiter::default();
        for _ in 0..5 {
            assert!(limiter.try_admit(per_second(5), 10_990).admitted);
        }
        // A fixed window would reset at 11_000 and admit 5 more.
        assert!(!limiter.try_admit(per_second(5), 11_010).admitted);
        assert!(!limiter.try_admit(per_second(5), 11_989).admitted);
        assert!(
            limiter.try_admit(per_second(5), 11_990).admitted,
            "exactly one period later"
        );
    }

    #[test]
    fn peek_counts_nothing_and_empty_means_zero_reset() {
        let limiter = RateLimiter::default();
        let peek = limiter.peek(per_second(3), 5_000);
        assert_eq!((peek.remaining, peek.reset_seconds), (3, 0));
        let mut limiter = RateLimiter::default();
        limiter.try_admit(per_second(3), 5_000);
        assert_eq!(limiter.peek(per_second(3), 5_000).remaining, 2);
        assert_eq!(limiter.peek(per_second(3), 5_000).remaining, 2);
    }

    #[test]
    fn a_clock_stepping_back_frees_nothing_and_a_new_period_starts_afresh() {
        let mut limiter = RateLimiter::default();
        assert!(limiter.try_admit(per_second(1), 50_000).admitted);
        assert!(!limiter.try_admit(per_second(1), 10_000).admitted);
        let per_minute = RateLimit {
            limit: 1,
            period_seconds: 60,
        };
        assert!(limiter.try_admit(per_minute, 50_000).admitted);
        assert_eq!(limiter.buckets.len(), 1);
    }

    proptest! {
        #[test]
        fn no_interval_of_one_period_holds_more_than_the_limit(
            limit in prop_oneof![1u32..20, 250u32..400],
            period_seconds in 1u64..5,
            gaps in proptest::collection::vec(0u64..60, 1..1500),
        ) {
            let rate = RateLimit { limit, period_seconds };
            let period_ms = period_seconds * 1000;
            let mut limiter = RateLimiter::default();
            let mut now = 1_000_000u64;
            let mut admitted: Vec<u64> = Vec::new();
            for gap in gaps {
                now += gap;
                if limiter.try_admit(rate, now).admitted {
                    admitted.push(now);
                }
            }
            // Every window [s, s + P) starting at an admission holds at most `limit`.
            for (i, start) in admitted.iter().enumerate() {
                let inside = admitted[i..].iter().take_while(|t| **t < start + period_ms).count();
                prop_assert!(inside <= limit as usize, "{} admissions in [{}, +{})", inside, start, period_ms);
            }
            prop_assert!(limiter.buckets.len() <= (limit as usize).min(EXACT_UP_TO as usize).max(SUB_BUCKETS as usize + 1));
        }

        #[test]
        fn after_a_quiet_period_a_request_is_always_admitted(
            limit in 1u32..20,
            burst in 1usize..50,
        ) {
            let rate = per_second(limit);
            let mut limiter = RateLimiter::default();
            for _ in 0..burst {
                limiter.try_admit(rate, 7_000);
            }
            prop_assert!(limiter.try_admit(rate, 7_000 + 1000).admitted);
        }
    }
}

#[cfg(test)]
mod large_limits {
    use super::*;

    #[test]
    fn large_limits_use_bounded_buckets_and_never_over_admit() {
        let rate = RateLimit {
            limit: 1000,
            period_seconds: 1,
        };
        let mut limiter = RateLimiter::default();
        let admitted = (0..3000u64)
            .filter(|i| limiter.try_admit(rate, 50_000 + i / 3).admitted)
            .count();
        assert_eq!(admitted, 1000);
        assert!(limiter.buckets.len() <= SUB_BUCKETS as usize + 1);
        // One period and one sub-bucket later, the window is free again.
        assert!(limiter.try_admit(rate, 50_000 + 1000 + 20).admitted);
    }
}
