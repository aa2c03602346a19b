//! What the alerting pieces need from a validated stack, decided once for render and
//! lint: the job names of the self-monitoring scrape jobs, the built-in rule file's
//! input, the probe specs and the exporter's config.

use super::blackbox;
use super::builtin::{AlertmanagerJob, SelfMonitoring, ThanosJobs};
use crate::model::Stack;

/// The self-monitoring job names (reserved: a `[[scrape]]` or `[[probe]]` job may not
/// take them, see `model::jobs`).
pub const PROMETHEUS_JOB: &str = "prometheus";
pub const SHARDS_JOB: &str = "prometheus-shards";
pub const SIDECAR_JOB: &str = "thanos-sidecar";
pub const QUERY_JOB: &str = "thanos-query";
pub const STORE_JOB: &str = "thanos-store";
pub const COMPACTOR_JOB: &str = "thanos-compactor";
pub const ALERTMANAGER_JOB: &str = "alertmanager";
pub const GRAFANA_JOB: &str = "grafana";
pub const BLACKBOX_JOB: &str = "blackbox-exporter";

/// The key of the built-in rule file in the rules ConfigMap (a user rule file of that
/// name is refused, SG146).
pub const BUILTIN_RULE_FILE: &str = "stackgen-self-monitoring.yaml";

/// The input of the built-in rules for this stack, as the manifests render scrapes it.
pub fn self_monitoring(s: &Stack) -> SelfMonitoring {
    SelfMonitoring {
        namespace: s.namespace.to_string(),
        stack: s.name.to_string(),
        shards: u32::from(s.sharding.shards),
        replicas: s.prometheus.replicas,
        prometheus_job: PROMETHEUS_JOB.into(),
        shards_job: SHARDS_JOB.into(),
        // The StatefulSets' claims: data-<stack>-prometheus-shard-<i>-<ordinal>.
        tsdb_claims: format!("data-{}-prometheus-shard-.*", s.name),
        thanos: s.thanos.as_ref().map(|_| ThanosJobs {
            sidecar: SIDECAR_JOB.into(),
            query: Some(QUERY_JOB.into()),
            store: Some(STORE_JOB.into()),
            compactor: Some(COMPACTOR_JOB.into()),
        }),
        alertmanager: s
            .alertmanager
            .as_ref()
            .map(|a| AlertmanagerJob { job: ALERTMANAGER_JOB.into(), replicas: a.replicas }),
        grafana_job: s.grafana.as_ref().map(|_| GRAFANA_JOB.into()),
        blackbox_job: (!s.probes.is_empty()).then(|| BLACKBOX_JOB.into()),
    }
}

/// The rule files loaded by every shard, as (ConfigMap key, text), sorted by key: the
/// built-in one (with `self_monitoring`) and the stack's `[rules] files`.
pub fn rule_files(s: &Stack) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = s.rules.files.iter().map(|f| (f.name.clone(), f.text.clone())).collect();
    if s.rules.self_monitoring {
        out.push((BUILTIN_RULE_FILE.into(), super::builtin::rule_file(&self_monitoring(s))));
    }
    out.sort();
    out
}

/// The ConfigMap keys of [`rule_files`], in its order, without building their texts
/// (the built-in file is generated only where its text is written).
pub fn rule_file_names(s: &Stack) -> Vec<String> {
    let mut out: Vec<String> = s.rules.files.iter().map(|f| f.name.clone()).collect();
    if s.rules.self_monitoring {
        out.push(BUILTIN_RULE_FILE.into());
    }
    out.sort();
    out
}

/// The blackbox_exporter config for the stack's probes (`None` without probes).
pub fn exporter_config(s: &Stack) -> Option<String> {
    (!s.probes.is_empty()).then(|| blackbox::exporter_config(&s.probes))
}

/// The built-in Thanos alerts for helm-values, where the chart's `defaultRules` cover
/// Prometheus and Alertmanager and the chart's and stackgen's monitors name the jobs:
/// the sidecars by the chart's ServiceMonitor on `sidecar_service` (job = the Service's
/// name), Query, Store Gateway and Compactor by stackgen's PodMonitor (job = the pods'
/// `app.kubernetes.io/name`, the same names as in manifests mode). `None` without Thanos
/// or self-monitoring.
pub fn helm_thanos_rules(s: &Stack, sidecar_service: &str) -> Option<serde_json::Value> {
    if !s.rules.self_monitoring || s.thanos.is_none() {
        return None;
    }
    let mut m = self_monitoring(s);
    if let Some(t) = m.thanos.as_mut() {
        t.sidecar = sidecar_service.to_string();
    }
    Some(super::builtin::rule_file_value(&m, "thanos", |a| a.name.starts_with("Thanos")))
}
