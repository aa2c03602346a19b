//! Printing a [`Report`]: human text (coloured only on a terminal) or JSON (the schema
//! is documented in README.md, "diff").

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::{json, Value};

use super::helm::show;
use super::risk::{Category, Risk, ShardView};
use super::{Change, Key, Report};

/// Version of the JSON output; bumped only on an incompatible change.
pub const JSON_VERSION: u32 = 1;

struct Paint {
    on: bool,
}

impl Paint {
    fn style(&self, s: Style, text: &str) -> String {
        if self.on {
            format!("{s}{text}{s:#}")
        } else {
            text.to_string()
        }
    }
    fn fg(&self, c: AnsiColor, text: &str) -> String {
        self.style(Style::new().fg_color(Some(c.into())), text)
    }
    fn bold(&self, text: &str) -> String {
        self.style(Style::new().bold(), text)
    }
}

fn category_counts(r: &Report) -> [(Category, usize); 5] {
    [Category::Rejected, Category::DataLoss, Category::DataMoves, Category::ActionNeeded, Category::Restart]
        .map(|c| (c, r.risks().filter(|x| x.category == c).count()))
}

fn write_risk(out: &mut String, p: &Paint, r: &Risk, indent: &str) {
    let color = match r.category {
        Category::Rejected | Category::DataLoss => AnsiColor::Red,
        Category::DataMoves | Category::ActionNeeded => AnsiColor::Yellow,
        Category::Restart => AnsiColor::Blue,
    };
    let tag = p.style(Style::new().bold().fg_color(Some(color.into())), &format!("!! {}", r.category.as_str()));
    let _ = write!(out, "{indent}{tag} [{}]", r.code);
    if let Some(path) = &r.path {
        let _ = write!(out, " {path}");
    }
    let _ = writeln!(out, ": {}", r.message);
    if let Some(a) = &r.action {
        let _ = writeln!(out, "{indent}   fix: {a}");
    }
}

/// The human report: one line per object, a unified diff per changed object, risks
/// under their object, stack-wide risks and target moves, and a summary line.
pub fn human(r: &Report, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    if let Some(v) = &r.values {
        if !v.changes.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                p.bold(&format!(
                    "values ({} {}, before: {}):",
                    crate::render::helm::CHART,
                    crate::render::helm::CHART_VERSION,
                    v.source
                ))
            );
        }
        for c in &v.changes {
            let (sign, col) = match c.change {
                Change::Added => ("+", AnsiColor::Green),
                Change::Removed => ("-", AnsiColor::Red),
                Change::Changed => ("~", AnsiColor::Yellow),
            };
            let text = match c.change {
                Change::Added => format!("{sign} {}: {}", c.path, show(c.new.as_ref())),
                Change::Removed => format!("{sign} {}: {}", c.path, show(c.old.as_ref())),
                Change::Changed => format!("{sign} {}: {} → {}", c.path, show(c.old.as_ref()), show(c.new.as_ref())),
            };
            let _ = writeln!(out, "  {}", p.fg(col, &text));
        }
    }
    for e in &r.entries {
        let (sign, c) = match e.change {
            Change::Added => ("+", AnsiColor::Green),
            Change::Removed => ("-", AnsiColor::Red),
            Change::Changed => ("~", AnsiColor::Yellow),
        };
        let line = format!("{sign} {} {} ({})", e.change.as_str(), e.key.display(), e.key.api_version);
        let _ = writeln!(out, "{}", p.style(Style::new().bold().fg_color(Some(c.into())), &line));
        if let Some(d) = &e.diff {
            for l in d.lines() {
                let styled = if l.starts_with("+++") || l.starts_with("---") {
                    p.bold(l)
                } else if l.starts_with('+') {
                    p.fg(AnsiColor::Green, l)
                } else if l.starts_with('-') {
                    p.fg(AnsiColor::Red, l)
                } else if l.starts_with("@@") {
                    p.fg(AnsiColor::Cyan, l)
                } else {
                    l.to_string()
                };
                let _ = writeln!(out, "{styled}");
            }
        }
        for risk in &e.risks {
            write_risk(&mut out, &p, risk, "  ");
        }
    }
    for risk in &r.stack_risks {
        write_risk(&mut out, &p, risk, "");
    }
    if !r.moves.is_empty() {
        if let Some((old, new)) = &r.sharding {
            let _ = writeln!(
                out,
                "{}",
                p.bold(&format!(
                    "target moves ({} → {} shards, hashmod of {}{}):",
                    old.shards,
                    new.shards,
                    new.source_labels.join(";"),
                    if r.moves.iter().any(|m| new.probe_jobs.contains(&m.job) || old.probe_jobs.contains(&m.job)) {
                        "; probe targets: of the probed target"
                    } else {
                        ""
                    }
                ))
            );
        }
        for m in &r.moves {
            let _ = writeln!(out, "  {} {}: shard {} → {}", m.job, m.target, m.from, m.to);
        }
    }
    let total = r.risks().count();
    let mut summary = format!(
        "{} added, {} removed, {} changed, {} unchanged",
        r.count(Change::Added),
        r.count(Change::Removed),
        r.count(Change::Changed),
        r.unchanged
    );
    if total > 0 {
        let parts: Vec<String> =
            category_counts(r).iter().filter(|(_, n)| *n > 0).map(|(c, n)| format!("{n} {}", c.as_str())).collect();
        let _ = write!(summary, "; {total} risk{} ({})", if total == 1 { "" } else { "s" }, parts.join(", "));
    }
    if let Some(v) = &r.values {
        let n = |c: Change| v.changes.iter().filter(|x| x.change == c).count();
        summary = format!(
            "values: {} added, {} removed, {} changed; companion objects: {summary}",
            n(Change::Added),
            n(Change::Removed),
            n(Change::Changed)
        );
    }
    if !r.has_changes() {
        summary = format!("no changes against {} ({} objects)", r.before, r.unchanged);
        if let Some(v) = &r.values {
            summary =
                format!("no changes against {} ({} values, {} companion objects)", r.before, v.unchanged, r.unchanged);
        }
    }
    let _ = writeln!(out, "{}", p.bold(&summary));
    out
}

