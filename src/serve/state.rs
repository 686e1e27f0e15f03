//! What the server keeps between requests: the open library (reopened when a commit
//! changes its manifest), its tf-idf, each user's trained profile (until the profile
//! or the library changes), the accounts (re-read when their file changes), sign-in
//! sessions and login attempts. Every function here blocks (files, ranking): handlers
//! call them inside `spawn_blocking`.
//!
//! Sessions outlive a restart: `LIBRARY/sessions.json` holds each session's user, CSRF
//! token and expiry, keyed by the SHA-256 of its cookie (the cookie itself is never
//! written), replaced atomically when a session starts or ends. A session expires
//! [`SESSION_IDLE`] after its last use; after a restart, after its start or the last
//! sign-in/out of anyone (when the file was last written), whichever is later. One
//! server per library: two would each keep their own sessions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::app::query::TrainedFeed;
use crate::app::{self, query, Models};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::library::accounts::{random_hex, token_hash, AccountSet, Accounts};
use crate::library::profiles::{self, Profile, Profiles};
use crate::library::{Library, MANIFEST};
use crate::rank::Tfidf;
use crate::render;

/// How a file looked when last read: a commit renames a new file over it, which changes
/// its inode, length or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode,
    })
}

/// The library as of one commit, with what every request of that commit shares.
pub struct Snapshot {
    pub lib: Library,
    pub tfidf: Option<Tfidf>,
    /// The papers' tf-idf rows, made as requests need them and kept for this commit.
    pub rows: crate::recommend::TextRows<'static>,
    /// The commit the tf-idf vocabulary was fitted at: trained profiles stay valid
    /// across commits that keep it (their features are the vectors and this
    /// vocabulary), so a commit does not retrain every user.
    vocabulary: Option<u64>,
    stamp: Option<Stamp>,
}

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    expires: DateTime<Utc>,
}

/// The file of the sessions, in the library directory.
pub const SESSIONS_FILE: &str = "sessions.json";

#[derive(Serialize, Deserialize)]
struct SessionsFile {
    format: String,
    version: u32,
    /// By the SHA-256 (hex) of the session cookie.
    sessions: HashMap<String, Session>,
}

/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(14 * 24 * 3600);
/// Failed logins allowed per user and per address in [`LOGIN_WINDOW`].
pub const LOGIN_ATTEMPTS: u32 = 5;
const LOGIN_WINDOW: Duration = Duration::from_secs(300);
/// How many times a profile change waits for another process's profile lock.
const LOCK_RETRIES: u32 = 100;

/// A user's trained feed (one model per collection): (library commit, training key,
/// models).
/// A user's feed: (user, collection; `None` for the whole feed).
type FeedSlot = (String, Option<String>);

/// A trained feed: (the vocabulary's commit, or the library's without a stored
/// vocabulary; training key; model).
type TrainedEntry = (u64, String, Arc<TrainedFeed>);

/// Everything the handlers share.
pub struct State {
    pub dir: PathBuf,
    pub models: Models,
    library: Mutex<Option<Arc<Snapshot>>>,
    /// Held by the one request opening a new commit.
    opening: Mutex<()>,
    /// By (user, collection asked; `None`: the whole feed).
    trained: Mutex<HashMap<FeedSlot, TrainedEntry>>,
    /// One training at a time per (user, collection): requests that find the model
    /// stale wait for the one training it instead of all training it at once.
    training: Mutex<HashMap<FeedSlot, Arc<Mutex<()>>>>,
    /// Profile changes made through this server whose retraining has not finished yet,
    /// by user: while a user has one, their recommends are answered from the previous
    /// model (see [`State::trained`]).
    pending: Mutex<HashMap<String, usize>>,
    /// One retraining after a profile change at a time in the whole server: the other
    /// core keeps answering reads, and changes queued behind it are trained together.
    /// (Not one per core: two retrainings in one rayon pool can deadlock, a worker
    /// waiting in a join of its own training picking up the other retraining, which
    /// then waits for the feed's lock that same worker holds.)
    retraining: Mutex<()>,
    /// Where retrainings run: threads at a lower CPU priority ([`RETRAIN_NICE`]), so
    /// that reads are answered first when the CPU is short and retraining takes what is
    /// left (`None` when the pool could not be made: the calling thread trains).
    retrain_pool: Option<rayon::ThreadPool>,
    accounts: Mutex<Option<(Option<Stamp>, Arc<AccountSet>)>>,
    sessions: Mutex<HashMap<String, Session>>,
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
    /// Profile changes of this process, one at a time per user (the file lock refuses
    /// a second holder instead of waiting); different users' changes run side by side.
    profile_writes: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Listings shown through this server that the background writer has not yet
    /// written to their users' profiles ([`State::record_shown`]).
    shown: ShownQueue,
}

