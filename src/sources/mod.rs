//! Sources: streams that start a pipeline.
//!
//! - [`iter()`]: the items of an iterator, always ready ([`Iter`]).
//! - [`from_receiver`]: the items of a tokio `mpsc` receiver ([`Recv`]).
//!
//! The channels in [`channel`](crate::channel) are sources too: a
//! [`RingReceiver`](crate::channel::RingReceiver) and a
//! [`Subscriber`](crate::channel::Subscriber) are streams.

mod iter;
mod recv;

pub use iter::{Iter, iter};
pub use recv::{Recv, from_receiver};
