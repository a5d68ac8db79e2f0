//! Denials decided before any key is found (missing, malformed or unknown
//! key, HTTPS, ambiguous credentials) are counted per gateway, not per key.
//! Counting them must not cost a storage call on a path that exists to be
//! cheap, so each isolate batches them and flushes at most every
//! [`FLUSH_EVERY_MS`] to the directory object, after the response is sent.
//! An isolate that is evicted loses at most that much of its batch.

use std::cell::RefCell;
use std::collections::BTreeMap;

use worker::{Context, Env};

use crate::store::owner_do::{self, DIRECTORY, RegistryCommand};

const FLUSH_EVERY_MS: u64 = 10_000;

#[derive(Default)]
struct Batch {
    counts: BTreeMap<&'static str, u64>,
    started_ms: u64,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Counts one gateway-level denial; flushes the batch in the background when due.
pub fn record(code: &'static str, now_ms: u64, env: &Env, ctx: &Context) {
    let due = BATCH.with(|batch| {
        let mut batch = batch.borrow_mut();
        if batch.counts.is_empty() {
            batch.started_ms = now_ms;
        }
        *batch.counts.entry(code).or_default() += 1;
        if now_ms.saturating_sub(batch.started_ms) < FLUSH_EVERY_MS {
            return None;
        }
        Some(std::mem::take(&mut batch.counts))
    });
    if let Some(counts) = due {
        let env = env.clone();
        let counts: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(code, n)| (code.to_string(), n))
            .collect();
        ctx.wait_until(async move {
            let command = RegistryCommand::CountGateway { counts, now_ms };
            if let Err(denial) = owner_do::send::<()>(&env, DIRECTORY, &command).await {
                worker::console_warn!("keygate: gateway usage not recorded: {denial}");
            }
        });
    }
}
