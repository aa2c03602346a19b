//! Prometheus: RBAC for Kubernetes discovery, and per shard a ConfigMap with its
//! prometheus.yml, a headless Service and a StatefulSet. Sharding follows the Prometheus
//! Operator exactly (promcfg.go `appendShardingRelabelingWithLabel`): hash the source
//! labels into `__tmp_hash` unless already set, `hashmod` by the shard count, keep this
//! shard, and keep every target labelled `__tmp_disable_sharding` on every shard.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};

use super::k8s::{self, meta};
use super::pod::{
    pdb, spread, tsdb_mount, zone_spread, PROMETHEUS_PORT, RELOADER_PORT, THANOS_GRPC_PORT, THANOS_HTTP_PORT,
};
use super::{storage, thanos, yaml, Names, Object};
use crate::alerting::blackbox::BLACKBOX_EXPORTER_PORT;
use crate::alerting::{self, blackbox};
use crate::model::Stack;

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

pub(crate) fn sharding_relabels(stack: &Stack, shard: &str) -> Vec<Value> {
    let mut src: Vec<Value> = stack.sharding.source_labels.iter().map(|l| json!(l)).collect();
    src.push(json!("__tmp_hash"));
    vec![
        json!({"source_labels": src, "target_label": "__tmp_hash", "regex": "(.+);", "replacement": "$1", "action": "replace"}),
        json!({"source_labels": ["__tmp_hash"], "target_label": "__tmp_hash", "modulus": stack.sharding.shards, "action": "hashmod"}),
        json!({"source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": format!("{shard};|.+;.+"), "action": "keep"}),
    ]
}

fn sd(role: &str, namespaces: Option<&[&str]>) -> Value {
    let mut v = json!({"role": role});
    if let Some(ns) = namespaces {
        v["namespaces"] = json!({"names": ns});
    }
    json!([v])
}

fn in_cluster_tls(insecure: bool) -> Value {
    let mut v = json!({"ca_file": format!("{SA_DIR}/ca.crt")});
    if insecure {
        // Kubelet and control-plane serving certificates are often self-signed.
        v["insecure_skip_verify"] = json!(true);
    }
    v
}

fn bearer() -> Value {
    json!({"type": "Bearer", "credentials_file": format!("{SA_DIR}/token")})
}

