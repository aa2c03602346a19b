//! `render --format helm-values`: the values and companion manifests of every stack in
//! stacks/ against golden/helm/, byte for byte; every emitted key path against the chart's
//! default values (tests/fixtures/kube-prometheus-stack-88.5.3-paths.txt, itself checked
//! against the chart archive); `helm template` of the real chart 88.5.3; the companion
//! manifests through kubernetes-validate --strict; static PVs pre-bound to the operator's
//! claims. Re-bless with `UPDATE_GOLDEN=1 cargo test --test helm` (refused when CI is set).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use stackgen::render::helm;

const PATHS_FIXTURE: &str = "tests/fixtures/kube-prometheus-stack-88.5.3-paths.txt";

fn helm_dir() -> PathBuf {
    root().join("golden").join("helm")
}

fn golden_values(stack: &Path) -> PathBuf {
    helm_dir().join(format!("{}.values.yaml", stem(stack)))
}

fn golden_manifests(stack: &Path) -> PathBuf {
    helm_dir().join(format!("{}.manifests.yaml", stem(stack)))
}

fn model(stack: &Path) -> stackgen::model::Stack {
    check_text(&stack.display().to_string(), &std::fs::read_to_string(stack).unwrap())
}

#[test]
fn helm_goldens_match() {
    let mut golden = GoldenDir::new(helm_dir());
    for stack in stacks() {
        let out = helm::render(&model(&stack));
        golden.compare(&format!("{}.values.yaml", stem(&stack)), &out.values);
        golden.compare(&format!("{}.manifests.yaml", stem(&stack)), &out.manifests);
    }
    golden.finish("helm");
}

/// Allowed paths of the fixture: exact paths and `X.*` prefixes.
fn allowed_paths() -> (BTreeSet<String>, Vec<String>) {
    let text = std::fs::read_to_string(root().join(PATHS_FIXTURE)).unwrap();
    let mut exact = BTreeSet::new();
    let mut prefixes = Vec::new();
    for line in text.lines() {
        let path = line.split('#').next().unwrap().trim();
        if path.is_empty() {
            continue;
        }
        match path.strip_suffix(".*") {
            Some(p) => prefixes.push(p.to_string()),
            None => {
                exact.insert(path.to_string());
            }
        }
    }
    assert!(text.contains("kube-prometheus-stack 88.5.3"), "the fixture names its source");
    (exact, prefixes)
}

/// Leaf paths of a values document: scalars, sequences and empty maps end a path.
fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaf_paths(child, &p, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn every_emitted_key_exists_in_the_chart_values() {
    let (exact, prefixes) = allowed_paths();
    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    for stack in stacks() {
        let text = std::fs::read_to_string(golden_values(&stack)).unwrap();
        let parsed: Value = serde_saphyr::from_str(&text).expect("values.yaml parses");
        let mut paths = Vec::new();
        leaf_paths(&parsed, "", &mut paths);
        for p in paths {
            let ok = exact.contains(&p)
                || prefixes.iter().any(|x| p == *x || p.starts_with(&format!("{x}.")))
                // Parents of allowed paths (an empty map emitted where the chart has `{}`).
                || exact.iter().any(|e| e.starts_with(&format!("{p}.")));
            if ok {
                used.insert(p);
            } else {
                failures.push(format!("{}: {p}", stem(&stack)));
            }
        }
    }
    assert!(failures.is_empty(), "key paths not in {PATHS_FIXTURE}:\n{}", failures.join("\n"));
    assert!(used.len() > 40, "the goldens exercise most of the fixture ({} paths)", used.len());
}

#[test]
fn values_round_trip_through_yaml() {
    for stack in stacks() {
        let s = model(&stack);
        let text = helm::render(&s).values;
        let parsed: Value = serde_saphyr::from_str(&text).expect("values.yaml parses");
        assert_eq!(parsed, helm::values(&s), "{}", stem(&stack));
        assert!(text.contains(helm::CHART_SOURCE), "values name the chart they target");
    }
}

#[test]
fn companion_manifests_pass_kubernetes_validate_strict() {
    kubernetes_validate_all(stacks().iter().map(|stack| (golden_manifests(stack), model(stack).kubernetes_version)));
}

#[test]
fn static_pvs_are_prebound_to_the_operators_claims() {
    let mut checked = 0;
    for stack in stacks() {
        let s = model(&stack);
        if !s.storage.backend.is_static() {
            continue;
        }
        let objs = docs(&helm::render(&s).manifests);
        let pvs: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "PersistentVolume").collect();
        assert_eq!(pvs.len() as u32, s.pod_count(), "{}: one PV per pod", stem(&stack));
        let mut want = BTreeSet::new();
        for shard in 0..s.sharding.shards {
            for replica in 0..s.prometheus.replicas {
                want.insert(helm::claim_name(&s, shard, replica));
            }
        }
        let got: BTreeSet<String> =
            pvs.iter().map(|pv| pv["spec"]["claimRef"]["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, want, "{}", stem(&stack));
        // The claim template's selector and class match every PV.
        let values = helm::values(&s);
        let spec = &values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"];
        for pv in pvs {
            assert_eq!(pv["spec"]["storageClassName"], spec["storageClassName"]);
            assert_eq!(pv["spec"]["claimRef"]["namespace"], s.namespace.as_str());
            for (k, v) in spec["selector"]["matchLabels"].as_object().unwrap() {
                assert_eq!(&pv["metadata"]["labels"][k], v, "{}: PV label {k}", stem(&stack));
            }
        }
        checked += 1;
    }
    assert!(checked >= 3, "local, nfs and iscsi stacks are covered");
}

#[test]
fn dynamic_claims_have_no_selector() {
    for stack in stacks() {
        let s = model(&stack);
        if s.storage.backend.is_static() {
            continue;
        }
        let values = helm::values(&s);
        let spec = &values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"];
        assert!(spec.get("selector").is_none(), "{}: a selector blocks provisioning", stem(&stack));
    }
}

#[test]
fn thanos_uses_the_charts_sidecar_service_and_a_credential_free_secret() {
    let stack = root().join("stacks/ceph-thanos.toml");
    let s = model(&stack);
    let out = helm::render(&s);
    let values = helm::values(&s);
    let spec = &values["prometheus"]["prometheusSpec"];
    assert_eq!(values["prometheus"]["thanosService"]["enabled"], true);
    let secret_ref = &spec["thanos"]["objectStorageConfig"]["existingSecret"];
    let objs = docs(&out.manifests);
    let secret = objs
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == secret_ref["name"])
        .expect("the objstore Secret the chart references is in manifests.yaml");
    let config = secret["stringData"][secret_ref["key"].as_str().unwrap()].as_str().unwrap();
    assert!(config.contains("access_key: \"$(OBJSTORE_ACCESS_KEY)\""), "{config}");
    // The credentials reach the operator's sidecar from credentials_secret.
    let env = &spec["containers"][0];
    assert_eq!(env["name"], "thanos-sidecar");
    assert!(env["env"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["valueFrom"]["secretKeyRef"]["name"] == "thanos-objstore-credentials"));
    // Query reaches the sidecars through the chart's discovery Service, not stackgen's.
    assert!(!objs.iter().any(|o| o["kind"] == "Service" && o["metadata"]["name"] == "ha-thanos-sidecar"));
    let query = objs.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "ha-thanos-query").unwrap();
    let args: Vec<&str> = query["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--endpoint=dnssrv+_grpc._tcp.ha-thanos-discovery.monitoring.svc.cluster.local"));
    assert!(args.contains(&"--query.replica-label=prometheus_replica"));
    assert_eq!(spec["replicaExternalLabelName"], "prometheus_replica");
    for kind in ["Deployment", "StatefulSet"] {
        assert!(objs.iter().any(|o| o["kind"] == kind), "Thanos {kind} in manifests.yaml");
    }
}

