//! Comparing one object: remove what the API server adds, keep only what stackgen sets
//! (the subset rule of tanka's diff), and line the old object up with the new one so the
//! text diff shows only real changes.

use serde_json::{Map, Value};

use crate::model::units::quantity_nanos;

/// The annotation `kubectl apply` (client-side) records the applied object in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Metadata the API server or a controller sets: never a change.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations controllers write on objects stackgen renders.
const SERVER_ANNOTATIONS: &[&str] = &[LAST_APPLIED, "deployment.kubernetes.io/revision"];

/// Whether an object was read from a cluster rather than from a render.
pub fn looks_live(v: &Value) -> bool {
    let meta = &v["metadata"];
    v.get("status").is_some() || SERVER_METADATA.iter().any(|k| meta.get(*k).is_some())
}

/// The object `kubectl apply` last applied, from its annotation, when there is one.
pub fn last_applied(v: &Value) -> Option<Value> {
    let text = v["metadata"]["annotations"][LAST_APPLIED].as_str()?;
    serde_json::from_str(text).ok()
}

/// Remove status, server-set metadata and controller annotations.
pub fn strip_server_fields(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    obj.remove("status");
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    for k in SERVER_METADATA {
        meta.remove(*k);
    }
    let empty = match meta.get_mut("annotations").and_then(Value::as_object_mut) {
        Some(a) => {
            for k in SERVER_ANNOTATIONS {
                a.remove(*k);
            }
            a.is_empty()
        }
        None => false,
    };
    if empty {
        meta.remove("annotations");
    }
}

