//! NetworkPolicies (`[security] network_policies`, on by default): deny everything to and
//! from the stack's pods, then allow exactly the flows the stack needs:
//! DNS for every pod; Query → sidecars and Store Gateways on gRPC; Grafana → Query or
//! Prometheus; Prometheus → Alertmanager, and Prometheus scraping every stack pod's
//! metrics port; Alertmanager peers gossiping; users → Grafana; the `from` networks (and
//! the ingress controller's namespace) → an exposed component; Grafana → `[grafana]
//! egress`. Components that must
//! reach things outside the stack whose addresses stackgen cannot know (scrape targets
//! and the API server for Prometheus, object storage for Thanos, receivers for
//! Alertmanager, the NFS server for the provisioner) get unrestricted egress.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::k8s::{meta, selector};
use super::pod::{PROMETHEUS_PORT, THANOS_GRPC_PORT, THANOS_HTTP_PORT};
use super::{Names, Object};
use crate::alerting::blackbox::BLACKBOX_EXPORTER_PORT;
use crate::model::expose::{ExposeKind, Exposed};
use crate::model::probe::{ProbeModule, ProbeSpec};
use crate::model::Backend;

fn port(n: i32, proto: &str) -> NetworkPolicyPort {
    NetworkPolicyPort { port: Some(IntOrString::Int(n)), protocol: Some(proto.into()), ..Default::default() }
}

fn tcp(ports: &[i32]) -> Vec<NetworkPolicyPort> {
    ports.iter().map(|p| port(*p, "TCP")).collect()
}

/// Pods of one component of this stack.
fn pods(n: &Names<'_>, name: &str) -> NetworkPolicyPeer {
    peer(n.selector(name, None))
}

fn peer(labels: BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector(labels)), ..Default::default() }
}

fn from(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule { from: Some(peers), ports: Some(ports) }
}

fn to(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule { to: Some(peers), ports: Some(ports) }
}

/// Any destination: for flows to addresses outside the stack that stackgen cannot know.
fn anywhere() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule::default()
}

fn policy(
    n: &Names<'_>,
    name: &str,
    pod_selector: BTreeMap<String, String>,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> Object {
    let mut types = Vec::new();
    if ingress.is_some() {
        types.push("Ingress".to_string());
    }
    if egress.is_some() {
        types.push("Egress".to_string());
    }
    Object::new(&NetworkPolicy {
        metadata: meta(&n.obj(name), Some(&n.ns()), n.labels("network-policy", "network-policy", None)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(pod_selector)),
            policy_types: Some(types),
            ingress,
            egress,
        }),
    })
}

