//! Windows: what a window costs per item, and how sliding windows scale with size / slide.
//!
//! - `tumbling`: `tumbling_window(1 000 ms, Summarize)` over 1 M always-ready readings (one per
//!   millisecond), next to the `map + filter` chain of `benches/operators.rs` on the same
//!   items: a window should cost about as much as one simple operator. `hand_written_loop`
//!   is what a user would write instead over an iterator of the same readings: one
//!   [`Moments`] per second, a window finished when the next one starts. Its accumulator is
//!   the one `Summarize` keeps, so the two differ by the cost of the window operator alone.
//! - `tumbling_merged`: the same tumbling statistics over the same 1 M readings, once from one
//!   source and twice from 4 sources merged with `merge_event_time`, which keeps each
//!   source's watermark: what per-source event time costs next to a single source. In
//!   `4_sources_interleaved` source `j` holds the readings `4i + j`, so every item comes from
//!   another source than the one before (the worst case: split by sensor); in
//!   `4_sources_ranges` each source holds a quarter of the time range (split by line
//!   ranges), so runs of one source go on without a switch.
//! - `sliding_max/<size/slide>`: `sliding_window(size, slide = 10 ms, Max)` over 200 000
//!   readings for size / slide = 10, 100, 1 000 and 10 000, next to a naive sliding max
//!   written here that recomputes each window from the items it keeps (O(size / slide) per
//!   window). weir's cost per item should stay flat as size / slide grows; the naive one's
//!   grows with it.
//! - `keyed_tumbling/<keys>`: `key_by(..).tumbling_window(1 000 ms, Summarize)` over 1 M
//!   readings whose keys take turns among 10, 1 000 and 100 000 keys, next to what a user
//!   would write instead: a hash map from key to [`Moments`] per second (the same hasher),
//!   emptied when the next second starts. weir's cost per item should not grow with the
//!   number of keys any more than the hand-written map's does.

mod common;

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use weir::prelude::*;
use weir::window::{Max, Moments, Summarize};

type Reading = (u64, f64);

/// The reading at millisecond `t`.
fn reading(t: u64) -> Reading {
    (t, (t * 7919 % 1000) as f64 - 500.0)
}

fn readings(n: u64) -> impl Stream<Item = Reading> {
    futures::stream::iter((0..black_box(n)).map(reading))
}

/// Tumbling 1 s statistics over `readings`, driven to the end: the items counted in windows.
#[inline(never)]
fn tumbling_stats(readings: impl Stream<Item = Reading>) -> u64 {
    let windows = readings.tumbling_window(1_000, |r: &Reading| r.0, Summarize(|r: &Reading| r.1));
    block_on(windows.fold(0u64, |n, w| n + w.count))
}

/// The same windows as [`tumbling_stats`] by hand: the readings of one second into one
/// [`Moments`]; the items counted in windows.
#[inline(never)]
fn hand_written_tumbling(n: u64) -> u64 {
    let mut counted = 0;
    let mut open: Option<(u64, Moments)> = None;
    for (ts, value) in (0..black_box(n)).map(reading) {
        let window = ts / 1_000;
        match &mut open {
            Some((w, moments)) if *w == window => moments.add(value),
            _ => {
                if let Some((_, moments)) = open.take() {
                    counted += black_box(moments).count;
                }
                let mut moments = Moments::EMPTY;
                moments.add(value);
                open = Some((window, moments));
            }
        }
    }
    counted + open.map_or(0, |(_, moments)| black_box(moments).count)
}

/// `map + filter` over `n` readings, summed. Out of line, as are the other bodies, so that
/// each is compiled on its own, whatever else the file holds.
#[inline(never)]
fn map_filter(n: u64) -> f64 {
    let s = readings(n).map(|r| r.1 * 3.0).filter(|v| *v > -1_000.0);
    block_on(s.fold(0.0, |a, v| a + v))
}

fn tumbling(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let mut group = c.benchmark_group("tumbling");
    group.throughput(Throughput::Elements(N));
    group.bench_function("weir_tumbling_stats", |b| {
        b.iter(|| tumbling_stats(readings(N)))
    });
    // The two count the same items in windows, or the comparison means nothing.
    assert_eq!(hand_written_tumbling(N), tumbling_stats(readings(N)));
    group.bench_function("hand_written_loop", |b| b.iter(|| hand_written_tumbling(N)));
    group.bench_function("weir_map_filter", |b| b.iter(|| map_filter(N)));
    group.finish();
}

/// `sources` merged by event time.
fn by_time<S: Stream<Item = Reading> + Unpin>(sources: Vec<S>) -> impl Stream<Item = Reading> {
    weir::merge::merge_event_time(sources, |r: &Reading| r.0)
}