/// The prometheus.yml of one shard, as a JSON value (emitted through yaml.rs). `shard` is
/// the shard's number or a template sentinel; it is unused without sharding.
pub fn config(n: &Names<'_>, shard: &str) -> Value {
    let s = n.stack;
    let p = &s.prometheus;
    let mut external = serde_json::Map::new();
    for (k, v) in &p.external_labels {
        external.insert(k.clone(), json!(v));
    }
    // Retired shards count: shrinking to one shard keeps shard 0's label while they last.
    let labelled = s.sharding.kept() > 1;
    if labelled {
        // Distinct external labels per shard keep Thanos block groups apart: the Compactor
        // groups blocks by external labels, and shards with equal labels would be merged.
        external.insert("shard".into(), json!(shard));
    }
    // Expanded by Prometheus 3 from the Downward API (2.x needs expand-external-labels).
    external.insert(s.replica_label().to_string(), json!("${POD_NAME}"));
    let mut global = json!({
        "scrape_interval": p.scrape_interval.as_str(),
        "scrape_timeout": p.scrape_timeout.as_str(),
        "evaluation_interval": p.evaluation_interval.as_str(),
        "external_labels": external,
    });
    let _ = &mut global;
    let mut jobs = Vec::new();
    if s.rules.self_monitoring {
        jobs.extend(self_monitoring_jobs(n, shard));
    } else {
        // Each Prometheus scrapes itself; opted out of sharding so every shard does.
        jobs.push(json!({
            "job_name": "prometheus",
            "static_configs": [{"targets": [format!("localhost:{PROMETHEUS_PORT}")], "labels": {"__tmp_disable_sharding": "true"}}],
        }));
    }
    if s.kubernetes.discovery {
        jobs.push(json!({
            "job_name": "kubernetes-apiservers",
            "scheme": "https",
            "authorization": bearer(),
            "tls_config": in_cluster_tls(false),
            "kubernetes_sd_configs": sd("endpointslice", Some(&["default"])),
            "relabel_configs": [{
                "source_labels": ["__meta_kubernetes_namespace", "__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                "regex": "default;kubernetes;https", "action": "keep"
            }],
        }));
        for (job, path) in [("kubernetes-nodes", "/metrics"), ("kubernetes-cadvisor", "/metrics/cadvisor")] {
            jobs.push(json!({
                "job_name": job,
                "scheme": "https",
                "metrics_path": path,
                "authorization": bearer(),
                "tls_config": in_cluster_tls(true),
                "kubernetes_sd_configs": sd("node", None),
                "relabel_configs": [{"regex": "__meta_kubernetes_node_label_(.+)", "action": "labelmap"}],
            }));
        }
        jobs.push(json!({
            "job_name": "kubernetes-pods",
            "kubernetes_sd_configs": sd("pod", None),
            "relabel_configs": annotated_relabels("pod"),
        }));
        jobs.push(json!({
            "job_name": "kubernetes-service-endpoints",
            "kubernetes_sd_configs": sd("endpointslice", None),
            "relabel_configs": annotated_relabels("service"),
        }));
    }
    if s.kubernetes.control_plane {
        for (job, component, port, scheme) in [
            ("kube-etcd", "etcd", 2381, "http"),
            ("kube-scheduler", "kube-scheduler", 10259, "https"),
            ("kube-controller-manager", "kube-controller-manager", 10257, "https"),
        ] {
            let mut j = json!({
                "job_name": job,
                "scheme": scheme,
                "kubernetes_sd_configs": sd("pod", Some(&["kube-system"])),
                "relabel_configs": [
                    {"source_labels": ["__meta_kubernetes_pod_label_component"], "regex": component, "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_pod_ip"], "regex": "(.+)", "replacement": format!("$1:{port}"), "target_label": "__address__", "action": "replace"},
                    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node", "action": "replace"},
                ],
            });
            if scheme == "https" {
                j["authorization"] = bearer();
                j["tls_config"] = in_cluster_tls(true);
            }
            jobs.push(j);
        }
    }
    if let Some(am) = &s.alertmanager {
        jobs.push(json!({
            "job_name": "alertmanager",
            "static_configs": [{"targets": alertmanager_targets(n, am.replicas)}],
        }));
    }
    jobs.extend(s.scrape.iter().map(static_job));
    if s.sharding.shards > 1 {
        for job in &mut jobs {
            let rc = job.as_object_mut().expect("job is a map").entry("relabel_configs").or_insert_with(|| json!([]));
            rc.as_array_mut().expect("relabel_configs is a list").extend(sharding_relabels(s, shard));
        }
    }
    // Probe jobs shard on the probed target (`__param_target`), not on the exporter's
    // address, which is the same for all of them: the operator's rules for Probes.
    let sharding = (s.sharding.shards > 1)
        .then(|| blackbox::ProbeSharding { shards: u32::from(s.sharding.shards), shard: shard.to_string() });
    let exporter = format!("{}:{BLACKBOX_EXPORTER_PORT}", n.svc_fqdn(&n.obj("blackbox-exporter")));
    jobs.extend(s.probes.iter().map(|p| blackbox::probe_job(p, &exporter, sharding.as_ref())));
    let mut cfg = json!({"global": global});
    if let Some(am) = &s.alertmanager {
        let mut drop = vec![s.replica_label().to_string()];
        if labelled {
            drop.push("shard".into());
        }
        cfg["alerting"] = json!({
            // HA replicas send the same alert; without the replica label they dedupe.
            "alert_relabel_configs": [{"regex": format!("^({})$", drop.join("|")), "action": "labeldrop"}],
            "alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": alertmanager_targets(n, am.replicas)}]}],
        });
    }
    let rule_files = alerting::stack::rule_file_names(s);
    if !rule_files.is_empty() {
        cfg["rule_files"] = rule_files.iter().map(|name| format!("{RULES_DIR}/{name}")).collect();
    }
    cfg["scrape_configs"] = Value::Array(jobs);
    cfg
}

