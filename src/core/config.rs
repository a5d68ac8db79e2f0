//! Typed configuration (SPEC section 4), parsed once from the Worker's vars and
//! secrets. A bad value is an error naming the variable; the glue answers every
//! request with 503 `config_invalid` until it is fixed, never letting traffic through.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::core::error::Denial;
use crate::core::ratelimit::RateLimit;
use crate::core::record::CreditsSpec;
use crate::core::routes::RoutePolicy;
use crate::core::secret_box;

/// A plan from `PLANS`: defaults for the keys that name it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default, deserialize_with = "rate_limit_text_or_object")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub credits: Option<CreditsSpec>,
    #[serde(default)]
    pub max_keys: Option<u32>,
}

/// `"100/1s"` or `{"limit": 100, "period_seconds": 1}`.
fn rate_limit_text_or_object<'de, D>(deserializer: D) -> Result<Option<RateLimit>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        Object(RateLimit),
    }
    match Option::<Form>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Form::Object(limit)) => limit.validate().map(Some).map_err(serde::de::Error::custom),
        Some(Form::Text(text)) => RateLimit::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub admin_token: Option<String>,
    pub verify_token: Option<String>,
    pub key_pepper: Option<String>,
    pub origin_secret: Option<String>,
    pub signing_secret_key: Option<[u8; 32]>,
}

/// Tokens shorter than this are easy to guess (see [`Config::warnings`]).
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone)]
pub struct Config {
    pub origin_url: Option<String>,
    pub origin_timeout_ms: u64,
    pub key_prefix: String,
    pub require_https: bool,
    pub max_keys_per_owner: u32,
    pub default_rate_limit: RateLimit,
    pub allow_query_key: bool,
    pub admin_prefix: String,
    pub cors_allowed_origins: Vec<String>,
    pub routes: RoutePolicy,
    pub plans: BTreeMap<String, Plan>,
    pub secrets: Secrets,
}

/// Why the configuration was refused: the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl From<ConfigError> for Denial {
    fn from(error: ConfigError) -> Denial {
        Denial::ConfigInvalid {
            variable: error.variable.to_string(),
            reason: error.reason,
        }
    }
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

