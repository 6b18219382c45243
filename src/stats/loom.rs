//! Loom model of an operator's counters read from another thread. It states its invariant.

use crate::StreamOps;
use crate::loom_helpers::drain;
use crate::sync::{model, thread};

/// Invariant: counters are only added to. A reader on another thread, while a sampler
/// runs, never sees a counter go back; once the sampler has ended, every handle reads
/// exactly what it took, kept and dropped (conservation: received = processed + dropped).
#[test]
fn a_reader_on_another_thread_sees_the_counters_only_grow() {
    model(|| {
        let mut sampled = crate::sources::iter(0..2u8).sample_every(2);
        let stats = sampled.stats();
        let reader = {
            let stats = stats.clone();
            thread::spawn(move || {
                let read = || [stats.received(), stats.processed(), stats.dropped()];
                let (first, second) = (read(), read());
                assert!(first.iter().zip(&second).all(|(a, b)| a <= b));
            })
        };
        assert_eq!(drain(&mut sampled), [0]);
        reader.join().unwrap();
        assert_eq!(
            (stats.received(), stats.processed(), stats.dropped()),
            (2, 1, 1)
        );
    });
}