/// The `/federate` selector of the `prometheus-shards` job: a metric that never exists,
/// so the scrape stores nothing but `up` and its own series.
pub const SHARDS_LIVENESS_MATCH: &str = "{__name__=\"stackgen_shard_liveness_only\"}";

/// Where every shard mounts the rules ConfigMap (the reloader watches it too).
pub const RULES_DIR: &str = "/etc/prometheus/rules";
/// Where every shard mounts the list of all shards' pods (`prometheus-shards` job).
pub const SHARDS_DIR: &str = "/etc/prometheus/shards";
pub const SHARDS_FILE: &str = "shards.yaml";

/// Whether the shards watch each other (`prometheus-shards`, file_sd): with more than one
/// Prometheus shard kept, retired ones included (they still serve their data, and their
/// pods, built as before the shrink, mount the list).
fn shards_watch(s: &Stack) -> bool {
    s.rules.self_monitoring && s.sharding.kept() > 1
}

/// The file_sd list of every shard's pods, labelled with their shard.
fn shards_file(n: &Names<'_>) -> String {
    let s = n.stack;
    let groups: Vec<Value> = (0..s.sharding.kept())
        .map(|i| {
            let name = n.shard(&i.to_string());
            let targets: Vec<String> = (0..s.prometheus.replicas)
                .map(|r| format!("{name}-{r}.{}:{PROMETHEUS_PORT}", n.svc_fqdn(&name)))
                .collect();
            json!({"targets": targets, "labels": {"prometheus_shard": i.to_string()}})
        })
        .collect();
    yaml::to_string(&Value::Array(groups))
}

/// The self-monitoring jobs of one shard's config (`[rules] self_monitoring`): every
/// component of the stack scraped by exactly one shard.
/// - `prometheus` and `thanos-sidecar`: the pods of this shard, by this shard (kept on it
///   with `__tmp_disable_sharding`: the shard's own pods are its to watch);
/// - `prometheus-shards` (sharded stacks): every shard's pods by every shard, on purpose,
///   so that a shard whose every replica is down is still seen by the others
///   (PrometheusShardMissing). It scrapes an empty `/federate` (a selector that matches
///   nothing): nothing but `up` and the scrape's own series is stored, labelled
///   `prometheus_shard`;
/// - Query and the blackbox exporter (Deployments) through DNS A records of their headless
///   Services, Store, Compactor and Alertmanager by their pods' names, Grafana by its
///   Service (one pod): hashed like any target, so exactly one shard keeps each.
fn self_monitoring_jobs(n: &Names<'_>, shard: &str) -> Vec<Value> {
    use alerting::stack as job;
    let s = n.stack;
    let own = n.shard(shard);
    let pods = |svc: &str, count: u32, port: i32| -> Vec<String> {
        (0..count).map(|i| format!("{svc}-{i}.{}:{port}", n.svc_fqdn(svc))).collect()
    };
    let own_pods = |port: i32| -> Vec<String> {
        (0..s.prometheus.replicas).map(|r| format!("{own}-{r}.{}:{port}", n.svc_fqdn(&own))).collect()
    };
    let pinned = json!({"__tmp_disable_sharding": "true"});
    let mut jobs = vec![json!({
        "job_name": job::PROMETHEUS_JOB,
        "static_configs": [{"targets": own_pods(PROMETHEUS_PORT), "labels": pinned}],
    })];
    if shards_watch(s) {
        // The list of every shard's pods is one file for all shards (file_sd, which
        // Prometheus watches itself), not repeated in each shard's config.
        jobs.push(json!({
            "job_name": job::SHARDS_JOB,
            "metrics_path": "/federate",
            "params": {"match[]": [SHARDS_LIVENESS_MATCH]},
            "file_sd_configs": [{"files": [format!("{SHARDS_DIR}/{SHARDS_FILE}")]}],
            "relabel_configs": [{"target_label": "__tmp_disable_sharding", "replacement": "true", "action": "replace"}],
        }));
    }
    if let Some(t) = &s.thanos {
        jobs.push(json!({
            "job_name": job::SIDECAR_JOB,
            "static_configs": [{"targets": own_pods(THANOS_HTTP_PORT), "labels": pinned}],
        }));
        jobs.push(json!({
            "job_name": job::QUERY_JOB,
            "dns_sd_configs": [{"names": [n.svc_fqdn(&n.obj("thanos-query-pods"))], "type": "A", "port": THANOS_HTTP_PORT}],
        }));
        jobs.push(json!({
            "job_name": job::STORE_JOB,
            "static_configs": [{"targets": pods(&n.obj("thanos-store"), t.store_replicas, THANOS_HTTP_PORT)}],
        }));
        jobs.push(json!({
            "job_name": job::COMPACTOR_JOB,
            "static_configs": [{"targets": pods(&n.obj("thanos-compactor"), 1, THANOS_HTTP_PORT)}],
        }));
    }
    if s.grafana.is_some() {
        jobs.push(json!({
            "job_name": job::GRAFANA_JOB,
            "static_configs": [{"targets": [format!("{}:3000", n.svc_fqdn(&n.obj("grafana")))]}],
        }));
    }
    if !s.probes.is_empty() {
        jobs.push(json!({
            "job_name": job::BLACKBOX_JOB,
            "dns_sd_configs": [{"names": [n.svc_fqdn(&n.obj("blackbox-exporter"))], "type": "A", "port": BLACKBOX_EXPORTER_PORT}],
        }));
    }
    jobs
}

