//! `broadcast`: delivery, late subscribers, lag counts, mixed deliveries, closing, fan-out.

mod common;

use std::future::Future;
use std::task::Poll;

use common::poll_once;
use weir::channel::error::Full;
use weir::channel::{Delivery, broadcast};
use weir::prelude::*;

#[test]
fn feed_defers_the_wake_up_until_flush() {
    let (mut publisher, mut sub) = broadcast::<u32>(8);
    let mut next = sub.next();
    assert!(matches!(poll_once(&mut next), (Poll::Pending, false)));
    // `poll_once` gives each poll a fresh counting waker; keep polling the same future and
    // watch whether the registered one is woken.
    let counter = std::sync::Arc::new(common::WakeCounter::default());
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut next).poll(&mut cx).is_pending());
    publisher.try_feed(1).unwrap();
    publisher.try_feed(2).unwrap();
    assert_eq!(counter.count(), 0, "feed must not wake");
    publisher.flush();
    assert_eq!(
        counter.count(),
        1,
        "flush wakes each waiting subscriber once"
    );
    assert_eq!(
        std::pin::Pin::new(&mut next).poll(&mut cx),
        Poll::Ready(Some(1))
    );
    publisher.try_send(3).unwrap();
    drop(publisher);
    assert_eq!(futures::executor::block_on(sub.collect::<Vec<_>>()), [2, 3]);
}

#[tokio::test]
async fn every_subscriber_gets_every_item() {
    let (mut publisher, a) = broadcast::<u32>(8);
    let b = publisher.subscribe();
    for i in 0..5 {
        publisher.send(i).await;
    }
    drop(publisher);
    assert_eq!(a.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    assert_eq!(b.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_late_subscriber_sees_only_later_items() {
    let (mut publisher, early) = broadcast::<u32>(8);
    publisher.try_send(1).unwrap();
    publisher.try_send(2).unwrap();
    let late = publisher.subscribe();
    publisher.try_send(3).unwrap();
    drop(publisher);
    assert_eq!(early.collect::<Vec<_>>().await, [1, 2, 3]);
    assert_eq!(late.collect::<Vec<_>>().await, [3]);
}

#[tokio::test]
async fn a_lagging_subscriber_skips_ahead_and_counts_what_it_missed() {
    let (mut publisher, mut slow) = broadcast::<u32>(4);
    for i in 0..10 {
        publisher.try_send(i).unwrap(); // never waits for a lagging subscriber
    }
    assert_eq!(slow.next().await, Some(6));
    assert_eq!(slow.lagged(), 6);
    publisher.try_send(10).unwrap();
    drop(publisher);
    let rest: Vec<u32> = (&mut slow).collect().await;
    assert_eq!(rest, [7, 8, 9, 10]);
    assert_eq!(slow.received() + slow.lagged(), 11);
}

#[tokio::test]
async fn a_critical_subscriber_holds_the_publisher_and_skips_nothing() {
    let (mut publisher, lagging) = broadcast::<u32>(2);
    let mut critical = publisher.subscribe_with(Delivery::Critical);
    publisher.try_send(0).unwrap();
    publisher.try_send(1).unwrap();
    assert_eq!(publisher.try_send(2), Err(Full(2)));
    assert_eq!(critical.next().await, Some(0));
    // Reading copies a batch out of the ring: both held items are free now.
    publisher.try_send(2).unwrap();
    publisher.try_send(3).unwrap();
    assert_eq!(publisher.try_send(4), Err(Full(4)));
    drop(lagging);
    drop(publisher);
    assert_eq!(critical.collect::<Vec<_>>().await, [1, 2, 3]);
}

#[tokio::test]
async fn a_slow_critical_subscriber_paces_the_publisher() {
    let (mut publisher, _lagging) = broadcast::<u32>(4);
    let critical = publisher.subscribe_with(Delivery::Critical);
    let producer = tokio::spawn(async move {
        for i in 0..100 {
            publisher.send(i).await;
        }
    });
    let got: Vec<u32> = critical.collect().await;
    producer.await.unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[tokio::test]
async fn dropping_a_critical_subscriber_releases_the_publisher() {
    let (mut publisher, _lagging) = broadcast::<u32>(1);
    let critical = publisher.subscribe_with(Delivery::Critical);
    publisher.try_send(0).unwrap();
    assert!(publisher.try_send(1).is_err());
    drop(critical);
    assert_eq!(publisher.try_send(1), Ok(()));
}

#[tokio::test]
async fn sending_to_nobody_is_counted_not_an_error() {
    let (mut publisher, only) = broadcast::<u32>(2);
    drop(only);
    assert_eq!(publisher.subscriber_count(), 0);
    publisher.send(1).await;
    publisher.try_send(2).unwrap();
    assert_eq!((publisher.unread(), publisher.sent()), (2, 0));
}

#[tokio::test]
async fn dropping_the_publisher_ends_subscribers_after_the_drain() {
    let (mut publisher, mut sub) = broadcast::<u32>(4);
    publisher.try_send(1).unwrap();
    drop(publisher);
    assert_eq!(sub.next().await, Some(1));
    assert_eq!(sub.next().await, None);
    assert!(sub.is_terminated());
}

#[test]
#[should_panic(expected = "broadcast: `capacity` must be at least 1")]
fn zero_capacity_panics() {
    let _ = broadcast::<u8>(0);
}

#[test]
fn fan_out_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let source = weir::iter(0..50_000u64);
        let deliveries = [Delivery::Critical, Delivery::Critical, Delivery::Lagging];
        let (task, subscribers) = source.fan_out_with(deliveries, 64);
        let consumers: Vec<_> = subscribers
            .into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    let mut sum = 0u64;
                    let mut last = None;
                    while let Some(x) = s.next().await {
                        assert!(last < Some(x), "out of order");
                        last = Some(x);
                        sum += x;
                    }
                    (s.received(), s.lagged(), sum)
                })
            })
            .collect();
        let mut results = Vec::new();
        for c in consumers {
            results.push(c.await.unwrap());
        }
        task.await.unwrap();
        let total: u64 = (0..50_000).sum();
        assert_eq!(results[0], (50_000, 0, total));
        assert_eq!(results[1], (50_000, 0, total));
        let (received, lagged, _) = results[2];
        assert_eq!(received + lagged, 50_000);
    });
}

