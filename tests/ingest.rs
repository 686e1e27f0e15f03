//! `paperscout::ingest` on real files: the corpus (`common::data`, `$PAPERSCOUT_DATA`)
//! and the API response fixtures kept in `tests/fixtures/api` (counts, field values,
//! detection), on malformed inputs written to a temporary directory (errors name the
//! file and the line), and under fuzzing (random and mutated inputs never panic).
//! Expected values were read off the files by hand or with Python, never computed
//! with the code under test.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use paperscout::ingest::{self, Format, Records};
use paperscout::paper::Paper;
use paperscout::Error;
use proptest::prelude::*;

use crate::common;

/// A real file: `api-response-fixtures/...` from the repository's copy
/// (`tests/fixtures/api`), anything else from the data directory (`common::data`).
fn data(rel: &str) -> PathBuf {
    match rel.strip_prefix("api-response-fixtures/") {
        Some(rest) => common::fixture(&format!("api/{rest}")),
        None => common::data(rel),
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ingest")
        .join(name)
}

fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Every record of a file that must read cleanly.
fn read_ok(path: &Path, format: Option<Format>) -> Vec<Paper> {
    let records = ingest::read(path, format).unwrap_or_else(|e| panic!("{e}"));
    records
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Papers and errors of a file, in order.
fn read_all(path: &Path, format: Option<Format>) -> (Vec<Paper>, Vec<Error>) {
    let mut papers = Vec::new();
    let mut errors = Vec::new();
    for r in ingest::read(path, format).unwrap_or_else(|e| panic!("{e}")) {
        match r {
            Ok(p) => papers.push(p),
            Err(e) => errors.push(e),
        }
    }
    (papers, errors)
}

fn find<'a>(papers: &'a [Paper], id: &str) -> &'a Paper {
    papers
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no paper {id}"))
}

/// The line and message of an input error about `path`; anything else fails the test.
fn input_error(e: &Error, path: &Path) -> (u64, String) {
    match e {
        Error::Input {
            path: p,
            line,
            message,
        } => {
            assert_eq!(p, path, "error names the wrong file: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("{}:{line}: ", path.display())),
                "{shown}"
            );
            (*line, message.clone())
        }
        other => panic!("expected an input error, got {other}"),
    }
}

