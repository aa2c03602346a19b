//! SARIF 2.1.0 output of `stackgen lint --format sarif`: one log for every file of a
//! call, for GitHub code scanning (`github/codeql-action/upload-sarif`) and other SARIF
//! consumers.
//!
//! Why hand-written types and not the `serde-sarif` crate: serde-sarif 0.8 generates its
//! types at build time from the SARIF JSON Schema (a build script running `schemafy_lib`,
//! `syn` and `prettyplease`) and adds 13 crates to the lock file (typed-builder, strum,
//! thiserror, uriparse, Inflector, ...), for a log of which stackgen writes about twenty
//! fields. The few structs below serialize with serde_json, which stackgen already uses,
//! and name exactly the fields we promise.
//!
//! What the log holds:
//! - `runs[0].tool.driver.rules`: every rule of [`RULES`], in registry order, so a
//!   result's `ruleIndex` is its rule's index there (its place in [`super::Code`]);
//!   `shortDescription` is the rule's summary, `fullDescription` and `help` carry the
//!   text of `stackgen explain` (`help` also as `markdown`, which it is).
//! - `results`: one per diagnostic, in the order of `--format json`, with the same lines
//!   and columns. Columns count Unicode characters, as the other formats do, so the run
//!   declares `columnKind: unicodeCodePoints` (SARIF's default is UTF-16 code units).
//!   `endColumn` is exclusive in SARIF and in `end_column` of the JSON output alike.
//! - `artifactLocation.uri`: the path as given on the command line, as a URI reference:
//!   a relative path stays relative (GitHub resolves it against the checkout, so run
//!   lint from the repository root), an absolute one becomes a `file://` URI.
//! - Files that cannot be read are not results (they have no rule and no place; the exit
//!   code is 2): they are `toolExecutionNotifications` of the invocation, which is then
//!   not `executionSuccessful`.
//!
//! No source text is copied into the log (no `snippet`), so a redacted diagnostic stays
//! redacted.

use serde::Serialize;

use super::{Diagnostic, Severity, RULES};
use crate::source::Source;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://stackgen.dev";

/// A SARIF log being collected over the files of one `lint` call.
#[derive(Debug, Default)]
pub struct SarifLog {
    results: Vec<SarifResult>,
    notifications: Vec<Notification>,
}

