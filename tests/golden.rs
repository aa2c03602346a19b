//! Every stack in stacks/ against its golden output in golden/, byte for byte.
//! Re-bless with `UPDATE_GOLDEN=1 cargo test --test golden` (refused when CI is set).

mod common;

use common::*;

#[test]
fn goldens_match() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    assert!(!(update && in_ci()), "UPDATE_GOLDEN is refused under CI: goldens are re-blessed by a person");
    let dir = root().join("golden");
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    let mut expected = std::collections::BTreeSet::new();
    for stack in stacks() {
        let path = golden_path(&stack);
        expected.insert(path.file_name().unwrap().to_string_lossy().to_string());
        let got = render_stack(&stack);
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != got {
            let diff = stackgen::output::unified(&path.display().to_string(), &want, &got);
            failures.push(format!(
                "{} is stale:\n{}",
                path.display(),
                diff.lines().take(80).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    // The tree as a whole: no golden without its stack.
    for e in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".yaml") && !expected.contains(&name) {
            if update {
                std::fs::remove_file(e.path()).unwrap();
            } else {
                failures.push(format!("golden/{name} has no stack in stacks/"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended, re-bless: UPDATE_GOLDEN=1 cargo test --test golden",
        failures.join("\n\n")
    );
}
