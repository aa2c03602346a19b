//! `stackgen init`: a commented stack.toml to start from, for one storage backend, with
//! or without Thanos.
//!
//! The skeleton is `templates/init.toml.j2`, rendered by minijinja with strict undefined
//! and parsed back as TOML before it is returned, like every other template of stackgen.
//! Every combination of backend and `--thanos` is tested to pass `stackgen::check` with
//! no errors (tests/cli_formats.rs). The only warnings are those the backend has by
//! nature: `nfs` warns SG102 (NFS is not a supported TSDB filesystem) and `ephemeral`
//! warns SG101 (history is lost on restart). The placeholders (node names, server
//! addresses, class names, Secret names) are the user's to replace; each says so.

const TEMPLATE: &str = include_str!("../templates/init.toml.j2");

/// The storage backend of the skeleton: the same enumeration `[storage] backend` reads.
pub use crate::model::raw::RawBackend as Backend;

/// The stack name `init` uses without `--name`.
pub const DEFAULT_NAME: &str = "prod";

/// Check a `--name`: a DNS-1123 label short enough for every object name.
pub fn check_name(name: &str) -> Result<(), String> {
    crate::model::units::check_dns1123_label(name, crate::model::MAX_STACK_NAME)
}

/// The commented stack.toml for `backend`, with Thanos when `thanos`, named `name`.
///
/// # Panics
/// If the template fails to render or renders invalid TOML: a bug that the tests catch.
pub fn init(backend: Backend, thanos: bool, name: &str) -> String {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Block tags on lines of their own leave no blank line behind.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    let ctx = serde_json::json!({
        "backend": backend.as_str(),
        "thanos": thanos,
        // A TOML basic string: JSON string escapes are valid TOML escapes.
        "name": serde_json::to_string(name).expect("a string serializes"),
        "command": command_line(backend, thanos),
    });
    let text = env
        .render_str(TEMPLATE, minijinja::Value::from(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| panic!("template init.toml: {e}"));
    if let Err(e) = text.parse::<toml::Table>() {
        panic!("template init.toml rendered invalid TOML: {e}\n{text}");
    }
    text
}

/// How to make this skeleton again (the name is left out: it may be any string here).
fn command_line(backend: Backend, thanos: bool) -> String {
    format!("stackgen init --backend {backend}{}", if thanos { " --thanos" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.as_str().parse::<Backend>(), Ok(b));
        }
        assert!("rbd".parse::<Backend>().is_err());
    }

    #[test]
    fn starts_with_the_schema_directive() {
        let text = init(Backend::Class, false, "prod");
        assert!(text.starts_with("#:schema https://stackgen.dev/schemas/stack.schema.json\n"), "{text}");
        assert!(text.ends_with('\n') && !text.ends_with("\n\n\n"));
    }
}
