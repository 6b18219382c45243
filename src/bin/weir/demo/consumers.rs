//! The demo's consumers besides alerting: storage (batches, written several at once) and
//! analytics (windows, a moving average, anomalies).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use weir::StatsHandle;
use weir::event::{
    ProcessedEvent, Severity, WindowedStats, batch_events, create_tumbling_window,
    detect_anomalies, write_batch_to_storage,
};
use weir::prelude::*;
use weir::window::Aggregate;

use super::sources::total;
use crate::observe::{Observer, PUBLISH_EVERY, Point, Snapshot};

/// Over a run of windows: the latest one, and the mean value over all their events.
#[derive(Debug, Clone, Copy)]
struct Trailing;

impl Aggregate<WindowedStats> for Trailing {
    /// The latest window, the sum of the values, the number of events.
    type Acc = (Option<WindowedStats>, f64, usize);
    /// The latest window and the moving average.
    type Output = (Option<WindowedStats>, f64);

    fn init(&self) -> Self::Acc {
        (None, 0.0, 0)
    }

    fn add(&self, acc: &mut Self::Acc, w: &WindowedStats) {
        acc.0 = Some(w.clone());
        acc.1 += w.avg_value * w.event_count as f64;
        acc.2 += w.event_count;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        (b.0.clone().or_else(|| a.0.clone()), a.1 + b.1, a.2 + b.2)
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        let mean = if acc.2 == 0 {
            0.0
        } else {
            acc.1 / acc.2 as f64
        };
        (acc.0.clone(), mean)
    }
}

fn severity_line(w: &WindowedStats) -> String {
    let n = |s| w.severity_counts.get(&s).copied().unwrap_or(0);
    format!(
        "L/M/H/C {:>4}/{:>4}/{:>4}/{:>4}",
        n(Severity::Low),
        n(Severity::Medium),
        n(Severity::High),
        n(Severity::Critical)
    )
}

/// What the storage consumer did: events written, batches, the most writes in flight.
pub(super) type Stored = (usize, u64, usize);

/// The storage consumer: batches of 200 events (or what came in 100 ms), written by up to
/// `writers` writes at once.
pub(super) fn storage(
    events: impl Stream<Item = ProcessedEvent> + Send + 'static,
    writers: usize,
) -> JoinHandle<Stored> {
    tokio::spawn(async move {
        let mut written = 0;
        let mut writes = pin!(
            batch_events(events, 200, Duration::from_millis(100)).for_each_concurrent(
                writers,
                |batch| {
                    written += batch.events.len();
                    async move { write_batch_to_storage(&batch).await }
                }
            )
        );
        // The most writes seen in flight when the consumer waits.
        let mut peak = 0;
        std::future::poll_fn(|cx| {
            let poll = writes.as_mut().poll(cx);
            peak = peak.max(writes.in_flight());
            poll
        })
        .await;
        let batches = writes.started();
        (written, batches, peak)
    })
}

/// What the analytics consumer saw: anomaly alerts, and events per severity.
pub(super) struct Analysed {
    pub(super) alerts: usize,
    /// Windows closed.
    pub(super) windows: u64,
    pub(super) totals: [usize; 4],
}

/// The analytics consumer: 1 s tumbling windows, and over them a moving average of the last
/// three (a count window of 3, emitted at every window), a line per window, and an anomaly
/// check of each window against the first full one.
pub(super) async fn analytics(
    events: impl Stream<Item = ProcessedEvent> + Send + 'static,
    channels: &[StatsHandle],
    progress: &indicatif::ProgressBar,
    started: Instant,
    mut observer: Option<(&mut Observer, &dyn Fn(u64) -> Snapshot)>,
) -> Analysed {
    let windows = create_tumbling_window(events, 1_000).count_window(3, 1, Trailing);
    let mut windows = pin!(windows);
    let (mut baseline, mut alerts, mut totals) = (None::<WindowedStats>, 0, [0usize; 4]);
    let mut seen_windows = 0;
    let mut publishing = tokio::time::interval(PUBLISH_EVERY);
    loop {
        let next = tokio::select! {
            next = windows.next() => next,
            _ = publishing.tick(), if observer.is_some() => {
                if let Some((observer, counts)) = &mut observer {
                    observer.publish(counts(seen_windows));
                }
                continue;
            }
        };
        let Some(trailing) = next else {
            break;
        };
        let (Some(w), moving) = trailing.result else {
            continue;
        };
        if let Some((observer, _)) = &mut observer {
            observer.closed([Point {
                end: w.window_end,
                count: w.event_count as u64,
                mean: (w.event_count > 0).then_some(w.avg_value),
            }]);
        }
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            totals[i] += w.severity_counts.get(&s).copied().unwrap_or(0);
        }
        progress.suspend(|| {
            say!(
                "{:>6.2} s  window {:>5} events  mean {:>5.1}  3 s avg {:>5.1}  max {:>5.1}  {}  dropped {:>4.1}%",
                started.elapsed().as_secs_f64(),
                w.event_count,
                w.avg_value,
                moving,
                w.max_value,
                severity_line(&w),
                total(channels).drop_rate(),
            )
        });
        seen_windows += 1;
        match &baseline {
            // Windows are aligned to wall-clock seconds: the first one is partial, so the
            // second sets the baseline.
            None if seen_windows == 1 => {}
            None => baseline = Some(w),
            Some(base) => {
                if let Some(alert) = detect_anomalies(&w, base).await {
                    alerts += 1;
                    progress.suspend(|| {
                        say!("          ALERT {:?}: {}", alert.severity, alert.message)
                    });
                }
            }
        }
    }
    Analysed {
        alerts,
        windows: seen_windows,
        totals,
    }
}
