//! Sentence embeddings: text in, L2-normalised `f32` vectors out.
//!
//! Owns model resolution (a local directory first, the Hugging Face hub second), loading
//! a BERT-family sentence-transformers directory with Candle, tokenization, batching by
//! token budget, pooling and the device choice. Knows nothing about papers: the text of
//! a paper is decided in [`crate::paper::paper_text`].

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

mod cpu;
mod cpuinfo;
pub mod kernels;
mod tensor;

/// Our packed f32 matrix product (the `paperscout-sgemm` path crate).
pub use paperscout_sgemm as sgemm;

pub use cpu::CpuBert;
pub use cpuinfo::cpu_report;
pub use tensor::TensorBert;

/// Characters of text handed to the tokenizer per token the model reads
/// (`max_seq_length`), on the first try. English averages 4 to 5 characters a token, so
/// this is ample for nearly every text; [`Embedder::tokenize`] widens it (×4 at a time)
/// when a text gives fewer tokens than the model reads, up to
/// [`MAX_CUT_CHARS_PER_TOKEN`].
pub const CUT_CHARS_PER_TOKEN: usize = 16;

/// The widest cut, in characters per token of `max_seq_length`: text beyond it is never
/// tokenized, whatever it holds, so tokenizing one text takes bounded memory (the
/// tokenizer keeps ~100 bytes per character it is given, overflow included).
pub const MAX_CUT_CHARS_PER_TOKEN: usize = 1024;

/// The start of `text` that holds at most `max_chars` characters, cut at the last ASCII
/// space, tab or line break within them (so no word is cut in two), or at the char
/// boundary when there is none; `text` itself when it is not longer.
///
/// Tokenizers split words at whitespace and never let a token cross it, so the tokens
/// of the cut text are the first tokens of the whole text: once the cut gives at least
/// as many tokens as the model reads, the truncated ids are the same as those of the
/// whole text. Only ASCII whitespace is used: BERT's normalizer drops some other
/// Unicode spaces (U+0085) instead of splitting there.
pub fn cut_for_tokenizer(text: &str, max_chars: usize) -> &str {
    let end = match text.char_indices().nth(max_chars) {
        Some((end, _)) => end,
        None => return text,
    };
    let head = &text[..end];
    match head.rfind([' ', '\t', '\n', '\r']) {
        Some(space) if space > 0 => &head[..space],
        _ => head,
    }
}

/// The default model, as a hub id.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// Where the project keeps its copy of the default model (`scripts/fetch-model.sh`).
pub const PROJECT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// Files of a sentence-transformers directory, found on disk.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// A name for messages and manifests: the hub id or the directory.
    pub name: String,
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
    /// `1_Pooling/config.json`; absent means mean pooling (sentence-transformers' default).
    pub pooling: Option<PathBuf>,
    /// `sentence_bert_config.json`; absent means the model's position limit.
    pub sentence_bert: Option<PathBuf>,
}

