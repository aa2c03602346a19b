//! Alertmanager receivers and routes from stack.toml (`[[alertmanager.receivers]]`,
//! `[alertmanager.route]`), checked on what stackgen renders, never on a hand-built
//! config:
//! - `amtool check-config` on the alertmanager.yml of every example stack, with the
//!   receivers' Secrets written out where the rendered pod mounts them (the loopback
//!   kubelet of tests/it/common/loopback.rs) and every `*_file` pointing at one of them;
//! - in helm-values mode, the config kube-prometheus-stack 88.5.3 renders from the values
//!   (`helm template`, the chart's merge of `alertmanager.config` into its default), with
//!   the Secrets of the Alertmanager resource's `spec.secrets` where the operator mounts
//!   them;
//! - a real Alertmanager on loopback, started with the rendered args and config, whose
//!   webhook URL is only in the Secret: an alert posted to its API reaches the test's
//!   webhook server;
//! - an inline credential in a receiver is refused in every output format without the
//!   value being printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::apiserver::helm_template;
use crate::common::loopback::{http, poll, serve, Cluster};
use crate::common::*;

/// What a receiver's Secret holds, key by key, in these tests: a plausible value for
/// every key a receiver type reads (the rendered config names the one it uses).
fn secret_data(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("url", url.to_string()),
        ("api_url", "https://hooks.slack.com/services/T0/B0/test".to_string()),
        ("routing_key", "0123456789abcdef0123456789abcdef".to_string()),
        ("service_key", "0123456789abcdef0123456789abcdef".to_string()),
        ("password", "smtp-password".to_string()),
    ]
}

/// The Secrets a rendered pod template mounts (`secret.secretName` of its volumes).
fn mounted_secrets(pod_template: &Value) -> Vec<String> {
    pod_template["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["secret"]["secretName"].as_str().map(str::to_string))
        .collect()
}

/// Every string under a key ending in `_file`, with its key.
fn file_keys(v: &Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| file_keys(c, k, out)),
        Value::Array(a) => a.iter().for_each(|c| file_keys(c, key, out)),
        Value::String(s) if key.ends_with("_file") => out.push((key.to_string(), s.clone())),
        _ => {}
    }
}

/// `amtool check-config FILE`: its exit code and output.
fn amtool_check(amtool: &Path, config: &Path) -> (i32, String) {
    let (code, out, err) = run(Command::new(amtool).arg("check-config").arg(config));
    (code, format!("{out}{err}"))
}

/// The rendered Alertmanager of a stack as loopback would run it: its first pod with the
/// receivers' Secrets provided, the config file rewritten so that its `*_file` paths
/// point at the pod's volumes. Returns the cluster, the pod and the config's path.
fn alertmanager_pod(stack: &stackgen::model::Stack, url: &str) -> (Cluster, String, PathBuf) {
    let docs = docs(&stackgen::render_manifests(stack));
    let sts = docs
        .iter()
        .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["labels"]["app.kubernetes.io/name"] == "alertmanager")
        .expect("an Alertmanager StatefulSet")
        .clone();
    let mut cluster = Cluster::new(docs, &stack.kubernetes.cluster_domain);
    let data = secret_data(url);
    for s in mounted_secrets(&sts["spec"]["template"]) {
        let pairs: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cluster = cluster.with_secret(&s, &pairs);
    }
    let name = sts["metadata"]["name"].as_str().unwrap().to_string();
    let pod = cluster.add_first_pod("StatefulSet", &name);
    let config = PathBuf::from(cluster.arg(&pod, "alertmanager", "--config.file").expect("--config.file"));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, cluster.config_to_loopback(&pod, "alertmanager", &text)).unwrap();
    (cluster, pod, config)
}

