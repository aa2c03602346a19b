//! For every static backend: each PV stackgen writes binds exactly the claim its pod
//! makes (class, selector labels, capacity, access modes, claimRef), and there is one PV
//! per Prometheus pod (shards x replicas).

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::Value;

fn bytes(q: &str) -> u128 {
    let units = [("Ki", 1u128 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50)];
    for (u, m) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<u128>().unwrap() * m;
        }
    }
    q.parse().unwrap()
}

#[test]
fn static_pvs_bind_their_claims() {
    let mut backends = BTreeSet::new();
    for stack in stacks() {
        let model = crate::common::check_file(&stack);
        if !model.storage.backend.is_static() {
            continue;
        }
        backends.insert(model.storage.backend.name());
        let text = std::fs::read_to_string(golden_path(&stack)).unwrap();
        let docs = docs(&text);
        let pvs: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "PersistentVolume").collect();
        let pods = model.pod_count() as usize;
        assert_eq!(pvs.len(), pods, "{}: one PV per Prometheus pod", stem(&stack));
        let mut claimed = BTreeSet::new();
        for sts in docs
            .iter()
            .filter(|d| d["kind"] == "StatefulSet" && d["metadata"]["labels"]["app.kubernetes.io/name"] == "prometheus")
        {
            let name = sts["metadata"]["name"].as_str().unwrap();
            let ns = sts["metadata"]["namespace"].as_str().unwrap();
            let replicas = sts["spec"]["replicas"].as_u64().unwrap();
            let tpl = &sts["spec"]["volumeClaimTemplates"][0];
            let tname = tpl["metadata"]["name"].as_str().unwrap();
            for r in 0..replicas {
                let claim = format!("{tname}-{name}-{r}");
                let matching: Vec<&&Value> = pvs
                    .iter()
                    .filter(|pv| {
                        let spec = &pv["spec"];
                        let class_ok = spec["storageClassName"] == tpl["spec"]["storageClassName"];
                        let sel = tpl["spec"]["selector"]["matchLabels"].as_object().expect("static claims select");
                        let labels_ok = sel.iter().all(|(k, v)| &pv["metadata"]["labels"][k] == v);
                        let cap_ok = bytes(spec["capacity"]["storage"].as_str().unwrap())
                            >= bytes(tpl["spec"]["resources"]["requests"]["storage"].as_str().unwrap());
                        let modes_ok = tpl["spec"]["accessModes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|m| spec["accessModes"].as_array().unwrap().contains(m));
                        let ref_ok = spec["claimRef"]["name"] == claim.as_str() && spec["claimRef"]["namespace"] == ns;
                        class_ok && labels_ok && cap_ok && modes_ok && ref_ok
                    })
                    .collect();
                assert_eq!(matching.len(), 1, "{}: claim {claim} must bind exactly one PV", stem(&stack));
                assert!(claimed.insert(matching[0]["metadata"]["name"].as_str().unwrap().to_string()));
            }
        }
        assert_eq!(claimed.len(), pods, "{}: every PV is claimed", stem(&stack));
        for pv in &pvs {
            let spec = &pv["spec"];
            assert_eq!(spec["persistentVolumeReclaimPolicy"], "Retain");
            match model.storage.backend.name() {
                "local" => {
                    let term = &spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0];
                    assert_eq!(term["key"], "kubernetes.io/hostname");
                    assert_eq!(term["operator"], "In");
                }
                "iscsi" => {
                    assert!(spec["iscsi"]["lun"].is_number() && spec["iscsi"]["iqn"].is_string())
                }
                "nfs" => assert!(spec["nfs"]["server"].is_string()),
                _ => unreachable!(),
            }
        }
        // The class of static PVs: no provisioner, WaitForFirstConsumer.
        let sc = docs.iter().find(|d| d["kind"] == "StorageClass").expect("static class");
        assert_eq!(sc["provisioner"], "kubernetes.io/no-provisioner");
        assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");
    }
    assert_eq!(backends, ["iscsi", "local", "nfs"].into_iter().collect(), "every static backend has an example stack");
}

#[test]
fn local_pvs_are_pinned_to_distinct_nodes() {
    let text = std::fs::read_to_string(root().join("golden/migrated-local-ssd.yaml")).unwrap();
    let nodes: BTreeSet<String> = docs(&text)
        .iter()
        .filter(|d| d["kind"] == "PersistentVolume")
        .map(|pv| {
            pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(nodes.len(), 2);
}

#[test]
fn nfs_pvs_have_a_directory_each() {
    let text = std::fs::read_to_string(root().join("golden/static-nfs.yaml")).unwrap();
    let paths: BTreeSet<String> = docs(&text)
        .iter()
        .filter(|d| d["kind"] == "PersistentVolume")
        .map(|pv| pv["spec"]["nfs"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths.len(), 2, "two pods, two directories: {paths:?}");
}

#[test]
fn dynamic_claims_have_no_selector() {
    for stack in stacks() {
        let text = std::fs::read_to_string(golden_path(&stack)).unwrap();
        let model = crate::common::check_file(&stack);
        for d in docs(&text) {
            let claims: Vec<Value> = match d["kind"].as_str().unwrap() {
                "StatefulSet" => d["spec"]["volumeClaimTemplates"].as_array().cloned().unwrap_or_default(),
                "PersistentVolumeClaim" => vec![d.clone()],
                _ => continue,
            };
            for c in claims {
                let class = c["spec"]["storageClassName"].as_str().expect("every claim names its class");
                let is_static_class =
                    class.ends_with("-local") || class.ends_with("-nfs-static") || class.ends_with("-iscsi");
                if !(model.storage.backend.is_static() && is_static_class) {
                    assert!(
                        c["spec"].get("selector").is_none(),
                        "{}: a selector blocks dynamic provisioning ({class})",
                        stem(&stack)
                    );
                }
            }
        }
    }
}
