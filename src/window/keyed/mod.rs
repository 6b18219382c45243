//! [`KeyedWindow`]: event-time windows per key, as Flink's `keyBy(..).window(..)` or Kafka
//! Streams' `groupByKey().windowedBy(..)`; built with [`StreamOps::key_by`](crate::StreamOps::key_by)
//! and [`KeyBy`].

mod panes;
#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::Window;
use super::aggregate::Aggregate;
use super::event_time::{Clock, Geometry};
use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};
use panes::KeyedPanes;

/// A stream with a key function, waiting for its windows: made by
/// [`StreamOps::key_by`](crate::StreamOps::key_by), turned into a [`KeyedWindow`] by
/// [`tumbling_window`](Self::tumbling_window) or [`sliding_window`](Self::sliding_window).
///
/// Keys are hashed with `S`, std's `RandomState` unless [`with_hasher`](Self::with_hasher)
/// says otherwise.
#[must_use = "a key function does nothing until windows are chosen"]
#[derive(Debug, Clone)]
pub struct KeyBy<St, Kf, S = RandomState> {
    stream: St,
    key: Kf,
    hasher: S,
}

impl<St, Kf> KeyBy<St, Kf> {
    pub(crate) fn new(stream: St, key: Kf) -> Self {
        KeyBy {
            stream,
            key,
            hasher: RandomState::new(),
        }
    }
}

impl<St, Kf, S> KeyBy<St, Kf, S> {
    /// Hashes the keys with `hasher` instead: a faster hasher for keys that no adversary
    /// chooses (numbers, names from a known set), for example.
    pub fn with_hasher<S2: BuildHasher + Clone>(self, hasher: S2) -> KeyBy<St, Kf, S2> {
        KeyBy {
            stream: self.stream,
            key: self.key,
            hasher,
        }
    }

    /// Tumbling windows of `size_ms` per key, over the timestamps `timestamp` extracts. See
    /// [`KeyedWindow`].
    ///
    /// # Panics
    ///
    /// If `size_ms` is 0.
    #[track_caller]
    pub fn tumbling_window<K, A, Ts>(
        self,
        size_ms: u64,
        timestamp: Ts,
        agg: A,
    ) -> KeyedWindow<St, K, Kf, A, Ts, S>
    where
        St: Stream,
        K: Hash + Eq + Clone,
        Kf: FnMut(&St::Item) -> K,
        A: Aggregate<St::Item>,
        Ts: FnMut(&St::Item) -> u64,
        S: BuildHasher + Clone,
    {
        self.sliding_window(size_ms, size_ms, timestamp, agg)
    }

    /// Sliding (hopping) windows of `size_ms`, one starting every `slide_ms`, per key. See
    /// [`KeyedWindow`].
    ///
    /// # Panics
    ///
    /// If `size_ms` or `slide_ms` is 0, or if a window would span more than
    /// [`MAX_PANES_PER_WINDOW`](crate::window::MAX_PANES_PER_WINDOW) panes of
    /// `gcd(size_ms, slide_ms)`.
    #[track_caller]
    pub fn sliding_window<K, A, Ts>(
        self,
        size_ms: u64,
        slide_ms: u64,
        timestamp: Ts,
        agg: A,
    ) -> KeyedWindow<St, K, Kf, A, Ts, S>
    where
        St: Stream,
        K: Hash + Eq + Clone,
        Kf: FnMut(&St::Item) -> K,
        A: Aggregate<St::Item>,
        Ts: FnMut(&St::Item) -> u64,
        S: BuildHasher + Clone,
    {
        let geometry = Geometry::new(size_ms, slide_ms);
        KeyedWindow {
            stream: Fuse::new(self.stream),
            idle_timer: None,
            core: Core {
                key: self.key,
                timestamp,
                agg,
                on_late: None,
                clock: Clock::new(),
                panes: KeyedPanes::new(geometry, self.hasher),
            },
        }
    }
}

