//! [`MergeTagged`]: the rounds of the fair merge.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use super::MergeTaggedHandle;
use crate::poll::{POLL_BUDGET, wake_self};
use crate::sync::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering, StdArc};
use crate::wake_queue::{Member, WakeQueue};

pub(super) struct Shared<K, St> {
    pub(super) wakes: Arc<WakeQueue>,
    /// Sources pushed through a [`MergeTaggedHandle`], admitted when the current round ends.
    pub(super) incoming: Mutex<Vec<(K, St)>>,
    /// Whether `incoming` holds sources; written only under its lock.
    pub(super) has_incoming: AtomicBool,
    /// Live [`MergeTaggedHandle`]s: while there are any, more sources may come.
    pub(super) handles: AtomicUsize,
    /// The sources not ended yet, with their counters, and what the ended ones yielded.
    pub(super) registry: Mutex<Registry<K>>,
}

/// The per-source counters a handle reads: an entry for each source that has not ended, by
/// the order added; a source's entry is released when it ends, its count added to the totals
/// of the ended sources. Memory follows the live sources, not every source ever added.
pub(super) struct Registry<K> {
    live: BTreeMap<u64, (K, StdArc<Member>)>,
    /// The number the next source added gets.
    next: u64,
    ended: EndedSources,
}

/// What the sources of a merge that have ended yielded, in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndedSources {
    /// Sources ended.
    pub sources: u64,
    /// Items they yielded.
    pub items: u64,
}

/// A source with what the merge keeps of it. It lives in the round, in `joining`, or parked
/// (in `parked`, under its id) while it waits for its waker; it moves between them, which is
/// why sources must be `Unpin`.
struct Slot<K, St> {
    stream: St,
    key: K,
    waker: Waker,
    /// Index of its waker state in `states` (and of its place in `parked`).
    id: usize,
    /// Its number in the registry.
    seq: u64,
    /// Items yielded before round `joined`.
    yielded: u64,
    /// The round this source last joined. It has yielded once in every round since: see
    /// [`MergeTagged::count`].
    joined: u64,
}

/// How many rounds go by between two publications of the counts of the sources in the round.
const PUBLISH_EVERY: u64 = 1024;

/// Stream for [`merge_tagged`](super::merge_tagged); [`Merge`](super::Merge) is the same without the keys.
///
/// Sources must be `Unpin`, as for tokio-stream's `StreamMap` and futures' `select_all`: pin
/// one that is not (an `async` block, a stream holding a timer) with `Box::pin`.
///
/// # Scheduling
///
/// The merge works in *rounds*. A round polls, in order, each source that was scheduled when
/// the round began, once:
/// - a source that yields an item stays for the next round, and the item is returned: the
///   next poll goes on with the source after it. Always-ready sources `a`, `b`, `c` therefore
///   interleave exactly `a b c a b c ...` (round robin: no source can starve another);
/// - a source that returns `Pending` leaves the round. It has registered its own waker; when
///   that waker fires, the source's id is pushed onto a shared *wake queue* and the merge's
///   task is woken. A wake-up therefore costs O(1), never a scan of all sources, and a source
///   woken many times before the merge looks is queued once;
/// - a source that ends is removed in O(1) (its id is reused) and never polled again.
///
/// When a round ends, the next one is made of the sources that yielded in it, in the same
/// order, followed by the sources added since (in the order added), followed by the woken
/// ones (in the order woken). Every source in a round was there when it began, so a source
/// that joins waits at most one round.
///
/// Each source's own order is preserved. One poll polls at most [`POLL_BUDGET`] sources;
/// when they all returned `Pending` and more are scheduled, the merge wakes its own task and
/// returns `Pending`.
///
/// The merge ends when every source has ended and no [`MergeTaggedHandle`] is alive (a handle can
/// still add sources).
///
/// # Cost
///
/// A poll during a round takes no lock, reads no atomic, counts nothing and registers no
/// waker: it polls the source under the cursor with that source's waker and moves the cursor
/// on. A source's item count is derived from the rounds it stayed in (it yields exactly once
/// per round). The wake queue's flag is read once per round, and a source leaving the round
/// only vacates its place, which the end of the round closes up in one pass (O(1) per poll,
/// amortized).
///
/// # Wake-up contract
///
/// Before returning `Pending` for want of work, a poll registers the task's waker with the
/// wake queue and then takes the woken sources once more: a source woken before the
/// registration is found by that last look, one woken after it wakes the task. No wake-up is
/// lost (checked by the loom models in `loom.rs`). A poll that returns an item registers
/// nothing: the consumer polls again anyway.
///
/// # Marble diagram
///
/// Recorded from a run (`cargo run --example marbles`; time runs left to right, `|` is
/// the end, `(x)` an item dropped, `x!` a late one):
///
/// ```text
#[doc = include_str!("../../docs/operators/marbles/merge.txt")]
/// ```
///
/// ```text
#[doc = include_str!("../../docs/operators/marbles/merge_added.txt")]
/// ```
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let mut merged = weir::merge::merge_tagged([("a", weir::iter(0..2))]);
/// let handle = merged.handle();
/// handle.push("b", weir::iter(10..12)); // a source found at run time
/// drop(handle);
/// let first: Vec<_> = (&mut merged).take(3).collect().await;
/// assert_eq!(first, [("a", 0), ("b", 10), ("a", 1)]);
/// // The sources not ended, with their items so far; the ended ones in all.
/// assert_eq!(merged.source_counts(), [("a", 2), ("b", 1)]);
/// assert_eq!(merged.next().await, Some(("b", 11)));
/// assert_eq!(merged.next().await, None);
/// assert_eq!(merged.source_counts(), []);
/// assert_eq!(merged.ended_sources().items, 4);
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct MergeTagged<K, St> {
    /// The sources of the current round, in polling order; `None` where one left.
    round: Vec<Option<Slot<K, St>>>,
    /// The next place in `round` to poll; `round.len()` when the round is over.
    cursor: usize,
    /// How many places in `round` are vacated.
    vacated: usize,
    /// The current round's number, from 1.
    rounds: u64,
    /// Sources added during the round, scheduled for the next one.
    joining: Vec<Slot<K, St>>,
    /// Sources waiting for their waker, by id.
    parked: Vec<Option<Slot<K, St>>>,
    /// Waker states by id; an ended source's stays until its id is reused.
    states: Vec<StdArc<Member>>,
    /// Ids free for reuse.
    free: Vec<usize>,
    pub(super) live: usize,
    shared: Arc<Shared<K, St>>,
    pub(super) done: bool,
}

