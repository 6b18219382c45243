//! Overload protection against its peers.
//!
//! - `channel`: one producer task, one consumer task, on a 2-worker multi-thread runtime:
//!   weir's `ring_channel(1024, Block)` and `ring_channel(1024, DropOldest)` against the
//!   bounded async channels of tokio (`mpsc`), kanal, flume and async-channel, all of capacity
//!   1 024, each item sent with `send(..).await` and received in a loop of `recv().await`
//!   (weir's receiver, a stream: `next().await`); and the batch receive of weir and tokio
//!   (`recv_many`, 256 at a time), apart. `weir_ring_block_count` drains weir's receiver with
//!   weir's `count()` instead, which hands the thread back to the scheduler every 128 items
//!   (the poll budget; tokio's `recv` does the same with tokio's), a cost of the consumer that
//!   the loops of kanal, flume and async-channel do not pay.
//! - `adapters`: `drop_oldest(1024)` and the samplers against a plain `filter` of the same
//!   always-ready stream (the cost of the bookkeeping: ring, RNG, counters). `sample_latest`
//!   keeps one item per millisecond, so its figure is the cost of taking and replacing items.
//!   `sample_seeded_0.01` (gap draws) goes with `filter_1_in_100`. `filter_half_opaque` keeps
//!   the same half as `filter_half` through `black_box`, so that the compiler cannot turn the
//!   filter into a loop stepping by two over the range. `filter_random_half` is the filter a
//!   user would write to keep each item with probability 0.5 (rand's `random_bool(0.5)` on the
//!   same small RNG): like `sample_seeded_0.5`, one draw per item and a branch no predictor can
//!   learn, which the two filters keeping a fixed half do not pay.
//! - `keeps_up`: `drop_oldest(1024)` and `filter` over a source that pauses (`Pending`, having
//!   woken its task) before every item: a consumer that keeps up with its producer, where the
//!   buffer never holds more than the item in hand.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use weir::prelude::*;

const CHANNEL_ITEMS: u64 = 2_000_000;
const ADAPTER_ITEMS: u64 = 1_000_000;

/// Runs a producer task and a consumer task to their ends on `rt`; the consumer's count.
fn producer_consumer<P, C>(rt: &tokio::runtime::Runtime, producer: P, consumer: C) -> u64
where
    P: Future<Output = ()> + Send + 'static,
    C: Future<Output = u64> + Send + 'static,
{
    rt.block_on(async move {
        let producer = tokio::spawn(producer);
        let consumer = tokio::spawn(consumer);
        producer.await.unwrap();
        consumer.await.unwrap()
    })
}

fn channel(c: &mut Criterion) {
    let rt = common::multi_thread();
    let mut group = c.benchmark_group("channel");
    group.throughput(Throughput::Elements(CHANNEL_ITEMS));

    // Sends every item of 0..CHANNEL_ITEMS with the method `$send`, a future of a `Result`.
    macro_rules! produce {
        ($tx:ident, $send:ident) => {
            async move {
                for i in 0..CHANNEL_ITEMS {
                    black_box($tx.$send(i).await.unwrap());
                }
            }
        };
    }
    // Counts what `$recv` gives until it gives nothing (`$more` says whether it did).
    macro_rules! count {
        ($recv:expr, $more:ident) => {
            async move {
                let mut n = 0u64;
                while $recv.await.$more() {
                    n += 1;
                }
                n
            }
        };
    }
    // Receives 256 at a time with `recv_many`, counting.
    macro_rules! count_many {
        ($rx:ident) => {
            async move {
                let (mut n, mut batch) = (0u64, Vec::with_capacity(256));
                while $rx.recv_many(&mut batch, 256).await > 0 {
                    n += batch.drain(..).map(black_box).count() as u64;
                }
                n
            }
        };
    }

    for (name, overflow) in [
        ("weir_ring_block", Overflow::Block),
        ("weir_ring_drop_oldest", Overflow::DropOldest),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let (tx, mut rx) = ring_channel(1024, overflow);
                producer_consumer(&rt, produce!(tx, send), count!(rx.next(), is_some))
            })
        });
    }
    group.bench_function("weir_ring_block_count", |b| {
        b.iter(|| {
            let (tx, rx) = ring_channel(1024, Overflow::Block);
            producer_consumer(
                &rt,
                produce!(tx, send),
                async move { rx.count().await as u64 },
            )
        })
    });
    group.bench_function("weir_ring_block_recv_many", |b| {
        b.iter(|| {
            let (tx, mut rx) = ring_channel(1024, Overflow::Block);
            producer_consumer(&rt, produce!(tx, send), count_many!(rx))
        })
    });
    group.bench_function("tokio_mpsc_recv_many", |b| {
        b.iter(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            producer_consumer(&rt, produce!(tx, send), count_many!(rx))
        })
    });
    group.bench_function("tokio_mpsc", |b| {
        b.iter(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            producer_consumer(&rt, produce!(tx, send), count!(rx.recv(), is_some))
        })
    });
    group.bench_function("kanal", |b| {
        b.iter(|| {
            let (tx, rx) = kanal::bounded_async(1024);
            producer_consumer(&rt, produce!(tx, send), count!(rx.recv(), is_ok))
        })
    });
    group.bench_function("flume", |b| {
        b.iter(|| {
            let (tx, rx) = flume::bounded(1024);
            producer_consumer(
                &rt,
                produce!(tx, send_async),
                count!(rx.recv_async(), is_ok),
            )
        })
    });
    group.bench_function("async_channel", |b| {
        b.iter(|| {
            let (tx, rx) = async_channel::bounded(1024);
            producer_consumer(&rt, produce!(tx, send), count!(rx.recv(), is_ok))
        })
    });
    group.finish();
}

