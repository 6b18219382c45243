//! [`EventTimeWindow`]: tumbling and sliding windows over the items' own timestamps, closed by a
//! watermark.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};

use super::aggregate::Aggregate;
use super::two_stacks::TwoStacks;
use super::{Pane, Window, combine_panes};
use crate::ops::{Fuse, POLL_BUDGET, yield_now};

/// Gap windows emitted at most between two windows that saw items, with
/// [`EventTimeWindow::emit_empty`].
pub const MAX_GAP_WINDOWS: u64 = 10_000;

pin_project! {
    /// Stream for [`StreamOps::tumbling_window`](crate::StreamOps::tumbling_window) and
    /// [`StreamOps::sliding_window`](crate::StreamOps::sliding_window).
    ///
    /// # Which items land in which window
    ///
    /// Time is the item's timestamp in milliseconds, from the extractor. Windows start at
    /// `offset + k * slide` and last `size` (tumbling: `slide == size`):
    ///
    /// ```text
    /// size 10, slide 10 (tumbling):   [0,10) [10,20) [20,30)
    /// size 10, slide 5 (sliding):     [0,10) [5,15) [10,20) [15,25)   an item at 12 is in two
    /// size 5, slide 10 (sampling):    [0,5)  [10,15) [20,25)          an item at 7 is in none
    /// ```
    ///
    /// An item belongs to every window whose `[start, end)` contains its timestamp; an item
    /// in no window (gaps of a sampling window) is counted in
    /// [`unassigned`](Self::unassigned).
    ///
    /// # Watermark, lateness, emission
    ///
    /// The *watermark* is the largest timestamp seen minus the allowed out-of-orderness
    /// `bound`. A window is emitted once the watermark reaches its end, in ascending order of
    /// windows. An item older than that (its window, or for sliding windows its pane, has
    /// already been closed) is *late*: counted in [`late`](Self::late) and in the `late`
    /// field of the first window emitted that ends after the watermark the late item met (so
    /// the counts do not depend on how items were batched), and handed to the callback set with
    /// [`on_late`](Self::on_late), never silently lost. Items out of order by less than
    /// `bound` are on time. Duplicate timestamps are ordinary items. When the upstream ends,
    /// every open window is emitted, in order. By default windows that saw no item are not
    /// emitted; [`emit_empty`](Self::emit_empty) (tumbling only) emits zero-count windows for
    /// the gaps between windows that saw items, at most [`MAX_GAP_WINDOWS`] per gap, so one
    /// absurd timestamp (say `u64::MAX`) cannot make it loop or allocate without limit.
    ///
    /// # State and cost
    ///
    /// No item is stored: time is cut into panes of `gcd(size, slide)` milliseconds, each
    /// with one accumulator, kept in a map while the watermark has not passed them. Closed
    /// panes of a sliding window go through a [`TwoStacks`] queue holding the last
    /// `size / pane` panes, which gives each window's aggregate in amortized O(1) for any
    /// associative aggregate (max included), whatever `size / slide` is. Memory is
    /// O(`size / pane` + panes open within `bound`).
    ///
    /// # Wake-up contract
    ///
    /// `Pending` only after the upstream returned `Pending`, or after [`POLL_BUDGET`] items
    /// were taken in one poll without a window to emit (the task woke itself first).
    ///
    /// # Panics
    ///
    /// If `size` or `slide` is 0.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::ops::window::Stats;
    ///
    /// // (timestamp ms, value)
    /// let readings = weir::iter([(0, 1.0), (400, 3.0), (1_100, -2.0), (2_500, 8.0)]);
    /// let windows: Vec<_> = readings
    ///     .tumbling_window(1_000, |r: &(u64, f64)| r.0, Stats(|r: &(u64, f64)| r.1))
    ///     .collect()
    ///     .await;
    /// let means: Vec<_> = windows.iter().map(|w| (w.start, w.end, w.result.mean)).collect();
    /// assert_eq!(
    ///     means,
    ///     [(0, 1_000, Some(2.0)), (1_000, 2_000, Some(-2.0)), (2_000, 3_000, Some(8.0))]
    /// );
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = EventTimeWindowProj]
    pub struct EventTimeWindow<St: Stream, A: Aggregate<St::Item>, Ts> {
        #[pin]
        stream: Fuse<St>,
        // Boxed, so that the operator stays `Unpin` when its upstream is (and it is allocated
        // only with an idle timeout).
        idle_timer: Option<Pin<Box<Sleep>>>,
        core: Core<St::Item, A, Ts>,
    }
}