impl<K: fmt::Debug + Clone, St: Stream + Unpin> fmt::Debug for MergeTagged<K, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&K> = self.slots().map(|s| &s.key).collect();
        f.debug_struct("MergeTagged")
            .field("live", &keys)
            .field("round", &self.rounds)
            .field("done", &self.done)
            .finish()
    }
}

impl<K, St> MergeTagged<K, St>
where
    K: Clone,
    St: Stream + Unpin,
{
    /// A merge of no sources yet.
    pub(super) fn new() -> Self {
        MergeTagged {
            round: Vec::new(),
            cursor: 0,
            vacated: 0,
            rounds: 0,
            joining: Vec::new(),
            parked: Vec::new(),
            states: Vec::new(),
            free: Vec::new(),
            live: 0,
            shared: Arc::new(Shared {
                wakes: WakeQueue::new(),
                incoming: Mutex::new(Vec::new()),
                has_incoming: AtomicBool::new(false),
                handles: AtomicUsize::new(0),
                registry: Mutex::new(Registry {
                    live: BTreeMap::new(),
                    next: 0,
                    ended: EndedSources::default(),
                }),
            }),
            done: false,
        }
    }

    /// Adds a source. It joins the merge's next round, after the sources already scheduled.
    pub fn push(&mut self, key: K, stream: St) {
        let id = self.free.pop().unwrap_or(self.states.len());
        let state = Member::new(id, self.shared.wakes.clone());
        if id == self.states.len() {
            self.states.push(state.clone());
            self.parked.push(None);
        } else {
            self.states[id] = state.clone();
        }
        let seq = {
            let mut registry = self.shared.registry.lock();
            let seq = registry.next;
            registry.next += 1;
            registry.live.insert(seq, (key.clone(), state.clone()));
            seq
        };
        self.joining.push(Slot {
            stream,
            key,
            waker: Waker::from(state),
            id,
            seq,
            yielded: 0,
            joined: 0,
        });
        self.live += 1;
        self.done = false;
    }

    /// A handle that adds sources from anywhere, for sources discovered at run time, and reads
    /// the per-source counters. While a handle is alive the merge does not end.
    pub fn handle(&self) -> MergeTaggedHandle<K, St> {
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        MergeTaggedHandle {
            shared: self.shared.clone(),
        }
    }

    /// How many items each source that has not ended has yielded, in the order the sources
    /// were added. Exact. An ended source's count goes to [`ended_sources`](Self::ended_sources).
    pub fn source_counts(&self) -> Vec<(K, u64)> {
        for (place, slot) in self.round.iter().enumerate() {
            if let Some(slot) = slot {
                self.publish(slot, self.count(slot, place < self.cursor));
            }
        }
        for slot in self.joining.iter().chain(self.parked.iter().flatten()) {
            self.publish(slot, slot.yielded);
        }
        counts(&self.shared)
    }

    /// How many sources have not ended yet.
    pub fn live_sources(&self) -> usize {
        self.live
    }

    /// How many sources have ended, and the items they yielded in all.
    pub fn ended_sources(&self) -> EndedSources {
        self.shared.registry.lock().ended
    }

    /// The items yielded by `slot`, which is in the round and was polled in it already if
    /// `polled`: one per round since it joined, not counting the current round unless polled.
    fn count(&self, slot: &Slot<K, St>, polled: bool) -> u64 {
        slot.yielded + (self.rounds - slot.joined) + u64::from(polled)
    }

    fn publish(&self, slot: &Slot<K, St>, count: u64) {
        self.states[slot.id].items.store(count, Ordering::Relaxed);
    }

    /// Polls the source under the cursor and moves the cursor on: its item, or `None` when it
    /// returned `Pending` or ended and so left the round. The cursor must be inside the round.
    ///
    /// Everything but yielding an item happens out of line, so that this stays small.
    #[inline(always)]
    fn poll_cursor(&mut self) -> Option<(K, St::Item)> {
        let place = self.cursor;
        self.cursor += 1;
        let slot = self.round[place]
            .as_mut()
            .expect("the places ahead of the cursor are filled");
        let mut source_cx = Context::from_waker(&slot.waker);
        match Pin::new(&mut slot.stream).poll_next(&mut source_cx) {
            Poll::Ready(Some(item)) => {
                let item = (slot.key.clone(), item);
                if self.cursor == self.round.len() {
                    self.end_round();
                }
                Some(item)
            }
            Poll::Ready(None) => {
                self.leave_round(true);
                None
            }
            Poll::Pending => {
                self.leave_round(false);
                None
            }
        }
    }

    /// The source just polled returned `Pending` (then it is parked until its waker fires) or
    /// `ended` (then it is dropped); either way its place in the round is vacated.
    #[inline(never)]
    fn leave_round(&mut self, ended: bool) {
        let mut slot = self.round[self.cursor - 1]
            .take()
            .expect("the place just polled is filled");
        self.vacated += 1;
        slot.yielded = self.count(&slot, false);
        self.publish(&slot, slot.yielded);
        if ended {
            self.states[slot.id].closed.store(true, Ordering::Release);
            self.free.push(slot.id);
            self.live -= 1;
            let mut registry = self.shared.registry.lock();
            registry.live.remove(&slot.seq);
            registry.ended.sources += 1;
            registry.ended.items += slot.yielded;
        } else {
            let id = slot.id;
            self.parked[id] = Some(slot);
        }
    }

    /// Ends the round: the sources that stayed, then the joining ones, then the woken ones
    /// make the next one. When nothing left, joined or woke, that is only a new number and the
    /// cursor back at the start.
    #[inline(always)]
    fn next_round(&mut self) {
        let quiet = self.vacated == 0
            && self.joining.is_empty()
            && self.rounds % PUBLISH_EVERY != 0
            && !self.shared.wakes.any.load(Ordering::Acquire);
        if quiet {
            self.rounds += 1;
            self.cursor = 0;
        } else {
            self.rebuild_round();
        }
    }

    /// [`next_round`](Self::next_round), out of line: called when the last source of a round
    /// has yielded, so that the next poll starts the next round without further ado.
    #[inline(never)]
    fn end_round(&mut self) {
        self.next_round();
    }

    #[inline(never)]
    fn rebuild_round(&mut self) {
        if self.vacated > 0 {
            self.round.retain(Option::is_some);
            self.vacated = 0;
        }
        if self.rounds % PUBLISH_EVERY == 0 {
            for slot in self.round.iter().flatten() {
                self.publish(slot, self.count(slot, true));
            }
        }
        self.rounds += 1;
        self.cursor = 0;
        // The flag covers both the wake queue and sources pushed through a handle.
        let woken = self.shared.wakes.take_woken(&self.states);
        if woken.is_some() {
            self.admit_incoming();
        }
        let rounds = self.rounds;
        self.round.extend(self.joining.drain(..).map(|mut slot| {
            slot.joined = rounds;
            Some(slot)
        }));
        if let Some(woken) = woken {
            self.schedule_woken(woken);
        }
    }

    fn admit_incoming(&mut self) {
        if !self.shared.has_incoming.load(Ordering::Acquire) {
            return;
        }
        // The flag is raised and cleared under the list's lock: a push either lands before
        // this takes the list (and is taken with it) or after (and raises the flag again).
        let incoming = {
            let mut incoming = self.shared.incoming.lock();
            self.shared.has_incoming.store(false, Ordering::Relaxed);
            std::mem::take(&mut *incoming)
        };
        for (key, stream) in incoming {
            self.push(key, stream);
        }
    }

    /// Appends the woken parked sources to the round.
    fn schedule_woken(&mut self, woken: Vec<usize>) {
        for id in woken {
            if let Some(mut slot) = self.parked[id].take() {
                slot.joined = self.rounds;
                self.round.push(Some(slot));
            }
        }
    }

    /// The poll after the source under the cursor (if any) left the round, `polled` sources
    /// into this poll: rounds go on until a source yields, the budget runs out, or no source
    /// is scheduled.
    #[inline(never)]
    fn poll_on(&mut self, cx: &mut Context<'_>, mut polled: usize) -> Poll<Option<(K, St::Item)>> {
        if self.done {
            return Poll::Ready(None);
        }
        let mut registered = false;
        loop {
            if self.cursor == self.round.len() {
                self.next_round();
            }
            if self.round.is_empty() {
                let no_more = self.shared.handles.load(Ordering::Acquire) == 0
                    && !self.shared.has_incoming.load(Ordering::Acquire);
                if self.live == 0 && no_more {
                    self.done = true;
                    return Poll::Ready(None);
                }
                if registered {
                    return Poll::Pending;
                }
                // Register the task's waker, then look at the wake queue once more: a source
                // woken before the registration is found by that look, one woken after it
                // wakes the task. Only then is `Pending` safe.
                self.shared.wakes.parent.register(cx.waker());
                registered = true;
                continue;
            }
            if polled == POLL_BUDGET {
                wake_self(cx);
                return Poll::Pending;
            }
            polled += 1;
            if let Some(item) = self.poll_cursor() {
                return Poll::Ready(Some(item));
            }
        }
    }

    fn slots(&self) -> impl Iterator<Item = &Slot<K, St>> {
        let round = self.round.iter().flatten();
        round
            .chain(&self.joining)
            .chain(self.parked.iter().flatten())
    }
}

