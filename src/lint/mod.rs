//! Lint: rules over a valid stack that warn about choices which are legal but lose data
//! or surprise operators, as ruff's rules do over Python.
//!
//! Each rule lives in a file of its own under `rules/`, named after its code and kebab
//! name (`rules/sg102_nfs_tsdb.rs`), with its documentation (what it does, why it
//! matters, an example) in a doc comment beside the code that raises it. The registry
//! (`diagnostic/codes.rs`) names each code's rule, severity and kebab name, and reads the
//! documentation from the rule for `stackgen explain`, SARIF and docs/rules.md.
//!
//! Three entry points, by what a rule looks at:
//! - [`lint`]: the rules over a validated [`Stack`], pointing at the key that causes each
//!   finding;
//! - [`secret_values`]: credential-shaped values anywhere in the file, before validation
//!   (a credential blocks the render but not the other checks);
//! - [`helm_values`]: what the kube-prometheus-stack chart cannot express, for
//!   `render --format helm-values` and `lint --target helm-values`;
//! - [`operator`]: what the Prometheus Operator's resources cannot express, for
//!   `render --format operator` and `lint --target operator`.
//!
//! Lint reads only the model and the source; what it knows about the render (the
//! component volumes, the chart's names) comes from the model, which render reads too.

pub(crate) mod rules;
pub mod suppress;

use std::ops::Range;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Bytes, Stack};
use crate::source::Parsed;

pub(crate) const GIB: u64 = 1 << 30;

/// What a rule over a validated stack sees, and where its findings go.
pub(crate) struct Checker<'a> {
    pub(crate) stack: &'a Stack,
    parsed: &'a Parsed,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Report `code` at the value of the key `ptr` (a JSON pointer), or at the key of its
    /// table when the stack leaves it out (the finding is about a default).
    pub(crate) fn report(&mut self, code: Code, ptr: &str, message: String, help: impl Into<String>) {
        let span = self.span(ptr);
        self.diags.push(Diagnostic::new(code, message, span).with_help(help).with_path(ptr));
    }

    /// Where `ptr` is in the file: its value when present, else its key.
    pub(crate) fn span(&self, ptr: &str) -> Range<usize> {
        self.parsed.span(ptr)
    }

    /// The value of `ptr` in the file (for related places).
    pub(crate) fn value_span(&self, ptr: &str) -> Range<usize> {
        self.parsed.place(ptr).value
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

/// All lint findings for a valid stack (in rule order; `check` sorts them).
pub fn lint(stack: &Stack, parsed: &Parsed) -> Vec<Diagnostic> {
    let mut cx = Checker { stack, parsed, diags: Vec::new() };
    for rule in rules::STACK_RULES {
        rule(&mut cx);
    }
    cx.diags
}

/// Values and keys that look like credentials, wherever they are in the file (SG124).
pub fn secret_values(parsed: &Parsed) -> Vec<Diagnostic> {
    rules::sg124_secret_value::check(parsed)
}

/// What the kube-prometheus-stack chart cannot express from this stack (SG125), in a
/// fixed order. Each names the stack.toml key it concerns; none points into the file.
pub fn helm_values(stack: &Stack) -> Vec<Diagnostic> {
    rules::sg125_helm_unsupported::check(stack)
}

/// What the Prometheus Operator cannot express from this stack (SG160), for
/// `render --format operator` and `lint --target operator`; like [`helm_values`].
pub fn operator(stack: &Stack) -> Vec<Diagnostic> {
    rules::sg160_operator_unsupported::check(stack)
}

/// The operator's longest StatefulSet name when it is over 52 characters (chart and
/// operator targets alike): its pods' controller-revision-hash label would exceed 63.
pub(crate) fn operator_statefulset_too_long(s: &Stack) -> Option<String> {
    let longest = crate::model::chart::statefulset_name(s, s.sharding.shards - 1);
    (longest.len() > 52).then(|| {
        format!(
            "the operator's StatefulSet `{longest}` is longer than 52 characters: its pods' \
             controller-revision-hash label would exceed 63 and the pods are never created"
        )
    })
}

/// The size of the Prometheus volumes that exist: while claims are resized
/// (`claims_size` below `size`), those are `claims_size`. With the words for the
/// message and the key that sets it. None without a size (ephemeral without a limit).
pub(crate) struct VolumeSize {
    pub(crate) size: Bytes,
    /// "the volume" or "the existing claims".
    pub(crate) what: &'static str,
    /// `/storage/size` or `/storage/claims_size`.
    pub(crate) ptr: &'static str,
}

pub(crate) fn volume_size(s: &Stack) -> Option<VolumeSize> {
    let full = s.storage.size?;
    let size = s.storage.claims_size.map_or(full, |c| c.min(full));
    Some(if size < full {
        VolumeSize { size, what: "the existing claims", ptr: "/storage/claims_size" }
    } else {
        VolumeSize { size, what: "the volume", ptr: "/storage/size" }
    })
}

/// Declare a rule's documentation: the doc comment written in the macro becomes the
/// rule file's `DOC` constant, which the registry reads. Its first line is the one-line
/// summary (`stackgen explain list`, SARIF `shortDescription`); the rest, after a blank
/// line, is the long text (`## What it does`, `## Why is this bad?`, `## Example`).
macro_rules! rule_doc {
    ($(#[doc = $doc:literal])*) => {
        $(#[doc = $doc])*
        pub(crate) const DOC: &str = concat!($($doc, "\n"),*);
    };
}
pub(crate) use rule_doc;
