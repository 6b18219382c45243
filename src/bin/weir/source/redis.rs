//! A Redis stream as a source: `weir run --from redis://HOST:PORT/STREAM --group G
//! --consumer NAME` reads the stream's entries through a consumer group.
//!
//! # At least once
//!
//! An entry is acknowledged only once nothing more can come of it: an entry that is
//! malformed or rejected is copied to the dead-letter stream and acknowledged; one filtered
//! out is acknowledged at once; an event is *held* until every window that may contain it is
//! written (to stdout and flushed, or to the output stream and confirmed by the server), which
//! is when the last window holding its timestamp ends before the windows'
//! [`settled_before`](weir::window::EventTimeWindow::settled_before): the pipeline then takes
//! them ([`Acks::done`]) and acknowledges them once the windows are written, or, writing
//! partials, in the same transaction as the partials. A consumer that dies leaves its held entries pending: they are delivered
//! again (to it after a restart, or to another consumer that claims them), never lost. An
//! entry delivered again while this process still holds it (a read retried after an error, a
//! claim of its own entries), or after it let go of it while its acknowledgement was still on
//! its way ([`Settling`]), is skipped and counted.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use foldhash::fast::RandomState;
use tokio::sync::oneshot;
use tokio::time::Instant;
use weir::io::redis::{
    Acker, Claims, Entry, RedisSource, Rereads, StreamGroup, StreamTime, consumer_connected,
    is_transient,
};
use weir::prelude::*;
use weir::window::{Underway, windows_holding};

use crate::admission::{Rules, Verdict};
use crate::names::SourceNames;
use crate::observe::RedisCounts;
use crate::reading::{Counted, Done, Progress, Reader, Reading, Readings, Tally};
use crate::redis::{
    Marker, NOT_UTF8, Progress as Recorded, Resilient, Settling, Target, block, id_key,
    retries_over, waits,
};

/// Where and how to read: `weir run`'s Redis flags.
pub(crate) struct RedisInput {
    /// The stream; reports name it by `target.shown`.
    pub(crate) target: Target,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) claim_idle: Duration,
    /// `--until-idle`: how long a read that finds nothing waits before the last one.
    pub(crate) until_idle: Option<Duration>,
    pub(crate) give_up: Duration,
    /// `--idle-timeout`: until then, a consumer that has read nothing may still get entries.
    pub(crate) idle: Option<Duration>,
    /// The windows' size and slide, in ms: an entry is held until its last window is written.
    pub(crate) size: u64,
    pub(crate) slide: u64,
    /// The windows' allowed out-of-orderness, in ms: lateness is judged in stream order.
    pub(crate) lateness: u64,
    /// The stream partials are committed to: claims are counted in its ledger.
    pub(crate) ledger: Option<String>,
}

/// A held entry.
struct HeldEntry {
    /// The place of its reading in the order readings were admitted.
    place: u64,
    id: String,
    /// Its id as numbers (parsed once).
    key: Option<(u64, u64)>,
    /// The group's count of claims its read saw ([`Entry::taken`]).
    taken: Option<u64>,
}

/// The entries held until their windows are written, by the end of the last window that may
/// contain them, each with its place in the order readings were admitted; and their ids as
/// numbers, to tell an entry delivered again while held, or while its acknowledgement is on
/// its way ([`Settling`]).
#[derive(Default)]
struct Held {
    /// By the end of the entry's last window.
    by_end: BTreeMap<u64, Vec<HeldEntry>>,
    ids: HashSet<(u64, u64), RandomState>,
    /// Readings admitted so far: the next one's place.
    admitted: u64,
    /// Whether any entry has been read.
    read_any: bool,
    settling: Settling,
}

impl Held {
    fn contains(&self, id: &str) -> bool {
        id_key(id).is_some_and(|key| self.ids.contains(&key) || self.settling.contains(&key))
    }

    /// Whether some entry's last window ends at or after `settled`.
    fn holds_from(&self, settled: u64) -> bool {
        self.by_end.range(settled..).next().is_some()
    }

