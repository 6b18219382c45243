//! [`EventTimeWindow`]: tumbling and sliding windows over the items' own timestamps, closed by a
//! watermark.

mod clock;
mod geometry;
mod panes;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::Window;
use super::aggregate::Aggregate;
use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};
pub(crate) use clock::Clock;
pub(crate) use geometry::Geometry;
pub use geometry::{MAX_GAP_WINDOWS, MAX_PANES_PER_WINDOW};
use panes::Panes;
use state::{Core, RunEnd};

pin_project! {
    /// Stream for [`StreamOps::tumbling_window`](crate::StreamOps::tumbling_window) and
    /// [`StreamOps::sliding_window`](crate::StreamOps::sliding_window).
    ///
    /// # Which items land in which window
    ///
    /// Time is the item's timestamp in milliseconds, from the extractor. Windows start at
    /// `offset + k * slide` and last `size` (tumbling: `slide == size`; the offset is 0 unless
    /// set with [`offset`](Self::offset)):
    ///
    /// ```text
    /// size 10, slide 10 (tumbling):   [0,10) [10,20) [20,30)
    /// size 10, slide 5 (sliding):     [-5,5) [0,10) [5,15) [10,20)   an item at 12 is in two
    /// size 5, slide 10 (sampling):    [0,5)  [10,15) [20,25)          an item at 7 is in none
    /// size 10, slide 4, offset 1:     [-7,3) [-3,7) [1,11) [5,15) [9,19) [13,23)
    /// ```
    ///
    /// An item belongs to every window whose `[start, end)` contains its timestamp; an item
    /// in no window (gaps of a sampling window) is counted in
    /// [`unassigned`](Self::unassigned). Timestamps are unsigned, so a window that would
    /// start before 0 holds the items from 0 to its end and is reported with `start` 0 (above,
    /// `[-5,5)` is emitted as `start 0, end 5`). A window that would end past `u64::MAX` is
    /// reported with `end` `u64::MAX` and holds the items up to and including `u64::MAX`. No
    /// timestamp, size, slide, offset or lateness makes the arithmetic overflow.
    ///
    /// # Watermark, lateness, emission
    ///
    /// The *watermark* is the largest timestamp seen minus the allowed out-of-orderness
    /// `bound`. Time is cut into panes of `gcd(size, slide)` ms; the panes before the one the
    /// watermark is in are complete, and a window is emitted once all its panes are, in
    /// ascending order of windows. An item whose pane is complete is *late*: counted in
    /// [`late`](Self::late) and in the `late` field of the first window emitted that ends
    /// after the watermark the late item met (so the counts do not depend on how items were
    /// batched), and handed to the callback set with [`on_late`](Self::on_late), never
    /// silently lost. Items out of order by less than `bound` are on time. Duplicate
    /// timestamps are ordinary items. When the upstream ends, every open window is emitted,
    /// in order. By default windows that saw no item are not emitted;
    /// [`emit_empty`](Self::emit_empty) emits zero-count windows for the gaps between windows
    /// that saw items, at most [`MAX_GAP_WINDOWS`] per gap.
    ///
    /// This watermark is the stream's own. To window several sources merged together, merge
    /// them with [`merge_event_time`](crate::merge::merge_event_time), which keeps a source
    /// that is ahead from making another source's on-time items late.
    ///
    /// # State and cost
    ///
    /// No item is stored: each pane that saw items holds one accumulator while the watermark
    /// has not passed it. Complete panes of a sliding window go through a two-stacks queue
    /// (`src/window/two_stacks.rs`) holding one window's panes, which gives each
    /// window's aggregate in amortized O(1) for any associative aggregate (max included),
    /// whatever `size / slide` is. Memory is O(`size / pane` + panes open within `bound`). A
    /// window may span at most [`MAX_PANES_PER_WINDOW`] panes.
    ///
    /// # Wake-up contract and budget
    ///
    /// One poll takes at most [`POLL_BUDGET`] items and makes at most [`POLL_BUDGET`] steps of
    /// window assembly (a pane queued or dropped, a window skipped or emitted), so neither a
    /// ready upstream nor a jump of event time (a far-future timestamp, an idle timeout firing,
    /// a window of many panes) keeps the task from yielding. `Pending` comes only after the
    /// upstream returned `Pending` (with an idle timeout, also after the idle timer registered
    /// the waker), or after a budget ran out (the task woke itself first).
    ///
    /// # Panics
    ///
    /// If `size` or `slide` is 0, or if a window would span more than
    /// [`MAX_PANES_PER_WINDOW`] panes (`size / gcd(size, slide)`).
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/tumbling_window.txt")]
    /// ```
    ///
    /// ```text
    #[doc = include_str!("../../../docs/operators/marbles/sliding_window.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::window::Summarize;
    ///
    /// // (timestamp ms, value)
    /// let readings = weir::iter([(0, 1.0), (400, 3.0), (1_100, -2.0), (2_500, 8.0)]);
    /// let windows: Vec<_> = readings
    ///     .tumbling_window(1_000, |r: &(u64, f64)| r.0, Summarize(|r: &(u64, f64)| r.1))
    ///     .collect()
    ///     .await;
    /// // `w.mean()` reads `w.result.value.mean`; `min()`, `max()`, `sum()` alike.
    /// let means: Vec<_> = windows.iter().map(|w| (w.start, w.end, w.mean())).collect();
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
        let geometry = self.core.panes.geometry();
        f.debug_struct("EventTimeWindow")
            .field("stream", &self.stream)
            .field("size", &geometry.size)
            .field("slide", &geometry.slide)
            .field("bound", &self.core.clock.bound)
            .field("open_panes", &self.core.panes.open_panes())
            .field("late", &self.core.clock.late)
            .finish_non_exhaustive()
    }
}

