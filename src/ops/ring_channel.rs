//! [`ring_channel`]: a bounded channel between tasks whose senders, by policy, never wait.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use super::Overflow;
use crate::stats::BackpressureStats;
use crate::sync::{Arc, Mutex, MutexGuard};

/// A bounded channel with an [`Overflow`] policy: a producer task on one side, a consumer
/// stream on the other.
///
/// - [`Overflow::DropOldest`]: a send to a full channel evicts the oldest buffered item and
///   hands it back to the sender; sending never waits.
/// - [`Overflow::DropNewest`]: a send to a full channel hands the new item back; sending never
///   waits.
/// - [`Overflow::Block`]: `send(..).await` waits while the channel is full (plain bounded
///   backpressure); [`try_send`](RingSender::try_send) fails with
///   [`TrySendError::Full`] instead.
///
/// Whatever the policy, nothing is lost without the sender knowing: every item is either
/// received exactly once or handed back to a sender, and the [`stats`](RingReceiver::stats)
/// count both (`received == processed + dropped + len()` whenever no call is in progress).
///
/// Senders are `Clone`. The receiver is a [`Stream`] that ends once every sender is gone and
/// the buffer is drained. Sending after the receiver is gone hands the item back in the error.
///
/// # Implementation
///
/// One mutex guards the ring (a `VecDeque` allocated once at `capacity`), the receiver's waker,
/// the blocked senders' wakers and the counts of live senders. Every operation takes the lock
/// once, changes the state, takes the waker to wake out of the state, releases the lock and
/// only then wakes: no waker runs under the lock, and a waiter registers its waker under the
/// same lock that the other side checks, so no wake-up can be lost (the loom models in this
/// file check that).
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
/// use weir::ops::ring_channel;
///
/// let (tx, rx) = ring_channel(2, Overflow::DropOldest);
/// assert_eq!(tx.send(1).await, Ok(None));
/// assert_eq!(tx.send(2).await, Ok(None));
/// assert_eq!(tx.send(3).await, Ok(Some(1))); // full: the oldest comes back
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, [2, 3]);
/// # }
/// ```
#[track_caller]
pub fn ring_channel<T>(capacity: usize, overflow: Overflow) -> (RingSender<T>, RingReceiver<T>) {
    assert!(
        capacity > 0,
        "ring_channel: `capacity` must be at least 1, got 0"
    );
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            ring: VecDeque::with_capacity(capacity),
            senders: 1,
            receiver_alive: true,
            receiver: None,
            blocked: Vec::new(),
            next_ticket: 0,
        }),
        capacity,
        overflow,
        stats: Arc::new(BackpressureStats::new()),
    });
    (
        RingSender {
            shared: shared.clone(),
        },
        RingReceiver {
            shared,
            done: false,
        },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    overflow: Overflow,
    stats: Arc<BackpressureStats>,
}

struct State<T> {
    ring: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
    /// The receiver's waker, while it waits for an item.
    receiver: Option<Waker>,
    /// Senders waiting for room (Block mode), in arrival order, each with its ticket.
    blocked: Vec<(u64, Waker)>,
    next_ticket: u64,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock()
    }

    fn len(&self) -> usize {
        self.lock().ring.len()
    }
}

impl<T> State<T> {
    /// Takes the waker of the first blocked sender, if the ring has room for it.
    fn take_blocked(&mut self, capacity: usize) -> Option<Waker> {
        if self.ring.len() < capacity && !self.blocked.is_empty() {
            Some(self.blocked.remove(0).1)
        } else {
            None
        }
    }
}

/// The error of a send to a channel whose receiver is gone: the item comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a ring channel whose receiver is gone")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// The error of [`RingSender::try_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full and its policy is [`Overflow::Block`].
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Closed(item) => item,
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the ring channel is full"),
            TrySendError::Closed(_) => {
                f.write_str("sending on a ring channel whose receiver is gone")
            }
        }
    }
}

impl<T: fmt::Debug> std::error::Error for TrySendError<T> {}

