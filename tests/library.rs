//! The library against real data: MiniLM vectors of real arXiv papers
//! (the corpus, `common::corpus()`), checked against brute force computed here,
//! not by the code under test. Also crash safety (a child process killed with SIGKILL),
//! corruption, locking, model checks and the stored format-version fixture.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use paperscout::library::{npy, IndexParams, Library, ModelInfo, Writer, WriterOptions};
use paperscout::paper::{canonical_id, Paper};
use paperscout::Error;

// ---- real data --------------------------------------------------------------------

fn data_dir() -> PathBuf {
    crate::common::corpus()
}

/// The fixture directory next to this file (works when this file is included by path
/// from another crate too).
fn fixture_dir() -> PathBuf {
    // file!() is relative to the package in this crate and absolute when another crate
    // includes this file by path.
    let file = Path::new(file!());
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    here.parent().unwrap().join("fixtures/library")
}

/// One month of the shared data: papers in file order and their reference vectors.
struct Month {
    papers: Vec<Paper>,
    vectors: npy::Matrix,
}

impl Month {
    fn vector(&self, i: usize) -> &[f32] {
        self.vectors.row(i)
    }
}

/// The fields of our JSONL the library needs, parsed here rather than by `ingest`.
fn parse_paper(line: &str) -> Paper {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut p = Paper::new(s("id"), s("title"));
    p.abstract_text = s("summary");
    p.authors = list("authors");
    p.categories = list("categories");
    p.listed = s("listing_date").parse().ok();
    p.url = Some(s("abs"));
    p.source = "jsonl".into();
    p
}

