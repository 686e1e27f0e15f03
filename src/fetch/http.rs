//! The one polite HTTP client every source goes through: a User-Agent naming
//! paperscout and its contact, spacing between requests to the arXiv hosts, timeouts,
//! bounded retries with exponential backoff that honour `Retry-After`, conditional
//! requests (`If-None-Match`/`If-Modified-Since`), and a check that the body is the kind
//! of document asked for. It knows nothing of sources, state files or papers.
//!
//! Built on `ureq` (blocking, rustls, gzip), which the crate already links through
//! `hf-hub`, so it adds no compile time; it reads `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`
//! and `NO_PROXY`. Loopback hosts (`127.0.0.1`, `localhost`, `::1`) never go through a
//! proxy: a stand-in server on this machine is meant to be reached directly.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::FetchSettings;
use crate::error::{Error, Result};

/// What a request expects in a successful body: the check that catches an HTML error
/// page served with status 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Xml,
    Json,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Xml => "XML",
            Expect::Json => "JSON",
        }
    }
}

/// Validators to send with a request, from the last successful answer for its URL.
#[derive(Debug, Clone, Default)]
pub(crate) struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A usable answer.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 2xx with a body of the expected kind, and the validators the server gave.
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
    /// 304: the document has not changed since the validators sent.
    NotModified,
}

/// Why one attempt did not give an answer.
enum Failure {
    /// Worth another attempt, after `wait` when the server said so (`Retry-After`).
    Retry {
        what: String,
        wait: Option<Duration>,
    },
    /// Not worth another attempt.
    Fatal(String),
}

/// The client. One per run; it remembers when each host was last asked.
pub(crate) struct Client {
    settings: FetchSettings,
    agent: ureq::Agent,
    direct: ureq::Agent,
    /// `host:port` of every arXiv endpoint: requests to these are spaced.
    spaced: Vec<String>,
    /// When the last request to each spaced host ended.
    last: HashMap<String, Instant>,
}

/// The largest body accepted, in bytes (as the largest document `ingest` reads).
const MAX_BODY: u64 = crate::ingest::MAX_DOCUMENT_BYTES;

impl Client {
    pub(crate) fn new(settings: &FetchSettings) -> Result<Client> {
        settings.validate()?;
        let build = |proxy: bool| -> ureq::Agent {
            let mut config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(settings.user_agent())
                .timeout_connect(Some(settings.connect_timeout))
                .timeout_global(Some(settings.timeout))
                .max_redirects(5);
            if !proxy {
                config = config.proxy(None);
            }
            config.build().into()
        };
        let spaced = [
            &settings.arxiv_rss,
            &settings.arxiv_oai,
            &settings.arxiv_api,
        ]
        .iter()
        .filter_map(|u| host_key(u))
        .collect();
        Ok(Client {
            settings: settings.clone(),
            agent: build(true),
            direct: build(false),
            spaced,
            last: HashMap::new(),
        })
    }

