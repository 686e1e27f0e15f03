//! The embedder: parity with sentence-transformers on the real model, batching
//! invariants, and loading / pooling / truncation / error paths on a tiny random BERT.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use paperscout::embed::{BatchOptions, Embedder, Engine, ModelFiles, Pooling};
use paperscout::Error;

use crate::common::{self, cosine, norm, Tiny};

// ---- the real model ------------------------------------------------------------

#[derive(serde::Deserialize)]
struct Golden {
    id: String,
    text: String,
    embedding: Vec<f32>,
}

fn golden_rows() -> Vec<Golden> {
    let path = common::fixture("golden/minilm-golden.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn golden_vectors_match_sentence_transformers() {
    let rows = golden_rows();
    assert!(
        rows.len() >= 45,
        "expected the 45 golden rows, found {}",
        rows.len()
    );
    assert!(
        rows.iter().any(|r| r.text.is_empty()),
        "the empty-string row is part of the check"
    );
    let embedder = common::real_embedder();
    assert_eq!(embedder.dim(), 384);
    assert_eq!(embedder.max_seq_length(), 256);
    assert_eq!(embedder.pooling(), Pooling::Mean);
    // All rows in one call: they are batched together (sorted by length, padded).
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder.embed(&texts).unwrap();
    let mut worst = (1.0f32, String::new());
    for (row, v) in rows.iter().zip(&vectors) {
        assert_eq!(v.len(), row.embedding.len(), "{}", row.id);
        let c = cosine(v, &row.embedding);
        if c < worst.0 {
            worst = (c, row.id.clone());
        }
    }
    assert!(
        worst.0 > 0.9999,
        "worst golden cosine {} on row {}",
        worst.0,
        worst.1
    );
}

#[test]
fn golden_over_long_row_is_truncated_like_the_reference() {
    let rows = golden_rows();
    let embedder = common::real_embedder();
    let longest = rows.iter().max_by_key(|r| r.text.len()).unwrap();
    let tokens = embedder.tokenize(&longest.text).unwrap();
    assert_eq!(
        tokens.len(),
        256,
        "truncated to max_seq_length, [CLS] and [SEP] included"
    );
    // Embedded alone, not only inside a batch.
    let v = &embedder.embed(&[longest.text.as_str()]).unwrap()[0];
    assert!(cosine(v, &longest.embedding) > 0.9999);
}

#[test]
fn text_in_padded_batch_equals_text_alone() {
    let rows = golden_rows();
    let embedder = common::real_embedder();
    let short = "Graph neural networks for molecule property prediction.";
    let alone = embedder.embed(&[short]).unwrap().remove(0);
    // A batch whose longest text pads `short` to 256 tokens.
    let mut batch: Vec<&str> = rows.iter().take(12).map(|r| r.text.as_str()).collect();
    batch.insert(5, short);
    let in_batch = embedder.embed(&batch).unwrap();
    let c = cosine(&alone, &in_batch[5]);
    assert!(
        c > 0.9999,
        "cosine {c} between the text alone and inside a padded batch"
    );
}

#[test]
fn outputs_are_unit_norm_and_in_input_order() {
    let rows = golden_rows();
    let embedder = common::real_embedder();
    // Mixed lengths, so the length sort reorders them internally.
    let texts: Vec<&str> = rows.iter().rev().take(9).map(|r| r.text.as_str()).collect();
    let together = embedder.embed(&texts).unwrap();
    for (i, text) in texts.iter().enumerate() {
        assert!(
            (norm(&together[i]) - 1.0).abs() < 1e-5,
            "row {i} norm {}",
            norm(&together[i])
        );
        let alone = embedder.embed(&[*text]).unwrap().remove(0);
        assert!(
            cosine(&alone, &together[i]) > 0.9999,
            "row {i} out of order"
        );
    }
    // Small token budgets split the same texts into many batches: same answers.
    let small = common::load(&common::real_model_dir()).with_batch_options(BatchOptions {
        max_batch_tokens: 300,
        max_batch_size: 3,
    });
    let split = small.embed(&texts).unwrap();
    for (a, b) in together.iter().zip(&split) {
        assert!(cosine(a, b) > 0.9999);
    }
}

#[test]
fn empty_input_gives_no_vectors() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let e = common::load(&dir);
    let none: [&str; 0] = [];
    assert!(e.embed(&none).unwrap().is_empty());
}

