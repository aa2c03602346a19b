//! Lint configuration (`[lint]`, inline `# stackgen: allow(...)` comments, `--allow` /
//! `--deny`; docs/lint.md) and the diagnostics a new user met in CI: what may be allowed,
//! where, and what each format shows of it.

use std::process::Command;

use crate::common::*;
use serde_json::Value;

const NFS: &str = r#"[stack]
name = "nas"

[storage]
backend = "nfs"
size = "200Gi"

[storage.nfs]
server = "nas.example.internal"
path = "/export/prometheus"
"#;

fn lint_text(text: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.toml");
    std::fs::write(&path, text).unwrap();
    run(Command::new(bin()).arg("lint").args(args).arg(&path).env("NO_COLOR", "1"))
}

fn json(text: &str, args: &[&str]) -> (i32, Vec<Value>) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = lint_text(text, &all);
    (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")))
}

fn codes(diags: &[Value], suppressed: bool) -> Vec<String> {
    diags.iter().filter(|d| d["suppressed"] == suppressed).map(|d| d["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_deliberate_nfs_stack_passes_deny_warnings_once_sg102_is_allowed() {
    let (code, _, err) = lint_text(NFS, &["--deny-warnings"]);
    assert_eq!(code, 1, "without an allow, SG102 fails --deny-warnings: {err}");
    for text in [
        NFS.replace("backend = \"nfs\"", "backend = \"nfs\"  # stackgen: allow SG102"),
        NFS.replace("[storage]\n", "[storage]  # stackgen: allow nfs-tsdb -- the NAS is all we have\n"),
        format!("{NFS}\n[lint]\nallow = [\"SG102\"]\n"),
    ] {
        let (code, _, err) = lint_text(&text, &["--deny-warnings"]);
        assert_eq!(code, 0, "{text}\n{err}");
        assert!(!err.contains("SG102"), "an allowed warning is not printed: {err}");
    }
    let (code, _, _) = lint_text(NFS, &["--deny-warnings", "--allow", "SG102"]);
    assert_eq!(code, 0);
}

#[test]
fn allowed_warnings_stay_in_json_marked_suppressed() {
    let (code, diags) = json(&format!("{NFS}\n[lint]\nallow = [\"SG102\"]\n"), &[]);
    assert_eq!(code, 0);
    assert_eq!(codes(&diags, true), ["SG102"]);
    assert_eq!(diags[0]["suppression"], "stackFile");
}

#[test]
fn an_inline_allow_applies_only_to_its_line_or_table() {
    // The comment sits on another table's header: SG102 is not allowed by it.
    let text = NFS.replace("[storage.nfs]\n", "[storage.nfs]  # stackgen: allow SG102\n");
    let (_, diags) = json(&text, &[]);
    assert_eq!(codes(&diags, false), ["SG102"]);
    // A comment marker inside a string is not a comment.
    let text = NFS.replace("path = \"/export/prometheus\"", "path = \"/export/# stackgen: allow SG102\"");
    let (_, diags) = json(&text, &[]);
    assert!(codes(&diags, true).is_empty());
}

#[test]
fn errors_cannot_be_allowed_anywhere() {
    let bad = NFS.replace("size = \"200Gi\"", "size = \"lots\"");
    for (text, args) in [
        (bad.replace("size = \"lots\"", "size = \"lots\"  # stackgen: allow SG004"), vec![]),
        (format!("{bad}\n[lint]\nallow = [\"SG004\"]\n"), vec![]),
    ] {
        let (code, diags) = json(&text, &args);
        assert_eq!(code, 1);
        let c = codes(&diags, false);
        assert!(c.contains(&"SG004".to_string()) && c.contains(&"SG030".to_string()), "{c:?}");
    }
    let (code, _, err) = lint_text(NFS, &["--allow", "SG004"]);
    assert_eq!(code, 2, "an error on the command line is a usage error: {err}");
    assert!(err.contains("errors cannot be allowed"), "{err}");
}

#[test]
fn an_unknown_code_in_an_allow_list_is_a_diagnostic() {
    let (code, diags) = json(&format!("{NFS}\n[lint]\nallow = [\"SG9999\"]\n"), &[]);
    assert_eq!(code, 1);
    let d = diags.iter().find(|d| d["code"] == "SG030").expect("SG030");
    assert_eq!((d["line"].as_u64(), d["path"].as_str()), (Some(13), Some("/lint/allow/0")));
    let (code, diags) = json(&NFS.replace("backend = \"nfs\"", "backend = \"nfs\" # stackgen: allow SG1O2"), &[]);
    assert_eq!(code, 1);
    assert!(codes(&diags, false).contains(&"SG030".to_string()));
    let (code, _, err) = lint_text(NFS, &["--allow", "nope"]);
    assert_eq!((code, err.contains("no such code")), (2, true), "{err}");
}

#[test]
fn deny_makes_a_warning_an_error_even_when_allowed() {
    let (code, diags) = json(&format!("{NFS}\n[lint]\nallow = [\"SG102\"]\n"), &["--deny", "nfs-tsdb"]);
    assert_eq!(code, 1);
    assert_eq!(diags[0]["severity"], "error");
    assert_eq!(diags[0]["suppressed"], false);
}

#[test]
fn helm_target_warnings_can_be_allowed() {
    let stack = root().join("stacks/eks-gp3.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    let (_, diags) = json(&text, &["--target", "helm-values"]);
    if !codes(&diags, false).contains(&"SG125".to_string()) {
        return; // this stack asks nothing the chart cannot express
    }
    let (_, diags) = json(&format!("{text}\n[lint]\nallow = [\"SG125\"]\n"), &["--target", "helm-values"]);
    assert!(!codes(&diags, false).contains(&"SG125".to_string()), "{diags:#?}");
    let (code, _, _) = lint_text(&text, &["--target", "helm-values", "--deny-warnings", "--allow", "helm-unsupported"]);
    assert!(code == 0 || codes(&diags, false).iter().any(|c| c != "SG125"));
}

#[test]
fn render_hides_allowed_warnings_and_honours_deny() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.toml");
    std::fs::write(&path, format!("{NFS}\n[lint]\nallow = [\"SG102\"]\n")).unwrap();
    let (code, out, err) = run(Command::new(bin()).arg("render").arg(&path).env("NO_COLOR", "1"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty() && !err.contains("SG102"), "{err}");
    let (code, out, err) = run(Command::new(bin()).args(["render", "--deny", "SG102"]).arg(&path).env("NO_COLOR", "1"));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty() && err.contains("SG102"), "nothing is rendered when a denied warning fires");
}

// ---------------------------------------------------------------------------------------
// Diagnostics a new user met in CI: every command fast and conventional there.

#[test]
fn unreadable_file_is_in_every_format() {
    let missing = "/nonexistent/stack.toml";
    let (code, out, _) = run(Command::new(bin()).args(["lint", "--format", "json", missing]));
    assert_eq!(code, 2);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!((v[0]["code"].as_str(), v[0]["file"].as_str()), (Some("SG006"), Some(missing)));
    let (code, out, _) = run(Command::new(bin()).args(["lint", "--format", "github", missing]));
    assert_eq!(code, 2);
    assert!(out.starts_with("::error file=/nonexistent/stack.toml") && out.contains("title=SG006"), "{out}");
    let (code, out, _) = run(Command::new(bin()).args(["lint", "--format", "sarif", missing]));
    assert_eq!(code, 2);
    assert!(out.contains("SG006"), "{out}");
}

#[test]
fn a_cloud_volume_type_as_backend_points_to_class() {
    let (code, diags) = json("[stack]\nname = \"x\"\n[storage]\nbackend = \"ebs\"\n", &[]);
    assert_eq!(code, 1);
    let help = diags[0]["help"].as_str().unwrap();
    assert!(help.contains("backend = \"class\"") && help.contains("gp3"), "{help}");
    assert!(!help.contains("`nfs`"), "{help}");
}

#[test]
fn grafana_admin_password_help_names_admin_secret() {
    let (_, diags) = json("[stack]\nname = \"x\"\n[grafana]\nadmin_password = \"hunter2\"\n", &[]);
    let d = diags.iter().find(|d| d["code"] == "SG111").expect("SG111");
    let help = d["help"].as_str().unwrap();
    assert!(help.contains("admin_secret") && !help.contains("credentials_secret"), "{help}");
}

#[test]
fn rook_provisioner_beside_an_existing_class_is_named_precisely() {
    let text = "[stack]\nname = \"x\"\n[storage]\nbackend = \"ceph\"\nsize = \"100Gi\"\n[storage.ceph]\n\
                storage_class = \"rook-ceph-block\"\nprovisioner = \"rook-ceph.rbd.csi.ceph.com\"\n";
    let (code, diags) = json(text, &[]);
    assert_eq!(code, 1);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(
        (diags[0]["code"].as_str(), diags[0]["path"].as_str()),
        (Some("SG004"), Some("/storage/ceph/provisioner"))
    );
    assert!(diags[0]["message"].as_str().unwrap().contains("existing class"));
}

#[test]
fn an_inline_credential_is_reported_once() {
    let text = "[stack]\nname = \"x\"\n[thanos.objstore]\ntype = \"s3\"\nbucket = \"b\"\nsecret_key = \"AKIAIOSFODNN7EXAMPLE\"\n";
    let (_, diags) = json(text, &[]);
    let at_key: Vec<_> =
        diags.iter().filter(|d| d["path"] == "/thanos/objstore/secret_key").map(|d| d["code"].clone()).collect();
    assert_eq!(at_key, ["SG111"], "{diags:#?}");
}
