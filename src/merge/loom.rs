//! Loom models of a merge's sources woken from other threads. Each states its invariant.

use std::pin::Pin;
use std::task::Waker;

use futures_core::Stream;

use super::merge;
use crate::channel::ring_channel;
use crate::loom_helpers::{drain, next};
use crate::overflow::Overflow;
use crate::poll::POLL_BUDGET;
use crate::sync::{block_on, model, thread};
use crate::wake_queue::{Member, WakeQueue};

/// Invariant: no lost wake-up. A source fed from another thread while the merge is being
/// polled is polled again: the merge sees both items and ends.
#[test]
fn a_source_woken_from_another_thread_is_polled_again() {
    model(|| {
        let (tx, rx) = ring_channel(2, Overflow::Block);
        let mut merged = merge([rx]);
        let feeder = thread::spawn(move || {
            tx.try_send(1).unwrap();
            tx.try_send(2).unwrap();
        });
        let got = drain(&mut merged);
        feeder.join().unwrap();
        assert_eq!(got, [1, 2]);
    });
}

/// Invariant: no lost wake-up for a pushed source. A handle on another thread pushes a
/// source while the merge is being polled (the merge has no source yet, so it waits only
/// for the handle): the merge admits that source, yields both its items, and ends once
/// the handle is gone.
#[test]
fn a_source_pushed_from_another_thread_is_admitted() {
    model(|| {
        let mut merged = merge(Vec::<crate::sources::Iter<std::vec::IntoIter<u8>>>::new());
        let handle = merged.handle();
        let pusher = thread::spawn(move || handle.push(crate::sources::iter(vec![1, 2])));
        let got = drain(&mut merged);
        pusher.join().unwrap();
        assert_eq!(got, [1, 2]);
    });
}

/// Invariant: no lost push. A handle on another thread pushes two sources, one after the
/// other, while the merge is being polled: each push raises the incoming flag and the wake
/// queue's flag, and the merge clears each flag while it takes what they announce. Whatever
/// the order, a push that lands between the merge's look at a flag and its clearing of it is
/// not lost: the merge admits both sources, yields their items, and ends once the handle is
/// gone. Clearing either flag with a load and a separate store (rather than one swap), or
/// after taking the pushed sources, loses the second push here.
#[test]
fn two_sources_pushed_from_another_thread_are_both_admitted() {
    model(|| {
        let mut merged = merge(Vec::<crate::sources::Iter<std::vec::IntoIter<u8>>>::new());
        let handle = merged.handle();
        let pusher = thread::spawn(move || {
            handle.push(crate::sources::iter(vec![1]));
            handle.push(crate::sources::iter(vec![2]));
        });
        let mut got = drain(&mut merged);
        pusher.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Invariant: a burst of wakes queues a source once. Two threads wake the same source
/// concurrently; the wake queue then holds its index exactly once, so the merge polls it
/// once for that readiness, not twice.
#[test]
fn concurrent_wakes_queue_a_source_once() {
    model(|| {
        let wakes = WakeQueue::new();
        let source = Member::new(3, wakes.clone());
        let waker = Waker::from(source.clone());
        let other = waker.clone();
        let t = thread::spawn(move || other.wake());
        waker.wake_by_ref();
        t.join().unwrap();
        assert_eq!(*wakes.woken.lock(), [3]);
    });
}

/// Invariant: no lost wake-up between rounds. Two sources are fed from two threads, so their
/// wakes can land while the merge is ending a round: after it has looked at the wake queue
/// and before it has cleared its flag, or the other way round. Every order must leave the
/// flag set while a woken source waits in the queue: the merge yields both items and ends.
#[test]
fn two_sources_woken_while_a_round_ends() {
    model(|| {
        let (tx_a, rx_a) = ring_channel(1, Overflow::Block);
        let (tx_b, rx_b) = ring_channel(1, Overflow::Block);
        let mut merged = merge([rx_a, rx_b]);
        let a = thread::spawn(move || tx_a.try_send(1).unwrap());
        let b = thread::spawn(move || tx_b.try_send(2).unwrap());
        let mut got = drain(&mut merged);
        a.join().unwrap();
        b.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Invariant: a reused source id belongs to its new source only. A source ends, so its id
/// is free; a source added later takes that id and is woken twice from another thread (it
/// pends between its two items). Both wakes reach it, and the counts keep the two sources
/// apart.
#[test]
fn a_reused_source_id_is_woken_for_its_new_source() {
    model(|| {
        let first = Box::pin(crate::sources::iter(vec![0u8])) as BoxedSource;
        let mut merged = merge([first]);
        assert_eq!(next(&mut merged), Some(0));
        assert_eq!(next(&mut merged), None);
        let (tx, rx) = ring_channel(1, Overflow::Block);
        merged.push(Box::pin(rx));
        let feeder = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        assert_eq!(drain(&mut merged), [1, 2]);
        feeder.join().unwrap();
        // Counted apart: 1 and 2 items, not 1 and 3.
        let ended = merged.ended_sources();
        assert_eq!((ended.sources, ended.items), (2, 3));
    });
}

/// A source of `u8`s of any kind, so that one merge can hold channels and iterators.
type BoxedSource = Pin<Box<dyn Stream<Item = u8> + Send>>;

/// Invariant: the poll budget never loses a wake-up. A merge of `POLL_BUDGET` sources that
/// end at once and, after them, a channel fed from another thread: the first poll spends its whole budget
/// on sources that yield nothing, so it must wake its own task before returning `Pending`,
/// while the feeder's wake may land before, during or after. The merge yields the item and
/// ends.
#[test]
fn a_wake_pending_when_the_budget_runs_out_is_kept() {
    model(|| {
        let (tx, rx) = ring_channel(1, Overflow::Block);
        let mut sources: Vec<BoxedSource> = (0..POLL_BUDGET)
            .map(|_| Box::pin(crate::sources::iter(Vec::<u8>::new())) as BoxedSource)
            .collect();
        sources.push(Box::pin(rx));
        let mut merged = merge(sources);
        let feeder = thread::spawn(move || tx.try_send(7).unwrap());
        // The first poll, inside `drain`'s executor, ends on the budget: only the merge's own
        // wake brings the second, since the channel has not been polled yet.
        assert_eq!(drain(&mut merged), [7]);
        feeder.join().unwrap();
    });
}
