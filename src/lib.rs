//! paperscout: a semantic paper recommender.
//!
//! Papers from many sources become [`paper::Paper`] records, are embedded by
//! [`embed::Embedder`] (a Candle BERT sentence-transformer) and kept in a local library.
//! The `paperscout` binary only parses arguments and calls [`cli`].

pub mod cli;
pub mod embed;
pub mod error;
pub mod eval;
pub mod ingest;
pub mod job;
pub mod library;
pub mod paper;
pub mod rank;

pub use error::{Error, Result};
