//! [`Enumerate`]: pairs every item with its position, from 0.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;

pin_project! {
    /// Stream for [`StreamOps::enumerate`](crate::StreamOps::enumerate).
    ///
    /// # State machine
    ///
    /// A count of the items yielded so far: each upstream item is yielded as
    /// `(count, item)` and the count goes up by one. The count is a `u64`, which no stream
    /// exhausts (at a billion items a second, it lasts 584 years); it saturates rather than
    /// wrapping.
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
    /// // Batch ids, as the seed's batch writer numbers its batches.
    /// let out: Vec<(u64, char)> = weir::iter(['a', 'b']).enumerate().collect().await;
    /// assert_eq!(out, [(0, 'a'), (1, 'b')]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Enumerate<St> {
        #[pin]
        stream: Fuse<St>,
        count: u64,
    }
}

impl<St: fmt::Debug> fmt::Debug for Enumerate<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enumerate")
            .field("stream", &self.stream)
            .field("count", &self.count)
            .finish()
    }
}

impl<St> Enumerate<St> {
    pub(crate) fn new(stream: St) -> Self {
        Enumerate {
            stream: Fuse::new(stream),
            count: 0,
        }
    }

    upstream_accessors!();
}

impl<St: Stream> FusedStream for Enumerate<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St: Stream> Stream for Enumerate<St> {
    type Item = (u64, St::Item);

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        match this.stream.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let n = *this.count;
                *this.count = n.saturating_add(1);
                Poll::Ready(Some((n, item)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
