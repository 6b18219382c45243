//! Admission: what `weir run` lets into its windows. [`Rules`] judge each event where a
//! source parses it (`--max-future`, `--min-value`, `--max-value`); [`Shed`] thins the
//! admitted readings in front of the windows (`--sample`, `--buffer`), counting every drop.
//! Both are written here once, for every source.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use weir::channel::{RingSender, ring_channel};
use weir::prelude::*;
use weir::{Overflow, POLL_BUDGET, StatsHandle};

use crate::common::millis;
use crate::reading::{BoxedReadings, Reading};

/// The per-event rules of admission.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) max_future: Option<Duration>,
    pub(crate) min_value: Option<f64>,
    pub(crate) max_value: Option<f64>,
    /// Whether readings carry their source (`--by source`).
    pub(crate) by_source: bool,
}

/// What the rules make of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Admitted, at this timestamp (the event's, or the time of reading when it has none).
    Admit(u64),
    /// Outside `--min-value` / `--max-value`.
    Filtered,
    /// Stamped too far ahead of the clock.
    Ahead(Ahead),
}

/// An event stamped more than `--max-future` ahead of the clock; displays as the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ahead {
    timestamp: u64,
    now: u64,
    max_future: Duration,
}

impl fmt::Display for Ahead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timestamp {} is more than {} ms ahead of the clock ({})",
            self.timestamp,
            self.max_future.as_millis(),
            self.now
        )
    }
}

impl Rules {
    /// Judges an event of this timestamp (`None`: the time of reading) and value.
    #[inline]
    pub(crate) fn judge(&self, timestamp: Option<u64>, value: f64) -> Verdict {
        let timestamp = timestamp.unwrap_or_else(weir::event::now_ms);
        if let Some(max_future) = self.max_future {
            let now = weir::event::now_ms();
            if timestamp > now.saturating_add(millis(max_future)) {
                return Verdict::Ahead(Ahead {
                    timestamp,
                    now,
                    max_future,
                });
            }
        }
        if self.min_value.is_some_and(|m| value < m) || self.max_value.is_some_and(|m| value > m) {
            return Verdict::Filtered;
        }
        Verdict::Admit(timestamp)
    }
}

/// `--sample` and `--buffer`: what thins the readings in front of the windows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shed {
    /// Keep each reading with this probability.
    pub(crate) sample: Option<f64>,
    /// A drop-oldest buffer of this many readings between the input and the windows.
    pub(crate) buffer: Option<usize>,
}

impl Shed {
    /// The readings through the sampler asked for, with what counts its drops (by policy). The buffer is
    /// the pipeline's: it sits between two halves that run concurrently ([`Buffer`]).
    pub(crate) fn apply(
        self,
        mut readings: BoxedReadings,
    ) -> (BoxedReadings, Vec<(&'static str, StatsHandle)>) {
        let mut dropped = Vec::new();
        if let Some(rate) = self.sample {
            let sampled = readings.sample(rate);
            dropped.push(("sample", sampled.stats()));
            readings = Box::pin(sampled);
        }
        (readings, dropped)
    }
}

/// `--buffer N`: the readings go through a drop-oldest ring channel of `N`, filled by
/// [`pump`](Self::pump) as fast as the input delivers and emptied by the windows as fast as
/// they and the output go. The output is written aside (tokio's blocking pool): while a write
/// is under way the input waits for it, but [`PATIENCE`] at most, then reads on into the
/// ring. So the ring fills, and drops its oldest readings (counted in its stats), only when
/// the output is slow (a slow reader of the output, say), not because a quick write left the
/// input alone with the task for a moment.
pub(crate) struct Buffer {
    tx: RingSender<Reading>,
    readings: BoxedReadings,
    writing: Rc<Writing>,
}

/// How long the input waits for a write of the output under way before it reads on into the
/// buffer.
pub(crate) const PATIENCE: Duration = Duration::from_millis(20);

/// Whether the output is being written, and since when: set by the pipeline around each
/// write, read by the [`Buffer`]'s pump.
#[derive(Debug, Default)]
pub(crate) struct Writing {
    since: Cell<Option<Instant>>,
    done: Notify,
}

impl Writing {
    /// A write starts.
    pub(crate) fn start(&self) {
        self.since.set(Some(Instant::now()));
    }

    /// The write is over.
    pub(crate) fn end(&self) {
        self.since.set(None);
        self.done.notify_waiters();
    }

    /// Waits for the write under way, if any, [`PATIENCE`] at most from its start.
    async fn wait(&self) {
        // Start and end are set by the same task as this runs in: a write under way cannot
        // end between this look and the wait below.
        if let Some(since) = self.since.get() {
            let _ = tokio::time::timeout_at(since + PATIENCE, self.done.notified()).await;
        }
    }
}

impl Buffer {
    /// The buffer in front of `readings`: the stream the windows take, what counts its drops,
    /// and what the pipeline tells it of the writes.
    pub(crate) fn new(
        readings: BoxedReadings,
        capacity: usize,
    ) -> (Self, BoxedReadings, StatsHandle, Rc<Writing>) {
        let (tx, rx) = ring_channel(capacity, Overflow::DropOldest);
        let stats = rx.stats();
        let writing = Rc::new(Writing::default());
        let buffer = Buffer {
            tx,
            readings,
            writing: writing.clone(),
        };
        (buffer, Box::pin(rx), stats, writing)
    }

    /// Moves the readings into the ring until the input ends (then the ring's stream ends
    /// once drained), in runs of [`POLL_BUDGET`], yielding after each so that the windows,
    /// polled by the same task, take their turn, and waiting for a write under way first.
    pub(crate) async fn pump(self) {
        let Buffer {
            tx,
            mut readings,
            writing,
        } = self;
        loop {
            writing.wait().await;
            for _ in 0..POLL_BUDGET {
                let Some(reading) = readings.next().await else {
                    return;
                };
                // A full ring hands back its oldest reading, counted as dropped; a closed
                // one (the windows gone) the reading itself, which the run no longer needs.
                let _ = tx.try_send(reading);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Admission as a whole: the rules a source applies, and what sheds readings after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    pub(crate) rules: Rules,
    pub(crate) shed: Shed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_filter_reject_and_admit() {
        let rules = Rules {
            max_future: Some(Duration::from_secs(1)),
            min_value: Some(1.0),
            max_value: Some(2.0),
            by_source: false,
        };
        assert_eq!(rules.judge(Some(5), 1.5), Verdict::Admit(5));
        assert_eq!(rules.judge(Some(5), 0.5), Verdict::Filtered);
        assert_eq!(rules.judge(Some(5), 2.5), Verdict::Filtered);
        // Far ahead of the clock, even near u64::MAX: rejected, no overflow.
        for ts in [u64::MAX, u64::MAX / 2] {
            let Verdict::Ahead(why) = rules.judge(Some(ts), 1.5) else {
                panic!("{ts} admitted");
            };
            let why = why.to_string();
            assert!(why.starts_with(&format!("timestamp {ts} is more than 1000 ms ahead")));
        }
        // No timestamp: the time of reading, which is never ahead.
        let now = weir::event::now_ms();
        let Verdict::Admit(ts) = rules.judge(None, 1.5) else {
            panic!("not admitted");
        };
        assert!(ts >= now && ts <= weir::event::now_ms());
        let open = Rules {
            max_future: Some(Duration::MAX),
            min_value: None,
            max_value: None,
            by_source: false,
        };
        assert_eq!(
            open.judge(Some(u64::MAX), f64::MAX),
            Verdict::Admit(u64::MAX)
        );
    }
}
