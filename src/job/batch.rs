//! Cutting one window of tokenized texts into forward passes under a token budget.
//! Pure functions of the token lengths: no model, no I/O.

/// Split a window into batches. `lengths[i]` is the token count of text `i`.
///
/// Texts are taken longest first (ties in input order, so the plan is deterministic),
/// and each batch holds as many as fit in `batch_tokens` padded tokens (batch size ×
/// its longest text) and at most `max_batch_size` texts. A text longer than the whole
/// budget goes alone in its batch: that is the only way a batch exceeds the budget.
/// Every index of `lengths` appears in exactly one batch.
///
/// Sorting by length is what keeps padding low: a batch pads every text to its longest
/// one, so mixing a 10-token title with a 512-token abstract wastes 502 tokens of work.
pub fn plan_batches(
    lengths: &[usize],
    batch_tokens: usize,
    max_batch_size: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let max_batch_size = max_batch_size.max(1);
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        // Longest first, so the first text of a batch sets its padded length.
        let longest = lengths[order[start]].max(1);
        let fit = (batch_tokens / longest).clamp(1, max_batch_size);
        let end = (start + fit).min(order.len());
        batches.push(order[start..end].to_vec());
        start = end;
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::plan_batches;

    /// A small deterministic generator, so the test needs no extra crate.
    fn lengths(seed: u64, n: usize, max: usize) -> Vec<usize> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % (max as u64 + 1)) as usize
            })
            .collect()
    }

    #[test]
    fn every_text_once_and_budget_respected() {
        for seed in 1..40 {
            let lens = lengths(seed, (seed as usize * 7) % 300, 600);
            for (budget, max_size) in [(1, 64), (50, 64), (512, 8), (4096, 1), (8192, 64)] {
                let plan = plan_batches(&lens, budget, max_size);
                let mut seen = vec![0u32; lens.len()];
                for batch in &plan {
                    assert!(!batch.is_empty());
                    assert!(batch.len() <= max_size);
                    let longest = batch.iter().map(|&i| lens[i]).max().unwrap_or(0).max(1);
                    assert!(
                        batch.len() * longest <= budget || batch.len() == 1,
                        "batch of {} × {longest} tokens over budget {budget}",
                        batch.len()
                    );
                    for &i in batch {
                        seen[i] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&c| c == 1),
                    "some text missing or repeated"
                );
            }
        }
    }

    #[test]
    fn batches_are_full_when_texts_fit() {
        // 10 texts of 10 tokens under a 35-token budget: 3 + 3 + 3 + 1.
        let plan = plan_batches(&[10; 10], 35, 64);
        let sizes: Vec<usize> = plan.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        // Equal lengths keep input order.
        assert_eq!(plan[0], [0, 1, 2]);
    }

    #[test]
    fn longest_texts_go_first_and_over_long_ones_alone() {
        let plan = plan_batches(&[3, 100, 5, 3], 20, 64);
        assert_eq!(
            plan[0],
            [1],
            "a 100-token text over a 20-token budget goes alone"
        );
        assert_eq!(plan[1], [2, 0, 3]);
    }

    #[test]
    fn empty_window_and_empty_texts() {
        assert!(plan_batches(&[], 100, 8).is_empty());
        // Zero-token texts count as one token, so they do not all pile into one batch.
        let plan = plan_batches(&[0; 10], 4, 64);
        assert_eq!(plan.len(), 3);
    }
}
