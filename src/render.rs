//! The output formats of `paperscout recommend`, `similar` and `search`: a terminal
//! table, JSON, a Markdown digest, a standalone HTML page and an Atom feed. This module
//! only turns a ranked [`Listing`] into text; ranking, the library and the clock belong
//! to the callers (the generation time is passed in, so the same listing renders to the
//! same bytes).
//!
//! Text meant for people (table, Markdown, HTML, Atom) is cleaned first: runs of
//! whitespace become one space, control characters and the characters XML 1.0 forbids
//! are dropped. URLs go through [`safe_url`] in every format (JSON included): only
//! http(s) ones are kept, percent-encoded where an IRI needs it; any other scheme loses
//! its link. JSON carries the other values as given.
//!
//! # JSON schema
//!
//! One pretty-printed object ending with a newline. Every key is always present, in
//! this order; exactly one of `user`, `query` and `paper` is not null.
//!
//! ```text
//! {
//!   "user":      string | null,        // recommend: the user
//!   "query":     string | null,        // search: the query text
//!   "paper":     string | null,        // similar: the id of the paper asked about
//!   "date":      "YYYY-MM-DD" | null,  // the day ranked (the last day of a range)
//!   "since":     "YYYY-MM-DD" | null,  // the first day, when a range was asked
//!   "generated": string,               // RFC 3339, UTC, whole seconds: "2026-05-29T06:00:00Z"
//!   "threshold": number | null,        // recommend: the user's threshold applied (0-1)
//!   "note":      string | null,        // "no paper above your threshold 0.50 today" when
//!                                      // the threshold left nothing
//!   "items": [{
//!     "rank":       number,              // 1-based
//!     "id":         string,
//!     "title":      string,
//!     "score":      number | null,       // recommend: calibrated relevance in 0-1 (README,
//!                                        // "Scores"); similar/search: cosine; 4 decimals;
//!                                        // null when not finite
//!     "url":        string | null,       // http(s) only, as `safe_url` makes it
//!     "categories": [string],            // primary first
//!     "authors":    [string],
//!     "listed":     "YYYY-MM-DD" | null, // the day the paper was listed
//!     "because":    null | {
//!       "kind":       "paper" | "interest" | "author",
//!                                        // paper: closest to a liked (or imported) paper;
//!                                        // interest: to an interest text; author: by an
//!                                        // author the user follows (listed whatever its score)
//!       "id":         string | null,     // the liked paper's id; null for interest and author
//!       "title":      string,            // the liked paper's title, the interest text, or
//!                                        // the followed author's name as the user wrote it
//!       "similarity": number | null      // rounded to 4 decimals; null for author
//!     },
//!     "collection": string | null        // recommend: the user's collection that ranked it
//!   }]
//! }
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Write};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::{Error, Result};

/// Lines of [`Format::Table`] are at most this many characters.
const WIDTH: usize = 80;
/// Abstract excerpts in the Markdown and HTML digests, in characters.
const EXCERPT: usize = 300;
/// Authors named in the digests before "et al.".
const DIGEST_AUTHORS: usize = 5;
/// Authors listed per Atom entry.
const FEED_AUTHORS: usize = 10;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header line, then one line per paper and one per reason, each at most 80
    /// characters (counted in chars).
    Table,
    /// The schema in the module documentation.
    Json,
    /// A digest page: heading, date line, numbered papers with authors, reasons and
    /// abstract excerpts.
    Markdown,
    /// A standalone UTF-8 HTML5 page with the content of the Markdown digest.
    Html,
    /// An Atom feed (RFC 4287) a feed reader can subscribe to.
    Atom,
}

impl FromStr for Format {
    type Err = Error;

    /// `table`, `json`, `markdown` (or `md`), `html` or `atom`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "atom" => Ok(Format::Atom),
            other => Err(Error::Invalid(format!(
                "unknown format {other:?}: expected table, json, markdown, html or atom"
            ))),
        }
    }
}

/// What a listing answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A user's recommendations.
    Recommend { user: String },
    /// Papers similar to a stored paper.
    Similar { id: String, title: String },
    /// A free-text search.
    Search { query: String },
}

/// A ranked list of papers and what it was made for.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub subject: Subject,
    /// The day ranked: the listing day, or the last day of a `--since` range.
    pub date: Option<NaiveDate>,
    /// The first day, when a range was asked (`--since N`).
    pub since: Option<NaiveDate>,
    /// When the listing was made; the Atom feed's `updated`.
    pub generated: DateTime<Utc>,
    /// Best first.
    pub items: Vec<Item>,
    /// The user's relevance threshold applied to this listing (`recommend`), if any.
    pub threshold: Option<f32>,
    /// Days of the listing on which no paper reached `threshold`: said instead of
    /// padding the list ([`quiet_message`]).
    pub quiet: Vec<NaiveDate>,
}

/// What a listing says for a day on which no paper reached the user's threshold.
pub fn quiet_message(threshold: f32) -> String {
    format!("no paper above your threshold {threshold:.2} today")
}

/// One ranked paper. Serialises as an item of the JSON schema (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// 1-based.
    pub rank: usize,
    pub id: String,
    pub title: String,
    /// The ranker's score (a cosine similarity for `similar` and `search`).
    #[serde(serialize_with = "round4")]
    pub score: f32,
    /// The paper's page; shown (in JSON too) only when it is http(s), as [`safe_url`]
    /// makes it.
    #[serde(serialize_with = "json_url")]
    pub url: Option<String>,
    /// Primary first.
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    #[serde(skip)]
    pub abstract_text: String,
    /// The day the paper was listed.
    pub listed: Option<NaiveDate>,
    /// Why it was recommended, when known.
    pub because: Option<Because>,
    /// The user's collection whose model ranked it (`None`: the default collection, or
    /// not a recommendation).
    pub collection: Option<String>,
}

/// What kind of reason a [`Because`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BecauseKind {
    /// Closest to a liked paper (or one imported from the user's bibliography).
    Paper,
    /// Closest to one of the user's interest texts.
    Interest,
    /// By an author the user follows.
    Author,
}

/// Why an item is listed: the liked paper or interest text it is closest to, or the
/// followed author who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Because {
    pub kind: BecauseKind,
    /// The liked paper's id; `None` for an interest text or a followed author.
    pub id: Option<String>,
    /// The liked paper's title, the interest text, or the followed author's name.
    pub title: String,
    /// Cosine similarity between the item and the reason (NaN, shown as null, for a
    /// followed author).
    #[serde(serialize_with = "round4")]
    pub similarity: f32,
}

impl Because {
    /// The reason of a paper listed because the user follows `name`.
    pub fn author(name: &str) -> Because {
        Because {
            kind: BecauseKind::Author,
            id: None,
            title: name.to_string(),
            similarity: f32::NAN,
        }
    }
}

/// `listing` in `format`. Every format ends with a newline.
pub fn render(listing: &Listing, format: Format) -> String {
    let mut out = String::new();
    let written = match format {
        Format::Table => table(listing, &mut out),
        Format::Json => json(listing, &mut out),
        Format::Markdown => markdown(listing, &mut out),
        Format::Html => html_page(listing, &mut out),
        Format::Atom => atom(listing, &mut out),
    };
    // Only our own `write!`s into a String happen above, and they cannot fail.
    written.expect("formatting into a String cannot fail");
    out
}

