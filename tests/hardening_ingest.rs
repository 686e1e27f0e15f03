//! Regression tests for the hardening of reading input (issue 10, items 2, 3, 5, 7,
//! 12 and 14; issue 11's doubled message). Each test is named after what broke and
//! says in one line what it was. Expected values are read off the fixtures by hand.

use std::fs;
use std::path::Path;
use std::process::Command;

use paperscout::embed::{cut_for_tokenizer, CUT_CHARS_PER_TOKEN};
use paperscout::ingest::{self, Format};
use paperscout::paper::Paper;
use paperscout::render::{self, terminal_safe, Because, BecauseKind, Item, Listing, Subject};
use paperscout::Error;

use crate::common::{self, Tiny};

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

/// The line and message of an input error about `path`; anything else fails the test.
fn input_error(e: &Error, path: &Path) -> (u64, String) {
    match e {
        Error::Input {
            path: p,
            line,
            message,
        } => {
            assert_eq!(p, path, "error names the wrong file: {e}");
            (*line, message.clone())
        }
        other => panic!("expected an input error, got {other}"),
    }
}

/// The 1-based line of the `nth` (0-based) occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str, nth: usize) -> u64 {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .expect("needle present")
        .0;
    text[..at].matches('\n').count() as u64 + 1
}

// ---- item 2: BibTeX macro bomb ------------------------------------------------------

/// A 1 KB .bib of doubling `@string` macros (a40 = 2^40 bytes) allocated until abort.
#[test]
fn bibtex_doubling_string_macros_are_refused_not_expanded() {
    let mut text = String::from("@string{a0 = {ab}}\n");
    for k in 1..=40 {
        text.push_str(&format!("@string{{a{k} = a{} # a{}}}\n", k - 1, k - 1));
    }
    text.push_str("@article{bomb, title = a40}\n");
    assert!(text.len() < 1500);
    let err = paperscout::bibtex::parse(Path::new("bomb.bib"), &text).unwrap_err();
    let Error::Input { line, message, .. } = &err else {
        panic!("expected an input error, got {err}");
    };
    // a_k is 2^(k+1) bytes: a19 is exactly 1 MiB, a20 = a19 # a19 (line 21) is over.
    assert_eq!(*line, 21, "{err}");
    assert!(message.contains("field `a20`"), "{message}");
    assert!(message.contains("more than 1 MiB"), "{message}");
    assert!(
        message.contains("in @string starting at line 21"),
        "{message}"
    );
}

/// Many fields each under the per-field bound still add up: the whole file is bounded.
#[test]
fn bibtex_macro_expansion_is_bounded_per_file() {
    let mut text = String::from("@string{a0 = {ab}}\n");
    for k in 1..=18 {
        text.push_str(&format!("@string{{a{k} = a{} # a{}}}\n", k - 1, k - 1));
    }
    // a18 is 2^19 bytes (512 KiB); 40 fields of it are 20 MiB.
    text.push_str("@misc{many,\n");
    for f in 0..40 {
        text.push_str(&format!("  f{f} = a18,\n"));
    }
    text.push_str("}\n");
    let err = paperscout::bibtex::parse(Path::new("many.bib"), &text).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("more than 16 MiB"), "{shown}");
    assert!(shown.contains("@misc{many"), "{shown}");
    // A file of ordinary macros still reads.
    let ok = "@string{conf = {Proc. }}\n@misc{k, booktitle = conf # {ACL}}\n";
    let entries = paperscout::bibtex::parse(Path::new("ok.bib"), ok).unwrap();
    assert_eq!(entries[0].field("booktitle"), Some("Proc. ACL"));
}

// ---- item 3: text cut before tokenizing ----------------------------------------------

