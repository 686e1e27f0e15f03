//! Reading papers from files: one reader per source format, all yielding
//! [`Paper`] records, and detection of the format from a file's content. Storing,
//! deduplicating and embedding papers is not done here (`library` does it): a reader
//! yields every record it finds, duplicated ids included, in file order.
//!
//! [`read`] returns [`Records`], an iterator of `Result<Paper>`: a bad record is an
//! [`Error::Input`] naming the file, the 1-based line (for JSON Lines, CSV and XML: the
//! line of the element or row at fault, the message starting `entry N: ` for XML) or
//! the entry number (for a JSON document) and what was expected, and reading goes on
//! with the next record, so a caller can skip and count bad records or stop at the
//! first. A malformed XML entry (or a NUL byte in it) is one bad record and reading goes
//! on at the next entry's start tag; a CSV quote left open is one bad row and reading
//! goes on at the line after the row's first; a syntax error in a JSON document ends it
//! after the entries read before it, and an I/O error ends any file. Every message that
//! quotes input passes through [`crate::render::terminal_safe`]. `read` itself fails
//! only when the file cannot be opened, its format cannot be told, a CSV header lacks
//! the needed columns, or a document is too large or not UTF-8. JSON Lines and CSV
//! files stream with memory bounded by the largest record (at most 16 MiB, a longer one
//! is a bad record); XML and JSON documents are read whole (at most 256 MiB).
//!
//! Every format fills the same fields: `id` (canonical, see [`canonical_id`]), `title`
//! (whitespace collapsed), `abstract` (trimmed; line breaks and LaTeX kept), `authors`,
//! `categories` (primary first), `listed` (the day the source listed the paper),
//! `published` (v1) and `updated` (latest version), `url`, `doi`, `announce_type`, and
//! `source`, the format's name. A record needs an id and a non-empty title; every other
//! field may be missing. Dates given as timestamps keep the day as written in their own
//! offset (arXiv writes announcement days as midnight US Eastern).
//!
//! # Formats
//!
//! **`jsonl`**: the project's own JSON Lines, one object a line: the records of
//! `arxiv-daily-cs-2026h1/*.jsonl` as they are, and this crate's own `Paper`
//! serialization. Accepted fields (others are ignored; `null` is the same as absent):
//! - `id` (also `arxiv_id`, `paper_id`; a number is accepted): required;
//! - `title`: required;
//! - `summary` or `abstract`: the abstract;
//! - `authors`: a list of names, a list of `{"name": ...}` objects, or one string
//!   (`"A, B and C"`, or `;`-separated); `authors_parsed` as in `kaggle` wins if present;
//! - `categories`: a list, or one string separated by spaces or commas; primary first,
//!   or named by `primary_category`;
//! - `listing_date` or `listed`: the day first listed (`YYYY-MM-DD`);
//! - `published`, `updated`: dates; else from `versions` (as in `kaggle`); `updated`
//!   falls back to `update_date`;
//! - `url`, else `abs`, `link`, `pdf`: the paper's page;
//! - `doi`, `announce_type`.
//!
//! **`arxiv-atom`**: arXiv API responses (`export.arxiv.org/api/query`), the current
//! and the pre-2025 export format: `<entry>` with `id` (an abs URL with version),
//! `title`, `summary`, `author/name`, `arxiv:primary_category` then `category term`s,
//! `published` (v1 day), `updated` (latest version's day), `arxiv:doi` (else the
//! `title="doi"` link), the `alternate` link as `url`. No `listed`: the API does not
//! say when a paper was announced. An API error entry is reported as an error.
//!
//! **`arxiv-rss`**: arXiv's daily listing feeds, RSS 2.0 (`rss.arxiv.org/rss/...`) and
//! the Atom flavour (`rss.arxiv.org/atom/...`). The abstract loses its
//! `arXiv:ID Announce Type: TYPE Abstract:` prefix; the type goes to `announce_type`
//! (`new`, `cross`, `replace`, `replace-cross`; from `arxiv:announce_type` when present).
//! Replacements are not new papers, but they are still yielded, because their
//! metadata is fresh: a caller that wants only new papers keeps `announce_type` `new`
//! (and `cross`). `listed` is the item's `pubDate` (Atom: `published`), else the
//! channel's `pubDate` (Atom: the feed's `updated`). Authors come from `dc:creator`
//! (comma-separated), categories from `category` in feed order. No `published`/`updated`.
//!
//! **`hf-daily`**: the Hugging Face `/api/daily_papers` JSON array. Each entry's
//! `paper` gives `id` (an arXiv id), `title`, `summary`, `authors[].name` (hidden
//! ones too: they are still the paper's authors);
//! `listed` is the day Hugging Face listed it (`paper.submittedOnDailyAt`, else the
//! entry's `publishedAt`), and `published` is `paper.publishedAt` (arXiv's v1 day).
//! We chose the daily-page day for `listed` because that is the day a daily ranking of
//! this feed is about; the entry's `publishedAt` is the same arXiv day written as US
//! Eastern midnight in UTC (`2026-05-29T20:00Z` for May 30), so it is only a fallback.
//! No categories (Hugging Face has none).
//!
//! **`kaggle`**: the Kaggle arXiv metadata snapshot (`arxiv-metadata-oai-snapshot.json`),
//! JSON Lines with the `jsonl` mapping: `categories` a space-separated string,
//! `authors` a string, `authors_parsed` (`[["Last", "First", "Suffix"], ...]`, preferred,
//! it has the accents resolved), `versions` (`[{"version": "v1", "created": "Mon, 2 Apr
//! 2007 19:18:42 GMT"}, ...]`: v1 → `published`, last → `updated`), `update_date` (the
//! metadata's last change: `updated` only when there are no versions), `doi`. No
//! `listed`: the snapshot does not say when a paper was announced.
//!
//! **`csv`**: a header row names the columns, matched ignoring case, spaces, `-` and `.`:
//! `id` (`arxiv_id`, `paper_id`, ...), `title`, `abstract` (`summary`, `description`),
//! `authors` (`author`, `creators`), `authors_parsed`, `categories` (`category`,
//! `subjects`), `primary_category`, `listed` (`listing_date`, `announced`),
//! `published` (`published_date`, `created`, `date`, ...), `updated`, `update_date`,
//! `versions`, `url` (`abs`, `link`), `pdf`, `doi`, `announce_type`. `id` (or `doi`) and
//! `title` are required. This reads the pandas CSV of the Kaggle snapshot: ids that
//! lost their zeros (`704.001` → `0704.0010`) are restored by [`canonical_id`], dates
//! may be `M/D/YYYY`, and the Python-literal `versions` / `authors_parsed` cells are
//! parsed when they can be (else `authors` and `update_date` are used).
//!
//! **`arxiv-oai`**: a page of arXiv's OAI-PMH interface (`verb=ListRecords`,
//! `metadataPrefix=arXiv`), as `fetch` keeps it under `LIBRARY/fetch/raw/`: `metadata/
//! arXiv` gives `id`, `title`, `abstract`, `authors` (`forenames keyname suffix`),
//! `categories` (space-separated, primary first), `created` → `published`, `updated`,
//! `doi`. Records whose header says `status="deleted"` are skipped; an OAI-PMH
//! `<error>` other than `noRecordsMatch` is an error item. No `listed` (OAI-PMH does
//! not say when a paper was announced), no `url`.
//!
//! PubMed XML and Semantic Scholar JSON are recognised by [`detect`] and refused with
//! a message saying so.

