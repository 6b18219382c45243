//! Redis Streams as a source and a sink, for several weir processes sharing one input.
//!
//! - [`RedisSource`]: reads one stream through a consumer group (`XREADGROUP ... COUNT n BLOCK
//!   ms`, batched), creating the group if missing; after a restart it first re-reads the
//!   entries it was given and never acknowledged; it claims the entries a dead consumer left
//!   pending longer than an idle time (`XPENDING ... IDLE`, then `XCLAIM`; never its own,
//!   which it still holds). With a [`StreamTime`], its reads keep the group's event time
//!   on the server, so that each entry comes with the largest time of every entry delivered
//!   before it, to any consumer: lateness judged in stream order, as by one reader.
//! - [`Acker`]: acknowledges handled entries in batches (`XACK` with many ids), on a
//!   connection of its own. Acknowledge an entry once everything derived from it has been
//!   emitted: a crash before that re-delivers it (at least once), never loses it.
//! - [`Committer`]: writes output entries and acknowledges the input entries they came from
//!   in one transaction (a Lua script), refused when an entry was claimed by another
//!   consumer meanwhile, numbered so that a commit retried after a lost reply is applied
//!   once: exactly-once effects.
//! - [`RedisSink`]: writes batches of entries with pipelined `XADD`s (one round trip per
//!   batch), optionally trimming with `MAXLEN ~`, retrying a failed batch with backoff.
//!
//! Every connection reconnects on its own after the server went away: a read or write that
//! fails meanwhile returns its error (the source yields it and reads again, starting with
//! its own pending entries, which a lost reply may have left there; the sink retries with
//! backoff).
//!
//! ```no_run
//! # async fn run() -> redis::RedisResult<()> {
//! use weir::io::redis::{RedisSource, StreamGroup};
//! use weir::prelude::*;
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let group = StreamGroup::new("events", "weir", "worker-1");
//! let (source, acker) = RedisSource::connect(&client, group).await?;
//! let mut source = source.until_idle();
//! while let Some(entry) = source.next().await {
//!     let entry = entry?;
//!     // ... handle entry.field("value") ...
//!     acker.ack(&entry.id);
//! }
//! acker.flush().await?;
//! # Ok(()) }
//! ```

mod ack;
mod commit;
mod entry;
mod group;
#[cfg(all(test, feature = "loom"))]
mod loom;
mod sink;
mod source;
mod stream_time;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// How long a command may take beyond what it asks the server to wait (a blocking read's
/// `BLOCK`) before it fails with a timeout: a frozen server is an error to retry or give up
/// on, never a silent hang.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection that reconnects by itself: a command sent while the server is unreachable
/// fails, and the connection is re-established in the background (two attempts, 100 and 200
/// ms after, each given 1 s to connect), so that a later command finds it back; the readers
/// and writers retry on their own schedule. Each has its own connection. A command fails
/// when no reply came within `waits` (what it asks the server to wait) and
/// [`RESPONSE_TIMEOUT`].
async fn connect(client: &redis::Client, waits: Duration) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_secs(1))
        .set_number_of_retries(2)
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(waits.saturating_add(RESPONSE_TIMEOUT)));
    client.get_connection_manager_with_config(config).await
}

/// A connection that stays what it is: when it is lost, every later command on it fails,
/// and its user connects again. For state the server keeps per connection (`WATCH`), which
/// a connection that reconnects by itself would drop unnoticed. Timeouts as [`connect`]'s.
async fn connect_once(
    client: &redis::Client,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// The replies of a pipeline's commands (of its `EXEC`'s, for a transaction), an error if
/// one of them is one. As `Pipeline::query_async` into `Vec<Value>`, without walking
/// every reply nested in them for errors (twice, rebuilding each array on the way): the
/// reads of new entries use it, where those walks are a share of a consumer's work worth
/// saving. Only a command's own reply can be an error there, and no command's reply
/// may be ignored (`Cmd::ignore`).
async fn replies(
    conn: &mut ConnectionManager,
    pipe: &redis::Pipeline,
) -> redis::RedisResult<Vec<redis::Value>> {
    use redis::Value;
    use redis::aio::ConnectionLike;
    let replies = if pipe.is_transaction() {
        let mut exec = conn
            .req_packed_commands(pipe, pipe.len() + 1, 1)
            .await
            .map_err(command_error)?;
        match exec.pop() {
            Some(Value::Array(replies)) => replies,
            _ => {
                let kind = ErrorKind::Server(ServerErrorKind::ResponseError);
                return Err((kind, "a transaction with no replies").into());
            }
        }
    } else {
        conn.req_packed_commands(pipe, 0, pipe.len())
            .await
            .map_err(command_error)?
    };
    if let Some(Value::ServerError(e)) = replies.iter().find(|r| matches!(r, Value::ServerError(_)))
    {
        return Err(e.clone().into());
    }
    Ok(replies)
}

/// A pipeline's replies (a transaction's: its `EXEC`'s), as `Pipeline::query_async`, its
/// failure told as [`command_error`].
async fn query<T: redis::FromRedisValue>(
    pipe: &redis::Pipeline,
    conn: &mut impl redis::aio::ConnectionLike,
) -> redis::RedisResult<T> {
    pipe.query_async(conn).await.map_err(command_error)
}

/// `e` as the error of the command that failed: the `redis` crate reports a failed pipeline
/// or transaction as one error for all its commands, whose code is `None` for a code it does
/// not know (`WRONGTYPE`, `NOAUTH`); the error of the first command that failed, as that
/// command alone would have failed. Any other error as it is.
fn command_error(e: RedisError) -> RedisError {
    match e.clone().into_server_errors() {
        Some(errors) => errors
            .first()
            .map_or(e, |(_, first)| RedisError::from(first.clone())),
        None => e,
    }
}

/// Whether waiting and trying again may cure `e`. A lost or refused connection, a timeout, a
/// server loading its data or busy may pass; a refused password (`NOAUTH`, `WRONGPASS`), a
/// command the user may not run (`NOPERM`), a key of another type (`WRONGTYPE`) or a
/// configuration the client cannot use do not: retrying those only delays the error.
pub fn is_transient(e: &RedisError) -> bool {
    let lasting_kind = matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig
    );
    let lasting_code = matches!(
        e.code(),
        Some("NOAUTH" | "WRONGPASS" | "NOPERM" | "WRONGTYPE")
    );
    !(lasting_kind || lasting_code)
}

/// A stream id's two numbers (`MS-SEQ`), `None` for anything else.
pub(crate) fn id_parts(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

pub use ack::Acker;
pub use commit::{Acks, Commit, Committer, Ledger, LedgerSnapshot, Recorded};
pub use entry::{Entry, Previous};
pub use group::{StreamGroup, StreamTime, consumer_connected};
pub use sink::RedisSink;
pub use source::{Claims, RedisSource, Rereads};
