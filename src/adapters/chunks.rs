//! [`Chunks`]: batches of exactly `n` items (the last may be shorter), cut by count alone.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};

pin_project! {
    /// Stream for [`StreamOps::chunks`](crate::StreamOps::chunks).
    ///
    /// # State machine
    ///
    /// The batch being filled. A poll takes upstream items into it until it holds `n`, then
    /// yields it and starts an empty one (allocated with room for `n`, up to 1 024 ahead).
    /// When the upstream ends, a partly filled batch is yielded, then the end. There is no
    /// timer: while the upstream is quiet a partial batch waits, however long. For batches
    /// cut short by time, see [`chunks_timeout`](crate::StreamOps::chunks_timeout).
    ///
    /// # Wake-up contract
    ///
    /// `Pending` when the upstream returned it (it registered the waker), or after
    /// [`POLL_BUDGET`](crate::POLL_BUDGET) items were taken in one poll without filling the
    /// batch (then the task wakes itself first).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let out: Vec<Vec<u32>> = weir::iter(1..=5).chunks(2).collect().await;
    /// assert_eq!(out, [vec![1, 2], vec![3, 4], vec![5]]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Chunks<St: Stream> {
        #[pin]
        stream: Fuse<St>,
        items: Vec<St::Item>,
        n: usize,
    }
}

impl<St: Stream + fmt::Debug> fmt::Debug for Chunks<St>
where
    St::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunks")
            .field("stream", &self.stream)
            .field("items", &self.items)
            .field("n", &self.n)
            .finish()
    }
}

/// Room reserved ahead in a new batch at most: a huge `n` costs memory as items arrive, not
/// up front.
const RESERVE: usize = 1024;

impl<St: Stream> Chunks<St> {
    #[track_caller]
    pub(crate) fn new(stream: St, n: usize) -> Self {
        assert!(n > 0, "chunks: `n` must be at least 1, got 0");
        Chunks {
            stream: Fuse::new(stream),
            items: Vec::with_capacity(n.min(RESERVE)),
            n,
        }
    }

    upstream_accessors!();
}

impl<St: Stream> FusedStream for Chunks<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.items.is_empty()
    }
}

impl<St: Stream> Stream for Chunks<St> {
    type Item = Vec<St::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        for _ in 0..POLL_BUDGET {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    this.items.push(item);
                    if this.items.len() == *this.n {
                        let fresh = Vec::with_capacity((*this.n).min(RESERVE));
                        return Poll::Ready(Some(core::mem::replace(this.items, fresh)));
                    }
                }
                Poll::Ready(None) if this.items.is_empty() => return Poll::Ready(None),
                Poll::Ready(None) => return Poll::Ready(Some(core::mem::take(this.items))),
                Poll::Pending => return Poll::Pending,
            }
        }
        wake_self(cx);
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lower, upper) = self.stream.size_hint();
        let held = self.items.len();
        let batches = |items: usize| items.div_ceil(self.n);
        (
            batches(lower.saturating_add(held)),
            upper.and_then(|u| u.checked_add(held)).map(batches),
        )
    }
}