fn month(m: u32) -> &'static Month {
    static MONTHS: OnceLock<Vec<OnceLock<Month>>> = OnceLock::new();
    let cells = MONTHS.get_or_init(|| (0..12).map(|_| OnceLock::new()).collect());
    cells[m as usize - 1].get_or_init(|| {
        let dir = data_dir();
        let text = std::fs::read_to_string(dir.join(format!("arxiv_cs_2026-{m:02}.jsonl")))
            .expect("the corpus (PAPERSCOUT_DATA/arxiv-daily-cs-2026h1)");
        let papers: Vec<Paper> = text.lines().map(parse_paper).collect();
        let emb = dir.join("minilm-embeddings");
        let vectors = npy::read(&emb.join(format!("arxiv_cs_2026-{m:02}.npy"))).unwrap();
        let ids: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(emb.join(format!("arxiv_cs_2026-{m:02}.ids.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!((vectors.rows, vectors.cols), (papers.len(), 384));
        assert!(ids.iter().zip(&papers).all(|(a, p)| *a == p.id));
        Month { papers, vectors }
    })
}

fn model() -> ModelInfo {
    ModelInfo::new(
        "sentence-transformers/all-MiniLM-L6-v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        384,
    )
}

/// Upsert `papers` with the reference vector of each paper that the plan asks for.
fn upsert_real(w: &mut Writer, papers: &[Paper], vector_of: &dyn Fn(&str) -> Vec<f32>) {
    let plan = w.plan(papers);
    let vectors: Vec<Vec<f32>> = plan
        .indices
        .iter()
        .map(|&i| vector_of(&papers[i].id))
        .collect();
    w.upsert(papers, &vectors).unwrap();
}

/// `id → reference vector` over the given months.
fn reference(months: &[u32]) -> HashMap<String, Vec<f32>> {
    let mut map = HashMap::new();
    for &m in months {
        let mo = month(m);
        for (i, p) in mo.papers.iter().enumerate() {
            map.insert(p.id.clone(), mo.vector(i).to_vec());
        }
    }
    map
}

/// Exact top-k ids by an f64 dot product: the reference every search is checked against.
fn brute_force(query: &[f32], base: &[(&str, &[f32])], k: usize) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = base
        .iter()
        .map(|(id, v)| {
            let mut s = 0.0f64;
            for i in 0..v.len() {
                s += query[i] as f64 * v[i] as f64;
            }
            (s, *id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|s| s.1.to_string())
        .collect()
}

fn ids(hits: &[paperscout::library::Hit<'_>]) -> Vec<String> {
    hits.iter().map(|h| h.paper.id.clone()).collect()
}

/// Mean recall@k of `got` against `want`, query by query.
fn recall(got: &[Vec<String>], want: &[Vec<String>]) -> f64 {
    let mut sum = 0.0;
    for (g, w) in got.iter().zip(want) {
        let w: HashSet<&String> = w.iter().collect();
        sum += g.iter().filter(|id| w.contains(id)).count() as f64 / w.len().max(1) as f64;
    }
    sum / want.len() as f64
}

fn quiet_options() -> WriterOptions {
    WriterOptions {
        dump_after_rows: usize::MAX,
        ..WriterOptions::default()
    }
}

// ---- HNSW against brute force -----------------------------------------------------

/// Recall@10 of the graph (M=16, ef_construction=200, ef=64) against brute force on
/// real vectors, the same answers after dump and reload, and after reload → insert →
/// dump → reload. Queries are held-out papers (May) over a January–February base.
#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn hnsw_recall_against_brute_force_across_reloads() {
    const BASE: usize = 4000;
    const MORE: usize = 800;
    const QUERIES: usize = 300;
    let (jan, feb, may) = (month(1), month(2), month(5));
    let all: Vec<(&Paper, &[f32])> = jan
        .papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p, jan.vector(i)))
        .chain(
            feb.papers
                .iter()
                .enumerate()
                .map(|(i, p)| (p, feb.vector(i))),
        )
        .take(BASE + MORE)
        .collect();
    let refs = reference(&[1, 2]);
    let vector_of = |id: &str| refs[id].clone();
    let queries: Vec<&[f32]> = (0..QUERIES).map(|i| may.vector(i * 7)).collect();
    let dir = tempfile::tempdir().unwrap();

    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let base: Vec<Paper> = all[..BASE].iter().map(|(p, _)| (*p).clone()).collect();
    upsert_real(&mut w, &base, &vector_of);
    let info = w.finish().unwrap();
    assert!(info.dumped_index);

    let check = |lib: &Library, n: usize| -> Vec<Vec<String>> {
        let base: Vec<(&str, &[f32])> = all[..n].iter().map(|(p, v)| (p.id.as_str(), *v)).collect();
        let want: Vec<Vec<String>> = queries.iter().map(|q| brute_force(q, &base, 10)).collect();
        let got: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&lib.nearest_approx(q, 10, 64).unwrap()))
            .collect();
        let r = recall(&got, &want);
        eprintln!("recall@10 = {r:.4} over {n} points");
        assert!(
            r >= 0.98,
            "recall@10 = {r:.4} over {n} points (want >= 0.98)"
        );
        // The exact path is exact.
        for (q, w) in queries.iter().zip(&want).take(20) {
            assert_eq!(&ids(&lib.nearest_exact(q, 10, None).unwrap()), w);
        }
        got
    };

    let lib = Library::open(dir.path(), &model()).unwrap();
    assert_eq!(lib.stats().index.points, BASE);
    assert_eq!(lib.stats().index.dumped_points, BASE);
    let first = check(&lib, BASE);
    drop(lib);
    let lib = Library::open(dir.path(), &model()).unwrap();
    let again: Vec<Vec<String>> = queries
        .iter()
        .map(|q| ids(&lib.nearest_approx(q, 10, 64).unwrap()))
        .collect();
    assert_eq!(first, again, "a reloaded graph answers exactly as before");

    drop(lib);

    // Reload → insert → dump → reload.
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let more: Vec<Paper> = all[BASE..].iter().map(|(p, _)| (*p).clone()).collect();
    upsert_real(&mut w, &more, &vector_of);
    assert_eq!(w.stats().index.points, BASE + MORE);
    let before_dump = check(&w, BASE + MORE);
    w.finish().unwrap();
    let lib = Library::open(dir.path(), &model()).unwrap();
    assert_eq!(lib.stats().index.dumped_points, BASE + MORE);
    let after = check(&lib, BASE + MORE);
    // Before the dump the rows after the graph's were scanned exactly; the dump inserted
    // them into the graph: the answers agree but for the graph's approximation.
    let same: usize = before_dump
        .iter()
        .zip(&after)
        .map(|(b, a)| a.iter().filter(|id| b.contains(id)).count())
        .sum();
    assert!(
        same as f64 >= 0.97 * (QUERIES * 10) as f64,
        "agreement {same} of {}",
        QUERIES * 10
    );
    let reopened = Library::open(dir.path(), &model()).unwrap();
    assert_eq!(
        after,
        check(&reopened, BASE + MORE),
        "a reload answers the same"
    );

    // A filter that passes most papers goes through the graph (re-checked).
    // It passes ~90% of the papers, more than EXACT_SEARCH_MAX: the graph is walked.
    let most = |p: &Paper| !p.id.ends_with('7');
    let allowed: Vec<(&str, &[f32])> = all[..BASE + MORE]
        .iter()
        .filter(|(p, _)| most(p))
        .map(|(p, v)| (p.id.as_str(), *v))
        .collect();
    assert!(allowed.len() > paperscout::library::EXACT_SEARCH_MAX);
    let got: Vec<Vec<String>> = queries
        .iter()
        .map(|q| ids(&lib.nearest(q, 10, Some(&most)).unwrap()))
        .collect();
    assert!(got.iter().flatten().all(|id| most(lib.get(id).unwrap())));
    let want: Vec<Vec<String>> = queries
        .iter()
        .map(|q| brute_force(q, &allowed, 10))
        .collect();
    let r = recall(&got, &want);
    eprintln!("filtered recall@10 = {r:.4}");
    assert!(r >= 0.95, "filtered recall@10 = {r:.4}");
    // Only the current dump is left on disk.
    let dumps = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".hnsw.graph")
        })
        .count();
    assert_eq!(dumps, 1);
}

