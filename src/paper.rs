//! The `Paper` record every source is turned into, its canonical id, and the exact
//! text that gets embedded. Parsing source formats lives in `ingest`; storing papers
//! lives in `library`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One paper, whatever source it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    /// Canonical id (see [`canonical_id`]): an arXiv id without version, or the id the
    /// source gives for papers not on arXiv (a DOI, a Semantic Scholar id, ...).
    pub id: String,
    pub title: String,
    #[serde(rename = "abstract", default)]
    pub abstract_text: String,
    #[serde(default)]
    pub authors: Vec<String>,
    /// arXiv categories, primary first.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The day the paper was first listed: the "day" a daily ranking uses. Kept at its
    /// earliest value when a paper is seen again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<NaiveDate>,
    /// Date of the first version, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<NaiveDate>,
    /// Date of the latest version seen, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    /// The format the record was read from (`jsonl`, `arxiv-atom`, `arxiv-rss`, ...).
    #[serde(default)]
    pub source: String,
    /// arXiv listing announce type (`new`, `cross`, `replace`, ...), from listing feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_type: Option<String>,
}

impl Paper {
    /// A paper with only an id and a title; the other fields empty.
    pub fn new(id: impl AsRef<str>, title: impl Into<String>) -> Self {
        Paper {
            id: canonical_id(id.as_ref()),
            title: title.into(),
            abstract_text: String::new(),
            authors: Vec::new(),
            categories: Vec::new(),
            listed: None,
            published: None,
            updated: None,
            url: None,
            doi: None,
            source: String::new(),
            announce_type: None,
        }
    }

    /// The text that gets embedded: see [`paper_text`].
    pub fn text(&self) -> String {
        paper_text(&self.title, &self.abstract_text)
    }

    /// The arXiv abstract page, when the id is an arXiv id; else the source's url.
    pub fn link(&self) -> Option<String> {
        if is_arxiv_id(&self.id) {
            Some(format!("https://arxiv.org/abs/{}", self.id))
        } else {
            self.url.clone()
        }
    }
}

/// The one rule for the text embedded for a paper: title and abstract, each with runs
/// of whitespace collapsed to one space and trimmed, joined by `". "`. It is the rule
/// of `../shared/bench/reference_embed.py`, so vectors compare with the reference.
pub fn paper_text(title: &str, abstract_text: &str) -> String {
    format!(
        "{}. {}",
        collapse_whitespace(title),
        collapse_whitespace(abstract_text)
    )
}

/// Runs of Unicode whitespace become one space; leading and trailing whitespace goes.
pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical form of a paper id.
///
/// - arXiv ids lose their version: `2605.01234v3` → `2605.01234`;
/// - `arXiv:` / `oai:arXiv.org:` prefixes and arXiv abs/pdf/html URLs map to the bare id;
/// - old-style ids keep their archive: `hep-th/9901001v2` → `hep-th/9901001`;
/// - a new-style id that lost its leading zero to a spreadsheet (`704.0001`) gets it back,
///   and the trailing zeros lost with it too (`704.001` → `0704.0010`);
/// - anything else (a DOI, a Semantic Scholar id) is kept as given, trimmed.
pub fn canonical_id(raw: &str) -> String {
    let s = raw.trim();
    let mut rest = s;
    for prefix in ["http://", "https://"] {
        if let Some(r) = strip_prefix_ci(rest, prefix) {
            rest = r;
        }
    }
    let mut from_url = false;
    for host in ["www.arxiv.org/", "export.arxiv.org/", "arxiv.org/"] {
        if let Some(r) = strip_prefix_ci(rest, host) {
            rest = r;
            from_url = true;
            break;
        }
    }
    if from_url {
        for kind in ["abs/", "pdf/", "html/", "format/"] {
            if let Some(r) = rest.strip_prefix(kind) {
                rest = r;
                break;
            }
        }
        rest = rest.split(['?', '#']).next().unwrap_or(rest);
        rest = rest.trim_end_matches('/');
        rest = rest.strip_suffix(".pdf").unwrap_or(rest);
    } else {
        for prefix in ["oai:arxiv.org:", "arxiv:"] {
            if let Some(r) = strip_prefix_ci(rest, prefix) {
                rest = r;
                break;
            }
        }
    }
    // Anything that does not parse as an arXiv id is kept as given.
    arxiv_id_parts(rest).unwrap_or_else(|| s.to_string())
}

