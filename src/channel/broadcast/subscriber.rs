//! [`Subscriber`] and [`WithLag`]: the receiving side of a broadcast.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{BATCH, Delivery, Shared};
use crate::channel::error::{Lagged, RecvError};
use crate::sync::{Arc, Ordering};

/// The receiving side of a [`broadcast`](super::broadcast()): a [`Stream`] of every item sent after it joined,
/// minus, for a [`Delivery::Lagging`] subscriber, the ones it was too slow for (counted in
/// [`lagged`](Self::lagged)). It ends once the publisher is gone and it has read what it can.
#[must_use = "streams do nothing unless polled"]
pub struct Subscriber<T> {
    shared: Arc<Shared<T>>,
    id: u64,
    delivery: Delivery,
    /// The next sequence to copy out of the ring.
    cursor: u64,
    /// Items copied out of the ring, not yet yielded.
    buffer: VecDeque<T>,
    received: u64,
    lagged: u64,
    done: bool,
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("delivery", &self.delivery)
            .field("received", &self.received)
            .field("lagged", &self.lagged)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: Clone> Subscriber<T> {
    pub(super) fn join(shared: &Arc<Shared<T>>, delivery: Delivery) -> Self {
        let mut state = shared.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        shared.subscribers.fetch_add(1, Ordering::AcqRel);
        let cursor = state.tail;
        if delivery == Delivery::Critical {
            state.critical.push((id, cursor));
        }
        Subscriber {
            shared: shared.clone(),
            id,
            delivery,
            cursor,
            buffer: VecDeque::with_capacity(BATCH.min(shared.capacity)),
            received: 0,
            lagged: 0,
            done: false,
        }
    }

    /// A new lagging subscriber to the same broadcast, seeing what is sent from now on.
    pub fn resubscribe(&self) -> Subscriber<T> {
        Subscriber::join(&self.shared, Delivery::Lagging)
    }

    /// The next item, or why there is none, as tokio's `broadcast::Receiver::recv`: a lagging
    /// subscriber that fell behind gets `Err(RecvError::Lagged(n))` first, with the number of
    /// items it missed just there, and the item after the gap on the next call. After
    /// `Err(RecvError::Closed)` there is nothing more. As a [`Stream`] the same subscriber
    /// skips the gaps silently and counts them in [`lagged`](Self::lagged).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::channel::{broadcast, error::RecvError};
    ///
    /// let (mut publisher, mut subscriber) = broadcast(2);
    /// for i in 0..5 {
    ///     publisher.try_send(i).unwrap(); // the subscriber reads nothing yet
    /// }
    /// drop(publisher);
    /// assert_eq!(subscriber.recv().await, Err(RecvError::Lagged(3)));
    /// assert_eq!(subscriber.recv().await, Ok(3));
    /// assert_eq!(subscriber.recv().await, Ok(4));
    /// assert_eq!(subscriber.recv().await, Err(RecvError::Closed));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        match std::future::poll_fn(|cx| self.poll_with_lag(cx)).await {
            Some(Ok(item)) => Ok(item),
            Some(Err(Lagged(n))) => Err(RecvError::Lagged(n)),
            None => Err(RecvError::Closed),
        }
    }

    /// The next item, or the gap before it: what [`recv`](Self::recv) and [`WithLag`] return.
    /// A gap found while taking an item is reported first; the item waits for the next poll.
    fn poll_with_lag(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Lagged>>> {
        let lagged = self.lagged;
        let next = Pin::new(&mut *self).poll_next(cx);
        let gap = self.lagged - lagged;
        match next {
            Poll::Ready(Some(item)) if gap > 0 => {
                self.buffer.push_front(item);
                self.received -= 1;
                Poll::Ready(Some(Err(Lagged(gap))))
            }
            Poll::Ready(None) if gap > 0 => Poll::Ready(Some(Err(Lagged(gap)))),
            Poll::Ready(item) => Poll::Ready(item.map(Ok)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// This subscriber as a stream that reports its gaps: `Ok(item)` for each item and, where
    /// it fell behind, `Err(Lagged(n))` with the number of items it missed there, just before
    /// the first item after the gap (tokio's `RecvError::Lagged(n)`, in the stream).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::channel::error::Lagged;
    ///
    /// let (mut publisher, subscriber) = broadcast(2);
    /// for i in 0..5 {
    ///     publisher.try_send(i).unwrap();
    /// }
    /// drop(publisher);
    /// let got: Vec<_> = subscriber.with_lag().collect().await;
    /// assert_eq!(got, [Err(Lagged(3)), Ok(3), Ok(4)]);
    /// # }
    /// ```
    pub fn with_lag(self) -> WithLag<T> {
        WithLag { subscriber: self }
    }

    /// Items this subscriber missed because it fell behind (always 0 for
    /// [`Delivery::Critical`]).
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// Items this subscriber has yielded.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// How items reach this subscriber: lagging or critical.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Copies the next batch out of the ring; registers the waker if there is none. Returns
    /// whether the broadcast is over for this subscriber.
    fn fill(&mut self, cx: &mut Context<'_>) -> bool {
        let capacity = self.shared.capacity as u64;
        let (publisher, over) = {
            let mut state = self.shared.state.lock();
            if self.cursor < state.head {
                self.lagged += state.head - self.cursor;
                self.cursor = state.head;
            }
            let end = state.tail.min(self.cursor + BATCH as u64);
            let start = self.cursor;
            for seq in start..end {
                // Past this item before cloning it: a `Clone` that panics leaves this
                // subscriber after the bad item, with the items before it delivered once.
                self.cursor = seq + 1;
                let slot = &mut state.slots[(seq % capacity) as usize];
                let item = if slot.readers == 1 {
                    slot.readers = 0;
                    slot.item.take()
                } else {
                    let item = slot.item.clone();
                    slot.release();
                    item
                };
                self.buffer
                    .push_back(item.expect("a slot is filled until its last reader"));
            }
            let moved = end > start;
            let mut publisher = None;
            if moved && self.delivery == Delivery::Critical {
                if let Some(entry) = state.critical.iter_mut().find(|(id, _)| *id == self.id) {
                    entry.1 = end;
                }
                publisher = state.publisher.take();
            }
            let over = !moved && state.closed;
            if !moved && !over {
                match state.waiting.iter_mut().find(|(id, _)| *id == self.id) {
                    Some((_, held)) if held.will_wake(cx.waker()) => {}
                    Some((_, held)) => *held = cx.waker().clone(),
                    None => state.waiting.push((self.id, cx.waker().clone())),
                }
            }
            (publisher, over)
        };
        if let Some(waker) = publisher {
            waker.wake();
        }
        over
    }
}

/// Stream for [`Subscriber::with_lag`]: the subscriber's items as `Ok`, and its gaps as
/// `Err(Lagged(n))` where they happened.
#[must_use = "streams do nothing unless polled"]
pub struct WithLag<T> {
    subscriber: Subscriber<T>,
}

impl<T> fmt::Debug for WithLag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithLag")
            .field("subscriber", &self.subscriber)
            .finish()
    }
}

impl<T> WithLag<T> {
    /// The subscriber.
    pub fn get_ref(&self) -> &Subscriber<T> {
        &self.subscriber
    }

    /// The subscriber, by value.
    pub fn into_inner(self) -> Subscriber<T> {
        self.subscriber
    }
}

impl<T: Clone> FusedStream for WithLag<T> {
    fn is_terminated(&self) -> bool {
        self.subscriber.is_terminated()
    }
}

impl<T: Clone> Stream for WithLag<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.subscriber.poll_with_lag(cx)
    }
}

