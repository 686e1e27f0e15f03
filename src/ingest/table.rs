//! CSV with a header row naming the columns. Column names are matched ignoring case,
//! spaces, `-` and `.`, with common synonyms (see [`COLUMNS`]); a `title` column and an
//! `id` (or `doi`) column are required. The Kaggle arXiv sample (`arxiv_data.csv`,
//! written by pandas) is read by this reader: its `versions` and `authors_parsed` cells
//! are Python-literal strings, parsed by `pylit` when they can be and ignored (the
//! plain `authors` / `update_date` columns are used instead) when they cannot.
//!
//! Rows stream one at a time (RFC 4180 quoting, line breaks inside quoted fields). A
//! quote left open would swallow the rows after it into one field: a row spanning
//! several lines is checked against RFC 4180 (every quoted field closes right before
//! a comma or the end of the row), and one that fails, or runs over the record size
//! cap, is reported as a bad row at its first line and reading goes on at the line
//! after that, so only that row is lost.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::fields::{date_field, split_authors, split_categories, Draft};
use super::json::{author_list, category_list, parsed_authors, versions_dates};
use super::{bad_record, pylit, Format, MAX_RECORD_BYTES};
use crate::error::{Error, Result};
use crate::paper::Paper;

/// The column roles and the header names (normalised: lower case, `_` for space, `-`
/// and `.`) that fill them, in order of preference.
pub(crate) const COLUMNS: &[(Role, &[&str])] = &[
    (
        Role::Id,
        &[
            "id",
            "arxiv_id",
            "arxivid",
            "paper_id",
            "paperid",
            "entry_id",
            "identifier",
        ],
    ),
    (Role::Title, &["title", "paper_title"]),
    (
        Role::Abstract,
        &["abstract", "summary", "abstract_text", "description"],
    ),
    (
        Role::Authors,
        &["authors", "author", "author_names", "creators", "creator"],
    ),
    (Role::AuthorsParsed, &["authors_parsed"]),
    (
        Role::Categories,
        &["categories", "category", "subjects", "terms"],
    ),
    (Role::Primary, &["primary_category", "primary"]),
    (
        Role::Listed,
        &[
            "listed",
            "listing_date",
            "announced",
            "announce_date",
            "announced_date",
        ],
    ),
    (
        Role::Published,
        &[
            "published",
            "published_date",
            "publication_date",
            "submitted",
            "created",
            "date",
        ],
    ),
    (Role::Updated, &["updated", "updated_date", "last_updated"]),
    (Role::UpdateDate, &["update_date"]),
    (Role::Versions, &["versions"]),
    (Role::Url, &["url", "abs", "abs_url", "link", "entry_url"]),
    (Role::Pdf, &["pdf", "pdf_url"]),
    (Role::Doi, &["doi"]),
    (Role::AnnounceType, &["announce_type"]),
];

/// What a column means to the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Id,
    Title,
    Abstract,
    Authors,
    AuthorsParsed,
    Categories,
    Primary,
    Listed,
    Published,
    Updated,
    /// Kaggle's metadata update day: `updated` only when no version says better.
    UpdateDate,
    Versions,
    Url,
    Pdf,
    Doi,
    AnnounceType,
}

const ROLE_COUNT: usize = 16;

/// Which column index fills each role, from a header row.
#[derive(Debug)]
pub(crate) struct Columns {
    index: [Option<usize>; ROLE_COUNT],
    names: Vec<String>,
}

fn normalise(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '-', '.'], "_")
}

impl Columns {
    /// Map a header row; the error names what is missing and lists the columns found.
    pub(crate) fn from_header(names: &[String]) -> Result<Columns, String> {
        let normalised: Vec<String> = names.iter().map(|n| normalise(n)).collect();
        let mut index = [None; ROLE_COUNT];
        for (slot, (_, synonyms)) in index.iter_mut().zip(COLUMNS) {
            *slot = synonyms
                .iter()
                .find_map(|s| normalised.iter().position(|n| n == s));
        }
        let columns = Columns {
            index,
            names: names.to_vec(),
        };
        let missing = match (
            columns.get(Role::Title).is_some(),
            columns.get(Role::Id).is_some() || columns.get(Role::Doi).is_some(),
        ) {
            (true, true) => return Ok(columns),
            (false, true) => "`title`",
            (true, false) => "`id` (or `doi`)",
            (false, false) => "`id` and `title`",
        };
        let mut found: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
        if names.len() > 20 {
            found.push("…");
        }
        Err(format!(
            "the CSV header has no {missing} column (found: {})",
            super::fields::snippet(&found.join(", "))
        ))
    }

