//! Loom models of a merge's sources woken from other threads. Each states its invariant.

use std::task::Waker;

use super::merge;
use super::wake_queue::{SourceWaker, WakeQueue};
use crate::channel::ring_channel;
use crate::loom_helpers::drain;
use crate::overflow::Overflow;
use crate::sync::{model, thread};

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

/// Invariant: a burst of wakes queues a source once. Two threads wake the same source
/// concurrently; the wake queue then holds its index exactly once, so the merge polls it
/// once for that readiness, not twice.
#[test]
fn concurrent_wakes_queue_a_source_once() {
    model(|| {
        let wakes = WakeQueue::new();
        let source = SourceWaker::new(3, wakes.clone());
        let waker = Waker::from(source.clone());
        let other = waker.clone();
        let t = thread::spawn(move || other.wake());
        waker.wake_by_ref();
        t.join().unwrap();
        assert_eq!(*wakes.woken.lock(), [3]);
    });
}
