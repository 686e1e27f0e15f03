//! Folding text for matching: accents, case and the letters Unicode does not
//! decompose, then words. Shared by author names and keyword rules, so "Schütze",
//! "SCHUTZE" and "Schu\u{308}tze" are one word everywhere.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `s` compatibility-decomposed (NFKD), combining marks dropped, lower-cased, and the
/// letters NFKD keeps whole spelled the way English text writes them without accents
/// (ł → l, ø → o, ß → ss, æ → ae, ...).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        for l in c.to_lowercase() {
            match l {
                'ł' => out.push('l'),
                'ø' => out.push('o'),
                'đ' | 'ð' => out.push('d'),
                'ħ' => out.push('h'),
                'ı' => out.push('i'),
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'þ' => out.push_str("th"),
                other => out.push(other),
            }
        }
    }
    out
}

/// Characters dropped inside a word rather than splitting it: apostrophes and the
/// backtick, so "O'Brien" is one word and "Niccol`o" (a TeX accent left in arXiv
/// metadata) reads "niccolo".
fn joins(c: char) -> bool {
    matches!(c, '\'' | '’' | '`' | 'ʼ')
}

/// The words of folded `s`: maximal runs of letters and digits (apostrophes dropped
/// inside). Each comes with whether a `*` follows it directly (a prefix in a keyword).
pub fn words(s: &str) -> Vec<(String, bool)> {
    let folded = fold(s);
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut cur = String::new();
    for c in folded.chars() {
        if c.is_alphanumeric() {
            cur.push(c);
        } else if joins(c) && !cur.is_empty() {
            continue;
        } else {
            let star = c == '*';
            if !cur.is_empty() {
                out.push((std::mem::take(&mut cur), star));
            }
        }
    }
    if !cur.is_empty() {
        out.push((cur, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_accents_case_and_spells_out_whole_letters() {
        assert_eq!(fold("Schütze"), "schutze");
        assert_eq!(fold("Schu\u{308}tze"), "schutze", "decomposed input");
        assert_eq!(fold("Bartłomiej Łojek"), "bartlomiej lojek");
        assert_eq!(fold("Søren Straße"), "soren strasse");
        assert_eq!(fold("ﬁne"), "fine", "compatibility ligature");
        let w: Vec<String> = words("State-of-the-art O'Brien, graph* (x)")
            .into_iter()
            .map(|(w, _)| w)
            .collect();
        assert_eq!(w, ["state", "of", "the", "art", "obrien", "graph", "x"]);
        assert_eq!(words("graph*")[0], ("graph".to_string(), true));
    }
}
