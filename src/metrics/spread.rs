//! Exact quantiles of a group's session lengths or gaps without sorting them all.
//!
//! A small group keeps its values and sorts them. A large one (a whole 10-million-session
//! project) counts its values into buckets that keep their order; the buckets holding the
//! wanted ranks are then filled in a second pass over the group, and only those few values
//! are sorted. Both give the same numbers as sorting everything.

use super::quantile;

/// Groups with more values than this are counted in buckets.
const KEEP_ALL_UP_TO: usize = 1 << 16;

/// Values below 64 have a bucket each; above, 64 buckets per power of two (about 1.6%
/// wide). Few enough buckets (15 KB of counts) that a report of forty campaigns, two
/// spreads each, stays in the processor's cache.
const LINEAR_BITS: usize = 6;
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
        /// The cuts `at_most` will be asked for, in bucket order, with how many values of
        /// their bucket the second pass found at or below them.
        cuts: Vec<Cut>,
        /// By bucket: whether the second pass wants its values (most buckets are not
        /// wanted, and a table says so faster than searching `wanted` and `cuts`).
        of_interest: Vec<bool>,
    },
}

/// A value to count up to, in a bucket of counted values.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cut {
    bucket: usize,
    value: i64,
    within: u64,
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
                cuts: Vec::new(),
                of_interest: Vec::new(),
            }
        }
    }

    pub(super) fn add(&mut self, value: i64) {
        match self {
            Self::All(values) => values.push(value),
            Self::Counted { counts, .. } => counts[bucket(value)] += 1,
        }
    }

    /// Decides which buckets the quantiles `qs` and the counts `at_most(cut)` need; true
    /// when a second pass over the same values must `gather` them.
    pub(super) fn plan(&mut self, qs: &[f64], cuts: &[i64]) -> bool {
        match self {
            Self::All(values) => {
                values.sort_unstable();
                false
            }
            Self::Counted {
                counts,
                len,
                wanted,
                cuts: planned,
                of_interest,
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
                // A cut whose bucket is empty needs nothing from the second pass.
                *planned = cuts
                    .iter()
                    .map(|&value| Cut {
                        bucket: bucket(value),
                        value,
                        within: 0,
                    })
                    .filter(|cut| counts[cut.bucket] > 0)
                    .collect();
                planned.sort_by_key(|cut| cut.bucket);
                *of_interest = vec![false; BUCKETS];
                for b in wanted
                    .iter()
                    .map(|w| w.0)
                    .chain(planned.iter().map(|c| c.bucket))
                {
                    of_interest[b] = true;
                }
                !wanted.is_empty() || !planned.is_empty()
            }
        }
    }

    /// How many values there are.
    pub(super) fn len(&self) -> u64 {
        match self {
            Self::All(values) => values.len() as u64,
            Self::Counted { counts, .. } => counts.iter().map(|&c| u64::from(c)).sum(),
        }
    }

    /// How many values are at most `cut`, once planned (and gathered) with that cut.
    pub(super) fn at_most(&self, cut: i64) -> u64 {
        match self {
            Self::All(values) => values.partition_point(|&v| v <= cut) as u64,
            Self::Counted { counts, cuts, .. } => {
                let b = bucket(cut);
                let below: u64 = counts[..b].iter().map(|&c| u64::from(c)).sum();
                let within = cuts.iter().find(|c| c.value == cut).map_or(0, |c| c.within);
                below + within
            }
        }
    }

    /// An empty spread that gathers the same buckets as this planned one, for another
    /// thread's share of the second pass.
    pub(super) fn gathering(&self) -> Self {
        match self {
            Self::All(_) => Self::All(Vec::new()),
            Self::Counted {
                wanted,
                cuts,
                of_interest,
                ..
            } => Self::Counted {
                counts: Vec::new(),
                len: 0,
                wanted: wanted.iter().map(|(b, _)| (*b, Vec::new())).collect(),
                cuts: cuts.iter().map(|&cut| Cut { within: 0, ..cut }).collect(),
                of_interest: of_interest.clone(),
            },
        }
    }

    /// Adds the values or counts of another part of the same group (counted the same way).
    pub(super) fn absorb(&mut self, other: Self) {
        match (self, other) {
            (Self::All(values), Self::All(more)) => values.extend(more),
            (
                Self::Counted {
                    counts,
                    wanted,
                    cuts,
                    ..
                },
                Self::Counted {
                    counts: more_counts,
                    wanted: more_wanted,
                    cuts: more_cuts,
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
                for (cut, more) in cuts.iter_mut().zip(more_cuts) {
                    cut.within += more.within;
                }
            }
            // Parts of one group are always counted the same way.
            _ => debug_assert!(false, "spreads of one group counted two ways"),
        }
    }

    /// The second pass: offers every value again.
    pub(super) fn gather(&mut self, value: i64) {
        if let Self::Counted {
            wanted,
            cuts,
            of_interest,
            ..
        } = self
        {
            let b = bucket(value);
            if !of_interest[b] {
                return;
            }
            // `plan` leaves the wanted buckets and the cuts in bucket order.
            if let Ok(i) = wanted.binary_search_by_key(&b, |(w, _)| *w) {
                wanted[i].1.push(value);
            }
            let first = cuts.partition_point(|cut| cut.bucket < b);
            for cut in cuts[first..].iter_mut().take_while(|cut| cut.bucket == b) {
                cut.within += u64::from(value <= cut.value);
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
                ..
            } => {
                for (_, values) in wanted.iter_mut() {
                    values.sort_unstable();
                }
                let at = |rank: usize| -> Option<f64> {
                    let (b, within) = locate(counts, rank)?;
                    let i = wanted.binary_search_by_key(&b, |(w, _)| *w).ok()?;
                    let values = &wanted[i].1;
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
        let cuts = [-1, 0, 4_999, 60_000, 60_001, 1 << 30, i64::MAX];
        if spread.plan(&qs, &cuts) {
            values.iter().for_each(|&v| spread.gather(v));
        }
        for cut in cuts {
            let expected = sorted.partition_point(|&v| v <= cut) as u64;
            assert_eq!(spread.at_most(cut), expected, "cut = {cut}");
        }
        for q in qs {
            assert_eq!(spread.quantile(q), quantile(&sorted, q), "q = {q}");
        }
    }

    #[test]
    fn an_empty_spread_has_no_quantile() {
        let mut spread = Spread::with_expected(1 << 20);
        assert!(!spread.plan(&[0.5], &[10]));
        assert_eq!(spread.at_most(10), 0);
        assert_eq!(spread.quantile(0.5), None);
    }
}
