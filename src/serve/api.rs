//! The JSON API under `/api/v1`: the same listings as the CLI's `--format json` (made by
//! the same renderer), the profile as `profile show --format json` prints it, and likes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Axum};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::ApiUser;
use super::state::State;
use super::{blocking, ApiError};
use crate::app::{self, query};
use crate::error::Error;
use crate::paper::canonical_id;
use crate::render;

type Params = Query<HashMap<String, String>>;

/// A listing as the CLI's `--format json` prints it.
pub fn listing_json(listing: &render::Listing) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        render::render(listing, render::Format::Json),
    )
        .into_response()
}

fn json_value(v: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{v:#}\n"),
    )
        .into_response()
}

/// Parse parameter `name` of `p`, naming it and what was expected when it is bad.
fn param<T: std::str::FromStr>(
    p: &HashMap<String, String>,
    name: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad(format!("parameter {name}={v:?}: expected {what}"))),
    }
}

fn flag(p: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, ApiError> {
    match p.get(name).map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "" | "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ApiError::bad(format!(
                "parameter {name}={v:?}: expected true or false"
            ))),
        },
    }
}

/// The `date`/`since` window of the parameters.
pub fn window(p: &HashMap<String, String>) -> Result<query::Window, ApiError> {
    let date = match p.get("date").filter(|d| !d.is_empty()) {
        Some(d) => Some(query::parse_day("date", d)?),
        None => None,
    };
    let since: Option<u32> = param(p, "since", "a number of days (1 or more)")?;
    if date.is_some() && since.is_some() {
        return Err(ApiError::bad("give date or since, not both"));
    }
    if since == Some(0) {
        return Err(ApiError::bad("since must be at least 1 (days)"));
    }
    Ok(query::Window { date, since })
}

fn top(p: &HashMap<String, String>, default: usize) -> Result<usize, ApiError> {
    let top: usize = param(p, "top", "a number from 1 to 1000")?.unwrap_or(default);
    if top == 0 || top > 1000 {
        return Err(ApiError::bad(format!(
            "parameter top={top}: expected a number from 1 to 1000"
        )));
    }
    Ok(top)
}

/// The recommend request of the parameters, for `user`.
pub fn recommend_request(
    user: &str,
    p: &HashMap<String, String>,
) -> Result<query::RecommendRequest, ApiError> {
    if let Some(other) = p.get("user").filter(|u| *u != user) {
        return Err(ApiError::forbidden(format!(
            "signed in as {user}: the recommendations of {other} are theirs"
        )));
    }
    let min_score: Option<f32> = param(p, "min_score", "a number from 0 to 1")?;
    if min_score.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        return Err(ApiError::bad(
            "parameter min_score: expected a number from 0 to 1 (a calibrated score)",
        ));
    }
    let collection = p.get("collection").filter(|c| !c.is_empty()).cloned();
    if let Some(c) = &collection {
        crate::library::profiles::check_collection(c)?;
    }
    let categories = p
        .get("categories")
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(query::RecommendRequest {
        user: user.to_string(),
        window: window(p)?,
        top: top(p, 20)?,
        min_score,
        categories,
        include_seen: flag(p, "include_seen", false)?,
        record: flag(p, "record", true)?,
        collection,
    })
}

/// Recommend for `req` with the cached library and trained profile, recording what is
/// listed when asked.
pub fn recommend(
    state: &State,
    req: &query::RecommendRequest,
) -> crate::Result<query::Recommendation> {
    let snap = state.library()?;
    let profile = state.profile(&req.user)?;
    let trained = state.trained(&snap, &profile, req.collection.as_deref())?;
    let unrecorded = query::RecommendRequest {
        record: false,
        ..req.clone()
    };
    let out =
        query::recommend_trained_with(&snap.lib, &snap.rows, &profile, &trained, &unrecorded)?;
    if req.record {
        state.record_shown(&profile, &out.listing)?;
    }
    Ok(out)
}

pub async fn get_recommend(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let req = recommend_request(&user, &p)?;
    let out = blocking(move || recommend(&state, &req)).await?;
    Ok(listing_json(&out.listing))
}

/// `/api/v1/papers/ID` and `/api/v1/papers/ID/similar` (ids may hold a `/`, as old
/// arXiv ids do).
pub async fn get_paper(
    Axum(state): Axum<Arc<State>>,
    ApiUser(_user): ApiUser,
    Path(rest): Path<String>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    if let Some(id) = rest.strip_suffix("/similar") {
        let opts = query::QueryOptions {
            top: top(&p, 10)?,
            window: window(&p)?,
        };
        let id = id.to_string();
        let listing = blocking(move || {
            let snap = state.library()?;
            query::similar_cached(&snap.lib, snap.tfidf.as_ref(), Some(&snap.rows), &id, &opts)
        })
        .await?;
        return Ok(listing_json(&listing));
    }
    let paper = blocking(move || {
        let snap = state.library()?;
        snap.lib
            .get(&canonical_id(&rest))
            .cloned()
            .ok_or(Error::UnknownIds(vec![rest]))
    })
    .await?;
    Ok(json_value(serde_json::to_value(&paper).unwrap_or_default()))
}

