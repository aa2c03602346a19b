//! Hardening: hostile input, partial output trees, secrets in diagnostics. One regression
//! test per guarantee, named after what it guards, each driving the real binary (so each
//! can run against another build with `STACKGEN_BIN`, and each failed on the build before
//! its fix). Credential shapes are `secrets`; the coverage-guided fuzz targets are fuzz/
//! (the `fuzz` module runs their properties briefly).

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::root;

/// The binary under test; `STACKGEN_BIN` runs these tests against another build (how
/// each was shown to fail on the build before its fix).
fn bin() -> std::path::PathBuf {
    std::env::var_os("STACKGEN_BIN").map_or_else(crate::common::bin, std::path::PathBuf::from)
}

/// Run stackgen with a deadline; a process still running then is killed and the test
/// fails (a hang is a failure, never a stuck CI job).
fn run_in(dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&input);
        });
    }
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stackgen {args:?} still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { status, stdout: out_t.join().unwrap(), stderr: err_t.join().unwrap() }
}

fn run(args: &[&str]) -> Output {
    run_in(Some(&root()), args, None, Duration::from_secs(60))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or_else(|| panic!("killed by a signal: {:?}\n{}", o.status, text(&o.stderr)))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

const SMALL: &str = "stacks/static-nfs.toml";

/// A stack with one scrape job; `extra` is appended.
fn stack_with(extra: &str) -> String {
    format!(
        "[stack]\nname = \"prod\"\n\n[storage]\nbackend = \"class\"\nsize = \"100Gi\"\n\n[storage.class]\nname = \"gp3\"\n{extra}"
    )
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// Every file under `dir` (relative path → bytes and mode), for "nothing changed".
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let mode = std::fs::symlink_metadata(e.path()).unwrap().permissions().mode();
            if ft.is_dir() {
                out.push((rel + "/", Vec::new(), mode));
                stack.push(e.path());
            } else if ft.is_file() {
                out.push((rel, std::fs::read(e.path()).unwrap(), mode));
            } else {
                out.push((rel, Vec::new(), mode));
            }
        }
    }
    out.sort();
    out
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".stackgen") || n.ends_with(".tmp"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// `init -o PATH --force` replaces only regular files.

#[test]
fn init_force_replaces_only_regular_files() {
    let d = tmp();
    let fifo = d.path().join("fifo");
    mkfifo(&fifo);
    let target = d.path().join("target.toml");
    write(&target, "keep me\n");
    let link = d.path().join("link.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let sub = d.path().join("dir");
    std::fs::create_dir(&sub).unwrap();
    for (p, kind) in [(&fifo, "a FIFO"), (&link, "a symbolic link"), (&sub, "a directory")] {
        let o = run(&["init", "-o", p.to_str().unwrap(), "--force"]);
        assert_eq!(code(&o), 2, "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(kind) && text(&o.stderr).contains(p.to_str().unwrap()), "{}", text(&o.stderr));
    }
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    assert!(std::fs::metadata(&sub).unwrap().is_dir());
    // A character device (/dev/null, which root could otherwise replace): never replaced.
    // (Not against another build: the code before the fix did replace /dev/null.)
    let other_build = std::env::var_os("STACKGEN_BIN").is_some();
    if !other_build && std::fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device()) {
        let o = run(&["init", "-o", "/dev/null", "--force"]);
        assert_eq!(code(&o), 2, "{}", text(&o.stderr));
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null was replaced");
    }
    // A regular file is replaced with --force and keeps its mode.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = run(&["init", "-o", target.to_str().unwrap(), "--force"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(std::fs::read_to_string(&target).unwrap().starts_with("#:schema"));
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640);
}

// ---------------------------------------------------------------------------------------
// A value that is or may be a credential is never printed by any diagnostic.

#[test]
fn no_diagnostic_prints_a_credential() {
    let key = "AKIAIOSFODNN7EXAMPLE";
    let cases = [
        // SG124 and the SG004 that comes with it.
        stack_with("").replace("[storage]", &format!("[prometheus]\nretention = \"{key}\"\n\n[storage]")),
        // An enum error on a credential.
        stack_with("").replace("backend = \"class\"", &format!("backend = \"{key}\"")),
        // A TOML syntax error on the credential's line.
        stack_with("").replace("[storage]", &format!("[prometheus]\nretention = {key}\n\n[storage]")),
        // A credential as a label key.
        stack_with("")
            .replace("[storage]", &format!("[prometheus]\nexternal_labels = {{ {key} = \"x\" }}\n\n[storage]")),
    ];
    let d = tmp();
    for (i, stack) in cases.iter().enumerate() {
        let f = d.path().join(format!("s{i}.toml"));
        write(&f, stack);
        for format in ["human", "json", "github", "sarif"] {
            let o = run(&["lint", "--format", format, f.to_str().unwrap()]);
            assert_eq!(code(&o), 1, "{format}: {}", text(&o.stderr));
            let all = text(&o.stdout) + &text(&o.stderr);
            assert!(!all.contains(key) && !all.contains("AKIA"), "case {i}, {format}:\n{all}");
        }
        let o = run(&["render", f.to_str().unwrap()]);
        let all = text(&o.stdout) + &text(&o.stderr);
        assert!(!all.contains(key), "case {i}, render:\n{all}");
    }
}

// ---------------------------------------------------------------------------------------
// Nothing read from `--against` sizes an allocation or a loop.

#[test]
fn diff_against_hostile_shard_numbers_is_bounded() {
    let d = tmp();
    let sts = |n: &str| {
        format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: wsg-prometheus-shard-{n}\n  namespace: monitoring\n")
    };
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wsg-prometheus-shard-0\n  namespace: monitoring\ndata:\n  prometheus.yml: |\n    scrape_configs:\n    - job_name: x\n      relabel_configs:\n      - action: hashmod\n        modulus: 10000000\n";
    for (i, yaml) in [sts("18446744073709551614"), sts("1000000000000"), sts("18446744073709551615"), cm.to_string()]
        .iter()
        .enumerate()
    {
        let f = d.path().join(format!("a{i}.yaml"));
        write(&f, yaml);
        for format in ["human", "json"] {
            let o = run_in(
                Some(&root()),
                &["diff", SMALL, "--against", f.to_str().unwrap(), "--format", format],
                None,
                Duration::from_secs(30),
            );
            assert!(matches!(code(&o), 0 | 1), "{}", text(&o.stderr));
            assert!(o.stdout.len() < 1_000_000, "{} bytes of output for a 6-line input", o.stdout.len());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writing to a closed stderr or stdout never panics, and the exit status is kept.

/// Spawn with the read ends of stdout/stderr closed before the child writes.
fn run_closed(args: &[&str], close_stdout: bool) -> i32 {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (so, se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let keep = if close_stdout {
        drop(so);
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let mut se = se;
            let _ = se.read_to_end(&mut b);
            b
        })
    } else {
        drop(se);
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let mut so = so;
            let _ = so.read_to_end(&mut b);
            b
        })
    };
    let status = child.wait().unwrap();
    let _ = keep.join();
    status.code().unwrap_or(-1)
}

#[test]
fn closed_stderr_or_stdout_keeps_the_exit_status() {
    // More diagnostics than a pipe buffer holds, on a closed stderr: exit 1, not 101.
    let bad = "tests/invalid/semantic/aws-key-value.toml";
    let mut args = vec!["lint"];
    args.extend(std::iter::repeat_n(bad, 400));
    assert_eq!(run_closed(&args, false), 1);
    // A stale --check whose diff (1.3 MB) goes to a closed stdout: exit 1, not 0.
    let d = tmp();
    let stale = d.path().join("stale.yaml");
    write(&stale, "# old\n");
    assert_eq!(run_closed(&["render", "stacks/sharded-64.toml", "--check", stale.to_str().unwrap()], true), 1);
    // A render to a closed stdout: the command's own status (0), as ripgrep.
    assert_eq!(run_closed(&["render", "stacks/sharded-64.toml"], true), 0);
}

// ---------------------------------------------------------------------------------------
// `-o DIR` switches the whole tree at once, keeps what it did not write, keeps modes.

fn render_o(stack: &str, dir: &Path) -> Output {
    run(&["render", stack, "-o", dir.to_str().unwrap()])
}

#[test]
fn output_dir_is_atomic_and_keeps_foreign_files() {
    let d = tmp();
    let out = d.path().join("out");
    assert_eq!(code(&render_o(SMALL, &out)), 0);
    // A hand-written kustomization.yaml is never replaced: exit 2, nothing changed.
    write(&out.join("kustomization.yaml"), "resources: [mine.yaml]\n");
    let before = snapshot(&out);
    let o = render_o(SMALL, &out);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("kustomization.yaml"), "{}", text(&o.stderr));
    assert_eq!(snapshot(&out), before, "a failed render changed the directory");
    assert!(leftovers(d.path()).is_empty() && leftovers(&out).is_empty());
    std::fs::remove_file(out.join("kustomization.yaml")).unwrap();
    // A stale path that is now a directory: refused, nothing changed.
    let name = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("configmap-"))
        .unwrap();
    std::fs::remove_file(out.join(&name)).unwrap();
    std::fs::create_dir(out.join(&name)).unwrap();
    let before = snapshot(&out);
    assert_eq!(code(&render_o(SMALL, &out)), 2);
    assert_eq!(snapshot(&out), before);
    std::fs::remove_dir(out.join(&name)).unwrap();
    // Foreign files and directories are kept; modes of replaced files are kept.
    write(&out.join("README.md"), "mine\n");
    std::fs::create_dir(out.join("overlays")).unwrap();
    write(&out.join("overlays/patch.yaml"), "x: 1\n");
    let ours = out.join("namespace-monitoring.yaml");
    let ours = if ours.exists() { ours } else { out.join(&name) };
    if ours.exists() {
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let o = render_o(SMALL, &out);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), "mine\n");
    assert_eq!(std::fs::read_to_string(out.join("overlays/patch.yaml")).unwrap(), "x: 1\n");
    if ours.exists() {
        assert_eq!(std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777, 0o644);
    }
    // Every file the kustomization lists exists, and nothing temporary is left.
    let k = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    for line in k.lines().filter_map(|l| l.strip_prefix("- ")) {
        assert!(out.join(line).is_file(), "kustomization lists {line}, which does not exist");
    }
    assert!(leftovers(d.path()).is_empty() && leftovers(&out).is_empty(), "{:?}", leftovers(d.path()));
}

