//! `PrometheusRule` and `Probe` resources from the alerting pieces of `crate::alerting`:
//! the built-in self-monitoring rules, a stack's own rule files, and blackbox probes.
//! Each takes its input as arguments, so the model's `[rules]` and `[[probe]]` connect
//! in one line (see `super::render`). The Prometheus resource selects them by the
//! stack's labels (`ruleSelector`, `probeSelector`).

use serde_json::{json, Value};

use super::resources::labels;
use super::{custom, API_VERSION};
use crate::alerting::blackbox::ProbeSpec;
use crate::alerting::builtin::{rule_file, SelfMonitoring};
use crate::model::chart::{prometheus_cr, statefulset_name};
use crate::model::Stack;
use crate::render::{Names, Object};

/// The self-monitoring input of the operator render: the manifests render's jobs (the
/// operator's scrape Secret keeps their names: each Prometheus pod scrapes itself and
/// its sidecar, the Thanos components by their Services, the blackbox_exporter by its
/// pods) and the operator's claim names. No shards job: the shards' watch list is a
/// manifests-mode ConfigMap.
pub fn self_monitoring(s: &Stack) -> SelfMonitoring {
    let mut m = crate::alerting::stack::self_monitoring(s);
    m.tsdb_claims = format!("prometheus-{}-db-{}.*", prometheus_cr(s), statefulset_name(s, 0));
    m
}

/// A rule file's text as the `spec` of a PrometheusRule (its `groups`).
fn rule_spec(name: &str, text: &str) -> Result<Value, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("rule file {name}: {e}"))?;
    match doc.get("groups") {
        Some(Value::Array(groups)) => Ok(json!({"groups": groups})),
        _ => Err(format!("rule file {name}: no `groups` list")),
    }
}

/// One PrometheusRule per rule file: `<stack>-self-monitoring` for the built-in rules
/// (when `builtin` is given), `<stack>-rules-<name>` for each of the stack's files (name,
/// text), in that order. `Err` names a file that is not a rule file (the rule-file check
/// reports it first).
pub fn rule_resources(
    n: &Names<'_>,
    builtin: Option<&SelfMonitoring>,
    user: &[(String, String)],
) -> Result<Vec<Object>, String> {
    let mut files: Vec<(String, Value)> = Vec::new();
    if let Some(m) = builtin {
        files.push((n.obj("self-monitoring"), rule_spec("self-monitoring", &rule_file(m))?));
    }
    for (name, text) in user {
        let stem = name.rsplit('/').next().unwrap_or(name);
        let stem = stem.strip_suffix(".yaml").or_else(|| stem.strip_suffix(".yml")).unwrap_or(stem);
        let safe: String =
            stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        files.push((n.obj(&format!("rules-{}", safe.trim_matches('-'))), rule_spec(name, text)?));
    }
    let ns = n.ns();
    Ok(files
        .into_iter()
        .map(|(name, spec)| {
            let value = json!({
                "apiVersion": API_VERSION,
                "kind": "PrometheusRule",
                "metadata": {"name": name, "namespace": ns, "labels": labels(n, "prometheus", "rules")},
                "spec": spec,
            });
            custom("PrometheusRule", &name, &ns, value)
        })
        .collect())
}

/// One Probe per `[[probe]]` job: the operator asks the blackbox_exporter at `exporter`
/// (host:port) to probe each target with the job's module, and shards the targets on
/// `__param_target` as stackgen's probe jobs do.
pub fn probe_resources(n: &Names<'_>, probes: &[ProbeSpec], exporter: &str) -> Vec<Object> {
    let ns = n.ns();
    probes
        .iter()
        .map(|p| {
            let name = n.obj(&format!("probe-{}", p.job.replace('_', "-").to_ascii_lowercase()));
            let mut spec = json!({
                "jobName": p.job,
                "module": p.module.name(),
                "prober": {"url": exporter, "path": "/probe"},
                "targets": {"staticConfig": {"static": p.targets}},
            });
            if let Some(i) = &p.interval {
                spec["interval"] = json!(i.as_str());
            }
            let value = json!({
                "apiVersion": API_VERSION,
                "kind": "Probe",
                "metadata": {"name": name, "namespace": ns, "labels": labels(n, "prometheus", "probe")},
                "spec": spec,
            });
            custom("Probe", &name, &ns, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::blackbox::ProbeModule;

    fn stack() -> Stack {
        let src = crate::source::Source::new(
            "t.toml",
            "[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 2\n[alertmanager]\n",
        );
        crate::check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack
    }

    #[test]
    fn rules_become_prometheus_rules_with_their_groups() {
        let s = stack();
        let n = Names { stack: &s };
        let user = [(
            "team/api.yaml".to_string(),
            "groups:\n- name: api\n  rules:\n  - record: x\n    expr: up\n".to_string(),
        )];
        let objs = rule_resources(&n, Some(&self_monitoring(&s)), &user).unwrap();
        let names: Vec<&str> = objs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["ha-self-monitoring", "ha-rules-api"]);
        assert_eq!(objs[1].value["spec"]["groups"][0]["rules"][0]["record"], "x");
        let builtin = objs[0].value["spec"]["groups"][0]["rules"].as_array().unwrap();
        assert!(builtin.iter().any(|r| r["alert"].as_str().is_some_and(|a| a.starts_with("Alertmanager"))));
        assert!(objs.iter().all(|o| o.value["metadata"]["labels"]["app.kubernetes.io/instance"] == "ha"));
        assert!(rule_resources(&n, None, &[("bad.yaml".into(), "rules: []\n".into())]).is_err());
    }

    #[test]
    fn probes_become_probe_resources() {
        let s = stack();
        let n = Names { stack: &s };
        let p = ProbeSpec {
            job: "web_check".into(),
            module: ProbeModule::Http2xx,
            targets: vec!["https://example.org".into()],
            interval: None,
        };
        let objs = probe_resources(&n, &[p], "ha-blackbox-exporter.monitoring.svc:9115");
        assert_eq!(objs[0].name, "ha-probe-web-check");
        let spec = &objs[0].value["spec"];
        assert_eq!(spec["module"], "http_2xx");
        assert_eq!(spec["jobName"], "web_check");
        assert_eq!(spec["targets"]["staticConfig"]["static"][0], "https://example.org");
    }
}
