//! `[rules] files`: the rule files a stack names, found and read next to stack.toml.
//!
//! Each entry is a path relative to the directory of stack.toml whose last part may hold
//! the wildcards `*` and `?` (`rules/*.yaml`); the files matched are read (bounded, regular
//! files only, through [`crate::read`]), each once, sorted by path, and checked with
//! [`crate::alerting::rules::check_rule_file`]: every problem at its line and column in
//! the rule file. The model is built from stack.toml alone; [`crate::check`] fills
//! `stack.rules.files` from here, so render and diff see the files' text like any key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::alerting::rules::{check_rule_file, MAX_RULE_FILE_BYTES};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{RuleFile, Stack};
use crate::source::{Parsed, Source};

/// The most rule files a stack may name (a ConfigMap holds 1 MiB anyway).
pub const MAX_RULE_FILES: usize = 256;

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one; a leading `.`
/// is matched only by a pattern that starts with one, as in a shell).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The directory stack.toml's relative paths start from: its own, or the working
/// directory for standard input.
pub fn base_dir(src: &Source) -> PathBuf {
    match Path::new(&src.name).parent() {
        Some(p) if !src.name.starts_with('<') && !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Find, read and check the rule files of `stack`, filling `stack.rules.files`. Returns
/// the problems: SG146 at the `files` entry for what cannot be found or read, SG131-SG137
/// inside the rule files (their `file` set).
/// SG124 for every credential in a rule file's text (an annotation's webhook URL with
/// `user:password@`, a token in a runbook link): the file would go into the rules
/// ConfigMap as it is. Located in the rule file; the value is never printed.
fn credentials(rel: &str, text: &str) -> Vec<Diagnostic> {
    crate::secrets::find(text)
        .into_iter()
        .map(|r| {
            let what = if text[r.clone()].contains('@') {
                "holds credentials in a URL (user:password@)"
            } else {
                "holds a value that looks like a credential"
            };
            let mut d = Diagnostic::new(Code::SecretValue, format!("rule file {rel} {what}"), r).with_help(
                "remove it: the rule file is rendered into a ConfigMap as it is; link to a Secret's consumer, \
                 not to a URL with credentials",
            );
            d.redact = true;
            d
        })
        .collect()
}

pub fn load(src: &Source, parsed: &Parsed, stack: &mut Stack) -> Vec<Diagnostic> {
    let base = base_dir(src);
    let mut diags = Vec::new();
    let mut found: Vec<(String, PathBuf, usize)> = Vec::new();
    for (i, pattern) in stack.rules.patterns.iter().enumerate() {
        let ptr = format!("/rules/files/{i}");
        let err = |msg: String, help: &str| {
            Diagnostic::error(Code::RuleFiles, msg, parsed.span(&ptr))
                .with_help(help.to_string())
                .with_path(ptr.clone())
        };
        let (dir, file) = match pattern.rsplit_once('/') {
            Some((d, f)) => (d, f),
            None => ("", pattern.as_str()),
        };
        if has_wildcard(dir) || pattern.contains('[') || file.is_empty() || dir.split('/').any(|c| c == "..") {
            diags.push(err(
                format!("`{pattern}`: only the file name may hold wildcards (* and ?), inside the stack's directory"),
                "write a directory and a file pattern: files = [\"rules/*.yaml\"]",
            ));
            continue;
        }
        let dir_path = base.join(dir);
        let mut matched: Vec<String> = if has_wildcard(file) {
            match std::fs::read_dir(&dir_path) {
                Ok(entries) => entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| glob_match(file, n))
                    .collect(),
                Err(e) => {
                    diags.push(err(
                        format!("`{pattern}`: cannot read the directory {}: {e}", dir_path.display()),
                        "rule files are found relative to the directory of stack.toml",
                    ));
                    continue;
                }
            }
        } else {
            vec![file.to_string()]
        };
        matched.sort();
        if matched.is_empty() {
            diags.push(err(
                format!("`{pattern}` matches no file in {}", dir_path.display()),
                "rule files are found relative to the directory of stack.toml; check the directory and the pattern",
            ));
        }
        for name in matched {
            let rel = if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") };
            if !found.iter().any(|(r, _, _)| *r == rel) {
                found.push((rel, dir_path.join(&name), i));
            }
        }
    }
    found.sort();
    if found.len() > MAX_RULE_FILES {
        let ptr = "/rules/files";
        diags.push(
            Diagnostic::error(
                Code::RuleFiles,
                format!("{} rule files: more than the {MAX_RULE_FILES} stackgen loads", found.len()),
                parsed.span(ptr),
            )
            .with_help("merge rule files; one file may hold many groups")
            .with_path(ptr.to_string()),
        );
        return diags;
    }
    let mut files: Vec<RuleFile> = Vec::new();
    for (rel, path, i) in found {
        let ptr = format!("/rules/files/{i}");
        let text = match crate::read::read_regular(&path, MAX_RULE_FILE_BYTES as u64) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::RuleFiles, format!("cannot read rule file {rel}: {e}"), parsed.span(&ptr))
                        .with_help("a rule file is a regular UTF-8 file of at most 4 MiB")
                        .with_path(ptr),
                );
                continue;
            }
        };
        let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
        if name == crate::alerting::stack::BUILTIN_RULE_FILE || name.starts_with("stackgen-thanos.") {
            diags.push(
                Diagnostic::error(
                    Code::RuleFiles,
                    format!("rule file {rel}: the name of a built-in rule file"),
                    parsed.span(&ptr),
                )
                .with_help("rename it: stackgen writes its self-monitoring rules under that name")
                .with_path(ptr),
            );
            continue;
        }
        if let Some(other) = files.iter().find(|f| f.name == name) {
            diags.push(
                Diagnostic::error(
                    Code::RuleFiles,
                    format!("rule files {} and {rel} have the same name", other.path),
                    parsed.span(&ptr),
                )
                .with_help("each rule file is a key of the rules ConfigMap, by file name: rename one")
                .with_path(ptr),
            );
            continue;
        }
        let shown = base.join(&rel).display().to_string();
        let shown = shown.strip_prefix("./").unwrap_or(&shown).to_string();
        let mut problems = check_rule_file(&shown, &text);
        problems.extend(credentials(&rel, &text));
        if !problems.is_empty() {
            let file = Arc::new(Source::new(shown, text.clone()));
            diags.extend(problems.into_iter().map(|mut d| {
                d.file = Some(file.clone());
                d
            }));
        }
        files.push(RuleFile { path: rel, name, text });
    }
    let total: usize = files.iter().map(|f| f.text.len()).sum();
    if total > MAX_RULES_CONFIGMAP_BYTES {
        let ptr = "/rules/files";
        diags.push(
            Diagnostic::error(
                Code::RuleFiles,
                format!(
                    "the rule files hold {total} bytes: with the built-in rules they exceed the 1 MiB a ConfigMap may hold"
                ),
                parsed.span(ptr),
            )
            .with_help("load fewer or smaller rule files (recording rules of one team per file, no comment blocks)")
            .with_path(ptr.to_string()),
        );
    }
    stack.rules.files = files;
    diags
}

