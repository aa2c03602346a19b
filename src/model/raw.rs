//! The raw shape of stack.toml, exactly as written: every key optional where the
//! contract gives a default, unknown keys rejected. These types read what the JSON
//! Schema (`schemas/stack.schema.json`) accepts, no more and no less: the schema is the
//! one description of the shape (with the formats and ranges), and the drift test in
//! `model::schema::shape` fails when a key, a type, an enum word or a required key here
//! differs from it.

use std::collections::BTreeMap;

use serde::Deserialize;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    pub stack: RawMeta,
    pub prometheus: Option<RawPrometheus>,
    pub storage: Option<RawStorage>,
    pub sharding: Option<RawSharding>,
    pub thanos: Option<RawThanos>,
    pub alertmanager: Option<RawAlertmanager>,
    pub grafana: Option<RawGrafana>,
    #[serde(default)]
    pub scrape: Vec<RawScrape>,
    #[serde(default)]
    pub probe: Vec<RawProbe>,
    pub rules: Option<RawRules>,
    pub kubernetes: Option<RawKubernetes>,
    pub security: Option<RawSecurity>,
    pub expose: Option<RawExposeAll>,
    pub lint: Option<RawLint>,
}

/// `[lint]`: read by `lint::suppress` from the parsed document (so it applies even when the
/// rest of the stack is invalid); here only so that the shape is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLint {
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    pub network_policies: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub kubernetes_version: Option<String>,
    pub labels: Option<Labels>,
    pub create_namespace: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    pub version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub replicas: Option<u32>,
    pub retention: Option<String>,
    pub retention_size: Option<String>,
    pub scrape_interval: Option<String>,
    pub evaluation_interval: Option<String>,
    pub scrape_timeout: Option<String>,
    pub external_labels: Option<Labels>,
    pub resources: Option<RawResourcesSetting>,
    pub run_as_user: Option<i64>,
    pub fs_group: Option<i64>,
    pub ingestion_rate: Option<u64>,
    pub active_series: Option<u64>,
    pub bytes_per_sample: Option<f64>,
    pub config_reloader: Option<RawImage>,
}

/// An image stackgen runs beside a component, with the usual three keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    pub version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
}

/// `[prometheus] resources`: `"auto"` (the plan chooses) or a table.
#[derive(Debug)]
pub enum RawResourcesSetting {
    Auto,
    Set(RawResources),
}

