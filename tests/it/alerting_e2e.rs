//! `[[probe]]` and `[rules]` with the real programs, everything taken from the render:
//! the blackbox_exporter pod and one Prometheus pod of a rendered stack run on loopback
//! (`common::loopback::Cluster`: the rendered args, env and volumes, ports and paths moved
//! to loopback and a temp dir), with the rendered blackbox.yml, prometheus.yml and rules
//! ConfigMap. The probe target is a local HTTP server named in stack.toml itself.
//!
//! What the test rewrites, and why: prometheus.yml's file paths (rule files, file_sd) to
//! the pod's volume directories (`Cluster::config_to_loopback`), and the probe jobs'
//! `__address__` replacement, the exporter's Service name, to the exporter pod's loopback
//! address (cluster DNS is not here; a headless Service name resolves to its pods).
//!
//! Shown: `probe_success` 1 through Prometheus' API; a recording rule and an alert from the
//! stack's rule file evaluated; the built-in self-monitoring rule file loaded; then the rule
//! file changed in stack.toml's directory, the render's new rules ConfigMap written into
//! the volume as the kubelet does (`..data` swap), and the real config reloader (its
//! rendered `--watched-dir` flags) reloading Prometheus: the new rule is evaluated by the
//! same process, never restarted.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::loopback::{http, Cluster};
use crate::common::*;