pin_project! {
    /// Stream for [`KeyBy::tumbling_window`] and [`KeyBy::sliding_window`]: event-time
    /// windows per key, yielding `(key, window)` for each window and each key that had items
    /// in it.
    ///
    /// # Which items land in which window, and when windows close
    ///
    /// Exactly as [`EventTimeWindow`](crate::window::EventTimeWindow), whose rules this
    /// operator shares (the same geometry, watermark, allowed out-of-orderness, offset, idle
    /// timeout and late side output), applied to all keys at once: the watermark is the
    /// stream's, not each key's, so a quiet key's windows close when the others' time moves
    /// on, as in Flink. What differs is the output: a window yields one `(key, window)` per
    /// key that had items in it, and nothing for a key that had none. Windows come in order
    /// (every key of one window before any of the next); within a window, a tumbling window's
    /// keys come in the order their first item arrived, a sliding window's in an order that
    /// depends only on the input. A late item is counted in [`late`](Self::late) and in the
    /// `late` field of the first `(key, window)` emitted for the first window that ends after
    /// the watermark it met, whatever its key.
    ///
    /// # State and cost
    ///
    /// No item is stored. Each pane (`gcd(size, slide)` ms) with items holds a hash table of
    /// one accumulator per key that had items in it, so an item costs one hash lookup,
    /// whatever the number of keys. A tumbling window is one pane, handed out key by key when
    /// it closes. For a sliding window, each key keeps a queue of its own panes with items
    /// (a two-stacks queue without an identity element), so a window's result for a key costs
    /// amortized O(1), and a key costs nothing in the panes where it had no item. Memory is
    /// one accumulator per (key, pane with items) in open windows, released as windows close
    /// ([`accumulators`](Self::accumulators) counts them).
    ///
    /// # Wake-up contract and budget
    ///
    /// As [`EventTimeWindow`](crate::window::EventTimeWindow)'s: one poll takes at most
    /// [`POLL_BUDGET`] items and makes at most [`POLL_BUDGET`] steps of window assembly (a
    /// key handed out, a key's pane queued or dropped, a window skipped), so neither a ready
    /// upstream, nor a window of a million keys, nor a jump of event time keeps the task from
    /// yielding. `Pending` comes only after the upstream returned `Pending` (with an idle
    /// timeout, also after the idle timer registered the waker), or after a budget ran out
    /// (the task woke itself first).
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `x!` a late item; items are `key:timestamp`):
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/keyed_window.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::window::Summarize;
    ///
    /// // (host, timestamp ms, latency ms)
    /// let requests = weir::iter([
    ///     ("web-1", 100, 12.0),
    ///     ("web-2", 300, 40.0),
    ///     ("web-1", 700, 18.0),
    ///     ("web-2", 1_200, 35.0),
    /// ]);
    /// let windows: Vec<_> = requests
    ///     .key_by(|r: &(&str, u64, f64)| r.0)
    ///     .tumbling_window(1_000, |r: &(&str, u64, f64)| r.1, Summarize(|r: &(&str, u64, f64)| r.2))
    ///     .map(|(host, w)| (host, w.start, w.count, w.mean()))
    ///     .collect()
    ///     .await;
    /// assert_eq!(
    ///     windows,
    ///     [
    ///         ("web-1", 0, 2, Some(15.0)),
    ///         ("web-2", 0, 1, Some(40.0)),
    ///         ("web-2", 1_000, 1, Some(35.0)),
    ///     ]
    /// );
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = KeyedWindowProj]
    pub struct KeyedWindow<St: Stream, K, Kf, A: Aggregate<St::Item>, Ts, S> {
        #[pin]
        stream: Fuse<St>,
        // Boxed, so that the operator stays `Unpin` when its upstream is.
        idle_timer: Option<Pin<Box<Sleep>>>,
        core: Core<St::Item, K, Kf, A, Ts, S>,
    }
}

