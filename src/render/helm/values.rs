//! The values document for kube-prometheus-stack.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use serde_json::{json, Map, Value};

use super::names::thanos_components;
use super::OBJSTORE_KEY;
use crate::alerting::blackbox::{self, BLACKBOX_EXPORTER_PORT};
use crate::alerting::receivers::{self, AlertmanagerConfig};
use crate::model::chart::semver_tag;
use crate::model::expose::{ExposeKind, Exposed};
use crate::model::{volumes, Image, Stack, Thanos};
use crate::render::pod::THANOS_HTTP_PORT;
use crate::render::{storage, thanos, Names};

pub(crate) fn to_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// `registry`, `repository`, `tag` (and `sha`) as the chart's image blocks take them.
pub(super) fn image_values(img: &Image) -> Value {
    let (registry, repository) = match img.repository.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first, rest),
        _ => ("docker.io", img.repository.as_str()),
    };
    let mut v = json!({"registry": registry, "repository": repository, "tag": img.tag});
    if let Some(d) = &img.digest {
        // The chart appends `@sha256:<sha>`.
        v["sha"] = json!(d.strip_prefix("sha256:").unwrap_or(d));
    }
    v
}

/// A `volumeClaimTemplate` as the operator's `storage` fields take it.
fn claim_template(class: &str, size: &str, selector: Option<Value>) -> Value {
    let mut spec = json!({
        "storageClassName": class,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    });
    if let Some(sel) = selector {
        spec["selector"] = json!({"matchLabels": sel});
    }
    json!({"volumeClaimTemplate": {"spec": spec}})
}

/// The values document.
pub fn values(s: &Stack) -> Value {
    let n = Names { stack: s };
    let mut v = Map::new();
    v.insert("fullnameOverride".into(), json!(s.name.as_str()));
    v.insert("namespaceOverride".into(), json!(s.namespace.as_str()));
    if !s.labels.is_empty() {
        v.insert("commonLabels".into(), to_map(&s.labels));
    }
    // The chart's kubelet, apiserver, CoreDNS, kube-state-metrics ... ServiceMonitors.
    v.insert("kubernetesServiceMonitors".into(), json!({"enabled": s.kubernetes.discovery}));
    if !s.kubernetes.discovery {
        // Without discovery nothing scrapes them: do not run the exporters either.
        v.insert("nodeExporter".into(), json!({"enabled": false}));
        v.insert("kubeStateMetrics".into(), json!({"enabled": false}));
        // KubeAPIDown is `absent(up{job="apiserver"})`: with the apiserver's ServiceMonitor
        // off it would fire for ever.
        v.insert("defaultRules".into(), json!({"rules": {"kubernetesSystem": false}}));
    }
    // Managed control planes (EKS, GKE, AKS) do not expose etcd, the scheduler or the
    // controller manager: their jobs would be down for ever.
    for key in ["kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"] {
        v.insert(key.into(), json!({"enabled": s.kubernetes.control_plane}));
    }
    let mut operator = Map::new();
    if let Some(t) = &s.thanos {
        // The sidecar image the operator injects.
        operator.insert("thanosImage".into(), image_values(&t.image));
    }
    if s.sharding.retired.is_some() {
        // shardRetentionPolicy is beta behind this gate (on by default in v0.93.1); said
        // explicitly, so an operator started with it off still keeps the retired shards.
        operator.insert("featureGates".into(), json!({"PrometheusShardRetentionPolicy": true}));
    }
    if !operator.is_empty() {
        v.insert("prometheusOperator".into(), Value::Object(operator));
    }
    if let Some(rules) = rules_map(s) {
        v.insert("additionalPrometheusRulesMap".into(), rules);
    }
    v.insert("prometheus".into(), prometheus_values(&n));
    v.insert("alertmanager".into(), alertmanager_values(&n));
    v.insert("grafana".into(), grafana_values(&n));
    Value::Object(v)
}

