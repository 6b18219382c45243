//! [`broadcast`]: one publisher, many subscribers, each with its own [`Policy`].

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use super::{POLL_BUDGET, yield_now};
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};

/// How many items a subscriber copies out of the ring per lock.
const BATCH: usize = 32;

/// What a full ring does about a subscriber that has not read its oldest item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
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
/// existed when it was sent, according to each subscriber's [`Policy`].
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
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
/// use weir::ops::broadcast::{broadcast, Policy};
///
/// let (mut publisher, dashboard) = broadcast::<u32>(2);
/// let storage = publisher.subscribe_with(Policy::Critical);
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
    let subscriber = Subscriber::join(&shared, Policy::Lagging);
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

/// The sending side of a [`broadcast`].
///
/// There is one publisher per broadcast, and it is not `Clone`: the ring's write position,
/// the one waker of a publisher waiting for a critical subscriber and the batching of wake-ups
/// ([`feed`](Self::feed) / [`flush`](Self::flush)) all assume a single writer, which is what
/// keeps a send to one lock and no atomic read-modify-write. For several producers, send into
/// a [`ring_channel`](crate::ops::ring_channel()) or [`merge`](crate::ops::merge()) their
/// streams, and [`fan_out`](crate::StreamOps::fan_out) the result.
pub struct Publisher<T> {
    shared: Arc<Shared<T>>,
}

/// Adds subscribers to a [`broadcast`] without being a subscriber or a publisher: made by
/// [`Publisher::subscriptions`], cheap to clone. A subscriber made after the publisher is gone
/// ends at once.
pub struct Subscriptions<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone> Subscriptions<T> {
    /// Adds a lagging subscriber that sees what is sent from now on.
    pub fn subscribe(&self) -> Subscriber<T> {
        Subscriber::join(&self.shared, Policy::Lagging)
    }

    /// Adds a subscriber with `policy` that sees what is sent from now on.
    pub fn subscribe_with(&self, policy: Policy) -> Subscriber<T> {
        Subscriber::join(&self.shared, policy)
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

/// Why [`Subscriber::recv`] returned no item: tokio's `broadcast::error::RecvError` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The publisher is gone and every item this subscriber could read has been read.
    Closed,
    /// This (lagging) subscriber fell behind and missed this many items just before the next
    /// one `recv` returns.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("the broadcast is closed"),
            RecvError::Lagged(n) => write!(f, "the subscriber lagged behind by {n} items"),
        }
    }
}

impl std::error::Error for RecvError {}

/// The error of [`Publisher::try_send`]: a critical subscriber has not read the item the ring
/// would overwrite. The item comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the broadcast ring is full of items a critical subscriber has not read")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}

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
        Subscriber::join(&self.shared, Policy::Lagging)
    }

    /// Adds a subscriber with `policy` that sees what is sent from now on.
    pub fn subscribe_with(&self, policy: Policy) -> Subscriber<T> {
        Subscriber::join(&self.shared, policy)
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
    pub fn send(&mut self, item: T) -> BroadcastSend<'_, T> {
        BroadcastSend {
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
    pub fn feed(&mut self, item: T) -> BroadcastSend<'_, T> {
        BroadcastSend {
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

/// Drives `upstream` into `publisher` until the upstream ends or every subscriber is gone:
/// the task behind [`StreamOps::fan_out`](crate::StreamOps::fan_out). It feeds items while
/// the upstream has them ready and flushes the subscribers' wake-ups when the upstream pauses
/// (or every [`POLL_BUDGET`] items), so a burst costs each subscriber one wake-up.
pub(crate) async fn drive<St>(upstream: St, mut publisher: Publisher<St::Item>)
where
    St: Stream,
    St::Item: Clone,
{
    let mut upstream = std::pin::pin!(upstream);
    // Subscribers are woken, and the task yields so that they run, at least every half ring:
    // a lagging subscriber that keeps up is never lapped by a burst.
    let batch = publisher.shared.capacity.div_ceil(2).clamp(1, POLL_BUDGET);
    let mut fed = 0;
    loop {
        let next = std::future::poll_fn(|cx| match upstream.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Ready(None),
            Poll::Ready(next) => Poll::Ready(Some(next)),
        })
        .await;
        let item = match next {
            // The upstream paused: wake the subscribers, then wait for the upstream, or for
            // every subscriber to go (then the upstream is dropped at once).
            None => {
                publisher.flush();
                fed = 0;
                let next = std::future::poll_fn(|cx| {
                    if publisher.poll_unsubscribed(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    upstream.as_mut().poll_next(cx).map(Some)
                })
                .await;
                match next {
                    Some(Some(item)) => item,
                    Some(None) | None => return,
                }
            }
            Some(Some(item)) => item,
            Some(None) => return,
        };
        publisher.feed(item).await;
        fed += 1;
        if fed == batch {
            publisher.flush();
            fed = 0;
            yield_once().await;
        }
        if publisher.subscriber_count() == 0 {
            return;
        }
    }
}

/// Returns `Pending` once, waking the task first: lets the tasks just woken run.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            yield_now(cx);
            Poll::Pending
        }
    })
    .await;
}

