//! The batch embedding job (`paperscout::job`) with a fake embedder: output order and
//! formats, the token budget, resumption after failures, `kill -9` and Ctrl-C, refused
//! checkpoints, bounded memory and bad input. No model is loaded.
//!
//! Some tests re-run this test binary as a child process (`child_process_entry`,
//! selected by the `PAPERSCOUT_JOB_TEST_CHILD` variable) so they can kill it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paperscout::job::{
    checkpoint_dir, ids_sidecar_path, run_job, InputKey, JobOptions, JobSummary, OutputFormat,
    TextEmbedder,
};
use paperscout::{Error, Result};

// ---- a fake model -----------------------------------------------------------------

/// Tokenizes on whitespace (plus `[CLS]`/`[SEP]`, truncated to `max_len`) and maps a
/// token sequence to a unit vector by hashing it, so a text's vector never depends on
/// the batch it is in (as for a real model up to rounding).
struct Fake {
    dim: usize,
    max_len: usize,
    name: String,
    /// Sleep this long per batch, to make a job slow enough to kill.
    sleep: Option<Duration>,
    /// Fail the batch with this 0-based number.
    fail_at_batch: Option<usize>,
    batches: AtomicUsize,
    /// Texts whose vectors have been computed.
    embedded: Arc<AtomicU64>,
    /// (texts, longest) of every batch.
    log: Mutex<Vec<(usize, usize)>>,
}

impl Fake {
    fn new(dim: usize) -> Self {
        Fake {
            dim,
            max_len: 32,
            name: "fake-model".into(),
            sleep: None,
            fail_at_batch: None,
            batches: AtomicUsize::new(0),
            embedded: Arc::new(AtomicU64::new(0)),
            log: Mutex::new(Vec::new()),
        }
    }

    fn batch_log(&self) -> Vec<(usize, usize)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn fake_tokens(text: &str, max_len: usize) -> Vec<u32> {
    let mut ids = vec![101];
    ids.extend(
        text.split_whitespace()
            .map(|w| (fnv(w.as_bytes(), 0xcbf2_9ce4_8422_2325) % 30_000) as u32 + 1000)
            .take(max_len.saturating_sub(2)),
    );
    ids.push(102);
    ids
}

/// The vector of one token sequence: splitmix64 from a hash of the tokens, normalised.
fn fake_vector(tokens: &[u32], dim: usize) -> Vec<f32> {
    let mut state = tokens
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, t| fnv(&t.to_le_bytes(), h));
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

impl TextEmbedder for Fake {
    fn dim(&self) -> usize {
        self.dim
    }
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(fake_tokens(text, self.max_len))
    }
    fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let k = self.batches.fetch_add(1, Ordering::SeqCst);
        if self.fail_at_batch == Some(k) {
            return Err(Error::Invalid("injected failure".into()));
        }
        if let Some(d) = self.sleep {
            std::thread::sleep(d);
        }
        let longest = batch.iter().map(|t| t.len()).max().unwrap_or(0);
        if let Ok(mut log) = self.log.lock() {
            log.push((batch.len(), longest));
        }
        let out = batch.iter().map(|t| fake_vector(t, self.dim)).collect();
        self.embedded
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(out)
    }
    fn model_name(&self) -> &str {
        &self.name
    }
}

// ---- inputs and expectations ------------------------------------------------------

type Record = (String, String);

/// `n` records with texts of 0 to 45 words (some past the fake's 32-token limit) and,
/// now and then, ids that need escaping.
fn records(n: usize, seed: u64) -> Vec<Record> {
    const WORDS: [&str; 12] = [
        "graph",
        "neural",
        "protein",
        "folding",
        "quantum",
        "error",
        "code",
        "lattice",
        "sparse",
        "attention",
        "théorème",
        "数据",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let id = if i % 97 == 5 {
                format!("odd \"id\"\n{i} é")
            } else {
                format!("paper-{i}")
            };
            let words = (next() % 46) as usize;
            let text = (0..words)
                .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ");
            (id, text)
        })
        .collect()
}

