//! Sharding, end to end, with real Prometheus 3 processes (`common::real("prometheus")`,
//! the version the render's image names) on loopback: the pods of the 3 rendered shard
//! StatefulSets run with their rendered args and ConfigMaps (tests/it/common/loopback.rs maps
//! only ports and paths) against 14 local HTTP targets; each target must be active in
//! exactly one shard, the shards together must cover all, the assignment must equal
//! stackgen's own hashmod prediction, and a job with `sharding = false` (its targets
//! labelled `__tmp_disable_sharding`) must be scraped by every shard. Probe targets are
//! sharded on the probed target: each is active in exactly one shard, the one `diff`
//! predicts both from the stack and from the rendered objects.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::loopback::{get_json, Cluster};
use crate::common::*;

const SHARDS: u16 = 3;
const TARGETS: usize = 14;
const PROBES: usize = 9;

/// A tiny /metrics endpoint on an ephemeral loopback port, served until the process ends.
fn spawn_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = "# TYPE e2e_up gauge\ne2e_up 1\n";
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    addr
}

/// Active targets of a job, by scrape URL host:port, with their health.
fn active(addr: &str, job: &str) -> Option<BTreeMap<String, String>> {
    let v = get_json(addr, "/api/v1/targets?state=active")?;
    let mut m = BTreeMap::new();
    for t in v["data"]["activeTargets"].as_array()? {
        if t["labels"]["job"] == job {
            m.insert(t["labels"]["instance"].as_str()?.to_string(), t["health"].as_str()?.to_string());
        }
    }
    Some(m)
}