fn adapters(c: &mut Criterion) {
    let mut group = c.benchmark_group("adapters");
    group.throughput(Throughput::Elements(ADAPTER_ITEMS));
    let source = || futures::stream::iter(0..black_box(ADAPTER_ITEMS));
    // Each item reaches an opaque sink, so that no pipeline folds into a closed form.
    let consume = |x: u64| {
        black_box(x);
    };

    group.bench_function("filter_all", |b| {
        b.iter(|| block_on(source().filter(|_| true).for_each(consume)))
    });
    group.bench_function("drop_oldest_1024", |b| {
        b.iter(|| block_on(source().drop_oldest(1024).for_each(consume)))
    });
    group.bench_function("filter_half", |b| {
        b.iter(|| block_on(source().filter(|x| x % 2 == 0).for_each(consume)))
    });
    // The same half, with a predicate the compiler cannot see through: `filter_half` over a
    // range compiles to a loop that steps by two, which no sampler can match.
    group.bench_function("filter_half_opaque", |b| {
        b.iter(|| block_on(source().filter(|x| black_box(x % 2 == 0)).for_each(consume)))
    });
    group.bench_function("sample_every_2", |b| {
        b.iter(|| block_on(source().sample_every(2).for_each(consume)))
    });
    group.bench_function("sample_seeded_0.5", |b| {
        b.iter(|| block_on(source().sample_seeded(0.5, 1).for_each(consume)))
    });
    group.bench_function("filter_random_half", |b| {
        b.iter(|| {
            let mut rng = SmallRng::seed_from_u64(1);
            block_on(
                source()
                    .filter(move |_| rng.random_bool(0.5))
                    .for_each(consume),
            )
        })
    });
    group.bench_function("filter_1_in_100", |b| {
        b.iter(|| block_on(source().filter(|x| x % 100 == 0).for_each(consume)))
    });
    group.bench_function("sample_seeded_0.01", |b| {
        b.iter(|| block_on(source().sample_seeded(0.01, 1).for_each(consume)))
    });
    group.bench_function("sample_adaptive_at_0.6", |b| {
        b.iter(|| {
            block_on(
                source()
                    .sample_adaptive(|| black_box(0.6))
                    .for_each(consume),
            )
        })
    });
    let rt = common::runtime();
    group.bench_function("sample_latest_1ms", |b| {
        b.iter(|| {
            rt.block_on(
                source()
                    .sample_latest(Duration::from_millis(1))
                    .for_each(consume),
            )
        })
    });
    group.finish();
}

fn keeps_up(c: &mut Criterion) {
    let mut group = c.benchmark_group("keeps_up");
    group.throughput(Throughput::Elements(ADAPTER_ITEMS));
    let source = || common::PendingEvery::new(black_box(ADAPTER_ITEMS), 1);
    let consume = |x: u64| {
        black_box(x);
    };
    group.bench_function("filter_all", |b| {
        b.iter(|| block_on(source().filter(|_| true).for_each(consume)))
    });
    group.bench_function("drop_oldest_1024", |b| {
        b.iter(|| block_on(source().drop_oldest(1024).for_each(consume)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = channel, adapters, keeps_up
}
criterion_main!(benches);