fn expected(fake: &Fake, recs: &[Record]) -> Vec<(String, Vec<f32>)> {
    recs.iter()
        .map(|(id, text)| {
            (
                id.clone(),
                fake_vector(&fake_tokens(text, fake.max_len), fake.dim),
            )
        })
        .collect()
}

/// The JSON Lines output an uninterrupted job must write, built here by hand.
fn expected_jsonl(rows: &[(String, Vec<f32>)]) -> Vec<u8> {
    let mut out = String::new();
    for (id, v) in rows {
        let id = serde_json::to_string(id).unwrap_or_default();
        let v = serde_json::to_string(v).unwrap_or_default();
        out.push_str(&format!("{{\"id\":{id},\"embedding\":{v}}}\n"));
    }
    out.into_bytes()
}

fn options(window: usize, batch_tokens: usize, max_batch_size: usize) -> JobOptions {
    JobOptions {
        batch_tokens,
        max_batch_size,
        window,
        checkpoint_every: 1,
        progress: false,
        ..JobOptions::default()
    }
}

fn run(fake: &Fake, recs: &[Record], out: &Path, opts: &JobOptions) -> Result<JobSummary> {
    run_job(
        fake,
        &InputKey::named("test-input"),
        recs.iter().cloned().map(Ok),
        Some(out),
        opts,
    )
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- independent readers ----------------------------------------------------------

/// A minimal NumPy v1.0 reader: `(rows, dim, data)` of a little-endian float32 C-order
/// 2-D array, checking the header fields a loader relies on.
fn read_npy(path: &Path) -> (usize, usize, Vec<f32>) {
    let bytes = read(path);
    assert_eq!(&bytes[..6], b"\x93NUMPY", "magic");
    assert_eq!(&bytes[6..8], &[1, 0], "version 1.0");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let start = 10 + header_len;
    assert_eq!(
        start % 16,
        0,
        "data must start 16-aligned (NumPy writes 64)"
    );
    let header = std::str::from_utf8(&bytes[10..start]).expect("header is ASCII");
    assert!(header.ends_with('\n'), "header ends with a newline");
    let dict = header.trim_end();
    assert!(dict.starts_with('{') && dict.ends_with('}'), "{dict}");
    assert!(dict.contains("'descr': '<f4'"), "{dict}");
    assert!(dict.contains("'fortran_order': False"), "{dict}");
    let shape = dict
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("shape number"))
        .collect();
    assert_eq!(dims.len(), 2, "2-D: {shape}");
    let data = &bytes[start..];
    assert_eq!(data.len(), dims[0] * dims[1] * 4, "data length");
    let floats = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (dims[0], dims[1], floats)
}

