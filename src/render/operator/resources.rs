//! The `Prometheus` and `Alertmanager` resources, and the scrape jobs of the
//! `additionalScrapeConfigs` Secret.

use serde_json::{json, Map, Value};

use super::{custom, API_VERSION};
use crate::model::chart::{prometheus_cr, semver_tag};
use crate::model::Stack;
use crate::render::helm::names::chart_prometheus_pods;
use crate::render::helm::values::{sidecar_credentials, to_map};
use crate::render::helm::OBJSTORE_KEY;
use crate::render::{prometheus, storage, Names, Object};

/// The key of the scrape jobs in their Secret.
pub const SCRAPE_KEY: &str = "scrape-configs.yaml";
/// The key of the alert relabelling (drop the shard label) in the same Secret.
pub const ALERT_RELABEL_KEY: &str = "alert-relabel-configs.yaml";

/// The alert relabelling of a stack whose shards are labelled: drop `shard`.
pub fn alert_relabels(s: &Stack) -> Option<Value> {
    (s.alertmanager.is_some() && s.sharding.kept() > 1).then(|| json!([{"regex": "^(shard)$", "action": "labeldrop"}]))
}

/// The Alertmanager resource's name: the stack's (the operator prefixes `alertmanager-`).
pub fn alertmanager_name(s: &Stack) -> String {
    s.name.to_string()
}

/// The labels every resource carries; the Prometheus resource selects the
/// PrometheusRules and Probes that carry them.
pub(super) fn labels(n: &Names<'_>, name: &str, component: &str) -> Value {
    to_map(&n.labels(name, component, None))
}

/// What the Prometheus resource selects: this stack's resources only.
pub(super) fn stack_selector(n: &Names<'_>) -> Value {
    json!({"matchLabels": {
        "app.kubernetes.io/instance": n.stack.name.as_str(),
        "app.kubernetes.io/part-of": "stackgen",
    }})
}

/// The scrape jobs of manifests mode without stackgen's sharding relabels (the operator
/// appends its own, the same rules, to every job of `additionalScrapeConfigs`), with
/// the Alertmanager job pointed at the operator's Alertmanager pods. With `source_labels`
/// other than `__address__`, stackgen's relabels stay, with the pod's `$(SHARD)`.
pub fn scrape_jobs(s: &Stack) -> Vec<Value> {
    let mut one = s.clone();
    one.sharding.shards = 1;
    one.sharding.retired = None;
    let n = Names { stack: &one };
    let cfg = prometheus::config(&n, "0");
    let mut jobs: Vec<Value> = cfg["scrape_configs"].as_array().cloned().unwrap_or_default();
    // The self-monitoring jobs of manifests mode name its pods: here each Prometheus pod
    // scrapes itself and its own sidecar, Thanos Query is reached through its Service, and
    // the shards' file_sd list (a manifests-mode ConfigMap) is not mounted.
    jobs.retain(|j| j["job_name"] != crate::alerting::stack::SHARDS_JOB);
    // Probe jobs are Probe resources here (the operator shards them on the target).
    jobs.retain(|j| !s.probes.iter().any(|p| j["job_name"] == p.job.as_str()));
    for j in &mut jobs {
        let own = |port: u16| json!([{"targets": [format!("localhost:{port}")], "labels": {"__tmp_disable_sharding": "true"}}]);
        match j["job_name"].as_str() {
            Some(crate::alerting::stack::PROMETHEUS_JOB) => j["static_configs"] = own(9090),
            Some(crate::alerting::stack::SIDECAR_JOB) => j["static_configs"] = own(10902),
            Some(crate::alerting::stack::QUERY_JOB) => {
                let m = j.as_object_mut().expect("job is a map");
                m.remove("dns_sd_configs");
                m.insert(
                    "static_configs".into(),
                    json!([{"targets": [format!("{}:10902", n.svc_fqdn(&n.obj("thanos-query")))]}]),
                );
            }
            _ => {}
        }
    }
    if let Some(i) = jobs.iter().position(|j| j["job_name"] == crate::alerting::stack::PROMETHEUS_JOB) {
        if let Some(shards) = shards_job(s, &n) {
            jobs.insert(i + 1, shards);
        }
    }
    if s.sharding.shards > 1 && s.sharding.source_labels != ["__address__"] {
        // The operator shards on `__address__` unless a job has a hashmod of its own: with
        // other source labels, stackgen's relabels, keeping the pod's own shard through
        // `$(SHARD)`, which the operator's config reloader expands as in its own rules.
        for j in &mut jobs {
            let rc = j.as_object_mut().expect("job is a map").entry("relabel_configs").or_insert_with(|| json!([]));
            rc.as_array_mut().expect("a list").extend(prometheus::sharding_relabels(s, "$(SHARD)"));
        }
    }
    if let Some(am) = &s.alertmanager {
        let targets = alertmanager_targets(&n, am.replicas);
        for j in jobs.iter_mut().filter(|j| j["job_name"] == "alertmanager") {
            j["static_configs"] = json!([{"targets": targets}]);
        }
    }
    jobs
}

