//! The CLI as a new user meets it, on the bundled sample stored with seeded random
//! vectors (no model, no `../shared`): regressions of the adversarial pass (issue 10)
//! and of a fresh user's first hour (issue 11), each named after what broke.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paperscout::ingest;
use paperscout::library::{ModelInfo, Writer, WriterOptions};

fn paperscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("RUST_LOG")
        .output()
        .expect("run paperscout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-2026-05.jsonl")
}

/// The sample (320 papers, four listing days) with seeded random unit vectors.
fn sample_library(dir: &Path) {
    let papers: Vec<_> = ingest::read(&sample_path(), None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let model = ModelInfo::new("random-16", "00".repeat(32), 16);
    let mut w = Writer::open(dir, &model, &WriterOptions::default()).unwrap();
    let plan = w.plan(&papers);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let vectors: Vec<Vec<f32>> = plan
        .indices
        .iter()
        .map(|_| {
            let v: Vec<f32> = (0..16)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect()
        })
        .collect();
    w.upsert(&papers, &vectors).unwrap();
    w.finish().unwrap();
}

/// A library of the sample and a user `ada` who likes its first two papers.
fn library_with_ada() -> (tempfile::TempDir, String, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    sample_library(&lib);
    let ids: Vec<String> = std::fs::read_to_string(sample_path())
        .unwrap()
        .lines()
        .take(2)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let l = lib.to_str().unwrap().to_string();
    let out = paperscout(&["profile", "ada", "like", &ids[0], &ids[1], "--library", &l]);
    assert!(out.status.success(), "{}", stderr(&out));
    (tmp, l, ids)
}

/// `recommend --since 100000000` panicked at the date arithmetic (`NaiveDate - Days
/// out of range`); a span past the calendar now means "everything".
#[test]
fn since_past_the_calendar_is_not_a_panic() {
    let (_tmp, l, ids) = library_with_ada();
    let out = paperscout(&[
        "recommend",
        "ada",
        "--since",
        "100000000",
        "--format",
        "json",
        "--no-record",
        "--library",
        &l,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The window covers all four days of the sample.
    assert_eq!(v["since"], "2026-05-26", "{v}");
    assert!(!v["items"].as_array().unwrap().is_empty());
    let out = paperscout(&[
        "similar",
        &ids[0],
        "--since",
        "4294967295",
        "--library",
        &l,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

/// `--min-score NaN` silently gave an empty list.
#[test]
fn min_score_nan_is_refused() {
    let (_tmp, l, _) = library_with_ada();
    let out = paperscout(&["recommend", "ada", "--min-score", "NaN", "--library", &l]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--min-score NaN: expected a finite number"),
        "{}",
        stderr(&out)
    );
}

/// `ingest good.jsonl bad.jsonl` committed the first file's papers, then exited 1 with
/// only the second file's error and no summary.
#[test]
fn ingest_of_a_good_and_an_unreadable_file_says_what_was_committed() {
    let (_tmp_model, model) = crate::common::tiny_model(&crate::common::Tiny::default());
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.jsonl");
    let sample = std::fs::read_to_string(sample_path()).unwrap();
    let lines: Vec<&str> = sample.lines().take(3).collect();
    std::fs::write(&good, lines.join("\n")).unwrap();
    let bad = tmp.path().join("bad.xml");
    std::fs::write(&bad, "<html><body>Service unavailable</body></html>").unwrap();
    let lib = tmp.path().join("lib");
    let out = paperscout(&[
        "--model",
        model.to_str().unwrap(),
        "ingest",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--library",
        lib.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "a file not read is a failure");
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(o.contains("ingested 3 records from 1 file(s)"), "{o}");
    assert!(o.contains("library now 3 papers"), "{o}");
    assert!(e.contains("not ingested: ") && e.contains("bad.xml"), "{e}");
    assert!(e.contains("1 of 2 file(s) could not be read"), "{e}");
}

/// `recommend me` on a library that did not exist suggested `profile me like ID`,
/// which then failed with `no manifest.json`.
#[test]
fn a_missing_library_says_how_to_create_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("nothing-here");
    for args in [
        vec!["recommend", "me"],
        vec!["profile", "me", "like", "2605.00001"],
        vec!["similar", "2605.00001"],
        vec!["library", "stats"],
    ] {
        let mut all = args.clone();
        all.extend(["--library", lib.to_str().unwrap()]);
        let out = paperscout(&all);
        assert!(!out.status.success());
        let e = stderr(&out);
        assert!(
            e.contains("no library here yet") && e.contains("paperscout ingest"),
            "{args:?}: {e}"
        );
        assert!(!lib.exists(), "{args:?} created the library directory");
    }
}

/// An unknown category in `--categories` gave an empty list without a word.
#[test]
fn an_unknown_category_is_named() {
    let (_tmp, l, _) = library_with_ada();
    let out = paperscout(&[
        "recommend",
        "ada",
        "--categories",
        "cs.LG,cs.XYZ",
        "--library",
        &l,
    ]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("unknown category cs.XYZ"), "{e}");
    assert!(!e.contains("cs.LG"), "a known category is not named: {e}");
}

/// A day without papers printed `no papers` and nothing else.
#[test]
fn an_empty_day_names_the_nearest_listing_days() {
    let (_tmp, l, _) = library_with_ada();
    // The sample holds 2026-05-26..29 (Tuesday to Friday); the 30th is a Saturday.
    let out = paperscout(&["recommend", "ada", "--date", "2026-05-30", "--library", &l]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "no papers listed on 2026-05-30 in this library; nearest listing days: 2026-05-29"
        ),
        "{}",
        stderr(&out)
    );
    let out = paperscout(&["recommend", "ada", "--date", "2026-01-02", "--library", &l]);
    assert!(
        stderr(&out).contains("nearest listing days: 2026-05-26"),
        "{}",
        stderr(&out)
    );
}

/// `profile show` printed stored titles with `ESC[31m` and `ESC]0;...BEL` raw.
#[test]
fn profile_show_makes_terminal_control_sequences_inert() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("hostile.jsonl");
    let line = serde_json::json!({
        "id": "2605.99999",
        "title": "Red \u{1b}[31mALERT\u{1b}]0;pwned\u{7} title",
        "abstract": "text",
        "listing_date": "2026-05-26",
        "categories": ["cs.LG"],
    });
    std::fs::write(&src, format!("{line}\n")).unwrap();
    let lib = tmp.path().join("lib");
    let papers: Vec<_> = ingest::read(&src, None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let model = ModelInfo::new("random-2", "00".repeat(32), 2);
    let mut w = Writer::open(&lib, &model, &WriterOptions::default()).unwrap();
    w.upsert(&papers, &[vec![1.0f32, 0.0]]).unwrap();
    w.finish().unwrap();
    let l = lib.to_str().unwrap();
    assert!(
        paperscout(&["profile", "eve", "like", "2605.99999", "--library", l])
            .status
            .success()
    );
    let out = paperscout(&["profile", "eve", "show", "--library", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    let o = stdout(&out);
    assert!(o.contains("ALERT"), "{o}");
    assert!(!o.contains('\u{1b}') && !o.contains('\u{7}'), "{o:?}");
}

/// `--library` worked only after the subcommand.
#[test]
fn library_flag_works_before_the_subcommand() {
    let (_tmp, l, _) = library_with_ada();
    let out = paperscout(&[
        "--library",
        &l,
        "recommend",
        "ada",
        "--no-record",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = paperscout(&["--library", &l, "library", "stats", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["papers"], 320);
}

/// Every subcommand's help listed --model/--device/--engine/--dtype, also where no
/// model is used; `profile X interests --help` left its arguments undescribed.
#[test]
fn model_flags_only_where_a_model_is_used() {
    for args in [
        vec!["similar", "--help"],
        vec!["library", "stats", "--help"],
        vec!["recommend", "--help"],
    ] {
        let o = stdout(&paperscout(&args));
        assert!(o.contains("Usage"), "{o}");
        for flag in ["--model", "--device", "--engine", "--dtype"] {
            assert!(!o.contains(flag), "{args:?} lists {flag}:\n{o}");
        }
    }
    for args in [
        vec!["search", "--help"],
        vec!["ingest", "--help"],
        vec!["embed", "--help"],
    ] {
        let o = stdout(&paperscout(&args));
        assert!(
            o.contains("--model") && o.contains("--dtype"),
            "{args:?}:\n{o}"
        );
    }
    let o = stdout(&paperscout(&["profile", "x", "interests", "--help"]));
    assert!(o.contains("Topics in words"), "{o}");
    assert!(o.contains("Remove these interests"), "{o}");
}

/// `Adopt $\neq$ Adapt` was printed raw in the table and the HTML digest: text formats
/// now read the TeX as Unicode; JSON keeps the record as it came (it is data).
#[test]
fn tex_in_titles_prints_as_unicode_in_text_formats() {
    let (_tmp, l, _) = library_with_ada();
    // 2605.29018 is "Adopt $\neq$ Adapt: ..."; 2605.26316 is "E$^3$C: ...".
    for (id, raw, want) in [
        ("2605.29018", "$\\neq$", "Adopt ≠ Adapt"),
        ("2605.26316", "E$^3$C", "E³C: Video Generation"),
    ] {
        for format in ["table", "markdown", "html", "atom"] {
            let out = paperscout(&["similar", id, "--format", format, "--library", &l]);
            assert!(out.status.success(), "{}", stderr(&out));
            let s = stdout(&out);
            assert!(s.contains(want), "{format}: {want} not in {s}");
            assert!(!s.contains(raw), "{format}: raw {raw} in {s}");
        }
    }
    let out = paperscout(&[
        "recommend",
        "ada",
        "--since",
        "10",
        "--top",
        "400",
        "--no-record",
        "--format",
        "json",
        "--library",
        &l,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let item = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "2605.29018")
        .unwrap_or_else(|| panic!("2605.29018 not listed: {v}"));
    assert_eq!(
        item["title"],
        "Adopt $\\neq$ Adapt: Longitudinal Analyses of LLM Conversations in the Wild"
    );
}
