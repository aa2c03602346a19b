//! `stackgen lint`: every problem of each stack file, in the format asked for; exit 1 on
//! an error (or a warning with `--deny-warnings`), 2 on an unreadable file.

use std::io::Write;

use stackgen::diagnostic::{self, render as drender, sarif as drender_sarif, Diagnostic};
use stackgen::source::Source;

use super::args::{LintFormat, LintPolicy, RenderFormat};
use super::{cli_policy, print_human};

pub fn run(
    stacks: &[String],
    format: LintFormat,
    deny_warnings: bool,
    target: RenderFormat,
    policy: &LintPolicy,
    mut stdout: &mut impl Write,
) -> std::io::Result<u8> {
    if stacks.iter().filter(|s| s.as_str() == "-").count() > 1 {
        say!("error: standard input (`-`) can be read only once; give it once");
        return Ok(2);
    }
    let policy = match cli_policy(policy) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut worst = 0u8;
    let mut json = Vec::new();
    let mut sarif = drender_sarif::SarifLog::new();
    for path in stacks {
        let src = match stackgen::load(path) {
            Ok(s) => s,
            Err(e) => {
                // SG006 in every format: on stderr for people, in the document for tools.
                let src = Source::new(path.as_str(), "");
                let d = Diagnostic::new(diagnostic::Code::UnreadableInput, e.clone(), 0..0)
                    .with_help("check the path and that the file is readable UTF-8 text");
                match format {
                    LintFormat::Human => print_human(&src, std::slice::from_ref(&d)),
                    LintFormat::Github => {
                        say!("error[SG006]: {e}");
                        stdout.write_all(drender::github(&src, std::slice::from_ref(&d)).as_bytes())?;
                    }
                    LintFormat::Json => {
                        say!("error[SG006]: {e}");
                        json.push(serde_json::to_value(drender::to_json(&src, &d)).expect("serializable"));
                    }
                    LintFormat::Sarif => {
                        say!("error[SG006]: {e}");
                        sarif.unreadable(path, &e);
                    }
                }
                worst = 2;
                continue;
            }
        };
        let mut diags = match stackgen::check(&src) {
            Ok(mut c) if target == RenderFormat::HelmValues => {
                let mut extra = stackgen::lint::helm_values(&c.stack);
                c.allows.apply(&src, &mut extra);
                c.warnings.extend(extra);
                diagnostic::sort(&mut c.warnings);
                c.warnings
            }
            Ok(mut c) if target == RenderFormat::Operator => {
                let mut extra = stackgen::lint::operator(&c.stack);
                c.allows.apply(&src, &mut extra);
                c.warnings.extend(extra);
                diagnostic::sort(&mut c.warnings);
                c.warnings
            }
            Ok(c) => c.warnings,
            Err(d) => d,
        };
        policy.apply(&mut diags);
        if diags.iter().any(Diagnostic::is_error) || (deny_warnings && diags.iter().any(Diagnostic::is_active_warning))
        {
            worst = worst.max(1);
        }
        match format {
            LintFormat::Human => print_human(&src, &diags),
            LintFormat::Github => stdout.write_all(drender::github(&src, &diags).as_bytes())?,
            LintFormat::Json => {
                for d in &diags {
                    json.push(serde_json::to_value(drender::to_json(&src, d)).expect("serializable"));
                }
            }
            LintFormat::Sarif => sarif.add(&src, &diags),
        }
    }
    // json and sarif are one document for the whole call, printed even when empty.
    match format {
        LintFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &json)?;
            writeln!(stdout)?;
        }
        LintFormat::Sarif => stdout.write_all(sarif.to_json_string().as_bytes())?,
        LintFormat::Human | LintFormat::Github => {}
    }
    stdout.flush()?;
    Ok(worst)
}