impl Config {
    /// Settings that work but should be fixed before production; logged once
    /// per isolate. A short token is a warning rather than a refusal, so a
    /// test setup's token never takes the whole gateway down.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.secrets.key_pepper.is_none() {
            warnings.push("KEY_PEPPER is not set; key hashes fall back to plain SHA-256".into());
        }
        for (name, value) in [
            ("ADMIN_TOKEN", &self.secrets.admin_token),
            ("VERIFY_TOKEN", &self.secrets.verify_token),
        ] {
            if value.as_ref().is_some_and(|v| v.len() < MIN_TOKEN_LEN) {
                warnings.push(format!(
                    "{name} is shorter than {MIN_TOKEN_LEN} characters; use a long random value"
                ));
            }
        }
        warnings
    }

    /// Reads every variable through `lookup` (vars and secrets alike); absent or
    /// empty values take the SPEC's defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let origin_url = get("ORIGIN_URL")
            .map(|url| parse_origin_url(&url))
            .transpose()?;
        let origin_timeout_ms = match get("ORIGIN_TIMEOUT_MS") {
            None => 30_000,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=600_000).contains(ms))
                .ok_or_else(|| {
                    invalid("ORIGIN_TIMEOUT_MS", "must be milliseconds from 1 to 600000")
                })?,
        };
        let key_prefix = get("KEY_PREFIX").unwrap_or_else(|| "kg".to_string());
        if !valid_namespace(&key_prefix) {
            return Err(invalid(
                "KEY_PREFIX",
                "must be 2-16 characters of [a-z][a-z0-9]*",
            ));
        }
        let require_https = parse_bool("REQUIRE_HTTPS", get("REQUIRE_HTTPS"), true)?;
        let max_keys_per_owner = match get("MAX_KEYS_PER_OWNER") {
            None => 2,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid("MAX_KEYS_PER_OWNER", "must be a whole number >= 1"))?,
        };
        let default_rate_limit = match get("DEFAULT_RATE_LIMIT") {
            None => RateLimit {
                limit: 12,
                period_seconds: 1,
            },
            Some(text) => RateLimit::parse(&text).map_err(|e| invalid("DEFAULT_RATE_LIMIT", e))?,
        };
        match get("RATE_LIMIT_MODE").as_deref() {
            None | Some("strict") => {}
            Some(other) => {
                return Err(invalid(
                    "RATE_LIMIT_MODE",
                    format!("`{other}` is not a mode; the only mode is `strict`"),
                ));
            }
        }
        let allow_query_key = parse_bool("ALLOW_QUERY_KEY", get("ALLOW_QUERY_KEY"), false)?;
        let admin_prefix = get("ADMIN_PREFIX").unwrap_or_else(|| "/_keygate".to_string());
        if !valid_admin_prefix(&admin_prefix) {
            return Err(invalid(
                "ADMIN_PREFIX",
                "must start with `/`, not end with `/`, and hold only [A-Za-z0-9._~-] segments",
            ));
        }
        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .map(|text| {
                text.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let routes = match get("ROUTES") {
            None => RoutePolicy::default(),
            Some(json) => RoutePolicy::from_json(&json).map_err(|e| invalid("ROUTES", e))?,
        };
        let plans = match get("PLANS") {
            None => BTreeMap::new(),
            Some(json) => parse_plans(&json)?,
        };
        let signing_secret_key = get("SIGNING_SECRET_KEY")
            .map(|text| secret_box::parse_key(&text))
            .transpose()
            .map_err(|e| invalid("SIGNING_SECRET_KEY", e.to_string()))?;
        let secrets = Secrets {
            admin_token: get("ADMIN_TOKEN"),
            verify_token: get("VERIFY_TOKEN"),
            key_pepper: get("KEY_PEPPER"),
            origin_secret: get("ORIGIN_SECRET"),
            signing_secret_key,
        };
        Ok(Config {
            origin_url,
            origin_timeout_ms,
            key_prefix,
            require_https,
            max_keys_per_owner,
            default_rate_limit,
            allow_query_key,
            admin_prefix,
            cors_allowed_origins,
            routes,
            plans,
            secrets,
        })
    }

    /// The origin to proxy to; the edge cannot run without one.
    pub fn require_origin(&self) -> Result<&str, Denial> {
        self.origin_url
            .as_deref()
            .ok_or_else(|| invalid("ORIGIN_URL", "is required to proxy requests").into())
    }

    /// The secret that signs `X-Keygate-Signature-Origin`; required to proxy.
    pub fn require_origin_secret(&self) -> Result<&str, Denial> {
        self.secrets
            .origin_secret
            .as_deref()
            .ok_or_else(|| invalid("ORIGIN_SECRET", "is required to proxy requests").into())
    }

    /// The AES key for signing secrets; required once a key uses signatures.
    pub fn require_signing_key(&self) -> Result<&[u8; 32], Denial> {
        self.secrets.signing_secret_key.as_ref().ok_or_else(|| {
            invalid(
                "SIGNING_SECRET_KEY",
                "is required for keys with require_signature",
            )
            .into()
        })
    }

    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.get(name)
    }
}

fn parse_origin_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("ORIGIN_URL", "must be an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        return Err(invalid(
            "ORIGIN_URL",
            "must name a host, without query or fragment",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn parse_bool(
    variable: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(
            variable,
            format!("`{other}` is not `true` or `false`"),
        )),
    }
}

/// `KEY_PREFIX`: 2-16 characters, `[a-z][a-z0-9]*`.
pub fn valid_namespace(text: &str) -> bool {
    let mut chars = text.chars();
    (2..=16).contains(&text.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn valid_admin_prefix(prefix: &str) -> bool {
    prefix.len() >= 2
        && prefix.starts_with('/')
        && !prefix.ends_with('/')
        && prefix[1..].split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c))
        })
}

