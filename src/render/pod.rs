//! What the pods of every component share: the ports they listen on, the data volume
//! Prometheus and the Thanos sidecar both mount, spreading over nodes and zones, and the
//! disruption budget. Prometheus, Thanos and the other workloads build their pods from
//! these; none of them imports another's builder.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, PodAffinityTerm, PodAntiAffinity, TopologySpreadConstraint, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::k8s::{self, meta};
use super::Object;

/// Prometheus' web port (API, UI, `/-/reload`).
pub const PROMETHEUS_PORT: i32 = 9090;
/// Where the config reloader's metrics and health endpoint listen.
pub const RELOADER_PORT: i32 = 8080;
/// Thanos' gRPC StoreAPI (sidecar, Query, Store Gateway).
pub const THANOS_GRPC_PORT: i32 = 10901;
/// Thanos' HTTP port (metrics, health, Query's API).
pub const THANOS_HTTP_PORT: i32 = 10902;

/// The prefix of the pod annotations that roll a pod when a file it reads changes.
pub const CHECKSUM_PREFIX: &str = "checksum/";

/// The pod annotation for a file of ConfigMap `config_map` that its pods read only at
/// start: `checksum/<config_map>` = the md5 of `text`, so a changed file rolls them.
pub fn checksum_annotation(config_map: &str, text: &str) -> (String, String) {
    use md5::{Digest, Md5};
    (format!("{CHECKSUM_PREFIX}{config_map}"), format!("{:x}", Md5::digest(text.as_bytes())))
}

/// Spread the pods of one selector over zones where the nodes have zones. A preference
/// (ScheduleAnyway): a zonal volume (a cloud disk, a local PV) already pins an existing
/// pod to its zone, and a hard constraint would leave it Pending rather than let it
/// return to its data.
pub fn zone_spread(sel: BTreeMap<String, String>) -> Vec<TopologySpreadConstraint> {
    vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        label_selector: Some(k8s::selector(sel)),
        ..Default::default()
    }]
}

/// The directory of the data volume that holds the TSDB: the Prometheus Operator mounts
/// its data volume with this subPath, and so does stackgen, so a TSDB is at
/// `<volume>/prometheus-db/` in both render formats (a migrated TSDB goes there; on a
/// static PV that is a directory inside the NFS export directory or local path).
pub const TSDB_SUBPATH: &str = "prometheus-db";

/// The data volume as Prometheus and the Thanos sidecar mount it: `subPath`
/// [`TSDB_SUBPATH`] at `/prometheus`, the path of `--storage.tsdb.path` and `--tsdb.path`.
pub fn tsdb_mount() -> VolumeMount {
    let mut m = k8s::mount("data", "/prometheus", false);
    m.sub_path = Some(TSDB_SUBPATH.into());
    m
}

/// Prefer to spread the pods of one selector over nodes.
pub fn spread(sel: BTreeMap<String, String>) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(k8s::selector(sel)),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// At most one pod of `sel` down at a time by a voluntary disruption (drain, eviction).
pub fn pdb(name: &str, ns: &str, labels: BTreeMap<String, String>, sel: BTreeMap<String, String>) -> Object {
    Object::new(&PodDisruptionBudget {
        metadata: meta(name, Some(ns), labels),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(k8s::selector(sel)),
            ..Default::default()
        }),
        ..Default::default()
    })
}
