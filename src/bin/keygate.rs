//! `keygate`: the operator's command line beside `wrangler`.
//!
//! Server commands call the admin API (`KEYGATE_URL`, `KEYGATE_ADMIN_TOKEN`);
//! `check` and `sign` work offline with the same core code as the gateway.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};

use keygate::core::hashing::sha256_hex;
use keygate::core::key_format::parse_key;
use keygate::core::ratelimit::RateLimit;
use keygate::core::signature::sign_request;

#[derive(Parser)]
#[command(name = "keygate", version, about = "Manage Keygate API keys")]
struct Cli {
    /// The gateway's base URL, e.g. https://api.example.com
    #[arg(
        long,
        env = "KEYGATE_URL",
        global = true,
        default_value = "http://localhost:8787"
    )]
    url: String,
    /// The admin token (or an owner's admin API key).
    #[arg(
        long,
        env = "KEYGATE_ADMIN_TOKEN",
        global = true,
        hide_env_values = true
    )]
    token: Option<String>,
    /// The admin prefix the gateway serves its API under.
    #[arg(
        long,
        env = "KEYGATE_ADMIN_PREFIX",
        global = true,
        default_value = "/_keygate"
    )]
    admin_prefix: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, list and change keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log.
    Audit {
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Ask the gateway for its decision on a key (counts against its limits).
    Verify {
        key: String,
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        path: Option<String>,
        #[arg(long)]
        origin: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        cost: Option<u32>,
    },
    /// Check a key's format and checksum, offline.
    Check {
        key: String,
        /// The gateway's KEY_PREFIX.
        #[arg(long, default_value = "kg")]
        namespace: String,
    },
    /// Print the X-Keygate-Timestamp and X-Keygate-Signature headers for a request, offline.
    Sign {
        #[arg(long)]
        secret: String,
        #[arg(long)]
        method: String,
        /// The request URL or target (`/v1/x?b=2&a=1`); path and query are signed as given.
        #[arg(long)]
        url: String,
        #[arg(long)]
        body_file: Option<std::path::PathBuf>,
        /// Unix seconds (default: now).
        #[arg(long)]
        timestamp: Option<u64>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    Create(KeySettings),
    List {
        #[arg(long)]
        owner: Option<String>,
        /// Search name, description and prefix.
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Get {
        id: String,
    },
    Update {
        id: String,
        #[command(flatten)]
        settings: KeySettings,
    },
    Disable {
        id: String,
    },
    Enable {
        id: String,
    },
    Roll {
        id: String,
        /// Keep the old secret working this long (at most 7 days).
        #[arg(long, default_value_t = 0)]
        grace_seconds: u64,
    },
    Revoke {
        id: String,
    },
    Usage {
        id: String,
    },
}

#[derive(Args, Default)]
struct KeySettings {
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// secret or publishable
    #[arg(long)]
    kind: Option<String>,
    /// Repeat for several scopes.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Repeat for several domains.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// e.g. 100/1s, 1000/1m
    #[arg(long)]
    rate_limit: Option<String>,
    #[arg(long)]
    credits: Option<u64>,
    #[arg(long, requires = "refill_interval")]
    refill_amount: Option<u64>,
    #[arg(long, requires = "refill_amount")]
    refill_interval: Option<u64>,
    /// RFC 3339
    #[arg(long)]
    expires_at: Option<String>,
    #[arg(long)]
    require_signature: Option<bool>,
    #[arg(long)]
    plan: Option<String>,
    /// A JSON object.
    #[arg(long)]
    metadata: Option<String>,
}

impl KeySettings {
    fn to_body(&self) -> Result<Value, String> {
        let mut body = Map::new();
        let mut put = |name: &str, value: Value| {
            body.insert(name.to_string(), value);
        };
        for (name, value) in [
            ("owner", &self.owner),
            ("name", &self.name),
            ("description", &self.description),
            ("kind", &self.kind),
            ("expires_at", &self.expires_at),
            ("plan", &self.plan),
        ] {
            if let Some(value) = value {
                put(name, json!(value));
            }
        }
        if !self.scopes.is_empty() {
            put("scopes", json!(self.scopes));
        }
        if !self.domains.is_empty() {
            put("allowed_domains", json!(self.domains));
        }
        if let Some(text) = &self.rate_limit {
            let limit = RateLimit::parse(text).map_err(|e| format!("--rate-limit: {e}"))?;
            put("rate_limit", json!(limit));
        }
        if let Some(remaining) = self.credits {
            let refill = self
                .refill_amount
                .zip(self.refill_interval)
                .map(|(amount, interval)| json!({"amount": amount, "interval_seconds": interval}));
            put("credits", json!({"remaining": remaining, "refill": refill}));
        }
        if let Some(flag) = self.require_signature {
            put("require_signature", json!(flag));
        }
        if let Some(text) = &self.metadata {
            let value: Value =
                serde_json::from_str(text).map_err(|e| format!("--metadata: {e}"))?;
            put("metadata", value);
        }
        Ok(Value::Object(body))
    }
}

/// The admin API over HTTP; non-2xx answers become the problem's `detail`.
struct Admin {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Admin {
    fn new(cli: &Cli) -> Result<Admin, String> {
        let token = cli
            .token
            .clone()
            .ok_or("set KEYGATE_ADMIN_TOKEN or pass --token")?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Admin {
            agent,
            base: format!("{}{}", cli.url.trim_end_matches('/'), cli.admin_prefix),
            token,
        })
    }

    fn send(&self, method: &str, route: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, route);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("PATCH", Some(body)) => self
                .agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(body),
            (_, body) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = sent.map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("unreadable answer: {e}"))?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let detail = value["detail"].as_str().unwrap_or("request failed");
            let code = value["code"].as_str().unwrap_or("error");
            Err(format!("{status} {code}: {detail}"))
        }
    }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| format!("{name}={}", percent_encode(v)))
        })
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// A plain aligned table of `columns` from each row object.
fn table(rows: &[Value], columns: &[&str]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|c| text(&row[*c])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns.iter().map(|c| c.to_uppercase()).collect())];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}