// ---- the project's JSONL corpus -------------------------------------------------------

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn daily_corpus_january_reads_every_record() {
    let path = data("arxiv-daily-cs-2026h1/arxiv_cs_2026-01.jsonl");
    assert_eq!(ingest::detect(&path).unwrap(), Format::Jsonl);
    let papers = read_ok(&path, None);
    assert_eq!(papers.len(), 3233);

    let first = &papers[0];
    assert_eq!(first.id, "2512.23786");
    assert_eq!(
        first.title,
        "Leveraging Synthetic Priors for Monocular Depth Estimation in Specular Surgical Environments"
    );
    assert!(first
        .abstract_text
        .starts_with("Accurate Monocular Depth Estimation (MDE) is critical"));
    assert_eq!(first.authors, ["Ankan Aich", "Yangming Lee"]);
    assert_eq!(first.categories, ["cs.CV", "cs.RO"]);
    assert_eq!(first.listed, day(2026, 1, 1));
    assert_eq!(first.published, None);
    assert_eq!(
        first.url.as_deref(),
        Some("https://arxiv.org/abs/2512.23786")
    );
    assert_eq!(first.source, "jsonl");
    assert_eq!(first.announce_type, None);

    let last = papers.last().unwrap();
    assert_eq!(last.id, "2601.22130");
    assert_eq!(last.categories, ["cs.AI", "cs.SE"]);
    assert_eq!(last.authors.len(), 8);
    assert_eq!(last.listed, day(2026, 1, 30));

    // LaTeX and non-ASCII survive untouched.
    assert_eq!(
        find(&papers, "2512.24965").title,
        "ShowUI-$π$: Flow-based Generative Models as GUI Dexterous Hands"
    );
    assert_eq!(
        find(&papers, "2601.04005").title,
        "Padé Neurons for Efficient Neural Models"
    );
    assert_eq!(
        find(&papers, "2601.03847").abstract_text.chars().count(),
        2051
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn daily_corpus_every_month_reads_with_its_listing_days() {
    let months = [
        ("01", 3233, (1, 1), (1, 30)),
        ("02", 3969, (2, 2), (2, 27)),
        ("03", 6083, (3, 2), (3, 31)),
        ("04", 6417, (4, 1), (4, 30)),
        ("05", 7383, (5, 1), (5, 29)),
    ];
    for (month, count, (m0, d0), (m1, d1)) in months {
        let path = data(&format!(
            "arxiv-daily-cs-2026h1/arxiv_cs_2026-{month}.jsonl"
        ));
        let papers = read_ok(&path, None);
        assert_eq!(papers.len(), count, "{month}");
        let listed: Vec<NaiveDate> = papers.iter().map(|p| p.listed.unwrap()).collect();
        assert_eq!(listed.iter().min().copied(), day(2026, m0, d0), "{month}");
        assert_eq!(listed.iter().max().copied(), day(2026, m1, d1), "{month}");
        assert!(papers
            .iter()
            .all(|p| !p.categories.is_empty() && !p.abstract_text.is_empty()));
    }
}

// ---- Kaggle: the CSV sample and the JSON Lines shape -----------------------------------

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn kaggle_csv_sample_reads_all_2000_rows() {
    let path = data("arxiv-kaggle-metadata-sample-2000/arxiv_data.csv");
    assert_eq!(ingest::detect(&path).unwrap(), Format::Csv);
    let papers = read_ok(&path, None);
    assert_eq!(papers.len(), 2000);
    // The ids lost their zeros to a float: all come back as 0704.NNNN, all distinct.
    let mut ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 9 && id.starts_with("0704.")),
        "{ids:?}"
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2000);
    assert_eq!(papers.iter().filter(|p| p.doi.is_some()).count(), 1316);

    let p = find(&papers, "0704.0001");
    assert_eq!(
        p.title,
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    );
    assert_eq!(
        p.authors,
        ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    );
    assert_eq!(p.categories, ["hep-ph"]);
    assert_eq!(p.published, day(2007, 4, 2));
    assert_eq!(p.updated, day(2007, 7, 24));
    assert_eq!(p.listed, None);
    assert_eq!(p.doi.as_deref(), Some("10.1103/PhysRevD.76.013009"));
    assert!(p
        .abstract_text
        .starts_with("A fully differential calculation in perturbative"));
    assert!(p.abstract_text.contains("is\npresented")); // hard line breaks kept
    assert_eq!(p.source, "csv");

    assert_eq!(find(&papers, "0704.0002").categories, ["math.CO", "cs.CG"]);
    let p = find(&papers, "0704.0010"); // written "704.001"
    assert_eq!(
        p.title,
        "Partial cubes: structures, characterizations, and constructions"
    );
    assert_eq!(
        (p.published, p.updated),
        (day(2007, 3, 31), day(2007, 3, 31))
    );
    let p = find(&papers, "0704.2000"); // written "704.2"
    assert_eq!(p.authors, ["D0 Collaboration", "V. Abazov"]);
    assert_eq!(p.categories, ["hep-ex"]);
    // The affiliation in authors_parsed is not part of the name.
    assert_eq!(find(&papers, "0704.0066").authors, ["Bozhidar Z. Iliev"]);
    // Eight versions: v1 and v8.
    let p = find(&papers, "0704.0389");
    assert_eq!(
        (p.published, p.updated),
        (day(2007, 4, 3), day(2011, 7, 22))
    );
    // A suffix from authors_parsed.
    assert!(find(&papers, "0704.0305")
        .authors
        .contains(&"James M. Valles Jr".to_string()));
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn kaggle_snapshot_jsonl_fixture() {
    let path = fixture("kaggle_snapshot_sample.jsonl");
    assert_eq!(ingest::detect(&path).unwrap(), Format::KaggleJsonl);
    let papers = read_ok(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "0704.0001",
            "0704.0002",
            "0704.0010",
            "0704.0066",
            "0704.0128",
            "0704.0305",
            "0704.0389",
            "0704.2000"
        ]
    );
    let p = &papers[0];
    assert_eq!(
        p.authors,
        ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    );
    assert_eq!(
        (p.published, p.updated),
        (day(2007, 4, 2), day(2007, 7, 24))
    );
    assert_eq!(p.categories, ["hep-ph"]);
    assert_eq!(p.source, "kaggle");
    assert_eq!(papers[1].categories, ["math.CO", "cs.CG"]);
    assert_eq!(papers[6].updated, day(2011, 7, 22));

    // The CSV and JSON Lines readers agree on the same eight records.
    let csv = read_ok(
        &data("arxiv-kaggle-metadata-sample-2000/arxiv_data.csv"),
        None,
    );
    for p in &papers {
        let mut from_csv = find(&csv, &p.id).clone();
        from_csv.source = p.source.clone();
        assert_eq!(&from_csv, p, "{}", p.id);
    }
}

// ---- Hugging Face daily papers --------------------------------------------------------

#[test]
fn hf_daily_papers() {
    let path = data("api-response-fixtures/sotawhat/hf_daily_papers.json");
    assert_eq!(ingest::detect(&path).unwrap(), Format::HfDailyPapers);
    let papers = read_ok(&path, None);
    assert_eq!(papers.len(), 30);
    let p = &papers[0];
    assert_eq!(p.id, "2606.00467");
    assert_eq!(
        p.title,
        "On the Limits of LLM Adaptability: Impact of Model-Internalized Priors on Annotation Task Performance"
    );
    assert!(p
        .abstract_text
        .starts_with("Large Language Models (LLMs) are increasingly used"));
    assert_eq!(
        p.authors,
        ["Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez"]
    );
    assert_eq!(p.listed, day(2026, 6, 12)); // paper.submittedOnDailyAt
    assert_eq!(p.published, day(2026, 5, 30)); // paper.publishedAt
    assert!(p.categories.is_empty());
    assert_eq!(p.source, "hf-daily");
    let last = &papers[29];
    assert_eq!(last.id, "2606.13106");
    assert_eq!(last.published, day(2026, 6, 11));
    assert_eq!(last.authors.len(), 9);
    let authors: Vec<usize> = papers.iter().map(|p| p.authors.len()).collect();
    assert_eq!(
        authors,
        [
            3, 8, 10, 11, 3, 3, 4, 4, 4, 5, 10, 6, 4, 14, 4, 11, 5, 4, 1, 8, 10, 11, 7, 6, 9, 5, 8,
            14, 1, 9
        ]
    );
    assert!(papers.iter().all(|p| p.listed == day(2026, 6, 12)));
}

