//! What a sink is handed, and the rows and JSON lines of a window.

use std::cell::RefCell;

use weir::event::SeverityAcc;

use crate::names::{Names, SourceNames};
use crate::reading::{Done, Reading};
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
    /// Readings of entries another consumer (or this one before a restart) held, kept out
    /// of the windows, each with the end before which their windows were committed already:
    /// written as partials of their other windows (only by the partials sink).
    pub(crate) replayed: &'a [(Reading, u64)],
    /// The sources' names, by number (borrowed only while a batch is being made, never
    /// across a write).
    pub(crate) names: &'a RefCell<SourceNames>,
    /// No window ending before this will be written again, but for late readings.
    pub(crate) settled: u64,
    /// The source holds readings for windows still open.
    pub(crate) holding: bool,
    /// This is the last batch.
    pub(crate) ended: bool,
    /// The input entries that are done with once this batch is written: a sink that
    /// [commits](super::Sink::commits) them takes them.
    pub(crate) done: &'a mut Done,
    /// The source's claims (counted in the ledger) whose entries are all in this batch or
    /// in open windows.
    pub(crate) claims: u64,
}

/// Appends the JSON lines of `rows` to `text`, each ending in a newline: complete windows in
/// window order; within each window, with `names`, by source name.
pub(crate) fn lines(text: &mut Vec<u8>, rows: &mut [Closed], names: Option<&Names>) {
    let name = |c: &Closed| names.zip(c.source).map(|(names, i)| &*names[i as usize]);
    if names.is_some() {
        for window in rows.chunk_by_mut(|a, b| (a.start, a.end) == (b.start, b.end)) {
            window.sort_unstable_by(|a, b| name(a).cmp(&name(b)));
        }
    }
    for c in rows.iter() {
        window_line(text, c.start, c.end, name(c), &c.acc);
    }
}

/// Appends the JSON line of the statistics of window `[start, end)` (of one key, when given),
/// and a newline, to `out`: the fields of [`WindowedStats`](weir::event::WindowedStats) and
/// `key`, in alphabetical order, numbers and strings as serde_json writes them, severities
/// with no event left out.
pub(crate) fn window_line(
    out: &mut Vec<u8>,
    start: u64,
    end: u64,
    key: Option<&str>,
    acc: &SeverityAcc,
) {
    /// The severities by name, alphabetically, with their index in the counts.
    const SEVERITIES: [(&[u8], usize); 4] = [
        (b"\"Critical\":", 3),
        (b"\"High\":", 2),
        (b"\"Low\":", 0),
        (b"\"Medium\":", 1),
    ];
    // Writes to a `Vec` cannot fail.
    fn json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
        serde_json::to_writer(out, value).expect("a number or a string serializes");
    }
    let (moments, by) = acc;
    out.extend_from_slice(b"{\"avg_value\":");
    json(out, &moments.mean().unwrap_or(0.0));
    out.extend_from_slice(b",\"event_count\":");
    decimal(out, by.iter().sum::<usize>() as u64);
    if let Some(key) = key {
        out.extend_from_slice(b",\"key\":");
        json(out, key);
    }
    out.extend_from_slice(b",\"max_value\":");
    json(out, &moments.max().unwrap_or(0.0));
    out.extend_from_slice(b",\"severity_counts\":{");
    let mut first = true;
    for (name, i) in SEVERITIES {
        if by[i] > 0 {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(name);
            decimal(out, by[i] as u64);
            first = false;
        }
    }
    out.extend_from_slice(b"},\"window_end\":");
    decimal(out, end);
    out.extend_from_slice(b",\"window_start\":");
    decimal(out, start);
    out.extend_from_slice(b"}\n");
}

/// Appends `n` in decimal.
fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use weir::event::StatsBySeverity;
    use weir::window::{Aggregate, Moments};

    use super::*;

    /// The line is what serializing the library's `WindowedStats` through a JSON value (keys
    /// in order) gives, with the key added.
    #[test]
    fn a_window_line_is_the_stats_as_serde_json_writes_them() {
        let mut acc = StatsBySeverity.init();
        for (v, severity) in [
            (1.5, 0),
            (99.0, 3),
            (55.25, 1),
            (f64::NAN, 0),
            (1e17, 3),
            (0.0, 2),
        ] {
            acc.0.add(v);
            acc.1[severity] += 1;
        }
        let cases = [
            (acc, Some("sensor \"7\"\n")),
            (acc, None),
            ((Moments::EMPTY, [0; 4]), Some("é")),
            ((Moments::EMPTY, [10_000_000_000, 0, 0, 7]), Some("")),
        ];
        for (acc, key) in cases {
            let stats = StatsBySeverity.stats(&acc, 1_000, u64::MAX);
            let mut want = serde_json::to_value(&stats).unwrap();
            if let Some(key) = key {
                want["key"] = serde_json::Value::String(key.to_owned());
            }
            let mut line = Vec::new();
            window_line(&mut line, 1_000, u64::MAX, key, &acc);
            assert_eq!(String::from_utf8(line).unwrap(), want.to_string() + "\n");
        }
    }
}
