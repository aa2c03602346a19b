//! The one snapshot helper: every test that compares output with a file in the repository
//! (the goldens under `golden/`, the lint snapshots under `tests/lint/`, `tests/invalid/`
//! and `tests/snapshots/`, the checkov skip list under `tests/fixtures/`) goes through
//! [`Snapshots`].
//!
//! - Compare: a stale file fails the test with a unified diff (its first 80 lines) and
//!   the command that re-blesses it. All files of a test are compared before it fails, so
//!   one run shows every stale file.
//! - Re-bless: `UPDATE_GOLDEN=1 cargo test --test it <filter>` writes what the code
//!   produces (each file replaced whole, atomically: a test reading the file on another
//!   thread sees the old or the new bytes, never half) and, for a tree
//!   ([`Snapshots::tree`]), deletes the files nothing produced any more. Read the diff
//!   you re-blessed (`git diff`) before committing it.
//! - Under `CI=true`, `UPDATE_GOLDEN=1` is refused: snapshots are re-blessed by a person.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Whether this run re-blesses (`UPDATE_GOLDEN=1`). Panics under CI, where re-blessing
/// is refused.
pub fn updating() -> bool {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    assert!(
        !(update && super::in_ci()),
        "UPDATE_GOLDEN is refused under CI: snapshots are re-blessed by a person, who reads the diff"
    );
    update
}

/// A set of snapshot files checked together; [`Snapshots::finish`] fails the test on any
/// stale one.
#[must_use = "call finish() to fail on stale snapshots"]
pub struct Snapshots {
    update: bool,
    /// The test filter that re-runs this check: `UPDATE_GOLDEN=1 cargo test --test it FILTER`.
    filter: &'static str,
    /// A directory whose every file with this suffix must be produced by the test.
    tree: Option<(PathBuf, &'static str)>,
    seen: BTreeSet<PathBuf>,
    failures: Vec<String>,
}

impl Snapshots {
    /// Snapshot files anywhere; `filter` names the test(s) that re-bless them.
    pub fn new(filter: &'static str) -> Self {
        Snapshots { update: updating(), filter, tree: None, seen: BTreeSet::new(), failures: Vec::new() }
    }

    /// A directory compared as a whole tree: a file ending in `suffix` that the test did
    /// not produce fails ("has no stack") and is deleted on re-bless.
    pub fn tree(dir: PathBuf, suffix: &'static str, filter: &'static str) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        Snapshots { tree: Some((dir, suffix)), ..Snapshots::new(filter) }
    }

    /// The tree's directory joined with `file` (a tree only).
    pub fn in_tree(&self, file: &str) -> PathBuf {
        self.tree.as_ref().expect("in_tree on a tree").0.join(file)
    }

    /// Compare `got` with the file at `path` (or write it, re-blessing).
    pub fn compare(&mut self, path: &Path, got: &str) {
        self.seen.insert(path.to_path_buf());
        let want = std::fs::read_to_string(path).ok();
        if want.as_deref() == Some(got) {
            return;
        }
        if self.update {
            write_atomically(path, got);
            return;
        }
        let diff = similar::TextDiff::from_lines(want.as_deref().unwrap_or_default(), got)
            .unified_diff()
            .context_radius(3)
            .header(&path.display().to_string(), &path.display().to_string())
            .to_string();
        let what = if want.is_none() { "is missing" } else { "is stale" };
        self.failures.push(format!(
            "{} {what}:\n{}",
            path.display(),
            diff.lines().take(80).collect::<Vec<_>>().join("\n")
        ));
    }

    /// [`Snapshots::compare`] with a file of the tree.
    pub fn compare_in_tree(&mut self, file: &str, got: &str) {
        let path = self.in_tree(file);
        self.compare(&path, got);
    }

    /// Fail on stale files, and in a tree on files the test did not produce.
    pub fn finish(mut self) {
        if let Some((dir, suffix)) = &self.tree {
            let mut extra: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix) && !self.seen.contains(p))
                .collect();
            extra.sort();
            for p in extra {
                if self.update {
                    std::fs::remove_file(&p).unwrap();
                } else {
                    self.failures.push(format!("{} has no stack in stacks/ (nothing produces it)", p.display()));
                }
            }
        }
        assert!(
            self.failures.is_empty(),
            "{}\n\nIf the change is intended, re-bless: UPDATE_GOLDEN=1 cargo test --test it {}\nand read the diff (git diff) before committing it.",
            self.failures.join("\n\n"),
            self.filter
        );
    }
}

/// Replace `path` whole: write a temporary file beside it, then rename it over.
fn write_atomically(path: &Path, text: &str) {
    use std::io::Write;
    let dir = path.parent().expect("a snapshot has a directory");
    std::fs::create_dir_all(dir).unwrap();
    let mut tmp = tempfile::NamedTempFile::new_in(dir).unwrap();
    tmp.write_all(text.as_bytes()).unwrap();
    // A temporary file is created 0600; a snapshot is an ordinary 0644 file.
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    tmp.persist(path).unwrap();
}