impl SarifLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the diagnostics of one file.
    pub fn add(&mut self, src: &Source, diags: &[Diagnostic]) {
        let stack_uri = artifact_uri(&src.name);
        let stack_src = src;
        for d in diags {
            let src = d.file.as_deref().unwrap_or(stack_src);
            let uri = if d.file.is_some() { artifact_uri(&src.name) } else { stack_uri.clone() };
            let rule = d.code.rule();
            let mut text = crate::secrets::scrub(&d.message).into_owned();
            if let Some(h) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(&crate::secrets::scrub(h));
            }
            let related = d
                .related
                .iter()
                .enumerate()
                .map(|(i, (span, label))| Location {
                    id: Some(i),
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region: Some(region(src, span)),
                    },
                    message: Some(Message { text: crate::secrets::scrub(label).into_owned() }),
                })
                .collect();
            self.results.push(SarifResult {
                rule_id: rule.id,
                rule_index: d.code as usize,
                level: level(d.severity),
                message: Message { text },
                locations: vec![Location {
                    id: None,
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region: Some(region(src, &d.span)),
                    },
                    message: None,
                }],
                related_locations: related,
                suppressions: d
                    .suppressed
                    .map(|how| {
                        vec![SarifSuppression {
                            kind: how.sarif_kind(),
                            justification: format!("allowed by {}", how.describe()),
                        }]
                    })
                    .unwrap_or_default(),
            });
        }
    }

    /// Record a file that could not be read (`path` as given, `message` the reason).
    pub fn unreadable(&mut self, path: &str, message: &str) {
        self.notifications.push(Notification {
            level: "error",
            message: Message { text: crate::secrets::scrub(message).into_owned() },
            descriptor: Descriptor { id: super::Code::UnreadableInput.id() },
            locations: vec![Location {
                id: None,
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation { uri: artifact_uri(path) },
                    region: None,
                },
                message: None,
            }],
        });
    }

    /// The log as pretty JSON with a final newline.
    pub fn to_json_string(&self) -> String {
        let rules: Vec<ReportingDescriptor> = RULES
            .iter()
            .map(|r| ReportingDescriptor {
                id: r.id,
                name: r.name,
                short_description: Message { text: r.summary().to_string() },
                full_description: Message { text: r.explain() },
                help: {
                    // The text is Markdown already (`## What it does`, TOML code blocks):
                    // GitHub code scanning shows `markdown` on the alert's page.
                    let text = format!("{}\n\n`stackgen explain {}` prints this text.", r.explain(), r.id);
                    Help { markdown: text.clone(), text }
                },
                default_configuration: Configuration { level: level(r.severity) },
            })
            .collect();
        let log = Log {
            schema: SCHEMA,
            version: "2.1.0",
            runs: [Run {
                tool: Tool {
                    driver: Driver {
                        name: "stackgen",
                        version: env!("CARGO_PKG_VERSION"),
                        semantic_version: env!("CARGO_PKG_VERSION"),
                        information_uri: INFORMATION_URI,
                        rules,
                    },
                },
                invocations: [Invocation {
                    execution_successful: self.notifications.is_empty(),
                    tool_execution_notifications: &self.notifications,
                }],
                column_kind: "unicodeCodePoints",
                results: &self.results,
            }],
        };
        let mut s = serde_json::to_string_pretty(&log).expect("a SARIF log serializes");
        s.push('\n');
        s
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn region(src: &Source, span: &std::ops::Range<usize>) -> Region {
    let (start_line, start_column) = src.line_col(span.start);
    let (end_line, end_column) = src.line_col(span.end.max(span.start));
    Region { start_line, start_column, end_line, end_column }
}

/// A file path as a SARIF URI reference: relative paths stay relative (without a leading
/// `./`), absolute ones become `file://` URIs; `\` becomes `/`; every byte outside the
/// URI's unreserved characters and `/` is percent-encoded (`<stdin>` is `%3Cstdin%3E`).
pub fn artifact_uri(path: &str) -> String {
    let mut p = path.replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    let drive = p.len() >= 2 && p.as_bytes()[0].is_ascii_alphabetic() && p.as_bytes()[1] == b':';
    let (prefix, rest) = if drive {
        (format!("file:///{}", &p[..2]), &p[2..])
    } else if p.starts_with('/') {
        ("file://".to_string(), p.as_str())
    } else {
        (String::new(), p.as_str())
    };
    let mut out = prefix;
    for b in rest.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    invocations: [Invocation<'a>; 1],
    column_kind: &'static str,
    results: &'a [SarifResult],
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: &'static str,
    name: &'static str,
    short_description: Message,
    full_description: Message,
    help: Help,
    default_configuration: Configuration,
}

/// SARIF's multiformatMessageString: plain text and the same as Markdown.
#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    tool_execution_notifications: &'a [Notification],
}

#[derive(Debug, Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
    descriptor: Descriptor,
    locations: Vec<Location>,
}

#[derive(Debug, Serialize)]
struct Descriptor {
    id: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    /// SARIF 2.1.0 §3.27.23: present (non-empty) only for allowed warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<SarifSuppression>,
}

#[derive(Debug, Serialize)]
struct SarifSuppression {
    kind: &'static str,
    justification: String,
}

#[derive(Debug, Serialize)]
struct Message {
    text: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Debug, Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    #[test]
    fn uris() {
        assert_eq!(artifact_uri("stacks/a b.toml"), "stacks/a%20b.toml");
        assert_eq!(artifact_uri("./stack.toml"), "stack.toml");
        assert_eq!(artifact_uri("/work/x/stack.toml"), "file:///work/x/stack.toml");
        assert_eq!(artifact_uri(r"C:\repo\stack.toml"), "file:///C:/repo/stack.toml");
        assert_eq!(artifact_uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(artifact_uri("dé.toml"), "d%C3%A9.toml");
    }

    #[test]
    fn columns_count_characters() {
        // `é` is two bytes, one character, one UTF-16 unit: the run says unicodeCodePoints.
        let src = Source::new("s.toml", "x = \"é\" # y\n");
        let at = src.text.find('#').unwrap();
        let mut log = SarifLog::new();
        log.add(&src, &[Diagnostic::new(Code::UnknownKey, "m", at..at + 1)]);
        let v: serde_json::Value = serde_json::from_str(&log.to_json_string()).unwrap();
        let r = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!((r["startColumn"].as_u64(), r["endColumn"].as_u64()), (Some(9), Some(10)));
        assert_eq!(v["runs"][0]["columnKind"], "unicodeCodePoints");
    }
}
