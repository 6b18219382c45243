//! Sources, merging, fan-out and the whole pipeline.

use std::pin::Pin;

use futures_core::Stream;
use tokio::task::JoinHandle;

use super::{Event, ProcessedEvent, process_event};
use crate::StreamOps;
use crate::channel::{Delivery, Subscriber, Subscriptions, broadcast};
use crate::merge::{MergeTagged, merge, merge_tagged};

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

/// Merges `streams` into one, fairly (see [`merge`](crate::merge::merge())): items as they
/// arrive, each stream's own order kept. Any streams of one type will do (the course
/// project's test merges streams of `i32`); to know which source each item came from, use
/// [`merge_sources`].
pub fn merge_streams<S>(streams: Vec<S>) -> impl Stream<Item = S::Item>
where
    S: Stream + Send + 'static,
{
    merge(streams.into_iter().map(Box::pin))
}

/// Merges named sources fairly, each item with the source it came from (see
/// [`merge_tagged`](crate::merge::merge_tagged)).
pub fn merge_sources<S>(sources: Vec<(StreamSource, S)>) -> MergeTagged<StreamSource, Pin<Box<S>>>
where
    S: Stream + Send + 'static,
{
    merge_tagged(sources.into_iter().map(|(source, s)| (source, Box::pin(s))))
}

/// The merge-and-process stage of every pipeline here: merges the sources and turns each
/// event into a [`ProcessedEvent`] (normalized, graded). [`run_pipeline`] and the `weir demo`
/// command both start with it.
pub fn merge_and_process<S>(streams: Vec<S>) -> impl Stream<Item = ProcessedEvent>
where
    S: Stream<Item = Event> + Send + 'static,
{
    merge_streams(streams).map(process_event)
}

/// Drives `input` into a broadcast with `output_count` critical subscribers (each sees every
/// item exactly once; the slowest paces the input), returning the driving task and the
/// subscribers. Each subscriber is a [`Stream`] and also has tokio's `recv().await`.
pub fn create_fanout<S>(input: S, output_count: usize) -> (JoinHandle<()>, Vec<Subscriber<S::Item>>)
where
    S: Stream + Send + 'static,
    S::Item: Clone + Send + 'static,
{
    input.fan_out_with(std::iter::repeat_n(Delivery::Critical, output_count), 1024)
}

/// A running pipeline: its named sources, and where to subscribe to its processed events.
#[derive(Debug)]
pub struct ProcessingPipeline {
    /// The sources feeding the pipeline.
    pub sources: Vec<StreamSource>,
    /// Subscribes consumers to the processed events: `broadcast_tx.subscribe()` gives a
    /// lagging subscriber that sees the events published from then on, as a `Stream` or with
    /// `recv().await` (which ends with `Err(RecvError::Closed)` once every source has ended).
    pub broadcast_tx: Subscriptions<ProcessedEvent>,
}

/// Events the pipeline's broadcast holds for its slowest lagging subscriber.
const PIPELINE_CAPACITY: usize = 1024;

/// Starts a pipeline: a task merges `sources`, processes every event and publishes it to a
/// broadcast of 1 024 events; subscribe consumers through the returned
/// pipeline's `broadcast_tx`. Publishing never waits for lagging subscribers; events
/// published while nobody is subscribed are counted by the broadcast and go nowhere. When
/// every source has ended the broadcast closes.
///
/// # Panics
///
/// When called outside a tokio runtime.
pub async fn run_pipeline<S>(sources: Vec<(StreamSource, S)>) -> ProcessingPipeline
where
    S: Stream<Item = Event> + Send + 'static,
{
    let (ids, streams): (Vec<_>, Vec<_>) = sources.into_iter().unzip();
    let (mut publisher, first) = broadcast(PIPELINE_CAPACITY);
    drop(first);
    let broadcast_tx = publisher.subscriptions();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(merge_and_process(streams));
        while let Some(event) = events.next().await {
            publisher.send(event).await;
        }
    });
    ProcessingPipeline {
        sources: ids,
        broadcast_tx,
    }
}