/// A 12 MB abstract was tokenized in full (~100x its size in memory) before truncation.
#[test]
fn long_text_is_cut_before_tokenizing_with_the_same_vector() {
    let tiny = Tiny::default(); // max_seq_length 32
    let (_tmp, dir) = common::tiny_model(&tiny);
    let embedder = common::load(&dir);
    let max_chars = embedder.max_seq_length() * CUT_CHARS_PER_TOKEN;
    let long =
        "we propose a new graph neural network method, results show deep learning. ".repeat(40);
    let cut = cut_for_tokenizer(&long, max_chars);
    assert!(cut.len() < long.len() && cut.chars().count() <= max_chars);
    assert!(long.starts_with(cut));
    // Cut at a space: no word is split.
    assert_eq!(long.as_bytes()[cut.len()], b' ');

    let vectors = embedder.embed(&[long.as_str(), cut]).unwrap();
    assert_eq!(vectors[0], vectors[1]);

    // The ids equal those of the tokenizer given the whole text.
    let mut whole = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    whole
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: embedder.max_seq_length(),
            ..Default::default()
        }))
        .unwrap();
    whole.with_padding(None);
    let full_ids = |text: &str| whole.encode(text, true).unwrap().get_ids().to_vec();
    assert_eq!(embedder.tokenize(&long).unwrap(), full_ids(&long));
    // Words of over 100 characters become one [UNK] each: 16 characters a token are
    // not enough, and the cut widens until the ids are the same.
    let unk_words = format!("{} ", "x".repeat(150)).repeat(200);
    assert_eq!(embedder.tokenize(&unk_words).unwrap(), full_ids(&unk_words));
    assert_eq!(
        embedder.tokenize(&unk_words).unwrap().len(),
        embedder.max_seq_length()
    );

    // A thousand times longer, what reaches the tokenizer stays the same size.
    let huge = long.repeat(1000);
    assert_eq!(cut_for_tokenizer(&huge, max_chars), cut);
    // No space at all: cut at a char boundary.
    let word = "é".repeat(100_000);
    assert_eq!(cut_for_tokenizer(&word, 10), "é".repeat(10));
    assert_eq!(cut_for_tokenizer("short text", 100), "short text");
}

/// A valid 12 MB first record failed detection (`first JSON value is longer than 1 MiB`).
#[test]
fn jsonl_with_a_12_mb_first_record_is_detected_and_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.jsonl");
    let abstract_text = "graph ".repeat(2_000_000); // 12 MB
    let first = serde_json::json!({"summary": abstract_text, "id": "2601.00001", "title": "Big"});
    let second = serde_json::json!({"id": "2601.00002", "title": "Small"});
    fs::write(&path, format!("{first}\n{second}\n")).unwrap();
    assert_eq!(ingest::detect(&path).unwrap(), Format::Jsonl);
    let (papers, errors) = read_all(&path, None);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(papers.len(), 2);
    assert_eq!(papers[0].abstract_text.len(), abstract_text.trim().len());

    // Over the 16 MiB record cap, detection says so (and not "1 MiB").
    let path = tmp.path().join("huge.json");
    let huge = serde_json::json!({"id": "x", "summary": "a".repeat(17 << 20)});
    fs::write(&path, huge.to_string()).unwrap();
    let err = ingest::detect(&path).unwrap_err().to_string();
    assert!(err.contains("longer than 16 MiB"), "{err}");
}

// ---- item 5: terminal control sequences ---------------------------------------------

/// Ingest's skip messages echoed bad field values raw (`ESC[31m` reached the terminal).
#[test]
fn skip_messages_escape_terminal_control_sequences() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("esc.jsonl");
    let bad = serde_json::json!({
        "id": "2601.00001", "title": "T",
        "published": "\u{1b}[31mred\u{1b}]0;pwned\u{7} \u{9b}2J"
    });
    fs::write(&path, format!("{bad}\n")).unwrap();
    let (_, errors) = read_all(&path, None);
    assert_eq!(errors.len(), 1);
    let shown = errors[0].to_string();
    assert!(
        !shown.chars().any(|c| c.is_control()),
        "control characters reach the terminal: {shown:?}"
    );
    assert!(shown.contains("\\x1b[31mred"), "{shown}");
    assert!(shown.contains("\\u{9b}2J"), "{shown}");

    assert_eq!(terminal_safe("plain, ünïcode"), "plain, ünïcode");
    assert_eq!(
        terminal_safe("a\u{1b}]0;t\u{7}\nb\t\u{202e}c\u{7f}"),
        "a\\x1b]0;t\\x07\\nb\\t\\u{202e}c\\x7f"
    );
    assert!(matches!(
        terminal_safe("no escapes"),
        std::borrow::Cow::Borrowed(_)
    ));
}

