//! Writing a render to files, and reading committed renders back: one file per object
//! plus kustomization.yaml for `-o DIR`, one file for `init -o FILE`, and `--check`.
//!
//! What stackgen may do to files, held to the bar of git and kubectl:
//! - **Nothing partial.** Everything is rendered in memory first. `-o DIR` builds the
//!   whole new tree beside DIR (`.stackgen-<name>.XXXXXX`, same filesystem) and swaps it
//!   in with one `renameat2(RENAME_EXCHANGE)` (Linux; elsewhere, or on a filesystem
//!   without it, two renames with a moment when DIR is absent), so a reader, a full
//!   disk, or SIGKILL sees the old tree or the new one, never a mix. `init -o FILE`
//!   writes a temporary file and renames it. Every file is on disk before the switch
//!   (one `syncfs` of the new tree's filesystem on Linux, an fsync per file elsewhere).
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
//! - **Stale files** stackgen wrote that this render no longer has are kept, or removed
//!   with `--prune` (the `prune` flag of [`write_dir`]).
//!
//! Reads are bounded and regular-file only where a FIFO or a device has no business:
//! `--check` opens every file non-blocking and refuses anything but a regular file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use stackgen::read::{at, kind_of, open_regular, read_regular};
use stackgen::render::{yaml, Documents, Object, HEADER};

/// The most `--check` reads of one committed file (the render limit: a larger file
/// cannot equal a render).
pub const MAX_CHECK_BYTES: u64 = stackgen::MAX_RENDER_BYTES;

/// The files of a directory render, name → content, kustomization.yaml included.
pub fn files(docs: &Documents) -> BTreeMap<String, String> {
    files_from((0..docs.len()).map(|i| {
        let mut text = String::with_capacity(4096);
        text.push_str(HEADER);
        docs.write(i, &mut text);
        (docs.file_name(i), text)
    }))
}

/// [`files`] of objects built as values (`--format operator`).
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
    let mut resources = Vec::new();
    for (name, text) in docs {
        resources.push(serde_json::Value::String(name.clone()));
        out.insert(name, text);
    }
    let kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let mut k = String::from(HEADER);
    yaml::write_document(&mut k, &kustomization);
    out.insert("kustomization.yaml".into(), k);
    out
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

/// Whether `path` is a regular file that starts with [`HEADER`] (read non-blocking,
/// only the header's bytes).
fn has_header(path: &Path) -> bool {
    let Ok(f) = open_regular(path) else { return false };
    let mut head = Vec::with_capacity(HEADER.len());
    f.take(HEADER.len() as u64).read_to_end(&mut head).is_ok() && head == HEADER.as_bytes()
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

/// Write `files` as the directory `dir` (see the module header). Returns the names of
/// the files pruned.
pub fn write_dir(dir: &Path, files: &BTreeMap<String, String>, prune: bool) -> io::Result<Vec<String>> {
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
    let prefix = format!(".stackgen-{name}.");
    remove_stale(&parent, &prefix);
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o777))
        .tempdir_in(&parent)
        .map_err(|e| at(&parent, e))?;
    let mut pruned = Vec::new();
    let mut modes: BTreeMap<String, u32> = BTreeMap::new();
    if let Some(m) = &old {
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(|e| at(tmp.path(), e))?;
        let mut entries: Vec<fs::DirEntry> =
            fs::read_dir(&dir).map_err(|e| at(&dir, e))?.collect::<io::Result<_>>().map_err(|e| at(&dir, e))?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            let entry_name = e.file_name().to_string_lossy().into_owned();
            let ft = e.file_type().map_err(|e| at(&path, e))?;
            let ours = ft.is_file() && has_header(&path);
            if files.contains_key(&entry_name) {
                if !ours {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} is {} stackgen did not write (no `# Rendered by stackgen` header); move it away, \
                             stackgen does not replace it",
                            path.display(),
                            if ft.is_file() { "a file" } else { kind_of(ft) }
                        ),
                    ));
                }
                let mode = e.metadata().map_err(|e| at(&path, e))?.mode() & 0o7777;
                modes.insert(entry_name, mode);
                continue;
            }
            if prune && ours && entry_name.ends_with(".yaml") {
                pruned.push(entry_name);
                continue;
            }
            clone_into(&path, &tmp.path().join(e.file_name()))?;
        }
    }
    for (file, text) in files {
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
        #[cfg(not(target_os = "linux"))]
        f.sync_all().map_err(|e| at(&dir.join(file), e))?;
    }
    // Every file on disk before the switch: on Linux one syncfs(2) of the filesystem the
    // new tree is on (one flush for hundreds of files, where an fsync each cost ~1 ms);
    // elsewhere each file was fsynced above.
    #[cfg(target_os = "linux")]
    {
        let d = fs::File::open(tmp.path()).map_err(|e| at(tmp.path(), e))?;
        rustix::fs::syncfs(&d).map_err(|e| at(tmp.path(), e.into()))?;
    }
    fsync_dir(tmp.path());
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
    fsync_dir(&parent);
    Ok(pruned)
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
pub fn check(docs: &Documents, path: &Path) -> io::Result<(bool, String)> {
    let meta = fs::metadata(path).map_err(|e| at(path, e))?;
    if meta.is_dir() {
        return check_files(&files(docs), path, None);
    }
    if same_as_stream(docs, path)? {
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
    let mut diff = String::new();
    let mut names: Vec<String> = want.keys().cloned().collect();
    for e in fs::read_dir(path).map_err(|e| at(path, e))? {
        let e = e.map_err(|e| at(path, e))?;
        let name = e.file_name().to_string_lossy().to_string();
        if !want.contains_key(&name) && has_header(&e.path()) {
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        let file = path.join(&name);
        let have = match fs::symlink_metadata(&file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            _ => read_regular(&file, MAX_CHECK_BYTES)?,
        };
        let new = want.get(&name).map_or("", String::as_str);
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
