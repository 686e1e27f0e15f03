//! The single-writer lock of a library directory, and the file locks of profiles and
//! embed checkpoints built the same way.
//!
//! `write.lock` is locked with the operating system's advisory file lock (`flock` on
//! Unix, `LockFileEx` on Windows, through `File::try_lock`). The kernel releases it when
//! the holder exits in any way, `kill -9` included, so a lock is never left stale: the
//! next writer simply gets it. That is why the file is never deleted and why its
//! contents (the holder's pid) are informational only, shown in the refusal message.
//! Readers take no lock: they read the manifest and the files it names.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::fsio;
use crate::{Error, Result};

/// File name of the lock inside a library directory.
pub const LOCK_FILE: &str = "write.lock";

/// Holds a lock until dropped.
#[derive(Debug)]
pub struct WriteLock {
    // Kept open: closing the file releases the lock.
    _file: File,
}

/// Who holds a lock another process could not take: the holder's note (its pid) and
/// the lock file.
#[derive(Debug, Clone)]
pub struct Holder(pub String);

impl WriteLock {
    /// Take the write lock of `dir`, or fail at once with [`Error::Locked`] naming the
    /// holder. Never waits.
    pub fn acquire(dir: &Path) -> Result<WriteLock> {
        match WriteLock::acquire_file(&dir.join(LOCK_FILE), Duration::ZERO)? {
            Ok(lock) => Ok(lock),
            Err(Holder(holder)) => Err(Error::Locked {
                path: dir.to_path_buf(),
                holder,
            }),
        }
    }

    /// Lock the file `path` (created if missing, never through a link: see
    /// [`fsio::open_lock`]), waiting up to `wait` for another holder to let go
    /// (`Duration::ZERO`: not at all). `Ok(Err(holder))` when it is still held then.
    ///
    /// The file may be deleted by its holder (an embed checkpoint removes its directory
    /// when done): a lock taken on a file that no longer has the name is let go and
    /// taken again on the file that has it now.
    pub fn acquire_file(
        path: &Path,
        wait: Duration,
    ) -> Result<std::result::Result<WriteLock, Holder>> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let mut file = fsio::open_lock(path)?;
            match file.try_lock() {
                Ok(()) => {
                    if !same_file(&file, path) {
                        continue;
                    }
                    // Informational: who holds it, for the message another process gets.
                    let note = format!("pid {}\n", std::process::id());
                    let written = file
                        .set_len(0)
                        .and_then(|_| file.seek(SeekFrom::Start(0)))
                        .and_then(|_| file.write_all(note.as_bytes()));
                    written.map_err(|e| Error::io(path, e))?;
                    return Ok(Ok(WriteLock { _file: file }));
                }
                Err(TryLockError::WouldBlock) => {
                    let waited = start.elapsed();
                    if waited >= wait {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        return Ok(Err(Holder(if holder.is_empty() {
                            format!("lock file {}", path.display())
                        } else {
                            format!("{holder}; lock file {}", path.display())
                        })));
                    }
                    drop(file);
                    std::thread::sleep(pause.min(wait - waited));
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
    }
}

/// Whether `file` is still the file named `path` (not removed or replaced since it was
/// opened).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = WriteLock::acquire(dir.path()).unwrap();
        let err = WriteLock::acquire(dir.path()).unwrap_err();
        match &err {
            Error::Locked { holder, .. } => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                )
            }
            other => panic!("expected Locked, got {other}"),
        }
        drop(first);
        WriteLock::acquire(dir.path()).unwrap();
    }
}
