//! Alerting, probes and self-monitoring (src/alerting): the rule file checker over the
//! invalid rule corpus (tests/invalid/rules/, snapshots `<file>.expected`, re-bless with
//! `UPDATE_GOLDEN=1 cargo test --test it alerting::`), the built-in rules under promtool 3
//! (`check rules`, and `test rules` with the cases of tests/fixtures/rules/), the
//! dashboard's PromQL, the blackbox_exporter config and probe scrape config against a
//! real blackbox_exporter and promtool, and the Alertmanager receivers under amtool.

use std::path::{Path, PathBuf};

use crate::common::*;

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// The diagnostics of a rule file as stable text lines (the format of tests/lint/).
fn describe_rule_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!("{}.yaml", stem(path));
    let src = stackgen::source::Source::new(name.clone(), text.clone());
    describe_diagnostics(&src, &stackgen::alerting::rules::check_rule_file(&name, &text))
}

#[test]
fn invalid_rule_files_snapshots_match() {
    let files = files_with_ext(&root().join("tests/invalid/rules"), "yaml");
    assert!(files.len() >= 7);
    let mut snapshots = Snapshots::new("alerting::invalid_rule_files_snapshots_match");
    for f in &files {
        let got = describe_rule_file(f);
        // Each file is named after the code it raises, and raises it.
        let code = stem(f)[..5].to_uppercase();
        assert!(got.lines().any(|l| l.starts_with(&code)), "{}: does not report {code}:\n{got}", f.display());
        snapshots.compare(&f.with_extension("expected"), &got);
    }
    snapshots.finish();
}

/// Prometheus 3's promtool refuses every file of the invalid rule corpus too: what
/// stackgen reports is a real problem, not a stricter taste.
#[test]
fn promtool_refuses_the_invalid_rule_corpus() {
    let Some(promtool) = real("promtool") else { return };
    for f in files_with_ext(&root().join("tests/invalid/rules"), "yaml") {
        let (code, out, err) = run(std::process::Command::new(&promtool).arg("check").arg("rules").arg(&f));
        assert_ne!(code, 0, "promtool accepts {}:\n{out}{err}", f.display());
    }
}

// ---- built-in rules ----------------------------------------------------------------

use stackgen::alerting::builtin::{self, AlertmanagerJob, SelfMonitoring, ThanosJobs};

/// Several shapes of stack: the full one, a single Prometheus, Thanos without Store and
/// Compactor, one Alertmanager, many shards, names that need escaping.
fn stack_variants() -> Vec<(&'static str, SelfMonitoring)> {
    let full = SelfMonitoring::example();
    vec![
        ("full", full.clone()),
        (
            "minimal",
            SelfMonitoring {
                shards: 1,
                replicas: 1,
                thanos: None,
                alertmanager: None,
                grafana_job: None,
                blackbox_job: None,
                ..full.clone()
            },
        ),
        (
            "sidecar-only",
            SelfMonitoring {
                thanos: Some(ThanosJobs { sidecar: "sidecar".into(), query: None, store: None, compactor: None }),
                alertmanager: Some(AlertmanagerJob { job: "am".into(), replicas: 1 }),
                ..full.clone()
            },
        ),
        (
            "many-shards",
            SelfMonitoring { shards: 16, namespace: "obs-\"x\"".into(), prometheus_job: "prom.a+b".into(), ..full },
        ),
    ]
}

#[test]
fn builtin_rules_pass_promtool_check_rules() {
    let Some(promtool) = real("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, m) in stack_variants() {
        let text = builtin::rule_file(&m);
        assert_eq!(text, builtin::rule_file(&m), "{name}: deterministic");
        assert!(stackgen::alerting::rules::check_rule_file(name, &text).is_empty(), "{name}: stackgen's own check");
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &text).unwrap();
        let (code, out, err) = run(std::process::Command::new(&promtool).arg("check").arg("rules").arg(&path));
        assert_eq!(code, 0, "{name}: promtool check rules:\n{out}{err}\n{text}");
        let alerts = builtin::alerts(&m);
        assert!(out.contains(&format!("SUCCESS: {} rules found", alerts.len())), "{name}: {out}");
    }
}

