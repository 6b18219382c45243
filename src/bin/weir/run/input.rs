//! The inputs of `weir run`: files (or stdin) read on threads of their own, each line parsed
//! there and handed to the run in batches.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use weir::Stream;
use weir::event::{Event, EventType};

/// One input line as JSON: `source` and `value` required, the rest optional.
#[derive(Debug, Deserialize)]
struct InputEvent {
    id: Option<u64>,
    timestamp: Option<u64>,
    source: String,
    value: f64,
    event_type: Option<EventType>,
}

/// One line, as parsed by a reader thread.
pub(super) enum Line {
    Event(Event),
    Malformed(String),
    /// Valid, but stamped too far ahead of the clock (`--max-future`).
    Ahead(String),
    Blank,
}

/// Lines go from a reader thread to the merge this many at a time (or fewer, when the input
/// has nothing more to read at once): one channel operation per batch, not per line.
const BATCH: usize = 256;

/// Reads `reader` line by line, handing each to `f` as `Some(line)`, never holding more than
/// `max` bytes of one line: a longer line is skipped to its end and handed on as
/// `Some(Err(length))`. `f(None)` is called whenever the next read may block (everything read
/// so far has been handed on). Stops when `f` returns `false`.
fn for_each_line<R: Read>(
    mut reader: BufReader<R>,
    max: usize,
    mut f: impl FnMut(Option<Result<&[u8], usize>>) -> bool,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut overlong: Option<usize> = None;
    loop {
        if reader.buffer().is_empty() && !f(None) {
            return Ok(());
        }
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if let Some(len) = overlong {
                f(Some(Err(len)));
            } else if !line.is_empty() {
                f(Some(Ok(&line)));
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
            None if ends && line.is_empty() => {
                // The whole line is in the buffer: no copy.
                let go_on = f(Some(Ok(chunk)));
                reader.consume(consumed);
                if !go_on {
                    return Ok(());
                }
                continue;
            }
            None => line.extend_from_slice(chunk),
        }
        reader.consume(consumed);
        if ends {
            let go_on = match overlong.take() {
                Some(len) => f(Some(Err(len))),
                None => f(Some(Ok(&line))),
            };
            line.clear();
            if !go_on {
                return Ok(());
            }
        }
    }
}

/// How a reader thread parses lines.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parse {
    pub(super) max_line: usize,
    pub(super) max_future: Option<Duration>,
}

/// Parses one line (`number`, from 1) of input `name`.
fn parse_line(
    name: &str,
    number: u64,
    line: Result<&[u8], usize>,
    how: Parse,
    next_id: &mut u64,
) -> Line {
    let bytes = match line {
        Err(len) => {
            return Line::Malformed(format!(
                "{name}:{number}: line of {len} bytes is longer than the limit of {}",
                how.max_line
            ));
        }
        Ok(bytes) => bytes,
    };
    let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Line::Blank;
    };
    if bytes[first] != b'{' {
        return Line::Malformed(format!("{name}:{number}: not a JSON object"));
    }
    let input = match serde_json::from_slice::<InputEvent>(bytes) {
        Ok(input) => input,
        Err(e) => return Line::Malformed(format!("{name}:{number}: {e}")),
    };
    let id = input.id.unwrap_or(*next_id);
    *next_id = id.saturating_add(1);
    let timestamp = input.timestamp.unwrap_or_else(weir::event::now_ms);
    if let Some(ahead) = how.max_future {
        let now = weir::event::now_ms();
        let limit = now.saturating_add(u64::try_from(ahead.as_millis()).unwrap_or(u64::MAX));
        if timestamp > limit {
            return Line::Ahead(format!(
                "{name}:{number}: timestamp {timestamp} is more than {} ms ahead of the clock ({now})",
                ahead.as_millis()
            ));
        }
    }
    Line::Event(Event {
        id,
        timestamp,
        source: input.source,
        value: input.value,
        event_type: input.event_type.unwrap_or(EventType::Metric),
    })
}

/// Starts a thread that parses `reader` and sends its lines in batches.
pub(super) fn start_reader(name: String, reader: Box<dyn Read + Send>, how: Parse) -> Batches {
    let (tx, rx) = mpsc::channel::<Vec<Line>>(4);
    std::thread::spawn(move || {
        let mut number = 0u64;
        let mut next_id = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        let reader = BufReader::with_capacity(1 << 16, reader);
        // Hands the batch over; false when the run is over (the receiver is gone).
        let send = |batch: &mut Vec<Line>| {
            let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
            full.is_empty() || tx.blocking_send(full).is_ok()
        };
        let result = for_each_line(reader, how.max_line, |line| match line {
            Some(line) => {
                number += 1;
                batch.push(parse_line(&name, number, line, how, &mut next_id));
                batch.len() < BATCH || send(&mut batch)
            }
            None => send(&mut batch),
        });
        if let Err(e) = result {
            batch.push(Line::Malformed(format!("{name}: read error: {e}")));
        }
        send(&mut batch);
    });
    Batches {
        rx,
        batch: Vec::new().into_iter(),
    }
}

/// The lines of one input, as its reader thread sends them.
pub(super) struct Batches {
    rx: mpsc::Receiver<Vec<Line>>,
    batch: std::vec::IntoIter<Line>,
}

impl Stream for Batches {
    type Item = Line;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Line>> {
        loop {
            if let Some(line) = self.batch.next() {
                return Poll::Ready(Some(line));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.batch = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// An input as opened: its name for reports, and its bytes.
type Input = (String, Box<dyn Read + Send>);

/// Opens every input, or says which one cannot be opened and why.
pub(super) fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, String> {
    if files.is_empty() {
        return Ok(vec![("stdin".to_owned(), Box::new(io::stdin()))]);
    }
    if files.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err("stdin (`-`) can be read only once".to_owned());
    }
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok(("stdin".to_owned(), Box::new(io::stdin()) as _));
            }
            let cannot = |e: &dyn std::fmt::Display| format!("cannot open {}: {e}", path.display());
            let file = File::open(path).map_err(|e| cannot(&e))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(cannot(&"is a directory"));
            }
            Ok((path.display().to_string(), Box::new(file) as _))
        })
        .collect()
}
