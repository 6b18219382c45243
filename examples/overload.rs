//! A producer ten times faster than its consumer, for 20 M events: memory through weir's
//! `ring_channel(1024, DropOldest)` against an unbounded tokio channel.
//!
//! `cargo run --release --example overload` runs each channel in a child process of its own (so
//! each has its own peak resident memory) and prints, at checkpoints while the producer runs,
//! the peak resident memory (VmHWM from /proc/self/status), the queue length and what was
//! dropped. A run stops when the producer is done.

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use weir::prelude::*;

const EVENTS: u64 = 20_000_000;
const CHECKPOINTS: u64 = 10;

/// A 64-byte event.
#[derive(Debug, Clone, Copy)]
struct Event {
    id: u64,
    payload: [u64; 7],
}

impl Event {
    fn new(id: u64) -> Self {
        Event {
            id,
            payload: [id; 7],
        }
    }
}

/// The consumer's work per event: `rounds` rounds of integer mixing.
fn work(event: &Event, rounds: u32) -> u64 {
    let mut x = event.id ^ event.payload[3];
    for _ in 0..rounds {
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    }
    x
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Rounds of `work` that take ten times as long as one send into a ring channel.
fn calibrate() -> u32 {
    let (tx, _rx) = ring_channel(1024, Overflow::DropOldest);
    let n = 2_000_000u64;
    let start = Instant::now();
    for i in 0..n {
        black_box(tx.try_send(Event::new(i)).unwrap());
    }
    let send = start.elapsed().as_secs_f64() / n as f64;
    let probe = black_box(1_000u32);
    let start = Instant::now();
    for i in 0..100_000u64 {
        black_box(work(black_box(&Event::new(i)), probe));
    }
    let per_round = start.elapsed().as_secs_f64() / 100_000.0 / f64::from(probe);
    ((10.0 * send / per_round).round() as u32).max(1)
}

fn checkpoint(produced: u64, queued: usize, dropped: usize, started: Instant) {
    println!(
        "  {:>5.1} s  produced {:>10}  queued {:>10}  dropped {:>10}  peak RSS {:>8.1} MiB",
        started.elapsed().as_secs_f64(),
        produced,
        queued,
        dropped,
        mib(status_kib("VmHWM:"))
    );
}

fn run_ring(rounds: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = ring_channel(1024, Overflow::DropOldest);
        let stats = rx.stats();
        let consumer = tokio::spawn(async move {
            let mut rx = rx;
            let mut sink = 0u64;
            while let Some(event) = rx.next().await {
                sink = sink.wrapping_add(work(&event, rounds));
            }
            sink
        });
        let started = Instant::now();
        for i in 0..EVENTS {
            tx.try_send(Event::new(i)).unwrap();
            if (i + 1) % (EVENTS / CHECKPOINTS) == 0 {
                checkpoint(i + 1, tx.len(), stats.dropped(), started);
                tokio::task::yield_now().await;
            }
        }
        println!("  producer done: {stats}");
        drop(tx);
        consumer.abort();
    });
}

fn run_unbounded(rounds: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let consumed = Arc::new(AtomicU64::new(0));
        let counter = consumed.clone();
        let consumer = tokio::spawn(async move {
            let mut sink = 0u64;
            while let Some(event) = rx.recv().await {
                sink = sink.wrapping_add(work(&event, rounds));
                counter.fetch_add(1, Ordering::Relaxed);
            }
            sink
        });
        // The unbounded channel drops nothing: everything not yet consumed is queued.
        let queued = |produced: u64| (produced - consumed.load(Ordering::Relaxed)) as usize;
        let started = Instant::now();
        for i in 0..EVENTS {
            tx.send(Event::new(i)).unwrap();
            if (i + 1) % (EVENTS / CHECKPOINTS) == 0 {
                checkpoint(i + 1, queued(i + 1), 0, started);
                tokio::task::yield_now().await;
            }
        }
        println!(
            "  producer done: {} events queued, none dropped",
            queued(EVENTS)
        );
        consumer.abort();
    });
}

fn main() {
    let mode = std::env::args().nth(1);
    match mode.as_deref() {
        Some("ring") | Some("unbounded") => {
            let rounds: u32 = std::env::args()
                .nth(2)
                .and_then(|r| r.parse().ok())
                .expect("rounds");
            if mode.as_deref() == Some("ring") {
                run_ring(rounds)
            } else {
                run_unbounded(rounds)
            }
        }
        _ => {
            let rounds = calibrate();
            println!(
                "{EVENTS} events of {} bytes; the consumer does {rounds} rounds of work per event \
                 (ten sends' worth)",
                std::mem::size_of::<Event>()
            );
            let exe = std::env::current_exe().expect("own path");
            for (mode, title) in [
                ("ring", "weir ring_channel(1024, DropOldest)"),
                ("unbounded", "tokio unbounded_channel"),
            ] {
                println!("\n{title}:");
                let started = Instant::now();
                let status = Command::new(&exe)
                    .args([mode, &rounds.to_string()])
                    .status()
                    .expect("running a child");
                assert!(status.success(), "{mode} run failed");
                println!("  run took {:.1} s", started.elapsed().as_secs_f64());
            }
        }
    }
}
