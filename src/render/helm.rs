//! `--format helm-values`: values for the kube-prometheus-stack chart, plus the objects
//! the chart does not create. (Being implemented: issue 4.)

use crate::model::Stack;

/// The two products of the helm-values format.
pub struct HelmOutput {
    /// The values document for kube-prometheus-stack (YAML text).
    pub values: String,
    /// The companion objects the chart does not create (multi-document YAML; may be empty).
    pub manifests: String,
}

pub fn render(_stack: &Stack) -> HelmOutput {
    HelmOutput { values: String::new(), manifests: String::new() }
}
