//! Progress of a running job: a bar on a terminal (texts/s, tokens/s, ETA), plain
//! `tracing` lines every few seconds otherwise, nothing when switched off.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often progress is logged when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    started: Instant,
    last_log: Instant,
    /// Records already done before this run (resumed from a checkpoint).
    base: u64,
    texts: u64,
    tokens: u64,
    total: Option<u64>,
    /// What is counted: `texts` for an embed job, `papers` for an ingest.
    noun: &'static str,
}

impl Progress {
    /// `enabled` false shows nothing. `total` counts every record of the input,
    /// including the `base` ones a checkpoint already holds.
    pub fn new(enabled: bool, total: Option<u64>, base: u64) -> Self {
        let now = Instant::now();
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                        .with_style(style(
                        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg}",
                    ))
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(style("{spinner} [{elapsed_precise}] {human_pos} {msg}")),
            };
            bar.set_position(base);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            log: enabled && bar.is_none(),
            bar,
            started: now,
            last_log: now,
            base,
            texts: 0,
            tokens: 0,
            total,
            noun: "texts",
        }
    }

    /// Progress of an ingest: papers (read, embedded when new, committed) out of
    /// `total`, at papers/s with an ETA; no token rate (ingest embeds only new text).
    pub fn papers(enabled: bool, total: Option<u64>) -> Self {
        Progress {
            noun: "papers",
            ..Progress::new(enabled, total, 0)
        }
    }

    /// `texts` more texts of `tokens` tokens are embedded.
    pub fn add(&mut self, texts: u64, tokens: u64) {
        self.texts += texts;
        self.tokens += tokens;
        let elapsed = self.started.elapsed();
        let message = if self.noun == "texts" {
            rates(self.texts, self.tokens, elapsed, self.remaining())
        } else {
            record_rate(self.texts, self.noun, elapsed, self.remaining())
        };
        if let Some(bar) = &self.bar {
            bar.set_position(self.base + self.texts);
            bar.set_message(message);
        } else if self.log && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            match self.total {
                Some(total) => tracing::info!(
                    "{} {} of {total} {}: {message}",
                    self.verb(),
                    self.base + self.texts,
                    self.noun
                ),
                None => tracing::info!(
                    "{} {} {}: {message}",
                    self.verb(),
                    self.base + self.texts,
                    self.noun
                ),
            }
        }
    }

    fn verb(&self) -> &'static str {
        if self.noun == "texts" {
            "embedded"
        } else {
            "ingested"
        }
    }

    fn remaining(&self) -> Option<u64> {
        self.total.map(|t| t.saturating_sub(self.base + self.texts))
    }

    /// Remove the bar (the caller logs the summary).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one falls back to the default
    // style rather than failing a job.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// `"812 texts/s, 40.1k tokens/s, ETA 3m 12s"`: rates over this run so far; the ETA
/// when the number of texts still to do is known and a rate exists.
pub(crate) fn rates(texts: u64, tokens: u64, elapsed: Duration, remaining: Option<u64>) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let texts_per_s = texts as f64 / secs;
    let mut s = format!(
        "{} texts/s, {} tokens/s",
        human(texts_per_s),
        human(tokens as f64 / secs)
    );
    if let Some(remaining) = remaining {
        if texts_per_s > 0.0 {
            s.push_str(", ETA ");
            s.push_str(&duration((remaining as f64 / texts_per_s).round() as u64));
        }
    }
    s
}

/// `"12 papers/s, ETA 3m 12s"`.
fn record_rate(done: u64, noun: &str, elapsed: Duration, remaining: Option<u64>) -> String {
    let per_s = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut s = format!("{} {noun}/s", human(per_s));
    if let (Some(remaining), true) = (remaining, per_s > 0.0) {
        s.push_str(", ETA ");
        s.push_str(&duration((remaining as f64 / per_s).round() as u64));
    }
    s
}

fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_eta() {
        let s = rates(1000, 50_000, Duration::from_secs(10), Some(6000));
        assert_eq!(s, "100 texts/s, 5.0k tokens/s, ETA 1m 00s");
        let s = rates(0, 0, Duration::from_secs(1), Some(10));
        assert_eq!(s, "0 texts/s, 0 tokens/s", "no ETA without a rate");
        let s = rates(2_000_000, 0, Duration::from_secs(1), None);
        assert_eq!(s, "2.0M texts/s, 0 tokens/s");
        assert_eq!(duration(3 * 3600 + 5 * 60 + 7), "3h 05m");
    }
}
