//! [`Geometry`]: where the windows and panes of an event-time window lie, in milliseconds
//! and in pane space.
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

use super::super::window_panes;

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

    /// How many panes one window spans.
    pub(crate) fn panes_per_window(&self) -> u128 {
        self.per_window
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

    /// The windows holding `ts`, as a range of window numbers (empty in the gap of a window
    /// whose slide exceeds its size).
    pub(crate) fn windows_holding(&self, ts: u64) -> std::ops::Range<u128> {
        let pane = self.pane_of(ts);
        if !self.in_a_window(pane) {
            return 0..0;
        }
        // The last window holding `pane` is the last to start at or before it.
        self.first_window_of(pane)..pane / self.per_slide + 1
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
