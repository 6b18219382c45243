//! [`StreamOps`]: the extension trait that chains weir's operators and consumes streams.
//!
//! One trait, so one file: each method is a short constructor call whose doc points to the
//! operator's own type, where the state machine and the examples are.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use futures_core::Stream;

use crate::adapters::{
    Adaptive, AdaptiveRates, Bernoulli, Chunks, ChunksTimeout, Enumerate, EveryNth, Filter,
    FilterMap, Fuse, Inspect, Map, RingBuffer, Sample, SampleLatest, Sampler, Take,
};
use crate::channel::{Delivery, Subscriber};
use crate::concurrent::{
    ForEachConcurrent, MapConcurrent, MapConcurrentUnordered, SpawnConcurrent, Then,
};
use crate::consume::{CollectFuture, CountFuture, FoldFuture, ForEachFuture, NextFuture};
use crate::merge::MergeTwo;
use crate::overflow::Overflow;
use crate::window::{Aggregate, CountWindow, EventTimeWindow, KeyBy, ProcessingTimeWindow};

/// Operators and consumers for every [`Stream`].
///
/// `use weir::prelude::*;` brings this trait, [`Stream`] and the sources into scope: enough to
/// build a pipeline and drive it to the end.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use weir::prelude::*;
///
/// let batches: Vec<Vec<u64>> = weir::iter(1..=10u64)
///     .map(|x| x * 3)
///     .filter(|x| x % 2 == 0)
///     .chunks_timeout(2, Duration::from_secs(1))
///     .collect()
///     .await;
/// assert_eq!(batches, [vec![6, 12], vec![18, 24], vec![30]]);
/// # }
/// ```
///
/// # Next to the `StreamExt` traits of futures and tokio-stream
///
/// Those traits define methods with the same names (`map`, `filter`, `next`, `collect`...),
/// and weir's streams are ordinary [`Stream`]s, so they work with either. With two of these
/// traits in scope, a method call is ambiguous and the compiler asks you to pick one. Import
/// only one trait by name, and reach the other through a fully qualified call:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use futures::StreamExt as _; // in scope for `.boxed()`, `.buffered()`...
/// use weir::StreamOps;
///
/// let s = StreamOps::map(weir::iter(1..=3), |x| x + 1);
/// let mut s = futures::StreamExt::boxed(s);
/// assert_eq!(StreamOps::next(&mut s).await, Some(2));
/// assert_eq!(futures::StreamExt::next(&mut s).await, Some(3));
/// # }
/// ```
pub trait StreamOps: Stream {
    /// Applies `f` to every item. See [`Map`].
    fn map<T, F>(self, f: F) -> Map<Self, F>
    where
        F: FnMut(Self::Item) -> T,
        Self: Sized,
    {
        Map::new(self, f)
    }

    /// Keeps the items for which `predicate` returns `true`. See [`Filter`].
    fn filter<F>(self, predicate: F) -> Filter<Self, F>
    where
        F: FnMut(&Self::Item) -> bool,
        Self: Sized,
    {
        Filter::new(self, predicate)
    }

    /// Maps each item to an `Option` and keeps the `Some` values. See [`FilterMap`].
    fn filter_map<T, F>(self, f: F) -> FilterMap<Self, F>
    where
        F: FnMut(Self::Item) -> Option<T>,
        Self: Sized,
    {
        FilterMap::new(self, f)
    }

    /// Batches items into `Vec`s of at most `max`, yielding a partial batch once `timeout` has
    /// passed since its first item arrived. Never yields an empty batch. See [`ChunksTimeout`].
    ///
    /// # Panics
    ///
    /// If `max` is 0.
    #[track_caller]
    fn chunks_timeout(self, max: usize, timeout: Duration) -> ChunksTimeout<Self>
    where
        Self: Sized,
    {
        ChunksTimeout::new(self, max, timeout)
    }

