//! Usage counters in a Durable Object's SQLite: totals, minute buckets for
//! 24 hours and hour buckets for 30 days, by outcome (`allowed` or a denial
//! code). Used by each key's object and, for denials decided before any key
//! is found, by the directory.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use worker::{SqlStorage, SqlStorageValue};

use crate::core::error::Denial;
use crate::core::time::rfc3339;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
const MINUTES_KEPT: u64 = 24 * 60;
const HOURS_KEPT: u64 = 30 * 24;

pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS usage (grain TEXT NOT NULL, bucket INTEGER NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (grain, bucket, outcome))";

#[derive(Debug, Serialize, Deserialize)]
pub struct UsageBucket {
    pub start: String,
    pub counts: Map<String, Value>,
}

/// Counts by outcome: in total and per time bucket.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct UsageCounts {
    pub totals: Map<String, Value>,
    pub minutes: Vec<UsageBucket>,
    pub hours: Vec<UsageBucket>,
}

fn store_error(error: impl std::fmt::Display) -> Denial {
    crate::store::storage_error("usage storage", error)
}

pub fn sql_int(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Adds `n` to the outcome's total, minute and hour, in one statement.
pub fn count(sql: &SqlStorage, outcome: &str, n: u64, now_ms: u64) -> Result<(), Denial> {
    let minute = now_ms / MINUTE_MS;
    let hour = now_ms / HOUR_MS;
    sql.exec(
        "INSERT INTO usage (grain, bucket, outcome, count) VALUES ('t', 0, ?1, ?4), ('m', ?2, ?1, ?4), ('h', ?3, ?1, ?4) ON CONFLICT(grain, bucket, outcome) DO UPDATE SET count = count + excluded.count",
        vec![outcome.into(), sql_int(minute), sql_int(hour), sql_int(n)],
    )
    .map_err(store_error)?;
    Ok(())
}

/// Drops buckets older than what is kept (run from the object's alarm).
pub fn prune(sql: &SqlStorage, now_ms: u64) -> Result<(), Denial> {
    sql.exec(
        "DELETE FROM usage WHERE (grain = 'm' AND bucket < ?) OR (grain = 'h' AND bucket < ?)",
        vec![
            sql_int((now_ms / MINUTE_MS).saturating_sub(MINUTES_KEPT)),
            sql_int((now_ms / HOUR_MS).saturating_sub(HOURS_KEPT)),
        ],
    )
    .map_err(store_error)?;
    Ok(())
}

/// The counts kept at `now_ms`, oldest bucket first.
pub fn read(sql: &SqlStorage, now_ms: u64) -> Result<UsageCounts, Denial> {
    #[derive(Deserialize)]
    struct Row {
        grain: String,
        bucket: i64,
        outcome: String,
        count: i64,
    }
    let rows: Vec<Row> = sql
        .exec(
            "SELECT grain, bucket, outcome, count FROM usage WHERE grain = 't' OR (grain = 'm' AND bucket >= ?) OR (grain = 'h' AND bucket >= ?) ORDER BY grain, bucket, outcome",
            vec![
                sql_int((now_ms / MINUTE_MS).saturating_sub(MINUTES_KEPT)),
                sql_int((now_ms / HOUR_MS).saturating_sub(HOURS_KEPT)),
            ],
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(store_error)?;
    let mut counts = UsageCounts::default();
    for row in rows {
        let bucket = u64::try_from(row.bucket).unwrap_or(0);
        let (list, width) = match row.grain.as_str() {
            "t" => {
                counts.totals.insert(row.outcome, row.count.into());
                continue;
            }
            "m" => (&mut counts.minutes, MINUTE_MS),
            _ => (&mut counts.hours, HOUR_MS),
        };
        let start = rfc3339(bucket * width);
        match list.last_mut() {
            Some(last) if last.start == start => {
                last.counts.insert(row.outcome, row.count.into());
            }
            _ => {
                let mut bucket_counts = Map::new();
                bucket_counts.insert(row.outcome, row.count.into());
                list.push(UsageBucket {
                    start,
                    counts: bucket_counts,
                });
            }
        }
    }
    Ok(counts)
}

/// When the next prune should run: an hour from now.
pub fn next_prune_ms(now_ms: u64) -> u64 {
    now_ms + HOUR_MS
}
