//! Embedding throughput on real abstracts with the real model.
//!
//! `cargo bench --bench embed` embeds the first 256 papers of the corpus'
//! arxiv_cs_2026-01.jsonl (`$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`, default data
//! directory `../shared/data` from the repository root; title + ". " + abstract,
//! truncated at 256 tokens) and prints texts/s and tokens/s. `PAPERSCOUT_BENCH_N` sets
//! the number of papers, `PAPERSCOUT_BENCH_BATCH_TOKENS` the token budget per batch;
//! threads follow `RAYON_NUM_THREADS`. The Python reference for a side-by-side ratio is
//! ../shared/bench/reference_embed.py (see README.md).

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
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
    for (label, engine) in [
        ("candle BertModel", Engine::Candle),
        ("paperscout cpu", Engine::Auto),
    ] {
        if only_ours && engine == Engine::Candle {
            continue;
        }
        let embedder =
            Embedder::load_with_engine(&files, &Device::Cpu, engine)?.with_batch_options(batch);
        let label = match embedder.kernel_path() {
            Some(path) => format!("{label} [{}]", path.name()),
            None => label.to_string(),
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
        results.push((texts.len() as f64 / secs, vectors));
    }
    if results.len() < 2 {
        return Ok(());
    }
    let worst = results[0]
        .1
        .iter()
        .zip(&results[1].1)
        .map(|(a, b)| paperscout::embed::cosine(a, b))
        .fold(1.0f32, f32::min);
    println!(
        "speed-up of paperscout cpu over candle BertModel: {:.2}x (worst cosine between them {worst:.7})",
        results[1].0 / results[0].0
    );
    Ok(())
}
