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
