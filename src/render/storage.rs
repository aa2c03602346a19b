//! Storage per backend: the StorageClass, the static PVs (one per Prometheus pod,
//! pre-bound by claimRef to exactly the claim its pod will make), the NFS subdir
//! provisioner, and the claim template each Prometheus StatefulSet uses.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ISCSIPersistentVolumeSource, LocalVolumeSource, NFSVolumeSource, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, PodSpec,
    PodTemplateSpec, Volume, VolumeNodeAffinity,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::api::storage::v1::StorageClass;

use super::k8s::{self, meta, q};
use super::{Names, Object};
use crate::model::volumes::{component_volumes, static_components, ComponentVolume};
use crate::model::{Backend, Bytes};

/// The class of the Prometheus data claims, if any.
pub fn data_class(n: &Names<'_>) -> Option<String> {
    Some(match &n.stack.storage.backend {
        Backend::Local { .. } => n.cluster("local"),
        Backend::Nfs { .. } => n.cluster("nfs-static"),
        Backend::Iscsi { .. } => n.cluster("iscsi"),
        Backend::NfsProvisioner { .. } => n.cluster("nfs"),
        Backend::CephClass { class } | Backend::CephCsi { class, .. } | Backend::Class { name: class } => class.clone(),
        Backend::Ephemeral => return None,
    })
}

/// Class for the other components' volumes, in this order: `component_class`; none
/// (emptyDir) with `ephemeral_components = true`; on a static backend, the backend's own
/// class when stackgen writes PVs for the components too (see [`static_components`]);
/// else the backend's class when it provisions dynamically. None on a static backend
/// without any of these is lint error SG121, so it never silently reaches a render.
pub fn component_class(n: &Names<'_>) -> Option<String> {
    let st = &n.stack.storage;
    if let Some(c) = &st.component_class {
        return Some(c.clone());
    }
    if st.ephemeral_components {
        return None;
    }
    if st.backend.is_static() && !static_components(n.stack) {
        return None;
    }
    data_class(n)
}

/// The selector a component's claim carries when its PVs are static (else none: a
/// selector blocks dynamic provisioning).
pub fn component_selector(n: &Names<'_>, owner: &str) -> Option<BTreeMap<String, String>> {
    static_components(n.stack).then(|| selector_for(n, owner))
}

/// Labels a static PV carries and its claim selects.
fn volume_selector(n: &Names<'_>, shard: &str) -> BTreeMap<String, String> {
    selector_for(n, &n.shard(shard))
}

/// The one selector every Prometheus PV carries when a single claim template selects
/// them for every shard: the Prometheus Operator's `storageSpec` (helm-values).
pub fn stack_volume_selector(n: &Names<'_>) -> BTreeMap<String, String> {
    selector_for(n, &n.obj("prometheus"))
}

fn selector_for(n: &Names<'_>, owner: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("stackgen.dev/namespace".into(), n.ns());
    m.insert("stackgen.dev/volume-for".into(), owner.to_string());
    m
}

/// Name of the claim the StatefulSet makes for pod `replica` of `shard`.
pub fn claim_name(n: &Names<'_>, shard: &str, replica: u32) -> String {
    format!("data-{}-{replica}", n.shard(shard))
}

/// The Prometheus claim template of one shard (None for ephemeral).
pub fn prometheus_claim(n: &Names<'_>, shard: &str) -> Option<PersistentVolumeClaim> {
    let class = data_class(n)?;
    let size = n.stack.storage.size?;
    let selector = n.stack.storage.backend.is_static().then(|| volume_selector(n, shard));
    let mut labels = n.selector("prometheus", Some(shard));
    labels.insert("app.kubernetes.io/component".into(), "server".into());
    Some(k8s::claim("data", None, labels, &class, size, selector))
}

/// Whose claims the static PVs are pre-bound to.
pub enum Claims<'a> {
    /// stackgen's StatefulSets (manifests): `data-<StatefulSet>-<ordinal>`, selected per
    /// shard.
    StatefulSets,
    /// The Prometheus Operator's, beside the chart (helm-values): pod `replica` of shard
    /// `shard` claims `claim(shard, replica)`, and every shard's PVs carry
    /// [`stack_volume_selector`] (the chart has one claim template for all shards).
    /// `component` names the claim each component volume's pod makes in that world, or
    /// None when nothing there can bind a static PV (the chart's Alertmanager and Grafana
    /// claims have other names; `--format operator` names the operator's Alertmanager
    /// claims).
    Operator { claim: &'a dyn Fn(u16, u32) -> String, component: &'a dyn Fn(&ComponentVolume) -> Option<String> },
}

