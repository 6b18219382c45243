//! `weir demo`: a real-time event pipeline over simulated sources.
//!
//! Five sources (three sensors, a log, a metrics feed) send into drop-oldest ring channels.
//! Their streams are merged, normalized and graded in front of a deliberately slow consumer,
//! and fanned out to three consumers: analytics (1 s tumbling windows with a 3 s moving
//! average, checked for anomalies against the first full window), alerting (critical events)
//! and storage (batches). It runs for `--duration` (8 s by default) and ends with a report;
//! Ctrl-C (or SIGTERM) stops the sources early, the pipeline drains and the report follows.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use weir::channel::Delivery;
use weir::event::{
    Event, EventStream, EventType, ProcessedEvent, Severity, WindowedStats, batch_events,
    create_tumbling_window, detect_anomalies, merge_and_process, write_batch_to_storage,
};
use weir::prelude::*;
use weir::window::Aggregate;
use weir::{BackpressureStats, StatsHandle};

/// `weir demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How long the sources send.
    #[arg(long, default_value = "8s", value_parser = crate::common::parse_duration)]
    pub duration: Duration,
    /// Simulated sensors, besides the log and metrics sources (1 to 32).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub sensors: u8,
    /// Events per second each source sends (1 to 100000000; the report says when the sources
    /// could not keep up with it).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub rate: u64,
    /// What the sources' channels drop when the consumer falls behind: `drop-oldest` keeps
    /// the freshest events, `drop-newest` the oldest queued ones.
    #[arg(long, default_value = "drop-oldest", value_parser = parse_strategy())]
    pub strategy: Overflow,
    /// Capacity of each source's channel (1 to 1048576).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub buffer: u64,
    /// Batch writes to storage in flight at once (1 to 1000; 1 writes them one after the
    /// other).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub writers: u64,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            duration: Duration::from_secs(8),
            sensors: 3,
            rate: 1_000,
            strategy: Overflow::DropOldest,
            buffer: 256,
            writers: 8,
        }
    }
}

/// `--strategy`: the two [`Overflow`] policies under which a source never waits.
fn parse_strategy() -> impl clap::builder::TypedValueParser<Value = Overflow> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["drop-oldest", "drop-newest"]).map(|s| {
        if s == "drop-oldest" {
            Overflow::DropOldest
        } else {
            Overflow::DropNewest
        }
    })
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

/// The exit status a signal stands for (130 or 143) once one has come, 0 before: the sources
/// stop when it changes.
type Stop = watch::Receiver<u8>;

