//! Regression tests of the adversarial pass of issue 10 over the library, the profiles,
//! the caches and the embed checkpoints: planted links, failed writes, silent
//! corruption, concurrent profile edits, concurrent and damaged embed checkpoints, and
//! model identity. Each test is named after what broke.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paperscout::fsio::fault;
use paperscout::job::{checkpoint_dir, run_job, InputKey, JobOptions, TextEmbedder};
use paperscout::library::profiles::{self, Profiles};
use paperscout::library::{Library, ModelInfo, Writer, WriterOptions};
use paperscout::paper::Paper;
use paperscout::{Error, Result};

// ---- a small synthetic library ------------------------------------------------------

pub(crate) const DIM: usize = 8;
pub(crate) const SHA: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

pub(crate) fn model() -> ModelInfo {
    ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2", SHA, DIM)
}

/// A deterministic unit vector per seed (xorshift), no two alike.
pub(crate) fn unit(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.into_iter().map(|a| a / n).collect()
}

const TOPICS: [&str; 4] = [
    "graph neural networks for molecules",
    "retrieval augmented language models",
    "robot policy learning from video",
    "quantum error correcting codes",
];

fn paper(i: usize) -> Paper {
    let mut p = Paper::new(
        format!("2601.{i:05}"),
        format!("Alpha study {i} of {}", TOPICS[i % 4]),
    );
    p.abstract_text = format!(
        "We propose method {i} on {} and show results on {} data sets.",
        TOPICS[i % 4],
        TOPICS[(i + 1) % 4]
    );
    p.listed = chrono::NaiveDate::from_ymd_opt(2026, 1, 1 + (i % 28) as u32);
    p
}

/// A committed library of `n` papers in `dir`.
fn build(dir: &Path, n: usize) {
    let mut w = Writer::open(dir, &model(), &WriterOptions::default()).unwrap();
    let papers: Vec<Paper> = (0..n).map(paper).collect();
    let vectors: Vec<Vec<f32>> = (0..n).map(|i| unit(i as u64)).collect();
    w.upsert(&papers, &vectors).unwrap();
    w.finish().unwrap();
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---- 4: planted links ---------------------------------------------------------------

/// Issue 10.4: with `profiles/ada.json.tmp` a symlink to a file elsewhere, a profile
/// change overwrote that file and left `ada.json` a symlink; `write.lock` as a symlink
/// truncated its target. Every write in the library must replace links, not follow them.
#[cfg(unix)]
#[test]
fn planted_symlinks_in_the_library_are_never_written_through() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let outside: Vec<PathBuf> = (0..8)
        .map(|i| {
            let p = tmp.path().join(format!("outside-{i}"));
            std::fs::write(&p, format!("precious {i}")).unwrap();
            p
        })
        .collect();
    let plant = |at: PathBuf, i: usize| {
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(&outside[i], at).unwrap();
    };
    std::fs::create_dir_all(&lib).unwrap();
    plant(lib.join("write.lock"), 0);
    plant(lib.join("manifest.json.tmp"), 1);
    let mut w = Writer::open(&lib, &model(), &WriterOptions::default()).unwrap();
    // Files the first commit creates: its index dump.
    plant(lib.join("index-1.hnsw.graph"), 2);
    plant(lib.join("index-1.hnsw.data"), 3);
    plant(lib.join("manifest.json.tmp"), 1);
    let papers: Vec<Paper> = (0..40).map(paper).collect();
    let vectors: Vec<Vec<f32>> = (0..40).map(|i| unit(i as u64)).collect();
    w.upsert(&papers, &vectors).unwrap();
    w.finish().unwrap();

    plant(lib.join("profiles/ada.json.tmp"), 4);
    plant(lib.join("profiles/ada.lock"), 5);
    plant(lib.join("profiles/write.lock"), 6);
    let store = Profiles::new(&lib);
    let mut edit = store.edit("ada", profiles::now()).unwrap();
    edit.profile.like(&[papers[3].id.clone()], profiles::now());
    edit.save().unwrap();
    let opened = Library::open(&lib, &model()).unwrap();
    plant(
        lib.join(format!("cache/tfidf.{}.tmp", std::process::id())),
        7,
    );
    paperscout::recommend::library_tfidf(&opened).unwrap();

    for (i, p) in outside.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            format!("precious {i}"),
            "{} was written through a link",
            p.display()
        );
    }
    for f in [
        "profiles/ada.json",
        "write.lock",
        "profiles/ada.lock",
        "manifest.json",
    ] {
        let m = std::fs::symlink_metadata(lib.join(f)).unwrap();
        assert!(m.is_file(), "{f} is not a regular file");
    }
    assert_eq!(store.get("ada").unwrap().likes.len(), 1);
    assert_eq!(Library::open(&lib, &model()).unwrap().len(), 40);
    let cached = names(&lib.join("cache"));
    assert!(cached.iter().all(|n| !n.ends_with(".tmp")), "{cached:?}");
}

