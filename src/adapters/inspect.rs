//! [`Inspect`]: calls a function on a reference to every item, then passes the item on.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;

pin_project! {
    /// Stream for [`StreamOps::inspect`](crate::StreamOps::inspect).
    ///
    /// # State machine
    ///
    /// Stateless apart from its upstream: each poll polls the upstream once, shows an item
    /// to `f` by reference and passes it on unchanged. For counting, logging or metrics
    /// (the seed's `ErrorStats::record`) in the middle of a pipeline.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` only when the upstream returned it. One item per poll; no budget needed.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let mut seen = 0;
    /// let out: Vec<u32> = weir::iter(1..=3).inspect(|_| seen += 1).collect().await;
    /// assert_eq!((out, seen), (vec![1, 2, 3], 3));
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Inspect<St, F> {
        #[pin]
        stream: Fuse<St>,
        f: F,
    }
}

impl<St: fmt::Debug, F> fmt::Debug for Inspect<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspect")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<St, F> Inspect<St, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        Inspect {
            stream: Fuse::new(stream),
            f,
        }
    }

    upstream_accessors!();
}

impl<St: Stream, F: FnMut(&St::Item)> FusedStream for Inspect<St, F> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St: Stream, F: FnMut(&St::Item)> Stream for Inspect<St, F> {
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.project();
        let next = this.stream.poll_next(cx);
        if let Poll::Ready(Some(item)) = &next {
            (this.f)(item);
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
