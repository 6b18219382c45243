//! Partial windows for `weir combine`: what one consumer of a Redis stream (`weir run --from
//! redis://... --to redis://...`) saw of each window, written to a stream.
//!
//! Each batch of windows is written as partials (`redis/entries.rs`), one per window (per
//! source with `--by source`), followed in the same pipeline by a marker saying which windows
//! are settled and whether readings still wait in open windows (or, before the first entry,
//! whether the consumer may still get some: until its `--idle-timeout`, if any); a marker goes
//! out at least every [`HEARTBEAT`], windows or not, so the combiner can tell a live consumer
//! from a dead one. Late readings (behind this consumer's watermark, such as entries claimed
//! from a consumer that died) are written as partials of their windows too: the combiner
//! still counts them if it has not closed those windows. The last batch ends with an end
//! marker.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use weir::event::SeverityAcc;
use weir::io::redis::RedisSink;
use weir::window::{Aggregate, windows_holding};

use super::batch::{Batch, rows};
use crate::reading::Reading;
use crate::redis::{Marker, Partial, Target, waits};
use crate::windows::BySource;

/// How often a consumer writing partials says how far it has settled, windows or not.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);

/// A stream of partials, written as one consumer.
pub(crate) struct Partials {
    sink: RedisSink,
    /// The stream's address as given, for reports.
    to: String,
    consumer: String,
    /// The windows' size and slide (ms), for the windows of late readings.
    size: u64,
    slide: u64,
    by: bool,
    written: u64,
}

impl Partials {
    /// Connects to `target` (given as `to`); a failed write is tried again for about
    /// `give_up`.
    pub(crate) async fn connect(
        target: &Target,
        to: &str,
        consumer: &str,
        give_up: Duration,
        (size, slide): (u64, u64),
        by: bool,
    ) -> Result<Partials, String> {
        let sink = async {
            let client = redis::Client::open(target.server.as_str())?;
            RedisSink::connect(&client, &target.stream).await
        };
        let sink = sink.await.map_err(|e| format!("{to}: {e}"))?;
        // Retries spread over about the give-up time.
        let retries = u32::try_from(give_up.as_secs() / 2).unwrap_or(u32::MAX);
        let backoff = waits().retries(retries.saturating_add(3));
        Ok(Partials {
            sink: sink.backoff(backoff),
            to: to.to_owned(),
            consumer: consumer.to_owned(),
            size,
            slide,
            by,
            written: 0,
        })
    }

    /// Writes the partials of a batch and its marker, confirmed by the server.
    pub(super) async fn write(&mut self, batch: Batch<'_>) -> io::Result<()> {
        let mut entries = Vec::new();
        let consumer = &self.consumer;
        {
            let names = batch.names.borrow();
            let names = self.by.then_some(names.all());
            let mut push = |start: u64, end: u64, accs: &[SeverityAcc]| {
                for (key, acc) in rows(accs, names) {
                    let key = key.map(str::to_owned);
                    entries.push(Partial::new(start, end, key, &acc).fields(consumer));
                }
            };
            for w in batch.windows {
                push(w.start, w.end, &w.result);
            }
            for ((end, start), accs) in late_windows(batch.late, self.size, self.slide) {
                push(start, end, &accs);
            }
        }
        let settled = Marker::Settled {
            before: batch.settled,
            holding: batch.holding,
        };
        entries.push(settled.fields(consumer));
        if batch.ended {
            entries.push(Marker::End.fields(consumer));
        }
        let ids = self
            .sink
            .send(&entries)
            .await
            .map_err(|e| io::Error::other(format!("{}: {e}", self.to)))?;
        self.written += ids.len() as u64;
        Ok(())
    }

    /// Entries written so far, and where.
    pub(super) fn written(&self) -> (u64, &str) {
        (self.written, &self.to)
    }
}

/// The statistics of late readings by the windows they belong to, by `(end, start)`.
fn late_windows(late: &[Reading], size: u64, slide: u64) -> BTreeMap<(u64, u64), Vec<SeverityAcc>> {
    let mut by_window: BTreeMap<(u64, u64), Vec<SeverityAcc>> = BTreeMap::new();
    for r in late {
        for (start, end) in windows_holding(r.timestamp, size, slide) {
            BySource.add(by_window.entry((end, start)).or_default(), r);
        }
    }
    by_window
}
