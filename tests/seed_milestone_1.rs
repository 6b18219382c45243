//! The checkpoint tests of milestone 1 of the course project weir's event domain follows
//! ("Basic Event Stream from Channel"), as the course gives them: only the imports differ (weir's in place of
//! the course's module and tokio-stream's `StreamExt`), and a line marked "Changed from the
//! seed" where the course's test could not work as written.

#![allow(unused_imports, unused_variables)]

use tokio::sync::mpsc;
use weir::event::*;
use weir::prelude::*;

#[tokio::test]
async fn test_event_creation() {
    let event = Event::new(1, "sensor-1".to_string(), 23.5, EventType::Metric);

    assert_eq!(event.id, 1);
    assert_eq!(event.source, "sensor-1");
    assert_eq!(event.value, 23.5);
}

#[tokio::test]
async fn test_channel_to_stream() {
    use tokio::sync::mpsc;
    use weir::sources::Recv as ReceiverStream;

    let (tx, rx) = mpsc::channel(10);

    // Send some events
    tx.send(Event::new(1, "test".into(), 1.0, EventType::Metric))
        .await
        .unwrap();
    tx.send(Event::new(2, "test".into(), 2.0, EventType::Metric))
        .await
        .unwrap();
    drop(tx); // Close channel

    let mut stream = ReceiverStream::new(rx);

    let event1 = stream.next().await.unwrap();
    let event2 = stream.next().await.unwrap();
    let event3 = stream.next().await; // Should be None (stream closed)

    assert_eq!(event1.id, 1);
    assert_eq!(event2.id, 2);
    assert!(event3.is_none());
}

#[tokio::test]
async fn test_event_generator() {
    use tokio::sync::mpsc;

    let (tx, mut rx) = mpsc::channel(100);

    tokio::spawn(generate_events(tx, 10, 1));

    let mut count = 0;
    while let Some(_event) = rx.recv().await {
        count += 1;
    }

    assert_eq!(count, 10);
}

#[tokio::test]
async fn test_stream_consumption() {
    use tokio::sync::mpsc;
    use weir::sources::Recv as ReceiverStream;

    let (tx, rx) = mpsc::channel(10);

    tokio::spawn(async move {
        for i in 0..5 {
            tx.send(Event::new(i, "sensor".into(), i as f64, EventType::Metric))
                .await
                .unwrap();
        }
    });

    let stream = ReceiverStream::new(rx);
    let events: Vec<Event> = stream.collect().await;

    assert_eq!(events.len(), 5);
    assert_eq!(events[0].id, 0);
    assert_eq!(events[4].id, 4);
}
