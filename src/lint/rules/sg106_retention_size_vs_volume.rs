//! SG106 `retention-size-vs-volume`: a size limit the volume cannot hold. Its warning
//! sibling, a limit that leaves too little room, is SG130 (`sg130_retention_size_headroom`).

use crate::diagnostic::{Code, Diagnostic};
use crate::lint::{volume_size, Checker};

crate::lint::rule_doc! {
    /// retention_size is not below the volume size
    ///
    /// ## What it does
    /// Reports an error when `[prometheus] retention_size` is at or above the size of the
    /// Prometheus volume (`[storage] size`, or `claims_size` while claims are resized).
    ///
    /// ## Why is this bad?
    /// `--storage.tsdb.retention.size` counts blocks, WAL and head chunks, and Prometheus
    /// deletes only whole blocks, so a limit at or above the volume size is never reached
    /// before the disk fills: Prometheus stops with "no space left on device"
    /// (prometheus#8884). The Prometheus docs recommend at most 80-85% of the disk
    /// (SG130 warns above 85%).
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention_size = "600GiB"   # write "auto" (85% of the volume) or at most "425GiB"
    ///
    /// [storage]
    /// size = "500Gi"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let (Some(v), Some(rs)) = (volume_size(cx.stack), cx.stack.prometheus.retention_size) else { return };
    if rs < v.size {
        return;
    }
    let ptr = "/prometheus/retention_size";
    let d = Diagnostic::new(
        Code::RetentionSizeVsVolume,
        format!(
            "retention_size {} is not below {} size {}: the disk fills before Prometheus deletes blocks",
            rs.prometheus(),
            v.what,
            v.size.quantity()
        ),
        cx.value_span(ptr),
    )
    .with_help(format!(
        "use retention_size = \"auto\" ({}) or at most 85% of the volume",
        v.size.percent_floor(85).prometheus()
    ))
    .with_path(ptr)
    .with_related(cx.value_span(v.ptr), "volume size set here");
    cx.push(d);
}
