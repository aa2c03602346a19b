//! `[storage]`: the backend of the Prometheus volumes and its table (`[storage.local]`,
//! `[storage.nfs]`, `[storage.iscsi]`, `[storage.ceph]`, `[storage.class]`), one
//! function per backend; the volume size and the claims that exist.

use super::stack::Meta;
use super::{Pods, Reporter};
use crate::diagnostic::Code;
use crate::model::capacity::{auto_volume_gib, ShardPlan};
use crate::model::raw::{RawBackend, RawCeph, RawFsType, RawIscsi, RawLocal, RawNfs, RawReclaim, RawStorage};
use crate::model::{Backend, ReclaimPolicy, Storage, DEFAULT_NFS_PROVISIONER_IMAGE};

/// `pod` is one Prometheus pod's capacity plan, if the stack declares its load: what
/// `size = "auto"` takes.
pub(super) fn validate(
    raw: Option<&RawStorage>,
    meta: &Meta,
    pods: Pods,
    pod: Option<&ShardPlan>,
    r: &mut Reporter<'_>,
) -> Storage {
    let Some(st) = raw else {
        r.error_at_key(
            Code::MissingKey,
            "",
            "no [storage] section: Prometheus data would be lost on every restart",
            "add [storage] with backend = \"local\" | \"nfs\" | \"iscsi\" | \"ceph\" | \"class\"; or backend = \"ephemeral\" for a throw-away stack",
        );
        return Storage {
            backend: Backend::Ephemeral,
            size: None,
            size_auto: false,
            reclaim_policy: ReclaimPolicy::Retain,
            component_class: None,
            ephemeral_components: false,
            claims_size: None,
        };
    };
    let size_auto = st.size.as_deref() == Some("auto");
    let size = match &st.size {
        Some(_) if size_auto => match pod {
            Some(one) => Some(r.volume("/storage/size", Some(&format!("{}Gi", auto_volume_gib(one))), "1Gi")),
            None => {
                r.error(
                    Code::InvalidValue,
                    "/storage/size",
                    "size = \"auto\" needs the load the stack carries, and [prometheus] declares none",
                    "set [prometheus] ingestion_rate (samples/s of the whole stack) or active_series, or write the \
                     size: size = \"500Gi\"",
                );
                None
            }
        },
        Some(s) => Some(r.volume("/storage/size", Some(s), "1Gi")),
        None if st.backend == RawBackend::Ephemeral => None,
        None => {
            r.error_at_key(
                Code::MissingKey,
                "/storage",
                "missing key `size` in [storage]",
                "add size = \"500Gi\": the size of each Prometheus volume",
            );
            None
        }
    };
    backend_tables(st, r);
    let backend = match st.backend {
        RawBackend::Local => st.local.as_ref().map(|l| local(l, pods, r)),
        RawBackend::Nfs => st.nfs.as_ref().map(nfs),
        RawBackend::Iscsi => st.iscsi.as_ref().map(|i| iscsi(i, pods, r)),
        RawBackend::Ceph => st.ceph.as_ref().map(|c| ceph(c, meta, r)),
        RawBackend::Class => st.class.as_ref().map(|c| Backend::Class { name: c.name.clone() }),
        RawBackend::Ephemeral => None,
    };

    // The claims that exist: while `size` grows they keep `claims_size` until resized
    // (claim templates are immutable and a StatefulSet never resizes a claim).
    let claims_size = st.claims_size.as_ref().map(|c| r.volume("/storage/claims_size", Some(c), "1Gi"));
    if let (Some(c), Some(s)) = (claims_size, size) {
        if c > s {
            r.error(
                Code::InvalidValue,
                "/storage/claims_size",
                format!("claims_size {} is above size {}: a claim never shrinks", c.quantity(), s.quantity()),
                "set size to at least the size of the existing claims",
            );
        }
    }
    if claims_size.is_some() && st.backend == RawBackend::Ephemeral {
        r.error(
            Code::InvalidValue,
            "/storage/claims_size",
            "claims_size is for persistent claims; backend = \"ephemeral\" has none",
            "remove claims_size",
        );
    }
    Storage {
        // A backend whose table is missing was reported above.
        backend: backend.unwrap_or(Backend::Ephemeral),
        size,
        size_auto,
        reclaim_policy: match st.reclaim_policy {
            Some(RawReclaim::Delete) => ReclaimPolicy::Delete,
            Some(RawReclaim::Retain) | None => ReclaimPolicy::Retain,
        },
        component_class: st.component_class.clone(),
        ephemeral_components: st.ephemeral_components.unwrap_or(false),
        claims_size,
    }
}

