//! # weir: hand-rolled stream operators for real-time event processing
//!
//! weir merges, transforms, filters, batches and aggregates streams of events. Every operator
//! is its own struct with a hand-written [`Stream::poll_next`], its state kept with
//! `pin-project-lite`; each file under `src/ops/` documents its operator's state machine,
//! wake-up contract and edge cases.
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
//!   weir::prelude::*` brings it in with [`Stream`] and the sources.
//! - [`ops`]: the operators, one per module, and the sources [`iter()`] and [`from_receiver`].
//! - [`ops::POLL_BUDGET`]: how many items an operator takes in one poll before yielding.
//!
//! Operators that share state across tasks are model-checked with loom: `cargo test --release
//! --features loom`.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod consume;
pub mod event;
mod ext;
pub mod ops;
mod stats;
mod sync;

pub use ext::StreamOps;
pub use futures_core::{FusedStream, Stream};
pub use ops::{from_receiver, iter};
pub use stats::{BackpressureStats, StatsHandle};

/// Everything needed to build and consume a pipeline: `use weir::prelude::*;`.
///
/// The [`StreamOps`] extension trait (every operator and consumer), [`Stream`] and
/// [`FusedStream`], `pin!`, the sources [`iter()`] and [`from_receiver`], the channels
/// ([`ring_channel`](ops::ring_channel()) with its [`Overflow`](ops::Overflow) policies,
/// [`broadcast`](ops::broadcast()) with its subscriber [`Policy`](ops::Policy)), the merges
/// ([`merge`](ops::merge()), [`merge_tagged`](ops::merge_tagged),
/// [`merge_event_time`](ops::merge_event_time)), [`BackpressureStats`], and the built-in
/// window aggregates (`Count`, `Sum`, `Mean`, `Min`, `Max`, `Stats`).
pub mod prelude {
    pub use crate::ops::window::{Count, Max, Mean, Min, Stats, Sum};
    pub use crate::ops::{Overflow, Policy, broadcast, ring_channel};
    pub use crate::ops::{from_receiver, iter, merge, merge_event_time, merge_tagged};
    pub use crate::{BackpressureStats, StreamOps};
    pub use core::pin::pin;
    pub use futures_core::{FusedStream, Stream};
}