/// Every built-in alert (of the full stack) has its `promtool test rules` case file,
/// each with a test that fires on the failure and one that stays silent when healthy,
/// and promtool 3 passes them all against the generated rule file.
#[test]
fn builtin_alerts_pass_their_promtool_test_cases() {
    let cases_dir = root().join("tests/fixtures/rules");
    let m = SelfMonitoring::example();
    let alerts = builtin::alerts(&m);
    let mut cases = Vec::new();
    for a in &alerts {
        let case = cases_dir.join(format!("{}.yaml", a.name));
        let text =
            std::fs::read_to_string(&case).unwrap_or_else(|_| panic!("no promtool test case {}", case.display()));
        assert!(text.contains(&format!("name: {} fires on the failure", a.name)), "{}", case.display());
        assert!(text.contains(&format!("name: {} stays silent when healthy", a.name)), "{}", case.display());
        assert!(text.contains("exp_alerts: []"), "{}: a healthy case expects no alert", case.display());
        cases.push(case);
    }
    // No stale case files.
    let names: Vec<String> = alerts.iter().map(|a| format!("{}.yaml", a.name)).collect();
    for f in files_with_ext(&cases_dir, "yaml") {
        let file = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(names.contains(&file), "{}: no built-in alert of that name", f.display());
    }
    let Some(promtool) = real("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("builtin.yaml"), builtin::rule_file(&m)).unwrap();
    let mut cmd = std::process::Command::new(&promtool);
    cmd.current_dir(dir.path()).arg("test").arg("rules");
    for c in &cases {
        let dest = dir.path().join(c.file_name().unwrap());
        std::fs::copy(c, &dest).unwrap();
        cmd.arg(dest.file_name().unwrap());
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "promtool test rules:\n{out}{err}");
    assert_eq!(out.matches("SUCCESS").count(), cases.len(), "{out}");
}

// ---- Alertmanager receivers ----------------------------------------------------------

use stackgen::alerting::receivers::{AlertmanagerConfig, ChildRoute, PagerDutyApi, Receiver, ReceiverKind, Route};

fn receiver(name: &str, kind: ReceiverKind) -> Receiver {
    Receiver { name: name.into(), kind, secret: Some(format!("am-{name}")), send_resolved: None }
}

/// One config per receiver type, and one with all of them and a route tree.
fn alertmanager_configs(secrets_dir: &str) -> Vec<(&'static str, AlertmanagerConfig)> {
    let kinds: Vec<(&str, ReceiverKind)> = vec![
        ("webhook", ReceiverKind::Webhook),
        ("slack", ReceiverKind::Slack { channel: Some("#alerts".into()) }),
        ("pagerduty", ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV2, severity: None }),
        ("pagerduty-v1", ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV1, severity: Some("warning".into()) }),
        (
            "email",
            ReceiverKind::Email {
                to: "oncall@example.com".into(),
                from: "alertmanager@example.com".into(),
                smarthost: "smtp.example.com:587".into(),
                auth_username: Some("alertmanager".into()),
            },
        ),
    ];
    let route = |r: &str| Route {
        receiver: r.into(),
        group_by: vec!["alertname".into(), "cluster".into()],
        group_wait: None,
        group_interval: None,
        repeat_interval: None,
        routes: vec![],
    };
    let mut out: Vec<(&'static str, AlertmanagerConfig)> = kinds
        .iter()
        .map(|(n, k)| {
            let n: &'static str = Box::leak(n.to_string().into_boxed_str());
            (
                n,
                AlertmanagerConfig {
                    receivers: vec![receiver(n, k.clone())],
                    route: route(n),
                    secrets_dir: secrets_dir.into(),
                },
            )
        })
        .collect();
    let mut all = route("webhook");
    all.routes = vec![
        ChildRoute {
            receiver: "pagerduty".into(),
            matchers: vec!["severity=\"critical\"".into()],
            continue_: true,
            group_by: None,
            group_wait: Some("10s".parse().unwrap()),
            group_interval: None,
            repeat_interval: Some("1h".parse().unwrap()),
        },
        ChildRoute {
            receiver: "slack".into(),
            matchers: vec!["team=~\"db|storage\"".into()],
            continue_: false,
            group_by: Some(vec!["...".into()]),
            group_wait: None,
            group_interval: None,
            repeat_interval: None,
        },
    ];
    out.push((
        "all",
        AlertmanagerConfig {
            receivers: kinds.into_iter().map(|(n, k)| receiver(n, k)).collect(),
            route: all,
            secrets_dir: secrets_dir.into(),
        },
    ));
    out
}

