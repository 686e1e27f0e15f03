//! The merged feed of collections (issue 15): each collection's model also sees the
//! other collections' likes at a low weight (so the merge ranks as well as one model
//! over all likes), and a paper is listed under the collection of its nearest liked
//! paper, with that collection's calibrated score. On the project's sample (320 real
//! papers of four May 2026 days, reference MiniLM vectors, no model runs), a user puts
//! likes of information theory (cs.IT) and computer vision (cs.CV) in two collections:
//! vision papers must be listed under "vision" and information-theory papers under
//! "it", with reasons from that collection's likes, and both collections must show.

use paperscout::library::profiles::Profiles;
use paperscout::library::Library;
use paperscout::rank::{FeedMerge, MergeRule, RankConfig};
use paperscout::recommend::{self, RecommendOptions};

use crate::common::{self, sample_library};

const DAY: &str = "2026-05-29";

/// `n` papers of `cat` from each of the three days before [`DAY`].
fn likes_of(cat: &str, n: usize) -> Vec<String> {
    ["2026-05-26", "2026-05-27", "2026-05-28"]
        .iter()
        .flat_map(|d| common::sample_ids(d, cat).into_iter().take(n))
        .collect()
}

/// A sample library in `dir` where user `ada` liked 4 cs.IT papers a day into
/// collection "it" and 4 cs.CV papers a day into "vision": (library, it, vision).
fn two_collections(dir: &std::path::Path) -> (String, Vec<String>, Vec<String>) {
    let lib = dir.join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap().to_string();
    let it = likes_of("cs.IT", 4);
    let cv = likes_of("cs.CV", 4);
    for (ids, c) in [(&it, "it"), (&cv, "vision")] {
        let mut args = vec!["profile", "ada", "like"];
        args.extend(ids.iter().map(String::as_str));
        args.extend(["--collection", c, "--library", &l]);
        common::cli_ok(&args);
    }
    (l, it, cv)
}

fn primary(item: &serde_json::Value) -> &str {
    item["categories"][0].as_str().unwrap()
}

