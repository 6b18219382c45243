//! Merges: one stream from many.
//!
//! - [`merge`] and [`merge_tagged`]: any number of sources, fair round robin, O(1) work per
//!   wake-up, sources added while the merge runs ([`MergeHandle`], [`MergeTaggedHandle`]). The
//!   rounds are in `tagged.rs` (the sources' wakers report to the crate's wake queue), the
//!   handles in `handle.rs`, the loom models in `loom.rs`.
//! - [`StreamOps::merge`](crate::StreamOps::merge): two streams of different types, no
//!   allocation ([`MergeTwo`], in `two.rs`).
//! - [`merge_event_time`]: a k-way merge by event time, for windows downstream
//!   ([`EventTimeMerge`], in `event_time.rs`).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

mod event_time;
mod handle;
#[cfg(all(test, feature = "loom"))]
mod loom;
mod tagged;
mod two;

pub use event_time::{EventTimeMerge, merge_event_time};
use handle::untagged;
pub use handle::{MergeHandle, MergeTaggedHandle};
pub use tagged::{EndedSources, MergeTagged};
pub use two::MergeTwo;

/// Merges `streams` into one stream of their items.
///
/// See [`MergeTagged`] for the scheduling policy (fair round robin, O(1) per wake-up) and for
/// adding sources while the merge runs. Sources must be `Unpin`: pin one that is not with
/// `Box::pin`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let merged = weir::merge::merge([weir::iter(vec![1, 2, 3]), weir::iter(vec![10, 20])]);
/// assert_eq!(merged.collect::<Vec<_>>().await, [1, 10, 2, 20, 3]);
/// # }
/// ```
pub fn merge<I>(streams: I) -> Merge<I::Item>
where
    I: IntoIterator,
    I::Item: Stream + Unpin,
{
    Merge {
        inner: merge_tagged(streams.into_iter().map(|s| ((), s))),
    }
}

/// Merges keyed streams into one stream of `(key, item)`: each item comes with the key of the
/// stream it came from.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let merged = weir::merge::merge_tagged([("a", weir::iter(vec![1, 2])), ("b", weir::iter(vec![7]))]);
/// assert_eq!(merged.collect::<Vec<_>>().await, [("a", 1), ("b", 7), ("a", 2)]);
/// # }
/// ```
pub fn merge_tagged<K, St, I>(sources: I) -> MergeTagged<K, St>
where
    I: IntoIterator<Item = (K, St)>,
    K: Clone,
    St: Stream + Unpin,
{
    let mut merge = MergeTagged::new();
    for (key, stream) in sources {
        merge.push(key, stream);
    }
    merge
}

/// Stream for [`merge`]: a [`MergeTagged`] without the keys. (The two-way
/// [`StreamOps::merge`](crate::StreamOps::merge) returns a [`MergeTwo`].)
#[must_use = "streams do nothing unless polled"]
pub struct Merge<St> {
    inner: MergeTagged<(), St>,
}

impl<St> fmt::Debug for Merge<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merge")
            .field("live", &self.inner.live)
            .field("done", &self.inner.done)
            .finish()
    }
}

impl<St: Stream + Unpin> Merge<St> {
    /// Adds a source.
    pub fn push(&mut self, stream: St) {
        self.inner.push((), stream);
    }

    /// A handle that adds sources while the merge runs. See [`MergeTagged::handle`].
    pub fn handle(&self) -> MergeHandle<St> {
        MergeHandle {
            inner: self.inner.handle(),
        }
    }

    /// How many items each source that has not ended has yielded, in the order added.
    pub fn source_counts(&self) -> Vec<u64> {
        untagged(self.inner.source_counts())
    }

    /// How many sources have not ended yet.
    pub fn live_sources(&self) -> usize {
        self.inner.live_sources()
    }

    /// How many sources have ended, and the items they yielded in all.
    pub fn ended_sources(&self) -> EndedSources {
        self.inner.ended_sources()
    }
}

impl<St: Stream + Unpin> FusedStream for Merge<St> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<St: Stream + Unpin> Stream for Merge<St> {
    type Item = St::Item;

    #[inline(always)]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|next| next.map(|(_, item)| item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
