//! Fan-in and fan-out against their peers.
//!
//! - `merge_16_ready`: 16 always-ready sources of 62 500 items each, merged: weir `merge`,
//!   tokio-stream `StreamMap`, futures `select_all`, futures-concurrency `Merge` (which, like
//!   weir, keeps a waker per source and polls only the woken ones).
//! - `merge_two`: two always-ready sources of 500 000 items each, held inline: weir
//!   `.merge`, tokio-stream `.merge`.
//! - `merge_1024_one_active`: 1 023 sources that never yield and one always-ready source of
//!   1 M items: the same four, and weir `merge` of the active source alone (the limit).
//! - `broadcast_lagging_1`, `broadcast_lagging_4`: one publisher task sends 2 M items, each
//!   subscriber reads in a task of its own, on a 2-worker runtime: weir (`Delivery::Lagging`),
//!   `tokio::sync::broadcast`, async-broadcast in overflow mode. The publisher yields to the
//!   scheduler every 256 sends in every variant; weir's feeds and flushes the subscribers'
//!   wake-ups there (`Publisher::feed`), the peers wake subscribers on every send (their API
//!   has no other way). Throughput is items sent per second; each
//!   subscriber accounts for every item (received plus reported lag).
//! - `broadcast_critical_4`: the same with weir's `Delivery::Critical` against async-broadcast's
//!   default blocking mode: nothing may be skipped.

mod common;

use std::hint::black_box;
use std::pin::Pin;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use futures::{Stream, StreamExt};

type Source = Pin<Box<dyn Stream<Item = u64> + Send>>;

fn ready(n: u64) -> Source {
    Box::pin(futures::stream::iter(0..black_box(n)))
}

fn idle() -> Source {
    Box::pin(futures::stream::pending())
}

/// Drains `stream`, touching every item.
fn drain<S: Stream + Unpin>(mut stream: S) -> u64 {
    block_on(async {
        let mut n = 0;
        while let Some(item) = stream.next().await {
            black_box(item);
            n += 1;
        }
        n
    })
}

/// Takes exactly `n` items (the idle sources never end, so the merge does not either).
fn take<S: Stream + Unpin>(stream: S, n: u64) -> u64 {
    drain(stream.take(n as usize))
}

fn sixteen() -> Vec<Source> {
    (0..16).map(|_| ready(62_500)).collect()
}

fn one_active_of(n: usize) -> Vec<Source> {
    let mut sources: Vec<Source> = (0..n - 1).map(|_| idle()).collect();
    sources.insert(n / 2, ready(1_000_000));
    sources
}

fn merge_16_ready(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_16_ready");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("weir", |b| b.iter(|| drain(weir::merge::merge(sixteen()))));
    group.bench_function("tokio_stream_StreamMap", |b| {
        b.iter(|| {
            let map: tokio_stream::StreamMap<usize, Source> =
                sixteen().into_iter().enumerate().collect();
            drain(map)
        })
    });
    group.bench_function("futures_select_all", |b| {
        b.iter(|| drain(futures::stream::select_all(sixteen())))
    });
    group.bench_function("futures_concurrency_merge", |b| {
        b.iter(|| drain(futures_concurrency::stream::Merge::merge(sixteen())))
    });
    group.finish();
}

fn merge_two(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_two");
    group.throughput(Throughput::Elements(1_000_000));
    let side = || futures::stream::iter(0..black_box(500_000u64));
    group.bench_function("weir", |b| {
        b.iter(|| drain(Box::pin(weir::StreamOps::merge(side(), side()))))
    });
    group.bench_function("tokio_stream_merge", |b| {
        b.iter(|| drain(Box::pin(tokio_stream::StreamExt::merge(side(), side()))))
    });
    group.finish();
}

fn merge_1024_one_active(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_1024_one_active");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("weir", |b| {
        b.iter(|| take(weir::merge::merge(one_active_of(1024)), 1_000_000))
    });
    group.bench_function("weir_one_source_alone", |b| {
        b.iter(|| drain(weir::merge::merge([ready(1_000_000)])))
    });
    group.bench_function("tokio_stream_StreamMap", |b| {
        b.iter(|| {
            let map: tokio_stream::StreamMap<usize, Source> =
                one_active_of(1024).into_iter().enumerate().collect();
            take(map, 1_000_000)
        })
    });
    group.bench_function("futures_select_all", |b| {
        b.iter(|| take(futures::stream::select_all(one_active_of(1024)), 1_000_000))
    });
    group.bench_function("futures_concurrency_merge", |b| {
        b.iter(|| {
            let merged = futures_concurrency::stream::Merge::merge(one_active_of(1024));
            take(merged, 1_000_000)
        })
    });
    group.finish();
}

