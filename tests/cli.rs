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
    let input = common::shared("data/api-response-fixtures/laya-reader/arxiv_3.xml");
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
