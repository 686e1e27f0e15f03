//! User profiles, stored inside the library: what each user liked and disliked, their
//! interests (texts, embedded), papers from their own bibliography that the library
//! does not hold (embedded), and what `recommend` has shown them, each with the time of
//! the action. Training and ranking are `rank`'s; choosing what to train on is
//! `recommend`'s.
//!
//! # On disk
//!
//! ```text
//! LIBRARY/profiles/USER.json   one profile (format "paperscout-profile", version 1)
//! LIBRARY/profiles/USER.lock   the OS lock a change of USER's profile holds
//! ```
//!
//! One file per user, replaced whole: a change is written to `USER.json.tmp` (created
//! afresh, never through a link), flushed, renamed over `USER.json`, and the directory
//! flushed, so a reader (or a process killed at any moment) sees the old profile or the
//! new one, never a mix. A change takes `USER.lock` (an OS advisory lock, released when
//! the process dies, like the library's own) before it loads the profile, so changes of
//! one user are applied one after the other and none is lost; changes of different
//! users do not wait for each other. A change waits for another one of the same user
//! up to [`Profiles::lock_wait`] (10 s by default), then fails with
//! [`Error::Busy`].
//! Profiles name papers by canonical id, never by vector row, so they are independent of
//! the papers' commits, and profiles can change while an ingest runs.
//!
//! The file is JSON a person can read: the current state (`likes`, `dislikes`,
//! `interests`, `external`, `shown`), each entry with its time (`at`, RFC 3339 UTC),
//! and `history`, every action in order.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use super::lock::{Holder, WriteLock};
use crate::fsio::{self, write_atomic};
use crate::{Error, Result};

/// Directory of the profiles inside a library.
pub const PROFILES_DIR: &str = "profiles";
/// The `format` field of a profile file.
pub const PROFILE_FORMAT: &str = "paperscout-profile";
/// The version this code writes and reads.
pub const PROFILE_VERSION: u32 = 1;

/// A paper the user marked, by canonical id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub id: String,
    pub at: DateTime<Utc>,
}

/// An interest: a free text, embedded with the library's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterestText {
    pub text: String,
    pub at: DateTime<Utc>,
    /// Its sentence vector (unit norm, the library's dimension).
    pub vector: Vec<f32>,
}

/// A paper from the user's bibliography that the library does not hold, embedded from
/// its title and abstract; it counts as a like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalPaper {
    /// How the user can recognise it: the arXiv id or DOI when known, else the BibTeX key.
    pub id: String,
    pub title: String,
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    pub at: DateTime<Utc>,
    pub vector: Vec<f32>,
}

/// A paper `recommend` listed, and for which day's listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The listing it appeared in: its last day (`--date`, or the end of `--since`).
    pub listing: NaiveDate,
}

/// One action, as recorded in `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// `like`, `dislike`, `unlike`, `interest`, `remove-interest`, `import`, `shown`,
    /// `email`, `remove-email`, `follow`, `unfollow`, `keywords` (items
    /// `require: TEXT` / `exclude: TEXT`), `remove-keywords` or `clear-keywords`.
    pub action: String,
    /// The papers it concerned (ids), or the interest text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// The named collection it was made in (issue 15); absent: the default collection
    /// (and in events written before there were collections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// A named collection of a profile (issue 15): a feed of its own, with its own likes,
/// dislikes, interests and imported papers, and its own model. The profile's own
/// fields are the default, unnamed collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    #[serde(default)]
    pub likes: Vec<Mark>,
    #[serde(default)]
    pub dislikes: Vec<Mark>,
    #[serde(default)]
    pub interests: Vec<InterestText>,
    #[serde(default)]
    pub external: Vec<ExternalPaper>,
}

impl Collection {
    /// Whether it has anything to rank by (a like, an interest or an imported paper).
    pub fn has_positives(&self) -> bool {
        !(self.likes.is_empty() && self.interests.is_empty() && self.external.is_empty())
    }
}

/// One user's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub format: String,
    pub version: u32,
    pub user: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    #[serde(default)]
    pub likes: Vec<Mark>,
    #[serde(default)]
    pub dislikes: Vec<Mark>,
    #[serde(default)]
    pub interests: Vec<InterestText>,
    #[serde(default)]
    pub external: Vec<ExternalPaper>,
    #[serde(default)]
    pub shown: Vec<Shown>,
    #[serde(default)]
    pub history: Vec<Event>,
    /// Where the daily digest is mailed (one checked address, see [`check_email`]);
    /// absent in profiles written before there was mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    // ---- Collections and the relevance threshold (issue 15 part A) ----
    /// Named collections by name (see [`Collection`]); the fields above are the
    /// default collection. Absent in profiles written before collections.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collections: BTreeMap<String, Collection>,
    /// Digests and feeds (and `recommend` without `--min-score`) list only papers
    /// whose calibrated score (0-1) is at least this; `None`: the top N, unfiltered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    // Steering the feed (issue 15): followed authors and keyword rules, applied by
    // `crate::steer` to every listing; absent in profiles written before them.
    /// Authors whose papers are always listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follows: Vec<Follow>,
    /// Words and phrases a listed paper must hold, or must not.
    #[serde(default, skip_serializing_if = "Keywords::is_empty")]
    pub keywords: Keywords,
}

