//! One fixture per lint rule under tests/lint/ (named after its code), with the expected
//! diagnostics as a snapshot (`<fixture>.expected`: code, line:column, severity, message,
//! help). The invalid-input corpus under tests/invalid/ gets the same snapshots. Re-bless
//! with `UPDATE_GOLDEN=1 cargo test --test it lint_rules::` (refused under CI).

use std::path::{Path, PathBuf};

use crate::common::*;
use stackgen::diagnostic::RULES;

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// The diagnostics of a file as stable text lines.
fn describe(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let src = stackgen::source::Source::new(stem(path), text);
    let diags = match stackgen::check(&src) {
        Ok(c) => c.warnings,
        Err(d) => d,
    };
    let mut out = String::new();
    for d in &diags {
        let (l, c) = src.line_col(d.span.start);
        let sev = if d.is_error() { "error" } else { "warning" };
        out.push_str(&format!("{} {l}:{c} {sev}: {}\n", d.code.id(), d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
    }
    out
}

/// Each file's diagnostics against its `<file>.expected` snapshot.
fn check_snapshots(files: &[PathBuf]) {
    let mut snapshots = Snapshots::new("lint_rules::");
    for f in files {
        snapshots.compare(&f.with_extension("expected"), &describe(f));
    }
    snapshots.finish();
}

#[test]
fn every_rule_has_a_fixture_and_its_snapshot_matches() {
    let dir = root().join("tests/lint");
    let files = toml_files(&dir);
    for f in &files {
        let code = stem(f)[..5].to_string();
        assert!(RULES.iter().any(|r| r.id == code), "{}: no rule {code}", f.display());
        assert!(describe(f).lines().any(|l| l.starts_with(&code)), "{}: does not report {code}", f.display());
    }
    // Every rule a stack file can trigger has its fixture (SG006 is an I/O error, SG125
    // comes from --format helm-values, SG201 is an internal error).
    for r in RULES.iter().filter(|r| !matches!(r.id, "SG006" | "SG125" | "SG201")) {
        assert!(
            files.iter().any(|f| stem(f).starts_with(r.id)),
            "rule {} ({}) has no fixture in tests/lint/",
            r.id,
            r.name
        );
        assert!(r.explain.len() > 80, "rule {} needs a real explanation", r.id);
    }
    assert!(RULES.len() >= 25);
    check_snapshots(&files);
}

#[test]
fn invalid_corpus_snapshots_match() {
    let mut files = toml_files(&root().join("tests/invalid/schema"));
    files.extend(toml_files(&root().join("tests/invalid/semantic")));
    assert!(files.len() >= 50, "the bad-input corpus has {} stacks; keep it at 50 or more", files.len());
    check_snapshots(&files);
}
