//! The glue between a stored library, a stored profile and the ranker: the library's
//! tf-idf vocabulary (fitted once and stored), training a profile
//! against the library, a day's top-N with reasons, and the tf-idf re-scoring of
//! `similar`. The model itself is [`crate::rank`]'s; storage is [`crate::library`]'s.
//!
//! # The tf-idf vocabulary
//! The vocabulary and idf are fitted once, on the library's papers (text: title,
//! abstract, authors; [`rank::rank_text`]; a deterministic sample of
//! [`TFIDF_SAMPLE_MAX`] when there are more), and stored in `LIBRARY/cache/tfidf.json`
//! with the commit and size it was fitted at. Commits do not refit it (at 1M papers a
//! refit per commit would cost far more than the commit): new papers are transformed
//! with the stored vocabulary. It is refitted when the library has grown
//! [`TFIDF_REFIT_GROWTH`]-fold since, and on request (`paperscout library reindex
//! --tfidf`). The file is derived data: it is written by readers too (atomically,
//! temporary file + rename), a damaged file is refitted, and deleting `cache/` loses
//! nothing but the fit. Below [`SMALL_LIBRARY`] papers arxiv-sanity-lite's min_df 5 / max_df 0.1
//! would keep almost no term, so small libraries keep every term in at most half the
//! papers.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::library::profiles::Profile;
use crate::library::Library;
use crate::paper::Paper;
use crate::rank::{self, Anchor, Interest, ProfileInput, RankConfig, Rows, SplitMix64, Tfidf};
use crate::render::{Because, BecauseKind, Item};
use crate::{Error, Result};

/// Below this many papers the tf-idf keeps rarer and commoner terms (see the module doc).
pub const SMALL_LIBRARY: usize = 1_000;

/// Weight of the tf-idf cosine added to the dense cosine when `similar` and `search`
/// re-score the index's candidates (see [`rescore`]). Chosen with `paperscout eval
/// --similar` (1,000 May papers as queries against the 27k corpus; relevant = shares a
/// fine category): MAP over the 110 candidates rises from w = 0 (MiniLM alone) to a
/// plateau at w ≈ 1 (+3.4 % with seed 42, +4.3 % with seed 7, paired standard error
/// ≈ 0.7 %), nDCG@10 peaks at 1-1.5 and falls slowly beyond. Equal weights it is.
/// `search` uses the same weight (not measured separately: there is no query set).
pub const TFIDF_RESCORE_WEIGHT: f32 = 1.0;

/// The tf-idf settings for a library of `n` papers.
pub fn tfidf_config(n: usize) -> rank::TfidfConfig {
    let mut config = rank::TfidfConfig::arxiv_sanity();
    if n < SMALL_LIBRARY {
        config.min_df = 1;
        config.max_df = 0.5;
    }
    config
}

/// Whether `similar`'s tf-idf re-scoring reads a paper's author names with its title
/// and abstract ([`rank::rank_text`]) or not ([`rank::title_abstract`]). Chosen with
/// `paperscout eval --similar --tfidf-variants` (README, "Similar papers").
pub const RESCORE_AUTHORS: bool = true;

/// Whether the re-scoring uses only the single-word terms of the library's
/// vectoriser ([`Tfidf::transform_unigrams`]). Chosen with the same study.
pub const RESCORE_UNIGRAMS: bool = false;

/// How `similar`'s tf-idf re-scoring reads papers, on a library of `n` papers: (index
/// the author names too, vectoriser settings, single-word terms only). `eval
/// --similar` measures it.
pub fn similar_tfidf_variant(n: usize) -> (bool, rank::TfidfConfig, bool) {
    (RESCORE_AUTHORS, tfidf_config(n), RESCORE_UNIGRAMS)
}

/// The text of `paper` that `similar` re-scores with.
pub fn rescore_text(paper: &Paper) -> String {
    if RESCORE_AUTHORS {
        rank::rank_text(paper)
    } else {
        rank::title_abstract(paper)
    }
}

fn rescore_row(t: &Tfidf, text: &str) -> rank::SparseVec {
    if RESCORE_UNIGRAMS {
        t.transform_unigrams(text)
    } else {
        t.transform(text)
    }
}

fn cache_dir(lib: &Library) -> PathBuf {
    lib.dir().join("cache")
}

/// Name of the stored vocabulary in `LIBRARY/cache/`.
pub const TFIDF_FILE: &str = "tfidf.json";