// ---- the formats --------------------------------------------------------------------

/// Every line goes through [`terminal_safe`] before it is fitted: [`clean`] has
/// already dropped the controls, what is left to escape are bidi overrides.
fn table(l: &Listing, out: &mut String) -> fmt::Result {
    writeln!(out, "{}", fit(&terminal_safe(&heading(l, true)), WIDTH))?;
    if l.items.is_empty() {
        return writeln!(out, "{}", empty_text(l));
    }
    for item in &l.items {
        let line = format!(
            // Scores are signed (an SVM margin for recommend): a fixed width keeps the
            // ids aligned; arXiv ids are 10 characters.
            "{:>3}. {:>6.3}  {:<10}  {}",
            item.rank,
            item.score,
            clean(&item.id),
            title_of(item)
        );
        writeln!(out, "{}", fit(&terminal_safe(&line), WIDTH))?;
        if let (None, Some(c)) = (&item.because, &item.collection) {
            let line = format!("     collection {}", clean(c));
            writeln!(out, "{}", fit(&terminal_safe(&line), WIDTH))?;
        }
        let prefix = match &item.collection {
            Some(c) => format!("     [{}] because: ", clean(c)),
            None => "     because: ".to_string(),
        };
        let prefix = prefix.as_str();
        if let Some(b) = item
            .because
            .as_ref()
            .filter(|b| b.kind == BecauseKind::Author)
        {
            let line = format!("{prefix}you follow {}", clean(&b.title));
            writeln!(out, "{}", fit(&terminal_safe(&line), WIDTH))?;
        } else if let Some(b) = &item.because {
            let suffix = if is_weak(b) {
                format!(" ({:.2}, weak)", b.similarity)
            } else {
                format!(" ({:.2})", b.similarity)
            };
            let what = match reason(b) {
                (_, title, _, _) if b.id.is_some() => title,
                (_, text, _, _) => format!("interest: {text}"),
            };
            let room = WIDTH.saturating_sub(prefix.chars().count() + suffix.chars().count());
            writeln!(out, "{prefix}{}{suffix}", fit(&terminal_safe(&what), room))?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonListing<'a> {
    user: Option<&'a str>,
    query: Option<&'a str>,
    paper: Option<&'a str>,
    date: Option<NaiveDate>,
    since: Option<NaiveDate>,
    generated: String,
    threshold: Option<f64>,
    note: Option<String>,
    items: &'a [Item],
}

fn json(l: &Listing, out: &mut String) -> fmt::Result {
    let (user, query, paper) = match &l.subject {
        Subject::Recommend { user } => (Some(user.as_str()), None, None),
        Subject::Search { query } => (None, Some(query.as_str()), None),
        Subject::Similar { id, .. } => (None, None, Some(id.as_str())),
    };
    let doc = JsonListing {
        user,
        query,
        paper,
        date: l.date,
        since: l.since,
        generated: rfc3339(l.generated),
        threshold: l.threshold.map(round4_value),
        note: quiet_note(l),
        items: &l.items,
    };
    // Strings, numbers and dates only (non-finite floats become null): this cannot fail.
    let text = serde_json::to_string_pretty(&doc).map_err(|_| fmt::Error)?;
    writeln!(out, "{text}")
}

fn markdown(l: &Listing, out: &mut String) -> fmt::Result {
    writeln!(out, "# {}\n", md(&heading(l, true), false))?;
    writeln!(out, "{}\n", md(&meta_line(l), true))?;
    if l.items.is_empty() {
        return writeln!(out, "{}.", md(&capitalised(&empty_text(l)), true));
    }
    for item in &l.items {
        let marker = format!("{}. ", item.rank);
        let indent = " ".repeat(marker.len());
        let title = md(&title_of(item), false);
        let info = md(&info(l, item), false);
        let mut lines = vec![match item.url.as_deref().and_then(safe_url) {
            Some(url) => format!("**[{title}]({})** — {info}", md_url(&url)),
            None => format!("**{title}** — {info}"),
        }];
        lines.extend(authors_line(&item.authors).map(|a| md(&a, true)));
        if let Some((lead, what, url, tail)) = item.because.as_ref().map(reason) {
            let tail = with_collection(tail, item);
            let what = md(&what, false);
            let what = url.map_or(what.clone(), |url| format!("[{what}]({url})"));
            lines.push(format!("*{lead}{what}{tail}*"));
        }
        // A backslash at the end of a line is a hard line break (CommonMark).
        writeln!(out, "{marker}{}", lines.join(&format!("\\\n{indent}")))?;
        let excerpt = excerpt(&clean(&item.abstract_text), EXCERPT);
        if !excerpt.is_empty() {
            writeln!(out, "\n{indent}{}", md(&excerpt, true))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

const CSS: &str = "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;\
max-width:46rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1b1b1b;background:#fff;\
overflow-wrap:break-word}h1{font-size:1.4rem;line-height:1.3}ol{padding-left:1.8rem}\
li{margin-bottom:1.4rem}p{margin:.2rem 0}.title{font-weight:600}\
.meta,.info,.authors{color:#555;font-size:.9rem}.because{font-style:italic}\
.abstract{margin-top:.4rem}a{color:#0645ad}\
@media (prefers-color-scheme:dark){body{background:#121212;color:#ddd}\
.meta,.info,.authors{color:#aaa}a{color:#8ab4f8}}";

fn html_page(l: &Listing, out: &mut String) -> fmt::Result {
    let head = html(&heading(l, true));
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<title>{head}</title>\n<style>{CSS}</style>\n</head>\n<body>"
    )?;
    writeln!(
        out,
        "<h1>{head}</h1>\n<p class=\"meta\">{}</p>",
        html(&meta_line(l))
    )?;
    if l.items.is_empty() {
        writeln!(out, "<p>{}.</p>", html(&capitalised(&empty_text(l))))?;
    } else {
        writeln!(out, "<ol>")?;
        for item in &l.items {
            writeln!(out, "<li value=\"{}\">", item.rank)?;
            let title = html(&title_of(item));
            match item.url.as_deref().and_then(safe_url) {
                Some(url) => writeln!(
                    out,
                    "<p class=\"title\"><a href=\"{}\">{title}</a></p>",
                    html(&url)
                )?,
                None => writeln!(out, "<p class=\"title\">{title}</p>")?,
            }
            writeln!(out, "<p class=\"info\">{}</p>", html(&info(l, item)))?;
            if let Some(a) = authors_line(&item.authors) {
                writeln!(out, "<p class=\"authors\">{}</p>", html(&a))?;
            }
            if let Some((lead, what, url, tail)) = item.because.as_ref().map(reason) {
                let tail = with_collection(tail, item);
                let what = html(&what);
                let what = url.map_or(what.clone(), |u| format!("<a href=\"{u}\">{what}</a>"));
                let (lead, tail) = (html(lead), html(&tail));
                writeln!(out, "<p class=\"because\">{lead}{what}{tail}</p>")?;
            }
            let excerpt = excerpt(&clean(&item.abstract_text), EXCERPT);
            if !excerpt.is_empty() {
                writeln!(out, "<p class=\"abstract\">{}</p>", html(&excerpt))?;
            }
            writeln!(out, "</li>")?;
        }
        writeln!(out, "</ol>")?;
    }
    writeln!(out, "</body>\n</html>")
}

fn atom(l: &Listing, out: &mut String) -> fmt::Result {
    let feed_id = match &l.subject {
        Subject::Recommend { user } => format!("urn:paperscout:recommend:{}", pct(user)),
        Subject::Similar { id, .. } => format!("urn:paperscout:similar:{}", pct(id)),
        Subject::Search { query } => format!("urn:paperscout:search:{}", pct(query)),
    };
    writeln!(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>")?;
    writeln!(out, "<feed xmlns=\"http://www.w3.org/2005/Atom\">")?;
    writeln!(out, "  <id>{}</id>", xml(&feed_id))?;
    // The feed's title stays the same from day to day; the entries carry the days.
    let title = format!("paperscout: {}", heading(l, false));
    writeln!(out, "  <title>{}</title>", xml(&title))?;
    writeln!(out, "  <updated>{}</updated>", rfc3339(l.generated))?;
    writeln!(out, "  <author><name>paperscout</name></author>")?;
    writeln!(out, "  <generator>paperscout</generator>")?;
    let mut ids = HashSet::new();
    for item in &l.items {
        let url = item.url.as_deref().and_then(safe_url);
        // Entry ids must be unique: two items with one url (or one id) get numbered.
        let base = format!("urn:paperscout:paper:{}", pct(&item.id));
        let mut id = url.clone().unwrap_or_else(|| base.clone());
        let mut n = 1;
        while !ids.insert(id.clone()) {
            id = format!("{base}:{n}");
            n += 1;
        }
        let updated = match item.listed {
            Some(day) => rfc3339(day.and_time(chrono::NaiveTime::MIN).and_utc()),
            None => rfc3339(l.generated),
        };
        writeln!(out, "  <entry>")?;
        writeln!(out, "    <id>{}</id>", xml(&id))?;
        writeln!(out, "    <title>{}</title>", xml(&title_of(item)))?;
        writeln!(out, "    <updated>{updated}</updated>")?;
        if let Some(url) = &url {
            writeln!(out, "    <link rel=\"alternate\" href=\"{}\"/>", xml(url))?;
        }
        let authors = item
            .authors
            .iter()
            .map(|a| clean(a))
            .filter(|a| !a.is_empty());
        for name in authors.take(FEED_AUTHORS) {
            writeln!(out, "    <author><name>{}</name></author>", xml(&name))?;
        }
        let categories = item.categories.iter().map(|c| clean(c));
        for term in categories.filter(|c| !c.is_empty()) {
            writeln!(out, "    <category term=\"{}\"/>", xml(&term))?;
        }
        if let Some(c) = item.collection.as_deref().map(clean) {
            writeln!(
                out,
                "    <category term=\"{}\" scheme=\"urn:paperscout:collection\" label=\"collection {}\"/>",
                xml(&c),
                xml(&c)
            )?;
        }
        let mut text = match item.because.as_ref().map(reason) {
            Some((lead, what, _, tail)) => {
                format!("{lead}{what}{}.", with_collection(tail, item))
            }
            None => item.collection.as_deref().map_or(String::new(), |c| {
                format!("In your collection {}.", clean(c))
            }),
        };
        let abstract_text = clean(&item.abstract_text);
        if !text.is_empty() && !abstract_text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&abstract_text);
        // RFC 4287 4.1.2: an entry without an alternate link must carry atom:content.
        let element = if url.is_some() { "summary" } else { "content" };
        writeln!(
            out,
            "    <{element} type=\"text\">{}</{element}>",
            xml(&text)
        )?;
        writeln!(out, "  </entry>")?;
    }
    // A day on which nothing reached the user's threshold is an entry saying so, so the
    // reader shows why there is nothing new.
    if let (Some(t), Subject::Recommend { user }) = (l.threshold, &l.subject) {
        for day in &l.quiet {
            let stamp = rfc3339(day.and_time(chrono::NaiveTime::MIN).and_utc());
            writeln!(out, "  <entry>")?;
            writeln!(
                out,
                "    <id>urn:paperscout:quiet:{}:{day}</id>",
                xml(&pct(user))
            )?;
            writeln!(out, "    <title>{day}: {}</title>", xml(&quiet_message(t)))?;
            writeln!(out, "    <updated>{stamp}</updated>")?;
            writeln!(
                out,
                "    <content type=\"text\">{} ({day}); `paperscout profile {} threshold` changes it.</content>",
                xml(&capitalised(&quiet_message(t))),
                xml(&clean(user))
            )?;
            writeln!(out, "  </entry>")?;
        }
    }
    writeln!(out, "</feed>")
}

// ---- shared pieces ------------------------------------------------------------------

/// What an empty listing says: the threshold's message when the threshold emptied it,
/// else "no papers".
fn empty_text(l: &Listing) -> String {
    quiet_note(l).unwrap_or_else(|| "no papers".to_string())
}

/// The threshold's message, when a day of the listing had nothing above it and the
/// listing is empty.
fn quiet_note(l: &Listing) -> Option<String> {
    match l.threshold {
        Some(t) if l.items.is_empty() && !l.quiet.is_empty() => Some(quiet_message(t)),
        _ => None,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A reason's tail naming the item's collection, when it has one.
fn with_collection(tail: String, item: &Item) -> String {
    match &item.collection {
        Some(c) => format!("{tail} (collection {})", clean(c)),
        None => tail,
    }
}

/// `x` rounded to 4 decimals, as the JSON numbers are.
fn round4_value(x: f32) -> f64 {
    (f64::from(x) * 1e4).round() / 1e4
}

/// What the listing is: `top 10 for alice on 2026-05-29`, `papers similar to
/// 2605.01234 on 2026-05-29: Title`, `search: "query" from 2026-05-23 to 2026-05-29`.
/// Without `dated`, the form that stays the same from day to day (no count, no days).
fn heading(l: &Listing, dated: bool) -> String {
    let span = match (dated, span(l)) {
        (true, Some(s)) => format!(" {s}"),
        _ => String::new(),
    };
    match &l.subject {
        Subject::Recommend { user } if dated && !l.items.is_empty() => {
            format!("top {} for {}{span}", l.items.len(), clean(user))
        }
        Subject::Recommend { user } => format!("recommendations for {}{span}", clean(user)),
        Subject::Similar { id, title } => match clean(&crate::tex::to_unicode(title)) {
            t if t.is_empty() => format!("papers similar to {}{span}", clean(id)),
            t => format!("papers similar to {}{span}: {t}", clean(id)),
        },
        Subject::Search { query } => format!("search: \"{}\"{span}", clean(query)),
    }
}

/// `on D`, `from S to D` or `since S`.
fn span(l: &Listing) -> Option<String> {
    match (l.since, l.date) {
        (Some(s), Some(d)) if s != d => Some(format!("from {s} to {d}")),
        (_, Some(d)) => Some(format!("on {d}")),
        (Some(s), None) => Some(format!("since {s}")),
        (None, None) => None,
    }
}

/// The digests' line under the heading: days, generation time, count.
fn meta_line(l: &Listing) -> String {
    let mut parts: Vec<String> = span(l).map(|s| format!("listed {s}")).into_iter().collect();
    parts.push(format!(
        "generated {}",
        l.generated.format("%Y-%m-%d %H:%M UTC")
    ));
    let n = l.items.len();
    parts.push(format!("{n} paper{}", if n == 1 { "" } else { "s" }));
    parts.join(" · ")
}

/// `id · categories · score`, and the day listed when the listing spans several days.
fn info(l: &Listing, item: &Item) -> String {
    let mut parts = vec![clean(&item.id)];
    let categories: Vec<String> = item.categories.iter().map(|c| clean(c)).collect();
    if !categories.is_empty() {
        parts.push(categories.join(", "));
    }
    if let (Some(_), Some(day)) = (l.since, item.listed) {
        parts.push(format!("listed {day}"));
    }
    parts.push(format!("score {:.2}", item.score));
    if let Some(c) = &item.collection {
        parts.push(format!("collection {}", clean(c)));
    }
    parts.join(" · ")
}

fn title_of(item: &Item) -> String {
    match clean(&crate::tex::to_unicode(&item.title)) {
        t if t.is_empty() => "(untitled)".to_string(),
        t => t,
    }
}

/// Why an item is listed, as (text before, what, the arXiv page of the liked paper,
/// text after): `Because you liked ` Title `: similarity 0.71`,
/// `Because of your interest "` text `": similarity 0.71`, or `Because you follow `
/// Name. Cleaned, not escaped.
fn reason(b: &Because) -> (&'static str, String, Option<String>, String) {
    if b.kind == BecauseKind::Author {
        return ("Because you follow ", clean(&b.title), None, String::new());
    }
    let sim = b.similarity;
    let weak = if is_weak(b) {
        " (a weak match: nothing you liked is close)"
    } else {
        ""
    };
    match (&b.id, clean(&crate::tex::to_unicode(&b.title))) {
        (Some(id), title) => {
            let title = if title.is_empty() { clean(id) } else { title };
            let url = arxiv_url(id.trim());
            (
                "Because you liked ",
                title,
                url,
                format!(": similarity {sim:.2}{weak}"),
            )
        }
        (None, text) => (
            "Because of your interest \"",
            text,
            None,
            format!("\": similarity {sim:.2}{weak}"),
        ),
    }
}

/// A reason whose cosine similarity is below this is shown as weak: with MiniLM,
/// papers on one topic are typically 0.4-0.8 apart, unrelated ones 0.0-0.2, so a
/// "because" at 0.1 explains nothing and must not look like a strong one.
pub const WEAK_REASON: f32 = 0.25;

fn is_weak(b: &Because) -> bool {
    b.kind != BecauseKind::Author && b.similarity < WEAK_REASON
}

/// The first authors, then "et al.", when there are any.
fn authors_line(authors: &[String]) -> Option<String> {
    let names: Vec<String> = authors
        .iter()
        .map(|a| clean(a))
        .filter(|a| !a.is_empty())
        .collect();
    match names.len() {
        0 => None,
        n if n > DIGEST_AUTHORS => Some(format!("{} et al.", names[..DIGEST_AUTHORS].join(", "))),
        _ => Some(names.join(", ")),
    }
}

/// Runs of whitespace become one space (trimmed); control characters and the
/// non-characters XML 1.0 forbids (U+FFFE, U+FFFF) are dropped.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}') {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `s` made safe to print on a terminal: every character that a terminal acts on
/// instead of showing is written as a visible escape, so text from input files (a
/// title with `ESC[31m`, `ESC]0;…BEL`) cannot recolour, retitle or rewrite the
/// screen. Escaped: C0 controls (`\n`, `\r`, `\t` as those two characters, the
/// others and DEL as `\x1b`-style escapes), C1 controls (`\u{9b}`), and the Unicode
/// bidirectional overrides and isolates (`\u{202e}`), which reorder what follows.
/// An ESC sequence is thus printed as its text (`\x1b[31m`). Everything else is kept
/// as is; borrowed when there is nothing to escape.
///
/// One line in, one line out: a caller that wants to keep line breaks applies it to
/// each line. What every message echoing input values (ingest's skipped records) and
/// every table the CLI prints goes through.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                // Infallible: writing into a String.
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` in at most `width` chars, ending with `…` when cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    if width > 0 {
        out.push('…');
    }
    out
}

/// The first `max` chars of cleaned `text`, cut back to a word boundary, with `…`.
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let at_word_end = text.chars().nth(max) == Some(' ');
    let end = match cut.rfind(' ') {
        _ if at_word_end => cut.len(),
        // A word longer than half the excerpt is cut inside.
        Some(i) if i > cut.len() / 2 => i,
        _ => cut.len(),
    };
    let mut out = cut[..end]
        .trim_end_matches([' ', ',', ';', ':'])
        .to_string();
    out.push('…');
    out
}

/// The abs page of an arXiv id (new style `2605.01234`, old style `hep-th/9901001`,
/// optionally versioned).
fn arxiv_url(id: &str) -> Option<String> {
    let digits =
        |s: &str, n: &[usize]| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let bare = match id.rsplit_once('v') {
        Some((head, v)) if !head.is_empty() && digits(v, &[1, 2, 3]) => head,
        _ => id,
    };
    let ok = match bare.split_once('/') {
        Some((archive, number)) => {
            archive.starts_with(|c: char| c.is_ascii_lowercase())
                && archive
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '.')
                && digits(number, &[7])
        }
        None => bare
            .split_once('.')
            .is_some_and(|(ym, n)| digits(ym, &[4]) && digits(n, &[4, 5])),
    };
    ok.then(|| format!("https://arxiv.org/abs/{id}"))
}

/// `url` as every output format shows it: `None` unless it is an absolute http(s)
/// URL with a host (`javascript:`, `data:`, relative links are dropped, in JSON too);
/// otherwise the URL with every byte that may not appear literally in an IRI (RFC
/// 3987) percent-encoded, so it is at once a valid Atom id, a safe Markdown link and
/// HTML attribute. Encoded: spaces, controls, quotes, `<>{}|\^` and backtick, `'()`
/// (Markdown), non-ASCII (as UTF-8 bytes), `[` and `]` except around an IPv6 host, a
/// `%` not followed by two hex digits, and every `#` after the first.
pub fn safe_url(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_len = ["https://", "http://"]
        .iter()
        .find(|p| lower.starts_with(**p))
        .map(|p| p.len())?;
    let rest = &url[scheme_len..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return None;
    }
    // `[` and `]` stay only around an IP literal host: `[` `hex:.` `]` then `:port`.
    let ip_literal = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .is_some_and(|(inside, after)| {
            !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                && (after.is_empty()
                    || after
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())))
        });
    let host_start = scheme_len + authority.len() - host.len();
    let host_close = host_start + host.find(']').unwrap_or(0);
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len() + 8);
    out.push_str(&url[..scheme_len]);
    let mut fragment = false;
    for (i, &b) in bytes.iter().enumerate().skip(scheme_len) {
        let keep = match b {
            b'[' => ip_literal && i == host_start,
            b']' => ip_literal && i == host_close,
            b'%' => bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            b'#' => !std::mem::replace(&mut fragment, true),
            b => b.is_ascii_alphanumeric() || b"-._~:/?@!$&*+,;=".contains(&b),
        };
        if keep {
            out.push(char::from(b));
        } else {
            push_pct(&mut out, b);
        }
    }
    Some(out)
}

/// The JSON `url`: what [`safe_url`] makes of it, so JSON agrees with the other formats.
fn json_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match url.as_deref().and_then(safe_url) {
        Some(u) => s.serialize_some(&u),
        None => s.serialize_none(),
    }
}

/// `s` with every byte but the unreserved ones (RFC 3986: letters, digits, `-._~`)
/// percent-encoded: safe inside a URN.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            push_pct(&mut out, b);
        }
    }
    out
}

