//! [`ProcessingTimeWindow`]: tumbling and sliding windows on the tokio clock, emitted on time,
//! empty or not.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep};

use super::aggregate::Aggregate;
use super::two_stacks::TwoStacks;
use super::{MAX_PANES_PER_WINDOW, Pane, Window, combine_panes, window_panes};
use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, wake_self};

pin_project! {
    /// Stream for [`StreamOps::processing_window`](crate::StreamOps::processing_window) and
    /// [`StreamOps::processing_sliding_window`](crate::StreamOps::processing_sliding_window).
    ///
    /// Windows are laid on the tokio clock from the first poll: window `k` covers
    /// `[k * slide, k * slide + size)` (tumbling: `slide == size`). Each item goes into the
    /// windows open when the operator takes it from the upstream. Every window is emitted at
    /// its end, **also when it saw no item** (count 0): what an "events per second" dashboard
    /// needs. When the upstream ends, one last window is emitted at once: the `size` before
    /// the end (for tumbling windows, the window in progress), with its real end.
    ///
    /// `start` and `end` are milliseconds since the Unix epoch: the wall clock read once at
    /// the first poll, plus the tokio clock's progress since (so paused-time tests see exact
    /// window lengths).
    ///
    /// # State
    ///
    /// The clock is cut into panes of `gcd(size, slide)`; the last `size / pane` panes sit in
    /// a [`TwoStacks`] queue, so each window costs amortized O(1) whatever `size / slide` is.
    ///
    /// # Timer and wake-up contract
    ///
    /// One tokio [`Sleep`], created at the first poll and moved forward by exactly one pane
    /// at each pane boundary, so boundaries do not drift; if the task was not polled for
    /// several panes, each is still closed in turn. `Pending` comes after both the upstream
    /// and the timer registered the waker, or after [`POLL_BUDGET`] items (the task woke
    /// itself).
    ///
    /// # Panics
    ///
    /// If `size` or `slide` is zero or not a whole number of milliseconds, or if a window would
    /// span more than [`MAX_PANES_PER_WINDOW`] panes of `gcd(size, slide)`.
    ///
    /// # Marble diagram
    ///
    /// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
    /// the end, `(x)` an item dropped, `x!` a late one):
    ///
    /// ```text
    #[doc = include_str!("../../docs/operators/marbles/processing_window.txt")]
    /// ```
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use weir::prelude::*;
    /// use weir::window::Count;
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
        pane: Pane<A::Acc>,
        queue: TwoStacks<Pane<A::Acc>>,
        pane_len: Duration,
        panes_per_window: u64,
        panes_per_slide: u64,
        // Wall-clock milliseconds at the first poll, and the tokio instant of that poll.
        base: Option<(u64, tokio::time::Instant)>,
        panes_closed: u64,
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
            .field("pane", &self.pane_len)
            .field("panes_per_window", &self.panes_per_window)
            .finish_non_exhaustive()
    }
}

impl<St: Stream, A: Aggregate<St::Item>> ProcessingTimeWindow<St, A> {
    #[track_caller]
    pub(crate) fn new(stream: St, size: Duration, slide: Duration, agg: A) -> Self {
        let ms = |d: Duration, name: &str| {
            let ms = d.as_millis() as u64;
            assert!(
                ms > 0 && Duration::from_millis(ms) == d,
                "processing window: `{name}` must be a whole, non-zero number of milliseconds, got {d:?}"
            );
            ms
        };
        let (size, slide) = (ms(size, "size"), ms(slide, "slide"));
        let (pane, per_window) = window_panes(size, slide);
        assert!(
            per_window <= MAX_PANES_PER_WINDOW,
            "processing window: `size` {size} ms with `slide` {slide} ms makes windows of {} \
             panes of gcd(size, slide) = {pane} ms; at most {MAX_PANES_PER_WINDOW} are allowed",
            per_window
        );
        let identity = (agg.init(), 0);
        ProcessingTimeWindow {
            stream: Fuse::new(stream),
            timer: None,
            pane: identity.clone(),
            queue: TwoStacks::new(identity),
            agg,
            pane_len: Duration::from_millis(pane),
            panes_per_window: per_window,
            panes_per_slide: slide / pane,
            base: None,
            panes_closed: 0,
            finished: false,
        }
    }

    upstream_accessors!();
}

impl<St: Stream, A: Aggregate<St::Item>> ProcessingTimeWindowProj<'_, St, A> {
    /// Closes the pane in progress; returns the window that ends with it, if one does.
    /// Moves the pane in progress into the queue, which keeps the last `size` of panes.
    fn push_pane(&mut self) {
        let agg = &*self.agg;
        let combine = |a: &Pane<A::Acc>, b: &Pane<A::Acc>| combine_panes(agg, a, b);
        let pane = std::mem::replace(self.pane, (agg.init(), 0));
        self.queue.push(pane, combine);
        if self.queue.len() as u64 > *self.panes_per_window {
            self.queue.pop(combine);
        }
    }

    fn close_pane(&mut self) -> Option<Window<A::Output>> {
        self.push_pane();
        *self.panes_closed += 1;
        let (w, s) = (*self.panes_per_window, *self.panes_per_slide);
        let closed = *self.panes_closed;
        (closed >= w && (closed - w) % s == 0).then(|| {
            let pane_ms = self.pane_len.as_millis() as u64;
            let end = self.base.expect("set at the first poll").0 + closed * pane_ms;
            self.window(end - w * pane_ms, end)
        })
    }

    fn window(&self, start: u64, end: u64) -> Window<A::Output> {
        let agg = &*self.agg;
        let (acc, count) = self
            .queue
            .query(|a: &Pane<A::Acc>, b: &Pane<A::Acc>| combine_panes(agg, a, b));
        Window {
            start,
            end: end.max(start),
            result: agg.result(&acc),
            count,
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
            this.timer.set(Some(sleep(*this.pane_len)));
        }
        // Pane boundaries that passed: close each, emitting the windows that end there.
        while let Some(mut timer) = this.timer.as_mut().as_pin_mut() {
            if timer.as_mut().poll(cx).is_pending() {
                break;
            }
            let next = timer.deadline() + *this.pane_len;
            timer.as_mut().reset(next);
            if let Some(window) = this.close_pane() {
                return Poll::Ready(Some(window));
            }
        }
        let (mut upstream, done) = this.stream.as_mut().split();
        for _ in 0..POLL_BUDGET {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    this.agg.add(&mut this.pane.0, &item);
                    this.pane.1 += 1;
                }
                Poll::Ready(None) => {
                    *done = true;
                    *this.finished = true;
                    // The last window: the `size` before now, the pane in progress included.
                    this.push_pane();
                    let (base, started) = this.base.expect("set above");
                    let end = base + started.elapsed().as_millis() as u64;
                    let pane_ms = this.pane_len.as_millis() as u64;
                    let start = base
                        + (*this.panes_closed + 1).saturating_sub(*this.panes_per_window) * pane_ms;
                    return Poll::Ready(Some(this.window(start, end)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        wake_self(cx);
        Poll::Pending
    }
}