    /// GET `url`, retrying what is worth retrying, at most `max_retries` times more.
    /// The error names the URL, the attempts made and the last thing that went wrong.
    pub(crate) fn get(
        &mut self,
        url: &str,
        expect: Expect,
        validators: Option<&Validators>,
    ) -> Result<Answer> {
        let fetch_err = |message: String| Error::Fetch {
            url: url.to_string(),
            message,
        };
        let host =
            host_key(url).ok_or_else(|| fetch_err("not an http:// or https:// URL".to_string()))?;
        let spaced = self.spaced.contains(&host);
        let started = Instant::now();
        let attempts = self.settings.max_retries.saturating_add(1);
        let mut backoff = self.settings.backoff;
        for attempt in 1..=attempts {
            if spaced {
                if let Some(last) = self.last.get(&host) {
                    let ready = *last + self.settings.arxiv_interval;
                    let now = Instant::now();
                    if ready > now {
                        thread::sleep(ready - now);
                    }
                }
            }
            let outcome = self.attempt(url, &host, expect, validators);
            if spaced {
                self.last.insert(host.clone(), Instant::now());
            }
            let (what, asked) = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Failure::Fatal(m)) => {
                    return Err(fetch_err(if attempt == 1 {
                        m
                    } else {
                        format!("{m} (attempt {attempt} of {attempts})")
                    }))
                }
                Err(Failure::Retry { what, wait }) => (what, wait),
            };
            let summary = || {
                format!(
                    "{what}; gave up after {attempt} attempt{} in {:.1} s",
                    if attempt == 1 { "" } else { "s" },
                    started.elapsed().as_secs_f64()
                )
            };
            if attempt == attempts {
                return Err(fetch_err(summary()));
            }
            let wait = match asked {
                Some(w) if w > self.settings.max_retry_after => {
                    return Err(fetch_err(format!(
                        "{what}; the server asks to retry after {} s, longer than the {} s we wait (max_retry_after): try again later",
                        w.as_secs(),
                        self.settings.max_retry_after.as_secs()
                    )));
                }
                Some(w) => w,
                None => backoff.min(self.settings.max_retry_after),
            };
            tracing::warn!(
                url,
                attempt,
                wait_s = wait.as_secs_f64(),
                "{what}; retrying"
            );
            thread::sleep(wait);
            backoff = backoff.saturating_mul(2);
        }
        // The loop returns on its last attempt.
        Err(fetch_err("no attempt was made".to_string()))
    }

    fn attempt(
        &self,
        url: &str,
        host: &str,
        expect: Expect,
        validators: Option<&Validators>,
    ) -> Result<Answer, Failure> {
        let agent = if is_loopback(host) {
            &self.direct
        } else {
            &self.agent
        };
        let mut request = agent.get(url).header(
            "Accept",
            match expect {
                Expect::Xml => "application/atom+xml, application/rss+xml, application/xml, text/xml;q=0.9, */*;q=0.1",
                Expect::Json => "application/json, */*;q=0.1",
            },
        );
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header("If-None-Match", etag);
            }
            if let Some(lm) = &v.last_modified {
                request = request.header("If-Modified-Since", lm);
            }
        }
        let mut response = request.call().map_err(transport_failure)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let content_type = header("content-type").unwrap_or_default();
        let got = Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        if status == 304 {
            return if validators.is_some() {
                Ok(Answer::NotModified)
            } else {
                Err(Failure::Fatal(
                    "HTTP 304 Not Modified to a request that sent no validators".into(),
                ))
            };
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec();
        if (200..300).contains(&status) {
            let bytes = body.map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(n) => Failure::Fatal(format!(
                    "the answer is larger than {} MiB ({n} bytes read)",
                    MAX_BODY >> 20
                )),
                e => Failure::Retry {
                    what: format!("the body broke off: {}", transport_message(&e)),
                    wait: None,
                },
            })?;
            check_kind(&bytes, &content_type, expect).map_err(Failure::Fatal)?;
            return Ok(Answer::Body {
                bytes,
                validators: got,
            });
        }
        let snippet = body
            .map(|b| body_snippet(&b))
            .unwrap_or_else(|e| format!("(body unreadable: {})", transport_message(&e)));
        let reason = response
            .status()
            .canonical_reason()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        let what = if snippet.is_empty() {
            format!("HTTP {status}{reason}")
        } else {
            format!("HTTP {status}{reason}: {snippet}")
        };
        match status {
            429 | 503 => Err(Failure::Retry {
                what,
                wait: retry_after,
            }),
            500..=599 => Err(Failure::Retry { what, wait: None }),
            _ => Err(Failure::Fatal(what)),
        }
    }
}

/// Transport errors: timeouts, refused or reset connections, broken bodies, DNS are
/// retried; a bad URL, TLS or proxy configuration is not.
fn transport_failure(e: ureq::Error) -> Failure {
    let what = transport_message(&e);
    match e {
        ureq::Error::BadUri(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_)
        | ureq::Error::TooManyRedirects
        | ureq::Error::RedirectFailed
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::Http(_) => Failure::Fatal(what),
        _ => Failure::Retry { what, wait: None },
    }
}

fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("connection error: {io}"),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        other => other.to_string(),
    }
}

/// `Retry-After` as seconds or as an HTTP date (a date in the past is no wait).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    let ms = (when.with_timezone(&chrono::Utc) - now)
        .num_milliseconds()
        .max(0);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// Whether `bytes` can be the document asked for: an HTML page (an error or login
