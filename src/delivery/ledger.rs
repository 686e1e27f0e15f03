//! The delivery ledger: one small JSON file per user and day recording how far that
//! day's delivery got, with the day's ranked listing (kept while the day is inside the
//! feed window, so the feed is regenerated from it, never parsed back from Atom).
//!
//! ```text
//! LIBRARY/delivery/write.lock         held by the one process delivering
//! LIBRARY/delivery/USER/DATE.json     one record (format "paperscout-delivery", version 1)
//! ```
//!
//! Every record is replaced whole (temporary file, flush, rename, flush the directory).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::render::{Because, BecauseKind, Item, Listing, Subject};
use crate::{Error, Result};

/// The `format` field of a record.
pub const RECORD_FORMAT: &str = "paperscout-delivery";
/// The version this code writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// How far one user's delivery of one day got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The listing is stored; the feed and digest may or may not be written; no mail
    /// was tried (no address, mail off, or a crash before). The next run mails it.
    Ranked,
    /// Written just before the mail was handed to SMTP. Found by a later run, it means
    /// the process died while sending: the mail may or may not have gone out, and it is
    /// not sent again (at most once).
    Sending,
    /// The SMTP server accepted the mail. Final.
    Sent,
    /// The last try failed (`error` says why); the next run tries again.
    Failed,
    /// The day had nothing for the user: nothing to mail. Final.
    Empty,
}

/// One user's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    pub format: String,
    pub version: u32,
    pub user: String,
    pub day: NaiveDate,
    pub state: State,
    /// When the state last changed.
    pub updated: DateTime<Utc>,
    /// Mail attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Where the mail went (or was going).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the SMTP server accepted the mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The day's listing; dropped once the day leaves the feed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<StoredListing>,
}

impl DayRecord {
    /// A new record in state [`State::Ranked`].
    pub fn new(user: &str, day: NaiveDate, listing: &Listing, now: DateTime<Utc>) -> Self {
        DayRecord {
            format: RECORD_FORMAT.into(),
            version: RECORD_VERSION,
            user: user.into(),
            day,
            state: State::Ranked,
            updated: now,
            attempts: 0,
            email: None,
            error: None,
            sent_at: None,
            listing: Some(StoredListing::from_listing(listing)),
        }
    }
}

/// A listing as stored in a record: the items with their abstracts (the feed shows them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredListing {
    pub generated: DateTime<Utc>,
    pub items: Vec<StoredItem>,
    /// The user's threshold applied that day (issue 15); absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

/// One stored [`Item`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredItem {
    pub rank: usize,
    pub id: String,
    pub title: String,
    /// `None` for a score that was not a finite number (JSON has no NaN).
    pub score: Option<f32>,
    pub url: Option<String>,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    pub listed: Option<NaiveDate>,
    pub because: Option<StoredBecause>,
    /// The user's collection that ranked it (issue 15); absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// One stored [`Because`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBecause {
    /// Absent in records written before reasons had a kind: read from `id` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<BecauseKind>,
    pub id: Option<String>,
    pub title: String,
    pub similarity: Option<f32>,
}

impl StoredListing {
    pub fn from_listing(l: &Listing) -> Self {
        let finite = |x: f32| x.is_finite().then_some(x);
        StoredListing {
            generated: l.generated,
            items: l
                .items
                .iter()
                .map(|i| StoredItem {
                    rank: i.rank,
                    id: i.id.clone(),
                    title: i.title.clone(),
                    score: finite(i.score),
                    url: i.url.clone(),
                    categories: i.categories.clone(),
                    authors: i.authors.clone(),
                    abstract_text: i.abstract_text.clone(),
                    listed: i.listed,
                    because: i.because.as_ref().map(|b| StoredBecause {
                        kind: Some(b.kind),
                        id: b.id.clone(),
                        title: b.title.clone(),
                        similarity: finite(b.similarity),
                    }),
                    collection: i.collection.clone(),
                })
                .collect(),
            threshold: l.threshold,
        }
    }

    /// The items again, as `render` takes them.
    pub fn items(&self) -> Vec<Item> {
        self.items
            .iter()
            .map(|i| Item {
                rank: i.rank,
                id: i.id.clone(),
                title: i.title.clone(),
                score: i.score.unwrap_or(f32::NAN),
                url: i.url.clone(),
                categories: i.categories.clone(),
                authors: i.authors.clone(),
                abstract_text: i.abstract_text.clone(),
                listed: i.listed,
                because: i.because.as_ref().map(|b| Because {
                    kind: b.kind.unwrap_or(if b.id.is_some() {
                        BecauseKind::Paper
                    } else {
                        BecauseKind::Interest
                    }),
                    id: b.id.clone(),
                    title: b.title.clone(),
                    similarity: b.similarity.unwrap_or(f32::NAN),
                }),
                collection: i.collection.clone(),
            })
            .collect()
    }

    /// The listing of `user`'s `day`.
    pub fn to_listing(&self, user: &str, day: NaiveDate) -> Listing {
        Listing {
            subject: Subject::Recommend { user: user.into() },
            date: Some(day),
            since: None,
            generated: self.generated,
            items: self.items(),
            threshold: self.threshold,
            quiet: if self.items.is_empty() && self.threshold.is_some() {
                vec![day]
            } else {
                Vec::new()
            },
        }
    }
}

/// The records of one library.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    pub fn new(dir: PathBuf) -> Self {
        Ledger { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn user_dir(&self, user: &str) -> PathBuf {
        self.dir.join(user)
    }

    fn path(&self, user: &str, day: NaiveDate) -> PathBuf {
        self.user_dir(user).join(format!("{day}.json"))
    }

    /// The record of `user`'s `day`, if any. A damaged record is an error naming it.
    pub fn load(&self, user: &str, day: NaiveDate) -> Result<Option<DayRecord>> {
        let path = self.path(user, day);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let bad = |message: String| Error::Library {
            path: path.clone(),
            message,
        };
        let record: DayRecord = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a readable delivery record: {e}")))?;
        if record.format != RECORD_FORMAT || record.version > RECORD_VERSION {
            return Err(bad(format!(
                "format {:?} version {}, expected {RECORD_FORMAT:?} version {RECORD_VERSION} or older",
                record.format, record.version
            )));
        }
        if record.user != user || record.day != day {
            return Err(bad(format!(
                "holds {}'s {}, not {user}'s {day}",
                record.user, record.day
            )));
        }
        Ok(Some(record))
    }

    /// Replace the record of its user and day, atomically and durably.
    pub fn save(&self, record: &DayRecord) -> Result<()> {
        let dir = self.user_dir(&record.user);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut json = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::Invalid(format!("serialising a delivery record: {e}")))?;
        json.push(b'\n');
        let name = format!("{}.json", record.day);
        write_atomic(&dir, &format!("{name}.tmp"), &name, &json)
    }

    /// The days with a record for `user`, oldest first.
    pub fn days(&self, user: &str) -> Result<Vec<NaiveDate>> {
        let dir = self.user_dir(user);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut days = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(day) = name
                .strip_suffix(".json")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            {
                days.push(day);
            }
        }
        days.sort();
        Ok(days)
    }
}

/// Replace `dir/name` with `bytes` whole or not at all, durably: write `dir/tmp`, flush
/// it, rename it over `name`, flush the directory. (As the library's manifests do.)
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
