//! The key record (SPEC section 1) and the validation of admin create/patch
//! bodies (SPEC section 3). Nothing here ever holds a plaintext key.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::rust::double_option;

use crate::core::config::Config;
use crate::core::credits::{Credits, Refill};
use crate::core::domains;
use crate::core::error::Denial;
use crate::core::key_format::KeyKind;
use crate::core::ratelimit::RateLimit;
use crate::core::scopes;
use crate::core::time::{parse_rfc3339, rfc3339, rfc3339_ms};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 1000;
const MAX_SCOPES: usize = 64;
const MAX_DOMAINS: usize = 100;
const MAX_METADATA_BYTES: usize = 4096;

/// Credits as the admin API shows and takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditsSpec {
    pub remaining: u64,
    #[serde(default)]
    pub refill: Option<Refill>,
}

impl CreditsSpec {
    pub fn validate(&self) -> Result<(), String> {
        match self.refill {
            Some(refill) if refill.interval_seconds == 0 => {
                Err("refill.interval_seconds must be >= 1".into())
            }
            Some(refill) if refill.amount == 0 => Err("refill.amount must be >= 1".into()),
            _ => Ok(()),
        }
    }

    /// The live allowance, for a key created at `created_ms`, set at `now_ms`.
    pub fn into_credits(self, created_ms: u64, now_ms: u64) -> Credits {
        Credits::new(self.remaining, self.refill, created_ms, now_ms)
    }
}

/// The public record of a key: what GET, list, create and roll show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub description: String,
    pub kind: KeyKind,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub allowed_domains: Vec<String>,
    pub rate_limit: Option<RateLimit>,
    pub credits: Option<CreditsSpec>,
    pub plan: Option<String>,
    pub expires_at: Option<String>,
    pub enabled: bool,
    pub require_signature: bool,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
}

/// Whether a key may be used, as shown in lists and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Disabled,
    Expired,
}

/// The body of `POST /v1/keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub owner: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub kind: Option<KeyKind>,
    pub scopes: Option<Vec<String>>,
    pub allowed_domains: Option<Vec<String>>,
    pub rate_limit: Option<RateLimit>,
    pub credits: Option<CreditsSpec>,
    pub expires_at: Option<String>,
    pub require_signature: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
    pub plan: Option<String>,
}

/// The body of `PATCH /v1/keys/{id}`. `null` clears the nullable settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchKeyRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    pub rate_limit: Option<Option<RateLimit>>,
    #[serde(default, with = "double_option")]
    pub credits: Option<Option<CreditsSpec>>,
    #[serde(default, with = "double_option")]
    pub plan: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub require_signature: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    /// Present only to answer "cannot change" rather than "unknown field".
    #[serde(default)]
    pub owner: Option<Value>,
    #[serde(default)]
    pub kind: Option<Value>,
}

/// Parses a JSON body into `T`, naming the offending field in the 400.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Denial> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Denial::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            Denial::bad_request(format!("invalid body: {inner}"))
        } else {
            Denial::bad_request(format!("`{path}`: {inner}"))
        }
    })
}

/// Validates an owner id: 1-128 characters of `[A-Za-z0-9._:@-]`.
pub fn validate_owner(owner: &str) -> Result<(), Denial> {
    let ok = !owner.is_empty()
        && owner.len() <= 128
        && owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Denial::bad_request(
            "`owner` must be 1-128 characters of [A-Za-z0-9._:@-]",
        ))
    }
}