/// The vocabulary is fitted on at most this many papers (a deterministic sample of the
/// library): fitting 27k papers takes 2.2 s on 2 cores, so this bounds a (re)fit at
/// ~8 s whatever the size of the library.
pub const TFIDF_SAMPLE_MAX: usize = 100_000;

/// A stored vocabulary is refitted by itself only once the library holds this many
/// times the papers it was fitted on (so a small library growing from nothing gets
/// a vocabulary of its own field; a large one adding a day of papers never refits).
pub const TFIDF_REFIT_GROWTH: usize = 2;

/// The stored tf-idf vectoriser and when it was fitted.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StoredTfidf {
    /// The library commit it was fitted at.
    pub fitted_commit: u64,
    /// Papers in the library then.
    pub library_papers: usize,
    /// Papers it was fitted on (at most [`TFIDF_SAMPLE_MAX`]).
    pub sample_papers: usize,
    pub tfidf: Option<Tfidf>,
}

/// The library's stored tf-idf vocabulary, without fitting one: `None` when there is
/// none (or it cannot be read).
pub fn stored_tfidf(lib: &Library) -> Option<StoredTfidf> {
    let path = cache_dir(lib).join(TFIDF_FILE);
    let bytes = std::fs::read(&path).ok()?;
    match serde_json::from_slice::<StoredTfidf>(&bytes) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(
                "refitting the damaged tf-idf vocabulary {}: {e}",
                path.display()
            );
            None
        }
    }
}

/// The library's tf-idf vectoriser: the stored one (fitted once, on a sample of at
/// most [`TFIDF_SAMPLE_MAX`] papers, and kept across commits), fitted now and stored
/// when there is none or the library has grown [`TFIDF_REFIT_GROWTH`]-fold since.
/// `None` when no term passes the document-frequency limits (a library of a handful
/// of near-empty papers): rank with the dense vectors only.
pub fn library_tfidf(lib: &Library) -> Result<Option<Tfidf>> {
    library_tfidf_from(lib, stored_tfidf(lib))
}

/// [`library_tfidf`] with the stored vocabulary already read ([`stored_tfidf`]).
pub fn library_tfidf_from(lib: &Library, stored: Option<StoredTfidf>) -> Result<Option<Tfidf>> {
    if let Some(t) = stored {
        if lib.len() < TFIDF_REFIT_GROWTH * t.library_papers.max(1) {
            return Ok(t.tfidf);
        }
    }
    Ok(refit_tfidf(lib)?.tfidf)
}

/// Fit the library's tf-idf vocabulary afresh (on a sample of at most
/// [`TFIDF_SAMPLE_MAX`] papers) and store it: `paperscout library reindex --tfidf`.
pub fn refit_tfidf(lib: &Library) -> Result<StoredTfidf> {
    let n = lib.len();
    let sample: Vec<usize> = if n <= TFIDF_SAMPLE_MAX {
        (0..n).collect()
    } else {
        let mut s =
            SplitMix64::new(0x7f1d_f00d).sample(&(0..n).collect::<Vec<_>>(), TFIDF_SAMPLE_MAX);
        s.sort_unstable();
        s
    };
    // Only the sampled records are parsed (and not kept).
    let texts: Vec<String> = sample
        .par_iter()
        .filter_map(|&k| lib.with_paper(k, rank::rank_text))
        .collect();
    let tfidf = match Tfidf::fit(&texts, tfidf_config(texts.len())) {
        Ok(t) => Some(t),
        Err(Error::Invalid(msg)) if msg.contains("no term") => None,
        Err(e) => return Err(e),
    };
    let stored = StoredTfidf {
        fitted_commit: lib.commit(),
        library_papers: n,
        sample_papers: texts.len(),
        tfidf,
    };
    let dir = cache_dir(lib);
    if let Err(e) = write_cache(&dir, &stored) {
        // A read-only library still ranks; it refits next time.
        tracing::warn!(
            "could not store the tf-idf vocabulary in {}: {e}",
            dir.display()
        );
    }
    Ok(stored)
}

