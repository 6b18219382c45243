//! [`SpawnConcurrent`]: up to `n` futures at once as tokio tasks, outputs in the order of the
//! items.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use super::ordered::Ordered;

/// A spawned task's output: the task's panic is resumed here, and dropping this aborts the
/// task, so a stage that is dropped leaves nothing running.
pub(crate) struct Spawned<T>(JoinHandle<T>);

impl<T> Future for Spawned<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match std::task::ready!(Pin::new(&mut self.0).poll(cx)) {
            Ok(output) => Poll::Ready(output),
            Err(error) => match error.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                // Only this handle aborts the task, and only when dropped.
                Err(error) => panic!("spawn_concurrent: task ended without output: {error}"),
            },
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pin_project! {
    /// Stream for [`StreamOps::spawn_concurrent`](crate::StreamOps::spawn_concurrent).
    ///
    /// # State machine
    ///
    /// As [`MapConcurrent`](super::MapConcurrent), except that each future is spawned on
    /// the tokio runtime as a task of its own, and the stage waits on the task's handle. The
    /// tasks run on every worker thread of a multi-thread runtime, so CPU-bound work in the
    /// futures uses every core, while the outputs are put back in the order of the items. At
    /// most `n` tasks exist at once (running, or finished with an output waiting for an
    /// earlier one).
    ///
    /// A task that panics resumes its panic in the stage's poll. Dropping the stage aborts
    /// the tasks still running.
    ///
    /// # Wake-up contract
    ///
    /// As [`MapConcurrent`](super::MapConcurrent): a finishing task wakes its own place in
    /// the pool, and only woken places are polled.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime (spawning needs one).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
    /// use weir::prelude::*;
    ///
    /// // CPU-bound work on every worker thread, results in order.
    /// let sums: Vec<u64> = weir::iter([1_000u64, 10, 100])
    ///     .spawn_concurrent(4, |n| async move { (1..=n).sum::<u64>() })
    ///     .collect()
    ///     .await;
    /// assert_eq!(sums, [500_500, 55, 5_050]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnConcurrent<St, F, T> {
        #[pin]
        inner: Ordered<St, Spawned<T>>,
        f: F,
    }
}

impl<St: fmt::Debug, F, T> fmt::Debug for SpawnConcurrent<St, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnConcurrent")
            .field("stage", self.inner.stage())
            .field("held", &self.inner.held())
            .finish_non_exhaustive()
    }
}

impl<St, F, T> SpawnConcurrent<St, F, T> {
    pub(crate) fn new(stream: St, n: usize, f: F) -> Self {
        SpawnConcurrent {
            inner: Ordered::new(stream, n),
            f,
        }
    }

    /// Tasks running now.
    pub fn in_flight(&self) -> usize {
        self.inner.stage().in_flight()
    }

    upstream_accessors!(inner);
}

impl<St, F, Fut, T> FusedStream for SpawnConcurrent<St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.inner.stage().is_done() && self.inner.held() == 0
    }
}

impl<St, F, Fut, T> Stream for SpawnConcurrent<St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.project();
        let f = this.f;
        this.inner
            .poll_next_with(cx, &mut |item| Spawned(tokio::spawn(f(item))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.stage().size_hint(self.inner.held())
    }
}