/// An author the user follows, as they wrote the name (matched as
/// [`crate::steer::names`] says).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Follow {
    pub name: String,
    pub at: DateTime<Utc>,
}

/// A word or phrase of a keyword rule, as the user wrote it (whitespace collapsed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleText {
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A user's keyword rules (see [`crate::steer`]): a listed paper holds at least one
/// `require` phrase (when there are any) and no `exclude` phrase, in its title or
/// abstract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keywords {
    #[serde(default)]
    pub require: Vec<RuleText>,
    #[serde(default)]
    pub exclude: Vec<RuleText>,
}

impl Keywords {
    /// No rule.
    pub fn is_empty(&self) -> bool {
        self.require.is_empty() && self.exclude.is_empty()
    }
}

impl Profile {
    /// An empty profile for `user` (a valid name, see [`check_user`]).
    pub fn new(user: &str, now: DateTime<Utc>) -> Profile {
        Profile {
            format: PROFILE_FORMAT.into(),
            version: PROFILE_VERSION,
            user: user.into(),
            created: now,
            updated: now,
            likes: Vec::new(),
            dislikes: Vec::new(),
            interests: Vec::new(),
            external: Vec::new(),
            shown: Vec::new(),
            history: Vec::new(),
            email: None,
            collections: BTreeMap::new(),
            threshold: None,
            follows: Vec::new(),
            keywords: Keywords::default(),
        }
    }

    fn record(&mut self, now: DateTime<Utc>, action: &str, items: Vec<String>) {
        self.record_in(None, now, action, items);
    }

    fn record_in(
        &mut self,
        collection: Option<&str>,
        now: DateTime<Utc>,
        action: &str,
        items: Vec<String>,
    ) {
        self.updated = now;
        self.history.push(Event {
            at: now,
            action: action.into(),
            items,
            collection: collection.map(String::from),
        });
    }

