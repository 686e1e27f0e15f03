//! The web pages in a real browser: headless Chromium driven through WebDriver
//! (Debian's `chromium` and `chromium-driver`, installed by
//! `scripts/install-test-deps.sh`) with fantoccini. Signs in, likes a paper on Today,
//! reloads and finds the list changed and the paper under the profile's likes, opens
//! similar papers, searches, opens the map. Screenshots of each page go to
//! `target/screenshots/` (look at them: the pages should be pleasant to read).
//!
//! Without Chromium the test fails under CI (`CI=true`) and says so elsewhere.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::common;

/// A child process killed when dropped.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args(args)
        .env_remove("PAPERSCOUT_LIBRARY")
        .env_remove("PAPERSCOUT_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "paperscout {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn source(c: &Client) -> String {
    c.source().await.unwrap()
}

#[test]
fn pages_work_in_headless_chromium() {
    let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
        let msg = "chromium and chromedriver are not installed: run scripts/install-test-deps.sh";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED pages_work_in_headless_chromium: {msg}");
        return;
    };

    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    common::sample_library(&lib);
    let l = lib.to_str().unwrap();
    run(
        &[
            "profile",
            "dee",
            "like",
            "2605.24915",
            "2605.25345",
            "--library",
            l,
        ],
        "",
    );
    run(
        &["user", "add", "dee", "--library", l],
        "browser password\n",
    );

    let model = common::real_model_dir();
    let mut server = Command::new(env!("CARGO_BIN_EXE_paperscout"))
        .args([
            "--model",
            model.to_str().unwrap(),
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--library",
            l,
        ])
        .env_remove("PAPERSCOUT_LIBRARY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Kill(server);
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let base = format!("http://{addr}");

    let port = free_port();
    let _driver = Kill(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1400"]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to chromedriver");

        // Sign in.
        c.goto(&format!("{base}/today")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/login"));
        shot(&c, "01-login").await;
        c.find(Locator::Css("input[name=user]")).await.unwrap().send_keys("dee").await.unwrap();
        c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("browser password").await.unwrap();
        c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("li.paper")).await.unwrap();
        assert_eq!(c.current_url().await.unwrap().path(), "/today");

        // Today of a given day; like its first paper in place.
        c.goto(&format!("{base}/today?date=2026-05-27")).await.unwrap();
        let first = c.find(Locator::Css("li.paper")).await.unwrap();
        let id = first.attr("id").await.unwrap().unwrap();
        let paper_id = id.trim_start_matches("p-").to_string();
        let title = first.find(Locator::Css("a.title")).await.unwrap().text().await.unwrap();
        shot(&c, "02-today").await;
        first.find(Locator::Css("button.like")).await.unwrap().click().await.unwrap();
        // In place (the script dims it), or through the form's post and redirect.
        let started = Instant::now();
        loop {
            let html = source(&c).await;
            if html.contains("paper done") || !html.contains(&format!("id=\"{id}\"")) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the like did not take");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        shot(&c, "03-today-liked").await;

        // Reloaded, the liked paper has left the list and is under the likes.
        c.refresh().await.unwrap();
        c.wait().for_element(Locator::Css("li.paper")).await.unwrap();
        let html = source(&c).await;
        assert!(!html.contains(&format!("id=\"{id}\"")), "{paper_id} still listed after a like");
        c.goto(&format!("{base}/profile")).await.unwrap();
        let html = source(&c).await;
        assert!(html.contains(&paper_id), "{paper_id} not among the likes");
        let shown_title = title.trim();
        assert!(c.find(Locator::LinkText(shown_title)).await.is_ok(), "{shown_title} not under likes");
        shot(&c, "04-profile").await;

        // The paper and its similar papers.
        c.find(Locator::LinkText(shown_title)).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("article.paper-page")).await.unwrap();
        let similar = c.find_all(Locator::Css("li.paper")).await.unwrap();
        assert!(similar.len() >= 5, "{} similar papers", similar.len());
        shot(&c, "05-paper").await;

        // Search.
        c.goto(&format!("{base}/search")).await.unwrap();
        let q = c.find(Locator::Css("input[name=q]")).await.unwrap();
        q.send_keys("reinforcement learning for robots").await.unwrap();
        c.find(Locator::Css("form.search button")).await.unwrap().click().await.unwrap();
        // (Results need the model the library was built with; the sample library's
        // stored model name differs from the project's model directory's, so only the
        // round trip is checked here.)
        // The search page's own `main` is there before the click's navigation ends, so
        // wait for the URL instead (checking it at once failed once under load).
        let started = Instant::now();
        while !c.current_url().await.unwrap().query().unwrap_or("").contains("q=") {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the search form did not submit: {}",
                c.current_url().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.wait().for_element(Locator::Css("main")).await.unwrap();
        shot(&c, "06-search").await;

        // The map: points, each a link.
        c.goto(&format!("{base}/map?date=2026-05-27")).await.unwrap();
        let points = c.find_all(Locator::Css("svg a circle")).await.unwrap();
        assert!(points.len() >= 80, "{} points on the map", points.len());
        shot(&c, "07-map").await;

        // A phone-sized Today.
        c.set_window_size(412, 915).await.unwrap();
        c.goto(&format!("{base}/today?date=2026-05-28")).await.unwrap();
        c.wait().for_element(Locator::Css("li.paper")).await.unwrap();
        shot(&c, "08-today-phone").await;
        c.close().await.unwrap();
    });
}
