//! Loom models of the ring channel's two ends racing. Each states its invariant.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;

use crate::channel::error::SendError;
use crate::channel::ring_channel;
use crate::loom_helpers::{next, poll_from_another_task};
use crate::overflow::Overflow;
use crate::sync::{Arc, block_on, model, thread};

/// Invariant: no lost wake-up. The receiver waits on an empty channel while a sender sends
/// from another thread; the receiver always gets the item.
#[test]
fn receiver_is_woken_by_a_send() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::DropOldest);
        let sender = thread::spawn(move || {
            assert!(matches!(tx.try_send(7), Ok(None)));
            tx
        });
        assert_eq!(next(&mut rx), Some(7));
        drop(sender.join().unwrap());
    });
}

/// Invariant: conservation. Two senders, capacity 1, DropOldest: every item is either
/// received exactly once or handed back to its sender as dropped, never both, never
/// neither; each sender's received items keep their order. `Arc` payloads: a leaked or
/// doubly-dropped item would break the strong counts checked at the end.
#[test]
fn drop_oldest_conserves_every_item() {
    model(|| {
        let (tx, mut rx) = ring_channel::<Arc<(u8, u8)>>(1, Overflow::DropOldest);
        let tokens: Vec<Arc<(u8, u8)>> = (0..2)
            .flat_map(|s| (0..2).map(move |i| Arc::new((s, i))))
            .collect();
        let senders: Vec<_> = (0..2u8)
            .map(|s| {
                let tx = tx.clone();
                let mine: Vec<_> = tokens.iter().filter(|t| t.0 == s).cloned().collect();
                thread::spawn(move || {
                    let mut back = Vec::new();
                    for item in mine {
                        if let Some(dropped) = tx.try_send(item).unwrap() {
                            back.push(dropped);
                        }
                    }
                    back
                })
            })
            .collect();
        drop(tx);
        let mut received = Vec::new();
        while let Some(item) = next(&mut rx) {
            received.push(item);
        }
        let mut returned = Vec::new();
        for s in senders {
            returned.extend(s.join().unwrap());
        }
        assert_eq!(received.len() + returned.len(), 4);
        for token in &tokens {
            let seen = received
                .iter()
                .chain(&returned)
                .filter(|t| Arc::ptr_eq(t, token));
            assert_eq!(
                seen.count(),
                1,
                "item {token:?} not accounted for exactly once"
            );
        }
        for s in 0..2 {
            let order: Vec<u8> = received.iter().filter(|t| t.0 == s).map(|t| t.1).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        }
        let stats = rx.stats();
        assert_eq!(stats.received(), 4);
        assert_eq!(stats.processed() + stats.dropped(), 4);
        drop((received, returned));
        assert!(tokens.iter().all(|t| Arc::strong_count(t) == 1));
    });
}

/// Invariant: no lost wake-up in Block mode. A sender waiting on a full ring is woken when
/// the receiver takes an item, and its item arrives.
#[test]
fn blocked_sender_is_woken_by_a_receive() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        tx.try_send(1).unwrap();
        let sender = thread::spawn(move || {
            let sent = block_on(tx.send(2));
            assert_eq!(sent, Ok(None));
        });
        assert_eq!(next(&mut rx), Some(1));
        assert_eq!(next(&mut rx), Some(2));
        sender.join().unwrap();
        assert_eq!(next(&mut rx), None);
    });
}

