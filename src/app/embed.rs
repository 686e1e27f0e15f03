//! Reading the input of a batch embedding job (`paperscout embed`): JSON Lines of
//! texts or papers, or any format `ingest` reads, as `(id, text)` records; then the
//! job itself, which `job` owns.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::Models;
use crate::embed::kernels::Precision;
use crate::error::{Error, Result};
use crate::ingest::json::{json_error_message, kind as json_kind, CappedLines, Line};
use crate::ingest::{self, Format};
use crate::job::{
    self, InputKey, JobOptions, JobSummary, OutputFormat, OutputMeta, Shard, ShardMeta,
};
use crate::paper::paper_text;

/// Embed the records of `input` into `output` (JSON Lines on standard output when
/// `None`), resumably. Bad options and output formats fail before the model loads.
pub fn embed_file(
    models: &Models,
    input: &Path,
    output: Option<&Path>,
    opts: JobOptions,
) -> Result<JobSummary> {
    embed_part(models, input, output, opts, None)
}

/// [`embed_file`] for part `shard` of the input only (`None`: all of it): the
/// records of [`Shard::range`] of the input's record count, in input order, so the
/// parts written one after the other are the whole output. Each part has its own
/// checkpoint (its output's) and resumes like a whole run. The output's metadata names
/// the model by the identity a library records and, for a part, which part it is
/// ([`crate::job::meta`]).
///
/// Counting the records reads the input once more before embedding (a line count for
/// JSON Lines; other formats are parsed): seconds for millions of lines, against hours
/// of embedding.
pub fn embed_part(
    models: &Models,
    input: &Path,
    output: Option<&Path>,
    opts: JobOptions,
    shard: Option<Shard>,
) -> Result<JobSummary> {
    opts.validate()?;
    OutputFormat::resolve(opts.format, output)?;
    let mut input_key = InputKey::file(input)?;
    let (records, line_based) = embed_records(input)?;
    let (records, part) = match shard {
        None => (records, None),
        Some(shard) => {
            let total = count_records(input, line_based)?;
            let range = shard.range(total);
            tracing::info!(%shard, total, first = range.start, end = range.end, "embedding one part");
            // A part's checkpoint must not be taken for another part's.
            input_key = InputKey::named(format!("{} part {shard}", input_key.as_str()));
            let part: RecordIter = Box::new(
                records
                    .skip(range.start as usize)
                    .take((range.end - range.start) as usize),
            );
            let meta = ShardMeta {
                shard,
                first: range.start,
                records: total,
            };
            (part, Some((meta, range.end - range.start)))
        }
    };
    let model = models.get()?;
    tracing::info!(
        model = model.embedder.name(),
        dim = model.embedder.dim(),
        "model loaded"
    );
    let total_hint = match part {
        Some((_, n)) => Some(n),
        None if opts.progress && line_based => count_lines(input),
        None => None,
    };
    let opts = JobOptions {
        total_hint: total_hint.filter(|_| opts.progress),
        meta: OutputMeta {
            model: Some(model.info.clone()),
            shard: part.map(|(meta, _)| meta),
            precision: match model.embedder.precision() {
                Some(Precision::Int8) => Some(Precision::Int8.name().to_string()),
                _ => None,
            },
        },
        ..opts
    };
    job::run_job(&model.embedder, &input_key, records, output, &opts)
}

/// How many records [`embed_records`] yields for `path`: for line-based inputs its
/// record lines (each is one record, good or bad), else by reading them.
fn count_records(path: &Path, line_based: bool) -> Result<u64> {
    if !line_based {
        let (records, _) = embed_records(path)?;
        return Ok(records.count() as u64);
    }
    let mut n = 0u64;
    for line in record_lines(path)? {
        // A line that is not a good record is still one record; only a failed read
        // ends the count.
        if let Err(e @ Error::Io { .. }) = line {
            return Err(e);
        }
        n += 1;
    }
    Ok(n)
}

