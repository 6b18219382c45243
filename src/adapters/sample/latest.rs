//! [`SampleLatest`]: the most recent item of each interval.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep};

use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};
use crate::stats::{Counters, StatsHandle, Tally};

pin_project! {
    /// Stream for [`StreamOps::sample_latest`](crate::StreamOps::sample_latest).
    ///
    /// Time is cut into intervals of `interval`, the first starting at the first poll. At the
    /// end of each interval that saw at least one item, the most recent of them is yielded;
    /// the items it replaced are dropped and counted. An interval that saw no item yields
    /// nothing. When the upstream ends, an item still waiting is yielded at once, then `None`.
    ///
    /// ```text
    /// interval = 100 ms
    /// items:   a(10) b(40)      c(130)     e(310)     f(350)   d(410) end(420)
    /// yields:           b@100          c@200              f@400         d@420
    /// dropped: a, e
    /// ```
    ///
    /// # State machine
    ///
    /// Each poll first checks the interval's timer: if it fired, the timer moves to the next
    /// interval boundary after now (intervals missed while nobody polled are skipped, not
    /// replayed), and a waiting item is yielded. Otherwise the poll takes every item the
    /// upstream has ready, keeping only the last. An item taken in the same poll that sees the
    /// timer fire belongs to the next interval.
    ///
    /// # Timer and wake-up contract
    ///
    /// One tokio [`Sleep`], created on the first poll (building the operator needs no runtime)
    /// and reset at each boundary. It runs while the upstream is live, waking the task once per
    /// interval even when idle. `Pending` is returned after both the upstream and the timer
    /// registered the waker, or after [`POLL_BUDGET`] items were taken in one poll (the task
    /// woke itself).
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/sample_latest.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// let (tx, rx) = tokio::sync::mpsc::channel(8);
    /// let start = tokio::time::Instant::now();
    /// tokio::spawn(async move {
    ///     for (at, value) in [(10, 'a'), (40, 'b'), (130, 'c')] {
    ///         tokio::time::sleep_until(start + Duration::from_millis(at)).await;
    ///         tx.send(value).await.unwrap();
    ///     }
    /// });
    /// let latest = weir::from_receiver(rx).sample_latest(Duration::from_millis(100));
    /// let stats = latest.stats();
    /// assert_eq!(latest.collect::<String>().await, "bc");
    /// assert_eq!(stats.dropped(), 1);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = SampleLatestProj]
    pub struct SampleLatest<St: Stream> {
        #[pin]
        stream: Fuse<St>,
        #[pin]
        timer: Option<Sleep>,
        latest: Option<St::Item>,
        interval: Duration,
        counters: Counters,
    }
}

impl<St> fmt::Debug for SampleLatest<St>
where
    St: Stream + fmt::Debug,
    St::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleLatest")
            .field("stream", &self.stream)
            .field("latest", &self.latest)
            .field("interval", &self.interval)
            .field("counters", &self.counters)
            .finish()
    }
}

impl<St: Stream> SampleLatest<St> {
    #[track_caller]
    pub(crate) fn new(stream: St, interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "sample_latest: `interval` must be longer than zero"
        );
        SampleLatest {
            stream: Fuse::new(stream),
            timer: None,
            latest: None,
            interval,
            counters: Counters::new(),
        }
    }

    /// A handle to this sampler's counters.
    pub fn stats(&self) -> StatsHandle {
        self.counters.handle()
    }

    upstream_accessors!();
}

/// The first boundary of the grid `deadline + k * interval` (k ≥ 1) that is after `now`.
fn next_boundary(deadline: Instant, interval: Duration, now: Instant) -> Instant {
    let behind = now.saturating_duration_since(deadline).as_nanos();
    let k = behind / interval.as_nanos() + 1;
    u32::try_from(k)
        .ok()
        .and_then(|k| interval.checked_mul(k))
        .and_then(|step| deadline.checked_add(step))
        .unwrap_or(now + interval)
}

impl<St: Stream> SampleLatestProj<'_, St> {
    /// Whether an interval ended since the last check; leaves the timer registered for the
    /// next boundary either way.
    fn interval_ended(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timer.is_none() {
            self.timer.set(Some(sleep(*self.interval)));
        }
        let Some(mut timer) = self.timer.as_mut().as_pin_mut() else {
            unreachable!("the timer was set above");
        };
        let mut ended = false;
        while timer.as_mut().poll(cx).is_ready() {
            ended = true;
            let next = next_boundary(timer.deadline(), *self.interval, Instant::now());
            timer.as_mut().reset(next);
        }
        ended
    }
}

impl<St: Stream> FusedStream for SampleLatest<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.latest.is_none()
    }
}

impl<St: Stream> Stream for SampleLatest<St> {
    type Item = St::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let mut this = self.project();
        let mut tally = Tally::default();
        let poll = 'poll: {
            if this.stream.is_done() {
                break 'poll Poll::Ready(this.latest.take());
            }
            if this.interval_ended(cx) && this.latest.is_some() {
                break 'poll Poll::Ready(this.latest.take());
            }
            let (mut upstream, done) = this.stream.as_mut().split();
            for _ in 0..POLL_BUDGET {
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        tally.received += 1;
                        if this.latest.replace(item).is_some() {
                            tally.dropped += 1;
                        }
                    }
                    Poll::Ready(None) => {
                        *done = true;
                        break 'poll Poll::Ready(this.latest.take());
                    }
                    Poll::Pending => break 'poll Poll::Pending,
                }
            }
            wake_self(cx);
            Poll::Pending
        };
        tally.processed = usize::from(matches!(poll, Poll::Ready(Some(_))));
        this.counters.add(tally);
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let waiting = usize::from(self.latest.is_some());
        let upper = self.stream.size_hint().1;
        (waiting, upper.and_then(|u| u.checked_add(waiting)))
    }
}
