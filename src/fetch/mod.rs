//! Fetching papers over HTTP from arXiv and Hugging Face: the day's arXiv listing feed,
//! arXiv's OAI-PMH interface (backfill and catching up), the arXiv API by id, and
//! Hugging Face's daily papers. Answers are parsed by the readers of [`crate::ingest`]
//! into [`Paper`] records; storing, deduplicating and embedding them is the caller's
//! (the same ingest path as files). This module knows no command line and no
//! configuration file: the caller fills [`FetchSettings`] (defaults, then its
//! configuration, then [`FetchSettings::apply_env`]) and opens a [`Fetcher`] on the
//! library folder.
//!
//! # Politeness
//! One client for every source ([`Fetcher`] holds it):
//! - User-Agent `paperscout/VERSION (+CONTACT)`; arXiv asks harvesters for a contact.
//! - **Spacing**: at least [`FetchSettings::arxiv_interval`] (3 s) between the end of
//!   one request and the start of the next to the same host, for every host that one
//!   of the three arXiv endpoints points at, whatever it is (arxiv.org, a mirror, a
//!   test server); keyed by `host:port`, retries included. Hugging Face's host is not
//!   spaced, unless it is also one of the arXiv hosts.
//! - **Timeouts**: `connect_timeout` to connect, `timeout` for a whole attempt (sending,
//!   waiting, reading the body); a stalled server ends the attempt.
//! - **Retries**, at most `max_retries` after the first attempt, on HTTP 429 and 5xx,
//!   connection errors (refused, reset, closed), timeouts and bodies that break off
//!   before their announced end. The wait is the server's `Retry-After` (seconds or an
//!   HTTP date) on 429/503, else `backoff`, doubling each time; both capped at
//!   `max_retry_after` (120 s): a server asking for longer ends the run at once, saying
//!   so. So a dead host ends the call after at most `max_retries + 1` attempts, each at
//!   most `timeout` long, with the waits between: a [`Error::Fetch`] naming the URL,
//!   what happened and the attempts made, never a hang. Other statuses (404, 400) and
//!   unusable answers are not retried.
//! - **Unusable answers** are [`Error::Fetch`] errors naming the URL and the raw file
//!   kept: an HTML page (or any body that is not XML/JSON) where XML/JSON was asked for,
//!   even with status 200; a document that is not well-formed (with its line and
//!   column); an OAI-PMH protocol error other than `noRecordsMatch`; a document whose
//!   entries all fail to read. A single entry that cannot be read is not fatal: it is
//!   reported in the result's `skipped`, located by raw file and entry number.
//! - **Conditional requests** for the listing feed and Hugging Face: the `ETag` and
//!   `Last-Modified` of the last full answer of a URL are kept in the fetch state with
//!   the raw file of that answer; a `304 Not Modified` answer is read back from that
//!   file (`not_modified` is then true), so a run that died before ingesting loses
//!   nothing. When the raw file has been pruned, no validators are sent.
//! - HTTPS through `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (minus `NO_PROXY`), gzip.
//!
//! # Files (under `LIBRARY/fetch/`)
//! - `raw/SOURCE-YYYYMMDDTHHMMSSmmmZ-LABEL.EXT`: every answer body as received, written
//!   atomically before it is parsed, removed after `keep_raw` (14 days) when a
//!   [`Fetcher`] is opened. `paperscout ingest FILE` reads each of them (the OAI-PMH pages
//!   as format `arxiv-oai`), so a failed ingest can be replayed without fetching.
//! - `state.json` ([`FetchState`]): OAI-PMH high-water marks and URL validators,
//!   written atomically. The caller should hold the library's write lock while fetching,
//!   as for any other change to the library.
//!
//! # Days
//! A listing feed is the authority for a paper's listing day: its `new` and `cross`
//! entries are that day's papers (`listed` = the announcement day); `replace*` entries
//! are returned apart, as metadata updates with `listed` cleared. OAI-PMH and the API
//! give no listing day (`listed` is `None`); Hugging Face gives the day of its daily page.

mod http;
mod raw;
mod state;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::ingest::{self, Format};
use crate::paper::{canonical_id, is_arxiv_id, Paper};
use http::{Answer, Client, Expect, Validators};

pub use raw::RAW_DIR;
pub use state::{FetchState, SetMark, UrlMark, FETCH_DIR, STATE_FILE, STATE_VERSION};