fn write_cache(dir: &Path, stored: &StoredTfidf) -> Result<()> {
    crate::fsio::ensure_dir(dir)?;
    let json = serde_json::to_vec(stored).map_err(|e| Error::Invalid(e.to_string()))?;
    // Created afresh (never through a planted link) and removed if the write fails.
    let tmp = format!("tfidf.{}.tmp", std::process::id());
    crate::fsio::write_atomic(dir, &tmp, TFIDF_FILE, &json)?;
    // The per-commit caches of earlier versions.
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let other = entry.file_name().to_string_lossy().into_owned();
        if other.starts_with("tfidf-") && other.ends_with(".json") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// A profile (one collection of it) trained against a library, with what is needed to
/// explain its picks and to calibrate its scores.
#[derive(Debug)]
pub struct Trained {
    pub model: rank::ProfileModel,
    /// Maps the model's margin to the calibrated 0-1 relevance every listing shows.
    pub calibration: rank::Calibration,
    /// The collection this model ranks for (`None`: the default collection).
    pub collection: Option<String>,
    /// Liked papers (and embedded bibliography entries) that are no longer in the
    /// library: kept in the profile, ignored by this model.
    pub missing: Vec<String>,
    /// Titles of the anchors an explanation can point at, by anchor.
    titles: HashMap<String, (Option<String>, String)>,
}

/// The tf-idf rows of a library's papers, made on first use and kept: ranking many
/// users against one library (`daily`, a server) tokenizes each paper once, not once
/// per user. Indexed like [`Library::papers`].
pub struct TextRows<'a> {
    tfidf: Option<std::borrow::Cow<'a, Tfidf>>,
    /// Boxed: 16 bytes a paper until its row is made (most never are).
    rows: Vec<std::sync::OnceLock<Box<rank::SparseVec>>>,
}

impl<'a> TextRows<'a> {
    /// An empty cache for `lib` and its vectoriser.
    pub fn new(lib: &Library, tfidf: Option<&'a Tfidf>) -> Self {
        TextRows {
            tfidf: tfidf.map(std::borrow::Cow::Borrowed),
            rows: (0..lib.len()).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }

    /// An empty cache that owns its vectoriser: one a server keeps for a library commit,
    /// so each paper of the days asked about is tokenized once per commit, not once per
    /// request.
    pub fn owned(lib: &Library, tfidf: Option<Tfidf>) -> TextRows<'static> {
        TextRows {
            tfidf: tfidf.map(std::borrow::Cow::Owned),
            rows: (0..lib.len()).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }

    /// [`TextRows::owned`] for a new commit of the library `older_lib` was, keeping
    /// `older`'s rows (made with the same vectoriser: the caller checks) of the papers
    /// whose records did not change ([`Library::same_record`]): after a commit that
    /// appends a day, a server does not tokenize every day it was asked about again.
    pub fn owned_from(
        lib: &Library,
        tfidf: Option<Tfidf>,
        older_lib: &Library,
        older: &TextRows<'_>,
    ) -> TextRows<'static> {
        let rows = TextRows::owned(lib, tfidf);
        for (k, slot) in older.rows.iter().enumerate() {
            if let Some(row) = slot.get() {
                if lib.same_record(older_lib, k) {
                    if let Some(new) = rows.rows.get(k) {
                        let _ = new.set(row.clone());
                    }
                }
            }
        }
        rows
    }

    /// Whether paper `k`'s row is made (kept for later requests).
    pub fn is_made(&self, k: usize) -> bool {
        self.rows.get(k).is_some_and(|r| r.get().is_some())
    }

    /// `f` of the row of paper `k` (`paper` is the library's `k`-th), without a copy.
    pub fn with<R>(&self, k: usize, paper: &Paper, f: impl FnOnce(&rank::SparseVec) -> R) -> R {
        match self.rows.get(k) {
            Some(slot) => f(slot
                .get_or_init(|| Box::new(sparse(self.tfidf.as_deref(), &rank::rank_text(paper))))),
            None => f(&sparse(self.tfidf.as_deref(), &rank::rank_text(paper))),
        }
    }

    /// The row of paper `k` (`paper` is `lib.papers()`'s `k`-th).
    fn get(&self, k: usize, paper: &Paper) -> rank::SparseVec {
        match self.rows.get(k) {
            Some(slot) => (**slot
                .get_or_init(|| Box::new(sparse(self.tfidf.as_deref(), &rank::rank_text(paper)))))
            .clone(),
            None => sparse(self.tfidf.as_deref(), &rank::rank_text(paper)),
        }
    }
}

/// The tf-idf row of `text`, or an empty one without a vectoriser.
fn sparse(tfidf: Option<&Tfidf>, text: &str) -> rank::SparseVec {
    tfidf.map_or_else(rank::SparseVec::default, |t| t.transform(text))
}

/// Train `profile` against `lib`: its likes, interests and embedded bibliography
/// entries are the positives, its dislikes and a seeded sample of
/// [`RankConfig::negatives`] other library papers the negatives (as `eval` measured).
pub fn train(
    lib: &Library,
    tfidf: Option<&Tfidf>,
    profile: &Profile,
    config: &RankConfig,
) -> Result<Trained> {
    train_with(lib, &TextRows::new(lib, tfidf), profile, config)
}