fn push_pct(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// `s` (cleaned by the caller) with Markdown's special characters backslash-escaped;
/// at the start of a line (`line_start`), also what would open a block there: a list
/// item, a setext underline.
fn md(s: &str, line_start: bool) -> String {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        let special = matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&'
        );
        let opens_block = line_start
            && ((i == 0 && matches!(c, '-' | '+' | '='))
                || (i == digits && digits > 0 && matches!(c, '.' | ')')));
        if special || opens_block {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL from [`safe_url`] as a Markdown link destination: `&` would start an entity.
fn md_url(url: &str) -> String {
    url.replace('&', "\\&")
}

/// `s` (cleaned by the caller) HTML-escaped for text and quoted attributes.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` XML-escaped for text and quoted attributes, without the characters XML 1.0
/// does not allow (`s` keeps its line breaks: callers clean what needs cleaning).
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t'
            | '\n'
            | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'.. => out.push(c),
            _ => {}
        }
    }
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `x` rounded to 4 decimals, so `0.3f32` is `0.3` in JSON, not `0.30000001192092896`
/// (non-finite values become null).
fn round4<S: serde::Serializer>(x: &f32, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((f64::from(*x) * 1e4).round() / 1e4)
}

/// Checks `xml` is a well-formed Atom feed that follows RFC 4287's rules: root `feed`
/// in the Atom namespace; exactly one `id`, `title` and `updated` on the feed and on
/// every entry; an author on the feed or on every entry; ids absolute IRIs, entry ids
/// unique; `updated` in RFC 3339; links with `href`, categories with `term`; an entry
/// without an alternate link has `content`; only characters XML 1.0 allows. Returns
/// the number of entries. What the tests check every feed against (`render`'s own and
/// the binary's), public so a feed can be checked the same way outside the crate.
pub fn validate_atom(xml: &str) -> std::result::Result<usize, String> {
    use quick_xml::escape::resolve_xml_entity;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::name::{Namespace, ResolveResult};
    use quick_xml::reader::NsReader;
    use quick_xml::XmlVersion;

    const ATOM: &str = "http://www.w3.org/2005/Atom";

    struct Node {
        atom: bool,
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
        children: Vec<Node>,
    }
    impl Node {
        fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a Node> + use<'a, 'n> {
            self.children
                .iter()
                .filter(move |c| c.atom && c.name == name)
        }
        fn attr(&self, name: &str) -> Option<&str> {
            let found = self.attrs.iter().find(|(k, _)| k == name);
            found.map(|(_, v)| v.as_str())
        }
        /// The text of the one child `name`, trimmed.
        fn one(&self, name: &str, what: &str) -> Result<&str, String> {
            let found: Vec<&Node> = self.all(name).collect();
            match found[..] {
                [node] => Ok(node.text.trim()),
                _ => Err(format!("{what} has {} <{name}>, not 1", found.len())),
            }
        }
    }
    fn node(ns: ResolveResult, e: &BytesStart) -> Result<Node, String> {
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| format!("bad attribute: {e}"))?;
            let value = a.normalized_value(XmlVersion::Implicit1_0);
            let value = value.map_err(|e| format!("bad attribute value: {e}"))?;
            attrs.push((a.key.local_name().as_ref().to_string(), value.into_owned()));
        }
        Ok(Node {
            atom: matches!(ns, ResolveResult::Bound(Namespace(n)) if n == ATOM),
            name: e.local_name().as_ref().to_string(),
            attrs,
            text: String::new(),
            children: Vec::new(),
        })
    }
    fn close(node: Node, stack: &mut [Node], root: &mut Option<Node>) -> Result<(), String> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None if root.is_none() => *root = Some(node),
            None => return Err(format!("a second root element <{}>", node.name)),
        }
        Ok(())
    }
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }
    /// An absolute IRI (RFC 3987): a scheme, then only characters an IRI allows
    /// (unreserved, reserved, `%` and two hex digits, non-ASCII `ucschar`), at most
    /// one `#`, and `[`/`]` only around an IP-literal host.
    fn iri(s: &str, what: &str) -> Result<(), String> {
        let scheme = s
            .split_once(':')
            .map(|(scheme, rest)| (scheme, rest.is_empty()));
        let scheme_ok = matches!(scheme, Some((sc, false)) if sc.starts_with(|c: char| c.is_ascii_alphabetic())
            && sc.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
        if !scheme_ok {
            return Err(format!("{what} {s:?} is not an absolute IRI"));
        }
        let invalid = |why: &str| Err(format!("{what} {s:?} is not a valid IRI: {why}"));
        let ucschar = |c: char| {
            matches!(c, '\u{A0}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFEF}')
                || (u32::from(c) >= 0x10000
                    && (u32::from(c) & 0xFFFF) < 0xFFFE
                    && u32::from(c) < 0xE0000)
                || matches!(c, '\u{E1000}'..='\u{EFFFD}')
        };
        let chars: Vec<char> = s.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let ok = c.is_ascii_alphanumeric()
                || "-._~:/?#[]@!$&'()*+,;=".contains(c)
                || (c == '%'
                    && chars
                        .get(i + 1..i + 3)
                        .is_some_and(|h| h.iter().all(char::is_ascii_hexdigit)))
                || (!c.is_ascii() && ucschar(c));
            if !ok {
                return invalid(&format!("{c:?} is not allowed"));
            }
        }
        if s.matches('#').count() > 1 {
            return invalid("more than one '#'");
        }
        // `[` and `]` belong only around an IP literal: `scheme://[...]` or `user@[...]`.
        let rest = s.split_once(':').map_or("", |(_, r)| r);
        let (authority, after) = match rest.strip_prefix("//") {
            Some(r) => r.split_at(r.find(['/', '?', '#']).unwrap_or(r.len())),
            None => ("", rest),
        };
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let literal_ok = match host.strip_prefix('[') {
            Some(h) => h.split_once(']').is_some_and(|(inside, port)| {
                !inside.is_empty()
                    && !inside.contains(['[', ']'])
                    && (port.is_empty()
                        || port
                            .strip_prefix(':')
                            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())))
            }),
            None => !host.contains(['[', ']']),
        };
        let userinfo = authority.len() - host.len();
        if !literal_ok || authority[..userinfo].contains(['[', ']']) || after.contains(['[', ']']) {
            return invalid("'[' or ']' outside an IP-literal host");
        }
        Ok(())
    }
    /// What the feed and its entries share: one id (returned), title and updated.
    fn common(n: &Node, what: &str) -> Result<String, String> {
        let id = n.one("id", what)?;
        iri(id, &format!("{what} id"))?;
        n.one("title", what)?;
        let updated = n.one("updated", what)?;
        chrono::DateTime::parse_from_rfc3339(updated)
            .map_err(|e| format!("{what} updated {updated:?} is not RFC 3339: {e}"))?;
        for link in n.all("link") {
            match link.attr("href") {
                None | Some("") => return Err(format!("{what} has a link without href")),
                Some(href) => iri(href, &format!("{what} link"))?,
            }
        }
        if n.all("category")
            .any(|c| c.attr("term").is_none_or(str::is_empty))
        {
            return Err(format!("{what} has a category without term"));
        }
        if n.all("author").any(|a| a.one("name", "author").is_err()) {
            return Err(format!("{what} has an author without one name"));
        }
        Ok(id.to_string())
    }

    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(e) => return Err(format!("not well-formed: {e}")),
        };
        let text = match event {
            Event::Start(e) => {
                stack.push(node(ns, &e)?);
                continue;
            }
            Event::Empty(e) => {
                let n = node(ns, &e)?;
                close(n, &mut stack, &mut root)?;
                continue;
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("an end tag without start")?;
                close(n, &mut stack, &mut root)?;
                continue;
            }
            Event::Text(t) => t.xml10_content().into_owned(),
            Event::CData(t) => t.xml10_content().into_owned(),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => c.to_string(),
                Ok(None) => match resolve_xml_entity(&r) {
                    Some(s) => s.to_string(),
                    None => return Err(format!("unknown entity &{};", &*r)),
                },
                Err(e) => return Err(format!("bad character reference: {e}")),
            },
            Event::Eof if stack.is_empty() => break,
            Event::Eof => return Err("an element is not closed".into()),
            _ => continue, // declaration, comment, processing instruction
        };
        if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            return Err(format!("character {c:?} is not allowed in XML 1.0"));
        }
        match stack.last_mut() {
            Some(top) => top.text.push_str(&text),
            None if text.trim().is_empty() => {}
            None => return Err(format!("text {text:?} outside the root element")),
        }
    }
    let feed = root.ok_or("no root element")?;
    if !(feed.atom && feed.name == "feed") {
        return Err(format!("root is <{}>, not an Atom <feed>", feed.name));
    }
    common(&feed, "feed")?;
    let feed_author = feed.all("author").next().is_some();
    let mut ids = HashSet::new();
    let mut entries = 0;
    for (i, entry) in feed.all("entry").enumerate() {
        let what = format!("entry {}", i + 1);
        let id = common(entry, &what)?;
        if !ids.insert(id.clone()) {
            return Err(format!("{what} repeats id {id:?}"));
        }
        if !feed_author && entry.all("author").next().is_none() {
            return Err(format!("{what} has no author and neither has the feed"));
        }
        let alternate = entry
            .all("link")
            .any(|l| l.attr("rel").is_none_or(|r| r == "alternate"));
        if !alternate && entry.all("content").next().is_none() {
            return Err(format!("{what} has neither an alternate link nor content"));
        }
        entries += 1;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, d).expect("a valid day")
    }

    fn generated() -> DateTime<Utc> {
        day(29)
            .and_hms_opt(6, 0, 0)
            .expect("a valid time")
            .and_utc()
    }

    /// Everything that has to be escaped, cut or dropped, in one listing.
    fn awkward() -> Listing {
        let long_title = "Très long titre über alles ".repeat(12); // 324 chars
        let item = |rank: usize, id: &str, title: &str| Item {
            rank,
            id: id.into(),
            title: title.into(),
            score: 0.3,
            url: None,
            categories: vec!["cs.LG".into(), "cs.AI".into()],
            authors: vec![],
            abstract_text: String::new(),
            listed: None,
            because: None,
            collection: None,
        };
        let first = Item {
            url: Some("https://arxiv.org/abs/2605.00001".into()),
            authors: (1..=12).map(|i| format!("Zoë Ünicode_{i}")).collect(),
            abstract_text: "We study word ".repeat(40),
            listed: Some(day(29)),
            because: Some(Because {
                kind: BecauseKind::Paper,
                id: Some("2604.11111".into()),
                title: "Liked <b>paper</b> & co".into(),
                similarity: 0.7123,
            }),
            ..item(
                1,
                "2605.00001",
                "<script>alert(\"x\")</script> & 'q' [link](x) *b* _i_ `c`",
            )
        };
        let second = Item {
            abstract_text: "A control\u{1}char\nand\ta tab.".into(),
            ..item(2, "doi:10.1000/x y", &long_title)
        };
        let third = Item {
            url: Some("javascript:alert(1)".into()),
            because: Some(Because {
                kind: BecauseKind::Interest,
                id: None,
                title: "graph neural networks & <b>".into(),
                similarity: 0.5,
            }),
            ..item(3, "2605.00003", "Control\u{1}char and \"quotes\"")
        };
        Listing {
            subject: Subject::Recommend {
                user: "alice".into(),
            },
            date: Some(day(29)),
            since: None,
            generated: generated(),
            items: vec![first, second, third],
            threshold: None,
            quiet: Vec::new(),
        }
    }

    fn with(subject: Subject, items: Vec<Item>) -> Listing {
        Listing {
            subject,
            items,
            ..awkward()
        }
    }

    /// An empty search listing.
    fn search(query: &str) -> Listing {
        let query = query.into();
        with(Subject::Search { query }, vec![])
    }

    #[test]
    fn format_names_parse_and_others_are_refused() {
        assert_eq!("md".parse::<Format>().ok(), Some(Format::Markdown));
        assert_eq!("atom".parse::<Format>().ok(), Some(Format::Atom));
        let Err(Error::Invalid(msg)) = "rss".parse::<Format>() else {
            panic!("rss was accepted");
        };
        assert_eq!(
            msg,
            "unknown format \"rss\": expected table, json, markdown, html or atom"
        );
    }

    /// Reasons at similarity 0.03-0.12 were shown like strong ones (issue 11).
    #[test]
    fn weak_reasons_are_marked_in_every_text_format() {
        let mut l = awkward();
        if let Some(b) = l.items[0].because.as_mut() {
            b.similarity = 0.1;
        }
        let table = render(&l, Format::Table);
        assert!(table.contains("(0.10, weak)"), "{table}");
        assert!(
            !table.contains("(0.50, weak)"),
            "a 0.5 reason is not weak: {table}"
        );
        for f in [Format::Markdown, Format::Html] {
            let out = render(&l, f);
            assert_eq!(out.matches("a weak match").count(), 1, "{out}");
        }
    }

    #[test]
    fn followed_author_reasons_read_you_follow_in_every_format() {
        let mut l = awkward();
        l.items[1].because = Some(Because::author("Zoë <Smith>"));
        let v: Value = serde_json::from_str(&render(&l, Format::Json)).expect("JSON");
        let b = &v["items"][1]["because"];
        assert_eq!(b["kind"], "author");
        assert_eq!(b["title"], "Zoë <Smith>");
        assert!(b["id"].is_null() && b["similarity"].is_null());
        let table = render(&l, Format::Table);
        assert!(
            table.contains("\n     because: you follow Zoë <Smith>\n"),
            "{table}"
        );
        let expect = [
            (Format::Markdown, "*Because you follow Zoë \\<Smith\\>*"),
            (
                Format::Html,
                "<p class=\"because\">Because you follow Zoë &lt;Smith&gt;</p>",
            ),
            (Format::Atom, "Because you follow Zoë &lt;Smith&gt;."),
        ];
        for (f, want) in expect {
            let out = render(&l, f);
            assert!(out.contains(want), "{f:?}: {out}");
            assert!(
                !out.contains("NaN") && !out.contains("weak"),
                "{f:?}: {out}"
            );
        }
    }

    #[test]
    fn table_fits_80_columns() {
        let out = render(&awkward(), Format::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "top 3 for alice on 2026-05-29");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(lines[1].starts_with("  1.  0.300  2605.00001  <script>"));
        assert_eq!(lines[2], "     because: Liked <b>paper</b> & co (0.71)");
        assert!(lines[3].starts_with("  2.  0.300  doi:10.1000/x y  Très long"));
        assert!(lines[3].ends_with('…') && lines[3].chars().count() == WIDTH);
        assert!(lines[4].contains("Control"), "no because line for item 2");
        assert_eq!(
            lines[5],
            "     because: interest: graph neural networks & <b> (0.50)"
        );
        assert!(!out.contains('\u{1}'));
        let long = with(
            Subject::Similar {
                id: "2605.00001".into(),
                title: "x".repeat(200),
            },
            vec![],
        );
        let out = render(&long, Format::Table);
        assert!(out.starts_with("papers similar to 2605.00001 on 2026-05-29: xxx"));
        assert_eq!(out.lines().next().map(|l| l.chars().count()), Some(WIDTH));
        assert!(out.ends_with("\nno papers\n"));
    }

    #[test]
    fn a_quiet_day_says_so_and_collections_are_named_in_every_format() {
        let mut quiet = with(
            Subject::Recommend {
                user: "alice".into(),
            },
            vec![],
        );
        quiet.threshold = Some(0.5);
        quiet.quiet = vec![day(29)];
        let said = "no paper above your threshold 0.50 today";
        assert!(render(&quiet, Format::Table).contains(said));
        assert!(
            render(&quiet, Format::Markdown).contains("No paper above your threshold 0.50 today.")
        );
        assert!(render(&quiet, Format::Html)
            .contains("<p>No paper above your threshold 0.50 today.</p>"));
        let atom = render(&quiet, Format::Atom);
        assert!(atom.contains(&format!("2026-05-29: {said}")), "{atom}");
        validate_atom(&atom).expect("a valid feed");
        let v: Value = serde_json::from_str(&render(&quiet, Format::Json)).expect("JSON");
        assert_eq!(
            (v["note"].as_str(), v["threshold"].as_f64()),
            (Some(said), Some(0.5))
        );
        // Without a threshold, an empty listing is just empty.
        quiet.threshold = None;
        assert!(render(&quiet, Format::Table).contains("no papers"));

        let mut l = awkward();
        l.items[0].collection = Some("vision".into());
        let v: Value = serde_json::from_str(&render(&l, Format::Json)).expect("JSON");
        assert_eq!(v["items"][0]["collection"], "vision");
        assert!(v["items"][1]["collection"].is_null() && v["note"].is_null());
        assert!(render(&l, Format::Table).contains("[vision] because: "));
        for f in [Format::Markdown, Format::Html] {
            let out = render(&l, f);
            assert!(out.contains("collection vision"), "{f:?}: {out}");
        }
        let atom = render(&l, Format::Atom);
        assert!(
            atom.contains("scheme=\"urn:paperscout:collection\""),
            "{atom}"
        );
        validate_atom(&atom).expect("a valid feed");
    }

    #[test]
    fn json_has_the_documented_keys() {
        let out = render(&awkward(), Format::Json);
        assert!(out.ends_with("}\n"));
        let v: Value = serde_json::from_str(&out).expect("valid JSON");
        // serde_json's maps iterate in key order.
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        let keys = |v: &Value| keys(v).map(|k| k.join(" "));
        let top = "date generated items note paper query since threshold user";
        assert_eq!(keys(&v).as_deref(), Some(top));
        let item = "authors because categories collection id listed rank score title url";
        assert_eq!(keys(&v["items"][0]).as_deref(), Some(item));
        let because = keys(&v["items"][0]["because"]);
        assert_eq!(because.as_deref(), Some("id kind similarity title"));
        assert_eq!(v["items"][0]["because"]["kind"], "paper");
        assert_eq!(v["items"][2]["because"]["kind"], "interest");
        assert_eq!(v["user"], "alice");
        assert!(v["query"].is_null() && v["paper"].is_null() && v["since"].is_null());
        assert_eq!(v["date"], "2026-05-29");
        assert_eq!(v["generated"], "2026-05-29T06:00:00Z");
        assert_eq!(v["items"][0]["score"].as_f64(), Some(0.3));
        assert_eq!(
            v["items"][0]["because"]["similarity"].as_f64(),
            Some(0.7123)
        );
        assert_eq!(v["items"][0]["listed"], "2026-05-29");
        assert_eq!(v["items"][0]["authors"].as_array().map(Vec::len), Some(12));
        assert_eq!(v["items"][1]["title"], awkward().items[1].title.as_str());
        assert!(v["items"][1]["because"].is_null() && v["items"][1]["url"].is_null());
        assert!(v["items"][2]["because"]["id"].is_null());
        assert!(out.contains("\"score\": 0.3,"), "no f32 noise: {out}");

        let mut odd = search("q");
        odd.items = vec![Item {
            score: f32::NAN,
            ..awkward().items[0].clone()
        }];
        let v: Value = serde_json::from_str(&render(&odd, Format::Json)).expect("JSON");
        assert_eq!(
            (&v["query"], &v["items"][0]["score"]),
            (&"q".into(), &Value::Null)
        );
        let similar = Subject::Similar {
            id: "2605.1".into(),
            title: "T".into(),
        };
        let v: Value =
            serde_json::from_str(&render(&with(similar, vec![]), Format::Json)).expect("JSON");
        assert_eq!(v["paper"], "2605.1");
        assert!(v["user"].is_null());
    }

    #[test]
    fn markdown_escapes_and_cuts() {
        let out = render(&awkward(), Format::Markdown);
        assert!(
            out.starts_with("# top 3 for alice on 2026-05-29\n\n"),
            "{out}"
        );
        assert!(
            out.contains("\nlisted on 2026-05-29 · generated 2026-05-29 06:00 UTC · 3 papers\n")
        );
        let first = concat!(
            "1. **[\\<script\\>alert(\"x\")\\</script\\> \\& 'q' \\[link\\](x) \\*b\\* \\_i\\_ ",
            "\\`c\\`](https://arxiv.org/abs/2605.00001)** — 2605.00001 · cs.LG, cs.AI · ",
            "score 0.30\\\n   Zoë Ünicode\\_1, Zoë Ünicode\\_2, Zoë Ünicode\\_3, Zoë Ünicode\\_4, ",
            "Zoë Ünicode\\_5 et al.\\\n   *Because you liked [Liked \\<b\\>paper\\</b\\> \\& co]",
            "(https://arxiv.org/abs/2604.11111): similarity 0.71*\n\n   We study",
        );
        assert!(out.contains(first), "{out}");
        let excerpt = out
            .lines()
            .find(|l| l.starts_with("   We study"))
            .expect("an excerpt");
        assert!(excerpt.ends_with("word We…") && excerpt.chars().count() <= 3 + EXCERPT);
        assert!(out.contains("2. **Très long titre"), "no link without url");
        assert!(out.contains("   A controlchar and a tab.\n"));
        assert!(out.contains("3. **Controlchar and \"quotes\"** — 2605.00003 · cs.LG"));
        assert!(out.contains("*Because of your interest \"graph neural networks \\& \\<b\\>\""));
        assert!(!out.contains("javascript") && !out.contains('\u{1}'));
    }

    #[test]
    fn html_escapes_and_links_only_http() {
        let out = render(&awkward(), Format::Html);
        assert!(out.starts_with("<!DOCTYPE html>\n") && out.ends_with("</html>\n"));
        assert!(out.contains("<meta charset=\"utf-8\">"));
        assert!(out.contains("<title>top 3 for alice on 2026-05-29</title>"));
        assert!(!out.contains("<script") && !out.contains("<b>") && !out.contains("javascript"));
        assert!(out.contains(
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; [link](x)"
        ));
        assert!(out.contains(concat!(
            "<p class=\"because\">Because you liked <a href=\"https://arxiv.org/abs/2604.11111\">",
            "Liked &lt;b&gt;paper&lt;/b&gt; &amp; co</a>: similarity 0.71</p>"
        )));
        assert!(out.contains("interest &quot;graph neural networks &amp; &lt;b&gt;&quot;"));
        assert!(out.contains("Zoë Ünicode_5 et al."));
        let hrefs: Vec<&str> = out.split("href=\"").skip(1).collect();
        assert_eq!(
            hrefs.len(),
            2,
            "the item with a url and one liked arXiv paper"
        );
        assert!(hrefs
            .iter()
            .all(|h| h.starts_with("https://arxiv.org/abs/")));
        assert!(!out.contains('\u{1}'));
        let empty = render(&search("<q>"), Format::Html);
        assert!(empty.contains("<h1>search: &quot;&lt;q&gt;&quot; on 2026-05-29</h1>"));
        assert!(empty.contains("<p>No papers.</p>"));
    }

    #[test]
    fn atom_feed_is_valid_rfc4287() {
        let out = render(&awkward(), Format::Atom);
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"));
        assert_eq!(validate_atom(&out), Ok(3), "{out}");
        assert!(out.contains("<id>urn:paperscout:recommend:alice</id>"));
        assert!(out.contains("<title>paperscout: recommendations for alice</title>"));
        assert!(out.contains("<updated>2026-05-29T06:00:00Z</updated>"));
        assert!(out.contains("<id>https://arxiv.org/abs/2605.00001</id>"));
        assert!(out.contains("<updated>2026-05-29T00:00:00Z</updated>"));
        assert!(out.contains("<id>urn:paperscout:paper:doi%3A10.1000%2Fx%20y</id>"));
        assert_eq!(out.matches("<author>").count(), 1 + FEED_AUTHORS);
        assert!(out.contains("<category term=\"cs.LG\"/>"));
        assert!(out.contains("Because you liked Liked &lt;b&gt;paper&lt;/b&gt; &amp; co: similarity 0.71.\n\nWe study"));
        assert!(!out.contains("javascript") && !out.contains('\u{1}'));

        let empty = render(&search("graph nets/über & \"more\""), Format::Atom);
        assert_eq!(validate_atom(&empty), Ok(0), "{empty}");
        assert!(empty.contains(
            "<id>urn:paperscout:search:graph%20nets%2F%C3%BCber%20%26%20%22more%22</id>"
        ));

        // Two items with one url still get distinct entry ids.
        let mut twice = awkward();
        twice.items[1].url = twice.items[0].url.clone();
        twice.items[2].id = "2605.00001".into();
        twice.items[2].url = None;
        let out = render(&twice, Format::Atom);
        assert_eq!(validate_atom(&out), Ok(3), "{out}");
    }

    const FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x:feed</id><title>T &amp; U</title>
