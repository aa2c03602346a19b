//! The validated model of a stack. Render code accepts only these types, so a stack that
//! failed validation cannot reach it. `validate` turns the raw serde types into them,
//! reporting every problem with the span of the offending key. The model knows nothing
//! of the outputs: what render and diff share about a stack (which shard scrapes a
//! target, which jobs are built in, which volumes each component has, what the chart
//! names things) is here, in `sharding`, `jobs`, `volumes` and `chart`.

pub mod capacity;
pub mod chart;
pub mod date;
pub mod expose;
pub(crate) mod jobs;
pub mod probe;
pub mod raw;
pub mod receivers;
pub mod schema;
pub mod sharding;
pub mod units;
mod validate;
pub mod volumes;

use std::collections::BTreeMap;

pub use jobs::{KubernetesJobs, ScrapeJob};
pub use sharding::{Retired, Sharding};
pub use units::{Bytes, Duration, K8sName, Quantity};
pub use validate::validate;

pub const DEFAULT_PROMETHEUS_IMAGE: &str = "quay.io/prometheus/prometheus";
pub const DEFAULT_PROMETHEUS_VERSION: &str = "v3.5.0";
pub const DEFAULT_THANOS_IMAGE: &str = "quay.io/thanos/thanos";
pub const DEFAULT_THANOS_VERSION: &str = "v0.39.2";
pub const DEFAULT_ALERTMANAGER_IMAGE: &str = "quay.io/prometheus/alertmanager";
pub const DEFAULT_ALERTMANAGER_VERSION: &str = "v0.28.1";
pub const DEFAULT_GRAFANA_IMAGE: &str = "docker.io/grafana/grafana";
/// The Prometheus Operator version kube-prometheus-stack 88.5.3 deploys (its appVersion);
/// the helm-values and operator targets are written for it.
pub const PROMETHEUS_OPERATOR_VERSION: &str = "v0.93.1";
pub const DEFAULT_GRAFANA_VERSION: &str = "12.1.1";
/// The config reloader of the Prometheus Operator, at the operator version above: it
/// watches the mounted config directory and POSTs Prometheus' `/-/reload`.
pub const DEFAULT_CONFIG_RELOADER_IMAGE: &str = "quay.io/prometheus-operator/prometheus-config-reloader";
/// NodeLocal DNSCache's link-local address, allowed by the DNS egress rule by default.
pub const DEFAULT_DNS_ADDRESSES: [&str; 1] = ["169.254.20.10/32"];
/// Namespaces stackgen never creates or labels: they belong to the cluster.
pub fn cluster_owned_namespace(ns: &str) -> bool {
    ns == "default" || ns.starts_with("kube-")
}
pub const DEFAULT_NFS_PROVISIONER_IMAGE: &str = "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2";
/// The Kubernetes minor versions stackgen targets; 1.33 is the oldest (k8s-openapi v1_33).
pub const KUBERNETES_VERSIONS: [&str; 5] = ["1.33", "1.34", "1.35", "1.36", "1.37"];
/// Longest stack name whose derived object names always fit in 63 characters.
pub const MAX_STACK_NAME: usize = 30;
/// Thanos block duration; local retention must hold three of them.
pub const THANOS_MIN_RETENTION_MS: u64 = 6 * 3_600_000;

/// `[prometheus] bytes_per_sample` when unset: the upper end of the 1-2 bytes per sample
/// Prometheus' storage docs give (`stackgen explain plan`).
pub const DEFAULT_BYTES_PER_SAMPLE: f64 = 2.0;

#[derive(Debug, Clone)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    pub digest: Option<String>,
}