/// What the Prometheus CRD's spec says the same way in the chart's `prometheusSpec` and
/// in the operator's resource: replicas, shards (and the retention of retired ones),
/// retention by time and size, and the intervals.
pub(crate) fn prometheus_spec_counts_and_retention(s: &crate::model::Stack, spec: &mut Map<String, Value>) {
    let p = &s.prometheus;
    spec.insert("replicas".into(), json!(p.replicas));
    spec.insert("shards".into(), json!(s.sharding.shards));
    if s.sharding.retired.is_some() {
        // The operator's own way to retire shards: it keeps the scaled-down StatefulSets,
        // their pods scrape nothing (a keep rule on the shard number), and it deletes them
        // `retentionPeriod` after it first sees them retired (the claims stay). Beta behind
        // the operator's PrometheusShardRetentionPolicy gate, on by default in v0.93.1.
        spec.insert(
            "shardRetentionPolicy".into(),
            json!({"whenScaled": "Retain", "retain": {"retentionPeriod": p.retention.as_str()}}),
        );
    }
    spec.insert("retention".into(), json!(p.retention.as_str()));
    if let Some(size) = p.retention_size {
        // The operator's ByteSize (the CRD's pattern) needs the B suffix: 425GiB, not 425Gi.
        spec.insert("retentionSize".into(), json!(size.prometheus()));
    }
    spec.insert("scrapeInterval".into(), json!(p.scrape_interval.as_str()));
    spec.insert("scrapeTimeout".into(), json!(p.scrape_timeout.as_str()));
    spec.insert("evaluationInterval".into(), json!(p.evaluation_interval.as_str()));
}

fn prometheus_values(n: &Names<'_>) -> Value {
    let s = n.stack;
    let p = &s.prometheus;
    let mut spec = Map::new();
    spec.insert("image".into(), image_values(&p.image));
    prometheus_spec_counts_and_retention(s, &mut spec);
    spec.insert("externalLabels".into(), to_map(&p.external_labels));
    // The same name Thanos Query and the Compactor deduplicate on: HA replicas differ
    // by exactly this label.
    spec.insert("replicaExternalLabelName".into(), json!(s.replica_label()));
    // No `prometheus="<ns>/<cr>"` label on every series, alert and uploaded block: the
    // external labels are exactly the stack's, as in manifests mode.
    spec.insert("prometheusExternalLabelNameClear".into(), json!(true));
    spec.insert("resources".into(), resources_value(&p.resources));
    // Prometheus gets "permission denied" on a TSDB (migrated, or from another image)
    // whose files another user owns without these.
    spec.insert(
        "securityContext".into(),
        json!({
            "runAsUser": p.run_as_user,
            "runAsGroup": p.fs_group,
            "fsGroup": p.fs_group,
            // Without it the kubelet re-owns every file of the TSDB on every start.
            "fsGroupChangePolicy": "OnRootMismatch",
            "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"},
        }),
    );
    let storage_spec = match (storage::data_class(n), s.storage.size) {
        (Some(class), Some(size)) => {
            // A selector blocks dynamic provisioning (provisioners refuse claims with one):
            // static PVs only.
            let selector = s.storage.backend.is_static().then(|| to_map(&storage::stack_volume_selector(n)));
            claim_template(&class, &size.quantity(), selector)
        }
        // Ephemeral: the operator falls back to emptyDir.
        _ => json!({}),
    };
    spec.insert("storageSpec".into(), storage_spec);
    if let Some(t) = &s.thanos {
        let mut thanos =
            json!({"objectStorageConfig": {"existingSecret": {"name": n.obj("thanos-objstore"), "key": OBJSTORE_KEY}}});
        // The operator picks sidecar flags by this version; unset, it assumes its own
        // default, not the image the stack runs.
        if let Some(v) = semver_tag(&t.image) {
            thanos["version"] = json!(v);
        }
        spec.insert("thanos".into(), thanos);
        if t.objstore.credentials_secret.is_some() {
            let (container, volumes) = sidecar_credentials(t);
            spec.insert("containers".into(), json!([container]));
            if !volumes.is_empty() {
                spec.insert("volumes".into(), Value::Array(volumes));
            }
        }
    }
    let jobs = scrape_jobs(s);
    if !jobs.is_empty() {
        spec.insert("additionalScrapeConfigs".into(), Value::Array(jobs));
    }
    let mut prom = Map::new();
    if s.thanos.is_some() {
        // `<fullname>-thanos-discovery`, the headless Service Thanos Query resolves, and
        // the ServiceMonitor that scrapes the sidecars through it.
        prom.insert("thanosService".into(), json!({"enabled": true}));
        prom.insert("thanosServiceMonitor".into(), json!({"enabled": true}));
    }
    if p.replicas > 1 {
        prom.insert("podDisruptionBudget".into(), disruption_budget());
    }
    let mut pod_monitors = Vec::new();
    if s.thanos.is_some() {
        pod_monitors.push(thanos_pod_monitor(n));
    }
    if !s.probes.is_empty() {
        pod_monitors.push(blackbox_pod_monitor(n));
    }
    if !pod_monitors.is_empty() {
        prom.insert("additionalPodMonitors".into(), Value::Array(pod_monitors));
    }
    prom.insert("prometheusSpec".into(), Value::Object(spec));
    expose_values(n, Exposed::Prometheus, &mut prom);
    Value::Object(prom)
}

