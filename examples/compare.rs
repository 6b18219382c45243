//! A quick comparison of weir with its peers, without criterion: about a second per pair.
//!
//! `cargo run --release --example compare` prints a table of throughputs and ratios;
//! `-- --json` prints the same as JSON. Each side of a pair runs its workload repeatedly for
//! about half a second and keeps its best run; both sides run in the same process, one after
//! the other, on the same source. For the careful numbers, use `cargo bench`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use weir::window::Max;

/// Runs `work` (which processes `items` items) for about `budget`, returning the best rate.
fn best_rate(items: u64, budget: Duration, mut work: impl FnMut() -> u64) -> f64 {
    let started = Instant::now();
    let mut best = f64::MAX;
    while started.elapsed() < budget || best == f64::MAX {
        let t = Instant::now();
        black_box(work());
        best = best.min(t.elapsed().as_secs_f64());
    }
    items as f64 / best
}

struct Pair {
    name: &'static str,
    peer: &'static str,
    items: u64,
    weir: Box<dyn FnMut() -> u64>,
    other: Box<dyn FnMut() -> u64>,
}

type BoxedSource = std::pin::Pin<Box<dyn futures::Stream<Item = u64> + Send>>;

/// Sixteen always-ready sources of `total / 16` items each.
fn sixteen_sources(total: u64) -> Vec<BoxedSource> {
    (0..16)
        .map(|_| Box::pin(futures::stream::iter(0..black_box(total / 16))) as BoxedSource)
        .collect()
}

/// Counts the items of `stream` on the calling thread.
fn drain_blocking(stream: impl futures::Stream + Unpin) -> u64 {
    use futures::StreamExt;
    futures::executor::block_on(stream.fold(0, |n, item| {
        black_box(item);
        async move { n + 1 }
    }))
}