pub fn objects(n: &Names<'_>, claims: &Claims<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    let reclaim = s.storage.reclaim_policy.as_str();
    match &s.storage.backend {
        Backend::Local { .. } | Backend::Nfs { .. } | Backend::Iscsi { .. } => {
            let class = data_class(n).expect("static backends have a class");
            out.push(static_class(n, &class));
            static_pvs(n, &class, reclaim, claims, out);
            if static_components(n.stack) {
                component_pvs(n, &class, reclaim, claims, out);
            }
        }
        Backend::CephCsi { class, provisioner, cluster_id, pool, secret, secret_namespace } => {
            let mut params = BTreeMap::new();
            params.insert("clusterID".to_string(), cluster_id.clone());
            params.insert("pool".to_string(), pool.clone());
            params.insert("imageFormat".to_string(), "2".to_string());
            params.insert("imageFeatures".to_string(), "layering".to_string());
            params.insert("csi.storage.k8s.io/fstype".to_string(), "ext4".to_string());
            for kind in ["provisioner", "controller-expand", "node-stage"] {
                params.insert(format!("csi.storage.k8s.io/{kind}-secret-name"), secret.clone());
                params.insert(format!("csi.storage.k8s.io/{kind}-secret-namespace"), secret_namespace.clone());
            }
            out.push(Object::new(&StorageClass {
                metadata: meta(class, None, n.labels("storage", "storage", None)),
                provisioner: provisioner.clone(),
                parameters: Some(params),
                reclaim_policy: Some(reclaim.into()),
                allow_volume_expansion: Some(true),
                volume_binding_mode: Some("Immediate".into()),
                ..Default::default()
            }));
        }
        Backend::NfsProvisioner { server, path, image } => nfs_provisioner(n, server, path, image, reclaim, out),
        Backend::CephClass { .. } | Backend::Class { .. } | Backend::Ephemeral => {}
    }
}

fn static_class(n: &Names<'_>, class: &str) -> Object {
    Object::new(&StorageClass {
        metadata: meta(class, None, n.labels("storage", "storage", None)),
        // No provisioner: every PV of this class is written by stackgen.
        provisioner: "kubernetes.io/no-provisioner".into(),
        reclaim_policy: Some(n.stack.storage.reclaim_policy.as_str().into()),
        // Local PVs need the scheduler to pick the node first (a local PV pins its pod to
        // one node, so binding before scheduling can strand the pod); for the other
        // static backends it is harmless and keeps one rule for all.
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    })
}

fn static_pvs(n: &Names<'_>, class: &str, reclaim: &str, claims: &Claims<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    let size: Bytes = s.storage.size.expect("static backends have a size");
    let mut index = 0usize;
    // Retired shards keep their volumes, on the same nodes or LUNs.
    for shard in 0..s.sharding.kept() {
        let id = shard.to_string();
        for replica in 0..s.prometheus.replicas {
            let pod = format!("{}-{replica}", n.shard(&id));
            let (claim, selector) = match claims {
                Claims::StatefulSets => (claim_name(n, &id, replica), volume_selector(n, &id)),
                Claims::Operator { claim, .. } => (claim(shard, replica), stack_volume_selector(n)),
            };
            let mut labels = n.labels("prometheus", "storage", Some(&id));
            labels.extend(selector);
            // Pre-bound: this PV can only ever bind the claim of this one pod, so no two pods
            // race for a volume and a re-created claim finds its data again.
            let mut spec = prebound_spec(n, size, class, reclaim, claim);
            match &s.storage.backend {
                Backend::Local { path, nodes, .. } => {
                    spec.local = Some(LocalVolumeSource { path: path.clone(), ..Default::default() });
                    spec.node_affinity = Some(pinned_to(&nodes[index]));
                }
                // A directory per pod: two Prometheus servers on one TSDB corrupt it. The
                // directory must exist on the server, owned by run_as_user:fs_group.
                Backend::Nfs { server, path } => nfs_source(&mut spec, server, &format!("{path}/{pod}")),
                Backend::Iscsi { target_portal, iqn, luns, fs_type, .. } => {
                    iscsi_source(&mut spec, target_portal, iqn, luns[index], fs_type);
                }
                _ => unreachable!("only static backends have PVs"),
            }
            out.push(Object::new(&PersistentVolume {
                metadata: meta(&n.cluster(&format!("prometheus-shard-{shard}-{replica}")), None, labels),
                spec: Some(spec),
                ..Default::default()
            }));
            index += 1;
        }
    }
}

