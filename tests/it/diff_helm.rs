//! `stackgen diff --target helm-values` (`--format helm-values`): the values key by key,
//! the companion objects object by object, and risks named with the Prometheus
//! Operator's objects (`prometheus-<cr>[-shard-<i>]`, `prometheus-<cr>-db-<sts>-<ordinal>`).

use std::path::Path;
use std::process::Command;

use crate::common::{bin, diff, diff_stdin, docs, root, run, variant};
use serde_json::{json, Value};

fn render_helm(stack: &str, dir: &Path) {
    let (code, _, err) =
        run(Command::new(bin()).args(["render", "--format", "helm-values", stack, "-o"]).arg(dir).current_dir(root()));
    assert_eq!(code, 0, "{err}");
}

fn risks<'a>(j: &'a Value, code: &str) -> Vec<&'a Value> {
    j["risks"].as_array().unwrap().iter().filter(|r| r["code"] == code).collect()
}

/// No manifests-mode StatefulSet or claim name may reach a chart user's report.
fn assert_no_manifests_names(out: &str, stack: &str) {
    let needle = format!("{stack}-prometheus-shard-");
    for (i, _) in out.match_indices(&needle) {
        // Inside a longer name (the operator's `prometheus-…`, a static PV's `<ns>-…`).
        assert!(out[..i].ends_with('-'), "a manifests-mode name at {i}: {out}");
    }
}

