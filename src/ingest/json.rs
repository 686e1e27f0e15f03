//! JSON Lines readers: the project's own JSONL and the Kaggle arXiv snapshot. Both are
//! one JSON object a line and share one field mapping ([`paper_from_object`]), which
//! also serves the Kaggle columns of a CSV file. Lines are streamed with a per-line
//! size cap, so memory stays bounded on the 4 GB snapshot.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::fields::{date_field, parse_date, snippet, split_authors, split_categories, Draft};
use super::{bad_record, Format, MAX_RECORD_BYTES};
use crate::error::{Error, Result};
use crate::paper::Paper;

/// Streams the records of a JSON Lines file. Blank lines are skipped; every other line
/// yields one `Paper` or one [`Error::Input`] with its 1-based line number.
pub(crate) struct JsonLines {
    path: PathBuf,
    format: Format,
    lines: CappedLines<BufReader<File>>,
}

impl JsonLines {
    pub(crate) fn open(path: &Path, format: Format) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(JsonLines {
            path: path.to_path_buf(),
            format,
            lines: CappedLines::new(BufReader::with_capacity(1 << 16, file)),
        })
    }
}

impl Iterator for JsonLines {
    type Item = Result<Paper>;

    fn next(&mut self) -> Option<Result<Paper>> {
        loop {
            let (line_no, line) = match self.lines.next_line()? {
                Ok(Line::Text(n, bytes)) => (n, bytes),
                Ok(Line::TooLong(n)) => {
                    return Some(Err(bad_record(
                        &self.path,
                        n,
                        format!(
                            "record is longer than the {} MiB limit",
                            MAX_RECORD_BYTES >> 20
                        ),
                    )))
                }
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let value: Value = match serde_json::from_slice(line) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(bad_record(&self.path, line_no, json_error_message(&e))))
                }
            };
            return Some(
                paper_from_json(value, self.format).map_err(|m| bad_record(&self.path, line_no, m)),
            );
        }
    }
}

/// The message for a line that is not JSON (each line is its own document, so only
/// the column is worth saying).
pub(crate) fn json_error_message(e: &serde_json::Error) -> String {
    format!(
        "invalid JSON at column {}: {}",
        e.column(),
        serde_message(e)
    )
}

/// serde_json's message without the position it appends.
pub(crate) fn serde_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// One line of input, or the note that it was over the cap (its bytes were dropped).
pub(crate) enum Line<'a> {
    Text(u64, &'a [u8]),
    TooLong(u64),
}

/// Reads lines of at most [`MAX_RECORD_BYTES`] into one reused buffer; a longer line
/// is skipped to its end and reported, never held in memory. Line numbers are 1-based.
pub(crate) struct CappedLines<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

impl<R: BufRead> CappedLines<R> {
    pub(crate) fn new(reader: R) -> Self {
        CappedLines {
            reader,
            buf: Vec::new(),
            line: 0,
            done: false,
        }
    }

    /// The next line (without its `\n`), `None` at the end. After an I/O error the
    /// reader is done: the error is returned once.
    pub(crate) fn next_line(&mut self) -> Option<io::Result<Line<'_>>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        let mut consumed = 0usize;
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if available.is_empty() {
                break;
            }
            let (chunk, found_end) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let n = chunk.len();
            if !too_long {
                if self.buf.len() + n > MAX_RECORD_BYTES {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(n);
            consumed += n;
            if found_end {
                break;
            }
        }
        if consumed == 0 {
            self.done = true;
            return None;
        }
        self.line += 1;
        if too_long {
            return Some(Ok(Line::TooLong(self.line)));
        }
        let mut text: &[u8] = &self.buf;
        if self.line == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        Some(Ok(Line::Text(self.line, text)))
    }
}

/// Map one JSON record to a `Paper`; see [`paper_from_object`].
pub(crate) fn paper_from_json(value: Value, source: Format) -> Result<Paper, String> {
    match value {
        Value::Object(obj) => paper_from_object(&obj, source),
        other => Err(format!("expected a JSON object, found {}", kind(&other))),
    }
}