impl<St, A, Ts> fmt::Debug for EventTimeWindow<St, A, Ts>
where
    St: Stream + fmt::Debug,
    A: Aggregate<St::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventTimeWindow")
            .field("stream", &self.stream)
            .field("size", &self.core.size)
            .field("slide", &self.core.slide)
            .field("bound", &self.core.bound)
            .field("open_panes", &self.core.open.len())
            .field("late", &self.core.late)
            .finish_non_exhaustive()
    }
}

/// Everything but the upstream: the pane and window state machine.
struct Core<T, A: Aggregate<T>, Ts> {
    agg: A,
    timestamp: Ts,
    on_late: Option<Box<dyn FnMut(T) + Send>>,
    // Geometry, in panes.
    pane_ms: u64,
    shift: u64,
    panes_per_window: u64,
    panes_per_slide: u64,
    size: u64,
    slide: u64,
    bound: u64,
    emit_empty: bool,
    /// With [`EventTimeWindow::idle_timeout`]: the quiet time after which event time is taken
    /// to advance with the clock, and the instant and largest timestamp of the last item.
    idle: Option<Duration>,
    idle_base: Option<(Instant, u64)>,
    // Pane state.
    max_ts: Option<u64>,
    /// The first pane the watermark has not passed, and where the next pane starts (ms,
    /// shifted): the watermark is recomputed (one division) only when it crosses that.
    watermark: u64,
    watermark_next_ms: u64,
    closed_until: u64,
    /// Items whose shifted timestamp is below this are late.
    late_before_ms: u64,
    open: BTreeMap<u64, Pane<A::Acc>>,
    /// The pane items are arriving in, kept out of the map: in-order items cost no map
    /// lookup and no division.
    hot: Option<(u64, u64, Pane<A::Acc>)>,
    // Window state (see `Core::advance`).
    queue: TwoStacks<Pane<A::Acc>>,
    queue_start: u64,
    queue_end: u64,
    next_window: u64,
    last_real: Option<u64>,
    last_emitted: Option<u64>,
    ready: VecDeque<Window<A::Output>>,
    late: u64,
    /// Late items by the watermark (in panes) when they came: a late item is reported by the
    /// first window emitted that ends after that watermark, whatever the batching.
    late_marks: VecDeque<(u64, u64)>,
    unassigned: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl<St, A, Ts> EventTimeWindow<St, A, Ts>
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    #[track_caller]
    pub(crate) fn new(stream: St, size: u64, slide: u64, timestamp: Ts, agg: A) -> Self {
        assert!(size > 0, "window: `size` must be at least 1 ms, got 0");
        assert!(slide > 0, "window: `slide` must be at least 1 ms, got 0");
        let pane_ms = gcd(size, slide);
        let identity = (agg.init(), 0);
        EventTimeWindow {
            stream: Fuse::new(stream),
            idle_timer: None,
            core: Core {
                agg,
                timestamp,
                on_late: None,
                pane_ms,
                shift: 0,
                panes_per_window: size / pane_ms,
                panes_per_slide: slide / pane_ms,
                size,
                slide,
                bound: 0,
                emit_empty: false,
                idle: None,
                idle_base: None,
                max_ts: None,
                watermark: 0,
                watermark_next_ms: 0,
                closed_until: 0,
                late_before_ms: 0,
                open: BTreeMap::new(),
                hot: None,
                queue: TwoStacks::new(identity),
                queue_start: 0,
                queue_end: 0,
                next_window: 0,
                last_real: None,
                last_emitted: None,
                ready: VecDeque::new(),
                late: 0,
                late_marks: VecDeque::new(),
                unassigned: 0,
            },
        }
    }

