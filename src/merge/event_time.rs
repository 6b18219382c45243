//! [`merge_event_time`]: one stream from many, in event-time order, so that a window
//! downstream sees each source's items as on time as the source itself delivered them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use tokio::time::{Instant, Sleep, sleep_until};

use crate::poll::Stalls;

/// Merges `sources` by event time: a k-way merge on the sources' heads, which hands items on
/// in the order of the timestamps `timestamp` extracts (milliseconds), holding back a source
/// that is ahead of the others. Merge sources this way before an event-time window
/// ([`tumbling_window`](crate::StreamOps::tumbling_window),
/// [`sliding_window`](crate::StreamOps::sliding_window)) so that one fast source cannot make
/// another source's on-time items late. See [`EventTimeMerge`].
///
/// The sources are one type, held in one `Vec`, and `Unpin`. Sources of different types (a
/// channel and an iterator, two `map`s with different closures, an `async` stream) become one
/// with [`boxed`](crate::StreamOps::boxed), which also pins them: see the second example.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
/// use weir::window::Count;
///
/// // Two sensors, each in order; the first one's items are all ready first.
/// let a = weir::iter([(0u64, 'a'), (1_500, 'a'), (2_100, 'a')]);
/// let b = weir::iter([(200u64, 'b'), (1_000, 'b'), (2_500, 'b')]);
/// let counts: Vec<_> = weir::merge::merge_event_time([a, b], |r: &(u64, char)| r.0)
///     .tumbling_window(1_000, |r: &(u64, char)| r.0, Count)
///     .map(|w| (w.start, w.result, w.late))
///     .collect()
///     .await;
/// // Nothing is late: b's 200 and 1 000 come before a's 1 500.
/// assert_eq!(counts, [(0, 2, 0), (1_000, 2, 0), (2_000, 2, 0)]);
/// # }
/// ```
///
/// Two sources of different types, boxed into one:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let (tx, rx) = tokio::sync::mpsc::channel(8);
/// tokio::spawn(async move {
///     for ts in [100u64, 1_200] {
///         tx.send(ts).await.unwrap();
///     }
/// });
/// let live = weir::from_receiver(rx).boxed(); // a channel...
/// let replay = weir::iter([50u64, 900]).map(|ts| ts + 10).boxed(); // ...and a mapped iterator
/// let merged: Vec<u64> = weir::merge::merge_event_time([live, replay], |ts: &u64| *ts)
///     .collect()
///     .await;
/// assert_eq!(merged, [60, 100, 910, 1_200]);
/// # }
/// ```
pub fn merge_event_time<I, Ts>(sources: I, timestamp: Ts) -> EventTimeMerge<I::Item, Ts>
where
    I: IntoIterator,
    I::Item: Stream + Unpin,
    Ts: FnMut(&<I::Item as Stream>::Item) -> u64,
{
    let sources: Vec<_> = sources.into_iter().map(Source::new).collect();
    EventTimeMerge {
        keys: vec![0; sources.len()],
        empty: sources.len(),
        sources,
        refill: None,
        timestamp,
        idle: None,
        timer: None,
        stalls: Stalls::default(),
    }
}

/// One input of the merge.
struct Source<St: Stream> {
    stream: St,
    /// The next item, taken from the stream (its timestamp is in the merge's `keys`).
    head: Option<St::Item>,
    /// The largest timestamp this source delivered: its own event time.
    max: Option<u64>,
    ended: bool,
    /// With an idle timeout: since when this source has had no item to give (it returned
    /// `Pending` with no head).
    quiet_since: Option<Instant>,
    /// Quiet for longer than the idle timeout: left out until it delivers again.
    idle: bool,
}

impl<St: Stream> Source<St> {
    fn new(stream: St) -> Self {
        Source {
            stream,
            head: None,
            max: None,
            ended: false,
            quiet_since: None,
            idle: false,
        }
    }

    /// Whether this source, waiting for its next item, keeps `ts` from being handed on: it
    /// has not delivered anything as late as `ts` yet, so its next item may come before it.
    fn holds_back(&self, ts: u64) -> bool {
        self.head.is_none() && !self.ended && !self.idle && self.max.is_none_or(|max| max < ts)
    }
}