fn parse_plans(json: &str) -> Result<BTreeMap<String, Plan>, ConfigError> {
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    let plans: BTreeMap<String, Plan> = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| invalid("PLANS", format!("at `{}`: {}", e.path(), e.inner())))?;
    for (name, plan) in &plans {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(invalid(
                "PLANS",
                format!("plan name `{name}` must be 1-64 characters of [A-Za-z0-9._-]"),
            ));
        }
        if plan.max_keys == Some(0) {
            return Err(invalid("PLANS", format!("{name}.max_keys must be >= 1")));
        }
        if let Some(credits) = &plan.credits {
            credits
                .validate()
                .map_err(|e| invalid("PLANS", format!("{name}.credits: {e}")))?;
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn empty_environment_takes_the_spec_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.origin_timeout_ms, 30_000);
        assert_eq!(c.key_prefix, "kg");
        assert!(c.require_https);
        assert_eq!(c.max_keys_per_owner, 2);
        assert_eq!(
            c.default_rate_limit,
            RateLimit {
                limit: 12,
                period_seconds: 1
            }
        );
        assert!(!c.allow_query_key);
        assert_eq!(c.admin_prefix, "/_keygate");
        assert!(c.cors_allowed_origins.is_empty());
        assert!(c.plans.is_empty());
        assert!(c.require_origin().is_err());
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases = [
            ("KEY_PREFIX", "K"),
            ("KEY_PREFIX", "1abc"),
            ("KEY_PREFIX", "abcdefghijklmnopq"),
            ("REQUIRE_HTTPS", "yes"),
            ("ALLOW_QUERY_KEY", "1"),
            ("MAX_KEYS_PER_OWNER", "0"),
            ("MAX_KEYS_PER_OWNER", "two"),
            ("ORIGIN_TIMEOUT_MS", "-5"),
            ("ORIGIN_URL", "ftp://x"),
            ("ADMIN_PREFIX", "admin"),
            ("ADMIN_PREFIX", "/_keygate/"),
            ("RATE_LIMIT_MODE", "lenient"),
            ("PLANS", "{\"pro\": {\"rate_limit\": \"fast\"}}"),
            ("PLANS", "{\"pro\": {\"colour\": 1}}"),
            (
                "PLANS",
                "{\"pro\": {\"rate_limit\": {\"limit\": 0, \"period_seconds\": 1}}}",
            ),
            (
                "PLANS",
                "{\"pro\": {\"rate_limit\": {\"limit\": 5, \"period_seconds\": 0}}}",
            ),
            ("PLANS", "[]"),
            ("SIGNING_SECRET_KEY", "c2hvcnQ="),
        ];
        for (variable, value) in cases {
            let error = config(&[(variable, value)]).expect_err(variable);
            assert_eq!(error.variable, variable, "{value}");
            let denial: Denial = error.into();
            assert_eq!(denial.status(), 503);
            assert!(denial.to_string().contains(variable));
        }
    }

    #[test]
    fn weak_settings_are_warnings_not_refusals() {
        let c = config(&[("ADMIN_TOKEN", "short"), ("KEY_PEPPER", "p")]).unwrap();
        let warnings = c.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("ADMIN_TOKEN"));
        let c = config(&[("ADMIN_TOKEN", "0123456789abcdef")]).unwrap();
        assert!(c.warnings()[0].contains("KEY_PEPPER"));
        assert_eq!(c.warnings().len(), 1);
    }

    #[test]
    fn plans_accept_text_and_object_limits() {
        let c = config(&[(
            "PLANS",
            r#"{"pro": {"rate_limit": "100/1s", "credits": {"remaining": 100000, "refill": {"amount": 100000, "interval_seconds": 86400}}, "max_keys": 10},
                "team": {"rate_limit": {"limit": 5, "period_seconds": 60}}}"#,
        )])
        .unwrap();
        let pro = c.plan("pro").unwrap();
        assert_eq!(
            pro.rate_limit,
            Some(RateLimit {
                limit: 100,
                period_seconds: 1
            })
        );
        assert_eq!(pro.max_keys, Some(10));
        assert_eq!(pro.credits.as_ref().unwrap().remaining, 100_000);
        assert_eq!(
            c.plan("team").unwrap().rate_limit.unwrap().period_seconds,
            60
        );
    }

    #[test]
    fn cors_origins_are_a_comma_list() {
        let c = config(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://App.example.com/, https://b.example.com",
        )])
        .unwrap();
        assert_eq!(
            c.cors_allowed_origins,
            vec!["https://app.example.com", "https://b.example.com"]
        );
    }
}
