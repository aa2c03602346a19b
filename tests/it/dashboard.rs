//! The Grafana dashboard of the stack itself (issue 17 item 7), taken from the RENDERED
//! objects of every example stack with `[grafana]`, in manifests, operator and
//! helm-values modes: the ConfigMap's JSON parses, has the panels the issue lists, every
//! panel queries a datasource the render provisions (by uid), every query parses and
//! selects a job the stack scrapes, and Grafana is set up to load it (provider file and
//! mount, or the chart sidecar's label). Then every query runs against a real Prometheus 3
//! scraping itself: none is refused, and the Prometheus panels return data.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::loopback::{enc, http, poll, Cluster};
use crate::common::*;

/// The example stacks that provision the dashboard.
fn grafana_stacks() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = stacks()
        .into_iter()
        .filter(|p| {
            let s = check_file(p);
            s.grafana.is_some() && s.rules.self_monitoring
        })
        .collect();
    assert!(v.len() >= 3, "{v:?}");
    v
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objs.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// The dashboard JSON of a render's `<stack>-grafana-dashboards` ConfigMap.
fn rendered_dashboard(objs: &[Value], stack: &str) -> (Value, Value) {
    let cm = find(objs, "ConfigMap", &format!("{stack}-grafana-dashboards"))
        .unwrap_or_else(|| panic!("{stack}: no dashboards ConfigMap"))
        .clone();
    let text = cm["data"]["stackgen-stack-health.json"].as_str().expect("the dashboard JSON");
    (serde_json::from_str(text).expect("the dashboard JSON parses"), cm)
}

/// Every (panel title, datasource uid, expr) of a dashboard.
fn targets(d: &Value) -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        if p["type"] == "row" {
            continue;
        }
        let title = p["title"].as_str().unwrap().to_string();
        let uid = p["datasource"]["uid"].as_str().unwrap();
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], uid, "{title}: a target's datasource differs from its panel's");
            v.push((title.clone(), uid.to_string(), t["expr"].as_str().unwrap().to_string()));
        }
    }
    v
}

use crate::common::metrics::selectors;

/// The panels the issue lists, by title; with Thanos, its panels too.
fn assert_panels(name: &str, d: &Value, thanos: bool, shards_by_label: bool) {
    let titles: BTreeSet<&str> = d["panels"].as_array().unwrap().iter().filter_map(|p| p["title"].as_str()).collect();
    let mut want =
        vec!["Samples ingested per second", "Active series", "TSDB size, retention size and volume", "WAL size"];
    if thanos {
        want.extend(["Sidecar upload lag", "Store Gateway blocks and sync failures", "Compactor"]);
    }
    for w in want {
        assert!(titles.contains(w), "{name}: no panel `{w}` in {titles:?}");
    }
    let text = d.to_string();
    for metric in [
        "prometheus_tsdb_head_samples_appended_total",
        "prometheus_tsdb_head_series",
        "prometheus_tsdb_storage_blocks_bytes",
        "prometheus_tsdb_retention_limit_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "prometheus_tsdb_wal_storage_size_bytes",
    ] {
        assert!(text.contains(metric), "{name}: {metric} is on no panel");
    }
    if thanos {
        for metric in ["thanos_objstore_bucket_last_successful_upload_time", "thanos_compact_halted"] {
            assert!(text.contains(metric), "{name}: {metric} is on no panel");
        }
    }
    if shards_by_label {
        assert!(text.contains("max by (shard) (prometheus_tsdb_head_series"), "{name}: not per shard");
    }
}

