//! The sharding view: how static targets spread over shards before and after, the
//! targets that move, and the stack-wide risk of a shard count or sharding change.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Category, Code, Risk};
use crate::diff::Key;
use crate::model::jobs::builtin_job_names;
use crate::model::sharding::shard_of;
use crate::model::{KubernetesJobs, Stack};

/// Shard numbers above this are not read as shards from `--against` input (a stack has at
/// most 1024 shards; the margin keeps a hand-edited render readable).
pub const MAX_SHARDS: u64 = 65_536;
/// StatefulSet names listed in a shard-count message; the rest are counted.
const MAX_LISTED: usize = 16;

/// How static targets are spread over shards.
#[derive(Debug, Clone)]
pub struct ShardView {
    pub shards: u64,
    pub source_labels: Vec<String>,
    /// (job, target) → shard, for sharded static targets of `[[scrape]]` jobs.
    pub assign: BTreeMap<(String, String), u64>,
}

pub fn view_of_stack(stack: &Stack) -> ShardView {
    let mut assign = BTreeMap::new();
    for j in stack.scrape.iter().filter(|j| j.sharded) {
        for t in &j.targets {
            assign.insert((j.job.clone(), t.clone()), stack.sharding.shard_of_target(t, &j.labels));
        }
    }
    ShardView { shards: u64::from(stack.sharding.shards), source_labels: stack.sharding.source_labels.clone(), assign }
}

/// The sharding of a previous render or of live objects: the hashmod `modulus` and
/// source labels of the first shard's prometheus.yml, and its static targets; or, with
/// no config, the number of shard StatefulSets.
pub fn view_of_objects<'a>(objs: impl Iterator<Item = (&'a Key, &'a Value)> + Clone, stack: &str) -> Option<ShardView> {
    let prefix = format!("{stack}-prometheus-shard-");
    // Only numbers a stack can have are shards: a name such as `…-shard-18446744073709551614`
    // read from hostile input must not size anything (a loop, a list, `max + 1`).
    let shard_no =
        |k: &Key| k.name.strip_prefix(&prefix).and_then(|s| s.parse::<u64>().ok()).filter(|n| *n < MAX_SHARDS);
    let config = objs
        .clone()
        .filter(|(k, v)| k.kind == "ConfigMap" && shard_no(k).is_some() && v["data"]["prometheus.yml"].is_string())
        .min_by_key(|(k, _)| shard_no(k));
    let Some((_, cm)) = config else {
        let max = objs.filter(|(k, _)| k.kind == "StatefulSet").filter_map(|(k, _)| shard_no(k)).max()?;
        return Some(ShardView { shards: max + 1, source_labels: vec!["__address__".into()], assign: BTreeMap::new() });
    };
    let cfg: Value = serde_saphyr::from_str(cm["data"]["prometheus.yml"].as_str()?).ok()?;
    let jobs = cfg["scrape_configs"].as_array()?;
    let mut shards = 1;
    let mut source_labels = vec!["__address__".to_string()];
    for rc in jobs.iter().filter_map(|j| j["relabel_configs"].as_array()).flatten() {
        if rc["action"] == "hashmod" {
            // Any modulus is a number to compute with, never a length (see `sharding`).
            shards = rc["modulus"].as_u64().unwrap_or(1).max(1);
        }
        if rc["action"] == "replace" && rc["target_label"] == "__tmp_hash" {
            if let Some(src) = rc["source_labels"].as_array() {
                source_labels =
                    src.iter().filter_map(Value::as_str).filter(|s| *s != "__tmp_hash").map(String::from).collect();
            }
        }
    }
    let all = KubernetesJobs {
        discovery: true,
        control_plane: true,
        cluster_domain: String::new(),
        dns_addresses: Vec::new(),
    };
    let builtin = builtin_job_names(&all, true);
    let mut assign = BTreeMap::new();
    for j in jobs {
        let job = j["job_name"].as_str().unwrap_or_default();
        if builtin.contains(&job) {
            continue;
        }
        for sc in j["static_configs"].as_array().into_iter().flatten() {
            if sc["labels"].get("__tmp_disable_sharding").is_some() {
                continue;
            }
            for t in sc["targets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let shard = shard_of(&source_labels, shards, t, |l| sc["labels"][l].as_str());
                assign.insert((job.to_string(), t.to_string()), shard);
            }
        }
    }
    Some(ShardView { shards, source_labels, assign })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub job: String,
    pub target: String,
    pub from: u64,
    pub to: u64,
}

pub fn moves(old: &ShardView, new: &ShardView) -> Vec<Move> {
    old.assign
        .iter()
        .filter_map(|((job, target), &from)| {
            let &to = new.assign.get(&(job.clone(), target.clone()))?;
            (to != from).then(|| Move { job: job.clone(), target: target.clone(), from, to })
        })
        .collect()
}

/// The stack-wide risk of a shard count or sharding change.
pub fn sharding(old: &ShardView, new: &ShardView, moved: &[Move], stack: &str) -> Option<Risk> {
    let common = old.assign.keys().filter(|k| new.assign.contains_key(*k)).count();
    if old.shards != new.shards {
        let mut msg = format!("shard count {} → {}", old.shards, new.shards);
        let (lo, hi) = (old.shards.min(new.shards), old.shards.max(new.shards));
        // The old count comes from the input (a `modulus` of 1e7 once printed 289 MB): name at
        // most MAX_LISTED StatefulSets and count the rest, so the message is bounded.
        let mut names: Vec<String> =
            (lo..hi).take(MAX_LISTED).map(|i| format!("{stack}-prometheus-shard-{i}")).collect();
        let more = (hi - lo).saturating_sub(MAX_LISTED as u64);
        if more > 0 {
            names.push(format!("and {more} more"));
        }
        if new.shards > old.shards {
            msg.push_str(&format!(": StatefulSet(s) {} added", names.join(", ")));
        } else {
            msg.push_str(&format!(
                ": StatefulSet(s) {} removed (their volumes keep data nothing serves)",
                names.join(", ")
            ));
        }
        msg.push_str(&format!(
            "; every shard's hashmod changes and series move between shards: {} of {common} static targets move; \
             their history stays on the old shard (queryable through Thanos Query, otherwise split)",
            moved.len()
        ));
        return Some(Risk {
            code: Code::ShardCount,
            category: Category::DataMoves,
            object: None,
            path: None,
            message: msg,
            action: None,
        });
    }
    if !moved.is_empty() {
        return Some(Risk {
            code: Code::TargetsMove,
            category: Category::DataMoves,
            object: None,
            path: None,
            message: format!(
                "sharding source labels {:?} → {:?}: {} of {common} static targets move to another shard",
                old.source_labels,
                new.source_labels,
                moved.len()
            ),
            action: None,
        });
    }
    None
}
