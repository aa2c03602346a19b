//! What a credential looks like, and the one scrubber every output goes through.
//!
//! stackgen refuses credentials in stack.toml (SG111 for a credential key, SG124 for a
//! value or key of a credential shape) and never prints one: not in a diagnostic's
//! message, help or source line (any format), not in `diff` output (live ConfigMaps
//! may hold them), not in a render.
//!
//! Why a table here and not a crate: no maintained Rust library exposes a secret
//! detector without a scanner around it (secretscout and keyspoor are CLIs pulling in
//! async runtimes, git and archive readers, and keyspoor is pre-1.0 and needs a newer
//! compiler). The shapes below are those gitleaks documents in its default
//! configuration (`config/gitleaks.toml`, gitleaks v8; the rule id is in each row),
//! narrowed to what can sit in a stack file or a Kubernetes object. As gitleaks does,
//! each rule has literal keywords that must occur (case-insensitively) before its regex
//! runs, so a 1 MB render is scanned in a few milliseconds. Two shapes have no keyword:
//! a 40-character AWS secret access key (a token of base64 letters with upper case,
//! lower case and digits and an entropy of at least 4.2 bits per character, "entropy
//! with care": hex digests and words never reach it) and credentials in a URL
//! (`scheme://user:password@host`, or `user:password@host` as a whole value).
//!
//! tests/secrets.rs holds one sample per shape and asserts that none reaches stdout,
//! stderr, `-o` files, SARIF or JSON.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// One credential shape: gitleaks' rule id, keywords (lower case; one must occur in the
/// text, case-insensitively), and the regex of the secret.
struct Shape {
    id: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
}

const SHAPES: &[Shape] = &[
    Shape {
        id: "aws-access-token",
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        pattern: r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    },
    Shape {
        id: "private-key",
        keywords: &["-----begin"],
        pattern: r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
    },
    Shape { id: "github-pat", keywords: &["ghp_"], pattern: r"ghp_[0-9a-zA-Z]{36}" },
    Shape { id: "github-oauth", keywords: &["gho_"], pattern: r"gho_[0-9a-zA-Z]{36}" },
    Shape { id: "github-app-token", keywords: &["ghu_", "ghs_"], pattern: r"(?:ghu|ghs)_[0-9a-zA-Z]{36}" },
    Shape { id: "github-refresh-token", keywords: &["ghr_"], pattern: r"ghr_[0-9a-zA-Z]{36}" },
    Shape { id: "github-fine-grained-pat", keywords: &["github_pat_"], pattern: r"github_pat_[0-9a-zA-Z_]{60,}" },
    Shape { id: "gitlab-pat", keywords: &["glpat-"], pattern: r"glpat-[0-9a-zA-Z_-]{20,}" },
    Shape {
        id: "gitlab-runner-token",
        keywords: &["glrt-", "glptt-", "gldt-"],
        pattern: r"(?:glrt|glptt|gldt)-[0-9a-zA-Z_-]{20,}",
    },
    Shape { id: "slack-bot-token", keywords: &["xoxb-"], pattern: r"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*" },
    Shape {
        id: "slack-user-token",
        keywords: &["xoxp-", "xoxe-"],
        pattern: r"xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}",
    },
    Shape {
        id: "slack-legacy-token",
        keywords: &["xoxo-", "xoxs-"],
        pattern: r"xox[os]-[0-9]+-[0-9]+-[0-9]+-[a-fA-F0-9]+",
    },
    Shape {
        id: "slack-legacy-workspace-token",
        keywords: &["xoxa-", "xoxr-"],
        pattern: r"xox[ar]-(?:[0-9]-)?[0-9a-zA-Z]{8,48}",
    },
    Shape { id: "slack-app-token", keywords: &["xapp-"], pattern: r"(?i)xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+" },
    Shape { id: "slack-config-access-token", keywords: &["xoxe."], pattern: r"(?i)xoxe\.xox[bp]-[0-9]-[A-Z0-9]{100,}" },
    Shape {
        id: "slack-webhook-url",
        keywords: &["hooks.slack.com"],
        pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
    },
    Shape {
        id: "openai-api-key",
        keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-", "t3blbkfj"],
        pattern: r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})",
    },
    Shape { id: "anthropic-api-key", keywords: &["sk-ant-"], pattern: r"sk-ant-(?:api03|admin01)-[a-zA-Z0-9_-]{20,}" },
    Shape { id: "gcp-api-key", keywords: &["aiza"], pattern: r"AIza[0-9A-Za-z_-]{35}" },
    Shape { id: "gcp-service-account", keywords: &["service_account"], pattern: r#""type"\s*:\s*"service_account""# },
    Shape { id: "google-oauth-access-token", keywords: &["ya29."], pattern: r"ya29\.[0-9A-Za-z_-]{20,}" },
    Shape {
        id: "jwt",
        keywords: &["eyj"],
        pattern: r"\bey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?",
    },
    Shape {
        id: "stripe-access-token",
        keywords: &["sk_", "rk_"],
        pattern: r"\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}",
    },
    Shape {
        id: "azure-storage-account-key",
        keywords: &["accountkey="],
        pattern: r"(?i)AccountKey=[a-zA-Z0-9+/=]{20,}",
    },
    Shape { id: "azure-sas-token", keywords: &["sig="], pattern: r"(?i)[?&]sig=[a-zA-Z0-9%+/=]{20,}" },
    Shape {
        id: "age-secret-key",
        keywords: &["age-secret-key-1"],
        pattern: r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    },
    Shape { id: "npm-access-token", keywords: &["npm_"], pattern: r"\bnpm_[a-zA-Z0-9]{36}" },
    Shape {
        id: "pypi-upload-token",
        keywords: &["pypi-ageichlwas5vcmc"],
        pattern: r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
    },
    Shape { id: "hashicorp-vault-token", keywords: &["hvs.", "hvb."], pattern: r"\bhv[sb]\.[A-Za-z0-9_-]{24,}" },
    Shape { id: "digitalocean-pat", keywords: &["dop_v1_", "doo_v1_", "dor_v1_"], pattern: r"do[opr]_v1_[a-f0-9]{64}" },
    Shape { id: "sendgrid-api-token", keywords: &["sg."], pattern: r"\bSG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}" },
    Shape { id: "huggingface-access-token", keywords: &["hf_"], pattern: r"\bhf_[a-zA-Z]{34}\b" },
    Shape {
        id: "grafana-service-account-token",
        keywords: &["glsa_", "glc_"],
        pattern: r"\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})",
    },
    Shape { id: "docker-hub-pat", keywords: &["dckr_pat_"], pattern: r"dckr_pat_[A-Za-z0-9_-]{20,}" },
    Shape { id: "databricks-api-token", keywords: &["dapi"], pattern: r"\bdapi[a-f0-9]{32}\b" },
    Shape {
        id: "shopify-token",
        keywords: &["shpat_", "shpca_", "shppa_", "shpss_"],
        pattern: r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    },
    Shape { id: "authorization-bearer", keywords: &["bearer"], pattern: r"(?i)\bbearer[ \t]+[A-Za-z0-9._~+/-]{16,}=*" },
    // gitleaks' generic-api-key, for the assignment forms a config string carries:
    // `password=…`, `token: …`, `secret=…` inside a value.
    Shape {
        id: "generic-credential-assignment",
        keywords: &["pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key", "accesskey"],
        pattern: r#"(?i)\b(?:passw(?:or)?d|pwd|pass|client_secret|secret_key|secret_access_key|token|api[_-]?key|access[_-]?key)[ \t]*[:=][ \t]*["']?[^\s"'&;,]{4,}"#,
    },
    // Credentials in a URL: `scheme://user:password@host`.
    Shape { id: "url-credentials", keywords: &["@"], pattern: r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:[^/\s@]+@" },
];

/// Every shape id, in table order (tests assert each one).
pub fn shape_ids() -> impl Iterator<Item = &'static str> {
    SHAPES.iter().map(|s| s.id).chain(["aws-secret-access-key", "userinfo"])
}