/// Listings waiting for the writer of shown papers, by user: `(listing day, ids)` in
/// the order they were shown. The writer removes what it wrote only once it is in the
/// profile's file, so a reader always finds a listing in one place or the other.
#[derive(Default)]
struct ShownQueue {
    state: Mutex<ShownState>,
    wake: Condvar,
}

/// Listings of one user: `(listing day, ids)`, oldest first.
type Listings = Vec<(NaiveDate, Vec<String>)>;

#[derive(Default)]
struct ShownState {
    by_user: HashMap<String, Listings>,
    /// A writer thread runs ([`State::start_shown_writer`]); without one, listings
    /// are written before the request is answered.
    running: bool,
    /// Write what is left, then end.
    stop: bool,
}

/// The thread writing shown papers, from [`State::start_shown_writer`]; hand it back
/// to [`State::stop_shown_writer`] to write what is left and end it.
pub struct ShownWriter(std::thread::JoinHandle<()>);

fn idle_end() -> DateTime<Utc> {
    profiles::now() + chrono::Duration::from_std(SESSION_IDLE).unwrap_or(chrono::Duration::days(14))
}

/// The saved sessions still alive; a missing file is none, and so is a damaged one
/// (said in the log: the users sign in again, nothing else is lost).
fn load_sessions(dir: &Path) -> HashMap<String, Session> {
    let path = dir.join(SESSIONS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!("{}: {e}; everyone signs in again", path.display());
            return HashMap::new();
        }
    };
    match serde_json::from_slice::<SessionsFile>(&bytes) {
        Ok(f) if f.format == "paperscout-sessions" && f.version == 1 => {
            let now = profiles::now();
            f.sessions
                .into_iter()
                .filter(|(_, s)| s.expires > now)
                .collect()
        }
        Ok(f) => {
            tracing::warn!(
                "{}: format {:?} version {}, expected paperscout-sessions 1; everyone signs in again",
                path.display(),
                f.format,
                f.version
            );
            HashMap::new()
        }
        Err(e) => {
            tracing::warn!("{}: {e}; everyone signs in again", path.display());
            HashMap::new()
        }
    }
}

/// The nice value of the threads that retrain after a profile change (0 is normal, 19
/// the lowest priority).
pub const RETRAIN_NICE: i32 = 10;

/// The threads retrainings run on, one per core, each lowered to [`RETRAIN_NICE`].
fn retrain_pool() -> Option<rayon::ThreadPool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("paperscout-retrain-{i}"))
        .start_handler(|_| lower_priority())
        .build()
    {
        Ok(pool) => Some(pool),
        Err(e) => {
            tracing::warn!("no retraining threads ({e}): requests retrain themselves");
            None
        }
    }
}