impl<St, A, Ts> EventTimeWindow<St, A, Ts>
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    #[track_caller]
    pub(crate) fn new(stream: St, size: u64, slide: u64, timestamp: Ts, agg: A) -> Self {
        let geometry = Geometry::new(size, slide);
        let identity = (agg.init(), 0);
        let core = Core {
            agg,
            timestamp,
            on_late: None,
            clock: Clock::new(),
            panes: Panes::new(geometry, identity),
        };
        EventTimeWindow {
            stream: Fuse::new(stream),
            idle_timer: None,
            core,
        }
    }

    /// Allows items to arrive up to `bound_ms` out of order: the watermark trails the largest
    /// timestamp seen by that much (default 0: windows close as soon as a later item arrives).
    /// Any value is accepted; `u64::MAX` keeps every window open until the upstream ends.
    pub fn out_of_orderness(mut self, bound_ms: u64) -> Self {
        self.core.clock.bound = bound_ms;
        self
    }

    /// Shifts window boundaries: windows start at `offset_ms + k * slide` (only the offset
    /// modulo `slide` matters). Windows that would start before 0 are reported with start 0.
    pub fn offset(mut self, offset_ms: u64) -> Self {
        self.core.panes.set_offset(offset_ms);
        self
    }

    /// Hands every late item to `callback` (a side output) after counting it.
    pub fn on_late(mut self, callback: impl FnMut(St::Item) + Send + 'static) -> Self {
        self.core.on_late = Some(Box::new(callback));
        self
    }

    /// Also emits zero-count windows for the gaps between windows that saw items, tumbling
    /// or sliding, as soon as the watermark passes them: at most [`MAX_GAP_WINDOWS`] per gap
    /// (a longer gap is skipped). No empty window comes before the first window that saw an
    /// item or after the last.
    pub fn emit_empty(mut self) -> Self {
        self.core.panes.set_emit_empty();
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
        self.core.clock.set_idle(timeout);
        self
    }

    /// With an [idle timeout](Self::idle_timeout): time during which the upstream holds
    /// `underway` up (items read from their source and waiting to go out) is no quiet, and
    /// neither is a period during which it went up or down: the quiet period begins again
    /// when the idle timer fires. A [vouching](crate::window::Underway::vouching) flag
    /// also bounds quiet time to the last instant the upstream heard that nothing was new.
    /// Without an idle timeout it changes nothing. See [`Underway`](crate::window::Underway).
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

    /// Every window that ends before this time (ms) is settled: emitted already, or left
    /// without items, and closed (an item for it now is late). `u64::MAX` once the upstream
    /// ended and every window was emitted.
    ///
    /// This is what a consumer that acknowledges its input needs: once the windows emitted
    /// so far are written, an item whose last window ends before this is fully accounted
    /// for. An operator downstream of this one may still hold windows it yielded.
    pub fn settled_before(&self) -> u64 {
        let panes = &self.core.panes;
        panes.geometry().window_ms(panes.first_unsettled()).1
    }

    /// Items that fell in no window (the gaps of windows whose slide exceeds their size).
    pub fn unassigned(&self) -> u64 {
        self.core.clock.unassigned
    }

    upstream_accessors!();
}

/// With an idle timeout and items waiting: [`Clock::watch_idle`], then the panes the
/// watermark passed are closed.
fn watch_idle<St, A, Ts>(
    this: &mut EventTimeWindowProj<'_, St, A, Ts>,
    cx: &mut Context<'_>,
) -> bool
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    let core = &mut *this.core;
    let panes = &core.panes;
    let (geometry, closed, holds) = (panes.geometry(), panes.closed(), panes.holds_items());
    if !core
        .clock
        .watch_idle(this.idle_timer, holds, geometry, closed, cx)
    {
        return false;
    }
    core.close(false);
    true
}

impl<St, A, Ts> FusedStream for EventTimeWindow<St, A, Ts>
where
    St: Stream,
    A: Aggregate<St::Item>,
    Ts: FnMut(&St::Item) -> u64,
{
    fn is_terminated(&self) -> bool {
        self.stream.is_done() && !self.core.panes.holds_items()
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
        let mut steps = POLL_BUDGET;
        // Whether this poll took its run of items already, and whether that run ended with
        // the upstream returning `Pending`.
        let mut took = false;
        let mut upstream_pending = false;
        loop {
            if let Some(window) = this.core.next_window(&mut steps) {
                return Poll::Ready(Some(window));
            }
            if steps == 0 {
                wake_self(cx);
                return Poll::Pending;
            }
            let (upstream, done) = this.stream.as_mut().split();
            if *done {
                return Poll::Ready(None);
            }
            if took {
                if !upstream_pending {
                    wake_self(cx);
                    return Poll::Pending;
                }
                if watch_idle(&mut this, cx) {
                    continue;
                }
                return Poll::Pending;
            }
            took = true;
            // Windows are closed after each run of items, at most POLL_BUDGET long.
            match this.core.take_run(upstream, cx, POLL_BUDGET) {
                (_, RunEnd::Budget) => this.core.close(false),
                (_, RunEnd::Ended) => {
                    *done = true;
                    this.core.close(true);
                }
                (taken, RunEnd::Pending) => {
                    upstream_pending = true;
                    if taken > 0 {
                        this.core.clock.mark_quiet_from_now();
                    }
                    this.core.close(false);
                }
            }
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
