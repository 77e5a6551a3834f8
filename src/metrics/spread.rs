//! Exact quantiles of a group's session lengths or gaps without sorting them all.
//!
//! A small group keeps its values and sorts them. A large one (a whole 10-million-session
//! project) counts its values into buckets that keep their order; the buckets holding the
//! wanted ranks are then filled in a second pass over the group, and only those few values
//! are sorted. Both give the same numbers as sorting everything.

use super::quantile;

/// Groups with more values than this are counted in buckets.
const KEEP_ALL_UP_TO: usize = 1 << 16;

/// Values below 256 have a bucket each; above, 256 buckets per power of two (about 0.4%
/// wide). Few enough buckets (57 KB of counts) to stay in the processor's cache.
const LINEAR_BITS: usize = 8;
const LINEAR: usize = 1 << LINEAR_BITS;
const BUCKETS: usize = LINEAR + (64 - LINEAR_BITS) * LINEAR;

/// The bucket of a value. Larger values never land in an earlier bucket, and every value
/// of zero or less shares the first one (the second pass sorts within it).
fn bucket(value: i64) -> usize {
    let Ok(v) = u64::try_from(value) else {
        return 0;
    };
    if v < LINEAR as u64 {
        return v as usize;
    }
    let exponent = 63 - v.leading_zeros() as usize; // LINEAR_BITS..=62
    let mantissa = ((v >> (exponent - LINEAR_BITS)) & (LINEAR as u64 - 1)) as usize;
    LINEAR + (exponent - LINEAR_BITS) * LINEAR + mantissa
}

/// The values of one group, on their way to quantiles.
pub(super) enum Spread {
    All(Vec<i64>),
    Counted {
        counts: Vec<u32>,
        /// How many values were counted; known once `plan` has run.
        len: usize,
        /// The buckets the wanted ranks fall in, with their values from the second pass.
        wanted: Vec<(usize, Vec<i64>)>,
    },
}

impl Spread {
    /// An empty spread for about `expected` values.
    pub(super) fn with_expected(expected: usize) -> Self {
        if expected <= KEEP_ALL_UP_TO {
            Self::All(Vec::with_capacity(expected))
        } else {
            Self::Counted {
                counts: vec![0; BUCKETS],
                len: 0,
                wanted: Vec::new(),
            }
        }
    }

    pub(super) fn add(&mut self, value: i64) {
        match self {
            Self::All(values) => values.push(value),
            Self::Counted { counts, .. } => counts[bucket(value)] += 1,
        }
    }

    /// Decides which buckets the quantiles `qs` need; true when a second pass over the
    /// same values must `gather` them.
    pub(super) fn plan(&mut self, qs: &[f64]) -> bool {
        match self {
            Self::All(values) => {
                values.sort_unstable();
                false
            }
            Self::Counted {
                counts,
                len,
                wanted,
            } => {
                *len = counts.iter().map(|&c| c as usize).sum();
                let mut buckets: Vec<usize> = qs
                    .iter()
                    .flat_map(|&q| ranks(*len, q).into_iter().flatten())
                    .filter_map(|rank| locate(counts, rank).map(|(b, _)| b))
                    .collect();
                buckets.sort_unstable();
                buckets.dedup();
                *wanted = buckets.into_iter().map(|b| (b, Vec::new())).collect();
                !wanted.is_empty()
            }
        }
    }

    /// An empty spread that gathers the same buckets as this planned one, for another
    /// thread's share of the second pass.
    pub(super) fn gathering(&self) -> Self {
        match self {
            Self::All(_) => Self::All(Vec::new()),
            Self::Counted { wanted, .. } => Self::Counted {
                counts: Vec::new(),
                len: 0,
                wanted: wanted.iter().map(|(b, _)| (*b, Vec::new())).collect(),
            },
        }
    }

