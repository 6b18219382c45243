//! The combiner's state: what it knows of each consumer, and the windows not written yet.
//! See the module above for when a window is final.

use std::collections::{BTreeMap, HashMap, HashSet};

use tokio::time::Instant;
use weir::event::{SeverityAcc, StatsBySeverity};
use weir::window::Aggregate;

use crate::observe::Point;
use crate::redis::{Marker, Progress, Report, id_key};
use crate::sink::window_line;

/// What the combiner knows of one consumer.
#[derive(Clone)]
struct Consumer {
    /// It will write no more partials for windows ending before this.
    before: u64,
    seen: Instant,
    /// Whether it holds events in open windows: only then does it hold windows back.
    holding: bool,
    ended: bool,
    /// A marker of its has been read since this combiner started: its state is the
    /// markers', newer than any the ledger showed.
    heard: bool,
    /// Entries pending for it in its input group, as the last ledger reading found.
    pending: u64,
    /// The server counts claims of its that its last commit did not cover: it may hold
    /// entries of any window.
    catching_up: bool,
    /// The id of the last partials' entry of its read.
    last: Option<(u64, u64)>,
    /// When the last ledger reading taken into account for it was asked for: once that is
    /// after its last report, the server has said what it holds since (a consumer silent
    /// for `--consumer-timeout` counts until then).
    vouched: Option<Instant>,
}

impl Consumer {
    fn new(seen: Instant, holding: bool) -> Self {
        Consumer {
            before: 0,
            seen,
            holding,
            ended: false,
            heard: false,
            pending: 0,
            catching_up: false,
            last: None,
            vouched: None,
        }
    }

    /// Whether it counts at `now`: while it holds events in open windows and has neither
    /// ended nor been silent for `timeout` with a ledger reading since its last report;
    /// while entries are pending for it; while it catches up on claims.
    fn counts(&self, now: Instant, timeout: std::time::Duration) -> bool {
        let silent = now.duration_since(self.seen) >= timeout
            && self.vouched.is_some_and(|asked| asked >= self.seen);
        (self.holding && !self.ended && !silent) || self.pending > 0 || self.catching_up
    }
}

/// What a ledger reading says of one consumer: its last committed progress, its entries
/// pending in its input group, and its claims counted.
#[derive(Clone)]
pub(super) struct Listed {
    pub(super) progress: Option<Progress>,
    pub(super) pending: u64,
    pub(super) claims: u64,
}

/// When a ledger reading was asked for, and what the combiner knew of the consumers then
/// ([`Combiner::ask`]).
pub(super) struct Asked {
    at: Instant,
    consumers: HashMap<String, Consumer>,
}

/// The id of the partials' last entry when a ledger reading was taken.
pub(super) type Through = Option<(u64, u64)>;

/// A window not written yet: the merged partials by key, and the entries they came in.
#[derive(Default)]
pub(super) struct Open {
    by_key: BTreeMap<Option<String>, SeverityAcc>,
    pub(super) ids: Vec<String>,
}

/// The combiner's state.
pub(super) struct Combiner {
    consumers: HashMap<String, Consumer>,
    /// By `(end, start)`.
    open: BTreeMap<(u64, u64), Open>,
    /// Windows ending before this have been written (wider than a time: a window that ends
    /// at `u64::MAX` can be).
    closed_before: u128,
    timeout: std::time::Duration,
    lateness: Option<u64>,
    /// The frontier that what it knew when the last reading taken in was asked for allows,
    /// with that reading.
    confirmed: u64,
    pub(super) partials: u64,
    pub(super) markers: u64,
    pub(super) late: u64,
}

impl Combiner {
    pub(super) fn new(timeout: std::time::Duration, lateness: Option<u64>) -> Self {
        Combiner {
            consumers: HashMap::new(),
            open: BTreeMap::new(),
            closed_before: 0,
            timeout,
            lateness,
            confirmed: 0,
            partials: 0,
            markers: 0,
            late: 0,
        }
    }