impl Image {
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}:{}@{}", self.repository, self.tag, d),
            None => format!("{}:{}", self.repository, self.tag),
        }
    }
    /// Major version from a `vMAJOR.MINOR.PATCH` tag, if it has one.
    pub fn major(&self) -> Option<u32> {
        self.tag.trim_start_matches('v').split('.').next()?.parse().ok()
    }
}

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: K8sName,
    pub namespace: K8sName,
    pub kubernetes_version: String,
    pub labels: BTreeMap<String, String>,
    pub prometheus: Prometheus,
    pub storage: Storage,
    pub sharding: Sharding,
    pub thanos: Option<Thanos>,
    pub alertmanager: Option<Alertmanager>,
    pub grafana: Option<Grafana>,
    pub scrape: Vec<ScrapeJob>,
    /// `[[probe]]`: blackbox_exporter probe jobs; the exporter is rendered when any.
    pub probes: Vec<probe::ProbeSpec>,
    /// `[rules]`: rule files and the built-in self-monitoring.
    pub rules: Rules,
    pub kubernetes: KubernetesJobs,
    /// Default-deny NetworkPolicies plus the flows the stack needs.
    pub network_policies: bool,
    /// `[stack] create_namespace`: false when the namespace is someone else's.
    pub create_namespace: bool,
    /// `[expose.<component>]`, in [`expose::Exposed`] order.
    pub expose: Vec<expose::Expose>,
}

impl Stack {
    /// Prometheus pods in all: shards x replicas.
    pub fn pod_count(&self) -> u32 {
        u32::from(self.sharding.shards) * self.prometheus.replicas
    }
    /// The external label that tells HA replicas apart.
    pub fn replica_label(&self) -> &str {
        self.thanos.as_ref().map_or("prometheus_replica", |t| t.replica_label.as_str())
    }
    /// Whether stackgen emits the Namespace object (with its Pod Security labels): never
    /// for `default` or `kube-*`, nor with `create_namespace = false`.
    pub fn owns_namespace(&self) -> bool {
        self.create_namespace && !cluster_owned_namespace(self.namespace.as_str())
    }
    /// How `component` is exposed, if it is.
    pub fn exposed(&self, component: expose::Exposed) -> Option<&expose::Expose> {
        self.expose.iter().find(|e| e.component == component)
    }
}

#[derive(Debug, Clone)]
pub struct Prometheus {
    pub image: Image,
    pub replicas: u32,
    pub retention: Duration,
    pub retention_size: Option<Bytes>,
    pub scrape_interval: Duration,
    pub evaluation_interval: Duration,
    pub scrape_timeout: Duration,
    pub external_labels: BTreeMap<String, String>,
    pub resources: Resources,
    /// `resources = "auto"`: the plan chose them.
    pub resources_auto: bool,
    pub run_as_user: i64,
    pub fs_group: i64,
    pub ingestion_rate: Option<u64>,
    /// `[prometheus] active_series`: total active series, for `plan`.
    pub active_series: Option<u64>,
    /// `[prometheus] bytes_per_sample` (2): bytes per sample in a block, for `plan`.
    pub bytes_per_sample: f64,
    /// The config-reloader sidecar's image.
    pub config_reloader: Image,
}

#[derive(Debug, Clone)]
pub struct Resources {
    pub cpu: Quantity,
    pub memory: Quantity,
    pub memory_limit: Quantity,
    pub cpu_limit: Option<Quantity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReclaimPolicy {
    Retain,
    Delete,
}

impl ReclaimPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ReclaimPolicy::Retain => "Retain",
            ReclaimPolicy::Delete => "Delete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub backend: Backend,
    /// Size of each Prometheus volume; for ephemeral, the emptyDir size limit if given.
    pub size: Option<Bytes>,
    /// `size = "auto"`: the plan chose it.
    pub size_auto: bool,
    pub reclaim_policy: ReclaimPolicy,
    /// Class for Alertmanager, Grafana, Store Gateway and Compactor volumes when the
    /// Prometheus backend is static.
    pub component_class: Option<String>,
    /// `[storage] ephemeral_components`: Alertmanager, Grafana, Store Gateway and
    /// Compactor use emptyDir on purpose.
    pub ephemeral_components: bool,
    /// `[storage] claims_size`: the size existing Prometheus claims still have while
    /// `size` grows; `retention_size = "auto"` follows the smaller of the two.
    pub claims_size: Option<Bytes>,
}

