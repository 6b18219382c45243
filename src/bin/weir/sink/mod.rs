//! Where `weir run`'s windows go: JSON lines of complete windows on stdout ([`Lines`]), or
//! partial windows to a Redis stream for `weir combine` (`partials.rs`). [`window_json`] is
//! the one format of a window that weir writes, here and in `weir combine`.

#[cfg(feature = "redis")]
pub(crate) mod partials;

use std::cell::RefCell;
use std::io::{self, Write};
use std::time::Duration;

use weir::event::{SeverityAcc, StatsBySeverity};
use weir::window::Aggregate;

use crate::names::SourceNames;
use crate::reading::Reading;
use crate::windows::Closed;

/// What the pipeline hands a sink each time windows close, or on a heartbeat. Only the
/// partials sink reads the progress (late readings, settled, holding, ended).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Batch<'a> {
    /// Closed windows, in order.
    pub(crate) windows: &'a [Closed],
    /// Readings that came after their windows closed (only for a sink that
    /// [takes them](Sink::takes_late)).
    pub(crate) late: &'a [Reading],
    /// The sources' names, by number (borrowed only while a batch is being made, never
    /// across a write).
    pub(crate) names: &'a RefCell<SourceNames>,
    /// No window ending before this will be written again, but for late readings.
    pub(crate) settled: u64,
    /// The source holds readings for windows still open.
    pub(crate) holding: bool,
    /// This is the last batch.
    pub(crate) ended: bool,
}

/// Where JSON lines of windows go: stdout, or a Redis stream (an entry per line, in the field
/// `window`). Written means written through: flushed, or confirmed by the server.
pub(crate) enum Lines {
    Stdout,
    #[cfg(feature = "redis")]
    Stream(weir::io::redis::RedisSink),
}

impl Lines {
    pub(crate) async fn write(&mut self, lines: &[String]) -> io::Result<()> {
        match self {
            Lines::Stdout => {
                let stdout = io::stdout();
                let mut out = stdout.lock();
                for line in lines {
                    writeln!(out, "{line}")?;
                }
                out.flush()
            }
            #[cfg(feature = "redis")]
            Lines::Stream(sink) => {
                let fields: Vec<Vec<(&str, &str)>> =
                    lines.iter().map(|l| vec![("window", l.as_str())]).collect();
                sink.send(&fields)
                    .await
                    .map(|_| ())
                    .map_err(io::Error::other)
            }
        }
    }
}

/// Where `weir run` writes its windows.
pub(crate) enum Sink {
    /// Complete windows as JSON lines; with `by`, one line per source in each window.
    Lines { out: Lines, by: bool },
    /// Partial windows and progress markers for `weir combine`.
    #[cfg(feature = "redis")]
    Partials(partials::Partials),
}

impl Sink {
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

    /// Writes a batch, through.
    pub(crate) async fn write(&mut self, batch: Batch<'_>) -> io::Result<()> {
        match self {
            Sink::Lines { out, by } => {
                let lines: Vec<String> = {
                    let names = batch.names.borrow();
                    let names = by.then_some(names.all());
                    let line = |w: &Closed| {
                        rows(&w.result, names)
                            .into_iter()
                            .map(|(key, acc)| window_json(w.start, w.end, key, &acc))
                            .collect::<Vec<_>>()
                    };
                    batch.windows.iter().flat_map(line).collect()
                };
                out.write(&lines).await
            }
            #[cfg(feature = "redis")]
            Sink::Partials(partials) => partials.write(batch).await,
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

/// The rows of a window's statistics by source number: with `names`, one per source that
/// had readings, by name in order; without, one for the whole window, when it had readings.
pub(crate) fn rows<'a>(
    accs: &[SeverityAcc],
    names: Option<&'a [Box<str>]>,
) -> Vec<(Option<&'a str>, SeverityAcc)> {
    let seen = |acc: &SeverityAcc| acc.1.iter().any(|&n| n > 0);
    match names {
        Some(names) => {
            let mut keyed: Vec<(Option<&str>, SeverityAcc)> = accs
                .iter()
                .enumerate()
                .filter(|(_, acc)| seen(acc))
                .map(|(i, acc)| (Some(&*names[i]), *acc))
                .collect();
            keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            keyed
        }
        None => {
            let all = accs.iter().fold(StatsBySeverity.init(), |a, b| {
                StatsBySeverity.combine(&a, b)
            });
            if seen(&all) {
                vec![(None, all)]
            } else {
                Vec::new()
            }
        }
    }
}

/// The JSON line of the statistics of window `[start, end)` (of one key, when given).
pub(crate) fn window_json(start: u64, end: u64, key: Option<&str>, acc: &SeverityAcc) -> String {
    let stats = StatsBySeverity.stats(acc, start, end);
    let mut json = serde_json::to_value(&stats).expect("stats serialize");
    if let Some(key) = key {
        json["key"] = serde_json::Value::String(key.to_owned());
    }
    json.to_string()
}
