//! Batch embedding beyond one machine (issue 16): `embed --shard K/N` (the parts
//! together are the whole, vector for vector), the model identity in embed outputs,
//! and `ingest --vectors` (stores given vectors, refuses another model's, embeds or
//! refuses records without one, reports vectors without a record). The tiny random
//! model stands in for the real one: the code paths are the same and it runs in
//! milliseconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paperscout::library::Library;
use sha2::{Digest, Sha256};

use crate::common::{self, Tiny};

fn paperscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("RUST_LOG")
        .output()
        .expect("run paperscout")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first `n` records of the project's sample, with a blank line after the fifth
/// (blank lines are not records: the split must not count them).
fn records(dir: &Path, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(common::sample_path()).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().take(n).enumerate() {
        out.push_str(line);
        out.push('\n');
        if i == 4 {
            out.push_str("   \n");
        }
    }
    let path = dir.join("records.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A .safetensors file read by hand: metadata, ids, shape and the raw f32 bytes.
struct St {
    meta: BTreeMap<String, String>,
    ids: Vec<String>,
    shape: (usize, usize),
    data: Vec<u8>,
}

fn read_st(path: &Path) -> St {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta: BTreeMap<String, String> =
        serde_json::from_value(header["__metadata__"].clone()).unwrap();
    let ids = serde_json::from_str(&meta["ids"]).unwrap();
    let t = &header["embeddings"];
    assert_eq!(t["dtype"], "F32");
    let shape = (
        t["shape"][0].as_u64().unwrap() as usize,
        t["shape"][1].as_u64().unwrap() as usize,
    );
    let [a, b] = [0, 1].map(|i| t["data_offsets"][i].as_u64().unwrap() as usize);
    St {
        meta,
        ids,
        shape,
        data: bytes[8 + n + a..8 + n + b].to_vec(),
    }
}

fn rows_of(st: &St) -> Vec<Vec<f32>> {
    st.data
        .chunks_exact(st.shape.1 * 4)
        .map(|r| {
            r.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        })
        .collect()
}

/// Write a .safetensors of `rows` with `meta` (plus `ids`), as another tool would.
fn write_st(path: &Path, ids: &[String], rows: &[Vec<f32>], meta: &BTreeMap<String, String>) {
    let dim = rows.first().map_or(0, Vec::len);
    let mut m = serde_json::Map::new();
    for (k, v) in meta {
        m.insert(k.clone(), v.clone().into());
    }
    m.insert("ids".into(), serde_json::to_string(ids).unwrap().into());
    let header = serde_json::json!({
        "__metadata__": m,
        "embeddings": {"dtype": "F32", "shape": [rows.len(), dim],
                       "data_offsets": [0, rows.len() * dim * 4]},
    });
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    for r in rows {
        for x in r {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, out).unwrap();
}

fn embed(model: &Path, input: &Path, output: &Path, extra: &[&str]) {
    let mut args = vec![
        "embed",
        "-q",
        "--model",
        s(model),
        "--input",
        s(input),
        "--output",
        s(output),
    ];
    args.extend_from_slice(extra);
    ok(&paperscout(&args));
}

/// Every file of a directory tree with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn shards_together_are_the_whole_vector_for_vector() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 40);
    let whole = tmp.path().join("whole.safetensors");
    embed(&model, &input, &whole, &[]);
    let whole = read_st(&whole);
    assert_eq!(whole.ids.len(), 40);

    let mut ids = Vec::new();
    let mut data = Vec::new();
    let mut firsts = Vec::new();
    for k in 1..=3 {
        let part = tmp.path().join(format!("part-{k}.safetensors"));
        // Other windows and batches than the whole run: a vector must not depend on
        // the batch it was in.
        embed(
            &model,
            &input,
            &part,
            &[
                "--shard",
                &format!("{k}/3"),
                "--window",
                "7",
                "--batch-tokens",
                "100",
            ],
        );
        let part = read_st(&part);
        assert_eq!(part.meta["shard"], format!("{k}/3"));
        assert_eq!(part.meta["records"], "40");
        firsts.push(part.meta["shard_first"].clone());
        assert!((13..=14).contains(&part.ids.len()), "{}", part.ids.len());
        ids.extend(part.ids);
        data.extend(part.data);
    }
    assert_eq!(firsts, ["0", "13", "26"]);
    assert_eq!(ids, whole.ids, "the parts' ids in order are the whole's");
    assert!(
        data == whole.data,
        "the parts' vectors are the whole's, bit for bit"
    );

    // The model is named as a library records it, not by the path it was loaded from.
    assert_eq!(whole.meta["model"], "tiny-model");
    assert_eq!(
        whole.meta["model_sha256"],
        sha256_hex(&model.join("model.safetensors"))
    );
    assert_eq!(whole.meta["dim"], whole.shape.1.to_string());
    assert!(!whole.meta.contains_key("shard"));
}

#[test]
fn npy_output_has_the_same_metadata_in_a_sidecar() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 12);
    let out = tmp.path().join("part.npy");
    embed(&model, &input, &out, &["--shard", "2/2"]);
    let meta: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("part.npy.meta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["model"], "tiny-model");
    assert_eq!(
        meta["model_sha256"],
        sha256_hex(&model.join("model.safetensors"))
    );
    assert_eq!(meta["shard"], "2/2");
    assert_eq!(meta["shard_first"], "6");
    assert_eq!(meta["records"], "12");
    let ids: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("part.npy.ids.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ids.len(), 6);
    assert!(!tmp.path().join("part.npy.partial").exists());
}

#[test]
fn bad_shard_specs_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = records(tmp.path(), 3);
    let out = tmp.path().join("x.safetensors");
    for bad in ["0/3", "4/3", "1/0", "x", "2", "1/3/3", "1.5/3"] {
        let o = paperscout(&[
            "embed",
            "--model",
            "/nonexistent/model",
            "--input",
            s(&input),
            "--output",
            s(&out),
            "--shard",
            bad,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("expected K/N"), "{bad}: {err}");
        assert!(!out.exists());
    }
}

/// A library made from `input` with the vectors of `file`, with a model path that
/// does not exist: the model must not be needed.
fn ingest_without_model(lib: &Path, input: &Path, files: &[&Path]) -> Output {
    let mut args = vec![
        "--library",
        s(lib),
        "ingest",
        "-q",
        "--model",
        "/nonexistent/model",
        s(input),
        "--vectors",
    ];
    args.extend(files.iter().map(|f| s(f)));
    paperscout(&args)
}

fn assert_library_holds(lib: &Path, ids: &[String], rows: &[Vec<f32>]) {
    let l = Library::open_any_model(lib).unwrap();
    assert_eq!(l.len(), ids.len());
    for (id, row) in ids.iter().zip(rows) {
        let v = l.vector(id).unwrap_or_else(|| panic!("{id} not stored"));
        assert!(
            v == row.as_slice(),
            "{id}: stored vector differs from the file's"
        );
    }
}

#[test]
fn ingest_vectors_from_safetensors_parts_needs_no_model() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 30);
    let whole = tmp.path().join("whole.safetensors");
    embed(&model, &input, &whole, &[]);
    let parts: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let p = tmp.path().join(format!("part-{k}.safetensors"));
            embed(&model, &input, &p, &["--shard", &format!("{k}/3")]);
            p
        })
        .collect();
    let lib = tmp.path().join("lib");
    let parts_ref: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
    let out = ingest_without_model(&lib, &input, &parts_ref);
    let stdout = ok(&out);
    assert!(
        stdout.contains("30 stored from the files, 0 embedded"),
        "{stdout}"
    );
    let w = read_st(&whole);
    assert_library_holds(&lib, &w.ids, &rows_of(&w));
    let l = Library::open_any_model(&lib).unwrap();
    assert_eq!(l.model().name, "tiny-model");
    assert_eq!(l.model().sha256, w.meta["model_sha256"]);

    // `similar` works on it without a model.
    let similar = paperscout(&["--library", s(&lib), "similar", &w.ids[3]]);
    ok(&similar);
}