    /// The lists of `collection` (`None`: the default one), made when missing.
    fn lists_mut(&mut self, collection: Option<&str>) -> ListsMut<'_> {
        match collection {
            None => ListsMut {
                likes: &mut self.likes,
                dislikes: &mut self.dislikes,
                interests: &mut self.interests,
                external: &mut self.external,
            },
            Some(name) => {
                let c = self.collections.entry(name.to_string()).or_default();
                ListsMut {
                    likes: &mut c.likes,
                    dislikes: &mut c.dislikes,
                    interests: &mut c.interests,
                    external: &mut c.external,
                }
            }
        }
    }

    /// Like papers (canonical ids): a disliked one stops being disliked; one already
    /// liked keeps its first time. Returns how many were new likes.
    pub fn like(&mut self, ids: &[String], now: DateTime<Utc>) -> usize {
        self.mark(None, ids, now, true)
    }

    /// Dislike papers (canonical ids): a liked one stops being liked.
    pub fn dislike(&mut self, ids: &[String], now: DateTime<Utc>) -> usize {
        self.mark(None, ids, now, false)
    }

    /// [`Profile::like`] (`like` true) or [`Profile::dislike`] in `collection`
    /// (`None`: the default collection; a named one is made on first use, checked
    /// with [`check_collection`] by the caller). Other collections are not changed.
    pub fn mark_in(
        &mut self,
        collection: Option<&str>,
        ids: &[String],
        now: DateTime<Utc>,
        like: bool,
    ) -> usize {
        self.mark(collection, ids, now, like)
    }

    fn mark(
        &mut self,
        collection: Option<&str>,
        ids: &[String],
        now: DateTime<Utc>,
        like: bool,
    ) -> usize {
        let lists = self.lists_mut(collection);
        let (to, from) = if like {
            (lists.likes, lists.dislikes)
        } else {
            (lists.dislikes, lists.likes)
        };
        let mut added = 0;
        for id in ids {
            from.retain(|m| &m.id != id);
            if !to.iter().any(|m| &m.id == id) {
                to.push(Mark {
                    id: id.clone(),
                    at: now,
                });
                added += 1;
            }
        }
        self.record_in(
            collection,
            now,
            if like { "like" } else { "dislike" },
            ids.to_vec(),
        );
        added
    }

    /// Forget likes or dislikes of papers (canonical ids), in every collection. An id
    /// the profile neither likes nor dislikes is an error naming it, and nothing
    /// changes.
    pub fn unlike(&mut self, ids: &[String], now: DateTime<Utc>) -> Result<()> {
        let marked: HashSet<&str> = self.marks(true).chain(self.marks(false)).collect();
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !marked.contains(id.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::Invalid(format!(
                "profile {}: neither liked nor disliked: {}",
                self.user,
                missing.join(", ")
            )));
        }
        self.likes.retain(|m| !ids.contains(&m.id));
        self.dislikes.retain(|m| !ids.contains(&m.id));
        for c in self.collections.values_mut() {
            c.likes.retain(|m| !ids.contains(&m.id));
            c.dislikes.retain(|m| !ids.contains(&m.id));
        }
        self.record(now, "unlike", ids.to_vec());
        Ok(())
    }

    /// Add an interest (replacing one with the same text).
    pub fn add_interest(&mut self, text: &str, vector: Vec<f32>, now: DateTime<Utc>) {
        self.add_interest_in(None, text, vector, now);
    }

    /// [`Profile::add_interest`] in `collection` (`None`: the default one).
    pub fn add_interest_in(
        &mut self,
        collection: Option<&str>,
        text: &str,
        vector: Vec<f32>,
        now: DateTime<Utc>,
    ) {
        let interests = self.lists_mut(collection).interests;
        interests.retain(|i| i.text != text);
        interests.push(InterestText {
            text: text.into(),
            at: now,
            vector,
        });
        self.record_in(collection, now, "interest", vec![text.into()]);
    }

    /// Remove an interest by its exact text; an error when there is none.
    pub fn remove_interest(&mut self, text: &str, now: DateTime<Utc>) -> Result<()> {
        self.remove_interest_in(None, text, now)
    }

    /// [`Profile::remove_interest`] in `collection` (`None`: the default one).
    pub fn remove_interest_in(
        &mut self,
        collection: Option<&str>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let user = self.user.clone();
        let interests = self.lists_mut(collection).interests;
        let before = interests.len();
        interests.retain(|i| i.text != text);
        if interests.len() == before {
            let have: Vec<String> = interests.iter().map(|i| format!("{:?}", i.text)).collect();
            return Err(Error::Invalid(format!(
                "profile {user}{}: no interest {text:?} (interests: {})",
                collection.map_or(String::new(), |c| format!(", collection {c:?}")),
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            )));
        }
        self.record_in(collection, now, "remove-interest", vec![text.into()]);
        Ok(())
    }

    /// Add papers from the user's bibliography that the library lacks (replacing ones
    /// with the same id).
    pub fn add_external(&mut self, papers: Vec<ExternalPaper>, now: DateTime<Utc>) {
        self.add_external_in(None, papers, now);
    }

    /// [`Profile::add_external`] in `collection` (`None`: the default one).
    pub fn add_external_in(
        &mut self,
        collection: Option<&str>,
        papers: Vec<ExternalPaper>,
        now: DateTime<Utc>,
    ) {
        let ids: Vec<String> = papers.iter().map(|p| p.id.clone()).collect();
        let external = self.lists_mut(collection).external;
        external.retain(|e| !ids.contains(&e.id));
        external.extend(papers);
        self.record_in(collection, now, "import", ids);
    }

    /// Remember that `ids` were listed for the listing ending on `listing`.
    pub fn add_shown(&mut self, ids: &[String], listing: NaiveDate, now: DateTime<Utc>) {
        for id in ids {
            if !self
                .shown
                .iter()
                .any(|s| &s.id == id && s.listing == listing)
            {
                self.shown.push(Shown {
                    id: id.clone(),
                    at: now,
                    listing,
                });
            }
        }
        self.record(now, "shown", ids.to_vec());
    }

    /// Papers the user has seen, left out of the listing ending on `listing`: the
    /// liked, the disliked, and those shown in a listing for another day (listing the
    /// same day again gives the same list).
    pub fn seen(&self, listing: NaiveDate) -> HashSet<&str> {
        let shown = self.shown.iter().filter(|s| s.listing != listing);
        self.marks(true)
            .chain(self.marks(false))
            .chain(shown.map(|s| s.id.as_str()))
            .collect()
    }

    /// Ids liked (`liked` true) or disliked, in any collection.
    pub fn marks(&self, liked: bool) -> impl Iterator<Item = &str> + '_ {
        let default = if liked { &self.likes } else { &self.dislikes };
        default
            .iter()
            .chain(
                self.collections
                    .values()
                    .flat_map(move |c| if liked { &c.likes } else { &c.dislikes }),
            )
            .map(|m| m.id.as_str())
    }

    /// Mail the daily digest to `address` (checked with [`check_email`]; surrounding
    /// whitespace is dropped).
    pub fn set_email(&mut self, address: &str, now: DateTime<Utc>) -> Result<()> {
        let address = address.trim();
        check_email(address)?;
        self.email = Some(address.to_string());
        self.record(now, "email", vec![address.to_string()]);
        Ok(())
    }

    /// Stop mailing the digest. Returns whether there was an address.
    pub fn remove_email(&mut self, now: DateTime<Utc>) -> bool {
        let had = self.email.take().is_some();
        if had {
            self.record(now, "remove-email", Vec::new());
        }
        had
    }

    /// Follow an author (`name` as the user writes it, whitespace collapsed). Returns
    /// `false` when the same name (case and accents aside) is already followed. A name
    /// with no letter is an error.
    pub fn follow(&mut self, name: &str, now: DateTime<Utc>) -> Result<bool> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if crate::steer::Name::parse(&name).is_none() {
            return Err(Error::Invalid(format!(
                "follow {name:?}: expected an author's name, like \"Ada Lovelace\" or \"Lovelace, Ada\""
            )));
        }
        let key = crate::steer::text::fold(&name);
        if self
            .follows
            .iter()
            .any(|f| crate::steer::text::fold(&f.name) == key)
        {
            return Ok(false);
        }
        self.follows.push(Follow {
            name: name.clone(),
            at: now,
        });
        self.record(now, "follow", vec![name]);
        Ok(true)
    }

    /// Stop following `name`: the followed name written the same way (case and accents
    /// aside), else every followed name that matches it as an author name ("J. Smith"
    /// unfollows "John Smith"). Returns the names dropped; none is an error listing the
    /// followed authors, and nothing changes.
    pub fn unfollow(&mut self, name: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = crate::steer::text::fold(&name);
        let mut gone: Vec<String> = self
            .follows
            .iter()
            .filter(|f| crate::steer::text::fold(&f.name) == key)
            .map(|f| f.name.clone())
            .collect();
        if gone.is_empty() {
            gone = self
                .follows
                .iter()
                .filter(|f| crate::steer::same_person(&f.name, &name))
                .map(|f| f.name.clone())
                .collect();
        }
        if gone.is_empty() {
            let have: Vec<String> = self
                .follows
                .iter()
                .map(|f| format!("{:?}", f.name))
                .collect();
            return Err(Error::Invalid(format!(
                "profile {}: does not follow {name:?} (follows: {})",
                self.user,
                if have.is_empty() {
                    "nobody".into()
                } else {
                    have.join(", ")
                }
            )));
        }
        self.follows.retain(|f| !gone.contains(&f.name));
        self.record(now, "unfollow", gone.clone());
        Ok(gone)
    }

    /// Add keyword rules: `require` and `exclude` phrases (whitespace collapsed). A
    /// phrase moves from one list to the other when named there; one already in its
    /// list keeps its first time. A phrase with no word, or named in both lists at
    /// once, is an error, and nothing changes.
    pub fn add_keywords(
        &mut self,
        require: &[String],
        exclude: &[String],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let clean = |list: &[String]| -> Result<Vec<(String, String)>> {
            list.iter()
                .map(|t| {
                    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                    match crate::steer::Phrase::parse(&t) {
                        Some(p) => Ok((t, p.key())),
                        None => Err(Error::Invalid(format!(
                            "keyword {t:?}: expected a word or phrase (letters or digits)"
                        ))),
                    }
                })
                .collect()
        };
        let (require, exclude) = (clean(require)?, clean(exclude)?);
        if let Some((t, _)) = require
            .iter()
            .find(|(_, k)| exclude.iter().any(|(_, e)| e == k))
        {
            return Err(Error::Invalid(format!(
                "keyword {t:?}: both required and excluded; name it once"
            )));
        }
        let key = |r: &RuleText| crate::steer::Phrase::parse(&r.text).map(|p| p.key());
        let mut items = Vec::new();
        for (list, required) in [(&require, true), (&exclude, false)] {
            for (text, k) in list {
                let Keywords { require, exclude } = &mut self.keywords;
                let (target, other) = if required {
                    (require, exclude)
                } else {
                    (exclude, require)
                };
                other.retain(|r| key(r).as_ref() != Some(k));
                if !target.iter().any(|r| key(r).as_ref() == Some(k)) {
                    target.push(RuleText {
                        text: text.clone(),
                        at: now,
                    });
                }
                let tag = if required { "require" } else { "exclude" };
                items.push(format!("{tag}: {text}"));
            }
        }
        self.record(now, "keywords", items);
        Ok(())
    }

    /// Remove keyword rules by phrase (from either list); a phrase in neither is an
    /// error naming it, and nothing changes.
    pub fn remove_keywords(&mut self, phrases: &[String], now: DateTime<Utc>) -> Result<()> {
        let key = |t: &str| crate::steer::Phrase::parse(t).map(|p| p.key());
        let keys: Vec<Option<String>> = phrases.iter().map(|p| key(p)).collect();
        let all = || self.keywords.require.iter().chain(&self.keywords.exclude);
        if let Some(i) = keys
            .iter()
            .position(|k| k.is_none() || !all().any(|r| &key(&r.text) == k))
        {
            return Err(Error::Invalid(format!(
                "profile {}: no keyword rule {:?}",
                self.user, phrases[i]
            )));
        }
        for list in [&mut self.keywords.require, &mut self.keywords.exclude] {
            list.retain(|r| !keys.contains(&key(&r.text)));
        }
        self.record(now, "remove-keywords", phrases.to_vec());
        Ok(())
    }

    /// Drop every keyword rule. Returns whether there were any.
    pub fn clear_keywords(&mut self, now: DateTime<Utc>) -> bool {
        let had = !self.keywords.is_empty();
        self.keywords = Keywords::default();
        if had {
            self.record(now, "clear-keywords", Vec::new());
        }
        had
    }

    /// Whether the profile has anything to rank by, in any collection.
    pub fn is_empty(&self) -> bool {
        self.likes.is_empty()
            && self.interests.is_empty()
            && self.external.is_empty()
            && !self.collections.values().any(Collection::has_positives)
    }

    /// The collections with something to rank by, each ranked by its own model:
    /// `None` (the default collection) first when it has likes, interests or
    /// imported papers, then the named ones by name.
    pub fn feeds(&self) -> Vec<Option<String>> {
        let default =
            !(self.likes.is_empty() && self.interests.is_empty() && self.external.is_empty());
        default
            .then_some(None)
            .into_iter()
            .chain(
                self.collections
                    .iter()
                    .filter(|(_, c)| c.has_positives())
                    .map(|(n, _)| Some(n.clone())),
            )
            .collect()
    }

    /// What one collection's model trains on, as a profile without collections: the
    /// collection's likes, interests and imported papers; its dislikes, plus the
    /// default collection's dislikes (a dislike outside any collection is a negative
    /// of every collection). `None` (the default collection) is the profile's own
    /// lists. An error naming the collections when `name` is not one.
    pub fn collection_view(&self, name: Option<&str>) -> Result<Profile> {
        let mut view = self.clone();
        view.collections = BTreeMap::new();
        let Some(name) = name else {
            return Ok(view);
        };
        let c = self.collections.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.collections.keys().map(String::as_str).collect();
            Error::Invalid(format!(
                "profile {}: no collection {name:?} (collections: {}); make one with `paperscout profile {} like ID... --collection {name}`",
                self.user,
                if names.is_empty() { "none".to_string() } else { names.join(", ") },
                self.user
            ))
        })?;
        view.likes = c.likes.clone();
        view.interests = c.interests.clone();
        view.external = c.external.clone();
        let mut dislikes = c.dislikes.clone();
        for d in &self.dislikes {
            if !dislikes.iter().any(|m| m.id == d.id) && !c.likes.iter().any(|m| m.id == d.id) {
                dislikes.push(d.clone());
            }
        }
        view.dislikes = dislikes;
        Ok(view)
    }

    /// Set (`Some`, within 0-1) or clear (`None`) the relevance threshold of digests
    /// and feeds.
    pub fn set_threshold(&mut self, threshold: Option<f32>, now: DateTime<Utc>) -> Result<()> {
        if let Some(t) = threshold {
            check_threshold(t)?;
        }
        self.threshold = threshold;
        let items = threshold.map(|t| vec![format!("{t}")]).unwrap_or_default();
        self.record(now, "threshold", items);
        Ok(())
    }
}

