//! [`CountWindow`]: the last `n` items, emitted every `every` items.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Window;
use super::aggregate::Aggregate;
use super::two_stacks::TwoStacks;
use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};

pin_project! {
    /// Stream for [`StreamOps::count_window`](crate::StreamOps::count_window): a moving
    /// aggregate over ticks.
    ///
    /// After every `every`-th item, emits the aggregate of the last `n` items (fewer at the
    /// start of the stream). `start` and `end` of each [`Window`] are item positions: the
    /// window covers items `start..end` (counting from 0). When the upstream ends, items
    /// taken since the last emission get one final window.
    ///
    /// ```text
    /// n = 3, every = 2, items a b c d e
    /// after b: [a b]      after d: [b c d]      end: [c d e]
    /// ```
    ///
    /// Each item is one accumulator in a [`TwoStacks`] queue of length `n`, so the cost per
    /// item and per emitted window is amortized O(1) for any associative aggregate, whatever
    /// `n` is; memory is `n` accumulators.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` only after the upstream's `Pending`, or after [`POLL_BUDGET`] items without
    /// a window to emit (the task woke itself).
    ///
    /// # Panics
    ///
    /// If `n` or `every` is 0.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/count_window.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::window::Mean;
    ///
    /// let prices = weir::iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// let moving: Vec<Option<f64>> = prices
    ///     .count_window(3, 1, Mean(|p: &f64| *p))
    ///     .map(|w| w.result.value)
    ///     .collect()
    ///     .await;
    /// assert_eq!(moving, [Some(1.0), Some(1.5), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = CountWindowProj]
    pub struct CountWindow<St: Stream, A: Aggregate<St::Item>> {
        #[pin]
        stream: Fuse<St>,
        agg: A,
        queue: TwoStacks<A::Acc>,
        n: u64,
        every: u64,
        seen: u64,
        since_emit: u64,
    }
}

impl<St, A> fmt::Debug for CountWindow<St, A>
where
    St: Stream + fmt::Debug,
    A: Aggregate<St::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountWindow")
            .field("stream", &self.stream)
            .field("n", &self.n)
            .field("every", &self.every)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<St: Stream, A: Aggregate<St::Item>> CountWindow<St, A> {
    #[track_caller]
    pub(crate) fn new(stream: St, n: usize, every: usize, agg: A) -> Self {
        assert!(n > 0, "count_window: `n` must be at least 1, got 0");
        assert!(every > 0, "count_window: `every` must be at least 1, got 0");
        let identity = agg.init();
        CountWindow {
            stream: Fuse::new(stream),
            agg,
            queue: TwoStacks::new(identity),
            n: n as u64,
            every: every as u64,
            seen: 0,
            since_emit: 0,
        }
    }

    upstream_accessors!();
}

impl<St: Stream, A: Aggregate<St::Item>> CountWindowProj<'_, St, A> {
    fn window(&mut self) -> Window<A::Output> {
        *self.since_emit = 0;
        let agg = &*self.agg;
        let acc = self.queue.query(|a, b| agg.combine(a, b));
        let count = self.queue.len() as u64;
        Window {
            start: *self.seen - count,
            end: *self.seen,
            result: agg.result(&acc),
            count,
            late: 0,
        }
    }
}

impl<St: Stream, A: Aggregate<St::Item>> FusedStream for CountWindow<St, A> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.since_emit == 0
    }
}

impl<St: Stream, A: Aggregate<St::Item>> Stream for CountWindow<St, A> {
    type Item = Window<A::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let (mut upstream, done) = this.stream.as_mut().split();
        if *done {
            return Poll::Ready((*this.since_emit > 0).then(|| this.window()));
        }
        for _ in 0..POLL_BUDGET {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let agg = &*this.agg;
                    let mut acc = agg.init();
                    agg.add(&mut acc, &item);
                    let combine = |a: &A::Acc, b: &A::Acc| agg.combine(a, b);
                    this.queue.push(acc, combine);
                    if this.queue.len() as u64 > *this.n {
                        this.queue.pop(combine);
                    }
                    *this.seen += 1;
                    *this.since_emit += 1;
                    if *this.since_emit == *this.every {
                        return Poll::Ready(Some(this.window()));
                    }
                }
                Poll::Ready(None) => {
                    *done = true;
                    return Poll::Ready((*this.since_emit > 0).then(|| this.window()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        wake_self(cx);
        Poll::Pending
    }
}
