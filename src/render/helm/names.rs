//! The names the chart and the Prometheus Operator give the objects they create, for
//! the values that point at them and the companion objects that must match them.

use std::collections::BTreeMap;

use crate::model::Stack;

pub use crate::model::chart::{cut_fullname, fullname, operator_statefulset, prometheus_cr, statefulset_name};

/// The claim the operator's StatefulSet makes for one pod: the template is named
/// `prometheus-<cr>-db` when `volumeClaimTemplate.metadata.name` is unset.
pub fn claim_name(s: &Stack, shard: u16, replica: u32) -> String {
    format!("prometheus-{}-db-{}-{replica}", prometheus_cr(s), statefulset_name(s, shard))
}

/// The headless Service over every sidecar (`prometheus.thanosService`).
pub fn thanos_discovery(s: &Stack) -> String {
    format!("{}-thanos-discovery", fullname(s))
}

/// The Thanos components stackgen runs (Query, Store Gateway, Compactor), by their pod
/// labels.
pub(crate) fn thanos_components() -> [&'static str; 3] {
    ["thanos-query", "thanos-store", "thanos-compactor"]
}

/// Labels of the operator's Prometheus pods for the chart's Prometheus resource.
pub(crate) fn chart_prometheus_pods(s: &Stack) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("app.kubernetes.io/name".to_string(), "prometheus".to_string());
    m.insert("operator.prometheus.io/name".to_string(), prometheus_cr(s));
    m
}

/// Labels of the grafana sub-chart's pods.
pub(super) fn chart_grafana_pods() -> BTreeMap<String, String> {
    [("app.kubernetes.io/name".to_string(), "grafana".to_string())].into()
}
