//! The `paperscout` binary end to end, on temporary directories.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{self, cosine, norm, Tiny};

fn paperscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("RUST_LOG")
        .output()
        .expect("run paperscout")
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn vector(v: &serde_json::Value) -> Vec<f32> {
    v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn embed_writes_one_line_per_record_in_order() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = tmp.path().join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id": "a", "text": "graph neural network"}"#,
            "\n",
            r#"{"id": 7, "title": "A  paper", "summary": "we propose\n a method"}"#,
            "\n",
            "\n",
            r#"{"title": "Deep learning", "abstract": "results show"}"#,
            "\n",
            r#"{"id": "d", "text": ""}"#,
            "\n",
        ),
    )
    .unwrap();
    let output = tmp.path().join("out.jsonl");
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_jsonl(&output);
    let ids: Vec<_> = rows.iter().map(|r| r["id"].clone()).collect();
    // Ids are strings; a record without "id" gets its line number (line 4: the blank
    // line 3 counts).
    assert_eq!(ids, ["a", "7", "4", "d"].map(|s| serde_json::json!(s)));

    let embedder = common::load(&model);
    let expected = embedder
        .embed(&[
            "graph neural network",
            "A paper. we propose a method",
            "Deep learning. results show",
            "",
        ])
        .unwrap();
    for (row, want) in rows.iter().zip(&expected) {
        let got = vector(row);
        assert_eq!(got.len(), common::TINY_HIDDEN);
        assert!((norm(&got) - 1.0).abs() < 1e-5);
        assert!(cosine(&got, want) > 0.99999, "{}", row["id"]);
    }
}

#[test]
fn embed_to_stdout() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = tmp.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\": \"robot policy\"}\n").unwrap();
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "-i",
        input.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], serde_json::json!("1"));
}

#[test]
fn malformed_line_names_file_and_line_and_writes_nothing() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = tmp.path().join("bad.jsonl");
    std::fs::write(
        &input,
        "{\"text\": \"fine\"}\n{\"text\": \"also fine\"}\n{\"text\": oops}\n",
    )
    .unwrap();
    let output = tmp.path().join("out.jsonl");
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.jsonl:3:"), "{stderr}");
    assert!(!output.exists(), "no partial output file");
    // Fixing the line and running the same command again completes the output.
    std::fs::write(
        &input,
        "{\"text\": \"fine\"}\n{\"text\": \"also fine\"}\n{\"text\": \"oops\"}\n",
    )
    .unwrap();
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "-q",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read_jsonl(&output).len(), 3);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        3,
        "no checkpoint or temporary file left behind: {leftovers:?}"
    );

    // A record with neither text nor title.
    std::fs::write(&input, "{\"id\": 1, \"abstract\": \"no title\"}\n").unwrap();
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl:1:") && stderr.contains("\"title\""),
        "{stderr}"
    );
}

