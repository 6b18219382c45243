//! `weir combine`: merges the partial windows that several consumers (`weir run --from
//! redis://... --to redis://...`) wrote to one stream into final windows, one per window and
//! key, the same as one process reading every event would have computed.
//!
//! # When a window is final
//!
//! Each consumer commits, with its partials, how far it has settled (it will write no more
//! partials for the windows that end before that time, except for late events) and whether
//! it holds events in windows still open: a marker in the stream, and its progress in the
//! ledger. A window is final once it ends before the least settled time of the consumers
//! that count (with `--lateness`, also once it ends that long before the most settled one);
//! when no consumer counts, every window is: each consumer has written all it read. The
//! markers that settle it must be confirmed by a ledger snapshot asked for after they were
//! read: a consumer may have read entries of the window, before them in stream order, after
//! the snapshot before said it held nothing.
//!
//! A consumer counts while the server lists entries pending for it in its input group
//! (however long it has been silent: a dead consumer's entries hold their windows until
//! another consumer claims and commits them), while it has claimed entries its last commit
//! did not cover (then it holds every window back), and while it says it holds events, until
//! it writes its end marker or has written nothing for `--consumer-timeout` and a ledger
//! snapshot asked for after its last report says it has nothing pending (one taken before
//! may be out of date: a combiner that has not read the ledger yet, or a consumer slower
//! than its markers, are waited for). What the server
//! holds comes from a ledger snapshot taken once a second and used once every partial
//! committed before it has been read (`Ledger::snapshot`); a consumer this combiner has
//! heard no marker from since it started (it acknowledged them before a restart, or the
//! consumer has just connected) takes its last committed marker from there too. A consumer
//! first heard from through a partial counts from the start until a marker or the ledger
//! says otherwise. A consumer that writes again after its end marker was started again.
//!
//! Final windows are written in order of their end, then their key. To a stream, each batch
//! is one commit with the acknowledgements of the partials it merged and the combiner's
//! progress, which a combiner started again goes on from; to stdout, the partials are
//! acknowledged after the write. A partial that comes for a window already written is late:
//! counted, reported, acknowledged. On SIGINT or SIGTERM it stops (status 130 or 143)
//! without writing the windows still open: their partials stay unacknowledged, and a
//! combiner started again under the same name reads them first.

use std::process::ExitCode;
use std::time::Duration;

use crate::common::parse_duration;
use crate::observe::MetricsArgs;

#[cfg(feature = "redis")]
mod combiner;

/// `weir combine` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CombineArgs {
    /// The stream the consumers write partial windows to: `redis://HOST:PORT/STREAM`.
    #[arg(long)]
    pub from: String,
    /// The consumer group to read the partials in.
    #[arg(long, default_value = "weir-combine")]
    pub group: String,
    /// This combiner's name in that group.
    #[arg(long, default_value = "combiner")]
    pub consumer: String,
    /// Write the final windows to this stream, `redis://HOST:PORT/STREAM` on the server of
    /// --from, one entry per window and key with the field `window` (its JSON line), instead
    /// of to stdout: each batch of windows is committed with the acknowledgements of the
    /// partials it merged, so that a combiner killed and started again writes every window
    /// once.
    #[arg(long)]
    pub to: Option<String>,
    /// A consumer that has written nothing for this long, and that a ledger reading taken
    /// since says has no entries pending in its input group, no longer holds windows back. One with entries pending
    /// holds them back until they are committed, by it or by the consumer that claims them,
    /// however long that takes.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub consumer_timeout: Duration,
    /// Also close a window once some consumer has settled this long past its end: how long
    /// a consumer that is behind may hold the others' results back (default: as long as it
    /// lives).
    #[arg(long, value_parser = parse_duration)]
    pub lateness: Option<Duration>,
    /// Stop at the first read that finds nothing new, writing every window still open. A
    /// read that finds nothing waits WAIT (100ms) and reads once more; `--until-idle=0s`
    /// stops at the first, for partials whose consumers have all ended.
    #[arg(long, value_name = "WAIT", num_args = 0..=1, require_equals = true,
          default_missing_value = "100ms", value_parser = parse_duration)]
    pub until_idle: Option<Duration>,
    /// Exit with status 1 once reading or writing has failed this long without a success.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub give_up_after: Duration,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// Runs `weir combine`.
