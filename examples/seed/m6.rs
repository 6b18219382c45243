//! Milestone 6 of the course project, "Multi-Source Stream Merging and Fan-Out": its `main`,
//! on weir.
//!
//! Three sources of 100 events each, 50 ms apart, merged, processed and published; two
//! consumers subscribe, one counting, one alerting on high and critical events (about 5 s).
//! `cargo run --example m6`.

use tokio::sync::mpsc;
use weir::event::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let mut sources = Vec::new();

    for i in 0..3 {
        let (tx, rx) = mpsc::channel(100);
        let source_id = format!("sensor-{}", i);

        tokio::spawn({
            let source = source_id.clone();
            async move {
                let _ = source;
                generate_events(tx, 100, 50).await;
            }
        });

        sources.push((
            StreamSource {
                id: source_id.clone(),
                source_type: SourceType::Sensor(source_id),
            },
            ReceiverStream::new(rx),
        ));
    }

    let pipeline = run_pipeline(sources).await;

    let mut consumer1 = pipeline.broadcast_tx.subscribe();
    let mut consumer2 = pipeline.broadcast_tx.subscribe();

    let counter = tokio::spawn(async move {
        let mut count = 0;
        while consumer1.recv().await.is_ok() {
            count += 1;
        }
        println!("Consumer 1 processed: {} events", count);
    });

    let alerter = tokio::spawn(async move {
        while let Ok(event) = consumer2.recv().await {
            if matches!(event.severity, Severity::High | Severity::Critical) {
                println!("ALERT: High severity event from {}", event.original.source);
            }
        }
        println!("Consumer 2 done");
    });

    let _ = tokio::join!(counter, alerter);
}
