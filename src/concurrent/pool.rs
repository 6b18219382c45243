//! [`Pool`]: the futures in flight of a concurrent stage, each polled only when woken.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, StdArc};
use crate::wake_queue::{Member, WakeQueue};

/// Up to `limit` futures, each in a place of its own with a waker of its own.
///
/// A place is a box allocated the first time it is used and kept: a future that completes is
/// dropped in place and the next one written into the same box, so a stage at its steady
/// state allocates nothing per item. Each place's waker reports to one [`WakeQueue`]; the
/// pool polls a future when it is new and after its waker fired, never otherwise, so a wake-up
/// costs O(1) whatever the number in flight.
///
/// A waker kept by a future that has completed may fire later and queue its place for the
/// future now in it: that future is polled once for nothing, which futures allow.
pub(crate) struct Pool<Fut> {
    places: Vec<Place<Fut>>,
    /// Places free for the next future.
    free: Vec<usize>,
    /// Places to poll: new futures, then woken ones, in the order they came.
    ready: VecDeque<usize>,
    members: Vec<StdArc<Member>>,
    wakes: Arc<WakeQueue>,
    limit: usize,
    len: usize,
}

struct Place<Fut> {
    future: Pin<Box<Option<Fut>>>,
    waker: Waker,
    /// The caller's tag for the future in this place (an ordered stage's sequence number).
    tag: u64,
}

/// What [`Pool::poll_ready`] found.
pub(crate) enum Found<T> {
    /// A future completed, with its tag and output.
    Done(u64, T),
    /// No future is ready to be polled now (none was woken).
    Idle,
    /// The budget ran out with futures still to poll.
    Budget,
}

impl<Fut> Pool<Fut> {
    /// An empty pool of at most `limit` futures (`limit >= 1`).
    pub(crate) fn new(limit: usize) -> Self {
        Pool {
            places: Vec::new(),
            free: Vec::new(),
            ready: VecDeque::new(),
            members: Vec::new(),
            wakes: WakeQueue::new(),
            limit,
            len: 0,
        }
    }

    /// Futures in flight.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.limit
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Registers the task to be woken when a future is, after which the caller polls the pool
    /// once more before returning `Pending`: a future woken before the registration is found
    /// by that poll, one woken after it wakes the task.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.wakes.parent.register(cx.waker());
    }
}

impl<Fut: Future> Pool<Fut> {
    /// Adds `future` with `tag`; it is polled first among the ready ones not yet polled. The
    /// pool must not be full.
    pub(crate) fn push(&mut self, future: Fut, tag: u64) {
        debug_assert!(!self.is_full());
        let id = match self.free.pop() {
            Some(id) => {
                let place = &mut self.places[id];
                place.future.set(Some(future));
                place.tag = tag;
                id
            }
            None => {
                let id = self.places.len();
                let member = Member::new(id, self.wakes.clone());
                self.places.push(Place {
                    future: Box::pin(Some(future)),
                    waker: Waker::from(member.clone()),
                    tag,
                });
                self.members.push(member);
                id
            }
        };
        self.len += 1;
        self.ready.push_back(id);
    }

    /// Polls the ready futures, in order, until one completes (its place is freed), none is
    /// left to poll, or `budget` polls were spent (it is decreased by each poll).
    pub(crate) fn poll_ready(&mut self, budget: &mut usize) -> Found<Fut::Output> {
        loop {
            let Some(id) = self.next_ready() else {
                return Found::Idle;
            };
            if *budget == 0 {
                self.ready.push_front(id);
                return Found::Budget;
            }
            let place = &mut self.places[id];
            let Some(future) = place.future.as_mut().as_pin_mut() else {
                // A late wake of a future that completed: its place is empty.
                continue;
            };
            *budget -= 1;
            if let Poll::Ready(output) = future.poll(&mut Context::from_waker(&place.waker)) {
                place.future.set(None);
                self.free.push(id);
                self.len -= 1;
                return Found::Done(place.tag, output);
            }
        }
    }

    /// The next place to poll: from `ready`, else from the woken ones (taking the wake queue's
    /// lock only when its flag says something was woken).
    fn next_ready(&mut self) -> Option<usize> {
        if let Some(id) = self.ready.pop_front() {
            return Some(id);
        }
        if let Some(woken) = self.wakes.take_woken(&self.members) {
            self.ready.extend(woken);
        }
        self.ready.pop_front()
    }
}

impl<Fut> fmt::Debug for Pool<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("in_flight", &self.len)
            .field("limit", &self.limit)
            .finish()
    }
}