/// The result of an instant query: (labels, value) per series.
fn query(addr: &str, q: &str) -> Vec<(Value, String)> {
    let Some((200, body)) = http("GET", addr, &format!("/api/v1/query?query={}", percent_encode(q)), None) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["metric"].clone(), r["value"][1].as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Names of the rules Prometheus has loaded.
fn rules(addr: &str) -> Vec<String> {
    let Some((200, body)) = http("GET", addr, "/api/v1/rules", None) else { return Vec::new() };
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let mut out = Vec::new();
    for g in v["data"]["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            out.push(r["name"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

fn metric(addr: &str, name: &str) -> Option<f64> {
    let (_, body) = http("GET", addr, "/metrics", None)?;
    body.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?.rsplit(' ').next()?.parse().ok()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

const RULES_V1: &str = r#"groups:
  - name: local
    interval: 1s
    rules:
      - record: job:probe_success:max
        expr: max by (job) (probe_success)
      - alert: LocalEndpointUp
        expr: probe_success{job="blackbox-http"} == 1
        labels:
          severity: info
        annotations:
          summary: "{{ $labels.instance }} answers"
          runbook: "nothing to do"
"#;

fn stack_text(target_port: u16) -> String {
    format!(
        r#"[stack]
name = "probes"
namespace = "monitoring"

[prometheus]
scrape_interval = "1s"
scrape_timeout = "1s"
evaluation_interval = "1s"

[storage]
backend = "ephemeral"

[kubernetes]
discovery = false

[[probe]]
job = "blackbox-http"
module = "http_2xx"
targets = ["http://127.0.0.1:{target_port}/healthz"]
interval = "1s"

[rules]
files = ["rules/*.yaml"]
"#
    )
}

/// The render of the stack file at `path` (checked by path, as the CLI does).
fn render(path: &Path) -> Vec<Value> {
    docs(&stackgen::render_manifests(&check_file(path)))
}

/// The rendered prometheus.yml as the pod reads it here, and the exporter address the
/// probe jobs name, moved to the exporter pod's loopback address.
fn loopback_config(cluster: &Cluster, pod: &str, text: &str, exporter: &str) -> String {
    let mut cfg: Value = serde_saphyr::from_str(&cluster.config_to_loopback(pod, "prometheus", text)).unwrap();
    let mut moved = 0;
    for job in cfg["scrape_configs"].as_array_mut().unwrap() {
        if job["metrics_path"] != "/probe" {
            continue;
        }
        for r in job["relabel_configs"].as_array_mut().unwrap() {
            if r["target_label"] == "__address__" {
                assert!(r["replacement"].as_str().unwrap().starts_with("probes-blackbox-exporter.monitoring.svc"));
                r["replacement"] = Value::String(exporter.to_string());
                moved += 1;
            }
        }
    }
    assert_eq!(moved, 1, "one probe job sends its requests to the exporter");
    stackgen::render::yaml::to_string(&cfg)
}

#[test]
fn probes_and_rule_files_run_in_real_prometheus_and_reload_in_place() {
    let _real = real_components_lock();
    let (Some(prometheus), Some(exporter_bin)) = (real("prometheus"), real("blackbox_exporter")) else { return };
    let reloader = real("prometheus-config-reloader");
    let dir = tempfile::tempdir().unwrap();
    let target = healthy_http_server();
    let stack_file = dir.path().join("stack.toml");
    std::fs::write(&stack_file, stack_text(target)).unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/local.yaml"), RULES_V1).unwrap();

    let objs = render(&stack_file);
    let mut cluster = Cluster::new(objs, "cluster.local");
    let bb = cluster.add_first_pod("Deployment", "probes-blackbox-exporter");
    cluster.start(&bb, "blackbox-exporter", &exporter_bin);
    cluster.wait_ready(&bb, "blackbox-exporter", Duration::from_secs(30));
    let exporter = cluster.addr(&bb, "http");

    let prom = cluster.add_first_pod("StatefulSet", "probes-prometheus-shard-0");
    let config_path = cluster.path(&prom, "prometheus", "/etc/prometheus/prometheus.yml").unwrap();
    let rendered = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, loopback_config(&cluster, &prom, &rendered, &exporter)).unwrap();
    // The rules volume in the kubelet's layout (files through `..data`), so that the
    // update below is the kubelet's atomic swap.
    let rules_dir = cluster.path(&prom, "prometheus", "/etc/prometheus/rules").unwrap();
    let rules_cm = |objs: &[Value]| -> Vec<(String, String)> {
        let cm = objs
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "probes-prometheus-rules")
            .expect("a rules ConfigMap");
        cm["data"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
    };
    let v1 = rules_cm(cluster.docs());
    assert_eq!(v1.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["local.yaml", "stackgen-self-monitoring.yaml"]);
    for (k, text) in &v1 {
        std::fs::remove_file(rules_dir.join(k)).unwrap();
        crate::reload_e2e::write_config_volume(&rules_dir, 1, k, text);
    }
    cluster.start(&prom, "prometheus", &prometheus);
    cluster.wait_ready(&prom, "prometheus", Duration::from_secs(60));
    let web = cluster.addr(&prom, "web");

    // The probe through the exporter, as the rendered job asks it.
    wait_for("probe_success 1 for the local target", Duration::from_secs(45), || {
        query(&web, "probe_success{job=\"blackbox-http\"}")
            .iter()
            .any(|(m, v)| v == "1" && m["instance"] == format!("http://127.0.0.1:{target}/healthz"))
    });
    // The stack's rule file: the recording rule and the alert.
    wait_for("the recording rule of rules/local.yaml", Duration::from_secs(30), || {
        query(&web, "job:probe_success:max{job=\"blackbox-http\"}").iter().any(|(_, v)| v == "1")
    });
    wait_for("the alert of rules/local.yaml", Duration::from_secs(30), || {
        !query(&web, "ALERTS{alertname=\"LocalEndpointUp\",alertstate=\"firing\"}").is_empty()
    });
    // The built-in rules are loaded beside it.
    let loaded = rules(&web);
    for name in ["StackComponentDown", "PrometheusBadConfig", "PrometheusTSDBWALWritesFailing"] {
        assert!(loaded.iter().any(|r| r == name), "built-in {name} not loaded: {loaded:?}");
    }

    // Change the rule file next to stack.toml; the new render changes only the rules
    // ConfigMap, which the kubelet swaps into the volume.
    let pid_started = metric(&web, "process_start_time_seconds").expect("start time");
    std::fs::write(
        dir.path().join("rules/local.yaml"),
        RULES_V1.replace("      - alert: LocalEndpointUp", "      - record: job:probe_success:min\n        expr: min by (job) (probe_success)\n      - alert: LocalEndpointUp"),
    )
    .unwrap();
    let objs2 = render(&stack_file);
    let v2 = rules_cm(&objs2);
    assert_ne!(v1, v2, "the rule change is a change of the rules ConfigMap");
    let shard = |objs: &[Value]| {
        objs.iter()
            .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "probes-prometheus-shard-0")
            .cloned()
    };
    assert_eq!(shard(cluster.docs()), shard(&objs2), "the pod template does not change: no restart");
    let reloading = reloader.is_some();
    match reloader {
        Some(reloader) => {
            let watched: Vec<String> = cluster
                .args(&prom, "config-reloader")
                .into_iter()
                .filter_map(|a| a.strip_prefix("--watched-dir=").map(str::to_string))
                .collect();
            assert!(
                watched.iter().any(|w| Path::new(w) == rules_dir),
                "the reloader watches the rules volume: {watched:?} vs {}",
                rules_dir.display()
            );
            cluster.start(&prom, "config-reloader", &reloader);
            wait_for("the config reloader watching", Duration::from_secs(60), || {
                cluster.log(&prom, "config-reloader").contains("started watching")
            });
        }
        None => eprintln!("NOTE: prometheus-config-reloader not built; POSTing the rendered --reload-url instead"),
    }
    for (k, text) in &v2 {
        crate::reload_e2e::write_config_volume(&rules_dir, 2, k, text);
    }
    if !reloading {
        let (code, body) = http("POST", &web, "/-/reload", None).expect("reload answers");
        assert_eq!(code, 200, "{body}");
    }
    wait_for("the new recording rule evaluated", Duration::from_secs(60), || {
        query(&web, "job:probe_success:min{job=\"blackbox-http\"}").iter().any(|(_, v)| v == "1")
    });
    assert_eq!(metric(&web, "process_start_time_seconds"), Some(pid_started), "Prometheus was not restarted");
    assert_eq!(metric(&web, "prometheus_config_last_reload_successful"), Some(1.0));
}

/// helm-values, with the real Prometheus Operator (v0.93.1, the chart's) on a loopback API
/// server and `helm template` of chart 88.5.3 with saas-probes' values: the config the
/// operator generates from `additionalScrapeConfigs` probes each target from exactly one
/// shard, the one its URL hashes to (promtool 3 `check service-discovery` computes the
/// targets of each shard's config), and the rule files reach the operator's rule
/// ConfigMap through `additionalPrometheusRulesMap`.
#[test]
fn the_operator_shards_helm_probes_on_the_target_and_loads_the_rule_files() {
    use crate::common::apiserver::{ok, pick_kinds, ApiServer};
    let _real = real_components_lock();
    let [Some(operator), Some(helm_bin), Some(promtool)] = ["operator", "helm", "promtool"].map(real) else {
        return;
    };
    let Some(mut server) = ApiServer::start() else { return };
    let stack_file = root().join("stacks/saas-probes.toml");
    let s = check_file(&stack_file);
    let chart_objs = server.apply_chart_world(&helm_bin, &s);
    let rules_yaml = server.path("rules.yaml");
    std::fs::write(&rules_yaml, pick_kinds(&chart_objs, &["PrometheusRule"])).unwrap();
    ok(server.kubectl().args([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/prometheusrules.monitoring.coreos.com",
    ]));
    ok(server.kubectl().args(["apply", "--server-side", "-f"]).arg(&rules_yaml));
    server.spawn(
        &operator,
        [
            server.operator_flags(),
            vec![format!("--web.listen-address=127.0.0.1:{}", free_port()), format!("--namespaces={}", s.namespace)],
        ]
        .concat(),
        "operator.log",
    );
    let ns = s.namespace.as_str();
    let cr = stackgen::render::helm::prometheus_cr(&s);
    let log = server.path("operator.log");
    let kubectl = server.kubectl_path().to_path_buf();
    let get = |args: &[&str]| crate::data_layout::get_json(&kubectl, &server.kubeconfig, args, 90, &log);
    let secret = get(&["-n", ns, "get", "secret", &format!("prometheus-{cr}")]);
    let gz = secret["data"]["prometheus.yaml.gz"].as_str().expect("the generated config");
    let mut child = std::process::Command::new("sh")
        .args(["-c", "base64 -d | gzip -dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), gz.as_bytes()).unwrap();
    let text = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert!(text.contains("$(SHARD)"), "the operator's config is one for all shards, $(SHARD) set per pod");

    let dir = tempfile::tempdir().unwrap();
    let probe = s.probes.iter().find(|p| p.job == "blackbox-http").unwrap();
    let mut owners: Vec<(String, u64)> = Vec::new();
    for shard in 0..u64::from(s.sharding.shards) {
        let path = dir.path().join(format!("shard-{shard}.yml"));
        std::fs::write(&path, text.replace("$(SHARD)", &shard.to_string())).unwrap();
        let (code, out, err) = run(std::process::Command::new(&promtool)
            .args(["check", "service-discovery", "--timeout=1s"])
            .arg(&path)
            .arg(&probe.job));
        assert_eq!(code, 0, "promtool check service-discovery:\n{out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        for t in v.as_array().unwrap() {
            let l = &t["labels"];
            if l.as_object().is_some_and(|m| !m.is_empty()) {
                assert_eq!(l["__address__"], "saas-blackbox-exporter.monitoring.svc.cluster.local:9115");
                owners.push((l["__param_target"].as_str().unwrap().to_string(), shard));
            }
        }
    }
    owners.sort();
    let mut want: Vec<(String, u64)> = probe
        .targets
        .iter()
        .map(|t| (t.clone(), stackgen::model::sharding::hashmod(t, u64::from(s.sharding.shards))))
        .collect();
    want.sort();
    assert_eq!(owners, want, "each probe target in exactly the shard its URL hashes to");

    // The stack's rule files, loaded by the operator for every shard.
    let cm = get(&["-n", ns, "get", "configmap", &format!("prometheus-{cr}-rulefiles-0")]);
    let all: String = cm["data"].as_object().unwrap().values().map(|v| v.as_str().unwrap_or_default()).collect();
    for name in ["EndpointDown", "CertificateExpiresSoon", "job:probe_success:avg5m", "ThanosCompactHalted"] {
        assert!(all.contains(name), "{name} not in the operator's rule files:\n{all}");
    }
}

/// Self-monitoring scrapes every component once: for each shard's rendered prometheus.yml
/// (saas-probes, 2 shards x 2 replicas), promtool 3 `check service-discovery` gives the
/// targets each shard keeps after relabeling. The shared components (Store Gateway,
/// Compactor, Alertmanager, Grafana) are kept by exactly one shard; the Prometheus pods
/// and their sidecars by their own shard only; `prometheus-shards` (liveness only) by
/// every shard on purpose, each pod labelled with its shard. (Query and the exporter are
/// found through DNS A records, which promtool cannot resolve here; they are hashed by the
/// same rules.)
#[test]
fn self_monitoring_scrapes_each_component_once() {
    let Some(promtool) = real("promtool") else { return };
    let s = check_file(&root().join("stacks/saas-probes.toml"));
    let objs = docs(&stackgen::render_manifests(&s));
    let dir = tempfile::tempdir().unwrap();
    let data = |name: &str, key: &str| -> String {
        objs.iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("ConfigMap {name}"))["data"][key]
            .as_str()
            .unwrap()
            .to_string()
    };
    let shards_file = dir.path().join("shards.yaml");
    std::fs::write(&shards_file, data("saas-prometheus-shards", "shards.yaml")).unwrap();
    let jobs = [
        "prometheus",
        "thanos-sidecar",
        "prometheus-shards",
        "thanos-store",
        "thanos-compactor",
        "alertmanager",
        "grafana",
    ];
    // (job, address) -> shards that keep it, and the labels they keep it with.
    let mut kept: std::collections::BTreeMap<(String, String), Vec<(u16, Value)>> = Default::default();
    for shard in 0..s.sharding.shards {
        let mut cfg: Value =
            serde_saphyr::from_str(&data(&format!("saas-prometheus-shard-{shard}"), "prometheus.yml")).unwrap();
        // Only what promtool needs to run discovery: the file_sd list where the config
        // names it, no rule files.
        cfg.as_object_mut().unwrap().remove("rule_files");
        for job in cfg["scrape_configs"].as_array_mut().unwrap() {
            if let Some(f) = job.get_mut("file_sd_configs") {
                *f = serde_json::json!([{"files": [shards_file.display().to_string()]}]);
            }
        }
        let path = dir.path().join(format!("shard-{shard}.yml"));
        std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
        for job in jobs {
            let (code, out, err) = run(std::process::Command::new(&promtool)
                .args(["check", "service-discovery", "--timeout=1s"])
                .arg(&path)
                .arg(job));
            assert_eq!(code, 0, "{job}: {out}{err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            for t in v.as_array().unwrap() {
                let l = &t["labels"];
                if l.as_object().is_some_and(|m| !m.is_empty()) {
                    let addr = l["__address__"].as_str().unwrap().to_string();
                    kept.entry((job.to_string(), addr)).or_default().push((shard, l.clone()));
                }
            }
        }
    }
    let count = |job: &str| kept.keys().filter(|(j, _)| j == job).count();
    // 2 shards x 2 replicas; one Store Gateway, one Compactor, 2 Alertmanagers, Grafana.
    assert_eq!(jobs.map(count), [4, 4, 4, 1, 1, 2, 1], "targets per job: {:#?}", kept.keys().collect::<Vec<_>>());
    for ((job, addr), by) in &kept {
        let shards: Vec<u16> = by.iter().map(|(s, _)| *s).collect();
        match job.as_str() {
            "prometheus-shards" => {
                assert_eq!(shards, [0, 1], "{addr}: every shard checks every shard");
                let own: u16 = addr["saas-prometheus-shard-".len()..].split('-').next().unwrap().parse().unwrap();
                for (_, l) in by {
                    assert_eq!(l["prometheus_shard"], own.to_string(), "{addr}");
                    assert_eq!(l["__metrics_path__"], "/federate", "{addr}: liveness only");
                }
            }
            "prometheus" | "thanos-sidecar" => {
                let own: u16 = addr["saas-prometheus-shard-".len()..].split('-').next().unwrap().parse().unwrap();
                assert_eq!(shards, [own], "{job} {addr}: scraped by its own shard only");
            }
            _ => assert_eq!(shards.len(), 1, "{job} {addr}: scraped by exactly one shard, not {shards:?}"),
        }
    }
}

/// `diff` reads the rule files as render does: a changed rule is one changed object, the
/// rules ConfigMap, and no restart (the reloaders apply it).
#[test]
fn a_rule_change_is_a_rules_configmap_change_in_diff() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("saas-probes.toml");
    std::fs::copy(root().join("stacks/saas-probes.toml"), &stack).unwrap();
    std::fs::create_dir_all(dir.path().join("rules/saas")).unwrap();
    for f in ["api.yaml", "recording.yaml"] {
        std::fs::copy(root().join("stacks/rules/saas").join(f), dir.path().join("rules/saas").join(f)).unwrap();
    }
    let (code, before, err) = run(std::process::Command::new(bin()).arg("render").arg(&stack));
    assert_eq!(code, 0, "{err}");
    let old = dir.path().join("old.yaml");
    std::fs::write(&old, before).unwrap();
    let api = dir.path().join("rules/saas/api.yaml");
    std::fs::write(&api, std::fs::read_to_string(&api).unwrap().replace("for: 5m", "for: 10m")).unwrap();
    let (_, out, err) =
        run(std::process::Command::new(bin()).args(["diff", "--format", "json", "--against"]).arg(&old).arg(&stack));
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(report["summary"]["changed"], 1, "{out}");
    assert_eq!(report["summary"]["restarts"], 0, "{out}");
    let changed: Vec<&str> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["change"] == "changed")
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["saas-prometheus-rules"]);
}