#[test]
fn ingest_vectors_from_npy() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 20);
    let st = tmp.path().join("v.safetensors");
    embed(&model, &input, &st, &[]);
    let npy = tmp.path().join("v.npy");
    embed(&model, &input, &npy, &[]);
    let lib = tmp.path().join("lib");
    ok(&ingest_without_model(&lib, &input, &[&npy]));
    let w = read_st(&st);
    assert_library_holds(&lib, &w.ids, &rows_of(&w));
}

#[test]
fn vectors_of_another_model_are_refused_and_the_library_is_unchanged() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 10);
    let file = tmp.path().join("v.safetensors");
    embed(&model, &input, &file, &[]);
    let lib = tmp.path().join("lib");
    ok(&ingest_without_model(&lib, &input, &[&file]));
    let before = snapshot(&lib);

    let v = read_st(&file);
    let rows = rows_of(&v);
    let mut meta = v.meta.clone();
    meta.remove("ids");
    let other_sha = "ab".repeat(32);
    meta.insert("model".into(), "other-model".into());
    meta.insert("model_sha256".into(), other_sha.clone());
    let other = tmp.path().join("other.safetensors");
    write_st(&other, &v.ids, &rows, &meta);
    let out = ingest_without_model(&lib, &input, &[&other]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(s(&other)), "names the file: {err}");
    assert!(err.contains(&other_sha), "names the file's model: {err}");
    assert!(
        err.contains(&v.meta["model_sha256"]),
        "names the library's model: {err}"
    );
    assert_eq!(snapshot(&lib), before, "the library was left as it was");

    // Another model's name next to these weights' sha256 contradicts itself: refused.
    let mut renamed = v.meta.clone();
    renamed.remove("ids");
    renamed.insert(
        "model".into(),
        "sentence-transformers/all-mpnet-base-v2".into(),
    );
    let named = tmp.path().join("named.safetensors");
    write_st(&named, &v.ids, &rows, &renamed);
    let out = ingest_without_model(&lib, &input, &[&named]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "another model's name was accepted");
    assert!(err.contains("all-mpnet-base-v2"), "{err}");
    assert_eq!(snapshot(&lib), before);

    // Another dimension under the same weights is another model too.
    let mut meta16 = v.meta.clone();
    meta16.remove("ids");
    meta16.insert("dim".into(), "16".into());
    let short: Vec<Vec<f32>> = rows.iter().map(|r| r[..16].to_vec()).collect();
    let dim16 = tmp.path().join("dim16.safetensors");
    write_st(&dim16, &v.ids, &short, &meta16);
    let out = ingest_without_model(&lib, &input, &[&dim16]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("16-d"), "{err}");
    assert_eq!(snapshot(&lib), before);

    // Metadata that contradicts the tensor's shape is refused before anything.
    let lying = tmp.path().join("lying.safetensors");
    let mut meta_lie = v.meta.clone();
    meta_lie.remove("ids");
    meta_lie.insert("dim".into(), "16".into());
    write_st(&lying, &v.ids, &rows, &meta_lie);
    let out = ingest_without_model(&lib, &input, &[&lying]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("dimension 16"), "{err}");
    assert_eq!(snapshot(&lib), before);

    // A file without model identity (an old one: the path as its model) is refused.
    let mut old = BTreeMap::new();
    old.insert("model".to_string(), s(&model).to_string());
    let anonymous = tmp.path().join("old.safetensors");
    write_st(&anonymous, &v.ids, &rows, &old);
    let out = ingest_without_model(&lib, &input, &[&anonymous]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("names no model by identity"));
    assert_eq!(snapshot(&lib), before);
    // The same model known by a hub path: the same name up to the folder, accepted.
    let mut hub = v.meta.clone();
    hub.remove("ids");
    let base = hub["model"].rsplit('/').next().unwrap().to_string();
    hub.insert("model".into(), format!("some-org/{base}"));
    let hubbed = tmp.path().join("hub.safetensors");
    write_st(&hubbed, &v.ids, &rows, &hub);
    ok(&ingest_without_model(&lib, &input, &[&hubbed]));
}

