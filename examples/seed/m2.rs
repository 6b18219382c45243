//! Milestone 2 of the course project, "Stream Transformations and Filtering": its `main`, on
//! weir.
//!
//! Fifty events, 50 ms apart, normalized and graded; the high and critical ones printed
//! (about 2.5 s). `cargo run --example m2`.

use tokio::sync::mpsc;
use weir::event::*;
use weir::prelude::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let (tx, rx) = mpsc::channel(100);

    tokio::spawn(generate_events(tx, 50, 50));

    let stream = ReceiverStream::new(rx);

    let processed = process_stream(stream);
    let high_severity = filter_high_severity(processed);

    // The course passes an async closure; weir's `for_each` takes a plain one.
    high_severity
        .for_each(|event| {
            println!(
                "HIGH SEVERITY: {:?} -> {:?}",
                event.original.source, event.severity
            );
        })
        .await;
}