/// Environment variable: the base of arXiv's listing feeds (`BASE/rss/CATS`).
pub const ENV_ARXIV_RSS_URL: &str = "PAPERSCOUT_ARXIV_RSS_URL";
/// Environment variable: arXiv's OAI-PMH endpoint itself (`?verb=...` is appended).
pub const ENV_ARXIV_OAI_URL: &str = "PAPERSCOUT_ARXIV_OAI_URL";
/// Environment variable: arXiv's API query endpoint itself (`?id_list=...` is appended).
pub const ENV_ARXIV_API_URL: &str = "PAPERSCOUT_ARXIV_API_URL";
/// Environment variable: the base of Hugging Face (`BASE/api/daily_papers?date=...`).
pub const ENV_HF_URL: &str = "PAPERSCOUT_HF_URL";

/// Most OAI-PMH pages one harvest follows: a guard against a server that never ends.
const MAX_OAI_PAGES: usize = 100_000;

/// Everything a fetch needs to know; no file format. `Default` gives the public
/// endpoints and polite values.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchSettings {
    /// Base of arXiv's listing feeds: `BASE/rss/cs.IR+cs.CV`, `BASE/atom/...`.
    pub arxiv_rss: String,
    /// arXiv's OAI-PMH endpoint; `?verb=ListRecords&...` is appended (`&` if it has a `?`).
    pub arxiv_oai: String,
    /// arXiv's API query endpoint; `?id_list=...` is appended.
    pub arxiv_api: String,
    /// Base of Hugging Face: `BASE/api/daily_papers?date=YYYY-MM-DD`.
    pub hf: String,
    /// Who runs this paperscout (an email address or a URL), for the User-Agent.
    pub contact: Option<String>,
    /// Least time between two requests to one arXiv host (see the module docs).
    /// arXiv asks for 3 s; tests use 0.
    pub arxiv_interval: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest one attempt may take, body included. Longer catches slow large OAI pages;
    /// shorter gives up on a stalled server sooner.
    pub timeout: Duration,
    /// Attempts after the first one for what is worth retrying.
    pub max_retries: u32,
    /// The first wait before a retry when the server names none; doubles each time.
    pub backoff: Duration,
    /// Longest wait before a retry; a server asking for longer ends the call.
    pub max_retry_after: Duration,
    /// How long raw answers are kept under `LIBRARY/fetch/raw/`.
    pub keep_raw: Duration,
    /// Ids asked of the arXiv API per request (the API pages at 2000; fewer keeps each
    /// answer small).
    pub api_batch: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            arxiv_rss: "https://rss.arxiv.org".to_string(),
            arxiv_oai: "https://oaipmh.arxiv.org/oai".to_string(),
            arxiv_api: "https://export.arxiv.org/api/query".to_string(),
            hf: "https://huggingface.co".to_string(),
            contact: None,
            arxiv_interval: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(15),
            timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(120),
            keep_raw: Duration::from_secs(14 * 24 * 3600),
            api_batch: 100,
        }
    }
}

impl FetchSettings {
    /// Override the endpoints from `PAPERSCOUT_ARXIV_RSS_URL`, `PAPERSCOUT_ARXIV_OAI_URL`,
    /// `PAPERSCOUT_ARXIV_API_URL` and `PAPERSCOUT_HF_URL`; unset or empty variables change
    /// nothing. Values are checked by [`FetchSettings::validate`].
    pub fn apply_env(&mut self) {
        for (name, field) in [
            (ENV_ARXIV_RSS_URL, &mut self.arxiv_rss),
            (ENV_ARXIV_OAI_URL, &mut self.arxiv_oai),
            (ENV_ARXIV_API_URL, &mut self.arxiv_api),
            (ENV_HF_URL, &mut self.hf),
        ] {
            if let Ok(v) = std::env::var(name) {
                let v = v.trim();
                if !v.is_empty() {
                    *field = v.to_string();
                }
            }
        }
    }

