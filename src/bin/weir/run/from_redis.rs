//! `weir run --from redis://HOST:PORT/STREAM --group G --consumer NAME`: the events of a Redis
//! stream, read through a consumer group, in the same windows as from files; with
//! `--to redis://HOST:PORT/STREAM`, partial windows for `weir combine`.
//!
//! # At least once
//!
//! An entry is acknowledged only once nothing more can come of it: an entry that is
//! malformed or rejected is copied to the dead-letter stream and acknowledged; one filtered
//! out is acknowledged at once; an event is *held* until every window that may contain it is
//! written (to stdout and flushed, or to the output stream and confirmed by the server), which
//! is when the last window holding its timestamp ends before the windows'
//! [`settled_before`](weir::window::EventTimeWindow::settled_before). A consumer that dies
//! leaves its held entries pending: they are delivered again (to it after a restart, or to
//! another consumer that claims them), never lost. An entry delivered again while this
//! process still holds it (a read retried after an error, a claim of its own entries) is
//! skipped and counted.
//!
//! # What a consumer writes for the combiner
//!
//! With `--to`, each window is written as a partial (`entries.rs`), followed in the same
//! pipeline by a marker saying which windows are settled and whether events still wait in
//! open windows (or, before the first entry, whether the consumer may still get some: until
//! its `--idle-timeout`, if any); a marker goes out at least every
//! second, windows or not, so the combiner can tell a live consumer from a dead one. Late
//! events (behind this consumer's watermark, such as entries claimed from a consumer that
//! died) are written as partials of their windows too: the combiner still counts them if it
//! has not closed those windows. When the input ends (`--until-idle`, or on a signal), the
//! open windows are written, then an end marker.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::future::poll_fn;
use std::io::{self, Write};
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};
use weir::event::{SeverityAcc, StatsBySeverity};
use weir::io::redis::{Acker, Entry, RedisSink, RedisSource, StreamGroup};
use weir::prelude::*;
use weir::window::{Aggregate, Window, windows_holding};

use super::input::{Parse, Reading};
use super::names::SourceNames;
use super::until_signal::UntilSignal;
use super::{BySource, Local, RunArgs, bump, fates, shed, write_window};
use crate::redis::{Marker, Partial, Resilient, Target, block, pull, usage, waits};

/// How often a consumer writing partials says how far it has settled, windows or not.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The entries held until their windows are written, by the end of the last window that may
/// contain them; and their ids as numbers, to tell an entry delivered again while held.
#[derive(Default)]
struct Held {
    by_end: BTreeMap<u64, Vec<String>>,
    ids: HashSet<(u64, u64)>,
}

/// A stream entry id, `1700000000000-3`, as its two numbers (`None` for anything else).
fn id_key(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl Held {
    fn contains(&self, id: &str) -> bool {
        id_key(id).is_some_and(|key| self.ids.contains(&key))
    }

    /// Whether some entry's last window ends at or after `settled`.
    fn holds_from(&self, settled: u64) -> bool {
        self.by_end.range(settled..).next().is_some()
    }

    fn hold(&mut self, last_end: u64, id: String) {
        if let Some(key) = id_key(&id) {
            self.ids.insert(key);
        }
        self.by_end.entry(last_end).or_default().push(id);
    }

    /// Lets go of the entries whose last window ends before `settled` (all of them with
    /// `None`): their ids, to acknowledge.
    fn release(&mut self, settled: Option<u64>) -> Vec<String> {
        let kept = match settled {
            Some(before) => self.by_end.split_off(&before),
            None => BTreeMap::new(),
        };
        let released: Vec<String> = std::mem::replace(&mut self.by_end, kept)
            .into_values()
            .flatten()
            .collect();
        for key in released.iter().filter_map(|id| id_key(id)) {
            self.ids.remove(&key);
        }
        released
    }
}

/// A stream entry as a reading: `Ok(None)` when filtered out, `Err` with what is wrong when
/// malformed or rejected (then the first of the pair says which).
fn read_entry(
    entry: &Entry,
    how: &Parse,
    names: &mut SourceNames,
) -> Result<Option<Reading>, (Rejection, String)> {
    let malformed = |text: String| (Rejection::Malformed, text);
    let value = entry
        .field("value")
        .ok_or_else(|| malformed("no `value` field".to_owned()))?;
    let value: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| malformed(format!("`value` is not a finite number: `{value}`")))?;
    let source = entry
        .field("source")
        .ok_or_else(|| malformed("no `source` field".to_owned()))?;
    let timestamp = match entry.field("timestamp") {
        Some(ts) => ts.trim().parse().map_err(|_| {
            malformed(format!(
                "`timestamp` is not a time in ms since the epoch: `{ts}`"
            ))
        })?,
        None => weir::event::now_ms(),
    };
    if let Some(ahead) = how.max_future {
        let now = weir::event::now_ms();
        let limit = now.saturating_add(u64::try_from(ahead.as_millis()).unwrap_or(u64::MAX));
        if timestamp > limit {
            return Err((
                Rejection::Ahead,
                format!(
                    "timestamp {timestamp} is more than {} ms ahead of the clock ({now})",
                    ahead.as_millis()
                ),
            ));
        }
    }
    if how.min_value.is_some_and(|m| value < m) || how.max_value.is_some_and(|m| value > m) {
        return Ok(None);
    }
    let source = if how.by_source {
        names.index(source.into())
    } else {
        0
    };
    Ok(Some(Reading {
        timestamp,
        value,
        source,
    }))
}