struct Safetensors {
    ids: Vec<String>,
    model: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn read_safetensors(path: &Path) -> Safetensors {
    let bytes = read(path);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("safetensors header");
    let meta = meta.metadata().clone().expect("__metadata__");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors file");
    let names = tensors.names();
    assert_eq!(names, ["embeddings"], "one tensor");
    let t = tensors.tensor("embeddings").expect("embeddings tensor");
    assert_eq!(t.dtype(), safetensors::Dtype::F32);
    Safetensors {
        ids: serde_json::from_str(&meta["ids"]).expect("ids metadata is a JSON array"),
        model: meta["model"].clone(),
        shape: t.shape().to_vec(),
        data: t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}

/// Check a finished output of any format against `want`, read independently.
fn check_output(out: &Path, format: OutputFormat, want: &[(String, Vec<f32>)], dim: usize) {
    let ids: Vec<String> = want.iter().map(|(id, _)| id.clone()).collect();
    let flat: Vec<f32> = want.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    match format {
        OutputFormat::Jsonl => {
            let bytes = read(out);
            assert_eq!(
                String::from_utf8_lossy(&bytes),
                String::from_utf8_lossy(&expected_jsonl(want))
            );
            // And it parses back to the same rows.
            let text = String::from_utf8(bytes).expect("UTF-8");
            for (line, (id, v)) in text.lines().zip(want) {
                let row: serde_json::Value = serde_json::from_str(line).expect("JSON row");
                assert_eq!(row["id"], serde_json::Value::from(id.as_str()));
                let got: Vec<f32> =
                    serde_json::from_value(row["embedding"].clone()).expect("floats");
                assert_eq!(&got, v);
            }
        }
        OutputFormat::Npy => {
            let (rows, d, data) = read_npy(out);
            assert_eq!((rows, d), (want.len(), dim));
            assert_eq!(data, flat);
            let sidecar: Vec<String> =
                serde_json::from_slice(&read(&ids_sidecar_path(out))).expect("sidecar JSON array");
            assert_eq!(sidecar, ids);
        }
        OutputFormat::Safetensors => {
            let st = read_safetensors(out);
            assert_eq!(st.shape, [want.len(), dim]);
            assert_eq!(st.data, flat);
            assert_eq!(st.ids, ids);
            assert_eq!(st.model, "fake-model");
        }
    }
    assert!(
        !checkpoint_dir(out).exists(),
        "checkpoint removed after success"
    );
}

const FORMATS: [(OutputFormat, &str); 3] = [
    (OutputFormat::Jsonl, "out.jsonl"),
    (OutputFormat::Npy, "out.npy"),
    (OutputFormat::Safetensors, "out.safetensors"),
];

/// All bytes a finished job leaves: the output and, for .npy, its sidecar.
fn output_bytes(out: &Path, format: OutputFormat) -> (Vec<u8>, Vec<u8>) {
    let sidecar = match format {
        OutputFormat::Npy => read(&ids_sidecar_path(out)),
        _ => Vec::new(),
    };
    (read(out), sidecar)
}

fn state(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(checkpoint_dir(out).join("state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn records_done(out: &Path) -> Option<u64> {
    state(out)?.get("records_done")?.as_u64()
}

// ---- order, formats, batching -----------------------------------------------------

#[test]
fn output_order_equals_input_order_for_every_format_and_batching() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(333, 1);
    // (window, batch tokens, max batch size): windows of 1 and smaller than a batch,
    // batches of 1, a budget below the shortest text, a window larger than the input.
    let configs = [
        (1, 1000, 64),
        (3, 64, 5),
        (7, 40, 64),
        (50, 8192, 1),
        (64, 1, 64),
        (100, 256, 16),
        (1000, 8192, 64),
    ];
    for (window, budget, max_size) in configs {
        for (format, name) in FORMATS {
            let fake = Fake::new(8);
            let out = dir.path().join(format!("w{window}-b{budget}-{name}"));
            let summary = run(&fake, &recs, &out, &options(window, budget, max_size))
                .unwrap_or_else(|e| panic!("{window}/{budget}/{max_size} {format}: {e:#}"));
            assert_eq!(
                (summary.rows, summary.texts, summary.resumed_from),
                (333, 333, 0)
            );
            assert_eq!(summary.format, format);
            let want_tokens: u64 = recs
                .iter()
                .map(|(_, t)| fake_tokens(t, 32).len() as u64)
                .sum();
            assert_eq!(summary.tokens, want_tokens);
            check_output(&out, format, &expected(&fake, &recs), 8);

            let log = fake.batch_log();
            assert_eq!(log.iter().map(|b| b.0).sum::<usize>(), 333);
            for &(n, longest) in &log {
                assert!(n <= max_size, "batch of {n} > max {max_size}");
                assert!(
                    n * longest <= budget || n == 1,
                    "batch of {n} × {longest} tokens over the budget {budget}"
                );
            }
            if window >= 100 && max_size > 1 && budget >= 256 {
                assert!(log.iter().any(|b| b.0 > 1), "texts were batched together");
            }
        }
    }
}

#[test]
fn empty_input_gives_empty_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, name) in FORMATS {
        let fake = Fake::new(5);
        let out = dir.path().join(name);
        let summary = run(&fake, &[], &out, &options(10, 100, 8)).expect("empty job");
        assert_eq!(summary.rows, 0);
        check_output(&out, format, &[], 5);
    }
}

#[test]
fn format_flag_overrides_the_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(20, 2);
    let fake = Fake::new(4);
    let out = dir.path().join("vectors.bin");
    let opts = JobOptions {
        format: Some(OutputFormat::Npy),
        ..options(8, 100, 8)
    };
    run(&fake, &recs, &out, &opts).expect("job");
    check_output(&out, OutputFormat::Npy, &expected(&fake, &recs), 4);
}

