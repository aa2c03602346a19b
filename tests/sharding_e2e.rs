//! Sharding, end to end, with real Prometheus processes (Debian's `prometheus`) on
//! loopback: 3 shards run their generated configs against 14 local HTTP targets; each
//! target must be active in exactly one shard, the shards together must cover all, the
//! assignment must equal stackgen's own hashmod prediction, and a job with
//! `sharding = false` must be scraped by every shard.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SHARDS: u16 = 3;
const TARGETS: usize = 14;

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Some(dechunk(body));
    }
    Some(body.to_string())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

struct Procs(Vec<Child>);
impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Active targets of a job, by scrape URL host:port, with their health.
fn active(port: u16, job: &str) -> Option<BTreeMap<String, String>> {
    let body = http_get(port, "/api/v1/targets?state=active")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
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
    let Some(prometheus) = tool("prometheus") else {
        return;
    };
    let targets: Vec<String> = (0..TARGETS).map(|_| spawn_target()).collect();
    let singleton = spawn_target();
    let list = targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
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
"#
    );
    let stack = check_text("e2e.toml", &stack_text);
    let names = stackgen::render::Names { stack: &stack };
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs(Vec::new());
    let mut ports = Vec::new();
    for shard in 0..SHARDS {
        let cfg = dir.path().join(format!("shard-{shard}.yml"));
        std::fs::write(&cfg, stackgen::render::prometheus::config_yaml(&names, shard)).unwrap();
        let port = free_port();
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join(format!("data-{shard}")).display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        procs.0.push(child);
        ports.push(port);
    }

    // Wait until every shard has scraped all of its targets once (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<BTreeMap<String, String>>;
    loop {
        seen = ports.iter().map(|p| active(*p, "e2e").unwrap_or_default()).collect();
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
        let predicted = stackgen::render::prometheus::shard_of_target(&stack, t, &BTreeMap::new());
        assert_eq!(
            u64::from(shards[0]),
            predicted,
            "{t}: Prometheus chose shard {}, stackgen's hashmod says {predicted}",
            shards[0]
        );
    }
    let used: BTreeSet<u16> = owner.values().flatten().copied().collect();
    assert!(used.len() > 1, "with {TARGETS} targets more than one shard should be busy: {used:?}");

    // The opted-out job is active on every shard.
    for (shard, port) in ports.iter().enumerate() {
        let m = active(*port, "singleton").unwrap_or_default();
        assert!(m.contains_key(&singleton), "shard {shard} does not scrape the singleton target");
    }
}

#[test]
fn hashmod_matches_prometheus_reference_values() {
    // md5("10.0.0.1:9100") → last 8 bytes big-endian, as relabel.go computes it; the
    // end-to-end test above checks the same function against live Prometheus.
    use stackgen::render::prometheus::hashmod;
    // Values computed independently: int.from_bytes(md5(s).digest()[8:], "big") % n.
    for (s, n, want) in [("10.0.0.1:9100", 4u64, 1u64), ("a", 3, 1), ("", 2, 0), ("127.0.0.1:9100", 64, 30)] {
        assert_eq!(hashmod(s, n), want, "hashmod({s:?}, {n})");
    }
    assert_eq!(hashmod("x", 1), 0);
}