/// A `[[scrape]]` job with static targets; `sharding = false` labels its targets
/// `__tmp_disable_sharding`, which the sharding relabels keep on every shard.
pub fn static_job(j: &crate::model::ScrapeJob) -> Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in &j.labels {
        labels.insert(k.clone(), json!(v));
    }
    if !j.sharded {
        labels.insert("__tmp_disable_sharding".into(), json!("true"));
    }
    let mut sc = json!({"targets": j.targets});
    if !labels.is_empty() {
        sc["labels"] = Value::Object(labels);
    }
    let mut job = json!({"job_name": j.job, "scheme": j.scheme, "metrics_path": j.metrics_path});
    if let Some(iv) = &j.scrape_interval {
        job["scrape_interval"] = json!(iv.as_str());
    }
    job["static_configs"] = json!([sc]);
    job
}

/// Each Alertmanager pod by its stable DNS name: Prometheus must send to all of them.
fn alertmanager_targets(n: &Names<'_>, replicas: u32) -> Vec<String> {
    let svc = n.obj("alertmanager");
    (0..replicas).map(|i| format!("{svc}-{i}.{}:9093", n.svc_fqdn(&svc))).collect()
}

/// The prometheus.io/scrape annotation convention, for pods or services.
fn annotated_relabels(what: &str) -> Value {
    let a = format!("__meta_kubernetes_{what}_annotation");
    let mut v = vec![
        json!({"source_labels": [format!("{a}_prometheus_io_scrape")], "regex": "true", "action": "keep"}),
        json!({"source_labels": [format!("{a}_prometheus_io_scheme")], "regex": "(https?)", "target_label": "__scheme__", "action": "replace"}),
        json!({"source_labels": [format!("{a}_prometheus_io_path")], "regex": "(.+)", "target_label": "__metrics_path__", "action": "replace"}),
        json!({"source_labels": ["__address__", format!("{a}_prometheus_io_port")], "regex": "([^:]+)(?::\\d+)?;(\\d+)", "replacement": "$1:$2", "target_label": "__address__", "action": "replace"}),
        json!({"regex": format!("__meta_kubernetes_{what}_label_(.+)"), "action": "labelmap"}),
        json!({"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"}),
    ];
    if what == "pod" {
        v.push(json!({"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod", "action": "replace"}));
        // Pods that are not running have no target worth scraping.
        v.push(json!({"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Succeeded|Failed|Completed", "action": "drop"}));
    } else {
        v.push(json!({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service", "action": "replace"}));
    }
    Value::Array(v)
}

pub fn config_yaml(n: &Names<'_>, shard: u16) -> String {
    yaml::to_string(&config(n, &shard.to_string()))
}

pub fn objects(n: &Names<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    let ns = n.ns();
    let rule_files = alerting::stack::rule_files(s);
    if shards_watch(s) {
        out.push(k8s::config_map(
            &n.obj("prometheus-shards"),
            &ns,
            n.labels("prometheus", "shards", None),
            BTreeMap::from([(SHARDS_FILE.to_string(), shards_file(n))]),
        ));
    }
    if !rule_files.is_empty() {
        // One ConfigMap for every shard: the stack's rule files and the built-in one. A
        // changed file changes this object (diff shows it) and the reloaders of every
        // shard apply it in place.
        out.push(k8s::config_map(
            &n.obj("prometheus-rules"),
            &ns,
            n.labels("prometheus", "rules", None),
            rule_files.into_iter().collect(),
        ));
    }
    let sa = n.obj("prometheus");
    let needs_api = s.kubernetes.discovery || s.kubernetes.control_plane;
    let labels = n.labels("prometheus", "server", None);
    out.push(k8s::service_account(&sa, &ns, labels.clone(), needs_api));
    if needs_api {
        let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let cr = n.cluster("prometheus");
        let needs = api_needs(&config(n, "0"));
        let core: Vec<&str> = needs.core.iter().map(String::as_str).collect();
        let mut rules = vec![rule(&[""], &core, &["get", "list", "watch"])];
        if needs.endpointslices {
            rules.push(rule(&["discovery.k8s.io"], &["endpointslices"], &["get", "list", "watch"]));
        }
        if needs.node_metrics {
            rules.push(rule(&[""], &["nodes/metrics"], &["get"]));
        }
        if needs.metrics_url {
            rules.push(PolicyRule {
                non_resource_urls: Some(vec!["/metrics".into()]),
                verbs: vec!["get".into()],
                ..Default::default()
            });
        }
        out.push(Object::new(&ClusterRole {
            metadata: meta(&cr, None, labels.clone()),
            // Exactly what the generated jobs read: discovery objects, no Secrets, no writes.
            rules: Some(rules),
            ..Default::default()
        }));
        out.push(Object::new(&ClusterRoleBinding {
            metadata: meta(&cr, None, labels.clone()),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: cr.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: sa.clone(),
                namespace: Some(ns.clone()),
                ..Default::default()
            }]),
        }));
    }
}

