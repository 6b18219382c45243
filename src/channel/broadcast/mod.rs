//! [`broadcast`]: one publisher, many subscribers, each with its own [`Delivery`].
//!
//! `mod.rs` holds the ring both ends share, `publisher.rs` the sending end (with
//! [`Subscriptions`] and the send future), `subscriber.rs` the receiving ends, `drive.rs` the
//! task behind [`StreamOps::fan_out`](crate::StreamOps::fan_out), and `loom.rs` the loom
//! models.

use std::task::Waker;

use crate::sync::{Arc, AtomicUsize, Mutex};

mod drive;
#[cfg(all(test, feature = "loom"))]
mod loom;
mod publisher;
mod subscriber;

pub(crate) use drive::drive;
pub use publisher::{PublishFuture, Publisher, Subscriptions};
pub use subscriber::{Subscriber, WithLag};

/// How many items a subscriber copies out of the ring per lock.
const BATCH: usize = 32;

/// What a full ring does about a subscriber that has not read its oldest item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Best effort: the publisher never waits for this subscriber. When it falls more than
    /// `capacity` items behind, it skips to the oldest item still held, and the items it
    /// missed are added to [`Subscriber::lagged`]. Lag never ends its stream.
    #[default]
    Lagging,
    /// Backpressure: the publisher waits before overwriting an item this subscriber has not
    /// read. No item is ever skipped.
    Critical,
}

/// A broadcast channel: every item the [`Publisher`] sends reaches every [`Subscriber`] that
/// existed when it was sent, according to each subscriber's [`Delivery`].
///
/// Each item is stored once, in a ring of `capacity` slots, and cloned when a subscriber reads
/// it, not once per subscriber at send time. A subscriber that joins late sees only what is
/// sent after it joined. Lagging subscribers never slow the publisher; critical ones do, and a
/// dropped subscriber releases its hold at once. Dropping the publisher ends every subscriber
/// after it has read what it can still see.
///
/// # Implementation
///
/// One mutex guards the ring, the cursors of the critical subscribers and the wakers. A send
/// takes the lock once; a subscriber takes it once per batch of up to 32 items, which it
/// clones into a buffer of its own. Wakers run after the lock is released.
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
#[doc = include_str!("../../../docs/operators/marbles/broadcast.txt")]
/// ```
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
/// use weir::channel::{Delivery, broadcast};
///
/// let (mut publisher, dashboard) = broadcast::<u32>(2);
/// let storage = publisher.subscribe_with(Delivery::Critical);
/// for i in 0..2 {
///     publisher.send(i).await;
/// }
/// // The ring is full and `storage` has read nothing: a third send would wait for it.
/// assert!(publisher.try_send(2).is_err());
/// drop(storage); // ... until it goes away
/// publisher.try_send(2).unwrap();
/// drop(publisher);
/// // `dashboard` lags: item 0 was overwritten before it looked.
/// let mut dashboard = dashboard;
/// assert_eq!((&mut dashboard).collect::<Vec<_>>().await, [1, 2]);
/// assert_eq!(dashboard.lagged(), 1);
/// # }
/// ```
#[track_caller]
pub fn broadcast<T: Clone>(capacity: usize) -> (Publisher<T>, Subscriber<T>) {
    assert!(
        capacity > 0,
        "broadcast: `capacity` must be at least 1, got 0"
    );
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            slots: (0..capacity).map(|_| Slot::EMPTY).collect(),
            head: 0,
            tail: 0,
            closed: false,
            publisher: None,
            unsubscribed: None,
            waiting: Vec::new(),
            critical: Vec::new(),
            next_id: 0,
            unread: 0,
        }),
        capacity,
        subscribers: AtomicUsize::new(0),
    });
    let subscriber = Subscriber::join(&shared, Delivery::Lagging);
    (Publisher { shared }, subscriber)
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Live subscribers; changed under the lock, readable without it.
    subscribers: AtomicUsize,
}

struct State<T> {
    /// The ring: item `seq` lives in `slots[seq % capacity]` while `head <= seq < tail`, and
    /// until every subscriber that was there when it was sent has read it (or left).
    slots: Vec<Slot<T>>,
    head: u64,
    tail: u64,
    closed: bool,
    /// The publisher's waker while it waits for a critical subscriber.
    publisher: Option<Waker>,
    /// The fan-out driver's waker while it waits for its upstream: woken when the last
    /// subscriber goes.
    unsubscribed: Option<Waker>,
    /// Subscribers waiting for an item, by id.
    waiting: Vec<(u64, Waker)>,
    /// Critical subscribers' cursors (the next sequence each will read), by id.
    critical: Vec<(u64, u64)>,
    next_id: u64,
    /// Items sent while nobody subscribed.
    unread: u64,
}

/// One place in the ring: an item and how many subscribers have yet to read it. The item is
/// dropped when the last of them has read it (the last one takes it without a clone) or left.
struct Slot<T> {
    item: Option<T>,
    readers: usize,
}

impl<T> Slot<T> {
    const EMPTY: Slot<T> = Slot {
        item: None,
        readers: 0,
    };

    /// One reader fewer; the item goes with the last.
    fn release(&mut self) {
        self.readers = self.readers.saturating_sub(1);
        if self.readers == 0 {
            self.item = None;
        }
    }
}

impl<T> State<T> {
    /// Whether the oldest item still held is unread by a critical subscriber, so that the
    /// publisher must not overwrite it.
    fn blocked(&self, capacity: usize) -> bool {
        self.tail - self.head == capacity as u64
            && self.critical.iter().any(|&(_, c)| c == self.head)
    }
}