impl ModelFiles {
    /// The files of a local model directory. Required files must exist.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let required = |name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::model_file(
                    path,
                    "missing (a sentence-transformers directory needs config.json, tokenizer.json and model.safetensors)",
                ))
            }
        };
        let optional = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Ok(ModelFiles {
            name: dir.display().to_string(),
            config: required("config.json")?,
            tokenizer: required("tokenizer.json")?,
            weights: required("model.safetensors")?,
            pooling: optional("1_Pooling/config.json"),
            sentence_bert: optional("sentence_bert_config.json"),
        })
    }

    /// The files of a hub repository, from the local hub cache or downloaded with
    /// hf-hub (which honours `HF_HOME` and `HF_ENDPOINT`; `HF_HUB_OFFLINE=1` uses the
    /// cache only).
    pub fn from_hub(repo_id: &str) -> Result<Self> {
        let _span = tracing::info_span!("hub", repo_id).entered();
        let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1");
        let cache = hf_hub::Cache::from_env();
        let cached = cache.model(repo_id.to_string());
        let api = if offline {
            None
        } else {
            let api = hf_hub::api::sync::ApiBuilder::from_env()
                .with_progress(false)
                .build()
                .map_err(|e| Error::model_file(repo_id, format!("hub client: {e}")))?;
            Some(api.model(repo_id.to_string()))
        };
        let fetch = |file: &str| -> Result<PathBuf> {
            if let Some(path) = cached.get(file) {
                return Ok(path);
            }
            match &api {
                Some(repo) => repo.get(file).map_err(|e| {
                    Error::model_file(format!("{repo_id}/{file}"), format!("hub: {e}"))
                }),
                None => Err(Error::model_file(
                    format!("{repo_id}/{file}"),
                    "not in the hub cache and HF_HUB_OFFLINE=1",
                )),
            }
        };
        Ok(ModelFiles {
            name: repo_id.to_string(),
            config: fetch("config.json")?,
            tokenizer: fetch("tokenizer.json")?,
            weights: fetch("model.safetensors")?,
            pooling: fetch("1_Pooling/config.json").ok(),
            sentence_bert: fetch("sentence_bert_config.json").ok(),
        })
    }

    /// A stable short name for the model: the hub id, or a local directory's own name
    /// (`all-MiniLM-L6-v2`), so the same model reached from another directory keeps it.
    pub fn display_name(&self) -> String {
        let path = Path::new(&self.name);
        if path.is_dir() {
            if let Some(name) = path.file_name() {
                return name.to_string_lossy().into_owned();
            }
        }
        self.name.clone()
    }

    /// Lowercase hex sha256 of `model.safetensors`: what identifies the model's vectors.
    pub fn weights_sha256(&self) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut file =
            std::fs::File::open(&self.weights).map_err(|e| Error::io(&self.weights, e))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(&self.weights, e))?;
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// Resolve the model to use, in order:
    /// 1. `requested` (from `--model` or `PAPERSCOUT_MODEL`): a directory, else a hub id;
    /// 2. the project's `models/all-MiniLM-L6-v2`, relative to the current directory and
    ///    to the source tree this binary was built from;
    /// 3. [`DEFAULT_MODEL`] on the hub.
    ///
    /// When nothing works the error lists every place tried and the command that fixes it.
    pub fn resolve(requested: Option<&str>) -> Result<Self> {
        if let Some(req) = requested.map(str::trim).filter(|s| !s.is_empty()) {
            let path = Path::new(req);
            if path.is_dir() {
                return Self::from_dir(path);
            }
            if looks_like_hub_id(req) {
                return Self::from_hub(req).map_err(|e| Error::ModelNotFound {
                    tried: format!("  - {req}: not a local directory; as a hub id: {e}"),
                });
            }
            return Err(Error::model_file(
                path,
                "not a directory, and not a hub id of the form owner/name",
            ));
        }
        let mut tried = Vec::new();
        let candidates = [
            PathBuf::from(PROJECT_MODEL_DIR),
            Path::new(env!("CARGO_MANIFEST_DIR")).join(PROJECT_MODEL_DIR),
        ];
        for dir in candidates {
            if dir.is_dir() {
                return Self::from_dir(&dir);
            }
            tried.push(format!("  - {}: no such directory", dir.display()));
        }
        match Self::from_hub(DEFAULT_MODEL) {
            Ok(files) => Ok(files),
            Err(e) => {
                tried.push(format!("  - the hub ({DEFAULT_MODEL}): {e}"));
                Err(Error::ModelNotFound {
                    tried: tried.join("\n"),
                })
            }
        }
    }
}

fn looks_like_hub_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average of the token vectors, padding excluded.
    Mean,
    /// The vector of the first (`[CLS]`) token.
    Cls,
}

#[derive(Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

/// The subset of `config.json` that tells whether this is a BERT model at all.
#[derive(Deserialize)]
struct ModelKind {
    model_type: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
}

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when compiled in and a GPU is present, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            other => Err(Error::Invalid(format!(
                "unknown device {other:?}: expected cpu, cuda or auto"
            ))),
        }
    }
}

/// The Candle device for `choice`. Asking for CUDA in a build without the `cuda`
/// feature, or on a machine without a usable GPU, is an error; `Auto` falls back to CPU.
pub fn device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda if !candle_core::utils::cuda_is_available() => Err(Error::Device(
            "cuda was asked for, but this paperscout was built without CUDA; rebuild with `cargo build --release --features cuda`".into(),
        )),
        DeviceChoice::Cuda => Device::new_cuda(0)
            .map_err(|e| Error::Device(format!("cuda was asked for, but no usable GPU: {e}"))),
        DeviceChoice::Auto if candle_core::utils::cuda_is_available() => {
            Ok(Device::new_cuda(0).unwrap_or(Device::Cpu))
        }
        DeviceChoice::Auto => Ok(Device::Cpu),
    }
}