/// page served with status 200) or a body that does not start like XML/JSON is not.
fn check_kind(bytes: &[u8], content_type: &str, expect: Expect) -> Result<(), String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let head = text.trim_start_matches('\u{feff}').trim_start();
    let lower = head
        .get(..head.len().min(512))
        .unwrap_or("")
        .to_ascii_lowercase();
    let html = content_type.to_ascii_lowercase().starts_with("text/html")
        || lower.starts_with("<!doctype html")
        || lower.starts_with("<html");
    let problem = if html {
        let title = html_title(&text)
            .map(|t| format!(" titled `{t}`"))
            .unwrap_or_default();
        Some(format!("an HTML page{title}"))
    } else {
        let ok = match expect {
            Expect::Xml => head.starts_with('<'),
            Expect::Json => head.starts_with('[') || head.starts_with('{'),
        };
        (!ok).then(|| {
            if head.is_empty() {
                "an empty body".to_string()
            } else {
                format!("a body starting `{}`", body_snippet(head.as_bytes()))
            }
        })
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(format!(
            "expected {} but the server answered (status 2xx, Content-Type `{}`) with {p}",
            expect.name(),
            if content_type.is_empty() {
                "none"
            } else {
                content_type
            }
        )),
    }
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let end = open_end + lower[open_end..].find("</title")?;
    let t = crate::paper::collapse_whitespace(text.get(open_end..end)?);
    (!t.is_empty()).then(|| snip(&t, 80))
}

/// At most 120 characters of a body, whitespace collapsed, tags kept: enough to say
/// what a server answered.
fn body_snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]);
    snip(&crate::paper::collapse_whitespace(&text), 120)
}

fn snip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// `host:port` of an http(s) URL, lowercased, the port filled in from the scheme;
/// `None` for anything else.
pub(crate) fn host_key(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?;
    if hostport.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port: u16 = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    Some(format!("{}:{port}", host.to_ascii_lowercase()))
}

fn is_loopback(host_key: &str) -> bool {
    let host = host_key.rsplit_once(':').map_or(host_key, |(h, _)| h);
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys() {
        let cases = [
            ("https://rss.arxiv.org/rss/cs.IR", Some("rss.arxiv.org:443")),
            (
                "http://Export.arXiv.org/api/query",
                Some("export.arxiv.org:80"),
            ),
            ("http://127.0.0.1:8080?x=1", Some("127.0.0.1:8080")),
            ("http://user:pw@[::1]:81/x", Some("[::1]:81")),
            ("ftp://arxiv.org/", None),
            ("arxiv.org/rss", None),
            ("http://:80/", None),
            ("http://h:notaport/", None),
        ];
        for (url, want) in cases {
            assert_eq!(host_key(url).as_deref(), want, "{url}");
        }
        assert!(is_loopback("127.0.0.1:80"));
        assert!(is_loopback("localhost:1"));
        assert!(!is_loopback("rss.arxiv.org:443"));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            + chrono::Duration::seconds(30);
        let header = soon.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn kind_checks() {
        assert!(check_kind(
            b"<?xml version='1.0'?><rss/>",
            "application/xml",
            Expect::Xml
        )
        .is_ok());
        assert!(check_kind(b"\xEF\xBB\xBF [1]", "", Expect::Json).is_ok());
        let e = check_kind(
            b"<!DOCTYPE html><html><head><title>arXiv is down\n for maintenance</title>",
            "text/html; charset=utf-8",
            Expect::Xml,
        )
        .unwrap_err();
        assert_eq!(e, "expected XML but the server answered (status 2xx, Content-Type `text/html; charset=utf-8`) with an HTML page titled `arXiv is down for maintenance`");
        let e = check_kind(b"<html><body>x</body></html>", "", Expect::Json).unwrap_err();
        assert!(e.contains("an HTML page"), "{e}");
        let e = check_kind(b"", "application/json", Expect::Json).unwrap_err();
        assert!(e.ends_with("with an empty body"), "{e}");
        let e = check_kind(b"Too many requests", "text/plain", Expect::Xml).unwrap_err();
        assert!(
            e.ends_with("with a body starting `Too many requests`"),
            "{e}"
        );
    }
}
