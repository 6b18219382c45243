//! What flows through `weir run`: [`Reading`]s, and the [`Tally`] a source keeps of its
//! input ([`Counted`]).

use std::cell::Cell;
use std::ops::AddAssign;
use std::pin::Pin;
use std::rc::Rc;

use weir::Stream;

/// One event as the run needs it: its time, its value and its source (the run's number for
/// its name, see `names.rs`; 0 for every event unless the run groups by source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub(crate) timestamp: u64,
    pub(crate) value: f64,
    pub(crate) source: u32,
}

/// The input entries a batch is the last word on, acknowledged with it or after it: with
/// Redis, their ids and the group's count of claims their reads saw.
#[cfg(feature = "redis")]
pub(crate) use weir::io::redis::Acks as Done;

/// The input entries a batch is the last word on: none for files.
#[cfg(not(feature = "redis"))]
#[derive(Debug, Default)]
pub(crate) struct Done;

#[cfg(not(feature = "redis"))]
impl Done {
    pub(crate) fn new() -> Done {
        Done
    }
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
    /// Entries another consumer (or this one before a restart) held, written into the
    /// windows its commits had not covered yet, outside this consumer's windows.
    pub(crate) replayed: u64,
    /// Late in stream order, before the windows (a Redis stream read by several consumers).
    pub(crate) late: u64,
}

/// What a source counted of its input, and the largest event time it read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) tally: Tally,
    /// The largest event time read (`None` before the first reading).
    pub(crate) latest: Option<u64>,
}

impl Tally {
    /// Lines or entries that were events: everything read but the malformed, the blank and
    /// the duplicates.
    pub(crate) fn events(&self) -> u64 {
        self.read - self.malformed - self.blank - self.duplicates
    }
}

/// What a stage counts, kept by the stage in a cell that the run reads through a [`Reader`]:
/// while the stage works (the metrics) and once it is dropped (the summary). One count, read
/// twice; only the stage writes it.
pub(crate) struct Counted<T: Copy>(Rc<Cell<T>>);

/// The run's view of a [`Counted`] value.
pub(crate) struct Reader<T: Copy>(Rc<Cell<T>>);

impl<T: Copy> Counted<T> {
    /// Starts at `value`; the reader sees every update.
    pub(crate) fn new(value: T) -> (Self, Reader<T>) {
        let cell = Rc::new(Cell::new(value));
        (Counted(cell.clone()), Reader(cell))
    }

    /// Another reader of the value.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn reader(&self) -> Reader<T> {
        Reader(self.0.clone())
    }

    /// Changes the value.
    #[inline]
    pub(crate) fn update(&self, change: impl FnOnce(&mut T)) {
        let mut value = self.0.get();
        change(&mut value);
        self.0.set(value);
    }
}

impl<T: Copy> Reader<T> {
    /// The value as the stage left it last.
    pub(crate) fn get(&self) -> T {
        self.0.get()
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
        self.replayed += other.replayed;
        self.late += other.late;
    }
}
