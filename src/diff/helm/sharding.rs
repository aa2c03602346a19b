//! How the operator spreads static targets over shards, from the values.

use serde_json::Value;

use super::{count, spec};
use crate::diff::risk::ShardView;

/// How the operator spreads the static targets of `additionalScrapeConfigs` over the
/// shards: `hashmod` of `__address__` modulo `shards` (targets labelled
/// `__tmp_disable_sharding` are on every shard and never move). A probe job sets
/// `__tmp_hash` to the probed target, which is the listed address: the same hash.
pub fn shard_view(values: &Value) -> ShardView {
    use crate::model::sharding::shard_of;
    let shards = count(values, "shards");
    let mut assign = std::collections::BTreeMap::new();
    let mut probe_jobs = std::collections::BTreeSet::new();
    for j in spec(values)["additionalScrapeConfigs"].as_array().into_iter().flatten() {
        let job = j["job_name"].as_str().unwrap_or_default();
        let hashes_the_probed_target = j["relabel_configs"].as_array().into_iter().flatten().any(|r| {
            r["target_label"] == "__tmp_hash" && r["source_labels"].as_array().is_some_and(|l| l == &["__param_target"])
        });
        if hashes_the_probed_target {
            probe_jobs.insert(job.to_string());
        }
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
    ShardView { shards, source_labels: vec!["__address__".into()], assign, probe_jobs, data: None }
}
