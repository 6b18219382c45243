//! `GET /metrics`: the latest [`Snapshot`] in Prometheus' text exposition format, written by
//! prometheus-client. Every name starts with `weir_`; counters end in `_total`, durations and
//! times are in seconds, as Prometheus' naming rules ask. docs/OBSERVABILITY.md lists them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use super::{InputTime, Snapshot};

/// The registry of a command's metrics: the snapshot's counts, and the histogram of the
/// sink's write times.
pub(super) fn registry(snapshots: watch::Receiver<Snapshot>, writes: Histogram) -> Registry {
    let mut registry = Registry::default();
    registry.register_with_unit(
        "weir_sink_write",
        "Time to write a batch of windows to the output",
        Unit::Seconds,
        writes,
    );
    registry.register_collector(Box::new(Counts { snapshots }));
    registry
}

/// Encodes the latest snapshot at each scrape.
#[derive(Debug)]
struct Counts {
    snapshots: watch::Receiver<Snapshot>,
}

/// A counter with one label: a sample per `(label value, count)`.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    (label, values): (&str, &[(&str, u64)]),
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for &(value, n) in values {
        ConstCounter::new(n).encode(metric.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

/// A gauge in seconds with an `input` label: `seconds(watermark)` for each input that has a
/// watermark.
fn per_input(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    inputs: &[InputTime],
    seconds: impl Fn(f64) -> f64,
) -> Result<(), std::fmt::Error> {
    let mut metric =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Gauge)?;
    for input in inputs {
        if let Some(w) = input.watermark {
            let labels = [("input", input.name.as_str())];
            ConstGauge::new(seconds(w as f64 / 1_000.0)).encode(metric.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// A gauge without labels.
fn gauge<N: prometheus_client::encoding::EncodeGaugeValue + Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    let metric = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

/// A counter without labels.
fn total(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

impl Collector for Counts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.snapshots.borrow().clone();
        let e = &mut encoder;
        let read = match s.unit {
            "entries" => "weir_entries_read",
            "events" => "weir_events_received",
            _ => "weir_lines_read",
        };
        total(
            e,
            read,
            "Units of input read (lines, stream entries or events)",
            s.read,
        )?;
        counter(
            e,
            "weir_events",
            "Events by what became of them; malformed counts the units that were not events",
            ("outcome", &s.outcomes),
        )?;
        if !s.not_events.is_empty() {
            counter(
                e,
                "weir_not_events",
                "Units read that were not events, by kind",
                ("kind", &s.not_events),
            )?;
        }
        counter(
            e,
            "weir_dropped",
            "Events dropped, by the policy that dropped them",
            ("policy", &s.dropped_by),
        )?;
        total(e, "weir_windows_emitted", "Windows emitted", s.windows)?;
        let now = s.at as f64 / 1_000.0;
        if !s.inputs.is_empty() {
            per_input(
                e,
                "weir_input_watermark",
                "Each input's watermark: its latest event time less the allowed lateness",
                &s.inputs,
                |w| w,
            )?;
            per_input(
                e,
                "weir_input_lag",
                "How far each input's watermark is behind the wall clock",
                &s.inputs,
                |w| now - w,
            )?;
        }
        if let Some(w) = s.watermark {
            let w = w as f64 / 1_000.0;
            gauge(
                e,
                "weir_windows_watermark",
                "The windows' watermark: event time up to which windows are emitted",
                Some(&Unit::Seconds),
                w,
            )?;
            gauge(
                e,
                "weir_windows_lag",
                "How far the windows' watermark is behind the wall clock",
                Some(&Unit::Seconds),
                now - w,
            )?;
        }
        if let Some((held, capacity)) = s.buffer {
            gauge(
                e,
                "weir_buffer_events",
                "Events held in the buffer",
                None,
                held,
            )?;
            gauge(
                e,
                "weir_buffer_capacity_events",
                "Events the buffer holds at most",
                None,
                capacity,
            )?;
        }
        if let Some(r) = s.redis {
            gauge(
                e,
                "weir_redis_pending_entries",
                "Entries read and not acknowledged yet (held until their windows are written)",
                None,
                r.pending,
            )?;
            total(
                e,
                "weir_redis_acknowledged",
                "Entries acknowledged",
                r.acknowledged,
            )?;
            counter(
                e,
                "weir_redis_retries",
                "Redis commands sent again after a failure: reads, acknowledgements with their \
                 dead-letter writes, and writes of windows to a stream",
                (
                    "op",
                    &[
                        ("read", r.read_retries),
                        ("acknowledge", r.ack_retries),
                        ("write", r.write_retries),
                    ],
                ),
            )?;
            total(
                e,
                "weir_redis_dead_lettered",
                "Entries dead-lettered (malformed or rejected)",
                r.dead_lettered,
            )?;
        }
        gauge(
            e,
            "weir_ended",
            "1 once the command has ended and these are its final counts",
            None,
            u64::from(s.ended),
        )
    }
}
