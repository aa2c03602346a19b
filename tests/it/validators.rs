//! The real validators on every render: kubernetes-validate --strict for the stack's
//! Kubernetes version; promtool 3.5 `check config` on every prometheus.yml, Kubernetes
//! discovery intact, as its pod reads it (and on helm mode's additionalScrapeConfigs);
//! `promtool check rules` on every rule file; `amtool check-config` on every
//! alertmanager.yml; the Prometheus config JSON Schema on every config; and the real
//! components (scripts/real-components.sh) report the versions the render's images name.

use std::process::Command;

use crate::common::loopback::Cluster;
use crate::common::*;
use serde_json::{json, Value};

fn kube_version(stack: &std::path::Path) -> String {
    crate::common::check_file(stack).kubernetes_version
}

#[test]
fn kubernetes_validate_strict() {
    kubernetes_validate_all(stacks().iter().map(|stack| (golden_path(stack), kube_version(stack))));
}

/// Pods of a render whose container runs with `--config.file` pointing at a prometheus.yml:
/// the first pod of each such workload (pod, container).
fn prometheus_pods(cluster: &mut Cluster) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (kind, name) in cluster.workloads(&[]) {
        let w = cluster.object(&kind, &name).clone();
        for c in w["spec"]["template"]["spec"]["containers"].as_array().unwrap() {
            let image = c["image"].as_str().unwrap();
            let has_config =
                c["args"].as_array().into_iter().flatten().any(|a| {
                    a.as_str().is_some_and(|a| a.starts_with("--config.file=") && a.ends_with("prometheus.yml"))
                });
            if has_config && image.contains("/prometheus/prometheus") {
                let pod = cluster.add_first_pod(&kind, &name);
                out.push((pod, c["name"].as_str().unwrap().to_string()));
            }
        }
    }
    out
}

