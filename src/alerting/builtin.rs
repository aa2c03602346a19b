//! The built-in self-monitoring rules: the alerts an on-call engineer needs for the
//! monitoring stack itself, as one Prometheus rule file generated from
//! [`SelfMonitoring`].
//!
//! Expressions follow the Prometheus, Thanos, Alertmanager and Kubernetes mixins where
//! they have the alert (`PrometheusBadConfig`, `PrometheusTSDBCompactionsFailing`,
//! `ThanosSidecarBucketOperationsFailed`, `ThanosCompactHalted`,
//! `AlertmanagerFailedToSendAlerts`, `KubePersistentVolumeFillingUp`, ...), narrowed to
//! the stack's own jobs and claims. Every alert has a `severity` label (`critical`:
//! data is being lost or nobody will be notified; `warning`: act within the day) and
//! `summary`, `description` and `runbook` annotations (the runbook says what to do).
//!
//! The rules assume what the render provides with self-monitoring on:
//! - every component is scraped by exactly one shard, so each `up` series exists once
//!   (per HA replica, which Alertmanager deduplicates: the render's
//!   `alert_relabel_configs` drop the replica and `shard` external labels): the Prometheus
//!   pods and sidecars of a shard by that shard itself ([`SelfMonitoring::prometheus_job`],
//!   kept with `__tmp_disable_sharding`), the shared components (Query, Store, Compactor,
//!   Alertmanager, Grafana, the blackbox exporter) by the shard their address hashes to;
//! - with more than one shard, every shard also checks that every shard answers
//!   ([`SelfMonitoring::shards_job`]: a scrape of an empty `/federate`, so only `up`,
//!   labelled `prometheus_shard`), and alerts when every replica of a shard is down;
//!   every surviving shard raises the same alert, which Alertmanager deduplicates;
//! - the kubelet's `kubelet_volume_stats_*` metrics are scraped (any job), with the
//!   claims' `namespace` and `persistentvolumeclaim` labels.
//!
//! Each alert has `promtool test rules` cases under tests/fixtures/rules/ (one file per
//! alert) proving it fires on the failure and stays silent when healthy.

use serde_json::{json, Map, Value};

/// What the built-in rules are generated from: the stack's shape and the job names the
/// render gives its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfMonitoring {
    /// The stack's namespace (the claims' `namespace` label).
    pub namespace: String,
    /// The stack's name (in annotations).
    pub stack: String,
    /// Number of Prometheus shards (at least 1).
    pub shards: u32,
    /// Prometheus replicas per shard.
    pub replicas: u32,
    /// The job scraping the Prometheus pods (each shard its own).
    pub prometheus_job: String,
    /// The job by which every shard checks every shard's pods (`up` only, labelled
    /// `prometheus_shard`); used with more than one shard.
    pub shards_job: String,
    /// A regular expression matching the names of the Prometheus TSDB claims
    /// (`data-prod-prometheus-shard-.*`), anchored by Prometheus.
    pub tsdb_claims: String,
    /// Thanos, when the stack has it.
    pub thanos: Option<ThanosJobs>,
    /// Alertmanager, when the stack has it.
    pub alertmanager: Option<AlertmanagerJob>,
    /// The job scraping Grafana, when the stack has it.
    pub grafana_job: Option<String>,
    /// The job scraping the blackbox_exporter's own metrics, when the stack has probes.
    pub blackbox_job: Option<String>,
}

/// The jobs scraping the Thanos components (sidecars on 10902, Query, Store Gateway,
/// Compactor); `None` for a component the stack does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThanosJobs {
    pub sidecar: String,
    pub query: Option<String>,
    pub store: Option<String>,
    pub compactor: Option<String>,
}

/// The job scraping Alertmanager and its replica count (the expected cluster size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerJob {
    pub job: String,
    pub replicas: u32,
}

/// One built-in alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: &'static str,
    pub expr: String,
    pub for_: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub description: String,
    pub runbook: String,
}

