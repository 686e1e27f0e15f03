//! Issue 15's last gaps through the `paperscout` binary, on the project's sample (320
//! real papers of four May 2026 days with their reference MiniLM vectors, so no model
//! runs): a profile that only follows an author is ranked (the author's papers of the
//! day listed with `because.kind` `"author"`, the rest by a model of the author's
//! earlier papers), and the merged feed of two collections has calibrated scores
//! within 0-1, in order, from both collections.

use crate::common::{self, sample_library};
use crate::steer_collections::{assert_calibrated_and_ordered, items};

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&common::cli_ok(args)).unwrap()
}

fn primary(item: &serde_json::Value) -> &str {
    item["categories"][0].as_str().unwrap()
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn a_profile_that_only_follows_an_author_is_ranked() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap();
    // Arumugam Nallanathan has cs.IT papers on the 26th, 27th and 29th.
    common::cli_ok(&[
        "profile",
        "fay",
        "follow",
        "Arumugam Nallanathan",
        "--library",
        l,
    ]);
    let args = [
        "recommend",
        "fay",
        "--date",
        "2026-05-29",
        "--top",
        "10",
        "--format",
        "json",
        "--no-record",
        "--library",
        l,
    ];
    let v = json(&args);
    assert_calibrated_and_ordered(&v);
    assert_eq!(items(&v).len(), 10, "{v}");
    let followed: Vec<&serde_json::Value> = items(&v)
        .iter()
        .filter(|i| i["id"] == "2605.29627")
        .collect();
    assert_eq!(
        followed.len(),
        1,
        "the author's paper of the day is listed: {v}"
    );
    assert_eq!(followed[0]["because"]["kind"], "author", "{v}");
    assert_eq!(followed[0]["because"]["title"], "Arumugam Nallanathan");
    // The rest is ranked by the author's earlier (cs.IT) papers: 13 of the day's 80
    // papers are cs.IT, so a list unrelated to the author would hold one or two.
    let others: Vec<&serde_json::Value> = items(&v)
        .iter()
        .filter(|i| i["id"] != "2605.29627")
        .collect();
    let it = others.iter().filter(|i| primary(i) == "cs.IT").count();
    assert!(it >= 5, "only {it} of 9 other papers are cs.IT: {v}");
    for item in &others {
        assert_eq!(item["because"]["kind"], "paper", "{item}");
    }

    // Following someone with no paper in the library: a clear refusal, not a panic.
    common::cli_ok(&[
        "profile",
        "gus",
        "follow",
        "Nobody Q. Nowhere",
        "--library",
        l,
    ]);
    let err = common::cli_fails(&["recommend", "gus", "--no-record", "--library", l]);
    assert!(
        err.contains("follows Nobody Q. Nowhere") && err.contains("nothing to rank by"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn the_merged_feed_of_two_collections_is_calibrated_ordered_and_mixed() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let l = lib.to_str().unwrap();
    for (c, cat) in [("it", "cs.IT"), ("graphics", "cs.GR")] {
        let ids: Vec<String> = ["2026-05-26", "2026-05-27", "2026-05-28"]
            .iter()
            .flat_map(|d| common::sample_ids(d, cat).into_iter().take(3))
            .collect();
        let mut args = vec!["profile", "hal", "like"];
        args.extend(ids.iter().map(String::as_str));
        args.extend(["--collection", c, "--library", l]);
        common::cli_ok(&args);
    }
    let v = json(&[
        "recommend",
        "hal",
        "--date",
        "2026-05-29",
        "--top",
        "20",
        "--format",
        "json",
        "--no-record",
        "--library",
        l,
    ]);
    assert_calibrated_and_ordered(&v);
    assert_eq!(items(&v).len(), 20);
    for (c, cat) in [("it", "cs.IT"), ("graphics", "cs.GR")] {
        let of_c: Vec<&serde_json::Value> =
            items(&v).iter().filter(|i| i["collection"] == c).collect();
        assert!(!of_c.is_empty(), "no item of {c}: {v}");
        // Scores are calibrated, not all equal: the best of a collection outranks
        // its own field's papers lower down.
        assert!(of_c.iter().any(|i| primary(i) == cat), "{c}: {v}");
    }
    let first = items(&v)[0]["score"].as_f64().unwrap();
    let last = items(&v)[19]["score"].as_f64().unwrap();
    assert!(first > last, "a flat list of scores: {v}");
}