// ---- identity and dedup -----------------------------------------------------------

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn upsert_dedups_by_id_and_replaces_changed_text() {
    let jan = month(1);
    let refs = reference(&[1]);
    let vector_of = |id: &str| refs[id].clone();
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let first: Vec<Paper> = jan.papers[..30].to_vec();
    upsert_real(&mut w, &first, &vector_of);
    assert_eq!((w.len(), w.stats().index.points), (30, 30));

    // The same papers again (the same file twice): nothing to embed, nothing added.
    let plan = w.plan(&first);
    assert!(plan.indices.is_empty());
    assert_eq!(plan.unchanged, 30);
    let counts = w.upsert(&first, &Vec::<Vec<f32>>::new()).unwrap();
    assert_eq!(counts.unchanged, 30);
    assert_eq!((w.len(), w.stats().index.points), (30, 30));

    // Another version of a paper, from another source, listed later, new categories.
    let mut v2 = first[3].clone();
    v2.id = canonical_id(&format!("{}v2", first[3].id));
    v2.source = "arxiv-rss".into();
    v2.categories = vec!["cs.IR".into()];
    v2.listed = first[3].listed.and_then(|d| d.succ_opt());
    let plan = w.plan(std::slice::from_ref(&v2));
    assert!(plan.indices.is_empty(), "metadata only: no vector needed");
    assert_eq!(plan.metadata_only, 1);
    w.upsert(std::slice::from_ref(&v2), &Vec::<Vec<f32>>::new())
        .unwrap();
    let stored = w.get(&first[3].id).unwrap();
    assert_eq!(stored.categories, vec!["cs.IR".to_string()]);
    assert_eq!(stored.source, "arxiv-rss");
    assert_eq!(
        stored.listed, first[3].listed,
        "the earliest listing day is kept"
    );
    assert_eq!((w.len(), w.stats().index.points), (30, 30));
    // An earlier listing day does replace it.
    let mut earlier = first[3].clone();
    earlier.listed = first[3].listed.and_then(|d| d.pred_opt());
    w.upsert(std::slice::from_ref(&earlier), &Vec::<Vec<f32>>::new())
        .unwrap();
    assert_eq!(w.get(&first[3].id).unwrap().listed, earlier.listed);

    // Changed text: its vector is replaced, searched once under the new vector.
    let mut changed = first[5].clone();
    changed
        .abstract_text
        .push_str(" Revised with new experiments.");
    let other = jan.vector(200).to_vec(); // stands in for the new text's embedding
    let plan = w.plan(std::slice::from_ref(&changed));
    assert_eq!(plan.indices, vec![0]);
    assert_eq!(plan.texts, vec![changed.text()]);
    assert_eq!(plan.reembed, 1);
    let counts = w
        .upsert(std::slice::from_ref(&changed), std::slice::from_ref(&other))
        .unwrap();
    assert_eq!(counts.reembedded, 1);
    let st = w.stats();
    assert_eq!(
        (st.papers, st.index.points, st.index.tombstones),
        (30, 31, 1)
    );
    assert_eq!(w.vector(&changed.id).unwrap(), &other[..]);
    let all = w.nearest_exact(&other, 100, None).unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all[0].paper.id, changed.id);
    assert!((all[0].similarity - 1.0).abs() < 1e-5);
    let approx = w.nearest_approx(&other, 30, 64).unwrap();
    assert_eq!(
        approx.iter().filter(|h| h.paper.id == changed.id).count(),
        1
    );
    // Its old vector now finds it nowhere near the top: the old row is dead.
    let old_q = jan.vector(5).to_vec();
    let top = w.nearest_approx(&old_q, 3, 64).unwrap();
    assert!(top
        .iter()
        .all(|h| h.paper.id != changed.id || h.similarity < 0.99));

    // Duplicates inside one batch: one record, the last metadata wins.
    let mut a = jan.papers[40].clone();
    a.categories = vec!["cs.AI".into()];
    let mut b = jan.papers[40].clone();
    b.categories = vec!["cs.LG".into()];
    let batch = vec![a, b];
    let plan = w.plan(&batch);
    assert_eq!(
        (plan.indices.clone(), plan.new, plan.duplicates),
        (vec![1], 1, 1)
    );
    upsert_real(&mut w, &batch, &vector_of);
    assert_eq!(
        w.get(&jan.papers[40].id).unwrap().categories,
        vec!["cs.LG".to_string()]
    );
    assert_eq!((w.len(), w.stats().index.points), (31, 32));

    // All of it survives a commit and a reopen.
    w.finish().unwrap();
    let lib = Library::open(dir.path(), &model()).unwrap();
    let st = lib.stats();
    assert_eq!(
        (st.papers, st.index.points, st.index.tombstones),
        (31, 32, 1)
    );
    assert_eq!(lib.vector(&changed.id).unwrap(), &other[..]);
    assert_eq!(lib.get(&first[3].id).unwrap().listed, earlier.listed);
    assert_eq!(
        lib.get(&changed.id).unwrap().abstract_text,
        changed.abstract_text
    );
    assert_eq!(
        lib.get(&jan.papers[40].id).unwrap().categories,
        vec!["cs.LG".to_string()]
    );
    let top = lib.nearest_approx(&other, 31, 64).unwrap();
    assert_eq!(top.iter().filter(|h| h.paper.id == changed.id).count(), 1);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn upsert_refuses_bad_vectors_and_leaves_the_library_unchanged() {
    let jan = month(1);
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let papers = jan.papers[..2].to_vec();
    let good = vec![jan.vector(0).to_vec(), jan.vector(1).to_vec()];
    let mut short = good.clone();
    short[1].pop();
    let mut nan = good.clone();
    nan[0][7] = f32::NAN;
    let mut unnormalised = good.clone();
    unnormalised[1].iter_mut().for_each(|x| *x *= 2.0);
    for (bad, want) in [
        (short, "dimension 383"),
        (nan, "non-finite"),
        (unnormalised, "not L2-normalised"),
        (good[..1].to_vec(), "1 vectors for 2 papers"),
    ] {
        let err = w.upsert(&papers, &bad).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        assert_eq!((w.len(), w.stats().index.points), (0, 0));
    }
    let mut no_id = papers.clone();
    no_id[1].id.clear();
    assert!(w
        .upsert(&no_id, &good)
        .unwrap_err()
        .to_string()
        .contains("empty id"));
    w.upsert(&papers, &good).unwrap();
    assert_eq!(w.len(), 2);
    let err = w.nearest(&[1.0, 0.0], 3, None).unwrap_err().to_string();
    assert!(err.contains("dimension 2"), "{err}");
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn upsert_with_embeds_only_what_the_plan_needs() {
    let jan = month(1);
    let refs = reference(&[1]);
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let by_text: HashMap<String, Vec<f32>> = jan.papers[..20]
        .iter()
        .map(|p| (p.text(), refs[&p.id].clone()))
        .collect();
    let mut embedded = 0;
    let mut embed = |texts: &[String]| {
        embedded += texts.len();
        Ok(texts.iter().map(|t| by_text[t].clone()).collect())
    };
    w.upsert_with(&jan.papers[..10], &mut embed).unwrap();
    w.upsert_with(&jan.papers[..20], &mut embed).unwrap();
    assert_eq!(embedded, 20, "the first ten were not embedded twice");
    assert_eq!(w.len(), 20);
    for p in &jan.papers[..20] {
        assert_eq!(w.vector(&p.id).unwrap(), &refs[&p.id][..]);
    }
}

// ---- commits, readers, compaction -------------------------------------------------

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn readers_see_commits_only_and_are_never_blocked() {
    let jan = month(1);
    let refs = reference(&[1]);
    let vector_of = |id: &str| refs[id].clone();
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    assert_eq!(Library::open(dir.path(), &model()).unwrap().len(), 0);
    upsert_real(&mut w, &jan.papers[..10], &vector_of);
    w.commit().unwrap();
    upsert_real(&mut w, &jan.papers[10..15], &vector_of);
    assert_eq!(w.len(), 15, "the writer sees its own upserts at once");
    // A reader opens while the writer holds the lock, and sees the last commit.
    let lib = Library::open(dir.path(), &model()).unwrap();
    assert_eq!((lib.len(), lib.stats().index.points), (10, 10));
    assert!(lib.get(&jan.papers[12].id).is_none());
    w.commit().unwrap();
    assert_eq!(lib.len(), 10, "an opened reader keeps its snapshot");
    assert_eq!(Library::open(dir.path(), &model()).unwrap().len(), 15);
    let nothing = w.commit().unwrap();
    assert!(!nothing.written);
}

#[test]
fn second_writer_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let err = Writer::open(dir.path(), &model(), &quiet_options()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("locked by another writer"), "{msg}");
    Library::open(dir.path(), &model()).unwrap();
    drop(w);
    Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn model_mismatch_is_refused() {
    let jan = month(1);
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    w.upsert(&jan.papers[..1], &[jan.vector(0)]).unwrap();
    w.finish().unwrap();
    let mut other_hash = model();
    other_hash.sha256 = "ff".repeat(32);
    let mut other_dim = model();
    other_dim.dimension = 768;
    // The same weights under another name are the same model (issue 10.13).
    let mut other_name = model();
    other_name.name = "minilm".into();
    Library::open(dir.path(), &other_name).unwrap();
    for other in [other_hash, other_dim] {
        let err = Library::open(dir.path(), &other).unwrap_err();
        assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&model().to_string()) && msg.contains(&other.to_string()),
            "{msg}"
        );
        let err = Writer::open(dir.path(), &other, &quiet_options()).unwrap_err();
        assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    }
    // Statistics do not need the model.
    assert_eq!(
        Library::open_any_model(dir.path()).unwrap().stats().papers,
        1
    );
}

