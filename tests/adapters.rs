//! Exact-output tests of map, filter, filter_map, fuse and the consuming futures.

mod common;

use std::task::Poll;

use common::{Script, Step, drive, poll_once};
use weir::POLL_BUDGET;
use weir::prelude::*;

fn gappy(items: impl IntoIterator<Item = i32>) -> Vec<Step<i32>> {
    // A `Pending` before every third item.
    items
        .into_iter()
        .enumerate()
        .flat_map(|(i, x)| {
            let gap = (i % 3 == 0).then_some(Step::Pending);
            gap.into_iter().chain([Step::Item(x)])
        })
        .collect()
}

#[test]
fn map_passes_items_pendings_and_end_through() {
    let (src, state) = Script::new(gappy(0..10));
    let mapped = src.map(|x| x * 10);
    let driven = drive(mapped, &state);
    assert_eq!(driven.items, (0..10).map(|x| x * 10).collect::<Vec<_>>());
    assert_eq!(driven.source_wakes, 4);
    assert_eq!(driven.self_wakes, 0);
}

#[test]
fn filter_keeps_order_and_relies_on_the_source_for_wakeups() {
    let (src, state) = Script::new(gappy(0..20));
    let driven = drive(src.filter(|x| x % 3 != 1), &state);
    let want: Vec<i32> = (0..20).filter(|x| x % 3 != 1).collect();
    assert_eq!(driven.items, want);
    assert_eq!(driven.source_wakes, 7);
    assert_eq!(driven.self_wakes, 0);
}

#[test]
fn filter_map_keeps_the_somes_in_order() {
    let (src, state) = Script::new(gappy(0..12));
    let driven = drive(src.filter_map(|x| (x % 2 == 0).then_some(x / 2)), &state);
    assert_eq!(driven.items, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn filter_yields_after_the_budget_of_rejected_items() {
    let n = 3 * POLL_BUDGET + 5;
    let (src, state) = Script::ready((0..n).map(|i| i as i32));
    let mut rejected = src.filter(|_| false);
    let (poll, woke) = poll_once(&mut rejected.next());
    assert_eq!(poll, Poll::Pending);
    assert!(woke, "a budget-limited Pending must wake its own task");
    assert_eq!(state.items(), POLL_BUDGET);

    let driven = drive(rejected, &state);
    assert!(driven.items.is_empty());
    assert_eq!(driven.self_wakes, 2);
    assert_eq!(state.items(), n);
}

#[test]
fn filter_map_yields_after_the_budget() {
    let (src, state) = Script::ready(0..(2 * POLL_BUDGET as i32));
    let driven = drive(src.filter_map(|_| None::<()>), &state);
    assert!(driven.items.is_empty());
    // The budget runs out twice, the second time just before the end would have been seen.
    assert_eq!(driven.self_wakes, 2);
}

#[test]
fn operators_are_fused_and_never_poll_an_ended_upstream() {
    // Script panics if polled after its end; drive polls once more after `None`.
    let (src, state) = Script::ready([1, 2, 3]);
    let mut s = src.map(|x| x + 1).filter(|x| x % 2 == 0).filter_map(Some);
    assert!(!s.is_terminated());
    assert_eq!(drive(&mut s, &state).items, [2, 4]);
    assert!(s.is_terminated());
    assert_eq!(state.polls(), 4);
}

#[test]
fn size_hints_are_exact_where_they_can_be() {
    let (src, _) = Script::ready([1, 2, 3]);
    assert_eq!(src.map(|x| x).size_hint(), (3, Some(3)));
    let (src, _) = Script::ready([1, 2, 3]);
    assert_eq!(src.filter(|_| true).size_hint(), (0, Some(3)));
    let (src, _) = Script::ready([1, 2, 3]);
    assert_eq!(src.filter_map(Some).size_hint(), (0, Some(3)));
    assert_eq!(weir::iter(0..7).size_hint(), (7, Some(7)));
    assert_eq!(weir::iter(0..).size_hint(), (usize::MAX, None));
}

#[test]
fn size_hint_is_zero_after_the_end() {
    let mut s = weir::iter([1]).map(|x| x);
    futures::executor::block_on(async {
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, None);
    });
    assert_eq!(s.size_hint(), (0, Some(0)));
    assert!(s.is_terminated());
}

#[test]
fn consumers_drain_under_the_budget() {
    let n = 5 * POLL_BUDGET;
    let (src, _) = Script::ready(0..n);
    let mut fold = src.fold(0, |acc, x| acc + x);
    let mut self_wakes = 0;
    let sum = loop {
        match poll_once(&mut fold) {
            (Poll::Ready(sum), _) => break sum,
            (Poll::Pending, woke) => {
                assert!(woke);
                self_wakes += 1;
            }
        }
    };
    assert_eq!(sum, (0..n).sum::<usize>());
    assert_eq!(self_wakes, 5);
}

/// Inside a tokio runtime a consumer spends the task's cooperative budget, one unit per run of
/// `POLL_BUDGET` items, and yields when it is used up: the other tasks run while an endless
/// ready stream is drained, and the consumer is polled about once per `POLL_BUDGET`²
/// items, not once per `POLL_BUDGET`.
#[tokio::test(flavor = "current_thread")]
async fn inside_tokio_consumers_yield_on_the_tasks_budget() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let n = 1_000_000u64;
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    let mut ticks_seen = 0;
    let mut drained = weir::iter(0..n).fold(0u64, |count, _| {
        ticks_seen = ticks.load(Ordering::Relaxed);
        count + 1
    });
    let mut polls = 0u64;
    let count = std::future::poll_fn(|cx| {
        polls += 1;
        std::pin::Pin::new(&mut drained).poll(cx)
    })
    .await;
    assert_eq!(count, n);
    let run = POLL_BUDGET as u64;
    assert!(
        polls >= n / (run * run) && polls <= n / run / 4,
        "{polls} polls for {n} items"
    );
    assert!(
        ticks_seen > 0,
        "the other task ran while the stream was drained"
    );
    ticker.abort();
}

