//! `weir`: runs a small pipeline over a simulated sensor and prints its batches.

use std::time::Duration;

use weir::prelude::*;

/// One reading of a simulated sensor.
#[derive(Debug, Clone, Copy)]
struct Reading {
    sensor: u32,
    value: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = tokio::sync::mpsc::channel(256);

    // Five sensors report in bursts of 40 readings, then go quiet for 150 ms.
    let producer = tokio::spawn(async move {
        let mut i = 0u32;
        for _burst in 0..6 {
            for _ in 0..40 {
                let reading = Reading {
                    sensor: i % 5,
                    value: f64::from(i) * 3.7 % 100.0,
                };
                if tx.send(reading).await.is_err() {
                    return;
                }
                i += 1;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });

    let started = tokio::time::Instant::now();
    println!("weir: readings above 20.0, batched by 16 or 50 ms");
    let mut batches = pin!(
        weir::from_receiver(rx)
            .filter(|r| r.value > 20.0)
            .map(|r| (r.sensor, r.value))
            .chunks_timeout(16, Duration::from_millis(50))
    );

    let (mut total_batches, mut total_items) = (0usize, 0usize);
    while let Some(batch) = batches.next().await {
        total_batches += 1;
        total_items += batch.len();
        let mean = batch.iter().map(|(_, v)| v).sum::<f64>() / batch.len() as f64;
        let cut = if batch.len() == 16 { "full" } else { "timeout" };
        println!(
            "{:>6.0} ms  batch {:>2}: {:>2} readings ({cut:>7}), mean {:>5.1}, first from sensor-{}",
            started.elapsed().as_secs_f64() * 1000.0,
            total_batches,
            batch.len(),
            mean,
            batch[0].0,
        );
    }
    producer.await.expect("the producer task panicked");
    println!("{total_items} readings in {total_batches} batches");
}
