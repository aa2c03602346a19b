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
    // By its path from the repository root (the tests' working directory), so that
    // `[rules] files` are found next to it, and messages name no absolute path.
    let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let src = stackgen::source::Source::new(name, text);
    let diags = match stackgen::check(&src) {
        // The operator target's findings for its fixture (`lint --target operator`).
        Ok(mut c) if stem(path).starts_with("SG160") => {
            c.warnings.extend(stackgen::lint::operator(&c.stack));
            c.warnings
        }
        Ok(c) => c.warnings,
        Err(d) => d,
    };
    describe_diagnostics(&src, &diags)
}

/// Each file's diagnostics against its `<file>.expected` snapshot.
fn check_snapshots(files: &[PathBuf]) {
    let mut snapshots = Snapshots::new("lint_rules::");
    for f in files {
        snapshots.compare(&f.with_extension("expected"), &describe(f));
    }
    snapshots.finish();
}

/// A code raised on Prometheus rule files (`[rules] files`), not on stack files.
fn on_rule_files(r: &stackgen::diagnostic::Rule) -> bool {
    r.raised_by.iter().any(|b| b.starts_with("alerting::"))
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
    // comes from the helm-values target, the alerting::rules codes from rule files under
    // tests/invalid/rules/: see `every_registered_code_is_raised`).
    for r in RULES.iter().filter(|r| !matches!(r.id, "SG006" | "SG125") && !on_rule_files(r)) {
        assert!(
            files.iter().any(|f| stem(f).starts_with(r.id)),
            "rule {} ({}) has no fixture in tests/lint/",
            r.id,
            r.name
        );
        assert!(r.explain().len() > 80, "rule {} needs a real explanation", r.id);
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

/// Every code of the registry is raised by something a test runs: the fixtures of
/// tests/lint/ and tests/invalid/, the helm-values target over them and the examples
/// (SG125), an unreadable file (SG006); each with the one severity the registry gives
/// it. A code nothing raises is retired instead
/// (`RETIRED` in src/diagnostic/codes.rs), never left registered.
#[test]
fn every_registered_code_is_raised() {
    let mut files = toml_files(&root().join("tests/lint"));
    files.extend(toml_files(&root().join("tests/invalid/schema")));
    files.extend(toml_files(&root().join("tests/invalid/semantic")));
    let mut raised = std::collections::BTreeSet::new();
    for f in files.iter().chain(&stacks()) {
        let name = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        let src = stackgen::source::Source::new(name, std::fs::read_to_string(f).unwrap());
        let diags = match stackgen::check(&src) {
            Ok(c) => {
                let mut d = c.warnings;
                d.extend(stackgen::lint::helm_values(&c.stack));
                d.extend(stackgen::lint::operator(&c.stack));
                d
            }
            Err(d) => d,
        };
        for d in &diags {
            let rule = d.code.rule();
            assert_eq!(
                d.severity,
                rule.severity,
                "{}: {} raised with another severity than its registered one",
                stem(f),
                rule.id
            );
        }
        raised.extend(diags.iter().map(|d| d.code.id()));
    }
    let (code, out, _) =
        run(std::process::Command::new(bin()).args(["lint", "--format", "json", "no/such/stack.toml"]));
    assert_eq!(code, 2);
    if out.contains("\"SG006\"") {
        raised.insert("SG006");
    }
    // Codes raised on Prometheus rule files: the corpus of tests/invalid/rules/.
    for f in std::fs::read_dir(root().join("tests/invalid/rules")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&f).unwrap();
            for d in stackgen::alerting::rules::check_rule_file(&stem(&f), &text) {
                assert_eq!(d.severity, d.code.rule().severity, "{}: {}", stem(&f), d.code.id());
                raised.insert(d.code.id());
            }
        }
    }
    let never: Vec<&str> = RULES.iter().map(|r| r.id).filter(|id| !raised.contains(id)).collect();
    assert!(never.is_empty(), "registered but raised by no fixture or test: {never:?}");
}
