//! # weir: hand-rolled stream operators for real-time event processing
//!
//! weir merges, transforms, filters, batches and aggregates streams of events. Every operator
//! is its own struct with a hand-written [`Stream::poll_next`], its state kept with
//! `pin-project-lite`; each operator's file (under `src/adapters/`, `src/channel/`,
//! `src/merge/`, `src/window/`) documents its state machine, wake-up contract and edge cases.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use weir::prelude::*;
//!
//! // A sensor that sends readings in bursts, with pauses in between.
//! let (tx, rx) = tokio::sync::mpsc::channel(64);
//! tokio::spawn(async move {
//!     for burst in 0..3u64 {
//!         for i in 0..4 {
//!             tx.send(burst * 10 + i).await.unwrap();
//!         }
//!         tokio::time::sleep(Duration::from_secs(2)).await;
//!     }
//! });
//!
//! let batches: Vec<Vec<u64>> = weir::from_receiver(rx)
//!     .filter(|reading| reading % 10 != 3)         // drop the faulty channel
//!     .map(|reading| reading * 100)                // scale
//!     .chunks_timeout(2, Duration::from_millis(500)) // batch: 2 items or 500 ms
//!     .collect()
//!     .await;
//!
//! assert_eq!(
//!     batches,
//!     [
//!         vec![0, 100], vec![200],
//!         vec![1000, 1100], vec![1200],
//!         vec![2000, 2100], vec![2200],
//!     ]
//! );
//! # }
//! ```
//!
//! ## A whole pipeline
//!
//! The course project's production architecture (sources merged, processed, broadcast to
//! several consumers) in weir: two sources of different types merged by event time, a
//! drop-oldest buffer that counts what it drops, 1 s windows with their mean, and a
//! broadcast to three consumers, one of them a writer with at most four writes in flight.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use weir::channel::Delivery::{Critical, Lagging};
//! use weir::prelude::*;
//!
//! #[derive(Debug, Clone, Copy)]
//! struct Reading {
//!     ts: u64, // event time, ms
//!     value: f64,
//! }
//!
//! // Two sources: a live channel and a replayed log. `boxed` makes them one type.
//! let (tx, rx) = tokio::sync::mpsc::channel(64);
//! tokio::spawn(async move {
//!     for i in 0..20u64 {
//!         tx.send(Reading { ts: i * 100, value: i as f64 }).await.unwrap();
//!     }
//! });
//! let replay = weir::iter((0..20u64).map(|i| Reading { ts: i * 100 + 50, value: 1.0 }));
//! let sources = [weir::from_receiver(rx).boxed(), replay.boxed()];
//!
//! // Merged by event time, so that neither source makes the other's readings late.
//! let merged = weir::merge::merge_event_time(sources, |r: &Reading| r.ts);
//! // A drop-oldest buffer of 1 024 readings: a slow consumer loses the oldest, counted.
//! let buffered = merged.drop_oldest(1024);
//! let drops = buffered.stats();
//! // 1 s tumbling windows: count, mean, min, max of each.
//! let windows = buffered.tumbling_window(1_000, |r: &Reading| r.ts, Summarize(|r: &Reading| r.value));
//!
//! // Three consumers: storage and alerts hold the stream back, the dashboard skips ahead.
//! let (task, [storage, alerts, dashboard]) = windows.fan_out_to([Critical, Critical, Lagging], 16);
//! let writer = tokio::spawn(
//!     storage
//!         .map_concurrent(4, |w| async move {
//!             tokio::time::sleep(Duration::from_millis(10)).await; // the write
//!             w.count
//!         })
//!         .fold(0, |written, n| written + n),
//! );
//! let alerts = tokio::spawn(alerts.filter(|w| w.max() > Some(15.0)).count());
//! let dashboard = tokio::spawn(dashboard.map(|w| (w.start, w.mean())).collect::<Vec<_>>());
//!
//! task.await.unwrap();
//! assert_eq!(writer.await.unwrap(), 40); // every reading, in windows, written
//! assert_eq!(alerts.await.unwrap(), 1); // the second second reaches 19
//! let seen = dashboard.await.unwrap();
//! assert!(seen.len() <= 2);
//! assert_eq!(seen.first(), Some(&(0, Some(2.75)))); // (0 + ... + 9 + 10 x 1.0) / 20
//! assert_eq!(drops.dropped(), 0);
//! # }
//! ```
//!
//! The examples need tokio with its `rt` and `macros` features (`#[tokio::main]`), `time`
//! for timers and `sync` for channels: `tokio = { version = "1", features = ["rt", "macros",
//! "time", "sync"] }`, and `rt-multi-thread` for `#[tokio::main]` without a `flavor`.
//!
//! ## Which statistics type
//!
//! - Counts of what an operator received, emitted and dropped: [`BackpressureStats`], read
//!   through a [`StatsHandle`] from `.stats()` on a buffer, a sampler or a ring channel;
//!   [`ErrorStats`] for [`skip_errors`](TryStreamOps::skip_errors).
//! - Statistics of values in a window: the aggregates in [`window`] ([`Summarize`](window::Summarize)
//!   for count, sum, mean, min and max in one; [`Mean`](window::Mean), [`Max`](window::Max)...
//!   alone), read as `w.mean()`, `w.max()`... on the [`Window`](window::Window).
//! - [`event::WindowedStats`], [`event::StatsBySeverity`] and [`event::StatsBySource`]: the
//!   course project's names, for its [`Event`](event::Event)s (severity counts, per-source
//!   windows). Use them with the course's event types; for your own items, the aggregates in
//!   [`window`].
//!
//! ## Where things are
//!
//! - [`StreamOps`]: the extension trait with every operator and consumer; `use
//!   weir::prelude::*` brings it in with [`Stream`], the sources, channels and merges.
//! - [`sources`]: streams that start a pipeline ([`iter()`], [`from_receiver`]).
//! - [`adapters`]: one stream in, one stream out (map, filter, batches, bounded buffers,
//!   samplers).
//! - [`channel`]: ring channel and broadcast, each a pair of ends, with their [`channel::error`]s.
//! - [`merge`](mod@merge): many streams into one, fair or by event time.
//! - [`window`]: tumbling, sliding and count windows with incremental aggregates.
//! - [`consume`]: the futures that drive a stream to its end.
//! - [`event`]: the event domain of the course project weir follows.
//! - [`POLL_BUDGET`]: how many items an operator takes in one poll before yielding;
//!   [`BackpressureStats`]: what a dropping operator received, emitted and dropped;
//!   [`Overflow`]: what a full bounded buffer does.
//!
//! `docs/ARCHITECTURE.md` draws the layers and, for each operator, where its tests, loom
//! models and benchmark are. Operators that share state across tasks are model-checked with
//! loom: `cargo test --release --features loom`.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![forbid(unsafe_code)]

