//! Steering a user's feed with rules of their own, on top of the profile model's
//! score: followed authors and keyword rules. One function, [`apply`], turns a day's
//! scored candidates into the day's list; `recommend` calls it, so `recommend`, the
//! server, the daily digests and the feeds all list by the same rules. Training and
//! scoring are [`crate::rank`]'s; the rules are stored in the profile
//! ([`crate::library::profiles`]).
//!
//! # The rules, in order
//! 1. **Exclude** (`profile USER keywords --exclude PHRASE`): a paper whose title or
//!    abstract holds an excluded word or phrase is never listed, not even one by a
//!    followed author (the user said they never want it).
//! 2. **Follow** (`profile USER follow NAME`): a paper with a followed author among its
//!    authors (matched as [`names`] says) is always listed, whatever its score,
//!    `--min-score` or `--top`; it takes its place by its score, so the list stays in
//!    score order, and its reason is the followed author (`because.kind` `"author"`).
//!    When the followed authors' papers alone fill `--top`, all of them are listed.
//! 3. **Require** (`--require PHRASE`): of the other papers, only those holding at
//!    least one required word or phrase are listed (a followed author's paper is
//!    listed without one: following is the narrower request).
//! 4. The rest, best score first, fill the list up to `--top`; in a merged feed of
//!    several collections, a quarter of those places go first to each collection's
//!    best papers, split evenly ([`crate::rank::FEED_MERGE`]`.min_share`).
//!
//! Words and phrases match whole words of the title and abstract, case- and
//! accent-insensitively ([`text::fold`]); a phrase matches its words in a row
//! ("state of the art" also matches "state-of-the-art"); a word ending in `*` matches
//! every word it begins ("transformer*" matches "transformers"). An excluded word
//! always matches every word it begins ("channel" excludes "channels" and
//! "channelized"): a paper the user said they never want stays out in its plural too.

pub mod names;
pub mod text;

use std::collections::HashSet;

use crate::library::profiles::Profile;
use crate::paper::Paper;

pub use names::{same_person, Name};

/// A keyword rule's phrase, parsed: its folded words, each with whether it is a prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    words: Vec<(String, bool)>,
}

impl Phrase {
    /// Parse `raw`; `None` when it holds no word.
    pub fn parse(raw: &str) -> Option<Phrase> {
        let words = text::words(raw);
        (!words.is_empty()).then_some(Phrase { words })
    }

    /// Whether the phrase occurs in `words` (folded words of a text, as
    /// [`text::words`] makes them), its words in a row.
    pub fn occurs_in(&self, words: &[(String, bool)]) -> bool {
        self.occurs(words, false)
    }

    /// Whether the phrase occurs in `words` with each of its words taken as the start
    /// of a word ("channel" occurs in "channels"): how an excluded phrase matches.
    pub fn begins_in(&self, words: &[(String, bool)]) -> bool {
        self.occurs(words, true)
    }

    fn occurs(&self, words: &[(String, bool)], all_prefixes: bool) -> bool {
        let n = self.words.len();
        words.len() >= n
            && words.windows(n).any(|w| {
                w.iter().zip(&self.words).all(|((t, _), (p, prefix))| {
                    if *prefix || all_prefixes {
                        t.starts_with(p.as_str())
                    } else {
                        t == p
                    }
                })
            })
    }

    /// The phrase's folded words joined by spaces (equal keys: the same rule).
    pub fn key(&self) -> String {
        self.words
            .iter()
            .map(|(w, prefix)| if *prefix { format!("{w}*") } else { w.clone() })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The text keyword rules look at: title and abstract.
fn rule_words(paper: &Paper) -> Vec<(String, bool)> {
    let mut words = text::words(&paper.title);
    words.extend(text::words(&paper.abstract_text));
    words
}

/// A profile's rules, parsed once for a listing.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Followed authors: the name as the user wrote it, parsed.
    follows: Vec<(String, Name)>,
    require: Vec<Phrase>,
    exclude: Vec<Phrase>,
}

impl Rules {
    /// The rules of `profile` (entries that do not parse, which the profile's own
    /// checks refuse, are skipped).
    pub fn of(profile: &Profile) -> Rules {
        Rules {
            follows: profile
                .follows
                .iter()
                .filter_map(|f| Name::parse(&f.name).map(|n| (f.name.clone(), n)))
                .collect(),
            require: profile
                .keywords
                .require
                .iter()
                .filter_map(|k| Phrase::parse(&k.text))
                .collect(),
            exclude: profile
                .keywords
                .exclude
                .iter()
                .filter_map(|k| Phrase::parse(&k.text))
                .collect(),
        }
    }

    /// No rule at all: [`apply`] is plain top-N.
    pub fn is_empty(&self) -> bool {
        self.follows.is_empty() && self.require.is_empty() && self.exclude.is_empty()
    }