    /// Check every value before any request: endpoints are http(s) URLs with a host,
    /// the contact is one line, timeouts and the batch size are not zero.
    pub fn validate(&self) -> Result<()> {
        for (what, url) in [
            ("arXiv listing feed base", &self.arxiv_rss),
            ("arXiv OAI-PMH endpoint", &self.arxiv_oai),
            ("arXiv API endpoint", &self.arxiv_api),
            ("Hugging Face base", &self.hf),
        ] {
            if http::host_key(url).is_none() || url.chars().any(|c| c.is_whitespace()) {
                return Err(Error::Invalid(format!(
                    "the {what} `{url}` is not an http:// or https:// URL with a host"
                )));
            }
        }
        if let Some(c) = &self.contact {
            if c.chars().any(char::is_control) || c.len() > 200 {
                return Err(Error::Invalid(format!(
                    "the contact for the User-Agent must be one line of at most 200 bytes, not {c:?}"
                )));
            }
        }
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::Invalid("fetch timeouts must be above zero".into()));
        }
        if !(1..=2000).contains(&self.api_batch) {
            return Err(Error::Invalid(format!(
                "the arXiv API batch size must be 1 to 2000, not {}",
                self.api_batch
            )));
        }
        Ok(())
    }

    /// `paperscout/VERSION (+CONTACT)`; a bare email address becomes `mailto:`.
    pub fn user_agent(&self) -> String {
        let version = env!("CARGO_PKG_VERSION");
        match self
            .contact
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(c) if c.contains('@') && !c.contains(':') => {
                format!("paperscout/{version} (+mailto:{c})")
            }
            Some(c) => format!("paperscout/{version} (+{c})"),
            None => format!("paperscout/{version}"),
        }
    }

    fn listing_url(&self, categories: &str, flavour: ListingFlavour) -> String {
        format!(
            "{}/{}/{categories}",
            self.arxiv_rss.trim_end_matches('/'),
            flavour.name()
        )
    }

    fn hf_url(&self, date: NaiveDate) -> String {
        format!(
            "{}/api/daily_papers?date={}",
            self.hf.trim_end_matches('/'),
            date.format("%Y-%m-%d")
        )
    }
}

/// Append `query` to an endpoint that may already have a query.
fn with_query(endpoint: &str, query: &str) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{query}")
}

/// Percent-encode a query value: everything but unreserved characters.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The flavour of arXiv's listing feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListingFlavour {
    /// RSS 2.0 (`BASE/rss/...`).
    #[default]
    Rss,
    /// Atom (`BASE/atom/...`).
    Atom,
}

impl ListingFlavour {
    /// `rss` or `atom`: the path segment, and the name a flag takes.
    pub fn name(self) -> &'static str {
        match self {
            ListingFlavour::Rss => "rss",
            ListingFlavour::Atom => "atom",
        }
    }
}

impl FromStr for ListingFlavour {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rss" => Ok(ListingFlavour::Rss),
            "atom" => Ok(ListingFlavour::Atom),
            other => Err(Error::Invalid(format!(
                "unknown listing feed flavour `{other}`; expected rss or atom"
            ))),
        }
    }
}

/// One day's listing feed.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The feed's day (its `pubDate`/`updated`, else its entries' day): the day of the
    /// announcement, also for an empty feed (weekends, holidays), when the feed says.
    pub day: Option<NaiveDate>,
    /// That day's papers: `new` and `cross` entries (and entries without a type),
    /// `listed` = the announcement day.
    pub papers: Vec<Paper>,
    /// `replace`/`replace-cross` entries: fresh metadata of older papers, `listed` cleared
    /// (the listing is not their first).
    pub updates: Vec<Paper>,
    /// Entries that could not be read, each message naming the raw file and entry.
    pub skipped: Vec<String>,
    /// The raw answer this was read from.
    pub raw: PathBuf,
    /// True when the server said 304 and the answer was read back from `raw`.
    pub not_modified: bool,
}

/// What an OAI-PMH harvest brought.
#[derive(Debug, Clone)]
pub struct Harvest {
    /// The set harvested (`cs`, `physics:cond-mat`).
    pub set: String,
    /// The `from` asked (the given one, else the stored high-water mark).
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Every record read, in page order (no `listed`: OAI-PMH has no listing day).
    pub papers: Vec<Paper>,
    /// Canonical ids of records marked deleted.
    pub deleted: Vec<String>,
    /// Records that could not be read, each message naming the raw file and record.
    pub skipped: Vec<String>,
    /// The raw answer of each page, in order.
    pub raw: Vec<PathBuf>,
    /// Pages fetched.
    pub pages: usize,
    /// The newest datestamp seen: the high-water mark to record with
    /// [`Fetcher::commit_harvest`] once the papers are safely stored.
    pub high_water: Option<NaiveDate>,
}