/// What the jobs of a prometheus.yml need from the API server.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApiNeeds {
    /// Core resources Kubernetes discovery lists and watches.
    pub core: std::collections::BTreeSet<String>,
    pub endpointslices: bool,
    /// A kubelet scraped with the service-account token (nodes/metrics).
    pub node_metrics: bool,
    /// An API server or control-plane component scraped with the token (`/metrics`).
    pub metrics_url: bool,
}

/// Derive the ClusterRole from the config itself, so it grants exactly what the jobs use:
/// Prometheus 3's `endpointslice` role reads EndpointSlices, Services and Pods, `pod`
/// Pods, `node` Nodes, `service` Services, `endpoints` Endpoints, Services and Pods
/// (discovery/kubernetes/*.go).
pub fn api_needs(cfg: &Value) -> ApiNeeds {
    let mut needs = ApiNeeds::default();
    for job in cfg["scrape_configs"].as_array().into_iter().flatten() {
        let token = job.get("authorization").is_some();
        for sd in job["kubernetes_sd_configs"].as_array().into_iter().flatten() {
            let role = sd["role"].as_str().unwrap_or_default();
            let core: &[&str] = match role {
                "node" => &["nodes"],
                "pod" => &["pods"],
                "service" => &["services"],
                "endpoints" => &["endpoints", "services", "pods"],
                "endpointslice" => &["services", "pods"],
                _ => &[],
            };
            needs.core.extend(core.iter().map(|r| (*r).to_string()));
            needs.endpointslices |= role == "endpointslice";
            needs.node_metrics |= token && role == "node";
            needs.metrics_url |= token && role != "node";
        }
    }
    needs
}

