//! Milestone 3 of the course project, "Buffering and Batching": its `main`, on weir.
//!
//! A thousand events, 5 ms apart, processed and cut into batches of 50 or 200 ms, whichever
//! comes first; each batch printed (about 5 s). `cargo run --example m3`.

use std::time::Duration;

use tokio::sync::mpsc;
use weir::event::*;
use weir::prelude::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let (tx, rx) = mpsc::channel(1000);

    tokio::spawn(generate_events(tx, 1000, 5));

    let stream = ReceiverStream::new(rx);
    let processed = process_stream(stream);
    let batched = batch_events(processed, 50, Duration::from_millis(200));

    // The course awaits per batch inside `for_each`; with weir, a loop over `next` does.
    let mut batched = pin!(batched);
    while let Some(batch) = batched.next().await {
        process_batch(batch).await;
    }
}
