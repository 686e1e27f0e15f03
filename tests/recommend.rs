//! Profiles and recommendations through the `paperscout` binary: on the project's
//! sample (320 real papers of four May 2026 days) stored with their real MiniLM vectors
//! (from the corpus, `common::corpus()`, so no model runs), and with the tiny test
//! model where a text must be embedded (interests, BibTeX entries outside the library).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, sample_library as real_library, sample_path, Tiny};

/// A loopback stand-in for the arXiv API that knows no paper: `like` of an id the
/// library does not hold asks it (never the real arXiv) and finds nothing.
fn empty_arxiv_api() -> &'static str {
    static BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let stub = crate::fetch::Stub::start(|_, _| {
            crate::fetch::ok(
                "application/atom+xml",
                "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>2026-05-30T00:00:00Z</updated></feed>\n",
            )
        });
        format!("{}/api/query", stub.base)
    })
}

fn paperscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env("PAPERSCOUT_ARXIV_API_URL", empty_arxiv_api())
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("RUST_LOG")
        .output()
        .expect("run paperscout")
}

fn ok(args: &[&str]) -> String {
    let out = paperscout(args);
    assert!(
        out.status.success(),
        "paperscout {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = paperscout(args);
    assert!(!out.status.success(), "paperscout {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

/// Sample ids (in file order) listed on `day` whose primary category is `cat`.
fn sample_ids(day: &str, cat: &str) -> Vec<String> {
    std::fs::read_to_string(sample_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["listing_date"] == day && v["categories"][0] == cat)
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// `recommend USER ARGS... --format json --no-record` on library `l`.
fn listing(l: &str, user: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["recommend", user];
    all.extend(args);
    all.extend(["--format", "json", "--no-record", "--library", l]);
    json(&all)
}

fn item_ids(v: &serde_json::Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn profile_actions_are_stored_with_times_and_bad_ids_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    real_library(&lib);
    let l = lib.to_str().unwrap();
    let it = sample_ids("2026-05-26", "cs.IT");

    // ids in any version, or URLs; the same paper twice is one like.
    let url = format!("https://arxiv.org/abs/{}v2", it[1]);
    let said = ok(&[
        "profile",
        "ada",
        "like",
        &it[0],
        &url,
        &format!("{}v1", it[1]),
        "--library",
        l,
    ]);
    assert!(said.contains("liked 2 new"), "{said}");

    // Unknown ids: an error listing every one, and nothing stored.
    let err = fails(&[
        "profile",
        "ada",
        "like",
        &it[2],
        "2605.99999",
        "hep-th/9901001",
        "--library",
        l,
    ]);
    assert!(
        err.contains("2605.99999") && err.contains("hep-th/9901001"),
        "{err}"
    );
    let show = json(&["profile", "ada", "show", "--format", "json", "--library", l]);
    let likes: Vec<&str> = show["likes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(likes, [it[0].as_str(), it[1].as_str()]);
    for m in show["likes"].as_array().unwrap() {
        let at = m["at"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert!(!m["title"].as_str().unwrap().is_empty());
    }

    // dislike moves a like; unlike forgets; an id the profile lacks is an error.
    ok(&["profile", "ada", "dislike", &it[1], "--library", l]);
    ok(&["profile", "ada", "unlike", &it[0], "--library", l]);
    let err = fails(&["profile", "ada", "unlike", &it[3], "--library", l]);
    assert!(err.contains(&it[3]), "{err}");
    let show = json(&["profile", "ada", "show", "--format", "json", "--library", l]);
    assert_eq!(show["likes"].as_array().unwrap().len(), 0);
    assert_eq!(show["dislikes"][0]["id"], it[1].as_str());
    let actions: Vec<&str> = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["like", "dislike", "unlike"]);

    // The file is a whole JSON document in the library, and no temporary is left.
    let names: Vec<String> = std::fs::read_dir(lib.join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"ada.json".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");

    // Bad user names and unknown users.
    let err = fails(&["profile", "../evil", "like", &it[0], "--library", l]);
    assert!(err.contains("user name"), "{err}");
    let err = fails(&["recommend", "nobody", "--library", l]);
    assert!(err.contains("no profile \"nobody\""), "{err}");
    // A profile with only a dislike has nothing to rank by.
    let err = fails(&["recommend", "ada", "--library", l]);
    assert!(err.contains("no liked papers"), "{err}");
    let table = ok(&["profile", "ada", "show", "--library", l]);
    assert!(
        table.contains("disliked (1)") && table.contains(&it[1]),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn recommend_ranks_the_day_for_the_profile_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    real_library(&lib);
    let l = lib.to_str().unwrap();
    // A user who liked information-theory papers on the first three days.
    let mut likes: Vec<String> = Vec::new();
    for day in ["2026-05-26", "2026-05-27", "2026-05-28"] {
        likes.extend(sample_ids(day, "cs.IT").into_iter().take(4));
    }
    let mut args = vec!["profile", "ada", "like"];
    args.extend(likes.iter().map(String::as_str));
    args.extend(["--library", l]);
    ok(&args);

    // Default day: the latest listing day (2026-05-29); nothing is recorded here.
    let v = listing(l, "ada", &["--top", "10"]);
    assert_eq!(v["user"], "ada");
    assert_eq!(v["date"], "2026-05-29");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    let mut previous = f64::INFINITY;
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["rank"], i + 1);
        assert_eq!(item["listed"], "2026-05-29");
        let score = item["score"].as_f64().unwrap();
        assert!(score <= previous, "scores descend");
        previous = score;
        let because = &item["because"];
        assert!(
            likes.iter().any(|l| because["id"] == l.as_str()),
            "{because}"
        );
        assert!(!because["title"].as_str().unwrap().is_empty());
        let sim = because["similarity"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&sim));
        assert!(item["url"]
            .as_str()
            .unwrap()
            .starts_with("https://arxiv.org/abs/"));
    }
    // The ranking follows the profile: 13 of the day's 80 papers are cs.IT (16%); a
    // profile of cs.IT likes puts mostly those on top.
    let it_on_top = items
        .iter()
        .filter(|i| {
            i["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "cs.IT")
        })
        .count();
    assert!(
        it_on_top >= 7,
        "only {it_on_top} of the top 10 are cs.IT: {v}"
    );

    // Exact scoring of every candidate: --top larger than the day lists the whole day.
    let all = listing(l, "ada", &["--top", "1000"]);
    assert_eq!(all["items"].as_array().unwrap().len(), 80);
    assert_eq!(item_ids(&all)[..10], item_ids(&v)[..]);

    // --categories, --min-score.
    let gr = listing(l, "ada", &["--categories", "CS.GR, cs.GT", "--top", "50"]);
    let gr_items = gr["items"].as_array().unwrap();
    assert!(!gr_items.is_empty());
    assert!(gr_items.iter().all(|i| i["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "cs.GR" || c == "cs.GT")));
    let cut = all["items"][4]["score"].as_f64().unwrap();
    let above = listing(l, "ada", &["--min-score", &format!("{cut}"), "--top", "50"]);
    assert!(above["items"].as_array().unwrap().len() >= 5);
    assert!(above["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["score"].as_f64().unwrap() >= cut - 1e-4));
    // Scores are calibrated relevances: a --min-score outside 0-1 is refused.
    let err = fails(&[
        "recommend",
        "ada",
        "--min-score",
        "1000",
        "--no-record",
        "--library",
        l,
    ]);
    assert!(err.contains("from 0 to 1"), "{err}");

    // Liked papers are left out unless --include-seen.
    let day28 = listing(l, "ada", &["--date", "2026-05-28", "--top", "80"]);
    assert!(item_ids(&day28).iter().all(|id| !likes.contains(id)));
    assert_eq!(item_ids(&day28).len(), 80 - 4);
    let seen = listing(
        l,
        "ada",
        &["--date", "2026-05-28", "--top", "80", "--include-seen"],
    );
    assert_eq!(item_ids(&seen).len(), 80);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn shown_papers_are_left_out_of_later_listings() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    real_library(&lib);
    let l = lib.to_str().unwrap();
    let likes = sample_ids("2026-05-26", "cs.CL");
    ok(&[
        "profile",
        "bo",
        "like",
        &likes[0],
        &likes[1],
        &likes[2],
        "--library",
        l,
    ]);

    // Listing a day records what was shown; listing the same day again is the same list.
    let first = json(&[
        "recommend",
        "bo",
        "--date",
        "2026-05-28",
        "--top",
        "5",
        "--format",
        "json",
        "--library",
        l,
    ]);
    let again = json(&[
        "recommend",
        "bo",
        "--date",
        "2026-05-28",
        "--top",
        "5",
        "--format",
        "json",
        "--library",
        l,
    ]);
    assert_eq!(item_ids(&first), item_ids(&again));
    let show = json(&["profile", "bo", "show", "--format", "json", "--library", l]);
    assert_eq!(show["shown"], 5);

    // A two-day listing ending the next day leaves them out, unless --include-seen.
    let later = listing(l, "bo", &["--since", "2", "--top", "160"]);
    assert_eq!(later["date"], "2026-05-29");
    assert_eq!(later["since"], "2026-05-28");
    let ids = item_ids(&later);
    assert_eq!(ids.len(), 160 - 5);
    assert!(item_ids(&first).iter().all(|id| !ids.contains(id)));
    let with_seen = listing(l, "bo", &["--since", "2", "--top", "160", "--include-seen"]);
    assert_eq!(item_ids(&with_seen).len(), 160);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn every_output_format_renders_the_same_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    real_library(&lib);
    let l = lib.to_str().unwrap();
    let likes = sample_ids("2026-05-27", "cs.CV");
    ok(&[
        "profile",
        "cy",
        "like",
        &likes[0],
        &likes[1],
        "--library",
        l,
    ]);
    let v = listing(l, "cy", &["--top", "7"]);
    let ids = item_ids(&v);

    let table = ok(&[
        "recommend",
        "cy",
        "--top",
        "7",
        "--no-record",
        "--library",
        l,
    ]);
    assert!(
        table.lines().all(|line| line.chars().count() <= 80),
        "{table}"
    );
    assert!(table.contains("because"), "{table}");
    for format in ["markdown", "html", "atom"] {
        let out = ok(&[
            "recommend",
            "cy",
            "--top",
            "7",
            "--format",
            format,
            "--no-record",
            "--library",
            l,
        ]);
        for id in &ids {
            assert!(out.contains(id.as_str()), "{format} lacks {id}");
        }
    }
    let atom = ok(&[
        "recommend",
        "cy",
        "--top",
        "7",
        "--format",
        "atom",
        "--no-record",
        "--library",
        l,
    ]);
    assert_eq!(paperscout::render::validate_atom(&atom), Ok(7), "{atom}");
    let html = ok(&[
        "recommend",
        "cy",
        "--top",
        "7",
        "--format",
        "html",
        "--no-record",
        "--library",
        l,
    ]);
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{html}"
    );

    // similar and search print the same formats; similar never lists the paper itself.
    let sim = json(&[
        "similar",
        &likes[0],
        "--top",
        "20",
        "--format",
        "json",
        "--library",
        l,
    ]);
    assert_eq!(sim["paper"], likes[0].as_str());
    assert!(!item_ids(&sim).contains(&likes[0]));
    let sim_atom = ok(&[
        "similar",
        &likes[0],
        "--top",
        "20",
        "--format",
        "atom",
        "--library",
        l,
    ]);
    assert_eq!(paperscout::render::validate_atom(&sim_atom), Ok(20));
    // The tf-idf vocabulary is cached per library commit; a damaged cache is refitted
    // and the answers stay the same.
    let cached: Vec<PathBuf> = std::fs::read_dir(lib.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    std::fs::write(&cached[0], "{ not json").unwrap();
    let refit = listing(l, "cy", &["--top", "7"]);
    assert_eq!(item_ids(&refit), ids);
    assert!(std::fs::read_to_string(&cached[0])
        .unwrap()
        .starts_with('{'));
    serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&cached[0]).unwrap())
        .unwrap();

    let err = fails(&["recommend", "cy", "--format", "pdf", "--library", l]);
    assert!(err.contains("pdf") && err.contains("atom"), "{err}");
}

#[test]
fn interests_and_bibtex_import_with_the_tiny_model() {
    let (tmp, model) = common::tiny_model(&Tiny::default());
    let lib = tmp.path().join("lib");
    let m = model.to_str().unwrap();
    let l = lib.to_str().unwrap();
    ok(&[
        "--model",
        m,
        "ingest",
        sample_path().to_str().unwrap(),
        "--library",
        l,
    ]);

    ok(&[
        "--model",
        m,
        "profile",
        "di",
        "interests",
        "graph neural networks",
        "  channel   coding ",
        "--library",
        l,
    ]);
    let show = json(&["profile", "di", "show", "--format", "json", "--library", l]);
    let texts: Vec<&str> = show["interests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["graph neural networks", "channel coding"]);
    // Interests alone rank a day; the reason names the interest (no id).
    let v = listing(l, "di", &["--top", "3"]);
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    for item in v["items"].as_array().unwrap() {
        assert!(item["because"]["id"].is_null());
        assert!(texts.contains(&item["because"]["title"].as_str().unwrap()));
    }
    ok(&[
        "profile",
        "di",
        "interests",
        "--remove",
        "channel coding",
        "--library",
        l,
    ]);
    let err = fails(&[
        "profile",
        "di",
        "interests",
        "--remove",
        "nope",
        "--library",
        l,
    ]);
    assert!(err.contains("no interest \"nope\""), "{err}");

    // BibTeX: entries found in the library are liked, ones with an abstract embedded,
    // the rest skipped and named.
    let bib = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profile/library.bib");
    let said = ok(&[
        "--model",
        m,
        "profile",
        "di",
        "import",
        bib.to_str().unwrap(),
        "--library",
        l,
    ]);
    let show = json(&["profile", "di", "show", "--format", "json", "--library", l]);
    let liked: Vec<&str> = show["likes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let external = show["external"].as_array().unwrap();
    let expected = bib_expectations();
    assert_eq!(liked.len(), expected.matched.len(), "{said}");
    for id in &expected.matched {
        assert!(liked.contains(&id.as_str()), "{id} not liked: {said}");
    }
    assert_eq!(external.len(), expected.embedded, "{said}");
    assert!(
        said.contains(&format!("{} skipped", expected.skipped.len())),
        "{said}"
    );
    for key in &expected.skipped {
        assert!(said.contains(key.as_str()), "{key} not reported: {said}");
    }
    // Importing again adds nothing new.
    let again = ok(&[
        "--model",
        m,
        "profile",
        "di",
        "import",
        bib.to_str().unwrap(),
        "--library",
        l,
    ]);
    assert!(again.contains("(0 new likes)"), "{again}");

    // A malformed .bib names the file and line, and changes nothing.
    let bad = tmp.path().join("bad.bib");
    std::fs::write(
        &bad,
        "@article{ok, title={Fine}}\n\n@article{broken,\n  title = {Never closed\n",
    )
    .unwrap();
    let err = fails(&[
        "--model",
        m,
        "profile",
        "di",
        "import",
        bad.to_str().unwrap(),
        "--library",
        l,
    ]);
    assert!(
        err.contains("bad.bib:4:") && err.contains("line 3"),
        "{err}"
    );
    let after = json(&["profile", "di", "show", "--format", "json", "--library", l]);
    assert_eq!(after["likes"], show["likes"]);
}

/// What importing tests/fixtures/profile/library.bib into the sample library must do
/// (the fixture's header comment says why for each entry).
struct BibExpectations {
    matched: Vec<String>,
    embedded: usize,
    skipped: Vec<String>,
}

fn bib_expectations() -> BibExpectations {
    BibExpectations {
        // By eprint with a version, by an arXiv URL alone, by a title written
        // differently, by an arXiv DOI.
        matched: ["2605.23926", "2605.27323", "2605.26428", "2605.28325"]
            .map(String::from)
            .to_vec(),
        // Attention Is All You Need, BERT: not in the sample, with an abstract.
        embedded: 2,
        // An arXiv id the sample lacks, and a book: no abstract.
        skipped: ["brown2020language", "goodfellow2016deep"]
            .map(String::from)
            .to_vec(),
    }
}