impl Storage {
    /// The size the Prometheus claims have now: `size`, or `claims_size` while the
    /// claims wait to be resized to a larger `size`.
    pub fn existing_size(&self) -> Option<Bytes> {
        match (self.size, self.claims_size) {
            (Some(s), Some(c)) => Some(s.min(c)),
            (s, _) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Backend {
    /// Static local PVs, one per node, pinned by nodeAffinity.
    /// `component_path`: a local PV per component pod under it, on the same nodes.
    Local { path: String, nodes: Vec<String>, component_path: Option<String> },
    /// Static NFS PVs, one directory per pod under `path`.
    Nfs { server: String, path: String },
    /// The NFS subdir external provisioner and its StorageClass.
    NfsProvisioner { server: String, path: String, image: String },
    /// Static iSCSI PVs, one per LUN.
    /// `component_luns`: one LUN per component pod.
    Iscsi { target_portal: String, iqn: String, luns: Vec<i32>, fs_type: String, component_luns: Vec<i32> },
    /// Claims on an existing Ceph class (Rook).
    CephClass { class: String },
    /// A ceph-csi RBD StorageClass defined by stackgen.
    CephCsi {
        class: String,
        provisioner: String,
        cluster_id: String,
        pool: String,
        secret: String,
        secret_namespace: String,
    },
    /// Claims on any existing class.
    Class { name: String },
    /// emptyDir: development only.
    Ephemeral,
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Local { .. } => "local",
            Backend::Nfs { .. } | Backend::NfsProvisioner { .. } => "nfs",
            Backend::Iscsi { .. } => "iscsi",
            Backend::CephClass { .. } | Backend::CephCsi { .. } => "ceph",
            Backend::Class { .. } => "class",
            Backend::Ephemeral => "ephemeral",
        }
    }
    /// Backends whose PVs stackgen writes itself, bound one-to-one by selector.
    pub fn is_static(&self) -> bool {
        matches!(self, Backend::Local { .. } | Backend::Nfs { .. } | Backend::Iscsi { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjstoreKind {
    S3,
    Gcs,
    Azure,
    AliyunOss,
    Cos,
    Swift,
    Filesystem,
}

impl ObjstoreKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "s3" => Self::S3,
            "gcs" => Self::Gcs,
            "azure" => Self::Azure,
            "aliyunoss" => Self::AliyunOss,
            "cos" => Self::Cos,
            "swift" => Self::Swift,
            "filesystem" => Self::Filesystem,
            _ => return None,
        })
    }
    /// The `type` as Thanos spells it (it upper-cases before matching).
    pub fn thanos_type(self) -> &'static str {
        match self {
            Self::S3 => "S3",
            Self::Gcs => "GCS",
            Self::Azure => "AZURE",
            Self::AliyunOss => "ALIYUNOSS",
            Self::Cos => "COS",
            Self::Swift => "SWIFT",
            Self::Filesystem => "FILESYSTEM",
        }
    }
    /// The non-secret keys of stack.toml's [thanos.objstore] this provider reads, as
    /// (stack.toml key, Thanos config key, required).
    pub fn plain_keys(self) -> &'static [(&'static str, &'static str, bool)] {
        match self {
            Self::S3 => &[
                ("bucket", "bucket", true),
                ("endpoint", "endpoint", true),
                ("region", "region", false),
                ("insecure", "insecure", false),
                ("signature_version2", "signature_version2", false),
            ],
            Self::Gcs => &[("bucket", "bucket", true)],
            Self::Azure => &[
                ("storage_account", "storage_account", true),
                ("container", "container", true),
                ("endpoint", "endpoint", false),
            ],
            Self::AliyunOss => &[("endpoint", "endpoint", true), ("bucket", "bucket", true)],
            Self::Cos => &[
                ("bucket", "bucket", true),
                ("region", "region", true),
                ("app_id", "app_id", true),
                ("endpoint", "endpoint", false),
            ],
            Self::Swift => &[
                ("auth_url", "auth_url", true),
                ("username", "username", true),
                ("project_name", "project_name", false),
                ("region_name", "region_name", false),
                ("container_name", "container_name", true),
            ],
            Self::Filesystem => &[("directory", "directory", true)],
        }
    }
    /// Credential keys of the Thanos config, each filled from the same-named key of
    /// `credentials_secret` through an environment variable (Thanos substitutes `$(VAR)`
    /// in objstore config files since v0.22). GCS takes a mounted key file instead.
    pub fn secret_keys(self) -> &'static [&'static str] {
        match self {
            Self::S3 => &["access_key", "secret_key"],
            Self::Gcs | Self::Filesystem => &[],
            Self::Azure => &["storage_account_key"],
            Self::AliyunOss => &["access_key_id", "access_key_secret"],
            Self::Cos => &["secret_id", "secret_key"],
            Self::Swift => &["password"],
        }
    }
    /// Whether Thanos can run without credentials_secret (cloud identity chains).
    pub fn credentials_optional(self) -> bool {
        matches!(self, Self::S3 | Self::Gcs | Self::Azure | Self::Filesystem)
    }
}

