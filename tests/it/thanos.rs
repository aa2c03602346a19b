//! Thanos wiring checked against what Thanos documents (v0.39): every flag stackgen
//! passes is a documented flag of that component (tests/fixtures/thanos-flags.txt), every
//! objstore key is one the provider reads (tests/fixtures/thanos-objstore-keys.txt) and
//! the objstore.yml passes ../shared/reference-data/schemas/thanos-objstore.json; the
//! replica label agrees between Prometheus, Query and Compactor; credentials are only
//! ever `$(OBJSTORE_*)` placeholders filled from the named Secret.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use serde_json::Value;

fn flags() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/thanos-flags.txt")).unwrap();
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (c, f) = l.split_once(' ').unwrap();
        m.entry(c.to_string()).or_default().insert(f.to_string());
    }
    m
}

fn objstore_keys() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/thanos-objstore-keys.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.map(str::to_string).collect())
        })
        .collect()
}

const TYPES: &[(&str, &str)] = &[
    ("s3", "bucket = \"b\"\nendpoint = \"minio.minio.svc:9000\"\ninsecure = true\nregion = \"us-east-1\""),
    ("gcs", "bucket = \"b\""),
    ("azure", "storage_account = \"acct\"\ncontainer = \"c\""),
    ("aliyunoss", "bucket = \"b\"\nendpoint = \"oss-cn-hangzhou.aliyuncs.com\""),
    ("cos", "bucket = \"b\"\nregion = \"ap-beijing\"\napp_id = \"1250000000\""),
    (
        "swift",
        "auth_url = \"https://keystone:5000/v3\"\nusername = \"thanos\"\ncontainer_name = \"c\"\nproject_name = \"p\"",
    ),
    ("filesystem", "directory = \"/var/thanos\""),
];

fn stack_for(kind: &str, keys: &str, secret: bool) -> String {
    let cred = if secret { "credentials_secret = \"objstore-creds\"\n" } else { "" };
    // A filesystem bucket works for one Prometheus pod only (SG126).
    let (replicas, shards) = if kind == "filesystem" { (1, 1) } else { (2, 2) };
    format!(
        "[stack]\nname = \"t\"\n[prometheus]\nreplicas = {replicas}\n[storage]\nbackend = \"class\"\nsize = \"10Gi\"\n\
         [storage.class]\nname = \"gp3\"\n[sharding]\nshards = {shards}\n[thanos]\nreplica_label = \"replica\"\n\
         [thanos.objstore]\ntype = \"{kind}\"\n{keys}\n{cred}"
    )
}

/// (component, container) for every Thanos container of a render.
fn thanos_containers(docs: &[Value]) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    for d in docs {
        for c in d["spec"]["template"]["spec"]["containers"].as_array().into_iter().flatten() {
            if c["image"].as_str().unwrap_or_default().contains("thanos") {
                let component = c["args"][0].as_str().unwrap().to_string();
                v.push((component, c.clone()));
            }
        }
    }
    v
}