/// Future for [`Publisher::send`] and [`Publisher::feed`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct BroadcastSend<'a, T> {
    publisher: &'a mut Publisher<T>,
    item: Option<T>,
    wake: bool,
}

impl<T> Unpin for BroadcastSend<'_, T> {}

impl<T: Clone> Future for BroadcastSend<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let item = this
            .item
            .take()
            .expect("BroadcastSend polled after completion");
        match this.publisher.offer(item, Some(cx.waker()), this.wake) {
            Ok(()) => Poll::Ready(()),
            Err(Full(item)) => {
                this.item = Some(item);
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for BroadcastSend<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastSend").finish_non_exhaustive()
    }
}

/// The receiving side of a [`broadcast`]: a [`Stream`] of every item sent after it joined,
/// minus, for a [`Policy::Lagging`] subscriber, the ones it was too slow for (counted in
/// [`lagged`](Self::lagged)). It ends once the publisher is gone and it has read what it can.
#[must_use = "streams do nothing unless polled"]
pub struct Subscriber<T> {
    shared: Arc<Shared<T>>,
    id: u64,
    policy: Policy,
    /// The next sequence to copy out of the ring.
    cursor: u64,
    /// Items copied out of the ring, not yet yielded.
    buffer: VecDeque<T>,
    received: u64,
    lagged: u64,
    done: bool,
}

impl<T: Clone> Subscriber<T> {
    fn join(shared: &Arc<Shared<T>>, policy: Policy) -> Self {
        let mut state = shared.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        shared.subscribers.fetch_add(1, Ordering::AcqRel);
        let cursor = state.tail;
        if policy == Policy::Critical {
            state.critical.push((id, cursor));
        }
        Subscriber {
            shared: shared.clone(),
            id,
            policy,
            cursor,
            buffer: VecDeque::with_capacity(BATCH.min(shared.capacity)),
            received: 0,
            lagged: 0,
            done: false,
        }
    }

    /// A new lagging subscriber to the same broadcast, seeing what is sent from now on.
    pub fn resubscribe(&self) -> Subscriber<T> {
        Subscriber::join(&self.shared, Policy::Lagging)
    }

    /// The next item, or why there is none, as tokio's `broadcast::Receiver::recv`: a lagging
    /// subscriber that fell behind gets `Err(RecvError::Lagged(n))` first, with the number of
    /// items it missed just there, and the item after the gap on the next call. After
    /// `Err(RecvError::Closed)` there is nothing more. As a [`Stream`] the same subscriber
    /// skips the gaps silently and counts them in [`lagged`](Self::lagged).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::ops::{RecvError, broadcast};
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
    /// use weir::ops::Lagged;
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
    /// [`Policy::Critical`]).
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// Items this subscriber has yielded.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// This subscriber's policy.
    pub fn policy(&self) -> Policy {
        self.policy
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
            if moved && self.policy == Policy::Critical {
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

/// Where a lagging subscriber fell behind: it missed this many items just there. The error of
/// [`WithLag`]'s items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the subscriber lagged behind by {} items", self.0)
    }
}

impl std::error::Error for Lagged {}

/// Stream for [`Subscriber::with_lag`]: the subscriber's items as `Ok`, and its gaps as
/// `Err(Lagged(n))` where they happened.
#[must_use = "streams do nothing unless polled"]
pub struct WithLag<T> {
    subscriber: Subscriber<T>,
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

impl<T: Clone> Stream for WithLag<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.subscriber.poll_with_lag(cx)
    }
}

impl<T: Clone> FusedStream for WithLag<T> {
    fn is_terminated(&self) -> bool {
        self.subscriber.is_terminated()
    }
}

impl<T> fmt::Debug for WithLag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithLag")
            .field("subscriber", &self.subscriber)
            .finish()
    }
}

// Nothing in a subscriber is pinned: items are moved in and out of its buffer freely.
impl<T> Unpin for Subscriber<T> {}

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

