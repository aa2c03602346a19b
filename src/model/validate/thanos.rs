//! `[thanos]`: its presence enables Thanos. The replica label, the object store
//! (`[thanos.objstore]`, one set of keys per provider), Query, Store Gateway and
//! Compactor.

use super::resources::{resources, COMPACTOR, QUERY, STORE};
use super::{image, Pods, Reporter};
use crate::diagnostic::Code;
use crate::model::raw::{RawObjstore, RawObjstoreKind, RawThanos};
use crate::model::{
    Compactor, Objstore, ObjstoreKind, Prometheus, Thanos, DEFAULT_THANOS_IMAGE, DEFAULT_THANOS_VERSION,
    THANOS_MIN_RETENTION_MS,
};

/// `prometheus` is the validated `[prometheus]`: its retention and external labels must
/// suit the sidecar.
pub(super) fn validate(t: &RawThanos, prometheus: &Prometheus, pods: Pods, r: &mut Reporter<'_>) -> Thanos {
    let replica_label = replica_label(t, prometheus, r);
    let retention = &prometheus.retention;
    if retention.millis() < THANOS_MIN_RETENTION_MS {
        r.error(
            Code::ThanosLocalRetention,
            "/prometheus/retention",
            format!("retention {retention} is under 6h: the sidecar uploads 2h blocks and needs three of them locally"),
            "set retention to at least 6h (the default 15d is fine)",
        );
    }
    let objstore = objstore(&t.objstore, r);
    if objstore.kind == ObjstoreKind::Filesystem && pods.total() > 1 {
        r.error(
            Code::ObjstoreUnusable,
            "/thanos/objstore/type",
            format!(
                "type = \"filesystem\" with {} Prometheus pods: each pod writes its own directory on its own \
                 read-only root filesystem, so no two components see the same bucket",
                pods.total()
            ),
            "use an object store every pod reaches (s3 with MinIO, gcs, azure, ...); filesystem suits only one \
             Prometheus pod for tests",
        );
    }
    let c = t.compactor.as_ref();
    let compactor = Compactor {
        retention_raw: r.duration("/thanos/compactor/retention_raw", c.and_then(|c| c.retention_raw.as_ref()), "0d"),
        retention_5m: r.duration("/thanos/compactor/retention_5m", c.and_then(|c| c.retention_5m.as_ref()), "0d"),
        retention_1h: r.duration("/thanos/compactor/retention_1h", c.and_then(|c| c.retention_1h.as_ref()), "0d"),
        size: r.volume("/thanos/compactor/storage_size", c.and_then(|c| c.storage_size.as_ref()), "50Gi"),
        resources: resources(c.and_then(|c| c.resources.as_ref()), "/thanos/compactor/resources", &COMPACTOR, r),
    };
    if c.and_then(|c| c.replicas) == Some(0) {
        r.error(
            Code::InvalidValue,
            "/thanos/compactor/replicas",
            "the compactor cannot be switched off while Thanos is on",
            "remove replicas: stackgen runs exactly one compactor",
        );
    }
    Thanos {
        image: image(
            t.image.as_ref(),
            DEFAULT_THANOS_IMAGE,
            t.version.as_ref(),
            DEFAULT_THANOS_VERSION,
            t.image_digest.as_ref(),
        ),
        replica_label,
        objstore,
        query_replicas: t.query.as_ref().and_then(|q| q.replicas).unwrap_or(2),
        store_replicas: t.store.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        store_size: r.volume(
            "/thanos/store/storage_size",
            t.store.as_ref().and_then(|s| s.storage_size.as_ref()),
            "10Gi",
        ),
        query_resources: resources(
            t.query.as_ref().and_then(|q| q.resources.as_ref()),
            "/thanos/query/resources",
            &QUERY,
            r,
        ),
        store_resources: resources(
            t.store.as_ref().and_then(|s| s.resources.as_ref()),
            "/thanos/store/resources",
            &STORE,
            r,
        ),
        compactor,
    }
}

/// The external label that tells HA replicas apart: set in `[thanos]` (or, for older
/// files, `[thanos.objstore]`), never one stackgen or the user sets otherwise.
fn replica_label(t: &RawThanos, prometheus: &Prometheus, r: &mut Reporter<'_>) -> String {
    let label_a = t.replica_label.as_ref();
    let label_b = t.objstore.replica_label.as_ref();
    if let (Some(a), Some(b)) = (label_a, label_b) {
        if a != b {
            r.error(
                Code::ReplicaLabel,
                "/thanos/objstore/replica_label",
                format!("replica_label is `{a}` in [thanos] and `{b}` in [thanos.objstore]"),
                "write it once, in [thanos]: Prometheus, Query and Compactor must agree",
            );
        }
    }
    let replica_label = label_a.or(label_b).cloned().unwrap_or_else(|| "prometheus_replica".into());
    let replica_ptr = if label_a.is_some() { "/thanos/replica_label" } else { "/thanos/objstore/replica_label" };
    if prometheus.external_labels.contains_key(&replica_label) {
        r.error_at_key(
            Code::ReplicaLabel,
            &format!("/prometheus/external_labels/{replica_label}"),
            format!("external label `{replica_label}` is the replica label, which stackgen sets per pod"),
            "remove it from external_labels; every replica must carry a distinct value",
        );
    }
    if replica_label == "shard" {
        r.error(
            Code::ReplicaLabel,
            replica_ptr,
            "the replica label cannot be `shard`, which stackgen sets per shard",
            "keep the default prometheus_replica",
        );
    }
    replica_label
}

