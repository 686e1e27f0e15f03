//! Delivering a user's ranked day: the HTML digest `OUT/USER/DATE.html`, the Atom feed
//! `OUT/USER.atom` (the last `feed_days` days of entries) and the digest mail, once per
//! user and day. Ranking is the caller's ([`crate::recommend`]); this module takes the
//! day's [`Listing`] as `recommend` made it. It knows nothing of the command line: the
//! caller loops over users and prints the [`DeliverySummary`].
//!
//! # Steps and the ledger
//!
//! For each user and day a record in `LIBRARY/delivery/USER/DATE.json` ([`ledger`])
//! says how far delivery got; every write (record, digest, feed) is atomic and durable
//! (temporary file, flush, rename, flush the directory), so a reader never sees half a
//! feed, whenever the process dies.
//!
//! 1. record `ranked`, holding the listing;
//! 2. write the digest, then regenerate the feed from the stored listings of the
//!    window's days (never by parsing the old feed);
//! 3. an empty day: record `empty` (final, nothing mailed); no address or mail off:
//!    stop here (still `ranked`: a later run with an address mails it);
//! 4. record `sending`, hand the mail to SMTP, record `sent`, or `failed` with the
//!    server's answer (the next run tries again).
//!
//! A record already `sent` or `empty` is left alone (files and all): running twice
//! mails nobody twice. A record `ranked` or `failed` is delivered again with the new
//! listing (nothing was mailed, so the latest ranking may replace it).
//!
//! # At most once
//!
//! Between the SMTP server's acceptance and the write of `sent` there is a moment when
//! a crash (kill -9, power) leaves the ledger not knowing. We choose **at most once**:
//! the `sending` record is made durable before the mail is handed over, and a later run
//! that finds `sending` does not send again but reports the day as
//! [`UserOutcome::Unknown`] ("unknown, not resent"). A duplicate digest annoys every
//! time; a lost one is rare (a crash inside one SMTP exchange), visible in the summary,
//! and the same digest is in the user's feed and `OUT/USER/DATE.html` anyway. To send
//! such a day again, delete its record `LIBRARY/delivery/USER/DATE.json` and rerun.
//!
//! One process delivers at a time: [`Deliverer::new`] takes `LIBRARY/delivery/write.lock`
//! (an OS lock the kernel releases with its process). Users are independent: calls for
//! different users may run in parallel, and one user's failure never stops another's.

pub mod ledger;
pub mod mail;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use lettre::SmtpTransport;

use crate::config::{MailSettings, DEFAULT_FEED_DAYS};
use crate::library::profiles::check_user;
use crate::render::{self, Format, Listing, Subject};
use crate::{Error, Result};

pub use ledger::{DayRecord, Ledger, State};

/// The ledger's directory inside a library.
pub const DELIVERY_DIR: &str = "delivery";

/// What happened to one user's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOutcome {
    /// Mailed now to this address, with this many papers.
    Sent { to: String, items: usize },
    /// Mailed by an earlier run: nothing done.
    AlreadySent,
    /// An earlier run died while handing the mail to SMTP: it may have gone out; not
    /// sent again (see the module doc).
    Unknown,
    /// Nothing for the user that day: feed and digest written, nothing mailed.
    NoItems,
    /// Feed and digest written; the profile has no mail address.
    NoAddress,
    /// Feed and digest written; mail is off (no SMTP server, `--no-email`).
    NotMailed,
    /// The mail could not be sent (bad address, refusal, no connection): the next run
    /// tries again.
    Failed { reason: String },
}

/// A point at which [`Deliverer::deliver`] stops as if the process had been killed
/// there (the steps before it are on disk, none after). For crash tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// After the digest and feed are written, before the `sending` record.
    AfterFiles,
    /// After the `sending` record, before the mail is handed to SMTP.
    BeforeSmtp,
    /// After the SMTP server accepted the mail, before the `sent` record.
    AfterSmtp,
}

/// Delivers days to users: one per process (it holds the delivery lock).
pub struct Deliverer {
    ledger: Ledger,
    out_dir: PathBuf,
    mail: Option<(MailSettings, SmtpTransport)>,
    feed_days: u32,
    fault: Option<Fault>,
    _lock: File,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("ledger", &self.ledger)
            .field("out_dir", &self.out_dir)
            .field("mail", &self.mail.as_ref().map(|(s, _)| s))
            .field("feed_days", &self.feed_days)
            .finish()
    }
}

impl Deliverer {
    /// A deliverer for the library in `lib_dir`, writing feeds and digests under
    /// `out_dir`, mailing with `mail` (`None`: no mail). Takes the delivery lock: a
    /// second deliverer of the same library fails at once with [`Error::Locked`].
    pub fn new(lib_dir: &Path, out_dir: &Path, mail: Option<MailSettings>) -> Result<Self> {
        let dir = lib_dir.join(DELIVERY_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
        let lock = lock(&dir)?;
        let mail = match mail {
            Some(settings) => {
                let transport = mail::transport(&settings)?;
                Some((settings, transport))
            }
            None => None,
        };
        Ok(Deliverer {
            ledger: Ledger::new(dir),
            out_dir: out_dir.to_path_buf(),
            mail,
            feed_days: DEFAULT_FEED_DAYS,
            fault: None,
            _lock: lock,
        })
    }

    /// Keep `days` days of entries in the feeds (at least 1; default
    /// [`DEFAULT_FEED_DAYS`]).
    pub fn with_feed_days(mut self, days: u32) -> Self {
        self.feed_days = days.max(1);
        self
    }

    #[doc(hidden)]
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
    }

