//! [`Event`] and the simulated sources.

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::StreamOps;
use crate::sources::{Recv, from_receiver};

/// A boxed stream of events (or of anything), for pipelines whose stages are chosen at run
/// time.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EventType {
    /// A measurement.
    #[cfg_attr(feature = "serde", serde(alias = "metric"))]
    Metric,
    /// A log line.
    #[cfg_attr(feature = "serde", serde(alias = "log"))]
    Log,
    /// An alert raised by the source.
    #[cfg_attr(feature = "serde", serde(alias = "alert"))]
    Alert,
    /// An error reported by the source.
    #[cfg_attr(feature = "serde", serde(alias = "error"))]
    Error,
}

impl EventType {
    /// The four types in the order simulated sources cycle through them.
    pub const ALL: [EventType; 4] = [
        EventType::Metric,
        EventType::Log,
        EventType::Alert,
        EventType::Error,
    ];
}

/// One event.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Event {
    /// Identifier, unique per source.
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// The source's name, e.g. `sensor-3`.
    pub source: String,
    /// The reading.
    pub value: f64,
    /// What the event reports.
    pub event_type: EventType,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Event {
    /// An event stamped with the current time.
    pub fn new(id: u64, source: String, value: f64, event_type: EventType) -> Self {
        Event {
            id,
            timestamp: now_ms(),
            source,
            value,
            event_type,
        }
    }
}

/// Sends `count` simulated events into `tx`, one every `delay_ms` (0: as fast as the channel
/// takes them): sources `sensor-0` to `sensor-4` in turn, value `(i * 3.7) % 100`, types
/// cycling Metric, Log, Alert, Error. Stops early when the receiver is gone.
pub async fn generate_events(tx: mpsc::Sender<Event>, count: usize, delay_ms: u64) {
    for i in 0..count {
        let event = Event::new(
            i as u64,
            format!("sensor-{}", i % 5),
            (i as f64 * 3.7) % 100.0,
            EventType::ALL[i % 4],
        );
        if tx.send(event).await.is_err() {
            return;
        }
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
    }
}

/// The events of a receiver as a stream (weir's hand-rolled [`Recv`] adapter). `async` as in
/// the course project's signature; it completes at once.
pub async fn create_event_stream(rx: mpsc::Receiver<Event>) -> Recv<Event> {
    from_receiver(rx)
}

/// Prints each event of `stream` on its own line until the stream ends (its contract is to
/// print).
pub async fn consume_stream<S: Stream<Item = Event>>(stream: S) {
    stream
        .for_each(|e| {
            println!(
                "#{:<5} {:<9} {:>6.2} {:?}",
                e.id, e.source, e.value, e.event_type
            );
        })
        .await;
}