/// The lines of a JSON Lines input that are records, as `(line number, text)`: every
/// line but blank ones, read by `ingest`'s line reader, so a UTF-8 byte order mark,
/// CRLF endings and the record size cap are treated as `ingest` treats them. A line
/// over the cap or not UTF-8 is an error record naming its line; a failed read, an
/// [`Error::Io`], ends the lines.
fn record_lines(path: &Path) -> Result<impl Iterator<Item = Result<(u64, String)>> + Send> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut lines = CappedLines::new(BufReader::with_capacity(1 << 16, file));
    let path = path.to_path_buf();
    Ok(std::iter::from_fn(move || loop {
        let (line_no, bytes) = match lines.next_line()? {
            Ok(Line::Text(n, bytes)) => (n, bytes),
            Ok(Line::TooLong(n)) => {
                let limit = ingest::MAX_RECORD_BYTES >> 20;
                let message = format!("record is longer than the {limit} MiB limit");
                return Some(Err(ingest::bad_record(&path, n, message)));
            }
            Err(e) => return Some(Err(Error::io(&path, e))),
        };
        match std::str::from_utf8(bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => return Some(Ok((line_no, text.to_owned()))),
            Err(e) => {
                let message = format!("expected UTF-8 text: {e}");
                return Some(Err(ingest::bad_record(&path, line_no, message)));
            }
        }
    }))
}

/// Records of an embed input as `(id, text)`. JSON Lines (and the Kaggle snapshot,
/// which is JSON Lines with title and abstract) go through [`parse_embed_line`], so
/// plain `{"text": ...}` lines work; other formats through `ingest` and the paper text
/// rule. The flag says whether records are lines (so a line count sizes the progress bar).
pub type RecordIter = Box<dyn Iterator<Item = Result<(String, String)>> + Send>;

pub fn embed_records(path: &Path) -> Result<(RecordIter, bool)> {
    match ingest::detect(path) {
        Ok(Format::Jsonl | Format::KaggleJsonl) | Err(_) => {
            let path = path.to_path_buf();
            let records = record_lines(&path)?.map(move |line| {
                let (line_no, text) = line?;
                parse_embed_line(&path, line_no, &text)
            });
            Ok((Box::new(records), true))
        }
        Ok(format) => {
            let records = ingest::read(path, Some(format))?;
            let records = records.map(|r| {
                r.map(|p| {
                    let text = p.text();
                    (p.id, text)
                })
            });
            Ok((Box::new(records), false))
        }
    }
}

/// `(id, text)` of one JSON Lines record: `text` verbatim, else the paper text of
/// `title` and `abstract` (or `summary`). The id is the record's `id` as a string (a
/// number keeps its digits), else the 1-based line number. A text field present with
/// another type than a string (or `null`, the same as absent) is an error naming it.
pub fn parse_embed_line(path: &Path, line_no: u64, line: &str) -> Result<(String, String)> {
    let bad = |message: String| ingest::bad_record(path, line_no, message);
    let value: Value = serde_json::from_str(line).map_err(|e| {
        if line.trim_start().starts_with('[') {
            bad(format!(
                "expected a JSON object, found a list ({ONE_OBJECT_A_LINE})"
            ))
        } else {
            bad(json_error_message(&e))
        }
    })?;
    let Value::Object(record) = value else {
        let found = json_kind(&value);
        return Err(bad(format!(
            "expected a JSON object, found {found} ({ONE_OBJECT_A_LINE})"
        )));
    };
    let text = |key: &str| match record.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(bad(format!(
            "field `{key}`: expected a string, found {}",
            json_kind(other)
        ))),
    };
    let id = match record.get("id") {
        None | Some(Value::Null) => line_no.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if let Some(text) = text("text")? {
        return Ok((id, text.to_string()));
    }
    let Some(title) = text("title")? else {
        return Err(bad(
            "expected a \"text\" field, or \"title\" with \"abstract\" or \"summary\"".into(),
        ));
    };
    let abstract_ = match text("abstract")? {
        Some(a) => Some(a),
        None => text("summary")?,
    };
    Ok((id, paper_text(title, abstract_.unwrap_or(""))))
}

/// How an embed input error says what JSON Lines is.
const ONE_OBJECT_A_LINE: &str = "JSON Lines: one object a line";