/// amtool accepts the rendered alertmanager.yml of every example stack, each credential
/// a file of a mounted Secret that exists where the config says, and no credential in
/// the config itself.
#[test]
fn amtool_accepts_every_rendered_alertmanager_config() {
    let Some(amtool) = real("amtool") else { return };
    let mut checked = 0;
    for path in stacks() {
        let stack = check_text(&path.display().to_string(), &std::fs::read_to_string(&path).unwrap());
        let Some(am) = &stack.alertmanager else { continue };
        let (cluster, pod, config) = alertmanager_pod(&stack, "https://hooks.example.com/secret-value");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("secret-value"), "{}: a credential in the config:\n{text}", path.display());
        let cfg: Value = serde_saphyr::from_str(&text).unwrap();
        let mut files = Vec::new();
        file_keys(&cfg, "", &mut files);
        let with_secret = am.receivers.iter().filter(|r| r.secret.is_some()).count();
        assert_eq!(files.len(), with_secret, "{}: one *_file per receiver with a Secret: {files:?}", path.display());
        for (key, f) in &files {
            assert!(
                Path::new(f).is_file(),
                "{}: {key} {f} is not a file of a mounted Secret (pod {pod}, root {})",
                path.display(),
                cluster.root().display()
            );
        }
        let (code, out) = amtool_check(&amtool, &config);
        assert_eq!(code, 0, "{}: amtool check-config:\n{out}\n{text}", path.display());
        assert!(out.contains(&format!(" - {} receivers", am.receivers.len().max(1))), "{}: {out}", path.display());
        checked += 1;
    }
    assert!(checked >= 4, "{checked} example stacks with Alertmanager");
}

/// helm-values: the chart merges `alertmanager.config` into its default config and
/// renders it as the Secret the operator reads; amtool accepts it, with the Secrets of
/// the Alertmanager resource's `spec.secrets` where the operator mounts them
/// (`/etc/alertmanager/secrets/<name>/`, the operator's fixed layout) and nothing of the
/// chart's default (its `null` receiver, the Watchdog route) left over.
#[test]
fn amtool_accepts_the_charts_alertmanager_config() {
    let (Some(amtool), Some(helm)) = (real("amtool"), real("helm")) else { return };
    const OPERATOR_SECRETS: &str = "/etc/alertmanager/secrets/";
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for path in stacks() {
        let stack = check_text(&path.display().to_string(), &std::fs::read_to_string(&path).unwrap());
        if stack.alertmanager.as_ref().is_none_or(|a| a.receivers.is_empty()) {
            continue;
        }
        let values = dir.path().join(format!("{}.values.yaml", stem(&path)));
        std::fs::write(&values, stackgen::render::helm::render(&stack).values).unwrap();
        let objs = helm_template(&helm, &stack, &values);
        let am = objs.iter().find(|o| o["kind"] == "Alertmanager").expect("the chart's Alertmanager");
        let secret_name = format!("alertmanager-{}", am["metadata"]["name"].as_str().unwrap());
        let secret = objs
            .iter()
            .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == secret_name.as_str())
            .unwrap_or_else(|| panic!("{}: no Secret {secret_name}", path.display()));
        let b64 = secret["data"]["alertmanager.yaml"].as_str().expect("alertmanager.yaml");
        let text = String::from_utf8(decode_base64(b64)).unwrap();
        // The operator's mounts, under a temp dir.
        let mounts = dir.path().join(stem(&path)).join("secrets");
        let mut listed = Vec::new();
        for s in am["spec"]["secrets"].as_array().into_iter().flatten() {
            let s = s.as_str().unwrap();
            listed.push(s.to_string());
            for (k, v) in secret_data("https://hooks.example.com/x") {
                std::fs::create_dir_all(mounts.join(s)).unwrap();
                std::fs::write(mounts.join(s).join(k), v).unwrap();
            }
        }
        let mut cfg: Value = serde_saphyr::from_str(&text).unwrap();
        let mut files = Vec::new();
        file_keys(&cfg, "", &mut files);
        for (key, f) in &files {
            let rest = f.strip_prefix(OPERATOR_SECRETS).unwrap_or_else(|| panic!("{key} {f} is not under a mount"));
            let secret = rest.split('/').next().unwrap();
            assert!(listed.iter().any(|l| l == secret), "{}: {f} is in no spec.secrets {listed:?}", path.display());
        }
        let receivers: Vec<&str> =
            cfg["receivers"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(!receivers.contains(&"null"), "{}: the chart's null receiver survived: {receivers:?}", path.display());
        retarget(&mut cfg, OPERATOR_SECRETS, &format!("{}/", mounts.display()));
        let config = dir.path().join(format!("{}.alertmanager.yaml", stem(&path)));
        std::fs::write(&config, serde_json::to_string(&cfg).unwrap()).unwrap();
        let (code, out) = amtool_check(&amtool, &config);
        assert_eq!(code, 0, "{}: amtool check-config on the chart's config:\n{out}\n{text}", path.display());
        checked += 1;
    }
    assert!(checked >= 4, "{checked}");
}