#[test]
fn bad_options_are_refused_before_any_work() {
    let fake = Fake::new(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.jsonl");
    for opts in [options(0, 10, 10), options(10, 0, 10), options(10, 10, 0)] {
        let err = run(&fake, &records(3, 3), &out, &opts).expect_err("refused");
        assert!(matches!(err, Error::Invalid(_)), "{err}");
    }
    let opts = JobOptions {
        format: Some(OutputFormat::Safetensors),
        ..options(10, 10, 10)
    };
    let err =
        run_job(&fake, &InputKey::named("x"), Vec::new(), None, &opts).expect_err("no stdout");
    assert!(err.to_string().contains("output file"), "{err}");
    assert_eq!(fake.batches.load(Ordering::SeqCst), 0);
    assert!(!checkpoint_dir(&out).exists());
}

// ---- resumption -------------------------------------------------------------------

#[test]
fn injected_failure_then_rerun_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(500, 4);
    for checkpoint_every in [1, 3] {
        for (format, name) in FORMATS {
            let opts = JobOptions {
                checkpoint_every,
                ..options(40, 200, 16)
            };
            let reference = dir.path().join(format!("ref-{checkpoint_every}-{name}"));
            run(&Fake::new(6), &recs, &reference, &opts).expect("reference run");

            let out = dir.path().join(format!("{checkpoint_every}-{name}"));
            let mut failing = Fake::new(6);
            failing.fail_at_batch = Some(37);
            let err = run(&failing, &recs, &out, &opts).expect_err("injected failure");
            assert!(err.to_string().contains("injected failure"), "{err}");
            assert!(!out.exists(), "no output after a failure");
            let done = records_done(&out).expect("checkpoint kept");
            assert!(
                done > 0 && done < 500 && done.is_multiple_of(40),
                "done {done}"
            );
            // The failure was in the window after the last one saved.
            let texts_before_failure: usize = failing.batch_log().iter().map(|b| b.0).sum();
            assert_eq!(done, (texts_before_failure / 40 * 40) as u64);

            let healthy = Fake::new(6);
            let summary = run(&healthy, &recs, &out, &opts).expect("resumed run");
            assert_eq!(summary.resumed_from, done);
            assert_eq!(summary.texts, 500 - done);
            assert_eq!(summary.rows, 500);
            assert_eq!(
                healthy.embedded.load(Ordering::SeqCst),
                500 - done,
                "records in the checkpoint are not embedded again"
            );
            assert_eq!(
                output_bytes(&out, format),
                output_bytes(&reference, format),
                "{format}"
            );
            check_output(&out, format, &expected(&healthy, &recs), 6);
        }
    }
}

#[test]
fn mismatched_checkpoint_is_refused_and_restart_starts_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(300, 5);
    let out = dir.path().join("v.npy");
    let opts = options(30, 200, 16);
    let interrupt = |out: &Path| {
        let mut failing = Fake::new(6);
        failing.fail_at_batch = Some(20);
        run(&failing, &recs, out, &opts).expect_err("injected failure");
        assert!(records_done(out).is_some_and(|d| d > 0));
    };
    interrupt(&out);

    let refused = |result: Result<JobSummary>, what: &str| {
        let msg = result.expect_err(what).to_string();
        assert!(msg.contains("--restart"), "{what}: {msg}");
        assert!(
            msg.contains(".partial"),
            "{what} names the checkpoint: {msg}"
        );
        msg
    };
    let mut other_model = Fake::new(6);
    other_model.name = "another-model".into();
    let msg = refused(run(&other_model, &recs, &out, &opts), "other model");
    assert!(
        msg.contains("another-model") && msg.contains("fake-model"),
        "{msg}"
    );
    refused(run(&Fake::new(7), &recs, &out, &opts), "other dimension");
    let other_format = JobOptions {
        format: Some(OutputFormat::Safetensors),
        ..opts.clone()
    };
    refused(
        run(&Fake::new(6), &recs, &out, &other_format),
        "other format",
    );
    let other_input = run_job(
        &Fake::new(6),
        &InputKey::named("another-input"),
        recs.iter().cloned().map(Ok),
        Some(&out),
        &opts,
    );
    refused(other_input, "other input");
    let mut changed = recs.clone();
    changed[3].1.push_str(" edited");
    let msg = refused(run(&Fake::new(6), &changed, &out, &opts), "changed input");
    assert!(msg.contains("changed"), "{msg}");
    refused(
        run(&Fake::new(6), &recs[..10], &out, &opts),
        "shorter input",
    );
    // Refusals leave the checkpoint as it was.
    assert!(records_done(&out).is_some_and(|d| d > 0));

    // --restart: a fresh run with the new settings.
    let restart = JobOptions {
        restart: true,
        ..opts.clone()
    };
    let fake = Fake::new(7);
    let summary = run(&fake, &changed, &out, &restart).expect("restart");
    assert_eq!((summary.resumed_from, summary.rows), (0, 300));
    check_output(&out, OutputFormat::Npy, &expected(&fake, &changed), 7);
}

