//! Async stages: operators whose work per item is a future, run one at a time or several at
//! once.
//!
//! | operator | built by | what it does |
//! |---|---|---|
//! | [`Then`] | [`then`](crate::StreamOps::then) | an async map, one future at a time, in order |
//! | [`MapConcurrent`] | [`map_concurrent`](crate::StreamOps::map_concurrent) | up to `n` futures at once, outputs in the items' order |
//! | [`MapConcurrentUnordered`] | [`map_concurrent_unordered`](crate::StreamOps::map_concurrent_unordered) | up to `n` futures at once, outputs as they complete |
//! | [`SpawnConcurrent`] | [`spawn_concurrent`](crate::StreamOps::spawn_concurrent) | up to `n` tokio tasks at once (every core), outputs in order |
//! | [`ForEachConcurrent`] | [`for_each_concurrent`](crate::StreamOps::for_each_concurrent) | a consumer: runs an async function on every item, up to `n` at once |
//! | [`Retry`] | [`retry`] | re-runs a failing future with exponential [`Backoff`] |
//!
//! The concurrent ones share one engine: `stage.rs` feeds a `pool.rs` of futures from the
//! upstream. The pool gives each future a waker of its own that reports to the crate's wake
//! queue (the merge's), so a wake-up costs O(1) and a poll touches only the woken futures.
//! Its loom models are in `loom.rs`.

mod for_each;
#[cfg(all(test, feature = "loom"))]
mod loom;
mod ordered;
mod pool;
mod retry;
mod spawn;
mod stage;
mod then;
mod unordered;

pub use for_each::ForEachConcurrent;
pub use ordered::MapConcurrent;
pub use retry::{Backoff, Retry, retry};
pub use spawn::SpawnConcurrent;
pub use then::Then;
pub use unordered::MapConcurrentUnordered;