    /// Holds the entry of a reading admitted into the pipeline, next in order.
    fn hold(&mut self, last_end: u64, entry: Entry) {
        let place = self.admitted;
        self.admitted += 1;
        self.keep(last_end, place, entry);
    }

    /// Holds the entry of a reading kept out of the pipeline (replayed): done with once the
    /// next batch is written.
    fn hold_aside(&mut self, entry: Entry) {
        self.keep(0, 0, entry);
    }

    fn keep(&mut self, last_end: u64, place: u64, entry: Entry) {
        let key = id_key(&entry.id);
        if let Some(key) = key {
            self.ids.insert(key);
        }
        self.by_end.entry(last_end).or_default().push(HeldEntry {
            place,
            id: entry.id,
            key,
            taken: entry.taken,
        });
    }

    /// Lets go of the entries whose last window ends before `settled` (all of them with
    /// `None`) and whose readings are among the first `handled` admitted (those the windows
    /// took, or the shedding stages dropped: readings keep their order through them): their
    /// ids, to acknowledge. A reading still on its way (in `--buffer`) is kept: it may yet
    /// be written late.
    fn release(&mut self, settled: Option<u64>, handled: u64) -> Done {
        let kept = match settled {
            Some(before) => self.by_end.split_off(&before),
            None => BTreeMap::new(),
        };
        let mut released = Done::new();
        let mut keys = Vec::new();
        for (end, entries) in std::mem::replace(&mut self.by_end, kept) {
            let (done, waiting): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|e| settled.is_none() || e.place < handled);
            for e in done {
                if let Some(key) = e.key {
                    self.ids.remove(&key);
                    keys.push(key);
                }
                released.push(e.id, e.taken);
            }
            if !waiting.is_empty() {
                self.by_end.entry(end).or_default().extend(waiting);
            }
        }
        self.settling.batch(keys);
        released
    }
}

/// Lateness as one reader of the whole stream judges it, whichever consumer reads an entry:
/// against the largest event time of the readings before it in stream order. Those are the
/// entries the group delivered before the entry's read (the stream time the read reported,
/// [`Entry::stream_time`]) and the readings this consumer took since, in its own order.
struct StreamOrder {
    size: u64,
    slide: u64,
    lateness: u64,
    /// The largest timestamp of this consumer's readings.
    latest: Option<u64>,
    /// The last cut computed: the largest timestamp before, and the first on time.
    cut: (u64, u64),
}

impl StreamOrder {
    fn new(size: u64, slide: u64, lateness: u64) -> Self {
        StreamOrder {
            size,
            slide,
            lateness,
            latest: None,
            cut: (0, 0),
        }
    }

    /// Whether a reading at `ts`, read when the stream time was `stream_time`, is late; takes
    /// it as seen when it is not.
    fn late(&mut self, stream_time: Option<u64>, ts: u64) -> bool {
        let Some(before) = stream_time.max(self.latest) else {
            self.latest = Some(ts);
            return false;
        };
        if before != self.cut.0 {
            let cut = weir::window::late_before(before, self.size, self.slide, self.lateness);
            self.cut = (before, cut);
        }
        if ts < self.cut.1 {
            return true;
        }
        self.latest = self.latest.max(Some(ts));
        false
    }

    /// Whether a reading at `ts` read again long after its read (claimed, or re-read after a
    /// restart) is late, by its own stream time: that of every entry before it in stream
    /// order, its read's too ([`Entry::stream_time`]). The readings this consumer took since
    /// come after it, and do not count.
    fn late_alone(&self, stream_time: Option<u64>, ts: u64) -> bool {
        stream_time.is_some_and(|before| {
            ts < weir::window::late_before(before, self.size, self.slide, self.lateness)
        })
    }
}

/// Readings kept out of the windows to be replayed into those not committed yet, each with
/// the end before which its windows were committed already (writing partials only).
type Replay = Rc<RefCell<Vec<(Reading, u64)>>>;

/// Why an entry was copied to the dead-letter stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Malformed,
    Ahead,
}

