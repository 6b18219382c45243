//! The inputs of `weir run`: each file (or stdin) is cut into blocks of whole lines on a
//! reader thread, the blocks are parsed on parser threads, and the run takes the parsed
//! blocks back in the order they were cut.
//!
//! ```text
//!   reader ──block 0, 2, 4…──▶ parser 0 ──┐
//!          ──block 1, 3, 5…──▶ parser 1 ──┴─▶ Blocks (takes 0, 1, 2, 3… in turn) ─▶ the run
//! ```
//!
//! The reader hands block `i` to parser `i % parsers`, and [`Blocks`] takes parsed blocks from
//! the parsers in the same rotation, so an input's events come out in the order of its lines
//! whatever the number of parsers. Every channel is bounded: a slow run holds back the
//! parsers and the reader, and memory stays at a few blocks per input.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use weir::Stream;
use weir::event::EventType;

use super::fast_json::{self, Fields};
use super::names::SourceCache;
use super::read::{Block, read_blocks};
use super::{Counts, bump};

/// One event as the run needs it: its time, its value and its source (a parser's number for
/// it, the run's once [`Counted`] hands it on; 0 for every event unless the run groups by
/// source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Reading {
    pub(super) timestamp: u64,
    pub(super) value: f64,
    pub(super) source: u32,
}

/// One input line as JSON: `source` and `value` required, the rest optional. `id` and
/// `event_type` are not used by the run, but a line where they are present and wrong is
/// malformed.
#[derive(Debug, Deserialize)]
struct InputEvent<'a> {
    #[allow(dead_code)]
    id: Option<u64>,
    timestamp: Option<u64>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    value: f64,
    #[allow(dead_code)]
    event_type: Option<EventType>,
}

/// Parsed blocks waiting for the run, per parser.
const QUEUED: usize = 2;

/// How the lines of an input are parsed and filtered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parse {
    pub(super) max_line: usize,
    pub(super) max_future: Option<Duration>,
    pub(super) min_value: Option<f64>,
    pub(super) max_value: Option<f64>,
    /// Whether readings carry their source (`--by source`).
    pub(super) by_source: bool,
}

/// A block, parsed: its readings in line order and what became of its other lines.
pub(super) struct Parsed {
    readings: Vec<Reading>,
    /// Lines in the block (the run numbers them: the parser does not know where it starts).
    pub(super) lines: u64,
    /// Lines that were not readings: blank, filtered out, malformed (with what to report) and
    /// too far ahead (the same), each in line order.
    pub(super) blank: u64,
    pub(super) filtered: u64,
    pub(super) malformed: Vec<Note>,
    pub(super) ahead: Vec<Note>,
    /// Bytes of input the block covers.
    pub(super) bytes: u64,
    /// Sources the parser met for the first time in this block, in the order of its numbers.
    new_sources: Vec<Box<str>>,
}

/// What to report about a line: where it is (its index in its block, from 0; `None` for the
/// input as a whole) and what is wrong.
pub(super) struct Note {
    pub(super) line: Option<u64>,
    pub(super) text: String,
}

/// Parses one block.
fn parse_block(block: Block, how: Parse, sources: &mut SourceCache) -> Parsed {
    let mut parsed = Parsed {
        readings: Vec::with_capacity(block.text.len() / 48),
        lines: 0,
        blank: 0,
        filtered: 0,
        malformed: Vec::new(),
        ahead: Vec::new(),
        bytes: (block.text.len() + block.skipped.map_or(0, |n| n + 1)) as u64,
        new_sources: Vec::new(),
    };
    let text = &block.text[..];
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        let len = match fast_json::scan(rest) {
            Some((fields, len)) if len <= how.max_line => {
                accept(fields, how, sources, &mut parsed);
                len
            }
            _ => {
                let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                parse_line(&rest[..len], how, sources, &mut parsed);
                len
            }
        };
        parsed.lines += 1;
        start += len + 1;
    }
    if let Some(len) = block.skipped {
        let text = format!(
            "line of {len} bytes is longer than the limit of {}",
            how.max_line
        );
        parsed.note_malformed(text);
        parsed.lines += 1;
    }
    if let Some(text) = block.error {
        parsed.malformed.push(Note { line: None, text });
    }
    parsed.new_sources = sources.take_new();
    parsed
}

impl Parsed {
    /// Reports the line being parsed as malformed.
    fn note_malformed(&mut self, text: String) {
        self.malformed.push(Note {
            line: Some(self.lines),
            text,
        });
    }
}

