//! Helpers the loom models share: driving a stream on loom's executor.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::sync::block_on;

/// Polls `stream` to its end on loom's executor, collecting its items. Loom reports a
/// deadlock if the stream returns `Pending` with nobody left to wake it: a lost wake-up.
pub(crate) fn drain<St: Stream + Unpin>(stream: &mut St) -> Vec<St::Item> {
    let mut got = Vec::new();
    block_on(poll_fn(|cx| {
        loop {
            match Pin::new(&mut *stream).poll_next(cx) {
                Poll::Ready(Some(x)) => got.push(x),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }));
    got
}

/// Waits on loom's executor for the next item of `stream` (`None` at its end).
pub(crate) fn next<St: Stream + Unpin>(stream: &mut St) -> Option<St::Item> {
    block_on(poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)))
}

/// Polls `stream` once from a task that then goes away (a waker that does nothing), as a
/// stream moved from one task to another sees it: whatever it registered now belongs to
/// nobody, and the next poll, from the new task, must replace it.
pub(crate) fn poll_from_another_task<St: Stream + Unpin>(
    stream: &mut St,
) -> Poll<Option<St::Item>> {
    let waker = futures::task::noop_waker();
    Pin::new(stream).poll_next(&mut Context::from_waker(&waker))
}
