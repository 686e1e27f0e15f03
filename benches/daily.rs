//! `paperscout daily`'s delivery at scale: one 2,000-paper day delivered to 1,000 users —
//! training each profile and ranking the day (`recommend::train` and
//! `recommend::recommend`, as `paperscout recommend` does), then per user the HTML
//! digest, the Atom feed, the ledger and the mail handed to a loopback SMTP server run
//! here. The embedding of the day's papers is not included (their reference MiniLM
//! vectors are stored), nor the fetch.
//!
//! The library is built in a temporary directory from `../shared/data`'s 27,085 papers
//! and their reference vectors; the 2,000 most recently listed papers are moved to one
//! new listing day (the real busiest day has 643). Profiles: 5-30 likes around a random
//! paper, as the `recommend` bench draws them, each with a mail address.
//!
//! `cargo bench --bench daily` (harness = false: a plain main printing figures).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Days, Utc};
use paperscout::config::{MailSettings, SmtpUrl};
use paperscout::delivery::{Deliverer, DeliverySummary};
use paperscout::eval::EvalCorpus;
use paperscout::library::profiles::Profile;
use paperscout::library::{Library, ModelInfo, Writer, WriterOptions};
use paperscout::rank::{self, RankConfig, SplitMix64};
use paperscout::recommend::{self, RecommendOptions};
use paperscout::render::{Listing, Subject};
use rayon::prelude::*;

const DAY_PAPERS: usize = 2_000;
const USERS: usize = 1_000;
const TOP: usize = 20;

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("daily bench: {e:#}");
    std::process::exit(1)
}

/// A loopback SMTP server that accepts every mail and counts them.
fn sink(count: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(e));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(e));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                let _ = session(conn, &count);
            });
        }
    });
    addr
}

fn session(conn: TcpStream, count: &AtomicUsize) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    out.write_all(b"220 sink\r\n")?;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink\r\n250 8BITMIME\r\n")?,
            "DATA" => {
                out.write_all(b"354 go on\r\n")?;
                loop {
                    let mut l = String::new();
                    if input.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
                out.write_all(b"250 queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"250 OK\r\n")?,
        }
    }
}

fn cpu_model() -> String {
    std::process::Command::new("lscpu")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("Model name"))
                .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no lscpu)".into())
}

