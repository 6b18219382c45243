//! `merge`, `merge_tagged` and `.merge`: interleaving, ending, dynamic sources, tags, counts.

mod common;

use std::pin::Pin;
use std::task::Poll;

use common::{Gappy, Script, Step, drive, poll_once};
use proptest::prelude::*;
use weir::POLL_BUDGET;
use weir::merge::{EndedSources, merge, merge_tagged};
use weir::prelude::*;

#[tokio::test]
async fn always_ready_sources_interleave_round_robin() {
    let sources = vec![
        weir::iter(vec!["a1", "a2", "a3"]),
        weir::iter(vec!["b1", "b2"]),
        weir::iter(vec!["c1", "c2", "c3", "c4"]),
    ];
    let merged: Vec<_> = merge(sources).collect().await;
    assert_eq!(
        merged,
        ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "c3", "c4"]
    );
}

#[test]
fn ended_sources_are_never_polled_again() {
    // Each script panics if polled after its end.
    let (a, sa) = Script::ready([1, 2]);
    let (b, sb) = Script::ready([10]);
    let merged = merge([a, b]);
    let out: Vec<i32> = futures::executor::block_on(merged.collect());
    assert_eq!(out, [1, 10, 2]);
    assert_eq!((sa.polls(), sb.polls()), (3, 2));
}

#[tokio::test]
async fn tags_and_counts() {
    let mut merged = merge_tagged([("x", weir::iter(vec![1, 2, 3])), ("y", weir::iter(vec![4]))]);
    let first: Vec<_> = (&mut merged).take(3).collect().await;
    assert_eq!(first, [("x", 1), ("y", 4), ("x", 2)]);
    assert_eq!(merged.source_counts(), [("x", 2), ("y", 1)]);
    assert_eq!(merged.next().await, Some(("x", 3)));
    // `y` was polled to its end on the way: its entry is released, its count kept in all.
    assert_eq!(merged.source_counts(), [("x", 3)]);
    assert_eq!(
        merged.ended_sources(),
        EndedSources {
            sources: 1,
            items: 1
        }
    );
    assert_eq!(merged.next().await, None);
    assert_eq!(merged.source_counts(), []);
    assert_eq!(
        merged.ended_sources(),
        EndedSources {
            sources: 2,
            items: 4
        }
    );
    assert_eq!(merged.live_sources(), 0);
}

#[tokio::test]
async fn merge_two_different_stream_types() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for i in [100, 200] {
            tx.send(i).await.unwrap();
        }
    });
    let both = weir::iter(vec![1, 2]).merge(weir::from_receiver(rx));
    let mut out: Vec<i32> = both.collect().await;
    out.sort_unstable();
    assert_eq!(out, [1, 2, 100, 200]);
}

#[tokio::test]
async fn streams_that_are_not_unpin_merge_boxed() {
    use std::time::Duration;
    // `chunks_timeout` holds a timer, so it is not `Unpin`: `.merge` holds both streams inline
    // (pinned where the merge is), `merge` takes them pinned in boxes.
    let chunks = |v: Vec<i32>| weir::iter(v).chunks_timeout(2, Duration::from_secs(1));
    let both: Vec<Vec<i32>> = chunks(vec![1, 2, 3]).merge(chunks(vec![4])).collect().await;
    assert_eq!(both, [vec![1, 2], vec![4], vec![3]]);
    let boxed = merge([Box::pin(chunks(vec![5, 6])), Box::pin(chunks(vec![7]))]);
    assert_eq!(boxed.collect::<Vec<_>>().await, [vec![5, 6], vec![7]]);
}

#[tokio::test]
async fn sources_added_at_run_time_through_a_handle() {
    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(4);
    let mut merged = merge([weir::from_receiver(rx)]);
    let handle = merged.handle();
    let adder = tokio::spawn(async move {
        tx.send(1).await.unwrap();
        drop(tx);
        tokio::task::yield_now().await;
        let (tx2, rx2) = tokio::sync::mpsc::channel(4);
        handle.push(weir::from_receiver(rx2));
        tx2.send(2).await.unwrap();
        drop(handle); // now the merge may end, once rx2 ends too
    });
    let out: Vec<u32> = (&mut merged).collect().await;
    adder.await.unwrap();
    assert_eq!(out, [1, 2]);
    assert_eq!(
        merged.ended_sources(),
        EndedSources {
            sources: 2,
            items: 2
        }
    );
}

