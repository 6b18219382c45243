//! [`Map`]: applies a function to every item.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;

pin_project! {
    /// Stream for [`StreamOps::map`](crate::StreamOps::map).
    ///
    /// # State machine
    ///
    /// Stateless apart from its upstream: each poll polls the upstream once and passes an item
    /// through `f`. `Pending` and `None` are passed through unchanged; after `None` the upstream
    /// is not polled again.
    ///
    /// # Wake-up contract
    ///
    /// `Map` returns `Pending` only when its upstream did, so the upstream registered the waker.
    /// It takes one item per poll and needs no budget.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/map.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let doubled: Vec<u32> = weir::iter(1..=3).map(|x| x * 2).collect().await;
    /// assert_eq!(doubled, [2, 4, 6]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Map<St, F> {
        #[pin]
        stream: Fuse<St>,
        f: F,
    }
}

impl<St: fmt::Debug, F> fmt::Debug for Map<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<St, F> Map<St, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        Map {
            stream: Fuse::new(stream),
            f,
        }
    }

    upstream_accessors!();
}

impl<St, F, T> FusedStream for Map<St, F>
where
    St: Stream,
    F: FnMut(St::Item) -> T,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St, F, T> Stream for Map<St, F>
where
    St: Stream,
    F: FnMut(St::Item) -> T,
{
    type Item = T;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.project();
        match this.stream.poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some((this.f)(item))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
