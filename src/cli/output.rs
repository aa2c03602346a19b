//! Writing a render to files, and reading committed renders back: one file per object
//! plus kustomization.yaml for `-o DIR`, one file for `init -o FILE`, and `--check`.
//!
//! What stackgen may do to files, held to the bar of git and kubectl:
//! - **Nothing partial.** Everything is rendered in memory first. `-o DIR` builds the
//!   whole new tree beside DIR (`.stackgen-<name>.XXXXXX`, same filesystem) and swaps it
//!   in with one `renameat2(RENAME_EXCHANGE)` (Linux; elsewhere, or on a filesystem
//!   without it, two renames with a moment when DIR is absent), so a reader, a full
//!   disk, or SIGKILL sees the old tree or the new one, never a mix. `init -o FILE`
//!   writes a temporary file and renames it (fsynced). With `STACKGEN_FSYNC=1`, every
//!   file of `-o DIR` is fsynced before the switch too (see [`durable`]).
//! - **A lock.** Writers of one directory take an exclusive `flock` on its parent, so two
//!   renders at once run one after the other; the kernel drops it when a process dies.
//! - **Temporaries cleaned** on every error path (the temporary tree is removed when
//!   the function returns); one left by a killed process is removed by the next run
//!   under the lock.
//! - **Modes kept.** A replaced file keeps its permission bits; a new file or directory
//!   gets 0666/0777 less the umask, as `touch` and `mkdir` do.
//! - **Never replace what stackgen did not write.** In DIR, files without the
//!   [`HEADER`] (and directories, links, FIFOs) are carried over into the new tree
//!   untouched (hard links to the same inodes), and a rendered name that collides with
//!   one is an error before anything changes. `init -o` replaces only a regular file,
//!   and only with `--force`.
//! - **Stale files** stackgen wrote that this render no longer has are removed (the
//!   `prune` flag of [`write_dir`]; `--keep-stale` keeps them).
//! - **Nothing rewritten for nothing.** Files whose text is unchanged keep their inode
//!   (hard links into the new tree), and a directory that already is the render is not
//!   touched at all, as rustfmt and rsync leave a current file alone.
//!
//! Reads are bounded and regular-file only where a FIFO or a device has no business:
//! `--check` opens every file non-blocking and refuses anything but a regular file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use stackgen::read::{at, kind_of, open_regular, open_regular_with_metadata, read_regular, text_of};
use stackgen::render::{yaml, Documents, Object, HEADER};

/// The most `--check` reads of one committed file (the render limit: a larger file
/// cannot equal a render).
pub const MAX_CHECK_BYTES: u64 = stackgen::MAX_RENDER_BYTES;

/// The files of a directory render of objects built as values (`--format operator`),
/// name → content, kustomization.yaml included.
pub fn files_of(objs: &[Object]) -> BTreeMap<String, String> {
    files_from(objs.iter().map(|o| {
        let mut text = String::from(HEADER);
        yaml::write_document(&mut text, &o.value);
        (o.file_name(), text)
    }))
}

/// Files (name, text with the header) in stream order, plus the kustomization.yaml that
/// lists them in that order.
fn files_from(docs: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut names = Vec::new();
    for (name, text) in docs {
        names.push(name.clone());
        out.insert(name, text);
    }
    out.insert(KUSTOMIZATION.into(), kustomization(names));
    out
}

const KUSTOMIZATION: &str = "kustomization.yaml";

/// The kustomization.yaml listing `names` in that order.
fn kustomization(names: Vec<String>) -> String {
    let kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    });
    let mut k = String::from(HEADER);
    yaml::write_document(&mut k, &kustomization);
    k
}

/// The files a directory render has, each text produced when it is compared, so
/// neither `--check DIR` nor `-o DIR` holds the render whole.
pub struct DocFiles<'a> {
    docs: &'a Documents,
    /// File name → document index (`None`: kustomization.yaml).
    names: BTreeMap<String, Option<usize>>,
    kustomization: String,
}

