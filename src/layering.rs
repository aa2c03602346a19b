//! The pipeline's arrows, checked over the source: each stage uses only the stages below
//! it. model ← alerting (a generator: rule files, probes, self-monitoring) ← lint, render
//! ← diff, lifecycle; the command line (the binary's
//! `src/cli/`) is the only place that prints or picks an exit code. A `use` that points
//! the wrong way fails here with its file and line.

/// The non-test code of every `.rs` file under `src/<dir>` (a file's `#[cfg(test)]`
/// module and what follows it is left out), with its path.
fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                out.push((p, code));
            }
        }
    }
    let mut out = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir), &mut out);
    assert!(out.len() > 3, "no sources under src/{dir}");
    out
}

/// Every line under `src/<dir>` (comments left out) for which `bad` holds.
fn offending(dir: &str, bad: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (path, code) in sources(dir) {
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            if bad(line) {
                out.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    out
}

/// The crate modules a line names (`crate::render::…` → `render`).
fn crate_uses(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices("crate::").map(|(at, _)| {
        let rest = &line[at + 7..];
        &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]
    })
}

/// Lines under `src/<dir>` that name a crate module other than `allowed`.
fn uses_outside(dir: &str, allowed: &[&str]) -> Vec<String> {
    offending(dir, |line| crate_uses(line).any(|m| !m.is_empty() && !allowed.contains(&m)))
}

/// The model is the bottom layer: it knows nothing of what is made from it.
#[test]
fn the_model_uses_no_later_stage() {
    let bad = uses_outside("model", &["model", "diagnostic", "source"]);
    assert!(bad.is_empty(), "src/model uses a later stage:\n{}", bad.join("\n"));
}

/// Lint reads the model, never the render: what both need (component volumes, the
/// chart's names) lives in the model; the capacity plan it compares with is the model's
/// arithmetic (`lifecycle::plan` uses only the model).
#[test]
fn lint_does_not_use_render() {
    let bad = uses_outside("lint", &["model", "diagnostic", "source", "lint", "lifecycle", "secrets", "alerting"]);
    assert!(bad.is_empty(), "src/lint uses a later stage:\n{}", bad.join("\n"));
    let bad = offending("lint", |l| l.contains(&["super", "::render"].concat()));
    assert!(bad.is_empty(), "src/lint uses render:\n{}", bad.join("\n"));
}

/// The capacity plan is arithmetic over the model, so lint may use it.
#[test]
fn the_plan_uses_only_the_model() {
    let plan = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lifecycle/plan.rs"))
        .unwrap();
    let code = plan.split("#[cfg(test)]").next().unwrap_or_default();
    let used: Vec<&str> = crate_uses(code).filter(|m| *m != "model").collect();
    assert!(used.is_empty(), "src/lifecycle/plan.rs uses {used:?}");
}

/// Render reads the validated model (and what `alerting` builds from it) and nothing
/// after it: no lint or diagnostics (what a render target cannot express is a lint
/// rule), no diff, and no command line (the binary's `src/cli/`, which the library
/// cannot name).
#[test]
fn render_uses_only_the_model() {
    let bad = uses_outside("render", &["model", "render", "alerting"]);
    assert!(bad.is_empty(), "render uses more than the model:\n{}", bad.join("\n"));
}

/// `alerting` is a generator layer over the model: it reads the validated model (and
/// reports rule-file problems as diagnostics), never render, lint or diff, so render and
/// lint may both use it.
#[test]
fn alerting_uses_only_the_model() {
    let bad = uses_outside("alerting", &["model", "diagnostic", "alerting"]);
    assert!(bad.is_empty(), "src/alerting uses more than the model:\n{}", bad.join("\n"));
    let bad = offending("alerting", |l| l.contains(&["super", "::render"].concat()));
    assert!(bad.is_empty(), "src/alerting uses render:\n{}", bad.join("\n"));
}

/// `diff` computes a report; the command line prints it, picks colour and maps it to an
/// exit code. Nothing under src/diff/ (nor the other library stages) writes to a terminal.
#[test]
fn the_library_does_not_print() {
    // Spelt in pieces so that this test does not find itself.
    let banned = [
        ["print", "ln!"].concat(),
        ["eprint", "ln!"].concat(),
        ["std::io::std", "out"].concat(),
        ["std::io::std", "err"].concat(),
        ["NO_", "COLOR"].concat(),
        ["Exit", "Code"].concat(),
    ];
    for dir in ["diff", "render", "model", "lint", "lifecycle", "alerting"] {
        let bad = offending(dir, |line| banned.iter().any(|b| line.contains(b.as_str())));
        assert!(bad.is_empty(), "src/{dir} prints or decides an exit code:\n{}", bad.join("\n"));
    }
}
