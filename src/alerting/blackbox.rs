//! The blackbox_exporter: its config and the scrape config of a probe job.

/// The blackbox_exporter version rendered (image tag) and built for the tests
/// (`scripts/real-components.sh blackbox` reads this line).
pub const BLACKBOX_EXPORTER_VERSION: &str = "v0.28.0";
