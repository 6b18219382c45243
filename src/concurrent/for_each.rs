//! [`ForEachConcurrent`]: runs an async function on every item, up to `n` at once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::stage::{Stage, Step};
use crate::poll::POLL_BUDGET;

pin_project! {
    /// Future for [`StreamOps::for_each_concurrent`](crate::StreamOps::for_each_concurrent).
    ///
    /// # State machine
    ///
    /// The same stage as [`MapConcurrentUnordered`](super::MapConcurrentUnordered), whose
    /// outputs (`()`) are dropped as they come. Resolves once the upstream has ended and
    /// every future has completed.
    ///
    /// # Wake-up contract
    ///
    /// Only woken futures are polled, no wake-up is lost, and one poll spends at most
    /// [`POLL_BUDGET`](crate::POLL_BUDGET) polls (upstream and futures together) before it
    /// wakes its task and yields.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// // 100 writes of 10 ms each, 10 at a time: 100 ms, not a second.
    /// let start = tokio::time::Instant::now();
    /// weir::iter(0..100)
    ///     .for_each_concurrent(10, |_batch| tokio::time::sleep(Duration::from_millis(10)))
    ///     .await;
    /// assert_eq!(start.elapsed(), Duration::from_millis(100));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ForEachConcurrent<St, Fut, F> {
        #[pin]
        stage: Stage<St, Fut>,
        f: F,
    }
}

impl<St, Fut, F> ForEachConcurrent<St, Fut, F> {
    pub(crate) fn new(stream: St, n: usize, f: F) -> Self {
        ForEachConcurrent {
            stage: Stage::new(stream, n),
            f,
        }
    }

    /// Futures in flight now.
    pub fn in_flight(&self) -> usize {
        self.stage.in_flight()
    }

    /// Futures started so far.
    pub fn started(&self) -> u64 {
        self.stage.started()
    }
}

impl<St, Fut, F> Future for ForEachConcurrent<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = ()>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let mut budget = POLL_BUDGET;
        loop {
            match this
                .stage
                .as_mut()
                .poll_step(cx, &mut budget, |_| true, this.f)
            {
                // The stage counts the budget: once spent, its next step yields.
                Step::Done(..) => {}
                Step::Pending => return Poll::Pending,
                Step::End => return Poll::Ready(()),
            }
        }
    }
}

impl<St: fmt::Debug, Fut, F> fmt::Debug for ForEachConcurrent<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForEachConcurrent")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}
