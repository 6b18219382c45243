//! What a sink is handed, and the rows and JSON lines of a window.

use std::cell::RefCell;

use weir::event::{SeverityAcc, StatsBySeverity};

use crate::names::SourceNames;
use crate::reading::Reading;
use crate::windows::Closed;

/// What the pipeline hands a sink each time windows close, or on a heartbeat. Only the
/// partials sink reads the progress (late readings, settled, holding, ended).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Batch<'a> {
    /// Closed windows (one row per source with `--by source`), in window order; the last
    /// window's rows may go on in the next batch, unless it ends before `settled`.
    pub(crate) windows: &'a [Closed],
    /// Readings that came after their windows closed (only for a sink that
    /// [takes them](super::Sink::takes_late)).
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

/// The JSON lines of `rows`, complete windows in window order: within each window, with
/// `names`, by source name.
pub(crate) fn lines(rows: &mut [Closed], names: Option<&[Box<str>]>) -> Vec<String> {
    let name = |c: &Closed| names.zip(c.source).map(|(names, i)| &*names[i as usize]);
    if names.is_some() {
        for window in rows.chunk_by_mut(|a, b| (a.start, a.end) == (b.start, b.end)) {
            window.sort_unstable_by(|a, b| name(a).cmp(&name(b)));
        }
    }
    rows.iter()
        .map(|c| window_json(c.start, c.end, name(c), &c.acc))
        .collect()
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
