//! Shared test helpers: a tiny random-weight BERT sentence-transformers directory
//! built in milliseconds, and the real model when a test needs real numbers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use paperscout::embed::{Embedder, ModelFiles};
use paperscout::ingest;
use paperscout::library::{npy, ModelInfo, Writer, WriterOptions};

/// Words of the tiny tokenizer's vocabulary (after the special tokens).
pub const TINY_WORDS: &[&str] = &[
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "paper",
    "model",
    "graph",
    "neural",
    "network",
    "language",
    "vision",
    "learning",
    "deep",
    "retrieval",
    "search",
    "embedding",
    "robot",
    "policy",
    "quantum",
    "proof",
    "theorem",
    "data",
    "set",
    "we",
    "propose",
    "new",
    "method",
    "results",
    "show",
    ".",
    ",",
    "##s",
    "##ing",
    "##ed",
];

pub const TINY_HIDDEN: usize = 32;

/// Settings of a tiny model directory.
pub struct Tiny {
    pub hidden: usize,
    pub layers: usize,
    pub max_seq_length: Option<usize>,
    pub pooling: &'static str,
    pub seed: u64,
    /// config.json `hidden_act`: gelu, gelu_new (tanh approximation) or relu.
    pub act: &'static str,
}

impl Default for Tiny {
    fn default() -> Self {
        Tiny {
            hidden: TINY_HIDDEN,
            layers: 2,
            max_seq_length: Some(32),
            pooling: "mean",
            seed: 7,
            act: "gelu",
        }
    }
}

/// The config.json of a tiny BERT.
pub fn tiny_config_json(hidden: usize, layers: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": 5 + TINY_WORDS.len(),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "intermediate_size": hidden * 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0
    })
}

/// Write a tiny random-weight sentence-transformers directory into `dir`.
pub fn write_tiny_model(dir: &Path, tiny: &Tiny) {
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let mut config_json = tiny_config_json(tiny.hidden, tiny.layers);
    config_json["hidden_act"] = serde_json::json!(tiny.act);
    std::fs::write(dir.join("config.json"), config_json.to_string()).unwrap();
    // Candle's own spelling of transformers' tanh GELU.
    if tiny.act == "gelu_new" {
        config_json["hidden_act"] = serde_json::json!("geluapproximate");
    }
    let config: Config = serde_json::from_value(config_json).unwrap();

    // BertModel::load on a VarMap creates every variable the model asks for; then
    // each gets seeded pseudo-random values (candle cannot seed its CPU rng).
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    BertModel::load(vb, &config).expect("tiny BERT builds");
    let mut state = tiny.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*: uniform in [-1, 1)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (x as f32 / (1u64 << 23) as f32) - 1.0
    };
    let vars = varmap.data().lock().unwrap();
    let mut names: Vec<_> = vars.keys().cloned().collect();
    names.sort();
    for name in names {
        let var = &vars[&name];
        let shape = var.shape().clone();
        let (base, scale) = if name.ends_with("LayerNorm.weight") {
            (1.0, 0.1)
        } else {
            (0.0, 0.5)
        };
        let values: Vec<f32> = (0..shape.elem_count())
            .map(|_| base + scale * next())
            .collect();
        var.set(&Tensor::from_vec(values, shape, &Device::Cpu).unwrap())
            .unwrap();
    }
    drop(vars);
    varmap.save(dir.join("model.safetensors")).unwrap();

    std::fs::write(dir.join("tokenizer.json"), tiny_tokenizer_json()).unwrap();
    let (mean, cls) = match tiny.pooling {
        "mean" => (true, false),
        "cls" => (false, true),
        other => panic!("pooling {other}"),
    };
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        serde_json::json!({
            "word_embedding_dimension": tiny.hidden,
            "pooling_mode_cls_token": cls,
            "pooling_mode_mean_tokens": mean,
            "pooling_mode_max_tokens": false,
            "pooling_mode_mean_sqrt_len_tokens": false
        })
        .to_string(),
    )
    .unwrap();
    if let Some(n) = tiny.max_seq_length {
        std::fs::write(
            dir.join("sentence_bert_config.json"),
            serde_json::json!({"max_seq_length": n, "do_lower_case": false}).to_string(),
        )
        .unwrap();
    }
}

/// A hand-made WordPiece tokenizer.json in the format of BERT's, lower-casing.
pub fn tiny_tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, tok) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .chain(TINY_WORDS)
        .enumerate()
    {
        vocab.insert(tok.to_string(), serde_json::json!(i));
    }
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0",
        // Like the real MiniLM tokenizer.json: settings the embedder must override.
        "truncation": {"max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"),
            special(3, "[SEP]"), special(4, "[MASK]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

/// A tiny model directory in a fresh temporary directory.
pub fn tiny_model(tiny: &Tiny) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny-model");
    write_tiny_model(&dir, tiny);
    (tmp, dir)
}

