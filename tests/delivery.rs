//! Delivering days to users against a loopback SMTP server started here (127.0.0.1,
//! port 0, a minimal hand-written one that records envelopes and data): recipients,
//! subject, both MIME parts, escaping of hostile titles and addresses, exactly one mail
//! per user and day across repeated and crashed runs, a refused recipient not stopping
//! the others, and the Atom feed keeping N days.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use paperscout::config::{MailSettings, SmtpUrl};
use paperscout::delivery::{Deliverer, DeliverySummary, Fault, State, UserOutcome};
use paperscout::render::{validate_atom, Because, BecauseKind, Item, Listing, Subject};
use paperscout::Error;

// ---- a loopback SMTP sink ------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct Mail {
    from: String,
    pub(crate) to: Vec<String>,
    data: String,
}

#[derive(Clone, Default)]
struct Shared {
    mails: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<Mutex<HashSet<String>>>,
}

pub(crate) struct Sink {
    pub(crate) addr: SocketAddr,
    shared: Shared,
}

impl Sink {
    pub(crate) fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared::default();
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = session(conn, &s);
                });
            }
        });
        Sink { addr, shared }
    }

    pub(crate) fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().unwrap().clone()
    }

    pub(crate) fn mails_to(&self, rcpt: &str) -> usize {
        self.mails()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == rcpt))
            .count()
    }

    fn refuse(&self, rcpt: &str, on: bool) {
        let mut r = self.shared.refuse.lock().unwrap();
        if on {
            r.insert(rcpt.to_string());
        } else {
            r.remove(rcpt);
        }
    }

    fn settings(&self) -> MailSettings {
        let url = SmtpUrl::parse(&format!("smtp://{}", self.addr)).unwrap();
        MailSettings::new(url, "paperscout <robot@example.org>").unwrap()
    }
}

/// One SMTP session (RFC 5321's commands that a client sending one mail uses).
fn session(conn: TcpStream, s: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    out.write_all(b"220 sink ESMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let angle = |l: &str| {
        let a = l.find('<').map_or(0, |i| i + 1);
        let b = l.rfind('>').unwrap_or(l.len());
        l.get(a..b).unwrap_or("").to_string()
    };
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" => b"250 sink\r\n",
            "MAIL" => {
                from = angle(&line);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let rcpt = angle(&line);
                if s.refuse.lock().unwrap().contains(&rcpt) {
                    b"550 5.1.1 no such user\r\n"
                } else {
                    to.push(rcpt);
                    b"250 OK\r\n"
                }
            }
            "DATA" if to.is_empty() => b"554 no valid recipients\r\n",
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if input.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                s.mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK queued\r\n"
            }
            "RSET" => {
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        out.write_all(reply)?;
    }
}

// ---- reading a received mail ---------------------------------------------------------

/// Header lines (unfolded) and the decoded text of each MIME part, by content type.
pub(crate) struct Parsed {
    pub(crate) headers: Vec<String>,
    parts: Vec<(String, String)>,
}

fn split_head(s: &str) -> (Vec<String>, &str) {
    let (head, body) = s.split_once("\r\n\r\n").unwrap_or((s, ""));
    let mut headers: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.push_str(line.trim_start());
                continue;
            }
        }
        headers.push(line.to_string());
    }
    (headers, body)
}

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub(crate) fn parse(mail: &Mail) -> Parsed {
    let (headers, body) = split_head(&mail.data);
    let ctype = header(&headers, "Content-Type").expect("a content type");
    assert!(ctype.starts_with("multipart/alternative"), "{ctype}");
    let boundary = ctype
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a boundary")
        .trim_matches('"')
        .to_string();
    let mut parts = Vec::new();
    for chunk in body.split(&format!("--{boundary}")).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (ph, pb) = split_head(chunk.trim_start_matches("\r\n"));
        let kind = header(&ph, "Content-Type").unwrap_or("").to_string();
        let encoding = header(&ph, "Content-Transfer-Encoding").unwrap_or("");
        assert_eq!(encoding, "base64", "{kind}");
        let b64: String = pb.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        parts.push((kind, String::from_utf8(bytes).expect("UTF-8")));
    }
    Parsed { headers, parts }
}