/// Why an entry was copied to the dead-letter stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Malformed,
    Ahead,
}

/// What the run counted.
#[derive(Default)]
struct Counts {
    entries: Cell<u64>,
    malformed: Cell<u64>,
    ahead: Cell<u64>,
    filtered: Cell<u64>,
    duplicates: Cell<u64>,
    windowed: Cell<u64>,
}

/// Connects the source, trying again for up to `give_up`.
async fn connect(
    client: &redis::Client,
    group: StreamGroup,
    give_up: Duration,
) -> redis::RedisResult<(RedisSource, Acker)> {
    let start = tokio::time::Instant::now();
    let mut failed = 0;
    loop {
        failed += 1;
        let wait = waits().nominal(failed);
        match RedisSource::connect(client, group.clone()).await {
            Ok(connected) => return Ok(connected),
            Err(e) if start.elapsed() + wait >= give_up => return Err(e),
            Err(e) => {
                report!(
                    "weir run: cannot connect: {e}; trying again in {} ms",
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Where the windows go.
enum Output {
    Stdout,
    /// Partials to a stream, written as this consumer.
    Stream(RedisSink, String),
}

/// Runs `weir run --from redis://...`.
pub(super) async fn run(args: &RunArgs, from: &str, size: u64, slide: u64) -> ExitCode {
    let source = match Target::parse(from) {
        Ok(target) => target,
        Err(e) => return usage("run", &format!("--from: {e}")),
    };
    let Some(consumer) = args.consumer.clone() else {
        return usage(
            "run",
            "--from needs --consumer NAME, a name that stays the same when this consumer is \
             restarted (it then reads again what it left unacknowledged)",
        );
    };
    let to = match args.to.as_deref().map(Target::parse).transpose() {
        Ok(to) => to,
        Err(e) => return usage("run", &format!("--to: {e}")),
    };
    let give_up = args.give_up_after;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        report!("weir run: {what}: {e}");
        ExitCode::from(1)
    };
    let client = match redis::Client::open(source.server.as_str()) {
        Ok(client) => client,
        Err(e) => return failed(from, &e),
    };
    let group = StreamGroup::new(&source.stream, &args.group, &consumer)
        .claim_idle(Some(args.claim_idle))
        .block(block(args.until_idle));
    let (redis_source, acker) = match connect(&client, group, give_up).await {
        Ok(connected) => connected,
        Err(e) => return failed(from, &e),
    };
    let redis_source = if args.until_idle {
        redis_source.until_idle()
    } else {
        redis_source
    };
    let mut output = match &to {
        None => Output::Stdout,
        Some(target) => {
            let sink = async {
                let client = redis::Client::open(target.server.as_str())?;
                RedisSink::connect(&client, &target.stream).await
            };
            match sink.await {
                Ok(sink) => {
                    // Retries spread over about the give-up time.
                    let retries = u32::try_from(give_up.as_secs() / 2).unwrap_or(u32::MAX);
                    let backoff = waits().retries(retries.saturating_add(3));
                    Output::Stream(sink.backoff(backoff), consumer.clone())
                }
                Err(e) => return failed(args.to.as_deref().unwrap_or_default(), &e),
            }
        }
    };
    let (interrupt, terminate) = match crate::signals() {
        Ok(signals) => signals,
        Err(e) => return failed("cannot listen for signals", &e),
    };
    let parse = Parse {
        max_line: args.max_line,
        max_future: args.max_future,
        min_value: args.min_value,
        max_value: args.max_value,
        by_source: args.by.is_some(),
    };
    let gave_up = RefCell::new(None);
    let caught = Cell::new(None);
    let counts = Counts::default();
    let held = RefCell::new(Held::default());
    let names = RefCell::new(SourceNames::default());
    let resilient = Resilient::new(redis_source, from.to_owned(), give_up, &gave_up);
    let entries = UntilSignal::new(resilient, (interrupt, terminate), &caught);
    let stream_name = &source.stream;
    let events: Local<'_, Reading> = Box::pin(entries.filter_map(|entry: Entry| {
        bump(&counts.entries);
        // Only an entry delivered before can be one this consumer holds.
        if entry.redelivered && held.borrow().contains(&entry.id) {
            bump(&counts.duplicates);
            return None;
        }
        match read_entry(&entry, &parse, &mut names.borrow_mut()) {
            Ok(Some(reading)) => {
                let last_end = windows_holding(reading.timestamp, size, slide)
                    .next()
                    .map_or(0, |(_, end)| end);
                held.borrow_mut().hold(last_end, entry.id);
                Some(reading)
            }
            Ok(None) => {
                bump(&counts.filtered);
                acker.ack(entry.id);
                None
            }
            Err((why, text)) => {
                let (what, cell) = match why {
                    Rejection::Malformed => ("malformed", &counts.malformed),
                    Rejection::Ahead => ("rejected", &counts.ahead),
                };
                bump(cell);
                report!("{what}: {stream_name} {}: {text}", entry.id);
                acker.dead_letter(entry, &text);
                None
            }
        }
    }));
    let (events, dropped) = shed(events, args);
    let lateness = u64::try_from(args.lateness.as_millis()).unwrap_or(u64::MAX);
    let mut windows = events
        .map(|r| {
            bump(&counts.windowed);
            r
        })
        .sliding_window(size, slide, |r: &Reading| r.timestamp, BySource)
        .out_of_orderness(lateness);
    if let Some(idle) = args.idle_timeout {
        windows = windows.idle_timeout(idle);
    }
    let (late_tx, mut late_rx) = mpsc::unbounded_channel::<Reading>();
    if matches!(output, Output::Stream(..)) {
        windows = windows.on_late(move |r| {
            let _ = late_tx.send(r);
        });
    }
    let mut windows = pin!(windows);
    let started = tokio::time::Instant::now();
    let mut heartbeat = interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    let mut written = 0u64;
    loop {
        let ended = tokio::select! {
            biased;
            ended = poll_fn(|cx| pull(windows.as_mut(), &mut batch, cx)) => ended,
            _ = heartbeat.tick(), if matches!(output, Output::Stream(..)) => false,
        };
        if let Some(e) = gave_up.borrow().as_ref() {
            report!("weir run: {e}");
            return ExitCode::from(1);
        }
        let result = match &mut output {
            Output::Stdout => {
                let names = names.borrow();
                write_stdout(&batch, args.by.map(|_| names.all()))
            }
            Output::Stream(sink, consumer) => {
                let mut late = Vec::new();
                while let Ok(r) = late_rx.try_recv() {
                    late.push(r);
                }
                let settled = if ended {
                    u64::MAX
                } else {
                    windows.settled_before()
                };
                let mut entries = {
                    let names = names.borrow();
                    let by = args.by.map(|_| names.all());
                    partials(&batch, &late, by, size, slide, consumer)
                };
                // Held entries whose last window is not settled wait in open windows; a
                // consumer that has read nothing yet may still write partials for any window
                // from its settled time, until its idle timeout says it is idle.
                let unread = counts.entries.get() == 0
                    && args
                        .idle_timeout
                        .is_none_or(|idle| started.elapsed() < idle);
                let holding = !ended && (unread || held.borrow().holds_from(settled));
                entries.push(
                    Marker::Settled {
                        before: settled,
                        holding,
                    }
                    .fields(consumer),
                );
                if ended {
                    entries.push(Marker::End.fields(consumer));
                }
                let sent = sink.send(&entries).await;
                sent.map(|ids| written += ids.len() as u64).map_err(|e| {
                    io::Error::other(format!("{}: {e}", args.to.as_deref().unwrap_or_default()))
                })
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Err(e) => return failed("cannot write the output", &e),
        }
        batch.clear();
        let settled = (!ended).then(|| windows.settled_before());
        for id in held.borrow_mut().release(settled) {
            acker.ack(id);
        }
        if ended {
            break;
        }
    }
    if let Err(e) = acker.flush().await {
        return failed("cannot acknowledge", &e);
    }
    let c = &counts;
    let (late, outside) = (windows.late(), windows.unassigned());
    report!(
        "summary: {} entries read from {from} as {consumer} ({} events, {} malformed, {} \
         duplicates skipped); {}; {} acknowledged, {} dead-lettered{}",
        c.entries.get(),
        c.entries.get() - c.malformed.get() - c.duplicates.get(),
        c.malformed.get(),
        c.duplicates.get(),
        fates(
            c.windowed.get(),
            (late, outside),
            &dropped,
            c.filtered.get(),
            c.ahead.get()
        ),
        acker.acked(),
        acker.dead_lettered(),
        match &output {
            Output::Stdout => String::new(),
            Output::Stream(..) => format!(
                "; {written} entries written to {}",
                args.to.as_deref().unwrap_or_default()
            ),
        }
    );
    match caught.get() {
        Some(code) => ExitCode::from(code),
        None => ExitCode::SUCCESS,
    }
}

/// Writes complete windows to stdout, flushed: written means written through.
fn write_stdout(batch: &[Window<Vec<SeverityAcc>>], by: Option<&[Box<str>]>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for w in batch {
        write_window(&mut out, w, by)?;
    }
    out.flush()
}

/// The entries for a batch of windows and late events: one partial per window (per source
/// with `--by source`), then one per window a late event belongs to.
fn partials(
    batch: &[Window<Vec<SeverityAcc>>],
    late: &[Reading],
    by: Option<&[Box<str>]>,
    size: u64,
    slide: u64,
    consumer: &str,
) -> Vec<Vec<(&'static str, String)>> {
    let mut entries = Vec::new();
    let mut push = |start: u64, end: u64, accs: &[SeverityAcc]| match by {
        Some(names) => {
            for (i, acc) in accs.iter().enumerate() {
                if acc.1.iter().any(|&n| n > 0) {
                    let key = Some(names[i].to_string());
                    entries.push(Partial::new(start, end, key, acc).fields(consumer));
                }
            }
        }
        None => {
            let all = accs.iter().fold(StatsBySeverity.init(), |a, b| {
                StatsBySeverity.combine(&a, b)
            });
            if all.1.iter().any(|&n| n > 0) {
                entries.push(Partial::new(start, end, None, &all).fields(consumer));
            }
        }
    };
    for w in batch {
        push(w.start, w.end, &w.result);
    }
    let mut by_window: BTreeMap<(u64, u64), Vec<SeverityAcc>> = BTreeMap::new();
    for r in late {
        for (start, end) in windows_holding(r.timestamp, size, slide) {
            BySource.add(by_window.entry((end, start)).or_default(), r);
        }
    }
    for ((end, start), accs) in &by_window {
        push(*start, *end, accs);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_entries_are_released_by_their_last_window() {
        let mut held = Held::default();
        held.hold(2_000, "10-0".to_owned());
        held.hold(1_000, "10-1".to_owned());
        held.hold(3_000, "11-0".to_owned());
        held.hold(2_000, "12-0".to_owned());
        assert!(held.contains("10-1") && !held.contains("10-2") && !held.contains("x"));
        // Windows ending before 2 000 are settled: only `10-1` is done with.
        assert!(held.holds_from(3_000) && !held.holds_from(3_001));
        assert_eq!(held.release(Some(2_000)), ["10-1"]);
        assert!(!held.contains("10-1") && held.contains("10-0"));
        assert_eq!(held.release(Some(2_001)), ["10-0", "12-0"]);
        assert_eq!(held.release(None), ["11-0"]);
        assert!(held.ids.is_empty() && held.by_end.is_empty());
    }
}