/// Invariant: closing wakes the other side. The last sender dropping wakes a waiting
/// receiver, which ends.
#[test]
fn last_sender_drop_ends_a_waiting_receiver() {
    model(|| {
        let (tx, mut rx) = ring_channel::<u8>(1, Overflow::DropNewest);
        let tx2 = tx.clone();
        let a = thread::spawn(move || drop(tx));
        let b = thread::spawn(move || drop(tx2));
        assert_eq!(next(&mut rx), None);
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Invariant: closing wakes the other side. The receiver dropping wakes a sender blocked
/// on a full ring, which gets its item back.
#[test]
fn receiver_drop_releases_a_blocked_sender() {
    model(|| {
        let (tx, rx) = ring_channel(1, Overflow::Block);
        tx.try_send(1).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(2)));
        drop(rx);
        assert_eq!(sender.join().unwrap(), Err(SendError(2)));
    });
}

/// Invariant: no lost wake-up when a waiting send is cancelled. One sender polls its send
/// once on a full ring and drops the future; another waits. Whether the first was promised
/// the freed slot or not, the second's item arrives (a promised slot that is not passed on
/// would leave it waiting for ever: loom reports the deadlock).
#[test]
fn a_cancelled_send_passes_its_promised_slot_on() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        tx.try_send(0).unwrap();
        let tx_a = tx.clone();
        let a = thread::spawn(move || {
            let mut send = tx_a.send(1);
            let waker = futures::task::noop_waker();
            let sent = Pin::new(&mut send)
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            drop(send);
            sent
        });
        let b = thread::spawn(move || block_on(tx.send(2)));
        let mut got = Vec::new();
        while let Some(item) = next(&mut rx) {
            got.push(item);
        }
        let a_sent = a.join().unwrap();
        assert_eq!(b.join().unwrap(), Ok(None));
        let want: Vec<i32> = if a_sent { vec![0, 1, 2] } else { vec![0, 2] };
        got.sort_unstable();
        assert_eq!(got, want);
    });
}

/// Invariant: the wake reaches the task that waits now. The receiver waits once in a task
/// that goes away, then in another while a sender sends: the second task gets the item (a
/// receiver that kept the first task's waker would never wake the second).
#[test]
fn a_receiver_moved_to_another_task_is_woken() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        assert!(poll_from_another_task(&mut rx).is_pending());
        let sender = thread::spawn(move || {
            tx.try_send(7).unwrap();
            tx
        });
        assert_eq!(next(&mut rx), Some(7));
        drop(sender.join().unwrap());
    });
}

/// Invariant: conservation when the receiver closes while a sender waits. The ring holds
/// item 0; a sender waits to send item 1; the receiver takes item 0 (which gives the freed
/// slot to that sender), closes, and drains. Item 1 is either received or handed back to its
/// sender as refused, never both, never lost, and the waiting sender is always released.
#[test]
fn close_racing_a_waiting_send_loses_nothing() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        tx.try_send(0).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(1)));
        assert_eq!(next(&mut rx), Some(0));
        rx.close();
        let mut got = Vec::new();
        while let Some(item) = next(&mut rx) {
            got.push(item);
        }
        match sender.join().unwrap() {
            Ok(None) => assert_eq!(got, [1]),
            Err(SendError(item)) => {
                assert_eq!(item, 1);
                assert!(got.is_empty(), "{got:?}");
            }
            Ok(Some(dropped)) => panic!("Block mode dropped {dropped}"),
        }
    });
}

/// Invariant: closing releases a waiting sender. The ring is full and stays full; a sender
/// waits to send while the receiver closes: the sender always gets its item back as refused
/// (a close that did not wake it would leave it waiting for ever), and the receiver still
/// drains what was buffered.
#[test]
fn close_releases_a_waiting_sender() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        tx.try_send(0).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(1)));
        rx.close();
        assert_eq!(sender.join().unwrap(), Err(SendError(1)));
        assert_eq!(next(&mut rx), Some(0));
        assert_eq!(next(&mut rx), None);
    });
}

/// Invariant: no lost wake-up for a waiting sender, through `try_recv`. Capacity 1, `Block`:
/// a sender on another thread sends two items, so its second send waits for a slot. The
/// receiver only ever calls `try_recv` (yielding while the channel is empty): each item it
/// takes frees a slot that must go to the waiting sender and wake it, so that both items
/// arrive, in order, and the channel then reports the sender gone.
#[test]
fn try_recv_passes_the_freed_slot_to_a_waiting_sender() {
    use crate::channel::error::TryRecvError;
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        let sender = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        let mut got = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(item) => got.push(item),
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Disconnected) => break,
            }
        }
        sender.join().unwrap();
        assert_eq!(got, [1, 2]);
    });
}

/// Takes one item with `try_recv` on another thread, and hands the receiver back.
fn try_recv_on_another_thread<T: Send + 'static>(
    mut rx: crate::channel::RingReceiver<T>,
) -> (Option<T>, crate::channel::RingReceiver<T>) {
    thread::spawn(move || (rx.try_recv().ok(), rx))
        .join()
        .unwrap()
}

