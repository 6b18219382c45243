//! Sources, merging, fan-out and the whole pipeline.

use std::collections::HashMap;
use std::time::Duration;

use futures_core::Stream;
use tokio::task::JoinHandle;

use super::{
    Event, EventStream, ProcessedEvent, Severity, batch_events, process_event,
    write_batch_to_storage,
};
use crate::StreamOps;
use crate::ops::{Merge, Policy, Publisher, Subscriber, merge};

/// Where a stream of events comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceType {
    /// A sensor, by name.
    Sensor(String),
    /// A log file, by path.
    LogFile(String),
    /// An API, by endpoint.
    API(String),
}

/// A named source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    /// Identifier.
    pub id: String,
    /// What it is.
    pub source_type: SourceType,
}

/// Merges the sources' streams fairly (see [`merge`](crate::ops::merge())).
pub fn merge_streams(
    streams: Vec<(StreamSource, EventStream<Event>)>,
) -> Merge<EventStream<Event>> {
    merge(streams.into_iter().map(|(_, stream)| stream))
}

/// Drives `input` into a broadcast with `output_count` critical subscribers (each sees every
/// item exactly once; the slowest paces the input), returning the driving task and the
/// subscribers.
pub fn create_fanout<S>(input: S, output_count: usize) -> (JoinHandle<()>, Vec<Subscriber<S::Item>>)
where
    S: Stream + Send + 'static,
    S::Item: Clone + Send + 'static,
{
    input.fan_out_with(std::iter::repeat_n(Policy::Critical, output_count), 1024)
}

/// A pipeline's named sources and the publisher its processed events go out through.
#[derive(Debug)]
pub struct ProcessingPipeline {
    /// The sources feeding the pipeline.
    pub sources: Vec<StreamSource>,
    /// Where processed events are published; subscribe to it for more consumers.
    pub publisher: Publisher<ProcessedEvent>,
}

impl ProcessingPipeline {
    /// A pipeline over `sources` whose broadcast holds `capacity` events; returns it with a
    /// first (lagging) subscriber.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    #[track_caller]
    pub fn new(sources: Vec<StreamSource>, capacity: usize) -> (Self, Subscriber<ProcessedEvent>) {
        let (publisher, subscriber) = crate::ops::broadcast(capacity);
        (ProcessingPipeline { sources, publisher }, subscriber)
    }
}

/// What [`run_pipeline`]'s three consumers saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineSummary {
    /// Events the analytics consumer saw, per severity.
    pub by_severity: HashMap<Severity, usize>,
    /// Critical events the alerting consumer saw.
    pub critical: usize,
    /// Events the storage consumer wrote, and in how many batches.
    pub stored: usize,
    /// Batches written.
    pub batches: usize,
}

/// Merges `sources`, processes every event, and fans the processed events out to three
/// consumers (analytics: counts per severity; alerting: critical events; storage: batches
/// of 100 written with [`write_batch_to_storage`]); returns what they saw once every source
/// has ended.
pub async fn run_pipeline(sources: Vec<(StreamSource, EventStream<Event>)>) -> PipelineSummary {
    let processed = merge_streams(sources).map(process_event);
    let (driver, mut subscribers) = create_fanout(processed, 3);
    let storage = subscribers.pop().expect("three subscribers");
    let alerting = subscribers.pop().expect("three subscribers");
    let analytics = subscribers.pop().expect("three subscribers");
    let analytics = tokio::spawn(analytics.fold(HashMap::new(), |mut by, e: ProcessedEvent| {
        *by.entry(e.severity).or_insert(0) += 1;
        by
    }));
    let alerting = tokio::spawn(
        alerting
            .filter(|e: &ProcessedEvent| e.severity == Severity::Critical)
            .count(),
    );
    let storage = tokio::spawn(async move {
        let mut batches = std::pin::pin!(batch_events(storage, 100, Duration::from_millis(100)));
        let (mut stored, mut count) = (0, 0);
        while let Some(batch) = batches.next().await {
            stored += write_batch_to_storage(&batch).await;
            count += 1;
        }
        (stored, count)
    });
    driver.await.expect("the fan-out task panicked");
    let by_severity = analytics.await.expect("the analytics consumer panicked");
    let critical = alerting.await.expect("the alerting consumer panicked");
    let (stored, batches) = storage.await.expect("the storage consumer panicked");
    PipelineSummary {
        by_severity,
        critical,
        stored,
        batches,
    }
}