/// Which implementation of the encoder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// f32: our CPU encoder ([`CpuBert`]) on the CPU, Candle's `BertModel` on CUDA.
    /// f16/bf16: [`TensorBert`].
    #[default]
    Auto,
    /// Candle's stock `BertModel` on any device, f32 only: the reference the benchmark
    /// compares to.
    Candle,
    /// [`TensorBert`], our encoder in Candle tensor operations, on any device and float
    /// type.
    Tensor,
}

impl std::str::FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "fast" => Ok(Engine::Auto),
            "candle" => Ok(Engine::Candle),
            "tensor" => Ok(Engine::Tensor),
            other => Err(Error::Invalid(format!(
                "unknown engine {other:?}: expected auto, candle or tensor"
            ))),
        }
    }
}

/// Parse a float type for the model: `f32` (default), `f16` or `bf16`.
pub fn parse_dtype(s: &str) -> Result<DType> {
    match s.to_ascii_lowercase().as_str() {
        "f32" | "float32" => Ok(DType::F32),
        "f16" | "float16" | "half" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => Err(Error::Invalid(format!(
            "unknown dtype {other:?}: expected f32, f16 or bf16"
        ))),
    }
}

enum Encoder {
    Cpu(CpuBert),
    Candle(BertModel),
    Tensor(TensorBert),
}

/// Tuning of [`Embedder::embed`].
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Upper bound on padded tokens per forward pass (batch size × longest text).
    /// Larger batches amortise per-call overhead; smaller ones bound memory (attention
    /// scores grow with batch × length²).
    pub max_batch_tokens: usize,
    /// Upper bound on texts per forward pass.
    pub max_batch_size: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_batch_tokens: 8192,
            max_batch_size: 64,
        }
    }
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    encoder: Encoder,
    tokenizer: Tokenizer,
    device: Device,
    pooling: Pooling,
    max_seq_length: usize,
    dim: usize,
    pad_id: u32,
    name: String,
    /// The name in checkpoints: `name`, plus ` (int8)` for int8 `Linear` layers, so a
    /// run is never resumed in the other precision.
    run_name: String,
    batch: BatchOptions,
}