#[test]
fn new_files_respect_the_umask() {
    let d = tmp();
    let out = d.path().join("out");
    let cmd = format!("umask 022; exec '{}' render {SMALL} -o '{}'", bin().display(), out.display());
    let st = Command::new("sh").arg("-c").arg(&cmd).current_dir(root()).status().unwrap();
    assert!(st.success());
    // Re-render: still 644 (a re-render once turned 644 files into 600).
    let st = Command::new("sh").arg("-c").arg(&cmd).current_dir(root()).status().unwrap();
    assert!(st.success());
    for e in std::fs::read_dir(&out).unwrap() {
        let m = e.unwrap().metadata().unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o644);
    }
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o755);
}

/// A write that fails midway (here RLIMIT_FSIZE, as a full disk) leaves the old tree as
/// it was and no temporary behind.
#[test]
fn failed_write_leaves_the_old_tree() {
    let d = tmp();
    let out = d.path().join("out");
    assert_eq!(code(&render_o(SMALL, &out)), 0);
    let before = snapshot(&out);
    // 4 KiB per file at most: the 64-shard render has larger files.
    let cmd = format!(
        "trap '' XFSZ; ulimit -f 4; exec '{}' render stacks/sharded-64.toml -o '{}'",
        bin().display(),
        out.display()
    );
    let o = Command::new("sh").arg("-c").arg(&cmd).current_dir(root()).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert_eq!(snapshot(&out), before, "a failed write changed the tree");
    assert!(leftovers(d.path()).is_empty() && leftovers(&out).is_empty(), "{:?}", leftovers(d.path()));
}