/// The one field mapping for JSON records (the field list is in the module docs of
/// `ingest`). A field that is present with the wrong type is an error naming it;
/// `null` is the same as absent.
pub(crate) fn paper_from_object(obj: &Map<String, Value>, source: Format) -> Result<Paper, String> {
    let authors = match field(obj, "authors_parsed") {
        Some(v) => parsed_authors(v).map_err(|m| format!("field `authors_parsed`: {m}"))?,
        None => Vec::new(),
    };
    let authors = if authors.is_empty() {
        match field(obj, "authors") {
            Some(v) => author_list(v).map_err(|m| format!("field `authors`: {m}"))?,
            None => Vec::new(),
        }
    } else {
        authors
    };
    let categories = match field(obj, "categories") {
        Some(v) => category_list(v).map_err(|m| format!("field `categories`: {m}"))?,
        None => Vec::new(),
    };
    let (first_version, last_version) = match field(obj, "versions") {
        Some(v) => versions_dates(v).map_err(|m| format!("field `versions`: {m}"))?,
        None => (None, None),
    };
    let draft = Draft {
        id: first_string(obj, &["id", "arxiv_id", "paper_id"], true)?,
        title: first_string(obj, &["title"], false)?,
        abstract_text: first_string(obj, &["summary", "abstract"], false)?.unwrap_or_default(),
        authors,
        categories,
        primary: first_string(obj, &["primary_category"], false)?,
        listed: date_of(obj, &["listed", "listing_date"])?,
        published: date_of(obj, &["published"])?.or(first_version),
        updated: match date_of(obj, &["updated"])?.or(last_version) {
            Some(d) => Some(d),
            None => date_of(obj, &["update_date"])?,
        },
        url: first_string(obj, &["url", "abs", "link", "pdf"], false)?,
        doi: first_string(obj, &["doi"], false)?,
        announce_type: first_string(obj, &["announce_type"], false)?,
    };
    draft.finish(source)
}

/// The field, unless absent or `null`.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The first of `keys` that is present, as a string (numbers too when `numbers`: an id
/// written as a number, as a spreadsheet would).
fn first_string(
    obj: &Map<String, Value>,
    keys: &[&str],
    numbers: bool,
) -> Result<Option<String>, String> {
    for key in keys {
        match field(obj, key) {
            None => continue,
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Number(n)) if numbers => return Ok(Some(n.to_string())),
            Some(other) => {
                return Err(format!(
                    "field `{key}`: expected a string, found {}",
                    kind(other)
                ))
            }
        }
    }
    Ok(None)
}

fn date_of(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<NaiveDate>, String> {
    for key in keys {
        if let Some(s) = first_string(obj, &[key], false)? {
            return date_field(key, &s);
        }
    }
    Ok(None)
}

/// Authors as a list of names, a list of `{"name": ...}` objects, or one string.
pub(crate) fn author_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(split_authors(s)),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Object(o) => match o.get("name") {
                    Some(Value::String(s)) => Ok(s.clone()),
                    _ => Err("expected each author object to have a `name` string".to_string()),
                },
                other => Err(format!(
                    "expected a list of names, found {} in it",
                    kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a list of names or a string, found {}",
            kind(other)
        )),
    }
}

/// Kaggle's `authors_parsed`: `[["Last", "First", "Suffix", affiliations...], ...]`,
/// each becoming "First Last Suffix".
pub(crate) fn parsed_authors(v: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err(format!(
            "expected a list of [last, first, suffix] lists, found {}",
            kind(v)
        ));
    };
    let mut names = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err(format!(
                "expected [last, first, suffix] lists, found {} in it",
                kind(item)
            ));
        };
        let part = |i: usize| match parts.get(i) {
            Some(Value::String(s)) => s.trim(),
            _ => "",
        };
        let name = [part(1), part(0), part(2)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            names.push(name);
        }
    }
    Ok(names)
}

/// Categories as a list of strings or one string (`"math.CO cs.CG"`).
pub(crate) fn category_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(split_categories(s)),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "expected a list of strings, found {} in it",
                    kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a list or a string, found {}",
            kind(other)
        )),
    }
}

