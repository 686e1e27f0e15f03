//! The library at scale (issue 16, part S), on small libraries: what an open reads and
//! checks (the vectors mapped, the graph's links instead of hnsw_rs's graph, the last
//! block's checksums) against what `verify` checks (every block); the upgrade of a
//! format version 2 library to version 3, crash-safe; the tf-idf vocabulary fitted once
//! and kept across commits; searches over the one copy of the vectors answering as the
//! hnsw_rs graph does.

use std::path::Path;

use paperscout::fsio::fault;
use paperscout::library::{Library, Writer, WriterOptions, FORMAT_VERSION};
use paperscout::paper::Paper;
use paperscout::recommend::{library_tfidf, refit_tfidf, stored_tfidf};

// The same model and vectors as the hardening tests' libraries.
use crate::hardening_library::{model, unit, DIM};

const TOPICS: [&str; 4] = [
    "graph neural networks for molecules",
    "retrieval augmented language models",
    "robot policy learning from video",
    "quantum error correcting codes",
];

fn paper(i: usize) -> Paper {
    let mut p = Paper::new(
        format!("2601.{i:05}"),
        format!("Study {i} of {}", TOPICS[i % 4]),
    );
    p.abstract_text = format!(
        "We propose method {i} on {} and compare it with {} baselines.",
        TOPICS[i % 4],
        TOPICS[(i + 1) % 4]
    );
    p.authors = vec![format!("Author {}", i % 7)];
    p.listed = chrono::NaiveDate::from_ymd_opt(2026, 1, 1 + (i % 28) as u32);
    p
}

fn add(w: &mut Writer, range: std::ops::Range<usize>) {
    let papers: Vec<Paper> = range.clone().map(paper).collect();
    let vectors: Vec<Vec<f32>> = range.map(|i| unit(i as u64)).collect();
    w.upsert(&papers, &vectors).unwrap();
}

/// A committed library of papers `0..n` in `dir`, its graph dumped.
fn build(dir: &Path, n: usize) {
    let mut w = Writer::open(dir, &model(), &WriterOptions::default()).unwrap();
    add(&mut w, 0..n);
    w.finish().unwrap();
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn ids(lib: &Library, q: &[f32], k: usize) -> Vec<String> {
    lib.nearest_approx(q, k, 64)
        .unwrap()
        .iter()
        .map(|h| h.paper.id.clone())
        .collect()
}

#[test]
fn an_open_maps_the_vectors_and_reads_records_as_stored() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 300);
    let m = manifest(tmp.path());
    assert_eq!(m["format_version"], FORMAT_VERSION);
    let links = m["index_dump"]["links"]["file"].as_str().unwrap();
    assert!(
        tmp.path().join(links).is_file(),
        "the dump has its links file"
    );
    let lib = Library::open(tmp.path(), &model()).unwrap();
    assert_eq!(lib.len(), 300);
    for i in [0usize, 1, 150, 299] {
        let p = lib.get(&paper(i).id).unwrap();
        assert_eq!(p, &paper(i));
        assert_eq!(lib.vector(&p.id).unwrap(), unit(i as u64).as_slice());
    }
    let v = lib.verify().unwrap();
    // hnsw_rs's two files, the links and the papers index.
    assert_eq!((v.records, v.vector_rows, v.index_files), (300, 300, 4));
}

#[test]
fn a_damaged_middle_block_passes_the_open_and_is_found_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 300);
    let file = manifest(tmp.path())["vectors"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    // Row 10 (block 0 of three 128-row blocks) negated: still a unit vector, so only
    // its checksum tells.
    let path = tmp.path().join(&file);
    let mut b = std::fs::read(&path).unwrap();
    for x in 0..DIM {
        b[(10 * DIM + x) * 4 + 3] ^= 0x80;
    }
    std::fs::write(&path, b).unwrap();
    let lib = Library::open(tmp.path(), &model()).expect("an open checks the last block only");
    let err = lib.verify().unwrap_err().to_string();
    assert!(
        err.contains(&file) && err.contains("rows 0..128") && err.contains("corrupt"),
        "{err}"
    );
    // The same damage in the last block is found at open.
    let mut b = std::fs::read(&path).unwrap();
    for x in 0..DIM {
        b[(10 * DIM + x) * 4 + 3] ^= 0x80; // undo
        b[(290 * DIM + x) * 4 + 3] ^= 0x80;
    }
    std::fs::write(&path, b).unwrap();
    let err = Library::open(tmp.path(), &model()).unwrap_err().to_string();
    assert!(err.contains("rows 256..300"), "{err}");
}

