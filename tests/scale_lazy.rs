//! The library's paper metadata at scale (issue 16): the papers index (format version
//! 4) that every commit writes, records parsed on access, the crash-safe upgrade from
//! format 3, and damage to the index found with an error naming its file. The
//! expectations come from reading the papers log here, with serde_json, not from the
//! library.

use std::collections::HashMap;
use std::path::Path;

use paperscout::fsio::fault;
use paperscout::library::{Library, PaperMeta, Writer, WriterOptions, FORMAT_VERSION};
use paperscout::paper::Paper;

use crate::hardening_library::{model, unit};

fn paper(i: usize) -> Paper {
    let mut p = Paper::new(format!("2602.{i:05}"), format!("Lazy study {i}"));
    p.abstract_text = format!("We measure thing {i} against thing {}.", i + 1);
    p.authors = vec![format!("Writer {}", i % 5)];
    p.categories = vec![["cs.LG", "cs.CL", "stat.ML"][i % 3].to_string()];
    p.listed = chrono::NaiveDate::from_ymd_opt(2026, 2, 1 + (i % 20) as u32);
    p
}

pub(crate) fn add(w: &mut Writer, papers: &[Paper], seed: u64) {
    let plan = w.plan(papers);
    let vectors: Vec<Vec<f32>> = (0..plan.texts.len())
        .map(|j| unit(seed + j as u64))
        .collect();
    w.upsert(papers, &vectors).unwrap();
}

/// A library of 300 papers in `dir` made in three commits, with papers updated in
/// place (metadata only) and re-embedded (text changed) by the later ones.
fn build(dir: &Path) {
    let mut w = Writer::open(dir, &model(), &WriterOptions::default()).unwrap();
    add(&mut w, &(0..200).map(paper).collect::<Vec<_>>(), 0);
    w.commit().unwrap();
    let mut later: Vec<Paper> = (200..300).map(paper).collect();
    let mut moved = paper(5);
    moved.categories = vec!["cs.IR".into()];
    later.push(moved);
    let mut changed = paper(7);
    changed.abstract_text = "An entirely new abstract.".into();
    later.push(changed);
    add(&mut w, &later, 10_000);
    w.commit().unwrap();
    let mut earlier = paper(250);
    earlier.listed = chrono::NaiveDate::from_ymd_opt(2026, 1, 3);
    add(&mut w, &[earlier], 20_000);
    w.finish().unwrap();
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn write_manifest(dir: &Path, m: &serde_json::Value) {
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(m).unwrap(),
    )
    .unwrap();
}

/// The papers of the committed log, read here: the last record of each id, in the
/// order ids first appear; and each record's row.
fn log_papers(dir: &Path) -> Vec<(Paper, usize)> {
    let m = manifest(dir);
    let bytes = std::fs::read(dir.join(m["papers"]["file"].as_str().unwrap())).unwrap();
    let committed = &bytes[..m["papers"]["bytes"].as_u64().unwrap() as usize];
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, (Paper, usize)> = HashMap::new();
    for line in committed.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let rec: serde_json::Value = serde_json::from_slice(line).unwrap();
        let p: Paper = serde_json::from_value(rec["paper"].clone()).unwrap();
        let row = rec["row"].as_u64().unwrap() as usize;
        if !last.contains_key(&p.id) {
            order.push(p.id.clone());
        }
        last.insert(p.id.clone(), (p, row));
    }
    order
        .into_iter()
        .map(|id| last.remove(&id).unwrap())
        .collect()
}

/// Make the version 4 library in `dir` a version 3 one, as the previous paperscout
/// wrote it: no papers index.
fn downgrade_to_v3(dir: &Path) {
    let mut m = manifest(dir);
    let idx = m["papers_index"]["file"].as_str().unwrap().to_string();
    m.as_object_mut().unwrap().remove("papers_index");
    m["format_version"] = 3.into();
    write_manifest(dir, &m);
    std::fs::remove_file(dir.join(idx)).unwrap();
}

fn idx_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".idx"))
        .collect();
    v.sort();
    v
}

fn answers(lib: &Library) -> Vec<Vec<String>> {
    (0..10)
        .map(|s| {
            lib.nearest(&unit(50_000 + s), 5, None)
                .unwrap()
                .iter()
                .map(|h| h.paper.id.clone())
                .collect()
        })
        .collect()
}

