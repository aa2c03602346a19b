//! `[expose.<component>]` and `[grafana] egress`, on the rendered objects:
//! - a real API server (etcd + kube-apiserver, tests/it/common/apiserver.rs) admits the
//!   NodePort and LoadBalancer Services and the Ingress, allocates the node port asked
//!   for (and one for a LoadBalancer without), refuses a second Service on a taken node
//!   port (what SG158 reports before apply); each exposed Service selects the pods of its
//!   component on a port their container declares, and the Ingress routes to a port of an
//!   existing Service;
//! - the NetworkPolicy of each exposed component admits exactly the `from` networks (and
//!   the ingress controller's namespace behind an Ingress) on its port; Grafana's egress
//!   opens exactly what `[grafana] egress` lists;
//! - kubernetes-validate (strict) and checkov accept the render;
//! - helm-values: `helm template` of the real chart with the values renders its Services
//!   as asked, and the API server admits them with the companions (Query's Ingress).

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::common::apiserver::{ok, ApiServer};
use crate::common::*;

const STACK: &str = r#"
[stack]
name = "exp"
namespace = "exposed"
[storage]
backend = "class"
size = "10Gi"
[storage.class]
name = "standard"
[thanos.objstore]
type = "s3"
bucket = "thanos"
endpoint = "minio.minio.svc:9000"
[alertmanager]
[[alertmanager.receivers]]
name = "oncall"
type = "webhook"
secret = "am-oncall"
[grafana]
admin_secret = "grafana-admin"
egress = ["10.0.0.25/32:587", "192.0.2.0/24:443"]
[expose.grafana]
type = "nodeport"
node_port = 30300
from = ["10.0.0.0/8", "192.168.1.0/24"]
[expose.prometheus]
type = "nodeport"
node_port = 30090
from = ["10.20.0.0/24"]
[expose.query]
type = "ingress"
host = "query.example.com"
ingress_class = "nginx"
tls_secret = "query-tls"
controller_namespace = "ingress"
from = ["10.0.0.0/8"]
[expose.alertmanager]
type = "loadbalancer"
from = ["203.0.113.0/24"]
"#;

fn rendered() -> (stackgen::model::Stack, Vec<Value>) {
    let stack = check_text("exposure.toml", STACK);
    let objs = docs(&stackgen::render_manifests(&stack));
    (stack, objs)
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render"))
}

/// The pod templates a Service's selector matches, among the rendered workloads.
fn selected_pods<'a>(objs: &'a [Value], selector: &Value) -> Vec<&'a Value> {
    let sel = selector.as_object().expect("a selector");
    objs.iter()
        .filter(|o| o["kind"] == "StatefulSet" || o["kind"] == "Deployment")
        .map(|o| &o["spec"]["template"])
        .filter(|t| sel.iter().all(|(k, v)| t["metadata"]["labels"][k] == *v))
        .collect()
}

