//! What a sink is handed, and the rows and JSON lines of a window.

use std::cell::RefCell;

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
