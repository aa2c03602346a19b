//! checkov (`--framework kubernetes --skip-download`) on every golden output: no failed
//! check, and the checks skipped by design (annotated on the objects with a reason) are
//! exactly those listed in tests/fixtures/checkov-skips.txt, so a new failure cannot hide
//! behind a skip. Re-bless the list with
//! `UPDATE_GOLDEN=1 cargo test --test it checkov` (refused under CI).

use std::process::Command;

use crate::common::*;

#[test]
fn checkov_passes_every_golden() {
    let Some(checkov) = tool("checkov") else { return };
    let mut cmd = Command::new(&checkov);
    cmd.args(["--framework", "kubernetes", "--skip-download", "-o", "json"]);
    for stack in stacks() {
        cmd.arg("-f").arg(golden_path(&stack));
    }
    let (_, out, err) = run(&mut cmd);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("checkov output: {e}\n{err}"));
    let reports = match v {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for r in &reports {
        assert_eq!(r["summary"]["parsing_errors"], 0, "checkov could not parse a golden");
        for f in r["results"]["failed_checks"].as_array().into_iter().flatten() {
            failed.push(format!("{} {} {} {}", f["file_path"], f["resource"], f["check_id"], f["check_name"]));
        }
        for f in r["results"]["skipped_checks"].as_array().into_iter().flatten() {
            let file = f["file_path"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
            skipped.push(format!(
                "{file} {} {}",
                f["resource"].as_str().unwrap_or_default(),
                f["check_id"].as_str().unwrap_or_default()
            ));
        }
    }
    assert!(failed.is_empty(), "checkov failed checks:\n{}", failed.join("\n"));
    skipped.sort();
    skipped.dedup();
    let text = skipped.join("\n") + "\n";
    // The checks skipped by design, as a snapshot: a change is reviewed, then re-blessed.
    let mut snapshots = Snapshots::new("checkov_passes_every_golden");
    snapshots.compare(&root().join("tests/fixtures/checkov-skips.txt"), &text);
    snapshots.finish();
}
