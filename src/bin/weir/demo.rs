//! `weir demo`: a real-time event pipeline over simulated sources.
//!
//! Five sources (three sensors, a log, a metrics feed) send into drop-oldest ring channels.
//! Their streams are merged, normalized and graded in front of a deliberately slow consumer,
//! and fanned out to three consumers: analytics (1 s tumbling windows with a 3 s moving
//! average, checked for anomalies against the first full window), alerting (critical events) and storage (batches). It runs for
//! `--duration` (4 s by default) and ends with a report.

use std::time::{Duration, Instant};

use weir::event::{
    Event, EventStream, EventType, ProcessedEvent, Severity, WindowedStats, batch_events,
    create_tumbling_window, detect_anomalies, process_event, write_batch_to_storage,
};
use weir::ops::Policy;
use weir::ops::window::Aggregate;
use weir::prelude::*;
use weir::{BackpressureStats, StatsHandle};

/// `weir demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How long the sources send.
    #[arg(long, default_value = "8s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Simulated sensors, besides the log and metrics sources (1 to 32).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub sensors: u8,
    /// Events per second each source sends (at least 1000).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// What the sources' channels drop when the consumer falls behind.
    #[arg(long, value_enum, default_value_t = Strategy::DropOldest)]
    pub strategy: Strategy,
    /// Capacity of each source's channel.
    #[arg(long, default_value_t = 256)]
    pub buffer: usize,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            duration: Duration::from_secs(8),
            sensors: 3,
            rate: 1_000,
            strategy: Strategy::DropOldest,
            buffer: 256,
        }
    }
}

/// The demo's backpressure strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Keep the freshest events.
    DropOldest,
    /// Keep the oldest queued events, drop new ones.
    DropNewest,
}

/// A simulated source: its name and its value for the `i`-th event in the given third of the
/// run (0, 1 or 2).
type Source = (String, fn(usize, usize) -> f64);

/// How sensor `k` behaves: one of three shapes, the third going hot for the last third of
/// the run (the anomaly detector notices).
const SENSOR_SHAPES: [fn(usize, usize) -> f64; 3] = [
    |i, _| (i as f64 * 3.7) % 100.0,
    |i, _| 40.0 + (i as f64 * 0.37).sin() * 30.0,
    |i, phase| if phase == 2 { 99.0 } else { (i % 60) as f64 },
];

