//! The names the chart and the Prometheus Operator give the objects they create, for
//! the values that point at them and the companion objects that must match them.

use std::collections::BTreeMap;

use crate::model::Stack;

/// The chart cuts `fullnameOverride` to this many characters (`trunc 26 | trimSuffix "-"`).
pub(super) const FULLNAME_MAX: usize = 26;

/// The chart's cut of a full name (`trunc 26 | trimSuffix "-"`): at most 26 bytes (less
/// where a character would be split), no trailing `-`.
pub fn cut_fullname(name: &str) -> String {
    let mut end = name.len().min(FULLNAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].trim_end_matches('-').to_string()
}

/// The chart's `kube-prometheus-stack.fullname` with `fullnameOverride` = the stack name.
pub fn fullname(s: &Stack) -> String {
    cut_fullname(s.name.as_str())
}

/// Name of the Prometheus custom resource the chart creates.
pub fn prometheus_cr(s: &Stack) -> String {
    format!("{}-prometheus", fullname(s))
}

/// The operator's StatefulSet for one shard: `prometheus-<cr>`, `prometheus-<cr>-shard-<i>`.
pub fn statefulset_name(s: &Stack, shard: u16) -> String {
    operator_statefulset(&prometheus_cr(s), u64::from(shard))
}

/// The operator's StatefulSet of shard `shard` of the Prometheus resource `cr`
/// (`prometheusNameByShard`).
pub fn operator_statefulset(cr: &str, shard: u64) -> String {
    if shard == 0 {
        format!("prometheus-{cr}")
    } else {
        format!("prometheus-{cr}-shard-{shard}")
    }
}

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
pub(super) fn thanos_components() -> [&'static str; 3] {
    ["thanos-query", "thanos-store", "thanos-compactor"]
}

/// Labels of the operator's Prometheus pods for the chart's Prometheus resource.
pub(super) fn chart_prometheus_pods(s: &Stack) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("app.kubernetes.io/name".to_string(), "prometheus".to_string());
    m.insert("operator.prometheus.io/name".to_string(), prometheus_cr(s));
    m
}

/// Labels of the grafana sub-chart's pods.
pub(super) fn chart_grafana_pods() -> BTreeMap<String, String> {
    [("app.kubernetes.io/name".to_string(), "grafana".to_string())].into()
}