/// Exactly the backend's own table may be present.
fn backend_tables(st: &RawStorage, r: &mut Reporter<'_>) {
    let tables = [
        (RawBackend::Local, st.local.is_some(), "add [storage.local] with path and nodes"),
        (RawBackend::Nfs, st.nfs.is_some(), "add [storage.nfs] with server and path"),
        (RawBackend::Iscsi, st.iscsi.is_some(), "add [storage.iscsi] with target_portal, iqn and luns"),
        (
            RawBackend::Ceph,
            st.ceph.is_some(),
            "add [storage.ceph] with storage_class (existing class) or cluster_id, pool and secret",
        ),
        (RawBackend::Class, st.class.is_some(), "add [storage.class] with name"),
    ];
    let backend = st.backend;
    for (table, present, add) in tables {
        if present && table != backend {
            r.error_at_key(
                Code::BackendTable,
                &format!("/storage/{table}"),
                format!("[storage.{table}] is given but backend = \"{backend}\""),
                format!("set backend = \"{table}\", or remove [storage.{table}]"),
            );
        } else if !present && table == backend {
            r.error(
                Code::MissingKey,
                "/storage/backend",
                format!("backend = \"{table}\" needs a [storage.{table}] table"),
                add,
            );
        }
    }
}

/// Too few volumes (`have` of `noun`) for the pods: each Prometheus pod needs `one` of
/// its own.
fn too_few(r: &mut Reporter<'_>, ptr: &str, (have, noun, one): (usize, &str, &str), pods: Pods, help: String) {
    let Pods { shards, replicas } = pods;
    let total = pods.total();
    if (have as u32) < total {
        r.error(
            Code::StaticVolumeCount,
            ptr,
            format!(
                "{have} {noun}(s) for {total} Prometheus pods ({shards} shard(s) x {replicas} replica(s)): each pod needs {one} of its own"
            ),
            help,
        );
    }
}

fn local(l: &RawLocal, pods: Pods, r: &mut Reporter<'_>) -> Backend {
    r.duplicates("/storage/local/nodes", &l.nodes, "node");
    let total = pods.total();
    too_few(
        r,
        "/storage/local/nodes",
        (l.nodes.len(), "node", "a local volume"),
        pods,
        format!("list {total} nodes, or lower shards/replicas; extra pods would stay Pending"),
    );
    Backend::Local {
        path: l.path.clone(),
        nodes: l.nodes.clone(),
        component_path: l.component_path.as_ref().map(|p| p.trim_end_matches('/').to_string()),
    }
}

fn nfs(n: &RawNfs) -> Backend {
    if n.provisioner.unwrap_or(false) {
        Backend::NfsProvisioner {
            server: n.server.clone(),
            path: n.path.clone(),
            image: n.provisioner_image.clone().unwrap_or_else(|| DEFAULT_NFS_PROVISIONER_IMAGE.to_string()),
        }
    } else {
        Backend::Nfs { server: n.server.clone(), path: n.path.trim_end_matches('/').to_string() }
    }
}

