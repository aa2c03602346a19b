//! Writing a render to a directory: one file per object plus kustomization.yaml.
//!
//! Everything is rendered in memory first, so a failing render writes nothing. A new
//! directory is built beside its final place and renamed into it; in an existing
//! directory each file is written to a temporary file and renamed over the old one, so
//! a reader never sees half a file. Files stackgen writes start with [`HEADER`];
//! `--prune` removes only such files, never a user's.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::render::{yaml, Object};

pub const HEADER: &str = "# Rendered by stackgen from stack.toml; edit the stack, not this file.\n";

/// The files of a directory render, name → content, kustomization.yaml included.
pub fn files(objs: &[Object]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut resources = Vec::new();
    for o in objs {
        let name = o.file_name();
        let mut text = String::from(HEADER);
        yaml::write_document(&mut text, &o.value);
        resources.push(serde_json::Value::String(name.clone()));
        out.insert(name, text);
    }
    let kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let mut k = String::from(HEADER);
    yaml::write_document(&mut k, &kustomization);
    out.insert("kustomization.yaml".into(), k);
    out
}

fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Write `files` into `dir`. Returns the names of the files pruned.
pub fn write_dir(dir: &Path, files: &BTreeMap<String, String>, prune: bool) -> std::io::Result<Vec<String>> {
    if !dir.exists() {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        let tmp = tempfile::Builder::new().prefix(".stackgen-").tempdir_in(&parent)?;
        for (name, text) in files {
            fs::write(tmp.path().join(name), text)?;
        }
        let tmp_path = tmp.keep();
        if let Err(e) = fs::rename(&tmp_path, dir) {
            let _ = fs::remove_dir_all(&tmp_path);
            return Err(e);
        }
        return Ok(Vec::new());
    }
    for (name, text) in files {
        write_atomic(dir, name, text)?;
    }
    let mut pruned = Vec::new();
    if prune {
        let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if files.contains_key(&name) || !name.ends_with(".yaml") || !path.is_file() {
                continue;
            }
            let ours = fs::read_to_string(&path).is_ok_and(|t| t.starts_with(HEADER));
            if ours {
                fs::remove_file(&path)?;
                pruned.push(name);
            }
        }
    }
    Ok(pruned)
}

/// Compare a render with a committed one: a multi-document file, or an `-o` directory.
/// Returns whether they are identical and a unified diff when not.
pub fn check(objs: &[Object], path: &Path) -> std::io::Result<(bool, String)> {
    if path.is_dir() {
        return check_files(&files(objs), path, None);
    }
    Ok(check_file(path, &crate::render::to_yaml(objs)))
}

/// Compare named files with a committed render. A directory is compared file by file,
/// stale files stackgen wrote included; a single file is compared with `want[single]`
/// (the file a render prints on stdout: `values.yaml` of helm-values).
pub fn check_files(
    want: &BTreeMap<String, String>,
    path: &Path,
    single: Option<&str>,
) -> std::io::Result<(bool, String)> {
    if !path.is_dir() {
        let new = single.and_then(|s| want.get(s)).map_or("", String::as_str);
        return Ok(check_file(path, new));
    }
    let mut diff = String::new();
    let mut names: Vec<String> = want.keys().cloned().collect();
    for e in fs::read_dir(path)?.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().to_string();
        let ours = fs::read_to_string(e.path()).is_ok_and(|t| t.starts_with(HEADER));
        if ours && !want.contains_key(&name) {
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        let have = fs::read_to_string(path.join(&name)).unwrap_or_default();
        let new = want.get(&name).map_or("", String::as_str);
        if have != new {
            diff.push_str(&unified(&format!("{}/{name}", path.display()), &have, new));
        }
    }
    Ok((diff.is_empty(), diff))
}

fn check_file(path: &Path, new: &str) -> (bool, String) {
    let have = fs::read_to_string(path).unwrap_or_default();
    if have == new {
        return (true, String::new());
    }
    (false, unified(&path.display().to_string(), &have, new))
}

/// A unified diff, committed → rendered.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{name} (committed)"), &format!("{name} (rendered)"))
        .to_string()
}
