//! `paperscout::fetch` against a stand-in for arXiv and Hugging Face started inside
//! each test: a small threaded HTTP server on 127.0.0.1 (port 0) that records every
//! request (time, path, query, headers) and answers with recorded real responses from
//! the repository's copy of `api-response-fixtures` (`tests/fixtures/api`), listing
//! feeds and OAI-PMH pages built here from real daily records (`tests/fixtures/fetch`),
//! and faults (503 with
//! Retry-After, 429, a reset connection, a stall past the timeout, a truncated body,
//! malformed XML, an HTML page with status 200, a dead port). Expected ids come from
//! the data the answers were built from, or were read off the fixtures by hand. No test
//! reaches any other address.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use paperscout::fetch::{FetchSettings, FetchState, Fetcher, ListingFlavour};
use paperscout::ingest::{self, Format};
use paperscout::Error;
use serde_json::Value;

use crate::common;

// ---- the stand-in server -------------------------------------------------------------

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    at: Instant,
    pub(crate) path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub(crate) enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Close the connection with the request unread: the kernel answers with a reset.
    Reset,
    /// Say nothing for this long, then close.
    Stall(Duration),
    /// Announce the whole body's length, send only the first `send` bytes, close.
    Truncated { body: Vec<u8>, send: usize },
}

pub(crate) fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.into(),
    }
}

