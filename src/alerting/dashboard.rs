//! The Grafana dashboard of the stack itself ("what is my monitoring doing"), generated
//! from the same [`SelfMonitoring`] input as the built-in rules: per shard, samples
//! ingested per second, active series, TSDB bytes against the retention size and the
//! volume, the WAL, the sidecar's upload lag; Thanos Query, Store Gateway and Compactor
//! health; Alertmanager notifications and cluster size.
//!
//! The JSON is deterministic (panel ids and positions from the panel order, keys in a
//! fixed order). Every panel queries a datasource the stack provisions, by its uid (a
//! [`Source`]); with several (one per shard, no Thanos) a `datasource` variable picks one
//! of them. Every query is plain PromQL, parsed in the tests; no Grafana variable appears
//! inside an expression.

use serde_json::{json, Value};

use super::builtin::SelfMonitoring;

/// Grafana's uid limit.
const MAX_UID: usize = 40;

/// One query of a panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub expr: String,
    pub legend: String,
}

/// One panel: its title, unit, description and queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    pub title: String,
    pub unit: &'static str,
    pub description: String,
    pub queries: Vec<Query>,
}

/// A row of panels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub title: String,
    pub panels: Vec<Panel>,
}

fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn q(expr: String, legend: &str) -> Query {
    Query { expr, legend: legend.to_string() }
}

fn panel(title: &str, unit: &'static str, description: &str, queries: Vec<Query>) -> Panel {
    Panel { title: title.to_string(), unit, description: description.to_string(), queries }
}

/// The datasources the dashboard queries: those stackgen (or the chart) provisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// (name, uid) of each, the default first: Thanos Query, the chart's datasource, or
    /// one Prometheus per shard.
    pub datasources: Vec<(String, String)>,
    /// Whether the series carry the shards' `shard` external label (through Thanos Query,
    /// which adds the external labels of each store).
    pub shard_label: bool,
}

impl Source {
    /// One datasource, by uid.
    pub fn one(name: &str, uid: &str, shard_label: bool) -> Source {
        Source { datasources: vec![(name.to_string(), uid.to_string())], shard_label }
    }

    /// The `datasource` field of every panel and query.
    fn panel_datasource(&self) -> Value {
        match self.datasources.as_slice() {
            [(_, uid)] => json!({"type": "prometheus", "uid": uid}),
            _ => json!({"type": "prometheus", "uid": "${datasource}"}),
        }
    }

