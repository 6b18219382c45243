//! `weir run` as one pipeline: **source** -> **admission** -> **windows** -> **sink**.
//!
//! ```text
//!   Source (files/ or redis.rs)      readings, judged by admission's Rules where parsed; each
//!                                    input ends on SIGINT / SIGTERM (UntilSignal), so that
//!                                    what the event-time merge holds is flushed, not lost
//!     -> Shed (admission.rs)         --sample, --buffer
//!     -> Counting -> windows         the library's event-time windows (windows.rs)
//!     -> Sink (sink/)                JSON lines, or partials for `weir combine`
//! ```
//!
//! [`run`] drives it: it takes the windows ready in batches and hands each batch to the sink
//! with the source's entries it is the last word on ([`Control::done`](crate::source::Control::done)):
//! a sink that commits them acknowledges them in the same transaction as the batch (partials),
//! otherwise they are acknowledged once the batch is written. Each stage keeps its own counts and the run only reads them: the source's
//! [`Tally`] (through [`Control::progress`](crate::source::Control::progress)), the drops by
//! the handles of the shedding stages, the readings that reached the windows by
//! [`Counting`](crate::windows::Counting), late and outside by the windows. They are read
//! into one [`Counts`]: a few times a second for `--metrics`, once at the end for the summary
//! line and the final metrics.

use std::future::poll_fn;
use std::pin::pin;
use std::process::ExitCode;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior, interval};
use weir::StatsHandle;

use crate::admission::{Admission, Buffer};
use crate::common::{MAX_BATCH, failure, pull, write_failure};
use crate::observe::{self, InputTime, Point, RedisCounts, Snapshot, Watching};
use crate::reading::{Reading, Readings, Tally};
use crate::sink::{Batch, Sink};
use crate::source::{Origin, Source};
use crate::until_signal::Stop;
use crate::windows::{Closed, Open, Windows};

