//! `--format helm-values`: values for the kube-prometheus-stack chart, plus the objects
//! the chart does not create (companion manifests).
//!
//! Every key written here was checked against the values.yaml of chart version
//! [`CHART_VERSION`] and its sub-charts (`tests/fixtures/kube-prometheus-stack-88.5.3-paths.txt`
//! lists the paths; `tests/helm.rs` keeps every emitted path inside that list, checks the
//! list against the chart archive, and runs `helm template` of the real chart on every
//! stack's values). What a stack asks
//! for and the chart cannot express is reported by the lint rule SG125
//! (`lint::rules::sg125_helm_unsupported`), never dropped silently.
//!
//! Decisions, in short (README "Helm values" has the long form):
//! - Names: `fullnameOverride` is the stack name, so the chart's objects are named like
//!   stackgen's (the chart cuts the name to 26 characters) and static PVs can be pre-bound
//!   to the exact claims the operator makes: `prometheus-<cr>-db-<statefulset>-<ordinal>`.
//! - One `storageSpec` serves every shard, so static PVs carry a selector label common to
//!   the stack instead of one per shard; the claimRef still pins each PV to one pod.
//! - Thanos object storage: the operator reads the whole objstore config from a Secret
//!   (`objectStorageConfig.existingSecret {name, key}`). stackgen writes that Secret itself
//!   (`<stack>-thanos-objstore`, key `objstore.yml`) holding only the non-secret config with
//!   `$(OBJSTORE_<KEY>)` placeholders, exactly as in the manifests render; the credentials
//!   stay in `credentials_secret` and reach the operator's `thanos-sidecar` container as
//!   environment variables through `prometheusSpec.containers`, which the operator merges
//!   into the containers it generates (strategic merge by name). Thanos substitutes the
//!   placeholders from its environment (since v0.22).
//! - Thanos Query, Store Gateway and Compactor are stackgen's own objects; Query finds the
//!   sidecars through the chart's `<fullname>-thanos-discovery` Service. They get
//!   stackgen's NetworkPolicies (with the chart's pod labels for Prometheus and Grafana)
//!   and a PodMonitor (`prometheus.additionalPodMonitors`); the sidecars are scraped by the
//!   chart's `thanosServiceMonitor`.
//! - The same behaviour as manifests mode where the chart can express it: no extra
//!   `prometheus` external label (`prometheusExternalLabelNameClear`), a disruption budget
//!   of `maxUnavailable: 1`, `fsGroupChangePolicy: OnRootMismatch`, `thanos.version`, and the
//!   Grafana datasource asking Thanos Query for `max_source_resolution=auto`. The TSDB lives
//!   in `<volume>/prometheus-db/` in both modes (the operator's subPath).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret, SecretVolumeSource, Volume};
use serde_json::{json, Map, Value};

use super::k8s::{self, meta};
use super::{storage, thanos, yaml, Names, Object};
use crate::model::chart::semver_tag;
pub use crate::model::chart::{fullname, prometheus_cr, statefulset_name};
use crate::model::volumes;
use crate::model::{Backend, Image, ObjstoreKind, Stack};

/// The chart these values are for.
pub const CHART: &str = "kube-prometheus-stack";
/// The chart version every key path was checked against (its values.yaml and those of
/// its sub-charts, as published: ../shared/reference-data/charts/).
pub const CHART_VERSION: &str = "88.5.3";
/// Where that chart version comes from.
pub const CHART_SOURCE: &str =
    "kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts cf408a2, Prometheus Operator v0.93.1)";
/// The grafana sub-chart it ships, whose values.yaml the `grafana.*` keys were checked against.
pub const GRAFANA_CHART_SOURCE: &str = "grafana 12.11.1 (grafana-community/helm-charts 3386a115)";
/// Key of the objstore config in the Secret the operator reads.
pub const OBJSTORE_KEY: &str = "objstore.yml";
const GCS_DIR: &str = "/etc/thanos/gcs";

/// The two products of the helm-values format.
pub struct HelmOutput {
    /// The values document for kube-prometheus-stack (YAML text).
    pub values: String,
    /// The companion objects the chart does not create (multi-document YAML; may be empty).
    pub manifests: String,
}

