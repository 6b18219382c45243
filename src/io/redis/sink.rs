//! [`RedisSink`]: pipelined `XADD`s, retried with backoff.

use std::fmt;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::ConnectionManager;

use super::{connect, query};
use crate::concurrent::{Backoff, retry};

/// Writes entries to one Redis stream, a batch per round trip.
///
/// [`send`](Self::send) writes a batch as one pipeline of `XADD`s (each with `MAXLEN ~ n`
/// when [`max_len`](Self::max_len) is set, so the stream stays about that long) and returns
/// the ids the server gave. A batch that fails (connection lost, server busy) is sent again
/// after an exponential backoff (by default 50 ms doubling up to 2 s, 5 retries) and its
/// error returned only when the retries are spent: never dropped silently. A batch retried
/// after a failure whose reply was lost may be written twice; readers of a weir sink count
/// at least once.
#[derive(Clone)]
pub struct RedisSink {
    conn: ConnectionManager,
    stream: String,
    max_len: Option<usize>,
    backoff: Backoff,
    written: u64,
    retried: u64,
}

impl RedisSink {
    /// A sink writing to `stream` over a connection of `client`'s.
    ///
    /// # Errors
    ///
    /// Connecting.
    pub async fn connect(client: &redis::Client, stream: &str) -> RedisResult<RedisSink> {
        Ok(RedisSink {
            conn: connect(client, Duration::ZERO).await?,
            stream: stream.to_owned(),
            max_len: None,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).retries(5),
            written: 0,
            retried: 0,
        })
    }

    /// Trims the stream to about `n` entries with each write (`MAXLEN ~ n`).
    pub fn max_len(mut self, n: usize) -> Self {
        self.max_len = Some(n);
        self
    }

    /// Retries failed batches as `backoff` says.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Entries written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Batches sent again after a failure so far.
    pub fn retried(&self) -> u64 {
        self.retried
    }

    /// Writes `batch` (each entry its fields, in order), in one round trip; the ids the
    /// server gave, in order.
    ///
    /// # Errors
    ///
    /// The last error, once the retries are spent.
    pub async fn send<K, V>(&mut self, batch: &[Vec<(K, V)>]) -> RedisResult<Vec<String>>
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for fields in batch {
            let cmd = pipe.cmd("XADD").arg(&self.stream);
            if let Some(n) = self.max_len {
                cmd.arg("MAXLEN").arg("~").arg(n);
            }
            cmd.arg("*");
            for (k, v) in fields {
                cmd.arg(k).arg(v);
            }
        }
        let conn = self.conn.clone();
        let mut attempts = 0;
        let ids: RedisResult<Vec<String>> = retry(self.backoff.clone(), || {
            attempts += 1;
            let (pipe, mut conn) = (pipe.clone(), conn.clone());
            async move { query(&pipe, &mut conn).await }
        })
        .await;
        self.retried += attempts - 1;
        let ids = ids?;
        self.written += ids.len() as u64;
        Ok(ids)
    }
}

impl fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSink")
            .field("stream", &self.stream)
            .field("max_len", &self.max_len)
            .field("written", &self.written)
            .field("retried", &self.retried)
            .finish_non_exhaustive()
    }
}
