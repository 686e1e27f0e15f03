//! The `paperscout` binary: parse arguments, set up logging, call the library.

use std::process::ExitCode;

use clap::Parser;
use paperscout::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The index crate logs every build and dump at INFO: only -vvv shows it.
    let default_level = match cli.global.verbose {
        0 => "warn",
        1 => "info,hnsw_rs=warn",
        2 => "debug,hnsw_rs=warn",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let err = anyhow::Error::from(err);
            eprintln!("paperscout: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `paperscout ... | head` closing the pipe early is not a failure (as in ripgrep).
fn is_broken_pipe(err: &paperscout::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        // `Error::Io` carries its OS error without offering it as `source()`.
        let io = match e.downcast_ref::<paperscout::Error>() {
            Some(ours) => ours.io_error(),
            None => e.downcast_ref::<std::io::Error>(),
        };
        if let Some(io) = io {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        source = e.source();
    }
    false
}
