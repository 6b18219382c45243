//! Files and stdin as a source: each input is cut into blocks of whole lines on a reader
//! thread, the blocks are parsed (and judged by admission's rules) on parser threads, and the
//! run takes the parsed blocks back in the order they were cut ([`Blocks`]). The inputs are
//! merged by event time (`merge_event_time`), so that an input read faster than another
//! does not make the other's events late, and an input that is ahead is read no further than
//! the others allow.
//!
//! ```text
//!   reader ──block 0, 2, 4…──▶ parser 0 ──┐
//!          ──block 1, 3, 5…──▶ parser 1 ──┴─▶ Blocks (takes 0, 1, 2, 3… in turn) ─▶ merge
//! ```
//!
//! The reader hands block `i` to parser `i % parsers`, and [`Blocks`] takes parsed blocks from
//! the parsers in the same rotation, so an input's events come out in the order of its lines
//! whatever the number of parsers. Every channel is bounded: a slow run holds back the
//! parsers and the reader, and memory stays at a few blocks per input.

mod blocks;
mod fast_json;
mod parse;
mod read;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::admission::Rules;
use crate::names::{SourceCache, SourceNames};
use crate::reading::{Reader, Reading, Readings, Tally};
use crate::until_signal::{Stop, UntilSignal};
use blocks::{Blocks, Ending};
use parse::{Parse, Parsed, parse_block};
use read::{Block, read_blocks};

/// Parsed blocks waiting for the run, per parser.
const QUEUED: usize = 2;

/// Inputs this large in all get a progress bar, when stderr is a terminal.
const PROGRESS_FROM: u64 = 100_000_000;

/// An input as opened: its name for reports, its bytes, and its size when it is a file.
struct Input {
    name: String,
    reader: Box<dyn Read + Send>,
    size: Option<u64>,
}

/// The threads of one input and what its stream hands back.
struct Started {
    /// The input's name, for reports.
    name: String,
    ending: Reader<Ending>,
    threads: Vec<JoinHandle<()>>,
    /// Not a regular file (stdin, a pipe, a device): a read may wait for ever.
    may_block: bool,
}

/// What the run keeps of a files source: the inputs' threads and tallies, and the progress
/// bar.
pub(crate) struct Files {
    inputs: Vec<Started>,
    progress: Option<ProgressBar>,
}

/// Opens `files` (stdin when none, or `-`) and starts reading and parsing them: their
/// readings merged by event time (an input silent for `idle` no longer holds the others
/// back), or which input cannot be opened and why.
pub(super) fn open(
    files: &[impl AsRef<Path>],
    max_line: usize,
    rules: Rules,
    idle: Option<Duration>,
    quiet: bool,
    stop: &Stop,
) -> Result<(impl Readings, Rc<RefCell<SourceNames>>, Files), String> {
    let inputs = open_inputs(files)?;
    let total = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
    let progress = progress(total);
    let names = Rc::new(RefCell::new(SourceNames::default()));
    let how = Parse { max_line, rules };
    // Every core parses: one input gets a parser per core, several share them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parsers = (cores / inputs.len()).max(1);
    let mut streams = Vec::with_capacity(inputs.len());
    let mut started = Vec::with_capacity(inputs.len());
    for input in inputs {
        let may_block = input.size.is_none();
        let (receivers, threads) = start_input(input.reader, how, parsers);
        let name = input.name.clone();
        let (blocks, ending) = Blocks::new(
            input.name,
            receivers,
            names.clone(),
            progress.clone(),
            quiet,
        );
        // Each input ends on a signal: the merge then hands on what it holds of the others.
        streams.push(UntilSignal::new(blocks, stop.clone()));
        started.push(Started {
            name,
            ending,
            threads,
            may_block,
        });
    }
    let mut merged = weir::merge::merge_event_time(streams, |r: &Reading| r.timestamp);
    if let Some(idle) = idle {
        merged = merged.idle_timeout(idle);
    }
    let files = Files {
        inputs: started,
        progress,
    };
    Ok((merged, names, files))
}