/// The chart's disruption budget with the semantics of manifests mode: one pod at a time
/// (`maxUnavailable: 1`). The chart's default `minAvailable: 1` is deleted (`null`), as
/// the API refuses both; it spans every shard, so with it 7 of 8 pods could go at once.
fn disruption_budget() -> Value {
    json!({"enabled": true, "minAvailable": null, "maxUnavailable": 1})
}

/// A PodMonitor (`prometheus.additionalPodMonitors`) for stackgen's Thanos components on
/// their `http` port; the chart labels it `release: <release>`, which the chart's
/// Prometheus selects, and the operator shards it like every other target, so each pod
/// is scraped once. The job is the component (`thanos-query`, ...).
fn thanos_pod_monitor(n: &Names<'_>) -> Value {
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/instance".into(), json!(n.stack.name.as_str()));
    labels.insert("app.kubernetes.io/part-of".into(), json!("stackgen"));
    json!({
        "name": n.obj("thanos"),
        "jobLabel": "app.kubernetes.io/name",
        "selector": {
            "matchLabels": labels,
            "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": thanos_components()}],
        },
        "podMetricsEndpoints": [{"port": "http", "path": "/metrics"}],
    })
}

/// A PodMonitor for the companion blackbox_exporter's own metrics (job
/// `blackbox-exporter`), sharded by the operator like every target.
fn blackbox_pod_monitor(n: &Names<'_>) -> Value {
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/instance".into(), json!(n.stack.name.as_str()));
    labels.insert("app.kubernetes.io/name".into(), json!("blackbox-exporter"));
    json!({
        "name": n.obj("blackbox-exporter"),
        "jobLabel": "app.kubernetes.io/name",
        "selector": {"matchLabels": labels},
        "podMetricsEndpoints": [{"port": "http", "path": "/metrics"}],
    })
}

/// The credentials of `credentials_secret` as a patch of the operator's `thanos-sidecar`
/// container (environment, and for GCS the key file), plus the pod volumes it needs:
/// what stackgen's own sidecar gets ([`thanos::credentials`]).
pub(crate) fn sidecar_credentials(t: &Thanos) -> (Value, Vec<Value>) {
    let mut c = Container { name: "thanos-sidecar".into(), ..Default::default() };
    let mut volumes = Vec::new();
    thanos::credentials(t, &mut c, &mut volumes);
    let mut container = json!({"name": c.name});
    if let Some(env) = c.env.filter(|e| !e.is_empty()) {
        container["env"] = to_value(env);
    }
    if let Some(mounts) = c.volume_mounts.filter(|m| !m.is_empty()) {
        container["volumeMounts"] = to_value(mounts);
    }
    (container, volumes.into_iter().map(to_value).collect())
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("k8s types serialize")
}

/// The stack's `[[scrape]]` jobs as `additionalScrapeConfigs`; the operator appends its
/// sharding relabels to them and keeps targets labelled `__tmp_disable_sharding` on
/// every shard.
///
/// Probe jobs too (the chart has no value for Probe resources, and the companion
/// manifests are applied before the chart installs the CRDs): the operator's sharding
/// relabels, appended to every additional scrape config, hash `__tmp_hash` when it is
/// empty, so each probe job sets it to the probed target first; each target is then
/// probed by one shard, as the operator does for a Probe.
fn scrape_jobs(s: &Stack) -> Vec<Value> {
    let n = Names { stack: s };
    let exporter = format!("{}:{}", n.svc_fqdn(&n.obj("blackbox-exporter")), BLACKBOX_EXPORTER_PORT);
    let probes = s.probes.iter().map(|p| {
        let mut job = blackbox::probe_job(p, &exporter, None);
        if let Some(rc) = job["relabel_configs"].as_array_mut() {
            rc.push(json!({"source_labels": ["__param_target"], "target_label": "__tmp_hash"}));
        }
        job
    });
    s.scrape.iter().map(crate::render::prometheus::static_job).chain(probes).collect()
}

