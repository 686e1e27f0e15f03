//! Server-rendered pages (maud escapes every text it inserts): sign-in, Today, a paper,
//! Search, Profile and Map. They work without JavaScript (every action is a form that
//! posts and redirects back); `app.js` only does the same actions in place.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State as Axum};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::api;
use super::auth::{cookie, identify, SESSION_COOKIE};
use super::state::{Session, State};
use super::{blocking, map, ApiError};
use crate::app::{self, query};
use crate::library::accounts::constant_eq;
use crate::paper::{canonical_id, Paper};
use crate::render::Item;
use crate::tex;

const CSS: &str = include_str!("static/app.css");
const JS: &str = include_str!("static/app.js");
const LOGIN_CSRF_COOKIE: &str = "paperscout_login";

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/today") }))
        .route(
            "/static/app.css",
            get(|| async { static_file(CSS, "text/css") }),
        )
        .route(
            "/static/app.js",
            get(|| async { static_file(JS, "text/javascript") }),
        )
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/today", get(today))
        .route("/papers/{*id}", get(paper_page))
        .route("/search", get(search_page))
        .route("/profile", get(profile_page))
        .route("/profile/interests", post(interests))
        .route("/profile/bibtex", post(bibtex))
        .route("/profile/email", post(email))
        .route("/act", post(act))
        .route("/map", get(map_page))
}

fn static_file(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A page of a signed-in user; others are sent to the sign-in page.
pub struct PageUser {
    pub user: String,
    /// `None` for a request with an API token (no cookie, so no CSRF to check).
    pub session: Option<Session>,
}

impl PageUser {
    fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf.as_str())
    }

    /// Refuse a form without this session's CSRF token.
    fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        match &self.session {
            None => Ok(()),
            Some(s) if constant_eq(s.csrf.as_bytes(), sent.as_bytes()) => Ok(()),
            Some(_) => Err(PageError(ApiError::forbidden(
                "this form is stale or not from this site (CSRF token mismatch): reload the page and try again",
            ))),
        }
    }
}

/// An error shown as a page.
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<crate::Error> for PageError {
    fn from(e: crate::Error) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let body = page(
            "Error",
            None,
            html! {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p.error { (self.0.message) }
                p { a href="/today" { "Back to today" } }
            },
        );
        (status, body).into_response()
    }
}

impl FromRequestParts<Arc<State>> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, Response> {
        match identify(state, &parts.headers).await {
            Ok(Some((user, session))) => Ok(PageUser { user, session }),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/today", |p| p.as_str())
                    .to_string();
                Err(Redirect::to(&format!("/login?next={}", url_encode(&next))).into_response())
            }
            Err(e) => Err(PageError(e).into_response()),
        }
    }
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only a local path may be a redirect target (never another site).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/today".to_string(),
    }
}

