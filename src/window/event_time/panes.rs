//! The bookkeeping behind [`EventTimeWindow`](super::EventTimeWindow): where windows and panes
//! lie ([`Geometry`]), and the panes that hold items until the windows over them are complete
//! ([`Panes`]).
//!
//! # Pane space
//!
//! Time is cut into panes of `gcd(size, slide)` milliseconds, so that every window is a whole
//! number of panes and starts on a pane boundary. Timestamps are mapped to *pane space* by
//! adding a `shift` chosen so that
//! - window `k` (for `k >= 0`) covers panes `[k * per_slide, k * per_slide + per_window)`,
//!   which puts window starts at `offset + k * slide` in milliseconds;
//! - every window that ends after 0 ms has `k >= 0`, so an item near 0 is in all of its
//!   windows, including those that would start before 0 (reported with start 0).
//!
//! Timestamps go up to `u64::MAX` and the shift is below `max(size, slide)`, so positions in
//! pane space take 65 bits: pane and window numbers are `u128`, which no sum or product of
//! the values involved can overflow. Only the cold paths (a new pane, a window to assemble)
//! compute in pane space; an item that falls in the pane items are arriving in is checked in
//! milliseconds, with `u64` bounds precomputed for that pane.

use std::collections::{BTreeMap, VecDeque};

use super::super::aggregate::Aggregate;
use super::super::two_stacks::TwoStacks;
use super::super::{Pane, combine_panes, window_panes};

/// The most panes one window may span: `size / gcd(size, slide)`. A sliding window keeps one
/// accumulator per pane of the window it is assembling, and each item belongs to
/// `size / slide` windows, so beyond this a window's memory and work stop being reasonable:
/// [`sliding_window`](crate::StreamOps::sliding_window) panics instead, naming both
/// arguments. 100 000 allows, for example, a 1-day window sliding by 1 s (86 400 panes).
pub const MAX_PANES_PER_WINDOW: u64 = 100_000;

/// At most this many empty windows are emitted in one gap between windows that saw items,
/// with [`emit_empty`](super::EventTimeWindow::emit_empty); a longer gap (one absurd
/// timestamp, say `u64::MAX`) is skipped without empty windows.
pub const MAX_GAP_WINDOWS: u64 = 10_000;

/// `a * b`, saturating. Operands below 2^64 (all but absurd window numbers) take one widening
/// multiply, not the 128-bit overflow check.
#[inline(always)]
fn mul(a: u128, b: u128) -> u128 {
    if (a | b) >> 64 == 0 {
        a * b
    } else {
        a.saturating_mul(b)
    }
}

/// Where windows and panes lie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    /// Window length and distance between window starts, in ms.
    pub(crate) size: u64,
    pub(crate) slide: u64,
    /// Pane length in ms: `gcd(size, slide)`.
    pane: u64,
    per_window: u128,
    per_slide: u128,
    /// Added to a timestamp to place it in pane space; below `max(size, slide)`.
    shift: u64,
}

impl Geometry {
    /// # Panics
    ///
    /// If `size` or `slide` is 0, or a window would span more than [`MAX_PANES_PER_WINDOW`]
    /// panes.
    #[track_caller]
    pub(crate) fn new(size: u64, slide: u64) -> Self {
        assert!(size > 0, "window: `size` must be at least 1 ms, got 0");
        assert!(slide > 0, "window: `slide` must be at least 1 ms, got 0");
        let (pane, per_window) = window_panes(size, slide);
        assert!(
            per_window <= MAX_PANES_PER_WINDOW,
            "window: `size` {size} ms with `slide` {slide} ms makes windows of {per_window} \
             panes of gcd(size, slide) = {pane} ms; at most {MAX_PANES_PER_WINDOW} are \
             allowed (make `size` a smaller multiple of `slide`)"
        );
        let mut geometry = Geometry {
            size,
            slide,
            pane,
            per_window: u128::from(per_window),
            per_slide: u128::from(slide / pane),
            shift: 0,
        };
        geometry.set_offset(0);
        geometry
    }

