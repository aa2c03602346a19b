//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod apiserver;
pub mod loopback;
pub mod metrics;
pub mod snapshot;

pub use snapshot::Snapshots;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackgen"))
}

/// Every example stack, sorted.
pub fn stacks() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("stacks"))
        .expect("stacks/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

pub fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().to_string()
}

pub fn golden_path(stack: &Path) -> PathBuf {
    root().join("golden").join(format!("{}.yaml", stem(stack)))
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Find an external tool. Missing: the test fails under CI=true and is skipped (with a
/// loud message) elsewhere.
pub fn tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var("STACKGEN_VENV").unwrap_or_else(|_| "/tmp/stackgen-validators".into());
    let mut candidates = vec![PathBuf::from(&venv).join("bin").join(name)];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    if in_ci() {
        panic!("{name} is required under CI=true but was not found (run scripts/install-test-deps.sh)");
    }
    skipped(&format!("{name} not found; run scripts/install-test-deps.sh (this would fail under CI=true)"));
    None
}

/// A free TCP port on 127.0.0.1 for a real component to listen on, never handed out
/// twice in this process. Taken below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), which the kernel draws from for `bind(:0)` and for
/// the source port of every outgoing connection: a port picked there could be taken by
/// any connection on the machine between the pick and the component's bind ("address
/// already in use"). Below it, only an explicit bind can take it.
pub fn free_port() -> u16 {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
        .unwrap_or(32768);
    let (low, high) = if ephemeral_low > 12000 { (10000, ephemeral_low) } else { (ephemeral_low / 2, ephemeral_low) };
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // A start that differs between processes (two test runs on one machine), then a walk.
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    let span = u64::from(high - low);
    for i in 0..span {
        let port = low + ((seed.wrapping_mul(2654435761) + i * 7919) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 between {low} and {high}");
}

/// Say loudly that (part of) a test is skipped: `SKIPPED: <why>` straight to the
/// process's stderr, past the test harness's output capture, so a plain `cargo test`
/// shows it (`scripts/test.sh` counts these lines).
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// The bin directory `scripts/real-components.sh` fills (Go-built components and helm).
pub fn testbin_dir() -> PathBuf {
    let base = std::env::var_os("STACKGEN_TESTBIN").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/stackgen/testbin")
    });
    base.join("bin")
}

/// A real component built by `scripts/real-components.sh` (kube-apiserver, prometheus,
/// promtool, thanos, alertmanager, amtool, operator, etcd, kubectl) or helm. Missing: the
/// test fails under CI=true and is skipped (with a loud message) elsewhere.
pub fn real(name: &str) -> Option<PathBuf> {
    let p = testbin_dir().join(name);
    if p.is_file() {
        return Some(p);
    }
    if in_ci() {
        panic!("{name} is required under CI=true but {} is missing (run scripts/real-components.sh)", p.display());
    }
    skipped(&format!(
        "{name} not found in {}; run scripts/real-components.sh (this would fail under CI=true)",
        p.parent().unwrap().display()
    ));
    None
}

/// The lock every test that starts real components (a control plane, Prometheus, Thanos,
/// Alertmanager, the operator, an API server) holds for its whole run: the integration
/// tests are one binary whose tests run on parallel threads, and two such tests at once
/// would race for the free ports they pick, and starve each other of CPU on a small
/// machine until their deadlines pass. The other test thread keeps running light tests
/// meanwhile (until it reaches another real-component test, which waits here). A test
/// that panicked while holding it poisons nothing: the lock is only an order.
#[must_use = "hold the guard for the whole test"]
pub fn real_components_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn render_stack(stack: &Path) -> String {
    let src = stackgen::load(stack.to_str().unwrap()).unwrap();
    let checked = stackgen::check(&src).unwrap_or_else(|d| panic!("{} does not check: {d:?}", stack.display()));
    stackgen::render_manifests(&checked.stack)
}

/// A stack file checked as the CLI does: by its path, so `[rules] files` are found next to it.
pub fn check_file(path: &Path) -> stackgen::model::Stack {
    let src = stackgen::load(path.to_str().unwrap()).unwrap();
    stackgen::check(&src).unwrap_or_else(|d| panic!("{} does not check: {d:#?}", path.display())).stack
}

pub fn check_text(name: &str, text: &str) -> stackgen::model::Stack {
    let src = stackgen::source::Source::new(name, text);
    stackgen::check(&src).unwrap_or_else(|d| panic!("{name} does not check: {d:#?}")).stack
}

pub fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(yaml).expect("rendered YAML parses")
}

pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("command runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The Prometheus configs of a render: (ConfigMap name, parsed config).
pub fn prometheus_configs(docs: &[Value]) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    for d in docs {
        if d["kind"] == "ConfigMap" {
            if let Some(text) = d["data"]["prometheus.yml"].as_str() {
                let cfg: Value = serde_saphyr::from_str(text).expect("prometheus.yml parses");
                v.push((d["metadata"]["name"].as_str().unwrap().to_string(), cfg));
            }
        }
    }
    v
}

/// `kubernetes-validate --strict -k <version>` on each (file, version); fails the test on
/// any error, skips (outside CI) when the tool is missing.
pub fn kubernetes_validate_all(files: impl IntoIterator<Item = (PathBuf, String)>) {
    let Some(kv) = tool("kubernetes-validate") else { return };
    let mut failures = Vec::new();
    for (file, version) in files {
        let (code, out, err) = run(Command::new(&kv).args(["--strict", "--quiet", "-k", &version]).arg(&file));
        if code != 0 {
            failures.push(format!("{}: {out}{err}", file.display()));
        }
    }
    assert!(failures.is_empty(), "kubernetes-validate failed:\n{}", failures.join("\n"));
}

/// `stackgen diff ARGS` from the repository root, without colour.
pub fn diff(args: &[&str]) -> (i32, String, String) {
    run(Command::new(bin()).arg("diff").args(args).current_dir(root()).env("NO_COLOR", "1"))
}

/// `stackgen diff ARGS` with `input` on standard input.
pub fn diff_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(bin())
        .arg("diff")
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stackgen runs");
    // stackgen may refuse before reading (exit 2): a broken pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A copy of a stack (a path under the repository) with text replacements, in `dir`.
pub fn variant(dir: &Path, stack: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join(stack)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{stack} has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(Path::new(stack).file_name().unwrap());
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Diagnostics as the lint fixtures' snapshots spell them: `CODE line:col severity:
/// message`, then `    help: …`.
pub fn describe_diagnostics(src: &stackgen::source::Source, diags: &[stackgen::diagnostic::Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        // A diagnostic in another file (a rule file) names it before its line:column.
        let (file, at) = match &d.file {
            Some(f) => (format!(" {}", f.name), f.line_col(d.span.start)),
            None => (String::new(), src.line_col(d.span.start)),
        };
        let (l, c) = at;
        let sev = if d.is_error() { "error" } else { "warning" };
        out.push_str(&format!("{}{file} {l}:{c} {sev}: {}\n", d.code.id(), d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
    }
    out
}

/// `s` percent-encoded for a URL query or a file name (RFC 3986 unreserved kept).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A local HTTP server answering 200 to everything (a thread; it lives as long as the
/// test process, bound to 127.0.0.1 on a free port).
pub fn healthy_http_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    port
}
