//! [`Take`]: the first `n` items, then the end.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

pin_project! {
    /// Stream for [`StreamOps::take`](crate::StreamOps::take).
    ///
    /// # State machine
    ///
    /// A count of the items still to yield. Each poll with a count above zero polls the
    /// upstream once and passes its answer on, counting an item down. At zero the stream has
    /// ended: the upstream is dropped there and then (whatever it holds, a channel receiver or
    /// a timer, is released at once) and never polled again, also when it would have had
    /// more. `take(0)` never polls the upstream at all.
    ///
    /// # Wake-up contract
    ///
    /// `Take` returns `Pending` only when its upstream did. It takes one item per poll and
    /// needs no budget.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/take.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// // An endless source: take ends it.
    /// let first: Vec<u64> = weir::iter(0..).take(3).collect().await;
    /// assert_eq!(first, [0, 1, 2]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Take<St> {
        // `None` once the count is reached or the upstream ended.
        #[pin]
        stream: Option<St>,
        remaining: usize,
    }
}

impl<St: fmt::Debug> fmt::Debug for Take<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Take")
            .field("stream", &self.stream)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<St> Take<St> {
    pub(crate) fn new(stream: St, n: usize) -> Self {
        Take {
            stream: (n > 0).then_some(stream),
            remaining: n,
        }
    }

    /// How many more items this stream yields at most.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

impl<St: Stream> FusedStream for Take<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_none()
    }
}

impl<St: Stream> Stream for Take<St> {
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let mut this = self.project();
        let Some(stream) = this.stream.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        match stream.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                *this.remaining -= 1;
                if *this.remaining == 0 {
                    this.stream.set(None);
                }
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.stream.set(None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.stream {
            None => (0, Some(0)),
            Some(stream) => {
                let (lower, upper) = stream.size_hint();
                let n = self.remaining;
                (lower.min(n), Some(upper.map_or(n, |u| u.min(n))))
            }
        }
    }
}