fn iscsi(i: &RawIscsi, pods: Pods, r: &mut Reporter<'_>) -> Backend {
    let luns: Vec<String> = i.luns.iter().map(ToString::to_string).collect();
    r.duplicates("/storage/iscsi/luns", &luns, "LUN");
    let component_luns = i.component_luns.clone().unwrap_or_default();
    let cluns: Vec<String> = component_luns.iter().map(ToString::to_string).collect();
    r.duplicates("/storage/iscsi/component_luns", &cluns, "LUN");
    for (k, l) in component_luns.iter().enumerate() {
        if let Some(first) = i.luns.iter().position(|x| x == l) {
            let prometheus_lun = r.value_span(&format!("/storage/iscsi/luns/{first}"));
            r.conflict(
                Code::DuplicateVolume,
                format!("/storage/iscsi/component_luns/{k}"),
                format!("LUN `{l}` is both a Prometheus LUN and a component LUN"),
                (prometheus_lun, "listed for Prometheus here"),
                "each LUN can back only one volume",
            );
        }
    }
    let total = pods.total();
    too_few(
        r,
        "/storage/iscsi/luns",
        (i.luns.len(), "LUN", "a LUN"),
        pods,
        format!("list {total} LUNs, or lower shards/replicas"),
    );
    Backend::Iscsi {
        target_portal: i.target_portal.clone(),
        iqn: i.iqn.clone(),
        luns: i.luns.clone(),
        fs_type: match i.fs_type {
            Some(RawFsType::Xfs) => "xfs".into(),
            Some(RawFsType::Ext4) | None => "ext4".into(),
        },
        component_luns,
    }
}

/// `[storage.ceph]`: an existing class (`storage_class` alone, as Rook's
/// rook-ceph-block), or a ceph-csi RBD class stackgen defines (cluster_id, pool and
/// secret together).
fn ceph(c: &RawCeph, meta: &Meta, r: &mut Reporter<'_>) -> Backend {
    let csi = [&c.cluster_id, &c.pool, &c.secret];
    if csi.iter().all(|v| v.is_some()) {
        return Backend::CephCsi {
            class: c.storage_class.clone().unwrap_or_else(|| format!("{}-{}-ceph-rbd", meta.namespace, meta.name)),
            provisioner: c.provisioner.clone().unwrap_or_else(|| "rbd.csi.ceph.com".into()),
            cluster_id: c.cluster_id.clone().unwrap_or_default(),
            pool: c.pool.clone().unwrap_or_default(),
            secret: c.secret.clone().unwrap_or_default(),
            secret_namespace: c.secret_namespace.clone().unwrap_or_else(|| meta.namespace.to_string()),
        };
    }
    if let (true, Some(class)) = (csi.iter().all(|v| v.is_none()), &c.storage_class) {
        // An existing class: the keys that only shape a class stackgen defines would be
        // silently ignored.
        for (key, set) in [("provisioner", c.provisioner.is_some()), ("secret_namespace", c.secret_namespace.is_some())]
        {
            if set {
                r.error_at_key(
                    Code::InvalidValue,
                    &format!("/storage/ceph/{key}"),
                    format!(
                        "`{key}` has no effect with an existing class (`storage_class` alone uses the class as it is)"
                    ),
                    "remove it: an existing class (Rook's rook-ceph-block) already names its CSI driver and secrets; \
                     or add cluster_id, pool and secret to have stackgen define the class with this driver",
                );
            }
        }
        return Backend::CephClass { class: class.clone() };
    }
    if csi.iter().any(|v| v.is_some()) || c.provisioner.is_some() || c.secret_namespace.is_some() {
        r.error_at_key(
            Code::MissingKey,
            "/storage/ceph",
            "a ceph-csi StorageClass needs cluster_id, pool and secret together",
            "give all three to define an rbd.csi.ceph.com class, or only storage_class to use an existing one",
        );
    } else {
        r.error_at_key(
            Code::MissingKey,
            "/storage/ceph",
            "[storage.ceph] needs storage_class, or cluster_id, pool and secret",
            "storage_class = \"rook-ceph-block\" uses Rook's class",
        );
    }
    Backend::Ephemeral
}
