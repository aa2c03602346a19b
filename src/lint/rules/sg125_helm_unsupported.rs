//! SG125 `helm-unsupported`: what `--format helm-values` cannot express. Raised by
//! `render --format helm-values` (on stderr) and `lint --target helm-values`.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::chart::{fullname, semver_tag, FULLNAME_MAX};
use crate::model::expose::{ExposeKind, Exposed};
use crate::model::volumes::static_components;
use crate::model::{Backend, Stack};

crate::lint::rule_doc! {
    /// the kube-prometheus-stack chart cannot express part of the stack
    ///
    /// ## What it does
    /// With `--format helm-values` (and `lint --target helm-values`), warns about each
    /// choice of the stack that the kube-prometheus-stack chart has no value for, and
    /// about what the chart leaves open: static component PVs its claims cannot bind,
    /// annotation-based discovery, `source_labels` sharding, per-shard external labels,
    /// an emptyDir size limit, a Thanos tag that is not a version, Grafana without an
    /// admin Secret, names the chart cuts or the operator cannot use.
    ///
    /// ## Why is this bad?
    /// stackgen emits values for kube-prometheus-stack plus companion manifests. Some
    /// choices of a stack have no chart value (the chart renders its own Prometheus
    /// config, for example); stackgen says so instead of dropping them silently. It also
    /// names what the chart leaves open: its pods (Prometheus, Alertmanager, Grafana, the
    /// operator, kube-state-metrics, node-exporter) get no NetworkPolicy unless its
    /// networkPolicy values are turned on; stackgen's policies cover only the pods it
    /// writes itself (Thanos Query, Store Gateway, Compactor, the NFS provisioner).
    ///
    /// ## Example
    /// ```toml
    /// [sharding]
    /// shards = 4
    /// source_labels = ["__meta_kubernetes_pod_node_name"]   # the operator shards on __address__ only
    /// ```
}

/// The findings for a stack, in a fixed order. Each names the stack.toml key it concerns
/// (its path) and points at no place in the file: it is about the chart, not a value.
pub(crate) fn check(s: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut warn = |path: &str, message: String, help: &str| {
        out.push(Diagnostic::new(Code::HelmUnsupported, message, 0..0).with_path(path).with_help(help));
    };
    if static_components(s) && (s.alertmanager.is_some() || s.grafana.is_some()) {
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
    // Exposure of the chart's own pods: its Services and Ingresses take the type, node
    // port, host and TLS, but no stackgen NetworkPolicy guards its pods.
    for e in s.expose.iter().filter(|e| e.component != Exposed::Query) {
        let key = e.component.key();
        if !e.from.is_empty() {
            warn(
                &format!("/expose/{key}/from"),
                format!(
                    "the chart's {key} pods get no NetworkPolicy from stackgen: `from` only becomes \
                     loadBalancerSourceRanges (loadbalancer) or ingress-nginx's source-range annotation"
                ),
                "restrict the clients at the load balancer or firewall too, or turn on the chart's networkPolicy values",
            );
        }
        if let ExposeKind::LoadBalancer { node_port: Some(_) } = e.kind {
            warn(
                &format!("/expose/{key}/node_port"),
                format!(
                    "the chart sets {key}'s nodePort only on a NodePort Service: a LoadBalancer gets an allocated one"
                ),
                "remove node_port, or use type = \"nodeport\"",
            );
        }
    }
    if s.grafana.as_ref().is_some_and(|g| !g.egress.is_empty()) {
        warn(
            "/grafana/egress",
            "the chart's Grafana gets no NetworkPolicy from stackgen: [grafana] egress has nothing to open".into(),
            "nothing to do unless the chart's grafana.networkPolicy is turned on; then allow the same destinations there",
        );
    }
    if let Some(message) = super::super::operator_statefulset_too_long(s) {
        warn("/stack/name", message, "shorten the stack name");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> Stack {
        crate::test_stack(text)
    }

    fn paths(s: &Stack) -> Vec<String> {
        check(s).into_iter().map(|d| d.path.unwrap_or_default()).collect()
    }

    #[test]
    fn a_name_the_chart_cuts_is_reported() {
        let s = stack("[stack]\nname = \"abcdefghijklmnopqrstuvwxy-z\"\n[storage]\nbackend = \"ephemeral\"\n");
        let d = check(&s);
        assert!(d
            .iter()
            .any(|d| d.message.contains("26 characters") && d.message.contains("`abcdefghijklmnopqrstuvwxy-…`")));
        assert!(d.iter().all(|d| d.code == Code::HelmUnsupported && d.span == (0..0)), "{d:#?}");
    }

    #[test]
    fn findings_name_their_key_in_a_fixed_order() {
        let s = stack(
            "[stack]\nname = \"x\"\n[storage]\nbackend = \"ephemeral\"\nsize = \"10Gi\"\n[sharding]\nshards = 2\n\
             source_labels = [\"__address__\", \"job\"]\n[grafana]\n",
        );
        let got = paths(&s);
        let mut sorted = got.clone();
        sorted.dedup();
        assert_eq!(got, sorted, "one finding per key");
        for want in ["/sharding/source_labels", "/sharding/shards", "/storage/size", "/grafana"] {
            assert!(got.iter().any(|p| p == want), "{want} in {got:?}");
        }
        let i = |p: &str| got.iter().position(|g| g == p).unwrap();
        assert!(i("/sharding/source_labels") < i("/sharding/shards") && i("/storage/size") < i("/grafana"));
    }
}
