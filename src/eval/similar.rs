//! `paperscout eval --similar`: how the tf-idf re-scoring of `similar` changes the order
//! of a paper's neighbours, measured on the dated corpus.
//!
//! There is no expert-judged similarity benchmark in `../shared`, so this uses the
//! proxy of the profile evaluation: a neighbour is relevant when it shares a fine
//! category with the query paper (the broad cs.CV, cs.CL, cs.AI and cs.LG do not count;
//! queries with no fine category are skipped). Neither score sees categories. For each
//! query, paperscout's pipeline is replayed exactly: the `pool` nearest papers by dense
//! cosine (exact here, so the index's approximation is not measured), then re-scored
//! with `dense + w · tf-idf cosine` for every weight `w`; nDCG@k and MAP are computed
//! over that pool (re-scoring only reorders it), so `w = 0` is MiniLM cosine alone.

use rayon::prelude::*;
use serde::Serialize;

use super::{metrics, EvalCorpus, MeanSe};
use crate::rank::{self, SplitMix64, Tfidf};
use crate::recommend::tfidf_config;
use crate::{Error, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct SimilarOptions {
    /// Query papers, drawn (seeded) from the corpus' last month of listing days.
    pub queries: usize,
    /// Candidates taken by dense cosine before re-scoring (`similar`: `--top` + 100).
    pub pool: usize,
    /// Cut-off of nDCG.
    pub k: usize,
    /// tf-idf weights to compare.
    pub weights: Vec<f32>,
    /// Categories that do not make two papers related.
    pub broad: Vec<String>,
    pub seed: u64,
    /// The tf-idf settings to compare (default: the one `similar` uses).
    pub variants: Vec<TfidfVariant>,
}

/// One way of making the tf-idf cosine of the re-scoring: which text of a paper, and
/// the vectoriser's settings.
#[derive(Debug, Clone, Serialize)]
pub struct TfidfVariant {
    pub name: String,
    /// Index the authors' names with the title and abstract ([`rank::rank_text`]).
    pub authors: bool,
    pub config: rank::TfidfConfig,
    /// Transform with the single-word terms only ([`Tfidf::transform_unigrams`]).
    pub unigram_terms: bool,
}

impl TfidfVariant {
    /// What `similar` uses: [`crate::recommend::similar_tfidf_variant`].
    pub fn current(n: usize) -> TfidfVariant {
        let (authors, config, unigram_terms) = crate::recommend::similar_tfidf_variant(n);
        TfidfVariant {
            name: "paperscout".into(),
            authors,
            config,
            unigram_terms,
        }
    }

    /// The variants of the study in the README ("Similar papers"): the author names,
    /// the bigrams and the document-frequency cuts, one at a time and together, on a
    /// corpus of `n` papers.
    pub fn study(n: usize) -> Vec<TfidfVariant> {
        let library = tfidf_config(n);
        let plain = rank::TfidfConfig {
            ngram_max: 1,
            min_df: 1,
            max_df: 1.0,
            max_features: usize::MAX,
            ..library.clone()
        };
        let v = |name: &str, authors: bool, config: rank::TfidfConfig| TfidfVariant {
            name: name.into(),
            authors,
            config,
            unigram_terms: false,
        };
        vec![
            TfidfVariant {
                unigram_terms: true,
                ..v(
                    "library vocabulary, no authors, its unigram terms only (no refit)",
                    false,
                    library.clone(),
                )
            },
            v(
                "library (1-2 grams, authors, min_df 5, max_df 0.1, 20k terms)",
                true,
                library.clone(),
            ),
            v("library, no authors", false, library.clone()),
            v(
                "library, no authors, unigrams",
                false,
                rank::TfidfConfig {
                    ngram_max: 1,
                    ..library.clone()
                },
            ),
            v(
                "library, no authors, no df cuts",
                false,
                rank::TfidfConfig {
                    min_df: 1,
                    max_df: 1.0,
                    max_features: usize::MAX,
                    ..library.clone()
                },
            ),
            v(
                "plain (unigrams, no authors, no df cuts)",
                false,
                plain.clone(),
            ),
            v("plain + authors", true, plain),
        ]
    }
}

impl Default for SimilarOptions {
    fn default() -> Self {
        SimilarOptions {
            queries: 1_000,
            pool: 110,
            k: 10,
            weights: vec![0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0],
            broad: ["cs.CV", "cs.CL", "cs.AI", "cs.LG"]
                .map(String::from)
                .to_vec(),
            seed: 42,
            variants: Vec::new(),
        }
    }
}

/// The figures of one tf-idf variant and weight.
#[derive(Debug, Clone, Serialize)]
pub struct SimilarRow {
    /// The tf-idf variant's name.
    pub variant: String,
    pub weight: f32,
    pub ndcg: f64,
    pub ndcg_se: f64,
    pub map: f64,
    pub map_se: f64,
    /// MAP minus the first weight's MAP, averaged per query, and its standard error
    /// (paired: the same queries, so much tighter than the two errors above suggest).
    pub map_gain: f64,
    pub map_gain_se: f64,
}

/// The report: one row per weight, and how many queries counted.
#[derive(Debug, Clone, Serialize)]
pub struct SimilarReport {
    pub queries: usize,
    pub papers: usize,
    pub pool: usize,
    pub k: usize,
    pub rows: Vec<SimilarRow>,
}

/// Average precision of one ranked list over all of it (0 with nothing relevant).
fn average_precision(ranked: &[bool]) -> f64 {
    let mut hits = 0usize;
    let mut sum = 0.0;
    for (i, &rel) in ranked.iter().enumerate() {
        if rel {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    if hits == 0 {
        0.0
    } else {
        sum / hits as f64
    }
}

/// Run the evaluation on a loaded corpus.
pub fn evaluate(corpus: &EvalCorpus, opts: &SimilarOptions) -> Result<SimilarReport> {
    if opts.queries == 0 || opts.pool == 0 || opts.k == 0 || opts.weights.is_empty() {
        return Err(Error::Invalid(
            "eval --similar: queries, pool, k and weights must be non-empty".into(),
        ));
    }
    let papers = corpus.papers();
    let n = papers.len();
    let dim = corpus.dim();
    let fine = |i: usize| -> Vec<&str> {
        papers[i]
            .categories
            .iter()
            .map(String::as_str)
            .filter(|c| !opts.broad.iter().any(|b| b == c))
            .collect()
    };
    // Queries: papers of the last month of listing days that have a fine category.
    let last = (0..n)
        .map(|i| corpus.listed(i))
        .max()
        .ok_or_else(|| Error::Invalid("eval --similar: the corpus is empty".into()))?;
    let from = last - chrono::Days::new(30);
    let pool: Vec<usize> = (0..n)
        .filter(|&i| corpus.listed(i) > from && !fine(i).is_empty())
        .collect();
    let queries = SplitMix64::new(opts.seed).sample(&pool, opts.queries);

    let variants = if opts.variants.is_empty() {
        vec![TfidfVariant::current(n)]
    } else {
        opts.variants.clone()
    };
    let mut variant_rows = Vec::with_capacity(variants.len());
    for v in &variants {
        let texts: Vec<String> = papers
            .iter()
            .map(|p| {
                if v.authors {
                    rank::rank_text(p)
                } else {
                    rank::title_abstract(p)
                }
            })
            .collect();
        let tfidf = Tfidf::fit(&texts, v.config.clone())?;
        variant_rows.push(if v.unigram_terms {
            texts
                .par_iter()
                .map(|t| tfidf.transform_unigrams(t))
                .collect()
        } else {
            tfidf.transform_many(&texts)
        });
    }
    let vector = |i: usize| &corpus.vectors()[i * dim..(i + 1) * dim];

    // Per query and weight: (nDCG@k, AP over the pool).
    let per_query: Vec<Vec<(f64, f64)>> = queries
        .par_iter()
        .map(|&q| {
            let qv = vector(q);
            let dense: Vec<f32> = (0..n)
                .map(|j| {
                    if j == q {
                        f32::NEG_INFINITY
                    } else {
                        rank::dot(qv, vector(j))
                    }
                })
                .collect();
            let cands = rank::top_k(&dense, opts.pool);
            let qf = fine(q);
            let relevant: Vec<bool> = cands
                .iter()
                .map(|&j| {
                    papers[j]
                        .categories
                        .iter()
                        .any(|c| qf.contains(&c.as_str()))
                })
                .collect();
            let n_rel = relevant.iter().filter(|&&r| r).count();
            let mut out = Vec::with_capacity(variant_rows.len() * opts.weights.len());
            for rows in &variant_rows {
                let lexical: Vec<f32> = cands
                    .iter()
                    .map(|&j| rows[q].dot_sparse(&rows[j]))
                    .collect();
                out.extend(opts.weights.iter().map(|&w| {
                    let scores: Vec<f32> = cands
                        .iter()
                        .enumerate()
                        .map(|(c, &j)| dense[j] + w * lexical[c])
                        .collect();
                    let order = rank::top_k(&scores, scores.len());
                    let ranked: Vec<bool> = order.iter().map(|&c| relevant[c]).collect();
                    (
                        metrics::ndcg_at_k(&ranked, n_rel, opts.k),
                        average_precision(&ranked),
                    )
                }));
            }
            out
        })
        .collect();
    let cells = variants
        .iter()
        .flat_map(|v| opts.weights.iter().map(move |&w| (v, w)));
    let rows = cells
        .enumerate()
        .map(|(wi, (variant, weight))| {
            let (mut ndcg, mut map, mut gain) =
                (MeanSe::default(), MeanSe::default(), MeanSe::default());
            for q in &per_query {
                ndcg.push(q[wi].0);
                map.push(q[wi].1);
                gain.push(q[wi].1 - q[0].1);
            }
            SimilarRow {
                variant: variant.name.clone(),
                weight,
                ndcg: ndcg.mean(),
                ndcg_se: ndcg.std_err(),
                map: map.mean(),
                map_se: map.std_err(),
                map_gain: gain.mean(),
                map_gain_se: gain.std_err(),
            }
        })
        .collect();
    Ok(SimilarReport {
        queries: queries.len(),
        papers: n,
        pool: opts.pool,
        k: opts.k,
        rows,
    })
}

/// The report as a Markdown table.
pub fn format_table(r: &SimilarReport) -> String {
    let mut s = format!(
        "similar: {} query papers of the last month against {} papers; {} nearest by MiniLM cosine, re-scored with cosine + w · tf-idf cosine; relevant = shares a fine category with the query\n\n| tf-idf | w | nDCG@{} | MAP@{} | MAP gain over w = {} (paired) |\n|---|---|---|---|---|\n",
        r.queries,
        r.papers,
        r.pool,
        r.k,
        r.pool,
        r.rows.first().map_or(0.0, |x| x.weight)
    );
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {:.3} ± {:.3} | {:.3} ± {:.3} | {:+.4} ± {:.4} |\n",
            row.variant,
            row.weight,
            row.ndcg,
            row.ndcg_se,
            row.map,
            row.map_se,
            row.map_gain,
            row.map_gain_se
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_by_hand() {
        assert_eq!(average_precision(&[false, false]), 0.0);
        assert_eq!(average_precision(&[true, true]), 1.0);
        // Relevant at ranks 2 and 4: (1/2 + 2/4) / 2.
        assert!((average_precision(&[false, true, false, true]) - 0.5).abs() < 1e-12);
    }
}
