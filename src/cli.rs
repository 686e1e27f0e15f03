//! The command-line surface: argument definitions (clap derive) and one `run_*`
//! function per subcommand. Arguments are validated into plain settings before any
//! work starts; the work itself is done by the library modules.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::bibtex;
use crate::embed::{self, DeviceChoice, Embedder, Engine, ModelFiles};
use crate::error::{Error, Result};
use crate::ingest::{self, Format};
use crate::job::{self, InputKey, JobOptions, OutputFormat};
use crate::library::profiles::{self, Profiles};
use crate::library::{Library, ModelInfo, Writer, WriterOptions};
use crate::paper::{canonical_id, paper_text, Paper};
use crate::{rank, recommend, render};
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

    /// Encoder implementation: auto (f32: our CPU encoder on the CPU, Candle's BertModel
    /// on CUDA; f16/bf16: tensor), candle (Candle's stock BertModel, f32 only; slower on
    /// the CPU, for comparison) or tensor (our encoder in Candle tensor operations, any
    /// device and dtype).
    #[arg(long, global = true, default_value = "auto")]
    pub engine: String,

    /// Float type of the model's weights and products: f32, f16 or bf16 (for GPUs:
    /// half the memory, faster; vectors within cosine 0.999 of f32). Softmax, layer
    /// norm and pooling stay in f32.
    #[arg(long, global = true, default_value = "f32")]
    pub dtype: String,

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
    /// A user's profile: like, dislike, unlike papers, add interests, import a BibTeX
    /// bibliography, show it.
    Profile(ProfileArgs),
    /// A user's top papers of a day (or of the last N days), each with the reason.
    Recommend(RecommendArgs),
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
    /// Measure `similar` instead: how re-scoring a paper's nearest neighbours with
    /// tf-idf changes nDCG@10 and MAP, for several weights (relevant = shares a fine
    /// category; 1,000 query papers of the last month).
    #[arg(long)]
    pub similar: bool,
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
pub struct ProfileArgs {
    /// The user: 1-64 letters, digits, '.', '_', '-' or '@'.
    pub user: String,
    #[command(subcommand)]
    pub action: ProfileAction,
    /// Library directory. Default: $XDG_DATA_HOME/paperscout/library (or
    /// ~/.local/share/paperscout/library).
    #[arg(long, env = "PAPERSCOUT_LIBRARY", global = true)]
    pub library: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProfileAction {
    /// Like papers (ids in any arXiv version, or arXiv abs/pdf URLs); creates the profile.
    Like {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Dislike papers: they become negatives of the profile model.
    Dislike {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Forget likes or dislikes.
    Unlike {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Add interests, each a free text embedded like a query (e.g. "graph neural
    /// networks for molecules"); with --remove, remove them.
    Interests {
        #[arg(required = true)]
        texts: Vec<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Import a BibTeX file: entries found in the library (by arXiv id, DOI or title)
    /// are liked; others with an abstract are embedded and count as likes; the rest
    /// are skipped and listed.
    Import { file: PathBuf },
    /// Print the profile.
    Show {
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// The user whose profile ranks the papers.
    pub user: String,
    /// The listing day to rank (YYYY-MM-DD). Default: the library's latest listing day.
    #[arg(long, conflicts_with = "since")]
    pub date: Option<String>,
    /// Rank the papers listed in the last N days up to the library's latest listing day.
    #[arg(long)]
    pub since: Option<u32>,
    /// How many papers to list.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Leave out papers scoring below this (the profile model's w·x; above 0 means on
    /// the side of the likes).
    #[arg(long, allow_negative_numbers = true)]
    pub min_score: Option<f32>,
    /// Only papers in one of these categories (comma-separated, e.g. cs.LG,stat.ML).
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Keep papers the user liked, disliked, or was shown in a listing of another day.
    #[arg(long)]
    pub include_seen: bool,
    /// Do not remember the listed papers as shown (by default they are left out of
    /// later days' listings; listing the same day again gives the same list).
    #[arg(long)]
    pub no_record: bool,
    /// table, json, markdown, html or atom.
    #[arg(long, default_value = "table")]
    pub format: String,
    #[command(flatten)]
    pub library: LibraryArg,
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
    /// table, json, markdown, html or atom.
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
        Command::Profile(args) => run_profile(&cli.global, device_choice, args),
        Command::Recommend(args) => run_recommend(args),
        Command::Similar(args) => run_similar(args),
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
    let dtype = embed::parse_dtype(&global.dtype)?;
    let device = embed::device(device_choice)?;
    let files = ModelFiles::resolve(global.model.as_deref())?;
    let embedder = Embedder::load_with(&files, &device, engine, dtype)?;
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
    if args.similar {
        let corpus = crate::eval::EvalCorpus::load_dir(&opts.data, opts.embeddings.as_deref())?;
        let sim = crate::eval::similar::SimilarOptions {
            seed: args.seed,
            ..Default::default()
        };
        let report = crate::eval::similar::evaluate(&corpus, &sim)?;
        if args.format == "json" {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| Error::Invalid(e.to_string()))?
            );
        } else {
            print!("{}", crate::eval::similar::format_table(&report));
        }
        return Ok(());
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

fn run_similar(args: SimilarArgs) -> Result<()> {
    let dir = library_dir(&args.query.library)?;
    let lib = Library::open_any_model(&dir)?;
    let id = canonical_id(&args.paper);
    let paper = lib
        .get(&id)
        .ok_or_else(|| Error::UnknownIds(vec![args.paper.clone()]))?;
    // similar needs no model: the vector is stored.
    let query = lib
        .vector(&id)
        .expect("a stored paper has a vector")
        .to_vec();
    let subject = render::Subject::Similar {
        id: paper.id.clone(),
        title: paper.title.clone(),
    };
    print_hits(
        &lib,
        &query,
        &rank::rank_text(paper),
        Some(&id),
        subject,
        &args.query,
    )
}

fn run_search(global: &GlobalArgs, device_choice: DeviceChoice, args: SearchArgs) -> Result<()> {
    let dir = library_dir(&args.query.library)?;
    // A bad format fails before the model loads.
    args.query.format.parse::<render::Format>()?;
    let (embedder, model) = load_model(global, device_choice)?;
    let lib = Library::open(&dir, &model)?;
    let query = embedder.embed(&[args.text.as_str()])?.remove(0);
    let subject = render::Subject::Search {
        query: args.text.clone(),
    };
    print_hits(&lib, &query, &args.text, None, subject, &args.query)
}

/// Extra candidates taken from the index beyond `--top` for the tf-idf re-scoring.
const RESCORE_EXTRA: usize = 100;

/// The nearest papers to `query` (never `exclude`), within the date window, re-scored
/// with tf-idf, printed.
fn print_hits(
    lib: &Library,
    query: &[f32],
    query_text: &str,
    exclude: Option<&str>,
    subject: render::Subject,
    args: &QueryArgs,
) -> Result<()> {
    let format: render::Format = args.format.parse()?;
    let window = date_window(lib, args.date.as_deref(), args.since)?;
    let keep = |p: &Paper| {
        exclude != Some(p.id.as_str())
            && window.is_none_or(|(from, to)| p.listed.is_some_and(|d| d >= from && d <= to))
    };
    let pool = args.top.saturating_add(RESCORE_EXTRA);
    let hits = lib.nearest(query, pool, Some(&keep))?;
    let tfidf = recommend::library_tfidf(lib)?;
    let scored = recommend::rescore(
        hits,
        tfidf.as_ref(),
        query_text,
        recommend::TFIDF_RESCORE_WEIGHT,
    );
    let items = scored
        .into_iter()
        .take(args.top)
        .enumerate()
        .map(|(i, (h, score))| recommend::item(i + 1, h.paper, score, None))
        .collect();
    let listing = render::Listing {
        subject,
        date: window.map(|w| w.1),
        since: window.filter(|w| w.0 != w.1).map(|w| w.0),
        generated: profiles::now(),
        items,
    };
    print!("{}", render::render(&listing, format));
    Ok(())
}

fn run_profile(global: &GlobalArgs, device_choice: DeviceChoice, args: ProfileArgs) -> Result<()> {
    let dir = library_dir(&LibraryArg {
        library: args.library.clone(),
    })?;
    profiles::check_user(&args.user)?;
    let store = Profiles::new(&dir);
    let user = args.user.as_str();
    match args.action {
        ProfileAction::Like { ids } => mark(&dir, &store, user, &ids, true)?,
        ProfileAction::Dislike { ids } => mark(&dir, &store, user, &ids, false)?,
        ProfileAction::Unlike { ids } => {
            let ids: Vec<String> = ids.iter().map(|i| canonical_id(i)).collect();
            let mut edit = existing(&store, user)?;
            edit.profile.unlike(&ids, profiles::now())?;
            let p = edit.save()?;
            println!(
                "{user}: {} liked, {} disliked",
                p.likes.len(),
                p.dislikes.len()
            );
        }
        ProfileAction::Interests { texts, remove } => {
            let texts: Vec<String> = texts
                .iter()
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            if let Some(i) = texts.iter().position(String::is_empty) {
                return Err(Error::Invalid(format!(
                    "interest {}: empty text; describe the topic in words",
                    i + 1
                )));
            }
            if remove {
                let mut edit = existing(&store, user)?;
                for t in &texts {
                    edit.profile.remove_interest(t, profiles::now())?;
                }
                let p = edit.save()?;
                println!("{user}: {} interest(s)", p.interests.len());
            } else {
                let (embedder, model) = load_model(global, device_choice)?;
                // Interests are compared with the library's vectors: same model only.
                Library::open(&dir, &model)?;
                let vectors = embedder.embed(&texts)?;
                let mut edit = store.edit(user, profiles::now())?;
                for (t, v) in texts.iter().zip(vectors) {
                    edit.profile.add_interest(t, v, profiles::now());
                }
                let p = edit.save()?;
                println!("{user}: {} interest(s)", p.interests.len());
            }
        }
        ProfileAction::Import { file } => {
            run_import(global, device_choice, &dir, &store, user, &file)?
        }
        ProfileAction::Show { format } => {
            let p = store.get(user)?;
            let lib = Library::open_any_model(&dir).ok();
            print!("{}", show_profile(&p, lib.as_ref(), &format)?);
        }
    }
    Ok(())
}

/// Like (or dislike) papers of the library, named by id or URL.
fn mark(dir: &Path, store: &Profiles, user: &str, raw: &[String], like: bool) -> Result<()> {
    let lib = Library::open_any_model(dir)?;
    let ids = known_ids(&lib, raw)?;
    let mut edit = store.edit(user, profiles::now())?;
    let added = if like {
        edit.profile.like(&ids, profiles::now())
    } else {
        edit.profile.dislike(&ids, profiles::now())
    };
    let p = edit.save()?;
    println!(
        "{user}: {} {added} new paper(s); {} liked, {} disliked",
        if like { "liked" } else { "disliked" },
        p.likes.len(),
        p.dislikes.len()
    );
    Ok(())
}

/// Canonical ids of `raw` (ids or arXiv URLs), all in the library, or
/// [`Error::UnknownIds`] listing every one that is not.
fn known_ids(lib: &Library, raw: &[String]) -> Result<Vec<String>> {
    let unknown: Vec<String> = raw
        .iter()
        .filter(|r| lib.get(&canonical_id(r)).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownIds(unknown));
    }
    let mut ids: Vec<String> = Vec::new();
    for id in raw.iter().map(|r| canonical_id(r)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Lock `user`'s stored profile for a change; an error when there is none.
fn existing(store: &Profiles, user: &str) -> Result<profiles::ProfileEdit> {
    store.get(user)?;
    store.edit(user, profiles::now())
}

fn run_import(
    global: &GlobalArgs,
    device_choice: DeviceChoice,
    dir: &Path,
    store: &Profiles,
    user: &str,
    file: &Path,
) -> Result<()> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let entries = bibtex::parse(file, &text)?;
    let lib = Library::open_any_model(dir)?;
    let mut by_doi: std::collections::HashMap<String, &str> = Default::default();
    let mut by_title: std::collections::HashMap<String, &str> = Default::default();
    for p in lib.papers() {
        if let Some(doi) = &p.doi {
            by_doi.insert(doi.to_lowercase(), p.id.as_str());
        }
        by_title
            .entry(bibtex::normalize_title(&p.title))
            .or_insert(p.id.as_str());
    }
    let mut matched: Vec<String> = Vec::new();
    let mut to_embed: Vec<(String, String, String)> = Vec::new(); // (id, title, abstract)
    let mut skipped: Vec<String> = Vec::new();
    for e in &entries {
        let found = e
            .arxiv_id()
            .filter(|id| lib.get(id).is_some())
            .or_else(|| e.doi().and_then(|d| by_doi.get(&d).map(|s| s.to_string())))
            .or_else(|| {
                e.title()
                    .map(bibtex::normalize_title)
                    .filter(|t| !t.is_empty())
                    .and_then(|t| by_title.get(&t).map(|s| s.to_string()))
            });
        match (found, e.title(), e.abstract_text()) {
            (Some(id), _, _) => matched.push(id),
            (None, Some(title), Some(abs)) => {
                let id = e
                    .arxiv_id()
                    .or_else(|| e.doi())
                    .unwrap_or_else(|| e.key.clone());
                to_embed.push((id, title.to_string(), abs.to_string()));
            }
            (None, _, _) => skipped.push(format!("{} (line {})", e.key, e.line)),
        }
    }
    let mut external = Vec::new();
    if !to_embed.is_empty() {
        let (embedder, model) = load_model(global, device_choice)?;
        lib.check_model(&model)?;
        let texts: Vec<String> = to_embed.iter().map(|(_, t, a)| paper_text(t, a)).collect();
        let vectors = embedder.embed(&texts)?;
        let at = profiles::now();
        for ((id, title, abstract_text), vector) in to_embed.into_iter().zip(vectors) {
            external.push(profiles::ExternalPaper {
                id,
                title,
                abstract_text,
                at,
                vector,
            });
        }
    }
    let embedded = external.len();
    let mut edit = store.edit(user, profiles::now())?;
    let new_likes = edit.profile.like(&matched, profiles::now());
    if !external.is_empty() {
        edit.profile.add_external(external, profiles::now());
    }
    let p = edit.save()?;
    println!(
        "{}: {} entries: {} matched library papers ({new_likes} new likes), {embedded} embedded from their abstracts, {} skipped (not in the library, no abstract); {user} now has {} liked + {} imported papers",
        file.display(),
        entries.len(),
        matched.len(),
        skipped.len(),
        p.likes.len(),
        p.external.len()
    );
    if !skipped.is_empty() {
        println!("skipped: {}", skipped.join(", "));
    }
    Ok(())
}

/// A profile for people (`table`, lines of at most 80 characters) or programs (`json`,
/// without the vectors).
fn show_profile(p: &profiles::Profile, lib: Option<&Library>, format: &str) -> Result<String> {
    let title = |id: &str| {
        lib.and_then(|l| l.get(id))
            .map(|p| p.title.clone())
            .unwrap_or_default()
    };
    let marks = |m: &[profiles::Mark]| -> Vec<serde_json::Value> {
        m.iter()
            .map(|m| serde_json::json!({"id": m.id, "title": title(&m.id), "at": m.at}))
            .collect()
    };
    match format {
        "json" => {
            let v = serde_json::json!({
                "user": p.user,
                "created": p.created,
                "updated": p.updated,
                "likes": marks(&p.likes),
                "dislikes": marks(&p.dislikes),
                "interests": p.interests.iter().map(|i| serde_json::json!({"text": i.text, "at": i.at})).collect::<Vec<_>>(),
                "external": p.external.iter().map(|e| serde_json::json!({"id": e.id, "title": e.title, "at": e.at})).collect::<Vec<_>>(),
                "shown": p.shown.len(),
                "history": p.history,
            });
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&v).map_err(|e| Error::Invalid(e.to_string()))?
            ))
        }
        "table" => {
            use std::fmt::Write as _;
            let mut s = String::new();
            let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
            let _ = writeln!(
                s,
                "profile {} (created {}, updated {})",
                p.user,
                when(&p.created),
                when(&p.updated)
            );
            for (name, list) in [("liked", &p.likes), ("disliked", &p.dislikes)] {
                let _ = writeln!(s, "{name} ({}):", list.len());
                for m in list {
                    let _ = writeln!(
                        s,
                        "  {}  {:<11} {}",
                        when(&m.at),
                        m.id,
                        truncate(&title(&m.id), 48)
                    );
                }
            }
            let _ = writeln!(s, "interests ({}):", p.interests.len());
            for i in &p.interests {
                let _ = writeln!(s, "  {}  {}", when(&i.at), truncate(&i.text, 60));
            }
            if !p.external.is_empty() {
                let _ = writeln!(s, "imported, not in the library ({}):", p.external.len());
                for e in &p.external {
                    let _ = writeln!(s, "  {}  {}", when(&e.at), truncate(&e.title, 60));
                }
            }
            let _ = writeln!(
                s,
                "shown in listings: {}; actions recorded: {}",
                p.shown.len(),
                p.history.len()
            );
            Ok(s)
        }
        other => Err(Error::Invalid(format!(
            "unknown format {other:?}: expected table or json"
        ))),
    }
}

fn run_recommend(args: RecommendArgs) -> Result<()> {
    let format: render::Format = args.format.parse()?;
    if args.top == 0 {
        return Err(Error::Invalid("--top must be at least 1".into()));
    }
    let dir = library_dir(&args.library)?;
    profiles::check_user(&args.user)?;
    let store = Profiles::new(&dir);
    let profile = store.get(&args.user)?;
    let lib = Library::open_any_model(&dir)?;
    let (from, to) = match date_window(&lib, args.date.as_deref(), args.since)? {
        Some(w) => w,
        None => {
            let last = latest_day(&lib)?;
            (last, last)
        }
    };
    let tfidf = recommend::library_tfidf(&lib)?;
    let trained = recommend::train(&lib, tfidf.as_ref(), &profile, &rank::RankConfig::default())?;
    if !trained.missing.is_empty() {
        tracing::warn!(
            "profile {}: not in this library, ignored: {}",
            args.user,
            trained.missing.join(", ")
        );
    }
    let opts = recommend::RecommendOptions {
        from,
        to,
        top: args.top,
        min_score: args.min_score,
        categories: args.categories.clone(),
        include_seen: args.include_seen,
    };
    let items = recommend::recommend(&lib, tfidf.as_ref(), &profile, &trained, &opts)?;
    let listing = render::Listing {
        subject: render::Subject::Recommend {
            user: args.user.clone(),
        },
        date: Some(to),
        since: (from != to).then_some(from),
        generated: profiles::now(),
        items,
    };
    print!("{}", render::render(&listing, format));
    if !args.no_record && !listing.items.is_empty() {
        let ids: Vec<String> = listing.items.iter().map(|i| i.id.clone()).collect();
        let recorded = store
            .edit(&args.user, profiles::now())
            .and_then(|mut edit| {
                edit.profile.add_shown(&ids, to, profiles::now());
                edit.save()
            });
        if let Err(e) = recorded {
            eprintln!("warning: could not record the listed papers as shown: {e}");
        }
    }
    Ok(())
}

/// The library's latest listing day.
fn latest_day(lib: &Library) -> Result<NaiveDate> {
    lib.papers()
        .filter_map(|p| p.listed)
        .max()
        .ok_or_else(|| Error::Invalid("no paper in the library has a listing day".into()))
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
    if n == 0 {
        return Err(Error::Invalid("--since must be at least 1 (days)".into()));
    }
    let last = latest_day(lib)?;
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
