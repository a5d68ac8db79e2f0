//! The allow/deny decision for one request against one key (SPEC section 2,
//! steps 3-8). The key's Durable Object calls this with the key's state and
//! the request's facts; the order of the checks is the SPEC's order.

use serde::{Deserialize, Serialize};

use crate::core::credits::{Credits, SpendOutcome};
use crate::core::domains;
use crate::core::error::Denial;
use crate::core::key_format::KeyKind;
use crate::core::ratelimit::{RateLimit, RateLimiter};
use crate::core::record::KeyRecord;
use crate::core::routes::Requirement;
use crate::core::scopes;
use crate::core::signature;

/// The request, as the edge saw it, reduced to what the decision needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    pub presented_hash: String,
    pub method: String,
    /// Path and query exactly as sent (`/v1/x?b=2&a=1`).
    pub target: String,
    /// The host of `Origin`, else `Referer`; `None` when neither is usable.
    pub origin_host: Option<String>,
    pub requirement: Requirement,
    /// `None` when signatures are not checked (the verify endpoint).
    pub signature: Option<SignatureFacts>,
    pub now_ms: u64,
    /// Set when an owner's admin key verifies: another owner's key is then
    /// unknown, and checking it costs that key nothing.
    #[serde(default)]
    pub confined_to_owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFacts {
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub body_sha256: String,
}

/// Which of a key's secrets the request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    Current,
    /// The pre-roll secret, still inside its grace period.
    Previous,
}

/// Everything stored about one key besides its live counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    pub record: KeyRecord,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub hash: String,
    pub sealed_signing_secret: Option<String>,
    pub previous: Option<PreviousSecret>,
}

/// The secret a roll replaced, honoured until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub hash: String,
    pub until_ms: u64,
    pub sealed_signing_secret: Option<String>,
}

impl StoredKey {
    pub fn presented(&self, hash: &str, now_ms: u64) -> Option<Presented> {
        if self.hash == hash {
            return Some(Presented::Current);
        }
        self.previous
            .as_ref()
            .filter(|p| p.hash == hash && now_ms < p.until_ms)
            .map(|_| Presented::Previous)
    }

    /// The sealed signing secret that goes with the presented key.
    pub fn sealed_secret_for(&self, presented: Presented) -> Option<&str> {
        match presented {
            Presented::Current => self.sealed_signing_secret.as_deref(),
            Presented::Previous => self
                .previous
                .as_ref()
                .and_then(|p| p.sealed_signing_secret.as_deref()),
        }
    }
}

/// The counters that change on every request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveState {
    pub limiter: RateLimiter,
    pub credits: Option<Credits>,
    pub last_used_ms: Option<u64>,
}

/// The figures behind the `RateLimit` and `RateLimit-Policy` headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateHeaders {
    pub policy: String,
    pub limit: u32,
    pub period_seconds: u64,
    pub remaining: u32,
    pub reset_seconds: u64,
}

impl RateHeaders {
    pub fn new(
        policy: String,
        limit: RateLimit,
        remaining: u32,
        reset_seconds: u64,
    ) -> RateHeaders {
        RateHeaders {
            policy,
            limit: limit.limit,
            period_seconds: limit.period_seconds,
            remaining,
            reset_seconds,
        }
    }

    pub fn policy_header(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.policy, self.limit, self.period_seconds
        )
    }

    pub fn ratelimit_header(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.policy, self.remaining, self.reset_seconds
        )
    }
}

/// Who the allowed request is, for the origin's identity headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub key_id: String,
    pub owner: String,
    pub kind: KeyKind,
    pub scopes: Vec<String>,
}

/// The decision and everything the edge needs to answer or proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub denial: Option<Denial>,
    /// Set once the key is identified (every response after that carries the headers).
    pub identity: Option<Identity>,
    pub ratelimit: Option<RateHeaders>,
    pub credits_remaining: Option<u64>,
    /// The request's signature, to remember against replays (allowed requests only).
    pub accepted_signature: Option<String>,
    /// The key names domains and the request's is not one of them: its
    /// origin is never echoed, whichever check refused the request. Absent
    /// (false) in answers from an object still on the previous version.
    #[serde(default)]
    pub origin_refused: bool,
}