#[test]
fn embed_writes_npy_and_safetensors_that_match_jsonl() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = tmp.path().join("in.jsonl");
    let texts = ["graph search", "the robot policy of the paper", "quantum"];
    let lines: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{{\"id\": \"p{i}\", \"text\": \"{t}\"}}\n"))
        .collect();
    std::fs::write(&input, lines).unwrap();
    let expected = common::load(&model).embed(&texts).unwrap();
    for ext in ["npy", "safetensors"] {
        let output = tmp.path().join(format!("v.{ext}"));
        let out = paperscout(&[
            "--model",
            model.to_str().unwrap(),
            "embed",
            "-q",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&output).unwrap();
        let floats: Vec<f32> = if ext == "npy" {
            assert_eq!(&bytes[..6], b"\x93NUMPY");
            let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
            assert!(
                header.contains("'<f4'")
                    && header.contains(&format!("(3, {})", common::TINY_HIDDEN)),
                "{header}"
            );
            let ids: Vec<String> = serde_json::from_str(
                &std::fs::read_to_string(tmp.path().join("v.npy.ids.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(ids, ["p0", "p1", "p2"]);
            bytes[10 + header_len..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
            let ids: Vec<String> =
                serde_json::from_str(&meta.metadata().as_ref().unwrap()["ids"]).unwrap();
            assert_eq!(ids, ["p0", "p1", "p2"]);
            let t = st.tensor("embeddings").unwrap();
            assert_eq!(t.shape(), [3, common::TINY_HIDDEN]);
            t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        for (row, want) in floats.chunks_exact(common::TINY_HIDDEN).zip(&expected) {
            assert!(cosine(row, want) > 0.99999, "{ext}");
        }
    }
}

#[test]
fn embed_reads_ingest_formats() {
    // A real arXiv API response: embedded with the paper text rule, ids canonical.
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = common::fixture("api/laya-reader/arxiv_3.xml");
    let output = tmp.path().join("atom.jsonl");
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "-q",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_jsonl(&output);
    let papers: Vec<_> = paperscout::ingest::read(&input, None)
        .unwrap()
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(rows.len(), papers.len());
    assert!(!papers.is_empty());
    let embedder = common::load(&model);
    for (row, paper) in rows.iter().zip(&papers) {
        assert_eq!(row["id"], serde_json::json!(paper.id));
        let want = embedder.embed(&[paper.text()]).unwrap();
        assert!(cosine(&vector(row), &want[0]) > 0.99999);
    }
}

#[test]
fn missing_input_and_bad_flags_fail_clearly() {
    let (_tmp, model) = common::tiny_model(&Tiny::default());
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "embed",
        "--input",
        "/no/such/input.jsonl",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/input.jsonl"));

    let out = paperscout(&["--device", "tpu", "embed", "--input", "/dev/null"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device"));
}

#[test]
fn broken_pipe_is_success() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = tmp.path().join("in.jsonl");
    let line = "{\"text\": \"the graph model of the neural network\"}\n";
    std::fs::write(&input, line.repeat(3000)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args([
            "--model",
            model.to_str().unwrap(),
            "embed",
            "--input",
            input.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` would.
    {
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("{\"id\":\"1\","), "{first}");
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- ingest, library stats, similar, search ----------------------------------------

fn corpus_month(m: u32) -> std::path::PathBuf {
    common::corpus().join(format!("arxiv_cs_2026-0{m}.jsonl"))
}

/// Distinct ids and listing days of JSONL files, read here with serde_json alone.
fn ids_and_days(
    files: &[std::path::PathBuf],
) -> (
    std::collections::HashSet<String>,
    std::collections::BTreeSet<String>,
) {
    let mut ids = std::collections::HashSet::new();
    let mut days = std::collections::BTreeSet::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.insert(v["id"].as_str().unwrap().to_string());
            days.insert(v["listing_date"].as_str().unwrap().to_string());
        }
    }
    (ids, days)
}

fn stats_json(model: &Path, lib: &Path) -> serde_json::Value {
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "library",
        "stats",
        "--format",
        "json",
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ingest_sample_then_again_adds_nothing() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-2026-05.jsonl");
    let args = [
        "--model",
        model.to_str().unwrap(),
        "ingest",
        sample.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ];
    let first = paperscout(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("320 new"));
    let again = paperscout(&args);
    assert!(again.status.success());
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("0 new") && said.contains("320 unchanged") && said.contains("0 re-embedded"),
        "{said}"
    );
    let stats = stats_json(&model, &lib);
    assert_eq!(stats["papers"], 320);
    assert_eq!(stats["listing_days"]["count"], 4);
    assert_eq!(stats["listing_days"]["first"], "2026-05-26");
    assert_eq!(stats["index"]["points"], 320, "{stats}");

    // similar: never the paper itself, best first, by id or URL with a version.
    let out = paperscout(&[
        "similar",
        "https://arxiv.org/abs/2605.24915v3",
        "--top",
        "5",
        "--format",
        "json",
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i["id"] != "2605.24915"));
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // --date keeps only that day's papers.
    let out = paperscout(&[
        "similar",
        "2605.24915",
        "--top",
        "500",
        "--date",
        "2026-05-27",
        "--format",
        "json",
        "--library",
        lib.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 80, "the sample has 80 papers of 2026-05-27");
    assert!(items.iter().all(|i| i["listed"] == "2026-05-27"));

    // search embeds the text with the same model.
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "search",
        "graph neural network",
        "--top",
        "3",
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The table: a header line, then one line per paper (no reasons: nothing is liked).
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1 + 3);

    // Unknown id: a clear error naming it.
    let out = paperscout(&["similar", "2605.99999", "--library", lib.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2605.99999"));
}

#[test]
fn library_of_another_model_is_refused() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let (_tmp2, other) = common::tiny_model(&Tiny {
        seed: 99,
        ..Tiny::default()
    });
    let lib = tmp.path().join("lib");
    let input = tmp.path().join("one.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"2605.00001\", \"title\": \"a paper\", \"summary\": \"the graph\"}\n",
    )
    .unwrap();
    let ok = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "ingest",
        input.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = paperscout(&[
        "--model",
        other.to_str().unwrap(),
        "ingest",
        input.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("was built with model"), "{msg}");
}

#[test]
fn ingest_skips_bad_records_or_stops_with_strict() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let input = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"2605.00001\", \"title\": \"a paper\", \"summary\": \"x\"}\n{\"id\": \"2605.00002\"}\nnot json\n{\"id\": \"2605.00003\", \"title\": \"another\"}\n",
    )
    .unwrap();
    let strict = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "ingest",
        "--strict",
        input.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("mixed.jsonl:2"));
    assert!(
        !lib.join("manifest.json").exists(),
        "--strict commits nothing"
    );
    let lenient = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "ingest",
        input.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        lenient.status.success(),
        "{}",
        String::from_utf8_lossy(&lenient.stderr)
    );
    let err = String::from_utf8_lossy(&lenient.stderr);
    assert!(
        err.contains("skipped 2 malformed") && err.contains("mixed.jsonl:3"),
        "{err}"
    );
    assert_eq!(stats_json(&model, &lib)["papers"], 2);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn ingest_every_real_format_and_five_months() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let months: Vec<_> = (1..=5).map(corpus_month).collect();
    let mut args: Vec<String> = [
        "--model",
        model.to_str().unwrap(),
        "ingest",
        "--library",
        lib.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(months.iter().map(|p| p.display().to_string()));
    let out = paperscout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ids, days) = ids_and_days(&months);
    assert_eq!(ids.len(), 27_085);
    let stats = stats_json(&model, &lib);
    assert_eq!(stats["papers"], 27_085);
    assert_eq!(stats["listing_days"]["count"], days.len());
    assert_eq!(
        stats["listing_days"]["first"],
        days.first().unwrap().as_str()
    );
    assert_eq!(stats["listing_days"]["last"], days.last().unwrap().as_str());

    // The other real formats on top: API Atom (two), listing RSS, HF daily, Kaggle CSV.
    let fixtures = [
        common::fixture("api/sotawhat/arxiv_transformer.xml"),
        common::fixture("api/laya-reader/arxiv_3.xml"),
        common::fixture("api/laya-reader/arxiv_rss.xml"),
        common::fixture("api/sotawhat/hf_daily_papers.json"),
        common::data("arxiv-kaggle-metadata-sample-2000/arxiv_data.csv"),
    ];
    let mut all_ids = ids.clone();
    for f in &fixtures {
        for p in paperscout::ingest::read(f, None).unwrap() {
            all_ids.insert(p.unwrap().id);
        }
    }
    let mut args: Vec<String> = [
        "--model",
        model.to_str().unwrap(),
        "ingest",
        "--library",
        lib.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(fixtures.iter().map(|p| p.display().to_string()));
    let out = paperscout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = stats_json(&model, &lib);
    assert_eq!(
        stats["papers"],
        all_ids.len(),
        "one record per distinct paper"
    );
    assert!(all_ids.len() > 27_085 + 2_000);
    // The first listing day of a paper stays, whatever a later source says.
    assert_eq!(
        stats["listing_days"]["first"],
        days.first().unwrap().as_str()
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn ingest_killed_at_random_moments_resumes_to_the_full_library() {
    // kill -9 during a large ingest, several times: the library always opens, with a
    // consistent count, and re-running the ingest completes it.
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let months: Vec<String> = (1..=2)
        .map(|m| corpus_month(m).display().to_string())
        .collect();
    let (ids, _) = ids_and_days(&(1..=2).map(corpus_month).collect::<Vec<_>>());
    let mut args = vec![
        "--model".to_string(),
        model.display().to_string(),
        "ingest".into(),
        "--commit-every".into(),
        "300".into(),
        "--library".into(),
        lib.display().to_string(),
    ];
    args.extend(months.iter().cloned());
    let mut seen_partial = false;
    for (i, delay_ms) in [700u64, 1500, 400, 2500, 1100].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_paperscout"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if lib.join("manifest.json").exists() {
            let stats = stats_json(&model, &lib);
            let papers = stats["papers"].as_u64().unwrap() as usize;
            assert!(papers <= ids.len(), "round {i}: {papers}");
            assert_eq!(
                stats["index"]["points"].as_u64().unwrap() as usize,
                papers + stats["index"]["tombstones"].as_u64().unwrap() as usize,
                "round {i}: {stats}"
            );
            seen_partial |= papers < ids.len();
        }
    }
    assert!(
        seen_partial,
        "no kill landed mid-ingest; the test did not test anything"
    );
    let out = paperscout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stats_json(&model, &lib)["papers"], ids.len());
}

#[test]
fn damaged_index_is_reported_and_reindex_repairs_it() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-2026-05.jsonl");
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "ingest",
        sample.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".hnsw.graph"))
        .expect("an index dump");
    std::fs::write(&graph, b"garbage").unwrap();
    let broken = paperscout(&["similar", "2605.24915", "--library", lib.to_str().unwrap()]);
    assert!(!broken.status.success());
    let msg = String::from_utf8_lossy(&broken.stderr);
    assert!(msg.contains("reindex"), "the error names the repair: {msg}");
    let fixed = paperscout(&["library", "reindex", "--library", lib.to_str().unwrap()]);
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    let out = paperscout(&[
        "similar",
        "2605.24915",
        "--top",
        "3",
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The table: a header line, then one line per paper (no reasons: nothing is liked).
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1 + 3);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn eval_prints_every_ranker() {
    // A small dated corpus cut from the real one: 1,500 April papers as history and the
    // first 400 May papers as test days, with their reference vectors.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("corpus");
    std::fs::create_dir_all(data.join("minilm-embeddings")).unwrap();
    for (month, n) in [("04", 1500usize), ("05", 400)] {
        let name = format!("arxiv_cs_2026-{month}");
        let src = common::corpus().join(format!("{name}.jsonl"));
        let lines: Vec<String> = std::fs::read_to_string(src)
            .unwrap()
            .lines()
            .take(n)
            .map(String::from)
            .collect();
        std::fs::write(data.join(format!("{name}.jsonl")), lines.join("\n") + "\n").unwrap();
        let m = paperscout::library::npy::read(
            &common::corpus().join(format!("minilm-embeddings/{name}.npy")),
        )
        .unwrap();
        let rows: Vec<&[f32]> = (0..n).map(|i| m.row(i)).collect();
        paperscout::library::npy::write(
            &data.join(format!("minilm-embeddings/{name}.npy")),
            m.cols,
            &rows,
        )
        .unwrap();
    }
    // The figures of a run (timings left out: they differ from run to run).
    let run = |seed: &str| {
        let out = paperscout(&[
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--users",
            "4",
            "--seed",
            seed,
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["users"], 4);
        report["rankers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].to_string(),
                    r["ndcg"].as_f64().unwrap(),
                    r["precision"].as_f64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let first = run("7");
    assert_eq!(first.len(), 6);
    assert_eq!(first, run("7"), "the same seed gives the same figures");
    let table = paperscout(&[
        "eval",
        "--data",
        data.to_str().unwrap(),
        "--users",
        "4",
        "--seed",
        "7",
    ]);
    let table = String::from_utf8_lossy(&table.stdout);
    for ranker in ["random", "zotero", "arxiv-sanity", "paperscout"] {
        assert!(
            table.to_lowercase().contains(ranker),
            "{ranker} missing from:\n{table}"
        );
    }
}
