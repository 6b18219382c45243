//! `weir run`: JSON lines of events in, one JSON line per closed window out.
//!
//! Each input is read on a thread of its own, parsed there and handed over in batches of
//! lines. The inputs are merged by event time (`merge_event_time`), so that an input read
//! faster than another does not make the other's events late, and an input that is ahead is
//! read no further than the others allow.

mod input;
mod until_signal;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use tokio::signal::unix::{SignalKind, signal};
use weir::StatsHandle;
use weir::event::{Event, ProcessedEvent, StatsBySeverity, StatsBySource, process_event};
use weir::prelude::*;
use weir::window::{Aggregate, MAX_PANES_PER_WINDOW, Window, window_panes};

use input::{Line, Parse, open_inputs, start_reader};
use until_signal::UntilSignal;

/// `weir run` options.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = SUMMARY_HELP)]
pub struct RunArgs {
    /// Files of JSON-lines events, each one source (stdin when none, or `-`).
    pub files: Vec<PathBuf>,
    /// Window size (at least 1ms).
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub window: Duration,
    /// Slide, for sliding windows (default: tumbling windows). Larger than --window gives
    /// sampling windows: events between two windows are counted as outside every window.
    #[arg(long, value_parser = crate::parse_duration)]
    pub slide: Option<Duration>,
    /// One set of statistics per key in each window.
    #[arg(long, value_enum)]
    pub by: Option<Key>,
    /// Allowed out-of-orderness within each input: windows stay open this long past their
    /// end.
    #[arg(long, default_value = "0ms", value_parser = crate::parse_duration)]
    pub lateness: Duration,
    /// An input that delivers nothing for this long stops holding event time back until it
    /// delivers again (default: inputs are waited for; use it when an input may fall
    /// silent, e.g. a live stdin).
    #[arg(long, value_parser = crate::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Reject events stamped more than this ahead of the wall clock (a guard against a bad
    /// clock, whose one far-future event would make every later event late).
    #[arg(long, value_parser = crate::parse_duration)]
    pub max_future: Option<Duration>,
    /// Keep only events whose value is at least this.
    #[arg(long)]
    pub min_value: Option<f64>,
    /// Keep only events whose value is at most this.
    #[arg(long)]
    pub max_value: Option<f64>,
    /// Keep each event with this probability (Bernoulli sampling), in [0, 1].
    #[arg(long)]
    pub sample: Option<f64>,
    /// Put a drop-oldest buffer of this many events (at least 1) in front of the windows.
    #[arg(long)]
    pub buffer: Option<usize>,
    /// Longest accepted line, in bytes (at least 1); longer lines are reported and skipped
    /// unread.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line: usize,
}

/// The end of `weir run --help`: exit statuses and the summary's counts.
const SUMMARY_HELP: &str = "\
Exit status: 0 when the inputs were read to their end (malformed lines do not change it), 1 when
the output could not be written (a closed pipe is not an error: weir stops quietly with 0), 2
for a flag that makes no sense or an input that cannot be opened, 130 after Ctrl-C (SIGINT) and
143 after SIGTERM; on either signal weir stops reading, emits every window still open and
prints the summary.

The summary on stderr counts every line and every event:
  lines read = events + malformed + blank
  events     = processed + late + dropped + filtered + too far ahead + outside every window
processed: in at least one window; late: behind the watermark when it came (--lateness);
dropped: by --sample or --buffer; filtered: outside --min-value / --max-value; too far ahead:
rejected by --max-future; outside every window: in the gaps of sampling windows (--slide
larger than --window).";

/// What `--by` groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Key {
    /// The event's `source`.
    Source,
}

/// A stream that may borrow the run's local counters.
type Local<'a, T> = Pin<Box<dyn Stream<Item = T> + 'a>>;

/// The window geometry the flags ask for, in ms, or what is wrong with them.
fn check(args: &RunArgs) -> Result<(u64, u64), String> {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let size = ms(args.window);
    if size == 0 {
        return Err("--window must be at least 1ms".to_owned());
    }
    let slide = args.slide.map_or(size, ms);
    if slide == 0 {
        return Err("--slide must be at least 1ms".to_owned());
    }
    let (pane, per_window) = window_panes(size, slide);
    if per_window > MAX_PANES_PER_WINDOW {
        return Err(format!(
            "--window {size}ms with --slide {slide}ms makes windows of {per_window} panes of \
             {pane}ms (the greatest common divisor of the two); at most {MAX_PANES_PER_WINDOW} \
             are allowed"
        ));
    }
    if args.buffer == Some(0) {
        return Err("--buffer must be at least 1".to_owned());
    }
    if args.max_line == 0 {
        return Err("--max-line must be at least 1".to_owned());
    }
    for (flag, value) in [
        ("--min-value", args.min_value),
        ("--max-value", args.max_value),
    ] {
        if value.is_some_and(f64::is_nan) {
            return Err(format!("{flag} must be a number, got NaN"));
        }
    }
    if let (Some(min), Some(max)) = (args.min_value, args.max_value) {
        if min > max {
            return Err(format!(
                "--min-value {min} is above --max-value {max}: no event could pass"
            ));
        }
    }
    if let Some(rate) = args.sample {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("--sample must be within [0, 1], got {rate}"));
        }
    }
    if args.idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err("--idle-timeout must be at least 1ms".to_owned());
    }
    Ok((size, slide))
}

