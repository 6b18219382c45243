//! [`Panes`]: the panes that hold items until the windows over them are complete, and the
//! stepper that assembles those windows under a budget. Where panes lie is [`Geometry`]'s
//! business (`geometry.rs`).

use std::collections::{BTreeMap, VecDeque};

use super::super::aggregate::Aggregate;
use super::super::two_stacks::TwoStacks;
use super::super::{Pane, combine_panes};
use super::geometry::{Geometry, MAX_GAP_WINDOWS};

/// The pane items are arriving in, kept out of the map: an in-order item costs one
/// subtraction and one comparison in milliseconds, no division and no lookup.
#[derive(Debug)]
pub(crate) struct Hot<Acc> {
    pane: u128,
    pub(crate) first_ms: u64,
    pub(crate) len_ms: u64,
    pub(crate) acc: Pane<Acc>,
}

/// Panes with items that are not in the window queue yet, by pane number. Panes that come in
/// ascending order (the common case: items in order) go to the back of a run, which costs no
/// allocation and no tree walk; the others go to a map.
struct OpenPanes<Acc> {
    run: VecDeque<(u128, Pane<Acc>)>,
    rest: BTreeMap<u128, Pane<Acc>>,
}

impl<Acc> OpenPanes<Acc> {
    fn new() -> Self {
        OpenPanes {
            run: VecDeque::new(),
            rest: BTreeMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.run.len() + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.run.is_empty() && self.rest.is_empty()
    }

    /// Adds `pane`, which is not held yet.
    fn insert(&mut self, pane: u128, acc: Pane<Acc>) {
        if self.run.back().is_none_or(|(last, _)| *last < pane) {
            self.run.push_back((pane, acc));
        } else {
            self.rest.insert(pane, acc);
        }
    }

    fn remove(&mut self, pane: u128) -> Option<Pane<Acc>> {
        match self.run.binary_search_by_key(&pane, |(p, _)| *p) {
            Ok(i) => self.run.remove(i).map(|(_, acc)| acc),
            Err(_) => self.rest.remove(&pane),
        }
    }

    /// The smallest pane number held.
    fn first(&self) -> Option<u128> {
        let run = self.run.front().map(|(pane, _)| *pane);
        let rest = self.rest.first_key_value().map(|(pane, _)| *pane);
        match (run, rest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_first(&mut self) -> Option<(u128, Pane<Acc>)> {
        let run = self.run.front().map(|(pane, _)| *pane);
        let rest = self.rest.first_key_value().map(|(pane, _)| *pane);
        match (run, rest) {
            (Some(a), Some(b)) if b < a => self.rest.pop_first(),
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.rest.pop_first(),
        }
    }
}

/// The panes that hold items, and the assembly of complete windows from them.
///
/// Panes below `closed` are complete: no item will be added to them (a later item for one is
/// late, which the operator checks before calling [`add`](Self::add)). Complete windows are
/// assembled one *step* at a time (a pane pushed to or popped from the window queue, a window
/// skipped or emitted), so the caller bounds the work of one poll whatever the geometry or
/// the jumps of event time.
pub(crate) struct Panes<Acc> {
    geometry: Geometry,
    hot: Option<Hot<Acc>>,
    /// Panes with items that are not in the window queue yet.
    open: OpenPanes<Acc>,
    closed: u128,
    /// The panes `[queue_start, queue_end)` of the window being assembled.
    queue: TwoStacks<Pane<Acc>>,
    queue_start: u128,
    queue_end: u128,
    /// The last pane with items moved into the queue.
    last_queued: Option<u128>,
    /// The next window to emit or skip.
    next_window: u128,
    last_emitted: Option<u128>,
    emit_empty: bool,
}

impl<Acc: Clone> Panes<Acc> {
    pub(crate) fn new(geometry: Geometry, identity: Pane<Acc>) -> Self {
        Panes {
            geometry,
            hot: None,
            open: OpenPanes::new(),
            closed: 0,
            queue: TwoStacks::new(identity),
            queue_start: 0,
            queue_end: 0,
            last_queued: None,
            next_window: 0,
            last_emitted: None,
            emit_empty: false,
        }
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.geometry.set_offset(offset);
    }

    pub(crate) fn set_emit_empty(&mut self) {
        self.emit_empty = true;
    }

    /// The panes below this are complete.
    pub(crate) fn closed(&self) -> u128 {
        self.closed
    }

    /// Panes holding items that are not in the window queue yet (for `Debug`).
    pub(crate) fn open_panes(&self) -> usize {
        self.open.len() + usize::from(self.hot.is_some())
    }

    /// Adds `item` at `ts` to its pane, unless the pane lies in no window: then `false`.
    #[inline]
    pub(crate) fn add<T, A>(&mut self, agg: &A, ts: u64, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        match &mut self.hot {
            Some(hot) if ts.wrapping_sub(hot.first_ms) < hot.len_ms => {
                agg.add(&mut hot.acc.0, item);
                hot.acc.1 += 1;
                true
            }
            _ => self.add_cold(agg, ts, item),
        }
    }

    /// An item outside the hot pane: find its pane, make that the hot one.
    #[inline(never)]
    fn add_cold<T, A>(&mut self, agg: &A, ts: u64, item: &T) -> bool
    where
        A: Aggregate<T, Acc = Acc>,
    {
        let pane = self.geometry.pane_of(ts);
        if !self.geometry.in_a_window(pane) {
            return false;
        }
        self.cool();
        let mut acc = self.open.remove(pane).unwrap_or_else(|| (agg.init(), 0));
        agg.add(&mut acc.0, item);
        acc.1 += 1;
        let (first_ms, len_ms) = self.geometry.pane_span(pane);
        self.hot = Some(Hot {
            pane,
            first_ms,
            len_ms,
            acc,
        });
        true
    }

    /// Lends out the hot pane, for a caller that adds a run of items to it directly; it must
    /// be given back with [`put_hot`](Self::put_hot) before any other call.
    #[inline]
    pub(crate) fn take_hot(&mut self) -> Option<Hot<Acc>> {
        self.hot.take()
    }

    /// Gives back the pane [`take_hot`](Self::take_hot) lent.
    #[inline]
    pub(crate) fn put_hot(&mut self, hot: Hot<Acc>) {
        self.hot = Some(hot);
    }

    /// Puts the hot pane back into the map.
    fn cool(&mut self) {
        if let Some(hot) = self.hot.take() {
            self.open.insert(hot.pane, hot.acc);
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
            || self.last_queued.is_some_and(|pane| {
                let (first, _) = self.geometry.window_panes(self.next_window);
                pane >= first
            })
    }

    /// The first window that is not settled: not emitted or skipped yet, and either not
    /// complete or holding items. Every window before it is settled.
    pub(crate) fn first_unsettled(&self) -> u128 {
        // The first window that ends past the complete panes.
        let mut k = self.geometry.first_window_of(self.closed);
        // The first window holding a pane with items that is not queued yet.
        let held = self.open.first().into_iter();
        if let Some(pane) = held.chain(self.hot.as_ref().map(|hot| hot.pane)).min() {
            k = k.min(self.geometry.first_window_of(pane));
        }
        let (first, _) = self.geometry.window_panes(self.next_window);
        if self.last_queued.is_some_and(|pane| pane >= first) {
            // The window being assembled holds queued panes with items.
            k = self.next_window;
        }
        k.max(self.next_window)
    }

    /// The next complete window to emit, as `(k, pane)` (the pane holding its aggregate and
    /// item count), assembled in at most `*budget` steps, each taken from the budget. `None`
    /// when no window is complete, or when the budget ran out first (then `*budget == 0`).
    pub(crate) fn next_window<T, A>(
        &mut self,
        agg: &A,
        budget: &mut usize,
    ) -> Option<(u128, Pane<Acc>)>
    where
        A: Aggregate<T, Acc = Acc>,
    {
        let combine = |a: &Pane<Acc>, b: &Pane<Acc>| combine_panes(agg, a, b);
        while *budget > 0 {
            *budget -= 1;
            let k = self.next_window;
            let (first, end) = self.geometry.window_panes(k);
            if end > self.closed {
                return None;
            }
            // The first pane with items that is not queued yet. The hot pane is not complete
            // (`close` cools a complete one), so it lies past window k, but it bounds a skip.
            let next = self.open.first();
            let queued = self.last_queued.is_some_and(|pane| pane >= first);
            if !queued && next.is_none_or(|pane| pane >= end) {
                // Window k saw no item. Nor did the windows before the first one that holds a
                // pane with items; with no such pane, wait for items.
                let hot = self.hot.as_ref().map(|hot| hot.pane);
                let next = next.into_iter().chain(hot).min()?;
                let holder = self.geometry.first_window_of(next);
                let fill = self.emit_empty
                    && self
                        .last_emitted
                        .is_some_and(|last| holder - last - 1 <= u128::from(MAX_GAP_WINDOWS));
                if fill {
                    self.next_window = k + 1;
                    self.last_emitted = Some(k);
                    return Some((k, self.queue.identity().clone()));
                }
                // Skip the gap, but not past the first pane that is not complete: items may
                // still come to it. A gap skipped is not filled in part later.
                self.last_emitted = None;
                self.next_window = holder
                    .min(self.geometry.first_window_of(self.closed))
                    .max(k + 1);
                continue;
            }
            if self.queue.len() == 0 || self.queue_end <= first {
                // Nothing queued overlaps window k: start afresh at its first pane.
                self.queue.clear();
                self.queue_start = first;
                self.queue_end = first;
            }
            // Bring the queue to the panes of window k, one budgeted step per pane.
            while self.queue_start < first && *budget > 0 {
                *budget -= 1;
                self.queue.pop(combine);
                self.queue_start += 1;
            }
            let mut next = next;
            while self.queue_start == first && self.queue_end < end && *budget > 0 {
                *budget -= 1;
                let pane = if next == Some(self.queue_end) {
                    self.last_queued = next;
                    let pane = self
                        .open
                        .pop_first()
                        .expect("`next` is the first open pane")
                        .1;
                    next = self.open.first();
                    pane
                } else {
                    self.queue.identity().clone()
                };
                self.queue.push(pane, combine);
                self.queue_end += 1;
            }
            if self.queue_start < first || self.queue_end < end {
                return None; // out of budget
            }
            self.next_window = k + 1;
            self.last_emitted = Some(k);
            return Some((k, self.queue.query(combine)));
        }
        None
    }
}
