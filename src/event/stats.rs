//! Windowed statistics and anomaly alerts.

use std::collections::{BTreeMap, HashMap};

use futures_core::Stream;

use super::{ProcessedEvent, Severity};
use crate::StreamOps;
use crate::window::{Aggregate, Moments};

/// What a window of processed events looked like.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowedStats {
    /// Window start, milliseconds since the Unix epoch.
    pub window_start: u64,
    /// Window end (exclusive).
    pub window_end: u64,
    /// Events in the window.
    pub event_count: usize,
    /// Mean value (0.0 for an empty window; NaN values skipped).
    pub avg_value: f64,
    /// The true maximum value (0.0 for an empty window; NaN values skipped).
    pub max_value: f64,
    /// Events per severity.
    pub severity_counts: HashMap<Severity, usize>,
}

/// The statistics of `events` as the window `[window_start, window_start + duration_ms)`.
pub fn calculate_window_stats(
    events: Vec<ProcessedEvent>,
    window_start: u64,
    duration_ms: u64,
) -> WindowedStats {
    stats_of(
        &events,
        window_start,
        window_start.saturating_add(duration_ms),
    )
}

/// The statistics of `events` as the window `[start, end)`.
pub(crate) fn stats_of(events: &[ProcessedEvent], start: u64, end: u64) -> WindowedStats {
    let agg = StatsBySeverity;
    let mut acc = agg.init();
    for e in events {
        agg.add(&mut acc, e);
    }
    agg.stats(&acc, start, end)
}

/// The accumulator of [`StatsBySeverity`]: value moments and counts per severity (indexed as
/// [`Severity::ALL`]).
pub type SeverityAcc = (Moments, [usize; 4]);

/// The aggregate behind [`create_tumbling_window`]: value moments and severity counts, read
/// out as [`WindowedStats`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsBySeverity;

impl StatsBySeverity {
    /// The statistics of `acc` as the window `[start, end)`.
    pub fn stats(&self, acc: &SeverityAcc, start: u64, end: u64) -> WindowedStats {
        let (m, by) = acc;
        let severity_counts = Severity::ALL
            .into_iter()
            .zip(by.iter().copied())
            .filter(|(_, n)| *n > 0)
            .collect();
        WindowedStats {
            window_start: start,
            window_end: end,
            event_count: by.iter().sum(),
            avg_value: m.mean().unwrap_or(0.0),
            max_value: m.max().unwrap_or(0.0),
            severity_counts,
        }
    }
}

impl Aggregate<ProcessedEvent> for StatsBySeverity {
    type Acc = SeverityAcc;
    type Output = SeverityAcc;

    fn init(&self) -> Self::Acc {
        (Moments::EMPTY, [0; 4])
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, e: &ProcessedEvent) {
        acc.0.add(e.original.value);
        acc.1[e.severity as usize] += 1;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let mut by = a.1;
        for (n, m) in by.iter_mut().zip(b.1) {
            *n += m;
        }
        (a.0.combine(&b.0), by)
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        *acc
    }
}

/// [`StatsBySeverity`] per source: one accumulator per event source.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsBySource;

impl Aggregate<ProcessedEvent> for StatsBySource {
    type Acc = BTreeMap<String, SeverityAcc>;
    type Output = BTreeMap<String, SeverityAcc>;

    fn init(&self) -> Self::Acc {
        BTreeMap::new()
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, e: &ProcessedEvent) {
        let entry = match acc.get_mut(&e.original.source) {
            Some(entry) => entry,
            None => acc
                .entry(e.original.source.clone())
                .or_insert_with(|| StatsBySeverity.init()),
        };
        StatsBySeverity.add(entry, e);
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let mut sum = a.clone();
        for (key, acc) in b {
            let entry = sum
                .entry(key.clone())
                .or_insert_with(|| StatsBySeverity.init());
            *entry = StatsBySeverity.combine(entry, acc);
        }
        sum
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        acc.clone()
    }
}

/// Tumbling windows of `duration_ms` over the events' own timestamps (weir's event-time
/// window operator, watermark at the latest timestamp seen).
///
/// # Panics
///
/// If `duration_ms` is 0.
#[track_caller]
pub fn create_tumbling_window<S>(stream: S, duration_ms: u64) -> impl Stream<Item = WindowedStats>
where
    S: Stream<Item = ProcessedEvent>,
{
    stream
        .tumbling_window(
            duration_ms,
            |e: &ProcessedEvent| e.original.timestamp,
            StatsBySeverity,
        )
        .map(|w| StatsBySeverity.stats(&w.result, w.start, w.end))
}

/// An anomaly found in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What happened.
    pub message: String,
    /// How bad it is.
    pub severity: Severity,
    /// The window it was found in.
    pub window: WindowedStats,
}

/// Compares a window with a baseline: more than twice the events is a Critical "Event
/// spike", a mean above 1.5 times the baseline's a High "Value anomaly"; otherwise `None`.
pub async fn detect_anomalies(current: &WindowedStats, baseline: &WindowedStats) -> Option<Alert> {
    let alert = |message: String, severity| Alert {
        message,
        severity,
        window: current.clone(),
    };
    if current.event_count > 2 * baseline.event_count {
        Some(alert(
            format!(
                "Event spike: {} vs {} normal",
                current.event_count, baseline.event_count
            ),
            Severity::Critical,
        ))
    } else if current.avg_value > 1.5 * baseline.avg_value {
        Some(alert(
            format!(
                "Value anomaly: {:.1} vs {:.1} normal",
                current.avg_value, baseline.avg_value
            ),
            Severity::High,
        ))
    } else {
        None
    }
}
