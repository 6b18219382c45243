//! `ring_channel`: policies, closing, and conservation under real threads.

use std::future::Future;
use std::time::Duration;

use weir::channel::error::{SendError, TryRecvError, TrySendError};
use weir::prelude::*;

#[tokio::test]
async fn drop_oldest_hands_back_the_evicted_items() {
    let (tx, rx) = ring_channel(3, Overflow::DropOldest);
    let mut back = Vec::new();
    for i in 1..=5 {
        back.extend(tx.send(i).await.unwrap());
    }
    assert_eq!(back, [1, 2]);
    assert_eq!((tx.len(), tx.capacity()), (3, 3));
    let stats = rx.stats();
    drop(tx);
    assert_eq!(rx.collect::<Vec<_>>().await, [3, 4, 5]);
    assert_eq!(
        stats.to_string(),
        "Received: 5, Processed: 3, Dropped: 2 (40.0% drop rate)"
    );
}

#[tokio::test]
async fn drop_newest_hands_back_the_rejected_items() {
    let (tx, mut rx) = ring_channel(3, Overflow::DropNewest);
    let back: Vec<i32> = (1..=5).filter_map(|i| tx.try_send(i).unwrap()).collect();
    assert_eq!(back, [4, 5]);
    assert_eq!(rx.fill_ratio(), 1.0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(tx.try_send(6), Ok(None));
    drop(tx);
    assert_eq!(rx.collect::<Vec<_>>().await, [2, 3, 6]);
}

#[tokio::test(start_paused = true)]
async fn block_waits_for_room_and_keeps_order() {
    let (tx, mut rx) = ring_channel(2, Overflow::Block);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    let producer = tokio::spawn(async move {
        for i in 3..=6 {
            assert_eq!(tx.send(i).await, Ok(None));
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !producer.is_finished(),
        "the producer must wait on a full channel"
    );
    let mut got = Vec::new();
    while let Some(x) = rx.next().await {
        got.push(x);
    }
    producer.await.unwrap();
    assert_eq!(got, [1, 2, 3, 4, 5, 6]);
    assert_eq!(rx.stats().dropped(), 0);
}

#[tokio::test]
async fn sending_after_the_receiver_is_gone_returns_the_item() {
    let (tx, rx) = ring_channel(2, Overflow::DropOldest);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(1).await, Err(SendError(1)));
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
}

#[tokio::test]
async fn the_receiver_ends_after_the_last_sender_and_the_drain() {
    let (tx, mut rx) = ring_channel(4, Overflow::DropNewest);
    let tx2 = tx.clone();
    tx.try_send(1).unwrap();
    drop(tx);
    tx2.try_send(2).unwrap();
    drop(tx2);
    assert_eq!(rx.size_hint(), (2, Some(2)));
    assert_eq!(rx.next().await, Some(1));
    assert_eq!(rx.next().await, Some(2));
    assert_eq!(rx.next().await, None);
    assert!(rx.is_terminated());
}

#[test]
#[should_panic(expected = "ring_channel: `capacity` must be at least 1")]
fn zero_capacity_panics() {
    let _ = ring_channel::<u8>(0, Overflow::Block);
}

#[test]
fn two_threads_drop_oldest_conserve_every_item() {
    const PER_PRODUCER: u32 = 20_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (received, returned, stats) = rt.block_on(async {
        let (tx, rx) = ring_channel::<(u32, u32)>(16, Overflow::DropOldest);
        let stats = rx.stats();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut back = Vec::new();
                    for i in 0..PER_PRODUCER {
                        back.extend(tx.send((p, i)).await.unwrap());
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    back
                })
            })
            .collect();
        drop(tx);
        let received: Vec<(u32, u32)> = rx.collect().await;
        let mut returned = Vec::new();
        for p in producers {
            returned.extend(p.await.unwrap());
        }
        (received, returned, stats)
    });
    assert_eq!(received.len() + returned.len(), 2 * PER_PRODUCER as usize);
    let mut all: Vec<_> = received.iter().chain(&returned).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        2 * PER_PRODUCER as usize,
        "an item was duplicated"
    );
    for p in 0..2 {
        let mine: Vec<u32> = received.iter().filter(|x| x.0 == p).map(|x| x.1).collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "producer {p} out of order"
        );
    }
    assert_eq!(stats.received(), 2 * PER_PRODUCER as usize);
    assert_eq!(stats.processed(), received.len());
    assert_eq!(stats.dropped(), returned.len());
}

/// Dropping the receiver drops what it held (tokio's `mpsc` does the same), counted as
/// dropped; nothing stays alive in the channel while senders live.
#[test]
fn dropping_the_receiver_releases_the_buffered_items() {
    use std::sync::Arc;
    let payload = Arc::new(());
    let (tx, rx) = ring_channel(4, Overflow::Block);
    tx.try_send(payload.clone()).unwrap();
    tx.try_send(payload.clone()).unwrap();
    assert_eq!(Arc::strong_count(&payload), 3);
    let stats = rx.stats();
    drop(rx);
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "the receiver's items went with it"
    );
    assert_eq!(stats.received(), stats.processed() + stats.dropped());
    assert_eq!(stats.dropped(), 2);
    assert!(tx.is_closed());
    assert!(matches!(
        tx.try_send(payload.clone()),
        Err(TrySendError::Closed(_))
    ));
}

