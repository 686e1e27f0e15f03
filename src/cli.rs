//! The command-line surface: argument definitions (clap derive) and one `run_*`
//! function per subcommand. Each turns its arguments into the application layer's
//! plain settings ([`crate::app`]), calls it, and prints what comes back; the work
//! itself is done below.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, ingest::IngestOptions, query, ModelSpec, Models};
use crate::error::{Error, Result};
use crate::job::JobOptions;
use crate::library::profiles::{self, Profiles};
use crate::library::Writer;
use crate::render;

#[derive(Debug, Parser)]
#[command(name = "paperscout", version, about = "A semantic paper recommender", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The embedding model, given before the subcommand (`paperscout --model DIR
    /// ingest ...`); the commands that embed also take it after.
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Library directory. Default: $XDG_DATA_HOME/paperscout/library (or
    /// ~/.local/share/paperscout/library).
    #[arg(long, global = true, env = "PAPERSCOUT_LIBRARY")]
    pub library: Option<PathBuf>,

    /// Log more (-v: progress, -vv: timings of each step, -vvv: also the index
    /// crate's own lines). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The embedding model and where it runs: only on the commands that embed text.
#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// Embedding model: a sentence-transformers directory or a hub id. Default: the
    /// project's models/all-MiniLM-L6-v2 (scripts/fetch-model.sh), then the hub.
    #[arg(long, env = "PAPERSCOUT_MODEL")]
    pub model: Option<String>,

    /// Where the model runs: cpu, cuda, or auto (cuda when compiled in and present).
    #[arg(long)]
    pub device: Option<String>,

    /// Encoder implementation: auto (f32: our CPU encoder on the CPU, Candle's BertModel
    /// on CUDA; f16/bf16: tensor), candle (Candle's stock BertModel, f32 only; slower on
    /// the CPU, for comparison) or tensor (our encoder in Candle tensor operations, any
    /// device and dtype).
    #[arg(long)]
    pub engine: Option<String>,

    /// Float type of the model's weights and products: f32, f16 or bf16 (for GPUs:
    /// half the memory, faster; vectors within cosine 0.999 of f32). Softmax, layer
    /// norm and pooling stay in f32.
    #[arg(long)]
    pub dtype: Option<String>,
}