// ---- 15: failed writes --------------------------------------------------------------

/// Issue 10.15: with the disk full, a failed write left zero-byte
/// `profiles/USER.json.tmp` and `cache/tfidf.PID.tmp` behind.
#[test]
fn a_failed_write_with_the_disk_full_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    build(&lib, 30);
    let store = Profiles::new(&lib);
    let mut edit = store.edit("ada", profiles::now()).unwrap();
    edit.profile.like(&[paper(1).id], profiles::now());
    edit.save().unwrap();

    let profiles_dir = lib.join("profiles");
    fault::fill_disk(&profiles_dir);
    let mut edit = store.edit("ada", profiles::now()).unwrap();
    edit.profile.like(&[paper(2).id], profiles::now());
    let err = edit.save().unwrap_err().to_string();
    fault::heal(&profiles_dir);
    assert!(err.contains("No space left"), "{err}");
    let left = names(&profiles_dir);
    assert!(left.iter().all(|n| !n.ends_with(".tmp")), "{left:?}");
    assert_eq!(
        store.get("ada").unwrap().likes.len(),
        1,
        "the old profile stays"
    );

    let opened = Library::open(&lib, &model()).unwrap();
    let cache = lib.join("cache");
    fault::fill_disk(&cache);
    // A cache that cannot be written is only a warning.
    let fitted = paperscout::recommend::library_tfidf(&opened);
    fault::heal(&cache);
    assert!(fitted.is_ok());
    let left = names(&cache);
    assert!(left.iter().all(|n| !n.ends_with(".tmp")), "{left:?}");

    // A commit that cannot write its manifest leaves the previous commit and no
    // temporary file; it can be retried.
    let mut w = Writer::open(&lib, &model(), &WriterOptions::default()).unwrap();
    w.upsert(&[paper(100)], &[unit(100)]).unwrap();
    fault::fill_disk(&lib);
    let err = w.commit().unwrap_err().to_string();
    fault::heal(&lib);
    assert!(err.contains("No space left"), "{err}");
    assert!(
        !names(&lib).iter().any(|n| n.ends_with(".tmp")),
        "{:?}",
        names(&lib)
    );
    assert_eq!(Library::open(&lib, &model()).unwrap().len(), 30);
    w.commit().unwrap();
    drop(w);
    assert_eq!(Library::open(&lib, &model()).unwrap().len(), 31);
}

// ---- 8: profile locks ---------------------------------------------------------------

