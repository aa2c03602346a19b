//! Thanos: the sidecar in every Prometheus pod, Query, Store Gateway and the single
//! Compactor, and the objstore config they share.
//!
//! Flags and keys follow the Thanos docs for v0.39 (docs/components/*.md) and the
//! objstore provider configs (thanos-io/objstore providers/*); see docs/thanos-facts.md.
//! Credentials never appear: the config names `$(OBJSTORE_<KEY>)`, which Thanos
//! substitutes from the environment (extkingpin objstore flags, since v0.22), and the
//! environment comes from `credentials_secret` by secretKeyRef.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, SecretVolumeSource, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::k8s::{self, meta};
use super::pod::{pdb, spread, tsdb_mount, zone_spread, PROMETHEUS_PORT, THANOS_GRPC_PORT, THANOS_HTTP_PORT};
use super::{storage, yaml, Names, Object};
use crate::model::capacity::{STORE_CHUNK_POOL_FLAG, STORE_INDEX_CACHE_FLAG};
use crate::model::{Bytes, ObjstoreKind, Thanos};

const OBJSTORE_DIR: &str = "/etc/thanos/objstore";
const GCS_DIR: &str = "/etc/thanos/gcs";
/// nobody: Thanos needs no identity of its own, and a high UID keeps clear of host users.
const THANOS_UID: i64 = 65534;

fn thanos<'a>(n: &Names<'a>) -> &'a Thanos {
    n.stack.thanos.as_ref().expect("called only with Thanos on")
}

pub fn env_name(key: &str) -> String {
    format!("OBJSTORE_{}", key.to_uppercase())
}

/// Thanos' objstore.yml: `type`, `config` with exactly the keys the provider reads, and
/// `prefix`.
pub fn objstore_config(t: &Thanos) -> Value {
    let o = &t.objstore;
    let mut config = serde_json::Map::new();
    for (k, v) in &o.config {
        config.insert((*k).to_string(), v.clone());
    }
    if o.credentials_secret.is_some() {
        for key in o.kind.secret_keys() {
            config.insert((*key).to_string(), json!(format!("$({})", env_name(key))));
        }
    }
    let mut v = json!({"type": o.kind.thanos_type(), "config": config});
    if let Some(p) = &o.prefix {
        v["prefix"] = json!(p);
    }
    v
}

/// The `checksum/<ConfigMap>` annotation of every pod that mounts the objstore config:
/// Thanos reads it only at start (store.go, compact.go, sidecar.go), so a new endpoint or
/// bucket must roll the pods.
pub fn objstore_checksum(n: &Names<'_>) -> (String, String) {
    let text = yaml::to_string(&objstore_config(thanos(n)));
    super::pod::checksum_annotation(&n.obj("thanos-objstore"), &text)
}

/// Environment and volumes that carry the credentials into a Thanos container.
pub(crate) fn credentials(t: &Thanos, c: &mut Container, volumes: &mut Vec<Volume>) {
    let o = &t.objstore;
    let Some(secret) = &o.credentials_secret else {
        return;
    };
    let env = c.env.get_or_insert_with(Vec::new);
    for key in o.kind.secret_keys() {
        env.push(k8s::env_secret(&env_name(key), secret, key));
    }
    if o.kind == ObjstoreKind::Gcs {
        env.push(k8s::env_value("GOOGLE_APPLICATION_CREDENTIALS", &format!("{GCS_DIR}/service-account.json")));
        c.volume_mounts.get_or_insert_with(Vec::new).push(k8s::mount("gcs-credentials", GCS_DIR, true));
        volumes.push(Volume {
            name: "gcs-credentials".into(),
            secret: Some(SecretVolumeSource { secret_name: Some(secret.clone()), ..Default::default() }),
            ..Default::default()
        });
    }
}

fn objstore_flag() -> String {
    format!("--objstore.config-file={OBJSTORE_DIR}/objstore.yml")
}

