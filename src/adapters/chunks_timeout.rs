//! [`ChunksTimeout`]: batches of up to `max` items, cut short by a timeout.

use core::fmt;
use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};

use super::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};

/// The most item slots a batch reserves up front; a larger `max` grows the batch as it fills.
const PREALLOC_LIMIT: usize = 4096;

/// When the timer of a batch starts, for [`ChunksTimeout::timer_start`].
///
/// ```text
/// items:        a  b          c              d e
/// time (ms):    0  200        1300           2600 2700     timeout = 1000 ms, max = 10
///
/// FirstItem:    [a b] at 1000, [c] at 2300, [d e] at 3600   (timer from a, c, d)
/// LastEmit:     [a b] at 1000, [c] at 2000, [d e] at 3000   (timer from each emission)
/// ```
///
/// With `FirstItem`, a batch never waits longer than `timeout` after its first item: latency is
/// bounded per item. With `LastEmit` (Akka's `groupedWithin`), batches come out on a steady
/// beat while items flow: the deadline is `timeout` after the previous emission, and a batch
/// whose deadline has already passed when its first item arrives is emitted as soon as the
/// upstream pauses. Before the first emission, `LastEmit` times the first batch from its first
/// item. Neither mode ever emits an empty batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimerStart {
    /// The timer starts when the first item of a batch arrives (tokio-stream's behaviour).
    #[default]
    FirstItem,
    /// The timer starts when the previous batch is emitted (Akka's `groupedWithin`).
    LastEmit,
}

pin_project! {
    /// Stream for [`StreamOps::chunks_timeout`](crate::StreamOps::chunks_timeout).
    ///
    /// Yields a `Vec` of items when `max` items have been collected, or when `timeout` has
    /// passed since the batch's timer started (see [`TimerStart`]; by default at the batch's
    /// first item), whichever comes first. Items are never lost, duplicated or reordered.
    ///
    /// # State machine
    ///
    /// Each poll takes items from the upstream into the current batch until one of:
    /// - the batch holds `max` items: it is yielded;
    /// - the upstream ends: the partial batch, if any, is yielded, then `None` forever (the
    ///   upstream is not polled again);
    /// - the upstream returns `Pending`, or [`POLL_BUDGET`] items were taken in this poll: the
    ///   operator *pauses*. With an empty batch it returns `Pending`. With a non-empty batch it
    ///   checks the batch's deadline on its timer and yields the batch if the deadline has
    ///   passed.
    ///
    /// The deadline is checked only when the operator pauses: while the upstream keeps items
    /// ready, batches fill up and are cut by count. A batch is never empty, not even when the
    /// timer fires on an idle stream.
    ///
    /// # Timer
    ///
    /// One tokio [`Sleep`] per operator, created on the first pause with a non-empty batch (so
    /// building the operator needs no runtime, and a stream whose batches always fill never
    /// touches the timer) and then reset, never re-created. The clock is read once per pause
    /// with a fresh non-empty batch, not per item: the first item of a batch and that pause
    /// happen in the same poll, and no time is observed to pass within one poll (`LastEmit` also
    /// reads the clock at each emission, its timer's start). When a batch
    /// is emitted before its deadline, the timer is left registered for that earlier deadline;
    /// when it fires, the operator moves it forward to the current batch's deadline. So the
    /// timer driver is touched about once per `timeout`, not once per batch, and a wake-up
    /// from an outdated deadline costs one extra poll that emits nothing.
    ///
    /// A `timeout` too large to add to the current instant never fires.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` is returned after the upstream returned `Pending` (it registered the waker)
    /// and, with a non-empty batch, after the timer was polled (it registered the waker too);
    /// or after the budget ran out, in which case the operator woke its own task first.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/chunks_timeout.txt")]
    /// ```
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/chunks_timeout_last_emit.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// let (tx, rx) = tokio::sync::mpsc::channel(16);
    /// tokio::spawn(async move {
    ///     for i in 0..5 {
    ///         tx.send(i).await.unwrap();
    ///     }
    ///     tokio::time::sleep(Duration::from_secs(5)).await; // idle: the timer cuts the batch
    ///     tx.send(5).await.unwrap();
    /// });
    /// let batches: Vec<Vec<i32>> = weir::from_receiver(rx)
    ///     .chunks_timeout(2, Duration::from_secs(1))
    ///     .collect()
    ///     .await;
    /// assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4], vec![5]]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = ChunksTimeoutProj]
    pub struct ChunksTimeout<St: Stream> {
        #[pin]
        stream: Fuse<St>,
        #[pin]
        timer: Option<Sleep>,
        items: Vec<St::Item>,
        max: usize,
        timeout: Duration,
        start: TimerStart,
        // The instant the current batch's timer runs from; `None` until it is needed.
        anchor: Option<Instant>,
    }
}

