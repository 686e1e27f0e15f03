//! The daily run, unattended: fetch the day's listing, store it, then for every user
//! with a profile rank the day (as `recommend`, recording what was shown), write
//! their feed and digest and mail it, at most once per user and day ([`delivery`]).
//! One user's failure does not stop the others; the report says what failed.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

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
    let day_papers = lib.papers().filter(|p| p.listed == Some(day)).count();
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
    for user in store.users()? {
        if store.get(&user).is_ok_and(|p| p.is_empty()) {
            report.idle.push(user);
            continue;
        }
        let outcome = deliver_user(&lib, &store, &deliverer, &user, day, config.output.top);
        report
            .users
            .push((user, outcome.map_err(|e| format!("{e:#}"))));
    }
    Ok(report)
}

/// One user's day: ranked and recorded as shown (the same day ranks to the same list
/// again), then delivered; the delivery ledger makes a settled day a no-op.
fn deliver_user(
    lib: &crate::library::Library,
    store: &Profiles,
    deliverer: &Deliverer,
    user: &str,
    day: NaiveDate,
    top: usize,
) -> Result<UserOutcome> {
    let profile = store.get(user)?;
    let rec = query::recommend(
        lib,
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
        },
    )?;
    deliverer.deliver(user, profile.email.as_deref(), day, &rec.listing)
}
