//! `render --format helm-values`: the values and companion manifests of every stack in
//! stacks/ against golden/helm/, byte for byte; every emitted key path against the chart's
//! default values (tests/fixtures/kube-prometheus-stack-88.5.3-paths.txt, itself checked
//! against the chart archive); `helm template` of the real chart 88.5.3; the companion
//! manifests through kubernetes-validate --strict; static PVs pre-bound to the operator's
//! claims. Re-bless with `UPDATE_GOLDEN=1 cargo test --test it helm_goldens_match` (refused
//! when CI is set).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
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
    crate::common::check_file(stack)
}

#[test]
fn helm_goldens_match() {
    let mut golden = Snapshots::tree(helm_dir(), ".yaml", "helm_goldens_match");
    for stack in stacks() {
        let out = helm::render(&model(&stack));
        golden.compare(&golden_values(&stack), &out.values);
        golden.compare(&golden_manifests(&stack), &out.manifests);
    }
    golden.finish();
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
    let mut documents: Vec<(String, Value)> = stacks()
        .iter()
        .map(|stack| {
            let text = std::fs::read_to_string(golden_values(stack)).unwrap();
            (stem(stack), serde_saphyr::from_str(&text).expect("values.yaml parses"))
        })
        .collect();
    // The keys only `discovery = false` emits.
    let no_discovery = std::fs::read_to_string(root().join("stacks/ceph-thanos.toml")).unwrap()
        + "\n[kubernetes]\ndiscovery = false\n";
    documents.push(("no-discovery".into(), helm::values(&check_text("no-discovery.toml", &no_discovery))));
    for (name, parsed) in documents {
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
                failures.push(format!("{name}: {p}"));
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
        assert!(text.contains("--version 88.5.3 "), "the helm command pins the chart version");
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
    let codes: Vec<String> =
        stackgen::lint::helm_values(&dev).iter().map(|d| d.path.clone().unwrap_or_default()).collect();
    assert!(codes.contains(&"/storage/size".to_string()), "{codes:?}");
    assert!(codes.contains(&"/kubernetes/discovery".to_string()), "{codes:?}");
    let sharded = model(&root().join("stacks/sharded-64.toml"));
    assert!(stackgen::lint::helm_values(&sharded).iter().any(|d| d.path.as_deref() == Some("/sharding/shards")));
    let no_admin = check_text(
        "x.toml",
        "[stack]\nname = \"x\"\n[storage]\nbackend = \"class\"\nsize = \"10Gi\"\n[storage.class]\nname = \"gp3\"\n[grafana]\n",
    );
    assert!(stackgen::lint::helm_values(&no_admin).iter().any(|d| d.path.as_deref() == Some("/grafana")));
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

// ---- chart 88.5.3: the fixture against the archive, `helm template` of every stack ----

const CHART_ARCHIVE: &str = "../shared/reference-data/charts/kube-prometheus-stack-88.5.3.tgz";
const CRD_SCHEMAS: &str = "../shared/reference-data/crd-schemas";

fn chart_archive() -> PathBuf {
    root().join(CHART_ARCHIVE)
}

/// One file of the chart archive, read with tar (no extraction on disk).
fn chart_file(inner: &str) -> String {
    let out = Command::new("tar").arg("-xzOf").arg(chart_archive()).arg(inner).output().expect("tar runs");
    assert!(out.status.success(), "{inner} in {CHART_ARCHIVE}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn lookup<'a>(doc: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(doc, |v, k| v.as_object()?.get(k))
}

/// Every line of the paths fixture holds for the chart archive: plain paths are keys of
/// kube-prometheus-stack's values.yaml, `(g)` keys of the grafana sub-chart's, `(c)` keys
/// its comments document, `(k)` fields under a key the chart passes through whole, `(t
/// FILE)` keys a template reads that values.yaml does not list.
#[test]
fn paths_fixture_matches_the_chart_archive() {
    assert!(chart_file("kube-prometheus-stack/Chart.yaml").contains("\nversion: 88.5.3\n"));
    let kps_text = chart_file("kube-prometheus-stack/values.yaml");
    let graf_text = chart_file("kube-prometheus-stack/charts/grafana/values.yaml");
    let kps: Value = serde_saphyr::from_str(&kps_text).expect("values.yaml parses");
    let graf: Value = serde_saphyr::from_str(&graf_text).expect("grafana values.yaml parses");
    let fixture = std::fs::read_to_string(root().join(PATHS_FIXTURE)).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in fixture.lines() {
        let (path, markers) = line.split_once('#').unwrap_or((line, ""));
        let path = path.trim();
        if path.is_empty() {
            continue;
        }
        let path = path.strip_suffix(".*").unwrap_or(path);
        let (doc, text, p) = if markers.contains("(g)") {
            (&graf, &graf_text, path.strip_prefix("grafana.").expect("(g) paths are grafana.*"))
        } else {
            (&kps, &kps_text, path)
        };
        let template = markers.split("(t ").nth(1).and_then(|r| r.split(')').next());
        let ok = if let Some(file) = template {
            let dir = if markers.contains("(g)") { "charts/grafana/templates" } else { "templates" };
            chart_file(&format!("kube-prometheus-stack/{dir}/{file}")).contains(&format!(".Values.{p}"))
        } else if markers.contains("(c)") {
            let leaf = p.rsplit('.').next().unwrap();
            text.lines().any(|l| l.trim_start().starts_with('#') && l.contains(&format!("{leaf}:")))
        } else if markers.contains("(k)") {
            lookup(doc, p.rsplit_once('.').unwrap().0).is_some()
        } else {
            lookup(doc, p).is_some()
        };
        if !ok {
            failures.push(line.to_string());
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "not in chart 88.5.3:\n{}", failures.join("\n"));
    assert!(checked > 70, "{checked}");
}

/// The stacks `helm template` runs on: every stack in stacks/ (its golden values) plus
/// ceph-thanos with `discovery = false`.
fn template_cases(dir: &Path) -> Vec<(String, stackgen::model::Stack, PathBuf)> {
    let mut cases: Vec<_> = stacks().iter().map(|p| (stem(p), model(p), golden_values(p))).collect();
    let text = std::fs::read_to_string(root().join("stacks/ceph-thanos.toml")).unwrap()
        + "\n[kubernetes]\ndiscovery = false\n";
    let s = check_text("no-discovery.toml", &text);
    let values = dir.join("no-discovery.values.yaml");
    std::fs::write(&values, helm::render(&s).values).unwrap();
    cases.push(("ceph-thanos+no-discovery".into(), s, values));
    cases
}

/// `helm template` of the real chart with a values file; `List`s flattened as kubectl does.
fn helm_template(helm: &Path, s: &stackgen::model::Stack, values: &Path) -> Vec<Value> {
    let out = Command::new(helm)
        .args(["template", s.name.as_str()])
        .arg(chart_archive())
        .args(["--namespace", s.namespace.as_str(), "--kube-version", &s.kubernetes_version, "--values"])
        .arg(values)
        .output()
        .expect("helm runs");
    assert!(out.status.success(), "helm template {}: {}", values.display(), String::from_utf8_lossy(&out.stderr));
    let mut objs = Vec::new();
    for d in docs(&String::from_utf8(out.stdout).unwrap()) {
        if d["kind"] == "List" {
            objs.extend(d["items"].as_array().unwrap().iter().cloned());
        } else if !d.is_null() {
            objs.push(d);
        }
    }
    objs
}

fn one<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    let mut found = objs.iter().filter(|o| o["kind"] == kind && o["metadata"]["name"] == name);
    let first = found.next();
    assert!(found.next().is_none(), "one {kind} {name}");
    first
}

/// A label selector (matchLabels and matchExpressions In/Exists) applied to labels.
fn selects(sel: &Value, labels: &Value) -> bool {
    let by_labels = sel["matchLabels"].as_object().into_iter().flatten().all(|(k, v)| &labels[k] == v);
    let by_exprs = sel["matchExpressions"].as_array().into_iter().flatten().all(|e| {
        let have = &labels[e["key"].as_str().unwrap()];
        match e["operator"].as_str().unwrap() {
            "In" => e["values"].as_array().unwrap().contains(have),
            "Exists" => !have.is_null(),
            op => panic!("operator {op}"),
        }
    });
    by_labels && by_exprs
}

/// The monitoring.coreos.com objects against the CRD schemas of reference-data.
fn validate_crd_objects(case: &str, objs: &[&Value]) -> Vec<String> {
    let mut errors = Vec::new();
    for o in objs {
        let version = o["apiVersion"].as_str().unwrap().rsplit('/').next().unwrap();
        let file = format!("{}_{version}.json", o["kind"].as_str().unwrap().to_lowercase());
        let path = root().join(CRD_SCHEMAS).join("monitoring.coreos.com").join(&file);
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e}", path.display());
        }))
        .unwrap();
        let validator = jsonschema::validator_for(&schema).expect("CRD schema compiles");
        for e in validator.iter_errors(o) {
            errors.push(format!("{case}: {} {}: {e} at {}", o["kind"], o["metadata"]["name"], e.instance_path()));
        }
    }
    errors
}

