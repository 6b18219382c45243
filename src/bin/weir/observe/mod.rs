//! Watching a running command: `--metrics ADDR` serves, on a thread of its own, Prometheus'
//! text exposition at `GET /metrics` (`exposition.rs`) and a live page at `GET /` fed by
//! Server-Sent Events at `GET /events` (`server.rs`, `page.html`).
//!
//! The command's task publishes a [`Snapshot`] of its counts through an [`Observer`] a few
//! times a second, and once more at the end: the same counts, read from the same cells, as
//! the summary line prints. The server only reads the latest snapshot, so a scrape or a slow
//! client never reaches into the pipeline, and what it holds does not grow with them.
//!
//! ```text
//!   pipeline task ──Snapshot──▶ watch channel ──▶ server thread: /metrics, /events, /
//! ```

mod exposition;
mod server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

pub(crate) use server::Server;

/// How often the pipeline publishes a snapshot while it runs.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Windows the page keeps (the most recent).
const POINTS: usize = 300;

/// A closed window as the page draws it: its end (ms), events, mean value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Point {
    pub(crate) end: u64,
    pub(crate) count: u64,
    /// `None` for a window without a number (only NaN values).
    pub(crate) mean: Option<f64>,
}

/// One input's progress in event time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct InputTime {
    pub(crate) name: String,
    /// The largest event time (ms) the input handed on, less the allowed lateness: Flink's
    /// bounded-out-of-orderness watermark of the input. `None` before its first event.
    pub(crate) watermark: Option<u64>,
}

/// A Redis consumer's entries: acknowledged, dead-lettered, and pending (read and held
/// until their windows are written); and the commands it sent again after a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct RedisCounts {
    pub(crate) acknowledged: u64,
    pub(crate) dead_lettered: u64,
    pub(crate) pending: u64,
    /// Reads, acknowledgements (with dead-letter writes) and writes to a stream, tried again
    /// after a failure.
    pub(crate) read_retries: u64,
    pub(crate) ack_retries: u64,
    pub(crate) write_retries: u64,
}

/// What a command has done so far: what the metrics and the page show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Snapshot {
    /// `run` or `demo`.
    pub(crate) command: &'static str,
    /// What is read: `lines` or `entries` (`run`), `events` (`demo`).
    pub(crate) unit: &'static str,
    pub(crate) read: u64,
    /// Units read that were neither events nor malformed, by kind (`blank`, `duplicate`).
    pub(crate) not_events: Vec<(&'static str, u64)>,
    /// Events by what became of them (`processed`, `late`, `dropped`...).
    pub(crate) outcomes: Vec<(&'static str, u64)>,
    /// Dropped events by the policy that dropped them (`sample`, `drop_oldest`...).
    pub(crate) dropped_by: Vec<(&'static str, u64)>,
    /// Windows emitted (one per window, and per source with `--by source`).
    pub(crate) windows: u64,
    pub(crate) inputs: Vec<InputTime>,
    /// The windows' watermark (ms): at most the smallest of the inputs'.
    pub(crate) watermark: Option<u64>,
    /// Events held in the buffer, and its capacity (`--buffer`, the demo's channels).
    pub(crate) buffer: Option<(u64, u64)>,
    pub(crate) redis: Option<RedisCounts>,
    /// The most recent windows, oldest first.
    pub(crate) points: Vec<Point>,
    /// Wall-clock time of the snapshot, and when the command started, ms since the Unix
    /// epoch.
    pub(crate) at: u64,
    pub(crate) started: u64,
    /// The command has ended: these are its final counts.
    pub(crate) ended: bool,
}

/// The pipeline's side: publishes snapshots, keeps the recent windows, and times the sink's
/// writes.
pub(crate) struct Observer {
    tx: watch::Sender<Snapshot>,
    points: VecDeque<Point>,
    last: Option<Instant>,
    /// When the command started, ms since the Unix epoch.
    started: u64,
    /// Seconds per write of the output.
    pub(crate) writes: Histogram,
}

impl Observer {
    /// Whether a snapshot is due (none published for [`PUBLISH_EVERY`]).
    pub(crate) fn due(&self) -> bool {
        self.last.is_none_or(|at| at.elapsed() >= PUBLISH_EVERY)
    }

    /// Windows closed: consecutive windows with the same end (one per source) make one point.
    pub(crate) fn closed(&mut self, windows: impl IntoIterator<Item = Point>) {
        for p in windows {
            match self.points.back_mut() {
                Some(last) if last.end == p.end => {
                    let count = last.count + p.count;
                    last.mean = match (last.mean, p.mean) {
                        (Some(a), Some(b)) if count > 0 => {
                            Some((a * last.count as f64 + b * p.count as f64) / count as f64)
                        }
                        (a, b) => a.or(b),
                    };
                    last.count = count;
                }
                _ => {
                    if self.points.len() == POINTS {
                        self.points.pop_front();
                    }
                    self.points.push_back(p);
                }
            }
        }
    }

    /// Publishes `snapshot`, with the recent windows and the time.
    pub(crate) fn publish(&mut self, mut snapshot: Snapshot) {
        snapshot.points = self.points.iter().copied().collect();
        snapshot.at = weir::event::now_ms();
        snapshot.started = self.started;
        self.tx.send_replace(snapshot);
        self.last = Some(Instant::now());
    }

    /// Publishes the final counts, then serves them `linger` at most, until a scrape of
    /// `/metrics` has read them.
    pub(crate) async fn finish(mut self, mut snapshot: Snapshot, server: Server, linger: Duration) {
        snapshot.ended = true;
        self.publish(snapshot);
        server.scraped_within(linger).await;
    }
}

/// `--metrics` and `--metrics-linger`, for every command that runs a pipeline.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at /metrics and a live page at / on this address (default
    /// when given without one: 127.0.0.1:9898; a bare port is on 127.0.0.1; port 0 picks a
    /// free one). The address served is reported on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_ADDR,
          value_parser = parse_addr, help_heading = "Metrics")]
    pub metrics: Option<SocketAddr>,
    /// After the end, serve the final counts this long at most, until a scrape of /metrics
    /// has read them (so that Prometheus sees the end of a short run).
    #[arg(long, value_name = "DURATION", default_value = "0s", requires = "metrics",
          value_parser = crate::common::parse_duration, help_heading = "Metrics")]
    pub metrics_linger: Duration,
}

