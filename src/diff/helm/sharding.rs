//! How the operator spreads static targets over shards, from the values.

use serde_json::Value;

use super::{count, spec};
use crate::diff::risk::ShardView;

/// How the operator spreads the static targets of `additionalScrapeConfigs` over the
/// shards: `hashmod` of `__address__` modulo `shards` (targets labelled
/// `__tmp_disable_sharding` are on every shard and never move).
pub fn shard_view(values: &Value) -> ShardView {
    use crate::model::sharding::shard_of;
    let shards = count(values, "shards");
    let mut assign = std::collections::BTreeMap::new();
    for j in spec(values)["additionalScrapeConfigs"].as_array().into_iter().flatten() {
        let job = j["job_name"].as_str().unwrap_or_default();
        for sc in j["static_configs"].as_array().into_iter().flatten() {
            if sc["labels"].get("__tmp_disable_sharding").is_some() {
                continue;
            }
            for t in sc["targets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let shard = shard_of(&["__address__"], shards, t, |_| None);
                assign.insert((job.to_string(), t.to_string()), shard);
            }
        }
    }
    ShardView { shards, source_labels: vec!["__address__".into()], assign, probe_jobs: Default::default(), data: None }
}