#[test]
fn a_directory_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thesis.tex"), "precious").unwrap();
    let err = Writer::open(dir.path(), &model(), &quiet_options())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a paperscout library"), "{err}");
    let err = Library::open(dir.path(), &model()).unwrap_err().to_string();
    assert!(err.contains("no manifest.json"), "{err}");
    assert!(dir.path().join("thesis.tex").exists());
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn compaction_drops_dead_rows_and_keeps_answers() {
    let jan = month(1);
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        compact_min_dead_rows: 10,
        compact_dead_fraction: 0.25,
        ..quiet_options()
    };
    let mut w = Writer::open(dir.path(), &model(), &opts).unwrap();
    let papers = jan.papers[..60].to_vec();
    let vectors: Vec<&[f32]> = (0..60).map(|i| jan.vector(i)).collect();
    w.upsert(&papers, &vectors).unwrap();
    w.commit().unwrap();
    // Re-embed 30 papers with other (real) vectors: 30 dead rows of 90 > 25%.
    let changed: Vec<Paper> = papers[..30]
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.title.push_str(" (v2)");
            p
        })
        .collect();
    let new_vectors: Vec<&[f32]> = (0..30).map(|i| jan.vector(100 + i)).collect();
    w.upsert(&changed, &new_vectors).unwrap();
    assert_eq!(w.stats().index.tombstones, 30);
    let info = w.commit().unwrap();
    assert!(info.compacted && info.dumped_index);
    let st = w.stats();
    assert_eq!(
        (st.papers, st.index.points, st.index.tombstones),
        (60, 60, 0)
    );
    w.finish().unwrap();

    let lib = Library::open(dir.path(), &model()).unwrap();
    let mut expect: Vec<(String, Vec<f32>)> = Vec::new();
    for (i, p) in papers.iter().enumerate() {
        let v = if i < 30 {
            jan.vector(100 + i)
        } else {
            jan.vector(i)
        };
        expect.push((p.id.clone(), v.to_vec()));
        assert_eq!(lib.vector(&p.id).unwrap(), v);
    }
    let base: Vec<(&str, &[f32])> = expect.iter().map(|(id, v)| (id.as_str(), &v[..])).collect();
    for q in 0..20 {
        let query = month(5).vector(q);
        assert_eq!(
            ids(&lib.nearest_approx(query, 5, 64).unwrap()),
            brute_force(query, &base, 5)
        );
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n == "papers-0.jsonl" || n == "vectors-0.f32"),
        "{names:?}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn repeated_metadata_updates_do_not_grow_the_log_forever() {
    let jan = month(1);
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let mut papers = jan.papers[..30].to_vec();
    let vectors: Vec<&[f32]> = (0..30).map(|i| jan.vector(i)).collect();
    w.upsert(&papers, &vectors).unwrap();
    w.commit().unwrap();
    let manifest = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap()
    };
    let first_log = manifest(dir.path())["papers"]["file"].clone();
    for round in 0..6 {
        for p in &mut papers {
            p.categories = vec![format!("cs.R{round}")];
        }
        let counts = w.upsert(&papers, &Vec::<Vec<f32>>::new()).unwrap();
        assert_eq!(counts.metadata_only, 30);
        w.commit().unwrap();
        let records = manifest(dir.path())["papers"]["records"].as_u64().unwrap();
        assert!(
            records <= 2 * 30 + 64 + 30,
            "round {round}: {records} records"
        );
    }
    let m = manifest(dir.path());
    assert_ne!(m["papers"]["file"], first_log, "the log was written afresh");
    assert!(!dir.path().join(first_log.as_str().unwrap()).exists());
    assert_eq!(w.stats().index.points, 30, "no new vectors for metadata");
    drop(w);
    let lib = Library::open(dir.path(), &model()).unwrap();
    assert_eq!(lib.len(), 30);
    for (i, p) in jan.papers[..30].iter().enumerate() {
        assert_eq!(
            lib.get(&p.id).unwrap().categories,
            vec!["cs.R5".to_string()]
        );
        assert_eq!(lib.vector(&p.id).unwrap(), jan.vector(i));
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn stats_summarise_the_library() {
    let jan = month(1);
    let refs = reference(&[1]);
    let vector_of = |id: &str| refs[id].clone();
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &quiet_options()).unwrap();
    let papers = &jan.papers[..300];
    upsert_real(&mut w, papers, &vector_of);
    w.finish().unwrap();
    let st = Library::open(dir.path(), &model()).unwrap().stats();
    let days: HashSet<_> = papers.iter().filter_map(|p| p.listed).collect();
    let cats: HashSet<&String> = papers.iter().flat_map(|p| &p.categories).collect();
    let cv = papers
        .iter()
        .filter(|p| p.categories.iter().any(|c| c == "cs.CV"))
        .count();
    assert_eq!(st.papers, 300);
    assert_eq!(st.listing_days.count, days.len());
    assert_eq!(st.listing_days.first, days.iter().min().copied());
    assert_eq!(st.listing_days.last, days.iter().max().copied());
    assert_eq!(st.categories.count, cats.len());
    assert_eq!(st.categories.top[0].name, "cs.CV");
    assert_eq!(st.categories.top[0].papers, cv);
    assert_eq!(
        (st.index.points, st.index.tombstones, st.dimension),
        (300, 0, 384)
    );
    assert!(st.disk_bytes > 300 * 384 * 4);
    let json: serde_json::Value = serde_json::to_value(&st).unwrap();
    assert_eq!(json["papers"], 300);
    assert_eq!(json["model"]["dimension"], 384);
    assert!(st.to_string().contains("papers       300"));
}