/// An icmp probe, as rendered, from a real blackbox_exporter that is not root and has no
/// capability: the exporter runs with the pod's `runAsUser`/`runAsGroup`, every
/// capability dropped, in a network namespace of its own whose
/// `net.ipv4.ping_group_range` is the rendered pod sysctl (what the kubelet sets). Its
/// rendered args and blackbox.yml are used; only the listen port and the config path
/// are moved. The echo to 127.0.0.1 succeeds; with the kernel's default range (`1 0`,
/// the pod without the sysctl) the same probe fails, so the sysctl is what makes it work.
#[test]
fn icmp_probes_run_unprivileged_with_the_rendered_sysctl() {
    let Some(exporter_bin) = real("blackbox_exporter") else { return };
    for t in ["unshare", "setpriv", "ip", "curl"] {
        if tool(t).is_none() {
            if in_ci() {
                panic!("{t} is needed for the icmp probe test");
            }
            skipped(&format!("icmp probe test: {t} not found"));
            return;
        }
    }
    let euid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if euid.as_deref().ok() != Some("0") {
        if in_ci() {
            panic!("the icmp probe test needs root to make a network namespace");
        }
        skipped("icmp probe test: not root (a network namespace is needed)");
        return;
    }
    let text = "[stack]\nname = \"icmp\"\n[storage]\nbackend = \"ephemeral\"\n[kubernetes]\ndiscovery = false\n\
                [[probe]]\njob = \"blackbox-icmp\"\nmodule = \"icmp\"\ntargets = [\"127.0.0.1\"]\n";
    let s = check_text("icmp.toml", text);
    let objs = docs(&stackgen::render_manifests(&s));
    let mut cluster = Cluster::new(objs, "cluster.local");
    let pod = cluster.add_first_pod("Deployment", "icmp-blackbox-exporter");
    let spec = cluster.pod(&pod).spec.clone();
    let sc = &spec["securityContext"];
    let (uid, gid) = (sc["runAsUser"].as_u64().expect("runAsUser"), sc["runAsGroup"].as_u64().expect("runAsGroup"));
    assert_ne!(uid, 0, "the exporter does not run as root");
    let range = sc["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["name"] == "net.ipv4.ping_group_range")
        .and_then(|x| x["value"].as_str())
        .expect("an icmp probe renders the ping_group_range sysctl")
        .to_string();
    let c = cluster.container(&pod, "blackbox-exporter");
    assert_eq!(c["securityContext"]["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(c["securityContext"]["capabilities"].get("add").is_none(), "no capability added");

    // The rendered args; the config copied where the exporter's user may read it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut args = cluster.args(&pod, "blackbox-exporter");
    let mut port = None;
    for a in &mut args {
        if let Some(path) = a.strip_prefix("--config.file=") {
            let copy = dir.path().join("blackbox.yml");
            std::fs::copy(path, &copy).unwrap();
            std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
            *a = format!("--config.file={}", copy.display());
        } else if let Some(addr) = a.strip_prefix("--web.listen-address=") {
            port = Some(addr.rsplit(':').next().unwrap().to_string());
        }
    }
    let port = port.expect("a --web.listen-address");
    let script = r#"set -e
ip link set lo up
echo "$RANGE" > /proc/sys/net/ipv4/ping_group_range
setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@" >"$LOG" 2>&1 &
for i in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
pid=$!
curl -sS "http://127.0.0.1:$PORT/probe?module=icmp&target=127.0.0.1&debug=true"
kill "$pid" || true
"#;
    let probe = |range: &str| -> String {
        let log = dir.path().join(format!("exporter-{}.log", range.replace(' ', "_")));
        let out = std::process::Command::new("unshare")
            .args(["--net", "--", "sh", "-c", script, "sh"])
            .arg(&exporter_bin)
            .args(&args)
            .env("RANGE", range)
            .env("RUN_UID", uid.to_string())
            .env("RUN_GID", gid.to_string())
            .env("PORT", &port)
            .env("LOG", &log)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && stdout.contains("probe_success"),
            "the exporter in its namespace (range {range}):\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        stdout
    };
    let with_sysctl = probe(&range);
    assert!(with_sysctl.contains("probe_success 1"), "the rendered icmp probe fails:\n{with_sysctl}");
    let without = probe("1 0");
    assert!(without.contains("probe_success 0"), "the probe succeeded without the sysctl (privileged?):\n{without}");
}
