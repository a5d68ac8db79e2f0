//! Key management handlers: create, list, get, patch, roll, revoke, usage, audit.

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Env, Response};

use crate::admin::auth::Principal;
use crate::core::config::Config;
use crate::core::decision::{LiveState, StoredKey};
use crate::core::error::Denial;
use crate::core::hashing::hash_key;
use crate::core::key_format::{self, generate_key, generate_key_id};
use crate::core::record::{CreateKeyRequest, KeyRecord, parse_body, validate_owner};
use crate::core::time::rfc3339;
use crate::runtime::{self, respond};
use crate::store::key_do::{self, Issued, KeyCommand, MAX_GRACE_SECONDS, Revoked, UsageReport};
use crate::store::kv;
use crate::store::owner_do::{self, AuditEvent, DIRECTORY, IndexEntry, Page, RegistryCommand};
use crate::store::usage::UsageCounts;

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// A record plus the secrets shown once (create and roll, or turning on signatures).
#[derive(Serialize)]
struct WithSecrets {
    #[serde(flatten)]
    record: KeyRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
}

fn random_failure(_: getrandom::Error) -> Denial {
    worker::console_error!("keygate: no randomness available");
    Denial::StoreUnavailable
}

fn entry_of(record: &KeyRecord) -> IndexEntry {
    IndexEntry {
        id: record.id.clone(),
        owner: record.owner.clone(),
        name: record.name.clone(),
        description: record.description.clone(),
        prefix: record.prefix.clone(),
    }
}

fn event(
    principal: &Principal,
    action: &str,
    record: &KeyRecord,
    changed: Vec<String>,
) -> AuditEvent {
    AuditEvent {
        time: rfc3339(runtime::now_ms()),
        actor: principal.actor(),
        action: action.to_string(),
        key_id: record.id.clone(),
        owner: record.owner.clone(),
        changed_fields: changed,
    }
}

/// Writes an index change to the owner's registry and the directory.
async fn record_in_registries(
    env: &Env,
    owner: &str,
    command: RegistryCommand,
) -> Result<(), Denial> {
    owner_do::send::<()>(env, owner, &command).await?;
    let directory_command = match command {
        RegistryCommand::Reserve { entry, event, .. } => RegistryCommand::Reserve {
            entry,
            cap: None,
            event,
        },
        other => other,
    };
    owner_do::send::<()>(env, DIRECTORY, &directory_command).await
}

pub async fn create(
    env: &Env,
    config: &Config,
    principal: &Principal,
    body: &[u8],
    request_id: &str,
) -> Result<Response, Denial> {
    let request: CreateKeyRequest = parse_body(body)?;
    if let (Some(own), Some(asked)) = (principal.confined_to(), request.owner.as_deref())
        && own != asked
    {
        return Err(Denial::forbidden(
            "an owner's admin key can only create keys for its own owner",
        ));
    }
    let now_ms = runtime::now_ms();
    let new_key = request.validate(principal.confined_to(), config, now_ms)?;
    let cap = new_key
        .record_template
        .plan
        .as_deref()
        .and_then(|plan| config.plan(plan))
        .and_then(|plan| plan.max_keys)
        .unwrap_or(config.max_keys_per_owner);

    let key = generate_key(&config.key_prefix, new_key.kind).map_err(random_failure)?;
    let mut record = new_key.record_template;
    record.id = generate_key_id().map_err(random_failure)?;
    record.prefix = key_format::display_prefix(&key);
    let stored = StoredKey {
        record: record.clone(),
        created_ms: now_ms,
        expires_ms: new_key.expires_ms,
        hash: hash_key(config.secrets.key_pepper.as_deref(), &key),
        sealed_signing_secret: None,
        previous: None,
    };
    let live = LiveState {
        credits: new_key.credits,
        ..LiveState::default()
    };
    let created = event(principal, "created", &record, Vec::new());
    owner_do::send::<()>(
        env,
        &record.owner,
        &RegistryCommand::Reserve {
            entry: entry_of(&record),
            cap: Some(cap),
            event: created.clone(),
        },
    )
    .await?;
    let hash = stored.hash.clone();
    let issued: Issued = match key_do::send(
        env,
        &record.id,
        &KeyCommand::Create {
            stored: Box::new(stored),
            live,
        },
    )
    .await
    {
        Ok(issued) => issued,
        Err(denial) => {
            // Give the owner's slot back so a failed create never counts.
            let _ = owner_do::send::<()>(
                env,
                &record.owner,
                &RegistryCommand::Unreserve {
                    key_id: record.id.clone(),
                },
            )
            .await;
            return Err(denial);
        }
    };
    owner_do::send::<()>(
        env,
        DIRECTORY,
        &RegistryCommand::Reserve {
            entry: entry_of(&record),
            cap: None,
            event: created,
        },
    )
    .await?;
    kv::put_hash(env, &hash, &record.id, None).await?;
    Ok(respond::json(
        201,
        &WithSecrets {
            record: issued.record,
            key: Some(key),
            signing_secret: issued.signing_secret,
        },
        request_id,
    ))
}

