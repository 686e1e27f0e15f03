//! The one integration-test binary (Candle links once): `cargo test --test integration`.

mod common;

mod browser;
mod cli;
mod daily;
mod delivery;
mod embed;
mod eval;
mod fetch;
mod hardening_ingest;
mod hardening_library;
mod index_search;
mod ingest;
mod job;
mod kernels;
mod library;
mod rank;
mod recommend;
mod scale_lazy;
mod scale_library;
mod serve;
mod serve_carry;
mod serve_load;
mod shard_vectors;
mod steer_calibration;
mod steer_collections;
mod steer_merge;
mod steer_rules;
mod surface;