#[cfg(not(feature = "redis"))]
pub async fn combine(_args: CombineArgs) -> ExitCode {
    crate::common::unsupported("combine")
}

#[cfg(feature = "redis")]
pub use imp::combine;

#[cfg(feature = "redis")]
mod imp {
    use std::future::poll_fn;
    use std::pin::pin;

    use tokio::sync::oneshot;
    use tokio::time::{MissedTickBehavior, interval};
    use weir::io::redis::{
        Acker, Commit, Committer, Entry, Ledger, LedgerSnapshot, RedisSource, Rereads, StreamGroup,
    };

    use super::combiner::{Asked, Combiner, Listed, Through, points, write_lines};
    use super::*;
    use crate::common::{failure, millis, pull, signals, usage, write_failure};
    use crate::observe::{PUBLISH_EVERY, RedisCounts, Snapshot};
    use crate::reading::Reader;
    use crate::redis::{
        Progress, Report, Resilient, Settling, Target, block, id_key, retries_over,
    };
    use crate::sink::Lines;

    /// Reports what failed: status 1.
    fn failed(what: &str, e: &dyn std::fmt::Display) -> ExitCode {
        failure("combine", format_args!("{what}: {e}"))
    }

    /// The partials to read, and where the final windows go.
    struct Ends {
        /// The partials' stream's name, for reports.
        stream: String,
        entries: Resilient<RedisSource>,
        /// Whether the source re-reads the combiner's pending partials.
        rereads: Rereads,
        gave_up: oneshot::Receiver<String>,
        acker: Acker,
        out: Out,
        ledger: Ledger,
        /// Failed reads tried again.
        read_retries: Reader<u64>,
        /// The partials' stream as reports show it (no password).
        shown: String,
    }

    /// Connects to the partials' stream and the final windows' one.
    async fn connect(args: &CombineArgs) -> Result<Ends, ExitCode> {
        let from =
            Target::parse(&args.from).map_err(|e| usage("combine", &format!("--from: {e}")))?;
        let to = args.to.as_deref().map(Target::parse).transpose();
        let to = to.map_err(|e| usage("combine", &format!("--to: {e}")))?;
        if args.consumer_timeout.is_zero() {
            return Err(usage("combine", "--consumer-timeout must be at least 1ms"));
        }
        let group = StreamGroup::new(&from.stream, &args.group, &args.consumer)
            .block(block(args.until_idle.is_some()))
            .ack_backoff(retries_over(args.give_up_after));
        let connected = async {
            let client = redis::Client::open(from.server.as_str())?;
            let ledger = Ledger::connect(&client, &from.stream).await?;
            let (source, acker) = RedisSource::connect(&client, group.clone()).await?;
            Ok::<_, redis::RedisError>((source, acker, ledger))
        };
        let (source, acker, ledger) = connected.await.map_err(|e| failed(&from.shown, &e))?;
        let source = match args.until_idle {
            Some(wait) => source.until_idle_for(wait),
            None => source,
        };
        let out = match &to {
            None => Out::Lines(Lines::Stdout),
            Some(target) if target.server != from.server => {
                let why = format!(
                    "--to {} is not on the server of --from {}: the windows and the \
                     acknowledgements of the partials they merge are committed together, on \
                     one server",
                    target.shown, from.shown
                );
                return Err(usage("combine", &why));
            }
            Some(target) => {
                let committer = async {
                    let client = redis::Client::open(target.server.as_str())?;
                    Committer::connect(&client, &group, &target.stream).await
                };
                let committer = committer.await.map_err(|e| failed(&target.shown, &e))?;
                let committer = committer.backoff(retries_over(args.give_up_after));
                Out::Committed {
                    committer: Box::new(committer),
                    shown: target.shown.clone(),
                    applied: 0,
                }
            }
        };
        let rereads = source.rereads();
        let (entries, gave_up) = Resilient::new(source, from.shown.clone(), args.give_up_after);
        let read_retries = entries.retries();
        Ok(Ends {
            rereads,
            read_retries,
            shown: from.shown,
            stream: from.stream,
            entries,
            gave_up,
            acker,
            out,
            ledger,
        })
    }