    /// The ledger (to look at a record).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Whether `user`'s `day` is settled (mailed, empty, or unknown after a crash while
    /// sending), so the caller need not rank it again. A day without a record, or one
    /// not mailed yet, is not.
    pub fn is_settled(&self, user: &str, day: NaiveDate) -> Result<bool> {
        check_user(user)?;
        Ok(self
            .ledger
            .load(user, day)?
            .is_some_and(|r| matches!(r.state, State::Sent | State::Empty | State::Sending)))
    }

    /// The outcome of `user`'s `day` when it is settled ([`UserOutcome::AlreadySent`],
    /// [`UserOutcome::NoItems`] or [`UserOutcome::Unknown`]), what
    /// [`Deliverer::deliver`] would answer without doing anything: the caller can skip
    /// ranking the day and add this to its summary. `None`: deliver it.
    pub fn settled(&self, user: &str, day: NaiveDate) -> Result<Option<UserOutcome>> {
        check_user(user)?;
        Ok(match self.ledger.load(user, day)?.map(|r| r.state) {
            Some(State::Sent) => Some(UserOutcome::AlreadySent),
            Some(State::Empty) => Some(UserOutcome::NoItems),
            Some(State::Sending) => Some(UserOutcome::Unknown),
            Some(State::Ranked | State::Failed) | None => None,
        })
    }

    /// The feed of `user`: `OUT/USER.atom`.
    pub fn feed_path(&self, user: &str) -> PathBuf {
        self.out_dir.join(format!("{user}.atom"))
    }

    /// The digest of `user`'s `day`: `OUT/USER/DATE.html`.
    pub fn digest_path(&self, user: &str, day: NaiveDate) -> PathBuf {
        self.out_dir.join(user).join(format!("{day}.html"))
    }

    /// Deliver `user`'s `day`: `listing` is that day's ranking (as `recommend` makes it,
    /// best first); `email` the profile's address. See the module doc for the steps.
    /// `Err` only for local trouble (the ledger, the output folder); a mail that cannot
    /// go out is [`UserOutcome::Failed`].
    pub fn deliver(
        &self,
        user: &str,
        email: Option<&str>,
        day: NaiveDate,
        listing: &Listing,
    ) -> Result<UserOutcome> {
        if let Some(done) = self.settled(user, day)? {
            return Ok(done);
        }
        let previous = self.ledger.load(user, day)?;
        let now = now();
        let mut record = DayRecord::new(user, day, listing, now);
        if let Some(p) = &previous {
            record.attempts = p.attempts;
            record.error = p.error.clone();
        }
        // 1. The listing is stored before any file is made from it.
        self.ledger.save(&record)?;
        // 2. Digest, then feed.
        let mut dated = listing.clone();
        dated.date = Some(day);
        self.write_digest(user, day, &dated)?;
        self.write_feed(user, day)?;
        if self.fault == Some(Fault::AfterFiles) {
            return Err(injected(Fault::AfterFiles));
        }
        // 3. Nothing to mail?
        if listing.items.is_empty() {
            record.state = State::Empty;
            record.updated = now;
            self.ledger.save(&record)?;
            return Ok(UserOutcome::NoItems);
        }
        let Some(address) = email else {
            return Ok(UserOutcome::NoAddress);
        };
        let Some((settings, transport)) = &self.mail else {
            return Ok(UserOutcome::NotMailed);
        };
        // 4. Mail it.
        let message = mail::recipient(address)
            .and_then(|to| mail::compose(&settings.from, &to, user, &dated));
        record.email = Some(address.to_string());
        let message = match message {
            Ok(m) => m,
            Err(e) => return self.failed(record, e.to_string()),
        };
        record.state = State::Sending;
        record.attempts += 1;
        record.updated = now;
        self.ledger.save(&record)?;
        if self.fault == Some(Fault::BeforeSmtp) {
            return Err(injected(Fault::BeforeSmtp));
        }
        if let Err(reason) = mail::send(transport, &message) {
            return self.failed(record, reason);
        }
        if self.fault == Some(Fault::AfterSmtp) {
            return Err(injected(Fault::AfterSmtp));
        }
        let sent = crate::delivery::now();
        record.state = State::Sent;
        record.updated = sent;
        record.sent_at = Some(sent);
        record.error = None;
        self.ledger.save(&record)?;
        Ok(UserOutcome::Sent {
            to: address.to_string(),
            items: listing.items.len(),
        })
    }