#[test]
fn amtool_checks_every_receiver_type() {
    let Some(amtool) = real("amtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    for (name, cfg) in alertmanager_configs(secrets.to_str().unwrap()) {
        // The mounted Secrets: one file per credential, as the pod would see them.
        for r in &cfg.receivers {
            let f = std::path::PathBuf::from(cfg.credential_file(r).expect("every receiver here reads a credential"));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, "https://hooks.example.com/secret-value").unwrap();
        }
        let text = stackgen::alerting::receivers::config_yaml(&cfg);
        assert_eq!(text, stackgen::alerting::receivers::config_yaml(&cfg), "{name}: deterministic");
        assert!(!text.contains("secret-value"), "{name}: no credential in the config");
        let path = dir.path().join(format!("{name}.yml"));
        std::fs::write(&path, &text).unwrap();
        let (code, out, err) = run(std::process::Command::new(&amtool).arg("check-config").arg(&path));
        assert_eq!(code, 0, "{name}: amtool check-config:\n{out}{err}\n{text}");
        assert!(out.contains("SUCCESS"), "{name}: {out}");
        let receivers = cfg.receivers.len();
        assert!(out.contains(&format!(" - {receivers} receivers")), "{name}: {out}");
    }
}

// ---- blackbox_exporter and probe jobs ------------------------------------------------

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use stackgen::alerting::blackbox::{self, ProbeModule, ProbeSharding, ProbeSpec};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over HTTP/1.0 with a 5 s read timeout: (status line, body).
fn http_get(addr: &str, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// The targets Prometheus would scrape for `job` of `config` (a prometheus.yml), after
/// relabeling, as promtool 3 computes them (`check service-discovery`): the label sets
/// of the targets kept.
fn scraped_targets(promtool: &Path, dir: &Path, config: &Value, job: &str) -> Vec<Value> {
    let path = dir.join(format!("prometheus-{}.yml", percent_encode(job)));
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    let (code, out, err) = run(Command::new(promtool).arg("check").arg("config").arg(&path));
    assert_eq!(code, 0, "promtool check config:\n{out}{err}");
    let (code, out, err) =
        run(Command::new(promtool).args(["check", "service-discovery", "--timeout=1s"]).arg(&path).arg(job));
    assert_eq!(code, 0, "promtool check service-discovery:\n{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["labels"].clone())
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .collect()
}

/// The real blackbox_exporter, with the generated config, probes what the generated probe
/// jobs tell Prometheus to ask it: the request of every target is built from the labels
/// promtool computes from the generated scrape config (`__address__`,
/// `__metrics_path__`, `__param_module`, `__param_target`). A local HTTP server is up
/// (probe_success 1), a closed port is down (0), for HTTP and TCP; `instance` is the
/// probed target.
#[test]
fn real_blackbox_exporter_probes_what_the_probe_jobs_ask() {
    let (Some(exporter), Some(promtool)) = (real("blackbox_exporter"), real("promtool")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let up = healthy_http_server();
    let closed = free_port();
    let probes = vec![
        ProbeSpec {
            job: "blackbox-http".into(),
            module: ProbeModule::Http2xx,
            targets: vec![format!("http://127.0.0.1:{up}/healthz"), format!("http://127.0.0.1:{closed}/")],
            interval: Some("30s".parse().unwrap()),
        },
        ProbeSpec {
            job: "blackbox-post".into(),
            module: ProbeModule::HttpPost2xx,
            targets: vec![format!("http://127.0.0.1:{up}/hook"), format!("http://127.0.0.1:{closed}/hook")],
            interval: None,
        },
        ProbeSpec {
            job: "blackbox-tcp".into(),
            module: ProbeModule::TcpConnect,
            targets: vec![format!("127.0.0.1:{up}"), format!("127.0.0.1:{closed}")],
            interval: None,
        },
    ];
    let config = dir.path().join("blackbox.yml");
    std::fs::write(&config, blackbox::exporter_config(&probes)).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("blackbox.log")).unwrap();
    let _exporter = Kill(
        Command::new(&exporter)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(&listen, "/-/healthy").is_none_or(|(s, _)| !s.contains(" 200")) {
        let log = std::fs::read_to_string(dir.path().join("blackbox.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "blackbox_exporter did not start:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let jobs: Vec<Value> = probes.iter().map(|p| blackbox::probe_job(p, &listen, None)).collect();
    let prom = serde_json::json!({"scrape_configs": jobs});
    let mut seen = Vec::new();
    for p in &probes {
        let targets = scraped_targets(&promtool, dir.path(), &prom, &p.job);
        assert_eq!(targets.len(), p.targets.len(), "{}: every target is scraped: {targets:#?}", p.job);
        for t in targets {
            let target = t["__param_target"].as_str().unwrap_or_else(|| {
                panic!("{}: the target is not passed to the exporter (no __param_target): {t:#}", p.job)
            });
            assert_eq!(t["instance"], target, "instance is the probed target");
            let path = format!(
                "{}?module={}&target={}",
                t["__metrics_path__"].as_str().unwrap(),
                percent_encode(t["__param_module"].as_str().unwrap()),
                percent_encode(target)
            );
            let addr = t["__address__"].as_str().unwrap();
            let (status, body) = http_get(addr, &path).unwrap_or_else(|| panic!("no answer from {addr}{path}"));
            assert!(status.contains(" 200"), "{addr}{path}: {status}\n{body}");
            let success = body
                .lines()
                .find_map(|l| l.strip_prefix("probe_success "))
                .unwrap_or_else(|| panic!("{addr}{path}: no probe_success\n{body}"));
            let want = if target.contains(&format!(":{up}")) { "1" } else { "0" };
            assert_eq!(success.trim(), want, "{}: {target}\n{body}", p.job);
            seen.push(format!("{} {target} {want}", p.job));
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
}

/// With shards, the probe targets are spread on `__param_target` (as the operator does
/// for Probes): each target is probed by exactly one shard, all by some shard.
#[test]
fn probe_targets_are_sharded_on_the_target() {
    let Some(promtool) = real("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<String> = (0..12).map(|i| format!("https://svc-{i}.example.com/healthz")).collect();
    let probe = ProbeSpec {
        job: "blackbox-http".into(),
        module: ProbeModule::Http2xx,
        targets: targets.clone(),
        interval: None,
    };
    let mut per_shard = Vec::new();
    for shard in 0..3 {
        let s = ProbeSharding { shards: 3, shard: shard.to_string() };
        let job = blackbox::probe_job(&probe, "prod-blackbox-exporter.monitoring.svc:9115", Some(&s));
        let cfg = serde_json::json!({"scrape_configs": [job]});
        let sub = dir.path().join(format!("shard-{shard}"));
        std::fs::create_dir_all(&sub).unwrap();
        let got: Vec<String> = scraped_targets(&promtool, &sub, &cfg, "blackbox-http")
            .iter()
            .map(|t| {
                assert_eq!(t["__address__"], "prod-blackbox-exporter.monitoring.svc:9115");
                t["__param_target"].as_str().unwrap().to_string()
            })
            .collect();
        per_shard.push(got);
    }
    let mut all: Vec<String> = per_shard.concat();
    all.sort();
    let mut want = targets;
    want.sort();
    assert_eq!(all, want, "each target in exactly one shard: {per_shard:?}");
    assert!(per_shard.iter().filter(|s| !s.is_empty()).count() > 1, "spread over shards: {per_shard:?}");
}

// ---- the stack's dashboard -----------------------------------------------------------

use stackgen::alerting::dashboard;

/// Every panel query of the dashboard (in the generated JSON, as Grafana reads it) is
/// PromQL the parser accepts, for every stack shape; the JSON is deterministic, panel
/// ids are unique and the per-shard panels group by `shard` when sharded.
#[test]
fn dashboard_queries_parse_and_json_is_deterministic() {
    let src = dashboard::Source::one("Thanos", "thanos", true);
    for (name, m) in stack_variants() {
        let text = dashboard::dashboard_json(&m, &src);
        assert_eq!(text, dashboard::dashboard_json(&m, &src), "{name}");
        let d: Value = serde_json::from_str(&text).unwrap();
        let panels = d["panels"].as_array().unwrap();
        let mut ids = std::collections::BTreeSet::new();
        let mut exprs = 0;
        for p in panels {
            assert!(ids.insert(p["id"].as_i64().unwrap()), "{name}: duplicate panel id");
            for t in p["targets"].as_array().into_iter().flatten() {
                let e = t["expr"].as_str().unwrap();
                if let Err(err) = stackgen::alerting::promql::check(e) {
                    panic!("{name}: panel `{}`: {e}: {}", p["title"], err.message);
                }
                exprs += 1;
            }
        }
        assert!(exprs >= 8, "{name}: {exprs} queries");
        let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
        for want in ["Samples ingested per second", "Active series", "TSDB size, retention size and volume", "WAL size"]
        {
            assert!(titles.contains(&want), "{name}: no panel {want}");
        }
        if m.thanos.is_some() {
            assert!(titles.contains(&"Sidecar upload lag"), "{name}");
        }
        if m.shards > 1 {
            assert!(text.contains("max by (shard) (prometheus_tsdb_head_series"), "{name}");
        }
        assert!(d["uid"].as_str().unwrap().len() <= 40);
    }
}

/// Prometheus' own parser accepts every dashboard query too: each becomes a recording
/// rule of a file `promtool check rules` reads.
#[test]
fn dashboard_queries_pass_prometheus_parser() {
    let Some(promtool) = real("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, m) in stack_variants() {
        let rules: Vec<Value> = dashboard::queries(&m, &dashboard::Source::one("Thanos", "thanos", true))
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({"record": format!("dashboard:query{i}"), "expr": e}))
            .collect();
        let n = rules.len();
        let file = dir.path().join(format!("{name}.json"));
        let doc = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let (code, out, err) = run(Command::new(&promtool).arg("check").arg("rules").arg(&file));
        assert_eq!(code, 0, "{name}:\n{out}{err}");
        assert!(out.contains(&format!("SUCCESS: {n} rules found")), "{name}: {out}");
    }
}

/// The blackbox_exporter the tests run is the version the rendered image names.
#[test]
fn blackbox_exporter_is_the_rendered_version() {
    let v = blackbox::BLACKBOX_EXPORTER_VERSION;
    assert!(blackbox::BLACKBOX_EXPORTER_IMAGE.ends_with(&format!(":{v}")), "{}", blackbox::BLACKBOX_EXPORTER_IMAGE);
    let Some(exporter) = real("blackbox_exporter") else { return };
    let (code, out, err) = run(Command::new(&exporter).arg("--version"));
    assert_eq!(code, 0);
    let text = format!("{out}{err}");
    assert!(text.contains(&format!("version {}", v.trim_start_matches('v'))), "{text}");
}

/// A local webhook: a thread on 127.0.0.1 that answers 200 and sends every request body
/// it receives down the channel.
fn webhook_server() -> (u16, std::sync::mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            // Read the head, then Content-Length bytes of body.
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                }
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        let _ = tx.send(body.to_string());
                        break;
                    }
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, rx)
}

fn http_post_json(addr: &str, path: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines().next().map(str::to_string)
}

/// The real Alertmanager with a generated config reads the webhook URL from the file of
/// the mounted Secret (`url_file`) and notifies it: the config holds no URL, the file is
/// where [`AlertmanagerConfig::credential_file`] says the Secret is mounted.
#[test]
fn real_alertmanager_notifies_through_the_url_file() {
    let Some(alertmanager) = real("alertmanager") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = webhook_server();
    let secrets = dir.path().join("secrets");
    let cfg = AlertmanagerConfig {
        receivers: vec![receiver("oncall", ReceiverKind::Webhook)],
        route: Route {
            receiver: "oncall".into(),
            group_by: vec!["alertname".into()],
            group_wait: Some("1s".parse().unwrap()),
            group_interval: Some("1s".parse().unwrap()),
            repeat_interval: None,
            routes: vec![],
        },
        secrets_dir: secrets.to_str().unwrap().into(),
    };
    // The Secret as the kubelet mounts it: one file per key under <secrets_dir>/<secret>/.
    for m in cfg.mounts() {
        std::fs::create_dir_all(&m.mount_path).unwrap();
        std::fs::write(std::path::Path::new(&m.mount_path).join("url"), format!("http://127.0.0.1:{hook}/hook"))
            .unwrap();
    }
    let text = stackgen::alerting::receivers::config_yaml(&cfg);
    assert!(!text.contains(&format!(":{hook}")), "the URL is not in the config:\n{text}");
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, &text).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log_path = dir.path().join("alertmanager.log");
    let _am = Kill(
        Command::new(&alertmanager)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={listen}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(&listen, "/-/ready").is_none_or(|(s, _)| !s.contains(" 200")) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not start:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let alert = r#"[{"labels": {"alertname": "StackgenFileCredential", "severity": "critical"}, "annotations": {"summary": "test"}}]"#;
    let status = http_post_json(&listen, "/api/v2/alerts", alert).unwrap_or_default();
    assert!(status.contains(" 200"), "POST /api/v2/alerts: {status}");
    let body = received.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
        panic!(
            "no notification at the webhook in 30 s; alertmanager log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        )
    });
    assert!(body.contains("StackgenFileCredential"), "{body}");
}

/// No false alarm on real rules: every rule group kube-prometheus-stack 88.5.3 renders
/// (the Prometheus, Alertmanager, Kubernetes and node mixins: 35 PrometheusRules, ~250
/// rules), written as rule files, passes stackgen's rule file check with no diagnostic,
/// as it passes promtool.
#[test]
fn the_charts_mixin_rules_check_clean() {
    let Some(helm) = real("helm") else { return };
    let chart = root().join("../shared/reference-data/charts/kube-prometheus-stack-88.5.3.tgz");
    let chart = if chart.is_file() {
        chart
    } else {
        PathBuf::from("/work/shared/reference-data/charts/kube-prometheus-stack-88.5.3.tgz")
    };
    let (code, out, err) = run(Command::new(&helm).arg("template").arg("t").arg(&chart));
    assert_eq!(code, 0, "helm template:\n{err}");
    let mut files = 0;
    let mut rules = 0;
    for d in docs(&out).iter().filter(|d| d["kind"] == "PrometheusRule") {
        let name = d["metadata"]["name"].as_str().unwrap();
        let groups = serde_json::json!({"groups": d["spec"]["groups"]});
        rules += groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["rules"].as_array().map_or(0, Vec::len))
            .sum::<usize>();
        // As a user would write it: YAML, expressions as literal blocks where multi-line.
        let text = serde_json::to_string_pretty(&groups).unwrap();
        let diags = stackgen::alerting::rules::check_rule_file(name, &text);
        assert!(diags.is_empty(), "{name}: {diags:#?}");
        files += 1;
    }
    assert!(files >= 30 && rules >= 200, "{files} files, {rules} rules");
}

/// The exporter accepts the generated config with every module (`--config.check`).
#[test]
fn blackbox_exporter_accepts_every_module() {
    let Some(exporter) = real("blackbox_exporter") else { return };
    let dir = tempfile::tempdir().unwrap();
    let probe = |job: &str, module| ProbeSpec { job: job.into(), module, targets: vec![], interval: None };
    let probes = vec![
        probe("a", ProbeModule::Http2xx),
        probe("b", ProbeModule::HttpPost2xx),
        probe("c", ProbeModule::TcpConnect),
        probe("d", ProbeModule::Icmp),
        probe("e", ProbeModule::Dns { query_name: "kubernetes.default.svc.cluster.local".into() }),
        probe("f", ProbeModule::Dns { query_name: "example.com".into() }),
    ];
    let text = blackbox::exporter_config(&probes);
    let config = dir.path().join("blackbox.yml");
    std::fs::write(&config, &text).unwrap();
    let (code, out, err) =
        run(Command::new(&exporter).arg("--config.check").arg(format!("--config.file={}", config.display())));
    assert_eq!(code, 0, "blackbox_exporter --config.check:\n{out}{err}\n{text}");
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(v["modules"].as_object().unwrap().len(), 6, "{text}");
}

/// The promtool cases of tests/fixtures/rules/ test the rule file the render ships: the
/// built-in rule file in the rules ConfigMap of a rendered stack of the example's shape
/// (`prod` in `monitoring`, 2 shards x 2 replicas, Thanos, 3 Alertmanagers, Grafana,
/// probes) is byte for byte `builtin::rule_file(&SelfMonitoring::example())`, and
/// promtool 3 `test rules` passes every case against that rendered text.
#[test]
fn the_rendered_builtin_rules_are_the_tested_ones() {
    let text = r#"
[stack]
name = "prod"
namespace = "monitoring"
[prometheus]
replicas = 2
[storage]
backend = "class"
size = "50Gi"
[storage.class]
name = "gp3"
[sharding]
shards = 2
[thanos.objstore]
type = "s3"
bucket = "b"
endpoint = "s3.example.com"
[alertmanager]
replicas = 3
[grafana]
admin_secret = "grafana-admin"
[[probe]]
targets = ["https://api.example.com"]
"#;
    let objs = docs(&stackgen::render_manifests(&check_text("prod.toml", text)));
    let cm = objs
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "prod-prometheus-rules")
        .expect("the rules ConfigMap");
    let rendered = cm["data"]["stackgen-self-monitoring.yaml"].as_str().expect("the built-in rule file");
    assert_eq!(rendered, builtin::rule_file(&SelfMonitoring::example()));
    // Every shard loads it.
    for shard in 0..2 {
        let cfg = objs
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == format!("prod-prometheus-shard-{shard}"))
            .unwrap();
        let cfg: Value = serde_saphyr::from_str(cfg["data"]["prometheus.yml"].as_str().unwrap()).unwrap();
        let files: Vec<&str> = cfg["rule_files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(files, ["/etc/prometheus/rules/stackgen-self-monitoring.yaml"], "shard {shard}");
    }
    let Some(promtool) = real("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("builtin.yaml"), rendered).unwrap();
    let mut cmd = std::process::Command::new(&promtool);
    cmd.current_dir(dir.path()).arg("test").arg("rules");
    let mut n = 0;
    for c in files_with_ext(&root().join("tests/fixtures/rules"), "yaml") {
        std::fs::copy(&c, dir.path().join(c.file_name().unwrap())).unwrap();
        cmd.arg(c.file_name().unwrap());
        n += 1;
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "promtool test rules on the rendered built-in rules:\n{out}{err}");
    assert_eq!(out.matches("SUCCESS").count(), n, "{out}");
}
