//! `render --format operator`: goldens (golden/operator/, re-bless with
//! `UPDATE_GOLDEN=1 cargo test --test it operator::goldens`), every custom resource
//! validated strictly against the operator's CRD schemas
//! (../shared/reference-data/crd-schemas/, `additionalProperties: false` wherever a
//! schema lists properties), every companion through kubernetes-validate, the three
//! formats agreeing on scrape jobs, retention and external labels, the command line
//! (`--check`, `-o`, `lint --target operator`, `diff --target operator`), and the real
//! Prometheus Operator v0.93.1 on a real control plane reconciling the render.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};

use crate::common::*;
use crate::control_plane::{
    binding, cluster_classes, objects, pods_created, s, tail, until, ControlPlane, Kube, Proc, WAIT,
};

fn model(stack: &Path) -> stackgen::model::Stack {
    crate::common::check_file(stack)
}

fn operator_text(stack: &Path) -> String {
    stackgen::render::operator::to_text(&model(stack))
}

fn is_cr(d: &Value) -> bool {
    d["apiVersion"].as_str().is_some_and(|a| a.starts_with("monitoring.coreos.com/"))
}

#[test]
fn goldens_match() {
    let mut golden = Snapshots::tree(root().join("golden/operator"), ".yaml", "operator::goldens");
    for stack in stacks() {
        golden.compare_in_tree(&format!("{}.yaml", stem(&stack)), &operator_text(&stack));
    }
    golden.finish();
}

// ---- the CRD schemas ------------------------------------------------------------------------

const CRD_SCHEMAS: &str = "../shared/reference-data/crd-schemas/monitoring.coreos.com";

/// `additionalProperties: false` wherever a schema lists `properties` and says nothing
/// of other keys: an unknown field fails, as `kubectl apply --validate=strict` fails it.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), json!(false));
            }
            m.values_mut().for_each(strict);
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The strict validator of one kind (`Prometheus` → `prometheus_v1.json`); None (a skip,
/// a failure under CI) without the schemas.
fn crd_validator(kind: &str) -> Option<jsonschema::Validator> {
    let path = root().join(CRD_SCHEMAS).join(format!("{}_v1.json", kind.to_lowercase()));
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(!in_ci(), "{} missing", path.display());
        skipped(&format!("{} missing", path.display()));
        return None;
    };
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    strict(&mut schema);
    Some(jsonschema::validator_for(&schema).expect("CRD schema compiles"))
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

#[test]
fn resources_validate_strictly_against_the_crds() {
    let mut validators = BTreeMap::new();
    for kind in ["Prometheus", "Alertmanager", "PrometheusRule", "Probe"] {
        let Some(v) = crd_validator(kind) else { return };
        validators.insert(kind.to_string(), v);
    }
    let mut seen = BTreeMap::<String, usize>::new();
    for stack in stacks() {
        for d in docs(&operator_text(&stack)).iter().filter(|d| is_cr(d)) {
            let kind = d["kind"].as_str().unwrap();
            let v = validators.get(kind).unwrap_or_else(|| panic!("{}: no schema for {kind}", stem(&stack)));
            let e = errors(v, d);
            assert!(e.is_empty(), "{}: {kind} {}: {e:#?}", stem(&stack), d["metadata"]["name"]);
            *seen.entry(kind.to_string()).or_default() += 1;
        }
    }
    assert_eq!(seen["Prometheus"], stacks().len(), "{seen:?}");
    assert!(seen["Alertmanager"] > 0 && seen["PrometheusRule"] > 0, "{seen:?}");
    // The Probe emitter, on a probe the model will carry.
    let s = model(&root().join("stacks/ceph-thanos.toml"));
    let n = stackgen::render::Names { stack: &s };
    let probe = stackgen::alerting::blackbox::ProbeSpec {
        job: "web".into(),
        module: stackgen::alerting::blackbox::ProbeModule::Http2xx,
        targets: vec!["https://example.org".into()],
        interval: None,
    };
    for o in stackgen::render::operator::probe_resources(&n, &[probe], "ha-blackbox-exporter.monitoring.svc:9115") {
        let e = errors(&validators["Probe"], &o.value);
        assert!(e.is_empty(), "Probe: {e:#?}");
    }
    // Strict for real: an unknown field and the retentionSize trap of issue 20 fail.
    let p = stackgen::render::operator::prometheus_resource(&n).value;
    let mut unknown = p.clone();
    unknown["spec"]["thanos"]["objstoreConfig"] = json!({"name": "x"});
    assert!(!errors(&validators["Prometheus"], &unknown).is_empty(), "an unknown field passed");
    let mut size = p;
    size["spec"]["retentionSize"] = json!("50Gi");
    assert!(!errors(&validators["Prometheus"], &size).is_empty(), "retentionSize 50Gi passed");
}

#[test]
fn companions_pass_kubernetes_validate() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stack in stacks() {
        let text: String = docs(&operator_text(&stack))
            .iter()
            .filter(|d| !is_cr(d))
            .map(|d| format!("---\n{}\n", serde_json::to_string(d).unwrap()))
            .collect();
        let file = dir.path().join(format!("{}.yaml", stem(&stack)));
        std::fs::write(&file, text).unwrap();
        files.push((file, model(&stack).kubernetes_version));
    }
    kubernetes_validate_all(files);
}