/// The recommend table kept bidi overrides (U+202E), which reorder the rest of a line.
#[test]
fn table_escapes_bidi_overrides() {
    let listing = Listing {
        subject: Subject::Recommend { user: "ada".into() },
        date: None,
        since: None,
        generated: chrono::DateTime::UNIX_EPOCH,
        items: vec![Item {
            rank: 1,
            id: "2601.00001".into(),
            title: "evil \u{202e}txt.exe\u{1b}[2J".into(),
            score: 0.5,
            url: None,
            categories: vec![],
            authors: vec![],
            abstract_text: String::new(),
            listed: None,
            because: Some(Because {
                kind: BecauseKind::Interest,
                id: None,
                title: "\u{2066}interest".into(),
                similarity: 0.4,
            }),
            collection: None,
        }],
        threshold: None,
        quiet: Vec::new(),
    };
    let out = render::render(&listing, render::Format::Table);
    assert!(!out.contains(['\u{202e}', '\u{2066}', '\u{1b}']), "{out:?}");
    assert!(out.contains("evil \\u{202e}txt.exe"), "{out}");
}

// ---- items 7 and 12: recovering after a bad entry, naming the real line --------------

/// A malformed entry in the middle of an Atom document dropped every entry after it.
#[test]
fn atom_malformed_entry_loses_only_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(common::shared(
        "data/api-response-fixtures/laya-reader/arxiv_3.xml",
    ))
    .unwrap();
    // Break the second entry's title end tag.
    let title =
        "Can LLMs Reason About Runtime Behavior? A Repository-Level Dynamic Benchmark</title>";
    assert!(text.contains(title));
    let broken = text.replacen(title, &title.replace("</title>", "</titel>"), 1);
    let bad_line = line_of(&broken, "</titel>", 0);
    let path = tmp.path().join("api.xml");
    fs::write(&path, &broken).unwrap();
    let (papers, errors) = read_all(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?} {errors:?}");
    assert!(papers[1]
        .title
        .starts_with("Order-Invariant Answers, Order-Sensitive"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, bad_line, "{message}");
    assert!(
        message.starts_with("entry 2: not well-formed XML"),
        "{message}"
    );
    assert!(message.contains("reading goes on at line 60"), "{message}");

    // A missing end tag: the next entry's start tag closes the broken one.
    let second_end = text.match_indices("</entry>").nth(1).unwrap().0;
    let mut unclosed = text.clone();
    unclosed.replace_range(second_end..second_end + "</entry>".len(), "");
    fs::write(&path, &unclosed).unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 2, "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 29, "{message}");
    assert!(
        message.contains("is not closed before the <entry> at line 60"),
        "{message}"
    );
}

/// XML errors named the entry's first line (`entry 3 (line 60)` for a bad date on 71).
#[test]
fn xml_errors_name_the_line_of_the_bad_element() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(common::shared(
        "data/api-response-fixtures/laya-reader/arxiv_3.xml",
    ))
    .unwrap();
    let date = "<published>2026-09-23T17:40:57Z</published>";
    assert_eq!(line_of(&text, date, 0), 71);
    let broken = text.replace(date, "<published>the 23rd of September</published>");
    let path = tmp.path().join("api.xml");
    fs::write(&path, &broken).unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 2);
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 71, "{message}");
    assert!(message.starts_with("entry 3: "), "{message}");
    assert!(message.contains("the 23rd of September"), "{message}");
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with(&format!("{}:71: entry 3: ", path.display())),
        "{shown}"
    );
}

