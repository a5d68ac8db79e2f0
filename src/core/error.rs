//! The one error type: every refusal Keygate gives, with its HTTP status,
//! `code`, title and headers, rendered as RFC 9457 `application/problem+json`.
//!
//! A status is chosen here and nowhere else.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// Every way a request can be refused, at the edge or on the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Denial {
    #[error("the request carries two different API keys")]
    AmbiguousCredentials,
    #[error("{detail}")]
    BadRequest { detail: String },
    #[error("no API key was sent (Authorization: Bearer, ApiKey or X-API-Key)")]
    MissingKey,
    #[error("the API key is not well formed or its checksum does not match")]
    MalformedKey,
    #[error("the API key is unknown, revoked or rolled out")]
    InvalidKey,
    #[error("the API key has expired")]
    ExpiredKey,
    #[error("{detail}")]
    InvalidSignature { detail: String },
    #[error("requests must use HTTPS")]
    HttpsRequired,
    #[error("{detail}")]
    DomainNotAllowed { detail: String },
    #[error("this request needs the scope `{required_scope}`")]
    InsufficientScope { required_scope: String },
    #[error("the API key is disabled")]
    KeyDisabled,
    #[error("the key's rate limit is reached; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the key has no credits left for this request")]
    CreditsExhausted { retry_after_seconds: Option<u64> },
    #[error("the origin could not be reached")]
    OriginUnreachable,
    #[error("the key store is unavailable; the request was refused")]
    StoreUnavailable,
    #[error("the origin did not answer in time")]
    OriginTimeout,
    #[error("configuration variable {variable} is invalid: {reason}")]
    ConfigInvalid { variable: String, reason: String },
    #[error("a valid admin token or admin API key is required")]
    Unauthorized { credential_sent: bool },
    #[error("{detail}")]
    Forbidden { detail: String },
    #[error("{detail}")]
    NotFound { detail: String },
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    #[error("the owner already holds {limit} keys, the most allowed")]
    KeyLimitReached { limit: u32 },
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: u64 },
}