// ---- the three formats agree ------------------------------------------------------------------

/// What every format must say alike: the scrape jobs (sharding relabels aside: stackgen
/// writes them in manifests mode, the operator appends the same ones), retention, and
/// external labels (the stack's, the replica label's name, whether there is a per-shard
/// label).
#[derive(Debug, PartialEq)]
struct Essentials {
    jobs: Vec<Value>,
    retention: String,
    retention_size: Option<String>,
    labels: BTreeMap<String, String>,
    replica_label: String,
    per_shard_label: bool,
}

/// A job without the sharding relabels (the three that end in the `keep` on `__tmp_hash`).
fn unsharded(mut j: Value) -> Value {
    if let Some(rc) = j.get_mut("relabel_configs").and_then(Value::as_array_mut) {
        rc.retain(|r| {
            let src = r["source_labels"].to_string();
            r["target_label"] != "__tmp_hash" && !src.contains("__tmp_hash")
        });
        if rc.is_empty() {
            j.as_object_mut().unwrap().remove("relabel_configs");
        }
    }
    j
}

fn manifests_essentials(text: &str) -> Essentials {
    let d = docs(text);
    let (_, cfg) = prometheus_configs(&d).into_iter().next().expect("a prometheus.yml");
    let sts = d
        .iter()
        .find(|o| o["kind"] == "StatefulSet" && o["spec"]["template"]["spec"]["containers"][0]["name"] == "prometheus")
        .unwrap();
    let args: Vec<&str> = sts["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let arg = |f: &str| args.iter().find_map(|a| a.strip_prefix(&format!("{f}="))).map(String::from);
    let mut labels: BTreeMap<String, String> =
        serde_json::from_value(cfg["global"]["external_labels"].clone()).unwrap();
    let replica_label = labels.iter().find(|(_, v)| *v == "${POD_NAME}").map(|(k, _)| k.clone()).unwrap();
    labels.remove(&replica_label);
    let per_shard_label = labels.remove("shard").is_some();
    Essentials {
        jobs: cfg["scrape_configs"].as_array().unwrap().iter().cloned().map(unsharded).collect(),
        retention: arg("--storage.tsdb.retention.time").unwrap(),
        retention_size: arg("--storage.tsdb.retention.size"),
        labels,
        replica_label,
        per_shard_label,
    }
}

fn operator_essentials(text: &str) -> Essentials {
    let d = docs(text);
    let p = d.iter().find(|o| o["kind"] == "Prometheus").unwrap();
    let spec = &p["spec"];
    let secret = d
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == spec["additionalScrapeConfigs"]["name"])
        .unwrap();
    let jobs: Value = serde_saphyr::from_str(
        secret["stringData"][spec["additionalScrapeConfigs"]["key"].as_str().unwrap()].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(spec["prometheusExternalLabelName"], "", "an extra `prometheus` external label");
    let mut labels: BTreeMap<String, String> = serde_json::from_value(spec["externalLabels"].clone()).unwrap();
    let per_shard_label = labels.remove("shard").is_some_and(|v| v == "$(SHARD)");
    Essentials {
        jobs: jobs.as_array().unwrap().clone(),
        retention: spec["retention"].as_str().unwrap().to_string(),
        retention_size: spec["retentionSize"].as_str().map(String::from),
        labels,
        replica_label: spec["replicaExternalLabelName"].as_str().unwrap().to_string(),
        per_shard_label,
    }
}

fn helm_essentials(values: &str) -> Essentials {
    let v: Value = serde_saphyr::from_str(values).unwrap();
    let spec = &v["prometheus"]["prometheusSpec"];
    assert_eq!(spec["prometheusExternalLabelNameClear"], true);
    Essentials {
        jobs: spec["additionalScrapeConfigs"].as_array().cloned().unwrap_or_default(),
        retention: spec["retention"].as_str().unwrap().to_string(),
        retention_size: spec["retentionSize"].as_str().map(String::from),
        labels: serde_json::from_value(spec["externalLabels"].clone()).unwrap(),
        replica_label: spec["replicaExternalLabelName"].as_str().unwrap().to_string(),
        // SG125: the chart cannot give shards their own label.
        per_shard_label: false,
    }
}

#[test]
fn the_three_formats_agree() {
    for stack in stacks() {
        let name = stem(&stack);
        let m = manifests_essentials(&std::fs::read_to_string(golden_path(&stack)).unwrap());
        let o =
            operator_essentials(&std::fs::read_to_string(root().join(format!("golden/operator/{name}.yaml"))).unwrap());
        let h =
            helm_essentials(&std::fs::read_to_string(root().join(format!("golden/helm/{name}.values.yaml"))).unwrap());
        // The operator scrapes Alertmanager under the operator's pod names, each
        // Prometheus pod itself and its sidecar on localhost, and Thanos Query by its
        // Service: the same jobs, other addresses. The shards' watch list (`prometheus-shards`,
        // a file_sd ConfigMap of manifests mode) has no operator counterpart.
        // Probe jobs are Probe resources in the operator's format (compared below).
        let probes: BTreeSet<String> = model(&stack).probes.iter().map(|p| p.job.clone()).collect();
        let targets_aside = |e: &Essentials| -> Vec<Value> {
            e.jobs
                .iter()
                .filter(|j| j["job_name"] != "prometheus-shards")
                .filter(|j| !probes.contains(j["job_name"].as_str().unwrap_or_default()))
                .map(|j| {
                    let mut j = j.clone();
                    let job = j["job_name"].as_str().unwrap_or_default().to_string();
                    if ["alertmanager", "prometheus", "thanos-sidecar", "thanos-query"].contains(&job.as_str()) {
                        let m = j.as_object_mut().unwrap();
                        m.remove("static_configs");
                        m.remove("dns_sd_configs");
                        m.insert("targets".into(), json!(format!("<the {job} pods>")));
                    }
                    j
                })
                .collect()
        };
        assert_eq!(targets_aside(&m), targets_aside(&o), "{name}: manifests and operator jobs differ");
        // Each probe job of manifests mode is a Probe with its module and targets.
        let operator_docs =
            docs(&std::fs::read_to_string(root().join(format!("golden/operator/{name}.yaml"))).unwrap());
        for job in m.jobs.iter().filter(|j| probes.contains(j["job_name"].as_str().unwrap_or_default())) {
            let probe = operator_docs
                .iter()
                .find(|d| d["kind"] == "Probe" && d["spec"]["jobName"] == job["job_name"])
                .unwrap_or_else(|| panic!("{name}: no Probe for job {}", job["job_name"]));
            assert_eq!(probe["spec"]["module"], job["params"]["module"][0], "{name}");
            assert_eq!(
                probe["spec"]["targets"]["staticConfig"]["static"], job["static_configs"][0]["targets"],
                "{name}"
            );
        }
        // The stack's own rule files: the same groups in every format (a key of the rules
        // ConfigMap, a PrometheusRule, an additionalPrometheusRulesMap entry). The built-in
        // rules differ by design (the chart brings its own defaultRules).
        let stack_model = model(&stack);
        let mut want: Vec<Value> = Vec::new();
        let manifests_docs = docs(&std::fs::read_to_string(golden_path(&stack)).unwrap());
        let rules_cm = manifests_docs.iter().find(|d| {
            d["kind"] == "ConfigMap" && d["metadata"]["name"] == format!("{}-prometheus-rules", stack_model.name)
        });
        for f in &stack_model.rules.files {
            let text = rules_cm
                .and_then(|c| c["data"][f.name.as_str()].as_str())
                .unwrap_or_else(|| panic!("{name}: {} not in the rules ConfigMap", f.name));
            let v: Value = serde_saphyr::from_str(text).unwrap();
            want.extend(v["groups"].as_array().unwrap().iter().cloned());
        }
        let by_name = |mut g: Vec<Value>| {
            g.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            g
        };
        let operator_groups: Vec<Value> = operator_docs
            .iter()
            .filter(|d| {
                d["kind"] == "PrometheusRule"
                    && d["metadata"]["name"] != format!("{}-self-monitoring", stack_model.name)
            })
            .flat_map(|d| d["spec"]["groups"].as_array().cloned().unwrap_or_default())
            .collect();
        let helm_values: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(root().join(format!("golden/helm/{name}.values.yaml"))).unwrap(),
        )
        .unwrap();
        let helm_groups: Vec<Value> = helm_values["additionalPrometheusRulesMap"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != "stackgen-thanos")
            .flat_map(|(_, v)| v["groups"].as_array().cloned().unwrap_or_default())
            .collect();
        assert_eq!(
            by_name(want.clone()),
            by_name(operator_groups),
            "{name}: manifests and operator rule groups differ"
        );
        assert_eq!(by_name(want.clone()), by_name(helm_groups), "{name}: manifests and helm rule groups differ");
        assert_eq!(want.is_empty(), stack_model.rules.files.is_empty(), "{name}");
        // The chart scrapes the cluster with its own ServiceMonitors: `[[scrape]]` alike.
        let user: BTreeSet<String> = model(&stack).scrape.iter().map(|j| j.job.clone()).collect();
        let user_jobs = |e: &Essentials| -> Vec<Value> {
            e.jobs.iter().filter(|j| user.contains(j["job_name"].as_str().unwrap())).cloned().collect()
        };
        assert_eq!(user_jobs(&m), user_jobs(&h), "{name}: manifests and helm [[scrape]] jobs differ");
        assert_eq!(user_jobs(&m).len(), user.len(), "{name}");
        for (what, e) in [("operator", &o), ("helm-values", &h)] {
            assert_eq!(
                (&m.retention, &m.retention_size),
                (&e.retention, &e.retention_size),
                "{name}: {what} retention"
            );
            assert_eq!(m.labels, e.labels, "{name}: {what} external labels");
            assert_eq!(m.replica_label, e.replica_label, "{name}: {what} replica label");
        }
        assert_eq!(m.per_shard_label, o.per_shard_label, "{name}: per-shard label");
    }
}