// Nothing in a subscriber is pinned: items are moved in and out of its buffer freely.
impl<T> Unpin for Subscriber<T> {}

impl<T: Clone> FusedStream for Subscriber<T> {
    fn is_terminated(&self) -> bool {
        self.done && self.buffer.is_empty()
    }
}

impl<T: Clone> Stream for Subscriber<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.buffer.is_empty() && !this.done {
            this.done = this.fill(cx);
        }
        match this.buffer.pop_front() {
            Some(item) => {
                this.received += 1;
                Poll::Ready(Some(item))
            }
            None if this.done => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.buffer.len();
        (buffered, self.done.then_some(buffered))
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        let capacity = self.shared.capacity as u64;
        let (publisher, unsubscribed) = {
            let mut state = self.shared.state.lock();
            let last = self.shared.subscribers.fetch_sub(1, Ordering::AcqRel) == 1;
            // The items this subscriber will not read are one reader short now.
            for seq in self.cursor.max(state.head)..state.tail {
                state.slots[(seq % capacity) as usize].release();
            }
            state.waiting.retain(|(id, _)| *id != self.id);
            let publisher = if self.delivery == Delivery::Critical {
                state.critical.retain(|(id, _)| *id != self.id);
                state.publisher.take()
            } else {
                None
            };
            let unsubscribed = if last {
                state.unsubscribed.take()
            } else {
                None
            };
            (publisher, unsubscribed)
        };
        for waker in [publisher, unsubscribed].into_iter().flatten() {
            waker.wake();
        }
    }
}