/// Shape `i`'s regex, compiled the first time a text holds one of its keywords (most
/// runs compile none or one). `regex` (not `regex-lite`): its literal prefilters and lazy
/// DFA scan a megabyte of YAML in a millisecond where a Pike VM takes a second.
fn compiled(i: usize) -> &'static Regex {
    static RES: OnceLock<Vec<OnceLock<Regex>>> = OnceLock::new();
    let all = RES.get_or_init(|| SHAPES.iter().map(|_| OnceLock::new()).collect());
    all[i].get_or_init(|| Regex::new(SHAPES[i].pattern).expect("secret shapes compile"))
}

/// The shapes one of whose keywords `text` holds (case-insensitively), in table order:
/// one pass over the text for all keywords at once (Aho-Corasick).
fn shapes_with_keywords(text: &str) -> Vec<usize> {
    type Keywords = (aho_corasick::AhoCorasick, Vec<usize>);
    fn build(kind: aho_corasick::AhoCorasickKind) -> Keywords {
        let pairs: Vec<(&str, usize)> =
            SHAPES.iter().enumerate().flat_map(|(i, s)| s.keywords.iter().map(move |k| (*k, i))).collect();
        let ac = aho_corasick::AhoCorasick::builder()
            .kind(Some(kind))
            .ascii_case_insensitive(true)
            .build(pairs.iter().map(|p| p.0))
            .expect("secret keywords build");
        (ac, pairs.iter().map(|p| p.1).collect())
    }
    // Short texts (a stack's values, a diagnostic) on a contiguous NFA, built in a
    // fraction of a DFA's time; long ones (a diff, live objects) on a DFA, which scans
    // several times faster once built.
    static SHORT: OnceLock<Keywords> = OnceLock::new();
    static LONG: OnceLock<Keywords> = OnceLock::new();
    let (ac, shape_of) = if text.len() < 16 * 1024 {
        SHORT.get_or_init(|| build(aho_corasick::AhoCorasickKind::ContiguousNFA))
    } else {
        LONG.get_or_init(|| build(aho_corasick::AhoCorasickKind::DFA))
    };
    // Most texts hold no keyword at all: one leftmost search says so (it may use the
    // automaton's prefilter, which an overlapping search does not).
    if !ac.is_match(text) {
        return Vec::new();
    }
    let mut hit = vec![false; SHAPES.len()];
    for m in ac.find_overlapping_iter(text) {
        hit[shape_of[m.pattern().as_usize()]] = true;
    }
    (0..SHAPES.len()).filter(|&i| hit[i]).collect()
}

