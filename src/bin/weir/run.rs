//! `weir run`: JSON lines of events in, one JSON line per closed window out.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use weir::StatsHandle;
use weir::event::{
    Event, EventStream, EventType, ProcessedEvent, StatsBySeverity, StatsBySource, now_ms,
    process_event,
};
use weir::ops::window::{Aggregate, Window};
use weir::prelude::*;

/// `weir run` options.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Files of JSON-lines events, each one source (stdin when none, or `-`).
    pub files: Vec<PathBuf>,
    /// Window size.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub window: Duration,
    /// Slide, for sliding windows (default: tumbling windows).
    #[arg(long, value_parser = crate::parse_duration)]
    pub slide: Option<Duration>,
    /// One set of statistics per key in each window.
    #[arg(long, value_enum)]
    pub by: Option<Key>,
    /// Allowed out-of-orderness: windows stay open this long past their end.
    #[arg(long, default_value = "0ms", value_parser = crate::parse_duration)]
    pub lateness: Duration,
    /// Keep only events whose value is at least this.
    #[arg(long)]
    pub min_value: Option<f64>,
    /// Keep only events whose value is at most this.
    #[arg(long)]
    pub max_value: Option<f64>,
    /// Keep each event with this probability (Bernoulli sampling), in [0, 1].
    #[arg(long)]
    pub sample: Option<f64>,
    /// Put a drop-oldest buffer of this many events in front of the windows.
    #[arg(long)]
    pub buffer: Option<usize>,
    /// Longest accepted line, in bytes; longer lines are reported and skipped unread.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line: usize,
}

/// What `--by` groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Key {
    /// The event's `source`.
    Source,
}

/// One input line as JSON: `source` and `value` required, the rest optional.
#[derive(Debug, Deserialize)]
struct InputEvent {
    id: Option<u64>,
    timestamp: Option<u64>,
    source: String,
    value: f64,
    event_type: Option<EventType>,
}

/// What a reader thread sends on: one per line read.
enum Line {
    Event(Event),
    Malformed(String),
    Blank,
}

/// A stream that may borrow the run's local counters.
type Local<'a, T> = Pin<Box<dyn Stream<Item = T> + 'a>>;

/// Reads `reader` line by line, never holding more than `max` bytes of one line: a longer line
/// is skipped to its end and reported as `Err(length)`.
fn for_each_line(
    mut reader: impl BufRead,
    max: usize,
    mut f: impl FnMut(Result<&[u8], usize>) -> bool,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut overlong: Option<usize> = None;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if let Some(len) = overlong {
                f(Err(len));
            } else if !line.is_empty() {
                f(Ok(&line));
            }
            return Ok(());
        }
        let (chunk, consumed, ends) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        match &mut overlong {
            Some(len) => *len += chunk.len(),
            None if line.len() + chunk.len() > max => {
                overlong = Some(line.len() + chunk.len());
                line.clear();
            }
            None => line.extend_from_slice(chunk),
        }
        reader.consume(consumed);
        if ends {
            let go_on = match overlong.take() {
                Some(len) => f(Err(len)),
                None => f(Ok(&line)),
            };
            line.clear();
            if !go_on {
                return Ok(());
            }
        }
    }
}

/// Starts a thread that parses `reader` into events for the returned stream.
fn start_reader(
    name: String,
    reader: Box<dyn BufRead + Send>,
    max_line: usize,
) -> EventStream<Line> {
    let (tx, rx) = mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut number = 0u64;
        let mut next_id = 0u64;
        let result = for_each_line(reader, max_line, |line| {
            number += 1;
            let parsed = match line {
                Err(len) => Line::Malformed(format!(
                    "{name}:{number}: line of {len} bytes is longer than the limit of {max_line}"
                )),
                Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Line::Blank,
                Ok(bytes) => match serde_json::from_slice::<InputEvent>(bytes) {
                    Ok(input) => {
                        let id = input.id.unwrap_or(next_id);
                        next_id = id + 1;
                        Line::Event(Event {
                            id,
                            timestamp: input.timestamp.unwrap_or_else(now_ms),
                            source: input.source,
                            value: input.value,
                            event_type: input.event_type.unwrap_or(EventType::Metric),
                        })
                    }
                    Err(e) => Line::Malformed(format!("{name}:{number}: {e}")),
                },
            };
            tx.blocking_send(parsed).is_ok()
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Line::Malformed(format!("{name}: read error: {e}")));
        }
    });
    Box::pin(weir::from_receiver(rx))
}