/// Kaggle's `versions` (`[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, ...]`):
/// the day of v1 (else of the first listed) and the day of the last one.
pub(crate) fn versions_dates(v: &Value) -> Result<(Option<NaiveDate>, Option<NaiveDate>), String> {
    let Value::Array(items) = v else {
        return Err(format!(
            "expected a list of {{version, created}}, found {}",
            kind(v)
        ));
    };
    let mut days = Vec::with_capacity(items.len());
    let mut v1 = None;
    for item in items {
        let (version, created) = match item {
            Value::Object(o) => (
                o.get("version").and_then(Value::as_str),
                o.get("created").and_then(Value::as_str),
            ),
            Value::String(s) => (None, Some(s.as_str())),
            other => {
                return Err(format!(
                    "expected a list of {{version, created}}, found {} in it",
                    kind(other)
                ))
            }
        };
        let Some(created) = created else {
            return Err("a version without `created`".to_string());
        };
        let day = parse_date(created)
            .ok_or_else(|| format!("`created` is not a date: `{}`", snippet(created)))?;
        if version == Some("v1") {
            v1 = Some(day);
        }
        days.push(day);
    }
    Ok((v1.or(days.first().copied()), days.last().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paper(v: Value) -> Result<Paper, String> {
        paper_from_json(v, Format::Jsonl)
    }

    #[test]
    fn kaggle_shape() {
        let p = paper_from_json(
            json!({"id": "0704.0001", "authors": "C. Bal\\'azs, E. L. Berger",
                   "title": "Calculation of prompt diphoton\n  production", "categories": "hep-ph astro-ph",
                   "abstract": "  A fully differential calculation.\n", "doi": "10.1103/PhysRevD.76.013009",
                   "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                                {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}],
                   "update_date": "2008-11-13",
                   "authors_parsed": [["Balázs", "C.", ""], ["Berger", "E. L.", "Jr"]]}),
            Format::KaggleJsonl,
        )
        .unwrap();
        assert_eq!(p.id, "0704.0001");
        assert_eq!(p.title, "Calculation of prompt diphoton production");
        assert_eq!(p.abstract_text, "A fully differential calculation.");
        assert_eq!(p.authors, ["C. Balázs", "E. L. Berger Jr"]);
        assert_eq!(p.categories, ["hep-ph", "astro-ph"]);
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2007, 4, 2));
        assert_eq!(p.updated, NaiveDate::from_ymd_opt(2007, 7, 24));
        assert_eq!(p.listed, None);
        assert_eq!(p.source, "kaggle");
    }

    #[test]
    fn update_date_when_no_versions() {
        let p =
            paper(json!({"id": "0704.0001", "title": "T", "update_date": "2008-11-13"})).unwrap();
        assert_eq!(p.updated, NaiveDate::from_ymd_opt(2008, 11, 13));
        assert_eq!(p.published, None);
    }

    #[test]
    fn own_serialization_round_trips() {
        let mut original = Paper::new("2605.01234", "A title");
        original.abstract_text = "Text with $x^2$ and ü.".into();
        original.authors = vec!["A B".into()];
        original.categories = vec!["cs.LG".into(), "cs.AI".into()];
        original.listed = NaiveDate::from_ymd_opt(2026, 5, 4);
        original.published = NaiveDate::from_ymd_opt(2026, 5, 1);
        original.updated = NaiveDate::from_ymd_opt(2026, 5, 3);
        original.url = Some("https://arxiv.org/abs/2605.01234".into());
        original.doi = Some("10.1/x".into());
        original.announce_type = Some("new".into());
        original.source = "jsonl".into();
        let v = serde_json::to_value(&original).unwrap();
        assert_eq!(paper(v).unwrap(), original);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (
                json!({"id": "1", "title": "T", "authors": 3}),
                "field `authors`",
            ),
            (json!({"id": "1", "title": ["T"]}), "field `title`"),
            (
                json!({"id": "1", "title": "T", "categories": [1]}),
                "field `categories`",
            ),
            (
                json!({"id": "1", "title": "T", "versions": "v1"}),
                "field `versions`",
            ),
            (
                json!({"id": "1", "title": "T", "versions": [{"version": "v1", "created": "never"}]}),
                "`created` is not a date",
            ),
            (
                json!({"id": "1", "title": "T", "listing_date": "soon"}),
                "field `listing_date`",
            ),
            (json!({"id": true, "title": "T"}), "field `id`"),
            (json!({"title": "T"}), "missing id"),
            (json!([1, 2]), "expected a JSON object, found a list"),
        ];
        for (v, want) in cases {
            let err = paper(v.clone()).unwrap_err();
            assert!(err.contains(want), "{v}: {err:?} should contain {want:?}");
        }
    }

    #[test]
    fn nulls_are_absent_and_numbers_are_ids() {
        let p = paper(
            json!({"id": 704.0001, "title": "T", "summary": null, "comment": null,
                             "authors": null, "doi": null}),
        )
        .unwrap();
        assert_eq!(p.id, "0704.0001");
        assert_eq!(p.abstract_text, "");
        assert!(p.authors.is_empty() && p.doi.is_none());
    }

    #[test]
    fn capped_lines_skip_over_long_lines() {
        let mut input = b"\xEF\xBB\xBFfirst\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend(b"\nthird\nlast-without-newline");
        let mut lines = CappedLines::new(io::Cursor::new(input));
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line() {
            seen.push(match line.unwrap() {
                Line::Text(n, t) => format!("{n}:{}", String::from_utf8_lossy(t)),
                Line::TooLong(n) => format!("{n}:too long"),
            });
        }
        assert_eq!(
            seen,
            ["1:first", "2:too long", "3:third", "4:last-without-newline"]
        );
    }
}
