//! The metrics a render reads, by scrape job, and the metrics a running process exports:
//! the dashboard panels and alert rules of a render must read metrics that the real
//! process behind each job has (a misspelt or renamed metric is a panel with no data and
//! an alert that never fires, which no schema or parser notices).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Metric names read under each `job`, from every dashboard (a ConfigMap value with
/// `panels`) and every rule file (a ConfigMap value with `groups`) of a render. A `job`
/// regex of plain alternatives (`a|b`) counts for each; `up` (made by Prometheus itself)
/// is left out.
pub fn read_by_job(objs: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut exprs = Vec::new();
    for o in objs.iter().filter(|o| o["kind"] == "ConfigMap") {
        for text in o["data"].as_object().into_iter().flatten().filter_map(|(_, v)| v.as_str()) {
            if let Ok(d) = serde_json::from_str::<Value>(text) {
                for p in d["panels"].as_array().into_iter().flatten() {
                    for t in p["targets"].as_array().into_iter().flatten() {
                        exprs.extend(t["expr"].as_str().map(String::from));
                    }
                }
            } else if let Ok(r) = serde_saphyr::from_str::<Value>(text) {
                for g in r["groups"].as_array().into_iter().flatten() {
                    for rule in g["rules"].as_array().into_iter().flatten() {
                        exprs.extend(rule["expr"].as_str().map(String::from));
                    }
                }
            }
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in exprs {
        for (metric, jobs) in selectors(&e) {
            if metric.is_empty() || metric == "up" {
                continue;
            }
            for job in jobs {
                out.entry(job).or_default().insert(metric.clone());
            }
        }
    }
    out
}

/// Each vector selector of `expr`: its metric name and the jobs its `job` matcher names
/// (an equality, or a regex of plain alternatives; none for any other matcher).
pub fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    fn walk(e: &Expr, out: &mut Vec<(String, Vec<String>)>) {
        match e {
            Expr::VectorSelector(vs) => {
                let mut jobs = Vec::new();
                for m in vs.matchers.matchers.iter().filter(|m| m.name == "job") {
                    match &m.op {
                        MatchOp::Equal => jobs.push(m.value.clone()),
                        MatchOp::Re(_)
                            if m.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '|')) =>
                        {
                            jobs.extend(m.value.split('|').map(String::from))
                        }
                        _ => {}
                    }
                }
                out.push((vs.name.clone().unwrap_or_default(), jobs));
            }
            Expr::MatrixSelector(ms) => walk(&Expr::VectorSelector(ms.vs.clone()), out),
            Expr::Aggregate(a) => walk(&a.expr, out),
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Subquery(s) => walk(&s.expr, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    let ast = parser::parse(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
    let mut out = Vec::new();
    walk(&ast, &mut out);
    out
}

/// The metric names a process exposes on `/metrics` at `addr` (a histogram's or
/// summary's family name and its `_bucket`, `_sum` and `_count` series), or None when it
/// does not answer.
pub fn exported(addr: &str) -> Option<BTreeSet<String>> {
    let (code, body) = super::loopback::http("GET", addr, "/metrics", None)?;
    if code != 200 {
        return None;
    }
    let mut names = BTreeSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (it.next(), it.next()) {
                names.insert(name.to_string());
                if kind == "histogram" || kind == "summary" {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    Some(names)
}

/// The metrics `wanted` under `job` that the process at `addr` does not export (empty:
/// all there).
pub fn missing(job: &str, wanted: &BTreeMap<String, BTreeSet<String>>, addr: &str) -> Vec<String> {
    let have = exported(addr).unwrap_or_else(|| panic!("{job} at {addr} does not answer /metrics"));
    wanted.get(job).into_iter().flatten().filter(|m| !have.contains(*m)).cloned().collect()
}