/// The collection a paper of primary category `cat` belongs with (`None`: neither).
fn owner(cat: &str) -> Option<&'static str> {
    match cat {
        "cs.IT" => Some("it"),
        "cs.CV" => Some("vision"),
        _ => None,
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn the_merged_feed_lists_each_paper_under_the_collection_it_belongs_with() {
    let tmp = tempfile::tempdir().unwrap();
    let (l, it, cv) = two_collections(tmp.path());
    // The whole day (80 papers: 13 cs.IT, 21 cs.CV), best first.
    let out = common::cli_ok(&[
        "recommend",
        "ada",
        "--date",
        DAY,
        "--top",
        "80",
        "--min-score",
        "0",
        "--format",
        "json",
        "--no-record",
        "--library",
        &l,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 80, "{v}");
    let mut previous = f64::INFINITY;
    let mut wrong = Vec::new();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["rank"], i + 1);
        let s = item["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s), "score {s} outside 0-1: {item}");
        assert!(
            s <= previous,
            "scores do not descend at rank {}: {v}",
            i + 1
        );
        previous = s;
        // The reason is a liked paper of the collection the item is listed under.
        let because = item["because"]["id"].as_str().unwrap().to_string();
        match item["collection"].as_str() {
            Some("it") => assert!(it.contains(&because), "{item}"),
            Some("vision") => assert!(cv.contains(&because), "{item}"),
            other => panic!("item without its collection ({other:?}): {item}"),
        }
        // In the top 20 (what the check lists), every paper of either field
        // under its own collection; over the whole day, no vision paper under "it"
        // (what the best-score merge of models that saw each other's likes at 0.25
        // did to the whole top 20). Two information-theory papers far down the day
        // (one on sensing human poses) are nearer a vision like: a nearest-like
        // merge may list those under "vision".
        if let Some(want) = owner(primary(item)) {
            if item["collection"] != want && (i < 20 || primary(item) == "cs.CV") {
                wrong.push(format!(
                    "rank {} {} ({}) under {}",
                    i + 1,
                    item["id"],
                    primary(item),
                    item["collection"]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "papers listed under another field's collection: {wrong:?}"
    );
    // The top 20 holds papers of both fields, each under its own collection.
    let top = &items[..20];
    for (cat, c) in [("cs.IT", "it"), ("cs.CV", "vision")] {
        let n = top
            .iter()
            .filter(|i| primary(i) == cat && i["collection"] == c)
            .count();
        assert!(n >= 3, "only {n} {cat} papers under {c} in the top 20: {v}");
    }
}

/// The sample study behind the README's choice of merge (run with `cargo test --test
/// integration merge_rules_on_the_sample -- --ignored --nocapture`): for each rule and
/// weight, the day's cs.IT and cs.CV papers listed under the other field's collection,
/// and how many of each field's papers the top 20 lists.
#[test]
#[ignore = "a study: prints, asserts nothing about the rules it compares"]
fn merge_rules_on_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let (l, _, _) = two_collections(tmp.path());
    let lib = Library::open_any_model(&l).unwrap();
    let profile = Profiles::new(&l).get("ada").unwrap();
    let tfidf = recommend::library_tfidf(&lib).unwrap();
    let rows = recommend::TextRows::new(&lib, tfidf.as_ref());
    let day = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let opts = RecommendOptions {
        from: day,
        to: day,
        top: 80,
        min_score: None,
        categories: Vec::new(),
        include_seen: true,
    };
    for rule in [MergeRule::BestScore, MergeRule::NearestLike] {
        for weak_cost in [0.0, 0.1, 0.25] {
            let merge = FeedMerge {
                weak_cost,
                rule,
                min_share: 0.0,
            };
            let models = recommend::train_feed_merged(
                &lib,
                &rows,
                &profile,
                &RankConfig::default(),
                None,
                merge,
            )
            .unwrap();
            let items =
                recommend::recommend_feed_merged(&lib, &rows, &profile, &models, &opts, merge)
                    .unwrap();
            let field = |i: &paperscout::render::Item| i.categories.first().cloned();
            let wrong: Vec<String> = items
                .iter()
                .filter(|i| {
                    let cat = field(i).unwrap_or_default();
                    owner(&cat).is_some_and(|c| i.collection.as_deref() != Some(c))
                })
                .map(|i| format!("{} {}", i.rank, field(i).unwrap_or_default()))
                .collect();
            let top = |cat: &str| {
                items[..20]
                    .iter()
                    .filter(|i| field(i).as_deref() == Some(cat))
                    .count()
            };
            let under = |c: &str| {
                items[..20]
                    .iter()
                    .filter(|i| i.collection.as_deref() == Some(c))
                    .count()
            };
            println!(
                "{rule:?} weight {weak_cost}: the day's cs.IT/cs.CV papers under the other collection (rank, field): {wrong:?}; top 20: {} cs.IT, {} cs.CV, {} under it, {} under vision",
                top("cs.IT"),
                top("cs.CV"),
                under("it"),
                under("vision")
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn a_collection_whose_scores_run_low_still_has_its_share_of_the_list() {
    let tmp = tempfile::tempdir().unwrap();
    let (l, _, _) = two_collections(tmp.path());
    let top = 10;
    let sure = paperscout::rank::min_each(top, 2, paperscout::rank::FEED_MERGE.min_share);
    assert_eq!(sure, 1, "a quarter of 10 places split between two");
    let list = |args: &[&str]| {
        let mut all = vec!["recommend", "ada", "--date", DAY, "--format", "json"];
        all.extend(args);
        all.extend(["--no-record", "--library", &l]);
        let v: serde_json::Value = serde_json::from_str(&common::cli_ok(&all)).unwrap();
        v["items"].as_array().unwrap().clone()
    };
    // The whole day by score, and the top 10 by score alone (the library's merge
    // with no share): on this day the vision model's calibrated scores run below the
    // information-theory model's, and score alone lists no vision paper in 10.
    let day = list(&["--top", "80"]);
    let lib = Library::open_any_model(&l).unwrap();
    let profile = Profiles::new(&l).get("ada").unwrap();
    let tfidf = recommend::library_tfidf(&lib).unwrap();
    let rows = recommend::TextRows::new(&lib, tfidf.as_ref());
    let by_score = FeedMerge {
        min_share: 0.0,
        ..paperscout::rank::FEED_MERGE
    };
    let models = recommend::train_feed_merged(
        &lib,
        &rows,
        &profile,
        &RankConfig::default(),
        None,
        by_score,
    )
    .unwrap();
    let opts = RecommendOptions {
        from: chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap(),
        to: chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap(),
        top,
        min_score: None,
        categories: Vec::new(),
        include_seen: false,
    };
    let alone =
        recommend::recommend_feed_merged(&lib, &rows, &profile, &models, &opts, by_score).unwrap();
    let vision_alone = alone
        .iter()
        .filter(|i| i.collection.as_deref() == Some("vision"))
        .count();
    assert!(
        vision_alone < sure,
        "the test needs a day where score alone lists fewer than {sure} vision papers: {vision_alone}"
    );

    // recommend: the vision collection's best `sure` papers of the day are in the 10,
    // the others are the day's best by score, and the list still descends by score.
    let listed = list(&["--top", "10"]);
    assert_eq!(listed.len(), top);
    let ids = |items: &[serde_json::Value]| -> Vec<String> {
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let under = |c: &str| -> Vec<serde_json::Value> {
        day.iter()
            .filter(|i| i["collection"] == c)
            .cloned()
            .collect()
    };
    let vision_best = ids(&under("vision")[..sure]);
    let it_best = ids(&under("it")[..top - sure]);
    let mut want: Vec<String> = vision_best.iter().chain(&it_best).cloned().collect();
    let mut got = ids(&listed);
    want.sort();
    got.sort();
    assert_eq!(got, want, "the day's best of each collection: {listed:?}");
    let scores: Vec<f64> = listed
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "scores do not descend: {scores:?}"
    );
    for (i, item) in listed.iter().enumerate() {
        assert_eq!(item["rank"], i + 1);
    }
}