// ---- arXiv API (Atom) ----------------------------------------------------------------

#[test]
fn arxiv_api_atom_current_format() {
    let path = data("api-response-fixtures/sotawhat/arxiv_transformer.xml");
    assert_eq!(ingest::detect(&path).unwrap(), Format::ArxivAtom);
    let papers = read_ok(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "2606.13677",
            "2606.13591",
            "2606.13568",
            "2606.13515",
            "2606.13501"
        ]
    );
    let authors: Vec<usize> = papers.iter().map(|p| p.authors.len()).collect();
    assert_eq!(authors, [4, 2, 1, 7, 9]);

    let p = &papers[0];
    assert_eq!(p.title, "Mana: Dexterous Manipulation of Articulated Tools");
    assert_eq!(p.categories, ["cs.RO", "cs.AI", "cs.CV", "cs.LG"]);
    assert_eq!(p.authors[0], "Zhao-Heng Yin");
    assert_eq!(
        (p.published, p.updated),
        (day(2026, 6, 11), day(2026, 6, 11))
    );
    assert_eq!(p.listed, None);
    assert_eq!(p.url.as_deref(), Some("https://arxiv.org/abs/2606.13677v1"));
    assert!(p.abstract_text.contains("(<1 minute per tool)")); // &lt; decoded
    assert_eq!(p.source, "arxiv-atom");
    // The same categories the daily corpus's SOURCE.md quotes for this paper.
    assert_eq!(papers[1].categories, ["cs.AI", "cs.LG", "cs.MA"]);
    assert_eq!(papers[2].categories, ["cs.LG", "math-ph"]);
    assert!(papers[4].abstract_text.contains("approximately 60 $μ$s."));
    assert!(papers[4]
        .title
        .starts_with("GF-DiT: Scheduling Parallelism"));
}

#[test]
fn arxiv_api_atom_with_doi_and_journal_ref() {
    let path = data("api-response-fixtures/laya-reader/arxiv_3.xml");
    assert_eq!(ingest::detect(&path).unwrap(), Format::ArxivAtom);
    let papers = read_ok(&path, None);
    assert_eq!(papers.len(), 3);
    let p = &papers[0];
    assert_eq!(p.id, "2609.28471");
    assert_eq!(p.title, "Contrastive Learning for Authorship Verification");
    assert_eq!(p.doi.as_deref(), Some("10.1007/978-3-032-39150-6_7"));
    assert_eq!(p.authors, ["Peter Kirby"]);
    assert_eq!(p.categories, ["cs.CL", "cs.LG"]);
    assert_eq!(p.published, day(2026, 9, 23));
    let p = &papers[1];
    assert_eq!(p.id, "2609.28449");
    assert_eq!(p.categories, ["cs.SE", "cs.AI", "cs.CL"]);
    assert_eq!(p.authors.len(), 6);
    assert_eq!(p.doi, None);
    assert_eq!(papers[2].categories, ["cs.LG", "cs.AI", "cs.CL", "cs.SC"]);
}

// ---- arXiv listing feed (RSS 2.0) -----------------------------------------------------

#[test]
fn arxiv_rss_listing_strips_prefixes_and_keeps_announce_types() {
    let path = data("api-response-fixtures/laya-reader/arxiv_rss.xml");
    assert_eq!(ingest::detect(&path).unwrap(), Format::ArxivRss);
    let papers = read_ok(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["2609.26811", "2609.26820", "2205.06398", "2009.13987"]
    );
    let types: Vec<&str> = papers
        .iter()
        .filter_map(|p| p.announce_type.as_deref())
        .collect();
    assert_eq!(types, ["new", "new", "cross", "replace"]);
    let starts = [
        "Local learning trains each layer",
        "Physiological time series such as",
        "It has become routine in neuroscience",
        "We introduce a class of random polytopes",
    ];
    for (p, start) in papers.iter().zip(starts) {
        assert!(
            p.abstract_text.starts_with(start),
            "{}: {:?}",
            p.id,
            &p.abstract_text[..40]
        );
        assert!(!p.abstract_text.contains("Announce Type"));
        assert_eq!(p.listed, day(2026, 9, 24));
        assert_eq!(p.source, "arxiv-rss");
        assert_eq!((p.published, p.updated), (None, None));
    }
    assert_eq!(
        papers[0].title,
        "The Drift Contract: Spectral Updates for Depth-Robust Local Learning"
    );
    assert_eq!(papers[0].authors, ["Fabien Polly"]);
    assert_eq!(
        papers[0].url.as_deref(),
        Some("https://arxiv.org/abs/2609.26811")
    );
    assert_eq!(
        papers[1].authors,
        ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    );
    assert_eq!(papers[1].categories, ["cs.LG", "cs.AI"]);
    assert_eq!(papers[2].categories, ["stat.ME", "stat.AP", "stat.ML"]);
    assert_eq!(
        papers[2].doi.as_deref(),
        Some("10.1093/bioinformatics/btac431")
    );
    assert_eq!(
        papers[3].authors,
        ["Michael Joswig", "Marek Kaluba", "Lukas Ruff"]
    );
}