impl Files {
    /// What the inputs counted so far, and each one's name and latest event time.
    pub(super) fn progress(&self) -> (Tally, Vec<(&str, Option<u64>)>) {
        let mut tally = Tally::default();
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let ending = input.ending.get();
            tally += ending.progress.tally;
            inputs.push((input.name.as_str(), ending.progress.latest));
        }
        (tally, inputs)
    }

    /// Once the stream of readings is dropped: what the inputs counted, and whether they all
    /// could be read (a read error, or a reader or parser thread that panicked, is reported
    /// and makes this `false`). The inputs' threads are joined, but those of an input that is
    /// not a regular file and was not read to its end (a thread blocked reading a terminal or
    /// a pipe cannot be told to stop; the process ends it).
    pub(super) fn finish(self) -> (Tally, bool) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        let mut tally = Tally::default();
        let mut read = true;
        for input in self.inputs {
            let ending = input.ending.get();
            tally += ending.progress.tally;
            read &= !ending.failed;
            if ending.ended || !input.may_block {
                read &= join(&input.name, input.threads);
            }
        }
        (tally, read)
    }
}

/// Joins an input's threads: `false`, reported, if one of them panicked (its input may have
/// ended early).
fn join(name: &str, threads: Vec<JoinHandle<()>>) -> bool {
    let mut all = true;
    for thread in threads {
        if let Err(panic) = thread.join() {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            report!("weir run: {name}: a thread reading or parsing it panicked: {why}");
            all = false;
        }
    }
    all
}

/// Starts the reader and `parsers` parser threads of one input: the parsers' receivers, in
/// the order the reader hands them blocks, and the threads.
fn start_input(
    reader: Box<dyn Read + Send>,
    how: Parse,
    parsers: usize,
) -> (Vec<mpsc::Receiver<Parsed>>, Vec<JoinHandle<()>>) {
    let mut receivers = Vec::with_capacity(parsers);
    let mut threads = Vec::with_capacity(parsers + 1);
    if parsers <= 1 {
        // One parser: the reader parses what it reads.
        let (tx, rx) = mpsc::channel::<Parsed>(QUEUED);
        receivers.push(rx);
        let mut sources = SourceCache::default();
        threads.push(std::thread::spawn(move || {
            read_blocks(reader, how.max_line, |block| {
                tx.blocking_send(parse_block(block, how, &mut sources))
                    .is_ok()
            });
        }));
        return (receivers, threads);
    }
    let mut blocks = Vec::with_capacity(parsers);
    for _ in 0..parsers {
        let (block_tx, mut block_rx) = mpsc::channel::<Block>(1);
        let (tx, rx) = mpsc::channel::<Parsed>(QUEUED);
        blocks.push(block_tx);
        receivers.push(rx);
        let mut sources = SourceCache::default();
        threads.push(std::thread::spawn(move || {
            while let Some(block) = block_rx.blocking_recv() {
                if tx
                    .blocking_send(parse_block(block, how, &mut sources))
                    .is_err()
                {
                    return;
                }
            }
        }));
    }
    threads.push(std::thread::spawn(move || {
        let mut next = 0;
        read_blocks(reader, how.max_line, |block| {
            let sent = blocks[next].blocking_send(block).is_ok();
            next = (next + 1) % blocks.len();
            sent
        });
    }));
    (receivers, threads)
}

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

/// Opens every input, or says which one cannot be opened and why.
fn open_inputs(files: &[impl AsRef<Path>]) -> Result<Vec<Input>, String> {
    let stdin = || Input {
        name: "stdin".to_owned(),
        reader: Box::new(io::stdin()),
        size: None,
    };
    if files.is_empty() {
        return Ok(vec![stdin()]);
    }
    let is_stdin = |p: &Path| p.as_os_str() == "-";
    if files.iter().filter(|p| is_stdin(p.as_ref())).count() > 1 {
        return Err("stdin (`-`) can be read only once".to_owned());
    }
    files
        .iter()
        .map(|path| {
            let path = path.as_ref();
            if is_stdin(path) {
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

    #[test]
    fn a_thread_that_panicked_fails_the_input() {
        let fine = std::thread::spawn(|| ());
        assert!(join("input", vec![fine]));
        let panicked = std::thread::spawn(|| panic!("a parser's bug"));
        let fine = std::thread::spawn(|| ());
        assert!(!join("input", vec![fine, panicked]));
    }
}