/// The `prometheus-shards` job of a sharded stack with self-monitoring, as in manifests
/// mode (every shard scrapes every shard's pods, so a shard whose every replica is down is
/// seen by the others: PrometheusShardMissing), with the operator's pod names: shard `i`'s
/// StatefulSet `prometheus-<cr>[-shard-<i>]`, its pods under the `prometheus-operated`
/// Service. Kept by every shard (`__tmp_disable_sharding`, which the operator's own keep
/// honours); an empty `/federate` stores only `up`.
fn shards_job(s: &Stack, n: &Names<'_>) -> Option<Value> {
    if !s.rules.self_monitoring || s.sharding.kept() <= 1 {
        return None;
    }
    let svc = n.svc_fqdn("prometheus-operated");
    let groups: Vec<Value> = (0..s.sharding.kept())
        .map(|i| {
            let sts = crate::model::chart::statefulset_name(s, i);
            let targets: Vec<String> = (0..s.prometheus.replicas)
                .map(|r| format!("{sts}-{r}.{svc}:{}", crate::render::pod::PROMETHEUS_PORT))
                .collect();
            json!({"targets": targets, "labels": {"prometheus_shard": i.to_string(), "__tmp_disable_sharding": "true"}})
        })
        .collect();
    Some(json!({
        "job_name": crate::alerting::stack::SHARDS_JOB,
        "metrics_path": "/federate",
        "params": {"match[]": [prometheus::SHARDS_LIVENESS_MATCH]},
        "static_configs": groups,
    }))
}

/// Each Alertmanager pod by its stable DNS name under the operator's
/// `alertmanager-operated` Service.
fn alertmanager_targets(n: &Names<'_>, replicas: u32) -> Vec<String> {
    let sts = format!("alertmanager-{}", alertmanager_name(n.stack));
    (0..replicas).map(|i| format!("{sts}-{i}.{}:9093", n.svc_fqdn("alertmanager-operated"))).collect()
}

/// The claim template the operator's `storage` takes, or an emptyDir for the ephemeral
/// backend (with the stack's size limit).
fn prometheus_storage(n: &Names<'_>) -> Value {
    let s = n.stack;
    match (storage::data_class(n), s.storage.size) {
        (Some(class), Some(size)) => {
            let mut spec = json!({
                "storageClassName": class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size.quantity()}},
            });
            // A selector blocks dynamic provisioning: static PVs only.
            if s.storage.backend.is_static() {
                spec["selector"] = json!({"matchLabels": to_map(&storage::stack_volume_selector(n))});
            }
            json!({"volumeClaimTemplate": {"spec": spec}})
        }
        (_, Some(size)) => json!({"emptyDir": {"sizeLimit": size.quantity()}}),
        _ => json!({"emptyDir": {}}),
    }
}