fn base_container(n: &Names<'_>, name: &str, args: Vec<String>, grpc: bool) -> Container {
    let t = thanos(n);
    let mut c = k8s::container(name, t.image.reference(), args);
    let mut ports = Vec::new();
    if grpc {
        ports.push(k8s::port("grpc", THANOS_GRPC_PORT));
    }
    ports.push(k8s::port("http", THANOS_HTTP_PORT));
    c.ports = Some(ports);
    c.readiness_probe = Some(k8s::http_probe("/-/ready", "http", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/-/healthy", "http", 15, 4));
    c
}

/// The sidecar container and the volumes it adds to the Prometheus pod.
pub fn sidecar(n: &Names<'_>) -> (Container, Vec<Volume>) {
    let t = thanos(n);
    let args = vec![
        "sidecar".to_string(),
        "--tsdb.path=/prometheus".into(),
        format!("--prometheus.url=http://localhost:{}", PROMETHEUS_PORT),
        format!("--grpc-address=0.0.0.0:{THANOS_GRPC_PORT}"),
        format!("--http-address=0.0.0.0:{THANOS_HTTP_PORT}"),
        objstore_flag(),
    ];
    let mut c = base_container(n, "thanos-sidecar", args, true);
    c.resources = Some(k8s::resources("100m", "256Mi", "512Mi", Some("1")));
    c.volume_mounts = Some(vec![
        tsdb_mount(),
        k8s::mount("thanos-objstore", OBJSTORE_DIR, true),
        k8s::mount("thanos-tmp", "/tmp", false),
    ]);
    let mut volumes =
        vec![k8s::config_map_volume("thanos-objstore", &n.obj("thanos-objstore")), k8s::empty_dir("thanos-tmp", None)];
    credentials(t, &mut c, &mut volumes);
    (c, volumes)
}

fn pod(n: &Names<'_>, sel: BTreeMap<String, String>, containers: Vec<Container>, volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        service_account_name: Some(n.obj("thanos")),
        // Thanos talks to object storage and to other Thanos components, never to the
        // Kubernetes API.
        automount_service_account_token: Some(false),
        security_context: Some(k8s::pod_security(THANOS_UID, THANOS_UID)),
        affinity: Some(spread(sel.clone())),
        topology_spread_constraints: Some(zone_spread(sel)),
        containers,
        volumes: Some(volumes),
        ..Default::default()
    }
}

fn template(n: &Names<'_>, labels: BTreeMap<String, String>, pod: PodSpec) -> PodTemplateSpec {
    let mut annotations = BTreeMap::new();
    if pod.volumes.iter().flatten().any(|v| v.config_map.as_ref().is_some_and(|c| c.name == n.obj("thanos-objstore"))) {
        let (key, sum) = objstore_checksum(n);
        annotations.insert(key, sum);
    }
    annotations.insert("prometheus.io/scrape".to_string(), "true".to_string());
    annotations.insert("prometheus.io/port".to_string(), THANOS_HTTP_PORT.to_string());
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), annotations: Some(annotations), ..Default::default() }),
        spec: Some(pod),
    }
}

/// A work volume: a claim template on the component class, else an emptyDir.
fn work_volume(
    n: &Names<'_>,
    component: &str,
    size: Bytes,
    volumes: &mut Vec<Volume>,
) -> Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>> {
    match storage::component_class(n) {
        Some(class) => {
            let selector = storage::component_selector(n, &n.obj(component));
            Some(vec![k8s::claim("data", None, n.selector(component, None), &class, size, selector)])
        }
        None => {
            volumes.push(k8s::empty_dir("data", Some(size)));
            None
        }
    }
}

/// Where Thanos Query finds the sidecars' StoreAPI.
#[derive(Clone, Copy)]
pub enum Sidecars<'a> {
    /// A headless Service over every sidecar, rendered here (manifests).
    Own,
    /// A Service over the sidecars that another renders (helm-values: the chart's
    /// `<fullname>-thanos-discovery`).
    Service(&'a str),
}

