//! Changes the API server rejects: immutable fields of StatefulSets, Deployments,
//! Services, PersistentVolumes, claims and StorageClasses, each with what to run instead.

use serde_json::Value;

use super::{ns_flag, risk, show, Category, Code, Risk};
use crate::diff::Key;
use crate::model::units::quantity_nanos;

/// A change Kubernetes rejects, with what to run instead.
fn immutable(key: &Key, path: &str, message: String, action: String) -> Risk {
    let mut r = risk(Code::ImmutableField, Category::Rejected, key, path, message);
    r.action = Some(action);
    r
}

/// The fields of a StatefulSet spec the API server refuses to change.
pub(super) fn statefulset(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let mut fields = Vec::new();
    for f in ["selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy"] {
        let p = format!("/spec/{f}");
        if old.pointer(&p) != new.pointer(&p) {
            fields.push(f);
        }
    }
    if !fields.is_empty() {
        out.push(immutable(
            key,
            &format!("/spec/{}", fields[0]),
            format!(
                "StatefulSet {} changes spec.{}, immutable: apply fails. Pods and claims survive an orphaning delete; \
                 existing claims keep their old spec (volumeClaimTemplates only shape new claims)",
                key.name,
                fields.join(", spec.")
            ),
            format!("kubectl delete statefulset {}{} --cascade=orphan, then apply again", key.name, ns_flag(key)),
        ));
    }
}

/// A Deployment's selector.
pub(super) fn deployment(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    if old.pointer("/spec/selector") != new.pointer("/spec/selector") {
        out.push(immutable(
            key,
            "/spec/selector",
            format!("Deployment {} changes spec.selector, which is immutable: apply fails", key.name),
            format!("kubectl delete deployment {}{}, then apply again", key.name, ns_flag(key)),
        ));
    }
}

/// A Service's cluster IP.
pub(super) fn service(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let (o, n) = (old.pointer("/spec/clusterIP"), new.pointer("/spec/clusterIP"));
    if n.is_some() && o != n {
        out.push(immutable(
            key,
            "/spec/clusterIP",
            format!(
                "Service {} changes spec.clusterIP ({} → {}), which is immutable: apply fails",
                key.name,
                show(o),
                show(n)
            ),
            format!("kubectl delete service {}{}, then apply again", key.name, ns_flag(key)),
        ));
    }
}

const PV_MUTABLE: &[&str] =
    &["persistentVolumeReclaimPolicy", "capacity", "claimRef", "storageClassName", "mountOptions", "accessModes"];

/// A PV's volume source and the other fields the API server refuses to change.
pub(super) fn pv(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let empty = serde_json::Map::new();
    let os = old["spec"].as_object().unwrap_or(&empty);
    let ns = new["spec"].as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = os.keys().chain(ns.keys()).collect();
    keys.sort();
    keys.dedup();
    let fixed: Vec<&str> = keys
        .iter()
        .filter(|k| !PV_MUTABLE.contains(&k.as_str()) && os.get(**k) != ns.get(**k))
        .map(|k| k.as_str())
        .collect();
    if !fixed.is_empty() {
        out.push(immutable(key, &format!("/spec/{}", fixed[0]), format!(
                "PersistentVolume {} changes spec.{}: a PV's volume source is immutable, apply fails",
                key.name,
                fixed.join(", spec.")
            ), format!(
            "kubectl delete pv {} (kept until its claim is deleted; with Retain the data stays on the backend), then apply again and let the claim re-bind",
            key.name
        )));
    }
}

/// A claim's spec: only the storage request may change, and only grow.
pub(super) fn pvc(key: &Key, old: &Value, new: &Value, base: &str, out: &mut Vec<Risk>) {
    let strip = |v: &Value| {
        let mut s = v.pointer(base).cloned().unwrap_or(Value::Null);
        if let Some(m) = s.as_object_mut() {
            m.remove("resources");
            m.remove("volumeAttributesClassName");
        }
        s
    };
    let size = |v: &Value| {
        v.pointer(&format!("{base}/resources/requests/storage")).and_then(Value::as_str).and_then(quantity_nanos)
    };
    let mut why = Vec::new();
    if strip(old) != strip(new) {
        why.push("its spec (only the storage request may grow)".to_string());
    }
    if let (Some(o), Some(n)) = (size(old), size(new)) {
        if n < o {
            why.push("a smaller storage request (claims never shrink)".to_string());
        }
    }
    if !why.is_empty() {
        out.push(immutable(
            key,
            base,
            format!("PersistentVolumeClaim {} changes {}: apply fails", key.name, why.join(" and ")),
            format!(
                "copy the data to a new claim; deleting claim {}{} deletes or releases its volume",
                key.name,
                ns_flag(key)
            ),
        ));
    }
}

/// The fields of a StorageClass the API server refuses to change.
pub(super) fn storage_class(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let fixed: Vec<&str> = ["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"]
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .collect();
    if !fixed.is_empty() {
        out.push(immutable(
            key,
            &format!("/{}", fixed[0]),
            format!("StorageClass {} changes {}, immutable: apply fails", key.name, fixed.join(", ")),
            format!(
            "kubectl delete storageclass {}, then apply again (existing volumes keep what they were provisioned with)",
            key.name
        ),
        ));
    }
}