fn objstore(o: &RawObjstore, r: &mut Reporter<'_>) -> Objstore {
    let kind = match o.kind {
        RawObjstoreKind::S3 => ObjstoreKind::S3,
        RawObjstoreKind::Gcs => ObjstoreKind::Gcs,
        RawObjstoreKind::Azure => ObjstoreKind::Azure,
        RawObjstoreKind::Aliyunoss => ObjstoreKind::AliyunOss,
        RawObjstoreKind::Cos => ObjstoreKind::Cos,
        RawObjstoreKind::Swift => ObjstoreKind::Swift,
        RawObjstoreKind::Filesystem => ObjstoreKind::Filesystem,
    };
    let kind_name = kind.thanos_type().to_lowercase();
    let given: Vec<(&str, Option<serde_json::Value>)> = vec![
        ("bucket", o.bucket.clone().map(Into::into)),
        ("endpoint", o.endpoint.clone().map(Into::into)),
        ("region", o.region.clone().map(Into::into)),
        ("insecure", o.insecure.map(Into::into)),
        ("signature_version2", o.signature_version2.map(Into::into)),
        ("storage_account", o.storage_account.clone().map(Into::into)),
        ("container", o.container.clone().map(Into::into)),
        ("app_id", o.app_id.clone().map(Into::into)),
        ("auth_url", o.auth_url.clone().map(Into::into)),
        ("username", o.username.clone().map(Into::into)),
        ("project_name", o.project_name.clone().map(Into::into)),
        ("region_name", o.region_name.clone().map(Into::into)),
        ("container_name", o.container_name.clone().map(Into::into)),
        ("directory", o.directory.clone().map(Into::into)),
    ];
    let keys = kind.plain_keys();
    let mut config = Vec::new();
    for (k, v) in &given {
        let ptr = format!("/thanos/objstore/{k}");
        match (keys.iter().find(|(sk, _, _)| sk == k), v) {
            (None, Some(_)) => {
                let names: Vec<&str> = keys.iter().map(|(k, _, _)| *k).collect();
                r.error_at_key(
                    Code::ObjstoreKey,
                    &ptr,
                    format!("type = \"{kind_name}\" does not read `{k}`; Thanos would ignore it or refuse the config"),
                    format!("{kind_name} reads: {}", names.join(", ")),
                );
            }
            (Some((_, thanos_key, _)), Some(v)) => {
                // minio-go (S3) takes host[:port] and refuses a URL ("Endpoint url cannot have
                // fully qualified paths"); Azure builds https://<account>.<endpoint> itself.
                let host_only = *k == "endpoint" && matches!(kind, ObjstoreKind::S3 | ObjstoreKind::Azure);
                if let (true, Some(text)) = (host_only, v.as_str()) {
                    if let Some((scheme, rest)) = text.split_once("://") {
                        r.error(
                            Code::ObjstoreUnusable,
                            &ptr,
                            format!("endpoint `{text}` has a scheme: Thanos' {kind_name} client takes host[:port] and refuses a URL"),
                            format!(
                                "write endpoint = \"{}\"{}",
                                rest.trim_end_matches('/'),
                                if scheme == "http" && kind == ObjstoreKind::S3 { " and insecure = true for plain HTTP" } else { "" }
                            ),
                        );
                    }
                }
                config.push((*thanos_key, v.clone()));
            }
            _ => {}
        }
    }
    for (k, _, required) in keys {
        if *required && !given.iter().any(|(g, v)| g == k && v.is_some()) {
            r.error_at_key(
                Code::MissingKey,
                "/thanos/objstore",
                format!("type = \"{kind_name}\" needs `{k}` in [thanos.objstore]"),
                format!("add {k} = \"...\""),
            );
        }
    }
    if o.credentials_secret.is_none() && !kind.credentials_optional() {
        r.error_at_key(
            Code::MissingKey,
            "/thanos/objstore",
            format!("type = \"{kind_name}\" needs credentials_secret: Thanos has no other way to get its keys"),
            format!(
                "create a Secret with the keys {} and set credentials_secret to its name",
                kind.secret_keys().join(", ")
            ),
        );
    }
    Objstore { kind, config, prefix: o.prefix.clone(), credentials_secret: o.credentials_secret.clone() }
}