impl ModelArgs {
    /// These settings, each falling back to `before` (the ones given before the
    /// subcommand), then to the defaults.
    fn spec(&self, before: &ModelArgs) -> Result<ModelSpec> {
        let pick = |a: &Option<String>, b: &Option<String>, default: &str| {
            a.clone()
                .or_else(|| b.clone())
                .unwrap_or_else(|| default.to_string())
        };
        ModelSpec::parse(
            self.model.clone().or_else(|| before.model.clone()),
            &pick(&self.device, &before.device, "auto"),
            &pick(&self.engine, &before.engine, "auto"),
            &pick(&self.dtype, &before.dtype, "f32"),
        )
    }
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
    /// Every paper shown to a user, day by day, with what they did about it.
    History(HistoryArgs),
    /// Papers most similar to one in the library (by id or arXiv URL).
    Similar(SimilarArgs),
    /// Papers most similar to a free-text query.
    Search(SearchArgs),
    /// Embed texts in bulk: streaming, resumable, to JSON Lines, .npy or .safetensors.
    Embed(EmbedArgs),
    /// Fetch papers over HTTP (arXiv's daily listing feed, OAI-PMH, Hugging Face
    /// daily papers) and add them to the library.
    Fetch(FetchArgs),
    /// The unattended daily run: fetch the day, add it, and for every user rank it,
    /// write their feed and digest, and mail it (once per user and day).
    Daily(DailyArgs),
    /// The library's settings (LIBRARY/config.toml and the environment).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Replay a dated corpus with simulated users; print nDCG@10 and P@10 of the
    /// paperscout ranker and of the baselines (random, mean of likes,
    /// zotero-arxiv-daily, arxiv-sanity-lite) computed in the same run.
    Eval(EvalArgs),
    /// Serve the library over HTTP: a JSON API and web pages for signed-in users.
    Serve(crate::serve::ServeArgs),
    /// Accounts of the people who sign in to `serve`: add, token, list, remove.
    #[command(subcommand)]
    User(crate::serve::UserArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Directory of dated JSONL files (one object per paper with `listing_date`); the
    /// default is the corpus in $PAPERSCOUT_DATA (else ../shared/data).
    #[arg(long, default_value_os_t = crate::eval::default_corpus())]
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
    /// Also measure hubness (do some papers rank high for everyone?) and the hub
    /// correction at three strengths.
    #[arg(long)]
    pub hubness: bool,
    /// Also rank with calibrated scores (one model) and print the reliability table:
    /// the fraction of relevant papers per score bin 0-0.1, ..., 0.9-1 (3 extra SVM
    /// trainings per user for the cross-validated calibration).
    #[arg(long)]
    pub reliability: bool,
    /// Users with 2-3 interest categories whose likes sit in one collection per
    /// category: one calibrated model per collection, merged, against one model over
    /// all likes (implies --reliability).
    #[arg(long)]
    pub collections: bool,
    /// Fit stage 2 of the calibration instead of ranking and print its constants
    /// (`rank::calibrate::STAGE2`): users with 1-30 likes, one calibrated model each.
    /// Run it on days and a seed other than the README's (e.g. --history-until
    /// 2026-04-01 --test-until 2026-04-30 --seed 7).
    #[arg(long)]
    pub fit_calibration: bool,
    /// With --collections: also run the merged feed with each collection's model
    /// seeing the other collections' likes as positives of this weight, each paper
    /// listed under its best-scoring collection (repeatable).
    #[arg(long)]
    pub weak_cost: Vec<f32>,
    /// With --collections: the same, each paper listed under the collection of its
    /// nearest liked paper (the rule `recommend` uses), at this weight (repeatable).
    #[arg(long)]
    pub nearest_cost: Vec<f32>,
    /// With --collections: also run the merged feed with this part (0-1) of each
    /// day's places shared out evenly among the collections before the rest go by
    /// score (repeatable; `recommend` shares 0.25).
    #[arg(long)]
    pub min_share: Vec<f32>,
    /// With --similar: compare the tf-idf variants of the README's study (author
    /// names, bigrams, document-frequency cuts) instead of only the one
    /// `similar` uses; one vectoriser fit per variant (a few seconds each on 27k papers).
    #[arg(long, requires = "similar")]
    pub tfidf_variants: bool,
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

    /// Vectors made by `paperscout embed` elsewhere (.safetensors, or .npy with its
    /// .ids.json and .meta.json; several parts of a --shard run at once): records with
    /// a vector there are stored with it instead of being embedded. Files of another
    /// model than the library's are refused. Records without one are embedded (with
    /// --strict: refused); vectors without a record are reported.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub vectors: Vec<PathBuf>,

    /// No progress bar or progress lines.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Where from: rss or atom (arXiv's listing feed of the current day), oai (arXiv's
    /// OAI-PMH, for backfills and catching up: from the last harvest, or --from), hf
    /// (Hugging Face daily papers of --from, default today).
    #[arg(long, default_value = "rss")]
    pub source: String,
    /// arXiv categories (cs.IR,cs.CL) or, for oai, sets (cs, physics:cond-mat);
    /// default: [fetch] categories of config.toml.
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// oai: first day (default: the day after the last harvest); hf: the day.
    #[arg(long)]
    pub from: Option<String>,
    /// oai: last day (inclusive).
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct DailyArgs {
    /// The day to deliver (YYYY-MM-DD). Default: the day of the current listing feed.
    #[arg(long)]
    pub date: Option<String>,
    /// arXiv categories to fetch; default: [fetch] categories of config.toml.
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Folder of USER.atom and USER/DATE.html; default: [output] dir of config.toml.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write feeds and digests, send no mail.
    #[arg(long)]
    pub no_email: bool,
    /// Fetch nothing: deliver a day the library already holds (with --date).
    #[arg(long)]
    pub no_fetch: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings in force (file, environment, defaults), the SMTP password
    /// hidden.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Papers, listing days, categories, model and index of the library.
    Stats {
        /// table or json (the JSON object has `papers`, the number of distinct papers).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Rebuild the HNSW index from the stored vectors (the repair for a damaged or
    /// lost index dump); papers and vectors are kept as they are.
    Reindex {
        /// Refit the stored tf-idf vocabulary instead (it is fitted once and kept;
        /// commits do not refit it).
        #[arg(long)]
        tfidf: bool,
    },
    /// Check every checksum and record of the library (an open checks only the
    /// cheap part; see the README, Reliability). Reads every byte: O(library).
    Verify,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The user: 1-64 letters, digits, '.', '_', '-' or '@'.
    pub user: String,
    #[command(subcommand)]
    pub action: ProfileAction,
}

#[derive(Debug, Subcommand)]
pub enum ProfileAction {
    /// Like papers (ids in any arXiv version, or arXiv abs/pdf URLs); creates the profile.
    /// A paper the library does not hold yet is fetched from the arXiv API and
    /// embedded first.
    Like {
        /// Paper ids (2401.01234, 2401.01234v2, hep-th/9901001) or arXiv URLs.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Put them in this collection (a feed of its own, with its own model; made by
        /// its first like). Default: the default collection.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Dislike papers: they become negatives of the profile model (without
    /// --collection, of every collection's model).
    Dislike {
        /// Paper ids or arXiv URLs.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Only a negative of this collection's model.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Forget likes or dislikes.
    Unlike {
        /// Paper ids or arXiv URLs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Add interests, each a free text embedded like a query (e.g. "graph neural
    /// networks for molecules"); with --remove, remove them.
    Interests {
        /// Topics in words, one argument each (quote them): "graph neural networks for
        /// molecules" "retrieval-augmented generation".
        #[arg(required = true)]
        texts: Vec<String>,
        /// Remove these interests (the same texts) instead of adding them.
        #[arg(long)]
        remove: bool,
        /// Put them in this collection (a feed of its own, with its own model; made by
        /// its first like). Default: the default collection.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Import a BibTeX file: entries found in the library (by arXiv id, DOI or title)
    /// are liked; others with an abstract are embedded and count as likes; the rest
    /// are skipped and listed.
    Import {
        /// The .bib file.
        file: PathBuf,
        /// Put them in this collection (a feed of its own, with its own model; made by
        /// its first like). Default: the default collection.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Where the daily digest is mailed; with --remove, mail no more.
    Email {
        /// One address, local@domain.
        #[arg(required_unless_present = "remove")]
        address: Option<String>,
        /// Remove the address: no more mail (feeds and digests are still written).
        #[arg(long, conflicts_with = "address")]
        remove: bool,
    },
    /// Follow authors: their papers of the day are always listed (at the place their
    /// score gives them, with the reason "you follow NAME"), unless a keyword rule
    /// excludes them. Names are matched as arXiv writes them: accents, case, initials,
    /// "Last, First" and middle names aside ("J. Smith" follows John A. Smith too).
    Follow {
        /// Authors' names, one argument each (quote them): "Ada Lovelace" "Turing, Alan".
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop following authors.
    Unfollow {
        /// The names as followed (or any way of writing them).
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Keyword rules on each paper's title and abstract (whole words or phrases, case and
    /// accents aside; "word*" matches words it begins): --exclude removes papers from
    /// every listing, even a followed author's; with --require only papers holding one
    /// of the required phrases are listed (followed authors' papers still are).
    /// Without options, print the rules.
    Keywords {
        /// A word or phrase a listed paper must hold (at least one of them); repeatable.
        #[arg(long)]
        require: Vec<String>,
        /// A word or phrase no listed paper may hold; repeatable.
        #[arg(long)]
        exclude: Vec<String>,
        /// Drop this rule (required or excluded); repeatable.
        #[arg(long)]
        remove: Vec<String>,
        /// Drop every rule first.
        #[arg(long)]
        clear: bool,
    },
    /// Print the profile.
    Show {
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Digests and feeds list only papers whose calibrated score (0-1) is at least
    /// this, at most --top of them; a day with none says so. Without a value: print
    /// it; --clear: back to the top N, unfiltered.
    Threshold {
        /// A calibrated score from 0 to 1 (0.5: as likely relevant as not).
        #[arg(conflicts_with = "clear")]
        value: Option<f32>,
        /// Remove the threshold.
        #[arg(long)]
        clear: bool,
    },
    /// Print the user's whole data as JSON: the stored profile (with vectors,
    /// collections, every action) and the history of what was shown, by day.
    Export,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The user.
    pub user: String,
    /// Only the last N listing days (up to the library's latest listing day).
    #[arg(long)]
    pub since: Option<u32>,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
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
    /// Leave out papers scoring below this calibrated relevance (0-1; README,
    /// "Scores"). Default: the user's threshold (`profile USER threshold`), if any.
    #[arg(long, allow_negative_numbers = true)]
    pub min_score: Option<f32>,
    /// Rank with this collection's model only. Default: the whole feed (every
    /// collection's model; a paper listed under its nearest like's collection).
    #[arg(long)]
    pub collection: Option<String>,
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
    #[command(flatten)]
    pub model: ModelArgs,
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

    /// Embed only part K of N (K from 1 to N) of the input: the K-th of N contiguous
    /// ranges of records, so N machines each embed one part and the parts, in order,
    /// are the whole output. Each part resumes from its own checkpoint.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<crate::job::Shard>,

    /// No progress bar or progress lines.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let library = || match &cli.global.library {
        Some(dir) => Ok(dir.clone()),
        None => app::default_library_dir(),
    };
    let before = &cli.model;
    let models = |m: &ModelArgs| -> Result<Models> { Ok(Models::new(m.spec(before)?)) };
    match cli.command {
        Command::Ingest(ref args) => run_ingest(&library()?, &models(&args.model)?, args),
        Command::Library(LibraryCommand::Stats { ref format }) => run_stats(format, &library()?),
        Command::Library(LibraryCommand::Reindex { tfidf: false }) => run_reindex(&library()?),
        Command::Library(LibraryCommand::Reindex { tfidf: true }) => run_refit_tfidf(&library()?),
        Command::Library(LibraryCommand::Verify) => run_verify(&library()?),
        Command::Profile(ref args) => run_profile(&library()?, before, args),
        Command::Recommend(ref args) => run_recommend(&library()?, args),
        Command::History(ref args) => run_history(&library()?, args),
        Command::Similar(ref args) => run_similar(&library()?, args),
        Command::Search(ref args) => run_search(&library()?, &models(&args.model)?, args),
        Command::Embed(ref args) => {
            // -v: which CPU and kernels the figures come from (issue 14).
            if cli.global.verbose > 0 {
                eprintln!("{}", crate::embed::cpu_report());
            }
            run_embed(&models(&args.model)?, args)
        }
        Command::Fetch(ref args) => run_fetch(&library()?, &models(&args.model)?, args),
        Command::Daily(ref args) => run_daily(&library()?, &models(&args.model)?, args),
        Command::Config(ConfigCommand::Show) => {
            print!(
                "{}",
                crate::config::Config::load(&library()?)?.to_toml_string()
            );
            Ok(())
        }
        Command::Eval(ref args) => run_eval(args),
        Command::Serve(ref args) => crate::serve::run_serve(library()?, models(&cli.model)?, args),
        Command::User(ref args) => crate::serve::run_user(&library()?, args),
    }
}

fn run_fetch(dir: &std::path::Path, models: &Models, args: &FetchArgs) -> Result<()> {
    let source = match args.source.as_str() {
        "rss" => crate::config::Source::Rss,
        "atom" => crate::config::Source::Atom,
        "oai" => crate::config::Source::Oai,
        "hf" => crate::config::Source::Hf,
        other => {
            return Err(Error::Invalid(format!(
                "unknown source {other:?}: expected rss, atom, oai or hf"
            )))
        }
    };
    let req = app::fetch::FetchRequest {
        source,
        categories: args.categories.clone(),
        from: args
            .from
            .as_deref()
            .map(|d| query::parse_day("--from", d))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| query::parse_day("--until", d))
            .transpose()?,
    };
    let r = app::fetch::fetch(dir, models, &req)?;
    let t = &r.totals;
    println!(
        "fetched {} papers ({}{}): {} new, {} updated, {} re-embedded, {} unchanged; library now {} papers",
        r.fetched,
        args.source,
        r.day.map(|d| format!(", listing day {d}")).unwrap_or_default(),
        t.new,
        t.metadata_only,
        t.reembedded,
        t.unchanged,
        r.papers
    );
    print_skipped(&r.skipped);
    Ok(())
}

fn print_skipped(skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    eprintln!(
        "skipped {} entr(ies) that could not be read:",
        skipped.len()
    );
    for s in skipped.iter().take(20) {
        eprintln!("  {}", terminal_text(s));
    }
}

fn run_daily(dir: &std::path::Path, models: &Models, args: &DailyArgs) -> Result<()> {
    let opts = app::daily::DailyOptions {
        date: args
            .date
            .as_deref()
            .map(|d| query::parse_day("--date", d))
            .transpose()?,
        categories: args.categories.clone(),
        out: args.out.clone(),
        no_email: args.no_email,
        no_fetch: args.no_fetch,
    };
    if opts.no_fetch && opts.date.is_none() {
        return Err(Error::Invalid(
            "--no-fetch needs --date: which day to deliver".into(),
        ));
    }
    let r = app::daily::daily(dir, models, &opts)?;
    for (source, f) in &r.fetched {
        println!(
            "fetched {:?}: {} papers, {} new, {} updated",
            source, f.fetched, f.totals.new, f.totals.metadata_only
        );
        print_skipped(&f.skipped);
    }
    let day = r.day.map(|d| d.to_string()).unwrap_or_default();
    if r.day_papers == 0 {
        println!("daily {day}: no papers listed that day in the library; nothing sent");
        return Ok(());
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (user, outcome) in &r.users {
        use crate::delivery::UserOutcome as O;
        let (key, line) = match outcome {
            Ok(O::Sent { to, items }) => ("sent", format!("mailed {items} papers to {to}")),
            Ok(O::AlreadySent) => ("already sent", "already mailed by an earlier run".into()),
            Ok(O::Unknown) => (
                "unknown",
                "an earlier run died while mailing: it may have gone out; not sent again".into(),
            ),
            Ok(O::NoItems) => ("nothing to send", "no papers for this user today".into()),
            Ok(O::NoAddress) => (
                "no address",
                "feed and digest written; no mail address (profile USER email ADDRESS)".into(),
            ),
            Ok(O::NotMailed) => ("not mailed", "feed and digest written; mail is off".into()),
            Ok(O::Failed { reason }) => ("failed", format!("FAILED: {reason}")),
            Err(e) => ("failed", format!("FAILED: {e}")),
        };
        *counts.entry(key).or_default() += 1;
        println!("  {user}: {}", terminal_text(&line));
    }
    for user in &r.idle {
        println!("  {user}: nothing to rank by yet (no likes or interests)");
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "daily {day}: {} papers, {} user(s): {}; feeds and digests in {}",
        r.day_papers,
        r.users.len() + r.idle.len(),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        },
        r.out.display()
    );
    let failed = r.failures();
    if failed > 0 {
        return Err(Error::Invalid(format!(
            "daily {day}: {failed} user(s) failed (see above); the next run retries them"
        )));
    }
    Ok(())
}

fn run_ingest(dir: &std::path::Path, models: &Models, args: &IngestArgs) -> Result<()> {
    let opts = IngestOptions {
        format: match args.format.as_str() {
            "auto" => None,
            name => Some(name.parse()?),
        },
        strict: args.strict,
        commit_every: args.commit_every,
        progress: !args.quiet,
        vectors: args.vectors.clone(),
    };
    let report = app::ingest::ingest_files(dir, models, &args.files, &opts)?;
    if let Some(v) = &report.vectors {
        print_vectors_report(v, &report.totals);
    }
    let t = &report.totals;
    println!(
        "ingested {} records from {} file(s) into {}: {} new, {} updated, {} re-embedded, {} unchanged, {} duplicates folded; library now {} papers",
        t.records, t.files, dir.display(), t.new, t.metadata_only, t.reembedded,
        t.unchanged, t.duplicates, report.papers
    );
    if !report.skipped.is_empty() {
        eprintln!("skipped {} malformed record(s):", report.skipped.len());
        for e in report.skipped.iter().take(20) {
            eprintln!("  {}", terminal_text(&e.to_string()));
        }
        if report.skipped.len() > 20 {
            eprintln!(
                "  ... and {} more (use --strict to stop at the first)",
                report.skipped.len() - 20
            );
        }
    }
    if report.failed.is_empty() {
        return Ok(());
    }
    for (file, e) in &report.failed {
        eprintln!(
            "not ingested: {}: {}",
            file.display(),
            terminal_text(&format!("{:#}", anyhow_chain(e)))
        );
    }
    Err(Error::Invalid(format!(
        "{} of {} file(s) could not be read (nothing of them is in the library; the papers of the other files are committed)",
        report.failed.len(),
        args.files.len()
    )))
}

/// `--shard K/N`, checked while parsing so a bad one is a usage error.
fn parse_shard(s: &str) -> std::result::Result<crate::job::Shard, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// What `ingest --vectors` did with the vectors: on stdout the counts, on stderr
/// the warnings (vectors without a record, parts of a shard run not given).
fn print_vectors_report(v: &app::ingest::VectorsReport, t: &app::ingest::IngestTotals) {
    println!(
        "vectors: {} from {} file(s) of model {} ({}-d): {} stored from the files, {} embedded ({} record(s) had no vector){}",
        v.vectors, v.files, v.model.name, v.model.dimension, t.from_vectors, t.embedded, v.missing,
        if v.normalised > 0 { format!(", {} normalised to unit length", v.normalised) } else { String::new() }
    );
    if v.unused > 0 {
        eprintln!(
            "warning: {} vector(s) match no record (first: {})",
            v.unused,
            terminal_text(&v.unused_first.join(", "))
        );
    }
    if v.duplicates > 0 {
        eprintln!(
            "warning: {} id(s) have more than one vector; the first file's was used",
            v.duplicates
        );
    }
    if !v.missing_parts.is_empty() {
        eprintln!(
            "warning: the files are parts of one --shard run, but part(s) {} were not given",
            v.missing_parts.join(", ")
        );
    }
}

/// An error's message with its causes, as the binary prints it.
fn anyhow_chain(e: &Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

fn json_string(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Invalid(e.to_string()))
}

fn run_stats(format: &str, dir: &std::path::Path) -> Result<()> {
    if !matches!(format, "table" | "json") {
        return Err(Error::Invalid(format!(
            "unknown format {format:?}: expected table or json"
        )));
    }
    let lib = app::open_library(dir)?;
    let stats = lib.stats();
    if format == "json" {
        println!("{}", json_string(&stats)?);
    } else {
        print!("{stats}");
    }
    Ok(())
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    let opts = crate::eval::EvalOptions {
        data: args.data.clone(),
        embeddings: args.embeddings.clone(),
        history_until: query::parse_day("--history-until", &args.history_until)?,
        test_until: args
            .test_until
            .as_deref()
            .map(|s| query::parse_day("--test-until", s))
            .transpose()?,
        users: args.users,
        seed: args.seed,
        hubness: args.hubness,
        reliability: args.reliability,
        collections: args.collections,
        fit_calibration: args.fit_calibration,
        weak_costs: args.weak_cost.clone(),
        nearest_costs: args.nearest_cost.clone(),
        min_shares: args.min_share.clone(),
        likes: if args.fit_calibration {
            (1, 30)
        } else {
            crate::eval::EvalOptions::default().likes
        },
        categories: if args.collections {
            (2, 3)
        } else {
            crate::eval::EvalOptions::default().categories
        },
        ..crate::eval::EvalOptions::default()
    };
    if !matches!(args.format.as_str(), "table" | "json") {
        return Err(Error::Invalid(format!(
            "unknown format {:?}: expected table or json",
            args.format
        )));
    }
    let json = args.format == "json";
    if args.similar {
        let corpus = crate::eval::EvalCorpus::load_dir(&opts.data, opts.embeddings.as_deref())?;
        let sim = crate::eval::similar::SimilarOptions {
            seed: args.seed,
            variants: if args.tfidf_variants {
                crate::eval::similar::TfidfVariant::study(corpus.papers().len())
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let report = crate::eval::similar::evaluate(&corpus, &sim)?;
        if json {
            println!("{}", json_string(&report)?);
        } else {
            print!("{}", crate::eval::similar::format_table(&report));
        }
        return Ok(());
    }
    let report = crate::eval::run(&opts)?;
    if json {
        println!("{}", json_string(&report)?);
    } else {
        print!("{}", crate::eval::format_table(&report));
    }
    Ok(())
}

fn run_reindex(dir: &std::path::Path) -> Result<()> {
    app::require_library(dir)?;
    // The stored model identity is kept: reindexing compares no new vectors.
    let model = crate::library::stored_model(dir)?;
    let info = Writer::reindex(dir, &model, &Default::default())?;
    println!(
        "rebuilt the index of {} ({} papers)",
        dir.display(),
        info.papers
    );
    Ok(())
}

fn run_refit_tfidf(dir: &std::path::Path) -> Result<()> {
    let lib = app::open_library(dir)?;
    let t = crate::recommend::refit_tfidf(&lib)?;
    println!(
        "refitted the tf-idf vocabulary of {} on {} of {} papers ({} terms)",
        dir.display(),
        t.sample_papers,
        t.library_papers,
        t.tfidf.as_ref().map_or(0, |t| t.len())
    );
    Ok(())
}

fn run_verify(dir: &std::path::Path) -> Result<()> {
    let v = app::open_library(dir)?.verify()?;
    println!(
        "{}: verified {} paper records ({} bytes), {} vector rows, {} index files",
        dir.display(),
        v.records,
        v.papers_bytes,
        v.vector_rows,
        v.index_files
    );
    Ok(())
}

/// The window of `--date`/`--since`, the date parsed.
fn window(date: Option<&str>, since: Option<u32>) -> Result<query::Window> {
    Ok(query::Window {
        date: date.map(|d| query::parse_day("--date", d)).transpose()?,
        since,
    })
}

fn query_options(args: &QueryArgs) -> Result<(query::QueryOptions, render::Format)> {
    let format: render::Format = args.format.parse()?;
    let opts = query::QueryOptions {
        top: args.top,
        window: window(args.date.as_deref(), args.since)?,
    };
    Ok((opts, format))
}

fn run_similar(dir: &std::path::Path, args: &SimilarArgs) -> Result<()> {
    let (opts, format) = query_options(&args.query)?;
    let lib = app::open_library(dir)?;
    let listing = query::similar(&lib, &args.paper, &opts)?;
    print_listing(&lib, &listing, format, opts.window);
    Ok(())
}

fn run_search(dir: &std::path::Path, models: &Models, args: &SearchArgs) -> Result<()> {
    // A bad format or date fails before the model loads.
    let (opts, format) = query_options(&args.query)?;
    let lib = app::open_library(dir)?;
    let listing = query::search(&lib, models, &args.text, &opts)?;
    print_listing(&lib, &listing, format, opts.window);
    Ok(())
}

/// Print a listing; when it is empty because its days hold no papers, say so and name
/// the nearest days that do.
fn print_listing(
    lib: &crate::library::Library,
    listing: &render::Listing,
    format: render::Format,
    window: query::Window,
) {
    print!("{}", render::render(listing, format));
    if listing.items.is_empty() && window != query::Window::default() {
        if let Some(to) = listing.date {
            let from = listing.since.unwrap_or(to);
            if let Some(hint) = query::empty_window_hint(lib, from, to) {
                eprintln!("{hint}");
            }
        }
    }
}

fn run_profile(dir: &std::path::Path, before: &ModelArgs, args: &ProfileArgs) -> Result<()> {
    profiles::check_user(&args.user)?;
    let user = args.user.as_str();
    match &args.action {
        ProfileAction::Like {
            ids,
            model,
            collection,
        }
        | ProfileAction::Dislike {
            ids,
            model,
            collection,
        } => {
            let like = matches!(args.action, ProfileAction::Like { .. });
            let mut lib = app::open_library(dir)?;
            let unknown: Vec<String> = ids
                .iter()
                .filter(|i| lib.get(&crate::paper::canonical_id(i)).is_none())
                .cloned()
                .collect();
            if !unknown.is_empty() {
                let models = Models::new(model.spec(before)?);
                let got = app::fetch::fetch_missing(dir, &models, &unknown)?;
                eprintln!(
                    "fetched {} paper(s) the library did not hold from the arXiv API: {}",
                    got.len(),
                    got.join(", ")
                );
                lib = app::open_library(dir)?;
            }
            let out = app::profile::mark_in(&lib, user, collection.as_deref(), ids, like)?;
            let (likes, dislikes) = match collection.as_deref() {
                Some(c) => out
                    .profile
                    .collections
                    .get(c)
                    .map_or((0, 0), |c| (c.likes.len(), c.dislikes.len())),
                None => (out.profile.likes.len(), out.profile.dislikes.len()),
            };
            println!(
                "{user}{}: {} {} new paper(s); {likes} liked, {dislikes} disliked",
                collection
                    .as_deref()
                    .map_or(String::new(), |c| format!(" (collection {c})")),
                if like { "liked" } else { "disliked" },
                out.added,
            );
        }
        ProfileAction::Unlike { ids } => {
            let p = app::profile::unlike(dir, user, ids)?;
            println!(
                "{user}: {} liked, {} disliked",
                p.likes.len(),
                p.dislikes.len()
            );
        }
        ProfileAction::Interests {
            texts,
            remove,
            model,
            collection,
        } => {
            let c = collection.as_deref();
            let p = if *remove {
                app::profile::remove_interests_in(dir, user, c, texts)?
            } else {
                let models = Models::new(model.spec(before)?);
                let lib = app::open_library(dir)?;
                app::profile::add_interests_in(&lib, &models, user, c, texts)?
            };
            println!("{user}: {} interest(s)", p.interests.len());
        }
        ProfileAction::Import {
            file,
            model,
            collection,
        } => {
            let models = Models::new(model.spec(before)?);
            let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
            let mut lib = app::open_library(dir)?;
            // Entries with an arXiv id but no abstract, not in the library: fetched
            // from the arXiv API first, so they are matched like library papers.
            let wanted: Vec<String> = crate::bibtex::parse(file, &text)?
                .iter()
                .filter(|e| e.abstract_text().is_none())
                .filter_map(|e| e.arxiv_id())
                .filter(|id| lib.get(id).is_none())
                .collect();
            if !wanted.is_empty() {
                let (got, unknown) = app::fetch::fetch_available(dir, &models, &wanted, true)?;
                eprintln!(
                    "fetched {} entr(ies) with an arXiv id and no abstract from the arXiv API{}",
                    got.len(),
                    if unknown.is_empty() {
                        String::new()
                    } else {
                        format!("; unknown there: {}", unknown.join(", "))
                    }
                );
                lib = app::open_library(dir)?;
            }
            let r = app::profile::import_bibtex_in(
                &lib,
                &models,
                user,
                collection.as_deref(),
                file,
                &text,
            )?;
            println!(
                "{}: {} entries: {} matched library papers ({} new likes), {} embedded from their abstracts, {} skipped (not in the library, no abstract); {user} now has {} liked + {} imported papers",
                file.display(),
                r.entries,
                r.matched,
                r.new_likes,
                r.embedded,
                r.skipped.len(),
                r.profile.likes.len(),
                r.profile.external.len()
            );
            if !r.skipped.is_empty() {
                println!("skipped: {}", terminal_text(&r.skipped.join(", ")));
            }
        }
        ProfileAction::Email { address, remove } => {
            let address = address.as_deref().filter(|_| !*remove);
            let p = app::profile::set_email(dir, user, address)?;
            match &p.email {
                Some(a) => println!("{user}: the daily digest goes to {a}"),
                None => println!("{user}: no mail address; the daily digest is not mailed"),
            }
        }
        ProfileAction::Follow { names } => {
            let p = app::profile::follow(dir, user, names)?;
            print_follows(user, &p);
        }
        ProfileAction::Unfollow { names } => {
            let p = app::profile::unfollow(dir, user, names)?;
            print_follows(user, &p);
        }
        ProfileAction::Keywords {
            require,
            exclude,
            remove,
            clear,
        } => {
            let change = app::profile::KeywordChange {
                require: require.clone(),
                exclude: exclude.clone(),
                remove: remove.clone(),
                clear: *clear,
            };
            let p = app::profile::keywords(dir, user, &change)?;
            println!(
                "{user}: keywords: {}",
                terminal_text(&app::profile::keywords_line(&p))
            );
        }
        ProfileAction::Show { format } => {
            if !matches!(format.as_str(), "table" | "json") {
                return Err(Error::Invalid(format!(
                    "unknown format {format:?}: expected table or json"
                )));
            }
            let p = Profiles::new(dir).get(user)?;
            let lib = app::open_library(dir).ok();
            if format == "json" {
                println!(
                    "{}",
                    json_string(&app::profile::profile_json(&p, lib.as_ref()))?
                );
            } else {
                print!("{}", app::profile::profile_table(&p, lib.as_ref()));
            }
        }
        ProfileAction::Threshold { value, clear } => {
            let p = if *clear || value.is_some() {
                app::profile::set_threshold(dir, user, *value)?
            } else {
                Profiles::new(dir).get(user)?
            };
            match p.threshold {
                Some(t) => println!(
                    "{user}: digests and feeds list papers scoring at least {t:.2} (at most --top)"
                ),
                None => println!("{user}: no threshold; digests and feeds list the top papers"),
            }
        }
        ProfileAction::Export => {
            let p = Profiles::new(dir).get(user)?;
            let lib = app::open_library(dir).ok();
            let v = app::history::export_json(&p, lib.as_ref())?;
            println!("{}", json_string(&v)?);
        }
    }
    Ok(())
}

fn run_history(dir: &std::path::Path, args: &HistoryArgs) -> Result<()> {
    if !matches!(args.format.as_str(), "table" | "json") {
        return Err(Error::Invalid(format!(
            "unknown format {:?}: expected table or json",
            args.format
        )));
    }
    profiles::check_user(&args.user)?;
    let p = Profiles::new(dir).get(&args.user)?;
    let lib = app::open_library(dir).ok();
    let days = app::history::history(&p, lib.as_ref(), args.since)?;
    if args.format == "json" {
        println!(
            "{}",
            json_string(&app::history::history_json(&args.user, &days))?
        );
    } else {
        print!("{}", app::history::history_table(&args.user, &days));
    }
    Ok(())
}

fn print_follows(user: &str, p: &profiles::Profile) {
    let names: Vec<&str> = p.follows.iter().map(|f| f.name.as_str()).collect();
    println!(
        "{user}: follows {}",
        if names.is_empty() {
            "nobody".to_string()
        } else {
            terminal_text(&names.join(", "))
        }
    );
}

fn run_recommend(dir: &std::path::Path, args: &RecommendArgs) -> Result<()> {
    let format: render::Format = args.format.parse()?;
    let req = query::RecommendRequest {
        user: args.user.clone(),
        window: window(args.date.as_deref(), args.since)?,
        top: args.top,
        min_score: args.min_score,
        categories: args.categories.clone(),
        include_seen: args.include_seen,
        record: !args.no_record,
        collection: args.collection.clone(),
    };
    query::check_request(req.top, req.min_score)?;
    profiles::check_user(&req.user)?;
    app::require_library(dir)?;
    let lib = app::open_library(dir)?;
    let out = query::recommend(&lib, &req)?;
    if !out.missing.is_empty() {
        tracing::warn!(
            "profile {}: not in this library, ignored: {}",
            args.user,
            out.missing.join(", ")
        );
    }
    print!("{}", render::render(&out.listing, format));
    if let Some(hint) = out.hint {
        eprintln!("{hint}");
    }
    if let (Some(t), false) = (out.listing.threshold, out.listing.quiet.is_empty()) {
        eprintln!("{}", render::quiet_message(t));
    }
    Ok(())
}

fn run_embed(models: &Models, args: &EmbedArgs) -> Result<()> {
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
    let summary = app::embed::embed_part(
        models,
        &args.input,
        args.output.as_deref(),
        opts,
        args.shard,
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

/// `s` safe to print on a terminal, line by line ([`render::terminal_safe`]): control
/// characters from stored or input data are shown escaped, line breaks kept.
fn terminal_text(s: &str) -> String {
    s.split('\n')
        .map(|line| render::terminal_safe(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