    /// Adds the values or counts of another part of the same group (counted the same way).
    pub(super) fn absorb(&mut self, other: Self) {
        match (self, other) {
            (Self::All(values), Self::All(more)) => values.extend(more),
            (
                Self::Counted { counts, wanted, .. },
                Self::Counted {
                    counts: more_counts,
                    wanted: more_wanted,
                    ..
                },
            ) => {
                counts
                    .iter_mut()
                    .zip(more_counts)
                    .for_each(|(a, b)| *a += b);
                for ((_, values), (_, more)) in wanted.iter_mut().zip(more_wanted) {
                    values.extend(more);
                }
            }
            // Parts of one group are always counted the same way.
            _ => debug_assert!(false, "spreads of one group counted two ways"),
        }
    }

    /// The second pass: offers every value again.
    pub(super) fn gather(&mut self, value: i64) {
        if let Self::Counted { wanted, .. } = self {
            let b = bucket(value);
            if let Some((_, values)) = wanted.iter_mut().find(|(w, _)| *w == b) {
                values.push(value);
            }
        }
    }

    /// The q-quantile, interpolated as `metrics::quantile` does.
    pub(super) fn quantile(&mut self, q: f64) -> Option<f64> {
        match self {
            Self::All(values) => quantile(values, q),
            Self::Counted {
                counts,
                len,
                wanted,
            } => {
                for (_, values) in wanted.iter_mut() {
                    values.sort_unstable();
                }
                let at = |rank: usize| -> Option<f64> {
                    let (b, within) = locate(counts, rank)?;
                    let (_, values) = wanted.iter().find(|(w, _)| *w == b)?;
                    values.get(within).map(|&v| v as f64)
                };
                let [below, above] = ranks(*len, q)?;
                let (a, b) = (at(below)?, at(above)?);
                let position = q.clamp(0.0, 1.0) * (*len - 1) as f64;
                Some(a + (b - a) * (position - position.floor()))
            }
        }
    }
}

/// The two ranks a quantile interpolates between.
fn ranks(len: usize, q: f64) -> Option<[usize; 2]> {
    if len == 0 {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (len - 1) as f64;
    let below = position.floor() as usize;
    Some([below, (below + 1).min(len - 1)])
}

/// The bucket holding the value of a rank, and the rank within that bucket.
fn locate(counts: &[u32], rank: usize) -> Option<(usize, usize)> {
    let mut before = 0usize;
    for (b, &count) in counts.iter().enumerate() {
        let count = count as usize;
        if rank < before + count {
            return Some((b, rank - before));
        }
        before += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::Rng;

    #[test]
    fn buckets_keep_the_order_of_values() {
        let mut previous = 0;
        for v in (0..5000).chain((5000..1 << 40).step_by(1 << 27)) {
            let b = bucket(v);
            assert!(b >= previous, "bucket of {v} went back");
            assert!(b < BUCKETS);
            previous = b;
        }
        assert_eq!(bucket(-5), 0);
        assert!(bucket(i64::MAX) < BUCKETS);
    }

    #[test]
    fn counted_quantiles_equal_sorting_everything() {
        let mut rng = Rng::seeded(7);
        let values: Vec<i64> = (0..200_000)
            .map(|_| match rng.below(4) {
                0 => 60_000,                                         // many equal values
                1 => rng.below(5_000) as i64,                        // small ones
                _ => (rng.below(1 << 20) * rng.below(4_000)) as i64, // a long tail
            })
            .collect();
        let mut sorted = values.clone();
        sorted.sort_unstable();

        let mut spread = Spread::with_expected(values.len());
        assert!(matches!(spread, Spread::Counted { .. }));
        values.iter().for_each(|&v| spread.add(v));
        let qs = [0.0, 0.1, 0.5, 0.9, 0.999, 1.0];
        if spread.plan(&qs) {
            values.iter().for_each(|&v| spread.gather(v));
        }
        for q in qs {
            assert_eq!(spread.quantile(q), quantile(&sorted, q), "q = {q}");
        }
    }

    #[test]
    fn an_empty_spread_has_no_quantile() {
        let mut spread = Spread::with_expected(1 << 20);
        assert!(!spread.plan(&[0.5]));
        assert_eq!(spread.quantile(0.5), None);
    }
}