fn main() {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    println!("cpu: {}", cpu_model());
    println!("threads: {}", rayon::current_num_threads());
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/arxiv-daily-cs-2026h1");
    let corpus = EvalCorpus::load_dir(&data, None).unwrap_or_else(|e| fail(e));
    let n = corpus.papers().len();
    let dim = corpus.dim();

    // The 2,000 most recently listed papers become one new day.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((corpus.listed(i), i)));
    let last = corpus.listed(order[0]);
    let today = last + Days::new(1);
    let mut papers = corpus.papers().to_vec();
    for &i in &order[..DAY_PAPERS.min(n)] {
        papers[i].listed = Some(today);
    }

    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let dir = tmp.path().join("library");
    let model = ModelInfo::new(
        "sentence-transformers/all-MiniLM-L6-v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dim,
    );
    let t = Instant::now();
    let mut w = Writer::open(&dir, &model, &WriterOptions::default()).unwrap_or_else(|e| fail(e));
    let vectors: Vec<Vec<f32>> = (0..n)
        .map(|i| corpus.vectors()[i * dim..(i + 1) * dim].to_vec())
        .collect();
    w.upsert(&papers, &vectors).unwrap_or_else(|e| fail(e));
    w.finish().unwrap_or_else(|e| fail(e));
    println!(
        "build the library ({n} papers, stored vectors; not timed below): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Profiles: 5-30 likes around a random paper.
    let now: DateTime<Utc> =
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_else(|| fail("a time"));
    let mut g = SplitMix64::new(1);
    let vector = |i: usize| &corpus.vectors()[i * dim..(i + 1) * dim];
    let profiles: Vec<(Profile, String)> = (0..USERS)
        .map(|u| {
            let seed = g.below(n);
            let sims: Vec<f32> = (0..n).map(|i| rank::dot(vector(seed), vector(i))).collect();
            let likes = rank::top_k(&sims, g.range_inclusive(5, 30));
            let ids: Vec<String> = likes.iter().map(|&i| papers[i].id.clone()).collect();
            let user = format!("u{u:04}");
            let mut profile = Profile::new(&user, now);
            profile.like(&ids, now);
            (profile, format!("{user}@example.org"))
        })
        .collect();

    let mails = Arc::new(AtomicUsize::new(0));
    let addr = sink(mails.clone());
    let settings = MailSettings::new(
        SmtpUrl::parse(&format!("smtp://{addr}")).unwrap_or_else(|e| fail(e)),
        "paperscout <robot@example.org>",
    )
    .unwrap_or_else(|e| fail(e));
    let out = tmp.path().join("out");

    // ---- timed: what `paperscout daily` does after the fetch and ingest ----
    let total = Instant::now();
    let t = Instant::now();
    let lib = Library::open(&dir, &model).unwrap_or_else(|e| fail(e));
    let tfidf = recommend::library_tfidf(&lib).unwrap_or_else(|e| fail(e));
    let tfidf = tfidf.as_ref();
    // One set of tf-idf rows for all users, as `paperscout daily` does.
    let rows = recommend::TextRows::new(&lib, tfidf);
    let open_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let listings: Vec<Listing> = profiles
        .par_iter()
        .map(|(profile, _)| {
            let trained = recommend::train_with(&lib, &rows, profile, &RankConfig::default())
                .unwrap_or_else(|e| fail(e));
            let opts = RecommendOptions {
                from: today,
                to: today,
                top: TOP,
                min_score: None,
                categories: Vec::new(),
                include_seen: false,
            };
            let items = recommend::recommend_with(&lib, &rows, profile, &trained, &opts)
                .unwrap_or_else(|e| fail(e));
            Listing {
                subject: Subject::Recommend {
                    user: profile.user.clone(),
                },
                date: Some(today),
                since: None,
                generated: now,
                items,
                threshold: None,
                quiet: Vec::new(),
            }
        })
        .collect();
    let rank_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let deliverer = Deliverer::new(&dir, &out, Some(settings)).unwrap_or_else(|e| fail(e));
    let outcomes: Vec<_> = profiles
        .par_iter()
        .zip(&listings)
        .map(|((profile, email), listing)| {
            (
                profile.user.clone(),
                deliverer.deliver(&profile.user, Some(email), today, listing),
            )
        })
        .collect();
    let deliver_s = t.elapsed().as_secs_f64();
    let total_s = total.elapsed().as_secs_f64();

    let mut summary = DeliverySummary::default();
    for (user, outcome) in outcomes {
        summary.add(&user, outcome);
    }
    println!("{summary}");
    if summary.sent() != USERS || mails.load(Ordering::Relaxed) != USERS {
        fail(format!(
            "expected {USERS} mails, the sink got {}",
            mails.load(Ordering::Relaxed)
        ));
    }
    println!(
        "a {DAY_PAPERS}-paper day ({today}) to {USERS} users, top {TOP} each: total {total_s:.1} s = {:.1} users/s",
        USERS as f64 / total_s
    );
    println!("  open the library + fit its tf-idf (new commit, as after an ingest): {open_s:.2} s");
    println!(
        "  train every profile and rank the day (recommend::train_with + recommend_with, shared text rows): {rank_s:.1} s ({:.1} users/s)",
        USERS as f64 / rank_s
    );
    println!(
        "  digests, feeds, ledger and mail to the loopback SMTP server: {deliver_s:.1} s ({:.1} users/s)",
        USERS as f64 / deliver_s
    );
}