    fn get(&self, role: Role) -> Option<usize> {
        COLUMNS
            .iter()
            .position(|(r, _)| *r == role)
            .and_then(|i| self.index[i])
    }
}

/// The `Read` under the CSV parser: counts bytes since the last record started and
/// fails once a record passes [`MAX_RECORD_BYTES`].
struct Capped {
    inner: File,
    since_record: usize,
}

#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "record longer than {} MiB", MAX_RECORD_BYTES >> 20)
    }
}

impl std::error::Error for RecordTooLong {}

impl Seek for Capped {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.since_record = 0;
        self.inner.seek(pos)
    }
}

impl Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.since_record > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.since_record += n;
        Ok(n)
    }
}

/// Streams the rows of a CSV file as `Paper`s; errors carry the row's first line.
pub(crate) struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<Capped>,
    columns: Columns,
    record: csv::ByteRecord,
    done: bool,
    /// A second handle on the file, to look at the bytes of rows that span lines.
    raw: Option<File>,
}

impl CsvRows {
    /// Open and read the header; a header without the needed columns is an error here.
    pub(crate) fn open(path: &Path) -> Result<CsvRows> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(Capped {
                inner: file,
                since_record: 0,
            });
        let header = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(csv_error(path, 1, e)),
        };
        let names: Vec<String> = header
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let columns = Columns::from_header(&names).map_err(|m| bad_record(path, 1, m))?;
        Ok(CsvRows {
            path: path.to_path_buf(),
            reader,
            columns,
            record: csv::ByteRecord::new(),
            done: false,
            raw: None,
        })
    }

    fn raw_file(&mut self) -> io::Result<&mut File> {
        match &mut self.raw {
            Some(f) => Ok(f),
            none => Ok(none.insert(File::open(&self.path)?)),
        }
    }

    /// The byte offset of the line after the one holding byte `from`; `None` when that
    /// line is the last.
    fn next_line_start(&mut self, from: u64) -> io::Result<Option<u64>> {
        let file = self.raw_file()?;
        file.seek(SeekFrom::Start(from))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut at = from;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
                return Ok(Some(at + i as u64 + 1));
            }
            at += n as u64;
        }
    }

    /// Whether the row read from byte `start` to `end` is well-formed RFC 4180.
    fn well_formed(&mut self, start: u64, end: u64) -> io::Result<bool> {
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        let len = len.min(MAX_RECORD_BYTES + 2);
        let file = self.raw_file()?;
        file.seek(SeekFrom::Start(start))?;
        let mut raw = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut raw)?;
        Ok(row_is_well_formed(&raw))
    }

    /// Skip what is left of the row that starts at `start` (line `line`): reading goes
    /// on at the line after it. The message ends with where reading goes on.
    fn resync(&mut self, start: &csv::Position, line: u64, problem: &str) -> Error {
        let next = match self.next_line_start(start.byte()) {
            Ok(Some(next)) => next,
            Ok(None) => {
                self.done = true;
                return bad_record(
                    &self.path,
                    line,
                    format!("{problem}; it runs to the end of the file"),
                );
            }
            Err(e) => {
                self.done = true;
                return Error::io(&self.path, e);
            }
        };
        let mut pos = csv::Position::new();
        pos.set_byte(next)
            .set_line(line + 1)
            .set_record(start.record() + 1);
        if let Err(e) = self.reader.seek(pos) {
            self.done = true;
            return csv_error(&self.path, line, e);
        }
        let message = format!(
            "{problem}; this row is skipped, reading goes on at line {}",
            line + 1
        );
        bad_record(&self.path, line, message)
    }

    fn row(&self) -> Result<Paper, String> {
        let rec = &self.record;
        let count = self.columns.names.len();
        if rec.len() != count {
            return Err(format!(
                "expected {count} fields as named in the header, found {}",
                rec.len()
            ));
        }
        if let Some(i) = rec.iter().position(|f| f.contains(&0)) {
            let name = self.columns.names.get(i).map_or("?", String::as_str);
            return Err(format!(
                "column `{name}` holds a NUL byte: this is not a text row"
            ));
        }
        let get = |role: Role| -> Result<&str, String> {
            let Some(i) = self.columns.get(role) else {
                return Ok("");
            };
            let bytes = rec.get(i).unwrap_or_default();
            std::str::from_utf8(bytes).map(str::trim).map_err(|e| {
                format!(
                    "column `{}` is not valid UTF-8 (at byte {})",
                    self.columns.names[i],
                    e.valid_up_to()
                )
            })
        };
        let date = |role: Role| -> Result<Option<NaiveDate>, String> {
            match self.columns.get(role) {
                Some(i) => date_field(&self.columns.names[i], get(role)?),
                None => Ok(None),
            }
        };

        let mut authors = literal(get(Role::AuthorsParsed)?)
            .and_then(|v| parsed_authors(&v).ok())
            .unwrap_or_default();
        if authors.is_empty() {
            let raw = get(Role::Authors)?;
            authors = if raw.starts_with('[') {
                literal(raw)
                    .and_then(|v| author_list(&v).ok())
                    .unwrap_or_else(|| split_authors(raw))
            } else {
                split_authors(raw)
            };
        }
        let raw_categories = get(Role::Categories)?;
        let categories = if raw_categories.starts_with('[') {
            literal(raw_categories)
                .and_then(|v| category_list(&v).ok())
                .unwrap_or_else(|| split_categories(raw_categories))
        } else {
            split_categories(raw_categories)
        };
        let (first_version, last_version) = literal(get(Role::Versions)?)
            .and_then(|v| versions_dates(&v).ok())
            .unwrap_or((None, None));

        let id = Some(get(Role::Id)?)
            .filter(|s| !s.is_empty())
            .or(Some(get(Role::Doi)?));
        Draft {
            id: id.map(str::to_string),
            title: Some(get(Role::Title)?.to_string()),
            abstract_text: get(Role::Abstract)?.to_string(),
            authors,
            categories,
            primary: Some(get(Role::Primary)?.to_string()),
            listed: date(Role::Listed)?,
            published: date(Role::Published)?.or(first_version),
            updated: match date(Role::Updated)?.or(last_version) {
                Some(d) => Some(d),
                None => date(Role::UpdateDate)?,
            },
            url: Some(get(Role::Url)?)
                .filter(|s| !s.is_empty())
                .or(Some(get(Role::Pdf)?))
                .map(str::to_string),
            doi: Some(get(Role::Doi)?.to_string()),
            announce_type: Some(get(Role::AnnounceType)?.to_string()),
        }
        .finish(Format::Csv)
    }
}