/// Stream for [`merge_event_time`].
///
/// # The rule
///
/// Each source is taken to be in event-time order, up to the allowed lateness of the window
/// downstream. The merge keeps one item per source, its *head*, and hands on the head with
/// the smallest timestamp `t` (the earliest source on a tie) once no other source can still
/// deliver something earlier: every other source that has not ended either has a head, or has
/// already delivered an item stamped `t` or later (its own event time, the largest
/// timestamp it delivered, is at least `t`).
///
/// So what the window downstream sees is never further ahead than any source's own event
/// time, and its watermark (the largest timestamp seen minus the allowed lateness) is at most
/// the minimum of the sources' watermarks (each source's largest timestamp minus the
/// lateness), as in Flink and Beam. An item is late downstream exactly when it would be late
/// in its own source read alone. A source that is ahead is not read further than the others
/// allow, so memory is one item per source, whatever their lead.
///
/// ```text
/// source a   0 ─── 1500 ─── 2100 ──────────────|         (all ready at once)
/// source b   ─ 200 ───────── 1000 ─── 2500 ────|         (arrives later)
/// merged     0, 200, 1000, 1500, 2100, 2500               windows [0,1000) [1000,2000) ...
///            a's 1500 waits until b has delivered 1000 and then 2500 (b's event time >= 1500)
/// ```
///
/// A source that ends stops holding the others back. A source that has delivered nothing
/// yet holds everything back until it delivers, ends, or is idle.
///
/// # Idle sources
///
/// With [`idle_timeout`](Self::idle_timeout), a source that has had nothing to give for that
/// long (tokio clock, counted from when it first returned `Pending` with no item) stops
/// holding the others back until it delivers again (Flink's `withIdleness`). Its items that
/// then come behind what was already handed on go on at once, and a window downstream counts
/// them late if they are. Without an idle timeout a quiet source holds the merge back for as
/// long as it is quiet: right for inputs that are read as fast as they can be (files), too
/// strict for live sources that may fall silent. An idle timer that fires late (the task did
/// not run: a stall, a process that was stopped), by more than an eighth of the timeout (at
/// least 5 ms; by more than the whole timeout, if the firing before was late too), is not
/// taken for quiet: the quiet time of the sources counts again from then.
///
/// # Cost, wake-up contract
///
/// One poll hands on at most one item. It polls every source that has no head (each with
/// the task's waker), then picks the smallest head: O(k) for k sources, meant for a handful
/// of inputs (files, partitions, sensors), not thousands. `Pending` is returned only when
/// every source without a head returned `Pending` (so each holds the waker), and, when a
/// waiting source's idle deadline is what the merge waits for, after the idle timer
/// registered the waker too. The merge never polls a source again after it ended.
///
/// # Panics
///
/// [`idle_timeout`](Self::idle_timeout) panics if the timeout is zero; the merge panics if
/// polled with an idle timeout outside a tokio runtime.
///
/// # Marble diagram
///
/// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
/// the end, `(x)` an item dropped, `x!` a late one):
///
/// ```text
#[doc = include_str!("../../docs/operators/marbles/merge_event_time.txt")]
/// ```
///
#[must_use = "streams do nothing unless polled"]
pub struct EventTimeMerge<St: Stream, Ts> {
    sources: Vec<Source<St>>,
    /// The heads' timestamps, by source, packed: while every source has a head, the next
    /// item is found by a minimum over this alone.
    keys: Vec<u64>,
    /// How many sources have neither a head nor ended: they must be polled, and they may hold
    /// heads back.
    empty: usize,
    /// The source whose head was handed on last, counted in `empty`: the one source to poll
    /// while every other has a head.
    refill: Option<usize>,
    timestamp: Ts,
    idle: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the idle timer's firings came late enough to be stalls.
    stalls: Stalls,
}

impl<St: Stream, Ts> fmt::Debug for EventTimeMerge<St, Ts> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<_> = self
            .sources
            .iter()
            .zip(&self.keys)
            .map(|(s, &ts)| (s.head.is_some().then_some(ts), s.max, s.idle))
            .collect();
        f.debug_struct("EventTimeMerge")
            .field("sources (head, event time, idle)", &sources)
            .field("idle_timeout", &self.idle)
            .finish_non_exhaustive()
    }
}

