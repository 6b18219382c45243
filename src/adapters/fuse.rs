//! [`Fuse`]: a stream that returns `None` forever once its upstream has returned `None`.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

pin_project! {
    /// Stream for [`StreamOps::fuse`](crate::StreamOps::fuse).
    ///
    /// # State machine
    ///
    /// Two states: *live* (`done == false`), where each poll is forwarded to the upstream, and
    /// *done*, entered when the upstream returns `None`, where every poll returns `None` without
    /// touching the upstream again. Every weir operator holds its upstream in a `Fuse`, which is
    /// how all of them keep the rule "never poll an upstream after it returned `None`".
    ///
    /// # Wake-up contract
    ///
    /// A `Pending` is always the upstream's `Pending`: the upstream registered the waker.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let mut s = weir::iter([1, 2]).fuse();
    /// assert_eq!(s.next().await, Some(1));
    /// assert_eq!(s.next().await, Some(2));
    /// assert_eq!(s.next().await, None);
    /// assert!(s.is_terminated());
    /// assert_eq!(s.next().await, None); // the upstream is not polled again
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Fuse<St> {
        #[pin]
        stream: St,
        done: bool,
    }
}

impl<St: fmt::Debug> fmt::Debug for Fuse<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fuse")
            .field("stream", &self.stream)
            .field("done", &self.done)
            .finish()
    }
}

impl<St> Fuse<St> {
    pub(crate) fn new(stream: St) -> Self {
        Fuse {
            stream,
            done: false,
        }
    }

    /// Whether the upstream has returned `None`.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The upstream.
    pub fn get_ref(&self) -> &St {
        &self.stream
    }

    /// The upstream, mutably. Polling it directly bypasses the fuse.
    pub fn get_mut(&mut self) -> &mut St {
        &mut self.stream
    }

    /// The pinned upstream, mutably. Polling it directly bypasses the fuse.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut St> {
        self.project().stream
    }

    /// The upstream, by value.
    pub fn into_inner(self) -> St {
        self.stream
    }

    /// The upstream and the `done` flag, for an operator that loops over its upstream: it checks
    /// the flag once on entry instead of once per item, and must set it when the upstream
    /// returns `None` (and then stop polling).
    #[inline]
    pub(crate) fn split(self: Pin<&mut Self>) -> (Pin<&mut St>, &mut bool) {
        let this = self.project();
        (this.stream, this.done)
    }
}

impl<St: Stream> FusedStream for Fuse<St> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<St: Stream> Stream for Fuse<St> {
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let next = this.stream.poll_next(cx);
        if let Poll::Ready(None) = next {
            *this.done = true;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.stream.size_hint()
        }
    }
}