    /// Buffers up to `capacity` items; when full, evicts the oldest buffered item for the
    /// incoming one and counts it as dropped. See [`RingBuffer`].
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    #[track_caller]
    fn drop_oldest(self, capacity: usize) -> RingBuffer<Self>
    where
        Self: Sized,
    {
        RingBuffer::new(self, capacity, Overflow::DropOldest)
    }

    /// Buffers up to `capacity` items; when full, discards the incoming item and counts it as
    /// dropped. See [`RingBuffer`].
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    #[track_caller]
    fn drop_newest(self, capacity: usize) -> RingBuffer<Self>
    where
        Self: Sized,
    {
        RingBuffer::new(self, capacity, Overflow::DropNewest)
    }

    /// Buffers up to `capacity` items with the given [`Overflow`] policy. See [`RingBuffer`].
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    #[track_caller]
    fn buffer(self, capacity: usize, overflow: Overflow) -> RingBuffer<Self>
    where
        Self: Sized,
    {
        RingBuffer::new(self, capacity, overflow)
    }

    /// Keeps each item with probability `rate` (Bernoulli sampling, seeded from the operating
    /// system). See [`Sample`] and [`Bernoulli`].
    ///
    /// # Panics
    ///
    /// If `rate` is outside [0, 1] or NaN.
    #[track_caller]
    fn sample(self, rate: f64) -> Sample<Self, Bernoulli>
    where
        Self: Sized,
    {
        Sample::new(self, Bernoulli::new(rate))
    }

    /// Like [`sample`](Self::sample), seeded with `seed`: the same seed keeps the same items.
    ///
    /// # Panics
    ///
    /// If `rate` is outside [0, 1] or NaN.
    #[track_caller]
    fn sample_seeded(self, rate: f64, seed: u64) -> Sample<Self, Bernoulli>
    where
        Self: Sized,
    {
        Sample::new(self, Bernoulli::seeded(rate, seed))
    }

    /// Keeps the first item and every `n`-th after it. See [`Sample`] and [`EveryNth`].
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    fn sample_every(self, n: usize) -> Sample<Self, EveryNth>
    where
        Self: Sized,
    {
        Sample::new(self, EveryNth::new(n))
    }

    /// Keeps items at a rate that follows `gauge`, a load in [0, 1] read once per item: all of
    /// them below 0.5, half from 0.5, 10% from 0.8 (the [`AdaptiveRates`] defaults; pass other
    /// rates with [`sample_with`](Self::sample_with) and [`Adaptive::new`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let (tx, rx) = ring_channel::<u32>(1024, Overflow::DropOldest);
    /// # drop(tx);
    /// let sampled = weir::iter(0..10).sample_adaptive(move || rx.fill_ratio());
    /// assert_eq!(sampled.count().await, 10); // the channel is empty: keep everything
    /// # }
    /// ```
    fn sample_adaptive<G>(self, gauge: G) -> Sample<Self, Adaptive<G>>
    where
        G: FnMut() -> f64,
        Self: Sized,
    {
        Sample::new(self, Adaptive::new(gauge, AdaptiveRates::default()))
    }

    /// Samples with a policy of your own (or a configured one such as [`Adaptive`]): `policy`
    /// decides for each item whether it is kept; dropped items are counted. See [`Sample`].
    fn sample_with<K>(self, policy: K) -> Sample<Self, K>
    where
        K: Sampler<Self::Item>,
        Self: Sized,
    {
        Sample::new(self, policy)
    }

    /// Yields the most recent item of each `interval` (tokio clock) that saw any; the items it
    /// replaced are dropped and counted. See [`SampleLatest`].
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    #[track_caller]
    fn sample_latest(self, interval: Duration) -> SampleLatest<Self>
    where
        Self: Sized,
    {
        SampleLatest::new(self, interval)
    }