#[test]
fn records_without_vectors_are_embedded_or_refused_under_strict() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 20);
    let whole = tmp.path().join("whole.safetensors");
    embed(&model, &input, &whole, &[]);
    let part = tmp.path().join("part-1.safetensors");
    embed(&model, &input, &part, &["--shard", "1/2"]);

    // --strict: refused before anything is written.
    let strict_lib = tmp.path().join("strict");
    let out = paperscout(&[
        "--library",
        s(&strict_lib),
        "ingest",
        "-q",
        "--strict",
        "--model",
        s(&model),
        s(&input),
        "--vectors",
        s(&part),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("10 record(s) have no vector"), "{err}");
    assert!(!strict_lib.join("manifest.json").exists());

    // Without: the missing half is embedded with the model.
    let lib = tmp.path().join("lib");
    let out = paperscout(&[
        "--library",
        s(&lib),
        "ingest",
        "-q",
        "--model",
        s(&model),
        s(&input),
        "--vectors",
        s(&part),
    ]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("10 stored from the files, 10 embedded"),
        "{stdout}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("part(s) 2/2 were not given"), "{err}");
    let w = read_st(&whole);
    let l = Library::open_any_model(&lib).unwrap();
    assert_eq!(l.len(), 20);
    for (id, row) in w.ids.iter().zip(rows_of(&w)) {
        let v = l.vector(id).unwrap();
        assert!(common::cosine(v, &row) > 0.9999, "{id}");
    }

    // Without vectors for them and without a usable model: a clear error.
    let lib2 = tmp.path().join("lib2");
    let out = ingest_without_model(&lib2, &input, &[&part]);
    assert!(!out.status.success());
}

#[test]
fn vectors_without_a_record_are_reported() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 20);
    let file = tmp.path().join("v.safetensors");
    embed(&model, &input, &file, &[]);
    let few = records(&tmp.path().join("few").tap_mkdir(), 4);
    let lib = tmp.path().join("lib");
    let out = ingest_without_model(&lib, &few, &[&file]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let ids = read_st(&file).ids;
    assert!(err.contains("16 vector(s) match no record"), "{err}");
    assert!(err.contains(&ids[4]), "names the first unused ids: {err}");
    assert_eq!(Library::open_any_model(&lib).unwrap().len(), 4);
}