impl Parsed {
    pub(crate) fn part(&self, kind: &str) -> &str {
        self.parts
            .iter()
            .find(|(k, _)| k.starts_with(kind))
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("no {kind} part in {:?}", self.parts))
    }
}

// ---- listings ------------------------------------------------------------------------

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, d).unwrap()
}

fn at(d: u32) -> DateTime<Utc> {
    day(d).and_hms_opt(6, 0, 0).unwrap().and_utc()
}

fn item(rank: usize, id: &str, title: &str, d: u32) -> Item {
    Item {
        rank,
        id: id.into(),
        title: title.into(),
        score: 1.0 - rank as f32 / 10.0,
        url: Some(format!("https://arxiv.org/abs/{id}")),
        categories: vec!["cs.IR".into()],
        authors: vec!["Ada Lovelace".into(), "Alan Turing".into()],
        abstract_text: format!("The abstract of {id}."),
        listed: Some(day(d)),
        because: Some(Because {
            kind: BecauseKind::Paper,
            id: Some("2604.00001".into()),
            title: "A liked paper".into(),
            similarity: 0.71,
        }),
        collection: None,
    }
}

fn listing(user: &str, d: u32, items: Vec<Item>) -> Listing {
    Listing {
        subject: Subject::Recommend { user: user.into() },
        date: Some(day(d)),
        since: None,
        generated: at(d),
        items,
        threshold: None,
        quiet: Vec::new(),
    }
}

/// Three papers for day `d`, numbered `base..base+3`.
fn three(user: &str, d: u32, base: u32) -> Listing {
    let items = (0..3)
        .map(|k| {
            let id = format!("2605.{:05}", base + k);
            item(k as usize + 1, &id, &format!("Paper {id}"), d)
        })
        .collect();
    listing(user, d, items)
}

struct Env {
    _tmp: tempfile::TempDir,
    lib: std::path::PathBuf,
    out: std::path::PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&lib).unwrap();
    Env {
        _tmp: tmp,
        lib,
        out,
    }
}

fn deliverer(e: &Env, sink: Option<&Sink>) -> Deliverer {
    Deliverer::new(&e.lib, &e.out, sink.map(Sink::settings)).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|err| panic!("{}: {err}", p.display()))
}

// ---- tests ---------------------------------------------------------------------------

