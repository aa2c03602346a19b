//! `[expose.<component>]`: a component reached from outside the cluster.
//!
//! - **nodeport / loadbalancer**: a Service of its own, `<stack>-<component>-external`,
//!   beside the in-cluster one, which keeps its name, type and ClusterIP (a headless
//!   Service cannot change type in place, and clients inside the cluster keep resolving
//!   what they resolved before). With `from`, `externalTrafficPolicy: Local` keeps the
//!   client's address on the packet, so the NetworkPolicy's ipBlocks can see it (with
//!   `Cluster` kube-proxy rewrites it to a node's), and a LoadBalancer also gets
//!   `loadBalancerSourceRanges`.
//! - **ingress**: an Ingress (networking.k8s.io/v1) to the in-cluster Service; the
//!   NetworkPolicy admits the ingress controller's namespace.
//!
//! Prometheus is exposed only with one shard (validation says so): its shard-0 pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::k8s::meta;
use super::{Names, Object};
use crate::model::expose::{Expose, ExposeKind, Exposed};

/// The name of the component's container port (and in-cluster Service port).
pub fn port_name(c: Exposed) -> &'static str {
    match c {
        Exposed::Grafana | Exposed::Query => "http",
        Exposed::Prometheus | Exposed::Alertmanager => "web",
    }
}

/// The in-cluster Service an Ingress routes to.
pub fn service_name(n: &Names<'_>, c: Exposed) -> String {
    match c {
        Exposed::Prometheus => n.shard("0"),
        _ => n.obj(c.component()),
    }
}

/// The selector of the pods behind the component.
pub fn pods(n: &Names<'_>, c: Exposed) -> BTreeMap<String, String> {
    match c {
        Exposed::Prometheus => n.selector("prometheus", Some("0")),
        _ => n.selector(c.component(), None),
    }
}

/// The URL users reach the component at, when an Ingress gives it a host: what the
/// component writes into links it sends out (Alertmanager's notifications and silences,
/// Prometheus' alert `generatorURL`, Grafana's redirects and alert links).
pub fn external_url(n: &Names<'_>, c: Exposed) -> Option<String> {
    match &n.stack.exposed(c)?.kind {
        ExposeKind::Ingress { host, tls_secret, .. } => {
            Some(format!("{}://{host}/", if tls_secret.is_some() { "https" } else { "http" }))
        }
        _ => None,
    }
}

/// The objects of every exposure of components stackgen runs (`only`: those of these
/// components; the helm-values target runs only Thanos Query itself).
pub fn objects(n: &Names<'_>, only: &[Exposed], out: &mut Vec<Object>) {
    for e in n.stack.expose.iter().filter(|e| only.contains(&e.component)) {
        out.push(object(n, e));
    }
}

fn object(n: &Names<'_>, e: &Expose) -> Object {
    let c = e.component;
    let ns = n.ns();
    let labels = n.labels(c.component(), "expose", None);
    match &e.kind {
        ExposeKind::NodePort { node_port } | ExposeKind::LoadBalancer { node_port } => {
            let lb = matches!(e.kind, ExposeKind::LoadBalancer { .. });
            let spec = ServiceSpec {
                type_: Some(if lb { "LoadBalancer" } else { "NodePort" }.into()),
                selector: Some(pods(n, c)),
                ports: Some(vec![ServicePort {
                    name: Some(port_name(c).into()),
                    port: c.port(),
                    target_port: Some(IntOrString::String(port_name(c).into())),
                    node_port: *node_port,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                external_traffic_policy: Some(if e.from.is_empty() { "Cluster" } else { "Local" }.into()),
                load_balancer_source_ranges: (lb && !e.from.is_empty()).then(|| e.from.clone()),
                ..Default::default()
            };
            Object::new(&Service {
                metadata: meta(&n.obj(&format!("{}-external", c.component())), Some(&ns), labels),
                spec: Some(spec),
                ..Default::default()
            })
        }
        ExposeKind::Ingress { host, class, tls_secret, .. } => {
            let mut metadata = meta(&n.obj(c.component()), Some(&ns), labels);
            if class.as_deref() == Some("nginx") && !e.from.is_empty() {
                // ingress-nginx sees the client; the NetworkPolicy sees only the controller.
                metadata.annotations = Some(BTreeMap::from([(
                    "nginx.ingress.kubernetes.io/whitelist-source-range".to_string(),
                    e.from.join(","),
                )]));
            }
            let backend = IngressBackend {
                service: Some(IngressServiceBackend {
                    name: service_name(n, c),
                    port: Some(ServiceBackendPort { number: Some(c.port()), name: None }),
                }),
                resource: None,
            };
            Object::new(&Ingress {
                metadata,
                spec: Some(IngressSpec {
                    ingress_class_name: class.clone(),
                    rules: Some(vec![IngressRule {
                        host: Some(host.clone()),
                        http: Some(HTTPIngressRuleValue {
                            paths: vec![HTTPIngressPath {
                                path: Some("/".into()),
                                path_type: "Prefix".into(),
                                backend,
                            }],
                        }),
                    }]),
                    tls: tls_secret
                        .as_ref()
                        .map(|s| vec![IngressTLS { hosts: Some(vec![host.clone()]), secret_name: Some(s.clone()) }]),
                    default_backend: None,
                }),
                ..Default::default()
            })
        }
    }
}