/// Every `*_file` path under `from` moved under `to`.
fn retarget(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                if k.ends_with("_file") {
                    if let Value::String(s) = c {
                        if let Some(rest) = s.strip_prefix(from) {
                            *s = format!("{to}{rest}");
                        }
                    }
                } else {
                    retarget(c, from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| retarget(c, from, to)),
        _ => {}
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

const E2E_STACK: &str = r#"
[stack]
name = "rcv"
[storage]
backend = "ephemeral"
[alertmanager]
[[alertmanager.receivers]]
name = "hook"
type = "webhook"
secret = "am-hook"
send_resolved = false
[[alertmanager.receivers]]
name = "pager"
type = "pagerduty"
secret = "am-pagerduty"
[alertmanager.route]
receiver = "pager"
group_wait = "1s"
group_interval = "1s"
[[alertmanager.route.routes]]
receiver = "hook"
matchers = ['team="sre"']
[kubernetes]
discovery = false
"#;

/// A real Alertmanager started with the rendered args and config: the webhook URL is
/// only in the Secret (read through `url_file`), the alert is routed by the rendered
/// child route, and the test's webhook server receives it.
#[test]
fn real_alertmanager_notifies_the_rendered_webhook() {
    let _real = real_components_lock();
    let Some(alertmanager) = real("alertmanager") else { return };
    let stack = check_text("receivers-e2e.toml", E2E_STACK);
    let hooks = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = hooks.clone();
    let server = serve(move |req| {
        h.lock().unwrap().push(String::from_utf8_lossy(&req.body).to_string());
        (200, "text/plain".into(), String::new())
    });
    let url = format!("http://{server}/hook");
    let (mut cluster, pod, config) = alertmanager_pod(&stack, &url);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains(&server), "the URL is not in the config:\n{text}");
    let started = cluster.start_pod(&pod, &[("prometheus/alertmanager", &alertmanager)]);
    assert_eq!(started, ["alertmanager"]);
    cluster.wait_ready(&pod, "alertmanager", Duration::from_secs(60));
    let web = cluster.addr(&pod, "web");
    let alert = json!([{
        "labels": {"alertname": "StackgenReceivers", "team": "sre", "severity": "warning"},
        "annotations": {"summary": "routed to the webhook by the rendered child route"},
    }])
    .to_string();
    let r = http("POST", &web, "/api/v2/alerts", Some(("application/json", alert.as_bytes())));
    assert_eq!(r.as_ref().map(|(c, _)| *c), Some(200), "POST /api/v2/alerts: {r:?}");
    poll(
        Duration::from_secs(60),
        "the webhook notification",
        || (!hooks.lock().unwrap().is_empty()).then_some(()),
        || cluster.explain(&pod, "alertmanager"),
    );
    let body: Value = serde_json::from_str(&hooks.lock().unwrap()[0]).unwrap();
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "StackgenReceivers");
}

/// A webhook URL written in a receiver is refused (SG111) and never printed, in any
/// output format.
#[test]
fn an_inline_receiver_credential_is_refused_without_its_value() {
    let fixture = root().join("tests/invalid/schema/receiver-inline-url.toml");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let value = text.lines().find_map(|l| l.strip_prefix("api_url = ")).unwrap().trim_matches('"').to_string();
    let secret_part = value.rsplit('/').next().unwrap().to_string();
    let mut formats = BTreeMap::new();
    for format in ["human", "json", "github", "sarif"] {
        let out = Command::new(bin()).args(["lint", "--format", format]).arg(&fixture).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{format}: {all}");
        assert!(all.contains("SG111"), "{format}: {all}");
        assert!(!all.contains(&secret_part) && !all.contains("hooks.slack.com"), "{format} prints the value:\n{all}");
        formats.insert(format, all.len());
    }
    assert_eq!(formats.len(), 4);
}
