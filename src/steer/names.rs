//! Author names the way arXiv and BibTeX write them, and whether two of them can be
//! the same person: "John A. Smith", "J. Smith", "Smith, John", "JOHN SMITH",
//! "Jöhn Smith-Jones", "J.-P. Serre", 'Linxi "Jim" Fan'.
//!
//! # The rule
//! A name is a surname and given names. With a comma ("Smith, John A.") the part
//! before it is the surname; without one any trailing run of words may be the surname
//! ("Richard van Dijk": "Dijk" or "van Dijk"), so particles need no list. Two names
//! match when, for some such split of each, the surnames are equal (accents, case,
//! spaces and hyphens ignored: "García-López" = "Garcia Lopez" written as a surname)
//! and the given names agree: the same letters when spaces and hyphens are ignored
//! ("Song-Chun" = "Songchun"), or the first given names agree and every further one
//! present on both sides agrees, a further one present on one side only being
//! optional ("John A. Smith" ~ "John Smith", but not ~ "John B. Smith"). Two given
//! names agree when equal, or when one is initials and they are the other's first
//! letters ("J." ~ "John", "J.-P." ~ "Jean-Pierre", "JP" ~ "Jean-Pierre").
//!
//! What it does not do: a person known by a middle name ("J. Alison Noble" is not
//! matched by "Alison Noble"), names in reversed order without a comma ("Li Xiaoyu"
//! for "Xiaoyu Li"), or transliterations ("Müller" vs "Mueller"). Initials match
//! every given name with that letter: following "J. Smith" follows every J. Smith.

use super::text::fold;

/// One given name or surname word: its pieces (split at hyphens), folded, letters and
/// digits only.
#[derive(Debug, Clone, PartialEq)]
struct Word {
    pieces: Vec<String>,
}

impl Word {
    /// Every piece a single letter ("J.", "J.-P.", "JP").
    fn is_initials(&self) -> bool {
        self.pieces.iter().all(|p| p.chars().count() == 1)
    }

    fn joined(&self) -> String {
        self.pieces.concat()
    }

    fn first_letters(&self) -> Vec<char> {
        self.pieces
            .iter()
            .filter_map(|p| p.chars().next())
            .collect()
    }
}

/// A parsed name: its words, and where the surname starts when a comma said so.
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    words: Vec<Word>,
    surname_from: Option<usize>,
}

/// An author name ready for matching: the name as written and the ways it can be read
/// (a quoted nickname gives a second reading: 'Linxi "Jim" Fan' is "Linxi Fan" and
/// "Jim Fan").
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    readings: Vec<Parsed>,
}

const SUFFIXES: [&str; 6] = ["jr", "sr", "ii", "iii", "iv", "phd"];

impl Name {
    /// Parse `raw`; `None` when it holds no letter or digit.
    pub fn parse(raw: &str) -> Option<Name> {
        let (base, nicknames) = split_nicknames(raw);
        let mut readings: Vec<Parsed> = parse_one(&base).into_iter().collect();
        if let Some(first) = readings.first().cloned() {
            // The nickname replaces the given names: 'Linxi "Jim" Fan' → "Jim Fan".
            for nick in nicknames {
                let words = raw_words(&nick, true, false);
                if words.is_empty() {
                    continue;
                }
                let surname: Vec<Word> = match first.surname_from {
                    Some(k) => first.words[k..].to_vec(),
                    None => first.words.last().cloned().into_iter().collect(),
                };
                let k = words.len();
                let mut all = words;
                all.extend(surname);
                readings.push(Parsed {
                    words: all,
                    surname_from: Some(k),
                });
            }
        }
        (!readings.is_empty()).then_some(Name { readings })
    }

    /// Whether the two names can be the same person (the rule in the module docs).
    pub fn matches(&self, other: &Name) -> bool {
        self.readings
            .iter()
            .any(|a| other.readings.iter().any(|b| readings_match(a, b)))
    }
}

/// Whether `a` names the same person as `b`, after parsing both (see [`Name`]).
pub fn same_person(a: &str, b: &str) -> bool {
    match (Name::parse(a), Name::parse(b)) {
        (Some(a), Some(b)) => a.matches(&b),
        _ => false,
    }
}

