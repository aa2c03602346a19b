//! SG107 `disk-estimate`.

use crate::diagnostic::Code;
use crate::lifecycle::plan::{self, human_bytes};
use crate::lint::{volume_size, Checker};

crate::lint::rule_doc! {
    /// the planned TSDB does not fit the volume, the retention size or the Compactor's disk
    ///
    /// ## What it does
    /// With `[prometheus] ingestion_rate` or `active_series` set, runs `stackgen plan`
    /// (`stackgen explain plan` lists its factors and their sources) and warns when a
    /// Prometheus volume is below the planned volume (the TSDB for the retention, its WAL
    /// and head chunks, with the compaction headroom), when `retention_size` is below the
    /// planned TSDB, or when `[thanos.compactor] storage_size` is below the planned Compactor disk.
    /// The message says by how much.
    ///
    /// ## Why is this bad?
    /// Prometheus' storage docs give 1-2 bytes per sample. If the TSDB is above the size
    /// limit, Prometheus deletes blocks before the retention time is reached (or, without a
    /// limit, the disk fills): the history is shorter than `retention` says. A Compactor
    /// without room for the blocks it compacts halts, and the bucket stops being compacted
    /// and downsampled.
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
    let Ok(p) = plan::plan(s) else { return };
    let one = &p.per_shard[0];
    let per_shard = if s.sharding.shards > 1 { " per shard" } else { "" };
    let load = format!(
        "{} of retention at {} samples/s{per_shard} ({} B/sample)",
        s.prometheus.retention,
        plan::grouped(one.samples_per_second),
        p.bytes_per_sample
    );
    let mut volume_short = false;
    if let Some(v) = volume_size(s) {
        if v.size.get() < one.volume_bytes {
            volume_short = true;
            cx.report(
                Code::DiskEstimate,
                v.ptr,
                format!(
                    "{load} needs a {} volume per Prometheus pod ({} of TSDB with its WAL, and the compaction headroom); {} is {}: short by {}",
                    human_bytes(one.volume_bytes),
                    human_bytes(one.tsdb_bytes),
                    v.what,
                    human_bytes(v.size.get()),
                    human_bytes(one.volume_bytes - v.size.get())
                ),
                "raise [storage] size, add shards, or shorten retention (`stackgen plan` shows the figures)",
            );
        }
    }
    if let Some(rs) = s.prometheus.retention_size.filter(|_| !volume_short) {
        if rs.get() < one.tsdb_bytes {
            cx.report(
                Code::DiskEstimate,
                "/prometheus/retention_size",
                format!(
                    "{load} makes a TSDB of {}; retention_size {} deletes blocks before {} have passed: short by {}",
                    human_bytes(one.tsdb_bytes),
                    human_bytes(rs.get()),
                    s.prometheus.retention,
                    human_bytes(one.tsdb_bytes - rs.get())
                ),
                "raise retention_size (and the volume: at most 85% of it), add shards, or shorten retention",
            );
        }
    }
    if let (Some(tp), Some(t)) = (&p.thanos, &s.thanos) {
        if t.compactor.size.get() < tp.compactor_disk_bytes {
            cx.report(
                Code::DiskEstimate,
                "/thanos/compactor/storage_size",
                format!(
                    "the Compactor downloads up to 14 days of one shard's blocks and writes the result beside them: about {} at this load; its volume is {}: short by {}",
                    human_bytes(tp.compactor_disk_bytes),
                    human_bytes(t.compactor.size.get()),
                    human_bytes(tp.compactor_disk_bytes - t.compactor.size.get())
                ),
                "raise [thanos.compactor] storage_size",
            );
        }
    }
}
