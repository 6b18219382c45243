//! What flows through `weir run`: [`Reading`]s, and the [`Tally`] a source hands back of
//! the input that did not become readings.

use std::ops::{AddAssign, Deref, DerefMut};
use std::pin::Pin;

use tokio::sync::oneshot;
use weir::Stream;

/// One event as the run needs it: its time, its value and its source (the run's number for
/// its name, see `names.rs`; 0 for every event unless the run groups by source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub(crate) timestamp: u64,
    pub(crate) value: f64,
    pub(crate) source: u32,
}

/// A source's readings, as the pipeline takes them.
pub(crate) trait Readings: Stream<Item = Reading> + Unpin + 'static {}

impl<R: Stream<Item = Reading> + Unpin + 'static> Readings for R {}

/// Readings behind a box, where stages are chosen at run time (admission's shedding).
pub(crate) type BoxedReadings = Pin<Box<dyn Stream<Item = Reading>>>;

/// What a source counted of its input. Every unit read (a line of a file, an entry of a
/// stream) is one of: a reading handed on, malformed, blank, a duplicate, filtered out or
/// too far ahead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Lines or entries read (those still inside a stage when the run stopped are not).
    pub(crate) read: u64,
    pub(crate) malformed: u64,
    pub(crate) blank: u64,
    /// Entries delivered again while this consumer held them.
    pub(crate) duplicates: u64,
    /// Outside `--min-value` / `--max-value`.
    pub(crate) filtered: u64,
    /// Rejected by `--max-future`.
    pub(crate) ahead: u64,
}

impl Tally {
    /// Lines or entries that were events: everything read but the malformed, the blank and
    /// the duplicates.
    pub(crate) fn events(&self) -> u64 {
        self.read - self.malformed - self.blank - self.duplicates
    }
}

/// A value a stage keeps (what it counted) and hands back when it is dropped, on the
/// one-shot channel whose receiver [`new`](Self::new) returns: counts are returned to the
/// run, not written into its cells.
pub(crate) struct HandBack<T: Copy> {
    value: T,
    to: Option<oneshot::Sender<T>>,
}

impl<T: Copy> HandBack<T> {
    /// Starts at `value`; the receiver gets the value the stage holds when it is dropped.
    pub(crate) fn new(value: T) -> (Self, oneshot::Receiver<T>) {
        let (to, back) = oneshot::channel();
        (
            HandBack {
                value,
                to: Some(to),
            },
            back,
        )
    }
}

impl<T: Copy> Deref for HandBack<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Copy> DerefMut for HandBack<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Copy> Drop for HandBack<T> {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            let _ = to.send(self.value);
        }
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.read += other.read;
        self.malformed += other.malformed;
        self.blank += other.blank;
        self.duplicates += other.duplicates;
        self.filtered += other.filtered;
        self.ahead += other.ahead;
    }
}
