//! No credential is ever printed: every credential shape of the table below, written in a
//! stack as a value, as a key and inside a URL, and found in a live ConfigMap by
//! `diff --against`, is refused (SG124) and never appears in stdout, stderr, `-o` files,
//! SARIF or JSON. The samples are fakes of the shapes gitleaks documents (the shape ids
//! are those of `stackgen::secrets`); 23 of these 33 shapes once rendered to stdout.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::root;

/// The binary under test; `STACKGEN_BIN` runs these tests against another build.
fn bin() -> std::path::PathBuf {
    std::env::var_os("STACKGEN_BIN").map_or_else(crate::common::bin, std::path::PathBuf::from)
}

/// (shape, sample). Each sample is unique in the stack, so finding it anywhere in the
/// output is a leak.
const SHAPES: &[(&str, &str)] = &[
    ("aws-access-token", "AKIAZ7Q2MBLX4NGY3KTE"),
    ("aws-access-token (ASIA)", "ASIAQ4XH2M7TZBP6KWLD"),
    ("aws-secret-access-key (40 chars)", "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"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    ("github-pat", "ghp_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    ("github-oauth", "gho_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    ("github-app-token (ghs_)", "ghs_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    ("github-app-token (ghu_)", "ghu_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    ("github-refresh-token", "ghr_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    (
        "github-fine-grained-pat",
        "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0Gh8Jk6",
    ),
    ("gitlab-pat", "glpat-Zx8Kq2Lm4Nb6Vc8Xz0As"),
    ("gitlab-runner-token", "glrt-Zx8Kq2Lm4Nb6Vc8Xz0As2D"),
    ("slack-bot-token", "xoxb-2839475610-2938475610-ZxKq2Lm4Nb6Vc8Xz0As2Df4G"),
    ("slack-user-token", "xoxp-2839475610-2938475610-3928475610-a8f3c2e1d4b5a6f7e8d9c0b1a2f3e4d5"),
    ("slack-legacy-token (xoxs-)", "xoxs-2839475610-2938475610-3928475610-a8f3c2e1d4b5"),
    ("slack-legacy-workspace-token (xoxa-)", "xoxa-2-Zx8Kq2Lm4Nb6Vc8Xz0As2Df4"),
    ("slack-app-token", "xapp-1-A0123BCDEF4-2839475610-a8f3c2e1d4b5a6f7e8d9c0b1a2f3"),
    ("slack-config-access-token", "xoxe.xoxp-1-UJZDE8GXD6NCF10EPF91DHODZDOC9IS0J8HT9LGMXG9EDN581U33XTPLPFT75V2SEH60KVJ50CE9UVW53EFR4EDT2SYWB3WKH5DNSIPZZ5FK2Z9RI19R0WYO"),
    ("slack-webhook-url", "https://hooks.slack.com/services/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"),
    ("openai-api-key (sk-proj-)", "sk-proj-Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1Er3Ty5"),
    ("anthropic-api-key", "sk-ant-api03-Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8"),
    ("gcp-api-key", "AIzaSyZx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0"),
    ("google-oauth-access-token", "ya29.Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    ("stripe-access-token (sk_test_)", "sk_test_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4"),
    ("stripe-access-token (sk_live_)", "sk_live_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4"),
    ("stripe-access-token (rk_live_)", "rk_live_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4"),
    ("azure-storage-account-key", "AccountKey=Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1Er3Ty5Ui7Op9==;EndpointSuffix=core.windows.net"),
    ("azure-sas-token", "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6%3D"),
    ("age-secret-key", "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6MU"),
    ("gcp-service-account", "{\"type\": \"service_account\", \"project_id\": \"p\"}"),
    ("pypi-upload-token", "pypi-AgEIcHlwaS5vcmcZx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1Er3Ty5Ui7Op9As1Df3Gh5"),
    ("npm-access-token", "npm_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1E"),
    ("hashicorp-vault-token", "hvs.Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8"),
    ("digitalocean-pat", "dop_v1_a8f3c2e1d4b5a6f7e8d9c0b1a2f3e4d5a8f3c2e1d4b5a6f7e8d9c0b1a2f3e4d5"),
    ("sendgrid-api-token", "SG.Zx8Kq2Lm4Nb6Vc8Xz0As2D.Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq0Wq1Er3Ty5U"),
    ("huggingface-access-token", "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"),
    ("grafana-service-account-token", "glsa_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6Jk8Lq_a8f3c2e1"),
    ("docker-hub-pat", "dckr_pat_Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh"),
    ("databricks-api-token", "dapia8f3c2e1d4b5a6f7e8d9c0b1a2f3e4d5"),
    ("shopify-token", "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"),
    ("authorization-bearer", "Bearer Zx8Kq2Lm4Nb6Vc8Xz0As2Df4Gh6"),
    ("generic-credential-assignment (password=)", "password=Tr0ub4dor&3x"),
    ("generic-credential-assignment (token:)", "token: Zq9Wx7Ec5Rv3Tb1"),
    ("url-credentials", "https://admin:Pa55w0rdZq9@minio.example.com:9000"),
    ("userinfo (no scheme)", "backup:Pa55w0rdZq8@minio.minio.svc:9000"),
];

/// The part of a sample that must never be printed: the whole sample, less a leading
/// keyword that is not itself secret (`Bearer `, `password=`, `AccountKey=`...).
fn needle(sample: &str) -> &str {
    for p in ["Bearer ", "password=", "token: ", "AccountKey=", "https://admin:", "backup:"] {
        if let Some(rest) = sample.strip_prefix(p) {
            return &rest[..rest.len().min(14)];
        }
    }
    if let Some(i) = sample.find("sig=") {
        return &sample[i + 4..i + 18];
    }
    sample
}

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(bin()).args(args).current_dir(dir).env("NO_COLOR", "1").stdin(Stdio::null()).output().unwrap()
}

fn all_text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn files_under(dir: &Path) -> String {
    let mut all = String::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    all
}

#[test]
fn every_credential_shape_is_refused_and_never_printed() {
    let ids: Vec<&str> = stackgen::secrets::shape_ids().collect();
    for id in &ids {
        assert!(SHAPES.iter().any(|(s, _)| s.split(' ').next() == Some(id)), "shape {id} has no sample here");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (shape, sample) in SHAPES {
        assert!(stackgen::secrets::contains(sample), "{shape}: `{sample}` is not detected");
        let secret = needle(sample);
        // One stack with the sample in every place: a value, a key, a URL (objstore
        // endpoint with user:password@) and a scrape target; each must give an SG124.
        let url = format!("u:{}@minio:9000", sample.replace(['@', '/'], ""));
        let stack = format!(
            "[stack]\nname = \"prod\"\n\n[prometheus]\nexternal_labels = {{ cluster = {v}, {v} = \"x\" }}\n\n\
             [storage]\nbackend = \"class\"\nsize = \"100Gi\"\n\n[storage.class]\nname = \"gp3\"\n\n\
             [thanos.objstore]\ntype = \"s3\"\nbucket = \"b\"\ncredentials_secret = \"c\"\nendpoint = {u}\n\n\
             [[scrape]]\njob = \"j\"\nstatic_targets = [{t}]\n",
            v = toml_str(sample),
            u = toml_str(&url),
            t = toml_str(&format!("{sample}@h:9100")),
        );
        let f = tmp.path().join("s.toml");
        std::fs::write(&f, &stack).unwrap();
        let fs = f.to_str().unwrap();
        let out_dir = tmp.path().join("out");
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut runs = Vec::new();
        for format in ["human", "json", "github", "sarif"] {
            runs.push((format!("lint --format {format}"), run(&["lint", "--format", format, fs], tmp.path())));
        }
        runs.push(("render".into(), run(&["render", fs], tmp.path())));
        runs.push(("render -o".into(), run(&["render", fs, "-o", out_dir.to_str().unwrap()], tmp.path())));
        runs.push(("render --format helm-values".into(), run(&["render", "--format", "helm-values", fs], tmp.path())));
        for (what, o) in &runs {
            if all_text(o).contains(secret) {
                failures.push(format!("{shape}: `{what}` printed it:\n{}", all_text(o)));
            }
            if o.status.code() == Some(0) {
                failures.push(format!("{shape}: `{what}` exited 0 (not refused)"));
            }
        }
        let json: serde_json::Value = serde_json::from_slice(&runs[1].1.stdout).unwrap();
        let paths: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "SG124")
            .filter_map(|d| d["path"].as_str())
            .collect();
        for want in [
            "/prometheus/external_labels/cluster",
            "/prometheus/external_labels",
            "/thanos/objstore/endpoint",
            "/scrape/0/static_targets/0",
        ] {
            if !paths.contains(&want) {
                failures.push(format!("{shape}: no SG124 at {want} (SG124 at {paths:?})"));
            }
        }
        if files_under(&out_dir).contains(secret) {
            failures.push(format!("{shape}: written under -o"));
        }
    }
    assert!(failures.is_empty(), "{} leak(s):\n{}", failures.len(), failures.join("\n---\n"));
}

/// A rule file goes into the rules ConfigMap as it is: a credential in it (a runbook or
/// webhook link with a token) is SG124 located in the rule file, every shape, and never
/// printed or written.
#[test]
fn rule_file_credentials_are_refused_and_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rules")).unwrap();
    let stack = "[stack]\nname = \"prod\"\n\n[storage]\nbackend = \"class\"\nsize = \"100Gi\"\n\n\
                 [storage.class]\nname = \"gp3\"\n\n[rules]\nfiles = [\"rules/*.yaml\"]\n";
    let f = tmp.path().join("s.toml");
    std::fs::write(&f, stack).unwrap();
    let fs = f.to_str().unwrap();
    let out_dir = tmp.path().join("out");
    let mut failures = Vec::new();
    for (shape, sample) in SHAPES {
        let secret = needle(sample);
        let rule = format!(
            "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    annotations:\n      \
             runbook_url: '{}'\n",
            sample.replace('\'', "''")
        );
        std::fs::write(tmp.path().join("rules/r.yaml"), rule).unwrap();
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut runs = Vec::new();
        for format in ["human", "json", "sarif"] {
            runs.push((format!("lint --format {format}"), run(&["lint", "--format", format, fs], tmp.path())));
        }
        runs.push(("render".into(), run(&["render", fs], tmp.path())));
        runs.push(("render -o".into(), run(&["render", fs, "-o", out_dir.to_str().unwrap()], tmp.path())));
        for (what, o) in &runs {
            if all_text(o).contains(secret) {
                failures.push(format!("{shape}: `{what}` printed it:\n{}", all_text(o)));
            }
            if o.status.code() != Some(1) {
                failures.push(format!("{shape}: `{what}` exited {:?} (not refused)", o.status.code()));
            }
        }
        let human = all_text(&runs[0].1);
        if !(human.contains("SG124") && human.contains("rule file rules/r.yaml") && human.contains("r.yaml:7:")) {
            failures.push(format!("{shape}: no SG124 located in the rule file:\n{human}"));
        }
        if files_under(&out_dir).contains(secret) {
            failures.push(format!("{shape}: written under -o"));
        }
    }
    assert!(failures.is_empty(), "{} leak(s):\n{}", failures.len(), failures.join("\n---\n"));
}

/// Live ConfigMaps that hold credentials: `diff --against` shows the change, never the
/// credential, in human and json output.
#[test]
fn live_configmap_credentials_never_printed_by_diff() {
    let golden = std::fs::read_to_string(root().join("golden/static-nfs.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (shape, sample) in SHAPES {
        let line = format!("# {sample}\n    scrape_configs:");
        let live = golden.replacen("scrape_configs:", &line, 1);
        let f = tmp.path().join("live.yaml");
        std::fs::write(&f, &live).unwrap();
        for format in ["human", "json"] {
            let o =
                run(&["diff", "stacks/static-nfs.toml", "--against", f.to_str().unwrap(), "--format", format], &root());
            if o.status.code() != Some(1) {
                failures.push(format!("{shape}: diff --format {format} exited {:?}: {}", o.status, all_text(&o)));
            }
            if all_text(&o).contains(needle(sample)) {
                failures.push(format!("{shape}: diff --format {format} printed it"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