/// Loads a key the caller may see; another owner's key is simply not found.
async fn accessible(env: &Env, principal: &Principal, key_id: &str) -> Result<KeyRecord, Denial> {
    if !key_id.starts_with("key_") || key_id.len() > 64 {
        return Err(Denial::not_found("no key with this id"));
    }
    let issued: Issued = key_do::send(
        env,
        key_id,
        &KeyCommand::Get {
            now_ms: runtime::now_ms(),
        },
    )
    .await?;
    if !principal.may_access(&issued.record.owner) {
        return Err(Denial::not_found("no key with this id"));
    }
    Ok(issued.record)
}

pub async fn get(
    env: &Env,
    principal: &Principal,
    key_id: &str,
    request_id: &str,
) -> Result<Response, Denial> {
    let record = accessible(env, principal, key_id).await?;
    Ok(respond::json(200, &record, request_id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    owner: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn page_limit(limit: Option<&str>) -> Result<u32, Denial> {
    match limit {
        None | Some("") => Ok(DEFAULT_PAGE),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| Denial::bad_request(format!("`limit` must be from 1 to {MAX_PAGE}"))),
    }
}

/// The registry to read: the owner asked for, the caller's own, or the
/// directory. An empty `owner=` is no owner, like the other empty parameters.
fn registry_for(principal: &Principal, owner: Option<&str>) -> Result<String, Denial> {
    let owner = owner.filter(|owner| !owner.is_empty());
    if let Some(owner) = owner {
        validate_owner(owner)?;
    }
    match (principal.confined_to(), owner) {
        (Some(own), Some(asked)) if own != asked => Err(Denial::forbidden(
            "an owner's admin key can only read its own owner's keys",
        )),
        (Some(own), _) => Ok(own.to_string()),
        (None, Some(asked)) => Ok(asked.to_string()),
        (None, None) => Ok(DIRECTORY.to_string()),
    }
}

pub async fn list(
    env: &Env,
    principal: &Principal,
    query: ListQuery,
    request_id: &str,
) -> Result<Response, Denial> {
    let limit = page_limit(query.limit.as_deref())?;
    let registry = registry_for(principal, query.owner.as_deref())?;
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(Denial::bad_request("`q` must be at most 200 characters"));
    }
    let page: Page<IndexEntry> = owner_do::send(
        env,
        &registry,
        &RegistryCommand::List {
            q: query.q,
            limit,
            cursor: query.cursor,
        },
    )
    .await?;
    let now_ms = runtime::now_ms();
    let command = KeyCommand::Get { now_ms };
    let records = join_all(
        page.items
            .iter()
            .map(|entry| key_do::send::<Issued>(env, &entry.id, &command)),
    )
    .await;
    let mut keys = Vec::with_capacity(records.len());
    for record in records {
        match record {
            Ok(issued) => keys.push(issued.record),
            // Revoked between the index read and the record read.
            Err(Denial::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(respond::json(
        200,
        &json!({ "keys": keys, "next_cursor": page.next_cursor }),
        request_id,
    ))
}

pub async fn patch(
    env: &Env,
    principal: &Principal,
    key_id: &str,
    body: &[u8],
    request_id: &str,
) -> Result<Response, Denial> {
    accessible(env, principal, key_id).await?;
    let body = std::str::from_utf8(body)
        .map_err(|_| Denial::bad_request("the body must be UTF-8 JSON"))?;
    let issued: Issued = key_do::send(
        env,
        key_id,
        &KeyCommand::Patch {
            body: body.to_string(),
            now_ms: runtime::now_ms(),
        },
    )
    .await?;
    let record = &issued.record;
    // A patch that sets `enabled` is a disable or an enable, whatever else it
    // changes; its event still lists every changed field.
    let action = match (
        issued.changed_fields.iter().any(|f| f == "enabled"),
        record.enabled,
    ) {
        (true, true) => "enabled",
        (true, false) => "disabled",
        (false, _) => "updated",
    };
    let logged = event(principal, action, record, issued.changed_fields.clone());
    record_in_registries(
        env,
        &record.owner,
        RegistryCommand::Update {
            entry: entry_of(record),
            event: logged,
        },
    )
    .await?;
    Ok(respond::json(
        200,
        &WithSecrets {
            record: issued.record,
            key: None,
            signing_secret: issued.signing_secret,
        },
        request_id,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollRequest {
    #[serde(default)]
    grace_seconds: u64,
}

pub async fn roll(
    env: &Env,
    config: &Config,
    principal: &Principal,
    key_id: &str,
    body: &[u8],
    request_id: &str,
) -> Result<Response, Denial> {
    let roll: RollRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RollRequest::default()
    } else {
        parse_body(body)?
    };
    if roll.grace_seconds > MAX_GRACE_SECONDS {
        return Err(Denial::bad_request(format!(
            "`grace_seconds` must be at most {MAX_GRACE_SECONDS} (7 days)"
        )));
    }
    let current = accessible(env, principal, key_id).await?;
    let key = generate_key(&config.key_prefix, current.kind).map_err(random_failure)?;
    let new_hash = hash_key(config.secrets.key_pepper.as_deref(), &key);
    let issued: Issued = key_do::send(
        env,
        key_id,
        &KeyCommand::Roll {
            new_hash: new_hash.clone(),
            new_prefix: key_format::display_prefix(&key),
            grace_seconds: roll.grace_seconds,
            now_ms: runtime::now_ms(),
        },
    )
    .await?;
    kv::put_hash(env, &new_hash, key_id, None).await?;
    if let Some((old_hash, grace_until)) = &issued.replaced_hash {
        match grace_until {
            Some(_) => kv::put_hash(env, old_hash, key_id, Some(roll.grace_seconds)).await?,
            None => kv::delete_hash(env, old_hash).await?,
        }
    }
    let record = &issued.record;
    let mut changed = vec!["key".to_string()];
    if roll.grace_seconds > 0 {
        changed.push(format!("grace_seconds={}", roll.grace_seconds));
    }
    record_in_registries(
        env,
        &record.owner,
        RegistryCommand::Update {
            entry: entry_of(record),
            event: event(principal, "rolled", record, changed),
        },
    )
    .await?;
    Ok(respond::json(
        200,
        &WithSecrets {
            record: issued.record,
            key: Some(key),
            signing_secret: issued.signing_secret,
        },
        request_id,
    ))
}

pub async fn revoke(
    env: &Env,
    principal: &Principal,
    key_id: &str,
    request_id: &str,
) -> Result<Response, Denial> {
    let record = accessible(env, principal, key_id).await?;
    let revoked: Revoked = key_do::send(env, key_id, &KeyCommand::Revoke).await?;
    for hash in &revoked.hashes {
        kv::delete_hash(env, hash).await?;
    }
    record_in_registries(
        env,
        &revoked.owner,
        RegistryCommand::Remove {
            key_id: key_id.to_string(),
            event: event(principal, "revoked", &record, Vec::new()),
        },
    )
    .await?;
    Ok(respond::no_content(request_id))
}

pub async fn usage(
    env: &Env,
    principal: &Principal,
    key_id: &str,
    request_id: &str,
) -> Result<Response, Denial> {
    accessible(env, principal, key_id).await?;
    let report: UsageReport = key_do::send(
        env,
        key_id,
        &KeyCommand::Usage {
            now_ms: runtime::now_ms(),
        },
    )
    .await?;
    Ok(respond::json(200, &report, request_id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    owner: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn audit(
    env: &Env,
    principal: &Principal,
    query: AuditQuery,
    request_id: &str,
) -> Result<Response, Denial> {
    let limit = page_limit(query.limit.as_deref())?;
    let registry = registry_for(principal, query.owner.as_deref())?;
    let page: Page<AuditEvent> = owner_do::send(
        env,
        &registry,
        &RegistryCommand::Audit {
            limit,
            cursor: query.cursor,
        },
    )
    .await?;
    Ok(respond::json(
        200,
        &json!({ "events": page.items, "next_cursor": page.next_cursor }),
        request_id,
    ))
}

/// Denials decided before any key was found, counted per gateway (admin token only).
pub async fn gateway_usage(
    env: &Env,
    principal: &Principal,
    request_id: &str,
) -> Result<Response, Denial> {
    if principal.confined_to().is_some() {
        return Err(Denial::forbidden("gateway usage needs the admin token"));
    }
    let counts: UsageCounts = owner_do::send(
        env,
        DIRECTORY,
        &RegistryCommand::GatewayUsage {
            now_ms: runtime::now_ms(),
        },
    )
    .await?;
    Ok(respond::json(200, &counts, request_id))
}
