//! [`Core`]: an event-time window's state apart from its upstream and its idle timer: the
//! watermark, lateness and the panes.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::Instant;

use super::Window;
use super::panes::Panes;
use crate::window::Aggregate;

/// What ended a run of items in [`Core::take_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunEnd {
    /// The budget of items for the run.
    Budget,
    /// The upstream returned `Pending` (it registered the waker).
    Pending,
    /// The upstream ended.
    Ended,
}

/// Everything but the upstream and the idle timer: the watermark, lateness and the panes.
pub(super) struct Core<T, A: Aggregate<T>, Ts> {
    pub(super) agg: A,
    pub(super) timestamp: Ts,
    pub(super) on_late: Option<Box<dyn FnMut(T) + Send>>,
    pub(super) bound: u64,
    pub(super) panes: Panes<A::Acc>,
    /// With [`EventTimeWindow::idle_timeout`]: the quiet time after which event time is taken
    /// to advance with the clock, and the instant and largest timestamp of the last item.
    pub(super) idle: Option<Duration>,
    pub(super) idle_base: Option<(Instant, u64)>,
    pub(super) max_ts: Option<u64>,
    /// The pane the watermark is in, and the smallest timestamp that moves it on: the
    /// watermark is recomputed only when an item reaches that.
    pub(super) watermark: u128,
    pub(super) watermark_next_ts: u64,
    /// Items with a timestamp below this are late: the first millisecond of the first pane
    /// that is not complete.
    pub(super) late_before: u64,
    pub(super) late: u64,
    /// Late items by the watermark (in panes) when they came: a late item is reported by the
    /// first window emitted that ends after that watermark, whatever the batching.
    pub(super) late_marks: VecDeque<(u128, u64)>,
    pub(super) unassigned: u64,
}

