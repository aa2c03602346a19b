//! Behaviour over shape: a render that passes every schema can still lose data or hide
//! it. Each test here pins one behaviour on the parsed render (objects, flags, embedded
//! files), never on strings of YAML, and failed on the output stackgen had before the
//! behaviour was fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::common::*;
use serde_json::Value;

/// A stack with every component: 2 shards x 2 replicas on a class, Thanos on S3.
const FULL: &str = r#"
[stack]
name = "b"
namespace = "monitoring"

[prometheus]
replicas = 2

[storage]
backend = "class"
size = "200Gi"

[storage.class]
name = "gp3"

[sharding]
shards = 2

[thanos]
[thanos.objstore]
type = "s3"
bucket = "thanos"
endpoint = "minio.minio.svc:9000"
insecure = true
credentials_secret = "objstore"

[thanos.compactor]
retention_raw = "30d"
retention_5m = "180d"

[alertmanager]
replicas = 2

[grafana]
admin_secret = "grafana-admin"
"#;

fn render(text: &str) -> Vec<Value> {
    docs(&stackgen::render_manifests(&check_text("b.toml", text)))
}

fn errors(text: &str) -> Vec<(String, String)> {
    let src = stackgen::source::Source::new("b.toml", text);
    match stackgen::check(&src) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().filter(|d| d.is_error()).map(|d| (d.code.id().to_string(), d.message.clone())).collect(),
    }
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn workloads(docs: &[Value]) -> Vec<&Value> {
    docs.iter().filter(|d| matches!(d["kind"].as_str(), Some("StatefulSet" | "Deployment"))).collect()
}

fn containers(w: &Value) -> Vec<&Value> {
    w["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().collect()
}

fn container<'a>(w: &'a Value, name: &str) -> &'a Value {
    containers(w).into_iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no container {name}"))
}

