//! Asking the library: a user's recommendations for a day or a window, papers similar
//! to a stored one, and free-text search. Each returns a [`render::Listing`] for a
//! surface to format; recording what a user was shown happens here, before anything is
//! shown, so a listing is never shown unrecorded.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;

use super::Models;
use crate::error::{Error, Result};
use crate::library::profiles::{self, Profiles};
use crate::library::Library;
use crate::paper::canonical_id;
use crate::{rank, recommend, render};

/// Which listing days: one day, the last N days up to the library's latest, or (both
/// `None`) the caller's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub date: Option<NaiveDate>,
    pub since: Option<u32>,
}

/// Parse `YYYY-MM-DD` for the option `flag`.
pub fn parse_day(flag: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| Error::Invalid(format!("{flag} {s:?}: expected YYYY-MM-DD ({e})")))
}

/// The library's latest listing day.
pub fn latest_day(lib: &Library) -> Result<NaiveDate> {
    lib.listing_days()
        .flatten()
        .max()
        .ok_or_else(|| Error::Invalid("no paper in the library has a listing day".into()))
}

/// `(from, to)` listing days, inclusive, of `window`; `None` when it names none. A
/// span reaching before the library's first listing day starts there (`--since
/// 100000000` means "everything", not a date before the calendar's start).
pub fn date_window(lib: &Library, window: Window) -> Result<Option<(NaiveDate, NaiveDate)>> {
    if let Some(day) = window.date {
        return Ok(Some((day, day)));
    }
    let Some(n) = window.since else {
        return Ok(None);
    };
    if n == 0 {
        return Err(Error::Invalid("--since must be at least 1 (days)".into()));
    }
    let last = latest_day(lib)?;
    let first = lib.listing_days().flatten().min().unwrap_or(last);
    let from = last
        .checked_sub_days(chrono::Days::new(u64::from(n - 1)))
        .map_or(first, |d| d.max(first));
    Ok(Some((from, last)))
}

/// The listing days of the library nearest to `day` (the last before it and the first
/// after it), for a hint when a day holds no papers.
pub fn nearest_days(lib: &Library, day: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let mut before: Option<NaiveDate> = None;
    let mut after: Option<NaiveDate> = None;
    for d in lib.listing_days().flatten() {
        if d < day && before.is_none_or(|b| d > b) {
            before = Some(d);
        }
        if d > day && after.is_none_or(|a| d < a) {
            after = Some(d);
        }
    }
    (before, after)
}

/// Why a window holds no papers and where there are some: "no papers listed on
/// 2026-05-09 in this library; nearest listing days: 2026-05-08, 2026-05-11".
pub fn empty_window_hint(lib: &Library, from: NaiveDate, to: NaiveDate) -> Option<String> {
    let any = lib
        .listing_days()
        .any(|d| d.is_some_and(|d| d >= from && d <= to));
    if any {
        return None;
    }
    let what = if from == to {
        format!("no papers listed on {to} in this library")
    } else {
        format!("no papers listed from {from} to {to} in this library")
    };
    let (before, _) = nearest_days(lib, from);
    let (_, after) = nearest_days(lib, to);
    let near: Vec<String> = [before, after]
        .into_iter()
        .flatten()
        .map(|d| d.to_string())
        .collect();
    Some(if near.is_empty() {
        format!("{what}; it holds no listing days at all")
    } else {
        format!("{what}; nearest listing days: {}", near.join(", "))
    })
}

/// Refuse categories no paper of the library has (a typo lists nothing, silently).
pub fn check_categories(lib: &Library, wanted: &[String]) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    for c in lib.categories() {
        known.insert(c.to_lowercase());
    }
    let unknown: Vec<&str> = wanted
        .iter()
        .filter(|c| !known.contains(&c.trim().to_lowercase()))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "unknown categor{} {}: no paper of this library has {}; `paperscout library stats` lists the categories it holds",
        if unknown.len() == 1 { "y" } else { "ies" },
        unknown.join(", "),
        if unknown.len() == 1 { "it" } else { "them" },
    )))
}

/// What to recommend.
#[derive(Debug, Clone)]
pub struct RecommendRequest {
    pub user: String,
    /// Default (both `None`): the library's latest listing day.
    pub window: Window,
    pub top: usize,
    pub min_score: Option<f32>,
    pub categories: Vec<String>,
    pub include_seen: bool,
    /// Remember the listed papers as shown to the user.
    pub record: bool,
    /// Rank with this collection's model only; `None`: the whole feed (every
    /// collection's model; a paper listed under its nearest like's collection, with
    /// that collection's calibrated score: [`crate::rank::FEED_MERGE`]).
    pub collection: Option<String>,
}