/// A NUL byte on line 2 was reported as line 1 and refused the whole file.
#[test]
fn nul_byte_skips_its_record_and_names_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    // JSON Lines: line 2 holds a NUL byte.
    let path = tmp.path().join("nul.jsonl");
    fs::write(
        &path,
        b"{\"id\": \"2601.00001\", \"title\": \"One\"}\n{\"id\": \"2601.00002\", \"title\": \"T\0wo\"}\n{\"id\": \"2601.00003\", \"title\": \"Three\"}\n",
    )
    .unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 2, "{errors:?}");
    assert_eq!(errors.len(), 1);
    assert_eq!(input_error(&errors[0], &path).0, 2);

    // CSV: the row on line 3 holds one.
    let path = tmp.path().join("nul.csv");
    fs::write(
        &path,
        b"id,title\n2601.00001,One\n2601.00002,T\0wo\n2601.00003,Three\n",
    )
    .unwrap();
    let (papers, errors) = read_all(&path, None);
    assert_eq!(papers.len(), 2, "{errors:?}");
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 3, "{message}");
    assert!(message.contains("NUL"), "{message}");

    // XML: the entry holding it is skipped, the next one read.
    let path = tmp.path().join("nul.xml");
    fs::write(
        &path,
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry><id>http://arxiv.org/abs/2601.00001v1</id><title>One</title></entry>\n<entry><id>http://arxiv.org/abs/2601.00002v1</id><title>T\0wo</title></entry>\n<entry><id>http://arxiv.org/abs/2601.00003v1</id><title>Three</title></entry>\n</feed>\n",
    )
    .unwrap();
    let (papers, errors) = read_all(&path, None);
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["2601.00001", "2601.00003"], "{errors:?}");
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 3, "{message}");
    assert!(
        message.starts_with("entry 2: ") && message.contains("NUL"),
        "{message}"
    );

    // A NUL byte in the first line is still a binary file.
    let path = tmp.path().join("binary.dat");
    fs::write(&path, b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'\n").unwrap();
    let err = ingest::detect(&path).unwrap_err().to_string();
    assert!(err.contains("a binary file"), "{err}");
}

/// The CSV fixture: the five papers of the arXiv API fixture as `id,title,abstract`.
fn fixture_csv() -> (Vec<Paper>, Vec<String>) {
    let api = common::shared("data/api-response-fixtures/sotawhat/arxiv_transformer.xml");
    let (papers, errors) = read_all(&api, None);
    assert!(errors.is_empty() && papers.len() == 5, "{errors:?}");
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let rows = papers
        .iter()
        .map(|p| format!("{},{},{}", p.id, quote(&p.title), quote(&p.abstract_text)))
        .collect();
    (papers, rows)
}

/// A CSV with an unterminated quote swallowed the next row.
#[test]
fn csv_unterminated_quote_loses_only_its_row() {
    let tmp = tempfile::tempdir().unwrap();
    let (papers, rows) = fixture_csv();
    let path = tmp.path().join("papers.csv");

    // The second row's title opens a quote that never closes.
    let mut broken = rows.clone();
    broken[1] = format!(
        "{},\"{},abstract",
        papers[1].id,
        papers[1].title.replace('"', "")
    );
    fs::write(&path, format!("id,title,abstract\n{}\n", broken.join("\n"))).unwrap();
    let (read, errors) = read_all(&path, None);
    let ids: Vec<&str> = read.iter().map(|p| p.id.as_str()).collect();
    let want: Vec<&str> = papers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, p)| p.id.as_str())
        .collect();
    assert_eq!(ids, want, "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, message) = input_error(&errors[0], &path);
    assert_eq!(line, 3, "{message}");
    assert!(message.contains("quoted field"), "{message}");
    assert_eq!(read[1].title, papers[2].title);

    // The quote opens in the last field: the swallowed row had the right field count.
    let mut broken = rows.clone();
    broken[2] = format!("{},Title,\"unterminated abstract", papers[2].id);
    fs::write(&path, format!("id,title,abstract\n{}\n", broken.join("\n"))).unwrap();
    let (read, errors) = read_all(&path, None);
    assert_eq!(read.len(), 4, "{errors:?}");
    assert_eq!(read[2].id, papers[3].id);
    assert_eq!(input_error(&errors[0], &path).0, 4);

    // Legitimate line breaks inside quoted fields still read as one row.
    let multi = format!(
        "id,title,abstract\n{},\"Two\nline title\",\"an \"\"abstract\"\"\non two lines\"\n{}\n",
        papers[0].id, rows[1]
    );
    fs::write(&path, multi).unwrap();
    let (read, errors) = read_all(&path, None);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].title, "Two line title");
}