/// Issue 10.8: all profiles shared one lock that did not wait: `recommend alice` and
/// `recommend bob` at once lost the record of what was shown, and two `profile … like`
/// at once refused one. Every edit of every user must land.
#[test]
fn concurrent_profile_edits_of_the_same_and_other_users_all_land() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Profiles::new(tmp.path());
    let users = ["ada", "bob", "cy"];
    let threads = 9;
    let edits = 12;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = store.clone();
            s.spawn(move || {
                let user = users[t % users.len()];
                for i in 0..edits {
                    let id = format!("t{t}-{i}");
                    let mut edit = store.edit(user, profiles::now()).unwrap();
                    if i % 2 == 0 {
                        edit.profile.like(&[id], profiles::now());
                    } else {
                        edit.profile.add_shown(&[id], day, profiles::now());
                    }
                    edit.save().unwrap();
                }
            });
        }
    });
    for (u, user) in users.iter().enumerate() {
        let p = store.get(user).unwrap();
        let mut want_likes = Vec::new();
        let mut want_shown = Vec::new();
        for t in (0..threads).filter(|t| t % users.len() == u) {
            for i in 0..edits {
                let id = format!("t{t}-{i}");
                if i % 2 == 0 {
                    want_likes.push(id);
                } else {
                    want_shown.push(id);
                }
            }
        }
        let mut likes: Vec<String> = p.likes.iter().map(|m| m.id.clone()).collect();
        let mut shown: Vec<String> = p.shown.iter().map(|m| m.id.clone()).collect();
        likes.sort();
        shown.sort();
        want_likes.sort();
        want_shown.sort();
        assert_eq!(likes, want_likes, "{user}: likes");
        assert_eq!(shown, want_shown, "{user}: shown");
        assert_eq!(p.history.len(), (threads / users.len()) * edits, "{user}");
    }
}

/// A change that waits too long gets a clear error naming the user, not a hang.
#[test]
fn a_profile_locked_too_long_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Profiles::new(tmp.path());
    let held = store.edit("ada", profiles::now()).unwrap();
    let impatient = store.clone().with_lock_wait(Duration::from_millis(50));
    let err = impatient.edit("ada", profiles::now()).unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("ada") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    impatient.edit("bob", profiles::now()).unwrap();
    drop(held);
    impatient.edit("ada", profiles::now()).unwrap();
}

// ---- 13: model identity -------------------------------------------------------------

/// Issue 10.13: the same weights under another directory name were refused (`built
/// with model minilm (sha256 53aa…), not all-MiniLM-L6-v2 (sha256 53aa…)`).
#[test]
fn the_same_weights_under_another_name_open_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 10);
    let renamed = ModelInfo::new("minilm", SHA.to_uppercase(), DIM);
    let lib = Library::open(tmp.path(), &renamed).unwrap();
    assert_eq!(lib.model().name, model().name, "the stored name is kept");
    let mut w = Writer::open(tmp.path(), &renamed, &WriterOptions::default()).unwrap();
    w.upsert(&[paper(50)], &[unit(50)]).unwrap();
    w.finish().unwrap();
    assert_eq!(manifest(tmp.path())["model"]["name"], model().name.as_str());
    // Other weights, or another dimension, are still another model.
    let other = ModelInfo::new("minilm", "ff".repeat(32), DIM);
    let err = Library::open(tmp.path(), &other).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    let err = Library::open(tmp.path(), &ModelInfo::new("minilm", SHA, DIM + 1)).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
}

// ---- 6: silent corruption -----------------------------------------------------------

/// Check that both a reader and a writer refuse `dir` with a message containing every
/// one of `want`: at open, or at `verify` (an open checks the last block only).
fn refused(dir: &Path, want: &[&str]) -> String {
    let err = Library::open(dir, &model())
        .and_then(|lib| lib.verify())
        .unwrap_err()
        .to_string();
    for w in want {
        assert!(err.contains(w), "{err}\n  should contain {w:?}");
    }
    assert!(
        Writer::open(dir, &model(), &WriterOptions::default())
            .and_then(|w| w.verify())
            .is_err(),
        "a writer opened and verified it"
    );
    err
}

fn edit_file(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = std::fs::read(path).unwrap();
    f(&mut b);
    std::fs::write(path, b).unwrap();
}

/// Issue 10.6: flipping the sign bits of a vector row keeps it unit-length and gave
/// other `similar` answers, no error.
#[test]
fn flipped_sign_bits_of_a_vector_row_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 300);
    let file = manifest(tmp.path())["vectors"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    edit_file(&tmp.path().join(&file), |b| {
        let row = 200;
        for k in 0..DIM {
            b[(row * DIM + k) * 4 + 3] ^= 0x80;
        }
    });
    refused(tmp.path(), &[&file, "rows 128..256", "corrupt"]);
}

