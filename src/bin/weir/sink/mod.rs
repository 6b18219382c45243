//! Where `weir run`'s windows go: JSON lines of complete windows on stdout ([`Lines`]), or
//! partial windows to a Redis stream for `weir combine` (`partials.rs`). `batch.rs` holds
//! what every sink is handed and [`window_line`](batch::window_line), the one format of a
//! window that weir writes, here and in `weir combine`.

mod batch;
#[cfg(feature = "redis")]
pub(crate) mod partials;

pub(crate) use batch::Batch;
#[cfg(feature = "redis")]
pub(crate) use batch::window_line;

use std::io::{self, Write};
use std::time::Duration;

use crate::windows::Closed;

/// Where JSON lines of windows go: stdout. Written means written through: flushed.
pub(crate) enum Lines {
    Stdout,
    /// Stdout written from tokio's blocking pool: while a write waits for a slow reader, the
    /// task goes on with other work (the input, into `--buffer`).
    StdoutAside(tokio::io::Stdout),
}

impl Lines {
    /// Writes `text`, JSON lines each ending in a newline.
    pub(crate) async fn write(&mut self, text: &[u8]) -> io::Result<()> {
        match self {
            Lines::Stdout => {
                // One write for the batch (stdout is line-buffered: a write per line would be
                // a system call per line).
                let mut out = io::stdout().lock();
                out.write_all(text)?;
                out.flush()
            }
            Lines::StdoutAside(out) => {
                use tokio::io::AsyncWriteExt;
                out.write_all(text).await?;
                out.flush().await
            }
        }
    }
}

/// Where `weir run` writes its windows.
pub(crate) enum Sink {
    /// Complete windows as JSON lines; with `by`, one line per source in each window, by
    /// source name. The rows of a window not complete yet are `held` for the next batch.
    Lines {
        out: Lines,
        by: bool,
        held: Vec<Closed>,
    },
    /// Partial windows and progress markers for `weir combine`.
    #[cfg(feature = "redis")]
    Partials(Box<partials::Partials>),
}

impl Sink {
    /// Complete windows as JSON lines to `out`, by source with `by`.
    pub(crate) fn lines(out: Lines, by: bool) -> Sink {
        Sink::Lines {
            out,
            by,
            held: Vec::new(),
        }
    }

    /// How often the sink wants a batch even when no window closed.
    pub(crate) fn heartbeat(&self) -> Option<Duration> {
        match self {
            Sink::Lines { .. } => None,
            #[cfg(feature = "redis")]
            Sink::Partials(_) => Some(partials::HEARTBEAT),
        }
    }

    /// Whether the sink writes late readings (into partials of their windows).
    pub(crate) fn takes_late(&self) -> bool {
        match self {
            Sink::Lines { .. } => false,
            #[cfg(feature = "redis")]
            Sink::Partials(_) => true,
        }
    }

    /// Whether the sink acknowledges the batch's [`done`](Batch::done) entries itself, in
    /// the transaction that writes the batch (else the pipeline acknowledges them after).
    pub(crate) fn commits(&self) -> bool {
        match self {
            Sink::Lines { .. } => false,
            #[cfg(feature = "redis")]
            Sink::Partials(_) => true,
        }
    }

    /// The sink's commits applied so far, one per batch written (none for one that does
    /// not commit).
    pub(crate) fn applied(&self) -> u64 {
        match self {
            Sink::Lines { .. } => 0,
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => partials.applied(),
        }
    }

    /// Entries the sink acknowledged in its commits so far.
    pub(crate) fn acknowledged(&self) -> u64 {
        match self {
            Sink::Lines { .. } => 0,
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => partials.acknowledged(),
        }
    }

    /// Writes a batch, through.
    pub(crate) async fn write(&mut self, batch: Batch<'_>) -> io::Result<()> {
        match self {
            Sink::Lines { out, by, held } => {
                held.extend_from_slice(batch.windows);
                let complete = if batch.ended {
                    held.len()
                } else {
                    held.partition_point(|c| c.end < batch.settled)
                };
                let mut text = Vec::new();
                {
                    let names = batch.names.borrow();
                    batch::lines(&mut text, &mut held[..complete], by.then_some(names.all()));
                }
                held.drain(..complete);
                out.write(&text).await
            }
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => partials.write(batch).await,
        }
    }

    /// Writes sent again after a failure so far.
    pub(crate) fn retried(&self) -> u64 {
        match self {
            Sink::Lines { .. } => 0,
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => partials.retried(),
        }
    }

    /// For the summary: entries written and where, for a sink that counts them.
    pub(crate) fn written(&self) -> Option<(u64, &str)> {
        match self {
            Sink::Lines { .. } => None,
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => Some(partials.written()),
        }
    }
}
