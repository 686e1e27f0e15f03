//! Steering the feed (issue 15): followed authors and keyword rules through the
//! `paperscout` binary, on the project's sample (320 real papers of four May 2026 days,
//! stored with their real MiniLM vectors, so no model runs), `because.kind` in JSON, and
//! author-name matching on the real author lists of the corpus.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use paperscout::render::{render, Format};
use paperscout::steer::{same_person, text::fold};

use crate::common::{self, sample_library, sample_path};

/// The sample's papers by id: (primary category, listing day, title + abstract).
fn sample() -> HashMap<String, (String, String, String)> {
    std::fs::read_to_string(sample_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (
                s("id"),
                (
                    v["categories"][0].as_str().unwrap().to_string(),
                    s("listing_date"),
                    format!("{} {}", s("title"), s("summary")),
                ),
            )
        })
        .collect()
}

/// A user `user` of library `l` who likes four papers of `cat` from each of the
/// sample's first three days.
fn liker(l: &str, user: &str, cat: &str) {
    let papers = sample();
    let mut likes: Vec<&String> = Vec::new();
    for day in ["2026-05-26", "2026-05-27", "2026-05-28"] {
        let mut of_day: Vec<&String> = papers
            .iter()
            .filter(|(_, (c, d, _))| c == cat && d == day)
            .map(|(id, _)| id)
            .collect();
        of_day.sort();
        likes.extend(of_day.into_iter().take(4));
    }
    let mut args = vec!["profile", user, "like"];
    args.extend(likes.iter().map(|s| s.as_str()));
    args.extend(["--library", l]);
    common::cli_ok(&args);
}

/// The sample library, built once for these tests (each uses its own users, and
/// lists without recording).
fn shared_library() -> &'static str {
    static LIB: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    &LIB.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        sample_library(&lib);
        let l = lib.to_str().unwrap().to_string();
        (tmp, l)
    })
    .1
}

/// What `recommend USER --top N [--min-score S] --no-record` lists for the sample's
/// last day, made in-process through the same application call as the binary (to keep
/// the test quick), in JSON and in `also`.
fn listing_as(
    l: &str,
    user: &str,
    top: usize,
    min_score: Option<f32>,
    also: Format,
) -> (serde_json::Value, String) {
    let lib = paperscout::app::open_library(Path::new(l)).unwrap();
    let req = paperscout::app::query::RecommendRequest {
        user: user.into(),
        window: Default::default(),
        top,
        min_score,
        categories: Vec::new(),
        include_seen: false,
        record: false,
        collection: None,
    };
    let rec = paperscout::app::query::recommend(&lib, &req).unwrap();
    let json = serde_json::from_str(&render(&rec.listing, Format::Json)).unwrap();
    (json, render(&rec.listing, also))
}

fn listing(l: &str, user: &str, top: usize, min_score: Option<f32>) -> serde_json::Value {
    listing_as(l, user, top, min_score, Format::Json).0
}