/// Issue 10.6: swapping two rows of the vectors file gave other answers, no error.
#[test]
fn swapped_vector_rows_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 300);
    let file = manifest(tmp.path())["vectors"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    edit_file(&tmp.path().join(&file), |b| {
        let row = DIM * 4;
        let (a, c) = (5 * row, 6 * row);
        let first = b[a..a + row].to_vec();
        b.copy_within(c..c + row, a);
        b[c..c + row].copy_from_slice(&first);
    });
    refused(tmp.path(), &[&file, "rows 0..128", "corrupt"]);
}

/// Issue 10.6: an edited title in the papers log was accepted although its text hash no
/// longer matched.
#[test]
fn an_edited_title_in_the_papers_log_is_reported_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 30);
    let file = manifest(tmp.path())["papers"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    edit_file(&tmp.path().join(&file), |b| {
        let text = String::from_utf8(b.clone()).unwrap();
        // Same length, so every byte count still agrees.
        *b = text
            .replacen("Alpha study 7 of", "Omega study 7 of", 1)
            .into_bytes();
    });
    let err = refused(tmp.path(), &[&file, ":8:", "2601.00007", "text hash"]);
    assert!(!err.contains("panicked"), "{err}");
}

/// Damage the text hash cannot see (a changed date) is caught by the log's checksums.
#[test]
fn an_edited_date_in_the_papers_log_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), 30);
    let file = manifest(tmp.path())["papers"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    edit_file(&tmp.path().join(&file), |b| {
        let text = String::from_utf8(b.clone()).unwrap();
        *b = text.replacen("2026-01-05", "2026-01-06", 1).into_bytes();
    });
    refused(tmp.path(), &[&file, "lines 1-30", "checksum"]);
}

/// The stored fixture of format version 1 (no checksums) opens, and a writer upgrades a
/// copy of it to the current format, whose checksums then catch damage.
#[test]
fn a_format_v1_library_is_upgraded_by_a_writer() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/library");
    let v1: ModelInfo = serde_json::from_value(manifest(&fixture)["model"].clone()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("lib");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&fixture).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let before = Library::open(&copy, &v1).unwrap();
    assert_eq!(before.stats().format_version, 1);
    assert_eq!(
        manifest(&copy)["format_version"],
        1,
        "a reader writes nothing"
    );
    let vectors: Vec<(String, Vec<f32>)> = before
        .papers_with_vectors()
        .map(|(p, v)| (p.id.clone(), v.to_vec()))
        .collect();
    drop(before);

    drop(Writer::open(&copy, &v1, &WriterOptions::default()).unwrap());
    let m = manifest(&copy);
    assert_eq!(m["format_version"], paperscout::library::FORMAT_VERSION);
    assert!(m["vectors"]["checksums"]["crc32"].is_string(), "{m}");
    assert!(m["papers"]["checksums"]["crc32"].is_string(), "{m}");
    let after = Library::open(&copy, &v1).unwrap();
    assert_eq!(after.len(), vectors.len());
    for (id, v) in &vectors {
        assert_eq!(after.vector(id), Some(v.as_slice()), "{id}");
    }
    drop(after);
    // The fixture itself is untouched.
    assert_eq!(manifest(&fixture)["format_version"], 1);

    let file = m["vectors"]["file"].as_str().unwrap().to_string();
    edit_file(&copy.join(&file), |b| {
        let row = 384 * 4;
        let first = b[..row].to_vec();
        b.copy_within(row..2 * row, 0);
        b[row..2 * row].copy_from_slice(&first);
    });
    let err = Library::open(&copy, &v1).unwrap_err().to_string();
    assert!(err.contains(&file) && err.contains("corrupt"), "{err}");
}

// ---- 10 and 11: embed checkpoints ---------------------------------------------------

/// A fake model: a vector from a hash of the words; can wait at a gate, or fail.
struct Gated {
    /// The first batch waits until this turns true.
    open: AtomicBool,
    entered: AtomicBool,
    fail_at_batch: Option<usize>,
    batches: AtomicUsize,
}

