//! [`ProcessingTimeWindow`]: tumbling windows on the tokio clock, one per `size`, empty or not.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep};

use super::Window;
use super::aggregate::Aggregate;
use crate::ops::{Fuse, POLL_BUDGET, yield_now};

pin_project! {
    /// Stream for [`StreamOps::processing_window`](crate::StreamOps::processing_window).
    ///
    /// Windows are consecutive intervals of `size` on the tokio clock, the first starting at
    /// the first poll. Each item goes into the window that is open when the operator takes it
    /// from the upstream. At the end of every interval its window is emitted, **also when it
    /// saw no item** (count 0): what an "events per second" dashboard needs. When the upstream
    /// ends, the window in progress is emitted at once (with its real end: the end of the
    /// stream), then `None`.
    ///
    /// `start` and `end` are milliseconds since the Unix epoch: the wall clock read once at
    /// the first poll, plus the tokio clock's progress since (so paused-time tests see exact
    /// window lengths).
    ///
    /// # Timer and wake-up contract
    ///
    /// One tokio [`Sleep`], created at the first poll and moved forward by exactly `size` at
    /// each boundary, so boundaries do not drift; if the task was not polled for several
    /// intervals, each of them is still emitted, one per poll. `Pending` comes after both the
    /// upstream and the timer registered the waker, or after [`POLL_BUDGET`] items (the task
    /// woke itself).
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    /// use weir::ops::window::Count;
    ///
    /// let (tx, rx) = tokio::sync::mpsc::channel(8);
    /// tokio::spawn(async move {
    ///     tx.send(1).await.unwrap();
    ///     tx.send(2).await.unwrap();
    ///     tokio::time::sleep(Duration::from_millis(2_500)).await; // two idle seconds
    ///     tx.send(3).await.unwrap();
    /// });
    /// let per_second: Vec<u64> = weir::from_receiver(rx)
    ///     .processing_window(Duration::from_secs(1), Count)
    ///     .map(|w| w.result)
    ///     .collect()
    ///     .await;
    /// assert_eq!(per_second, [2, 0, 1]);
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    #[project = ProcessingTimeWindowProj]
    pub struct ProcessingTimeWindow<St: Stream, A: Aggregate<St::Item>> {
        #[pin]
        stream: Fuse<St>,
        #[pin]
        timer: Option<Sleep>,
        agg: A,
        acc: A::Acc,
        count: u64,
        size: Duration,
        // Wall-clock milliseconds at the first poll, and the tokio instant of that poll.
        base: Option<(u64, tokio::time::Instant)>,
        index: u64,
        finished: bool,
    }
}

impl<St, A> fmt::Debug for ProcessingTimeWindow<St, A>
where
    St: Stream + fmt::Debug,
    A: Aggregate<St::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessingTimeWindow")
            .field("stream", &self.stream)
            .field("size", &self.size)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl<St: Stream, A: Aggregate<St::Item>> ProcessingTimeWindow<St, A> {
    #[track_caller]
    pub(crate) fn new(stream: St, size: Duration, agg: A) -> Self {
        assert!(
            !size.is_zero(),
            "processing_window: `size` must be longer than zero"
        );
        let acc = agg.init();
        ProcessingTimeWindow {
            stream: Fuse::new(stream),
            timer: None,
            agg,
            acc,
            count: 0,
            size,
            base: None,
            index: 0,
            finished: false,
        }
    }

    upstream_accessors!();
}

impl<St: Stream, A: Aggregate<St::Item>> ProcessingTimeWindowProj<'_, St, A> {
    fn emit(&mut self, end_ms: u64) -> Window<A::Output> {
        let (base, _) = self.base.expect("set at the first poll");
        let size_ms = self.size.as_millis() as u64;
        let start = base + *self.index * size_ms;
        *self.index += 1;
        let acc = std::mem::replace(self.acc, self.agg.init());
        Window {
            start,
            end: end_ms.max(start),
            result: self.agg.result(&acc),
            count: std::mem::take(self.count),
            late: 0,
        }
    }
}

impl<St: Stream, A: Aggregate<St::Item>> FusedStream for ProcessingTimeWindow<St, A> {
    fn is_terminated(&self) -> bool {
        self.finished
    }
}

impl<St: Stream, A: Aggregate<St::Item>> Stream for ProcessingTimeWindow<St, A> {
    type Item = Window<A::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.finished {
            return Poll::Ready(None);
        }
        if this.base.is_none() {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            *this.base = Some((wall, tokio::time::Instant::now()));
            this.timer.set(Some(sleep(*this.size)));
        }
        let size_ms = this.size.as_millis() as u64;
        // A boundary passed: emit that window, move the timer by exactly one interval.
        if let Some(mut timer) = this.timer.as_mut().as_pin_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                let next = timer.deadline() + *this.size;
                timer.as_mut().reset(next);
                let (base, _) = this.base.expect("set above");
                let end = base + (*this.index + 1) * size_ms;
                return Poll::Ready(Some(this.emit(end)));
            }
        }
        let (mut upstream, done) = this.stream.as_mut().split();
        for _ in 0..POLL_BUDGET {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    this.agg.add(this.acc, &item);
                    *this.count += 1;
                }
                Poll::Ready(None) => {
                    *done = true;
                    *this.finished = true;
                    let (base, started) = this.base.expect("set above");
                    let end = base + started.elapsed().as_millis() as u64;
                    return Poll::Ready(Some(this.emit(end)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        yield_now(cx);
        Poll::Pending
    }
}