/// [`train`] with tf-idf rows shared between users.
pub fn train_with(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    config: &RankConfig,
) -> Result<Trained> {
    train_weak(lib, text_rows, profile, config, &[], 0.0)
}

/// [`train_with`], the papers `weak` (ids; those not in the library, or already liked
/// or disliked by `profile`, are left out) being positives of weight `weak_cost`
/// ([`rank::Weak`]): never negatives, never a reason.
fn train_weak(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    config: &RankConfig,
    weak: &[String],
    weak_cost: f32,
) -> Result<Trained> {
    let tfidf = text_rows.tfidf.as_deref();
    if profile.is_empty() {
        return Err(Error::Invalid(format!(
            "profile {} has no liked papers and no interests: add some with `paperscout profile {} like ID...` or `... interests \"TEXT\"`",
            profile.user, profile.user
        )));
    }
    let mut missing = Vec::new();
    let mut find = |id: &str| {
        let k = lib.key_of(id);
        if k.is_none() {
            missing.push(id.to_string());
        }
        k
    };
    let likes: Vec<usize> = profile.likes.iter().filter_map(|m| find(&m.id)).collect();
    let dislikes: Vec<usize> = profile
        .dislikes
        .iter()
        .filter_map(|m| find(&m.id))
        .collect();
    let mut marked: HashSet<usize> = likes.iter().chain(&dislikes).copied().collect();
    let weak: Vec<usize> = if weak_cost > 0.0 {
        weak.iter()
            .filter_map(|id| lib.key_of(id))
            .filter(|&k| marked.insert(k))
            .collect()
    } else {
        Vec::new()
    };
    let negatives = match config.negatives {
        Some(n) => sample_keys(&mut SplitMix64::new(config.seed), lib.len(), &marked, n),
        None => (0..lib.len()).filter(|k| !marked.contains(k)).collect(),
    };
    // The training set: likes, dislikes, sampled negatives, as rows 0.. of a small
    // rank::Library (the sample is drawn here, so the ranker uses all of it). Only
    // their records are parsed; one that cannot be read is left out.
    let chosen: Vec<usize> = likes
        .iter()
        .chain(&dislikes)
        .chain(&weak)
        .chain(&negatives)
        .copied()
        .collect();
    let papers: HashMap<usize, &Paper> = chosen
        .iter()
        .filter_map(|&k| lib.paper_at(k).map(|p| (k, p)))
        .collect();
    let likes: Vec<usize> = likes
        .into_iter()
        .filter(|k| papers.contains_key(k))
        .collect();
    let dislikes: Vec<usize> = dislikes
        .into_iter()
        .filter(|k| papers.contains_key(k))
        .collect();
    let weak: Vec<usize> = weak
        .into_iter()
        .filter(|k| papers.contains_key(k))
        .collect();
    let chosen: Vec<usize> = chosen
        .into_iter()
        .filter(|k| papers.contains_key(k))
        .collect();
    let ids: Vec<String> = chosen.iter().map(|&k| lib.id_at(k).to_string()).collect();
    let mut vectors = Vec::with_capacity(chosen.len() * lib.dimension());
    for &k in &chosen {
        vectors.extend_from_slice(lib.vector_at(k));
    }
    let rows: Vec<rank::SparseVec> = chosen
        .par_iter()
        .map(|&k| text_rows.get(k, papers[&k]))
        .collect();
    let vocab = tfidf.map_or(0, Tfidf::len);
    let library = rank::Library::new(&ids, Rows::new(&vectors, lib.dimension(), &rows)?, vocab)?;

    let mut titles = HashMap::new();
    for &k in &likes {
        let p = papers[&k];
        titles.insert(p.id.clone(), (Some(p.id.clone()), p.title.clone()));
    }
    let mut interests: Vec<Interest> = profile
        .interests
        .iter()
        .map(|i| Interest {
            text: i.text.clone(),
            vector: i.vector.clone(),
            tfidf: sparse(tfidf, &i.text),
        })
        .collect();
    for e in &profile.external {
        // Explained by its title; matched back to the entry through `titles`.
        let text = format!("{} {}", e.title, e.abstract_text);
        interests.push(Interest {
            text: e.title.clone(),
            vector: e.vector.clone(),
            tfidf: sparse(tfidf, &text),
        });
        titles.insert(e.title.clone(), (Some(e.id.clone()), e.title.clone()));
    }
    for v in interests.iter().map(|i| &i.vector) {
        if v.len() != lib.dimension() {
            return Err(Error::Invalid(format!(
                "profile {}: an interest vector has dimension {}, the library {}; re-add the interests",
                profile.user,
                v.len(),
                lib.dimension()
            )));
        }
    }
    let like_rows: Vec<usize> = (0..likes.len()).collect();
    let dislike_rows: Vec<usize> = (likes.len()..likes.len() + dislikes.len()).collect();
    let weak_start = likes.len() + dislikes.len();
    let weak_rows: Vec<usize> = (weak_start..weak_start + weak.len()).collect();
    let weak = rank::Weak {
        likes: &weak_rows,
        cost: weak_cost,
    };
    let input = ProfileInput {
        likes: &like_rows,
        dislikes: &dislike_rows,
        interests: &interests,
    };
    let config = RankConfig {
        negatives: None,
        use_tfidf: config.use_tfidf && tfidf.is_some(),
        ..config.clone()
    };
    if likes.is_empty() && interests.is_empty() {
        return Err(Error::Invalid(format!(
            "profile {}: none of its liked papers is in this library ({})",
            profile.user,
            missing.join(", ")
        )));
    }
    let model = rank::train_weighted(&library, &input, &weak, &config)?;
    let calibration = rank::calibrate_weighted(&library, &input, &weak, &config, &model)?;
    Ok(Trained {
        model,
        calibration,
        collection: None,
        missing,
        titles,
    })
}

