//! Risk markers: changes Kubernetes rejects (`immutable` fields) and changes that
//! delete, strand or move data (`data`: storage class or backend, reclaim policy,
//! shorter retention, removed volumes; `sharding`: shard count and the targets that
//! move, computed with [`hashmod`](crate::model::sharding::hashmod), the function the
//! generated relabel rules run).

mod data;
mod immutable;
mod sharding;

use serde_json::Value;

use super::Key;
use crate::render::pod::CHECKSUM_PREFIX;

pub use data::{claims_fit, removed, unbindable_volumes};
pub use sharding::{
    moves, sharding, view_of_objects, view_of_stack, Move, Retirement, ShardData, ShardView, MAX_SHARDS,
};

/// What a risk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// The API server refuses the change: `kubectl apply` fails.
    Rejected,
    /// Data is deleted, or left on volumes nothing reads.
    DataLoss,
    /// Series move between Prometheus shards.
    DataMoves,
    /// Apply succeeds, but something must be done by hand first, or data stays out of
    /// reach (a claim Pending on a Released volume, a claim that must be resized).
    ActionNeeded,
    /// Pods are re-created (a rolling restart; Prometheus replays its WAL).
    Restart,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Rejected => "rejected",
            Category::DataLoss => "data-loss",
            Category::DataMoves => "data-moves",
            Category::ActionNeeded => "action-needed",
            Category::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Risk {
    pub code: Code,
    pub category: Category,
    /// The object concerned; `None` for stack-wide risks.
    pub object: Option<Key>,
    /// JSON pointer of the field in the object.
    pub path: Option<String>,
    pub message: String,
    /// What to run or do about it.
    pub action: Option<String>,
}

/// What a risk is, as its stable code (the strings are the output's `code`, in the
/// human report and the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// The API server refuses the change (an immutable field).
    ImmutableField,
    /// A pod template change re-creates every pod.
    PodRestart,
    /// Claims or volumes change StorageClass: the data stays on the old volumes.
    StorageClass,
    /// The `[storage] backend` changes: new, empty volumes.
    StorageBackend,
    /// Reclaim policy Retain → Delete.
    ReclaimPolicy,
    /// Prometheus keeps blocks for less time.
    RetentionShorter,
    /// Prometheus keeps fewer bytes of blocks.
    RetentionSizeSmaller,
    /// The Thanos Compactor keeps blocks in object storage for less time.
    ObjectStorageRetentionShorter,
    /// The retention size does not fit the claims that exist.
    RetentionOverClaims,
    /// Claims grow: each existing claim is resized by hand.
    VolumeGrow,
    /// Claims shrink: claims never shrink.
    VolumeShrink,
    /// A claim, a volume or a StatefulSet with claims is removed.
    VolumeRemoved,
    /// A volume the render needs cannot bind its claim.
    VolumeReleased,
    /// A volume is bound to another claim.
    VolumeRebind,
    /// A volume is mounted from another directory: the data there is no longer read.
    DataLayout,
    /// The shard count changes: series move between shards.
    ShardCount,
    /// Static targets move to another shard.
    TargetsMove,
    /// The chart's Prometheus resource is renamed: new StatefulSets on new claims.
    ReleaseRenamed,
    /// Fewer replicas: the claims of the removed pods stay.
    ReplicasFewer,
    /// The operator re-creates its StatefulSets (a claim template change).
    StatefulsetRecreate,
    /// Alertmanager's or Grafana's storage changes in the chart.
    ComponentStorage,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ImmutableField => "immutable-field",
            Code::PodRestart => "pod-restart",
            Code::StorageClass => "storage-class",
            Code::StorageBackend => "storage-backend",
            Code::ReclaimPolicy => "reclaim-policy",
            Code::RetentionShorter => "retention-shorter",
            Code::RetentionSizeSmaller => "retention-size-smaller",
            Code::ObjectStorageRetentionShorter => "object-storage-retention-shorter",
            Code::RetentionOverClaims => "retention-over-claims",
            Code::VolumeGrow => "volume-grow",
            Code::VolumeShrink => "volume-shrink",
            Code::VolumeRemoved => "volume-removed",
            Code::VolumeReleased => "volume-released",
            Code::VolumeRebind => "volume-rebind",
            Code::DataLayout => "data-layout",
            Code::ShardCount => "shard-count",
            Code::TargetsMove => "targets-move",
            Code::ReleaseRenamed => "release-renamed",
            Code::ReplicasFewer => "replicas-fewer",
            Code::StatefulsetRecreate => "statefulset-recreate",
            Code::ComponentStorage => "component-storage",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) fn risk(code: Code, category: Category, key: &Key, path: &str, message: String) -> Risk {
    Risk {
        code,
        category,
        object: Some(key.clone()),
        path: (!path.is_empty()).then(|| path.to_string()),
        message,
        action: None,
    }
}

