//! [`RingReceiver`]: the receiving end of a ring channel, a [`Stream`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Shared, State, Wakers, wake_all};
use crate::channel::error::TryRecvError;
use crate::stats::{StatsHandle, add_as_sole_writer};
use crate::sync::Arc;
use crate::sync::MutexGuard;

/// The receiving side of a [`ring_channel`](super::ring_channel): a [`Stream`] of the items in arrival order.
#[must_use = "streams do nothing unless polled"]
pub struct RingReceiver<T> {
    pub(super) shared: Arc<Shared<T>>,
    pub(super) done: bool,
}

impl<T> fmt::Debug for RingReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingReceiver")
            .field("capacity", &self.shared.capacity)
            .field("overflow", &self.shared.overflow)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T> RingReceiver<T> {
    /// Takes the oldest buffered item without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is buffered but senders may still send;
    /// [`TryRecvError::Disconnected`] when nothing is buffered and nothing will be.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let (item, over, wakers) = {
            let mut state = self.shared.lock();
            let item = state.ring.pop_front();
            let over = state.senders == 0 || !state.receiver_alive;
            (item, over, state.grant_if_waiting(self.shared.capacity))
        };
        if let Some(wakers) = wakers {
            wake_all(wakers);
        }
        match item {
            Some(item) => {
                add_as_sole_writer(&self.shared.stats.processed, 1);
                Ok(item)
            }
            None if over => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for items and moves up to `limit` of them (all there are, within the limit) to
    /// the end of `buffer`, in one lock: the batch form of receiving, as tokio's
    /// `Receiver::recv_many`. Resolves to how many were moved: 0 only when the channel is
    /// over (no sender left, or closed) and empty, or when `limit` is 0.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let (tx, mut rx) = ring_channel(8, Overflow::Block);
    /// for i in 0..5 {
    ///     tx.try_send(i).unwrap();
    /// }
    /// drop(tx);
    /// let mut batch = Vec::new();
    /// assert_eq!(rx.recv_many(&mut batch, 3).await, 3);
    /// assert_eq!(rx.recv_many(&mut batch, 3).await, 2);
    /// assert_eq!(rx.recv_many(&mut batch, 3).await, 0);
    /// assert_eq!(batch, [0, 1, 2, 3, 4]);
    /// # }
    /// ```
    pub fn recv_many<'a>(&'a mut self, buffer: &'a mut Vec<T>, limit: usize) -> RecvMany<'a, T> {
        RecvMany {
            receiver: self,
            buffer,
            limit,
        }
    }

    /// Moves up to `limit` items to `buffer` (`Ready(n)`, `n > 0`); `Ready(0)` when over;
    /// `Pending`, the waker registered, when the channel is empty but senders may still send.
    fn poll_take(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if self.done || limit == 0 {
            return Poll::Ready(0);
        }
        let shared = &*self.shared;
        let mut state = shared.lock();
        let n = state.ring.len().min(limit);
        if n > 0 {
            buffer.extend(state.ring.drain(..n));
            taken(shared, state, n);
            return Poll::Ready(n);
        }
        if wait(state, &mut self.done, cx) {
            Poll::Pending
        } else {
            Poll::Ready(0)
        }
    }

    /// Stops accepting sends: senders (waiting ones included) get their items back as
    /// closed from now on, and the stream ends once what is buffered has been received.
    pub fn close(&mut self) {
        let wakers = {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            state.promised.clear();
            let mut wakers = Wakers::default();
            for (_, waker) in state.blocked.drain(..) {
                wakers.push(waker);
            }
            wakers
        };
        wake_all(wakers);
    }

    /// Whether no item can arrive any more: every sender is gone, or the receiver was
    /// closed. Items may still be buffered.
    pub fn is_closed(&self) -> bool {
        let state = self.shared.lock();
        state.senders == 0 || !state.receiver_alive
    }

    /// Items buffered now.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How full the channel is, from 0.0 (empty) to 1.0 (full): a load gauge for adaptive
    /// sampling.
    pub fn fill_ratio(&self) -> f64 {
        self.len() as f64 / self.shared.capacity as f64
    }

    /// A handle to the channel's counters.
    pub fn stats(&self) -> StatsHandle {
        self.shared.stats.clone()
    }
}

/// [`poll_next`](Stream::poll_next) under `state`'s lock, when a sender waits or the channel is
/// empty: takes an item and promises its slot to the sender first in line, or waits.
#[cold]
#[inline(never)]
fn poll_rest<T>(
    shared: &Shared<T>,
    mut state: MutexGuard<'_, State<T>>,
    done: &mut bool,
    cx: &Context<'_>,
) -> Poll<Option<T>> {
    if let Some(item) = state.ring.pop_front() {
        taken(shared, state, 1);
        return Poll::Ready(Some(item));
    }
    if wait(state, done, cx) {
        Poll::Pending
    } else {
        Poll::Ready(None)
    }
}

/// After `n` items were taken out of the ring under `state`'s lock: promises the freed slots to
/// the senders waiting longest, releases the lock, counts the items and wakes those senders.
fn taken<T>(shared: &Shared<T>, mut state: MutexGuard<'_, State<T>>, n: usize) {
    let wakers = state.grant_if_waiting(shared.capacity);
    drop(state);
    add_as_sole_writer(&shared.stats.processed, n);
    if let Some(wakers) = wakers {
        wake_all(wakers);
    }
}

/// With the channel empty (under `state`'s lock): registers the task's waker and returns
/// `true` if senders may still send, or sets `done` and returns `false`.
fn wait<T>(mut state: MutexGuard<'_, State<T>>, done: &mut bool, cx: &Context<'_>) -> bool {
    if state.senders == 0 || !state.receiver_alive {
        drop(state);
        *done = true;
        return false;
    }
    match &state.receiver {
        Some(held) if held.will_wake(cx.waker()) => {}
        _ => state.receiver = Some(cx.waker().clone()),
    }
    true
}

impl<T> FusedStream for RingReceiver<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Stream for RingReceiver<T> {
    type Item = T;

    // The common case (an item there, no sender waiting) is small enough to be inlined into
    // the consumer's loop; the rest is out of line, in `poll_rest`.
    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let shared = &*this.shared;
        let mut state = shared.lock();
        if state.blocked.is_empty() {
            if let Some(item) = state.ring.pop_front() {
                drop(state);
                add_as_sole_writer(&shared.stats.processed, 1);
                return Poll::Ready(Some(item));
            }
        }
        poll_rest(shared, state, &mut this.done, cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let state = self.shared.lock();
        let over = state.senders == 0 || !state.receiver_alive;
        (state.ring.len(), over.then_some(state.ring.len()))
    }
}

/// Future for [`RingReceiver::recv_many`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RecvMany<'a, T> {
    receiver: &'a mut RingReceiver<T>,
    buffer: &'a mut Vec<T>,
    limit: usize,
}

impl<T> Future for RecvMany<'_, T> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = &mut *self;
        this.receiver.poll_take(cx, this.buffer, this.limit)
    }
}

impl<T> fmt::Debug for RecvMany<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMany")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<T> Drop for RingReceiver<T> {
    fn drop(&mut self) {
        let (held, blocked) = {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            state.promised.clear();
            let held = std::mem::take(&mut state.ring);
            add_as_sole_writer(&self.shared.stats.dropped, held.len());
            (held, std::mem::take(&mut state.blocked))
        };
        // The items go with the receiver, dropped outside the lock.
        drop(held);
        for (_, waker) in blocked {
            waker.wake();
        }
    }
}
