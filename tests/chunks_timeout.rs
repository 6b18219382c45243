//! `chunks_timeout` on a paused tokio clock: every batch with the exact instant it came out.

mod common;

use std::time::Duration;

use common::{Script, Step, drive};
use proptest::prelude::*;
use tokio::time::{Instant, sleep};
use weir::POLL_BUDGET;
use weir::adapters::TimerStart;
use weir::prelude::*;

const SECOND: Duration = Duration::from_secs(1);

/// Sends `item` after waiting `delay_ms` (relative to the previous send), then ends the stream
/// after waiting `end_ms`. Returns each batch with the milliseconds since the start.
async fn timeline(
    sends: &[(u64, u32)],
    end_ms: u64,
    max: usize,
    timeout: Duration,
    start: TimerStart,
) -> Vec<(u64, Vec<u32>)> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let sends = sends.to_vec();
    let t0 = Instant::now();
    tokio::spawn(async move {
        for (delay, item) in sends {
            sleep(Duration::from_millis(delay)).await;
            tx.send(item).await.unwrap();
        }
        sleep(Duration::from_millis(end_ms)).await;
    });
    let mut batches = pin!(
        weir::from_receiver(rx)
            .chunks_timeout(max, timeout)
            .timer_start(start)
    );
    let mut out = Vec::new();
    while let Some(batch) = batches.next().await {
        out.push((t0.elapsed().as_millis() as u64, batch));
    }
    out
}

fn at(ms: u64, items: &[u32]) -> (u64, Vec<u32>) {
    (ms, items.to_vec())
}

#[tokio::test(start_paused = true)]
async fn count_limit_comes_first() {
    let sends: Vec<_> = (0..5).map(|i| (0, i)).collect();
    let got = timeline(&sends, 5000, 2, SECOND, TimerStart::FirstItem).await;
    assert_eq!(got, [at(0, &[0, 1]), at(0, &[2, 3]), at(1000, &[4])]);
}

#[tokio::test(start_paused = true)]
async fn timeout_comes_first_and_counts_from_the_first_item() {
    let got = timeline(
        &[(0, 1), (300, 2), (600, 3)],
        5000,
        10,
        SECOND,
        TimerStart::FirstItem,
    )
    .await;
    assert_eq!(got, [at(1000, &[1, 2, 3])]);
}

#[tokio::test(start_paused = true)]
async fn the_timer_restarts_for_the_next_batch() {
    let sends = [(0, 1), (1500, 2), (100, 3), (1000, 4)];
    let got = timeline(&sends, 5000, 10, SECOND, TimerStart::FirstItem).await;
    assert_eq!(got, [at(1000, &[1]), at(2500, &[2, 3]), at(3600, &[4])]);
}

#[tokio::test(start_paused = true)]
async fn a_burst_larger_than_max_is_split_in_order() {
    let sends: Vec<_> = (0..7).map(|i| (0, i)).collect();
    let got = timeline(&sends, 5000, 3, SECOND, TimerStart::FirstItem).await;
    assert_eq!(got, [at(0, &[0, 1, 2]), at(0, &[3, 4, 5]), at(1000, &[6])]);
}

#[tokio::test(start_paused = true)]
async fn idle_periods_produce_no_batches() {
    let got = timeline(
        &[(0, 1), (10_000, 2)],
        20_000,
        10,
        SECOND,
        TimerStart::FirstItem,
    )
    .await;
    assert_eq!(got, [at(1000, &[1]), at(11_000, &[2])]);
}

#[tokio::test(start_paused = true)]
async fn the_partial_batch_is_flushed_when_the_upstream_ends() {
    let got = timeline(&[(0, 1), (100, 2)], 100, 10, SECOND, TimerStart::FirstItem).await;
    assert_eq!(got, [at(200, &[1, 2])]);
}

#[tokio::test(start_paused = true)]
async fn an_outdated_timer_is_moved_forward_not_obeyed() {
    // [1, 2] fills at 500 ms, before its 1000 ms deadline, leaving the timer registered for
    // 1000 ms; [3] arrives at 600 ms and must wait for its own deadline, 1600 ms.
    let got = timeline(
        &[(0, 1), (500, 2), (100, 3)],
        5000,
        2,
        SECOND,
        TimerStart::FirstItem,
    )
    .await;
    assert_eq!(got, [at(500, &[1, 2]), at(1600, &[3])]);
}