#[test]
fn every_commit_writes_a_papers_index_consistent_with_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    build(&dir);
    let m = manifest(&dir);
    assert_eq!(m["format_version"], FORMAT_VERSION);
    assert_eq!(FORMAT_VERSION, 4);
    let idx = m["papers_index"]["file"].as_str().unwrap();
    assert_eq!(
        idx_files(&dir),
        vec![idx.to_string()],
        "one index, the committed one"
    );
    let bytes = std::fs::read(dir.join(idx)).unwrap();
    assert_eq!(
        bytes.len() as u64,
        m["papers_index"]["bytes"].as_u64().unwrap()
    );
    assert_eq!(&bytes[..8], b"PSPAPIX1");
    let want = log_papers(&dir);
    assert_eq!(want.len(), 300);
    assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 300);

    let lib = Library::open(&dir, &model()).unwrap();
    lib.verify().unwrap();
    assert_eq!(lib.len(), want.len());
    for (key, (p, _)) in want.iter().enumerate() {
        assert_eq!(lib.id_at(key), p.id, "key {key}");
        assert_eq!(lib.key_of(&p.id), Some(key));
        assert_eq!(lib.listed_at(key), p.listed, "{}", p.id);
    }
    assert_eq!(
        lib.listed_at(lib.key_of("2602.00250").unwrap()),
        chrono::NaiveDate::from_ymd_opt(2026, 1, 3),
        "the earlier listing day of the last commit"
    );
    assert!(lib.get("2602.99999").is_none() && !lib.contains("2602.99999"));
    let cats: Vec<&str> = lib.categories().collect();
    assert_eq!(cats, vec!["cs.CL", "cs.IR", "cs.LG", "stat.ML"]);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 2, 4).unwrap();
    let on_day: Vec<usize> = want
        .iter()
        .enumerate()
        .filter(|(_, (p, _))| p.listed == Some(day))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(lib.keys_listed(day, day), on_day);
}

#[test]
fn a_lazily_parsed_record_equals_the_eagerly_parsed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    build(&dir);
    let want = log_papers(&dir);
    let lazy = Library::open(&dir, &model()).unwrap();
    // In another order than the log's, so that no record is parsed by its neighbour.
    for (p, _) in want.iter().rev() {
        assert_eq!(lazy.get(&p.id), Some(p), "{}", p.id);
    }
    let lazy_answers = answers(&lazy);
    drop(lazy);

    // The same library read as version 3 parses every record at open.
    downgrade_to_v3(&dir);
    let eager = Library::open(&dir, &model()).unwrap();
    assert_eq!(eager.stats().format_version, 3);
    for (key, (p, _)) in want.iter().enumerate() {
        assert_eq!(eager.paper_at(key), Some(p));
        assert_eq!(eager.id_at(key), p.id);
    }
    assert_eq!(answers(&eager), lazy_answers);
    // A filter on the index (not the paper itself, a day) inside the search.
    let q = eager.vector("2602.00003").unwrap().to_vec();
    let not_self = |m: &PaperMeta<'_>| m.id != "2602.00003";
    let hits = eager.nearest_where(&q, 5, &not_self).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.paper.id != "2602.00003"));
    let same = eager
        .nearest(&q, 5, Some(&|p: &Paper| p.id != "2602.00003"))
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| &h.paper.id).collect::<Vec<_>>(),
        same.iter().map(|h| &h.paper.id).collect::<Vec<_>>()
    );
}

