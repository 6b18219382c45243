//! Partial windows for `weir combine`: what one consumer of a Redis stream (`weir run --from
//! redis://... --to redis://...`) saw of each window, written to a stream.
//!
//! Each batch of windows is written as partials (`redis/entries.rs`), one per window (per
//! source with `--by source`), followed in the same pipeline by a marker saying which windows
//! are settled and whether readings still wait in open windows (or, before the first entry,
//! whether the consumer may still get some: until its `--idle-timeout`, if any); a marker goes
//! out at least every [`HEARTBEAT`], windows or not, so the combiner can tell a live consumer
//! from a dead one. Readings late only for this consumer's windows (an idle timeout closed
//! them; those late in stream order never reach the windows) are written as partials of their
//! windows too, and so are entries replayed from a consumer that died: the combiner still
//! counts them if it has not closed those windows. The last batch ends with an end marker.
//!
//! A batch is one commit ([`Committer`]): its partials and marker are written, and the input
//! entries it is the last word on are acknowledged, in one transaction on the server that
//! holds both streams. A commit is refused when one of those entries is no longer this
//! consumer's (another consumer claimed it while this one was stopped): then nothing of it
//! is applied, and the run ends with status 1, so that the entry is counted once, by the
//! consumer that claimed it.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use tokio::task::JoinHandle;
use weir::event::SeverityAcc;
use weir::io::redis::{Commit, Committer, StreamGroup};
use weir::window::{Aggregate, windows_holding};

use super::batch::Batch;
use crate::reading::Reading;
use crate::redis::{Marker, Partial, Progress, Target, retries_over};
use crate::windows::Severities;

/// How often a consumer writing partials says how far it has settled, windows or not.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);

/// A stream of partials, written as one consumer.
pub(crate) struct Partials {
    /// `None` while a commit is in flight, on a task of its own.
    committer: Option<Committer>,
    in_flight: Option<JoinHandle<InFlight>>,
    /// The committer's counts when it last came back: acknowledged, written, retried.
    counts: (u64, u64, u64),
    /// Commits applied so far.
    applied: u64,
    /// The stream's address as given, for reports.
    to: String,
    consumer: String,
    /// The windows' size and slide (ms), for the windows of late readings.
    size: u64,
    slide: u64,
    by: bool,
}

/// A commit's task gives back the committer, the outcome, and how many ids it acknowledges.
type InFlight = (Committer, redis::RedisResult<Commit>, usize);

impl Partials {
    /// Connects to `target`, to commit partials with the acknowledgements of `input`'s
    /// entries; a failed commit is tried again for about `give_up`.
    pub(crate) async fn connect(
        target: &Target,
        input: &StreamGroup,
        give_up: Duration,
        (size, slide): (u64, u64),
        by: bool,
    ) -> Result<Partials, String> {
        let committer = async {
            let client = redis::Client::open(target.server.as_str())?;
            Committer::connect(&client, input, &target.stream).await
        };
        let to = &target.shown;
        let committer = committer.await.map_err(|e| format!("{to}: {e}"))?;
        // The combiner knows a consumer by its name in the ledger, which the partials carry.
        let consumer = committer.name().to_owned();
        Ok(Partials {
            committer: Some(committer.backoff(retries_over(give_up))),
            in_flight: None,
            counts: (0, 0, 0),
            applied: 0,
            to: to.to_owned(),
            consumer,
            size,
            slide,
            by,
        })
    }

