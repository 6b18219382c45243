//! Windows against a naive recomputation, lateness, gaps, processing time, count windows.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use common::Gappy;
use proptest::prelude::*;
use weir::prelude::*;
use weir::window::{Count, Max, Mean, Measured, Summarize, Summary, Window};

type Reading = (u64, f64);

fn ts(r: &Reading) -> u64 {
    r.0
}

fn value(r: &Reading) -> f64 {
    r.1
}

/// A window as compared: start, end, items, NaN skipped, sum, min, max.
type Row = (u64, u64, u64, u64, f64, Option<f64>, Option<f64>);

/// Every window `[offset + k * slide, offset + k * slide + size)`, for any integer `k`, that
/// holds at least one item, recomputed from scratch over all items, in order of start. A
/// window that starts before 0 is reported with start 0.
fn naive(items: &[Reading], size: u64, slide: u64, offset: u64) -> Vec<Row> {
    let (size, slide) = (i128::from(size), i128::from(slide));
    let offset = i128::from(offset) % slide;
    let mut windows: BTreeMap<i128, Vec<f64>> = BTreeMap::new();
    for &(t, v) in items {
        let t = i128::from(t);
        // Enumerate every start offset + k * slide in (t - size, t].
        let mut start = offset + (t - offset).div_euclid(slide) * slide;
        while start > t - size {
            windows.entry(start).or_default().push(v);
            start -= slide;
        }
    }
    windows
        .into_iter()
        .map(|(start, vs)| {
            let good: Vec<f64> = vs.iter().copied().filter(|v| !v.is_nan()).collect();
            let skipped = (vs.len() - good.len()) as u64;
            let max = good.iter().copied().reduce(f64::max);
            let min = good.iter().copied().reduce(f64::min);
            (
                start.max(0) as u64,
                (start + size) as u64,
                vs.len() as u64,
                skipped,
                good.iter().sum(),
                min,
                max,
            )
        })
        .collect()
}

fn flatten(ws: &[Window<Measured<Summary>>]) -> Vec<Row> {
    ws.iter()
        .map(|w| {
            let r = &w.result.value;
            (
                w.start,
                w.end,
                w.count,
                w.result.skipped,
                r.sum,
                r.min,
                r.max,
            )
        })
        .collect()
}

