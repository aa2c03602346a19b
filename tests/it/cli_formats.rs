//! `stackgen lint --format human|json|github|sarif` and `stackgen init`.
//!
//! - SARIF: the log has the fields SARIF 2.1.0 requires and GitHub code scanning reads
//!   (the SARIF JSON Schema is not available offline, so the structure is checked by
//!   hand), its rules are exactly the registry, and its results are those of
//!   `--format json` (codes, severities, lines, columns) for every fixture under
//!   tests/invalid/, in one log for the whole call.
//! - Snapshots: the four formats for tests/snapshots/lint-bad.toml against
//!   tests/snapshots/lint-bad.*; the absolute path of the fixture is written as `$ROOT`,
//!   and the SARIF rule catalogue (checked against the registry above) as a placeholder.
//!   Re-bless with `UPDATE_GOLDEN=1 cargo test --test it snapshots_of_every_format` (refused when CI is set).
//! - init: every backend, with and without --thanos, passes `stackgen::check` with no
//!   errors and only the warnings its backend has by nature; `-o` never overwrites
//!   without --force.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::Value;
use stackgen::diagnostic::RULES;
use stackgen::init::{init, Backend};

fn fixtures() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["schema", "semantic"] {
        let Ok(rd) = std::fs::read_dir(root().join("tests/invalid").join(dir)) else { continue };
        v.extend(rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")));
    }
    v.sort();
    v
}

fn lint(format: &str, files: &[PathBuf]) -> (i32, String, String) {
    run(Command::new(bin()).args(["lint", "--format", format]).args(files).env("NO_COLOR", "1"))
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_else(|| panic!("{ptr} is not a string in {v:#}"))
}

fn u64_at(v: &Value, ptr: &str) -> u64 {
    v.pointer(ptr).and_then(Value::as_u64).unwrap_or_else(|| panic!("{ptr} is not an integer in {v:#}"))
}

/// The SARIF 2.1.0 fields stackgen promises, checked by hand.
fn assert_sarif_shape(log: &Value) {
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    let runs = log["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1, "one run per call");
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "stackgen");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(str_at(driver, "/informationUri").starts_with("https://"));
    assert_eq!(run["columnKind"], "unicodeCodePoints");

    let rules = driver["rules"].as_array().expect("rules is an array");
    assert_eq!(rules.len(), RULES.len(), "every rule of the registry");
    for (r, want) in rules.iter().zip(RULES) {
        assert_eq!(str_at(r, "/id"), want.id);
        assert_eq!(str_at(r, "/name"), want.name);
        assert_eq!(str_at(r, "/shortDescription/text"), want.summary());
        assert_eq!(str_at(r, "/fullDescription/text"), want.explain());
        assert!(str_at(r, "/help/text").contains(&want.explain()), "{}: help", want.id);
        assert_eq!(str_at(r, "/help/markdown"), str_at(r, "/help/text"), "{}: help", want.id);
        let level = if want.severity == stackgen::diagnostic::Severity::Error { "error" } else { "warning" };
        assert_eq!(str_at(r, "/defaultConfiguration/level"), level, "{}", want.id);
    }

    let results = run["results"].as_array().expect("results is an array");
    for res in results {
        let id = str_at(res, "/ruleId");
        let index = usize::try_from(u64_at(res, "/ruleIndex")).unwrap();
        assert_eq!(rules.get(index).map(|r| &r["id"]), Some(&Value::from(id)), "ruleIndex points at ruleId");
        assert!(["error", "warning"].contains(&str_at(res, "/level")), "{res:#}");
        assert!(!str_at(res, "/message/text").is_empty());
        let locations = res["locations"].as_array().expect("locations");
        assert_eq!(locations.len(), 1, "{res:#}");
        for loc in locations.iter().chain(res["relatedLocations"].as_array().into_iter().flatten()) {
            let uri = str_at(loc, "/physicalLocation/artifactLocation/uri");
            assert!(!uri.is_empty() && !uri.contains(' ') && !uri.contains('\\'), "a URI: {uri}");
            let region = &loc["physicalLocation"]["region"];
            let (sl, sc) = (u64_at(region, "/startLine"), u64_at(region, "/startColumn"));
            let (el, ec) = (u64_at(region, "/endLine"), u64_at(region, "/endColumn"));
            assert!(sl >= 1 && sc >= 1 && el >= sl && (el > sl || ec >= sc), "a region: {region}");
        }
    }
    let invocations = run["invocations"].as_array().expect("invocations");
    assert_eq!(invocations.len(), 1);
    assert!(invocations[0]["executionSuccessful"].is_boolean());
}

/// (file or uri, code, severity, line, column, end line, end column) of each diagnostic.
type Row = (String, String, String, u64, u64, u64, u64);

fn json_rows(out: &str) -> Vec<Row> {
    let v: Vec<Value> = serde_json::from_str(out).expect("json output parses");
    v.iter()
        .map(|d| {
            (
                str_at(d, "/file").to_string(),
                str_at(d, "/code").to_string(),
                str_at(d, "/severity").to_string(),
                u64_at(d, "/line"),
                u64_at(d, "/column"),
                u64_at(d, "/end_line"),
                u64_at(d, "/end_column"),
            )
        })
        .collect()
}