    /// Merges this stream with `other`, fairly: while both are ready they take turns. Both are
    /// held inline, so the merge allocates nothing and neither needs to be `Unpin`. See
    /// [`MergeTwo`]; [`merge`](crate::merge::merge()) merges any number of streams.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// let both = weir::iter([1, 3, 5]).merge(weir::iter(vec![2, 4]));
    /// assert_eq!(both.collect::<Vec<_>>().await, [1, 2, 3, 4, 5]);
    /// # }
    /// ```
    fn merge<S2>(self, other: S2) -> MergeTwo<Self, S2>
    where
        S2: Stream<Item = Self::Item>,
        Self: Sized,
    {
        MergeTwo::new(self, other)
    }

    /// Spawns a tokio task that drives this stream into a [`broadcast`](crate::channel::broadcast())
    /// of `capacity` slots, and returns the task and one lagging subscriber (make more with
    /// [`Subscriber::resubscribe`]; they see items from when they join). The task ends when
    /// the stream ends or every subscriber is gone.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or when called outside a tokio runtime.
    #[track_caller]
    fn broadcast(self, capacity: usize) -> (JoinHandle<()>, Subscriber<Self::Item>)
    where
        Self: Sized + Send + 'static,
        Self::Item: Clone + Send + 'static,
    {
        let (task, mut subscribers) = self.fan_out_with([Delivery::Lagging], capacity);
        (task, subscribers.remove(0))
    }

    /// Like [`broadcast`](Self::broadcast), with `n` lagging subscribers that all see every
    /// item the stream yields (unless they lag). For a fixed number of subscribers to name
    /// one by one, see [`fan_out_to`](Self::fan_out_to).
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or when called outside a tokio runtime.
    #[track_caller]
    fn fan_out(self, n: usize, capacity: usize) -> (JoinHandle<()>, Vec<Subscriber<Self::Item>>)
    where
        Self: Sized + Send + 'static,
        Self::Item: Clone + Send + 'static,
    {
        self.fan_out_with(std::iter::repeat_n(Delivery::Lagging, n), capacity)
    }

    /// Like [`fan_out_with`](Self::fan_out_with), with the deliveries in an array: the
    /// subscribers come back in an array of the same size, in the same order, so that they can
    /// be named where they are made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::channel::Delivery::{Critical, Lagging};
    ///
    /// let (task, [storage, alerts, dashboard]) =
    ///     weir::iter(0..100).fan_out_to([Critical, Critical, Lagging], 16);
    /// let storage = tokio::spawn(storage.count());
    /// let alerts = tokio::spawn(alerts.filter(|x| x % 10 == 0).count());
    /// let dashboard = tokio::spawn(dashboard.count());
    /// task.await.unwrap();
    /// assert_eq!(storage.await.unwrap(), 100);
    /// assert_eq!(alerts.await.unwrap(), 10);
    /// assert!(dashboard.await.unwrap() <= 100); // lagging: what it kept up with
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or when called outside a tokio runtime.
    #[track_caller]
    fn fan_out_to<const N: usize>(
        self,
        deliveries: [Delivery; N],
        capacity: usize,
    ) -> (JoinHandle<()>, [Subscriber<Self::Item>; N])
    where
        Self: Sized + Send + 'static,
        Self::Item: Clone + Send + 'static,
    {
        let (task, subscribers) = self.fan_out_with(deliveries, capacity);
        let subscribers = subscribers
            .try_into()
            .unwrap_or_else(|_| unreachable!("one subscriber per delivery"));
        (task, subscribers)
    }