// ---- detection ------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn detects_every_real_file() {
    let cases = [
        (
            "arxiv-daily-cs-2026h1/arxiv_cs_2026-01.jsonl",
            Format::Jsonl,
        ),
        (
            "arxiv-daily-cs-2026h1/arxiv_cs_2026-05.jsonl",
            Format::Jsonl,
        ),
        (
            "arxiv-kaggle-metadata-sample-2000/arxiv_data.csv",
            Format::Csv,
        ),
        (
            "api-response-fixtures/sotawhat/hf_daily_papers.json",
            Format::HfDailyPapers,
        ),
        (
            "api-response-fixtures/sotawhat/arxiv_transformer.xml",
            Format::ArxivAtom,
        ),
        (
            "api-response-fixtures/laya-reader/arxiv_3.xml",
            Format::ArxivAtom,
        ),
        (
            "api-response-fixtures/laya-reader/arxiv_rss.xml",
            Format::ArxivRss,
        ),
    ];
    for (rel, want) in cases {
        assert_eq!(ingest::detect(&data(rel)).unwrap(), want, "{rel}");
    }
    assert_eq!(
        ingest::detect(&fixture("kaggle_snapshot_sample.jsonl")).unwrap(),
        Format::KaggleJsonl
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn refuses_other_files_naming_them() {
    let cases = [
        (
            "api-response-fixtures/sotawhat/pubmed_efetch.xml",
            "PubMed XML",
        ),
        (
            "api-response-fixtures/sotawhat/pubmed_esearch.json",
            "PubMed E-utilities",
        ),
        (
            "api-response-fixtures/sotawhat/semantic_scholar_transformer.json",
            "Semantic Scholar",
        ),
        (
            "arxiv-daily-cs-2026h1/minilm-embeddings/arxiv_cs_2026-01.ids.json",
            "not an object",
        ),
        (
            "arxiv-daily-cs-2026h1/minilm-embeddings/arxiv_cs_2026-01.npy",
            "not XML, JSON or CSV",
        ),
        (
            "arxiv-daily-cs-2026h1/SOURCE.md",
            "not XML or JSON, and the CSV header has no `id` and `title` column",
        ),
    ];
    for (rel, want) in cases {
        let path = data(rel);
        let err = ingest::detect(&path).unwrap_err();
        let (line, message) = input_error(&err, &path);
        assert_eq!(line, 1);
        assert!(message.contains(want), "{rel}: {message}");
        assert!(message.contains("pass --format"), "{message}");
        // read() without a format fails the same way.
        assert!(ingest::read(&path, None).is_err());
    }
}

#[test]
fn detection_ignores_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let rss = dir.path().join("feed.jsonl");
    fs::copy(
        data("api-response-fixtures/laya-reader/arxiv_rss.xml"),
        &rss,
    )
    .unwrap();
    assert_eq!(ingest::detect(&rss).unwrap(), Format::ArxivRss);
    let jsonl = dir.path().join("papers.xml");
    fs::write(&jsonl, "{\"id\": \"2601.00001\", \"title\": \"T\"}\n").unwrap();
    assert_eq!(ingest::detect(&jsonl).unwrap(), Format::Jsonl);
    let records = ingest::read(&jsonl, None).unwrap();
    assert_eq!(records.format(), Format::Jsonl);
    assert_eq!(records.path(), jsonl.as_path());
}

#[test]
fn a_forced_format_that_does_not_fit_is_an_error_not_a_panic() {
    let rss = data("api-response-fixtures/laya-reader/arxiv_rss.xml");
    let (papers, errors) = read_all(&rss, Some(Format::ArxivAtom));
    assert!(papers.is_empty());
    let (line, message) = input_error(&errors[0], &rss);
    // The <rss> root is on line 2, after the XML declaration.
    assert_eq!(
        (line, message.as_str()),
        (2, "expected an Atom <feed> document, found <rss>")
    );
    // An RSS file read as JSON Lines: every line is a bad record, none panics.
    let (papers, errors) = read_all(&rss, Some(Format::Jsonl));
    assert!(papers.is_empty());
    assert_eq!(errors.len(), 72);
    // A CSV header without a title column.
    let err = ingest::read(
        &data("api-response-fixtures/laya-reader/arxiv_rss.xml"),
        Some(Format::Csv),
    )
    .unwrap_err();
    assert!(input_error(&err, &rss)
        .1
        .contains("no `id` and `title` column"));
}