pub fn objects(n: &Names<'_>, sidecars: Sidecars<'_>, out: &mut Vec<Object>) {
    let t = thanos(n);
    let ns = n.ns();
    let cm_name = n.obj("thanos-objstore");
    let mut data = BTreeMap::new();
    data.insert("objstore.yml".to_string(), yaml::to_string(&objstore_config(t)));
    out.push(k8s::config_map(&cm_name, &ns, n.labels("thanos", "objstore", None), data));
    out.push(k8s::service_account(&n.obj("thanos"), &ns, n.labels("thanos", "thanos", None), false));

    // Manifests mode scrapes the stack itself (helm-values: the chart's PodMonitor).
    let own_scrapes = matches!(sidecars, Sidecars::Own) && n.stack.rules.self_monitoring;
    // Every sidecar, for Query's DNS SRV discovery.
    let sidecars = match sidecars {
        Sidecars::Own => {
            let name = n.obj("thanos-sidecar");
            let mut sidecar_sel = BTreeMap::new();
            sidecar_sel.insert("app.kubernetes.io/name".to_string(), "prometheus".to_string());
            sidecar_sel.insert("app.kubernetes.io/instance".to_string(), n.stack.name.to_string());
            out.push(Object::new(&k8s::service(
                &name,
                &ns,
                n.labels("thanos-sidecar", "sidecar", None),
                sidecar_sel,
                vec![k8s::service_port("grpc", THANOS_GRPC_PORT), k8s::service_port("http", THANOS_HTTP_PORT)],
                true,
            )));
            name
        }
        Sidecars::Service(name) => name.to_string(),
    };

    // Query.
    let q = n.obj("thanos-query");
    let store = n.obj("thanos-store");
    let qsel = n.selector("thanos-query", None);
    let qlabels = n.labels("thanos-query", "query", None);
    let args = vec![
        "query".to_string(),
        format!("--grpc-address=0.0.0.0:{THANOS_GRPC_PORT}"),
        format!("--http-address=0.0.0.0:{THANOS_HTTP_PORT}"),
        // Equal to the label Prometheus sets: HA pairs deduplicate
        // only when Query's replica label is the one their external labels differ by.
        format!("--query.replica-label={}", t.replica_label),
        // Without it every query asks for raw data, and the 5m/1h blocks the Compactor keeps
        // after raw retention are unreachable (the API defaults max_source_resolution to 0).
        "--query.auto-downsampling".into(),
        // --store was removed in v0.38; --endpoint with DNS SRV over headless Services.
        format!("--endpoint=dnssrv+_grpc._tcp.{}", n.svc_fqdn(&sidecars)),
        format!("--endpoint=dnssrv+_grpc._tcp.{}", n.svc_fqdn(&store)),
    ];
    let mut c = base_container(n, "thanos-query", args, true);
    c.resources = Some(k8s::requirements(&t.query_resources));
    out.push(Object::new(&k8s::service(
        &q,
        &ns,
        qlabels.clone(),
        qsel.clone(),
        vec![k8s::service_port("grpc", THANOS_GRPC_PORT), k8s::service_port("http", THANOS_HTTP_PORT)],
        false,
    )));
    if own_scrapes {
        // Each Query pod for self-monitoring (DNS A records; the Service above balances).
        out.push(Object::new(&k8s::service(
            &n.obj("thanos-query-pods"),
            &ns,
            qlabels.clone(),
            qsel.clone(),
            vec![k8s::service_port("http", THANOS_HTTP_PORT)],
            true,
        )));
    }
    out.push(Object::new(&Deployment {
        metadata: meta(&q, Some(&ns), qlabels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(t.query_replicas as i32),
            selector: k8s::selector(qsel.clone()),
            template: template(n, qlabels.clone(), pod(n, qsel.clone(), vec![c], Vec::new())),
            ..Default::default()
        }),
        ..Default::default()
    }));
    if t.query_replicas > 1 {
        out.push(pdb(&q, &ns, qlabels, qsel));
    }

    // Store Gateway.
    let ssel = n.selector("thanos-store", None);
    let slabels = n.labels("thanos-store", "store-gateway", None);
    let args = vec![
        "store".to_string(),
        "--data-dir=/var/thanos/store".into(),
        format!("--grpc-address=0.0.0.0:{THANOS_GRPC_PORT}"),
        format!("--http-address=0.0.0.0:{THANOS_HTTP_PORT}"),
        objstore_flag(),
        // The Thanos defaults, written out: the memory limit must hold both (SG147).
        format!("--chunk-pool-size={STORE_CHUNK_POOL_FLAG}"),
        format!("--index-cache-size={STORE_INDEX_CACHE_FLAG}"),
    ];
    let mut c = base_container(n, "thanos-store", args, true);
    c.resources = Some(k8s::requirements(&t.store_resources));
    c.volume_mounts =
        Some(vec![k8s::mount("data", "/var/thanos/store", false), k8s::mount("thanos-objstore", OBJSTORE_DIR, true)]);
    let mut volumes = vec![k8s::config_map_volume("thanos-objstore", &cm_name)];
    credentials(t, &mut c, &mut volumes);
    let claims = work_volume(n, "thanos-store", t.store_size, &mut volumes);
    out.push(Object::new(&k8s::service(
        &store,
        &ns,
        slabels.clone(),
        ssel.clone(),
        vec![k8s::service_port("grpc", THANOS_GRPC_PORT), k8s::service_port("http", THANOS_HTTP_PORT)],
        true,
    )));
    out.push(Object::new(&StatefulSet {
        metadata: meta(&store, Some(&ns), slabels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(t.store_replicas as i32),
            service_name: Some(store.clone()),
            pod_management_policy: Some("Parallel".into()),
            selector: k8s::selector(ssel.clone()),
            template: template(n, slabels.clone(), pod(n, ssel.clone(), vec![c], volumes)),
            volume_claim_templates: claims,
            ..Default::default()
        }),
        ..Default::default()
    }));

    // Compactor: exactly one per bucket (kube-thanos: "compact replicas can only be 0 or 1").
    let comp = n.obj("thanos-compactor");
    let csel = n.selector("thanos-compactor", None);
    let clabels = n.labels("thanos-compactor", "compactor", None);
    let cp = &t.compactor;
    let args = vec![
        "compact".to_string(),
        "--wait".into(),
        "--wait-interval=5m".into(),
        "--data-dir=/var/thanos/compact".into(),
        format!("--http-address=0.0.0.0:{THANOS_HTTP_PORT}"),
        objstore_flag(),
        format!("--retention.resolution-raw={}", cp.retention_raw),
        format!("--retention.resolution-5m={}", cp.retention_5m),
        format!("--retention.resolution-1h={}", cp.retention_1h),
        format!("--deduplication.replica-label={}", t.replica_label),
        // Prometheus HA replicas scrape at different instants: the default one-to-one merge
        // (meant for identical samples from Receive replication) would interleave them, and
        // the merged block replaces the originals for good. Penalty dedup is what Query does.
        "--deduplication.func=penalty".into(),
        "--delete-delay=48h".into(),
    ];
    let mut c = base_container(n, "thanos-compactor", args, false);
    c.resources = Some(k8s::requirements(&cp.resources));
    c.volume_mounts =
        Some(vec![k8s::mount("data", "/var/thanos/compact", false), k8s::mount("thanos-objstore", OBJSTORE_DIR, true)]);
    let mut volumes = vec![k8s::config_map_volume("thanos-objstore", &cm_name)];
    credentials(t, &mut c, &mut volumes);
    let claims = work_volume(n, "thanos-compactor", cp.size, &mut volumes);
    out.push(Object::new(&k8s::service(
        &comp,
        &ns,
        clabels.clone(),
        csel.clone(),
        vec![k8s::service_port("http", THANOS_HTTP_PORT)],
        true,
    )));
    out.push(Object::new(&StatefulSet {
        metadata: meta(&comp, Some(&ns), clabels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(comp.clone()),
            selector: k8s::selector(csel.clone()),
            template: template(n, clabels, pod(n, csel, vec![c], volumes)),
            volume_claim_templates: claims,
            ..Default::default()
        }),
        ..Default::default()
    }));
}
