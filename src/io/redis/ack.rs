//! [`Acker`]: batched acknowledgements on a connection of their own.

use std::fmt;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use crate::concurrent::{Backoff, retry};
use crate::sync::{Arc, AtomicU64, Ordering};

/// What the acknowledging task is asked.
enum Request {
    Ack(String),
    /// Acknowledge everything asked before, then answer.
    Flush(oneshot::Sender<RedisResult<()>>),
}

/// Acknowledges entries of a [`RedisSource`](super::RedisSource) in batches.
///
/// [`ack`](Self::ack) queues an id and returns at once; a task of its own takes the queued
/// ids in batches (up to 1 000 per `XACK`, as many as are queued) on a connection that no
/// blocking read holds. [`flush`](Self::flush) waits until everything queued before it is
/// acknowledged on the server. Clones share the task; it ends when the last clone is dropped,
/// after acknowledging what was queued.
///
/// A failed `XACK` is sent again after a backoff (50 ms doubling up to 2 s, 5 retries: a
/// server restart is ridden out). One that still fails leaves its entries pending: they are
/// delivered again (after a restart, or claimed by another consumer), never lost, and the
/// next `flush` reports the error.
#[derive(Clone)]
pub struct Acker {
    requests: mpsc::UnboundedSender<Request>,
    acked: Arc<AtomicU64>,
}

impl Acker {
    pub(super) fn new(conn: ConnectionManager, stream: &str, group: &str) -> Self {
        let (requests, mut rx) = mpsc::unbounded_channel::<Request>();
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        let (stream, group) = (stream.to_owned(), group.to_owned());
        let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).retries(5);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(1000);
            let mut failed: Option<redis::RedisError> = None;
            loop {
                if rx.recv_many(&mut batch, 1000).await == 0 {
                    return;
                }
                let mut ids = Vec::with_capacity(batch.len());
                let mut flushes = Vec::new();
                for request in batch.drain(..) {
                    match request {
                        Request::Ack(id) => ids.push(id),
                        Request::Flush(reply) => flushes.push(reply),
                    }
                }
                if !ids.is_empty() {
                    let mut xack = redis::cmd("XACK");
                    xack.arg(&stream).arg(&group).arg(&ids);
                    let result: RedisResult<u64> = retry(backoff.clone(), || {
                        let (xack, mut conn) = (xack.clone(), conn.clone());
                        async move { xack.query_async(&mut conn).await }
                    })
                    .await;
                    match result {
                        Ok(n) => {
                            counter.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                for reply in flushes {
                    let outcome = match failed.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                    let _ = reply.send(outcome);
                }
            }
        });
        Acker { requests, acked }
    }

    /// Queues `id` for acknowledgement.
    pub fn ack(&self, id: &str) {
        // The task lives as long as a clone of this handle: the send cannot fail.
        let _ = self.requests.send(Request::Ack(id.to_owned()));
    }

    /// Waits until every id queued before this call is acknowledged on the server.
    ///
    /// # Errors
    ///
    /// The first `XACK` that failed since the previous flush.
    pub async fn flush(&self) -> RedisResult<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.requests.send(Request::Flush(tx));
        rx.await.unwrap_or(Ok(()))
    }

    /// Entries acknowledged so far (as the server counted them: an id acknowledged twice
    /// counts once).
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Acker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acker")
            .field("acked", &self.acked())
            .finish_non_exhaustive()
    }
}