// ---- item 14: output URLs ---------------------------------------------------------------

fn listing_with_urls(urls: &[&str]) -> Listing {
    Listing {
        subject: Subject::Search { query: "q".into() },
        date: None,
        since: None,
        generated: chrono::DateTime::UNIX_EPOCH,
        items: urls
            .iter()
            .enumerate()
            .map(|(i, url)| Item {
                rank: i + 1,
                id: format!("id{i}"),
                title: format!("Title {i}"),
                score: 0.5,
                url: Some(url.to_string()),
                categories: vec![],
                authors: vec!["A".into()],
                abstract_text: "text".into(),
                listed: None,
                because: None,
                collection: None,
            })
            .collect(),
        threshold: None,
        quiet: Vec::new(),
    }
}

/// Atom put URLs with `[`, `]` (not allowed in an IRI outside a host) into `<id>` as is.
#[test]
fn atom_ids_and_links_are_valid_iris() {
    let listing = listing_with_urls(&[
        "https://example.org/a[1]?q=[x]#f#g",
        "https://[2001:db8::1]:8080/p",
        "https://example.org/100%/ü",
    ]);
    let atom = render::render(&listing, render::Format::Atom);
    assert_eq!(render::validate_atom(&atom), Ok(3), "{atom}");
    assert!(
        atom.contains("<id>https://example.org/a%5B1%5D?q=%5Bx%5D#f%23g</id>"),
        "{atom}"
    );
    assert!(
        atom.contains("<id>https://[2001:db8::1]:8080/p</id>"),
        "{atom}"
    );
    assert!(
        atom.contains("<id>https://example.org/100%25/%C3%BC</id>"),
        "{atom}"
    );

    // The validator itself refuses such ids and links.
    let raw = atom.replace("a%5B1%5D", "a[1]");
    let err = render::validate_atom(&raw).unwrap_err();
    assert!(err.contains("not a valid IRI"), "{err}");
}

/// JSON passed a `javascript:` URL through in `url` while the other formats dropped it.
#[test]
fn every_format_shows_the_same_urls() {
    let listing = listing_with_urls(&[
        "javascript:alert(1)",
        "https://example.org/a b[1]",
        "data:text/html,x",
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&render::render(&listing, render::Format::Json)).unwrap();
    let urls: Vec<&serde_json::Value> = (0..3).map(|i| &json["items"][i]["url"]).collect();
    assert_eq!(urls[0], &serde_json::Value::Null);
    assert_eq!(urls[1], "https://example.org/a%20b%5B1%5D");
    assert_eq!(urls[2], &serde_json::Value::Null);
    for format in [
        render::Format::Markdown,
        render::Format::Html,
        render::Format::Atom,
    ] {
        let out = render::render(&listing, format);
        assert!(
            !out.contains("javascript") && !out.contains("data:"),
            "{out}"
        );
        assert!(out.contains("https://example.org/a%20b%5B1%5D"), "{out}");
    }
    assert_eq!(
        render::safe_url("https://x.org/a b"),
        Some("https://x.org/a%20b".into())
    );
    assert_eq!(render::safe_url("javascript:alert(1)"), None);
    assert_eq!(render::safe_url("https://"), None);
}

// ---- issue 11: the OS error printed twice ---------------------------------------------

/// `/nonexistent.jsonl: no such file: no such file`: the OS error's text came twice.
#[test]
fn missing_file_error_says_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nonexistent.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(["ingest", missing.to_str().unwrap(), "--library"])
        .arg(tmp.path().join("lib"))
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nonexistent.jsonl"), "{stderr}");
    assert_eq!(stderr.matches("no such file").count(), 1, "{stderr}");

    // The library error keeps the OS text in its message (shown by `{}` too), once.
    let err = ingest::read(&missing, None).unwrap_err();
    let os = err.io_error().expect("an I/O error").to_string();
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(chain.matches(&os).count(), 1, "{chain}");
}
