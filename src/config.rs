//! The library's settings file, `LIBRARY/config.toml`: which categories and sources
//! `fetch` follows and whom it names in its User-Agent, the endpoints (for mirrors and
//! tests), the SMTP server and sender of the daily mail, and where feeds and digests go.
//! This module only reads, checks and prints the settings; fetching is `fetch`'s,
//! mailing is [`crate::delivery`]'s. Every key is documented in `docs/config.md`.
//!
//! Secrets never come from a file others can read: the SMTP password belongs in the
//! environment (`PAPERSCOUT_SMTP_URL`). A `config.toml` whose `[mail] smtp` URL holds a
//! password is refused unless only its owner can read it (mode 600).
//!
//! The environment overrides the file: `PAPERSCOUT_SMTP_URL`, `PAPERSCOUT_MAIL_FROM`,
//! `PAPERSCOUT_ARXIV_RSS_URL`, `PAPERSCOUT_ARXIV_OAI_URL`, `PAPERSCOUT_ARXIV_API_URL` and
//! `PAPERSCOUT_HF_URL` (an empty variable counts as unset).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The settings file's name inside a library.
pub const CONFIG_FILE: &str = "config.toml";
/// `[output] feed_days` when not set: days of entries an Atom feed keeps.
pub const DEFAULT_FEED_DAYS: u32 = 14;
/// `[output] top` when not set: papers per user and day.
pub const DEFAULT_TOP: usize = 20;
/// `[output] dir` when not set, relative to the library.
pub const DEFAULT_OUTPUT_DIR: &str = "out";
/// How long one SMTP command may take before the send counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variables that override the file, as (variable, what it sets).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("PAPERSCOUT_SMTP_URL", "[mail] smtp"),
    ("PAPERSCOUT_MAIL_FROM", "[mail] from"),
    ("PAPERSCOUT_ARXIV_RSS_URL", "[fetch] arxiv_rss"),
    ("PAPERSCOUT_ARXIV_OAI_URL", "[fetch] arxiv_oai"),
    ("PAPERSCOUT_ARXIV_API_URL", "[fetch] arxiv_api"),
    ("PAPERSCOUT_HF_URL", "[fetch] hf"),
];

/// All settings. Every field has a default, so a missing file or section is fine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub fetch: FetchConfig,
    pub mail: MailConfig,
    pub output: OutputConfig,
}

/// `[fetch]`: what the daily fetch follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// arXiv categories (`cs.IR`, `cs.CL`, `physics:cond-mat` style sets for OAI-PMH).
    /// Default: none (`daily --categories` must then name them).
    pub categories: Vec<String>,
    /// Where papers come from, in order. Default: `["rss"]`.
    pub sources: Vec<Source>,
    /// A contact address named in the User-Agent, as arXiv asks of robots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Base of the arXiv listing feeds (`BASE/rss/cs.IR+cs.CL`); default arXiv's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arxiv_rss: Option<String>,
    /// The OAI-PMH endpoint itself (`?verb=...` is appended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arxiv_oai: Option<String>,
    /// The arXiv API query endpoint itself (`?id_list=...` is appended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arxiv_api: Option<String>,
    /// Base of Hugging Face (`BASE/api/daily_papers?date=...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hf: Option<String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            categories: Vec::new(),
            sources: vec![Source::Rss],
            contact: None,
            arxiv_rss: None,
            arxiv_oai: None,
            arxiv_api: None,
            hf: None,
        }
    }
}

/// A source of papers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// arXiv's daily listing feed, RSS 2.0.
    Rss,
    /// arXiv's daily listing feed, Atom.
    Atom,
    /// arXiv's OAI-PMH interface (backfills and catching up).
    Oai,
    /// Hugging Face daily papers.
    Hf,
}

/// `[mail]`: how the daily digest is mailed. No SMTP server: no mail (feeds and
/// digests are still written).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://[user@]host[:port]` (STARTTLS) or `smtps://...` (implicit TLS), without
    /// the password: that comes from `PAPERSCOUT_SMTP_URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<String>,
    /// The sender, `Name <addr@example.org>` or `addr@example.org`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `[output]`: where feeds and digests go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// The folder of `USER.atom` and `USER/DATE.html`; relative to the library.
    pub dir: PathBuf,
    /// Days of entries a feed keeps (at least 1).
    pub feed_days: u32,
    /// Papers per user and day (at least 1).
    pub top: usize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: PathBuf::from(DEFAULT_OUTPUT_DIR),
            feed_days: DEFAULT_FEED_DAYS,
            top: DEFAULT_TOP,
        }
    }
}