    /// Allows items to arrive up to `bound_ms` out of order: the watermark trails the largest
    /// timestamp seen by that much (default 0: windows close as soon as a later item arrives).
    pub fn out_of_orderness(mut self, bound_ms: u64) -> Self {
        self.core.bound = bound_ms;
        self
    }

    /// Shifts window boundaries by `offset_ms` (taken modulo the pane width): windows start at
    /// `offset + k * slide`.
    pub fn offset(mut self, offset_ms: u64) -> Self {
        self.core.shift = (self.core.pane_ms - offset_ms % self.core.pane_ms) % self.core.pane_ms;
        self
    }

    /// Hands every late item to `callback` (a side output) after counting it.
    pub fn on_late(mut self, callback: impl FnMut(St::Item) + Send + 'static) -> Self {
        self.core.on_late = Some(Box::new(callback));
        self
    }

    /// Tumbling windows only: also emit zero-count windows for the gaps between windows that
    /// saw items (at most [`MAX_GAP_WINDOWS`] per gap).
    pub fn emit_empty(mut self) -> Self {
        self.core.emit_empty = self.core.slide == self.core.size;
        self
    }

    /// Keeps windows from freezing when the source goes quiet: once no item has arrived for
    /// `timeout` (tokio clock), event time is taken to advance with processing time, from the
    /// largest timestamp seen, and the watermark moves on, closing the windows it passes.
    /// It keeps advancing for as long as the source stays quiet and windows are open. An item
    /// that arrives later with a timestamp behind that advanced watermark is late.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "idle_timeout: `timeout` must be longer than zero"
        );
        self.core.idle = Some(timeout);
        self
    }

    /// Late items so far.
    pub fn late(&self) -> u64 {
        self.core.late
    }

    /// Items that fell in no window (the gaps of windows whose slide exceeds their size).
    pub fn unassigned(&self) -> u64 {
        self.core.unassigned
    }

    upstream_accessors!();
}

