//! The windows of `weir run`: the library's event-time windows over the admitted readings,
//! the statistics of a whole window ([`Severities`]) or, with `--by source`, of each source
//! in it (the library's keyed windows); and a [`Counting`] stage in front of them that hands
//! back how many readings reached them.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use foldhash::fast::RandomState;
use tokio::sync::mpsc::UnboundedSender;
use weir::event::{SeverityAcc, StatsBySeverity, calculate_severity, normalize_value};
use weir::prelude::*;
use weir::window::{Aggregate, EventTimeWindow, KeyedWindow, Underway, Window};

use crate::reading::{BoxedReadings, Reading};

/// What `weir run` computes per window (and source): value moments and counts by severity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Severities;

/// The severity of a reading, as `weir::event::process_event` grades an event.
fn severity(value: f64) -> usize {
    calculate_severity(normalize_value(value, 0.0, 100.0)) as usize
}

impl Aggregate<Reading> for Severities {
    type Acc = SeverityAcc;
    type Output = SeverityAcc;

    fn init(&self) -> Self::Acc {
        StatsBySeverity.init()
    }

    #[inline]
    fn add(&self, (moments, by): &mut Self::Acc, r: &Reading) {
        moments.add(r.value);
        by[severity(r.value)] += 1;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        StatsBySeverity.combine(a, b)
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        *acc
    }
}

/// A closed window's statistics, of one source with `--by source`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Closed {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// The source's number, with `--by source`.
    pub(crate) source: Option<u32>,
    pub(crate) acc: SeverityAcc,
}

impl Closed {
    fn new(source: Option<u32>, w: Window<SeverityAcc>) -> Self {
        Closed {
            start: w.start,
            end: w.end,
            source,
            acc: w.result,
        }
    }
}

/// The windows' geometry and event-time rules, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    pub(crate) size: u64,
    pub(crate) slide: u64,
    /// Allowed out-of-orderness.
    pub(crate) lateness: u64,
    /// Event time advances with the clock after this long without a reading (for a source
    /// that does not handle idleness itself).
    pub(crate) idle: Option<Duration>,
    /// One row per source in each window.
    pub(crate) by_source: bool,
}

type Timestamp = fn(&Reading) -> u64;
type Source = fn(&Reading) -> u32;

/// The open windows of a run: of all readings, or by source.
// One per run, pinned once: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Open {
    Whole(EventTimeWindow<Counting<BoxedReadings>, Severities, Timestamp>),
    BySource(KeyedWindow<Counting<BoxedReadings>, u32, Source, Severities, Timestamp, RandomState>),
}

/// The same read of either kind of window.
macro_rules! both {
    ($open:expr, |$w:ident| $body:expr) => {
        match $open {
            Open::Whole($w) => $body,
            Open::BySource($w) => $body,
        }
    };
}

impl Windows {
    /// The windows over `readings`, handing late readings to `late` when given; with an idle
    /// timeout, time during which the source holds `underway` up is no quiet.
    pub(crate) fn open(
        self,
        readings: BoxedReadings,
        late: Option<UnboundedSender<Reading>>,
        underway: Option<Underway>,
    ) -> Open {
        let counted = Counting {
            stream: readings,
            count: 0,
        };
        let timestamp: Timestamp = |r| r.timestamp;
        // The event-time settings, the same for either kind of window.
        macro_rules! configured {
            ($windows:expr) => {{
                let mut w = $windows.out_of_orderness(self.lateness);
                if let Some(idle) = self.idle {
                    w = w.idle_timeout(idle);
                }
                if let Some(underway) = underway {
                    w = w.underway(underway);
                }
                if let Some(late) = late {
                    w = w.on_late(move |r| {
                        let _ = late.send(r);
                    });
                }
                w
            }};
        }
        if self.by_source {
            let source: Source = |r| r.source;
            let keyed = counted.key_by(source).with_hasher(RandomState::default());
            Open::BySource(configured!(
                keyed.sliding_window(self.size, self.slide, timestamp, Severities)
            ))
        } else {
            Open::Whole(configured!(
                counted.sliding_window(self.size, self.slide, timestamp, Severities)
            ))
        }
    }
}

impl Open {
    /// Every window ending before this (ms) is settled; see the library's `settled_before`.
    pub(crate) fn settled_before(&self) -> u64 {
        both!(self, |w| w.settled_before())
    }

    pub(crate) fn late(&self) -> u64 {
        both!(self, |w| w.late())
    }

    /// The windows' watermark (ms); see the library's `watermark`.
    pub(crate) fn watermark(&self) -> Option<u64> {
        both!(self, |w| w.watermark())
    }

    /// Readings in no window (the gaps of sampling windows).
    pub(crate) fn outside(&self) -> u64 {
        both!(self, |w| w.unassigned())
    }

    /// Readings that reached the windows.
    pub(crate) fn windowed(&self) -> u64 {
        both!(self, |w| w.get_ref().count())
    }
}

impl Stream for Open {
    type Item = Closed;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Closed>> {
        match self.get_mut() {
            Open::Whole(w) => Pin::new(w)
                .poll_next(cx)
                .map(|w| w.map(|w| Closed::new(None, w))),
            Open::BySource(w) => Pin::new(w)
                .poll_next(cx)
                .map(|kw| kw.map(|(source, w)| Closed::new(Some(source), w))),
        }
    }
}

/// Hands on its stream's items, counting them: what reached the windows.
pub(crate) struct Counting<St> {
    stream: St,
    count: u64,
}

impl<St> Counting<St> {
    /// Items handed on so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

impl<St: Stream + Unpin> Stream for Counting<St> {
    type Item = St::Item;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let poll = Pin::new(&mut self.stream).poll_next(cx);
        if let Poll::Ready(Some(_)) = poll {
            self.count += 1;
        }
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