/// Train every collection of `profile` that has something to rank by
/// ([`Profile::feeds`]: the default collection, then the named ones), each on its own
/// likes against its own dislikes, the default collection's dislikes and the library
/// sample, and on the other collections' likes as positives of weight
/// [`rank::FEED_MERGE`]`.weak_cost`; or, with `only`, that one collection on its own
/// likes only (`Some("")` is not a name: use `None` for the whole feed). A profile
/// without collections gives one model, as before. Each collection costs the same
/// trainings either way (its model and the calibration's cross-validation).
pub fn train_feed_with(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    config: &RankConfig,
    only: Option<&str>,
) -> Result<Vec<Trained>> {
    train_feed_merged(lib, text_rows, profile, config, only, rank::FEED_MERGE)
}

/// [`train_feed_with`] with the whole feed's collections seeing each other's likes at
/// `merge.weak_cost` (what `recommend` does is [`rank::FEED_MERGE`]; other values are
/// for studies). `merge.rule` is [`recommend_feed_merged`]'s.
pub fn train_feed_merged(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    config: &RankConfig,
    only: Option<&str>,
    merge: rank::FeedMerge,
) -> Result<Vec<Trained>> {
    // Followed authors and nothing else: their papers are the likes (issue 15).
    let implicit = crate::steer::follow_profile(profile, lib.papers());
    let profile = implicit.as_ref().unwrap_or(profile);
    if profile.is_empty() && !profile.follows.is_empty() {
        let names: Vec<&str> = profile.follows.iter().map(|f| f.name.as_str()).collect();
        return Err(Error::Invalid(format!(
            "profile {} follows {} but no paper by them is in this library yet, and has no liked papers or interests: nothing to rank by; add some with `paperscout profile {} like ID...`",
            profile.user,
            names.join(", "),
            profile.user
        )));
    }
    let feeds: Vec<Option<String>> = match only {
        Some(name) => {
            let view = profile.collection_view(Some(name))?;
            if view.is_empty() {
                return Err(Error::Invalid(format!(
                    "profile {}: collection {name:?} has no liked papers and no interests: add some with `paperscout profile {} like ID... --collection {name}`",
                    profile.user, profile.user
                )));
            }
            vec![Some(name.to_string())]
        }
        None if profile.feeds().is_empty() => vec![None],
        None => profile.feeds(),
    };
    let views: Vec<Profile> = feeds
        .iter()
        .map(|name| profile.collection_view(name.as_deref()))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(feeds.len());
    for (n, (name, view)) in feeds.into_iter().zip(&views).enumerate() {
        // The other collections' likes (none with one feed).
        let weak: Vec<String> = views
            .iter()
            .enumerate()
            .filter(|&(m, _)| m != n)
            .flat_map(|(_, v)| v.likes.iter().map(|l| l.id.clone()))
            .collect();
        let mut trained = train_weak(lib, text_rows, view, config, &weak, merge.weak_cost)?;
        trained.collection = name;
        out.push(trained);
    }
    Ok(out)
}

