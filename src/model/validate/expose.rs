//! `[expose.<component>]` and `[grafana] egress`: what the schema cannot say (the
//! component exists, keys that fit the type, unique node ports, networks that parse, one
//! Prometheus to expose).

use std::collections::BTreeMap;

use super::scrape::valid_cidr;
use super::Reporter;
use crate::diagnostic::Code;
use crate::model::expose::{Egress, Expose, ExposeKind, Exposed, DEFAULT_CONTROLLER_NAMESPACE};
use crate::model::raw::{RawExpose, RawExposeAll, RawExposeKind};

/// What exists to be exposed.
pub(super) struct Present {
    pub grafana: bool,
    pub thanos: bool,
    pub alertmanager: bool,
    pub shards: u16,
}

pub(super) fn validate(raw: Option<&RawExposeAll>, present: &Present, r: &mut Reporter<'_>) -> Vec<Expose> {
    let Some(raw) = raw else { return Vec::new() };
    let mut out = Vec::new();
    let mut ports: BTreeMap<i32, String> = BTreeMap::new();
    for c in Exposed::ALL {
        let e = match c {
            Exposed::Grafana => raw.grafana.as_ref(),
            Exposed::Prometheus => raw.prometheus.as_ref(),
            Exposed::Query => raw.query.as_ref(),
            Exposed::Alertmanager => raw.alertmanager.as_ref(),
        };
        let Some(e) = e else { continue };
        let ptr = format!("/expose/{}", c.key());
        let missing = match c {
            Exposed::Grafana => (!present.grafana).then_some("there is no [grafana] table"),
            Exposed::Query => (!present.thanos).then_some("Thanos Query runs only with [thanos]"),
            Exposed::Alertmanager => (!present.alertmanager).then_some("there is no [alertmanager] table"),
            Exposed::Prometheus => None,
        };
        if let Some(why) = missing {
            r.error_at_key(
                Code::Expose,
                &ptr,
                format!("[expose.{}] exposes nothing: {why}", c.key()),
                "add the component, or remove the table",
            );
        }
        if c == Exposed::Prometheus && present.shards > 1 {
            r.error_at_key(
                Code::Expose,
                &ptr,
                format!(
                    "[expose.prometheus] with {} shards: each shard holds only its share of the series",
                    present.shards
                ),
                if present.thanos {
                    "expose Thanos Query instead ([expose.query]): it answers from every shard"
                } else {
                    "add [thanos] and expose Thanos Query ([expose.query]): it answers from every shard"
                },
            );
        }
        out.push(one(c, e, &ptr, &mut ports, r));
    }
    out
}

fn one(c: Exposed, e: &RawExpose, ptr: &str, ports: &mut BTreeMap<i32, String>, r: &mut Reporter<'_>) -> Expose {
    let ingress_only = [
        ("host", e.host.is_some()),
        ("ingress_class", e.ingress_class.is_some()),
        ("tls_secret", e.tls_secret.is_some()),
        ("controller_namespace", e.controller_namespace.is_some()),
    ];
    let kind = match e.kind {
        RawExposeKind::Nodeport | RawExposeKind::Loadbalancer => {
            for (key, set) in ingress_only {
                if set {
                    r.error_at_key(
                        Code::Expose,
                        &format!("{ptr}/{key}"),
                        format!("`{key}` is read only with type = \"ingress\""),
                        "remove it, or expose through an Ingress",
                    );
                }
            }
            if let Some(p) = e.node_port {
                let at = format!("{ptr}/node_port");
                if let Some(first) = ports.get(&p) {
                    let first_span = r.value_span(first);
                    r.conflict(
                        Code::Expose,
                        at.clone(),
                        format!("node port {p} is used twice"),
                        (first_span, "first used here"),
                        "a node port belongs to one Service in the whole cluster: pick another in 30000-32767",
                    );
                } else {
                    ports.insert(p, at);
                }
            }
            if e.kind == RawExposeKind::Nodeport {
                ExposeKind::NodePort { node_port: e.node_port }
            } else {
                ExposeKind::LoadBalancer { node_port: e.node_port }
            }
        }
        RawExposeKind::Ingress => {
            if e.node_port.is_some() {
                r.error_at_key(
                    Code::Expose,
                    &format!("{ptr}/node_port"),
                    "`node_port` is read only with type = \"nodeport\" or \"loadbalancer\"".to_string(),
                    "remove it: an Ingress reaches the in-cluster Service through the ingress controller",
                );
            }
            if e.host.is_none() {
                r.error(
                    Code::Expose,
                    ptr,
                    format!("[expose.{}] type = \"ingress\" has no `host`", c.key()),
                    format!("set host to the DNS name users open: host = \"{}.example.com\"", c.key()),
                );
            }
            ExposeKind::Ingress {
                host: e.host.clone().unwrap_or_default(),
                class: e.ingress_class.clone(),
                tls_secret: e.tls_secret.clone(),
                controller_namespace: e
                    .controller_namespace
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CONTROLLER_NAMESPACE.to_string()),
            }
        }
    };
    let from = e.from.clone().unwrap_or_default();
    for (i, cidr) in from.iter().enumerate() {
        if !valid_cidr(cidr) {
            r.error(
                Code::Expose,
                &format!("{ptr}/from/{i}"),
                format!("`{cidr}` is not a network"),
                "write an address with its prefix length: \"10.0.0.0/8\", \"203.0.113.7/32\"",
            );
        }
    }
    Expose { component: c, kind, from }
}

/// `[grafana] egress`: `CIDR:port` entries.
pub(super) fn egress(raw: Option<&Vec<String>>, r: &mut Reporter<'_>) -> Vec<Egress> {
    let mut out = Vec::new();
    for (i, e) in raw.into_iter().flatten().enumerate() {
        let parsed = e.rsplit_once(':').and_then(|(cidr, port)| {
            let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
            valid_cidr(cidr).then(|| Egress { cidr: cidr.to_string(), port })
        });
        match parsed {
            Some(eg) => out.push(eg),
            None => r.error(
                Code::Expose,
                &format!("/grafana/egress/{i}"),
                format!("`{e}` is not CIDR:port"),
                "write the network and the TCP port Grafana connects to: \"10.0.0.25/32:587\" (SMTP), \"0.0.0.0/0:443\" (SSO)",
            ),
        }
    }
    out
}
