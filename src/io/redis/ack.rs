//! [`Acker`]: batched acknowledgements on a connection of their own.

use std::fmt;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use super::Entry;
use crate::concurrent::{Backoff, retry};
use crate::sync::{Arc, AtomicU64, Mutex, Ordering};

/// Copies entries to the dead-letter stream and acknowledges them, each only while it is
/// still pending for this consumer (so never twice, and never one another consumer has
/// claimed). `KEYS`: the stream and the dead-letter stream; `ARGV`: the group, the consumer,
/// then for each entry its id, the number `n` of the letter's field arguments and those `n`.
/// Returns the letters written and the entries acknowledged.
const DEAD_LETTER: &str = r"
local written, acked, i = 0, 0, 3
while i <= #ARGV do
  local id, n = ARGV[i], tonumber(ARGV[i + 1])
  if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2]) == 1 then
    redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 2, i + 1 + n))
    acked = acked + redis.call('XACK', KEYS[1], ARGV[1], id)
    written = written + 1
  end
  i = i + 2 + n
end
return {written, acked}
";

/// What the acknowledging task is asked.
enum Request {
    Ack(String),
    /// Copy the entry to the dead-letter stream with the reason, then acknowledge it.
    DeadLetter(Entry, String),
    /// Acknowledge everything asked before, then answer.
    Flush(oneshot::Sender<RedisResult<()>>),
}

/// Numbers what several handles send to one queue, in the order it reaches the queue.
#[derive(Debug, Default)]
pub(super) struct Places(Mutex<u64>);

impl Places {
    /// Runs `send` and returns its place (from 1). Both happen under one lock, so that a
    /// send that reaches the queue after another always has the later place: the queue's
    /// reader, counting what it takes, knows each sender's request by its place.
    pub(super) fn send(&self, send: impl FnOnce()) -> u64 {
        let mut sent = self.0.lock();
        send();
        *sent += 1;
        *sent
    }
}

/// Acknowledges entries of a [`RedisSource`](super::RedisSource) in batches.
///
/// [`ack`](Self::ack) queues an id and returns at once; a task of its own takes the queued
/// ids in batches (up to 1 000 per `XACK`, as many as are queued) on a connection that no
/// blocking read holds. [`flush`](Self::flush) waits until everything queued before it is
/// acknowledged on the server. Clones share the task; it ends when the last clone is dropped,
/// after acknowledging what was queued.
///
/// A failed `XACK` is sent again after a backoff (by default 50 ms doubling up to 2 s, 5
/// retries: a server restart is ridden out; [`StreamGroup::ack_backoff`](super::StreamGroup::ack_backoff)
/// sets another). One that still fails leaves its entries pending: they are
/// delivered again (after a restart, or claimed by another consumer), never lost, and the
/// next `flush` reports the error.
#[derive(Clone)]
pub struct Acker {
    /// The places of the acknowledgements and dead letters queued, by every clone.
    places: Arc<Places>,
    requests: mpsc::UnboundedSender<Request>,
    /// How many of the acknowledgements and dead letters queued the task is done with.
    answered: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
    dead: Arc<AtomicU64>,
    retried: Arc<AtomicU64>,
}

