//! Never a panic, always a diagnostic or valid output: arbitrary text, mutated example
//! stacks and structurally valid stacks with extreme values go through `check` (lint)
//! and, when they pass, `render`, whose YAML must parse back.
//!
//! CI runs a few thousand cases per strategy. The long run, about a million executions,
//! is `FUZZ_CASES=350000 cargo test --release --test it fuzz::`: three strategies of
//! 350,000 cases each.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500)
}

fn examples() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    v.sort();
    v
}

/// The property: check never panics; a stack that checks renders to YAML that parses,
/// the same whether streamed from shard templates or built object by object.
fn exercise(text: &str) {
    // check() may skip the compiled JSON Schema validator when `quick_accepts` (the same
    // schema, read directly) says yes: that is only sound if the validator agrees.
    if let Ok(parsed) = stackgen::source::parse(text) {
        if stackgen::model::schema::quick_accepts(&parsed.json) {
            let errors = stackgen::model::schema::check(&parsed);
            assert!(errors.is_empty(), "quick_accepts said yes, the validator no: {errors:?}\n{text}");
        }
    }
    // check() reads the typed model from the parsed JSON when that is exact: the same as
    // reading it from the text.
    if let Ok(parsed) = stackgen::source::parse(text) {
        if parsed.exact {
            use serde::Deserialize;
            let from_text = toml::from_str::<stackgen::model::raw::RawStack>(text);
            let from_json = stackgen::model::raw::RawStack::deserialize(&parsed.json);
            assert_eq!(
                from_text.as_ref().map(|r| format!("{r:?}")).ok(),
                from_json.as_ref().map(|r| format!("{r:?}")).ok(),
                "the typed model differs read from the text and from the JSON:\n{text}"
            );
        }
    }
    let src = stackgen::source::Source::new("fuzz.toml", text);
    match stackgen::check(&src) {
        Ok(c) => {
            let yaml = stackgen::render_manifests(&c.stack);
            // The streamed render (shard templates) is the render of every object.
            assert!(
                yaml == stackgen::render::to_yaml(&stackgen::render::render(&c.stack)),
                "streamed render differs from the objects for\n{text}"
            );
            if yaml.len() < 300_000 {
                let docs: Vec<serde_json::Value> =
                    serde_saphyr::from_multiple(&yaml).expect("rendered YAML parses back");
                assert!(!docs.is_empty());
            }
            // The operator render and its lint target too.
            let op = stackgen::render::operator::to_text(&c.stack);
            if op.len() < 300_000 {
                let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&op).expect("operator YAML parses back");
                assert!(docs.iter().any(|d| d["kind"] == "Prometheus"));
            }
            let _ = stackgen::lint::operator(&c.stack);
            // Diagnostics render without panicking too.
            let _ = stackgen::diagnostic::render::human(&src, &c.warnings, false);
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            assert!(diags.iter().any(stackgen::diagnostic::Diagnostic::is_error));
            for d in &diags {
                assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "span {:?} out of bounds", d.span);
            }
            let _ = stackgen::diagnostic::render::human(&src, &diags, false);
            let _ = stackgen::diagnostic::render::github(&src, &diags);
        }
    }
}

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "65535",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5e308",
    "nan",
    "inf",
    "true",
    "\"\"",
    "\"0\"",
    "\"0d\"",
    "\"999999999999y\"",
    "\"1ms\"",
    "\"0B\"",
    "\"18446744073709551615EiB\"",
    "\"99999999999999999999Ti\"",
    "\"ü\"",
    "\"\\u0000\"",
    "\"a\\nb\"",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{ a = 1 }",
    "\"on\"",
    "\"yes\"",
    "\"0777\"",
    "\"-\"",
    "\"a-very-long-name-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
    "1979-05-27T07:32:00Z",
    "\"$(X)\"",
    "\"${POD_NAME}\"",
    "\"10.0.0.1:9100\"",
    "[\"a\", \"a\"]",
];

