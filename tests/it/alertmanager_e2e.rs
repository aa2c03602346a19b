//! Alertmanager HA, end to end, on what stackgen renders: the 3 rendered replicas run on
//! loopback with their rendered args (`--cluster.listen-address`, `--cluster.advertise-address`
//! from `$(POD_IP)`, `--cluster.peer` names mapped to the peers' loopback ports by
//! tests/it/common/loopback.rs) and form one gossip cluster; an alert posted to every replica,
//! as Prometheus posts it, is notified exactly once to a local webhook receiver.
//!
//! The receiver is the stack's own (`[[alertmanager.receivers]]`, type webhook): its URL
//! is only in the Secret the pods mount, read through `url_file`; alertmanager.yml
//! (route, group_wait, intervals) is as rendered, its `*_file` paths mapped onto the
//! pods' volumes by the loopback kubelet. Every metric the rendered dashboard and alert
//! rules read under the `alertmanager` job is on each running replica's `/metrics`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::loopback::{get_json, http, poll, serve, Cluster};
use crate::common::*;
use serde_json::{json, Value};

const STACK: &str = r#"
[stack]
name = "am"
[storage]
backend = "ephemeral"
[alertmanager]
replicas = 3
[[alertmanager.receivers]]
name = "oncall"
type = "webhook"
secret = "am-oncall"
send_resolved = false
[grafana]
[kubernetes]
discovery = false
"#;

/// A counter of an Alertmanager's /metrics (summed over label sets), or 0.
fn counter(addr: &str, name: &str) -> f64 {
    let Some((200, body)) = http("GET", addr, "/metrics", None) else { return 0.0 };
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn alertmanager_replicas_cluster_and_notify_once() {
    let _real = crate::common::real_components_lock();
    let Some(alertmanager) = real("alertmanager") else {
        return;
    };
    let t0 = Instant::now();
    let stack = check_text("alertmanager-e2e.toml", STACK);
    let hooks = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = hooks.clone();
    let receiver = serve(move |req| {
        h.lock().unwrap().push(String::from_utf8_lossy(&req.body).to_string());
        (200, "text/plain".into(), String::new())
    });
    // The Secret the user creates: key `url`, which the rendered config reads from a file.
    let url = format!("http://{receiver}/hook");
    let mut cluster = Cluster::new(docs(&stackgen::render_manifests(&stack)), &stack.kubernetes.cluster_domain)
        .with_secret("am-oncall", &[("url", url.as_str())]);

    let workloads = cluster.workloads(&[("app.kubernetes.io/name", "alertmanager")]);
    assert_eq!(workloads.len(), 1, "{workloads:?}");
    let (kind, name) = &workloads[0];
    let pods = cluster.add_pods(kind, name);
    assert_eq!(pods.len(), 3);
    for pod in &pods {
        let f = PathBuf::from(cluster.arg(pod, "alertmanager", "--config.file").expect("--config.file"));
        let rendered = std::fs::read_to_string(&f).unwrap();
        assert!(!rendered.contains(&receiver), "the URL is only in the Secret");
        std::fs::write(&f, cluster.config_to_loopback(pod, "alertmanager", &rendered)).unwrap();
    }
    for pod in &pods {
        let started = cluster.start_pod(pod, &[("prometheus/alertmanager", &alertmanager)]);
        assert_eq!(started, ["alertmanager"]);
    }
    for pod in &pods {
        cluster.wait_ready(pod, "alertmanager", Duration::from_secs(60));
    }
    let web: Vec<String> = pods.iter().map(|p| cluster.addr(p, "web")).collect();

    // One gossip cluster of 3, seen by every replica.
    for (pod, addr) in pods.iter().zip(&web) {
        poll(
            Duration::from_secs(60),
            &format!("{pod} to see a ready cluster of 3"),
            || {
                let s = get_json(addr, "/api/v2/status")?;
                let peers = s["cluster"]["peers"].as_array()?.len();
                (s["cluster"]["status"] == "ready" && peers == 3).then_some(())
            },
            || format!("{:?}\n{}", get_json(addr, "/api/v2/status"), cluster.explain(pod, "alertmanager")),
        );
    }
    eprintln!("cluster formed: {:?}", t0.elapsed());

    // The same alert to every replica, as Prometheus sends it.
    let alert = json!([{
        "labels": {"alertname": "StackgenLoopback", "namespace": "e2e", "severity": "critical"},
        "annotations": {"summary": "posted to every replica"},
    }])
    .to_string();
    for addr in &web {
        let r = http("POST", addr, "/api/v2/alerts", Some(("application/json", alert.as_bytes())));
        assert_eq!(r.as_ref().map(|(c, _)| *c), Some(200), "POST /api/v2/alerts to {addr}: {r:?}");
    }

    // The first notification comes after the rendered group_wait; every other replica
    // waits its peer position x the peer timeout, then finds it in the gossiped log and
    // stays silent. Wait until each replica has consulted the log.
    poll(
        Duration::from_secs(150),
        "a webhook notification",
        || (!hooks.lock().unwrap().is_empty()).then_some(()),
        || cluster.explain(&pods[0], "alertmanager"),
    );
    eprintln!("notified: {:?}", t0.elapsed());
    poll(
        Duration::from_secs(120),
        "every replica to check the notification log",
        || web.iter().all(|a| counter(a, "alertmanager_nflog_queries_total") >= 1.0).then_some(()),
        || {
            let counts: Vec<f64> = web.iter().map(|a| counter(a, "alertmanager_nflog_queries_total")).collect();
            format!("nflog queries per replica: {counts:?}")
        },
    );
    std::thread::sleep(Duration::from_secs(2)); // a send still in flight would land now
    let got = hooks.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "the alert must be notified exactly once, got {}:\n{got:#?}", got.len());
    let body: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "StackgenLoopback");
    assert_eq!(body["status"], "firing");
    let sent: f64 = web.iter().map(|a| counter(a, "alertmanager_notifications_total")).sum();
    assert_eq!(sent, 1.0, "one notification attempt across the replicas");
    // Every metric the rendered dashboard and alert rules read under the alertmanager
    // job is on each running replica's /metrics.
    let wanted = crate::common::metrics::read_by_job(&docs(&stackgen::render_manifests(&stack)));
    assert!(wanted.get("alertmanager").is_some_and(|m| m.len() >= 3), "{wanted:#?}");
    for (pod, addr) in pods.iter().zip(&web) {
        let missing = crate::common::metrics::missing("alertmanager", &wanted, addr);
        assert!(missing.is_empty(), "{pod}: read by the dashboard or the alert rules, not exported: {missing:?}");
    }
    eprintln!("done: {:?}", t0.elapsed());
}
