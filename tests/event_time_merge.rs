//! `merge_event_time`: merged sources windowed give the windows of all their items sorted;
//! an item is late exactly when it is late in its own source; ended and idle sources.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use common::{Gappy, Script, Step};
use proptest::prelude::*;
use weir::merge::merge_event_time;
use weir::prelude::*;
use weir::window::{Count, Measured, Summarize, Summary, Window};

/// (timestamp ms, value, source)
type Reading = (u64, i32, usize);

fn ts(r: &Reading) -> u64 {
    r.0
}

/// Windows as compared: start, end, count, sum (exact: small integers).
type Row = (u64, u64, u64, f64);

fn rows(ws: &[Window<Measured<Summary>>]) -> Vec<Row> {
    ws.iter()
        .map(|w| (w.start, w.end, w.count, w.result.value.sum))
        .collect()
}

/// Tumbling windows of `items`, recomputed from scratch.
fn naive(items: &[Reading], size: u64) -> Vec<Row> {
    let mut windows: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
    for &(t, v, _) in items {
        let w = windows.entry(t / size).or_default();
        w.0 += 1;
        w.1 += f64::from(v);
    }
    windows
        .into_iter()
        .map(|(k, (n, sum))| (k * size, k * size + size, n, sum))
        .collect()
}

/// Splits `events` (in order up to `bound`) among `k` sources at random, each keeping the
/// events' relative order, and interleaves `Pending` gaps.
fn split(events: &[Reading], owners: &[usize], gaps: &[bool], k: usize) -> Vec<Gappy<Reading>> {
    let mut sources: Vec<VecDeque<Option<Reading>>> = vec![VecDeque::new(); k];
    for (i, e) in events.iter().enumerate() {
        let owner = owners.get(i).copied().unwrap_or(0) % k;
        if gaps.get(i).copied().unwrap_or(false) {
            sources[owner].push_back(None);
        }
        sources[owner].push_back(Some((e.0, e.1, owner)));
    }
    sources.into_iter().map(Gappy).collect()
}