#[test]
fn edit_after_the_checkpoint_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(200, 6);
    let out = dir.path().join("v.jsonl");
    let opts = options(20, 200, 16);
    let mut failing = Fake::new(4);
    failing.fail_at_batch = Some(25);
    run(&failing, &recs, &out, &opts).expect_err("injected failure");
    let done = records_done(&out).expect("checkpoint") as usize;
    assert!(done < 190);
    let mut edited = recs.clone();
    edited[done + 5].1 = "a fixed record".into();
    let fake = Fake::new(4);
    let summary = run(&fake, &edited, &out, &opts).expect("resume");
    assert_eq!(summary.resumed_from, done as u64);
    check_output(&out, OutputFormat::Jsonl, &expected(&fake, &edited), 4);
}

/// A run killed after moving its JSON Lines output into place, before removing the
/// checkpoint, had finished: the same command then starts over, as after a clean finish.
#[test]
fn finished_checkpoint_whose_output_was_moved_starts_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(120, 9);
    let out = dir.path().join("v.jsonl");
    let opts = options(20, 200, 16);
    let mut failing = Fake::new(4);
    failing.fail_at_batch = Some(12);
    run(&failing, &recs, &out, &opts).expect_err("injected failure");
    // Make the checkpoint look like one whose final rename happened.
    let state_path = checkpoint_dir(&out).join("state.json");
    let mut state = state(&out).expect("state");
    state["finished"] = serde_json::Value::Bool(true);
    std::fs::write(&state_path, state.to_string()).expect("write state");
    std::fs::rename(checkpoint_dir(&out).join("rows.jsonl"), &out).expect("move rows");

    let fake = Fake::new(4);
    let summary = run(&fake, &recs, &out, &opts).expect("fresh run");
    assert_eq!((summary.resumed_from, summary.rows), (0, 120));
    check_output(&out, OutputFormat::Jsonl, &expected(&fake, &recs), 4);
}

#[test]
fn a_directory_with_foreign_files_is_not_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("v.jsonl");
    let partial = checkpoint_dir(&out);
    std::fs::create_dir(&partial).expect("mkdir");
    std::fs::write(partial.join("precious.txt"), "keep me").expect("write");
    let err = run(&Fake::new(4), &records(5, 7), &out, &options(2, 100, 4)).expect_err("refused");
    assert!(err.to_string().contains("did not write"), "{err}");
    assert_eq!(
        std::fs::read_to_string(partial.join("precious.txt"))
            .ok()
            .as_deref(),
        Some("keep me")
    );
}

// ---- bad input --------------------------------------------------------------------

