//! [`merge`] and [`merge_tagged`]: one stream from many, fair, with O(1) work per wake-up.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::{POLL_BUDGET, yield_now};
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, WakeArc, WakerCell};

/// Merges `streams` into one stream of their items.
///
/// See [`MergeTagged`] for the scheduling policy (fair round robin, O(1) per wake-up) and for
/// adding sources while the merge runs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let merged = weir::ops::merge([weir::iter(vec![1, 2, 3]), weir::iter(vec![10, 20])]);
/// assert_eq!(merged.collect::<Vec<_>>().await, [1, 10, 2, 20, 3]);
/// # }
/// ```
pub fn merge<I>(streams: I) -> Merge<I::Item>
where
    I: IntoIterator,
    I::Item: Stream,
{
    Merge {
        inner: merge_tagged(streams.into_iter().map(|s| ((), s))),
    }
}

/// Merges keyed streams into one stream of `(key, item)`: each item comes with the key of the
/// stream it came from.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let merged = weir::ops::merge_tagged([("a", weir::iter(vec![1, 2])), ("b", weir::iter(vec![7]))]);
/// assert_eq!(merged.collect::<Vec<_>>().await, [("a", 1), ("b", 7), ("a", 2)]);
/// # }
/// ```
pub fn merge_tagged<K, St, I>(sources: I) -> MergeTagged<K, St>
where
    I: IntoIterator<Item = (K, St)>,
    K: Clone,
    St: Stream,
{
    let mut merge = MergeTagged {
        slots: Vec::new(),
        free: Vec::new(),
        run: RunQueue::default(),
        live: 0,
        shared: Arc::new(Shared {
            wakes: Arc::new(WakeQueue {
                woken: Mutex::new(Vec::new()),
                any: AtomicBool::new(false),
                parent: WakerCell::new(),
            }),
            incoming: Mutex::new(Vec::new()),
            has_incoming: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
            registry: Mutex::new(Vec::new()),
        }),
        done: false,
    };
    for (key, stream) in sources {
        merge.push(key, stream);
    }
    merge
}

/// Where source wakers report: indices of woken sources, and the merge task's waker.
struct WakeQueue {
    woken: Mutex<Vec<usize>>,
    /// Set after an index is pushed to `woken`: lets the merge skip the lock when nothing
    /// was woken, which is every poll of a merge whose sources are all ready.
    any: AtomicBool,
    parent: WakerCell,
}

/// The waker state of one source.
struct SourceWaker {
    index: usize,
    /// In `woken` already (so a burst of wakes queues it once).
    queued: AtomicBool,
    /// The source ended and its slot may be reused: wakes are ignored.
    closed: AtomicBool,
    /// Items this source yielded, as last published by the merge (see `Slot::yielded`).
    items: AtomicU64,
    wakes: Arc<WakeQueue>,
}

impl Wake for SourceWaker {
    fn wake(self: WakeArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &WakeArc<Self>) {
        if self.closed.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.wakes.woken.lock().push(self.index);
        self.wakes.any.store(true, Ordering::Release);
        self.wakes.parent.wake();
    }
}

struct Shared<K, St> {
    wakes: Arc<WakeQueue>,
    /// Sources pushed through a [`MergeHandle`], admitted on the next poll.
    incoming: Mutex<Vec<(K, St)>>,
    has_incoming: AtomicBool,
    /// Live [`MergeHandle`]s: while there are any, more sources may come.
    handles: AtomicUsize,
    /// Every source ever added, with its counter, in the order added.
    registry: Mutex<Vec<(K, WakeArc<SourceWaker>)>>,
}

/// The merge's run queue: a FIFO of source indices, each present at most once, in a ring over
/// a power-of-two buffer. Cheaper per item than a `VecDeque`, whose `push_back` does not
/// inline: with always-ready sources every item costs one pop and one push.
#[derive(Debug, Default)]
struct RunQueue {
    buf: Vec<usize>,
    head: usize,
    len: usize,
}

impl RunQueue {
    #[inline]
    fn pop_front(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let index = self.buf[self.head];
        self.head = (self.head + 1) & (self.buf.len() - 1);
        self.len -= 1;
        Some(index)
    }

