//! [`RingSender`] and its [`SendFuture`]: the sending end of a ring channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{Shared, State, Wakers, wake_all};
use crate::channel::error::{SendError, TrySendError};
use crate::overflow::Overflow;
use crate::stats::{StatsHandle, add_as_sole_writer};
use crate::sync::{Arc, MutexGuard};

/// What a send did, decided under the lock.
enum Offer<T> {
    /// Buffered; `Some` is the item dropped to make room (or the rejected new one).
    Done(Option<T>, Option<Waker>),
    /// Full in Block mode: the item comes back to wait.
    Full(T),
    Closed(T),
}

/// The sending side of a [`ring_channel`](super::ring_channel). Cloning it adds a sender.
pub struct RingSender<T> {
    pub(super) shared: Arc<Shared<T>>,
}

impl<T> RingSender<T> {
    /// Offers `item` under the lock; the caller wakes the returned waker after unlocking.
    /// `ticket` is the waiting sender's, if it waited: a sender promised a slot takes it, a
    /// new one gets room only when no slot is promised and nobody waits before it.
    fn offer(&self, state: &mut State<T>, item: T, ticket: Option<u64>) -> Offer<T> {
        let shared = &self.shared;
        if !state.receiver_alive {
            return Offer::Closed(item);
        }
        let promised = ticket.and_then(|t| state.promised.iter().position(|p| *p == t));
        let dropped = if let Some(at) = promised {
            state.promised.swap_remove(at);
            state.ring.push_back(item);
            None
        } else if state.room_for_new(shared.capacity) {
            state.ring.push_back(item);
            None
        } else {
            match shared.overflow {
                Overflow::Block => return Offer::Full(item),
                Overflow::DropNewest => Some(item),
                Overflow::DropOldest => {
                    let oldest = state.ring.pop_front();
                    state.ring.push_back(item);
                    oldest
                }
            }
        };
        // Every writer of `received` and `dropped` holds the lock (the receiver too, when it
        // drops what it held).
        add_as_sole_writer(&shared.stats.received, 1);
        if dropped.is_some() {
            add_as_sole_writer(&shared.stats.dropped, 1);
        }
        Offer::Done(dropped, state.receiver.take())
    }

    /// Sends `item` without waiting. `Ok(Some(x))` hands back the item dropped to make room
    /// (the evicted oldest with [`Overflow::DropOldest`], `item` itself with
    /// [`Overflow::DropNewest`]).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when the channel is full and its policy is [`Overflow::Block`];
    /// [`TrySendError::Closed`] when the receiver is gone.
    pub fn try_send(&self, item: T) -> Result<Option<T>, TrySendError<T>> {
        let offer = self.offer(&mut self.shared.lock(), item, None);
        match offer {
            Offer::Done(dropped, waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
                Ok(dropped)
            }
            Offer::Full(item) => Err(TrySendError::Full(item)),
            Offer::Closed(item) => Err(TrySendError::Closed(item)),
        }
    }

    /// Sends `item`, waiting for room only with [`Overflow::Block`]. With the dropping
    /// policies the future is ready on its first poll. The output is as for
    /// [`try_send`](Self::try_send).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the item when the receiver is gone (also while waiting).
    pub fn send(&self, item: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            item: Some(item),
            ticket: None,
        }
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

    /// Whether the receiver is gone or closed: sends are refused.
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver_alive
    }

    /// A handle to the channel's counters.
    pub fn stats(&self) -> StatsHandle {
        self.shared.stats.clone()
    }
}

impl<T> Clone for RingSender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        RingSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for RingSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            if state.senders == 0 {
                state.receiver.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for RingSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingSender")
            .field("capacity", &self.shared.capacity)
            .field("overflow", &self.shared.overflow)
            .finish_non_exhaustive()
    }
}

/// Future for [`RingSender::send`].
///
/// Dropping it while it waits gives up its place; if it had already been chosen to use freed
/// room, it passes that turn to the next waiting sender, so no wake-up is lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SendFuture<'a, T> {
    sender: &'a RingSender<T>,
    item: Option<T>,
    /// Our place among the blocked senders, while we wait.
    ticket: Option<u64>,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<Option<T>, SendError<T>>;

    // The common case is small enough to be inlined into the producer's loop; the rest is out
    // of line, in `poll_rest`.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let item = this
            .item
            .take()
            .expect("SendFuture polled after completion");
        let shared = &*this.sender.shared;
        let mut state = shared.lock();
        // The common case of `offer` (a first poll, the receiver there, nobody waiting, room),
        // taken here without building `offer`'s general result, which costs this path more
        // than the push itself.
        if this.ticket.is_none() && state.receiver_alive && state.room_for_new(shared.capacity) {
            state.ring.push_back(item);
            add_as_sole_writer(&shared.stats.received, 1);
            let waker = state.receiver.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Ok(None));
        }
        this.poll_rest(state, item, cx)
    }
}

impl<'a, T> SendFuture<'a, T> {
    /// [`poll`](Future::poll) under `state`'s lock, past the common case: offers the item,
    /// and if the channel is full (Block mode), takes or keeps a place in line.
    #[cold]
    #[inline(never)]
    fn poll_rest(
        &mut self,
        mut state: MutexGuard<'a, State<T>>,
        item: T,
        cx: &Context<'_>,
    ) -> Poll<Result<Option<T>, SendError<T>>> {
        let ticket = self.ticket.take();
        match self.sender.offer(&mut state, item, ticket) {
            Offer::Done(dropped, waker) => {
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                Poll::Ready(Ok(dropped))
            }
            // Closing cleared the line and the promises: nothing of ours is left in them.
            Offer::Closed(item) => Poll::Ready(Err(SendError(item))),
            Offer::Full(item) => {
                // Still waiting (woken spuriously), or first in: keep or take a place in line.
                let ticket = match ticket {
                    Some(t) => {
                        // A promised sender would have taken its slot: this one is in line.
                        let (_, held) = state
                            .blocked
                            .iter_mut()
                            .find(|(b, _)| *b == t)
                            .expect("a waiting sender without a slot is in line");
                        if !held.will_wake(cx.waker()) {
                            *held = cx.waker().clone();
                        }
                        t
                    }
                    None => {
                        let t = state.next_ticket;
                        state.next_ticket += 1;
                        state.blocked.push_back((t, cx.waker().clone()));
                        t
                    }
                };
                self.ticket = Some(ticket);
                self.item = Some(item);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.leave_line(ticket);
        }
    }
}

impl<T> SendFuture<'_, T> {
    /// Dropped while waiting: gives up the place in line, or the slot promised to it.
    #[cold]
    #[inline(never)]
    fn leave_line(&self, ticket: u64) {
        let shared = &self.sender.shared;
        let wakers = {
            let mut state = shared.lock();
            state.blocked.retain(|(t, _)| *t != ticket);
            match state.promised.iter().position(|p| *p == ticket) {
                Some(at) => {
                    // We were promised a slot and never used it: pass it on.
                    state.promised.swap_remove(at);
                    state.grant(shared.capacity)
                }
                None => Wakers::default(),
            }
        };
        wake_all(wakers);
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}
