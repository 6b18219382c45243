//! [`retry`]: re-creates and re-runs a fallible future with exponential backoff.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Sleep;

/// How [`retry`] waits between attempts: exponential backoff with a cap, and jitter.
///
/// The wait before retry `k` (`k` = 1 for the first retry) is `initial × 2^(k-1)`, capped at
/// `max`, saturating rather than overflowing however many retries. With jitter (the default)
/// the wait is drawn uniformly from the upper half of that, `[d/2, d]` ("equal jitter"), so
/// that many stages failing together do not retry together, while a wait never drops below
/// half its nominal value.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    retries: u32,
    jitter: bool,
    seed: Option<u64>,
}

impl Backoff {
    /// Waits of `initial`, `2 × initial`, `4 × initial`... up to `max`, for at most 3 retries
    /// (4 attempts), with jitter.
    ///
    /// # Panics
    ///
    /// If `initial` is greater than `max`.
    #[track_caller]
    pub fn new(initial: Duration, max: Duration) -> Self {
        assert!(
            initial <= max,
            "Backoff::new: `initial` ({initial:?}) must not exceed `max` ({max:?})"
        );
        Backoff {
            initial,
            max,
            retries: 3,
            jitter: true,
            seed: None,
        }
    }

    /// At most `retries` retries after the first attempt (0: no retry).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Waits exactly the nominal backoff, with no jitter.
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Draws the jitter from a generator seeded with `seed`: reproducible waits.
    pub fn seeded(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The nominal wait before retry `retry` (from 1), before jitter.
    pub fn nominal(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The most retries.
    pub fn max_retries(&self) -> u32 {
        self.retries
    }

    fn rng(&self) -> SmallRng {
        match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => rand::make_rng(),
        }
    }

    fn wait(&self, retry: u32, rng: &mut SmallRng) -> Duration {
        let nominal = self.nominal(retry);
        if !self.jitter {
            return nominal;
        }
        let half = nominal / 2;
        half + (nominal - half).mul_f64(rng.random::<f64>())
    }
}

/// Runs the future `make` returns; while it fails and retries are left, waits as `backoff`
/// says (on the tokio clock) and runs a new one. Resolves to the first success, or to the
/// last error once the retries are spent.
///
/// This is the retry the seed's "retry on error" pattern describes, for a stage whose work
/// can be re-created (a write, a request): wrap the work of
/// [`then`](crate::StreamOps::then) or [`map_concurrent`](crate::StreamOps::map_concurrent)
/// in it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use weir::concurrent::{Backoff, retry};
///
/// let mut calls = 0;
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).without_jitter();
/// let start = tokio::time::Instant::now();
/// let result: Result<u32, &str> = retry(backoff, || {
///     calls += 1;
///     let call = calls;
///     async move { if call < 3 { Err("busy") } else { Ok(call) } }
/// })
/// .await;
/// assert_eq!(result, Ok(3));
/// // Waited 100 ms, then 200 ms.
/// assert_eq!(start.elapsed(), Duration::from_millis(300));
/// # }
/// ```
pub fn retry<F, Fut, T, E>(backoff: Backoff, mut make: F) -> Retry<F, Fut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let rng = backoff.rng();
    Retry {
        state: Attempt::Running { future: make() },
        make,
        backoff,
        rng,
        retries: 0,
    }
}

pin_project! {
    #[project = AttemptProj]
    enum Attempt<Fut> {
        Running { #[pin] future: Fut },
        Waiting { #[pin] sleep: Sleep },
    }
}

pin_project! {
    /// Future for [`retry`].
    ///
    /// # State machine
    ///
    /// Running an attempt, or waiting before the next. A failed attempt with retries left
    /// starts a tokio sleep of the backoff's wait; when it fires, `make` is called for a new
    /// attempt, polled at once. A success, or a failure with no retry left, resolves.
    ///
    /// # Wake-up contract
    ///
    /// `Pending` only when the attempt or the sleep returned it. A poll runs at most one
    /// attempt's poll and one sleep's: an attempt that fails at once is retried after a
    /// wait, never in a loop.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Retry<F, Fut> {
        #[pin]
        state: Attempt<Fut>,
        make: F,
        backoff: Backoff,
        rng: SmallRng,
        retries: u32,
    }
}

impl<F, Fut> Retry<F, Fut> {
    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

impl<F, Fut, T, E> Future for Retry<F, Fut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        let mut this = self.project();
        if let AttemptProj::Waiting { sleep } = this.state.as_mut().project() {
            std::task::ready!(sleep.poll(cx));
            let future = (this.make)();
            this.state.set(Attempt::Running { future });
        }
        let AttemptProj::Running { future } = this.state.as_mut().project() else {
            unreachable!("a new attempt runs");
        };
        match std::task::ready!(future.poll(cx)) {
            Err(_) if *this.retries < this.backoff.retries => {
                *this.retries += 1;
                let wait = this.backoff.wait(*this.retries, this.rng);
                this.state.set(Attempt::Waiting {
                    sleep: tokio::time::sleep(wait),
                });
                // Poll the new sleep once so that it registers the waker.
                if let AttemptProj::Waiting { sleep } = this.state.project() {
                    if sleep.poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                }
                Poll::Pending
            }
            done => Poll::Ready(done),
        }
    }
}

impl<F, Fut> fmt::Debug for Retry<F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("backoff", &self.backoff)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}
