//! What the chart path cannot express from a stack (SG125).

use super::names::{fullname, statefulset_name, FULLNAME_MAX};
use super::values::semver_tag;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Backend, Stack};
use crate::render::{storage, Names};

/// What the chart path cannot express from this stack (SG125 warnings, printed by
/// `render --format helm-values`). Each names the stack.toml key it concerns.
pub fn unsupported(s: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut warn = |path: &str, message: String, help: &str| {
        out.push(Diagnostic::new(Code::HelmUnsupported, message, 0..0).with_path(path).with_help(help));
    };
    let n = Names { stack: s };
    if storage::static_components(&n) && (s.alertmanager.is_some() || s.grafana.is_some()) {
        warn(
            "/storage/component_class",
            format!(
                "the chart's Alertmanager and Grafana claims cannot bind the static {} PVs stackgen writes for them; \
                 in helm-values they keep their data in emptyDir",
                s.storage.backend.name()
            ),
            "set [storage] component_class to a StorageClass for the chart's claims",
        );
    }
    if s.kubernetes.discovery {
        warn(
            "/kubernetes/discovery",
            "the chart has no equivalent of stackgen's prometheus.io/scrape annotation jobs \
             (kubernetes-pods, kubernetes-service-endpoints); it scrapes the cluster through its own ServiceMonitors"
                .into(),
            "select annotated workloads with ServiceMonitors or PodMonitors \
             (prometheus.additionalServiceMonitors, prometheus.additionalPodMonitors)",
        );
    } else if s.kubernetes.control_plane {
        warn(
            "/kubernetes/control_plane",
            "discovery = false sets kubernetesServiceMonitors.enabled = false, which also turns off the \
             control-plane ServiceMonitors"
                .into(),
            "set discovery = true to scrape the control plane through the chart",
        );
    }
    if s.network_policies {
        let mut covered = Vec::new();
        if s.thanos.is_some() {
            covered.push("Thanos Query, Store Gateway and Compactor");
        }
        if matches!(s.storage.backend, Backend::NfsProvisioner { .. }) {
            covered.push("the NFS provisioner");
        }
        let ours = if covered.is_empty() {
            "manifests.yaml has no pods to cover".to_string()
        } else {
            format!("stackgen's NetworkPolicies in manifests.yaml cover only {}", covered.join(" and "))
        };
        warn(
            "/security/network_policies",
            format!(
                "the chart writes no NetworkPolicy by default: Prometheus{}, Alertmanager, Grafana, the operator, \
                 kube-state-metrics and node-exporter accept connections from anywhere; {ours}",
                if s.thanos.is_some() { " (and its Thanos sidecar)" } else { "" }
            ),
            "turn on the chart's prometheus.networkPolicy, alertmanager.networkPolicy, prometheusOperator.networkPolicy, \
             grafana.networkPolicy, kube-state-metrics.networkPolicy and prometheus-node-exporter.networkPolicy \
             with the ingress your cluster needs, or write policies for those pods",
        );
    }
    if let Some(t) = s.thanos.as_ref().filter(|t| semver_tag(&t.image).is_none()) {
        warn(
            "/thanos/image",
            format!(
                "prometheusSpec.thanos.version is not set: the tag `{}` is not a version, so the operator \
                 picks the sidecar's flags for its own default Thanos version",
                t.image.tag
            ),
            "use a released Thanos tag (vX.Y.Z)",
        );
    }
    if s.sharding.source_labels != ["__address__"] {
        warn(
            "/sharding/source_labels",
            format!(
                "the operator shards on __address__ only; source_labels = [{}] is not rendered",
                s.sharding.source_labels.join(", ")
            ),
            "label targets with __tmp_hash to steer their shard",
        );
    }
    if s.sharding.shards > 1 {
        let (more, help) = if s.thanos.is_some() {
            (
                "blocks of different shards differ only by the replica label, so the compactor merges them",
                "Thanos Query still reaches every shard through the sidecars",
            )
        } else {
            (
                "and the chart's Prometheus Service and Grafana datasource span every shard",
                "query a sharded stack through Thanos ([thanos])",
            )
        };
        warn(
            "/sharding/shards",
            format!(
                "the chart gives every shard the same external labels: stackgen's per-shard `shard` label \
                 is not rendered; {more}"
            ),
            help,
        );
    }
    if matches!(s.storage.backend, Backend::Ephemeral) && s.storage.size.is_some() {
        warn(
            "/storage/size",
            "the emptyDir size limit is not rendered: the chart's storageSpec is {} (emptyDir without a limit)".into(),
            "use a persistent backend for anything you want to keep",
        );
    }
    if s.grafana.as_ref().is_some_and(|g| g.admin_secret.is_none()) {
        warn(
            "/grafana",
            "Grafana has no admin_secret: the chart falls back to its adminPassword default (prom-operator), \
             a published password"
                .into(),
            "admin_secret = \"<an existing Secret with admin-user and admin-password>\"",
        );
    }
    if s.name.as_str().len() > FULLNAME_MAX {
        warn(
            "/stack/name",
            format!(
                "the chart cuts fullnameOverride to {FULLNAME_MAX} characters: its objects are named `{}-…`",
                fullname(s)
            ),
            "a stack name of at most 26 characters keeps the chart's names equal to the stack's",
        );
    }
    let longest = statefulset_name(s, s.sharding.shards - 1);
    if longest.len() > 52 {
        warn(
            "/stack/name",
            format!(
                "the operator's StatefulSet `{longest}` is longer than 52 characters: its pods' \
                 controller-revision-hash label would exceed 63 and the pods are never created"
            ),
            "shorten the stack name",
        );
    }
    out
}