/// `raw` without its quoted nicknames and parenthesised remarks, and the nicknames.
fn split_nicknames(raw: &str) -> (String, Vec<String>) {
    let mut base = String::with_capacity(raw.len());
    let mut nicknames = Vec::new();
    let mut quoted: Option<String> = None;
    let mut paren = 0usize;
    for c in raw.chars() {
        match (c, quoted.as_mut()) {
            ('"' | '“' | '”', None) if paren == 0 => quoted = Some(String::new()),
            ('"' | '“' | '”', Some(_)) => {
                nicknames.extend(quoted.take());
                base.push(' ');
            }
            (_, Some(q)) => q.push(c),
            ('(', None) => paren += 1,
            (')', None) => paren = paren.saturating_sub(1),
            (_, None) if paren > 0 => {}
            (_, None) => base.push(c),
        }
    }
    if let Some(q) = quoted {
        // An unclosed quote was not a nickname.
        base.push_str(&q);
    }
    (base, nicknames)
}

/// The words of one part of a name. In a name written in mixed case (`mixed_case`),
/// a word of two or three capitals ("JP", "JRR") is initials, except the last word
/// when `surname_last` (the part ends with the surname).
fn raw_words(part: &str, mixed_case: bool, surname_last: bool) -> Vec<Word> {
    // "J.-P." is one word of two initials; "J.P." two words; a backslash is a TeX
    // accent left in arXiv metadata ("St\\ütz").
    let spaced = part.replace(".-", "-").replace('.', " ").replace('\\', "");
    let chunks: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let caps = mixed_case
            && (2..=3).contains(&chunk.chars().count())
            && chunk.chars().all(|c| c.is_ascii_uppercase())
            && !(surname_last && last);
        let pieces: Vec<String> = if caps {
            chunk
                .chars()
                .map(|c| c.to_ascii_lowercase().to_string())
                .collect()
        } else {
            chunk
                .split(['-', '‐', '‑', '–'])
                .map(|p| fold(p).chars().filter(|c| c.is_alphanumeric()).collect())
                .filter(|p: &String| !p.is_empty())
                .collect()
        };
        if !pieces.is_empty() {
            out.push(Word { pieces });
        }
    }
    out
}

fn is_suffix(w: &Word) -> bool {
    SUFFIXES.contains(&w.joined().as_str())
}

fn parse_one(raw: &str) -> Option<Parsed> {
    // "JP Serre" has initials in capitals; "BO LI" is a name in capitals.
    let mixed = raw.chars().any(char::is_lowercase);
    let parts: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    // "Smith, John, Jr." and "John Smith, Jr.": a part that is only a suffix goes.
    let parts: Vec<&str> = parts
        .into_iter()
        .filter(|p| {
            let w = raw_words(p, mixed, false);
            !(w.len() == 1 && is_suffix(&w[0]))
        })
        .collect();
    match parts.as_slice() {
        [] => None,
        [one] => {
            let mut words = raw_words(one, mixed, true);
            while words.len() > 2 && words.last().is_some_and(is_suffix) {
                words.pop();
            }
            (!words.is_empty()).then_some(Parsed {
                words,
                surname_from: None,
            })
        }
        [surname, given @ ..] => {
            let surname = raw_words(surname, false, false);
            let mut words = raw_words(&given.join(" "), mixed, false);
            if surname.is_empty() {
                return None;
            }
            let k = words.len();
            words.extend(surname);
            Some(Parsed {
                words,
                surname_from: Some(k),
            })
        }
    }
}

/// Where the surname may start: the comma's place, or any word but the first (the
/// whole name for a single word).
fn splits(p: &Parsed) -> Vec<usize> {
    match p.surname_from {
        Some(k) => vec![k],
        None if p.words.len() == 1 => vec![0],
        None => (1..p.words.len()).collect(),
    }
}

fn readings_match(a: &Parsed, b: &Parsed) -> bool {
    for ka in splits(a) {
        let (given_a, surname_a) = a.words.split_at(ka);
        let key_a: String = surname_a.iter().map(Word::joined).collect();
        // A surname of initials only ("Smith J" read backwards) is no surname.
        if surname_a.iter().all(Word::is_initials) {
            continue;
        }
        for kb in splits(b) {
            let (given_b, surname_b) = b.words.split_at(kb);
            if surname_b.iter().all(Word::is_initials) {
                continue;
            }
            let key_b: String = surname_b.iter().map(Word::joined).collect();
            if key_a == key_b && given_agree(given_a, given_b) {
                return true;
            }
        }
    }
    false
}