    #[inline]
    fn push_back(&mut self, index: usize) {
        if self.len == self.buf.len() {
            self.grow();
        }
        let tail = (self.head + self.len) & (self.buf.len() - 1);
        self.buf[tail] = index;
        self.len += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let capacity = (self.buf.len() * 2).max(4);
        let mut buf = Vec::with_capacity(capacity);
        let mask = self.buf.len().wrapping_sub(1);
        buf.extend((0..self.len).map(|k| self.buf[(self.head + k) & mask]));
        buf.resize(capacity, 0);
        self.buf = buf;
        self.head = 0;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn len(&self) -> usize {
        self.len
    }
}

struct Slot<K, St> {
    key: K,
    stream: Pin<Box<St>>,
    waker: Waker,
    state: WakeArc<SourceWaker>,
    /// In the merge's run queue.
    in_run: bool,
    /// Items yielded, counted here and published to `state.items` when the source pauses or
    /// ends and every [`PUBLISH_EVERY`] items: a plain add per item instead of a store to a
    /// shared cache line.
    yielded: u64,
}

/// How often an always-ready source's count is published to handles.
const PUBLISH_EVERY: u64 = 1024;

impl<K, St> Slot<K, St> {
    fn publish(&self) {
        self.state.items.store(self.yielded, Ordering::Relaxed);
    }
}

/// Stream for [`merge_tagged`]; [`Merge`] is the same without the keys.
///
/// # Scheduling
///
/// The merge keeps a *run queue* of sources to poll, initially every source in the order
/// given. Each poll takes sources from the front of the queue and polls them:
/// - a source that yields an item goes to the **back** of the queue and the item is returned,
///   so always-ready sources `a`, `b`, `c` interleave exactly `a b c a b c ...` (round robin:
///   no source can starve another);
/// - a source that returns `Pending` leaves the queue; it has registered its own waker, and
///   when that waker fires the source's index is pushed onto a shared *wake queue* and the
///   merge's task is woken. The next poll moves woken sources to the back of the run queue.
///   A wake-up therefore costs O(1), never a scan of all sources, and a source woken many
///   times before the merge runs is queued once;
/// - a source that ends is removed in O(1) (its slot is reused) and never polled again.
///
/// Each source's own order is preserved. One poll polls at most [`POLL_BUDGET`] sources;
/// when they all returned `Pending` and more are queued, the merge wakes its own task and
/// returns `Pending`.
///
/// The merge ends when every source has ended and no [`MergeHandle`] is alive (a handle can
/// still add sources).
///
/// # Wake-up contract
///
/// Before returning `Pending` for want of work, a poll registers the task's waker with the
/// wake queue and then takes the woken sources once more: a source woken before the
/// registration is found by that last look, one woken after it wakes the task. No wake-up is
/// lost (checked by the loom models in this file). A poll that returns an item registers
/// nothing and takes no lock: the consumer polls again anyway, and a flag tells whether any
/// source was woken since the last look.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let mut merged = weir::ops::merge_tagged([("a", weir::iter(0..2))]);
/// let handle = merged.handle();
/// handle.push("b", weir::iter(10..12)); // a source found at run time
/// drop(handle);
/// let all: Vec<_> = (&mut merged).collect().await;
/// assert_eq!(all, [("a", 0), ("b", 10), ("a", 1), ("b", 11)]);
/// assert_eq!(merged.source_counts(), [("a", 2), ("b", 2)]);
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct MergeTagged<K, St> {
    slots: Vec<Option<Slot<K, St>>>,
    free: Vec<usize>,
    run: RunQueue,
    live: usize,
    shared: Arc<Shared<K, St>>,
    done: bool,
}

impl<K, St> MergeTagged<K, St>
where
    K: Clone,
    St: Stream,
{
    /// Adds a source. It is polled after the sources already queued.
    pub fn push(&mut self, key: K, stream: St) {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let state = WakeArc::new(SourceWaker {
            index,
            queued: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            items: AtomicU64::new(0),
            wakes: self.shared.wakes.clone(),
        });
        let slot = Slot {
            key: key.clone(),
            stream: Box::pin(stream),
            waker: Waker::from(state.clone()),
            state: state.clone(),
            in_run: true,
            yielded: 0,
        };
        if index == self.slots.len() {
            self.slots.push(Some(slot));
        } else {
            self.slots[index] = Some(slot);
        }
        self.shared.registry.lock().push((key, state));
        self.run.push_back(index);
        self.live += 1;
        self.done = false;
    }

    /// A handle that adds sources from anywhere, for sources discovered at run time, and reads
    /// the per-source counters. While a handle is alive the merge does not end.
    pub fn handle(&self) -> MergeHandle<K, St> {
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        MergeHandle {
            shared: self.shared.clone(),
        }
    }

    /// How many items each source has yielded, in the order the sources were added
    /// (including those that have ended). Exact.
    pub fn source_counts(&self) -> Vec<(K, u64)> {
        for slot in self.slots.iter().flatten() {
            slot.publish();
        }
        counts(&self.shared)
    }

    /// How many sources have not ended yet.
    pub fn live_sources(&self) -> usize {
        self.live
    }

    fn admit_incoming(&mut self) {
        let incoming = &self.shared.has_incoming;
        if incoming.load(Ordering::Relaxed) && incoming.swap(false, Ordering::AcqRel) {
            let incoming = std::mem::take(&mut *self.shared.incoming.lock());
            for (key, stream) in incoming {
                self.push(key, stream);
            }
        }
    }

    /// Moves woken sources to the back of the run queue.
    fn drain_woken(&mut self) {
        self.shared.wakes.any.store(false, Ordering::Relaxed);
        let woken = std::mem::take(&mut *self.shared.wakes.woken.lock());
        for index in woken {
            if let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) {
                slot.state.queued.store(false, Ordering::Release);
                if !slot.in_run {
                    slot.in_run = true;
                    self.run.push_back(index);
                }
            }
        }
    }