/// Everything but the upstream and the idle timer.
struct Core<T, K, Kf, A: Aggregate<T>, Ts, S> {
    key: Kf,
    timestamp: Ts,
    agg: A,
    on_late: Option<Box<dyn FnMut(T) + Send>>,
    clock: Clock,
    panes: KeyedPanes<K, A::Acc, S>,
}

impl<St, K, Kf, A, Ts, S> fmt::Debug for KeyedWindow<St, K, Kf, A, Ts, S>
where
    St: Stream + fmt::Debug,
    A: Aggregate<St::Item>,
    K: Hash + Eq + Clone,
    S: BuildHasher + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let geometry = self.core.panes.geometry();
        f.debug_struct("KeyedWindow")
            .field("stream", &self.stream)
            .field("size", &geometry.size)
            .field("slide", &geometry.slide)
            .field("bound", &self.core.clock.bound)
            .field("accumulators", &self.core.panes.accumulators())
            .field("late", &self.core.clock.late)
            .finish_non_exhaustive()
    }
}

impl<St, K, Kf, A, Ts, S> KeyedWindow<St, K, Kf, A, Ts, S>
where
    St: Stream,
    K: Hash + Eq + Clone,
    Kf: FnMut(&St::Item) -> K,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
    S: BuildHasher + Clone,
{
    /// Allows items to arrive up to `bound_ms` out of order, as
    /// [`EventTimeWindow::out_of_orderness`](crate::window::EventTimeWindow::out_of_orderness).
    pub fn out_of_orderness(mut self, bound_ms: u64) -> Self {
        self.core.clock.bound = bound_ms;
        self
    }

    /// Shifts window boundaries to `offset_ms + k * slide`, as
    /// [`EventTimeWindow::offset`](crate::window::EventTimeWindow::offset).
    pub fn offset(mut self, offset_ms: u64) -> Self {
        self.core.panes.set_offset(offset_ms);
        self
    }

    /// Hands every late item to `callback` (a side output) after counting it.
    pub fn on_late(mut self, callback: impl FnMut(St::Item) + Send + 'static) -> Self {
        self.core.on_late = Some(Box::new(callback));
        self
    }

    /// Advances event time with the clock once no item has arrived for `timeout`, as
    /// [`EventTimeWindow::idle_timeout`](crate::window::EventTimeWindow::idle_timeout).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.core.clock.set_idle(timeout);
        self
    }

    /// Counts no quiet time while `underway` is up, as
    /// [`EventTimeWindow::underway`](crate::window::EventTimeWindow::underway).
    pub fn underway(mut self, underway: crate::window::Underway) -> Self {
        self.core.clock.set_underway(underway);
        self
    }

    /// The watermark (ms): the largest timestamp seen less the allowed out-of-orderness
    /// (Flink's bounded-out-of-orderness watermark; 0 while that is larger), or, with an idle
    /// timeout, where event time got to while the input was quiet. `None` before the first
    /// item. Windows that end at or before the watermark are emitted; see
    /// [`settled_before`](Self::settled_before) for which windows are done with.
    pub fn watermark(&self) -> Option<u64> {
        self.core.clock.watermark_ms()
    }

    /// Late items so far.
    pub fn late(&self) -> u64 {
        self.core.clock.late
    }

    /// Items that fell in no window (the gaps of windows whose slide exceeds their size).
    pub fn unassigned(&self) -> u64 {
        self.core.clock.unassigned
    }

    /// Every window that ends before this time (ms) is settled: emitted for every key
    /// already, or left without items, and closed. See
    /// [`EventTimeWindow::settled_before`](crate::window::EventTimeWindow::settled_before).
    pub fn settled_before(&self) -> u64 {
        let k = self.core.panes.first_unsettled();
        self.core.panes.geometry().window_ms(k).1
    }

    /// Accumulators held: one per key per pane with items that is not handed out yet.
    pub fn accumulators(&self) -> usize {
        self.core.panes.accumulators()
    }

    upstream_accessors!();
}