/// What the arXiv API said about a list of ids.
#[derive(Debug, Clone)]
pub struct ById {
    /// The papers found (no `listed`: the API has no listing day).
    pub papers: Vec<Paper>,
    /// Valid arXiv ids (canonical) the API did not return.
    pub missing: Vec<String>,
    /// Ids given that are not arXiv ids: not asked.
    pub invalid: Vec<String>,
    /// Entries that could not be read, each message naming the raw file and entry.
    pub skipped: Vec<String>,
    /// The raw answer of each batch.
    pub raw: Vec<PathBuf>,
}

/// One day of Hugging Face's daily papers.
#[derive(Debug, Clone)]
pub struct HfDay {
    pub date: NaiveDate,
    /// The papers (`listed` = the day of the daily page; no categories).
    pub papers: Vec<Paper>,
    pub skipped: Vec<String>,
    pub raw: PathBuf,
    pub not_modified: bool,
}

/// Fetches papers for one library. Holds the polite client (so spacing spans every
/// call made through it) and the fetch state, saved after each change.
pub struct Fetcher {
    settings: FetchSettings,
    fetch_dir: PathBuf,
    client: Client,
    state: FetchState,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("settings", &self.settings)
            .field("fetch_dir", &self.fetch_dir)
            .finish_non_exhaustive()
    }
}

/// The parsed content of one answer, before it is sorted by source.
struct Parsed {
    papers: Vec<Paper>,
    skipped: Vec<String>,
}

impl Fetcher {
    /// A fetcher for the library at `library` (the folder need not hold papers yet):
    /// checks `settings`, reads `LIBRARY/fetch/state.json`, prunes old raw answers.
    pub fn new(library: &Path, settings: FetchSettings) -> Result<Fetcher> {
        let client = Client::new(&settings)?;
        let state = FetchState::load(library)?;
        let fetch_dir = library.join(FETCH_DIR);
        let pruned = raw::prune(&fetch_dir, settings.keep_raw, SystemTime::now());
        if pruned > 0 {
            tracing::info!(pruned, "removed old raw answers");
        }
        Ok(Fetcher {
            settings,
            fetch_dir,
            client,
            state,
        })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// The fetch state as last loaded or saved.
    pub fn state(&self) -> &FetchState {
        &self.state
    }

    /// The day's listing feed of `categories` (`cs.IR`, `cs.CV`, ...; one request for
    /// all of them). An empty feed (a weekend, a holiday) is not an error: no papers.
    pub fn fetch_listing(
        &mut self,
        categories: &[String],
        flavour: ListingFlavour,
    ) -> Result<Listing> {
        let cats = categories
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>();
        if cats.is_empty() {
            return Err(Error::Invalid(
                "no arXiv category to fetch the listing of".into(),
            ));
        }
        if let Some(bad) = cats.iter().find(|c| {
            !c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ".-".contains(ch))
        }) {
            return Err(Error::Invalid(format!(
                "`{bad}` is not an arXiv category (like cs.IR or cond-mat.mes-hall)"
            )));
        }
        let joined = cats.join("+");
        let url = self.settings.listing_url(&joined, flavour);
        let source = format!("arxiv-{}", flavour.name());
        let (text, raw, not_modified) =
            self.get_conditional(&url, &source, &joined, "xml", Expect::Xml)?;
        let parsed = parse_answer(&url, &raw, &text, Format::ArxivRss, true)?;
        let mut papers = Vec::new();
        let mut updates = Vec::new();
        for mut p in parsed.papers {
            let replace = p
                .announce_type
                .as_deref()
                .is_some_and(|t| t.starts_with("replace"));
            if replace {
                p.listed = None;
                updates.push(p);
            } else {
                papers.push(p);
            }
        }
        let day = ingest::listing_day(&text).or_else(|| papers.iter().find_map(|p| p.listed));
        Ok(Listing {
            day,
            papers,
            updates,
            skipped: parsed.skipped,
            raw,
            not_modified,
        })
    }