#[test]
fn unnormalised_and_broken_vectors() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let input = records(tmp.path(), 6);
    let file = tmp.path().join("v.safetensors");
    embed(&model, &input, &file, &[]);
    let v = read_st(&file);
    let mut meta = v.meta.clone();
    meta.remove("ids");
    // Scaled by 3: stored divided by their norm.
    let scaled: Vec<Vec<f32>> = rows_of(&v)
        .iter()
        .map(|r| r.iter().map(|x| x * 3.0).collect())
        .collect();
    let f = tmp.path().join("scaled.safetensors");
    write_st(&f, &v.ids, &scaled, &meta);
    let lib = tmp.path().join("lib");
    let stdout = ok(&ingest_without_model(&lib, &input, &[&f]));
    assert!(stdout.contains("6 normalised"), "{stdout}");
    let l = Library::open_any_model(&lib).unwrap();
    for (id, row) in v.ids.iter().zip(rows_of(&v)) {
        assert!(common::cosine(l.vector(id).unwrap(), &row) > 0.99999);
        assert!((common::norm(l.vector(id).unwrap()) - 1.0).abs() < 1e-5);
    }
    // A NaN is refused, naming the file and the id; nothing is created.
    let mut nan = rows_of(&v);
    nan[2][1] = f32::NAN;
    let f = tmp.path().join("nan.safetensors");
    write_st(&f, &v.ids, &nan, &meta);
    let lib2 = tmp.path().join("lib2");
    let out = ingest_without_model(&lib2, &input, &[&f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("non-finite") && err.contains(&v.ids[2]),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn kaggle_sample_with_vectors() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let csv = common::data("arxiv-kaggle-metadata-sample-2000/arxiv_data.csv");
    // Vectors of the 2,000 records as another machine would send them: the model's
    // metadata (from a small embed run), random unit vectors for every id.
    let probe = tmp.path().join("probe.safetensors");
    let small = records(tmp.path(), 2);
    embed(&model, &small, &probe, &[]);
    let mut meta = read_st(&probe).meta;
    meta.remove("ids");
    let dim: usize = meta["dim"].parse().unwrap();
    let ids: Vec<String> = paperscout::ingest::read(&csv, None)
        .unwrap()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 2000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let rows: Vec<Vec<f32>> = ids
        .iter()
        .map(|_| {
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 2001) as f32 / 1000.0 - 1.0
                })
                .collect();
            let n = common::norm(&v);
            v.iter().map(|a| a / n).collect()
        })
        .collect();
    // Two parts, as two machines would write them.
    let (a, b) = (
        tmp.path().join("a.safetensors"),
        tmp.path().join("b.safetensors"),
    );
    write_st(&a, &ids[..1200], &rows[..1200], &meta);
    write_st(&b, &ids[1200..], &rows[1200..], &meta);
    let lib = tmp.path().join("lib");
    let stdout = ok(&ingest_without_model(&lib, &csv, &[&a, &b]));
    assert!(
        stdout.contains("2000 stored from the files, 0 embedded"),
        "{stdout}"
    );
    let l = Library::open_any_model(&lib).unwrap();
    assert_eq!(l.len(), 2000);
    for i in [0, 999, 1999] {
        let stored = l.vector(&ids[i]).unwrap();
        assert!(common::cosine(stored, &rows[i]) > 0.99999, "{}", ids[i]);
    }

    // embed --shard on the CSV itself (records counted by parsing, not by lines: CSV
    // fields span lines): part 2 of 30 is records 66..133, in order.
    let part = tmp.path().join("csv-2.safetensors");
    embed(&model, &csv, &part, &["--shard", "2/30"]);
    let p = read_st(&part);
    assert_eq!(p.meta["records"], "2000");
    assert_eq!(p.meta["shard_first"], "66");
    assert_eq!(p.ids, ids[66..133]);
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
