//! `weir run`: JSON lines of events in, one JSON line per closed window out.
//!
//! Each input is read on a thread of its own, parsed there and handed over in batches of
//! lines. The inputs are merged by event time (`merge_event_time`), so that an input read
//! faster than another does not make the other's events late, and an input that is ahead is
//! read no further than the others allow.

mod fast_json;
#[cfg(feature = "redis")]
mod from_redis;
mod input;
mod names;
mod read;
mod until_signal;

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weir::StatsHandle;
use weir::event::{SeverityAcc, StatsBySeverity, calculate_severity, normalize_value};
use weir::prelude::*;
use weir::window::{Aggregate, MAX_PANES_PER_WINDOW, Window, window_panes};

use input::{Counted, Parse, Parsed, Reading, open_inputs, start_input};
use names::SourceNames;
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
    /// Read the events from a Redis stream instead of files, through a consumer group
    /// (needs weir built with `--features redis`): `redis://HOST:PORT/STREAM`, entries with
    /// the fields `value`, `source` and `timestamp` (ms; optional: the time of reading).
    #[arg(long, conflicts_with = "files", help_heading = "Redis")]
    pub from: Option<String>,
    /// The consumer group to read in (created if missing, reading the stream from its
    /// start).
    #[arg(
        long,
        default_value = "weir",
        requires = "from",
        help_heading = "Redis"
    )]
    pub group: String,
    /// This consumer's name in the group (required with --from): keep it across restarts, a
    /// restarted consumer first reads again what it had not acknowledged.
    #[arg(long, requires = "from", help_heading = "Redis")]
    pub consumer: Option<String>,
    /// Write partial windows to this Redis stream, `redis://HOST:PORT/STREAM`, for `weir
    /// combine` to merge with other consumers' (default: complete windows on stdout).
    #[arg(long, requires = "from", help_heading = "Redis")]
    pub to: Option<String>,
    /// Claim the entries another consumer has left unacknowledged this long (a consumer that
    /// died). Make it longer than a window, the lateness and the idle timeout together: a
    /// live consumer holds each entry until its windows are written.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration, requires = "from", help_heading = "Redis")]
    pub claim_idle: Duration,
    /// Stop at the first read that finds no new entry for 100 ms and nothing to claim,
    /// writing every open window (for draining a stream) instead of waiting for more.
    #[arg(long, requires = "from", help_heading = "Redis")]
    pub until_idle: bool,
    /// Exit with status 1 once reading, writing or acknowledging has failed this long
    /// without a success (the server gone); until then, try again with backoff.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration, requires = "from", help_heading = "Redis")]
    pub give_up_after: Duration,
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
larger than --window).

With --from redis://..., the summary counts entries:
  entries read = events + malformed + duplicates skipped
and says how many were acknowledged and dead-lettered (malformed and rejected entries go to
STREAM:dead with the reason). Exit status 1 also when the server stayed out of reach for
--give-up-after; entries not yet acknowledged then stay pending for a restart or another
consumer.";

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

/// What `weir run` computes per window: the statistics of each source's readings, by source
/// index (everything under index 0 when the run does not group by source).
#[derive(Debug, Clone, Copy)]
struct BySource;

/// The severity of a reading, as `weir::event::process_event` grades an event.
fn severity(value: f64) -> usize {
    calculate_severity(normalize_value(value, 0.0, 100.0)) as usize
}

impl Aggregate<Reading> for BySource {
    type Acc = Vec<SeverityAcc>;
    type Output = Vec<SeverityAcc>;

    fn init(&self) -> Self::Acc {
        Vec::new()
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, r: &Reading) {
        let i = r.source as usize;
        if i >= acc.len() {
            acc.resize(i + 1, StatsBySeverity.init());
        }
        let (moments, by) = &mut acc[i];
        moments.add(r.value);
        by[severity(r.value)] += 1;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        let mut sum = long.clone();
        for (s, t) in sum.iter_mut().zip(short) {
            *s = StatsBySeverity.combine(s, t);
        }
        sum
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        acc.clone()
    }
}