/// Parses the next line of a block into `parsed`, when the fast path did not take it.
fn parse_line(bytes: &[u8], how: Parse, sources: &mut SourceCache, parsed: &mut Parsed) {
    if bytes.len() > how.max_line {
        parsed.note_malformed(format!(
            "line of {} bytes is longer than the limit of {}",
            bytes.len(),
            how.max_line
        ));
        return;
    }
    let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        parsed.blank += 1;
        return;
    };
    if bytes[first] != b'{' {
        parsed.note_malformed("not a JSON object".to_owned());
        return;
    }
    match serde_json::from_slice::<InputEvent<'_>>(bytes) {
        Ok(input) => {
            let fields = Fields {
                timestamp: input.timestamp,
                source: input.source.as_bytes(),
                value: input.value,
            };
            accept(fields, how, sources, parsed);
        }
        Err(e) => parsed.note_malformed(e.to_string()),
    }
}

/// Checks a parsed line against `--max-future`, `--min-value` and `--max-value`, and keeps it
/// as a reading if it passes.
fn accept(input: Fields<'_>, how: Parse, sources: &mut SourceCache, parsed: &mut Parsed) {
    let timestamp = input.timestamp.unwrap_or_else(weir::event::now_ms);
    if let Some(ahead) = how.max_future {
        let now = weir::event::now_ms();
        let limit = now.saturating_add(u64::try_from(ahead.as_millis()).unwrap_or(u64::MAX));
        if timestamp > limit {
            parsed.ahead.push(Note {
                line: Some(parsed.lines),
                text: format!(
                    "timestamp {timestamp} is more than {} ms ahead of the clock ({now})",
                    ahead.as_millis()
                ),
            });
            return;
        }
    }
    let value = input.value;
    if how.min_value.is_some_and(|m| value < m) || how.max_value.is_some_and(|m| value > m) {
        parsed.filtered += 1;
        return;
    }
    let source = if how.by_source {
        sources.index(input.source)
    } else {
        0
    };
    parsed.readings.push(Reading {
        timestamp,
        value,
        source,
    });
}