/// In-order timestamps moved back by up to `bound` each: out of order, but never late.
fn readings(bound: u64) -> impl Strategy<Value = Vec<Reading>> {
    prop::collection::vec(
        (
            0u64..20,
            0u64..=bound,
            -50i32..50,
            prop::bool::weighted(0.05),
        ),
        0..80,
    )
    .prop_map(move |steps| {
        let mut t = bound;
        steps
            .into_iter()
            .map(|(dt, back, v, nan)| {
                t += dt;
                (t - back, if nan { f64::NAN } else { f64::from(v) })
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Tumbling and sliding (and sampling) windows, with any offset, equal the naive
    /// recomputation, for items out of order within the bound, with random `Pending` gaps.
    #[test]
    fn event_time_windows_match_the_naive_model(
        (bound, items) in (0u64..30).prop_flat_map(|b| (Just(b), readings(b))),
        size in 1u64..40,
        slide in 1u64..40,
        offset in prop_oneof![Just(0u64), 0u64..100],
        gaps in prop::collection::vec(any::<bool>(), 0..80),
    ) {
        let mut script: VecDeque<Option<Reading>> = VecDeque::new();
        for (i, r) in items.iter().enumerate() {
            if gaps.get(i).copied().unwrap_or(false) {
                script.push_back(None);
            }
            script.push_back(Some(*r));
        }
        let windows = Gappy(script)
            .sliding_window(size, slide, ts, Summarize(value))
            .offset(offset)
            .out_of_orderness(bound);
        let got: Vec<Window<Measured<Summary>>> = futures::executor::block_on(windows.collect());
        prop_assert_eq!(flatten(&got), naive(&items, size, slide, offset));
        prop_assert!(got.iter().all(|w| w.late == 0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// `late_before` names the items a window drops: with items in any order, late are
    /// exactly those stamped before `late_before` of the largest timestamp seen before them.
    #[test]
    fn late_before_names_exactly_the_late_items(
        stamps in prop::collection::vec(0u64..200, 0..80),
        size in 1u64..40,
        slide in 1u64..40,
        bound in 0u64..30,
        gaps in prop::collection::vec(any::<bool>(), 0..80),
    ) {
        let mut script: VecDeque<Option<Reading>> = VecDeque::new();
        let (mut latest, mut want) = (None::<u64>, Vec::new());
        for (i, &t) in stamps.iter().enumerate() {
            if gaps.get(i).copied().unwrap_or(false) {
                script.push_back(None);
            }
            script.push_back(Some((t, i as f64)));
            match latest {
                Some(m) if t < weir::window::late_before(m, size, slide, bound) => want.push(i),
                _ => latest = latest.max(Some(t)),
            }
        }
        let side = Arc::new(Mutex::new(Vec::new()));
        let seen = side.clone();
        let windows = Gappy(script)
            .sliding_window(size, slide, ts, Summarize(value))
            .out_of_orderness(bound)
            .on_late(move |r: Reading| seen.lock().unwrap().push(r.1 as usize));
        let _: Vec<_> = futures::executor::block_on(windows.collect());
        prop_assert_eq!(&*side.lock().unwrap(), &want);
    }
}

#[tokio::test]
async fn late_items_are_counted_and_handed_to_the_side_output() {
    let side = Arc::new(Mutex::new(Vec::new()));
    let seen = side.clone();
    let items = [(5, 1.0), (15, 2.0), (3, 9.0), (16, 3.0), (1, 8.0)];
    let mut windows = weir::iter(items)
        .tumbling_window(10, ts, Summarize(value))
        .on_late(move |r| seen.lock().unwrap().push(r));
    let got: Vec<_> = (&mut windows).collect().await;
    assert_eq!(windows.late(), 2);
    assert_eq!(*side.lock().unwrap(), [(3, 9.0), (1, 8.0)]);
    let shape: Vec<_> = got.iter().map(|w| (w.start, w.count, w.late)).collect();
    assert_eq!(shape, [(0, 1, 0), (10, 2, 2)]);
}

#[tokio::test]
async fn out_of_orderness_keeps_windows_open() {
    let items = [(5, 1.0), (15, 2.0), (3, 9.0)];
    let mut windows = weir::iter(items)
        .tumbling_window(10, ts, Count)
        .out_of_orderness(10);
    let got: Vec<_> = (&mut windows).map(|w| (w.start, w.result)).collect().await;
    assert_eq!(got, [(0, 2), (10, 1)]);
    assert_eq!(windows.late(), 0);
}

#[tokio::test]
async fn gaps_and_absurd_timestamps() {
    let items = [(5, 1.0), (35, 2.0)];
    let got: Vec<_> = weir::iter(items)
        .tumbling_window(10, ts, Count)
        .emit_empty()
        .map(|w| (w.start, w.result))
        .collect()
        .await;
    assert_eq!(got, [(0, 1), (10, 0), (20, 0), (30, 1)]);

    // A timestamp at the end of time: no endless loop of gap windows, no overflow.
    let items = [(5, 1.0), (u64::MAX, 2.0), (7, 3.0)];
    let mut windows = weir::iter(items)
        .tumbling_window(10, ts, Count)
        .emit_empty();
    let got: Vec<_> = (&mut windows).map(|w| (w.start, w.result)).collect().await;
    assert_eq!(got, [(0, 1), (u64::MAX - u64::MAX % 10, 1)]);
    assert_eq!(windows.late(), 1);
}

#[tokio::test]
async fn offset_shifts_the_boundaries() {
    let items = [(3, 1.0), (4, 1.0), (5, 1.0), (14, 1.0), (15, 1.0)];
    let got: Vec<_> = weir::iter(items)
        .tumbling_window(10, ts, Count)
        .offset(5)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(got, [(0, 5, 2), (5, 15, 2), (15, 25, 1)]);
}

#[tokio::test]
async fn sliding_max_with_negative_values() {
    let items = [(0, -5.0), (4, -1.0), (6, -9.0), (11, -2.0)];
    let got: Vec<_> = weir::iter(items)
        .sliding_window(10, 5, ts, Max(value))
        .map(|w| (w.start, w.end, w.result.value))
        .collect()
        .await;
    // [-5, 5) holds the items at 0 and 4: it is reported from 0.
    assert_eq!(
        got,
        [
            (0, 5, Some(-1.0)),
            (0, 10, Some(-1.0)),
            (5, 15, Some(-2.0)),
            (10, 20, Some(-2.0))
        ]
    );
}

#[tokio::test]
async fn sliding_windows_start_at_the_offset_plus_a_multiple_of_the_slide() {
    // Starts at 1 + 4k: the item at 12 is in [5, 15) and [9, 19), not in the windows that
    // `offset(3)` would give.
    let got: Vec<_> = weir::iter([(12u64, 1.0)])
        .sliding_window(10, 4, ts, Count)
        .offset(1)
        .map(|w| (w.start, w.end))
        .collect()
        .await;
    assert_eq!(got, [(5, 15), (9, 19)]);
    let got: Vec<_> = weir::iter([(12u64, 1.0)])
        .sliding_window(10, 4, ts, Count)
        .offset(3)
        .map(|w| (w.start, w.end))
        .collect()
        .await;
    assert_eq!(got, [(3, 13), (7, 17), (11, 21)]);
    // Sampling windows (slide > size) are shifted the same way: [3, 5), [13, 15), ...
    let got: Vec<_> = weir::iter([(4u64, 1.0), (12, 1.0), (14, 1.0)])
        .sliding_window(2, 10, ts, Count)
        .offset(3)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(got, [(3, 5, 1), (13, 15, 1)]);
    // A window reaching back before 0 holds the items from 0 and is reported from 0.
    let got: Vec<_> = weir::iter([(0u64, 1.0), (2, 1.0)])
        .tumbling_window(10, ts, Count)
        .offset(7)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(got, [(0, 7, 2)]);
}

#[test]
fn zero_sizes_panic_naming_the_argument() {
    let err = std::panic::catch_unwind(|| weir::iter([(0u64, 0.0)]).tumbling_window(0, ts, Count))
        .unwrap_err();
    assert!(err.downcast_ref::<String>().map_or_else(
        || err.downcast_ref::<&str>().unwrap().contains("`size`"),
        |s| s.contains("`size`")
    ));
    let err =
        std::panic::catch_unwind(|| weir::iter([(0u64, 0.0)]).sliding_window(10, 0, ts, Count))
            .unwrap_err();
    assert!(err.downcast_ref::<&str>().unwrap().contains("`slide`"));
    let err = std::panic::catch_unwind(|| weir::iter([1]).count_window(0, 1, Count)).unwrap_err();
    assert!(err.downcast_ref::<&str>().unwrap().contains("`n`"));
}

#[tokio::test(start_paused = true)]
async fn processing_windows_tick_while_idle_and_flush_at_the_end() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let start = tokio::time::Instant::now();
    tokio::spawn(async move {
        for (at, v) in [(100, 1.0), (200, 3.0), (3_400, 10.0)] {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            tx.send(v).await.unwrap();
        }
        tokio::time::sleep_until(start + Duration::from_millis(3_700)).await;
    });
    let windows: Vec<_> = weir::from_receiver(rx)
        .processing_window(Duration::from_secs(1), Mean(|v: &f64| *v))
        .collect()
        .await;
    let shape: Vec<_> = windows
        .iter()
        .map(|w| (w.end - w.start, w.count, w.result.value))
        .collect();
    assert_eq!(
        shape,
        [
            (1_000, 2, Some(2.0)),
            (1_000, 0, None),
            (1_000, 0, None),
            (700, 1, Some(10.0)),
        ]
    );
    assert!(windows.windows(2).all(|p| p[0].end == p[1].start));
}

proptest! {
    /// Count windows equal a recomputation over the last `n` items at every `every`-th item
    /// (and once more at the end if items are left).
    #[test]
    fn count_windows_match_recomputation(
        values in prop::collection::vec(-100i32..100, 0..100),
        n in 1usize..12,
        every in 1usize..6,
    ) {
        let got: Vec<_> = futures::executor::block_on(
            weir::iter(values.clone())
                .count_window(n, every, Max(|v: &i32| f64::from(*v)))
                .map(|w| (w.start, w.end, w.result.value))
                .collect::<Vec<_>>(),
        );
        let mut want = Vec::new();
        for end in 1..=values.len() {
            if end % every == 0 || end == values.len() {
                let start = end.saturating_sub(n);
                let max = values[start..end].iter().copied().max().map(f64::from);
                want.push((start as u64, end as u64, max));
            }
        }
        prop_assert_eq!(got, want);
    }
}

proptest! {
    /// With items late by any amount, the output (late counts included) does not depend on
    /// how the source batches its items, and every item is either in a window or late.
    #[test]
    fn results_do_not_depend_on_batching(
        items in prop::collection::vec((0u64..300, -20i32..20), 0..60),
        gaps in prop::collection::vec(any::<bool>(), 0..60),
        size in 1u64..30,
        bound in 0u64..15,
    ) {
        let items: Vec<Reading> = items.into_iter().map(|(t, v)| (t, f64::from(v))).collect();
        let run = |script: VecDeque<Option<Reading>>| {
            let mut w = Gappy(script).tumbling_window(size, ts, Summarize(value)).out_of_orderness(bound);
            let got: Vec<Window<Measured<Summary>>> = futures::executor::block_on((&mut w).collect());
            (got.iter().map(|w| (w.start, w.count, w.late)).collect::<Vec<_>>(), w.late())
        };
        let ready = run(items.iter().copied().map(Some).collect());
        let mut gappy = VecDeque::new();
        for (i, r) in items.iter().enumerate() {
            if gaps.get(i).copied().unwrap_or(false) {
                gappy.push_back(None);
            }
            gappy.push_back(Some(*r));
        }
        let gapped = run(gappy);
        prop_assert_eq!(&ready, &gapped);
        let in_windows: u64 = ready.0.iter().map(|w| w.1).sum();
        prop_assert_eq!(in_windows + ready.1, items.len() as u64);
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_source_does_not_freeze_its_windows() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let start = tokio::time::Instant::now();
    tokio::spawn(async move {
        for (at, reading) in [
            (0, (1_000, 1.0)),
            (0, (1_500, 2.0)),
            (5_000, (1_700, 3.0)),
            (5_000, (9_000, 4.0)),
        ] {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            tx.send(reading).await.unwrap();
        }
        tokio::time::sleep_until(start + Duration::from_millis(5_100)).await;
    });
    let mut windows = weir::from_receiver(rx)
        .tumbling_window(1_000, ts, Count)
        .idle_timeout(Duration::from_millis(300));
    let mut got = Vec::new();
    while let Some(w) = windows.next().await {
        got.push((start.elapsed().as_millis() as u64, w.start, w.result));
    }
    // Quiet since 0 ms with 1 500 the largest timestamp: at 300 ms event time is taken to be
    // 1 800, at 600 ms 2 100, which closes [1000, 2000). The item stamped 1 700 that comes
    // at 5 s is then late; [9000, 10000) is flushed when the source ends.
    assert_eq!(got, [(600, 1_000, 2), (5_100, 9_000, 1)]);
    assert_eq!(windows.late(), 1);
}

/// The source of [`an_idle_source_does_not_freeze_its_windows`], but one that says when items
/// are on their way: from 0 to 5 s it holds the reading stamped 1 700 (it waits for something
/// before handing it on), and raises its flag meanwhile.
#[tokio::test(start_paused = true)]
async fn a_source_with_items_on_their_way_is_not_quiet() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let start = tokio::time::Instant::now();
    let underway = weir::window::Underway::new();
    let flag = underway.clone();
    tokio::spawn(async move {
        tx.send((1_000, 1.0)).await.unwrap();
        tx.send((1_500, 2.0)).await.unwrap();
        let waiting = flag.raise();
        tokio::time::sleep_until(start + Duration::from_millis(5_000)).await;
        tx.send((1_700, 3.0)).await.unwrap();
        drop(waiting);
        tokio::time::sleep_until(start + Duration::from_millis(9_000)).await;
        tx.send((9_000, 4.0)).await.unwrap();
    });
    let mut windows = weir::from_receiver(rx)
        .tumbling_window(1_000, ts, Count)
        .idle_timeout(Duration::from_millis(300))
        .underway(underway);
    let mut got = Vec::new();
    while let Some(w) = windows.next().await {
        got.push((start.elapsed().as_millis() as u64, w.start, w.result));
    }
    // Every timer that fired while the flag was up began the quiet period again. Quiet
    // begins at 5 s, after the item stamped 1 700 (the flag is down by then): 300 ms later
    // event time is 2 000, which closes [1000, 2000) with all three items.
    assert_eq!(got, [(5_300, 1_000, 3), (9_000, 9_000, 1)]);
    assert_eq!(windows.late(), 0);
}

#[tokio::test(start_paused = true)]
async fn processing_sliding_windows() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let start = tokio::time::Instant::now();
    tokio::spawn(async move {
        for (at, v) in [(100, 1.0), (1_500, 2.0), (3_200, 3.0)] {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            tx.send(v).await.unwrap();
        }
        tokio::time::sleep_until(start + Duration::from_millis(3_500)).await;
    });
    let windows: Vec<_> = weir::from_receiver(rx)
        .processing_sliding_window(
            Duration::from_secs(2),
            Duration::from_secs(1),
            Summarize(|v: &f64| *v),
        )
        .collect()
        .await;
    let base = windows[0].start;
    let shape: Vec<_> = windows
        .iter()
        .map(|w| (w.start - base, w.end - base, w.count, w.result.value.sum))
        .collect();
    assert_eq!(
        shape,
        [
            (0, 2_000, 2, 3.0),
            (1_000, 3_000, 1, 2.0),
            (2_000, 3_500, 1, 3.0)
        ]
    );
}

/// Timestamps, sizes, slides, offsets and lateness at and near `u64::MAX`: no overflow (this
/// test runs in debug, where overflow panics), no wrap, no item lost.
#[tokio::test]
async fn arithmetic_at_the_end_of_time() {
    let max = u64::MAX;
    // A 1 ms window at the last millisecond keeps its item.
    let got: Vec<_> = weir::iter([(max - 1, 1.0), (max, 2.0)])
        .tumbling_window(1, ts, Count)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(got, [(max - 1, max, 1), (max, max, 1)]);

    // Windows as long as time, sliding by 1 ms would be too many panes; by half of time they
    // are two panes each.
    let half = max / 2 + 1;
    let mut windows = weir::iter([(0u64, 1.0), (half, 1.0), (max, 1.0)])
        .sliding_window(max - 1, (max - 1) / 2, ts, Count)
        .out_of_orderness(max);
    let got: Vec<_> = (&mut windows)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(windows.late(), 0);
    let in_windows: u64 = got.iter().map(|w| w.2).sum();
    // Each item is in two windows of size max - 1 sliding by (max - 1) / 2.
    assert_eq!(in_windows, 6, "{got:?}");
    assert!(got.iter().all(|w| w.0 <= w.1));

    // Lateness of u64::MAX keeps every window open to the end; an offset of u64::MAX is the
    // offset u64::MAX % slide = 0. The last window, [u64::MAX, 2 * u64::MAX), holds only
    // u64::MAX (its end is clamped).
    let got: Vec<_> = weir::iter([(max, 1.0), (0, 1.0), (max / 2, 1.0)])
        .tumbling_window(max, ts, Count)
        .offset(max)
        .out_of_orderness(max)
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(got, [(0, max, 2), (max, max, 1)]);

    // An item at u64::MAX with a shifted sliding window: the window's end is clamped.
    let got: Vec<_> = weir::iter([(max, 1.0)])
        .sliding_window(10, 3, ts, Count)
        .map(|w| (w.start, w.end))
        .collect()
        .await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|&(s, e)| s <= max && e == max), "{got:?}");
}

/// Runs of items into one pane at the end of time (the operator's fast path for a stretch of
/// items in one pane): every item lands in its window, including `u64::MAX` itself, with the
/// watermark both held back (out-of-orderness) and not.
#[tokio::test]
async fn runs_of_items_in_the_last_pane() {
    let max = u64::MAX;
    let items: Vec<(u64, f64)> = (0..=6).map(|back| (max - 6 + back, 1.0)).collect();
    for out_of_orderness in [0, 3, max] {
        let mut windows = weir::iter(items.clone())
            .tumbling_window(4, ts, Count)
            .out_of_orderness(out_of_orderness);
        let got: Vec<_> = (&mut windows)
            .map(|w| (w.start, w.end, w.result))
            .collect()
            .await;
        // max % 4 == 3: windows start at max - 7 and max - 3; the last is clamped.
        assert_eq!(
            got,
            [(max - 7, max - 3, 3), (max - 3, max, 4)],
            "out_of_orderness {out_of_orderness}"
        );
        assert_eq!(windows.late(), 0);
    }
}

#[test]
fn windows_of_too_many_panes_panic_naming_both_arguments() {
    let err = std::panic::catch_unwind(|| {
        weir::iter([(0u64, 0.0)]).sliding_window(100_000_000, 1, ts, Count)
    })
    .unwrap_err();
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`size` 100000000 ms") && message.contains("`slide` 1 ms"),
        "{message}"
    );
    let err = std::panic::catch_unwind(|| {
        weir::iter([(0u64, 0.0)]).sliding_window(u64::MAX, 1, ts, Count)
    })
    .unwrap_err();
    assert!(
        err.downcast_ref::<String>()
            .unwrap()
            .contains("at most 100000")
    );
    // The limit itself is allowed.
    let _ = weir::iter([(0u64, 0.0)]).sliding_window(100_000, 1, ts, Count);
}

/// A far-future timestamp followed by ordinary items: the operator never loops or allocates
/// without bound, returns control on its budget, and completes.
#[tokio::test(start_paused = true)]
async fn a_far_future_item_cannot_hang_the_task() {
    let mut items = vec![(5u64, 1.0), (u64::MAX - 3, 1.0)];
    items.extend((0..10_000).map(|i| (10 + i, 1.0)));
    let mut windows = weir::iter(items)
        .sliding_window(86_400_000, 1_000, ts, Count)
        .emit_empty();
    let got = tokio::time::timeout(Duration::from_secs(10), (&mut windows).count())
        .await
        .expect("the windows complete");
    // The item at 5 is in the 86 400 windows that contain it (and the far one in as many);
    // the gap between is too long to fill; the 10 000 later items are late.
    assert_eq!(got, 2 * 86_400);
    assert_eq!(windows.late(), 10_000);
}

#[tokio::test]
async fn a_jump_of_event_time_yields_on_the_budget() {
    use std::task::Poll;
    // One item makes 1 000 windows of 1 000 panes each: assembling them takes many polls,
    // each of which returns (a window, or `Pending` after waking itself).
    let mut windows = Box::pin(weir::iter([(0u64, 1.0)]).sliding_window(1_000, 1, ts, Count));
    let (mut polls, mut got, mut woken) = (0, 0, 0);
    let waker = futures::task::waker(Arc::new(CountWakes));
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        polls += 1;
        match windows.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(_)) => got += 1,
            Poll::Ready(None) => break,
            Poll::Pending => woken += 1,
        }
    }
    assert_eq!(got, 1_000);
    assert!(woken > 0 && polls == got + woken + 1);
}

