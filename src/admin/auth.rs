//! Who is calling the admin API (SPEC section 3).

use worker::{Env, Request};

use crate::core::config::Config;
use crate::core::credentials::{Credential, extract_credential};
use crate::core::error::Denial;
use crate::core::hashing::{constant_time_eq, hash_key};
use crate::core::key_format::parse_key;
use crate::core::record::KeyRecord;
use crate::core::scopes;
use crate::runtime;
use crate::store::key_do::{self, KeyCommand};
use crate::store::kv;

/// An authenticated admin caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `ADMIN_TOKEN`: every owner.
    Operator,
    /// An API key holding `admin`: its own owner's keys only.
    OwnerAdmin { owner: String, key_id: String },
    /// `VERIFY_TOKEN`: `POST /v1/verify` and nothing else.
    Verifier,
}

impl Principal {
    /// The audit log's `actor`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator => "admin_token".to_string(),
            Principal::OwnerAdmin { key_id, .. } => format!("key:{key_id}"),
            Principal::Verifier => "verify_token".to_string(),
        }
    }

    /// The owner this caller is confined to, if any.
    pub fn confined_to(&self) -> Option<&str> {
        match self {
            Principal::OwnerAdmin { owner, .. } => Some(owner),
            _ => None,
        }
    }

    /// Refuses the verify-only token everywhere but verify.
    pub fn require_admin(&self) -> Result<(), Denial> {
        match self {
            Principal::Verifier => Err(Denial::forbidden(
                "the verify token may only call POST /v1/verify",
            )),
            _ => Ok(()),
        }
    }

    /// Whether this caller may see or change a key of `owner`.
    pub fn may_access(&self, owner: &str) -> bool {
        self.confined_to().is_none_or(|own| own == owner)
    }
}

/// Authenticates the request's credential; 401 when missing or wrong, 403 for
/// a valid key without `admin`.
pub async fn authenticate(
    request: &Request,
    env: &Env,
    config: &Config,
) -> Result<Principal, Denial> {
    let headers: Vec<(String, String)> = request.headers().entries().collect();
    let token = match extract_credential(&headers, &[]) {
        Ok(Credential::Key(token)) => token,
        Ok(Credential::None) => {
            return Err(Denial::Unauthorized {
                credential_sent: false,
            });
        }
        Err(_) => return Err(Denial::AmbiguousCredentials),
    };
    let rejected = Denial::Unauthorized {
        credential_sent: true,
    };
    let secrets = &config.secrets;
    if secrets
        .admin_token
        .as_deref()
        .is_some_and(|admin| constant_time_eq(admin, &token))
    {
        return Ok(Principal::Operator);
    }
    if secrets
        .verify_token
        .as_deref()
        .is_some_and(|verify| constant_time_eq(verify, &token))
    {
        return Ok(Principal::Verifier);
    }
    if parse_key(&token, &config.key_prefix).is_err() {
        return Err(rejected);
    }
    let hash = hash_key(secrets.key_pepper.as_deref(), &token);
    let Some(key_id) = kv::key_id_for_hash(env, &hash).await? else {
        return Err(rejected);
    };
    let record: KeyRecord = match key_do::send(
        env,
        &key_id,
        &KeyCommand::Authenticate {
            presented_hash: hash,
            now_ms: runtime::now_ms(),
        },
    )
    .await
    {
        Ok(record) => record,
        Err(Denial::StoreUnavailable) => return Err(Denial::StoreUnavailable),
        Err(_) => return Err(rejected),
    };
    if !scopes::grants(&record.scopes, "admin") {
        return Err(Denial::forbidden(
            "this API key does not hold the `admin` scope",
        ));
    }
    Ok(Principal::OwnerAdmin {
        owner: record.owner,
        key_id: record.id,
    })
}
