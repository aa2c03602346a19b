//! `--format helm-values`: values for the kube-prometheus-stack chart, plus the objects
//! the chart does not create (companion manifests).
//!
//! Every key written here was checked against the values.yaml of chart version
//! [`CHART_VERSION`] and its sub-charts (`tests/fixtures/kube-prometheus-stack-88.5.3-paths.txt`
//! lists the paths; `tests/helm.rs` keeps every emitted path inside that list, checks the
//! list against the chart archive, and runs `helm template` of the real chart on every
//! stack's values). What a stack asks for and the chart cannot express is reported by
//! the lint rule SG125 (`lint::rules::sg125_helm_unsupported`), never dropped silently.
//!
//! The parts: `names` (the names the chart and the operator give their objects),
//! `values` (the values document), `companions` (the objects the chart does not
//! create).
//!
//! Decisions, in short (README "Helm values" has the long form):
//! - Names: `fullnameOverride` is the stack name, so the chart's objects are named like
//!   stackgen's (the chart cuts the name to 26 characters) and static PVs can be pre-bound
//!   to the exact claims the operator makes: `prometheus-<cr>-db-<statefulset>-<ordinal>`.
//! - One `storageSpec` serves every shard, so static PVs carry a selector label common to
//!   the stack instead of one per shard; the claimRef still pins each PV to one pod.
//! - Thanos object storage: the operator reads the whole objstore config from a Secret
//!   (`objectStorageConfig.existingSecret {name, key}`). stackgen writes that Secret itself
//!   (`<stack>-thanos-objstore`, key `objstore.yml`) holding only the non-secret config with
//!   `$(OBJSTORE_<KEY>)` placeholders, exactly as in the manifests render; the credentials
//!   stay in `credentials_secret` and reach the operator's `thanos-sidecar` container as
//!   environment variables through `prometheusSpec.containers`, which the operator merges
//!   into the containers it generates (strategic merge by name). Thanos substitutes the
//!   placeholders from its environment (since v0.22).
//! - Thanos Query, Store Gateway and Compactor are stackgen's own objects; Query finds the
//!   sidecars through the chart's `<fullname>-thanos-discovery` Service. They get
//!   stackgen's NetworkPolicies (with the chart's pod labels for Prometheus and Grafana)
//!   and a PodMonitor (`prometheus.additionalPodMonitors`); the sidecars are scraped by the
//!   chart's `thanosServiceMonitor`.
//! - The same behaviour as manifests mode where the chart can express it: no extra
//!   `prometheus` external label (`prometheusExternalLabelNameClear`), a disruption budget
//!   of `maxUnavailable: 1`, `fsGroupChangePolicy: OnRootMismatch`, `thanos.version`, and the
//!   Grafana datasource asking Thanos Query for `max_source_resolution=auto`. The TSDB lives
//!   in `<volume>/prometheus-db/` in both modes (the operator's subPath).

pub(crate) mod companions;
pub(crate) mod names;
pub(crate) mod values;

pub use companions::companion_objects;
pub use names::{
    claim_name, cut_fullname, fullname, operator_statefulset, prometheus_cr, statefulset_name, thanos_discovery,
};
pub use values::values;

use super::{yaml, HEADER};
use crate::model::Stack;

/// The chart these values are for.
pub const CHART: &str = "kube-prometheus-stack";
/// The chart version every key path was checked against (its values.yaml and those of
/// its sub-charts, as published).
pub const CHART_VERSION: &str = "88.5.3";
/// Where that chart version comes from.
pub const CHART_SOURCE: &str =
    "kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts cf408a2, Prometheus Operator v0.93.1)";
/// The grafana sub-chart it ships, whose values.yaml the `grafana.*` keys were checked against.
pub const GRAFANA_CHART_SOURCE: &str = "grafana 12.11.1 (grafana-community/helm-charts 3386a115)";
/// Key of the objstore config in the Secret the operator reads.
pub const OBJSTORE_KEY: &str = "objstore.yml";

/// The two products of the helm-values format.
pub struct HelmOutput {
    /// The values document for kube-prometheus-stack (YAML text).
    pub values: String,
    /// The companion objects the chart does not create (multi-document YAML; may be empty).
    pub manifests: String,
}

pub fn render(stack: &Stack) -> HelmOutput {
    let mut values = String::from(HEADER);
    values.push_str(&values_header(stack));
    yaml::write_document(&mut values, &self::values(stack));
    let mut manifests = String::from(HEADER);
    manifests.push_str(&format!(
        "# Objects {CHART} does not create. Apply before the chart:\n#   kubectl apply --server-side -f manifests.yaml\n"
    ));
    manifests.push_str(&super::to_yaml(&companion_objects(stack)));
    HelmOutput { values, manifests }
}

fn values_header(s: &Stack) -> String {
    format!(
        "# Values for the {CHART} chart version {CHART_VERSION}, every key checked against the\n\
         # values.yaml of {CHART_SOURCE}\n\
         # and of its sub-chart {GRAFANA_CHART_SOURCE}.\n\
         # Apply manifests.yaml first, then:\n\
         #   helm upgrade --install {name} prometheus-community/{CHART} --version {CHART_VERSION} --namespace {ns} --values values.yaml\n",
        name = s.name,
        ns = s.namespace,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::values::image_values;
    use super::*;
    use crate::model::Image;

    fn stack(text: &str) -> Stack {
        crate::test_stack(text)
    }

    #[test]
    fn operator_names() {
        let s = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 2\n");
        assert_eq!(statefulset_name(&s, 0), "prometheus-ha-prometheus");
        assert_eq!(statefulset_name(&s, 1), "prometheus-ha-prometheus-shard-1");
        assert_eq!(claim_name(&s, 1, 0), "prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-1-0");
    }

    #[test]
    fn fullname_is_cut_like_the_chart() {
        let s = stack("[stack]\nname = \"abcdefghijklmnopqrstuvwxy-z\"\n[storage]\nbackend = \"ephemeral\"\n");
        assert_eq!(fullname(&s), "abcdefghijklmnopqrstuvwxy");
    }

    #[test]
    fn cluster_namespaces_are_not_created() {
        // kube-* is refused before render (SG128); `default` and a namespace the stack
        // does not own render without a Namespace object.
        for meta in ["namespace = \"default\"", "namespace = \"shared\"\ncreate_namespace = false"] {
            let s = stack(&format!("[stack]\nname = \"x\"\n{meta}\n[storage]\nbackend = \"ephemeral\"\n"));
            assert!(!companion_objects(&s).iter().any(|o| o.kind == "Namespace"), "{meta}");
        }
    }

    #[test]
    fn images_split_registry() {
        let img = |r: &str| Image { repository: r.into(), tag: "v1".into(), digest: Some("sha256:ab".into()) };
        assert_eq!(
            image_values(&img("quay.io/prometheus/prometheus")),
            json!({"registry": "quay.io", "repository": "prometheus/prometheus", "tag": "v1", "sha": "ab"})
        );
        assert_eq!(image_values(&img("grafana/grafana"))["registry"], "docker.io");
    }
}