impl<St, Ts> EventTimeMerge<St, Ts>
where
    St: Stream + Unpin,
    Ts: FnMut(&St::Item) -> u64,
{
    /// A source that has had no item to give for `timeout` stops holding the others back
    /// until it delivers again (see [Idle sources](Self#idle-sources)).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "idle_timeout: `timeout` must be longer than zero"
        );
        self.idle = Some(timeout);
        self
    }

    /// Sources that have not ended (or whose last item has not been handed on yet).
    pub fn live_sources(&self) -> usize {
        self.sources.len()
    }

    /// Sources left out as idle right now.
    pub fn idle_sources(&self) -> usize {
        self.sources.iter().filter(|s| s.idle).count()
    }

    /// Polls source `i`, which has no head and has not ended, for its next item, and keeps
    /// the source's event time, end and quiet time up to date.
    #[inline(always)]
    fn poll_source(&mut self, i: usize, cx: &mut Context<'_>) -> Poll<Option<(u64, St::Item)>> {
        let source = &mut self.sources[i];
        match Pin::new(&mut source.stream).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let ts = (self.timestamp)(&item);
                if source.max.is_none_or(|max| ts > max) {
                    source.max = Some(ts);
                }
                if self.idle.is_some() {
                    source.quiet_since = None;
                    source.idle = false;
                }
                Poll::Ready(Some((ts, item)))
            }
            Poll::Ready(None) => {
                source.ended = true;
                self.empty -= 1;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.idle.is_some() && source.quiet_since.is_none() {
                    source.quiet_since = Some(Instant::now());
                }
                Poll::Pending
            }
        }
    }

    /// Polls source `i`, which has no head and has not ended, and makes its next item its
    /// head.
    fn fill(&mut self, i: usize, cx: &mut Context<'_>) {
        if let Poll::Ready(Some((ts, item))) = self.poll_source(i, cx) {
            self.sources[i].head = Some(item);
            self.keys[i] = ts;
            self.empty -= 1;
        }
    }

    /// Polls every source that has no head for its next item, but `polled`, which was polled
    /// already in this poll; drops the sources that ended.
    #[inline(never)]
    fn fill_all(&mut self, cx: &mut Context<'_>, polled: Option<usize>) {
        for i in 0..self.sources.len() {
            let source = &self.sources[i];
            if source.head.is_none() && !source.ended && Some(i) != polled {
                self.fill(i, cx);
            }
        }
        if self.sources.iter().any(|s| s.ended) {
            self.remove_ended();
        }
    }

    /// Drops the sources that ended (they have no head).
    fn remove_ended(&mut self) {
        let mut i = 0;
        while i < self.sources.len() {
            if self.sources[i].ended {
                self.sources.remove(i);
                self.keys.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// The source with the smallest head (the first such on a tie), when every source has
    /// one.
    #[inline(always)]
    fn earliest_of_all(&self) -> usize {
        let (mut best, mut min) = (0, self.keys[0]);
        for (i, &key) in self.keys.iter().enumerate().skip(1) {
            if key < min {
                (best, min) = (i, key);
            }
        }
        best
    }

    /// The source with the smallest head (the first such on a tie).
    fn earliest(&self) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = None;
        for (i, (source, &ts)) in self.sources.iter().zip(&self.keys).enumerate() {
            if source.head.is_some() && best.is_none_or(|(_, b)| ts < b) {
                best = Some((i, ts));
            }
        }
        best
    }

    /// Hands on the head of source `i`, which is then the one to poll next.
    #[inline(always)]
    fn take_head(&mut self, i: usize) -> St::Item {
        let item = self.sources[i].head.take().expect("the source has a head");
        self.empty += 1;
        self.refill = Some(i);
        item
    }

    /// Waits for the earliest idle deadline of the sources holding `ts` back: `true` if it
    /// has passed (those sources are now idle, so at least one source fewer holds `ts` back),
    /// `false` once the timer holds the waker (or there is no idle timeout).
    fn wait_idle(&mut self, cx: &mut Context<'_>, ts: u64) -> bool {
        let Some(idle) = self.idle else {
            return false;
        };
        let deadline = self
            .sources
            .iter()
            .filter(|s| s.holds_back(ts))
            .filter_map(|s| s.quiet_since.and_then(|since| since.checked_add(idle)))
            .min();
        let Some(deadline) = deadline else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        // A timer that fires too late ([`Stalls`]) means this task did not run meanwhile (a
        // stall, a process that was stopped): that a source has nothing now says nothing of
        // that time, and what feeds it may have stalled too. Quiet time counts from now.
        if self.stalls.stalled(deadline, now, idle) {
            for source in &mut self.sources {
                if source.quiet_since.is_some() {
                    source.quiet_since = Some(now);
                }
            }
            if let Some(next) = now.checked_add(idle) {
                timer.as_mut().reset(next);
                // Registers the waker for the new deadline.
                let _ = timer.as_mut().poll(cx);
            }
            return false;
        }
        let mut marked = false;
        for source in &mut self.sources {
            let expired = source
                .quiet_since
                .and_then(|since| since.checked_add(idle))
                .is_some_and(|d| d <= now);
            if expired && source.holds_back(ts) {
                source.idle = true;
                marked = true;
            }
        }
        marked
    }

    /// [`poll_next`](Stream::poll_next) past its common case: fills the sources without a head
    /// (but `polled`, polled already in this poll), then hands on the earliest head once no
    /// source can still deliver something earlier, or waits.
    #[inline(never)]
    fn poll_rest(
        &mut self,
        cx: &mut Context<'_>,
        mut polled: Option<usize>,
    ) -> Poll<Option<St::Item>> {
        // Each pass either returns or marks at least one more source idle.
        loop {
            if self.empty > 0 {
                self.fill_all(cx, polled.take());
            }
            let Some((i, ts)) = self.earliest() else {
                if self.sources.is_empty() {
                    return Poll::Ready(None);
                }
                // Every source that has not ended is waiting, and holds the waker.
                return Poll::Pending;
            };
            if self.empty == 0 || !self.sources.iter().any(|s| s.holds_back(ts)) {
                return Poll::Ready(Some(self.take_head(i)));
            }
            if !self.wait_idle(cx, ts) {
                return Poll::Pending;
            }
        }
    }
}

// Nothing is pinned structurally: sources are `Unpin`, the timer is boxed, items and the
// closure are moved freely.
impl<St: Stream, Ts> Unpin for EventTimeMerge<St, Ts> {}

impl<St, Ts> FusedStream for EventTimeMerge<St, Ts>
where
    St: Stream + Unpin,
    Ts: FnMut(&St::Item) -> u64,
{
    fn is_terminated(&self) -> bool {
        self.sources.is_empty()
    }
}

impl<St, Ts> Stream for EventTimeMerge<St, Ts>
where
    St: Stream + Unpin,
    Ts: FnMut(&St::Item) -> u64,
{
    type Item = St::Item;

    // The common case (every source but the last one emptied holds a head) is inlined into the
    // consumer's loop, always: left to itself, the compiler kept the whole poll a call. The
    // rest is out of line, in `poll_rest`.
    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let this = self.get_mut();
        let mut polled = this.refill.take();
        if let Some(i) = polled {
            // The common case: the other sources have heads, only the last one emptied needs
            // its next item. Its item goes on at once if it is the earliest, without becoming
            // a head.
            match this.poll_source(i, cx) {
                Poll::Ready(Some((ts, item))) => {
                    this.keys[i] = ts;
                    if this.empty == 1 {
                        let j = this.earliest_of_all();
                        this.refill = Some(j);
                        if j == i {
                            return Poll::Ready(Some(item));
                        }
                        this.sources[i].head = Some(item);
                        let out = this.sources[j].head.take();
                        return Poll::Ready(Some(out.expect("every source has a head")));
                    }
                    this.sources[i].head = Some(item);
                    this.empty -= 1;
                }
                Poll::Ready(None) => {
                    this.remove_ended();
                    polled = None;
                }
                Poll::Pending => {}
            }
        }
        this.poll_rest(cx, polled)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.sources.iter().fold((0, Some(0)), |(lo, hi), s| {
            let heads = usize::from(s.head.is_some());
            let (s_lo, s_hi) = if s.ended {
                (0, Some(0))
            } else {
                s.stream.size_hint()
            };
            (
                lo.saturating_add(s_lo).saturating_add(heads),
                hi.zip(s_hi)
                    .and_then(|(a, b)| a.checked_add(b)?.checked_add(heads)),
            )
        })
    }
}
