//! Alerting, probes and self-monitoring (src/alerting): the rule file checker over the
//! invalid rule corpus (tests/invalid/rules/, snapshots `<file>.expected`, re-bless with
//! `UPDATE_GOLDEN=1 cargo test --test alerting`), the built-in rules under promtool 3
//! (`check rules`, and `test rules` with the cases of tests/fixtures/rules/), the
//! dashboard's PromQL, the blackbox_exporter config and probe scrape config against a
//! real blackbox_exporter and promtool, and the Alertmanager receivers under amtool.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// The diagnostics of a rule file as stable text lines (the format of tests/lint/).
fn describe_rule_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!("{}.yaml", stem(path));
    let src = stackgen::source::Source::new(name.clone(), text.clone());
    let mut out = String::new();
    for d in stackgen::alerting::rules::check_rule_file(&name, &text) {
        let (l, c) = src.line_col(d.span.start);
        let sev = if d.is_error() { "error" } else { "warning" };
        out.push_str(&format!("{} {l}:{c} {sev}: {}\n", d.code.id(), d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
    }
    out
}

#[test]
fn invalid_rule_files_snapshots_match() {
    let files = files_with_ext(&root().join("tests/invalid/rules"), "yaml");
    assert!(files.len() >= 7);
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    assert!(!(update && in_ci()), "UPDATE_GOLDEN is refused under CI");
    let mut failures = Vec::new();
    for f in &files {
        let got = describe_rule_file(f);
        // Each file is named after the code it raises, and raises it.
        let code = stem(f)[..5].to_uppercase();
        assert!(got.lines().any(|l| l.starts_with(&code)), "{}: does not report {code}:\n{got}", f.display());
        let snap = f.with_extension("expected");
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != got {
            failures.push(stackgen::output::unified(&snap.display().to_string(), &want, &got));
        }
    }
    assert!(failures.is_empty(), "{}\nre-bless: UPDATE_GOLDEN=1 cargo test --test alerting", failures.join("\n"));
}
