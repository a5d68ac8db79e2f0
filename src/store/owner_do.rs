//! `OwnerRegistry`: one Durable Object per owner holding the owner's keys in
//! creation order (list, search, cursor paging), the per-owner key cap, and
//! the owner's audit log. Reserving a slot checks the cap and inserts in one
//! synchronous step, so concurrent creates can never exceed it.
//!
//! One more instance, named [`DIRECTORY`], indexes every key and event across
//! owners for the admin token's unscoped list and audit.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{Env, Request, Response, SqlStorage, SqlStorageValue, State, durable_object};

use crate::core::error::Denial;
use crate::store::usage::{self, UsageCounts};
use crate::store::{answer, refuse_fetch, send_to, serve, storage_error};

pub const BINDING: &str = "OWNER_REGISTRY";
/// The registry instance that indexes all owners (owner ids cannot contain `*`).
pub const DIRECTORY: &str = "*";

/// What lists and search need of a key, without asking its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub description: String,
    pub prefix: String,
}

/// One admin action, as the audit log keeps it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Events stored before the field was named as the SPEC names it read as well.
    #[serde(alias = "at")]
    pub time: String,
    pub actor: String,
    pub action: String,
    pub key_id: String,
    pub owner: String,
    pub changed_fields: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryCommand {
    Ping,
    /// Adds a key if the owner holds fewer than `cap` (no cap for the directory).
    Reserve {
        entry: IndexEntry,
        cap: Option<u32>,
        event: AuditEvent,
    },
    /// Refreshes the searchable fields and logs the event.
    Update {
        entry: IndexEntry,
        event: AuditEvent,
    },
    Remove {
        key_id: String,
        event: AuditEvent,
    },
    /// Undoes a reservation whose key could not be created: index row and audit lines.
    Unreserve {
        key_id: String,
    },
    List {
        q: Option<String>,
        limit: u32,
        cursor: Option<String>,
    },
    Audit {
        limit: u32,
        cursor: Option<String>,
    },
    /// Adds a batch of gateway-level denials (directory only).
    CountGateway {
        counts: Vec<(String, u64)>,
        now_ms: u64,
    },
    GatewayUsage {
        now_ms: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[durable_object]
pub struct OwnerRegistry {
    sql: SqlStorage,
}

impl worker::DurableObject for OwnerRegistry {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS key_index (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, prefix TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, event TEXT NOT NULL)",
            usage::SCHEMA,
        ] {
            if let Err(error) = sql.exec(statement, None) {
                worker::console_error!("keygate: owner registry schema: {error}");
            }
        }
        OwnerRegistry { sql }
    }

    async fn fetch(&self, _request: Request) -> worker::Result<Response> {
        refuse_fetch()
    }
}

#[wasm_bindgen]
impl OwnerRegistry {
    /// The RPC entry point (see `store::call`): a JSON [`RegistryCommand`]
    /// in, its JSON `Result` out.
    pub fn command(&self, command: String) -> String {
        serve(&command, |command| self.run(command))
    }
}

impl OwnerRegistry {
    fn run(&self, command: RegistryCommand) -> String {
        match command {
            RegistryCommand::Ping => answer(&Ok(true)),
            RegistryCommand::Reserve { entry, cap, event } => {
                answer(&self.reserve(&entry, cap, &event))
            }
            RegistryCommand::Update { entry, event } => answer(&self.update(&entry, &event)),
            RegistryCommand::Remove { key_id, event } => answer(&self.remove(&key_id, &event)),
            RegistryCommand::Unreserve { key_id } => answer(&self.unreserve(&key_id)),
            RegistryCommand::List { q, limit, cursor } => {
                answer(&self.list(q.as_deref(), limit, cursor.as_deref()))
            }
            RegistryCommand::Audit { limit, cursor } => {
                answer(&self.audit(limit, cursor.as_deref()))
            }
            RegistryCommand::CountGateway { counts, now_ms } => answer(
                &counts
                    .iter()
                    .try_for_each(|(code, n)| usage::count(&self.sql, code, *n, now_ms))
                    .and_then(|()| usage::prune(&self.sql, now_ms)),
            ),
            RegistryCommand::GatewayUsage { now_ms } => {
                answer::<UsageCounts>(&usage::read(&self.sql, now_ms))
            }
        }
    }
}

fn store_error(error: impl std::fmt::Display) -> Denial {
    storage_error("owner registry storage", error)
}

/// Cursors are the sequence number of the last item seen, opaque to clients.
fn parse_cursor(cursor: Option<&str>) -> Result<i64, Denial> {
    match cursor {
        None | Some("") => Ok(0),
        Some(text) => text
            .strip_prefix('c')
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| Denial::bad_request("`cursor` is not a cursor this API returned")),
    }
}

