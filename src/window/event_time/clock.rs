//! [`Clock`]: an event-time window's view of time, apart from what its panes hold: the
//! watermark, which items are late, the late counts waiting for a window to report them, and
//! idleness. Shared by [`EventTimeWindow`](super::EventTimeWindow) and
//! [`KeyedWindow`](crate::window::KeyedWindow).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

use super::geometry::Geometry;
use crate::poll::Stalls;
use crate::window::Underway;

/// The watermark and lateness of an event-time window.
pub(crate) struct Clock {
    /// Allowed out-of-orderness, in ms.
    pub(crate) bound: u64,
    /// With an idle timeout: the quiet time after which event time is taken to advance with
    /// the clock, and the instant and largest timestamp of the last run of items.
    pub(crate) idle: Option<Duration>,
    pub(crate) idle_base: Option<(Instant, u64)>,
    /// The upstream's flag for items on their way, and its state when last looked at: time
    /// during which it was up is no quiet.
    underway: Option<(Underway, u64)>,
    /// Whether the idle timer's firings came late enough to be stalls.
    stalls: Stalls,
    pub(crate) max_ts: Option<u64>,
    /// The pane the watermark is in, and the smallest timestamp that moves it on: the
    /// watermark is recomputed only when an item reaches that.
    pub(crate) watermark: u128,
    pub(crate) watermark_next_ts: u64,
    /// Items with a timestamp below this are late: the first millisecond of the first pane
    /// that is not complete.
    pub(crate) late_before: u64,
    pub(crate) late: u64,
    /// Late items by the watermark (in panes) when they came: a late item is reported by the
    /// first window emitted that ends after that watermark, whatever the batching.
    late_marks: VecDeque<(u128, u64)>,
    /// Items that fell in no window.
    pub(crate) unassigned: u64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            bound: 0,
            idle: None,
            idle_base: None,
            underway: None,
            stalls: Stalls::default(),
            max_ts: None,
            watermark: 0,
            // 0: the first item computes the watermark.
            watermark_next_ts: 0,
            late_before: 0,
            late: 0,
            late_marks: VecDeque::new(),
            unassigned: 0,
        }
    }

    /// Sets the idle timeout of [`EventTimeWindow::idle_timeout`](super::EventTimeWindow::idle_timeout).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub(crate) fn set_idle(&mut self, timeout: Duration) {
        assert!(
            !timeout.is_zero(),
            "idle_timeout: `timeout` must be longer than zero"
        );
        self.idle = Some(timeout);
    }

    /// Sets the flag of [`EventTimeWindow::underway`](super::EventTimeWindow::underway).
    pub(crate) fn set_underway(&mut self, underway: Underway) {
        let mark = underway.mark();
        self.underway = Some((underway, mark));
    }

    /// The watermark in ms: the largest timestamp seen, or reached by event time advancing
    /// while the input was idle, less the allowed out-of-orderness (0 when that is larger).
    pub(crate) fn watermark_ms(&self) -> Option<u64> {
        self.max_ts.map(|max| max.saturating_sub(self.bound))
    }

    /// Takes `ts` as seen (the item is not late): moves the watermark when it is a new
    /// largest timestamp far enough ahead. `closed` is the first pane not complete yet.
    #[inline]
    pub(crate) fn see(&mut self, ts: u64, geometry: &Geometry, closed: u128) {
        if self.max_ts.is_none_or(|max| ts > max) {
            self.max_ts = Some(ts);
            if ts >= self.watermark_next_ts {
                self.move_watermark(ts, geometry, closed);
            }
        }
    }

    /// Recomputes the watermark from `max_ts`, the largest timestamp seen.
    #[inline(never)]
    pub(crate) fn move_watermark(&mut self, max_ts: u64, geometry: &Geometry, closed: u128) {
        self.watermark = geometry.watermark_pane(max_ts, self.bound);
        self.watermark_next_ts = geometry.next_watermark_ts(self.watermark, self.bound);
        self.update_late_before(geometry, closed);
    }

    /// After the panes below `closed` were marked complete, or the watermark moved.
    pub(crate) fn update_late_before(&mut self, geometry: &Geometry, closed: u128) {
        self.late_before = geometry.pane_start_ms(closed.max(self.watermark));
    }

    /// Counts one late item.
    #[cold]
    pub(crate) fn count_late(&mut self) {
        self.late += 1;
        let watermark = self.watermark;
        match self.late_marks.back_mut() {
            Some((mark, n)) if *mark == watermark => *n += 1,
            _ => self.late_marks.push_back((watermark, 1)),
        }
    }

    /// The late items a window ending at pane `end_pane` reports: those that came while the
    /// watermark was before its end and were not reported yet.
    pub(crate) fn late_before_pane(&mut self, end_pane: u128) -> u64 {
        let mut late = 0;
        while let Some(&(mark, n)) = self.late_marks.front() {
            if mark >= end_pane {
                break;
            }
            late += n;
            self.late_marks.pop_front();
        }
        late
    }

    /// A run of items ended with the upstream `Pending`: with an idle timeout, quiet time
    /// counts from now.
    pub(crate) fn mark_quiet_from_now(&mut self) {
        if self.idle.is_some() {
            self.idle_base = Some((Instant::now(), self.max_ts.unwrap_or(0)));
            if let Some((underway, mark)) = &mut self.underway {
                underway.busy_since(mark);
            }
        }
    }

    /// With an idle timeout and items waiting for their windows (`holds_items`): polls the
    /// idle timer (registering the task's waker). When a quiet period has passed (with a
    /// [vouching](Underway::vouching) flag, up to the last instant the upstream heard
    /// nothing new), advances event time by that quiet time, re-arms the timer for the next
    /// period and returns `true`; the caller then closes the panes the watermark passed. A
    /// timer that fires too late ([`Stalls`]: the task was not running) starts the quiet
    /// period again instead.
    pub(crate) fn watch_idle(
        &mut self,
        timer: &mut Option<Pin<Box<Sleep>>>,
        holds_items: bool,
        geometry: &Geometry,
        closed: u128,
        cx: &mut Context<'_>,
    ) -> bool {
        let (Some(idle), Some((since, max))) = (self.idle, self.idle_base) else {
            return false;
        };
        if !holds_items {
            return false;
        }
        // A timeout too long for the clock never fires.
        let Some(deadline) = since.checked_add(idle) else {
            return false;
        };
        let timer = timer.get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() < deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        let due = timer.deadline();
        let now = Instant::now();
        // A timer that fires too late means this task did not run meanwhile (a stall, a
        // process that was stopped): that the upstream has nothing now says nothing of that
        // time, in which items may have been waiting. Quiet time counts from now. So does a
        // period during which the upstream said items were on their way.
        let busy = self
            .underway
            .as_mut()
            .is_some_and(|(underway, mark)| underway.busy_since(mark));
        if busy || self.stalls.stalled(due, now, idle) {
            self.idle_base = Some((now, max));
            rearm(timer, now, idle, cx);
            return false;
        }
        // Quiet the upstream vouches for (all of it, unless its flag says otherwise): a
        // whole period of it, or look again in an eighth of a period (the upstream's next
        // answer mostly wakes the task before that).
        let until = self.underway.as_ref().and_then(|(u, _)| u.quiet_until());
        let until = until.map_or(now, |until| until.min(now));
        if until.saturating_duration_since(since) < idle {
            rearm(timer, now, (idle / 8).max(Duration::from_millis(1)), cx);
            return false;
        }
        let quiet = until.saturating_duration_since(since).as_millis();
        let ts = max.saturating_add(u64::try_from(quiet).unwrap_or(u64::MAX));
        if self.max_ts.is_none_or(|m| ts > m) {
            self.max_ts = Some(ts);
            self.move_watermark(ts, geometry, closed);
        }
        // The next quiet period is measured from now: event time has caught up to here.
        if let Some(next) = now.checked_add(idle) {
            timer.as_mut().reset(next);
        }
        true
    }
}

/// Sets `timer` to fire `after` from `now` (never, past the clock's end) and registers the
/// task's waker for it.
fn rearm(timer: &mut Pin<Box<Sleep>>, now: Instant, after: Duration, cx: &mut Context<'_>) {
    if let Some(next) = now.checked_add(after) {
        timer.as_mut().reset(next);
        let _ = timer.as_mut().poll(cx);
    }
}