impl<'a> DocFiles<'a> {
    pub fn new(docs: &'a Documents) -> DocFiles<'a> {
        let list: Vec<String> = (0..docs.len()).map(|i| docs.file_name(i)).collect();
        let mut names: BTreeMap<String, Option<usize>> =
            list.iter().enumerate().map(|(i, n)| (n.clone(), Some(i))).collect();
        names.insert(KUSTOMIZATION.into(), None);
        DocFiles { docs, names, kustomization: kustomization(list) }
    }
}

/// The files of a render, by name: a map of texts, or [`DocFiles`].
pub trait Want {
    fn names(&self) -> Vec<&str>;
    fn contains(&self, name: &str) -> bool;
    /// `name`'s text (written into `buf` when it is produced on demand).
    fn text<'b>(&'b self, name: &str, buf: &'b mut String) -> &'b str;
}

impl Want for BTreeMap<String, String> {
    fn names(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }
    fn contains(&self, name: &str) -> bool {
        self.contains_key(name)
    }
    fn text<'b>(&'b self, name: &str, _: &'b mut String) -> &'b str {
        self.get(name).map_or("", String::as_str)
    }
}

impl Want for DocFiles<'_> {
    fn names(&self) -> Vec<&str> {
        self.names.keys().map(String::as_str).collect()
    }
    fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }
    fn text<'b>(&'b self, name: &str, buf: &'b mut String) -> &'b str {
        match self.names.get(name) {
            Some(Some(i)) => {
                buf.clear();
                buf.push_str(HEADER);
                self.docs.write(*i, buf);
                buf
            }
            Some(None) => &self.kustomization,
            None => "",
        }
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn fsync_dir(dir: &Path) {
    // Best effort: some filesystems refuse fsync on a directory.
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Write `init -o FILE`: a temporary file in the same directory, fsynced, renamed into
/// place. Without `force` an existing path is `AlreadyExists` (and a file appearing
/// meanwhile is not replaced either); with `force` only a regular file is replaced,
/// keeping its permission bits. Anything else (symlink, device, FIFO, directory) is
/// refused (`InvalidInput`), with or without `force`.
pub fn write_file(path: &Path, text: &str, force: bool) -> io::Result<()> {
    let existing = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(at(path, e)),
    };
    if let Some(m) = &existing {
        if !m.file_type().is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is {}, not a regular file; stackgen replaces only regular files",
                    path.display(),
                    kind_of(m.file_type())
                ),
            ));
        }
        if !force {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", path.display())));
        }
    }
    let dir = parent_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".stackgen-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(|e| at(&dir, e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| at(tmp.path(), e))?;
    if let Some(m) = &existing {
        tmp.as_file().set_permissions(fs::Permissions::from_mode(m.mode() & 0o7777)).map_err(|e| at(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| at(tmp.path(), e))?;
    let persisted = if existing.is_some() { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    persisted.map_err(|e| at(path, e.error))?;
    fsync_dir(&dir);
    Ok(())
}

/// One entry of a directory stackgen reads back (`-o DIR`, `--check DIR`).
struct Entry {
    path: PathBuf,
    /// The entry's own type (a symlink is a symlink).
    file_type: fs::FileType,
    /// The entry opened as a regular file (a link followed; non-blocking), or why it
    /// cannot be: opened when first needed, closed once read (one descriptor at a time).
    file: Option<io::Result<(fs::File, fs::Metadata)>>,
}

impl Entry {
    fn opened(&mut self) -> io::Result<&(fs::File, fs::Metadata)> {
        let f = self.file.get_or_insert_with(|| open_regular_with_metadata(&self.path));
        f.as_ref().map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }

    /// Whether stackgen wrote it: a regular file (a link followed) that starts with
    /// [`HEADER`] (only those bytes are read).
    fn ours(&mut self) -> bool {
        use std::os::unix::fs::FileExt;
        let Ok((f, _)) = self.opened() else { return false };
        let mut head = [0u8; HEADER.len()];
        let mut n = 0;
        while n < head.len() {
            match f.read_at(&mut head[n..], n as u64) {
                Ok(0) | Err(_) => return false,
                Ok(k) => n += k,
            }
        }
        head == HEADER.as_bytes()
    }

    /// Its permission bits (a regular file).
    fn mode(&mut self) -> u32 {
        self.opened().map_or(0, |(_, m)| m.mode() & 0o7777)
    }

    /// Read the whole file into `buf` (bounded; an error names the path), then close it.
    fn read_into(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let path = self.path.clone();
        let read = self.opened().and_then(|(f, m)| read_known_size(f, m.len(), buf).map_err(|e| at(&path, e)));
        self.file = None;
        read?;
        if buf.len() as u64 > MAX_CHECK_BYTES {
            return text_of(std::mem::take(buf), MAX_CHECK_BYTES, &path.display().to_string()).map(|_| ());
        }
        Ok(())
    }
}

/// Read `f`, whose size was `len` when it was opened, into `buf` (at most
/// [`MAX_CHECK_BYTES`] + 1 bytes). A read that fills less than it asked for ends it when
/// the file's size has been read (a regular file reads short only at its end): one
/// `read` per file where `read_to_end` makes two or three.
fn read_known_size(mut f: &fs::File, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    let limit = MAX_CHECK_BYTES as usize + 1;
    let expected = usize::try_from(len).unwrap_or(usize::MAX);
    buf.resize(expected.saturating_add(1).clamp(1, limit), 0);
    let mut n = 0;
    loop {
        if n == buf.len() {
            if n >= limit {
                break;
            }
            buf.resize(n.saturating_mul(2).min(limit), 0);
        }
        let asked = buf.len() - n;
        let k = match f.read(&mut buf[n..]) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        n += k;
        if k == 0 || (k < asked && n == expected) {
            break;
        }
    }
    buf.truncate(n);
    Ok(())
}

/// A directory's entries by name, listed (not opened). Each file is then read into one
/// buffer and compared as bytes: no file is held, and no descriptor but one is open.
/// (Opening ahead on a second thread was slower: a process with two threads that
/// grows its descriptor table past 64 waits for an RCU grace period each time.)
fn read_tree(dir: &Path) -> io::Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).map_err(|e| at(dir, e))? {
        let e = e.map_err(|e| at(dir, e))?;
        let path = e.path();
        let file_type = e.file_type().map_err(|e| at(&path, e))?;
        out.insert(e.file_name().to_string_lossy().into_owned(), Entry { path, file_type, file: None });
    }
    Ok(out)
}

