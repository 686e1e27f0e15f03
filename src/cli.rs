//! The command-line surface: argument definitions (clap derive) and one `run_*`
//! function per subcommand. Arguments are validated into plain settings before any
//! work starts; the work itself is done by the library modules.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::embed::{self, BatchOptions, DeviceChoice, Embedder};
use crate::error::{Error, Result};
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
    /// JSON Lines input: each line an object with "text", or "title" plus "abstract"
    /// (or "summary"), and an optional "id". Blank lines are skipped.
    #[arg(long, short)]
    pub input: PathBuf,

    /// Output file (JSON Lines); standard output when absent. The file appears only
    /// when the whole input has been embedded.
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// Most padded tokens in one forward pass: larger batches amortise overhead,
    /// smaller ones bound memory (attention grows with batch × length²).
    #[arg(long, default_value_t = BatchOptions::default().max_batch_tokens)]
    pub batch_tokens: usize,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let device_choice: DeviceChoice = cli.global.device.parse()?;
    match cli.command {
        Command::Embed(args) => run_embed(&cli.global, device_choice, args),
    }
}

fn load_embedder(global: &GlobalArgs, device_choice: DeviceChoice) -> Result<Embedder> {
    let device = embed::device(device_choice)?;
    Embedder::from_request(global.model.as_deref(), &device)
}

/// Records are embedded this many at a time, so memory stays bounded by the chunk.
const EMBED_CHUNK: usize = 1024;

fn run_embed(global: &GlobalArgs, device_choice: DeviceChoice, args: EmbedArgs) -> Result<()> {
    if args.batch_tokens == 0 {
        return Err(Error::Invalid("--batch-tokens must be at least 1".into()));
    }
    let input = File::open(&args.input).map_err(|e| Error::io(&args.input, e))?;
    let embedder = load_embedder(global, device_choice)?.with_batch_options(BatchOptions {
        max_batch_tokens: args.batch_tokens,
        ..BatchOptions::default()
    });
    tracing::info!(
        model = embedder.name(),
        dim = embedder.dim(),
        "model loaded"
    );

    match &args.output {
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let n = embed_jsonl(&embedder, &args.input, BufReader::new(input), &mut out)?;
            out.flush().map_err(|e| Error::io("<stdout>", e))?;
            tracing::info!(texts = n, "embedded");
        }
        Some(path) => {
            let tmp = AtomicFile::create(path)?;
            let mut out = BufWriter::new(tmp.file()?);
            let n = embed_jsonl(&embedder, &args.input, BufReader::new(input), &mut out)?;
            out.flush().map_err(|e| Error::io(path, e))?;
            drop(out);
            tmp.commit()?;
            tracing::info!(texts = n, output = %path.display(), "embedded");
        }
    }
    Ok(())
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

impl EmbedRecord {
    /// The text to embed: `text` verbatim, else the paper rule over title and abstract.
    fn into_text(self) -> std::result::Result<(Option<serde_json::Value>, String), &'static str> {
        match (self.text, self.title, self.r#abstract) {
            (Some(text), _, _) => Ok((self.id, text)),
            (None, Some(title), abs) => {
                Ok((self.id, paper_text(&title, abs.as_deref().unwrap_or(""))))
            }
            (None, None, _) => {
                Err("expected a \"text\" field, or \"title\" with \"abstract\" or \"summary\"")
            }
        }
    }
}

#[derive(serde::Serialize)]
struct EmbedOutput<'a> {
    id: &'a serde_json::Value,
    embedding: &'a [f32],
}

/// Embed every line of a JSON Lines stream; write one output line per input record,
/// in input order. A record without `id` gets its 1-based line number as id.
/// Returns the number of records.
pub fn embed_jsonl(
    embedder: &Embedder,
    path: &Path,
    input: impl BufRead,
    out: &mut impl Write,
) -> Result<usize> {
    let mut ids = Vec::with_capacity(EMBED_CHUNK);
    let mut texts = Vec::with_capacity(EMBED_CHUNK);
    let mut total = 0;
    let mut flush = |ids: &mut Vec<serde_json::Value>, texts: &mut Vec<String>| -> Result<()> {
        let vectors = embedder.embed(texts)?;
        for (id, v) in ids.iter().zip(&vectors) {
            serde_json::to_writer(&mut *out, &EmbedOutput { id, embedding: v })
                .map_err(|e| Error::io("<output>", e.into()))?;
            out.write_all(b"\n").map_err(|e| Error::io("<output>", e))?;
        }
        ids.clear();
        texts.clear();
        Ok(())
    };
    for (index, line) in input.lines().enumerate() {
        let line_no = index as u64 + 1;
        let line = line.map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: line_no,
            message: format!("cannot read line: {e}"),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::Input {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let record: EmbedRecord =
            serde_json::from_str(&line).map_err(|e| bad(format!("expected a JSON object: {e}")))?;
        let (id, text) = record.into_text().map_err(|m| bad(m.to_string()))?;
        ids.push(id.unwrap_or_else(|| serde_json::Value::from(line_no)));
        texts.push(text);
        total += 1;
        if texts.len() == EMBED_CHUNK {
            flush(&mut ids, &mut texts)?;
        }
    }
    if !texts.is_empty() {
        flush(&mut ids, &mut texts)?;
    }
    Ok(total)
}

/// A file written under a temporary name in the same directory and renamed over the
/// target only on [`AtomicFile::commit`], so readers never see a half-written file.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{}: not a file name", target.display())))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
        })
    }

    /// The temporary file, created (truncated) for writing.
    pub fn file(&self) -> Result<File> {
        File::create(&self.tmp).map_err(|e| Error::io(&self.tmp, e))
    }

    /// Flush to disk and move into place.
    pub fn commit(self) -> Result<()> {
        let f = File::open(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // After a successful commit the temp name no longer exists; otherwise this
        // removes the partial output.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
