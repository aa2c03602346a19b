//! What `stackgen explain` prints and docs/rules.md holds, generated from the registry
//! ([`RULES`]) so that the three never disagree.

use std::fmt::Write as _;

use super::{Code, Severity, RETIRED, RULES};

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `stackgen explain list`: one line per code, in code order.
pub fn list() -> String {
    let mut out = String::new();
    for r in RULES {
        let _ = writeln!(out, "{}  {:<26} {:<8} {}", r.id, r.name, severity(r.severity), r.summary());
    }
    out
}

/// `stackgen explain CODE` for a code (`SG102`, `sg102`) or kebab name (`nfs-tsdb`),
/// retired ones included. `Err` is the message for an unknown code.
pub fn explain(word: &str) -> Result<String, String> {
    if let Some(r) = Code::lookup(word) {
        return Ok(format!(
            "{} ({}): {}\nseverity: {}\n\n{}\n",
            r.id,
            r.name,
            r.summary(),
            severity(r.severity),
            r.explain()
        ));
    }
    if let Some(r) = Code::retired(word) {
        return Ok(format!("{} ({}): retired, never raised\n\nRetired because {}.\n", r.id, r.name, r.why));
    }
    Err(format!("unknown code `{word}`; `stackgen explain list` lists them"))
}

/// docs/rules.md: every code with its documentation, then the retired codes.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         <!-- Generated from the registry (src/diagnostic/codes.rs and the rule files under\n\
         src/lint/rules/); do not edit. Regenerate with `UPDATE_GOLDEN=1 cargo test --lib rules_md`. -->\n\n\
         Every diagnostic of stackgen has a stable code (`SG0xx` input and schema, `SG1xx` semantic,\n\
         `SG2xx` render), a kebab name and one severity. `stackgen explain CODE` prints the text\n\
         below; warnings can be allowed by code or name (`[lint] allow`, `# stackgen: allow`,\n\
         `--allow`), errors cannot. Codes are never reused.\n\n\
         | Code | Name | Severity | Summary |\n|---|---|---|---|\n",
    );
    for r in RULES {
        let _ = writeln!(
            out,
            "| [{}](#{}-{}) | `{}` | {} | {} |",
            r.id,
            r.id.to_lowercase(),
            r.name,
            r.name,
            severity(r.severity),
            r.summary()
        );
    }
    for r in RULES {
        let by: Vec<String> = r.raised_by.iter().map(|p| format!("`{}`", source_file(p))).collect();
        let _ = write!(
            out,
            "\n## {} `{}`\n\nSeverity: {}. Raised in {}.\n\n{}\n",
            r.id,
            r.name,
            severity(r.severity),
            by.join(", "),
            demote(&r.explain())
        );
    }
    out.push_str("\n## Retired codes\n\nNever raised any more, and never given to another rule.\n\n");
    for r in RETIRED {
        let _ = writeln!(out, "- {} `{}`: retired because {}.", r.id, r.name, r.why);
    }
    out
}

/// Headings one level down: a rule's sections go under the rule's own heading.
fn demote(text: &str) -> String {
    let lines: Vec<String> =
        text.lines().map(|l| if l.starts_with("## ") { format!("#{l}") } else { l.to_string() }).collect();
    lines.join("\n")
}