#[test]
fn records_can_cross_threads() {
    fn send<T: Send>() {}
    send::<Records>();
}

// ---- malformed input: errors name file and line, later records still come -------------

#[test]
fn jsonl_bad_lines_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let lines = [
        r#"{"id": "2601.00001", "title": "First", "summary": "A."}"#,
        "",
        r#"{"id": "2601.00002", "title": "Broken"#,
        "[1, 2]",
        r#"{"id": "2601.00003"}"#,
        r#"{"id": "2601.00004", "title": "Fourth", "summary": ""}"#,
        r#"{"id": "2601.00005", "title": "T", "authors": 5}"#,
        r#"{"id": "2601.00004", "title": "Fourth again"}"#,
        r#"{"id": "2601.00006", "title": "T", "listing_date": "someday"}"#,
    ];
    fs::write(&path, lines.join("\n")).unwrap();
    let (papers, errors) = read_all(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    // A duplicated id is yielded as it comes: the library dedups, not the reader.
    assert_eq!(ids, ["2601.00001", "2601.00004", "2601.00004"]);
    assert_eq!(papers[1].abstract_text, ""); // an empty abstract is fine
    let got: Vec<(u64, String)> = errors.iter().map(|e| input_error(e, &path)).collect();
    let lines_with_errors: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines_with_errors, [3, 4, 5, 7, 9]);
    assert!(
        got[0].1.starts_with("invalid JSON at column"),
        "{}",
        got[0].1
    );
    assert_eq!(got[1].1, "expected a JSON object, found a list");
    assert_eq!(got[2].1, "2601.00003: missing title");
    assert!(got[3].1.contains("field `authors`"), "{}", got[3].1);
    assert!(
        got[4].1.contains("field `listing_date`") && got[4].1.contains("`someday`"),
        "{}",
        got[4].1
    );

    // --strict: stop at the first error.
    let first_error = ingest::read(&path, None)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert_eq!(input_error(&first_error, &path).0, 3);
}

#[test]
fn jsonl_invalid_utf8_and_huge_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"id\": \"2601.00001\", \"title\": \"caf\xE9\"}\n");
    // A 5 MB abstract is fine.
    let abstract_text = "word ".repeat(1_000_000);
    bytes.extend_from_slice(
        format!(
            "{{\"id\": \"2601.00002\", \"title\": \"Big\", \"summary\": \"{abstract_text}\"}}\n"
        )
        .as_bytes(),
    );
    // A 17 MB line is over the cap: an error, and the next line still reads.
    bytes.extend_from_slice(b"{\"id\": \"2601.00003\", \"title\": \"");
    bytes.extend(std::iter::repeat_n(b'x', 17 << 20));
    bytes.extend_from_slice(b"\"}\n{\"id\": \"2601.00004\", \"title\": \"After\"}\n");
    fs::write(&path, bytes).unwrap();
    let (papers, errors) = read_all(&path, Some(Format::Jsonl));
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["2601.00002", "2601.00004"]);
    assert_eq!(papers[0].abstract_text.len(), abstract_text.trim().len());
    let got: Vec<(u64, String)> = errors.iter().map(|e| input_error(e, &path)).collect();
    assert_eq!(got[0].0, 1);
    assert!(got[0].1.contains("invalid JSON"), "{}", got[0].1);
    assert_eq!(
        got[1],
        (3, "record is longer than the 16 MiB limit".to_string())
    );
}

#[test]
fn kaggle_bad_versions_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    fs::write(
        &path,
        concat!(
            r#"{"id":"0704.0001","title":"T","categories":"hep-ph","versions":[{"version":"v1","created":"yesterday"}]}"#,
            "\n",
            r#"{"id":"hep-th/9901001","title":"Old style","categories":"hep-th","authors":"A and B","versions":[{"version":"v1","created":"Fri, 1 Jan 1999 00:00:00 GMT"}],"update_date":"2008-02-03"}"#,
            "\n"
        ),
    )
    .unwrap();
    assert_eq!(ingest::detect(&path).unwrap(), Format::KaggleJsonl);
    let (papers, errors) = read_all(&path, None);
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 1);
    assert_eq!(
        message,
        "field `versions`: `created` is not a date: `yesterday`"
    );
    assert_eq!(papers[0].id, "hep-th/9901001");
    assert_eq!(papers[0].authors, ["A", "B"]);
    assert_eq!(
        (papers[0].published, papers[0].updated),
        (day(1999, 1, 1), day(1999, 1, 1))
    );
}

