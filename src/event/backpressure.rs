//! Backpressure for event streams, chosen at run time.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::Event;
use crate::StreamOps;
use crate::adapters::RingBuffer;
use crate::adapters::{AdaptiveRates, Bernoulli, Sample, Sampler};
use crate::{BackpressureStats, StatsHandle};

/// What to do when the consumer is slower than the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackpressureStrategy {
    /// Keep the newest `buffer_size` events, evicting the oldest.
    DropOldest,
    /// Keep the oldest `buffer_size` events, discarding new ones.
    DropNewest,
    /// Keep each event with probability `sample_rate`.
    Sample,
}

/// A strategy and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackpressureConfig {
    /// The strategy.
    pub strategy: BackpressureStrategy,
    /// Ring size for the dropping strategies.
    pub buffer_size: usize,
    /// Keep-rate for [`BackpressureStrategy::Sample`], in [0, 1].
    pub sample_rate: f64,
}

/// Applies `config` to `stream`; returns the protected stream and its counters.
///
/// `DropOldest` and `DropNewest` put a ring buffer of `buffer_size` events in front of the
/// consumer ([`drop_oldest`](crate::StreamOps::drop_oldest),
/// [`drop_newest`](crate::StreamOps::drop_newest)); `Sample` keeps each event with probability
/// `sample_rate` ([`sample`](crate::StreamOps::sample)). The counters are the operator's own.
///
/// # Panics
///
/// As the underlying operator: a zero `buffer_size`, or a `sample_rate` outside [0, 1].
#[track_caller]
pub fn apply_backpressure<S>(
    stream: S,
    config: BackpressureConfig,
) -> (impl Stream<Item = Event>, StatsHandle)
where
    S: Stream<Item = Event>,
{
    let protected = match config.strategy {
        BackpressureStrategy::DropOldest => Protected::Buffer {
            buffer: stream.drop_oldest(config.buffer_size),
        },
        BackpressureStrategy::DropNewest => Protected::Buffer {
            buffer: stream.drop_newest(config.buffer_size),
        },
        BackpressureStrategy::Sample => Protected::Sample {
            sample: stream.sample(config.sample_rate),
        },
    };
    let stats = match &protected {
        Protected::Buffer { buffer } => buffer.stats(),
        Protected::Sample { sample } => sample.stats(),
    };
    (protected, stats)
}

pin_project! {
    /// The stream [`apply_backpressure`] returns: one of the operators a strategy picks.
    #[project = ProtectedProj]
    enum Protected<S: Stream> {
        Buffer { #[pin] buffer: RingBuffer<S> },
        Sample { #[pin] sample: Sample<S, Bernoulli> },
    }
}

impl<S: Stream> Stream for Protected<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        match self.project() {
            ProtectedProj::Buffer { buffer } => buffer.poll_next(cx),
            ProtectedProj::Sample { sample } => sample.poll_next(cx),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Protected::Buffer { buffer } => buffer.size_hint(),
            Protected::Sample { sample } => sample.size_hint(),
        }
    }
}

thread_local! {
    /// The thread's sampler for [`should_sample`]: the one `sample` uses, set to the rate of
    /// each call.
    static SAMPLER: RefCell<Bernoulli> = RefCell::new(Bernoulli::new(1.0));
}

/// `true` with probability `rate` (clamped to [0, 1]; NaN never samples): one decision of the
/// [`Bernoulli`] sampler behind [`StreamOps::sample`](crate::StreamOps::sample), kept per thread.
pub fn should_sample(rate: f64) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    SAMPLER.with(|sampler| {
        let mut sampler = sampler.borrow_mut();
        if sampler.rate() != rate {
            sampler.set_rate(rate);
        }
        Sampler::<()>::keep(&mut *sampler, &())
    })
}

/// The keep-rate for a queue holding `queue_len` of `capacity`: the default thresholds of the
/// adaptive sampler ([`AdaptiveRates`]), 1.0 below half full, 0.5 below 80%, else 0.1 (a
/// zero capacity counts as full).
pub fn adaptive_sample_rate(queue_len: usize, capacity: usize) -> f64 {
    let fill = if capacity == 0 {
        1.0
    } else {
        queue_len as f64 / capacity as f64
    };
    AdaptiveRates::default().rate_for(fill)
}

impl BackpressureStats {
    /// `"Received: R, Processed: P, Dropped: D (X.X% drop rate)"`: the course project's name
    /// for the counters' [`Display`](std::fmt::Display).
    ///
    /// ```
    /// use weir::BackpressureStats;
    ///
    /// let stats = BackpressureStats::new();
    /// stats.record_received(4);
    /// stats.record_dropped(1);
    /// stats.record_processed(3);
    /// assert_eq!(stats.get_report(), "Received: 4, Processed: 3, Dropped: 1 (25.0% drop rate)");
    /// ```
    pub fn get_report(&self) -> String {
        self.to_string()
    }
}

/// Prints `stats.get_report()` every second, forever: spawn it and abort it when done.
pub async fn monitor_backpressure(stats: StatsHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        println!("backpressure: {}", stats.get_report());
    }
}

/// Lets a seeded generator stand in for the thread's, for reproducible tests.
#[cfg(test)]
pub(crate) fn seed_should_sample(seed: u64) {
    SAMPLER.with(|sampler| *sampler.borrow_mut() = Bernoulli::seeded(1.0, seed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_rates() {
        assert_eq!(adaptive_sample_rate(0, 100), 1.0);
        assert_eq!(adaptive_sample_rate(49, 100), 1.0);
        assert_eq!(adaptive_sample_rate(50, 100), 0.5);
        assert_eq!(adaptive_sample_rate(79, 100), 0.5);
        assert_eq!(adaptive_sample_rate(80, 100), 0.1);
        assert_eq!(adaptive_sample_rate(0, 0), 0.1);
        assert!(!should_sample(0.0) && !should_sample(f64::NAN) && should_sample(1.0));
        seed_should_sample(7);
        let kept = (0..10_000).filter(|_| should_sample(0.5)).count();
        assert!((4_500..=5_500).contains(&kept), "{kept}");
    }

    #[test]
    fn should_sample_decides_as_the_sample_operator_does() {
        // Per-item draws and gap draws: the same decisions as a sampler seeded alike.
        for rate in [0.3, 0.01] {
            seed_should_sample(11);
            let mut sampler = Bernoulli::seeded(rate, 11);
            let ours: Vec<bool> = (0..2_000).map(|_| should_sample(rate)).collect();
            let operator: Vec<bool> = (0..2_000).map(|_| sampler.keep(&())).collect();
            assert_eq!(ours, operator, "rate {rate}");
            assert!(ours.contains(&true) && ours.contains(&false));
        }
    }
}
