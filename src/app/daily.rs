//! The daily run, unattended: fetch the day's listing, store it, then for every user
//! with a profile rank the day (as `recommend`, recording what was shown), write
//! their feed and digest and mail it, at most once per user and day ([`delivery`]).
//! One user's failure does not stop the others; the report says what failed.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;

use super::fetch::{fetch, FetchReport, FetchRequest};
use super::query::{self, RecommendRequest, Window};
use super::Models;
use crate::config::{Config, Source};
use crate::delivery::{Deliverer, UserOutcome};
use crate::error::{Error, Result};
use crate::library::profiles::Profiles;

/// How to run the day.
#[derive(Debug, Clone, Default)]
pub struct DailyOptions {
    /// The day to deliver; default: the day of the current listing feed.
    pub date: Option<NaiveDate>,
    /// Categories to fetch; default: `[fetch] categories` of config.toml.
    pub categories: Vec<String>,
    /// Where feeds and digests go; default: `[output] dir` of config.toml.
    pub out: Option<PathBuf>,
    /// Send no mail (feeds and digests are still written).
    pub no_email: bool,
    /// Do not fetch: deliver a day the library already holds.
    pub no_fetch: bool,
}

/// What the day's run did.
#[derive(Debug)]
pub struct DailyReport {
    pub day: Option<NaiveDate>,
    /// One per source fetched.
    pub fetched: Vec<(Source, FetchReport)>,
    /// Papers of the day in the library.
    pub day_papers: usize,
    pub out: PathBuf,
    /// Every user with a profile to rank by, and what happened to their day.
    pub users: Vec<(String, std::result::Result<UserOutcome, String>)>,
    /// Users whose profile has nothing to rank by yet (no likes, no interests).
    pub idle: Vec<String>,
}

impl DailyReport {
    /// Users whose day failed (an error, or a mail that could not go out).
    pub fn failures(&self) -> usize {
        self.users
            .iter()
            .filter(|(_, o)| matches!(o, Err(_) | Ok(UserOutcome::Failed { .. })))
            .count()
    }
}

/// Run the day for the library in `dir`.
pub fn daily(dir: &Path, models: &Models, opts: &DailyOptions) -> Result<DailyReport> {
    let config = Config::load(dir)?;
    let categories = if opts.categories.is_empty() {
        config.fetch.categories.clone()
    } else {
        opts.categories.clone()
    };
    let mut fetched = Vec::new();
    let mut day = opts.date;
    if !opts.no_fetch {
        // The listing feed first: it is the authority for the day's papers and for
        // what "today" is; Hugging Face's page of that day after it.
        let mut sources = config.fetch.sources.clone();
        sources.sort_by_key(|s| matches!(s, Source::Hf));
        for source in sources {
            let req = FetchRequest {
                source,
                categories: categories.clone(),
                from: if source == Source::Hf { day } else { None },
                until: None,
            };
            let report = fetch(dir, models, &req)?;
            if day.is_none() && matches!(source, Source::Rss | Source::Atom) {
                day = report.day;
            }
            fetched.push((source, report));
        }
    }
    let out = opts.out.clone().unwrap_or_else(|| config.output_dir(dir));
    let Some(day) = day else {
        return Err(Error::Invalid(
            "no day to deliver: the listing feed named none; pass --date YYYY-MM-DD".into(),
        ));
    };
    super::require_library(dir)?;
    let lib = crate::library::Library::open_any_model(dir)?;
    let day_papers = lib.keys_listed(day, day).len();
    let mut report = DailyReport {
        day: Some(day),
        fetched,
        day_papers,
        out: out.clone(),
        users: Vec::new(),
        idle: Vec::new(),
    };
    if day_papers == 0 {
        // A day without new papers (a weekend, a holiday) sends nothing.
        return Ok(report);
    }
    let mail = if opts.no_email {
        None
    } else {
        config.mail_settings()?
    };
    let deliverer = Deliverer::new(dir, &out, mail)?.with_feed_days(config.output.feed_days);
    let store = Profiles::new(dir);
    let mut users = Vec::new();
    for user in store.users()? {
        if store.get(&user).is_ok_and(|p| p.is_empty()) {
            report.idle.push(user);
        } else {
            users.push(user);
        }
    }
    // Rank every user in parallel against one tf-idf and one set of text rows (each
    // paper tokenized once for all users); deliver one after the other.
    let tfidf = crate::recommend::library_tfidf(&lib)?;
    let rows = crate::recommend::TextRows::new(&lib, tfidf.as_ref());
    let settled: Vec<Result<Option<UserOutcome>>> = users
        .iter()
        .map(|user| deliverer.settled(user, day))
        .collect();
    let ranked: Vec<Option<Result<crate::render::Listing>>> = users
        .par_iter()
        .zip(&settled)
        .map(|(user, settled)| match settled {
            Ok(None) => Some(rank_user(&lib, &rows, user, day, config.output.top)),
            _ => None,
        })
        .collect();
    for ((user, settled), ranked) in users.into_iter().zip(settled).zip(ranked) {
        let outcome = match (settled, ranked) {
            (Err(e), _) => Err(e),
            (Ok(Some(done)), _) => Ok(done),
            (Ok(None), Some(Ok(listing))) => store
                .get(&user)
                .and_then(|p| deliverer.deliver(&user, p.email.as_deref(), day, &listing)),
            (Ok(None), Some(Err(e))) => Err(e),
            (Ok(None), None) => Err(Error::Invalid(format!("{user}: not ranked"))),
        };
        report
            .users
            .push((user, outcome.map_err(|e| format!("{e:#}"))));
    }
    Ok(report)
}

/// One user's day ranked and recorded as shown (ranking the same day again gives the
/// same list: that day's shown papers are not left out of it).
fn rank_user(
    lib: &crate::library::Library,
    rows: &crate::recommend::TextRows<'_>,
    user: &str,
    day: NaiveDate,
    top: usize,
) -> Result<crate::render::Listing> {
    let rec = query::recommend_with(
        lib,
        rows,
        &RecommendRequest {
            user: user.to_string(),
            window: Window {
                date: Some(day),
                since: None,
            },
            top,
            min_score: None,
            categories: Vec::new(),
            include_seen: false,
            record: true,
            collection: None,
        },
    )?;
    Ok(rec.listing)
}