pub fn render(stack: &Stack) -> HelmOutput {
    let mut values = String::from(crate::output::HEADER);
    values.push_str(&values_header(stack));
    yaml::write_document(&mut values, &self::values(stack));
    let mut manifests = String::from(crate::output::HEADER);
    manifests.push_str(&format!(
        "# Objects {CHART} does not create. Apply before the chart:\n#   kubectl apply --server-side -f manifests.yaml\n"
    ));
    manifests.push_str(&super::to_yaml(&companion_objects(stack)));
    HelmOutput { values, manifests }
}

fn values_header(s: &Stack) -> String {
    format!(
        "# Values for the {CHART} chart version {CHART_VERSION}, every key checked against the\n\
         # values.yaml of {CHART_SOURCE}\n\
         # and of its sub-chart {GRAFANA_CHART_SOURCE}.\n\
         # Apply manifests.yaml first, then:\n\
         #   helm upgrade --install {name} prometheus-community/{CHART} --version {CHART_VERSION} --namespace {ns} --values values.yaml\n",
        name = s.name,
        ns = s.namespace,
    )
}

/// The claim the operator's StatefulSet makes for one pod: the template is named
/// `prometheus-<cr>-db` when `volumeClaimTemplate.metadata.name` is unset.
pub fn claim_name(s: &Stack, shard: u16, replica: u32) -> String {
    format!("prometheus-{}-db-{}-{replica}", prometheus_cr(s), statefulset_name(s, shard))
}

/// The headless Service over every sidecar (`prometheus.thanosService`).
pub fn thanos_discovery(s: &Stack) -> String {
    format!("{}-thanos-discovery", fullname(s))
}

/// Selector labels every static PV of the stack carries and the claim template selects.
fn volume_selector(n: &Names<'_>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("stackgen.dev/namespace".to_string(), n.ns());
    m.insert("stackgen.dev/volume-for".to_string(), n.obj("prometheus"));
    m
}

fn to_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// `registry`, `repository`, `tag` (and `sha`) as the chart's image blocks take them.
fn image_values(img: &Image) -> Value {
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
    // Managed control planes (EKS, GKE, AKS) cannot be scraped (seed 004).
    for key in ["kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"] {
        v.insert(key.into(), json!({"enabled": s.kubernetes.control_plane}));
    }
    if let Some(t) = &s.thanos {
        // The sidecar image the operator injects.
        v.insert("prometheusOperator".into(), json!({"thanosImage": image_values(&t.image)}));
    }
    v.insert("prometheus".into(), prometheus_values(&n));
    v.insert("alertmanager".into(), alertmanager_values(&n));
    v.insert("grafana".into(), grafana_values(&n));
    Value::Object(v)
}