/// Runs the simulated sources on a thread of their own, so that the slow consumer cannot
/// slow them down. Each sends `rate` events per second for `duration` into a ring channel
/// that drops (oldest or newest) when full: a source never waits, and every drop is
/// counted. Returns the receivers and the channels'
/// counters.
fn start_sources(
    sources: Vec<Source>,
    args: &DemoArgs,
) -> (Vec<EventStream<Event>>, Vec<StatsHandle>) {
    let overflow = match args.strategy {
        Strategy::DropOldest => Overflow::DropOldest,
        Strategy::DropNewest => Overflow::DropNewest,
    };
    let ticks = args.duration.as_millis() as usize;
    let per_tick = (args.rate / 1_000).max(1) as usize;
    let (mut streams, mut stats, mut senders) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in sources {
        let (tx, rx) = ring_channel(args.buffer.max(1), overflow);
        stats.push(rx.stats());
        senders.push((name, value, tx));
        streams.push(Box::pin(rx) as EventStream<Event>);
    }
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("building the sources' runtime");
        rt.block_on(async move {
            let tasks: Vec<_> = senders
                .into_iter()
                .map(|(name, value, tx)| {
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_millis(1));
                        for t in 0..ticks {
                            tick.tick().await;
                            for k in 0..per_tick {
                                let i = t * per_tick + k;
                                let phase = i * 3 / (ticks * per_tick).max(1);
                                let event = Event::new(
                                    i as u64,
                                    name.as_str(),
                                    value(i, phase),
                                    EventType::ALL[i % 4],
                                );
                                if tx.try_send(event).is_err() {
                                    return; // the receiver is gone
                                }
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });
    });
    (streams, stats)
}

/// The sources' channels' counters, added up.
fn total(stats: &[StatsHandle]) -> BackpressureStats {
    let sum = BackpressureStats::new();
    for s in stats {
        sum.record_received(s.received());
        sum.record_processed(s.processed());
        sum.record_dropped(s.dropped());
    }
    sum
}

/// Over a run of windows: the latest one, and the mean value over all their events.
#[derive(Debug, Clone, Copy)]
struct Trailing;

impl Aggregate<WindowedStats> for Trailing {
    /// The latest window, the sum of the values, the number of events.
    type Acc = (Option<WindowedStats>, f64, usize);
    /// The latest window and the moving average.
    type Output = (Option<WindowedStats>, f64);

    fn init(&self) -> Self::Acc {
        (None, 0.0, 0)
    }

    fn add(&self, acc: &mut Self::Acc, w: &WindowedStats) {
        acc.0 = Some(w.clone());
        acc.1 += w.avg_value * w.event_count as f64;
        acc.2 += w.event_count;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        (b.0.clone().or_else(|| a.0.clone()), a.1 + b.1, a.2 + b.2)
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        let mean = if acc.2 == 0 {
            0.0
        } else {
            acc.1 / acc.2 as f64
        };
        (acc.0.clone(), mean)
    }
}

fn severity_line(w: &WindowedStats) -> String {
    let n = |s| w.severity_counts.get(&s).copied().unwrap_or(0);
    format!(
        "L/M/H/C {:>4}/{:>4}/{:>4}/{:>4}",
        n(Severity::Low),
        n(Severity::Medium),
        n(Severity::High),
        n(Severity::Critical)
    )
}

/// Runs the demo.
pub async fn demo(args: DemoArgs) {
    let started = Instant::now();
    println!(
        "weir demo: {} sensors, a log and a metrics source through {:?} channels, merged, graded, windowed, fanned out\n",
        args.sensors, args.strategy
    );

    let mut sources: Vec<Source> = (0..usize::from(args.sensors))
        .map(|k| (format!("sensor-{k}"), SENSOR_SHAPES[k % 3]))
        .collect();
    // A log source that also goes hot late in the run, and a steady metrics feed.
    sources.push(("app-log".to_owned(), |i, phase| {
        if phase == 2 {
            95.0
        } else {
            ((i * 17) % 50) as f64
        }
    }));
    sources.push(("cpu-metrics".to_owned(), |i, _| 20.0 + (i % 70) as f64));
    let source_count = sources.len() as u64;
    let (sources, channel_stats) = start_sources(sources, &args);
    let total_events = source_count * args.duration.as_millis() as u64 * (args.rate / 1_000).max(1);
    let progress = indicatif::ProgressBar::new(total_events);
    // Deliberately slow: blocking work every 64 events, sized to handle about 64% of what
    // comes in. The sources' ring channels fill up and drop, and every drop is counted.
    let pause =
        Duration::from_micros(64 * 1_000_000 / (source_count * args.rate.max(1_000) * 64 / 100));
    let mut seen = 0u64;
    let bar = progress.clone();
    let events = weir::ops::merge(sources).map(process_event).map(move |e| {
        seen += 1;
        if seen % 64 == 0 {
            bar.inc(64);
            std::thread::sleep(pause);
        }
        e
    });
    let (driver, mut subs) =
        events.fan_out_with([Policy::Critical, Policy::Critical, Policy::Lagging], 1024);
    let alerting = subs.pop().expect("three subscribers");
    let storage = subs.pop().expect("three subscribers");
    let analytics = subs.pop().expect("three subscribers");

    let storage = tokio::spawn(async move {
        let mut batches = pin!(batch_events(storage, 200, Duration::from_millis(100)));
        let (mut written, mut count) = (0, 0);
        while let Some(batch) = batches.next().await {
            written += write_batch_to_storage(&batch).await;
            count += 1;
        }
        (written, count)
    });
    let alerting = tokio::spawn(
        alerting
            .filter(|e: &ProcessedEvent| e.severity == Severity::Critical)
            .count(),
    );

    // 1 s tumbling windows, and over them a moving average of the last three (a count
    // window of 3, emitted at every window).
    let windows = create_tumbling_window(analytics, 1_000).count_window(3, 1, Trailing);
    let mut windows = pin!(windows);
    let (mut baseline, mut alerts, mut totals) = (None::<WindowedStats>, 0, [0usize; 4]);
    let mut seen_windows = 0;
    while let Some(trailing) = windows.next().await {
        let (Some(w), moving) = trailing.result else {
            continue;
        };
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            totals[i] += w.severity_counts.get(&s).copied().unwrap_or(0);
        }
        progress.suspend(|| {
            println!(
                "{:>6.2} s  window {:>5} events  mean {:>5.1}  3 s avg {:>5.1}  max {:>5.1}  {}  dropped {:>4.1}%",
                started.elapsed().as_secs_f64(),
                w.event_count,
                w.avg_value,
                moving,
                w.max_value,
                severity_line(&w),
                total(&channel_stats).drop_rate(),
            )
        });
        seen_windows += 1;
        match &baseline {
            // Windows are aligned to wall-clock seconds: the first one is partial, so the
            // second sets the baseline.
            None if seen_windows == 1 => {}
            None => baseline = Some(w),
            Some(base) => {
                if let Some(alert) = detect_anomalies(&w, base).await {
                    alerts += 1;
                    progress.suspend(|| {
                        println!("          ALERT {:?}: {}", alert.severity, alert.message)
                    });
                }
            }
        }
    }
    driver.await.expect("the fan-out task panicked");
    let (written, batches) = storage.await.expect("the storage consumer panicked");
    let critical = alerting.await.expect("the alerting consumer panicked");
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let drops = total(&channel_stats);

    println!("\nreport");
    println!(
        "  severities   low {}  medium {}  high {}  critical {}",
        totals[0], totals[1], totals[2], totals[3]
    );
    println!("  alerts       {alerts} anomaly alerts, {critical} critical events seen by alerting");
    println!("  storage      {written} events in {batches} batches");
    println!("  backpressure {}", drops.get_report());
    println!(
        "  throughput   {} events in {elapsed:.2} s ({:.0} events/s processed)",
        drops.received(),
        drops.processed() as f64 / elapsed
    );
}
