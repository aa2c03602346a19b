//! The drift test between the two descriptions of stack.toml's shape: the JSON Schema
//! (`schemas/stack.schema.json`, the one source of truth: keys, types, formats, ranges,
//! what editors and `check` use) and the raw serde types (`model::raw`), which must read
//! exactly what it accepts. The raw types are traced through serde itself (a
//! deserializer that records what each type asks for), so the test sees what serde
//! sees: field names after `rename`, which fields are required, enum spellings, whether
//! unknown keys are refused, integer widths.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::schema_json;
use crate::model::raw::RawStack;

/// What a raw type reads.
#[derive(Debug, Clone)]
enum Shape {
    Bool,
    /// An integer and the range of its Rust type.
    Int(i128, i128),
    /// A floating-point number (`bytes_per_sample`).
    Float,
    Str,
    Seq(Box<Shape>),
    /// A map with string keys (labels).
    Map(Box<Shape>),
    Enum(Vec<&'static str>),
    Struct(&'static str, Vec<(&'static str, Shape)>),
    Option(Box<Shape>),
    /// A value of either shape (`resources = "auto"` or a table), read with
    /// `deserialize_any`: the string is `"auto"`, the table is traced on its own (see
    /// [`UNIONS`]).
    Any,
}

/// Traces the table type of a word-or-table key.
type TraceTable = fn(Probe) -> Result<Shape, Error>;

/// The raw types read with `deserialize_any` (a word or a table), by schema path: the
/// tracer answers them with the word, and the test traces their table type here.
const UNIONS: &[(&str, TraceTable)] =
    &[("/prometheus/resources", |p| trace_type::<crate::model::raw::RawResources>(p))];

#[derive(Debug)]
struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Error {}
impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// A variation of the trace: leave one field of one struct out, or add an unknown key.
#[derive(Clone, Copy, Default)]
struct Probe {
    omit: Option<(&'static str, &'static str)>,
    unknown_in: Option<&'static str>,
}

thread_local! {
    static SHAPE: RefCell<Vec<Shape>> = const { RefCell::new(Vec::new()) };
}

/// A deserializer that answers every request with a minimal value and records the shape.
struct Tracer(Probe);

impl Tracer {
    fn leaf<T>(shape: Shape, v: Result<T, Error>) -> Result<T, Error> {
        SHAPE.with(|s| s.borrow_mut().push(shape));
        v
    }
    /// Run `f` and return the shape recorded by it.
    fn nested<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<(T, Shape), Error> {
        let depth = SHAPE.with(|s| s.borrow().len());
        let t = f()?;
        let shape = SHAPE.with(|s| s.borrow_mut().drain(depth..).next()).expect("a shape was recorded");
        Ok((t, shape))
    }
}

macro_rules! ints {
    ($($m:ident $t:ty),*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            Self::leaf(Shape::Int(i128::from(<$t>::MIN), i128::from(<$t>::MAX)), v.visit_u8(0))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Tracer {
    type Error = Error;
    /// Only the word-or-table types of [`UNIONS`] ask for any value: answer with the word.
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Any, v.visit_str("auto"))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Float, v.visit_f64(0.0))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Float, v.visit_f32(0.0))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Bool, v.visit_bool(false))
    }
    ints!(deserialize_i8 i8, deserialize_i16 i16, deserialize_i32 i32, deserialize_i64 i64,
          deserialize_u8 u8, deserialize_u16 u16, deserialize_u32 u32, deserialize_u64 u64);
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Str, v.visit_str(""))
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let (value, inner) = Self::nested(|| v.visit_some(Tracer(self.0)))?;
        Self::leaf(Shape::Option(Box::new(inner)), Ok(value))
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let (value, item) = Self::nested(|| v.visit_seq(OneItem(Some(self.0))))?;
        Self::leaf(Shape::Seq(Box::new(item)), Ok(value))
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let (value, item) = Self::nested(|| v.visit_map(Fields { probe: self.0, keys: vec!["key"], at: 0 }))?;
        Self::leaf(Shape::Map(Box::new(item)), Ok(value))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let mut keys: Vec<&'static str> = fields.iter().copied().filter(|f| self.0.omit != Some((name, f))).collect();
        if self.0.unknown_in == Some(name) {
            keys.push("no_such_key");
        }
        let depth = SHAPE.with(|s| s.borrow().len());
        let value = v.visit_map(Fields { probe: self.0, keys: keys.clone(), at: 0 })?;
        let shapes: Vec<Shape> = SHAPE.with(|s| s.borrow_mut().drain(depth..).collect());
        Self::leaf(Shape::Struct(name, keys.into_iter().zip(shapes).collect()), Ok(value))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        Self::leaf(Shape::Enum(variants.to_vec()), v.visit_enum(variants[0].into_deserializer()))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }
    /// The value of an unknown key, which a struct without `deny_unknown_fields` skips.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        Self::leaf(Shape::Bool, v.visit_unit())
    }
    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct
    }
}

