//! `stackgen render`: YAML on stdout, one file per object with `-o DIR`, or a comparison
//! with a committed render (`--check`); `--format helm-values` for the chart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use stackgen::diagnostic::Diagnostic;

use super::args::{LintPolicy, RenderFormat};
use super::{cli_policy, output, print_human, regenerate};

pub fn run(
    stack: &str,
    output: Option<String>,
    format: RenderFormat,
    check: Option<String>,
    keep_stale: bool,
    policy: &LintPolicy,
    stdout: &mut impl Write,
) -> std::io::Result<u8> {
    let policy = match cli_policy(policy) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let src = match stackgen::load(stack) {
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
        let mut files = BTreeMap::new();
        files.insert("values.yaml".to_string(), helm.values);
        files.insert("manifests.yaml".to_string(), helm.manifests);
        if let Some(path) = check {
            // A file is the values.yaml printed on stdout; a directory is an -o render.
            let (same, diff) = output::check_files(&files, Path::new(&path), Some("values.yaml"))?;
            return stale(same, &diff, stack, &path, " --format helm-values", stdout);
        }
        match output {
            Some(dir) => {
                if let Err(code) = write_dir(&dir, &files, keep_stale, "values.yaml and manifests.yaml") {
                    return Ok(code);
                }
            }
            None => stdout.write_all(files["values.yaml"].as_bytes())?,
        }
        stdout.flush()?;
        return Ok(0);
    }
    if format == RenderFormat::Operator {
        let mut extra = stackgen::lint::operator(&checked.stack);
        checked.allows.apply(&src, &mut extra);
        policy.apply(&mut extra);
        print_human(&src, &extra);
        if extra.iter().any(Diagnostic::is_error) {
            return Ok(1);
        }
        let objs = stackgen::render::operator::render(&checked.stack);
        if let Some(path) = check {
            // A file is the stream printed on stdout; a directory is an -o render.
            let mut files = BTreeMap::new();
            let dir = Path::new(&path).is_dir();
            if dir {
                files = output::files_of(&objs);
            } else {
                files.insert("-".to_string(), stackgen::render::operator::to_text(&checked.stack));
            }
            let (same, diff) = output::check_files(&files, Path::new(&path), Some("-"))?;
            return stale(same, &diff, stack, &path, " --format operator", stdout);
        }
        match output {
            Some(dir) => {
                if let Err(code) = write_dir(&dir, &output::files_of(&objs), keep_stale, "files") {
                    return Ok(code);
                }
            }
            None => stdout.write_all(stackgen::render::operator::to_text(&checked.stack).as_bytes())?,
        }
        stdout.flush()?;
        return Ok(0);
    }
    if let Some(path) = check {
        let (same, diff) = match output::check(Path::new(&path), || stackgen::render::Documents::new(&checked.stack)) {
            Ok(r) => r,
            Err(e) => {
                say!("error[SG006]: cannot check against {e}");
                return Ok(2);
            }
        };
        return stale(same, &diff, stack, &path, "", stdout);
    }
    match output {
        Some(dir) => {
            let docs = stackgen::render::Documents::new(&checked.stack);
            if let Err(code) = write_dir(&dir, &output::DocFiles::new(&docs), keep_stale, "files") {
                return Ok(code);
            }
        }
        // The common case, and the one with a time budget: stream the YAML.
        None => {
            let docs = stackgen::render::Documents::new(&checked.stack);
            docs.write_to(stdout)?;
            // The process ends here: freeing every object tree one by one would cost
            // a fifth of the render (the allocator gets the pages back at exit anyway).
            std::mem::forget(docs);
            std::mem::forget(checked);
        }
    }
    stdout.flush()?;
    Ok(0)
}

/// The end of `--check`: nothing when the committed render is current; else the diff on
/// stdout, how to regenerate it on stderr, and exit 1.
fn stale(
    same: bool,
    diff: &str,
    stack: &str,
    path: &str,
    format: &str,
    stdout: &mut impl Write,
) -> std::io::Result<u8> {
    if same {
        return Ok(0);
    }
    stdout.write_all(diff.as_bytes())?;
    stdout.flush()?;
    say!("{path} is stale: {}", regenerate(stack, path, format));
    Ok(1)
}

/// `-o DIR`: write the files of `want` as DIR (pruning stackgen's stale files unless
/// `keep_stale`) and say what was written (`what`: "files" is counted) and
/// removed; `Err` is the exit code.
fn write_dir(dir: &str, want: &impl output::Want, keep_stale: bool, what: &str) -> Result<(), u8> {
    let written = match output::write_dir(Path::new(dir), want, !keep_stale) {
        Ok(w) => w,
        Err(e) => {
            say!("error: cannot write {dir}: {e}; nothing was changed");
            return Err(2);
        }
    };
    let what = if what == "files" { format!("{} files", written.files) } else { what.to_string() };
    if written.unchanged {
        say!("{dir} is current ({what}); nothing written");
        return Ok(());
    }
    say!("wrote {what} to {dir}");
    for p in written.pruned {
        say!("removed {dir}/{p} (stackgen wrote it; this render no longer has it)");
    }
    Ok(())
}
