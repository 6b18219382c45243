//! [`Core`]: an event-time window's state apart from its upstream and its idle timer: the
//! watermark, lateness and the panes.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::Window;
use super::clock::Clock;
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

/// Everything but the upstream and the idle timer: the clock (watermark, lateness, idleness)
/// and the panes.
pub(super) struct Core<T, A: Aggregate<T>, Ts> {
    pub(super) agg: A,
    pub(super) timestamp: Ts,
    pub(super) on_late: Option<Box<dyn FnMut(T) + Send>>,
    pub(super) clock: Clock,
    pub(super) panes: Panes<A::Acc>,
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
            let from = hot.first_ms.max(self.clock.late_before);
            let end = (u128::from(hot.first_ms) + u128::from(hot.len_ms))
                .min(u128::from(self.clock.watermark_next_ts));
            // At most `u64::MAX`: `end` is at most `watermark_next_ts`.
            let span = end.saturating_sub(u128::from(from)) as u64;
            let mut acc = hot.acc;
            let count_before = acc.1;
            let mut max_ts = self.clock.max_ts.unwrap_or(0);
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
                self.clock.max_ts = Some(max_ts);
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
        if ts < self.clock.late_before {
            self.take_late(item);
            return;
        }
        if !self.panes.add(&self.agg, ts, &item) {
            self.clock.unassigned += 1;
        }
        self.clock
            .see(ts, self.panes.geometry(), self.panes.closed());
    }

    #[cold]
    pub(super) fn take_late(&mut self, item: T) {
        self.clock.count_late();
        if let Some(on_late) = self.on_late.as_mut() {
            on_late(item);
        }
    }

    /// Marks complete the panes the watermark has passed (all of them at the end).
    pub(super) fn close(&mut self, everything: bool) {
        let until = if everything {
            u128::MAX
        } else {
            self.clock.watermark
        };
        self.panes.close(until);
        self.clock
            .update_late_before(self.panes.geometry(), self.panes.closed());
    }

    /// The next complete window, in at most `*budget` steps.
    pub(super) fn next_window(&mut self, budget: &mut usize) -> Option<Window<A::Output>> {
        let (k, (acc, count)) = self.panes.next_window::<T, A>(&self.agg, budget)?;
        let (start, end) = self.panes.geometry().window_ms(k);
        let (_, end_pane) = self.panes.geometry().window_panes(k);
        let late = self.clock.late_before_pane(end_pane);
        Some(Window {
            start,
            end,
            result: self.agg.result(&acc),
            count,
            late,
        })
    }
}
