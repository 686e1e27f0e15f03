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
use crate::paper::paper_text;

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
    /// Embed texts from a JSON Lines file; write one {"id", "embedding"} line per input line.
    Embed(EmbedArgs),
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
        Command::Embed(args) => run_embed(&cli.global, device_choice, args),
    }
}

fn load_embedder(global: &GlobalArgs, device_choice: DeviceChoice) -> Result<Embedder> {
    let engine: Engine = global.engine.parse()?;
    let device = embed::device(device_choice)?;
    let files = ModelFiles::resolve(global.model.as_deref())?;
    Embedder::load_with_engine(&files, &device, engine)
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
