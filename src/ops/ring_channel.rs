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
/// Whatever the policy, nothing is lost without being counted: every item is received
/// exactly once, handed back to a sender, or, when the receiver goes away with items still
/// buffered, dropped with it (as tokio's channels do) and counted as dropped. The
/// [`stats`](RingReceiver::stats) count all three (`received == processed + dropped + len()`
/// whenever no call is in progress).
///
/// Senders are `Clone`. The receiver is a [`Stream`] that ends once every sender is gone (or
/// it was [`close`](RingReceiver::close)d) and the buffer is drained. Sending after the
/// receiver is gone or closed hands the item back in the error.
///
/// # Waiting senders (`Block`)
///
/// Senders that wait for room are served first come, first served, as by tokio's semaphore:
/// when the receiver frees a slot, it is promised to the sender that has waited longest and
/// woken; until that sender uses it, the slot counts as taken, so a
/// [`try_send`](RingSender::try_send) from elsewhere reports [`TrySendError::Full`] and a new
/// `send` queues behind. A waiting `send` future that is dropped gives up its place, and a
/// promised slot passes to the next in line.
///
/// # Memory
///
/// The ring grows as items arrive (doubling, like a `Vec`) up to `capacity`: a channel costs
/// memory for the items it has held at once, not for its capacity, so any capacity up to
/// `usize::MAX` is allowed (`ring_channel::<u64>(1 << 40, ..)` allocates nothing up front).
///
/// # Implementation
///
/// One mutex guards the ring, the receiver's waker, the waiting senders' wakers, the promised
/// slots and the counts of live senders. Every operation takes the lock once, changes the
/// state, takes the waker to wake out of the state, releases the lock and only then wakes: no
/// waker runs under the lock, and a waiter registers its waker under the same lock that the
/// other side checks, so no wake-up can be lost (the loom models in this file check that).
/// Items dropped with the receiver are dropped after the lock is released.
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
            ring: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
            receiver: None,
            blocked: VecDeque::new(),
            promised: Vec::new(),
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
    /// False once the receiver is gone or closed: sends are refused.
    receiver_alive: bool,
    /// The receiver's waker, while it waits for an item.
    receiver: Option<Waker>,
    /// Senders waiting for room (Block mode), in arrival order, each with its ticket.
    blocked: VecDeque<(u64, Waker)>,
    /// Tickets of woken senders, each promised one free slot it has not used yet.
    promised: Vec<u64>,
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
    /// Slots that are neither filled nor promised.
    fn free(&self, capacity: usize) -> usize {
        capacity - self.ring.len() - self.promised.len()
    }

    /// [`grant`](Self::grant) when a sender waits: `None`, at the cost of one check, when
    /// none does (the common case on the receiving side).
    #[inline(always)]
    fn grant_if_waiting(&mut self, capacity: usize) -> Option<Wakers> {
        if self.blocked.is_empty() {
            None
        } else {
            Some(self.grant(capacity))
        }
    }

    /// Promises the free slots to the senders that have waited longest; returns the wakers to
    /// wake (after the lock is released).
    #[cold]
    #[inline(never)]
    fn grant(&mut self, capacity: usize) -> Wakers {
        let mut woken = Wakers::default();
        while !self.blocked.is_empty() && self.free(capacity) > 0 {
            let (ticket, waker) = self.blocked.pop_front().expect("not empty");
            self.promised.push(ticket);
            woken.push(waker);
        }
        woken
    }
}

/// Wakers to wake once the lock is released: the first inline (the common case, one sender
/// woken for one freed slot, allocates nothing), the others in a `Vec`.
#[derive(Default)]
struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }
}

#[cold]
#[inline(never)]
fn wake_all(wakers: Wakers) {
    if let Some(waker) = wakers.first {
        waker.wake();
        for waker in wakers.rest {
            waker.wake();
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
        } else if state.free(shared.capacity) > 0 && state.blocked.is_empty() {
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
        let ticket = this.ticket.take();
        match this.sender.offer(&mut state, item, ticket) {
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

/// The receiving side of a [`ring_channel`]: a [`Stream`] of the items in arrival order.
#[must_use = "streams do nothing unless polled"]
pub struct RingReceiver<T> {
    shared: Arc<Shared<T>>,
    done: bool,
}

/// Why [`RingReceiver::try_recv`] returned no item: tokio's `TryRecvError` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered now; senders may still send.
    Empty,
    /// Nothing is buffered and nothing will be: every sender is gone, or the receiver was
    /// closed.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the ring channel is empty"),
            TryRecvError::Disconnected => {
                f.write_str("the ring channel is empty and will stay empty")
            }
        }
    }
}

impl std::error::Error for TryRecvError {}

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

    /// Invariant: no lost wake-up when a waiting send is cancelled. One sender polls its send
    /// once on a full ring and drops the future; another waits. Whether the first was promised
    /// the freed slot or not, the second's item arrives (a promised slot that is not passed on
    /// would leave it waiting for ever: loom reports the deadlock).
    #[test]
    fn a_cancelled_send_passes_its_promised_slot_on() {
        loom::model(|| {
            let (tx, mut rx) = ring_channel(1, Overflow::Block);
            tx.try_send(0).unwrap();
            let tx_a = tx.clone();
            let a = thread::spawn(move || {
                let mut send = tx_a.send(1);
                let waker = futures::task::noop_waker();
                let sent = Pin::new(&mut send)
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready();
                drop(send);
                sent
            });
            let b = thread::spawn(move || loom::future::block_on(tx.send(2)));
            let mut got = Vec::new();
            while let Some(item) = recv(&mut rx) {
                got.push(item);
            }
            let a_sent = a.join().unwrap();
            assert_eq!(b.join().unwrap(), Ok(None));
            let want: Vec<i32> = if a_sent { vec![0, 1, 2] } else { vec![0, 2] };
            got.sort_unstable();
            assert_eq!(got, want);
        });
    }
}