/// The lists of one collection, borrowed for a change.
struct ListsMut<'a> {
    likes: &'a mut Vec<Mark>,
    dislikes: &'a mut Vec<Mark>,
    interests: &'a mut Vec<InterestText>,
    external: &'a mut Vec<ExternalPaper>,
}

/// Why `t` cannot be a relevance threshold, if it cannot: a number from 0 to 1 (a
/// calibrated score).
pub fn check_threshold(t: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&t) {
        return Err(Error::Invalid(format!(
            "threshold {t}: expected a number from 0 to 1 (scores are calibrated relevances)"
        )));
    }
    Ok(())
}

/// Why `name` cannot name a collection, if it cannot: 1-64 characters out of ASCII
/// letters, digits, `.`, `_` and `-`, not starting with `.` or `-`.
pub fn check_collection(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name.len() > 64
        || name.starts_with(['.', '-'])
        || !name.chars().all(ok_char)
    {
        return Err(Error::Invalid(format!(
            "collection name {name:?}: expected 1-64 characters out of letters, digits, '.', '_', '-', not starting with '.' or '-'"
        )));
    }
    Ok(())
}

/// Why `user` cannot name a profile, if it cannot: 1-64 characters out of ASCII
/// letters, digits, `.`, `_`, `-` and `@`, not starting with `.` (it is a file name).
pub fn check_user(user: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if user.is_empty() || user.len() > 64 || user.starts_with('.') || !user.chars().all(ok_char) {
        return Err(Error::Invalid(format!(
            "user name {user:?}: expected 1-64 characters out of letters, digits, '.', '_', '-', '@', not starting with '.'"
        )));
    }
    Ok(())
}