const LINES: &[&str] = &[
    "[sharding]\nshards = 1024",
    "shards = 7",
    "replicas = 16",
    "[thanos.objstore]\ntype = \"s3\"",
    "[thanos]",
    "[[scrape]]\njob = \"x\"\nstatic_targets = [\"127.0.0.1:1\"]",
    "retention = \"1h\"",
    "retention_size = \"none\"",
    "[alertmanager]",
    "[grafana]",
    "backend = \"local\"",
    "[storage.local]\npath = \"/x\"\nnodes = [\"a\"]",
    "[kubernetes]\ncontrol_plane = true",
    "[security]\nnetwork_policies = false",
    "provisioner = true",
    "x = 1",
    "[stack]",
    "[[stack]]",
    "name = \"é\"",
    "]]][[[",
    "\"\"\"",
    "=",
    "[storage.ceph]\ncluster_id = \"c\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, usize),
    InsertLine(usize, usize),
    FlipByte(usize, u8),
    Truncate(usize),
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in muts {
        let n = lines.len().max(1);
        match m {
            Mutation::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Mutation::DuplicateLine(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Mutation::ReplaceValue(i, v) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                if let Some(eq) = l.find('=') {
                    *l = format!("{}= {}", &l[..eq], EXTREMES[v % EXTREMES.len()]);
                }
            }
            Mutation::InsertLine(i, v) => lines.insert(i % (lines.len() + 1), LINES[v % LINES.len()].to_string()),
            Mutation::FlipByte(i, b) => {
                let mut joined = lines.join("\n").into_bytes();
                if !joined.is_empty() {
                    let k = i % joined.len();
                    joined[k] ^= *b;
                }
                let s = String::from_utf8_lossy(&joined).to_string();
                lines = s.lines().map(str::to_string).collect();
            }
            Mutation::Truncate(i) => {
                let joined = lines.join("\n");
                let mut k = i % (joined.len() + 1);
                while !joined.is_char_boundary(k) {
                    k -= 1;
                }
                lines = joined[..k].lines().map(str::to_string).collect();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::ReplaceValue(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::InsertLine(a, b)),
        (any::<usize>(), 1u8..=255).prop_map(|(a, b)| Mutation::FlipByte(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

#[test]
fn arbitrary_text_never_panics() {
    runner()
        .run(&"(?s).{0,400}", |s| {
            exercise(&s);
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_examples_never_panic() {
    let ex = examples();
    runner()
        .run(&(0..ex.len(), prop::collection::vec(mutation(), 1..6)), |(i, muts)| {
            exercise(&apply(&ex[i], &muts));
            Ok(())
        })
        .unwrap();
}

/// The short CI run of the coverage-guided target `diff_against` (fuzz/): its seeds
/// (renders, a live List, hostile shard names), mutated line by line, through the whole
/// `diff --against`. The long run is `cargo +nightly fuzz run diff_against` (fuzz/).
#[test]
fn diff_against_mutated_inputs_never_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/diff_against");
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|t| t.len() < 40_000)
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5);
    let hostile = prop_oneof![
        Just("  name: wsg-prometheus-shard-18446744073709551615".to_string()),
        Just("        modulus: 18446744073709551615".to_string()),
        Just("        modulus: 0".to_string()),
        Just("- &a [*a]".to_string()),
        Just("  name: \"x\\e[2J\"".to_string()),
        "\\PC{0,40}",
    ];
    let cfg = Config { cases: cases() / 10, failure_persistence: None, ..Config::default() };
    TestRunner::new(cfg)
        .run(&(0..seeds.len(), any::<usize>(), hostile, 0usize..3), |(i, at, line, op)| {
            let mut lines: Vec<&str> = seeds[i].lines().collect();
            let k = at % (lines.len() + 1);
            match op {
                0 => lines.insert(k, &line),
                1 if k < lines.len() => lines[k] = &line,
                _ => lines.truncate(k),
            }
            stackgen::fuzzing::diff_against(&lines.join("\n"));
            Ok(())
        })
        .unwrap();
}

/// The short CI run of the coverage-guided target `check_render` (fuzz/): check,
/// render, helm values, the operator render and every diagnostic format (json, sarif too) of mutated seeds.
#[test]
fn check_render_target_short_run() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/check_render");
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    seeds.sort();
    let cfg = Config { cases: cases() / 10, failure_persistence: None, ..Config::default() };
    TestRunner::new(cfg)
        .run(&(0..seeds.len(), prop::collection::vec(mutation(), 0..4)), |(i, muts)| {
            stackgen::fuzzing::check_render(&apply(&seeds[i], &muts));
            Ok(())
        })
        .unwrap();
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]([a-z0-9-]{0,28}[a-z0-9])?", "[a-z0-9-]{0,70}", "\\PC{0,20}"]
}

#[test]
fn valid_shapes_with_extreme_values_never_panic() {
    let strategy = (
        name(),
        // Mostly small; now and then the largest legal count and out-of-range ones.
        prop_oneof![8 => Just(1u32), 8 => Just(2), 2 => Just(64), 1 => Just(1024), 2 => Just(0), 2 => Just(5000)],
        prop_oneof![Just(1u32), 1u32..=3, Just(16), Just(17)],
        prop_oneof![Just("15d".to_string()), Just("0s".to_string()), Just("1ms".to_string()), "[0-9]{1,12}[ywdhms]"],
        prop_oneof![Just("auto".to_string()), Just("none".to_string()), "[0-9]{1,20}(B|KiB|GiB|TiB|EiB|Gi)"],
        prop_oneof![Just("1Ti"), Just("1"), Just("16Ei"), Just("1Ki"), Just("500Gi")],
        prop_oneof![Just("local"), Just("nfs"), Just("iscsi"), Just("ceph"), Just("class"), Just("ephemeral")],
        0usize..40,
        any::<bool>(),
        any::<bool>(),
    );
    runner()
        .run(&strategy, |(name, shards, replicas, retention, rsize, size, backend, nodes, thanos, provisioner)| {
            let node_list = (0..nodes).map(|i| format!("\"n{i}\"")).collect::<Vec<_>>().join(", ");
            let luns = (0..nodes).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            let mut t = format!(
                "[stack]\nname = {name:?}\n[prometheus]\nreplicas = {replicas}\nretention = {retention:?}\nretention_size = {rsize:?}\n\
                 [sharding]\nshards = {shards}\n[storage]\nbackend = \"{backend}\"\nsize = \"{size}\"\n\
                 [storage.local]\npath = \"/mnt\"\nnodes = [{node_list}]\n\
                 [storage.nfs]\nserver = \"10.0.0.5\"\npath = \"/e\"\nprovisioner = {provisioner}\n\
                 [storage.iscsi]\ntarget_portal = \"10.0.0.6:3260\"\niqn = \"iqn.2020-02.com.example:p\"\nluns = [{luns}]\n\
                 [storage.ceph]\nstorage_class = \"rook\"\n[storage.class]\nname = \"gp3\"\n[alertmanager]\n[grafana]\n"
            );
            // Keep only the backend's own table, so the shape is valid.
            for other in ["local", "nfs", "iscsi", "ceph", "class"] {
                if other != backend {
                    t = drop_table(&t, &format!("[storage.{other}]"));
                }
            }
            if thanos {
                t.push_str("[thanos.objstore]\ntype = \"filesystem\"\ndirectory = \"/var/thanos\"\n");
            }
            exercise(&t);
            Ok(())
        })
        .unwrap();
}

fn drop_table(text: &str, header: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with('[') {
            skipping = l == header;
        }
        if !skipping {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
