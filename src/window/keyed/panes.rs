//! [`KeyedPanes`]: per pane, one accumulator per key that had items in it; and the assembly of
//! complete windows from them, one `(window, key)` at a time under a budget.
//!
//! A tumbling window is one pane (as is a sampling window, whose slide exceeds its size): its
//! table is handed out as it is, key by key, in the order the keys first came. A sliding window
//! spans several panes; each key that had items in one of them keeps a [`KeyQueue`] of its own
//! panes with items, so that a key absent from a pane costs nothing for that pane, and a
//! window's result for a key is that queue's combination, amortized O(1) whatever the number
//! of panes or keys.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};

use indexmap::IndexMap;
use indexmap::map::IntoIter;

use super::super::aggregate::Aggregate;
use super::super::event_time::Geometry;
use super::super::{Pane, combine_panes};

/// A pane's accumulators, by key, in the order the keys first came.
type Table<K, Acc, S> = IndexMap<K, Pane<Acc>, S>;

/// One key's panes with items, oldest first, with the combination of all of them in amortized
/// O(1) per operation: a two-stacks queue (as in `two_stacks.rs`) of `(pane, accumulator)`
/// that holds no identity, so that a key costs nothing beyond its own panes.
#[derive(Debug)]
struct KeyQueue<Acc> {
    /// Oldest last; each with the combination of itself and every entry below it.
    front: Vec<(u128, Pane<Acc>, Pane<Acc>)>,
    /// Newest last, and their combination.
    back: Vec<(u128, Pane<Acc>)>,
    back_all: Option<Pane<Acc>>,
}

impl<Acc: Clone> KeyQueue<Acc> {
    fn new() -> Self {
        KeyQueue {
            front: Vec::new(),
            back: Vec::new(),
            back_all: None,
        }
    }

    /// Adds `acc`, the key's accumulator of `pane`, newer than every pane held.
    fn push<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, pane: u128, acc: Pane<Acc>) {
        self.back_all = Some(match self.back_all.take() {
            Some(all) => combine_panes(agg, &all, &acc),
            None => acc.clone(),
        });
        self.back.push((pane, acc));
    }

    /// Drops the panes before `first`.
    fn drop_before<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, first: u128) {
        loop {
            if self.front.is_empty() {
                if self.back.first().is_none_or(|(pane, _)| *pane >= first) {
                    return;
                }
                // Flip: the newest goes in first, so that the oldest ends on top.
                while let Some((pane, acc)) = self.back.pop() {
                    let all = match self.front.last() {
                        Some((_, _, below)) => combine_panes(agg, &acc, below),
                        None => acc.clone(),
                    };
                    self.front.push((pane, acc, all));
                }
                self.back_all = None;
            }
            match self.front.last() {
                Some((pane, _, _)) if *pane < first => {
                    self.front.pop();
                }
                _ => return,
            }
        }
    }

    /// The combination of every pane held (`None` when empty).
    fn all<T, A: Aggregate<T, Acc = Acc>>(&self, agg: &A) -> Option<Pane<Acc>> {
        match (self.front.last(), &self.back_all) {
            (Some((_, _, front)), Some(back)) => Some(combine_panes(agg, front, back)),
            (Some((_, _, front)), None) => Some(front.clone()),
            (None, back) => back.clone(),
        }
    }
}

/// The pane items are arriving in, kept out of the map: an in-order item costs one comparison
/// in milliseconds and one lookup of its key.
struct Hot<K, Acc, S> {
    pane: u128,
    first_ms: u64,
    len_ms: u64,
    table: Table<K, Acc, S>,
}

/// What the assembly of windows is in the middle of.
enum Stage<K, Acc> {
    /// Nothing: the next step looks at the next window.
    Idle,
    /// A tumbling window's table, handed out one key at a time.
    Draining(u128, IntoIter<K, Pane<Acc>>),
    /// A pane's table going into the keys' queues (sliding windows).
    Pushing(u128, IntoIter<K, Pane<Acc>>),
    /// A sliding window being handed out, at this position among the active keys.
    Emitting(u128, usize),
}