// ---- the tiny model: loading, pooling, truncation ---------------------------------

/// Token vectors of `text` straight from candle's BertModel over the same weights:
/// an oracle for pooling that does not go through our batching or pooling code.
fn token_states(dir: &std::path::Path, embedder: &Embedder, text: &str) -> Vec<Vec<f32>> {
    let config: Config =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let model = BertModel::load(vb, &config).unwrap();
    let ids = embedder.tokenize(text).unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let types = input.zeros_like().unwrap();
    let out = model.forward(&input, &types, None).unwrap();
    out.squeeze(0).unwrap().to_vec2::<f32>().unwrap()
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let n = norm(&v);
    v.into_iter().map(|x| x / n).collect()
}

#[test]
fn tiny_model_loads_with_its_settings() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let e = common::load(&dir);
    assert_eq!(e.dim(), common::TINY_HIDDEN);
    assert_eq!(e.max_seq_length(), 32);
    assert_eq!(e.pooling(), Pooling::Mean);
    // tokenizer.json says pad to 128; the embedder must not: [CLS] the paper [SEP].
    assert_eq!(e.tokenize("the paper").unwrap(), vec![2, 5, 11, 3]);
}

#[test]
fn mean_pooling_averages_token_vectors() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let e = common::load(&dir);
    let text = "we propose a new graph neural network";
    let states = token_states(&dir, &e, text);
    let mut mean = vec![0f32; states[0].len()];
    for row in &states {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / states.len() as f32;
        }
    }
    let expected = normalised(mean);
    // Inside a batch with a longer text, so padding must be excluded from the mean.
    let got = e
        .embed(&[
            text,
            "the results show a new deep learning method of the paper and the data set",
        ])
        .unwrap();
    assert!(
        cosine(&got[0], &expected) > 0.99999,
        "cosine {}",
        cosine(&got[0], &expected)
    );
}

#[test]
fn cls_pooling_takes_the_first_token() {
    let (_tmp, dir) = common::tiny_model(&Tiny {
        pooling: "cls",
        ..Tiny::default()
    });
    let e = common::load(&dir);
    assert_eq!(e.pooling(), Pooling::Cls);
    let text = "quantum proof of the theorem";
    let expected = normalised(token_states(&dir, &e, text)[0].clone());
    let got = e.embed(&[text, "a"]).unwrap();
    assert!(cosine(&got[0], &expected) > 0.99999);
    // And it differs from mean pooling over the same weights.
    let (_tmp2, dir2) = common::tiny_model(&Tiny::default());
    let mean = common::load(&dir2).embed(&[text]).unwrap();
    assert!(cosine(&got[0], &mean[0]) < 0.9999);
}

#[test]
fn truncation_follows_max_seq_length() {
    let (_tmp, dir) = common::tiny_model(&Tiny {
        max_seq_length: Some(8),
        ..Tiny::default()
    });
    let e = common::load(&dir);
    assert_eq!(e.max_seq_length(), 8);
    let long = "the graph model of the neural network and the vision model show results";
    assert_eq!(e.tokenize(long).unwrap().len(), 8);
    // [CLS] + the first six words + [SEP]: the rest must not change the vector.
    let head = "the graph model of the neural";
    let v = e.embed(&[long, head]).unwrap();
    assert!(cosine(&v[0], &v[1]) > 0.99999);
}

#[test]
fn without_sentence_bert_config_the_position_limit_applies() {
    let (_tmp, dir) = common::tiny_model(&Tiny {
        max_seq_length: None,
        ..Tiny::default()
    });
    let e = common::load(&dir);
    assert_eq!(e.max_seq_length(), 64);
    let long = "the ".repeat(200);
    assert_eq!(e.tokenize(&long).unwrap().len(), 64);
    assert_eq!(
        e.embed(&[long.as_str()]).unwrap()[0].len(),
        common::TINY_HIDDEN
    );
}

