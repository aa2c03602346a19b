//! `stackgen diff`: read both sides, let the library compare them, print the report
//! (human or JSON) and map it to diff(1)'s exit codes: 0 no changes, 1 changes, 2 error
//! (unreadable input, or a stack with errors: nothing to compare).

use std::io::{IsTerminal, Write};

use stackgen::diff::{self, Before};
use stackgen::model::Stack;

use super::args::{DiffFormat, RenderFormat};
use super::{print_human, Stderr};

/// Load and check a stack; on failure print why (`Err`: exit 2, a diff that cannot be
/// computed is an error, not a difference). With `warnings`, its warnings are printed.
fn checked(path: &str, warnings: bool) -> Result<Stack, u8> {
    let src = match stackgen::load(path) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(Stderr, "error[SG006]: {e}");
            return Err(2);
        }
    };
    match stackgen::check(&src) {
        Ok(c) => {
            if warnings {
                print_human(&src, &c.warnings);
            }
            Ok(c.stack)
        }
        Err(diags) => {
            print_human(&src, &diags);
            let _ = writeln!(Stderr, "error: {path} has errors, so there is nothing to compare (exit 2)");
            Err(2)
        }
    }
}

/// Read `--against` and print its notes. In manifests mode (`manifests`) the input is
/// read against the render of `stack`: documents it holds verbatim are not parsed again.
fn against(spec: &str, helm: bool, manifests: bool, stack: &Stack) -> Result<Before, u8> {
    let read = if helm {
        diff::input::read_helm(spec)
    } else if !manifests {
        diff::input::read(spec)
    } else {
        diff::input::read_for(spec, stackgen::render::Documents::new(stack))
    };
    match read {
        Ok(input) => {
            for n in &input.notes {
                let _ = writeln!(Stderr, "note: {n}");
            }
            let label = if spec == "-" { "<stdin>".to_string() } else { spec.to_string() };
            Ok(Before::Against { label, input })
        }
        Err(e) => {
            let _ = writeln!(Stderr, "error: {e}");
            Err(2)
        }
    }
}

pub fn run(
    stack: &str,
    against_spec: Option<&str>,
    base: Option<&str>,
    format: DiffFormat,
    target: Option<RenderFormat>,
    out: &mut impl Write,
) -> std::io::Result<u8> {
    if format == DiffFormat::HelmValues && matches!(target, Some(RenderFormat::Manifests | RenderFormat::Operator)) {
        let _ = writeln!(
            Stderr,
            "error: --format helm-values means --target helm-values; it contradicts --target {}",
            if target == Some(RenderFormat::Operator) { "operator" } else { "manifests" }
        );
        return Ok(2);
    }
    let helm = format == DiffFormat::HelmValues || target == Some(RenderFormat::HelmValues);
    let stdin_users = [Some(stack), against_spec, base].into_iter().flatten().filter(|s| *s == "-").count();
    if stdin_users > 1 {
        let _ = writeln!(Stderr, "error: only one input can be read from standard input (`-`)");
        return Ok(2);
    }
    let new_stack = match checked(stack, true) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let before = match (base, against_spec) {
        (Some(base), _) => match checked(base, false) {
            Ok(s) => Before::Base { label: base.to_string(), stack: Box::new(s) },
            Err(code) => return Ok(code),
        },
        (None, Some(spec)) => match against(spec, helm, target != Some(RenderFormat::Operator), &new_stack) {
            Ok(b) => b,
            Err(code) => return Ok(code),
        },
        (None, None) => {
            let _ = writeln!(Stderr, "error: give --against FILE|DIR|- or --base OLD_STACK");
            return Ok(2);
        }
    };
    let report = if target == Some(RenderFormat::Operator) {
        diff::operator::diff(stack, &new_stack, before)
    } else {
        diff::diff(stack, &new_stack, before, helm)
    };
    for n in &report.notes {
        let _ = writeln!(Stderr, "note: {n}");
    }
    if format == DiffFormat::Json {
        serde_json::to_writer_pretty(&mut *out, &report.json())?;
        writeln!(out)?;
    } else {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal();
        out.write_all(report.human(color).as_bytes())?;
    }
    Ok(u8::from(report.has_changes()))
}
