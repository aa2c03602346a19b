//! Render a validated [`Stack`] into Kubernetes objects. Objects are typed k8s-openapi
//! structs, converted to JSON values once and sorted by (kind rank, namespace, name);
//! `yaml.rs` writes them. Nothing here reads the clock, the environment or a hash map,
//! so the same stack gives the same bytes everywhere.

pub(crate) mod blackbox;
pub mod dashboard;
pub(crate) mod expose;
pub mod helm;
pub(crate) mod k8s;
pub(crate) mod network;
pub mod operator;
pub(crate) mod pod;
pub mod prometheus;
pub(crate) mod scanners;
pub(crate) mod storage;
pub(crate) mod thanos;
pub(crate) mod workloads;
pub mod yaml;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::Stack;

/// The first line of every file stackgen writes (`-o DIR`, helm-values): it tells a
/// reader not to edit the file, and tells `-o` which files in a directory are stackgen's
/// to replace or prune.
pub const HEADER: &str = "# Rendered by stackgen from stack.toml; edit the stack, not this file.\n";

/// Kinds in apply order: what others depend on comes first.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "StorageClass",
    "PersistentVolume",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "Ingress",
    "StatefulSet",
    "Deployment",
    "PodDisruptionBudget",
    "NetworkPolicy",
];

/// One rendered object.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub value: Value,
}

impl Object {
    pub fn new<
        T: Serialize
            + k8s_openapi::Resource
            + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    >(
        o: &T,
    ) -> Self {
        let meta = o.metadata();
        Object {
            kind: T::KIND.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            value: serde_json::to_value(o).expect("k8s objects serialize"),
        }
    }
    fn rank(&self) -> usize {
        KIND_ORDER.iter().position(|k| *k == self.kind).unwrap_or(KIND_ORDER.len())
    }
    /// Its place in the stream: kinds in apply order, then namespace, then name.
    fn order(&self) -> Order<'_> {
        (self.rank(), self.namespace.as_deref().map(Cow::Borrowed), Cow::Borrowed(&self.name))
    }
    /// `<kind>-<name>.yaml`, lower case, for `-o DIR`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_lowercase(), self.name)
    }
}

/// Where an object goes in the stream (see [`Object::order`]).
type Order<'a> = (usize, Option<Cow<'a, str>>, Cow<'a, str>);

/// Names and labels shared by every builder.
pub struct Names<'a> {
    pub stack: &'a Stack,
}

impl Names<'_> {
    pub fn ns(&self) -> String {
        self.stack.namespace.to_string()
    }
    /// `<stack>-<suffix>` for namespaced objects.
    pub fn obj(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.stack.name)
    }
    /// `<namespace>-<stack>-<suffix>` for cluster-scoped objects, so two stacks of the
    /// same name in different namespaces do not collide.
    pub fn cluster(&self, suffix: &str) -> String {
        format!("{}-{}-{suffix}", self.stack.namespace, self.stack.name)
    }
    /// The name of a shard's objects. `shard` is its number, or the sentinel of a shard
    /// template (see [`ShardTemplates`]).
    pub fn shard(&self, shard: &str) -> String {
        self.obj(&format!("prometheus-shard-{shard}"))
    }
    /// Selector labels of a component: stable for the life of the stack.
    pub fn selector(&self, name: &str, shard: Option<&str>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("app.kubernetes.io/name".into(), name.to_string());
        m.insert("app.kubernetes.io/instance".into(), self.stack.name.to_string());
        if let Some(s) = shard {
            m.insert("stackgen.dev/shard".into(), s.to_string());
        }
        m
    }
    /// All labels of an object: selector labels, component, part-of, managed-by, and the
    /// stack's own labels.
    pub fn labels(&self, name: &str, component: &str, shard: Option<&str>) -> BTreeMap<String, String> {
        let mut m = self.stack.labels.clone();
        m.extend(self.selector(name, shard));
        m.insert("app.kubernetes.io/component".into(), component.to_string());
        m.insert("app.kubernetes.io/part-of".into(), "stackgen".into());
        m.insert("app.kubernetes.io/managed-by".into(), "stackgen".into());
        m
    }
    pub fn cluster_domain(&self) -> &str {
        &self.stack.kubernetes.cluster_domain
    }
    /// Fully qualified name of a Service in the stack's namespace.
    pub fn svc_fqdn(&self, svc: &str) -> String {
        format!("{svc}.{}.svc.{}", self.stack.namespace, self.cluster_domain())
    }
}

