//! SG113 `compactor-retention`.

use crate::diagnostic::Code;
use crate::lint::Checker;

/// Raw data older than this is downsampled to 5m.
const RAW_MIN_MS: u64 = 40 * 3_600_000;
/// 5m data older than this is downsampled to 1h.
const FIVE_MIN_MS: u64 = 10 * 86_400_000;

crate::lint::rule_doc! {
    /// compactor retention shorter than the downsampling windows
    ///
    /// ## What it does
    /// Warns when `[thanos.compactor] retention_raw` is under 40h or `retention_5m` is
    /// under 10d (0d, keep forever, is fine).
    ///
    /// ## Why is this bad?
    /// The Thanos compactor downsamples raw data older than 40h to 5m resolution and 5m
    /// data older than 10d to 1h. A raw retention under 40h, or a 5m retention under 10d,
    /// deletes the data before it is downsampled, so the long-range resolutions are never
    /// written and old dashboards come back empty.
    ///
    /// ## Example
    /// ```toml
    /// [thanos.compactor]
    /// retention_raw = "1d"   # write at least "40h", or "0d" to keep it forever
    /// retention_5m = "30d"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let Some(t) = &cx.stack.thanos else { return };
    let c = &t.compactor;
    if c.retention_raw.millis() != 0 && c.retention_raw.millis() < RAW_MIN_MS {
        cx.report(
            Code::CompactorRetention,
            "/thanos/compactor/retention_raw",
            format!(
                "retention_raw {} is under 40h: raw data is deleted before it is downsampled to 5m",
                c.retention_raw
            ),
            "use at least 40h, or 0d to keep it forever",
        );
    }
    if c.retention_5m.millis() != 0 && c.retention_5m.millis() < FIVE_MIN_MS {
        cx.report(
            Code::CompactorRetention,
            "/thanos/compactor/retention_5m",
            format!("retention_5m {} is under 10d: 5m data is deleted before it is downsampled to 1h", c.retention_5m),
            "use at least 10d, or 0d to keep it forever",
        );
    }
}