fn args(c: &Value) -> Vec<&str> {
    c["args"].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

fn flag<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    args(c).into_iter().find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

/// ConfigMaps a pod template mounts.
fn mounted_config_maps(w: &Value) -> BTreeSet<String> {
    w["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["configMap"]["name"].as_str().map(String::from))
        .collect()
}

fn bytes(prometheus: &str) -> u64 {
    stackgen::model::units::parse_prometheus_bytes(prometheus).unwrap().get()
}

fn volume_bytes(q: &str) -> u64 {
    stackgen::model::units::parse_volume_size(q).unwrap().get()
}

// --- 1, 2: downsampled data reachable; HA replicas merged with penalty ----------------

#[test]
fn query_auto_downsamples_and_grafana_asks_for_max_source_resolution_auto() {
    let docs = render(FULL);
    let q = find(&docs, "Deployment", "b-thanos-query");
    assert!(args(container(q, "thanos-query")).contains(&"--query.auto-downsampling"));
    let cm = find(&docs, "ConfigMap", "b-grafana-datasources");
    let ds: Value = serde_saphyr::from_str(cm["data"]["datasources.yaml"].as_str().unwrap()).unwrap();
    let thanos: Vec<&Value> = ds["datasources"].as_array().unwrap().iter().filter(|d| d["uid"] == "thanos").collect();
    assert_eq!(thanos.len(), 1);
    assert_eq!(thanos[0]["url"], "http://b-thanos-query.monitoring.svc.cluster.local:10902");
    assert_eq!(thanos[0]["jsonData"]["customQueryParameters"], "max_source_resolution=auto");
}

#[test]
fn compactor_merges_ha_replicas_with_penalty_dedup() {
    let docs = render(FULL);
    let c = container(find(&docs, "StatefulSet", "b-thanos-compactor"), "thanos-compactor");
    assert_eq!(flag(c, "--deduplication.replica-label"), Some("prometheus_replica"));
    assert_eq!(flag(c, "--deduplication.func"), Some("penalty"), "one-to-one merge interleaves HA samples for good");
}

// --- 3: object storage changes reach Thanos ----------------------------------------

#[test]
fn objstore_endpoint_change_rolls_every_pod_that_mounts_it() {
    let before = render(FULL);
    let after = render(&FULL.replace("minio.minio.svc:9000", "minio-new.minio.svc:9000"));
    let objstore = "b-thanos-objstore";
    let mut rolled = BTreeSet::new();
    for w in workloads(&before) {
        let name = w["metadata"]["name"].as_str().unwrap();
        let new = find(&after, w["kind"].as_str().unwrap(), name);
        if mounted_config_maps(w).contains(objstore) {
            assert_ne!(w["spec"]["template"], new["spec"]["template"], "{name} reads objstore.yml only at start");
            rolled.insert(name.to_string());
        } else {
            assert_eq!(w["spec"]["template"], new["spec"]["template"], "{name} does not read objstore.yml");
        }
    }
    let want: BTreeSet<String> =
        ["b-prometheus-shard-0", "b-prometheus-shard-1", "b-thanos-store", "b-thanos-compactor"]
            .map(String::from)
            .into();
    assert_eq!(rolled, want);
}

#[test]
fn every_pod_carries_a_checksum_of_each_config_map_it_reads_only_at_start() {
    for stack in stacks() {
        let docs = docs(&render_stack(&stack));
        let rendered: BTreeMap<String, &Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ConfigMap")
            .map(|d| (d["metadata"]["name"].as_str().unwrap().to_string(), d))
            .collect();
        for w in workloads(&docs) {
            let reloaded = reloaded_dirs(w);
            let ann = &w["spec"]["template"]["metadata"]["annotations"];
            for cm in mounted_config_maps(w).into_iter().filter(|cm| rendered.contains_key(cm)) {
                let key = format!("checksum/{cm}");
                if reloaded.contains(&cm) {
                    assert!(ann.get(&key).is_none(), "{}: {cm} is reloaded in place, no restart", stem(&stack));
                } else {
                    assert!(ann[&key].is_string(), "{} {}: no {key}", stem(&stack), w["metadata"]["name"]);
                }
            }
        }
    }
}

/// ConfigMaps whose mount directory the pod's config reloader watches.
fn reloaded_dirs(w: &Value) -> BTreeSet<String> {
    let Some(r) = containers(w).into_iter().find(|c| c["name"] == "config-reloader") else { return BTreeSet::new() };
    let watched: Vec<&str> = args(r).into_iter().filter_map(|a| a.strip_prefix("--watched-dir=")).collect();
    let volumes = w["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    r["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| watched.contains(&m["mountPath"].as_str().unwrap()))
        .filter_map(|m| volumes.iter().find(|v| v["name"] == m["name"])?["configMap"]["name"].as_str())
        .map(String::from)
        .collect()
}

// --- 4: config changes without needless restarts --------------------------------------

#[test]
fn a_new_scrape_job_changes_the_config_but_not_the_prometheus_pod_template() {
    let before = render(FULL);
    let after = render(&format!("{FULL}\n[[scrape]]\njob = \"node\"\nstatic_targets = [\"10.0.0.1:9100\"]\n"));
    for shard in ["b-prometheus-shard-0", "b-prometheus-shard-1"] {
        assert_ne!(find(&before, "ConfigMap", shard)["data"], find(&after, "ConfigMap", shard)["data"]);
        let (old, new) = (find(&before, "StatefulSet", shard), find(&after, "StatefulSet", shard));
        assert_eq!(old["spec"]["template"], new["spec"]["template"], "{shard}: a restart replays the WAL");
        // The reloader watches the directory Prometheus reads its config from and calls
        // the reload endpoint Prometheus enables.
        let p = container(new, "prometheus");
        assert!(args(p).contains(&"--web.enable-lifecycle"));
        let config = flag(p, "--config.file").unwrap();
        let dir = config.rsplit_once('/').unwrap().0;
        let r = container(new, "config-reloader");
        assert!(args(r).contains(&format!("--watched-dir={dir}").as_str()));
        let mount = |c: &Value| {
            c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == dir).map(|m| m["name"].clone())
        };
        assert_eq!(mount(r), mount(p), "the reloader sees the same volume");
        let port = flag(p, "--web.listen-address").unwrap().trim_start_matches(':');
        assert_eq!(flag(r, "--reload-url"), Some(format!("http://127.0.0.1:{port}/-/reload").as_str()));
        // Hardened like every other container, with its own small resources.
        assert_eq!(r["securityContext"], p["securityContext"]);
        assert!(r["image"]
            .as_str()
            .unwrap()
            .starts_with("quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"));
        assert!(r["resources"]["limits"]["memory"].is_string() && r["resources"]["requests"]["cpu"].is_string());
        assert!(r["readinessProbe"].is_object() && r["livenessProbe"].is_object());
    }
}

#[test]
fn config_reloader_image_digest_pins_it() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let docs = render(&FULL.replace(
        "replicas = 2\n\n[storage]",
        &format!("replicas = 2\nconfig_reloader = {{ image_digest = \"{digest}\" }}\n\n[storage]"),
    ));
    let r = container(find(&docs, "StatefulSet", "b-prometheus-shard-0"), "config-reloader");
    assert_eq!(r["image"], format!("quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1@{digest}"));
}

fn diff_json(new: &str, old: &str) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let (n, o) = (tmp.path().join("new.toml"), tmp.path().join("old.toml"));
    std::fs::write(&n, new).unwrap();
    std::fs::write(&o, old).unwrap();
    let (code, out, err) =
        run(Command::new(bin()).arg("diff").arg(&n).arg("--base").arg(&o).args(["--format", "json"]));
    assert!(code == 0 || code == 1, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn risks<'a>(j: &'a Value, code: &str) -> Vec<&'a Value> {
    j["risks"].as_array().unwrap().iter().filter(|r| r["code"] == code).collect()
}

