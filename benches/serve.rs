//! `paperscout serve` under load: a real 27k-paper library (`../shared/data`'s papers
//! with their reference MiniLM vectors, no model runs), 16 users with likes and tokens,
//! the server binary on 127.0.0.1:0, and 64 concurrent keep-alive connections sending a
//! mix of requests (recommend, similar, paper, profile, like) for a bounded time and
//! count: once as fast as the connections go (the most it answers) and once with
//! requests due at a fixed rate (default 300/s, `$PAPERSCOUT_BENCH_RATE`; times from
//! when each was due). Reports requests/s, p50/p99 per endpoint, errors and the
//! server's peak RSS;
//! then the same while another process's ingest commits into the library.
//!
//! `cargo bench --bench serve` (harness = false: a plain main printing figures).
//! Targets (2 cores): recommend p99 < 50 ms warm, similar p99 < 20 ms, >= 300 req/s.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paperscout::eval::EvalCorpus;
use paperscout::library::accounts::Accounts;
use paperscout::library::{Library, ModelInfo, Writer, WriterOptions};
use paperscout::paper::Paper;
use paperscout::rank::SplitMix64;

const CONNECTIONS: usize = 64;
const USERS: usize = 16;
const MAX_REQUESTS: usize = 40_000;
const PHASE: Duration = Duration::from_secs(20);

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("serve bench: {e:#}");
    std::process::exit(1)
}

/// One keep-alive connection.
struct Conn {
    addr: SocketAddr,
    reader: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn request(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> std::io::Result<u16> {
        if self.reader.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.reader = Some(BufReader::new(s));
        }
        let r = self.reader.as_mut().expect("connected");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let result = exchange(r, &head);
        match result {
            Ok((status, close)) => {
                if close {
                    self.reader = None;
                }
                Ok(status)
            }
            Err(e) => {
                self.reader = None;
                Err(e)
            }
        }
    }
}

/// Send one request and read its answer: (status, whether the server closes).
fn exchange(r: &mut BufReader<TcpStream>, head: &str) -> std::io::Result<(u16, bool)> {
    r.get_mut().write_all(head.as_bytes())?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len = 0usize;
    let mut close = false;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") && lower.contains("close") {
            close = true;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((status, close))
}

#[derive(Default)]
struct Stats {
    by_kind: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<String, usize>,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The machine's load average (`/proc/loadavg`), printed beside every figure: the
/// machine may be shared.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// CPU seconds (user + system) the process `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        // Clock ticks are 100 a second on Linux.
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// A memory figure of `/proc/PID/status` (`VmHWM:` the peak RSS, `VmRSS:` the RSS
/// now), in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Load {
    addr: SocketAddr,
    tokens: Vec<String>,
    days: Vec<String>,
    ids: Vec<String>,
}

/// One request of the mix, drawn with `rng`: (kind, method, path, body, user).
fn draw(load: &Load, rng: &mut SplitMix64) -> (&'static str, &'static str, String, String, usize) {
    let user = (rng.next_u64() as usize) % load.tokens.len();
    let id = &load.ids[(rng.next_u64() as usize) % load.ids.len()];
    let roll = rng.next_u64() % 100;
    let (kind, method, path, body) = match roll {
        0..=34 => {
            let day = &load.days[(rng.next_u64() as usize) % load.days.len()];
            (
                "recommend",
                "GET",
                format!("/api/v1/recommend?date={day}&top=20"),
                String::new(),
            )
        }
        35..=64 => (
            "similar",
            "GET",
            format!("/api/v1/papers/{id}/similar?top=10"),
            String::new(),
        ),
        65..=79 => (
            "paper",
            "GET",
            format!("/api/v1/papers/{id}"),
            String::new(),
        ),
        80..=92 => (
            "profile",
            "GET",
            "/api/v1/profile".to_string(),
            String::new(),
        ),
        _ => (
            "like",
            "POST",
            "/api/v1/likes".to_string(),
            format!("{{\"ids\":[\"{id}\"]}}"),
        ),
    };
    (kind, method, path, body, user)
}

/// How a phase sends its requests.
#[derive(Clone, Copy)]
enum Pace {
    /// Each of the 64 connections sends its next request as soon as the last one is
    /// answered (closed loop): the most the server answers, with 64 requests always
    /// waiting on it (by Little's law their mean time is 64 / throughput).
    Flat,
    /// Requests due at a fixed rate (open loop, requests/s), each taken by whichever
    /// of the 64 connections is free; a request's time runs from when it was due, so
    /// a server that falls behind is charged for the wait (no coordinated omission).
    Rate(f64),
}

