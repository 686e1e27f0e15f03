//! paperscout: a semantic paper recommender.
//!
//! Papers from many sources become [`paper::Paper`] records, are embedded by
//! [`embed::Embedder`] (a Candle BERT sentence-transformer) and kept in a local library.
//! Users' profiles live in the library too ([`library::profiles`]); [`recommend`] trains
//! them with [`rank`] and lists a day's best papers, which [`render`] prints as a table,
//! JSON, Markdown, HTML or an Atom feed. The `paperscout` binary only parses arguments
//! and calls [`cli`].

pub mod app;
pub mod bibtex;
pub mod cli;
pub mod embed;
pub mod error;
pub mod eval;
pub mod ingest;
pub mod job;
pub mod library;
pub mod paper;
pub mod rank;
pub mod recommend;
pub mod render;
pub mod serve;

pub use error::{Error, Result};