/// Why `address` cannot receive digests, if it cannot: one bare `local@domain` address
/// (no display name, no list), at most 254 characters, without spaces, control
/// characters (a CR/LF could forge mail headers) or the characters mail syntax quotes;
/// the domain made of dot-separated labels.
pub fn check_email(address: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Invalid(format!(
            "mail address {address:?}: {why}; expected one address like ada@example.org"
        )))
    };
    if address.is_empty() || address.len() > 254 {
        return bad("expected 1-254 characters");
    }
    if let Some(c) = address
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return bad(&format!("contains {c:?}"));
    }
    if let Some(c) = address.chars().find(|c| {
        matches!(
            c,
            '<' | '>' | '(' | ')' | ',' | ';' | ':' | '"' | '[' | ']' | '\\'
        )
    }) {
        return bad(&format!("contains {c:?}"));
    }
    let Some((local, domain)) = address.split_once('@') else {
        return bad("no '@'");
    };
    if domain.contains('@') {
        return bad("more than one '@'");
    }
    if local.is_empty() || local.len() > 64 || local.starts_with('.') || local.ends_with('.') {
        return bad("the part before '@' must be 1-64 characters, not starting or ending with '.'");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if !domain.split('.').all(label_ok) {
        return bad("the domain must be labels of letters, digits and '-' separated by '.'");
    }
    Ok(())
}

