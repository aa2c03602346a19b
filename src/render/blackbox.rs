//! The blackbox_exporter of `[[probe]]` (seed 004: probes for services without
//! /metrics): a ConfigMap with the modules the probes use, a headless Service (Prometheus
//! sends `/probe` requests to it; self-monitoring finds each pod through its DNS A
//! records), a Deployment of two replicas (a probe is stateless: either answers) with the
//! restricted pod profile, and its disruption budget. Its NetworkPolicy is in `network`.
//!
//! ICMP: the exporter sends unprivileged ICMP echo (datagram sockets), which the kernel
//! allows to the groups of `net.ipv4.ping_group_range`, a safe sysctl the restricted Pod
//! Security profile permits; no `NET_RAW` capability, no root.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Sysctl};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::k8s::{self, meta};
use super::pod::{checksum_annotation, pdb, spread, zone_spread};
use super::{Names, Object};
use crate::alerting::blackbox::{BLACKBOX_EXPORTER_IMAGE, BLACKBOX_EXPORTER_PORT};
use crate::alerting::stack::exporter_config;
use crate::model::probe::ProbeModule;

const CONFIG_DIR: &str = "/etc/blackbox_exporter";
/// Replicas of the exporter.
pub const REPLICAS: i32 = 2;

pub fn objects(n: &Names<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    let Some(config) = exporter_config(s) else { return };
    let ns = n.ns();
    let name = n.obj("blackbox-exporter");
    let labels = n.labels("blackbox-exporter", "blackbox-exporter", None);
    let sel = n.selector("blackbox-exporter", None);
    let checksum = checksum_annotation(&name, &config);
    out.push(k8s::config_map(&name, &ns, labels.clone(), BTreeMap::from([("blackbox.yml".to_string(), config)])));
    out.push(k8s::service_account(&name, &ns, labels.clone(), false));
    out.push(Object::new(&k8s::service(
        &name,
        &ns,
        labels.clone(),
        sel.clone(),
        vec![k8s::service_port("http", i32::from(BLACKBOX_EXPORTER_PORT))],
        true,
    )));
    let args = vec![
        format!("--config.file={CONFIG_DIR}/blackbox.yml"),
        format!("--web.listen-address=:{BLACKBOX_EXPORTER_PORT}"),
    ];
    let mut c = k8s::container("blackbox-exporter", BLACKBOX_EXPORTER_IMAGE.to_string(), args);
    c.ports = Some(vec![k8s::port("http", i32::from(BLACKBOX_EXPORTER_PORT))]);
    c.resources = Some(k8s::resources("25m", "64Mi", "128Mi", Some("500m")));
    c.readiness_probe = Some(k8s::http_probe("/-/healthy", "http", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/-/healthy", "http", 15, 4));
    c.volume_mounts = Some(vec![k8s::mount("config", CONFIG_DIR, true)]);
    let mut security = k8s::pod_security(65534, 65534);
    if s.probes.iter().any(|p| p.module == ProbeModule::Icmp) {
        security.sysctls =
            Some(vec![Sysctl { name: "net.ipv4.ping_group_range".into(), value: "0 2147483647".into() }]);
    }
    // The exporter reads its config only at start: a changed module rolls the pods.
    let annotations = BTreeMap::from([checksum]);
    out.push(Object::new(&Deployment {
        metadata: meta(&name, Some(&ns), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: k8s::selector(sel.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(security),
                    affinity: Some(spread(sel.clone())),
                    topology_spread_constraints: Some(zone_spread(sel.clone())),
                    containers: vec![c],
                    volumes: Some(vec![k8s::config_map_volume("config", &name)]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }));
    out.push(pdb(&name, &ns, labels, sel));
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    fn render(probes: &str) -> Vec<crate::render::Object> {
        let text = format!("[stack]\nname = \"p\"\n[storage]\nbackend = \"ephemeral\"\n{probes}");
        let src = crate::source::Source::new("p.toml", text);
        crate::render::render(&crate::check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack)
    }

    fn find<'a>(objs: &'a [crate::render::Object], kind: &str, name: &str) -> &'a Value {
        &objs.iter().find(|o| o.kind == kind && o.name == name).unwrap_or_else(|| panic!("{kind} {name}")).value
    }

    #[test]
    fn egress_is_the_ports_the_targets_name() {
        let objs = render(
            "[[probe]]\ntargets = [\"https://a.example.com/x\", \"http://b.example.com:8080/\"]\n\
             [[probe]]\nmodule = \"tcp_connect\"\ntargets = [\"db:5432\"]\n\
             [[probe]]\nmodule = \"dns\"\nquery_name = \"a.example.com\"\ntargets = [\"10.0.0.2\"]\n",
        );
        let np = find(&objs, "NetworkPolicy", "p-blackbox-exporter");
        let ports: Vec<(i64, &str)> = np["spec"]["egress"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["port"].as_i64().unwrap(), p["protocol"].as_str().unwrap()))
            .collect();
        assert_eq!(ports, [(53, "TCP"), (53, "UDP"), (443, "TCP"), (5432, "TCP"), (8080, "TCP")]);
        assert!(np["spec"]["egress"][0].get("to").is_none(), "any destination");
        let pod = &find(&objs, "Deployment", "p-blackbox-exporter")["spec"]["template"]["spec"];
        assert!(pod["securityContext"].get("sysctls").is_none(), "no sysctl without icmp");
        let cm = find(&objs, "ConfigMap", "p-blackbox-exporter");
        let cfg: Value = serde_saphyr::from_str(cm["data"]["blackbox.yml"].as_str().unwrap()).unwrap();
        let modules: Vec<&String> = cfg["modules"].as_object().unwrap().keys().collect();
        assert_eq!(modules, ["dns_a_example_com", "http_2xx", "tcp_connect"], "only the modules used");
    }

    #[test]
    fn icmp_is_unprivileged_with_any_egress() {
        let objs = render("[[probe]]\nmodule = \"icmp\"\ntargets = [\"10.0.0.1\"]\n");
        let pod = &find(&objs, "Deployment", "p-blackbox-exporter")["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["sysctls"],
            json!([{"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}])
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert!(c["securityContext"]["capabilities"].get("add").is_none(), "no NET_RAW");
        let np = find(&objs, "NetworkPolicy", "p-blackbox-exporter");
        assert_eq!(np["spec"]["egress"], json!([{}]), "ICMP has no port: any protocol, anywhere");
    }
}
