//! Embedding throughput on real abstracts with the real model.
//!
//! `cargo bench --bench embed` embeds the first 256 papers of the corpus'
//! arxiv_cs_2026-01.jsonl (`$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`, default data
//! directory `../shared/data` from the repository root; title + ". " + abstract,
//! truncated at 256 tokens) and prints texts/s and tokens/s. `PAPERSCOUT_BENCH_N` sets
//! the number of papers, `PAPERSCOUT_BENCH_BATCH_TOKENS` the token budget per batch;
//! threads follow `RAYON_NUM_THREADS`; `PAPERSCOUT_BENCH_INT8=0` leaves out the int8 run. The Python reference for a side-by-side ratio is
//! ../shared/bench/reference_embed.py (see README.md).

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use paperscout::embed::kernels::{KernelPath, Precision};
use paperscout::embed::{BatchOptions, Embedder, Engine, ModelFiles};
use paperscout::paper::paper_text;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick {
        8
    } else {
        env_usize("PAPERSCOUT_BENCH_N", 256)
    };
    // A relative PAPERSCOUT_DATA (and the default) is taken from the repository root.
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(paperscout::eval::default_corpus())
        .join("arxiv_cs_2026-01.jsonl");
    let file = std::fs::File::open(&data).map_err(|e| {
        format!(
            "{}: {e} (the bench needs the corpus: set PAPERSCOUT_DATA, see README)",
            data.display()
        )
    })?;
    let mut texts = Vec::with_capacity(n);
    for line in std::io::BufReader::new(file).lines().take(n) {
        let rec: serde_json::Value = serde_json::from_str(&line?)?;
        let title = rec["title"].as_str().unwrap_or("");
        let abs = rec["summary"].as_str().unwrap_or("");
        texts.push(paper_text(title, abs));
    }

    let files = ModelFiles::resolve(None)?;
    let batch = BatchOptions {
        max_batch_tokens: env_usize(
            "PAPERSCOUT_BENCH_BATCH_TOKENS",
            BatchOptions::default().max_batch_tokens,
        ),
        ..BatchOptions::default()
    };
    // The stock Candle BertModel (padded batches) against our CPU encoder, same texts,
    // same batching, same threads, one after the other in this process.
    let mut results = Vec::new();
    let only_ours = std::env::var("PAPERSCOUT_BENCH_ENGINES").is_ok_and(|v| v == "cpu");
    // Then our encoder again with int8 `Linear` layers (PAPERSCOUT_PRECISION=int8's
    // model), on the same kernel path; PAPERSCOUT_BENCH_INT8=0 leaves it out.
    let int8 = std::env::var("PAPERSCOUT_BENCH_INT8").map_or(true, |v| v != "0");
    for (label, engine, precision) in [
        ("candle BertModel", Engine::Candle, Precision::F32),
        ("paperscout cpu", Engine::Auto, Precision::F32),
        ("paperscout cpu int8", Engine::Auto, Precision::Int8),
    ] {
        if (only_ours && engine == Engine::Candle) || (!int8 && precision == Precision::Int8) {
            continue;
        }
        let embedder = match precision {
            Precision::F32 => Embedder::load_with_engine(&files, &Device::Cpu, engine)?,
            Precision::Int8 => {
                Embedder::load_with_precision(&files, KernelPath::select()?, Precision::Int8)?
            }
        }
        .with_batch_options(batch);
        let label = match (embedder.kernel_path(), precision) {
            (Some(path), Precision::Int8) => {
                format!("{label} [{}, {}]", path.name(), path.q8().name())
            }
            (Some(path), _) => format!("{label} [{}]", path.name()),
            (None, _) => label.to_string(),
        };
        let tokens: usize = texts
            .iter()
            .map(|t| embedder.tokenize(t).map(|ids| ids.len()))
            .sum::<Result<usize, _>>()?;
        embedder.embed(&texts[..texts.len().min(8)])?; // warm-up
        let start = Instant::now();
        let vectors = embedder.embed(&texts)?;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(vectors.len(), texts.len());
        println!(
            "{label:<27} threads={} batch_tokens={} texts={} tokens={} secs={:.2} texts/s={:.2} tokens/s={:.0}",
            rayon::current_num_threads(),
            batch.max_batch_tokens,
            texts.len(),
            tokens,
            secs,
            texts.len() as f64 / secs,
            tokens as f64 / secs
        );
        results.push((label, texts.len() as f64 / secs, vectors));
    }
    // Each run after the first against the one before it: ours over Candle's, int8
    // over f32.
    for pair in results.windows(2) {
        let [(base, base_speed, base_vectors), (label, speed, vectors)] = pair else {
            continue;
        };
        let worst = base_vectors
            .iter()
            .zip(vectors)
            .map(|(a, b)| paperscout::embed::cosine(a, b))
            .fold(1.0f32, f32::min);
        println!(
            "speed-up of {label} over {base}: {:.2}x (worst cosine between them {worst:.7})",
            speed / base_speed
        );
    }
    Ok(())
}
