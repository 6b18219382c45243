//! What the benches share: criterion's configuration, the runtimes, and the sources that feed
//! weir and its peer alike in every pair.

#![allow(dead_code)]

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::Criterion;

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

/// A multi-thread tokio runtime with 2 workers (the machine the figures come from has 2
/// cores), for the benches where producer and consumer run as tasks of their own.
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("building the bench runtime")
}

/// Criterion's configuration for every bench file: 10 samples after 0.5 s of warm-up, 3 s
/// of measurement per function. Ratios in `docs/BENCHMARKS.md` come from medians measured
/// with it.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}