#[test]
fn diff_says_which_changes_restart_pods() {
    let job = format!("{FULL}\n[[scrape]]\njob = \"node\"\nstatic_targets = [\"10.0.0.1:9100\"]\n");
    let j = diff_json(&job, FULL);
    assert!(j["summary"]["changed"].as_u64().unwrap() > 0);
    assert!(risks(&j, "pod-restart").is_empty(), "a scrape job is reloaded in place: {:#}", j["risks"]);
    assert_eq!(j["summary"]["restarts"], 0);

    let j = diff_json(&FULL.replace("minio.minio.svc:9000", "minio-new.minio.svc:9000"), FULL);
    let restarted: BTreeSet<&str> =
        risks(&j, "pod-restart").iter().map(|r| r["object"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        restarted,
        ["b-prometheus-shard-0", "b-prometheus-shard-1", "b-thanos-compactor", "b-thanos-store"].into()
    );
    for r in risks(&j, "pod-restart") {
        assert_eq!(r["category"], "restart");
        assert!(r["message"].as_str().unwrap().contains("ConfigMap b-thanos-objstore"));
    }
    assert_eq!(j["summary"]["restarts"], 4);
    // The text report marks them too.
    let tmp = tempfile::tempdir().unwrap();
    let n = tmp.path().join("new.toml");
    std::fs::write(&n, FULL.replace("minio.minio.svc:9000", "minio-new.minio.svc:9000")).unwrap();
    let o = tmp.path().join("old.toml");
    std::fs::write(&o, FULL).unwrap();
    let (_, out, _) = run(Command::new(bin()).arg("diff").arg(&n).arg("--base").arg(&o).env("NO_COLOR", "1"));
    assert_eq!(out.lines().filter(|l| l.trim_start().starts_with("!! restart [pod-restart]")).count(), 4);
}

// --- 5: namespaces stackgen does not own ----------------------------------------------

#[test]
fn namespaces_stackgen_does_not_own_are_never_created_or_labelled() {
    let namespaces =
        |text: &str| -> Vec<Value> { render(text).into_iter().filter(|d| d["kind"] == "Namespace").collect() };
    let own = namespaces(FULL);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
    assert!(namespaces(&FULL.replace("namespace = \"monitoring\"", "namespace = \"default\"")).is_empty());
    assert!(namespaces(
        &FULL.replace("namespace = \"monitoring\"", "namespace = \"monitoring\"\ncreate_namespace = false")
    )
    .is_empty());
    for ns in ["kube-system", "kube-public", "kube-node-lease", "kube-monitoring"] {
        let errs = errors(&FULL.replace("namespace = \"monitoring\"", &format!("namespace = \"{ns}\"")));
        assert!(errs.iter().any(|(c, _)| c == "SG128"), "{ns}: {errs:?}");
    }
    // helm-values companion objects follow the same rule.
    let stack = check_text("b.toml", &FULL.replace("namespace = \"monitoring\"", "namespace = \"default\""));
    assert!(stackgen::render::helm::companion_objects(&stack).iter().all(|o| o.kind != "Namespace"));
}

// --- 6: no silent emptyDir ------------------------------------------------------------

fn static_stack(backend: &str, extra: &str) -> String {
    let table = match backend {
        "nfs" => "[storage.nfs]\nserver = \"10.0.0.5\"\npath = \"/exports/prom\"\n".to_string(),
        "local" => "[storage.local]\npath = \"/mnt/disks/prom\"\nnodes = [\"n1\", \"n2\"]\n".to_string(),
        _ => "[storage.iscsi]\ntarget_portal = \"10.0.0.6:3260\"\niqn = \"iqn.2020-02.com.example:p\"\nluns = [1, 2]\n"
            .to_string(),
    };
    format!(
        "[stack]\nname = \"b\"\n[prometheus]\nreplicas = 2\n[storage]\nbackend = \"{backend}\"\nsize = \"100Gi\"\n{extra}\n\
         {table}\n[thanos]\n[thanos.objstore]\ntype = \"s3\"\nbucket = \"t\"\nendpoint = \"minio:9000\"\n\
         [alertmanager]\nreplicas = 2\n[grafana]\nadmin_secret = \"g\"\n"
    )
}

/// For each component workload: its data volume is a claim, and each claim the workload
/// makes binds exactly one rendered PV (pre-bound by claimRef), distinct per pod.
fn assert_components_on_static_pvs(docs: &[Value]) -> Vec<Value> {
    let pvs: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "PersistentVolume").collect();
    let bound = |claim: &str| -> Value {
        let v: Vec<&&Value> = pvs.iter().filter(|p| p["spec"]["claimRef"]["name"] == claim).collect();
        assert_eq!(v.len(), 1, "claim {claim} must have exactly one PV");
        (*v[0]).clone()
    };
    let mut sources = Vec::new();
    for (kind, name) in [
        ("StatefulSet", "b-alertmanager"),
        ("StatefulSet", "b-thanos-store"),
        ("StatefulSet", "b-thanos-compactor"),
        ("Deployment", "b-grafana"),
    ] {
        let w = find(docs, kind, name);
        let vols = w["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
        assert!(!vols.iter().any(|v| v["name"] == "data" && v.get("emptyDir").is_some()), "{name}: emptyDir");
        if kind == "StatefulSet" {
            let t = &w["spec"]["volumeClaimTemplates"][0];
            for i in 0..w["spec"]["replicas"].as_u64().unwrap() {
                let pv = bound(&format!("{}-{name}-{i}", t["metadata"]["name"].as_str().unwrap()));
                assert_eq!(pv["spec"]["storageClassName"], t["spec"]["storageClassName"]);
                for (k, v) in t["spec"]["selector"]["matchLabels"].as_object().unwrap() {
                    assert_eq!(&pv["metadata"]["labels"][k], v, "{name}: claim selector matches its PV");
                }
                sources.push(pv["spec"].clone());
            }
        } else {
            let claim = vols.iter().find(|v| v["name"] == "data").unwrap()["persistentVolumeClaim"]["claimName"]
                .as_str()
                .unwrap();
            let pvc = find(docs, "PersistentVolumeClaim", claim);
            let pv = bound(claim);
            assert_eq!(pv["spec"]["storageClassName"], pvc["spec"]["storageClassName"]);
            sources.push(pv["spec"].clone());
        }
    }
    sources
}

#[test]
fn static_backends_never_fall_back_to_an_empty_dir_silently() {
    // NFS: a directory per pod on the same export, automatically.
    let nfs = render(&static_stack("nfs", ""));
    let dirs: BTreeSet<String> = assert_components_on_static_pvs(&nfs)
        .iter()
        .map(|s| {
            assert_eq!(s["nfs"]["server"], "10.0.0.5");
            s["nfs"]["path"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(dirs.len(), 5, "one directory per component pod: {dirs:?}");
    assert!(dirs.iter().all(|d| d.starts_with("/exports/prom/")));
    // Local: component_path; iSCSI: component_luns.
    let local = render(&static_stack("local", "").replace("nodes = [", "component_path = \"/mnt/disks/c\"\nnodes = ["));
    let paths: BTreeSet<String> = assert_components_on_static_pvs(&local)
        .iter()
        .map(|s| format!("{}@{}", s["local"]["path"].as_str().unwrap(), s["nodeAffinity"]["required"]))
        .collect();
    assert_eq!(paths.len(), 5);
    let iscsi =
        render(&static_stack("iscsi", "").replace("luns = [1, 2]", "luns = [1, 2]\ncomponent_luns = [3, 4, 5, 6, 7]"));
    let luns: BTreeSet<i64> =
        assert_components_on_static_pvs(&iscsi).iter().map(|s| s["iscsi"]["lun"].as_i64().unwrap()).collect();
    assert_eq!(luns, (3..=7).collect());
    // Without any of these: an error naming each component.
    for backend in ["local", "iscsi"] {
        let errs = errors(&static_stack(backend, ""));
        let named: Vec<&str> = errs.iter().filter(|(c, _)| c == "SG121").map(|(_, m)| m.as_str()).collect();
        for component in ["Alertmanager", "Grafana", "Thanos Store Gateway", "Thanos Compactor"] {
            assert!(named.iter().any(|m| m.starts_with(component)), "{backend}: {component} not named in {named:?}");
        }
    }
    let errs = errors(&static_stack("iscsi", "").replace("luns = [1, 2]", "luns = [1, 2]\ncomponent_luns = [3]"));
    assert!(errs.iter().any(|(c, m)| c == "SG103" && m.contains("component")), "{errs:?}");
    // Or emptyDir on purpose.
    let eph = render(&static_stack("local", "ephemeral_components = true"));
    let am = find(&eph, "StatefulSet", "b-alertmanager");
    assert!(am["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "data" && v["emptyDir"].is_object()));
}

// --- 7: growing a volume never fills it -----------------------------------------------

#[test]
fn retention_never_exceeds_85_percent_of_the_claims_that_exist() {
    let retention = |docs: &[Value]| {
        bytes(
            flag(
                container(find(docs, "StatefulSet", "b-prometheus-shard-0"), "prometheus"),
                "--storage.tsdb.retention.size",
            )
            .unwrap(),
        )
    };
    for (size, claims) in [("200Gi", None), ("500Gi", Some("200Gi")), ("1Ti", Some("500Gi")), ("500Gi", Some("500Gi"))]
    {
        let extra = claims.map(|c| format!("claims_size = \"{c}\"\n")).unwrap_or_default();
        let text = FULL.replace("size = \"200Gi\"\n", &format!("size = \"{size}\"\n{extra}"));
        let docs = render(&text);
        let existing = volume_bytes(claims.unwrap_or(size)).min(volume_bytes(size));
        assert!(retention(&docs) * 100 <= existing * 85, "{size}/{claims:?}: {}", retention(&docs));
        // New claims are made at the new size.
        let t = &find(&docs, "StatefulSet", "b-prometheus-shard-0")["spec"]["volumeClaimTemplates"][0];
        assert_eq!(t["spec"]["resources"]["requests"]["storage"], size);
    }
    let errs = errors(&FULL.replace("size = \"200Gi\"\n", "size = \"200Gi\"\nclaims_size = \"500Gi\"\n"));
    assert!(errs.iter().any(|(c, _)| c == "SG004"), "claims never shrink: {errs:?}");
}

#[test]
fn diff_flags_volume_grow_with_one_patch_per_claim() {
    let grown = FULL.replace("size = \"200Gi\"\n", "size = \"500Gi\"\n");
    let j = diff_json(&grown, FULL);
    let grow = risks(&j, "volume-grow");
    assert_eq!(grow.len(), 2, "one per shard");
    for r in &grow {
        let sts = r["object"]["name"].as_str().unwrap();
        let action = r["action"].as_str().unwrap();
        let patches: Vec<&str> = action.split("; ").filter(|s| s.starts_with("kubectl patch pvc")).collect();
        assert_eq!(
            patches,
            (0..2)
                .map(|i| format!(
                    "kubectl patch pvc data-{sts}-{i} -n monitoring -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"500Gi\"}}}}}}}}'"
                ))
                .collect::<Vec<_>>()
        );
        assert!(action.contains("allowVolumeExpansion"));
        assert!(action.contains(&format!("kubectl delete statefulset {sts} -n monitoring --cascade=orphan")));
    }
    // Without claims_size the new retention outgrows the old claims: flagged as data loss.
    let over = risks(&j, "retention-over-claims");
    assert_eq!(over.len(), 2);
    assert_eq!(over[0]["category"], "data-loss");
    assert!(over[0]["action"].as_str().unwrap().contains("claims_size = \"200Gi\""));
    // With claims_size the retention stays within the old claims.
    let j = diff_json(&grown.replace("size = \"500Gi\"\n", "size = \"500Gi\"\nclaims_size = \"200Gi\"\n"), FULL);
    assert_eq!(risks(&j, "volume-grow").len(), 2);
    assert!(risks(&j, "retention-over-claims").is_empty());
}

// --- 8: a Released PV is caught before apply ------------------------------------------

#[test]
fn diff_against_live_objects_flags_a_released_pv_with_the_fix() {
    let stack = root().join("stacks/static-nfs.toml");
    let render = docs(&render_stack(&stack));
    let pvs: Vec<Value> = render.iter().filter(|d| d["kind"] == "PersistentVolume").cloned().collect();
    let live = |phase_of: &dyn Fn(usize) -> (&'static str, &'static str)| {
        let items: Vec<Value> = pvs
            .iter()
            .enumerate()
            .map(|(i, pv)| {
                let mut pv = pv.clone();
                let (phase, uid) = phase_of(i);
                pv["spec"]["claimRef"]["uid"] = Value::String(uid.into());
                pv["metadata"]["uid"] = Value::String(format!("pv-{i}"));
                pv["status"] = serde_json::json!({"phase": phase});
                pv
            })
            .collect();
        let mut claim = serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvs[1]["spec"]["claimRef"]["name"], "namespace": "monitoring", "uid": "new-claim"}});
        claim["spec"] = serde_json::json!({});
        let mut all = items;
        all.push(claim);
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": all});
        serde_saphyr::to_string(&list).unwrap()
    };
    let diff = |input: String| {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("live.yaml");
        std::fs::write(&f, input).unwrap();
        let (code, out, err) =
            run(Command::new(bin()).arg("diff").arg(&stack).arg("--against").arg(&f).args(["--format", "json"]));
        assert!(code == 0 || code == 1, "{err}");
        (code, serde_json::from_str::<Value>(&out).unwrap())
    };
    // All Bound, uids match the live claim where there is one: nothing to flag.
    let (_, j) = diff(live(&|i| ("Bound", if i == 1 { "new-claim" } else { "c" })));
    assert!(risks(&j, "volume-released").is_empty());
    // PV 0 Released; PV 1 names a claim uid that is not the live claim's.
    let (code, j) = diff(live(&|i| match i {
        0 => ("Released", "old-claim"),
        1 => ("Bound", "old-claim"),
        _ => ("Bound", "c"),
    }));
    assert_eq!(code, 1);
    let flagged = risks(&j, "volume-released");
    let names: Vec<&str> = flagged.iter().map(|r| r["object"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, [pvs[0]["metadata"]["name"].as_str().unwrap(), pvs[1]["metadata"]["name"].as_str().unwrap()]);
    for r in flagged {
        assert_eq!(
            r["action"].as_str().unwrap(),
            format!(
                "kubectl patch pv {} -p '{{\"spec\":{{\"claimRef\":{{\"uid\":null}}}}}}'",
                r["object"]["name"].as_str().unwrap()
            )
        );
    }
}

// --- 9: object storage that cannot work -----------------------------------------------

#[test]
fn object_storage_that_cannot_work_is_an_error() {
    let fs = FULL.replace(
        "type = \"s3\"\nbucket = \"thanos\"\nendpoint = \"minio.minio.svc:9000\"\ninsecure = true\ncredentials_secret = \"objstore\"",
        "type = \"filesystem\"\ndirectory = \"/var/thanos\"",
    );
    assert!(errors(&fs).iter().any(|(c, _)| c == "SG126"), "filesystem shared by 4 pods");
    let one = fs.replace("replicas = 2\n\n[storage]", "replicas = 1\n\n[storage]").replace("shards = 2", "shards = 1");
    assert!(errors(&one).is_empty(), "{:?}", errors(&one));
    for endpoint in ["https://minio:9000", "http://minio:9000"] {
        let errs = errors(&FULL.replace("minio.minio.svc:9000", endpoint));
        assert!(errs.iter().any(|(c, _)| c == "SG126"), "{endpoint}: {errs:?}");
    }
}

// --- 10: DNS on every cluster ---------------------------------------------------------

#[test]
fn dns_egress_reaches_kube_dns_pods_and_the_configured_addresses() {
    let check = |docs: &[Value], want: &[&str]| {
        let p = find(docs, "NetworkPolicy", "b-allow-dns");
        let rules = p["spec"]["egress"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        let ports: BTreeSet<(i64, &str)> = rules[0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["port"].as_i64().unwrap(), p["protocol"].as_str().unwrap()))
            .collect();
        assert_eq!(ports, [(53, "TCP"), (53, "UDP")].into());
        let to = rules[0]["to"].as_array().unwrap();
        assert!(to.iter().any(|t| t["podSelector"]["matchLabels"]["k8s-app"] == "kube-dns"));
        let cidrs: Vec<&str> = to.iter().filter_map(|t| t["ipBlock"]["cidr"].as_str()).collect();
        assert_eq!(cidrs, want);
    };
    check(&render(FULL), &["169.254.20.10/32"]);
    let custom = format!("{FULL}\n[kubernetes]\ndns_addresses = [\"169.254.20.10/32\", \"10.96.0.10/32\"]\n");
    check(&render(&custom), &["169.254.20.10/32", "10.96.0.10/32"]);
    let bad = format!("{FULL}\n[kubernetes]\ndns_addresses = [\"10.96.0.300/32\"]\n");
    assert!(errors(&bad).iter().any(|(c, _)| c == "SG004"));
}

// --- 11: the smaller ones -------------------------------------------------------------

#[test]
fn alertmanager_is_scraped_exactly_once() {
    let docs = render(FULL);
    let cfg = &prometheus_configs(&docs)[0].1;
    let static_targets: Vec<&str> = cfg["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["job_name"] == "alertmanager")
        .flat_map(|j| j["static_configs"][0]["targets"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(static_targets.len(), 2, "each Alertmanager pod once by the static job");
    // The annotation-driven jobs keep only pods/services annotated prometheus.io/scrape.
    let am = find(&docs, "StatefulSet", "b-alertmanager");
    assert!(am["spec"]["template"]["metadata"]["annotations"].get("prometheus.io/scrape").is_none());
    let svc = find(&docs, "Service", "b-alertmanager");
    assert!(svc["metadata"]["annotations"].get("prometheus.io/scrape").is_none());
}

#[test]
fn ephemeral_retention_size_stays_under_the_empty_dir_size_limit() {
    let docs = docs(&render_stack(&root().join("stacks/dev-ephemeral.toml")));
    let sts = find(&docs, "StatefulSet", "dev-prometheus-shard-0");
    let data =
        sts["spec"]["template"]["spec"]["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap();
    let limit = volume_bytes(data["emptyDir"]["sizeLimit"].as_str().unwrap());
    let retention =
        bytes(flag(container(sts, "prometheus"), "--storage.tsdb.retention.size").expect("a retention size"));
    assert!(retention * 100 <= limit * 85, "the kubelet evicts Prometheus at the size limit");
}

#[test]
fn grafana_does_not_download_plugins_at_start() {
    let docs = render(FULL);
    let g = container(find(&docs, "Deployment", "b-grafana"), "grafana");
    let env: BTreeMap<&str, &str> =
        g["env"].as_array().unwrap().iter().filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?))).collect();
    assert_eq!(env.get("GF_PLUGINS_PREINSTALL_DISABLED"), Some(&"true"));
}

#[test]
fn prometheus_cluster_role_grants_exactly_what_its_jobs_discover() {
    for stack in stacks() {
        let docs = docs(&render_stack(&stack));
        let Some(role) = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"].as_str().unwrap().ends_with("-prometheus"))
        else {
            continue;
        };
        // What Prometheus 3's Kubernetes discovery reads per role (discovery/kubernetes).
        let mut want: BTreeSet<(String, String)> = BTreeSet::new();
        for (_, cfg) in prometheus_configs(&docs) {
            for job in cfg["scrape_configs"].as_array().unwrap() {
                for sd in job["kubernetes_sd_configs"].as_array().into_iter().flatten() {
                    let rs: &[(&str, &str)] = match sd["role"].as_str().unwrap() {
                        "node" => &[("", "nodes")],
                        "pod" => &[("", "pods")],
                        "service" => &[("", "services")],
                        "endpointslice" => &[("discovery.k8s.io", "endpointslices"), ("", "services"), ("", "pods")],
                        "endpoints" => &[("", "endpoints"), ("", "services"), ("", "pods")],
                        r => panic!("unknown role {r}"),
                    };
                    want.extend(rs.iter().map(|(g, r)| (g.to_string(), r.to_string())));
                }
            }
        }
        let mut got = BTreeSet::new();
        for rule in role["rules"].as_array().unwrap() {
            if rule["verbs"] == serde_json::json!(["get", "list", "watch"]) {
                for g in rule["apiGroups"].as_array().unwrap() {
                    for r in rule["resources"].as_array().unwrap() {
                        got.insert((g.as_str().unwrap().to_string(), r.as_str().unwrap().to_string()));
                    }
                }
            }
        }
        assert_eq!(got, want, "{}", stem(&stack));
        assert!(!got.iter().any(|(_, r)| r == "endpoints"), "{}: v3 discovery reads EndpointSlices", stem(&stack));
    }
}

#[test]
fn replicas_of_one_shard_never_share_a_node_and_spread_over_zones() {
    for stack in stacks() {
        let docs = docs(&render_stack(&stack));
        let ephemeral = std::fs::read_to_string(&stack).unwrap().contains("backend = \"ephemeral\"");
        for sts in docs
            .iter()
            .filter(|d| d["kind"] == "StatefulSet" && d["metadata"]["labels"]["app.kubernetes.io/name"] == "prometheus")
        {
            let spec = &sts["spec"]["template"]["spec"];
            let sel = &sts["spec"]["selector"]["matchLabels"];
            assert!(sel["stackgen.dev/shard"].is_string(), "per shard");
            let required = &spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
            if ephemeral {
                assert!(required.is_null(), "a development cluster may have one node");
            } else {
                assert_eq!(required[0]["topologyKey"], "kubernetes.io/hostname", "{}", stem(&stack));
                assert_eq!(&required[0]["labelSelector"]["matchLabels"], sel);
            }
            let zone = &spec["topologySpreadConstraints"][0];
            assert_eq!(zone["topologyKey"], "topology.kubernetes.io/zone");
            assert_eq!(&zone["labelSelector"]["matchLabels"], sel);
        }
    }
}

#[test]
fn local_pvs_give_each_replica_of_a_shard_its_own_node() {
    // The reason a required anti-affinity is safe on local PVs: each pod's PV is pinned
    // to a node of its own, so the rule never contradicts where a volume is.
    let docs = docs(&render_stack(&root().join("stacks/migrated-local-ssd.toml")));
    let nodes: Vec<String> = docs
        .iter()
        .filter(|d| {
            d["kind"] == "PersistentVolume" && d["metadata"]["labels"]["app.kubernetes.io/name"] == "prometheus"
        })
        .map(|pv| {
            pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
                .to_string()
        })
        .collect();
    let distinct: BTreeSet<&String> = nodes.iter().collect();
    assert_eq!(distinct.len(), nodes.len());
}

#[test]
fn control_plane_lint_says_kubeadm_binds_to_localhost() {
    let src = stackgen::source::Source::new("b.toml", format!("{FULL}\n[kubernetes]\ncontrol_plane = true\n"));
    let checked = stackgen::check(&src).unwrap();
    let w = checked.warnings.iter().find(|d| d.code.id() == "SG129").expect("SG129");
    assert!(w.message.contains("127.0.0.1"));
    assert!(w.help.as_deref().unwrap().contains("bind-address=0.0.0.0"));
}

#[test]
fn static_component_volumes_and_every_new_object_pass_kubernetes_validate() {
    // The goldens cover the examples; these renders add the static component PVs (NFS,
    // local, iSCSI), a stack in `default` and custom DNS addresses.
    let tmp = tempfile::tempdir().unwrap();
    let texts = [
        ("nfs", static_stack("nfs", "")),
        ("local", static_stack("local", "").replace("nodes = [", "component_path = \"/mnt/disks/c\"\nnodes = [")),
        (
            "iscsi",
            static_stack("iscsi", "").replace("luns = [1, 2]", "luns = [1, 2]\ncomponent_luns = [3, 4, 5, 6, 7]"),
        ),
        ("default", FULL.replace("namespace = \"monitoring\"", "namespace = \"default\"")),
        ("dns", format!("{FULL}\n[kubernetes]\ndns_addresses = [\"169.254.20.10/32\", \"fd00::10/128\"]\n")),
    ];
    let mut files = Vec::new();
    for (name, text) in texts {
        let f = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&f, stackgen::render_manifests(&check_text(name, &text))).unwrap();
        files.push((f, "1.33".to_string()));
    }
    kubernetes_validate_all(files);
}

#[test]
fn an_explicit_retention_size_is_checked_against_the_claims_that_exist() {
    let text = FULL
        .replace("size = \"200Gi\"\n", "size = \"500Gi\"\nclaims_size = \"200Gi\"\n")
        .replace("replicas = 2\n\n[storage]", "replicas = 2\nretention_size = \"300GiB\"\n\n[storage]");
    let errs = errors(&text);
    assert!(errs.iter().any(|(c, m)| c == "SG106" && m.contains("existing claims")), "{errs:?}");
}

#[test]
fn helm_values_of_a_static_stack_without_component_class_render_and_say_what_is_lost() {
    let stack = check_text("b.toml", &static_stack("nfs", ""));
    let objs = stackgen::render::helm::companion_objects(&stack);
    let pvs: Vec<&str> = objs
        .iter()
        .filter(|o| o.kind == "PersistentVolume")
        .filter_map(|o| o.value["metadata"]["labels"]["stackgen.dev/volume-for"].as_str())
        .collect();
    assert!(!pvs.iter().any(|p| *p == "b-alertmanager" || *p == "b-grafana"), "{pvs:?}");
    assert!(pvs.contains(&"b-thanos-store"), "stackgen's own Store Gateway keeps its PV: {pvs:?}");
    let warnings = stackgen::lint::helm_values(&stack);
    assert!(warnings.iter().any(|d| d.path.as_deref() == Some("/storage/component_class")));
}

#[test]
fn diff_against_live_claims_flags_a_retention_size_they_cannot_hold() {
    // claims_size removed before the claims were resized: the live claims are still 200Gi.
    let tmp = tempfile::tempdir().unwrap();
    let stack = tmp.path().join("stack.toml");
    std::fs::write(&stack, FULL.replace("size = \"200Gi\"\n", "size = \"500Gi\"\n")).unwrap();
    let pvcs = |capacity: &str| -> String {
        let items: Vec<Value> = (0..2)
            .flat_map(|s| (0..2).map(move |r| (s, r)))
            .map(|(s, r)| {
                serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": format!("data-b-prometheus-shard-{s}-{r}"), "namespace": "monitoring", "uid": format!("u{s}{r}")},
                    "spec": {"resources": {"requests": {"storage": capacity}}},
                    "status": {"phase": "Bound", "capacity": {"storage": capacity}}})
            })
            .collect();
        serde_saphyr::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap()
    };
    let diff = |input: String| {
        let f = tmp.path().join("live.yaml");
        std::fs::write(&f, input).unwrap();
        let (_, out, err) =
            run(Command::new(bin()).arg("diff").arg(&stack).arg("--against").arg(&f).args(["--format", "json"]));
        serde_json::from_str::<Value>(&out).unwrap_or_else(|_| panic!("{err}"))
    };
    let j = diff(pvcs("200Gi"));
    let over = risks(&j, "retention-over-claims");
    assert_eq!(over.len(), 2, "{:#}", j["risks"]);
    assert!(over[0]["action"].as_str().unwrap().contains("claims_size = \"200Gi\""));
    let j = diff(pvcs("500Gi"));
    assert!(risks(&j, "retention-over-claims").is_empty(), "resized claims hold 425GiB");
}