impl Embedder {
    /// Load a model on `device` with the default engine. Every failure names the file
    /// at fault.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<Self> {
        Self::load_with_engine(files, device, Engine::Auto)
    }

    /// Load a model on `device` with a chosen engine, in f32.
    pub fn load_with_engine(files: &ModelFiles, device: &Device, engine: Engine) -> Result<Self> {
        Self::load_with(files, device, engine, DType::F32)
    }

    /// Load a model on `device` with a chosen engine and float type (f16 and bf16 run
    /// [`TensorBert`]; Candle's `BertModel` is refused there: its attention mask is NaN
    /// in f16, see `tensor.rs`).
    pub fn load_with(
        files: &ModelFiles,
        device: &Device,
        engine: Engine,
        dtype: DType,
    ) -> Result<Self> {
        Self::load_inner(files, device, engine, dtype, None)
    }

    /// Load a model for our CPU encoder (f32) with its products on a chosen kernel path
    /// instead of the best one: tests and benchmarks compare the paths. An error when
    /// this CPU cannot run the path.
    pub fn load_with_kernel(files: &ModelFiles, kernel: kernels::KernelPath) -> Result<Self> {
        Self::load_with_precision(files, kernel, kernels::Precision::F32)
    }

    /// [`Self::load_with_kernel`] with the `Linear` layers in a chosen precision.
    pub fn load_with_precision(
        files: &ModelFiles,
        kernel: kernels::KernelPath,
        precision: kernels::Precision,
    ) -> Result<Self> {
        Self::load_inner(
            files,
            &Device::Cpu,
            Engine::Auto,
            DType::F32,
            Some((kernel, precision)),
        )
    }

    /// The kernel path of the matrix products when our CPU encoder runs; `None` for
    /// the Candle engines.
    pub fn kernel_path(&self) -> Option<kernels::KernelPath> {
        match &self.encoder {
            Encoder::Cpu(cpu) => Some(cpu.kernel_path()),
            _ => None,
        }
    }

    /// The precision of the `Linear` layers when our CPU encoder runs; `None` for the
    /// Candle engines.
    pub fn precision(&self) -> Option<kernels::Precision> {
        match &self.encoder {
            Encoder::Cpu(cpu) => Some(cpu.precision()),
            _ => None,
        }
    }

    fn load_inner(
        files: &ModelFiles,
        device: &Device,
        engine: Engine,
        dtype: DType,
        kernel: Option<(kernels::KernelPath, kernels::Precision)>,
    ) -> Result<Self> {
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
            return Err(Error::Invalid(format!(
                "dtype {dtype:?}: expected f32, f16 or bf16"
            )));
        }
        if engine == Engine::Candle && dtype != DType::F32 {
            return Err(Error::Invalid(format!(
                "--engine candle runs in f32 only (Candle's BertModel turns its attention mask into NaN in {dtype:?}); use --engine auto or tensor"
            )));
        }
        let _span = tracing::info_span!("load_model", model = %files.name).entered();
        let config_text =
            std::fs::read_to_string(&files.config).map_err(|e| Error::io(&files.config, e))?;
        let kind: ModelKind = serde_json::from_str(&config_text)
            .map_err(|e| Error::model_file(&files.config, format!("not valid JSON: {e}")))?;
        let is_bert = match kind.model_type.as_deref() {
            Some(t) => t == "bert",
            None => kind.architectures.iter().any(|a| a.starts_with("Bert")),
        };
        if !is_bert {
            return Err(Error::model_file(
                &files.config,
                format!(
                    "model_type {:?} (architectures {:?}) is not a BERT model; paperscout runs BERT-family sentence-transformers",
                    kind.model_type.as_deref().unwrap_or("none"),
                    kind.architectures
                ),
            ));
        }
        let mut config_json: serde_json::Value = serde_json::from_str(&config_text)
            .map_err(|e| Error::model_file(&files.config, format!("not valid JSON: {e}")))?;
        // Candle names the tanh GELU `geluapproximate`; transformers' configs use these.
        if let Some(act) = config_json.get_mut("hidden_act") {
            if matches!(
                act.as_str(),
                Some("gelu_new" | "gelu_fast" | "gelu_pytorch_tanh")
            ) {
                *act = serde_json::Value::from("geluapproximate");
            }
        }
        let config: BertConfig = serde_json::from_value(config_json)
            .map_err(|e| Error::model_file(&files.config, format!("not a BERT config: {e}")))?;

        let pooling = match &files.pooling {
            None => Pooling::Mean,
            Some(path) => read_pooling(path, config.hidden_size)?,
        };
        let mut max_seq_length = config.max_position_embeddings;
        if let Some(path) = &files.sentence_bert {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let sbert: SentenceBertConfig = serde_json::from_str(&text)
                .map_err(|e| Error::model_file(path, format!("not valid JSON: {e}")))?;
            if let Some(n) = sbert.max_seq_length {
                if n < 2 {
                    return Err(Error::model_file(
                        path,
                        format!("max_seq_length {n} leaves no room for [CLS] and [SEP]"),
                    ));
                }
                max_seq_length = n.min(config.max_position_embeddings);
            }
        }

        let mut tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| Error::model_file(&files.tokenizer, e))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                stride: 0,
            }))
            .map_err(|e| Error::model_file(&files.tokenizer, e))?;
        // We pad each batch ourselves to its own longest text.
        tokenizer.with_padding(None);

        let encoder = match (engine, device, dtype) {
            (Engine::Auto, Device::Cpu, DType::F32) => Encoder::Cpu(match kernel {
                Some((k, p)) => CpuBert::load_with_kernel(&files.weights, &config, k, p)?,
                None => CpuBert::load(&files.weights, &config)?,
            }),
            (Engine::Auto | Engine::Candle, _, DType::F32) => {
                Encoder::Candle(load_weights(&files.weights, &config, device)?)
            }
            _ => Encoder::Tensor(TensorBert::load(&files.weights, &config, device, dtype)?),
        };
        let run_name = match &encoder {
            Encoder::Cpu(cpu) if cpu.precision() == kernels::Precision::Int8 => {
                format!("{} (int8)", files.name)
            }
            _ => files.name.clone(),
        };
        Ok(Embedder {
            encoder,
            tokenizer,
            device: device.clone(),
            pooling,
            max_seq_length,
            dim: config.hidden_size,
            pad_id: u32::try_from(config.pad_token_id).unwrap_or(0),
            name: files.name.clone(),
            run_name,
            batch: BatchOptions::default(),
        })
    }

    /// Resolve (see [`ModelFiles::resolve`]) and load a model.
    pub fn from_request(requested: Option<&str>, device: &Device) -> Result<Self> {
        Self::load(&ModelFiles::resolve(requested)?, device)
    }

    /// Replace the batching limits.
    pub fn with_batch_options(mut self, batch: BatchOptions) -> Self {
        self.batch = BatchOptions {
            max_batch_tokens: batch.max_batch_tokens.max(1),
            max_batch_size: batch.max_batch_size.max(1),
        };
        self
    }

    /// Dimension of the output vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Texts are truncated to this many tokens, `[CLS]` and `[SEP]` included.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The model's name (hub id or directory).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids of `text` after truncation, special tokens included.
    ///
    /// Only the start of a long text is tokenized ([`cut_for_tokenizer`], at
    /// [`CUT_CHARS_PER_TOKEN`] characters per token read, widened while the cut gives
    /// fewer tokens than the model reads): the ids are those of the whole text, and
    /// the memory taken does not grow with the text (a 12 MB abstract used to cost
    /// over a gigabyte here). Only a text that needs more than
    /// [`MAX_CUT_CHARS_PER_TOKEN`] characters per token (mostly control characters,
    /// or words over 100 characters that each become one `[UNK]`) is read no further.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let widest = self.max_seq_length.saturating_mul(MAX_CUT_CHARS_PER_TOKEN);
        let mut chars = self.max_seq_length.saturating_mul(CUT_CHARS_PER_TOKEN);
        loop {
            let cut = cut_for_tokenizer(text, chars);
            let enc = self
                .tokenizer
                .encode(cut, true)
                .map_err(|e| Error::Tokenizer(e.to_string()))?;
            // Truncated to max_seq_length: the cut held enough, the rest cannot matter.
            let enough = enc.get_ids().len() >= self.max_seq_length;
            if enough || cut.len() == text.len() || chars >= widest {
                return Ok(enc.get_ids().to_vec());
            }
            chars = chars.saturating_mul(4).min(widest);
        }
    }

    /// Embed `texts`; the result is in input order, one unit-norm vector of
    /// [`Self::dim`] floats per text.
    ///
    /// Texts are tokenized, sorted by length and cut into batches of at most
    /// `max_batch_tokens` padded tokens, so short texts are not padded to long ones.
    pub fn embed<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let ids = {
            use rayon::prelude::*;
            let _span = tracing::debug_span!("tokenize", n = texts.len()).entered();
            // One text at a time through `tokenize`, which cuts long texts first: the
            // whole batch's encodings (offsets, overflow) are never held at once.
            texts
                .par_iter()
                .map(|t| self.tokenize(t.as_ref()))
                .collect::<Result<Vec<_>>>()?
        };
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));

        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted longest first, so the first text of a batch sets its padded length.
            let longest = ids[order[start]].len().max(1);
            let fit = (self.batch.max_batch_tokens / longest).clamp(1, self.batch.max_batch_size);
            let end = (start + fit).min(order.len());
            let batch: Vec<&[u32]> = order[start..end]
                .iter()
                .map(|&i| ids[i].as_slice())
                .collect();
            let vectors = self.embed_tokens(&batch)?;
            for (&i, v) in order[start..end].iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// Vectors for already tokenized, truncated texts, in the given order (one batch).
    pub fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        match &self.encoder {
            Encoder::Cpu(cpu) => {
                let _span = tracing::debug_span!("forward_cpu", n = batch.len()).entered();
                cpu.embed(batch, self.pooling)
            }
            Encoder::Candle(model) => self.embed_padded(batch, |input, mask| {
                let token_types = input.zeros_like()?;
                Ok(model.forward(input, &token_types, Some(mask))?)
            }),
            Encoder::Tensor(model) => {
                self.embed_padded(batch, |input, mask| model.forward(input, mask))
            }
        }
    }

    /// One padded forward pass of a tensor encoder: `forward` maps `[n, len]` token ids
    /// and mask to hidden states `[n, len, hidden]`; pooling and normalising run in f32.
    fn embed_padded(
        &self,
        batch: &[&[u32]],
        forward: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Vec<Vec<f32>>> {
        let n = batch.len();
        let len = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut input = vec![self.pad_id; n * len];
        let mut mask = vec![0u32; n * len];
        for (row, tokens) in batch.iter().enumerate() {
            input[row * len..row * len + tokens.len()].copy_from_slice(tokens);
            mask[row * len..row * len + tokens.len()].fill(1);
        }
        let input = Tensor::from_vec(input, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let hidden = {
            let _span = tracing::debug_span!("forward", n, len).entered();
            forward(&input, &mask)?.to_dtype(DType::F32)?
        };
        let _span = tracing::debug_span!("pool", n).entered();
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)?
            }
        };
        let norms = pooled
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        let normalised = pooled.broadcast_div(&norms)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

