//! `weir`: a real-time event pipeline over simulated sources.
//!
//! Five sources (three sensors, a log, a metrics feed) send into drop-oldest ring channels.
//! Their streams are merged, normalized and graded in front of a deliberately slow consumer,
//! and fanned out to three consumers: analytics (1 s tumbling windows, checked for anomalies
//! against the first full window), alerting (critical events) and storage (batches). It runs for
//! about five seconds and ends with a report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir::BackpressureStats;
use weir::event::{
    Event, EventStream, EventType, ProcessedEvent, Severity, WindowedStats, batch_events,
    create_tumbling_window, detect_anomalies, process_event, write_batch_to_storage,
};
use weir::ops::Policy;
use weir::prelude::*;

/// Events each source sends, one per millisecond.
const PER_SOURCE: usize = 3_000;

/// A simulated source: its name and its value for the `i`-th event.
type Source = (&'static str, fn(usize) -> f64);

/// Runs the simulated sources on a thread of their own, so that the slow consumer cannot
/// slow them down. Each sends `PER_SOURCE` events, one per millisecond, into a
/// `ring_channel(256, DropOldest)`: a source never waits, and when the consumer falls behind
/// the oldest queued events are dropped and counted. Returns the receivers and the channels'
/// counters.
fn start_sources(sources: Vec<Source>) -> (Vec<EventStream<Event>>, Vec<Arc<BackpressureStats>>) {
    let (mut streams, mut stats, mut senders) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in sources {
        let (tx, rx) = ring_channel(256, Overflow::DropOldest);
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
                        for i in 0..PER_SOURCE {
                            tick.tick().await;
                            let event = Event::new(i as u64, name, value(i), EventType::ALL[i % 4]);
                            if tx.try_send(event).is_err() {
                                return; // the receiver is gone
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
fn total(stats: &[Arc<BackpressureStats>]) -> BackpressureStats {
    let sum = BackpressureStats::new();
    for s in stats {
        sum.record_received(s.received());
        sum.record_processed(s.processed());
        sum.record_dropped(s.dropped());
    }
    sum
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = Instant::now();
    println!(
        "weir demo: 5 sources through drop-oldest channels, merged, graded, windowed, fanned out\n"
    );

    let (sources, channel_stats) = start_sources(vec![
        ("sensor-0", |i| (i as f64 * 3.7) % 100.0),
        ("sensor-1", |i| 40.0 + (i as f64 * 0.37).sin() * 30.0),
        // Two sources go hot for the last third of the run: the anomaly detector notices.
        (
            "sensor-2",
            |i| if i > 2_000 { 99.0 } else { (i % 60) as f64 },
        ),
        ("app-log", |i| {
            if i > 2_000 {
                95.0
            } else {
                ((i * 17) % 50) as f64
            }
        }),
        ("cpu-metrics", |i| 20.0 + (i % 70) as f64),
    ]);
    // Deliberately slow: 20 ms of blocking work every 64 events, about 3 200 events/s against
    // 5 000 coming in. The sources' ring channels fill up and drop their oldest events, so
    // the windows below see the freshest data, and every drop is counted.
    let mut seen = 0u64;
    let events = weir::ops::merge(sources).map(process_event).map(move |e| {
        seen += 1;
        if seen % 64 == 0 {
            std::thread::sleep(Duration::from_millis(20));
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

    let mut windows = pin!(create_tumbling_window(analytics, 1_000));
    let (mut baseline, mut alerts, mut totals) = (None::<WindowedStats>, 0, [0usize; 4]);
    let mut seen_windows = 0;
    while let Some(w) = windows.next().await {
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            totals[i] += w.severity_counts.get(&s).copied().unwrap_or(0);
        }
        println!(
            "{:>6.2} s  window {:>5} events  mean {:>5.1}  max {:>5.1}  {}  dropped so far {:>4.1}%",
            started.elapsed().as_secs_f64(),
            w.event_count,
            w.avg_value,
            w.max_value,
            severity_line(&w),
            total(&channel_stats).drop_rate(),
        );
        seen_windows += 1;
        match &baseline {
            // Windows are aligned to wall-clock seconds: the first one is partial, so the
            // second sets the baseline.
            None if seen_windows == 1 => {}
            None => baseline = Some(w),
            Some(base) => {
                if let Some(alert) = detect_anomalies(&w, base).await {
                    alerts += 1;
                    println!("          ALERT {:?}: {}", alert.severity, alert.message);
                }
            }
        }
    }
    driver.await.expect("the fan-out task panicked");
    let (written, batches) = storage.await.expect("the storage consumer panicked");
    let critical = alerting.await.expect("the alerting consumer panicked");
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
