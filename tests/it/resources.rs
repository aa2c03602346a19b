//! `resources` per component (`[thanos.query|store|compactor]`, `[alertmanager]`,
//! `[grafana]`): the same requests and limits in all three formats, read back from the
//! parsed render; and the Store Gateway's default limit holds what its rendered flags let
//! it use (SG147's sum).

use serde_json::{json, Value};
use stackgen::render::{helm, operator};

use crate::common::*;

const STACK: &str = r#"
[stack]
name = "res"
namespace = "monitoring"

[storage]
backend = "class"
size = "100Gi"

[storage.class]
name = "gp3"

[thanos.objstore]
type = "s3"
bucket = "metrics"
endpoint = "s3.eu-west-1.amazonaws.com"
credentials_secret = "thanos-objstore"

[thanos.query]
resources = { cpu = "300m", memory = "768Mi", memory_limit = "3Gi", cpu_limit = "3" }

[thanos.store]
resources = { cpu = "400m", memory = "3Gi", memory_limit = "6Gi" }

[thanos.compactor]
resources = { cpu = "1", memory = "2Gi", memory_limit = "8Gi", cpu_limit = "4" }

[alertmanager]
resources = { cpu = "60m", memory = "200Mi", memory_limit = "300Mi", cpu_limit = "600m" }

[grafana]
admin_secret = "grafana-admin"
resources = { cpu = "150m", memory = "384Mi" }
"#;

/// What STACK asks for, per container, as Kubernetes writes it.
fn wanted() -> Vec<(&'static str, Value)> {
    let r = |cpu: &str, mem: &str, lim: &str, cpu_lim: &str| json!({"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu_lim, "memory": lim}});
    vec![
        ("thanos-query", r("300m", "768Mi", "3Gi", "3")),
        // No cpu_limit: the component's default (2) stays.
        ("thanos-store", r("400m", "3Gi", "6Gi", "2")),
        ("thanos-compactor", r("1", "2Gi", "8Gi", "4")),
        ("alertmanager", r("60m", "200Mi", "300Mi", "600m")),
        // No memory_limit: the default 512Mi, raised to the request.
        ("grafana", r("150m", "384Mi", "512Mi", "1")),
    ]
}

/// The resources of every container named `name` in the pod templates of `docs`.
fn container_resources(docs: &[Value], name: &str) -> Vec<Value> {
    docs.iter()
        .filter_map(|d| d["spec"]["template"]["spec"]["containers"].as_array())
        .flatten()
        .filter(|c| c["name"] == name)
        .map(|c| c["resources"].clone())
        .collect()
}

#[test]
fn each_component_gets_its_resources_in_all_three_formats() {
    let s = check_text("res.toml", STACK);

    let manifests = docs(&stackgen::render_manifests(&s));
    for (container, want) in wanted() {
        assert_eq!(container_resources(&manifests, container), vec![want.clone()], "manifests: {container}");
    }

    // helm-values: the chart's keys for Alertmanager and Grafana, the companions for Thanos.
    let out = helm::render(&s);
    let values: Value = serde_saphyr::from_str(&out.values).expect("values.yaml parses");
    let companions = docs(&out.manifests);
    for (container, want) in wanted() {
        let got = match container {
            "alertmanager" => vec![values["alertmanager"]["alertmanagerSpec"]["resources"].clone()],
            "grafana" => vec![values["grafana"]["resources"].clone()],
            _ => container_resources(&companions, container),
        };
        assert_eq!(got, vec![want.clone()], "helm-values: {container}");
    }

    // operator: the Alertmanager resource's spec, the companions for Thanos and Grafana.
    let objs = docs(&operator::to_text(&s));
    for (container, want) in wanted() {
        let got = match container {
            "alertmanager" => {
                objs.iter().filter(|d| d["kind"] == "Alertmanager").map(|d| d["spec"]["resources"].clone()).collect()
            }
            _ => container_resources(&objs, container),
        };
        assert_eq!(got, vec![want.clone()], "operator: {container}");
    }
}

/// `--chunk-pool-size=2GB` as Thanos reads it (kingpin's binary units: GB is GiB).
fn thanos_bytes(v: &str) -> u64 {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let mult: u64 = match unit {
        "B" | "" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        other => panic!("unit {other} of {v}"),
    };
    n.parse::<u64>().unwrap() * mult
}

fn kube_bytes(q: &str) -> u64 {
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let mult: u64 = match unit {
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("unit {other} of {q}"),
    };
    n.parse::<u64>().unwrap() * mult
}

#[test]
fn the_default_store_gateway_limit_holds_its_flags() {
    for stack in stacks() {
        let s = check_file(&stack);
        if s.thanos.is_none() {
            continue;
        }
        let objs = docs(&stackgen::render_manifests(&s));
        let store = objs
            .iter()
            .filter_map(|d| d["spec"]["template"]["spec"]["containers"].as_array())
            .flatten()
            .find(|c| c["name"] == "thanos-store")
            .expect("a Store Gateway");
        let args: Vec<&str> = store["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let flag = |f: &str| {
            let v = args.iter().find_map(|a| a.strip_prefix(&format!("--{f}=")));
            thanos_bytes(v.unwrap_or_else(|| panic!("{}: the store renders --{f}", stem(&stack))))
        };
        let used = flag("chunk-pool-size") + flag("index-cache-size");
        let limit = kube_bytes(store["resources"]["limits"]["memory"].as_str().unwrap());
        // SG147's quarter on top for the runtime; and lint agrees (no SG147 on an example).
        assert!(limit as f64 >= used as f64 * 1.25, "{}: limit {limit} under {used} + 25%", stem(&stack));
        let src = stackgen::load(stack.to_str().unwrap()).unwrap();
        let warnings = stackgen::check(&src).unwrap().warnings;
        assert!(!warnings.iter().any(|w| w.code.id() == "SG147"), "{}", stem(&stack));
    }
}
