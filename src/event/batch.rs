//! Batches of processed events.

use std::collections::HashMap;
use std::time::Duration;

use futures_core::Stream;

use super::stats::stats_of;
use super::{ProcessedEvent, Severity, WindowedStats, now_ms};
use crate::StreamOps;

/// A batch of processed events, numbered per stream.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    /// The events, in arrival order.
    pub events: Vec<ProcessedEvent>,
    /// 0 for a stream's first batch, then 1, 2, ...
    pub batch_id: u64,
    /// Milliseconds since the Unix epoch when the batch was made.
    pub created_at: u64,
}

impl EventBatch {
    /// A batch stamped with the current time.
    pub fn new(batch_id: u64, events: Vec<ProcessedEvent>) -> Self {
        EventBatch {
            events,
            batch_id,
            created_at: now_ms(),
        }
    }
}

/// Batches of up to `size` events, cut short `timeout` after a batch's first event (see
/// [`ChunksTimeout`](crate::adapters::ChunksTimeout)), numbered from 0.
///
/// # Panics
///
/// If `size` is 0.
#[track_caller]
pub fn batch_events<S>(stream: S, size: usize, timeout: Duration) -> impl Stream<Item = EventBatch>
where
    S: Stream<Item = ProcessedEvent>,
{
    let mut next_id = 0;
    stream.chunks_timeout(size, timeout).map(move |events| {
        let batch = EventBatch::new(next_id, events);
        next_id += 1;
        batch
    })
}

impl EventBatch {
    /// How many events of each severity the batch holds.
    pub fn severity_counts(&self) -> HashMap<Severity, usize> {
        self.stats().severity_counts
    }

    /// The batch's statistics (count, mean, maximum, counts per severity), as a window from
    /// its creation time.
    pub fn stats(&self) -> WindowedStats {
        stats_of(&self.events, self.created_at, self.created_at)
    }
}

/// Handles a complete batch: prints its number, size, mean value and counts per severity
/// (its contract is to print).
pub async fn process_batch(batch: EventBatch) {
    let stats = batch.stats();
    let n = |s| stats.severity_counts.get(&s).copied().unwrap_or(0);
    println!(
        "batch {:>4}: {:>4} events, mean {:>6.2}, L/M/H/C {}/{}/{}/{}",
        batch.batch_id,
        stats.event_count,
        stats.avg_value,
        n(Severity::Low),
        n(Severity::Medium),
        n(Severity::High),
        n(Severity::Critical)
    );
}

/// Simulates writing the batch to storage: 10 ms on the tokio clock.
pub async fn write_batch_to_storage(_batch: &EventBatch) {
    tokio::time::sleep(Duration::from_millis(10)).await;
}
