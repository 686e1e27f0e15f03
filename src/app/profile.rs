//! Changing and reading a user's profile: likes and dislikes of library papers named
//! by id or URL, interests, a BibTeX import, and the profile as people and programs
//! read it. Every change goes through the profile store's locked, atomic edit.

use std::collections::HashMap;
use std::path::Path;

use super::Models;
use crate::bibtex;
use crate::error::{Error, Result};
use crate::library::profiles::{self, Profile, Profiles};
use crate::library::Library;
use crate::paper::{canonical_id, paper_text};

/// What a like or dislike changed.
#[derive(Debug, Clone)]
pub struct MarkOutcome {
    /// Papers newly marked.
    pub added: usize,
    pub profile: Profile,
}

/// Like (`like` true) or dislike papers of the library, named by id or arXiv URL;
/// creates the profile. Unknown ids are one error listing all of them, and nothing
/// changes.
pub fn mark(lib: &Library, user: &str, raw: &[String], like: bool) -> Result<MarkOutcome> {
    mark_in(lib, user, None, raw, like)
}

/// [`mark`] in `collection` (`None`: the default collection; a named one is made by
/// its first like). A dislike outside any collection is a negative of every
/// collection; one inside a collection only of that one.
pub fn mark_in(
    lib: &Library,
    user: &str,
    collection: Option<&str>,
    raw: &[String],
    like: bool,
) -> Result<MarkOutcome> {
    profiles::check_user(user)?;
    if let Some(c) = collection {
        profiles::check_collection(c)?;
    }
    let ids = known_ids(lib, raw)?;
    let store = Profiles::new(lib.dir());
    let mut edit = store.edit(user, profiles::now())?;
    let added = edit
        .profile
        .mark_in(collection, &ids, profiles::now(), like);
    Ok(MarkOutcome {
        added,
        profile: edit.save()?,
    })
}

/// Set (`Some`, 0-1) or clear (`None`) `user`'s relevance threshold; the profile
/// must exist.
pub fn set_threshold(dir: &Path, user: &str, threshold: Option<f32>) -> Result<Profile> {
    profiles::check_user(user)?;
    if let Some(t) = threshold {
        profiles::check_threshold(t)?;
    }
    let mut edit = existing(&Profiles::new(dir), user)?;
    edit.profile.set_threshold(threshold, profiles::now())?;
    edit.save()
}

/// Forget likes or dislikes.
pub fn unlike(dir: &Path, user: &str, raw: &[String]) -> Result<Profile> {
    profiles::check_user(user)?;
    let ids: Vec<String> = raw.iter().map(|i| canonical_id(i)).collect();
    let mut edit = existing(&Profiles::new(dir), user)?;
    edit.profile.unlike(&ids, profiles::now())?;
    edit.save()
}

/// The listing day hidden papers are recorded under: no real listing has it, so a
/// hidden paper is left out of every listing (as papers shown for another day are).
pub const HIDDEN_LISTING: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => chrono::NaiveDate::MIN,
};

/// Hide papers from `user`'s future listings without disliking them (creates the
/// profile).
pub fn hide(dir: &Path, user: &str, raw: &[String]) -> Result<Profile> {
    profiles::check_user(user)?;
    let ids: Vec<String> = raw.iter().map(|i| canonical_id(i)).collect();
    let mut edit = Profiles::new(dir).edit(user, profiles::now())?;
    edit.profile
        .add_shown(&ids, HIDDEN_LISTING, profiles::now());
    edit.save()
}

