//! [`Resilient`]: a Redis source that waits out a lost server, and gives up after a set time.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use redis::RedisError;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep, sleep};
use weir::Stream;
use weir::io::redis::is_transient;

use crate::reading::{Counted, Reader};

/// Yields the entries of a source of `RedisResult`s. A failed read is reported on stderr
/// (the first of a run of failures, then one line per failure with the time it has lasted)
/// and read again after a wait that doubles from 100 ms to 2 s; once reads have failed for
/// `give_up` with no entry read in between (at once, for an error that waiting cannot cure),
/// the stream ends and hands the last error back on the receiver [`new`](Self::new) returns.
///
/// `Pending` comes from the source (which registered the waker) or from the wait's timer.
pub(crate) struct Resilient<St> {
    source: St,
    /// What to call the source in reports.
    name: String,
    give_up: Duration,
    /// Since when reads have failed, and how many have.
    failing: Option<(Instant, u32)>,
    wait: Option<Pin<Box<Sleep>>>,
    /// Where the error it gave up on goes; `None` once it has (then the stream is over).
    gave_up: Option<oneshot::Sender<String>>,
    /// Reads that failed and were tried again, in all.
    retried: Counted<u64>,
}

impl<St> Resilient<St> {
    /// Wraps `source`, called `name` in reports; the receiver gets the error it gave up on,
    /// if it did.
    pub(crate) fn new(
        source: St,
        name: String,
        give_up: Duration,
    ) -> (Self, oneshot::Receiver<String>) {
        let (gave_up, error) = oneshot::channel();
        let resilient = Resilient {
            source,
            name,
            give_up,
            failing: None,
            wait: None,
            gave_up: Some(gave_up),
            retried: Counted::new(0).0,
        };
        (resilient, error)
    }

    /// A read failed: reports it and returns `true` to read again after a wait, or hands the
    /// error back and returns `false` when reads have failed for the give-up time, or at once
    /// for an error that waiting cannot cure (a refused password, a key of another type).
    fn failed(&mut self, e: &RedisError) -> bool {
        let now = Instant::now();
        let (since, failed) = self.failing.get_or_insert((now, 0));
        *failed += 1;
        let since = *since;
        let lasted = now - since;
        // The last wait ends at the give-up time, so that giving up comes on time.
        let wait = waits()
            .nominal(*failed)
            .min(self.give_up.saturating_sub(lasted));
        if !is_transient(e) || lasted >= self.give_up {
            let error = if is_transient(e) {
                format!(
                    "{}: gave up after {} ms of failed reads: {e}",
                    self.name,
                    lasted.as_millis()
                )
            } else {
                format!("{}: {e}", self.name)
            };
            if let Some(gave_up) = self.gave_up.take() {
                let _ = gave_up.send(error);
            }
            return false;
        }
        let _ = writeln!(
            std::io::stderr(),
            "weir: {}: {e}; reading again in {} ms (failing for {} ms, giving up after {} ms)",
            self.name,
            wait.as_millis(),
            lasted.as_millis(),
            self.give_up.as_millis()
        );
        self.wait = Some(Box::pin(sleep(wait)));
        self.retried.update(|n| *n += 1);
        true
    }

    /// Reads that failed and were tried again so far.
    pub(crate) fn retries(&self) -> Reader<u64> {
        self.retried.reader()
    }
}

impl<St, T> Stream for Resilient<St>
where
    St: Stream<Item = Result<T, RedisError>> + Unpin,
{
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        loop {
            if this.gave_up.is_none() {
                return Poll::Ready(None);
            }
            if let Some(wait) = &mut this.wait {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
            }
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    if let Some((since, _)) = this.failing.take() {
                        let _ = writeln!(
                            std::io::stderr(),
                            "weir: {}: reading again after {} ms of failures",
                            this.name,
                            since.elapsed().as_millis()
                        );
                    }
                    return Poll::Ready(Some(item));
                }
                Poll::Ready(Some(Err(e))) => {
                    if !this.failed(&e) {
                        return Poll::Ready(None);
                    }
                }
                Poll::Ready(None) => {
                    // Over: the source is not polled again.
                    this.gave_up = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The waits between attempts after a failure: 100 ms doubling up to 2 s. Reads and
/// connections wait `nominal(k)` before attempt `k + 1`; a sink retries with its jitter.
pub(crate) fn waits() -> weir::concurrent::Backoff {
    use std::time::Duration;
    weir::concurrent::Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
}

/// Retries of a write or an acknowledgement spread over about `give_up`: the waits of
/// [`waits`], as many as fit.
pub(crate) fn retries_over(give_up: Duration) -> weir::concurrent::Backoff {
    let retries = u32::try_from(give_up.as_secs() / 2).unwrap_or(u32::MAX);
    waits().retries(retries.saturating_add(3))
}
