//! paperscout: a semantic paper recommender.
//!
//! Papers from many sources become [`paper::Paper`] records, are embedded by
//! [`embed::Embedder`] (a Candle BERT sentence-transformer) and kept in a local library.
//! Users' profiles live in the library too ([`library::profiles`]); [`recommend`] trains
//! them with [`rank`] and lists a day's best papers, which [`render`] prints as a table,
//! JSON, Markdown, HTML or an Atom feed. [`fetch`] brings each day's papers from arXiv
//! and Hugging Face over HTTP; [`delivery`] writes each user's daily feed and digest and
//! mails it, as [`config`] (`LIBRARY/config.toml`) says. The `paperscout` binary only
//! parses arguments
//! and calls [`cli`].

pub mod app;
pub mod bibtex;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fetch;
pub mod fsio;
pub mod ingest;
pub mod job;
pub mod library;
pub mod paper;
pub mod rank;
pub mod recommend;
pub mod render;
pub mod serve;
pub mod steer;
pub mod tex;

pub use error::{Error, Result};