    /// Like [`fan_out`](Self::fan_out), with one subscriber per [`Delivery`]: critical subscribers
    /// (storage) hold the stream back, lagging ones (dashboards) skip ahead.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    /// use weir::channel::Delivery;
    ///
    /// let deliveries = [Delivery::Critical, Delivery::Lagging];
    /// let (task, subscribers) = weir::iter(0..1000).fan_out_with(deliveries, 16);
    /// // Every subscriber must be consumed: a critical one that nobody reads holds the stream.
    /// let counting: Vec<_> = subscribers.into_iter().map(|s| tokio::spawn(s.count())).collect();
    /// let mut totals = Vec::new();
    /// for handle in counting {
    ///     totals.push(handle.await.unwrap());
    /// }
    /// task.await.unwrap();
    /// assert_eq!(totals[0], 1000); // critical: everything
    /// assert!(totals[1] <= 1000); // lagging: what it kept up with
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or when called outside a tokio runtime.
    #[track_caller]
    fn fan_out_with<P>(
        self,
        deliveries: P,
        capacity: usize,
    ) -> (JoinHandle<()>, Vec<Subscriber<Self::Item>>)
    where
        P: IntoIterator<Item = Delivery>,
        Self: Sized + Send + 'static,
        Self::Item: Clone + Send + 'static,
    {
        let (publisher, first) = crate::channel::broadcast(capacity);
        let subscribers: Vec<_> = deliveries
            .into_iter()
            .map(|delivery| publisher.subscribe_with(delivery))
            .collect();
        drop(first);
        let task = tokio::spawn(crate::channel::drive(self, publisher));
        (task, subscribers)
    }

    /// Tumbling event-time windows of `size_ms` over the timestamps `timestamp` extracts
    /// (milliseconds), aggregated with `agg`. Configure lateness, offset, late items and empty
    /// windows on the returned [`EventTimeWindow`].
    ///
    /// # Panics
    ///
    /// If `size_ms` is 0.
    #[track_caller]
    fn tumbling_window<A, Ts>(
        self,
        size_ms: u64,
        timestamp: Ts,
        agg: A,
    ) -> EventTimeWindow<Self, A, Ts>
    where
        A: Aggregate<Self::Item>,
        Ts: FnMut(&Self::Item) -> u64,
        Self: Sized,
    {
        EventTimeWindow::new(self, size_ms, size_ms, timestamp, agg)
    }

    /// Sliding (hopping) event-time windows of `size_ms`, one starting every `slide_ms` (a
    /// slide larger than the size gives sampling windows with gaps). See [`EventTimeWindow`].
    ///
    /// # Panics
    ///
    /// If `size_ms` or `slide_ms` is 0, or if a window would span more than
    /// [`MAX_PANES_PER_WINDOW`](crate::window::MAX_PANES_PER_WINDOW) panes of
    /// `gcd(size_ms, slide_ms)`: say a 100 000 s window sliding by 1 ms.
    #[track_caller]
    fn sliding_window<A, Ts>(
        self,
        size_ms: u64,
        slide_ms: u64,
        timestamp: Ts,
        agg: A,
    ) -> EventTimeWindow<Self, A, Ts>
    where
        A: Aggregate<Self::Item>,
        Ts: FnMut(&Self::Item) -> u64,
        Self: Sized,
    {
        EventTimeWindow::new(self, size_ms, slide_ms, timestamp, agg)
    }

    /// Groups items by `key` for windows per key: `.key_by(f).tumbling_window(..)` or
    /// `.sliding_window(..)` yield `(key, window)` for each window and each key that had
    /// items in it. See [`KeyedWindow`](crate::window::KeyedWindow).
    fn key_by<K, Kf>(self, key: Kf) -> KeyBy<Self, Kf>
    where
        Kf: FnMut(&Self::Item) -> K,
        Self: Sized,
    {
        KeyBy::new(self, key)
    }

    /// Tumbling processing-time windows of `size` on the tokio clock: one window every
    /// `size`, also when empty. See [`ProcessingTimeWindow`].
    ///
    /// # Panics
    ///
    /// If `size` is zero or not a whole number of milliseconds.
    #[track_caller]
    fn processing_window<A>(self, size: Duration, agg: A) -> ProcessingTimeWindow<Self, A>
    where
        A: Aggregate<Self::Item>,
        Self: Sized,
    {
        ProcessingTimeWindow::new(self, size, size, agg)
    }