pub async fn get_search(
    Axum(state): Axum<Arc<State>>,
    ApiUser(_user): ApiUser,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let text = p.get("q").cloned().unwrap_or_default();
    query::check_search(&text)?;
    let opts = query::QueryOptions {
        top: top(&p, 10)?,
        window: window(&p)?,
    };
    let listing = blocking(move || {
        let snap = state.library()?;
        query::search_cached(
            &snap.lib,
            snap.tfidf.as_ref(),
            Some(&snap.rows),
            &state.models,
            &text,
            &opts,
        )
    })
    .await?;
    Ok(listing_json(&listing))
}

pub async fn get_profile(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
) -> Result<Response, ApiError> {
    profile_response(state, user).await
}

/// `/api/v1/users/USER/profile`: the signed-in user's own only.
pub async fn get_user_profile(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    Path(other): Path<String>,
) -> Result<Response, ApiError> {
    if other != user {
        return Err(ApiError::forbidden(format!(
            "signed in as {user}: the profile of {other} is theirs"
        )));
    }
    profile_response(state, user).await
}

async fn profile_response(state: Arc<State>, user: String) -> Result<Response, ApiError> {
    let v = blocking(move || {
        let profile = state.profile(&user)?;
        let snap = state.library().ok();
        Ok(app::profile::profile_json(
            &profile,
            snap.as_ref().map(|s| &s.lib),
        ))
    })
    .await?;
    Ok(json_value(v))
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

fn ids_of(body: &Bytes) -> Result<Vec<String>, ApiError> {
    let ids: Ids = body_of(body, "{\"ids\": [\"ID\", ...]}")?;
    one_to_a_thousand(ids.ids, "ids")
}

/// `list`, the `field` of a request body, when it holds 1 to 1000 entries.
fn one_to_a_thousand(list: Vec<String>, field: &str) -> Result<Vec<String>, ApiError> {
    if list.is_empty() {
        return Err(ApiError::bad(format!("request body: \"{field}\" is empty")));
    }
    if list.len() > 1000 {
        return Err(ApiError::bad(format!(
            "request body: at most 1000 {field} at once"
        )));
    }
    Ok(list)
}

/// Like (`like`) or dislike `ids` as `user`, in `collection` (`None`: the default).
pub fn mark(
    state: &State,
    user: &str,
    ids: &[String],
    like: bool,
    collection: Option<&str>,
) -> crate::Result<serde_json::Value> {
    let snap = state.library()?;
    let out = state.change_and_retrain(user, || {
        app::profile::mark_in(&snap.lib, user, collection, ids, like)
    })?;
    Ok(serde_json::json!({
        "added": out.added,
        "profile": app::profile::profile_json(&out.profile, Some(&snap.lib)),
    }))
}

/// Forget likes or dislikes of `ids` as `user`.
pub fn unlike(state: &State, user: &str, ids: &[String]) -> crate::Result<serde_json::Value> {
    let profile = state.change_and_retrain(user, || app::profile::unlike(&state.dir, user, ids))?;
    let snap = state.library().ok();
    Ok(serde_json::json!({
        "profile": app::profile::profile_json(&profile, snap.as_ref().map(|s| &s.lib)),
    }))
}

async fn post_mark(
    state: Arc<State>,
    user: String,
    body: Bytes,
    like: bool,
) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Marks {
        ids: Vec<String>,
        #[serde(default)]
        collection: Option<String>,
    }
    let marks: Marks = body_of(
        &body,
        "{\"ids\": [\"ID\", ...], \"collection\": \"NAME\" (optional)}",
    )?;
    let ids = one_to_a_thousand(marks.ids, "ids")?;
    let collection = marks.collection.filter(|c| !c.is_empty());
    if let Some(c) = &collection {
        crate::library::profiles::check_collection(c)?;
    }
    let v = blocking(move || mark(&state, &user, &ids, like, collection.as_deref())).await?;
    Ok(json_value(v))
}

pub async fn post_likes(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    post_mark(state, user, body, true).await
}

pub async fn post_dislikes(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    post_mark(state, user, body, false).await
}

pub async fn post_unlike(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ids = ids_of(&body)?;
    let v = blocking(move || unlike(&state, &user, &ids)).await?;
    Ok(json_value(v))
}