    /// Commits the partials of a batch, its marker and the entries it is done with. The
    /// commit runs while the pipeline goes on to the next batch, whose write first waits for
    /// it (one commit in flight, applied in order); the last batch's write returns once its
    /// commit is applied.
    pub(super) async fn write(&mut self, batch: Batch<'_>) -> io::Result<()> {
        self.settle().await?;
        let mut entries = Vec::new();
        let consumer = &self.consumer;
        {
            let names = batch.names.borrow();
            let names = names.all();
            let mut push = |start: u64, end: u64, source: Option<u32>, acc: &SeverityAcc| {
                let key = source.map(|i| names[i as usize].to_string());
                entries.push(Partial::new(start, end, key, acc).fields(consumer));
            };
            for c in batch.windows {
                push(c.start, c.end, c.source, &c.acc);
            }
            // Late readings in all their windows; replayed ones in those not committed yet.
            let late = batch.late.iter().map(|r| (r, 0));
            let replayed = batch.replayed.iter().map(|(r, after)| (r, *after));
            let late = late_windows(late.chain(replayed), self.size, self.slide, self.by);
            for ((end, start, source), acc) in late {
                push(start, end, source, &acc);
            }
        }
        let settled = Marker::Settled {
            before: batch.settled,
            holding: batch.holding,
        };
        entries.push(settled.fields(consumer));
        let last = if batch.ended {
            entries.push(Marker::End.fields(consumer));
            Marker::End
        } else {
            settled
        };
        let mut committer = self.committer.take().expect("no commit in flight");
        let (ids, claims) = (std::mem::take(batch.done), batch.claims);
        self.in_flight = Some(tokio::spawn(async move {
            let progress = Progress {
                marker: last,
                claims,
            }
            .text();
            let count = ids.len();
            let committed = committer.commit_through(ids, &entries, &progress).await;
            (committer, committed, count)
        }));
        if batch.ended {
            self.settle().await?;
            // Stopped for good with everything committed: out of the ledger and the group,
            // unless entries are still pending for it (then it still counts).
            let committer = self.committer.as_mut().expect("settled");
            if let Err(e) = committer.leave().await {
                report!("weir run: {}: could not leave the ledger: {e}", self.to);
            }
        }
        Ok(())
    }

    /// Waits for the commit in flight, if any: an error if it failed or was refused.
    async fn settle(&mut self) -> io::Result<()> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        let (committer, committed, ids) = in_flight.await.map_err(io::Error::other)?;
        self.counts = (
            committer.acknowledged(),
            committer.written(),
            committer.retried(),
        );
        self.committer = Some(committer);
        match committed.map_err(|e| io::Error::other(format!("{}: {e}", self.to)))? {
            Commit::Applied => {
                self.applied += 1;
                Ok(())
            }
            Commit::Refused { not_owned } => Err(io::Error::other(format!(
                "{}: commit refused: {not_owned} of the {ids} entries it acknowledges are no \
                 longer {}'s (claimed by another consumer while this one was stopped?); \
                 nothing of it was applied. Start it again to read what is still its own",
                self.to, self.consumer,
            ))),
        }
    }

    /// Commits applied so far, one per batch written.
    pub(super) fn applied(&self) -> u64 {
        self.applied
    }

    /// Input entries acknowledged in the commits applied so far.
    pub(super) fn acknowledged(&self) -> u64 {
        self.counts.0
    }

    /// Entries written so far, and where.
    pub(super) fn written(&self) -> (u64, &str) {
        (self.counts.1, &self.to)
    }

    /// Commits sent again after a failure so far.
    pub(super) fn retried(&self) -> u64 {
        self.counts.2
    }
}

/// A late window's place: `(end, start, source)`, the source with `--by source`.
type LateWindow = (u64, u64, Option<u32>);

/// The statistics of readings by the windows they belong to (and their sources, `by`), each
/// reading in its windows ending at or after its `after`.
fn late_windows<'a>(
    late: impl Iterator<Item = (&'a Reading, u64)>,
    size: u64,
    slide: u64,
    by: bool,
) -> BTreeMap<LateWindow, SeverityAcc> {
    let mut by_window = BTreeMap::new();
    for (r, after) in late {
        let source = by.then_some(r.source);
        for (start, end) in windows_holding(r.timestamp, size, slide) {
            if end < after {
                continue;
            }
            let acc = by_window
                .entry((end, start, source))
                .or_insert_with(|| Severities.init());
            Severities.add(acc, r);
        }
    }
    by_window
}