#[test]
fn weights_under_a_bert_prefix_load() {
    // Some checkpoints store "bert.embeddings...": BertModel handles the prefix.
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let plain = common::load(&dir).embed(&["graph search"]).unwrap();
    let tensors =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let prefixed: std::collections::HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(k, v)| (format!("bert.{k}"), v))
        .collect();
    candle_core::safetensors::save(&prefixed, dir.join("model.safetensors")).unwrap();
    let again = common::load(&dir).embed(&["graph search"]).unwrap();
    assert!(cosine(&plain[0], &again[0]) > 0.99999);
}

#[test]
fn cpu_encoder_equals_candle_bert_model_and_tensor_engine() {
    let texts = [
        "the",
        "we propose a new graph neural network",
        "the results show a new deep learning method of the paper and the data set of the robot policy",
        "",
        "quantum proof of the theorem , the theorem of the quantum proof",
    ];
    for (act, pooling) in [
        ("gelu", "mean"),
        ("gelu", "cls"),
        ("gelu_new", "mean"),
        ("relu", "mean"),
    ] {
        let (_tmp, dir) = common::tiny_model(&Tiny {
            act,
            pooling,
            seed: 11,
            ..Tiny::default()
        });
        let files = ModelFiles::from_dir(&dir).unwrap();
        let fast = Embedder::load(&files, &Device::Cpu)
            .unwrap()
            .embed(&texts)
            .unwrap();
        let stock = Embedder::load_with_engine(&files, &Device::Cpu, Engine::Candle)
            .unwrap()
            .embed(&texts)
            .unwrap();
        // Our tensor-op encoder (the f16/bf16 path) in f32 is the same model too.
        let tensor = Embedder::load_with(&files, &Device::Cpu, Engine::Tensor, DType::F32)
            .unwrap()
            .embed(&texts)
            .unwrap();
        for (i, ((a, b), t)) in fast.iter().zip(&stock).zip(&tensor).enumerate() {
            let c = cosine(a, b);
            assert!(c > 0.99999, "{act}/{pooling} text {i}: cosine {c}");
            let c = cosine(a, t);
            assert!(
                c > 0.99999,
                "{act}/{pooling} text {i}: tensor engine cosine {c}"
            );
        }
    }
}

#[test]
fn real_model_engines_agree() {
    let rows = golden_rows();
    let texts: Vec<&str> = rows.iter().take(6).map(|r| r.text.as_str()).collect();
    let files = ModelFiles::from_dir(&common::real_model_dir()).unwrap();
    let stock = Embedder::load_with_engine(&files, &Device::Cpu, Engine::Candle).unwrap();
    let fast = common::real_embedder().embed(&texts).unwrap();
    for (a, b) in fast.iter().zip(stock.embed(&texts).unwrap()) {
        assert!(cosine(a, &b) > 0.99999);
    }
}

/// The tensor engine (Candle tensor operations, any device and float type) on the
/// golden rows: f32 matches sentence-transformers like the CPU encoder does; f16 and
/// bf16 stay within the issue's bounds (a padded batch included: the mask must not turn
/// into NaN as Candle's `BertModel` does in f16).
#[test]
fn tensor_engine_matches_golden_in_every_dtype() {
    let rows = golden_rows();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let files = ModelFiles::from_dir(&common::real_model_dir()).unwrap();
    for (dtype, bound) in [
        (DType::F32, 0.9999),
        (DType::F16, 0.9999),
        (DType::BF16, 0.999),
    ] {
        let e = Embedder::load_with(&files, &Device::Cpu, Engine::Tensor, dtype).unwrap();
        let vectors = e.embed(&texts).unwrap();
        let worst = rows
            .iter()
            .zip(&vectors)
            .map(|(r, v)| cosine(v, &r.embedding))
            .fold(1.0f32, f32::min);
        assert!(worst > bound, "{dtype:?}: worst golden cosine {worst}");
        assert!(vectors.iter().all(|v| (norm(v) - 1.0).abs() < 1e-3));
    }
    // Candle's BertModel is refused in half precision rather than returning NaN.
    let err = Embedder::load_with(&files, &Device::Cpu, Engine::Candle, DType::F16)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("f32 only"), "{err}");
}