    fn remove(&mut self, index: usize) {
        if let Some(slot) = self.slots[index].take() {
            slot.publish();
            slot.state.closed.store(true, Ordering::Release);
            self.free.push(index);
            self.live -= 1;
        }
    }
}

fn counts<K: Clone, St>(shared: &Shared<K, St>) -> Vec<(K, u64)> {
    shared
        .registry
        .lock()
        .iter()
        .map(|(key, state)| (key.clone(), state.items.load(Ordering::Relaxed)))
        .collect()
}

impl<K, St> Unpin for MergeTagged<K, St> {}

impl<K, St> Stream for MergeTagged<K, St>
where
    K: Clone,
    St: Stream,
{
    type Item = (K, St::Item);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        this.admit_incoming();
        if this.shared.wakes.any.load(Ordering::Acquire) {
            this.drain_woken();
        }
        let mut polled = 0;
        let mut registered = false;
        loop {
            let Some(index) = this.run.pop_front() else {
                // Nothing left to poll. Register the task's waker, then take the sources woken
                // so far: one woken before the registration is found here, one woken after it
                // wakes the task. Only then is `Pending` safe.
                if registered {
                    break;
                }
                this.shared.wakes.parent.register(cx.waker());
                registered = true;
                this.drain_woken();
                continue;
            };
            let Some(slot) = this.slots[index].as_mut() else {
                continue;
            };
            slot.in_run = false;
            polled += 1;
            let mut source_cx = Context::from_waker(&slot.waker);
            match slot.stream.as_mut().poll_next(&mut source_cx) {
                Poll::Ready(Some(item)) => {
                    slot.yielded += 1;
                    if slot.yielded % PUBLISH_EVERY == 0 {
                        slot.publish();
                    }
                    slot.in_run = true;
                    this.run.push_back(index);
                    return Poll::Ready(Some((slot.key.clone(), item)));
                }
                Poll::Ready(None) => this.remove(index),
                Poll::Pending => slot.publish(),
            }
            if polled == POLL_BUDGET && !this.run.is_empty() {
                yield_now(cx);
                return Poll::Pending;
            }
        }
        let no_more = this.shared.handles.load(Ordering::Acquire) == 0
            && !this.shared.has_incoming.load(Ordering::Acquire);
        if this.live == 0 && no_more {
            this.done = true;
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let open = self.shared.handles.load(Ordering::Acquire) > 0
            || self.shared.has_incoming.load(Ordering::Acquire);
        let (mut lower, mut upper) = (0usize, (!open).then_some(0usize));
        for slot in self.slots.iter().flatten() {
            let (lo, hi) = slot.stream.size_hint();
            lower = lower.saturating_add(lo);
            upper = upper.zip(hi).and_then(|(a, b)| a.checked_add(b));
        }
        (lower, upper)
    }
}

impl<K: Clone, St: Stream> FusedStream for MergeTagged<K, St> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<K: fmt::Debug, St> fmt::Debug for MergeTagged<K, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&K> = self.slots.iter().flatten().map(|s| &s.key).collect();
        f.debug_struct("MergeTagged")
            .field("live", &keys)
            .field("queued", &self.run.len())
            .field("done", &self.done)
            .finish()
    }
}

/// Adds sources to a running [`MergeTagged`] or [`Merge`] from anywhere, and reads its
/// per-source counters. Cloning it adds a handle; the merge does not end while any is alive.
pub struct MergeHandle<K, St> {
    shared: Arc<Shared<K, St>>,
}

impl<K: Clone, St> MergeHandle<K, St> {
    /// Adds a source; the merge admits it on its next poll (this wakes the merge's task).
    pub fn push(&self, key: K, stream: St) {
        self.shared.incoming.lock().push((key, stream));
        self.shared.has_incoming.store(true, Ordering::Release);
        self.shared.wakes.parent.wake();
    }

