//! The objects the operator does not create, built by the manifests builders with the
//! operator's names: the Namespace, storage (StorageClass, static PVs pre-bound to the
//! operator's claims, the NFS provisioner), the Prometheus ServiceAccount and its RBAC,
//! the scrape-config and Alertmanager-config Secrets, disruption budgets, Thanos Query,
//! Store Gateway and Compactor with the Service over the sidecars, Grafana, and the
//! NetworkPolicies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::resources::{alert_relabels, alertmanager_name, scrape_jobs, ALERT_RELABEL_KEY, SCRAPE_KEY};
use crate::model::volumes::{Component, ComponentVolume};
use crate::model::Stack;
use crate::render::helm::companions::objstore_secret;
use crate::render::helm::names::{chart_prometheus_pods, claim_name, thanos_discovery};
use crate::render::k8s::{self, meta};
use crate::render::pod::{pdb, PROMETHEUS_PORT, THANOS_GRPC_PORT, THANOS_HTTP_PORT};
use crate::render::{network, prometheus, storage, thanos, workloads, yaml, Names, Object};

/// The companion objects of the operator render, in apply order.
pub fn companion_objects(s: &Stack) -> Vec<Object> {
    let n = Names { stack: s };
    let ns = n.ns();
    let mut objs = Vec::new();
    if s.owns_namespace() {
        objs.push(k8s::namespace(&n));
    }
    let am = alertmanager_name(s);
    let operator_claim = |shard: u16, replica: u32| claim_name(s, shard, replica);
    // The operator's Alertmanager claims are `alertmanager-<name>-db-alertmanager-<name>-<i>`;
    // Store Gateway, Compactor and Grafana are stackgen's, with the manifests names.
    let component = |v: &ComponentVolume| match v.component {
        Component::Alertmanager => {
            let ordinal = v.dir.rsplit('-').next().unwrap_or("0");
            Some(format!("alertmanager-{am}-db-alertmanager-{am}-{ordinal}"))
        }
        _ => Some(v.claim.clone()),
    };
    storage::objects(&n, &storage::Claims::Operator { claim: &operator_claim, component: &component }, &mut objs);
    // The ServiceAccount the Prometheus resource names, and the ClusterRole its jobs need.
    // (Only those: its rules and shards ConfigMaps are manifests mode's; the operator
    // loads PrometheusRules and has no shards' watch list.)
    let mut own = Vec::new();
    prometheus::objects(&n, &mut own);
    objs.extend(
        own.into_iter().filter(|o| matches!(o.kind.as_str(), "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding")),
    );
    let pods = chart_prometheus_pods(s);
    objs.push(scrape_secret(&n));
    if s.prometheus.replicas > 1 {
        // One budget over every shard: one pod at a time, as in helm-values.
        objs.push(pdb(&n.obj("prometheus"), &ns, n.labels("prometheus", "server", None), pods.clone()));
    }
    if let Some(a) = &s.alertmanager {
        objs.extend(alertmanager_discovery(&n));
        let mut data = BTreeMap::new();
        data.insert("alertmanager.yaml".to_string(), workloads::alertmanager_config(a));
        objs.push(Object::new(&Secret {
            metadata: meta(&format!("alertmanager-{am}"), Some(&ns), n.labels("alertmanager", "alertmanager", None)),
            type_: Some("Opaque".into()),
            string_data: Some(data),
            ..Default::default()
        }));
        if a.replicas > 1 {
            let mut sel = BTreeMap::new();
            sel.insert("app.kubernetes.io/name".to_string(), "alertmanager".to_string());
            sel.insert("alertmanager".to_string(), am.clone());
            objs.push(pdb(&n.obj("alertmanager"), &ns, n.labels("alertmanager", "alertmanager", None), sel));
        }
    }
    if let Some(t) = &s.thanos {
        // Query finds the sidecars through this headless Service (the chart's name for it).
        let discovery = thanos_discovery(s);
        objs.push(Object::new(&k8s::service(
            &discovery,
            &ns,
            n.labels("thanos-sidecar", "sidecar", None),
            pods.clone(),
            vec![k8s::service_port("grpc", THANOS_GRPC_PORT), k8s::service_port("http", THANOS_HTTP_PORT)],
            true,
        )));
        thanos::objects(&n, thanos::Sidecars::Service(&discovery), &mut objs);
        objs.push(objstore_secret(&n, t));
    }
    if s.grafana.is_some() {
        objs.push(workloads::ui_service_account(&n));
        let m = super::self_monitoring(s);
        workloads::grafana(&n, crate::render::dashboard::enabled(&n).then_some(&m), &mut objs);
        if s.thanos.is_none() {
            // Grafana's datasources are one per shard, by manifests mode's Service names.
            for shard in 0..s.sharding.shards {
                let id = shard.to_string();
                let mut sel = pods.clone();
                sel.insert("operator.prometheus.io/shard".into(), id.clone());
                objs.push(Object::new(&k8s::service(
                    &n.shard(&id),
                    &ns,
                    n.labels("prometheus", "server", Some(&id)),
                    sel,
                    vec![k8s::service_port("web", PROMETHEUS_PORT)],
                    false,
                )));
            }
        }
    }
    network::objects(&n, &network::Peers::Operator { prometheus: pods }, &mut objs);
    crate::render::sort(&mut objs);
    objs
}

/// The jobs of `additionalScrapeConfigs`, as a YAML list in a Secret, and the alert
/// relabelling of `additionalAlertRelabelConfigs`.
fn scrape_secret(n: &Names<'_>) -> Object {
    let mut data = BTreeMap::new();
    data.insert(SCRAPE_KEY.to_string(), yaml::to_string(&serde_json::Value::Array(scrape_jobs(n.stack))));
    if let Some(relabels) = alert_relabels(n.stack) {
        data.insert(ALERT_RELABEL_KEY.to_string(), yaml::to_string(&relabels));
    }
    Object::new(&Secret {
        metadata: meta(&n.obj("prometheus-scrape-configs"), Some(&n.ns()), n.labels("prometheus", "server", None)),
        type_: Some("Opaque".into()),
        string_data: Some(data),
        ..Default::default()
    })
}

/// What the operator's Alertmanager discovery needs in the namespace: EndpointSlices,
/// Services and Pods (the `alerting.alertmanagers` config of role `endpointslice`).
fn alertmanager_discovery(n: &Names<'_>) -> Vec<Object> {
    let ns = n.ns();
    let name = n.obj("prometheus-alertmanagers");
    let labels = n.labels("prometheus", "server", None);
    let rule = |groups: &[&str], resources: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: ["get", "list", "watch"].iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    vec![
        Object::new(&Role {
            metadata: meta(&name, Some(&ns), labels.clone()),
            rules: Some(vec![rule(&[""], &["pods", "services"]), rule(&["discovery.k8s.io"], &["endpointslices"])]),
        }),
        Object::new(&RoleBinding {
            metadata: meta(&name, Some(&ns), labels),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: name.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: n.obj("prometheus"),
                namespace: Some(ns),
                ..Default::default()
            }]),
        }),
    ]
}