pub(super) fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(unset)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

pub(super) fn ns_flag(key: &Key) -> String {
    key.namespace.as_ref().map(|n| format!(" -n {n}")).unwrap_or_default()
}

/// Risks of one changed object; `old` is already reduced to what stackgen sets.
pub fn changed(key: &Key, old: &Value, new: &Value) -> Vec<Risk> {
    let mut out = Vec::new();
    if matches!(key.kind.as_str(), "StatefulSet" | "Deployment" | "DaemonSet")
        && old.pointer("/spec/template") != new.pointer("/spec/template")
    {
        out.push(restart(key, old, new));
    }
    match key.kind.as_str() {
        "StatefulSet" => {
            immutable::statefulset(key, old, new, &mut out);
            data::statefulset(key, old, new, &mut out);
        }
        "Deployment" => immutable::deployment(key, old, new, &mut out),
        "Service" => immutable::service(key, old, new, &mut out),
        "PersistentVolume" => {
            immutable::pv(key, old, new, &mut out);
            data::pv(key, old, new, &mut out);
        }
        "PersistentVolumeClaim" => {
            immutable::pvc(key, old, new, "/spec", &mut out);
            data::pvc(key, old, new, "/spec", &mut out);
        }
        "StorageClass" => {
            immutable::storage_class(key, old, new, &mut out);
            data::storage_class(key, old, new, &mut out);
        }
        _ => {}
    }
    out
}

/// A pod template change: every pod is re-created. A change of prometheus.yml alone is
/// not one (the config reloader applies it in place), so this marks exactly the changes
/// that cost a restart.
fn restart(key: &Key, old: &Value, new: &Value) -> Risk {
    let (o, n) = (old.pointer("/spec/template"), new.pointer("/spec/template"));
    let mut what: Vec<String> = Vec::new();
    let ann = |v: Option<&Value>| v.and_then(|t| t.pointer("/metadata/annotations")).cloned().unwrap_or(Value::Null);
    let (oa, na) = (ann(o), ann(n));
    for (k, v) in na.as_object().into_iter().flatten() {
        if let Some(name) = k.strip_prefix(CHECKSUM_PREFIX) {
            if oa.get(k) != Some(v) {
                what.push(format!("ConfigMap {name}"));
            }
        }
    }
    let spec = |v: Option<&Value>| v.and_then(|t| t.get("spec")).cloned();
    if spec(o) != spec(n) {
        what.push("the pod spec".into());
    }
    if what.is_empty() {
        what.push("the pod template metadata".into());
    }
    let prometheus = arg(new, "--storage.tsdb.path").is_some();
    let how = match key.kind.as_str() {
        "StatefulSet" => "one pod at a time, highest ordinal first",
        _ => "by the rollout strategy",
    };
    risk(
        Code::PodRestart,
        Category::Restart,
        key,
        "/spec/template",
        format!(
            "{} {}: pods restart ({how}) because {} changed{}",
            key.kind,
            key.name,
            what.join(" and "),
            if prometheus {
                "; each Prometheus replays its WAL before it is ready (minutes on a large TSDB), while its HA peer serves"
            } else {
                ""
            }
        ),
    )
}

/// The value of `--flag=value` in any container of a pod template.
pub(super) fn arg<'a>(v: &'a Value, flag: &str) -> Option<&'a str> {
    let containers = v.pointer("/spec/template/spec/containers")?.as_array()?;
    containers.iter().filter_map(|c| c["args"].as_array()).flatten().find_map(|a| {
        let s = a.as_str()?;
        s.strip_prefix(flag)?.strip_prefix('=')
    })
}
