//! The sharding view: how static targets spread over shards before and after, the
//! targets that move, and the stack-wide risk of a shard count or sharding change.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Category, Code, Risk};
use crate::diff::Key;
use crate::lifecycle::reshard::{least_moving, moved_share};
use crate::model::date::format_date;
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
    /// (job, target) → shard, for sharded static targets of `[[scrape]]` jobs and the
    /// targets of `[[probe]]` jobs.
    pub assign: BTreeMap<(String, String), u64>,
    /// The jobs of `assign` that are probes (hashed on the probed target).
    pub probe_jobs: std::collections::BTreeSet<String>,
    /// What the stack says about its shards' data (a view read from objects has none).
    pub data: Option<ShardData>,
}

/// How long a stack's shards keep their data, and the shards it retires.
#[derive(Debug, Clone)]
pub struct ShardData {
    /// `[prometheus] retention`, as written.
    pub retention: String,
    pub thanos: bool,
    /// `[sharding] retired`: the count before the shrink, since, until.
    pub retired: Option<Retirement>,
}

/// `[sharding] retired`, with its dates computed.
#[derive(Debug, Clone)]
pub struct Retirement {
    /// The shard count before the shrink: shards up to it are kept.
    pub shards: u64,
    pub since: String,
    /// The first day the retired shards hold nothing within retention.
    pub until: String,
    /// With Thanos: the day by which the sidecars have uploaded every block cut.
    pub uploaded_by: Option<String>,
}

pub fn view_of_stack(stack: &Stack) -> ShardView {
    let mut assign = BTreeMap::new();
    for j in stack.scrape.iter().filter(|j| j.sharded) {
        for t in &j.targets {
            assign.insert((j.job.clone(), t.clone()), stack.sharding.shard_of_target(t, &j.labels));
        }
    }
    // Probe targets are sharded on the probed target (`__param_target`, set from the
    // listed address), as the operator shards Probes: they move with the count too.
    let shards = u64::from(stack.sharding.shards);
    for p in &stack.probes {
        for t in &p.targets {
            assign.insert((p.job.clone(), t.clone()), shard_of(&[PROBE_HASH], shards, t, |l| probe_label(l, t)));
        }
    }
    let p = &stack.prometheus;
    let retired = stack.sharding.retired.map(|r| Retirement {
        shards: u64::from(r.shards),
        since: r.since_date(),
        until: r.until_date(p.retention.millis()),
        uploaded_by: stack.thanos.is_some().then(|| format_date(r.since.saturating_add(1))),
    });
    ShardView {
        shards,
        source_labels: stack.sharding.source_labels.clone(),
        assign,
        probe_jobs: stack.probes.iter().map(|p| p.job.clone()).collect(),
        data: Some(ShardData { retention: p.retention.as_str().to_string(), thanos: stack.thanos.is_some(), retired }),
    }
}

/// The label a probe job hashes: the probed target, copied from `__address__` before
/// the address becomes the exporter's.
const PROBE_HASH: &str = "__param_target";

/// A probe target's labels before discovery: `__param_target` is the target itself.
fn probe_label<'a>(label: &str, target: &'a str) -> Option<&'a str> {
    (label == PROBE_HASH).then_some(target)
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
        return Some(ShardView {
            shards: max + 1,
            source_labels: vec!["__address__".into()],
            assign: BTreeMap::new(),
            probe_jobs: Default::default(),
            data: None,
        });
    };
    let cfg: Value = serde_saphyr::from_str(cm["data"]["prometheus.yml"].as_str()?).ok()?;
    let jobs = cfg["scrape_configs"].as_array()?;
    let mut shards = 1;
    // What each job hashes; the stack's source labels are those of a job that is not a
    // probe's (probe jobs hash the probed target whatever the stack's labels are).
    let mut hashed: Vec<Option<Vec<String>>> = Vec::with_capacity(jobs.len());
    for j in jobs {
        let mut labels = None;
        for rc in j["relabel_configs"].as_array().into_iter().flatten() {
            if rc["action"] == "hashmod" {
                // Any modulus is a number to compute with, never a length (see `sharding`).
                shards = rc["modulus"].as_u64().unwrap_or(1).max(1);
            }
            if rc["action"] == "replace" && rc["target_label"] == "__tmp_hash" {
                if let Some(src) = rc["source_labels"].as_array() {
                    labels = Some(
                        src.iter().filter_map(Value::as_str).filter(|s| *s != "__tmp_hash").map(String::from).collect(),
                    );
                }
            }
        }
        hashed.push(labels);
    }
    let is_probe = |labels: &[String]| labels.iter().any(|l| l == PROBE_HASH);
    let source_labels =
        hashed.iter().flatten().find(|l| !is_probe(l)).cloned().unwrap_or_else(|| vec!["__address__".to_string()]);
    let all = KubernetesJobs {
        discovery: true,
        control_plane: true,
        cluster_domain: String::new(),
        dns_addresses: Vec::new(),
    };
    let builtin = builtin_job_names(&all, true);
    let mut assign = BTreeMap::new();
    let mut probe_jobs = std::collections::BTreeSet::new();
    for (j, labels) in jobs.iter().zip(&hashed) {
        let job = j["job_name"].as_str().unwrap_or_default();
        if builtin.contains(&job) {
            continue;
        }
        let probe = labels.as_deref().is_some_and(is_probe);
        if probe {
            probe_jobs.insert(job.to_string());
        }
        let labels = labels.as_deref().unwrap_or(&source_labels);
        for sc in j["static_configs"].as_array().into_iter().flatten() {
            if sc["labels"].get("__tmp_disable_sharding").is_some() {
                continue;
            }
            for t in sc["targets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let label = |l: &str| probe.then(|| probe_label(l, t)).flatten().or_else(|| sc["labels"][l].as_str());
                let shard = shard_of(labels, shards, t, label);
                assign.insert((job.to_string(), t.to_string()), shard);
            }
        }
    }
    Some(ShardView { shards, source_labels, assign, probe_jobs, data: None })
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