    /// The followed author (as the user wrote the name) among `paper`'s authors.
    pub fn followed(&self, paper: &Paper) -> Option<&str> {
        if self.follows.is_empty() {
            return None;
        }
        let authors: Vec<Name> = paper
            .authors
            .iter()
            .filter_map(|a| Name::parse(a))
            .collect();
        self.follows
            .iter()
            .find(|(_, f)| authors.iter().any(|a| f.matches(a)))
            .map(|(raw, _)| raw.as_str())
    }

    /// What the rules say of `paper`.
    pub fn verdict(&self, paper: &Paper) -> Verdict {
        if self.is_empty() {
            return Verdict::Ranked;
        }
        let words = if self.require.is_empty() && self.exclude.is_empty() {
            Vec::new()
        } else {
            rule_words(paper)
        };
        if self.exclude.iter().any(|p| p.begins_in(&words)) {
            return Verdict::Excluded;
        }
        if let Some(name) = self.followed(paper) {
            return Verdict::Followed(name.to_string());
        }
        if !self.require.is_empty() && !self.require.iter().any(|p| p.occurs_in(&words)) {
            return Verdict::Excluded;
        }
        Verdict::Ranked
    }
}

/// The most papers by followed authors a follow-only profile trains on
/// ([`follow_profile`]): the latest ones, so a prolific author costs no more than a
/// profile with this many likes.
pub const FOLLOWED_AS_LIKES: usize = 100;

/// A profile that follows authors and has nothing else to rank by (no like, interest
/// or imported paper in any collection): the same profile with the followed authors'
/// papers among `papers` (the library, in its order; the latest
/// [`FOLLOWED_AS_LIKES`] by listing day) as its likes, so that a model of what they
/// write ranks the rest of the day. The followed authors' papers of the day are listed
/// anyway (rule 2, reason "you follow NAME"); the others' reason is the closest of the
/// authors' papers. `None` for any other profile, or when no paper of the library is
/// by a followed author (the caller then says there is nothing to rank by).
pub fn follow_profile<'a>(
    profile: &Profile,
    papers: impl Iterator<Item = &'a Paper>,
) -> Option<Profile> {
    if profile.follows.is_empty() || !profile.is_empty() {
        return None;
    }
    let rules = Rules::of(profile);
    let mut by: Vec<(Option<chrono::NaiveDate>, usize, &Paper)> = papers
        .enumerate()
        .filter(|(_, p)| rules.followed(p).is_some())
        .map(|(k, p)| (p.listed, k, p))
        .collect();
    if by.is_empty() {
        return None;
    }
    // Latest first (later listing day, then later in the library).
    by.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    by.truncate(FOLLOWED_AS_LIKES);
    let mut implicit = profile.clone();
    implicit.likes = by
        .into_iter()
        .map(|(_, _, p)| crate::library::profiles::Mark {
            id: p.id.clone(),
            at: profile.updated,
        })
        .collect();
    Some(implicit)
}

/// What the rules say of one paper.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Never listed (an excluded phrase, or no required one).
    Excluded,
    /// Always listed: by this followed author (the name as the user wrote it).
    Followed(String),
    /// Listed if its score earns it a place.
    Ranked,
}

/// One paper of the day's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The candidate's index in the slices given to [`apply`].
    pub index: usize,
    pub score: f32,
    /// The followed author it is listed for, as the user wrote the name.
    pub author: Option<String>,
}