mod feeds;
mod fields;
mod hf;
pub(crate) mod json;
mod oai;
mod pylit;
mod table;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::paper::canonical_id;
use crate::paper::Paper;
use crate::render::terminal_safe;

/// The longest record a line-based reader accepts (a JSON line, a CSV row), in bytes.
pub const MAX_RECORD_BYTES: usize = 16 << 20;
/// The largest XML or JSON document read whole, in bytes.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;
/// How much of a file [`detect`] looks at, in bytes.
const DETECT_BYTES: u64 = 1 << 20;

/// A source format; its name (`Display`/`FromStr`) is what `--format` takes and what
/// `Paper::source` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `jsonl`: the project's own JSON Lines (the daily arXiv corpus, `Paper` records).
    Jsonl,
    /// `arxiv-atom`: an arXiv API response (Atom).
    ArxivAtom,
    /// `arxiv-rss`: an arXiv listing feed (RSS 2.0, or its Atom flavour).
    ArxivRss,
    /// `hf-daily`: Hugging Face `/api/daily_papers` JSON.
    HfDailyPapers,
    /// `kaggle`: the Kaggle arXiv metadata snapshot (JSON Lines).
    KaggleJsonl,
    /// `csv`: CSV with a header naming the columns (the Kaggle CSV sample included).
    Csv,
    /// `arxiv-oai`: a page of arXiv's OAI-PMH `ListRecords` (metadataPrefix `arXiv`).
    ArxivOai,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 7] = [
        Format::Jsonl,
        Format::ArxivAtom,
        Format::ArxivRss,
        Format::HfDailyPapers,
        Format::KaggleJsonl,
        Format::Csv,
        Format::ArxivOai,
    ];

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::ArxivAtom => "arxiv-atom",
            Format::ArxivRss => "arxiv-rss",
            Format::HfDailyPapers => "hf-daily",
            Format::KaggleJsonl => "kaggle",
            Format::Csv => "csv",
            Format::ArxivOai => "arxiv-oai",
        }
    }

    fn names() -> String {
        Format::ALL.map(Format::name).join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    /// A format name, ignoring case; an unknown name is [`Error::Invalid`] listing the
    /// known ones.
    fn from_str(s: &str) -> Result<Format> {
        let s = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown input format `{s}`; expected one of: {}",
                    Format::names()
                ))
            })
    }
}

