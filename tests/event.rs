//! The event domain: sources, processing, batches, window statistics, alerts, backpressure,
//! and the merge-process-fan-out pipeline end to end.

use std::collections::HashMap;
use std::time::Duration;

use weir::event::*;
use weir::prelude::*;

fn event_at(id: u64, ts: u64, value: f64) -> Event {
    Event {
        id,
        timestamp: ts,
        source: format!("sensor-{}", id % 5),
        value,
        event_type: EventType::Metric,
    }
}

#[tokio::test]
async fn generated_events_follow_the_pattern() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(generate_events(tx, 6, 0));
    let events: Vec<Event> = create_event_stream(rx).collect().await;
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
    assert_eq!(events[5].source, "sensor-0");
    assert_eq!(events[3].event_type, EventType::Error);
    assert_eq!(events[4].event_type, EventType::Metric);
    assert!((events[2].value - 7.4).abs() < 1e-9);
    assert!(events.iter().all(|e| e.timestamp > 1_600_000_000_000));
}

#[tokio::test]
async fn generation_stops_when_the_receiver_is_gone() {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    drop(rx);
    // Would run for a very long time if it did not stop.
    tokio::time::timeout(Duration::from_secs(5), generate_events(tx, usize::MAX, 0))
        .await
        .expect("generate_events must stop once the receiver is gone");
}

#[tokio::test]
async fn processing_grades_and_filters() {
    let events = [10.0, 45.0, 75.0, 95.0].into_iter().enumerate();
    let processed: Vec<ProcessedEvent> =
        process_stream(weir::iter(events.map(|(i, v)| event_at(i as u64, 0, v))))
            .collect()
            .await;
    let grades: Vec<Severity> = processed.iter().map(|p| p.severity).collect();
    use Severity::*;
    assert_eq!(grades, [Low, Medium, High, Critical]);
    let high: Vec<f64> = filter_high_severity(weir::iter(processed))
        .map(|p| p.original.value)
        .collect()
        .await;
    assert_eq!(high, [75.0, 95.0]);
}

#[tokio::test]
async fn batches_are_numbered_per_stream() {
    let processed = (0..25).map(|i| process_event(event_at(i, 0, (i * 4) as f64)));
    let batches: Vec<EventBatch> = batch_events(weir::iter(processed), 10, Duration::from_secs(1))
        .collect()
        .await;
    let shape: Vec<(u64, usize)> = batches
        .iter()
        .map(|b| (b.batch_id, b.events.len()))
        .collect();
    assert_eq!(shape, [(0, 10), (1, 10), (2, 5)]);
    let counts = process_batch(&batches[0]);
    assert_eq!(counts[&Severity::Low], 8); // values 0..36: below 30
    assert_eq!(counts[&Severity::Medium], 2);
    assert_eq!(write_batch_to_storage(&batches[2]).await, 5);
}

#[test]
fn window_stats_handle_empty_and_negative_windows() {
    let empty = calculate_window_stats(&[], 1_000, 500);
    assert_eq!(
        (empty.event_count, empty.avg_value, empty.max_value),
        (0, 0.0, 0.0)
    );
    assert_eq!(empty.window_end, 1_500);
    let negative: Vec<ProcessedEvent> = [-5.0, -2.0, -9.0]
        .into_iter()
        .map(|v| process_event(event_at(0, 0, v)))
        .collect();
    let stats = calculate_window_stats(&negative, 0, 1_000);
    assert_eq!(stats.max_value, -2.0);
    assert!((stats.avg_value + 16.0 / 3.0).abs() < 1e-9);
    assert_eq!(stats.severity_counts[&Severity::Low], 3);
}

#[tokio::test]
async fn tumbling_window_stats_over_event_time() {
    let events = [(0, 10.0), (400, 95.0), (1_200, 50.0), (2_900, 70.0)];
    let processed = events
        .iter()
        .enumerate()
        .map(|(i, (ts, v))| process_event(event_at(i as u64, *ts, *v)));
    let windows: Vec<WindowedStats> =
        create_tumbling_window(weir::iter(processed.collect::<Vec<_>>()), 1_000)
            .collect()
            .await;
    let shape: Vec<(u64, usize, f64)> = windows
        .iter()
        .map(|w| (w.window_start, w.event_count, w.max_value))
        .collect();
    assert_eq!(shape, [(0, 2, 95.0), (1_000, 1, 50.0), (2_000, 1, 70.0)]);
    assert_eq!(windows[0].avg_value, 52.5);
    assert_eq!(
        windows[0].severity_counts,
        HashMap::from([(Severity::Low, 1), (Severity::Critical, 1)])
    );
}

fn stats(count: usize, avg: f64) -> WindowedStats {
    WindowedStats {
        window_start: 0,
        window_end: 1_000,
        event_count: count,
        avg_value: avg,
        max_value: avg,
        severity_counts: HashMap::new(),
    }
}

#[tokio::test]
async fn anomalies_spike_value_and_normal() {
    let baseline = stats(100, 40.0);
    let spike = detect_anomalies(&stats(250, 40.0), &baseline)
        .await
        .unwrap();
    assert_eq!(spike.message, "Event spike: 250 vs 100 normal");
    assert_eq!(spike.severity, Severity::Critical);
    let value = detect_anomalies(&stats(100, 70.0), &baseline)
        .await
        .unwrap();
    assert_eq!(value.message, "Value anomaly: 70.0 vs 40.0 normal");
    assert_eq!(value.severity, Severity::High);
    assert_eq!(detect_anomalies(&stats(200, 60.0), &baseline).await, None);
}