/// A stream entry as a reading: `Ok(None)` when filtered out, `Err` with what is wrong when
/// malformed or rejected (then the first of the pair says which).
fn read_entry(
    entry: &Entry,
    rules: &Rules,
    names: &mut SourceNames,
) -> Result<Option<Reading>, (Rejection, String)> {
    let Some((timestamp, value, source)) = judge_entry(entry, rules)? else {
        return Ok(None);
    };
    let source = if rules.by_source {
        names.index_of(source)
    } else {
        0
    };
    Ok(Some(Reading {
        timestamp,
        value,
        source,
    }))
}

/// An event as an entry gives it: its timestamp, value and source name.
type Event<'e> = (u64, f64, &'e str);

/// A stream entry's event as the rules judge it (timestamped with the time of reading when it
/// has no timestamp); `Ok(None)` when filtered out, `Err` as [`read_entry`].
fn judge_entry<'e>(
    entry: &'e Entry,
    rules: &Rules,
) -> Result<Option<Event<'e>>, (Rejection, String)> {
    let malformed = |text: String| (Rejection::Malformed, text);
    if entry.replaced {
        return Err(malformed(NOT_UTF8.to_owned()));
    }
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
        Some(ts) => Some(ts.trim().parse().map_err(|_| {
            malformed(format!(
                "`timestamp` is not a time in ms since the epoch: `{ts}`"
            ))
        })?),
        None => None,
    };
    match rules.judge(timestamp, value) {
        Verdict::Admit(timestamp) => Ok(Some((timestamp, value, source))),
        Verdict::Filtered => Ok(None),
        Verdict::Ahead(ahead) => Err((Rejection::Ahead, ahead.to_string())),
    }
}

/// The time at which an entry counts toward the stream's event time: that of the event a
/// consumer admits from it, if it is stamped (an entry stamped when read counts for no one
/// else).
fn stream_time_of(entry: &Entry, rules: &Rules) -> Option<u64> {
    entry.field("timestamp")?;
    judge_entry(entry, rules).ok().flatten().map(|(t, _, _)| t)
}

/// Takes each entry in: a reading held until its windows are written, or acknowledged at
/// once (filtered out), or dead-lettered (malformed or rejected), or skipped (delivered again
/// while held). Keeps its [`Progress`], read by the run as it goes.
struct Admit {
    rules: Rules,
    size: u64,
    slide: u64,
    stream: String,
    held: Rc<RefCell<Held>>,
    /// Writing partials: readings of entries another consumer (or this one before a
    /// restart) held, kept out of the windows, each with the end before which its windows
    /// were committed already.
    replay: Option<Replay>,
    order: StreamOrder,
    names: Rc<RefCell<SourceNames>>,
    acker: Acker,
    progress: Counted<Progress>,
}

impl Admit {
    /// Counts an entry read, and what became of it: one update of the progress per entry.
    fn count(&self, outcome: impl FnOnce(&mut Progress)) {
        self.progress.update(|p| {
            p.tally.read += 1;
            outcome(p);
        });
    }

