//! `[prometheus]`: image, replicas per shard, retention, intervals, resources, the user
//! and group that own the TSDB, external labels.

use super::{image, Reporter};
use crate::diagnostic::Code;
use crate::model::capacity::{auto_resources, pod_figures};
use crate::model::raw::{RawPrometheus, RawResources, RawResourcesSetting};
use crate::model::units::{parse_prometheus_bytes, Bytes};
use crate::model::{
    Prometheus, Resources, Storage, DEFAULT_CONFIG_RELOADER_IMAGE, DEFAULT_PROMETHEUS_IMAGE,
    DEFAULT_PROMETHEUS_VERSION, PROMETHEUS_OPERATOR_VERSION,
};

/// HA replicas per shard.
pub(super) fn replicas(raw: Option<&RawPrometheus>) -> u32 {
    raw.and_then(|p| p.replicas).unwrap_or(1)
}

/// `[prometheus]` but its retention size, which follows the volumes ([`retention_size`]).
/// `shards` and `thanos` are what `resources = "auto"` sizes a pod for.
pub(super) fn validate(raw: Option<&RawPrometheus>, shards: u16, thanos: bool, r: &mut Reporter<'_>) -> Prometheus {
    let default = RawPrometheus::default();
    let p = raw.unwrap_or(&default);

    let retention = r.duration("/prometheus/retention", p.retention.as_ref(), "15d");
    if retention.millis() == 0 {
        r.error(
            Code::InvalidValue,
            "/prometheus/retention",
            "retention of 0 keeps no data",
            "set a retention such as 15d",
        );
    }
    let scrape_interval = r.duration("/prometheus/scrape_interval", p.scrape_interval.as_ref(), "30s");
    let evaluation_interval = r.duration("/prometheus/evaluation_interval", p.evaluation_interval.as_ref(), "30s");
    let default_timeout =
        if scrape_interval.millis() < 10_000 { scrape_interval.as_str().to_string() } else { "10s".to_string() };
    let scrape_timeout = r.duration("/prometheus/scrape_timeout", p.scrape_timeout.as_ref(), &default_timeout);
    for (ptr, d) in
        [("/prometheus/scrape_interval", &scrape_interval), ("/prometheus/evaluation_interval", &evaluation_interval)]
    {
        if d.millis() == 0 {
            r.error(Code::InvalidValue, ptr, "an interval of 0 is not allowed", "e.g. 30s");
        }
    }
    if scrape_timeout.millis() > scrape_interval.millis() {
        r.error(
            Code::InvalidValue,
            "/prometheus/scrape_timeout",
            format!("scrape_timeout {scrape_timeout} is longer than scrape_interval {scrape_interval}"),
            "Prometheus refuses a timeout above the interval",
        );
    }

    let none = RawResources::default();
    let auto = matches!(p.resources, Some(RawResourcesSetting::Auto));
    let res = match &p.resources {
        Some(RawResourcesSetting::Set(t)) => Some(t),
        Some(RawResourcesSetting::Auto) => Some(&none),
        None => None,
    };
    let defaults = super::resources::Defaults { cpu: "1", memory: "4Gi", memory_limit: None, cpu_limit: None };
    let resources = super::resources::resources(res, "/prometheus/resources", &defaults, r);

    let run_as_user = p.run_as_user.unwrap_or(1000);
    let fs_group = p.fs_group.unwrap_or(2000);
    if run_as_user == 0 {
        r.error(
            Code::RootUser,
            "/prometheus/run_as_user",
            "run_as_user = 0 runs Prometheus as root",
            "use the uid that owns the TSDB files, e.g. 1000 (after `chown -R 1000:2000` of a migrated TSDB)",
        );
    }
    if fs_group == 0 {
        r.error(
            Code::RootUser,
            "/prometheus/fs_group",
            "fs_group = 0 gives the volume to the root group",
            "use a non-root group, e.g. 2000",
        );
    }

    // Prometheus 3 expands ${VAR} in external label values; a literal `$` is `$$`.
    let mut external_labels = p.external_labels.clone().unwrap_or_default();
    for v in external_labels.values_mut() {
        *v = v.replace('$', "$$");
    }
    let reloader = p.config_reloader.as_ref();
    let mut prometheus = Prometheus {
        image: image(
            p.image.as_ref(),
            DEFAULT_PROMETHEUS_IMAGE,
            p.version.as_ref(),
            DEFAULT_PROMETHEUS_VERSION,
            p.image_digest.as_ref(),
        ),
        replicas: replicas(raw),
        retention,
        // Set by `retention_size` once the volumes are known.
        retention_size: None,
        scrape_interval,
        evaluation_interval,
        scrape_timeout,
        external_labels,
        resources,
        run_as_user,
        fs_group,
        resources_auto: false,
        ingestion_rate: p.ingestion_rate,
        active_series: p.active_series,
        bytes_per_sample: p.bytes_per_sample.unwrap_or(crate::model::DEFAULT_BYTES_PER_SAMPLE),
        config_reloader: image(
            reloader.and_then(|r| r.image.as_ref()),
            DEFAULT_CONFIG_RELOADER_IMAGE,
            reloader.and_then(|r| r.version.as_ref()),
            PROMETHEUS_OPERATOR_VERSION,
            reloader.and_then(|r| r.image_digest.as_ref()),
        ),
    };
    if auto {
        auto_size_resources(&mut prometheus, shards, thanos, r);
    }
    prometheus
}

/// `resources = "auto"`: requests and limits from the capacity plan of one pod.
fn auto_size_resources(p: &mut Prometheus, shards: u16, thanos: bool, r: &mut Reporter<'_>) {
    let Ok(one) = pod_figures(p, shards, thanos) else {
        r.error(
            Code::InvalidValue,
            "/prometheus/resources",
            "resources = \"auto\" needs the load the stack carries, and [prometheus] declares none",
            "set [prometheus] ingestion_rate (samples/s of the whole stack) or active_series, or write the \
             resources: resources = { cpu = \"2\", memory = \"8Gi\" }",
        );
        return;
    };
    let a = auto_resources(&one);
    let q = |s: &str| s.parse().expect("auto resources are quantities");
    p.resources = Resources { cpu: q(&a.cpu), memory: q(&a.memory), memory_limit: q(&a.memory_limit), cpu_limit: None };
    p.resources_auto = true;
}

/// `retention_size`: `none`, a Prometheus byte size, or `auto` (the default): 85% of
/// the volume the claims have now. On an emptyDir the size limit evicts the pod; on a
/// volume a full disk stops Prometheus: either way keep 15% for the WAL and compaction.
pub(super) fn retention_size(raw: Option<&str>, storage: &Storage, r: &mut Reporter<'_>) -> Option<Bytes> {
    match raw.unwrap_or("auto") {
        "none" => None,
        "auto" => storage.existing_size().map(|s| s.percent_floor(85)),
        other => match parse_prometheus_bytes(other) {
            Ok(b) => Some(b),
            Err(e) => {
                r.error(Code::InvalidValue, "/prometheus/retention_size", e, "e.g. 700GiB, auto or none");
                None
            }
        },
    }
}
