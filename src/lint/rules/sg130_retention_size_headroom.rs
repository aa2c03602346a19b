//! SG130 `retention-size-headroom`: a size limit that fits the volume but leaves little
//! room. A limit at or above the volume is the error SG106.

use crate::diagnostic::Code;
use crate::lint::{volume_size, Checker};

crate::lint::rule_doc! {
    /// retention_size leaves little room on the volume
    ///
    /// ## What it does
    /// Warns when `[prometheus] retention_size` is below the size of the Prometheus
    /// volume but over 85% of it.
    ///
    /// ## Why is this bad?
    /// The size limit counts blocks, WAL and head chunks, and compaction writes a new
    /// block before it deletes the ones it merges: with less than ~15% free, a
    /// compaction or a burst of WAL can fill the disk before retention frees space. The
    /// Prometheus docs recommend at most 80-85% of the disk. `retention_size = "auto"`
    /// picks 85% of the volume.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention_size = "480GiB"   # over 85% of 500Gi; write "auto"
    ///
    /// [storage]
    /// size = "500Gi"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let (Some(v), Some(rs)) = (volume_size(cx.stack), cx.stack.prometheus.retention_size) else { return };
    if rs < v.size && rs.get() as f64 > v.size.get() as f64 * 0.85 {
        cx.report(
            Code::RetentionSizeHeadroom,
            "/prometheus/retention_size",
            format!(
                "retention_size {} is over 85% of {} {}: little room is left for the WAL and compaction",
                rs.prometheus(),
                v.what,
                v.size.quantity()
            ),
            "the Prometheus docs recommend at most 80-85% of the disk; retention_size = \"auto\" picks 85%",
        );
    }
}