impl<T: Clone> FusedStream for Subscriber<T> {
    fn is_terminated(&self) -> bool {
        self.done && self.buffer.is_empty()
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
            let publisher = if self.policy == Policy::Critical {
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

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("policy", &self.policy)
            .field("received", &self.received)
            .field("lagged", &self.lagged)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::*;
    use crate::sync::thread;
    use std::future::poll_fn;

    fn drain<T: Clone>(sub: &mut Subscriber<T>) -> Vec<T> {
        let mut got = Vec::new();
        loom::future::block_on(poll_fn(|cx| {
            loop {
                match Pin::new(&mut *sub).poll_next(cx) {
                    Poll::Ready(Some(x)) => got.push(x),
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }));
        got
    }

    /// Invariant: conservation for lagging subscribers. One publisher, two subscribers,
    /// capacity 2, three sends: for each subscriber, items received plus items reported
    /// lagged equals items sent, and what it received strictly increases. `Arc` payloads: at
    /// the end every item's count is back to one (nothing leaked, nothing dropped twice).
    #[test]
    fn lagging_subscribers_account_for_every_item() {
        loom::model(|| {
            let items: Vec<Arc<u8>> = (0..3).map(Arc::new).collect();
            let (mut publisher, a) = broadcast::<Arc<u8>>(2);
            let b = publisher.subscribe();
            let to_send = items.clone();
            let sender = thread::spawn(move || {
                for item in to_send {
                    publisher.try_send(item).unwrap();
                }
            });
            let readers: Vec<_> = [a, b]
                .into_iter()
                .map(|mut sub| {
                    thread::spawn(move || {
                        let got = drain(&mut sub);
                        (got.iter().map(|x| **x).collect::<Vec<u8>>(), sub.lagged())
                    })
                })
                .collect();
            sender.join().unwrap();
            for reader in readers {
                let (got, lagged) = reader.join().unwrap();
                assert_eq!(got.len() as u64 + lagged, 3, "{got:?} + {lagged}");
                assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            }
            assert!(items.iter().all(|i| Arc::strong_count(i) == 1));
        });
    }

    /// Invariant: a critical subscriber skips nothing, and a publisher waiting on a full
    /// ring is woken when that subscriber reads (no lost wake-up).
    #[test]
    fn critical_subscriber_gets_everything_and_wakes_the_publisher() {
        loom::model(|| {
            let (mut publisher, lagging) = broadcast::<u8>(1);
            drop(lagging);
            let mut critical = publisher.subscribe_with(Policy::Critical);
            let sender = thread::spawn(move || {
                loom::future::block_on(async {
                    for i in 0..3 {
                        publisher.send(i).await;
                    }
                });
            });
            let got = drain(&mut critical);
            sender.join().unwrap();
            assert_eq!(got, [0, 1, 2]);
            assert_eq!(critical.lagged(), 0);
        });
    }

    /// Invariant: dropping the critical subscriber releases a publisher waiting on it.
    #[test]
    fn dropping_a_critical_subscriber_wakes_the_publisher() {
        loom::model(|| {
            let (mut publisher, lagging) = broadcast::<u8>(1);
            drop(lagging);
            let critical = publisher.subscribe_with(Policy::Critical);
            publisher.try_send(0).unwrap();
            let sender = thread::spawn(move || {
                loom::future::block_on(publisher.send(1));
                (publisher.sent(), publisher.unread())
            });
            drop(critical);
            // The send completed (no deadlock); with nobody left, item 1 counts as unread.
            assert_eq!(sender.join().unwrap(), (1, 1));
        });
    }

    /// Invariant: closing wakes the subscribers. Dropping the publisher wakes a waiting
    /// subscriber, which ends after draining what it can still see.
    #[test]
    fn dropping_the_publisher_ends_a_waiting_subscriber() {
        loom::model(|| {
            let (mut publisher, mut sub) = broadcast::<u8>(2);
            let sender = thread::spawn(move || {
                publisher.try_send(7).unwrap();
                drop(publisher);
            });
            assert_eq!(drain(&mut sub), [7]);
            sender.join().unwrap();
        });
    }

    /// Invariant: no lost wake-up when the last subscriber leaves. The fan-out driver waits
    /// for its quiet upstream and for "no subscriber left"; the last subscriber, dropped on
    /// another thread (with an item it never read), wakes it, and that item's `Arc` is
    /// released. Without the wake-up loom reports the deadlock.
    #[test]
    fn the_last_subscriber_leaving_wakes_the_driver() {
        loom::model(|| {
            let item = Arc::new(7u8);
            let (mut publisher, a) = broadcast::<Arc<u8>>(2);
            let b = a.resubscribe();
            publisher.try_send(item.clone()).unwrap();
            let leavers = thread::spawn(move || {
                drop(a);
                drop(b);
            });
            loom::future::block_on(poll_fn(|cx| publisher.poll_unsubscribed(cx)));
            leavers.join().unwrap();
            assert_eq!(
                Arc::strong_count(&item),
                1,
                "the unread item went with its readers"
            );
        });
    }
}