#[test]
fn bad_record_stops_the_job_naming_file_and_line_and_resumes_after_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = records(400, 8);
    for (format, name) in FORMATS {
        let out = dir.path().join(name);
        let opts = options(25, 200, 16);
        let bad_at = 263;
        let input = recs.iter().enumerate().map(|(i, r)| {
            if i == bad_at {
                Err(Error::Input {
                    path: PathBuf::from("papers.jsonl"),
                    line: i as u64 + 1,
                    message: "expected a JSON object".into(),
                })
            } else {
                Ok(r.clone())
            }
        });
        let fake = Fake::new(4);
        let err = run_job(&fake, &InputKey::named("papers"), input, Some(&out), &opts)
            .expect_err("bad record");
        match &err {
            Error::Input {
                path,
                line,
                message,
            } => {
                assert_eq!(path, Path::new("papers.jsonl"));
                assert_eq!(*line, 264);
                assert!(message.contains("expected a JSON object"), "{message}");
                assert!(message.contains("run the same command again"), "{message}");
            }
            other => panic!("expected Error::Input, got {other:?}"),
        }
        assert!(!out.exists(), "no output file after a bad record");
        assert!(!ids_sidecar_path(&out).exists());
        // Every window before the bad one is saved.
        assert_eq!(records_done(&out), Some(250));
        assert_eq!(
            fake.embedded.load(Ordering::SeqCst),
            250,
            "the window holding the bad record is not embedded"
        );

        // The record is fixed: the same command resumes.
        let mut fixed = recs.clone();
        fixed[bad_at].1 = "now readable".into();
        let fake = Fake::new(4);
        let summary = run_job(
            &fake,
            &InputKey::named("papers"),
            fixed.iter().cloned().map(Ok),
            Some(&out),
            &opts,
        )
        .expect("resume after the fix");
        assert_eq!(summary.resumed_from, 250);
        check_output(&out, format, &expected(&fake, &fixed), 4);
    }
}

// ---- bounded memory ---------------------------------------------------------------

#[test]
fn streaming_holds_at_most_two_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 200_000u64;
    let window = 100;
    let fake = Fake::new(2);
    let embedded = Arc::clone(&fake.embedded);
    let pulled = Arc::new(AtomicU64::new(0));
    let max_ahead = Arc::new(AtomicU64::new(0));
    let input = {
        let (pulled, max_ahead) = (Arc::clone(&pulled), Arc::clone(&max_ahead));
        (0..n).map(move |i| {
            let p = pulled.fetch_add(1, Ordering::SeqCst) + 1;
            let ahead = p - embedded.load(Ordering::SeqCst);
            max_ahead.fetch_max(ahead, Ordering::SeqCst);
            Ok((i.to_string(), format!("w{} x", i % 13)))
        })
    };
    let out = dir.path().join("big.npy");
    let opts = JobOptions {
        checkpoint_every: 100,
        ..options(window, 4096, 64)
    };
    let summary = run_job(&fake, &InputKey::named("big"), input, Some(&out), &opts).expect("job");
    assert_eq!(summary.rows, n);
    assert_eq!(pulled.load(Ordering::SeqCst), n, "every record pulled once");
    let ahead = max_ahead.load(Ordering::SeqCst);
    // The window being embedded plus the one read ahead; never the whole input.
    assert!(
        ahead <= 2 * window as u64,
        "pulled {ahead} records ahead of the model"
    );
    assert!(
        ahead >= window as u64,
        "a whole window is read before embedding: {ahead}"
    );
    let (rows, dim, data) = read_npy(&out);
    assert_eq!((rows, dim), (n as usize, 2));
    let last = fake_vector(&fake_tokens(&format!("w{} x", (n - 1) % 13), 32), 2);
    assert_eq!(&data[data.len() - 2..], &last[..]);
}

// ---- child processes: kill -9, Ctrl-C, standard output ----------------------------

const CHILD_ENV: &str = "PAPERSCOUT_JOB_TEST_CHILD";
const CHILD_RECORDS: usize = 3000;

fn child_options() -> JobOptions {
    options(40, 200, 16)
}

fn slow_fake() -> Fake {
    let mut fake = Fake::new(6);
    fake.sleep = Some(Duration::from_millis(2));
    fake
}