/// How long a change of a profile waits for another change of the same profile.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The profiles of one library.
#[derive(Debug, Clone)]
pub struct Profiles {
    dir: PathBuf,
    lock_wait: Duration,
}

/// A profile being changed: holds the user's profile lock until dropped.
#[derive(Debug)]
pub struct ProfileEdit {
    pub profile: Profile,
    path: PathBuf,
    dir: PathBuf,
    _lock: WriteLock,
}

impl Profiles {
    /// The profiles of the library in `library_dir` (the directory need not exist yet).
    pub fn new(library_dir: impl AsRef<Path>) -> Profiles {
        Profiles {
            dir: library_dir.as_ref().join(PROFILES_DIR),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }

    /// The same profiles, with changes waiting up to `wait` for another change of the
    /// same user ([`DEFAULT_LOCK_WAIT`] unless set).
    pub fn with_lock_wait(mut self, wait: Duration) -> Profiles {
        self.lock_wait = wait;
        self
    }

    /// How long a change waits for another change of the same user.
    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
    }

    fn path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.json"))
    }

    /// Users with a profile, sorted.
    pub fn users(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut users = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(user) = name.strip_suffix(".json") {
                if check_user(user).is_ok() {
                    users.push(user.to_string());
                }
            }
        }
        users.sort();
        Ok(users)
    }

    /// The stored profile of `user`, `None` when there is none.
    pub fn load(&self, user: &str) -> Result<Option<Profile>> {
        check_user(user)?;
        let path = self.path(user);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let bad = |message: String| Error::Library {
            path: path.clone(),
            message,
        };
        let profile: Profile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a readable profile: {e}")))?;
        if profile.format != PROFILE_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {PROFILE_FORMAT:?}",
                profile.format
            )));
        }
        if profile.version > PROFILE_VERSION {
            return Err(bad(format!(
                "profile format version {} is newer than this paperscout reads ({PROFILE_VERSION}); upgrade paperscout",
                profile.version
            )));
        }
        if profile.user != user {
            return Err(bad(format!(
                "holds the profile of {:?}, not {user:?}",
                profile.user
            )));
        }
        Ok(Some(profile))
    }

    /// The stored profile of `user`, or an error saying there is none.
    pub fn get(&self, user: &str) -> Result<Profile> {
        self.load(user)?.ok_or_else(|| {
            Error::Invalid(format!(
                "no profile {user:?} in this library (users: {}); create one with `paperscout profile {user} like ID...`",
                self.users().map(|u| if u.is_empty() { "none".into() } else { u.join(", ") }).unwrap_or_default()
            ))
        })
    }

    /// Lock `user`'s profile and load it (a new empty one when there is none) for a
    /// change; [`ProfileEdit::save`] commits it. Waits while another thread or process
    /// changes the same user's profile, up to [`Profiles::lock_wait`], then fails with
    /// [`Error::Busy`]; never waits for changes of other users.
    pub fn edit(&self, user: &str, now: DateTime<Utc>) -> Result<ProfileEdit> {
        check_user(user)?;
        fsio::ensure_dir(&self.dir)?;
        let lock_path = self.dir.join(format!("{user}.lock"));
        let lock = match WriteLock::acquire_file(&lock_path, self.lock_wait)? {
            Ok(lock) => lock,
            Err(Holder(holder)) => {
                return Err(Error::Busy {
                    path: self.path(user),
                    message: format!(
                        "profile {user:?} is being changed by another process ({holder}) and was still locked after {:.1} s; try again when it is done",
                        self.lock_wait.as_secs_f64()
                    ),
                })
            }
        };
        let profile = self.load(user)?.unwrap_or_else(|| Profile::new(user, now));
        Ok(ProfileEdit {
            profile,
            path: self.path(user),
            dir: self.dir.clone(),
            _lock: lock,
        })
    }
}