/// 64 connections of mixed requests until `PHASE` or `MAX_REQUESTS`, paced by `pace`;
/// `seed` draws the phase's requests (each phase its own).
fn run_phase(load: &Arc<Load>, name: &str, pid: u32, pace: Pace, seed: u64) {
    let stats = Arc::new(Mutex::new(Stats::default()));
    let count = Arc::new(AtomicUsize::new(0));
    let (load_before, cpu_before) = (loadavg(), cpu_seconds(pid));
    let start = Instant::now();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (load, stats, count) = (Arc::clone(load), Arc::clone(&stats), Arc::clone(&count));
            std::thread::spawn(move || {
                let mut rng = SplitMix64::derive(seed, c as u64);
                let mut conn = Conn {
                    addr: load.addr,
                    reader: None,
                };
                let mut mine: Stats = Stats::default();
                loop {
                    let k = count.fetch_add(1, Ordering::Relaxed);
                    if k >= MAX_REQUESTS || start.elapsed() >= PHASE {
                        break;
                    }
                    // When this request is due, and what it is.
                    let (due, (kind, method, path, body, user)) = match pace {
                        Pace::Flat => (Instant::now(), draw(&load, &mut rng)),
                        Pace::Rate(rate) => {
                            let due = start + Duration::from_secs_f64(k as f64 / rate);
                            if due >= start + PHASE {
                                break;
                            }
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            }
                            (due, draw(&load, &mut SplitMix64::derive(seed, k as u64)))
                        }
                    };
                    let token = &load.tokens[user];
                    match conn.request(method, &path, token, &body) {
                        Ok(200) => mine
                            .by_kind
                            .entry(kind)
                            .or_default()
                            .push(due.elapsed().as_secs_f64() * 1000.0),
                        Ok(s) => *mine.errors.entry(format!("{kind}: HTTP {s}")).or_default() += 1,
                        Err(e) => {
                            *mine
                                .errors
                                .entry(format!("{kind}: {}", e.kind()))
                                .or_default() += 1
                        }
                    }
                }
                let mut all = stats.lock().unwrap_or_else(|e| e.into_inner());
                for (k, v) in mine.by_kind {
                    all.by_kind.entry(k).or_default().extend(v);
                }
                for (k, n) in mine.errors {
                    *all.errors.entry(k).or_default() += n;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    let ok: usize = stats.by_kind.values().map(Vec::len).sum();
    let errors: usize = stats.errors.values().sum();
    println!(
        "{name}: {ok} ok + {errors} errors in {secs:.1} s over {CONNECTIONS} connections: {:.0} req/s; server peak RSS {:.0} MB (now {:.0} MB)",
        ok as f64 / secs,
        peak_rss_mb(pid),
        status_mb(pid, "VmRSS:")
    );
    let cpu = cpu_seconds(pid) - cpu_before;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "  server CPU {cpu:.1} s ({:.2} ms a request: {cores} cores serve at most {:.0} req/s at that cost); load average {load_before} before, {} after",
        cpu * 1000.0 / ok.max(1) as f64,
        cores as f64 * ok as f64 / cpu,
        loadavg()
    );
    for (kind, v) in stats.by_kind.iter_mut() {
        let n = v.len();
        let (p50, p99) = (percentile(v, 0.5), percentile(v, 0.99));
        println!("  {kind:<10} {n:>6}  p50 {p50:>7.1} ms  p99 {p99:>7.1} ms");
    }
    for (e, n) in &stats.errors {
        println!("  error {e}: {n}");
    }
}

fn main() {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    let data = paperscout::eval::default_corpus(); // $PAPERSCOUT_DATA, else ../shared/data
    let corpus = EvalCorpus::load_dir(&data, None).unwrap_or_else(|e| fail(e));
    let n = corpus.papers().len();
    let dim = corpus.dim();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let dir = tmp.path().join("library");
    let model = ModelInfo::new(
        "sentence-transformers/all-MiniLM-L6-v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dim,
    );
    let vector = |i: usize| corpus.vectors()[i * dim..(i + 1) * dim].to_vec();
    let mut w = Writer::open(&dir, &model, &WriterOptions::default()).unwrap_or_else(|e| fail(e));
    let vectors: Vec<Vec<f32>> = (0..n).map(vector).collect();
    w.upsert(corpus.papers(), &vectors)
        .unwrap_or_else(|e| fail(e));
    w.finish().unwrap_or_else(|e| fail(e));
    println!("library: {n} papers");

    let lib = Library::open(&dir, &model).unwrap_or_else(|e| fail(e));
    let mut days: Vec<String> = lib
        .papers()
        .filter_map(|p| p.listed.map(|d| d.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    days = days.split_off(days.len().saturating_sub(10));
    let ids: Vec<String> = lib.papers().step_by(7).map(|p| p.id.clone()).collect();
    // Users who like 10 papers each.
    let accounts = Accounts::new(&dir);
    let mut rng = SplitMix64::new(7);
    let mut tokens = Vec::new();
    for u in 0..USERS {
        let user = format!("user{u}");
        let likes: Vec<String> = (0..10)
            .map(|_| ids[(rng.next_u64() as usize) % ids.len()].clone())
            .collect();
        paperscout::app::profile::mark(&lib, &user, &likes, true).unwrap_or_else(|e| fail(e));
        accounts
            .set_password(&user, "bench password")
            .unwrap_or_else(|e| fail(e));
        tokens.push(accounts.new_token(&user).unwrap_or_else(|e| fail(e)));
    }
    drop(lib);

    // The binary cargo built with this bench (the bench profile: optimised).
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_paperscout"));
    // $PAPERSCOUT_BENCH_LOG=FILE: the server's log (access log with each request's
    // time, each training's time) into FILE, to see where the time goes.
    let mut server = Command::new(&bin);
    server
        .args(["serve", "--addr", "127.0.0.1:0", "--library"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(path) = std::env::var_os("PAPERSCOUT_BENCH_LOG") {
        let file = std::fs::File::create(&path).unwrap_or_else(|e| fail(e));
        server
            .env("RUST_LOG", "warn,paperscout=info")
            .stderr(Stdio::from(file));
    }
    let mut server = server.spawn().unwrap_or_else(|e| fail(e));
    let mut line = String::new();
    if let Some(out) = server.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| fail(format!("serve said {line:?}")));
    let pid = server.id();
    let load = Arc::new(Load {
        addr,
        tokens,
        days,
        ids,
    });

    // Warm: what the mix asks for, asked once before it is timed: every user's feed
    // trained and every one of the days ranked for them, every paper of the mix asked
    // for similar papers (the server keeps the tf-idf rows of what it has ranked or
    // re-scored for the commit). A server that has run a while is in that state.
    let warm_start = Instant::now();
    let warmers: Vec<_> = (0..4)
        .map(|w| {
            let load = Arc::clone(&load);
            std::thread::spawn(move || {
                let mut conn = Conn {
                    addr: load.addr,
                    reader: None,
                };
                let mut asked = 0usize;
                for t in load.tokens.iter().skip(w).step_by(4) {
                    for day in &load.days {
                        let _ = conn.request(
                            "GET",
                            &format!("/api/v1/recommend?date={day}&top=20"),
                            t,
                            "",
                        );
                        asked += 1;
                    }
                }
                for id in load.ids.iter().skip(w).step_by(4) {
                    let _ = conn.request(
                        "GET",
                        &format!("/api/v1/papers/{id}/similar?top=10"),
                        &load.tokens[0],
                        "",
                    );
                    asked += 1;
                }
                asked
            })
        })
        .collect();
    let asked: usize = warmers.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    println!(
        "warm-up: {asked} requests (every user x day recommended, every paper of the mix asked for similar) in {:.1} s",
        warm_start.elapsed().as_secs_f64()
    );
    // $PAPERSCOUT_BENCH_RATE: the paced phases' rate (default the 300/s).
    let rate = std::env::var("PAPERSCOUT_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .unwrap_or(300.0);
    let paced = format!("{rate:.0} requests/s due over 64 connections");
    let flat = "as fast as 64 connections go".to_string();
    run_phase(&load, &format!("warm, {flat}"), pid, Pace::Flat, 1);
    run_phase(&load, &format!("warm, {paced}"), pid, Pace::Rate(rate), 2);

    // The same while another writer commits 5 batches of 200 papers.
    let base: Vec<Paper> = corpus.papers()[..200].to_vec();
    let v0 = vector(0);
    for (phase, pace, seed) in [(flat, Pace::Flat, 3), (paced, Pace::Rate(rate), 4)] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = spawn_writer(&dir, &model, &base, &v0, seed, &stop);
        run_phase(
            &load,
            &format!("while an ingest commits, {phase}"),
            pid,
            pace,
            seed,
        );
        stop.store(true, Ordering::Relaxed);
        let commits = writer.join().unwrap_or(0);
        println!("  ({commits} commits of 200 papers during the phase)");
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Another writer committing 5 batches of `base` (ids `bench.PHASE.ROUND.I`, vector
/// `v`) into `dir`, 3 s apart, until `stop`; its thread answers how many committed.
fn spawn_writer(
    dir: &std::path::Path,
    model: &ModelInfo,
    base: &[Paper],
    v: &[f32],
    phase: u64,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let (dir, model, stop) = (dir.to_path_buf(), model.clone(), Arc::clone(stop));
    let (base, v0) = (base.to_vec(), v.to_vec());
    let nice = std::env::var("PAPERSCOUT_BENCH_WRITER_NICE")
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    std::thread::spawn(move || {
        // $PAPERSCOUT_BENCH_WRITER_NICE=N: the ingest at nice N, as `nice -n N
        // paperscout daily` runs it beside a server (Linux: per thread).
        if let Some(n) = nice {
            // SAFETY: gettid takes no argument; setpriority changes only this
            // thread's own priority.
            let failed = unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, n) != 0
            };
            println!(
                "  (the ingest at nice {n}{})",
                if failed { ": refused" } else { "" }
            );
        }
        let mut commits = 0;
        for round in 0..5 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_secs(3));
            let batch: Vec<Paper> = base
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut q = p.clone();
                    q.id = format!("bench.{phase}.{round}.{i}");
                    q
                })
                .collect();
            let Ok(mut w) = Writer::open(&dir, &model, &WriterOptions::default()) else {
                continue;
            };
            let vs: Vec<Vec<f32>> = batch.iter().map(|_| v0.clone()).collect();
            if w.upsert(&batch, &vs).is_ok() && w.finish().is_ok() {
                commits += 1;
            }
        }
        commits
    })
}