/// Not a test of its own: the body of the child processes the tests below start. Run
/// normally (without the variable) it does nothing.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(2, '|');
    let mode = parts.next().unwrap_or_default().to_string();
    let out = parts.next().map(PathBuf::from);
    let recs = records(CHILD_RECORDS, 42);
    let fake = slow_fake();
    let opts = JobOptions {
        catch_signals: mode == "signals",
        ..child_options()
    };
    if mode == "stdout" {
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(b"\n@@JOB-OUTPUT@@\n");
        let _ = stdout.flush();
    }
    let result = run_job(
        &fake,
        &InputKey::named("child"),
        recs.into_iter().map(Ok),
        out.as_deref(),
        &opts,
    );
    match result {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            eprintln!("job failed: {e}");
            std::process::exit(3)
        }
    }
}

fn child(mode: &str, out: Option<&Path>) -> Command {
    let exe = std::env::current_exe().expect("test binary");
    let spec = match out {
        Some(path) => format!("{mode}|{}", path.display()),
        None => mode.to_string(),
    };
    let mut cmd = Command::new(exe);
    cmd.args(["child_process_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec);
    cmd
}

fn reference_output(dir: &Path, name: &str, format: OutputFormat) -> (Vec<u8>, Vec<u8>) {
    let reference = dir.join(format!("reference-{name}"));
    run(
        &Fake::new(6),
        &records(CHILD_RECORDS, 42),
        &reference,
        &child_options(),
    )
    .expect("reference");
    output_bytes(&reference, format)
}

#[test]
fn kill_9_at_random_moments_then_rerun_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("kill test seed {seed}");
    let mut x = seed;
    let mut random = move |lo: u64, hi: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lo + x % (hi - lo)
    };
    for (format, name) in FORMATS {
        let out = dir.path().join(name);
        let mut interrupted_midway = 0;
        let mut last_done = 0;
        for _ in 0..6 {
            let mut proc = child("slow", Some(&out))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn child");
            std::thread::sleep(Duration::from_millis(random(20, 500)));
            let _ = proc.kill(); // SIGKILL
            let _ = proc.wait();
            if out.exists() {
                break; // it finished before the kill
            }
            let done = records_done(&out).unwrap_or(0);
            assert!(
                done >= last_done,
                "a checkpoint never goes back ({last_done} → {done})"
            );
            last_done = done;
            if done > 0 && (done as usize) < CHILD_RECORDS {
                interrupted_midway += 1;
            }
        }
        assert!(
            interrupted_midway > 0,
            "{format}: no kill landed in the middle of the job (seed {seed})"
        );
        let finish = child("slow", Some(&out)).output().expect("run child");
        assert!(
            finish.status.success(),
            "{}",
            String::from_utf8_lossy(&finish.stderr)
        );
        assert_eq!(
            output_bytes(&out, format),
            reference_output(dir.path(), name, format),
            "{format}: resumed output differs from an uninterrupted run (seed {seed})"
        );
        assert!(!checkpoint_dir(&out).exists());
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_a_checkpoint_and_the_same_command_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("v.safetensors");
    let proc = child("signals", Some(&out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_done(&out).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "child made no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &proc.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let result = proc.wait_with_output().expect("child exit");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        !result.status.success(),
        "an interrupted job exits non-zero"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    assert!(!out.exists(), "no output after an interruption");
    let done = records_done(&out).expect("checkpoint");
    assert!(done > 0 && (done as usize) < CHILD_RECORDS, "done {done}");

    let summary = run_job(
        &Fake::new(6),
        &InputKey::named("child"),
        records(CHILD_RECORDS, 42).into_iter().map(Ok),
        Some(&out),
        &child_options(),
    )
    .expect("resume");
    assert_eq!(summary.resumed_from, done);
    assert_eq!(
        output_bytes(&out, OutputFormat::Safetensors),
        reference_output(dir.path(), "v.safetensors", OutputFormat::Safetensors)
    );
}

#[test]
fn standard_output_gets_json_lines_in_input_order() {
    let result = child("stdout", None).output().expect("run child");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = result.stdout;
    let marker = b"@@JOB-OUTPUT@@\n";
    let at = stdout
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker line");
    let body = &stdout[at + marker.len()..];
    let want = expected_jsonl(&expected(&Fake::new(6), &records(CHILD_RECORDS, 42)));
    assert!(
        body == want.as_slice(),
        "standard output differs from the expected JSON Lines"
    );
}
