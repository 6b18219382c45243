//! [`Iter`]: a stream over an iterator, always ready.

use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

/// Stream for [`iter`]: yields the items of an iterator, never `Pending`.
///
/// It does not take part in any cooperative budget; the operators and consumers downstream of
/// it do (see [`POLL_BUDGET`](crate::POLL_BUDGET)). Its `size_hint` is the iterator's.
#[derive(Debug, Clone)]
#[must_use = "streams do nothing unless polled"]
pub struct Iter<I> {
    iter: Option<I>,
}

/// A stream over the items of `iter`, each one ready at once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// assert_eq!(weir::iter(0..3).count().await, 3);
/// # }
/// ```
pub fn iter<I: IntoIterator>(iter: I) -> Iter<I::IntoIter> {
    Iter {
        iter: Some(iter.into_iter()),
    }
}

impl<I> Unpin for Iter<I> {}

impl<I: Iterator> FusedStream for Iter<I> {
    fn is_terminated(&self) -> bool {
        self.iter.is_none()
    }
}

impl<I: Iterator> Stream for Iter<I> {
    type Item = I::Item;

    // Always inlined, as the one-item adapters are (see the `adapters` module): a source left
    // out of line in a consumer's loop makes its iterator's state go through memory per item.
    #[inline(always)]
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        let next = self.iter.as_mut().and_then(Iterator::next);
        if next.is_none() {
            // Drop the iterator: it is never advanced again after it returned `None`.
            self.iter = None;
        }
        Poll::Ready(next)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.as_ref().map_or((0, Some(0)), Iterator::size_hint)
    }
}
