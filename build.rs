//! Tells the tests whether the corpus is here: `cfg(paperscout_corpus)` when
//! `$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1/SOURCE.md` exists (default data directory
//! `../shared/data`, relative paths from the repository root). Tests that need the
//! corpus are ignored without it (`#[cfg_attr(not(paperscout_corpus), ignore = ...)]`).
//!
//! Cargo reruns this script when `PAPERSCOUT_DATA` or `PAPERSCOUT_DATA_PRESENT`
//! changes, and when the marker file changes or goes; `scripts/test.sh` sets
//! `PAPERSCOUT_DATA_PRESENT=yes|no`, so a corpus that appears is noticed too. Only the
//! marker is watched, never the data directory: it may be missing, and it is large.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(paperscout_corpus)");
    println!("cargo::rerun-if-env-changed=PAPERSCOUT_DATA");
    println!("cargo::rerun-if-env-changed=PAPERSCOUT_DATA_PRESENT");

    // A relative PAPERSCOUT_DATA is taken from the repository root, as in the tests.
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let data = match std::env::var_os("PAPERSCOUT_DATA") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("../shared/data"),
    };
    let marker = data.join("arxiv-daily-cs-2026h1").join("SOURCE.md");
    if Path::new(&marker).is_file() {
        println!("cargo::rerun-if-changed={}", marker.display());
        println!("cargo::rustc-cfg=paperscout_corpus");
    }
}
