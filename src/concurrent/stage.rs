//! [`Stage`]: an upstream feeding a [`Pool`] of futures, the engine of every concurrent
//! operator ([`MapConcurrent`](super::MapConcurrent),
//! [`MapConcurrentUnordered`](super::MapConcurrentUnordered),
//! [`SpawnConcurrent`](super::SpawnConcurrent), [`ForEachConcurrent`](super::ForEachConcurrent)).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::pool::{Found, Pool};
use crate::adapters::Fuse;
use crate::poll::wake_self;

pin_project! {
    /// The upstream and the futures started from its items, each with its sequence number
    /// (the position of its item in the upstream).
    pub(crate) struct Stage<St, Fut> {
        #[pin]
        stream: Fuse<St>,
        pool: Pool<Fut>,
        // Futures started so far: the next one's sequence number.
        started: u64,
    }
}

/// What one [`Stage::poll_step`] came to.
pub(crate) enum Step<T> {
    /// A future completed: its sequence number and output.
    Done(u64, T),
    /// Nothing completed; a waker is registered (the upstream's, the pool's, or the task's own
    /// when the budget ran out).
    Pending,
    /// The upstream ended and every future has completed.
    End,
}

impl<St, Fut> Stage<St, Fut> {
    /// A stage of at most `limit` futures at once. The caller has checked `limit` (>= 1).
    pub(crate) fn new(stream: St, limit: usize) -> Self {
        Stage {
            stream: Fuse::new(stream),
            pool: Pool::new(limit),
            started: 0,
        }
    }

    pub(crate) fn get_ref(&self) -> &St {
        self.stream.get_ref()
    }

    pub(crate) fn get_mut(&mut self) -> &mut St {
        self.stream.get_mut()
    }

    pub(crate) fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut St> {
        self.project().stream.get_pin_mut()
    }

    /// The upstream; the futures in flight are dropped.
    pub(crate) fn into_inner(self) -> St {
        self.stream.into_inner()
    }

    /// Futures in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.pool.len()
    }

    /// The most futures in flight at once.
    pub(crate) fn limit(&self) -> usize {
        self.pool.limit()
    }

    /// Futures started so far.
    pub(crate) fn started(&self) -> u64 {
        self.started
    }

    /// Whether the upstream ended and every future completed.
    pub(crate) fn is_done(&self) -> bool {
        self.stream.is_done() && self.pool.is_empty()
    }
}

impl<St: Stream, Fut: Future> Stage<St, Fut> {
    /// Starts futures from upstream items while `may_start(started)` allows and the pool has
    /// room, and polls the futures that are new or woken, until one completes. Every upstream
    /// poll and every future poll takes one unit of `budget`; when it runs out the task is
    /// woken and `Pending` returned.
    pub(crate) fn poll_step(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        budget: &mut usize,
        may_start: impl Fn(u64) -> bool,
        start: &mut impl FnMut(St::Item) -> Fut,
    ) -> Step<Fut::Output> {
        let mut this = self.project();
        let mut upstream_waits = false;
        let mut registered = false;
        loop {
            while !upstream_waits
                && !this.stream.is_done()
                && !this.pool.is_full()
                && may_start(*this.started)
            {
                if *budget == 0 {
                    wake_self(cx);
                    return Step::Pending;
                }
                *budget -= 1;
                match this.stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        this.pool.push(start(item), *this.started);
                        *this.started += 1;
                    }
                    Poll::Ready(None) => {}
                    Poll::Pending => upstream_waits = true,
                }
            }
            match this.pool.poll_ready(budget) {
                Found::Done(seq, output) => return Step::Done(seq, output),
                Found::Budget => {
                    wake_self(cx);
                    return Step::Pending;
                }
                Found::Idle => {}
            }
            if this.pool.is_empty() && this.stream.is_done() {
                return Step::End;
            }
            if registered {
                return Step::Pending;
            }
            // Register, then look at the woken futures once more (the loop's next poll of the
            // pool): one woken before the registration is found there, one woken after it
            // wakes the task.
            this.pool.register(cx);
            registered = true;
        }
    }

    /// The stage's size hint when `held` outputs wait besides the futures in flight.
    pub(crate) fn size_hint(&self, held: usize) -> (usize, Option<usize>) {
        let here = self.pool.len().saturating_add(held);
        // `(0, Some(0))` once the upstream ended.
        let (lower, upper) = self.stream.size_hint();
        (
            lower.saturating_add(here),
            upper.and_then(|u| u.checked_add(here)),
        )
    }
}

impl<St: fmt::Debug, Fut> fmt::Debug for Stage<St, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("stream", &self.stream)
            .field("in_flight", &self.pool.len())
            .field("limit", &self.pool.limit())
            .field("started", &self.started)
            .finish()
    }
}
