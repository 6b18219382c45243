//! `ring_channel`: policies, closing, and conservation under real threads.

use std::time::Duration;

use weir::ops::{SendError, TrySendError};
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
        stats.get_report(),
        "Received: 5, Processed: 3, Dropped: 2 (40.0% drop rate)"
    );
}

#[tokio::test]
async fn drop_newest_hands_back_the_rejected_items() {
    let (tx, mut rx) = ring_channel(3, Overflow::DropNewest);
    let back: Vec<i32> = (1..=5).filter_map(|i| tx.try_send(i).unwrap()).collect();
    assert_eq!(back, [4, 5]);
    assert_eq!(rx.fill_ratio(), 1.0);
    assert_eq!(rx.try_recv(), Some(1));
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