fn validate_text(field: &str, text: &str, max: usize) -> Result<(), Denial> {
    if text.chars().count() > max {
        return Err(Denial::bad_request(format!(
            "`{field}` must be at most {max} characters"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Denial::bad_request(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(())
}

fn validate_scopes(kind: KeyKind, scopes: Vec<String>) -> Result<Vec<String>, Denial> {
    if scopes.len() > MAX_SCOPES {
        return Err(Denial::bad_request(format!(
            "`scopes` holds at most {MAX_SCOPES} entries"
        )));
    }
    let mut unique: Vec<String> = Vec::with_capacity(scopes.len());
    for (index, scope) in scopes.into_iter().enumerate() {
        scopes::validate_scope(&scope)
            .map_err(|e| Denial::bad_request(format!("`scopes[{index}]`: {e}")))?;
        if kind == KeyKind::Publishable && !scopes::allowed_for_publishable(&scope) {
            return Err(Denial::bad_request(format!(
                "`scopes[{index}]`: a publishable key cannot hold `{scope}` (only read scopes)"
            )));
        }
        if !unique.contains(&scope) {
            unique.push(scope);
        }
    }
    Ok(unique)
}

/// Scopes a key gets when none are given: browsers read, servers read and write.
fn default_scopes(kind: KeyKind) -> Vec<String> {
    match kind {
        KeyKind::Publishable => vec!["read:all".into()],
        KeyKind::Secret => vec!["read:all".into(), "write:all".into(), "delete:all".into()],
    }
}

fn validate_domains(domains: Vec<String>) -> Result<Vec<String>, Denial> {
    if domains.len() > MAX_DOMAINS {
        return Err(Denial::bad_request(format!(
            "`allowed_domains` holds at most {MAX_DOMAINS} entries"
        )));
    }
    let mut unique: Vec<String> = Vec::with_capacity(domains.len());
    for (index, domain) in domains.iter().enumerate() {
        let normalized = domains::normalize_domain_pattern(domain)
            .map_err(|e| Denial::bad_request(format!("`allowed_domains[{index}]`: {e}")))?;
        if !unique.contains(&normalized) {
            unique.push(normalized);
        }
    }
    Ok(unique)
}

fn validate_rate_limit(limit: RateLimit) -> Result<RateLimit, Denial> {
    limit
        .validate()
        .map_err(|e| Denial::bad_request(format!("`rate_limit.{}` {}", e.field, e.rule)))
}

fn validate_credits(credits: CreditsSpec) -> Result<CreditsSpec, Denial> {
    credits
        .validate()
        .map_err(|e| Denial::bad_request(format!("`credits.{e}")))?;
    Ok(credits)
}

/// An expiry must be a future RFC 3339 time; returns it in ms and normalized text.
fn validate_expiry(text: &str, now_ms: u64) -> Result<(u64, String), Denial> {
    let ms = parse_rfc3339(text).map_err(|e| Denial::bad_request(format!("`expires_at`: {e}")))?;
    if ms <= now_ms {
        return Err(Denial::bad_request("`expires_at` must be in the future"));
    }
    Ok((ms, rfc3339_ms(ms)))
}

fn validate_metadata(metadata: Map<String, Value>) -> Result<Map<String, Value>, Denial> {
    if Value::Object(metadata.clone()).to_string().len() > MAX_METADATA_BYTES {
        return Err(Denial::bad_request(format!(
            "`metadata` must serialize to at most {MAX_METADATA_BYTES} bytes"
        )));
    }
    Ok(metadata)
}

fn validate_plan(config: &Config, plan: String) -> Result<String, Denial> {
    if config.plan(&plan).is_none() {
        return Err(Denial::bad_request(format!(
            "`plan`: `{plan}` is not a plan in PLANS"
        )));
    }
    Ok(plan)
}

/// The settings of a new key, validated; the caller adds id, prefix and secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub owner: String,
    pub kind: KeyKind,
    pub record_template: KeyRecord,
    pub expires_ms: Option<u64>,
    pub credits: Option<Credits>,
}

impl CreateKeyRequest {
    /// Validates every field; `owner` is the request's, else the caller's default.
    pub fn validate(
        self,
        default_owner: Option<&str>,
        config: &Config,
        now_ms: u64,
    ) -> Result<NewKey, Denial> {
        let owner = self
            .owner
            .or_else(|| default_owner.map(str::to_string))
            .ok_or_else(|| Denial::bad_request("`owner` is required"))?;
        validate_owner(&owner)?;
        let name = self.name.unwrap_or_default();
        validate_text("name", &name, MAX_NAME)?;
        let description = self.description.unwrap_or_default();
        validate_text("description", &description, MAX_DESCRIPTION)?;
        let kind = self.kind.unwrap_or(KeyKind::Secret);
        let scopes = match self.scopes {
            Some(scopes) if !scopes.is_empty() => validate_scopes(kind, scopes)?,
            _ => default_scopes(kind),
        };
        let allowed_domains = validate_domains(self.allowed_domains.unwrap_or_default())?;
        let rate_limit = self.rate_limit.map(validate_rate_limit).transpose()?;
        let plan = self.plan.map(|p| validate_plan(config, p)).transpose()?;
        let credits_spec = match self.credits {
            Some(credits) => Some(validate_credits(credits)?),
            None => plan
                .as_deref()
                .and_then(|p| config.plan(p))
                .and_then(|p| p.credits.clone()),
        };
        let expiry = self
            .expires_at
            .map(|text| validate_expiry(&text, now_ms))
            .transpose()?;
        let metadata = validate_metadata(self.metadata.unwrap_or_default())?;
        let now = rfc3339(now_ms);
        let record_template = KeyRecord {
            id: String::new(),
            owner: owner.clone(),
            name,
            description,
            kind,
            prefix: String::new(),
            scopes,
            allowed_domains,
            rate_limit,
            credits: credits_spec.clone(),
            plan,
            expires_at: expiry.as_ref().map(|(_, text)| text.clone()),
            enabled: self.enabled.unwrap_or(true),
            require_signature: self.require_signature.unwrap_or(false),
            metadata,
            created_at: now.clone(),
            updated_at: now,
            last_used_at: None,
        };
        Ok(NewKey {
            owner,
            kind,
            record_template,
            expires_ms: expiry.map(|(ms, _)| ms),
            credits: credits_spec.map(|spec| spec.into_credits(now_ms, now_ms)),
        })
    }
}

/// What a patch changed, for the audit log and for the Durable Object's live state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppliedPatch {
    pub changed_fields: Vec<&'static str>,
    /// `Some(None)` clears the expiry.
    pub expires_ms: Option<Option<u64>>,
    /// `Some(None)` removes credits; `Some(Some(_))` sets a new allowance.
    pub credits: Option<Option<CreditsSpec>>,
    /// Signatures were just turned on: the caller issues a signing secret.
    pub signature_turned_on: bool,
}

impl PatchKeyRequest {
    /// Validates and applies the patch to `record`.
    pub fn apply(
        self,
        record: &mut KeyRecord,
        config: &Config,
        now_ms: u64,
    ) -> Result<AppliedPatch, Denial> {
        if self.owner.is_some() {
            return Err(Denial::bad_request("`owner` cannot change"));
        }
        if self.kind.is_some() {
            return Err(Denial::bad_request("`kind` cannot change"));
        }
        let mut next = record.clone();
        let mut applied = AppliedPatch::default();
        if let Some(name) = self.name {
            validate_text("name", &name, MAX_NAME)?;
            next.name = name;
            applied.changed_fields.push("name");
        }
        if let Some(description) = self.description {
            validate_text("description", &description, MAX_DESCRIPTION)?;
            next.description = description;
            applied.changed_fields.push("description");
        }
        if let Some(scopes) = self.scopes {
            next.scopes = if scopes.is_empty() {
                default_scopes(record.kind)
            } else {
                validate_scopes(record.kind, scopes)?
            };
            applied.changed_fields.push("scopes");
        }
        if let Some(domains) = self.allowed_domains {
            next.allowed_domains = validate_domains(domains)?;
            applied.changed_fields.push("allowed_domains");
        }
        if let Some(limit) = self.rate_limit {
            next.rate_limit = limit.map(validate_rate_limit).transpose()?;
            applied.changed_fields.push("rate_limit");
        }
        if let Some(credits) = self.credits {
            let credits = credits.map(validate_credits).transpose()?;
            applied.credits = Some(credits.clone());
            next.credits = credits;
            applied.changed_fields.push("credits");
        }
        if let Some(plan) = self.plan {
            next.plan = plan.map(|p| validate_plan(config, p)).transpose()?;
            applied.changed_fields.push("plan");
        }
        if let Some(expiry) = self.expires_at {
            let expiry = expiry
                .map(|text| validate_expiry(&text, now_ms))
                .transpose()?;
            applied.expires_ms = Some(expiry.as_ref().map(|(ms, _)| *ms));
            next.expires_at = expiry.map(|(_, text)| text);
            applied.changed_fields.push("expires_at");
        }
        if let Some(enabled) = self.enabled {
            next.enabled = enabled;
            applied.changed_fields.push("enabled");
        }
        if let Some(require_signature) = self.require_signature {
            applied.signature_turned_on = require_signature && !record.require_signature;
            next.require_signature = require_signature;
            applied.changed_fields.push("require_signature");
        }
        if let Some(metadata) = self.metadata {
            next.metadata = validate_metadata(metadata)?;
            applied.changed_fields.push("metadata");
        }
        next.updated_at = rfc3339(now_ms);
        *record = next;
        Ok(applied)
    }
}

impl KeyRecord {
    pub fn status(&self, expires_ms: Option<u64>, now_ms: u64) -> KeyStatus {
        if expires_ms.is_some_and(|at| at <= now_ms) {
            KeyStatus::Expired
        } else if !self.enabled {
            KeyStatus::Disabled
        } else {
            KeyStatus::Active
        }
    }

    /// The limit in force: the key's own, else its plan's, else the default,
    /// with the policy name of the RateLimit headers.
    pub fn effective_rate_limit(&self, config: &Config) -> (String, RateLimit) {
        let plan = self.plan.as_deref().and_then(|name| config.plan(name));
        let limit = self
            .rate_limit
            .or_else(|| plan.and_then(|p| p.rate_limit))
            .unwrap_or(config.default_rate_limit);
        let policy = self.plan.clone().unwrap_or_else(|| "default".to_string());
        (policy, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn config() -> Config {
        Config::from_lookup(|name| match name {
            "PLANS" => Some(r#"{"pro": {"credits": {"remaining": 10}, "max_keys": 5}}"#.into()),
            _ => None,
        })
        .unwrap()
    }

    fn create(json: &str) -> Result<NewKey, Denial> {
        parse_body::<CreateKeyRequest>(json.as_bytes())?.validate(None, &config(), NOW)
    }

    fn detail(denial: Denial) -> String {
        assert_eq!(denial.code(), "bad_request");
        denial.to_string()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let secret = create(r#"{"owner": "acme"}"#).unwrap();
        assert_eq!(secret.kind, KeyKind::Secret);
        assert!(secret.record_template.enabled);
        assert!(
            secret
                .record_template
                .scopes
                .contains(&"read:all".to_string())
        );
        let publishable = create(r#"{"owner": "acme", "kind": "publishable"}"#).unwrap();
        assert_eq!(publishable.record_template.scopes, vec!["read:all"]);
    }

    #[test]
    fn publishable_keys_never_hold_write_delete_or_admin() {
        for scope in ["admin", "write:all", "delete:datasets/x"] {
            let body = format!(r#"{{"owner": "a", "kind": "publishable", "scopes": ["{scope}"]}}"#);
            assert!(detail(create(&body).unwrap_err()).contains("scopes[0]"));
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (r#"{"owner": "a", "colour": 1}"#, "colour"),
            (r#"{"owner": "a", "name": 5}"#, "name"),
            (r#"{"owner": "a", "scopes": ["read:"]}"#, "scopes[0]"),
            (
                r#"{"owner": "a", "allowed_domains": ["http://x.com"]}"#,
                "allowed_domains[0]",
            ),
            (
                r#"{"owner": "a", "rate_limit": {"limit": 0, "period_seconds": 1}}"#,
                "rate_limit.limit",
            ),
            (
                r#"{"owner": "a", "expires_at": "2001-01-01T00:00:00Z"}"#,
                "expires_at",
            ),
            (r#"{"owner": "a", "expires_at": "tomorrow"}"#, "expires_at"),
            (r#"{"owner": "a", "plan": "gold"}"#, "plan"),
            (r#"{"owner": "a b"}"#, "owner"),
            (r#"{"name": "no owner"}"#, "owner"),
            (r#"[]"#, "body"),
        ];
        for (body, field) in cases {
            let message = detail(create(body).unwrap_err());
            assert!(message.contains(field), "{body}: {message}");
        }
    }

    #[test]
    fn a_plan_supplies_credits_unless_the_key_sets_its_own() {
        let on_plan = create(r#"{"owner": "a", "plan": "pro"}"#).unwrap();
        assert_eq!(on_plan.credits.unwrap().remaining, 10);
        let own = create(r#"{"owner": "a", "plan": "pro", "credits": {"remaining": 3}}"#).unwrap();
        assert_eq!(own.credits.unwrap().remaining, 3);
    }

    #[test]
    fn patch_changes_fields_clears_nullables_and_refuses_owner_and_kind() {
        let mut record = create(
            r#"{"owner": "a", "name": "n", "expires_at": "2099-01-01T00:00:00Z", "rate_limit": {"limit": 5, "period_seconds": 1}}"#,
        )
        .unwrap()
        .record_template;
        let patch: PatchKeyRequest = parse_body(
            br#"{"name": "renamed", "expires_at": null, "rate_limit": null, "enabled": false}"#,
        )
        .unwrap();
        let applied = patch.apply(&mut record, &config(), NOW).unwrap();
        assert_eq!(record.name, "renamed");
        assert_eq!(record.expires_at, None);
        assert_eq!(record.rate_limit, None);
        assert!(!record.enabled);
        assert_eq!(applied.expires_ms, Some(None));
        assert_eq!(
            applied.changed_fields,
            vec!["name", "rate_limit", "expires_at", "enabled"]
        );

        for body in [r#"{"owner": "b"}"#, r#"{"kind": "publishable"}"#] {
            let patch: PatchKeyRequest = parse_body(body.as_bytes()).unwrap();
            assert!(
                detail(patch.apply(&mut record, &config(), NOW).unwrap_err())
                    .contains("cannot change")
            );
        }
    }

    #[test]
    fn turning_signatures_on_is_reported_once() {
        let mut record = create(r#"{"owner": "a"}"#).unwrap().record_template;
        let on: PatchKeyRequest = parse_body(br#"{"require_signature": true}"#).unwrap();
        assert!(
            on.apply(&mut record, &config(), NOW)
                .unwrap()
                .signature_turned_on
        );
        let again: PatchKeyRequest = parse_body(br#"{"require_signature": true}"#).unwrap();
        assert!(
            !again
                .apply(&mut record, &config(), NOW)
                .unwrap()
                .signature_turned_on
        );
    }

    #[test]
    fn the_effective_limit_is_key_then_plan_then_default() {
        let config = Config::from_lookup(|name| match name {
            "PLANS" => Some(r#"{"pro": {"rate_limit": "100/1s"}}"#.into()),
            _ => None,
        })
        .unwrap();
        let mut record = create(r#"{"owner": "a"}"#).unwrap().record_template;
        assert_eq!(record.effective_rate_limit(&config).0, "default");
        assert_eq!(record.effective_rate_limit(&config).1.limit, 12);
        record.plan = Some("pro".into());
        assert_eq!(
            record.effective_rate_limit(&config),
            (
                "pro".to_string(),
                RateLimit {
                    limit: 100,
                    period_seconds: 1
                }
            )
        );
        record.rate_limit = Some(RateLimit {
            limit: 7,
            period_seconds: 60,
        });
        assert_eq!(record.effective_rate_limit(&config).1.limit, 7);
    }
}