struct CountWakes;

impl futures::task::ArcWake for CountWakes {
    fn wake_by_ref(_: &Arc<Self>) {}
}

#[tokio::test]
async fn empty_windows_of_a_sliding_window() {
    let got: Vec<_> = weir::iter([(0u64, 1.0), (25, 1.0)])
        .sliding_window(10, 5, ts, Count)
        .emit_empty()
        .map(|w| (w.start, w.end, w.result))
        .collect()
        .await;
    assert_eq!(
        got,
        [
            (0, 5, 1),
            (0, 10, 1),
            (5, 15, 0),
            (10, 20, 0),
            (15, 25, 0),
            (20, 30, 1),
            (25, 35, 1)
        ]
    );
}

#[test]
fn processing_windows_of_too_many_panes_panic_naming_both_arguments() {
    let err = std::panic::catch_unwind(|| {
        weir::iter([1.0]).processing_sliding_window(
            Duration::from_secs(100_000),
            Duration::from_millis(1),
            Count,
        )
    })
    .unwrap_err();
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`size` 100000000 ms") && message.contains("`slide` 1 ms"),
        "{message}"
    );
}

/// Polls `windows` until it returns `Pending`; the windows it yielded as `(start, end, count)`.
fn ready_windows<S>(windows: &mut std::pin::Pin<&mut S>) -> Vec<(u64, u64, u64)>
where
    S: Stream<Item = Window<u64>>,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut out = Vec::new();
    while let std::task::Poll::Ready(Some(w)) = windows.as_mut().poll_next(&mut cx) {
        out.push((w.start, w.end, w.count));
    }
    out
}

