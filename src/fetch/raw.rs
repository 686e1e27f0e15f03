//! Raw answers kept under `LIBRARY/fetch/raw/`, so a failed ingest can be replayed
//! (`paperscout ingest FILE` reads every kept format) without asking the server again.
//! A file is named `SOURCE-YYYYMMDDTHHMMSSmmmZ-LABEL.EXT` (the UTC time it was
//! fetched; LABEL says what was asked: categories, set and page, batch, day), written
//! atomically, and removed by [`prune`] once older than the keep period.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// The folder of raw answers inside `LIBRARY/fetch/`.
pub const RAW_DIR: &str = "raw";

/// Replace `dir/name` with `bytes` whole or not at all, durably: write `dir/tmp`, flush
/// it, rename it over `name`, flush the directory.
pub(crate) fn write_atomic(dir: &Path, tmp: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(tmp);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_data().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// Keep `bytes` as a new raw file of `source` (`arxiv-rss`, `arxiv-oai`, ...) under
/// `fetch_dir/raw/`; returns its path. `label` is reduced to `[A-Za-z0-9._+-]`.
pub(crate) fn keep(
    fetch_dir: &Path,
    source: &str,
    label: &str,
    ext: &str,
    bytes: &[u8],
    now: SystemTime,
) -> Result<PathBuf> {
    let dir = fetch_dir.join(RAW_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let stamp = DateTime::<Utc>::from(now).format("%Y%m%dT%H%M%S%3fZ");
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let base = format!("{source}-{stamp}-{label}");
    let mut name = format!("{base}.{ext}");
    let mut n = 2;
    while dir.join(&name).exists() {
        name = format!("{base}-{n}.{ext}");
        n += 1;
    }
    write_atomic(&dir, &format!(".{name}.tmp"), &name, bytes)?;
    Ok(dir.join(name))
}

/// Remove the files under `fetch_dir/raw/` last modified more than `keep` before
/// `now` (leftover temporary files included); returns how many went. A file that
/// cannot be removed is skipped with a warning: pruning never fails a fetch.
pub(crate) fn prune(fetch_dir: &Path, keep: Duration, now: SystemTime) -> usize {
    let dir = fetch_dir.join(RAW_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > keep);
        if old {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(path = %path.display(), "cannot remove an old raw answer: {e}")
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let dir = tempfile::tempdir().unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_774_569_600_123);
        let a = keep(dir.path(), "arxiv-rss", "cs.IR+cs.CV", "xml", b"<a/>", t).unwrap();
        let b = keep(dir.path(), "arxiv-rss", "cs.IR+cs.CV", "xml", b"<b/>", t).unwrap();
        let c = keep(
            dir.path(),
            "arxiv-oai",
            "physics:cond-mat/p1",
            "xml",
            b"",
            t,
        )
        .unwrap();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name(&a), "arxiv-rss-20260327T000000123Z-cs.IR+cs.CV.xml");
        assert_eq!(name(&b), "arxiv-rss-20260327T000000123Z-cs.IR+cs.CV-2.xml");
        assert_eq!(
            name(&c),
            "arxiv-oai-20260327T000000123Z-physics_cond-mat_p1.xml"
        );
        assert_eq!(std::fs::read(&a).unwrap(), b"<a/>");
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(prune(dir.path(), Duration::from_secs(7200), later), 0);
        assert_eq!(prune(dir.path(), Duration::from_secs(60), later), 3);
        assert!(!a.exists());
    }
}