impl Config {
    /// The settings of the library in `lib_dir`: `config.toml` (defaults when there is
    /// none), then the environment's overrides. Errors name the file and line.
    pub fn load(lib_dir: &Path) -> Result<Config> {
        let mut config = Config::load_file(lib_dir)?;
        config.apply_env(|name| std::env::var(name).ok());
        config.check()?;
        Ok(config)
    }

    /// `config.toml` alone, without the environment; defaults when there is none.
    /// Refused when its SMTP URL holds a password and others may read the file.
    pub fn load_file(lib_dir: &Path) -> Result<Config> {
        let path = lib_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let config = Config::parse(&text, &path)?;
        if config.mail.smtp.as_deref().is_some_and(has_password) {
            check_private(&path)?;
        }
        Ok(config)
    }

    /// Parse `text`, the contents of `path` (named in errors with the line).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            Error::Input {
                path: path.to_path_buf(),
                line: line as u64,
                message: e.message().to_string(),
            }
        })?;
        config.check().map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// Apply the environment's overrides (see the module doc); `var` looks a variable
    /// up (`std::env::var(..).ok()` in the binary, a map in tests).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let slots: [(&str, &mut Option<String>); 6] = [
            ("PAPERSCOUT_SMTP_URL", &mut self.mail.smtp),
            ("PAPERSCOUT_MAIL_FROM", &mut self.mail.from),
            ("PAPERSCOUT_ARXIV_RSS_URL", &mut self.fetch.arxiv_rss),
            ("PAPERSCOUT_ARXIV_OAI_URL", &mut self.fetch.arxiv_oai),
            ("PAPERSCOUT_ARXIV_API_URL", &mut self.fetch.arxiv_api),
            ("PAPERSCOUT_HF_URL", &mut self.fetch.hf),
        ];
        for (name, slot) in slots {
            if let Some(v) = get(name) {
                *slot = Some(v.trim().to_string());
            }
        }
    }

    /// Values out of range.
    fn check(&self) -> Result<()> {
        if self.output.feed_days == 0 {
            return Err(Error::Invalid(
                "[output] feed_days must be at least 1".into(),
            ));
        }
        if self.output.top == 0 {
            return Err(Error::Invalid("[output] top must be at least 1".into()));
        }
        if let Some(url) = &self.mail.smtp {
            SmtpUrl::parse(url)?;
        }
        if let Some(from) = &self.mail.from {
            from.parse::<lettre::message::Mailbox>().map_err(|e| {
                Error::Invalid(format!(
                    "[mail] from {from:?}: not a mail address ({e}); expected `Name <addr@example.org>` or `addr@example.org`"
                ))
            })?;
        }
        Ok(())
    }

    /// The output folder: `[output] dir`, relative to `lib_dir` unless absolute.
    pub fn output_dir(&self, lib_dir: &Path) -> PathBuf {
        lib_dir.join(&self.output.dir)
    }

    /// How to mail, or `None` when no SMTP server is set. An SMTP server without a
    /// sender is an error (a digest needs a From).
    pub fn mail_settings(&self) -> Result<Option<MailSettings>> {
        let Some(url) = &self.mail.smtp else {
            return Ok(None);
        };
        let smtp = SmtpUrl::parse(url)?;
        let Some(from) = &self.mail.from else {
            return Err(Error::Invalid(
                "an SMTP server is set but no sender: set [mail] from in config.toml or PAPERSCOUT_MAIL_FROM".into(),
            ));
        };
        Ok(Some(MailSettings::new(smtp, from)?))
    }

    /// The settings as TOML, for `paperscout config show`: every value in force (the
    /// file's, the environment's, the defaults), the SMTP password replaced by `***`.
    pub fn to_toml_string(&self) -> String {
        let mut shown = self.clone();
        if let Some(url) = &shown.mail.smtp {
            shown.mail.smtp = Some(redact(url));
        }
        let body = toml::to_string(&shown)
            .unwrap_or_else(|e| format!("# could not print the settings: {e}\n"));
        format!(
            "# paperscout settings in force: config.toml, then the environment, then defaults\n{body}"
        )
    }
}

