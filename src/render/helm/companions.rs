//! The objects the chart does not create (helm-values `manifests.yaml`), built by the
//! manifests builders with the chart's names as parameters.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};

use super::names::{chart_grafana_pods, chart_prometheus_pods, claim_name, thanos_components, thanos_discovery};
use super::OBJSTORE_KEY;
use crate::model::expose::Exposed;
use crate::model::volumes::{Component, ComponentVolume};
use crate::model::{Backend, Stack};
use crate::render::k8s::meta;
use crate::render::{expose, network, storage, thanos, yaml, Names, Object};

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
    // Static PVs pre-bound to the operator's claims; none for Alertmanager and Grafana,
    // whose chart claims fall back to emptyDir (SG125).
    let operator_claim = |shard: u16, replica: u32| claim_name(s, shard, replica);
    let chart_claim = |v: &ComponentVolume| {
        (!matches!(v.component, Component::Alertmanager | Component::Grafana)).then(|| v.claim.clone())
    };
    storage::objects(&n, &storage::Claims::Operator { claim: &operator_claim, component: &chart_claim }, &mut objs);
    if let Some(t) = &s.thanos {
        // Query finds the sidecars through the chart's thanosService.
        let discovery = thanos_discovery(s);
        thanos::objects(&n, thanos::Sidecars::Service(&discovery), &mut objs);
        objs.push(objstore_secret(&n, t));
        // Thanos Query is stackgen's here: its exposure is too.
        expose::objects(&n, &[Exposed::Query], &mut objs);
    }
    // The chart has no blackbox_exporter: stackgen's, with the chart's Prometheus pods
    // as its clients.
    crate::render::blackbox::objects(&n, &mut objs);
    // The stack's dashboard, for the chart's Grafana sidecar to load.
    if crate::render::dashboard::enabled(&n) {
        let label = crate::render::dashboard::SIDECAR_LABEL;
        let src = crate::alerting::dashboard::Source::one("Prometheus", HELM_DATASOURCE_UID, false);
        objs.push(crate::render::dashboard::config_map(&n, &helm_self_monitoring(s), &src, false, &[label]));
    }
    objs.extend(network_policies(&n));
    crate::render::sort(&mut objs);
    objs
}

/// The uid of the chart's default datasource (`grafana.sidecar.datasources.uid`, set in
/// the values): Prometheus, or Thanos Query with Thanos.
pub(crate) const HELM_DATASOURCE_UID: &str = "prometheus";

/// What the dashboard queries in helm-values mode: the jobs the chart's ServiceMonitors
/// name after their Services (`<fullname>-prometheus`, `<fullname>-alertmanager`, the
/// sidecars' `thanosService`), the operator's claims, and stackgen's PodMonitor's names
/// for Query, Store Gateway and Compactor.
pub(crate) fn helm_self_monitoring(s: &Stack) -> crate::alerting::builtin::SelfMonitoring {
    let mut m = crate::render::operator::self_monitoring(s);
    m.prometheus_job = super::names::prometheus_cr(s);
    if let Some(t) = m.thanos.as_mut() {
        t.sidecar = thanos_discovery(s);
    }
    if let Some(a) = m.alertmanager.as_mut() {
        a.job = format!("{}-alertmanager", super::names::fullname(s));
    }
    m
}

/// The policies of manifests mode for the pods stackgen runs beside the chart (Thanos
/// Query, Store Gateway, Compactor, the NFS provisioner): deny by default, DNS, and the
/// flows each needs, with the chart's pod labels wherever a peer is a pod the chart runs
/// (Prometheus with its sidecar, Grafana). The chart's own pods get none (SG125 says
/// so).
fn network_policies(n: &Names<'_>) -> Vec<Object> {
    let s = n.stack;
    let provisioner = matches!(s.storage.backend, Backend::NfsProvisioner { .. });
    if !s.network_policies || (s.thanos.is_none() && !provisioner && s.probes.is_empty()) {
        return Vec::new();
    }
    let mut all = Vec::new();
    let peers = network::Peers::Chart { prometheus: chart_prometheus_pods(s), grafana: chart_grafana_pods() };
    network::objects(n, &peers, &mut all);
    debug_assert!(all.iter().all(|o| {
        let ours = ["default-deny", "allow-dns", "nfs-provisioner", "blackbox-exporter"]
            .into_iter()
            .chain(thanos_components());
        ours.map(|p| n.obj(p)).any(|name| name == o.name)
    }));
    all
}

/// The objstore config as the Secret the operator reads (`existingSecret`): the same
/// text as the ConfigMap Store and Compactor mount, placeholders and all, no credential.
pub(crate) fn objstore_secret(n: &Names<'_>, t: &crate::model::Thanos) -> Object {
    let mut data = BTreeMap::new();
    data.insert(OBJSTORE_KEY.to_string(), yaml::to_string(&thanos::objstore_config(t)));
    Object::new(&Secret {
        metadata: meta(&n.obj("thanos-objstore"), Some(&n.ns()), n.labels("thanos", "objstore", None)),
        type_: Some("Opaque".into()),
        string_data: Some(data),
        ..Default::default()
    })
}
