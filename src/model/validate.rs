//! Raw stack → validated [`Stack`]. Everything the schema cannot say (cross-key rules,
//! counts, formats that need arithmetic) is checked here, each problem reported at the
//! span of the key it concerns. Warnings are the lint module's business; this module
//! reports only what makes a stack impossible to render correctly.

use std::collections::{BTreeMap, BTreeSet};

use super::raw::{RawObjstore, RawStack};
use super::units::{self, parse_volume_size, Bytes, Duration, K8sName, Quantity};
use super::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Parsed;

struct Ctx<'a> {
    parsed: &'a Parsed,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, code: Code, ptr: &str, msg: impl Into<String>, help: impl Into<String>) {
        let place = self.parsed.place(ptr);
        let span = if self.parsed.has(ptr) { place.value } else { place.key };
        self.diags.push(Diagnostic::error(code, msg, span).with_help(help).with_path(ptr));
    }
    fn err_key(&mut self, code: Code, ptr: &str, msg: impl Into<String>, help: impl Into<String>) {
        let place = self.parsed.place(ptr);
        self.diags.push(Diagnostic::error(code, msg, place.key).with_help(help).with_path(ptr));
    }
    fn duration(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Duration {
        let text = v.map_or(default, String::as_str);
        match text.parse() {
            Ok(d) => d,
            Err(e) => {
                self.err(Code::InvalidValue, ptr, e, "Prometheus durations: 15d, 6h, 1h30m");
                Duration::from_millis(0)
            }
        }
    }
    fn volume(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Bytes {
        match parse_volume_size(v.map_or(default, String::as_str)) {
            Ok(b) => b,
            Err(e) => {
                self.err(Code::InvalidValue, ptr, e, "binary units: 1Ti, 500Gi");
                Bytes::new(1)
            }
        }
    }
    fn quantity(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Quantity {
        match v.map_or(default, String::as_str).parse() {
            Ok(q) => q,
            Err(e) => {
                self.err(Code::InvalidValue, ptr, e, "Kubernetes quantities: 500m, 2, 8Gi");
                "0".parse().expect("0 is a quantity")
            }
        }
    }
}

fn image(
    repo: Option<&String>,
    default_repo: &str,
    tag: Option<&String>,
    default_tag: &str,
    digest: Option<&String>,
) -> Image {
    Image {
        repository: repo.map_or(default_repo, String::as_str).to_string(),
        tag: tag.map_or(default_tag, String::as_str).to_string(),
        digest: digest.cloned(),
    }
}

/// Turn a schema-valid raw stack into the validated model, or every reason it cannot be.
pub fn validate(raw: &RawStack, parsed: &Parsed) -> Result<Stack, Vec<Diagnostic>> {
    let mut cx = Ctx { parsed, diags: Vec::new() };

    // [stack]
    let name: K8sName = match raw.stack.name.parse() {
        Ok(n) => n,
        Err(e) => {
            cx.err(Code::InvalidValue, "/stack/name", e, "lower-case letters, digits and `-`: prod-eu-1");
            "invalid".parse().expect("valid")
        }
    };
    if name.as_str().len() > MAX_STACK_NAME {
        cx.err(
            Code::NameTooLong,
            "/stack/name",
            format!(
                "stack name `{name}` is {} characters; at most {MAX_STACK_NAME} keep every object name within 63",
                name.as_str().len()
            ),
            "shorten the name; it prefixes every object (`<name>-prometheus-shard-0`)",
        );
    }
    let namespace: K8sName = raw.stack.namespace.as_deref().unwrap_or("monitoring").parse().unwrap_or_else(|e| {
        cx.err(Code::InvalidValue, "/stack/namespace", e, "a DNS-1123 label such as `monitoring`");
        "monitoring".parse().expect("valid")
    });
    let kubernetes_version = raw.stack.kubernetes_version.clone().unwrap_or_else(|| KUBERNETES_VERSIONS[0].to_string());
    if !KUBERNETES_VERSIONS.contains(&kubernetes_version.as_str()) {
        cx.err(
            Code::UnsupportedKubernetes,
            "/stack/kubernetes_version",
            format!("Kubernetes {kubernetes_version} is not a version stackgen targets"),
            format!("use one of {}", KUBERNETES_VERSIONS.join(", ")),
        );
    }
    let labels = raw.stack.labels.clone().unwrap_or_default();
    for k in labels.keys() {
        if k.starts_with("app.kubernetes.io/") || k.starts_with("stackgen.dev/") {
            cx.err_key(
                Code::InvalidValue,
                &format!("/stack/labels/{}", crate::source::pointer_escape(k)),
                format!("label `{k}` is set by stackgen itself"),
                "choose another key; stackgen owns app.kubernetes.io/* and stackgen.dev/*",
            );
        }
    }

    // [prometheus]
    let rp = raw.prometheus.as_ref();
    let default_p = super::raw::RawPrometheus::default();
    let p = rp.unwrap_or(&default_p);
    let replicas = p.replicas.unwrap_or(1);
    formats(&mut cx, raw);
    range(&mut cx, "/prometheus/replicas", p.replicas, 1, 16);
    range(&mut cx, "/sharding/shards", raw.sharding.as_ref().and_then(|s| s.shards), 1, 1024);
    for (ptr, labels) in [("/prometheus/external_labels", p.external_labels.as_ref())] {
        for k in labels.into_iter().flat_map(|m| m.keys()) {
            label_name(&mut cx, &format!("{ptr}/{}", crate::source::pointer_escape(k)), k);
        }
    }
    let retention = cx.duration("/prometheus/retention", p.retention.as_ref(), "15d");
    if retention.millis() == 0 {
        cx.err(
            Code::InvalidValue,
            "/prometheus/retention",
            "retention of 0 keeps no data",
            "set a retention such as 15d",
        );
    }
    let scrape_interval = cx.duration("/prometheus/scrape_interval", p.scrape_interval.as_ref(), "30s");
    let evaluation_interval = cx.duration("/prometheus/evaluation_interval", p.evaluation_interval.as_ref(), "30s");
    let default_timeout =
        if scrape_interval.millis() < 10_000 { scrape_interval.as_str().to_string() } else { "10s".to_string() };
    let scrape_timeout = cx.duration("/prometheus/scrape_timeout", p.scrape_timeout.as_ref(), &default_timeout);
    for (ptr, d) in
        [("/prometheus/scrape_interval", &scrape_interval), ("/prometheus/evaluation_interval", &evaluation_interval)]
    {
        if d.millis() == 0 {
            cx.err(Code::InvalidValue, ptr, "an interval of 0 is not allowed", "e.g. 30s");
        }
    }
    if scrape_timeout.millis() > scrape_interval.millis() {
        cx.err(
            Code::InvalidValue,
            "/prometheus/scrape_timeout",
            format!("scrape_timeout {scrape_timeout} is longer than scrape_interval {scrape_interval}"),
            "Prometheus refuses a timeout above the interval",
        );
    }
    let res = p.resources.as_ref();
    let cpu = cx.quantity("/prometheus/resources/cpu", res.and_then(|r| r.cpu.as_ref()), "1");
    let memory = cx.quantity("/prometheus/resources/memory", res.and_then(|r| r.memory.as_ref()), "4Gi");
    let memory_limit = match res.and_then(|r| r.memory_limit.as_ref()) {
        Some(m) => cx.quantity("/prometheus/resources/memory_limit", Some(m), "0"),
        None => memory.clone(),
    };
    if memory_limit.value() < memory.value() {
        cx.err(
            Code::InvalidValue,
            "/prometheus/resources/memory_limit",
            format!("memory_limit {} is below the request {}", memory_limit.as_str(), memory.as_str()),
            "the limit must be at least the request",
        );
    }
    let cpu_limit =
        res.and_then(|r| r.cpu_limit.as_ref()).map(|c| cx.quantity("/prometheus/resources/cpu_limit", Some(c), "0"));
    let run_as_user = p.run_as_user.unwrap_or(1000);
    let fs_group = p.fs_group.unwrap_or(2000);
    if run_as_user == 0 {
        cx.err(
            Code::RootUser,
            "/prometheus/run_as_user",
            "run_as_user = 0 runs Prometheus as root",
            "use the uid that owns the TSDB files, e.g. 1000 (seed 000 used chown -R 1000:2000)",
        );
    }
    if fs_group == 0 {
        cx.err(
            Code::RootUser,
            "/prometheus/fs_group",
            "fs_group = 0 gives the volume to the root group",
            "use a non-root group, e.g. 2000",
        );
    }
    let mut external_labels = p.external_labels.clone().unwrap_or_default();

    // [storage]
    let backend_name = raw.storage.as_ref().map_or("ephemeral", |s| s.backend.as_str());
    if raw.storage.is_none() {
        cx.err_key(
            Code::MissingKey,
            "",
            "no [storage] section: Prometheus data would be lost on every restart",
            "add [storage] with backend = \"local\" | \"nfs\" | \"iscsi\" | \"ceph\" | \"class\"; or backend = \"ephemeral\" for a throw-away stack",
        );
    }
    let st = raw.storage.as_ref();
    let reclaim_policy = match st.and_then(|s| s.reclaim_policy) {
        Some(super::raw::RawReclaim::Delete) => ReclaimPolicy::Delete,
        _ => ReclaimPolicy::Retain,
    };
    let size = match st.and_then(|s| s.size.as_ref()) {
        Some(s) => Some(cx.volume("/storage/size", Some(s), "1Gi")),
        None if backend_name == "ephemeral" => None,
        None => {
            cx.err_key(
                Code::MissingKey,
                "/storage",
                "missing key `size` in [storage]",
                "add size = \"500Gi\": the size of each Prometheus volume",
            );
            None
        }
    };
    // Exactly the backend's own table may be present.
    for t in ["local", "nfs", "iscsi", "ceph", "class"] {
        let present = st.is_some_and(|s| match t {
            "local" => s.local.is_some(),
            "nfs" => s.nfs.is_some(),
            "iscsi" => s.iscsi.is_some(),
            "ceph" => s.ceph.is_some(),
            _ => s.class.is_some(),
        });
        let ptr = format!("/storage/{t}");
        if present && t != backend_name {
            cx.err_key(
                Code::BackendTable,
                &ptr,
                format!("[storage.{t}] is given but backend = \"{backend_name}\""),
                format!("set backend = \"{t}\", or remove [storage.{t}]"),
            );
        } else if !present && t == backend_name {
            cx.err(
                Code::MissingKey,
                "/storage/backend",
                format!("backend = \"{t}\" needs a [storage.{t}] table"),
                match t {
                    "local" => "add [storage.local] with path and nodes",
                    "nfs" => "add [storage.nfs] with server and path",
                    "iscsi" => "add [storage.iscsi] with target_portal, iqn and luns",
                    "ceph" => "add [storage.ceph] with storage_class (existing class) or cluster_id, pool and secret",
                    _ => "add [storage.class] with name",
                },
            );
        }
    }
    let shards = raw.sharding.as_ref().and_then(|s| s.shards).unwrap_or(1);
    let shards = u16::try_from(shards).unwrap_or(u16::MAX);
    let pods = u32::from(shards) * replicas;
    let backend = match backend_name {
        "local" => match st.and_then(|s| s.local.as_ref()) {
            Some(l) => {
                dupes(&mut cx, "/storage/local/nodes", &l.nodes, "node");
                if (l.nodes.len() as u32) < pods {
                    cx.err(
                        Code::StaticVolumeCount,
                        "/storage/local/nodes",
                        format!("{} node(s) for {pods} Prometheus pods ({shards} shard(s) x {replicas} replica(s)): each pod needs a local volume of its own", l.nodes.len()),
                        format!("list {pods} nodes, or lower shards/replicas; extra pods would stay Pending"),
                    );
                }
                Backend::Local {
                    path: l.path.clone(),
                    nodes: l.nodes.clone(),
                    component_path: l.component_path.as_ref().map(|p| p.trim_end_matches('/').to_string()),
                }
            }
            None => Backend::Ephemeral,
        },
        "nfs" => match st.and_then(|s| s.nfs.as_ref()) {
            Some(n) if n.provisioner.unwrap_or(false) => Backend::NfsProvisioner {
                server: n.server.clone(),
                path: n.path.clone(),
                image: n.provisioner_image.clone().unwrap_or_else(|| DEFAULT_NFS_PROVISIONER_IMAGE.to_string()),
            },
            Some(n) => Backend::Nfs { server: n.server.clone(), path: n.path.trim_end_matches('/').to_string() },
            None => Backend::Ephemeral,
        },
        "iscsi" => match st.and_then(|s| s.iscsi.as_ref()) {
            Some(i) => {
                let luns: Vec<String> = i.luns.iter().map(ToString::to_string).collect();
                dupes(&mut cx, "/storage/iscsi/luns", &luns, "LUN");
                let component_luns = i.component_luns.clone().unwrap_or_default();
                let cluns: Vec<String> = component_luns.iter().map(ToString::to_string).collect();
                dupes(&mut cx, "/storage/iscsi/component_luns", &cluns, "LUN");
                for (k, l) in component_luns.iter().enumerate() {
                    if let Some(first) = i.luns.iter().position(|x| x == l) {
                        let fs = cx.parsed.place(&format!("/storage/iscsi/luns/{first}")).value;
                        let ptr = format!("/storage/iscsi/component_luns/{k}");
                        let place = cx.parsed.place(&ptr);
                        cx.diags.push(
                            Diagnostic::error(
                                Code::DuplicateVolume,
                                format!("LUN `{l}` is both a Prometheus LUN and a component LUN"),
                                place.value,
                            )
                            .with_related(fs, "listed for Prometheus here")
                            .with_help("each LUN can back only one volume")
                            .with_path(ptr),
                        );
                    }
                }
                if (i.luns.len() as u32) < pods {
                    cx.err(
                        Code::StaticVolumeCount,
                        "/storage/iscsi/luns",
                        format!("{} LUN(s) for {pods} Prometheus pods ({shards} shard(s) x {replicas} replica(s)): each pod needs a LUN of its own", i.luns.len()),
                        format!("list {pods} LUNs, or lower shards/replicas"),
                    );
                }
                Backend::Iscsi {
                    target_portal: i.target_portal.clone(),
                    iqn: i.iqn.clone(),
                    luns: i.luns.clone(),
                    fs_type: match i.fs_type {
                        Some(super::raw::RawFsType::Xfs) => "xfs".into(),
                        _ => "ext4".into(),
                    },
                    component_luns,
                }
            }
            None => Backend::Ephemeral,
        },
        "ceph" => match st.and_then(|s| s.ceph.as_ref()) {
            Some(c) => {
                let csi = [&c.cluster_id, &c.pool, &c.secret];
                if csi.iter().all(|v| v.is_some()) {
                    Backend::CephCsi {
                        class: c.storage_class.clone().unwrap_or_else(|| format!("{namespace}-{name}-ceph-rbd")),
                        provisioner: c.provisioner.clone().unwrap_or_else(|| "rbd.csi.ceph.com".into()),
                        cluster_id: c.cluster_id.clone().unwrap_or_default(),
                        pool: c.pool.clone().unwrap_or_default(),
                        secret: c.secret.clone().unwrap_or_default(),
                        secret_namespace: c.secret_namespace.clone().unwrap_or_else(|| namespace.to_string()),
                    }
                } else if csi.iter().all(|v| v.is_none()) && c.storage_class.is_some() {
                    // An existing class (Rook's rook-ceph-block): the keys that only shape a
                    // class stackgen defines would be silently ignored.
                    for key in ["provisioner", "secret_namespace"] {
                        let set =
                            if key == "provisioner" { c.provisioner.is_some() } else { c.secret_namespace.is_some() };
                        if set {
                            cx.err_key(
                                Code::InvalidValue,
                                &format!("/storage/ceph/{key}"),
                                format!("`{key}` has no effect with an existing class (`storage_class` alone uses the class as it is)"),
                                "remove it: an existing class (Rook's rook-ceph-block) already names its CSI driver and secrets; \
                                 or add cluster_id, pool and secret to have stackgen define the class with this driver",
                            );
                        }
                    }
                    Backend::CephClass { class: c.storage_class.clone().unwrap_or_default() }
                } else if csi.iter().any(|v| v.is_some()) || c.provisioner.is_some() || c.secret_namespace.is_some() {
                    cx.err_key(
                        Code::MissingKey,
                        "/storage/ceph",
                        "a ceph-csi StorageClass needs cluster_id, pool and secret together",
                        "give all three to define an rbd.csi.ceph.com class, or only storage_class to use an existing one",
                    );
                    Backend::Ephemeral
                } else if let Some(class) = &c.storage_class {
                    Backend::CephClass { class: class.clone() }
                } else {
                    cx.err_key(
                        Code::MissingKey,
                        "/storage/ceph",
                        "[storage.ceph] needs storage_class, or cluster_id, pool and secret",
                        "storage_class = \"rook-ceph-block\" uses Rook's class",
                    );
                    Backend::Ephemeral
                }
            }
            None => Backend::Ephemeral,
        },
        "class" => match st.and_then(|s| s.class.as_ref()) {
            Some(c) => Backend::Class { name: c.name.clone() },
            None => Backend::Ephemeral,
        },
        _ => Backend::Ephemeral,
    };

    // The claims that exist: while `size` grows they keep `claims_size` until resized
    // (claim templates are immutable and a StatefulSet never resizes a claim).
    let claims_size =
        st.and_then(|s| s.claims_size.as_ref()).map(|c| cx.volume("/storage/claims_size", Some(c), "1Gi"));
    if let (Some(c), Some(s)) = (claims_size, size) {
        if c > s {
            cx.err(
                Code::InvalidValue,
                "/storage/claims_size",
                format!("claims_size {} is above size {}: a claim never shrinks", c.quantity(), s.quantity()),
                "set size to at least the size of the existing claims",
            );
        }
    }
    if claims_size.is_some() && backend_name == "ephemeral" {
        cx.err(
            Code::InvalidValue,
            "/storage/claims_size",
            "claims_size is for persistent claims; backend = \"ephemeral\" has none",
            "remove claims_size",
        );
    }
    let existing = match (size, claims_size) {
        (Some(s), Some(c)) => Some(s.min(c)),
        (s, _) => s,
    };
    let retention_size = match p.retention_size.as_deref().unwrap_or("auto") {
        "none" => None,
        // On an emptyDir the size limit evicts the pod; on a volume a full disk stops
        // Prometheus: either way keep 15% for the WAL and compaction.
        "auto" => existing.map(|s| s.percent_floor(85)),
        other => match units::parse_prometheus_bytes(other) {
            Ok(b) => Some(b),
            Err(e) => {
                cx.err(Code::InvalidValue, "/prometheus/retention_size", e, "e.g. 700GiB, auto or none");
                None
            }
        },
    };

    // [sharding]
    let source_labels =
        raw.sharding.as_ref().and_then(|s| s.source_labels.clone()).unwrap_or_else(|| vec!["__address__".to_string()]);

    // [thanos]
    let thanos = raw.thanos.as_ref().map(|t| {
        let label_a = t.replica_label.as_ref();
        let label_b = t.objstore.replica_label.as_ref();
        if let (Some(a), Some(b)) = (label_a, label_b) {
            if a != b {
                cx.err(
                    Code::ReplicaLabel,
                    "/thanos/objstore/replica_label",
                    format!("replica_label is `{a}` in [thanos] and `{b}` in [thanos.objstore]"),
                    "write it once, in [thanos]: Prometheus, Query and Compactor must agree",
                );
            }
        }
        let replica_label = label_a.or(label_b).cloned().unwrap_or_else(|| "prometheus_replica".into());
        let replica_ptr = if label_a.is_some() { "/thanos/replica_label" } else { "/thanos/objstore/replica_label" };
        if external_labels.contains_key(&replica_label) {
            cx.err_key(
                Code::ReplicaLabel,
                &format!("/prometheus/external_labels/{replica_label}"),
                format!("external label `{replica_label}` is the replica label, which stackgen sets per pod"),
                "remove it from external_labels; every replica must carry a distinct value",
            );
        }
        if replica_label == "shard" {
            cx.err(
                Code::ReplicaLabel,
                replica_ptr,
                "the replica label cannot be `shard`, which stackgen sets per shard",
                "keep the default prometheus_replica",
            );
        }
        if retention.millis() < THANOS_MIN_RETENTION_MS {
            cx.err(
                Code::ThanosLocalRetention,
                "/prometheus/retention",
                format!(
                    "retention {retention} is under 6h: the sidecar uploads 2h blocks and needs three of them locally"
                ),
                "set retention to at least 6h (the default 15d is fine)",
            );
        }
        let objstore = objstore(&mut cx, &t.objstore);
        if objstore.kind == ObjstoreKind::Filesystem && pods > 1 {
            cx.err(
                Code::ObjstoreUnusable,
                "/thanos/objstore/type",
                format!(
                    "type = \"filesystem\" with {pods} Prometheus pods: each pod writes its own directory on its own \
                     read-only root filesystem, so no two components see the same bucket"
                ),
                "use an object store every pod reaches (s3 with MinIO, gcs, azure, ...); filesystem suits only one \
                 Prometheus pod for tests",
            );
        }
        let c = t.compactor.as_ref();
        let compactor = Compactor {
            retention_raw: cx.duration(
                "/thanos/compactor/retention_raw",
                c.and_then(|c| c.retention_raw.as_ref()),
                "0d",
            ),
            retention_5m: cx.duration("/thanos/compactor/retention_5m", c.and_then(|c| c.retention_5m.as_ref()), "0d"),
            retention_1h: cx.duration("/thanos/compactor/retention_1h", c.and_then(|c| c.retention_1h.as_ref()), "0d"),
            size: cx.volume("/thanos/compactor/storage_size", c.and_then(|c| c.storage_size.as_ref()), "50Gi"),
        };
        if c.and_then(|c| c.replicas) == Some(0) {
            cx.err(
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
            store_size: cx.volume(
                "/thanos/store/storage_size",
                t.store.as_ref().and_then(|s| s.storage_size.as_ref()),
                "10Gi",
            ),
            compactor,
        }
    });
    // Prometheus 3 expands ${VAR} in external label values; a literal `$` is `$$`.
    for v in external_labels.values_mut() {
        *v = v.replace('$', "$$");
    }

    let alertmanager = raw.alertmanager.as_ref().map(|a| Alertmanager {
        image: image(
            a.image.as_ref(),
            DEFAULT_ALERTMANAGER_IMAGE,
            a.version.as_ref(),
            DEFAULT_ALERTMANAGER_VERSION,
            a.image_digest.as_ref(),
        ),
        replicas: a.replicas.unwrap_or(1),
        size: cx.volume("/alertmanager/storage_size", a.storage_size.as_ref(), "1Gi"),
    });
    let grafana = raw.grafana.as_ref().map(|g| Grafana {
        image: image(
            g.image.as_ref(),
            DEFAULT_GRAFANA_IMAGE,
            g.version.as_ref(),
            DEFAULT_GRAFANA_VERSION,
            g.image_digest.as_ref(),
        ),
        size: cx.volume("/grafana/storage_size", g.storage_size.as_ref(), "10Gi"),
        admin_secret: g.admin_secret.clone(),
    });

    // [[scrape]]
    let mut builtin: BTreeSet<String> = BTreeSet::new();
    let k = raw.kubernetes.as_ref();
    let kubernetes = KubernetesJobs {
        discovery: k.and_then(|k| k.discovery).unwrap_or(true),
        control_plane: k.and_then(|k| k.control_plane).unwrap_or(false),
        cluster_domain: k.and_then(|k| k.cluster_domain.clone()).unwrap_or_else(|| "cluster.local".into()),
        dns_addresses: k
            .and_then(|k| k.dns_addresses.clone())
            .unwrap_or_else(|| DEFAULT_DNS_ADDRESSES.iter().map(|s| (*s).to_string()).collect()),
    };
    for (i, a) in kubernetes.dns_addresses.iter().enumerate() {
        if !valid_cidr(a) {
            cx.err(
                Code::InvalidValue,
                &format!("/kubernetes/dns_addresses/{i}"),
                format!("`{a}` is not a CIDR"),
                "write an address with its prefix length: \"169.254.20.10/32\", \"10.96.0.10/32\"",
            );
        }
    }
    for j in crate::render::prometheus::builtin_job_names(&kubernetes, alertmanager.is_some()) {
        builtin.insert(j.to_string());
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut scrape = Vec::new();
    for (i, s) in raw.scrape.iter().enumerate() {
        let ptr = format!("/scrape/{i}/job");
        if let Some(first) = seen.insert(&s.job, i) {
            let first_span = cx.parsed.place(&format!("/scrape/{first}/job")).value;
            let place = cx.parsed.place(&ptr);
            cx.diags.push(
                Diagnostic::error(Code::DuplicateJob, format!("scrape job `{}` is defined twice", s.job), place.value)
                    .with_related(first_span, "first defined here")
                    .with_help("give each [[scrape]] a distinct job")
                    .with_path(ptr.clone()),
            );
        } else if builtin.contains(&s.job) {
            cx.err(
                Code::DuplicateJob,
                &ptr,
                format!("scrape job `{}` clashes with a built-in job", s.job),
                "rename the job",
            );
        }
        for (n, t) in s.static_targets.iter().enumerate() {
            if !valid_target(t) {
                cx.err(
                    Code::ScrapeTarget,
                    &format!("/scrape/{i}/static_targets/{n}"),
                    format!("target `{t}` is not host:port"),
                    "write host:port, without scheme or path: \"10.0.0.1:9100\"",
                );
            }
        }
        let interval =
            s.scrape_interval.as_ref().map(|v| cx.duration(&format!("/scrape/{i}/scrape_interval"), Some(v), "30s"));
        if let Some(iv) = &interval {
            if iv.millis() < scrape_timeout.millis() {
                cx.err(
                    Code::InvalidValue,
                    &format!("/scrape/{i}/scrape_interval"),
                    format!("scrape_interval {iv} is shorter than the scrape timeout {scrape_timeout}"),
                    "raise it, or lower [prometheus] scrape_timeout",
                );
            }
        }
        scrape.push(ScrapeJob {
            job: s.job.clone(),
            targets: s.static_targets.clone(),
            metrics_path: s.metrics_path.clone().unwrap_or_else(|| "/metrics".into()),
            scheme: match s.scheme {
                Some(super::raw::RawScheme::Https) => "https".into(),
                _ => "http".into(),
            },
            scrape_interval: interval,
            labels: s.labels.clone().unwrap_or_default(),
            sharded: s.sharding.unwrap_or(true),
        });
    }

    if cx.diags.is_empty() {
        Ok(Stack {
            name,
            namespace,
            kubernetes_version,
            labels,
            prometheus: Prometheus {
                image: image(
                    p.image.as_ref(),
                    DEFAULT_PROMETHEUS_IMAGE,
                    p.version.as_ref(),
                    DEFAULT_PROMETHEUS_VERSION,
                    p.image_digest.as_ref(),
                ),
                replicas,
                retention,
                retention_size,
                scrape_interval,
                evaluation_interval,
                scrape_timeout,
                external_labels,
                resources: Resources { cpu, memory, memory_limit, cpu_limit },
                run_as_user,
                fs_group,
                ingestion_rate: p.ingestion_rate,
                config_reloader: {
                    let r = p.config_reloader.as_ref();
                    image(
                        r.and_then(|r| r.image.as_ref()),
                        DEFAULT_CONFIG_RELOADER_IMAGE,
                        r.and_then(|r| r.version.as_ref()),
                        PROMETHEUS_OPERATOR_VERSION,
                        r.and_then(|r| r.image_digest.as_ref()),
                    )
                },
            },
            storage: Storage {
                backend,
                size,
                reclaim_policy,
                component_class: st.and_then(|s| s.component_class.clone()),
                ephemeral_components: st.and_then(|s| s.ephemeral_components).unwrap_or(false),
                claims_size,
            },
            sharding: Sharding { shards, source_labels },
            thanos,
            alertmanager,
            grafana,
            scrape,
            kubernetes,
            network_policies: raw.security.as_ref().and_then(|s| s.network_policies).unwrap_or(true),
            create_namespace: raw.stack.create_namespace.unwrap_or(true),
        })
    } else {
        Err(cx.diags)
    }
}

/// Formats the JSON Schema also checks, repeated here so that the typed model on its
/// own rejects every stack the schema rejects (tests/invalid.rs keeps them in step).
fn formats(cx: &mut Ctx<'_>, raw: &RawStack) {
    let digest = |s: &str| {
        s.strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    };
    let subdomain = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
    };
    let tag = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with(['.', '-'])
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    let bad = |cx: &mut Ctx<'_>, ptr: &str, ok: bool, what: &str| {
        if !ok {
            cx.err(
                Code::InvalidValue,
                ptr,
                format!("`{}` is not {what}", ptr.trim_start_matches('/').replace('/', ".")),
                format!("write {what}"),
            );
        }
    };
    let p = raw.prometheus.as_ref();
    let t = raw.thanos.as_ref();
    // (component, tag, digest) of every image stack.toml can set.
    let reloader = p.and_then(|p| p.config_reloader.as_ref());
    let images = [
        ("prometheus", p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.image_digest.as_deref())),
        (
            "prometheus/config_reloader",
            reloader.and_then(|r| r.version.as_deref()),
            reloader.and_then(|r| r.image_digest.as_deref()),
        ),
        ("thanos", t.and_then(|t| t.version.as_deref()), t.and_then(|t| t.image_digest.as_deref())),
        (
            "alertmanager",
            raw.alertmanager.as_ref().and_then(|a| a.version.as_deref()),
            raw.alertmanager.as_ref().and_then(|a| a.image_digest.as_deref()),
        ),
        (
            "grafana",
            raw.grafana.as_ref().and_then(|g| g.version.as_deref()),
            raw.grafana.as_ref().and_then(|g| g.image_digest.as_deref()),
        ),
    ];
    for (component, version, image_digest) in images {
        if let Some(v) = version {
            bad(cx, &format!("/{component}/version"), tag(v), "an image tag such as v3.5.0");
        }
        if let Some(d) = image_digest {
            bad(
                cx,
                &format!("/{component}/image_digest"),
                digest(d),
                "an image digest: sha256: and 64 lower-case hex digits",
            );
        }
    }
    let st = raw.storage.as_ref();
    let mut names = vec![
        ("/storage/component_class", st.and_then(|s| s.component_class.clone())),
        ("/storage/class/name", st.and_then(|s| s.class.as_ref().map(|c| c.name.clone()))),
        ("/storage/ceph/storage_class", st.and_then(|s| s.ceph.as_ref().and_then(|c| c.storage_class.clone()))),
        ("/storage/ceph/secret", st.and_then(|s| s.ceph.as_ref().and_then(|c| c.secret.clone()))),
        ("/thanos/objstore/credentials_secret", t.and_then(|t| t.objstore.credentials_secret.clone())),
        ("/grafana/admin_secret", raw.grafana.as_ref().and_then(|g| g.admin_secret.clone())),
    ];
    names.retain(|(_, v)| v.is_some());
    for (ptr, v) in names {
        bad(cx, ptr, subdomain(&v.unwrap_or_default()), "a Kubernetes object name (DNS-1123 subdomain)");
    }
    if let Some(l) = st.and_then(|s| s.local.as_ref()) {
        bad(cx, "/storage/local/path", l.path.starts_with('/') && l.path.len() > 1, "an absolute path");
        bad(cx, "/storage/local/nodes", !l.nodes.is_empty(), "a non-empty list of node names");
        if let Some(cp) = &l.component_path {
            bad(cx, "/storage/local/component_path", cp.starts_with('/') && cp.len() > 1, "an absolute path");
        }
        for (i, n) in l.nodes.iter().enumerate() {
            bad(cx, &format!("/storage/local/nodes/{i}"), subdomain(n), "a node name");
        }
    }
    if let Some(n) = st.and_then(|s| s.nfs.as_ref()) {
        bad(cx, "/storage/nfs/path", n.path.starts_with('/'), "an absolute exported path");
        bad(cx, "/storage/nfs/server", !n.server.is_empty() && !n.server.contains(['/', ' ']), "a server address");
    }
    if let Some(i) = st.and_then(|s| s.iscsi.as_ref()) {
        bad(
            cx,
            "/storage/iscsi/iqn",
            i.iqn.starts_with("iqn.") || i.iqn.starts_with("eui."),
            "an iSCSI qualified name (iqn.YYYY-MM.domain:name)",
        );
        bad(cx, "/storage/iscsi/luns", !i.luns.is_empty(), "a non-empty list of LUNs");
        for (k, l) in i.luns.iter().enumerate() {
            bad(cx, &format!("/storage/iscsi/luns/{k}"), (0..=16383).contains(l), "a LUN from 0 to 16383");
        }
        for (k, l) in i.component_luns.iter().flatten().enumerate() {
            bad(cx, &format!("/storage/iscsi/component_luns/{k}"), (0..=16383).contains(l), "a LUN from 0 to 16383");
        }
    }
    if let Some(t) = t {
        range(cx, "/thanos/query/replicas", t.query.as_ref().and_then(|q| q.replicas), 1, 32);
        range(cx, "/thanos/store/replicas", t.store.as_ref().and_then(|q| q.replicas), 1, 32);
        range(cx, "/thanos/compactor/replicas", t.compactor.as_ref().and_then(|q| q.replicas), 0, 1);
    }
    range(cx, "/alertmanager/replicas", raw.alertmanager.as_ref().and_then(|a| a.replicas), 1, 9);
    for (i, s) in raw.scrape.iter().enumerate() {
        let ok = !s.job.is_empty()
            && s.job.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        bad(cx, &format!("/scrape/{i}/job"), ok, "a job name of letters, digits, `_.:-`");
        if let Some(mp) = &s.metrics_path {
            bad(cx, &format!("/scrape/{i}/metrics_path"), mp.starts_with('/'), "a path starting with /");
        }
        for k in s.labels.iter().flat_map(|m| m.keys()) {
            label_name(cx, &format!("/scrape/{i}/labels/{}", crate::source::pointer_escape(k)), k);
        }
    }
    for (i, l) in raw.sharding.iter().flat_map(|s| s.source_labels.iter().flatten()).enumerate() {
        label_name(cx, &format!("/sharding/source_labels/{i}"), l);
    }
}

fn range(cx: &mut Ctx<'_>, ptr: &str, v: Option<u32>, min: u32, max: u32) {
    if let Some(v) = v {
        if v < min || v > max {
            cx.err(
                Code::InvalidValue,
                ptr,
                format!("{v} is outside {min}..={max}"),
                format!("use a value from {min} to {max}"),
            );
        }
    }
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(cx: &mut Ctx<'_>, ptr: &str, name: &str) {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        cx.err_key(
            Code::InvalidValue,
            ptr,
            format!("`{name}` is not a Prometheus label name"),
            "label names match [a-zA-Z_][a-zA-Z0-9_]*",
        );
    }
}