    fn take(&mut self, entry: Entry) -> Option<Reading> {
        let mut held = self.held.borrow_mut();
        held.read_any = true;
        // Only an entry delivered before can be one this consumer holds.
        if entry.redelivered && held.contains(&entry.id) {
            self.count(|p| p.tally.duplicates += 1);
            return None;
        }
        match read_entry(&entry, &self.rules, &mut self.names.borrow_mut()) {
            Ok(Some(reading)) => {
                let ts = reading.timestamp;
                if let (Some(replay), Some(previous)) = (&self.replay, &entry.previous) {
                    if self.order.late_alone(entry.stream_time, ts) {
                        // Late for the windows of the whole stream: the one that held it
                        // had not judged it yet (it would have acknowledged it).
                        self.count(|p| p.tally.late += 1);
                        held.settling
                            .alone(id_key(&entry.id), self.acker.ack(entry.id));
                        return None;
                    }
                    // Its windows ending before what the one that held it had settled were
                    // committed with it; the others go out with the next batch, and the
                    // entry is acknowledged in that commit.
                    let committed = previous.progress.as_deref().and_then(Recorded::parse);
                    let after = match committed.map(|p| p.marker) {
                        Some(Marker::Settled { before, .. }) => before,
                        _ => 0,
                    };
                    replay.borrow_mut().push((reading, after));
                    held.hold_aside(entry);
                    self.count(|p| p.tally.replayed += 1);
                    return None;
                }
                if self.order.late(entry.stream_time, ts) {
                    // Late for the windows of the whole stream: nothing comes of it.
                    self.count(|p| p.tally.late += 1);
                    held.settling
                        .alone(id_key(&entry.id), self.acker.ack(entry.id));
                    return None;
                }
                let last_end = windows_holding(ts, self.size, self.slide)
                    .next()
                    .map_or(0, |(_, end)| end);
                held.hold(last_end, entry);
                self.count(|p| p.latest = p.latest.max(Some(ts)));
                Some(reading)
            }
            Ok(None) => {
                self.count(|p| p.tally.filtered += 1);
                held.settling
                    .alone(id_key(&entry.id), self.acker.ack(entry.id));
                None
            }
            Err((why, text)) => {
                let what = match why {
                    Rejection::Malformed => {
                        self.count(|p| p.tally.malformed += 1);
                        "malformed"
                    }
                    Rejection::Ahead => {
                        self.count(|p| p.tally.ahead += 1);
                        "rejected"
                    }
                };
                report!("{what}: {} {}: {text}", self.stream, entry.id);
                let key = id_key(&entry.id);
                held.settling
                    .alone(key, self.acker.dead_letter(entry, &text));
                None
            }
        }
    }
}

/// What the pipeline asks of a Redis source: which held entries to acknowledge as windows
/// are written, whether reading gave up, and at the end the acknowledgements flushed.
pub(crate) struct Acks {
    from: String,
    consumer: String,
    acker: Acker,
    held: Rc<RefCell<Held>>,
    gave_up: oneshot::Receiver<String>,
    progress: Reader<Progress>,
    read_retries: Reader<u64>,
    idle: Option<Duration>,
    started: Instant,
    claims: Claims,
    replay: Option<Replay>,
    underway: Underway,
    /// How many of the batches' commits are applied (writing partials).
    committed: u64,
    rereads: Rereads,
}

impl Acks {
    pub(super) fn from(&self) -> &str {
        &self.from
    }

    pub(super) fn consumer(&self) -> &str {
        &self.consumer
    }

    /// What the source counted so far, its latest event time, and its entries and retries.
    pub(super) fn progress(&self) -> (Progress, RedisCounts) {
        let pending = self.held.borrow().ids.len() as u64;
        (self.progress.get(), self.counts(pending))
    }

    /// The entries acknowledged and dead-lettered, `pending`, and the retries.
    fn counts(&self, pending: u64) -> RedisCounts {
        RedisCounts {
            acknowledged: self.acker.acked(),
            dead_lettered: self.acker.dead_lettered(),
            pending,
            read_retries: self.read_retries.get(),
            ack_retries: self.acker.retried(),
            write_retries: 0,
        }
    }

    pub(super) fn claims(&self) -> u64 {
        self.claims.handed_out()
    }

    pub(super) fn underway(&self) -> Underway {
        self.underway.clone()
    }

    /// The readings taken out of the windows to be replayed since the last call, each with
    /// the end before which its windows were committed already.
    pub(super) fn replayed(&self) -> Vec<(Reading, u64)> {
        self.replay
            .as_ref()
            .map(|r| std::mem::take(&mut *r.borrow_mut()))
            .unwrap_or_default()
    }

    pub(super) fn gave_up(&mut self) -> Option<String> {
        self.gave_up.try_recv().ok()
    }

    /// Held entries whose last window is not settled wait in open windows; a consumer that
    /// has read nothing yet may still get entries for any window from its settled time, until
    /// its idle timeout says it is idle.
    pub(super) fn holding(&self, settled: u64) -> bool {
        let held = self.held.borrow();
        let unread = !held.read_any && self.idle.is_none_or(|idle| self.started.elapsed() < idle);
        unread || held.holds_from(settled)
    }