/// A share as a percentage: `50%`, `98.4%`.
pub fn percent(share: f64) -> String {
    let p = format!("{:.1}", share * 100.0);
    format!("{}%", p.strip_suffix(".0").unwrap_or(&p))
}

/// StatefulSet names of shards `range`, at most MAX_LISTED named and the rest counted (the
/// old count comes from the input: a `modulus` of 1e7 once printed 289 MB).
fn statefulsets(stack: &str, range: std::ops::Range<u64>) -> String {
    let more = (range.end - range.start).saturating_sub(MAX_LISTED as u64);
    let mut names: Vec<String> = range.take(MAX_LISTED).map(|i| format!("{stack}-prometheus-shard-{i}")).collect();
    if more > 0 {
        names.push(format!("and {more} more"));
    }
    names.join(", ")
}

/// Shard numbers `range`, as `2, 3` or `2..63`.
fn shard_numbers(range: &std::ops::Range<u64>) -> String {
    if range.end - range.start <= 4 {
        range.clone().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    } else {
        format!("{}..{}", range.start, range.end - 1)
    }
}

/// The stack-wide risk of a shard count or sharding change. A count change says the share
/// of targets hashmod moves (and, growing, the count near the one asked for that moves
/// the least); a shrink says which shards retire and until when (`[sharding] retired`),
/// or that their data becomes unreachable and how to keep it.
pub fn sharding(old: &ShardView, new: &ShardView, moved: &[Move], stack: &str) -> Option<Risk> {
    let common = old.assign.keys().filter(|k| new.assign.contains_key(*k)).count();
    if old.shards != new.shards {
        let (from, to) = (old.shards, new.shards);
        // Counts are at most 1024 in a stack; a count read from input is clamped for the
        // arithmetic only.
        let clamp = |n: u64| u16::try_from(n.min(u64::from(u16::MAX))).unwrap_or(u16::MAX);
        let share = moved_share(clamp(from), clamp(to));
        let mut msg = format!(
            "shard count {from} → {to}: every shard's hashmod changes and {} of targets move to another shard \
             ({} of {common} static targets here); each target's history stays on the shard that scraped it",
            percent(share),
            moved.len()
        );
        let mut action = None;
        let mut category = Category::DataMoves;
        if to > from {
            msg.push_str(&format!("; StatefulSet(s) {} added", statefulsets(stack, from..to)));
            let (best, best_share) = least_moving(clamp(from), clamp(to), 1024);
            let hi = u64::from(clamp(to)).saturating_mul(2).min(1024);
            if u64::from(best) != to && best_share < share {
                msg.push_str(&format!(
                    "; {best} shards would move the least of {to}..{hi}: {} ({from} → {best})",
                    percent(best_share)
                ));
            } else {
                msg.push_str(&format!("; no count from {to} to {hi} moves fewer"));
            }
        } else {
            let data = new.data.as_ref();
            let retired = data.and_then(|d| d.retired.as_ref());
            let kept_to = retired.map_or(to, |r| r.shards.clamp(to, from));
            let retention = data.map_or_else(|| "its retention".to_string(), |d| format!("retention {}", d.retention));
            let thanos = data.is_some_and(|d| d.thanos);
            if let Some(r) = retired.filter(|_| kept_to > to) {
                msg.push_str(&format!(
                    "; shard(s) {} retire: StatefulSet(s) {} keep their pods and volumes, scrape nothing, and serve \
                     their data{} until {} (from {} plus {retention}); remove `[sharding] retired` (and so them) on \
                     or after {}",
                    shard_numbers(&(to..kept_to)),
                    statefulsets(stack, to..kept_to),
                    if thanos { " through Thanos Query" } else { " (their own Prometheus and Grafana datasource)" },
                    r.until,
                    r.since,
                    r.until
                ));
                if let Some(up) = &r.uploaded_by {
                    msg.push_str(&format!(
                        "; their sidecars have uploaded every block cut by {up}: from then on the bucket holds all \
                         but the head's last hours"
                    ));
                }
            }
            if kept_to < from {
                category = Category::DataLoss;
                msg.push_str(&format!(
                    "; StatefulSet(s) {} removed: the data on their volumes ({retention}) becomes unreachable{}",
                    statefulsets(stack, kept_to..from),
                    if thanos {
                        " except blocks their sidecars already uploaded (the head and the newest block are lost)"
                    } else {
                        ": nothing queries those volumes any more"
                    }
                ));
                action = Some(format!(
                    "to keep it queryable until it is past retention, retire the shards instead of removing them: \
                     add `retired = {{ shards = {from}, since = \"YYYY-MM-DD\" }}` to [sharding] (the day you apply), \
                     and remove it from the day their ConfigMaps name (stackgen.dev/retired-until)"
                ));
            }
        }
        return Some(Risk { code: Code::ShardCount, category, object: None, path: None, message: msg, action });
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
