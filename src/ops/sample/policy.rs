//! The sampling policies: [`Bernoulli`] and [`EveryNth`].

use std::fmt;

use rand::SeedableRng;
use rand::distr::{Bernoulli as BernoulliDist, Distribution};
use rand::rngs::SmallRng;

use super::Keep;

/// Keeps each item independently with probability `rate`, drawn from rand's small fast RNG.
///
/// `rate` 0.0 keeps nothing, 1.0 keeps everything (exactly, with no draw). Built from a seed,
/// the same seed keeps the same items, run after run.
#[derive(Clone)]
pub struct Bernoulli {
    dist: BernoulliDist,
    rng: SmallRng,
    rate: f64,
}

impl Bernoulli {
    /// Seeded from the operating system's random source.
    ///
    /// # Panics
    ///
    /// If `rate` is outside [0, 1] or NaN.
    #[track_caller]
    pub fn new(rate: f64) -> Self {
        Self::with_rng(rate, rand::make_rng())
    }

    /// Seeded with `seed`: reproducible.
    ///
    /// # Panics
    ///
    /// If `rate` is outside [0, 1] or NaN.
    #[track_caller]
    pub fn seeded(rate: f64, seed: u64) -> Self {
        Self::with_rng(rate, SmallRng::seed_from_u64(seed))
    }

    #[track_caller]
    fn with_rng(rate: f64, rng: SmallRng) -> Self {
        let Ok(dist) = BernoulliDist::new(rate) else {
            panic!("sample: `rate` must be within [0, 1], got {rate}");
        };
        Bernoulli { dist, rng, rate }
    }

    /// The probability of keeping an item.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl fmt::Debug for Bernoulli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bernoulli")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl<T> Keep<T> for Bernoulli {
    #[inline]
    fn keep(&mut self, _item: &T) -> bool {
        self.dist.sample(&mut self.rng)
    }
}

/// Keeps the first item and then every `n`-th: items 0, n, 2n, ...
///
/// Deterministic and cheap, but it aliases with periodic input: on a stream that alternates
/// two sources, `EveryNth(2)` keeps only one of them. Prefer [`Bernoulli`] when the input may
/// be periodic.
#[derive(Debug, Clone)]
pub struct EveryNth {
    n: usize,
    // Items to skip before the next kept one.
    skip: usize,
}

impl EveryNth {
    /// Keeps 1 in `n`.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn new(n: usize) -> Self {
        assert!(n > 0, "sample_every: `n` must be at least 1, got 0");
        EveryNth { n, skip: 0 }
    }

    /// `n`.
    pub fn n(&self) -> usize {
        self.n
    }
}

impl<T> Keep<T> for EveryNth {
    #[inline]
    fn keep(&mut self, _item: &T) -> bool {
        if self.skip == 0 {
            self.skip = self.n - 1;
            true
        } else {
            self.skip -= 1;
            false
        }
    }
}