/// Starts the reader and `parsers` parser threads of one input; returns its parsed blocks.
pub(super) fn start_input(
    name: String,
    reader: Box<dyn Read + Send>,
    how: Parse,
    parsers: usize,
    counts: &Counts,
) -> Counted<'_> {
    let mut receivers = Vec::with_capacity(parsers);
    if parsers <= 1 {
        // One parser: the reader parses what it reads.
        let (tx, rx) = mpsc::channel::<Parsed>(QUEUED);
        receivers.push(rx);
        let mut sources = SourceCache::default();
        std::thread::spawn(move || {
            read_blocks(reader, how.max_line, |block| {
                tx.blocking_send(parse_block(block, how, &mut sources))
                    .is_ok()
            });
        });
    } else {
        let mut blocks = Vec::with_capacity(parsers);
        for _ in 0..parsers {
            let (block_tx, mut block_rx) = mpsc::channel::<Block>(1);
            let (tx, rx) = mpsc::channel::<Parsed>(QUEUED);
            blocks.push(block_tx);
            receivers.push(rx);
            let mut sources = SourceCache::default();
            std::thread::spawn(move || {
                while let Some(block) = block_rx.blocking_recv() {
                    if tx
                        .blocking_send(parse_block(block, how, &mut sources))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        std::thread::spawn(move || {
            let mut next = 0;
            read_blocks(reader, how.max_line, |block| {
                let sent = blocks[next].blocking_send(block).is_ok();
                next = (next + 1) % blocks.len();
                sent
            });
        });
    }
    Counted {
        name,
        to_run: vec![Vec::new(); receivers.len()],
        receivers,
        next: 0,
        next_line: 1,
        readings: Vec::new().into_iter(),
        counts,
    }
}

/// The parsed blocks of one input, taken from its parsers in the order the reader cut them,
/// with the run's counters: a stream of its readings.
pub(super) struct Counted<'a> {
    /// The input's name, for reports.
    name: String,
    receivers: Vec<mpsc::Receiver<Parsed>>,
    /// Per parser, its numbers of the sources mapped to the run's.
    to_run: Vec<Vec<u32>>,
    /// The parser whose turn it is.
    next: usize,
    /// The number of the next block's first line, from 1.
    next_line: u64,
    readings: std::vec::IntoIter<Reading>,
    counts: &'a Counts,
}

impl Counted<'_> {
    /// The next parsed block, counting its lines other than readings and reporting the
    /// malformed and rejected ones; its readings' sources numbered as the run numbers them.
    fn poll_block(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let Some(rx) = self.receivers.get_mut(self.next) else {
            return Poll::Ready(None);
        };
        match rx.poll_recv(cx) {
            Poll::Ready(Some(mut parsed)) => {
                let to_run = &mut self.to_run[self.next];
                self.next = (self.next + 1) % self.receivers.len();
                self.counts.account(&parsed, &self.name, self.next_line);
                self.next_line += parsed.lines;
                let new = std::mem::take(&mut parsed.new_sources);
                self.counts.names.borrow_mut().learn(to_run, new);
                if !to_run.is_empty() {
                    for reading in &mut parsed.readings {
                        reading.source = to_run[reading.source as usize];
                    }
                }
                self.readings = parsed.readings.into_iter();
                Poll::Ready(Some(()))
            }
            Poll::Ready(None) => {
                // The parser whose turn it is has ended: the input has no more blocks.
                self.receivers.clear();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Stream for Counted<'_> {
    type Item = Reading;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Reading>> {
        let this = &mut *self;
        loop {
            if let Some(reading) = this.readings.next() {
                bump(&this.counts.lines);
                return Poll::Ready(Some(reading));
            }
            match this.poll_block(cx) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// An input as opened: its name for reports, its bytes, and its size when it is a file.
pub(super) struct Input {
    pub(super) name: String,
    pub(super) reader: Box<dyn Read + Send>,
    pub(super) size: Option<u64>,
}

/// Opens every input, or says which one cannot be opened and why.
pub(super) fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, String> {
    let stdin = || Input {
        name: "stdin".to_owned(),
        reader: Box::new(io::stdin()),
        size: None,
    };
    if files.is_empty() {
        return Ok(vec![stdin()]);
    }
    if files.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err("stdin (`-`) can be read only once".to_owned());
    }
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok(stdin());
            }
            let cannot = |e: &dyn std::fmt::Display| format!("cannot open {}: {e}", path.display());
            let file = File::open(path).map_err(|e| cannot(&e))?;
            let meta = file.metadata().ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(cannot(&"is a directory"));
            }
            Ok(Input {
                name: path.display().to_string(),
                reader: Box::new(file),
                size: meta.filter(|m| m.is_file()).map(|m| m.len()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn cut(reader: impl Read, max_line: usize) -> Vec<(String, Option<usize>)> {
        let mut blocks = Vec::new();
        read_blocks(reader, max_line, |b| {
            blocks.push((String::from_utf8(b.text).unwrap(), b.skipped));
            true
        });
        blocks
    }

    #[test]
    fn a_long_line_is_skipped_unread_or_reported_by_the_parser() {
        let text = format!("a\n{}\nbc\nd", "x".repeat(10));
        // Arriving slowly, the long line is skipped by the reader, never held.
        let blocks = cut(Trickle(text.as_bytes()), 5);
        let lines: String = blocks.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(lines, "a\nbc\nd");
        let skipped: Vec<_> = blocks.iter().filter_map(|b| b.1).collect();
        assert_eq!(skipped, [10]);
        // Read whole, it reaches a parser, which reports it; either way it is line 2.
        let blocks = cut(text.as_bytes(), 5);
        let whole = [
            ("a\nxxxxxxxxxx\nbc\n".to_owned(), None),
            ("d".to_owned(), None),
        ];
        assert_eq!(blocks, whole);
        let how = Parse {
            max_line: 5,
            max_future: None,
            min_value: None,
            max_value: None,
            by_source: false,
        };
        let mut sources = SourceCache::default();
        let block = Block {
            text: text.into_bytes(),
            skipped: None,
            error: None,
        };
        let parsed = parse_block(block, how, &mut sources);
        let notes: Vec<_> = parsed
            .malformed
            .iter()
            .map(|n| (n.line, &n.text[..]))
            .collect();
        assert_eq!(
            notes,
            [
                (Some(0), "not a JSON object"),
                (Some(1), "line of 10 bytes is longer than the limit of 5"),
                (Some(2), "not a JSON object"),
                (Some(3), "not a JSON object"),
            ]
        );
        assert_eq!(parsed.lines, 4);
    }
}