pub async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}\n",
    )
        .into_response()
}

/// `/feeds/USER.atom?token=FEED_TOKEN`: the user's latest day as an Atom feed (not
/// recorded as shown: a feed reader polls).
pub async fn get_feed(
    Axum(state): Axum<Arc<State>>,
    Path(file): Path<String>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let Some(user) = file.strip_suffix(".atom").map(String::from) else {
        return Err(ApiError::not_found(format!(
            "no feed {file:?}: feeds are /feeds/USER.atom"
        )));
    };
    let token = p.get("token").cloned().unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::unauthorized(
            "a feed needs its ?token= (see your profile page)",
        ));
    }
    let s = Arc::clone(&state);
    let (known, ok) = blocking(move || {
        let set = s.accounts()?;
        Ok((
            set.accounts.contains_key(&user),
            set.feed_token_ok(&user, &token),
        ))
    })
    .await?;
    let user = file.trim_end_matches(".atom").to_string();
    if !known {
        return Err(ApiError::not_found(format!("no feed of {user:?}")));
    }
    if !ok {
        return Err(ApiError::forbidden(format!("wrong feed token for {user}")));
    }
    let req = query::RecommendRequest {
        record: false,
        ..recommend_request(&user, &HashMap::new())?
    };
    let out = blocking(move || recommend(&state, &req)).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        render::render(&out.listing, render::Format::Atom),
    )
        .into_response())
}

/// Parse a JSON request body as `T`, saying what was expected when it is not.
fn body_of<T: serde::de::DeserializeOwned>(body: &Bytes, expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("request body: expected JSON {expected} ({e})")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Names {
    names: Vec<String>,
}

/// Names of a follow/unfollow body: 1 to 1000.
fn names_of(body: &Bytes) -> Result<Vec<String>, ApiError> {
    let n: Names = body_of(body, "{\"names\": [\"AUTHOR\", ...]}")?;
    one_to_a_thousand(n.names, "names")
}

/// A profile change that leaves training alone (follows, keyword rules, threshold):
/// the change, then the profile as `/api/v1/profile` shows it.
async fn steer(
    state: Arc<State>,
    user: String,
    change: impl Fn(&std::path::Path, &str) -> crate::Result<crate::library::profiles::Profile>
        + Send
        + 'static,
) -> Result<Response, ApiError> {
    let v = blocking(move || {
        let profile = state.change_profile(&user, || change(&state.dir, &user))?;
        let snap = state.library().ok();
        Ok(serde_json::json!({
            "profile": app::profile::profile_json(&profile, snap.as_ref().map(|s| &s.lib)),
        }))
    })
    .await?;
    Ok(json_value(v))
}

/// `POST /api/v1/follows {"names": [...]}`: as `profile USER follow NAME...`.
pub async fn post_follows(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let names = names_of(&body)?;
    steer(state, user, move |dir, user| {
        app::profile::follow(dir, user, &names)
    })
    .await
}

/// `POST /api/v1/unfollow {"names": [...]}`: as `profile USER unfollow NAME...`.
pub async fn post_unfollow(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let names = names_of(&body)?;
    steer(state, user, move |dir, user| {
        app::profile::unfollow(dir, user, &names)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keywords {
    #[serde(default)]
    require: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    clear: bool,
}

/// `POST /api/v1/keywords {"require": [...], "exclude": [...], "remove": [...],
/// "clear": false}`: as `profile USER keywords` (clear, then remove, then add).
pub async fn post_keywords(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let k: Keywords = body_of(
        &body,
        "{\"require\": [...], \"exclude\": [...], \"remove\": [...], \"clear\": false}",
    )?;
    let change = app::profile::KeywordChange {
        require: k.require,
        exclude: k.exclude,
        remove: k.remove,
        clear: k.clear,
    };
    if change.is_empty() {
        return Err(ApiError::bad(
            "request body: nothing to change (give require, exclude, remove or clear)",
        ));
    }
    steer(state, user, move |dir, user| {
        app::profile::keywords(dir, user, &change)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Threshold {
    threshold: Option<f32>,
}

/// `POST /api/v1/threshold {"threshold": 0.3}` (`null` clears it): as
/// `profile USER threshold`.
pub async fn post_threshold(
    Axum(state): Axum<Arc<State>>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t: Threshold = body_of(&body, "{\"threshold\": NUMBER from 0 to 1, or null}")?;
    if t.threshold.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        return Err(ApiError::bad(
            "request body: threshold must be a number from 0 to 1 (a calibrated score), or null",
        ));
    }
    steer(state, user, move |dir, user| {
        app::profile::set_threshold(dir, user, t.threshold)
    })
    .await
}