#[tokio::test]
async fn a_handle_sees_counts_at_most_1024_items_behind() {
    let mut merged = merge([weir::iter(0..5000u32), weir::iter(0..10u32)]);
    let handle = merged.handle();
    for _ in 0..3000 {
        merged.next().await.unwrap();
    }
    let seen = handle.source_counts();
    // The short source ended: its count is in the ended sources', exact.
    assert_eq!(seen.len(), 1);
    assert_eq!(
        handle.ended_sources(),
        EndedSources {
            sources: 1,
            items: 10
        }
    );
    // The merge itself knows the exact counts, and publishes them when asked.
    assert_eq!(merged.source_counts(), [2990]);
    assert!((2990 - 1024..=2990).contains(&seen[0]), "{seen:?}");
    assert_eq!(handle.source_counts(), [2990]);
}

#[tokio::test]
async fn the_next_round_is_the_sources_that_stayed_then_the_added_then_the_woken() {
    let a = Gappy(vec![Some("a1"), Some("a2"), Some("a3")].into());
    // Pending first (waking itself), so it leaves the first round and comes back woken.
    let b = Gappy(vec![None, Some("b1")].into());
    let mut merged = merge([a, b]);
    assert_eq!(merged.next().await, Some("a1"));
    merged.push(Gappy(vec![Some("c1")].into()));
    let rest: Vec<_> = merged.collect().await;
    assert_eq!(rest, ["a2", "c1", "b1", "a3"]);
}

#[tokio::test]
async fn push_adds_a_source_behind_the_queued_ones() {
    let mut merged = merge(vec![weir::iter(vec![1, 2])]);
    assert_eq!(merged.next().await, Some(1));
    merged.push(weir::iter(vec![10, 20]));
    let rest: Vec<_> = merged.collect().await;
    assert_eq!(rest, [2, 10, 20]);
}

#[test]
fn many_pending_sources_cost_a_bounded_poll() {
    let mut sources: Vec<Pin<Box<dyn Stream<Item = u8> + Unpin>>> = (0..3 * POLL_BUDGET)
        .map(|_| Box::pin(futures::stream::pending()) as _)
        .collect();
    sources.push(Box::pin(weir::iter([7u8])));
    let mut merged = merge(sources);
    let mut next = merged.next();
    // Three polls of `POLL_BUDGET` pending sources each, each ending by waking the task...
    for _ in 0..3 {
        assert!(matches!(poll_once(&mut next), (Poll::Pending, true)));
    }
    // ...then the ready source.
    assert!(matches!(poll_once(&mut next), (Poll::Ready(Some(7)), _)));
    // Afterwards nothing is queued: Pending with no self-wake (the sources hold the waker).
    let mut next = merged.next();
    assert!(matches!(poll_once(&mut next), (Poll::Pending, false)));
    assert_eq!(merged.live_sources(), 3 * POLL_BUDGET);
}

#[test]
fn size_hint_adds_the_sources() {
    let merged = merge([weir::iter(0..3), weir::iter(0..4)]);
    assert_eq!(merged.size_hint(), (7, Some(7)));
    let handle = merged.handle();
    assert_eq!(merged.size_hint(), (7, None));
    drop(handle);
}

/// One source per shape: `true` is a gap (the source wakes itself and returns `Pending`),
/// `false` an item `(source, n)` with `n` counting from 1.
fn gappy_sources(shapes: &[Vec<bool>]) -> Vec<Gappy<(usize, u32)>> {
    shapes
        .iter()
        .enumerate()
        .map(|(s, gaps)| {
            let mut n = 0;
            Gappy(
                gaps.iter()
                    .map(|&gap| {
                        (!gap).then(|| {
                            n += 1;
                            (s, n)
                        })
                    })
                    .collect(),
            )
        })
        .collect()
}