/// The panes of a keyed window, and the assembly of its complete windows.
///
/// Panes below `closed` are complete: no item will be added to them (a later item for one is
/// late, which the operator checks before calling [`add`](Self::add)).
pub(crate) struct KeyedPanes<K, Acc, S> {
    geometry: Geometry,
    hasher: S,
    hot: Option<Hot<K, Acc, S>>,
    /// Panes with items, not yet handed to the assembly.
    open: BTreeMap<u128, Table<K, Acc, S>>,
    closed: u128,
    /// How many keys the last pane handed to the assembly held: room made for the next pane.
    last_keys: usize,
    /// The next window to emit or skip.
    next_window: u128,
    stage: Stage<K, Acc>,
    /// Sliding windows: each key with panes in the queue, and those panes.
    active: IndexMap<K, KeyQueue<Acc>, S>,
}

impl<K, Acc, S> KeyedPanes<K, Acc, S>
where
    K: Hash + Eq + Clone,
    Acc: Clone,
    S: BuildHasher + Clone,
{
    pub(crate) fn new(geometry: Geometry, hasher: S) -> Self {
        KeyedPanes {
            geometry,
            active: IndexMap::with_hasher(hasher.clone()),
            hasher,
            hot: None,
            open: BTreeMap::new(),
            closed: 0,
            last_keys: 0,
            next_window: 0,
            stage: Stage::Idle,
        }
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.geometry.set_offset(offset);
    }

    /// The panes below this are complete.
    pub(crate) fn closed(&self) -> u128 {
        self.closed
    }

    /// Accumulators held: one per key per pane with items, not yet handed out.
    pub(crate) fn accumulators(&self) -> usize {
        let hot = self.hot.as_ref().map_or(0, |hot| hot.table.len());
        let open: usize = self.open.values().map(IndexMap::len).sum();
        let queued: usize = self
            .active
            .values()
            .map(|q| q.front.len() + q.back.len())
            .sum();
        let staged = match &self.stage {
            Stage::Draining(_, rest) | Stage::Pushing(_, rest) => rest.len(),
            _ => 0,
        };
        hot + open + queued + staged
    }

    /// Adds `item` of `key` at `ts` to its pane, unless the pane lies in no window: then
    /// `false`.
    #[inline]
    pub(crate) fn add<T, A>(&mut self, agg: &A, ts: u64, key: K, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        match &mut self.hot {
            Some(hot) if ts.wrapping_sub(hot.first_ms) < hot.len_ms => {
                add_to(&mut hot.table, agg, key, item);
                true
            }
            _ => self.add_cold(agg, ts, key, item),
        }
    }

    /// An item outside the hot pane: find its pane, make that the hot one.
    #[inline(never)]
    fn add_cold<T, A>(&mut self, agg: &A, ts: u64, key: K, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        let pane = self.geometry.pane_of(ts);
        if !self.geometry.in_a_window(pane) {
            return false;
        }
        self.cool();
        let mut table = self.open.remove(&pane).unwrap_or_else(|| {
            IndexMap::with_capacity_and_hasher(self.last_keys, self.hasher.clone())
        });
        add_to(&mut table, agg, key, item);
        let (first_ms, len_ms) = self.geometry.pane_span(pane);
        self.hot = Some(Hot {
            pane,
            first_ms,
            len_ms,
            table,
        });
        true
    }

    /// Puts the hot pane back among the open ones.
    fn cool(&mut self) {
        if let Some(hot) = self.hot.take() {
            self.open.insert(hot.pane, hot.table);
        }
    }

    /// Marks the panes below `until` complete (`u128::MAX`: every pane, at the end).
    pub(crate) fn close(&mut self, until: u128) {
        if until > self.closed {
            self.closed = until;
            if self.hot.as_ref().is_some_and(|hot| hot.pane < until) {
                self.cool();
            }
        }
    }

    /// Whether some items still wait for a window to be emitted.
    pub(crate) fn holds_items(&self) -> bool {
        self.hot.is_some()
            || !self.open.is_empty()
            || !matches!(self.stage, Stage::Idle)
            || !self.active.is_empty()
    }

    /// The first pane with items not handed to the assembly yet.
    fn first_held(&self) -> Option<u128> {
        let open = self.open.first_key_value().map(|(pane, _)| *pane);
        let hot = self.hot.as_ref().map(|hot| hot.pane);
        open.into_iter().chain(hot).min()
    }

    /// The first window that is not settled: not emitted or skipped yet, and either not
    /// complete or holding items. Every window before it is settled.
    pub(crate) fn first_unsettled(&self) -> u128 {
        let mut k = self.geometry.first_window_of(self.closed);
        if let Some(pane) = self.first_held() {
            k = k.min(self.geometry.first_window_of(pane));
        }
        if !matches!(self.stage, Stage::Idle) || !self.active.is_empty() {
            k = k.min(self.next_window);
        }
        k.max(self.next_window)
    }

    /// The next `(window, key)` with items, as `(k, key, pane)` (the pane holding the key's
    /// aggregate and item count in window `k`), in at most `*budget` steps, each taken from
    /// the budget. `None` when no complete window is left to hand out, or when the budget ran
    /// out first (then `*budget == 0`).
    pub(crate) fn next<T, A>(&mut self, agg: &A, budget: &mut usize) -> Option<(u128, K, Pane<Acc>)>
    where
        A: Aggregate<T, Acc = Acc>,
    {
        while *budget > 0 {
            *budget -= 1;
            match &mut self.stage {
                Stage::Draining(k, table) => match table.next() {
                    Some((key, pane)) => return Some((*k, key, pane)),
                    None => {
                        self.next_window = *k + 1;
                        self.stage = Stage::Idle;
                    }
                },
                Stage::Pushing(pane, table) => match table.next() {
                    Some((key, acc)) => self
                        .active
                        .entry(key)
                        .or_insert_with(KeyQueue::new)
                        .push(agg, *pane, acc),
                    None => self.stage = Stage::Idle,
                },
                Stage::Emitting(k, at) => {
                    let Some((key, queue)) = self.active.get_index_mut(*at) else {
                        self.next_window = *k + 1;
                        self.stage = Stage::Idle;
                        continue;
                    };
                    let (first, _) = self.geometry.window_panes(*k);
                    queue.drop_before(agg, first);
                    match queue.all(agg) {
                        Some(all) => {
                            *at += 1;
                            return Some((*k, key.clone(), all));
                        }
                        None => {
                            self.active.swap_remove_index(*at);
                        }
                    }
                }
                Stage::Idle => {
                    let k = self.next_window;
                    let (first, end) = self.geometry.window_panes(k);
                    if end > self.closed {
                        return None;
                    }
                    // The hot pane is not complete (`close` cools a complete one), so it lies
                    // past window k.
                    let next = self.open.first_key_value().map(|(pane, _)| *pane);
                    if let Some(pane) = next.filter(|&pane| pane < end) {
                        let table = self.open.remove(&pane).expect("the first open pane");
                        self.last_keys = table.len();
                        self.stage = if self.geometry.panes_per_window() == 1 {
                            debug_assert_eq!(pane, first, "a one-pane window's pane");
                            Stage::Draining(k, table.into_iter())
                        } else {
                            Stage::Pushing(pane, table.into_iter())
                        };
                        continue;
                    }
                    if !self.active.is_empty() {
                        self.stage = Stage::Emitting(k, 0);
                        continue;
                    }
                    // Window k saw no item, nor did the windows before the first one that
                    // holds a pane with items; with no such pane, wait for items. The skip
                    // stops at the first pane that is not complete: items may still come.
                    let holder = self.geometry.first_window_of(self.first_held()?);
                    self.next_window = holder
                        .min(self.geometry.first_window_of(self.closed))
                        .max(k + 1);
                }
            }
        }
        None
    }
}

/// Adds `item` to `key`'s accumulator in `table`.
#[inline]
fn add_to<K, T, A, S>(table: &mut Table<K, A::Acc, S>, agg: &A, key: K, item: &T)
where
    K: Hash + Eq,
    A: Aggregate<T>,
    S: BuildHasher,
{
    // A lookup first: a key already in the pane (the common case) needs no entry, whose
    // construction indexmap keeps out of line.
    let (acc, n) = match table.get_mut(&key) {
        Some(pane) => pane,
        None => add_key(table, agg, key),
    };
    agg.add(acc, item);
    *n += 1;
}

/// A key's first item in a pane: its accumulator, new.
#[cold]
#[inline(never)]
fn add_key<'a, K, T, A, S>(
    table: &'a mut Table<K, A::Acc, S>,
    agg: &A,
    key: K,
) -> &'a mut Pane<A::Acc>
where
    K: Hash + Eq,
    A: Aggregate<T>,
    S: BuildHasher,
{
    let (i, _) = table.insert_full(key, (agg.init(), 0));
    &mut table[i]
}