// ---- damage -----------------------------------------------------------------------

/// A small committed library with an index dump, and the manifest as JSON.
fn small_library(dir: &Path) -> serde_json::Value {
    let jan = month(1);
    let mut w = Writer::open(dir, &model(), &quiet_options()).unwrap();
    let vectors: Vec<&[f32]> = (0..50).map(|i| jan.vector(i)).collect();
    w.upsert(&jan.papers[..50], &vectors).unwrap();
    w.finish().unwrap();
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn damaged_files_give_clear_errors_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let m = small_library(&good);
    let file = |key: &str| m[key]["file"].as_str().unwrap().to_string();
    let (papers, vectors) = (file("papers"), file("vectors"));
    let graph = m["index_dump"]["graph"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    let data = m["index_dump"]["data"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    type Damage = Box<dyn Fn(&Path)>;
    let truncate = |name: String, keep: f64| -> Damage {
        Box::new(move |d: &Path| {
            let p = d.join(&name);
            let len = std::fs::metadata(&p).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len((len as f64 * keep) as u64).unwrap();
        })
    };
    let edit = |name: String, f: fn(&mut Vec<u8>)| -> Damage {
        Box::new(move |d: &Path| {
            let p = d.join(&name);
            let mut b = std::fs::read(&p).unwrap();
            f(&mut b);
            std::fs::write(&p, b).unwrap();
        })
    };
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "manifest truncated",
            truncate("manifest.json".into(), 0.5),
            "manifest.json is corrupt",
        ),
        (
            "manifest emptied",
            truncate("manifest.json".into(), 0.0),
            "manifest.json is corrupt",
        ),
        (
            "manifest missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("manifest.json")).unwrap()),
            "no manifest.json",
        ),
        (
            "manifest of a newer format",
            edit("manifest.json".into(), |b| {
                let s = String::from_utf8(b.clone()).unwrap().replace(
                    &format!(
                        "\"format_version\": {}",
                        paperscout::library::FORMAT_VERSION
                    ),
                    "\"format_version\": 99",
                );
                *b = s.into_bytes();
            }),
            "format version 99",
        ),
        (
            "manifest counts inconsistent",
            edit("manifest.json".into(), |b| {
                let s = String::from_utf8(b.clone()).unwrap().replacen(
                    "\"papers\": 50",
                    "\"papers\": 51",
                    1,
                );
                *b = s.into_bytes();
            }),
            "inconsistent",
        ),
        (
            "papers log truncated",
            truncate(papers.clone(), 0.9),
            "truncated",
        ),
        (
            "papers log garbled",
            edit(papers.clone(), |b| {
                let at = b.len() / 2;
                b[at..at + 8].copy_from_slice(b"\x00{\"\"}\x00\x00\x00");
            }),
            "corrupt paper record",
        ),
        (
            "papers log missing",
            Box::new({
                let p = papers.clone();
                move |d: &Path| std::fs::remove_file(d.join(&p)).unwrap()
            }),
            "No such file",
        ),
        (
            "vectors truncated",
            truncate(vectors.clone(), 0.99),
            "truncated",
        ),
        (
            "vectors garbled",
            edit(vectors.clone(), |b| {
                let at = b.len() / 3 / 4 * 4;
                b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
            }),
            "vectors file is corrupt",
        ),
        (
            "vectors scaled",
            edit(vectors.clone(), |b| {
                b[3] ^= 0x40; // the top exponent bit of row 0's first value
            }),
            "vectors file is corrupt",
        ),
        (
            "index graph bit flip",
            edit(graph.clone(), |b| {
                let at = b.len() / 2;
                b[at] ^= 1;
            }),
            "corrupt (sha256",
        ),
        (
            "index data truncated",
            truncate(data.clone(), 0.5),
            "truncated",
        ),
        (
            "index graph missing",
            Box::new({
                let g = graph.clone();
                move |d: &Path| std::fs::remove_file(d.join(&g)).unwrap()
            }),
            "No such file",
        ),
    ];
    for (i, (what, damage, want)) in cases.iter().enumerate() {
        let d = tmp.path().join(format!("case{i}"));
        copy_dir(&good, &d);
        damage(&d);
        // An open checks the cheap part (format version 3); `verify` the rest.
        let opened = std::panic::catch_unwind(|| {
            Library::open(&d, &model()).and_then(|lib| lib.verify().map(|_| lib))
        });
        let Ok(result) = opened else {
            panic!("{what}: opening panicked");
        };
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{what}: opened and verified without error"));
        let msg = format!("{err}");
        assert!(msg.contains(want), "{what}: {msg}");
        // A writer refuses it too, at open or at verification (and does not "repair"
        // it by truncating).
        let err = Writer::open(&d, &model(), &quiet_options())
            .and_then(|w| w.verify().map(|_| ()))
            .err();
        assert!(err.is_some(), "{what}: a writer opened and verified it");
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn reindex_repairs_a_damaged_index_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let m = small_library(tmp.path());
    let graph = tmp
        .path()
        .join(m["index_dump"]["graph"]["file"].as_str().unwrap());
    let mut b = std::fs::read(&graph).unwrap();
    b.truncate(b.len() / 3);
    std::fs::write(&graph, b).unwrap();
    let err = Library::open(tmp.path(), &model()).unwrap_err().to_string();
    assert!(err.contains("reindex"), "{err}");
    let info = Writer::reindex(tmp.path(), &model(), &quiet_options()).unwrap();
    assert!(info.dumped_index);
    let lib = Library::open(tmp.path(), &model()).unwrap();
    let jan = month(1);
    assert_eq!(lib.stats().index.points, 50);
    assert_eq!(
        lib.nearest_approx(jan.vector(7), 1, 64).unwrap()[0]
            .paper
            .id,
        jan.papers[7].id
    );
}

// ---- crash safety: a child process killed with SIGKILL ----------------------------

const CRASH_ENV: &str = "PAPERSCOUT_LIBRARY_CRASH_CHILD";
const CRASH_BATCH: usize = 100;
const CRASH_PAPERS: usize = 3200;

fn crash_options() -> WriterOptions {
    WriterOptions {
        // A small graph keeps the unoptimised test build quick; recall is tested above.
        index: IndexParams {
            max_nb_connection: 8,
            ef_construction: 24,
        },
        // Dumps happen every few commits, so kills land in them too.
        dump_after_rows: 400,
        ..WriterOptions::default()
    }
}

/// Not a test: the child process of `kill9_during_ingest_loses_at_most_a_batch`. It
/// ingests the first CRASH_PAPERS papers of January in batches, committing after each.
#[test]
#[ignore = "helper process for kill9_during_ingest_loses_at_most_a_batch"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let jan = month(1);
    let index: HashMap<&str, usize> = jan
        .papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut w = Writer::open(&dir, &model(), &crash_options()).unwrap();
    println!("locked");
    // Wait for the parent to have checked that the lock holds.
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    for batch in jan.papers[..CRASH_PAPERS].chunks(CRASH_BATCH) {
        let plan = w.plan(batch);
        let vectors: Vec<&[f32]> = plan
            .indices
            .iter()
            .map(|&i| jan.vector(index[batch[i].id.as_str()]))
            .collect();
        w.upsert(batch, &vectors).unwrap();
        w.commit().unwrap();
    }
    w.finish().unwrap();
    println!("done");
}

