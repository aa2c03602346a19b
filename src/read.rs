//! Bounded reads: a regular file (never blocking on a FIFO, never a device) or a stream,
//! as UTF-8, at most a given number of bytes, with errors that name what was read. For
//! `--against` and `render --check`.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// An I/O error that names its path.
pub fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn err(kind: io::ErrorKind, msg: String) -> io::Error {
    io::Error::new(kind, msg)
}

/// What a file type is, in words (`a FIFO`, `a directory`).
pub fn kind_of(ft: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "a regular file"
    }
}

/// Open a file for reading without blocking on a FIFO, and only if it is a regular file.
pub fn open_regular(path: &Path) -> io::Result<fs::File> {
    open_regular_with_metadata(path).map(|(f, _)| f)
}

/// [`open_regular`], with the file's metadata.
pub fn open_regular_with_metadata(path: &Path) -> io::Result<(fs::File, fs::Metadata)> {
    let f = fs::OpenOptions::new().read(true).custom_flags(libc_o_nonblock()).open(path).map_err(|e| at(path, e))?;
    let m = f.metadata().map_err(|e| at(path, e))?;
    if !m.file_type().is_file() {
        return Err(err(
            io::ErrorKind::InvalidInput,
            format!("{} is {}, not a regular file", path.display(), kind_of(m.file_type())),
        ));
    }
    Ok((f, m))
}

const fn libc_o_nonblock() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// Read a regular file as UTF-8, at most `limit` bytes; any problem is an error that
/// names the path.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<String> {
    let f = open_regular(path)?;
    read_bounded(f, limit, &path.display().to_string())
}

/// Read at most `limit` bytes of UTF-8 from `r` (`name` for the error messages).
pub fn read_bounded(r: impl Read, limit: u64, name: &str) -> io::Result<String> {
    let mut bytes = Vec::new();
    r.take(limit + 1).read_to_end(&mut bytes).map_err(|e| err(e.kind(), format!("{name}: {e}")))?;
    text_of(bytes, limit, name)
}

/// `bytes` (read with a bound of `limit + 1`) as UTF-8 text, with [`read_bounded`]'s
/// errors.
pub fn text_of(bytes: Vec<u8>, limit: u64, name: &str) -> io::Result<String> {
    if bytes.len() as u64 > limit {
        return Err(err(
            io::ErrorKind::InvalidData,
            format!("{name} is larger than the {} MiB stackgen reads", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        err(io::ErrorKind::InvalidData, format!("{name} is not UTF-8 text (invalid byte at offset {at})"))
    })
}
