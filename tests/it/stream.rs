//! `render` streams the YAML with each shard's objects copied from one template's text
//! (`render::write_stream`, `render::Documents`, which `--check`, `-o DIR` and `diff` use
//! too); `render::render` builds every object as a value. The two must give the same
//! bytes, and the configuration files embedded in ConfigMaps must be YAML.

use serde_json::Value;

fn variants() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        // Named by their path from the repository root, so `[rules] files` are found.
        crate::common::stacks()
            .iter()
            .map(|p| {
                let name = p.strip_prefix(crate::common::root()).unwrap_or(p).display().to_string();
                (name, std::fs::read_to_string(p).unwrap())
            })
            .collect();
    let sharded = std::fs::read_to_string(crate::common::root().join("stacks/sharded-64.toml")).unwrap();
    for shards in [1, 2, 3, 11, 100] {
        let text = sharded.replace("\nshards = 64\n", &format!("\nshards = {shards}\n"));
        assert_ne!(text, sharded);
        v.push((format!("sharded-{shards}"), text));
    }
    // A static backend with shards: per-pod PVs stay values beside the shard templates.
    let nfs = std::fs::read_to_string(crate::common::root().join("stacks/static-nfs.toml")).unwrap();
    assert!(!nfs.contains("[sharding]"));
    v.push(("static-nfs-3-shards".into(), format!("{nfs}\n[sharding]\nshards = 3\n")));
    // Static component PVs (a directory per pod on the export), Thanos, Alertmanager, a
    // namespace stackgen does not create and extra DNS addresses, with shards.
    let components = nfs
        .replace("component_class = \"standard\"\n", "")
        .replace("namespace = \"monitoring\"", "namespace = \"monitoring\"\ncreate_namespace = false");
    assert_ne!(components, nfs);
    v.push((
        "static-nfs-components-2-shards".into(),
        format!(
            "{components}\n[sharding]\nshards = 2\n[alertmanager]\nreplicas = 2\n[thanos]\n[thanos.objstore]\ntype = \"s3\"\n\
             bucket = \"t\"\nendpoint = \"minio:9000\"\n[kubernetes]\ndns_addresses = [\"169.254.20.10/32\", \"10.96.0.10/32\"]\n"
        ),
    ));
    v
}

#[test]
fn streamed_render_equals_the_rendered_objects() {
    for (name, text) in variants() {
        let stack = crate::common::check_text(&name, &text);
        let streamed = stackgen::render_manifests(&stack);
        let objects = stackgen::render::to_yaml(&stackgen::render::render(&stack));
        if streamed != objects {
            let diff = similar::TextDiff::from_lines(&objects, &streamed);
            panic!("{name}: streamed render differs from the objects:\n{}", diff.unified_diff().context_radius(2));
        }
    }
}

#[test]
fn sentinel_in_the_stack_is_never_substituted() {
    // A stack that spells the template's sentinel in its own strings keeps them.
    let sharded = std::fs::read_to_string(crate::common::root().join("stacks/sharded-64.toml")).unwrap();
    let text = sharded
        .replace("\nshards = 64\n", "\nshards = 2\n")
        .replace("{ cluster = \"big\" }", "{ cluster = \"big\", note = \"0STACKGEN_SHARD_0 0STACKGEN_SHARD_1\" }");
    assert_ne!(text, sharded);
    let stack = crate::common::check_text("sentinel.toml", &text);
    let streamed = stackgen::render_manifests(&stack);
    assert!(streamed.contains("note: \"0STACKGEN_SHARD_0 0STACKGEN_SHARD_1\""), "{streamed}");
    assert_eq!(streamed, stackgen::render::to_yaml(&stackgen::render::render(&stack)));
}

#[test]
fn embedded_configuration_files_are_yaml() {
    for (name, text) in variants() {
        let stack = crate::common::check_text(&name, &text);
        for o in stackgen::render::render(&stack).iter().filter(|o| o.kind == "ConfigMap" || o.kind == "Secret") {
            for field in ["data", "stringData"] {
                for (key, v) in o.value[field].as_object().into_iter().flatten() {
                    if key.ends_with(".yml") || key.ends_with(".yaml") {
                        let body = v.as_str().unwrap();
                        serde_saphyr::from_str::<Value>(body)
                            .unwrap_or_else(|e| panic!("{name}: {} {key} is not YAML: {e}\n{body}", o.name));
                    }
                }
            }
        }
    }
}

/// `render::Documents` (what `--check`, `-o DIR` and `diff` use) gives, document by
/// document, the objects of `render::render` in the same order: the same text, value,
/// kind, namespace, name, apiVersion and file name.
#[test]
fn documents_equal_the_rendered_objects_one_by_one() {
    for (name, text) in variants() {
        let stack = crate::common::check_text(&name, &text);
        let objects = stackgen::render::render(&stack);
        let docs = stackgen::render::Documents::new(&stack);
        assert_eq!(docs.len(), objects.len(), "{name}");
        for (i, o) in objects.iter().enumerate() {
            let mut want = String::new();
            stackgen::render::yaml::write_document(&mut want, &o.value);
            assert_eq!(docs.text(i), want, "{name}: document {i}");
            let got = docs.object(i);
            assert_eq!((&got.kind, &got.namespace, &got.name), (&o.kind, &o.namespace, &o.name), "{name}: {i}");
            assert_eq!(got.value, o.value, "{name}: document {i}");
            let (kind, ns, obj_name) = docs.meta(i);
            assert_eq!(
                (kind, ns.as_deref(), obj_name.as_ref()),
                (o.kind.as_str(), o.namespace.as_deref(), o.name.as_str())
            );
            assert_eq!(docs.api_version(i), o.value["apiVersion"].as_str(), "{name}: {i}");
            assert_eq!(docs.file_name(i), o.file_name(), "{name}: {i}");
        }
        assert_eq!(docs.stream(), stackgen::render::to_yaml(&objects), "{name}");
    }
}