impl<'de> Deserialize<'de> for RawResourcesSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawResourcesSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"auto\" or a table of resources")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                if s == "auto" {
                    Ok(RawResourcesSetting::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(s), &self))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                RawResources::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(RawResourcesSetting::Set)
            }
        }
        // Either shape: the drift test traces the string and the table separately.
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub memory_limit: Option<String>,
    pub cpu_limit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub backend: RawBackend,
    pub size: Option<String>,
    pub reclaim_policy: Option<RawReclaim>,
    pub component_class: Option<String>,
    pub ephemeral_components: Option<bool>,
    pub claims_size: Option<String>,
    pub local: Option<RawLocal>,
    pub nfs: Option<RawNfs>,
    pub iscsi: Option<RawIscsi>,
    pub ceph: Option<RawCeph>,
    pub class: Option<RawClass>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    pub path: String,
    pub nodes: Vec<String>,
    pub component_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNfs {
    pub server: String,
    pub path: String,
    pub provisioner: Option<bool>,
    pub provisioner_image: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIscsi {
    pub target_portal: String,
    pub iqn: String,
    pub luns: Vec<i32>,
    pub fs_type: Option<RawFsType>,
    pub component_luns: Option<Vec<i32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCeph {
    pub storage_class: Option<String>,
    pub cluster_id: Option<String>,
    pub pool: Option<String>,
    pub secret: Option<String>,
    pub secret_namespace: Option<String>,
    pub provisioner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSharding {
    pub shards: Option<u32>,
    pub source_labels: Option<Vec<String>>,
    pub retired: Option<RawRetired>,
}

/// `[sharding] retired = { shards = N, since = "YYYY-MM-DD" }`: the shards a shrink keeps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetired {
    pub shards: u32,
    pub since: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThanos {
    pub version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub replica_label: Option<String>,
    pub objstore: RawObjstore,
    pub query: Option<RawQuery>,
    pub store: Option<RawStore>,
    pub compactor: Option<RawCompactor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObjstore {
    #[serde(rename = "type")]
    pub kind: RawObjstoreKind,
    pub credentials_secret: Option<String>,
    pub replica_label: Option<String>,
    pub prefix: Option<String>,
    pub bucket: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub insecure: Option<bool>,
    pub signature_version2: Option<bool>,
    pub storage_account: Option<String>,
    pub container: Option<String>,
    pub app_id: Option<String>,
    pub auth_url: Option<String>,
    pub username: Option<String>,
    pub project_name: Option<String>,
    pub region_name: Option<String>,
    pub container_name: Option<String>,
    pub directory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuery {
    pub replicas: Option<u32>,
    pub resources: Option<RawResources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub replicas: Option<u32>,
    pub storage_size: Option<String>,
    pub resources: Option<RawResources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCompactor {
    pub retention_raw: Option<String>,
    pub retention_5m: Option<String>,
    pub retention_1h: Option<String>,
    pub storage_size: Option<String>,
    pub replicas: Option<u32>,
    pub resources: Option<RawResources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrafana {
    pub version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub storage_size: Option<String>,
    pub admin_secret: Option<String>,
    pub egress: Option<Vec<String>>,
    pub resources: Option<RawResources>,
}

/// `[alertmanager]`: the component keys plus receivers and the route tree.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertmanager {
    pub version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub replicas: Option<u32>,
    pub storage_size: Option<String>,
    pub receivers: Option<Vec<RawReceiver>>,
    pub route: Option<RawRoute>,
    pub resources: Option<RawResources>,
}

/// `[[alertmanager.receivers]]`: every key of every type; validation refuses a key the
/// type does not read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReceiver {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RawReceiverKind,
    pub secret: Option<String>,
    pub send_resolved: Option<bool>,
    pub channel: Option<String>,
    pub api: Option<RawPagerDutyApi>,
    pub severity: Option<RawPagerDutySeverity>,
    pub to: Option<String>,
    pub from: Option<String>,
    pub smarthost: Option<String>,
    pub auth_username: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawReceiverKind {
    Webhook,
    Slack,
    Pagerduty,
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawPagerDutyApi {
    EventsV2,
    EventsV1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawPagerDutySeverity {
    Critical,
    Error,
    Warning,
    Info,
}

/// `[alertmanager.route]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub receiver: Option<String>,
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<String>,
    pub group_interval: Option<String>,
    pub repeat_interval: Option<String>,
    pub routes: Option<Vec<RawChildRoute>>,
}

/// `[[alertmanager.route.routes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChildRoute {
    pub receiver: String,
    pub matchers: Option<Vec<String>>,
    #[serde(rename = "continue")]
    pub continue_: Option<bool>,
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<String>,
    pub group_interval: Option<String>,
    pub repeat_interval: Option<String>,
}

/// `[expose]`: one table per component that can be reached from outside.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExposeAll {
    pub grafana: Option<RawExpose>,
    pub prometheus: Option<RawExpose>,
    pub query: Option<RawExpose>,
    pub alertmanager: Option<RawExpose>,
}

/// `[expose.<component>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpose {
    #[serde(rename = "type")]
    pub kind: RawExposeKind,
    pub node_port: Option<i32>,
    pub host: Option<String>,
    pub ingress_class: Option<String>,
    pub tls_secret: Option<String>,
    pub controller_namespace: Option<String>,
    pub from: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawExposeKind {
    Nodeport,
    Loadbalancer,
    Ingress,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScrape {
    pub job: String,
    pub static_targets: Vec<String>,
    pub metrics_path: Option<String>,
    pub scheme: Option<RawScheme>,
    pub scrape_interval: Option<String>,
    pub labels: Option<Labels>,
    pub sharding: Option<bool>,
}

/// `[[probe]]`: a blackbox_exporter probe job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub job: Option<String>,
    pub module: Option<String>,
    pub query_name: Option<String>,
    pub targets: Vec<String>,
    pub interval: Option<String>,
}

/// `[rules]`: rule files and the built-in self-monitoring.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub files: Option<Vec<String>>,
    pub self_monitoring: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    pub discovery: Option<bool>,
    pub cluster_domain: Option<String>,
    pub control_plane: Option<bool>,
    pub dns_addresses: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawBackend {
    Local,
    Nfs,
    Iscsi,
    Ceph,
    Class,
    Ephemeral,
}

impl RawBackend {
    pub const ALL: [RawBackend; 6] = [Self::Local, Self::Nfs, Self::Iscsi, Self::Ceph, Self::Class, Self::Ephemeral];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Nfs => "nfs",
            Self::Iscsi => "iscsi",
            Self::Ceph => "ceph",
            Self::Class => "class",
            Self::Ephemeral => "ephemeral",
        }
    }
}

impl std::fmt::Display for RawBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RawBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown backend `{s}`; one of {}", Self::ALL.map(Self::as_str).join(", ")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RawReclaim {
    Retain,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawFsType {
    Ext4,
    Xfs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawScheme {
    Http,
    Https,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawObjstoreKind {
    S3,
    Gcs,
    Azure,
    Aliyunoss,
    Cos,
    Swift,
    Filesystem,
}