fn sarif_rows(log: &Value) -> Vec<Row> {
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                str_at(loc, "/artifactLocation/uri").to_string(),
                str_at(r, "/ruleId").to_string(),
                str_at(r, "/level").to_string(),
                u64_at(loc, "/region/startLine"),
                u64_at(loc, "/region/startColumn"),
                u64_at(loc, "/region/endLine"),
                u64_at(loc, "/region/endColumn"),
            )
        })
        .collect()
}

#[test]
fn sarif_has_the_required_structure_and_the_results_of_json() {
    let files = fixtures();
    assert!(!files.is_empty(), "tests/invalid/ has fixtures");
    let (jcode, jout, jerr) = lint("json", &files);
    let (scode, sout, serr) = lint("sarif", &files);
    assert_eq!(jcode, 1, "{jerr}");
    assert_eq!(scode, jcode, "sarif exits as json does\n{serr}");
    let log: Value = serde_json::from_str(&sout).expect("one JSON document for the whole call");
    assert_sarif_shape(&log);
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], true);

    let want: Vec<Row> = json_rows(&jout)
        .into_iter()
        .map(|(file, c, s, l, col, el, ec)| (stackgen::diagnostic::sarif::artifact_uri(&file), c, s, l, col, el, ec))
        .collect();
    let got = sarif_rows(&log);
    assert_eq!(got.len(), want.len(), "as many results as json diagnostics");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    // Every file of the call is in the one log.
    for f in &files {
        let uri = stackgen::diagnostic::sarif::artifact_uri(&f.display().to_string());
        assert!(got.iter().any(|r| r.0 == uri), "{} has results", f.display());
    }
    for secret in ["minio123", "AKIAIOSFODNN7EXAMPLE"] {
        assert!(!sout.contains(secret), "the SARIF log leaks {secret}");
    }
}

#[test]
fn sarif_per_fixture_matches_json() {
    // One file per call too: the same rows, file by file.
    for f in fixtures() {
        let (_, jout, _) = lint("json", std::slice::from_ref(&f));
        let (_, sout, _) = lint("sarif", std::slice::from_ref(&f));
        let log: Value = serde_json::from_str(&sout).unwrap();
        let strip = |rows: Vec<Row>| rows.into_iter().map(|r| (r.1, r.2, r.3, r.4, r.5, r.6)).collect::<Vec<_>>();
        assert_eq!(strip(sarif_rows(&log)), strip(json_rows(&jout)), "{}", f.display());
    }
}

#[test]
fn sarif_of_a_clean_stack_and_of_an_unreadable_file() {
    let clean = root().join("stacks/eks-gp3.toml");
    let (code, out, err) = lint("sarif", &[clean]);
    assert_eq!(code, 0, "{err}");
    let log: Value = serde_json::from_str(&out).unwrap();
    assert_sarif_shape(&log);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));

    let (code, out, err) = lint("sarif", &[PathBuf::from("/nonexistent/stack.toml")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read"), "{err}");
    let log: Value = serde_json::from_str(&out).expect("a log even when a file is unreadable");
    assert_sarif_shape(&log);
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let n = &inv["toolExecutionNotifications"][0];
    assert_eq!(n["level"], "error");
    assert_eq!(n["descriptor"]["id"], "SG006");
    assert_eq!(str_at(n, "/locations/0/physicalLocation/artifactLocation/uri"), "file:///nonexistent/stack.toml");
}

// ---------------------------------------------------------------------------------------
// Snapshots

/// Output with the machine's paths and the crate version taken out.
fn normalise(text: &str) -> String {
    let root = root().display().to_string();
    let root_uri = stackgen::diagnostic::sarif::artifact_uri(&root);
    text.replace(&root_uri, "file://$ROOT")
        .replace(&root, "$ROOT")
        .replace(&format!("\"{}\"", env!("CARGO_PKG_VERSION")), "\"$VERSION\"")
}

/// The SARIF snapshot without the rule catalogue, which `assert_sarif_shape` compares
/// with the registry itself: rewording a rule should not re-bless this snapshot.
fn sarif_snapshot(out: &str) -> String {
    let mut log: Value = serde_json::from_str(out).unwrap();
    assert_sarif_shape(&log);
    log["runs"][0]["tool"]["driver"]["rules"] = Value::from("$RULES (every rule of the registry)");
    let mut s = serde_json::to_string_pretty(&log).unwrap();
    s.push('\n');
    normalise(&s)
}

/// One input, its exit code, and the extra arguments of the call, snapshotted in every format.
const SNAPSHOTS: &[(&str, i32, &[&str])] = &[
    ("lint-bad", 1, &[]),
    // The three suppression forms: an inline comment on the line, one on the table header,
    // and `[lint] allow`; nothing shows in human/github, everything stays in json/sarif.
    ("lint-allow", 0, &["--deny-warnings"]),
    // `--deny` makes an allowed warning an error again; `--allow` allows from the command line.
    ("lint-allow.cli", 1, &["--deny", "SG102", "--allow", "SG105"]),
];

#[test]
fn snapshots_of_every_format() {
    let mut snapshots = Snapshots::new("snapshots_of_every_format");
    for (name, want_code, args) in SNAPSHOTS {
        let input = root().join("tests/snapshots").join(format!("{}.toml", name.split('.').next().unwrap()));
        for (format, ext) in
            [("human", "human.txt"), ("json", "json"), ("github", "github.txt"), ("sarif", "sarif.json")]
        {
            let (code, out, err) = run(Command::new(bin())
                .args(["lint", "--format", format])
                .args(*args)
                .arg(&input)
                .env("NO_COLOR", "1"));
            assert_eq!(code, *want_code, "{name} {format}: exit code\n{err}");
            let got = match format {
                "human" => {
                    assert!(out.is_empty(), "human output goes to stderr");
                    normalise(&err)
                }
                "sarif" => sarif_snapshot(&out),
                _ => normalise(&out),
            };
            assert!(!got.contains(&root().display().to_string()), "{format}: the path is normalised");
            snapshots.compare(&root().join("tests/snapshots").join(format!("{name}.{ext}")), &got);
        }
    }
    snapshots.finish();
}

// ---------------------------------------------------------------------------------------
// init

/// The warnings a backend has by nature; every other backend lints with none.
fn inherent_warnings(b: Backend) -> Vec<&'static str> {
    match b {
        Backend::Nfs => vec!["SG102"],
        Backend::Ephemeral => vec!["SG101"],
        _ => vec![],
    }
}