/// The rule admitting the clients of an exposed component (`[expose.<component>]`):
/// exactly its `from` networks, plus the ingress controller's namespace behind an
/// Ingress; anyone when `from` is empty (lint SG156 warns). `None` when not exposed.
fn exposure(n: &Names<'_>, c: Exposed) -> Option<NetworkPolicyIngressRule> {
    let e = n.stack.exposed(c)?;
    let mut peers: Vec<NetworkPolicyPeer> = e
        .from
        .iter()
        .map(|cidr| NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
            ..Default::default()
        })
        .collect();
    if let ExposeKind::Ingress { controller_namespace, .. } = &e.kind {
        if !e.from.is_empty() {
            peers.push(NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(
                        [("kubernetes.io/metadata.name".to_string(), controller_namespace.clone())].into(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    let from = (!peers.is_empty()).then_some(peers);
    Some(NetworkPolicyIngressRule { from, ports: Some(tcp(&[c.port()])) })
}

/// Selector of every pod of the stack.
fn all_pods(n: &Names<'_>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("app.kubernetes.io/instance".to_string(), n.stack.name.to_string());
    m.insert("app.kubernetes.io/part-of".to_string(), "stackgen".to_string());
    m
}

/// Whose pods get policies, and the labels of the pods they talk to.
pub enum Peers {
    /// Every pod is stackgen's (manifests).
    Stackgen,
    /// Beside the chart (helm-values): policies only for the pods stackgen runs there
    /// (Thanos Query, Store Gateway, Compactor, the NFS provisioner); Prometheus and
    /// Grafana are the chart's pods, selected by these labels.
    Chart { prometheus: BTreeMap<String, String>, grafana: BTreeMap<String, String> },
    /// Beside the Prometheus Operator (`--format operator`): every pod is stackgen's or
    /// carries the stack's labels, except Prometheus, whose pods the operator labels
    /// with these.
    Operator { prometheus: BTreeMap<String, String> },
}

pub fn objects(n: &Names<'_>, peers: &Peers, out: &mut Vec<Object>) {
    let s = n.stack;
    if !s.network_policies {
        return;
    }
    let chart = matches!(peers, Peers::Chart { .. });
    // The operator labels its Prometheus pods itself.
    let operator_prometheus = match peers {
        Peers::Operator { prometheus } => Some(prometheus.clone()),
        _ => None,
    };
    let pods = |n: &Names<'_>, name: &str| match (peers, name) {
        (Peers::Chart { prometheus, .. }, "prometheus") => peer(prometheus.clone()),
        (Peers::Chart { grafana, .. }, "grafana") => peer(grafana.clone()),
        (Peers::Operator { prometheus }, "prometheus") => peer(prometheus.clone()),
        _ => pods(n, name),
    };
    let thanos_on = s.thanos.is_some();
    // Deny all, both ways, for every pod of the stack.
    out.push(policy(n, "default-deny", all_pods(n), Some(Vec::new()), Some(Vec::new())));
    // DNS for everyone.
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some([("kubernetes.io/metadata.name".to_string(), "kube-system".to_string())].into()),
            ..Default::default()
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some([("k8s-app".to_string(), "kube-dns".to_string())].into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Resolvers that are not kube-dns pods: NodeLocal DNSCache (169.254.20.10 on every
    // node, hostNetwork), GKE Cloud DNS (the metadata server), or a cluster DNS outside
    // kube-system. NetworkPolicy sees the address a packet goes to after the Service is
    // resolved, so pod and ipBlock peers together cover every setup.
    let mut peers = vec![dns];
    peers.extend(s.kubernetes.dns_addresses.iter().map(|cidr| NetworkPolicyPeer {
        ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
        ..Default::default()
    }));
    out.push(policy(n, "allow-dns", all_pods(n), None, Some(vec![to(peers, vec![port(53, "UDP"), port(53, "TCP")])])));

    let prom = pods(n, "prometheus");
    // Prometheus: scraped by nobody but itself (localhost); queried by Grafana and,
    // through the sidecar, by Query. Egress anywhere: targets and the API server.
    let mut ingress = Vec::new();
    if s.grafana.is_some() && !thanos_on {
        ingress.push(from(vec![pods(n, "grafana")], tcp(&[PROMETHEUS_PORT])));
    }
    if s.rules.self_monitoring {
        // Self-monitoring: the replicas of a shard scrape each other, every shard checks
        // every other one.
        ingress.push(from(vec![prom.clone()], tcp(&[PROMETHEUS_PORT])));
    }
    if thanos_on {
        ingress.push(from(vec![pods(n, "thanos-query")], tcp(&[THANOS_GRPC_PORT])));
        ingress.push(from(vec![prom.clone()], tcp(&[THANOS_HTTP_PORT])));
    }
    ingress.extend(exposure(n, Exposed::Prometheus));
    if !chart {
        let selected = operator_prometheus.clone().unwrap_or_else(|| n.selector("prometheus", None));
        out.push(policy(n, "prometheus", selected, Some(ingress), Some(vec![anywhere()])));
    }

    if thanos_on {
        out.push(policy(
            n,
            "thanos-query",
            n.selector("thanos-query", None),
            Some({
                let mut v = vec![from(vec![prom.clone()], tcp(&[THANOS_HTTP_PORT]))];
                if s.grafana.is_some() {
                    v.push(from(vec![pods(n, "grafana")], tcp(&[THANOS_HTTP_PORT])));
                }
                v.extend(exposure(n, Exposed::Query));
                v
            }),
            Some(vec![to(vec![prom.clone(), pods(n, "thanos-store")], tcp(&[THANOS_GRPC_PORT]))]),
        ));
        out.push(policy(
            n,
            "thanos-store",
            n.selector("thanos-store", None),
            Some(vec![
                from(vec![pods(n, "thanos-query")], tcp(&[THANOS_GRPC_PORT])),
                from(vec![prom.clone()], tcp(&[THANOS_HTTP_PORT])),
            ]),
            Some(vec![anywhere()]),
        ));
        out.push(policy(
            n,
            "thanos-compactor",
            n.selector("thanos-compactor", None),
            Some(vec![from(vec![prom.clone()], tcp(&[THANOS_HTTP_PORT]))]),
            Some(vec![anywhere()]),
        ));
    }
    if s.alertmanager.is_some() && !chart {
        let am = pods(n, "alertmanager");
        out.push(policy(
            n,
            "alertmanager",
            n.selector("alertmanager", None),
            Some(
                [
                    from(vec![prom.clone()], tcp(&[9093])),
                    from(vec![am.clone()], vec![port(9094, "TCP"), port(9094, "UDP")]),
                ]
                .into_iter()
                .chain(exposure(n, Exposed::Alertmanager))
                .collect(),
            ),
            // Receivers (mail, chat, webhooks) live anywhere.
            Some(vec![anywhere()]),
        ));
    }
    if let Some(grafana) = s.grafana.as_ref().filter(|_| !chart) {
        let upstream = if thanos_on {
            to(vec![pods(n, "thanos-query")], tcp(&[THANOS_HTTP_PORT]))
        } else {
            to(vec![prom.clone()], tcp(&[PROMETHEUS_PORT]))
        };
        // Users reach Grafana from wherever they are, unless [expose.grafana] says who.
        let users = exposure(n, Exposed::Grafana)
            .unwrap_or(NetworkPolicyIngressRule { from: None, ports: Some(tcp(&[Exposed::Grafana.port()])) });
        // [grafana] egress: SMTP relays, SSO providers.
        let mut egress = vec![upstream];
        egress.extend(grafana.egress.iter().map(|e| {
            to(
                vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock { cidr: e.cidr.clone(), except: None }),
                    ..Default::default()
                }],
                tcp(&[i32::from(e.port)]),
            )
        }));
        out.push(policy(n, "grafana", n.selector("grafana", None), Some(vec![users]), Some(egress)));
    }
    if !s.probes.is_empty() {
        out.push(policy(
            n,
            "blackbox-exporter",
            n.selector("blackbox-exporter", None),
            Some(vec![from(vec![prom.clone()], tcp(&[i32::from(BLACKBOX_EXPORTER_PORT)]))]),
            Some(vec![probe_egress(&s.probes)]),
        ));
    }
    if matches!(s.storage.backend, Backend::NfsProvisioner { .. }) {
        out.push(policy(
            n,
            "nfs-provisioner",
            n.selector("nfs-provisioner", None),
            Some(Vec::new()),
            Some(vec![anywhere()]),
        ));
    }
}

/// What the probes must reach: any address (probe targets are outside the stack), on the
/// ports the targets name (80 and 443 for URLs without one, 53 UDP and TCP for DNS). ICMP
/// has no port a NetworkPolicy can name: with an icmp probe, every protocol and port.
fn probe_egress(probes: &[ProbeSpec]) -> NetworkPolicyEgressRule {
    let mut ports: std::collections::BTreeSet<(i32, &str)> = std::collections::BTreeSet::new();
    for p in probes {
        for t in &p.targets {
            match &p.module {
                ProbeModule::Icmp => return anywhere(),
                ProbeModule::Http2xx | ProbeModule::HttpPost2xx => {
                    let (scheme, rest) = t.split_once("://").unwrap_or(("http", t));
                    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                    let authority = authority.rsplit('@').next().unwrap_or_default();
                    let explicit = authority.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
                    let port = explicit.unwrap_or(if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 });
                    ports.insert((i32::from(port), "TCP"));
                }
                ProbeModule::TcpConnect => {
                    if let Some(port) = t.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()) {
                        ports.insert((i32::from(port), "TCP"));
                    }
                }
                ProbeModule::Dns { .. } => {
                    let port = t.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(53);
                    ports.insert((i32::from(port), "UDP"));
                    ports.insert((i32::from(port), "TCP"));
                }
            }
        }
    }
    NetworkPolicyEgressRule { to: None, ports: Some(ports.into_iter().map(|(p, proto)| port(p, proto)).collect()) }
}