/// Two renders of different stacks at once: each run switches a whole tree, so the
/// kustomization always lists files that exist and every file is whole.
#[test]
fn concurrent_renders_never_mix() {
    let d = tmp();
    let out = d.path().join("out");
    for _ in 0..3 {
        let spawn = |s: &str| {
            Command::new(bin())
                .args(["render", s, "-o", out.to_str().unwrap(), "--prune"])
                .current_dir(root())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn("stacks/static-nfs.toml"), spawn("stacks/ceph-thanos.toml"));
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let k = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
        let listed: Vec<&str> = k.lines().filter_map(|l| l.strip_prefix("- ")).collect();
        for l in &listed {
            assert!(out.join(l).is_file(), "kustomization lists {l}, which does not exist");
        }
        // With --prune, the tree is exactly one render: every file is listed.
        for e in std::fs::read_dir(&out).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(n == "kustomization.yaml" || listed.contains(&n.as_str()), "{n} is from the other render");
        }
    }
    assert!(leftovers(d.path()).is_empty());
}

/// A temporary tree a killed render left behind is removed by the next run.
#[test]
fn killed_render_leftovers_are_removed() {
    let d = tmp();
    let out = d.path().join("out");
    let stale = d.path().join(".stackgen-out.AbC123");
    std::fs::create_dir(&stale).unwrap();
    write(&stale.join("x.yaml"), "half");
    assert_eq!(code(&render_o(SMALL, &out)), 0);
    assert!(!stale.exists());
}