/// An alert's `severity` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Data is being lost or nobody will be notified: page.
    Critical,
    /// Act within the working day.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// A PromQL string literal (double-quoted, escaped).
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// `job="x"` or `job=~"a|b"` for several jobs (names escaped as regex literals).
fn job_matcher(jobs: &[&str]) -> String {
    match jobs {
        [one] => format!("job={}", lit(one)),
        _ => {
            let alts: Vec<String> = jobs.iter().map(|j| regex_escape(j)).collect();
            format!("job=~{}", lit(&alts.join("|")))
        }
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The stack's jobs, in a fixed order.
fn all_jobs(m: &SelfMonitoring) -> Vec<&str> {
    let mut jobs = vec![m.prometheus_job.as_str()];
    if let Some(t) = &m.thanos {
        jobs.push(&t.sidecar);
        jobs.extend(t.query.as_deref());
        jobs.extend(t.store.as_deref());
        jobs.extend(t.compactor.as_deref());
    }
    if let Some(a) = &m.alertmanager {
        jobs.push(&a.job);
    }
    jobs.extend(m.grafana_job.as_deref());
    jobs.extend(m.blackbox_job.as_deref());
    jobs
}

/// The built-in alerts for a stack, in a fixed order.
pub fn alerts(m: &SelfMonitoring) -> Vec<Alert> {
    let mut out = Vec::new();
    let prom = format!("job={}", lit(&m.prometheus_job));
    let stack = &m.stack;
    let mut add = |name, expr: String, for_, severity, summary: &str, description: &str, runbook: &str| {
        out.push(Alert {
            name,
            expr,
            for_,
            severity,
            summary: summary.to_string(),
            description: description.to_string(),
            runbook: runbook.to_string(),
        })
    };

    // --- targets ------------------------------------------------------------------
    add(
        "StackComponentDown",
        format!("up{{{}}} == 0", job_matcher(&all_jobs(m))),
        "5m",
        Severity::Warning,
        &format!("A component of the {stack} monitoring stack is down."),
        "{{ $labels.instance }} of job {{ $labels.job }} has not been scraped successfully for 5 minutes.",
        "kubectl -n NAMESPACE get pods; describe the pod of {{ $labels.instance }} and read its logs (crash loop, OOMKilled, NetworkPolicy).",
    );
    add(
        "TargetDown",
        {
            let up = format!("up{{job!={}}}", lit(&m.shards_job));
            format!("100 * (count by (job, namespace) ({up} == 0) / count by (job, namespace) ({up})) > 10")
        },
        "10m",
        Severity::Warning,
        "Targets are down.",
        "{{ printf \"%.4g\" $value }}% of the targets of job {{ $labels.job }} are down.",
        "Open the Prometheus targets page for job {{ $labels.job }}: the scrape error says whether the target is gone, refuses the connection or times out.",
    );
    let shard_missing = if m.shards <= 1 {
        // One shard can only see a replica of its own missing (StackComponentDown); this
        // fires where the self-scrape itself is gone (a config without the job).
        format!("label_replace(absent(up{{{prom}}} == 1), \"prometheus_shard\", \"0\", \"\", \"\")")
    } else {
        format!("max by (prometheus_shard) (up{{job={}}}) == 0", lit(&m.shards_job))
    };
    add(
        "PrometheusShardMissing",
        shard_missing,
        "5m",
        Severity::Critical,
        &format!("A Prometheus shard of {stack} has no replica up."),
        "No replica of Prometheus shard {{ $labels.prometheus_shard }} has been up for 5 minutes: the targets hashed to this shard are not scraped and their alerts do not fire.",
        "kubectl -n NAMESPACE get statefulsets,pods; look for a Pending pod (claim not bound, no node) or a crash loop (kubectl logs --previous).",
    );

    // --- Prometheus -----------------------------------------------------------------
    add(
        "PrometheusBadConfig",
        format!("max_over_time(prometheus_config_last_reload_successful{{{prom}}}[5m]) == 0"),
        "10m",
        Severity::Critical,
        "Failed Prometheus configuration reload.",
        "Prometheus {{ $labels.instance }} has failed to reload its configuration: it runs the previous one.",
        "kubectl logs the Prometheus container of {{ $labels.instance }} and search for \"Error reloading config\"; fix the config or rule file named there.",
    );
    add(
        "PrometheusRuleFailures",
        format!("increase(prometheus_rule_evaluation_failures_total{{{prom}}}[5m]) > 0"),
        "15m",
        Severity::Critical,
        "Prometheus is failing rule evaluations.",
        "Prometheus {{ $labels.instance }} has failed rule evaluations for 15 minutes.",
        "Open the Prometheus rules page: the failing rule shows its error (often many-to-many matching or a query timeout).",
    );
    add(
        "PrometheusTSDBCompactionsFailing",
        format!("increase(prometheus_tsdb_compactions_failed_total{{{prom}}}[3h]) > 0"),
        "4h",
        Severity::Warning,
        "Prometheus has issues compacting blocks.",
        "Prometheus {{ $labels.instance }} has failed to compact blocks in the last 3 hours.",
        "Read the Prometheus logs for \"compaction failed\"; a full volume or a corrupt block (move it out of the data directory) are the usual causes.",
    );
    add(
        "PrometheusTSDBReloadsFailing",
        format!("increase(prometheus_tsdb_reloads_failures_total{{{prom}}}[3h]) > 0"),
        "4h",
        Severity::Warning,
        "Prometheus has issues reloading blocks from disk.",
        "Prometheus {{ $labels.instance }} has failed to reload blocks from disk in the last 3 hours.",
        "Read the Prometheus logs for \"reloadBlocks\"; a corrupt or overlapping block must be moved out of the data directory.",
    );
    add(
        "PrometheusTSDBWALCorruptions",
        format!("increase(prometheus_tsdb_wal_corruptions_total{{{prom}}}[3h]) > 0"),
        "0s",
        Severity::Warning,
        "Prometheus found a corrupt WAL.",
        "Prometheus {{ $labels.instance }} has repaired a corrupt WAL in the last 3 hours: the samples after the corruption were lost.",
        "Check the volume of {{ $labels.instance }} (kubectl describe pvc, dmesg on the node): corruptions follow unclean shutdowns or a failing disk.",
    );
    add(
        "PrometheusTSDBWALWritesFailing",
        format!("increase(prometheus_tsdb_wal_writes_failed_total{{{prom}}}[5m]) > 0"),
        "5m",
        Severity::Critical,
        "Prometheus cannot write its WAL.",
        "Prometheus {{ $labels.instance }} has failed WAL writes for 5 minutes: samples are being lost.",
        "The volume is full or read-only: kubectl exec df -h /prometheus, then grow the claim or lower retention_size.",
    );
    add(
        "PrometheusVolumeFillingUp",
        format!(
            "predict_linear(kubelet_volume_stats_available_bytes{{namespace={ns}, persistentvolumeclaim=~{claims}}}[6h], 24 * 3600) < 0\n\
             and\n\
             kubelet_volume_stats_used_bytes{{namespace={ns}, persistentvolumeclaim=~{claims}}} > 0",
            ns = lit(&m.namespace),
            claims = lit(&m.tsdb_claims),
        ),
        "1h",
        Severity::Critical,
        "A Prometheus volume is predicted to fill within 24 hours.",
        "At the growth of the last 6 hours, claim {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} fills within 24 hours; a full TSDB volume stops ingestion.",
        "Grow the claim (storage size; allowVolumeExpansion) or lower retention_size below 85% of the volume; check for a cardinality burst (prometheus_tsdb_head_series).",
    );
    if m.alertmanager.is_some() {
        add(
            "PrometheusNotConnectedToAlertmanagers",
            format!("max_over_time(prometheus_notifications_alertmanagers_discovered{{{prom}}}[5m]) < 1"),
            "10m",
            Severity::Warning,
            "Prometheus is not connected to any Alertmanager.",
            "Prometheus {{ $labels.instance }} has discovered no Alertmanager: its alerts reach nobody.",
            "Check the alerting section of prometheus.yml and that the Alertmanager pods are Ready and admitted by the NetworkPolicy.",
        );
        add(
            "PrometheusErrorSendingAlerts",
            format!(
                "(\n  rate(prometheus_notifications_errors_total{{{prom}}}[5m])\n/\n  rate(prometheus_notifications_sent_total{{{prom}}}[5m])\n)\n* 100\n> 1"
            ),
            "15m",
            Severity::Warning,
            "Prometheus fails to send alerts to an Alertmanager.",
            "{{ printf \"%.1f\" $value }}% of the alerts sent by Prometheus {{ $labels.instance }} to {{ $labels.alertmanager }} fail.",
            "Read the Prometheus logs for \"Error sending alert\"; check the Alertmanager pod and the NetworkPolicy between them.",
        );
    }

    // --- Thanos ---------------------------------------------------------------------
    if let Some(t) = &m.thanos {
        let side = format!("job={}", lit(&t.sidecar));
        add(
            "ThanosSidecarBucketOperationsFailed",
            format!("sum by (job, instance) (rate(thanos_objstore_bucket_operation_failures_total{{{side}}}[5m])) > 0"),
            "5m",
            Severity::Critical,
            "A Thanos sidecar fails its object storage operations.",
            "Thanos sidecar {{ $labels.instance }} bucket operations are failing: blocks are not uploaded.",
            "Read the sidecar logs (container thanos-sidecar); check the objstore Secret, the bucket's permissions and the egress NetworkPolicy.",
        );
        add(
            "ThanosSidecarUploadsFailing",
            format!("increase(thanos_shipper_upload_failures_total{{{side}}}[1h]) > 0"),
            "0s",
            Severity::Critical,
            "A Thanos sidecar fails to upload blocks.",
            "Thanos sidecar {{ $labels.instance }} failed to upload blocks in the last hour; they are deleted locally when retention passes.",
            "Read the sidecar logs for \"upload\"; fix object storage access before the local retention deletes the blocks.",
        );
        add(
            "ThanosSidecarNoRecentUpload",
            format!(
                "(\n  sum by (job, instance) (increase(thanos_shipper_uploads_total{{{side}}}[4h])) == 0\n)\n\
                 and on (job, instance)\n\
                 (time() - process_start_time_seconds{{{side}}} > 4 * 3600)"
            ),
            "30m",
            Severity::Warning,
            "A Thanos sidecar has uploaded no block for 4 hours.",
            "Thanos sidecar {{ $labels.instance }} has uploaded nothing in 4 hours although Prometheus cuts a block every 2 hours.",
            "Check that Prometheus runs with --storage.tsdb.min-block-duration=2h and max=2h and that the sidecar sees its data directory; read the sidecar logs.",
        );
        if let Some(c) = &t.compactor {
            add(
                "ThanosCompactHalted",
                format!("thanos_compact_halted{{job={}}} == 1", lit(c)),
                "5m",
                Severity::Warning,
                "The Thanos compactor has halted.",
                "Thanos compactor {{ $labels.instance }} has stopped compacting after an error: the bucket grows and queries over old data slow down.",
                "Read the compactor logs for \"critical error detected; halting\"; usually overlapping blocks: find them with thanos tools bucket verify, remove or mark them, restart the compactor.",
            );
        }
        if let Some(s) = &t.store {
            let st = format!("job={}", lit(s));
            add(
                "ThanosStoreSyncFailures",
                format!("increase(thanos_blocks_meta_sync_failures_total{{{st}}}[15m]) > 0"),
                "15m",
                Severity::Warning,
                "The Thanos Store Gateway fails to sync block metadata.",
                "Thanos Store Gateway {{ $labels.instance }} has failed to sync the block list for 15 minutes: new blocks are not queryable.",
                "Read the store logs; check object storage access and the store's memory (index cache) and disk.",
            );
            add(
                "ThanosStoreBucketOperationsFailed",
                format!(
                    "(\n  sum by (job, instance) (rate(thanos_objstore_bucket_operation_failures_total{{{st}}}[5m]))\n/\n  sum by (job, instance) (rate(thanos_objstore_bucket_operations_total{{{st}}}[5m]))\n)\n* 100\n> 5"
                ),
                "15m",
                Severity::Warning,
                "The Thanos Store Gateway fails bucket operations.",
                "{{ printf \"%.1f\" $value }}% of the bucket operations of Thanos Store Gateway {{ $labels.instance }} fail: queries over old data return partial results.",
                "Read the store logs; check object storage access, credentials and rate limits.",
            );
        }
    }

    // --- Alertmanager ---------------------------------------------------------------
    if let Some(a) = &m.alertmanager {
        let am = format!("job={}", lit(&a.job));
        add(
            "AlertmanagerFailedReload",
            format!("max_over_time(alertmanager_config_last_reload_successful{{{am}}}[5m]) == 0"),
            "10m",
            Severity::Critical,
            "Reloading an Alertmanager configuration has failed.",
            "Alertmanager {{ $labels.instance }} has failed to reload its configuration: it runs the previous one.",
            "kubectl logs the Alertmanager pod; amtool check-config on its alertmanager.yml names the error.",
        );
        add(
            "AlertmanagerFailedToSendAlerts",
            format!(
                "(\n  rate(alertmanager_notifications_failed_total{{{am}}}[5m])\n/\n  ignoring (reason) group_left\n  rate(alertmanager_notifications_total{{{am}}}[5m])\n)\n> 0.01"
            ),
            "5m",
            Severity::Warning,
            "An Alertmanager instance failed to send notifications.",
            "Alertmanager {{ $labels.instance }} failed to send {{ $value | humanizePercentage }} of notifications to {{ $labels.integration }}.",
            "Read the Alertmanager logs for \"Notify\"; check the receiver's Secret (URL, key), the egress NetworkPolicy and the receiving service.",
        );
        if a.replicas > 1 {
            add(
                "AlertmanagerMembersMissing",
                format!("max_over_time(alertmanager_cluster_members{{{am}}}[5m]) < {}", a.replicas),
                "15m",
                Severity::Critical,
                "Alertmanager cluster members are missing.",
                &format!(
                    "Alertmanager {{{{ $labels.instance }}}} sees {{{{ $value }}}} cluster members of {}: notifications may be sent twice or silences not shared.",
                    a.replicas
                ),
                "Check that every Alertmanager pod is Ready and that the cluster port 9094 (TCP and UDP) is open between them in the NetworkPolicy.",
            );
        }
    }
    out
}

/// The rule file of the built-in alerts (`groups:` with one group), deterministic.
pub fn rule_file(m: &SelfMonitoring) -> String {
    super::yaml::to_string(&rule_file_value(m, "self-monitoring", |_| true))
}

/// The built-in alerts that `keep` keeps, as a rule file value with one group
/// `stackgen-<stack>-<group>`.
pub fn rule_file_value(m: &SelfMonitoring, group: &str, keep: impl Fn(&Alert) -> bool) -> Value {
    let rules: Vec<Value> = alerts(m)
        .into_iter()
        .filter(|a| keep(a))
        .map(|a| {
            let mut r = Map::new();
            r.insert("alert".into(), json!(a.name));
            r.insert("expr".into(), json!(a.expr));
            if a.for_ != "0s" {
                r.insert("for".into(), json!(a.for_));
            }
            r.insert("labels".into(), json!({"severity": a.severity.as_str()}));
            let runbook = a.runbook.replace("NAMESPACE", &m.namespace);
            r.insert(
                "annotations".into(),
                json!({"summary": a.summary, "description": a.description, "runbook": runbook}),
            );
            Value::Object(r)
        })
        .collect();
    json!({"groups": [{"name": format!("stackgen-{}-{group}", m.stack), "rules": rules}]})
}

impl SelfMonitoring {
    /// A full stack (2 shards x 2 replicas, Thanos, Alertmanager, Grafana, a blackbox
    /// exporter) as the manifests render scrapes it (`alerting::stack::self_monitoring` of
    /// such a stack named `prod` in `monitoring`; tests/it/alerting.rs holds the two
    /// equal): the input the promtool test cases of tests/fixtures/rules/ are written for.
    pub fn example() -> SelfMonitoring {
        use super::stack as job;
        SelfMonitoring {
            namespace: "monitoring".into(),
            stack: "prod".into(),
            shards: 2,
            replicas: 2,
            prometheus_job: job::PROMETHEUS_JOB.into(),
            shards_job: job::SHARDS_JOB.into(),
            tsdb_claims: "data-prod-prometheus-shard-.*".into(),
            thanos: Some(ThanosJobs {
                sidecar: job::SIDECAR_JOB.into(),
                query: Some(job::QUERY_JOB.into()),
                store: Some(job::STORE_JOB.into()),
                compactor: Some(job::COMPACTOR_JOB.into()),
            }),
            alertmanager: Some(AlertmanagerJob { job: job::ALERTMANAGER_JOB.into(), replicas: 3 }),
            grafana_job: Some(job::GRAFANA_JOB.into()),
            blackbox_job: Some(job::BLACKBOX_JOB.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_file_checks_clean_and_is_deterministic() {
        let m = SelfMonitoring::example();
        let text = rule_file(&m);
        assert_eq!(text, rule_file(&m));
        let diags = super::super::rules::check_rule_file("builtin.yaml", &text);
        assert!(diags.is_empty(), "{diags:#?}\n{text}");
        for a in alerts(&m) {
            assert!(!a.runbook.is_empty() && !a.summary.is_empty() && !a.description.is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn minimal_stack_has_the_prometheus_alerts_only() {
        let m = SelfMonitoring {
            shards: 1,
            replicas: 1,
            thanos: None,
            alertmanager: None,
            grafana_job: None,
            blackbox_job: None,
            ..SelfMonitoring::example()
        };
        let names: Vec<&str> = alerts(&m).iter().map(|a| a.name).collect();
        assert!(names.contains(&"PrometheusShardMissing"));
        assert!(!names.iter().any(|n| n.starts_with("Thanos") || n.starts_with("Alertmanager")));
        assert!(super::super::rules::check_rule_file("b.yaml", &rule_file(&m)).is_empty());
    }
}