#[test]
fn each_target_is_scraped_by_exactly_one_shard() {
    let _real = crate::common::real_components_lock();
    let Some(prometheus) = real("prometheus") else {
        return;
    };
    let targets: Vec<String> = (0..TARGETS).map(|_| spawn_target()).collect();
    let singleton = spawn_target();
    let list = targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    // Probe targets: only their sharding is checked (the exporter is not run here).
    let probe_targets: Vec<String> = (0..PROBES).map(|i| format!("https://t{i}.example.com/healthz")).collect();
    let probes = probe_targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    let stack_text = format!(
        r#"
[stack]
name = "e2e"
[prometheus]
scrape_interval = "2s"
[storage]
backend = "ephemeral"
[sharding]
shards = {SHARDS}
[kubernetes]
discovery = false
[[scrape]]
job = "e2e"
static_targets = [{list}]
[[scrape]]
job = "singleton"
static_targets = ["{singleton}"]
sharding = false
[[probe]]
module = "http_2xx"
targets = [{probes}]
"#
    );
    let stack = check_text("e2e.toml", &stack_text);
    let mut cluster = Cluster::new(docs(&stackgen::render_manifests(&stack)), &stack.kubernetes.cluster_domain);
    // One pod per shard StatefulSet, its `prometheus` container run as rendered.
    let mut pods = Vec::new();
    for (kind, name) in cluster.workloads(&[("app.kubernetes.io/name", "prometheus")]) {
        pods.extend(cluster.add_pods(&kind, &name));
    }
    assert_eq!(pods.len(), usize::from(SHARDS), "one pod per shard: {pods:?}");
    for pod in &pods {
        cluster.start(pod, "prometheus", &prometheus);
    }
    for pod in &pods {
        cluster.wait_ready(pod, "prometheus", Duration::from_secs(60));
    }
    // Shard i is the pod of StatefulSet <stack>-prometheus-shard-i.
    let web: Vec<String> = (0..SHARDS)
        .map(|i| {
            let pod = pods.iter().find(|p| p.starts_with(&format!("e2e-prometheus-shard-{i}-"))).unwrap();
            cluster.addr(pod, "web")
        })
        .collect();

    // Wait until every shard has scraped all of its targets once (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<BTreeMap<String, String>>;
    loop {
        seen = web.iter().map(|a| active(a, "e2e").unwrap_or_default()).collect();
        let total: usize = seen.iter().map(BTreeMap::len).sum();
        let all_up = seen.iter().flat_map(|m| m.values()).all(|h| h == "up");
        if (total >= TARGETS && all_up) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut owner: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for (shard, m) in seen.iter().enumerate() {
        for (instance, health) in m {
            assert_eq!(health, "up", "{instance} in shard {shard} is not up");
            owner
                .entry(targets.iter().find(|t| *t == instance).expect("a known target"))
                .or_default()
                .push(shard as u16);
        }
    }
    for t in &targets {
        let shards = owner.get(t.as_str()).cloned().unwrap_or_default();
        assert_eq!(shards.len(), 1, "{t} is active in shards {shards:?}; want exactly one");
        let predicted = stack.sharding.shard_of_target(t, &BTreeMap::new());
        assert_eq!(
            u64::from(shards[0]),
            predicted,
            "{t}: Prometheus chose shard {}, stackgen's hashmod says {predicted}",
            shards[0]
        );
    }
    let used: BTreeSet<u16> = owner.values().flatten().copied().collect();
    assert!(used.len() > 1, "with {TARGETS} targets more than one shard should be busy: {used:?}");

    // Probe targets: each active in exactly one shard (hashed on the probed target, not
    // on the exporter's address, which all of them share), the one `diff` predicts from
    // the stack and from the rendered objects (what `diff --against` reads back).
    let probe_job = &stack.probes[0].job;
    let from_stack = stackgen::diff::risk::view_of_stack(&stack);
    let rendered = stackgen::diff::rendered_docs(&stack);
    let from_objects = stackgen::diff::risk::view_of_objects(rendered.iter().map(|d| (&d.key, &d.value)), "e2e")
        .expect("the render has shard configs");
    assert_eq!(from_objects.source_labels, from_stack.source_labels, "the stack's source labels, not a probe job's");
    let mut probe_owner: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (shard, addr) in web.iter().enumerate() {
        for instance in active(addr, probe_job).unwrap_or_default().into_keys() {
            probe_owner.entry(instance).or_default().push(shard);
        }
    }
    for t in &probe_targets {
        let shards = probe_owner.get(t).cloned().unwrap_or_default();
        assert_eq!(shards.len(), 1, "probe target {t} is active in shards {shards:?}; want exactly one");
        let key = (probe_job.clone(), t.clone());
        for (what, view) in [("the stack", &from_stack), ("the rendered objects", &from_objects)] {
            assert_eq!(
                view.assign.get(&key).copied(),
                Some(shards[0] as u64),
                "{t}: Prometheus chose shard {}, diff's view of {what} says {:?}",
                shards[0],
                view.assign.get(&key)
            );
        }
    }
    let probe_used: BTreeSet<usize> = probe_owner.values().flatten().copied().collect();
    assert!(probe_used.len() > 1, "with {PROBES} probe targets more than one shard should be busy: {probe_used:?}");
    // Every static target of the scrape job is predicted the same from both views.
    for t in &targets {
        let key = ("e2e".to_string(), t.clone());
        assert_eq!(from_objects.assign.get(&key), from_stack.assign.get(&key), "{t}");
    }

    // The opted-out job is active on every shard.
    for (shard, addr) in web.iter().enumerate() {
        let m = active(addr, "singleton").unwrap_or_default();
        assert!(m.contains_key(&singleton), "shard {shard} does not scrape the singleton target");
    }
}

#[test]
fn hashmod_matches_prometheus_reference_values() {
    // md5("10.0.0.1:9100") → last 8 bytes big-endian, as relabel.go computes it; the
    // end-to-end test above checks the same function against live Prometheus.
    use stackgen::model::sharding::hashmod;
    // Values computed independently: int.from_bytes(md5(s).digest()[8:], "big") % n.
    for (s, n, want) in [("10.0.0.1:9100", 4u64, 1u64), ("a", 3, 1), ("", 2, 0), ("127.0.0.1:9100", 64, 30)] {
        assert_eq!(hashmod(s, n), want, "hashmod({s:?}, {n})");
    }
    assert_eq!(hashmod("x", 1), 0);
}