impl Gated {
    fn new() -> Gated {
        Gated {
            open: AtomicBool::new(true),
            entered: AtomicBool::new(false),
            fail_at_batch: None,
            batches: AtomicUsize::new(0),
        }
    }
}

impl TextEmbedder for Gated {
    fn dim(&self) -> usize {
        4
    }
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(text.bytes().map(u32::from).take(16).collect())
    }
    fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let k = self.batches.fetch_add(1, Ordering::SeqCst);
        if self.fail_at_batch == Some(k) {
            return Err(Error::Invalid("injected failure".into()));
        }
        self.entered.store(true, Ordering::SeqCst);
        let start = Instant::now();
        while !self.open.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(batch
            .iter()
            .map(|t| {
                let s = t.iter().map(|x| *x as u64).sum::<u64>();
                unit(s)[..4].to_vec()
            })
            .collect())
    }
    fn model_name(&self) -> &str {
        "gated"
    }
}

fn job_records(n: usize) -> Vec<Result<(String, String)>> {
    (0..n)
        .map(|i| {
            Ok((
                format!("r{i}"),
                format!("record {i} about {}", TOPICS[i % 4]),
            ))
        })
        .collect()
}

fn job_options() -> JobOptions {
    JobOptions {
        window: 10,
        batch_tokens: 64,
        max_batch_size: 4,
        checkpoint_every: 1,
        progress: false,
        ..JobOptions::default()
    }
}

/// Issue 10.10: two `embed` runs with the same output raced on its checkpoint; one
/// failed with `state.json.tmp: No such file or directory`. The second must be refused
/// at once, saying another run holds the output.
#[test]
fn a_second_embed_run_on_the_same_output_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("v.jsonl");
    let first = Gated::new();
    first.open.store(false, Ordering::SeqCst);
    let input = InputKey::named("in");
    std::thread::scope(|s| {
        let running =
            s.spawn(|| run_job(&first, &input, job_records(50), Some(&out), &job_options()));
        let start = Instant::now();
        while !first.entered.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the first run never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let second = Gated::new();
        let t = Instant::now();
        let err = run_job(&second, &input, job_records(50), Some(&out), &job_options())
            .expect_err("the second run must be refused");
        let msg = err.to_string();
        assert!(
            msg.contains("v.jsonl") && msg.contains("another embed run"),
            "{msg}"
        );
        assert_eq!(
            second.batches.load(Ordering::SeqCst),
            0,
            "it embedded nothing"
        );
        eprintln!("refused after {:?}", t.elapsed());
        first.open.store(true, Ordering::SeqCst);
        let summary = running.join().unwrap().unwrap();
        assert_eq!(summary.rows, 50);
    });
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(lines, 50);
    assert!(!checkpoint_dir(&out).exists());
}

/// Issue 10.11: a digit changed in `OUT.partial/rows.jsonl` was resumed without
/// complaint and the output carried the damage. The damaged checkpoint must be
/// refused, pointing at --restart.
#[test]
fn a_damaged_embed_checkpoint_is_refused() {
    for name in ["v.jsonl", "v.npy"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(name);
        let input = InputKey::named("in");
        let mut failing = Gated::new();
        failing.fail_at_batch = Some(8);
        run_job(
            &failing,
            &input,
            job_records(60),
            Some(&out),
            &job_options(),
        )
        .expect_err("injected failure");
        let dir = checkpoint_dir(&out);
        let data = if name.ends_with(".jsonl") {
            dir.join("rows.jsonl")
        } else {
            dir.join("rows.f32")
        };
        edit_file(&data, |b| {
            if name.ends_with(".jsonl") {
                let at = b
                    .iter()
                    .position(|c| c.is_ascii_digit() && *c != b'0')
                    .unwrap();
                b[at] = if b[at] == b'9' { b'8' } else { b[at] + 1 };
            } else {
                b[7] ^= 0x80;
            }
        });
        let err = run_job(
            &Gated::new(),
            &input,
            job_records(60),
            Some(&out),
            &job_options(),
        )
        .expect_err("a damaged checkpoint must be refused")
        .to_string();
        assert!(
            err.contains("damaged") && err.contains("--restart") && err.contains(".partial"),
            "{name}: {err}"
        );
        assert!(!out.exists(), "{name}: no output from a damaged checkpoint");
        let restart = JobOptions {
            restart: true,
            ..job_options()
        };
        let summary =
            run_job(&Gated::new(), &input, job_records(60), Some(&out), &restart).expect("restart");
        assert_eq!((summary.resumed_from, summary.rows), (0, 60));
    }
}

