//! Bringing papers in over HTTP: a source's papers fetched ([`crate::fetch`]) and
//! stored through the same ingest path as files (canonical ids, dedup, listing days,
//! crash safety). Also the arXiv API lookup behind `profile like` of a paper the
//! library does not hold yet.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::ingest::{ingest_papers, IngestTotals};
use super::Models;
use crate::config::{Config, Source};
use crate::error::{Error, Result};
use crate::fetch::{FetchSettings, Fetcher, ListingFlavour};

/// Papers per commit when storing fetched papers.
const COMMIT_EVERY: usize = 1024;

/// The fetch settings of the library in `dir`: defaults, then `config.toml`'s
/// `[fetch]`, then the environment (`PAPERSCOUT_ARXIV_RSS_URL`, ...).
pub fn settings(config: &Config) -> FetchSettings {
    let mut s = FetchSettings::default();
    let f = &config.fetch;
    for (slot, value) in [
        (&mut s.arxiv_rss, &f.arxiv_rss),
        (&mut s.arxiv_oai, &f.arxiv_oai),
        (&mut s.arxiv_api, &f.arxiv_api),
        (&mut s.hf, &f.hf),
    ] {
        if let Some(v) = value {
            *slot = v.clone();
        }
    }
    s.contact = f.contact.clone();
    s.apply_env();
    s
}

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub source: Source,
    /// arXiv categories (listing feeds) or OAI-PMH sets (`cs`, `physics:cond-mat`);
    /// empty: the configured ones.
    pub categories: Vec<String>,
    /// OAI-PMH: from this day (default: the stored high-water mark); Hugging Face: the
    /// day (default: today, UTC).
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// What a fetch brought and stored.
#[derive(Debug)]
pub struct FetchReport {
    /// The listing day a listing feed announced (for `daily`).
    pub day: Option<NaiveDate>,
    /// Papers of the answer (new listings, updates, harvested records).
    pub fetched: usize,
    pub totals: IngestTotals,
    /// Papers in the library afterwards.
    pub papers: usize,
    /// Entries that could not be read, each naming the raw answer kept on disk.
    pub skipped: Vec<String>,
    /// The raw answers kept under `LIBRARY/fetch/raw/`, for `paperscout ingest` replay.
    pub raw: Vec<PathBuf>,
}

/// Fetch one source and store its papers in the library in `dir`.
pub fn fetch(dir: &Path, models: &Models, req: &FetchRequest) -> Result<FetchReport> {
    let config = Config::load(dir)?;
    let categories = if req.categories.is_empty() {
        config.fetch.categories.clone()
    } else {
        req.categories.clone()
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut fetcher = Fetcher::new(dir, settings(&config))?;
    let (day, papers, skipped, raw, harvest) = match req.source {
        Source::Rss | Source::Atom => {
            let flavour = if req.source == Source::Atom {
                ListingFlavour::Atom
            } else {
                ListingFlavour::Rss
            };
            need_categories(&categories)?;
            let l = fetcher.fetch_listing(&categories, flavour)?;
            let mut papers = l.papers;
            papers.extend(l.updates);
            (l.day, papers, l.skipped, vec![l.raw], None)
        }
        Source::Hf => {
            let day = req
                .from
                .unwrap_or_else(|| crate::library::profiles::now().date_naive());
            let d = fetcher.fetch_hf(day)?;
            (Some(d.date), d.papers, d.skipped, vec![d.raw], None)
        }
        Source::Oai => {
            need_categories(&categories)?;
            let mut papers = Vec::new();
            let mut skipped = Vec::new();
            let mut raw = Vec::new();
            let mut harvests = Vec::new();
            for set in oai_sets(&categories) {
                let h = fetcher.harvest(&set, req.from, req.until)?;
                papers.extend(h.papers.iter().cloned());
                skipped.extend(h.skipped.iter().cloned());
                raw.extend(h.raw.iter().cloned());
                harvests.push(h);
            }
            (None, papers, skipped, raw, Some(harvests))
        }
    };
    let fetched = papers.len();
    let (totals, count) = if papers.is_empty() {
        (IngestTotals::default(), count_papers(dir))
    } else {
        ingest_papers(dir, models, papers, COMMIT_EVERY)?
    };
    // The high-water mark moves only once the harvested papers are committed.
    for h in harvest.iter().flatten() {
        fetcher.commit_harvest(h)?;
    }
    Ok(FetchReport {
        day,
        fetched,
        totals,
        papers: count,
        skipped,
        raw,
    })
}

/// Papers in the library in `dir` (0 when there is none yet).
fn count_papers(dir: &Path) -> usize {
    crate::library::Library::open_any_model(dir).map_or(0, |l| l.len())
}

fn need_categories(categories: &[String]) -> Result<()> {
    if categories.is_empty() {
        return Err(Error::Invalid(
            "no arXiv categories to fetch: pass --categories cs.IR,cs.CL or set [fetch] categories in the library's config.toml".into(),
        ));
    }
    Ok(())
}

/// OAI-PMH sets of categories: `cs.IR` → `cs`, `cond-mat.mes-hall` →
/// `physics:cond-mat`, `math.CO` → `math`; a set given as such (`physics:hep-th`) is kept.
pub fn oai_sets(categories: &[String]) -> Vec<String> {
    let mut sets: Vec<String> = Vec::new();
    for c in categories {
        let c = c.trim();
        let set = if c.contains(':') {
            c.to_string()
        } else {
            let archive = c.split('.').next().unwrap_or(c);
            match archive {
                "cs" | "math" | "q-bio" | "q-fin" | "stat" | "econ" | "eess" => archive.into(),
                "nlin" | "astro-ph" | "cond-mat" | "gr-qc" | "hep-ex" | "hep-lat" | "hep-ph"
                | "hep-th" | "math-ph" | "nucl-ex" | "nucl-th" | "physics" | "quant-ph" => {
                    format!("physics:{archive}")
                }
                other => other.to_string(),
            }
        };
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    sets
}

/// Fetch from the arXiv API the papers of `ids` that the library in `dir` does not
/// hold, embed and store them (without a listing day). Returns the canonical ids now
/// stored; ids the API does not know are [`Error::UnknownIds`], and nothing is stored.
pub fn fetch_missing(dir: &Path, models: &Models, ids: &[String]) -> Result<Vec<String>> {
    let (stored, unknown) = fetch_available(dir, models, ids, false)?;
    if !unknown.is_empty() {
        return Err(Error::UnknownIds(unknown));
    }
    Ok(stored)
}

/// Fetch and store what the arXiv API knows of `ids`; returns `(stored, unknown)`.
/// With `partial` false nothing is stored when any id is unknown.
pub fn fetch_available(
    dir: &Path,
    models: &Models,
    ids: &[String],
    partial: bool,
) -> Result<(Vec<String>, Vec<String>)> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let config = Config::load(dir)?;
    let mut fetcher = Fetcher::new(dir, settings(&config))?;
    let got = fetcher.fetch_ids(ids)?;
    let mut unknown: Vec<String> = got.invalid.clone();
    unknown.extend(got.missing.iter().cloned());
    if !unknown.is_empty() && !partial {
        return Ok((Vec::new(), unknown));
    }
    let stored: Vec<String> = got.papers.iter().map(|p| p.id.clone()).collect();
    if !got.papers.is_empty() {
        ingest_papers(dir, models, got.papers, COMMIT_EVERY)?;
    }
    Ok((stored, unknown))
}
