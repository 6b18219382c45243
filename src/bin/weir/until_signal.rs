//! [`Stop`]: SIGINT or SIGTERM, caught once for the whole command and seen by every stage
//! that must end on it; and [`UntilSignal`], which ends a stream on it, so that the windows
//! downstream are flushed before the command exits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::watch;
use weir::{FusedStream, Stream};

/// The exit status standing for the signal caught (130 for SIGINT, 143 for SIGTERM), 0 while
/// none has come.
pub(crate) type Stop = watch::Receiver<u8>;

/// Listens for SIGINT and SIGTERM (on a task of the runtime): the first one sets the
/// [`Stop`]'s status. Without signals to listen to (an error, reported), no stop ever comes.
pub(crate) fn watch_signals() -> Stop {
    let (caught, stop) = watch::channel(0);
    match crate::common::signals() {
        Ok((mut interrupt, mut terminate)) => {
            tokio::spawn(async move {
                let status = tokio::select! {
                    _ = interrupt.recv() => 130,
                    _ = terminate.recv() => 143,
                };
                let _ = caught.send(status);
            });
        }
        Err(e) => {
            report!("weir: cannot listen for signals ({e}): Ctrl-C will not flush the windows");
            // Kept alive, so that the stop stays open and never fires.
            std::mem::forget(caught);
        }
    }
    stop
}

/// While the stream has items ready, the stop is looked at once every this many items: a
/// signal is noticed within microseconds, and the items in between cost no poll of it.
const CHECK_EVERY: u32 = 1024;

/// Ends the stream it wraps when the [`Stop`] fires.
///
/// The stop is polled whenever the stream returns `Pending` (so its wake-up is registered
/// whenever the task may sleep) and once every [`CHECK_EVERY`] items in between. Once it
/// has ended, on the stop or with its stream, it returns `None` without polling either again.
pub(crate) struct UntilSignal<St> {
    stream: St,
    /// Resolves when the stop fires; `None` once the stream is over.
    stopped: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    until_check: u32,
}

impl<St> UntilSignal<St> {
    pub(crate) fn new(stream: St, mut stop: Stop) -> Self {
        let stopped = async move {
            // A closed stop (its sender gone) never fires.
            if stop.wait_for(|status| *status != 0).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        UntilSignal {
            stream,
            stopped: Some(Box::pin(stopped)),
            until_check: 0,
        }
    }

    /// Whether the stop has fired (then the stream is over).
    fn stopped(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(stopped) = &mut self.stopped else {
            return true;
        };
        if stopped.as_mut().poll(cx).is_pending() {
            self.until_check = CHECK_EVERY;
            return false;
        }
        self.stopped = None;
        true
    }
}

impl<St: Stream + Unpin> FusedStream for UntilSignal<St> {
    fn is_terminated(&self) -> bool {
        self.stopped.is_none()
    }
}

impl<St: Stream + Unpin> Stream for UntilSignal<St> {
    type Item = St::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = &mut *self;
        if this.stopped.is_none() || (this.until_check == 0 && this.stopped(cx)) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.stream).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.until_check -= 1;
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.stopped = None;
                Poll::Ready(None)
            }
            Poll::Pending if this.stopped(cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.stopped {
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
    use std::time::Duration;

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
    async fn a_signal_ends_every_stream_for_good_and_sets_its_status() {
        let stop = watch_signals();
        let mut until = UntilSignal::new(Polled(0), stop.clone());
        let mut other = UntilSignal::new(Polled(0), stop.clone());
        // The first poll looks at the stop, polls the stream: Pending.
        assert!(next(&mut until).await.is_pending());
        assert_eq!(next(&mut until).await, Poll::Ready(Some(2)));
        // SIGTERM to this process: tokio's handler, installed by `watch_signals`, takes it.
        let pid = std::process::id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        // The signal reaches the listening task (through the kernel and the runtime's
        // signal driver, in their time), which sets the stop.
        let mut caught = stop.clone();
        let set = tokio::time::timeout(Duration::from_secs(30), caught.wait_for(|&s| s != 0));
        assert!(set.await.expect("the signal reaches the listener").is_ok());
        // Each stream notices it at its next poll that looks at the stop: the next Pending of
        // the stream, or within CHECK_EVERY items.
        for until in [&mut until, &mut other] {
            let mut polls = 0;
            let ended = loop {
                match next(until).await {
                    Poll::Ready(None) => break true,
                    _ if polls > CHECK_EVERY => break false,
                    _ => polls += 1,
                }
            };
            assert!(ended, "the stop was not noticed within {CHECK_EVERY} items");
        }
        assert_eq!(*stop.borrow(), 143);
        // Over: the stream is not polled again, whatever the countdown says.
        let polled = until.stream.0;
        for _ in 0..3 {
            assert_eq!(next(&mut until).await, Poll::Ready(None));
        }
        assert_eq!(until.stream.0, polled);
        assert!(until.is_terminated());
    }
}