    /// Goes on from a combiner before this one, which wrote every window ending before
    /// `closed_before`: a partial for such a window is late.
    pub(super) fn resume(&mut self, closed_before: u128) {
        self.closed_before = self.closed_before.max(closed_before);
    }

    /// Every window ending before this has been written.
    pub(super) fn closed_before(&self) -> u128 {
        self.closed_before
    }

    /// Takes what the consumers' ledger held, once every partial committed before it has
    /// been read. What the server holds is taken for every consumer: its entries pending in
    /// its input group (while there are any, it holds windows back from its settled time,
    /// however long it has been silent: a dead consumer's entries hold their windows until
    /// another claims and commits them), and whether it has claimed entries its last commit
    /// did not cover (then it holds every window back until it commits again). A consumer
    /// this combiner has heard no marker from since it started (it acknowledged them before
    /// a restart, or the consumer has just connected) also takes the last marker committed;
    /// one that has committed none holds windows back from the start until it writes a marker
    /// or for `--consumer-timeout`. A consumer no longer listed left the ledger with nothing
    /// pending (it stopped for good, or died and had its entries claimed): it no longer holds
    /// windows back once everything read of it is from before the reading (`through`, the id
    /// of the partials' last entry then), and its state is let go once it has ended or been
    /// silent for `--consumer-timeout`. A consumer silent for `--consumer-timeout` stops
    /// counting only once a reading asked for after its last report has been taken (what the
    /// server held before may be out of date). Windows are final only as far as what the
    /// combiner knew when the reading was asked for (`asked`), with the reading, allows
    /// ([`Self::final_before`]).
    pub(super) fn ledger(&mut self, listed: Vec<(String, Listed)>, through: Through, asked: Asked) {
        let now = Instant::now();
        let Asked { at, consumers } = asked;
        // The reading, with what was known when it was asked for: a marker read since may
        // settle windows whose entries another consumer read after the reading was taken.
        // A consumer first heard from since holds every window back, as at its start.
        let mut then = consumers;
        for name in self.consumers.keys() {
            then.entry(name.clone())
                .or_insert_with(|| Consumer::new(now, true));
        }
        take_reading(&mut then, listed.clone(), through, at, self.timeout);
        self.confirmed = frontier_of(then.values(), self.timeout, self.lateness);
        take_reading(&mut self.consumers, listed, through, at, self.timeout);
    }

    /// What the combiner knows of the consumers now, for a ledger reading about to be asked
    /// for: see [`Self::ledger`].
    pub(super) fn ask(&self) -> Asked {
        Asked {
            at: Instant::now(),
            consumers: self.consumers.clone(),
        }
    }