impl<T, A, Ts> Core<T, A, Ts>
where
    A: Aggregate<T>,
    Ts: FnMut(&T) -> u64,
{
    fn take(&mut self, item: T) {
        let ts = (self.timestamp)(&item);
        let shifted = ts.saturating_add(self.shift);
        // Late against the watermark as of this item, not against the panes closed so far:
        // those are closed in batches, and lateness must not depend on how items are batched.
        if shifted < self.late_before_ms {
            self.late += 1;
            let watermark = self.watermark;
            match self.late_marks.back_mut() {
                Some((mark, n)) if *mark == watermark => *n += 1,
                _ => self.late_marks.push_back((watermark, 1)),
            }
            if let Some(on_late) = self.on_late.as_mut() {
                on_late(item);
            }
            return;
        }
        match &mut self.hot {
            Some((_, start, pane)) if shifted.wrapping_sub(*start) < self.pane_ms => {
                self.agg.add(&mut pane.0, &item);
                pane.1 += 1;
            }
            _ => self.take_cold(shifted, &item),
        }
        self.raise_max(ts);
    }

    /// Makes `ts` the largest timestamp seen if it is, moving the watermark.
    fn raise_max(&mut self, ts: u64) {
        if self.max_ts.is_none_or(|max| ts > max) {
            self.max_ts = Some(ts);
            let mark = ts.saturating_sub(self.bound).saturating_add(self.shift);
            if mark >= self.watermark_next_ms {
                self.watermark = mark / self.pane_ms;
                self.watermark_next_ms = (self.watermark + 1).saturating_mul(self.pane_ms);
                self.update_late_before();
            }
        }
    }

    /// Whether any pane still waits for the watermark.
    fn has_open(&self) -> bool {
        self.hot.is_some() || !self.open.is_empty()
    }

    /// The source was quiet since `base`: advance event time by the time elapsed.
    fn advance_idle(&mut self, now: Instant) {
        if let Some((since, max)) = self.idle_base {
            let quiet = now.saturating_duration_since(since).as_millis() as u64;
            self.raise_max(max.saturating_add(quiet));
            self.close(false);
        }
    }

    /// An item outside the hot pane: find its pane, make that the hot one.
    fn take_cold(&mut self, shifted: u64, item: &T) {
        let pane = shifted / self.pane_ms;
        // In a window at all? Position within the slide, in panes.
        if pane % self.panes_per_slide >= self.panes_per_window {
            self.unassigned += 1;
            return;
        }
        self.cool();
        let mut acc = self
            .open
            .remove(&pane)
            .unwrap_or_else(|| (self.agg.init(), 0));
        self.agg.add(&mut acc.0, item);
        acc.1 += 1;
        self.hot = Some((pane, pane * self.pane_ms, acc));
    }

    /// Puts the hot pane back into the map.
    fn cool(&mut self) {
        if let Some((pane, _, acc)) = self.hot.take() {
            self.open.insert(pane, acc);
        }
    }

    fn update_late_before(&mut self) {
        self.late_before_ms = self
            .closed_until
            .max(self.watermark)
            .saturating_mul(self.pane_ms);
    }

    /// Closes the panes the watermark has passed (all of them at the end) and queues the
    /// windows that are complete.
    fn close(&mut self, everything: bool) {
        let until = if everything { u64::MAX } else { self.watermark };
        if until <= self.closed_until {
            return;
        }
        self.cool();
        self.closed_until = until;
        self.update_late_before();
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= until {
                break;
            }
            let (pane, acc) = entry.remove_entry();
            self.push_pane(pane, acc);
        }
        self.advance(until);
    }

    /// Adds a closed, non-empty pane to the window queue, emitting the windows that end before
    /// it first.
    fn push_pane(&mut self, pane: u64, acc: Pane<A::Acc>) {
        self.advance(pane);
        let (w, s) = (self.panes_per_window, self.panes_per_slide);
        // The first window containing `pane`, and every later one, still lie ahead.
        let first = pane.saturating_sub(w - 1).div_ceil(s);
        if self.next_window < first {
            self.next_window = first;
        }
        let from = self.next_window.saturating_mul(s);
        if self.queue_end < from || self.queue.len() == 0 {
            // A jump past everything queued: start the queue afresh at the next window.
            self.queue.clear();
            self.queue_start = from.min(pane);
            self.queue_end = self.queue_start;
        }
        let agg = &self.agg;
        let combine = |a: &Pane<A::Acc>, b: &Pane<A::Acc>| combine_panes(agg, a, b);
        while self.queue_end < pane {
            self.queue.push((agg.init(), 0), combine);
            self.queue_end += 1;
        }
        self.queue.push(acc, combine);
        self.queue_end += 1;
        self.last_real = Some(pane);
    }

    /// Emits, in order, every window that ends at or before pane `until` (all its panes are
    /// closed) and holds at least one item.
    fn advance(&mut self, until: u64) {
        let (w, s) = (self.panes_per_window, self.panes_per_slide);
        let Some(last_real) = self.last_real else {
            return;
        };
        loop {
            let k = self.next_window;
            let first = k.saturating_mul(s);
            let end = first.saturating_add(w);
            if end > until || first > last_real {
                return;
            }
            let agg = &self.agg;
            let combine = |a: &Pane<A::Acc>, b: &Pane<A::Acc>| combine_panes(agg, a, b);
            while self.queue_start < first && self.queue.len() > 0 {
                self.queue.pop(combine);
                self.queue_start += 1;
            }
            while self.queue_end < end {
                self.queue.push((agg.init(), 0), combine);
                self.queue_end += 1;
            }
            let (acc, count) = self.queue.query(combine);
            self.next_window += 1;
            if count > 0 {
                self.emit(k, &acc, count);
            }
        }
    }

    fn emit(&mut self, k: u64, acc: &A::Acc, count: u64) {
        if self.emit_empty {
            if let Some(prev) = self.last_emitted {
                let gap = k - prev - 1;
                if gap <= MAX_GAP_WINDOWS {
                    for g in prev + 1..k {
                        let empty = self.agg.init();
                        self.queue_window(g, &empty, 0);
                    }
                }
            }
        }
        self.last_emitted = Some(k);
        self.queue_window(k, acc, count);
    }

    fn queue_window(&mut self, k: u64, acc: &A::Acc, count: u64) {
        let start = k.saturating_mul(self.slide).saturating_sub(self.shift);
        let end = k
            .saturating_mul(self.slide)
            .saturating_add(self.size)
            .saturating_sub(self.shift);
        let end_pane = k
            .saturating_mul(self.panes_per_slide)
            .saturating_add(self.panes_per_window);
        let mut late = 0;
        while let Some(&(mark, n)) = self.late_marks.front() {
            if mark >= end_pane {
                break;
            }
            late += n;
            self.late_marks.pop_front();
        }
        self.ready.push_back(Window {
            start,
            end,
            result: self.agg.result(acc),
            count,
            late,
        });
    }
}

