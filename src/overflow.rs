//! [`Overflow`]: what a full bounded buffer does with one more item, shared by the ring buffer
//! adapters and the ring channel.

/// What a full bounded buffer does with one more item: the policy of
/// [`StreamOps::buffer`](crate::StreamOps::buffer) (and of `drop_oldest` / `drop_newest`) and of
/// [`ring_channel`](crate::channel::ring_channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Evict the oldest buffered item to make room: the consumer sees the freshest data.
    DropOldest,
    /// Discard the incoming item: the consumer sees the data in arrival order, with gaps at the
    /// end of each burst.
    DropNewest,
    /// Drop nothing: stop taking items from the upstream until there is room (plain bounded
    /// backpressure).
    Block,
}