    /// Takes one report of `consumer`'s, in entry `id`; returns whether the entry is
    /// done with (to acknowledge now) rather than held in an open window.
    pub(super) fn take(&mut self, consumer: &str, report: Report, id: &str) -> bool {
        let now = Instant::now();
        // A consumer first heard from through a partial holds windows back from the start
        // until a marker says how far it got: a combiner started again re-reads the partials
        // it had not written yet, but not the markers, which it acknowledged at once.
        let first_partial = matches!(report, Report::Partial(_));
        let state = self
            .consumers
            .entry(consumer.to_owned())
            .or_insert_with(|| Consumer::new(now, first_partial));
        state.seen = now;
        state.last = state.last.max(id_key(id));
        match report {
            Report::Marker(marker) => {
                self.markers += 1;
                state.heard = true;
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
                if u128::from(p.window_end) < self.closed_before {
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

    /// Consumers heard from.
    pub(super) fn consumers(&self) -> usize {
        self.consumers.len()
    }

    /// Windows ending before this are final (`u64::MAX`: all of them), as the markers read
    /// so far and the last ledger reading say.
    pub(super) fn frontier(&self) -> u64 {
        frontier_of(self.consumers.values(), self.timeout, self.lateness)
    }

    /// Windows ending before this are final: the [frontier](Self::frontier) now, and no
    /// further than what the combiner knew when the last reading taken in was asked for
    /// allows, with that reading. A consumer may read entries of a window after a reading
    /// said it held nothing: if they come before, in stream order, the entries whose markers
    /// settle the window, a reading asked for after those markers lists them pending (or
    /// their partials are read by then). Entries read later than that are late in stream
    /// order for such a window. So a marker settles windows once a reading asked for after
    /// it is in: up to a second or two later.
    pub(super) fn final_before(&self) -> u64 {
        self.frontier().min(self.confirmed)
    }

    /// Takes out the windows ending before `frontier`, in order. A partial for a window
    /// ending before the frontier is late from now on (with `u64::MAX`, before the end
    /// of the last window taken out).
    pub(super) fn close(&mut self, frontier: u64) -> Vec<((u64, u64), Open)> {
        // `u64::MAX` takes every window, those that end at `u64::MAX` too.
        let kept = if frontier == u64::MAX {
            BTreeMap::new()
        } else {
            self.open.split_off(&(frontier, 0))
        };
        let closed = std::mem::replace(&mut self.open, kept);
        let bound = match closed.last_key_value() {
            Some(((end, _), _)) if frontier == u64::MAX => u128::from(*end) + 1,
            _ if frontier == u64::MAX => self.closed_before,
            _ => u128::from(frontier),
        };
        self.closed_before = self.closed_before.max(bound);
        closed.into_iter().collect()
    }
}

/// A ledger reading asked for at `asked`, taken into `consumers` ([`Combiner::ledger`]).
fn take_reading(
    consumers: &mut HashMap<String, Consumer>,
    listed: Vec<(String, Listed)>,
    through: Through,
    asked: Instant,
    timeout: std::time::Duration,
) {
    let now = Instant::now();
    let mut names = HashSet::new();
    for (name, listed) in listed {
        names.insert(name.clone());
        let state = consumers
            .entry(name)
            .or_insert_with(|| Consumer::new(now, true));
        state.vouched = Some(asked);
        state.pending = listed.pending;
        state.catching_up = match listed.progress {
            Some(Progress {
                marker: Marker::End,
                ..
            }) => false,
            Some(progress) => listed.claims > progress.claims,
            None => listed.claims > 0,
        };
        if state.heard {
            continue;
        }
        match listed.progress.map(|p| p.marker) {
            Some(Marker::Settled { before, holding }) => {
                state.before = state.before.max(before);
                state.holding = holding;
            }
            Some(Marker::End) => {
                state.ended = true;
                state.holding = false;
            }
            None => {}
        }
    }
    // Not listed: it left the ledger (stopped for good, or died and had every entry
    // claimed), with nothing pending and everything it read committed. If all read of it
    // is from before the reading (a consumer registers before it writes), it holds no
    // window back: a combiner started again may know it only from partials it re-reads.
    // Let go once it has ended or been silent for the timeout.
    consumers.retain(|name, state| {
        if names.contains(name) {
            return true;
        }
        state.pending = 0;
        state.catching_up = false;
        state.vouched = Some(asked);
        if through.is_some() && state.last <= through {
            state.holding = false;
        }
        !state.ended && now.duration_since(state.seen) < timeout
    });
}

/// Windows ending before this are final (`u64::MAX`: all of them) for `consumers`: the least
/// settled time of those that count (with `lateness`, also that long before the most
/// settled one).
fn frontier_of<'c>(
    consumers: impl Iterator<Item = &'c Consumer> + Clone,
    timeout: std::time::Duration,
    lateness: Option<u64>,
) -> u64 {
    let now = Instant::now();
    let counting = consumers.filter(|c| c.counts(now, timeout));
    // A consumer that ended with entries still pending for it stopped before handing them on
    // (read, not yet taken in): they may fall in any window.
    let unknown = |c: &Consumer| c.catching_up || (c.ended && c.pending > 0);
    let hold = |c: &Consumer| if unknown(c) { 0 } else { c.before };
    let least = counting.clone().map(hold).min();
    let most = counting.map(hold).max();
    match (least, most, lateness) {
        (None, ..) => u64::MAX,
        (Some(least), Some(most), Some(lateness)) => least.max(most.saturating_sub(lateness)),
        (Some(least), ..) => least,
    }
}

/// Closed windows as the live page draws them: one point per window, its keys together.
pub(super) fn points(windows: &[((u64, u64), Open)]) -> impl Iterator<Item = Point> + '_ {
    windows.iter().map(|((end, _), open)| {
        let (moments, by) = open
            .by_key
            .values()
            .fold(StatsBySeverity.init(), |all, acc| {
                StatsBySeverity.combine(&all, acc)
            });
        Point {
            end: *end,
            count: by.iter().sum::<usize>() as u64,
            mean: moments.mean(),
        }
    })
}

impl Combiner {
    /// Entries held in open windows (acknowledged once their windows are written).
    pub(super) fn holding(&self) -> u64 {
        self.open.values().map(|o| o.ids.len() as u64).sum()
    }

    /// The ids of the entries held in open windows.
    pub(super) fn held(&self) -> HashSet<&str> {
        self.open
            .values()
            .flat_map(|o| o.ids.iter().map(String::as_str))
            .collect()
    }
}

/// Appends the JSON lines of final windows to `text`, as `weir run` writes them, each ending
/// in a newline; returns how many.
pub(super) fn write_lines(text: &mut Vec<u8>, windows: &[((u64, u64), Open)]) -> u64 {
    let mut n = 0;
    for ((end, start), open) in windows {
        for (key, acc) in &open.by_key {
            window_line(text, *start, *end, key.as_deref(), acc);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::Partial;
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

    fn settled_marker(before: u64, holding: bool) -> Marker {
        Marker::Settled { before, holding }
    }

    fn settled(before: u64, holding: bool) -> Report {
        Report::Marker(settled_marker(before, holding))
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_closes_windows_that_end_at_the_end_of_time() {
        let mut c = combiner(5_000);
        let last = u64::MAX - u64::MAX % 10;
        assert!(!c.take("a", partial(last, u64::MAX, 1.0), "1"));
        assert!(!c.take("a", partial(10, 20, 2.0), "2"));
        assert!(c.take("a", Report::Marker(Marker::End), "3"));
        assert_eq!(c.frontier(), u64::MAX);
        let closed: Vec<_> = c.close(u64::MAX).into_iter().map(|(at, _)| at).collect();
        assert_eq!(closed, [(20, 10), (u64::MAX, last)]);
        assert_eq!(c.holding(), 0);
        // A partial for it now is late.
        assert!(c.take("a", partial(last, u64::MAX, 1.0), "4"));
        assert_eq!(c.late, 1);
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
        let mut text = Vec::new();
        write_lines(&mut text, &closed[..1]);
        let first = std::str::from_utf8(&text).unwrap().lines().next().unwrap();
        let line: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(line["event_count"], 2);
        assert_eq!(line["avg_value"], 2.0);
        // A partial for a window already written is late.
        assert!(c.take("b", partial(0, 10, 5.0), "6"));
        assert_eq!(c.late, 1);
        // a goes silent: after the timeout, and once the ledger says it holds nothing, b
        // alone holds windows back.
        tokio::time::advance(std::time::Duration::from_millis(3_000)).await;
        c.take("b", settled(30, true), "7");
        assert_eq!(c.frontier(), 20);
        tokio::time::advance(std::time::Duration::from_millis(2_000)).await;
        assert_eq!(c.frontier(), 20, "no reading since a was last heard from");
        c.ledger(nothing_pending(&["a", "b"]), None, c.ask());
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
    async fn a_restarted_combiner_waits_for_consumers_it_knows_only_from_partials() {
        // Started again: it re-reads a's and b's partials of windows it had not written, but
        // none of their markers.
        let mut c = combiner(5_000);
        assert!(!c.take("a", partial(0, 10, 1.0), "1"));
        assert!(!c.take("b", partial(10, 20, 1.0), "2"));
        // Their progress is unknown: nothing is final.
        assert_eq!(c.frontier(), 0);
        assert!(c.close(c.frontier()).is_empty());
        // a says it is past both windows and holds nothing; b, that it holds events from 15.
        c.take("a", settled(30, false), "3");
        c.take("b", settled(15, true), "4");
        assert_eq!(c.frontier(), 15);
        assert_eq!(c.close(15).len(), 1);
        // b never says more (it died): after the timeout, once a reading of the ledger says
        // nothing is pending for it, it no longer holds windows back.
        tokio::time::advance(std::time::Duration::from_millis(5_000)).await;
        assert_eq!(c.frontier(), 15);
        c.ledger(nothing_pending(&["a", "b"]), None, c.ask());
        assert_eq!(c.frontier(), u64::MAX);
    }

    /// A ledger reading that lists `names` with nothing pending and no commit.
    fn nothing_pending(names: &[&str]) -> Vec<(String, Listed)> {
        let nothing = || Listed {
            progress: None,
            pending: 0,
            claims: 0,
        };
        names.iter().map(|n| ((*n).to_owned(), nothing())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_marker_settles_windows_only_with_a_reading_asked_for_after_it() {
        let mut c = combiner(1_000);
        // a has connected and read nothing: the ledger lists it with nothing pending, and
        // once it has been silent for the timeout, it no longer counts.
        let asked = c.ask();
        c.ledger(nothing_pending(&["a"]), None, asked);
        tokio::time::advance(std::time::Duration::from_millis(1_010)).await;
        let asked = c.ask();
        c.ledger(nothing_pending(&["a"]), None, asked);
        assert_eq!(c.final_before(), u64::MAX);
        // A reading is asked for. Then a reads entries of [0, 10), and b, after them in
        // stream order, entries that settle it: b's partial and marker come in.
        let asked = c.ask();
        tokio::time::advance(std::time::Duration::from_millis(10)).await;
        assert!(!c.take("b", partial(0, 10, 1.0), "1-0"));
        c.take("b", settled(20, true), "2-0");
        // The reading, taken before a's read, says a holds nothing: it says nothing of
        // what b's marker settles.
        c.ledger(nothing_pending(&["a", "b"]), None, asked);
        assert_eq!(c.frontier(), 20);
        assert_eq!(c.final_before(), 0);
        // One asked for after b's marker finds a's entries pending: they hold the window.
        let asked = c.ask();
        let mut reading = nothing_pending(&["a", "b"]);
        reading[0].1.pending = 5;
        c.ledger(reading, None, asked);
        assert_eq!(c.final_before(), 0);
        // a commits them: its partial and marker; then a reading finds nothing pending.
        assert!(!c.take("a", partial(0, 10, 2.0), "3-0"));
        c.take("a", settled(20, true), "4-0");
        let asked = c.ask();
        c.ledger(nothing_pending(&["a", "b"]), None, asked);
        assert_eq!(c.final_before(), 20);
        let closed = c.close(20);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].1.ids, ["1-0", "3-0"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_consumer_holds_windows_until_a_reading_taken_after_it_spoke() {
        let mut c = combiner(1_000);
        c.take("a", settled(10, true), "1-0");
        c.take("b", settled(50, true), "2-0");
        // A reading asked for before b's report (a combiner reads the ledger once a second,
        // and uses a reading once it has read the partials committed before it).
        let asked = c.ask();
        tokio::time::advance(std::time::Duration::from_millis(10)).await;
        c.take("a", settled(20, true), "3-0");
        tokio::time::advance(std::time::Duration::from_millis(2_000)).await;
        c.take("b", settled(60, true), "4-0");
        // a has been silent past the timeout, but the reading says nothing of what it holds
        // since it last spoke: it may have read entries meanwhile.
        c.ledger(nothing_pending(&["a", "b"]), None, asked);
        assert_eq!(c.frontier(), 20);
        // A reading asked for now, with entries pending for a: a holds.
        let mut reading = nothing_pending(&["a", "b"]);
        reading[0].1.pending = 4;
        c.ledger(reading, None, c.ask());
        assert_eq!(c.frontier(), 20);
        // Once one says nothing is pending for a, it no longer does.
        c.ledger(nothing_pending(&["a", "b"]), None, c.ask());
        assert_eq!(c.frontier(), 60);
        // a speaks again: it counts again, until silent and vouched for once more.
        tokio::time::advance(std::time::Duration::from_millis(10)).await;
        c.take("a", settled(30, true), "5-0");
        assert_eq!(c.frontier(), 30);
        tokio::time::advance(std::time::Duration::from_millis(1_000)).await;
        c.take("b", settled(70, true), "6-0");
        assert_eq!(c.frontier(), 30);
        c.ledger(nothing_pending(&["a", "b"]), None, c.ask());
        assert_eq!(c.frontier(), 70);
    }

    #[tokio::test(start_paused = true)]
    async fn a_combiner_started_again_goes_on_from_what_the_ledger_holds() {
        let mut c = combiner(5_000);
        // The one before wrote every window ending before 20.
        c.resume(20);
        assert!(c.take("a", partial(0, 10, 1.0), "1"), "late");
        assert!(!c.take("a", partial(10, 20, 1.0), "2"));
        assert_eq!((c.late, c.closed_before()), (1, 20));
        // The ledger lists a (its markers read before the restart), b (ended) and c (just
        // connected): a and c hold windows back, b does not.
        let listed = |marker: Option<Marker>, pending, claims| Listed {
            progress: marker.map(|marker| Progress { marker, claims: 0 }),
            pending,
            claims,
        };
        fn reading(rows: Vec<(&str, Listed)>) -> Vec<(String, Listed)> {
            rows.into_iter().map(|(n, l)| (n.to_owned(), l)).collect()
        }
        c.ledger(
            reading(vec![
                ("a", listed(Some(settled_marker(40, true)), 0, 0)),
                ("b", listed(Some(Marker::End), 0, 0)),
                ("c", listed(None, 0, 0)),
            ]),
            None,
            c.ask(),
        );
        assert_eq!(c.frontier(), 0);
        // c writes its first marker; a's state from the ledger holds until a says more.
        c.take("c", settled(50, true), "3");
        assert_eq!(c.frontier(), 40);
        c.take("a", settled(60, false), "4");
        assert_eq!(c.frontier(), 50);
        // A later reading does not undo what the markers said.
        c.ledger(
            reading(vec![
                ("a", listed(Some(settled_marker(45, true)), 0, 0)),
                ("c", listed(None, 0, 0)),
            ]),
            None,
            c.ask(),
        );
        assert_eq!(c.frontier(), 50);
        // A consumer listed but never heard from no longer holds after the timeout...
        c.ledger(reading(vec![("d", listed(None, 0, 0))]), None, c.ask());
        assert_eq!(c.frontier(), 0);
        tokio::time::advance(std::time::Duration::from_millis(5_000)).await;
        c.take("c", settled(50, true), "5");
        assert_eq!(c.frontier(), 50);
        // ...but one with entries pending holds from its settled time as long as they are.
        c.ledger(reading(vec![("d", listed(None, 3, 0))]), None, c.ask());
        assert_eq!(c.frontier(), 0);
        c.ledger(
            reading(vec![("d", listed(Some(settled_marker(45, true)), 3, 0))]),
            None,
            c.ask(),
        );
        tokio::time::advance(std::time::Duration::from_millis(60_000)).await;
        c.take("c", settled(70, true), "6");
        assert_eq!(c.frontier(), 45);
        // c claims d's entries: d has none pending, but c has claimed more than its last
        // commit covers, and holds every window back until it commits again.
        c.ledger(
            reading(vec![
                ("d", listed(Some(settled_marker(45, true)), 0, 0)),
                ("c", listed(Some(settled_marker(70, true)), 5, 1)),
            ]),
            None,
            c.ask(),
        );
        assert_eq!(c.frontier(), 0);
        let covered = Listed {
            progress: Some(Progress {
                marker: settled_marker(70, true),
                claims: 1,
            }),
            pending: 2,
            claims: 1,
        };
        c.ledger(reading(vec![("c", covered)]), None, c.ask());
        assert_eq!(c.frontier(), 70);
        // c stops, with entries it read but never took in still pending for it (the
        // reading says 2): they hold every window back until someone commits them.
        c.take("c", settled(u64::MAX, false), "7");
        c.take("c", Report::Marker(Marker::End), "8");
        assert_eq!(c.frontier(), 0);
        let stopped = |pending| Listed {
            progress: Some(Progress {
                marker: Marker::End,
                claims: 1,
            }),
            pending,
            claims: 1,
        };
        c.ledger(reading(vec![("c", stopped(2))]), None, c.ask());
        assert_eq!(c.frontier(), 0);
        c.ledger(reading(vec![("c", stopped(0))]), None, c.ask());
        assert_eq!(c.frontier(), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn consumers_that_left_the_ledger_are_let_go() {
        let mut c = combiner(5_000);
        let listed = |marker: Marker, pending| Listed {
            progress: Some(Progress { marker, claims: 0 }),
            pending,
            claims: 0,
        };
        c.take("a", settled(10, true), "1-0");
        c.take("b", settled(10, true), "2-0");
        c.take("b", Report::Marker(Marker::End), "3-0");
        c.take("d", settled(20, true), "4-0");
        c.ledger(
            vec![
                ("a".to_owned(), listed(settled_marker(10, true), 3)),
                ("b".to_owned(), listed(Marker::End, 0)),
                ("d".to_owned(), listed(settled_marker(20, true), 0)),
            ],
            Some((4, 0)),
            c.ask(),
        );
        assert_eq!((c.consumers(), c.frontier()), (3, 10));
        // b stopped for good and a died, its entries claimed: both left the ledger. b is let
        // go; a, silent for less than the timeout, has nothing pending any more, and all read
        // of it is from before the reading: it holds nothing back.
        c.ledger(
            vec![("d".to_owned(), listed(settled_marker(20, true), 0))],
            Some((5, 0)),
            c.ask(),
        );
        assert_eq!((c.consumers(), c.frontier()), (2, 20));
        tokio::time::advance(std::time::Duration::from_millis(5_000)).await;
        c.take("d", settled(30, true), "6-0");
        c.ledger(
            vec![("d".to_owned(), listed(settled_marker(30, true), 0))],
            Some((6, 0)),
            c.ask(),
        );
        assert_eq!((c.consumers(), c.frontier()), (1, 30));
        // A combiner started again re-reads a partial of e, which has left since (its end
        // marker was acknowledged before): e holds windows back from the start until a
        // reading taken after that partial no longer lists it. One that came after the
        // reading (it may have just registered) still holds.
        c.take("e", partial(30, 40, 1.0), "7-0");
        c.take("f", partial(30, 40, 1.0), "9-0");
        assert_eq!(c.frontier(), 0);
        c.ledger(
            vec![("d".to_owned(), listed(settled_marker(30, true), 0))],
            Some((8, 0)),
            c.ask(),
        );
        assert_eq!(c.frontier(), 0);
        c.take("f", settled(35, true), "10-0");
        assert_eq!(c.frontier(), 30);
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
