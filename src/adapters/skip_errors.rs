//! [`SkipErrors`]: the `Ok` values of a stream of `Result`s, every result counted.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::poll::poll_select;
use crate::stats::ErrorStats;
use crate::sync::Arc;

pin_project! {
    /// Stream for [`TryStreamOps::skip_errors`](crate::TryStreamOps::skip_errors).
    ///
    /// # State machine
    ///
    /// Stateless apart from its upstream and the shared [`ErrorStats`]: each result is
    /// recorded there, an `Ok` is yielded as its value and an `Err` is dropped (counted,
    /// never silently lost). The stream goes on after an error; to stop at the first one,
    /// use [`try_collect`](crate::TryStreamOps::try_collect) and its siblings.
    ///
    /// # Wake-up contract
    ///
    /// As [`Filter`](super::Filter): `Pending` when the upstream returned it, or after
    /// [`POLL_BUDGET`](crate::POLL_BUDGET) errors in a row in one poll (then the task wakes
    /// itself first).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::ErrorStats;
    ///
    /// let stats = ErrorStats::shared();
    /// let parsed: Vec<u32> = weir::iter(["1", "x", "3"])
    ///     .map(|s| s.parse::<u32>())
    ///     .skip_errors(stats.clone())
    ///     .collect()
    ///     .await;
    /// assert_eq!(parsed, [1, 3]);
    /// assert_eq!((stats.errors(), stats.total()), (1, 3));
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct SkipErrors<St> {
        #[pin]
        stream: Fuse<St>,
        stats: Arc<ErrorStats>,
    }
}

impl<St: fmt::Debug> fmt::Debug for SkipErrors<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkipErrors")
            .field("stream", &self.stream)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<St> SkipErrors<St> {
    pub(crate) fn new(stream: St, stats: Arc<ErrorStats>) -> Self {
        SkipErrors {
            stream: Fuse::new(stream),
            stats,
        }
    }

    /// The counters this stream records into.
    pub fn stats(&self) -> Arc<ErrorStats> {
        self.stats.clone()
    }

    upstream_accessors!();
}

impl<St, T, E> FusedStream for SkipErrors<St>
where
    St: Stream<Item = Result<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done()
    }
}

impl<St, T, E> Stream for SkipErrors<St>
where
    St: Stream<Item = Result<T, E>>,
{
    type Item = T;

    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.project();
        let stats = &**this.stats;
        let (upstream, done) = this.stream.split();
        poll_select(upstream, done, cx, |result| {
            stats.record(&result);
            result.ok()
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}
