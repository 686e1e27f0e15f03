//! [`Stats`]: what `paperscout library stats` prints, as one serialisable struct
//! computed from an opened library.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Serialize;

use super::store::Library;
use super::ModelInfo;

/// How many categories [`Stats::categories`] lists.
pub const TOP_CATEGORIES: usize = 10;

/// A summary of a library. Serialised as JSON by `library stats --format json`; the key
/// `papers` is the number of distinct papers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub path: PathBuf,
    pub format_version: u32,
    /// Distinct papers.
    pub papers: usize,
    pub listing_days: ListingDays,
    pub categories: Categories,
    pub model: ModelInfo,
    /// Vector dimension.
    pub dimension: usize,
    pub index: IndexStats,
    /// Bytes of every file in the library directory.
    pub disk_bytes: u64,
}

/// The days papers were first listed on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingDays {
    /// Distinct listing days.
    pub count: usize,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    /// Papers without a listing day.
    pub papers_without: usize,
}

/// arXiv categories over all papers, cross-lists included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Categories {
    /// Distinct categories.
    pub count: usize,
    /// The most frequent ones, most papers first (ties by name).
    pub top: Vec<CategoryCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryCount {
    pub name: String,
    /// Papers listing this category, as primary or cross-list.
    pub papers: usize,
}

/// The HNSW graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexStats {
    /// Rows searched: one per vector row (in the graph, or committed after its dump and
    /// scanned exactly until a writer inserts them).
    pub points: usize,
    /// Points of re-embedded papers: in the graph, never returned (until compaction).
    pub tombstones: usize,
    /// Points covered by the last dump on disk (the rest are inserted at open).
    pub dumped_points: usize,
    pub max_nb_connection: usize,
    pub ef_construction: usize,
}

impl Library {
    /// Summary statistics (reads the directory listing for `disk_bytes`). O(library):
    /// the category counts parse every record of the papers log (without keeping them;
    /// the listing days come from the papers index).
    pub fn stats(&self) -> Stats {
        let mut days = BTreeSet::new();
        let mut without = 0;
        for d in self.listing_days() {
            match d {
                Some(d) => {
                    days.insert(d);
                }
                None => without += 1,
            }
        }
        let mut cats: HashMap<String, usize> = HashMap::new();
        for k in 0..self.len() {
            self.with_paper(k, |p| {
                // A category listed twice on one paper counts once.
                let mut seen = BTreeSet::new();
                for c in &p.categories {
                    if seen.insert(c.as_str()) {
                        match cats.get_mut(c.as_str()) {
                            Some(n) => *n += 1,
                            None => {
                                cats.insert(c.clone(), 1);
                            }
                        }
                    }
                }
            });
        }
        let mut top: Vec<CategoryCount> = cats
            .iter()
            .map(|(name, &papers)| CategoryCount {
                name: name.to_string(),
                papers,
            })
            .collect();
        top.sort_by(|a, b| b.papers.cmp(&a.papers).then_with(|| a.name.cmp(&b.name)));
        top.truncate(TOP_CATEGORIES);
        let disk_bytes = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let m = &self.manifest;
        Stats {
            path: self.dir.clone(),
            format_version: m.format_version,
            papers: self.len(),
            listing_days: ListingDays {
                count: days.len(),
                first: days.first().copied(),
                last: days.last().copied(),
                papers_without: without,
            },
            categories: Categories {
                count: cats.len(),
                top,
            },
            model: m.model.clone(),
            dimension: self.dimension(),
            index: IndexStats {
                // Every row is searched: the graph's, and those committed after it.
                points: self.rows(),
                tombstones: self.rows() - self.len(),
                dumped_points: m.index_dump.as_ref().map_or(0, |d| d.points),
                max_nb_connection: m.index.max_nb_connection,
                ef_construction: m.index.ef_construction,
            },
            disk_bytes,
        }
    }
}

impl fmt::Display for Stats {
    /// The human-readable form: one fact a line, each ending in a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = |d: Option<NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
        writeln!(f, "library      {}", self.path.display())?;
        writeln!(f, "papers       {}", self.papers)?;
        writeln!(
            f,
            "listing days {} ({} .. {}){}",
            self.listing_days.count,
            day(self.listing_days.first),
            day(self.listing_days.last),
            match self.listing_days.papers_without {
                0 => String::new(),
                n => format!(", {n} papers without one"),
            }
        )?;
        let top: Vec<String> = self
            .categories
            .top
            .iter()
            .map(|c| format!("{} {}", c.name, c.papers))
            .collect();
        writeln!(
            f,
            "categories   {} (top: {})",
            self.categories.count,
            top.join(", ")
        )?;
        writeln!(f, "model        {}", self.model)?;
        writeln!(
            f,
            "index        {} points, {} tombstones, {} in the dump (M={}, ef_construction={})",
            self.index.points,
            self.index.tombstones,
            self.index.dumped_points,
            self.index.max_nb_connection,
            self.index.ef_construction
        )?;
        writeln!(
            f,
            "on disk      {:.1} MiB (format version {})",
            self.disk_bytes as f64 / (1 << 20) as f64,
            self.format_version
        )
    }
}
