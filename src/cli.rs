//! The command-line surface: argument definitions (clap derive) and one `run_*`
//! function per subcommand. Arguments are validated into plain settings before any
//! work starts; the work itself is done by the library modules.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::embed::{self, DeviceChoice, Embedder, Engine, ModelFiles};
use crate::error::{Error, Result};
use crate::ingest::{self, Format};
use crate::job::{self, InputKey, JobOptions, OutputFormat};
use crate::library::{Library, ModelInfo, Writer, WriterOptions};
use crate::paper::{canonical_id, paper_text, Paper};
use chrono::NaiveDate;

#[derive(Debug, Parser)]
#[command(name = "paperscout", version, about = "A semantic paper recommender", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Embedding model: a sentence-transformers directory or a hub id. Default: the
    /// project's models/all-MiniLM-L6-v2 (scripts/fetch-model.sh), then the hub.
    #[arg(long, global = true, env = "PAPERSCOUT_MODEL")]
    pub model: Option<String>,

    /// Where the model runs: cpu, cuda, or auto (cuda when compiled in and present).
    #[arg(long, global = true, default_value = "auto")]
    pub device: String,

    /// Encoder implementation: auto (our CPU encoder on the CPU, Candle's on CUDA) or
    /// candle (Candle's stock BertModel everywhere; slower on the CPU, for comparison).
    #[arg(long, global = true, default_value = "auto")]
    pub engine: String,

    /// Log more (-v: progress, -vv: timings of each step). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add papers to the library: embed new ones, update the metadata of known ones.
    Ingest(IngestArgs),
    /// Inspect the library.
    #[command(subcommand)]
    Library(LibraryCommand),
    /// Papers most similar to one in the library (by id or arXiv URL).
    Similar(SimilarArgs),
    /// Papers most similar to a free-text query.
    Search(SearchArgs),
    /// Embed texts in bulk: streaming, resumable, to JSON Lines, .npy or .safetensors.
    Embed(EmbedArgs),
    /// Replay a dated corpus with simulated users; print nDCG@10 and P@10 of the
    /// paperscout ranker and of the baselines (random, mean of likes,
    /// zotero-arxiv-daily, arxiv-sanity-lite) computed in the same run.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Directory of dated JSONL files (one object per paper with `listing_date`).
    #[arg(long, default_value = "../shared/data/arxiv-daily-cs-2026h1")]
    pub data: PathBuf,
    /// Directory of row-aligned NAME.npy vectors of those files; default DATA/minilm-embeddings.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// Profiles are built from papers listed before this day; later days are ranked.
    #[arg(long, default_value = "2026-05-01")]
    pub history_until: String,
    /// Last test day (inclusive); default: the corpus' last day.
    #[arg(long)]
    pub test_until: Option<String>,
    /// Number of simulated users (more: tighter figures, longer run).
    #[arg(long, default_value_t = 60)]
    pub users: usize,
    /// Seed of the simulation: the same seed gives the same figures.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct LibraryArg {
    /// Library directory. Default: $XDG_DATA_HOME/paperscout/library (or
    /// ~/.local/share/paperscout/library).
    #[arg(long, env = "PAPERSCOUT_LIBRARY")]
    pub library: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files to read: project JSONL, arXiv API Atom, arXiv listing RSS/Atom, Hugging
    /// Face daily_papers JSON, the Kaggle arXiv snapshot (JSONL) or CSV with a header.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Input format of every file: auto (detected from the content of each), jsonl,
    /// arxiv-atom, arxiv-rss, hf-daily, kaggle or csv.
    #[arg(long, default_value = "auto")]
    pub format: String,

    /// Stop at the first malformed record, before anything is committed. Default: skip
    /// malformed records, count them and report them at the end.
    #[arg(long)]
    pub strict: bool,

    /// Papers per commit: a kill loses at most this many; smaller costs more fsyncs.
    #[arg(long, default_value_t = 1024)]
    pub commit_every: usize,

    #[command(flatten)]
    pub library: LibraryArg,
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Papers, listing days, categories, model and index of the library.
    Stats {
        /// table or json (the JSON object has `papers`, the number of distinct papers).
        #[arg(long, default_value = "table")]
        format: String,
        #[command(flatten)]
        library: LibraryArg,
    },
    /// Rebuild the HNSW index from the stored vectors (the repair for a damaged or
    /// lost index dump); papers and vectors are kept as they are.
    Reindex {
        #[command(flatten)]
        library: LibraryArg,
    },
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// A paper id (any arXiv version) or an arXiv abs/pdf URL.
    pub paper: String,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in words.
    pub text: String,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// How many papers to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Only papers listed on this day (YYYY-MM-DD).
    #[arg(long, conflicts_with = "since")]
    pub date: Option<String>,
    /// Only papers listed in the last N days up to the library's latest listing day.
    #[arg(long)]
    pub since: Option<u32>,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    #[command(flatten)]
    pub library: LibraryArg,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Input file. JSON Lines whose objects have "text", or "title" plus "abstract" (or
    /// "summary"), and an optional "id"; or any format `paperscout ingest` reads (arXiv
    /// Atom/RSS, Hugging Face daily papers, CSV, the Kaggle snapshot), detected from
    /// the content.
    #[arg(long, short)]
    pub input: PathBuf,

    /// Output file; JSON Lines on standard output when absent (not resumable). The file
    /// appears only once complete; a killed run resumes from its checkpoint
    /// (OUTPUT.partial/) when the same command is run again.
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// Output format: jsonl, npy (ids in OUTPUT.ids.json) or safetensors (ids in the
    /// metadata). Default: from the output's extension, else jsonl.
    #[arg(long)]
    pub format: Option<String>,

    /// Most padded tokens in one forward pass: larger batches amortise overhead,
    /// smaller ones bound memory (attention grows with batch × length²).
    #[arg(long, default_value_t = JobOptions::default().batch_tokens)]
    pub batch_tokens: usize,

    /// Records read, tokenized and length-sorted together: larger windows batch texts
    /// of similar length more often; memory holds two windows.
    #[arg(long, default_value_t = JobOptions::default().window)]
    pub window: usize,

    /// Commit a checkpoint every N windows: more often loses less to a kill, at the
    /// cost of an fsync each time.
    #[arg(long, default_value_t = JobOptions::default().checkpoint_every)]
    pub checkpoint_every: usize,

    /// Discard an existing checkpoint of OUTPUT and start over.
    #[arg(long)]
    pub restart: bool,

    /// No progress bar or progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let device_choice: DeviceChoice = cli.global.device.parse()?;
    match cli.command {
        Command::Ingest(args) => run_ingest(&cli.global, device_choice, args),
        Command::Library(LibraryCommand::Stats { format, library }) => run_stats(&format, &library),
        Command::Library(LibraryCommand::Reindex { library }) => run_reindex(&library),
        Command::Similar(args) => run_similar(&cli.global, device_choice, args),
        Command::Search(args) => run_search(&cli.global, device_choice, args),
        Command::Embed(args) => run_embed(&cli.global, device_choice, args),
        Command::Eval(args) => run_eval(args),
    }
}

