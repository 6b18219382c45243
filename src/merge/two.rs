//! [`MergeTwo`]: two streams of possibly different types as one, with no allocation.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::adapters::Fuse;

pin_project! {
    /// Stream for [`StreamOps::merge`](crate::StreamOps::merge): the items of two streams as
    /// they come, both held inline (no box, no allocation, no `Unpin` needed).
    ///
    /// # State machine
    ///
    /// Each side is held in a [`Fuse`], so a side that ended is never polled again. A poll
    /// polls one side and, if that side has no item ready, the other; which side goes first
    /// alternates from one poll to the next. Two always-ready streams therefore interleave
    /// `a b a b ...`, as in [`merge`](crate::merge::merge), and neither can starve the other.
    /// When one side has ended, every poll goes to the other. The merge ends when both have
    /// ended.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` is returned only when every side still live returned `Pending` in this poll,
    /// so each of them registered the task's waker. One poll takes at most one item.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let evens = weir::iter([0, 2, 4]);
    /// let odds = weir::iter(vec![1, 3]).map(|x| x); // another stream type
    /// assert_eq!(evens.merge(odds).collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct MergeTwo<A, B> {
        #[pin]
        a: Fuse<A>,
        #[pin]
        b: Fuse<B>,
        b_first: bool,
    }
}

impl<A: fmt::Debug, B: fmt::Debug> fmt::Debug for MergeTwo<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeTwo")
            .field("a", &self.a)
            .field("b", &self.b)
            .field("b_first", &self.b_first)
            .finish()
    }
}

impl<A, B> MergeTwo<A, B> {
    pub(crate) fn new(a: A, b: B) -> Self {
        MergeTwo {
            a: Fuse::new(a),
            b: Fuse::new(b),
            b_first: false,
        }
    }

    /// The two streams, by value.
    pub fn into_inner(self) -> (A, B) {
        (self.a.into_inner(), self.b.into_inner())
    }
}

/// Polls `first`, then `second` if `first` had no item: an item, `None` when both have
/// ended, or `Pending`.
#[inline(always)]
fn poll_pair<T, X, Y>(
    first: Pin<&mut X>,
    second: Pin<&mut Y>,
    cx: &mut Context<'_>,
) -> Poll<Option<T>>
where
    X: Stream<Item = T>,
    Y: Stream<Item = T>,
{
    let first_done = match first.poll_next(cx) {
        Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
        Poll::Ready(None) => true,
        Poll::Pending => false,
    };
    match second.poll_next(cx) {
        Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
        Poll::Ready(None) if first_done => Poll::Ready(None),
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    }
}

impl<A, B> FusedStream for MergeTwo<A, B>
where
    A: Stream,
    B: Stream<Item = A::Item>,
{
    fn is_terminated(&self) -> bool {
        self.a.is_terminated() && self.b.is_terminated()
    }
}

impl<A, B> Stream for MergeTwo<A, B>
where
    A: Stream,
    B: Stream<Item = A::Item>,
{
    type Item = A::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<A::Item>> {
        let this = self.project();
        let b_first = *this.b_first;
        *this.b_first = !b_first;
        if b_first {
            poll_pair(this.b, this.a, cx)
        } else {
            poll_pair(this.a, this.b, cx)
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a_low, a_high) = self.a.size_hint();
        let (b_low, b_high) = self.b.size_hint();
        let high = match (a_high, b_high) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
        (a_low.saturating_add(b_low), high)
    }
}
