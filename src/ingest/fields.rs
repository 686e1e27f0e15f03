//! Field-level rules shared by every reader: the [`Draft`] a reader fills and its one
//! validation step, and the parsers for the values sources spell differently (dates,
//! author lists, category lists, the arXiv listing prefix of an abstract). Reading
//! files and mapping source fields to these lives in the format modules.

use chrono::NaiveDate;

use super::Format;
use crate::paper::{canonical_id, collapse_whitespace, Paper};

/// The longest id accepted: anything longer is not an id but a broken record.
const MAX_ID_CHARS: usize = 256;

/// What a reader found in one record, before validation. Every field is raw text or
/// already-parsed values; [`Draft::finish`] applies the rules common to all formats.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub id: Option<String>,
    pub title: Option<String>,
    pub abstract_text: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// The primary category when the source names it apart from the list.
    pub primary: Option<String>,
    pub listed: Option<NaiveDate>,
    pub published: Option<NaiveDate>,
    pub updated: Option<NaiveDate>,
    pub url: Option<String>,
    pub doi: Option<String>,
    pub announce_type: Option<String>,
}

impl Draft {
    /// Validate and normalise: the id is made canonical and must be there, the title
    /// must be non-empty (whitespace collapsed), the abstract is trimmed, authors and
    /// categories lose empty entries and duplicates keep their first place, the primary
    /// category goes first. The error is a message without path or line.
    pub(crate) fn finish(self, source: Format) -> Result<Paper, String> {
        let raw_id = self.id.as_deref().map(str::trim).unwrap_or("");
        if raw_id.is_empty() {
            return Err("missing id".into());
        }
        if raw_id.chars().count() > MAX_ID_CHARS {
            return Err(format!(
                "id is longer than {MAX_ID_CHARS} characters: `{}`",
                snippet(raw_id)
            ));
        }
        if raw_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "expected an id without spaces, found `{}`",
                snippet(raw_id)
            ));
        }
        let id = canonical_id(raw_id);
        let title = collapse_whitespace(self.title.as_deref().unwrap_or(""));
        if title.is_empty() {
            return Err(format!("{id}: missing title"));
        }

        let mut categories: Vec<String> = Vec::with_capacity(self.categories.len() + 1);
        let primary = self.primary.as_deref().map(str::trim).unwrap_or("");
        for c in std::iter::once(primary).chain(self.categories.iter().map(|c| c.trim())) {
            if !c.is_empty() && !categories.iter().any(|k| k == c) {
                categories.push(c.to_string());
            }
        }

        Ok(Paper {
            id,
            title,
            abstract_text: self.abstract_text.trim().to_string(),
            authors: self
                .authors
                .iter()
                .map(|a| collapse_whitespace(a))
                .filter(|a| !a.is_empty())
                .collect(),
            categories,
            listed: self.listed,
            published: self.published,
            updated: self.updated,
            url: non_empty(self.url),
            doi: non_empty(self.doi.map(|d| bare_doi(&d))),
            source: source.to_string(),
            announce_type: non_empty(self.announce_type),
        })
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A DOI without a resolver prefix (`https://doi.org/10.1/x` → `10.1/x`); of several
/// DOIs separated by spaces (the Kaggle snapshot has some), the first.
pub(crate) fn bare_doi(s: &str) -> String {
    let first = s.split_whitespace().next().unwrap_or("");
    let lower = first.to_ascii_lowercase();
    for prefix in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ] {
        if lower.starts_with(prefix) {
            return first[prefix.len()..].to_string();
        }
    }
    first.to_string()
}