/// A recommendation and what a person should know about it.
#[derive(Debug)]
pub struct Recommendation {
    pub listing: render::Listing,
    /// Profile entries this library does not hold (ignored for ranking).
    pub missing: Vec<String>,
    /// Why the list is empty, when the window holds no papers.
    pub hint: Option<String>,
}

/// Check the numbers of a request before any work. `--min-score` is a calibrated
/// score: a number from 0 to 1.
pub fn check_request(top: usize, min_score: Option<f32>) -> Result<()> {
    if top == 0 {
        return Err(Error::Invalid("--top must be at least 1".into()));
    }
    if let Some(m) = min_score {
        if !(0.0..=1.0).contains(&m) {
            return Err(Error::Invalid(format!(
                "--min-score {m}: expected a finite number from 0 to 1 (scores are calibrated relevances)"
            )));
        }
    }
    Ok(())
}

/// `req.user`'s top papers of the window, recorded as shown (under the user's profile
/// lock) before they are returned.
pub fn recommend(lib: &Library, req: &RecommendRequest) -> Result<Recommendation> {
    let tfidf = recommend::library_tfidf(lib)?;
    let rows = recommend::TextRows::new(lib, tfidf.as_ref());
    recommend_with(lib, &rows, req)
}

/// [`recommend`] with the library's tf-idf rows shared between calls: ranking many
/// users against one library (`daily`) tokenizes each paper once.
pub fn recommend_with(
    lib: &Library,
    rows: &recommend::TextRows<'_>,
    req: &RecommendRequest,
) -> Result<Recommendation> {
    check_request(req.top, req.min_score)?;
    profiles::check_user(&req.user)?;
    let profile = Profiles::new(lib.dir()).get(&req.user)?;
    check_categories(lib, &req.categories)?;
    if let Some(c) = &req.collection {
        profiles::check_collection(c)?;
    }
    let (from, to) = window_or_latest(lib, req.window)?;
    let trained = recommend::train_feed_with(
        lib,
        rows,
        &profile,
        &rank::RankConfig::default(),
        req.collection.as_deref(),
    )?;
    let (opts, threshold) = options(req, &profile, from, to);
    let items = recommend::recommend_feed_with(lib, rows, &profile, &trained, &opts)?;
    finish(lib, req, from, to, items, &trained, threshold)
}

/// The models [`recommend`] ranks with: one per collection of the profile (see
/// [`recommend::train_feed_with`]), or only `collection`'s.
pub type TrainedFeed = Vec<recommend::Trained>;

/// `profile` trained against `lib` (what [`recommend`] ranks with), for a caller that
/// keeps it between requests until [`training_key_for`] of the profile and
/// collection, or the library's commit, changes.
pub fn train(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    profile: &profiles::Profile,
    collection: Option<&str>,
) -> Result<TrainedFeed> {
    train_with(
        lib,
        &recommend::TextRows::new(lib, tfidf),
        profile,
        collection,
    )
}

/// [`train`] with the library's tf-idf rows kept by the caller (a server keeps them
/// for a library commit, so the sampled negatives are tokenized once per commit, not
/// once per training). The same model as [`train`] and [`recommend`]: the rows are the
/// same, only made once.
pub fn train_with(
    lib: &Library,
    rows: &recommend::TextRows<'_>,
    profile: &profiles::Profile,
    collection: Option<&str>,
) -> Result<TrainedFeed> {
    if let Some(c) = collection {
        profiles::check_collection(c)?;
    }
    recommend::train_feed_with(lib, rows, profile, &rank::RankConfig::default(), collection)
}

/// A digest of what training reads from a profile (likes, dislikes, interests,
/// imported papers, of every collection; not what was shown, nor the threshold):
/// equal keys train equal models.
pub fn training_key(profile: &profiles::Profile) -> String {
    digest(&(
        &profile.likes,
        &profile.dislikes,
        &profile.interests,
        &profile.external,
        &profile.collections,
        // A follow-only profile trains on its followed authors' papers.
        profile.is_empty().then_some(&profile.follows),
    ))
}

/// The training key of the feed asked with `collection` (`None`: the whole feed): one
/// collection's models change only when that collection (or the dislikes outside any
/// collection, its negatives too) changes.
pub fn training_key_for(profile: &profiles::Profile, collection: Option<&str>) -> String {
    match collection.map(|c| profile.collection_view(Some(c))) {
        Some(Ok(view)) => digest(&(
            collection,
            &view.likes,
            &view.dislikes,
            &view.interests,
            &view.external,
        )),
        // No such collection: a key no trained feed has (training then says why).
        Some(Err(_)) => format!("missing collection {collection:?}"),
        None => training_key(profile),
    }
}

