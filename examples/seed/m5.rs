//! Milestone 5 of the course project, "Backpressure Handling": its `main`, on weir.
//!
//! A fast source (one event per millisecond) into a slow consumer (10 ms per event), with
//! sampling at 10% in between; the counters are printed every second and at the end. The
//! course sends 100 000 events (100 s); this sends 3 000 (about 3 s).
//! `cargo run --example m5`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::sleep;
use weir::event::*;
use weir::prelude::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let config = BackpressureConfig {
        strategy: BackpressureStrategy::Sample,
        buffer_size: 100,
        sample_rate: 0.1,
    };

    let (tx, rx) = mpsc::channel(1000);
    tokio::spawn(generate_events(tx, 3000, 1));

    let stream = ReceiverStream::new(rx);
    let (backpressured, stats) = apply_backpressure(stream, config);

    let stats_clone = Arc::clone(&stats);
    let monitor = tokio::spawn(monitor_backpressure(stats_clone));

    let processed = process_stream(backpressured);

    // The course sleeps inside an async `for_each`; with weir, a loop over `next` does.
    let mut processed = pin!(processed);
    while let Some(_event) = processed.next().await {
        sleep(Duration::from_millis(10)).await; // Slow processing
    }
    monitor.abort();

    println!("\nFinal stats: {}", stats.get_report());
}
