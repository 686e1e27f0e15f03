//! The web surface: `paperscout serve`, an HTTP server (axum on tokio) with a JSON API
//! and server-rendered pages over the same application layer as the CLI
//! ([`crate::app`]). It parses requests and formats answers; ranking, profiles and the
//! library are below it. Blocking work (opening the library, ranking, embedding, file
//! writes) runs in `spawn_blocking`.
//!
//! Endpoints are documented in the README (`paperscout serve`).

pub mod api;
pub mod auth;
pub mod map;
pub mod pages;
pub mod state;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::Models;
use crate::error::{Error, Result};

pub use state::State;
pub use users::{run_user, UserArgs};

/// Largest request body accepted (a BibTeX upload is the largest).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `paperscout serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Worker threads of the runtime (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// An error answer: a status and a JSON body `{"error": MESSAGE, "status": CODE}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Invalid(_) | Error::Input { .. } => StatusCode::BAD_REQUEST,
            Error::UnknownIds(_) => StatusCode::NOT_FOUND,
            Error::Locked { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{e:#}");
        }
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.message, "status": self.status.as_u16()});
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{body}\n"),
        )
            .into_response()
    }
}

/// Run blocking work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        )),
    }
}

/// The Content-Security-Policy of every answer: nothing but our own scripts and styles.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole application: routes and layers.
pub fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route("/recommend", get(api::get_recommend))
        .route("/papers/{*rest}", get(api::get_paper))
        .route("/search", get(api::get_search))
        .route("/profile", get(api::get_profile))
        .route("/users/{user}/profile", get(api::get_user_profile))
        .route("/likes", post(api::post_likes))
        .route("/dislikes", post(api::post_dislikes))
        .route("/unlike", post(api::post_unlike))
        .route("/follows", post(api::post_follows))
        .route("/unfollow", post(api::post_unfollow))
        .route("/keywords", post(api::post_keywords))
        .route("/threshold", post(api::post_threshold));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(api::healthz))
        .route("/feeds/{file}", get(api::get_feed))
        .merge(pages::routes())
        .fallback(|| async { ApiError::not_found("no such page") })
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            // The access log: method, path (never the query: feed tokens), status, time.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(
                    |res: &Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            target: "paperscout::access",
                            status = res.status().as_u16(),
                            ms = latency.as_secs_f64() * 1000.0,
                            "served"
                        );
                    },
                ),
        )
}

/// `paperscout serve`: serve the library in `dir` until SIGTERM or Ctrl-C, then finish
/// the requests under way and return.
pub fn run_serve(dir: PathBuf, models: Models, args: &ServeArgs) -> Result<()> {
    crate::app::require_library(&dir)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .build()
        .map_err(|e| Error::Invalid(format!("starting the server's runtime: {e}")))?;
    let state = Arc::new(State::new(dir, models));
    // Open the library before the first request (and fail now when it cannot be).
    state.library()?;
    let writer = state.start_shown_writer()?;
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", args.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Invalid(format!("listening address: {e}")))?;
        {
            use std::io::Write as _;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        }
        eprintln!("paperscout: listening on http://{addr}");
        axum::serve(
            listener,
            router(Arc::clone(&state)).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| Error::Invalid(format!("serving on {addr}: {e}")))
    });
    // The papers shown to users reach their profiles before the process ends.
    state.stop_shown_writer(writer);
    served
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("paperscout: shutting down: finishing the requests under way");
}
