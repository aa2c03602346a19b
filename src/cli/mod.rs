//! The command line: parse arguments, call the library, do the file work of `-o`,
//! `--check` and `init -o` ([`output`]), print, and map to exit codes (0 ok, 1 lint errors
//! / stale --check / differences, 2 bad usage or unreadable input). Nothing under
//! `stackgen::` prints or knows an exit code.

/// `eprintln!` that cannot panic, with the text made safe for a terminal.
macro_rules! say {
    ($($t:tt)*) => {{
        let text = format!($($t)*);
        let _ = std::io::Write::write_fmt(
            &mut $crate::cli::Stderr,
            format_args!("{}\n", stackgen::diagnostic::render::clean(&text)),
        );
    }};
}

mod args;
mod diff;
mod lifecycle;
mod lint;
mod output;
mod render;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;
use stackgen::diagnostic::{self, render as drender, Diagnostic};
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
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn main() -> ExitCode {
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

pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn print_human(src: &Source, diags: &[Diagnostic]) {
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
fn cli_policy(p: &args::LintPolicy) -> Result<CliPolicy, u8> {
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

fn run_command(cli: Cli, stdout: &mut impl Write) -> std::io::Result<u8> {
    match cli.command {
        Command::Diff { stack, against, base, format, target } => {
            let code = diff::run(&stack, against.as_deref(), base.as_deref(), format, target, stdout)?;
            stdout.flush()?;
            return Ok(code);
        }
        Command::Plan { stack, format } => return lifecycle::plan(&stack, format, stdout),
        Command::Migrate { stack, from, resize, shard, replica, bwlimit, target } => {
            let a = lifecycle::MigrateArgs {
                stack: &stack,
                from: from.as_deref(),
                resize,
                shard,
                replica,
                bwlimit: &bwlimit,
                target,
            };
            return lifecycle::migrate(&a, stdout);
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
            match output::write_file(std::path::Path::new(&path), &text, force) {
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
            let text = match code.as_str() {
                "list" => Ok(diagnostic::explain::list()),
                "plan" => Ok(stackgen::lifecycle::plan::explain()),
                _ => diagnostic::explain::explain(&code),
            };
            match text {
                Ok(text) => stdout.write_all(text.as_bytes())?,
                Err(e) => {
                    say!("error: {e}");
                    return Ok(2);
                }
            }
        }
        Command::Lint { stacks, format, deny_warnings, target, policy } => {
            return lint::run(&stacks, format, deny_warnings, target, &policy, stdout);
        }
        Command::Render { stack, output, format, check, keep_stale, prune: _, policy } => {
            return render::run(&stack, output, format, check, keep_stale, &policy, stdout);
        }
    }
    stdout.flush()?;
    Ok(0)
}