#[test]
fn unchanged_against_its_own_render_dir_and_values_file() {
    let tmp = tempfile::tempdir().unwrap();
    render_helm("stacks/ceph-thanos.toml", tmp.path());
    let dir = tmp.path().to_str().unwrap();
    let (code, out, err) = diff(&["stacks/ceph-thanos.toml", "--format", "helm-values", "--against", dir]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("no changes against") && out.contains("values,"), "{out}");
    // A values document alone: values compared, companions not (said on stderr).
    let values = tmp.path().join("values.yaml");
    let (code, out, err) =
        diff(&["stacks/ceph-thanos.toml", "--target", "helm-values", "--against", values.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("companion objects not compared"), "{err}");
    // --base with itself.
    let (code, out, _) =
        diff(&["stacks/ceph-thanos.toml", "--target", "helm-values", "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn format_helm_values_contradicting_target_manifests_is_exit_2() {
    let (code, _, err) = diff(&[
        "stacks/ceph-thanos.toml",
        "--format",
        "helm-values",
        "--target",
        "manifests",
        "--base",
        "stacks/ceph-thanos.toml",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("contradicts --target manifests"), "{err}");
}

#[test]
fn shard_change_names_the_operators_statefulsets_and_claims() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 → 2 shards: the operator deletes prometheus-ha-prometheus-shard-2 and -3, their
    // claims stay.
    let fewer = variant(tmp.path(), "stacks/ceph-thanos.toml", &[("shards = 4", "shards = 2")]);
    let (code, out, err) = diff(&[&fewer, "--format", "helm-values", "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("~ prometheus.prometheusSpec.shards: 4 → 2"), "{out}");
    assert!(out.contains("[shard-count] prometheus.prometheusSpec.shards: shard count 4 → 2"), "{out}");
    assert!(
        out.contains(
            "the operator deletes StatefulSet(s) prometheus-ha-prometheus-shard-2, prometheus-ha-prometheus-shard-3"
        ),
        "{out}"
    );
    let claims = "prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-2-0 \
                  prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-2-1 \
                  prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-3-0 \
                  prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-3-1";
    assert!(out.contains(&format!("fix: once the data of the removed shards is no longer needed (or is in object storage): kubectl delete pvc {claims} -n monitoring")), "{out}");
    assert!(out.contains("target moves (4 → 2 shards, hashmod of __address__)"), "{out}");
    assert_no_manifests_names(&out, "ha");

    let (code, out, _) =
        diff(&[&fewer, "--target", "helm-values", "--format", "json", "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 1);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["target"], "helm-values");
    assert_eq!(j["summary"]["values_changed"], 1);
    assert_eq!(
        j["values"]["changes"][0],
        json!({"path": "prometheus.prometheusSpec.shards", "change": "changed", "old": 4, "new": 2})
    );
    let r = risks(&j, "shard-count");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["category"], "data-loss");
    assert_eq!(
        r[0]["object"],
        json!({"api_version": "monitoring.coreos.com/v1", "kind": "Prometheus", "namespace": "monitoring", "name": "ha-prometheus"})
    );
    assert!(r[0]["message"].as_str().unwrap().contains("prometheus-ha-prometheus-shard-3"));
    assert!(r[0]["action"].as_str().unwrap().contains(claims));
    assert_eq!(j["sharding"]["old_shards"], 4);
    assert_eq!(j["sharding"]["new_shards"], 2);
    assert_no_manifests_names(&out, "ha");

    // 4 → 5: StatefulSet prometheus-ha-prometheus-shard-4 is the operator's new one.
    let more = variant(tmp.path(), "stacks/ceph-thanos.toml", &[("shards = 4", "shards = 5")]);
    let (code, out, _) = diff(&[&more, "--format", "helm-values", "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 1);
    assert!(out.contains("the operator creates StatefulSet(s) prometheus-ha-prometheus-shard-4"), "{out}");
    assert!(out.contains("!! data-moves [shard-count]"), "{out}");
}

#[test]
fn storage_class_change_names_each_claim_and_its_pod() {
    let tmp = tempfile::tempdir().unwrap();
    let new = variant(
        tmp.path(),
        "stacks/ceph-thanos.toml",
        &[("storage_class = \"rook-ceph-block\"", "storage_class = \"ceph-ssd\"")],
    );
    let old_dir = tmp.path().join("old");
    render_helm("stacks/ceph-thanos.toml", &old_dir);
    for args in [vec!["--base", "stacks/ceph-thanos.toml"], vec!["--against", old_dir.to_str().unwrap()]] {
        let mut a = vec![new.as_str(), "--target", "helm-values"];
        a.extend(&args);
        let (code, out, err) = diff(&a);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            out.contains(
                "~ prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName: rook-ceph-block → ceph-ssd"
            ),
            "{out}"
        );
        assert!(out.contains("!! restart [statefulset-recreate]"), "{out}");
        assert!(out.contains("the operator deletes and re-creates prometheus-ha-prometheus, prometheus-ha-prometheus-shard-1, prometheus-ha-prometheus-shard-2, prometheus-ha-prometheus-shard-3"), "{out}");
        assert!(out.contains("!! data-loss [storage-class] prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName: StorageClass rook-ceph-block → ceph-ssd"), "{out}");
        assert!(
            out.contains(
                "kubectl delete pvc prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-3-1 -n monitoring --wait=false && kubectl delete pod prometheus-ha-prometheus-shard-3-1 -n monitoring"
            ),
            "{out}"
        );
        // The companions' own StatefulSets keep the manifests-mode machinery.
        assert!(out.contains("kubectl delete statefulset ha-thanos-store -n monitoring --cascade=orphan"), "{out}");
        assert_no_manifests_names(&out, "ha");

        a.extend(["--format", "json"]);
        let (code, out, _) = diff(&a);
        assert_eq!(code, 1);
        let j: Value = serde_json::from_str(&out).unwrap();
        let r = risks(&j, "storage-class");
        let chart = r.iter().find(|r| r["object"]["kind"] == "Prometheus").expect("a Prometheus storage-class risk");
        assert_eq!(chart["path"], "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName");
        assert!(chart["message"]
            .as_str()
            .unwrap()
            .contains("prometheus-ha-prometheus-db-prometheus-ha-prometheus-0, prometheus-ha-prometheus-db-prometheus-ha-prometheus-1"));
        assert!(chart["action"]
            .as_str()
            .unwrap()
            .contains("kubectl delete pod prometheus-ha-prometheus-0 -n monitoring"));
        assert!(!risks(&j, "statefulset-recreate").is_empty());
    }
}

#[test]
fn storage_size_change_patches_each_operator_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let new = variant(tmp.path(), "stacks/static-nfs.toml", &[("size = \"200Gi\"", "size = \"300Gi\"")]);
    let (code, out, err) = diff(&[&new, "--format", "helm-values", "--base", "stacks/static-nfs.toml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("!! action-needed [volume-grow]"), "{out}");
    for c in [
        "prometheus-wsg-prometheus-db-prometheus-wsg-prometheus-0",
        "prometheus-wsg-prometheus-db-prometheus-wsg-prometheus-1",
    ] {
        assert!(
            out.contains(&format!(
                "kubectl patch pvc {c} -n monitoring -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"300Gi\"}}}}}}}}'"
            )),
            "{out}"
        );
    }
    assert!(out.contains("!! data-loss [retention-over-claims] prometheus.prometheusSpec.retentionSize"), "{out}");
    assert_no_manifests_names(&out, "wsg");
}

/// Live objects of a chart user with static NFS volumes (stacks/static-nfs.toml): the companions as applied, the
/// chart's Prometheus resource, the operator's StatefulSet, and one PV left Released by
/// a deleted claim.
fn live_static_nfs_chart_user(dir: &Path) -> (String, String) {
    render_helm("stacks/static-nfs.toml", dir);
    let manifests = std::fs::read_to_string(dir.join("manifests.yaml")).unwrap();
    let values: Value = serde_saphyr::from_str(&std::fs::read_to_string(dir.join("values.yaml")).unwrap()).unwrap();
    let mut items = Vec::new();
    let mut released = String::new();
    for (i, mut d) in docs(&manifests).into_iter().enumerate() {
        d["metadata"]["uid"] = json!(format!("0b7c6f7e-0000-4000-8000-{i:012}"));
        d["metadata"]["resourceVersion"] = json!("1000");
        if d["kind"] == "PersistentVolume" {
            let claim = d["spec"]["claimRef"]["name"].as_str().unwrap().to_string();
            if released.is_empty() && claim.ends_with("-0") {
                released = d["metadata"]["name"].as_str().unwrap().to_string();
                d["spec"]["claimRef"]["uid"] = json!("d1e2a3d4-0000-4000-8000-000000000000");
                d["status"] = json!({"phase": "Released"});
            } else {
                d["status"] = json!({"phase": "Bound"});
            }
        }
        items.push(d);
    }
    assert!(!released.is_empty());
    let ps = &values["prometheus"]["prometheusSpec"];
    let mut spec = json!({
        "replicas": ps["replicas"],
        "retention": ps["retention"],
        "scrapeInterval": ps["scrapeInterval"],
        "evaluationInterval": ps["evaluationInterval"],
        "externalLabels": ps["externalLabels"],
        "replicaExternalLabelName": ps["replicaExternalLabelName"],
        "prometheusExternalLabelName": "",
        "resources": ps["resources"],
        "securityContext": ps["securityContext"],
        "storage": ps["storageSpec"],
        "image": "quay.io/prometheus/prometheus:v3.5.0",
        "portName": "http-web",
    });
    for k in ["retentionSize", "scrapeTimeout"] {
        if let Some(v) = ps.get(k) {
            spec[k] = v.clone();
        }
    }
    items.push(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "wsg-prometheus", "namespace": "monitoring", "uid": "c0ffee00-0000-4000-8000-000000000001",
                     "labels": {"app.kubernetes.io/managed-by": "Helm", "release": "wsg"}},
        "spec": spec,
        "status": {"shards": 1, "replicas": 2},
    }));
    items.push(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "prometheus-wsg-prometheus", "namespace": "monitoring",
                     "ownerReferences": [{"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "name": "wsg-prometheus", "uid": "c0ffee00-0000-4000-8000-000000000001", "controller": true}]},
        "spec": {"replicas": 2},
    }));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    (serde_json::to_string(&list).unwrap(), released)
}

#[test]
fn released_pv_against_live_objects_prints_the_patch_with_the_operators_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let (list, pv) = live_static_nfs_chart_user(tmp.path());
    let claim = "prometheus-wsg-prometheus-db-prometheus-wsg-prometheus-0";
    let (code, out, err) = diff_stdin(&["stacks/static-nfs.toml", "--format", "helm-values", "--against", "-"], &list);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("!! action-needed [volume-released] /spec/claimRef/uid: PersistentVolume {pv} is Released: its claim {claim} was deleted")), "{out}");
    assert!(
        out.contains(&format!("fix: kubectl patch pv {pv} -p '{{\"spec\":{{\"claimRef\":{{\"uid\":null}}}}}}'")),
        "{out}"
    );
    // The live Prometheus resource matches the values; the operator's StatefulSet and the
    // chart's resource are not objects to create or delete.
    assert!(
        out.contains("values: 0 added, 0 removed, 0 changed; companion objects: 0 added, 0 removed, 0 changed"),
        "{out}"
    );
    assert!(err.contains("ignored 2 live object(s) that are not stackgen's companions"), "{err}");
    assert!(!out.contains("removed StatefulSet"), "{out}");
    assert_no_manifests_names(&out, "wsg");

    let (code, out, _) =
        diff_stdin(&["stacks/static-nfs.toml", "--target", "helm-values", "--format", "json", "--against", "-"], &list);
    assert_eq!(code, 1);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["values"]["source"], "Prometheus monitoring/wsg-prometheus");
    let r = risks(&j, "volume-released");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["object"]["name"], pv.as_str());
    assert!(r[0]["message"].as_str().unwrap().contains(claim));
    assert_eq!(r[0]["action"], format!("kubectl patch pv {pv} -p '{{\"spec\":{{\"claimRef\":{{\"uid\":null}}}}}}'"));
    assert_no_manifests_names(&out, "wsg");
}

#[test]
fn live_prometheus_resource_retention_change_is_a_value_change() {
    let tmp = tempfile::tempdir().unwrap();
    let (list, _) = live_static_nfs_chart_user(tmp.path());
    let new = variant(tmp.path(), "stacks/static-nfs.toml", &[("retention = \"15d\"", "retention = \"7d\"")]);
    let (code, out, err) = diff_stdin(&[&new, "--format", "helm-values", "--against", "-"], &list);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("values (kube-prometheus-stack 88.5.3, before: Prometheus monitoring/wsg-prometheus):"),
        "{out}"
    );
    assert!(out.contains("~ prometheus.prometheusSpec.retention: 15d → 7d"), "{out}");
    assert!(out.contains("[retention-shorter]") && out.contains("prometheus-wsg-prometheus"), "{out}");
}