/// A rendered denial: status, extra headers and the problem+json body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Denial {
    pub fn bad_request(detail: impl Into<String>) -> Denial {
        Denial::BadRequest {
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Denial {
        Denial::NotFound {
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Denial {
        Denial::Forbidden {
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Denial::AmbiguousCredentials | Denial::BadRequest { .. } => 400,
            Denial::MissingKey
            | Denial::MalformedKey
            | Denial::InvalidKey
            | Denial::ExpiredKey
            | Denial::InvalidSignature { .. }
            | Denial::Unauthorized { .. } => 401,
            Denial::HttpsRequired
            | Denial::DomainNotAllowed { .. }
            | Denial::InsufficientScope { .. }
            | Denial::Forbidden { .. } => 403,
            Denial::NotFound { .. } => 404,
            Denial::MethodNotAllowed => 405,
            Denial::KeyLimitReached { .. } => 409,
            Denial::PayloadTooLarge { .. } => 413,
            Denial::KeyDisabled => 423,
            Denial::RateLimited { .. } | Denial::CreditsExhausted { .. } => 429,
            Denial::OriginUnreachable => 502,
            Denial::StoreUnavailable | Denial::ConfigInvalid { .. } => 503,
            Denial::OriginTimeout => 504,
        }
    }

    /// The machine-readable `code` of SPEC section 2's table.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::AmbiguousCredentials => "ambiguous_credentials",
            Denial::BadRequest { .. } => "bad_request",
            Denial::MissingKey => "missing_key",
            Denial::MalformedKey => "malformed_key",
            Denial::InvalidKey => "invalid_key",
            Denial::ExpiredKey => "expired_key",
            Denial::InvalidSignature { .. } => "invalid_signature",
            Denial::HttpsRequired => "https_required",
            Denial::DomainNotAllowed { .. } => "domain_not_allowed",
            Denial::InsufficientScope { .. } => "insufficient_scope",
            Denial::KeyDisabled => "key_disabled",
            Denial::RateLimited { .. } => "rate_limited",
            Denial::CreditsExhausted { .. } => "credits_exhausted",
            Denial::OriginUnreachable => "origin_unreachable",
            Denial::StoreUnavailable => "store_unavailable",
            Denial::OriginTimeout => "origin_timeout",
            Denial::ConfigInvalid { .. } => "config_invalid",
            Denial::Unauthorized { .. } => "unauthorized",
            Denial::Forbidden { .. } => "forbidden",
            Denial::NotFound { .. } => "not_found",
            Denial::MethodNotAllowed => "method_not_allowed",
            Denial::KeyLimitReached { .. } => "key_limit_reached",
            Denial::PayloadTooLarge { .. } => "payload_too_large",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Denial::AmbiguousCredentials => "Ambiguous credentials",
            Denial::BadRequest { .. } => "Bad request",
            Denial::MissingKey => "Missing API key",
            Denial::MalformedKey => "Malformed API key",
            Denial::InvalidKey => "Invalid API key",
            Denial::ExpiredKey => "Expired API key",
            Denial::InvalidSignature { .. } => "Invalid request signature",
            Denial::HttpsRequired => "HTTPS required",
            Denial::DomainNotAllowed { .. } => "Domain not allowed",
            Denial::InsufficientScope { .. } => "Insufficient scope",
            Denial::KeyDisabled => "API key disabled",
            Denial::RateLimited { .. } => "Rate limit exceeded",
            Denial::CreditsExhausted { .. } => "Credits exhausted",
            Denial::OriginUnreachable => "Origin unreachable",
            Denial::StoreUnavailable => "Key store unavailable",
            Denial::OriginTimeout => "Origin timeout",
            Denial::ConfigInvalid { .. } => "Invalid configuration",
            Denial::Unauthorized { .. } => "Unauthorized",
            Denial::Forbidden { .. } => "Forbidden",
            Denial::NotFound { .. } => "Not found",
            Denial::MethodNotAllowed => "Method not allowed",
            Denial::KeyLimitReached { .. } => "Key limit reached",
            Denial::PayloadTooLarge { .. } => "Payload too large",
        }
    }

    /// Whether the request sent a credential that was examined (RFC 6750 3.1:
    /// a 401 names `invalid_token` only then).
    fn credential_was_sent(&self) -> bool {
        match self {
            Denial::MissingKey => false,
            Denial::Unauthorized { credential_sent } => *credential_sent,
            _ => true,
        }
    }

    /// The `WWW-Authenticate` value of SPEC section 2, for the statuses that carry one.
    pub fn www_authenticate(&self) -> Option<String> {
        const REALM: &str = "Bearer realm=\"keygate\"";
        match self {
            Denial::AmbiguousCredentials => Some(format!("{REALM}, error=\"invalid_request\"")),
            Denial::InsufficientScope { required_scope } => Some(format!(
                "{REALM}, error=\"insufficient_scope\", scope=\"{required_scope}\""
            )),
            d if d.status() == 401 && d.credential_was_sent() => {
                Some(format!("{REALM}, error=\"invalid_token\""))
            }
            d if d.status() == 401 => Some(REALM.to_string()),
            _ => None,
        }
    }

    /// Seconds for `Retry-After`, when the client should come back later.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Denial::RateLimited {
                retry_after_seconds,
            } => Some((*retry_after_seconds).max(1)),
            Denial::CreditsExhausted {
                retry_after_seconds,
            } => retry_after_seconds.map(|s| s.max(1)),
            _ => None,
        }
    }

    /// Renders the RFC 9457 problem with this request's id.
    pub fn to_problem(&self, request_id: &str) -> Problem {
        let mut body = json!({
            "type": format!("urn:keygate:problem:{}", self.code()),
            "title": self.title(),
            "status": self.status(),
            "detail": self.to_string(),
            "code": self.code(),
            "request_id": request_id,
        });
        match self {
            Denial::InsufficientScope { required_scope } => {
                body["required_scope"] = json!(required_scope);
            }
            Denial::ConfigInvalid { variable, .. } => body["variable"] = json!(variable),
            _ => {}
        }
        let mut headers = vec![("X-Request-Id", request_id.to_string())];
        if let Some(value) = self.www_authenticate() {
            headers.push(("WWW-Authenticate", value));
        }
        if let Some(seconds) = self.retry_after_seconds() {
            headers.push(("Retry-After", seconds.to_string()));
        }
        Problem {
            status: self.status(),
            headers,
            body: body.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC section 2's status/code table, row by row.
    #[test]
    fn statuses_and_codes_follow_the_spec_table() {
        let table: Vec<(Denial, u16, &str)> = vec![
            (Denial::AmbiguousCredentials, 400, "ambiguous_credentials"),
            (Denial::bad_request("x"), 400, "bad_request"),
            (Denial::MissingKey, 401, "missing_key"),
            (Denial::MalformedKey, 401, "malformed_key"),
            (Denial::InvalidKey, 401, "invalid_key"),
            (Denial::ExpiredKey, 401, "expired_key"),
            (
                Denial::InvalidSignature { detail: "x".into() },
                401,
                "invalid_signature",
            ),
            (Denial::HttpsRequired, 403, "https_required"),
            (
                Denial::DomainNotAllowed { detail: "x".into() },
                403,
                "domain_not_allowed",
            ),
            (
                Denial::InsufficientScope {
                    required_scope: "read:all".into(),
                },
                403,
                "insufficient_scope",
            ),
            (Denial::KeyDisabled, 423, "key_disabled"),
            (
                Denial::RateLimited {
                    retry_after_seconds: 1,
                },
                429,
                "rate_limited",
            ),
            (
                Denial::CreditsExhausted {
                    retry_after_seconds: None,
                },
                429,
                "credits_exhausted",
            ),
            (Denial::OriginUnreachable, 502, "origin_unreachable"),
            (Denial::StoreUnavailable, 503, "store_unavailable"),
            (Denial::OriginTimeout, 504, "origin_timeout"),
            (
                Denial::Unauthorized {
                    credential_sent: false,
                },
                401,
                "unauthorized",
            ),
            (Denial::forbidden("x"), 403, "forbidden"),
            (Denial::not_found("x"), 404, "not_found"),
            (
                Denial::KeyLimitReached { limit: 2 },
                409,
                "key_limit_reached",
            ),
            (
                Denial::PayloadTooLarge { limit_bytes: 1 },
                413,
                "payload_too_large",
            ),
        ];
        for (denial, status, code) in table {
            assert_eq!(denial.status(), status, "{denial:?}");
            assert_eq!(denial.code(), code, "{denial:?}");
            let problem = denial.to_problem("req_1");
            let body: serde_json::Value = serde_json::from_str(&problem.body).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["code"], code);
            assert_eq!(body["request_id"], "req_1");
            for member in ["type", "title", "detail"] {
                assert!(body[member].is_string(), "{code} lacks {member}");
            }
        }
    }

    #[test]
    fn www_authenticate_follows_rfc_6750() {
        assert_eq!(
            Denial::MissingKey.www_authenticate().as_deref(),
            Some("Bearer realm=\"keygate\"")
        );
        assert_eq!(
            Denial::InvalidKey.www_authenticate().as_deref(),
            Some("Bearer realm=\"keygate\", error=\"invalid_token\"")
        );
        assert_eq!(
            Denial::AmbiguousCredentials.www_authenticate().as_deref(),
            Some("Bearer realm=\"keygate\", error=\"invalid_request\"")
        );
        assert_eq!(
            Denial::InsufficientScope {
                required_scope: "read:datasets/prices".into()
            }
            .www_authenticate()
            .as_deref(),
            Some(
                "Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"read:datasets/prices\""
            )
        );
        assert_eq!(Denial::KeyDisabled.www_authenticate(), None);
        assert_eq!(
            Denial::Unauthorized {
                credential_sent: false
            }
            .www_authenticate()
            .as_deref(),
            Some("Bearer realm=\"keygate\"")
        );
    }

    #[test]
    fn insufficient_scope_names_the_scope_in_body() {
        let problem = Denial::InsufficientScope {
            required_scope: "write:all".into(),
        }
        .to_problem("r");
        let body: serde_json::Value = serde_json::from_str(&problem.body).unwrap();
        assert_eq!(body["required_scope"], "write:all");
        assert!(body["detail"].as_str().unwrap().contains("write:all"));
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let problem = Denial::RateLimited {
            retry_after_seconds: 0,
        }
        .to_problem("r");
        assert!(problem.headers.contains(&("Retry-After", "1".to_string())));
        let no_refill = Denial::CreditsExhausted {
            retry_after_seconds: None,
        }
        .to_problem("r");
        assert!(
            no_refill
                .headers
                .iter()
                .all(|(name, _)| *name != "Retry-After")
        );
    }

    #[test]
    fn denials_cross_the_durable_object_boundary_intact() {
        let denial = Denial::InsufficientScope {
            required_scope: "read:all".into(),
        };
        let text = serde_json::to_string(&denial).unwrap();
        assert!(text.contains("\"code\":\"insufficient_scope\""));
        assert_eq!(serde_json::from_str::<Denial>(&text).unwrap(), denial);
    }
}
