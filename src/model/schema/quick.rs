//! The fast path of `check`: does a stack satisfy the schema, yes or no? It walks
//! `schemas/stack.schema.json` itself for the keywords the schema uses, so a valid stack
//! needs no jsonschema validator compiled (~4 ms, most of a render). "No" only sends the
//! stack to the full validator, which reports every problem; so this answers "yes" only
//! when the validator would: a keyword it does not know makes it answer "no" (and a test
//! fails), and tests/fuzz.rs checks on every generated input that "yes" here is "yes"
//! there.
//!
//! Patterns run on regex-lite, whose compile takes microseconds where `regex`'s takes
//! 30-300: on ASCII text the schema's patterns mean the same there, in `regex` and in
//! ECMA 262 (the validator's dialect); a string with any other character answers "no".

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::schema_json;

/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &["description", "title", "$schema", "$id", "$defs"];

/// Whether `instance` satisfies the schema (see the module doc).
pub fn accepts(instance: &Value) -> bool {
    node(schema_json(), instance)
}

fn node(n: &Value, v: &Value) -> bool {
    let Some(m) = n.as_object() else { return false };
    m.iter().all(|(k, x)| keyword(m, k, x, v))
}

/// One keyword of a schema node `m` holds for `v`.
fn keyword(m: &serde_json::Map<String, Value>, k: &str, x: &Value, v: &Value) -> bool {
    let int = |k: &str| m.get(k).and_then(Value::as_u64);
    match k {
        "$ref" => {
            let def = x.as_str().and_then(|r| r.strip_prefix("#/$defs/")).and_then(|d| schema_json()["$defs"].get(d));
            def.is_some_and(|d| node(d, v))
        }
        "anyOf" => x.as_array().is_some_and(|a| a.iter().any(|b| node(b, v))),
        "type" => match x.as_str() {
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("boolean") => v.is_boolean(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            _ => false,
        },
        "enum" => v.as_str().is_some_and(|s| x.as_array().is_some_and(|a| a.iter().any(|w| w.as_str() == Some(s)))),
        "minLength" | "maxLength" => match (v.as_str(), int(k)) {
            (Some(s), Some(l)) => {
                let len = s.chars().count() as u64;
                if k == "minLength" {
                    len >= l
                } else {
                    len <= l
                }
            }
            (None, Some(_)) => true,
            (_, None) => false,
        },
        "pattern" => match (v.as_str(), x.as_str()) {
            (Some(s), Some(p)) => s.is_ascii() && regex(p).is_some_and(|r| r.is_match(s)),
            (None, Some(_)) => true,
            (_, None) => false,
        },
        "minimum" | "maximum" => match (v, x.as_i64()) {
            (Value::Number(n), Some(l)) => {
                let within = |o: std::cmp::Ordering| if k == "minimum" { o.is_ge() } else { o.is_le() };
                match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => within(i.cmp(&l)),
                    (None, Some(u), _) => within(i128::from(u).cmp(&i128::from(l))),
                    (None, None, Some(f)) => f.partial_cmp(&(l as f64)).is_some_and(within),
                    _ => false,
                }
            }
            (_, Some(_)) => true,
            (_, None) => false,
        },
        "minItems" => match (v.as_array(), int(k)) {
            (Some(a), Some(l)) => a.len() as u64 >= l,
            (None, Some(_)) => true,
            (_, None) => false,
        },
        "items" => v.as_array().is_none_or(|a| a.iter().all(|i| node(x, i))),
        "required" => match (v.as_object(), x.as_array()) {
            (Some(o), Some(r)) => r.iter().all(|k| k.as_str().is_some_and(|k| o.contains_key(k))),
            (None, Some(_)) => true,
            (_, None) => false,
        },
        "propertyNames" => v.as_object().is_none_or(|o| o.keys().all(|k| node(x, &Value::String(k.clone())))),
        "properties" => object(m, v),
        "additionalProperties" => m.contains_key("properties") || object(m, v),
        k if ANNOTATIONS.contains(&k) => true,
        // A keyword this walker does not know: let the full validator decide.
        _ => false,
    }
}

