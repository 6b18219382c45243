//! The sampling policies: [`Bernoulli`], [`EveryNth`] and [`Adaptive`].

use std::fmt;

use rand::distr::{Bernoulli as BernoulliDist, Distribution};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::Sampler;

/// Keeps each item independently with probability `rate`, drawn from rand's small fast RNG.
///
/// `rate` 0.0 keeps nothing, 1.0 keeps everything (exactly, with no draw). Built from a seed,
/// the same seed keeps the same items, run after run.
///
/// # Draws
///
/// At a rate from 1/32 up to 1 (not included), each item takes one draw: a random `u64`
/// against `rate * 2^64`, the draw of rand's `Bernoulli`, so a seed keeps the same items with
/// either. Below 1/32, most items are dropped, and the sampler instead draws the number of
/// items to drop before the next kept one, `G = floor(ln U / ln(1 - rate))` for `U` uniform
/// in (0, 1]: then `P(G >= k) = (1 - rate)^k`, the law of the gaps between kept items when
/// each is kept independently with probability `rate` (a geometric law). A dropped item then
/// costs a decrement, and the draw, its logarithm and a division are paid once per kept item;
/// together they cost as much as a few dozen draws per item, so the gaps pay only when fewer
/// than about 1 in 32 items are kept. Both ways keep each item independently with probability
/// `rate`; `tests/backpressure.rs` checks the keep rate and the law of the gaps between kept
/// items, and between dropped ones, with a chi-square test at rates on both sides.
#[derive(Clone)]
pub struct Bernoulli {
    rng: SmallRng,
    rate: f64,
    /// Whether each item takes a draw (a rate from `GAP_BELOW` up to, not including, 1).
    per_item: bool,
    /// Per item: keep when a random `u64` is below this, `rate * 2^64` (rand's `Bernoulli`).
    threshold: u64,
    /// Drawing gaps: `ln(1 - rate)`, negative (0 at rate 0).
    ln_miss: f64,
    /// Drawing gaps: items to drop before the next kept one.
    skip: u64,
}

/// Below this rate, [`Bernoulli`] draws the gaps between kept items rather than one draw per
/// item.
const GAP_BELOW: f64 = 1.0 / 32.0;

