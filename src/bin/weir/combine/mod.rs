//! `weir combine`: merges the partial windows that several consumers (`weir run --from
//! redis://... --to redis://...`) wrote to one stream into final windows, one per window and
//! key, the same as one process reading every event would have computed.
//!
//! # When a window is final
//!
//! Each consumer writes, after its partials, how far it has settled (it will write no more
//! partials for the windows that end before that time, except for late events) and whether
//! it holds events in windows still open. A consumer counts while it holds events, until it
//! writes its end marker or has written nothing for `--consumer-timeout` (it died: whoever
//! claims its entries writes their partials). A window is final once it ends before the
//! least settled time of the consumers that count (with `--lateness`, also once it ends that
//! long before the most settled one); when no consumer counts, every window is: each
//! consumer has written all it read. A consumer first heard from through a partial (as a
//! combiner started again hears of every consumer whose partials it had not written: it
//! acknowledged their markers) counts from the start until a marker of its says otherwise. A consumer that writes again after its end marker was
//! started again. Final windows are written in order of their end, then their key, and the
//! partials they merged are acknowledged after the write; a partial that comes for a window
//! already written is late: counted, reported, acknowledged. On SIGINT or SIGTERM it stops
//! (status 130 or 143) without writing the windows still open: their partials stay
//! unacknowledged, and a combiner started again under the same name reads them first.

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
    /// Write the final windows to this stream, `redis://HOST:PORT/STREAM`, one entry per
    /// window and key with the field `window` (its JSON line), instead of to stdout.
    #[arg(long)]
    pub to: Option<String>,
    /// A consumer that has written nothing for this long no longer holds windows back.
    /// Make it longer than the consumers' --claim-idle, so that the partials of the entries
    /// claimed from a dead consumer come before its windows are closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub consumer_timeout: Duration,
    /// Also close a window once some consumer has settled this long past its end: how long
    /// a consumer that is behind may hold the others' results back (default: as long as it
    /// lives).
    #[arg(long, value_parser = parse_duration)]
    pub lateness: Option<Duration>,
    /// Stop at the first read that finds nothing new for 100 ms, writing every window still
    /// open.
    #[arg(long)]
    pub until_idle: bool,
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
    use weir::io::redis::{Acker, Entry, RedisSink, RedisSource, StreamGroup};

    use super::combiner::{Combiner, points, write_lines};
    use super::*;
    use crate::common::{failure, millis, pull, signals, usage, write_failure};
    use crate::observe::{PUBLISH_EVERY, RedisCounts, Snapshot};
    use crate::reading::Reader;
    use crate::redis::{Report, Resilient, Target, block, retries_over};
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
        gave_up: oneshot::Receiver<String>,
        acker: Acker,
        out: Lines,
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
        let connected = async {
            let client = redis::Client::open(from.server.as_str())?;
            let group = StreamGroup::new(&from.stream, &args.group, &args.consumer)
                .block(block(args.until_idle))
                .ack_backoff(retries_over(args.give_up_after));
            RedisSource::connect(&client, group).await
        };
        let (source, acker) = connected.await.map_err(|e| failed(&from.shown, &e))?;
        let source = if args.until_idle {
            source.until_idle()
        } else {
            source
        };
        let out = match &to {
            None => Lines::Stdout,
            Some(target) => {
                let sink = async {
                    let client = redis::Client::open(target.server.as_str())?;
                    RedisSink::connect(&client, &target.stream).await
                };
                Lines::Stream(sink.await.map_err(|e| failed(&target.shown, &e))?)
            }
        };
        let (entries, gave_up) = Resilient::new(source, from.shown.clone(), args.give_up_after);
        let read_retries = entries.retries();
        Ok(Ends {
            read_retries,
            shown: from.shown,
            stream: from.stream,
            entries,
            gave_up,
            acker,
            out,
        })
    }

    /// What the combiner counted besides what [`Combiner`] did.
    #[derive(Default)]
    struct Counts {
        read: u64,
        malformed: u64,
        written: u64,
    }

    /// Runs `weir combine`.
    pub async fn combine(args: CombineArgs) -> ExitCode {
        let Ends {
            stream,
            entries,
            mut gave_up,
            acker,
            mut out,
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
        loop {
            let ended = tokio::select! {
                biased;
                _ = interrupt.recv() => { caught = Some(130); break; }
                _ = terminate.recv() => { caught = Some(143); break; }
                ended = poll_fn(|cx| pull(entries.as_mut(), &mut batch, cx)) => ended,
                _ = tick.tick() => false,
                _ = publishing.tick(), if watching.is_some() => false,
            };
            if let Ok(e) = gave_up.try_recv() {
                return failure("combine", e);
            }
            take(&mut combiner, batch.drain(..), &acker, &mut counts, &stream);
            let frontier = if ended { u64::MAX } else { combiner.frontier() };
            let closed = combiner.close(frontier);
            if !closed.is_empty() {
                let mut text = Vec::new();
                let n = write_lines(&mut text, &closed);
                match out.write(&text).await {
                    Ok(()) => counts.written += n,
                    Err(e) => return write_failure("combine", &e),
                }
                if let Some(w) = &mut watching {
                    w.observer.closed(points(&closed));
                }
                for id in closed.into_iter().flat_map(|(_, open)| open.ids) {
                    acker.ack(id);
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
        report!("{}", summary(&shown, &counts, &combiner, &acker));
        if let Some(w) = watching {
            let last = snapshot(&counts, &combiner, &acker, &read_retries, &out);
            w.observer.finish(last, w.server, w.linger).await;
        }
        caught.map_or(ExitCode::SUCCESS, ExitCode::from)
    }

    /// Takes a batch of entries into the combiner: each acknowledged now or held in an open
    /// window, or dead-lettered when it is not a weir entry.
    fn take(
        combiner: &mut Combiner,
        batch: impl Iterator<Item = Entry>,
        acker: &Acker,
        counts: &mut Counts,
        stream: &str,
    ) {
        for entry in batch {
            counts.read += 1;
            match Report::parse(&entry) {
                Ok((consumer, report)) => {
                    if combiner.take(consumer, report, &entry.id) {
                        acker.ack(&entry.id);
                    }
                }
                Err(why) => {
                    counts.malformed += 1;
                    report!("malformed: {stream} {}: {why}", entry.id);
                    acker.dead_letter(entry, &why);
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
        out: &Lines,
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
            not_events: vec![("marker", combiner.markers)],
            windows: counts.written,
            redis: Some(RedisCounts {
                acknowledged: acker.acked(),
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
    fn summary(from: &str, counts: &Counts, combiner: &Combiner, acker: &Acker) -> String {
        format!(
            "summary: {} entries read from {from} ({} partials, {} markers, {} malformed) from \
             {} consumers; {} window results written, {} late partials; {} acknowledged, {} \
             dead-lettered",
            counts.read,
            combiner.partials,
            combiner.markers,
            counts.malformed,
            combiner.consumers(),
            counts.written,
            combiner.late,
            acker.acked(),
            acker.dead_lettered(),
        )
    }
}
