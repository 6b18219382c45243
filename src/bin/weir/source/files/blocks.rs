//! [`Blocks`]: the parsed blocks of one input, taken from its parsers in the order the reader
//! cut them, as a stream of readings.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use indicatif::ProgressBar;
use tokio::sync::mpsc;
use weir::Stream;

use super::parse::Parsed;
use crate::names::SourceNames;
use crate::reading::{Counted, Progress, Reader, Reading};

/// What an input counted, how far it got, and (once its stream is dropped) whether it was read
/// to its end.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ending {
    pub(crate) progress: Progress,
    pub(super) ended: bool,
    /// A read error ended the input early (it was reported).
    pub(super) failed: bool,
}

/// The readings of one input, from the parsed blocks of its parsers, taken in turn. Every
/// line of a block is counted as the block is taken (the malformed and rejected ones
/// reported, with the input's name and their line number), and the readings not handed on
/// are taken off again when the stream is dropped, so that a run stopped part-way counts
/// only the lines it took in. What it counted ([`Ending`]) is read by the run as it goes:
/// ahead, by the block being handed on, of the readings the windows have had.
///
/// `Pending` comes from the parser whose turn it is (which registered the waker).
pub(super) struct Blocks {
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
    names: Rc<RefCell<SourceNames>>,
    progress: Option<ProgressBar>,
    /// Malformed and rejected lines reported, and those counted but not shown.
    notes: Notes,
    ending: Counted<Ending>,
}

/// How many lines of each kind (malformed, rejected) an input reports before it only counts
/// them.
const SHOWN: u64 = 10;

/// The reports of one input's lines that are not readings: the first [`SHOWN`] of each kind
/// (none with `quiet`), then a count of the others, given when the input is dropped.
#[derive(Debug, Default)]
pub(super) struct Notes {
    pub(super) quiet: bool,
    shown: [u64; 2],
    hidden: [u64; 2],
}

/// The kinds of lines reported, in the order of [`Notes`]' counts.
const KINDS: [&str; 2] = ["malformed", "rejected"];

impl Blocks {
    /// The stream of `receivers`' blocks, the parsers' in the order the reader hands blocks to
    /// them, and the reader of its [`Ending`].
    pub(super) fn new(
        name: String,
        receivers: Vec<mpsc::Receiver<Parsed>>,
        names: Rc<RefCell<SourceNames>>,
        progress: Option<ProgressBar>,
        quiet: bool,
    ) -> (Self, Reader<Ending>) {
        let (ending, back) = Counted::new(Ending::default());
        let blocks = Blocks {
            name,
            to_run: vec![Vec::new(); receivers.len()],
            receivers,
            next: 0,
            next_line: 1,
            readings: Vec::new().into_iter(),
            names,
            progress,
            notes: Notes {
                quiet,
                ..Notes::default()
            },
            ending,
        };
        (blocks, back)
    }

    /// The next parsed block, its lines other than readings counted and the malformed and
    /// rejected ones reported; its readings' sources numbered as the run numbers them.
    fn poll_block(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let Some(rx) = self.receivers.get_mut(self.next) else {
            return Poll::Ready(None);
        };
        match rx.poll_recv(cx) {
            Poll::Ready(Some(mut parsed)) => {
                let to_run = &mut self.to_run[self.next];
                self.next = (self.next + 1) % self.receivers.len();
                let new = std::mem::take(&mut parsed.new_sources);
                self.names.borrow_mut().learn(to_run, new);
                if !to_run.is_empty() {
                    for reading in &mut parsed.readings {
                        reading.source = to_run[reading.source as usize];
                    }
                }
                self.account(&parsed);
                self.readings = parsed.readings.into_iter();
                Poll::Ready(Some(()))
            }
            Poll::Ready(None) => {
                // The parser whose turn it is has ended: the input has no more blocks.
                self.receivers.clear();
                self.ending.update(|e| e.ended = true);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Counts the lines of `parsed` that are not readings, and reports the malformed and
    /// rejected ones.
    fn account(&mut self, parsed: &Parsed) {
        let (malformed, ahead) = (parsed.malformed.len() as u64, parsed.ahead.len() as u64);
        let readings = parsed.readings.len() as u64;
        let latest = parsed.readings.iter().map(|r| r.timestamp).max();
        self.ending.update(|e| {
            e.progress.latest = e.progress.latest.max(latest);
            let t = &mut e.progress.tally;
            t.read += readings + parsed.blank + parsed.filtered + malformed + ahead;
            t.blank += parsed.blank;
            t.filtered += parsed.filtered;
            t.malformed += malformed;
            t.ahead += ahead;
            e.failed |= parsed.error.is_some();
        });
        for (kind, notes) in [&parsed.malformed, &parsed.ahead].into_iter().enumerate() {
            let what = KINDS[kind];
            for note in notes {
                let shown = &mut self.notes.shown[kind];
                if self.notes.quiet || *shown == SHOWN {
                    self.notes.hidden[kind] += 1;
                    continue;
                }
                *shown += 1;
                match note.line {
                    Some(i) => report!(
                        "{what}: {}:{}: {}",
                        self.name,
                        self.next_line + i,
                        note.text
                    ),
                    None => report!("{what}: {}: {}", self.name, note.text),
                }
            }
        }
        if let Some(error) = &parsed.error {
            report!("weir run: {}: {error}", self.name);
        }
        self.next_line += parsed.lines;
        if let Some(bar) = &self.progress {
            bar.inc(parsed.bytes);
        }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        let unread = self.readings.len() as u64;
        self.ending.update(|e| e.progress.tally.read -= unread);
        if self.notes.quiet {
            return;
        }
        for (kind, hidden) in self.notes.hidden.iter().enumerate() {
            if *hidden > 0 {
                let what = KINDS[kind];
                report!(
                    "{what}: {}: {hidden} more {what} lines not shown (the summary counts them \
                     all)",
                    self.name
                );
            }
        }
    }
}

impl Stream for Blocks {
    type Item = Reading;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Reading>> {
        let this = &mut *self;
        loop {
            if let Some(reading) = this.readings.next() {
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
