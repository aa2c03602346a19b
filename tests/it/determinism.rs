//! Same input, same bytes: two runs of the binary with a different environment (LANG,
//! TZ, HOME, current directory) print identical output, and -o writes identical trees.

use std::process::Command;

use crate::common::*;

fn render_in(stack: &std::path::Path, cwd: &std::path::Path, lang: &str, tz: &str, home: &str) -> Vec<u8> {
    let out = Command::new(bin())
        .arg("render")
        .arg(stack)
        .current_dir(cwd)
        .env_clear()
        .env("LANG", lang)
        .env("LC_ALL", lang)
        .env("TZ", tz)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn output_is_identical_across_environments() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for stack in stacks() {
        let first = render_in(&stack, a.path(), "C", "UTC", "/nonexistent");
        let second = render_in(&stack, b.path(), "de_DE.UTF-8", "Asia/Kathmandu", b.path().to_str().unwrap());
        assert!(first == second, "{} differs between environments", stack.display());
        assert!(first.ends_with(b"\n") && !first.contains(&b'\r'), "LF and a final newline");
    }
}

#[test]
fn directory_output_is_identical() {
    let stack = root().join("stacks/ceph-thanos.toml");
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        let (code, _, err) = run(Command::new(bin()).arg("render").arg(&stack).arg("-o").arg(d.join("out")));
        assert_eq!(code, 0, "{err}");
    }
    let list = |d: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.join("out"))
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(a.path()), list(b.path()));
}
