//! The properties the coverage-guided fuzz targets (`fuzz/`, cargo-fuzz) and the short
//! proptest run in `cargo test` (tests/fuzz.rs) check, in one place so both exercise the
//! same code: never a panic, never an allocation or a loop sized by the input.

use std::sync::OnceLock;

use crate::diagnostic::{render as drender, sarif};
use crate::source::Source;

/// check + render of stack.toml text, with every diagnostic format.
pub fn check_render(text: &str) {
    let src = Source::new("fuzz.toml", text);
    let diags = match crate::check(&src) {
        Ok(c) => {
            let yaml = crate::render_manifests(&c.stack);
            assert!(yaml.ends_with('\n'));
            let _ = crate::render::helm::render(&c.stack);
            let _ = crate::render::operator::to_text(&c.stack);
            c.warnings
        }
        Err(d) => d,
    };
    let _ = drender::human(&src, &diags, true);
    let _ = drender::github(&src, &diags);
    for d in &diags {
        let _ = serde_json::to_string(&drender::to_json(&src, d));
    }
    let mut log = sarif::SarifLog::new();
    log.add(&src, &diags);
    let _ = log.to_json_string();
}

/// Example stacks the `--against` input is compared with: one small, one with Thanos and
/// shards (so the sharding and target-move code runs).
const STACKS: [&str; 2] = [include_str!("../stacks/static-nfs.toml"), include_str!("../stacks/ceph-thanos.toml")];

fn stacks() -> &'static [crate::model::Stack] {
    static S: OnceLock<Vec<crate::model::Stack>> = OnceLock::new();
    S.get_or_init(|| {
        STACKS
            .iter()
            .map(|t| crate::check(&Source::new("stack.toml", *t)).expect("example stacks check").stack)
            .collect()
    })
}

/// `diff --against` of arbitrary text, human and json, against each example stack.
pub fn diff_against(text: &str) {
    for stack in stacks() {
        if let Ok(report) = crate::diff::against_text(stack, text) {
            let _ = report.human(true);
            let _ = serde_json::to_string_pretty(&report.json());
        }
    }
}
