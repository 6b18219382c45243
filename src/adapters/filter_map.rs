//! [`FilterMap`]: maps each item to an `Option` and keeps the `Some`s.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::poll::poll_select;

pin_project! {
    /// Stream for [`StreamOps::filter_map`](crate::StreamOps::filter_map).
    ///
    /// # State machine
    ///
    /// A loop inside each poll: take an item from the upstream and yield `f(item)` if it is
    /// `Some`; otherwise take the next. The loop ends at a `Some`, the upstream's `Pending`,
    /// the upstream's `None` (after which the upstream is not polled again), or the budget.
    ///
    /// # Wake-up contract
    ///
    /// After [`POLL_BUDGET`](crate::POLL_BUDGET) items mapped to `None` in one poll, `FilterMap` wakes its own task
    /// and returns `Pending`. Any other `Pending` is the upstream's, which registered the waker.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/filter_map.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let lines = weir::iter(["1", "x", "3"]);
    /// let numbers: Vec<u32> = lines.filter_map(|s| s.parse::<u32>().ok()).collect().await;
    /// assert_eq!(numbers, [1, 3]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct FilterMap<St, F> {
        #[pin]
        stream: Fuse<St>,
        f: F,
    }
}

impl<St: fmt::Debug, F> fmt::Debug for FilterMap<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterMap")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<St, F> FilterMap<St, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        FilterMap {
            stream: Fuse::new(stream),
            f,
        }
    }

    upstream_accessors!();
}

impl<St, F, T> FusedStream for FilterMap<St, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Option<T>,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St, F, T> Stream for FilterMap<St, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Option<T>,
{
    type Item = T;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.project();
        let (upstream, done) = this.stream.split();
        poll_select(upstream, done, cx, this.f)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}