pub(crate) fn status(code: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    Reply::Full {
        status: code,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

pub(crate) struct Stub {
    pub(crate) base: String,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Stub {
    /// Start a server; `handler(request, n)` answers, `n` counting from 0 the requests
    /// to the same path before this one.
    pub(crate) fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let server_log = Arc::clone(&log);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = Arc::clone(&server_log);
                let handler = Arc::clone(&handler);
                thread::spawn(move || serve(stream, &log, &*handler));
            }
        });
        Stub { base, log }
    }

    pub(crate) fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Req>>, handler: &Handler) {
    // Peek at the request head, so a reset can leave it unread.
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    let head_len = loop {
        let n = match stream.peek(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(p) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if Instant::now() > deadline {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    let req = Req {
        at: Instant::now(),
        path,
        query,
        headers,
    };
    let n = {
        let mut log = log.lock().unwrap();
        let n = log.iter().filter(|r| r.path == req.path).count();
        log.push(req.clone());
        n
    };
    let reply = handler(&req, n);
    if matches!(reply, Reply::Reset) {
        drop(stream); // the unread request makes this a reset
        return;
    }
    let mut consumed = vec![0u8; head_len];
    if stream.read_exact(&mut consumed).is_err() {
        return;
    }
    match reply {
        Reply::Reset => {}
        Reply::Stall(d) => thread::sleep(d),
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body);
        }
        Reply::Truncated { body, send } => {
            let out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body[..send.min(body.len())]);
        }
    }
    let _ = stream.flush();
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Settings pointing every endpoint at `stub`, with no spacing and short waits.
fn settings(stub: &Stub) -> FetchSettings {
    FetchSettings {
        arxiv_rss: stub.base.clone(),
        arxiv_oai: format!("{}/oai", stub.base),
        arxiv_api: format!("{}/api/query", stub.base),
        hf: stub.base.clone(),
        contact: Some("tests@example.org".into()),
        arxiv_interval: Duration::ZERO,
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        max_retries: 3,
        backoff: Duration::from_millis(20),
        ..FetchSettings::default()
    }
}

fn library() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(common::fixture(&format!("api/{rel}"))).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn fetch_err(e: Error) -> (String, String) {
    match e {
        Error::Fetch { url, message } => (url, message),
        other => panic!("expected a fetch error, got {other:?}"),
    }
}

fn ids(papers: &[paperscout::paper::Paper]) -> Vec<String> {
    papers.iter().map(|p| p.id.clone()).collect()
}

// ---- documents built from real records (tests/fixtures/fetch) ----------------------------------------

/// Records of the March 2026 daily corpus listed on `listing` with `category` among
/// their categories, in file order: the repository's copy of the 9 cs.IR papers of
/// 2026-03-10 (`tests/fixtures/fetch`, see its SOURCE.md).
fn march_records(listing: &str, category: &str) -> Vec<Value> {
    let path = common::fixture("fetch/arxiv_cs_2026-03-10_cs.IR.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["listing_date"] == listing)
        .filter(|v| {
            v["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == category)
        })
        .collect()
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

pub(crate) fn authors_of(v: &Value) -> Vec<String> {
    v["authors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn cats_of(v: &Value) -> Vec<String> {
    v["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// An arXiv RSS 2.0 listing of `records` for `category` on `pub_date` in the
/// current (2024+) format: `new` when the category is the primary one, else `cross`.
pub(crate) fn rss_listing(records: &[Value], category: &str, pub_date: &str) -> String {
    let mut items = String::new();
    for r in records {
        let id = str_of(r, "id");
        let kind = if cats_of(r)[0] == category {
            "new"
        } else {
            "cross"
        };
        let cats: String = cats_of(r)
            .iter()
            .map(|c| format!("<category>{c}</category>"))
            .collect();
        items.push_str(&format!(
            "<item><title>{}</title><link>https://arxiv.org/abs/{id}</link><description>arXiv:{id}v1 Announce Type: {kind} \nAbstract: {}</description><guid isPermaLink=\"false\">oai:arXiv.org:{id}v1</guid>{cats}<pubDate>{pub_date}</pubDate><arxiv:announce_type>{kind}</arxiv:announce_type><dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights><dc:creator>{}</dc:creator></item>\n",
            esc(&str_of(r, "title")),
            esc(&str_of(r, "summary")),
            esc(&authors_of(r).join(", ")),
        ));
    }
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<rss xmlns:arxiv=\"http://arxiv.org/schemas/atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" version=\"2.0\">\n<channel><title>{category} updates on arXiv.org</title><link>http://rss.arxiv.org/rss/{category}</link><description>{category} updates on the arXiv.org e-print archive.</description><docs>http://www.rssboard.org/rss-specification</docs><language>en-us</language><lastBuildDate>{pub_date}</lastBuildDate><managingEditor>rss-help@arxiv.org</managingEditor><pubDate>{pub_date}</pubDate><skipDays><day>Saturday</day><day>Sunday</day></skipDays>\n{items}</channel></rss>\n"
    )
}

/// An arXiv Atom listing of `records` (the feed's `updated` on `day`).
fn atom_listing(records: &[Value], category: &str, day: &str) -> String {
    let mut entries = String::new();
    for r in records {
        let id = str_of(r, "id");
        let kind = if cats_of(r)[0] == category {
            "new"
        } else {
            "cross"
        };
        let cats: String = cats_of(r)
            .iter()
            .map(|c| format!("<category term=\"{c}\" scheme=\"http://arxiv.org/schemas/atom\"/>"))
            .collect();
        entries.push_str(&format!(
            "<entry><id>oai:arXiv.org:{id}v1</id><title>{}</title><updated>{day}T04:00:00.000000+00:00</updated><link href=\"https://arxiv.org/abs/{id}\" rel=\"alternate\" type=\"text/html\"/><summary>arXiv:{id}v1 Announce Type: {kind}\nAbstract: {}</summary>{cats}<published>{day}T00:00:00-04:00</published><arxiv:announce_type>{kind}</arxiv:announce_type><dc:creator>{}</dc:creator></entry>\n",
            esc(&str_of(r, "title")),
            esc(&str_of(r, "summary")),
            esc(&authors_of(r).join(", ")),
        ));
    }
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:arxiv=\"http://arxiv.org/schemas/atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en-us\"><id>http://rss.arxiv.org/atom/{category}</id><title>{category} updates on arXiv.org</title><updated>{day}T04:00:00.000000+00:00</updated>\n{entries}</feed>\n"
    )
}

/// An arXiv API (Atom) answer holding `records`.
pub(crate) fn api_answer(records: &[&Value]) -> String {
    let mut entries = String::new();
    for r in records {
        let id = str_of(r, "id");
        let authors: String = authors_of(r)
            .iter()
            .map(|a| format!("<author><name>{}</name></author>", esc(a)))
            .collect();
        let cats = cats_of(r);
        let cat_tags: String = cats
            .iter()
            .map(|c| format!("<category term=\"{c}\"/>"))
            .collect();
        entries.push_str(&format!(
            "<entry><id>http://arxiv.org/abs/{id}v1</id><title>{}</title><updated>2026-03-09T17:00:00Z</updated><link href=\"https://arxiv.org/abs/{id}v1\" rel=\"alternate\" type=\"text/html\"/><summary>{}</summary>{authors}<arxiv:primary_category term=\"{}\"/>{cat_tags}<published>2026-03-09T17:00:00Z</published></entry>\n",
            esc(&str_of(r, "title")),
            esc(&str_of(r, "summary")),
            cats[0],
        ));
    }
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" xmlns:arxiv=\"http://arxiv.org/schemas/atom\"><id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>2026-03-10T00:00:00Z</updated><opensearch:totalResults>{}</opensearch:totalResults>\n{entries}</feed>\n",
        records.len()
    )
}

/// An OAI-PMH ListRecords page of `records` (datestamps as given), with deleted
/// headers for `deleted`, and `token` (empty: the last page).
fn oai_page(records: &[(&Value, &str)], deleted: &[(&str, &str)], token: &str) -> String {
    let mut body = String::new();
    for (r, stamp) in records {
        let id = str_of(r, "id");
        let authors: String = authors_of(r)
            .iter()
            .map(|a| match a.rsplit_once(' ') {
                Some((first, last)) => format!(
                    "<author><keyname>{}</keyname><forenames>{}</forenames></author>",
                    esc(last),
                    esc(first)
                ),
                None => format!("<author><keyname>{}</keyname></author>", esc(a)),
            })
            .collect();
        body.push_str(&format!(
            "<record><header><identifier>oai:arXiv.org:{id}</identifier><datestamp>{stamp}</datestamp><setSpec>cs</setSpec></header><metadata><arXiv xmlns=\"http://arxiv.org/OAI/arXiv/\"><id>{id}</id><created>2026-03-09</created><authors>{authors}</authors><title>{}</title><categories>{}</categories><abstract>{}</abstract></arXiv></metadata></record>\n",
            esc(&str_of(r, "title")),
            cats_of(r).join(" "),
            esc(&str_of(r, "summary")),
        ));
    }
    for (id, stamp) in deleted {
        body.push_str(&format!(
            "<record><header status=\"deleted\"><identifier>oai:arXiv.org:{id}</identifier><datestamp>{stamp}</datestamp><setSpec>cs</setSpec></header></record>\n"
        ));
    }
    let token = if token.is_empty() {
        "<resumptionToken cursor=\"0\" completeListSize=\"9\"/>".to_string()
    } else {
        format!("<resumptionToken cursor=\"0\" completeListSize=\"9\">{token}</resumptionToken>")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><responseDate>2026-03-11T10:00:00Z</responseDate><request verb=\"ListRecords\">https://oaipmh.arxiv.org/oai</request><ListRecords>\n{body}{token}</ListRecords></OAI-PMH>\n"
    )
}

const NO_RECORDS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><responseDate>2026-03-12T10:00:00Z</responseDate><request verb=\"ListRecords\">https://oaipmh.arxiv.org/oai</request><error code=\"noRecordsMatch\">The combination of the values of the from, until, set and metadataPrefix arguments results in an empty list.</error></OAI-PMH>";

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>arXiv is temporarily unavailable</title></head><body><h1>Maintenance</h1></body></html>";

fn cs_ir() -> Vec<String> {
    vec!["cs.IR".to_string()]
}

// ---- listing feeds -------------------------------------------------------------------

#[test]
fn listing_rss_recorded_feed_splits_new_from_replacements() {
    let body = fixture("laya-reader/arxiv_rss.xml");
    let stub = Stub::start(move |req, _| {
        if req.path == "/rss/cs.LG+cs.AI+cs.CL+stat.ML" {
            ok("application/rss+xml", body.clone())
        } else {
            status(404, &[], "no such feed")
        }
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let cats: Vec<String> = ["cs.LG", "cs.AI", "cs.CL", "stat.ML"]
        .map(String::from)
        .to_vec();
    let listing = f.fetch_listing(&cats, ListingFlavour::Rss).unwrap();
    // The fixture's guids and announce types, read off the file.
    assert_eq!(
        ids(&listing.papers),
        ["2609.26811", "2609.26820", "2205.06398"]
    );
    assert_eq!(ids(&listing.updates), ["2009.13987"]);
    assert!(listing.skipped.is_empty(), "{:?}", listing.skipped);
    assert_eq!(listing.day, Some(day(2026, 9, 24)));
    assert!(listing
        .papers
        .iter()
        .all(|p| p.listed == Some(day(2026, 9, 24))));
    assert_eq!(listing.updates[0].listed, None);
    assert!(!listing.not_modified);
    // The raw answer is kept byte for byte, under the library, and replays through ingest.
    assert!(listing.raw.starts_with(lib.path().join("fetch/raw")));
    assert_eq!(
        std::fs::read(&listing.raw).unwrap(),
        fixture("laya-reader/arxiv_rss.xml")
    );
    let replayed: Vec<String> = ingest::read(&listing.raw, None)
        .unwrap()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(replayed.len(), 4);
    // The User-Agent names paperscout and the contact.
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let ua = reqs[0].header("user-agent").unwrap();
    assert_eq!(
        ua,
        format!(
            "paperscout/{} (+mailto:tests@example.org)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn listing_built_from_daily_records_in_both_flavours() {
    let records = march_records("2026-03-10", "cs.IR");
    assert_eq!(
        records.len(),
        9,
        "the corpus has 9 cs.IR papers listed 2026-03-10"
    );
    let want: BTreeSet<String> = records.iter().map(|r| str_of(r, "id")).collect();
    let rss = rss_listing(&records, "cs.IR", "Tue, 10 Mar 2026 00:00:00 -0400");
    let atom = atom_listing(&records, "cs.IR", "2026-03-10");
    let stub = Stub::start(move |req, _| match req.path.as_str() {
        "/rss/cs.IR" => ok("application/rss+xml", rss.clone()),
        "/atom/cs.IR" => ok("application/atom+xml", atom.clone()),
        _ => status(404, &[], ""),
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    for flavour in [ListingFlavour::Rss, ListingFlavour::Atom] {
        let listing = f.fetch_listing(&cs_ir(), flavour).unwrap();
        let got: BTreeSet<String> = ids(&listing.papers).into_iter().collect();
        assert_eq!(got, want, "{flavour:?}");
        assert_eq!(listing.day, Some(day(2026, 3, 10)), "{flavour:?}");
        for p in &listing.papers {
            let r = records.iter().find(|r| str_of(r, "id") == p.id).unwrap();
            assert_eq!(
                p.title,
                paperscout::paper::collapse_whitespace(&str_of(r, "title"))
            );
            assert_eq!(p.authors, authors_of(r));
            assert_eq!(p.categories, cats_of(r));
            assert_eq!(p.listed, Some(day(2026, 3, 10)));
            let kind = if cats_of(r)[0] == "cs.IR" {
                "new"
            } else {
                "cross"
            };
            assert_eq!(p.announce_type.as_deref(), Some(kind));
        }
    }
    let paths: Vec<String> = stub.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/rss/cs.IR", "/atom/cs.IR"]);
}

#[test]
fn empty_listing_on_a_weekend_is_not_an_error() {
    let feed = rss_listing(&[], "cs.IR", "Sat, 14 Mar 2026 00:00:00 -0400");
    let stub = Stub::start(move |_, _| ok("application/rss+xml", feed.clone()));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let listing = f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap();
    assert!(listing.papers.is_empty() && listing.updates.is_empty());
    assert!(listing.skipped.is_empty());
    assert_eq!(listing.day, Some(day(2026, 3, 14)));
}

#[test]
fn bad_categories_are_refused_before_any_request() {
    let stub = Stub::start(|_, _| status(500, &[], ""));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    for cats in [
        vec![],
        vec!["cs.IR/../x".to_string()],
        vec![" ".to_string()],
    ] {
        let e = f.fetch_listing(&cats, ListingFlavour::Rss).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
    }
    assert!(stub.requests().is_empty());
}

// ---- faults: each retried, or a located error ------------------------------------------

/// A stand-in whose listing answers `fault` to the first request and the built feed
/// afterwards; returns the papers fetched and the requests seen.
fn listing_after(
    fault: impl Fn() -> Reply + Send + Sync + 'static,
    s: impl Fn(&mut FetchSettings),
) -> (
    Result<paperscout::fetch::Listing, Error>,
    Vec<Req>,
    tempfile::TempDir,
) {
    let records = march_records("2026-03-10", "cs.IR");
    let feed = rss_listing(&records, "cs.IR", "Tue, 10 Mar 2026 00:00:00 -0400");
    let stub = Stub::start(move |_, n| {
        if n == 0 {
            fault()
        } else {
            ok("application/rss+xml", feed.clone())
        }
    });
    let lib = library();
    let mut settings = settings(&stub);
    s(&mut settings);
    let mut f = Fetcher::new(lib.path(), settings).unwrap();
    let result = f.fetch_listing(&cs_ir(), ListingFlavour::Rss);
    (result, stub.requests(), lib)
}

#[test]
fn a_503_with_retry_after_is_waited_for_and_retried() {
    let (result, reqs, _lib) = listing_after(
        || status(503, &[("Retry-After", "1")], "Service Unavailable"),
        |_| {},
    );
    let listing = result.unwrap();
    assert_eq!(listing.papers.len(), 9);
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honoured, gap {gap:?}"
    );
}

#[test]
fn a_429_is_retried_after_an_http_date() {
    // A Retry-After date in the past means "now".
    let (result, reqs, _lib) = listing_after(
        || {
            status(
                429,
                &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
                "slow down",
            )
        },
        |_| {},
    );
    assert_eq!(result.unwrap().papers.len(), 9);
    assert_eq!(reqs.len(), 2);
}

#[test]
fn a_reset_connection_is_retried() {
    let (result, reqs, _lib) = listing_after(|| Reply::Reset, |_| {});
    assert_eq!(result.unwrap().papers.len(), 9);
    assert_eq!(reqs.len(), 2);
}

#[test]
fn a_stall_past_the_timeout_is_retried() {
    let (result, reqs, _lib) = listing_after(
        || Reply::Stall(Duration::from_secs(4)),
        |s| s.timeout = Duration::from_millis(600),
    );
    assert_eq!(result.unwrap().papers.len(), 9);
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(600));
}

#[test]
fn a_truncated_body_is_retried() {
    let records = march_records("2026-03-10", "cs.IR");
    let feed = rss_listing(&records, "cs.IR", "Tue, 10 Mar 2026 00:00:00 -0400");
    let (result, reqs, _lib) = listing_after(
        move || Reply::Truncated {
            body: feed.clone().into_bytes(),
            send: 3000,
        },
        |_| {},
    );
    assert_eq!(result.unwrap().papers.len(), 9);
    assert_eq!(reqs.len(), 2);
}

#[test]
fn malformed_xml_loses_only_its_broken_entries_each_located_and_is_not_retried() {
    let records = march_records("2026-03-10", "cs.IR");
    let feed = rss_listing(&records, "cs.IR", "Tue, 10 Mar 2026 00:00:00 -0400");
    // Closing tags that do not match: the channel's title and the first two items'.
    let broken = feed.replacen("</title><link>", "</titel><link>", 3);
    let stub = Stub::start(move |_, _| ok("application/rss+xml", broken.clone()));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let listing = f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap();
    // Reading goes on at the next entry (issue 10, item 7): only the broken two are lost.
    assert_eq!(
        listing.papers.len() + listing.updates.len(),
        records.len() - 2
    );
    assert_eq!(listing.skipped.len(), 3, "{:?}", listing.skipped);
    for s in &listing.skipped {
        assert!(s.contains("not well-formed XML at line"), "{s}");
        assert!(s.starts_with(&listing.raw.display().to_string()), "{s}");
    }
    assert!(listing.raw.is_file());
    assert_eq!(
        stub.requests().len(),
        1,
        "a broken document is not asked again"
    );
}

#[test]
fn an_html_page_with_status_200_is_a_located_error() {
    let stub = Stub::start(|_, _| ok("text/html; charset=utf-8", HTML_PAGE));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (url, message) = fetch_err(f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap_err());
    assert!(url.ends_with("/rss/cs.IR"), "{url}");
    assert!(message.contains("expected XML"), "{message}");
    assert!(
        message.contains("HTML page titled `arXiv is temporarily unavailable`"),
        "{message}"
    );
    // Served as XML, still an HTML page; for JSON too.
    let stub = Stub::start(|_, _| ok("application/json", HTML_PAGE));
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (_, message) = fetch_err(f.fetch_hf(day(2026, 3, 10)).unwrap_err());
    assert!(message.contains("expected JSON"), "{message}");
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn a_dead_host_ends_with_a_clear_error_naming_the_url() {
    // A port nothing listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let lib = library();
    let s = FetchSettings {
        arxiv_rss: format!("http://127.0.0.1:{port}"),
        max_retries: 2,
        backoff: Duration::from_millis(10),
        arxiv_interval: Duration::ZERO,
        ..FetchSettings::default()
    };
    let mut f = Fetcher::new(lib.path(), s).unwrap();
    let (url, message) = fetch_err(f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap_err());
    assert_eq!(url, format!("http://127.0.0.1:{port}/rss/cs.IR"));
    assert!(message.contains("gave up after 3 attempts"), "{message}");
}

#[test]
fn persistent_5xx_gives_up_and_a_long_retry_after_ends_at_once() {
    let stub = Stub::start(|req, _| {
        if req.path.starts_with("/rss") {
            status(502, &[], "Bad Gateway")
        } else {
            status(503, &[("Retry-After", "3600")], "")
        }
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (_, message) = fetch_err(f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap_err());
    assert!(
        message.starts_with("HTTP 502 Bad Gateway: Bad Gateway; gave up after 4 attempts"),
        "{message}"
    );
    let (_, message) = fetch_err(f.fetch_hf(day(2026, 3, 10)).unwrap_err());
    assert!(message.contains("retry after 3600 s"), "{message}");
    let hf_requests = stub
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api"))
        .count();
    assert_eq!(hf_requests, 1);
    // A 404 is not retried.
    let stub = Stub::start(|_, _| status(404, &[], "no such page"));
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (_, message) = fetch_err(f.fetch_listing(&cs_ir(), ListingFlavour::Rss).unwrap_err());
    assert_eq!(message, "HTTP 404 Not Found: no such page");
    assert_eq!(stub.requests().len(), 1);
}

// ---- politeness ------------------------------------------------------------------------

#[test]
fn requests_to_one_arxiv_host_are_spaced() {
    let records = march_records("2026-03-10", "cs.IR");
    let answer = api_answer(&records.iter().collect::<Vec<_>>());
    let stub = Stub::start(move |_, _| ok("application/atom+xml", answer.clone()));
    let lib = library();
    let mut s = settings(&stub);
    s.arxiv_interval = Duration::from_millis(200);
    s.api_batch = 3;
    let mut f = Fetcher::new(lib.path(), s).unwrap();
    let wanted: Vec<String> = records.iter().map(|r| str_of(r, "id")).collect();
    let got = f.fetch_ids(&wanted).unwrap();
    assert_eq!(got.papers.len(), 9);
    // Three batches, then the listing: four requests to one host.
    let _ = f.fetch_listing(&cs_ir(), ListingFlavour::Rss);
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 4);
    for pair in reqs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(200), "gap {gap:?}");
    }
}

// ---- conditional requests ----------------------------------------------------------------

#[test]
fn etag_and_last_modified_round_trip_to_a_304() {
    let records = march_records("2026-03-10", "cs.IR");
    let feed = rss_listing(&records, "cs.IR", "Tue, 10 Mar 2026 00:00:00 -0400");
    let etag = "\"listing-2026-03-10\"";
    let modified = "Tue, 10 Mar 2026 04:00:00 GMT";
    let stub = Stub::start(move |req, _| {
        if req.header("if-none-match") == Some(etag) {
            Reply::Full {
                status: 304,
                headers: vec![],
                body: vec![],
            }
        } else {
            Reply::Full {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/rss+xml".into()),
                    ("ETag".into(), etag.into()),
                    ("Last-Modified".into(), modified.into()),
                ],
                body: feed.clone().into_bytes(),
            }
        }
    });
    let lib = library();
    let first = Fetcher::new(lib.path(), settings(&stub))
        .unwrap()
        .fetch_listing(&cs_ir(), ListingFlavour::Rss)
        .unwrap();
    assert!(!first.not_modified);
    // A new run (the validators come from the state file).
    let state = FetchState::load(lib.path()).unwrap();
    let mark = &state.validators[&format!("{}/rss/cs.IR", stub.base)];
    assert_eq!(mark.etag.as_deref(), Some(etag));
    let second = Fetcher::new(lib.path(), settings(&stub))
        .unwrap()
        .fetch_listing(&cs_ir(), ListingFlavour::Rss)
        .unwrap();
    assert!(second.not_modified);
    assert_eq!(ids(&second.papers), ids(&first.papers));
    assert_eq!(second.raw, first.raw);
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("if-none-match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some(etag));
    assert_eq!(reqs[1].header("if-modified-since"), Some(modified));
    // Without the kept answer, the validators are not sent: a full answer comes.
    std::fs::remove_file(&first.raw).unwrap();
    let third = Fetcher::new(lib.path(), settings(&stub))
        .unwrap()
        .fetch_listing(&cs_ir(), ListingFlavour::Rss)
        .unwrap();
    assert!(!third.not_modified);
    assert_eq!(third.papers.len(), 9);
    assert_eq!(stub.requests()[2].header("if-none-match"), None);
}

// ---- OAI-PMH ---------------------------------------------------------------------------

#[test]
fn oai_harvest_follows_tokens_and_next_run_starts_at_the_high_water_mark() {
    let records = march_records("2026-03-10", "cs.IR");
    let r: Vec<&Value> = records.iter().collect();
    let page1 = oai_page(
        &[
            (r[0], "2026-03-09"),
            (r[1], "2026-03-09"),
            (r[2], "2026-03-10"),
        ],
        &[],
        "t|2",
    );
    let page2 = oai_page(
        &[(r[3], "2026-03-10"), (r[4], "2026-03-10")],
        &[("2601.00007", "2026-03-11")],
        "t|3",
    );
    let page3 = oai_page(
        &[
            (r[5], "2026-03-10"),
            (r[6], "2026-03-10"),
            (r[7], "2026-03-10"),
            (r[8], "2026-03-09"),
        ],
        &[],
        "",
    );
    let stub = Stub::start(move |req, _| {
        if req.path != "/oai" {
            return status(404, &[], "");
        }
        match (req.param("resumptionToken"), req.param("from")) {
            (Some("t|2"), _) => ok("text/xml", page2.clone()),
            (Some("t|3"), _) => ok("text/xml", page3.clone()),
            (Some(_), _) => status(400, &[], "bad token"),
            (None, Some("2026-03-11")) => ok("text/xml", NO_RECORDS),
            (None, _) => ok("text/xml", page1.clone()),
        }
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let h = f.harvest("cs", None, Some(day(2026, 3, 31))).unwrap();
    let want: Vec<String> = records.iter().map(|r| str_of(r, "id")).collect();
    assert_eq!(ids(&h.papers), want);
    assert_eq!(h.deleted, ["2601.00007"]);
    assert_eq!(h.pages, 3);
    assert_eq!(h.raw.len(), 3);
    assert_eq!(h.high_water, Some(day(2026, 3, 11)));
    assert!(h
        .papers
        .iter()
        .all(|p| p.listed.is_none() && p.source == "arxiv-oai"));
    let p0 = &h.papers[0];
    assert_eq!(p0.authors, authors_of(r[0]));
    assert_eq!(p0.categories, cats_of(r[0]));
    let reqs = stub.requests();
    assert_eq!(reqs[0].param("verb"), Some("ListRecords"));
    assert_eq!(reqs[0].param("metadataPrefix"), Some("arXiv"));
    assert_eq!(reqs[0].param("set"), Some("cs"));
    assert_eq!(reqs[0].param("from"), None);
    assert_eq!(reqs[0].param("until"), Some("2026-03-31"));
    // Token pages carry the token and the verb only (OAI-PMH: the token is exclusive).
    assert_eq!(reqs[1].param("resumptionToken"), Some("t|2"));
    assert_eq!(reqs[1].param("metadataPrefix"), None);
    assert_eq!(reqs[2].param("resumptionToken"), Some("t|3"));
    // Not committed: the state has no mark yet.
    assert_eq!(FetchState::load(lib.path()).unwrap().high_water("cs"), None);
    f.commit_harvest(&h).unwrap();
    assert_eq!(
        FetchState::load(lib.path()).unwrap().high_water("cs"),
        Some(day(2026, 3, 11))
    );
    // The next run asks only from the mark; noRecordsMatch is "nothing new".
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let h2 = f.harvest("cs", None, None).unwrap();
    assert!(h2.papers.is_empty() && h2.deleted.is_empty());
    assert_eq!(h2.from, Some(day(2026, 3, 11)));
    assert_eq!(h2.high_water, None);
    let last = stub.requests().pop().unwrap();
    assert_eq!(last.param("from"), Some("2026-03-11"));
    // Every page replays through ingest as `arxiv-oai`.
    let replayed: usize = h
        .raw
        .iter()
        .map(|p| {
            let records = ingest::read(p, None).unwrap();
            assert_eq!(records.format(), Format::ArxivOai);
            records.collect::<Result<Vec<_>, _>>().unwrap().len()
        })
        .sum();
    assert_eq!(replayed, 9);
}

#[test]
fn oai_recorded_page_and_flow_control() {
    let page = fixture("oai-pmh/arxiv_listrecords_page.xml");
    let last = oai_page(&[], &[], "");
    let stub = Stub::start(move |req, n| match req.param("resumptionToken") {
        // arXiv's flow control: the first request is told to come back in a second.
        None if n == 0 => status(
            503,
            &[("Retry-After", "1")],
            "Retry after specified interval",
        ),
        None => ok("text/xml", page.clone()),
        Some("788421|43001") => ok("text/xml", last.clone()),
        Some(_) => status(400, &[], ""),
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let h = f
        .harvest("physics:cond-mat", Some(day(2007, 12, 1)), None)
        .unwrap();
    // Read off the fixture: two records, their first authors and DOIs.
    assert_eq!(ids(&h.papers), ["0712.4079", "0712.4080"]);
    assert_eq!(h.papers[0].authors[0], "Mauro M. Doria");
    assert_eq!(h.papers[1].doi.as_deref(), Some("10.1063/1.2828029"));
    assert_eq!(h.papers[0].published, Some(day(2007, 12, 25)));
    assert_eq!(h.high_water, Some(day(2009, 11, 13)));
    assert_eq!(h.pages, 2);
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(950));
    assert_eq!(reqs[1].param("set"), Some("physics:cond-mat"));
    assert_eq!(reqs[1].param("from"), Some("2007-12-01"));
}

#[test]
fn oai_protocol_errors_are_located() {
    let stub = Stub::start(|_, _| {
        ok(
            "text/xml",
            "<?xml version=\"1.0\"?><OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><error code=\"badResumptionToken\">The token is expired</error></OAI-PMH>",
        )
    });
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (url, message) = fetch_err(f.harvest("cs", None, None).unwrap_err());
    assert!(url.contains("verb=ListRecords"), "{url}");
    assert!(
        message.starts_with(
            "OAI-PMH error `badResumptionToken`: The token is expired (the answer is kept in "
        ),
        "{message}"
    );
    assert!(f.harvest("cs or not", None, None).is_err());
    let e = f
        .harvest("cs", Some(day(2026, 3, 2)), Some(day(2026, 3, 1)))
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

#[test]
fn oai_repeated_token_stops_instead_of_looping() {
    let records = march_records("2026-03-10", "cs.IR");
    let page = oai_page(&[(&records[0], "2026-03-10")], &[], "same");
    let stub = Stub::start(move |_, _| ok("text/xml", page.clone()));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (_, message) = fetch_err(f.harvest("cs", None, None).unwrap_err());
    assert!(
        message.contains("resumption token `same` a second time"),
        "{message}"
    );
    assert_eq!(stub.requests().len(), 2);
}

// ---- the arXiv API by id -----------------------------------------------------------------

#[test]
fn api_ids_in_batches_with_missing_and_invalid_ids() {
    let records = march_records("2026-03-10", "cs.IR");
    let by_id: Vec<(String, Value)> = records
        .iter()
        .map(|r| (str_of(r, "id"), r.clone()))
        .collect();
    let stub = Stub::start(move |req, _| {
        let list = req.param("id_list").unwrap_or("");
        let found: Vec<&Value> = list
            .split(',')
            .filter_map(|id| by_id.iter().find(|(i, _)| i == id).map(|(_, v)| v))
            .collect();
        ok("application/atom+xml", api_answer(&found))
    });
    let lib = library();
    let mut s = settings(&stub);
    s.api_batch = 4;
    let mut f = Fetcher::new(lib.path(), s).unwrap();
    let mut wanted: Vec<String> = records.iter().map(|r| str_of(r, "id")).collect();
    wanted[0] = format!("arXiv:{}v2", wanted[0]); // a version and a prefix
    wanted.push("2603.99999".into()); // not on the stand-in
    wanted.push("not-an-id".into());
    wanted.push(str_of(&records[1], "id")); // a duplicate
    let got = f.fetch_ids(&wanted).unwrap();
    let want: Vec<String> = records.iter().map(|r| str_of(r, "id")).collect();
    assert_eq!(ids(&got.papers), want);
    assert_eq!(got.missing, ["2603.99999"]);
    assert_eq!(got.invalid, ["not-an-id"]);
    assert_eq!(got.raw.len(), 3);
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 3, "10 distinct ids in batches of 4");
    assert_eq!(reqs[0].path, "/api/query");
    assert_eq!(reqs[0].param("max_results"), Some("4"));
    let first: Vec<&str> = reqs[0].param("id_list").unwrap().split(',').collect();
    assert_eq!(first[0], str_of(&records[0], "id"));
    assert_eq!(first.len(), 4);
}

#[test]
fn api_error_entry_for_an_id_is_reported_missing() {
    // The arXiv API's answer to an id it cannot serve: one error entry.
    let answer = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>https://arxiv.org/api/x</id><title>arXiv Query</title><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_2603.99999</id><title>Error</title><summary>incorrect id format for 2603.99999</summary><updated>2026-03-10T00:00:00-05:00</updated><link href=\"http://arxiv.org/api/errors#incorrect_id_format_for_2603.99999\" rel=\"alternate\" type=\"text/html\"/><author><name>arXiv api core</name></author></entry></feed>";
    let stub = Stub::start(move |_, _| ok("application/atom+xml", answer));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let got = f.fetch_ids(&["2603.99999".to_string()]).unwrap();
    assert!(got.papers.is_empty());
    assert_eq!(got.missing, ["2603.99999"]);
    assert_eq!(got.skipped.len(), 1);
    assert!(
        got.skipped[0].contains("incorrect id format for 2603.99999"),
        "{:?}",
        got.skipped
    );
}

#[test]
fn api_recorded_answer() {
    let body = fixture("laya-reader/arxiv_3.xml");
    let stub = Stub::start(move |_, _| ok("application/atom+xml", body.clone()));
    let lib = library();
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let wanted = ["2609.28471", "2609.28449", "2609.28442"].map(String::from);
    let got = f.fetch_ids(&wanted).unwrap();
    assert_eq!(ids(&got.papers), wanted);
    assert!(got.missing.is_empty());
    assert!(got
        .papers
        .iter()
        .all(|p| p.source == "arxiv-atom" && !p.abstract_text.is_empty()));
}

// ---- Hugging Face ------------------------------------------------------------------------

#[test]
fn hf_daily_papers_recorded_answer() {
    let body = fixture("sotawhat/hf_daily_papers.json");
    let stub = Stub::start(move |req, _| {
        if req.path == "/api/daily_papers" && req.param("date") == Some("2026-06-12") {
            ok("application/json; charset=utf-8", body.clone())
        } else {
            status(404, &[], "{\"error\":\"not found\"}")
        }
    });
    let lib = library();
    let mut s = settings(&stub);
    s.hf = format!("{}/", stub.base); // a trailing slash on the base is fine
    let mut f = Fetcher::new(lib.path(), s).unwrap();
    let got = f.fetch_hf(day(2026, 6, 12)).unwrap();
    assert_eq!(got.papers.len(), 30, "SOURCE.md: a JSON array of 30 items");
    assert!(got.skipped.is_empty(), "{:?}", got.skipped);
    assert_eq!(got.papers[0].id, "2606.00467");
    assert_eq!(got.papers[0].listed, Some(day(2026, 6, 12)));
    assert!(got.raw.extension().is_some_and(|e| e == "json"));
    // Truncated JSON that the server sends whole (no HTTP-level clue) is a located error.
    let cut = fixture("sotawhat/hf_daily_papers.json")[..5000].to_vec();
    let stub = Stub::start(move |_, _| ok("application/json", cut.clone()));
    let mut f = Fetcher::new(lib.path(), settings(&stub)).unwrap();
    let (_, message) = fetch_err(f.fetch_hf(day(2026, 6, 12)).unwrap_err());
    assert!(message.starts_with("not valid JSON at line"), "{message}");
}

// ---- settings ----------------------------------------------------------------------------

#[test]
fn endpoints_come_from_the_environment() {
    // Only this test sets these variables; nothing else in the suite reads them.
    let vars = [
        ("PAPERSCOUT_ARXIV_RSS_URL", "http://127.0.0.1:1/rss-mirror"),
        ("PAPERSCOUT_ARXIV_OAI_URL", "http://127.0.0.1:1/oai2"),
        ("PAPERSCOUT_ARXIV_API_URL", "http://127.0.0.1:1/api/query"),
        ("PAPERSCOUT_HF_URL", "http://127.0.0.1:2"),
    ];
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let mut s = FetchSettings::default();
    s.apply_env();
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    assert_eq!(s.arxiv_rss, "http://127.0.0.1:1/rss-mirror");
    assert_eq!(s.arxiv_oai, "http://127.0.0.1:1/oai2");
    assert_eq!(s.arxiv_api, "http://127.0.0.1:1/api/query");
    assert_eq!(s.hf, "http://127.0.0.1:2");
    let d = FetchSettings::default();
    assert_eq!(d.arxiv_interval, Duration::from_secs(3));
}

#[test]
fn a_broken_state_file_is_an_error_naming_it() {
    let lib = library();
    std::fs::create_dir_all(lib.path().join("fetch")).unwrap();
    std::fs::write(
        lib.path().join("fetch/state.json"),
        "{\"version\": 1, \"oai\": [",
    )
    .unwrap();
    let e = FetchState::load(lib.path()).unwrap_err().to_string();
    assert!(e.contains("fetch/state.json"), "{e}");
    assert!(e.contains("not a fetch state file"), "{e}");
    let _: PathBuf = FetchState::path(lib.path());
}
