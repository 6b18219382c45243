//! Sources shared by the benches: the same source feeds weir and its peer in every pair.

#![allow(dead_code)]

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

/// Yields `0..len`, returning `Pending` (after waking its task) once every `every` items:
/// a source that is mostly ready but pauses now and then, like a socket under load.
pub struct PendingEvery {
    next: u64,
    len: u64,
    every: u64,
    until_pause: u64,
}

impl PendingEvery {
    pub fn new(len: u64, every: u64) -> Self {
        PendingEvery {
            next: 0,
            len,
            every,
            until_pause: every,
        }
    }
}

impl Stream for PendingEvery {
    type Item = u64;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.next >= self.len {
            return Poll::Ready(None);
        }
        if self.until_pause == 0 {
            self.until_pause = self.every;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.until_pause -= 1;
        let n = self.next;
        self.next += 1;
        Poll::Ready(Some(n))
    }
}

/// A current-thread tokio runtime with the timer enabled, for operators that need one.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("building the bench runtime")
}
