//! I/O: sources and sinks outside the process.
//!
//! - `redis` (feature `redis`): Redis Streams through a consumer group, as a source whose
//!   entries are acknowledged once handled, and as a sink of pipelined `XADD`s.

#[cfg(feature = "redis")]
pub mod redis;
