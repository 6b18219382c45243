//! Admission: what `weir run` lets into its windows. [`Rules`] judge each event where a
//! source parses it (`--max-future`, `--min-value`, `--max-value`); [`Shed`] thins the
//! admitted readings in front of the windows (`--sample`, `--buffer`), counting every drop.
//! Both are written here once, for every source.

use std::fmt;
use std::time::Duration;

use weir::StatsHandle;
use weir::prelude::*;

use crate::common::millis;
use crate::reading::BoxedReadings;

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
    /// A drop-oldest buffer of this many readings.
    pub(crate) buffer: Option<usize>,
}

impl Shed {
    /// The readings through the sampler and the buffer asked for, with what counts their drops.
    pub(crate) fn apply(self, mut readings: BoxedReadings) -> (BoxedReadings, Vec<StatsHandle>) {
        let mut dropped = Vec::new();
        if let Some(rate) = self.sample {
            let sampled = readings.sample(rate);
            dropped.push(sampled.stats());
            readings = Box::pin(sampled);
        }
        if let Some(capacity) = self.buffer {
            let buffered = readings.drop_oldest(capacity);
            dropped.push(buffered.stats());
            readings = Box::pin(buffered);
        }
        (readings, dropped)
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