/// Byte ranges of every credential in `text` (overlapping ranges merged), in order.
pub fn find(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for i in shapes_with_keywords(text) {
        // Shapes that need a byte beside their keyword: a text without it cannot match,
        // and a stack's own keys (`credentials_secret`) never compile the regex.
        let needs = match SHAPES[i].id {
            "generic-credential-assignment" => &[b':', b'='][..],
            "url-credentials" => &[b':'][..],
            _ => &[][..],
        };
        if !needs.is_empty() && !text.bytes().any(|b| needs.contains(&b)) {
            continue;
        }
        out.extend(compiled(i).find_iter(text).map(|m| m.range()));
    }
    aws_secret_keys(text, &mut out);
    userinfo(text, &mut out);
    out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Whether `text` holds anything of a credential shape.
pub fn contains(text: &str) -> bool {
    !find(text).is_empty()
}

/// `text` with every credential replaced by `<redacted>`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let found = find(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in found {
        out.push_str(&text[at..r.start]);
        out.push_str("<redacted>");
        at = r.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// 40-character AWS secret access keys: a token of `[A-Za-z0-9/+]` of exactly 40
/// characters with upper case, lower case and a digit, and at least 4.2 bits of Shannon
/// entropy per character (random base64 has ~5; English words and hex digests never
/// pass all four tests).
fn aws_secret_keys(text: &str, out: &mut Vec<std::ops::Range<usize>>) {
    let b = text.as_bytes();
    let tok = |c: u8| c.is_ascii_alphanumeric() || c == b'/' || c == b'+';
    let mut i = 0;
    while i < b.len() {
        if !tok(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && tok(b[i]) {
            i += 1;
        }
        let t = &b[start..i];
        if t.len() == 40
            && t.iter().any(u8::is_ascii_uppercase)
            && t.iter().any(u8::is_ascii_lowercase)
            && t.iter().any(u8::is_ascii_digit)
            && entropy(t) >= 4.2
        {
            out.push(start..i);
        }
    }
}

fn entropy(t: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &c in t {
        counts[usize::from(c)] += 1;
    }
    let n = t.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
}

/// `user:password@host` without a scheme (an objstore endpoint, a scrape target): a
/// whitespace-delimited token with `:` before an `@` that is followed by a host.
fn userinfo(text: &str, out: &mut Vec<std::ops::Range<usize>>) {
    if !text.contains('@') {
        return;
    }
    let mut offset = 0;
    for tok in text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`') {
        let start = offset;
        offset += tok.len() + 1;
        let Some(at) = tok.rfind('@') else { continue };
        let (user, host) = (&tok[..at], &tok[at + 1..]);
        let user = user.rsplit("://").next().unwrap_or(user);
        if let Some((u, p)) = user.split_once(':') {
            if !u.is_empty() && !p.is_empty() && !host.is_empty() && !u.contains('/') {
                out.push(start..start + at + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_config_is_not_a_secret() {
        for s in [
            "quay.io/prometheus/prometheus:v3.5.0",
            "sha256:4f3c1a2b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
            "minio.minio.svc:9000",
            "10.0.0.1:9100",
            "--storage.tsdb.retention.time=15d",
            "thanos-objstore-credentials",
            "prometheus_replica",
            "secretKeyRef",
            "$(OBJSTORE_SECRET_KEY)",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "rook-ceph-block",
            "token_file: /var/run/secrets/kubernetes.io/serviceaccount/token",
            "bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token",
            "authorization:\n  credentials_file: /var/run/secrets/kubernetes.io/serviceaccount/token",
        ] {
            assert!(find(s).is_empty(), "{s}: {:?}", find(s));
        }
    }

    #[test]
    fn scrub_replaces_only_the_secret() {
        assert_eq!(scrub("x AKIAIOSFODNN7EXAMPLE y"), "x <redacted> y");
        assert_eq!(scrub("https://u:p4ss@h.example/x"), "<redacted>h.example/x");
    }
}
