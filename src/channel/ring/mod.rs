//! [`ring_channel`]: a bounded channel between tasks whose senders, by policy, never wait.
//!
//! `mod.rs` holds the state both ends share (the ring, the waiting senders and their promised
//! slots), `sender.rs` the sending end and its future, `receiver.rs` the receiving end, and
//! `loom.rs` the loom models of the two ends racing.

use std::collections::VecDeque;
use std::task::Waker;

use crate::overflow::Overflow;
use crate::stats::{BackpressureStats, StatsHandle};
use crate::sync::{Arc, Mutex, MutexGuard};

#[cfg(all(test, feature = "loom"))]
mod loom;
mod receiver;
mod sender;

pub use receiver::{RecvMany, RingReceiver};
pub use sender::{RingSender, SendFuture};

/// A bounded channel with an [`Overflow`] policy: a producer task on one side, a consumer
/// stream on the other.
///
/// - [`Overflow::DropOldest`]: a send to a full channel evicts the oldest buffered item and
///   hands it back to the sender; sending never waits.
/// - [`Overflow::DropNewest`]: a send to a full channel hands the new item back; sending never
///   waits.
/// - [`Overflow::Block`]: `send(..).await` waits while the channel is full (plain bounded
///   backpressure); [`try_send`](RingSender::try_send) fails with
///   [`TrySendError::Full`](crate::channel::error::TrySendError::Full) instead.
///
/// Whatever the policy, nothing is lost without being counted: every item is received
/// exactly once, handed back to a sender, or, when the receiver goes away with items still
/// buffered, dropped with it (as tokio's channels do) and counted as dropped. The
/// [`stats`](RingReceiver::stats) count all three (`received == processed + dropped + len()`
/// whenever no call is in progress).
///
/// Senders are `Clone`. The receiver is a [`Stream`](futures_core::Stream) that ends once every sender is gone (or
/// it was [`close`](RingReceiver::close)d) and the buffer is drained. Sending after the
/// receiver is gone or closed hands the item back in the error.
///
/// # Waiting senders (`Block`)
///
/// Senders that wait for room are served first come, first served, as by tokio's semaphore:
/// when the receiver frees a slot, it is promised to the sender that has waited longest and
/// woken; until that sender uses it, the slot counts as taken, so a
/// [`try_send`](RingSender::try_send) from elsewhere reports [`TrySendError::Full`](crate::channel::error::TrySendError::Full) and a new
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
/// other side checks, so no wake-up can be lost (the loom models in `loom.rs` check that).
/// Items dropped with the receiver are dropped after the lock is released. The counters are
/// added to with a plain load and store, not a read-modify-write: `received` and `dropped`
/// only under the lock (every writer of them holds it), `processed` only by the receiver.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Marble diagram
///
/// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
/// the end, `(x)` an item dropped, `x!` a late one):
///
/// ```text
#[doc = include_str!("../../../docs/operators/marbles/ring_channel_block.txt")]
/// ```
///
/// ```text
#[doc = include_str!("../../../docs/operators/marbles/ring_channel_drop_oldest.txt")]
/// ```
///
/// ```text
#[doc = include_str!("../../../docs/operators/marbles/ring_channel_drop_newest.txt")]
/// ```
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
/// use weir::channel::ring_channel;
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

pub(super) struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    overflow: Overflow,
    stats: StatsHandle,
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

    /// Whether a new send (one that was not promised a slot) may take a slot now: one is
    /// free, and no sender waits before it.
    #[inline(always)]
    fn room_for_new(&self, capacity: usize) -> bool {
        self.blocked.is_empty() && self.free(capacity) > 0
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