#[macro_use]
mod poll;

pub mod adapters;
pub mod channel;
pub mod concurrent;
pub mod consume;
pub mod event;
mod ext;
pub mod io;
#[cfg(all(test, feature = "loom"))]
mod loom_helpers;
pub mod merge;
mod overflow;
pub mod sources;
mod stats;
mod sync;
mod try_ext;
mod wake_queue;
pub mod window;

pub use ext::StreamOps;
pub use futures_core::{FusedStream, Stream};
pub use overflow::Overflow;
pub use poll::POLL_BUDGET;
#[doc(no_inline)]
pub use sources::{from_receiver, iter};
pub use stats::{BackpressureStats, ErrorStats, StatsHandle};
pub use try_ext::TryStreamOps;

/// Everything needed to build and consume a pipeline: `use weir::prelude::*;`.
///
/// The [`StreamOps`] extension trait (every operator and consumer), [`TryStreamOps`] (for
/// streams of `Result`s), [`Stream`] and
/// [`FusedStream`], `pin!`, the sources [`iter()`] and [`from_receiver`], the channels
/// ([`ring_channel`](channel::ring_channel) with its [`Overflow`] policies,
/// [`broadcast`](channel::broadcast()) with its subscriber [`Delivery`](channel::Delivery)),
/// the merges ([`merge`](merge::merge()), [`merge_tagged`](merge::merge_tagged),
/// [`merge_event_time`](merge::merge_event_time)), [`BackpressureStats`], and the built-in
/// window aggregates (`Count`, `Sum`, `Mean`, `Min`, `Max`, `Summarize`).
pub mod prelude {
    #[doc(no_inline)]
    pub use crate::channel::{Delivery, broadcast, ring_channel};
    #[doc(no_inline)]
    pub use crate::merge::{merge, merge_event_time, merge_tagged};
    #[doc(no_inline)]
    pub use crate::sources::{from_receiver, iter};
    #[doc(no_inline)]
    pub use crate::window::{Count, Max, Mean, Min, Sum, Summarize};
    #[doc(no_inline)]
    pub use crate::{BackpressureStats, Overflow, StreamOps, TryStreamOps};
    #[doc(no_inline)]
    pub use core::pin::pin;
    #[doc(no_inline)]
    pub use futures_core::{FusedStream, Stream};
}
