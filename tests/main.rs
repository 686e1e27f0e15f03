//! The one integration-test binary (Candle links once): `cargo test --test integration`.

mod common;

mod browser;
mod cli;
mod embed;
mod eval;
mod index_search;
mod ingest;
mod job;
mod library;
mod rank;
mod recommend;
mod serve;