// ---------------------------------------------------------------------------------------
// `init -o FILE` never leaves a truncated file.

#[test]
fn init_failed_write_leaves_no_truncated_file() {
    let d = tmp();
    let f = d.path().join("stack.toml");
    let cmd = format!("trap '' XFSZ; ulimit -f 1; exec '{}' init --thanos -o '{}'", bin().display(), f.display());
    let o = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(!f.exists(), "a truncated {} was left", f.display());
    assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
    // With --force over an existing file: the old file stays whole.
    write(&f, "old = 1\n");
    let cmd =
        format!("trap '' XFSZ; ulimit -f 1; exec '{}' init --thanos -o '{}' --force", bin().display(), f.display());
    let o = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "old = 1\n");
}

// ---------------------------------------------------------------------------------------
// `--check`: any read error is exit 2; regular files only; bounded reads.

#[test]
fn check_read_errors_exit_2() {
    let d = tmp();
    let check = |p: &Path| {
        run_in(Some(&root()), &["render", SMALL, "--check", p.to_str().unwrap()], None, Duration::from_secs(30))
    };
    // Missing file.
    let o = check(&d.path().join("missing.yaml"));
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("missing.yaml"));
    // Invalid UTF-8.
    let bad = d.path().join("bad.yaml");
    std::fs::write(&bad, b"# x\n\xff\xfe\n").unwrap();
    assert_eq!(code(&check(&bad)), 2);
    // A FIFO: no hang.
    let fifo = d.path().join("fifo.yaml");
    mkfifo(&fifo);
    assert_eq!(code(&check(&fifo)), 2);
    // A FIFO inside a rendered directory, with a name the render has: no hang, exit 2.
    let out = d.path().join("out");
    assert_eq!(code(&render_o(SMALL, &out)), 0);
    let k = out.join("kustomization.yaml");
    std::fs::remove_file(&k).unwrap();
    mkfifo(&k);
    assert_eq!(code(&check(&out)), 2);
    // An unreadable file inside the directory (a directory where a file should be).
    std::fs::remove_file(&k).unwrap();
    std::fs::create_dir(&k).unwrap();
    assert_eq!(code(&check(&out)), 2);
    // /dev/zero: refused at once, not read until memory runs out.
    assert_eq!(code(&check(Path::new("/dev/zero"))), 2);
}

// ---------------------------------------------------------------------------------------
// Diagnostics are linear and capped.

#[test]
fn twenty_thousand_diagnostics_are_linear_and_capped() {
    let d = tmp();
    let targets: Vec<String> = (0..20_000).map(|i| format!("\"bad target {i}\"")).collect();
    let f = d.path().join("many.toml");
    write(&f, &stack_with(&format!("\n[[scrape]]\njob = \"x\"\nstatic_targets = [{}]\n", targets.join(", "))));
    let start = Instant::now();
    let o = run_in(Some(&root()), &["lint", f.to_str().unwrap()], None, Duration::from_secs(60));
    let human = start.elapsed();
    assert_eq!(code(&o), 1);
    let err = text(&o.stderr);
    assert!(err.contains("and 19900 more"), "{}", &err[err.len().saturating_sub(500)..]);
    assert!(err.contains("20000 error(s)"));
    assert!(human < Duration::from_secs(10), "human format took {human:?}");
    let o = run_in(Some(&root()), &["lint", "--format", "json", f.to_str().unwrap()], None, Duration::from_secs(60));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 20_000, "json lists every diagnostic");
    let o = run_in(Some(&root()), &["lint", "--format", "github", f.to_str().unwrap()], None, Duration::from_secs(60));
    assert_eq!(text(&o.stdout).lines().count(), 101);
}

// ---------------------------------------------------------------------------------------
// Documented limits with clear errors.