/// 2^64, exactly, as rand's `Bernoulli` scales a probability to a `u64` threshold.
const TWO_TO_THE_64: f64 = 18_446_744_073_709_551_616.0;

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
        let mut sampler = Bernoulli {
            rng,
            rate: 1.0,
            per_item: false,
            threshold: 0,
            ln_miss: 0.0,
            skip: 0,
        };
        sampler.set_rate(rate);
        sampler
    }

    /// Keeps each item from now on with probability `rate`, drawing from the same generator.
    ///
    /// # Panics
    ///
    /// If `rate` is outside [0, 1] or NaN.
    #[track_caller]
    pub(crate) fn set_rate(&mut self, rate: f64) {
        if BernoulliDist::new(rate).is_err() {
            panic!("sample: `rate` must be within [0, 1], got {rate}");
        }
        self.rate = rate;
        self.per_item = (GAP_BELOW..1.0).contains(&rate);
        // `as` saturates; unused at a rate of 1, which keeps every item without a draw.
        self.threshold = (rate * TWO_TO_THE_64) as u64;
        self.ln_miss = (-rate).ln_1p();
        self.skip = if rate < GAP_BELOW { self.gap() } else { 0 };
    }

    /// The number of items to drop before the next kept one (a rate below `GAP_BELOW`, or 1).
    fn gap(&mut self) -> u64 {
        if self.rate <= 0.0 {
            return u64::MAX;
        }
        if self.rate >= 1.0 {
            return 0;
        }
        // In (0, 1]: `random` is in [0, 1).
        let u = 1.0 - self.rng.random::<f64>();
        // `as` saturates: a gap beyond u64::MAX (a tiny rate) drops everything after.
        (u.ln() / self.ln_miss).floor() as u64
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

impl<T> Sampler<T> for Bernoulli {
    #[inline]
    fn keep(&mut self, _item: &T) -> bool {
        if self.per_item {
            return self.rng.random::<u64>() < self.threshold;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        if self.rate <= 0.0 {
            // A rate of 0 keeps nothing, whatever the number of items.
            self.skip = u64::MAX;
            return false;
        }
        self.skip = self.gap();
        true
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

impl<T> Sampler<T> for EveryNth {
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

/// The load levels and keep-rates of an [`Adaptive`] sampler.
///
/// Load below `low_load`: keep everything. From `low_load` to below `high_load`: keep with
/// probability `mid_rate`. From `high_load` up (and for a NaN load, which is taken as the
/// worst case): keep with probability `high_rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveRates {
    /// Where dropping starts (default 0.5).
    pub low_load: f64,
    /// Where heavy dropping starts (default 0.8).
    pub high_load: f64,
    /// The keep-rate between the two (default 0.5).
    pub mid_rate: f64,
    /// The keep-rate above `high_load` (default 0.1).
    pub high_rate: f64,
}

impl AdaptiveRates {
    /// The keep-rate at `load`: 1.0 below `low_load`, `mid_rate` below `high_load`,
    /// `high_rate` from there up and for a NaN load.
    pub fn rate_for(&self, load: f64) -> f64 {
        self.rate_of(self.level(load))
    }

    fn rate_of(&self, level: Level) -> f64 {
        match level {
            Level::Low => 1.0,
            Level::Mid => self.mid_rate,
            Level::High => self.high_rate,
        }
    }

    fn level(&self, load: f64) -> Level {
        if load < self.low_load {
            Level::Low
        } else if load < self.high_load {
            Level::Mid
        } else {
            Level::High
        }
    }
}

/// Which of the three rates of [`AdaptiveRates`] a load calls for.
#[derive(Clone, Copy)]
enum Level {
    Low,
    Mid,
    High,
}

impl Default for AdaptiveRates {
    fn default() -> Self {
        AdaptiveRates {
            low_load: 0.5,
            high_load: 0.8,
            mid_rate: 0.5,
            high_rate: 0.1,
        }
    }
}

/// Keeps items at a rate that follows a load gauge in [0, 1], such as a
/// [`RingReceiver::fill_ratio`](crate::channel::RingReceiver::fill_ratio): the fuller the
/// consumer's queue, the fewer items pass. The gauge is read once per item.
pub struct Adaptive<G> {
    gauge: G,
    rates: AdaptiveRates,
    mid: BernoulliDist,
    high: BernoulliDist,
    rng: SmallRng,
    last_rate: f64,
}

impl<G: FnMut() -> f64> Adaptive<G> {
    /// An adaptive sampler reading `gauge`, seeded from the operating system.
    ///
    /// # Panics
    ///
    /// If a rate is outside [0, 1] or NaN, or the loads are not `0 <= low_load <= high_load
    /// <= 1`.
    #[track_caller]
    pub fn new(gauge: G, rates: AdaptiveRates) -> Self {
        Self::with_rng(gauge, rates, rand::make_rng())
    }

    /// Like [`new`](Self::new), seeded with `seed`: reproducible for a reproducible gauge.
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn seeded(gauge: G, rates: AdaptiveRates, seed: u64) -> Self {
        Self::with_rng(gauge, rates, SmallRng::seed_from_u64(seed))
    }

    #[track_caller]
    fn with_rng(gauge: G, rates: AdaptiveRates, rng: SmallRng) -> Self {
        let AdaptiveRates {
            low_load,
            high_load,
            mid_rate,
            high_rate,
        } = rates;
        assert!(
            (0.0..=high_load).contains(&low_load) && high_load <= 1.0,
            "sample_adaptive: need 0 <= `low_load` <= `high_load` <= 1, got {low_load} and {high_load}"
        );
        let dist = |name: &str, rate: f64| match BernoulliDist::new(rate) {
            Ok(dist) => dist,
            Err(_) => panic!("sample_adaptive: `{name}` must be within [0, 1], got {rate}"),
        };
        Adaptive {
            gauge,
            rates,
            mid: dist("mid_rate", mid_rate),
            high: dist("high_rate", high_rate),
            rng,
            last_rate: 1.0,
        }
    }

    /// The keep-rate applied to the last item (1.0 before the first).
    pub fn last_rate(&self) -> f64 {
        self.last_rate
    }
}

impl<G> fmt::Debug for Adaptive<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adaptive")
            .field("rates", &self.rates)
            .field("last_rate", &self.last_rate)
            .finish_non_exhaustive()
    }
}

impl<T, G: FnMut() -> f64> Sampler<T> for Adaptive<G> {
    fn keep(&mut self, _item: &T) -> bool {
        let level = self.rates.level((self.gauge)());
        self.last_rate = self.rates.rate_of(level);
        match level {
            Level::Low => true,
            Level::Mid => self.mid.sample(&mut self.rng),
            Level::High => self.high.sample(&mut self.rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-item draw is rand's `Bernoulli`'s, written out: for the same seed, the same
    /// items are kept.
    #[test]
    fn a_draw_per_item_keeps_what_rands_bernoulli_keeps() {
        for rate in [GAP_BELOW, 0.3, 0.5, 0.9, 1.0 - f64::EPSILON] {
            let mut ours = Bernoulli::seeded(rate, 7);
            let mut rng = SmallRng::seed_from_u64(7);
            let rands = BernoulliDist::new(rate).unwrap();
            for i in 0..10_000 {
                let kept = Sampler::<()>::keep(&mut ours, &());
                assert_eq!(kept, rands.sample(&mut rng), "rate {rate}, draw {i}");
            }
        }
    }
}
