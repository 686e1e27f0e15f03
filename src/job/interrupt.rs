//! Ctrl-C (and, with ctrlc's `termination` feature, SIGTERM and SIGHUP) for the job:
//! the first signal asks the job to stop at the next batch and save a checkpoint; a
//! second one exits at once (the last checkpoint on disk stays valid).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Catch the signals (once per process) and clear any earlier request. Returns the
/// flag to poll, or `None` when a handler could not be installed (another one is set):
/// the job then runs without a graceful stop, relying on its last checkpoint.
pub(crate) fn install() -> Option<&'static AtomicBool> {
    let installed = *INSTALLED.get_or_init(|| {
        let result = ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted again: exiting now; the last checkpoint stays valid");
                std::process::exit(130);
            }
            eprintln!("interrupted: saving a checkpoint (press Ctrl-C again to quit at once)");
        });
        if let Err(e) = &result {
            tracing::warn!(
                "cannot catch Ctrl-C ({e}); an interrupted job resumes from its last checkpoint"
            );
        }
        result.is_ok()
    });
    installed.then(|| {
        REQUESTED.store(false, Ordering::SeqCst);
        &REQUESTED
    })
}
