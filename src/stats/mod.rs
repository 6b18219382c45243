//! [`BackpressureStats`]: lock-free counters of what a dropping operator received, emitted and
//! dropped; [`ErrorStats`]: how many results a stage saw and how many were errors.

use std::fmt;

use crate::sync::{AtomicUsize, Ordering};

/// A shared handle to an operator's [`BackpressureStats`], as its `stats()` methods return.
pub type StatsHandle = crate::sync::Arc<BackpressureStats>;

/// Counters shared by a dropping operator (a ring buffer, a sampler) and whoever watches it.
///
/// Every operator that can drop items owns one behind an `Arc` and hands out clones through
/// its `stats()` method. The counters obey
///
/// ```text
/// received == processed + dropped + buffered
/// ```
///
/// where `processed` counts the items the operator emitted and `buffered` the items it holds
/// (0 for operators that hold none). Nothing is dropped without being counted.
///
/// An operator adds to its counters once per poll, not once per item, so the identity holds
/// exactly whenever the operator is not in the middle of a poll; a reader on another thread
/// may see one counter a poll ahead of another. The `increment_*` and `record_*` methods are
/// for counters you own (a stage of your own): an operator is the only writer of its
/// counters, and adds to them without a read-modify-write, so a count you add to them
/// yourself may be lost.
///
/// The shape is the course project's (`weir::event` follows it): public atomic fields, one
/// `increment_*` per counter and `usize` totals. Its `Display` is the report
/// `Received: R, Processed: P, Dropped: D (X.X% drop rate)` (the course project's
/// `get_report()`, which [`weir::event`](crate::event) provides).
///
/// ```
/// use weir::BackpressureStats;
///
/// let stats = BackpressureStats::new();
/// stats.record_received(10);
/// stats.record_processed(7);
/// stats.record_dropped(2);
/// stats.increment_dropped();
/// assert_eq!(stats.to_string(), "Received: 10, Processed: 7, Dropped: 3 (30.0% drop rate)");
/// ```
#[derive(Default)]
pub struct BackpressureStats {
    /// Items taken from the upstream.
    pub received: AtomicUsize,
    /// Items dropped (evicted, rejected or not sampled).
    pub dropped: AtomicUsize,
    /// Items emitted downstream.
    pub processed: AtomicUsize,
}

impl BackpressureStats {
    /// All counters at zero.
    pub fn new() -> Self {
        BackpressureStats {
            received: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            processed: AtomicUsize::new(0),
        }
    }

    /// Items taken from the upstream.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }

    /// Items emitted downstream.
    pub fn processed(&self) -> usize {
        self.processed.load(Ordering::Relaxed)
    }

    /// Items dropped (evicted, rejected or not sampled).
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Adds one to `received`.
    pub fn increment_received(&self) {
        self.record_received(1);
    }

    /// Adds one to `dropped`.
    pub fn increment_dropped(&self) {
        self.record_dropped(1);
    }

    /// Adds one to `processed`.
    pub fn increment_processed(&self) {
        self.record_processed(1);
    }

