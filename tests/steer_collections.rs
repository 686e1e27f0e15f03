//! Steering the feed (issue 15 part A) through the `paperscout` binary: collections
//! (likes of two unrelated fields in two collections, merged by calibrated score), the
//! per-user threshold and its empty-day message, and `history` naming what a recorded
//! `recommend` showed. On the project's sample (320 real papers of four May 2026 days)
//! with the reference MiniLM vectors, so no model runs.

use crate::common::{self, sample_library};

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&common::cli_ok(args)).unwrap()
}

/// `n` papers of `cat` from each of the first three days.
fn likes_of(cat: &str, n: usize) -> Vec<String> {
    ["2026-05-26", "2026-05-27", "2026-05-28"]
        .iter()
        .flat_map(|d| common::sample_ids(d, cat).into_iter().take(n))
        .collect()
}

fn like(l: &str, user: &str, ids: &[String], extra: &[&str]) {
    let mut args = vec!["profile", user, "like"];
    args.extend(ids.iter().map(String::as_str));
    args.extend(extra);
    args.extend(["--library", l]);
    common::cli_ok(&args);
}

pub(crate) fn items(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["items"].as_array().unwrap()
}

fn has_category(item: &serde_json::Value, cat: &str) -> bool {
    item["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == cat)
}

/// Scores within 0-1 and descending, ranks 1.., as the JSON schema says.
pub(crate) fn assert_calibrated_and_ordered(v: &serde_json::Value) {
    let mut previous = f64::INFINITY;
    for (i, item) in items(v).iter().enumerate() {
        assert_eq!(item["rank"], i + 1);
        let s = item["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s), "score {s} outside 0-1: {v}");
        assert!(s <= previous, "scores do not descend: {v}");
        previous = s;
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn collections_merge_by_calibrated_score_and_each_fits_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap();
    // Two unrelated fields: information theory and computer vision.
    let it = likes_of("cs.IT", 4);
    let cv = likes_of("cs.CV", 4);
    like(l, "ada", &it, &["--collection", "it"]);
    like(l, "ada", &cv, &["--collection", "vision"]);
    let show = json(&["profile", "ada", "show", "--format", "json", "--library", l]);
    assert_eq!(show["likes"].as_array().unwrap().len(), 0);
    assert_eq!(
        show["collections"]["it"]["likes"].as_array().unwrap().len(),
        it.len()
    );

    let base = ["--date", "2026-05-29", "--format", "json", "--no-record"];
    let recommend = |extra: &[&str]| {
        let mut args = vec!["recommend", "ada"];
        args.extend(base);
        args.extend(extra);
        args.extend(["--library", l]);
        json(&args)
    };
    // The whole feed: items of both collections, each naming its collection and a
    // reason from that collection's likes.
    let merged = recommend(&["--top", "20"]);
    assert_calibrated_and_ordered(&merged);
    assert_eq!(items(&merged).len(), 20);
    for item in items(&merged) {
        let because = item["because"]["id"].as_str().unwrap().to_string();
        match item["collection"].as_str() {
            Some("it") => assert!(it.contains(&because), "{item}"),
            Some("vision") => assert!(cv.contains(&because), "{item}"),
            other => panic!("item without its collection ({other:?}): {item}"),
        }
    }
    for c in ["it", "vision"] {
        assert!(
            items(&merged).iter().any(|i| i["collection"] == c),
            "no item of {c}: {merged}"
        );
    }

    // One collection: its model only, its field on top (13 of the day's 80 papers
    // are cs.IT, 21 cs.CV).
    for (c, cat) in [("it", "cs.IT"), ("vision", "cs.CV")] {
        let one = recommend(&["--top", "10", "--collection", c]);
        assert_calibrated_and_ordered(&one);
        assert!(items(&one).iter().all(|i| i["collection"] == c), "{one}");
        let fit = items(&one).iter().filter(|i| has_category(i, cat)).count();
        assert!(fit >= 7, "only {fit} of the top 10 of {c} are {cat}: {one}");
    }
    let err = common::cli_fails(&["recommend", "ada", "--collection", "nope", "--library", l]);
    assert!(
        err.contains("no collection \"nope\"") && err.contains("it, vision"),
        "{err}"
    );

    // A dislike outside any collection is a negative of every collection: the
    // disliked paper is no longer listed, whichever model ranked it.
    let top = items(&merged)[0]["id"].as_str().unwrap().to_string();
    common::cli_ok(&["profile", "ada", "dislike", &top, "--library", l]);
    let after = recommend(&["--top", "20"]);
    assert!(items(&after).iter().all(|i| i["id"] != top.as_str()));

    // The table names the collection on each reason line.
    let mut args = vec!["recommend", "ada", "--no-record", "--top", "5"];
    args.extend(["--library", l]);
    let table = common::cli_ok(&args);
    assert!(
        table.contains("[it] because: ") || table.contains("[vision] because: "),
        "{table}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn threshold_drops_papers_and_an_empty_day_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap();
    like(l, "bo", &likes_of("cs.IT", 4), &[]);
    let day = |d: &str, extra: &[&str]| {
        let mut args = vec!["recommend", "bo", "--date", d, "--no-record", "--top", "80"];
        args.extend(extra);
        args.extend(["--format", "json", "--library", l]);
        json(&args)
    };
    let all = day("2026-05-29", &[]);
    assert_calibrated_and_ordered(&all);
    let n_all = items(&all).len();
    assert!(all["threshold"].is_null() && all["note"].is_null());

    let said = common::cli_ok(&["profile", "bo", "threshold", "0.5", "--library", l]);
    assert!(said.contains("0.50"), "{said}");
    let above = day("2026-05-29", &[]);
    assert_eq!(above["threshold"].as_f64(), Some(0.5));
    let kept = items(&above);
    assert!(kept.len() < n_all, "the threshold dropped nothing");
    assert!(kept.iter().all(|i| i["score"].as_f64().unwrap() >= 0.5));
    // The same papers as the unfiltered list's head: a cut, not another ranking.
    let head: Vec<&serde_json::Value> = items(&all)
        .iter()
        .take_while(|i| i["score"].as_f64().unwrap() >= 0.5)
        .map(|i| &i["id"])
        .collect();
    let got: Vec<&serde_json::Value> = kept.iter().map(|i| &i["id"]).collect();
    assert_eq!(got, head);
    // --min-score overrides the threshold.
    let low = day("2026-05-29", &["--min-score", "0"]);
    assert_eq!(items(&low).len(), n_all);
    assert!(low["threshold"].is_null());

    // 2026-05-28 has no cs.IT paper: nothing reaches 0.99, and the day says so.
    common::cli_ok(&["profile", "bo", "threshold", "0.99", "--library", l]);
    let quiet = day("2026-05-28", &[]);
    assert!(items(&quiet).is_empty(), "{quiet}");
    let message = "no paper above your threshold 0.99 today";
    assert_eq!(quiet["note"], message);
    let out = common::cli(&[
        "recommend",
        "bo",
        "--date",
        "2026-05-28",
        "--no-record",
        "--library",
        l,
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(message));
    assert!(String::from_utf8_lossy(&out.stderr).contains(message));

    // Cleared: the top N again.
    common::cli_ok(&["profile", "bo", "threshold", "--clear", "--library", l]);
    assert!(!items(&day("2026-05-28", &[])).is_empty());
    let err = common::cli_fails(&["profile", "bo", "threshold", "1.5", "--library", l]);
    assert!(err.contains("from 0 to 1"), "{err}");
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn history_names_what_a_recorded_recommend_showed_with_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap();
    let likes = likes_of("cs.IT", 3);
    like(l, "cy", &likes, &["--collection", "it"]);
    let shown = json(&[
        "recommend",
        "cy",
        "--top",
        "5",
        "--format",
        "json",
        "--library",
        l,
    ]);
    let ids: Vec<&str> = items(&shown)
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);

    let h = json(&["history", "cy", "--format", "json", "--library", l]);
    assert_eq!(h["user"], "cy");
    let days = h["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{h}");
    assert_eq!(days[0]["day"], "2026-05-29");
    let papers = days[0]["papers"].as_array().unwrap();
    let listed: Vec<&str> = papers.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids, "history names what recommend showed, in order");
    assert!(papers.iter().all(|p| p["action"] == "none"));
    assert!(papers
        .iter()
        .all(|p| !p["title"].as_str().unwrap().is_empty()));

    // What the user did about them.
    common::cli_ok(&[
        "profile",
        "cy",
        "like",
        ids[0],
        "--collection",
        "it",
        "--library",
        l,
    ]);
    common::cli_ok(&["profile", "cy", "dislike", ids[1], "--library", l]);
    let h = json(&[
        "history",
        "cy",
        "--since",
        "1",
        "--format",
        "json",
        "--library",
        l,
    ]);
    let papers = h["days"][0]["papers"].as_array().unwrap();
    assert_eq!(papers[0]["action"], "liked");
    assert_eq!(papers[0]["collection"], "it");
    assert_eq!(papers[1]["action"], "disliked");
    assert!(papers[1]["collection"].is_null());
    assert_eq!(papers[2]["action"], "none");
    let table = common::cli_ok(&["history", "cy", "--library", l]);
    assert!(
        table.contains("2026-05-29: 5 shown, 1 liked, 1 disliked"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");

    // The export: the stored profile whole (vectors, collections, actions) and the
    // history by day.
    let e = json(&["profile", "cy", "export", "--library", l]);
    assert_eq!(e["format"], "paperscout-profile-export");
    assert_eq!(e["profile"]["user"], "cy");
    assert_eq!(
        e["profile"]["collections"]["it"]["likes"]
            .as_array()
            .unwrap()
            .len(),
        likes.len() + 1
    );
    assert_eq!(e["profile"]["shown"].as_array().unwrap().len(), 5);
    assert_eq!(e["history"][0]["papers"][1]["action"], "disliked");
    let actions: Vec<&str> = e["profile"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["like", "shown", "like", "dislike"]);
}

/// A day on which nothing reached the user's threshold: the digest and the feed say
/// so, nothing is mailed, and a later day's papers (with their collection) follow it in
/// the feed.
#[test]
fn a_quiet_day_is_said_in_the_digest_and_the_feed() {
    use chrono::{NaiveDate, TimeZone, Utc};
    use paperscout::delivery::{Deliverer, UserOutcome};
    use paperscout::render::{Item, Listing, Subject};

    let tmp = tempfile::tempdir().unwrap();
    let (lib, out) = (tmp.path().join("lib"), tmp.path().join("out"));
    std::fs::create_dir_all(&lib).unwrap();
    let d = Deliverer::new(&lib, &out, None).unwrap();
    let day = |n: u32| NaiveDate::from_ymd_opt(2026, 5, n).unwrap();
    let listing = |n: u32, items: Vec<Item>| Listing {
        subject: Subject::Recommend { user: "ada".into() },
        date: Some(day(n)),
        since: None,
        generated: Utc.with_ymd_and_hms(2026, 5, n, 6, 0, 0).unwrap(),
        quiet: if items.is_empty() {
            vec![day(n)]
        } else {
            Vec::new()
        },
        items,
        threshold: Some(0.7),
    };
    let outcome = d
        .deliver(
            "ada",
            Some("ada@example.org"),
            day(28),
            &listing(28, vec![]),
        )
        .unwrap();
    assert_eq!(outcome, UserOutcome::NoItems);
    let digest = std::fs::read_to_string(d.digest_path("ada", day(28))).unwrap();
    assert!(
        digest.contains("No paper above your threshold 0.70 today."),
        "{digest}"
    );

    let item = Item {
        rank: 1,
        id: "2605.00001".into(),
        title: "A paper".into(),
        score: 0.83,
        url: Some("https://arxiv.org/abs/2605.00001".into()),
        categories: vec!["cs.IT".into()],
        authors: vec!["Ada Lovelace".into()],
        abstract_text: "An abstract.".into(),
        listed: Some(day(29)),
        because: None,
        collection: Some("coding".into()),
    };
    d.deliver("ada", None, day(29), &listing(29, vec![item]))
        .unwrap();
    let feed = std::fs::read_to_string(d.feed_path("ada")).unwrap();
    paperscout::render::validate_atom(&feed).unwrap();
    assert!(
        feed.contains("2026-05-28: no paper above your threshold 0.70 today"),
        "{feed}"
    );
    assert!(feed.contains("term=\"coding\""), "{feed}");
}