/// The ConfigMap, Service, StatefulSet and PodDisruptionBudget of one shard. `shard` is the
/// shard's number, or the sentinel of a shard template ([`super::ShardTemplates`]): every
/// shard's objects are that template with the number in place of the sentinel.
pub fn shard_objects(n: &Names<'_>, shard: &str, out: &mut Vec<Object>) {
    debug_assert!(n.stack.sharding.shards > 1 || shard == "0", "one shard is shard 0, not a template");
    build_shard(n, shard, yaml::to_string(&config(n, shard)), out);
}

/// The objects of retired shard `shard` (`[sharding] retired`): exactly those it had at
/// the shard count before the shrink (same names, labels, claims, volumes, sidecar),
/// except that its prometheus.yml scrapes nothing. Its external labels stay, so Thanos
/// Query (which finds every Prometheus pod through the sidecars' Service) still serves
/// its data, and its sidecar keeps uploading. The ConfigMap says until when.
pub fn retired_shard_objects(n: &Names<'_>, shard: u16, out: &mut Vec<Object>) {
    let s = n.stack;
    let Some(retired) = s.sharding.retired else { return };
    let mut before = s.clone();
    before.sharding.shards = retired.shards;
    before.sharding.retired = None;
    let old = Names { stack: &before };
    let id = shard.to_string();
    let mut cfg = config(&old, &id);
    cfg["scrape_configs"] = json!([]);
    let retention = s.prometheus.retention.millis();
    let until = retired.until_date(retention);
    let mut text = format!(
        "# Shard {shard} is retired: [sharding] shards went from {} to {} on {}. It scrapes nothing and\n\
         # serves the data it has until that is past retention ({}): remove `retired` from\n\
         # stack.toml (and so this shard) on or after {until}.\n",
        retired.shards,
        s.sharding.shards,
        retired.since_date(),
        s.prometheus.retention,
    );
    if s.thanos.is_some() {
        text.push_str(&format!(
            "# Its sidecar uploads each 2h block as it is cut: by {} its data is in the bucket, except the\n\
             # last hours still in the head (no block is cut while nothing is scraped).\n",
            crate::model::date::format_date(retired.since.saturating_add(1)),
        ));
    }
    text.push_str(&yaml::to_string(&cfg));
    let first = out.len();
    build_shard(&old, &id, text, out);
    for o in &mut out[first..] {
        if o.kind == "ConfigMap" {
            o.value["metadata"]["annotations"] = json!({
                "stackgen.dev/retired-since": retired.since_date(),
                "stackgen.dev/retired-until": until,
            });
        }
    }
}