/// At most 60 characters of `s`, for error messages: a huge field must not make a
/// huge message.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// A day from the date spellings our sources use; `None` when it is none of them:
/// - ISO 8601 / RFC 3339: `2026-06-11`, `2026-06-11T17:12:11Z`, `2026-03-23T00:00:00-04:00`;
/// - RFC 2822: `Thu, 24 Sep 2026 00:00:00 -0400`, `Mon, 2 Apr 2007 19:18:42 GMT`;
/// - slashes: `12/13/2008` (M/D/YYYY, as pandas writes) or `2008/12/13`.
///
/// A timestamp gives the calendar day as written in its own offset, not converted to
/// UTC: arXiv writes announcement days as midnight US Eastern, and that day is meant.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some(head) = s.get(..10) {
        let rest = &s[10..];
        if (rest.is_empty() || rest.starts_with(['T', 't', ' ']))
            && head.as_bytes().get(4) == Some(&b'-')
        {
            return NaiveDate::parse_from_str(head, "%Y-%m-%d").ok();
        }
    }
    let first = s.split_whitespace().next().unwrap_or("");
    if first.contains('/') {
        let parts: Vec<&str> = first.split('/').collect();
        let [a, b, c] = parts.as_slice() else {
            return None;
        };
        let num = |x: &str| -> Option<u32> {
            (!x.is_empty() && x.len() <= 4 && x.bytes().all(|b| b.is_ascii_digit()))
                .then(|| x.parse().ok())
                .flatten()
        };
        let (y, m, d) = if a.len() == 4 {
            (num(a)?, num(b)?, num(c)?)
        } else if c.len() == 4 {
            (num(c)?, num(a)?, num(b)?)
        } else {
            return None;
        };
        return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
    }
    // RFC 2822: an optional weekday with a comma, then day, month name, year.
    let mut tokens = s.split_whitespace().peekable();
    if tokens.peek().is_some_and(|t| t.ends_with(',')) {
        tokens.next();
    }
    let day: u32 = tokens.next()?.parse().ok()?;
    let month = month_number(tokens.next()?)?;
    let year_token = tokens.next()?;
    if year_token.len() != 4 {
        return None;
    }
    let year: i32 = year_token.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = name.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == head)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// [`parse_date`] for a named field: empty is absent, anything else must be a date.
pub(crate) fn date_field(field: &str, value: &str) -> Result<Option<NaiveDate>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse_date(value).map(Some).ok_or_else(|| {
        format!(
            "field `{field}`: expected a date (2026-01-31, an RFC 3339 or RFC 2822 time, or M/D/YYYY), found `{}`",
            snippet(value.trim())
        )
    })
}

/// Author names from one string: `;`-separated when there is a `;`, else separated by
/// commas and the word `and` (`A, B and C`, `A, B, and C`). Commas inside parentheses
/// (affiliations) do not separate, and a lone `Jr.`/`III` stays with the name before it.
pub(crate) fn split_authors(s: &str) -> Vec<String> {
    let pieces: Vec<String> = if s.contains(';') {
        s.split(';').map(str::to_string).collect()
    } else {
        split_outside_parens(s, ',')
            .into_iter()
            .flat_map(|p| split_on_and(&p))
            .collect()
    };
    let mut out: Vec<String> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let name = collapse_whitespace(&piece);
        if name.is_empty() {
            continue;
        }
        let suffix = matches!(
            name.trim_end_matches('.'),
            "Jr" | "Sr" | "II" | "III" | "IV"
        );
        match out.last_mut() {
            Some(prev) if suffix => {
                prev.push_str(", ");
                prev.push_str(&name);
            }
            _ => out.push(name),
        }
    }
    out
}