/// promtool 3.5 `check config` on every prometheus.yml, Kubernetes discovery intact, as
/// the pod reads it: the ConfigMap written to its volume and the files it references
/// (service-account token and CA, rule files) pointed at temp copies on the pod's volumes
/// (`Cluster::config_to_loopback`), because promtool checks that referenced files exist
/// (and checks the rule files it finds). In helm mode, the additionalScrapeConfigs jobs.
#[test]
fn promtool_check_config() {
    let Some(promtool) = real("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for stack in stacks() {
        let model = crate::common::check_file(&stack);
        let docs = docs(&std::fs::read_to_string(golden_path(&stack)).unwrap());
        let configs = prometheus_configs(&docs).len();
        let mut cluster = Cluster::new(docs, &model.kubernetes.cluster_domain).with_placeholder_secrets();
        let pods = prometheus_pods(&mut cluster);
        assert_eq!(pods.len(), configs, "{}: every prometheus.yml ConfigMap is mounted by a pod", stem(&stack));
        let mut files = Vec::new();
        for (pod, container) in &pods {
            let path = cluster.arg(pod, container, "--config.file").unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let copy = format!("{path}.loopback.yml");
            std::fs::write(&copy, cluster.config_to_loopback(pod, container, &text)).unwrap();
            files.push(copy);
        }
        // Helm mode: the jobs stackgen adds to the operator's config.
        let values: Value = serde_saphyr::from_str(&stackgen::render::helm::render(&model).values).unwrap();
        let extra = &values["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"];
        if extra.is_array() {
            let path = dir.path().join(format!("{}-helm-additional-scrape-configs.yml", stem(&stack)));
            std::fs::write(&path, stackgen::render::yaml::to_string(&json!({ "scrape_configs": extra }))).unwrap();
            files.push(path.display().to_string());
        }
        let (code, out, err) = run(Command::new(&promtool).args(["check", "config"]).args(&files));
        checked += files.len();
        if code != 0 {
            failures.push(format!("{}: {out}{err}", stem(&stack)));
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "promtool check config failed:\n{}", failures.join("\n"));
}

/// Rule files of a render: ConfigMap keys named like rule files (`*rules.yml`,
/// `*rules.yaml`, `*.rules`) or holding a top-level `groups:`, PrometheusRule specs, and
/// helm's additionalPrometheusRulesMap entries.
fn rule_files(docs: &[Value], values: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in docs {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        if d["kind"] == "ConfigMap" {
            for (key, v) in d["data"].as_object().into_iter().flatten() {
                let text = v.as_str().unwrap_or_default();
                let named = key.ends_with("rules.yml") || key.ends_with("rules.yaml") || key.ends_with(".rules");
                let groups = serde_saphyr::from_str::<Value>(text).is_ok_and(|v| v.get("groups").is_some());
                if named || groups {
                    out.push((format!("configmap-{name}-{key}"), text.to_string()));
                }
            }
        }
        if d["kind"] == "PrometheusRule" {
            out.push((format!("prometheusrule-{name}.yml"), stackgen::render::yaml::to_string(&d["spec"])));
        }
    }
    if let Some(map) = values.and_then(|v| v["additionalPrometheusRulesMap"].as_object()) {
        for (name, rules) in map {
            out.push((format!("helm-{name}.yml"), stackgen::render::yaml::to_string(rules)));
        }
    }
    out
}

/// `promtool check rules` on every rule file any render holds (manifests, helm values and
/// companion manifests): the built-in self-monitoring file of every manifests render and
/// each `[rules] files` match (manifests ConfigMap and helm's additionalPrometheusRulesMap).
#[test]
fn promtool_check_rules() {
    let Some(promtool) = real("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stack in stacks() {
        let model = crate::common::check_file(&stack);
        let helm = stackgen::render::helm::render(&model);
        let values: Value = serde_saphyr::from_str(&helm.values).unwrap();
        let mut found = rule_files(&docs(&std::fs::read_to_string(golden_path(&stack)).unwrap()), None);
        // Every render with self-monitoring (the default) ships the built-in rule file,
        // and one file per `[rules] files` match beside it.
        let want = usize::from(model.rules.self_monitoring) + model.rules.files.len();
        assert_eq!(found.len(), want, "{}: rule files of the manifests render", stem(&stack));
        let helm_found = rule_files(&docs(&helm.manifests), Some(&values));
        // helm-values: the same files as PrometheusRules, and the built-in Thanos alerts.
        let want = model.rules.files.len() + usize::from(model.rules.self_monitoring && model.thanos.is_some());
        assert_eq!(helm_found.len(), want, "{}: rule files of helm-values", stem(&stack));
        found.extend(helm_found);
        for (name, text) in found {
            let path = dir.path().join(format!("{}-{name}", stem(&stack)));
            std::fs::write(&path, text).unwrap();
            files.push(path);
        }
    }
    assert!(files.iter().any(|f| f.ends_with("saas-probes-helm-api.yml")), "{files:?}");
    let (code, out, err) = run(Command::new(&promtool).args(["check", "rules"]).args(&files));
    assert_eq!(code, 0, "promtool check rules:\n{out}{err}");
}

/// The rule-file finder and promtool on synthetic objects, until a render has rules: a
/// ConfigMap key named like a rule file and a `groups:` document are found, and promtool
/// rejects a rule whose PromQL does not parse.
#[test]
fn promtool_check_rules_finds_and_rejects() {
    let Some(promtool) = real("promtool") else {
        return;
    };
    let good = "groups:\n- name: g\n  rules:\n  - alert: Up\n    expr: up == 0\n    for: 5m\n";
    let bad = "groups:\n- name: g\n  rules:\n  - alert: Up\n    expr: up ==\n";
    let docs = vec![
        json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"stack.rules.yml": good, "other.txt": "x"}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"extra.yaml": bad}}),
    ];
    let found = rule_files(&docs, None);
    assert_eq!(
        found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["configmap-a-stack.rules.yml", "configmap-b-extra.yaml"]
    );
    let dir = tempfile::tempdir().unwrap();
    for (i, (_, text)) in found.iter().enumerate() {
        let path = dir.path().join(format!("{i}.yml"));
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = run(Command::new(&promtool).args(["check", "rules"]).arg(&path));
        assert_eq!(code == 0, i == 0, "promtool check rules on {text}: {out}{err}");
    }
}

/// `amtool check-config` on every alertmanager.yml (manifests ConfigMaps, helm's
/// alertmanager.config when set).
#[test]
fn amtool_check_config() {
    let Some(amtool) = real("amtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stack in stacks() {
        for d in docs(&std::fs::read_to_string(golden_path(&stack)).unwrap()) {
            if let Some(text) = d["data"]["alertmanager.yml"].as_str().filter(|_| d["kind"] == "ConfigMap") {
                let path = dir.path().join(format!("{}-{}.yml", stem(&stack), d["metadata"]["name"].as_str().unwrap()));
                std::fs::write(&path, text).unwrap();
                files.push(path);
            }
        }
        let model = crate::common::check_file(&stack);
        let values: Value = serde_saphyr::from_str(&stackgen::render::helm::render(&model).values).unwrap();
        if values["alertmanager"]["config"].is_object() {
            let path = dir.path().join(format!("{}-helm-alertmanager.yml", stem(&stack)));
            std::fs::write(&path, stackgen::render::yaml::to_string(&values["alertmanager"]["config"])).unwrap();
            files.push(path);
        }
    }
    assert!(!files.is_empty(), "no alertmanager.yml in any golden");
    let (code, out, err) = run(Command::new(&amtool).arg("check-config").args(&files));
    assert_eq!(code, 0, "amtool check-config:\n{out}{err}");
}