// ---- error paths: a clear error naming the file, never a panic ----------------------

fn load_err(dir: &std::path::Path) -> String {
    let result = ModelFiles::from_dir(dir).and_then(|f| Embedder::load(&f, &Device::Cpu));
    match result {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_files_are_named() {
    for file in ["model.safetensors", "config.json", "tokenizer.json"] {
        let (_tmp, dir) = common::tiny_model(&Tiny::default());
        std::fs::remove_file(dir.join(file)).unwrap();
        let msg = load_err(&dir);
        assert!(
            msg.contains(file) && msg.contains("missing"),
            "{file}: {msg}"
        );
    }
}

#[test]
fn truncated_safetensors_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("model.safetensors"), "{msg}");
}

#[test]
fn corrupt_safetensors_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let path = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    // A header length far beyond the file.
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(load_err(&dir).contains("model.safetensors"));
    std::fs::write(&path, b"not a safetensors file at all").unwrap();
    assert!(load_err(&dir).contains("model.safetensors"));
    std::fs::write(&path, b"").unwrap();
    assert!(load_err(&dir).contains("model.safetensors"));
}

#[test]
fn wrong_dimension_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    // config.json claims 64-d; the weights are 32-d.
    let mut cfg = common::tiny_config_json(64, 2);
    cfg["intermediate_size"] = serde_json::json!(64);
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("model.safetensors") || msg.contains("1_Pooling"),
        "{msg}"
    );
    // And with a matching pooling file, the weights themselves are at fault.
    std::fs::remove_file(dir.join("1_Pooling/config.json")).unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("model.safetensors") && msg.contains("hidden_size 64"),
        "{msg}"
    );
}

#[test]
fn pooling_dimension_mismatch_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#,
    )
    .unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("1_Pooling") && msg.contains("384"), "{msg}");
}

#[test]
fn unsupported_pooling_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        r#"{"pooling_mode_max_tokens": true}"#,
    )
    .unwrap();
    assert!(load_err(&dir).contains("unsupported pooling"));
}

#[test]
fn non_bert_config_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 32}"#,
    )
    .unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("config.json") && msg.contains("gpt2") && msg.contains("not a BERT"),
        "{msg}"
    );
}

#[test]
fn incomplete_or_invalid_config_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type": "bert", "hidden_size": 32}"#,
    )
    .unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("config.json") && msg.contains("missing field"),
        "{msg}"
    );
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    assert!(load_err(&dir).contains("config.json"));
}

#[test]
fn corrupt_tokenizer_is_refused() {
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    std::fs::write(
        dir.join("tokenizer.json"),
        r#"{"model": {"type": "Nonsense"}}"#,
    )
    .unwrap();
    assert!(load_err(&dir).contains("tokenizer.json"));
}

#[test]
fn bad_model_request_names_what_was_asked() {
    let err = ModelFiles::resolve(Some("/no/such/model/dir")).unwrap_err();
    assert!(err.to_string().contains("/no/such/model/dir"), "{err}");
    assert!(matches!(err, Error::ModelFile { .. }));
}

#[test]
fn hub_offline_without_cache_says_what_was_tried() {
    // HF_HUB_OFFLINE is read per call; an empty HF_HOME has no cached model.
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args([
            "--model",
            "nobody/no-such-model",
            "embed",
            "--input",
            "/dev/null",
        ])
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nobody/no-such-model") && stderr.contains("fetch-model.sh"),
        "{stderr}"
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let err = paperscout::embed::device(paperscout::embed::DeviceChoice::Cuda).unwrap_err();
    assert!(err.to_string().contains("--features cuda"), "{err}");
    assert!(matches!(
        paperscout::embed::device(paperscout::embed::DeviceChoice::Auto),
        Ok(Device::Cpu)
    ));
}
