//! Loom model of an operator's counters read from another thread. It states its invariant.

use super::{Counters, Tally};
use crate::sync::{model, thread};

/// Invariant: counters are only added to. A reader on another thread, while an operator adds
/// two polls' counts, never sees a counter go back; once the operator is done, every handle
/// reads exactly what was taken, kept and dropped (conservation: received = processed +
/// dropped).
#[test]
fn a_reader_on_another_thread_sees_the_counters_only_grow() {
    model(|| {
        let counters = Counters::new();
        let stats = counters.handle();
        let reader = {
            let stats = stats.clone();
            thread::spawn(move || {
                let read = || [stats.received(), stats.processed(), stats.dropped()];
                let (first, second) = (read(), read());
                assert!(first.iter().zip(&second).all(|(a, b)| a <= b));
            })
        };
        // A poll that kept its item, then one that dropped its item.
        counters.add(Tally {
            received: 1,
            processed: 1,
            dropped: 0,
        });
        counters.add(Tally {
            received: 1,
            processed: 0,
            dropped: 1,
        });
        reader.join().unwrap();
        assert_eq!(
            (stats.received(), stats.processed(), stats.dropped()),
            (2, 1, 1)
        );
    });
}

/// Invariant: no count is lost. Two threads record on one `BackpressureStats` at once (the
/// counters a user shares between tasks): every addition is in the totals.
#[test]
fn counts_recorded_from_two_threads_all_count() {
    model(|| {
        let stats = crate::sync::Arc::new(super::BackpressureStats::new());
        let other = {
            let stats = stats.clone();
            thread::spawn(move || {
                stats.record_received(2);
                stats.record_dropped(1);
            })
        };
        stats.record_received(1);
        stats.record_dropped(3);
        stats.record_processed(1);
        other.join().unwrap();
        assert_eq!(
            (stats.received(), stats.dropped(), stats.processed()),
            (3, 4, 1)
        );
    });
}