/// What the stack's rule files may hold in all: Kubernetes refuses a ConfigMap above
/// 1 MiB, and the rules ConfigMap also holds the built-in file (about 20 KiB) and its
/// metadata.
pub const MAX_RULES_CONFIGMAP_BYTES: usize = 1_000_000;

#[cfg(test)]
mod tests {
    use super::glob_match;
    use crate::diagnostic::Code;

    /// Rule files beside a stack file in a temp dir; the codes `check` reports.
    fn codes(files: &[(&str, String)], pattern: &str) -> Vec<Code> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let stack = dir.path().join("stack.toml");
        let text =
            format!("[stack]\nname = \"t\"\n[storage]\nbackend = \"ephemeral\"\n[rules]\nfiles = [\"{pattern}\"]\n");
        let src = crate::source::Source::new(stack.display().to_string(), text);
        match crate::check(&src) {
            Ok(c) => c.warnings.iter().filter(|d| d.is_error()).map(|d| d.code).collect(),
            Err(d) => d.iter().filter(|d| d.is_error()).map(|d| d.code).collect(),
        }
    }

    #[test]
    fn rule_files_are_found_read_and_bounded() {
        let good = "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n".to_string();
        assert!(codes(&[("rules/a.yaml", good.clone())], "rules/*.yaml").is_empty());
        assert_eq!(codes(&[("rules/a.yaml", good.clone())], "rules/*.yml"), [Code::RuleFiles]);
        assert_eq!(codes(&[("x/a.yaml", good.clone()), ("y/a.yaml", good.clone())], "x/a.yaml").len(), 0);
        let big = format!("# {}\n{good}", "x".repeat(600_000));
        assert_eq!(
            codes(&[("rules/a.yaml", big.clone()), ("rules/b.yaml", big)], "rules/*.yaml"),
            [Code::RuleFiles],
            "two 600 kB files do not fit one ConfigMap"
        );
        assert_eq!(
            codes(&[("rules/stackgen-self-monitoring.yaml", good)], "rules/*.yaml"),
            [Code::RuleFiles],
            "the built-in file's name is taken"
        );
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("*.yaml", "api.yaml"));
        assert!(!glob_match("*.yaml", "api.yml"));
        assert!(!glob_match("*.yaml", ".hidden.yaml"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("*a*b", "xxaybzb"));
    }
}
