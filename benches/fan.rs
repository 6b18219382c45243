//! Fan-in and fan-out against their peers.
//!
//! - `merge_16_ready`: 16 always-ready sources of 62 500 items each, merged: weir `merge`,
//!   tokio-stream `StreamMap`, futures `select_all`.
//! - `merge_1024_one_active`: 1 023 sources that never yield and one always-ready source of
//!   1 M items: the same three, and weir `merge` of the active source alone (the limit).

use std::hint::black_box;
use std::pin::Pin;
use std::time::Duration;

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
    group.bench_function("weir", |b| b.iter(|| drain(weir::ops::merge(sixteen()))));
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
    group.finish();
}

fn merge_1024_one_active(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_1024_one_active");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("weir", |b| {
        b.iter(|| take(weir::ops::merge(one_active_of(1024)), 1_000_000))
    });
    group.bench_function("weir_one_source_alone", |b| {
        b.iter(|| drain(weir::ops::merge([ready(1_000_000)])))
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
    group.finish();
}

criterion_group! {
    name = merges;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = merge_16_ready, merge_1024_one_active
}
criterion_main!(merges);