    /// Adds `n` to `received`.
    pub fn record_received(&self, n: usize) {
        if n > 0 {
            self.received.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds `n` to `processed`.
    pub fn record_processed(&self, n: usize) {
        if n > 0 {
            self.processed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds `n` to `dropped`.
    pub fn record_dropped(&self, n: usize) {
        if n > 0 {
            self.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The share of received items that were dropped, in percent; 0.0 when nothing was
    /// received.
    pub fn drop_rate(&self) -> f64 {
        let received = self.received();
        if received == 0 {
            0.0
        } else {
            self.dropped() as f64 * 100.0 / received as f64
        }
    }
}

impl fmt::Display for BackpressureStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Received: {}, Processed: {}, Dropped: {} ({:.1}% drop rate)",
            self.received(),
            self.processed(),
            self.dropped(),
            self.drop_rate()
        )
    }
}

impl fmt::Debug for BackpressureStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackpressureStats")
            .field("received", &self.received())
            .field("processed", &self.processed())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// How many results a stage saw and how many were errors: the course project's
/// `ErrorStats`, with its `record` and `error_rate`.
///
/// Share it behind an `Arc` between the stage that records (by hand, in an
/// [`inspect`](crate::StreamOps::inspect), or through
/// [`skip_errors`](crate::TryStreamOps::skip_errors), which records every result it skips or
/// passes) and whoever reports. The two counters are updated with relaxed atomics, one after
/// the other: a reader on another thread may see `total` one result ahead of `errors`, never
/// behind it.
///
/// ```
/// use weir::ErrorStats;
///
/// let stats = ErrorStats::new();
/// for result in [Ok(1), Err("bad"), Ok(3), Ok(4)] {
///     stats.record(&result);
/// }
/// assert_eq!((stats.total(), stats.errors()), (4, 1));
/// assert_eq!(stats.error_rate(), 25.0);
/// ```
#[derive(Default)]
pub struct ErrorStats {
    total: AtomicUsize,
    errors: AtomicUsize,
}

impl ErrorStats {
    /// Both counters at zero.
    pub fn new() -> Self {
        ErrorStats::default()
    }

    /// New counters behind an `Arc`, to share between the stage that records and whoever
    /// reports (what [`skip_errors`](crate::TryStreamOps::skip_errors) takes).
    pub fn shared() -> crate::sync::Arc<ErrorStats> {
        crate::sync::Arc::new(ErrorStats::new())
    }

    /// Counts `result`, and counts it as an error if it is one.
    pub fn record<T, E>(&self, result: &Result<T, E>) {
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Results recorded.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Errors recorded.
    pub fn errors(&self) -> usize {
        self.errors.load(Ordering::Relaxed)
    }

    /// The share of recorded results that were errors, in percent; 0.0 when nothing was
    /// recorded.
    pub fn error_rate(&self) -> f64 {
        let (total, errors) = (self.total(), self.errors());
        if total == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / total as f64
        }
    }
}

impl fmt::Debug for ErrorStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorStats")
            .field("total", &self.total())
            .field("errors", &self.errors())
            .finish()
    }
}

/// The shared [`BackpressureStats`] of the one operator that writes them.
///
/// The operator counts a poll's items in a local [`Tally`] (plain integers, which stay in
/// registers through its loop) and [`add`](Self::add)s it at the end of the poll. Being the
/// counters' only writer, it adds with a relaxed load and a relaxed store, not a
/// read-modify-write: on the common processors, one plain instruction per counter, with no
/// lock, no fence and no check of who is watching.
pub(crate) struct Counters {
    stats: StatsHandle,
}

/// Received, processed and dropped in one poll: see [`Counters`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) received: usize,
    pub(crate) processed: usize,
    pub(crate) dropped: usize,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            stats: crate::sync::Arc::new(BackpressureStats::new()),
        }
    }

    /// A handle to the counters.
    pub(crate) fn handle(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Adds one poll's counts.
    #[inline(always)]
    pub(crate) fn add(&self, tally: Tally) {
        let stats = &*self.stats;
        for (counter, n) in [
            (&stats.received, tally.received),
            (&stats.processed, tally.processed),
            (&stats.dropped, tally.dropped),
        ] {
            add_as_sole_writer(counter, n);
        }
    }
}

/// Adds `n` to `counter` with a relaxed load and a relaxed store, not a read-modify-write: on
/// the common processors, one plain addition to memory.
///
/// Only for a caller that no other write to `counter` can race with: its only writer, or a
/// writer holding the lock that every other writer holds too. A reader sees the old total or
/// the new one.
#[inline(always)]
pub(crate) fn add_as_sole_writer(counter: &AtomicUsize, n: usize) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.stats, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::unit;

    #[test]
    fn report_format_and_rounding() {
        unit(report_format_and_rounding_body);
    }

    fn report_format_and_rounding_body() {
        let stats = BackpressureStats::new();
        assert_eq!(
            stats.to_string(),
            "Received: 0, Processed: 0, Dropped: 0 (0.0% drop rate)"
        );
        stats.record_received(3);
        stats.record_dropped(1);
        stats.record_processed(2);
        assert_eq!(
            stats.to_string(),
            "Received: 3, Processed: 2, Dropped: 1 (33.3% drop rate)"
        );
        assert!((stats.drop_rate() - 33.333).abs() < 0.01);
    }

    #[test]
    fn counters_add_up_the_polls_and_every_handle_reads_them() {
        unit(counters_add_up_body);
    }

    fn counters_add_up_body() {
        let counters = Counters::new();
        let early = counters.handle();
        counters.add(Tally {
            received: 6,
            processed: 2,
            dropped: 4,
        });
        let late = counters.handle();
        counters.add(Tally {
            received: 1,
            processed: 0,
            dropped: 1,
        });
        for stats in [&early, &late] {
            assert_eq!(
                (stats.received(), stats.processed(), stats.dropped()),
                (7, 2, 5)
            );
        }
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom;