/// A Python-literal cell, or `None` when empty or unparseable ("parse what you can":
/// the caller falls back to the plain columns).
fn literal(cell: &str) -> Option<serde_json::Value> {
    if cell.is_empty() {
        return None;
    }
    match pylit::parse(cell) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!("ignoring a cell that is not a Python literal: {e}");
            None
        }
    }
}

fn csv_error(path: &Path, line: u64, e: csv::Error) -> Error {
    let line = e.position().map_or(line, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<RecordTooLong>())
            {
                bad_record(
                    path,
                    line,
                    format!(
                        "a record longer than {} MiB: is a quoted field left open?",
                        MAX_RECORD_BYTES >> 20
                    ),
                )
            } else {
                Error::io(path, io)
            }
        }
        other => bad_record(path, line, format!("invalid CSV: {other:?}")),
    }
}

impl Iterator for CsvRows {
    type Item = Result<Paper>;

    fn next(&mut self) -> Option<Result<Paper>> {
        if self.done {
            return None;
        }
        self.reader.get_mut().since_record = 0;
        let before = self.reader.position().clone();
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {
                let start = self.record.position().cloned().unwrap_or(before);
                let line = start.line();
                let end = self.reader.position().clone();
                // Only a quoted field spans lines; one left open swallows the rows
                // after it, so such a row must be exactly right.
                if end.line() > line + 1 {
                    match self.well_formed(start.byte(), end.byte()) {
                        Ok(true) => {}
                        Ok(false) => {
                            let problem = "a quoted field is not closed where it should be (a '\"' missing, or one too many)";
                            return Some(Err(self.resync(&start, line, problem)));
                        }
                        Err(e) => {
                            self.done = true;
                            return Some(Err(Error::io(&self.path, e)));
                        }
                    }
                }
                Some(self.row().map_err(|m| bad_record(&self.path, line, m)))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                let too_long = matches!(e.kind(), csv::ErrorKind::Io(io)
                    if io.get_ref().is_some_and(|inner| inner.is::<RecordTooLong>()));
                if too_long {
                    // The row starts at the first line after the previous row's end.
                    let line = before.line();
                    let problem = format!(
                        "a row longer than {} MiB: is a quoted field left open?",
                        MAX_RECORD_BYTES >> 20
                    );
                    return Some(Err(self.resync(&before, line, &problem)));
                }
                // Any other read error: the file cannot be read on, stop here.
                self.done = true;
                let line = self.reader.position().line();
                Some(Err(csv_error(&self.path, line, e)))
            }
        }
    }
}