fn digest(value: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`recommend`] with the library's tf-idf and `profile` (trained as `trained`) given
/// by the caller, who may have kept them from an earlier request.
pub fn recommend_trained(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    profile: &profiles::Profile,
    trained: &[recommend::Trained],
    req: &RecommendRequest,
) -> Result<Recommendation> {
    recommend_trained_with(
        lib,
        &recommend::TextRows::new(lib, tfidf),
        profile,
        trained,
        req,
    )
}

/// [`recommend_trained`] with the library's tf-idf rows kept by the caller (a server
/// keeps them for a library commit).
pub fn recommend_trained_with(
    lib: &Library,
    rows: &recommend::TextRows<'_>,
    profile: &profiles::Profile,
    trained: &[recommend::Trained],
    req: &RecommendRequest,
) -> Result<Recommendation> {
    check_request(req.top, req.min_score)?;
    check_categories(lib, &req.categories)?;
    let (from, to) = window_or_latest(lib, req.window)?;
    let (opts, threshold) = options(req, profile, from, to);
    let items = recommend::recommend_feed_with(lib, rows, profile, trained, &opts)?;
    finish(lib, req, from, to, items, trained, threshold)
}

/// The window's days, or the library's latest listing day.
fn window_or_latest(lib: &Library, window: Window) -> Result<(NaiveDate, NaiveDate)> {
    match date_window(lib, window)? {
        Some(w) => Ok(w),
        None => {
            let last = latest_day(lib)?;
            Ok((last, last))
        }
    }
}

/// The ranking options of `req`, and the user's threshold when it applies: the
/// profile's threshold is the minimum score unless the request names one.
fn options(
    req: &RecommendRequest,
    profile: &profiles::Profile,
    from: NaiveDate,
    to: NaiveDate,
) -> (recommend::RecommendOptions, Option<f32>) {
    let threshold = profile.threshold.filter(|_| req.min_score.is_none());
    let opts = recommend::RecommendOptions {
        from,
        to,
        top: req.top,
        min_score: req.min_score.or(threshold),
        categories: req.categories.clone(),
        include_seen: req.include_seen,
    };
    (opts, threshold)
}

/// The listing of ranked `items`, recorded as shown when asked, with the hint for an
/// empty window.
fn finish(
    lib: &Library,
    req: &RecommendRequest,
    from: NaiveDate,
    to: NaiveDate,
    items: Vec<render::Item>,
    trained: &[recommend::Trained],
    threshold: Option<f32>,
) -> Result<Recommendation> {
    let hint = if items.is_empty() {
        empty_window_hint(lib, from, to)
    } else {
        None
    };
    // Nothing reached the user's threshold in a window that has papers: say so.
    let quiet = if items.is_empty() && hint.is_none() && threshold.is_some() {
        vec![to]
    } else {
        Vec::new()
    };
    let listing = render::Listing {
        subject: render::Subject::Recommend {
            user: req.user.clone(),
        },
        date: Some(to),
        since: (from != to).then_some(from),
        generated: profiles::now(),
        items,
        threshold,
        quiet,
    };
    if req.record {
        record_shown(lib.dir(), &req.user, &listing)?;
    }
    let mut missing: Vec<String> = Vec::new();
    for t in trained {
        for m in &t.missing {
            if !missing.contains(m) {
                missing.push(m.clone());
            }
        }
    }
    Ok(Recommendation {
        listing,
        missing,
        hint,
    })
}

/// Remember the papers of `listing` as shown to `user` for its day (under the
/// profiles' lock); nothing when it is empty.
pub fn record_shown(dir: &std::path::Path, user: &str, listing: &render::Listing) -> Result<()> {
    let Some(day) = listing.date else {
        return Ok(());
    };
    if listing.items.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = listing.items.iter().map(|i| i.id.clone()).collect();
    // Listing a day again shows the same papers: nothing new to remember, no write.
    let store = Profiles::new(dir);
    if let Ok(p) = store.get(user) {
        let known: HashSet<&str> = p
            .shown
            .iter()
            .filter(|s| s.listing == day)
            .map(|s| s.id.as_str())
            .collect();
        if ids.iter().all(|id| known.contains(id.as_str())) {
            return Ok(());
        }
    }
    record_shown_days(dir, user, &[(day, ids)])
}

/// Remember several listings (`(listing day, ids)`) as shown to `user` in one write of
/// their profile (under the profiles' lock).
pub fn record_shown_days(
    dir: &std::path::Path,
    user: &str,
    listings: &[(NaiveDate, Vec<String>)],
) -> Result<()> {
    let now = profiles::now();
    let mut edit = Profiles::new(dir).edit(user, now)?;
    for (day, ids) in listings {
        edit.profile.add_shown(ids, *day, now);
    }
    edit.save()?;
    Ok(())
}