proptest! {
    /// Any merge output is an interleaving of the sources that keeps every source's order and
    /// loses or repeats nothing.
    #[test]
    fn output_is_an_order_preserving_interleaving(
        shapes in prop::collection::vec(prop::collection::vec(any::<bool>(), 0..40), 1..8),
    ) {
        let sources = gappy_sources(&shapes);
        let out: Vec<(usize, u32)> = futures::executor::block_on(merge(sources).collect());
        for (s, gaps) in shapes.iter().enumerate() {
            let mine: Vec<u32> = out.iter().filter(|x| x.0 == s).map(|x| x.1).collect();
            let expected = gaps.iter().filter(|g| !**g).count() as u32;
            prop_assert_eq!(mine, (1..=expected).collect::<Vec<_>>());
        }
    }
}

proptest! {
    /// The per-source counts are exact after every item, whatever the mix of ready, pending
    /// and ended sources: the merge derives them from the rounds a source stayed in, and this
    /// checks that arithmetic against a plain tally. The sources that have ended are left
    /// out of the list, and their items are in the ended sources' total.
    #[test]
    fn source_counts_are_exact_after_every_item(
        shapes in prop::collection::vec(prop::collection::vec(any::<bool>(), 0..30), 1..6),
    ) {
        let mut merged = merge_tagged(gappy_sources(&shapes).into_iter().enumerate());
        let mut tally = vec![0u64; shapes.len()];
        futures::executor::block_on(async {
            while let Some((s, _)) = merged.next().await {
                tally[s] += 1;
                let live = merged.source_counts();
                let mut listed = 0;
                for pair in live.windows(2) {
                    assert!(pair[0].0 < pair[1].0, "in the order added: {live:?}");
                }
                for &(k, n) in &live {
                    assert_eq!(n, tally[k], "source {k}");
                    listed += n;
                }
                let ended = merged.ended_sources();
                assert_eq!(live.len(), merged.live_sources());
                assert_eq!(ended.sources as usize, shapes.len() - live.len());
                assert_eq!(ended.items + listed, tally.iter().sum::<u64>());
            }
        });
        let items: Vec<u64> =
            shapes.iter().map(|gaps| gaps.iter().filter(|g| !**g).count() as u64).collect();
        prop_assert_eq!(tally, items);
    }
}

// `.merge(other)`: the two-way merge, cases after tokio-stream's `stream_merge.rs`.

#[tokio::test]
async fn two_ready_streams_take_turns_and_the_longer_finishes_alone() {
    let a = weir::iter(vec![1, 3, 5, 7, 9]);
    let b = weir::iter(vec![2, 4]).map(|x| x); // another stream type
    let merged = a.merge(b);
    assert_eq!(merged.size_hint(), (7, Some(7)));
    assert_eq!(merged.collect::<Vec<_>>().await, [1, 2, 3, 4, 5, 7, 9]);
}

#[test]
fn two_way_merge_polls_each_side_until_its_end_and_never_after() {
    let (a, sa) = Script::new([Step::Item(1), Step::Pending, Step::Item(2), Step::Pending]);
    let (b, sb) = Script::ready([10, 20, 30]);
    let driven = drive(a.merge(b), &sa);
    // Turns alternate: a, b, (a pending) b, b first, a, then only a is left.
    assert_eq!(driven.items, [1, 10, 20, 30, 2]);
    // One `Pending` reached the consumer (a pending, b ended), with a holding the waker.
    assert_eq!(driven.source_wakes, 1);
    assert_eq!(driven.self_wakes, 0);
    // The scripts panic if polled after their end; `drive` polls once more after `None`.
    assert_eq!(sb.items(), 3);
    assert_eq!(sa.items(), 2);
}

#[test]
fn two_way_merge_is_pending_only_when_both_sides_are() {
    let (a, sa) = Script::new([Step::Pending, Step::Item(1)]);
    let (b, sb) = Script::new([Step::Pending, Step::Item(2)]);
    let mut merged = a.merge(b);
    let counter = std::sync::Arc::new(common::WakeCounter::default());
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(Pin::new(&mut merged).poll_next(&mut cx).is_pending());
    // Both sides were polled, and each holds the task's waker.
    assert!(sa.take_waker().is_some() && sb.take_waker().is_some());
    let mut got = Vec::new();
    while let Poll::Ready(Some(x)) = Pin::new(&mut merged).poll_next(&mut cx) {
        got.push(x);
    }
    got.sort();
    assert_eq!(got, [1, 2]);
    assert!(merged.is_terminated());
    assert_eq!(merged.size_hint(), (0, Some(0)));
}