/// The pod security context of manifests mode.
fn security_context(user: i64, group: i64) -> Value {
    json!({
        "runAsUser": user,
        "runAsGroup": group,
        "fsGroup": group,
        // Without it the kubelet re-owns every file of the TSDB on every start.
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": true,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// Replicas of one shard on distinct nodes (required, as in manifests mode; preferred on
/// the ephemeral backend), and every pod spread over zones. The operator labels each pod
/// with its shard: `matchLabelKeys` makes one term per shard of one affinity.
fn affinity(s: &Stack, pods: &Value) -> (Value, Value) {
    let term = json!({
        "labelSelector": {"matchLabels": pods},
        "matchLabelKeys": ["operator.prometheus.io/shard"],
        "topologyKey": "kubernetes.io/hostname",
    });
    let anti = if matches!(s.storage.backend, crate::model::Backend::Ephemeral) {
        json!({"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]})
    } else {
        json!({"requiredDuringSchedulingIgnoredDuringExecution": [term]})
    };
    let spread = json!([{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": pods},
        "matchLabelKeys": ["operator.prometheus.io/shard"],
    }]);
    (json!({"podAntiAffinity": anti}), spread)
}

fn resources(r: &crate::model::Resources) -> Value {
    let mut limits = Map::new();
    limits.insert("memory".into(), json!(r.memory_limit.as_str()));
    if let Some(c) = &r.cpu_limit {
        limits.insert("cpu".into(), json!(c.as_str()));
    }
    json!({"requests": {"cpu": r.cpu.as_str(), "memory": r.memory.as_str()}, "limits": limits})
}

/// The `Prometheus` resource.
pub fn prometheus_resource(n: &Names<'_>) -> Object {
    let s = n.stack;
    let p = &s.prometheus;
    let cr = prometheus_cr(s);
    let ns = n.ns();
    let mut spec = Map::new();
    spec.insert("image".into(), json!(p.image.reference()));
    if let Some(v) = semver_tag(&p.image) {
        // The operator picks flags by this version; unset, it assumes its own default.
        spec.insert("version".into(), json!(v));
    }
    crate::render::helm::values::prometheus_spec_counts_and_retention(s, &mut spec);
    let mut external = p.external_labels.clone();
    // Retired shards count, as in manifests mode: shrinking to one shard keeps the label.
    let labelled = s.sharding.kept() > 1;
    if labelled {
        // Expanded per pod by the operator's config reloader (the SHARD variable), as
        // `$(POD_NAME)` is for the replica label: blocks of different shards stay apart.
        external.insert("shard".into(), "$(SHARD)".into());
    }
    spec.insert("externalLabels".into(), to_map(&external));
    spec.insert("replicaExternalLabelName".into(), json!(s.replica_label()));
    // No `prometheus="<ns>/<cr>"` label on every series, alert and block.
    spec.insert("prometheusExternalLabelName".into(), json!(""));
    // Replaying the WAL of a large TSDB takes minutes: an hour before the startup probe
    // gives up, as in manifests mode (the operator's default is 15 minutes).
    spec.insert("maximumStartupDurationSeconds".into(), json!(3600));
    spec.insert("serviceAccountName".into(), json!(n.obj("prometheus")));
    // A token only for what reads the API: Kubernetes discovery, or the Alertmanager
    // endpoints the operator's config discovers.
    let needs_api = s.kubernetes.discovery || s.kubernetes.control_plane || s.alertmanager.is_some();
    spec.insert("automountServiceAccountToken".into(), json!(needs_api));
    spec.insert("podMetadata".into(), json!({"labels": to_map(&pod_labels(n))}));
    spec.insert("securityContext".into(), security_context(p.run_as_user, p.fs_group));
    spec.insert("resources".into(), resources(&p.resources));
    let pods = to_map(&chart_prometheus_pods(s));
    let (affinity, spread) = affinity(s, &pods);
    spec.insert("affinity".into(), affinity);
    spec.insert("topologySpreadConstraints".into(), spread);
    spec.insert("storage".into(), prometheus_storage(n));
    // Everything stackgen scrapes is in the Secret; nothing else is selected.
    spec.insert(
        "additionalScrapeConfigs".into(),
        json!({"name": n.obj("prometheus-scrape-configs"), "key": SCRAPE_KEY}),
    );
    spec.insert("ruleSelector".into(), stack_selector(n));
    spec.insert("probeSelector".into(), stack_selector(n));
    // Alertmanager and Kubernetes discovery through EndpointSlices (Endpoints are
    // deprecated since Kubernetes 1.33).
    spec.insert("serviceDiscoveryRole".into(), json!("EndpointSlice"));
    if s.alertmanager.is_some() && labelled {
        // The operator drops the replica label from alerts; the shard label too, as in
        // manifests mode, so an alert every shard raises reaches Alertmanager once.
        spec.insert(
            "additionalAlertRelabelConfigs".into(),
            json!({"name": n.obj("prometheus-scrape-configs"), "key": ALERT_RELABEL_KEY}),
        );
    }
    if s.alertmanager.is_some() {
        spec.insert(
            "alerting".into(),
            json!({"alertmanagers": [{
                "namespace": ns,
                "name": "alertmanager-operated",
                "port": "web",
                "apiVersion": "v2",
            }]}),
        );
    }
    if let Some(t) = &s.thanos {
        let mut thanos = json!({
            "image": t.image.reference(),
            // The sidecar's resources of manifests mode.
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "objectStorageConfig": {"name": n.obj("thanos-objstore"), "key": OBJSTORE_KEY},
        });
        if let Some(v) = semver_tag(&t.image) {
            thanos["version"] = json!(v);
        }
        spec.insert("thanos".into(), thanos);
        if t.objstore.credentials_secret.is_some() {
            // The credentials reach the operator's thanos-sidecar container as in
            // helm-values: a container patch merged by name.
            let (container, volumes) = sidecar_credentials(t);
            spec.insert("containers".into(), json!([container]));
            if !volumes.is_empty() {
                spec.insert("volumes".into(), Value::Array(volumes));
            }
        }
    }
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "Prometheus",
        "metadata": {"name": cr, "namespace": ns, "labels": labels(n, "prometheus", "server")},
        "spec": spec,
    });
    custom("Prometheus", &cr, &ns, value)
}

/// Labels the operator's pods get besides its own: part-of and the stack's labels (the
/// operator's `app.kubernetes.io/name` and `instance` win over any here).
fn pod_labels(n: &Names<'_>) -> std::collections::BTreeMap<String, String> {
    let mut m = n.stack.labels.clone();
    m.insert("app.kubernetes.io/part-of".into(), "stackgen".into());
    m.insert("app.kubernetes.io/component".into(), "server".into());
    m
}

/// The `Alertmanager` resource; its config is the Secret `alertmanager-<name>`
/// (companions).
pub fn alertmanager_resource(n: &Names<'_>) -> Object {
    let s = n.stack;
    let am = s.alertmanager.as_ref().expect("called with Alertmanager on");
    let name = alertmanager_name(s);
    let ns = n.ns();
    let owner = n.obj("alertmanager");
    let storage = match storage::component_class(n) {
        Some(class) => {
            let mut spec = json!({
                "storageClassName": class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": am.size.quantity()}},
            });
            if let Some(sel) = storage::component_selector(n, &owner) {
                spec["selector"] = json!({"matchLabels": to_map(&sel)});
            }
            json!({"volumeClaimTemplate": {"spec": spec}})
        }
        None => json!({"emptyDir": {"sizeLimit": am.size.quantity()}}),
    };
    let mut spec = json!({
        "image": am.image.reference(),
        "replicas": am.replicas,
        "storage": storage,
        "securityContext": security_context(65534, 65534),
        // Alertmanager reads nothing from the API.
        "automountServiceAccountToken": false,
        "podMetadata": {"labels": to_map(&pod_labels(n))},
        "resources": resources(&am.resources),
    });
    if let Some(v) = semver_tag(&am.image) {
        spec["version"] = json!(v);
    }
    // The receivers' Secrets: the operator mounts each at /etc/alertmanager/secrets/<name>/,
    // where the config's `*_file` keys read them.
    let secrets: Vec<String> = crate::alerting::receivers::AlertmanagerConfig::of(am)
        .map(|c| c.mounts().into_iter().map(|m| m.secret).collect())
        .unwrap_or_default();
    if !secrets.is_empty() {
        spec["secrets"] = json!(secrets);
    }
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "Alertmanager",
        "metadata": {"name": name, "namespace": ns, "labels": labels(n, "alertmanager", "alertmanager")},
        "spec": spec,
    });
    custom("Alertmanager", &name, &ns, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(extra: &str) -> Stack {
        let text = format!(
            "[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 3\n{extra}\n\
             [[scrape]]\njob = \"x\"\nstatic_targets = [\"a:1\"]\n"
        );
        let src = crate::source::Source::new("t.toml", text);
        crate::check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack
    }

    fn hashmods(jobs: &[Value]) -> Vec<&Value> {
        jobs.iter()
            .flat_map(|j| j["relabel_configs"].as_array().into_iter().flatten())
            .filter(|r| r["action"] == "hashmod" || r["regex"].as_str().is_some_and(|x| x.contains("SHARD")))
            .collect()
    }

    #[test]
    fn retired_shards_are_the_operators_shard_retention() {
        let text = "[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[alertmanager]\n\
                    [sharding]\nshards = 1\nretired = { shards = 4, since = \"2026-12-01\" }\n";
        let s = crate::check(&crate::source::Source::new("t.toml", text)).unwrap_or_else(|d| panic!("{d:#?}")).stack;
        let p = prometheus_resource(&Names { stack: &s }).value;
        assert_eq!(p["spec"]["shardRetentionPolicy"]["whenScaled"], "Retain");
        assert_eq!(p["spec"]["shards"], 1);
        // One active shard with retired ones keeps the shard label, and drops it from alerts.
        assert_eq!(p["spec"]["externalLabels"]["shard"], "$(SHARD)");
        assert!(p["spec"].get("additionalAlertRelabelConfigs").is_some());
        assert!(hashmods(&scrape_jobs(&s)).is_empty());
    }

    #[test]
    fn every_shard_watches_every_shard_by_the_operators_pod_names() {
        let jobs = scrape_jobs(&stack(""));
        let j = jobs.iter().find(|j| j["job_name"] == "prometheus-shards").expect("a prometheus-shards job");
        let groups = j["static_configs"].as_array().unwrap();
        assert_eq!(groups.len(), 3);
        assert_eq!(
            groups[0]["targets"][0],
            "prometheus-ha-prometheus-0.prometheus-operated.monitoring.svc.cluster.local:9090"
        );
        assert_eq!(
            groups[2]["targets"][0],
            "prometheus-ha-prometheus-shard-2-0.prometheus-operated.monitoring.svc.cluster.local:9090"
        );
        assert_eq!(groups[2]["labels"]["prometheus_shard"], "2");
        assert!(groups.iter().all(|g| g["labels"]["__tmp_disable_sharding"] == "true"));
        // Not without self-monitoring, nor with one shard.
        let off = scrape_jobs(&stack("[rules]\nself_monitoring = false\n"));
        assert!(off.iter().all(|j| j["job_name"] != "prometheus-shards"));
        let mut one = stack("");
        one.sharding.shards = 1;
        assert!(scrape_jobs(&one).iter().all(|j| j["job_name"] != "prometheus-shards"));
    }

    #[test]
    fn the_operator_shards_jobs_unless_source_labels_need_stackgens_relabels() {
        // On __address__, the operator appends its own relabels: none of stackgen's.
        assert!(hashmods(&scrape_jobs(&stack(""))).is_empty());
        // On other labels, stackgen's, keeping the pod's $(SHARD): the operator adds none.
        let s = stack("source_labels = [\"__address__\", \"job\"]");
        let jobs = scrape_jobs(&s);
        let h = hashmods(&jobs);
        assert_eq!(h.len(), 2 * jobs.len(), "{h:#?}");
        assert!(h.iter().any(|r| r["regex"] == "$(SHARD);|.+;.+"));
        assert!(h.iter().any(|r| r["modulus"] == 3));
    }
}