fn split_outside_parens(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == sep && depth == 0 {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out
}

/// `A and B` → `A`, `B`; `and C` (after an Oxford comma) → `C`.
fn split_on_and(s: &str) -> Vec<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for w in words {
        if w == "and" {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(w);
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

/// Categories from one string: separated by whitespace, commas or semicolons
/// (`"math.CO cs.CG"`, `"cs.LG, cs.AI"`), in the order given.
pub(crate) fn split_categories(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The parts of an arXiv listing-feed abstract
/// (`arXiv:2609.26811v1 Announce Type: new \nAbstract: Local learning ...`).
#[derive(Debug, PartialEq)]
pub(crate) struct Listing<'a> {
    /// The id with its version, as the prefix gives it.
    pub id: Option<&'a str>,
    pub announce_type: Option<&'a str>,
    /// The abstract without the prefix; all of the input when there is no prefix.
    pub abstract_text: &'a str,
}

/// Split the `arXiv:ID Announce Type: TYPE Abstract:` prefix off a listing abstract.
/// Text without that exact prefix comes back whole.
pub(crate) fn split_listing_prefix(s: &str) -> Listing<'_> {
    let whole = Listing {
        id: None,
        announce_type: None,
        abstract_text: s.trim(),
    };
    let t = s.trim_start();
    let Some(rest) = t
        .get(..6)
        .filter(|h| h.eq_ignore_ascii_case("arxiv:"))
        .map(|_| &t[6..])
    else {
        return whole;
    };
    let Some((id, rest)) = rest.split_once(char::is_whitespace) else {
        return whole;
    };
    let Some(rest) = rest.trim_start().strip_prefix("Announce Type:") else {
        return whole;
    };
    let rest = rest.trim_start();
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (kind, rest) = rest.split_at(end);
    let rest = rest.trim_start();
    let abstract_text = rest.strip_prefix("Abstract:").unwrap_or(rest).trim();
    Listing {
        id: Some(id),
        announce_type: (!kind.is_empty()).then_some(kind),
        abstract_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn dates_in_every_spelling() {
        let cases = [
            ("2026-06-11", day(2026, 6, 11)),
            ("2026-06-11T17:12:11Z", day(2026, 6, 11)),
            ("2026-05-30T00:00:00.000Z", day(2026, 5, 30)),
            ("2026-03-23T00:00:00-04:00", day(2026, 3, 23)),
            ("2007-06-25T17:09:59-04:00", day(2007, 6, 25)),
            ("Thu, 24 Sep 2026 00:00:00 -0400", day(2026, 9, 24)),
            ("Mon, 2 Apr 2007 19:18:42 GMT", day(2007, 4, 2)),
            ("2 Apr 2007", day(2007, 4, 2)),
            ("12/13/2008", day(2008, 12, 13)),
            ("1/5/2010", day(2010, 1, 5)),
            ("2008/12/13", day(2008, 12, 13)),
            ("  2026-01-01  ", day(2026, 1, 1)),
            ("2026-02-30", None),
            ("13/13/2008", None),
            ("yesterday", None),
            ("2026", None),
            ("Mon, 2 Foo 2007", None),
            ("", None),
            ("2026-06-11X", None),
            ("é2026-06-11", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), want, "parse_date({s:?})");
        }
    }

    #[test]
    fn date_field_names_field_and_value() {
        assert_eq!(date_field("updated", "  "), Ok(None));
        let err = date_field("updated", "next week").unwrap_err();
        assert!(
            err.contains("`updated`") && err.contains("`next week`"),
            "{err}"
        );
    }

    #[test]
    fn authors_split() {
        let cases: [(&str, &[&str]); 7] = [
            (
                "Ileana Streinu and Louis Theran",
                &["Ileana Streinu", "Louis Theran"],
            ),
            (
                "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
                &[
                    "C. Bal\\'azs",
                    "E. L. Berger",
                    "P. M. Nadolsky",
                    "C.-P. Yuan",
                ],
            ),
            ("A, B, and C", &["A", "B", "C"]),
            ("Smith, J.; Doe, A.", &["Smith, J.", "Doe, A."]),
            (
                "A. One (Univ. X, Y), B. Two",
                &["A. One (Univ. X, Y)", "B. Two"],
            ),
            (
                "John Smith, Jr., Jane Doe",
                &["John Smith, Jr.", "Jane Doe"],
            ),
            ("  ,  , ", &[]),
        ];
        for (s, want) in cases {
            assert_eq!(split_authors(s), want, "split_authors({s:?})");
        }
    }

    #[test]
    fn categories_split() {
        assert_eq!(split_categories("math.CO cs.CG"), ["math.CO", "cs.CG"]);
        assert_eq!(
            split_categories(" cs.LG, cs.AI;stat.ML "),
            ["cs.LG", "cs.AI", "stat.ML"]
        );
        assert!(split_categories("  ").is_empty());
    }

    #[test]
    fn listing_prefix() {
        let l = split_listing_prefix(
            "arXiv:2609.26811v1 Announce Type: new \nAbstract: Local learning.",
        );
        assert_eq!(l.id, Some("2609.26811v1"));
        assert_eq!(l.announce_type, Some("new"));
        assert_eq!(l.abstract_text, "Local learning.");
        let l =
            split_listing_prefix("arXiv:2203.01250v3 Announce Type: replace-cross  Abstract: X");
        assert_eq!(l.announce_type, Some("replace-cross"));
        assert_eq!(l.abstract_text, "X");
        // No prefix: all of it, trimmed.
        let l = split_listing_prefix("  We study arXiv: things. ");
        assert_eq!(
            (l.id, l.announce_type, l.abstract_text),
            (None, None, "We study arXiv: things.")
        );
        // A prefix without an abstract.
        let l = split_listing_prefix("arXiv:2607.1v1 Announce Type: new");
        assert_eq!((l.announce_type, l.abstract_text), (Some("new"), ""));
        // Cut short: no panic, text kept.
        assert_eq!(split_listing_prefix("arXiv:").abstract_text, "arXiv:");
        assert_eq!(
            split_listing_prefix("arXiv:x Announce").abstract_text,
            "arXiv:x Announce"
        );
    }

    #[test]
    fn finish_validates_and_normalises() {
        let d = Draft {
            id: Some(" arXiv:2605.01234v2 ".into()),
            title: Some(" A \n title ".into()),
            abstract_text: "  text \n".into(),
            authors: vec![" A  B ".into(), "".into()],
            categories: vec!["cs.AI".into(), "cs.LG".into(), "cs.AI".into()],
            primary: Some("cs.LG".into()),
            doi: Some("https://doi.org/10.1/x".into()),
            url: Some(" ".into()),
            ..Draft::default()
        };
        let p = d.finish(Format::Jsonl).unwrap();
        assert_eq!(p.id, "2605.01234");
        assert_eq!(p.title, "A title");
        assert_eq!(p.abstract_text, "text");
        assert_eq!(p.authors, ["A B"]);
        assert_eq!(p.categories, ["cs.LG", "cs.AI"]);
        assert_eq!(p.doi.as_deref(), Some("10.1/x"));
        assert_eq!(p.url, None);
        assert_eq!(p.source, "jsonl");

        let missing_id = Draft {
            title: Some("T".into()),
            ..Draft::default()
        };
        assert_eq!(missing_id.finish(Format::Csv).unwrap_err(), "missing id");
        let missing_title = Draft {
            id: Some("2605.01234".into()),
            title: Some(" ".into()),
            ..Draft::default()
        };
        assert_eq!(
            missing_title.finish(Format::Csv).unwrap_err(),
            "2605.01234: missing title"
        );
        let spaced = Draft {
            id: Some("a b".into()),
            title: Some("T".into()),
            ..Draft::default()
        };
        assert!(spaced
            .finish(Format::Csv)
            .unwrap_err()
            .contains("without spaces"));
        let long = Draft {
            id: Some("x".repeat(100_000)),
            title: Some("T".into()),
            ..Draft::default()
        };
        let err = long.finish(Format::Csv).unwrap_err();
        assert!(
            err.len() < 300,
            "message must stay short: {} bytes",
            err.len()
        );
    }

    #[test]
    fn snippet_cuts_on_char_boundaries() {
        assert_eq!(snippet("short"), "short");
        let s = "é".repeat(100);
        assert_eq!(snippet(&s).chars().count(), 61);
    }

    proptest::proptest! {
        // A failure becomes a named regression test, not a file beside the sources.
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn field_parsers_never_panic(s in "\\PC*") {
            let _ = parse_date(&s);
            let _ = date_field("f", &s);
            let _ = split_authors(&s);
            let _ = split_categories(&s);
            let _ = split_listing_prefix(&s);
            let _ = bare_doi(&s);
            let _ = snippet(&s);
        }

        /// Any valid calendar day survives every spelling our sources use.
        #[test]
        fn every_spelling_of_a_day_parses_to_it(y in 1990i32..2100, m in 1u32..=12, d in 1u32..=28) {
            const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let want = NaiveDate::from_ymd_opt(y, m, d);
            let month = MONTHS[(m - 1) as usize];
            for s in [
                format!("{y}-{m:02}-{d:02}"),
                format!("{y}-{m:02}-{d:02}T23:59:59-04:00"),
                format!("{d} {month} {y} 19:18:42 GMT"),
                format!("Mon, {d} {month} {y} 19:18:42 GMT"),
                format!("{m}/{d}/{y}"),
                format!("{y}/{m}/{d}"),
            ] {
                proptest::prop_assert_eq!(parse_date(&s), want, "{}", s);
            }
        }

        /// The listing prefix comes off whatever the abstract says.
        #[test]
        fn listing_prefix_comes_off_any_abstract(
            id in "[0-9]{4}\\.[0-9]{5}v[1-9]",
            kind in "(new|cross|replace|replace-cross)",
            text in "\\PC*",
        ) {
            let s = format!("arXiv:{id} Announce Type: {kind} \nAbstract: {text}");
            let l = split_listing_prefix(&s);
            proptest::prop_assert_eq!(l.id, Some(id.as_str()));
            proptest::prop_assert_eq!(l.announce_type, Some(kind.as_str()));
            proptest::prop_assert_eq!(l.abstract_text, text.trim());
        }
    }

    #[test]
    fn doi_forms() {
        assert_eq!(
            bare_doi("10.1103/PhysRevD.76.013009"),
            "10.1103/PhysRevD.76.013009"
        );
        assert_eq!(bare_doi("http://dx.doi.org/10.1/A"), "10.1/A");
        assert_eq!(bare_doi("10.1/a 10.2/b"), "10.1/a");
        assert_eq!(bare_doi(""), "");
    }
}