    /// Harvest `set` (`cs`, `physics:cond-mat`) with OAI-PMH `ListRecords`
    /// (`metadataPrefix=arXiv`) from `from` (default: the set's high-water mark; none:
    /// from the beginning) until `until` (inclusive days), following resumption tokens
    /// to the end. `noRecordsMatch` is an empty harvest. The high-water mark is not
    /// moved here: call [`Fetcher::commit_harvest`] once the papers are stored.
    pub fn harvest(
        &mut self,
        set: &str,
        from: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Result<Harvest> {
        let set = set.trim();
        if set.is_empty()
            || !set
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c))
        {
            return Err(Error::Invalid(format!(
                "`{set}` is not an OAI-PMH set (like cs or physics:cond-mat)"
            )));
        }
        let from = from.or_else(|| self.state.high_water(set));
        if let (Some(f), Some(u)) = (from, until) {
            if u < f {
                return Err(Error::Invalid(format!(
                    "harvest window ends ({u}) before it starts ({f})"
                )));
            }
        }
        let mut query = format!("verb=ListRecords&metadataPrefix=arXiv&set={}", encode(set));
        if let Some(f) = from {
            query.push_str(&format!("&from={f}"));
        }
        if let Some(u) = until {
            query.push_str(&format!("&until={u}"));
        }
        let mut url = with_query(&self.settings.arxiv_oai, &query);
        let mut harvest = Harvest {
            set: set.to_string(),
            from,
            until,
            papers: Vec::new(),
            deleted: Vec::new(),
            skipped: Vec::new(),
            raw: Vec::new(),
            pages: 0,
            high_water: None,
        };
        let mut tokens: HashSet<String> = HashSet::new();
        loop {
            let label = format!("{set}-p{}", harvest.pages + 1);
            let (text, raw) = self.get_fresh(&url, "arxiv-oai", &label, Expect::Xml)?;
            harvest.pages += 1;
            harvest.raw.push(raw.clone());
            let page = ingest::parse_oai_page(&text);
            if let Some(s) = page.syntax {
                return Err(located(&url, &raw, s));
            }
            if let Some(e) = &page.error {
                if e.is_no_records() {
                    break;
                }
                return Err(located(
                    &url,
                    &raw,
                    format!("OAI-PMH error `{}`: {}", e.code, e.message),
                ));
            }
            let had_records = !page.records.is_empty();
            let mut read = 0;
            for r in page.records {
                match r {
                    Ok(p) => {
                        read += 1;
                        harvest.papers.push(p);
                    }
                    Err((_, m)) => harvest.skipped.push(format!("{}: {m}", raw.display())),
                }
            }
            if had_records && read == 0 {
                return Err(located(
                    &url,
                    &raw,
                    format!(
                        "no record of the page could be read; the first: {}",
                        harvest.skipped.last().map_or("", String::as_str)
                    ),
                ));
            }
            harvest.deleted.extend(page.deleted);
            harvest.high_water = harvest.high_water.max(page.latest_datestamp);
            let Some(token) = page.token else { break };
            if !tokens.insert(token.clone()) {
                return Err(located(
                    &url,
                    &raw,
                    format!("the server gave the resumption token `{token}` a second time; stopping rather than looping"),
                ));
            }
            if harvest.pages >= MAX_OAI_PAGES {
                return Err(located(
                    &url,
                    &raw,
                    format!("more than {MAX_OAI_PAGES} pages; stopping"),
                ));
            }
            url = with_query(
                &self.settings.arxiv_oai,
                &format!("verb=ListRecords&resumptionToken={}", encode(&token)),
            );
        }
        Ok(harvest)
    }

    /// Record `harvest`'s high-water mark for its set and save the state. Call it after
    /// the harvested papers are stored, so a run that dies in between asks again.
    pub fn commit_harvest(&mut self, harvest: &Harvest) -> Result<()> {
        let Some(day) = harvest.high_water else {
            return Ok(());
        };
        self.state.set_high_water(&harvest.set, day, now_utc());
        self.state.save(self.library_dir())
    }

    /// Fetch papers by arXiv id from the arXiv API, `api_batch` ids a request. Ids may
    /// carry versions or prefixes (`arXiv:2401.01234v2`); the latest version is asked.
    /// Ids that are not arXiv ids are returned in `invalid`, not asked.
    pub fn fetch_ids(&mut self, ids: &[String]) -> Result<ById> {
        let mut wanted: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut invalid = Vec::new();
        for raw_id in ids {
            let id = canonical_id(raw_id);
            if !is_arxiv_id(&id) {
                invalid.push(raw_id.trim().to_string());
            } else if seen.insert(id.clone()) {
                wanted.push(id);
            }
        }
        let mut out = ById {
            papers: Vec::new(),
            missing: Vec::new(),
            invalid,
            skipped: Vec::new(),
            raw: Vec::new(),
        };
        let mut found: BTreeSet<String> = BTreeSet::new();
        for (n, batch) in wanted.chunks(self.settings.api_batch).enumerate() {
            let list = batch
                .iter()
                .map(|i| encode(i))
                .collect::<Vec<_>>()
                .join(",");
            let url = with_query(
                &self.settings.arxiv_api,
                &format!("id_list={list}&start=0&max_results={}", batch.len()),
            );
            let label = format!("b{}-{}", n + 1, batch[0]);
            let (text, raw) = self.get_fresh(&url, "arxiv-api", &label, Expect::Xml)?;
            out.raw.push(raw.clone());
            // The API answers an id it cannot serve with an error entry: that id is
            // reported missing (the entry in `skipped`), not the whole call failed.
            let parsed = parse_answer(&url, &raw, &text, Format::ArxivAtom, false)?;
            let asked: HashSet<&String> = batch.iter().collect();
            for p in parsed.papers {
                if asked.contains(&p.id) && found.insert(p.id.clone()) {
                    out.papers.push(p);
                }
            }
            out.skipped.extend(parsed.skipped);
        }
        out.missing = wanted.into_iter().filter(|i| !found.contains(i)).collect();
        Ok(out)
    }

    /// Hugging Face's daily papers of `date`.
    pub fn fetch_hf(&mut self, date: NaiveDate) -> Result<HfDay> {
        let url = self.settings.hf_url(date);
        let label = date.format("%Y-%m-%d").to_string();
        let (text, raw, not_modified) =
            self.get_conditional(&url, "hf-daily", &label, "json", Expect::Json)?;
        let parsed = parse_answer(&url, &raw, &text, Format::HfDailyPapers, true)?;
        Ok(HfDay {
            date,
            papers: parsed.papers,
            skipped: parsed.skipped,
            raw,
            not_modified,
        })
    }

    fn library_dir(&self) -> &Path {
        self.fetch_dir.parent().unwrap_or(Path::new("."))
    }

    /// GET without validators; keep the body raw; return it as text and its file.
    fn get_fresh(
        &mut self,
        url: &str,
        source: &str,
        label: &str,
        expect: Expect,
    ) -> Result<(String, PathBuf)> {
        match self.client.get(url, expect, None)? {
            Answer::Body { bytes, .. } => {
                let ext = if expect == Expect::Json {
                    "json"
                } else {
                    "xml"
                };
                let raw = raw::keep(
                    &self.fetch_dir,
                    source,
                    label,
                    ext,
                    &bytes,
                    SystemTime::now(),
                )?;
                let text = utf8(url, &raw, bytes)?;
                Ok((text, raw))
            }
            Answer::NotModified => Err(Error::Fetch {
                url: url.to_string(),
                message: "HTTP 304 Not Modified to a request that sent no validators".into(),
            }),
        }
    }

    /// GET with the validators of `url`'s last answer, when its raw file is still
    /// kept. A 304 reads that file back; a full answer is kept and its validators
    /// remembered (the state is saved).
    fn get_conditional(
        &mut self,
        url: &str,
        source: &str,
        label: &str,
        ext: &str,
        expect: Expect,
    ) -> Result<(String, PathBuf, bool)> {
        let previous = self.state.validators.get(url).and_then(|m| {
            let path = self.fetch_dir.join(&m.raw);
            path.is_file().then(|| {
                (
                    Validators {
                        etag: m.etag.clone(),
                        last_modified: m.last_modified.clone(),
                    },
                    path,
                )
            })
        });
        match self
            .client
            .get(url, expect, previous.as_ref().map(|(v, _)| v))?
        {
            Answer::NotModified => {
                let Some((_, path)) = previous else {
                    return Err(Error::Fetch {
                        url: url.to_string(),
                        message: "HTTP 304 without validators sent".into(),
                    });
                };
                tracing::info!(url, raw = %path.display(), "not modified; reading the kept answer");
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let text = utf8(url, &path, bytes)?;
                Ok((text, path, true))
            }
            Answer::Body { bytes, validators } => {
                let raw = raw::keep(
                    &self.fetch_dir,
                    source,
                    label,
                    ext,
                    &bytes,
                    SystemTime::now(),
                )?;
                let changed = if validators.etag.is_some() || validators.last_modified.is_some() {
                    let rel = raw
                        .strip_prefix(&self.fetch_dir)
                        .unwrap_or(&raw)
                        .to_string_lossy()
                        .into_owned();
                    self.state.validators.insert(
                        url.to_string(),
                        UrlMark {
                            etag: validators.etag,
                            last_modified: validators.last_modified,
                            raw: rel,
                        },
                    );
                    true
                } else {
                    self.state.validators.remove(url).is_some()
                };
                if changed {
                    self.state.save(self.library_dir())?;
                }
                let text = utf8(url, &raw, bytes)?;
                Ok((text, raw, false))
            }
        }
    }
}