/// What `similar` and `search` list.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    pub top: usize,
    /// Only papers listed in this window (`Window::default()`: all).
    pub window: Window,
}

/// Extra candidates taken from the index beyond `top` for the tf-idf re-scoring.
const RESCORE_EXTRA: usize = 100;

/// Papers most similar to the stored paper `paper` (an id in any version, or an
/// arXiv URL). Needs no model: the paper's vector is stored.
pub fn similar(lib: &Library, paper: &str, opts: &QueryOptions) -> Result<render::Listing> {
    let tfidf = recommend::library_tfidf(lib)?;
    similar_with(lib, tfidf.as_ref(), paper, opts)
}

/// [`similar`] with the library's tf-idf given by the caller.
pub fn similar_with(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    paper: &str,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    similar_cached(lib, tfidf, None, paper, opts)
}

/// [`similar_with`] re-scoring with the papers' rows kept in `rows` (a server's cache
/// for the library commit, made with `tfidf`): the same listing, without tokenizing
/// every candidate again.
pub fn similar_cached(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    rows: Option<&recommend::TextRows<'_>>,
    paper: &str,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    let id = canonical_id(paper);
    let found = lib
        .get(&id)
        .ok_or_else(|| Error::UnknownIds(vec![paper.to_string()]))?;
    let query = lib
        .vector(&id)
        .ok_or_else(|| Error::Library {
            path: lib.dir().to_path_buf(),
            message: format!("paper {id} has no stored vector"),
        })?
        .to_vec();
    let subject = render::Subject::Similar {
        id: found.id.clone(),
        title: found.title.clone(),
    };
    hits(
        lib,
        (tfidf, rows),
        &query,
        &recommend::rescore_text(found),
        Some(&id),
        subject,
        opts,
    )
}

/// Papers most similar to a free-text query, embedded with the library's model.
pub fn search(
    lib: &Library,
    models: &Models,
    text: &str,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    check_search(text)?;
    let tfidf = recommend::library_tfidf(lib)?;
    search_with(lib, tfidf.as_ref(), models, text, opts)
}

/// Refuse an empty search before any work.
pub fn check_search(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::Invalid(
            "empty search: say in words what to look for".into(),
        ));
    }
    Ok(())
}

/// [`search`] with the library's tf-idf given by the caller.
pub fn search_with(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    models: &Models,
    text: &str,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    search_cached(lib, tfidf, None, models, text, opts)
}

/// [`search_with`] re-scoring with the papers' rows kept in `rows` (see
/// [`similar_cached`]).
pub fn search_cached(
    lib: &Library,
    tfidf: Option<&rank::Tfidf>,
    rows: Option<&recommend::TextRows<'_>>,
    models: &Models,
    text: &str,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    if text.trim().is_empty() {
        return Err(Error::Invalid(
            "empty search: say in words what to look for".into(),
        ));
    }
    let model = models.get()?;
    lib.check_model(&model.info)?;
    let query = model.embedder.embed(&[text])?.remove(0);
    let subject = render::Subject::Search {
        query: text.to_string(),
    };
    hits(lib, (tfidf, rows), &query, text, None, subject, opts)
}

/// The nearest papers to `query` (never `exclude`), within the window, re-scored with
/// tf-idf (the vectoriser, and the papers' rows when cached).
fn hits(
    lib: &Library,
    (tfidf, rows): (Option<&rank::Tfidf>, Option<&recommend::TextRows<'_>>),
    query: &[f32],
    query_text: &str,
    exclude: Option<&str>,
    subject: render::Subject,
    opts: &QueryOptions,
) -> Result<render::Listing> {
    if opts.top == 0 {
        return Err(Error::Invalid("--top must be at least 1".into()));
    }
    let window = date_window(lib, opts.window)?;
    let keep = |p: &crate::library::PaperMeta<'_>| {
        exclude != Some(p.id)
            && window.is_none_or(|(from, to)| p.listed.is_some_and(|d| d >= from && d <= to))
    };
    let pool = opts.top.saturating_add(RESCORE_EXTRA);
    let hits = lib.nearest_where(query, pool, &keep)?;
    let scored = recommend::rescore_with(
        hits,
        tfidf,
        rows,
        query_text,
        recommend::TFIDF_RESCORE_WEIGHT,
    );
    let items = scored
        .into_iter()
        .take(opts.top)
        .enumerate()
        .map(|(i, (h, score))| recommend::item(i + 1, h.paper, score, None))
        .collect();
    Ok(render::Listing {
        subject,
        date: window.map(|w| w.1),
        since: window.filter(|w| w.0 != w.1).map(|w| w.0),
        generated: profiles::now(),
        items,
        threshold: None,
        quiet: Vec::new(),
    })
}