/// The day's list: `papers` (the candidates) with their `scores` under `rules` (see
/// the module docs), best score first (ties: lower index first), the papers that are
/// not a followed author's kept only when `keep(score)` (`--min-score`) and up to `top`
/// in all. Papers and scores are index-aligned.
pub fn apply(
    rules: &Rules,
    papers: &[&Paper],
    scores: &[f32],
    top: usize,
    keep: impl Fn(f32) -> bool,
) -> Vec<Pick> {
    let mut order: Vec<usize> = (0..papers.len().min(scores.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    apply_ordered(rules, papers, scores, order, top, keep, None)
}

/// The collections of a merged feed, for [`apply_ordered`]: the collection listing
/// each candidate (`under[i]`, an index below `collections`) and the part of the
/// list's places shared out evenly among them ([`crate::rank::FeedMerge::min_share`]).
#[derive(Debug, Clone, Copy)]
pub struct Shares<'a> {
    pub under: &'a [usize],
    pub collections: usize,
    pub min_share: f32,
}

/// [`apply`] with the candidates' ranking given (`order`: indexes, best first; those
/// left out are not listed), for a caller whose ties are broken by more than the score;
/// with `shares`, the places left after followed authors' papers are filled as
/// [`crate::rank::pick_shared`] says (each collection's best first), the list still in
/// `order`'s order.
pub fn apply_ordered(
    rules: &Rules,
    papers: &[&Paper],
    scores: &[f32],
    order: Vec<usize>,
    top: usize,
    keep: impl Fn(f32) -> bool,
    shares: Option<Shares<'_>>,
) -> Vec<Pick> {
    let order: Vec<usize> = order
        .into_iter()
        .filter(|&i| i < papers.len() && i < scores.len())
        .collect();
    let verdicts: Vec<Verdict> = if rules.is_empty() {
        Vec::new()
    } else {
        order.iter().map(|&i| rules.verdict(papers[i])).collect()
    };
    let verdict = |n: usize| verdicts.get(n).cloned().unwrap_or(Verdict::Ranked);
    let followed = (0..order.len())
        .filter(|&n| matches!(verdict(n), Verdict::Followed(_)))
        .count();
    let room = top.saturating_sub(followed);
    // The ranked candidates that may be listed, best first, and those that are.
    let eligible: Vec<usize> = (0..order.len())
        .filter(|&n| matches!(verdict(n), Verdict::Ranked) && keep(scores[order[n]]))
        .collect();
    let listed: HashSet<usize> = match shares {
        Some(s) => crate::rank::pick_shared(
            &eligible,
            |n| s.under.get(order[n]).copied().unwrap_or(0),
            room,
            crate::rank::min_each(room, s.collections, s.min_share),
        ),
        None => eligible.into_iter().take(room).collect(),
    }
    .into_iter()
    .collect();
    let mut picks = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        match verdict(n) {
            Verdict::Excluded => {}
            Verdict::Followed(name) => picks.push(Pick {
                index: i,
                score: scores[i],
                author: Some(name),
            }),
            Verdict::Ranked if listed.contains(&n) => picks.push(Pick {
                index: i,
                score: scores[i],
                author: None,
            }),
            Verdict::Ranked => {}
        }
    }
    picks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::profiles::{Profile, RuleText};

    fn paper(id: &str, title: &str, authors: &[&str]) -> Paper {
        let mut p = Paper::new(id, title);
        p.abstract_text = format!("An abstract about {title}.");
        p.authors = authors.iter().map(|a| a.to_string()).collect();
        p
    }

    fn rule(text: &str) -> RuleText {
        RuleText {
            text: text.into(),
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn phrases_match_whole_words_in_a_row() {
        let words = text::words("State-of-the-art Transformers for Ünïcode GRAPHS");
        let has = |p: &str| Phrase::parse(p).unwrap().occurs_in(&words);
        assert!(has("state of the art") && has("STATE-OF-THE-ART"));
        assert!(has("unicode") && has("Graphs") && has("transformer*"));
        assert!(!has("graph"), "whole words only");
        assert!(!has("the state"), "in a row, in order");
        assert!(!has("transformer"));
        let begins = |p: &str| Phrase::parse(p).unwrap().begins_in(&words);
        assert!(begins("transformer") && begins("graph") && begins("state of the ar"));
        assert!(!begins("raphs"), "the start of a word, not any part of it");
        assert!(!begins("the state"), "in a row, in order");
        assert!(Phrase::parse(" -- ").is_none());
        assert_eq!(
            Phrase::parse("Graph  Neural*").unwrap().key(),
            "graph neural*"
        );
    }

    #[test]
    fn followed_first_by_score_excluded_never_required_only() {
        let papers = [
            paper("a", "Diffusion models", &["Ann Lee"]),
            paper("b", "Graph networks", &["Bob Stone"]),
            paper("c", "Protein folding", &["J. Smith", "Carl Ode"]),
            paper("d", "Diffusion for proteins", &["John Smith"]),
            paper("e", "Speech models", &["Eve Park"]),
        ];
        let refs: Vec<&Paper> = papers.iter().collect();
        let scores = [0.9, 0.8, -0.5, -0.7, 0.7];
        let ids = |picks: &[Pick]| -> Vec<String> {
            picks.iter().map(|p| papers[p.index].id.clone()).collect()
        };
        let none = Rules::default();
        assert_eq!(ids(&apply(&none, &refs, &scores, 2, |_| true)), ["a", "b"]);

        let mut profile = Profile::new("u", chrono::DateTime::UNIX_EPOCH);
        profile
            .follow("John Smith", chrono::DateTime::UNIX_EPOCH)
            .unwrap();
        let rules = Rules::of(&profile);
        let picks = apply(&rules, &refs, &scores, 3, |_| true);
        assert_eq!(
            ids(&picks),
            ["a", "c", "d"],
            "followed papers forced in, by score"
        );
        assert_eq!(picks[1].author.as_deref(), Some("John Smith"));
        assert_eq!(picks[0].author, None);
        // More followed papers than --top: all of them; --min-score spares them.
        assert_eq!(
            ids(&apply(&rules, &refs, &scores, 1, |s| s > 0.0)),
            ["c", "d"]
        );

        profile.keywords.exclude.push(rule("diffusio"));
        let picks = apply(&Rules::of(&profile), &refs, &scores, 3, |_| true);
        assert_eq!(
            ids(&picks),
            ["b", "e", "c"],
            "exclude wins over follow; c is forced"
        );

        profile.keywords.require.push(rule("speech"));
        let picks = apply(&Rules::of(&profile), &refs, &scores, 5, |_| true);
        assert_eq!(
            ids(&picks),
            ["e", "c"],
            "require keeps matching papers and followed ones"
        );
    }
}