fn record_view(record: &Value) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(object) = record.as_object() {
        for (name, value) in object {
            lines.push(format!("{name:<18} {}", text(value)));
        }
    }
    lines.join("\n")
}

/// The path and query of a URL exactly as written (nothing decoded or reordered).
fn target_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if url.starts_with('/') {
        return url.to_string();
    }
    rest.find('/')
        .map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
}

fn run(cli: Cli) -> Result<String, String> {
    let json_out = cli.json;
    let show = |value: &Value, human: String| {
        if json_out {
            serde_json::to_string_pretty(value).unwrap_or_default()
        } else {
            human
        }
    };
    match &cli.command {
        Command::Check { key, namespace } => match parse_key(key, namespace) {
            Ok(kind) => Ok(show(
                &json!({"valid": true, "kind": kind}),
                format!("ok: well-formed {} key", kind.as_str()),
            )),
            Err(error) => Err(format!("invalid: {error}")),
        },
        Command::Sign {
            secret,
            method,
            url,
            body_file,
            timestamp,
        } => {
            let body = match body_file {
                Some(path) => std::fs::read(path).map_err(|e| format!("--body-file: {e}"))?,
                None => Vec::new(),
            };
            let ts = timestamp
                .unwrap_or_else(|| {
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                })
                .to_string();
            let method = method.to_ascii_uppercase();
            let signature = sign_request(secret, &ts, &method, &target_of(url), &sha256_hex(&body));
            let value = json!({"X-Keygate-Timestamp": ts, "X-Keygate-Signature": format!("v1={signature}")});
            Ok(show(
                &value,
                format!("X-Keygate-Timestamp: {ts}\nX-Keygate-Signature: v1={signature}"),
            ))
        }
        Command::Keys(command) => {
            let admin = Admin::new(&cli)?;
            keys(&admin, command, &show)
        }
        Command::Audit { owner, limit } => {
            let admin = Admin::new(&cli)?;
            let route = format!(
                "/v1/audit{}",
                query(&[
                    ("owner", owner.clone()),
                    ("limit", limit.map(|l| l.to_string()))
                ])
            );
            let page = admin.send("GET", &route, None)?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            Ok(show(
                &page,
                table(
                    &events,
                    &[
                        "time",
                        "actor",
                        "action",
                        "key_id",
                        "owner",
                        "changed_fields",
                    ],
                ),
            ))
        }
        Command::Verify {
            key,
            method,
            path,
            origin,
            scope,
            cost,
        } => {
            let admin = Admin::new(&cli)?;
            let mut body = json!({"key": key});
            for (name, value) in [
                ("method", method),
                ("path", path),
                ("origin", origin),
                ("scope", scope),
            ] {
                if let Some(value) = value {
                    body[name] = json!(value);
                }
            }
            if let Some(cost) = cost {
                body["cost"] = json!(cost);
            }
            let answer = admin.send("POST", "/v1/verify", Some(body))?;
            let human = record_view(&answer);
            if answer["valid"] == json!(true) {
                Ok(show(&answer, human))
            } else {
                Err(show(&answer, human))
            }
        }
    }
}

