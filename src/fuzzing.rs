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

/// The example stacks, each with its render as `diff` compares it (built once: the
/// input's reading and comparison are what is fuzzed).
fn stacks() -> &'static [(crate::model::Stack, Vec<crate::diff::Doc>)] {
    static S: OnceLock<Vec<(crate::model::Stack, Vec<crate::diff::Doc>)>> = OnceLock::new();
    S.get_or_init(|| {
        STACKS
            .iter()
            .map(|t| crate::check(&Source::new("stack.toml", *t)).expect("example stacks check").stack)
            .map(|s| {
                let docs = crate::diff::rendered_docs(&s);
                (s, docs)
            })
            .collect()
    })
}

/// `diff --against` of arbitrary text, human and json, against each example stack.
pub fn diff_against(text: &str) {
    // The text is read once (the reading is what is fuzzed), then compared with each.
    for report in crate::diff::against_text_each(stacks(), text).unwrap_or_default() {
        let _ = report.human(true);
        let _ = serde_json::to_string_pretty(&report.json());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the fuzz target runs (the text read once, each stack's render built once) is
    /// what `diff --against` does, report for report, on every seed.
    #[test]
    fn the_fuzzed_comparison_is_diff_against() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/diff_against");
        let mut seen = 0;
        for e in std::fs::read_dir(dir).expect("the seeds") {
            let text = std::fs::read_to_string(e.expect("an entry").path()).expect("a seed");
            let each = crate::diff::against_text_each(stacks(), &text);
            for (i, (stack, _)) in stacks().iter().enumerate() {
                let one = crate::diff::against_text(stack, &text);
                match (&each, one) {
                    (Ok(r), Ok(one)) => {
                        assert_eq!(r[i].human(false), one.human(false));
                        assert_eq!(r[i].json(), one.json());
                        seen += 1;
                    }
                    (Err(a), Err(b)) => assert_eq!(a, &b),
                    (a, b) => panic!("{:?} vs {:?}", a.as_ref().map(Vec::len), b.map(|_| ())),
                }
            }
        }
        assert!(seen >= 10, "{seen} reports compared");
    }
}