fn load_embedder(global: &GlobalArgs, device_choice: DeviceChoice) -> Result<Embedder> {
    Ok(load_model(global, device_choice)?.0)
}

/// The embedder and the identity its vectors are stored under in a library.
fn load_model(global: &GlobalArgs, device_choice: DeviceChoice) -> Result<(Embedder, ModelInfo)> {
    let engine: Engine = global.engine.parse()?;
    let device = embed::device(device_choice)?;
    let files = ModelFiles::resolve(global.model.as_deref())?;
    let embedder = Embedder::load_with_engine(&files, &device, engine)?;
    let info = ModelInfo::new(
        files.display_name(),
        files.weights_sha256()?,
        embedder.dim(),
    );
    Ok((embedder, info))
}

/// The library directory: `--library`, `PAPERSCOUT_LIBRARY`, else the platform's data
/// directory.
fn library_dir(arg: &LibraryArg) -> Result<PathBuf> {
    if let Some(dir) = &arg.library {
        return Ok(dir.clone());
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Error::Invalid("no --library given and no HOME to put one in".into()))?;
    Ok(data.join("paperscout/library"))
}

fn run_ingest(global: &GlobalArgs, device_choice: DeviceChoice, args: IngestArgs) -> Result<()> {
    let format = match args.format.as_str() {
        "auto" => None,
        name => Some(name.parse::<Format>()?),
    };
    if args.commit_every == 0 {
        return Err(Error::Invalid("--commit-every must be at least 1".into()));
    }
    for file in &args.files {
        if !file.is_file() {
            return Err(Error::io(
                file,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
    }
    if args.strict {
        // Read everything once before anything is embedded or committed.
        for file in &args.files {
            for record in ingest::read(file, format)? {
                record?;
            }
        }
    }
    let dir = library_dir(&args.library)?;
    let (embedder, model) = load_model(global, device_choice)?;
    let mut writer = Writer::open(&dir, &model, &WriterOptions::default())?;
    let mut totals = IngestTotals::default();
    let mut bad: Vec<Error> = Vec::new();
    for file in &args.files {
        let records = ingest::read(file, format)?;
        let mut batch = Vec::with_capacity(args.commit_every);
        for record in records {
            match record {
                Ok(mut paper) => {
                    // A listing feed's replacement is an update of an older paper, not a
                    // paper of that day: it keeps its metadata but claims no listing day.
                    if paper
                        .announce_type
                        .as_deref()
                        .is_some_and(|t| t.starts_with("replace"))
                    {
                        paper.listed = None;
                    }
                    batch.push(paper);
                }
                Err(e) if args.strict => return Err(e),
                Err(e) => bad.push(e),
            }
            if batch.len() == args.commit_every {
                ingest_batch(&mut writer, &embedder, &mut batch, &mut totals)?;
            }
        }
        ingest_batch(&mut writer, &embedder, &mut batch, &mut totals)?;
        totals.files += 1;
    }
    let info = writer.finish()?;
    println!(
        "ingested {} records from {} file(s) into {}: {} new, {} updated, {} re-embedded, {} unchanged, {} duplicates folded; library now {} papers",
        totals.records, totals.files, dir.display(), totals.new, totals.metadata_only, totals.reembedded,
        totals.unchanged, totals.duplicates, info.papers
    );
    if !bad.is_empty() {
        eprintln!("skipped {} malformed record(s):", bad.len());
        for e in bad.iter().take(20) {
            eprintln!("  {e}");
        }
        if bad.len() > 20 {
            eprintln!(
                "  ... and {} more (use --strict to stop at the first)",
                bad.len() - 20
            );
        }
    }
    Ok(())
}

#[derive(Default)]
struct IngestTotals {
    files: usize,
    records: usize,
    new: usize,
    metadata_only: usize,
    reembedded: usize,
    unchanged: usize,
    duplicates: usize,
}

/// Embed what a batch needs, upsert it and commit; empties `batch`.
fn ingest_batch(
    writer: &mut Writer,
    embedder: &Embedder,
    batch: &mut Vec<Paper>,
    totals: &mut IngestTotals,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let plan = writer.plan(batch);
    let vectors = embedder.embed(&plan.texts)?;
    let counts = writer.upsert(batch, &vectors)?;
    writer.commit()?;
    totals.records += batch.len();
    totals.new += counts.new;
    totals.metadata_only += counts.metadata_only;
    totals.reembedded += counts.reembedded;
    totals.unchanged += counts.unchanged;
    totals.duplicates += counts.duplicates;
    tracing::info!(records = totals.records, new = totals.new, "committed");
    batch.clear();
    Ok(())
}

fn run_stats(format: &str, library: &LibraryArg) -> Result<()> {
    let dir = library_dir(library)?;
    let lib = Library::open_any_model(&dir)?;
    let stats = lib.stats();
    match format {
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&stats).map_err(|e| Error::Invalid(e.to_string()))?
        ),
        "table" => print!("{stats}"),
        other => {
            return Err(Error::Invalid(format!(
                "unknown format {other:?}: expected table or json"
            )))
        }
    }
    Ok(())
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let day = |flag: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| Error::Invalid(format!("{flag} {s:?}: expected YYYY-MM-DD ({e})")))
    };
    let opts = crate::eval::EvalOptions {
        data: args.data,
        embeddings: args.embeddings,
        history_until: day("--history-until", &args.history_until)?,
        test_until: args
            .test_until
            .as_deref()
            .map(|s| day("--test-until", s))
            .transpose()?,
        users: args.users,
        seed: args.seed,
        ..crate::eval::EvalOptions::default()
    };
    if !matches!(args.format.as_str(), "table" | "json") {
        return Err(Error::Invalid(format!(
            "unknown format {:?}: expected table or json",
            args.format
        )));
    }
    let report = crate::eval::run(&opts)?;
    if args.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Error::Invalid(e.to_string()))?
        );
    } else {
        print!("{}", crate::eval::format_table(&report));
    }
    Ok(())
}