fn keys(
    admin: &Admin,
    command: &KeysCommand,
    show: &dyn Fn(&Value, String) -> String,
) -> Result<String, String> {
    const LIST_COLUMNS: [&str; 8] = [
        "id",
        "name",
        "prefix",
        "kind",
        "enabled",
        "created_at",
        "expires_at",
        "last_used_at",
    ];
    let with_secret = |value: &Value| {
        let mut human = record_view(value);
        if value.get("key").is_some() {
            human.push_str("\n\nStore the key now: it is not shown again.");
        }
        show(value, human)
    };
    match command {
        KeysCommand::Create(settings) => {
            let created = admin.send("POST", "/v1/keys", Some(settings.to_body()?))?;
            Ok(with_secret(&created))
        }
        KeysCommand::List {
            owner,
            q,
            limit,
            cursor,
        } => {
            let route = format!(
                "/v1/keys{}",
                query(&[
                    ("owner", owner.clone()),
                    ("q", q.clone()),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor.clone()),
                ])
            );
            let page = admin.send("GET", &route, None)?;
            let rows = page["keys"].as_array().cloned().unwrap_or_default();
            let mut human = table(&rows, &LIST_COLUMNS);
            if let Some(next) = page["next_cursor"].as_str() {
                human.push_str(&format!("\nmore: --cursor {next}"));
            }
            Ok(show(&page, human))
        }
        KeysCommand::Get { id } => {
            let record = admin.send("GET", &format!("/v1/keys/{id}"), None)?;
            Ok(show(&record, record_view(&record)))
        }
        KeysCommand::Update { id, settings } => {
            let record = admin.send(
                "PATCH",
                &format!("/v1/keys/{id}"),
                Some(settings.to_body()?),
            )?;
            Ok(with_secret(&record))
        }
        KeysCommand::Disable { id } | KeysCommand::Enable { id } => {
            let enabled = matches!(command, KeysCommand::Enable { .. });
            let record = admin.send(
                "PATCH",
                &format!("/v1/keys/{id}"),
                Some(json!({"enabled": enabled})),
            )?;
            Ok(show(&record, record_view(&record)))
        }
        KeysCommand::Roll { id, grace_seconds } => {
            let rolled = admin.send(
                "POST",
                &format!("/v1/keys/{id}/roll"),
                Some(json!({"grace_seconds": grace_seconds})),
            )?;
            Ok(with_secret(&rolled))
        }
        KeysCommand::Revoke { id } => {
            admin.send("DELETE", &format!("/v1/keys/{id}"), None)?;
            Ok(show(&json!({"revoked": id}), format!("revoked {id}")))
        }
        KeysCommand::Usage { id } => {
            let usage = admin.send("GET", &format!("/v1/keys/{id}/usage"), None)?;
            let mut human = format!(
                "last used: {}\ncredits left: {}\n\ntotals:\n",
                text(&usage["last_used_at"]),
                text(&usage["credits_remaining"])
            );
            if let Some(totals) = usage["totals"].as_object() {
                for (outcome, count) in totals {
                    human.push_str(&format!("  {outcome:<22} {count}\n"));
                }
            }
            Ok(show(&usage, human.trim_end().to_string()))
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_keeps_path_and_query_as_written() {
        assert_eq!(
            target_of("https://api.example.com/v1/x?b=2&a=1"),
            "/v1/x?b=2&a=1"
        );
        assert_eq!(target_of("http://localhost:8787"), "/");
        assert_eq!(target_of("/v1/x?b=2&a=1"), "/v1/x?b=2&a=1");
        assert_eq!(target_of("https://h/a%20b"), "/a%20b");
    }

    #[test]
    fn query_encodes_values() {
        assert_eq!(
            query(&[("q", Some("a b&c".into())), ("owner", None)]),
            "?q=a%20b%26c"
        );
        assert_eq!(query(&[("q", None)]), "");
    }

    #[test]
    fn settings_become_an_admin_body() {
        let settings = KeySettings {
            name: Some("n".into()),
            scopes: vec!["read:all".into()],
            rate_limit: Some("5/1s".into()),
            credits: Some(3),
            refill_amount: Some(3),
            refill_interval: Some(60),
            ..KeySettings::default()
        };
        let body = settings.to_body().unwrap();
        assert_eq!(body["rate_limit"], json!({"limit": 5, "period_seconds": 1}));
        assert_eq!(body["credits"]["refill"]["interval_seconds"], 60);
        assert_eq!(body["scopes"], json!(["read:all"]));
        assert!(body.get("owner").is_none());
    }
}