/// Every count of a run, each read from the stage that keeps it: what the summary prints
/// and the metrics show.
struct Counts {
    /// The source's: every unit read.
    tally: Tally,
    /// The windows': readings that reached them, late there, and in no window (the gaps of
    /// sampling windows).
    windowed: u64,
    windows_late: u64,
    outside: u64,
    watermark: Option<u64>,
    /// The shedding stages': dropped, by policy.
    dropped_by: Vec<(&'static str, u64)>,
    /// The pipeline's: windows handed to the sink.
    emitted: u64,
    /// The buffer's: events held, and its capacity.
    buffer: Option<(u64, u64)>,
    redis: Option<RedisCounts>,
}

impl Counts {
    /// The counts the windows, the shedding stages, the buffer and the pipeline keep, with
    /// the source's `tally` and `redis` counts.
    fn read(
        windows: &Open,
        dropped: &[(&'static str, StatsHandle)],
        buffered: Option<&(StatsHandle, usize)>,
        emitted: u64,
        (tally, redis): (Tally, Option<RedisCounts>),
    ) -> Counts {
        Counts {
            tally,
            windowed: windows.windowed(),
            windows_late: windows.late(),
            outside: windows.outside(),
            watermark: windows.watermark(),
            dropped_by: dropped
                .iter()
                .map(|(policy, h)| (*policy, h.dropped() as u64))
                .collect(),
            emitted,
            buffer: buffered.map(|(stats, capacity)| {
                let held = stats.received() - stats.processed() - stats.dropped();
                (held as u64, *capacity as u64)
            }),
            redis,
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped_by.iter().map(|(_, n)| n).sum()
    }

    /// Events counted in windows: those that reached this process's windows in time, and
    /// those replayed into the windows another process had not committed.
    fn processed(&self) -> u64 {
        self.windowed - self.windows_late - self.outside + self.tally.replayed
    }

    /// Late events: those the windows found late, and those the source found late in
    /// stream order before they reached them.
    fn late(&self) -> u64 {
        self.windows_late + self.tally.late
    }

    /// The counts as the metrics show them; each input's watermark is its latest event time
    /// less `lateness`.
    fn snapshot(
        &self,
        origin: &Origin,
        inputs: Vec<(String, Option<u64>)>,
        lateness: u64,
    ) -> Snapshot {
        let t = &self.tally;
        let lines = matches!(origin, Origin::Lines);
        let not_events = if lines {
            vec![("blank", t.blank)]
        } else {
            vec![("duplicate", t.duplicates)]
        };
        Snapshot {
            command: "run",
            unit: if lines { "lines" } else { "entries" },
            read: t.read,
            outcomes: vec![
                ("processed", self.processed()),
                ("late", self.late()),
                ("dropped", self.dropped()),
                ("filtered", t.filtered),
                ("too_far_ahead", t.ahead),
                ("outside_windows", self.outside),
                ("malformed", t.malformed),
            ],
            not_events,
            dropped_by: self.dropped_by.clone(),
            windows: self.emitted,
            inputs: inputs
                .into_iter()
                .map(|(name, latest)| InputTime {
                    name,
                    watermark: latest.map(|l| l.saturating_sub(lateness)),
                })
                .collect(),
            redis: self.redis,
            buffer: self.buffer,
            watermark: self.watermark,
            ..Snapshot::default()
        }
    }
}

/// A Redis source's counts, with the sink's write retries and the entries its commits
/// acknowledged.
fn with_writes(counts: RedisCounts, sink: &Sink) -> RedisCounts {
    RedisCounts {
        acknowledged: counts.acknowledged + sink.acknowledged(),
        write_retries: sink.retried(),
        ..counts
    }
}

/// The windows of `rows` as the page draws them.
fn points(rows: &[Closed]) -> impl Iterator<Item = Point> + '_ {
    rows.iter().map(|c| Point {
        end: c.end,
        count: c.acc.1.iter().sum::<usize>() as u64,
        mean: c.acc.0.mean(),
    })
}

/// Runs the pipeline to its end: the command's exit status.
pub(crate) async fn run(
    source: Source<impl Readings>,
    admission: &Admission,
    windows: Windows,
    mut sink: Sink,
    stop: Stop,
    mut watching: Option<Watching>,
) -> ExitCode {
    let Source {
        readings,
        names,
        mut control,
    } = source;
    let lateness = windows.lateness;
    let (readings, mut dropped) = admission.shed.apply(Box::pin(readings));
    // With --buffer, the input goes into a ring that the windows empty, each half at its own
    // pace (`pump` runs alongside the loop below, in the same task).
    let (readings, pump, writing, buffered) = match admission.shed.buffer {
        Some(capacity) => {
            let (buffer, readings, stats, writing) = Buffer::new(readings, capacity);
            dropped.push(("drop_oldest", stats.clone()));
            (
                readings,
                Some(buffer.pump()),
                Some(writing),
                Some((stats, capacity)),
            )
        }
        None => (readings, None, None, None),
    };
    let (late_tx, mut late_rx) = mpsc::unbounded_channel::<Reading>();
    let late_tx = sink.takes_late().then_some(late_tx);
    let mut windows = Box::pin(windows.open(readings, late_tx, control.underway()));
    let mut heartbeat = every(sink.heartbeat());
    let mut publishing = every(watching.as_ref().map(|_| observe::PUBLISH_EVERY));
    let (mut batch, mut late) = (Vec::new(), Vec::new());
    let mut emitted = 0u64;
    let windowing = async {
        loop {
            let ended = tokio::select! {
                biased;
                ended = poll_fn(|cx| match pull(windows.as_mut(), &mut batch, cx) {
                    // Late readings for the sink: handed on in batches too, not left to
                    // pile up while no window closes.
                    Poll::Pending if late_rx.len() >= MAX_BATCH => Poll::Ready(false),
                    poll => poll,
                }) => ended,
                () = tick(&mut heartbeat) => false,
                () = tick(&mut publishing) => false,
            };
            if let Some(e) = control.gave_up() {
                return Err(failure("run", e));
            }
            while let Ok(r) = late_rx.try_recv() {
                late.push(r);
            }
            let settled = if ended {
                u64::MAX
            } else {
                windows.settled_before()
            };
            // The entries this batch is the last word on: acknowledged with it or after it.
            let replayed = control.replayed();
            // Readings keep their order through the shedding stages: the first `handled`
            // the source handed on have reached the windows or been dropped.
            let shed: u64 = dropped.iter().map(|(_, h)| h.dropped() as u64).sum();
            let handled = windows.windowed() + shed;
            let mut done = control.done((!ended).then_some(settled), handled);
            let claims = control.claims();
            let written = sink.write(Batch {
                windows: &batch,
                late: &late,
                replayed: &replayed,
                names: &names,
                settled,
                holding: !ended && control.holding(settled),
                ended,
                done: &mut done,
                claims,
            });
            if let Some(writing) = &writing {
                writing.start();
            }
            let started = watching.is_some().then(Instant::now);
            let written = written.await;
            if let Some(writing) = &writing {
                writing.end();
            }
            if let Err(e) = written {
                return Err(write_failure("run", &e));
            }
            if sink.commits() {
                control.committed(sink.applied());
            } else {
                control.acknowledge(done);
            }
            emitted += batch.len() as u64;
            if let Some(w) = &mut watching {
                if let (Some(started), false) = (started, batch.is_empty()) {
                    w.observer.writes.observe(started.elapsed().as_secs_f64());
                    w.observer.closed(points(&batch));
                }
                if w.observer.due() {
                    let progress = control.progress();
                    let redis = progress.redis.map(|r| with_writes(r, &sink));
                    let source = (progress.tally, redis);
                    let counts =
                        Counts::read(&windows, &dropped, buffered.as_ref(), emitted, source);
                    let snapshot = counts.snapshot(&progress.origin, progress.inputs, lateness);
                    w.observer.publish(snapshot);
                }
            }
            batch.clear();
            late.clear();
            if ended {
                break;
            }
        }
        Ok(())
    };
    let outcome = match pump {
        None => windowing.await,
        Some(pump) => {
            let mut windowing = pin!(windowing);
            tokio::select! {
                outcome = &mut windowing => outcome,
                () = pump => windowing.await,
            }
        }
    };
    if let Err(status) = outcome {
        return status;
    }
    // The source's part comes once its readings are dropped, with the windows.
    let mut counts = Counts::read(
        &windows,
        &dropped,
        buffered.as_ref(),
        emitted,
        (Tally::default(), None),
    );
    drop(windows);
    let inputs = control.progress().inputs;
    let finished = match control.finish().await {
        Ok(finished) => finished,
        Err(e) => return failure("run", e),
    };
    counts.tally = finished.tally;
    counts.redis = finished.redis.map(|r| with_writes(r, &sink));
    report!("{}", summary(&counts, &finished.origin, sink.written()));
    if let Some(w) = watching {
        let snapshot = counts.snapshot(&finished.origin, inputs, lateness);
        w.observer.finish(snapshot, w.server, w.linger).await;
    }
    if !finished.read {
        return ExitCode::FAILURE;
    }
    let status = *stop.borrow();
    if status != 0 {
        return ExitCode::from(status);
    }
    let t = &finished.tally;
    if t.events() == 0 && t.malformed > 0 {
        // Not one event: most likely not the input meant, or not in the format weir reads.
        return failure(
            "run",
            format_args!(
                "no line of the input was an event ({} malformed)",
                t.malformed
            ),
        );
    }
    ExitCode::SUCCESS
}

/// A ticker every `period`, if any.
fn every(period: Option<Duration>) -> Option<Interval> {
    period.map(|every| {
        let mut tick = interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick
    })
}

/// The next tick of the sink's heartbeat; never, for a sink without one.
async fn tick(heartbeat: &mut Option<Interval>) {
    match heartbeat {
        Some(heartbeat) => {
            heartbeat.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The summary line: every unit read, and what became of each event.
fn summary(counts: &Counts, origin: &Origin, written: Option<(u64, &str)>) -> String {
    let t: &Tally = &counts.tally;
    let events = t.events();
    let head = match origin {
        Origin::Lines => format!(
            "{} lines read ({events} events, {} malformed, {} blank)",
            t.read, t.malformed, t.blank
        ),
        #[cfg(feature = "redis")]
        Origin::Entries { from, consumer } => format!(
            "{} entries read from {from} as {consumer} ({events} events, {} malformed, {} \
             duplicates skipped, {} replayed)",
            t.read, t.malformed, t.duplicates, t.replayed
        ),
    };
    let mut line = format!(
        "summary: {head}; {} processed, {} late, {} dropped, {} filtered, {} too far ahead, {} \
         outside every window",
        counts.processed(),
        counts.late(),
        counts.dropped(),
        t.filtered,
        t.ahead,
        counts.outside,
    );
    if let Some(r) = &counts.redis {
        line += &format!(
            "; {} acknowledged, {} dead-lettered",
            r.acknowledged, r.dead_lettered
        );
    }
    if let Some((n, to)) = written {
        line += &format!("; {n} entries written to {to}");
    }
    line
}
