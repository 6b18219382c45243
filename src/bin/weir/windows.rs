//! The windows of `weir run`: the library's event-time windows over the admitted readings,
//! computing per window the statistics of each source's readings ([`BySource`]), and a
//! [`Counting`] stage in front of them that hands back how many readings reached them.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use weir::event::{SeverityAcc, StatsBySeverity, calculate_severity, normalize_value};
use weir::prelude::*;
use weir::window::{Aggregate, EventTimeWindow, Window};

use crate::reading::{BoxedReadings, Reading};

/// What `weir run` computes per window: the statistics of each source's readings, by source
/// number (everything under number 0 when the run does not group by source).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BySource;

/// A closed window of [`BySource`].
pub(crate) type Closed = Window<Vec<SeverityAcc>>;

/// The severity of a reading, as `weir::event::process_event` grades an event.
fn severity(value: f64) -> usize {
    calculate_severity(normalize_value(value, 0.0, 100.0)) as usize
}

impl Aggregate<Reading> for BySource {
    type Acc = Vec<SeverityAcc>;
    type Output = Vec<SeverityAcc>;

    fn init(&self) -> Self::Acc {
        Vec::new()
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, r: &Reading) {
        let i = r.source as usize;
        if i >= acc.len() {
            acc.resize(i + 1, StatsBySeverity.init());
        }
        let (moments, by) = &mut acc[i];
        moments.add(r.value);
        by[severity(r.value)] += 1;
    }

    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
        let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        let mut sum = long.clone();
        for (s, t) in sum.iter_mut().zip(short) {
            *s = StatsBySeverity.combine(s, t);
        }
        sum
    }

    fn result(&self, acc: &Self::Acc) -> Self::Output {
        acc.clone()
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
}

impl Windows {
    /// The windows over `readings`, handing late readings to `late` when given.
    pub(crate) fn open(
        self,
        readings: BoxedReadings,
        late: Option<UnboundedSender<Reading>>,
    ) -> EventTimeWindow<Counting<BoxedReadings>, BySource, impl FnMut(&Reading) -> u64> {
        let counted = Counting {
            stream: readings,
            count: 0,
        };
        let mut windows = counted
            .sliding_window(self.size, self.slide, |r: &Reading| r.timestamp, BySource)
            .out_of_orderness(self.lateness);
        if let Some(idle) = self.idle {
            windows = windows.idle_timeout(idle);
        }
        if let Some(late) = late {
            windows = windows.on_late(move |r| {
                let _ = late.send(r);
            });
        }
        windows
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
