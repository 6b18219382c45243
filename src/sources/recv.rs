//! [`Recv`]: a tokio `mpsc` receiver as a stream.

use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use tokio::sync::mpsc;

/// Stream for [`from_receiver`]: the items of a tokio bounded `mpsc` channel, ending once every
/// sender is gone and the channel is drained.
///
/// # Wake-up contract
///
/// `Pending` comes from [`mpsc::Receiver::poll_recv`], which registers the waker with the
/// channel. Once `poll_recv` has returned `None` the receiver is not polled again. tokio's
/// channel takes part in tokio's cooperative budget, so a ready channel yields to the scheduler
/// on its own.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Recv<T> {
    rx: mpsc::Receiver<T>,
    done: bool,
}

/// Wraps a tokio bounded receiver as a stream.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let (tx, rx) = tokio::sync::mpsc::channel(4);
/// tokio::spawn(async move {
///     for i in 0..3 {
///         tx.send(i).await.unwrap();
///     }
/// });
/// let got: Vec<i32> = weir::from_receiver(rx).collect().await;
/// assert_eq!(got, [0, 1, 2]);
/// # }
/// ```
pub fn from_receiver<T>(rx: mpsc::Receiver<T>) -> Recv<T> {
    Recv { rx, done: false }
}

impl<T> Recv<T> {
    /// Wraps `rx`: the same as [`from_receiver`], as a constructor.
    pub fn new(rx: mpsc::Receiver<T>) -> Self {
        from_receiver(rx)
    }

    /// The receiver.
    pub fn get_ref(&self) -> &mpsc::Receiver<T> {
        &self.rx
    }

    /// The receiver, mutably. Closing it with [`mpsc::Receiver::close`] ends the stream once
    /// the buffered items are read.
    pub fn get_mut(&mut self) -> &mut mpsc::Receiver<T> {
        &mut self.rx
    }

    /// The receiver, by value.
    pub fn into_inner(self) -> mpsc::Receiver<T> {
        self.rx
    }
}

impl<T> FusedStream for Recv<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Stream for Recv<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(None) = next {
            self.done = true;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            // Even a closed channel may still receive through permits reserved before it
            // closed, so only the lower bound is known.
            (self.rx.len(), None)
        }
    }
}