/// An [`Error::Input`] for record `line` of `path`. Messages quote input values (a bad
/// date, an id), so they pass through [`terminal_safe`]: a value holding `ESC[31m`
/// is shown as text, not sent to the terminal.
pub(crate) fn bad_record(path: &Path, line: u64, message: impl Into<String>) -> Error {
    let message = message.into();
    let message = match terminal_safe(&message) {
        Cow::Borrowed(_) => message,
        Cow::Owned(safe) => safe,
    };
    Error::Input {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Detect the format of `path` from its first bytes (1 MiB; for JSON, its first value,
/// read as a stream up to [`MAX_RECORD_BYTES`]): the XML root element, the shape of
/// the first JSON value, or a CSV header naming `id` and `title`. The extension is
/// not looked at. When nothing matches, or the file is one of the refused formats
/// (PubMed, Semantic Scholar), the error names the file, the line and what was found.
pub fn detect(path: &Path) -> Result<Format> {
    let (head, mut rest) = read_head(path)?;
    detect_in(&head, &mut rest).map_err(|(line, m)| bad_record(path, line, m))
}

/// The first [`DETECT_BYTES`] of `path`, and the file positioned after them.
fn read_head(path: &Path) -> Result<(Vec<u8>, File)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    (&mut file)
        .take(DETECT_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok((head, file))
}

/// The format of a file that is all in `head`; the error says why none fits.
#[cfg(test)]
fn detect_bytes(head: &[u8]) -> Result<Format, String> {
    detect_in(head, &mut std::io::empty()).map_err(|(_, m)| m)
}

/// The format of a file that starts with `head` and goes on with `rest`; the error
/// carries the 1-based line it is about and says why no format fits. A NUL byte in
/// the first line makes a binary file; one further on is left to the reader, which
/// skips the record holding it (or, if detection fails, the error names its line).
fn detect_in(head: &[u8], rest: &mut dyn Read) -> Result<Format, (u64, String)> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let body = &head[start..];
    let hint = format!("pass --format (one of: {})", Format::names());
    let first_line = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line_of = |at: usize| head[..start + at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    if body[..first_line].iter().take(8192).any(|&b| b == 0) {
        let line = line_of(0);
        return Err((
            line,
            format!("a binary file (it has NUL bytes), not XML, JSON or CSV; {hint}"),
        ));
    }
    let found = match body.first() {
        None => Err((1, "the file is empty: no format to detect".to_string())),
        Some(b'<') => detect_xml(body).map_err(|m| (line_of(0), m)),
        Some(b'[') | Some(b'{') => detect_json(body, rest).map_err(|(line, m)| {
            // serde_json counts lines from the value's start.
            (line + line_of(0) - 1, m)
        }),
        Some(_) => detect_csv(body).map_err(|m| (line_of(0), m)),
    };
    found.map_err(|(line, m)| match body.iter().position(|&b| b == 0) {
        // A NUL byte further on may be what broke detection: say where it is.
        Some(nul) => {
            let nul_line = line_of(nul);
            (
                nul_line,
                format!("{m} (and line {nul_line} has a NUL byte); {hint}"),
            )
        }
        None => (line, format!("{m}; {hint}")),
    })
}

fn detect_xml(body: &[u8]) -> Result<Format, String> {
    use quick_xml::events::Event;
    let text = String::from_utf8_lossy(body);
    let mut reader = quick_xml::Reader::from_str(&text);
    let root = loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                break e.local_name().into_inner().to_string();
            }
            Ok(Event::Eof) | Err(_) => {
                return Err("XML without a root element in its first 1 MiB".to_string())
            }
            Ok(_) => {}
        }
    };
    let has = |s: &str| text.contains(s);
    match root.as_str() {
        "rss" => Ok(Format::ArxivRss),
        "feed" if has("announce_type") || has("rss.arxiv.org") || has("Announce Type:") => {
            Ok(Format::ArxivRss)
        }
        "feed" => Ok(Format::ArxivAtom),
        "OAI-PMH" => Ok(Format::ArxivOai),
        "PubmedArticleSet" => Err("PubMed XML (PubmedArticleSet) is not a supported format".into()),
        "RDF" => Err(
            "an RSS 1.0 (RDF) feed, arXiv's listing format before 2024, is not supported; use the current RSS 2.0 feed"
                .into(),
        ),
        other => Err(format!(
            "XML with root element <{other}> is not a supported format (expected an arXiv Atom <feed>, RSS <rss> or OAI-PMH <OAI-PMH>)"
        )),
    }
}

