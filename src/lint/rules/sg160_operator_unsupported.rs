//! SG160 `operator-unsupported`: what `--format operator` cannot express. Raised by
//! `render --format operator` (on stderr) and `lint --target operator`.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::chart::{fullname, semver_tag, FULLNAME_MAX};
use crate::model::Stack;

crate::lint::rule_doc! {
    /// the Prometheus Operator's resources cannot express part of the stack
    ///
    /// ## What it does
    /// With `--format operator` (and `lint --target operator`), warns about each choice
    /// of the stack that the Prometheus Operator's `Prometheus` resource has no field
    /// for, and about what the operator then decides itself: an image tag that is not a
    /// version (the operator picks flags for its own default version), names the operator
    /// cannot use or that are cut.
    ///
    /// ## Why is this bad?
    /// stackgen emits `Prometheus`, `Alertmanager` and `PrometheusRule` resources plus
    /// companion objects. The operator builds the StatefulSets, their flags and the
    /// Prometheus config itself; where the stack asks for something the resource cannot
    /// say, stackgen says so instead of dropping it silently.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// version = "main"   # not a version: spec.version stays unset
    /// ```
}

/// The findings for a stack, in a fixed order. Each names the stack.toml key it concerns
/// (its path) and points at no place in the file: it is about the operator, not a value.
pub(crate) fn check(s: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut warn = |path: &str, message: String, help: &str| {
        out.push(Diagnostic::new(Code::OperatorUnsupported, message, 0..0).with_path(path).with_help(help));
    };
    if semver_tag(&s.prometheus.image).is_none() {
        warn(
            "/prometheus/image",
            format!(
                "spec.version is not set: the tag `{}` is not a version, so the operator picks Prometheus' \
                 flags for its own default version",
                s.prometheus.image.tag
            ),
            "use a released Prometheus tag (vX.Y.Z)",
        );
    }
    if let Some(t) = s.thanos.as_ref().filter(|t| semver_tag(&t.image).is_none()) {
        warn(
            "/thanos/image",
            format!(
                "spec.thanos.version is not set: the tag `{}` is not a version, so the operator picks the \
                 sidecar's flags for its own default Thanos version",
                t.image.tag
            ),
            "use a released Thanos tag (vX.Y.Z)",
        );
    }
    if s.name.as_str().len() > FULLNAME_MAX {
        warn(
            "/stack/name",
            format!(
                "the Prometheus resource is named as kube-prometheus-stack names it, cut to {FULLNAME_MAX} \
                 characters: `{}-prometheus`",
                fullname(s)
            ),
            "a stack name of at most 26 characters keeps the resource's name equal to `<stack>-prometheus`",
        );
    }
    if let Some(message) = super::super::operator_statefulset_too_long(s) {
        warn("/stack/name", message, "shorten the stack name");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> Stack {
        crate::test_stack(text)
    }

    #[test]
    fn findings_name_their_key() {
        let s = stack(
            "[stack]\nname = \"x\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 2\n\
             source_labels = [\"__address__\", \"job\"]\n[prometheus]\nversion = \"main\"\n",
        );
        let d = check(&s);
        let paths: Vec<&str> = d.iter().filter_map(|d| d.path.as_deref()).collect();
        assert_eq!(paths, ["/prometheus/image"]);
        assert!(d.iter().all(|d| d.code == Code::OperatorUnsupported && d.span == (0..0)));
    }

    #[test]
    fn a_plain_stack_has_no_finding() {
        let s = stack("[stack]\nname = \"x\"\n[storage]\nbackend = \"ephemeral\"\n");
        assert!(check(&s).is_empty());
    }
}
