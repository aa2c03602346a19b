//! The Grafana dashboard of the stack itself (`alerting::dashboard`), provisioned with
//! the stack when `[grafana]` is present and `[rules] self_monitoring` is on:
//! - manifests and operator modes: the ConfigMap `<stack>-grafana-dashboards` holds the
//!   dashboard JSON and Grafana's dashboard provider file; the Grafana Deployment mounts
//!   it at [`PROVISIONING_DIR`], where Grafana reads the provider (`*.yaml`) and the
//!   provider reads the dashboards (`*.json`);
//! - helm-values mode: the same ConfigMap without the provider, labelled for the chart's
//!   Grafana sidecar (`grafana.sidecar.dashboards`), as a companion object.
//!
//! Its panels query the datasource stackgen (or the chart) provisions, by uid.

use std::collections::BTreeMap;

use super::k8s;
use super::{yaml, Names, Object};
use crate::alerting::builtin::SelfMonitoring;
use crate::alerting::dashboard::{self, Source};

/// Where Grafana reads the dashboard provider, and the provider the dashboards.
pub const PROVISIONING_DIR: &str = "/etc/grafana/provisioning/dashboards";
/// The ConfigMap key of the dashboard JSON.
pub const DASHBOARD_KEY: &str = "stackgen-stack-health.json";
/// The ConfigMap key of the provider file.
pub const PROVIDER_KEY: &str = "stackgen-provider.yaml";
/// The label (and value) the chart's Grafana sidecar looks for (the chart's defaults of
/// `grafana.sidecar.dashboards.label` / `labelValue`, set explicitly in the values).
pub const SIDECAR_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// Whether the stack provisions its dashboard.
pub fn enabled(n: &Names<'_>) -> bool {
    n.stack.grafana.is_some() && n.stack.rules.self_monitoring
}

/// The ConfigMap's name: `<stack>-grafana-dashboards`.
pub fn config_map_name(n: &Names<'_>) -> String {
    n.obj("grafana-dashboards")
}

/// Grafana's dashboard provider: the dashboards of [`PROVISIONING_DIR`] in a `stackgen`
/// folder, not editable in the UI (a change would be lost at the next render).
pub fn provider_yaml() -> String {
    let v = serde_json::json!({
        "apiVersion": 1,
        "providers": [{
            "name": "stackgen",
            "folder": "stackgen",
            "type": "file",
            "disableDeletion": true,
            "allowUiUpdates": false,
            "updateIntervalSeconds": 30,
            "options": {"path": PROVISIONING_DIR, "foldersFromFilesStructure": false},
        }],
    });
    yaml::to_string(&v)
}

/// The dashboard ConfigMap: the JSON, and the provider file when `provider` (manifests
/// and operator modes; the chart's sidecar has its own). Extra labels for the sidecar.
pub fn config_map(
    n: &Names<'_>,
    m: &SelfMonitoring,
    src: &Source,
    provider: bool,
    extra_labels: &[(&str, &str)],
) -> Object {
    let mut data = BTreeMap::new();
    data.insert(DASHBOARD_KEY.to_string(), dashboard::dashboard_json(m, src));
    if provider {
        data.insert(PROVIDER_KEY.to_string(), provider_yaml());
    }
    let mut labels = n.labels("grafana", "grafana", None);
    for (k, v) in extra_labels {
        labels.insert((*k).to_string(), (*v).to_string());
    }
    k8s::config_map(&config_map_name(n), &n.ns(), labels, data)
}