    /// What a ledger reading lists, by consumer.
    type Recorded = Vec<(String, Listed)>;

    /// The consumers' ledger, read once a second. A reading is taken into the combiner once
    /// every partial committed before it has been read, so that it never says more than the
    /// partials read.
    struct Reading {
        ledger: Ledger,
        /// A snapshot waiting for its partials to be read, and when it was asked for.
        waiting: Option<(LedgerSnapshot, Asked)>,
        /// The greatest id read from the partials' stream.
        read_through: Option<(u64, u64)>,
    }

    impl Reading {
        /// Reads the ledger again, unless a reading waits for its partials; `combiner`: what
        /// it knows when the reading is asked for.
        async fn refresh(&mut self, shown: &str, combiner: &Combiner) {
            if self.waiting.is_some() {
                return;
            }
            let asked = combiner.ask();
            match self.ledger.snapshot().await {
                Ok(snapshot) => self.waiting = Some((snapshot, asked)),
                Err(e) => report!("weir combine: cannot read the ledger of {shown}: {e}"),
            }
        }

        /// An entry of the partials' stream was read.
        fn read(&mut self, id: &str) {
            self.read_through = self.read_through.max(id_key(id));
        }

        /// The reading, once every partial committed before it has been read, the id of the
        /// partials' last entry when it was taken, and when it was asked for.
        fn visible(&mut self) -> Option<(Recorded, Through, Asked)> {
            let through = self.waiting.as_ref()?.0.through.as_deref();
            if through.is_some_and(|t| id_key(t) > self.read_through) {
                return None;
            }
            let through = through.and_then(id_key);
            let (snapshot, asked) = self.waiting.take()?;
            let listed = snapshot.committers.into_iter().map(|(name, r)| {
                let progress = r.progress.as_deref().and_then(Progress::parse);
                let listed = Listed {
                    progress,
                    pending: r.pending,
                    claims: r.claims,
                };
                (name, listed)
            });
            Some((listed.collect(), through, asked))
        }
    }

    /// Where the final windows go: JSON lines on stdout, their partials acknowledged after
    /// the write (a combiner killed between the two prints those windows again when started
    /// again), or a stream on the partials' server, committed with the acknowledgements and
    /// the combiner's progress (how far its windows are written) in one transaction.
    enum Out {
        Lines(Lines),
        Committed {
            committer: Box<Committer>,
            /// The stream as reports show it.
            shown: String,
            /// Commits applied so far.
            applied: u64,
        },
    }

    impl Out {
        /// Writes the lines of final windows (`text`) and acknowledges the partials they
        /// merged (`ids`), which `settling` knows while their acknowledgements travel; every
        /// window ending before `closed_before` is written.
        async fn write(
            &mut self,
            text: &[u8],
            ids: Vec<String>,
            closed_before: u128,
            (acker, settling): (&Acker, &mut Settling),
        ) -> std::io::Result<()> {
            match self {
                Out::Lines(lines) => {
                    lines.write(text).await?;
                    for id in ids {
                        settling.alone(id_key(&id), acker.ack(id));
                    }
                    Ok(())
                }
                Out::Committed {
                    committer,
                    shown,
                    applied,
                } => {
                    let keys = ids.iter().filter_map(|id| id_key(id)).collect();
                    let text = std::str::from_utf8(text).map_err(std::io::Error::other)?;
                    let entries: Vec<_> = text.lines().map(|l| vec![("window", l)]).collect();
                    let progress = closed_before.to_string();
                    let committed = committer.commit_through(ids, &entries, &progress).await;
                    match committed.map_err(|e| std::io::Error::other(format!("{shown}: {e}")))? {
                        Commit::Applied => {
                            settling.batch(keys);
                            *applied += 1;
                            Ok(())
                        }
                        Commit::Refused { not_owned } => Err(std::io::Error::other(format!(
                            "{shown}: commit refused: {not_owned} of the partials it \
                             acknowledges are no longer this combiner's (another process \
                             reads as it?); nothing of it was applied"
                        ))),
                    }
                }
            }
        }