/// Check that `dir` opens and is consistent: every paper has exactly its reference
/// vector, the graph holds every row, the committed papers are a whole number of
/// batches from the start of the file. Returns the number of papers.
fn check_consistent(dir: &Path) -> usize {
    let jan = month(1);
    let lib = Library::open(dir, &model()).unwrap();
    let st = lib.stats();
    assert_eq!(
        st.index.points, st.papers,
        "graph points == vectors == papers"
    );
    assert_eq!(st.index.tombstones, 0);
    let n = lib.len();
    assert!(
        n.is_multiple_of(CRASH_BATCH) || n == CRASH_PAPERS,
        "{n} papers: not whole batches"
    );
    for (i, p) in jan.papers[..n].iter().enumerate() {
        assert_eq!(lib.vector(&p.id), Some(jan.vector(i)), "vector of {}", p.id);
    }
    assert!(lib.get(&jan.papers[n.min(CRASH_PAPERS - 1)].id).is_none() || n == CRASH_PAPERS);
    // The graph answers for the rows it holds. Not every row of it: the deliberately
    // weak graph (M=8, ef_construction=24, built in parallel, so not the same graph
    // twice) leaves ~1% of points unreachable from the entry point, so a row finding
    // itself is asserted for most rows rather than each (a lost or unloaded range of
    // rows fails this; the counts above catch missing points exactly).
    let sampled: Vec<usize> = (0..n).step_by(37).collect();
    let found = sampled
        .iter()
        .filter(|&&i| {
            lib.nearest_approx(jan.vector(i), 1, 64).unwrap()[0]
                .paper
                .id
                == jan.papers[i].id
        })
        .count();
    assert!(
        found * 100 >= sampled.len() * 95,
        "only {found} of {} sampled rows find themselves in the graph",
        sampled.len()
    );
    n
}

