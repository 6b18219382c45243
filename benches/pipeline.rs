//! End to end: 3 sources merged, processed (normalize, severity), sampled, aggregated in 1 s
//! tumbling windows, and the windows broadcast to 3 subscribers. Throughput is source events
//! per second.
//!
//! - `compact`: events as a small `Copy` struct (timestamp, value, source index): the cost of
//!   weir's operators themselves.
//! - `event`: the domain's `Event` (with its `String` source, a new one per event when the
//!   sources make them): what the `weir` pipeline pays.
//! - `event_empty_source`: the same `Event`s with an empty `source` (a `String` that allocates
//!   nothing): the operators' cost on full events without the allocator's, one allocation and
//!   one free per event.
//! - `event_sources_only`: the `event` variant's sources drained one after the other with no
//!   operator, each `Event` made (its `source` allocated) and dropped: the floor under `event`.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir::channel::Delivery;
use weir::event::{Event, EventType, calculate_severity, normalize_value, process_event};
use weir::prelude::*;
use weir::window::{Aggregate, Moments};

const PER_SOURCE: u64 = 1_000_000;

#[derive(Clone, Copy)]
struct Reading {
    ts: u64,
    value: f64,
}

/// Severity counts and value moments: the window aggregate of both variants.
#[derive(Clone, Copy)]
struct BySeverity;

impl Aggregate<(u64, f64, u8)> for BySeverity {
    type Acc = (Moments, [u64; 4]);
    type Output = (Moments, [u64; 4]);
    fn init(&self) -> Self::Acc {
        (Moments::EMPTY, [0; 4])
    }
    // `#[inline]`, as `Aggregate::add`'s docs advise for an accumulator on the hot path.
    #[inline]
    fn add(&self, acc: &mut Self::Acc, item: &(u64, f64, u8)) {
        acc.0.add(item.1);
        acc.1[item.2 as usize] += 1;
    }
    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let mut by = a.1;
        for (x, y) in by.iter_mut().zip(b.1) {
            *x += y;
        }
        (a.0.combine(&b.0), by)
    }
    fn result(&self, acc: &Self::Acc) -> Self::Output {
        *acc
    }
}

/// Runs the windows into a 3-way broadcast and waits for every subscriber.
async fn fan_out<S>(windows: S) -> u64
where
    S: Stream<Item = weir::window::Window<(Moments, [u64; 4])>> + Send + 'static,
{
    let (task, subscribers) = windows.fan_out_with([Delivery::Critical; 3], 64);
    let counts: Vec<_> = subscribers
        .into_iter()
        .map(|s| tokio::spawn(s.fold(0u64, |n, w| n + w.count)))
        .collect();
    let mut total = 0;
    for c in counts {
        total += c.await.unwrap();
    }
    task.await.unwrap();
    total
}

fn compact_source(s: u64) -> impl Stream<Item = Reading> + Send {
    weir::iter((0..black_box(PER_SOURCE)).map(move |i| Reading {
        ts: i,
        value: ((i * 37 + s * 11) % 100) as f64,
    }))
}

/// Event `i` of source `s`, its `source` empty (no allocation).
fn event(s: u64, i: u64) -> Event {
    Event {
        id: i,
        timestamp: i,
        source: String::new(),
        value: ((i * 37 + s * 11) % 100) as f64,
        event_type: EventType::Metric,
    }
}

/// Source `s` of the `event` variant: each event's `source` a new `String` copied from the
/// source's name.
///
/// Copied with `as_str().to_owned()` rather than `clone()`: both allocate once and copy the
/// same bytes, but the compiler keeps `String::clone` a call here, which returns the new
/// `String` through memory, and the caller reads it back with wider loads than the stores
/// that wrote it, which stalls the processor (`docs/BENCHMARKS.md` has the measurement);
/// `to_owned` is inlined into the source and keeps the `String` in registers.
fn named_source(s: u64) -> impl Stream<Item = Event> + Send + Unpin + 'static {
    let name = format!("sensor-{s}");
    weir::iter((0..black_box(PER_SOURCE)).map(move |i| Event {
        source: name.as_str().to_owned(),
        ..event(s, i)
    }))
}

/// The `event` variants' pipeline over `sources`: merged, processed, sampled, windowed.
fn event_windows<S>(
    sources: [S; 3],
) -> impl Stream<Item = weir::window::Window<(Moments, [u64; 4])>> + Send + 'static
where
    S: Stream<Item = Event> + Send + Unpin + 'static,
{
    weir::merge::merge(sources)
        .map(process_event)
        .sample_seeded(0.9, 7)
        .map(|p| (p.original.timestamp, p.original.value, p.severity as u8))
        .tumbling_window(1_000, |r: &(u64, f64, u8)| r.0, BySeverity)
}

fn pipeline(c: &mut Criterion) {
    let rt = common::runtime();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(3 * PER_SOURCE));
    group.bench_function("compact", |b| {
        b.iter(|| {
            let merged =
                weir::merge::merge([compact_source(0), compact_source(1), compact_source(2)]);
            let windows = merged
                .map(|r| {
                    let severity = calculate_severity(normalize_value(r.value, 0.0, 100.0));
                    (r.ts, r.value, severity as u8)
                })
                .sample_seeded(0.9, 7)
                .tumbling_window(1_000, |r: &(u64, f64, u8)| r.0, BySeverity);
            rt.block_on(fan_out(windows))
        })
    });
    group.bench_function("event", |b| {
        b.iter(|| {
            rt.block_on(fan_out(event_windows([
                named_source(0),
                named_source(1),
                named_source(2),
            ])))
        })
    });
    group.bench_function("event_sources_only", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut ids = 0;
                for s in 0..3 {
                    ids += named_source(s).fold(0u64, |n, e| n ^ black_box(e).id).await;
                }
                ids
            })
        })
    });
    group.bench_function("event_empty_source", |b| {
        b.iter(|| {
            let source = |s: u64| weir::iter((0..black_box(PER_SOURCE)).map(move |i| event(s, i)));
            rt.block_on(fan_out(event_windows([source(0), source(1), source(2)])))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = pipeline
}
criterion_main!(benches);