#[derive(Debug, Clone)]
pub struct Objstore {
    pub kind: ObjstoreKind,
    /// Non-secret config keys in Thanos' spelling, in a fixed order.
    pub config: Vec<(&'static str, serde_json::Value)>,
    pub prefix: Option<String>,
    pub credentials_secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Thanos {
    pub image: Image,
    pub replica_label: String,
    pub objstore: Objstore,
    pub query_replicas: u32,
    pub store_replicas: u32,
    pub store_size: Bytes,
    /// `[thanos.query] resources`, per Query pod.
    pub query_resources: Resources,
    /// `[thanos.store] resources`, per Store Gateway pod (SG147 holds the memory limit
    /// against the chunk pool and index cache).
    pub store_resources: Resources,
    pub compactor: Compactor,
}

#[derive(Debug, Clone)]
pub struct Compactor {
    pub retention_raw: Duration,
    pub retention_5m: Duration,
    pub retention_1h: Duration,
    pub size: Bytes,
    /// `[thanos.compactor] resources`.
    pub resources: Resources,
}

#[derive(Debug, Clone)]
pub struct Alertmanager {
    pub image: Image,
    pub replicas: u32,
    pub size: Bytes,
    /// `[[alertmanager.receivers]]`; empty: the route ends at a receiver that notifies
    /// nobody (lint SG155).
    pub receivers: Vec<receivers::Receiver>,
    /// `[alertmanager.route]`, with its defaults; `None` without receivers.
    pub route: Option<receivers::Route>,
    /// `[alertmanager] resources`, per pod.
    pub resources: Resources,
}

#[derive(Debug, Clone)]
pub struct Grafana {
    pub image: Image,
    pub size: Bytes,
    pub admin_secret: Option<String>,
    /// `[grafana] egress`: SMTP relays, SSO providers ... beyond the stack.
    pub egress: Vec<expose::Egress>,
    /// `[grafana] resources`.
    pub resources: Resources,
}

/// `[rules]`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// `files` as written: globs relative to stack.toml.
    pub patterns: Vec<String>,
    /// The files the patterns match, sorted by path, each once, with their text: read by
    /// [`crate::check`] (the model is built from stack.toml alone).
    pub files: Vec<RuleFile>,
    /// `self_monitoring` (true): scrape every component of the stack once and load the
    /// built-in alerts.
    pub self_monitoring: bool,
}

/// A rule file of `[rules] files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// Its path relative to stack.toml's directory, `/`-separated (`rules/api.yaml`).
    pub path: String,
    /// Its name: the key in the rules ConfigMap and the file Prometheus reads.
    pub name: String,
    pub text: String,
}
