//! [`Settling`]: the ids of entries a consumer is done with while their acknowledgements
//! travel.

use std::collections::{HashSet, VecDeque};

use foldhash::fast::RandomState;

/// An entry id as numbers ([`id_key`](super::id_key)).
type Key = (u64, u64);

/// The ids of entries this consumer is done with whose acknowledgement may not be on the
/// server yet, or was applied after a pass over this consumer's pending entries (the one
/// after a failed read) was asked: such a pass delivers the entry again, and, known here,
/// it is skipped as a duplicate rather than taken in (or judged late, or filtered) twice.
/// A batch's ids are known until its commit is applied, or, acknowledged by the acker,
/// until the acker has the server's answer for them; an id acknowledged alone (late,
/// filtered out, dead-lettered), until the acker has its answer; and in either case until
/// no pass is on ([`Rereads`](weir::io::redis::Rereads)), so that a pass asked before the acknowledgement was applied
/// has handed out what it found.
#[derive(Default)]
pub(crate) struct Settling {
    ids: HashSet<Key, RandomState>,
    /// Batches let go of so far ([`batch`](Self::batch)): the next one's number.
    next: u64,
    /// Batches, oldest first: each with its number and, once its ids are queued on the
    /// acker, the place of the last of them there
    /// ([`Acker::ack`](weir::io::redis::Acker::ack)).
    batches: VecDeque<(u64, Option<u64>, Vec<Key>)>,
    /// Ids queued on the acker alone, with their places there.
    alone: VecDeque<(u64, Key)>,
}

impl Settling {
    /// Whether the id `key` (as [`id_key`](super::id_key) reads it) is known.
    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.ids.contains(key)
    }

    /// The ids of the next batch (numbered from 0, empty ones too), whose acknowledgement is
    /// on its way.
    pub(crate) fn batch(&mut self, keys: Vec<Key>) {
        let number = self.next;
        self.next += 1;
        if keys.is_empty() {
            return;
        }
        self.ids.extend(keys.iter().copied());
        self.batches.push_back((number, None, keys));
    }

    /// The ids of every batch so far are queued on the acker, up to place `place`.
    pub(crate) fn queued(&mut self, place: u64) {
        for (_, at, _) in &mut self.batches {
            at.get_or_insert(place);
        }
    }

    /// An id (as [`id_key`](super::id_key) reads it), queued alone on the acker at place
    /// `place`.
    pub(crate) fn alone(&mut self, key: Option<Key>, place: u64) {
        if let Some(key) = key {
            self.ids.insert(key);
            self.alone.push_back((place, key));
        }
    }

    /// Forgets the ids whose acknowledgement the server has answered: the batches whose
    /// commits are among the first `committed`, and what the acker has its answer for, its
    /// first `answered` places; none while a pass over the pending entries is on
    /// (`rereading`).
    pub(crate) fn settle(&mut self, committed: u64, answered: u64, rereading: bool) {
        if rereading {
            return;
        }
        while let Some((number, at, _)) = self.batches.front() {
            if *number >= committed && at.is_none_or(|at| at > answered) {
                break;
            }
            let (_, _, keys) = self.batches.pop_front().expect("looked at");
            for key in keys {
                self.ids.remove(&key);
            }
        }
        while let Some(&(at, key)) = self.alone.front() {
            if at > answered {
                break;
            }
            self.alone.pop_front();
            self.ids.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::id_key;

    #[test]
    fn an_id_is_known_until_the_server_has_its_acknowledgement_and_no_pass_is_on() {
        let mut settling = Settling::default();
        let known = |s: &Settling, id: &str| s.contains(&id_key(id).unwrap());
        // Batch 0's commit is on its way.
        settling.batch(vec![(1, 0), (2, 0)]);
        // Two ids acknowledged alone, at places 1 and 2 on the acker, which has answered 1.
        settling.alone(id_key("7-0"), 1);
        settling.alone(id_key("8-0"), 2);
        settling.settle(0, 1, false);
        assert!(known(&settling, "1-0") && !known(&settling, "7-0") && known(&settling, "8-0"));
        // Batch 1 is empty; batch 0's commit is applied, but a pass over the pending entries
        // asked before may have found its ids: known until the pass is over.
        settling.batch(Vec::new());
        settling.settle(1, 1, true);
        assert!(known(&settling, "1-0") && known(&settling, "2-0"));
        settling.settle(1, 1, false);
        assert!(!known(&settling, "1-0") && !known(&settling, "2-0") && known(&settling, "8-0"));
        // Acknowledged by the acker instead (windows to stdout): batch 2's ids are queued
        // up to place 5.
        settling.batch(vec![(3, 0)]);
        settling.queued(5);
        settling.settle(1, 4, false);
        assert!(known(&settling, "3-0") && !known(&settling, "8-0"));
        settling.settle(1, 5, false);
        assert!(!known(&settling, "3-0"));
        assert!(settling.ids.is_empty() && settling.batches.is_empty());
        assert!(settling.alone.is_empty());
    }
}
