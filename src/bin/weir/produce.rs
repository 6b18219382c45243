//! `weir produce`: simulated sensor events, as JSON lines on stdout or as entries of a Redis
//! stream, for trying `weir run` (alone or as several consumers) on known data.
//!
//! The events are a function of the flags alone: the same `--seed` and `--start-ms` give the
//! same events, whether written to a file or to a stream, so that a test can compare what
//! several consumers computed from the stream with what one process computes from the file.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::common::write_failure;

/// `weir produce` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ProduceArgs {
    /// Events to write (at least 1).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Sensors the events come from, `sensor-0` to `sensor-N-1` in turn (1 to 1000).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub sources: u64,
    /// Events per second of event time (1 to 1000000): the timestamps advance by
    /// `1000 / rate` ms per event on average.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: u64,
    /// Percent of events stamped up to 500 ms earlier than their place (0 to 100): events
    /// out of order, which `weir run --lateness 500ms` takes in their windows.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub disorder: u8,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timestamp of the first event, in ms since the Unix epoch (default: now).
    #[arg(long)]
    pub start_ms: Option<u64>,
    /// Where to write: `-` for JSON lines on stdout, or `redis://HOST:PORT/STREAM` (entries
    /// with the fields `timestamp`, `source` and `value`; needs weir built with
    /// `--features redis`).
    #[arg(long, default_value = "-")]
    pub to: String,
}

/// One simulated event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Simulated {
    pub(crate) timestamp: u64,
    pub(crate) source: u64,
    pub(crate) value: f64,
}

/// The events `args` describe, in the order they are written.
pub(crate) fn simulate(args: &ProduceArgs) -> impl Iterator<Item = Simulated> + use<> {
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let start_us = u128::from(args.start_ms.unwrap_or_else(weir::event::now_ms)) * 1000;
    // Microseconds between events: uniform in [0, 2 * mean], so that the mean is 1 / rate.
    let spread = 2_000_000 / args.rate;
    let (sources, disorder) = (args.sources, u32::from(args.disorder));
    let mut now_us = start_us;
    (0..args.events).map(move |i| {
        now_us += u128::from(rng.random_range(0..=spread));
        let mut ms = now_us / 1000;
        if rng.random_range(0..100) < disorder {
            ms = ms.saturating_sub(rng.random_range(1..=500));
        }
        // A sensor reading between 0 and 100, mostly around 50, with a rare spike.
        let base = f64::from(rng.random_range(2_000..8_000u32)) / 100.0;
        let value = if rng.random_range(0..1000) == 0 {
            base + 40.0
        } else {
            base
        };
        Simulated {
            timestamp: u64::try_from(ms).unwrap_or(u64::MAX),
            source: i % sources,
            value,
        }
    })
}

/// Runs `weir produce`.
pub async fn produce(args: ProduceArgs) -> ExitCode {
    if args.to == "-" {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        for e in simulate(&args) {
            let line = writeln!(
                out,
                r#"{{"timestamp":{},"source":"sensor-{}","value":{}}}"#,
                e.timestamp, e.source, e.value
            );
            if let Err(e) = line {
                return write_failure("produce", &e);
            }
        }
        return match out.flush() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => write_failure("produce", &e),
        };
    }
    to_redis(&args).await
}

/// `weir produce --to redis://...`: the simulated events as stream entries, written in
/// pipelined batches.
#[cfg(not(feature = "redis"))]
async fn to_redis(_args: &ProduceArgs) -> ExitCode {
    crate::common::unsupported("produce")
}

/// Entries per pipelined batch of `weir produce`.
#[cfg(feature = "redis")]
const PRODUCE_BATCH: usize = 1_000;

/// `weir produce --to redis://...`: the simulated events as stream entries, written in
/// pipelined batches.
#[cfg(feature = "redis")]
async fn to_redis(args: &ProduceArgs) -> ExitCode {
    let target = match crate::redis::Target::parse(&args.to) {
        Ok(target) => target,
        Err(e) => return crate::common::usage("produce", &format!("--to: {e}")),
    };
    let failed = |e: &dyn std::fmt::Display| {
        crate::common::failure("produce", format_args!("{}: {e}", args.to))
    };
    let client = match redis::Client::open(target.server.as_str()) {
        Ok(client) => client,
        Err(e) => return failed(&e),
    };
    let mut sink = match weir::io::redis::RedisSink::connect(&client, &target.stream).await {
        Ok(sink) => sink,
        Err(e) => return failed(&e),
    };
    let mut batch: Vec<Vec<(&str, String)>> = Vec::with_capacity(PRODUCE_BATCH);
    let mut events = simulate(args).peekable();
    while let Some(e) = events.next() {
        batch.push(vec![
            ("timestamp", e.timestamp.to_string()),
            ("source", format!("sensor-{}", e.source)),
            ("value", e.value.to_string()),
        ]);
        if batch.len() == PRODUCE_BATCH || events.peek().is_none() {
            if let Err(e) = sink.send(&batch).await {
                return failed(&e);
            }
            batch.clear();
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "weir produce: {} entries written to {}",
        sink.written(),
        args.to
    );
    ExitCode::SUCCESS
}