    /// Lets go of the entries whose windows all end before `settled` (of every entry with
    /// `None`): their ids, to acknowledge once those windows are written.
    pub(super) fn done(&mut self, settled: Option<u64>, handled: u64) -> Done {
        let mut held = self.held.borrow_mut();
        let (answered, rereading) = (self.acker.answered(), self.rereads.is_on());
        held.settling.settle(self.committed, answered, rereading);
        held.release(settled, handled)
    }

    /// The commits of the first `batches` batches [`done`](Self::done) named are applied.
    pub(super) fn committed(&mut self, batches: u64) {
        self.committed = self.committed.max(batches);
    }

    /// Acknowledges `ids` (their windows are written).
    pub(super) fn acknowledge(&mut self, ids: Done) {
        let mut last = None;
        for id in ids.into_ids() {
            last = Some(self.acker.ack(id));
        }
        if let Some(last) = last {
            self.held.borrow_mut().settling.queued(last);
        }
    }

    /// Flushes the acknowledgements: what the source counted, and its entries (none pending)
    /// and retries.
    pub(super) async fn finish(self) -> Result<(Tally, RedisCounts), String> {
        self.acker
            .flush()
            .await
            .map_err(|e| format!("cannot acknowledge: {e}"))?;
        let tally = self.progress.get().tally;
        Ok((tally, self.counts(0)))
    }
}