impl Profiles {
    /// Delete `user`'s profile (under the lock); `false` when there was none.
    pub fn remove(&self, user: &str) -> Result<bool> {
        check_user(user)?;
        if !self.dir.exists() {
            return Ok(false);
        }
        let _lock = WriteLock::acquire(&self.dir)?;
        let path = self.path(user);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                super::manifest::sync_dir(&self.dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

impl ProfileEdit {
    /// Commit the change atomically (temporary file, flush, rename, flush the directory)
    /// and release the lock.
    pub fn save(self) -> Result<Profile> {
        let mut json = serde_json::to_vec_pretty(&self.profile)
            .map_err(|e| Error::Invalid(format!("serialising profile: {e}")))?;
        json.push(b'\n');
        // The name the profile was loaded under, whatever its fields now say.
        let name = self
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        write_atomic(&self.dir, &format!("{name}.tmp"), &name, &json)?;
        Ok(self.profile)
    }
}

/// The current time, UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn like_dislike_unlike_move_papers_and_keep_times() {
        let mut p = Profile::new("ada", t(0));
        assert_eq!(p.like(&ids(&["a", "b"]), t(1)), 2);
        assert_eq!(p.like(&ids(&["a"]), t(2)), 0);
        assert_eq!(p.likes[0].at, t(1), "a repeated like keeps the first time");
        p.dislike(&ids(&["b", "c"]), t(3));
        assert_eq!(p.likes.iter().map(|m| &m.id).collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            p.dislikes.iter().map(|m| &m.id).collect::<Vec<_>>(),
            ["b", "c"]
        );
        let err = p.unlike(&ids(&["a", "zzz"]), t(4)).unwrap_err();
        assert!(err.to_string().contains("zzz"), "{err}");
        assert_eq!(p.likes.len(), 1, "a failed unlike changes nothing");
        p.unlike(&ids(&["a", "c"]), t(5)).unwrap();
        assert!(p.likes.is_empty());
        assert_eq!(p.dislikes.len(), 1);
        let actions: Vec<&str> = p.history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["like", "like", "dislike", "unlike"]);
        assert_eq!(p.updated, t(5));
    }

    #[test]
    fn shown_counts_only_for_other_listings() {
        let mut p = Profile::new("ada", t(0));
        let day = NaiveDate::from_ymd_opt(2026, 5, 28).unwrap();
        p.add_shown(&ids(&["x"]), day, t(1));
        p.add_shown(&ids(&["x"]), day, t(2));
        assert_eq!(p.shown.len(), 1);
        p.like(&ids(&["y"]), t(3));
        p.dislike(&ids(&["z"]), t(4));
        let same_day = p.seen(day);
        assert!(!same_day.contains("x") && same_day.contains("y") && same_day.contains("z"));
        let next_day = p.seen(day.succ_opt().unwrap());
        assert!(next_day.contains("x") && next_day.len() == 3);
    }

    #[test]
    fn email_addresses_are_checked_and_old_profiles_load() {
        for ok in [
            "ada@example.org",
            "a.b+tag@x.co",
            "x@localhost",
            "é@exämple.de",
        ] {
            check_email(ok).unwrap();
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.org",
            "a@b@c",
            "a b@x.org",
            "ada@x.org\r\nBcc: eve@x.org",
            "ada@x.org\n",
            "Ada <ada@x.org>",
            "a@x.org,b@x.org",
            "a@-x.org",
            "a@x..org",
            ".a@x.org",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        let mut p = Profile::new("ada", t(0));
        assert!(p.set_email("ada@x.org\r\nBcc: eve@x.org", t(1)).is_err());
        assert_eq!(p.email, None, "a refused address changes nothing");
        p.set_email(" ada@example.org ", t(2)).unwrap();
        assert_eq!(p.email.as_deref(), Some("ada@example.org"));
        assert!(p.remove_email(t(3)));
        assert!(!p.remove_email(t(4)));
        assert_eq!(p.email, None);
        let actions: Vec<&str> = p.history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["email", "remove-email"]);
        // A profile written before mail existed has no `email` key and loads.
        let old = serde_json::to_value(Profile::new("bob", t(0))).unwrap();
        assert!(old.get("email").is_none());
        let back: Profile = serde_json::from_value(old).unwrap();
        assert_eq!(back.email, None);
    }