fn run_reindex(library: &LibraryArg) -> Result<()> {
    let dir = library_dir(library)?;
    // The stored model identity is kept: reindexing compares no new vectors.
    let model = crate::library::stored_model(&dir)?;
    let info = Writer::reindex(&dir, &model, &WriterOptions::default())?;
    println!(
        "rebuilt the index of {} ({} papers)",
        dir.display(),
        info.papers
    );
    Ok(())
}

fn run_similar(global: &GlobalArgs, device_choice: DeviceChoice, args: SimilarArgs) -> Result<()> {
    let dir = library_dir(&args.query.library)?;
    let lib = Library::open_any_model(&dir)?;
    let id = canonical_id(&args.paper);
    let query = lib
        .vector(&id)
        .ok_or_else(|| Error::UnknownIds(vec![args.paper.clone()]))?
        .to_vec();
    let _ = (global, device_choice); // similar needs no model: the vector is stored
    print_hits(&lib, &query, Some(&id), &args.query)
}

fn run_search(global: &GlobalArgs, device_choice: DeviceChoice, args: SearchArgs) -> Result<()> {
    let dir = library_dir(&args.query.library)?;
    let (embedder, model) = load_model(global, device_choice)?;
    let lib = Library::open(&dir, &model)?;
    let query = embedder.embed(&[args.text.as_str()])?.remove(0);
    print_hits(&lib, &query, None, &args.query)
}