    /// How many items each source has yielded, in the order the sources were added. Exact for
    /// sources that have paused or ended since their last item; an always-ready source's count
    /// may trail by up to 1 023 items.
    pub fn source_counts(&self) -> Vec<(K, u64)> {
        counts(&self.shared)
    }
}

impl<K, St> Clone for MergeHandle<K, St> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        MergeHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<K, St> Drop for MergeHandle<K, St> {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The merge may be waiting only for handles to go: let it look again.
            self.shared.wakes.parent.wake();
        }
    }
}

impl<K, St> fmt::Debug for MergeHandle<K, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeHandle").finish_non_exhaustive()
    }
}

/// Stream for [`merge`] and [`StreamOps::merge`](crate::StreamOps::merge): a
/// [`MergeTagged`] without the keys.
#[must_use = "streams do nothing unless polled"]
pub struct Merge<St> {
    inner: MergeTagged<(), St>,
}

impl<St: Stream> Merge<St> {
    /// Adds a source.
    pub fn push(&mut self, stream: St) {
        self.inner.push((), stream);
    }

    /// A handle that adds sources while the merge runs. See [`MergeTagged::handle`].
    pub fn handle(&self) -> MergeHandle<(), St> {
        self.inner.handle()
    }

    /// How many items each source has yielded, in the order added.
    pub fn source_counts(&self) -> Vec<u64> {
        self.inner
            .source_counts()
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    /// How many sources have not ended yet.
    pub fn live_sources(&self) -> usize {
        self.inner.live_sources()
    }
}

impl<St: Stream> Stream for Merge<St> {
    type Item = St::Item;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|next| next.map(|(_, item)| item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<St: Stream> FusedStream for Merge<St> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<St> fmt::Debug for Merge<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merge")
            .field("live", &self.inner.live)
            .field("done", &self.inner.done)
            .finish()
    }
}

pin_project! {
    /// One of two stream types, for merging two different streams with
    /// [`StreamOps::merge`](crate::StreamOps::merge).
    #[project = EitherProj]
    #[derive(Debug)]
    // pin-project-lite takes no attributes on variant fields, so their docs are the variants'.
    #[allow(missing_docs)]
    pub enum Either<A, B> {
        /// The first stream, in `stream`.
        Left { #[pin] stream: A },
        /// The second stream, in `stream`.
        Right { #[pin] stream: B },
    }
}

impl<A, B> Stream for Either<A, B>
where
    A: Stream,
    B: Stream<Item = A::Item>,
{
    type Item = A::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<A::Item>> {
        match self.project() {
            EitherProj::Left { stream } => stream.poll_next(cx),
            EitherProj::Right { stream } => stream.poll_next(cx),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Either::Left { stream } => stream.size_hint(),
            Either::Right { stream } => stream.size_hint(),
        }
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::*;
    use crate::ops::{Overflow, ring_channel};
    use crate::sync::thread;
    use std::future::poll_fn;

    /// Invariant: no lost wake-up. A source fed from another thread while the merge is being
    /// polled is polled again: the merge sees both items and ends.
    #[test]
    fn a_source_woken_from_another_thread_is_polled_again() {
        loom::model(|| {
            let (tx, rx) = ring_channel(2, Overflow::Block);
            let mut merged = merge([rx]);
            let feeder = thread::spawn(move || {
                tx.try_send(1).unwrap();
                tx.try_send(2).unwrap();
            });
            let mut got = Vec::new();
            loom::future::block_on(poll_fn(|cx| {
                loop {
                    match Pin::new(&mut merged).poll_next(cx) {
                        Poll::Ready(Some(x)) => got.push(x),
                        Poll::Ready(None) => return Poll::Ready(()),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }));
            feeder.join().unwrap();
            assert_eq!(got, [1, 2]);
        });
    }

    /// Invariant: a burst of wakes queues a source once. Two threads wake the same source
    /// concurrently; the wake queue then holds its index exactly once, so the merge polls it
    /// once for that readiness, not twice.
    #[test]
    fn concurrent_wakes_queue_a_source_once() {
        loom::model(|| {
            let wakes = Arc::new(WakeQueue {
                woken: Mutex::new(Vec::new()),
                any: AtomicBool::new(false),
                parent: WakerCell::new(),
            });
            let source = WakeArc::new(SourceWaker {
                index: 3,
                queued: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                items: AtomicU64::new(0),
                wakes: wakes.clone(),
            });
            let waker = Waker::from(source.clone());
            let other = waker.clone();
            let t = thread::spawn(move || other.wake());
            waker.wake_by_ref();
            t.join().unwrap();
            assert_eq!(*wakes.woken.lock(), [3]);
        });
    }
}