fn dupes(cx: &mut Ctx<'_>, ptr: &str, items: &[String], what: &str) {
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if let Some(f) = first.insert(it, i) {
            let fs = cx.parsed.place(&format!("{ptr}/{f}")).value;
            let place = cx.parsed.place(&format!("{ptr}/{i}"));
            cx.diags.push(
                Diagnostic::error(Code::DuplicateVolume, format!("{what} `{it}` is listed twice"), place.value)
                    .with_related(fs, "first listed here")
                    .with_help(format!("each {what} can back only one Prometheus volume"))
                    .with_path(format!("{ptr}/{i}")),
            );
        }
    }
}

/// An IPv4 or IPv6 address with a prefix length that fits it.
fn valid_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else { return false };
    let Ok(len) = len.parse::<u8>() else { return false };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

/// `host:port` as Prometheus dials it: a DNS name or IPv4 address (letters, digits, `.`,
/// `-`, `_`) or a bracketed IPv6 address, and a port of digits only (`+80` parses as a
/// u16 but is no port); nothing else (`user@`, `?query`, paths).
fn valid_target(t: &str) -> bool {
    let Some((host, port)) = t.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
        None => {
            !host.is_empty()
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                && !host.starts_with(['.', '-'])
        }
    };
    port_ok && host_ok
}