#[test]
fn csv_bad_rows_name_their_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("papers.csv");
    let text = concat!(
        "Paper ID,Title,Summary,Authors,Categories,Published\n", // line 1
        "2601.00001,First,An abstract,A and B,cs.LG cs.AI,2026-01-05\n", // 2
        "2601.00002,Too few fields\n",                           // 3
        "2601.00003,Bad date,x,A,cs.LG,the fifth\n",             // 4
        "2601.00004,\"Multi\n  line\",\"para one\n\npara two\",\"C, D\",cs.CV,1/6/2026\n", // 5-8
        ",No id,x,A,cs.LG,\n",                                   // 9
        "2601.00005,Last,x,A,cs.LG,\n",                          // 10
    );
    fs::write(&path, text).unwrap();
    assert_eq!(ingest::detect(&path).unwrap(), Format::Csv);
    let (papers, errors) = read_all(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["2601.00001", "2601.00004", "2601.00005"]);
    assert_eq!(papers[0].categories, ["cs.LG", "cs.AI"]);
    assert_eq!(papers[0].authors, ["A", "B"]);
    assert_eq!(papers[0].published, day(2026, 1, 5));
    assert_eq!(papers[1].title, "Multi line");
    assert_eq!(papers[1].abstract_text, "para one\n\npara two");
    assert_eq!(papers[1].authors, ["C", "D"]);
    assert_eq!(papers[1].published, day(2026, 1, 6));
    let got: Vec<(u64, String)> = errors.iter().map(|e| input_error(e, &path)).collect();
    assert_eq!(
        got[0],
        (
            3,
            "expected 6 fields as named in the header, found 2".to_string()
        )
    );
    assert_eq!(got[1].0, 4);
    assert!(
        got[1].1.contains("field `Published`") && got[1].1.contains("`the fifth`"),
        "{}",
        got[1].1
    );
    assert_eq!(got[2], (9, "missing id".to_string()));
}

#[test]
fn csv_unclosed_quote_stops_with_an_error_instead_of_filling_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unclosed.csv");
    let mut text = String::from("id,title\n2601.00001,Good\n2601.00002,\"never closed\n");
    let filler = "more text, more text\n".repeat((17 << 20) / 21);
    text.push_str(&filler);
    fs::write(&path, text).unwrap();
    let (papers, errors) = read_all(&path, Some(Format::Csv));
    assert_eq!(papers.len(), 1);
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 3);
    assert!(message.contains("longer than 16 MiB"), "{message}");
    // Reading goes on at the next line: each filler line is a row (not a paper).
    assert_eq!(errors.len(), 1 + (17 << 20) / 21);
}

#[test]
fn rss_entry_errors_carry_entry_number_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(data("api-response-fixtures/laya-reader/arxiv_rss.xml")).unwrap();
    // Drop the second item's title.
    let title = "<title>Signal2Symbol: Neuro-Symbolic Temporal Reasoning for Explainable Physiological Time-Series Anomaly Detection</title>";
    assert!(text.contains(title));
    let broken = text.replacen(title, "", 1);
    let second_item_line = broken
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("<item>"))
        .nth(1)
        .map(|(i, _)| i + 1)
        .unwrap();
    let path = dir.path().join("feed.xml");
    fs::write(&path, &broken).unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 3);
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, second_item_line as u64);
    assert_eq!(message, "entry 2: 2609.26820: missing title");
}

#[test]
fn truncated_xml_keeps_the_entries_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        fs::read_to_string(data("api-response-fixtures/sotawhat/arxiv_transformer.xml")).unwrap();
    // Cut inside the third entry.
    let third = text.match_indices("<entry>").nth(2).unwrap().0;
    let path = dir.path().join("cut.xml");
    fs::write(&path, &text[..third + 40]).unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 2);
    assert_eq!(errors.len(), 1);
    let (line, message) = input_error(&errors[0], &path);
    // The line of the element left open by the cut (the error used to give the count
    // of entries + 1 as its line).
    let cut_line = text[..third + 40].lines().count() as u64;
    assert_eq!(line, cut_line, "{message}");
    assert!(message.starts_with("not well-formed XML"), "{message}");
}

#[test]
fn xml_huge_field_with_entities_reads_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.xml");
    let words = "a &amp; b &#233; ".repeat(500_000); // 8.5 MB of text, 1 M references
    fs::write(
        &path,
        format!(
            "<rss><channel><item><guid>oai:arXiv.org:2609.00001v1</guid><title>T</title><description>arXiv:2609.00001v1 Announce Type: new Abstract: {words}</description></item></channel></rss>"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let papers = read_ok(&path, None);
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(papers.len(), 1);
    assert_eq!(papers[0].abstract_text, "a & b é ".repeat(500_000).trim());
}

#[test]
fn hf_bad_entries_are_numbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daily.json");
    fs::write(
        &path,
        r#"[{"paper": {"id": "2606.00001", "title": "Good"}}, {"title": "no paper"}, {"paper": {"id": "2606.00002", "title": "Good too", "publishedAt": 5}}]"#,
    )
    .unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 1);
    let got: Vec<(u64, String)> = errors.iter().map(|e| input_error(e, &path)).collect();
    assert_eq!(
        got[0],
        (2, "entry 2: missing the `paper` object".to_string())
    );
    assert_eq!(
        got[1],
        (
            3,
            "entry 3: field `paper.publishedAt`: expected a string".to_string()
        )
    );
}

