//! [`UntilSignal`]: ends a stream on SIGINT or SIGTERM, so that the windows downstream are
//! flushed before `weir run` exits.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use weir::{FusedStream, Stream};

use crate::common::Signals;

/// While the stream has items ready, the signals are looked at once every this many items:
/// a signal is noticed within microseconds, and the items in between cost no poll of them.
const CHECK_EVERY: u32 = 1024;

/// Ends the stream it wraps when SIGINT or SIGTERM arrives, and hands back the exit status
/// that stands for the signal (130 or 143) on the receiver [`new`](Self::new) returns, so
/// that the windows downstream are flushed and the command exits with it.
///
/// The signals are polled whenever the stream returns `Pending` (so their wake-ups are
/// registered whenever the task may sleep) and once every [`CHECK_EVERY`] items in between.
/// Once it has ended, on a signal or with its stream, it returns `None` without polling
/// either again.
pub(crate) struct UntilSignal<St> {
    stream: St,
    /// `None` once the stream is over.
    signals: Option<Signals>,
    caught: Option<oneshot::Sender<u8>>,
    until_check: u32,
}

impl<St> UntilSignal<St> {
    /// Wraps `stream`; the receiver gets the exit status of the signal that ended it, if one
    /// did.
    pub(crate) fn new(stream: St, signals: Signals) -> (Self, oneshot::Receiver<u8>) {
        let (caught, status) = oneshot::channel();
        let until = UntilSignal {
            stream,
            signals: Some(signals),
            caught: Some(caught),
            until_check: 0,
        };
        (until, status)
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
        if let Some(caught) = self.caught.take() {
            let _ = caught.send(code);
        }
        self.signals = None;
        true
    }
}

impl<St: Stream + Unpin> FusedStream for UntilSignal<St> {
    fn is_terminated(&self) -> bool {
        self.signals.is_none()
    }
}

impl<St: Stream + Unpin> Stream for UntilSignal<St> {
    type Item = St::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = &mut *self;
        if this.signals.is_none() || (this.until_check == 0 && this.signalled(cx)) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.stream).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.until_check -= 1;
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.signals = None;
                Poll::Ready(None)
            }
            Poll::Pending if this.signalled(cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.signals {
            // A signal may end it at any item.
            Some(_) => (0, self.stream.size_hint().1),
            None => (0, Some(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    /// Counts its polls; yields `Pending` once (waking itself), then an item, for ever.
    struct Polled(u32);

    impl Stream for Polled {
        type Item = u32;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.0 += 1;
            if self.0 == 1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Some(self.0))
        }
    }

    /// One poll of `until`.
    async fn next(until: &mut UntilSignal<Polled>) -> Poll<Option<u32>> {
        let mut until = Pin::new(until);
        poll_fn(move |cx| Poll::Ready(until.as_mut().poll_next(cx))).await
    }

    #[tokio::test]
    async fn a_signal_ends_the_stream_for_good_and_hands_back_its_status() {
        let signals = crate::common::signals().expect("listening for signals");
        let (mut until, mut status) = UntilSignal::new(Polled(0), signals);
        // The first poll looks at the signals, polls the stream: Pending.
        assert!(next(&mut until).await.is_pending());
        assert_eq!(next(&mut until).await, Poll::Ready(Some(2)));
        // SIGTERM to this process: tokio's handler, installed by `signals()`, takes it.
        let pid = std::process::id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        // The signal is delivered to the listener's driver; the stream notices it at the
        // next poll that looks at the signals: the next Pending of the stream, or within
        // CHECK_EVERY items.
        let mut polls = 0;
        let ended = loop {
            tokio::task::yield_now().await;
            match next(&mut until).await {
                Poll::Ready(None) => break true,
                _ if polls > 10 * CHECK_EVERY => break false,
                _ => polls += 1,
            }
        };
        assert!(ended, "the signal was not noticed");
        assert_eq!(status.try_recv(), Ok(143));
        // Over: the stream is not polled again, whatever the countdown says.
        let polled = until.stream.0;
        for _ in 0..3 {
            assert_eq!(next(&mut until).await, Poll::Ready(None));
        }
        assert_eq!(until.stream.0, polled);
        assert!(until.is_terminated());
    }
}
