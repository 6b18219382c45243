//! Adapters: operators that take one stream and return one stream, each a `pin_project!` struct
//! with a hand-written `poll_next` in its own file.
//!
//! | adapter | built by | what it does |
//! |---|---|---|
//! | [`Fuse`] | [`fuse`](crate::StreamOps::fuse) | `None` forever after the upstream's `None` (every operator holds its upstream in one) |
//! | [`Map`] | [`map`](crate::StreamOps::map) | applies a function to every item |
//! | [`Filter`] | [`filter`](crate::StreamOps::filter) | keeps the items a predicate accepts |
//! | [`FilterMap`] | [`filter_map`](crate::StreamOps::filter_map) | maps and filters in one step |
//! | [`Take`] | [`take`](crate::StreamOps::take) | the first `n` items, then the end |
//! | [`Inspect`] | [`inspect`](crate::StreamOps::inspect) | shows every item to a function, passes it on |
//! | [`Enumerate`] | [`enumerate`](crate::StreamOps::enumerate) | pairs every item with its position |
//! | [`Chunks`] | [`chunks`](crate::StreamOps::chunks) | batches of `n` items, cut by count alone |
//! | [`SkipErrors`] | [`skip_errors`](crate::TryStreamOps::skip_errors) | the `Ok` values of `Result`s, every result counted in an [`ErrorStats`](crate::ErrorStats) |
//! | [`ChunksTimeout`] | [`chunks_timeout`](crate::StreamOps::chunks_timeout) | batches of up to `max` items, cut short by a timeout |
//! | [`RingBuffer`] | [`drop_oldest`](crate::StreamOps::drop_oldest), [`drop_newest`](crate::StreamOps::drop_newest), [`buffer`](crate::StreamOps::buffer) | a bounded buffer with an [`Overflow`](crate::Overflow) policy |
//! | [`Sample`] | [`sample`](crate::StreamOps::sample) and the other samplers | keeps the items a [`Sampler`] picks, counts the rest |
//! | [`SampleLatest`] | [`sample_latest`](crate::StreamOps::sample_latest) | the newest item of each interval |
//!
//! The adapters that pass on at most one item per upstream item (`Fuse`, `Map`, `Filter`,
//! `FilterMap`, `Take`, `Inspect`, `Enumerate`, `SkipErrors`, `Sample`) have an
//! `#[inline(always)]` `poll_next`: each is a few lines around its upstream's, and left to
//! itself the compiler stops inlining a chain of them once the upstreams inlined into one make
//! it look large. Each call left in a consumer's loop moves the item through memory and makes
//! the stream's state escape to memory, which every item then pays; inlined, a chain of them
//! compiles to one loop, as iterator adapters do.

mod chunks;
mod chunks_timeout;
mod enumerate;
mod filter;
mod filter_map;
mod fuse;
mod inspect;
mod map;
mod ring_buffer;
mod sample;
mod skip_errors;
mod take;

pub use chunks::Chunks;
pub use chunks_timeout::{ChunksTimeout, TimerStart};
pub use enumerate::Enumerate;
pub use filter::Filter;
pub use filter_map::FilterMap;
pub use fuse::Fuse;
pub use inspect::Inspect;
pub use map::Map;
pub use ring_buffer::RingBuffer;
pub use sample::{Adaptive, AdaptiveRates, Bernoulli, EveryNth, Sample, SampleLatest, Sampler};
pub use skip_errors::SkipErrors;
pub use take::Take;