impl<T, A, Ts> Core<T, A, Ts>
where
    A: Aggregate<T>,
    Ts: FnMut(&T) -> u64,
{
    #[inline]
    pub(super) fn take(&mut self, item: T) {
        let ts = (self.timestamp)(&item);
        self.take_at(item, ts);
    }

    /// Takes items from `upstream` until it returns `Pending` or ends, or `budget` items were
    /// taken; returns how many were taken and what ended the run.
    ///
    /// Items that land in the hot pane, in order, neither late nor moving the watermark
    /// (the common case) are added to a copy of that pane's accumulator held in locals, put
    /// back when the stretch ends: what [`take`](Self::take) does for each, without going
    /// through memory for every item.
    #[inline]
    pub(super) fn take_run<St: Stream<Item = T>>(
        &mut self,
        mut upstream: Pin<&mut St>,
        cx: &mut Context<'_>,
        budget: usize,
    ) -> (usize, RunEnd) {
        let mut taken = 0;
        loop {
            let Some(mut hot) = self.panes.take_hot() else {
                // No hot pane: one item the general way, which makes one.
                if taken == budget {
                    return (taken, RunEnd::Budget);
                }
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        taken += 1;
                        self.take(item);
                        continue;
                    }
                    Poll::Ready(None) => return (taken, RunEnd::Ended),
                    Poll::Pending => return (taken, RunEnd::Pending),
                }
            };
            // The timestamps that go straight into the hot pane: in the pane, not late, and
            // below the next watermark step, `from..from + span` in one comparison.
            let from = hot.first_ms.max(self.late_before);
            let end = (u128::from(hot.first_ms) + u128::from(hot.len_ms))
                .min(u128::from(self.watermark_next_ts));
            // At most `u64::MAX`: `end` is at most `watermark_next_ts`.
            let span = end.saturating_sub(u128::from(from)) as u64;
            let mut acc = hot.acc;
            let count_before = acc.1;
            let mut max_ts = self.max_ts.unwrap_or(0);
            let mut left = budget - taken;
            let (end, other) = loop {
                if left == 0 {
                    break (Some(RunEnd::Budget), None);
                }
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        left -= 1;
                        let ts = (self.timestamp)(&item);
                        if ts.wrapping_sub(from) < span {
                            self.agg.add(&mut acc.0, &item);
                            acc.1 += 1;
                            max_ts = max_ts.max(ts);
                            continue;
                        }
                        break (None, Some((item, ts)));
                    }
                    Poll::Ready(None) => break (Some(RunEnd::Ended), None),
                    Poll::Pending => break (Some(RunEnd::Pending), None),
                }
            };
            taken = budget - left;
            let seen = acc.1 != count_before;
            hot.acc = acc;
            self.panes.put_hot(hot);
            if seen {
                self.max_ts = Some(max_ts);
            }
            if let Some((item, ts)) = other {
                self.take_at(item, ts);
            }
            if let Some(end) = end {
                return (taken, end);
            }
        }
    }

    /// [`take`](Self::take) of `item`, whose timestamp is `ts`.
    #[inline]
    fn take_at(&mut self, item: T, ts: u64) {
        // Late against the watermark as of this item, not against the panes closed so far:
        // those are closed in batches, and lateness must not depend on how items are batched.
        if ts < self.late_before {
            self.take_late(item);
            return;
        }
        if !self.panes.add(&self.agg, ts, &item) {
            self.unassigned += 1;
        }
        if self.max_ts.is_none_or(|max| ts > max) {
            self.max_ts = Some(ts);
            if ts >= self.watermark_next_ts {
                self.move_watermark(ts);
            }
        }
    }

    #[cold]
    pub(super) fn take_late(&mut self, item: T) {
        self.late += 1;
        let watermark = self.watermark;
        match self.late_marks.back_mut() {
            Some((mark, n)) if *mark == watermark => *n += 1,
            _ => self.late_marks.push_back((watermark, 1)),
        }
        if let Some(on_late) = self.on_late.as_mut() {
            on_late(item);
        }
    }

    /// Recomputes the watermark from `max_ts`, the largest timestamp seen.
    #[inline(never)]
    pub(super) fn move_watermark(&mut self, max_ts: u64) {
        let geometry = *self.panes.geometry();
        self.watermark = geometry.watermark_pane(max_ts, self.bound);
        self.watermark_next_ts = geometry.next_watermark_ts(self.watermark, self.bound);
        self.update_late_before();
    }

    pub(super) fn update_late_before(&mut self) {
        let frontier = self.panes.closed().max(self.watermark);
        self.late_before = self.panes.geometry().pane_start_ms(frontier);
    }

    /// The source was quiet since `base`: advance event time by the time elapsed.
    pub(super) fn advance_idle(&mut self, now: Instant) {
        if let Some((since, max)) = self.idle_base {
            let quiet = now.saturating_duration_since(since).as_millis();
            let quiet = u64::try_from(quiet).unwrap_or(u64::MAX);
            let ts = max.saturating_add(quiet);
            if self.max_ts.is_none_or(|m| ts > m) {
                self.max_ts = Some(ts);
                self.move_watermark(ts);
            }
            self.close(false);
        }
    }

    /// Marks complete the panes the watermark has passed (all of them at the end).
    pub(super) fn close(&mut self, everything: bool) {
        let until = if everything {
            u128::MAX
        } else {
            self.watermark
        };
        self.panes.close(until);
        self.update_late_before();
    }

    /// The next complete window, in at most `*budget` steps.
    pub(super) fn next_window(&mut self, budget: &mut usize) -> Option<Window<A::Output>> {
        let (k, (acc, count)) = self.panes.next_window::<T, A>(&self.agg, budget)?;
        let (start, end) = self.panes.geometry().window_ms(k);
        let (_, end_pane) = self.panes.geometry().window_panes(k);
        let mut late = 0;
        while let Some(&(mark, n)) = self.late_marks.front() {
            if mark >= end_pane {
                break;
            }
            late += n;
            self.late_marks.pop_front();
        }
        Some(Window {
            start,
            end,
            result: self.agg.result(&acc),
            count,
            late,
        })
    }
}