#[test]
fn the_mail_has_both_parts_best_first_and_hostile_titles_are_neutralised() {
    let sink = Sink::start();
    let e = env();
    let d = deliverer(&e, Some(&sink));
    let items = vec![
        item(1, "2605.00001", "<script>alert('x')</script> Attention", 29),
        item(
            2,
            "2605.00002",
            "Clean title\r\nBcc: eve@evil.example\r\n",
            29,
        ),
        item(3, "2605.00003", "Third & last", 29),
    ];
    let out = d
        .deliver(
            "ada",
            Some("ada@example.org"),
            day(29),
            &listing("ada", 29, items),
        )
        .unwrap();
    assert_eq!(
        out,
        UserOutcome::Sent {
            to: "ada@example.org".into(),
            items: 3
        }
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["ada@example.org"]);
    assert_eq!(mails[0].from, "robot@example.org");
    let m = parse(&mails[0]);
    assert_eq!(
        header(&m.headers, "Subject"),
        Some("paperscout: 3 papers for ada on 2026-05-29")
    );
    assert_eq!(header(&m.headers, "To"), Some("ada@example.org"));
    for h in &m.headers {
        assert!(
            !h.to_ascii_lowercase().starts_with("bcc"),
            "an injected header: {h}"
        );
    }
    let text = m.part("text/plain");
    let html = m.part("text/html");
    // Best first, in both parts, with links, reasons and the unsubscribe hint.
    for body in [text, html] {
        let pos: Vec<usize> = ["2605.00001", "2605.00002", "2605.00003"]
            .iter()
            .map(|id| body.find(&format!("https://arxiv.org/abs/{id}")).unwrap())
            .collect();
        assert!(pos[0] < pos[1] && pos[1] < pos[2], "{body}");
        assert!(body.contains("Because you liked"), "{body}");
        assert!(body.contains("A liked paper"), "{body}");
        assert!(
            body.contains("paperscout profile ada email --remove"),
            "{body}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l == "2. Clean title Bcc: eve@evil.example"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("Bcc")), "{text}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains("Third &amp; last"), "{html}");
    // The digest and the feed are there too.
    assert!(read(&d.digest_path("ada", day(29))).contains("&lt;script&gt;"));
    assert_eq!(validate_atom(&read(&d.feed_path("ada"))), Ok(3));
}

#[test]
fn an_address_with_crlf_is_refused_and_the_others_still_get_mail() {
    let sink = Sink::start();
    let e = env();
    let d = deliverer(&e, Some(&sink));
    let mut summary = DeliverySummary::default();
    for (user, addr) in [
        ("ada", "ada@example.org\r\nBcc: eve@evil.example"),
        ("bob", "bob@example.org"),
    ] {
        summary.add(
            user,
            d.deliver(user, Some(addr), day(29), &three(user, 29, 10)),
        );
    }
    assert!(
        matches!(&summary.outcomes["ada"], UserOutcome::Failed { reason } if reason.contains("mail address")),
        "{summary}"
    );
    assert_eq!(summary.sent(), 1);
    assert!(summary.any_failed());
    assert!(summary.to_string().contains("failed: ada"), "{summary}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["bob@example.org"]);
    assert!(!mails.iter().any(|m| m.data.contains("evil")));
}

#[test]
fn a_refused_recipient_does_not_stop_the_others_and_is_retried_next_run() {
    let sink = Sink::start();
    let e = env();
    let users = [
        ("ada", "ada@example.org"),
        ("bob", "bob@example.org"),
        ("cy", "cy@example.org"),
    ];
    sink.refuse("bob@example.org", true);
    let run = || {
        let d = deliverer(&e, Some(&sink));
        let mut summary = DeliverySummary::default();
        for (k, (user, addr)) in users.iter().enumerate() {
            let l = three(user, 29, 100 * k as u32);
            summary.add(user, d.deliver(user, Some(*addr), day(29), &l));
        }
        summary
    };
    let first = run();
    assert_eq!(first.sent(), 2, "{first}");
    assert!(
        matches!(&first.outcomes["bob"], UserOutcome::Failed { reason } if reason.contains("550")),
        "{first}"
    );
    assert!(first.any_failed());
    sink.refuse("bob@example.org", false);
    let second = run();
    assert_eq!(
        second.outcomes["bob"],
        UserOutcome::Sent {
            to: "bob@example.org".into(),
            items: 3
        }
    );
    assert_eq!(second.outcomes["ada"], UserOutcome::AlreadySent);
    assert_eq!(second.outcomes["cy"], UserOutcome::AlreadySent);
    assert!(!second.any_failed(), "{second}");
    for (_, addr) in users {
        assert_eq!(sink.mails_to(addr), 1, "{addr}");
    }
}

#[test]
fn running_twice_mails_once() {
    let sink = Sink::start();
    let e = env();
    for _ in 0..3 {
        let d = deliverer(&e, Some(&sink));
        d.deliver(
            "ada",
            Some("ada@example.org"),
            day(29),
            &three("ada", 29, 1),
        )
        .unwrap();
    }
    assert_eq!(sink.mails().len(), 1);
    let d = deliverer(&e, Some(&sink));
    assert!(d.is_settled("ada", day(29)).unwrap());
    assert!(!d.is_settled("ada", day(28)).unwrap());
    assert_eq!(
        d.settled("ada", day(29)).unwrap(),
        Some(UserOutcome::AlreadySent)
    );
    assert_eq!(d.settled("ada", day(28)).unwrap(), None);
    let record = d.ledger().load("ada", day(29)).unwrap().unwrap();
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.attempts, 1);
}

#[test]
fn a_crash_after_the_files_mails_once_on_the_next_run() {
    let sink = Sink::start();
    let e = env();
    let l = three("ada", 29, 1);
    let d = deliverer(&e, Some(&sink)).with_fault(Some(Fault::AfterFiles));
    assert!(d
        .deliver("ada", Some("ada@example.org"), day(29), &l)
        .is_err());
    assert_eq!(sink.mails().len(), 0);
    assert_eq!(validate_atom(&read(&d.feed_path("ada"))), Ok(3));
    drop(d);
    for _ in 0..2 {
        let d = deliverer(&e, Some(&sink));
        d.deliver("ada", Some("ada@example.org"), day(29), &l)
            .unwrap();
    }
    assert_eq!(sink.mails_to("ada@example.org"), 1);
}

#[test]
fn a_crash_before_the_smtp_handover_is_at_most_once() {
    let sink = Sink::start();
    let e = env();
    let l = three("ada", 29, 1);
    let d = deliverer(&e, Some(&sink)).with_fault(Some(Fault::BeforeSmtp));
    assert!(d
        .deliver("ada", Some("ada@example.org"), day(29), &l)
        .is_err());
    drop(d);
    let d = deliverer(&e, Some(&sink));
    let mut summary = DeliverySummary::default();
    summary.add(
        "ada",
        d.deliver("ada", Some("ada@example.org"), day(29), &l),
    );
    assert_eq!(summary.outcomes["ada"], UserOutcome::Unknown);
    assert!(summary.to_string().contains("unknown: ada"), "{summary}");
    assert!(!summary.any_failed());
    assert_eq!(sink.mails().len(), 0, "at most once: not resent");
}

#[test]
fn a_crash_after_the_smtp_handover_is_not_resent() {
    let sink = Sink::start();
    let e = env();
    let l = three("ada", 29, 1);
    let d = deliverer(&e, Some(&sink)).with_fault(Some(Fault::AfterSmtp));
    assert!(d
        .deliver("ada", Some("ada@example.org"), day(29), &l)
        .is_err());
    drop(d);
    assert_eq!(sink.mails().len(), 1);
    for _ in 0..2 {
        let d = deliverer(&e, Some(&sink));
        let out = d
            .deliver("ada", Some("ada@example.org"), day(29), &l)
            .unwrap();
        assert_eq!(out, UserOutcome::Unknown);
    }
    assert_eq!(sink.mails().len(), 1);
}

#[test]
fn an_empty_day_mails_nothing_but_is_recorded() {
    let sink = Sink::start();
    let e = env();
    let d = deliverer(&e, Some(&sink));
    let empty = listing("ada", 30, Vec::new());
    for _ in 0..2 {
        let out = d
            .deliver("ada", Some("ada@example.org"), day(30), &empty)
            .unwrap();
        assert_eq!(out, UserOutcome::NoItems);
    }
    assert_eq!(sink.mails().len(), 0);
    let record = d.ledger().load("ada", day(30)).unwrap().unwrap();
    assert_eq!(record.state, State::Empty);
    assert_eq!(validate_atom(&read(&d.feed_path("ada"))), Ok(0));
}

#[test]
fn without_an_address_or_mail_the_files_are_written_and_a_later_run_mails() {
    let sink = Sink::start();
    let e = env();
    let l = three("ada", 29, 1);
    let d = deliverer(&e, None);
    assert_eq!(
        d.deliver("ada", Some("ada@example.org"), day(29), &l)
            .unwrap(),
        UserOutcome::NotMailed
    );
    drop(d);
    let d = deliverer(&e, Some(&sink));
    assert_eq!(
        d.deliver("ada", None, day(29), &l).unwrap(),
        UserOutcome::NoAddress
    );
    assert!(d.digest_path("ada", day(29)).exists());
    assert_eq!(sink.mails().len(), 0);
    assert!(matches!(
        d.deliver("ada", Some("ada@example.org"), day(29), &l)
            .unwrap(),
        UserOutcome::Sent { .. }
    ));
    assert_eq!(sink.mails().len(), 1);
}

#[test]
fn the_feed_keeps_the_last_n_days_and_stays_valid() {
    let e = env();
    let d = deliverer(&e, None).with_feed_days(3);
    for k in 1..=5u32 {
        d.deliver("ada", None, day(k), &three("ada", k, 10 * k))
            .unwrap();
    }
    let feed = read(&d.feed_path("ada"));
    assert_eq!(validate_atom(&feed), Ok(9), "{feed}");
    // Days 3-5 are in it, newest day first; days 1-2 are not.
    let p = |id: &str| feed.find(&format!("abs/{id}<"));
    assert!(
        p("2605.00010").is_none() && p("2605.00020").is_none(),
        "{feed}"
    );
    let (d3, d4, d5) = (p("2605.00030"), p("2605.00040"), p("2605.00050"));
    assert!(d3.is_some() && d4.is_some() && d5.is_some(), "{feed}");
    assert!(d5 < d4 && d4 < d3, "{feed}");
    // The records that left the window keep their state, not their listing.
    let old = d.ledger().load("ada", day(1)).unwrap().unwrap();
    assert!(old.listing.is_none());
    assert_eq!(old.state, State::Ranked);
    assert!(d
        .ledger()
        .load("ada", day(4))
        .unwrap()
        .unwrap()
        .listing
        .is_some());
    // Delivering an older day again does not shrink the feed to that day.
    d.deliver("ada", None, day(4), &three("ada", 4, 40))
        .unwrap();
    assert_eq!(validate_atom(&read(&d.feed_path("ada"))), Ok(9));
    // No temporary file is left in the output folder.
    let names: Vec<String> = std::fs::read_dir(&e.out)
        .unwrap()
        .map(|x| x.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_second_deliverer_is_refused_while_one_runs() {
    let e = env();
    let d = deliverer(&e, None);
    let err = Deliverer::new(&e.lib, &e.out, None).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    drop(d);
    deliverer(&e, None);
}

#[test]
fn a_dead_smtp_server_fails_the_user_and_the_next_run_retries() {
    let e = env();
    // A port nobody listens on any more.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = SmtpUrl::parse(&format!("smtp://{addr}")).unwrap();
    let mut settings = MailSettings::new(url, "robot@example.org").unwrap();
    settings.timeout = Duration::from_secs(5);
    let d = Deliverer::new(&e.lib, &e.out, Some(settings)).unwrap();
    let l = three("ada", 29, 1);
    let out = d
        .deliver("ada", Some("ada@example.org"), day(29), &l)
        .unwrap();
    assert!(matches!(out, UserOutcome::Failed { .. }), "{out:?}");
    let record = d.ledger().load("ada", day(29)).unwrap().unwrap();
    assert_eq!(record.state, State::Failed);
    assert!(record.error.is_some());
    drop(d);
    let sink = Sink::start();
    let d = deliverer(&e, Some(&sink));
    assert!(matches!(
        d.deliver("ada", Some("ada@example.org"), day(29), &l)
            .unwrap(),
        UserOutcome::Sent { .. }
    ));
    assert_eq!(
        d.ledger().load("ada", day(29)).unwrap().unwrap().attempts,
        2
    );
}