fn now_utc() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

/// An [`Error::Fetch`] for `url` whose answer is kept at `raw`.
fn located(url: &str, raw: &Path, message: impl std::fmt::Display) -> Error {
    Error::Fetch {
        url: url.to_string(),
        message: format!("{message} (the answer is kept in {})", raw.display()),
    }
}

fn utf8(url: &str, raw: &Path, bytes: Vec<u8>) -> Result<String> {
    let mut text = String::from_utf8(bytes).map_err(|e| {
        located(
            url,
            raw,
            format!(
                "the answer is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

/// Parse a fetched document with the reader of `format`: a document that is not
/// well-formed, or (when `all_bad_is_error`) whose entries all fail, is an error;
/// single bad entries are skipped and reported.
fn parse_answer(
    url: &str,
    raw: &Path,
    text: &str,
    format: Format,
    all_bad_is_error: bool,
) -> Result<Parsed> {
    let syntax = if format == Format::HfDailyPapers {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .err()
            .map(|e| {
                format!(
                    "not valid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                )
            })
    } else {
        ingest::xml_error(text)
    };
    if let Some(s) = syntax {
        return Err(located(url, raw, s));
    }
    let mut papers = Vec::new();
    let mut skipped = Vec::new();
    for r in ingest::parse_text(text, format, raw) {
        match r {
            Ok(p) => papers.push(p),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    if all_bad_is_error && papers.is_empty() && !skipped.is_empty() {
        return Err(located(
            url,
            raw,
            format!(
                "not one entry could be read; the first error: {}",
                skipped[0]
            ),
        ));
    }
    for s in &skipped {
        tracing::warn!(url, "skipped: {s}");
    }
    Ok(Parsed { papers, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = FetchSettings {
            arxiv_rss: "http://127.0.0.1:9/".into(),
            hf: "http://h:1/base".into(),
            ..FetchSettings::default()
        };
        assert_eq!(
            s.listing_url("cs.IR+cs.CV", ListingFlavour::Atom),
            "http://127.0.0.1:9/atom/cs.IR+cs.CV"
        );
        assert_eq!(
            s.hf_url(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()),
            "http://h:1/base/api/daily_papers?date=2026-03-02"
        );
        assert_eq!(with_query("http://x/oai", "verb=A"), "http://x/oai?verb=A");
        assert_eq!(
            with_query("http://x/oai?k=1", "verb=A"),
            "http://x/oai?k=1&verb=A"
        );
        assert_eq!(encode("788421|43001"), "788421%7C43001");
        assert_eq!(encode("physics:cond-mat"), "physics%3Acond-mat");
    }

    #[test]
    fn user_agent_and_validation() {
        let mut s = FetchSettings::default();
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(s.user_agent(), format!("paperscout/{v}"));
        s.contact = Some("ada@example.org".into());
        assert_eq!(
            s.user_agent(),
            format!("paperscout/{v} (+mailto:ada@example.org)")
        );
        s.contact = Some("https://example.org/bot".into());
        assert_eq!(
            s.user_agent(),
            format!("paperscout/{v} (+https://example.org/bot)")
        );
        assert!(s.validate().is_ok());
        s.contact = Some("a@b\r\nX-Evil: 1".into());
        assert!(s.validate().unwrap_err().to_string().contains("one line"));
        let s = FetchSettings {
            arxiv_oai: "oaipmh.arxiv.org/oai".into(),
            ..FetchSettings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("OAI-PMH endpoint `oaipmh.arxiv.org/oai`"), "{e}");
    }

    #[test]
    fn flavours() {
        assert_eq!(
            "ATOM".parse::<ListingFlavour>().unwrap(),
            ListingFlavour::Atom
        );
        assert!("json".parse::<ListingFlavour>().is_err());
    }
}