/// Connects the source, trying again for up to `give_up`.
async fn connect(
    client: &redis::Client,
    group: StreamGroup,
    give_up: Duration,
) -> redis::RedisResult<(RedisSource, Acker)> {
    let start = Instant::now();
    let mut failed = 0;
    loop {
        failed += 1;
        let wait = waits().nominal(failed);
        match RedisSource::connect(client, group.clone()).await {
            Ok(connected) => return Ok(connected),
            // A refused password or a key of another type: waiting cures nothing.
            Err(e) if !is_transient(&e) => return Err(e),
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

/// Whether the server lists a connection reading as this consumer (another process).
pub(crate) async fn connected(input: &RedisInput) -> Result<bool, String> {
    let client = redis::Client::open(input.target.server.as_str()).map_err(|e| e.to_string())?;
    let group = StreamGroup::new(&input.target.stream, &input.group, &input.consumer);
    consumer_connected(&client, &group)
        .await
        .map_err(|e| e.to_string())
}

/// Connects to the stream and starts reading it.
pub(super) async fn open(
    input: RedisInput,
    rules: Rules,
) -> Result<(impl Readings, Rc<RefCell<SourceNames>>, Acks), String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", input.target.shown);
    let client = redis::Client::open(input.target.server.as_str()).map_err(|e| failed(&e))?;
    let mut group = StreamGroup::new(&input.target.stream, &input.group, &input.consumer)
        .claim_idle(Some(input.claim_idle))
        .block(block(input.until_idle.is_some()))
        .ack_backoff(retries_over(input.give_up));
    if let Some(output) = &input.ledger {
        // Writing partials for a combiner: lateness in stream order, over the entries that
        // count toward the stream's event time (those a consumer admits). A consumer whose
        // windows go to stdout is their only reader: its own order is what it shows.
        let time = StreamTime::new(move |entry| stream_time_of(entry, &rules));
        group = group.ledger(output).stream_time(time);
    }
    let (source, acker) = connect(&client, group, input.give_up)
        .await
        .map_err(|e| failed(&e))?;
    let source = match input.until_idle {
        Some(wait) => source.until_idle_for(wait),
        None => source,
    };
    let claims = source.claims();
    let underway = source.underway();
    let rereads = source.rereads();
    let (resilient, gave_up) = Resilient::new(source, input.target.shown.clone(), input.give_up);
    let read_retries = resilient.retries();
    let held = Rc::new(RefCell::new(Held::default()));
    let names = Rc::new(RefCell::new(SourceNames::default()));
    let replay = input.ledger.is_some().then(Rc::default);
    let (counted, progress) = Counted::new(Progress::default());
    let mut admit = Admit {
        rules,
        size: input.size,
        slide: input.slide,
        stream: input.target.stream,
        held: held.clone(),
        replay: replay.clone(),
        order: StreamOrder::new(input.size, input.slide, input.lateness),
        names: names.clone(),
        acker: acker.clone(),
        progress: counted,
    };
    let readings = resilient.filter_map(move |entry| admit.take(entry));
    let acks = Acks {
        from: input.target.shown,
        consumer: input.consumer,
        acker,
        held,
        gave_up,
        progress,
        read_retries,
        idle: input.idle,
        started: Instant::now(),
        claims,
        replay,
        underway,
        committed: 0,
        rereads,
    };
    Ok((readings, names, acks))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry with no fields, read under the group's count of claims `taken`.
    fn entry(id: &str, taken: Option<u64>) -> Entry {
        Entry {
            taken,
            ..Entry::new(id.to_owned(), Vec::new())
        }
    }

    #[test]
    fn held_entries_are_released_by_their_last_window() {
        let mut held = Held::default();
        held.hold(2_000, entry("10-0", Some(3)));
        held.hold(1_000, entry("10-1", Some(2)));
        held.hold(3_000, entry("11-0", None));
        held.hold(2_000, entry("12-0", Some(5)));
        assert!(held.contains("10-1") && !held.contains("10-2") && !held.contains("x"));
        // Windows ending before 2 000 are settled: only `10-1` is done with.
        assert!(held.holds_from(3_000) && !held.holds_from(3_001));
        let done = held.release(Some(2_000), 4);
        assert_eq!(
            (done.ids(), done.taken()),
            (&["10-1".to_owned()][..], Some(2))
        );
        // Let go of, and known until the server has its acknowledgement.
        assert!(!held.ids.contains(&(10, 1)) && held.contains("10-1") && held.contains("10-0"));
        // The least count of claims the released entries were read under.
        let done = held.release(Some(2_001), 4);
        assert_eq!(done.ids(), ["10-0", "12-0"]);
        assert_eq!(done.taken(), Some(3));
        // One read under no known count: each id is checked.
        let done = held.release(None, 0);
        assert_eq!((done.ids(), done.taken()), (&["11-0".to_owned()][..], None));
        assert!(held.ids.is_empty() && held.by_end.is_empty());
    }

    #[test]
    fn lateness_is_judged_against_the_stream_before_the_read_and_the_readings_since() {
        let mut order = StreamOrder::new(1_000, 1_000, 0);
        // Nothing before the first reading of all.
        assert!(!order.late(None, 5_500));
        // Before this read the stream had reached 7 200: [5 000, 6 000) is closed.
        assert!(order.late(Some(7_200), 5_999));
        assert!(!order.late(Some(7_200), 7_000));
        // This consumer's own readings move it on too.
        assert!(!order.late(Some(7_200), 8_100));
        assert!(order.late(Some(7_200), 7_999));
        assert!(order.late(None, 7_999));
        // At the end of time.
        let last_pane = u64::MAX - u64::MAX % 1_000;
        assert!(!order.late(Some(u64::MAX), u64::MAX));
        assert!(!order.late(None, last_pane));
        assert!(order.late(None, last_pane - 1));
        // Allowed out-of-orderness, in panes of sliding windows.
        let mut order = StreamOrder::new(1_000, 250, 300);
        assert!(!order.late(Some(2_600), 2_250));
        assert!(order.late(Some(2_600), 2_249));
        assert!(!order.late(Some(u64::MAX), u64::MAX - 300));
    }

    #[test]
    fn a_reading_still_on_its_way_keeps_its_entry() {
        let mut held = Held::default();
        for (end, id) in [(1_000, "1-0"), (1_000, "2-0"), (3_000, "3-0")] {
            held.hold(end, entry(id, Some(0)));
        }
        held.hold_aside(entry("4-0", Some(0)));
        // Only the first reading has reached the windows (or been dropped); the second is
        // still in the buffer, though its window is settled.
        assert_eq!(held.release(Some(2_000), 1).ids(), ["4-0", "1-0"]);
        assert!(held.contains("2-0"));
        assert_eq!(held.release(Some(2_000), 3).ids(), ["2-0"]);
        assert_eq!(held.release(Some(4_000), 3).ids(), ["3-0"]);
    }
}