#[tokio::test(start_paused = true)]
async fn last_emit_times_batches_from_the_previous_emission() {
    // The timeline in `TimerStart`'s docs.
    let sends = [(0, 1), (200, 2), (1100, 3), (1300, 4), (100, 5)];
    let first = timeline(&sends, 5000, 10, SECOND, TimerStart::FirstItem).await;
    assert_eq!(
        first,
        [at(1000, &[1, 2]), at(2300, &[3]), at(3600, &[4, 5])]
    );
    let last = timeline(&sends, 5000, 10, SECOND, TimerStart::LastEmit).await;
    assert_eq!(last, [at(1000, &[1, 2]), at(2000, &[3]), at(3000, &[4, 5])]);
}

#[tokio::test(start_paused = true)]
async fn last_emit_emits_at_once_when_the_deadline_passed_while_idle() {
    let sends = [(0, 1), (5000, 2), (0, 3)];
    let got = timeline(&sends, 5000, 10, SECOND, TimerStart::LastEmit).await;
    assert_eq!(got, [at(1000, &[1]), at(5000, &[2, 3])]);
}

#[test]
#[should_panic(expected = "chunks_timeout: `max` must be at least 1")]
fn zero_max_panics_naming_the_argument() {
    let _ = weir::iter([1]).chunks_timeout(0, SECOND);
}

#[test]
fn building_needs_no_runtime_and_full_batches_never_touch_the_timer() {
    // No tokio runtime here: the timer is only created on a pause with a partial batch.
    let (src, state) = Script::ready(0..10);
    let driven = drive(Box::pin(src.chunks_timeout(5, SECOND)), &state);
    assert_eq!(driven.items, [vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9]]);
}

#[test]
fn size_hint_counts_batches() {
    let s = weir::iter(0..10).chunks_timeout(3, SECOND);
    assert_eq!(s.size_hint(), (4, Some(10)));
    let s = weir::iter(0..0).chunks_timeout(3, SECOND);
    assert_eq!(s.size_hint(), (0, Some(0)));
    let s = weir::iter(0..).chunks_timeout(usize::MAX, SECOND);
    assert_eq!(s.size_hint(), (1, None));
}

#[test]
fn every_pending_has_a_wakeup_and_the_budget_holds() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let _guard = rt.enter();
    // Pendings with partial batches (the timer gets armed), and a ready run longer than the
    // budget with a `max` larger than the budget.
    let mut steps = vec![Step::Item(0), Step::Pending, Step::Item(1), Step::Pending];
    steps.extend((2..2 + 2 * POLL_BUDGET as u32 + 10).map(Step::Item));
    let n = steps.iter().filter(|s| matches!(s, Step::Item(_))).count() as u32;
    let (src, state) = Script::new(steps);
    let driven = drive(Box::pin(src.chunks_timeout(1000, SECOND)), &state);
    assert_eq!(driven.items, [(0..n).collect::<Vec<_>>()]);
    assert_eq!(driven.source_wakes, 2);
    assert_eq!(driven.self_wakes, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Reference model: batches concatenate to the input, none is empty or larger than `max`,
    /// a full batch comes out when its last item arrives, and any other batch but the last
    /// comes out exactly `timeout` after its first item arrived (no earlier, no later).
    #[test]
    fn batches_match_the_reference_model(
        sends in prop::collection::vec((prop_oneof![3 => Just(0u64), 1 => 1u64..3000], any::<u32>()), 0..60),
        max in 1usize..8,
        timeout_ms in 1u64..2000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let timeout = Duration::from_millis(timeout_ms);
        let got = rt.block_on(timeline(&sends, 10, max, timeout, TimerStart::FirstItem));

        let mut arrival = Vec::new();
        let mut t = 0;
        for (delay, _) in &sends {
            t += delay;
            arrival.push(t);
        }
        let input: Vec<u32> = sends.iter().map(|(_, x)| *x).collect();
        let flat: Vec<u32> = got.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        prop_assert_eq!(&flat, &input);

        let mut first = 0;
        for (i, (emitted, batch)) in got.iter().enumerate() {
            prop_assert!(!batch.is_empty() && batch.len() <= max);
            let last = first + batch.len() - 1;
            prop_assert!(*emitted >= arrival[last]);
            if batch.len() == max {
                prop_assert_eq!(*emitted, arrival[last]);
            } else if i + 1 < got.len() {
                prop_assert_eq!(*emitted, arrival[first] + timeout_ms);
            }
            first = last + 1;
        }
    }
}