/// Panels query provisioned datasources only: a uid of the list, or the `datasource`
/// variable restricted to (and defaulting to one of) them.
fn assert_datasources(name: &str, d: &Value, provisioned: &[(String, String)]) {
    let uids: BTreeSet<&str> = provisioned.iter().map(|(_, u)| u.as_str()).collect();
    for (title, uid, _) in targets(d) {
        if uid == "${datasource}" {
            let var = d["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "datasource")
                .unwrap_or_else(|| panic!("{name}: {title} uses $datasource, which is not defined"));
            let current = var["current"]["value"].as_str().unwrap();
            assert!(uids.contains(current), "{name}: the variable defaults to {current}, not one of {uids:?}");
            let re = var["regex"].as_str().unwrap();
            for (n, _) in provisioned {
                assert!(re.contains(n.as_str()), "{name}: the variable's regex {re} leaves out {n}");
            }
        } else {
            assert!(uids.contains(uid.as_str()), "{name}: {title} queries {uid}, not one of {uids:?}");
        }
    }
}

/// The datasources of a manifests/operator render's Grafana: (name, uid).
fn provisioned_datasources(objs: &[Value], stack: &str) -> Vec<(String, String)> {
    let cm = find(objs, "ConfigMap", &format!("{stack}-grafana-datasources")).expect("the datasources ConfigMap");
    let doc: Value = serde_saphyr::from_str(cm["data"]["datasources.yaml"].as_str().unwrap()).unwrap();
    doc["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d["uid"].as_str().unwrap().to_string()))
        .collect()
}

/// The scrape job names of a render's Prometheus configs (manifests mode).
fn scraped_jobs(objs: &[Value]) -> BTreeSet<String> {
    prometheus_configs(objs)
        .iter()
        .flat_map(|(_, c)| c["scrape_configs"].as_array().cloned().unwrap_or_default())
        .map(|j| j["job_name"].as_str().unwrap().to_string())
        .collect()
}

/// Manifests (and operator) mode: Grafana mounts the provider and the dashboard where
/// the provider looks, and restarts when either changes.
fn assert_provisioned(name: &str, objs: &[Value], stack: &str, cm: &Value) {
    let provider: Value = serde_saphyr::from_str(cm["data"]["stackgen-provider.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(provider["apiVersion"], 1, "{name}");
    let p = &provider["providers"][0];
    assert_eq!(p["type"], "file", "{name}");
    let path = p["options"]["path"].as_str().unwrap();
    let deploy = find(objs, "Deployment", &format!("{stack}-grafana")).expect("the Grafana Deployment");
    let pod = &deploy["spec"]["template"];
    let vol = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["configMap"]["name"] == cm["metadata"]["name"])
        .unwrap_or_else(|| panic!("{name}: Grafana does not mount the dashboards"));
    let c = &pod["spec"]["containers"][0];
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == vol["name"]).unwrap();
    assert_eq!(mount["mountPath"], path, "{name}: the provider reads another directory");
    // Grafana reads providers from <GF_PATHS_PROVISIONING>/dashboards.
    let prov = c["env"].as_array().unwrap().iter().find(|e| e["name"] == "GF_PATHS_PROVISIONING").unwrap();
    assert_eq!(format!("{}/dashboards", prov["value"].as_str().unwrap()), path, "{name}");
    let ann = pod["metadata"]["annotations"].as_object().unwrap();
    assert!(
        ann.keys().any(|k| k.ends_with(&format!("{stack}-grafana-dashboards"))),
        "{name}: no checksum of the dashboards in {ann:?}"
    );
}

#[test]
fn rendered_dashboard_is_complete_and_queries_provisioned_datasources() {
    for path in grafana_stacks() {
        let s = check_file(&path);
        let stack = s.name.to_string();
        let thanos = s.thanos.is_some();
        let sharded = s.sharding.shards > 1;
        // Manifests mode.
        let objs = docs(&stackgen::render_manifests(&s));
        let name = format!("{} (manifests)", stem(&path));
        let (d, cm) = rendered_dashboard(&objs, &stack);
        assert_panels(&name, &d, thanos, thanos && sharded);
        assert_datasources(&name, &d, &provisioned_datasources(&objs, &stack));
        assert_provisioned(&name, &objs, &stack, &cm);
        let jobs = scraped_jobs(&objs);
        for (title, _, expr) in targets(&d) {
            for (metric, selected) in selectors(&expr) {
                assert!(!metric.is_empty(), "{name}: {title}: a selector without a metric name: {expr}");
                for job in &selected {
                    assert!(jobs.contains(job), "{name}: {title}: job {job} is not scraped ({jobs:?})");
                }
                // The kubelet's volume stats, by the kubelet job of every shard.
                if selected.is_empty() {
                    assert!(metric.starts_with("kubelet_volume_stats_"), "{name}: {title}: {metric} has no job");
                    assert!(jobs.contains("kubernetes-nodes"), "{name}: the kubelet is not scraped")
                }
            }
        }
        // Operator mode: the same Grafana, the same provisioning.
        let objs: Vec<Value> =
            docs(&stackgen::render::operator::to_text(&s)).into_iter().filter(|o| !o.is_null()).collect();
        let name = format!("{} (operator)", stem(&path));
        let (d, cm) = rendered_dashboard(&objs, &stack);
        assert_panels(&name, &d, thanos, thanos && sharded);
        assert_datasources(&name, &d, &provisioned_datasources(&objs, &stack));
        assert_provisioned(&name, &objs, &stack, &cm);
    }
}

/// helm-values mode: a companion ConfigMap with the chart sidecar's label, the sidecar on
/// and looking for it, the panels on the chart's datasource uid, the jobs those of the
/// chart's ServiceMonitors.
#[test]
fn helm_values_dashboard_is_labelled_for_the_chart_sidecar() {
    for path in grafana_stacks() {
        let s = check_file(&path);
        let stack = s.name.to_string();
        let name = format!("{} (helm-values)", stem(&path));
        let out = stackgen::render::helm::render(&s);
        let objs: Vec<Value> = docs(&out.manifests).into_iter().filter(|o| !o.is_null()).collect();
        let (d, cm) = rendered_dashboard(&objs, &stack);
        assert!(cm["data"].get("stackgen-provider.yaml").is_none(), "{name}: the sidecar has its own provider");
        let values: Value = serde_saphyr::from_str(&out.values).unwrap();
        let side = &values["grafana"]["sidecar"];
        assert_eq!(side["dashboards"]["enabled"], true, "{name}");
        let label = side["dashboards"]["label"].as_str().unwrap();
        let value = side["dashboards"]["labelValue"].as_str().unwrap();
        assert_eq!(cm["metadata"]["labels"][label], value, "{name}: the sidecar would not load it");
        let uid = side["datasources"]["uid"].as_str().unwrap();
        assert_datasources(&name, &d, &[("Prometheus".into(), uid.into())]);
        assert_panels(&name, &d, s.thanos.is_some(), false);
        let text = d.to_string();
        assert!(text.contains(&format!("job=\\\"{stack}-prometheus\\\"")), "{name}: not the chart's Prometheus job");
    }
}

#[test]
fn no_dashboard_without_grafana_or_self_monitoring() {
    let base =
        "[stack]\nname = \"x\"\nnamespace = \"monitoring\"\n[prometheus]\nretention = \"2d\"\nactive_series = 20000\n\
                [storage]\nbackend = \"ephemeral\"\nsize = \"10Gi\"\n[kubernetes]\ndiscovery = true\n";
    for (text, want) in [
        (base.to_string(), false),
        (format!("{base}[grafana]\n"), true),
        (format!("{base}[grafana]\n[rules]\nself_monitoring = false\n"), false),
    ] {
        let s = check_text("x.toml", &text);
        let objs = docs(&stackgen::render_manifests(&s));
        assert_eq!(find(&objs, "ConfigMap", "x-grafana-dashboards").is_some(), want, "{text}");
        let helm = docs(&stackgen::render::helm::render(&s).manifests);
        assert_eq!(find(&helm, "ConfigMap", "x-grafana-dashboards").is_some(), want, "{text}");
        if want {
            let deploy = find(&objs, "Deployment", "x-grafana").unwrap().to_string();
            assert!(deploy.contains("/etc/grafana/provisioning/dashboards"), "{deploy}");
        }
    }
}

// ---- against a real Prometheus 3 ------------------------------------------------------

/// A Grafana query as Grafana would send it: its variables replaced (none are expected
/// inside an expression; `$__rate_interval` and friends by a window, `$shard`-like ones
/// by a regex matching everything).
fn as_sent(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$shard", ".*")
}

/// Every query of every rendered dashboard (manifests mode) runs on a real Prometheus 3:
/// the first pod of static-nfs' shard 0 as rendered (args, config, rule files; the
/// config's static targets moved to loopback, the jobs that need a cluster to discover
/// their targets left out, and a 1s scrape interval (and timeout) so that `rate()` has samples within
/// seconds). None is refused, every metric the dashboard and the rendered alert rules read
/// from the Prometheus job is one this Prometheus exports under that job, and the
/// Prometheus panels return series.
#[test]
fn every_dashboard_query_runs_on_a_real_prometheus() {
    let mut queries: Vec<(String, String)> = Vec::new();
    for path in grafana_stacks() {
        let s = check_file(&path);
        let objs = docs(&stackgen::render_manifests(&s));
        let (d, _) = rendered_dashboard(&objs, s.name.as_str());
        for (title, _, expr) in targets(&d) {
            if !queries.iter().any(|(_, e)| *e == expr) {
                queries.push((format!("{}: {title}", stem(&path)), expr));
            }
        }
    }
    assert!(queries.len() >= 15, "{} queries", queries.len());

    let Some(prometheus) = real("prometheus") else { return };
    let _lock = real_components_lock();
    let s = check_file(&root().join("stacks/static-nfs.toml"));
    let objs = docs(&stackgen::render_manifests(&s));
    let (d, _) = rendered_dashboard(&objs, s.name.as_str());
    let objs_for_rules = objs.clone();
    let mut cluster = Cluster::new(objs, &s.kubernetes.cluster_domain);
    let pod = cluster.add_first_pod("StatefulSet", &format!("{}-prometheus-shard-0", s.name));
    let config_path = cluster.path(&pod, "prometheus", "/etc/prometheus/prometheus.yml").unwrap();
    let rendered = std::fs::read_to_string(&config_path).unwrap();
    let mut cfg: Value = serde_saphyr::from_str(&cluster.config_to_loopback(&pod, "prometheus", &rendered)).unwrap();
    cfg["global"]["scrape_interval"] = Value::String("1s".into());
    cfg["global"]["scrape_timeout"] = Value::String("1s".into());
    let jobs: Vec<Value> = cfg["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j.get("static_configs").is_some())
        .cloned()
        .map(|mut j| {
            for sc in j["static_configs"].as_array_mut().unwrap() {
                let moved: Vec<Value> = sc["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|t| cluster.to_loopback(&pod, "prometheus", t.as_str().unwrap()))
                    .map(Value::String)
                    .collect();
                sc["targets"] = Value::Array(moved);
            }
            j
        })
        .collect();
    cfg["scrape_configs"] = Value::Array(jobs);
    std::fs::write(&config_path, stackgen::render::yaml::to_string(&cfg)).unwrap();
    cluster.start(&pod, "prometheus", &prometheus);
    cluster.wait_ready(&pod, "prometheus", Duration::from_secs(60));
    let web = cluster.addr(&pod, "web");
    let query = |q: &str| http("GET", &web, &format!("/api/v1/query?query={}", enc(q)), None);

    // The job the dashboard reads Prometheus' own metrics from, scraping this pod.
    let prom_job = selectors(&targets(&d)[0].2)[0].1.first().cloned().expect("the first panel selects a job");
    let up = format!("count_over_time(up{{job={prom_job:?}}}[1m])");
    poll(
        Duration::from_secs(30),
        "Prometheus scraping itself three times under the rendered job",
        || {
            let (code, body) = query(&up)?;
            let v: Value = serde_json::from_str(&body).ok()?;
            let n: u32 = v["data"]["result"][0]["value"][1].as_str()?.parse().ok()?;
            (code == 200 && n >= 3).then_some(())
        },
        || cluster.log(&pod, "prometheus"),
    );
    let mut failures = Vec::new();
    let mut with_data = BTreeSet::new();
    for (what, expr) in &queries {
        let sent = as_sent(expr);
        match query(&sent) {
            Some((200, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["status"], "success", "{what}: {body}");
                if v["data"]["result"].as_array().is_some_and(|r| !r.is_empty()) {
                    with_data.insert(sent);
                }
            }
            other => failures.push(format!("{what}: {sent}\n  -> {other:?}")),
        }
    }
    assert!(failures.is_empty(), "Prometheus refuses dashboard queries:\n{}", failures.join("\n"));
    // Every metric the dashboard reads from the Prometheus job is exported under it.
    let sel = format!("{{job={prom_job:?}}}");
    let names = http("GET", &web, &format!("/api/v1/label/__name__/values?match[]={}", enc(&sel)), None)
        .map(|(_, b)| serde_json::from_str::<Value>(&b).unwrap())
        .unwrap();
    let names: BTreeSet<&str> = names["data"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut read = 0;
    for (title, _, expr) in targets(&d) {
        for (metric, selected) in selectors(&expr) {
            if selected.contains(&prom_job) {
                assert!(names.contains(metric.as_str()), "{title}: {metric} is not exported under job {prom_job}");
                read += 1;
            }
        }
    }
    assert!(read >= 7, "{read} selectors of the Prometheus job");
    // And every metric the rendered alert rules read under it.
    let wanted = crate::common::metrics::read_by_job(&objs_for_rules);
    let unexported: Vec<&String> = wanted[&prom_job].iter().filter(|m| !names.contains(m.as_str())).collect();
    assert!(unexported.is_empty(), "read under job {prom_job} by the render, not exported: {unexported:?}");
    for metric in [
        "prometheus_tsdb_head_samples_appended_total",
        "prometheus_tsdb_head_series",
        "prometheus_tsdb_storage_blocks_bytes",
        "prometheus_tsdb_retention_limit_bytes",
        "prometheus_tsdb_wal_storage_size_bytes",
        "prometheus_config_last_reload_successful",
    ] {
        assert!(
            with_data.iter().any(|q| q.contains(metric)),
            "no dashboard query over {metric} returns data from a real Prometheus: {with_data:#?}"
        );
    }
}

/// Without Thanos, a sharded stack provisions one datasource per shard: the panels query
/// the `datasource` variable, which lists exactly those and defaults to shard 0; the
/// per-shard panels group by instance (no shard label without Query).
#[test]
fn sharded_without_thanos_picks_a_shard_datasource() {
    let text =
        "[stack]\nname = \"x\"\nnamespace = \"monitoring\"\n[prometheus]\nretention = \"2d\"\nactive_series = 20000\n\
                [storage]\nbackend = \"ephemeral\"\nsize = \"10Gi\"\n[kubernetes]\ndiscovery = true\n\
                [sharding]\nshards = 3\n[grafana]\n";
    let s = check_text("x.toml", text);
    let objs = docs(&stackgen::render_manifests(&s));
    let (d, cm) = rendered_dashboard(&objs, "x");
    let provisioned = provisioned_datasources(&objs, "x");
    assert_eq!(provisioned.len(), 3);
    assert_datasources("sharded", &d, &provisioned);
    let var = &d["templating"]["list"][0];
    assert_eq!(var["current"]["value"], "prometheus-shard-0");
    assert_eq!(var["regex"], "/^(Prometheus shard 0|Prometheus shard 1|Prometheus shard 2)$/");
    assert!(targets(&d).iter().all(|(_, uid, _)| uid == "${datasource}"));
    assert!(!d.to_string().contains("by (shard)"));
    assert_panels("sharded", &d, false, false);
    assert_provisioned("sharded", &objs, "x", &cm);
}