fn page(title: &str, user: Option<&PageUser>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · paperscout" }
                    link rel="stylesheet" href="/static/app.css";
                    script src="/static/app.js" defer {}
                }
                body {
                    header.top {
                        a.brand href="/today" { "paperscout" }
                        @if let Some(u) = user {
                            nav {
                                a href="/today" { "Today" }
                                a href="/search" { "Search" }
                                a href="/map" { "Map" }
                                a href="/profile" { (u.user) }
                                @if u.session.is_some() {
                                    form.inline method="post" action="/logout" {
                                        input type="hidden" name="csrf" value=(u.csrf());
                                        button.link type="submit" { "Sign out" }
                                    }
                                }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

// ---- sign-in -------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    failed: Option<String>,
}

async fn login_page(
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    // Double-submit token: the form carries the cookie's value.
    let token = match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t.to_string(),
        _ => crate::library::accounts::random_hex()?,
    };
    let body = page(
        "Sign in",
        None,
        html! {
            section.login {
                h1 { "Sign in" }
                @if let Some(why) = &q.failed {
                    p.error { (why) }
                }
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="next" value=(local_path(q.next.as_deref()));
                    label { "User" input name="user" autocomplete="username" required autofocus; }
                    label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Sign in" }
                }
                p.hint { "No account? Ask whoever runs this server: " code { "paperscout user add NAME" } }
            }
        },
    );
    Ok((
        [(
            header::SET_COOKIE,
            format!(
                "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600"
            ),
        )],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login(
    Axum(state): Axum<Arc<State>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !constant_eq(expected.as_bytes(), f.csrf.as_bytes()) {
        return Err(PageError(ApiError::forbidden(
            "the sign-in form is stale or not from this site: reload it and try again",
        )));
    }
    let next = local_path(f.next.as_deref());
    // The peer address (behind a proxy: the proxy's; the per-user limit still holds).
    let ip = peer.ip().to_string();
    let keys = vec![format!("user:{}", f.user), format!("ip:{ip}")];
    if !state.login_allowed(&keys) {
        return Err(PageError(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins: wait five minutes",
        )));
    }
    let s = Arc::clone(&state);
    let (user, password) = (f.user.clone(), f.password.clone());
    let ok = blocking(move || Ok(s.accounts()?.verify_password(&user, &password))).await?;
    state.login_result(&keys, ok);
    if !ok {
        let to = format!(
            "/login?failed={}&next={}",
            url_encode("wrong user or password"),
            url_encode(&next)
        );
        return Ok(Redirect::to(&to).into_response());
    }
    let (id, _) = state.new_session(&f.user)?;
    Ok((
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=1209600"),
        )],
        Redirect::to(&next),
    )
        .into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    Axum(state): Axum<Arc<State>>,
    user: PageUser,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&f.csrf)?;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.end_session(id);
    }
    Ok((
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

// ---- listings ------------------------------------------------------------------------

fn arxiv_like(id: &str) -> bool {
    let id = id.trim();
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-'))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn http_link(url: &str) -> Option<&str> {
    let u = url.trim();
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(u)
}

fn paper_href(id: &str) -> String {
    format!("/papers/{}", url_encode(id))
}

/// The like / dislike / hide buttons of a paper.
fn actions(u: &PageUser, id: &str, back: &str, hide: bool) -> Markup {
    html! {
        form.actions method="post" action="/act" data-inplace="1" {
            input type="hidden" name="csrf" value=(u.csrf());
            input type="hidden" name="id" value=(id);
            input type="hidden" name="back" value=(back);
            button.like type="submit" name="action" value="like" title="More like this" { "♥ Like" }
            button.dislike type="submit" name="action" value="dislike" title="Less like this" { "✕ Dislike" }
            @if hide {
                button.hide type="submit" name="action" value="hide" title="Not now" { "Hide" }
            }
        }
    }
}

fn item_view(u: &PageUser, item: &Item, back: &str, hide: bool) -> Markup {
    html! {
        li.paper id=(format!("p-{}", item.id)) {
            div.head {
                span.rank { (item.rank) }
                a.title href=(paper_href(&item.id)) { (tex::to_markup(&item.title)) }
            }
            p.meta {
                span.id { (item.id) }
                @for c in item.categories.iter().take(3) { " · " span.cat { (c) } }
                " · score " (format!("{:.2}", item.score))
                @if let Some(c) = &item.collection { " · collection " span.collection { (c) } }
            }
            @if !item.authors.is_empty() {
                p.authors { (authors(&item.authors)) }
            }
            @if let Some(b) = &item.because {
                p.because {
                    @match &b.id {
                        Some(id) => { "Because you liked " a href=(paper_href(id)) { (tex::to_markup(&b.title)) } }
                        None => { "Because of your interest “" (b.title) "”" }
                    }
                    span.sim { " (" (format!("{:.2}", b.similarity)) ")" }
                }
            }
            @if !item.abstract_text.is_empty() {
                details { summary { "Abstract" } p.abstract { (tex::to_markup(&item.abstract_text)) } }
            }
            (actions(u, &item.id, back, hide))
        }
    }
}

fn authors(list: &[String]) -> String {
    if list.len() > 8 {
        format!("{} et al.", list[..8].join(", "))
    } else {
        list.join(", ")
    }
}

fn listing_view(u: &PageUser, items: &[Item], back: &str, hide: bool) -> Markup {
    html! {
        @if items.is_empty() {
            p.empty { "No papers." }
        } @else {
            ol.papers { @for i in items { (item_view(u, i, back, hide)) } }
        }
    }
}

#[derive(Deserialize, Default)]
struct DayQuery {
    date: Option<String>,
    since: Option<String>,
}

fn day_window(q: &DayQuery) -> Result<query::Window, ApiError> {
    let mut p = HashMap::new();
    if let Some(d) = &q.date {
        p.insert("date".to_string(), d.clone());
    }
    if let Some(s) = &q.since {
        p.insert("since".to_string(), s.clone());
    }
    api::window(&p)
}

async fn today(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Query(q): Query<DayQuery>,
) -> Result<Response, PageError> {
    let window = day_window(&q)?;
    let user = u.user.clone();
    let s = Arc::clone(&state);
    let result = blocking(move || {
        let snap = s.library()?;
        let latest = query::latest_day(&snap.lib)?;
        let profile = s.profile(&user)?;
        if profile.is_empty() {
            return Ok((latest, None));
        }
        let req = query::RecommendRequest {
            user: user.clone(),
            window,
            top: 50,
            min_score: None,
            categories: Vec::new(),
            include_seen: false,
            record: true,
            collection: None,
        };
        let out = api::recommend(&s, &req)?;
        Ok((latest, Some(out)))
    })
    .await?;
    let (latest, out) = result;
    let day = window.date.unwrap_or(latest);
    let back = match (&q.date, &q.since) {
        (Some(d), _) => format!("/today?date={}", url_encode(d)),
        (_, Some(s)) => format!("/today?since={}", url_encode(s)),
        _ => "/today".to_string(),
    };
    let prev = day.pred_opt().unwrap_or(day);
    let next = day.succ_opt().unwrap_or(day);
    let heading = match window.since {
        Some(n) => format!("The last {n} days"),
        None => day.format("%A, %-d %B %Y").to_string(),
    };
    let body = html! {
        div.daynav {
            a href=(format!("/today?date={prev}")) { "← " (prev) }
            h1 { (heading) }
            @if next <= latest { a href=(format!("/today?date={next}")) { (next) " →" } } @else { span {} }
        }
        form.since method="get" action="/today" {
            label { "Since " input type="number" name="since" min="1" max="365" value=(window.since.unwrap_or(7)); " days" }
            button type="submit" { "Show" }
            a href="/today" { "latest day" }
        }
        @match &out {
            None => {
                p.empty { "Your profile is empty: like a paper (search for one you know) or add an interest on your "
                    a href="/profile" { "profile" } " and your ranked list appears here." }
            }
            Some(out) => {
                @if let Some(h) = &out.hint { p.hint { (h) } }
                (listing_view(&u, &out.listing.items, &back, true))
            }
        }
    };
    Ok(page("Today", Some(&u), body).into_response())
}

async fn paper_page(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let want = id.clone();
    let (paper, similar) = blocking(move || {
        let snap = state.library()?;
        let paper: Paper = snap
            .lib
            .get(&canonical_id(&want))
            .cloned()
            .ok_or_else(|| crate::Error::UnknownIds(vec![want.clone()]))?;
        let opts = query::QueryOptions {
            top: 10,
            window: query::Window::default(),
        };
        let similar = query::similar_cached(
            &snap.lib,
            snap.tfidf.as_ref(),
            Some(&snap.rows),
            &paper.id,
            &opts,
        )?;
        Ok((paper, similar))
    })
    .await?;
    let back = paper_href(&paper.id);
    let body = html! {
        article.paper-page {
            h1 { (tex::to_markup(&paper.title)) }
            p.meta {
                span.id { (paper.id) }
                @for c in &paper.categories { " · " span.cat { (c) } }
                @if let Some(d) = paper.listed { " · listed " (d) }
            }
            @if !paper.authors.is_empty() { p.authors { (paper.authors.join(", ")) } }
            p.links {
                @if arxiv_like(&paper.id) {
                    a href=(format!("https://arxiv.org/abs/{}", paper.id)) { "abs" }
                    " · "
                    a href=(format!("https://arxiv.org/pdf/{}", paper.id)) { "pdf" }
                } @else if let Some(url) = paper.url.as_deref().and_then(http_link) {
                    a href=(url) { "link" }
                }
            }
            p.abstract { (tex::to_markup(&paper.abstract_text)) }
            (actions(&u, &paper.id, &back, false))
        }
        h2 { "Similar papers" }
        (listing_view(&u, &similar.items, &back, false))
    };
    Ok(page(&tex::to_unicode(&paper.title), Some(&u), body).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search_page(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let text = q.q.unwrap_or_default();
    let listing = if text.trim().is_empty() {
        None
    } else {
        let t = text.clone();
        Some(
            blocking(move || {
                let snap = state.library()?;
                let opts = query::QueryOptions {
                    top: 25,
                    window: query::Window::default(),
                };
                query::search_cached(
                    &snap.lib,
                    snap.tfidf.as_ref(),
                    Some(&snap.rows),
                    &state.models,
                    &t,
                    &opts,
                )
            })
            .await?,
        )
    };
    let back = format!("/search?q={}", url_encode(&text));
    let body = html! {
        h1 { "Search" }
        form.search method="get" action="/search" {
            input type="search" name="q" value=(text) placeholder="What are you looking for?" autofocus;
            button type="submit" { "Search" }
        }
        @if let Some(l) = &listing { (listing_view(&u, &l.items, &back, false)) }
    };
    Ok(page("Search", Some(&u), body).into_response())
}

async fn profile_page(Axum(state): Axum<Arc<State>>, u: PageUser) -> Result<Response, PageError> {
    let user = u.user.clone();
    let (profile, titles, feed) = blocking(move || {
        let profile = state.profile(&user)?;
        let snap = state.library()?;
        let titles: HashMap<String, String> = profile
            .likes
            .iter()
            .chain(&profile.dislikes)
            .filter_map(|m| snap.lib.get(&m.id).map(|p| (m.id.clone(), p.title.clone())))
            .collect();
        let feed = state
            .accounts()?
            .accounts
            .get(&user)
            .map(|a| a.feed_token.clone());
        Ok((profile, titles, feed))
    })
    .await?;
    let marks = |list: &[crate::library::profiles::Mark]| {
        html! {
            @if list.is_empty() { p.empty { "None yet." } }
            ul.marks {
                @for m in list.iter().rev() {
                    li {
                        a href=(paper_href(&m.id)) { (tex::to_markup(titles.get(&m.id).map_or(m.id.as_str(), String::as_str))) }
                        " "
                        form.inline method="post" action="/act" {
                            input type="hidden" name="csrf" value=(u.csrf());
                            input type="hidden" name="id" value=(m.id);
                            input type="hidden" name="back" value="/profile";
                            button.link type="submit" name="action" value="unlike" { "remove" }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Profile of " (u.user) }
        section {
            h2 { "Likes (" (profile.likes.len()) ")" }
            (marks(&profile.likes))
        }
        section {
            h2 { "Dislikes (" (profile.dislikes.len()) ")" }
            (marks(&profile.dislikes))
        }
        section {
            h2 { "Interests" }
            ul.marks {
                @for i in &profile.interests {
                    li {
                        (i.text) " "
                        form.inline method="post" action="/profile/interests" {
                            input type="hidden" name="csrf" value=(u.csrf());
                            input type="hidden" name="text" value=(i.text);
                            button.link type="submit" name="action" value="remove" { "remove" }
                        }
                    }
                }
            }
            form method="post" action="/profile/interests" {
                input type="hidden" name="csrf" value=(u.csrf());
                input name="text" placeholder="e.g. graph neural networks for chemistry" required;
                button type="submit" name="action" value="add" { "Add interest" }
            }
        }
        section {
            h2 { "Import a BibTeX bibliography" }
            form method="post" action="/profile/bibtex" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(u.csrf());
                input type="file" name="file" accept=".bib,text/plain" required;
                button type="submit" { "Import" }
            }
        }
        section {
            h2 { "Daily digest by mail" }
            form method="post" action="/profile/email" {
                input type="hidden" name="csrf" value=(u.csrf());
                input type="email" name="address" value=(profile.email.as_deref().unwrap_or(""))
                    placeholder="you@example.org" autocomplete="email";
                button type="submit" { "Save" }
            }
            p.hint { @if profile.email.is_some() { "An empty address stops the mail." } @else { "No address: the digest is not mailed." } }
        }
        section {
            h2 { "Your private feed" }
            @if let Some(t) = feed {
                p { "Subscribe in a feed reader (keep the address secret):" }
                p { code.feed { "/feeds/" (u.user) ".atom?token=" (t) } }
            } @else {
                p.empty { "No account, so no feed." }
            }
        }
    };
    Ok(page("Profile", Some(&u), body).into_response())
}

#[derive(Deserialize)]
struct ActForm {
    csrf: String,
    id: String,
    action: String,
    back: Option<String>,
}

/// A like, dislike, unlike or hide from a page; redirects back (a script asking with
/// `Accept: application/json` gets `{"ok": true}` instead).
async fn act(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    headers: HeaderMap,
    Form(f): Form<ActForm>,
) -> Result<Response, PageError> {
    u.check_csrf(&f.csrf)?;
    let user = u.user.clone();
    let ids = vec![f.id.clone()];
    let action = f.action.clone();
    blocking(move || {
        match action.as_str() {
            "like" => {
                api::mark(&state, &user, &ids, true, None)?;
            }
            "dislike" => {
                api::mark(&state, &user, &ids, false, None)?;
            }
            "unlike" => {
                api::unlike(&state, &user, &ids)?;
            }
            "hide" => {
                state.change_and_retrain(&user, || app::profile::hide(&state.dir, &user, &ids))?;
            }
            other => {
                return Err(crate::Error::Invalid(format!(
                    "unknown action {other:?}: expected like, dislike, unlike or hide"
                )))
            }
        }
        Ok(())
    })
    .await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            "{\"ok\":true}\n",
        )
            .into_response());
    }
    Ok(Redirect::to(&local_path(f.back.as_deref())).into_response())
}

#[derive(Deserialize)]
struct InterestForm {
    csrf: String,
    text: String,
    action: String,
}

async fn interests(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Form(f): Form<InterestForm>,
) -> Result<Response, PageError> {
    u.check_csrf(&f.csrf)?;
    let user = u.user.clone();
    blocking(move || {
        let texts = vec![f.text.clone()];
        if f.action == "remove" {
            state.change_profile(&user, || {
                app::profile::remove_interests(&state.dir, &user, &texts)
            })?;
        } else {
            let snap = state.library()?;
            // Embed first (slow), outside the profile lock's queue.
            state.models.get()?;
            state.change_profile(&user, || {
                app::profile::add_interests(&snap.lib, &state.models, &user, &texts)
            })?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/profile").into_response())
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: String,
    address: String,
}

/// The digest's mail address from the profile page; empty removes it.
async fn email(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Form(f): Form<EmailForm>,
) -> Result<Response, PageError> {
    u.check_csrf(&f.csrf)?;
    let user = u.user.clone();
    blocking(move || {
        let address = Some(f.address.as_str());
        state.change_profile(&user, || {
            app::profile::set_email(&state.dir, &user, address)
        })
    })
    .await?;
    Ok(Redirect::to("/profile").into_response())
}

async fn bibtex(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut csrf = String::new();
    let mut file: Option<Bytes> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad(format!("upload: {e}")))?
    {
        let name = field.name().map(String::from);
        match name.as_deref() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad(format!("upload: {e}")))?
            }
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| ApiError::bad(format!("upload: {e}")))?,
                )
            }
            _ => {}
        }
    }
    u.check_csrf(&csrf)?;
    let Some(bytes) = file else {
        return Err(PageError(ApiError::bad("upload: no file")));
    };
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad("upload: the file is not UTF-8 text"))?;
    let user = u.user.clone();
    let report = blocking(move || {
        let snap = state.library()?;
        let source = std::path::Path::new("upload.bib");
        state.change_profile(&user, || {
            app::profile::import_bibtex(&snap.lib, &state.models, &user, source, &text)
        })
    })
    .await?;
    let body = html! {
        h1 { "Imported" }
        p { (report.entries) " entries: " (report.matched) " found in the library (" (report.new_likes) " new likes), "
            (report.embedded) " embedded from their abstracts, " (report.skipped.len()) " skipped." }
        @if !report.skipped.is_empty() { p.hint { "Skipped: " (report.skipped.join(", ")) } }
        p { a href="/profile" { "Back to the profile" } }
    };
    Ok(page("Imported", Some(&u), body).into_response())
}

async fn map_page(
    Axum(state): Axum<Arc<State>>,
    u: PageUser,
    Query(q): Query<DayQuery>,
) -> Result<Response, PageError> {
    let window = day_window(&q)?;
    let user = u.user.clone();
    let (day, points) = blocking(move || {
        let snap = state.library()?;
        let day: NaiveDate = match window.date {
            Some(d) => d,
            None => query::latest_day(&snap.lib)?,
        };
        let profile = state.profile(&user)?;
        Ok((day, map::points(&snap.lib, &profile, day)))
    })
    .await?;
    let svg = map::svg(&points);
    let liked = points.iter().filter(|p| p.liked).count();
    let body = html! {
        div.daynav {
            a href=(format!("/map?date={}", day.pred_opt().unwrap_or(day))) { "← earlier" }
            h1 { "Map of " (day) }
            a href=(format!("/map?date={}", day.succ_opt().unwrap_or(day))) { "later →" }
        }
        p.hint { "The day's papers (grey) and your likes (red), placed by the two main directions of their vectors (PCA). Near your likes: likely interesting. Each point links to its paper." }
        p.meta { (points.len() - liked) " papers of the day, " (liked) " likes" }
        figure.map { (svg) }
    };
    Ok(page("Map", Some(&u), body).into_response())
}