/// With an idle timeout and panes still open: polls the idle timer (registering the task's
/// waker) and, each time a quiet period has passed, advances event time. Returns whether
/// windows became ready.
fn watch_idle<St, A, Ts>(
    this: &mut EventTimeWindowProj<'_, St, A, Ts>,
    cx: &mut Context<'_>,
) -> bool
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    let (Some(idle), Some((since, _))) = (this.core.idle, this.core.idle_base) else {
        return false;
    };
    if !this.core.has_open() {
        return false;
    }
    let mut deadline = since + idle;
    loop {
        let timer = this
            .idle_timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() < deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        this.core.advance_idle(now);
        if !this.core.ready.is_empty() {
            return true;
        }
        if !this.core.has_open() {
            return false;
        }
        deadline = now + idle;
    }
}

impl<St, A, Ts> FusedStream for EventTimeWindow<St, A, Ts>
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && self.core.ready.is_empty()
    }
}

impl<St, A, Ts> Stream for EventTimeWindow<St, A, Ts>
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    type Item = Window<A::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(window) = this.core.ready.pop_front() {
                return Poll::Ready(Some(window));
            }
            let (mut upstream, done) = this.stream.as_mut().split();
            if *done {
                return Poll::Ready(None);
            }
            let mut taken = 0;
            let ended = loop {
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        this.core.take(item);
                        taken += 1;
                        // Windows are closed after each run of items, at most POLL_BUDGET long.
                        if taken == POLL_BUDGET {
                            break false;
                        }
                    }
                    Poll::Ready(None) => {
                        *done = true;
                        break true;
                    }
                    Poll::Pending => {
                        if taken > 0 && this.core.idle.is_some() {
                            let max = this.core.max_ts.unwrap_or(0);
                            this.core.idle_base = Some((Instant::now(), max));
                        }
                        this.core.close(false);
                        if this.core.ready.is_empty() && !watch_idle(&mut this, cx) {
                            return Poll::Pending;
                        }
                        break false;
                    }
                }
            };
            this.core.close(ended);
            if this.core.ready.is_empty() && !ended {
                yield_now(cx);
                return Poll::Pending;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let ready = self.core.ready.len();
        if self.stream.is_done() {
            (ready, Some(ready))
        } else {
            (ready, None)
        }
    }
}