fn container_ports(template: &Value) -> BTreeSet<(String, i64)> {
    template["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .map(|p| (p["name"].as_str().unwrap_or_default().to_string(), p["containerPort"].as_i64().unwrap()))
        .collect()
}

/// The exposed Services and the Ingress, as rendered: who they select and where they
/// route is consistent with the rest of the render.
#[test]
fn exposed_objects_point_at_their_components() {
    let (_, objs) = rendered();
    let externals: Vec<&Value> = objs
        .iter()
        .filter(|o| o["kind"] == "Service" && o["metadata"]["name"].as_str().unwrap().ends_with("-external"))
        .collect();
    assert_eq!(externals.len(), 3, "grafana, prometheus, alertmanager");
    for svc in externals {
        let name = svc["metadata"]["name"].as_str().unwrap();
        let pods = selected_pods(&objs, &svc["spec"]["selector"]);
        assert_eq!(pods.len(), 1, "{name} selects the pods of one workload");
        let port = &svc["spec"]["ports"][0];
        let target = port["targetPort"].as_str().unwrap();
        assert!(
            container_ports(pods[0]).contains(&(target.to_string(), port["port"].as_i64().unwrap())),
            "{name}: targetPort {target} is not a declared container port of the pods it selects"
        );
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Local", "{name}: the client address must reach the pod");
    }
    let ing = find(&objs, "Ingress", "exp-thanos-query");
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    let svc = find(&objs, "Service", backend["name"].as_str().unwrap());
    let ports: Vec<i64> =
        svc["spec"]["ports"].as_array().unwrap().iter().map(|p| p["port"].as_i64().unwrap()).collect();
    assert!(ports.contains(&backend["port"]["number"].as_i64().unwrap()), "{backend} not a port of {ports:?}");
    assert_eq!(ing["spec"]["tls"][0]["secretName"], "query-tls");
    assert_eq!(ing["spec"]["ingressClassName"], "nginx");

    // Behind an Ingress, Alertmanager's links point at its host; not behind a node port.
    let am_block = "[expose.alertmanager]\ntype = \"loadbalancer\"\n";
    assert!(STACK.contains(am_block));
    let behind_ingress = STACK.replace(
        am_block,
        "[expose.alertmanager]\ntype = \"ingress\"\nhost = \"am.example.com\"\ntls_secret = \"am-tls\"\n",
    );
    for (text, want) in [(STACK.to_string(), None), (behind_ingress, Some("https://am.example.com/"))] {
        let objs = docs(&stackgen::render_manifests(&check_text("am.toml", &text)));
        let sts = find(&objs, "StatefulSet", "exp-alertmanager");
        let args: Vec<&str> = sts["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let got = args.iter().find_map(|a| a.strip_prefix("--web.external-url="));
        assert_eq!(got, want, "{args:?}");
    }
}

/// The policy selecting a component's pods (by its `app.kubernetes.io/name`).
fn policy_for<'a>(objs: &'a [Value], component: &str) -> &'a Value {
    objs.iter()
        .find(|o| {
            o["kind"] == "NetworkPolicy"
                && o["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == component
        })
        .unwrap_or_else(|| panic!("no NetworkPolicy for {component}"))
}

/// The peers of the policy's ingress rules that name `port`.
fn peers_on_port(policy: &Value, port: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for rule in policy["spec"]["ingress"].as_array().unwrap() {
        if rule["ports"].as_array().unwrap().iter().any(|p| p["port"] == port) {
            match rule["from"].as_array() {
                Some(peers) => out.extend(peers.iter().cloned()),
                None => out.push(Value::String("anyone".into())),
            }
        }
    }
    out
}

fn cidrs(peers: &[Value]) -> BTreeSet<String> {
    peers.iter().filter_map(|p| p["ipBlock"]["cidr"].as_str().map(str::to_string)).collect()
}

#[test]
fn network_policies_admit_exactly_the_from_networks() {
    let (stack, objs) = rendered();
    for e in &stack.expose {
        let c = e.component.component();
        let peers = peers_on_port(policy_for(&objs, c), i64::from(e.component.port()));
        let from: BTreeSet<String> = e.from.iter().cloned().collect();
        assert_eq!(cidrs(&peers), from, "{c}: ipBlocks on its port");
        let namespaces: Vec<&Value> =
            peers.iter().filter(|p| p.get("namespaceSelector").is_some()).map(|p| &p["namespaceSelector"]).collect();
        if c == "thanos-query" {
            // Grafana's own in-stack flow to Query on the same port is a pod peer.
            assert_eq!(namespaces.len(), 1, "{c}: the controller's namespace: {peers:?}");
            assert_eq!(namespaces[0]["matchLabels"]["kubernetes.io/metadata.name"], "ingress");
        } else {
            assert!(namespaces.is_empty(), "{c}: {peers:?}");
        }
        assert!(!peers.iter().any(|p| p == "anyone"), "{c}: open to anyone: {peers:?}");
    }
    // Grafana's egress: Query, plus exactly the [grafana] egress destinations.
    let g = policy_for(&objs, "grafana");
    let egress: BTreeSet<(String, i64)> = g["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let cidrs: Vec<String> = r["to"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["ipBlock"]["cidr"].as_str().map(str::to_string))
                .collect();
            let ports: Vec<i64> =
                r["ports"].as_array().into_iter().flatten().map(|p| p["port"].as_i64().unwrap()).collect();
            cidrs.into_iter().flat_map(move |c| ports.clone().into_iter().map(move |p| (c.clone(), p)))
        })
        .collect();
    assert_eq!(egress, BTreeSet::from([("10.0.0.25/32".into(), 587), ("192.0.2.0/24".into(), 443)]));

    // Not exposed: Grafana stays open to users, as before exposure existed.
    let grafana_block =
        "[expose.grafana]\ntype = \"nodeport\"\nnode_port = 30300\nfrom = [\"10.0.0.0/8\", \"192.168.1.0/24\"]\n";
    assert!(STACK.contains(grafana_block));
    let plain = check_text("plain.toml", &STACK.replace(grafana_block, ""));
    let objs = docs(&stackgen::render_manifests(&plain));
    assert_eq!(peers_on_port(policy_for(&objs, "grafana"), 3000), vec![Value::String("anyone".into())]);
}