/// The kind of a JSON value, read without keeping the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    String,
    Array,
    Object,
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Kind, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Kind, E> {
                Ok(Kind::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Kind, E> {
                Ok(Kind::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Kind, E> {
                Ok(Kind::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Kind, E> {
                Ok(Kind::Scalar)
            }
            fn visit_unit<E>(self) -> std::result::Result<Kind, E> {
                Ok(Kind::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Kind, E> {
                Ok(Kind::String)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Kind, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Kind::Array)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Kind, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Kind::Object)
            }
        }
        d.deserialize_any(KindVisitor)
    }
}

/// What detection needs of the first JSON value: for an object, its keys (sorted) and
/// the kind of each value; `None` for anything else. Values are skipped, not kept, so
/// a first record of many megabytes costs no more than its longest string.
struct Shape(Option<std::collections::BTreeMap<String, Kind>>);

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Shape, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_unit<E>(self) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Shape, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Shape(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Shape, A::Error> {
                let mut keys = std::collections::BTreeMap::new();
                while let Some((key, kind)) = map.next_entry::<String, Kind>()? {
                    keys.entry(key).or_insert(kind);
                }
                Ok(Shape(Some(keys)))
            }
        }
        d.deserialize_any(ShapeVisitor)
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The format of JSON starting with `body` (and going on with `rest`), from the shape
/// of its first value (of an array: its first element), read as a stream of at most
/// [`MAX_RECORD_BYTES`]: a first record of 12 MB is as detectable as one of 1 KB. The
/// error carries the line, counted from the start of `body`.
fn detect_json(body: &[u8], rest: &mut dyn Read) -> Result<Format, (u64, String)> {
    // For an array, look at its first element instead.
    let array = body.first() == Some(&b'[');
    let skip = usize::from(array);
    let limit = MAX_RECORD_BYTES as u64;
    let mut input = Counted {
        inner: std::io::Read::chain(&body[skip..], rest).take(limit),
        read: 0,
    };
    let first = serde_json::Deserializer::from_reader(&mut input)
        .into_iter::<Shape>()
        .next();
    let what = if array {
        "the first JSON array element"
    } else {
        "the first JSON value"
    };
    let obj = match first {
        Some(Ok(Shape(Some(obj)))) => obj,
        Some(Ok(Shape(None))) => {
            let m = match array {
                true => "a JSON array whose first element is not an object",
                false => "JSON whose first record is not an object",
            };
            return Err((1, m.to_string()));
        }
        Some(Err(e)) if e.is_eof() && input.read >= limit => {
            let m = format!("{what} is longer than {} MiB", MAX_RECORD_BYTES >> 20);
            return Err((e.line() as u64, m));
        }
        Some(Err(e)) if e.is_eof() => {
            return Err((e.line() as u64, format!("the file ends inside {what}")));
        }
        Some(Err(e)) if array => {
            let m = format!("a JSON array whose first element is not a JSON value: {e}");
            return Err((e.line() as u64, m));
        }
        Some(Err(e)) => {
            let m = format!("starts like JSON but is not: {e}");
            return Err((e.line() as u64, m));
        }
        None => return Err((1, "no JSON value".into())),
    };
    let is = |key: &str, kind: Kind| obj.get(key) == Some(&kind);
    let keys = || {
        let mut k: Vec<&str> = obj.keys().map(String::as_str).take(12).collect();
        if obj.len() > 12 {
            k.push("…");
        }
        k.join(", ")
    };
    let refuse = |m: String| Err((1, m));
    if array {
        return if is("paper", Kind::Object) {
            Ok(Format::HfDailyPapers)
        } else {
            refuse(format!(
                "a JSON array whose entries are not Hugging Face daily papers (no `paper` object; keys: {})",
                keys()
            ))
        };
    }
    if obj.contains_key("esearchresult") {
        return refuse("PubMed E-utilities JSON is not a supported format".into());
    }
    if is("data", Kind::Array)
        && (obj.contains_key("total") || obj.contains_key("offset") || obj.contains_key("next"))
    {
        return refuse("Semantic Scholar search results are not a supported format".into());
    }
    if is("paper", Kind::Object) {
        return refuse(
            "a JSON object with a `paper` object: Hugging Face daily papers are read as the JSON array the API returns"
                .into(),
        );
    }
    let kaggle = ["versions", "authors_parsed", "update_date"]
        .iter()
        .any(|k| obj.contains_key(*k))
        || is("categories", Kind::String);
    let has_id = ["id", "arxiv_id", "paper_id"]
        .iter()
        .any(|k| obj.contains_key(*k));
    match (has_id && obj.contains_key("title"), kaggle) {
        (true, true) => Ok(Format::KaggleJsonl),
        (true, false) => Ok(Format::Jsonl),
        (false, _) => refuse(format!(
            "a JSON object without `id` and `title` is not a known paper record (keys: {})",
            keys()
        )),
    }
}

fn detect_csv(body: &[u8]) -> Result<Format, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut header = csv::ByteRecord::new();
    let first_line = || {
        let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
        fields::snippet(String::from_utf8_lossy(&body[..end]).trim_end())
    };
    match reader.read_byte_record(&mut header) {
        Ok(true) if header.len() > 1 => {}
        _ => {
            return Err(format!(
                "not XML, JSON or CSV with a header (it starts with `{}`)",
                first_line()
            ))
        }
    }
    let names: Vec<String> = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    table::Columns::from_header(&names)
        .map(|_| Format::Csv)
        .map_err(|m| format!("not XML or JSON, and {m}"))
}

/// The papers of one file, in file order: see the module docs for what each format
/// gives and how errors are reported. Dropping it closes the file.
pub struct Records {
    path: PathBuf,
    format: Format,
    inner: Inner,
}

enum Inner {
    Lines(json::JsonLines),
    Csv(Box<table::CsvRows>),
    Document(std::vec::IntoIter<Result<Paper>>),
}

impl Records {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format it is read as (detected, or as given; a file with nothing but
    /// whitespace, which has no format, reports `jsonl`).
    pub fn format(&self) -> Format {
        self.format
    }
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Iterator for Records {
    type Item = Result<Paper>;

    fn next(&mut self) -> Option<Result<Paper>> {
        match &mut self.inner {
            Inner::Lines(r) => r.next(),
            Inner::Csv(r) => r.next(),
            Inner::Document(r) => r.next(),
        }
    }
}

/// Open `path` and read it as `format`, or as the detected format when `None`.
///
/// Fails when the file cannot be opened, its format cannot be detected, a CSV header
/// lacks `id`/`title` columns, or a document is over [`MAX_DOCUMENT_BYTES`] or not
/// UTF-8; every other problem is an item of the iterator. A file with nothing but
/// whitespace has no records in any format.
pub fn read(path: &Path, format: Option<Format>) -> Result<Records> {
    let format = match format {
        Some(f) => f,
        None => {
            let (head, mut rest) = read_head(path)?;
            if head.iter().all(u8::is_ascii_whitespace) && (head.len() as u64) < DETECT_BYTES {
                return Ok(Records {
                    path: path.to_path_buf(),
                    format: Format::Jsonl,
                    inner: Inner::Document(Vec::new().into_iter()),
                });
            }
            detect_in(&head, &mut rest).map_err(|(line, m)| bad_record(path, line, m))?
        }
    };
    tracing::debug!(path = %path.display(), %format, "reading papers");
    let inner = match format {
        Format::Jsonl | Format::KaggleJsonl => Inner::Lines(json::JsonLines::open(path, format)?),
        Format::Csv => Inner::Csv(Box::new(table::CsvRows::open(path)?)),
        Format::ArxivAtom | Format::ArxivRss | Format::HfDailyPapers | Format::ArxivOai => {
            let text = read_document(path)?;
            Inner::Document(parse_text(&text, format, path).into_iter())
        }
    };
    Ok(Records {
        path: path.to_path_buf(),
        format,
        inner,
    })
}

/// The records of a whole document already in memory (a fetched response), as
/// [`read`] yields them, errors located at `path` (where the text is kept). Only for
/// the document formats (`arxiv-atom`, `arxiv-rss`, `hf-daily`, `arxiv-oai`); a line
/// format gives one error.
pub(crate) fn parse_text(text: &str, format: Format, path: &Path) -> Vec<Result<Paper>> {
    let items = match format {
        Format::HfDailyPapers => hf::parse(text),
        Format::ArxivAtom | Format::ArxivRss => feeds::parse(text, format),
        Format::ArxivOai => oai::parse(text),
        Format::Jsonl | Format::KaggleJsonl | Format::Csv => {
            vec![Err((1, format!("{format} is not a document format")))]
        }
    };
    items
        .into_iter()
        .map(|r| r.map_err(|(entry, m)| bad_record(path, entry, m)))
        .collect()
}

pub(crate) use feeds::listing_day;

/// Why `text` is not a well-formed XML document (with line and column), if it is not.
pub(crate) fn xml_error(text: &str) -> Option<String> {
    let doc = feeds::parse_document(text);
    match (doc.error, doc.root) {
        (Some((line, e)), _) => Some(format!("line {line}: {e}")),
        (None, None) => Some("no XML element found".to_string()),
        (None, Some(_)) => None,
    }
}
pub(crate) use oai::parse_page as parse_oai_page;

/// A whole document as text, without a UTF-8 byte-order mark.
fn read_document(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(bad_record(
            path,
            1,
            format!(
                "larger than {} MiB, too large for a document format",
                MAX_DOCUMENT_BYTES >> 20
            ),
        ));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        bad_record(path, 1, format!("not valid UTF-8 (line {line}, byte {at})"))
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
        }
        assert_eq!("ARXIV-RSS".parse::<Format>().unwrap(), Format::ArxivRss);
        let err = "atom".parse::<Format>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown input format `atom`; expected one of: jsonl, arxiv-atom, arxiv-rss, hf-daily, kaggle, csv, arxiv-oai"
        );
    }

    #[test]
    fn detection_from_snippets() {
        let cases: [(&str, Format); 9] = [
            ("{\"id\": \"2601.00001\", \"title\": \"T\", \"summary\": \"\"}\n", Format::Jsonl),
            ("\u{feff}  {\"id\": \"0704.0001\", \"title\": \"T\", \"categories\": \"hep-ph\"}", Format::KaggleJsonl),
            ("{\"id\": \"0704.0001\", \"title\": \"T\", \"versions\": []}", Format::KaggleJsonl),
            ("[{\"paper\": {\"id\": \"2606.00467\"}}]", Format::HfDailyPapers),
            ("<?xml version='1.0'?>\n<!-- c --><rss version=\"2.0\"><channel/></rss>", Format::ArxivRss),
            ("<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>http://rss.arxiv.org/atom/cs</id></feed>", Format::ArxivRss),
            ("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry/></feed>", Format::ArxivAtom),
            ("ID,Title,Abstract\n1,T,A\n", Format::Csv),
            ("<?xml version=\"1.0\"?>\n<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><ListRecords/></OAI-PMH>", Format::ArxivOai),
        ];
        for (text, want) in cases {
            assert_eq!(detect_bytes(text.as_bytes()), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn detection_refusals_say_why() {
        let cases = [
            ("", "the file is empty"),
            ("<PubmedArticleSet></PubmedArticleSet>", "PubMed XML"),
            ("<html><body/></html>", "root element <html>"),
            (
                "{\"total\": 1, \"offset\": 0, \"data\": []}",
                "Semantic Scholar",
            ),
            (
                "{\"header\": {}, \"esearchresult\": {}}",
                "PubMed E-utilities",
            ),
            ("[1, 2]", "not an object"),
            ("[]", "first element is not a JSON value"),
            (
                "[{\"paper\": ",
                "the file ends inside the first JSON array element",
            ),
            ("[{\"title\": \"x\"}]", "not Hugging Face daily papers"),
            ("{\"name\": 1}", "without `id` and `title`"),
            ("{\"id\": ", "the file ends inside the first JSON value"),
            ("{nope}", "starts like JSON but is not"),
            ("hello world\n", "not XML, JSON or CSV"),
            (
                "name,text\n",
                "not XML or JSON, and the CSV header has no `id` and `title` column",
            ),
            ("\u{93}NUMPY\x01\x00v\x00{'descr': '<f4'", "a binary file"),
        ];
        for (text, want) in cases {
            let err = detect_bytes(text.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(text.is_empty() || err.contains("pass --format"), "{err}");
        }
    }
}