/// Static PVs for the component pods, each pre-bound to the claim of one pod like the
/// Prometheus ones: on NFS `<path>/<pod>` on the same export, on local volumes
/// `<component_path>/<pod>` on the listed nodes in turn, on iSCSI one `component_luns`
/// LUN each.
fn component_pvs(n: &Names<'_>, class: &str, reclaim: &str, claims: &Claims<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    for (index, v) in component_volumes(s).into_iter().enumerate() {
        // Skipped after counting: each other PV keeps the node or LUN it has in manifests.
        let claim = match claims {
            Claims::StatefulSets => v.claim.clone(),
            Claims::Operator { component, .. } => match component(&v) {
                Some(c) => c,
                None => continue,
            },
        };
        let ComponentVolume { owner, dir, size, .. } = v;
        let component = owner.strip_prefix(&format!("{}-", s.name)).unwrap_or(&owner);
        let mut labels = n.labels(component, "storage", None);
        labels.extend(selector_for(n, &owner));
        let mut spec = prebound_spec(n, size, class, reclaim, claim);
        match &s.storage.backend {
            Backend::Nfs { server, path } => nfs_source(&mut spec, server, &format!("{path}/{dir}")),
            Backend::Local { nodes, component_path: Some(root), .. } => {
                spec.local = Some(LocalVolumeSource { path: format!("{root}/{dir}"), ..Default::default() });
                spec.node_affinity = Some(pinned_to(&nodes[index % nodes.len()]));
            }
            Backend::Iscsi { target_portal, iqn, fs_type, component_luns, .. } => {
                // Fewer LUNs than component pods is lint error SG103; never reached.
                let Some(lun) = component_luns.get(index) else { continue };
                iscsi_source(&mut spec, target_portal, iqn, *lun, fs_type);
            }
            _ => continue,
        }
        out.push(Object::new(&PersistentVolume {
            metadata: meta(&n.cluster(&dir.replacen(&format!("{}-", s.name), "", 1)), None, labels),
            spec: Some(spec),
            ..Default::default()
        }));
    }
}

/// A static PV's spec without its source: `size`, ReadWriteOnce, the class and reclaim
/// policy, and a `claimRef` to exactly one claim of the stack's namespace.
fn prebound_spec(n: &Names<'_>, size: Bytes, class: &str, reclaim: &str, claim: String) -> PersistentVolumeSpec {
    let mut capacity = BTreeMap::new();
    capacity.insert("storage".to_string(), q(size.quantity()));
    PersistentVolumeSpec {
        capacity: Some(capacity),
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        persistent_volume_reclaim_policy: Some(reclaim.into()),
        storage_class_name: Some(class.into()),
        volume_mode: Some("Filesystem".into()),
        claim_ref: Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            namespace: Some(n.ns()),
            name: Some(claim),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An NFS directory as the PV's source, mounted hard with NFS 4.1.
fn nfs_source(spec: &mut PersistentVolumeSpec, server: &str, path: &str) {
    spec.nfs = Some(NFSVolumeSource { server: server.to_string(), path: path.to_string(), ..Default::default() });
    spec.mount_options = Some(vec!["hard".into(), "nfsvers=4.1".into()]);
}

/// One whole iSCSI LUN as the PV's source.
fn iscsi_source(spec: &mut PersistentVolumeSpec, portal: &str, iqn: &str, lun: i32, fs_type: &str) {
    spec.iscsi = Some(ISCSIPersistentVolumeSource {
        target_portal: portal.to_string(),
        iqn: iqn.to_string(),
        lun,
        fs_type: Some(fs_type.to_string()),
        read_only: Some(false),
        ..Default::default()
    });
}

fn pinned_to(node: &str) -> VolumeNodeAffinity {
    VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: "kubernetes.io/hostname".into(),
                    operator: "In".into(),
                    values: Some(vec![node.to_string()]),
                }]),
                ..Default::default()
            }],
        }),
    }
}