/// Whether `url` carries a password (`scheme://user:pass@host`).
fn has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.password().is_some())
}

/// `url` with its password replaced by `***` (unparseable URLs are shown as they are:
/// they were refused already).
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Refuse `path` when its group or others may read it.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::Invalid(format!(
                "{}: holds the SMTP password but others may read it (mode {:o}): remove the password from [mail] smtp and set PAPERSCOUT_SMTP_URL in the environment instead, or `chmod 600` the file",
                path.display(),
                mode & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// How a connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Implicit,
    /// STARTTLS, and no mail when the server does not offer it (`smtp://` to any host
    /// but a loopback address; `?tls=required`).
    Required,
    /// STARTTLS when the server offers it, plain otherwise (`smtp://` to a loopback
    /// address; `?tls=opportunistic` elsewhere).
    Opportunistic,
    /// Never TLS (`?tls=none`): for a trusted relay on the same machine or network.
    None,
}

/// A parsed `smtp://` / `smtps://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for SmtpUrl {
    // Never print the password, not even in a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl SmtpUrl {
    /// Parse `smtp://[user[:pass]@]host[:port][?tls=required|opportunistic|none]` or
    /// `smtps://...`; user and password are percent-decoded.
    pub fn parse(text: &str) -> Result<SmtpUrl> {
        let shown = redact(text);
        let bad = |why: &str| {
            Error::Invalid(format!(
                "SMTP URL {shown:?}: {why}; expected smtp://user:password@host:port or smtps://..."
            ))
        };
        let url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(bad(&format!("scheme {other:?} is not smtp or smtps"))),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("no host")),
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            // smtp is not a scheme the URL standard knows: its hosts stay text, even
            // an IPv4 address.
            Some(url::Host::Domain(d)) => d
                .parse::<std::net::IpAddr>()
                .map_or(d.eq_ignore_ascii_case("localhost"), |ip| ip.is_loopback()),
            None => false,
        };
        let mut tls = match (implicit, loopback) {
            (true, _) => TlsMode::Implicit,
            (false, true) => TlsMode::Opportunistic,
            (false, false) => TlsMode::Required,
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), implicit) {
                ("tls", "required", false) => tls = TlsMode::Required,
                ("tls", "opportunistic", false) => tls = TlsMode::Opportunistic,
                ("tls", "none", false) => tls = TlsMode::None,
                _ => {
                    return Err(bad(&format!(
                        "unknown setting {key}={value} (smtp:// takes tls=required, opportunistic or none)"
                    )))
                }
            }
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("user or password is not UTF-8 once percent-decoded"))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && user.is_none() {
            return Err(bad("a password without a user"));
        }
        Ok(SmtpUrl {
            host,
            port: url.port().unwrap_or(if implicit { 465 } else { 587 }),
            tls,
            user,
            password,
        })
    }
}

/// Everything needed to mail digests: the server and the sender, checked.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp: SmtpUrl,
    pub from: lettre::message::Mailbox,
    /// Per SMTP command.
    pub timeout: Duration,
}