fn read_pooling(path: &Path, hidden_size: usize) -> Result<Pooling> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let cfg: PoolingConfig = serde_json::from_str(&text)
        .map_err(|e| Error::model_file(path, format!("not a pooling config: {e}")))?;
    if let Some(d) = cfg.word_embedding_dimension {
        if d != hidden_size {
            return Err(Error::model_file(
                path,
                format!("word_embedding_dimension {d} does not match the model's hidden_size {hidden_size}"),
            ));
        }
    }
    match (
        cfg.pooling_mode_mean_tokens,
        cfg.pooling_mode_cls_token,
        cfg.pooling_mode_max_tokens || cfg.pooling_mode_mean_sqrt_len_tokens,
    ) {
        (true, false, false) => Ok(Pooling::Mean),
        (false, true, false) => Ok(Pooling::Cls),
        _ => Err(Error::model_file(
            path,
            "unsupported pooling: exactly one of pooling_mode_mean_tokens or pooling_mode_cls_token must be true (max and mean_sqrt_len are not supported)",
        )),
    }
}

/// The BERT weights of a safetensors file as `dtype` on `device`, rooted at the encoder
/// (a `bert.` prefix, as in checkpoints saved with a task head, is stepped into), after
/// checking that the config's heads divide its hidden size. For our encoders
/// ([`CpuBert`], [`TensorBert`]).
fn open_bert_weights(
    path: &Path,
    config: &BertConfig,
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>> {
    let h = config.hidden_size;
    if config.num_attention_heads == 0 || !h.is_multiple_of(config.num_attention_heads) {
        return Err(Error::model_file(
            path,
            format!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            ),
        ));
    }
    // SAFETY: mapped read-only; see `load_weights`.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], dtype, device) }
        .map_err(|e| Error::model_file(path, format!("not a readable safetensors file: {e}")))?;
    Ok(
        if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        },
    )
}

