//! weir's single-stream operators against their nearest peers, on the same sources.
//!
//! - `map_filter`: map(x*3) + filter(x%7 != 0) + sum over an always-ready source, against
//!   tokio-stream (synchronous predicate, the same semantics), futures-util (async predicate)
//!   and a plain `Iterator` (the ceiling). The sum is a `fold`; `map_filter_next`,
//!   `map_filter_for_each` and `map_filter_collect` consume the same chain the other ways a
//!   user does (`while let Some(x) = s.next().await`, `for_each`, `collect` into a `Vec`),
//!   each library's chain with that library's consumer (tokio-stream has no `for_each`: its
//!   chain goes to futures-util's), on a tokio current-thread runtime.
//! - `chunks_timeout/ready` and `chunks_timeout/pending_every_1000`: batches of 100 with a 1 s
//!   timeout, against tokio-stream's `chunks_timeout`, and (for the pausing source) against
//!   draining the source with no batching at all (the limit).
//! - `small_adapters`: `inspect` (adding each item to a counter), `enumerate` and `chunks(100)`
//!   over an always-ready source, against futures-util's adapters of the same names and
//!   semantics. Each output goes to an opaque sink (`black_box`), not into a sum: summed, a
//!   pipeline over a range can fold into a closed form (an enumerated range's `index ^ item` is
//!   always 0), and the figure then measures what the compiler proved, not the adapter.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;

use common::PendingEvery;

const N: u64 = 1_000_000;

fn map_filter(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_filter");
    group.throughput(Throughput::Elements(N));

    group.bench_function("weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let s = futures::stream::iter(0..black_box(N))
                .map(|x| x.wrapping_mul(3))
                .filter(|x| x % 7 != 0);
            block_on(s.fold(0u64, |acc, x| acc.wrapping_add(x)))
        })
    });
    group.bench_function("tokio_stream", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let s = futures::stream::iter(0..black_box(N))
                .map(|x| x.wrapping_mul(3))
                .filter(|x| x % 7 != 0);
            block_on(s.fold(0u64, |acc, x| acc.wrapping_add(x)))
        })
    });
    group.bench_function("futures_util", |b| {
        b.iter(|| {
            use futures::StreamExt;
            let s = futures::stream::iter(0..black_box(N))
                .map(|x| x.wrapping_mul(3))
                .filter(|x| futures::future::ready(x % 7 != 0));
            block_on(s.fold(0u64, |acc, x| futures::future::ready(acc.wrapping_add(x))))
        })
    });
    group.bench_function("iterator", |b| {
        b.iter(|| {
            (0..black_box(N))
                .map(|x| x.wrapping_mul(3))
                .filter(|x| x % 7 != 0)
                .fold(0u64, |acc, x| acc.wrapping_add(x))
        })
    });
    group.finish();
}

/// The chain every `map_filter_*` group consumes, from one library's extension trait.
macro_rules! chain {
    ($ext:path) => {{
        use $ext;
        futures::stream::iter(0..black_box(N))
            .map(|x: u64| x.wrapping_mul(3))
            .filter(|x| x % 7 != 0)
    }};
}

/// One group per way of consuming `map + filter`: weir's chain and consumer against
/// tokio-stream's.
fn map_filter_consumers(c: &mut Criterion) {
    let rt = common::runtime();
    let mut group = c.benchmark_group("map_filter_next");
    group.throughput(Throughput::Elements(N));
    group.bench_function("weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let mut s = chain!(weir::StreamOps);
            rt.block_on(async {
                let mut sum = 0u64;
                while let Some(x) = s.next().await {
                    sum = sum.wrapping_add(x);
                }
                sum
            })
        })
    });
    group.bench_function("tokio_stream", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let mut s = chain!(tokio_stream::StreamExt);
            rt.block_on(async {
                let mut sum = 0u64;
                while let Some(x) = s.next().await {
                    sum = sum.wrapping_add(x);
                }
                sum
            })
        })
    });
    group.bench_function("weir_futures_executor", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let mut s = chain!(weir::StreamOps);
            block_on(async {
                let mut sum = 0u64;
                while let Some(x) = s.next().await {
                    sum = sum.wrapping_add(x);
                }
                sum
            })
        })
    });
    group.bench_function("tokio_stream_futures_executor", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let mut s = chain!(tokio_stream::StreamExt);
            block_on(async {
                let mut sum = 0u64;
                while let Some(x) = s.next().await {
                    sum = sum.wrapping_add(x);
                }
                sum
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("map_filter_for_each");
    group.throughput(Throughput::Elements(N));
    group.bench_function("weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let mut sum = 0u64;
            rt.block_on(chain!(weir::StreamOps).for_each(|x| sum = sum.wrapping_add(x)));
            sum
        })
    });
    group.bench_function("tokio_stream", |b| {
        // tokio-stream has no `for_each`: its chain, consumed by futures-util's.
        b.iter(|| {
            let mut sum = 0u64;
            let each = |x: u64| {
                sum = sum.wrapping_add(x);
                futures::future::ready(())
            };
            rt.block_on(futures::StreamExt::for_each(
                chain!(tokio_stream::StreamExt),
                each,
            ));
            sum
        })
    });
    group.finish();

    let mut group = c.benchmark_group("map_filter_collect");
    group.throughput(Throughput::Elements(N));
    group.bench_function("weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let v: Vec<u64> = rt.block_on(chain!(weir::StreamOps).collect());
            v
        })
    });
    group.bench_function("tokio_stream", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let v: Vec<u64> = rt.block_on(chain!(tokio_stream::StreamExt).collect());
            v
        })
    });
    group.finish();
}