#[test]
fn xml_that_is_not_utf8_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.xml");
    fs::write(
        &path,
        b"<feed>\n<entry><title>caf\xE9</title></entry></feed>",
    )
    .unwrap();
    let err = ingest::read(&path, None).unwrap_err();
    let (_, message) = input_error(&err, &path);
    // `<feed>\n` is 7 bytes, `<entry><title>caf` 17 more: the bad byte is at offset 24.
    assert_eq!(message, "not valid UTF-8 (line 2, byte 24)");
}

#[test]
fn empty_missing_and_directory_paths() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, "\n  \n").unwrap();
    assert_eq!(ingest::read(&empty, None).unwrap().count(), 0);
    let err = ingest::detect(&empty).unwrap_err();
    assert!(input_error(&err, &empty).1.contains("the file is empty"));

    let missing = dir.path().join("missing.jsonl");
    match ingest::read(&missing, None).unwrap_err() {
        Error::Io { path, .. } => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other}"),
    }
    match ingest::read(dir.path(), Some(Format::Jsonl)) {
        Err(Error::Io { path, .. }) => assert_eq!(path, dir.path()),
        Ok(mut records) => match records.next() {
            Some(Err(Error::Io { path, .. })) => assert_eq!(path, dir.path()),
            other => panic!("expected an I/O error, got {other:?}"),
        },
        Err(other) => panic!("expected an I/O error, got {other}"),
    }
}

// ---- fuzzing ----------------------------------------------------------------------------

/// Read `bytes` as `format` and drain the iterator: it must end, never panic, and every
/// error must name the file.
fn drain(dir: &Path, bytes: &[u8], format: Option<Format>) {
    let path = dir.join("fuzz.input");
    fs::write(&path, bytes).unwrap();
    let _ = ingest::detect(&path).map_err(|e| input_error(&e, &path));
    let records = match ingest::read(&path, format) {
        Ok(r) => r,
        Err(e) => {
            input_error(&e, &path);
            return;
        }
    };
    let mut n = 0usize;
    for r in records {
        if let Err(e) = r {
            input_error(&e, &path);
        }
        n += 1;
        assert!(
            n <= bytes.len() + 1,
            "more records than bytes: the reader does not advance"
        );
    }
}

fn any_format() -> impl Strategy<Value = Option<Format>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(Format::ALL.to_vec()).prop_map(Some)
    ]
}

/// The start of each real file (its first lines, at most 12 kB), to mutate.
fn real_samples() -> &'static [Vec<u8>] {
    static SAMPLES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(|| {
        let head = |path: PathBuf, lines: usize| -> Vec<u8> {
            use std::io::BufRead;
            let file = std::io::BufReader::new(fs::File::open(path).unwrap());
            let mut out = Vec::new();
            for line in file.split(b'\n').take(lines) {
                out.extend(line.unwrap());
                out.push(b'\n');
            }
            out.truncate(12_000);
            out
        };
        vec![
            head(data("arxiv-daily-cs-2026h1/arxiv_cs_2026-01.jsonl"), 3),
            head(fixture("kaggle_snapshot_sample.jsonl"), 2),
            head(data("arxiv-kaggle-metadata-sample-2000/arxiv_data.csv"), 40),
            head(data("api-response-fixtures/laya-reader/arxiv_rss.xml"), 72),
            head(data("api-response-fixtures/laya-reader/arxiv_3.xml"), 200),
            head(
                data("api-response-fixtures/sotawhat/hf_daily_papers.json"),
                1,
            ),
        ]
    })
}

/// One edit of a byte string: overwrite, insert, delete a range, or cut the end.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = proptest::sample::select(b"<>&;\"'{}[],:\n\r\\/ \x00\xff\xc3".to_vec());
    prop_oneof![
        (any::<usize>(), prop_oneof![special.clone(), any::<u8>()])
            .prop_map(|(i, b)| Edit::Set(i, b)),
        (
            any::<usize>(),
            proptest::collection::vec(prop_oneof![special, any::<u8>()], 1..8)
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Set(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] = *b;
                }
            }
            Edit::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Edit::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Regressions become named tests here, not files next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that tends to break parsers: dates, ids, literals, markup, quotes, non-ASCII.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "",
            " ",
            "2026-01-31",
            "Mon, 2 Apr 2007 19:18:42 GMT",
            "12/13/2008",
            "2026-02-30",
            "704.001",
            "0704.0001v2",
            "hep-th/9901001",
            "arXiv:2609.26811v1 Announce Type: new \nAbstract: x",
            "[['Last', 'First', '']]",
            "[{'version': 'v1', 'created': 'Mon, 2 Apr 2007 19:18:42 GMT'}]",
            "A, B and C",
            "cs.LG cs.AI",
            "$\\alpha$ é ü 中文",
            "\"",
            "'",
            "\\",
            "<b>&amp;</b>",
            "\r\n",
        ])
        .prop_map(str::to_string),
        "\\PC{0,40}",
    ]
}

