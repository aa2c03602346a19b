//! The real validators on every golden output: kubernetes-validate --strict for the
//! stack's Kubernetes version, promtool check config on every Prometheus config (with
//! kubernetes_sd_configs removed, as Debian's promtool lacks Kubernetes discovery), and
//! those removed blocks checked against the Prometheus config JSON Schema instead.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn kube_version(stack: &std::path::Path) -> String {
    common::check_text("x", &std::fs::read_to_string(stack).unwrap()).kubernetes_version
}

#[test]
fn kubernetes_validate_strict() {
    kubernetes_validate_all(stacks().iter().map(|stack| (golden_path(stack), kube_version(stack))));
}

/// Remove kubernetes_sd_configs as ../shared/checks/promcheck.py does; return them.
fn strip_sd(cfg: &mut Value) -> Vec<Value> {
    let mut removed = Vec::new();
    if let Some(jobs) = cfg["scrape_configs"].as_array_mut() {
        for job in jobs {
            let m = job.as_object_mut().unwrap();
            if let Some(sd) = m.remove("kubernetes_sd_configs") {
                removed.push(sd);
            }
            if !m.keys().any(|k| k.ends_with("_sd_configs") || k == "static_configs") {
                m.insert("static_configs".into(), json!([{"targets": []}]));
            }
        }
    }
    removed
}

#[test]
fn promtool_check_config() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for stack in stacks() {
        let text = std::fs::read_to_string(golden_path(&stack)).unwrap();
        for (name, mut cfg) in prometheus_configs(&docs(&text)) {
            strip_sd(&mut cfg);
            let path = dir.path().join(format!("{}-{name}.yml", stem(&stack)));
            std::fs::write(&path, stackgen::render::yaml::to_string(&cfg)).unwrap();
            let (code, out, err) = run(Command::new(&promtool).args(["check", "config", "--syntax-only"]).arg(&path));
            checked += 1;
            if code != 0 {
                failures.push(format!("{}/{name}: {out}{err}", stem(&stack)));
            }
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "promtool failed:\n{}", failures.join("\n"));
}

/// The kubernetes_sd_configs blocks promtool cannot see, against the Prometheus config
/// schema in ../shared/reference-data/schemas/prometheus.json.
#[test]
fn kubernetes_sd_blocks_match_prometheus_schema() {
    let schema_path = root().join("../shared/reference-data/schemas/prometheus.json");
    let Ok(schema_text) = std::fs::read_to_string(&schema_path) else {
        assert!(!in_ci(), "{} missing", schema_path.display());
        return;
    };
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("prometheus schema compiles");
    let roles = ["node", "pod", "service", "endpoints", "endpointslice", "ingress"];
    let mut blocks = 0;
    for stack in stacks() {
        let text = std::fs::read_to_string(golden_path(&stack)).unwrap();
        for (name, cfg) in prometheus_configs(&docs(&text)) {
            let errors: Vec<String> =
                validator.iter_errors(&cfg).map(|e| format!("{} at {}", e, e.instance_path())).collect();
            assert!(errors.is_empty(), "{}/{name} against prometheus.json: {errors:#?}", stem(&stack));
            for job in cfg["scrape_configs"].as_array().unwrap() {
                for sd in job["kubernetes_sd_configs"].as_array().into_iter().flatten() {
                    blocks += 1;
                    let role = sd["role"].as_str().unwrap();
                    assert!(roles.contains(&role), "unknown role {role}");
                    // Meta labels used by the job's relabels belong to its role.
                    for rc in job["relabel_configs"].as_array().into_iter().flatten() {
                        for l in rc["source_labels"].as_array().into_iter().flatten() {
                            let l = l.as_str().unwrap();
                            if let Some(rest) = l.strip_prefix("__meta_kubernetes_") {
                                let ok = rest.starts_with("namespace")
                                    || rest.starts_with(&format!("{role}_"))
                                    || (role == "endpointslice"
                                        && (rest.starts_with("service_") || rest.starts_with("pod_")))
                                    || (role == "endpoints"
                                        && (rest.starts_with("service_") || rest.starts_with("pod_")));
                                assert!(ok, "{l} is not a meta label of role {role}");
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(blocks > 0, "no kubernetes_sd_configs blocks were checked");
}
