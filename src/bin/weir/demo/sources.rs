//! The demo's simulated sources, sending on a thread of their own.

use crate::until_signal::Stop;
use std::time::Duration;

use weir::event::{Event, EventStream, EventType};
use weir::prelude::*;

use weir::{BackpressureStats, StatsHandle};

/// A simulated source: its name and its value for the `i`-th event in the given third of the
/// run (0, 1 or 2).
type Source = (String, fn(usize, usize) -> f64);

/// How sensor `k` behaves: one of three shapes, the third going hot for the last third of
/// the run (the anomaly detector notices).
const SENSOR_SHAPES: [fn(usize, usize) -> f64; 3] = [
    |i, _| (i as f64 * 3.7) % 100.0,
    |i, _| 40.0 + (i as f64 * 0.37).sin() * 30.0,
    |i, phase| if phase == 2 { 99.0 } else { (i % 60) as f64 },
];

/// What the sources send: `rate` events per second each for `duration`, into channels of
/// `capacity` that drop by `overflow` when full.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) overflow: Overflow,
    pub(super) capacity: usize,
    pub(super) duration: Duration,
    pub(super) rate: u64,
}

/// Runs the simulated sources on a thread of their own, so that the slow consumer cannot
/// slow them down. Each sends `rate` events per second into a ring channel that drops
/// (oldest or newest) when full: a source never waits, and every drop is counted. They stop
/// at `duration` whatever the rate (an event rate they cannot keep shows as fewer events
/// sent, which the channels' `received` counts), or as soon as `stop` says so. Returns the
/// receivers and the channels' counters.
pub(super) fn start_sources(
    sources: Vec<Source>,
    plan: &Plan,
    stop: Stop,
) -> (Vec<EventStream<Event>>, Vec<StatsHandle>) {
    let Plan {
        overflow,
        capacity,
        duration,
        rate,
    } = *plan;
    let (mut streams, mut stats, mut senders) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in sources {
        let (tx, rx) = ring_channel(capacity, overflow);
        stats.push(rx.stats());
        senders.push((name, value, tx));
        streams.push(Box::pin(rx) as EventStream<Event>);
    }
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("building the sources' runtime");
        rt.block_on(async move {
            let start = tokio::time::Instant::now();
            let end = start.checked_add(duration);
            let planned = planned_events(duration, rate);
            let tasks: Vec<_> = senders
                .into_iter()
                .map(|(name, value, tx)| {
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_millis(1));
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                        let mut i = 0u64;
                        loop {
                            let now = tick.tick().await;
                            if *stop.borrow() != 0 || end.is_some_and(|e| now >= e) {
                                return;
                            }
                            // Catch up to where the rate says this source should be at the end
                            // of this millisecond.
                            let elapsed = now - start + Duration::from_millis(1);
                            let due = planned_events(elapsed, rate).min(planned);
                            while i < due {
                                let phase = usize::try_from(i * 3 / planned.max(1)).unwrap_or(2);
                                let n = usize::try_from(i).unwrap_or(usize::MAX);
                                let event = Event::new(
                                    i,
                                    name.clone(),
                                    value(n, phase),
                                    EventType::ALL[n % 4],
                                );
                                if tx.try_send(event).is_err() {
                                    return; // the receiver is gone
                                }
                                i += 1;
                                // A rate beyond what a source can send: stop on time all the same.
                                let late = || end.is_some_and(|e| tokio::time::Instant::now() >= e);
                                if i % 1024 == 0 && (*stop.borrow() != 0 || late()) {
                                    return;
                                }
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });
    });
    (streams, stats)
}

/// Events one source sends in `elapsed` at `rate` per second.
pub(super) fn planned_events(elapsed: Duration, rate: u64) -> u64 {
    let events = elapsed.as_millis().saturating_mul(u128::from(rate)) / 1_000;
    u64::try_from(events).unwrap_or(u64::MAX)
}

/// The simulated sources: the sensors, a log source that also goes hot late in the run, and
/// a steady metrics feed.
pub(super) fn sources(sensors: u8) -> Vec<Source> {
    let mut sources: Vec<Source> = (0..usize::from(sensors))
        .map(|k| (format!("sensor-{k}"), SENSOR_SHAPES[k % 3]))
        .collect();
    sources.push(("app-log".to_owned(), |i, phase| {
        if phase == 2 {
            95.0
        } else {
            ((i * 17) % 50) as f64
        }
    }));
    sources.push(("cpu-metrics".to_owned(), |i, _| 20.0 + (i % 70) as f64));
    sources
}

/// The sources' channels' counters, added up.
pub(super) fn total(stats: &[StatsHandle]) -> BackpressureStats {
    let sum = BackpressureStats::new();
    for s in stats {
        sum.record_received(s.received());
        sum.record_processed(s.processed());
        sum.record_dropped(s.dropped());
    }
    sum
}