/// A sequence of one item.
struct OneItem(Option<Probe>);

impl<'de> de::SeqAccess<'de> for OneItem {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.take().map(|p| seed.deserialize(Tracer(p))).transpose()
    }
}

/// A map with the given keys, each value traced.
struct Fields {
    probe: Probe,
    keys: Vec<&'static str>,
    at: usize,
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(key) = self.keys.get(self.at) else { return Ok(None) };
        self.at += 1;
        // Keys are read without recording a shape.
        seed.deserialize(de::value::StrDeserializer::<Error>::new(key)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(Tracer(self.probe))
    }
}

fn trace(probe: Probe) -> Result<Shape, Error> {
    trace_type::<RawStack>(probe)
}

fn trace_type<T: for<'de> Deserialize<'de>>(probe: Probe) -> Result<Shape, Error> {
    SHAPE.with(|s| s.borrow_mut().clear());
    let (_, shape) = Tracer::nested(|| T::deserialize(Tracer(probe)))?;
    Ok(shape)
}

/// Every (struct, field) of a shape.
fn struct_fields(shape: &Shape, out: &mut BTreeSet<(&'static str, &'static str)>) {
    match shape {
        Shape::Struct(name, fields) => {
            for (f, s) in fields {
                out.insert((name, f));
                struct_fields(s, out);
            }
        }
        Shape::Seq(s) | Shape::Map(s) | Shape::Option(s) => struct_fields(s, out),
        _ => {}
    }
}

fn resolve(node: &Value) -> &Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(d) => &schema_json()["$defs"][d],
        None => node,
    }
}

/// The JSON type names a node allows (through `$ref` and `anyOf`).
fn types(node: &Value) -> BTreeSet<String> {
    let node = resolve(node);
    match node.get("anyOf").and_then(Value::as_array) {
        Some(branches) => branches.iter().flat_map(types).collect(),
        None => node.get("type").and_then(Value::as_str).map(String::from).into_iter().collect(),
    }
}

