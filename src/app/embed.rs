//! Reading the input of a batch embedding job (`paperscout embed`): JSON Lines of
//! texts or papers, or any format `ingest` reads, as `(id, text)` records; then the
//! job itself, which `job` owns.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::Models;
use crate::embed::kernels::Precision;
use crate::error::{Error, Result};
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

/// How many records [`embed_records`] yields for `path`: for line-based inputs the
/// lines that are not blank (each is one record, good or bad), else by reading them.
fn count_records(path: &Path, line_based: bool) -> Result<u64> {
    if !line_based {
        let (records, _) = embed_records(path)?;
        return Ok(records.count() as u64);
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0u64;
    for line in BufReader::with_capacity(1 << 20, file).split(b'\n') {
        let line = line.map_err(|e| Error::io(path, e))?;
        // A line that is not UTF-8 is a record too (an error record).
        if std::str::from_utf8(&line).map_or(true, |s| !s.trim().is_empty()) {
            n += 1;
        }
    }
    Ok(n)
}

/// Records of an embed input as `(id, text)`. JSON Lines (and the Kaggle snapshot,
/// which is JSON Lines with title and abstract) go through [`parse_embed_line`], so
/// plain `{"text": ...}` lines work; other formats through `ingest` and the paper text
/// rule. The flag says whether records are lines (so a line count sizes the progress bar).
pub type RecordIter = Box<dyn Iterator<Item = Result<(String, String)>> + Send>;

pub fn embed_records(path: &Path) -> Result<(RecordIter, bool)> {
    match ingest::detect(path) {
        Ok(Format::Jsonl | Format::KaggleJsonl) | Err(_) => {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let path = path.to_path_buf();
            let lines = BufReader::new(file).lines().enumerate();
            let records = lines.filter_map(move |(index, line)| {
                let line_no = index as u64 + 1;
                match line {
                    Err(e) => Some(Err(Error::Input {
                        path: path.clone(),
                        line: line_no,
                        message: format!("cannot read line: {e}"),
                    })),
                    Ok(line) if line.trim().is_empty() => None,
                    Ok(line) => Some(parse_embed_line(&path, line_no, &line)),
                }
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

/// One input line of `paperscout embed`.
#[derive(Deserialize)]
struct EmbedRecord {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, alias = "summary")]
    r#abstract: Option<String>,
}

/// `(id, text)` of one JSON Lines record: `text` verbatim, else the paper text of
/// `title` and `abstract`/`summary`. The id is the record's `id` as a string (a number
/// keeps its digits), else the 1-based line number.
pub fn parse_embed_line(path: &Path, line_no: u64, line: &str) -> Result<(String, String)> {
    let bad = |message: String| Error::Input {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let record: EmbedRecord =
        serde_json::from_str(line).map_err(|e| bad(format!("expected a JSON object: {e}")))?;
    let id = match record.id {
        None | Some(serde_json::Value::Null) => line_no.to_string(),
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    match (record.text, record.title, record.r#abstract) {
        (Some(text), _, _) => Ok((id, text)),
        (None, Some(title), abs) => Ok((id, paper_text(&title, abs.as_deref().unwrap_or("")))),
        (None, None, _) => Err(bad(
            "expected a \"text\" field, or \"title\" with \"abstract\" or \"summary\"".into(),
        )),
    }
}

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