/// The config-reloader sidecar (the Prometheus Operator's): it watches the mounted
/// config directory (a ConfigMap update swaps its `..data` symlink) and POSTs
/// `/-/reload`, so a new scrape job never restarts Prometheus and never replays the WAL.
/// Flags as the operator passes them (pkg/operator/config_reloader.go, v0.93).
fn config_reloader(n: &Names<'_>) -> k8s_openapi::api::core::v1::Container {
    let p = &n.stack.prometheus;
    let args = vec![
        format!("--listen-address=:{RELOADER_PORT}"),
        format!("--reload-url=http://127.0.0.1:{PROMETHEUS_PORT}/-/reload"),
        format!("--runtimeinfo-url=http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/status/runtimeinfo"),
        format!("--watched-dir={CONFIG_DIR}"),
    ];
    let rules = !alerting::stack::rule_file_names(n.stack).is_empty();
    let mut args = args;
    if rules {
        // A rule file changed in the ConfigMap reloads Prometheus like a config change.
        args.push(format!("--watched-dir={RULES_DIR}"));
    }
    if shards_watch(n.stack) {
        // Prometheus re-reads file_sd lists itself; watched all the same, so that no
        // mounted ConfigMap is read only at start.
        args.push(format!("--watched-dir={SHARDS_DIR}"));
    }
    let mut c = k8s::container("config-reloader", p.config_reloader.reference(), args);
    c.ports = Some(vec![k8s::port("reloader-web", RELOADER_PORT)]);
    // The operator's defaults (10m CPU, 50Mi); a CPU limit slows nothing that matters here.
    c.resources = Some(k8s::resources("10m", "50Mi", "50Mi", Some("100m")));
    c.readiness_probe = Some(k8s::http_probe("/healthz", "reloader-web", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/healthz", "reloader-web", 15, 4));
    let mut mounts = vec![k8s::mount("config", CONFIG_DIR, true)];
    if rules {
        mounts.push(k8s::mount("rules", RULES_DIR, true));
    }
    if shards_watch(n.stack) {
        mounts.push(k8s::mount("shards", SHARDS_DIR, true));
    }
    c.volume_mounts = Some(mounts);
    c
}

const CONFIG_DIR: &str = "/etc/prometheus";

fn build_shard(n: &Names<'_>, shard: &str, config: String, out: &mut Vec<Object>) {
    let s = n.stack;
    let p = &s.prometheus;
    let ns = n.ns();
    let name = n.shard(shard);
    let labels = n.labels("prometheus", "server", Some(shard));
    let sel = n.selector("prometheus", Some(shard));
    let mut data = BTreeMap::new();
    data.insert("prometheus.yml".to_string(), config);
    out.push(k8s::config_map(&name, &ns, labels.clone(), data));

    let mut ports = vec![k8s::service_port("web", PROMETHEUS_PORT)];
    if s.thanos.is_some() {
        ports.push(k8s::service_port("grpc", THANOS_GRPC_PORT));
    }
    out.push(Object::new(&k8s::service(&name, &ns, labels.clone(), sel.clone(), ports, true)));

    let mut args = vec![
        format!("--config.file={CONFIG_DIR}/prometheus.yml"),
        "--storage.tsdb.path=/prometheus".to_string(),
        format!("--storage.tsdb.retention.time={}", p.retention),
    ];
    if let Some(size) = p.retention_size {
        args.push(format!("--storage.tsdb.retention.size={}", size.prometheus()));
    }
    args.push(format!("--web.listen-address=:{PROMETHEUS_PORT}"));
    if let Some(url) = super::expose::external_url(n, crate::model::expose::Exposed::Prometheus) {
        args.push(format!("--web.external-url={url}"));
    }
    // POST /-/reload, for the config reloader.
    args.push("--web.enable-lifecycle".into());
    if s.thanos.is_some() {
        // The sidecar uploads 2h blocks; Thanos compacts, Prometheus must not.
        args.push("--storage.tsdb.min-block-duration=2h".into());
        args.push("--storage.tsdb.max-block-duration=2h".into());
    }
    if p.image.major().is_some_and(|m| m < 3) {
        args.push("--enable-feature=expand-external-labels".into());
    }
    let mut c = k8s::container("prometheus", p.image.reference(), args);
    c.ports = Some(vec![k8s::port("web", PROMETHEUS_PORT)]);
    c.env = Some(vec![k8s::env_field("POD_NAME", "metadata.name")]);
    c.resources = Some(k8s::resources(
        p.resources.cpu.as_str(),
        p.resources.memory.as_str(),
        p.resources.memory_limit.as_str(),
        p.resources.cpu_limit.as_ref().map(|q| q.as_str()),
    ));
    // Replaying the WAL of a large TSDB takes minutes: the startup probe allows an hour
    // before liveness takes over.
    c.startup_probe = Some(k8s::http_probe("/-/ready", "web", 15, 240));
    c.readiness_probe = Some(k8s::http_probe("/-/ready", "web", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/-/healthy", "web", 15, 4));
    let rules = !alerting::stack::rule_file_names(s).is_empty();
    let mut mounts = vec![k8s::mount("config", CONFIG_DIR, true), tsdb_mount()];
    if rules {
        mounts.push(k8s::mount("rules", RULES_DIR, true));
    }
    if shards_watch(s) {
        mounts.push(k8s::mount("shards", SHARDS_DIR, true));
    }
    c.volume_mounts = Some(mounts);

    let mut containers = vec![c, config_reloader(n)];
    let mut volumes = vec![k8s::config_map_volume("config", &name)];
    if rules {
        volumes.push(k8s::config_map_volume("rules", &n.obj("prometheus-rules")));
    }
    if shards_watch(s) {
        volumes.push(k8s::config_map_volume("shards", &n.obj("prometheus-shards")));
    }
    if s.thanos.is_some() {
        let (sidecar, extra) = thanos::sidecar(n);
        containers.push(sidecar);
        volumes.extend(extra);
    }
    let claim = storage::prometheus_claim(n, shard);
    if claim.is_none() {
        volumes.push(k8s::empty_dir("data", s.storage.size));
    }
    // No checksum of prometheus.yml: the reloader applies it in place. What Prometheus or
    // the sidecar read only at start (the objstore config) rolls the pods.
    let mut annotations = BTreeMap::new();
    if s.thanos.is_some() {
        let (key, sum) = thanos::objstore_checksum(n);
        annotations.insert(key, sum);
    }
    let needs_api = s.kubernetes.discovery || s.kubernetes.control_plane;
    let pod = PodSpec {
        service_account_name: Some(n.obj("prometheus")),
        automount_service_account_token: Some(needs_api),
        security_context: Some(k8s::pod_security(p.run_as_user, p.fs_group)),
        // Prometheus flushes the head block on shutdown.
        termination_grace_period_seconds: Some(600),
        affinity: Some(shard_affinity(s, sel.clone())),
        topology_spread_constraints: Some(zone_spread(sel.clone())),
        containers,
        volumes: Some(volumes),
        ..Default::default()
    };
    out.push(Object::new(&StatefulSet {
        metadata: meta(&name, Some(&ns), labels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(p.replicas as i32),
            service_name: Some(name.clone()),
            pod_management_policy: Some("Parallel".into()),
            selector: k8s::selector(sel.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: claim.map(|c| vec![c]),
            ..Default::default()
        }),
        ..Default::default()
    }));
    if p.replicas > 1 {
        out.push(pdb(&name, &ns, labels, sel));
    }
}

/// The replicas of one shard on distinct nodes, required: two replicas on one node are
/// one failure away from a gap in both. Every persistent backend allows it: a local PV
/// pins its pod to a node, but each pod's PV is on a node of its own (SG103, SG104), so
/// the rule never contradicts a volume; network volumes (NFS, iSCSI, Ceph, cloud disks)
/// follow the pod. Only the ephemeral backend, for development clusters that may have a
/// single node, keeps the preference.
pub fn shard_affinity(s: &Stack, sel: BTreeMap<String, String>) -> Affinity {
    if matches!(s.storage.backend, crate::model::Backend::Ephemeral) {
        return spread(sel);
    }
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(k8s::selector(sel)),
                topology_key: "kubernetes.io/hostname".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_ships_the_config_of_its_number() {
        // What the ConfigMap of shard i holds, built from the shard template, is exactly
        // `config_yaml(n, i)`: the config the sharding end-to-end test runs.
        for shards in [1, 3] {
            let text = include_str!("../../stacks/sharded-64.toml")
                .replace("\nshards = 64\n", &format!("\nshards = {shards}\n"));
            let src = crate::source::Source::new("sharded.toml", text);
            let stack = crate::check(&src).expect("valid").stack;
            let n = Names { stack: &stack };
            let objs = super::super::render(&stack);
            for shard in 0..shards {
                let cm = objs
                    .iter()
                    .find(|o| o.kind == "ConfigMap" && o.name == n.shard(&shard.to_string()))
                    .expect("a ConfigMap per shard");
                assert_eq!(cm.value["data"]["prometheus.yml"].as_str(), Some(config_yaml(&n, shard).as_str()));
            }
        }
    }
}