impl Verdict {
    pub fn unidentified(denial: Denial) -> Verdict {
        Verdict {
            denial: Some(denial),
            identity: None,
            ratelimit: None,
            credits_remaining: None,
            accepted_signature: None,
            origin_refused: false,
        }
    }

    /// The usage outcome: `allowed` or the denial's code.
    pub fn outcome(&self) -> &'static str {
        self.denial.as_ref().map_or("allowed", Denial::code)
    }
}

/// The key's policy inputs the Durable Object resolves before deciding.
pub struct Policy<'a> {
    pub rate_policy: String,
    pub rate_limit: RateLimit,
    /// The opened signing secret for the presented key, when it requires signatures.
    pub signing_secret: Option<&'a str>,
}

/// Decides one request. Mutates `live` only for an allowed request (denials
/// cost nothing and do not count in the window).
pub fn decide(
    key: &StoredKey,
    live: &mut LiveState,
    facts: &RequestFacts,
    policy: &Policy<'_>,
    already_seen: impl Fn(&str) -> bool,
) -> Verdict {
    let Some(_presented) = key.presented(&facts.presented_hash, facts.now_ms) else {
        return Verdict::unidentified(Denial::InvalidKey);
    };
    let record = &key.record;
    if facts
        .confined_to_owner
        .as_deref()
        .is_some_and(|owner| owner != record.owner)
    {
        return Verdict::unidentified(Denial::InvalidKey);
    }
    let identity = Identity {
        key_id: record.id.clone(),
        owner: record.owner.clone(),
        kind: record.kind,
        scopes: record.scopes.clone(),
    };
    let now = facts.now_ms;
    if let Some(credits) = live.credits.as_mut() {
        credits.apply_refills(key.created_ms, now);
    }
    let origin_allowed = record.allowed_domains.is_empty()
        || facts
            .origin_host
            .as_deref()
            .is_some_and(|host| domains::domain_allowed(&record.allowed_domains, host));
    let deny = |denial: Denial, live: &LiveState| {
        let peek = live.limiter.peek(policy.rate_limit, now);
        Verdict {
            denial: Some(denial),
            identity: Some(identity.clone()),
            ratelimit: Some(rate_headers(policy, peek.remaining, peek.reset_seconds)),
            credits_remaining: live.credits.map(|c| c.remaining),
            accepted_signature: None,
            origin_refused: !origin_allowed,
        }
    };

    if key.expires_ms.is_some_and(|at| at <= now) {
        return deny(Denial::ExpiredKey, live);
    }
    if !record.enabled {
        return deny(Denial::KeyDisabled, live);
    }
    if !origin_allowed {
        let detail = match &facts.origin_host {
            Some(host) => format!("requests from `{host}` are not allowed for this key"),
            None => "this key is restricted to named domains; send an Origin or Referer header"
                .to_string(),
        };
        return deny(Denial::DomainNotAllowed { detail }, live);
    }
    if !scopes::grants(&record.scopes, &facts.requirement.scope) {
        return deny(
            Denial::InsufficientScope {
                required_scope: facts.requirement.scope.clone(),
            },
            live,
        );
    }
    let mut accepted_signature = None;
    if let (true, Some(signed)) = (record.require_signature, facts.signature.as_ref()) {
        let secrets: Vec<&str> = policy.signing_secret.into_iter().collect();
        let checked = signature::verify_request_signature(
            &secrets,
            signed.timestamp.as_deref(),
            signed.signature.as_deref(),
            &facts.method,
            &facts.target,
            &signed.body_sha256,
            now / 1000,
        );
        let detail = match checked {
            Ok(sig) if !already_seen(&sig) => {
                accepted_signature = Some(sig);
                None
            }
            Ok(_) => Some("this signature was already used; sign each request afresh".to_string()),
            Err(error) => Some(error.to_string()),
        };
        if let Some(detail) = detail {
            return deny(Denial::InvalidSignature { detail }, live);
        }
    }

    // The limit is decided first (SPEC order: rate limit, then credits), on a
    // copy, so a request refused for credits never takes a slot in the
    // window; credits are spent only once admitted.
    let mut limiter = live.limiter.clone();
    let rate = limiter.try_admit(policy.rate_limit, now);
    let ratelimit = Some(rate_headers(policy, rate.remaining, rate.reset_seconds));
    if !rate.admitted {
        return Verdict {
            denial: Some(Denial::RateLimited {
                retry_after_seconds: rate.retry_after_seconds.max(1),
            }),
            identity: Some(identity),
            ratelimit,
            credits_remaining: live.credits.map(|c| c.remaining),
            accepted_signature: None,
            origin_refused: false,
        };
    }
    let cost = u64::from(facts.requirement.cost);
    let mut credits_after = live.credits;
    if let Some(credits) = credits_after.as_mut()
        && let SpendOutcome::Exhausted {
            retry_after_seconds,
        } = credits.try_spend(cost, key.created_ms, now)
    {
        return deny(
            Denial::CreditsExhausted {
                retry_after_seconds,
            },
            live,
        );
    }
    live.limiter = limiter;
    live.credits = credits_after;
    live.last_used_ms = Some(now);
    Verdict {
        denial: None,
        identity: Some(identity),
        ratelimit,
        credits_remaining: live.credits.map(|c| c.remaining),
        accepted_signature,
        origin_refused: false,
    }
}