/// Writes one JSON line per window, or with `--by` one per source in the window, by name.
fn write_window(
    out: &mut impl Write,
    w: &Window<Vec<SeverityAcc>>,
    by: Option<&[Box<str>]>,
) -> io::Result<()> {
    match by {
        Some(names) => {
            let mut keyed: Vec<(&str, &SeverityAcc)> = w
                .result
                .iter()
                .enumerate()
                .filter(|(_, acc)| acc.1.iter().any(|&n| n > 0))
                .map(|(i, acc)| (&*names[i], acc))
                .collect();
            keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, acc) in keyed {
                let stats = StatsBySeverity.stats(acc, w.start, w.end);
                let mut json = serde_json::to_value(&stats).expect("stats serialize");
                json["key"] = serde_json::Value::String(key.to_owned());
                writeln!(out, "{json}")?;
            }
            Ok(())
        }
        None => {
            let all = w.result.iter().fold(StatsBySeverity.init(), |a, b| {
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
    /// Bytes read, on a terminal, for big inputs.
    progress: Option<ProgressBar>,
    /// The sources' names, numbered as the windows' per-source results are.
    names: RefCell<SourceNames>,
}

impl Counts {
    /// Counts the lines of `parsed` that are not readings (readings are counted as the run
    /// takes them), and reports the malformed and rejected ones, numbering the block's lines
    /// of input `name` from `first_line`.
    fn account(&self, parsed: &Parsed, name: &str, first_line: u64) {
        let add = |cell: &Cell<u64>, n: u64| cell.set(cell.get() + n);
        let (malformed, ahead) = (parsed.malformed.len() as u64, parsed.ahead.len() as u64);
        add(
            &self.lines,
            parsed.blank + parsed.filtered + malformed + ahead,
        );
        add(&self.blank, parsed.blank);
        add(&self.filtered, parsed.filtered);
        add(&self.malformed, malformed);
        add(&self.ahead, ahead);
        for (what, notes) in [
            ("malformed", &parsed.malformed),
            ("rejected", &parsed.ahead),
        ] {
            for note in notes {
                match note.line {
                    Some(i) => report!("{what}: {name}:{}: {}", first_line + i, note.text),
                    None => report!("{what}: {name}: {}", note.text),
                }
            }
        }
        if let Some(bar) = &self.progress {
            bar.inc(parsed.bytes);
        }
    }
}

/// Inputs this large in all get a progress bar, when stderr is a terminal.
const PROGRESS_FROM: u64 = 100_000_000;

/// A progress bar over `total` bytes on stderr, or none when stderr is not a terminal or the
/// inputs are small (or of unknown size: stdin).
fn progress(total: Option<u64>) -> Option<ProgressBar> {
    let total = total.filter(|&t| t >= PROGRESS_FROM)?;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template"),
    );
    Some(bar)
}

/// `--sample` and `--buffer` in front of the windows, with what counts their drops.
fn shed<'a>(
    mut events: Local<'a, Reading>,
    args: &RunArgs,
) -> (Local<'a, Reading>, Vec<StatsHandle>) {
    let mut dropped = Vec::new();
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
    (events, dropped)
}

/// What became of the events, for the summary: `windowed` reached the windows, of which
/// `late` and `outside` were in none.
fn fates(
    windowed: u64,
    (late, outside): (u64, u64),
    dropped: &[StatsHandle],
    filtered: u64,
    ahead: u64,
) -> String {
    format!(
        "{} processed, {late} late, {} dropped, {filtered} filtered, {ahead} too far ahead, \
         {outside} outside every window",
        windowed - late - outside,
        dropped.iter().map(|s| s.dropped()).sum::<usize>(),
    )
}

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

/// Runs `weir run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let (size, slide) = match check(&args) {
        Ok(geometry) => geometry,
        Err(message) => clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).exit(),
    };
    if let Some(from) = &args.from {
        #[cfg(feature = "redis")]
        return from_redis::run(&args, from, size, slide).await;
        #[cfg(not(feature = "redis"))]
        {
            let _ = from;
            return crate::redis::unsupported("run");
        }
    }
    let inputs = match open_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(e) => {
            report!("weir run: {e}");
            return ExitCode::from(2);
        }
    };
    let (interrupt, terminate) = match crate::signals() {
        Ok(signals) => signals,
        Err(e) => {
            report!("weir run: cannot listen for signals: {e}");
            return ExitCode::from(1);
        }
    };
    let total = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
    let counts = Counts {
        progress: progress(total),
        ..Counts::default()
    };
    let caught = Cell::new(None);
    let parse = Parse {
        max_line: args.max_line,
        max_future: args.max_future,
        min_value: args.min_value,
        max_value: args.max_value,
        by_source: args.by.is_some(),
    };
    // Every core parses: one input gets a parser per core, several share them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parsers = (cores / inputs.len()).max(1);
    let sources: Vec<Counted<'_>> = inputs
        .into_iter()
        .map(|input| start_input(input.name, input.reader, parse, parsers, &counts))
        .collect();
    let mut merged = weir::merge::merge_event_time(sources, |r: &Reading| r.timestamp);
    if let Some(idle) = args.idle_timeout {
        merged = merged.idle_timeout(idle);
    }
    let events: Local<'_, Reading> =
        Box::pin(UntilSignal::new(merged, (interrupt, terminate), &caught));
    let (events, dropped) = shed(events, &args);
    let lateness = u64::try_from(args.lateness.as_millis()).unwrap_or(u64::MAX);
    let windows = events
        .map(|r| {
            bump(&counts.windowed);
            r
        })
        .sliding_window(size, slide, |r: &Reading| r.timestamp, BySource)
        .out_of_orderness(lateness);
    let mut windows = pin!(windows);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    while let Some(w) = windows.next().await {
        let names = counts.names.borrow();
        if let Err(e) = write_window(&mut out, &w, args.by.map(|_| names.all())) {
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
    if let Some(bar) = &counts.progress {
        bar.finish_and_clear();
    }
    let (late, outside) = (windows.late(), windows.unassigned());
    let c = &counts;
    let events = c.lines.get() - c.malformed.get() - c.blank.get();
    report!(
        "summary: {} lines read ({} events, {} malformed, {} blank); {}",
        c.lines.get(),
        events,
        c.malformed.get(),
        c.blank.get(),
        fates(
            c.windowed.get(),
            (late, outside),
            &dropped,
            c.filtered.get(),
            c.ahead.get()
        ),
    );
    match caught.get() {
        Some(code) => ExitCode::from(code),
        None => ExitCode::SUCCESS,
    }
}