impl Acker {
    /// The backoff of acknowledgements unless the group sets another.
    pub(super) fn default_backoff() -> Backoff {
        Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).retries(5)
    }

    pub(super) fn new(
        conn: ConnectionManager,
        stream: &str,
        group: &str,
        consumer: &str,
        backoff: Backoff,
    ) -> Self {
        let (requests, mut rx) = mpsc::unbounded_channel::<Request>();
        let acked = Arc::new(AtomicU64::new(0));
        let dead = Arc::new(AtomicU64::new(0));
        let retried = Arc::new(AtomicU64::new(0));
        let answered = Arc::new(AtomicU64::new(0));
        let (counter, dead_counter, retries) = (acked.clone(), dead.clone(), retried.clone());
        let done_with = answered.clone();
        // Every attempt after the first of a command counts as a retry.
        let attempt = move |first: &mut bool| {
            if !std::mem::take(first) {
                retries.fetch_add(1, Ordering::Relaxed);
            }
        };
        let (stream, group, consumer) = (stream.to_owned(), group.to_owned(), consumer.to_owned());
        let dead_stream = format!("{stream}:dead");
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(1000);
            let mut failed: Option<redis::RedisError> = None;
            loop {
                if rx.recv_many(&mut batch, 1000).await == 0 {
                    return;
                }
                let mut ids = Vec::with_capacity(batch.len());
                let mut flushes = Vec::new();
                let mut letters = redis::cmd("EVAL");
                letters
                    .arg(DEAD_LETTER)
                    .arg(2)
                    .arg(&stream)
                    .arg(&dead_stream);
                letters.arg(&group).arg(&consumer);
                let mut dead = 0;
                for request in batch.drain(..) {
                    match request {
                        Request::Ack(id) => ids.push(id),
                        Request::DeadLetter(entry, reason) => {
                            let fields = &entry.fields;
                            letters.arg(&entry.id).arg(4 + 2 * fields.len());
                            letters.arg("id").arg(&entry.id).arg("reason").arg(&reason);
                            for (k, v) in fields {
                                letters.arg(k).arg(v);
                            }
                            dead += 1;
                        }
                        Request::Flush(reply) => flushes.push(reply),
                    }
                }
                // Each letter is written and its entry acknowledged in one script: a retry
                // after a lost reply finds the entry acknowledged and writes nothing again.
                if dead > 0 {
                    let mut first = true;
                    let written: RedisResult<(u64, u64)> = retry(backoff.clone(), || {
                        attempt(&mut first);
                        let (letters, mut conn) = (letters.clone(), conn.clone());
                        async move { letters.query_async(&mut conn).await }
                    })
                    .await;
                    match written {
                        Ok((written, acked)) => {
                            dead_counter.fetch_add(written, Ordering::Relaxed);
                            counter.fetch_add(acked, Ordering::Relaxed);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                if !ids.is_empty() {
                    let mut xack = redis::cmd("XACK");
                    xack.arg(&stream).arg(&group).arg(&ids);
                    let mut first = true;
                    let result: RedisResult<u64> = retry(backoff.clone(), || {
                        attempt(&mut first);
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
                done_with.fetch_add(ids.len() as u64 + dead, Ordering::Release);
                for reply in flushes {
                    let outcome = match failed.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                    let _ = reply.send(outcome);
                }
            }
        });
        Acker {
            places: Arc::default(),
            requests,
            answered,
            acked,
            dead,
            retried,
        }
    }

    /// Queues `id` for acknowledgement: `&entry.id` copies the id, `entry.id` moves it.
    /// Returns its place among the acknowledgements and dead letters queued (from 1): the
    /// server has answered it once [`answered`](Self::answered) reaches that.
    pub fn ack(&self, id: impl Into<String>) -> u64 {
        self.queue(Request::Ack(id.into()))
    }

    /// Queues an acknowledgement or a dead letter: its place among them.
    fn queue(&self, request: Request) -> u64 {
        self.places.send(|| {
            // The task lives as long as a clone of this handle: the send cannot fail.
            let _ = self.requests.send(request);
        })
    }

    /// Copies `entry` (its id, `reason`, and its fields) to the dead-letter stream
    /// (`STREAM:dead`) and acknowledges it, in one script, if it is still pending for this
    /// consumer: for an entry that cannot be handled (malformed, missing a field), which
    /// would otherwise be delivered again for ever. A copy is never made twice, even by a
    /// script sent again after its reply was lost, and an entry another consumer claimed
    /// meanwhile is left to it.
    /// Returns its place, as [`ack`](Self::ack).
    pub fn dead_letter(&self, entry: Entry, reason: &str) -> u64 {
        self.queue(Request::DeadLetter(entry, reason.to_owned()))
    }

    /// Entries copied to the dead-letter stream so far.
    pub fn dead_lettered(&self) -> u64 {
        self.dead.load(Ordering::Relaxed)
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

    /// Commands sent again after a failure so far (`XACK`s and dead-letter writes).
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// How many of the acknowledgements and dead letters queued the server has answered, in
    /// the order they were queued: those placed up to `answered()` are applied, or failed
    /// for good (their entries left pending, and the next [`flush`](Self::flush) reports
    /// the error). Until then an entry may still be pending for this consumer on the
    /// server, and a read of its pending entries deliver it again.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Acquire)
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
            .field("dead_lettered", &self.dead_lettered())
            .finish_non_exhaustive()
    }
}
