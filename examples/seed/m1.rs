//! Milestone 1 of the course project, "Basic Event Stream from Channel": its `main`, on weir.
//!
//! Twenty events, 100 ms apart, from a channel turned into a stream and printed one by one
//! (about 2 s). `cargo run --example m1`.

use tokio::sync::mpsc;
use weir::event::*;
use weir::sources::Recv as ReceiverStream;

#[tokio::main]
async fn main() {
    let (tx, rx) = mpsc::channel(100);

    // Spawn event generator
    tokio::spawn(generate_events(tx, 20, 100));

    // Convert receiver to stream and consume
    let stream = ReceiverStream::new(rx);
    consume_stream(stream).await;
}