fn compare(shape: &Shape, node: &Value, at: &str, required: &BTreeSet<(&str, &str)>, errs: &mut Vec<String>) {
    let node = resolve(node);
    let want = |t: &str, errs: &mut Vec<String>| {
        let have = types(node);
        if have != BTreeSet::from([t.to_string()]) {
            errs.push(format!("{at}: the raw type reads {t}, the schema says {have:?}"));
        }
    };
    match shape {
        Shape::Option(s) => compare(s, node, at, required, errs),
        Shape::Bool => want("boolean", errs),
        Shape::Float => want("number", errs),
        Shape::Str => want("string", errs),
        Shape::Any => {
            let Some((_, table)) = UNIONS.iter().find(|(p, _)| *p == at) else {
                errs.push(format!("{at}: a raw type reads any value; only the word-or-table keys of UNIONS may"));
                return;
            };
            let branches = node.get("anyOf").and_then(Value::as_array).cloned().unwrap_or_default();
            let word = branches.iter().any(|b| b.get("enum") == Some(&serde_json::json!(["auto"])));
            let object = branches.iter().find(|b| resolve(b).get("type") == Some(&Value::from("object")));
            match (word, object, table(Probe::default())) {
                (true, Some(obj), Ok(shape)) => compare(&shape, obj, at, required, errs),
                _ => errs.push(format!("{at}: the schema must be anyOf [\"auto\", a table] as the raw type reads")),
            }
        }
        Shape::Int(lo, hi) => {
            want("integer", errs);
            let min = node.get("minimum").and_then(Value::as_i64).map_or(i128::from(i64::MIN), i128::from);
            let max = node.get("maximum").and_then(Value::as_i64).map_or(i128::from(u64::MAX), i128::from);
            if min < *lo || max > *hi {
                errs.push(format!("{at}: the schema allows {min}..={max}, the raw type holds {lo}..={hi}"));
            }
        }
        Shape::Enum(variants) => {
            want("string", errs);
            let words: BTreeSet<&str> =
                node.get("enum").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            if words != variants.iter().copied().collect() {
                errs.push(format!("{at}: the raw enum reads {variants:?}, the schema's enum is {words:?}"));
            }
        }
        Shape::Seq(item) => {
            want("array", errs);
            compare(item, node.get("items").unwrap_or(&Value::Null), &format!("{at}/[]"), required, errs);
        }
        Shape::Map(value) => {
            want("object", errs);
            match node.get("additionalProperties") {
                Some(sub @ Value::Object(_)) => compare(value, sub, &format!("{at}/*"), required, errs),
                _ => errs.push(format!("{at}: a map in the raw types needs additionalProperties in the schema")),
            }
        }
        Shape::Struct(name, fields) => {
            want("object", errs);
            if node.get("additionalProperties") != Some(&Value::Bool(false)) {
                errs.push(format!("{at}: the raw type refuses unknown keys, the schema must too"));
            }
            let props = node.get("properties").and_then(Value::as_object);
            let keys: BTreeSet<&str> = props.into_iter().flatten().map(|(k, _)| k.as_str()).collect();
            let names: BTreeSet<&str> = fields.iter().map(|(f, _)| *f).collect();
            if keys != names {
                errs.push(format!(
                    "{at}: keys only the raw type reads: {:?}; only the schema has: {:?}",
                    names.difference(&keys).collect::<Vec<_>>(),
                    keys.difference(&names).collect::<Vec<_>>()
                ));
            }
            let schema_required: BTreeSet<&str> = node
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let raw_required: BTreeSet<&str> =
                fields.iter().map(|(f, _)| *f).filter(|f| required.contains(&(*name, *f))).collect();
            if schema_required != raw_required {
                errs.push(format!("{at}: the schema requires {schema_required:?}, the raw type {raw_required:?}"));
            }
            for (f, s) in fields {
                if let Some(sub) = props.and_then(|p| p.get(*f)) {
                    compare(s, sub, &format!("{at}/{f}"), required, errs);
                }
            }
        }
    }
}

#[test]
fn the_raw_types_read_exactly_what_the_schema_accepts() {
    let shape = trace(Probe::default()).expect("the raw types can be traced");
    let mut fields = BTreeSet::new();
    struct_fields(&shape, &mut fields);
    // A field is required when leaving it out fails (Option and `#[serde(default)]` don't).
    let required: BTreeSet<(&str, &str)> =
        fields.iter().copied().filter(|&f| trace(Probe { omit: Some(f), ..Probe::default() }).is_err()).collect();
    let mut errs = Vec::new();
    let structs: BTreeSet<&str> = fields.iter().map(|(s, _)| *s).collect();
    for s in structs {
        if trace(Probe { unknown_in: Some(s), ..Probe::default() }).is_ok() {
            errs.push(format!("{s} accepts unknown keys: add #[serde(deny_unknown_fields)]"));
        }
    }
    // The tables of word-or-table keys: unknown keys refused, no required field missed.
    let mut required = required;
    for (at, table) in UNIONS {
        let shape = table(Probe::default()).expect("the table type can be traced");
        let mut theirs = BTreeSet::new();
        struct_fields(&shape, &mut theirs);
        for &(s, f) in &theirs {
            if table(Probe { unknown_in: Some(s), ..Probe::default() }).is_ok() {
                errs.push(format!("{at}: {s} accepts unknown keys: add #[serde(deny_unknown_fields)]"));
            }
            if table(Probe { omit: Some((s, f)), ..Probe::default() }).is_err() {
                required.insert((s, f));
            }
        }
    }
    compare(&shape, schema_json(), "", &required, &mut errs);
    assert!(errs.is_empty(), "schemas/stack.schema.json and model/raw.rs disagree:\n{}", errs.join("\n"));
}

#[test]
fn the_drift_test_sees_a_difference() {
    let shape = Shape::Struct("T", vec![("a", Shape::Str), ("b", Shape::Int(0, 255))]);
    let node = serde_json::json!({"type": "object", "additionalProperties": false, "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "maximum": 300}, "c": {"type": "string"}}});
    let mut errs = Vec::new();
    compare(&shape, &node, "", &BTreeSet::from([("T", "a")]), &mut errs);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("only the schema has: [\"c\"]") && errs[1].contains("0..=255"), "{errs:?}");
}