    /// Sliding processing-time windows of `size`, one ending every `slide` on the tokio
    /// clock, each emitted at its end also when empty. See [`ProcessingTimeWindow`].
    ///
    /// # Panics
    ///
    /// If `size` or `slide` is zero or not a whole number of milliseconds, or if a window would
    /// span more than [`MAX_PANES_PER_WINDOW`](crate::window::MAX_PANES_PER_WINDOW) panes
    /// of `gcd(size, slide)`.
    #[track_caller]
    fn processing_sliding_window<A>(
        self,
        size: Duration,
        slide: Duration,
        agg: A,
    ) -> ProcessingTimeWindow<Self, A>
    where
        A: Aggregate<Self::Item>,
        Self: Sized,
    {
        ProcessingTimeWindow::new(self, size, slide, agg)
    }

    /// The aggregate of the last `n` items, emitted after every `every`-th item. See
    /// [`CountWindow`].
    ///
    /// # Panics
    ///
    /// If `n` or `every` is 0.
    #[track_caller]
    fn count_window<A>(self, n: usize, every: usize, agg: A) -> CountWindow<Self, A>
    where
        A: Aggregate<Self::Item>,
        Self: Sized,
    {
        CountWindow::new(self, n, every, agg)
    }

    /// The first `n` items, then the end; the upstream is dropped as soon as the `n`-th item
    /// is out. See [`Take`].
    fn take(self, n: usize) -> Take<Self>
    where
        Self: Sized,
    {
        Take::new(self, n)
    }

    /// Shows every item to `f` by reference and passes it on unchanged. See [`Inspect`].
    fn inspect<F>(self, f: F) -> Inspect<Self, F>
    where
        F: FnMut(&Self::Item),
        Self: Sized,
    {
        Inspect::new(self, f)
    }

    /// Pairs every item with its position, from 0. See [`Enumerate`].
    fn enumerate(self) -> Enumerate<Self>
    where
        Self: Sized,
    {
        Enumerate::new(self)
    }

    /// Batches of `n` items, the last one shorter if the stream ends mid-batch; by count
    /// alone, never by time. See [`Chunks`].
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    fn chunks(self, n: usize) -> Chunks<Self>
    where
        Self: Sized,
    {
        Chunks::new(self, n)
    }

    /// An async map: runs the future `f` makes of each item, one at a time, and yields its
    /// output, in order. See [`Then`].
    fn then<Fut, F>(self, f: F) -> Then<Self, Fut, F>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
        Self: Sized,
    {
        Then::new(self, f)
    }

    /// An async map with up to `n` futures running at once; outputs in the order of the
    /// items, and never more than `n` futures and waiting outputs together. See
    /// [`MapConcurrent`]; futures-util calls it `buffered`.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    fn map_concurrent<Fut, F>(self, n: usize, f: F) -> MapConcurrent<Self, Fut, F>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
        Self: Sized,
    {
        assert_limit("map_concurrent", n);
        MapConcurrent::new(self, n, f)
    }