        /// Where a combiner started again goes on from: every window ending before it was
        /// written by the one before (only a committed stream records it).
        fn written_before(&self) -> Option<u128> {
            match self {
                Out::Lines(_) => None,
                Out::Committed { committer, .. } => committer.progress()?.parse().ok(),
            }
        }

        /// Commits applied so far (none for lines).
        fn applied(&self) -> u64 {
            match self {
                Out::Lines(_) => 0,
                Out::Committed { applied, .. } => *applied,
            }
        }

        /// Partials acknowledged in commits.
        fn acknowledged(&self) -> u64 {
            match self {
                Out::Lines(_) => 0,
                Out::Committed { committer, .. } => committer.acknowledged(),
            }
        }

        /// Writes sent again after a failure.
        fn retried(&self) -> u64 {
            match self {
                Out::Lines(_) => 0,
                Out::Committed { committer, .. } => committer.retried(),
            }
        }
    }

    /// What the combiner counted besides what [`Combiner`] did.
    #[derive(Default)]
    struct Counts {
        read: u64,
        malformed: u64,
        /// Entries delivered again (a read retried after an error) while held in an open
        /// window: skipped, or they would be merged twice.
        duplicates: u64,
        written: u64,
    }

    /// Runs `weir combine`.
    pub async fn combine(args: CombineArgs) -> ExitCode {
        let Ends {
            stream,
            entries,
            rereads,
            mut gave_up,
            acker,
            mut out,
            ledger,
            read_retries,
            shown,
        } = match connect(&args).await {
            Ok(ends) => ends,
            Err(status) => return status,
        };
        let mut watching = match args.metrics.start("combine") {
            Ok(watching) => watching,
            Err(e) => return usage("combine", &e),
        };
        let mut publishing = interval(PUBLISH_EVERY);
        let mut entries = pin!(entries);
        let mut combiner = Combiner::new(args.consumer_timeout, args.lateness.map(millis));
        if let Some(before) = out.written_before() {
            combiner.resume(before);
        }
        // On a signal the combiner stops without writing the windows still open: their
        // partials stay unacknowledged, for the combiner started again to read first.
        let (mut interrupt, mut terminate) = match signals() {
            Ok(signals) => signals,
            Err(e) => return failed("cannot listen for signals", &e),
        };
        let mut caught: Option<u8> = None;
        let mut tick = interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut batch, mut counts) = (Vec::new(), Counts::default());
        let mut settling = Settling::default();
        // Whether it said it prints again windows a combiner before it printed.
        let mut said_again = false;
        let mut reading = Reading {
            ledger,
            waiting: None,
            read_through: None,
        };
        loop {
            let ended = tokio::select! {
                biased;
                _ = interrupt.recv() => { caught = Some(130); break; }
                _ = terminate.recv() => { caught = Some(143); break; }
                ended = poll_fn(|cx| pull(entries.as_mut(), &mut batch, cx)) => ended,
                _ = tick.tick() => {
                    reading.refresh(&shown, &combiner).await;
                    false
                }
                _ = publishing.tick(), if watching.is_some() => false,
            };
            if let Ok(e) = gave_up.try_recv() {
                return failure("combine", e);
            }
            for entry in &batch {
                reading.read(&entry.id);
            }
            // Partials held before this process started (not those a read retried after an
            // error brings back: this process printed nothing of them).
            let before = batch.iter().any(|e| e.previous.is_some());
            if !said_again && matches!(out, Out::Lines(_)) && before {
                said_again = true;
                report!(
                    "weir combine: reading again partials the combiner before this one left \
                     unacknowledged: any window it printed from them is printed again"
                );
            }
            take(
                &mut combiner,
                &mut batch,
                (&acker, &mut settling),
                &mut counts,
                &stream,
            );
            // After the take: the entries of a pass handed out whole may be in the batch.
            settling.settle(out.applied(), acker.answered(), rereads.is_on());
            if let Some((recorded, through, asked)) = reading.visible() {
                combiner.ledger(recorded, through, asked);
            }
            let frontier = if ended {
                u64::MAX
            } else {
                combiner.final_before()
            };
            let closed = combiner.close(frontier);
            if !closed.is_empty() {
                let mut text = Vec::new();
                let n = write_lines(&mut text, &closed);
                if let Some(w) = &mut watching {
                    w.observer.closed(points(&closed));
                }
                let ids = closed.into_iter().flat_map(|(_, open)| open.ids).collect();
                let acks = (&acker, &mut settling);
                let written = out.write(&text, ids, combiner.closed_before(), acks);
                match written.await {
                    Ok(()) => counts.written += n,
                    Err(e) => return write_failure("combine", &e),
                }
            }
            if let Some(w) = watching.as_mut().filter(|w| w.observer.due()) {
                w.observer
                    .publish(snapshot(&counts, &combiner, &acker, &read_retries, &out));
            }
            if ended {
                break;
            }
        }
        if let Err(e) = acker.flush().await {
            return failed("cannot acknowledge", &e);
        }
        report!("{}", summary(&shown, &counts, &combiner, (&acker, &out)));
        if let Some(w) = watching {
            let last = snapshot(&counts, &combiner, &acker, &read_retries, &out);
            w.observer.finish(last, w.server, w.linger).await;
        }
        caught.map_or(ExitCode::SUCCESS, ExitCode::from)
    }

    /// Takes a batch of entries into the combiner: each acknowledged now or held in an open
    /// window, or dead-lettered when it is not a weir entry, or skipped when delivered again
    /// while held or while `settling` knows it.
    fn take(
        combiner: &mut Combiner,
        batch: &mut Vec<Entry>,
        (acker, settling): (&Acker, &mut Settling),
        counts: &mut Counts,
        stream: &str,
    ) {
        let before = batch.len();
        if batch.iter().any(|e| e.redelivered) {
            let held = combiner.held();
            batch.retain(|e| {
                let settling = || id_key(&e.id).is_some_and(|key| settling.contains(&key));
                !(e.redelivered && (held.contains(e.id.as_str()) || settling()))
            });
        }
        let again = (before - batch.len()) as u64;
        counts.read += again;
        counts.duplicates += again;
        for entry in batch.drain(..) {
            counts.read += 1;
            match Report::parse(&entry) {
                Ok((consumer, report)) => {
                    if combiner.take(consumer, report, &entry.id) {
                        settling.alone(id_key(&entry.id), acker.ack(entry.id));
                    }
                }
                Err(why) => {
                    counts.malformed += 1;
                    report!("malformed: {stream} {}: {why}", entry.id);
                    let key = id_key(&entry.id);
                    settling.alone(key, acker.dead_letter(entry, &why));
                }
            }
        }
    }

    /// The combiner's counts as the metrics show them: entries read, by what became of them
    /// (partials merged into open windows, late partials, malformed entries; markers apart),
    /// window results written, and the entries acknowledged, dead-lettered and held in open
    /// windows.
    fn snapshot(
        counts: &Counts,
        combiner: &Combiner,
        acker: &Acker,
        read_retries: &Reader<u64>,
        out: &Out,
    ) -> Snapshot {
        Snapshot {
            command: "combine",
            unit: "entries",
            read: counts.read,
            outcomes: vec![
                ("merged", combiner.partials - combiner.late),
                ("late", combiner.late),
                ("malformed", counts.malformed),
            ],
            not_events: vec![
                ("marker", combiner.markers),
                ("duplicate", counts.duplicates),
            ],
            windows: counts.written,
            redis: Some(RedisCounts {
                acknowledged: acker.acked() + out.acknowledged(),
                dead_lettered: acker.dead_lettered(),
                pending: combiner.holding(),
                read_retries: read_retries.get(),
                ack_retries: acker.retried(),
                write_retries: out.retried(),
            }),
            ..Snapshot::default()
        }
    }

    /// The summary line.
    fn summary(
        from: &str,
        counts: &Counts,
        combiner: &Combiner,
        (acker, out): (&Acker, &Out),
    ) -> String {
        format!(
            "summary: {} entries read from {from} ({} partials, {} markers, {} malformed, {} \
             duplicates skipped) from {} consumers; {} window results written, {} late \
             partials; {} acknowledged, {} dead-lettered",
            counts.read,
            combiner.partials,
            combiner.markers,
            counts.malformed,
            counts.duplicates,
            combiner.consumers(),
            counts.written,
            combiner.late,
            acker.acked() + out.acknowledged(),
            acker.dead_lettered(),
        )
    }
}