#[test]
fn input_and_output_limits() {
    let o = run_in(Some(&root()), &["diff", SMALL, "--against", "/dev/zero"], None, Duration::from_secs(30));
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("64 MiB"), "{}", text(&o.stderr));
    let o =
        run_in(Some(&root()), &["diff", SMALL, "--against", "-"], Some(&vec![b'#'; 65 << 20]), Duration::from_secs(60));
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("64 MiB"), "{}", text(&o.stderr));
    let d = tmp();
    let big = d.path().join("big.toml");
    write(&big, &format!("{}\n# {}\n", stack_with(""), "x".repeat(1 << 20)));
    let o = run(&["lint", big.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("1 MiB"), "{}", text(&o.stderr));
    // 1024 shards x 300 jobs: refused before anything is written.
    let o = run(&["render", "tests/lint/SG202-output-too-large.toml"]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty() && text(&o.stderr).contains("SG202"), "{}", text(&o.stderr));
}

// ---------------------------------------------------------------------------------------
// Every problem of a file in one run.

/// The codes `lint --format json` reports for a file.
fn lint_codes(f: &std::path::Path) -> Vec<String> {
    let o = run(&["lint", "--format", "json", f.to_str().unwrap()]);
    serde_json::from_slice::<serde_json::Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn schema_and_secret_errors_do_not_hide_model_errors() {
    let d = tmp();
    let jobs = "\n[[scrape]]\njob = \"a\"\nstatic_targets = [\"h:1\"]\n\n[[scrape]]\njob = \"a\"\nstatic_targets = [\"not a target\"]\n";
    // A schema error (unknown key) beside SG115 and SG118.
    let f = d.path().join("schema.toml");
    write(&f, &stack_with(jobs).replace("[storage]\n", "[storage]\nretension = \"1d\"\n"));
    let codes = lint_codes(&f);
    for c in ["SG002", "SG115", "SG118"] {
        assert!(codes.iter().any(|x| x == c), "{c} missing from {codes:?}");
    }
    // SG124 beside SG115 and SG118.
    let f = d.path().join("secret.toml");
    write(
        &f,
        &stack_with(jobs).replace(
            "[storage]\n",
            "[prometheus]\nexternal_labels = { k = \"ghp_0123456789abcdefghijklmnopqrstuvwxyz\" }\n\n[storage]\n",
        ),
    );
    let codes = lint_codes(&f);
    for c in ["SG124", "SG115", "SG118"] {
        assert!(codes.iter().any(|x| x == c), "{c} missing from {codes:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Terminal escapes, encodings, I/O errors and stdin: one test each.

#[test]
fn terminal_escapes_never_reach_the_terminal() {
    let d = tmp();
    let f = d.path().join("esc.toml");
    write(&f, &stack_with("").replace("[storage]\n", "[storage]\n\"\\u001b]0;pwned\\u0007\\u001b[31mx\\u009b\" = 1\n"));
    for format in ["human", "github"] {
        let o = run(&["lint", "--format", format, f.to_str().unwrap()]);
        let all = o.stdout.iter().chain(&o.stderr).copied().collect::<Vec<u8>>();
        assert!(!all.contains(&0x1b) && !all.contains(&0x07), "{format}: {:?}", text(&all));
        assert!(!text(&all).contains('\u{9b}'));
    }
    // Object names in --against.
    let a = d.path().join("a.yaml");
    write(&a, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\\e[2J\\a\"\n  namespace: monitoring\n  labels: {app.kubernetes.io/managed-by: stackgen, app.kubernetes.io/instance: wsg}\n");
    for format in ["human", "json"] {
        let o = run(&["diff", SMALL, "--against", a.to_str().unwrap(), "--format", format]);
        assert_eq!(code(&o), 1, "{}", text(&o.stderr));
        let all = o.stdout.iter().chain(&o.stderr).copied().collect::<Vec<u8>>();
        assert!(!all.contains(&0x1b) && !all.contains(&0x07), "{format}: {}", text(&all));
    }
}

#[test]
fn diff_never_prints_live_credentials() {
    let d = tmp();
    let a = d.path().join("live.yaml");
    // The static-nfs render has the ConfigMap wsg-prometheus-shard-0; a live copy with a
    // credential in it.
    let golden = std::fs::read_to_string(root().join("golden/static-nfs.yaml")).unwrap();
    let doctored = golden.replacen(
        "scrape_configs:",
        "# password=hunter2hunter2 https://u:s3cr3tpw@minio:9000\n    scrape_configs:",
        1,
    );
    assert_ne!(doctored, golden);
    write(&a, &doctored);
    for format in ["human", "json"] {
        let o = run(&["diff", SMALL, "--against", a.to_str().unwrap(), "--format", format]);
        assert_eq!(code(&o), 1, "{}", text(&o.stderr));
        let all = text(&o.stdout) + &text(&o.stderr);
        assert!(!all.contains("hunter2") && !all.contains("s3cr3tpw"), "{format}:\n{all}");
        assert!(all.contains("<redacted>"), "{format}: the change is still shown");
    }
}

#[test]
fn bom_does_not_shift_columns() {
    let d = tmp();
    let plain = d.path().join("plain.toml");
    let bom = d.path().join("bom.toml");
    let body = "nme = 1\n".to_string() + &stack_with("");
    write(&plain, &body);
    write(&bom, &format!("\u{feff}{body}"));
    let col = |p: &Path| {
        let o = run(&["lint", "--format", "json", p.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v[0]["line"].clone(), v[0]["column"].clone())
    };
    assert_eq!(col(&bom), col(&plain));
    assert_eq!(col(&plain), (serde_json::json!(1), serde_json::json!(1)));
}

#[test]
fn invalid_utf8_has_a_location() {
    let d = tmp();
    let f = d.path().join("latin1.toml");
    std::fs::write(&f, b"[stack]\nname = \"caf\xe9\"\n").unwrap();
    let o = run(&["lint", f.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains(&format!("{}:2:12", f.display())), "{}", text(&o.stderr));
}

#[test]
fn float_shards_has_a_path_and_a_message() {
    let d = tmp();
    let f = d.path().join("float.toml");
    write(&f, &stack_with("\n[sharding]\nshards = 1e3\n"));
    let o = run(&["lint", "--format", "json", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d0 = &v[0];
    assert_eq!(d0["path"], "/sharding/shards", "{v}");
    assert!(d0["message"].as_str().unwrap().contains("sharding.shards"), "{v}");
}

#[test]
fn io_errors_name_the_path() {
    let d = tmp();
    let file = d.path().join("a-file");
    write(&file, "x");
    let o = run(&["render", SMALL, "-o", file.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains(file.to_str().unwrap()), "{}", text(&o.stderr));
    // A rendered name that is a directory in DIR: the error names that path (it was a
    // bare "Is a directory (os error 21)").
    let out = d.path().join("out");
    assert_eq!(code(&render_o(SMALL, &out)), 0);
    let k = out.join("kustomization.yaml");
    std::fs::remove_file(&k).unwrap();
    std::fs::create_dir(&k).unwrap();
    let o = render_o(SMALL, &out);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains(k.to_str().unwrap()), "{}", text(&o.stderr));
    let nowhere = d.path().join("no/such/dir/stack.toml");
    let o = run(&["init", "-o", nowhere.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains(d.path().join("no/such/dir").to_str().unwrap()), "{}", text(&o.stderr));
}

#[test]
fn targets_must_be_host_port() {
    for t in ["h:+80", "x@y:1", "h?x=1:1", "h#f:1", "h:80a", "-h:1", "[zz]:1", "h%2f:1"] {
        let d = tmp();
        let f = d.path().join("t.toml");
        write(&f, &stack_with(&format!("\n[[scrape]]\njob = \"j\"\nstatic_targets = [\"{t}\"]\n")));
        let o = run(&["lint", "--format", "json", f.to_str().unwrap()]);
        assert!(text(&o.stdout).contains("SG118"), "{t} passed: {}", text(&o.stdout));
    }
    for t in ["h:80", "10.0.0.1:9100", "[::1]:9090", "node-1.example.com:9100", "my_host:1"] {
        let d = tmp();
        let f = d.path().join("t.toml");
        write(&f, &stack_with(&format!("\n[[scrape]]\njob = \"j\"\nstatic_targets = [\"{t}\"]\n")));
        let o = run(&["lint", "--format", "json", f.to_str().unwrap()]);
        assert!(!text(&o.stdout).contains("SG118"), "{t} refused: {}", text(&o.stdout));
    }
}

#[test]
fn nel_is_never_emitted_raw() {
    let d = tmp();
    let f = d.path().join("nel.toml");
    write(
        &f,
        &stack_with("")
            .replace("[storage]\n", "[prometheus]\nexternal_labels = { team = \"a\\u0085b\\u2028c\" }\n\n[storage]\n"),
    );
    let o = run(&["render", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(!out.contains('\u{85}') && !out.contains('\u{2028}'));
    assert!(out.contains("\\u0085"), "the value is kept, escaped");
}

#[test]
fn lint_reads_stdin_once() {
    let o = run_in(Some(&root()), &["lint", "-", "-"], Some(b"[stack]\nname = \"x\"\n"), Duration::from_secs(30));
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("standard input"), "{}", text(&o.stderr));
}
