//! The `stackgen` binary: parse arguments, call the library, print, map to exit codes
//! (0 ok, 1 lint errors / stale --check / differences, 2 bad usage or unreadable input).

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, DiffFormat, LintFormat, RenderFormat};
use stackgen::diagnostic::{self, render as drender, sarif as drender_sarif, Diagnostic, RULES};
use stackgen::lint::suppress::CliPolicy;
use stackgen::source::Source;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn print_human(src: &Source, diags: &[Diagnostic]) {
    if !diags.is_empty() {
        eprint!("{}", drender::human(src, diags, color_stderr()));
    }
}

/// The `--allow`/`--deny` lists, or a usage error.
fn cli_policy(p: &cli::LintPolicy) -> Result<CliPolicy, u8> {
    CliPolicy::parse(&p.allow, &p.deny).map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

/// Write a new file: without `force`, fail with `AlreadyExists` rather than replace one
/// (`create_new`, so a file appearing meanwhile is not clobbered either); with `force`,
/// replace an existing file atomically through a temporary file in the same directory,
/// keeping its permissions (a temporary file is created 0600).
fn write_new(path: &std::path::Path, text: &str, force: bool) -> std::io::Result<()> {
    if let (true, Ok(meta)) = (force, std::fs::metadata(path)) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().set_permissions(meta.permissions())?;
        tmp.persist(path).map_err(|e| e.error)?;
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())
}