/// `helm template` of chart 88.5.3 with every stack's values succeeds; the Prometheus
/// resource, the disruption budgets, the exporters, the Thanos monitors and the Grafana
/// datasource it renders behave as the stack says; its core objects pass
/// kubernetes-validate and its monitoring.coreos.com objects the CRD schemas.
#[test]
fn helm_template_of_the_real_chart_behaves_like_the_stack() {
    let Some(helm_bin) = real("helm") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut to_validate = std::collections::BTreeMap::<String, String>::new();
    let mut crd_errors = Vec::new();
    for (case, s, values) in template_cases(dir.path()) {
        let objs = helm_template(&helm_bin, &s, &values);
        let companions = docs(&helm::render(&s).manifests);
        let full = helm::fullname(&s);

        // The Prometheus resource.
        let prom = one(&objs, "Prometheus", &helm::prometheus_cr(&s)).unwrap_or_else(|| panic!("{case}: Prometheus"));
        let spec = &prom["spec"];
        assert_eq!(spec["prometheusExternalLabelName"], "", "{case}: no prometheus=<ns>/<cr> external label");
        assert_eq!(spec["replicaExternalLabelName"], s.replica_label(), "{case}");
        assert_eq!(spec["securityContext"]["fsGroupChangePolicy"], "OnRootMismatch", "{case}");
        assert_eq!(spec["shards"], u64::from(s.sharding.shards), "{case}");
        assert_eq!(spec["replicas"], u64::from(s.prometheus.replicas), "{case}");
        // The operator's layout: subPath prometheus-db, the same as manifests mode.
        assert!(spec["storage"].get("disableMountSubPath").is_none(), "{case}");
        if let Some(t) = &s.thanos {
            assert_eq!(spec["thanos"]["version"], t.image.tag.as_str(), "{case}: thanos.version");
            let secret = &spec["thanos"]["objectStorageConfig"]["name"];
            assert!(companions.iter().any(|o| o["kind"] == "Secret" && &o["metadata"]["name"] == secret), "{case}");
        }

        // One disruption budget per chart component, one pod at a time.
        for (component, replicas) in
            [("prometheus", s.prometheus.replicas), ("alertmanager", s.alertmanager.as_ref().map_or(0, |a| a.replicas))]
        {
            let pdb = one(&objs, "PodDisruptionBudget", &format!("{full}-{component}"));
            if replicas > 1 {
                let pdb = pdb.unwrap_or_else(|| panic!("{case}: {component} PDB"));
                assert_eq!(pdb["spec"]["maxUnavailable"], 1, "{case}: {component}");
                assert!(pdb["spec"].get("minAvailable").is_none(), "{case}: {component}");
            } else {
                assert!(pdb.is_none(), "{case}: {component}");
            }
        }

        // discovery = false turns the exporters off with the kubernetes ServiceMonitors.
        let node_exporter = objs
            .iter()
            .any(|o| o["kind"] == "DaemonSet" && o["metadata"]["name"] == format!("{full}-prometheus-node-exporter"));
        let ksm = objs
            .iter()
            .any(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == format!("{full}-kube-state-metrics"));
        assert_eq!(node_exporter, s.kubernetes.discovery, "{case}: node-exporter");
        assert_eq!(ksm, s.kubernetes.discovery, "{case}: kube-state-metrics");
        // ... and no alert stays firing for a target nothing scrapes.
        let alerts: Vec<&str> = objs
            .iter()
            .filter(|o| o["kind"] == "PrometheusRule")
            .flat_map(|o| o["spec"]["groups"].as_array().unwrap())
            .flat_map(|g| g["rules"].as_array().unwrap())
            .filter_map(|r| r["alert"].as_str())
            .collect();
        assert_eq!(alerts.contains(&"KubeAPIDown"), s.kubernetes.discovery, "{case}: KubeAPIDown (absent(up))");

        if s.thanos.is_some() {
            // The sidecars: the chart's ServiceMonitor over the thanos-discovery Service.
            let svc = one(&objs, "Service", &helm::thanos_discovery(&s)).expect("thanos-discovery Service");
            let sm = objs
                .iter()
                .find(|o| o["kind"] == "ServiceMonitor" && selects(&o["spec"]["selector"], &svc["metadata"]["labels"]))
                .unwrap_or_else(|| panic!("{case}: a ServiceMonitor selects the sidecars' Service"));
            let port = sm["spec"]["endpoints"][0]["port"].as_str().unwrap();
            assert!(svc["spec"]["ports"].as_array().unwrap().iter().any(|p| p["name"] == port), "{case}");
            // stackgen's Thanos components: every pod template matched by the PodMonitor,
            // on a port its container declares.
            let pm = objs.iter().find(|o| o["kind"] == "PodMonitor").unwrap_or_else(|| panic!("{case}: PodMonitor"));
            let ep = pm["spec"]["podMetricsEndpoints"][0]["port"].as_str().unwrap();
            let workloads: Vec<&Value> = companions
                .iter()
                .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")))
                .filter(|o| o["metadata"]["name"].as_str().unwrap().contains("thanos"))
                .collect();
            assert_eq!(workloads.len(), 3, "{case}: Query, Store Gateway, Compactor");
            for w in workloads {
                let tpl = &w["spec"]["template"];
                assert!(
                    selects(&pm["spec"]["selector"], &tpl["metadata"]["labels"]),
                    "{case}: {}",
                    w["metadata"]["name"]
                );
                let ports = tpl["spec"]["containers"][0]["ports"].as_array().unwrap();
                assert!(ports.iter().any(|p| p["name"] == ep), "{case}: {} has port {ep}", w["metadata"]["name"]);
            }
            // The Prometheus selects the PodMonitor (release label).
            assert!(selects(&spec["podMonitorSelector"], &pm["metadata"]["labels"]), "{case}");
            // Grafana's datasource asks Thanos Query for downsampled data.
            if s.grafana.is_some() {
                let cm = one(&objs, "ConfigMap", &format!("{full}-grafana-datasource")).expect("datasource ConfigMap");
                let ds: Value = serde_saphyr::from_str(cm["data"]["datasource.yaml"].as_str().unwrap()).unwrap();
                let prom_ds = ds["datasources"].as_array().unwrap().iter().find(|d| d["type"] == "prometheus").unwrap();
                assert!(prom_ds["url"].as_str().unwrap().contains("thanos-query"), "{case}");
                assert_eq!(prom_ds["jsonData"]["customQueryParameters"], "max_source_resolution=auto", "{case}");
            }
        }

        // Validation: core objects with kubernetes-validate, operator objects with the CRDs.
        let (crds, core): (Vec<&Value>, Vec<&Value>) = objs
            .iter()
            .partition(|o| o["apiVersion"].as_str().unwrap_or_default().starts_with("monitoring.coreos.com/"));
        crd_errors.extend(validate_crd_objects(&case, &crds));
        let text: String = core.iter().map(|o| format!("---\n{}\n", serde_json::to_string(o).unwrap())).collect();
        to_validate.entry(s.kubernetes_version.clone()).or_default().push_str(&text);
    }
    assert!(crd_errors.is_empty(), "CRD schema errors:\n{}", crd_errors.join("\n"));
    // One kubernetes-validate run per Kubernetes version (its start-up dominates).
    let files: Vec<(PathBuf, String)> = to_validate
        .into_iter()
        .map(|(version, text)| {
            let file = dir.path().join(format!("chart-objects-{version}.yaml"));
            std::fs::write(&file, text).unwrap();
            (file, version)
        })
        .collect();
    kubernetes_validate_all(files);
}

