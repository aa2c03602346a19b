//! SG119 `volume-too-small`.

use crate::diagnostic::Code;
use crate::lint::{volume_size, Checker, GIB};

crate::lint::rule_doc! {
    /// a volume size is very small
    ///
    /// ## What it does
    /// Warns when the Prometheus volume (`[storage] size`, or `claims_size` while claims
    /// are resized) is under 1Gi.
    ///
    /// ## Why is this bad?
    /// A Prometheus volume under 1Gi holds little more than the WAL and a few 2h blocks:
    /// retention by size deletes history within hours, or the disk fills during
    /// compaction. Size volumes from the ingestion rate (samples/s x retention x ~2
    /// bytes, see SG107).
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// size = "512Mi"   # write at least "1Gi"; production stacks want hundreds
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let Some(v) = volume_size(cx.stack) else { return };
    if v.size.get() < GIB {
        cx.report(
            Code::VolumeTooSmall,
            "/storage/size",
            format!("volume size {} is under 1Gi", v.size.quantity()),
            "Prometheus needs room for the WAL and 2h blocks",
        );
    }
}