#[test]
fn settled_before_moves_with_the_windows_emitted() {
    // Sliding windows of 10 ms every 5 ms, 2 ms of allowed disorder.
    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(16);
    let windows = weir::from_receiver(rx)
        .sliding_window(10, 5, |t: &u64| *t, Count)
        .out_of_orderness(2);
    let mut windows = std::pin::pin!(windows);
    // Nothing seen: no watermark, and the first window, [0, 5) (reaching back before 0), is
    // not settled.
    assert_eq!(windows.watermark(), None);
    assert_eq!(windows.settled_before(), 5);
    tx.try_send(3).unwrap();
    tx.try_send(6).unwrap();
    assert_eq!(ready_windows(&mut windows), []);
    // Watermark 4: no pane complete, and [0, 5) holds an item.
    assert_eq!(windows.watermark(), Some(4));
    assert_eq!(windows.settled_before(), 5);
    tx.try_send(12).unwrap();
    // Watermark 10: panes before 10 complete; [0,5) and [0,10) emitted, [5,15) holds items.
    assert_eq!(ready_windows(&mut windows), [(0, 5, 1), (0, 10, 2)]);
    assert_eq!(windows.watermark(), Some(10));
    assert_eq!(windows.settled_before(), 15);
    // A jump: windows up to the one holding 40 are complete or empty, but [5,15) and
    // [10,20) hold items and come first.
    tx.try_send(40).unwrap();
    assert_eq!(ready_windows(&mut windows), [(5, 15, 2), (10, 20, 1)]);
    // Watermark 38: [15,25) to [25,35) saw nothing and are complete, settled; [30,40) is
    // not complete.
    assert_eq!(windows.settled_before(), 40);
    // A late item does not unsettle anything.
    tx.try_send(1).unwrap();
    assert_eq!(ready_windows(&mut windows), []);
    assert_eq!(windows.settled_before(), 40);
    assert_eq!(windows.late(), 1);
    assert_eq!(windows.watermark(), Some(38));
    drop(tx);
    assert_eq!(ready_windows(&mut windows), [(35, 45, 1), (40, 50, 1)]);
    assert_eq!(windows.settled_before(), u64::MAX);
}

