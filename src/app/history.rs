//! A user's history (issue 15): every paper a listing showed them, day by day, with
//! what they did about it (liked, disliked, nothing), and the export of their whole
//! profile as portable JSON. Read-only: made from the stored profile's `shown` and
//! marks; recording what was shown is [`super::query`]'s.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::profile::HIDDEN_LISTING;
use crate::error::{Error, Result};
use crate::library::profiles::{Mark, Profile};
use crate::library::Library;

/// What the user did about a paper they were shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Liked,
    Disliked,
    None,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Liked => "liked",
            Action::Disliked => "disliked",
            Action::None => "none",
        }
    }
}

/// One paper shown on one listing day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownPaper {
    pub id: String,
    /// From the library; empty when it no longer holds the paper (or none was open).
    pub title: String,
    /// When the listing showing it was made.
    pub shown_at: DateTime<Utc>,
    /// The paper's state now: liked or disliked (in any collection), or neither.
    pub action: Action,
    /// When it was liked or disliked.
    pub action_at: Option<DateTime<Utc>>,
    /// The collection it is liked or disliked in (`None`: the default one, or no mark).
    pub collection: Option<String>,
}

/// The papers shown for one listing day, in the order they were listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryDay {
    pub day: NaiveDate,
    pub papers: Vec<ShownPaper>,
}

/// The days of `profile`'s history, newest first: every listing day, or with `since`
/// the last N days up to the newest of the library's latest listing day (when `lib`
/// is given) and the profile's latest listing. Papers hidden with `profile USER hide`
/// were never shown and are left out.
pub fn history(
    profile: &Profile,
    lib: Option<&Library>,
    since: Option<u32>,
) -> Result<Vec<HistoryDay>> {
    if since == Some(0) {
        return Err(Error::Invalid("--since must be at least 1 (days)".into()));
    }
    let shown = profile.shown.iter().filter(|s| s.listing != HIDDEN_LISTING);
    let latest = lib
        .and_then(|l| l.listing_days().flatten().max())
        .into_iter()
        .chain(shown.clone().map(|s| s.listing))
        .max();
    let first = match (since, latest) {
        (Some(n), Some(last)) => last.checked_sub_days(chrono::Days::new(u64::from(n - 1))),
        _ => None,
    };
    let mut days: Vec<HistoryDay> = Vec::new();
    for s in shown.filter(|s| first.is_none_or(|f| s.listing >= f)) {
        let (action, action_at, collection) = action_of(profile, &s.id);
        let paper = ShownPaper {
            id: s.id.clone(),
            title: lib
                .and_then(|l| l.get(&s.id))
                .map(|p| p.title.clone())
                .unwrap_or_default(),
            shown_at: s.at,
            action,
            action_at,
            collection,
        };
        match days.iter_mut().find(|d| d.day == s.listing) {
            Some(d) => d.papers.push(paper),
            None => days.push(HistoryDay {
                day: s.listing,
                papers: vec![paper],
            }),
        }
    }
    days.sort_by_key(|d| std::cmp::Reverse(d.day));
    Ok(days)
}

/// The mark of `id`: in the default collection first, then the named ones by name.
fn action_of(profile: &Profile, id: &str) -> (Action, Option<DateTime<Utc>>, Option<String>) {
    let find = |m: &[Mark]| m.iter().find(|m| m.id == id).map(|m| m.at);
    let lists = std::iter::once((None, &profile.likes, &profile.dislikes)).chain(
        profile
            .collections
            .iter()
            .map(|(n, c)| (Some(n.clone()), &c.likes, &c.dislikes)),
    );
    for (name, likes, dislikes) in lists {
        if let Some(at) = find(likes) {
            return (Action::Liked, Some(at), name);
        }
        if let Some(at) = find(dislikes) {
            return (Action::Disliked, Some(at), name);
        }
    }
    (Action::None, None, None)
}

