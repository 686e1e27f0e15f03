//! The evaluation corpus: papers with listing dates and their sentence vectors, read
//! from our dated JSONL (fields `id`, `title`, `summary`, `authors`, `categories`,
//! `listing_date`) and row-aligned `.npy` vectors; and the category-free view of it
//! that rankers get ([`BlindPaper`]). It does not simulate users or rank.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::library::npy;
use crate::paper::{canonical_id, Paper};
use crate::{Error, Result};

/// Papers (sorted by listing date, stable) with one L2-normalised vector each.
#[derive(Debug, Clone)]
pub struct EvalCorpus {
    papers: Vec<Paper>,
    vectors: Vec<f32>,
    dim: usize,
}

/// A paper as a ranker may see it: no categories, by construction (relevance in the
/// evaluation is defined by categories, so a ranker that saw them could cheat).
///
/// A ranker reading categories does not compile:
/// ```compile_fail,E0609
/// fn cheat(p: &paperscout::eval::BlindPaper) -> usize { p.categories.len() }
/// ```
/// and neither does one looking for them in its context:
/// ```compile_fail,E0609
/// fn cheat(c: &paperscout::eval::Context<'_>) -> usize { c.categories.len() }
/// ```
/// while what rankers may read is there:
/// ```
/// fn fair(p: &paperscout::eval::BlindPaper, c: &paperscout::eval::Context<'_>) -> usize {
///     p.text.len() + p.id.len() + c.papers.len() + c.history
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BlindPaper {
    pub id: String,
    pub listed: NaiveDate,
    /// The text rankers may index: title, abstract and authors (arxiv-sanity-lite's
    /// `title + summary + authors`), separated by spaces.
    pub text: String,
}

impl BlindPaper {
    /// The category-free view of `paper`; its listing date is passed in because the
    /// corpus has already checked that every paper has one.
    pub fn of(paper: &Paper, listed: NaiveDate) -> Self {
        let text = crate::rank::rank_text(paper);
        BlindPaper {
            id: paper.id.clone(),
            listed,
            text,
        }
    }
}

#[derive(Deserialize)]
struct Record {
    id: String,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    listing_date: NaiveDate,
}

impl EvalCorpus {
    /// A corpus of `papers` (each with `listed` set) and their vectors, row-major
    /// `[papers.len(), dim]`. Papers are sorted by listing date, keeping the given order
    /// within a day.
    pub fn new(papers: Vec<Paper>, vectors: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 || vectors.len() != papers.len() * dim {
            return Err(Error::Invalid(format!(
                "eval corpus: {} vector values for {} papers of dimension {dim}",
                vectors.len(),
                papers.len()
            )));
        }
        if let Some(p) = papers.iter().find(|p| p.listed.is_none()) {
            return Err(Error::Invalid(format!(
                "eval corpus: paper {} has no listing date",
                p.id
            )));
        }
        let mut order: Vec<usize> = (0..papers.len()).collect();
        order.sort_by_key(|&i| papers[i].listed);
        let mut sorted_vectors = Vec::with_capacity(vectors.len());
        for &i in &order {
            sorted_vectors.extend_from_slice(&vectors[i * dim..(i + 1) * dim]);
        }
        let mut slots: Vec<Option<Paper>> = papers.into_iter().map(Some).collect();
        let papers = order.iter().filter_map(|&i| slots[i].take()).collect();
        Ok(EvalCorpus {
            papers,
            vectors: sorted_vectors,
            dim,
        })
    }

    /// Read every `*.jsonl` file of `dir` (in name order) and, for each `NAME.jsonl`,
    /// the vectors `embeddings/NAME.npy` (row i = line i) and `embeddings/NAME.ids.json`
    /// (checked against the JSONL ids). `embeddings` defaults to
    /// `dir/minilm-embeddings`.
    pub fn load_dir(dir: &Path, embeddings: Option<&Path>) -> Result<Self> {
        let emb_dir = embeddings
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join("minilm-embeddings"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Invalid(format!(
                "eval: no *.jsonl file in {}",
                dir.display()
            )));
        }
        EvalCorpus::load_files(&files, &emb_dir)
    }

    /// Read the given JSONL files, each `NAME.jsonl` with its vectors
    /// `embeddings/NAME.npy` and, when present, ids `embeddings/NAME.ids.json`.
    pub fn load_files(files: &[PathBuf], emb_dir: &Path) -> Result<Self> {
        let mut papers = Vec::new();
        let mut vectors = Vec::new();
        let mut dim = 0;
        for file in files {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let these = read_jsonl(file)?;
            let npy_path = emb_dir.join(format!("{stem}.npy"));
            let m = npy::read(&npy_path)?;
            if m.rows != these.len() {
                return Err(Error::Input {
                    path: npy_path,
                    line: 1,
                    message: format!(
                        "{} vectors for {} papers in {}",
                        m.rows,
                        these.len(),
                        file.display()
                    ),
                });
            }
            if dim != 0 && m.cols != dim {
                return Err(Error::Input {
                    path: npy_path,
                    line: 1,
                    message: format!("vectors of dimension {}, earlier files have {dim}", m.cols),
                });
            }
            dim = m.cols;
            let ids_path = emb_dir.join(format!("{stem}.ids.json"));
            if ids_path.exists() {
                let text =
                    std::fs::read_to_string(&ids_path).map_err(|e| Error::io(&ids_path, e))?;
                let ids: Vec<String> = serde_json::from_str(&text).map_err(|e| Error::Input {
                    path: ids_path.clone(),
                    line: e.line() as u64,
                    message: e.to_string(),
                })?;
                if let Some(k) = (0..these.len().max(ids.len())).find(|&k| {
                    ids.get(k).map(|s| canonical_id(s)) != these.get(k).map(|p| p.id.clone())
                }) {
                    return Err(Error::Input {
                        path: ids_path,
                        line: 1,
                        message: format!(
                            "entry {k} is {:?} but line {} of {} is {:?}: vectors are not row-aligned",
                            ids.get(k),
                            k + 1,
                            file.display(),
                            these.get(k).map(|p| &p.id)
                        ),
                    });
                }
            }
            papers.extend(these);
            vectors.extend(m.data);
        }
        EvalCorpus::new(papers, vectors, dim)
    }

    /// The papers, sorted by listing date.
    pub fn papers(&self) -> &[Paper] {
        &self.papers
    }

    /// Row-major `[papers.len(), dim]` vectors.
    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The listing date of paper `i` (every paper has one, checked in [`EvalCorpus::new`]).
    pub fn listed(&self, i: usize) -> NaiveDate {
        self.papers[i].listed.unwrap_or(NaiveDate::MIN)
    }
}

/// Read our dated JSONL into `Paper`s (`summary` → abstract, `listing_date` → listed).
pub fn read_jsonl(path: &Path) -> Result<Vec<Paper>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Record = serde_json::from_str(&line).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: n as u64 + 1,
            message: e.to_string(),
        })?;
        let mut p = Paper::new(&r.id, r.title);
        p.abstract_text = r.summary;
        p.authors = r.authors;
        p.categories = r.categories;
        p.listed = Some(r.listing_date);
        p.source = "jsonl".into();
        out.push(p);
    }
    Ok(out)
}