/// Start the child and wait until it holds the lock; it starts ingesting at `go`.
fn spawn_child(dir: &Path) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let test_name = format!(
        "{}::crash_child",
        module_path!().split_once("::").map_or("", |m| m.1)
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name.as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // libtest prints "test NAME ... " before the child's own "locked".
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "the child exited before taking the lock");
        if line.trim_end().ends_with("locked") {
            break;
        }
    }
    (child, out)
}

fn go(child: &mut std::process::Child) {
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"go\n").unwrap();
    stdin.flush().unwrap();
}

/// Kill -9 an ingesting child at random moments: each time the library opens, is
/// consistent, and has lost at most the batch in flight; a rerun completes it.
#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn kill9_during_ingest_loses_at_most_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    eprintln!("kill9 test seed {seed}");
    let mut last = 0;
    let mut killed_mid_ingest = 0;
    for round in 0..6 {
        let (mut child, _out) = spawn_child(dir.path());
        // The child holds the lock: this process may not write, but may read.
        let err = Writer::open(dir.path(), &model(), &crash_options()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        Library::open(dir.path(), &model()).unwrap();
        go(&mut child);
        // The whole ingest takes a few seconds; each round gets a random slice of it.
        let delay = Duration::from_millis(20 + next() % 400);
        let start = Instant::now();
        while start.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_ingest += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = check_consistent(dir.path());
        eprintln!(
            "round {round}: killed after {:?} with {n} papers committed",
            start.elapsed()
        );
        assert!(n >= last, "round {round}: {n} papers after {last}");
        last = n;
    }
    assert!(
        killed_mid_ingest > 0,
        "no kill landed during the ingest (seed {seed})"
    );
    let (mut child, mut out) = spawn_child(dir.path());
    go(&mut child);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        status.success() && rest.contains("done"),
        "the rerun failed: {rest}"
    );
    assert_eq!(check_consistent(dir.path()), CRASH_PAPERS);
    let st = Library::open(dir.path(), &model()).unwrap().stats();
    assert_eq!(
        st.index.dumped_points, CRASH_PAPERS,
        "finish dumps the whole graph"
    );
    // Nothing but the current files is left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // manifest, lock, papers, papers index, vectors, 3 index files (graph, data, links)
    assert_eq!(names.len(), 8, "{names:?}");
}

