//! [`MergeTaggedHandle`] and [`MergeHandle`]: add sources to a running merge from anywhere.

use std::fmt;

use super::tagged::{EndedSources, Shared, counts, ended};
use crate::sync::{Arc, Ordering};

/// Adds keyed sources to a running [`MergeTagged`](super::MergeTagged) from anywhere, and reads its per-source
/// counters. Cloning it adds a handle; the merge does not end while any is alive. The handle
/// of an untagged [`Merge`](super::Merge) is [`MergeHandle`].
pub struct MergeTaggedHandle<K, St> {
    pub(super) shared: Arc<Shared<K, St>>,
}

impl<K: Clone, St> MergeTaggedHandle<K, St> {
    /// Adds a source; the merge admits it when its current round ends (this wakes the merge's
    /// task).
    pub fn push(&self, key: K, stream: St) {
        {
            let mut incoming = self.shared.incoming.lock();
            incoming.push((key, stream));
            self.shared.has_incoming.store(true, Ordering::Release);
        }
        self.shared.wakes.notify();
    }

    /// How many items each source that has not ended has yielded, in the order the sources
    /// were added. Exact for sources that have paused since their last item; the merge
    /// publishes the counts of the sources in its round every 1 024 rounds, so an always-ready
    /// source's count may trail by up to 1 024 items. A source that ends leaves this list; its
    /// count goes to [`ended_sources`](Self::ended_sources).
    pub fn source_counts(&self) -> Vec<(K, u64)> {
        counts(&self.shared)
    }

    /// How many sources have ended, and the items they yielded in all. Exact.
    pub fn ended_sources(&self) -> EndedSources {
        ended(&self.shared)
    }
}

impl<K, St> Clone for MergeTaggedHandle<K, St> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        MergeTaggedHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<K, St> Drop for MergeTaggedHandle<K, St> {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The merge may be waiting only for handles to go: let it look again.
            self.shared.wakes.parent.wake();
        }
    }
}

impl<K, St> fmt::Debug for MergeTaggedHandle<K, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeTaggedHandle").finish_non_exhaustive()
    }
}

/// Adds sources to a running [`Merge`](super::Merge) from anywhere, and reads its per-source counters: a
/// [`MergeTaggedHandle`] without the keys. Cloning it adds a handle; the merge does not end
/// while any is alive.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let mut merged = weir::merge::merge([weir::iter(vec![1, 2])]);
/// let handle = merged.handle();
/// handle.push(weir::iter(vec![10])); // the stream alone
/// drop(handle);
/// assert_eq!((&mut merged).collect::<Vec<_>>().await, [1, 10, 2]);
/// let ended = merged.ended_sources();
/// assert_eq!((ended.sources, ended.items), (2, 3));
/// # }
/// ```
pub struct MergeHandle<St> {
    pub(super) inner: MergeTaggedHandle<(), St>,
}

impl<St> Clone for MergeHandle<St> {
    fn clone(&self) -> Self {
        MergeHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<St> MergeHandle<St> {
    /// Adds a source; the merge admits it when its current round ends.
    pub fn push(&self, stream: St) {
        self.inner.push((), stream);
    }

    /// How many items each source that has not ended has yielded, in the order added; see
    /// [`MergeTaggedHandle::source_counts`].
    pub fn source_counts(&self) -> Vec<u64> {
        untagged(self.inner.source_counts())
    }

    /// How many sources have ended, and the items they yielded in all.
    pub fn ended_sources(&self) -> EndedSources {
        self.inner.ended_sources()
    }
}

impl<St> fmt::Debug for MergeHandle<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeHandle").finish_non_exhaustive()
    }
}

/// Per-source counts without the unit keys.
pub(super) fn untagged(counts: Vec<((), u64)>) -> Vec<u64> {
    counts.into_iter().map(|(_, n)| n).collect()
}