/// The source file of a module path of [`super::Rule::raised_by`]: `lint::rules::sg102_nfs_tsdb`
/// is `src/lint/rules/sg102_nfs_tsdb.rs`, `lib` is `src/lib.rs`. A module that is a
/// directory (`model::validate` split by table) is its `mod.rs`.
pub fn source_file(module: &str) -> String {
    let path = module.replace("::", "/");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(&path);
    if dir.is_dir() {
        format!("src/{path}/mod.rs")
    } else {
        format!("src/{path}.rs")
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// docs/rules.md is generated: it fails on drift, `UPDATE_GOLDEN=1` rewrites it
    /// (refused under CI, where generated files are only checked).
    #[test]
    fn rules_md_is_generated_from_the_registry() {
        let path = root().join("docs/rules.md");
        let want = markdown();
        if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
            assert!(
                std::env::var_os("CI").is_none(),
                "UPDATE_GOLDEN is refused under CI: docs/rules.md is re-blessed by a person"
            );
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "{}\ndocs/rules.md is stale; regenerate: UPDATE_GOLDEN=1 cargo test --lib rules_md",
            crate::output::unified("docs/rules.md", &got, &want)
        );
    }

    /// The three names of a rule agree: the variant is the kebab name in CamelCase.
    #[test]
    fn type_and_kebab_names_agree() {
        for r in RULES {
            let camel: String = r
                .name
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
                })
                .collect();
            assert_eq!(format!("{:?}", r.code), camel, "{} ({})", r.id, r.name);
        }
    }

    /// Codes are unique, in order, in their range, and never a retired one; every code
    /// has a summary line and a long text.
    #[test]
    fn codes_are_unique_and_never_reused() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.code as usize, i);
            assert_eq!(r.code.rule().id, r.id);
            assert!(r.id.len() == 5 && r.id.starts_with("SG") && r.id[2..].bytes().all(|b| b.is_ascii_digit()));
            if i > 0 {
                assert!(RULES[i - 1].id < r.id, "{} after {}", r.id, RULES[i - 1].id);
            }
            assert!(!RETIRED.iter().any(|d| d.id == r.id || d.name == r.name), "{} reuses a retired code", r.id);
            assert!(!r.summary().is_empty() && !r.summary().ends_with('.'), "{}: summary {:?}", r.id, r.summary());
            assert!(r.explain().len() > 80, "{} needs a real explanation", r.id);
            for section in ["## What it does", "## Why is this bad?", "## Example"] {
                assert!(r.explain().contains(section), "{} has no `{section}`", r.id);
            }
        }
    }

    /// Each module the registry names exists and raises the code: the variant appears in
    /// its source. A lint rule's file is named after its code and kebab name.
    #[test]
    fn codes_are_raised_where_the_registry_says() {
        for r in RULES {
            assert!(!r.raised_by.is_empty(), "{} names no place that raises it", r.id);
            if let Some(file) = r.lint_rule() {
                assert_eq!(file, format!("{}_{}", r.id.to_lowercase(), r.name.replace('-', "_")), "{}", r.id);
            }
            for module in r.raised_by {
                let path = root().join(source_file(module));
                let dir = path.parent().unwrap();
                let files: Vec<PathBuf> = if path.ends_with("mod.rs") {
                    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
                } else {
                    vec![path.clone()]
                };
                let needle = format!("Code::{:?}", r.code);
                assert!(
                    files.iter().any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&needle))),
                    "{} ({}): {} does not mention {needle}",
                    r.id,
                    r.name,
                    path.display()
                );
            }
        }
    }

    #[test]
    fn explain_finds_codes_names_and_retired_codes() {
        assert!(explain("SG102")
            .unwrap()
            .starts_with("SG102 (nfs-tsdb): NFS holds the Prometheus TSDB\nseverity: warning\n"));
        assert_eq!(explain("nfs-tsdb"), explain("sg102"));
        assert!(explain("SG201").unwrap().contains("retired"));
        assert!(explain("SG999").is_err());
        assert_eq!(list().lines().count(), RULES.len());
    }

    /// Nothing the user reads points at material outside the repository.
    #[test]
    fn texts_cite_nothing_outside_the_repository() {
        for r in RULES {
            let text = format!("{}\n{}", r.summary(), r.explain()).to_lowercase();
            for word in ["seed 0", "seeds 0", "pitfall", "../shared", "issue #"] {
                assert!(!text.contains(word), "{} cites `{word}`", r.id);
            }
        }
    }
}
