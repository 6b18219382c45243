//! Milestone 4 of the course project, "Windowed Aggregations": its `main`, on weir.
//!
//! Events 10 ms apart, processed, in 1 s tumbling windows over their timestamps; each window
//! printed and compared with the first for anomalies. The course sends 10 000 events (100 s);
//! this sends 400 (about 4 s). `cargo run --example m4`.

use tokio::sync::mpsc;
use weir::event::*;
use weir::prelude::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let (tx, rx) = mpsc::channel(1000);

    tokio::spawn(generate_events(tx, 400, 10));

    let stream = ReceiverStream::new(rx);
    let processed = process_stream(stream);
    let windows = create_tumbling_window(processed, 1000); // 1-second windows

    let mut baseline: Option<WindowedStats> = None;

    // The course awaits `detect_anomalies` inside `for_each`; with weir, a loop over `next`.
    let mut windows = pin!(windows);
    while let Some(stats) = windows.next().await {
        println!(
            "Window [{} - {}]: {} events, avg={:.2}, max={:.2}",
            stats.window_start,
            stats.window_end,
            stats.event_count,
            stats.avg_value,
            stats.max_value
        );

        if let Some(ref base) = baseline {
            if let Some(alert) = detect_anomalies(&stats, base).await {
                println!("ALERT: {}", alert.message);
            }
        } else {
            baseline = Some(stats.clone());
        }
    }
}
