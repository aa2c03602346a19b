//! The blackbox_exporter: its config (the modules the stack's `[[probe]]`s use) and the
//! scrape config of a probe job, as the Prometheus Operator generates it for a `Probe`
//! resource with static targets (pkg/prometheus/promcfg.go, `generateProbeConfig`):
//!
//! 1. `__address__` (the probed target) → `__param_target`;
//! 2. `__param_target` → `instance`;
//! 3. `__address__` ← the exporter's address;
//! 4. with shards, the operator's sharding on `__param_target`
//!    (`appendShardingRelabelingForProbes`): every probe target is hashed, not the
//!    exporter's address, which is the same for all of them.
//!
//! `metrics_path: /probe` and `params: {module: [...]}` make Prometheus call
//! `http://<exporter>/probe?module=<m>&target=<t>`.
//!
//! The ICMP module uses unprivileged ICMP (datagram sockets): the exporter's pod needs
//! the safe sysctl `net.ipv4.ping_group_range: "0 2147483647"` rather than `NET_RAW`,
//! which the restricted Pod Security profile forbids.

use serde_json::{json, Map, Value};

/// The blackbox_exporter version rendered (image tag) and built for the tests
/// (`scripts/real-components.sh blackbox` reads this line).
pub const BLACKBOX_EXPORTER_VERSION: &str = "v0.28.0";

/// The image of the exporter, pinned.
pub const BLACKBOX_EXPORTER_IMAGE: &str = "quay.io/prometheus/blackbox-exporter:v0.28.0";

/// The exporter's HTTP port (`/probe` and its own `/metrics`).
pub const BLACKBOX_EXPORTER_PORT: u16 = 9115;

pub use crate::model::probe::{is_url, ProbeModule, ProbeSpec};

/// The module's body in the exporter config.
fn module_config(m: &ProbeModule) -> Value {
    match m {
        ProbeModule::Http2xx => json!({"prober": "http", "http": {"preferred_ip_protocol": "ip4"}}),
        ProbeModule::HttpPost2xx => {
            json!({"prober": "http", "http": {"method": "POST", "preferred_ip_protocol": "ip4"}})
        }
        ProbeModule::TcpConnect => json!({"prober": "tcp", "tcp": {"preferred_ip_protocol": "ip4"}}),
        ProbeModule::Icmp => json!({"prober": "icmp", "icmp": {"preferred_ip_protocol": "ip4"}}),
        ProbeModule::Dns { query_name } => json!({
            "prober": "dns",
            "dns": {"query_name": query_name, "query_type": "A", "preferred_ip_protocol": "ip4"},
        }),
    }
}

/// The shard a Prometheus config is for, when the stack is sharded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSharding {
    /// Number of shards.
    pub shards: u32,
    /// This config's shard: its number, or the render's template sentinel.
    pub shard: String,
}

/// The blackbox_exporter config (`blackbox.yml`) with the modules the probes use, each
/// once, sorted by name.
pub fn exporter_config(probes: &[ProbeSpec]) -> String {
    super::yaml::to_string(&exporter_config_value(probes))
}

/// [`exporter_config`] as a JSON value.
pub fn exporter_config_value(probes: &[ProbeSpec]) -> Value {
    let mut modules: Vec<&ProbeModule> = probes.iter().map(|p| &p.module).collect();
    modules.sort_by_key(|m| m.name());
    modules.dedup_by_key(|m| m.name());
    let mut m = Map::new();
    for module in modules {
        m.insert(module.name(), module_config(module));
    }
    json!({"modules": Value::Object(m)})
}

/// The scrape config of one probe job: Prometheus asks the exporter at `exporter`
/// (host:port, e.g. `prod-blackbox-exporter.monitoring.svc:9115`) to probe each target.
pub fn probe_job(p: &ProbeSpec, exporter: &str, sharding: Option<&ProbeSharding>) -> Value {
    let mut job = Map::new();
    job.insert("job_name".into(), json!(p.job));
    job.insert("honor_timestamps".into(), json!(true));
    job.insert("metrics_path".into(), json!("/probe"));
    if let Some(i) = &p.interval {
        job.insert("scrape_interval".into(), json!(i.as_str()));
    }
    job.insert("params".into(), json!({"module": [p.module.name()]}));
    job.insert("static_configs".into(), json!([{"targets": p.targets}]));
    let mut relabels = vec![
        json!({"source_labels": ["__address__"], "target_label": "__param_target"}),
        json!({"source_labels": ["__param_target"], "target_label": "instance"}),
        json!({"target_label": "__address__", "replacement": exporter}),
    ];
    if let Some(s) = sharding.filter(|s| s.shards > 1) {
        relabels.extend(probe_sharding_relabels(s));
    }
    job.insert("relabel_configs".into(), Value::Array(relabels));
    Value::Object(job)
}

/// The operator's sharding of probe targets: hash `__param_target`, keep this shard's
/// (a target labelled `__tmp_disable_sharding` is kept by every shard).
pub fn probe_sharding_relabels(s: &ProbeSharding) -> Vec<Value> {
    vec![
        json!({"source_labels": ["__param_target", "__tmp_hash"], "target_label": "__tmp_hash", "regex": "(.+);", "replacement": "$1", "action": "replace"}),
        json!({"source_labels": ["__tmp_hash"], "target_label": "__tmp_hash", "modulus": s.shards, "action": "hashmod"}),
        json!({"source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": format!("{};|.+;.+", s.shard), "action": "keep"}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_the_used_ones_once_sorted() {
        let p = |m: ProbeModule| ProbeSpec { job: "j".into(), module: m, targets: vec![], interval: None };
        let cfg = exporter_config(&[
            p(ProbeModule::TcpConnect),
            p(ProbeModule::Http2xx),
            p(ProbeModule::TcpConnect),
            p(ProbeModule::Dns { query_name: "Example.com".into() }),
        ]);
        let v: Value = serde_saphyr::from_str(&cfg).unwrap();
        let names: Vec<&String> = v["modules"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["dns_example_com", "http_2xx", "tcp_connect"]);
    }

    #[test]
    fn targets_fit_their_module() {
        assert!(ProbeModule::Http2xx.target_problem("https://a.example.com/healthz").is_none());
        assert!(ProbeModule::Http2xx.target_problem("a.example.com:443").is_some());
        assert!(ProbeModule::TcpConnect.target_problem("db:5432").is_none());
        assert!(ProbeModule::TcpConnect.target_problem("db").is_some());
        assert!(ProbeModule::Icmp.target_problem("10.0.0.1").is_none());
        assert!(ProbeModule::Icmp.target_problem("http://x").is_some());
        assert!(ProbeModule::Dns { query_name: "x".into() }.target_problem("10.0.0.10:53").is_none());
        assert!(ProbeModule::Http2xx.target_problem(" https://x").is_some());
        assert!(is_url("https://x") && !is_url("x:9100") && !is_url("://x"));
    }
}
