//! Time windows: tumbling and sliding, event time and processing time, and count-based moving
//! windows, all with incremental [`Aggregate`]s. No window stores its items: state is
//! accumulators only.
//!
//! | window | operator | emitted |
//! |---|---|---|
//! | tumbling, event time | [`StreamOps::tumbling_window`](crate::StreamOps::tumbling_window) | when the watermark passes its end |
//! | sliding (hopping), event time | [`StreamOps::sliding_window`](crate::StreamOps::sliding_window) | same |
//! | tumbling, processing time | [`StreamOps::processing_window`](crate::StreamOps::processing_window) | every `size` on the tokio clock, empty or not |
//! | tumbling or sliding per key, event time | [`StreamOps::key_by`](crate::StreamOps::key_by) then [`KeyBy`] | one `(key, window)` per key with items, as the watermark passes the window's end |
//! | last `n` items, every `k` | [`StreamOps::count_window`](crate::StreamOps::count_window) | after every `k`-th item |
//!
//! The timelines of which item lands in which window are in each operator's docs and in
//! `docs/operators/windows.md`.

pub mod aggregate;
mod count;
mod event_time;
mod keyed;
mod processing_time;
mod two_stacks;
mod underway;

pub use aggregate::{
    Aggregate, Count, Extremum, Max, Mean, Measured, Min, Moments, Sum, Summarize, Summary,
};
pub use count::CountWindow;
pub use event_time::{EventTimeWindow, MAX_GAP_WINDOWS, MAX_PANES_PER_WINDOW};
pub use keyed::{KeyBy, KeyedWindow};
pub use processing_time::ProcessingTimeWindow;
pub use underway::{Raised, Underway};

/// How windows of `size_ms` starting every `slide_ms` are cut into panes: the pane length,
/// `gcd(size_ms, slide_ms)`, and how many panes one window spans, `size_ms / pane`. Sliding
/// windows allow at most [`MAX_PANES_PER_WINDOW`] of them. Both arguments must be at least 1.
///
/// ```
/// assert_eq!(weir::window::window_panes(10_000, 250), (250, 40));
/// assert_eq!(weir::window::window_panes(100_000_000, 1), (1, 100_000_000));
/// ```
pub fn window_panes(size_ms: u64, slide_ms: u64) -> (u64, u64) {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let pane = gcd(size_ms, slide_ms);
    (pane, size_ms / pane)
}

/// The windows of `size_ms` starting every `slide_ms` that hold timestamp `ts`, as `(start,
/// end)`, latest first: the windows [`sliding_window`](crate::StreamOps::sliding_window) and
/// [`tumbling_window`](crate::StreamOps::tumbling_window) (offset 0) put an item at `ts` in,
/// reported as they report them (a window reaching back before 0 starts at 0; one reaching
/// past the end of time ends at `u64::MAX`). None in the gap of a window whose slide exceeds
/// its size.
///
/// # Panics
///
/// As `sliding_window` does: if `size_ms` or `slide_ms` is 0, or a window would span more
/// than [`MAX_PANES_PER_WINDOW`] panes.
///
/// ```
/// use weir::window::windows_holding;
/// let of = |ts, size, slide| windows_holding(ts, size, slide).collect::<Vec<_>>();
/// assert_eq!(of(1_234, 1_000, 1_000), [(1_000, 2_000)]);
/// assert_eq!(of(1_234, 1_000, 500), [(1_000, 2_000), (500, 1_500)]);
/// assert_eq!(of(1_234, 100, 1_000), []);
/// ```
#[track_caller]
pub fn windows_holding(ts: u64, size_ms: u64, slide_ms: u64) -> impl Iterator<Item = (u64, u64)> {
    let geometry = event_time::Geometry::new(size_ms, slide_ms);
    geometry
        .windows_holding(ts)
        .rev()
        .map(move |k| geometry.window_ms(k))
}