impl MailSettings {
    /// Settings for `smtp`, sending as `from` (`Name <addr>` or `addr`).
    pub fn new(smtp: SmtpUrl, from: &str) -> Result<MailSettings> {
        let from = from.trim().parse().map_err(|e| {
            Error::Invalid(format!("mail sender {from:?}: not a mail address ({e})"))
        })?;
        Ok(MailSettings {
            smtp,
            from,
            timeout: SMTP_TIMEOUT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_a_full_file_parse() {
        let c = Config::parse("", Path::new("config.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.output.feed_days, 14);
        assert_eq!(c.output.top, 20);
        assert_eq!(c.fetch.sources, [Source::Rss]);
        let text = r#"
[fetch]
categories = ["cs.IR", "cs.CL"]
sources = ["rss", "oai", "hf"]
contact = "me@example.org"
arxiv_rss = "http://127.0.0.1:9/"

[mail]
smtp = "smtp://robot@mail.example.org:587"
from = "paperscout <robot@example.org>"

[output]
dir = "/srv/digests"
feed_days = 7
top = 10
"#;
        let c = Config::parse(text, Path::new("config.toml")).unwrap();
        assert_eq!(c.fetch.categories, ["cs.IR", "cs.CL"]);
        assert_eq!(c.fetch.sources, [Source::Rss, Source::Oai, Source::Hf]);
        assert_eq!(c.output.feed_days, 7);
        assert_eq!(
            c.output_dir(Path::new("/lib")),
            PathBuf::from("/srv/digests")
        );
        let mail = c.mail_settings().unwrap().unwrap();
        assert_eq!(mail.smtp.host, "mail.example.org");
        assert_eq!(mail.smtp.tls, TlsMode::Required);
        assert_eq!(mail.smtp.user.as_deref(), Some("robot"));
        // What `config show` prints reads back as the same settings.
        let again = Config::parse(&c.to_toml_string(), Path::new("shown")).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn bad_toml_names_the_file_and_line() {
        let err = Config::parse(
            "[output]\nfeed_days = 3\ntop = \"many\"\n",
            Path::new("/l/config.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/l/config.toml:3:"), "{err}");
        let err = Config::parse("[mail]\nsmpt = \"x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("c.toml:2:") && err.contains("smpt"),
            "{err}"
        );
        let err = Config::parse("[output]\nfeed_days = 0\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("feed_days"), "{err}");
    }

    #[test]
    fn the_environment_overrides_and_the_password_is_never_shown() {
        let mut c = Config::parse(
            "[mail]\nsmtp = \"smtp://a@mail.example.org\"\nfrom = \"a@example.org\"\n",
            Path::new("c"),
        )
        .unwrap();
        c.apply_env(|name| match name {
            "PAPERSCOUT_SMTP_URL" => Some("smtps://bob:s%40cret@127.0.0.1:2465".into()),
            "PAPERSCOUT_MAIL_FROM" => Some("  ".into()),
            "PAPERSCOUT_HF_URL" => Some("http://127.0.0.1:8/".into()),
            _ => None,
        });
        assert_eq!(
            c.mail.from.as_deref(),
            Some("a@example.org"),
            "blank = unset"
        );
        assert_eq!(c.fetch.hf.as_deref(), Some("http://127.0.0.1:8/"));
        let mail = c.mail_settings().unwrap().unwrap();
        assert_eq!(mail.smtp.password.as_deref(), Some("s@cret"));
        assert_eq!(mail.smtp.tls, TlsMode::Implicit);
        assert_eq!(mail.smtp.port, 2465);
        let shown = c.to_toml_string();
        assert!(
            !shown.contains("s%40cret") && !shown.contains("s@cret"),
            "{shown}"
        );
        assert!(shown.contains("***"), "{shown}");
        assert!(!format!("{mail:?}").contains("cret"));
    }

    #[test]
    fn smtp_urls_choose_tls_by_scheme_and_host() {
        let tls = |u: &str| SmtpUrl::parse(u).unwrap().tls;
        assert_eq!(tls("smtp://127.0.0.1:2525"), TlsMode::Opportunistic);
        assert_eq!(tls("smtp://localhost"), TlsMode::Opportunistic);
        assert_eq!(tls("smtp://mail.example.org"), TlsMode::Required);
        assert_eq!(
            tls("smtp://mail.example.org?tls=opportunistic"),
            TlsMode::Opportunistic
        );
        assert_eq!(tls("smtps://mail.example.org"), TlsMode::Implicit);
        assert_eq!(SmtpUrl::parse("smtps://h").unwrap().port, 465);
        assert_eq!(SmtpUrl::parse("smtp://h").unwrap().port, 587);
        for bad in [
            "http://h",
            "smtp://",
            "smtp://:pw@h",
            "smtp://h?tls=maybe",
            "smtps://h?tls=none",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_file_with_a_password_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "[mail]\nsmtp = \"smtp://u:pw@mail.example.org\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Config::load_file(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("PAPERSCOUT_SMTP_URL"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Config::load_file(dir.path()).is_ok());
        // Without a password the mode does not matter; a missing file is the defaults.
        std::fs::write(&path, "[mail]\nsmtp = \"smtp://u@mail.example.org\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Config::load_file(dir.path()).is_ok());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(Config::load_file(dir.path()).unwrap(), Config::default());
    }
}