impl<St> fmt::Debug for ChunksTimeout<St>
where
    St: Stream + fmt::Debug,
    St::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunksTimeout")
            .field("stream", &self.stream)
            .field("items", &self.items)
            .field("max", &self.max)
            .field("timeout", &self.timeout)
            .field("start", &self.start)
            .finish()
    }
}

impl<St: Stream> ChunksTimeout<St> {
    #[track_caller]
    pub(crate) fn new(stream: St, max: usize, timeout: Duration) -> Self {
        assert!(max > 0, "chunks_timeout: `max` must be at least 1, got 0");
        ChunksTimeout {
            stream: Fuse::new(stream),
            timer: None,
            items: batch_vec(max),
            max,
            timeout,
            start: TimerStart::FirstItem,
            anchor: None,
        }
    }

    /// Chooses when each batch's timer starts (default: [`TimerStart::FirstItem`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use weir::prelude::*;
    /// use weir::adapters::TimerStart;
    ///
    /// let batches = weir::iter(0..10)
    ///     .chunks_timeout(4, Duration::from_millis(100))
    ///     .timer_start(TimerStart::LastEmit);
    /// # drop(batches);
    /// ```
    pub fn timer_start(mut self, start: TimerStart) -> Self {
        self.start = start;
        self
    }

    /// The items collected for the batch in progress.
    pub fn buffered(&self) -> &[St::Item] {
        &self.items
    }

    upstream_accessors!();
}

impl<St: Stream> ChunksTimeoutProj<'_, St> {
    /// Takes the current batch and starts the next one's timer bookkeeping.
    fn emit(&mut self) -> Vec<St::Item> {
        *self.anchor = match self.start {
            TimerStart::FirstItem => None,
            TimerStart::LastEmit => Some(Instant::now()),
        };
        mem::replace(self.items, batch_vec(*self.max))
    }

    /// The upstream returned `Pending` (or the budget ran out, `exhausted`): yield the batch if
    /// its deadline has passed, otherwise make sure a wake-up is registered and return `Pending`.
    fn pause(&mut self, cx: &mut Context<'_>, exhausted: bool) -> Poll<Option<Vec<St::Item>>> {
        if !self.items.is_empty() {
            let anchor = *self.anchor.get_or_insert_with(Instant::now);
            if let Some(deadline) = anchor.checked_add(*self.timeout) {
                if deadline_passed(self.timer.as_mut(), deadline, cx) {
                    return Poll::Ready(Some(self.emit()));
                }
            }
        }
        if exhausted {
            wake_self(cx);
        }
        Poll::Pending
    }
}

/// Polls the timer for `deadline`, creating it or moving it forward as needed. Returns whether
/// `deadline` has passed; if not, the timer has registered the task's waker for a deadline no
/// later than `deadline`.
fn deadline_passed(
    mut slot: Pin<&mut Option<Sleep>>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> bool {
    if slot.is_none() {
        slot.set(Some(sleep_until(deadline)));
    }
    let Some(mut timer) = slot.as_pin_mut() else {
        unreachable!("the timer was set above");
    };
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        if timer.deadline() >= deadline {
            return true;
        }
        // An earlier batch's deadline fired: move the timer to this batch's deadline.
        timer.as_mut().reset(deadline);
    }
}

/// An empty batch with room for `max` items (up to [`PREALLOC_LIMIT`]), so that filling it
/// never reallocates in the common case.
fn batch_vec<T>(max: usize) -> Vec<T> {
    Vec::with_capacity(max.min(PREALLOC_LIMIT))
}

impl<St: Stream> FusedStream for ChunksTimeout<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.items.is_empty()
    }
}

impl<St: Stream> Stream for ChunksTimeout<St> {
    type Item = Vec<St::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<St::Item>>> {
        let mut this = self.project();
        let (mut upstream, done) = this.stream.as_mut().split();
        if *done {
            return Poll::Ready(None);
        }
        // Take at most what fits in the batch and in the budget: one bound for the loop.
        let room = (*this.max - this.items.len()).min(POLL_BUDGET);
        for _ in 0..room {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => this.items.push(item),
                Poll::Ready(None) => {
                    *done = true;
                    let last = mem::take(this.items);
                    return Poll::Ready((!last.is_empty()).then_some(last));
                }
                Poll::Pending => return this.pause(cx, false),
            }
        }
        if this.items.len() >= *this.max {
            Poll::Ready(Some(this.emit()))
        } else {
            this.pause(cx, true)
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lower, upper) = self.stream.size_hint();
        let buffered = self.items.len();
        // At least enough batches of `max` for everything left; at most one per item, where
        // the buffered items all go into the next batch.
        let lower = lower.saturating_add(buffered).div_ceil(self.max);
        let upper = upper.and_then(|u| u.checked_add(usize::from(buffered > 0)));
        (lower, upper)
    }
}
