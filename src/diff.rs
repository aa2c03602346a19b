//! `stackgen diff`: object-by-object comparison of a render with a previous render, live
//! objects, or the render of another stack. (Being implemented: issue 6.)

use std::io::Write;

/// Arguments of `stackgen diff`, as parsed by the CLI.
#[derive(Debug, Clone)]
pub struct DiffArgs {
    /// The stack file (`-` for stdin).
    pub stack: String,
    /// A previous render: a file, an `-o` directory, or `-` (stdin, e.g. `kubectl get -o yaml`).
    pub against: Option<String>,
    /// Another stack.toml to render and compare against.
    pub base: Option<String>,
    /// `--format json`.
    pub json: bool,
    /// Colour on stdout (a terminal and no NO_COLOR).
    pub color: bool,
}

/// Run the diff; return the exit code (0 no changes, 1 changes, 2 error).
pub fn run(_args: &DiffArgs, _out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    writeln!(err, "error: stackgen diff is not implemented yet")?;
    Ok(2)
}