/// Runs the simulated sources on a thread of their own, so that the slow consumer cannot
/// slow them down. Each sends `rate` events per second into a ring channel that drops
/// (oldest or newest) when full: a source never waits, and every drop is counted. They stop
/// at `duration` whatever the rate (an event rate they cannot keep shows as fewer events
/// sent, which the channels' `received` counts), or as soon as `stop` says so. Returns the
/// receivers and the channels' counters.
fn start_sources(
    sources: Vec<Source>,
    args: &DemoArgs,
    stop: Stop,
) -> (Vec<EventStream<Event>>, Vec<StatsHandle>) {
    let overflow = args.strategy;
    let (duration, rate) = (args.duration, args.rate);
    let capacity = usize::try_from(args.buffer).expect("at most 2^20");
    let (mut streams, mut stats, mut senders) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in sources {
        let (tx, rx) = ring_channel(capacity, overflow);
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
            let start = tokio::time::Instant::now();
            let end = start.checked_add(duration);
            let planned = planned_events(duration, rate);
            let tasks: Vec<_> = senders
                .into_iter()
                .map(|(name, value, tx)| {
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_millis(1));
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                        let mut i = 0u64;
                        loop {
                            let now = tick.tick().await;
                            if *stop.borrow() != 0 || end.is_some_and(|e| now >= e) {
                                return;
                            }
                            // Catch up to where the rate says this source should be at the end
                            // of this millisecond.
                            let elapsed = now - start + Duration::from_millis(1);
                            let due = planned_events(elapsed, rate).min(planned);
                            while i < due {
                                let phase = usize::try_from(i * 3 / planned.max(1)).unwrap_or(2);
                                let n = usize::try_from(i).unwrap_or(usize::MAX);
                                let event = Event::new(
                                    i,
                                    name.clone(),
                                    value(n, phase),
                                    EventType::ALL[n % 4],
                                );
                                if tx.try_send(event).is_err() {
                                    return; // the receiver is gone
                                }
                                i += 1;
                                // A rate beyond what a source can send: stop on time all the same.
                                let late = || end.is_some_and(|e| tokio::time::Instant::now() >= e);
                                if i % 1024 == 0 && (*stop.borrow() != 0 || late()) {
                                    return;
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

/// Events one source sends in `elapsed` at `rate` per second.
fn planned_events(elapsed: Duration, rate: u64) -> u64 {
    let events = elapsed.as_millis().saturating_mul(u128::from(rate)) / 1_000;
    u64::try_from(events).unwrap_or(u64::MAX)
}

/// Writes a line to stdout. When stdout is closed (`weir demo | head`) the demo ends at once,
/// quietly, like any filter; another write error ends it with status 1.
macro_rules! say {
    ($($arg:tt)*) => {{
        if let Err(e) = writeln!(io::stdout().lock(), $($arg)*) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            let _ = writeln!(io::stderr(), "weir demo: cannot write the output: {e}");
            std::process::exit(1);
        }
    }};
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

/// The simulated sources: the sensors, a log source that also goes hot late in the run, and
/// a steady metrics feed.
fn sources(sensors: u8) -> Vec<Source> {
    let mut sources: Vec<Source> = (0..usize::from(sensors))
        .map(|k| (format!("sensor-{k}"), SENSOR_SHAPES[k % 3]))
        .collect();
    sources.push(("app-log".to_owned(), |i, phase| {
        if phase == 2 {
            95.0
        } else {
            ((i * 17) % 50) as f64
        }
    }));
    sources.push(("cpu-metrics".to_owned(), |i, _| 20.0 + (i % 70) as f64));
    sources
}

/// What the storage consumer did: events written, batches, the most writes in flight.
type Stored = (usize, u64, usize);

/// The storage consumer: batches of 200 events (or what came in 100 ms), written by up to
/// `writers` writes at once.
fn storage(
    events: impl Stream<Item = ProcessedEvent> + Send + 'static,
    writers: usize,
) -> JoinHandle<Stored> {
    tokio::spawn(async move {
        let mut written = 0;
        let mut writes = pin!(
            batch_events(events, 200, Duration::from_millis(100)).for_each_concurrent(
                writers,
                |batch| {
                    written += batch.events.len();
                    async move { write_batch_to_storage(&batch).await }
                }
            )
        );
        // The most writes seen in flight when the consumer waits.
        let mut peak = 0;
        std::future::poll_fn(|cx| {
            let poll = writes.as_mut().poll(cx);
            peak = peak.max(writes.in_flight());
            poll
        })
        .await;
        let batches = writes.started();
        (written, batches, peak)
    })
}

/// What the analytics consumer saw: anomaly alerts, and events per severity.
struct Analysed {
    alerts: usize,
    totals: [usize; 4],
}

/// The analytics consumer: 1 s tumbling windows, and over them a moving average of the last
/// three (a count window of 3, emitted at every window), a line per window, and an anomaly
/// check of each window against the first full one.
async fn analytics(
    events: impl Stream<Item = ProcessedEvent> + Send + 'static,
    channels: &[StatsHandle],
    progress: &indicatif::ProgressBar,
    started: Instant,
) -> Analysed {
    let windows = create_tumbling_window(events, 1_000).count_window(3, 1, Trailing);
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
            say!(
                "{:>6.2} s  window {:>5} events  mean {:>5.1}  3 s avg {:>5.1}  max {:>5.1}  {}  dropped {:>4.1}%",
                started.elapsed().as_secs_f64(),
                w.event_count,
                w.avg_value,
                moving,
                w.max_value,
                severity_line(&w),
                total(channels).drop_rate(),
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
                        say!("          ALERT {:?}: {}", alert.severity, alert.message)
                    });
                }
            }
        }
    }
    Analysed { alerts, totals }
}

/// Runs the demo.
pub async fn demo(args: DemoArgs) -> ExitCode {
    let started = Instant::now();
    say!(
        "weir demo: {} sensors, a log and a metrics source through {:?} channels, merged, graded, windowed, fanned out\n",
        args.sensors,
        args.strategy
    );
    let sources = sources(args.sensors);
    let source_count = sources.len() as u64;
    let stop = watch_signals();
    let (sources, channel_stats) = start_sources(sources, &args, stop.clone());
    let planned = source_count.saturating_mul(planned_events(args.duration, args.rate));
    let progress = indicatif::ProgressBar::new(planned);
    // Deliberately slow: blocking work every 64 events, sized to handle about 64% of what
    // comes in. The sources' ring channels fill up and drop, and every drop is counted.
    let per_second = (source_count * args.rate * 64 / 100).max(1);
    let pause = Duration::from_micros(64 * 1_000_000 / per_second);
    let mut seen = 0u64;
    let bar = progress.clone();
    let events = merge_and_process(sources).map(move |e| {
        seen += 1;
        if seen % 64 == 0 {
            bar.inc(64);
            std::thread::sleep(pause);
        }
        e
    });
    let (driver, mut subs) = events.fan_out_with(
        [Delivery::Critical, Delivery::Critical, Delivery::Lagging],
        1024,
    );
    let alerting = subs.pop().expect("three subscribers");
    let storage = storage(
        subs.pop().expect("three subscribers"),
        usize::try_from(args.writers).expect("at most 1000"),
    );
    let analytics_events = subs.pop().expect("three subscribers");
    let alerting = tokio::spawn(
        alerting
            .filter(|e: &ProcessedEvent| e.severity == Severity::Critical)
            .count(),
    );
    let analysed = analytics(analytics_events, &channel_stats, &progress, started).await;
    driver.await.expect("the fan-out task panicked");
    let stored = storage.await.expect("the storage consumer panicked");
    let critical = alerting.await.expect("the alerting consumer panicked");
    progress.finish_and_clear();
    let drops = total(&channel_stats);
    report(&args, &analysed, stored, critical, &drops, started);
    let sent = u64::try_from(drops.received()).unwrap_or(u64::MAX);
    match *stop.borrow() {
        0 if sent < planned => say!(
            "  rate         the sources sent {sent} of the {planned} events asked for: {} per \
             second each is more than they could keep up",
            args.rate
        ),
        0 => {}
        code => {
            say!("  stopped      by a signal: {sent} of {planned} events sent");
            return ExitCode::from(code);
        }
    }
    ExitCode::SUCCESS
}

/// The report at the end of the demo.
fn report(
    args: &DemoArgs,
    analysed: &Analysed,
    (written, batches, peak_writes): Stored,
    critical: usize,
    drops: &BackpressureStats,
    started: Instant,
) {
    let elapsed = started.elapsed().as_secs_f64();
    let totals = analysed.totals;
    say!("\nreport");
    say!(
        "  severities   low {}  medium {}  high {}  critical {}",
        totals[0],
        totals[1],
        totals[2],
        totals[3]
    );
    say!(
        "  alerts       {} anomaly alerts, {critical} critical events seen by alerting",
        analysed.alerts
    );
    say!(
        "  storage      {written} events in {batches} batches, up to {peak_writes} of {} writes at once ({:.2} s of 10 ms writes one at a time)",
        args.writers,
        batches as f64 * 0.010
    );
    say!("  backpressure {drops}");
    say!(
        "  throughput   {} events in {elapsed:.2} s ({:.0} events/s processed)",
        drops.received(),
        drops.processed() as f64 / elapsed
    );
}

/// Listens for Ctrl-C and SIGTERM: the first stops the sources (the pipeline then drains and
/// the report follows) and records the exit status that stands for it (130 or 143).
fn watch_signals() -> Stop {
    let (caught, stop) = watch::channel(0);
    let Ok((mut interrupt, mut terminate)) = crate::common::signals() else {
        return stop;
    };
    tokio::spawn(async move {
        let status = tokio::select! {
            _ = interrupt.recv() => 130,
            _ = terminate.recv() => 143,
        };
        let _ = caught.send(status);
    });
    stop
}
