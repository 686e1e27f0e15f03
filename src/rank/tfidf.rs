//! The tf-idf vectoriser: word 1-2 grams, English stop words, sublinear tf, min_df /
//! max_df, a vocabulary cap and L2-normalised sparse rows. It follows scikit-learn's
//! `TfidfVectorizer` (`sklearn/feature_extraction/text.py`) with arxiv-sanity-lite's
//! token pattern, so numbers compare with that project's. It owns tokenising, fitting
//! the vocabulary and idf on a corpus, and transforming texts; it does not decide which
//! text of a paper is used (the caller does) nor store anything (it is serde-serialisable
//! so the library can).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How a [`Tfidf`] is fitted. Defaults are paperscout's (see [`crate::rank`] for how
/// they were chosen); [`TfidfConfig::arxiv_sanity`] is arxiv-sanity-lite's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TfidfConfig {
    /// Longest n-gram: 1 (words) or 2 (words and adjacent word pairs).
    pub ngram_max: usize,
    /// A term must occur in at least this many documents.
    pub min_df: usize,
    /// A term may occur in at most this fraction of documents (0, 1].
    pub max_df: f64,
    /// Keep at most this many terms, the most frequent over the corpus.
    pub max_features: usize,
    /// tf = 1 + ln(count) instead of count.
    pub sublinear_tf: bool,
    /// Drop scikit-learn's 318 English stop words before forming n-grams.
    pub stop_words: bool,
}

impl Default for TfidfConfig {
    fn default() -> Self {
        TfidfConfig::arxiv_sanity()
    }
}

impl TfidfConfig {
    /// arxiv-sanity-lite's `compute.py`: 1-2 grams, 20,000 features, min_df 5,
    /// max_df 0.1, sublinear tf, English stop words.
    pub fn arxiv_sanity() -> Self {
        TfidfConfig {
            ngram_max: 2,
            min_df: 5,
            max_df: 0.1,
            max_features: 20_000,
            sublinear_tf: true,
            stop_words: true,
        }
    }

    fn validate(&self) -> Result<()> {
        if !(1..=2).contains(&self.ngram_max) {
            return Err(Error::Invalid(format!(
                "tf-idf ngram_max must be 1 or 2, not {}",
                self.ngram_max
            )));
        }
        if !(self.max_df > 0.0 && self.max_df <= 1.0) {
            return Err(Error::Invalid(format!(
                "tf-idf max_df must be in (0, 1], not {}",
                self.max_df
            )));
        }
        if self.max_features == 0 {
            return Err(Error::Invalid("tf-idf max_features must be > 0".into()));
        }
        Ok(())
    }
}

/// A sparse row: strictly increasing `indices` into a vocabulary, one value each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVec {
    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Dot product with a dense vector indexed like the vocabulary. Indices past the
    /// end of `dense` count as 0 (callers check the vocabulary size once, up front).
    #[inline]
    pub fn dot_dense(&self, dense: &[f32]) -> f32 {
        let mut s = 0.0f32;
        for (&i, &v) in self.indices.iter().zip(&self.values) {
            if let Some(w) = dense.get(i as usize) {
                s += v * w;
            }
        }
        s
    }

    /// Dot product with another sparse row (a cosine for two L2-normalised rows): a
    /// merge of the two sorted index lists.
    pub fn dot_sparse(&self, other: &SparseVec) -> f32 {
        let (mut i, mut j, mut s) = (0, 0, 0.0f32);
        while i < self.indices.len() && j < other.indices.len() {
            match self.indices[i].cmp(&other.indices[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += self.values[i] * other.values[j];
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }

    /// Squared L2 norm.
    pub fn norm_sq(&self) -> f32 {
        self.values.iter().map(|v| v * v).sum()
    }

    /// The value at vocabulary index `i` (0 when absent).
    pub fn get(&self, i: u32) -> f32 {
        match self.indices.binary_search(&i) {
            Ok(k) => self.values[k],
            Err(_) => 0.0,
        }
    }

    /// The largest index + 1 (0 for an empty row).
    pub fn index_bound(&self) -> usize {
        self.indices.last().map_or(0, |&i| i as usize + 1)
    }
}

/// A fitted tf-idf vectoriser. Invariants: `vocabulary` is sorted and unique, `idf`
/// has one entry per term; rows it makes are L2-normalised (or empty).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "TfidfData", into = "TfidfData")]
pub struct Tfidf {
    config: TfidfConfig,
    n_docs: usize,
    vocabulary: Vec<String>,
    idf: Vec<f32>,
    index: FxMap<String, u32>,
}

/// The stored form of a [`Tfidf`]; the lookup table is rebuilt on load.
#[derive(Serialize, Deserialize)]
struct TfidfData {
    config: TfidfConfig,
    n_docs: usize,
    vocabulary: Vec<String>,
    idf: Vec<f32>,
}

impl From<Tfidf> for TfidfData {
    fn from(t: Tfidf) -> Self {
        TfidfData {
            config: t.config,
            n_docs: t.n_docs,
            vocabulary: t.vocabulary,
            idf: t.idf,
        }
    }
}

impl TryFrom<TfidfData> for Tfidf {
    type Error = Error;
    fn try_from(d: TfidfData) -> Result<Self> {
        d.config.validate()?;
        if d.vocabulary.len() != d.idf.len() {
            return Err(Error::Invalid(format!(
                "tf-idf: {} terms but {} idf values",
                d.vocabulary.len(),
                d.idf.len()
            )));
        }
        if d.vocabulary.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Invalid(
                "tf-idf: vocabulary is not sorted and unique".into(),
            ));
        }
        let index = build_index(&d.vocabulary);
        Ok(Tfidf {
            config: d.config,
            n_docs: d.n_docs,
            vocabulary: d.vocabulary,
            idf: d.idf,
            index,
        })
    }
}