fn tumbling_merged(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    const K: u64 = 4;
    let mut group = c.benchmark_group("tumbling_merged");
    group.throughput(Throughput::Elements(N));
    group.bench_function("one_source", |b| b.iter(|| tumbling_stats(readings(N))));
    group.bench_function("4_sources_interleaved", |b| {
        b.iter(|| {
            let sources: Vec<_> = (0..K)
                .map(|j| {
                    futures::stream::iter((0..black_box(N / K)).map(move |i| reading(i * K + j)))
                })
                .collect();
            tumbling_stats(by_time(sources))
        })
    });
    group.bench_function("4_sources_ranges", |b| {
        b.iter(|| {
            let quarter = black_box(N / K);
            let sources: Vec<_> = (0..K)
                .map(|j| futures::stream::iter((j * quarter..(j + 1) * quarter).map(reading)))
                .collect();
            tumbling_stats(by_time(sources))
        })
    });
    group.finish();
}

/// The naive sliding max: keep every item of the last `size` ms; at each slide boundary,
/// scan them all.
fn naive_sliding_max(items: impl Iterator<Item = Reading>, size: u64, slide: u64) -> u64 {
    let mut kept: VecDeque<Reading> = VecDeque::new();
    let mut next_end = slide;
    let mut windows = 0;
    for (t, v) in items {
        while t >= next_end {
            while kept.front().is_some_and(|(kt, _)| *kt + size <= next_end) {
                kept.pop_front();
            }
            let max = kept
                .iter()
                .map(|(_, v)| *v)
                .fold(f64::NEG_INFINITY, f64::max);
            black_box(max);
            windows += 1;
            next_end += slide;
        }
        kept.push_back((t, v));
    }
    windows
}

fn sliding_max(c: &mut Criterion) {
    const N: u64 = 200_000;
    const SLIDE: u64 = 10;
    let mut group = c.benchmark_group("sliding_max");
    group.throughput(Throughput::Elements(N));
    for ratio in [10u64, 100, 1_000, 10_000] {
        let size = ratio * SLIDE;
        group.bench_with_input(BenchmarkId::new("weir", ratio), &size, |b, &size| {
            b.iter(|| {
                let windows = readings(N).sliding_window(
                    size,
                    SLIDE,
                    |r: &Reading| r.0,
                    Max(|r: &Reading| r.1),
                );
                block_on(windows.count())
            })
        });
        group.bench_with_input(BenchmarkId::new("naive", ratio), &size, |b, &size| {
            b.iter(|| {
                naive_sliding_max(
                    (0..black_box(N)).map(|i| (i, (i * 7919 % 1000) as f64 - 500.0)),
                    size,
                    SLIDE,
                )
            })
        });
    }
    group.finish();
}

/// The keyed reading at millisecond `t`, of `keys` keys taking turns.
fn keyed(t: u64, keys: u64) -> (u32, u64, f64) {
    let (ts, value) = reading(t);
    ((t % keys) as u32, ts, value)
}

/// Tumbling 1 s statistics per key over `n` readings of `keys` keys: the items counted.
#[inline(never)]
fn keyed_tumbling_stats(n: u64, keys: u64) -> u64 {
    type Keyed = (u32, u64, f64);
    let readings = futures::stream::iter((0..black_box(n)).map(|t| keyed(t, keys)));
    let windows = readings
        .key_by(|r: &Keyed| r.0)
        .with_hasher(std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default())
        .tumbling_window(1_000, |r: &Keyed| r.1, Summarize(|r: &Keyed| r.2));
    block_on(windows.fold(0u64, |n, (_, w)| n + w.count))
}

/// The same by hand: a map from key to [`Moments`] for the current second, emptied when the
/// next second starts.
#[inline(never)]
fn hand_written_keyed(n: u64, keys: u64) -> u64 {
    let mut counted = 0;
    let mut second = 0;
    let mut open: HashMap<u32, Moments, std::hash::BuildHasherDefault<std::hash::DefaultHasher>> =
        HashMap::default();
    for (key, ts, value) in (0..black_box(n)).map(|t| keyed(t, keys)) {
        if ts / 1_000 != second {
            counted += open.drain().map(|(_, m)| black_box(m).count).sum::<u64>();
            second = ts / 1_000;
        }
        open.entry(key).or_insert(Moments::EMPTY).add(value);
    }
    counted + open.drain().map(|(_, m)| black_box(m).count).sum::<u64>()
}

fn keyed_tumbling(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let mut group = c.benchmark_group("keyed_tumbling");
    group.throughput(Throughput::Elements(N));
    for keys in [10, 1_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("weir", keys), &keys, |b, &keys| {
            b.iter(|| assert_eq!(keyed_tumbling_stats(N, keys), N));
        });
        group.bench_with_input(
            BenchmarkId::new("hand_written_map", keys),
            &keys,
            |b, &keys| {
                b.iter(|| assert_eq!(hand_written_keyed(N, keys), N));
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = windows;
    config = common::config();
    targets = tumbling, tumbling_merged, sliding_max, keyed_tumbling
}
criterion_main!(windows);