/// Whether `id` (already canonical) is an arXiv id.
pub fn is_arxiv_id(id: &str) -> bool {
    arxiv_id_parts(id).as_deref() == Some(id)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parse an arXiv id with an optional version; return it without the version.
fn arxiv_id_parts(s: &str) -> Option<String> {
    let s = strip_version(s);
    if let Some((archive, number)) = s.split_once('/') {
        // Old style: archive(.SUBJ)/YYMMNNN, e.g. hep-th/9901001, math.AG/0309136.
        let (arch, subj) = match archive.split_once('.') {
            Some((a, sub)) => (a, Some(sub)),
            None => (archive, None),
        };
        let arch_ok = !arch.is_empty()
            && arch.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && arch.starts_with(|c: char| c.is_ascii_lowercase());
        let subj_ok = subj.is_none_or(|x| {
            (1..=3).contains(&x.len()) && x.chars().all(|c| c.is_ascii_uppercase())
        });
        let num_ok = number.len() == 7 && number.bytes().all(|b| b.is_ascii_digit());
        return (arch_ok && subj_ok && num_ok).then(|| s.to_string());
    }
    let (yymm, seq) = s.split_once('.')?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(yymm) || !digits(seq) {
        return None;
    }
    let (yymm, seq) = match yymm.len() {
        4 => (yymm.to_string(), seq.to_string()),
        // A spreadsheet read the id as a number: the leading zero of 07xx-09xx ids went,
        // and with it any trailing zeros (0704.0010 → 704.001, 0704.2000 → 704.2).
        3 if seq.len() <= 4 => (format!("0{yymm}"), format!("{seq:0<4}")),
        _ => return None,
    };
    let month: u32 = yymm[2..].parse().ok()?;
    if !(1..=12).contains(&month) {
        return None;
    }
    // Four-digit sequence numbers until 1412, five from 1501 on.
    let five = yymm.as_str() >= "1501";
    let seq_ok = if five { seq.len() == 5 } else { seq.len() == 4 };
    seq_ok.then(|| format!("{yymm}.{seq}"))
}

fn strip_version(s: &str) -> &str {
    if let Some(pos) = s.rfind('v') {
        let (head, tail) = (&s[..pos], &s[pos + 1..]);
        if !head.is_empty()
            && head.ends_with(|c: char| c.is_ascii_digit())
            && !tail.is_empty()
            && tail.bytes().all(|b| b.is_ascii_digit())
        {
            return head;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids() {
        let cases = [
            ("2605.01234", "2605.01234"),
            ("2605.01234v3", "2605.01234"),
            (" arXiv:2605.01234v12 ", "2605.01234"),
            ("https://arxiv.org/abs/2605.01234v2", "2605.01234"),
            ("http://arxiv.org/pdf/2605.01234v2.pdf", "2605.01234"),
            ("https://arxiv.org/pdf/2605.01234", "2605.01234"),
            ("http://export.arxiv.org/abs/2605.01234v1", "2605.01234"),
            ("oai:arXiv.org:2605.01234", "2605.01234"),
            ("hep-th/9901001", "hep-th/9901001"),
            ("hep-th/9901001v2", "hep-th/9901001"),
            ("http://arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001"),
            ("math.AG/0309136", "math.AG/0309136"),
            ("0704.0001", "0704.0001"),
            ("704.0001", "0704.0001"),
            ("704.001", "0704.0010"),
            ("704.2", "0704.2000"),
            ("912.12", "0912.1200"),
            ("704.00011", "704.00011"), // too long for a 2007 id: kept as given
            ("1412.9999v1", "1412.9999"),
            ("10.1145/3292500.3330701", "10.1145/3292500.3330701"),
            ("a1b2c3d4e5", "a1b2c3d4e5"),
            ("2605.1234", "2605.1234"), // not a valid 2015+ id: kept as given
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_id(raw), want, "canonical_id({raw:?})");
        }
    }

    #[test]
    fn arxiv_id_recognition() {
        assert!(is_arxiv_id("2605.01234"));
        assert!(is_arxiv_id("hep-th/9901001"));
        assert!(!is_arxiv_id("2605.01234v2"));
        assert!(!is_arxiv_id("10.1145/3292500.3330701"));
        assert!(!is_arxiv_id("2613.01234"));
    }

    #[test]
    fn text_collapses_whitespace() {
        assert_eq!(
            paper_text("  A\n title ", "An\tabstract\n\n with  gaps "),
            "A title. An abstract with gaps"
        );
        assert_eq!(paper_text("T", ""), "T. ");
    }
}