fn build_index(vocabulary: &[String]) -> FxMap<String, u32> {
    vocabulary
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect()
}

/// The Fx hash of rustc (`rustc-hash`'s `FxHasher`): several times faster than the
/// default SipHash on short strings, which dominates fitting (millions of n-grams).
/// Not DoS-resistant; the keys are a local corpus's words.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// (document frequency, total count over the corpus) of a term.
type TermStats = (u32, u64);

impl Tfidf {
    /// Fit the vocabulary and idf on `docs` (in parallel).
    ///
    /// As scikit-learn: keep terms with `min_df <= df <= max_df * n_docs`, then the
    /// `max_features` with the largest total count (ties: alphabetical, so fitting is
    /// deterministic), then idf = ln((1 + n) / (1 + df)) + 1 (`smooth_idf=True`).
    pub fn fit<S: AsRef<str> + Sync>(docs: &[S], config: TfidfConfig) -> Result<Tfidf> {
        config.validate()?;
        let _span = tracing::info_span!("tfidf_fit", docs = docs.len()).entered();
        let stats: FxMap<String, TermStats> = docs
            .par_iter()
            .fold(FxMap::default, |mut acc: FxMap<String, TermStats>, doc| {
                let mut counts: FxMap<String, u32> = FxMap::default();
                analyze(doc.as_ref(), &config, |t| match counts.get_mut(t) {
                    Some(c) => *c += 1,
                    None => {
                        counts.insert(t.to_owned(), 1);
                    }
                });
                for (t, c) in counts {
                    let e = acc.entry(t).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += u64::from(c);
                }
                acc
            })
            .reduce(FxMap::default, |a, b| {
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                for (t, (df, tf)) in small {
                    let e = big.entry(t).or_insert((0, 0));
                    e.0 += df;
                    e.1 += tf;
                }
                big
            });
        let n = docs.len();
        let max_count = config.max_df * n as f64;
        let mut kept: Vec<(String, TermStats)> = stats
            .into_iter()
            .filter(|(_, (df, _))| *df as usize >= config.min_df && f64::from(*df) <= max_count)
            .collect();
        if kept.len() > config.max_features {
            kept.sort_unstable_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
            kept.truncate(config.max_features);
        }
        if kept.is_empty() {
            return Err(Error::Invalid(format!(
                "tf-idf: no term of {n} documents passes min_df {} / max_df {}",
                config.min_df, config.max_df
            )));
        }
        kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let idf = kept
            .iter()
            .map(|(_, (df, _))| (((1 + n) as f64 / (1 + *df) as f64).ln() + 1.0) as f32)
            .collect();
        let vocabulary: Vec<String> = kept.into_iter().map(|(t, _)| t).collect();
        let index = build_index(&vocabulary);
        Ok(Tfidf {
            config,
            n_docs: n,
            vocabulary,
            idf,
            index,
        })
    }