fn given_agree(a: &[Word], b: &[Word]) -> bool {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return true,
        (true, false) | (false, true) => return false,
        _ => {}
    }
    let all = |w: &[Word]| w.iter().map(Word::joined).collect::<String>();
    let both_full = |w: &[Word]| w.iter().all(|x| !x.is_initials());
    if both_full(a) && both_full(b) && all(a) == all(b) {
        return true;
    }
    a.iter().zip(b).all(|(x, y)| words_agree(x, y))
}

fn words_agree(x: &Word, y: &Word) -> bool {
    match (x.is_initials(), y.is_initials()) {
        (false, false) => x.joined() == y.joined(),
        (true, true) => {
            let (lx, ly) = (x.first_letters(), y.first_letters());
            lx.starts_with(&ly) || ly.starts_with(&lx)
        }
        (true, false) => initials_of(x, y),
        (false, true) => initials_of(y, x),
    }
}

/// Whether initials `i` abbreviate the full word `w`: "J." ~ "John", "J.-P." ~
/// "Jean-Pierre", "J." ~ "Jean-Pierre", and "JP" ~ "JP" (a name in capitals).
fn initials_of(i: &Word, w: &Word) -> bool {
    let letters = i.first_letters();
    if letters.iter().collect::<String>() == w.joined() {
        return true;
    }
    let firsts = w.first_letters();
    match letters.len() {
        1 => firsts.first() == letters.first(),
        _ => letters == firsts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_on_hand_made_names() {
        let yes = [
            ("John Smith", "John Smith"),
            ("John Smith", "JOHN SMITH"),
            ("J. Smith", "John Smith"),
            ("John Smith", "J. Smith"),
            ("John A. Smith", "John Smith"),
            ("John Smith", "John Andrew Smith"),
            ("J. A. Smith", "John Andrew Smith"),
            ("Smith, John", "John Smith"),
            ("Smith, J.", "John A. Smith"),
            ("Li, X.", "Xiaoyu Li"),
            ("Jöhn Smîth", "John Smith"),
            ("Hinrich Schütze", "Hinrich Schutze"),
            ("Song-Chun Zhu", "Songchun Zhu"),
            ("Song-Chun Zhu", "S.-C. Zhu"),
            ("Song-Chun Zhu", "S. Zhu"),
            ("Jean-Pierre Serre", "JP Serre"),
            ("Jean-Pierre Serre", "J.P. Serre"),
            ("Richard van Dijk", "Richard M. K. van Dijk"),
            ("van Dijk, Richard", "Richard van Dijk"),
            ("E. Martínez-Pañeda", "Emilio Martinez-Paneda"),
            ("Maria Garcia-Lopez", "Garcia Lopez, Maria"),
            ("Jim Fan", "Linxi \"Jim\" Fan"),
            ("Linxi Fan", "Linxi \"Jim\" Fan"),
            ("John  Smith ", " john smith"),
            ("John Smith, Jr.", "John Smith"),
            ("Smith, Jr., John", "J. Smith"),
            ("Niccolò Cavagnero", "Niccol`o Cavagnero"),
            ("Peter Stütz", "Peter St\\ütz"),
            ("Bartłomiej Olber", "Bartlomiej Olber"),
            ("Conor O'Brien", "Conor OBrien"),
            ("Mausam", "Mausam"),
            ("Bo Li", "BO LI"),
            ("JP Morgan", "Morgan, JP"),
            ("JP Morgan", "JP MORGAN"),
        ];
        for (a, b) in yes {
            assert!(same_person(a, b), "{a:?} should match {b:?}");
            assert!(same_person(b, a), "{b:?} should match {a:?} (symmetric)");
        }
        let no = [
            ("J. Smith", "Jane Smyth"),
            ("John Smith", "Jane Smith"),
            ("John A. Smith", "John B. Smith"),
            ("Li, X.", "Xiaoyu Lin"),
            ("Li, X.", "Yu Li"),
            ("Xiaoyu Li", "Xiaoyu Liu"),
            ("Song-Chun Zhu", "Song Zhu"),
            ("Jean-Pierre Serre", "Jean Serre"),
            ("Maria Lee", "Anna Maria Lee"),
            ("John Smith", "Smith John Paul"),
            ("Smith", "John Smith"),
            ("Yang Liu", "Yang Li"),
            ("Hao Wang", "Hao Wong"),
            ("John Smith", ""),
            ("", ""),
        ];
        for (a, b) in no {
            assert!(!same_person(a, b), "{a:?} must not match {b:?}");
            assert!(!same_person(b, a), "{b:?} must not match {a:?}");
        }
    }
}