/// A JSON value of the kinds a record's fields take, built from `nasty_text`.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec!["name", "version", "created"]),
                    inner
                ),
                0..3
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// A JSON object with the field names the readers look at, and random values.
fn json_record() -> impl Strategy<Value = serde_json::Value> {
    let keys = proptest::sample::select(vec![
        "id",
        "title",
        "summary",
        "abstract",
        "authors",
        "authors_parsed",
        "categories",
        "primary_category",
        "listing_date",
        "listed",
        "published",
        "updated",
        "update_date",
        "versions",
        "abs",
        "url",
        "pdf",
        "doi",
        "announce_type",
        "paper",
    ]);
    proptest::collection::vec((keys, json_value()), 0..10).prop_map(|kv| {
        serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    })
}

proptest! {
    #![proptest_config(fuzz_config(300))]

    /// Every non-blank line of a JSON Lines file yields exactly one item, in order.
    #[test]
    fn fuzz_json_lines_one_item_per_line(
        records in proptest::collection::vec(json_record(), 1..8),
        kaggle in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        fs::write(&path, text.join("\n")).unwrap();
        let format = if kaggle { Format::KaggleJsonl } else { Format::Jsonl };
        let items: Vec<_> = ingest::read(&path, Some(format)).unwrap().collect();
        prop_assert_eq!(items.len(), records.len());
        for (n, item) in items.iter().enumerate() {
            if let Err(e) = item {
                prop_assert_eq!(input_error(e, &path).0, n as u64 + 1);
            }
        }
    }

    /// Every CSV row yields exactly one item, whatever its cells hold (quotes, line
    /// breaks, literals), and a row's cells come back trimmed.
    #[test]
    fn fuzz_csv_one_item_per_row(
        rows in proptest::collection::vec(proptest::collection::vec(nasty_text(), 6), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let mut w = csv::Writer::from_path(&path).unwrap();
        w.write_record(["id", "title", "abstract", "authors_parsed", "versions", "update_date"]).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let id = format!("2601.{:05}", i + 1);
            w.write_record([id.as_str(), &row[1], &row[2], &row[3], &row[4], &row[5]]).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let items: Vec<_> = ingest::read(&path, Some(Format::Csv)).unwrap().collect();
        prop_assert_eq!(items.len(), rows.len());
        for (i, (item, row)) in items.iter().zip(&rows).enumerate() {
            match item {
                Ok(p) => {
                    prop_assert_eq!(&p.id, &format!("2601.{:05}", i + 1));
                    prop_assert_eq!(&p.abstract_text, row[2].trim());
                }
                Err(e) => {
                    input_error(e, &path);
                }
            }
        }
    }

    /// Every RSS item yields exactly one item; escaped text comes back as written.
    #[test]
    fn fuzz_rss_one_item_per_entry(
        items in proptest::collection::vec((nasty_text(), nasty_text(), nasty_text()), 1..6),
    ) {
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
        }
        let mut doc = String::from("<rss version=\"2.0\"><channel><pubDate>Thu, 24 Sep 2026 00:00:00 -0400</pubDate>");
        for (i, (title, creator, description)) in items.iter().enumerate() {
            doc.push_str(&format!(
                "<item><title>{}</title><guid>oai:arXiv.org:2609.{:05}v1</guid><dc:creator>{}</dc:creator><description>{}</description></item>",
                esc(title), i + 1, esc(creator), esc(description)
            ));
        }
        doc.push_str("</channel></rss>");
        // Text that XML cannot carry (control characters) is fine to fail, not to panic.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.xml");
        fs::write(&path, &doc).unwrap();
        let out: Vec<_> = ingest::read(&path, None).unwrap().collect();
        prop_assert_eq!(out.len(), items.len());
        for (i, (item, (title, _, _))) in out.iter().zip(&items).enumerate() {
            match item {
                Ok(p) => {
                    prop_assert_eq!(&p.id, &format!("2609.{:05}", i + 1));
                    prop_assert_eq!(p.title.clone(), title.split_whitespace().collect::<Vec<_>>().join(" "));
                    prop_assert_eq!(p.listed, day(2026, 9, 24));
                }
                Err(e) => {
                    // The line is a line of the document; the message names the entry.
                    let (line, message) = input_error(e, &path);
                    prop_assert!(line >= 1 && line as usize <= doc.lines().count());
                    let entry = format!("entry {}: ", i + 1);
                    prop_assert!(message.starts_with(&entry), "{}", message);
                }
            }
        }
    }

    #[test]
    fn fuzz_random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        format in any_format(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        drain(dir.path(), &bytes, format);
    }

    #[test]
    #[cfg_attr(not(paperscout_corpus), ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)")]
    fn fuzz_mutated_real_records_never_panic(
        sample in 0usize..6,
        edits in proptest::collection::vec(edit(), 1..6),
        format in any_format(),
    ) {
        let samples = real_samples();
        let bytes = apply(samples[sample].clone(), &edits);
        let dir = tempfile::tempdir().unwrap();
        drain(dir.path(), &bytes, format);
    }
}