fn objstore(cx: &mut Ctx<'_>, o: &RawObjstore) -> Objstore {
    use super::raw::RawObjstoreKind as K;
    let kind = match o.kind {
        K::S3 => ObjstoreKind::S3,
        K::Gcs => ObjstoreKind::Gcs,
        K::Azure => ObjstoreKind::Azure,
        K::Aliyunoss => ObjstoreKind::AliyunOss,
        K::Cos => ObjstoreKind::Cos,
        K::Swift => ObjstoreKind::Swift,
        K::Filesystem => ObjstoreKind::Filesystem,
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
                cx.err_key(
                    Code::ObjstoreKey,
                    &ptr,
                    format!(
                        "type = \"{}\" does not read `{k}`; Thanos would ignore it or refuse the config",
                        kind_name
                    ),
                    format!("{kind_name} reads: {}", names.join(", ")),
                );
            }
            (Some((_, thanos_key, _)), Some(v)) => {
                // minio-go (S3) takes host[:port] and refuses a URL ("Endpoint url cannot have
                // fully qualified paths"); Azure builds https://<account>.<endpoint> itself.
                let host_only = *k == "endpoint" && matches!(kind, ObjstoreKind::S3 | ObjstoreKind::Azure);
                if let (true, Some(text)) = (host_only, v.as_str()) {
                    if let Some((scheme, rest)) = text.split_once("://") {
                        cx.err(
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
            cx.err_key(
                Code::MissingKey,
                "/thanos/objstore",
                format!("type = \"{}\" needs `{k}` in [thanos.objstore]", kind_name),
                format!("add {k} = \"...\""),
            );
        }
    }
    if o.credentials_secret.is_none() && !kind.credentials_optional() {
        cx.err_key(
            Code::MissingKey,
            "/thanos/objstore",
            format!("type = \"{}\" needs credentials_secret: Thanos has no other way to get its keys", kind_name),
            format!(
                "create a Secret with the keys {} and set credentials_secret to its name",
                kind.secret_keys().join(", ")
            ),
        );
    }
    Objstore { kind, config, prefix: o.prefix.clone(), credentials_secret: o.credentials_secret.clone() }
}