/// The NFS subdir external provisioner (a directory per claim on one export, for NFS
/// servers without a CSI driver), with its RBAC and StorageClass.
fn nfs_provisioner(n: &Names<'_>, server: &str, path: &str, image: &str, reclaim: &str, out: &mut Vec<Object>) {
    let ns = n.ns();
    let name = n.obj("nfs-provisioner");
    let labels = n.labels("nfs-provisioner", "storage", None);
    let provisioner_name = format!("stackgen.dev/{}-{}-nfs", n.stack.namespace, n.stack.name);
    out.push(k8s::service_account(&name, &ns, labels.clone(), true));
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let cluster_name = n.cluster("nfs-provisioner");
    out.push(Object::new(&ClusterRole {
        metadata: meta(&cluster_name, None, labels.clone()),
        rules: Some(vec![
            rule(&[""], &["persistentvolumes"], &["get", "list", "watch", "create", "delete"]),
            rule(&[""], &["persistentvolumeclaims"], &["get", "list", "watch", "update"]),
            rule(&["storage.k8s.io"], &["storageclasses"], &["get", "list", "watch"]),
            rule(&[""], &["events"], &["create", "update", "patch"]),
        ]),
        ..Default::default()
    }));
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: name.clone(),
        namespace: Some(ns.clone()),
        ..Default::default()
    };
    out.push(Object::new(&ClusterRoleBinding {
        metadata: meta(&cluster_name, None, labels.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: cluster_name.clone(),
        },
        subjects: Some(vec![subject.clone()]),
    }));
    // Leader election.
    out.push(Object::new(&Role {
        metadata: meta(&name, Some(&ns), labels.clone()),
        rules: Some(vec![
            rule(&[""], &["endpoints"], &["get", "list", "watch", "create", "update", "patch"]),
            rule(&["coordination.k8s.io"], &["leases"], &["get", "list", "watch", "create", "update", "patch"]),
        ]),
    }));
    out.push(Object::new(&RoleBinding {
        metadata: meta(&name, Some(&ns), labels.clone()),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: name.clone() },
        subjects: Some(vec![subject]),
    }));
    let mut params = BTreeMap::new();
    // Keep the data of a deleted claim as archived-<dir> instead of deleting it.
    params.insert("archiveOnDelete".to_string(), "true".to_string());
    params.insert("pathPattern".to_string(), "${.PVC.namespace}-${.PVC.name}".to_string());
    out.push(Object::new(&StorageClass {
        metadata: meta(&n.cluster("nfs"), None, n.labels("storage", "storage", None)),
        provisioner: provisioner_name.clone(),
        parameters: Some(params),
        reclaim_policy: Some(reclaim.into()),
        volume_binding_mode: Some("Immediate".into()),
        ..Default::default()
    }));
    let mut c = k8s::container("nfs-provisioner", image.to_string(), Vec::new());
    c.args = None;
    c.env = Some(vec![
        k8s::env_value("PROVISIONER_NAME", &provisioner_name),
        k8s::env_value("NFS_SERVER", server),
        k8s::env_value("NFS_PATH", path),
    ]);
    c.volume_mounts = Some(vec![k8s::mount("nfs-root", "/persistentvolumes", false)]);
    c.resources = Some(k8s::resources("10m", "32Mi", "128Mi", Some("100m")));
    // The provisioner creates and chowns directories on the share as root; this is the
    // one container of the stack that cannot be restricted (namespace enforces baseline).
    if let Some(sc) = c.security_context.as_mut() {
        sc.run_as_non_root = None;
    }
    let mut pod_sc = k8s::pod_security(0, 0);
    pod_sc.run_as_user = None;
    pod_sc.run_as_group = None;
    pod_sc.fs_group = None;
    pod_sc.fs_group_change_policy = None;
    pod_sc.run_as_non_root = None;
    out.push(Object::new(&Deployment {
        metadata: meta(&name, Some(&ns), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: k8s::selector(n.selector("nfs-provisioner", None)),
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".into()), ..Default::default() }),
            template: PodTemplateSpec {
                metadata: Some(meta_pod(labels)),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    automount_service_account_token: Some(true),
                    security_context: Some(pod_sc),
                    containers: vec![c],
                    volumes: Some(vec![Volume {
                        name: "nfs-root".into(),
                        nfs: Some(NFSVolumeSource { server: server.into(), path: path.into(), ..Default::default() }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }));
}

pub fn meta_pod(labels: BTreeMap<String, String>) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta { labels: Some(labels), ..Default::default() }
}
