//! Bad input: every fixture under tests/invalid/ names its expected diagnostics in its
//! first lines (`# expect: CODE LINE:COL`). render must exit 1 with exactly those
//! diagnostics at file:line:col, never panic, and write nothing; lint --format json must
//! report the same codes and places. Schema and model must agree: fixtures under
//! schema/ fail the JSON Schema (the one description of the file's shape and formats;
//! the model reads only what it accepted); those under semantic/ pass the schema and
//! fail the model; every example stack passes both.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/invalid").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// `# expect: CODE LINE:COL`, or `# expect: CODE LINE:COL FILE` for a diagnostic in
/// another file (a rule file, FILE relative to the fixture).
fn expectations_in(p: &Path) -> Vec<(String, usize, usize, Option<PathBuf>)> {
    let text = std::fs::read_to_string(p).unwrap();
    let v: Vec<(String, usize, usize, Option<PathBuf>)> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let mut words = e.split(' ');
            let code = words.next().unwrap();
            let (l, c) = words.next().unwrap().split_once(':').unwrap();
            let file = words.next().map(|f| p.parent().unwrap().join(f));
            (code.to_string(), l.parse().unwrap(), c.parse().unwrap(), file)
        })
        .collect();
    assert!(!v.is_empty(), "{} has no `# expect:` line", p.display());
    v
}

fn expectations(p: &Path) -> Vec<(String, usize, usize)> {
    expectations_in(p).into_iter().map(|(c, l, col, _)| (c, l, col)).collect()
}

fn all() -> Vec<PathBuf> {
    let mut v = fixtures("schema");
    v.extend(fixtures("semantic"));
    v
}

#[test]
fn render_reports_each_fixture_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for f in all() {
        let out_dir = tmp.path().join(stem(&f));
        let (code, stdout, stderr) =
            run(Command::new(bin()).arg("render").arg(&f).arg("-o").arg(&out_dir).env("NO_COLOR", "1"));
        assert_eq!(code, 1, "{}: exit code\n{stderr}", f.display());
        assert!(!stderr.contains("panicked"), "{}: {stderr}", f.display());
        assert!(stdout.is_empty(), "{}: nothing on stdout", f.display());
        assert!(!out_dir.exists(), "{}: nothing may be written", f.display());
        for (c, l, col, file) in expectations_in(&f) {
            let loc = format!("{}:{l}:{col}", file.as_deref().unwrap_or(&f).display());
            assert!(stderr.contains(&format!("error[{c}]")), "{}: expected {c}\n{stderr}", f.display());
            assert!(stderr.contains(&loc), "{}: expected location {loc}\n{stderr}", f.display());
            assert!(stderr.contains("help:"), "{}: a help line\n{stderr}", f.display());
        }
    }
}

#[test]
fn lint_json_reports_the_same() {
    for f in all() {
        let (code, stdout, stderr) = run(Command::new(bin()).args(["lint", "--format", "json"]).arg(&f));
        assert_eq!(code, 1, "{}: {stderr}", f.display());
        let diags: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
        let got: Vec<(String, usize, usize)> = diags
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["line"].as_u64().unwrap() as usize,
                    d["column"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(got, expectations(&f), "{}", f.display());
    }
}

#[test]
fn secrets_are_never_echoed() {
    for f in all() {
        let text = std::fs::read_to_string(&f).unwrap();
        for secret in ["minio123", "AKIAIOSFODNN7EXAMPLE"] {
            if !text.contains(secret) {
                continue;
            }
            for format in ["human", "json", "github"] {
                let (_, out, err) = run(Command::new(bin()).args(["lint", "--format", format]).arg(&f));
                assert!(
                    !out.contains(secret) && !err.contains(secret),
                    "{} leaks a secret in {format} output",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn schema_and_model_agree() {
    let parse = |text: &str| stackgen::source::parse(text);
    for stack in stacks() {
        let text = std::fs::read_to_string(&stack).unwrap();
        let parsed = parse(&text).unwrap();
        assert!(stackgen::model::schema::check(&parsed).is_empty(), "{}: schema", stack.display());
        let raw: stackgen::model::raw::RawStack = toml::from_str(&text).unwrap();
        assert!(stackgen::model::validate(&raw, &parsed).is_ok(), "{}: model", stack.display());
    }
    for f in fixtures("schema") {
        let text = std::fs::read_to_string(&f).unwrap();
        let Ok(parsed) = parse(&text) else { continue }; // TOML syntax: neither can read it
        assert!(!stackgen::model::schema::check(&parsed).is_empty(), "{}: the schema must reject it", f.display());
        let src = stackgen::source::Source::new("x", text);
        assert!(stackgen::check(&src).is_err(), "{}: check must reject it", f.display());
    }
    for f in fixtures("semantic") {
        let text = std::fs::read_to_string(&f).unwrap();
        let parsed = parse(&text).unwrap();
        assert!(stackgen::model::schema::check(&parsed).is_empty(), "{}: schema-valid", f.display());
        let src = stackgen::source::Source::new("x", text);
        assert!(stackgen::check(&src).is_err(), "{}: the model must reject it", f.display());
    }
}

#[test]
fn unreadable_input_exits_2() {
    let (code, out, err) = run(Command::new(bin()).args(["render", "/nonexistent/stack.toml"]));
    assert_eq!(code, 2);
    assert!(out.is_empty() && err.contains("cannot read"));
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), [0xff, 0xfe, 0x00]).unwrap();
    let (code, _, err) = run(Command::new(bin()).arg("render").arg(tmp.path()));
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(Command::new(bin()).args(["render", "--no-such-flag"]));
    assert_eq!(code, 2);
}

#[test]
fn did_you_mean_unknown_key() {
    let f = root().join("tests/invalid/schema/unknown-key.toml");
    let (_, _, err) = run(Command::new(bin()).arg("lint").arg(&f).env("NO_COLOR", "1"));
    assert!(err.contains("did you mean `retention`?"), "{err}");
}