#[test]
fn a_format_3_library_is_upgraded_crash_safely_by_the_next_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    build(&dir);
    downgrade_to_v3(&dir);
    let v3 = Library::open(&dir, &model()).unwrap();
    let before = answers(&v3);
    drop(v3);
    assert_eq!(
        manifest(&dir)["format_version"],
        3,
        "a reader writes nothing"
    );
    assert!(idx_files(&dir).is_empty());

    // Interrupted while writing the index: the library is the version 3 one still.
    fault::fill_disk(&dir);
    let failed = Writer::open(&dir, &model(), &WriterOptions::default());
    fault::heal(&dir);
    assert!(failed.is_err(), "the upgrade could not write the index");
    drop(failed);
    assert_eq!(manifest(&dir)["format_version"], 3);
    let still = Library::open(&dir, &model()).unwrap();
    still.verify().unwrap();
    assert_eq!(answers(&still), before);
    drop(still);

    // Interrupted after writing the index, before the manifest: a whole index file
    // that no manifest names (here: garbage under the name the upgrade will use).
    let commit = manifest(&dir)["commit"].as_u64().unwrap();
    std::fs::write(
        dir.join(format!("papers-{}.idx", commit + 1)),
        b"PSPAPIX1 half",
    )
    .unwrap();
    let still = Library::open(&dir, &model()).unwrap();
    assert_eq!(answers(&still), before);
    drop(still);

    // The next writer upgrades it.
    drop(Writer::open(&dir, &model(), &WriterOptions::default()).unwrap());
    let m = manifest(&dir);
    assert_eq!(m["format_version"], 4);
    let idx = m["papers_index"]["file"].as_str().unwrap().to_string();
    assert_eq!(idx_files(&dir), vec![idx], "no leftovers");
    let v4 = Library::open(&dir, &model()).unwrap();
    v4.verify().unwrap();
    assert_eq!(answers(&v4), before, "the graph is kept");
    for (p, _) in log_papers(&dir) {
        assert_eq!(v4.get(&p.id), Some(&p));
    }
}

#[test]
fn the_stored_format_1_fixture_is_upgraded_to_a_papers_index() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/library");
    let m = manifest(&fixture);
    let model: paperscout::library::ModelInfo = serde_json::from_value(m["model"].clone()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("lib");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&fixture).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let want = log_papers(&copy);
    assert!(!want.is_empty());
    drop(Writer::open(&copy, &model, &WriterOptions::default()).unwrap());
    let m = manifest(&copy);
    assert_eq!(m["format_version"], 4);
    assert!(m["papers_index"]["file"].is_string(), "{m}");
    let lib = Library::open(&copy, &model).unwrap();
    lib.verify().unwrap();
    for (key, (p, _)) in want.iter().enumerate() {
        assert_eq!(lib.id_at(key), p.id);
        assert_eq!(lib.get(&p.id), Some(p));
    }
}

#[test]
fn a_damaged_papers_index_is_refused_naming_the_file_and_rebuilt_by_reindex() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    build(&dir);
    let m = manifest(&dir);
    let idx = m["papers_index"]["file"].as_str().unwrap().to_string();
    let path = dir.join(&idx);
    let good = std::fs::read(&path).unwrap();

    // A flipped byte: the CRC-32 the manifest recorded differs.
    let mut bad = good.clone();
    bad[60] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let err = Library::open(&dir, &model()).unwrap_err().to_string();
    assert!(err.contains(&idx) && err.contains("CRC-32"), "{err}");
    assert!(err.contains("reindex"), "{err}");

    // Truncated: the length differs.
    std::fs::write(&path, &good[..good.len() - 3]).unwrap();
    let err = Library::open(&dir, &model()).unwrap_err().to_string();
    assert!(err.contains(&idx) && err.contains("truncated"), "{err}");

    // Consistent with its checksum but not with the log (a listing day changed and
    // the checksum recomputed): an open trusts it, `verify` does not.
    let n = 300usize;
    let listed_at = 48 + 4 * n; // after the header and the rows
    let mut wrong = good.clone();
    wrong[listed_at] ^= 1;
    std::fs::write(&path, &wrong).unwrap();
    let mut m2 = m.clone();
    m2["papers_index"]["crc32"] = format!("{:08x}", crc32(&wrong)).into();
    write_manifest(&dir, &m2);
    let lib = Library::open(&dir, &model()).unwrap();
    let err = lib.verify().unwrap_err().to_string();
    assert!(
        err.contains(&idx) && err.contains("does not match the papers log"),
        "{err}"
    );
    drop(lib);

    // `library reindex` writes the index anew from the log.
    std::fs::write(&path, &bad).unwrap();
    write_manifest(&dir, &m);
    Writer::reindex(&dir, &model(), &WriterOptions::default()).unwrap();
    let lib = Library::open(&dir, &model()).unwrap();
    lib.verify().unwrap();
    for (p, _) in log_papers(&dir) {
        assert_eq!(lib.get(&p.id), Some(&p));
    }
}

/// CRC-32 (IEEE), bitwise: independent of the library's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