/// Writes one JSON line per window (per key with `--by`).
fn write_window(
    out: &mut impl Write,
    w: &Window<BTreeMap<String, weir::event::SeverityAcc>>,
    by: bool,
) -> io::Result<()> {
    if by {
        for (key, acc) in &w.result {
            let stats = StatsBySeverity.stats(acc, w.start, w.end);
            let mut json = serde_json::to_value(&stats).expect("stats serialize");
            json["key"] = serde_json::Value::String(key.clone());
            writeln!(out, "{json}")?;
        }
        Ok(())
    } else {
        let all = w.result.values().fold(StatsBySeverity.init(), |a, b| {
            StatsBySeverity.combine(&a, b)
        });
        let stats = StatsBySeverity.stats(&all, w.start, w.end);
        writeln!(
            out,
            "{}",
            serde_json::to_value(&stats).expect("stats serialize")
        )
    }
}

/// What the run counted.
#[derive(Default)]
struct Counts {
    lines: Cell<u64>,
    malformed: Cell<u64>,
    blank: Cell<u64>,
    ahead: Cell<u64>,
    filtered: Cell<u64>,
    /// Events that reached the windows.
    windowed: Cell<u64>,
}

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

/// Writes to stderr, ignoring a closed stderr: a report must never abort the run.
macro_rules! report {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

/// Runs `weir run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let (size, slide) = match check(&args) {
        Ok(geometry) => geometry,
        Err(message) => clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).exit(),
    };
    let inputs = match open_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(e) => {
            report!("weir run: {e}");
            return ExitCode::from(2);
        }
    };
    let (interrupt, terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            report!("weir run: cannot listen for signals: {e}");
            return ExitCode::from(1);
        }
    };
    let counts = Counts::default();
    let caught = Cell::new(None);
    let parse = Parse {
        max_line: args.max_line,
        max_future: args.max_future,
    };
    let (min, max) = (args.min_value, args.max_value);
    let counts_ref = &counts;
    let sources: Vec<Local<'_, Event>> = inputs
        .into_iter()
        .map(|(name, reader)| {
            let lines = start_reader(name, reader, parse).filter_map(move |line| {
                let c = counts_ref;
                bump(&c.lines);
                match line {
                    Line::Event(e) => {
                        if min.is_some_and(|m| e.value < m) || max.is_some_and(|m| e.value > m) {
                            bump(&c.filtered);
                            return None;
                        }
                        Some(e)
                    }
                    Line::Malformed(why) => {
                        bump(&c.malformed);
                        report!("malformed: {why}");
                        None
                    }
                    Line::Ahead(why) => {
                        bump(&c.ahead);
                        report!("rejected: {why}");
                        None
                    }
                    Line::Blank => {
                        bump(&c.blank);
                        None
                    }
                }
            });
            Box::pin(lines) as Local<'_, Event>
        })
        .collect();
    let mut merged = weir::merge::merge_event_time(sources, |e: &Event| e.timestamp);
    if let Some(idle) = args.idle_timeout {
        merged = merged.idle_timeout(idle);
    }
    let mut events: Local<'_, Event> = Box::pin(UntilSignal {
        stream: merged,
        signals: Some((interrupt, terminate)),
        caught: &caught,
    });
    let mut dropped: Vec<StatsHandle> = Vec::new();
    if let Some(rate) = args.sample {
        let sampled = events.sample(rate);
        dropped.push(sampled.stats());
        events = Box::pin(sampled);
    }
    if let Some(capacity) = args.buffer {
        let buffered = events.drop_oldest(capacity);
        dropped.push(buffered.stats());
        events = Box::pin(buffered);
    }
    let lateness = u64::try_from(args.lateness.as_millis()).unwrap_or(u64::MAX);
    let windows = events
        .map(|e| {
            bump(&counts.windowed);
            process_event(e)
        })
        .sliding_window(
            size,
            slide,
            |e: &ProcessedEvent| e.original.timestamp,
            StatsBySource,
        )
        .out_of_orderness(lateness);
    let mut windows = pin!(windows);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    while let Some(w) = windows.next().await {
        if let Err(e) = write_window(&mut out, &w, args.by.is_some()) {
            write_error = Some(e);
            break;
        }
    }
    if let Err(e) = write_error.map_or_else(|| out.flush(), Err) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`weir run ... | head`): stop quietly, like any filter.
            return ExitCode::SUCCESS;
        }
        report!("weir run: cannot write the output: {e}");
        return ExitCode::from(1);
    }
    let (late, outside) = (windows.late(), windows.unassigned());
    let c = &counts;
    let events = c.lines.get() - c.malformed.get() - c.blank.get();
    report!(
        "summary: {} lines read ({} events, {} malformed, {} blank); {} processed, {} late, {} \
         dropped, {} filtered, {} too far ahead, {} outside every window",
        c.lines.get(),
        events,
        c.malformed.get(),
        c.blank.get(),
        c.windowed.get() - late - outside,
        late,
        dropped.iter().map(|s| s.dropped()).sum::<usize>(),
        c.filtered.get(),
        c.ahead.get(),
        outside,
    );
    match caught.get() {
        Some(code) => ExitCode::from(code),
        None => ExitCode::SUCCESS,
    }
}