fn rate_headers(policy: &Policy<'_>, remaining: u32, reset_seconds: u64) -> RateHeaders {
    RateHeaders::new(
        policy.rate_policy.clone(),
        policy.rate_limit,
        remaining,
        reset_seconds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::credits::Refill;
    use crate::core::hashing::sha256_hex;
    use crate::core::record::CreditsSpec;

    const NOW: u64 = 1_800_000_000_000;

    fn key(scopes: &[&str]) -> StoredKey {
        StoredKey {
            record: KeyRecord {
                id: "key_1".into(),
                owner: "acme".into(),
                name: String::new(),
                description: String::new(),
                kind: KeyKind::Secret,
                prefix: "kg_sk_abcd".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                allowed_domains: Vec::new(),
                rate_limit: None,
                credits: None,
                plan: None,
                expires_at: None,
                enabled: true,
                require_signature: false,
                metadata: serde_json::Map::new(),
                created_at: String::new(),
                updated_at: String::new(),
                last_used_at: None,
            },
            created_ms: NOW - 10_000,
            expires_ms: None,
            hash: "current".into(),
            sealed_signing_secret: None,
            previous: None,
        }
    }

    fn facts(method: &str, scope: &str) -> RequestFacts {
        RequestFacts {
            presented_hash: "current".into(),
            method: method.into(),
            target: "/v1/x".into(),
            origin_host: None,
            requirement: Requirement {
                scope: scope.into(),
                cost: 1,
            },
            signature: Some(SignatureFacts {
                timestamp: None,
                signature: None,
                body_sha256: sha256_hex(b""),
            }),
            now_ms: NOW,
            confined_to_owner: None,
        }
    }

    fn policy(limit: u32) -> Policy<'static> {
        Policy {
            rate_policy: "default".into(),
            rate_limit: RateLimit {
                limit,
                period_seconds: 1,
            },
            signing_secret: None,
        }
    }

    fn never_seen(_: &str) -> bool {
        false
    }

    /// Live state holding `remaining` credits without refill.
    fn with_credits(remaining: u64) -> LiveState {
        LiveState {
            credits: Some(
                CreditsSpec {
                    remaining,
                    refill: None,
                }
                .into_credits(NOW, NOW),
            ),
            ..LiveState::default()
        }
    }

    fn code(verdict: &Verdict) -> &'static str {
        verdict.outcome()
    }

    #[test]
    fn allows_and_counts_a_good_request() {
        let mut live = LiveState::default();
        let verdict = decide(
            &key(&["read:all"]),
            &mut live,
            &facts("GET", "read:all"),
            &policy(12),
            never_seen,
        );
        assert_eq!(code(&verdict), "allowed");
        let rate = verdict.ratelimit.unwrap();
        assert_eq!((rate.limit, rate.remaining), (12, 11));
        assert_eq!(rate.policy_header(), "\"default\";q=12;w=1");
        assert_eq!(live.last_used_ms, Some(NOW));
        assert_eq!(verdict.identity.unwrap().owner, "acme");
    }

    #[test]
    fn another_owners_key_is_unknown_to_a_confined_check_and_costs_nothing() {
        let mut live = with_credits(1);
        let before = live.clone();
        let mut f = facts("GET", "read:all");
        f.confined_to_owner = Some("someone-else".into());
        let verdict = decide(&key(&["read:all"]), &mut live, &f, &policy(1), never_seen);
        assert_eq!(code(&verdict), "invalid_key");
        assert!(verdict.identity.is_none());
        assert_eq!(live, before, "no slot, no credit, no last use");
        f.confined_to_owner = Some("acme".into());
        let own = decide(&key(&["read:all"]), &mut live, &f, &policy(1), never_seen);
        assert_eq!(code(&own), "allowed");
    }

    #[test]
    fn an_unknown_or_rolled_out_hash_is_invalid_and_unidentified() {
        let mut live = LiveState::default();
        let mut f = facts("GET", "read:all");
        f.presented_hash = "other".into();
        let verdict = decide(&key(&["read:all"]), &mut live, &f, &policy(12), never_seen);
        assert_eq!(code(&verdict), "invalid_key");
        assert!(verdict.identity.is_none() && verdict.ratelimit.is_none());
    }

    #[test]
    fn the_previous_hash_works_only_within_its_grace() {
        let mut stored = key(&["read:all"]);
        stored.previous = Some(PreviousSecret {
            hash: "old".into(),
            until_ms: NOW + 1,
            sealed_signing_secret: None,
        });
        let mut f = facts("GET", "read:all");
        f.presented_hash = "old".into();
        let mut live = LiveState::default();
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(12), never_seen)),
            "allowed"
        );
        f.now_ms = NOW + 1;
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(12), never_seen)),
            "invalid_key"
        );
    }

    #[test]
    fn status_checks_come_before_scope_and_carry_rate_headers() {
        let mut stored = key(&["read:all"]);
        stored.record.enabled = false;
        let mut live = LiveState::default();
        let verdict = decide(
            &stored,
            &mut live,
            &facts("POST", "write:all"),
            &policy(12),
            never_seen,
        );
        assert_eq!(code(&verdict), "key_disabled");
        assert_eq!(
            verdict.ratelimit.unwrap().remaining,
            12,
            "a denial takes no slot"
        );
        stored.expires_ms = Some(NOW);
        assert_eq!(
            code(&decide(
                &stored,
                &mut live,
                &facts("GET", "read:all"),
                &policy(12),
                never_seen
            )),
            "expired_key"
        );
    }

    #[test]
    fn domains_are_checked_against_the_origin_host() {
        let mut stored = key(&["read:all"]);
        stored.record.allowed_domains = vec!["*.example.com".into()];
        let mut live = LiveState::default();
        let mut f = facts("GET", "read:all");
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(12), never_seen)),
            "domain_not_allowed"
        );
        f.origin_host = Some("evil.com".into());
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(12), never_seen)),
            "domain_not_allowed"
        );
        f.origin_host = Some("app.example.com".into());
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(12), never_seen)),
            "allowed"
        );
    }

    #[test]
    fn missing_scope_names_the_required_scope() {
        let mut live = LiveState::default();
        let verdict = decide(
            &key(&["write:all"]),
            &mut live,
            &facts("GET", "read:all"),
            &policy(12),
            never_seen,
        );
        assert_eq!(
            verdict.denial,
            Some(Denial::InsufficientScope {
                required_scope: "read:all".into()
            })
        );
    }

    #[test]
    fn the_limit_admits_exactly_the_limit_then_refuses_with_retry_after() {
        let stored = key(&["read:all"]);
        let mut live = LiveState::default();
        let outcomes: Vec<&str> = (0..10)
            .map(|_| {
                code(&decide(
                    &stored,
                    &mut live,
                    &facts("GET", "read:all"),
                    &policy(5),
                    never_seen,
                ))
            })
            .collect();
        assert_eq!(outcomes.iter().filter(|c| **c == "allowed").count(), 5);
        let refused = decide(
            &stored,
            &mut live,
            &facts("GET", "read:all"),
            &policy(5),
            never_seen,
        );
        match refused.denial {
            Some(Denial::RateLimited {
                retry_after_seconds,
            }) => assert!(retry_after_seconds >= 1),
            other => panic!("expected rate_limited, got {other:?}"),
        }
        assert_eq!(refused.ratelimit.unwrap().remaining, 0);
    }

    #[test]
    fn credits_are_spent_only_by_admitted_requests_and_never_below_zero() {
        let stored = key(&["read:all"]);
        let mut live = with_credits(3);
        for expected in [2, 1, 0] {
            let verdict = decide(
                &stored,
                &mut live,
                &facts("GET", "read:all"),
                &policy(100),
                never_seen,
            );
            assert_eq!(verdict.credits_remaining, Some(expected));
        }
        let exhausted = decide(
            &stored,
            &mut live,
            &facts("GET", "read:all"),
            &policy(100),
            never_seen,
        );
        assert_eq!(code(&exhausted), "credits_exhausted");
        assert_eq!(
            exhausted.ratelimit.unwrap().remaining,
            97,
            "refused for credits: no slot taken"
        );
    }

    #[test]
    fn the_rate_limit_is_decided_before_credits() {
        let stored = key(&["read:all"]);
        let mut live = with_credits(1);
        let request = facts("GET", "read:all");
        assert_eq!(
            decide(&stored, &mut live, &request, &policy(1), never_seen).denial,
            None
        );
        // Both the window and the credits are used up: the limit answers.
        assert_eq!(
            code(&decide(
                &stored,
                &mut live,
                &request,
                &policy(1),
                never_seen
            )),
            "rate_limited"
        );
    }

    #[test]
    fn a_costly_route_takes_its_cost_and_a_refill_resets() {
        let stored = key(&["read:all"]);
        let mut live = LiveState {
            credits: Some(
                CreditsSpec {
                    remaining: 7,
                    refill: Some(Refill {
                        amount: 7,
                        interval_seconds: 60,
                    }),
                }
                .into_credits(stored.created_ms, stored.created_ms),
            ),
            ..LiveState::default()
        };
        let mut f = facts("GET", "read:all");
        f.requirement.cost = 5;
        assert_eq!(
            decide(&stored, &mut live, &f, &policy(100), never_seen).credits_remaining,
            Some(2)
        );
        assert_eq!(
            code(&decide(&stored, &mut live, &f, &policy(100), never_seen)),
            "credits_exhausted"
        );
        f.now_ms = stored.created_ms + 60_000;
        assert_eq!(
            decide(&stored, &mut live, &f, &policy(100), never_seen).credits_remaining,
            Some(2)
        );
    }

    #[test]
    fn signatures_are_required_checked_and_not_replayable() {
        let mut stored = key(&["write:all"]);
        stored.record.require_signature = true;
        let secret = "kg_sig_secret";
        let signing = Policy {
            signing_secret: Some(secret),
            ..policy(100)
        };
        let mut live = LiveState::default();
        let unsigned = facts("POST", "write:all");
        assert_eq!(
            code(&decide(&stored, &mut live, &unsigned, &signing, never_seen)),
            "invalid_signature"
        );

        let body_hash = sha256_hex(b"{}");
        let ts = (NOW / 1000).to_string();
        let sig = signature::sign_request(secret, &ts, "POST", "/v1/x", &body_hash);
        let mut signed = unsigned.clone();
        signed.signature = Some(SignatureFacts {
            timestamp: Some(ts),
            signature: Some(format!("v1={sig}")),
            body_sha256: body_hash,
        });
        let verdict = decide(&stored, &mut live, &signed, &signing, never_seen);
        assert_eq!(code(&verdict), "allowed");
        assert_eq!(verdict.accepted_signature.as_deref(), Some(sig.as_str()));
        let replay = decide(&stored, &mut live, &signed, &signing, |seen| seen == sig);
        assert_eq!(code(&replay), "invalid_signature");

        let mut verify_only = unsigned;
        verify_only.signature = None;
        assert_eq!(
            code(&decide(
                &stored,
                &mut live,
                &verify_only,
                &signing,
                never_seen
            )),
            "allowed"
        );
    }
}
