//! [`MapConcurrent`]: an async map with up to `n` futures in flight, outputs in the order of
//! the items; and [`Ordered`], its engine, shared with
//! [`SpawnConcurrent`](super::SpawnConcurrent).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::stage::{Stage, Step};
use crate::poll::POLL_BUDGET;

pin_project! {
    /// A [`Stage`] whose outputs are put back in the order of their items.
    pub(crate) struct Ordered<St, Fut: Future> {
        #[pin]
        stage: Stage<St, Fut>,
        // Outputs that completed before an earlier one, by sequence number from `next_out`
        // (`None` where the future is still running).
        waiting: VecDeque<Option<Fut::Output>>,
        // The sequence number of the next output to yield.
        next_out: u64,
        // The `Some`s in `waiting`.
        held: usize,
    }
}

impl<St, Fut: Future> Ordered<St, Fut> {
    pub(crate) fn new(stream: St, n: usize) -> Self {
        Ordered {
            stage: Stage::new(stream, n),
            waiting: VecDeque::new(),
            next_out: 0,
            held: 0,
        }
    }

    pub(crate) fn stage(&self) -> &Stage<St, Fut> {
        &self.stage
    }

    upstream_accessors!(stage);

    /// Outputs that completed and wait for an earlier one.
    pub(crate) fn held(&self) -> usize {
        self.held
    }
}

impl<St: Stream, Fut: Future> Ordered<St, Fut> {
    /// The next output in item order. A future is started only while fewer than `n` items
    /// have been started and not yet yielded, so at most `n` outputs are ever held, however
    /// long the oldest future takes.
    pub(crate) fn poll_next_with(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        start: &mut impl FnMut(St::Item) -> Fut,
    ) -> Poll<Option<Fut::Output>> {
        let mut this = self.project();
        let mut budget = POLL_BUDGET;
        loop {
            if let Some(Some(_)) = this.waiting.front() {
                let output = this.waiting.pop_front().flatten();
                *this.next_out += 1;
                *this.held -= 1;
                return Poll::Ready(output);
            }
            let next_out = *this.next_out;
            let limit = this.stage.limit() as u64;
            let may_start = |started: u64| started - next_out < limit;
            match this
                .stage
                .as_mut()
                .poll_step(cx, &mut budget, may_start, start)
            {
                Step::Done(seq, output) => {
                    let at = (seq - next_out) as usize;
                    if at == 0 {
                        this.waiting.pop_front();
                        *this.next_out += 1;
                        return Poll::Ready(Some(output));
                    }
                    if this.waiting.len() <= at {
                        this.waiting.resize_with(at + 1, || None);
                    }
                    this.waiting[at] = Some(output);
                    *this.held += 1;
                }
                Step::Pending => return Poll::Pending,
                Step::End => return Poll::Ready(None),
            }
        }
    }
}

pin_project! {
    /// Stream for [`StreamOps::map_concurrent`](crate::StreamOps::map_concurrent).
    ///
    /// # State machine
    ///
    /// The upstream, a pool of futures (see
    /// [`MapConcurrentUnordered`](super::MapConcurrentUnordered)), and the outputs that
    /// completed before an earlier one, each waiting in its item's place. A poll yields the
    /// oldest item's output as soon as it is there; it starts a future for an upstream item
    /// only while fewer than `n` items have been started and not yet yielded. Futures in
    /// flight plus outputs waiting are therefore never more than `n`: a slow oldest future
    /// stops the stage from taking more items instead of letting finished outputs pile up
    /// behind it.
    ///
    /// # Wake-up contract
    ///
    /// As for [`MapConcurrentUnordered`](super::MapConcurrentUnordered): only woken futures
    /// are polled, no wake-up is lost, and one poll spends at most
    /// [`POLL_BUDGET`](crate::POLL_BUDGET) polls before waking its task and yielding.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    ///
    /// // The three run at once; the outputs keep the items' order.
    /// let start = tokio::time::Instant::now();
    /// let done: Vec<u64> = weir::iter([30u64, 10, 20])
    ///     .map_concurrent(3, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(done, [30, 10, 20]);
    /// assert_eq!(start.elapsed(), Duration::from_millis(30));
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct MapConcurrent<St, Fut: Future, F> {
        #[pin]
        inner: Ordered<St, Fut>,
        f: F,
    }
}

impl<St: fmt::Debug, Fut: Future, F> fmt::Debug for MapConcurrent<St, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapConcurrent")
            .field("stage", self.inner.stage())
            .field("held", &self.inner.held())
            .finish_non_exhaustive()
    }
}

impl<St, Fut: Future, F> MapConcurrent<St, Fut, F> {
    pub(crate) fn new(stream: St, n: usize, f: F) -> Self {
        MapConcurrent {
            inner: Ordered::new(stream, n),
            f,
        }
    }

    /// Futures in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.stage().in_flight()
    }

    /// Outputs that completed and wait for an earlier item's.
    pub fn held(&self) -> usize {
        self.inner.held()
    }

    upstream_accessors!(inner);
}

impl<St, Fut, F> FusedStream for MapConcurrent<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.inner.stage().is_done() && self.inner.held() == 0
    }
}

impl<St, Fut, F> Stream for MapConcurrent<St, Fut, F>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fut::Output>> {
        let this = self.project();
        this.inner.poll_next_with(cx, this.f)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.stage().size_hint(self.inner.held())
    }
}