/// Canonical ids of `raw` (ids or arXiv URLs), all in the library, or
/// [`Error::UnknownIds`] listing every one that is not.
pub fn known_ids(lib: &Library, raw: &[String]) -> Result<Vec<String>> {
    let unknown: Vec<String> = raw
        .iter()
        .filter(|r| lib.get(&canonical_id(r)).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownIds(unknown));
    }
    let mut ids: Vec<String> = Vec::new();
    for id in raw.iter().map(|r| canonical_id(r)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Lock `user`'s stored profile for a change; an error when there is none.
fn existing(store: &Profiles, user: &str) -> Result<profiles::ProfileEdit> {
    store.get(user)?;
    store.edit(user, profiles::now())
}

/// Interest texts with whitespace collapsed; an empty one is an error naming it.
fn clean_interests(texts: &[String]) -> Result<Vec<String>> {
    let texts: Vec<String> = texts
        .iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if let Some(i) = texts.iter().position(String::is_empty) {
        return Err(Error::Invalid(format!(
            "interest {}: empty text; describe the topic in words",
            i + 1
        )));
    }
    Ok(texts)
}

/// Add interests, each embedded like a query with the library's model.
pub fn add_interests(
    lib: &Library,
    models: &Models,
    user: &str,
    texts: &[String],
) -> Result<Profile> {
    add_interests_in(lib, models, user, None, texts)
}

/// [`add_interests`] in `collection` (`None`: the default collection).
pub fn add_interests_in(
    lib: &Library,
    models: &Models,
    user: &str,
    collection: Option<&str>,
    texts: &[String],
) -> Result<Profile> {
    profiles::check_user(user)?;
    if let Some(c) = collection {
        profiles::check_collection(c)?;
    }
    let texts = clean_interests(texts)?;
    let model = models.get()?;
    // Interests are compared with the library's vectors: same model only.
    lib.check_model(&model.info)?;
    let vectors = model.embedder.embed(&texts)?;
    let mut edit = Profiles::new(lib.dir()).edit(user, profiles::now())?;
    for (t, v) in texts.iter().zip(vectors) {
        edit.profile
            .add_interest_in(collection, t, v, profiles::now());
    }
    edit.save()
}

/// Remove interests (by their text, whitespace collapsed).
pub fn remove_interests(dir: &Path, user: &str, texts: &[String]) -> Result<Profile> {
    remove_interests_in(dir, user, None, texts)
}

/// [`remove_interests`] from `collection` (`None`: the default collection).
pub fn remove_interests_in(
    dir: &Path,
    user: &str,
    collection: Option<&str>,
    texts: &[String],
) -> Result<Profile> {
    profiles::check_user(user)?;
    let texts = clean_interests(texts)?;
    let mut edit = existing(&Profiles::new(dir), user)?;
    for t in &texts {
        edit.profile
            .remove_interest_in(collection, t, profiles::now())?;
    }
    edit.save()
}

/// Set (`Some`) or remove (`None`) the address `user`'s daily digest is mailed to.
pub fn set_email(dir: &Path, user: &str, address: Option<&str>) -> Result<Profile> {
    profiles::check_user(user)?;
    let mut edit = Profiles::new(dir).edit(user, profiles::now())?;
    match address.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => edit.profile.set_email(a, profiles::now())?,
        None => {
            edit.profile.remove_email(profiles::now());
        }
    }
    edit.save()
}

/// Follow authors (names as the user writes them; see [`crate::steer`]); creates the
/// profile. A name with no letter is an error, and nothing changes.
pub fn follow(dir: &Path, user: &str, names: &[String]) -> Result<Profile> {
    profiles::check_user(user)?;
    let mut edit = Profiles::new(dir).edit(user, profiles::now())?;
    for name in names {
        edit.profile.follow(name, profiles::now())?;
    }
    edit.save()
}

/// Stop following authors; a name the profile does not follow is an error listing
/// the ones it does, and nothing changes.
pub fn unfollow(dir: &Path, user: &str, names: &[String]) -> Result<Profile> {
    profiles::check_user(user)?;
    let mut edit = existing(&Profiles::new(dir), user)?;
    for name in names {
        edit.profile.unfollow(name, profiles::now())?;
    }
    edit.save()
}

/// A change of a user's keyword rules, applied in this order: clear, remove, add.
#[derive(Debug, Clone, Default)]
pub struct KeywordChange {
    pub require: Vec<String>,
    pub exclude: Vec<String>,
    /// Phrases to drop from either list.
    pub remove: Vec<String>,
    /// Drop every rule first.
    pub clear: bool,
}

impl KeywordChange {
    /// Nothing to change (a request to list the rules).
    pub fn is_empty(&self) -> bool {
        !self.clear && self.require.is_empty() && self.exclude.is_empty() && self.remove.is_empty()
    }
}

/// Change `user`'s keyword rules (creates the profile when adding); any refused
/// phrase is an error naming it, and nothing changes.
pub fn keywords(dir: &Path, user: &str, change: &KeywordChange) -> Result<Profile> {
    profiles::check_user(user)?;
    let store = Profiles::new(dir);
    if change.is_empty() {
        return store.get(user);
    }
    let mut edit = if change.require.is_empty() && change.exclude.is_empty() {
        existing(&store, user)?
    } else {
        store.edit(user, profiles::now())?
    };
    let now = profiles::now();
    if change.clear {
        edit.profile.clear_keywords(now);
    }
    if !change.remove.is_empty() {
        edit.profile.remove_keywords(&change.remove, now)?;
    }
    if !change.require.is_empty() || !change.exclude.is_empty() {
        edit.profile
            .add_keywords(&change.require, &change.exclude, now)?;
    }
    edit.save()
}

