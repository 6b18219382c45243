//! [`Then`]: an async map, one future at a time, in order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::adapters::Fuse;

pin_project! {
    /// Stream for [`StreamOps::then`](crate::StreamOps::then).
    ///
    /// # State machine
    ///
    /// Two states: waiting for an upstream item, or running the future made from one. A poll
    /// with a future running polls it (and yields its output when it completes); otherwise it
    /// polls the upstream, makes the item's future with `f` and polls it at once. The next
    /// item is taken only after the future completed, so outputs keep the items' order and at
    /// most one future exists. It ends when the upstream has ended and no future runs.
    ///
    /// # Wake-up contract
    ///
    /// `Then` returns `Pending` only when the future or the upstream did, so one of them
    /// registered the waker. A poll polls the upstream at most once and a future at most
    /// once, so it needs no budget. For several futures at once, see
    /// [`map_concurrent`](crate::StreamOps::map_concurrent).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// let start = tokio::time::Instant::now();
    /// let out: Vec<u32> = weir::iter(1..=3u32)
    ///     .then(|x| async move {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///         x * 10
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(out, [10, 20, 30]);
    /// // One after the other.
    /// assert_eq!(start.elapsed(), Duration::from_millis(30));
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Then<St, Fut, F> {
        #[pin]
        stream: Fuse<St>,
        #[pin]
        future: Option<Fut>,
        f: F,
    }
}

impl<St: fmt::Debug, Fut, F> fmt::Debug for Then<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Then")
            .field("stream", &self.stream)
            .field("running", &self.future.is_some())
            .finish_non_exhaustive()
    }
}

impl<St, Fut, F> Then<St, Fut, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        Then {
            stream: Fuse::new(stream),
            future: None,
            f,
        }
    }

    upstream_accessors!();
}

impl<St, Fut, F> FusedStream for Then<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.future.is_none()
    }
}

impl<St, Fut, F> Stream for Then<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fut::Output>> {
        let mut this = self.project();
        if this.future.is_none() {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => this.future.set(Some((this.f)(item))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        let future = this.future.as_mut().as_pin_mut().expect("set above");
        let output = std::task::ready!(future.poll(cx));
        this.future.set(None);
        Poll::Ready(Some(output))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let running = usize::from(self.future.is_some());
        // `(0, Some(0))` once the upstream ended.
        let (lower, upper) = self.stream.size_hint();
        (
            lower.saturating_add(running),
            upper.and_then(|u| u.checked_add(running)),
        )
    }
}
