//! Loom models of a broadcast's publisher and subscribers racing. Each states its invariant.

use std::future::poll_fn;

use crate::channel::{Delivery, broadcast};
use crate::loom_helpers::drain;
use crate::sync::{Arc, block_on, model, thread};

/// Invariant: conservation for lagging subscribers. One publisher, two subscribers,
/// capacity 2, three sends: for each subscriber, items received plus items reported
/// lagged equals items sent, and what it received strictly increases. `Arc` payloads: at
/// the end every item's count is back to one (nothing leaked, nothing dropped twice).
#[test]
fn lagging_subscribers_account_for_every_item() {
    model(|| {
        let items: Vec<Arc<u8>> = (0..3).map(Arc::new).collect();
        let (mut publisher, a) = broadcast::<Arc<u8>>(2);
        let b = publisher.subscribe();
        let to_send = items.clone();
        let sender = thread::spawn(move || {
            for item in to_send {
                publisher.try_send(item).unwrap();
            }
        });
        let readers: Vec<_> = [a, b]
            .into_iter()
            .map(|mut sub| {
                thread::spawn(move || {
                    let got = drain(&mut sub);
                    (got.iter().map(|x| **x).collect::<Vec<u8>>(), sub.lagged())
                })
            })
            .collect();
        sender.join().unwrap();
        for reader in readers {
            let (got, lagged) = reader.join().unwrap();
            assert_eq!(got.len() as u64 + lagged, 3, "{got:?} + {lagged}");
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        }
        assert!(items.iter().all(|i| Arc::strong_count(i) == 1));
    });
}

/// Invariant: a critical subscriber skips nothing, and a publisher waiting on a full
/// ring is woken when that subscriber reads (no lost wake-up).
#[test]
fn critical_subscriber_gets_everything_and_wakes_the_publisher() {
    model(|| {
        let (mut publisher, lagging) = broadcast::<u8>(1);
        drop(lagging);
        let mut critical = publisher.subscribe_with(Delivery::Critical);
        let sender = thread::spawn(move || {
            block_on(async {
                for i in 0..3 {
                    publisher.send(i).await;
                }
            });
        });
        let got = drain(&mut critical);
        sender.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(critical.lagged(), 0);
    });
}

/// Invariant: dropping the critical subscriber releases a publisher waiting on it.
#[test]
fn dropping_a_critical_subscriber_wakes_the_publisher() {
    model(|| {
        let (mut publisher, lagging) = broadcast::<u8>(1);
        drop(lagging);
        let critical = publisher.subscribe_with(Delivery::Critical);
        publisher.try_send(0).unwrap();
        let sender = thread::spawn(move || {
            block_on(publisher.send(1));
            (publisher.sent(), publisher.unread())
        });
        drop(critical);
        // The send completed (no deadlock); with nobody left, item 1 counts as unread.
        assert_eq!(sender.join().unwrap(), (1, 1));
    });
}

/// Invariant: closing wakes the subscribers. Dropping the publisher wakes a waiting
/// subscriber, which ends after draining what it can still see.
#[test]
fn dropping_the_publisher_ends_a_waiting_subscriber() {
    model(|| {
        let (mut publisher, mut sub) = broadcast::<u8>(2);
        let sender = thread::spawn(move || {
            publisher.try_send(7).unwrap();
            drop(publisher);
        });
        assert_eq!(drain(&mut sub), [7]);
        sender.join().unwrap();
    });
}

/// Invariant: no lost wake-up when the last subscriber leaves. The fan-out driver waits
/// for its quiet upstream and for "no subscriber left"; the last subscriber, dropped on
/// another thread (with an item it never read), wakes it, and that item's `Arc` is
/// released. Without the wake-up loom reports the deadlock.
#[test]
fn the_last_subscriber_leaving_wakes_the_driver() {
    model(|| {
        let item = Arc::new(7u8);
        let (mut publisher, a) = broadcast::<Arc<u8>>(2);
        let b = a.resubscribe();
        publisher.try_send(item.clone()).unwrap();
        let leavers = thread::spawn(move || {
            drop(a);
            drop(b);
        });
        block_on(poll_fn(|cx| publisher.poll_unsubscribed(cx)));
        leavers.join().unwrap();
        assert_eq!(
            Arc::strong_count(&item),
            1,
            "the unread item went with its readers"
        );
    });
}
