//! [`RingReceiver`]: the receiving end of a ring channel, a [`Stream`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Shared, Wakers, wake_all};
use crate::channel::error::TryRecvError;
use crate::stats::StatsHandle;
use crate::sync::Arc;

/// The receiving side of a [`ring_channel`](super::ring_channel): a [`Stream`] of the items in arrival order.
#[must_use = "streams do nothing unless polled"]
pub struct RingReceiver<T> {
    pub(super) shared: Arc<Shared<T>>,
    pub(super) done: bool,
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
                self.shared.stats.record_processed(1);
                Ok(item)
            }
            None if over => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
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

impl<T> Stream for RingReceiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        let shared = &*self.shared;
        let mut state = shared.lock();
        if let Some(item) = state.ring.pop_front() {
            let wakers = state.grant_if_waiting(shared.capacity);
            drop(state);
            shared.stats.record_processed(1);
            if let Some(wakers) = wakers {
                wake_all(wakers);
            }
            return Poll::Ready(Some(item));
        }
        if state.senders == 0 || !state.receiver_alive {
            drop(state);
            self.done = true;
            return Poll::Ready(None);
        }
        match &state.receiver {
            Some(held) if held.will_wake(cx.waker()) => {}
            _ => state.receiver = Some(cx.waker().clone()),
        }
        Poll::Pending
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

impl<T> FusedStream for RingReceiver<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for RingReceiver<T> {
    fn drop(&mut self) {
        let (held, blocked) = {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            state.promised.clear();
            let held = std::mem::take(&mut state.ring);
            self.shared.stats.record_dropped(held.len());
            (held, std::mem::take(&mut state.blocked))
        };
        // The items go with the receiver, dropped outside the lock.
        drop(held);
        for (_, waker) in blocked {
            waker.wake();
        }
    }
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
