//! Loom models of a broadcast's publisher and subscribers racing. Each states its invariant.

use std::future::poll_fn;

use crate::channel::{Delivery, broadcast};
use crate::loom_helpers::{drain, next, poll_from_another_task};
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

/// Invariant: no lost wake-up with `feed`/`flush`. The publisher feeds two items into a
/// ring of one, flushing only at the end, to one critical and one lagging subscriber, each
/// on its own thread. A fed item wakes nobody, so when the publisher finds the ring held by
/// the critical subscriber it must wake the waiting subscribers itself: the critical one
/// gets every item, the lagging one a strictly increasing part of them with the rest counted
/// as lagged, and nobody is left waiting.
#[test]
fn feed_and_flush_wake_a_critical_and_a_lagging_subscriber() {
    model(|| {
        let (mut publisher, mut lagging) = broadcast::<u8>(1);
        let mut critical = publisher.subscribe_with(Delivery::Critical);
        let sender = thread::spawn(move || {
            block_on(async {
                for i in 0..2 {
                    publisher.feed(i).await;
                }
            });
            publisher.flush();
        });
        let lagging_reader = thread::spawn(move || {
            let got = drain(&mut lagging);
            (got, lagging.lagged())
        });
        assert_eq!(drain(&mut critical), [0, 1]);
        sender.join().unwrap();
        let (got, lagged) = lagging_reader.join().unwrap();
        assert_eq!(got.len() as u64 + lagged, 2, "{got:?} + {lagged}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    });
}

/// Invariant: a subscriber may join while the publisher waits. The publisher waits on a
/// critical subscriber that has not read item 0; meanwhile another critical subscriber joins
/// from a third thread. The first gets `[0, 1]`; the joiner gets the items sent after it
/// joined (`[1]` or nothing), and the publisher is released in every order.
#[test]
fn a_subscriber_joins_while_the_publisher_waits() {
    model(|| {
        let (mut publisher, lagging) = broadcast::<u8>(1);
        drop(lagging);
        let mut first = publisher.subscribe_with(Delivery::Critical);
        let subscriptions = publisher.subscriptions();
        publisher.try_send(0).unwrap();
        let sender = thread::spawn(move || block_on(publisher.send(1)));
        let joiner = thread::spawn(move || {
            let mut late = subscriptions.subscribe_with(Delivery::Critical);
            drain(&mut late)
        });
        assert_eq!(drain(&mut first), [0, 1]);
        sender.join().unwrap();
        let late = joiner.join().unwrap();
        assert!(late.is_empty() || late == [1], "{late:?}");
    });
}

/// Invariant: an item is released as soon as every subscriber has read it. Two lagging
/// subscribers read all three items on their own threads and stay alive; the publisher too.
/// Once the readers let go of what they received, each item's `Arc` count is back to one: the
/// ring keeps no copy of an item everybody has read.
#[test]
fn items_read_by_every_subscriber_are_released() {
    model(|| {
        let items: Vec<Arc<u8>> = (0..2).map(Arc::new).collect();
        let (mut publisher, a) = broadcast::<Arc<u8>>(2);
        let b = publisher.subscribe();
        for item in &items {
            publisher.try_send(item.clone()).unwrap();
        }
        let readers: Vec<_> = [a, b]
            .into_iter()
            .map(|mut sub| {
                thread::spawn(move || {
                    let got: Vec<u8> = [next(&mut sub), next(&mut sub)]
                        .into_iter()
                        .map(|x| *x.expect("two items were sent"))
                        .collect();
                    (got, sub)
                })
            })
            .collect();
        let mut subscribers = Vec::new();
        for reader in readers {
            let (got, sub) = reader.join().unwrap();
            assert_eq!(got, [0, 1]);
            subscribers.push(sub);
        }
        for item in &items {
            assert_eq!(Arc::strong_count(item), 1, "item {} still held", **item);
        }
        drop((publisher, subscribers));
    });
}

/// Invariant: the wake reaches the task that waits now. A subscriber waits once in a task
/// that goes away, then in another while the publisher sends: the second task gets the item.
#[test]
fn a_subscriber_moved_to_another_task_is_woken() {
    model(|| {
        let (mut publisher, mut sub) = broadcast::<u8>(1);
        assert!(poll_from_another_task(&mut sub).is_pending());
        let sender = thread::spawn(move || {
            publisher.try_send(7).unwrap();
            publisher
        });
        assert_eq!(next(&mut sub), Some(7));
        drop(sender.join().unwrap());
    });
}

/// Invariant: the fan-out driver ends when its last subscriber leaves, even while its
/// upstream is quiet. The driver (what `fan_out` spawns) runs on this thread over a channel
/// that nobody sends on (its sender lives to the end); the only subscriber is dropped on
/// another thread. The driver must register to be woken by that drop, not only look at the
/// subscriber count: it returns, and the upstream is dropped with it.
#[test]
fn the_driver_ends_when_the_last_subscriber_leaves_a_quiet_upstream() {
    use crate::channel::{drive, ring_channel};
    use crate::overflow::Overflow;
    model(|| {
        let (tx, rx) = ring_channel::<u8>(1, Overflow::Block);
        let (publisher, subscriber) = broadcast::<u8>(2);
        let leaver = thread::spawn(move || drop(subscriber));
        block_on(drive(rx, publisher));
        leaver.join().unwrap();
        assert!(
            matches!(
                tx.try_send(1),
                Err(crate::channel::error::TrySendError::Closed(1))
            ),
            "the driver's upstream outlived it"
        );
    });
}

/// Invariant: no item is held for a subscriber that will never read it. A subscriber joins
/// (from a `Subscriptions` handle) while an item is sent, and leaves: it either counted as a
/// reader of the item (and released it when it left) or started after it. Once the other
/// subscriber has read the item, the ring holds no copy of it, though the broadcast lives on.
#[test]
fn a_subscriber_joining_during_a_send_reads_the_item_or_starts_after_it() {
    model(|| {
        let item = Arc::new(7u8);
        let (mut publisher, mut a) = broadcast::<Arc<u8>>(2);
        let subscriptions = publisher.subscriptions();
        let sent = item.clone();
        let sender = thread::spawn(move || {
            publisher.try_send(sent).unwrap();
            publisher
        });
        let joiner = thread::spawn(move || drop(subscriptions.subscribe()));
        let publisher = sender.join().unwrap();
        joiner.join().unwrap();
        assert_eq!(next(&mut a).as_deref(), Some(&7));
        assert_eq!(Arc::strong_count(&item), 1, "the ring still holds the item");
        drop(publisher);
    });
}