/// `properties` and `additionalProperties` of the node `m` hold for `v`.
fn object(m: &serde_json::Map<String, Value>, v: &Value) -> bool {
    let Some(o) = v.as_object() else { return true };
    let props = m.get("properties").and_then(Value::as_object);
    o.iter().all(|(k, item)| match props.and_then(|p| p.get(k)) {
        Some(sub) => node(sub, item),
        None => match m.get("additionalProperties") {
            None | Some(Value::Bool(true)) => true,
            Some(sub @ Value::Object(_)) => node(sub, item),
            Some(_) => false,
        },
    })
}

/// The compiled pattern, once per process; `None` for a pattern the schema does not have.
fn regex(p: &str) -> Option<&'static regex_lite::Regex> {
    static PATTERNS: OnceLock<BTreeMap<&'static str, OnceLock<regex_lite::Regex>>> = OnceLock::new();
    let all = PATTERNS.get_or_init(|| {
        let mut all = BTreeMap::new();
        patterns(schema_json(), &mut |p| {
            all.insert(p, OnceLock::new());
        });
        all
    });
    let cell = all.get(p)?;
    Some(cell.get_or_init(|| regex_lite::Regex::new(p).expect("schema patterns compile")))
}

/// Every `pattern` in a schema node and below.
fn patterns(n: &'static Value, f: &mut impl FnMut(&'static str)) {
    match n {
        Value::Object(m) => {
            if let Some(p) = m.get("pattern").and_then(Value::as_str) {
                f(p);
            }
            m.values().for_each(|x| patterns(x, f));
        }
        Value::Array(a) => a.iter().for_each(|x| patterns(x, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword of the schema is one the walker knows (else the fast path would
    /// never be taken), and every pattern compiles.
    #[test]
    fn the_walker_knows_every_keyword_of_the_schema() {
        fn walk(n: &Value, at: &str, bad: &mut Vec<String>) {
            let Some(m) = n.as_object() else { return };
            for (k, x) in m {
                let known = ANNOTATIONS.contains(&k.as_str())
                    || [
                        "$ref",
                        "anyOf",
                        "type",
                        "enum",
                        "minLength",
                        "maxLength",
                        "pattern",
                        "minimum",
                        "maximum",
                        "minItems",
                        "items",
                        "required",
                        "propertyNames",
                        "properties",
                        "additionalProperties",
                    ]
                    .contains(&k.as_str());
                if !known {
                    bad.push(format!("{at}: {k}"));
                }
                match (k.as_str(), x) {
                    ("properties" | "$defs", Value::Object(p)) => {
                        p.iter().for_each(|(name, sub)| walk(sub, &format!("{at}/{k}/{name}"), bad));
                    }
                    ("anyOf", Value::Array(a)) => {
                        a.iter().enumerate().for_each(|(i, sub)| walk(sub, &format!("{at}/anyOf/{i}"), bad));
                    }
                    ("items" | "additionalProperties" | "propertyNames", Value::Object(_)) => {
                        walk(x, &format!("{at}/{k}"), bad);
                    }
                    _ => {}
                }
            }
        }
        let mut bad = Vec::new();
        walk(schema_json(), "", &mut bad);
        assert!(bad.is_empty(), "keywords the fast path does not know: {bad:?}");
        let mut n = 0;
        patterns(schema_json(), &mut |p| {
            n += 1;
            assert!(regex(p).is_some(), "{p}");
        });
        assert!(n > 20, "the schema's patterns were found");
    }

    #[test]
    fn accepts_the_examples_and_refuses_non_ascii_pattern_values() {
        for stack in ["sharded-64", "static-iscsi", "ceph-thanos"] {
            let text = std::fs::read_to_string(format!("{}/stacks/{stack}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let parsed = crate::source::parse(&text).unwrap();
            assert!(accepts(&parsed.json), "{stack}");
            let mut bad = parsed.json.clone();
            bad["stack"]["name"] = Value::String("prométheus".into());
            assert!(!accepts(&bad), "{stack}");
        }
    }
}
