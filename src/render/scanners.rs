//! Annotations for the security scanners users already run (checkov). Every check that
//! fails by design is skipped on the object itself, with the reason, as
//! `checkov.io/skip<N>: <CHECK>=<reason>`; the checks are derived from the pod spec, so a
//! skip appears only where the choice it explains is really made. tests/checkov.rs runs
//! checkov on every golden and asserts the exact list of skips, so a new failure cannot
//! hide behind them.

use serde_json::Value;

use super::Object;

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    pod["containers"].as_array().into_iter().flatten()
}

/// The checks a workload's pod fails by design, with the reason.
fn skips(obj: &Object) -> Vec<(&'static str, &'static str)> {
    let pod = &obj.value["spec"]["template"]["spec"];
    let mut v = Vec::new();
    let provisioner = containers(pod).any(|c| c["name"] == "nfs-provisioner");
    if pod["automountServiceAccountToken"] == Value::Bool(true) {
        v.push((
            "CKV_K8S_38",
            if provisioner {
                "the NFS provisioner creates and deletes PersistentVolumes through the API"
            } else {
                "Prometheus needs its service-account token for Kubernetes service discovery (get/list/watch only, no Secrets)"
            },
        ));
    }
    if containers(pod).any(|c| c["resources"]["limits"].get("cpu").is_none()) {
        v.push(("CKV_K8S_11", "a CPU limit throttles Prometheus rule and query evaluation; set [prometheus] resources.cpu_limit to add one"));
    }
    if containers(pod).any(|c| c["imagePullPolicy"] != "Always") {
        v.push(("CKV_K8S_15", "images are pinned by tag (and digest with image_digest); Always would make every restart depend on the registry"));
    }
    if containers(pod).any(|c| !c["image"].as_str().unwrap_or_default().contains("@sha256:")) {
        v.push(("CKV_K8S_43", "images are pinned by tag; set image_digest in stack.toml to pin by digest"));
    }
    if containers(pod)
        .any(|c| c["env"].as_array().into_iter().flatten().any(|e| e["valueFrom"].get("secretKeyRef").is_some()))
    {
        v.push((
            "CKV_K8S_35",
            "Thanos substitutes objstore credentials into its config only from environment variables ($(VAR))",
        ));
    }
    if pod["securityContext"]["runAsUser"].as_i64().is_some_and(|u| u < 10000) {
        v.push((
            "CKV_K8S_40",
            "run_as_user must own the TSDB files: a migrated TSDB is chown -R run_as_user:fs_group (stackgen migrate)",
        ));
    }
    if pod["securityContext"].get("runAsNonRoot").is_none() {
        v.push((
            "CKV_K8S_23",
            "the NFS subdir provisioner creates and owns per-claim directories on the share as root",
        ));
        v.push((
            "CKV_K8S_20",
            "the NFS subdir provisioner creates and owns per-claim directories on the share as root",
        ));
        v.push(("CKV_K8S_40", "the NFS subdir provisioner runs as root"));
    }
    if containers(pod).any(|c| c.get("livenessProbe").is_none()) {
        v.push((
            "CKV_K8S_8",
            "the NFS subdir provisioner serves no health endpoint; Kubernetes restarts it when it exits",
        ));
    }
    if containers(pod).any(|c| c.get("readinessProbe").is_none()) {
        v.push(("CKV_K8S_9", "the NFS subdir provisioner serves no traffic, so readiness has no meaning"));
    }
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

/// Add the skip annotations to every workload.
pub fn annotate(objs: &mut [Object]) {
    for obj in objs.iter_mut().filter(|o| matches!(o.kind.as_str(), "StatefulSet" | "Deployment")) {
        let skips = skips(obj);
        if skips.is_empty() {
            continue;
        }
        let meta = obj.value["metadata"].as_object_mut().expect("objects have metadata");
        let ann = meta.entry("annotations").or_insert_with(|| Value::Object(serde_json::Map::new()));
        let ann = ann.as_object_mut().expect("annotations are a map");
        for (i, (check, reason)) in skips.iter().enumerate() {
            ann.insert(format!("checkov.io/skip{}", i + 1), Value::String(format!("{check}={reason}")));
        }
    }
}