/// Events in order up to `bound`: each moved back by at most `bound` from a rising clock.
fn events(bound: u64) -> impl Strategy<Value = Vec<Reading>> {
    prop::collection::vec((0u64..15, 0u64..=bound, -50i32..50), 0..120).prop_map(move |steps| {
        let mut t = bound;
        steps
            .into_iter()
            .map(|(dt, back, v)| {
                t += dt;
                (t - back, v, 0)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// k sources, each in order up to the lateness, merged by event time and windowed, give
    /// the windows of all events sorted first, with no late event, however the events are
    /// spread over the sources and whenever the sources return `Pending`.
    #[test]
    fn merged_sources_window_like_one_sorted_source(
        (bound, events) in (0u64..20).prop_flat_map(|b| (Just(b), events(b))),
        owners in prop::collection::vec(0usize..8, 0..120),
        gaps in prop::collection::vec(any::<bool>(), 0..120),
        k in 1usize..6,
        size in 1u64..30,
        slide_div in 1u64..4,
    ) {
        let slide = (size / slide_div).max(1);
        let sources = split(&events, &owners, &gaps, k);
        let mut windows = merge_event_time(sources, ts)
            .sliding_window(size, slide, ts, Summarize(|r: &Reading| f64::from(r.1)))
            .out_of_orderness(bound);
        let got: Vec<Window<Measured<Summary>>> = futures::executor::block_on((&mut windows).collect());
        prop_assert_eq!(windows.late(), 0);
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| e.0);
        let mut reference = weir::iter(sorted)
            .sliding_window(size, slide, ts, Summarize(|r: &Reading| f64::from(r.1)))
            .out_of_orderness(bound);
        let want: Vec<Window<Measured<Summary>>> = futures::executor::block_on((&mut reference).collect());
        prop_assert_eq!(rows(&got), rows(&want));
        if slide == size {
            prop_assert_eq!(rows(&got), naive(&events, size));
        }
    }

    /// Sources out of order by more than the lateness: an event is late in the merge exactly
    /// when it is late in its own source read alone.
    #[test]
    fn an_item_is_late_exactly_when_it_is_late_in_its_own_source(
        sources in prop::collection::vec(
            prop::collection::vec((0u64..200, -20i32..20), 0..40), 1..5),
        gaps in prop::collection::vec(any::<bool>(), 0..160),
        size in 1u64..25,
        bound in 0u64..10,
    ) {
        let mut own_late = 0;
        let mut on_time: Vec<Reading> = Vec::new();
        for (s, items) in sources.iter().enumerate() {
            let items: Vec<Reading> = items.iter().map(|&(t, v)| (t, v, s)).collect();
            let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let late_items = kept.clone();
            let mut alone = weir::iter(items.clone())
                .tumbling_window(size, ts, Count)
                .out_of_orderness(bound)
                .on_late(move |r| late_items.lock().unwrap().push(r));
            futures::executor::block_on((&mut alone).count());
            own_late += alone.late();
            // Take out one occurrence per late item: equal items may be on time and late.
            let mut late = kept.lock().unwrap().clone();
            for item in items {
                match late.iter().position(|r| *r == item) {
                    Some(i) => {
                        late.swap_remove(i);
                    }
                    None => on_time.push(item),
                }
            }
        }
        let mut gap = gaps.into_iter();
        let merged_sources: Vec<Gappy<Reading>> = sources
            .iter()
            .enumerate()
            .map(|(s, items)| {
                let mut script = VecDeque::new();
                for &(t, v) in items {
                    if gap.next().unwrap_or(false) {
                        script.push_back(None);
                    }
                    script.push_back(Some((t, v, s)));
                }
                Gappy(script)
            })
            .collect();
        let mut windows = merge_event_time(merged_sources, ts)
            .tumbling_window(size, ts, Summarize(|r: &Reading| f64::from(r.1)))
            .out_of_orderness(bound);
        let got: Vec<Window<Measured<Summary>>> = futures::executor::block_on((&mut windows).collect());
        prop_assert_eq!(windows.late(), own_late);
        prop_assert_eq!(rows(&got), naive(&on_time, size));
    }
}

#[test]
fn a_source_that_ends_stops_holding_the_others_back() {
    // b delivers 5 and then ends (with a Pending on the way); a's later items pass then.
    let (a, a_state) = Script::new([Step::Item(10u64), Step::Item(20), Step::Item(30)]);
    let (b, b_state) = Script::new([Step::Item(5u64), Step::Pending]);
    let merged = merge_event_time([a, b], |t: &u64| *t);
    let driven = common::drive(merged, &b_state);
    assert_eq!(driven.items, [5, 10, 20, 30]);
    // Neither source was polled after its end (the script would have panicked).
    assert_eq!((a_state.items(), b_state.items()), (3, 1));
}

#[test]
fn a_source_ahead_is_read_no_further_than_the_others_allow() {
    // a is far ahead; b delivers slowly. Between b's items, a is not polled past one head.
    let (a, a_state) = Script::ready([100u64, 200, 300, 400]);
    let (b, b_state) = Script::new([
        Step::Item(50u64),
        Step::Pending,
        Step::Item(150),
        Step::Pending,
        Step::Item(450),
    ]);
    let mut merged = merge_event_time([a, b], |t: &u64| *t);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut polls =
        |m: &mut weir::merge::EventTimeMerge<_, _>| std::pin::Pin::new(m).poll_next(&mut cx);
    assert_eq!(polls(&mut merged), std::task::Poll::Ready(Some(50)));
    assert_eq!(polls(&mut merged), std::task::Poll::Pending);
    assert_eq!(a_state.items(), 1, "a holds one head, no more");
    b_state.take_waker().expect("b holds the waker");
    assert_eq!(polls(&mut merged), std::task::Poll::Ready(Some(100)));
    assert_eq!(polls(&mut merged), std::task::Poll::Ready(Some(150)));
    assert_eq!(polls(&mut merged), std::task::Poll::Pending);
    assert_eq!(a_state.items(), 2);
    assert_eq!(polls(&mut merged), std::task::Poll::Ready(Some(200)));
    let rest: Vec<u64> = futures::executor::block_on(StreamOps::collect(merged));
    assert_eq!(rest, [300, 400, 450]);
}

#[test]
fn a_source_that_never_delivers_holds_everything_until_it_ends() {
    let (a, a_state) = Script::ready([1u64, 2, 3]);
    let (b, b_state) = Script::new([Step::Pending, Step::Pending]);
    let driven = common::drive(merge_event_time([a, b], |t: &u64| *t), &b_state);
    assert_eq!(driven.items, [1, 2, 3]);
    assert_eq!(driven.source_wakes, 2);
    assert_eq!(a_state.items(), 3);
}

/// Flink's idleness on a paused clock: a source quiet for longer than the idle timeout stops
/// holding the others back; when it comes back, its items behind the watermark are late.
#[tokio::test(start_paused = true)]
async fn an_idle_source_stops_holding_event_time_back_until_it_delivers() {
    let start = tokio::time::Instant::now();
    let (tx_a, rx_a) = tokio::sync::mpsc::channel::<u64>(16);
    let (tx_b, rx_b) = tokio::sync::mpsc::channel::<u64>(16);
    tokio::spawn(async move {
        // a: steady, one item every 100 ms of clock, stamped like the clock.
        for i in 0..30u64 {
            tokio::time::sleep_until(start + Duration::from_millis(i * 100)).await;
            tx_a.send(i * 100).await.unwrap();
        }
    });
    tokio::spawn(async move {
        // b: 50, then silent until 2.5 s, when it sends 600 (late: behind a) and 2 550.
        tx_b.send(50).await.unwrap();
        tokio::time::sleep_until(start + Duration::from_millis(2_500)).await;
        tx_b.send(600).await.unwrap();
        tx_b.send(2_550).await.unwrap();
    });
    let sources = [weir::from_receiver(rx_a), weir::from_receiver(rx_b)];
    let mut windows = merge_event_time(sources, |t: &u64| *t)
        .idle_timeout(Duration::from_millis(300))
        .tumbling_window(1_000, |t: &u64| *t, Count);
    let mut got = Vec::new();
    while let Some(w) = windows.next().await {
        got.push((
            start.elapsed().as_millis() as u64,
            w.start,
            w.result,
            w.late,
        ));
    }
    // b is quiet from 0 ms; at 300 ms it is idle and a's items flow. [0, 1000) closes when
    // a delivers 1 000 (at 1 000 ms). b's 600 arrives at 2.5 s, behind the watermark: late,
    // reported with the next window, which also holds b's 2 550.
    assert_eq!(
        got,
        [
            (1_000, 0, 11, 0),
            (2_000, 1_000, 10, 0),
            (2_900, 2_000, 11, 1)
        ]
    );
    assert_eq!(windows.late(), 1);
}

#[test]
fn equal_timestamps_come_in_source_order_and_size_hint_is_exact() {
    let a = weir::iter([(1u64, 'a'), (2, 'a')]);
    let b = weir::iter([(1u64, 'b'), (2, 'b')]);
    let merged = merge_event_time([a, b], |r: &(u64, char)| r.0);
    assert_eq!(merged.size_hint(), (4, Some(4)));
    let got: Vec<char> = futures::executor::block_on(merged.map(|r| r.1).collect());
    assert_eq!(got, ['a', 'b', 'a', 'b']);
}

/// An idle timer that fires more than a whole timeout late means the merge's task did not
/// run (a stall, a stopped process): a source's silence over that time says nothing, and its
/// quiet time starts again from when the task runs.
#[tokio::test(start_paused = true)]
async fn a_stall_longer_than_the_idle_timeout_is_not_taken_for_quiet() {
    stall_is_no_quiet(Duration::from_millis(350)).await;
}

/// An idle timer found 50 ms late, half the timeout (past the slack, an eighth of it), is a
/// stall too: a stop shorter than the timeout is no quiet either.
#[tokio::test(start_paused = true)]
async fn a_stall_shorter_than_the_idle_timeout_is_not_taken_for_quiet_either() {
    stall_is_no_quiet(Duration::from_millis(150)).await;
}

/// b holds a's 10 back, quiet; the task does not run for `stall` (the 100 ms idle timer is
/// polled late): b is not idle, and quiet counts again from when the task runs.
async fn stall_is_no_quiet(stall: Duration) {
    use futures::FutureExt;
    let (tx_a, rx_a) = tokio::sync::mpsc::channel::<u64>(16);
    let (tx_b, rx_b) = tokio::sync::mpsc::channel::<u64>(16);
    let sources = [weir::from_receiver(rx_a), weir::from_receiver(rx_b)];
    let mut merged =
        merge_event_time(sources, |t: &u64| *t).idle_timeout(Duration::from_millis(100));
    tx_a.send(10).await.unwrap();
    tx_b.send(5).await.unwrap();
    assert_eq!(merged.next().now_or_never(), Some(Some(5)));
    // b has nothing more: it holds a's 10 back, quiet from now.
    assert_eq!(merged.next().now_or_never(), None);
    tokio::time::advance(stall).await;
    assert_eq!(
        merged.next().now_or_never(),
        None,
        "a stall taken for quiet"
    );
    assert_eq!(merged.idle_sources(), 0);
    // Quiet for a whole timeout since the task ran again: b is idle, a's 10 goes on.
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(merged.next().now_or_never(), Some(Some(10)));
    assert_eq!(merged.idle_sources(), 1);
    // A timer fired on time, just past its deadline, still makes a source idle.
    tx_b.send(20).await.unwrap();
    tx_a.send(30).await.unwrap();
    assert_eq!(merged.next().now_or_never(), Some(Some(20)));
    assert_eq!(merged.next().now_or_never(), None);
    tokio::time::advance(Duration::from_millis(101)).await;
    assert_eq!(merged.next().now_or_never(), Some(Some(30)));
}