    /// An async map with up to `n` futures running at once; outputs as the futures complete.
    /// See [`MapConcurrentUnordered`]; futures-util calls it `buffer_unordered`.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    fn map_concurrent_unordered<Fut, F>(
        self,
        n: usize,
        f: F,
    ) -> MapConcurrentUnordered<Self, Fut, F>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
        Self: Sized,
    {
        assert_limit("map_concurrent_unordered", n);
        MapConcurrentUnordered::new(self, n, f)
    }

    /// Like [`map_concurrent`](Self::map_concurrent), with each future spawned as a tokio
    /// task, so that CPU-bound work runs on every worker thread; outputs in the order of the
    /// items. See [`SpawnConcurrent`].
    ///
    /// # Panics
    ///
    /// If `n` is 0; when polled outside a tokio runtime.
    #[track_caller]
    fn spawn_concurrent<Fut, F>(self, n: usize, f: F) -> SpawnConcurrent<Self, F, Fut::Output>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Self: Sized,
    {
        assert_limit("spawn_concurrent", n);
        SpawnConcurrent::new(self, n, f)
    }

    /// Runs the future `f` makes of each item, up to `n` at once, until the stream ends and
    /// every future has completed. See [`ForEachConcurrent`].
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    fn for_each_concurrent<Fut, F>(self, n: usize, f: F) -> ForEachConcurrent<Self, Fut, F>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future<Output = ()>,
        Self: Sized,
    {
        assert_limit("for_each_concurrent", n);
        ForEachConcurrent::new(self, n, f)
    }

    /// This stream behind a pointer, its type erased: streams built with different closures
    /// (each closure is its own type) become one type, so they can be merged, kept in one
    /// `Vec`, or returned from the arms of a `match`. One allocation, and a dynamic call per
    /// item.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use weir::prelude::*;
    ///
    /// // `merge([a.map(f), b.map(g)])` does not compile: the two closures differ in type.
    /// let a = weir::iter(0..2).map(|x| x * 10).boxed();
    /// let b = weir::iter(0..2).map(|x| x + 100).boxed();
    /// let all: Vec<i32> = weir::merge::merge([a, b]).collect().await;
    /// assert_eq!(all, [0, 100, 10, 101]);
    /// # }
    /// ```
    fn boxed<'a>(self) -> std::pin::Pin<Box<dyn Stream<Item = Self::Item> + Send + 'a>>
    where
        Self: Sized + Send + 'a,
    {
        Box::pin(self)
    }

    /// Like [`boxed`](Self::boxed), for a stream that is not `Send`.
    fn boxed_local<'a>(self) -> std::pin::Pin<Box<dyn Stream<Item = Self::Item> + 'a>>
    where
        Self: Sized + 'a,
    {
        Box::pin(self)
    }

    /// Returns `None` forever once the stream has returned `None`. See [`Fuse`].
    fn fuse(self) -> Fuse<Self>
    where
        Self: Sized,
    {
        Fuse::new(self)
    }

    /// The next item, or `None` when the stream has ended.
    ///
    /// A stream that is not [`Unpin`] must be pinned first, e.g. with
    /// [`pin!`](core::pin::pin) (in the prelude).
    fn next(&mut self) -> NextFuture<'_, Self>
    where
        Self: Unpin,
    {
        NextFuture::new(self)
    }

    /// Gathers every item into a collection (a `Vec`, a `HashMap`, a `String`...).
    fn collect<C>(self) -> CollectFuture<Self, C>
    where
        C: Default + Extend<Self::Item>,
        Self: Sized,
    {
        CollectFuture::new(self)
    }

    /// Folds every item into an accumulator, starting from `init`.
    fn fold<B, F>(self, init: B, f: F) -> FoldFuture<Self, F, B>
    where
        F: FnMut(B, Self::Item) -> B,
        Self: Sized,
    {
        FoldFuture::new(self, init, f)
    }

    /// Calls `f` on every item. `f` is synchronous; to await per item, see
    /// [`for_each_concurrent`](Self::for_each_concurrent) (with `n` = 1 for one at a time).
    fn for_each<F>(self, f: F) -> ForEachFuture<Self, F>
    where
        F: FnMut(Self::Item),
        Self: Sized,
    {
        ForEachFuture::new(self, f)
    }

    /// Counts the items until the stream ends.
    fn count(self) -> CountFuture<Self>
    where
        Self: Sized,
    {
        CountFuture::new(self)
    }
}

impl<St: Stream + ?Sized> StreamOps for St {}

/// The limit of a concurrent stage, checked where the stage is built.
#[track_caller]
fn assert_limit(operator: &str, n: usize) {
    assert!(n > 0, "{operator}: `n` must be at least 1, got 0");
}
