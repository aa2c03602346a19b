//! The `stackgen` binary: parse arguments, call the library, print, map to exit codes
//! (0 ok, 1 lint errors / stale --check / differences, 2 bad usage or unreadable input).

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, DiffFormat, LintFormat, RenderFormat};
use stackgen::diagnostic::{self, render as drender, sarif as drender_sarif, Diagnostic};
use stackgen::lint::suppress::CliPolicy;
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

/// The command that brings a stale `--check` target up to date: `-o DIR` for a
/// directory (it removes stackgen's stale files too), `> FILE` for a file.
fn regenerate(stack: &str, path: &str, format: &str) -> String {
    if std::path::Path::new(path).is_dir() {
        format!("run `stackgen render {stack}{format} -o {path}` and commit the result")
    } else {
        format!("run `stackgen render {stack}{format} > {path}` and commit the result")
    }
}

/// The `--allow`/`--deny` lists, or a usage error.
fn cli_policy(p: &cli::LintPolicy) -> Result<CliPolicy, u8> {
    CliPolicy::parse(&p.allow, &p.deny).map_err(|e| {
        say!("error: {e}");
        2
    })
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
            let text =
                if code == "list" { Ok(diagnostic::explain::list()) } else { diagnostic::explain::explain(&code) };
            match text {
                Ok(text) => stdout.write_all(text.as_bytes())?,
                Err(e) => {
                    say!("error: {e}");
                    return Ok(2);
                }
            }
        }
        Command::Lint { stacks, format, deny_warnings, target, policy } => {
            if stacks.iter().filter(|s| s.as_str() == "-").count() > 1 {
                say!("error: standard input (`-`) can be read only once; give it once");
                return Ok(2);
            }
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
        Command::Render { stack, output, format, check, keep_stale, prune: _, policy } => {
            let policy = match cli_policy(&policy) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let src = match stackgen::load(&stack) {
                Ok(s) => s,
                Err(e) => {
                    say!("error[SG006]: {e}");
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
                let mut extra = stackgen::lint::helm_values(&checked.stack);
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
                    say!("{path} is stale: {}", regenerate(&stack, &path, " --format helm-values"));
                    return Ok(1);
                }
                match output {
                    Some(dir) => {
                        let pruned = match stackgen::output::write_dir(std::path::Path::new(&dir), &files, !keep_stale)
                        {
                            Ok(p) => p,
                            Err(e) => {
                                say!("error: cannot write {dir}: {e}; nothing was changed");
                                return Ok(2);
                            }
                        };
                        say!("wrote values.yaml and manifests.yaml to {dir}");
                        for p in pruned {
                            say!("removed {dir}/{p} (stackgen wrote it; this render no longer has it)");
                        }
                    }
                    None => stdout.write_all(files["values.yaml"].as_bytes())?,
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
                say!("{path} is stale: {}", regenerate(&stack, &path, ""));
                return Ok(1);
            }
            match output {
                Some(dir) => {
                    let files = stackgen::output::files(&stackgen::render::render(&checked.stack));
                    let pruned = match stackgen::output::write_dir(std::path::Path::new(&dir), &files, !keep_stale) {
                        Ok(p) => p,
                        Err(e) => {
                            say!("error: cannot write {dir}: {e}; nothing was changed");
                            return Ok(2);
                        }
                    };
                    say!("wrote {} files to {dir}", files.len());
                    for p in pruned {
                        say!("removed {dir}/{p} (stackgen wrote it; this render no longer has it)");
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
