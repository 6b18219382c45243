//! `weir demo`: a real-time event pipeline over simulated sources.
//!
//! Five sources (three sensors, a log, a metrics feed) send into drop-oldest ring channels.
//! Their streams are merged, normalized and graded in front of a deliberately slow consumer,
//! and fanned out to three consumers: analytics (1 s tumbling windows with a 3 s moving
//! average, checked for anomalies against the first full window), alerting (critical events)
//! and storage (batches). It runs for `--duration` (8 s by default) and ends with a report;
//! Ctrl-C (or SIGTERM) stops the sources early, the pipeline drains and the report follows.

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

mod consumers;
mod sources;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use weir::channel::Delivery;
use weir::event::{ProcessedEvent, Severity, merge_and_process};
use weir::prelude::*;
use weir::{BackpressureStats, StatsHandle};

use consumers::{Analysed, Stored, analytics, storage};
use sources::{Plan, planned_events, sources, start_sources, total};

use crate::observe::{MetricsArgs, Snapshot};
use crate::until_signal::watch_signals;

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
    #[command(flatten)]
    pub metrics: MetricsArgs,
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
            metrics: MetricsArgs {
                metrics: None,
                metrics_linger: Duration::ZERO,
            },
        }
    }
}

impl DemoArgs {
    /// What the sources are asked to send.
    fn plan(&self) -> Plan {
        Plan {
            overflow: self.strategy,
            capacity: usize::try_from(self.buffer).expect("at most 2^20"),
            duration: self.duration,
            rate: self.rate,
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

/// Runs the demo.
pub async fn demo(args: DemoArgs) -> ExitCode {
    let started = Instant::now();
    let watching = match args.metrics.start("demo") {
        Ok(watching) => watching,
        Err(e) => return crate::common::usage("demo", &e),
    };
    let mut watching = watching;
    say!(
        "weir demo: {} sensors, a log and a metrics source through {:?} channels, merged, graded, windowed, fanned out\n",
        args.sensors,
        args.strategy
    );
    let sources = sources(args.sensors);
    let source_count = sources.len() as u64;
    let stop = watch_signals();
    let (sources, channel_stats) = start_sources(sources, &args.plan(), stop.clone());
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
    let (driver, [analytics_events, storage_events, alerting]) = events.fan_out_to(
        [Delivery::Critical, Delivery::Critical, Delivery::Lagging],
        1024,
    );
    let writers = usize::try_from(args.writers).expect("at most 1000");
    let storage = storage(storage_events, writers);
    let alerting = tokio::spawn(
        alerting
            .filter(|e: &ProcessedEvent| e.severity == Severity::Critical)
            .count(),
    );
    let counts = |windows| snapshot(&args, &channel_stats, windows);
    let observer = watching
        .as_mut()
        .map(|w| (&mut w.observer, &counts as &dyn Fn(u64) -> Snapshot));
    let analysed = analytics(
        analytics_events,
        &channel_stats,
        &progress,
        started,
        observer,
    )
    .await;
    driver.await.expect("the fan-out task panicked");
    let stored = storage.await.expect("the storage consumer panicked");
    let critical = alerting.await.expect("the alerting consumer panicked");
    progress.finish_and_clear();
    let drops = total(&channel_stats);
    report(&args, &analysed, stored, critical, &drops, started);
    if let Some(w) = watching {
        let last = snapshot(&args, &channel_stats, analysed.windows);
        w.observer.finish(last, w.server, w.linger).await;
    }
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

/// The demo's counts as the metrics show them: what the sources' channels received, passed
/// on and dropped (under `--strategy`), and `windows` closed by analytics.
fn snapshot(args: &DemoArgs, channels: &[StatsHandle], windows: u64) -> Snapshot {
    let held: usize = channels
        .iter()
        .map(|c| c.received() - c.processed() - c.dropped())
        .sum();
    let all = total(channels);
    let policy = match args.strategy {
        Overflow::DropNewest => "drop_newest",
        _ => "drop_oldest",
    };
    let dropped = all.dropped() as u64;
    Snapshot {
        command: "demo",
        unit: "events",
        read: all.received() as u64,
        outcomes: vec![("processed", all.processed() as u64), ("dropped", dropped)],
        dropped_by: vec![(policy, dropped)],
        windows,
        buffer: Some((held as u64, args.buffer * channels.len() as u64)),
        ..Snapshot::default()
    }
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
