//! Redis Streams as a source and a sink, for several weir processes sharing one input.
//!
//! - [`RedisSource`]: reads one stream through a consumer group (`XREADGROUP ... COUNT n BLOCK
//!   ms`, batched), creating the group if missing; after a restart it first re-reads the
//!   entries it was given and never acknowledged; it claims the entries a dead consumer left
//!   pending longer than an idle time (`XAUTOCLAIM`).
//! - [`Acker`]: acknowledges handled entries in batches (`XACK` with many ids), on a
//!   connection of its own. Acknowledge an entry once everything derived from it has been
//!   emitted: a crash before that re-delivers it (at least once), never loses it.
//! - [`RedisSink`]: writes batches of entries with pipelined `XADD`s (one round trip per
//!   batch), optionally trimming with `MAXLEN ~`, retrying a failed batch with backoff.
//!
//! ```no_run
//! # async fn run() -> redis::RedisResult<()> {
//! use weir::io::redis::{RedisSource, StreamGroup};
//! use weir::prelude::*;
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let group = StreamGroup::new("events", "weir", "worker-1");
//! let (source, acker) = RedisSource::connect(&client, group).await?;
//! let mut source = source.until_idle();
//! while let Some(entry) = source.next().await {
//!     let entry = entry?;
//!     // ... handle entry.field("value") ...
//!     acker.ack(&entry.id);
//! }
//! acker.flush().await?;
//! # Ok(()) }
//! ```

mod ack;
mod sink;
mod source;

pub use ack::Acker;
pub use sink::RedisSink;
pub use source::{Entry, RedisSource, StreamGroup};