#[tokio::test]
async fn backpressure_strategies_count_their_drops() {
    let config = |strategy| BackpressureConfig {
        strategy,
        buffer_size: 5,
        sample_rate: 0.0,
    };
    let (s, stats) =
        apply_backpressure(weir::iter(0..10), config(BackpressureStrategy::DropOldest));
    assert_eq!(s.collect::<Vec<_>>().await, [5, 6, 7, 8, 9]);
    assert_eq!(stats.dropped(), 5);
    let (s, stats) =
        apply_backpressure(weir::iter(0..10), config(BackpressureStrategy::DropNewest));
    assert_eq!(s.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    assert_eq!(stats.dropped(), 5);
    let (s, stats) = apply_backpressure(weir::iter(0..10), config(BackpressureStrategy::Sample));
    assert_eq!(s.count().await, 0);
    assert_eq!(
        stats.get_report(),
        "Received: 10, Processed: 0, Dropped: 10 (100.0% drop rate)"
    );
}

#[test]
fn three_sources_merged_processed_and_fanned_out() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let summary = rt.block_on(async {
        let sources: Vec<(StreamSource, EventStream<Event>)> = (0..3)
            .map(|s| {
                let source = StreamSource {
                    id: format!("source-{s}"),
                    source_type: SourceType::Sensor(format!("sensor-{s}")),
                };
                let events = (0..1_000u64).map(move |i| event_at(i, i, ((i * 7 + s) % 100) as f64));
                (source, Box::pin(weir::iter(events)) as EventStream<Event>)
            })
            .collect();
        run_pipeline(sources).await
    });
    let total: usize = summary.by_severity.values().sum();
    assert_eq!(total, 3_000, "analytics saw every event once");
    assert_eq!(summary.stored, 3_000, "storage wrote every event once");
    assert!(summary.batches >= 30, "{} batches", summary.batches);
    let critical = (0..3u64)
        .flat_map(|s| (0..1_000u64).map(move |i| (i * 7 + s) % 100))
        .filter(|v| *v >= 90)
        .count();
    assert_eq!(summary.critical, critical);
    assert_eq!(summary.by_severity[&Severity::Critical], critical);
}

#[tokio::test]
async fn a_processing_pipeline_publishes_to_its_subscribers() {
    let source = StreamSource {
        id: "s".into(),
        source_type: SourceType::API("/events".into()),
    };
    let (mut pipeline, first) = ProcessingPipeline::new(vec![source.clone()], 8);
    let second = pipeline.publisher.subscribe();
    for i in 0..3 {
        pipeline
            .publisher
            .send(process_event(event_at(i, i, 95.0)))
            .await;
    }
    assert_eq!(pipeline.sources, [source]);
    drop(pipeline);
    assert_eq!(first.count().await, 3);
    assert_eq!(second.count().await, 3);
}

#[test]
fn events_and_window_stats_round_trip_through_json() {
    let event = event_at(7, 1_234, -2.5);
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    let stats = calculate_window_stats(&[process_event(event)], 1_000, 1_000);
    let json = serde_json::to_string(&stats).unwrap();
    assert_eq!(serde_json::from_str::<WindowedStats>(&json).unwrap(), stats);
}

#[test]
fn merged_processed_windowed_and_fanned_out_to_three_subscribers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let per_subscriber = rt.block_on(async {
        let sources: Vec<(StreamSource, EventStream<Event>)> = (0..3u64)
            .map(|s| {
                let source = StreamSource {
                    id: format!("s{s}"),
                    source_type: SourceType::LogFile(format!("/var/log/{s}.log")),
                };
                // Timestamps 0..5 000 ms: five 1 s windows per source.
                let events = (0..500u64).map(move |i| event_at(i, i * 10, ((i + s) % 100) as f64));
                (source, Box::pin(weir::iter(events)) as EventStream<Event>)
            })
            .collect();
        let windows = create_tumbling_window(merge_streams(sources).map(process_event), 1_000);
        let (task, subscribers) = create_fanout(windows, 3);
        let counting: Vec<_> = subscribers
            .into_iter()
            .map(|s| {
                tokio::spawn(s.fold(Vec::new(), |mut seen, w: WindowedStats| {
                    seen.push((w.window_start, w.event_count));
                    seen
                }))
            })
            .collect();
        let mut all = Vec::new();
        for c in counting {
            all.push(c.await.unwrap());
        }
        task.await.unwrap();
        all
    });
    for seen in &per_subscriber {
        assert_eq!(
            seen, &per_subscriber[0],
            "every subscriber sees the same windows"
        );
        let total: usize = seen.iter().map(|(_, n)| n).sum();
        let starts: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
        assert_eq!(starts, [0, 1_000, 2_000, 3_000, 4_000]);
        // The merge takes the always-ready sources in turn, so timestamps arrive in order:
        // nothing is late, and each subscriber counts every event exactly once.
        assert_eq!(total, 1_500);
    }
}

#[tokio::test]
async fn consume_stream_prints_and_counts() {
    let n = consume_stream(weir::iter((0..4).map(|i| event_at(i, 0, 1.0)))).await;
    assert_eq!(n, 4);
}
