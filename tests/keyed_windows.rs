//! Windows per key (`key_by(..).tumbling_window(..)` / `.sliding_window(..)`): against a
//! recomputation per key, against the unkeyed windows over a grouping aggregate (late items
//! included), order, memory, the budget, idleness and the end of time.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::Gappy;
use proptest::prelude::*;
use weir::prelude::*;
use weir::window::{Aggregate, Count, Sum, Window};

/// (key, timestamp ms, value)
type Item = (u8, u64, i64);

fn key(i: &Item) -> u8 {
    i.0
}

fn ts(i: &Item) -> u64 {
    i.1
}

fn value(i: &Item) -> f64 {
    i.2 as f64
}

/// A `(key, window)` as compared: start, end, key, count, sum.
type Row = (u64, u64, u8, u64, f64);

/// Every window `[offset + k * slide, offset + k * slide + size)` of every key that holds at
/// least one of its items, recomputed from scratch, sorted by window and key (a window that
/// starts before 0 is reported with start 0).
fn naive(items: &[Item], size: u64, slide: u64, offset: u64) -> Vec<Row> {
    let (size, slide) = (i128::from(size), i128::from(slide));
    let offset = i128::from(offset) % slide;
    let mut windows: BTreeMap<(i128, u8), (u64, f64)> = BTreeMap::new();
    for item in items {
        let t = i128::from(item.1);
        let mut start = offset + (t - offset).div_euclid(slide) * slide;
        while start > t - size {
            let w = windows.entry((start, item.0)).or_default();
            w.0 += 1;
            w.1 += value(item);
            start -= slide;
        }
    }
    windows
        .into_iter()
        .map(|((start, key), (n, sum))| (start.max(0) as u64, (start + size) as u64, key, n, sum))
        .collect()
}

fn rows(got: &[(u8, Window<weir::window::Measured<f64>>)]) -> Vec<Row> {
    let mut rows: Vec<Row> = got
        .iter()
        .map(|(k, w)| (w.start, w.end, *k, w.count, *w.value()))
        .collect();
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    rows
}

/// Windows come in order: every key of a window before any key of the next.
fn in_window_order(got: &[(u8, Window<weir::window::Measured<f64>>)]) -> bool {
    got.windows(2)
        .all(|p| (p[0].1.start, p[0].1.end) <= (p[1].1.start, p[1].1.end))
}

/// A script of items with random `Pending` gaps.
fn gappy(items: &[Item], gaps: &[bool]) -> Gappy<Item> {
    let mut script = VecDeque::new();
    for (i, item) in items.iter().enumerate() {
        if gaps.get(i).copied().unwrap_or(false) {
            script.push_back(None);
        }
        script.push_back(Some(*item));
    }
    Gappy(script)
}

/// In-order timestamps moved back by up to `bound` each (out of order, never late), of up to
/// `keys` keys.
fn items(bound: u64, keys: u8) -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec((0u64..20, 0u64..=bound, 0..keys, -50i64..50), 0..80).prop_map(
        move |steps| {
            let mut t = bound;
            steps
                .into_iter()
                .map(|(dt, back, k, v)| {
                    t += dt;
                    (k, t - back, v)
                })
                .collect()
        },
    )
}

/// A window's span, its count per key and its late items.
type WindowCounts = ((u64, u64), BTreeMap<u8, u64>, u64);

/// The unkeyed windows' aggregate that groups by key: what a keyed window must equal.
struct ByKey;

impl Aggregate<Item> for ByKey {
    type Acc = BTreeMap<u8, (u64, f64)>;
    type Output = BTreeMap<u8, (u64, f64)>;

    fn init(&self) -> Self::Acc {
        BTreeMap::new()
    }