/// An exclusive lock on `dir` (a directory), held until the returned file is dropped.
fn lock(dir: &Path) -> io::Result<fs::File> {
    use rustix::fs::{flock, FlockOperation};
    let f = fs::File::open(dir).map_err(|e| at(dir, e))?;
    if flock(&f, FlockOperation::NonBlockingLockExclusive).is_err() {
        let _ = writeln!(io::stderr(), "waiting for another stackgen writing into {}", dir.display());
        flock(&f, FlockOperation::LockExclusive).map_err(|e| at(dir, e.into()))?;
    }
    Ok(f)
}

/// What [`write_dir`] did.
pub struct Written {
    /// How many files the render has.
    pub files: usize,
    /// The stale files stackgen wrote that were removed.
    pub pruned: Vec<String>,
    /// The directory already was the render: nothing was written (no file's mtime moves).
    pub unchanged: bool,
}

/// Write the files `render` gives (name → text) as the directory `dir` (see the module
/// header). Files whose text is unchanged are carried into the new tree as hard links (same inode,
/// mode and mtime), and a tree that already is the render is left as it is.
pub fn write_dir(dir: &Path, want: &impl Want, prune: bool) -> io::Result<Written> {
    // A symlink to a directory: write into its target, keep the link.
    let dir: PathBuf = match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(dir).map_err(|e| at(dir, e))?,
        _ => dir.to_path_buf(),
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a directory name", dir.display()))
    })?;
    let parent = parent_of(&dir);
    fs::create_dir_all(&parent).map_err(|e| at(&parent, e))?;
    // Everything from here on sees the directory as no other stackgen changes it.
    let _lock = lock(&parent)?;
    let old = match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Some(m),
        Ok(m) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is {}, not a directory", dir.display(), kind_of(m.file_type())),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(at(&dir, e)),
    };
    let names = want.names();
    let mut tree = if old.is_some() { read_tree(&dir)? } else { BTreeMap::new() };
    let mut written = Written { files: names.len(), pruned: Vec::new(), unchanged: false };
    // What to do with each entry of the old tree: refuse, keep its mode, link it
    // unchanged, prune it, or carry it over untouched.
    let mut modes: BTreeMap<&str, u32> = BTreeMap::new();
    let mut same: Vec<&str> = Vec::new();
    let mut carry: Vec<&str> = Vec::new();
    let (mut buf, mut text) = (Vec::new(), String::new());
    for (entry_name, e) in &mut tree {
        if want.contains(entry_name) {
            // A file the render has: read whole (its header is then in the buffer).
            let mode = if e.file_type.is_file() { e.mode() } else { 0 };
            let read = e.file_type.is_file() && e.read_into(&mut buf).is_ok();
            let ours = if read { buf.starts_with(HEADER.as_bytes()) } else { e.file_type.is_file() && e.ours() };
            e.file = None;
            if !ours {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is {} stackgen did not write (no `# Rendered by stackgen` header); move it away, \
                         stackgen does not replace it",
                        e.path.display(),
                        if e.file_type.is_file() { "a file" } else { kind_of(e.file_type) }
                    ),
                ));
            }
            if read && buf == want.text(entry_name, &mut text).as_bytes() {
                same.push(entry_name);
            } else {
                modes.insert(entry_name, mode);
            }
            continue;
        }
        let ours = e.file_type.is_file() && e.ours();
        e.file = None;
        if prune && ours && entry_name.ends_with(".yaml") {
            written.pruned.push(entry_name.clone());
            continue;
        }
        carry.push(entry_name);
    }
    if old.is_some() && same.len() == names.len() && written.pruned.is_empty() {
        written.unchanged = true;
        return Ok(written);
    }
    let prefix = format!(".stackgen-{name}.");
    remove_stale(&parent, &prefix);
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o777))
        .tempdir_in(&parent)
        .map_err(|e| at(&parent, e))?;
    if let Some(m) = &old {
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(|e| at(tmp.path(), e))?;
    }
    for entry_name in carry {
        clone_into(&dir.join(entry_name), &tmp.path().join(entry_name))?;
    }
    // Unchanged files were read as regular files (not links): linked as they are.
    for entry_name in &same {
        link_into(&dir.join(entry_name), &tmp.path().join(entry_name))?;
    }
    let same: std::collections::BTreeSet<&str> = same.into_iter().collect();
    for file in names.iter().copied().filter(|f| !same.contains(f)) {
        let text = want.text(file, &mut text);
        let path = tmp.path().join(file);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&path)
            .map_err(|e| at(&dir.join(file), e))?;
        f.write_all(text.as_bytes()).map_err(|e| at(&dir.join(file), e))?;
        if let Some(mode) = modes.get(file) {
            f.set_permissions(fs::Permissions::from_mode(*mode)).map_err(|e| at(&dir.join(file), e))?;
        }
        if durable() {
            f.sync_all().map_err(|e| at(&dir.join(file), e))?;
        }
    }
    if durable() {
        fsync_dir(tmp.path());
    }
    if old.is_some() {
        exchange(tmp.path(), &dir)?;
        // `tmp` now holds the old tree; dropping it removes that.
    } else {
        let kept = tmp.keep();
        if let Err(e) = rename_noreplace(&kept, &dir) {
            let _ = fs::remove_dir_all(&kept);
            return Err(at(&dir, e));
        }
    }
    if durable() {
        fsync_dir(&parent);
    }
    Ok(written)
}

