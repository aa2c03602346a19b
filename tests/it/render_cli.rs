//! The render command line: `-o DIR` (one file per object, kustomization.yaml, header,
//! atomic, stale files stackgen wrote are removed unless `--keep-stale`, never another file), `--check FILE|DIR` (0 when
//! identical, 1 and a unified diff when stale), and `-` for standard input.

use std::process::{Command, Stdio};

use crate::common::*;

fn stack() -> std::path::PathBuf {
    root().join("stacks/ceph-thanos.toml")
}

#[test]
fn output_dir_has_one_file_per_object_and_a_kustomization() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("manifests");
    let (code, stdout, err) = run(Command::new(bin()).arg("render").arg(stack()).arg("-o").arg(&out));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.is_empty(), "nothing on stdout with -o");
    let golden = std::fs::read_to_string(golden_path(&stack())).unwrap();
    let objects = docs(&golden);
    let k: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(out.join("kustomization.yaml")).unwrap()).unwrap();
    let resources: Vec<&str> = k["resources"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(resources.len(), objects.len());
    for (r, o) in resources.iter().zip(&objects) {
        let want =
            format!("{}-{}.yaml", o["kind"].as_str().unwrap().to_lowercase(), o["metadata"]["name"].as_str().unwrap());
        assert_eq!(*r, want);
        let text = std::fs::read_to_string(out.join(r)).unwrap();
        assert!(text.starts_with(stackgen::render::HEADER));
        let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(&back, o, "{r} holds its object");
    }
    // --check against the directory.
    let (code, _, err) = run(Command::new(bin()).arg("render").arg(stack()).arg("--check").arg(&out));
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        out.join("service-ha-grafana.yaml"),
        "# Rendered by stackgen from stack.toml; edit the stack, not this file.\nkind: Service\n",
    )
    .unwrap();
    let (code, diff, _) = run(Command::new(bin()).arg("render").arg(stack()).arg("--check").arg(&out));
    assert_eq!(code, 1);
    assert!(diff.contains("service-ha-grafana.yaml (committed)") && diff.contains("+apiVersion: v1"), "{diff}");
}

#[test]
fn check_against_a_file() {
    let (code, out, err) =
        run(Command::new(bin()).arg("render").arg(stack()).arg("--check").arg(golden_path(&stack())));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let stale =
        std::fs::read_to_string(golden_path(&stack())).unwrap().replace("retention.time=2d", "retention.time=1d");
    std::fs::write(tmp.path(), stale).unwrap();
    let (code, out, err) = run(Command::new(bin()).arg("render").arg(stack()).arg("--check").arg(tmp.path()));
    assert_eq!(code, 1);
    assert!(
        out.contains("-        - --storage.tsdb.retention.time=1d")
            && out.contains("+        - --storage.tsdb.retention.time=2d"),
        "{out}"
    );
    assert!(err.contains("is stale"));
    // A missing committed render is a read error (exit 2, naming the path), not "stale".
    let (code, _, err) =
        run(Command::new(bin()).arg("render").arg(stack()).arg("--check").arg("/nonexistent/manifests.yaml"));
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/manifests.yaml"), "{err}");
}

/// `-o DIR` makes DIR exactly the render: 4 → 2 shards removes the 2 retired shards'
/// files stackgen wrote (so `kubectl apply -f DIR` cannot bring them back), never a file
/// without stackgen's header; `--keep-stale` keeps them; `--prune` is an accepted no-op.
#[test]
fn output_dir_removes_exactly_stackgens_stale_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let text = std::fs::read_to_string(stack()).unwrap();
    assert!(text.contains("shards = 4"), "ceph-thanos has 4 shards");
    let two = tmp.path().join("two.toml");
    std::fs::write(&two, text.replace("shards = 4", "shards = 2")).unwrap();
    let render = |stack: &std::path::Path, extra: &[&str]| {
        run(Command::new(bin()).arg("render").arg(stack).arg("-o").arg(&out).args(extra))
    };
    let (code, _, err) = render(&stack(), &[]);
    assert_eq!(code, 0, "{err}");
    let theirs = out.join("my-notes.yaml");
    std::fs::write(&theirs, "kind: ConfigMap\n").unwrap();
    let listing = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    let four = listing();
    let (code, _, err) = render(&two, &["--keep-stale"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listing(), four, "--keep-stale keeps every file");
    let (code, _, err) = render(&two, &[]);
    assert_eq!(code, 0, "{err}");
    let after = listing();
    let removed: Vec<&String> = four.difference(&after).collect();
    assert!(
        !removed.is_empty() && removed.iter().all(|f| f.contains("shard-2") || f.contains("shard-3")),
        "{removed:?}"
    );
    for f in &removed {
        assert!(err.contains(&format!("removed {}/{f}", out.display())), "{err}");
    }
    assert!(theirs.exists(), "a user's file is never removed");
    // Exactly the render now: what `--check DIR` accepts.
    let (code, _, err) = run(Command::new(bin()).arg("render").arg(&two).arg("--check").arg(&out));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = render(&two, &["--prune"]);
    assert_eq!(code, 0, "--prune is still accepted: {err}");
}