/// The fan-out task ends when every subscriber is gone, also while its upstream is open but
/// quiet, and drops the upstream (the channel's sender then sees it closed).
#[tokio::test]
async fn the_fan_out_ends_when_every_subscriber_is_gone_even_on_a_quiet_upstream() {
    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(4);
    let (task, subscribers) = weir::from_receiver(rx).fan_out(2, 16);
    tx.send(1).await.unwrap();
    tokio::task::yield_now().await;
    drop(subscribers);
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the task ends without another item")
        .unwrap();
    assert!(tx.is_closed(), "the upstream was dropped");
}

/// A `Clone` that panics (tokio's `panic_in_clone` test): the subscriber delivers each item
/// at most once and moves past the bad item.
#[test]
fn a_panicking_clone_neither_wedges_nor_duplicates() {
    #[derive(Debug, PartialEq)]
    struct Fragile(u8);
    impl Clone for Fragile {
        fn clone(&self) -> Self {
            assert!(self.0 != 0, "cannot clone 0");
            Fragile(self.0)
        }
    }
    let (mut publisher, mut first) = broadcast(8);
    // A second subscriber, so that the first has to clone (the last reader moves).
    let second = first.resubscribe();
    for i in [1, 0, 2] {
        publisher.try_send(Fragile(i)).unwrap();
    }
    drop(publisher);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut got = Vec::new();
    for _ in 0..10 {
        let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(&mut first).poll_next(&mut cx)
        }));
        match poll {
            Ok(std::task::Poll::Ready(Some(item))) => got.push(item.0),
            Ok(std::task::Poll::Ready(None)) => break,
            Ok(std::task::Poll::Pending) => panic!("the broadcast is closed"),
            Err(_) => got.push(99), // the panic, where it happened
        }
    }
    assert_eq!(got, [99, 1, 2]);
    drop(second);
}

