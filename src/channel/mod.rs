//! Channels between tasks, each a pair of ends as in `tokio::sync`, with the errors of their
//! fallible calls in [`error`].
//!
//! - [`ring_channel`]: many senders, one receiver, a bounded ring with an
//!   [`Overflow`](crate::Overflow) policy: senders that never wait (drop the oldest or the
//!   newest item, counted) or that wait for room.
//! - [`broadcast`]: one publisher, many subscribers; each item is stored once and every
//!   subscriber reads it, with a [`Delivery`] per subscriber: lagging (best effort) or
//!   critical (the publisher waits for it).
//!
//! Both ends of both channels are lock-based: one mutex per channel, no waker woken under it.
//! Their loom models live next to them (`ring/loom.rs`, `broadcast/loom.rs`).

mod broadcast;
pub mod error;
mod ring;

pub(crate) use broadcast::drive;
pub use broadcast::{
    Delivery, PublishFuture, Publisher, Subscriber, Subscriptions, WithLag, broadcast,
};
pub use ring::{RecvMany, RingReceiver, RingSender, SendFuture, ring_channel};