/// The render on a real API server: every object admitted, node ports as asked.
#[test]
fn the_api_server_admits_the_exposure() {
    let _real = real_components_lock();
    let Some(server) = ApiServer::start() else { return };
    let (_, objs) = rendered();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("render.yaml");
    std::fs::write(&file, stackgen::render_manifests(&check_text("exposure.toml", STACK))).unwrap();
    ok(server.kubectl().args(["apply", "--server-side", "--field-manager=stackgen", "-f"]).arg(&file));
    let live: Value =
        serde_json::from_str(&ok(server.kubectl().args(["get", "services,ingresses", "-n", "exposed", "-o", "json"])))
            .unwrap();
    let items = live["items"].as_array().unwrap();
    let live_of = |kind: &str, name: &str| {
        items
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} not on the server"))
    };
    for svc in objs.iter().filter(|o| o["kind"] == "Service") {
        let name = svc["metadata"]["name"].as_str().unwrap();
        let l = live_of("Service", name);
        assert_eq!(l["spec"]["type"], svc["spec"]["type"], "{name}");
        if let Some(asked) = svc["spec"]["ports"][0]["nodePort"].as_i64() {
            assert_eq!(l["spec"]["ports"][0]["nodePort"].as_i64(), Some(asked), "{name}: the node port asked for");
        } else if svc["spec"]["type"] == "LoadBalancer" {
            let p = l["spec"]["ports"][0]["nodePort"].as_i64().expect("a node port allocated");
            assert!((30000..=32767).contains(&p), "{name}: {p}");
            assert_eq!(l["spec"]["loadBalancerSourceRanges"], svc["spec"]["loadBalancerSourceRanges"], "{name}");
        }
    }
    let ing = live_of("Ingress", "exp-thanos-query");
    assert_eq!(ing["spec"]["rules"][0]["host"], "query.example.com");
    // A second Service on a node port already taken is refused: what SG158 says first.
    let mut twin = find(&objs, "Service", "exp-grafana-external").clone();
    twin["metadata"]["name"] = Value::String("exp-grafana-twin".into());
    let twin_file = dir.path().join("twin.json");
    std::fs::write(&twin_file, twin.to_string()).unwrap();
    let (code, _, err) = run(server.kubectl().args(["apply", "--server-side", "-f"]).arg(&twin_file));
    assert_ne!(code, 0, "a second Service on node port 30300 was admitted");
    assert!(err.contains("provided port is already allocated"), "{err}");
}

