//! [`UntilSignal`]: ends a stream on SIGINT or SIGTERM, so that the windows downstream are
//! flushed before `weir run` exits.

use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::signal::unix::Signal;
use weir::Stream;

/// While the stream has items ready, the signals are looked at once every this many items:
/// a signal is noticed within microseconds, and the items in between cost no poll of them.
const CHECK_EVERY: u32 = 1024;

/// Ends the stream it wraps when SIGINT or SIGTERM arrives, recording the exit status that
/// stands for the signal (130 or 143), so that the windows downstream are flushed.
///
/// The signals are polled whenever the stream returns `Pending` (so their wake-ups are
/// registered whenever the task may sleep) and once every [`CHECK_EVERY`] items in between.
pub(super) struct UntilSignal<'a, St> {
    stream: St,
    signals: Option<(Signal, Signal)>,
    caught: &'a Cell<Option<u8>>,
    until_check: u32,
}

impl<'a, St> UntilSignal<'a, St> {
    pub(super) fn new(stream: St, signals: (Signal, Signal), caught: &'a Cell<Option<u8>>) -> Self {
        UntilSignal {
            stream,
            signals: Some(signals),
            caught,
            until_check: 0,
        }
    }

    /// Whether a signal has come (then the stream is over).
    fn signalled(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((interrupt, terminate)) = &mut self.signals else {
            return true;
        };
        let code = if interrupt.poll_recv(cx).is_ready() {
            130
        } else if terminate.poll_recv(cx).is_ready() {
            143
        } else {
            self.until_check = CHECK_EVERY;
            return false;
        };
        self.caught.set(Some(code));
        self.signals = None;
        true
    }
}

impl<St: Stream + Unpin> Stream for UntilSignal<'_, St> {
    type Item = St::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = &mut *self;
        if this.until_check == 0 && this.signalled(cx) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.stream).poll_next(cx) {
            Poll::Ready(item) => {
                this.until_check -= 1;
                Poll::Ready(item)
            }
            Poll::Pending if this.signalled(cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
