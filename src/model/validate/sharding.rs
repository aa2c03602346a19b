//! `[sharding]`: how many shards, which labels are hashed to pick a target's shard, and
//! the shards a shrink retires.

use super::Reporter;
use crate::diagnostic::Code;
use crate::model::date::parse_date;
use crate::model::raw::RawSharding;
use crate::model::{Retired, Sharding};

pub(super) fn validate(raw: Option<&RawSharding>, r: &mut Reporter<'_>) -> Sharding {
    // The schema bounds `shards` to 1..=1024.
    let shards = raw.and_then(|s| s.shards).unwrap_or(1);
    let shards = u16::try_from(shards).unwrap_or(u16::MAX);
    let retired = raw.and_then(|s| s.retired.as_ref()).and_then(|ret| {
        let old = u16::try_from(ret.shards).unwrap_or(u16::MAX);
        let mut ok = true;
        if old <= shards {
            r.error(
                Code::InvalidValue,
                "/sharding/retired/shards",
                format!("retired.shards = {old} is not above shards = {shards}: no shard is retired"),
                "retired.shards is the shard count before the shrink, above shards (4 when going from 4 shards to 2); \
                 remove `retired` when its shards are removed",
            );
            ok = false;
        }
        let since = parse_date(&ret.since);
        if since.is_none() {
            r.error(
                Code::InvalidValue,
                "/sharding/retired/since",
                format!("retired.since = \"{}\" is not a date", ret.since),
                "write the day the shrink is applied as YYYY-MM-DD, e.g. since = \"2026-12-01\"",
            );
        }
        Some(Retired { shards: old, since: since? }).filter(|_| ok)
    });
    Sharding {
        shards,
        source_labels: raw.and_then(|s| s.source_labels.clone()).unwrap_or_else(|| vec!["__address__".to_string()]),
        retired,
    }
}