fn key_json(k: &Key) -> Value {
    json!({"api_version": k.api_version, "kind": k.kind, "namespace": k.namespace, "name": k.name})
}

fn risk_json(r: &Risk) -> Value {
    json!({
        "code": r.code.as_str(),
        "category": r.category.as_str(),
        "object": r.object.as_ref().map(key_json),
        "path": r.path,
        "message": r.message,
        "action": r.action,
    })
}

/// The resharding figures of a shard count change: the share of targets hashmod moves,
/// the count near the new one that moves the least (when growing), and the shards a
/// shrink retires or removes, with their dates (`null` when the count is unchanged).
fn reshard_json(old: &ShardView, new: &ShardView) -> Value {
    use crate::lifecycle::reshard::{least_moving, moved_share};
    let (from, to) = (old.shards, new.shards);
    if from == to {
        return Value::Null;
    }
    let clamp = |n: u64| u16::try_from(n.min(u64::from(u16::MAX))).unwrap_or(u16::MAX);
    let least = (to > from).then(|| {
        let (shards, share) = least_moving(clamp(from), clamp(to), 1024);
        json!({"shards": shards, "moved_share": share})
    });
    let retired = new.data.as_ref().and_then(|d| d.retired.as_ref());
    let kept_to = if to < from { retired.map_or(to, |r| r.shards.clamp(to, from)) } else { to };
    let retiring = (to < from && kept_to > to).then(|| {
        let r = retired.expect("kept beyond the count only when retired");
        json!({
            "shards": (to..kept_to).collect::<Vec<_>>(),
            "since": r.since,
            "until": r.until,
            "uploaded_by": r.uploaded_by,
        })
    });
    // A range, not a list: the old count may come from the input.
    let removed = (to < from && kept_to < from).then(|| json!({"first": kept_to, "last": from - 1}));
    json!({
        "moved_share": moved_share(clamp(from), clamp(to)),
        "least_moving": least,
        "retired": retiring,
        "removed": removed,
    })
}

/// The JSON report (README.md, "diff").
pub fn json(r: &Report) -> Value {
    let counts = category_counts(r);
    let objects: Vec<Value> = r
        .entries
        .iter()
        .map(|e| {
            json!({
                "change": e.change.as_str(),
                "api_version": e.key.api_version,
                "kind": e.key.kind,
                "namespace": e.key.namespace,
                "name": e.key.name,
                "diff": e.diff,
                "risks": e.risks.iter().map(risk_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let sharding = r.sharding.as_ref().map(|(old, new)| {
        json!({
            "old_shards": old.shards,
            "new_shards": new.shards,
            "source_labels": new.source_labels,
            "target_moves": r.moves.iter().map(|m| json!({"job": m.job, "target": m.target, "from": m.from, "to": m.to})).collect::<Vec<_>>(),
            "reshard": reshard_json(old, new),
        })
    });
    let mut doc = json!({
        "version": JSON_VERSION,
        "stack": r.stack,
        "mode": r.mode,
        "before": r.before,
        "changed": r.has_changes(),
        "summary": {
            "added": r.count(Change::Added),
            "removed": r.count(Change::Removed),
            "changed": r.count(Change::Changed),
            "unchanged": r.unchanged,
            "ignored": r.ignored,
            "risks": r.risks().count(),
            "rejected": counts[0].1,
            "data_loss": counts[1].1,
            "data_moves": counts[2].1,
            "action_needed": counts[3].1,
            "restarts": counts[4].1,
        },
        "objects": objects,
        "risks": r.risks().map(risk_json).collect::<Vec<_>>(),
        "sharding": sharding,
    });
    // `--target helm-values` only: manifests mode prints exactly the fields above.
    if let Some(v) = &r.values {
        let n = |c: Change| v.changes.iter().filter(|x| x.change == c).count();
        doc["target"] = json!("helm-values");
        doc["summary"]["values_added"] = json!(n(Change::Added));
        doc["summary"]["values_removed"] = json!(n(Change::Removed));
        doc["summary"]["values_changed"] = json!(n(Change::Changed));
        doc["summary"]["values_unchanged"] = json!(v.unchanged);
        doc["values"] = json!({
            "source": (!v.source.is_empty()).then_some(&v.source),
            "changes": v.changes.iter().map(|c| json!({"path": c.path, "change": c.change.as_str(), "old": c.old, "new": c.new})).collect::<Vec<_>>(),
        });
    }
    doc
}
