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
    let events: Vec<Event> = create_event_stream(rx).await.collect().await;
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

#[tokio::test(start_paused = true)]
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
    let counts = batches[0].severity_counts();
    assert_eq!(counts[&Severity::Low], 8); // values 0..36: below 30
    assert_eq!(counts[&Severity::Medium], 2);
    // A simulated write takes 10 ms.
    let start = tokio::time::Instant::now();
    write_batch_to_storage(&batches[2]).await;
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[test]
fn window_stats_handle_empty_and_negative_windows() {
    let empty = calculate_window_stats(Vec::new(), 1_000, 500);
    assert_eq!(
        (empty.event_count, empty.avg_value, empty.max_value),
        (0, 0.0, 0.0)
    );
    assert_eq!(empty.window_end, 1_500);
    let negative: Vec<ProcessedEvent> = [-5.0, -2.0, -9.0]
        .into_iter()
        .map(|v| process_event(event_at(0, 0, v)))
        .collect();
    let stats = calculate_window_stats(negative, 0, 1_000);
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
    let events = || weir::iter((0..10).map(|i| event_at(i, i, 1.0)));
    let ids = |s: Vec<Event>| s.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let (s, stats) = apply_backpressure(events(), config(BackpressureStrategy::DropOldest));
    assert_eq!(ids(s.collect().await), [5, 6, 7, 8, 9]);
    assert_eq!(stats.dropped(), 5);
    let (s, stats) = apply_backpressure(events(), config(BackpressureStrategy::DropNewest));
    assert_eq!(ids(s.collect().await), [0, 1, 2, 3, 4]);
    assert_eq!(stats.dropped(), 5);
    let (s, stats) = apply_backpressure(events(), config(BackpressureStrategy::Sample));
    assert_eq!(s.count().await, 0);
    assert_eq!(
        stats.get_report(),
        "Received: 10, Processed: 0, Dropped: 10 (100.0% drop rate)"
    );
}

/// Three sources through `run_pipeline` to three consumers that each see every event once:
/// counts per severity, critical events, batches written to storage.
#[test]
fn three_sources_merged_processed_and_fanned_out() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let (by_severity, critical, stored) = rt.block_on(async {
        let mut senders = Vec::new();
        let sources: Vec<_> = (0..3)
            .map(|s| {
                let (tx, rx) = tokio::sync::mpsc::channel(64);
                senders.push(tx);
                let source = StreamSource {
                    id: format!("source-{s}"),
                    source_type: SourceType::Sensor(format!("sensor-{s}")),
                };
                (source, weir::from_receiver(rx))
            })
            .collect();
        let pipeline = run_pipeline(sources).await;
        assert_eq!(pipeline.sources.len(), 3);
        // Critical subscribers, made before any event is sent: none misses one.
        let subscribe = || pipeline.broadcast_tx.subscribe_with(Delivery::Critical);
        let analytics = tokio::spawn(subscribe().fold(
            HashMap::new(),
            |mut by, e: ProcessedEvent| {
                *by.entry(e.severity).or_insert(0) += 1;
                by
            },
        ));
        let alerting = tokio::spawn(
            subscribe()
                .filter(|e: &ProcessedEvent| e.severity == Severity::Critical)
                .count(),
        );
        let storage = subscribe();
        let storage = tokio::spawn(async move {
            let mut batches =
                std::pin::pin!(batch_events(storage, 100, Duration::from_millis(100)));
            let mut stored = 0;
            while let Some(batch) = batches.next().await {
                write_batch_to_storage(&batch).await;
                stored += batch.events.len();
            }
            stored
        });
        for (s, tx) in senders.into_iter().enumerate() {
            tokio::spawn(async move {
                for i in 0..1_000u64 {
                    let value = ((i * 7 + s as u64) % 100) as f64;
                    tx.send(event_at(i, i, value)).await.unwrap();
                }
            });
        }
        (
            analytics.await.unwrap(),
            alerting.await.unwrap(),
            storage.await.unwrap(),
        )
    });
    let total: usize = by_severity.values().sum();
    assert_eq!(total, 3_000, "analytics saw every event once");
    assert_eq!(stored, 3_000, "storage wrote every event once");
    let expected_critical = (0..3u64)
        .flat_map(|s| (0..1_000u64).map(move |i| (i * 7 + s) % 100))
        .filter(|v| *v >= 90)
        .count();
    assert_eq!(critical, expected_critical);
    assert_eq!(by_severity[&Severity::Critical], expected_critical);
}

/// `recv()` as with tokio's broadcast receivers: items, then `Closed` once the sources end.
#[tokio::test]
async fn a_pipeline_subscriber_receives_until_the_sources_end() {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let source = StreamSource {
        id: "s".into(),
        source_type: SourceType::API("/events".into()),
    };
    let pipeline = run_pipeline(vec![(source.clone(), weir::from_receiver(rx))]).await;
    let mut consumer = pipeline.broadcast_tx.subscribe();
    for i in 0..3 {
        tx.send(event_at(i, i, 95.0)).await.unwrap();
    }
    drop(tx);
    let mut ids = Vec::new();
    let end = loop {
        match consumer.recv().await {
            Ok(e) => ids.push(e.original.id),
            Err(e) => break e,
        }
    };
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(end, weir::channel::error::RecvError::Closed);
    assert_eq!(pipeline.sources, [source]);
}

#[test]
fn events_and_window_stats_round_trip_through_json() {
    let event = event_at(7, 1_234, -2.5);
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    let stats = calculate_window_stats(vec![process_event(event)], 1_000, 1_000);
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
        let sources: Vec<EventStream<Event>> = (0..3u64)
            .map(|s| {
                // Timestamps 0..5 000 ms: five 1 s windows per source.
                let events = (0..500u64).map(move |i| event_at(i, i * 10, ((i + s) % 100) as f64));
                Box::pin(weir::iter(events)) as EventStream<Event>
            })
            .collect();
        let windows = create_tumbling_window(merge_and_process(sources), 1_000);
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

/// `merge_sources` keeps each event's source.
#[tokio::test]
async fn merged_sources_keep_their_names() {
    let sources: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let source = StreamSource {
                id: name.into(),
                source_type: SourceType::Sensor(name.into()),
            };
            (source, weir::iter((0..2).map(move |i| event_at(i, i, 1.0))))
        })
        .collect();
    let got: Vec<(String, u64)> = merge_sources(sources)
        .map(|(source, e)| (source.id, e.id))
        .collect()
        .await;
    assert_eq!(
        got,
        [
            ("a".into(), 0),
            ("b".into(), 0),
            ("a".into(), 1),
            ("b".into(), 1)
        ]
    );
}