/// The per-shard objects of a sharded stack (ConfigMap, Service, StatefulSet, PDB), built
/// once with a sentinel where the shard number goes. Each shard's objects are these with
/// its number substituted: in the JSON values by [`render`], in the emitted YAML text by
/// [`write_stream`], which is how a 64-shard stack renders without building 256 object
/// trees. Both give the same bytes because the sentinel is written exactly as a number
/// is: it starts with a digit (so where it stands alone it is quoted, as `"7"` is), the
/// rest is plain-safe, and nothing in the emitter depends on a scalar's length. Names and
/// labels are built from the sentinel like from a number; static PVs, which differ per
/// pod in more than the number (node, LUN), are not part of the template.
pub struct ShardTemplates {
    pub sentinel: String,
    pub shards: u16,
    pub objects: Vec<Object>,
}

impl ShardTemplates {
    /// A sentinel no string of the stack contains, so nothing but the template's own
    /// placeholders is ever substituted. Upper case and `_` keep it out of anything built
    /// by joining names (DNS labels); `Debug` shows every string of the model verbatim.
    fn sentinel(stack: &Stack) -> String {
        let all = format!("{stack:?}");
        (0u32..)
            .map(|k| format!("0STACKGEN_SHARD_{k}"))
            .find(|s| !all.contains(s.as_str()))
            .expect("a finite text misses some sentinel")
    }

    /// Where template object `t` goes in the stream for shard `num`.
    fn order_in(&self, t: &Object, num: &str) -> Order<'static> {
        let sub = |s: &str| Cow::Owned(s.replace(&self.sentinel, num));
        (t.rank(), t.namespace.as_deref().map(sub), sub(&t.name))
    }

    /// The objects of one shard as values.
    fn instantiate(&self, shard: u16) -> impl Iterator<Item = Object> + '_ {
        (0..self.objects.len()).map(move |t| self.instantiate_one(t, shard))
    }
}

/// A copy of `v` with `from` replaced by `to` in every string and key.
fn substitute(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, from, to)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.replace(from, to), substitute(x, from, to))).collect())
        }
        other => other.clone(),
    }
}

/// Every object but the per-shard ones of a sharded stack, unsorted, and those as
/// templates.
fn build(stack: &Stack) -> (Vec<Object>, Option<ShardTemplates>) {
    let n = Names { stack };
    let shards = stack.sharding.shards;
    let mut objs = Vec::with_capacity(32);
    if stack.owns_namespace() {
        objs.push(k8s::namespace(&n));
    }
    storage::objects(&n, &storage::Claims::StatefulSets, &mut objs);
    prometheus::objects(&n, &mut objs);
    let templates = if shards > 1 {
        let sentinel = ShardTemplates::sentinel(stack);
        let mut t = Vec::with_capacity(4);
        prometheus::shard_objects(&n, &sentinel, &mut t);
        scanners::annotate(&mut t);
        Some(ShardTemplates { sentinel, shards, objects: t })
    } else {
        prometheus::shard_objects(&n, "0", &mut objs);
        None
    };
    for shard in shards..stack.sharding.kept() {
        prometheus::retired_shard_objects(&n, shard, &mut objs);
    }
    if stack.thanos.is_some() {
        thanos::objects(&n, thanos::Sidecars::Own, &mut objs);
    }
    workloads::objects(&n, &mut objs);
    expose::objects(&n, &crate::model::expose::Exposed::ALL, &mut objs);
    blackbox::objects(&n, &mut objs);
    network::objects(&n, &network::Peers::Stackgen, &mut objs);
    scanners::annotate(&mut objs);
    (objs, templates)
}