impl Trained {
    /// The reason for a candidate with vector `v`: the closest liked paper or interest.
    pub fn because(&self, v: &[f32]) -> Option<Because> {
        let b = self.model.explain(v)?;
        let (kind, (id, title)) = match &b.anchor {
            Anchor::Liked(id) => (
                BecauseKind::Paper,
                self.titles
                    .get(id)
                    .cloned()
                    .unwrap_or((Some(id.clone()), id.clone())),
            ),
            // An imported bibliography entry is trained as an interest but is a paper.
            Anchor::Interest(text) => match self.titles.get(text) {
                Some(found) => (BecauseKind::Paper, found.clone()),
                None => (BecauseKind::Interest, (None, text.clone())),
            },
        };
        Some(Because {
            kind,
            id,
            title,
            similarity: b.similarity,
        })
    }
}

/// What to list for `recommend`.
#[derive(Debug, Clone)]
pub struct RecommendOptions {
    /// Listing days, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub top: usize,
    pub min_score: Option<f32>,
    /// Keep only papers with one of these categories (case-insensitive); empty: all.
    pub categories: Vec<String>,
    /// Keep papers the user liked, disliked or was shown for another listing.
    pub include_seen: bool,
}

/// The top papers listed in `opts`' days for a trained profile, best first, each with
/// its reason, picked under the profile's own rules (followed authors always listed,
/// keyword rules: [`crate::steer`]). Every candidate is scored exactly (one dot
/// product each).
pub fn recommend(
    lib: &Library,
    tfidf: Option<&Tfidf>,
    profile: &Profile,
    trained: &Trained,
    opts: &RecommendOptions,
) -> Result<Vec<Item>> {
    recommend_with(lib, &TextRows::new(lib, tfidf), profile, trained, opts)
}

/// [`recommend`] with tf-idf rows shared between users.
pub fn recommend_with(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    trained: &Trained,
    opts: &RecommendOptions,
) -> Result<Vec<Item>> {
    recommend_feed_with(lib, text_rows, profile, std::slice::from_ref(trained), opts)
}

/// The top papers of `opts`' days for a profile's collections (`models`, from
/// [`train_feed_with`]), merged by [`rank::FEED_MERGE`]'s rule
/// ([`rank::MergeRule::NearestLike`]): a paper is listed under the collection of the
/// liked paper closest to it (the one its reason names), with that collection's
/// calibrated 0-1 score. Best first (ties: the higher margin, the earlier paper);
/// `min_score` is on the calibrated score. With several collections, a quarter of the
/// places (after followed authors' papers) go first to each
/// collection's best papers, split evenly ([`rank::FeedMerge::min_share`]), so that a
/// collection whose scores run low still has its best papers listed.
pub fn recommend_feed_with(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    models: &[Trained],
    opts: &RecommendOptions,
) -> Result<Vec<Item>> {
    recommend_feed_merged(lib, text_rows, profile, models, opts, rank::FEED_MERGE)
}