#[test]
fn managed_control_plane_jobs_are_off_and_grafana_uses_the_admin_secret() {
    let s = model(&root().join("stacks/eks-gp3.toml"));
    assert!(!s.kubernetes.control_plane);
    let values = helm::values(&s);
    for key in ["kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"] {
        assert_eq!(values[key]["enabled"], false, "{key}");
    }
    assert_eq!(values["grafana"]["admin"]["existingSecret"], "grafana-admin");
    assert!(values["grafana"].get("adminPassword").is_none());
    // retentionSize in the operator's ByteSize form (B suffix).
    let rs = values["prometheus"]["prometheusSpec"]["retentionSize"].as_str().unwrap();
    assert!(rs.ends_with("iB"), "{rs}");
}

#[test]
fn unsupported_choices_are_reported() {
    let dev = model(&root().join("stacks/dev-ephemeral.toml"));
    let codes: Vec<String> = helm::unsupported(&dev).iter().map(|d| d.path.clone().unwrap_or_default()).collect();
    assert!(codes.contains(&"/storage/size".to_string()), "{codes:?}");
    assert!(codes.contains(&"/kubernetes/discovery".to_string()), "{codes:?}");
    let sharded = model(&root().join("stacks/sharded-64.toml"));
    assert!(helm::unsupported(&sharded).iter().any(|d| d.path.as_deref() == Some("/sharding/shards")));
    let no_admin = check_text(
        "x.toml",
        "[stack]\nname = \"x\"\n[storage]\nbackend = \"class\"\nsize = \"10Gi\"\n[storage.class]\nname = \"gp3\"\n[grafana]\n",
    );
    assert!(helm::unsupported(&no_admin).iter().any(|d| d.path.as_deref() == Some("/grafana")));
}

#[test]
fn cli_writes_values_and_manifests_and_warns_on_stderr() {
    let stack = root().join("stacks/dev-ephemeral.toml");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let (code, stdout, stderr) =
        run(Command::new(bin()).args(["render", "--format", "helm-values"]).arg(&stack).arg("-o").arg(&out_dir));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("SG125"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("values.yaml")).unwrap(),
        std::fs::read_to_string(golden_values(&stack)).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("manifests.yaml")).unwrap(),
        std::fs::read_to_string(golden_manifests(&stack)).unwrap()
    );
    let (code, stdout, _) = run(Command::new(bin()).args(["render", "--format", "helm-values"]).arg(&stack));
    assert_eq!(code, 0);
    assert_eq!(stdout, std::fs::read_to_string(golden_values(&stack)).unwrap(), "stdout carries only the values");
}