// ---- the command line ---------------------------------------------------------------------------

fn stackgen(args: &[&str]) -> (i32, String, String) {
    run(Command::new(bin()).args(args).current_dir(root()).env("NO_COLOR", "1"))
}

#[test]
fn render_check_lint_and_diff_in_operator_format() {
    let stack = "stacks/ceph-thanos.toml";
    let golden = "golden/operator/ceph-thanos.yaml";
    let (code, out, err) = stackgen(&["render", "--format", "operator", stack]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(stackgen::render::HEADER) && out.contains("Prometheus Operator v0.93.1"), "{out:.300}");
    assert_eq!(stackgen(&["render", "--format", "operator", stack, "--check", golden]).0, 0);
    // A stale committed render: exit 1, a diff, how to regenerate.
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.yaml");
    std::fs::write(&stale, out.replace("retention: \"2d\"", "retention: \"3d\"")).unwrap();
    let (code, out2, err) = stackgen(&["render", "--format", "operator", stack, "--check", stale.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(out2.contains("-  retention: \"3d\"") && err.contains("--format operator"), "{out2}{err}");
    // -o DIR, then --check against it.
    let o = dir.path().join("out");
    let (code, _, err) = stackgen(&["render", "--format", "operator", stack, "-o", o.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(o.join("prometheus-ha-prometheus.yaml").is_file());
    assert_eq!(stackgen(&["render", "--format", "operator", stack, "--check", o.to_str().unwrap()]).0, 0);
    // lint --target operator: SG160 for what the operator cannot express.
    let text = std::fs::read_to_string(root().join(stack)).unwrap() + "\n";
    let tagged = dir.path().join("tagged.toml");
    std::fs::write(&tagged, text.replacen("version = \"v0.39.2\"", "version = \"main-2025\"", 1)).unwrap();
    let (_, out, err) = stackgen(&["lint", "--target", "operator", "--format", "json", tagged.to_str().unwrap()]);
    let diags: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert!(diags.as_array().unwrap().iter().any(|d| d["code"] == "SG160"), "{diags:#}");
    let (_, out, _) = stackgen(&["lint", "--format", "json", tagged.to_str().unwrap()]);
    assert!(!out.contains("SG160"), "SG160 only for --target operator");
    // diff --target operator: none against its own render, risks named with the operator's objects.
    let (code, out, err) = stackgen(&["diff", stack, "--target", "operator", "--against", golden]);
    assert_eq!(code, 0, "{out}{err}");
    let fewer = dir.path().join("fewer.toml");
    std::fs::write(&fewer, text.replacen("shards = 4", "shards = 2", 1)).unwrap();
    let (code, out, err) =
        stackgen(&["diff", fewer.to_str().unwrap(), "--target", "operator", "--format", "json", "--base", stack]);
    assert_eq!(code, 1, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let sc = j["risks"].as_array().unwrap().iter().find(|r| r["code"] == "shard-count").expect("shard-count risk");
    let msg = sc["message"].as_str().unwrap();
    assert!(msg.contains("prometheus-ha-prometheus-shard-2, prometheus-ha-prometheus-shard-3"), "{msg}");
}

// ---- the real operator ----------------------------------------------------------------------------

/// A stack with everything the operator reconciles and static PVs for every claim:
/// static NFS (one directory per pod, also for Alertmanager, Store Gateway, Compactor,
/// Grafana), 2 shards x 2 replicas, Thanos, Alertmanager.
fn real_stack() -> String {
    let base = std::fs::read_to_string(root().join("stacks/static-nfs.toml")).unwrap();
    let base = base.replace("component_class = \"standard\"\n", "");
    let thanos = std::fs::read_to_string(root().join("stacks/ceph-thanos.toml")).unwrap();
    let thanos = &thanos[thanos.find("[thanos]").unwrap()..thanos.find("[alertmanager]").unwrap()];
    let probes = PROBE_TARGETS.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ");
    format!(
        "{base}\n[sharding]\nshards = 2\n\n{thanos}\n[alertmanager]\nreplicas = 2\n\n\
         [[probe]]\nmodule = \"http_2xx\"\ntargets = [{probes}]\n"
    )
}

/// The probe targets of [`real_stack`]: enough that both shards get some.
const PROBE_TARGETS: [&str; 8] = [
    "https://a.example.com/healthz",
    "https://b.example.com/healthz",
    "https://c.example.com/healthz",
    "https://d.example.com/healthz",
    "https://e.example.com/healthz",
    "https://f.example.com/healthz",
    "https://g.example.com/healthz",
    "https://h.example.com/healthz",
];

/// The operator's config for one Prometheus resource: Secret `prometheus-<cr>`, key
/// `prometheus.yaml.gz`, gunzipped.
fn generated_config(kube: &Kube, ns: &str, cr: &str, work: &Path) -> Option<String> {
    let out = kube.run(&[
        "-n",
        ns,
        "get",
        "secret",
        &format!("prometheus-{cr}"),
        "-o",
        "jsonpath={.data.prometheus\\.yaml\\.gz}",
    ]);
    if out.code != 0 || out.stdout.is_empty() {
        return None;
    }
    let gz = work.join("prometheus.yaml.gz.b64");
    std::fs::write(&gz, out.stdout.trim()).unwrap();
    let (code, text, err) = run(Command::new("sh").arg("-c").arg(format!("base64 -d '{}' | gunzip", gz.display())));
    assert_eq!(code, 0, "{err}");
    Some(text)
}

#[test]
fn the_real_operator_reconciles_the_render() {
    let _real = real_components_lock();
    let mut found = BTreeMap::new();
    for b in ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "operator", "promtool"]
    {
        match real(b) {
            Some(p) => {
                found.insert(b, p);
            }
            None => return,
        }
    }
    if tool("openssl").is_none() || tool("curl").is_none() {
        return;
    }
    let chart = root().join("../shared/reference-data/charts/kube-prometheus-stack-88.5.3.tgz");
    if !chart.is_file() {
        assert!(!in_ci(), "{} is required under CI=true (the operator's CRDs)", chart.display());
        skipped("the operator's CRDs: chart archive not found");
        return;
    }
    let t = Instant::now();
    let work = tempfile::Builder::new().prefix("stackgen-operator-").tempdir().unwrap();
    let path = |n: &str| work.path().join(n);
    // The render, through the command line.
    std::fs::write(path("stack.toml"), real_stack()).unwrap();
    let (code, text, err) = run(Command::new(bin()).args(["render", "--format", "operator"]).arg(path("stack.toml")));
    assert_eq!(code, 0, "{err}");
    std::fs::write(path("operator.yaml"), &text).unwrap();
    let render = objects(&text);
    let manifests = docs(&stackgen::render_manifests(&check_text("real", &real_stack())));
    let cr = render.iter().find(|o| o["kind"] == "Prometheus").unwrap().clone();
    let (cr_name, ns) = (s(&cr, "/metadata/name").to_string(), s(&cr, "/metadata/namespace").to_string());
    let spec = &cr["spec"];

    let nodes: Vec<String> = ["node-a", "node-b", "node-c"].map(String::from).to_vec();
    let (_cp, kubeconfig) = ControlPlane::up(&nodes);
    let kube = Kube { kubectl: found["kubectl"].clone(), kubeconfig: kubeconfig.clone(), cache: path("kube-cache") };
    // The operator's CRDs, v0.93.1 (the chart's crds sub-chart).
    std::fs::create_dir_all(path("chart")).unwrap();
    let (code, _, err) = run(Command::new("tar").arg("xzf").arg(&chart).arg("-C").arg(path("chart")));
    assert_eq!(code, 0, "tar: {err}");
    let o = kube.apply_file(&path("chart/kube-prometheus-stack/charts/crds/crds"));
    assert_eq!(o.code, 0, "CRDs: {}", o.stderr);
    let o = kube.run(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    assert_eq!(o.code, 0, "CRDs not established: {}", o.stderr);
    let fixtures = cluster_classes(&render);
    if !fixtures.is_empty() {
        assert_eq!(kube.apply_objects(&fixtures).code, 0);
    }
    // The objstore credentials the stack names (a Secret the user provides).
    let creds = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "thanos-objstore-credentials"},
                       "stringData": {"access_key": "test", "secret_key": "test"}});
    let o = kube.apply_in_parallel(&render);
    assert_eq!(o.code, 0, "apply: {}", o.stderr);
    assert!(!o.stderr.contains("Warning"), "apply warned: {}", o.stderr);
    let mut creds = creds;
    creds["metadata"]["namespace"] = json!(ns);
    assert_eq!(kube.apply_objects(&[creds]).code, 0);

    // The operator, watching the stack's namespace.
    let certs = kubeconfig.parent().unwrap().join("certs");
    let server = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(String::from))
        .expect("kubeconfig has a server");
    let log = path("operator.log");
    let logf = std::fs::File::create(&log).unwrap();
    let _op = Proc(
        Command::new(&found["operator"])
            .args([
                format!("--apiserver={server}"),
                "--tls-insecure".into(),
                format!("--cert-file={}", certs.join("admin.crt").display()),
                format!("--key-file={}", certs.join("admin.key").display()),
                "--web.enable-tls=false".into(),
                format!("--web.listen-address=127.0.0.1:{}", free_port()),
                format!("--namespaces={ns}"),
            ])
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("operator starts"),
    );
    let shards = spec["shards"].as_u64().unwrap();
    let want = shards + render.iter().filter(|o| o["kind"] == "Alertmanager").count() as u64;
    let mut sts = Vec::new();
    let made = until(WAIT * 2, || {
        sts = kube
            .items(&["statefulsets.apps", "-n", &ns])
            .into_iter()
            .filter(|o| s(o, "/metadata/ownerReferences/0/apiVersion").starts_with("monitoring.coreos.com/"))
            .collect();
        (sts.len() as u64 >= want).then_some(())
    });
    assert!(
        made.is_some(),
        "the operator made {} of {want} StatefulSets; its log ends:\n{}",
        sts.len(),
        tail(&log, 25)
    );

    let mut failures = Vec::new();
    // The flags the stack asked for, on every shard's StatefulSet: retention and size from
    // the resource, block durations and the rest as manifests mode passes them.
    let manifests_args: BTreeSet<String> = manifests
        .iter()
        .filter(|o| o["kind"] == "StatefulSet")
        .flat_map(|o| o["spec"]["template"]["spec"]["containers"][0]["args"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(String::from))
        .filter(|a| a.starts_with("--storage.tsdb.") && !a.starts_with("--storage.tsdb.path"))
        .collect();
    assert!(manifests_args.iter().any(|a| a.contains("block-duration")), "{manifests_args:?}");
    let mut prom_sts: Vec<&Value> =
        sts.iter().filter(|o| s(o, "/metadata/labels/operator.prometheus.io~1name") == cr_name).collect();
    prom_sts.sort_by_key(|o| s(o, "/metadata/name").to_string());
    let names: Vec<&str> = prom_sts.iter().map(|o| s(o, "/metadata/name")).collect();
    let expected: Vec<String> =
        (0..shards).map(|i| stackgen::render::helm::operator_statefulset(&cr_name, i)).collect();
    if names != expected.iter().map(String::as_str).collect::<Vec<_>>() {
        failures.push(format!("StatefulSets {names:?}, want one per shard {expected:?}"));
    }
    for o in &prom_sts {
        let c = o["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "prometheus")
            .unwrap();
        let args: BTreeSet<String> =
            c["args"].as_array().unwrap().iter().filter_map(|a| a.as_str().map(String::from)).collect();
        let mut want_args = manifests_args.clone();
        want_args.insert(format!("--storage.tsdb.retention.time={}", spec["retention"].as_str().unwrap()));
        if let Some(size) = spec["retentionSize"].as_str() {
            want_args.insert(format!("--storage.tsdb.retention.size={size}"));
        }
        for a in &want_args {
            if !args.contains(a) {
                failures.push(format!("{}: no {a} among {args:?}", s(o, "/metadata/name")));
            }
        }
        if o["spec"]["replicas"] != spec["replicas"] {
            failures.push(format!(
                "{}: replicas {} (want {})",
                s(o, "/metadata/name"),
                o["spec"]["replicas"],
                spec["replicas"]
            ));
        }
    }
    // Claims bound to stackgen's PVs: the operator's StatefulSets and stackgen's own
    // (Store Gateway, Compactor), scheduled on the fake nodes.
    let mut all_sts: Vec<Value> = sts.clone();
    all_sts.extend(render.iter().filter(|o| o["kind"] == "StatefulSet").cloned());
    let workloads: Vec<Value> = all_sts.clone();
    if pods_created(&kube, "operator render", &workloads, &mut failures) {
        let claims: Vec<Value> = render.iter().filter(|o| o["kind"] == "PersistentVolumeClaim").cloned().collect();
        let pvs: Vec<Value> = render.iter().filter(|o| o["kind"] == "PersistentVolume").cloned().collect();
        assert!(pvs.len() as u64 >= shards * spec["replicas"].as_u64().unwrap(), "static PVs");
        failures.extend(binding(&kube, "operator render", &all_sts, &claims, &pvs));
    }
    // The operator's prometheus.yml: the stack's external labels, the replica label, no
    // `prometheus` label, every job of the Secret; and promtool 3 accepts it.
    let cfg_text = until(WAIT, || generated_config(&kube, &ns, &cr_name, work.path()));
    match cfg_text {
        None => failures.push(format!("no generated config Secret prometheus-{cr_name}; log:\n{}", tail(&log, 20))),
        Some(text) => {
            let cfg: Value = serde_saphyr::from_str(&text).unwrap();
            let ext = &cfg["global"]["external_labels"];
            let replica = spec["replicaExternalLabelName"].as_str().unwrap();
            if ext[replica] != "$(POD_NAME)" || ext.get("prometheus").is_some() {
                failures.push(format!("external labels {ext}: want {replica}=$(POD_NAME) and no `prometheus`"));
            }
            // Every job of the Secret, each with the operator's one hashmod by the shard
            // count (stackgen wrote none).
            let secret = render
                .iter()
                .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == spec["additionalScrapeConfigs"]["name"])
                .unwrap();
            let key = spec["additionalScrapeConfigs"]["key"].as_str().unwrap();
            let jobs: Value = serde_saphyr::from_str(secret["stringData"][key].as_str().unwrap()).unwrap();
            let generated = cfg["scrape_configs"].as_array().cloned().unwrap_or_default();
            for j in jobs.as_array().unwrap() {
                let name = &j["job_name"];
                let Some(g) = generated.iter().find(|g| &g["job_name"] == name) else {
                    failures.push(format!("job {name} of the Secret is not in the operator's config"));
                    continue;
                };
                let hashmods: Vec<&Value> = g["relabel_configs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["action"] == "hashmod")
                    .collect();
                let want = usize::from(shards > 1);
                if hashmods.len() != want || hashmods.iter().any(|h| h["modulus"].as_u64() != Some(shards)) {
                    failures
                        .push(format!("job {name}: hashmod relabels {hashmods:?}, want {want} with modulus {shards}"));
                }
                // The operator's keep: each pod its own shard ($(SHARD), set per StatefulSet).
                let keeps_own_shard =
                    g["relabel_configs"].as_array().into_iter().flatten().any(|r| {
                        r["action"] == "keep" && r["regex"].as_str().is_some_and(|x| x.starts_with("$(SHARD);"))
                    });
                if shards > 1 && !keeps_own_shard {
                    failures
                        .push(format!("job {name}: no keep of `$(SHARD)`: each shard would scrape shard 0's targets"));
                }
            }
            // Alerts lose the shard label as in manifests mode (the operator drops the
            // replica label itself).
            if spec.get("additionalAlertRelabelConfigs").is_some() {
                let drops_shard =
                    cfg["alerting"]["alert_relabel_configs"].as_array().into_iter().flatten().any(|r| {
                        r["action"] == "labeldrop" && r["regex"].as_str().is_some_and(|x| x.contains("shard"))
                    });
                if !drops_shard {
                    failures.push(format!("alerts keep the shard label: {}", cfg["alerting"]));
                }
            }
            // The PrometheusRule reaches the config as a rule file.
            if cfg["rule_files"].as_array().is_none_or(Vec::is_empty) {
                failures.push("the operator's config has no rule_files: the PrometheusRule was not selected".into());
            }
            for (k, v) in spec["externalLabels"].as_object().unwrap() {
                if &ext[k] != v {
                    failures.push(format!("external label {k}: {} (want {v})", ext[k]));
                }
            }
            // As the config reloader writes it for pod 0 of shard 0, the pod's files in a
            // temporary directory (promtool checks that they exist).
            let sa = path("sa");
            std::fs::create_dir_all(&sa).unwrap();
            std::fs::write(sa.join("token"), "t").unwrap();
            std::fs::write(sa.join("ca.crt"), "").unwrap();
            // The rule files the operator made from the PrometheusRule (ConfigMaps
            // `prometheus-<cr>-rulefiles-<n>`, mounted under /etc/prometheus/rules/<name>/):
            // promtool checks them with the config.
            let mut rule_files = 0;
            for cm in kube.items(&["configmaps", "-n", &ns]) {
                let name = s(&cm, "/metadata/name");
                if !name.starts_with(&format!("prometheus-{cr_name}-rulefiles-")) {
                    continue;
                }
                let dir = work.path().join("rules").join(name);
                std::fs::create_dir_all(&dir).unwrap();
                for (file, text) in cm["data"].as_object().into_iter().flatten() {
                    std::fs::write(dir.join(file), text.as_str().unwrap()).unwrap();
                    rule_files += 1;
                }
            }
            let prometheus_rules = render.iter().filter(|o| o["kind"] == "PrometheusRule").count();
            if rule_files < prometheus_rules {
                failures.push(format!("{rule_files} rule files for {prometheus_rules} PrometheusRules"));
            }
            let raw = text.clone();
            let text = text
                .replace("$(SHARD)", "0")
                .replace("$(POD_NAME)", &format!("{}-0", expected[0]))
                .replace("/var/run/secrets/kubernetes.io/serviceaccount", sa.to_str().unwrap())
                .replace("/etc/prometheus/rules/", &format!("{}/rules/", work.path().display()));
            std::fs::write(path("prometheus.yml"), &text).unwrap();
            let (code, out, err) =
                run(Command::new(&found["promtool"]).args(["check", "config"]).arg(path("prometheus.yml")));
            if code != 0 || !format!("{out}{err}").contains("rules found") {
                failures.push(format!("promtool check config of the operator's config: {out}{err}\n{text}"));
            }
            // The Probe resource: the operator makes a `probe/<ns>/<name>` job of it, and
            // each probe target is kept by exactly one shard, the one its URL hashes to
            // (as diff predicts it from the stack).
            let probe_jobs: Vec<String> = generated
                .iter()
                .filter_map(|g| g["job_name"].as_str())
                .filter(|j| j.starts_with("probe/"))
                .map(String::from)
                .collect();
            let real_model = check_text("real", &real_stack());
            let view = stackgen::diff::risk::view_of_stack(&real_model);
            let stack_probe_job = real_model.probes[0].job.clone();
            let mut probe_owner: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            if probe_jobs.len() != 1 {
                failures.push(format!("the operator's config has probe jobs {probe_jobs:?}: want the one Probe"));
            }
            for shard in 0..shards {
                let Some(job) = probe_jobs.first() else { break };
                let f = path(&format!("prometheus-probe-shard-{shard}.yml"));
                std::fs::write(&f, raw.replace("$(SHARD)", &shard.to_string()).replace("$(POD_NAME)", "p-0")).unwrap();
                let (code, out, err) =
                    run(Command::new(&found["promtool"]).args(["check", "service-discovery"]).arg(&f).arg(job));
                if code != 0 {
                    failures.push(format!("promtool check service-discovery {job} (shard {shard}): {err}"));
                }
                let targets: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
                for t in targets.iter().filter(|t| t["labels"].as_object().is_some_and(|m| !m.is_empty())) {
                    if let Some(i) = t["labels"]["instance"].as_str() {
                        probe_owner.entry(i.to_string()).or_default().push(shard);
                    }
                }
            }
            if !probe_jobs.is_empty() {
                for t in PROBE_TARGETS {
                    let owners = probe_owner.get(t).cloned().unwrap_or_default();
                    let predicted = view.assign.get(&(stack_probe_job.clone(), t.to_string())).copied();
                    if owners.len() != 1 || Some(owners[0]) != predicted {
                        failures.push(format!(
                            "probe target {t}: kept by shards {owners:?} of the operator's config; diff predicts {predicted:?}"
                        ));
                    }
                }
                let used: BTreeSet<u64> = probe_owner.values().flatten().copied().collect();
                if used.len() as u64 != shards {
                    failures.push(format!("probe targets on shards {used:?} only: {probe_owner:?}"));
                }
            }
            // Every shard keeps every shard's pods in `prometheus-shards` (what
            // PrometheusShardMissing reads): promtool 3 applies the operator's relabels,
            // with each shard's $(SHARD), to the job's static targets.
            let replicas = spec["replicas"].as_u64().unwrap();
            for shard in 0..shards {
                let f = path(&format!("prometheus-shard-{shard}.yml"));
                std::fs::write(&f, raw.replace("$(SHARD)", &shard.to_string()).replace("$(POD_NAME)", "p-0")).unwrap();
                let (code, out, err) = run(Command::new(&found["promtool"])
                    .args(["check", "service-discovery"])
                    .arg(&f)
                    .arg(stackgen::alerting::stack::SHARDS_JOB));
                let targets: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
                let kept: Vec<&Value> =
                    targets.iter().filter(|t| t["labels"].as_object().is_some_and(|m| !m.is_empty())).collect();
                let shard_labels: std::collections::BTreeSet<&str> =
                    kept.iter().filter_map(|t| t["labels"]["prometheus_shard"].as_str()).collect();
                if code != 0 || kept.len() as u64 != shards * replicas || shard_labels.len() as u64 != shards {
                    failures.push(format!(
                        "shard {shard} keeps {} of the {} prometheus-shards targets (shards {shard_labels:?}), exit {code}: \
                         PrometheusShardMissing would see nothing\n{err}{}",
                        kept.len(),
                        shards * replicas,
                        out.chars().take(2000).collect::<String>()
                    ));
                }
            }
        }
    }
    // diff agrees with the server: the live objects of the render are no change.
    let live = kube.run(&["get", "-f", path("operator.yaml").to_str().unwrap(), "-o", "yaml"]);
    assert_eq!(live.code, 0, "kubectl get -f: {}", live.stderr);
    let stack_arg = path("stack.toml");
    let (code, out, err) =
        diff_stdin(&[stack_arg.to_str().unwrap(), "--target", "operator", "--against", "-"], &live.stdout);
    if code != 0 {
        failures.push(format!(
            "`kubectl get -f operator.yaml -o yaml | stackgen diff --target operator --against -` exits {code}:\n{}{err}",
            out.lines().take(60).collect::<Vec<_>>().join("\n")
        ));
    }
    // The operator's own verdict on the resource.
    let reconciled = until(WAIT, || {
        let p = kube.items(&["prometheus", &cr_name, "-n", &ns]);
        let conds = p.first()?.pointer("/status/conditions")?.as_array()?.clone();
        conds.iter().any(|c| c["type"] == "Reconciled" && c["status"] == "True").then_some(())
    });
    if reconciled.is_none() {
        let p = kube.items(&["prometheus", &cr_name, "-n", &ns]);
        failures.push(format!(
            "Prometheus {cr_name} is not Reconciled: {}",
            p.first().map(|p| p["status"].to_string()).unwrap_or_default()
        ));
    }
    eprintln!("operator: {} objects, {} StatefulSets, ({:.1}s)", render.len(), sts.len(), t.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} failures:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Same input, same bytes: the operator render through the binary in two environments.
#[test]
fn operator_output_is_identical_across_environments() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let render = |cwd: &Path, lang: &str, tz: &str| {
        let out = Command::new(bin())
            .args(["render", "--format", "operator"])
            .arg(root().join("stacks/ceph-thanos.toml"))
            .current_dir(cwd)
            .env_clear()
            .env("LANG", lang)
            .env("LC_ALL", lang)
            .env("TZ", tz)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let first = render(a.path(), "C", "UTC");
    assert!(first == render(b.path(), "de_DE.UTF-8", "Asia/Kathmandu"), "the operator render differs");
    assert!(first.ends_with(b"\n") && !first.contains(&b'\r'));
}