/// [`recommend_feed_with`] merging the collections' lists by `merge.rule`
/// ([`rank::merge_scores`]) and sharing places by `merge.min_share`: what `recommend`
/// does is [`rank::FEED_MERGE`]'s; the others are for studies.
pub fn recommend_feed_merged(
    lib: &Library,
    text_rows: &TextRows<'_>,
    profile: &Profile,
    models: &[Trained],
    opts: &RecommendOptions,
    merge: rank::FeedMerge,
) -> Result<Vec<Item>> {
    let wanted: Vec<String> = opts.categories.iter().map(|c| c.to_lowercase()).collect();
    let seen = profile.seen(opts.to);
    // The window's papers from the index; only their records are parsed.
    let candidates: Vec<(usize, &Paper, &[f32])> = lib
        .keys_listed(opts.from, opts.to)
        .into_iter()
        .filter_map(|k| lib.paper_at(k).map(|p| (k, p, lib.vector_at(k))))
        .filter(|(_, p, _)| {
            wanted.is_empty()
                || p.categories
                    .iter()
                    .any(|c| wanted.contains(&c.to_lowercase()))
        })
        .filter(|(_, p, _)| opts.include_seen || !seen.contains(p.id.as_str()))
        .collect();
    let mut vectors = Vec::with_capacity(candidates.len() * lib.dimension());
    for (_, _, v) in &candidates {
        vectors.extend_from_slice(v);
    }
    let rows: Vec<rank::SparseVec> = candidates
        .par_iter()
        .map(|&(k, p, _)| text_rows.get(k, p))
        .collect();
    let rows = Rows::new(&vectors, lib.dimension(), &rows)?;
    if models.is_empty() {
        return Err(Error::Invalid(format!(
            "profile {}: no trained model to rank with",
            profile.user
        )));
    }
    // The collection listing each candidate, with its calibrated score and margin.
    // The margin breaks ties of the score (calibrated scores stop at 1).
    let pairs: Vec<(&rank::ProfileModel, &rank::Calibration)> =
        models.iter().map(|t| (&t.model, &t.calibration)).collect();
    let best = rank::merge_scores(&pairs, &rows, merge.rule)?;
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&k| !best[k].score.is_nan())
        .collect();
    order.sort_by(|&a, &b| {
        best[b]
            .score
            .total_cmp(&best[a].score)
            .then(best[b].margin.total_cmp(&best[a].margin))
            .then(a.cmp(&b))
    });
    // The user's own rules (followed authors, keywords) pick the list from that order.
    let papers: Vec<&Paper> = candidates.iter().map(|&(_, p, _)| p).collect();
    let scores: Vec<f32> = best.iter().map(|b| b.score).collect();
    let under: Vec<usize> = best.iter().map(|b| b.model).collect();
    let picks = crate::steer::apply_ordered(
        &crate::steer::Rules::of(profile),
        &papers,
        &scores,
        order,
        opts.top,
        |s| opts.min_score.is_none_or(|m| s >= m),
        Some(crate::steer::Shares {
            under: &under,
            collections: models.len(),
            min_share: merge.min_share,
        }),
    );
    Ok(picks
        .into_iter()
        .enumerate()
        .map(|(i, pick)| {
            let (_, paper, v) = candidates[pick.index];
            let rank::Merged { score, model, .. } = best[pick.index];
            let t = &models[model];
            let because = match &pick.author {
                Some(name) => Some(Because::author(name)),
                None => t.because(v),
            };
            let mut it = item(i + 1, paper, score, because);
            it.collection = t.collection.clone();
            it
        })
        .collect())
}

/// `k` keys drawn from `0..n` leaving out `marked`: exactly what
/// `rng.sample(&pool, k)` draws from `pool` = the keys not marked, ascending (a partial
/// Fisher-Yates shuffle), without making the pool: the swaps are kept in a map.
fn sample_keys(rng: &mut SplitMix64, n: usize, marked: &HashSet<usize>, k: usize) -> Vec<usize> {
    let mut skip: Vec<usize> = marked.iter().copied().filter(|&m| m < n).collect();
    skip.sort_unstable();
    let len = n - skip.len();
    // The pool's i-th key: i plus the marked keys at or below it.
    let pool_at = |i: usize| {
        let mut x = i;
        for &m in &skip {
            if m <= x {
                x += 1;
            } else {
                break;
            }
        }
        x
    };
    let mut swapped: HashMap<usize, usize> = HashMap::new();
    let k = k.min(len);
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let j = i + rng.below(len - i);
        let at_j = swapped.get(&j).copied().unwrap_or_else(|| pool_at(j));
        let at_i = swapped.get(&i).copied().unwrap_or_else(|| pool_at(i));
        swapped.insert(j, at_i);
        out.push(at_j);
    }
    out
}

/// A listed paper.
pub fn item(rank: usize, paper: &Paper, score: f32, because: Option<Because>) -> Item {
    Item {
        rank,
        id: paper.id.clone(),
        title: paper.title.clone(),
        score,
        url: paper.link(),
        categories: paper.categories.clone(),
        authors: paper.authors.clone(),
        abstract_text: paper.abstract_text.clone(),
        listed: paper.listed,
        because,
        collection: None,
    }
}

/// Re-score approximate-search hits: `dense + weight · tfidf cosine` with `query_text`'s
/// tf-idf row, best first. The hits come from the HNSW index (dense cosine); re-scoring
/// only reorders them.
pub fn rescore<'a>(
    hits: Vec<crate::library::Hit<'a>>,
    tfidf: Option<&Tfidf>,
    query_text: &str,
    weight: f32,
) -> Vec<(crate::library::Hit<'a>, f32)> {
    rescore_with(hits, tfidf, None, query_text, weight)
}