/// `Block`: a sender woken for freed room keeps it. `try_send` from elsewhere reports full
/// until the woken sender has used the slot, so a sender that keeps calling `try_send`
/// cannot starve a waiting one (first come, first served, as tokio's semaphore).
#[tokio::test]
async fn a_woken_sender_keeps_the_room_it_was_woken_for() {
    let (tx, mut rx) = ring_channel(1, Overflow::Block);
    tx.try_send(0).unwrap();
    let waiting = tx.clone();
    let mut send = Box::pin(waiting.send(1));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(send.as_mut().poll(&mut cx).is_pending(), "the ring is full");
    for round in 0..100 {
        assert_eq!(rx.try_recv(), Ok(round), "round {round}");
        // The freed slot is promised to the waiting sender: a newcomer is refused...
        assert_eq!(tx.try_send(99), Err(TrySendError::Full(99)));
        // ... and the waiting sender gets it.
        assert_eq!(
            send.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Ok(None))
        );
        send = Box::pin(waiting.send(round + 2));
        assert!(send.as_mut().poll(&mut cx).is_pending());
    }
}

/// A waiting `send` that is dropped after being promised a slot passes it to the next one in
/// line (tokio's `sync_mpsc` tests cancel a reserve the same way).
#[tokio::test]
async fn a_cancelled_send_passes_its_turn_on() {
    let (tx, mut rx) = ring_channel(1, Overflow::Block);
    tx.try_send(0).unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut first = Box::pin(tx.send(1));
    let mut second = Box::pin(tx.send(2));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(rx.try_recv(), Ok(0)); // the slot is promised to `first`
    drop(first);
    assert_eq!(
        second.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Ok(None))
    );
    assert_eq!(rx.try_recv(), Ok(2));
}

/// A capacity far beyond memory costs nothing until items arrive.
#[tokio::test]
async fn capacity_costs_memory_only_as_items_arrive() {
    let (tx, rx) = ring_channel::<u64>(1 << 40, Overflow::Block);
    for i in 0..1_000 {
        tx.try_send(i).unwrap();
    }
    drop(tx);
    assert_eq!(rx.count().await, 1_000);
    let kept = weir::iter(0..1_000u64).drop_oldest(1 << 40).count().await;
    assert_eq!(kept, 1_000);
    let (tx, rx) = ring_channel::<u8>(usize::MAX, Overflow::DropOldest);
    assert_eq!(tx.try_send(1), Ok(None));
    assert_eq!(rx.capacity(), usize::MAX);
}

/// `try_recv` tells an empty channel from one that is over; `close` refuses new sends and
/// lets the receiver drain what is buffered (tokio's `Receiver::close`).
#[tokio::test]
async fn try_recv_close_and_is_closed() {
    let (tx, mut rx) = ring_channel(4, Overflow::Block);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    assert!(rx.is_closed() && tx.is_closed());
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(tx.send(4).await, Err(SendError(4)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.next().await, Some(2));
    assert_eq!(rx.next().await, None);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    // Every sender gone: disconnected once drained.
    let (tx, mut rx) = ring_channel(4, Overflow::DropOldest);
    tx.try_send(5).unwrap();
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

/// Closing wakes a sender waiting for room; it gets its item back.
#[tokio::test]
async fn close_releases_a_waiting_sender() {
    let (tx, mut rx) = ring_channel(1, Overflow::Block);
    tx.try_send(1).unwrap();
    let waiting = tokio::spawn(async move { tx.send(2).await });
    tokio::task::yield_now().await;
    rx.close();
    assert_eq!(waiting.await.unwrap(), Err(SendError(2)));
    assert_eq!(rx.next().await, Some(1));
    assert_eq!(rx.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn recv_many_takes_what_is_there_frees_its_room_and_waits_for_more() {
    let (tx, mut rx) = ring_channel(4, Overflow::Block);
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    let stats = rx.stats();
    let mut batch = vec![100];
    // Up to the limit, appended after what the buffer held.
    assert_eq!(rx.recv_many(&mut batch, 3).await, 3);
    assert_eq!(batch, [100, 0, 1, 2]);
    // The three slots are free at once: a blocked sender would get them.
    for i in 4..7 {
        tx.try_send(i).unwrap();
    }
    assert!(matches!(tx.try_send(7), Err(TrySendError::Full(7))));
    assert_eq!(rx.recv_many(&mut batch, 10).await, 4);
    assert_eq!(batch, [100, 0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(stats.processed(), 7);
    // Empty: it waits, and a send wakes it.
    let sender = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        tx.send(8).await.unwrap();
    });
    let mut next = Vec::new();
    assert_eq!(rx.recv_many(&mut next, 10).await, 1);
    assert_eq!(next, [8]);
    sender.await.unwrap();
    // Over and empty: 0, and the stream is over too.
    assert_eq!(rx.recv_many(&mut next, 10).await, 0);
    assert_eq!(rx.recv_many(&mut next, 0).await, 0);
    assert!(rx.is_terminated());
}