    /// With several datasources, the variable that picks one of them (the first by
    /// default), restricted by name to the provisioned ones.
    fn variables(&self) -> Vec<Value> {
        let [(name, uid), ..] = self.datasources.as_slice() else { return Vec::new() };
        if self.datasources.len() == 1 {
            return Vec::new();
        }
        let names: Vec<String> = self.datasources.iter().map(|(n, _)| regex_escape(n)).collect();
        vec![json!({
            "current": {"selected": true, "text": name, "value": uid},
            "hide": 0,
            "includeAll": false,
            "label": "Data source",
            "multi": false,
            "name": "datasource",
            "options": [],
            "query": "prometheus",
            "refresh": 1,
            "regex": format!("/^({})$/", names.join("|")),
            "skipUrlSync": false,
            "type": "datasource",
        })]
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The rows and panels for a stack, in display order. With `shard_label`, the per-shard
/// panels group by the shards' `shard` external label, else by instance.
pub fn rows(m: &SelfMonitoring, shard_label: bool) -> Vec<Row> {
    let p = format!("job={}", lit(&m.prometheus_job));
    let sharded = m.shards > 1 && shard_label;
    let by = if sharded { "shard" } else { "instance" };
    let legend = if sharded { "shard {{shard}}" } else { "{{instance}}" };
    // Per pod: by instance (and its shard when sharded).
    let pod = if sharded { "shard, instance" } else { "instance" };
    let claims = format!("namespace={}, persistentvolumeclaim=~{}", lit(&m.namespace), lit(&m.tsdb_claims));
    let mut rows = vec![Row {
        title: "Prometheus".into(),
        panels: vec![
            panel(
                "Samples ingested per second",
                "short",
                "Samples appended to the head block, per shard (the highest replica).",
                vec![q(
                    format!("max by ({by}) (sum by ({pod}) (rate(prometheus_tsdb_head_samples_appended_total{{{p}}}[5m])))"),
                    legend,
                )],
            ),
            panel(
                "Active series",
                "short",
                "Series in the head block, per shard (the highest replica).",
                vec![q(format!("max by ({by}) (prometheus_tsdb_head_series{{{p}}})"), legend)],
            ),
            panel(
                "TSDB size, retention size and volume",
                "bytes",
                "Bytes of persisted blocks per pod, the retention size Prometheus deletes above, and the size of each TSDB volume.",
                vec![
                    q(format!("max by ({pod}) (prometheus_tsdb_storage_blocks_bytes{{{p}}})"), "blocks {{instance}}"),
                    q(format!("max by ({by}) (prometheus_tsdb_retention_limit_bytes{{{p}}})"), "retention size"),
                    q(format!("max by (persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{{{claims}}})"), "volume {{persistentvolumeclaim}}"),
                    q(format!("max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{{claims}}})"), "used {{persistentvolumeclaim}}"),
                ],
            ),
            panel(
                "WAL size",
                "bytes",
                "Size of the write-ahead log per pod: it grows with the ingestion rate and holds about 2-3 hours of samples.",
                vec![q(format!("max by ({pod}) (prometheus_tsdb_wal_storage_size_bytes{{{p}}})"), "{{instance}}")],
            ),
            panel(
                "Config reload and rule evaluation",
                "short",
                "1 when the last configuration reload succeeded; rule evaluation failures per second.",
                vec![
                    q(format!("min by (instance) (prometheus_config_last_reload_successful{{{p}}})"), "reload ok {{instance}}"),
                    q(format!("sum by (instance) (rate(prometheus_rule_evaluation_failures_total{{{p}}}[5m]))"), "rule failures {{instance}}"),
                ],
            ),
        ],
    }];
    if let Some(t) = &m.thanos {
        let s = format!("job={}", lit(&t.sidecar));
        let mut panels = vec![
            panel(
                "Sidecar upload lag",
                "s",
                "Seconds since each sidecar last uploaded a block; Prometheus cuts one every 2 hours.",
                vec![q(format!("time() - max by (instance) (thanos_objstore_bucket_last_successful_upload_time{{{s}}} > 0)"), "{{instance}}")],
            ),
            panel(
                "Sidecar bucket operation failures",
                "short",
                "Failed object storage operations per second, per sidecar.",
                vec![q(format!("sum by (instance, operation) (rate(thanos_objstore_bucket_operation_failures_total{{{s}}}[5m]))"), "{{instance}} {{operation}}")],
            ),
        ];
        if let Some(qj) = &t.query {
            let qs = format!("job={}", lit(qj));
            panels.push(panel(
                "Query requests",
                "reqps",
                "HTTP requests to Thanos Query per second, by status code.",
                vec![q(format!("sum by (code) (rate(http_requests_total{{{qs}}}[5m]))"), "{{code}}")],
            ));
        }
        if let Some(st) = &t.store {
            let ss = format!("job={}", lit(st));
            panels.push(panel(
                "Store Gateway blocks and sync failures",
                "short",
                "Blocks loaded by each Store Gateway, and block metadata sync failures per second.",
                vec![
                    q(format!("sum by (instance) (thanos_bucket_store_blocks_loaded{{{ss}}})"), "blocks {{instance}}"),
                    q(
                        format!("sum by (instance) (rate(thanos_blocks_meta_sync_failures_total{{{ss}}}[5m]))"),
                        "sync failures {{instance}}",
                    ),
                ],
            ));
        }
        if let Some(c) = &t.compactor {
            let cs = format!("job={}", lit(c));
            panels.push(panel(
                "Compactor",
                "short",
                "1 when the compactor has halted; compaction iterations and failures per hour.",
                vec![
                    q(format!("max by (instance) (thanos_compact_halted{{{cs}}})"), "halted {{instance}}"),
                    q(
                        format!("sum by (instance) (increase(thanos_compact_iterations_total{{{cs}}}[1h]))"),
                        "iterations/h {{instance}}",
                    ),
                    q(
                        format!(
                            "sum by (instance) (increase(thanos_compact_group_compactions_failures_total{{{cs}}}[1h]))"
                        ),
                        "failures/h {{instance}}",
                    ),
                ],
            ));
        }
        rows.push(Row { title: "Thanos".into(), panels });
    }
    if let Some(a) = &m.alertmanager {
        let am = format!("job={}", lit(&a.job));
        rows.push(Row {
            title: "Alertmanager".into(),
            panels: vec![
                panel(
                    "Notifications",
                    "short",
                    "Notifications sent and failed per second, by integration.",
                    vec![
                        q(
                            format!("sum by (integration) (rate(alertmanager_notifications_total{{{am}}}[5m]))"),
                            "sent {{integration}}",
                        ),
                        q(
                            format!("sum by (integration) (rate(alertmanager_notifications_failed_total{{{am}}}[5m]))"),
                            "failed {{integration}}",
                        ),
                    ],
                ),
                panel(
                    "Cluster members",
                    "short",
                    &format!("Members each Alertmanager sees; {} expected.", a.replicas),
                    vec![q(format!("max by (instance) (alertmanager_cluster_members{{{am}}})"), "{{instance}}")],
                ),
            ],
        });
    }
    let mut down = vec![q(format!("up{{{p}}}"), "{{instance}}")];
    if sharded {
        down = vec![q(format!("sum by (shard) (up{{{p}}})"), "replicas up, shard {{shard}}")];
    }
    rows[0]
        .panels
        .insert(0, panel("Prometheus replicas up", "short", "Replicas up per shard: 0 is a missing shard.", down));
    rows
}

/// Every PromQL expression of the dashboard, in panel order.
pub fn queries(m: &SelfMonitoring, src: &Source) -> Vec<String> {
    rows(m, src.shard_label).into_iter().flat_map(|r| r.panels).flat_map(|p| p.queries).map(|q| q.expr).collect()
}

/// The dashboard's uid: `stackgen-<stack>`, at most 40 characters.
pub fn uid(m: &SelfMonitoring) -> String {
    let mut u = format!("stackgen-{}", m.stack);
    u.truncate(MAX_UID);
    u
}

/// The dashboard as Grafana JSON (a value; [`dashboard_json`] for the text).
pub fn dashboard(m: &SelfMonitoring, src: &Source) -> Value {
    let ds = src.panel_datasource();
    let mut panels = Vec::new();
    let mut id = 0;
    let mut y = 0;
    for row in rows(m, src.shard_label) {
        id += 1;
        panels.push(json!({
            "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "id": id,
            "panels": [],
            "title": row.title,
            "type": "row",
        }));
        y += 1;
        for (i, p) in row.panels.iter().enumerate() {
            id += 1;
            let x = if i % 2 == 0 { 0 } else { 12 };
            let targets: Vec<Value> = p
                .queries
                .iter()
                .enumerate()
                .map(|(j, q)| {
                    json!({
                        "datasource": ds,
                        "expr": q.expr,
                        "legendFormat": q.legend,
                        "refId": ((b'A' + (j % 26) as u8) as char).to_string(),
                    })
                })
                .collect();
            panels.push(json!({
                "datasource": ds,
                "description": p.description,
                "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
                "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
                "id": id,
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
                "targets": targets,
                "title": p.title,
                "type": "timeseries",
            }));
            if i % 2 == 1 || i + 1 == row.panels.len() {
                y += 8;
            }
        }
    }
    json!({
        "annotations": {"list": []},
        "description": format!("The {} monitoring stack itself: Prometheus shards, Thanos, Alertmanager (generated by stackgen).", m.stack),
        "editable": false,
        "graphTooltip": 1,
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": ["stackgen", "prometheus", "thanos"],
        "templating": {"list": src.variables()},
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "title": format!("stackgen / {} / stack health", m.stack),
        "uid": uid(m),
        "version": 1,
    })
}

/// The dashboard JSON text (pretty, deterministic, ending in a newline).
pub fn dashboard_json(m: &SelfMonitoring, src: &Source) -> String {
    let mut s = serde_json::to_string_pretty(&dashboard(m, src)).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::super::builtin::{AlertmanagerJob, ThanosJobs};
    use super::*;

    fn stack(shards: u32, full: bool) -> SelfMonitoring {
        SelfMonitoring {
            namespace: "monitoring".into(),
            stack: "prod".into(),
            shards,
            replicas: 2,
            prometheus_job: "stackgen-prometheus".into(),
            shards_job: "stackgen-prometheus-shards".into(),
            tsdb_claims: "data-prod-prometheus-.*".into(),
            thanos: full.then(|| ThanosJobs {
                sidecar: "sidecar".into(),
                query: Some("query".into()),
                store: Some("store".into()),
                compactor: Some("compactor".into()),
            }),
            alertmanager: full.then(|| AlertmanagerJob { job: "am".into(), replicas: 3 }),
            grafana_job: None,
            blackbox_job: None,
        }
    }

    #[test]
    fn every_query_parses_and_ids_are_unique() {
        let src = Source::one("Thanos", "thanos", true);
        for m in [stack(1, false), stack(4, true)] {
            let qs = queries(&m, &src);
            assert!(qs.len() >= 8);
            for q in &qs {
                assert_eq!(super::super::promql::check(q), Ok(()), "{q}");
            }
            let d = dashboard(&m, &src);
            let ids: std::collections::BTreeSet<i64> =
                d["panels"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
            assert_eq!(ids.len(), d["panels"].as_array().unwrap().len());
            assert_eq!(dashboard_json(&m, &src), dashboard_json(&m, &src));
            assert_eq!(d["panels"][1]["datasource"]["uid"], "thanos");
        }
    }
}