    fn failed(&self, mut record: DayRecord, reason: String) -> Result<UserOutcome> {
        record.state = State::Failed;
        record.updated = now();
        record.error = Some(reason.clone());
        self.ledger.save(&record)?;
        Ok(UserOutcome::Failed { reason })
    }

    fn write_digest(&self, user: &str, day: NaiveDate, listing: &Listing) -> Result<()> {
        let dir = self.out_dir.join(user);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = format!("{day}.html");
        let html = render::render(listing, Format::Html);
        ledger::write_atomic(&dir, &format!(".{name}.tmp"), &name, html.as_bytes())
    }

    /// Regenerate `OUT/USER.atom` from the stored listings of the last `feed_days`
    /// days (ending at the newest day with a record, `day` or later), newest day first;
    /// records that have left the window lose their listing (their state stays).
    fn write_feed(&self, user: &str, day: NaiveDate) -> Result<()> {
        let days = self.ledger.days(user)?;
        let end = days.iter().copied().max().map_or(day, |d| d.max(day));
        let first = end - chrono::Days::new(u64::from(self.feed_days - 1));
        let mut records = Vec::new();
        for d in days {
            let Some(mut record) = self.ledger.load(user, d)? else {
                continue;
            };
            if d < first {
                if record.listing.take().is_some() {
                    self.ledger.save(&record)?;
                }
            } else {
                records.push(record);
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.day));
        let mut items = Vec::new();
        let mut generated: Option<DateTime<Utc>> = None;
        // Days on which nothing reached the user's threshold: an entry each says so.
        let mut quiet = Vec::new();
        let mut threshold = None;
        for r in &records {
            if let Some(l) = &r.listing {
                items.extend(l.items());
                generated = Some(generated.map_or(l.generated, |g| g.max(l.generated)));
                if let (Some(t), true) = (l.threshold, l.items.is_empty()) {
                    quiet.push(r.day);
                    threshold = threshold.or(Some(t));
                }
            }
        }
        let oldest = records.last().map(|r| r.day);
        let feed = Listing {
            subject: Subject::Recommend { user: user.into() },
            date: Some(end),
            since: oldest.filter(|&o| o != end),
            generated: generated.unwrap_or_else(now),
            items,
            threshold,
            quiet,
        };
        let atom = render::render(&feed, Format::Atom);
        let name = format!("{user}.atom");
        ledger::write_atomic(
            &self.out_dir,
            &format!(".{name}.tmp"),
            &name,
            atom.as_bytes(),
        )
    }
}

fn injected(f: Fault) -> Error {
    Error::Invalid(format!("injected fault {f:?}"))
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// Take `dir/write.lock` or fail at once.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("write.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
            holder: format!(
                "another process is delivering; lock file {}",
                path.display()
            ),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// What a run delivered, user by user, for the caller to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    /// Every user's outcome, by user.
    pub outcomes: BTreeMap<String, UserOutcome>,
}

impl DeliverySummary {
    /// Record `user`'s result; an `Err` counts as failed with its message.
    pub fn add(&mut self, user: &str, result: Result<UserOutcome>) {
        let outcome = result.unwrap_or_else(|e| UserOutcome::Failed {
            reason: format!("{e:#}"),
        });
        self.outcomes.insert(user.to_string(), outcome);
    }

    /// Users whose outcome matches `f`.
    pub fn users(&self, f: impl Fn(&UserOutcome) -> bool) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| f(o))
            .map(|(u, _)| u.as_str())
            .collect()
    }

    /// Whether any user failed (the caller exits non-zero).
    pub fn any_failed(&self) -> bool {
        self.outcomes
            .values()
            .any(|o| matches!(o, UserOutcome::Failed { .. }))
    }

    /// Users mailed now.
    pub fn sent(&self) -> usize {
        self.users(|o| matches!(o, UserOutcome::Sent { .. })).len()
    }
}

impl fmt::Display for DeliverySummary {
    /// One summary line, then one line per failed or unknown user.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |g: fn(&UserOutcome) -> bool| self.users(g).len();
        let failed = count(|o| matches!(o, UserOutcome::Failed { .. }));
        write!(
            f,
            "{} users: {} sent, {} already sent, {} unknown (not resent), {} no papers, {} no address, {} not mailed, {} failed",
            self.outcomes.len(),
            self.sent(),
            count(|o| matches!(o, UserOutcome::AlreadySent)),
            count(|o| matches!(o, UserOutcome::Unknown)),
            count(|o| matches!(o, UserOutcome::NoItems)),
            count(|o| matches!(o, UserOutcome::NoAddress)),
            count(|o| matches!(o, UserOutcome::NotMailed)),
            failed,
        )?;
        for (user, outcome) in &self.outcomes {
            match outcome {
                UserOutcome::Failed { reason } => {
                    write!(f, "\n  failed: {user}: {reason} (retried by the next run)")?
                }
                UserOutcome::Unknown => write!(
                    f,
                    "\n  unknown: {user}: an earlier run died while mailing; not resent (delete its record under {DELIVERY_DIR}/{user}/ to resend)"
                )?,
                _ => {}
            }
        }
        Ok(())
    }
}
