//! [`Sample`]: keeps some items and drops (and counts) the rest, as a [`Sampler`] policy decides.
//!
//! Policies: [`Bernoulli`] (each item with probability `rate`; seeded for reproducible runs),
//! [`EveryNth`] (deterministic 1 in n) and [`Adaptive`] (a rate that follows a load gauge). One
//! stream type runs all of them, so every sampler shares the same loop, budget and accounting;
//! a policy of your own plugs in through [`StreamOps::sample_with`](crate::StreamOps::sample_with).
//!
//! [`SampleLatest`] is the time-based sampler: the most recent item of each interval.

mod latest;
mod policy;

pub use latest::SampleLatest;
pub use policy::{Adaptive, AdaptiveRates, Bernoulli, EveryNth};

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::poll::poll_select;
use crate::stats::{Counters, StatsHandle, Tally};

/// A sampling decision, made once per item, in order.
pub trait Sampler<T> {
    /// Whether to keep `item`.
    fn keep(&mut self, item: &T) -> bool;
}

pin_project! {
    /// Stream for [`StreamOps::sample`](crate::StreamOps::sample),
    /// [`StreamOps::sample_seeded`](crate::StreamOps::sample_seeded),
    /// [`StreamOps::sample_every`](crate::StreamOps::sample_every),
    /// [`StreamOps::sample_adaptive`](crate::StreamOps::sample_adaptive) and
    /// [`StreamOps::sample_with`](crate::StreamOps::sample_with).
    ///
    /// # State machine
    ///
    /// Like [`Filter`](crate::adapters::Filter): a loop inside each poll takes an item from the upstream
    /// and yields it if the policy keeps it; a dropped item is counted in
    /// [`stats`](Self::stats) (`received == processed + dropped`, exactly, between polls). The
    /// loop ends at a kept item, the upstream's `Pending` or end, or the budget.
    ///
    /// # Wake-up contract
    ///
    /// After [`POLL_BUDGET`](crate::POLL_BUDGET) dropped items in one poll, the sampler wakes its own task and
    /// returns `Pending`. Any other `Pending` is the upstream's.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/sample_every.txt")]
    /// ```
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/sample.txt")]
    /// ```
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/sample_adaptive.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let every_third = weir::iter(0..10).sample_every(3);
    /// let stats = every_third.stats();
    /// assert_eq!(every_third.collect::<Vec<_>>().await, [0, 3, 6, 9]);
    /// assert_eq!(stats.to_string(), "Received: 10, Processed: 4, Dropped: 6 (60.0% drop rate)");
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Sample<St, K> {
        #[pin]
        stream: Fuse<St>,
        policy: K,
        counters: Counters,
    }
}

impl<St: fmt::Debug, K: fmt::Debug> fmt::Debug for Sample<St, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sample")
            .field("stream", &self.stream)
            .field("policy", &self.policy)
            .field("counters", &self.counters)
            .finish()
    }
}

impl<St, K> Sample<St, K> {
    pub(crate) fn new(stream: St, policy: K) -> Self {
        Sample {
            stream: Fuse::new(stream),
            policy,
            counters: Counters::new(),
        }
    }

    /// A handle to this sampler's counters.
    pub fn stats(&self) -> StatsHandle {
        self.counters.handle()
    }

    /// The sampling policy.
    pub fn policy(&self) -> &K {
        &self.policy
    }

    upstream_accessors!();
}

impl<St: Stream, K: Sampler<St::Item>> FusedStream for Sample<St, K> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St: Stream, K: Sampler<St::Item>> Stream for Sample<St, K> {
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.project();
        let (upstream, done) = this.stream.split();
        let policy = this.policy;
        // Items taken in this poll, counted in a local that stays in a register through the
        // loop; every one not returned was dropped.
        let mut taken = 0;
        let poll = poll_select(upstream, done, cx, |item| {
            taken += 1;
            policy.keep(&item).then_some(item)
        });
        let kept = usize::from(matches!(poll, Poll::Ready(Some(_))));
        this.counters.add(Tally {
            received: taken,
            processed: kept,
            dropped: taken - kept,
        });
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}