    /// The L2-normalised tf-idf row of one text (empty when no term is known).
    pub fn transform(&self, doc: &str) -> SparseVec {
        self.transform_with(doc, &self.config)
    }

    /// [`Tfidf::transform`] with the single-word terms of the vocabulary only: a
    /// vectoriser fitted with word pairs read as a unigram one (idf as fitted, the row
    /// normalised over what is left), with no second fit.
    pub fn transform_unigrams(&self, doc: &str) -> SparseVec {
        let config = TfidfConfig {
            ngram_max: 1,
            ..self.config.clone()
        };
        self.transform_with(doc, &config)
    }

    fn transform_with(&self, doc: &str, config: &TfidfConfig) -> SparseVec {
        let mut hits: Vec<u32> = Vec::new();
        analyze(doc, config, |t| {
            if let Some(&i) = self.index.get(t) {
                hits.push(i);
            }
        });
        hits.sort_unstable();
        let mut row = SparseVec::default();
        let mut k = 0;
        while k < hits.len() {
            let i = hits[k];
            let mut count = 0u32;
            while k < hits.len() && hits[k] == i {
                count += 1;
                k += 1;
            }
            let tf = if self.config.sublinear_tf {
                1.0 + (count as f32).ln()
            } else {
                count as f32
            };
            row.indices.push(i);
            row.values.push(tf * self.idf[i as usize]);
        }
        let norm = row.norm_sq().sqrt();
        if norm > 0.0 {
            row.values.iter_mut().for_each(|v| *v /= norm);
        }
        row
    }

    /// [`Tfidf::transform`] of many texts, in parallel, in order.
    pub fn transform_many<S: AsRef<str> + Sync>(&self, docs: &[S]) -> Vec<SparseVec> {
        let _span = tracing::info_span!("tfidf_transform", docs = docs.len()).entered();
        docs.par_iter()
            .map(|d| self.transform(d.as_ref()))
            .collect()
    }

    /// Number of terms (the sparse feature dimension).
    pub fn len(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether the vocabulary is empty (never, for a fitted vectoriser).
    pub fn is_empty(&self) -> bool {
        self.vocabulary.is_empty()
    }

    /// The terms, sorted; a row's index `i` is `vocabulary()[i]`.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// The idf of each term, aligned with [`Tfidf::vocabulary`].
    pub fn idf(&self) -> &[f32] {
        &self.idf
    }

    /// The index of `term` (an n-gram as [`analyze`] writes it), if in the vocabulary.
    pub fn term_index(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }

    /// How it was fitted.
    pub fn config(&self) -> &TfidfConfig {
        &self.config
    }

    /// Number of documents it was fitted on.
    pub fn n_docs(&self) -> usize {
        self.n_docs
    }
}

/// Call `emit` with every term of `text`, in order: each kept word, then (when
/// `ngram_max == 2`) each pair of adjacent kept words joined by one space. As
/// scikit-learn's `_word_ngrams`, stop words are removed before pairs are formed.
pub fn analyze(text: &str, config: &TfidfConfig, mut emit: impl FnMut(&str)) {
    let words: Vec<String> = tokenize(text)
        .into_iter()
        .filter(|w| !(config.stop_words && is_stop_word(w)))
        .collect();
    for w in &words {
        emit(w);
    }
    if config.ngram_max >= 2 {
        let mut pair = String::new();
        for w in words.windows(2) {
            pair.clear();
            pair.push_str(&w[0]);
            pair.push(' ');
            pair.push_str(&w[1]);
            emit(&pair);
        }
    }
}

/// The words of `text`: lower-cased, accents stripped, and matched by
/// arxiv-sanity-lite's token pattern `(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b`: a maximal run of
/// word characters is a token when, after stripping accents, it is all ASCII letters,
/// digits and `_`, does not start with a digit and has at least 2 characters.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut ascii = true;
    let mut flush = |cur: &mut String, ascii: &mut bool| {
        if *ascii && cur.len() >= 2 && !cur.starts_with(|c: char| c.is_ascii_digit()) {
            out.push(std::mem::take(cur));
        } else {
            cur.clear();
        }
        *ascii = true;
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            let c = strip_accent(c);
            if c.is_ascii() {
                cur.push(c.to_ascii_lowercase());
            } else {
                ascii = false;
                cur.push(c);
            }
        } else if !cur.is_empty() {
            flush(&mut cur, &mut ascii);
        }
    }
    if !cur.is_empty() {
        flush(&mut cur, &mut ascii);
    }
    out
}