/// Lower the calling thread's CPU priority to [`RETRAIN_NICE`] (Linux: a thread has a
/// nice value of its own); elsewhere nothing.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes no argument; setpriority on this thread's own id only
        // changes its nice value, and a failure only leaves it as it was.
        let failed = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, RETRAIN_NICE) != 0
        };
        if failed {
            tracing::debug!("could not lower a retraining thread's priority");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves plain data behind: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn new(dir: PathBuf, models: Models) -> State {
        State {
            dir: dir.clone(),
            models,
            library: Mutex::new(None),
            opening: Mutex::new(()),
            trained: Mutex::new(HashMap::new()),
            training: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            retraining: Mutex::new(()),
            retrain_pool: retrain_pool(),
            accounts: Mutex::new(None),
            sessions: Mutex::new(load_sessions(&dir)),
            attempts: Mutex::new(HashMap::new()),
            profile_writes: Mutex::new(HashMap::new()),
            shown: ShownQueue::default(),
        }
    }

    /// The library as of its latest commit: the open one while its manifest is
    /// unchanged, else opened again.
    ///
    /// One request opens a new commit; requests arriving meanwhile are answered from
    /// the commit open until then (a request that finds no opening under way opens
    /// it itself, so a client that asks after a commit finished sees it).
    pub fn library(&self) -> Result<Arc<Snapshot>> {
        let now = stamp(&self.dir.join(MANIFEST));
        let current = lock(&self.library).clone();
        if let Some(s) = current.as_ref() {
            if s.stamp == now && now.is_some() {
                return Ok(Arc::clone(s));
            }
        }
        let _opening = match self.opening.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => match current {
                Some(s) => return Ok(s),
                None => lock(&self.opening),
            },
        };
        // Opened by the request this one waited for.
        let now = stamp(&self.dir.join(MANIFEST));
        if let Some(s) = lock(&self.library).as_ref() {
            if s.stamp == now && now.is_some() {
                return Ok(Arc::clone(s));
            }
        }
        let started = Instant::now();
        let lib = app::open_library(&self.dir)?;
        let stored = crate::recommend::stored_tfidf(&lib);
        let vocabulary = stored.as_ref().map(|t| t.fitted_commit);
        let tfidf = crate::recommend::library_tfidf_from(&lib, stored)?;
        // The papers' rows of the commit before stay good for unchanged papers when the
        // vocabulary is the same: the first requests after a commit find them made.
        let rows = match current.as_ref() {
            Some(old) if vocabulary.is_some() && old.vocabulary == vocabulary => {
                crate::recommend::TextRows::owned_from(&lib, tfidf.clone(), &old.lib, &old.rows)
            }
            _ => crate::recommend::TextRows::owned(&lib, tfidf.clone()),
        };
        tracing::info!(
            commit = lib.commit(),
            papers = lib.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "library opened"
        );
        let snap = Arc::new(Snapshot {
            vocabulary,
            lib,
            tfidf,
            rows,
            stamp: now,
        });
        *lock(&self.library) = Some(Arc::clone(&snap));
        Ok(snap)
    }

    /// `user`'s profile; an empty one when they have none yet. Listings this server
    /// showed them that the writer has not written yet are in it, as they will be in
    /// the file.
    pub fn profile(&self, user: &str) -> Result<Profile> {
        let mut profile = Profiles::new(&self.dir)
            .load(user)?
            .unwrap_or_else(|| Profile::new(user, profiles::now()));
        let queue = lock(&self.shown.state);
        if let Some(listings) = queue.by_user.get(user) {
            let now = profiles::now();
            for (day, ids) in listings {
                // A listing the file has already (written, not yet off the queue)
                // would otherwise show twice in the history.
                let known = |id: &String| {
                    profile
                        .shown
                        .iter()
                        .any(|s| s.listing == *day && &s.id == id)
                };
                if !ids.iter().all(known) {
                    profile.add_shown(ids, *day, now);
                }
            }
        }
        Ok(profile)
    }

    /// Remember the papers of `listing` as shown to `profile`'s user for its day.
    /// With the writer running ([`State::start_shown_writer`]) the listing is queued
    /// and the request answered at once: the profile this server reads has it at once
    /// ([`State::profile`]), the file a moment later, in one write for everything
    /// queued meanwhile; a listing already in `profile` (the same day listed again)
    /// is not queued. Without the writer it is written before returning.
    pub fn record_shown(&self, profile: &Profile, listing: &render::Listing) -> Result<()> {
        let Some(day) = listing.date else {
            return Ok(());
        };
        let known = |id: &str| profile.shown.iter().any(|s| s.listing == day && s.id == id);
        if listing.items.iter().all(|i| known(&i.id)) {
            return Ok(());
        }
        let user = &profile.user;
        {
            let mut queue = lock(&self.shown.state);
            if queue.running && !queue.stop {
                let ids = listing.items.iter().map(|i| i.id.clone()).collect();
                queue
                    .by_user
                    .entry(user.clone())
                    .or_default()
                    .push((day, ids));
                self.shown.wake.notify_one();
                return Ok(());
            }
        }
        self.change_profile(user, || query::record_shown(&self.dir, user, listing))
    }

    /// Start the thread that writes queued listings to their users' profiles.
    pub fn start_shown_writer(self: &Arc<Self>) -> Result<ShownWriter> {
        let state = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("shown-writer".into())
            .spawn(move || state.write_shown())
            .map_err(|e| Error::Invalid(format!("starting the writer of shown papers: {e}")))?;
        lock(&self.shown.state).running = true;
        Ok(ShownWriter(handle))
    }

    /// Write every queued listing and end the writer (at shutdown); listings shown
    /// after this are written before their request is answered.
    pub fn stop_shown_writer(&self, writer: ShownWriter) {
        lock(&self.shown.state).stop = true;
        self.shown.wake.notify_all();
        if writer.0.join().is_err() {
            tracing::error!("the writer of shown papers ended in a panic");
        }
        let mut queue = lock(&self.shown.state);
        queue.running = false;
        for (user, listings) in queue.by_user.drain() {
            tracing::error!(
                user = %user,
                listings = listings.len(),
                "shown papers not written to the profile"
            );
        }
    }

    /// The writer's loop: wait for queued listings, write each user's in one profile
    /// change, remove them from the queue once written. A failed write is logged and
    /// tried again a second later (at shutdown: once more, then given up).
    fn write_shown(&self) {
        let mut failures = 0u32;
        loop {
            let (batch, stopping) = {
                let mut queue = lock(&self.shown.state);
                while queue.by_user.is_empty() && !queue.stop {
                    queue = self
                        .shown
                        .wake
                        .wait(queue)
                        .unwrap_or_else(|e| e.into_inner());
                }
                if queue.by_user.is_empty() {
                    return;
                }
                let batch: Vec<(String, Listings)> = queue
                    .by_user
                    .iter()
                    .map(|(u, l)| (u.clone(), l.clone()))
                    .collect();
                (batch, queue.stop)
            };
            let mut failed = false;
            for (user, listings) in batch {
                let written = self.change_profile(&user, || {
                    query::record_shown_days(&self.dir, &user, &listings)
                });
                let mut queue = lock(&self.shown.state);
                match written {
                    Ok(()) => {
                        if let Some(left) = queue.by_user.get_mut(&user) {
                            left.drain(..listings.len().min(left.len()));
                            if left.is_empty() {
                                queue.by_user.remove(&user);
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        tracing::warn!(user = %user, "writing shown papers: {e}");
                        if stopping && failures > 0 {
                            queue.by_user.remove(&user);
                            tracing::error!(user = %user, "shown papers not written: {e}");
                        }
                    }
                }
            }
            if failed {
                failures += 1;
                if !stopping {
                    std::thread::sleep(Duration::from_secs(1));
                }
            } else {
                failures = 0;
            }
        }
    }

    /// `profile` trained against `snap` for `collection` (`None`: the whole feed),
    /// from the cache when neither changed.
    ///
    /// When the cache holds an older model of this feed (same vocabulary) and a change
    /// of this user made through the server is still being retrained, or another
    /// request is training this feed right now, the older model answers at once
    /// instead of waiting: the listing is then ranked by the model of the profile as it
    /// was before that change, with the current profile's likes, dislikes and shown
    /// papers left out as always. A request that finds no training under way trains
    /// (once per feed, as before), so a client that waits for its like's answer before
    /// asking again always gets the ranking of its current profile, as the CLI does.
    pub fn trained(
        &self,
        snap: &Snapshot,
        profile: &Profile,
        collection: Option<&str>,
    ) -> Result<Arc<TrainedFeed>> {
        let key = query::training_key_for(profile, collection);
        let commit = Self::vocabulary_of(snap);
        let slot = (profile.user.clone(), collection.map(String::from));
        let (fresh, older) = {
            let trained = lock(&self.trained);
            match trained.get(&slot) {
                Some((c, k, t)) if *c == commit => {
                    if *k == key {
                        (Some(Arc::clone(t)), None)
                    } else {
                        (None, Some(Arc::clone(t)))
                    }
                }
                _ => (None, None),
            }
        };
        if let Some(t) = fresh {
            return Ok(t);
        }
        let one = Arc::clone(lock(&self.training).entry(slot.clone()).or_default());
        if let Some(t) = older {
            let changing = lock(&self.pending)
                .get(&profile.user)
                .is_some_and(|n| *n > 0);
            let busy = one.try_lock().is_err();
            if changing || busy {
                return Ok(t);
            }
        }
        self.train_slot(snap, profile, collection, &slot, &one)
    }

    /// The commit trained models are valid for: the tf-idf vocabulary's, or the
    /// library's without a stored vocabulary.
    fn vocabulary_of(snap: &Snapshot) -> u64 {
        snap.vocabulary.unwrap_or_else(|| snap.lib.commit())
    }

    /// Train `slot` (single-flight through `one`) unless a fresh model of `profile`
    /// is already cached.
    fn train_slot(
        &self,
        snap: &Snapshot,
        profile: &Profile,
        collection: Option<&str>,
        slot: &FeedSlot,
        one: &Mutex<()>,
    ) -> Result<Arc<TrainedFeed>> {
        let key = query::training_key_for(profile, collection);
        let commit = Self::vocabulary_of(snap);
        let cached = || {
            lock(&self.trained)
                .get(slot)
                .filter(|(c, k, _)| *c == commit && *k == key)
                .map(|(_, _, t)| Arc::clone(t))
        };
        if let Some(t) = cached() {
            return Ok(t);
        }
        let _training = lock(one);
        if let Some(t) = cached() {
            return Ok(t);
        }
        let started = Instant::now();
        let t = Arc::new(query::train_with(
            &snap.lib, &snap.rows, profile, collection,
        )?);
        tracing::info!(
            user = %profile.user,
            collection = ?collection,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "trained"
        );
        lock(&self.trained).insert(slot.clone(), (commit, key, Arc::clone(&t)));
        Ok(t)
    }

    /// Change `user`'s profile with `change` (as [`State::change_profile`]), then
    /// retrain their feeds that this server keeps (the whole feed always), so that
    /// the next recommend finds them trained: the cost of a like is paid by the like,
    /// not by the next read. Recommends of this user that arrive meanwhile are
    /// answered from the previous model ([`State::trained`]). A failed retraining
    /// (say, a profile left with nothing to rank by) is logged, never the change's
    /// error: the next recommend trains and says why.
    pub fn change_and_retrain<T>(&self, user: &str, change: impl Fn() -> Result<T>) -> Result<T> {
        struct Pending<'a>(&'a State, String);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                let mut pending = lock(&self.0.pending);
                if let Some(n) = pending.get_mut(&self.1) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        pending.remove(&self.1);
                    }
                }
            }
        }
        *lock(&self.pending).entry(user.to_string()).or_default() += 1;
        let _pending = Pending(self, user.to_string());
        let out = self.change_profile(user, change)?;
        if let Err(e) = self.retrain(user) {
            tracing::warn!(user, "retraining after a profile change: {e}");
        }
        Ok(out)
    }

    /// Retrain `user`'s kept feeds against the current library and their profile as
    /// it is now, one retraining at a time in the server; a feed already trained on
    /// the current profile (by a retraining that began after this change) is left.
    pub fn retrain(&self, user: &str) -> Result<()> {
        let _one_at_a_time = lock(&self.retraining);
        match &self.retrain_pool {
            Some(pool) => pool.install(|| self.retrain_now(user)),
            None => self.retrain_now(user),
        }
    }

    fn retrain_now(&self, user: &str) -> Result<()> {
        let snap = self.library()?;
        let profile = self.profile(user)?;
        let mut slots: Vec<FeedSlot> = lock(&self.trained)
            .keys()
            .filter(|(u, _)| u == user)
            .cloned()
            .collect();
        let whole: FeedSlot = (user.to_string(), None);
        if !slots.contains(&whole) {
            slots.push(whole);
        }
        if profile.is_empty() {
            return Ok(());
        }
        let mut failed = Ok(());
        for slot in slots {
            let one = Arc::clone(lock(&self.training).entry(slot.clone()).or_default());
            if let Err(e) = self.train_slot(&snap, &profile, slot.1.as_deref(), &slot, &one) {
                failed = Err(e);
            }
        }
        failed
    }

    /// Run a profile change of `user`: one at a time in this process, waiting a little
    /// while another process (the CLI) holds the profiles' lock.
    pub fn change_profile<T>(&self, user: &str, change: impl Fn() -> Result<T>) -> Result<T> {
        let mine = Arc::clone(
            lock(&self.profile_writes)
                .entry(user.to_string())
                .or_default(),
        );
        let _one = lock(&mine);
        let mut tries = 0;
        loop {
            match change() {
                Err(Error::Locked { .. }) if tries < LOCK_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// The accounts, re-read when their file changed.
    pub fn accounts(&self) -> Result<Arc<AccountSet>> {
        let store = Accounts::new(&self.dir);
        let now = stamp(&store.path());
        let mut slot = lock(&self.accounts);
        if let Some((s, set)) = slot.as_ref() {
            if *s == now {
                return Ok(Arc::clone(set));
            }
        }
        let set = Arc::new(store.load()?);
        *slot = Some((now, Arc::clone(&set)));
        Ok(set)
    }

    /// A new session of `user`: its id (the cookie) and CSRF token.
    pub fn new_session(&self, user: &str) -> Result<(String, Session)> {
        let id = random_hex()?;
        let session = Session {
            user: user.to_string(),
            csrf: random_hex()?,
            expires: idle_end(),
        };
        let mut sessions = lock(&self.sessions);
        let now = profiles::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(token_hash(&id), session.clone());
        self.save_sessions(&sessions)?;
        Ok((id, session))
    }

    fn save_sessions(&self, sessions: &HashMap<String, Session>) -> Result<()> {
        let file = SessionsFile {
            format: "paperscout-sessions".into(),
            version: 1,
            sessions: sessions.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Invalid(format!("sessions: {e}")))?;
        crate::fsio::write_atomic(&self.dir, "sessions.json.tmp", SESSIONS_FILE, &bytes)
    }

    /// The live session with this id, kept alive; `None` when unknown or expired, or
    /// when its account is gone.
    pub fn session(&self, id: &str) -> Option<Session> {
        let key = token_hash(id);
        let mut sessions = lock(&self.sessions);
        let s = sessions.get_mut(&key)?;
        if s.expires <= profiles::now() {
            sessions.remove(&key);
            return None;
        }
        s.expires = idle_end();
        Some(s.clone())
    }

    pub fn end_session(&self, id: &str) {
        let mut sessions = lock(&self.sessions);
        if sessions.remove(&token_hash(id)).is_some() {
            if let Err(e) = self.save_sessions(&sessions) {
                tracing::warn!("could not write {SESSIONS_FILE}: {e}");
            }
        }
    }

    /// Whether another login attempt for any of `keys` (the user, the address) is
    /// allowed now.
    pub fn login_allowed(&self, keys: &[String]) -> bool {
        let attempts = lock(&self.attempts);
        keys.iter().all(|k| match attempts.get(k) {
            Some((n, since)) => *n < LOGIN_ATTEMPTS || since.elapsed() > LOGIN_WINDOW,
            None => true,
        })
    }

    /// Count a failed login against `keys`; a success clears them.
    pub fn login_result(&self, keys: &[String], ok: bool) {
        let mut attempts = lock(&self.attempts);
        for k in keys {
            if ok {
                attempts.remove(k);
                continue;
            }
            let e = attempts.entry(k.clone()).or_insert((0, Instant::now()));
            if e.1.elapsed() > LOGIN_WINDOW {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }
}
