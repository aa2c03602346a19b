//! Config changes reach Prometheus without a restart, with the real
//! programs: a real Prometheus (`common::real("prometheus")`) runs with exactly the flags
//! of the rendered StatefulSet, and the real config reloader
//! (`prometheus-config-reloader`, built with the operator) with exactly its rendered
//! flags; only paths and ports are moved onto a temp dir and free loopback ports. A new
//! scrape job is written the way the kubelet updates a ConfigMap volume (a new `..data`
//! directory swapped in by rename), and the job must become active in the same process:
//! same pid, same `process_start_time_seconds`, `prometheus_config_last_reload_successful`
//! 1. Without the reloader binary the test calls the rendered `--reload-url` itself.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const STACK: &str = r#"
[stack]
name = "r"

[storage]
backend = "class"
size = "10Gi"

[storage.class]
name = "gp3"

[kubernetes]
discovery = false

# This test is about prometheus.yml; rule files reload in alerting_e2e.
[rules]
self_monitoring = false
"#;

/// The common loopback HTTP client, on a 127.0.0.1 port.
fn http(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    crate::common::loopback::http(method, &format!("127.0.0.1:{port}"), path, None)
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

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The rendered StatefulSet and prometheus.yml of the only shard.
fn rendered(text: &str) -> (Value, String) {
    let docs = docs(&stackgen::render_manifests(&check_text("r.toml", text)));
    let sts =
        docs.iter().find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "r-prometheus-shard-0").unwrap();
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "r-prometheus-shard-0").unwrap();
    (sts.clone(), cm["data"]["prometheus.yml"].as_str().unwrap().to_string())
}