/// Waits for every subscriber task and adds up the items each accounted for.
async fn accounted(subscribers: Vec<tokio::task::JoinHandle<u64>>) -> u64 {
    let mut total = 0;
    for subscriber in subscribers {
        total += subscriber.await.expect("a subscriber task panicked");
    }
    total
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn pairs() -> Vec<Pair> {
    const N: u64 = 1_000_000;
    let rt = std::rc::Rc::new(current_thread());
    let mt = std::rc::Rc::new(multi_thread());
    let (rt1, rt2) = (rt.clone(), rt.clone());
    let (mt1, mt2, mt3, mt4) = (mt.clone(), mt.clone(), mt.clone(), mt.clone());
    vec![
        Pair {
            name: "map + filter + sum",
            peer: "tokio-stream",
            items: N,
            weir: Box::new(|| {
                use weir::StreamOps;
                let s = futures::stream::iter(0..black_box(N))
                    .map(|x| x * 3)
                    .filter(|x| x % 7 != 0);
                futures::executor::block_on(s.fold(0u64, |a, x| a.wrapping_add(x)))
            }),
            other: Box::new(|| {
                use tokio_stream::StreamExt;
                let s = futures::stream::iter(0..black_box(N))
                    .map(|x| x * 3)
                    .filter(|x| x % 7 != 0);
                futures::executor::block_on(s.fold(0u64, |a, x| a.wrapping_add(x)))
            }),
        },
        Pair {
            name: "chunks_timeout(100, 1 s)",
            peer: "tokio-stream",
            items: N,
            weir: Box::new(move || {
                use weir::StreamOps;
                let s = futures::stream::iter(0..black_box(N))
                    .chunks_timeout(100, Duration::from_secs(1));
                rt1.block_on(s.fold(0, |a, b| a + b.len() as u64))
            }),
            other: Box::new(move || {
                use tokio_stream::StreamExt;
                let s = futures::stream::iter(0..black_box(N))
                    .chunks_timeout(100, Duration::from_secs(1));
                rt2.block_on(s.fold(0, |a, b| a + b.len() as u64))
            }),
        },
        Pair {
            name: "bounded channel 1P1C",
            peer: "tokio mpsc",
            items: N,
            weir: Box::new(move || {
                mt1.block_on(async {
                    let (tx, rx) = weir::channel::ring_channel(1024, weir::Overflow::Block);
                    let p = tokio::spawn(async move {
                        for i in 0..N {
                            tx.send(i).await.unwrap();
                        }
                    });
                    let n = tokio::spawn(weir::StreamOps::count(rx)).await.unwrap();
                    p.await.unwrap();
                    n as u64
                })
            }),
            other: Box::new(move || {
                mt2.block_on(async {
                    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
                    let p = tokio::spawn(async move {
                        for i in 0..N {
                            tx.send(i).await.unwrap();
                        }
                    });
                    let c = tokio::spawn(async move {
                        let mut n = 0;
                        while rx.recv().await.is_some() {
                            n += 1;
                        }
                        n
                    });
                    p.await.unwrap();
                    c.await.unwrap()
                })
            }),
        },
        Pair {
            name: "merge of 16 ready sources",
            peer: "futures select_all",
            items: N,
            weir: Box::new(|| drain_blocking(weir::merge::merge(sixteen_sources(N)))),
            other: Box::new(|| drain_blocking(futures::stream::select_all(sixteen_sources(N)))),
        },
        Pair {
            name: "broadcast, 4 lagging subscribers",
            peer: "tokio broadcast",
            items: N,
            weir: Box::new(move || {
                mt3.block_on(async {
                    let (mut publisher, first) = weir::channel::broadcast::<u64>(1024);
                    drop(first);
                    let subs: Vec<_> = (0..4)
                        .map(|_| {
                            let mut s = publisher.subscribe();
                            tokio::spawn(async move {
                                while weir::StreamOps::next(&mut s).await.is_some() {}
                                s.received() + s.lagged()
                            })
                        })
                        .collect();
                    tokio::spawn(async move {
                        for i in 0..N {
                            publisher.feed(i).await;
                            if i % 256 == 0 {
                                publisher.flush();
                                tokio::task::yield_now().await;
                            }
                        }
                    })
                    .await
                    .unwrap();
                    accounted(subs).await
                })
            }),
            other: Box::new(move || {
                mt4.block_on(async {
                    let (tx, _) = tokio::sync::broadcast::channel::<u64>(1024);
                    let subs: Vec<_> = (0..4)
                        .map(|_| {
                            let mut rx = tx.subscribe();
                            tokio::spawn(async move {
                                let mut n = 0;
                                loop {
                                    match rx.recv().await {
                                        Ok(_) => n += 1,
                                        Err(tokio::sync::broadcast::error::RecvError::Lagged(
                                            k,
                                        )) => n += k,
                                        Err(_) => return n,
                                    }
                                }
                            })
                        })
                        .collect();
                    tokio::spawn(async move {
                        for i in 0..N {
                            let _ = tx.send(i);
                            if i % 256 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    })
                    .await
                    .unwrap();
                    accounted(subs).await
                })
            }),
        },
        Pair {
            name: "sliding max, size / slide = 1000",
            peer: "naive recomputation",
            items: 100_000,
            weir: Box::new(|| {
                use weir::StreamOps;
                let s =
                    weir::iter((0..black_box(100_000u64)).map(|i| (i, (i * 7919 % 1000) as f64)))
                        .sliding_window(
                            10_000,
                            10,
                            |r: &(u64, f64)| r.0,
                            Max(|r: &(u64, f64)| r.1),
                        );
                futures::executor::block_on(s.count()) as u64
            }),
            other: Box::new(|| {
                let mut kept = std::collections::VecDeque::new();
                let (mut next_end, mut windows) = (10u64, 0u64);
                for i in 0..black_box(100_000u64) {
                    while i >= next_end {
                        while kept
                            .front()
                            .is_some_and(|(t, _): &(u64, f64)| t + 10_000 <= next_end)
                        {
                            kept.pop_front();
                        }
                        black_box(kept.iter().map(|(_, v)| *v).fold(f64::MIN, f64::max));
                        windows += 1;
                        next_end += 10;
                    }
                    kept.push_back((i, (i * 7919 % 1000) as f64));
                }
                windows
            }),
        },
    ]
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut pairs = pairs();
    let bar = indicatif::ProgressBar::new(pairs.len() as u64 * 2);
    let mut rows = Vec::new();
    for pair in &mut pairs {
        bar.set_message(pair.name);
        let weir = best_rate(pair.items, Duration::from_millis(500), &mut pair.weir);
        bar.inc(1);
        let other = best_rate(pair.items, Duration::from_millis(500), &mut pair.other);
        bar.inc(1);
        rows.push((pair.name, pair.peer, weir, other));
    }
    bar.finish_and_clear();
    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(name, peer, weir, other)| {
                serde_json::json!({
                    "workload": name, "peer": peer,
                    "weir_items_per_s": weir, "peer_items_per_s": other,
                    "ratio": weir / other,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    println!(
        "{:<34} {:<20} {:>12} {:>12} {:>8}",
        "workload", "peer", "weir", "peer", "ratio"
    );
    for (name, peer, weir, other) in rows {
        println!(
            "{name:<34} {peer:<20} {:>10.1} M/s {:>8.1} M/s {:>7.2}x",
            weir / 1e6,
            other / 1e6,
            weir / other
        );
    }
    println!("\nratio = weir's throughput / the peer's, best of ~0.5 s each, same process.");
}