/// The base letter of a Latin letter with diacritics (what Unicode NFKD followed by
/// dropping combining marks gives, as scikit-learn's `strip_accents='unicode'`), for
/// Latin-1 and Latin Extended-A; other characters unchanged. Letters without a
/// decomposition (ß, æ, ø, ł, đ, ħ ...) stay as they are, as in scikit-learn.
fn strip_accent(c: char) -> char {
    let u = c as u32;
    let base = match u {
        0xC0..=0xC5 => 'a',
        0xC7 => 'c',
        0xC8..=0xCB => 'e',
        0xCC..=0xCF => 'i',
        0xD1 => 'n',
        0xD2..=0xD6 => 'o',
        0xD9..=0xDC => 'u',
        0xDD => 'y',
        0xE0..=0xE5 => 'a',
        0xE7 => 'c',
        0xE8..=0xEB => 'e',
        0xEC..=0xEF => 'i',
        0xF1 => 'n',
        0xF2..=0xF6 => 'o',
        0xF9..=0xFC => 'u',
        0xFD | 0xFF => 'y',
        0x100..=0x105 => 'a',
        0x106..=0x10D => 'c',
        0x10E..=0x10F => 'd',
        0x112..=0x11B => 'e',
        0x11C..=0x123 => 'g',
        0x124..=0x125 => 'h',
        0x128..=0x130 => 'i',
        0x134..=0x135 => 'j',
        0x136..=0x137 => 'k',
        0x139..=0x13E => 'l',
        0x143..=0x148 => 'n',
        0x14C..=0x151 => 'o',
        0x154..=0x159 => 'r',
        0x15A..=0x161 => 's',
        0x162..=0x165 => 't',
        0x168..=0x173 => 'u',
        0x174..=0x175 => 'w',
        0x176..=0x178 => 'y',
        0x179..=0x17E => 'z',
        0x17F => 's',
        _ => return c,
    };
    if c.is_uppercase() {
        base.to_ascii_uppercase()
    } else {
        base
    }
}

/// Whether `word` (lower case) is one of scikit-learn's `ENGLISH_STOP_WORDS`.
pub fn is_stop_word(word: &str) -> bool {
    ENGLISH_STOP_WORDS.binary_search(&word).is_ok()
}