const SENT: u64 = 2_000_000;
const CAPACITY: usize = 1024;

/// Waits for every subscriber task and checks that each accounted for every item.
async fn join_all(tasks: Vec<tokio::task::JoinHandle<u64>>) {
    for task in tasks {
        assert_eq!(task.await.unwrap(), SENT);
    }
}

fn weir_broadcast(
    rt: &tokio::runtime::Runtime,
    subscribers: usize,
    delivery: weir::channel::Delivery,
) {
    rt.block_on(async {
        let (mut publisher, first) = weir::channel::broadcast::<u64>(CAPACITY);
        drop(first);
        let tasks = (0..subscribers)
            .map(|_| {
                let mut sub = publisher.subscribe_with(delivery);
                tokio::spawn(async move {
                    while let Some(x) = weir::StreamOps::next(&mut sub).await {
                        black_box(x);
                    }
                    sub.received() + sub.lagged()
                })
            })
            .collect();
        let producer = tokio::spawn(async move {
            for i in 0..SENT {
                // Wake-ups are flushed once per burst (see `Publisher::feed`), at the same
                // points where every variant yields.
                publisher.feed(i).await;
                if i % 256 == 0 {
                    publisher.flush();
                    tokio::task::yield_now().await;
                }
            }
        });
        producer.await.unwrap();
        join_all(tasks).await;
    })
}

fn tokio_broadcast(rt: &tokio::runtime::Runtime, subscribers: usize) {
    use tokio::sync::broadcast::error::RecvError;
    rt.block_on(async {
        let (tx, _) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
        let tasks = (0..subscribers)
            .map(|_| {
                let mut rx = tx.subscribe();
                tokio::spawn(async move {
                    let mut accounted = 0;
                    loop {
                        match rx.recv().await {
                            Ok(x) => {
                                black_box(x);
                                accounted += 1;
                            }
                            Err(RecvError::Lagged(n)) => accounted += n,
                            Err(RecvError::Closed) => return accounted,
                        }
                    }
                })
            })
            .collect();
        let producer = tokio::spawn(async move {
            for i in 0..SENT {
                let _ = tx.send(i);
                if i % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        producer.await.unwrap();
        join_all(tasks).await;
    })
}

fn async_broadcast(rt: &tokio::runtime::Runtime, subscribers: usize, overflow: bool) {
    use async_broadcast::RecvError;
    rt.block_on(async {
        let (mut tx, rx) = async_broadcast::broadcast::<u64>(CAPACITY);
        tx.set_overflow(overflow);
        let tasks = (0..subscribers)
            .map(|_| {
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let mut accounted = 0;
                    loop {
                        match rx.recv().await {
                            Ok(x) => {
                                black_box(x);
                                accounted += 1;
                            }
                            Err(RecvError::Overflowed(n)) => accounted += n,
                            Err(RecvError::Closed) => return accounted,
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        let producer = tokio::spawn(async move {
            for i in 0..SENT {
                let _ = tx.broadcast(i).await;
                if i % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        producer.await.unwrap();
        join_all(tasks).await;
    })
}

fn broadcasts(c: &mut Criterion) {
    use weir::channel::Delivery;
    let rt = common::multi_thread();
    for subscribers in [1, 4] {
        let mut group = c.benchmark_group(format!("broadcast_lagging_{subscribers}"));
        group.throughput(Throughput::Elements(SENT));
        group.bench_function("weir", |b| {
            b.iter(|| weir_broadcast(&rt, subscribers, Delivery::Lagging))
        });
        group.bench_function("tokio_broadcast", |b| {
            b.iter(|| tokio_broadcast(&rt, subscribers))
        });
        group.bench_function("async_broadcast_overflow", |b| {
            b.iter(|| async_broadcast(&rt, subscribers, true))
        });
        group.finish();
    }
    let mut group = c.benchmark_group("broadcast_critical_4");
    group.throughput(Throughput::Elements(SENT));
    group.bench_function("weir", |b| {
        b.iter(|| weir_broadcast(&rt, 4, Delivery::Critical))
    });
    group.bench_function("async_broadcast_blocking", |b| {
        b.iter(|| async_broadcast(&rt, 4, false))
    });
    group.finish();
}

criterion_group! {
    name = merges;
    config = common::config();
    targets = merge_16_ready, merge_two, merge_1024_one_active, broadcasts
}
criterion_main!(merges);
