//! SG107 `disk-estimate`.

use crate::diagnostic::Code;
use crate::lint::{volume_size, Checker, GIB};

crate::lint::rule_doc! {
    /// the estimated TSDB size exceeds the volume
    ///
    /// ## What it does
    /// With `[prometheus] ingestion_rate` set (samples per second for the whole stack),
    /// estimates each shard's disk need as retention x samples per second per shard x ~2
    /// bytes per sample, and warns when it is above `retention_size` or the volume.
    ///
    /// ## Why is this bad?
    /// Prometheus' storage docs give 1-2 bytes per sample. If the estimate is above the
    /// volume, the size limit deletes data before the retention time is reached (or,
    /// without a limit, the disk fills): the history is shorter than `retention` says.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention = "90d"
    /// ingestion_rate = 200000     # 90d x 200k/s x 2 B = 3.1 TB
    ///
    /// [storage]
    /// size = "500Gi"              # raise the size, add shards, or shorten retention
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    let p = &s.prometheus;
    let (Some(v), Some(rate)) = (volume_size(s), p.ingestion_rate) else { return };
    let per_shard = rate as f64 / f64::from(s.sharding.shards);
    let need = per_shard * (p.retention.millis() as f64 / 1000.0) * 2.0;
    let limit = p.retention_size.map_or(v.size.get(), crate::model::Bytes::get) as f64;
    if need > limit {
        cx.report(
            Code::DiskEstimate,
            "/prometheus/ingestion_rate",
            format!(
                "{} of retention at {:.0} samples/s per shard needs about {:.0} GiB per volume; {} holds {:.0} GiB",
                p.retention,
                per_shard,
                need / GIB as f64,
                if p.retention_size.is_some() { "retention_size" } else { "the volume" },
                limit / GIB as f64
            ),
            "raise [storage] size, add shards, or shorten retention",
        );
    }
}