impl OwnerRegistry {
    fn log(&self, event: &AuditEvent) -> Result<(), Denial> {
        let text = serde_json::to_string(event).map_err(store_error)?;
        self.sql
            .exec(
                "INSERT INTO audit (key_id, event) VALUES (?, ?)",
                vec![event.key_id.as_str().into(), text.into()],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn reserve(
        &self,
        entry: &IndexEntry,
        cap: Option<u32>,
        event: &AuditEvent,
    ) -> Result<(), Denial> {
        if let Some(limit) = cap {
            #[derive(Deserialize)]
            struct Count {
                n: i64,
            }
            let count: Count = self
                .sql
                .exec("SELECT COUNT(*) AS n FROM key_index", None)
                .and_then(|cursor| cursor.one())
                .map_err(store_error)?;
            if count.n >= i64::from(limit) {
                return Err(Denial::KeyLimitReached { limit });
            }
        }
        self.sql
            .exec(
                "INSERT INTO key_index (id, owner, name, description, prefix) VALUES (?, ?, ?, ?, ?)",
                vec![
                    entry.id.as_str().into(),
                    entry.owner.as_str().into(),
                    entry.name.as_str().into(),
                    entry.description.as_str().into(),
                    entry.prefix.as_str().into(),
                ],
            )
            .map_err(store_error)?;
        self.log(event)
    }

    fn update(&self, entry: &IndexEntry, event: &AuditEvent) -> Result<(), Denial> {
        self.sql
            .exec(
                "UPDATE key_index SET name = ?, description = ?, prefix = ? WHERE id = ?",
                vec![
                    entry.name.as_str().into(),
                    entry.description.as_str().into(),
                    entry.prefix.as_str().into(),
                    entry.id.as_str().into(),
                ],
            )
            .map_err(store_error)?;
        self.log(event)
    }

    fn remove(&self, key_id: &str, event: &AuditEvent) -> Result<(), Denial> {
        self.sql
            .exec("DELETE FROM key_index WHERE id = ?", vec![key_id.into()])
            .map_err(store_error)?;
        self.log(event)
    }

    fn unreserve(&self, key_id: &str) -> Result<(), Denial> {
        for statement in [
            "DELETE FROM key_index WHERE id = ?",
            "DELETE FROM audit WHERE key_id = ?",
        ] {
            self.sql
                .exec(statement, vec![key_id.into()])
                .map_err(store_error)?;
        }
        Ok(())
    }

    fn list(
        &self,
        q: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<IndexEntry>, Denial> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            id: String,
            owner: String,
            name: String,
            description: String,
            prefix: String,
        }
        let after = parse_cursor(cursor)?;
        let fetch = i64::from(limit) + 1;
        let rows: Vec<Row> = match q.filter(|q| !q.is_empty()) {
            None => self.sql.exec(
                "SELECT seq, id, owner, name, description, prefix FROM key_index WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![after.into(), fetch.into()],
            ),
            // instr, not LIKE: no wildcards to escape and no pattern-length limit.
            Some(q) => self.sql.exec(
                "SELECT seq, id, owner, name, description, prefix FROM key_index WHERE seq > ?1 AND (instr(lower(name), ?2) > 0 OR instr(lower(description), ?2) > 0 OR instr(lower(prefix), ?2) > 0) ORDER BY seq LIMIT ?3",
                vec![after.into(), SqlStorageValue::from(q.to_ascii_lowercase()), fetch.into()],
            ),
        }
        .and_then(|cursor| cursor.to_array())
        .map_err(store_error)?;
        let more = rows.len() > limit as usize;
        let mut items: Vec<(i64, IndexEntry)> = rows
            .into_iter()
            .map(|row| {
                (
                    row.seq,
                    IndexEntry {
                        id: row.id,
                        owner: row.owner,
                        name: row.name,
                        description: row.description,
                        prefix: row.prefix,
                    },
                )
            })
            .collect();
        items.truncate(limit as usize);
        let next_cursor = more
            .then(|| items.last().map(|(seq, _)| format!("c{seq}")))
            .flatten();
        Ok(Page {
            items: items.into_iter().map(|(_, entry)| entry).collect(),
            next_cursor,
        })
    }

    fn audit(&self, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>, Denial> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            event: String,
        }
        let after = parse_cursor(cursor)?;
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT seq, event FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![after.into(), (i64::from(limit) + 1).into()],
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(store_error)?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len());
        let mut last_seq = 0;
        for row in rows.into_iter().take(limit as usize) {
            last_seq = row.seq;
            items.push(serde_json::from_str(&row.event).map_err(store_error)?);
        }
        Ok(Page {
            items,
            next_cursor: more.then(|| format!("c{last_seq}")),
        })
    }
}

pub async fn send<T: serde::de::DeserializeOwned>(
    env: &Env,
    owner: &str,
    command: &RegistryCommand,
) -> Result<T, Denial> {
    send_to(env, BINDING, owner, command).await
}