#[test]
fn thanos_flags_are_documented() {
    let known = flags();
    let mut seen = BTreeSet::new();
    for stack in stacks() {
        let text = std::fs::read_to_string(golden_path(&stack)).unwrap();
        for (component, c) in thanos_containers(&docs(&text)) {
            let allowed = known.get(&component).unwrap_or_else(|| panic!("unknown Thanos component {component}"));
            for arg in c["args"].as_array().unwrap().iter().skip(1) {
                let flag = arg.as_str().unwrap().split('=').next().unwrap();
                assert!(
                    allowed.contains(flag),
                    "{}: `{flag}` is not a documented flag of thanos {component}",
                    stem(&stack)
                );
                seen.insert(component.clone());
            }
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["compact", "query", "sidecar", "store"]);
}

#[test]
fn objstore_configs_use_only_documented_keys_and_no_secrets() {
    let keys = objstore_keys();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("../shared/reference-data/schemas/thanos-objstore.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (kind, plain) in TYPES {
        for secret in [true, false] {
            if !secret && matches!(*kind, "aliyunoss" | "cos" | "swift") {
                continue; // these need credentials_secret (checked below)
            }
            let stack = check_text(kind, &stack_for(kind, plain, secret));
            let text = stackgen::render_manifests(&stack);
            let docs = docs(&text);
            let cm = docs.iter().find(|d| d["metadata"]["name"] == "t-thanos-objstore").expect("objstore ConfigMap");
            let cfg: Value = serde_saphyr::from_str(cm["data"]["objstore.yml"].as_str().unwrap()).unwrap();
            let errors: Vec<String> = validator.iter_errors(&cfg).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{kind}: {errors:?}");
            let ty = cfg["type"].as_str().unwrap();
            let allowed = &keys[ty];
            for (k, v) in cfg["config"].as_object().unwrap() {
                assert!(allowed.contains(k), "{kind}: Thanos does not read `{k}`");
                if stackgen::model::schema::CREDENTIAL_KEYS.contains(&k.as_str()) {
                    let placeholder = format!("$(OBJSTORE_{})", k.to_uppercase());
                    assert_eq!(
                        v.as_str(),
                        Some(placeholder.as_str()),
                        "{kind}: credential `{k}` must be a placeholder"
                    );
                }
            }
            // Every placeholder is filled from the Secret in every Thanos container that
            // reads the objstore config.
            for (component, c) in thanos_containers(&docs) {
                if component == "query" {
                    continue;
                }
                let env: BTreeMap<&str, &Value> =
                    c["env"].as_array().into_iter().flatten().map(|e| (e["name"].as_str().unwrap(), e)).collect();
                for (k, _) in cfg["config"].as_object().unwrap() {
                    if stackgen::model::schema::CREDENTIAL_KEYS.contains(&k.as_str()) {
                        let e =
                            env.get(format!("OBJSTORE_{}", k.to_uppercase()).as_str()).expect("env for placeholder");
                        assert_eq!(e["valueFrom"]["secretKeyRef"]["name"], "objstore-creds");
                        assert_eq!(e["valueFrom"]["secretKeyRef"]["key"], k.as_str());
                    }
                }
            }
        }
    }
}

#[test]
fn credentials_secret_is_required_where_thanos_has_no_identity_chain() {
    for kind in ["aliyunoss", "cos", "swift"] {
        let (_, plain) = TYPES.iter().find(|(k, _)| *k == kind).unwrap();
        let src = stackgen::source::Source::new("t.toml", stack_for(kind, plain, false));
        let diags = stackgen::check(&src).expect_err(kind);
        assert!(diags.iter().any(|d| d.message.contains("credentials_secret")), "{kind}");
    }
}

#[test]
fn replica_label_agrees_everywhere() {
    let stack = check_text("t", &stack_for("s3", TYPES[0].1, true));
    let text = stackgen::render_manifests(&stack);
    let docs = docs(&text);
    for (_, cfg) in prometheus_configs(&docs) {
        assert_eq!(cfg["global"]["external_labels"]["replica"], "${POD_NAME}");
        assert_eq!(cfg["alerting"], Value::Null, "no Alertmanager in this stack");
    }
    let args: Vec<String> = thanos_containers(&docs)
        .iter()
        .flat_map(|(_, c)| {
            c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert!(args.contains(&"--query.replica-label=replica".to_string()));
    assert!(args.contains(&"--deduplication.replica-label=replica".to_string()));
    // Prometheus beside the sidecar: 2h blocks, local retention >= 6h.
    for d in &docs {
        for c in d["spec"]["template"]["spec"]["containers"].as_array().into_iter().flatten() {
            if c["name"] == "prometheus" {
                let a: Vec<&str> = c["args"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                assert!(a.contains(&"--storage.tsdb.min-block-duration=2h"));
                assert!(a.contains(&"--storage.tsdb.max-block-duration=2h"));
            }
        }
    }
    // Exactly one compactor.
    let compactors: Vec<&Value> =
        docs.iter().filter(|d| d["metadata"]["name"] == "t-thanos-compactor" && d["kind"] == "StatefulSet").collect();
    assert_eq!(compactors.len(), 1);
    assert_eq!(compactors[0]["spec"]["replicas"], 1);
}

#[test]
fn query_discovers_sidecars_and_stores_by_dns_srv() {
    let stack = check_text("t", &stack_for("s3", TYPES[0].1, true));
    let docs = docs(&stackgen::render_manifests(&stack));
    let (_, q) = thanos_containers(&docs).into_iter().find(|(c, _)| c == "query").unwrap();
    let endpoints: Vec<&str> =
        q["args"].as_array().unwrap().iter().filter_map(|a| a.as_str().unwrap().strip_prefix("--endpoint=")).collect();
    assert_eq!(
        endpoints,
        [
            "dnssrv+_grpc._tcp.t-thanos-sidecar.monitoring.svc.cluster.local",
            "dnssrv+_grpc._tcp.t-thanos-store.monitoring.svc.cluster.local"
        ]
    );
    for svc in ["t-thanos-sidecar", "t-thanos-store"] {
        let s = docs.iter().find(|d| d["kind"] == "Service" && d["metadata"]["name"] == svc).unwrap();
        assert_eq!(s["spec"]["clusterIP"], "None", "{svc} is headless");
        assert!(
            s["spec"]["ports"].as_array().unwrap().iter().any(|p| p["name"] == "grpc"),
            "{svc} names its grpc port for SRV"
        );
    }
}
