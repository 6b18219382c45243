//! [`UntilSignal`]: ends a stream on SIGINT or SIGTERM, so that the windows downstream are
//! flushed before `weir run` exits.

use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::signal::unix::Signal;
use weir::Stream;

/// Ends the stream it wraps when SIGINT or SIGTERM arrives, recording the exit status that
/// stands for the signal (130 or 143), so that the windows downstream are flushed.
pub(super) struct UntilSignal<'a, St> {
    pub(super) stream: St,
    pub(super) signals: Option<(Signal, Signal)>,
    pub(super) caught: &'a Cell<Option<u8>>,
}

impl<St: Stream + Unpin> Stream for UntilSignal<'_, St> {
    type Item = St::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let Some((interrupt, terminate)) = &mut self.signals else {
            return Poll::Ready(None);
        };
        let code = if interrupt.poll_recv(cx).is_ready() {
            Some(130)
        } else if terminate.poll_recv(cx).is_ready() {
            Some(143)
        } else {
            None
        };
        if let Some(code) = code {
            self.caught.set(Some(code));
            self.signals = None;
            return Poll::Ready(None);
        }
        Pin::new(&mut self.stream).poll_next(cx)
    }
}