/// The nearest papers to `query` (never `exclude`), within the date window, printed.
fn print_hits(lib: &Library, query: &[f32], exclude: Option<&str>, args: &QueryArgs) -> Result<()> {
    let window = date_window(lib, args.date.as_deref(), args.since)?;
    let keep = |p: &Paper| {
        exclude != Some(p.id.as_str())
            && window.is_none_or(|(from, to)| p.listed.is_some_and(|d| d >= from && d <= to))
    };
    let hits = lib.nearest(query, args.top, Some(&keep))?;
    match args.format.as_str() {
        "json" => {
            let items: Vec<_> = hits
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    serde_json::json!({
                        "rank": i + 1,
                        "id": h.paper.id,
                        "title": h.paper.title,
                        "score": h.similarity,
                        "url": h.paper.link(),
                        "categories": h.paper.categories,
                        "listed": h.paper.listed,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({ "query": exclude, "items": items })
            );
        }
        "table" => {
            for (i, h) in hits.iter().enumerate() {
                let day = h.paper.listed.map(|d| d.to_string()).unwrap_or_default();
                println!(
                    "{:>3}. {:.3}  {:<11} {:<10}  {}",
                    i + 1,
                    h.similarity,
                    h.paper.id,
                    day,
                    truncate(&h.paper.title, 90)
                );
            }
        }
        other => {
            return Err(Error::Invalid(format!(
                "unknown format {other:?}: expected table or json"
            )))
        }
    }
    Ok(())
}

/// `(from, to)` listing days, inclusive, for `--date` or `--since`.
fn date_window(
    lib: &Library,
    date: Option<&str>,
    since: Option<u32>,
) -> Result<Option<(NaiveDate, NaiveDate)>> {
    if let Some(d) = date {
        let day = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|e| Error::Invalid(format!("--date {d:?}: expected YYYY-MM-DD ({e})")))?;
        return Ok(Some((day, day)));
    }
    let Some(n) = since else { return Ok(None) };
    let last = lib.papers().filter_map(|p| p.listed).max().ok_or_else(|| {
        Error::Invalid("--since: no paper in the library has a listing day".into())
    })?;
    let from = last - chrono::Days::new(u64::from(n.saturating_sub(1)));
    Ok(Some((from, last)))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn run_embed(global: &GlobalArgs, device_choice: DeviceChoice, args: EmbedArgs) -> Result<()> {
    let opts = JobOptions {
        batch_tokens: args.batch_tokens,
        window: args.window,
        checkpoint_every: args.checkpoint_every,
        format: args.format.as_deref().map(str::parse).transpose()?,
        progress: !args.quiet,
        restart: args.restart,
        catch_signals: true,
        ..JobOptions::default()
    };
    opts.validate()?;
    // Decide the output format now, so a bad extension or flag fails before the model loads.
    OutputFormat::resolve(opts.format, args.output.as_deref())?;
    let input_key = InputKey::file(&args.input)?;
    let (records, line_based) = embed_records(&args.input)?;
    let embedder = load_embedder(global, device_choice)?;
    tracing::info!(
        model = embedder.name(),
        dim = embedder.dim(),
        "model loaded"
    );
    let opts = JobOptions {
        total_hint: if opts.progress && line_based {
            count_lines(&args.input)
        } else {
            None
        },
        ..opts
    };
    let summary = job::run_job(
        &embedder,
        &input_key,
        records,
        args.output.as_deref(),
        &opts,
    )?;
    tracing::info!(
        texts = summary.texts,
        tokens = summary.tokens,
        seconds = summary.seconds,
        resumed_from = summary.resumed_from,
        "embedded"
    );
    Ok(())
}

/// Records of an embed input as `(id, text)`. JSON Lines (and the Kaggle snapshot,
/// which is JSON Lines with title and abstract) go through [`parse_embed_line`], so
/// plain `{"text": ...}` lines work; other formats through `ingest` and the paper text
/// rule. The flag says whether records are lines (so a line count sizes the progress bar).
type RecordIter = Box<dyn Iterator<Item = Result<(String, String)>> + Send>;

fn embed_records(path: &Path) -> Result<(RecordIter, bool)> {
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