/// An undamaged checkpoint still resumes (the checksum is not in the way).
#[test]
fn an_intact_embed_checkpoint_resumes_with_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("v.npy");
    let input = InputKey::named("in");
    let mut failing = Gated::new();
    failing.fail_at_batch = Some(8);
    run_job(
        &failing,
        &input,
        job_records(60),
        Some(&out),
        &job_options(),
    )
    .expect_err("injected failure");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(checkpoint_dir(&out).join("state.json")).unwrap(),
    )
    .unwrap();
    assert!(
        state["data_crc32"].is_u64() && state["ids_crc32"].is_u64(),
        "{state}"
    );
    let summary = run_job(
        &Gated::new(),
        &input,
        job_records(60),
        Some(&out),
        &job_options(),
    )
    .expect("resume");
    assert!(summary.resumed_from > 0);
    assert_eq!(summary.rows, 60);
}

// ---- cost of the checks -------------------------------------------------------------

/// Not a regression test: the open time of a library of the 27k papers of
/// `../shared/data/arxiv-daily-cs-2026h1` with their reference vectors, and what the
/// checks added for issue 10.6 cost in it (block CRCs of both files, the text hash of
/// every record). `cargo test --test integration -- --ignored --nocapture
/// open_time_of_a_27k_library`.
#[test]
#[ignore = "a measurement: builds a 27k library"]
fn open_time_of_a_27k_library() {
    use sha2::Digest;
    let data = crate::common::shared("data/arxiv-daily-cs-2026h1");
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let real = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2", SHA, 384);
    let options = WriterOptions {
        index: paperscout::library::IndexParams {
            max_nb_connection: 8,
            ef_construction: 24,
        },
        ..WriterOptions::default()
    };
    let mut w = Writer::open(&lib, &real, &options).unwrap();
    for m in 1..=5 {
        let text =
            std::fs::read_to_string(data.join(format!("arxiv_cs_2026-{m:02}.jsonl"))).unwrap();
        let papers: Vec<Paper> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                let mut p = Paper::new(s("id"), s("title"));
                p.abstract_text = s("summary");
                p.listed = s("listing_date").parse().ok();
                p
            })
            .collect();
        let vectors = paperscout::library::npy::read(
            &data.join(format!("minilm-embeddings/arxiv_cs_2026-{m:02}.npy")),
        )
        .unwrap();
        let plan = w.plan(&papers);
        let rows: Vec<&[f32]> = plan.indices.iter().map(|&i| vectors.row(i)).collect();
        w.upsert(&papers, &rows).unwrap();
        w.commit().unwrap();
    }
    w.finish().unwrap();
    let mut opens = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let l = Library::open(&lib, &real).unwrap();
        opens.push(t.elapsed());
        assert!(l.len() > 26_000);
    }
    let m = manifest(&lib);
    let t = Instant::now();
    for key in ["papers", "vectors"] {
        let bytes = std::fs::read(lib.join(m[key]["file"].as_str().unwrap())).unwrap();
        let block = m[key]["checksums"]["block_bytes"].as_u64().unwrap() as usize;
        let sums: Vec<u32> = bytes.chunks(block).map(crc32fast::hash).collect();
        assert!(!sums.is_empty());
    }
    let crc = t.elapsed();
    let l = Library::open(&lib, &real).unwrap();
    let t = Instant::now();
    let n = l
        .papers()
        .filter(|p| sha2::Sha256::digest(p.text().as_bytes())[0] == 0)
        .count();
    let text = t.elapsed();
    eprintln!(
        "27k library: open {opens:?}; of which block CRCs (serial, incl. reading) {crc:?}, text hashes {text:?} ({n})"
    );
}