/// The stack's rule files as `additionalPrometheusRulesMap`: one PrometheusRule per
/// file (`<fullname>-<file name without extension>`), which the chart's Prometheus
/// selects and the operator loads and reloads in every shard; with Thanos and
/// self-monitoring, the built-in Thanos alerts as `stackgen-thanos`.
pub(super) fn rules_map(s: &Stack) -> Option<Value> {
    let mut m = Map::new();
    for f in &s.rules.files {
        let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(a, _)| a);
        let key: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        // Checked at lint time (SG131-SG137): it parses.
        let doc: Value = serde_saphyr::from_str(&f.text).unwrap_or(Value::Null);
        m.insert(key, json!({"groups": doc["groups"]}));
    }
    // The Thanos alerts of the built-in rules (the chart's defaultRules have none).
    if let Some(thanos) = crate::alerting::stack::helm_thanos_rules(s, &super::names::thanos_discovery(s)) {
        m.insert("stackgen-thanos".into(), json!({"groups": thanos["groups"]}));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// A component's `resources` from the model, as the chart's `resources` value.
fn resources_value(r: &crate::model::Resources) -> Value {
    let mut requests = Map::new();
    requests.insert("cpu".into(), json!(r.cpu.as_str()));
    requests.insert("memory".into(), json!(r.memory.as_str()));
    let mut limits = Map::new();
    limits.insert("memory".into(), json!(r.memory_limit.as_str()));
    if let Some(c) = &r.cpu_limit {
        limits.insert("cpu".into(), json!(c.as_str()));
    }
    json!({"requests": requests, "limits": limits})
}

fn alertmanager_values(n: &Names<'_>) -> Value {
    let Some(am) = &n.stack.alertmanager else {
        return json!({"enabled": false});
    };
    // Static component PVs are pre-bound to the manifests-mode claim names, which the
    // chart's claims do not have.
    let storage = match storage::component_class(n).filter(|_| !volumes::static_components(n.stack)) {
        Some(class) => claim_template(&class, &am.size.quantity(), None),
        // No class on a static backend: emptyDir (lint SG121 says so).
        None => json!({}),
    };
    let mut v = Map::new();
    v.insert("enabled".into(), json!(true));
    if am.replicas > 1 {
        v.insert("podDisruptionBudget".into(), disruption_budget());
    }
    let mut spec = json!({
        "image": image_values(&am.image),
        "replicas": am.replicas,
        "storage": storage,
        "resources": resources_value(&am.resources),
    });
    if let Some(cfg) = AlertmanagerConfig::of(am) {
        // The chart merges this map into its default config (lists replace, maps
        // merge): receivers, inhibit_rules and the route's keys are all stackgen's.
        v.insert("config".into(), receivers::config_value(&cfg));
        // The operator mounts each at /etc/alertmanager/secrets/<name>/, where the
        // config's *_file keys point.
        let secrets: Vec<String> = cfg.mounts().into_iter().map(|m| m.secret).collect();
        if !secrets.is_empty() {
            spec["secrets"] = json!(secrets);
        }
    }
    v.insert("alertmanagerSpec".into(), spec);
    expose_values(n, Exposed::Alertmanager, &mut v);
    Value::Object(v)
}

/// `service` and `ingress` of a chart component for `[expose.<component>]`: the chart's
/// own Service changes type (it has no second one), its Ingress routes to it.
fn expose_values(n: &Names<'_>, c: Exposed, v: &mut Map<String, Value>) {
    let Some(e) = n.stack.exposed(c) else { return };
    match &e.kind {
        ExposeKind::NodePort { node_port } | ExposeKind::LoadBalancer { node_port } => {
            let lb = matches!(e.kind, ExposeKind::LoadBalancer { .. });
            let mut svc = Map::new();
            svc.insert("type".into(), json!(if lb { "LoadBalancer" } else { "NodePort" }));
            if let (Some(p), false) = (node_port, lb) {
                svc.insert("nodePort".into(), json!(p));
            }
            if !e.from.is_empty() {
                // The client's address reaches the pod (see render::expose).
                svc.insert("externalTrafficPolicy".into(), json!("Local"));
                if lb {
                    svc.insert("loadBalancerSourceRanges".into(), json!(e.from));
                }
            }
            v.insert("service".into(), Value::Object(svc));
        }
        ExposeKind::Ingress { host, class, tls_secret, .. } => {
            let mut ing = Map::new();
            ing.insert("enabled".into(), json!(true));
            if let Some(class) = class {
                ing.insert("ingressClassName".into(), json!(class));
                if class == "nginx" && !e.from.is_empty() {
                    ing.insert(
                        "annotations".into(),
                        json!({"nginx.ingress.kubernetes.io/whitelist-source-range": e.from.join(",")}),
                    );
                }
            }
            ing.insert("hosts".into(), json!([host]));
            if c == Exposed::Grafana {
                ing.insert("path".into(), json!("/"));
            } else {
                ing.insert("paths".into(), json!(["/"]));
            }
            ing.insert("pathType".into(), json!("Prefix"));
            if let Some(secret) = tls_secret {
                ing.insert("tls".into(), json!([{"secretName": secret, "hosts": [host]}]));
            }
            v.insert("ingress".into(), Value::Object(ing));
            // Where users reach it, for the links it sends out. The chart derives
            // Prometheus' from the Ingress (https with tls); Alertmanager's it derives
            // always as http, and Grafana's not at all.
            let url = crate::render::expose::external_url(n, c);
            match (c, url) {
                (Exposed::Alertmanager, Some(url)) => {
                    if let Some(spec) = v.get_mut("alertmanagerSpec") {
                        spec["externalUrl"] = json!(url);
                    }
                }
                (Exposed::Grafana, Some(url)) => {
                    v.insert("env".into(), json!({"GF_SERVER_ROOT_URL": url}));
                }
                _ => {}
            }
        }
    }
}

fn grafana_values(n: &Names<'_>) -> Value {
    let s = n.stack;
    let Some(g) = &s.grafana else {
        return json!({"enabled": false});
    };
    let mut v = Map::new();
    v.insert("enabled".into(), json!(true));
    v.insert("image".into(), image_values(&g.image));
    v.insert("resources".into(), resources_value(&g.resources));
    let persistence = match storage::component_class(n).filter(|_| !volumes::static_components(n.stack)) {
        // A StatefulSet, not a Deployment with RollingUpdate on a ReadWriteOnce volume
        // (the new pod cannot attach the volume the old one holds: Multi-Attach error).
        Some(class) => json!({
            "enabled": true,
            "type": "sts",
            "storageClassName": class,
            "accessModes": ["ReadWriteOnce"],
            "size": g.size.quantity(),
        }),
        None => json!({"enabled": false}),
    };
    v.insert("persistence".into(), persistence);
    // fsGroup 472 owns the volume; the root chown init container breaks the restricted
    // profile and fails on root-squashed NFS.
    v.insert("initChownData".into(), json!({"enabled": false}));
    expose_values(n, Exposed::Grafana, &mut v);
    if let Some(secret) = &g.admin_secret {
        // Without it the chart sets its adminPassword default, a published password.
        v.insert(
            "admin".into(),
            json!({"existingSecret": secret, "userKey": "admin-user", "passwordKey": "admin-password"}),
        );
    }
    let mut sidecar = Map::new();
    if s.thanos.is_some() {
        // The default datasource queries Thanos Query: every shard, deduplicated.
        let url = format!("http://{}:{}", n.svc_fqdn(&n.obj("thanos-query")), THANOS_HTTP_PORT);
        // Thanos' API defaults to raw data only: without this, the 5m/1h blocks kept
        // after raw retention are unreachable from Grafana.
        sidecar
            .insert("datasources".into(), json!({"url": url, "customQueryParameters": "max_source_resolution=auto"}));
    }
    if crate::render::dashboard::enabled(n) {
        // The stack's dashboard (a companion ConfigMap with this label) queries the
        // default datasource by this uid.
        let ds = sidecar.entry("datasources").or_insert_with(|| json!({}));
        ds["uid"] = json!(super::companions::HELM_DATASOURCE_UID);
        let (label, value) = crate::render::dashboard::SIDECAR_LABEL;
        sidecar.insert("dashboards".into(), json!({"enabled": true, "label": label, "labelValue": value}));
    }
    if !sidecar.is_empty() {
        v.insert("sidecar".into(), Value::Object(sidecar));
    }
    Value::Object(v)
}