/// Whether `raw`, the bytes of one CSV row and its line break, is RFC 4180: every
/// field that starts with `"` ends with a `"` (`""` inside being one quote) right
/// before a comma, the line break or the end, and the row ends where its bytes do.
fn row_is_well_formed(raw: &[u8]) -> bool {
    let end = raw
        .strip_suffix(b"\r\n")
        .or_else(|| raw.strip_suffix(b"\n"))
        .unwrap_or(raw)
        .len();
    let raw = &raw[..end];
    let mut i = 0;
    loop {
        if raw.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match raw.get(i) {
                    None => return false, // the quote never closes
                    Some(b'"') if raw.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            match raw.get(i) {
                None => return true,
                Some(b',') => i += 1,
                Some(_) => return false, // text after the closing quote
            }
        } else {
            match raw[i.min(raw.len())..]
                .iter()
                .position(|&b| b == b',' || b == b'\n')
            {
                None => return true,
                Some(n) if raw[i + n] == b',' => i += n + 1,
                // A line break outside quotes ends the row before its bytes do.
                Some(_) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_checked_against_rfc_4180() {
        for ok in [
            &b"1,\"a\nb\",c\n"[..],
            b"1,\"a \"\"q\"\"\nb\",\"\"\r\n",
            b"\"x\ny\"",
            b"1,,\"a\nb\"\n",
        ] {
            assert!(row_is_well_formed(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"3,T,\"abstract\n4,T4,A4\n"[..],
            b"1,\"Broken,abs\n2,Good,abs\n4,\"Ok\",x\n",
            b"1,\"a\nb\"c,d\n",
        ] {
            assert!(
                !row_is_well_formed(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn header(names: &[&str]) -> Result<Columns, String> {
        Columns::from_header(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn header_synonyms_and_case() {
        let c = header(&[
            "\u{feff}Paper ID",
            "Title",
            "Summary",
            "Author",
            "Update-Date",
        ])
        .unwrap();
        assert_eq!(c.get(Role::Id), Some(0));
        assert_eq!(c.get(Role::Title), Some(1));
        assert_eq!(c.get(Role::Abstract), Some(2));
        assert_eq!(c.get(Role::Authors), Some(3));
        assert_eq!(c.get(Role::UpdateDate), Some(4));
        assert_eq!(c.get(Role::Updated), None);
        // `abstract` is preferred over `summary` whatever the column order.
        let c = header(&["id", "title", "summary", "abstract"]).unwrap();
        assert_eq!(c.get(Role::Abstract), Some(3));
    }

    #[test]
    fn header_must_name_id_and_title() {
        assert_eq!(
            header(&["name", "text"]).unwrap_err(),
            "the CSV header has no `id` and `title` column (found: name, text)"
        );
        assert!(header(&["id", "text"])
            .unwrap_err()
            .contains("no `title` column"));
        assert!(header(&["doi", "title"]).is_ok());
    }

    #[test]
    fn role_table_is_complete() {
        assert_eq!(COLUMNS.len(), ROLE_COUNT);
    }
}