pub fn load(dir: &Path) -> Embedder {
    Embedder::load(&ModelFiles::from_dir(dir).unwrap(), &Device::Cpu).unwrap()
}

/// The project's copy of all-MiniLM-L6-v2. Tests that need real numbers fail (not
/// skip) without it: `scripts/test.sh` fetches it first.
pub fn real_model_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/fetch-model.sh (scripts/test.sh does it for you)",
        dir.display()
    );
    dir
}

/// The real model, loaded once per test binary.
pub fn real_embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load(&real_model_dir()))
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The data directory: `$PAPERSCOUT_DATA` (a relative value from the repository
/// root), else `../shared/data` beside the repository. `build.rs` sets
/// `cfg(paperscout_corpus)` when its corpus is there; a test that needs it carries
/// `#[cfg_attr(not(paperscout_corpus), ignore = ...)]`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("PAPERSCOUT_DATA") {
        Some(dir) if !dir.is_empty() => repo().join(dir),
        _ => repo().join("../shared/data"),
    }
}

/// A path inside the data directory, e.g. `data("arxiv-daily-cs-2026h1/minilm-embeddings")`.
pub fn data(rel: &str) -> PathBuf {
    data_dir().join(rel)
}

/// The corpus: `data("arxiv-daily-cs-2026h1")`.
pub fn corpus() -> PathBuf {
    data("arxiv-daily-cs-2026h1")
}

/// A small fixture kept in the repository, e.g. `fixture("api/laya-reader/arxiv_3.xml")`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// The old `../shared/...` names, kept so existing callers compile: the API
/// response fixtures and the golden vectors resolve to the repository's copies
/// (`tests/fixtures/api`, `tests/fixtures/golden`), other `data/...` through
/// [`data`].
#[allow(dead_code)]
pub fn shared(rel: &str) -> PathBuf {
    if let Some(rest) = rel.strip_prefix("data/api-response-fixtures") {
        fixture(&format!("api{rest}"))
    } else if let Some(rest) = rel.strip_prefix("data/") {
        data(rest)
    } else if let Some(rest) = rel.strip_prefix("fixtures/") {
        fixture(&format!("golden/{rest}"))
    } else {
        repo().join("../shared").join(rel)
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

pub fn norm(a: &[f32]) -> f32 {
    a.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// The project's sample: 320 real papers of four May 2026 days.
pub fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-2026-05.jsonl")
}

/// The sample, read by `ingest`, stored with the reference MiniLM vectors of ../shared.
pub fn sample_library(dir: &Path) {
    let emb = shared("data/arxiv-daily-cs-2026h1/minilm-embeddings");
    let m = npy::read(&emb.join("arxiv_cs_2026-05.npy")).unwrap();
    let ids: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(emb.join("arxiv_cs_2026-05.ids.json")).unwrap(),
    )
    .unwrap();
    let row: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let papers: Vec<_> = ingest::read(&sample_path(), None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(papers.len(), 320);
    let model = ModelInfo::new(
        "sentence-transformers/all-MiniLM-L6-v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        384,
    );
    let mut w = Writer::open(dir, &model, &WriterOptions::default()).unwrap();
    let plan = w.plan(&papers);
    let vectors: Vec<Vec<f32>> = plan
        .indices
        .iter()
        .map(|&i| m.row(row[papers[i].id.as_str()]).to_vec())
        .collect();
    w.upsert(&papers, &vectors).unwrap();
    w.finish().unwrap();
}

/// `paperscout ARGS...` with no model, library or log settings from the environment;
/// should anything ask the arXiv API, it asks a closed local port, never the network.
#[allow(dead_code)]
pub fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env("PAPERSCOUT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("RUST_LOG")
        .output()
        .expect("run paperscout")
}

/// [`cli`]'s standard output; fails the test when the command fails.
#[allow(dead_code)]
pub fn cli_ok(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "paperscout {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// [`cli`]'s standard error; fails the test when the command succeeds.
#[allow(dead_code)]
pub fn cli_fails(args: &[&str]) -> String {
    let out = cli(args);
    assert!(!out.status.success(), "paperscout {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sample ids (in file order) listed on `day` whose primary category is `cat`.
#[allow(dead_code)]
pub fn sample_ids(day: &str, cat: &str) -> Vec<String> {
    std::fs::read_to_string(sample_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["listing_date"] == day && v["categories"][0] == cat)
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}