/// Turn the version 3 library in `dir` into the version 2 library it would have been:
/// no links file (version 2 had none) and `format_version: 2`.
fn downgrade_to_v2(dir: &Path) {
    let mut m = manifest(dir);
    let links = m["index_dump"]["links"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(dir.join(links)).unwrap();
    m["index_dump"].as_object_mut().unwrap().remove("links");
    m["format_version"] = 2.into();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_v2_library_is_read_as_is_and_upgraded_crash_safely_by_the_next_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    build(&dir, 200);
    downgrade_to_v2(&dir);
    let queries: Vec<Vec<f32>> = (0..20).map(|s| unit(10_000 + s)).collect();
    let v2 = Library::open(&dir, &model()).unwrap();
    assert_eq!(v2.stats().format_version, 2);
    let answers: Vec<Vec<String>> = queries.iter().map(|q| ids(&v2, q, 5)).collect();
    drop(v2);
    assert_eq!(
        manifest(&dir)["format_version"],
        2,
        "a reader writes nothing"
    );

    // The upgrade fails half-way (the links file cannot be written): the library is
    // the version 2 one still, whole.
    fault::fill_disk(&dir);
    let failed = Writer::open(&dir, &model(), &WriterOptions::default());
    fault::heal(&dir);
    assert!(failed.is_err(), "the upgrade could not write its files");
    drop(failed);
    assert_eq!(manifest(&dir)["format_version"], 2);
    let still = Library::open(&dir, &model()).unwrap();
    still.verify().unwrap();
    let again: Vec<Vec<String>> = queries.iter().map(|q| ids(&still, q, 5)).collect();
    assert_eq!(answers, again);
    drop(still);

    // The next writer upgrades it.
    drop(Writer::open(&dir, &model(), &WriterOptions::default()).unwrap());
    let m = manifest(&dir);
    assert_eq!(m["format_version"], FORMAT_VERSION);
    assert!(m["index_dump"]["links"]["crc32"].is_string(), "{m}");
    let v3 = Library::open(&dir, &model()).unwrap();
    v3.verify().unwrap();
    assert_eq!(v3.len(), 200);
    let after: Vec<Vec<String>> = queries.iter().map(|q| ids(&v3, q, 5)).collect();
    assert_eq!(answers, after, "the same graph answers the same");
    // No leftovers of the failed attempt.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index-"))
        .collect();
    names.sort();
    let mut named: Vec<String> = ["graph", "data", "links"]
        .iter()
        .map(|k| m["index_dump"][k]["file"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    assert_eq!(names, named);
}

#[test]
fn the_tfidf_vocabulary_is_fitted_once_and_kept_across_commits() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 200);
    let lib = Library::open(tmp.path(), &model()).unwrap();
    assert!(stored_tfidf(&lib).is_none(), "nothing fitted yet");
    let first = library_tfidf(&lib).unwrap().expect("a vocabulary");
    let stored = stored_tfidf(&lib).unwrap();
    assert_eq!(
        (stored.fitted_commit, stored.library_papers),
        (lib.commit(), 200)
    );
    drop(lib);

    // Two commits later (the library grows by half): the stored vocabulary is used
    // as it is, not refitted.
    let mut w = Writer::open(tmp.path(), &model(), &WriterOptions::default()).unwrap();
    add(&mut w, 200..250);
    w.commit().unwrap();
    add(&mut w, 250..300);
    w.finish().unwrap();
    let lib = Library::open(tmp.path(), &model()).unwrap();
    let kept = library_tfidf(&lib).unwrap().unwrap();
    let stored_now = stored_tfidf(&lib).unwrap();
    assert_eq!(
        stored_now.fitted_commit, stored.fitted_commit,
        "not refitted"
    );
    assert_ne!(stored_now.fitted_commit, lib.commit());
    assert_eq!(kept.len(), first.len());
    // Refitted on request.
    let refit = refit_tfidf(&lib).unwrap();
    assert_eq!(
        (refit.fitted_commit, refit.library_papers),
        (lib.commit(), 300)
    );
    assert_eq!(stored_tfidf(&lib).unwrap().fitted_commit, lib.commit());
}

#[test]
fn searches_over_the_mapped_vectors_answer_as_the_writers_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let queries: Vec<Vec<f32>> = (0..30).map(|s| unit(20_000 + s)).collect();
    // A writer builds the graph in memory (hnsw_rs's, over its own copy of the
    // vectors) and writes it with its links.
    let mut w = Writer::open(dir, &model(), &WriterOptions::default()).unwrap();
    add(&mut w, 0..600);
    assert!(w.compact().unwrap().dumped_index);
    let by_writer: Vec<Vec<String>> = queries.iter().map(|q| ids(&w, q, 10)).collect();
    drop(w);
    // A reader: the links file and the mapped vectors, no hnsw_rs graph.
    let reader = Library::open(dir, &model()).unwrap();
    let by_reader: Vec<Vec<String>> = queries.iter().map(|q| ids(&reader, q, 10)).collect();
    assert_eq!(by_reader, by_writer);
    drop(reader);
    let mut w = Writer::open(dir, &model(), &WriterOptions::default()).unwrap();

    // Rows committed after the dump are searched too (exactly) by a reader.
    add(&mut w, 600..620);
    let info = w.commit().unwrap();
    assert!(!info.dumped_index, "20 rows do not make a dump due");
    drop(w);
    let lib = Library::open(dir, &model()).unwrap();
    assert_eq!(lib.stats().index.dumped_points, 600);
    assert_eq!(lib.stats().index.points, 620);
    for i in [600usize, 610, 619] {
        assert_eq!(ids(&lib, &unit(i as u64), 1), vec![paper(i).id]);
    }
    // And exact search agrees with the approximate one on its own rows.
    let q = unit(615);
    let exact = lib.nearest_exact(&q, 1, None).unwrap();
    assert_eq!(exact[0].paper.id, paper(615).id);
}
