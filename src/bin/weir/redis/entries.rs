//! The entries a consumer (`weir run --from redis://... --to redis://...`) writes for the
//! combiner (`weir combine`), each with the fields `kind` and `consumer`:
//!
//! - `kind=partial`, `data`: a [`Partial`] in JSON: what the consumer saw of one window (and
//!   one key with `--by source`), everything needed to merge it with the other consumers'.
//! - `kind=settled`, `before`, `holding`: a [`Marker::Settled`]: the consumer has written
//!   every partial of the windows that end before `before` (ms), except partials of late
//!   events; `holding` (`1` or `0`) says whether it holds events in windows still open.
//! - `kind=end`: a [`Marker::End`]: the consumer stopped after writing everything.

use serde::{Deserialize, Serialize};
use weir::event::SeverityAcc;
use weir::io::redis::Entry;
use weir::window::Moments;

/// What one consumer saw of one window and key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Partial {
    pub(crate) window_start: u64,
    pub(crate) window_end: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    pub(crate) moments: Moments,
    /// Events per severity, low to critical.
    pub(crate) severity: [usize; 4],
}

impl Partial {
    pub(crate) fn new(start: u64, end: u64, key: Option<String>, acc: &SeverityAcc) -> Self {
        Partial {
            window_start: start,
            window_end: end,
            key,
            moments: acc.0,
            severity: acc.1,
        }
    }

    pub(crate) fn acc(&self) -> SeverityAcc {
        (self.moments, self.severity)
    }

    /// The entry's fields.
    pub(crate) fn fields(&self, consumer: &str) -> Vec<(&'static str, String)> {
        let data = serde_json::to_string(self).expect("a partial serializes");
        vec![
            ("kind", "partial".to_owned()),
            ("consumer", consumer.to_owned()),
            ("data", data),
        ]
    }
}

/// A consumer's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// Every partial of the windows ending before `before` is written, except for late
    /// events; `holding`: events wait in windows still open (a consumer that holds none
    /// has written all it has read, and holds no window back).
    Settled {
        before: u64,
        holding: bool,
    },
    End,
}

impl Marker {
    /// The entry's fields.
    pub(crate) fn fields(self, consumer: &str) -> Vec<(&'static str, String)> {
        let mut fields = vec![("consumer", consumer.to_owned())];
        match self {
            Marker::Settled { before, holding } => {
                fields.push(("kind", "settled".to_owned()));
                fields.push(("before", before.to_string()));
                fields.push(("holding", u8::from(holding).to_string()));
            }
            Marker::End => fields.push(("kind", "end".to_owned())),
        }
        fields
    }
}

/// What a consumer records in the ledger with each commit: its last marker, and how many of
/// its claims counted in the ledger it had handed out whole when the batch was made (their
/// entries are in this commit's partials or held in its open windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) marker: Marker,
    pub(crate) claims: u64,
}

impl Progress {
    /// As recorded: `BEFORE HOLDING CLAIMS` (`HOLDING` 1 or 0), or `end CLAIMS`.
    pub(crate) fn text(self) -> String {
        match self.marker {
            Marker::Settled { before, holding } => {
                format!("{before} {} {}", u8::from(holding), self.claims)
            }
            Marker::End => format!("end {}", self.claims),
        }
    }

    /// A progress as [`text`](Self::text) records it.
    pub(crate) fn parse(text: &str) -> Option<Progress> {
        let mut words = text.split(' ');
        let marker = match (words.next()?, words.next()?) {
            ("end", claims) => (Marker::End, claims),
            (before, holding) => {
                let holding = match holding {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                };
                let before = before.parse().ok()?;
                let claims = words.next()?;
                (Marker::Settled { before, holding }, claims)
            }
        };
        let claims = marker.1.parse().ok()?;
        words.next().is_none().then_some(Progress {
            marker: marker.0,
            claims,
        })
    }
}

/// An entry of a partials stream, read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Report {
    Partial(Partial),
    Marker(Marker),
}

impl Report {
    /// The consumer that wrote `entry` and what it says, or why it is not a weir entry.
    pub(crate) fn parse(entry: &Entry) -> Result<(&str, Report), String> {
        if entry.replaced {
            return Err(NOT_UTF8.to_owned());
        }
        let consumer = entry.field("consumer").ok_or("no `consumer` field")?;
        let report = match entry.field("kind") {
            Some("partial") => {
                let data = entry
                    .field("data")
                    .ok_or("a partial with no `data` field")?;
                let partial: Partial =
                    serde_json::from_str(data).map_err(|e| format!("`data`: {e}"))?;
                if partial.window_start > partial.window_end {
                    return Err("`data`: the window starts after it ends".to_owned());
                }
                Report::Partial(partial)
            }
            Some("settled") => {
                let before = entry.field("before").ok_or("no `before` field")?;
                let before = before
                    .parse()
                    .map_err(|_| format!("`before` is not a time in ms: `{before}`"))?;
                let holding = match entry.field("holding") {
                    Some("1") => true,
                    Some("0") => false,
                    other => return Err(format!("`holding` is not 0 or 1: {other:?}")),
                };
                Report::Marker(Marker::Settled { before, holding })
            }
            Some("end") => Report::Marker(Marker::End),
            Some(other) => return Err(format!("unknown `kind` `{other}`")),
            None => return Err("no `kind` field".to_owned()),
        };
        Ok((consumer, report))
    }
}

/// Why an entry whose field names or values are not all UTF-8 is dead-lettered.
pub(crate) const NOT_UTF8: &str = "a field's name or value is not UTF-8 (replaced by U+FFFD \
                                   in the dead letter)";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: Vec<(&'static str, String)>) -> Entry {
        let fields = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Entry::new("1-0".to_owned(), fields)
    }

    #[test]
    fn entries_read_back_as_written() {
        let mut acc: SeverityAcc = (Moments::EMPTY, [0; 4]);
        for v in [0.1, 0.2, 0.3, 1e-17] {
            acc.0.add(v);
            acc.1[1] += 1;
        }
        let partial = Partial::new(1_000, 2_000, Some("sensor-1".to_owned()), &acc);
        let written = entry(partial.fields("a"));
        let read = Report::parse(&written).unwrap();
        // The compensated sum survives the trip to the digit.
        assert_eq!(read, ("a", Report::Partial(partial)));
        let settled = |before, holding| Marker::Settled { before, holding };
        for marker in [settled(u64::MAX, true), settled(7, false), Marker::End] {
            let written = entry(marker.fields("b"));
            let read = Report::parse(&written).unwrap();
            assert_eq!(read, ("b", Report::Marker(marker)));
        }
        for marker in [settled(u64::MAX, true), settled(0, false), Marker::End] {
            for claims in [0, u64::MAX] {
                let progress = Progress { marker, claims };
                assert_eq!(Progress::parse(&progress.text()), Some(progress));
            }
        }
        let bad = [
            "", "1", "1 1", "1 2 0", "x 1 0", "1 1 1 1", "END 1", "end", "end x",
        ];
        for bad in bad {
            assert_eq!(Progress::parse(bad), None, "{bad}");
        }
        let bad = entry(vec![
            ("kind", "settled".to_owned()),
            ("consumer", "c".into()),
        ]);
        assert_eq!(Report::parse(&bad), Err("no `before` field".to_owned()));
        let bad = entry(vec![("kind", "partial".to_owned())]);
        assert_eq!(Report::parse(&bad), Err("no `consumer` field".to_owned()));
    }
}
