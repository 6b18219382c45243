//! The course project's complete example, on weir: three sources merged, processed, sampled
//! at 50% with counters, published to a broadcast, and two consumers (counts by severity,
//! critical alerts); then the counters (about 2.5 s). `cargo run --example complete`.
//!
//! The course's own helpers have weir's counterparts: `merge_event_streams` is
//! [`merge_streams`], the sampling filter is `should_sample`, its broadcast channel is weir's
//! `broadcast`, with `subscribe()` and `recv().await`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use weir::event::*;
use weir::prelude::*;
use weir::sources::Recv as ReceiverStream;

pub async fn run_complete_pipeline() {
    println!("=== Real-Time Event Stream Processor ===\n");

    // Create multiple event sources
    let mut stream_handles = Vec::new();

    for i in 0..3 {
        let (tx, rx) = mpsc::channel(100);

        tokio::spawn(async move {
            generate_events(tx, 50, 20 + i * 10).await;
        });

        stream_handles.push(ReceiverStream::new(rx));
    }

    // Merge all sources
    let merged = merge_streams(stream_handles);

    // Process events
    let processed = merged.map(process_event);

    // Apply backpressure with sampling
    let stats = Arc::new(BackpressureStats::new());
    let stats_clone = Arc::clone(&stats);

    let with_backpressure = processed.filter(move |_event| {
        stats_clone.increment_received();

        // Sample at 50% under load
        let should_process = should_sample(0.5);

        if should_process {
            stats_clone.increment_processed();
        } else {
            stats_clone.increment_dropped();
        }

        should_process
    });

    // Create fan-out for multiple consumers
    let (mut broadcast_tx, _) = broadcast(1000);
    let mut rx1 = broadcast_tx.subscribe();
    let mut rx2 = broadcast_tx.subscribe();

    // Forward processed events to broadcast (the publisher moves into the task: when the
    // sources end, the broadcast closes and the consumers finish)
    tokio::spawn(async move {
        let mut with_backpressure = pin!(with_backpressure);

        while let Some(event) = with_backpressure.next().await {
            broadcast_tx.send(event).await;
        }
    });

    // Consumer 1: Count by severity
    let counter = tokio::spawn(async move {
        let mut counts: HashMap<String, usize> = HashMap::new();

        while let Ok(event) = rx1.recv().await {
            let severity = format!("{:?}", event.severity);
            *counts.entry(severity).or_insert(0) += 1;
        }

        println!("\nSeverity counts:");
        for (sev, count) in counts {
            println!("  {}: {}", sev, count);
        }
    });

    // Consumer 2: Alert on critical
    let alerter = tokio::spawn(async move {
        let mut alert_count = 0;

        while let Ok(event) = rx2.recv().await {
            if matches!(event.severity, Severity::Critical) {
                alert_count += 1;
                println!(
                    "CRITICAL ALERT: {} = {:.2}",
                    event.original.source, event.original.value
                );
            }
        }

        println!("\nTotal critical alerts: {}", alert_count);
    });

    // Wait for all consumers
    let _ = tokio::join!(counter, alerter);

    println!("\n{}", stats.get_report());
}

#[tokio::main]
async fn main() {
    run_complete_pipeline().await;
}