fn load_weights(path: &Path, config: &BertConfig, device: &Device) -> Result<BertModel> {
    let _span = tracing::debug_span!("load_weights").entered();
    // SAFETY: the file is mapped read-only; like every mmap-based loader we rely on
    // nobody truncating the model file while it is in use. Its header and tensor
    // bounds are checked by safetensors before any tensor is read.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device) }
        .map_err(|e| Error::model_file(path, format!("not a readable safetensors file: {e}")))?;
    BertModel::load(vb, config).map_err(|e| {
        Error::model_file(
            path,
            format!(
                "weights do not fit config.json (hidden_size {}, {} layers): {e}",
                config.hidden_size, config.num_hidden_layers
            ),
        )
    })
}

/// Cosine similarity of two vectors (not assumed normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(f32::MIN_POSITIVE)
}

impl crate::job::TextEmbedder for Embedder {
    fn dim(&self) -> usize {
        Embedder::dim(self)
    }
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Embedder::tokenize(self, text)
    }
    fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        Embedder::embed_tokens(self, batch)
    }
    fn model_name(&self) -> &str {
        &self.run_name
    }
    /// The widest cut [`Embedder::tokenize`] makes: no character beyond it is read.
    fn max_text_chars(&self) -> Option<usize> {
        Some(self.max_seq_length.saturating_mul(MAX_CUT_CHARS_PER_TOKEN))
    }
}