    fn add(&self, acc: &mut Self::Acc, item: &Item) {
        let e = acc.entry(item.0).or_default();
        e.0 += 1;
        e.1 += value(item);
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let mut sum = a.clone();
        for (k, (n, s)) in b {
            let e = sum.entry(*k).or_default();
            e.0 += n;
            e.1 += s;
        }
        sum
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        acc.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Tumbling, sliding and sampling windows per key, with any offset, equal the
    /// recomputation per key, for items out of order within the bound, with random `Pending`
    /// gaps; windows come in order.
    #[test]
    fn keyed_windows_match_the_recomputation_per_key(
        (bound, items) in (0u64..30).prop_flat_map(|b| (Just(b), items(b, 6))),
        size in 1u64..40,
        slide in 1u64..40,
        offset in prop_oneof![Just(0u64), 0u64..100],
        gaps in prop::collection::vec(any::<bool>(), 0..80),
    ) {
        let windows = gappy(&items, &gaps)
            .key_by(key)
            .sliding_window(size, slide, ts, Sum(value))
            .offset(offset)
            .out_of_orderness(bound);
        let got: Vec<_> = futures::executor::block_on(windows.collect());
        prop_assert!(in_window_order(&got));
        prop_assert_eq!(rows(&got), naive(&items, size, slide, offset));
        prop_assert!(got.iter().all(|(_, w)| w.late == 0));
    }

    /// With items late by any amount, a keyed window equals the unkeyed window over an
    /// aggregate grouping by key, window for window, late counts included (a window's late
    /// items are reported by its first key), whatever the batching.
    #[test]
    fn keyed_windows_equal_unkeyed_windows_grouped_by_key(
        items in prop::collection::vec((0u8..5, 0u64..300, -20i64..20), 0..80),
        gaps in prop::collection::vec(any::<bool>(), 0..80),
        size in 1u64..30,
        slide in 1u64..30,
        bound in 0u64..15,
    ) {
        let mut keyed = gappy(&items, &gaps)
            .key_by(key)
            .sliding_window(size, slide, ts, Count)
            .out_of_orderness(bound);
        let got: Vec<_> = futures::executor::block_on((&mut keyed).collect());
        let mut unkeyed = weir::iter(items.clone())
            .sliding_window(size, slide, ts, ByKey)
            .out_of_orderness(bound);
        let want: Vec<_> = futures::executor::block_on((&mut unkeyed).collect());
        prop_assert_eq!(keyed.late(), unkeyed.late());
        prop_assert_eq!(keyed.unassigned(), unkeyed.unassigned());
        // Group the keyed output by window, in the order it came.
        let mut by_window: Vec<WindowCounts> = Vec::new();
        for (k, w) in &got {
            if by_window.last().is_none_or(|(span, _, _)| *span != (w.start, w.end)) {
                by_window.push(((w.start, w.end), BTreeMap::new(), w.late));
            } else {
                prop_assert_eq!(w.late, 0, "only a window's first key reports late items");
            }
            let previous = by_window.last_mut().unwrap().1.insert(*k, w.count);
            prop_assert!(previous.is_none(), "a key once per window");
        }
        let want: Vec<_> = want
            .iter()
            .map(|w| {
                let counts = w.result.iter().map(|(k, (n, _))| (*k, *n)).collect();
                ((w.start, w.end), counts, w.late)
            })
            .collect();
        prop_assert_eq!(by_window, want);
    }
}

#[tokio::test]
async fn a_tumbling_windows_keys_come_in_the_order_of_their_first_item() {
    let items = [
        (3, 10, 1),
        (1, 20, 1),
        (3, 30, 1),
        (2, 40, 1),
        (1, 150, 1),
        (3, 160, 1),
    ];
    let got: Vec<_> = weir::iter(items)
        .key_by(key)
        .tumbling_window(100, ts, Count)
        .map(|(k, w)| (w.start, k, w.count))
        .collect()
        .await;
    assert_eq!(
        got,
        [(0, 3, 2), (0, 1, 1), (0, 2, 1), (100, 1, 1), (100, 3, 1)]
    );
}

#[tokio::test]
async fn late_items_are_counted_and_handed_to_the_side_output() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let items = [(1, 5, 1), (2, 15, 1), (1, 3, 7), (2, 25, 1), (2, 12, 9)];
    let mut windows = weir::iter(items)
        .key_by(key)
        .tumbling_window(10, ts, Count)
        .on_late(move |i| tx.send(i).unwrap());
    let got: Vec<_> = (&mut windows)
        .map(|(k, w)| (k, w.start, w.count, w.late))
        .collect()
        .await;
    // (1, 3) came when the watermark was at 15: reported by the window [10, 20); (2, 12)
    // came at 25: reported by [20, 30).
    assert_eq!(got, [(1, 0, 1, 0), (2, 10, 1, 1), (2, 20, 1, 1)]);
    assert_eq!(windows.late(), 2);
    let mut late = Vec::new();
    while let Ok(i) = rx.try_recv() {
        late.push(i);
    }
    assert_eq!(late, [(1, 3, 7), (2, 12, 9)]);
}