/// scikit-learn's `ENGLISH_STOP_WORDS` (`sklearn/feature_extraction/_stop_words.py`,
/// 318 words, from the Glasgow Information Retrieval Group), sorted for binary search.
pub const ENGLISH_STOP_WORDS: [&str; 318] = [
    "a",
    "about",
    "above",
    "across",
    "after",
    "afterwards",
    "again",
    "against",
    "all",
    "almost",
    "alone",
    "along",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "amongst",
    "amoungst",
    "amount",
    "an",
    "and",
    "another",
    "any",
    "anyhow",
    "anyone",
    "anything",
    "anyway",
    "anywhere",
    "are",
    "around",
    "as",
    "at",
    "back",
    "be",
    "became",
    "because",
    "become",
    "becomes",
    "becoming",
    "been",
    "before",
    "beforehand",
    "behind",
    "being",
    "below",
    "beside",
    "besides",
    "between",
    "beyond",
    "bill",
    "both",
    "bottom",
    "but",
    "by",
    "call",
    "can",
    "cannot",
    "cant",
    "co",
    "con",
    "could",
    "couldnt",
    "cry",
    "de",
    "describe",
    "detail",
    "do",
    "done",
    "down",
    "due",
    "during",
    "each",
    "eg",
    "eight",
    "either",
    "eleven",
    "else",
    "elsewhere",
    "empty",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "everywhere",
    "except",
    "few",
    "fifteen",
    "fifty",
    "fill",
    "find",
    "fire",
    "first",
    "five",
    "for",
    "former",
    "formerly",
    "forty",
    "found",
    "four",
    "from",
    "front",
    "full",
    "further",
    "get",
    "give",
    "go",
    "had",
    "has",
    "hasnt",
    "have",
    "he",
    "hence",
    "her",
    "here",
    "hereafter",
    "hereby",
    "herein",
    "hereupon",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "hundred",
    "i",
    "ie",
    "if",
    "in",
    "inc",
    "indeed",
    "interest",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "keep",
    "last",
    "latter",
    "latterly",
    "least",
    "less",
    "ltd",
    "made",
    "many",
    "may",
    "me",
    "meanwhile",
    "might",
    "mill",
    "mine",
    "more",
    "moreover",
    "most",
    "mostly",
    "move",
    "much",
    "must",
    "my",
    "myself",
    "name",
    "namely",
    "neither",
    "never",
    "nevertheless",
    "next",
    "nine",
    "no",
    "nobody",
    "none",
    "noone",
    "nor",
    "not",
    "nothing",
    "now",
    "nowhere",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "otherwise",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "part",
    "per",
    "perhaps",
    "please",
    "put",
    "rather",
    "re",
    "same",
    "see",
    "seem",
    "seemed",
    "seeming",
    "seems",
    "serious",
    "several",
    "she",
    "should",
    "show",
    "side",
    "since",
    "sincere",
    "six",
    "sixty",
    "so",
    "some",
    "somehow",
    "someone",
    "something",
    "sometime",
    "sometimes",
    "somewhere",
    "still",
    "such",
    "system",
    "take",
    "ten",
    "than",
    "that",
    "the",
    "their",
    "them",
    "themselves",
    "then",
    "thence",
    "there",
    "thereafter",
    "thereby",
    "therefore",
    "therein",
    "thereupon",
    "these",
    "they",
    "thick",
    "thin",
    "third",
    "this",
    "those",
    "though",
    "three",
    "through",
    "throughout",
    "thru",
    "thus",
    "to",
    "together",
    "too",
    "top",
    "toward",
    "towards",
    "twelve",
    "twenty",
    "two",
    "un",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "whatever",
    "when",
    "whence",
    "whenever",
    "where",
    "whereafter",
    "whereas",
    "whereby",
    "wherein",
    "whereupon",
    "wherever",
    "whether",
    "which",
    "while",
    "whither",
    "who",
    "whoever",
    "whole",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_dot_merges_indices() {
        let a = SparseVec {
            indices: vec![1, 4, 9],
            values: vec![0.5, 2.0, 1.0],
        };
        let b = SparseVec {
            indices: vec![0, 4, 9, 12],
            values: vec![3.0, 0.25, -1.0, 7.0],
        };
        assert_eq!(a.dot_sparse(&b), 2.0 * 0.25 - 1.0);
        assert_eq!(b.dot_sparse(&a), a.dot_sparse(&b));
        assert_eq!(a.dot_sparse(&SparseVec::default()), 0.0);
    }

    #[test]
    fn unigram_rows_leave_out_the_word_pairs() {
        let docs = [
            "graph neural networks",
            "graph neural models",
            "speech models",
        ];
        let config = TfidfConfig {
            min_df: 1,
            max_df: 1.0,
            ..TfidfConfig::arxiv_sanity()
        };
        let t = Tfidf::fit(&docs, config).unwrap();
        let pair = t.term_index("graph neural").unwrap();
        let word = t.term_index("graph").unwrap();
        let full = t.transform(docs[0]);
        let uni = t.transform_unigrams(docs[0]);
        assert!(full.get(pair) > 0.0 && uni.get(pair) == 0.0);
        assert!(
            uni.get(word) > full.get(word),
            "renormalised over the words"
        );
        assert!((uni.norm_sq() - 1.0).abs() < 1e-6);
        assert_eq!(uni.nnz(), 3);
    }

    #[test]
    fn stop_word_list_is_sorted_for_binary_search() {
        assert!(ENGLISH_STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && is_stop_word("yourselves") && is_stop_word("a"));
        assert!(!is_stop_word("network"));
    }

    #[test]
    fn tokens_follow_the_arxiv_sanity_pattern() {
        assert_eq!(
            tokenize("A 3D x3d GAN_v2, naïve Şahin straße é-vo; O(n) $\\alpha$"),
            ["x3d", "gan_v2", "naive", "sahin", "vo", "alpha"]
        );
    }
}