/// The pods stackgen runs beside the chart (Thanos Query, Store Gateway, Compactor) get
/// the policies of manifests mode, with the chart's Prometheus and Grafana pods as peers;
/// what the chart leaves open is a warning that names it.
#[test]
fn companions_get_network_policies_and_the_chart_pods_a_warning() {
    let s = model(&root().join("stacks/ceph-thanos.toml"));
    let objs = docs(&helm::render(&s).manifests);
    let policies: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "NetworkPolicy").collect();
    let workloads: Vec<&Value> =
        objs.iter().filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet"))).collect();
    assert!(!workloads.is_empty());
    for w in &workloads {
        let labels = &w["spec"]["template"]["metadata"]["labels"];
        let mine: Vec<&str> = policies
            .iter()
            .filter(|p| selects(&p["spec"]["podSelector"], labels))
            .map(|p| p["metadata"]["name"].as_str().unwrap())
            .collect();
        assert!(mine.contains(&"ha-default-deny"), "{}: {mine:?}", w["metadata"]["name"]);
        assert!(mine.len() >= 3, "{}: deny, DNS and its own policy: {mine:?}", w["metadata"]["name"]);
    }
    // Query reaches the chart's Prometheus pods (the sidecars) by the operator's labels.
    let query = policies.iter().find(|p| p["metadata"]["name"] == "ha-thanos-query").unwrap();
    let operator_pod = serde_json::json!({"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "ha-prometheus", "operator.prometheus.io/shard": "1"});
    let egress = query["spec"]["egress"].as_array().unwrap();
    assert!(egress.iter().flat_map(|r| r["to"].as_array().unwrap()).any(|p| selects(&p["podSelector"], &operator_pod)));
    // No policy names a pod the chart runs: those are the warning's.
    for p in &policies {
        assert!(!selects(&p["spec"]["podSelector"], &operator_pod), "{}", p["metadata"]["name"]);
    }
    let warning = stackgen::lint::helm_values(&s)
        .into_iter()
        .find(|d| d.path.as_deref() == Some("/security/network_policies"))
        .expect("a warning for what the chart leaves open");
    for pod in ["Prometheus", "Alertmanager", "Grafana", "operator", "kube-state-metrics", "node-exporter"] {
        assert!(warning.message.contains(pod), "{pod}: {}", warning.message);
    }
    // Without any pod of stackgen's, no policy at all (nothing to select), still the warning.
    let iscsi = model(&root().join("stacks/static-iscsi.toml"));
    assert!(!docs(&helm::render(&iscsi).manifests).iter().any(|o| o["kind"] == "NetworkPolicy"));
    assert!(stackgen::lint::helm_values(&iscsi)
        .iter()
        .any(|d| d.path.as_deref() == Some("/security/network_policies")));
}

/// `--check` compares a values file (stdout's) or an -o directory with a fresh render;
/// `--prune` removes files stackgen wrote earlier that this render does not have.
#[test]
fn cli_check_and_prune_work_for_helm_values() {
    let stack = root().join("stacks/ceph-thanos.toml");
    let dir = tempfile::tempdir().unwrap();
    let render =
        |extra: &[&str]| run(Command::new(bin()).args(["render", "--format", "helm-values"]).arg(&stack).args(extra));
    // A fresh values file passes, a stale one fails with a diff.
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, std::fs::read_to_string(golden_values(&stack)).unwrap()).unwrap();
    let (code, stdout, stderr) = render(&["--check", values.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    let stale = std::fs::read_to_string(&values).unwrap().replace("maxUnavailable: 1", "maxUnavailable: 2");
    std::fs::write(&values, stale).unwrap();
    let (code, stdout, stderr) = render(&["--check", values.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("-    maxUnavailable: 2") && stdout.contains("+    maxUnavailable: 1"), "{stdout}");
    assert!(stderr.contains("is stale"), "{stderr}");
    // An -o directory: both files compared, and a stale file stackgen wrote is found.
    let out = dir.path().join("out");
    let (code, _, stderr) = render(&["-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = render(&["--check", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(
        out.join("manifests.yaml"),
        "# Rendered by stackgen from stack.toml; edit the stack, not this file.\n",
    )
    .unwrap();
    let old = out.join("old-object.yaml");
    std::fs::write(&old, "# Rendered by stackgen from stack.toml; edit the stack, not this file.\nkind: x\n").unwrap();
    let mine = out.join("notes.yaml");
    std::fs::write(&mine, "a user's file\n").unwrap();
    let (code, stdout, _) = render(&["--check", out.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("manifests.yaml (committed)") && stdout.contains("old-object.yaml (committed)"),
        "{stdout}"
    );
    // --keep-stale keeps the stale file stackgen wrote; plain -o (and the old --prune,
    // now a no-op) removes it; the user's file stays either way.
    let (code, _, stderr) = render(&["-o", out.to_str().unwrap(), "--keep-stale"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(old.exists() && mine.exists());
    let (code, _, stderr) = render(&["-o", out.to_str().unwrap(), "--prune"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed") && stderr.contains("old-object.yaml"), "{stderr}");
    assert!(!old.exists() && mine.exists());
    let (code, _, stderr) = render(&["--check", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}