/// An opened input: its name for reports, and its reader.
type Input = (String, Box<dyn BufRead + Send>);

/// Opens every input, or says which one cannot be opened.
fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, String> {
    if files.is_empty() {
        return Ok(vec![(
            "stdin".to_owned(),
            Box::new(BufReader::new(io::stdin())),
        )]);
    }
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok((
                    "stdin".to_owned(),
                    Box::new(BufReader::new(io::stdin())) as _,
                ));
            }
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((
                path.display().to_string(),
                Box::new(BufReader::new(file)) as _,
            ))
        })
        .collect()
}

/// Writes one JSON line per window (per key with `--by`).
fn write_window(
    out: &mut impl Write,
    w: &Window<BTreeMap<String, weir::event::SeverityAcc>>,
    by: bool,
) {
    let mut write = |value: serde_json::Value| {
        let _ = writeln!(out, "{value}");
    };
    if by {
        for (key, acc) in &w.result {
            let stats = StatsBySeverity.stats(acc, w.start, w.end);
            let mut json = serde_json::to_value(&stats).expect("stats serialize");
            json["key"] = serde_json::Value::String(key.clone());
            write(json);
        }
    } else {
        let all = w.result.values().fold(StatsBySeverity.init(), |a, b| {
            StatsBySeverity.combine(&a, b)
        });
        let stats = StatsBySeverity.stats(&all, w.start, w.end);
        write(serde_json::to_value(&stats).expect("stats serialize"));
    }
}

/// Runs `weir run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let inputs = match open_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("weir run: cannot open {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(rate) = args.sample {
        if !(0.0..=1.0).contains(&rate) {
            eprintln!("weir run: --sample must be within [0, 1], got {rate}");
            return ExitCode::from(2);
        }
    }
    let (lines, malformed, processed) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    let sources: Vec<_> = inputs
        .into_iter()
        .map(|(name, reader)| start_reader(name, reader, args.max_line))
        .collect();
    let (min, max) = (args.min_value, args.max_value);
    let events = weir::ops::merge(sources)
        .filter_map(|line| {
            lines.set(lines.get() + 1);
            match line {
                Line::Event(e) => Some(e),
                Line::Malformed(report) => {
                    malformed.set(malformed.get() + 1);
                    eprintln!("malformed: {report}");
                    None
                }
                Line::Blank => None,
            }
        })
        .filter(move |e| min.is_none_or(|m| e.value >= m) && max.is_none_or(|m| e.value <= m));
    let mut dropped: Vec<StatsHandle> = Vec::new();
    let mut events: Local<'_, Event> = Box::pin(events);
    if let Some(rate) = args.sample {
        let sampled = events.sample(rate);
        dropped.push(sampled.stats());
        events = Box::pin(sampled);
    }
    if let Some(capacity) = args.buffer {
        let buffered = events.drop_oldest(capacity.max(1));
        dropped.push(buffered.stats());
        events = Box::pin(buffered);
    }
    let size = args.window.as_millis().max(1) as u64;
    let slide = args.slide.map_or(size, |s| s.as_millis().max(1) as u64);
    let windows = events
        .map(|e| {
            processed.set(processed.get() + 1);
            process_event(e)
        })
        .sliding_window(
            size,
            slide,
            |e: &ProcessedEvent| e.original.timestamp,
            StatsBySource,
        )
        .out_of_orderness(args.lateness.as_millis() as u64);
    let mut windows = pin!(windows);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    while let Some(w) = windows.next().await {
        write_window(&mut out, &w, args.by.is_some());
    }
    let _ = out.flush();
    let dropped: u64 = dropped.iter().map(|s| s.dropped()).sum();
    eprintln!(
        "summary: {} lines read, {} events processed, {} malformed, {} late, {} dropped",
        lines.get(),
        processed.get(),
        malformed.get(),
        windows.late(),
        dropped
    );
    ExitCode::SUCCESS
}