<updated>2026-05-29T06:00:00Z</updated><author><name>a</name></author>
<entry><id>urn:x:1</id><title>One</title><updated>2026-05-29T00:00:00Z</updated>
<link href="https://example.org/1"/></entry>
<entry><id>urn:x:2</id><title>Two</title><updated>2026-05-29T00:00:00Z</updated>
<content type="text">c</content></entry></feed>"#;

    #[test]
    fn validate_atom_rejects_broken_feeds() {
        assert_eq!(validate_atom(FEED), Ok(2));
        let broken = [
            ("<id>urn:x:2</id>", "", "entry 2 has 0 <id>"),
            ("urn:x:2", "urn:x:1", "entry 2 repeats id"),
            ("06:00:00Z", "06:00", "not RFC 3339"),
            ("&amp;", "&", "not well-formed"),
            ("T &amp; U", "T & U; V", "unknown entity"),
            ("&amp;", "&nbsp;", "unknown entity"),
            ("</content>", "", "not well-formed"),
            ("</title>", "</tile>", "not well-formed"),
            ("urn:x:feed", "feed 1", "not an absolute IRI"),
            (
                "urn:x:2",
                "https://x.org/a[1]",
                "entry 2 id \"https://x.org/a[1]\" is not a valid IRI",
            ),
            ("urn:x:2", "urn:x:2#a#b", "more than one '#'"),
            ("urn:x:2", "urn:x:%zz", "is not allowed"),
            (
                "https://example.org/1",
                "https://example.org/a b",
                "entry 1 link",
            ),
            (
                "https://example.org/1",
                "https://example.org/{1}",
                "entry 1 link",
            ),
            ("2005/Atom", "2005/Atomic", "not an Atom <feed>"),
            (
                "<link href=\"https://example.org/1\"/>",
                "",
                "neither an alternate link",
            ),
            ("https://example.org/1", "", "a link without href"),
            ("<author><name>a</name></author>", "", "no author"),
            (
                "<title>One</title>",
                "<title>1</title><title>2</title>",
                "has 2 <title>",
            ),
            ("One", "O\u{1}ne", "not allowed in XML 1.0"),
            ("One", "O&#1;ne", "not allowed in XML 1.0"),
        ];
        for (from, to, why) in broken {
            let err = validate_atom(&FEED.replace(from, to));
            assert!(
                err.as_ref().is_err_and(|e| e.contains(why)),
                "{to}: {err:?}"
            );
        }
    }

    #[test]
    fn cutting_keeps_words_and_counts_chars() {
        assert_eq!(fit("ééééé", 5), "ééééé");
        assert_eq!(fit("éé ééé", 4), "éé…");
        assert_eq!(excerpt("alpha beta gamma", 12), "alpha beta…");
        assert_eq!(excerpt("alpha beta gamma", 10), "alpha beta…");
        assert_eq!(excerpt("abcdefghijkl", 5), "abcde…");
        assert_eq!(clean(" a\u{1}b \n\t c\u{FFFF} "), "ab c");
        assert_eq!(md("1. -x", true), "1\\. -x");
        assert_eq!(md("1. -x", false), "1. -x");
        assert_eq!(md("- x # y", true), "\\- x \\# y");
        assert_eq!(
            arxiv_url("hep-th/9901001v2").as_deref(),
            Some("https://arxiv.org/abs/hep-th/9901001v2")
        );
        assert_eq!(arxiv_url("10.1000/xyz"), None);
        assert_eq!(
            safe_url("HTTPS://x.org/a b(c)").as_deref(),
            Some("HTTPS://x.org/a%20b%28c%29")
        );
        assert_eq!(safe_url("data:text/html,x"), None);
        assert_eq!(safe_url("https:///x"), None);
    }
}