/// Every object of the stack, in apply order.
pub fn render(stack: &Stack) -> Vec<Object> {
    let (mut objs, templates) = build(stack);
    if let Some(t) = &templates {
        objs.reserve(usize::from(t.shards) * t.objects.len());
        for shard in 0..t.shards {
            objs.extend(t.instantiate(shard));
        }
    }
    sort(&mut objs);
    objs
}

/// One document of the render in stream order: an object built as a value, or shard
/// `shard` of shard template `template`.
#[derive(Debug, Clone, Copy)]
enum DocRef {
    Object(usize),
    Shard(usize, u16),
}

/// The render of a stack as documents in stream order, each available as its YAML text
/// (the bytes [`write_stream`] writes for it) and, on demand, as a value, without
/// building every shard's objects: a shard's text is its template's text with the shard
/// number where the sentinel was. `render --check`, `-o DIR` and `diff` compare and write
/// these texts; `diff` builds values only for the documents that differ.
pub struct Documents {
    objs: Vec<Object>,
    templates: Option<ShardTemplates>,
    /// Each template's text, split at the sentinel.
    pieces: Vec<Vec<String>>,
    order: Vec<DocRef>,
}

impl Documents {
    pub fn new(stack: &Stack) -> Documents {
        let (objs, templates) = build(stack);
        let pieces: Vec<Vec<String>> = match &templates {
            Some(t) => t
                .objects
                .iter()
                .map(|o| {
                    let mut text = String::with_capacity(4096);
                    yaml::write_document(&mut text, &o.value);
                    text.split(t.sentinel.as_str()).map(str::to_string).collect()
                })
                .collect(),
            None => Vec::new(),
        };
        let mut docs: Vec<(Order<'_>, DocRef)> =
            objs.iter().enumerate().map(|(i, o)| (o.order(), DocRef::Object(i))).collect();
        if let Some(t) = &templates {
            docs.reserve(usize::from(t.shards) * t.objects.len());
            // Each template's namespace and name split at the sentinel once; a shard's
            // are the pieces joined with its number (what `order_in` gives, without a
            // search per shard).
            fn split<'a>(s: &'a str, sentinel: &str) -> Vec<&'a str> {
                s.split(sentinel).collect()
            }
            let split = |s| split(s, &t.sentinel);
            let names: Vec<_> =
                t.objects.iter().map(|o| (o.rank(), o.namespace.as_deref().map(split), split(&o.name))).collect();
            let join = |pieces: &[&str], num: &str| {
                let mut s = String::with_capacity(pieces.iter().map(|p| p.len()).sum::<usize>() + 8);
                for (j, p) in pieces.iter().enumerate() {
                    if j > 0 {
                        s.push_str(num);
                    }
                    s.push_str(p);
                }
                Cow::Owned(s)
            };
            for shard in 0..t.shards {
                let num = shard.to_string();
                for (i, (rank, ns, name)) in names.iter().enumerate() {
                    let order = (*rank, ns.as_deref().map(|p| join(p, &num)), join(name, &num));
                    docs.push((order, DocRef::Shard(i, shard)));
                }
            }
        }
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        let order = docs.into_iter().map(|(_, d)| d).collect();
        Documents { objs, templates, pieces, order }
    }

    /// How many documents (objects) the render has.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn template(&self) -> &ShardTemplates {
        self.templates.as_ref().expect("a shard document has templates")
    }

    /// Append document `i`'s YAML (no `---` separator).
    pub fn write(&self, i: usize, out: &mut String) {
        match self.order[i] {
            DocRef::Object(o) => yaml::write_document(out, &self.objs[o].value),
            DocRef::Shard(t, shard) => {
                use std::fmt::Write;
                let mut num = String::new();
                write!(num, "{shard}").expect("writing to a String cannot fail");
                for (j, piece) in self.pieces[t].iter().enumerate() {
                    if j > 0 {
                        out.push_str(&num);
                    }
                    out.push_str(piece);
                }
            }
        }
    }

    /// Document `i`'s YAML.
    pub fn text(&self, i: usize) -> String {
        let mut s = String::with_capacity(4096);
        self.write(i, &mut s);
        s
    }

    /// Document `i` as the object [`render`] gives for it.
    pub fn object(&self, i: usize) -> Object {
        match self.order[i] {
            DocRef::Object(o) => self.objs[o].clone(),
            DocRef::Shard(t, shard) => self.template().instantiate_one(t, shard),
        }
    }

    /// Kind, namespace and name of document `i`.
    pub fn meta(&self, i: usize) -> (&str, Option<Cow<'_, str>>, Cow<'_, str>) {
        match self.order[i] {
            DocRef::Object(o) => {
                let o = &self.objs[o];
                (&o.kind, o.namespace.as_deref().map(Cow::Borrowed), Cow::Borrowed(&o.name))
            }
            DocRef::Shard(t, shard) => {
                let tp = self.template();
                let o = &tp.objects[t];
                let (_, ns, name) = tp.order_in(o, &shard.to_string());
                (&o.kind, ns, name)
            }
        }
    }

    /// The `apiVersion` of document `i` (never templated).
    pub fn api_version(&self, i: usize) -> Option<&str> {
        let v = match self.order[i] {
            DocRef::Object(o) => &self.objs[o].value,
            DocRef::Shard(t, _) => &self.template().objects[t].value,
        };
        v.get("apiVersion").and_then(Value::as_str)
    }

    /// `<kind>-<name>.yaml` of document `i`, as [`Object::file_name`].
    pub fn file_name(&self, i: usize) -> String {
        let (kind, _, name) = self.meta(i);
        format!("{}-{}.yaml", kind.to_lowercase(), name)
    }

    /// Write the whole render as one multi-document YAML stream, in chunks of about 64
    /// KiB: the whole stream is never held in memory.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        const CHUNK: usize = 64 * 1024;
        let mut buf = String::with_capacity(CHUNK + 16 * 1024);
        for i in 0..self.len() {
            if i > 0 {
                buf.push_str("---\n");
            }
            self.write(i, &mut buf);
            if buf.len() >= CHUNK {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        out.write_all(buf.as_bytes())
    }

    /// The whole render as one multi-document YAML stream, in memory.
    pub fn stream(&self) -> String {
        let mut out = String::with_capacity(self.len() * 2048);
        for i in 0..self.len() {
            if i > 0 {
                out.push_str("---\n");
            }
            self.write(i, &mut out);
        }
        out
    }
}

impl ShardTemplates {
    /// Template object `t` of shard `shard` as a value.
    fn instantiate_one(&self, t: usize, shard: u16) -> Object {
        let num = shard.to_string();
        let o = &self.objects[t];
        let (_, namespace, name) = self.order_in(o, &num);
        Object {
            kind: o.kind.clone(),
            namespace: namespace.map(Cow::into_owned),
            name: name.into_owned(),
            value: substitute(&o.value, &self.sentinel, &num),
        }
    }
}

/// Write the whole render as one multi-document YAML stream: the bytes of
/// `to_yaml(&render(stack))`, with each shard's objects copied from their template's
/// text rather than built and emitted again (a test holds the two paths equal).
pub fn write_stream(stack: &Stack, out: &mut impl std::io::Write) -> std::io::Result<()> {
    Documents::new(stack).write_to(out)
}

pub fn sort(objs: &mut [Object]) {
    objs.sort_by(|a, b| a.order().cmp(&b.order()));
}

/// The whole render as one multi-document YAML stream.
pub fn to_yaml(objs: &[Object]) -> String {
    yaml::to_stream(objs.iter().map(|o| &o.value))
}