/// The keyword rules, one line: `require "a", "b"; exclude "c"`, or `none`.
pub fn keywords_line(p: &Profile) -> String {
    let list = |r: &[profiles::RuleText]| {
        r.iter()
            .map(|k| format!("{:?}", k.text))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !p.keywords.require.is_empty() {
        parts.push(format!("require {}", list(&p.keywords.require)));
    }
    if !p.keywords.exclude.is_empty() {
        parts.push(format!("exclude {}", list(&p.keywords.exclude)));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

/// What a BibTeX import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub entries: usize,
    /// Entries found in the library (liked).
    pub matched: usize,
    pub new_likes: usize,
    /// Entries not in the library, embedded from their title and abstract.
    pub embedded: usize,
    /// `KEY (line N)` of entries neither found nor embeddable.
    pub skipped: Vec<String>,
    pub profile: Profile,
}

/// Import a BibTeX bibliography (`text`, read from `source` for error messages):
/// entries found in the library by arXiv id, DOI or title are liked; others with an
/// abstract are embedded and count as likes; the rest are skipped.
pub fn import_bibtex(
    lib: &Library,
    models: &Models,
    user: &str,
    source: &Path,
    text: &str,
) -> Result<ImportReport> {
    import_bibtex_in(lib, models, user, None, source, text)
}

/// [`import_bibtex`] into `collection` (`None`: the default collection).
pub fn import_bibtex_in(
    lib: &Library,
    models: &Models,
    user: &str,
    collection: Option<&str>,
    source: &Path,
    text: &str,
) -> Result<ImportReport> {
    profiles::check_user(user)?;
    if let Some(c) = collection {
        profiles::check_collection(c)?;
    }
    let entries = bibtex::parse(source, text)?;
    // Every record is read (O(library)), none kept.
    let mut by_doi: HashMap<String, String> = HashMap::new();
    let mut by_title: HashMap<String, String> = HashMap::new();
    for k in 0..lib.len() {
        lib.with_paper(k, |p| {
            if let Some(doi) = &p.doi {
                by_doi.insert(doi.to_lowercase(), p.id.clone());
            }
            by_title
                .entry(bibtex::normalize_title(&p.title))
                .or_insert_with(|| p.id.clone());
        });
    }
    let mut matched: Vec<String> = Vec::new();
    let mut to_embed: Vec<(String, String, String)> = Vec::new(); // (id, title, abstract)
    let mut skipped: Vec<String> = Vec::new();
    for e in &entries {
        let found = e
            .arxiv_id()
            .filter(|id| lib.get(id).is_some())
            .or_else(|| e.doi().and_then(|d| by_doi.get(&d).map(|s| s.to_string())))
            .or_else(|| {
                e.title()
                    .map(bibtex::normalize_title)
                    .filter(|t| !t.is_empty())
                    .and_then(|t| by_title.get(&t).map(|s| s.to_string()))
            });
        match (found, e.title(), e.abstract_text()) {
            (Some(id), _, _) => matched.push(id),
            (None, Some(title), Some(abs)) => {
                let id = e
                    .arxiv_id()
                    .or_else(|| e.doi())
                    .unwrap_or_else(|| e.key.clone());
                to_embed.push((id, title.to_string(), abs.to_string()));
            }
            (None, _, _) => skipped.push(format!("{} (line {})", e.key, e.line)),
        }
    }
    let mut external = Vec::new();
    if !to_embed.is_empty() {
        let model = models.get()?;
        lib.check_model(&model.info)?;
        let texts: Vec<String> = to_embed.iter().map(|(_, t, a)| paper_text(t, a)).collect();
        let vectors = model.embedder.embed(&texts)?;
        let at = profiles::now();
        for ((id, title, abstract_text), vector) in to_embed.into_iter().zip(vectors) {
            external.push(profiles::ExternalPaper {
                id,
                title,
                abstract_text,
                at,
                vector,
            });
        }
    }
    let embedded = external.len();
    let mut edit = Profiles::new(lib.dir()).edit(user, profiles::now())?;
    let new_likes = edit
        .profile
        .mark_in(collection, &matched, profiles::now(), true);
    if !external.is_empty() {
        edit.profile
            .add_external_in(collection, external, profiles::now());
    }
    let profile = edit.save()?;
    Ok(ImportReport {
        entries: entries.len(),
        matched: matched.len(),
        new_likes,
        embedded,
        skipped,
        profile,
    })
}

/// A profile for programs: everything but the vectors, titles looked up in `lib`.
pub fn profile_json(p: &Profile, lib: Option<&Library>) -> serde_json::Value {
    let title = |id: &str| {
        lib.and_then(|l| l.get(id))
            .map(|p| p.title.clone())
            .unwrap_or_default()
    };
    let marks = |m: &[profiles::Mark]| -> Vec<serde_json::Value> {
        m.iter()
            .map(|m| serde_json::json!({"id": m.id, "title": title(&m.id), "at": m.at}))
            .collect()
    };
    serde_json::json!({
        "user": p.user,
        "created": p.created,
        "updated": p.updated,
        "likes": marks(&p.likes),
        "dislikes": marks(&p.dislikes),
        "interests": p.interests.iter().map(|i| serde_json::json!({"text": i.text, "at": i.at})).collect::<Vec<_>>(),
        "external": p.external.iter().map(|e| serde_json::json!({"id": e.id, "title": e.title, "at": e.at})).collect::<Vec<_>>(),
        "shown": p.shown.len(),
        "history": p.history,
        "threshold": p.threshold,
        "collections": p.collections.iter().map(|(name, c)| (name.clone(), serde_json::json!({
            "likes": marks(&c.likes),
            "dislikes": marks(&c.dislikes),
            "interests": c.interests.iter().map(|i| serde_json::json!({"text": i.text, "at": i.at})).collect::<Vec<_>>(),
            "external": c.external.iter().map(|e| serde_json::json!({"id": e.id, "title": e.title, "at": e.at})).collect::<Vec<_>>(),
        }))).collect::<serde_json::Map<_, _>>(),
        "follows": p.follows,
        "keywords": p.keywords,
    })
}

/// A profile for people: lines of at most 80 characters, control characters of
/// stored texts made visible.
pub fn profile_table(p: &Profile, lib: Option<&Library>) -> String {
    use std::fmt::Write as _;
    let title = |id: &str| {
        lib.and_then(|l| l.get(id))
            .map(|p| p.title.clone())
            .unwrap_or_default()
    };
    let mut s = String::new();
    let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let _ = writeln!(
        s,
        "profile {} (created {}, updated {})",
        p.user,
        when(&p.created),
        when(&p.updated)
    );
    for (name, list) in [("liked", &p.likes), ("disliked", &p.dislikes)] {
        let _ = writeln!(s, "{name} ({}):", list.len());
        for m in list {
            let _ = writeln!(
                s,
                "  {}  {:<11} {}",
                when(&m.at),
                m.id,
                clip(&title(&m.id), 48)
            );
        }
    }
    let _ = writeln!(s, "interests ({}):", p.interests.len());
    for i in &p.interests {
        let _ = writeln!(s, "  {}  {}", when(&i.at), clip(&i.text, 60));
    }
    let _ = writeln!(s, "following ({}):", p.follows.len());
    for f in &p.follows {
        let _ = writeln!(s, "  {}  {}", when(&f.at), clip(&f.name, 60));
    }
    let _ = writeln!(s, "keywords: {}", clip(&keywords_line(p), 70));
    if !p.external.is_empty() {
        let _ = writeln!(s, "imported, not in the library ({}):", p.external.len());
        for e in &p.external {
            let _ = writeln!(s, "  {}  {}", when(&e.at), clip(&e.title, 60));
        }
    }
    for (name, c) in &p.collections {
        let _ = writeln!(
            s,
            "collection {}: {} liked, {} disliked, {} interest(s), {} imported",
            clip(name, 40),
            c.likes.len(),
            c.dislikes.len(),
            c.interests.len(),
            c.external.len()
        );
        for m in &c.likes {
            let _ = writeln!(
                s,
                "  {}  {:<11} {}",
                when(&m.at),
                m.id,
                clip(&title(&m.id), 48)
            );
        }
        for i in &c.interests {
            let _ = writeln!(s, "  {}  {}", when(&i.at), clip(&i.text, 60));
        }
    }
    if let Some(t) = p.threshold {
        let _ = writeln!(
            s,
            "threshold: {t:.2} (digests and feeds list only papers scoring at least this)"
        );
    }
    let _ = writeln!(
        s,
        "shown in listings: {}; actions recorded: {}",
        p.shown.len(),
        p.history.len()
    );
    s
}

/// `s` on one line, control characters replaced, cut to `max` characters with `…`.
fn clip(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() <= max {
        clean
    } else {
        let mut t: String = clean.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