/// Holds `n` keys' accumulators in one pane of a sliding window of many panes, then moves on:
/// the keys cost one accumulator each, not one per pane, and are released as their windows
/// close, while the stream is still running.
#[tokio::test]
async fn memory_follows_the_keys_present_and_is_released_as_windows_close() {
    let names: Vec<Arc<str>> = (0..1_000).map(|i| Arc::from(format!("k{i}"))).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<(Arc<str>, u64)>(4_096);
    let mut windows = Box::pin(
        weir::sources::from_receiver(rx)
            .key_by(|i: &(Arc<str>, u64)| i.0.clone())
            .sliding_window(1_000, 10, |i: &(Arc<str>, u64)| i.1, Count),
    );
    for name in &names {
        tx.try_send((name.clone(), 5)).unwrap();
    }
    // Nothing is complete yet: the items are held, one accumulator per key (taken over
    // several polls, 128 at a time; the yield renews tokio's budget for the channel).
    for _ in 0..10 {
        assert!(futures::poll!(windows.next()).is_pending());
        tokio::task::yield_now().await;
    }
    assert_eq!(windows.accumulators(), 1_000);
    assert!(
        names.iter().all(|n| Arc::strong_count(n) == 2),
        "the table's key and ours"
    );
    // An item far ahead closes every window holding the first pane: 100 windows of 1 000
    // keys each.
    let far: Arc<str> = Arc::from("far");
    tx.try_send((far.clone(), 10_000)).unwrap();
    let mut got = 0;
    while got < 100 * 1_000 {
        let (_, w) = windows.next().await.unwrap();
        assert_eq!(w.count, 1);
        got += 1;
    }
    // The next window is assembled only when the watermark passes it; the first pass over
    // the keys then drops them all.
    tx.try_send((far.clone(), 20_000)).unwrap();
    let (k, w) = windows.next().await.unwrap();
    assert_eq!((&*k, w.start), ("far", 9_010));
    assert!(names.iter().all(|n| Arc::strong_count(n) == 1), "released");
    assert!(windows.accumulators() <= 2);
}

/// A window of many keys is handed out over many polls, each bounded by the budget, each
/// returning an item or `Pending` after waking the task.
#[tokio::test]
async fn a_window_of_many_keys_yields_on_the_budget() {
    let items: Vec<(u32, u64)> = (0..10_000).map(|k| (k, 0)).collect();
    let mut windows = Box::pin(
        weir::iter(items)
            .key_by(|i: &(u32, u64)| i.0)
            .sliding_window(100, 1, |i: &(u32, u64)| i.1, Count),
    );
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let (mut polls, mut got, mut pending) = (0, 0, 0);
    loop {
        polls += 1;
        match windows.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(_)) => got += 1,
            Poll::Ready(None) => break,
            Poll::Pending => pending += 1,
        }
    }
    // 10 000 keys in the 100 windows holding time 0.
    assert_eq!(got, 1_000_000);
    assert!(pending > 0 && polls == got + pending + 1);
}

/// Counts by key in 1 s tumbling windows over `rx`, allowing `bound` ms out of order, event
/// time moving on with the clock after 2 s of quiet.
fn idle_counts(
    rx: tokio::sync::mpsc::Receiver<Item>,
    bound: u64,
) -> std::pin::Pin<Box<impl Stream<Item = (u8, Window<u64>)>>> {
    idle_counts_underway(rx, bound, weir::window::Underway::new())
}

/// [`idle_counts`] whose source raises `underway` while items are on their way.
fn idle_counts_underway(
    rx: tokio::sync::mpsc::Receiver<Item>,
    bound: u64,
    underway: weir::window::Underway,
) -> std::pin::Pin<Box<impl Stream<Item = (u8, Window<u64>)>>> {
    Box::pin(
        weir::sources::from_receiver(rx)
            .key_by(key)
            .tumbling_window(1_000, ts, Count)
            .out_of_orderness(bound)
            .idle_timeout(Duration::from_secs(2))
            .underway(underway),
    )
}