fn container<'a>(sts: &'a Value, name: &str) -> &'a Value {
    sts["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

fn args(c: &Value) -> Vec<String> {
    c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

/// Write the ConfigMap volume as the kubelet does: files in a fresh timestamped
/// directory, `..data` swapped to it by an atomic rename, and the file a symlink through
/// `..data`.
pub(crate) fn write_config_volume(dir: &Path, generation: u32, file: &str, text: &str) {
    let ts = dir.join(format!("..2026_12_01_00_00_0{generation}"));
    std::fs::create_dir_all(&ts).unwrap();
    std::fs::write(ts.join(file), text).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(ts.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join(file);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(format!("..data/{file}"), &link).unwrap();
    }
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, body) = http("GET", port, "/metrics")?;
    body.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?.rsplit(' ').next()?.parse().ok()
}

fn jobs(port: u16) -> Vec<String> {
    let Some((200, body)) = http("GET", port, "/api/v1/status/config") else { return Vec::new() };
    let v: Value = serde_json::from_str(&body).unwrap();
    let cfg: Value = serde_saphyr::from_str(v["data"]["yaml"].as_str().unwrap()).unwrap();
    cfg["scrape_configs"].as_array().unwrap().iter().map(|j| j["job_name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_new_scrape_job_is_reloaded_in_place_without_a_restart() {
    let _real = crate::common::real_components_lock();
    let Some(prometheus) = real("prometheus") else { return };
    let (sts_a, config_a) = rendered(STACK);
    let (sts_b, config_b) =
        rendered(&format!("{STACK}\n[[scrape]]\njob = \"added\"\nstatic_targets = [\"127.0.0.1:1\"]\n"));
    assert_eq!(sts_a["spec"]["template"], sts_b["spec"]["template"], "the pod template must not change");

    let tmp = tempfile::tempdir().unwrap();
    let config_dir = tmp.path().join("config");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&config_dir).unwrap();
    let prom_port = free_port();
    let p = container(&sts_a, "prometheus");
    // Every flag as rendered; the config directory, the data directory and the listen
    // address moved onto the temp dir and a loopback port.
    let mut config_file = String::new();
    let mut rendered_port = String::new();
    let prom_args: Vec<String> = args(p)
        .into_iter()
        .map(|a| {
            if let Some(path) = a.strip_prefix("--config.file=") {
                let (_, file) = path.rsplit_once('/').unwrap();
                config_file = file.to_string();
                format!("--config.file={}", config_dir.join(file).display())
            } else if a.starts_with("--storage.tsdb.path=") {
                format!("--storage.tsdb.path={}", data_dir.display())
            } else if let Some(addr) = a.strip_prefix("--web.listen-address=") {
                rendered_port = addr.rsplit(':').next().unwrap().to_string();
                format!("--web.listen-address=127.0.0.1:{prom_port}")
            } else {
                a
            }
        })
        .collect();
    write_config_volume(&config_dir, 1, &config_file, &config_a);
    let mut procs = Procs(Vec::new());
    let mut cmd = Command::new(&prometheus);
    cmd.args(&prom_args).env("POD_NAME", "r-prometheus-shard-0-0").stdout(Stdio::null()).stderr(Stdio::null());
    procs.0.push(cmd.spawn().expect("prometheus starts"));
    wait_for("Prometheus ready", Duration::from_secs(60), || {
        http("GET", prom_port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    assert!(!jobs(prom_port).contains(&"added".to_string()));
    let pid = procs.0[0].id();
    let started = metric(prom_port, "process_start_time_seconds").expect("start time");

    // The reloader, with its rendered flags; ports that point at Prometheus' rendered port
    // point at the test's.
    let r = container(&sts_a, "config-reloader");
    let local = |url: &str| url.replace(&format!("127.0.0.1:{rendered_port}/"), &format!("127.0.0.1:{prom_port}/"));
    let reload_url = args(r).iter().find_map(|a| a.strip_prefix("--reload-url=").map(local)).expect("--reload-url");
    // Under CI the reloader must be there (real() fails without it); elsewhere the test
    // still proves the rendered reload URL and flags work with the real Prometheus.
    let reloader = if testbin_dir().join("prometheus-config-reloader").is_file() || in_ci() {
        real("prometheus-config-reloader")
    } else {
        None
    };
    if let Some(reloader) = reloader {
        let mount = r["volumeMounts"][0]["mountPath"].as_str().unwrap().to_string();
        let reloader_args: Vec<String> = args(r)
            .into_iter()
            .map(|a| {
                if a.starts_with("--listen-address=") {
                    format!("--listen-address=127.0.0.1:{}", free_port())
                } else if let Some(dir) = a.strip_prefix("--watched-dir=") {
                    assert_eq!(dir, mount, "the reloader watches its config mount");
                    format!("--watched-dir={}", config_dir.display())
                } else if let Some(url) = a.strip_prefix("--reload-url=") {
                    format!("--reload-url={}", local(url))
                } else if let Some(url) = a.strip_prefix("--runtimeinfo-url=") {
                    format!("--runtimeinfo-url={}", local(url))
                } else {
                    a
                }
            })
            .collect();
        let log_path = tmp.path().join("config-reloader.log");
        let mut cmd = Command::new(reloader);
        // It logs to stdout; stderr goes to the same file.
        let log = std::fs::File::create(&log_path).unwrap();
        cmd.args(&reloader_args).stderr(log.try_clone().unwrap()).stdout(log);
        procs.0.push(cmd.spawn().expect("config reloader starts"));
        // With only --watched-dir the reloader applies nothing at start: it reloads on a
        // change it sees, or after --watch-interval (minutes). So the new config is
        // written once it watches the directory, as its log says, never after a guessed
        // delay (a slow start on a loaded machine would miss the change).
        wait_for("the config reloader watching its directory", Duration::from_secs(60), || {
            std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("started watching"))
        });
        write_config_volume(&config_dir, 2, &config_file, &config_b);
    } else {
        eprintln!("NOTE: prometheus-config-reloader not built; calling the rendered --reload-url as it would");
        write_config_volume(&config_dir, 2, &config_file, &config_b);
        let path = reload_url.split_once(&format!("{prom_port}")).unwrap().1.to_string();
        let (status, body) = http("POST", prom_port, &path).expect("reload endpoint answers");
        assert_eq!(status, 200, "POST {reload_url}: {body}");
    }
    wait_for("the new job in the running config", Duration::from_secs(60), || {
        jobs(prom_port).contains(&"added".to_string())
    });
    assert_eq!(procs.0[0].try_wait().unwrap(), None, "Prometheus is still running");
    assert_eq!(procs.0[0].id(), pid);
    assert_eq!(metric(prom_port, "process_start_time_seconds"), Some(started), "no restart");
    assert_eq!(metric(prom_port, "prometheus_config_last_reload_successful"), Some(1.0));
}