fn items(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["items"].as_array().unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    items(v)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Whether `text` holds `word` as a whole word, case-insensitively (ASCII words only:
/// written independently of `steer`'s matching).
fn has_word(text: &str, word: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word)
}

fn assert_in_score_order(v: &serde_json::Value) {
    let scores: Vec<f64> = items(v)
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

// The two papers of 2026-05-29 by "É. O. Rodrigues" (cs.CV), far from a cs.IT profile.
const RODRIGUES: [&str; 2] = ["2605.29217", "2605.29221"];

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn a_followed_authors_papers_are_listed_with_kind_author_until_unfollowed() {
    let l = shared_library();
    liker(l, "ada", "cs.IT");

    let before = listing(l, "ada", 5, None);
    assert_eq!(items(&before).len(), 5);
    for id in RODRIGUES {
        assert!(!ids(&before).contains(&id.to_string()), "{before}");
    }
    for item in items(&before) {
        assert_eq!(item["because"]["kind"], "paper", "{item}");
    }

    // Followed by a full name; arXiv writes the author "É. O. Rodrigues".
    let said = common::cli_ok(&[
        "profile",
        "ada",
        "follow",
        "Édson Rodrigues",
        "--library",
        l,
    ]);
    assert!(said.contains("follows Édson Rodrigues"), "{said}");
    let shown = common::cli_ok(&["profile", "ada", "show", "--library", l]);
    assert!(
        shown.contains("following (1):") && shown.contains("Édson Rodrigues"),
        "{shown}"
    );

    let (after, md) = listing_as(l, "ada", 5, None, Format::Markdown);
    assert_in_score_order(&after);
    for item in items(&after) {
        let followed = RODRIGUES.contains(&item["id"].as_str().unwrap());
        let because = &item["because"];
        if followed {
            assert_eq!(because["kind"], "author", "{item}");
            assert_eq!(because["title"], "Édson Rodrigues");
            assert!(because["id"].is_null() && because["similarity"].is_null());
        } else {
            assert_eq!(because["kind"], "paper", "{item}");
        }
    }
    for id in RODRIGUES {
        assert!(ids(&after).contains(&id.to_string()), "{after}");
    }
    // Always listed: whatever --min-score says.
    // (Scores are calibrated, 0-1: the strictest --min-score is 1, which only a paper
    // at the cap passes.)
    let strict = listing(l, "ada", 5, Some(1.0));
    for id in RODRIGUES {
        assert!(ids(&strict).contains(&id.to_string()), "{strict}");
    }
    for item in items(&strict) {
        let followed = RODRIGUES.contains(&item["id"].as_str().unwrap());
        assert!(followed || item["score"].as_f64().unwrap() >= 1.0, "{item}");
    }
    // The reason reads "you follow NAME" in the text formats.
    assert_eq!(
        md.matches("*Because you follow Édson Rodrigues*").count(),
        2,
        "{md}"
    );
    let table = common::cli_ok(&[
        "recommend",
        "ada",
        "--top",
        "5",
        "--no-record",
        "--library",
        l,
    ]);
    assert_eq!(
        table.matches("because: you follow Édson Rodrigues").count(),
        2
    );

    // An excluded word wins over the follow.
    common::cli_ok(&[
        "profile",
        "ada",
        "keywords",
        "--exclude",
        "Thyroid",
        "--library",
        l,
    ]);
    let excluded = listing(l, "ada", 5, None);
    assert!(ids(&excluded).contains(&RODRIGUES[0].to_string()));
    assert!(
        !ids(&excluded).contains(&RODRIGUES[1].to_string()),
        "{excluded}"
    );
    common::cli_ok(&["profile", "ada", "keywords", "--clear", "--library", l]);

    // Unfollowed under another spelling of the name: gone again.
    let said = common::cli_ok(&[
        "profile",
        "ada",
        "unfollow",
        "Rodrigues, E.",
        "--library",
        l,
    ]);
    assert!(said.contains("follows nobody"), "{said}");
    let err = common::cli_fails(&["profile", "ada", "unfollow", "Ada Lovelace", "--library", l]);
    assert!(err.contains("does not follow \"Ada Lovelace\""), "{err}");
    assert_eq!(ids(&listing(l, "ada", 5, None)), ids(&before));
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn keyword_rules_exclude_and_require_on_title_and_abstract() {
    let l = shared_library();
    liker(l, "bo", "cs.CL");
    let papers = sample();
    let text = |id: &String| papers[id].2.clone();

    let before = listing(l, "bo", 20, None);
    let with_language = ids(&before)
        .iter()
        .filter(|id| has_word(&text(id), "language"))
        .count();
    assert!(with_language >= 3, "the test needs some: {before}");

    // Another case, an accent: the same word.
    let said = common::cli_ok(&[
        "profile",
        "bo",
        "keywords",
        "--exclude",
        "LANGUÂGE",
        "--library",
        l,
    ]);
    assert!(said.contains("exclude \"LANGUÂGE\""), "{said}");
    let (after, atom) = listing_as(l, "bo", 20, None, Format::Atom);
    assert_eq!(
        items(&after).len(),
        20,
        "the list is filled from further down"
    );
    for id in ids(&after) {
        assert!(!has_word(&text(&id), "language"), "{id} holds it");
    }
    // The rules apply to every format (the Atom feed here), and show in the profile.
    assert_eq!(atom.matches("<entry>").count(), 20);
    let shown: serde_json::Value = serde_json::from_str(&common::cli_ok(&[
        "profile",
        "bo",
        "show",
        "--format",
        "json",
        "--library",
        l,
    ]))
    .unwrap();
    assert_eq!(shown["keywords"]["exclude"][0]["text"], "LANGUÂGE");

    // Require: only papers holding one of the phrases (here a phrase with a prefix).
    common::cli_ok(&[
        "profile",
        "bo",
        "keywords",
        "--clear",
        "--require",
        "benchmark*",
        "--library",
        l,
    ]);
    let required = listing(l, "bo", 20, None);
    assert!(!items(&required).is_empty());
    let ok_text = |id: &String| {
        text(id)
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with("benchmark"))
    };
    for id in ids(&required) {
        assert!(ok_text(&id), "{id} lacks it");
    }
    let day_with = papers
        .iter()
        .filter(|(id, (_, d, _))| d == "2026-05-29" && ok_text(id))
        .count();
    assert_eq!(
        items(&required).len(),
        day_with.min(20),
        "every such paper of the day"
    );
    assert!(day_with < 80, "the test needs papers without it");

    // Listing, removing and refusing rules.
    let said = common::cli_ok(&["profile", "bo", "keywords", "--library", l]);
    assert!(said.contains("require \"benchmark*\""), "{said}");
    let err = common::cli_fails(&[
        "profile",
        "bo",
        "keywords",
        "--remove",
        "nothing",
        "--library",
        l,
    ]);
    assert!(err.contains("no keyword rule \"nothing\""), "{err}");
    let err = common::cli_fails(&[
        "profile",
        "bo",
        "keywords",
        "--exclude",
        " -- ",
        "--library",
        l,
    ]);
    assert!(err.contains("expected a word or phrase"), "{err}");
    common::cli_ok(&[
        "profile",
        "bo",
        "keywords",
        "--remove",
        "BENCHMARK*",
        "--library",
        l,
    ]);
    let said = common::cli_ok(&["profile", "bo", "keywords", "--library", l]);
    assert!(said.contains("keywords: none"), "{said}");
    assert_eq!(ids(&listing(l, "bo", 20, None)), ids(&before));
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn because_kind_names_an_interest() {
    let l = shared_library();
    // An interest whose vector is a cs.CV paper's own (no model needed), and no like.
    let papers = sample();
    let cv = papers
        .iter()
        .filter(|(_, (c, d, _))| c == "cs.CV" && d == "2026-05-28")
        .map(|(id, _)| id.clone())
        .min()
        .unwrap();
    let opened = paperscout::library::Library::open_any_model(l).unwrap();
    let vector = opened.vector(&cv).unwrap().to_vec();
    let store = paperscout::library::profiles::Profiles::new(l);
    let mut edit = store
        .edit("cy", paperscout::library::profiles::now())
        .unwrap();
    edit.profile.add_interest(
        "medical image segmentation",
        vector,
        paperscout::library::profiles::now(),
    );
    edit.save().unwrap();
    let v = listing(l, "cy", 3, None);
    for item in items(&v) {
        assert_eq!(item["because"]["kind"], "interest", "{item}");
        assert_eq!(item["because"]["title"], "medical image segmentation");
        assert!(item["because"]["id"].is_null());
    }
}

/// Ways arXiv and BibTeX write the same "First [Middle] Last" name.
fn spellings(name: &str) -> Vec<String> {
    let words: Vec<&str> = name.split_whitespace().collect();
    let (last, given) = words.split_last().unwrap();
    let initial: String = given[0].chars().take(1).collect();
    vec![
        format!("{last}, {}", given.join(" ")),
        format!("{initial}. {last}"),
        format!("{last}, {initial}."),
        format!("{}  {last}", given[0]),
        name.to_uppercase(),
        format!(" {} ", words.join("  ")),
    ]
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn author_names_match_on_the_corpus_author_lists() {
    // Every author of January 2026 with a plain "Given ... Surname" name.
    #[derive(serde::Deserialize)]
    struct Record {
        authors: Vec<String>,
    }
    let path = common::corpus().join("arxiv_cs_2026-01.jsonl");
    let mut names: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let record: Record = serde_json::from_str(line).unwrap();
        for a in &record.authors {
            let words: Vec<&str> = a.split_whitespace().collect();
            let plain = words.len() >= 2
                && words
                    .iter()
                    .all(|w| w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '.'))
                && words[0].chars().filter(|c| c.is_alphabetic()).count() >= 2
                && words
                    .last()
                    .is_some_and(|w| w.chars().count() >= 2 && !w.contains('.'));
            if plain {
                names.push(a.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    assert!(names.len() > 10_000, "{}", names.len());
    // Every 20th name, every way of writing it.
    for name in names.iter().step_by(20) {
        for s in spellings(name) {
            assert!(same_person(name, &s), "{name:?} vs {s:?}");
        }
    }
    // Same surname, other given names (not by spacing, hyphens or accents only) and
    // another first name: never the same person.
    let key = |w: &str| fold(w).replace(['-', '.'], "");
    let mut by_surname: HashMap<String, Vec<&String>> = HashMap::new();
    for n in &names {
        let last = n.split_whitespace().last().unwrap();
        by_surname.entry(key(last)).or_default().push(n);
    }
    let first = |n: &str| key(n.split_whitespace().next().unwrap());
    let given = |n: &str| {
        let words: Vec<&str> = n.split_whitespace().collect();
        key(&words[..words.len() - 1].concat())
    };
    let (mut pairs, mut same) = (0usize, 0usize);
    let mut surnames: Vec<&String> = by_surname.keys().collect();
    surnames.sort();
    for surname in surnames {
        let group = &by_surname[surname];
        for (i, a) in group.iter().enumerate().take(8) {
            for b in group.iter().skip(i + 1).take(8) {
                if first(a) != first(b) && given(a) != given(b) {
                    pairs += 1;
                    if same_person(a, b) {
                        same += 1;
                        eprintln!("false match: {a:?} vs {b:?}");
                    }
                }
            }
        }
    }
    assert!(pairs > 2_000, "{pairs}");
    assert_eq!(
        same, 0,
        "of {pairs} pairs with one surname and two first names"
    );
    // And the tricky hand-made ones.
    assert!(same_person("Li, X.", "Xiaoyu Li"));
    assert!(!same_person("J. Smith", "Jane Smyth"));
    assert!(!same_person("Li, X.", "Xiaoyu Lin"));
}
