//! `paperscout daily` end to end, as issue 12 says it will be checked: a library of
//! earlier papers, two users with likes and addresses, a loopback stand-in for arXiv
//! whose first listing request is answered 503 + `Retry-After: 1`, a loopback SMTP
//! sink; then the same command again.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{self, Tiny};
use crate::delivery::{parse, Sink};
use crate::fetch::{ok, rss_listing, status, Stub};

const DAY: &str = "2026-05-29";

fn run(args: &[&str], envs: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paperscout"));
    c.args(args)
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("PAPERSCOUT_SMTP_URL")
        .env_remove("PAPERSCOUT_MAIL_FROM")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run paperscout")
}

fn ok_run(args: &[&str], envs: &[(&str, String)]) -> String {
    let out = run(args, envs);
    assert!(
        out.status.success(),
        "paperscout {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sample() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-2026-05.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn daily_fetches_the_day_mails_each_user_once_and_writes_valid_feeds() {
    let (_m, model) = common::tiny_model(&Tiny::default());
    let model = model.to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let l = lib.to_str().unwrap().to_string();
    let out = tmp.path().join("out");

    // The library holds the sample's earlier days; the 29th is today's listing.
    let records = sample();
    let (today, earlier): (Vec<Value>, Vec<Value>) =
        records.into_iter().partition(|r| r["listing_date"] == DAY);
    let earlier_file = tmp.path().join("earlier.jsonl");
    let text: Vec<String> = earlier.iter().map(|r| r.to_string()).collect();
    std::fs::write(&earlier_file, text.join("\n")).unwrap();
    ok_run(
        &[
            "--model",
            &model,
            "--library",
            &l,
            "ingest",
            earlier_file.to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    let wanted = ["cs.CV", "cs.LG"];
    let listed: Vec<Value> = today
        .into_iter()
        .filter(|r| {
            r["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| wanted.contains(&c.as_str().unwrap()))
        })
        .collect();
    assert!(listed.len() > 10, "{}", listed.len());
    let feed = rss_listing(&listed, "cs.CV", "Fri, 29 May 2026 00:00:00 -0400");

    // Two users with likes of earlier papers and an address each.
    for (user, like) in [("ada", &earlier[0]), ("bo", &earlier[40])] {
        let id = like["id"].as_str().unwrap();
        ok_run(&["--library", &l, "profile", user, "like", id], &[]);
        ok_run(
            &[
                "--library",
                &l,
                "profile",
                user,
                "email",
                &format!("{user}@example.org"),
            ],
            &[],
        );
    }

    let stub = Stub::start(move |req, n| {
        if req.path.starts_with("/rss/") && n == 0 {
            status(503, &[("Retry-After", "1")], "busy")
        } else if req.path.starts_with("/rss/") {
            ok("application/rss+xml", feed.clone())
        } else {
            status(404, &[], "not here")
        }
    });
    let sink = Sink::start();
    let envs = vec![
        ("PAPERSCOUT_ARXIV_RSS_URL", stub.base.clone()),
        ("PAPERSCOUT_ARXIV_OAI_URL", format!("{}/oai", stub.base)),
        (
            "PAPERSCOUT_ARXIV_API_URL",
            format!("{}/api/query", stub.base),
        ),
        ("PAPERSCOUT_HF_URL", stub.base.clone()),
        ("PAPERSCOUT_SMTP_URL", format!("smtp://{}", sink.addr)),
        (
            "PAPERSCOUT_MAIL_FROM",
            "paperscout <robot@example.org>".to_string(),
        ),
    ];
    let args = [
        "--model",
        &model,
        "--library",
        &l,
        "daily",
        "--categories",
        "cs.CV,cs.LG",
        "--out",
        out.to_str().unwrap(),
    ];
    let said = ok_run(&args, &envs);
    assert!(said.contains(&format!("daily {DAY}")), "{said}");
    let rss: Vec<_> = stub
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/rss/"))
        .collect();
    assert_eq!(rss.len(), 2, "the 503 was retried once");
    assert_eq!(rss[0].path, "/rss/cs.CV+cs.LG");

    // Every paper of the listing is in the library, listed on the day.
    let stats = ok_run(
        &["--library", &l, "library", "stats", "--format", "json"],
        &[],
    );
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(
        stats["papers"].as_u64().unwrap() as usize,
        earlier.len() + listed.len()
    );
    let lib_open = paperscout::library::Library::open_any_model(&lib).unwrap();
    for r in &listed {
        let p = lib_open
            .get(r["id"].as_str().unwrap())
            .expect("listed paper stored");
        assert_eq!(p.listed.map(|d| d.to_string()).as_deref(), Some(DAY));
    }

    // One mail per user, both parts, the day's papers best first.
    let mails = sink.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    for user in ["ada", "bo"] {
        let addr = format!("{user}@example.org");
        assert_eq!(sink.mails_to(&addr), 1);
        let mail = mails.iter().find(|m| m.to.contains(&addr)).unwrap();
        let parsed = parse(mail);
        let text = parsed.part("text/plain");
        let html = parsed.part("text/html");
        let listing = ok_run(
            &[
                "--library",
                &l,
                "recommend",
                user,
                "--date",
                DAY,
                "--format",
                "json",
                "--no-record",
                "--top",
                "20",
            ],
            &[],
        );
        let listing: Value = serde_json::from_str(&listing).unwrap();
        let ids: Vec<&str> = listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert!(!ids.is_empty());
        let at: Vec<usize> = ids
            .iter()
            .map(|id| {
                text.find(id)
                    .unwrap_or_else(|| panic!("{id} not in the mail:\n{text}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "not best first: {at:?}");
        assert!(html.contains(ids[0]));
        // The feed is valid Atom and names the day's best paper.
        let atom = std::fs::read_to_string(out.join(format!("{user}.atom"))).unwrap();
        paperscout::render::validate_atom(&atom).unwrap();
        assert!(atom.contains(ids[0]));
        assert!(out.join(user).join(format!("{DAY}.html")).is_file());
    }

    // The same command again sends nothing.
    let said = ok_run(&args, &envs);
    assert_eq!(
        sink.mails().len(),
        2,
        "the second run mailed again:\n{said}"
    );
    assert!(said.contains("2 already sent"), "{said}");
}

/// A library holding the sample's first paper, made with the tiny model.
struct Lib1 {
    _model_dir: tempfile::TempDir,
    model: String,
    tmp: tempfile::TempDir,
    lib: std::path::PathBuf,
    l: String,
    records: Vec<Value>,
}

fn library_of_one_paper() -> Lib1 {
    let (model_dir, model) = common::tiny_model(&Tiny::default());
    let model = model.to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let l = lib.to_str().unwrap().to_string();
    let records = sample();
    let first = tmp.path().join("first.jsonl");
    std::fs::write(&first, format!("{}\n", records[0])).unwrap();
    ok_run(
        &[
            "--model",
            &model,
            "--library",
            &l,
            "ingest",
            first.to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    Lib1 {
        _model_dir: model_dir,
        model,
        tmp,
        lib,
        l,
        records,
    }
}

/// `profile USER like ID` of a paper the library does not hold fetches it from the
/// arXiv API (a loopback stand-in here), embeds and stores it, then likes it; ids the
/// API does not know are an error naming them, and nothing changes.
#[test]
fn like_of_a_paper_not_in_the_library_fetches_it_from_the_arxiv_api() {
    let Lib1 {
        _model_dir,
        model,
        tmp: _tmp,
        lib,
        l,
        records,
    } = library_of_one_paper();

    let known = records[5].clone();
    let answer = crate::fetch::api_answer(&[&known]);
    let stub = Stub::start(move |_, _| ok("application/atom+xml", answer.clone()));
    let envs = vec![(
        "PAPERSCOUT_ARXIV_API_URL",
        format!("{}/api/query", stub.base),
    )];
    let id = known["id"].as_str().unwrap();
    let said = ok_run(
        &[
            "--model",
            &model,
            "--library",
            &l,
            "profile",
            "ada",
            "like",
            id,
        ],
        &envs,
    );
    assert!(said.contains("liked 1 new"), "{said}");
    let asked = stub.requests();
    assert_eq!(asked.len(), 1);
    let lib_open = paperscout::library::Library::open_any_model(&lib).unwrap();
    let stored = lib_open.get(id).expect("the fetched paper is stored");
    assert_eq!(stored.title, known["title"].as_str().unwrap());
    assert_eq!(stored.listed, None, "the API names no listing day");

    // An id the API does not return: an error naming it, the profile unchanged.
    let out = run(
        &[
            "--model",
            &model,
            "--library",
            &l,
            "profile",
            "ada",
            "like",
            "2605.99999",
        ],
        &envs,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2605.99999"));
    let shown = ok_run(
        &[
            "--library",
            &l,
            "profile",
            "ada",
            "show",
            "--format",
            "json",
        ],
        &[],
    );
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["likes"].as_array().unwrap().len(), 1);
}

/// A BibTeX entry with an arXiv id but no abstract, of a paper the library does not
/// hold, is fetched from the arXiv API (a loopback stand-in), stored and liked.
#[test]
fn bibtex_entries_with_an_arxiv_id_and_no_abstract_are_fetched() {
    let Lib1 {
        _model_dir,
        model,
        tmp,
        lib,
        l,
        records,
    } = library_of_one_paper();
    let known = records[7].clone();
    let id = known["id"].as_str().unwrap().to_string();
    let answer = crate::fetch::api_answer(&[&known]);
    let stub = Stub::start(move |_, _| ok("application/atom+xml", answer.clone()));
    let envs = vec![(
        "PAPERSCOUT_ARXIV_API_URL",
        format!("{}/api/query", stub.base),
    )];
    let bib = tmp.path().join("refs.bib");
    std::fs::write(
        &bib,
        format!("@article{{k1,\n  title = {{Some title}},\n  eprint = {{{id}}},\n  archivePrefix = {{arXiv}}\n}}\n"),
    )
    .unwrap();
    let said = ok_run(
        &[
            "--model",
            &model,
            "--library",
            &l,
            "profile",
            "ada",
            "import",
            bib.to_str().unwrap(),
        ],
        &envs,
    );
    assert!(
        said.contains("1 matched library papers (1 new likes)"),
        "{said}"
    );
    assert_eq!(stub.requests().len(), 1);
    let lib_open = paperscout::library::Library::open_any_model(&lib).unwrap();
    assert!(lib_open.get(&id).is_some());
}