    #[test]
    fn follows_and_keyword_rules_change_as_asked_and_old_profiles_load() {
        let mut p = Profile::new("ada", t(0));
        assert!(p.follow("  John   Smith ", t(1)).unwrap());
        assert!(
            !p.follow("JOHN SMITH", t(2)).unwrap(),
            "the same name again"
        );
        assert!(p.follow("Zoë Müller", t(3)).unwrap());
        assert!(p.follow(" .- ", t(4)).is_err());
        assert_eq!(p.follows[0].name, "John Smith");
        let err = p.unfollow("Jane Doe", t(5)).unwrap_err().to_string();
        assert!(
            err.contains("\"John Smith\"") && err.contains("\"Zoë Müller\""),
            "{err}"
        );
        assert_eq!(p.unfollow("Smith, J.", t(6)).unwrap(), ["John Smith"]);
        assert_eq!(p.unfollow("zoe muller", t(7)).unwrap(), ["Zoë Müller"]);
        assert!(p.follows.is_empty());

        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        p.add_keywords(&s(&["graph neural"]), &s(&["Survey", "LLM*"]), t(8))
            .unwrap();
        assert!(p
            .add_keywords(&s(&["x"]), &s(&["X"]), t(9))
            .unwrap_err()
            .to_string()
            .contains("both required and excluded"));
        assert!(p.add_keywords(&[], &s(&["!!"]), t(9)).is_err());
        // Named in the other list: it moves.
        p.add_keywords(&s(&["survey"]), &[], t(10)).unwrap();
        let texts = |r: &[RuleText]| r.iter().map(|k| k.text.clone()).collect::<Vec<_>>();
        assert_eq!(texts(&p.keywords.require), ["graph neural", "survey"]);
        assert_eq!(texts(&p.keywords.exclude), ["LLM*"]);
        assert!(p.remove_keywords(&s(&["nope"]), t(11)).is_err());
        p.remove_keywords(&s(&["GRAPH  NEURAL"]), t(12)).unwrap();
        assert_eq!(texts(&p.keywords.require), ["survey"]);
        assert!(p.clear_keywords(t(13)) && !p.clear_keywords(t(14)));
        let actions: Vec<&str> = p.history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "follow",
                "follow",
                "unfollow",
                "unfollow",
                "keywords",
                "keywords",
                "remove-keywords",
                "clear-keywords"
            ]
        );
        // Written before follows and keywords existed: no such keys, and it loads.
        let old = serde_json::to_value(Profile::new("bob", t(0))).unwrap();
        assert!(old.get("follows").is_none() && old.get("keywords").is_none());
        let back: Profile = serde_json::from_value(old).unwrap();
        assert!(back.follows.is_empty() && back.keywords.is_empty());
    }

    #[test]
    fn user_names_are_safe_file_names() {
        for ok in ["ada", "a.b-c_d", "x@y.org", "A1"] {
            check_user(ok).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", "é", &"x".repeat(65)] {
            assert!(check_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn edits_are_saved_whole_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(dir.path());
        assert_eq!(profiles.load("ada").unwrap(), None);
        assert!(profiles
            .get("ada")
            .unwrap_err()
            .to_string()
            .contains("no profile"));
        let mut edit = profiles.edit("ada", t(0)).unwrap();
        // Another user's profile does not wait; the same user's waits, then gives up.
        drop(profiles.edit("bob", t(0)).unwrap());
        let impatient = profiles.clone().with_lock_wait(Duration::from_millis(30));
        let err = impatient.edit("ada", t(0)).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        assert!(
            err.to_string().contains("\"ada\" is being changed"),
            "{err}"
        );
        edit.profile.like(&ids(&["2605.00001"]), t(1));
        edit.profile
            .add_interest("graph neural networks", vec![0.6, 0.8], t(2));
        let saved = edit.save().unwrap();
        assert_eq!(profiles.load("ada").unwrap().as_ref(), Some(&saved));
        assert_eq!(profiles.users().unwrap(), ["ada"]);
        // The lock went with the edit; no temporary file is left behind.
        profiles.edit("bob", t(3)).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join(PROFILES_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn damaged_or_foreign_profiles_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(dir.path());
        std::fs::create_dir_all(dir.path().join(PROFILES_DIR)).unwrap();
        let path = dir.path().join(PROFILES_DIR).join("ada.json");
        std::fs::write(&path, "{\"format\": \"paperscout-profile\", ").unwrap();
        let err = profiles.load("ada").unwrap_err().to_string();
        assert!(
            err.contains("ada.json") && err.contains("not a readable profile"),
            "{err}"
        );
        let mut p = Profile::new("bob", t(0));
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        let err = profiles.load("ada").unwrap_err().to_string();
        assert!(err.contains("not \"ada\""), "{err}");
        p.user = "ada".into();
        p.version = PROFILE_VERSION + 1;
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        let err = profiles.load("ada").unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
        // A failed edit (refused load) leaves the file as it was.
        assert!(profiles.edit("ada", t(1)).is_err());
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"version\":2"));
    }
}