#[tokio::test]
async fn consumers_give_exact_results() {
    assert_eq!(weir::iter(0..1000).count().await, 1000);
    let v: Vec<u8> = weir::iter(b"weir".iter().copied()).collect().await;
    assert_eq!(v, b"weir");
    let s: String = weir::iter(["a", "b", "c"])
        .map(str::to_owned)
        .collect()
        .await;
    assert_eq!(s, "abc");
    let mut seen = Vec::new();
    weir::iter(0..300).for_each(|x| seen.push(x)).await;
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
    let product = weir::iter(1..=5u64).fold(1, |a, x| a * x).await;
    assert_eq!(product, 120);
}

#[tokio::test]
async fn next_works_on_pinned_operators() {
    let mut s = pin!(weir::iter(0..3).filter(|x| x % 2 == 0));
    assert_eq!(s.next().await, Some(0));
    assert_eq!(s.next().await, Some(2));
    assert_eq!(s.next().await, None);
    assert_eq!(s.next().await, None);
}

#[test]
fn debug_output_names_the_operator_and_skips_closures() {
    let s = weir::iter([1u8]).map(|x| x).filter(|_| true);
    let dbg = format!("{s:?}");
    assert!(
        dbg.starts_with("Filter { stream: Fuse { stream: Map {"),
        "{dbg}"
    );
}

#[test]
fn take_stops_after_n_and_releases_its_upstream() {
    use std::sync::Arc;
    let held = Arc::new(());
    let witness = held.clone();
    // An endless source that holds an Arc, as a channel receiver holds its channel.
    let source = weir::iter(std::iter::repeat_with(move || Arc::strong_count(&held)));
    let mut first = Box::pin(source.take(2));
    assert_eq!(first.size_hint(), (2, Some(2)));
    let got: Vec<usize> = futures::executor::block_on(StreamOps::collect(&mut first));
    assert_eq!(got.len(), 2);
    assert_eq!(
        Arc::strong_count(&witness),
        1,
        "the upstream was dropped at the n-th item"
    );
    assert!(first.is_terminated());
    assert_eq!(first.size_hint(), (0, Some(0)));

    // take(0) never polls its upstream (the script panics if it is polled at all after its
    // end, and this one has no steps: its first poll would end it).
    let (script, state) = Script::<u8>::new([]);
    let none: Vec<u8> = futures::executor::block_on(script.take(0).collect());
    assert!(none.is_empty());
    assert_eq!(state.polls(), 0);

    // A shorter upstream ends it early; `Pending` passes through with the waker registered.
    let (script, state) = Script::new([Step::Item(1), Step::Pending, Step::Item(2)]);
    let driven = drive(script.take(5), &state);
    assert_eq!(driven.items, [1, 2]);
    assert_eq!(driven.source_wakes, 1);
}

#[tokio::test]
async fn enumerate_counts_from_zero_and_keeps_the_hint() {
    let mut s = weir::iter(['a', 'b', 'c']).enumerate();
    assert_eq!(s.size_hint(), (3, Some(3)));
    assert_eq!(s.next().await, Some((0, 'a')));
    let rest: Vec<(u64, char)> = (&mut s).collect().await;
    assert_eq!(rest, [(1, 'b'), (2, 'c')]);
    assert!(s.is_terminated());
}

#[test]
fn inspect_sees_every_item_once_and_passes_pending_on() {
    let (source, state) = Script::new([Step::Item(1), Step::Pending, Step::Item(2)]);
    let mut seen = Vec::new();
    let driven = drive(source.inspect(|x| seen.push(*x)), &state);
    assert_eq!(driven.items, [1, 2]);
    assert_eq!(seen, [1, 2]);
    assert_eq!(driven.source_wakes, 1);
}

#[tokio::test]
async fn chunks_cut_by_count_and_flush_the_rest_at_the_end() {
    let s = weir::iter(1..=7).chunks(3);
    assert_eq!(s.size_hint(), (3, Some(3)));
    let out: Vec<Vec<u32>> = s.collect().await;
    assert_eq!(out, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    let none: Vec<Vec<u32>> = weir::iter(0..0).chunks(3).collect().await;
    assert!(none.is_empty());
}

/// A partial batch waits for the upstream (no timer), and a large `n` is filled within the
/// poll budget, waking the task between polls.
#[test]
fn chunks_wait_for_a_quiet_upstream_and_respect_the_budget() {
    let (source, state) = Script::new([Step::Item(1), Step::Pending, Step::Item(2)]);
    let driven = drive(source.chunks(2), &state);
    assert_eq!(driven.items, [vec![1, 2]]);
    assert_eq!(driven.source_wakes, 1);
    let (source, state) = Script::ready(0..1_000u32);
    let mut polls = 0;
    let driven = common::drive_inspect(source.chunks(1_000), &state, |_| polls += 1);
    assert_eq!(driven.items, [(0..1_000).collect::<Vec<_>>()]);
    assert_eq!(driven.self_wakes, 1_000 / POLL_BUDGET);
}

#[test]
#[should_panic(expected = "chunks: `n` must be at least 1, got 0")]
fn chunks_of_zero_panics() {
    let _ = weir::iter(0..1).chunks(0);
}
