//! The errors of the channels' fallible calls, as in `tokio::sync`'s `error` modules: each
//! error that fails a send carries the item back.

use std::fmt;

// Ring channel.

/// The error of a send to a channel whose receiver is gone: the item comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a ring channel whose receiver is gone")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// The error of [`RingSender::try_send`](crate::channel::RingSender::try_send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full and its policy is [`Overflow::Block`](crate::Overflow::Block).
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Closed(item) => item,
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the ring channel is full"),
            TrySendError::Closed(_) => {
                f.write_str("sending on a ring channel whose receiver is gone")
            }
        }
    }
}

impl<T: fmt::Debug> std::error::Error for TrySendError<T> {}

/// Why [`RingReceiver::try_recv`](crate::channel::RingReceiver::try_recv) returned no item: tokio's `TryRecvError` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered now; senders may still send.
    Empty,
    /// Nothing is buffered and nothing will be: every sender is gone, or the receiver was
    /// closed.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the ring channel is empty"),
            TryRecvError::Disconnected => {
                f.write_str("the ring channel is empty and will stay empty")
            }
        }
    }
}

impl std::error::Error for TryRecvError {}

// Broadcast.

/// Why [`Subscriber::recv`](crate::channel::Subscriber::recv) returned no item: tokio's `broadcast::error::RecvError` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The publisher is gone and every item this subscriber could read has been read.
    Closed,
    /// This (lagging) subscriber fell behind and missed this many items just before the next
    /// one `recv` returns.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("the broadcast is closed"),
            RecvError::Lagged(n) => write!(f, "the subscriber lagged behind by {n} items"),
        }
    }
}

impl std::error::Error for RecvError {}

/// The error of [`Publisher::try_send`](crate::channel::Publisher::try_send): a critical subscriber has not read the item the ring
/// would overwrite. The item comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the broadcast ring is full of items a critical subscriber has not read")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}
/// Where a lagging subscriber fell behind: it missed this many items just there. The error of
/// [`WithLag`](crate::channel::WithLag)'s items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the subscriber lagged behind by {} items", self.0)
    }
}

impl std::error::Error for Lagged {}