/// Whether `-o DIR` flushes every file to the device before the switch
/// (`STACKGEN_FSYNC=1`). Off by default, as git does for a checkout and helm, kustomize
/// and cargo do for what they generate: the switch is atomic for every process (readers,
/// SIGKILL, a full disk) either way, and a render lost to a power cut is rendered
/// again. A flush costs an fsync per file (~1 ms each here), and `syncfs` would wait for
/// every other writer's data on the filesystem.
fn durable() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("STACKGEN_FSYNC").is_some_and(|v| v == "1"))
}

/// Remove temporary trees a killed stackgen left beside the directory (called under the
/// lock, so none of them is in use).
fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(rd) = fs::read_dir(parent) else { return };
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(prefix) && n.len() == prefix.len() + 6 && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Carry an entry stackgen did not write into the new tree unchanged: a hard link to the
/// same inode (file, symlink, FIFO, device), or for a directory the same directory
/// rebuilt of hard links, with its mode.
fn clone_into(from: &Path, to: &Path) -> io::Result<()> {
    let m = fs::symlink_metadata(from).map_err(|e| at(from, e))?;
    if m.file_type().is_dir() {
        fs::create_dir(to).map_err(|e| at(to, e))?;
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777)).map_err(|e| at(to, e))?;
        for e in fs::read_dir(from).map_err(|e| at(from, e))? {
            let e = e.map_err(|e| at(from, e))?;
            clone_into(&e.path(), &to.join(e.file_name()))?;
        }
        return Ok(());
    }
    link_into(from, to)
}

/// `to` as a hard link of `from` (not followed if a symlink).
fn link_into(from: &Path, to: &Path) -> io::Result<()> {
    rustix::fs::linkat(rustix::fs::CWD, from, rustix::fs::CWD, to, rustix::fs::AtFlags::empty()).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("{}: cannot carry it into the new tree with a hard link ({e})", from.display()),
        )
    })
}

/// Swap two directories in one step.
fn exchange(new: &Path, dir: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, new, CWD, dir, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(at(dir, e.into())),
        }
    }
    // No atomic exchange here: move the old tree aside, the new one in, the old one to
    // where the new one was (so it is removed with the temporary directory).
    let aside = new.with_extension("old");
    fs::rename(dir, &aside).map_err(|e| at(dir, e))?;
    if let Err(e) = fs::rename(new, dir) {
        let _ = fs::rename(&aside, dir);
        return Err(at(dir, e));
    }
    fs::rename(&aside, new).map_err(|e| at(&aside, e))
}

fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    fs::rename(from, to)
}

/// Compare a render with a committed one: a multi-document file, or an `-o` directory.
/// Returns whether they are identical and a unified diff when not. Any read problem (a
/// missing file or directory, a FIFO, a device, invalid UTF-8, a file over the limit)
/// is an error naming the path (exit 2), never "stale"; a file the render has that the
/// committed directory lacks is stale.
pub fn check(path: &Path, render: impl FnOnce() -> Documents) -> io::Result<(bool, String)> {
    let meta = fs::metadata(path).map_err(|e| at(path, e))?;
    if meta.is_dir() {
        let docs = render();
        return compare_tree(&DocFiles::new(&docs), path, read_tree(path)?);
    }
    let docs = render();
    if same_as_stream(&docs, path)? {
        return Ok((true, String::new()));
    }
    check_file(path, &docs.stream())
}

/// Whether the file at `path` holds exactly the render's stream, compared chunk by chunk
/// as it is rendered (neither side is held whole in memory; a committed render that is
/// current, what CI checks, costs about one render). `false` leaves the reasons (a
/// difference, invalid UTF-8, a file over the limit) to the full comparison.
fn same_as_stream(docs: &Documents, path: &Path) -> io::Result<bool> {
    struct Compare<R> {
        file: R,
        buf: Vec<u8>,
        same: bool,
    }
    impl<R: Read> Write for Compare<R> {
        fn write(&mut self, rendered: &[u8]) -> io::Result<usize> {
            if self.same {
                self.buf.resize(rendered.len(), 0);
                match self.file.read_exact(&mut self.buf) {
                    Ok(()) => self.same = self.buf == rendered,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.same = false,
                    Err(e) => return Err(e),
                }
            }
            Ok(rendered.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let file = open_regular(path)?;
    let mut c = Compare { file: file.take(MAX_CHECK_BYTES + 1), buf: Vec::new(), same: true };
    docs.write_to(&mut c).map_err(|e| at(path, e))?;
    Ok(c.same && c.file.read(&mut [0u8; 1]).map_err(|e| at(path, e))? == 0)
}

/// Compare named files with a committed render, with the read rules of [`check`]. A
/// directory is compared file by file, stale files stackgen wrote included; a single
/// file is compared with `want[single]` (the file a render prints on stdout:
/// `values.yaml` of helm-values).
pub fn check_files(want: &BTreeMap<String, String>, path: &Path, single: Option<&str>) -> io::Result<(bool, String)> {
    let meta = fs::metadata(path).map_err(|e| at(path, e))?;
    if !meta.is_dir() {
        let new = single.and_then(|s| want.get(s)).map_or("", String::as_str);
        return check_file(path, new);
    }
    compare_tree(want, path, read_tree(path)?)
}

/// [`check_files`] of a directory whose entries were listed (`tree`): each file is
/// read into one buffer and compared as bytes; a text is made only for a diff.
fn compare_tree(want: &impl Want, path: &Path, mut tree: BTreeMap<String, Entry>) -> io::Result<(bool, String)> {
    let mut diff = String::new();
    let mut names: Vec<String> = want.names().into_iter().map(str::to_string).collect();
    for (name, e) in &mut tree {
        if !want.contains(name) {
            if e.ours() {
                names.push(name.clone());
            }
            e.file = None;
        }
    }
    names.sort();
    let (mut bytes, mut text) = (Vec::new(), String::new());
    for name in names {
        let new = want.text(&name, &mut text);
        let have = match tree.get_mut(&name) {
            None => String::new(),
            Some(e) => {
                e.read_into(&mut bytes)?;
                if bytes == new.as_bytes() {
                    continue;
                }
                text_of(std::mem::take(&mut bytes), MAX_CHECK_BYTES, &e.path.display().to_string())?
            }
        };
        if have != new {
            diff.push_str(&stackgen::diff::unified(&format!("{}/{name}", path.display()), &have, new));
        }
    }
    Ok((diff.is_empty(), diff))
}

fn check_file(path: &Path, new: &str) -> io::Result<(bool, String)> {
    let have = read_regular(path, MAX_CHECK_BYTES)?;
    if have == new {
        return Ok((true, String::new()));
    }
    Ok((false, stackgen::diff::unified(&path.display().to_string(), &have, new)))
}