/// The next two windows, as `(key, start, items)`.
async fn next_two(
    windows: &mut (impl Stream<Item = (u8, Window<u64>)> + Unpin),
) -> [Option<(u8, u64, u64)>; 2] {
    let of = |kw: Option<(u8, Window<u64>)>| kw.map(|(k, w)| (k, w.start, w.count));
    [of(windows.next().await), of(windows.next().await)]
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_does_not_freeze_its_windows() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let mut windows = idle_counts(rx, 0);
    tx.try_send((1, 100, 0)).unwrap();
    tx.try_send((2, 200, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    tokio::time::advance(Duration::from_millis(1_999)).await;
    assert!(futures::poll!(windows.next()).is_pending());
    // After 2 s of quiet, event time is 200 + 2 000: the window [0, 1 000) closes.
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        next_two(&mut windows).await,
        [Some((1, 0, 1)), Some((2, 0, 1))]
    );
    drop(tx);
    assert!(windows.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_stall_longer_than_the_idle_timeout_is_not_taken_for_quiet() {
    stall_is_no_quiet(Duration::from_secs(5)).await;
}

/// A stop shorter than the idle timeout, seen as a timer that fires 1 s late (more than an
/// eighth of the 2 s period), is no quiet either.
#[tokio::test(start_paused = true)]
async fn a_stall_shorter_than_the_idle_timeout_is_not_taken_for_quiet_either() {
    stall_is_no_quiet(Duration::from_secs(3)).await;
}

/// An item waits for its window; the task does not run for `stall` (a process stopped, say).
/// The first poll after finds nothing yet (what waited is still on its way) and the idle
/// timer (2 s) late: that is no quiet, and an item that comes then still finds its window.
async fn stall_is_no_quiet(stall: Duration) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let mut windows = idle_counts(rx, 0);
    tx.try_send((1, 100, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    tokio::time::advance(stall).await;
    assert!(futures::poll!(windows.next()).is_pending());
    tx.try_send((2, 900, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    // Quiet counts from there: 2 s later the window closes, with both items.
    tokio::time::advance(Duration::from_millis(1_999)).await;
    assert!(futures::poll!(windows.next()).is_pending());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        next_two(&mut windows).await,
        [Some((1, 0, 1)), Some((2, 0, 1))]
    );
}

/// A runtime that always polls the idle timer 300 ms late (past the slack) loses one period
/// to it, not every one: the second late firing in a row is taken for quiet.
#[tokio::test(start_paused = true)]
async fn a_timer_always_a_little_late_still_closes_the_windows() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let mut windows = idle_counts(rx, 0);
    tx.try_send((1, 100, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    // Due at 2 s, polled at 2.3 s: taken for a stall; quiet counts from 2.3 s.
    tokio::time::advance(Duration::from_millis(2_300)).await;
    assert!(futures::poll!(windows.next()).is_pending());
    // Due at 4.3 s, polled at 4.6 s: quiet.
    tokio::time::advance(Duration::from_millis(2_300)).await;
    let std::task::Poll::Ready(Some((key, closed))) = futures::poll!(windows.next()) else {
        panic!("the window did not close at the second late firing");
    };
    assert_eq!((key, closed.start, closed.count), (1, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn time_with_items_on_their_way_is_not_quiet() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let underway = weir::window::Underway::new();
    let mut windows = idle_counts_underway(rx, 0, underway.clone());
    tx.try_send((1, 100, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    // The source has read the next item and waits 10 s before it may hand it on.
    let waiting = underway.raise();
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(futures::poll!(windows.next()).is_pending());
    }
    tx.try_send((2, 900, 0)).unwrap();
    drop(waiting);
    assert!(futures::poll!(windows.next()).is_pending());
    // Quiet begins when the timer next finds the flag moved (at most one period on): the
    // window closes 2 to 4 s later, with both items.
    tokio::time::advance(Duration::from_millis(1_999)).await;
    assert!(futures::poll!(windows.next()).is_pending());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        next_two(&mut windows).await,
        [Some((1, 0, 1)), Some((2, 0, 1))]
    );
}

/// A source that vouches for quiet: the window counts as quiet only time up to the last
/// instant the source heard nothing new. The source hears so at 1.5 s, then nothing until 6 s
/// (its server is frozen, say): the 2 s idle timeout does not close the window meanwhile,
/// and once the source hears again, 6 s of quiet close it.
#[tokio::test(start_paused = true)]
async fn quiet_counts_only_as_far_as_the_source_vouches_for_it() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let underway = weir::window::Underway::vouching();
    let mut windows = idle_counts_underway(rx, 0, underway.clone());
    tx.try_send((1, 100, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    tokio::time::advance(Duration::from_millis(1_500)).await;
    underway.heard(tokio::time::Instant::now());
    // Looked at every 250 ms (an eighth of the timeout) once the timer has fired, on time.
    for _ in 0..18 {
        tokio::time::advance(Duration::from_millis(250)).await;
        assert!(futures::poll!(windows.next()).is_pending());
    }
    underway.heard(tokio::time::Instant::now());
    tokio::time::advance(Duration::from_millis(250)).await;
    let Poll::Ready(got) = futures::poll!(windows.next()) else {
        panic!("[0, 1 000) not closed once 6 s of quiet were vouched for");
    };
    assert_eq!(got.map(|(k, w)| (k, w.start, w.count)), Some((1, 0, 1)));
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_goes_on_advancing_period_after_period() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(16);
    let mut windows = idle_counts(rx, 5_000);
    tx.try_send((1, 100, 0)).unwrap();
    assert!(futures::poll!(windows.next()).is_pending());
    // Event time 100 + quiet time, less 5 000 out of order: [0, 1 000) closes once 5 900 ms
    // of quiet have passed, at the third period (6 s), each period on time.
    for _ in 0..2 {
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(futures::poll!(windows.next()).is_pending());
    }
    tokio::time::advance(Duration::from_secs(2)).await;
    let Poll::Ready(got) = futures::poll!(windows.next()) else {
        panic!("[0, 1 000) not closed after 6 s of quiet");
    };
    assert_eq!(got.map(|(k, w)| (k, w.start, w.count)), Some((1, 0, 1)));
}

#[tokio::test]
async fn arithmetic_at_the_end_of_time() {
    let max = u64::MAX;
    let items = [(1, max - 5, 1), (2, max, 1), (1, max, 1), (2, 3, 1)];
    let mut windows = weir::iter(items)
        .key_by(key)
        .sliding_window(10, 4, ts, Count)
        .out_of_orderness(max);
    let got: Vec<_> = (&mut windows)
        .map(|(k, w)| (k, w.start, w.end, w.count))
        .collect()
        .await;
    // Windows start at multiples of 4; the last ones reach past u64::MAX and end there.
    let s = |k: u64| k * 4;
    let last = max / 4;
    assert_eq!(
        got,
        [
            (2, 0, 6, 1),
            (2, 0, 10, 1),
            (1, s(last - 2), s(last - 2) + 10, 1),
            (1, s(last - 1), max, 2),
            (2, s(last - 1), max, 1),
            (1, s(last), max, 1),
            (2, s(last), max, 1),
        ]
    );
    assert_eq!(windows.late(), 0);
    // The whole range of disorder allowed: the watermark never rose above 0.
    assert_eq!(windows.watermark(), Some(0));
}

#[tokio::test]
async fn the_watermark_is_the_largest_timestamp_less_the_disorder_allowed() {
    let max = u64::MAX;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let windows = weir::from_receiver(rx)
        .key_by(key)
        .tumbling_window(10, ts, Count)
        .out_of_orderness(5);
    let mut windows = std::pin::pin!(windows);
    assert_eq!(windows.watermark(), None);
    for (item, watermark) in [
        ((1, 3, 1), 0),
        ((2, 20, 1), 15),
        ((1, 12, 1), 15),
        ((2, max, 1), max - 5),
    ] {
        tx.try_send(item).unwrap();
        let _ = futures::poll!(windows.next());
        assert_eq!(windows.watermark(), Some(watermark), "{item:?}");
    }
}

#[test]
fn zero_sizes_panic_naming_the_argument() {
    let size = std::panic::catch_unwind(|| {
        weir::iter([(0u8, 0u64, 0i64)])
            .key_by(key)
            .tumbling_window(0, ts, Count)
    });
    assert!(panic_message(size.err().unwrap()).contains("`size`"));
    let slide = std::panic::catch_unwind(|| {
        weir::iter([(0u8, 0u64, 0i64)])
            .key_by(key)
            .sliding_window(10, 0, ts, Count)
    });
    assert!(panic_message(slide.err().unwrap()).contains("`slide`"));
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&str>()
            .map_or(String::new(), |m| m.to_string()),
    }
}