/// Lines in `path`, for the progress bar's length; `None` when it cannot be read.
fn count_lines(path: &Path) -> Option<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).ok()?);
    let mut n = 0u64;
    loop {
        let buf = reader.fill_buf().ok()?;
        if buf.is_empty() {
            return Some(n);
        }
        n += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = buf.len();
        reader.consume(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the tests compare it: `(id, text)` or the error's message.
    type Record = std::result::Result<(String, String), String>;

    /// Every record of `content`, with the number of records `count_records` reports
    /// for the same file.
    fn read(content: &[u8]) -> (Vec<Record>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, content).unwrap();
        let (records, line_based) = embed_records(&path).unwrap();
        assert!(line_based);
        let records = records
            .map(|r| r.map_err(|e| e.to_string().replace(&path.display().to_string(), "IN")))
            .collect();
        (records, count_records(&path, true).unwrap())
    }

    fn ok(id: &str, text: &str) -> Record {
        Ok((id.to_string(), text.to_string()))
    }

    #[test]
    fn byte_order_mark_crlf_and_blank_lines_are_read_as_ingest_reads_them() {
        let input = b"\xEF\xBB\xBF{\"id\": \"a\", \"text\": \"first\"}\r\n\r\n  \n\
            {\"title\": \"T\", \"summary\": \"S  s\"}\r\n\
            {\"id\": 7, \"title\": \"U\", \"abstract\": null, \"summary\": \"V\"}";
        let (records, count) = read(input);
        assert_eq!(
            records,
            [ok("a", "first"), ok("4", "T. S s"), ok("7", "U. V")]
        );
        assert_eq!(count, 3);
        // A file that is only a byte order mark and blank lines has no records.
        let (records, count) = read(b"\xEF\xBB\xBF\r\n\n");
        assert!(records.is_empty());
        assert_eq!(count, 0);
    }

    #[test]
    fn bad_lines_name_their_line_and_what_was_expected() {
        let input = [
            &b"[{\"text\": \"a JSON array, not JSON Lines\"}]\n"[..],
            b"[\n",
            b"\"a string\"\n",
            b"{\"text\": 5}\n",
            b"{\"title\": \"T\", \"abstract\": [\"x\"]}\n",
            b"{\"id\": \"x\"}\n",
            b"{\"text\": oops}\n",
            b"{\"text\": \"\xFF\"}\n",
            b"{\"text\": \"fine\"}\n",
        ]
        .concat();
        let (records, count) = read(&input);
        let want = [
            Err("IN:1: expected a JSON object, found a list (JSON Lines: one object a line)"),
            Err("IN:2: expected a JSON object, found a list (JSON Lines: one object a line)"),
            Err("IN:3: expected a JSON object, found a string (JSON Lines: one object a line)"),
            Err("IN:4: field `text`: expected a string, found a number"),
            Err("IN:5: field `abstract`: expected a string, found a list"),
            Err("IN:6: expected a \"text\" field, or \"title\" with \"abstract\" or \"summary\""),
            Err("IN:7: invalid JSON at column 10: expected value"),
            Err("IN:8: expected UTF-8 text: invalid utf-8 sequence of 1 bytes from index 10"),
            Ok(("9", "fine")),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|w| match w {
                Ok((id, text)) => ok(id, text),
                Err(m) => Err(m.to_string()),
            })
            .collect();
        assert_eq!(records, want);
        assert_eq!(count, 9, "every bad line is one record");
    }

    #[test]
    fn a_line_over_the_record_cap_is_an_error_record_not_held_in_memory() {
        let mut input = b"{\"text\": \"".to_vec();
        input.resize(ingest::MAX_RECORD_BYTES + 10, b'x');
        input.extend_from_slice(b"\"}\n{\"text\": \"after\"}\n");
        let (records, count) = read(&input);
        assert_eq!(
            records,
            [
                Err("IN:1: record is longer than the 16 MiB limit".to_string()),
                ok("2", "after")
            ]
        );
        assert_eq!(count, 2);
    }
}
