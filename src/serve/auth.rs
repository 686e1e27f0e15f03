//! Who is asking: an API token (`Authorization: Bearer TOKEN`) or a session cookie.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use super::state::{Session, State};
use super::{blocking, ApiError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "paperscout_session";

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The bearer token of the request, if any; `Err` for an `Authorization` header of
/// another kind.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header: not text"))?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(ApiError::unauthorized(
            "Authorization header: expected `Bearer TOKEN`",
        )),
    }
}

/// The signed-in user and, for a browser, their session.
pub async fn identify(
    state: &Arc<State>,
    headers: &HeaderMap,
) -> Result<Option<(String, Option<Session>)>, ApiError> {
    if let Some(token) = bearer(headers)? {
        let s = Arc::clone(state);
        let user =
            blocking(move || Ok(s.accounts()?.user_for_token(&token).map(String::from))).await?;
        return match user {
            Some(u) => Ok(Some((u, None))),
            None => Err(ApiError::unauthorized("unknown or revoked API token")),
        };
    }
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        if let Some(session) = state.session(id) {
            let s = Arc::clone(state);
            let user = session.user.clone();
            // A removed account's sessions end with it.
            let exists = blocking(move || Ok(s.accounts()?.accounts.contains_key(&user))).await?;
            if exists {
                return Ok(Some((session.user.clone(), Some(session))));
            }
            state.end_session(id);
        }
    }
    Ok(None)
}

/// A request of a signed-in user (token or session), else 401.
pub struct ApiUser(pub String);

impl FromRequestParts<Arc<State>> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        match identify(state, &parts.headers).await? {
            Some((user, _)) => Ok(ApiUser(user)),
            None => Err(ApiError::unauthorized(
                "sign in: send `Authorization: Bearer TOKEN` (make one with `paperscout user token USER`)",
            )),
        }
    }
}