/// The part of a live value that stackgen sets: for maps, only the keys present in the
/// desired value (or in the last-applied one, so a key stackgen stopped setting shows as
/// removed); lists element by element with the same rule; scalars as they are. A key
/// the desired value has and the live one lacks stays missing, so it shows as a change.
pub fn subset(live: &Value, want: Option<&Value>, last: Option<&Value>) -> Value {
    match live {
        Value::Object(lm) => {
            let wm = want.and_then(Value::as_object);
            let am = last.and_then(Value::as_object);
            if wm.is_none() && am.is_none() {
                return live.clone();
            }
            let mut out = Map::new();
            for (k, wv) in wm.into_iter().flatten() {
                if let Some(lv) = lm.get(k) {
                    out.insert(k.clone(), subset(lv, Some(wv), am.and_then(|a| a.get(k))));
                } else if omitted_when_empty(wv) {
                    // The API server drops empty lists and maps, `false` and `""` of
                    // `omitempty` fields (NetworkPolicy `ingress: []`, a volume source's
                    // `readOnly: false`): live, they are absent, which is no change.
                    out.insert(k.clone(), wv.clone());
                }
            }
            for (k, av) in am.into_iter().flatten() {
                if !out.contains_key(k) {
                    if let Some(lv) = lm.get(k) {
                        out.insert(k.clone(), subset(lv, wm.and_then(|w| w.get(k)), Some(av)));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(la) => {
            let wa = want.and_then(Value::as_array);
            let aa = last.and_then(Value::as_array);
            if wa.is_none() && aa.is_none() {
                return live.clone();
            }
            Value::Array(
                la.iter()
                    .enumerate()
                    .map(|(i, lv)| {
                        let w = wa.and_then(|w| w.get(i));
                        let a = aa.and_then(|a| a.get(i));
                        if w.is_none() && a.is_none() {
                            lv.clone()
                        } else {
                            subset(lv, w, a)
                        }
                    })
                    .collect(),
            )
        }
        _ => live.clone(),
    }
}

/// A value the API server does not store for an `omitempty` field: read back, the key is
/// absent (checked against kube-apiserver 1.33 in tests/control_plane.rs).
fn omitted_when_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// Keys whose string values are Kubernetes quantities: the API server rewrites them in
/// canonical form (`0.5` → `500m`, `1024Mi` → `1Gi`), which is no change.
const QUANTITY_KEYS: &[&str] = &["cpu", "memory", "storage", "ephemeral-storage", "sizeLimit"];

/// Give `old` the key order of `new` (recursively) and `new`'s spelling of quantities
/// that are equal in value, so a text diff shows only what changes.
pub fn align(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(om), Value::Object(nm)) => {
            let mut out = Map::new();
            for (k, nv) in nm {
                if let Some(ov) = om.get(k) {
                    let v = match (ov, nv) {
                        (Value::String(a), Value::String(b))
                            if a != b
                                && QUANTITY_KEYS.contains(&k.as_str())
                                && quantity_nanos(a).is_some()
                                && quantity_nanos(a) == quantity_nanos(b) =>
                        {
                            nv.clone()
                        }
                        _ => align(ov, nv),
                    };
                    out.insert(k.clone(), v);
                }
            }
            for (k, ov) in om {
                if !nm.contains_key(k) {
                    out.insert(k.clone(), ov.clone());
                }
            }
            Value::Object(out)
        }
        (Value::Array(oa), Value::Array(na)) => Value::Array(
            oa.iter().enumerate().map(|(i, ov)| na.get(i).map_or_else(|| ov.clone(), |nv| align(ov, nv))).collect(),
        ),
        _ => old.clone(),
    }
}

/// A live Secret shows what stackgen wrote as `stringData` as base64 `data`: for the
/// Secrets the render writes with `stringData`, the live `data` is read back as
/// `stringData` (values that are not base64 of UTF-8 are left as they are, and differ).
pub fn as_string_data(news: &[super::Doc], olds: &mut [super::Doc]) {
    use base64::Engine;
    for old in olds.iter_mut().filter(|d| d.live && d.key.kind == "Secret") {
        let Some(new) = news.iter().find(|n| n.key == old.key) else { continue };
        if new.value.get("stringData").is_none() {
            continue;
        }
        let Some(data) = old.value.get("data").and_then(Value::as_object) else { continue };
        let decoded: Option<Map<String, Value>> = data
            .iter()
            .map(|(k, v)| {
                let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok()?;
                Some((k.clone(), Value::String(String::from_utf8(bytes).ok()?)))
            })
            .collect();
        if let (Some(decoded), Some(m)) = (decoded, old.value.as_object_mut()) {
            m.remove("data");
            m.insert("stringData".into(), Value::Object(decoded));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_secret_data_reads_back_as_string_data() {
        let key = super::super::Key {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("m".into()),
            name: "s".into(),
        };
        let new = super::super::Doc { key: key.clone(), value: json!({"stringData": {"a": "x: 1\n"}}), live: false };
        let live = |data: Value| super::super::Doc { key: key.clone(), value: json!({"data": data}), live: true };
        let mut olds = vec![live(json!({"a": "eDogMQo="}))];
        as_string_data(std::slice::from_ref(&new), &mut olds);
        assert_eq!(olds[0].value, json!({"stringData": {"a": "x: 1\n"}}));
        // Not base64, or not UTF-8: left as it is (and so a difference).
        for bad in ["eDogMQo", "/w=="] {
            let mut olds = vec![live(json!({"a": bad}))];
            as_string_data(std::slice::from_ref(&new), &mut olds);
            assert_eq!(olds[0].value, json!({"data": {"a": bad}}), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_nanos("0.5"), quantity_nanos("500m"));
        assert_eq!(quantity_nanos("1024Mi"), quantity_nanos("1Gi"));
        assert_eq!(quantity_nanos("1e3"), quantity_nanos("1k"));
        assert_ne!(quantity_nanos("1G"), quantity_nanos("1Gi"));
        assert_eq!(quantity_nanos("abc"), None);
    }

    #[test]
    fn subset_keeps_only_desired_keys() {
        let live = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"x": 1, "y": 2}], "s": 9});
        let want = json!({"a": 1, "b": {"c": 2}, "l": [{"x": 1}], "m": 5});
        assert_eq!(subset(&live, Some(&want), None), json!({"a": 1, "b": {"c": 2}, "l": [{"x": 1}]}));
        // What the server drops from omitempty fields is no change when it is absent live.
        let live = json!({"spec": {"podSelector": {}, "iscsi": {"lun": 1}}});
        let want = json!({"spec": {"podSelector": {}, "ingress": [], "iscsi": {"lun": 1, "readOnly": false}, "n": 0}});
        assert_eq!(
            subset(&live, Some(&want), None),
            json!({"spec": {"podSelector": {}, "ingress": [], "iscsi": {"lun": 1, "readOnly": false}}})
        );
        let live = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"x": 1, "y": 2}], "s": 9});
        let last = json!({"s": 9});
        assert_eq!(subset(&live, Some(&want), Some(&last))["s"], json!(9));
    }
}