fn run(cli: Cli) -> std::io::Result<u8> {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match cli.command {
        Command::Diff { stack, against, base, format, target } => {
            if format == DiffFormat::HelmValues && target == Some(RenderFormat::Manifests) {
                eprintln!("error: --format helm-values means --target helm-values; it contradicts --target manifests");
                return Ok(2);
            }
            let args = stackgen::diff::DiffArgs {
                stack,
                against,
                base,
                json: format == DiffFormat::Json,
                helm: format == DiffFormat::HelmValues || target == Some(RenderFormat::HelmValues),
                color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal(),
            };
            let code = stackgen::diff::run(&args, &mut stdout, &mut std::io::stderr())?;
            stdout.flush()?;
            return Ok(code);
        }
        Command::Schema => {
            stdout.write_all(stackgen::model::schema::SCHEMA_TEXT.as_bytes())?;
        }
        Command::Init { backend, thanos, name, output, force } => {
            let text = stackgen::init::init(backend.into(), thanos, &name);
            let Some(path) = output else {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
                return Ok(0);
            };
            match write_new(std::path::Path::new(&path), &text, force) {
                Ok(()) => eprintln!("wrote {path}; replace its REPLACE placeholders, then run `stackgen lint {path}`"),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    eprintln!("error: {path} already exists; pass --force to overwrite it");
                    return Ok(2);
                }
                Err(e) => {
                    eprintln!("error: cannot write {path}: {e}");
                    return Ok(2);
                }
            }
        }
        Command::Explain { code } => {
            if code == "list" {
                for r in RULES {
                    writeln!(
                        stdout,
                        "{}  {:<26} {:<8} {}",
                        r.id,
                        r.name,
                        format!("{:?}", r.severity).to_lowercase(),
                        r.summary
                    )?;
                }
            } else if let Some(r) = diagnostic::Code::lookup(&code) {
                writeln!(
                    stdout,
                    "{} ({}): {}\nseverity: {}\n\n{}",
                    r.id,
                    r.name,
                    r.summary,
                    format!("{:?}", r.severity).to_lowercase(),
                    r.explain
                )?;
            } else {
                eprintln!("error: unknown code `{code}`; `stackgen explain list` lists them");
                return Ok(2);
            }
        }
        Command::Lint { stacks, format, deny_warnings, target, policy } => {
            let policy = match cli_policy(&policy) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let mut worst = 0u8;
            let mut json = Vec::new();
            let mut sarif = drender_sarif::SarifLog::new();
            for path in &stacks {
                let src = match stackgen::load(path) {
                    Ok(s) => s,
                    Err(e) => {
                        // SG006 in every format: on stderr for people, in the document for tools.
                        let src = Source::new(path.as_str(), "");
                        let d = Diagnostic::new(diagnostic::Code::Unreadable, e.clone(), 0..0)
                            .with_help("check the path and that the file is readable UTF-8 text");
                        match format {
                            LintFormat::Human => print_human(&src, std::slice::from_ref(&d)),
                            LintFormat::Github => {
                                eprintln!("error[SG006]: {e}");
                                stdout.write_all(drender::github(&src, std::slice::from_ref(&d)).as_bytes())?;
                            }
                            LintFormat::Json => {
                                eprintln!("error[SG006]: {e}");
                                json.push(serde_json::to_value(drender::to_json(&src, &d)).expect("serializable"));
                            }
                            LintFormat::Sarif => {
                                eprintln!("error[SG006]: {e}");
                                sarif.unreadable(path, &e);
                            }
                        }
                        worst = 2;
                        continue;
                    }
                };
                let mut diags = match stackgen::check(&src) {
                    Ok(mut c) if target == RenderFormat::HelmValues => {
                        let mut extra = stackgen::render::helm::unsupported(&c.stack);
                        c.allows.apply(&src, &mut extra);
                        c.warnings.extend(extra);
                        diagnostic::sort(&mut c.warnings);
                        c.warnings
                    }
                    Ok(c) => c.warnings,
                    Err(d) => d,
                };
                policy.apply(&mut diags);
                if diags.iter().any(Diagnostic::is_error)
                    || (deny_warnings && diags.iter().any(Diagnostic::is_active_warning))
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
            return Ok(worst);
        }
        Command::Render { stack, output, format, check, prune, policy } => {
            let policy = match cli_policy(&policy) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let src = match stackgen::load(&stack) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error[SG006]: {e}");
                    return Ok(2);
                }
            };
            let checked = match stackgen::check(&src) {
                Ok(mut c) => {
                    policy.apply(&mut c.warnings);
                    if c.warnings.iter().any(Diagnostic::is_error) {
                        print_human(&src, &c.warnings);
                        return Ok(1);
                    }
                    c
                }
                Err(mut diags) => {
                    policy.apply(&mut diags);
                    print_human(&src, &diags);
                    return Ok(1);
                }
            };
            print_human(&src, &checked.warnings);
            if format == RenderFormat::HelmValues {
                let mut extra = stackgen::render::helm::unsupported(&checked.stack);
                checked.allows.apply(&src, &mut extra);
                policy.apply(&mut extra);
                print_human(&src, &extra);
                if extra.iter().any(Diagnostic::is_error) {
                    return Ok(1);
                }
                let helm = stackgen::render::helm::render(&checked.stack);
                let mut files = std::collections::BTreeMap::new();
                files.insert("values.yaml".to_string(), helm.values);
                files.insert("manifests.yaml".to_string(), helm.manifests);
                if let Some(path) = check {
                    // A file is the values.yaml printed on stdout; a directory is an -o render.
                    let (same, diff) =
                        stackgen::output::check_files(&files, std::path::Path::new(&path), Some("values.yaml"))?;
                    if same {
                        return Ok(0);
                    }
                    stdout.write_all(diff.as_bytes())?;
                    stdout.flush()?;
                    eprintln!(
                        "{path} is stale: run `stackgen render --format helm-values {stack}` and commit the result"
                    );
                    return Ok(1);
                }
                match output {
                    Some(dir) => {
                        let pruned = stackgen::output::write_dir(std::path::Path::new(&dir), &files, prune)?;
                        eprintln!("wrote values.yaml and manifests.yaml to {dir}");
                        for p in pruned {
                            eprintln!("pruned {dir}/{p}");
                        }
                    }
                    None => stdout.write_all(files["values.yaml"].as_bytes())?,
                }
                stdout.flush()?;
                return Ok(0);
            }
            if let Some(path) = check {
                let objs = stackgen::render::render(&checked.stack);
                let (same, diff) = stackgen::output::check(&objs, std::path::Path::new(&path))?;
                if same {
                    return Ok(0);
                }
                stdout.write_all(diff.as_bytes())?;
                stdout.flush()?;
                eprintln!("{path} is stale: run `stackgen render {stack}` and commit the result");
                return Ok(1);
            }
            match output {
                Some(dir) => {
                    let files = stackgen::output::files(&stackgen::render::render(&checked.stack));
                    let pruned = stackgen::output::write_dir(std::path::Path::new(&dir), &files, prune)?;
                    eprintln!("wrote {} files to {dir}", files.len());
                    for p in pruned {
                        eprintln!("pruned {dir}/{p}");
                    }
                }
                // The common case, and the one with a time budget: stream the YAML.
                None => stackgen::render::write_stream(&checked.stack, &mut stdout)?,
            }
        }
    }
    stdout.flush()?;
    Ok(0)
}