#[test]
fn validators_accept_the_exposure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exposure.yaml");
    let stack = check_text("exposure.toml", STACK);
    std::fs::write(&file, stackgen::render_manifests(&stack)).unwrap();
    kubernetes_validate_all([(file.clone(), stack.kubernetes_version.clone())]);
    let Some(checkov) = tool("checkov") else { return };
    let (_, out, err) = run(Command::new(&checkov)
        .args(["--framework", "kubernetes", "--skip-download", "-o", "json", "-f"])
        .arg(&file));
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("checkov output: {e}\n{err}"));
    assert_eq!(r["summary"]["parsing_errors"], 0);
    let failed: Vec<String> = r["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("{} {} {}", f["resource"], f["check_id"], f["check_name"]))
        .collect();
    assert!(failed.is_empty(), "checkov:\n{}", failed.join("\n"));
}

/// helm-values: `helm template` of kube-prometheus-stack 88.5.3 with stackgen's values
/// renders the chart's Services as asked (type, node port, traffic policy, source
/// ranges), and a real API server admits them with the companion manifests (Thanos
/// Query's Ingress and its NetworkPolicy admitting exactly `from`).
#[test]
fn the_chart_renders_and_the_api_server_admits_the_exposure() {
    let _real = real_components_lock();
    let Some(helm) = real("helm") else { return };
    let Some(server) = ApiServer::start() else { return };
    let stack = check_text("exposure.toml", STACK);
    let out = stackgen::render::helm::render(&stack);
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, &out.values).unwrap();
    let chart = crate::common::apiserver::helm_template(&helm, &stack, &values);
    let service = |component: &str| {
        chart
            .iter()
            .find(|o| {
                o["kind"] == "Service"
                    && o["spec"]["selector"].as_object().is_some_and(|s| {
                        s.values().any(|v| v == component || v.as_str().is_some_and(|v| v.ends_with(component)))
                    })
                    && o["spec"]["type"] != "ClusterIP"
            })
            .unwrap_or_else(|| panic!("no exposed chart Service selecting {component}"))
    };
    for e in &stack.expose {
        if e.component == stackgen::model::expose::Exposed::Query {
            continue;
        }
        let svc = service(e.component.component());
        let name = svc["metadata"]["name"].as_str().unwrap();
        let (want_type, port) = match &e.kind {
            stackgen::model::expose::ExposeKind::NodePort { node_port } => ("NodePort", *node_port),
            stackgen::model::expose::ExposeKind::LoadBalancer { .. } => ("LoadBalancer", None),
            stackgen::model::expose::ExposeKind::Ingress { .. } => {
                unreachable!("the test stack exposes no chart component by Ingress")
            }
        };
        assert_eq!(svc["spec"]["type"], want_type, "{name}");
        if let Some(p) = port {
            assert_eq!(svc["spec"]["ports"][0]["nodePort"].as_i64(), Some(i64::from(p)), "{name}");
        }
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Local", "{name}");
        if want_type == "LoadBalancer" {
            let ranges: Vec<&str> = svc["spec"]["loadBalancerSourceRanges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            assert_eq!(ranges, e.from.iter().map(String::as_str).collect::<Vec<_>>(), "{name}");
        }
    }
    let companions = dir.path().join("manifests.yaml");
    std::fs::write(&companions, &out.manifests).unwrap();
    assert!(out.manifests.contains("kind: Ingress"), "Thanos Query's Ingress is a companion");
    ok(server.kubectl().args(["apply", "--server-side", "-f"]).arg(&companions));
    let services = dir.path().join("chart-services.yaml");
    std::fs::write(&services, crate::common::apiserver::pick_kinds(&chart, &["Service", "Ingress"])).unwrap();
    ok(server.kubectl().args(["apply", "--server-side", "-f"]).arg(&services));
    let live: Value =
        serde_json::from_str(&ok(server.kubectl().args(["get", "services", "-n", "exposed", "-o", "json"]))).unwrap();
    let node_ports: BTreeSet<i64> = live["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["spec"]["ports"].as_array().into_iter().flatten())
        .filter_map(|p| p["nodePort"].as_i64())
        .collect();
    assert!(node_ports.contains(&30300) && node_ports.contains(&30090), "{node_ports:?}");
}
