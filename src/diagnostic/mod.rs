//! One diagnostic model for every stage (TOML syntax, JSON Schema, model, lint, render)
//! and its renderers. The field names of [`Diagnostic`] in JSON output are public API.

mod codes;
pub mod explain;
pub mod render;
pub mod sarif;

use std::ops::Range;

pub use codes::{Code, Retired, Rule, RETIRED, RULES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Who allowed a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Suppression {
    /// A `# stackgen: allow` comment on the line or its table header.
    InSource,
    /// `[lint] allow` in the stack file.
    StackFile,
    /// `--allow` on the command line.
    CommandLine,
}

impl Suppression {
    /// The SARIF `suppression.kind`.
    pub fn sarif_kind(self) -> &'static str {
        match self {
            Suppression::InSource => "inSource",
            Suppression::StackFile | Suppression::CommandLine => "external",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Suppression::InSource => "a `# stackgen: allow` comment",
            Suppression::StackFile => "[lint] allow",
            Suppression::CommandLine => "--allow",
        }
    }
}

/// A problem found in a stack file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Byte range in the source; `0..0` means "the file as a whole".
    pub span: Range<usize>,
    /// The key path, as a JSON pointer (`/storage/nfs/server`), when known.
    pub path: Option<String>,
    pub help: Option<String>,
    /// Other places that take part (the other side of a conflict).
    pub related: Vec<(Range<usize>, String)>,
    /// Never show the source text around this diagnostic (it may hold a secret).
    pub redact: bool,
    /// Allowed by the lint configuration (`[lint] allow`, `# stackgen: allow`, `--allow`):
    /// kept in JSON and SARIF, left out of human and github output and of `--deny-warnings`.
    pub suppressed: Option<Suppression>,
    /// The file the span points into when it is not the stack file being checked (a rule
    /// file of `[rules] files`); the renderers use it for the name, line and column.
    pub file: Option<std::sync::Arc<crate::source::Source>>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>, span: Range<usize>) -> Self {
        Diagnostic {
            code,
            severity: code.rule().severity,
            message: message.into(),
            span,
            path: None,
            help: None,
            related: Vec::new(),
            redact: false,
            suppressed: None,
            file: None,
        }
    }
    /// An error. Only for codes the registry makes errors: each code has one severity
    /// (only `--deny` turns a warning into an error, in `lint::suppress`).
    pub fn error(code: Code, message: impl Into<String>, span: Range<usize>) -> Self {
        debug_assert_eq!(code.rule().severity, Severity::Error, "{} is registered as a warning", code.id());
        Self::new(code, message, span)
    }
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    #[must_use]
    pub fn with_related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// A warning nobody allowed: what `--deny-warnings` counts and human output shows.
    pub fn is_active_warning(&self) -> bool {
        self.severity == Severity::Warning && self.suppressed.is_none()
    }
}

/// Diagnostics in file order, errors before warnings at the same place.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.span.start, a.severity, a.code, &a.message).cmp(&(b.span.start, b.severity, b.code, &b.message))
    });
}