/// What a send did, decided under the lock.
enum Offer<T> {
    /// Buffered; `Some` is the item dropped to make room (or the rejected new one).
    Done(Option<T>, Option<Waker>),
    /// Full in Block mode: the item comes back to wait.
    Full(T),
    Closed(T),
}

/// The sending side of a [`ring_channel`]. Cloning it adds a sender.
pub struct RingSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> RingSender<T> {
    /// Offers `item` under the lock; the caller wakes the returned waker after unlocking.
    fn offer(&self, state: &mut State<T>, item: T) -> Offer<T> {
        let shared = &self.shared;
        if !state.receiver_alive {
            return Offer::Closed(item);
        }
        let dropped = if state.ring.len() < shared.capacity {
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
        shared.stats.record_received(1);
        shared.stats.record_dropped(usize::from(dropped.is_some()));
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
        let offer = self.offer(&mut self.shared.lock(), item);
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

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver_alive
    }

    /// A handle to the channel's counters.
    pub fn stats(&self) -> Arc<BackpressureStats> {
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let item = this
            .item
            .take()
            .expect("SendFuture polled after completion");
        let mut state = this.sender.shared.lock();
        if let Some(ticket) = this.ticket.take() {
            state.blocked.retain(|(t, _)| *t != ticket);
        }
        match this.sender.offer(&mut state, item) {
            Offer::Done(dropped, waker) => {
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                Poll::Ready(Ok(dropped))
            }
            Offer::Closed(item) => Poll::Ready(Err(SendError(item))),
            Offer::Full(item) => {
                let ticket = state.next_ticket;
                state.next_ticket += 1;
                state.blocked.push((ticket, cx.waker().clone()));
                this.ticket = Some(ticket);
                this.item = Some(item);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let shared = &self.sender.shared;
        let waker = {
            let mut state = shared.lock();
            let before = state.blocked.len();
            state.blocked.retain(|(t, _)| *t != ticket);
            if state.blocked.len() == before {
                // We were woken to use freed room and never did: pass the turn on.
                state.take_blocked(shared.capacity)
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}

/// The receiving side of a [`ring_channel`]: a [`Stream`] of the items in arrival order.
#[must_use = "streams do nothing unless polled"]
pub struct RingReceiver<T> {
    shared: Arc<Shared<T>>,
    done: bool,
}

impl<T> RingReceiver<T> {
    /// Takes the oldest buffered item, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let (item, waker) = {
            let mut state = self.shared.lock();
            let item = state.ring.pop_front();
            (item, state.take_blocked(self.shared.capacity))
        };
        if item.is_some() {
            self.shared.stats.record_processed(1);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        item
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
    pub fn stats(&self) -> Arc<BackpressureStats> {
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
            let waker = state.take_blocked(shared.capacity);
            drop(state);
            shared.stats.record_processed(1);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Some(item));
        }
        if state.senders == 0 {
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
        let upper = (state.senders == 0).then_some(state.ring.len());
        (state.ring.len(), upper)
    }
}

impl<T> FusedStream for RingReceiver<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for RingReceiver<T> {
    fn drop(&mut self) {
        let blocked = {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            std::mem::take(&mut state.blocked)
        };
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

#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::*;
    use crate::sync::thread;
    use std::future::poll_fn;

    fn recv<T>(rx: &mut RingReceiver<T>) -> Option<T> {
        loom::future::block_on(poll_fn(|cx| Pin::new(&mut *rx).poll_next(cx)))
    }

    /// Invariant: no lost wake-up. The receiver waits on an empty channel while a sender sends
    /// from another thread; the receiver always gets the item.
    #[test]
    fn receiver_is_woken_by_a_send() {
        loom::model(|| {
            let (tx, mut rx) = ring_channel(1, Overflow::DropOldest);
            let sender = thread::spawn(move || {
                assert!(matches!(tx.try_send(7), Ok(None)));
                tx
            });
            assert_eq!(recv(&mut rx), Some(7));
            drop(sender.join().unwrap());
        });
    }

    /// Invariant: conservation. Two senders, capacity 1, DropOldest: every item is either
    /// received exactly once or handed back to its sender as dropped, never both, never
    /// neither; each sender's received items keep their order. `Arc` payloads: a leaked or
    /// doubly-dropped item would break the strong counts checked at the end.
    #[test]
    fn drop_oldest_conserves_every_item() {
        loom::model(|| {
            let (tx, mut rx) = ring_channel::<Arc<(u8, u8)>>(1, Overflow::DropOldest);
            let tokens: Vec<Arc<(u8, u8)>> = (0..2)
                .flat_map(|s| (0..2).map(move |i| Arc::new((s, i))))
                .collect();
            let senders: Vec<_> = (0..2u8)
                .map(|s| {
                    let tx = tx.clone();
                    let mine: Vec<_> = tokens.iter().filter(|t| t.0 == s).cloned().collect();
                    thread::spawn(move || {
                        let mut back = Vec::new();
                        for item in mine {
                            if let Some(dropped) = tx.try_send(item).unwrap() {
                                back.push(dropped);
                            }
                        }
                        back
                    })
                })
                .collect();
            drop(tx);
            let mut received = Vec::new();
            while let Some(item) = recv(&mut rx) {
                received.push(item);
            }
            let mut returned = Vec::new();
            for s in senders {
                returned.extend(s.join().unwrap());
            }
            assert_eq!(received.len() + returned.len(), 4);
            for token in &tokens {
                let seen = received
                    .iter()
                    .chain(&returned)
                    .filter(|t| Arc::ptr_eq(t, token));
                assert_eq!(
                    seen.count(),
                    1,
                    "item {token:?} not accounted for exactly once"
                );
            }
            for s in 0..2 {
                let order: Vec<u8> = received.iter().filter(|t| t.0 == s).map(|t| t.1).collect();
                assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
            }
            let stats = rx.stats();
            assert_eq!(stats.received(), 4);
            assert_eq!(stats.processed() + stats.dropped(), 4);
            drop((received, returned));
            assert!(tokens.iter().all(|t| Arc::strong_count(t) == 1));
        });
    }

    /// Invariant: no lost wake-up in Block mode. A sender waiting on a full ring is woken when
    /// the receiver takes an item, and its item arrives.
    #[test]
    fn blocked_sender_is_woken_by_a_receive() {
        loom::model(|| {
            let (tx, mut rx) = ring_channel(1, Overflow::Block);
            tx.try_send(1).unwrap();
            let sender = thread::spawn(move || {
                let sent = loom::future::block_on(tx.send(2));
                assert_eq!(sent, Ok(None));
            });
            assert_eq!(recv(&mut rx), Some(1));
            assert_eq!(recv(&mut rx), Some(2));
            sender.join().unwrap();
            assert_eq!(recv(&mut rx), None);
        });
    }

    /// Invariant: closing wakes the other side. The last sender dropping wakes a waiting
    /// receiver, which ends.
    #[test]
    fn last_sender_drop_ends_a_waiting_receiver() {
        loom::model(|| {
            let (tx, mut rx) = ring_channel::<u8>(1, Overflow::DropNewest);
            let tx2 = tx.clone();
            let a = thread::spawn(move || drop(tx));
            let b = thread::spawn(move || drop(tx2));
            assert_eq!(recv(&mut rx), None);
            a.join().unwrap();
            b.join().unwrap();
        });
    }

    /// Invariant: closing wakes the other side. The receiver dropping wakes a sender blocked
    /// on a full ring, which gets its item back.
    #[test]
    fn receiver_drop_releases_a_blocked_sender() {
        loom::model(|| {
            let (tx, rx) = ring_channel(1, Overflow::Block);
            tx.try_send(1).unwrap();
            let sender = thread::spawn(move || loom::future::block_on(tx.send(2)));
            drop(rx);
            assert_eq!(sender.join().unwrap(), Err(SendError(2)));
        });
    }
}
