//! [`RingBuffer`]: a fixed-capacity buffer between a fast upstream and a slow consumer, with an
//! [`Overflow`] policy for when it is full.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::Fuse;
use crate::overflow::Overflow;
use crate::poll::{POLL_BUDGET, wake_self};
use crate::stats::{Counters, StatsHandle, Tally};

pin_project! {
    /// Stream for [`StreamOps::drop_oldest`](crate::StreamOps::drop_oldest),
    /// [`StreamOps::drop_newest`](crate::StreamOps::drop_newest) and
    /// [`StreamOps::buffer`](crate::StreamOps::buffer).
    ///
    /// # State machine
    ///
    /// Each poll has two phases.
    /// 1. **Fill**: take every item the upstream has ready into the ring, until the upstream
    ///    returns `Pending` or ends, or `capacity + POLL_BUDGET` items were taken in this poll
    ///    (a budget larger than the ring, so that one poll can overflow it). When the ring is
    ///    full, [`Overflow::DropOldest`] evicts the oldest buffered item,
    ///    [`Overflow::DropNewest`] discards the incoming one, and [`Overflow::Block`] stops
    ///    filling until there is room.
    /// 2. **Drain**: yield the oldest buffered item. With nothing buffered, return `None` if
    ///    the upstream has ended, `Pending` otherwise. Buffered items are still yielded after
    ///    the upstream ends.
    ///
    /// The ring is a `VecDeque` that grows as items arrive (doubling, like a `Vec`) up to the
    /// capacity: memory follows the most items held at once, not the capacity, so any
    /// capacity up to `usize::MAX` is allowed. Once grown, no allocation per item.
    /// Every dropped item is counted in [`stats`](Self::stats), and between polls
    /// `received == processed + dropped + buffered` holds exactly.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` is returned only with an empty ring, either after the upstream returned
    /// `Pending` (it registered the waker) or after the fill budget ran out (the operator woke
    /// its own task). A yielded item needs no wake-up: the consumer polls again.
    ///
    /// # Fast path
    ///
    /// An item that finds the ring empty, with the upstream returning `Pending` or ending
    /// right after it, is handed on without entering the ring: what the two phases would do,
    /// without their work. A consumer that keeps up pays for the buffer only when a burst
    /// comes.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/drop_oldest.txt")]
    /// ```
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/drop_newest.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// // The upstream has 10 items ready at once; the buffer holds 5.
    /// let newest = weir::iter(0..10).drop_oldest(5);
    /// let stats = newest.stats();
    /// assert_eq!(newest.collect::<Vec<_>>().await, [5, 6, 7, 8, 9]);
    /// assert_eq!(stats.dropped(), 5);
    ///
    /// let oldest = weir::iter(0..10).drop_newest(5);
    /// assert_eq!(oldest.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct RingBuffer<St: Stream> {
        #[pin]
        stream: Fuse<St>,
        ring: VecDeque<St::Item>,
        capacity: usize,
        overflow: Overflow,
        counters: Counters,
    }
}

impl<St> fmt::Debug for RingBuffer<St>
where
    St: Stream + fmt::Debug,
    St::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuffer")
            .field("stream", &self.stream)
            .field("ring", &self.ring)
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("counters", &self.counters)
            .finish()
    }
}

impl<St: Stream> RingBuffer<St> {
    #[track_caller]
    pub(crate) fn new(stream: St, capacity: usize, overflow: Overflow) -> Self {
        assert!(
            capacity > 0,
            "ring buffer: `capacity` must be at least 1, got 0"
        );
        RingBuffer {
            stream: Fuse::new(stream),
            ring: VecDeque::new(),
            capacity,
            overflow,
            counters: Counters::new(),
        }
    }

    /// A handle to this buffer's counters.
    pub fn stats(&self) -> StatsHandle {
        self.counters.handle()
    }

    /// How many items are buffered.
    pub fn buffered(&self) -> usize {
        self.ring.len()
    }

    /// The buffer's capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    upstream_accessors!();
}

impl<St: Stream> FusedStream for RingBuffer<St> {
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.ring.is_empty()
    }
}

impl<St: Stream> Stream for RingBuffer<St> {
    type Item = St::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.project();
        let (mut upstream, done) = this.stream.split();
        let (ring, capacity, overflow) = (this.ring, *this.capacity, *this.overflow);
        let mut tally = Tally::default();
        let mut exhausted = false;
        let mut waiting = false;
        let mut budget = capacity.saturating_add(POLL_BUDGET);
        // The fast path: an item that finds the ring empty and nothing ready behind it goes
        // straight on, as filling the ring and draining it would send it, with no ring
        // operation. (Not for a blocking ring of 1, which takes no second item.)
        if !*done && ring.is_empty() && (capacity > 1 || overflow != Overflow::Block) {
            budget -= 2;
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(first)) => {
                    tally.received += 1;
                    match upstream.as_mut().poll_next(cx) {
                        Poll::Ready(Some(second)) => {
                            tally.received += 1;
                            ring.push_back(first);
                            offer(ring, second, capacity, overflow, &mut tally);
                        }
                        end => {
                            *done = end.is_ready();
                            tally.processed += 1;
                            this.counters.add(tally);
                            return Poll::Ready(Some(first));
                        }
                    }
                }
                Poll::Ready(None) => *done = true,
                Poll::Pending => waiting = true,
            }
        }
        if !*done && !waiting {
            loop {
                if overflow == Overflow::Block && ring.len() == capacity {
                    break;
                }
                if budget == 0 {
                    exhausted = true;
                    break;
                }
                budget -= 1;
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        tally.received += 1;
                        offer(ring, item, capacity, overflow, &mut tally);
                    }
                    Poll::Ready(None) => {
                        *done = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        let next = ring.pop_front();
        tally.processed += usize::from(next.is_some());
        this.counters.add(tally);
        match next {
            Some(item) => Poll::Ready(Some(item)),
            None if *done => Poll::Ready(None),
            None => {
                if exhausted {
                    wake_self(cx);
                }
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.ring.len();
        let upper = self.stream.size_hint().1;
        (buffered, upper.and_then(|u| u.checked_add(buffered)))
    }
}

/// Puts `item` in `ring` under `overflow`, counting what is dropped (Block never gets here
/// with a full ring).
#[inline(always)]
fn offer<T>(
    ring: &mut VecDeque<T>,
    item: T,
    capacity: usize,
    overflow: Overflow,
    tally: &mut Tally,
) {
    if ring.len() < capacity {
        ring.push_back(item);
    } else {
        tally.dropped += 1;
        if overflow == Overflow::DropOldest {
            ring.pop_front();
            ring.push_back(item);
        }
    }
}