impl<T, K, Kf, A, Ts, S> Core<T, K, Kf, A, Ts, S>
where
    K: Hash + Eq + Clone,
    Kf: FnMut(&T) -> K,
    A: Aggregate<T>,
    Ts: FnMut(&T) -> u64,
    S: BuildHasher + Clone,
{
    #[inline]
    fn take(&mut self, item: T) {
        let ts = (self.timestamp)(&item);
        // Late against the watermark as of this item, not against the panes closed so far.
        if ts < self.clock.late_before {
            self.clock.count_late();
            if let Some(on_late) = self.on_late.as_mut() {
                on_late(item);
            }
            return;
        }
        let key = (self.key)(&item);
        if !self.panes.add(&self.agg, ts, key, &item) {
            self.clock.unassigned += 1;
        }
        self.clock
            .see(ts, self.panes.geometry(), self.panes.closed());
    }

    /// Marks complete the panes the watermark has passed (all of them at the end).
    fn close(&mut self, everything: bool) {
        let until = if everything {
            u128::MAX
        } else {
            self.clock.watermark
        };
        self.panes.close(until);
        self.clock
            .update_late_before(self.panes.geometry(), self.panes.closed());
    }
}

impl<St, K, Kf, A, Ts, S> FusedStream for KeyedWindow<St, K, Kf, A, Ts, S>
where
    St: Stream,
    K: Hash + Eq + Clone,
    Kf: FnMut(&St::Item) -> K,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
    S: BuildHasher + Clone,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && !self.core.panes.holds_items()
    }
}

impl<St, K, Kf, A, Ts, S> Stream for KeyedWindow<St, K, Kf, A, Ts, S>
where
    St: Stream,
    K: Hash + Eq + Clone,
    Kf: FnMut(&St::Item) -> K,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
    S: BuildHasher + Clone,
{
    type Item = (K, Window<A::Output>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut steps = POLL_BUDGET;
        // Whether this poll took its run of items already, and whether that run ended with
        // the upstream returning `Pending`.
        let mut took = false;
        let mut upstream_pending = false;
        loop {
            if let Some((k, key, (acc, count))) = this.core.panes.next(&this.core.agg, &mut steps) {
                let geometry = this.core.panes.geometry();
                let (start, end) = geometry.window_ms(k);
                let (_, end_pane) = geometry.window_panes(k);
                let window = Window {
                    start,
                    end,
                    result: this.core.agg.result(&acc),
                    count,
                    late: this.core.clock.late_before_pane(end_pane),
                };
                return Poll::Ready(Some((key, window)));
            }
            if steps == 0 {
                wake_self(cx);
                return Poll::Pending;
            }
            let (mut upstream, done) = this.stream.as_mut().split();
            if *done {
                return Poll::Ready(None);
            }
            if took {
                if !upstream_pending {
                    wake_self(cx);
                    return Poll::Pending;
                }
                let core = &mut *this.core;
                let panes = &core.panes;
                let (geometry, closed, holds) =
                    (panes.geometry(), panes.closed(), panes.holds_items());
                if core
                    .clock
                    .watch_idle(this.idle_timer, holds, geometry, closed, cx)
                {
                    this.core.close(false);
                    continue;
                }
                return Poll::Pending;
            }
            took = true;
            // Windows are closed after each run of items, at most POLL_BUDGET long.
            let mut taken = 0;
            while taken < POLL_BUDGET {
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        taken += 1;
                        this.core.take(item);
                    }
                    Poll::Ready(None) => {
                        *done = true;
                        break;
                    }
                    Poll::Pending => {
                        upstream_pending = true;
                        if taken > 0 {
                            this.core.clock.mark_quiet_from_now();
                        }
                        break;
                    }
                }
            }
            let ended = *done;
            this.core.close(ended);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Windows are assembled on demand, so none is known to be ready.
        if self.is_terminated() {
            (0, Some(0))
        } else {
            (0, None)
        }
    }
}