/// Where `--metrics` serves when given without an address.
const DEFAULT_ADDR: &str = "127.0.0.1:9898";

/// `HOST:PORT`, or a port on the loopback address.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse()
        .map_err(|_| format!("expected HOST:PORT (127.0.0.1:9898) or a port, got {text:?}"))
}

/// `--metrics`: the server, what feeds it, and how long it serves the final counts.
pub(crate) struct Watching {
    pub(crate) server: Server,
    pub(crate) observer: Observer,
    pub(crate) linger: Duration,
}

impl MetricsArgs {
    /// Starts the server asked for, reporting its address, if any; or why it cannot listen.
    pub(crate) fn start(&self, command: &'static str) -> Result<Option<Watching>, String> {
        let Some(addr) = self.metrics else {
            return Ok(None);
        };
        let (server, observer) = serve(addr, command)?;
        report!(
            "weir {command}: metrics at http://{0}/metrics, live page at http://{0}/",
            server.addr()
        );
        Ok(Some(Watching {
            server,
            observer,
            linger: self.metrics_linger,
        }))
    }
}

/// Starts serving on `addr` for `command`: the server, and the observer that feeds it. Or why the address
/// cannot be listened on.
pub(crate) fn serve(addr: SocketAddr, command: &'static str) -> Result<(Server, Observer), String> {
    let (tx, rx) = watch::channel(Snapshot {
        command,
        ..Snapshot::default()
    });
    let writes = Histogram::new(exponential_buckets());
    let server = Server::start(addr, rx, writes.clone())?;
    let observer = Observer {
        tx,
        points: VecDeque::with_capacity(POINTS),
        last: None,
        started: weir::event::now_ms(),
        writes,
    };
    Ok((server, observer))
}

/// Buckets of the write-time histogram: 100 µs to about 6.5 s, each 4 times the last.
fn exponential_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_1, 4.0, 9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_with_the_same_end_make_one_point() {
        let (_server, mut observer) = serve("127.0.0.1:0".parse().unwrap(), "run").unwrap();
        let p = |end, count, mean| Point { end, count, mean };
        observer.closed([p(1_000, 1, Some(2.0)), p(1_000, 3, Some(6.0))]);
        observer.closed([p(1_000, 0, None), p(2_000, 2, None), p(2_000, 2, Some(1.0))]);
        let points: Vec<_> = observer.points.iter().copied().collect();
        assert_eq!(points, [p(1_000, 4, Some(5.0)), p(2_000, 4, Some(1.0))]);
        // The page keeps the most recent POINTS windows.
        observer.closed((0..POINTS as u64 + 5).map(|i| p(10_000 + i, 1, Some(1.0))));
        assert_eq!(observer.points.len(), POINTS);
        assert_eq!(observer.points.front().unwrap().end, 10_005);
    }
}
