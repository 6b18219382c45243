//! Normalization and severity.

use futures_core::Stream;

use super::Event;
use crate::StreamOps;

/// How serious a processed event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Severity {
    /// Normalized value below 0.3.
    Low,
    /// Below 0.6.
    Medium,
    /// Below 0.9.
    High,
    /// 0.9 and above.
    Critical,
}

impl Severity {
    /// All four, from the least serious.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
}

/// An event with its normalized value and severity.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedEvent {
    /// The event as it came.
    pub original: Event,
    /// `value` scaled to [0, 1] over the expected range.
    pub normalized_value: f64,
    /// From `normalized_value`.
    pub severity: Severity,
}

/// `(value - min) / (max - min)`; 0.5 when `min == max`.
#[inline]
pub fn normalize_value(value: f64, min: f64, max: f64) -> f64 {
    if min == max {
        0.5
    } else {
        (value - min) / (max - min)
    }
}

/// Below 0.3 Low, below 0.6 Medium, below 0.9 High, otherwise Critical. NaN (an unreadable
/// value) is Low: it says nothing about a problem.
///
/// The grade is the number of thresholds reached, counted without a branch: on a stream whose
/// severities vary from one event to the next, a chain of `if`s would cost a mispredicted
/// branch on most events. A NaN reaches none of them.
#[inline]
pub fn calculate_severity(normalized: f64) -> Severity {
    let reached = usize::from(normalized >= 0.3)
        + usize::from(normalized >= 0.6)
        + usize::from(normalized >= 0.9);
    Severity::ALL[reached]
}

/// Normalizes over 0..100 and grades the event.
#[inline]
pub fn process_event(event: Event) -> ProcessedEvent {
    let normalized_value = normalize_value(event.value, 0.0, 100.0);
    ProcessedEvent {
        severity: calculate_severity(normalized_value),
        normalized_value,
        original: event,
    }
}

/// [`process_event`] over a stream.
pub fn process_stream<S>(stream: S) -> impl Stream<Item = ProcessedEvent>
where
    S: Stream<Item = Event>,
{
    stream.map(process_event)
}

/// Keeps High and Critical events.
pub fn filter_high_severity<S>(stream: S) -> impl Stream<Item = ProcessedEvent>
where
    S: Stream<Item = ProcessedEvent>,
{
    stream.filter(|e| e.severity >= Severity::High)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_and_thresholds() {
        assert_eq!(normalize_value(75.0, 50.0, 100.0), 0.5);
        assert_eq!(normalize_value(3.0, 3.0, 3.0), 0.5);
        let grades: Vec<Severity> = [
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            0.29,
            0.3,
            0.59,
            0.6,
            0.89,
            0.9,
            1.5,
            f64::INFINITY,
            f64::NAN,
        ]
        .into_iter()
        .map(calculate_severity)
        .collect();
        use Severity::*;
        assert_eq!(
            grades,
            [
                Low, Low, Low, Low, Medium, Medium, High, High, Critical, Critical, Critical, Low
            ]
        );
    }
}