const CHUNK: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(1);

fn chunks_timeout(c: &mut Criterion) {
    let rt = common::runtime();
    let mut group = c.benchmark_group("chunks_timeout");
    group.throughput(Throughput::Elements(N));

    group.bench_function("ready/weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let s = futures::stream::iter(0..black_box(N)).chunks_timeout(CHUNK, TIMEOUT);
            rt.block_on(s.fold(0usize, |acc, batch| acc + batch.len()))
        })
    });
    group.bench_function("ready/tokio_stream", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let s = futures::stream::iter(0..black_box(N)).chunks_timeout(CHUNK, TIMEOUT);
            rt.block_on(s.fold(0usize, |acc, batch| acc + batch.len()))
        })
    });
    group.bench_function("pending_every_1000/weir", |b| {
        b.iter(|| {
            use weir::StreamOps;
            let s = PendingEvery::new(black_box(N), 1000).chunks_timeout(CHUNK, TIMEOUT);
            rt.block_on(s.fold(0usize, |acc, batch| acc + batch.len()))
        })
    });
    group.bench_function("pending_every_1000/tokio_stream", |b| {
        b.iter(|| {
            use tokio_stream::StreamExt;
            let s = PendingEvery::new(black_box(N), 1000).chunks_timeout(CHUNK, TIMEOUT);
            rt.block_on(s.fold(0usize, |acc, batch| acc + batch.len()))
        })
    });
    group.bench_function("pending_every_1000/drain_unbatched", |b| {
        b.iter(|| {
            use futures::StreamExt;
            let mut s = PendingEvery::new(black_box(N), 1000);
            rt.block_on(async {
                let mut n = 0usize;
                while let Some(x) = s.next().await {
                    n += 1;
                    black_box(x);
                }
                n
            })
        })
    });
    group.finish();
}

/// Hands every item of `s` to an opaque sink.
fn drain<S: futures::Stream>(s: S) {
    block_on(weir::StreamOps::for_each(s, |x| {
        black_box(x);
    }))
}

fn small_adapters(c: &mut Criterion) {
    use futures::StreamExt as F;
    use weir::StreamOps as W;
    let mut group = c.benchmark_group("small_adapters");
    group.throughput(Throughput::Elements(N));
    let source = || futures::stream::iter(0..black_box(N));
    group.bench_function("inspect/weir", |b| {
        b.iter(|| {
            let mut seen = 0u64;
            drain(W::inspect(source(), |x| seen = seen.wrapping_add(*x)));
            black_box(seen)
        })
    });
    group.bench_function("inspect/futures", |b| {
        b.iter(|| {
            let mut seen = 0u64;
            drain(F::inspect(source(), |x| seen = seen.wrapping_add(*x)));
            black_box(seen)
        })
    });
    group.bench_function("enumerate/weir", |b| {
        b.iter(|| drain(W::enumerate(source())))
    });
    group.bench_function("enumerate/futures", |b| {
        b.iter(|| drain(F::enumerate(source())))
    });
    group.bench_function("chunks/weir", |b| {
        b.iter(|| drain(W::chunks(source(), 100)))
    });
    group.bench_function("chunks/futures", |b| {
        b.iter(|| drain(F::chunks(source(), 100)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = map_filter, map_filter_consumers, chunks_timeout, small_adapters
}
criterion_main!(benches);