#[test]
fn init_checks_clean_for_every_backend() {
    for backend in Backend::ALL {
        for thanos in [false, true] {
            let text = init(backend, thanos, "prod");
            let label = format!("init --backend {backend}{}", if thanos { " --thanos" } else { "" });
            assert!(text.starts_with("#:schema https://stackgen.dev/schemas/stack.schema.json\n"), "{label}");
            let src = stackgen::source::Source::new(label.clone(), text.clone());
            let checked = stackgen::check(&src).unwrap_or_else(|d| panic!("{label} has errors: {d:#?}\n{text}"));
            let codes: Vec<&str> = checked.warnings.iter().map(|d| d.code.id()).collect();
            assert_eq!(codes, inherent_warnings(backend), "{label}\n{text}");
            assert_eq!(checked.stack.thanos.is_some(), thanos, "{label}");
            // Every key is explained: a key line without a comment must follow a comment line.
            let lines: Vec<&str> = text.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                let is_key = !l.starts_with('#') && !l.starts_with('[') && l.contains(" = ");
                let explained = l.contains('#') || lines[..i].last().is_some_and(|p| p.trim_start().starts_with('#'));
                assert!(!is_key || explained, "{label}: `{l}` has no comment");
            }
        }
    }
}

#[test]
fn init_with_a_name() {
    let text = init(Backend::Ceph, true, "eu-west-1");
    let src = stackgen::source::Source::new("named", text);
    let checked = stackgen::check(&src).expect("no errors");
    assert_eq!(checked.stack.name.as_str(), "eu-west-1");

    let (code, _, err) = run(Command::new(bin()).args(["init", "--name", "Bad_Name"]));
    assert_eq!(code, 2, "an invalid name is bad usage: {err}");
    let (code, _, err) = run(Command::new(bin()).args(["init", "--name", &"a".repeat(31)]));
    assert_eq!(code, 2, "a name over 30 characters is bad usage: {err}");
}

#[test]
fn init_prints_what_the_library_makes_and_it_lints_clean() {
    let (code, out, err) = run(Command::new(bin()).args(["init", "--backend", "local", "--thanos"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, init(Backend::Local, true, stackgen::init::DEFAULT_NAME));
    let (code, out, _) = run(Command::new(bin()).arg("init"));
    assert_eq!(code, 0);
    assert_eq!(out, init(Backend::Class, false, "prod"), "the default backend is class");

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("stack.toml");
    std::fs::write(&file, init(Backend::Iscsi, false, "prod")).unwrap();
    let (code, out, err) = run(Command::new(bin()).arg("lint").arg("--deny-warnings").arg(&file).env("NO_COLOR", "1"));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""), "lint is silent on an init stack");
}

fn init_to(file: &Path, extra: &[&str]) -> (i32, String, String) {
    run(Command::new(bin()).args(["init", "--backend", "ceph", "-o"]).arg(file).args(extra))
}

#[test]
fn init_output_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("stack.toml");
    let (code, out, err) = init_to(&file, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "nothing on stdout with -o");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), init(Backend::Ceph, false, "prod"));

    std::fs::write(&file, "# mine\n").unwrap();
    let (code, out, err) = init_to(&file, &[]);
    assert_eq!(code, 2, "refused: {err}");
    assert!(out.is_empty());
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n", "the file is untouched");

    let (code, _, err) = init_to(&file, &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), init(Backend::Ceph, false, "prod"));
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().filter_map(Result::ok).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

    let (code, _, _) = run(Command::new(bin()).args(["init", "--force"]));
    assert_eq!(code, 2, "--force needs -o");
}