#[tokio::test]
async fn windows_holding_names_the_windows_an_item_lands_in() {
    let of = |ts, size, slide| weir::window::windows_holding(ts, size, slide).collect::<Vec<_>>();
    assert_eq!(
        of(1_234, 1_000, 250),
        [(1_000, 2_000), (750, 1_750), (500, 1_500), (250, 1_250)]
    );
    // Sampling windows: 100 ms every second; 1 234 falls in a gap.
    assert_eq!(of(1_234, 100, 1_000), []);
    assert_eq!(of(1_034, 100, 1_000), [(1_000, 1_100)]);
    // Windows reaching back before 0 are reported from 0; at the end of time, ends are
    // clamped.
    assert_eq!(
        of(10, 1_000, 250),
        [(0, 1_000), (0, 750), (0, 500), (0, 250)]
    );
    assert_eq!(of(u64::MAX, 10, 10), [(u64::MAX - 5, u64::MAX)]);
    // The same windows the operator puts a lone item in.
    for (ts, size, slide) in [
        (1_234, 1_000, 250),
        (1_234, 100, 1_000),
        (10, 1_000, 250),
        (7, 10, 4),
        (u64::MAX, 10, 3),
        (u64::MAX - 1, 7, 7),
    ] {
        let emitted: Vec<_> = weir::iter([ts])
            .sliding_window(size, slide, |t: &u64| *t, Count)
            .map(|w| (w.start, w.end))
            .collect()
            .await;
        let mut named = of(ts, size, slide);
        named.reverse();
        assert_eq!(named, emitted, "{ts} {size} {slide}");
    }
}