    /// Windows start at `offset + k * slide` (the offset matters modulo `slide`).
    pub(crate) fn set_offset(&mut self, offset: u64) {
        let slide = u128::from(self.slide);
        // The shift must map `offset` to a multiple of `slide`, and be at least
        // `size - slide`, so that the windows ending after 0 all have k >= 0.
        let base = (slide - u128::from(offset) % slide) % slide;
        let least = u128::from(self.size.saturating_sub(self.slide));
        let shift = if base >= least {
            base
        } else {
            base + (least - base).div_ceil(slide) * slide
        };
        self.shift = u64::try_from(shift).expect("the shift is below max(size, slide)");
    }

    /// The pane `ts` falls in.
    #[inline]
    pub(crate) fn pane_of(&self, ts: u64) -> u128 {
        match ts.checked_add(self.shift) {
            Some(x) => u128::from(x / self.pane),
            None => (u128::from(ts) + u128::from(self.shift)) / u128::from(self.pane),
        }
    }

    /// The pane the watermark is in when `max_ts` is the largest timestamp seen and items may
    /// be `bound` ms out of order: the panes before it are complete.
    pub(crate) fn watermark_pane(&self, max_ts: u64, bound: u64) -> u128 {
        match max_ts.checked_add(self.shift) {
            Some(x) => u128::from(x.saturating_sub(bound) / self.pane),
            None => {
                let x = u128::from(max_ts) + u128::from(self.shift);
                x.saturating_sub(u128::from(bound)) / u128::from(self.pane)
            }
        }
    }

    /// The smallest timestamp that moves the watermark past `pane` (`u64::MAX` if that lies
    /// beyond).
    pub(crate) fn next_watermark_ts(&self, pane: u128, bound: u64) -> u64 {
        let at = mul(pane + 1, u128::from(self.pane)).saturating_add(u128::from(bound));
        self.clamp_ms(at)
    }

    /// Milliseconds of a position in pane space, clamped to `[0, u64::MAX]`.
    fn clamp_ms(&self, x: u128) -> u64 {
        u64::try_from(x.saturating_sub(u128::from(self.shift))).unwrap_or(u64::MAX)
    }

    /// The first millisecond of `pane` (0 for a pane that starts before 0).
    pub(crate) fn pane_start_ms(&self, pane: u128) -> u64 {
        self.clamp_ms(mul(pane, u128::from(self.pane)))
    }

    /// The timestamps in `pane`, as `(first, count)`: `ts` is in it iff
    /// `ts.wrapping_sub(first) < count`.
    pub(crate) fn pane_span(&self, pane: u128) -> (u64, u64) {
        let first = self.pane_start_ms(pane);
        let end = mul(pane.saturating_add(1), u128::from(self.pane));
        // Clamped to the end of time: a wider span would wrap around in the check.
        let end = end
            .saturating_sub(u128::from(self.shift))
            .min(u128::from(u64::MAX) + 1);
        // `end - first` is at most one pane, so it fits.
        let count = u64::try_from(end - u128::from(first)).expect("a pane is at most u64::MAX ms");
        (first, count)
    }

    /// Whether `pane` lies in any window (not in the gap of a window whose slide exceeds its
    /// size).
    #[inline]
    pub(crate) fn in_a_window(&self, pane: u128) -> bool {
        self.per_slide <= self.per_window || pane % self.per_slide < self.per_window
    }

    /// The panes of window `k`: `[first, end)`.
    pub(crate) fn window_panes(&self, k: u128) -> (u128, u128) {
        let first = mul(k, self.per_slide);
        (first, first.saturating_add(self.per_window))
    }

    /// The first window that holds `pane`.
    pub(crate) fn first_window_of(&self, pane: u128) -> u128 {
        pane.saturating_add(1)
            .saturating_sub(self.per_window)
            .div_ceil(self.per_slide)
    }

    /// Window `k` in milliseconds: `(start, end)`, the start clamped to 0 and the end to
    /// `u64::MAX`.
    pub(crate) fn window_ms(&self, k: u128) -> (u64, u64) {
        let start = mul(k, u128::from(self.slide));
        (
            self.clamp_ms(start),
            self.clamp_ms(start.saturating_add(u128::from(self.size))),
        )
    }
}

