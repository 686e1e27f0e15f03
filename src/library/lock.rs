//! The single-writer lock of a library directory.
//!
//! `write.lock` is locked with the operating system's advisory file lock (`flock` on
//! Unix, `LockFileEx` on Windows, through `File::try_lock`). The kernel releases it when
//! the holder exits in any way, `kill -9` included, so a lock is never left stale: the
//! next writer simply gets it. That is why the file is never deleted and why its
//! contents (the holder's pid) are informational only, shown in the refusal message.
//! Readers take no lock: they read the manifest and the files it names.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::{Error, Result};

/// File name of the lock inside a library directory.
pub const LOCK_FILE: &str = "write.lock";

/// Holds the write lock until dropped.
#[derive(Debug)]
pub struct WriteLock {
    // Kept open: closing the file releases the lock.
    _file: File,
}

impl WriteLock {
    /// Take the write lock of `dir`, or fail at once with [`Error::Locked`] naming the
    /// holder. Never waits.
    pub fn acquire(dir: &Path) -> Result<WriteLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        format!("lock file {}", path.display())
                    } else {
                        format!("{holder}; lock file {}", path.display())
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Informational: who holds it, for the message another writer gets.
        let note = format!("pid {}\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(note.as_bytes()));
        written.map_err(|e| Error::io(&path, e))?;
        Ok(WriteLock { _file: file })
    }
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
