//! The `stackgen` binary: parse arguments, call the library, print, map to exit codes
//! (0 ok, 1 lint errors / stale --check / differences, 2 bad usage or unreadable input).

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, DiffFormat, LintFormat, RenderFormat};
use stackgen::diagnostic::{self, render as drender, sarif as drender_sarif, Diagnostic, RULES};
use stackgen::source::Source;

/// Standard output that never fails the command: the first write error is kept and
/// later writes are dropped, so a command runs to its real exit status (`render --check`
/// of a stale file piped into `head` still exits 1). `main` reports the error after.
struct Stdout {
    inner: std::io::StdoutLock<'static>,
    error: Option<std::io::Error>,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.error.is_none() {
            if let Err(e) = self.inner.write_all(buf) {
                self.error = Some(e);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.error.is_none() {
            if let Err(e) = self.inner.flush() {
                self.error = Some(e);
            }
        }
        Ok(())
    }
}

/// Standard error that never fails and never panics (a closed pipe, a full disk): a
/// diagnostic that cannot be shown must not change what the command does.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `eprintln!` that cannot panic, with the text made safe for a terminal.
macro_rules! say {
    ($($t:tt)*) => {{
        let text = format!($($t)*);
        let _ = writeln!(Stderr, "{}", drender::clean(&text));
    }};
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, Stdout { inner: std::io::stdout().lock(), error: None });
    let code = run(cli, &mut out);
    let _ = out.flush();
    match out.get_ref().error.as_ref() {
        None => ExitCode::from(code),
        // The reader went away (`| head`): not an error of ours (ripgrep does the same);
        // the status is the command's own.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(code),
        Some(e) => {
            say!("error: cannot write to standard output: {e}");
            ExitCode::from(code.max(2))
        }
    }
}

fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn print_human(src: &Source, diags: &[Diagnostic]) {
    if !diags.is_empty() {
        let _ = Stderr.write_all(drender::human(src, diags, color_stderr()).as_bytes());
    }
}

fn run(cli: Cli, stdout: &mut impl Write) -> u8 {
    match run_command(cli, stdout) {
        Ok(code) => code,
        Err(e) => {
            say!("error: {e}");
            2
        }
    }
}

fn run_command(cli: Cli, mut stdout: &mut impl Write) -> std::io::Result<u8> {
    match cli.command {
        Command::Diff { stack, against, base, format } => {
            let args = stackgen::diff::DiffArgs {
                stack,
                against,
                base,
                json: format == DiffFormat::Json,
                color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal(),
            };
            let code = stackgen::diff::run(&args, &mut stdout, &mut Stderr)?;
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
            match stackgen::output::write_file(std::path::Path::new(&path), &text, force) {
                Ok(()) => say!("wrote {path}; replace its REPLACE placeholders, then run `stackgen lint {path}`"),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    say!("error: {path} already exists; pass --force to overwrite it");
                    return Ok(2);
                }
                Err(e) => {
                    say!("error: cannot write {path}: {e}");
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
                say!("error: unknown code `{code}`; `stackgen explain list` lists them");
                return Ok(2);
            }
        }
        Command::Lint { stacks, format, deny_warnings, target } => {
            if stacks.iter().filter(|s| s.as_str() == "-").count() > 1 {
                say!("error: standard input (`-`) can be read only once; give it once");
                return Ok(2);
            }
            let mut worst = 0u8;
            let mut json = Vec::new();
            let mut sarif = drender_sarif::SarifLog::new();
            for path in &stacks {
                let src = match stackgen::load(path) {
                    Ok(s) => s,
                    Err(e) => {
                        say!("error[SG006]: {e}");
                        if format == LintFormat::Sarif {
                            sarif.unreadable(path, &e);
                        }
                        worst = 2;
                        continue;
                    }
                };
                let diags = match stackgen::check(&src) {
                    Ok(mut c) if target == RenderFormat::HelmValues => {
                        c.warnings.extend(stackgen::render::helm::unsupported(&c.stack));
                        c.warnings
                    }
                    Ok(c) => c.warnings,
                    Err(d) => d,
                };
                if diags.iter().any(Diagnostic::is_error) || (deny_warnings && !diags.is_empty()) {
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
        Command::Render { stack, output, format, check, prune } => {
            let src = match stackgen::load(&stack) {
                Ok(s) => s,
                Err(e) => {
                    say!("error[SG006]: {e}");
                    return Ok(2);
                }
            };
            let checked = match stackgen::check(&src) {
                Ok(c) => c,
                Err(diags) => {
                    print_human(&src, &diags);
                    return Ok(1);
                }
            };
            print_human(&src, &checked.warnings);
            if format == RenderFormat::HelmValues {
                print_human(&src, &stackgen::render::helm::unsupported(&checked.stack));
                let helm = stackgen::render::helm::render(&checked.stack);
                match output {
                    Some(dir) => {
                        let mut files = std::collections::BTreeMap::new();
                        files.insert("values.yaml".to_string(), helm.values);
                        files.insert("manifests.yaml".to_string(), helm.manifests);
                        if let Err(e) = stackgen::output::write_dir(std::path::Path::new(&dir), &files, false) {
                            say!("error: cannot write {dir}: {e}; nothing was changed");
                            return Ok(2);
                        }
                        say!("wrote values.yaml and manifests.yaml to {dir}");
                    }
                    None => stdout.write_all(helm.values.as_bytes())?,
                }
                stdout.flush()?;
                return Ok(0);
            }
            if let Some(path) = check {
                let objs = stackgen::render::render(&checked.stack);
                let (same, diff) = match stackgen::output::check(&objs, std::path::Path::new(&path)) {
                    Ok(r) => r,
                    Err(e) => {
                        say!("error[SG006]: cannot check against {e}");
                        return Ok(2);
                    }
                };
                if same {
                    return Ok(0);
                }
                stdout.write_all(diff.as_bytes())?;
                stdout.flush()?;
                say!("{path} is stale: run `stackgen render {stack}` and commit the result");
                return Ok(1);
            }
            match output {
                Some(dir) => {
                    let files = stackgen::output::files(&stackgen::render::render(&checked.stack));
                    let pruned = match stackgen::output::write_dir(std::path::Path::new(&dir), &files, prune) {
                        Ok(p) => p,
                        Err(e) => {
                            say!("error: cannot write {dir}: {e}; nothing was changed");
                            return Ok(2);
                        }
                    };
                    say!("wrote {} files to {dir}", files.len());
                    for p in pruned {
                        say!("pruned {dir}/{p}");
                    }
                }
                // The common case, and the one with a time budget: stream the YAML.
                None => stackgen::render::write_stream(&checked.stack, stdout)?,
            }
        }
    }
    stdout.flush()?;
    Ok(0)
}
