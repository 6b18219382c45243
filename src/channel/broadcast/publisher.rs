//! [`Publisher`], its [`PublishFuture`], and [`Subscriptions`]: the sending side of a broadcast.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{Delivery, Shared, Slot, State, Subscriber};
use crate::channel::error::Full;
use crate::sync::{Arc, Ordering};

/// The sending side of a [`broadcast`](super::broadcast()).
///
/// There is one publisher per broadcast, and it is not `Clone`: the ring's write position,
/// the one waker of a publisher waiting for a critical subscriber and the batching of wake-ups
/// ([`feed`](Self::feed) / [`flush`](Self::flush)) all assume a single writer, which is what
/// keeps a send to one lock and no atomic read-modify-write. For several producers, send into
/// a [`ring_channel`](crate::channel::ring_channel()) or [`merge`](crate::merge::merge()) their
/// streams, and [`fan_out`](crate::StreamOps::fan_out) the result.
pub struct Publisher<T> {
    pub(super) shared: Arc<Shared<T>>,
}

/// Adds subscribers to a [`broadcast`](super::broadcast()) without being a subscriber or a publisher: made by
/// [`Publisher::subscriptions`], cheap to clone. A subscriber made after the publisher is gone
/// ends at once.
pub struct Subscriptions<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone> Subscriptions<T> {
    /// Adds a lagging subscriber that sees what is sent from now on.
    pub fn subscribe(&self) -> Subscriber<T> {
        Subscriber::join(&self.shared, Delivery::Lagging)
    }

    /// Adds a subscriber with `delivery` that sees what is sent from now on.
    pub fn subscribe_with(&self, delivery: Delivery) -> Subscriber<T> {
        Subscriber::join(&self.shared, delivery)
    }

    /// How many subscribers the broadcast has now.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscribers.load(Ordering::Acquire)
    }
}

impl<T> Clone for Subscriptions<T> {
    fn clone(&self) -> Self {
        Subscriptions {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for Subscriptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriptions")
            .field("capacity", &self.shared.capacity)
            .field(
                "subscribers",
                &self.shared.subscribers.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl<T: Clone> Publisher<T> {
    /// A handle that adds subscribers from anywhere, for as long as the broadcast lasts,
    /// without being one: it neither reads items nor keeps the broadcast open.
    pub fn subscriptions(&self) -> Subscriptions<T> {
        Subscriptions {
            shared: self.shared.clone(),
        }
    }

    /// Adds a lagging subscriber that sees what is sent from now on.
    pub fn subscribe(&self) -> Subscriber<T> {
        Subscriber::join(&self.shared, Delivery::Lagging)
    }

    /// Adds a subscriber with `delivery` that sees what is sent from now on.
    pub fn subscribe_with(&self, delivery: Delivery) -> Subscriber<T> {
        Subscriber::join(&self.shared, delivery)
    }

    /// Sends `item` without waiting.
    ///
    /// # Errors
    ///
    /// [`Full`] when a critical subscriber has not read the item that would be overwritten.
    pub fn try_send(&mut self, item: T) -> Result<(), Full<T>> {
        self.offer(item, None, true)
    }

    /// Sends `item`, waiting only while a critical subscriber holds the ring. With only
    /// lagging subscribers (or none) it is ready on its first poll. Sending with no
    /// subscribers is not an error: the item is counted in [`unread`](Self::unread).
    pub fn send(&mut self, item: T) -> PublishFuture<'_, T> {
        PublishFuture {
            publisher: self,
            item: Some(item),
            wake: true,
        }
    }

    /// Stores `item` unless a critical subscriber holds the ring. Wakes the waiting
    /// subscribers if `wake` (else they wait for [`flush`](Self::flush)), and always when
    /// blocked, so that the subscribers that would free the ring get to run.
    fn offer(&mut self, item: T, waker: Option<&Waker>, wake: bool) -> Result<(), Full<T>> {
        let capacity = self.shared.capacity;
        let (result, waiting) = {
            let mut state = self.shared.state.lock();
            if self.shared.subscribers.load(Ordering::Relaxed) == 0 {
                state.unread += 1;
                return Ok(());
            }
            if state.blocked(capacity) {
                if let Some(waker) = waker {
                    state.publisher = Some(waker.clone());
                }
                (Err(Full(item)), std::mem::take(&mut state.waiting))
            } else {
                let readers = self.shared.subscribers.load(Ordering::Relaxed);
                let State {
                    slots, head, tail, ..
                } = &mut *state;
                if *tail - *head == capacity as u64 {
                    *head += 1;
                }
                // Overwriting drops the oldest item here, under the lock: fine for any `T`
                // whose drop does not take this lock.
                slots[(*tail % capacity as u64) as usize] = Slot {
                    item: Some(item),
                    readers,
                };
                *tail += 1;
                let waiting = if wake && !state.waiting.is_empty() {
                    std::mem::take(&mut state.waiting)
                } else {
                    Vec::new()
                };
                (Ok(()), waiting)
            }
        };
        for (_, waker) in waiting {
            waker.wake();
        }
        result
    }

    /// Like [`try_send`](Self::try_send), but leaves the subscribers waiting for new items
    /// asleep until [`flush`](Self::flush) (or a send, or the publisher's drop). A producer
    /// with a burst of items feeds them and flushes once, so each waiting subscriber is woken
    /// once per burst instead of once per item. Forgetting to flush leaves subscribers
    /// waiting for items that are there.
    ///
    /// # Errors
    ///
    /// [`Full`], as for `try_send` (the waiting subscribers are woken then, so that they can
    /// free the ring).
    pub fn try_feed(&mut self, item: T) -> Result<(), Full<T>> {
        self.offer(item, None, false)
    }

    /// Like [`send`](Self::send), without waking subscribers: see [`try_feed`](Self::try_feed).
    pub fn feed(&mut self, item: T) -> PublishFuture<'_, T> {
        PublishFuture {
            publisher: self,
            item: Some(item),
            wake: false,
        }
    }

    /// Wakes the subscribers waiting for items fed since they last looked.
    pub fn flush(&mut self) {
        let waiting = std::mem::take(&mut self.shared.state.lock().waiting);
        for (_, waker) in waiting {
            waker.wake();
        }
    }

    /// How many subscribers there are now.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscribers.load(Ordering::Acquire)
    }

    /// `Ready` once there is no subscriber; otherwise registers the task's waker, woken when
    /// the last subscriber goes.
    pub(crate) fn poll_unsubscribed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.state.lock();
        if self.shared.subscribers.load(Ordering::Acquire) == 0 {
            return Poll::Ready(());
        }
        match &state.unsubscribed {
            Some(held) if held.will_wake(cx.waker()) => {}
            _ => state.unsubscribed = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Items sent while there was no subscriber.
    pub fn unread(&self) -> u64 {
        self.shared.state.lock().unread
    }

    /// Items sent to at least one subscriber.
    pub fn sent(&self) -> u64 {
        self.shared.state.lock().tail
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.shared.state.lock();
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// Future for [`Publisher::send`] and [`Publisher::feed`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct PublishFuture<'a, T> {
    publisher: &'a mut Publisher<T>,
    item: Option<T>,
    wake: bool,
}

impl<T> Unpin for PublishFuture<'_, T> {}

impl<T: Clone> Future for PublishFuture<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let item = this
            .item
            .take()
            .expect("PublishFuture polled after completion");
        match this.publisher.offer(item, Some(cx.waker()), this.wake) {
            Ok(()) => Poll::Ready(()),
            Err(Full(item)) => {
                this.item = Some(item);
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for PublishFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishFuture").finish_non_exhaustive()
    }
}
