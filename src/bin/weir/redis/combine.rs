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
//! consumer has written all it read. A consumer that writes again after its end marker was
//! started again. Final windows are written in order of their end, then their key, and the
//! partials they merged are acknowledged after the write; a partial that comes for a window
//! already written is late: counted, reported, acknowledged. On SIGINT or SIGTERM it stops
//! (status 130 or 143) without writing the windows still open: their partials stay
//! unacknowledged, and a combiner started again under the same name reads them first.

use std::time::Duration;

use crate::parse_duration;

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
}

/// Runs `weir combine`.
#[cfg(not(feature = "redis"))]
pub async fn combine(_args: CombineArgs) -> std::process::ExitCode {
    super::unsupported("combine")
}

#[cfg(feature = "redis")]
pub use imp::combine;

#[cfg(feature = "redis")]
mod imp {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, HashMap};
    use std::future::poll_fn;
    use std::io::{self, Write};
    use std::pin::pin;
    use std::process::ExitCode;

    use tokio::time::{Instant, MissedTickBehavior, interval};
    use weir::event::{SeverityAcc, StatsBySeverity};
    use weir::io::redis::{RedisSink, RedisSource, StreamGroup};
    use weir::window::Aggregate;

    use super::super::entries::{Marker, Report};
    use super::super::{Resilient, Target, block, pull, usage};
    use super::CombineArgs;

    /// What the combiner knows of one consumer.
    struct Consumer {
        /// It will write no more partials for windows ending before this.
        before: u64,
        seen: Instant,
        /// Whether it holds events in open windows: only then does it hold windows back.
        holding: bool,
        ended: bool,
    }

    /// A window not written yet: the merged partials by key, and the entries they came in.
    #[derive(Default)]
    struct Open {
        by_key: BTreeMap<Option<String>, SeverityAcc>,
        ids: Vec<String>,
    }

    /// The combiner's state.
    struct Combiner {
        consumers: HashMap<String, Consumer>,
        /// By `(end, start)`.
        open: BTreeMap<(u64, u64), Open>,
        /// Windows ending before this have been written.
        closed_before: u64,
        timeout: std::time::Duration,
        lateness: Option<u64>,
        partials: u64,
        markers: u64,
        late: u64,
    }

    impl Combiner {
        fn new(timeout: std::time::Duration, lateness: Option<u64>) -> Self {
            Combiner {
                consumers: HashMap::new(),
                open: BTreeMap::new(),
                closed_before: 0,
                timeout,
                lateness,
                partials: 0,
                markers: 0,
                late: 0,
            }
        }

        /// Takes one report of `consumer`'s, in entry `id`; returns whether the entry is
        /// done with (to acknowledge now) rather than held in an open window.
        fn take(&mut self, consumer: &str, report: Report, id: &str) -> bool {
            let now = Instant::now();
            let state = self
                .consumers
                .entry(consumer.to_owned())
                .or_insert(Consumer {
                    before: 0,
                    seen: now,
                    holding: false,
                    ended: false,
                });
            state.seen = now;
            match report {
                Report::Marker(marker) => {
                    self.markers += 1;
                    match marker {
                        Marker::Settled { before, holding } => {
                            // After an end, a consumer of that name started again.
                            state.before = if state.ended {
                                before
                            } else {
                                state.before.max(before)
                            };
                            state.ended = false;
                            state.holding = holding;
                        }
                        Marker::End => {
                            state.ended = true;
                            state.holding = false;
                        }
                    }
                    true
                }
                Report::Partial(p) => {
                    self.partials += 1;
                    if p.window_end < self.closed_before {
                        self.late += 1;
                        report!(
                            "late: a partial of {consumer} for the window [{}, {}) after it \
                             was written (entry {id})",
                            p.window_start,
                            p.window_end
                        );
                        return true;
                    }
                    let open = self.open.entry((p.window_end, p.window_start)).or_default();
                    let acc = open
                        .by_key
                        .entry(p.key.clone())
                        .or_insert_with(|| StatsBySeverity.init());
                    *acc = StatsBySeverity.combine(acc, &p.acc());
                    open.ids.push(id.to_owned());
                    false
                }
            }
        }

        /// Windows ending before this are final (`u64::MAX`: all of them).
        fn frontier(&self) -> u64 {
            let now = Instant::now();
            let counting = self
                .consumers
                .values()
                .filter(|c| c.holding && !c.ended && now.duration_since(c.seen) < self.timeout);
            let least = counting.clone().map(|c| c.before).min();
            let most = counting.map(|c| c.before).max();
            match (least, most, self.lateness) {
                (None, ..) => u64::MAX,
                (Some(least), Some(most), Some(lateness)) => {
                    least.max(most.saturating_sub(lateness))
                }
                (Some(least), ..) => least,
            }
        }

        /// Takes out the windows ending before `frontier`, in order. A partial for a window
        /// ending before the frontier is late from now on (with `u64::MAX`, before the end
        /// of the last window taken out).
        fn close(&mut self, frontier: u64) -> Vec<((u64, u64), Open)> {
            let kept = self.open.split_off(&(frontier, 0));
            let closed = std::mem::replace(&mut self.open, kept);
            let bound = match closed.last_key_value() {
                Some(((end, _), _)) if frontier == u64::MAX => end.saturating_add(1),
                _ if frontier == u64::MAX => self.closed_before,
                _ => frontier,
            };
            self.closed_before = self.closed_before.max(bound);
            closed.into_iter().collect()
        }
    }

    /// One JSON line per key of a final window, as `weir run` writes them.
    fn lines(((end, start), open): &((u64, u64), Open)) -> Vec<String> {
        open.by_key
            .iter()
            .map(|(key, acc)| {
                let stats = StatsBySeverity.stats(acc, *start, *end);
                let mut json = serde_json::to_value(&stats).expect("stats serialize");
                if let Some(key) = key {
                    json["key"] = serde_json::Value::String(key.clone());
                }
                json.to_string()
            })
            .collect()
    }

    /// Runs `weir combine`.
    pub async fn combine(args: CombineArgs) -> ExitCode {
        let from = match Target::parse(&args.from) {
            Ok(target) => target,
            Err(e) => return usage("combine", &format!("--from: {e}")),
        };
        let to = match args.to.as_deref().map(Target::parse).transpose() {
            Ok(to) => to,
            Err(e) => return usage("combine", &format!("--to: {e}")),
        };
        if args.consumer_timeout.is_zero() {
            return usage("combine", "--consumer-timeout must be at least 1ms");
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            report!("weir combine: {what}: {e}");
            ExitCode::from(1)
        };
        let connected = async {
            let client = redis::Client::open(from.server.as_str())?;
            let group = StreamGroup::new(&from.stream, &args.group, &args.consumer)
                .block(block(args.until_idle));
            RedisSource::connect(&client, group).await
        };
        let (source, acker) = match connected.await {
            Ok(connected) => connected,
            Err(e) => return failed(&args.from, &e),
        };
        let source = if args.until_idle {
            source.until_idle()
        } else {
            source
        };
        let mut sink = match &to {
            None => None,
            Some(target) => {
                let sink = async {
                    let client = redis::Client::open(target.server.as_str())?;
                    RedisSink::connect(&client, &target.stream).await
                };
                match sink.await {
                    Ok(sink) => Some(sink),
                    Err(e) => return failed(args.to.as_deref().unwrap_or_default(), &e),
                }
            }
        };
        let gave_up = RefCell::new(None);
        let entries = Resilient::new(source, args.from.clone(), args.give_up_after, &gave_up);
        let mut entries = pin!(entries);
        let lateness = args
            .lateness
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut combiner = Combiner::new(args.consumer_timeout, lateness);
        // On a signal the combiner stops without writing the windows still open: their
        // partials stay unacknowledged, for the combiner started again to read first.
        let (mut interrupt, mut terminate) = match crate::signals() {
            Ok(signals) => signals,
            Err(e) => return failed("cannot listen for signals", &e),
        };
        let mut caught: Option<u8> = None;
        let mut tick = interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut batch, mut read, mut malformed, mut written) = (Vec::new(), 0u64, 0u64, 0u64);
        loop {
            let ended = tokio::select! {
                biased;
                _ = interrupt.recv() => { caught = Some(130); break; }
                _ = terminate.recv() => { caught = Some(143); break; }
                ended = poll_fn(|cx| pull(entries.as_mut(), &mut batch, cx)) => ended,
                _ = tick.tick() => false,
            };
            if let Some(e) = gave_up.borrow().as_ref() {
                report!("weir combine: {e}");
                return ExitCode::from(1);
            }
            for entry in batch.drain(..) {
                read += 1;
                match Report::parse(&entry) {
                    Ok((consumer, report)) => {
                        if combiner.take(consumer, report, &entry.id) {
                            acker.ack(&entry.id);
                        }
                    }
                    Err(why) => {
                        malformed += 1;
                        report!("malformed: {} {}: {why}", from.stream, entry.id);
                        acker.dead_letter(entry, &why);
                    }
                }
            }
            let frontier = if ended { u64::MAX } else { combiner.frontier() };
            let closed = combiner.close(frontier);
            if !closed.is_empty() {
                let lines: Vec<String> = closed.iter().flat_map(lines).collect();
                let result = match &mut sink {
                    None => {
                        let stdout = io::stdout();
                        let mut out = stdout.lock();
                        lines
                            .iter()
                            .try_for_each(|l| writeln!(out, "{l}"))
                            .and_then(|()| out.flush())
                    }
                    Some(sink) => {
                        let fields: Vec<Vec<(&str, &str)>> =
                            lines.iter().map(|l| vec![("window", l.as_str())]).collect();
                        sink.send(&fields)
                            .await
                            .map(|_| ())
                            .map_err(io::Error::other)
                    }
                };
                match result {
                    Ok(()) => written += lines.len() as u64,
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
                    Err(e) => return failed("cannot write the output", &e),
                }
                for (_, open) in closed {
                    for id in open.ids {
                        acker.ack(id);
                    }
                }
            }
            if ended {
                break;
            }
        }
        if let Err(e) = acker.flush().await {
            return failed("cannot acknowledge", &e);
        }
        report!(
            "summary: {read} entries read from {} ({} partials, {} markers, {malformed} \
             malformed) from {} consumers; {written} window results written, {} late \
             partials; {} acknowledged, {} dead-lettered",
            args.from,
            combiner.partials,
            combiner.markers,
            combiner.consumers.len(),
            combiner.late,
            acker.acked(),
            acker.dead_lettered(),
        );
        caught.map_or(ExitCode::SUCCESS, ExitCode::from)
    }

    #[cfg(test)]
    mod tests {
        use super::super::super::entries::Partial;
        use super::*;
        use weir::window::Moments;

        fn partial(start: u64, end: u64, value: f64) -> Report {
            let mut acc: SeverityAcc = (Moments::EMPTY, [0; 4]);
            acc.0.add(value);
            acc.1[0] += 1;
            Report::Partial(Partial::new(start, end, None, &acc))
        }

        fn combiner(timeout: u64) -> Combiner {
            Combiner::new(std::time::Duration::from_millis(timeout), None)
        }

        fn settled(before: u64, holding: bool) -> Report {
            Report::Marker(Marker::Settled { before, holding })
        }

        #[tokio::test(start_paused = true)]
        async fn windows_close_when_every_consumer_holding_events_has_settled_them() {
            let mut c = combiner(5_000);
            assert!(!c.take("a", partial(0, 10, 1.0), "1"));
            assert!(c.take("a", settled(20, true), "2"));
            // b holds events, none written yet: it holds the window back.
            assert!(c.take("b", settled(5, true), "3"));
            assert_eq!(c.frontier(), 5);
            assert!(!c.take("b", partial(0, 10, 3.0), "4"));
            c.take("b", settled(15, true), "5");
            assert_eq!(c.frontier(), 15);
            let closed = c.close(15);
            assert_eq!(closed.len(), 1);
            assert_eq!(closed[0].1.ids, ["1", "4"]);
            let line: serde_json::Value = serde_json::from_str(&lines(&closed[0])[0]).unwrap();
            assert_eq!(line["event_count"], 2);
            assert_eq!(line["avg_value"], 2.0);
            // A partial for a window already written is late.
            assert!(c.take("b", partial(0, 10, 5.0), "6"));
            assert_eq!(c.late, 1);
            // a goes silent: after the timeout, b alone holds windows back.
            tokio::time::advance(std::time::Duration::from_millis(3_000)).await;
            c.take("b", settled(30, true), "7");
            assert_eq!(c.frontier(), 20);
            tokio::time::advance(std::time::Duration::from_millis(2_000)).await;
            assert_eq!(c.frontier(), 30);
            // b ends: no one holds events, every window is final.
            c.take("b", Report::Marker(Marker::End), "8");
            assert_eq!(c.frontier(), u64::MAX);
            // b starts again and holds events: it holds windows back from its new time.
            c.take("b", settled(40, true), "9");
            assert_eq!(c.frontier(), 40);
        }

        #[tokio::test(start_paused = true)]
        async fn a_consumer_holding_nothing_holds_nothing_back() {
            let mut c = combiner(60_000);
            c.take("a", partial(0, 10, 1.0), "1");
            c.take("a", settled(10, false), "2");
            // An idle consumer (no events yet) settled at its first window.
            c.take("b", settled(0, false), "3");
            assert_eq!(c.frontier(), u64::MAX);
            assert_eq!(c.close(u64::MAX).len(), 1);
            // Later windows are not late: only those up to the last one written.
            assert!(!c.take("a", partial(10, 20, 1.0), "4"));
            assert!(c.take("b", partial(0, 10, 1.0), "5"));
            assert_eq!(c.late, 1);
        }

        #[tokio::test(start_paused = true)]
        async fn lateness_bounds_how_long_a_slow_consumer_holds_windows_back() {
            let mut c = combiner(60_000);
            c.lateness = Some(1_000);
            c.take("a", partial(0, 10, 1.0), "1");
            c.take("b", partial(0, 10, 1.0), "2");
            c.take("a", settled(500, true), "3");
            c.take("b", settled(5_000, true), "4");
            assert_eq!(c.frontier(), 4_000);
        }
    }
}
