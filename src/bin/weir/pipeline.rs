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
//! [`run`] drives it: it takes the windows ready in batches, hands each batch to the sink,
//! then tells the source which windows are written (so that it can acknowledge what they
//! held). Counts are handed back, not shared: the source's [`Tally`] when its readings are
//! dropped, the drops by the handles of the shedding stages, the readings that reached the
//! windows by [`Counting`](crate::windows::Counting), late and outside by the windows. The
//! summary line is built here, once.

use std::future::poll_fn;
use std::pin::pin;
use std::process::ExitCode;

use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior, interval};

use crate::admission::{Admission, Buffer};
use crate::common::{failure, pull, write_failure};
use crate::reading::{Reading, Readings, Tally};
use crate::sink::{Batch, Sink};
use crate::source::{Finished, Origin, Source};
use crate::until_signal::Stop;
use crate::windows::Windows;

/// Where each reading that reached the windows ended up.
struct Fates {
    /// Readings that reached the windows.
    windowed: u64,
    late: u64,
    /// In no window (the gaps of sampling windows).
    outside: u64,
    /// Dropped by the sampler and the buffer.
    dropped: u64,
}

/// Runs the pipeline to its end: the command's exit status.
pub(crate) async fn run(
    source: Source<impl Readings>,
    admission: &Admission,
    windows: Windows,
    mut sink: Sink,
    stop: Stop,
) -> ExitCode {
    let Source {
        readings,
        names,
        mut control,
    } = source;
    let (readings, mut dropped) = admission.shed.apply(Box::pin(readings));
    // With --buffer, the input goes into a ring that the windows empty, each half at its own
    // pace (`pump` runs alongside the loop below, in the same task).
    let (readings, pump, writing) = match admission.shed.buffer {
        Some(capacity) => {
            let (buffer, readings, stats, writing) = Buffer::new(readings, capacity);
            dropped.push(stats);
            (readings, Some(buffer.pump()), Some(writing))
        }
        None => (readings, None, None),
    };
    let (late_tx, mut late_rx) = mpsc::unbounded_channel::<Reading>();
    let mut windows = Box::pin(windows.open(readings, sink.takes_late().then_some(late_tx)));
    let mut heartbeat = sink.heartbeat().map(|every| {
        let mut tick = interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick
    });
    let (mut batch, mut late) = (Vec::new(), Vec::new());
    let windowing = async {
        loop {
            let ended = tokio::select! {
                biased;
                ended = poll_fn(|cx| pull(windows.as_mut(), &mut batch, cx)) => ended,
                () = tick(&mut heartbeat) => false,
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
            let written = sink.write(Batch {
                windows: &batch,
                late: &late,
                names: &names,
                settled,
                holding: !ended && control.holding(settled),
                ended,
            });
            if let Some(writing) = &writing {
                writing.start();
            }
            let written = written.await;
            if let Some(writing) = &writing {
                writing.end();
            }
            if let Err(e) = written {
                return Err(write_failure("run", &e));
            }
            batch.clear();
            late.clear();
            control.release((!ended).then(|| windows.settled_before()));
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
    let fates = Fates {
        windowed: windows.windowed(),
        late: windows.late(),
        outside: windows.outside(),
        dropped: dropped.iter().map(|s| s.dropped()).sum::<usize>() as u64,
    };
    // The readings dropped: the source's stages hand back what they counted.
    drop(windows);
    let finished = match control.finish().await {
        Ok(finished) => finished,
        Err(e) => return failure("run", e),
    };
    report!("{}", summary(&finished, &fates, sink.written()));
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
fn summary(finished: &Finished, fates: &Fates, written: Option<(u64, &str)>) -> String {
    let t: &Tally = &finished.tally;
    let events = t.events();
    let head = match &finished.origin {
        Origin::Lines => format!(
            "{} lines read ({events} events, {} malformed, {} blank)",
            t.read, t.malformed, t.blank
        ),
        #[cfg(feature = "redis")]
        Origin::Entries { from, consumer, .. } => format!(
            "{} entries read from {from} as {consumer} ({events} events, {} malformed, {} \
             duplicates skipped)",
            t.read, t.malformed, t.duplicates
        ),
    };
    let Fates {
        windowed,
        late,
        outside,
        dropped,
    } = fates;
    let mut line = format!(
        "summary: {head}; {} processed, {late} late, {dropped} dropped, {} filtered, {} too far \
         ahead, {outside} outside every window",
        windowed - late - outside,
        t.filtered,
        t.ahead,
    );
    #[cfg(feature = "redis")]
    if let Origin::Entries {
        acknowledged,
        dead_lettered,
        ..
    } = &finished.origin
    {
        line += &format!("; {acknowledged} acknowledged, {dead_lettered} dead-lettered");
    }
    if let Some((n, to)) = written {
        line += &format!("; {n} entries written to {to}");
    }
    line
}