/// The history for programs:
/// `{"user", "days": [{"day", "papers": [{"id", "title", "shown_at", "action",
/// "action_at", "collection"}]}]}`, newest day first; `action` is `liked`,
/// `disliked` or `none`.
pub fn history_json(user: &str, days: &[HistoryDay]) -> serde_json::Value {
    serde_json::json!({ "user": user, "days": days })
}

/// The history for people: a line per day, a line per paper (at most 80 characters).
pub fn history_table(user: &str, days: &[HistoryDay]) -> String {
    let mut s = String::new();
    let n: usize = days.iter().map(|d| d.papers.len()).sum();
    let _ = writeln!(
        s,
        "history of {user}: {n} paper(s) shown on {} day(s)",
        days.len()
    );
    for d in days {
        let liked = d
            .papers
            .iter()
            .filter(|p| p.action == Action::Liked)
            .count();
        let disliked = d
            .papers
            .iter()
            .filter(|p| p.action == Action::Disliked)
            .count();
        let _ = writeln!(
            s,
            "{}: {} shown, {liked} liked, {disliked} disliked",
            d.day,
            d.papers.len()
        );
        for p in &d.papers {
            let line = format!(
                "  {:<8}  {:<10}  {}",
                p.action.word(),
                p.id,
                p.title.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            let line = crate::render::terminal_safe(&line).into_owned();
            let _ = writeln!(s, "{}", fit(&line, 80));
        }
    }
    s
}

fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// The `format` of [`export_json`].
pub const EXPORT_FORMAT: &str = "paperscout-profile-export";

/// A user's whole data, portable: the stored profile exactly as the library keeps it
/// (likes, dislikes, interests and imported papers with their vectors, collections,
/// threshold, every listing shown, every action), and the history by day as
/// [`history_json`] gives it. `profile` alone, saved as `LIBRARY/profiles/USER.json`,
/// restores the user in another library made with the same model.
pub fn export_json(profile: &Profile, lib: Option<&Library>) -> Result<serde_json::Value> {
    let days = history(profile, lib, None)?;
    let stored = serde_json::to_value(profile)
        .map_err(|e| Error::Invalid(format!("profile {}: {e}", profile.user)))?;
    Ok(serde_json::json!({
        "format": EXPORT_FORMAT,
        "version": 1,
        "exported": crate::library::profiles::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "user": profile.user,
        "profile": stored,
        "history": history_json(&profile.user, &days)["days"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    #[test]
    fn days_newest_first_with_actions_from_every_collection() {
        let d1 = NaiveDate::from_ymd_opt(2026, 5, 28).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2026, 5, 29).unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut p = Profile::new("ada", t(0));
        p.add_shown(&ids(&["a", "b"]), d1, t(1));
        p.add_shown(&ids(&["c", "d"]), d2, t(2));
        p.add_shown(&ids(&["h"]), HIDDEN_LISTING, t(2));
        p.mark_in(Some("it"), &ids(&["a"]), t(3), true);
        p.dislike(&ids(&["d"]), t(4));
        let days = history(&p, None, None).unwrap();
        assert_eq!(days.iter().map(|d| d.day).collect::<Vec<_>>(), [d2, d1]);
        let a = &days[1].papers[0];
        assert_eq!(
            (a.action, a.collection.as_deref()),
            (Action::Liked, Some("it"))
        );
        assert_eq!(days[0].papers[1].action, Action::Disliked);
        assert_eq!(days[0].papers[0].action, Action::None);
        assert!(days.iter().all(|d| d.papers.iter().all(|p| p.id != "h")));
        // --since 1: the latest listing day only.
        let last = history(&p, None, Some(1)).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].day, d2);
        let v = history_json("ada", &days);
        assert_eq!(v["days"][0]["papers"][1]["action"], "disliked");
        assert_eq!(v["days"][1]["papers"][0]["collection"], "it");
        let table = history_table("ada", &days);
        assert!(
            table.contains("2026-05-29: 2 shown, 0 liked, 1 disliked"),
            "{table}"
        );
        let export = export_json(&p, None).unwrap();
        let back: Profile = serde_json::from_value(export["profile"].clone()).unwrap();
        assert_eq!(back, p, "the export holds the profile whole");
    }
}
