//! Writing files inside directories that other people and processes can also write to
//! (a library, its profiles and caches, an embed checkpoint): never through a link
//! planted there, whole or not at all, and nothing left behind when a write fails.
//! Every file paperscout writes in those directories is created here. What goes into
//! the files, and when a commit happens, is the callers' business.
//!
//! - A new file ([`TempFile::create`]) is created exclusively (`O_CREAT|O_EXCL`, which
//!   never follows a link) after whatever had its name (a stale temporary file, a
//!   symbolic or hard link) was removed with `unlink`, which removes the link itself.
//! - A replacement ([`write_atomic`], [`TempFile::persist`]) is such a new file, synced,
//!   then renamed over the final name (a rename replaces a link there; it does not
//!   write through it), then the directory is synced.
//! - A file that is reopened ([`open_append`], [`open_lock`]) is opened with
//!   `O_NOFOLLOW`; a lock file that turns out to be a link is replaced by a file.
//! - A temporary file is removed when anything fails before its rename (disk full,
//!   an I/O error, a panic unwinding through the writer).
//!
//! [`fault`] lets tests make writes fail as if the disk were full.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A file being written under a temporary name; removed when dropped before
/// [`TempFile::persist`] or [`TempFile::keep`].
#[derive(Debug)]
pub struct TempFile {
    file: Option<File>,
    path: PathBuf,
}

impl TempFile {
    /// Create `path` empty for writing. Whatever had that name is removed first (never
    /// written through); a directory in the way is an error.
    pub fn create(path: impl Into<PathBuf>) -> Result<TempFile> {
        let path = path.into();
        remove_stale(&path)?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        no_follow(&mut opts);
        let file = opts.open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempFile {
            file: Some(file),
            path,
        })
    }

    /// Where the file is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self) -> io::Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("the file was already closed"))
    }

    /// Flush the file to disk and rename it to `to` (replacing what is there, a link
    /// included, without following it). The directory is not synced: callers that
    /// need the rename durable call [`sync_dir`]. On failure the file is removed.
    pub fn persist(mut self, to: &Path) -> Result<()> {
        self.file()
            .and_then(File::sync_all)
            .map_err(|e| Error::io(&self.path, e))?;
        self.file = None;
        match std::fs::rename(&self.path, to) {
            Ok(()) => {
                // Renamed: nothing to remove any more.
                self.path = PathBuf::new();
                Ok(())
            }
            Err(e) => Err(Error::io(to, e)),
        }
    }

    /// Flush the file to disk and keep it under the name it was created with (a data
    /// file that is new under its final name). On failure the file is removed.
    pub fn keep(mut self) -> Result<File> {
        self.file()
            .and_then(File::sync_all)
            .map_err(|e| Error::io(&self.path, e))?;
        self.path = PathBuf::new();
        self.file
            .take()
            .ok_or_else(|| Error::Invalid("temporary file already closed".into()))
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        fault::check(&self.path)?;
        let mut f = self.file()?;
        f.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut f = self.file()?;
        f.flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.path.as_os_str().is_empty() {
            if let Err(e) = std::fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("could not remove {}: {e}", self.path.display());
                }
            }
        }
    }
}

/// Replace `dir/name` with `bytes` whole or not at all, durably: write `dir/tmp` (created
/// afresh, see the module doc), flush it to disk, rename it over `name`, flush the
/// directory. Whenever the process dies, readers see the old file or the new one; when
/// a step fails, `dir/tmp` is removed. (The commit of a manifest, a profile, a
/// checkpoint state, a cache.)
pub fn write_atomic(dir: &Path, tmp: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let mut t = TempFile::create(dir.join(tmp))?;
    t.write_all(bytes)
        .map_err(|e| Error::io(dir.join(tmp), e))?;
    t.persist(&dir.join(name))?;
    sync_dir(dir)
}

/// Remove whatever is at `path` (a file or a link, not followed), if anything; a
/// directory there is an error.
pub fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.is_dir() => Err(Error::io(
            path,
            io::Error::other("a directory is in the way of a file paperscout writes"),
        )),
        Ok(_) => match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(path, e)),
            _ => Ok(()),
        },
    }
}

/// Open the existing file `path` (created when `create`) for reading and writing
/// without following a link there: a link is an error naming it.
pub fn open_append(path: &Path, create: bool) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(create).truncate(false);
    no_follow(&mut opts);
    opts.open(path).map_err(|e| {
        if is_link_error(&e) {
            Error::io(
                path,
                io::Error::other(
                    "is a symbolic link; paperscout does not write through links in its directories",
                ),
            )
        } else {
            Error::io(path, e)
        }
    })
}

