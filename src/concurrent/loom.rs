//! Loom models of a concurrent stage whose futures are woken from other threads. Each states
//! its invariant.

use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;

use super::{MapConcurrent, MapConcurrentUnordered};
use crate::channel::{RingReceiver, ring_channel};
use crate::loom_helpers::drain;
use crate::overflow::Overflow;
use crate::sources::iter;
use crate::sync::{model, thread};

/// The stage's work: the next item of a channel that another thread feeds.
async fn receive(mut rx: RingReceiver<u8>) -> Option<u8> {
    poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await
}

/// Invariant: no lost wake-up, and each future's output once. Two futures in flight, each
/// waiting on a channel that another thread feeds: their wakes land while the stage polls,
/// registers or ends a pass over the woken futures. The stage yields both outputs and ends.
#[test]
fn futures_woken_from_other_threads_complete() {
    model(|| {
        let (tx_a, rx_a) = ring_channel(1, Overflow::Block);
        let (tx_b, rx_b) = ring_channel(1, Overflow::Block);
        let mut stage = MapConcurrentUnordered::new(iter(vec![rx_a, rx_b]), 2, receive);
        let a = thread::spawn(move || tx_a.try_send(1).unwrap());
        let b = thread::spawn(move || tx_b.try_send(2).unwrap());
        let mut got = drain(&mut stage);
        a.join().unwrap();
        b.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [Some(1), Some(2)]);
    });
}

/// Invariant: order is kept whatever order the wakes come in. The same two futures in an
/// ordered stage: the outputs come in the items' order.
#[test]
fn an_ordered_stage_keeps_order_under_any_wake_order() {
    model(|| {
        let (tx_a, rx_a) = ring_channel(1, Overflow::Block);
        let (tx_b, rx_b) = ring_channel(1, Overflow::Block);
        let mut stage = MapConcurrent::new(iter(vec![rx_a, rx_b]), 2, receive);
        let a = thread::spawn(move || tx_a.try_send(1).unwrap());
        let b = thread::spawn(move || tx_b.try_send(2).unwrap());
        assert_eq!(drain(&mut stage), [Some(1), Some(2)]);
        a.join().unwrap();
        b.join().unwrap();
    });
}