/// Items every subscriber has read are released; when the last subscriber goes, everything
/// is.
#[tokio::test]
async fn items_everyone_has_read_are_released() {
    use std::sync::Arc;
    let payload = Arc::new(());
    let (mut publisher, mut a) = broadcast(8);
    let mut b = a.resubscribe();
    for _ in 0..3 {
        publisher.try_send(payload.clone()).unwrap();
    }
    assert_eq!(Arc::strong_count(&payload), 4);
    drop((a.next().await, a.next().await, a.next().await));
    assert_eq!(Arc::strong_count(&payload), 4, "b has not read them");
    drop(b.next().await);
    assert_eq!(Arc::strong_count(&payload), 3, "read by both: released");
    drop(b);
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "b's unread items went with it"
    );
    publisher.try_send(payload.clone()).unwrap();
    drop(a);
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "the last subscriber's unread items too"
    );
}

/// `with_lag` reports each gap where it happened.
#[tokio::test]
async fn with_lag_reports_gaps_in_the_stream() {
    let (mut publisher, subscriber) = broadcast(2);
    let mut lagging = subscriber.with_lag();
    publisher.try_send(0).unwrap();
    assert_eq!(lagging.next().await, Some(Ok(0)));
    for i in 1..6 {
        publisher.try_send(i).unwrap();
    }
    assert_eq!(
        lagging.next().await,
        Some(Err(weir::channel::error::Lagged(3)))
    );
    assert_eq!(lagging.next().await, Some(Ok(4)));
    publisher.try_send(6).unwrap();
    drop(publisher);
    assert_eq!(lagging.next().await, Some(Ok(5)));
    assert_eq!(lagging.next().await, Some(Ok(6)));
    assert_eq!(lagging.next().await, None);
    assert_eq!(lagging.get_ref().lagged(), 3);
}

/// With a ring smaller than the poll budget and an always-ready upstream, lagging subscribers
/// that keep up are woken (and the driver yields) before they can be lapped.
#[tokio::test(flavor = "current_thread")]
async fn small_rings_wake_lagging_subscribers_before_they_are_lapped() {
    let (task, subscribers) = weir::iter(0..10_000u32).fan_out(2, 8);
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut n = 0;
                while s.next().await.is_some() {
                    n += 1;
                }
                (n, s.lagged())
            })
        })
        .collect();
    task.await.unwrap();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), (10_000, 0));
    }
}

/// A lagging subscriber that is dropped releases only the items it could still have read:
/// the slots it lagged behind now hold newer items, which the other subscribers still need.
#[tokio::test]
async fn a_lagged_subscriber_leaving_releases_only_what_it_could_read() {
    use std::sync::Arc;
    let (mut publisher, mut a) = broadcast::<Arc<u32>>(2);
    let b = publisher.subscribe();
    let items: Vec<Arc<u32>> = (0..4).map(Arc::new).collect();
    for item in &items {
        publisher.try_send(item.clone()).unwrap();
    }
    // Capacity 2: items 0 and 1 were overwritten; both subscribers lag by 2.
    drop(b);
    assert_eq!(a.next().await.as_deref(), Some(&2));
    assert_eq!(a.next().await.as_deref(), Some(&3));
    assert_eq!(a.lagged(), 2);
    // Nothing is held twice or lost: every item's count is back to one.
    assert!(items.iter().all(|i| Arc::strong_count(i) == 1));
    drop(publisher);
    assert_eq!(a.next().await, None);
}