/// The version a component binary reports (`prometheus, version 3.5.0 (branch: …)`).
fn reported_version(bin: &std::path::Path) -> String {
    let (code, out, err) = run(Command::new(bin).arg("--version"));
    let text = format!("{out}{err}");
    assert_eq!(code, 0, "{} --version: {text}", bin.display());
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("{} --version printed no version: {text}", bin.display()));
    format!("v{}", v.trim_start_matches('v'))
}

/// One source of truth for versions: the images the render names, the constants they come
/// from, what scripts/real-components.sh builds, and what the built binaries report.
#[test]
fn real_components_are_the_versions_the_render_names() {
    use stackgen::model::*;
    let stack = crate::common::check_text(
        "versions.toml",
        "[stack]\nname = \"v\"\n[storage]\nbackend = \"class\"\nsize = \"10Gi\"\n[storage.class]\nname = \"standard\"\n\
         [thanos]\n[thanos.objstore]\ntype = \"s3\"\nbucket = \"b\"\nendpoint = \"minio:9000\"\n[alertmanager]\n",
    );
    let mut tags = std::collections::BTreeMap::new();
    for d in docs(&stackgen::render_manifests(&stack)) {
        for c in d["spec"]["template"]["spec"]["containers"].as_array().into_iter().flatten() {
            let (repo, tag) = c["image"].as_str().unwrap().rsplit_once(':').unwrap();
            let prev = tags.insert(repo.to_string(), tag.to_string());
            assert!(prev.is_none_or(|p| p == tag), "{repo} with two tags");
        }
    }
    let image =
        |repo: &str| tags.get(repo).cloned().unwrap_or_else(|| panic!("no {repo} image in the render: {tags:?}"));
    assert_eq!(image(DEFAULT_PROMETHEUS_IMAGE), DEFAULT_PROMETHEUS_VERSION);
    assert_eq!(image(DEFAULT_THANOS_IMAGE), DEFAULT_THANOS_VERSION);
    assert_eq!(image(DEFAULT_ALERTMANAGER_IMAGE), DEFAULT_ALERTMANAGER_VERSION);

    let (code, out, err) = run(Command::new(root().join("scripts/real-components.sh")).arg("--versions"));
    assert_eq!(code, 0, "real-components.sh --versions: {err}");
    let built: std::collections::BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once(' ')).collect();
    for (component, want) in [
        ("prometheus", DEFAULT_PROMETHEUS_VERSION),
        ("thanos", DEFAULT_THANOS_VERSION),
        ("alertmanager", DEFAULT_ALERTMANAGER_VERSION),
        ("operator", PROMETHEUS_OPERATOR_VERSION),
    ] {
        assert_eq!(built.get(component).copied(), Some(want), "scripts/real-components.sh builds {component}");
    }

    for (bin, want) in [
        ("prometheus", image(DEFAULT_PROMETHEUS_IMAGE)),
        ("promtool", image(DEFAULT_PROMETHEUS_IMAGE)),
        ("thanos", image(DEFAULT_THANOS_IMAGE)),
        ("alertmanager", image(DEFAULT_ALERTMANAGER_IMAGE)),
        ("amtool", image(DEFAULT_ALERTMANAGER_IMAGE)),
        ("operator", PROMETHEUS_OPERATOR_VERSION.to_string()),
    ] {
        let Some(path) = real(bin) else { continue };
        assert_eq!(reported_version(&path), want, "{bin} reports a version the render does not use");
    }
}

/// Beside promtool: the whole config against the Prometheus config JSON Schema, and the
/// meta labels each job's relabelling reads belong to its discovery role (which promtool
/// does not check), from ../shared/reference-data/schemas/prometheus.json.
#[test]
fn kubernetes_sd_blocks_match_prometheus_schema() {
    let schema_path = root().join("../shared/reference-data/schemas/prometheus.json");
    let Ok(schema_text) = std::fs::read_to_string(&schema_path) else {
        assert!(!in_ci(), "{} missing", schema_path.display());
        skipped(&format!("{} missing", schema_path.display()));
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