pub(super) fn counts<K: Clone, St>(shared: &Shared<K, St>) -> Vec<(K, u64)> {
    shared
        .registry
        .lock()
        .live
        .values()
        .map(|(key, state)| (key.clone(), state.items.load(Ordering::Relaxed)))
        .collect()
}

pub(super) fn ended<K, St>(shared: &Shared<K, St>) -> EndedSources {
    shared.registry.lock().ended
}

impl<K, St> Unpin for MergeTagged<K, St> {}

impl<K: Clone, St: Stream + Unpin> FusedStream for MergeTagged<K, St> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<K, St> Stream for MergeTagged<K, St>
where
    K: Clone,
    St: Stream + Unpin,
{
    type Item = (K, St::Item);

    #[inline(always)]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // The round is under way: poll the next source, nothing else.
        if this.cursor < this.round.len() {
            if let Some(item) = this.poll_cursor() {
                return Poll::Ready(Some(item));
            }
            return this.poll_on(cx, 1);
        }
        this.poll_on(cx, 0)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let open = self.shared.handles.load(Ordering::Acquire) > 0
            || self.shared.has_incoming.load(Ordering::Acquire);
        let (mut lower, mut upper) = (0usize, (!open).then_some(0usize));
        for slot in self.slots() {
            let (lo, hi) = slot.stream.size_hint();
            lower = lower.saturating_add(lo);
            upper = upper.zip(hi).and_then(|(a, b)| a.checked_add(b));
        }
        (lower, upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::unit;

    /// The waker states are std's `Arc`s even in the loom build (a `Waker` is made from one),
    /// so their reference counts are checked here: once every source has ended, only the
    /// merge's own table holds each state; the sources' wakers and the registry let go.
    #[test]
    fn ended_sources_leave_one_reference_to_their_waker_state() {
        unit(|| {
            let mut merged = super::super::merge_tagged((0..3).map(|k| (k, crate::iter(0..k))));
            let handle = merged.handle();
            handle.push(9, crate::iter(0..2));
            drop(handle);
            let mut cx = Context::from_waker(Waker::noop());
            let mut items = 0;
            while let Poll::Ready(Some(_)) = Pin::new(&mut merged).poll_next(&mut cx) {
                items += 1;
            }
            assert_eq!(items, 5);
            assert!(merged.done && merged.live == 0);
            assert!(merged.shared.registry.lock().live.is_empty());
            for state in &merged.states {
                assert_eq!(StdArc::strong_count(state), 1);
            }
        });
    }
}
