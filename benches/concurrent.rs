//! The async stages against futures-util, on the same sources.
//!
//! - `then`: 1 M items through an async map of ready futures: weir `then`, futures `then`.
//! - `concurrent_ready/{unordered,ordered}`: 1 M items, 16 at once, futures that are ready
//!   at once: weir `map_concurrent_unordered(16)` / `map_concurrent(16)`, futures
//!   `buffer_unordered(16)` / `buffered(16)`.
//! - `concurrent_yield_once/{unordered,ordered}`: the same with futures that return
//!   `Pending` once (waking themselves) before they complete, standing in for a timer or an
//!   I/O wait (criterion cannot use the paused clock): every item goes through a wake-up.
//! - `batch_writes/{1,10,100}`: writes of a simulated 10 ms each (a tokio sleep), concurrency
//!   1, 10 and 100, on a 2-worker runtime: weir `for_each_concurrent` and futures
//!   `for_each_concurrent`. Each run makes `10 × n` writes, so a stage that scales linearly
//!   takes 100 ms whatever `n`, and its throughput grows `n`-fold.

mod common;

use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;

const N: u64 = 1_000_000;
const YIELDING: u64 = 200_000;

/// Ready on its second poll, after waking its task on the first.
struct YieldOnce(Option<u64>, bool);

impl Future for YieldOnce {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if !self.1 {
            self.1 = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.0.take().expect("polled after completion"))
    }
}

fn yield_once(x: u64) -> YieldOnce {
    YieldOnce(Some(x), false)
}

/// Sums every item of a weir stream.
fn sum_weir<S: futures::Stream<Item = u64>>(s: S) -> u64 {
    block_on(weir::StreamOps::fold(s, 0u64, |a, x| a.wrapping_add(x)))
}

/// Sums every item of a stream with futures' `fold`.
fn sum_futures<S: futures::Stream<Item = u64>>(s: S) -> u64 {
    use futures::StreamExt;
    block_on(s.fold(0u64, |a, x| ready(a.wrapping_add(x))))
}

fn then(c: &mut Criterion) {
    let mut group = c.benchmark_group("then");
    group.throughput(Throughput::Elements(N));
    let source = || futures::stream::iter(0..black_box(N));
    group.bench_function("weir", |b| {
        b.iter(|| sum_weir(weir::StreamOps::then(source(), ready)))
    });
    group.bench_function("futures_then", |b| {
        b.iter(|| sum_futures(futures::StreamExt::then(source(), ready)))
    });
    group.finish();
}

/// One group: weir's ordered and unordered stages against futures' `buffered` and
/// `buffer_unordered`, with futures made by `make`.
fn concurrent<Fut>(c: &mut Criterion, name: &str, n: u64, make: fn(u64) -> Fut)
where
    Fut: Future<Output = u64>,
{
    use futures::StreamExt as _;
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(n));
    let source = move || futures::stream::iter(0..black_box(n));
    group.bench_function("unordered/weir", |b| {
        b.iter(|| {
            sum_weir(weir::StreamOps::map_concurrent_unordered(
                source(),
                16,
                make,
            ))
        })
    });
    group.bench_function("unordered/futures_buffer_unordered", |b| {
        b.iter(|| sum_futures(source().map(make).buffer_unordered(16)))
    });
    group.bench_function("ordered/weir", |b| {
        b.iter(|| sum_weir(weir::StreamOps::map_concurrent(source(), 16, make)))
    });
    group.bench_function("ordered/futures_buffered", |b| {
        b.iter(|| sum_futures(source().map(make).buffered(16)))
    });
    group.finish();
}

fn concurrent_ready(c: &mut Criterion) {
    concurrent::<Ready<u64>>(c, "concurrent_ready", N, ready);
}

fn concurrent_yield_once(c: &mut Criterion) {
    concurrent(c, "concurrent_yield_once", YIELDING, yield_once);
}

fn batch_writes(c: &mut Criterion) {
    let rt = common::multi_thread();
    let mut group = c.benchmark_group("batch_writes");
    group.sample_size(10);
    let write = |_: u64| tokio::time::sleep(Duration::from_millis(10));
    for n in [1usize, 10, 100] {
        let writes = 10 * n as u64;
        group.throughput(Throughput::Elements(writes));
        group.bench_function(format!("{n}/weir"), |b| {
            b.iter(|| {
                rt.block_on(weir::StreamOps::for_each_concurrent(
                    weir::iter(0..writes),
                    n,
                    write,
                ))
            })
        });
        group.bench_function(format!("{n}/futures_for_each_concurrent"), |b| {
            b.iter(|| {
                rt.block_on(futures::StreamExt::for_each_concurrent(
                    futures::stream::iter(0..writes),
                    n,
                    write,
                ))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = then, concurrent_ready, concurrent_yield_once, batch_writes
}
criterion_main!(benches);
