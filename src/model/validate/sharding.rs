//! `[sharding]`: how many shards, and which labels are hashed to pick a target's shard.

use crate::model::raw::RawSharding;
use crate::model::Sharding;

pub(super) fn validate(raw: Option<&RawSharding>) -> Sharding {
    // The schema bounds `shards` to 1..=1024.
    let shards = raw.and_then(|s| s.shards).unwrap_or(1);
    Sharding {
        shards: u16::try_from(shards).unwrap_or(u16::MAX),
        source_labels: raw.and_then(|s| s.source_labels.clone()).unwrap_or_else(|| vec!["__address__".to_string()]),
    }
}