/// `-o DIR` rewrites nothing for nothing: a directory that already is the render is
/// left alone (no file's inode or mtime moves); after a change, only the changed files
/// are new, the others keep their inode (carried into the new tree as hard links).
#[test]
fn output_dir_rewrites_only_what_changed() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let render = |stack: &std::path::Path| run(Command::new(bin()).arg("render").arg(stack).arg("-o").arg(&out));
    let (code, _, err) = render(&stack());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote "), "{err}");
    let inodes = || -> std::collections::BTreeMap<String, (u64, i64, i64)> {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (e.file_name().to_string_lossy().into_owned(), (m.ino(), m.mtime(), m.mtime_nsec()))
            })
            .collect()
    };
    let first = inodes();
    let dir_inode = std::fs::metadata(&out).unwrap().ino();
    let (code, _, err) = render(&stack());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is current") && err.contains("nothing written"), "{err}");
    assert_eq!(inodes(), first, "a current directory is not touched");
    assert_eq!(std::fs::metadata(&out).unwrap().ino(), dir_inode, "not even switched");
    // One key changes every shard's config: those files are new, the rest keep their inode.
    let text = std::fs::read_to_string(stack()).unwrap();
    let changed = tmp.path().join("changed.toml");
    let edited = text.replacen("retention_raw = \"", "retention_raw = \"1", 1);
    assert_ne!(edited, text, "ceph-thanos sets retention_raw");
    std::fs::write(&changed, edited).unwrap();
    let (code, _, err) = run(Command::new(bin()).arg("render").arg(&changed).arg("-o").arg(&out));
    assert_eq!(code, 0, "{err}");
    let after = inodes();
    let moved: Vec<&String> = after.keys().filter(|n| first.get(*n).map(|f| f.0) != Some(after[*n].0)).collect();
    let kept = after.len() - moved.len();
    assert!(!moved.is_empty() && kept > moved.len(), "moved {moved:?}");
    for n in after.keys().filter(|n| !moved.contains(n)) {
        assert_eq!(after[n], first[n], "{n}: an unchanged file keeps inode and mtime");
    }
    let (code, _, err) = run(Command::new(bin()).arg("render").arg(&changed).arg("--check").arg(&out));
    assert_eq!(code, 0, "the directory is exactly the new render: {err}");
}

#[test]
fn failed_render_leaves_an_existing_directory_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let (code, _, _) = run(Command::new(bin()).arg("render").arg(stack()).arg("-o").arg(&out));
    assert_eq!(code, 0);
    let before: Vec<(String, Vec<u8>)> = snapshot(&out);
    let bad = root().join("tests/invalid/semantic/too-few-nodes.toml");
    let (code, _, _) = run(Command::new(bin()).arg("render").arg(&bad).arg("-o").arg(&out));
    assert_eq!(code, 1);
    assert_eq!(before, snapshot(&out));
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn stdin_is_a_stack() {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(["render", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(stack()).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), std::fs::read_to_string(golden_path(&stack())).unwrap());
}

#[test]
fn explain_and_schema() {
    let (code, out, _) = run(Command::new(bin()).args(["explain", "SG103"]));
    assert_eq!(code, 0);
    assert!(out.contains("static-volume-count") && out.contains("helm-charts#798"));
    let (code, out, _) = run(Command::new(bin()).args(["explain", "no-persistent-storage"]));
    assert_eq!(code, 0);
    assert!(out.contains("SG101"));
    let (code, _, _) = run(Command::new(bin()).args(["explain", "SG999"]));
    assert_eq!(code, 2);
    let (code, out, _) = run(Command::new(bin()).arg("schema"));
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(schema["title"], "stackgen stack.toml");
}

#[test]
fn lint_target_helm_values_reports_what_the_chart_cannot_express() {
    let stack = root().join("stacks/sharded-64.toml");
    let (code, out, _) =
        run(Command::new(bin()).args(["lint", "--format", "json", "--target", "helm-values"]).arg(&stack));
    assert_eq!(code, 0, "warnings only");
    assert!(out.contains("\"SG125\""), "{out}");
    let (_, out, _) = run(Command::new(bin()).args(["lint", "--format", "json"]).arg(&stack));
    assert!(!out.contains("SG125"), "plain lint targets manifests");
}
