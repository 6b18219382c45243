//! [`MapConcurrentUnordered`]: an async map with up to `n` futures in flight, outputs in the
//! order they complete.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::stage::{Stage, Step};
use crate::poll::POLL_BUDGET;

pin_project! {
    /// Stream for [`StreamOps::map_concurrent_unordered`](crate::StreamOps::map_concurrent_unordered).
    ///
    /// # State machine
    ///
    /// The upstream and a pool of at most `n` futures, each in a place of its own with a
    /// waker of its own. A poll starts a future for each upstream item while fewer than `n`
    /// are in flight, then polls the futures that are new or were woken since the last poll,
    /// and yields the first output it gets. It ends when the upstream has ended and every
    /// future has completed. Outputs come in the order the futures complete, so one slow
    /// future holds back nothing but itself.
    ///
    /// # Wake-up contract
    ///
    /// Each future's waker queues that future's place and wakes the task: a wake-up costs
    /// O(1), and a poll touches only the futures that were woken, never all `n`. Before
    /// returning `Pending` the stage registers the task with the pool and looks at the woken
    /// futures once more, so no wake-up is lost. A poll spends at most
    /// [`POLL_BUDGET`](crate::POLL_BUDGET) polls (of the upstream and of futures) and then
    /// wakes its own task and yields: futures that are always ready, or that wake themselves
    /// on every poll, cannot keep it from returning to the executor.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// // Item 1 takes longest, so it comes last.
    /// let done: Vec<u64> = weir::iter([30u64, 10, 20])
    ///     .map_concurrent_unordered(3, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(done, [10, 20, 30]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct MapConcurrentUnordered<St, Fut, F> {
        #[pin]
        stage: Stage<St, Fut>,
        f: F,
    }
}

impl<St: fmt::Debug, Fut, F> fmt::Debug for MapConcurrentUnordered<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapConcurrentUnordered")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl<St, Fut, F> MapConcurrentUnordered<St, Fut, F> {
    pub(crate) fn new(stream: St, n: usize, f: F) -> Self {
        MapConcurrentUnordered {
            stage: Stage::new(stream, n),
            f,
        }
    }

    /// Futures in flight now.
    pub fn in_flight(&self) -> usize {
        self.stage.in_flight()
    }

    upstream_accessors!(stage);
}

impl<St, Fut, F> FusedStream for MapConcurrentUnordered<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.stage.is_done()
    }
}

impl<St, Fut, F> Stream for MapConcurrentUnordered<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fut::Output>> {
        let this = self.project();
        let mut budget = POLL_BUDGET;
        match this.stage.poll_step(cx, &mut budget, |_| true, this.f) {
            Step::Done(_, output) => Poll::Ready(Some(output)),
            Step::Pending => Poll::Pending,
            Step::End => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stage.size_hint(0)
    }
}
