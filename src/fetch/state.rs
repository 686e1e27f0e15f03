//! What fetching remembers between runs, in `LIBRARY/fetch/state.json`: the OAI-PMH
//! high-water mark of each set (the newest datestamp harvested, so the next harvest
//! asks only for what is new) and the validators (`ETag`, `Last-Modified`) of each URL
//! with the raw file of the answer they belong to (so a 304 can give that answer
//! again). Written whole and atomically; a missing file is an empty state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The folder under the library where fetching keeps its files.
pub const FETCH_DIR: &str = "fetch";
/// The state file inside [`FETCH_DIR`].
pub const STATE_FILE: &str = "state.json";
const STATE_TMP: &str = "state.json.tmp";
/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// The harvest record of one OAI-PMH set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMark {
    /// The newest datestamp harvested (inclusive: the next harvest asks `from` this day,
    /// because records stamped later on the same day may have come since).
    pub high_water: NaiveDate,
    /// When it was recorded.
    pub recorded: DateTime<Utc>,
}

/// Validators of one URL's last full answer and where that answer is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlMark {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The raw file of that answer, relative to `LIBRARY/fetch/`.
    pub raw: String,
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchState {
    pub version: u32,
    /// OAI-PMH set (`cs`, `physics:cond-mat`) → its high-water mark.
    #[serde(default)]
    pub oai: BTreeMap<String, SetMark>,
    /// Request URL → validators of its last full answer.
    #[serde(default)]
    pub validators: BTreeMap<String, UrlMark>,
}

impl Default for FetchState {
    fn default() -> Self {
        FetchState {
            version: STATE_VERSION,
            oai: BTreeMap::new(),
            validators: BTreeMap::new(),
        }
    }
}

impl FetchState {
    /// `LIBRARY/fetch/state.json`.
    pub fn path(library: &Path) -> PathBuf {
        library.join(FETCH_DIR).join(STATE_FILE)
    }

    /// Read the state of the library at `library`; a missing file is an empty state.
    /// A file that is not a state of a known version is an error naming it.
    pub fn load(library: &Path) -> Result<FetchState> {
        let path = Self::path(library);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FetchState::default()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let state: FetchState = serde_json::from_slice(&bytes).map_err(|e| Error::Input {
            path: path.clone(),
            line: e.line() as u64,
            message: format!("not a fetch state file: {e}"),
        })?;
        if state.version != STATE_VERSION {
            return Err(Error::Input {
                path,
                line: 1,
                message: format!(
                    "fetch state version {} is not the version {STATE_VERSION} this paperscout reads",
                    state.version
                ),
            });
        }
        Ok(state)
    }

    /// Write the state atomically (a temporary file, flushed, renamed over the old one).
    pub fn save(&self, library: &Path) -> Result<()> {
        let dir = library.join(FETCH_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Invalid(format!("serialising the fetch state failed: {e}")))?;
        json.push(b'\n');
        super::raw::write_atomic(&dir, STATE_TMP, STATE_FILE, &json)
    }

    /// The high-water mark of `set`, if it was ever harvested.
    pub fn high_water(&self, set: &str) -> Option<NaiveDate> {
        self.oai.get(set).map(|m| m.high_water)
    }

    /// Record `day` as the high-water mark of `set`; a mark never moves back.
    pub fn set_high_water(&mut self, set: &str, day: NaiveDate, now: DateTime<Utc>) {
        let keep = self.high_water(set).is_some_and(|old| old >= day);
        if !keep {
            self.oai.insert(
                set.to_string(),
                SetMark {
                    high_water: day,
                    recorded: now,
                },
            );
        }
    }
}