/// The pane items are arriving in, kept out of the map: an in-order item costs one
/// subtraction and one comparison in milliseconds, no division and no lookup.
#[derive(Debug)]
struct Hot<Acc> {
    pane: u128,
    first_ms: u64,
    len_ms: u64,
    acc: Pane<Acc>,
}

/// Panes with items that are not in the window queue yet, by pane number. Panes that come in
/// ascending order (the common case: items in order) go to the back of a run, which costs no
/// allocation and no tree walk; the others go to a map.
struct OpenPanes<Acc> {
    run: VecDeque<(u128, Pane<Acc>)>,
    rest: BTreeMap<u128, Pane<Acc>>,
}

impl<Acc> OpenPanes<Acc> {
    fn new() -> Self {
        OpenPanes {
            run: VecDeque::new(),
            rest: BTreeMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.run.len() + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.run.is_empty() && self.rest.is_empty()
    }

    /// Adds `pane`, which is not held yet.
    fn insert(&mut self, pane: u128, acc: Pane<Acc>) {
        if self.run.back().is_none_or(|(last, _)| *last < pane) {
            self.run.push_back((pane, acc));
        } else {
            self.rest.insert(pane, acc);
        }
    }

    fn remove(&mut self, pane: u128) -> Option<Pane<Acc>> {
        match self.run.binary_search_by_key(&pane, |(p, _)| *p) {
            Ok(i) => self.run.remove(i).map(|(_, acc)| acc),
            Err(_) => self.rest.remove(&pane),
        }
    }

    /// The smallest pane number held.
    fn first(&self) -> Option<u128> {
        let run = self.run.front().map(|(pane, _)| *pane);
        let rest = self.rest.first_key_value().map(|(pane, _)| *pane);
        match (run, rest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_first(&mut self) -> Option<(u128, Pane<Acc>)> {
        let run = self.run.front().map(|(pane, _)| *pane);
        let rest = self.rest.first_key_value().map(|(pane, _)| *pane);
        match (run, rest) {
            (Some(a), Some(b)) if b < a => self.rest.pop_first(),
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.rest.pop_first(),
        }
    }
}

/// The panes that hold items, and the assembly of complete windows from them.
///
/// Panes below `closed` are complete: no item will be added to them (a later item for one is
/// late, which the operator checks before calling [`add`](Self::add)). Complete windows are
/// assembled one *step* at a time (a pane pushed to or popped from the window queue, a window
/// skipped or emitted), so the caller bounds the work of one poll whatever the geometry or
/// the jumps of event time.
pub(crate) struct Panes<Acc> {
    geometry: Geometry,
    hot: Option<Hot<Acc>>,
    /// Panes with items that are not in the window queue yet.
    open: OpenPanes<Acc>,
    closed: u128,
    /// The panes `[queue_start, queue_end)` of the window being assembled.
    queue: TwoStacks<Pane<Acc>>,
    queue_start: u128,
    queue_end: u128,
    /// The last pane with items moved into the queue.
    last_queued: Option<u128>,
    /// The next window to emit or skip.
    next_window: u128,
    last_emitted: Option<u128>,
    emit_empty: bool,
}

impl<Acc: Clone> Panes<Acc> {
    pub(crate) fn new(geometry: Geometry, identity: Pane<Acc>) -> Self {
        Panes {
            geometry,
            hot: None,
            open: OpenPanes::new(),
            closed: 0,
            queue: TwoStacks::new(identity),
            queue_start: 0,
            queue_end: 0,
            last_queued: None,
            next_window: 0,
            last_emitted: None,
            emit_empty: false,
        }
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.geometry.set_offset(offset);
    }

    pub(crate) fn set_emit_empty(&mut self) {
        self.emit_empty = true;
    }

    /// The panes below this are complete.
    pub(crate) fn closed(&self) -> u128 {
        self.closed
    }

    /// Panes holding items that are not in the window queue yet (for `Debug`).
    pub(crate) fn open_panes(&self) -> usize {
        self.open.len() + usize::from(self.hot.is_some())
    }

    /// Adds `item` at `ts` to its pane, unless the pane lies in no window: then `false`.
    #[inline]
    pub(crate) fn add<T, A>(&mut self, agg: &A, ts: u64, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        match &mut self.hot {
            Some(hot) if ts.wrapping_sub(hot.first_ms) < hot.len_ms => {
                agg.add(&mut hot.acc.0, item);
                hot.acc.1 += 1;
                true
            }
            _ => self.add_cold(agg, ts, item),
        }
    }

    /// An item outside the hot pane: find its pane, make that the hot one.
    #[inline(never)]
    fn add_cold<T, A>(&mut self, agg: &A, ts: u64, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        let pane = self.geometry.pane_of(ts);
        if !self.geometry.in_a_window(pane) {
            return false;
        }
        self.cool();
        let mut acc = self.open.remove(pane).unwrap_or_else(|| (agg.init(), 0));
        agg.add(&mut acc.0, item);
        acc.1 += 1;
        let (first_ms, len_ms) = self.geometry.pane_span(pane);
        self.hot = Some(Hot {
            pane,
            first_ms,
            len_ms,
            acc,
        });
        true
    }

    /// Puts the hot pane back into the map.
    fn cool(&mut self) {
        if let Some(hot) = self.hot.take() {
            self.open.insert(hot.pane, hot.acc);
        }
    }

    /// Marks the panes below `until` complete (`u128::MAX`: every pane, at the end).
    pub(crate) fn close(&mut self, until: u128) {
        if until > self.closed {
            self.closed = until;
            if self.hot.as_ref().is_some_and(|hot| hot.pane < until) {
                self.cool();
            }
        }
    }

    /// Whether some items still wait for a window to be emitted.
    pub(crate) fn holds_items(&self) -> bool {
        self.hot.is_some()
            || !self.open.is_empty()
            || self.last_queued.is_some_and(|pane| {
                let (first, _) = self.geometry.window_panes(self.next_window);
                pane >= first
            })
    }

    /// The next complete window to emit, as `(k, pane)` (the pane holding its aggregate and
    /// item count), assembled in at most `*budget` steps, each taken from the budget. `None`
    /// when no window is complete, or when the budget ran out first (then `*budget == 0`).
    pub(crate) fn next_window<T, A>(
        &mut self,
        agg: &A,
        budget: &mut usize,
    ) -> Option<(u128, Pane<Acc>)>
    where
        A: Aggregate<T, Acc = Acc>,
    {
        let combine = |a: &Pane<Acc>, b: &Pane<Acc>| combine_panes(agg, a, b);
        while *budget > 0 {
            *budget -= 1;
            let k = self.next_window;
            let (first, end) = self.geometry.window_panes(k);
            if end > self.closed {
                return None;
            }
            // The first pane with items that is not queued yet. The hot pane is not complete
            // (`close` cools a complete one), so it lies past window k, but it bounds a skip.
            let next = self.open.first();
            let queued = self.last_queued.is_some_and(|pane| pane >= first);
            if !queued && next.is_none_or(|pane| pane >= end) {
                // Window k saw no item. Nor did the windows before the first one that holds a
                // pane with items; with no such pane, wait for items.
                let hot = self.hot.as_ref().map(|hot| hot.pane);
                let next = next.into_iter().chain(hot).min()?;
                let holder = self.geometry.first_window_of(next);
                let fill = self.emit_empty
                    && self
                        .last_emitted
                        .is_some_and(|last| holder - last - 1 <= u128::from(MAX_GAP_WINDOWS));
                if fill {
                    self.next_window = k + 1;
                    self.last_emitted = Some(k);
                    return Some((k, self.queue.identity().clone()));
                }
                // Skip the gap, but not past the first pane that is not complete: items may
                // still come to it. A gap skipped is not filled in part later.
                self.last_emitted = None;
                self.next_window = holder
                    .min(self.geometry.first_window_of(self.closed))
                    .max(k + 1);
                continue;
            }
            if self.queue.len() == 0 || self.queue_end <= first {
                // Nothing queued overlaps window k: start afresh at its first pane.
                self.queue.clear();
                self.queue_start = first;
                self.queue_end = first;
            }
            // Bring the queue to the panes of window k, one budgeted step per pane.
            while self.queue_start < first && *budget > 0 {
                *budget -= 1;
                self.queue.pop(combine);
                self.queue_start += 1;
            }
            let mut next = next;
            while self.queue_start == first && self.queue_end < end && *budget > 0 {
                *budget -= 1;
                let pane = if next == Some(self.queue_end) {
                    self.last_queued = next;
                    let pane = self
                        .open
                        .pop_first()
                        .expect("`next` is the first open pane")
                        .1;
                    next = self.open.first();
                    pane
                } else {
                    self.queue.identity().clone()
                };
                self.queue.push(pane, combine);
                self.queue_end += 1;
            }
            if self.queue_start < first || self.queue_end < end {
                return None; // out of budget
            }
            self.next_window = k + 1;
            self.last_emitted = Some(k);
            return Some((k, self.queue.query(combine)));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Count;

    fn drain(panes: &mut Panes<u64>) -> Vec<(u64, u64, u64)> {
        let mut out = Vec::new();
        let mut budget = usize::MAX;
        while let Some((k, (_, n))) = panes.next_window::<u64, _>(&Count, &mut budget) {
            let (start, end) = panes.geometry().window_ms(k);
            out.push((start, end, n));
        }
        out
    }

    #[test]
    fn the_shift_puts_window_starts_at_the_offset() {
        // size 10, slide 4, offset 1: windows start at ..., -7, -3, 1, 5, 9, 13, ...
        let mut g = Geometry::new(10, 4);
        g.set_offset(1);
        let starts: Vec<_> = (0..5).map(|k| g.window_ms(k)).collect();
        assert_eq!(starts, [(0, 3), (0, 7), (1, 11), (5, 15), (9, 19)]);
        // An item at 0 lies in the first two windows, which reach back before 0.
        assert_eq!(g.first_window_of(g.pane_of(0)), 0);
        assert_eq!(g.first_window_of(g.pane_of(12)), 3);
    }

    #[test]
    fn panes_at_the_end_of_time() {
        // size 10, slide 3: 1 ms panes, shifted by 9 so that windows reaching back before 0
        // have k >= 0; the pane of u64::MAX then lies past u64::MAX in pane space.
        let g = Geometry::new(10, 3);
        let pane = g.pane_of(u64::MAX);
        assert_eq!(pane, u128::from(u64::MAX) + 9);
        assert_eq!(g.pane_span(pane), (u64::MAX, 1));
        // Its first window starts 9 ms before it and would end past u64::MAX: clamped.
        let (start, end) = g.window_ms(g.first_window_of(pane));
        assert_eq!((start, end), (u64::MAX - 9, u64::MAX));
        assert_eq!(g.watermark_pane(u64::MAX, u64::MAX), 9);
        assert_eq!(g.next_watermark_ts(pane, 0), u64::MAX);
    }

    #[test]
    fn steps_are_bounded_by_the_budget() {
        let g = Geometry::new(1_000, 1);
        let mut panes = Panes::new(g, (0u64, 0));
        assert!(panes.add(&Count, 5, &5u64));
        panes.close(u128::MAX);
        let mut budget = 10;
        assert!(panes.next_window::<u64, _>(&Count, &mut budget).is_none());
        assert_eq!(budget, 0);
        assert_eq!(drain(&mut panes).len(), 1_000);
    }

    #[test]
    fn gap_windows_between_windows_that_saw_items() {
        let g = Geometry::new(10, 10);
        let mut panes = Panes::new(g, (0u64, 0));
        panes.set_emit_empty();
        panes.add(&Count, 5, &0u64);
        panes.add(&Count, 35, &0u64);
        panes.close(u128::MAX);
        assert_eq!(
            drain(&mut panes),
            [(0, 10, 1), (10, 20, 0), (20, 30, 0), (30, 40, 1)]
        );
    }
}
