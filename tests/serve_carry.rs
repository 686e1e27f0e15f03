//! What a server keeps across a library commit: the papers' tf-idf rows of records the
//! commit left alone (`Library::same_record`, `TextRows::owned_from`), never those of
//! papers it rewrote. The expected rows are made here from the papers' text, not taken
//! from the cache.

use paperscout::library::{Library, Writer, WriterOptions};
use paperscout::paper::Paper;
use paperscout::rank::{self, Tfidf};
use paperscout::recommend::{self, TextRows};

use crate::hardening_library::model;
use crate::scale_lazy::add;

fn paper(i: usize) -> Paper {
    let mut p = Paper::new(format!("2603.{i:05}"), format!("Carried study {i}"));
    const WORDS: [&str; 12] = [
        "graphs",
        "proteins",
        "speech",
        "vision",
        "robots",
        "language",
        "markets",
        "quantum",
        "privacy",
        "compilers",
        "networks",
        "games",
    ];
    p.abstract_text = format!(
        "We study {} and {} through {}.",
        WORDS[i % 12],
        WORDS[(i / 12) % 12],
        WORDS[(i * 7 + 3) % 12]
    );
    p.authors = vec![format!("Author {}", i % 7)];
    p.categories = vec!["cs.LG".to_string()];
    p.listed = chrono::NaiveDate::from_ymd_opt(2026, 3, 1 + (i % 20) as u32);
    p
}

#[test]
fn rows_of_unchanged_papers_survive_a_commit_and_rewritten_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), &model(), &WriterOptions::default()).unwrap();
    add(&mut w, &(0..60).map(paper).collect::<Vec<_>>(), 0);
    w.finish().unwrap();
    let before = Library::open(dir.path(), &model()).unwrap();
    let texts: Vec<String> = (0..60).map(|i| rank::rank_text(&paper(i))).collect();
    let tfidf = Tfidf::fit(&texts, recommend::tfidf_config(texts.len())).unwrap();
    let old_rows = TextRows::owned(&before, Some(tfidf.clone()));
    for k in 0..before.len() {
        let p = before.paper_at(k).unwrap();
        old_rows.with(k, p, |_| ());
    }

    // A commit: new papers, one paper's metadata changed, one paper's text changed.
    let mut w = Writer::open(dir.path(), &model(), &WriterOptions::default()).unwrap();
    let mut batch: Vec<Paper> = (60..80).map(paper).collect();
    let mut renamed = paper(4);
    renamed.authors = vec!["Someone Else".into()];
    batch.push(renamed.clone());
    let mut rewritten = paper(9);
    rewritten.abstract_text = "Protein folding with diffusion models.".into();
    batch.push(rewritten.clone());
    add(&mut w, &batch, 1_000);
    w.finish().unwrap();
    let after = Library::open(dir.path(), &model()).unwrap();
    assert_eq!(after.len(), 80);

    let key = |id: &str| after.key_of(id).unwrap();
    let (k4, k9, k0, k30) = (
        key(&renamed.id),
        key(&rewritten.id),
        key("2603.00000"),
        key("2603.00030"),
    );
    for k in [k0, k30] {
        assert!(after.same_record(&before, k), "key {k} untouched");
    }
    for k in [k4, k9] {
        assert!(!after.same_record(&before, k), "key {k} was rewritten");
    }
    let new_key = key("2603.00070");
    assert!(!after.same_record(&before, new_key), "a new paper");

    let rows = TextRows::owned_from(&after, Some(tfidf.clone()), &before, &old_rows);
    assert!(
        rows.is_made(k0) && rows.is_made(k30),
        "unchanged rows carried"
    );
    assert!(!rows.is_made(k4) && !rows.is_made(k9) && !rows.is_made(new_key));
    // Every row, carried or made now, is the row of the paper as it is after the commit.
    for (id, p) in [
        ("2603.00000", paper(0)),
        ("2603.00004", renamed),
        ("2603.00009", rewritten),
    ] {
        let k = key(id);
        let stored = after.paper_at(k).unwrap();
        let want = tfidf.transform(&rank::rank_text(&p));
        rows.with(k, stored, |r| assert_eq!(r, &want, "row of {id}"));
    }
    // A library opened elsewhere is not the same library.
    let other = tempfile::tempdir().unwrap();
    let mut w = Writer::open(other.path(), &model(), &WriterOptions::default()).unwrap();
    add(&mut w, &(0..60).map(paper).collect::<Vec<_>>(), 0);
    w.finish().unwrap();
    let elsewhere = Library::open(other.path(), &model()).unwrap();
    assert!(!elsewhere.same_record(&before, k0));
}