/// Polls `fut` once with a waker that does nothing (the model looks at the outcome itself).
fn poll_once<F: Future>(fut: Pin<&mut F>) -> std::task::Poll<F::Output> {
    let waker = futures::task::noop_waker();
    fut.poll(&mut Context::from_waker(&waker))
}

/// Invariant: first come, first served. Capacity 1, full: sender A's send waits, then
/// sender B's. The slot a receive on another thread frees goes to A, the sender that waited
/// longest: B still waits, A's send completes, and the items arrive in that order.
#[test]
fn a_freed_slot_goes_to_the_sender_that_waited_longest() {
    model(|| {
        let (tx, rx) = ring_channel(1, Overflow::Block);
        assert!(matches!(tx.try_send(0), Ok(None)));
        let (a, b) = (tx.clone(), tx.clone());
        drop(tx);
        let mut send_a = Box::pin(a.send(1));
        let mut send_b = Box::pin(b.send(2));
        assert!(poll_once(send_a.as_mut()).is_pending());
        assert!(poll_once(send_b.as_mut()).is_pending());
        let (first, mut rx) = try_recv_on_another_thread(rx);
        assert_eq!(first, Some(0));
        assert!(
            poll_once(send_b.as_mut()).is_pending(),
            "the freed slot went to the sender that came later"
        );
        assert!(poll_once(send_a.as_mut()).is_ready());
        assert_eq!(rx.try_recv().ok(), Some(1));
        assert!(poll_once(send_b.as_mut()).is_ready());
        assert_eq!(rx.try_recv().ok(), Some(2));
    });
}

/// Invariant: a promised slot is used once. Capacity 1: one sender waits twice in a row.
/// Each receive (on another thread) promises the freed slot to it; its send takes the slot
/// and the promise with it, so the channel is full again: a new `try_send` is refused, its
/// next send waits, and the items arrive in order.
#[test]
fn a_sender_that_waits_twice_uses_each_promised_slot_once() {
    use crate::channel::error::TrySendError;
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        assert!(matches!(tx.try_send(0), Ok(None)));
        for item in [1, 2] {
            let mut send = Box::pin(tx.send(item));
            assert!(poll_once(send.as_mut()).is_pending());
            let (taken, back) = try_recv_on_another_thread(rx);
            rx = back;
            assert_eq!(taken, Some(item - 1));
            assert!(poll_once(send.as_mut()).is_ready());
            assert!(
                matches!(tx.try_send(9), Err(TrySendError::Full(9))),
                "the channel took more than its capacity"
            );
        }
        assert_eq!(rx.try_recv().ok(), Some(2));
    });
}

/// Invariant: a closed receiver ends. The receiver closes the channel while a sender on
/// another thread is alive and may still try to send: the receiver gets what was sent before
/// the close and then the end, without waiting for the sender to go (it outlives the drain).
#[test]
fn a_closed_receiver_ends_while_a_sender_lives() {
    model(|| {
        let (tx, mut rx) = ring_channel(2, Overflow::Block);
        assert!(matches!(tx.try_send(1), Ok(None)));
        let sender = thread::spawn(move || {
            let sent = tx.try_send(2).is_ok();
            (sent, tx)
        });
        rx.close();
        let mut got = Vec::new();
        while let Some(item) = next(&mut rx) {
            got.push(item);
        }
        let (sent, tx) = sender.join().unwrap();
        let expected: &[u8] = if sent { &[1, 2] } else { &[1] };
        assert_eq!(got, expected);
        drop(tx);
    });
}

/// Invariant: no lost wake-up for a waiting send that moved to another task. Capacity 1,
/// full: a send is polled once from a task that then goes away (it waits in line with that
/// task's waker), then awaited by another task. The receive that frees a slot must wake the
/// task that awaits it now: the send completes and both items arrive.
#[test]
fn a_waiting_send_moved_to_another_task_is_woken() {
    model(|| {
        let (tx, mut rx) = ring_channel(1, Overflow::Block);
        assert!(matches!(tx.try_send(0), Ok(None)));
        let sender = thread::spawn(move || {
            let mut send = Box::pin(tx.send(1));
            // Pending unless the receiver already made room.
            if poll_once(send.as_mut()).is_pending() {
                assert!(matches!(block_on(send), Ok(None)));
            }
        });
        assert_eq!(next(&mut rx), Some(0));
        assert_eq!(next(&mut rx), Some(1));
        sender.join().unwrap();
    });
}
