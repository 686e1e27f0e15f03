//! The index's own graph search (a flat copy of hnsw_rs's graph) on real MiniLM
//! vectors (the corpus, `$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`): recall against brute force computed
//! here, agreement with hnsw_rs's search over the same graph, after building, after
//! dump and reload, and after reload → append → dump → reload.

use paperscout::library::index::{Index, IndexParams};
use paperscout::library::npy;
use paperscout::library::vector::top_k_exact;

const DIM: usize = 384;
const K: usize = 10;

fn month(m: u32) -> npy::Matrix {
    let path = crate::common::corpus().join(format!("minilm-embeddings/arxiv_cs_2026-{m:02}.npy"));
    npy::read(&path).unwrap()
}

fn exact(q: &[f32], rows: &[f32]) -> Vec<usize> {
    top_k_exact(q, K, 0..rows.len() / DIM, |r| &rows[r * DIM..(r + 1) * DIM])
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

fn recall(got: &[Vec<usize>], want: &[Vec<usize>]) -> f64 {
    let hits: usize = got
        .iter()
        .zip(want)
        .map(|(g, w)| g.iter().filter(|r| w.contains(r)).count())
        .sum();
    hits as f64 / (want.len() * K) as f64
}

fn search_all(index: &Index, queries: &[&[f32]], ef: usize) -> Vec<Vec<usize>> {
    queries.iter().map(|q| index.search(q, K, ef)).collect()
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn flat_search_recall_and_answers_across_reloads() {
    const BASE: usize = 4000;
    const MORE: usize = 1500;
    const QUERIES: usize = 200;
    let (jan, feb, may) = (month(1), month(2), month(5));
    let rows: Vec<f32> = jan
        .data
        .iter()
        .chain(&feb.data)
        .copied()
        .take((BASE + MORE) * DIM)
        .collect();
    let queries: Vec<&[f32]> = (0..QUERIES).map(|i| may.row(i * 11)).collect();
    let params = IndexParams::default();

    let mut index = Index::new(params, BASE).unwrap();
    index.append(&rows[..BASE * DIM], DIM);
    let want: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| exact(q, &rows[..BASE * DIM]))
        .collect();
    let built = search_all(&index, &queries, 64);
    let r = recall(&built, &want);
    assert!(r >= 0.98, "recall@10 at ef=64 after build: {r}");
    // At a high ef both searches are all but exact: they agree with each other.
    let ours: Vec<Vec<usize>> = search_all(&index, &queries, 256);
    let theirs: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| index.search_hnsw_rs(q, K, 256))
        .collect();
    let agree = recall(&ours, &theirs);
    assert!(agree >= 0.99, "agreement with hnsw_rs at ef=256: {agree}");
    assert!(recall(&ours, &want) >= 0.995);

    // Dump and reload: the same graph, so the same answers.
    let dir = tempfile::tempdir().unwrap();
    let info = index.dump(dir.path(), "index-1").unwrap();
    let mut index = Index::load(dir.path(), &info, params, DIM).unwrap();
    assert_eq!(search_all(&index, &queries, 64), built);

    // Reload → append: the new rows are searched, recall holds over all rows.
    index.append(&rows[BASE * DIM..], DIM);
    assert_eq!(index.len(), BASE + MORE);
    let want: Vec<Vec<usize>> = queries.iter().map(|q| exact(q, &rows)).collect();
    let appended = search_all(&index, &queries, 64);
    let r = recall(&appended, &want);
    assert!(r >= 0.98, "recall@10 at ef=64 after reload and append: {r}");
    assert!(
        appended.iter().flatten().any(|&r| r >= BASE),
        "new rows are found"
    );
    for r in [BASE, BASE + 700, BASE + MORE - 1] {
        let found = index.search(&rows[r * DIM..(r + 1) * DIM], 1, 64);
        assert_eq!(found, vec![r], "row {r} finds itself");
    }

    // → dump → reload: the same answers again.
    let info = index.dump(dir.path(), "index-2").unwrap();
    let index = Index::load(dir.path(), &info, params, DIM).unwrap();
    assert_eq!(search_all(&index, &queries, 64), appended);

    // Filtered: only allowed rows come back, and they are the nearest allowed ones.
    let allowed = |r: usize| !r.is_multiple_of(3);
    let mut hits = 0;
    for q in &queries {
        let got = index.search_filter(q, K, 64, &allowed);
        assert!(got.iter().all(|&r| allowed(r)), "{got:?}");
        let want: Vec<usize> = top_k_exact(q, K, (0..BASE + MORE).filter(|&r| allowed(r)), |r| {
            &rows[r * DIM..(r + 1) * DIM]
        })
        .into_iter()
        .map(|(_, r)| r)
        .collect();
        hits += got.iter().filter(|r| want.contains(r)).count();
    }
    let r = hits as f64 / (QUERIES * K) as f64;
    assert!(r >= 0.98, "filtered recall@10 at ef=64: {r}");
}