// ---- the stored format-version fixture --------------------------------------------

const FIXTURE_PAPERS: usize = 40;
const FIXTURE_ENV: &str = "PAPERSCOUT_WRITE_LIBRARY_FIXTURE";

/// A library written by format version 1 must keep opening and answering. Expected
/// answers come from the source data (papers and reference vectors), not from the
/// library.
#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn format_v1_fixture_still_opens_and_answers() {
    let dir = fixture_dir();
    let lib = Library::open(&dir, &model()).unwrap();
    let jan = month(1);
    assert_eq!(lib.len(), FIXTURE_PAPERS);
    let st = lib.stats();
    assert_eq!(
        (st.format_version, st.index.points, st.index.dumped_points),
        (1, 40, 40)
    );
    for (i, p) in jan.papers[..FIXTURE_PAPERS].iter().enumerate() {
        let stored = lib.get(&p.id).unwrap();
        assert_eq!(
            (&stored.title, &stored.abstract_text),
            (&p.title, &p.abstract_text)
        );
        assert_eq!(stored.listed, p.listed);
        assert_eq!(lib.vector(&p.id).unwrap(), jan.vector(i));
    }
    let base: Vec<(&str, &[f32])> = (0..FIXTURE_PAPERS)
        .map(|i| (jan.papers[i].id.as_str(), jan.vector(i)))
        .collect();
    let may = month(5);
    for q in [0, 100, 2000, 7000] {
        let want = brute_force(may.vector(q), &base, 5);
        assert_eq!(ids(&lib.nearest(may.vector(q), 5, None).unwrap()), want);
        assert_eq!(
            ids(&lib.nearest_approx(may.vector(q), 5, 64).unwrap()),
            want
        );
    }
}

/// Writes tests/fixtures/library-vN for the current format version N (never over the
/// version 1 fixture in tests/fixtures/library). Only on a deliberate format change:
/// run with `PAPERSCOUT_WRITE_LIBRARY_FIXTURE=1 cargo test -- --ignored
/// write_library_fixture`, and keep the old fixture as a test of the old version.
#[test]
#[ignore = "writes the stored fixture; see its doc comment"]
fn write_library_fixture() {
    if std::env::var_os(FIXTURE_ENV).is_none() {
        return;
    }
    let dir =
        fixture_dir().with_file_name(format!("library-v{}", paperscout::library::FORMAT_VERSION));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let jan = month(1);
    let mut w = Writer::open(&dir, &model(), &WriterOptions::default()).unwrap();
    let vectors: Vec<&[f32]> = (0..FIXTURE_PAPERS).map(|i| jan.vector(i)).collect();
    w.upsert(&jan.papers[..FIXTURE_PAPERS], &vectors).unwrap();
    w.finish().unwrap();
    std::fs::remove_file(dir.join(paperscout::library::LOCK_FILE)).unwrap();
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn npy_round_trips_real_vectors() {
    let jan = month(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jan.npy");
    let rows: Vec<&[f32]> = (0..100).map(|i| jan.vector(i)).collect();
    npy::write(&path, 384, &rows).unwrap();
    let m = npy::read(&path).unwrap();
    assert_eq!((m.rows, m.cols), (100, 384));
    assert_eq!(m.data[..], jan.vectors.data[..100 * 384]);
}
