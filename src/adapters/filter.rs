//! [`Filter`]: keeps the items a synchronous predicate accepts.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::poll::poll_select;

pin_project! {
    /// Stream for [`StreamOps::filter`](crate::StreamOps::filter).
    ///
    /// # State machine
    ///
    /// A loop inside each poll: take an item from the upstream; if `predicate(&item)` holds,
    /// yield it; otherwise drop it and take the next. The loop ends at an accepted item, the
    /// upstream's `Pending`, the upstream's `None` (after which the upstream is not polled
    /// again), or the budget.
    ///
    /// # Wake-up contract
    ///
    /// After [`POLL_BUDGET`](crate::POLL_BUDGET) rejected items in one poll, `Filter` wakes its own task and returns
    /// `Pending`: a long run of rejected, always-ready items cannot hold the executor. Any other
    /// `Pending` is the upstream's, which registered the waker.
    ///
    /// The predicate is synchronous (`FnMut(&Item) -> bool`), like tokio-stream's `filter`
    /// and unlike futures-util's, whose predicate returns a future.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/filter.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let odd: Vec<u32> = weir::iter(1..=6).filter(|x| x % 2 == 1).collect().await;
    /// assert_eq!(odd, [1, 3, 5]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Filter<St, F> {
        #[pin]
        stream: Fuse<St>,
        predicate: F,
    }
}

impl<St: fmt::Debug, F> fmt::Debug for Filter<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<St, F> Filter<St, F> {
    pub(crate) fn new(stream: St, predicate: F) -> Self {
        Filter {
            stream: Fuse::new(stream),
            predicate,
        }
    }

    upstream_accessors!();
}

impl<St, F> FusedStream for Filter<St, F>
where
    St: Stream,
    F: FnMut(&St::Item) -> bool,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St, F> Stream for Filter<St, F>
where
    St: Stream,
    F: FnMut(&St::Item) -> bool,
{
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.project();
        let (upstream, done) = this.stream.split();
        let predicate = this.predicate;
        poll_select(upstream, done, cx, |item| predicate(&item).then_some(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}