/// The first timestamp that the windows of `size_ms` starting every `slide_ms` (offset 0),
/// allowing `out_of_orderness_ms`, take as on time once the largest timestamp they have seen
/// is `max_ts`: an item stamped before it is late, as
/// [`sliding_window`](crate::StreamOps::sliding_window) and
/// [`tumbling_window`](crate::StreamOps::tumbling_window) judge it (without an idle timeout,
/// which moves event time on by itself). Items are late a pane at a time: the cut is the start
/// of the pane of `gcd(size_ms, slide_ms)` the watermark (`max_ts` less the out-of-orderness)
/// is in.
///
/// # Panics
///
/// As `sliding_window` does: if `size_ms` or `slide_ms` is 0, or a window would span more
/// than [`MAX_PANES_PER_WINDOW`] panes.
///
/// ```
/// use weir::window::late_before;
/// // Tumbling windows of 1 s: once 2 500 was seen, the window [1 000, 2 000) is closed.
/// assert_eq!(late_before(2_500, 1_000, 1_000, 0), 2_000);
/// // Allowing 1 s out of order, it is not.
/// assert_eq!(late_before(2_500, 1_000, 1_000, 1_000), 1_000);
/// // Sliding by 250 ms: panes of 250 ms.
/// assert_eq!(late_before(2_600, 1_000, 250, 0), 2_500);
/// ```
#[track_caller]
pub fn late_before(max_ts: u64, size_ms: u64, slide_ms: u64, out_of_orderness_ms: u64) -> u64 {
    let geometry = event_time::Geometry::new(size_ms, slide_ms);
    geometry.pane_start_ms(geometry.watermark_pane(max_ts, out_of_orderness_ms))
}

/// An accumulator and the number of items in it: the unit the pane-based windows queue.
pub(crate) type Pane<Acc> = (Acc, u64);

/// Two panes as one, for [`TwoStacks`](two_stacks::TwoStacks) queues of panes.
pub(crate) fn combine_panes<T, A: Aggregate<T>>(
    agg: &A,
    a: &Pane<A::Acc>,
    b: &Pane<A::Acc>,
) -> Pane<A::Acc> {
    (agg.combine(&a.0, &b.0), a.1 + b.1)
}

/// One emitted window: where it lies, what it aggregated, how many items it saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window<O> {
    /// Inclusive start: milliseconds for time windows, an item position for count windows.
    pub start: u64,
    /// Exclusive end, in the same unit.
    pub end: u64,
    /// The aggregate's result.
    pub result: O,
    /// Items in the window.
    pub count: u64,
    /// Late items dropped since the previous window was emitted (event-time windows).
    pub late: u64,
}

impl<V> Window<Measured<V>> {
    /// The result of a numeric built-in ([`Sum`], [`Mean`], [`Min`], [`Max`], [`Summarize`]),
    /// without the NaN values it skipped: `w.value()` for `w.result.value`.
    pub fn value(&self) -> &V {
        &self.result.value
    }
}

/// The common reads of a [`Summarize`] window, one hop each: `w.mean()` for
/// `w.result.value.mean`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// // (timestamp ms, value)
/// let readings = weir::iter([(0u64, 1.0), (400, 3.0), (1_100, -2.0)]);
/// let windows: Vec<_> = readings
///     .tumbling_window(1_000, |r: &(u64, f64)| r.0, Summarize(|r: &(u64, f64)| r.1))
///     .collect()
///     .await;
/// let w = &windows[0];
/// assert_eq!((w.start, w.end, w.count), (0, 1_000, 2));
/// assert_eq!((w.mean(), w.min(), w.max(), w.sum()), (Some(2.0), Some(1.0), Some(3.0), 4.0));
/// assert_eq!(w.skipped(), 0); // NaN values left out
/// # }
/// ```
impl Window<Measured<Summary>> {
    /// The mean of the values, `None` when every value was NaN.
    pub fn mean(&self) -> Option<f64> {
        self.result.value.mean
    }

    /// The smallest value, `None` when every value was NaN.
    pub fn min(&self) -> Option<f64> {
        self.result.value.min
    }

    /// The largest value, `None` when every value was NaN.
    pub fn max(&self) -> Option<f64> {
        self.result.value.max
    }

    /// The sum of the values (0.0 when every value was NaN).
    pub fn sum(&self) -> f64 {
        self.result.value.sum
    }

    /// NaN values left out of the statistics ([`count`](Self::count) includes them).
    pub fn skipped(&self) -> u64 {
        self.result.skipped
    }
}