/// [`rescore`], taking the candidates' rows from `rows` (a server's per-commit cache,
/// made with the same vectoriser as `tfidf`) when the re-scoring reads papers as
/// ranking does ([`RESCORE_AUTHORS`], all terms): each paper is then tokenized once per
/// commit instead of once per request. The scores are the same either way.
pub fn rescore_with<'a>(
    hits: Vec<crate::library::Hit<'a>>,
    tfidf: Option<&Tfidf>,
    rows: Option<&TextRows<'_>>,
    query_text: &str,
    weight: f32,
) -> Vec<(crate::library::Hit<'a>, f32)> {
    let Some(t) = tfidf.filter(|_| weight != 0.0) else {
        return hits.into_iter().map(|h| (h, h.similarity)).collect();
    };
    let rows = rows.filter(|_| RESCORE_AUTHORS && !RESCORE_UNIGRAMS);
    let q = rescore_row(t, query_text);
    let mut scored: Vec<_> = hits
        .into_iter()
        .map(|h| {
            let lexical = match rows {
                Some(rows) => rows.with(h.key, h.paper, |r| q.dot_sparse(r)),
                None => q.dot_sparse(&rescore_row(t, &rescore_text(h.paper))),
            };
            (h, h.similarity + weight * lexical)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.0.paper.id.cmp(&b.0.paper.id))
    });
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Hit;

    #[test]
    fn sampling_keys_draws_what_sampling_the_pool_draws() {
        for (n, marked) in [
            (50usize, vec![0usize, 3, 4, 49]),
            (10, vec![]),
            (5, vec![1, 2]),
        ] {
            let marked: HashSet<usize> = marked.into_iter().collect();
            let pool: Vec<usize> = (0..n).filter(|k| !marked.contains(k)).collect();
            for want in [0, 1, 3, n] {
                let a = SplitMix64::new(9).sample(&pool, want);
                let b = sample_keys(&mut SplitMix64::new(9), n, &marked, want);
                assert_eq!(a, b, "n {n} want {want}");
            }
        }
    }

    fn paper(id: &str, title: &str) -> Paper {
        let mut p = Paper::new(id, title);
        p.abstract_text = format!("{title} abstract");
        p
    }

    #[test]
    fn rescoring_adds_the_tfidf_cosine_and_only_reorders() {
        let papers = [
            paper("a", "protein folding with diffusion"),
            paper("b", "graph neural networks for molecules"),
            paper("c", "speech recognition benchmarks"),
        ];
        let texts: Vec<String> = papers.iter().map(rank::rank_text).collect();
        let tfidf = Tfidf::fit(&texts, tfidf_config(texts.len())).unwrap();
        let hits = || {
            papers
                .iter()
                .enumerate()
                .map(|(key, p)| Hit {
                    paper: p,
                    key,
                    similarity: 0.5,
                })
                .collect::<Vec<_>>()
        };
        let query = "graph neural networks";
        let scored = rescore(hits(), Some(&tfidf), query, 1.0);
        assert_eq!(scored[0].0.paper.id, "b");
        let lexical =
            rescore_row(&tfidf, query).dot_sparse(&rescore_row(&tfidf, &rescore_text(&papers[1])));
        assert!(lexical > 0.1);
        assert!((scored[0].1 - (0.5 + lexical)).abs() < 1e-6);
        assert_eq!(scored.len(), 3, "re-scoring drops nothing");
        // A server's cached rows give the same scores, the first time and once cached.
        let rows = TextRows {
            tfidf: Some(std::borrow::Cow::Borrowed(&tfidf)),
            rows: (0..papers.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        };
        for _ in 0..2 {
            let cached = rescore_with(hits(), Some(&tfidf), Some(&rows), query, 1.0);
            let pairs = |v: &[(Hit<'_>, f32)]| -> Vec<(String, f32)> {
                v.iter().map(|(h, s)| (h.paper.id.clone(), *s)).collect()
            };
            assert_eq!(pairs(&cached), pairs(&scored));
        }
        assert!(
            rows.rows.iter().all(|r| r.get().is_some()),
            "every row kept"
        );
        // Weight 0, or no vocabulary: the index's order and similarities, untouched.
        for (t, w) in [(Some(&tfidf), 0.0), (None, 1.0)] {
            let plain = rescore(hits(), t, query, w);
            let ids: Vec<&str> = plain.iter().map(|(h, _)| h.paper.id.as_str()).collect();
            assert_eq!(ids, ["a", "b", "c"]);
            assert!(plain.iter().all(|(_, s)| *s == 0.5));
        }
    }

    #[test]
    fn small_libraries_keep_more_terms() {
        let big = tfidf_config(SMALL_LIBRARY);
        assert_eq!((big.min_df, big.max_df), (5, 0.1), "arxiv-sanity-lite's");
        let small = tfidf_config(10);
        assert_eq!((small.min_df, small.max_df), (1, 0.5));
    }
}