fn prometheus_values(n: &Names<'_>) -> Value {
    let s = n.stack;
    let p = &s.prometheus;
    let mut spec = Map::new();
    spec.insert("image".into(), image_values(&p.image));
    spec.insert("replicas".into(), json!(p.replicas));
    spec.insert("shards".into(), json!(s.sharding.shards));
    spec.insert("retention".into(), json!(p.retention.as_str()));
    if let Some(size) = p.retention_size {
        // ByteSize needs the B suffix: 425GiB, not 425Gi (pitfall 1).
        spec.insert("retentionSize".into(), json!(size.prometheus()));
    }
    spec.insert("scrapeInterval".into(), json!(p.scrape_interval.as_str()));
    spec.insert("scrapeTimeout".into(), json!(p.scrape_timeout.as_str()));
    spec.insert("evaluationInterval".into(), json!(p.evaluation_interval.as_str()));
    spec.insert("externalLabels".into(), to_map(&p.external_labels));
    // The same name Thanos Query and the Compactor deduplicate on (pitfall 11).
    spec.insert("replicaExternalLabelName".into(), json!(s.replica_label()));
    // No `prometheus="<ns>/<cr>"` label on every series, alert and uploaded block: the
    // external labels are exactly the stack's, as in manifests mode.
    spec.insert("prometheusExternalLabelNameClear".into(), json!(true));
    let mut requests = Map::new();
    requests.insert("cpu".into(), json!(p.resources.cpu.as_str()));
    requests.insert("memory".into(), json!(p.resources.memory.as_str()));
    let mut limits = Map::new();
    limits.insert("memory".into(), json!(p.resources.memory_limit.as_str()));
    if let Some(c) = &p.resources.cpu_limit {
        limits.insert("cpu".into(), json!(c.as_str()));
    }
    spec.insert("resources".into(), json!({"requests": requests, "limits": limits}));
    // Seed 000: "permission denied" on migrated data without these.
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
            // A selector blocks dynamic provisioning (pitfall 4): static PVs only.
            let selector = s.storage.backend.is_static().then(|| to_map(&volume_selector(n)));
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
        if let Some(secret) = &t.objstore.credentials_secret {
            let (container, volumes) = sidecar_credentials(t.objstore.kind, secret);
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
    if s.thanos.is_some() {
        prom.insert("additionalPodMonitors".into(), json!([thanos_pod_monitor(n)]));
    }
    prom.insert("prometheusSpec".into(), Value::Object(spec));
    Value::Object(prom)
}

/// The chart's disruption budget with the semantics of manifests mode: one pod at a time
/// (`maxUnavailable: 1`). The chart's default `minAvailable: 1` is deleted (`null`), as
/// the API refuses both; it spans every shard, so with it 7 of 8 pods could go at once.
fn disruption_budget() -> Value {
    json!({"enabled": true, "minAvailable": null, "maxUnavailable": 1})
}

/// The Thanos components stackgen runs (Query, Store Gateway, Compactor), by their pod
/// labels.
fn thanos_components() -> [&'static str; 3] {
    ["thanos-query", "thanos-store", "thanos-compactor"]
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

/// The credentials of `credentials_secret` as a patch of the operator's `thanos-sidecar`
/// container (environment, and for GCS the key file), plus the pod volumes it needs.
fn sidecar_credentials(kind: ObjstoreKind, secret: &str) -> (Value, Vec<Value>) {
    let mut env: Vec<Value> = kind
        .secret_keys()
        .iter()
        .map(|key| serde_json::to_value(k8s::env_secret(&thanos::env_name(key), secret, key)).expect("serializable"))
        .collect();
    let mut container = json!({"name": "thanos-sidecar"});
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if kind == ObjstoreKind::Gcs {
        let env_var = k8s::env_value("GOOGLE_APPLICATION_CREDENTIALS", &format!("{GCS_DIR}/service-account.json"));
        env.push(serde_json::to_value(env_var).expect("serializable"));
        mounts.push(serde_json::to_value(k8s::mount("gcs-credentials", GCS_DIR, true)).expect("serializable"));
        let volume = Volume {
            name: "gcs-credentials".into(),
            secret: Some(SecretVolumeSource { secret_name: Some(secret.to_string()), ..Default::default() }),
            ..Default::default()
        };
        volumes.push(serde_json::to_value(volume).expect("serializable"));
    }
    if !env.is_empty() {
        container["env"] = Value::Array(env);
    }
    if !mounts.is_empty() {
        container["volumeMounts"] = Value::Array(mounts);
    }
    (container, volumes)
}

/// The stack's `[[scrape]]` jobs as `additionalScrapeConfigs`; the operator appends its
/// sharding relabels to them and keeps targets labelled `__tmp_disable_sharding` on
/// every shard.
fn scrape_jobs(s: &Stack) -> Vec<Value> {
    s.scrape.iter().map(super::prometheus::static_job).collect()
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
    v.insert(
        "alertmanagerSpec".into(),
        json!({"image": image_values(&am.image), "replicas": am.replicas, "storage": storage}),
    );
    Value::Object(v)
}

fn grafana_values(n: &Names<'_>) -> Value {
    let s = n.stack;
    let Some(g) = &s.grafana else {
        return json!({"enabled": false});
    };
    let mut v = Map::new();
    v.insert("enabled".into(), json!(true));
    v.insert("image".into(), image_values(&g.image));
    let persistence = match storage::component_class(n).filter(|_| !volumes::static_components(n.stack)) {
        // A StatefulSet, not a Deployment with RollingUpdate on a ReadWriteOnce volume
        // (Multi-Attach error, pitfall 8).
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
    // profile and fails on root-squashed NFS (pitfall 8).
    v.insert("initChownData".into(), json!({"enabled": false}));
    if let Some(secret) = &g.admin_secret {
        // Without it the chart sets its adminPassword default (pitfall 18).
        v.insert(
            "admin".into(),
            json!({"existingSecret": secret, "userKey": "admin-user", "passwordKey": "admin-password"}),
        );
    }
    if s.thanos.is_some() {
        // The default datasource queries Thanos Query: every shard, deduplicated.
        let url = format!("http://{}:{}", n.svc_fqdn(&n.obj("thanos-query")), thanos::HTTP_PORT);
        // Thanos' API defaults to raw data only: without this, the 5m/1h blocks kept
        // after raw retention are unreachable from Grafana.
        v.insert(
            "sidecar".into(),
            json!({"datasources": {"url": url, "customQueryParameters": "max_source_resolution=auto"}}),
        );
    }
    Value::Object(v)
}

/// The objects the chart does not create, in apply order: the Namespace, storage
/// (StorageClass, static PVs pre-bound to the operator's claims, the NFS provisioner),
/// and with Thanos the objstore Secret the operator reads plus Query, Store Gateway and
/// Compactor.
pub fn companion_objects(s: &Stack) -> Vec<Object> {
    let n = Names { stack: s };
    let mut objs = Vec::new();
    // No Pod Security labels: the chart's node-exporter needs host access. Never a
    // namespace stackgen does not own (default, kube-*, create_namespace = false).
    if s.owns_namespace() {
        objs.push(Object::new(&Namespace {
            metadata: meta(&n.ns(), None, n.labels("namespace", "namespace", None)),
            ..Default::default()
        }));
    }
    let mut store = Vec::new();
    storage::objects(&n, &mut store);
    for o in &mut store {
        if o.kind == "PersistentVolume" && o.value["metadata"]["labels"].get("stackgen.dev/shard").is_some() {
            retarget_pv(&n, o);
        }
    }
    // Static component PVs of Alertmanager and Grafana are pre-bound to the manifests-mode
    // claims, which the chart's pods never make (their values fall back to emptyDir, SG125).
    let chart_owned = [n.obj("alertmanager"), n.obj("grafana")];
    store.retain(|o| {
        o.kind != "PersistentVolume"
            || !chart_owned.iter().any(|c| o.value["metadata"]["labels"]["stackgen.dev/volume-for"] == c.as_str())
    });
    objs.extend(store);
    if let Some(t) = &s.thanos {
        let mut th = Vec::new();
        thanos::objects(&n, &mut th);
        // The chart's thanosService replaces stackgen's sidecar Service.
        let sidecars = n.obj("thanos-sidecar");
        th.retain(|o| !(o.kind == "Service" && o.name == sidecars));
        let query = n.obj("thanos-query");
        let from = format!("--endpoint=dnssrv+_grpc._tcp.{}", n.svc_fqdn(&sidecars));
        let to = format!("--endpoint=dnssrv+_grpc._tcp.{}", n.svc_fqdn(&thanos_discovery(s)));
        let mut replaced = 0;
        for o in th.iter_mut().filter(|o| o.kind == "Deployment" && o.name == query) {
            let args = o.value["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_array_mut()
                .expect("thanos-query has args");
            for a in args.iter_mut().filter(|a| a.as_str() == Some(from.as_str())) {
                *a = json!(to);
                replaced += 1;
            }
        }
        assert_eq!(replaced, 1, "thanos-query must name the sidecar Service exactly once");
        th.push(objstore_secret(&n, t));
        objs.extend(th);
    }
    objs.extend(network_policies(&n));
    super::sort(&mut objs);
    objs
}

/// The policies of manifests mode for the pods stackgen runs beside the chart (Thanos
/// Query, Store Gateway, Compactor, the NFS provisioner): deny by default, DNS, and the
/// flows each needs, with the chart's pod labels wherever a peer is a pod the chart runs
/// (Prometheus with its sidecar, Grafana). The chart's own pods get none (SG125
/// says so).
fn network_policies(n: &Names<'_>) -> Vec<Object> {
    let s = n.stack;
    let provisioner = matches!(s.storage.backend, Backend::NfsProvisioner { .. });
    if !s.network_policies || (s.thanos.is_none() && !provisioner) {
        return Vec::new();
    }
    let mut all = Vec::new();
    super::network::objects(n, &mut all);
    let ours: Vec<String> = ["default-deny", "allow-dns", "nfs-provisioner"]
        .into_iter()
        .chain(thanos_components())
        .map(|p| n.obj(p))
        .collect();
    all.retain(|o| o.kind == "NetworkPolicy" && ours.contains(&o.name));
    let swaps = [
        (n.selector("prometheus", None), chart_prometheus_pods(s)),
        (n.selector("grafana", None), [("app.kubernetes.io/name".to_string(), "grafana".to_string())].into()),
    ];
    for o in &mut all {
        swap_selectors(&mut o.value, &swaps);
    }
    all
}

/// Labels of the operator's Prometheus pods for the chart's Prometheus resource.
fn chart_prometheus_pods(s: &Stack) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("app.kubernetes.io/name".to_string(), "prometheus".to_string());
    m.insert("operator.prometheus.io/name".to_string(), prometheus_cr(s));
    m
}

type Labels = BTreeMap<String, String>;

/// Replace every `podSelector` equal to one of `swaps`' selectors by its replacement.
fn swap_selectors(v: &mut Value, swaps: &[(Labels, Labels)]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "podSelector" {
                    if let Some((_, to)) = swaps.iter().find(|(from, _)| child["matchLabels"] == to_map(from)) {
                        *child = json!({"matchLabels": to_map(to)});
                        continue;
                    }
                }
                swap_selectors(child, swaps);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| swap_selectors(c, swaps)),
        _ => {}
    }
}

/// The objstore config as the Secret the operator reads (`existingSecret`): the same
/// text as the ConfigMap Store and Compactor mount, placeholders and all, no credential.
fn objstore_secret(n: &Names<'_>, t: &crate::model::Thanos) -> Object {
    let mut data = BTreeMap::new();
    data.insert(OBJSTORE_KEY.to_string(), yaml::to_string(&thanos::objstore_config(t)));
    Object::new(&Secret {
        metadata: meta(&n.obj("thanos-objstore"), Some(&n.ns()), n.labels("thanos", "objstore", None)),
        type_: Some("Opaque".into()),
        string_data: Some(data),
        ..Default::default()
    })
}

/// Point a static PV rendered for stackgen's StatefulSets at the operator's claim of the
/// same pod, and give it the stack-wide selector label the chart's one template asks for.
fn retarget_pv(n: &Names<'_>, o: &mut Object) {
    let shard: u16 = o.value["metadata"]["labels"]["stackgen.dev/shard"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("static PVs carry their shard");
    let replica: u32 = o.name.rsplit('-').next().and_then(|r| r.parse().ok()).expect("PV names end in the replica");
    let claim = &mut o.value["spec"]["claimRef"]["name"];
    assert!(claim.is_string(), "static PVs are pre-bound");
    *claim = json!(claim_name(n.stack, shard, replica));
    for (k, v) in volume_selector(n) {
        o.value["metadata"]["labels"][k] = json!(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> Stack {
        let src = crate::source::Source::new("t.toml", text);
        crate::check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack
    }

    #[test]
    fn operator_names() {
        let s = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 2\n");
        assert_eq!(statefulset_name(&s, 0), "prometheus-ha-prometheus");
        assert_eq!(statefulset_name(&s, 1), "prometheus-ha-prometheus-shard-1");
        assert_eq!(claim_name(&s, 1, 0), "prometheus-ha-prometheus-db-prometheus-ha-prometheus-shard-1-0");
    }

    #[test]
    fn fullname_is_cut_like_the_chart() {
        let s = stack("[stack]\nname = \"abcdefghijklmnopqrstuvwxy-z\"\n[storage]\nbackend = \"ephemeral\"\n");
        assert_eq!(fullname(&s), "abcdefghijklmnopqrstuvwxy");
    }

    #[test]
    fn cluster_namespaces_are_not_created() {
        // kube-* is refused before render (SG128); `default` and a namespace the stack
        // does not own render without a Namespace object.
        for meta in ["namespace = \"default\"", "namespace = \"shared\"\ncreate_namespace = false"] {
            let s = stack(&format!("[stack]\nname = \"x\"\n{meta}\n[storage]\nbackend = \"ephemeral\"\n"));
            assert!(!companion_objects(&s).iter().any(|o| o.kind == "Namespace"), "{meta}");
        }
    }

    #[test]
    fn images_split_registry() {
        let img = |r: &str| Image { repository: r.into(), tag: "v1".into(), digest: Some("sha256:ab".into()) };
        assert_eq!(
            image_values(&img("quay.io/prometheus/prometheus")),
            json!({"registry": "quay.io", "repository": "prometheus/prometheus", "tag": "v1", "sha": "ab"})
        );
        assert_eq!(image_values(&img("grafana/grafana"))["registry"], "docker.io");
    }
}