/// Open (creating it if missing) the lock file `path` for reading and writing, never
/// through a link: a symbolic link, a hard link or anything but a plain file at that
/// name is removed and replaced by a new file. The file is only ever locked and holds
/// a note, so replacing it loses nothing.
pub fn open_lock(path: &Path) -> Result<File> {
    for _ in 0..4 {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        no_follow(&mut opts);
        match opts.open(path) {
            Ok(f) => {
                let meta = f.metadata().map_err(|e| Error::io(path, e))?;
                if meta.is_file() && links(&meta) == 1 {
                    return Ok(f);
                }
                drop(f);
                tracing::warn!("replacing {}: not a plain file of its own", path.display());
                remove_stale(path)?;
            }
            Err(e) if is_link_error(&e) => {
                tracing::warn!("replacing {}: a symbolic link", path.display());
                remove_stale(path)?;
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Err(Error::io(
        path,
        io::Error::other("keeps being replaced by a link while paperscout opens it"),
    ))
}

/// Create the directory `path` (and its parents) if missing. An existing `path` must
/// be a directory, not a symbolic link to one: paperscout does not write through links
/// in the directories it owns.
pub fn ensure_dir(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => Err(Error::io(
            path,
            io::Error::other(
                "is a symbolic link; paperscout does not write through links in its directories (replace it with a directory)",
            ),
        )),
        Ok(_) => Err(Error::io(path, io::Error::other("is not a directory"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Flush a directory's entries (new names, renames, removals) to disk. A no-op where
/// directories cannot be opened as files (Windows), where rename is already durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(unix)]
fn no_follow(opts: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_: &mut OpenOptions) {}

#[cfg(unix)]
fn is_link_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_error(_: &io::Error) -> bool {
    false
}

#[cfg(unix)]
fn links(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn links(_: &std::fs::Metadata) -> u64 {
    1
}

/// Fault injection for tests: make writes fail as if the disk were full.
#[doc(hidden)]
pub mod fault {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    static ANY: AtomicBool = AtomicBool::new(false);
    static FULL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// From now on, every write through [`super::TempFile`] (so every atomic replace)
    /// to a file under `dir` fails with "no space left on device", until [`heal`].
    /// Only paths under `dir` are affected, so tests running in parallel are not.
    pub fn fill_disk(dir: &Path) {
        if let Ok(mut full) = FULL.lock() {
            full.push(dir.to_path_buf());
            ANY.store(true, Ordering::SeqCst);
        }
    }

    /// Undo [`fill_disk`] for `dir`.
    pub fn heal(dir: &Path) {
        if let Ok(mut full) = FULL.lock() {
            full.retain(|d| d != dir);
            ANY.store(!full.is_empty(), Ordering::SeqCst);
        }
    }

    pub(crate) fn check(path: &Path) -> io::Result<()> {
        if !ANY.load(Ordering::Relaxed) {
            return Ok(());
        }
        let full = FULL
            .lock()
            .map(|f| f.iter().any(|d| path.starts_with(d)))
            .unwrap_or(false);
        if full {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (injected)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn temp_files_replace_links_instead_of_writing_through_them() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("x.tmp")).unwrap();
        write_atomic(dir.path(), "x.tmp", "x", b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x")).unwrap(),
            "new"
        );
        assert!(!dir.path().join("x.tmp").exists());
        // A lock file that is a link is replaced, its target untouched.
        let lock = dir.path().join("l.lock");
        std::os::unix::fs::symlink(&outside, &lock).unwrap();
        let f = open_lock(&lock).unwrap();
        f.set_len(0).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&lock).unwrap().is_file());
        // A hard link too.
        std::fs::remove_file(&lock).unwrap();
        std::fs::hard_link(&outside, &lock).unwrap();
        open_lock(&lock).unwrap().set_len(0).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        // Data files are not opened through links.
        let data = dir.path().join("data");
        std::os::unix::fs::symlink(&outside, &data).unwrap();
        assert!(open_append(&data, true).is_err());
        assert!(ensure_dir(&data).is_err());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        fault::fill_disk(dir.path());
        let err = write_atomic(dir.path(), "x.tmp", "x", b"new").unwrap_err();
        fault::heal(dir.path());
        assert!(err.to_string().contains("No space left"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
