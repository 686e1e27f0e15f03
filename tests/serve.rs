//! `paperscout serve` through HTTP: the real binary bound to 127.0.0.1:0, on the
//! project's sample stored with its reference MiniLM vectors, plus two hostile records.
//! The API must list what the CLI lists (same ids, same order), guard each user's
//! profile, escape every stored text on pages, and see a commit without a restart.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use paperscout::library::{Library, Writer, WriterOptions};
use paperscout::paper::Paper;
use serde_json::Value;

use crate::common;

fn paperscout(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env_remove("PAPERSCOUT_MODEL")
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run paperscout");
    if let Some(mut input) = child.stdin.take() {
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn ok(args: &[&str]) -> String {
    ok_in(args, None)
}

fn ok_in(args: &[&str], stdin: Option<&str>) -> String {
    let out = paperscout(args, stdin);
    assert!(
        out.status.success(),
        "paperscout {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A running `paperscout serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(lib: &str, before: &[&str]) -> Server {
        let mut args: Vec<&str> = before.to_vec();
        args.extend(["serve", "--addr", "127.0.0.1:0", "--library", lib]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_paperscout"))
            .args(&args)
            .env_remove("PAPERSCOUT_MODEL")
            .env_remove("PAPERSCOUT_LIBRARY")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start paperscout serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("serve said {line:?}, not its address"))
            .parse()
            .unwrap();
        Server { child, addr }
    }
}

impl Server {
    /// SIGTERM, then wait for a successful exit.
    pub(crate) fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: HashMap<String, String>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection (a few lines instead of an HTTP
/// client crate: these tests only talk to their own server).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading all of a large body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {method} {path}: {:?}",
                String::from_utf8_lossy(&raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut hs = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().to_string();
            hs.entry(k)
                .and_modify(|old: &mut String| {
                    old.push('\n');
                    old.push_str(&v)
                })
                .or_insert(v);
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if hs
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers: hs,
        body: String::from_utf8(body).unwrap(),
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + size]);
        b = &b[end + 4 + size..];
    }
}

pub(crate) fn get(addr: SocketAddr, path: &str, token: &str) -> Answer {
    let auth = format!("Bearer {token}");
    http(addr, "GET", path, &[("Authorization", &auth)], b"")
}

pub(crate) fn post_json(addr: SocketAddr, path: &str, token: &str, body: &Value) -> Answer {
    let auth = format!("Bearer {token}");
    http(
        addr,
        "POST",
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

pub(crate) fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {v}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// A JSON listing without its time of making.
fn timeless(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("generated");
    v
}

fn assert_error(a: &Answer, status: u16, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.body);
    let v = a.json();
    assert_eq!(v["status"], status, "{what}: {}", a.body);
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {}",
        a.body
    );
}

/// Add `papers` to the library in `dir`, each with the vector of `like` (an existing
/// paper), in one commit.
fn add_papers(dir: &Path, papers: &[Paper], like: &str) {
    let lib = Library::open_any_model(dir).unwrap();
    let v = lib.vector(like).unwrap().to_vec();
    let model = lib.model().clone();
    drop(lib);
    let mut w = Writer::open(dir, &model, &WriterOptions::default()).unwrap();
    let plan = w.plan(papers);
    let vectors: Vec<Vec<f32>> = plan.indices.iter().map(|_| v.clone()).collect();
    w.upsert(papers, &vectors).unwrap();
    w.finish().unwrap();
}

fn paper(id: &str, title: &str, day: &str) -> Paper {
    let mut p = Paper::new(id, title);
    p.abstract_text = format!("An abstract with <b>markup</b> & \"quotes\" of {id}.");
    p.authors = vec!["<img src=x onerror=alert(2)>".into(), "A. Author".into()];
    p.categories = vec!["cs.CR".into()];
    p.listed = Some(day.parse().unwrap());
    p.url = Some("javascript:alert(3)".into());
    p.source = "jsonl".into();
    p
}

/// The account `user` with password from stdin, and an API token of it.
pub(crate) fn account(l: &str, user: &str) -> String {
    let said = ok_in(
        &["user", "add", user, "--library", l],
        Some("a long password\n"),
    );
    assert!(said.contains(user), "{said}");
    let out = ok(&["user", "token", user, "--library", l]);
    let token = out.lines().last().unwrap().trim().to_string();
    assert!(token.len() > 40 && !token.contains(' '), "{out}");
    token
}

const HOSTILE_SCRIPT: &str = "<script>alert(1)</script> A study";
const HOSTILE_IMG: &str = "\"><img src=x onerror=alert(1)> of attributes";

#[test]
fn serve_answers_like_the_cli_and_keeps_users_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    common::sample_library(&lib);
    add_papers(
        &lib,
        &[
            paper("2605.99001", HOSTILE_SCRIPT, "2026-05-29"),
            paper("2605.99002", HOSTILE_IMG, "2026-05-29"),
        ],
        "2605.24915",
    );
    let l = lib.to_str().unwrap();
    // Two users with profiles before they have accounts: the accounts keep them.
    ok(&[
        "profile",
        "ann",
        "like",
        "2605.24915",
        "2605.25345",
        "--library",
        l,
    ]);
    ok(&["profile", "bob", "like", "2605.26252", "--library", l]);
    let ann = account(l, "ann");
    let bob = account(l, "bob");
    let listed = ok(&["user", "list", "--library", l]);
    assert!(listed.contains("ann") && listed.contains("bob"), "{listed}");
    let show = ok(&["profile", "ann", "show", "--format", "json", "--library", l]);
    assert!(
        show.contains("2605.25345"),
        "the account lost the profile: {show}"
    );

    let model = common::real_model_dir();
    let server = Server::start(l, &["--model", model.to_str().unwrap()]);
    let a = server.addr;

    // Health, and the headers every answer carries.
    let h = http(a, "GET", "/healthz", &[], b"");
    assert_eq!(h.status, 200, "{}", h.body);
    assert!(h.headers["content-security-policy"].contains("default-src 'none'"));

    // 401 without a token, with a wrong one, with another scheme.
    assert_error(
        &http(a, "GET", "/api/v1/recommend", &[], b""),
        401,
        "no token",
    );
    assert_error(
        &get(a, "/api/v1/recommend", "pst_wrong"),
        401,
        "wrong token",
    );
    assert_error(
        &http(
            a,
            "GET",
            "/api/v1/profile",
            &[("Authorization", "Basic YW5uOng=")],
            b"",
        ),
        401,
        "basic auth",
    );

    // Recommend: the CLI (not recorded) and the API list the same day identically.
    for day in ["2026-05-27", "2026-05-29"] {
        let cli: Value = serde_json::from_str(&ok(&[
            "recommend",
            "ann",
            "--date",
            day,
            "--top",
            "15",
            "--format",
            "json",
            "--no-record",
            "--library",
            l,
        ]))
        .unwrap();
        let api = get(a, &format!("/api/v1/recommend?date={day}&top=15"), &ann);
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(ids(&api.json()), ids(&cli), "{day}");
        assert_eq!(timeless(api.json()), timeless(cli), "{day}");
    }
    // It was recorded as shown (the default, as in the CLI).
    let p = get(a, "/api/v1/profile", &ann).json();
    assert!(p["shown"].as_u64().unwrap() >= 15, "{p}");
    assert_eq!(p["user"], "ann");
    assert_eq!(p["likes"].as_array().unwrap().len(), 2);

    // Similar and search: the CLI's listings.
    let cli: Value = serde_json::from_str(&ok(&[
        "similar",
        "2605.26252",
        "--top",
        "7",
        "--format",
        "json",
        "--library",
        l,
    ]))
    .unwrap();
    let api = get(a, "/api/v1/papers/2605.26252/similar?top=7", &bob);
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(ids(&api.json()), ids(&cli));
    assert_eq!(timeless(api.json()), timeless(cli));
    let model_flag = model.to_str().unwrap();
    for q in [
        "atmospheric turbulence in video",
        "privacy attacks on language models",
    ] {
        let cli: Value = serde_json::from_str(&ok(&[
            "search",
            q,
            "--top",
            "6",
            "--format",
            "json",
            "--model",
            model_flag,
            "--library",
            l,
        ]))
        .unwrap();
        let path = format!("/api/v1/search?q={}&top=6", q.replace(' ', "%20"));
        let api = get(a, &path, &bob);
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(ids(&api.json()).len(), 6, "{}", api.body);
        assert_eq!(ids(&api.json()), ids(&cli), "{q}");
        assert_eq!(timeless(api.json()), timeless(cli), "{q}");
    }
    // A paper; an unknown one is 404.
    let p = get(a, "/api/v1/papers/2605.26252v2", &ann);
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.json()["id"], "2605.26252");
    assert_error(
        &get(a, "/api/v1/papers/2605.00000", &ann),
        404,
        "unknown paper",
    );
    assert_error(
        &get(a, "/api/v1/papers/2605.00000/similar", &ann),
        404,
        "unknown similar",
    );

    // 400 with a JSON body for bad parameters.
    for bad in [
        "/api/v1/recommend?top=0",
        "/api/v1/recommend?top=many",
        "/api/v1/recommend?date=May%2029",
        "/api/v1/recommend?date=2026-05-29&since=3",
        "/api/v1/recommend?since=0",
        "/api/v1/recommend?min_score=x",
        "/api/v1/recommend?categories=cs.NOPE",
        "/api/v1/recommend?include_seen=maybe",
        "/api/v1/search?q=",
        "/api/v1/papers/2605.26252/similar?top=-1",
    ] {
        assert_error(&get(a, bad, &ann), 400, bad);
    }

    // Likes go to the signed-in user's profile and to no other.
    let before_bob = get(a, "/api/v1/profile", &bob).json();
    let r = post_json(
        a,
        "/api/v1/likes",
        &ann,
        &serde_json::json!({"ids": ["2605.27686"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["added"], 1);
    let liked: Vec<String> = get(a, "/api/v1/profile", &ann).json()["likes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(liked.contains(&"2605.27686".to_string()), "{liked:?}");
    let after_bob = get(a, "/api/v1/profile", &bob).json();
    assert_eq!(before_bob["likes"], after_bob["likes"]);
    let cli = ok(&["profile", "ann", "show", "--format", "json", "--library", l]);
    assert!(
        cli.contains("2605.27686"),
        "the CLI sees the web's like: {cli}"
    );
    let r = post_json(
        a,
        "/api/v1/dislikes",
        &bob,
        &serde_json::json!({"ids": ["2605.27393"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        get(a, "/api/v1/profile", &bob).json()["dislikes"][0]["id"],
        "2605.27393"
    );
    let r = post_json(
        a,
        "/api/v1/unlike",
        &ann,
        &serde_json::json!({"ids": ["2605.27686"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        get(a, "/api/v1/profile", &ann).json()["likes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_error(
        &post_json(
            a,
            "/api/v1/likes",
            &ann,
            &serde_json::json!({"ids": ["2605.00000"]}),
        ),
        404,
        "like of an unknown paper",
    );
    assert_error(
        &post_json(a, "/api/v1/likes", &ann, &serde_json::json!({"ids": []})),
        400,
        "no ids",
    );
    assert_error(
        &post_json(a, "/api/v1/likes", &ann, &serde_json::json!({"id": "x"})),
        400,
        "bad body",
    );
    assert_error(
        &post_json(
            a,
            "/api/v1/likes",
            "pst_nobody",
            &serde_json::json!({"ids": ["2605.27686"]}),
        ),
        401,
        "like without account",
    );

    // 403 for another user's resources.
    assert_error(
        &get(a, "/api/v1/users/bob/profile", &ann),
        403,
        "bob's profile as ann",
    );
    assert_eq!(get(a, "/api/v1/users/ann/profile", &ann).status, 200);
    assert_error(
        &get(a, "/api/v1/recommend?user=bob", &ann),
        403,
        "bob's list as ann",
    );
    let accounts: Value =
        serde_json::from_str(&std::fs::read_to_string(lib.join("accounts/accounts.json")).unwrap())
            .unwrap();
    let feed = accounts["accounts"]["ann"]["feed_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_feed = accounts["accounts"]["bob"]["feed_token"]
        .as_str()
        .unwrap()
        .to_string();
    let f = http(a, "GET", &format!("/feeds/ann.atom?token={feed}"), &[], b"");
    assert_eq!(f.status, 200, "{}", f.body);
    assert!(f.body.contains("<feed") && f.headers["content-type"].contains("atom"));
    assert_eq!(
        http(
            a,
            "GET",
            &format!("/feeds/ann.atom?token={bob_feed}"),
            &[],
            b""
        )
        .status,
        403
    );
    assert_eq!(http(a, "GET", "/feeds/ann.atom", &[], b"").status, 401);

    // 413 for a 10 MB body.
    let big = vec![b' '; 10 * 1024 * 1024];
    let auth = format!("Bearer {ann}");
    let r = http(
        a,
        "POST",
        "/api/v1/likes",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.body);

    // Hostile records are escaped on the paper page (the raw markup never appears).
    for (id, title) in [("2605.99001", HOSTILE_SCRIPT), ("2605.99002", HOSTILE_IMG)] {
        let page = get(a, &format!("/papers/{id}"), &ann);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.headers["content-type"].starts_with("text/html"));
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(!page.body.contains("<b>markup"), "{}", page.body);
        assert!(!page.body.contains("href=\"javascript:"), "{}", page.body);
        let escaped = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(
            page.body.contains(&escaped),
            "{escaped} not in {}",
            page.body
        );
    }
    // Pages want a signed-in user.
    let r = http(a, "GET", "/today", &[], b"");
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.headers["location"].starts_with("/login"));

    // A commit by another process is seen without a restart.
    assert_eq!(get(a, "/api/v1/papers/2605.99003", &ann).status, 404);
    add_papers(
        &lib,
        &[paper("2605.99003", "Committed while serving", "2026-05-29")],
        "2605.26252",
    );
    let p = get(a, "/api/v1/papers/2605.99003", &ann);
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.json()["title"], "Committed while serving");

    // 32 concurrent clients of mixed requests: no error.
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let (ann, bob) = (ann.clone(), bob.clone());
            std::thread::spawn(move || {
                let token = if i % 2 == 0 { &ann } else { &bob };
                let mut statuses = Vec::new();
                for j in 0..4 {
                    let r = match (i + j) % 6 {
                        0 => get(a, "/api/v1/recommend?date=2026-05-28&top=10", token),
                        1 => get(a, "/api/v1/papers/2605.26252/similar?top=5", token),
                        2 => get(a, "/api/v1/papers/2605.27686", token),
                        3 => get(a, "/api/v1/profile", token),
                        4 => post_json(
                            a,
                            "/api/v1/likes",
                            token,
                            &serde_json::json!({"ids": ["2605.24915"]}),
                        ),
                        _ => http(a, "GET", "/healthz", &[], b""),
                    };
                    statuses.push((r.status, r.body));
                }
                statuses
            })
        })
        .collect();
    for h in handles {
        for (status, body) in h.join().unwrap() {
            assert_eq!(status, 200, "{body}");
        }
    }

    // Removing an account revokes its token and keeps the profile.
    ok(&["user", "remove", "bob", "--library", l]);
    assert_eq!(get(a, "/api/v1/profile", &bob).status, 401);
    assert!(lib.join("profiles/bob.json").is_file());
    drop(server);
}

#[test]
fn serve_stops_on_sigterm_and_pages_need_a_session_with_csrf() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    common::sample_library(&lib);
    let l = lib.to_str().unwrap();
    ok(&["profile", "cy", "like", "2605.24915", "--library", l]);
    ok_in(
        &["user", "add", "cy", "--library", l],
        Some("cy's password\n"),
    );
    let model = common::real_model_dir();
    let mut server = Server::start(l, &["--model", model.to_str().unwrap()]);
    let a = server.addr;

    // Sign in: the form's token must match its cookie, the password must be right.
    let login = http(a, "GET", "/login", &[], b"");
    assert_eq!(login.status, 200);
    let cookie = login.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = cookie.split('=').nth(1).unwrap().to_string();
    assert!(login.body.contains(&csrf));
    let form = |pw: &str, token: &str| {
        format!(
            "user=cy&password={}&csrf={token}&next=%2Ftoday",
            pw.replace(' ', "+").replace('\'', "%27")
        )
    };
    let ct = ("Content-Type", "application/x-www-form-urlencoded");
    let r = http(
        a,
        "POST",
        "/login",
        &[ct, ("Cookie", &cookie)],
        form("cy's password", "0000").as_bytes(),
    );
    assert_eq!(r.status, 403, "a forged sign-in form: {}", r.body);
    let r = http(
        a,
        "POST",
        "/login",
        &[ct, ("Cookie", &cookie)],
        form("wrong", &csrf).as_bytes(),
    );
    assert_eq!(r.status, 303);
    assert!(r.headers["location"].contains("failed"), "{:?}", r.headers);
    let r = http(
        a,
        "POST",
        "/login",
        &[ct, ("Cookie", &cookie)],
        form("cy's password", &csrf).as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let set = &r.headers["set-cookie"];
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let session = set.split(';').next().unwrap().to_string();

    // Today, with a form token per session; a form without it is refused.
    let today = http(
        a,
        "GET",
        "/today?date=2026-05-27",
        &[("Cookie", &session)],
        b"",
    );
    assert_eq!(today.status, 200, "{}", today.body);
    let token = today
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let first = today
        .body
        .split("id=\"p-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let like = format!("csrf=bad&id={first}&action=like&back=%2Ftoday");
    let r = http(
        a,
        "POST",
        "/act",
        &[ct, ("Cookie", &session)],
        like.as_bytes(),
    );
    assert_eq!(r.status, 403, "CSRF: {}", r.body);
    let like = format!("csrf={token}&id={first}&action=like&back=%2Ftoday%3Fdate%3D2026-05-27");
    let r = http(
        a,
        "POST",
        "/act",
        &[ct, ("Cookie", &session)],
        like.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let again = http(
        a,
        "GET",
        "/today?date=2026-05-27",
        &[("Cookie", &session)],
        b"",
    );
    assert!(
        !again.body.contains(&format!("id=\"p-{first}\"")),
        "a liked paper leaves the list"
    );
    let show = ok(&["profile", "cy", "show", "--format", "json", "--library", l]);
    assert!(show.contains(&first), "{show}");
    for path in [
        "/profile",
        "/search",
        "/map?date=2026-05-27",
        &format!("/papers/{first}"),
    ] {
        let p = http(a, "GET", path, &[("Cookie", &session)], b"");
        assert_eq!(p.status, 200, "{path}: {}", p.body);
    }
    // The digest's address from the profile page: CSRF-checked, then in the profile.
    let email = |token: &str, address: &str| {
        let body = format!("csrf={token}&address={}", address.replace('@', "%40"));
        http(
            a,
            "POST",
            "/profile/email",
            &[ct, ("Cookie", &session)],
            body.as_bytes(),
        )
    };
    assert_eq!(email("bad", "cy@example.org").status, 403);
    assert_eq!(email(&token, "not an address").status, 400);
    assert_eq!(email(&token, "cy@example.org").status, 303);
    let page = http(a, "GET", "/profile", &[("Cookie", &session)], b"");
    assert!(
        page.body.contains("value=\"cy@example.org\""),
        "{}",
        page.body
    );
    let show = ok(&["profile", "cy", "show", "--format", "json", "--library", l]);
    assert!(show.contains("cy@example.org"), "{show}");
    assert_eq!(email(&token, "").status, 303);
    let show: Value = serde_json::from_str(&ok(&[
        "profile",
        "cy",
        "show",
        "--format",
        "json",
        "--library",
        l,
    ]))
    .unwrap();
    assert!(show["email"].is_null(), "{show}");
    // Too many failed sign-ins are refused for a while.
    let mut last = 0;
    for _ in 0..8 {
        last = http(
            a,
            "POST",
            "/login",
            &[ct, ("Cookie", &cookie)],
            form("nope", &csrf).as_bytes(),
        )
        .status;
    }
    assert_eq!(last, 429);

    // SIGTERM: a graceful exit.
    server.terminate();

    // A restart keeps the session; the file holds only its hash, not the cookie.
    let saved = std::fs::read_to_string(Path::new(l).join("sessions.json")).unwrap();
    let id = session.split('=').nth(1).unwrap();
    assert!(!saved.contains(id), "{saved}");
    let server = Server::start(l, &[]);
    let p = http(server.addr, "GET", "/profile", &[("Cookie", &session)], b"");
    assert_eq!(
        p.status, 200,
        "the session did not survive a restart: {}",
        p.body
    );
    let out = http(
        server.addr,
        "POST",
        "/logout",
        &[ct, ("Cookie", &session)],
        format!("csrf={token}").as_bytes(),
    );
    assert_eq!(out.status, 303, "{}", out.body);
    let p = http(server.addr, "GET", "/profile", &[("Cookie", &session)], b"");
    assert_eq!(p.status, 303, "signed out: {}", p.body);
}
