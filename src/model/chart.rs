//! The names the kube-prometheus-stack chart and the Prometheus Operator give a stack's
//! objects when it is rendered with `--format helm-values` (`fullnameOverride` = the stack
//! name). The helm-values render writes them; lint checks that they fit (SG125).

use super::{Image, Stack};

/// The chart cuts `fullnameOverride` to this many characters (`trunc 26 | trimSuffix "-"`).
pub const FULLNAME_MAX: usize = 26;

/// The chart's `kube-prometheus-stack.fullname` with `fullnameOverride` = the stack name.
pub fn fullname(s: &Stack) -> String {
    let name = s.name.as_str();
    name[..name.len().min(FULLNAME_MAX)].trim_end_matches('-').to_string()
}

/// Name of the Prometheus custom resource the chart creates.
pub fn prometheus_cr(s: &Stack) -> String {
    format!("{}-prometheus", fullname(s))
}

/// The operator's StatefulSet for one shard: `prometheus-<cr>`, `prometheus-<cr>-shard-<i>`.
pub fn statefulset_name(s: &Stack, shard: u16) -> String {
    let base = format!("prometheus-{}", prometheus_cr(s));
    if shard == 0 {
        base
    } else {
        format!("{base}-shard-{shard}")
    }
}

/// `v1.2.3` of an image tag that is a version (the operator parses it as semver).
pub fn semver_tag(img: &Image) -> Option<&str> {
    let t = img.tag.strip_prefix('v').unwrap_or(&img.tag);
    let mut parts = t.split(['.', '-', '+']);
    let numeric = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (numeric(parts.next()) && numeric(parts.next()) && numeric(parts.next())).then_some(img.tag.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanos_version_is_the_tag_or_none() {
        let img = |t: &str| Image { repository: "quay.io/thanos/thanos".into(), tag: t.into(), digest: None };
        assert_eq!(semver_tag(&img("v0.39.2")), Some("v0.39.2"));
        assert_eq!(semver_tag(&img("v0.40.0-rc.1")), Some("v0.40.0-rc.1"));
        assert_eq!(semver_tag(&img("main-2025-08-01-abc")), None);
        assert_eq!(semver_tag(&img("latest")), None);
    }
}
