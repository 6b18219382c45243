//! [`StreamGroup`]: a stream, a consumer group and a consumer's name, and how the consumer
//! reads; [`StreamTime`], which entries count toward the group's event time; and the
//! server's list of connections, which tells whether a consumer is reading.

use std::fmt;
use std::time::Duration;

use redis::RedisResult;

use super::{Acker, Entry, RESPONSE_TIMEOUT};
use crate::concurrent::Backoff;
use crate::sync::StdArc as Arc;

/// The stream, the consumer group and this consumer's name, and how it reads.
#[derive(Debug, Clone)]
pub struct StreamGroup {
    pub(super) stream: String,
    pub(super) group: String,
    pub(super) consumer: String,
    pub(super) count: usize,
    pub(super) block: Duration,
    pub(super) claim_idle: Option<Duration>,
    pub(super) ack_backoff: Backoff,
    /// The output stream whose ledger counts this consumer's claims.
    pub(super) ledger: Option<String>,
    pub(super) stream_time: Option<StreamTime>,
}

impl StreamGroup {
    /// Reads `stream` as `consumer` of `group`, 1 000 entries per read, blocking up to 1 s
    /// for new ones, claiming entries pending for 30 s in other consumers.
    pub fn new(stream: &str, group: &str, consumer: &str) -> Self {
        StreamGroup {
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            count: 1000,
            block: Duration::from_secs(1),
            claim_idle: Some(Duration::from_secs(30)),
            ack_backoff: Acker::default_backoff(),
            ledger: None,
            stream_time: None,
        }
    }

    /// At most `count` entries per read.
    ///
    /// # Panics
    ///
    /// If `count` is 0.
    #[track_caller]
    pub fn count(mut self, count: usize) -> Self {
        assert!(
            count > 0,
            "StreamGroup::count: `count` must be at least 1, got 0"
        );
        self.count = count;
        self
    }

    /// How long a read waits on the server for new entries (a source that reads
    /// [`until_idle`](super::RedisSource::until_idle) waits in the process instead).
    ///
    /// # Panics
    ///
    /// If `block` is under 1 ms (Redis counts in milliseconds; 0 would wait for ever).
    #[track_caller]
    pub fn block(mut self, block: Duration) -> Self {
        assert!(
            block >= Duration::from_millis(1),
            "StreamGroup::block: `block` must be at least 1 ms, got {block:?}"
        );
        self.block = block;
        self
    }

    /// How the [`Acker`] retries a failed acknowledgement (by default 50 ms doubling up to
    /// 2 s, 5 retries: about 1.5 s in all). Give it more retries to ride out a longer outage,
    /// such as a server loading a large append-only file after a restart.
    pub fn ack_backoff(mut self, backoff: Backoff) -> Self {
        self.ack_backoff = backoff;
        self
    }

    /// Claims the entries other consumers have left pending at least `idle` (a consumer
    /// that died), whenever a read finds nothing new and at least once every `idle` while
    /// reads find entries; `None` never claims. A consumer whose reading connection
    /// ([`client_name`](Self::client_name)) the server lists as having sent a command less
    /// than `idle` ago is reading: its entries stay its own, however long pending. A stopped
    /// or dead one's are claimed. The server counts a connection's silence in whole seconds
    /// (`CLIENT LIST`), so a connected consumer is taken for stopped once silent for between
    /// `idle` and `idle` plus a second, and for at least a second.
    pub fn claim_idle(mut self, idle: Option<Duration>) -> Self {
        self.claim_idle = idle;
        self
    }

    /// Counts each claim that takes entries in the [`Ledger`](super::Ledger) of the stream
    /// `output`, in the same script as the claim, under [`ledger_name`](Self::ledger_name):
    /// with the [`Committer`](super::Committer) that writes there, a reader of the ledger can
    /// tell a consumer that holds claimed entries it has not committed yet
    /// ([`RedisSource::claims`](super::RedisSource::claims)).
    pub fn ledger(mut self, output: &str) -> Self {
        self.ledger = Some(output.to_owned());
        self
    }

    /// Keeps the group's [stream time](StreamTime) on the server, under
    /// [`stream_time_key`](Self::stream_time_key): each read of new entries is numbered and
    /// posted, and its entries come with the stream time through the reads before it
    /// ([`Entry::stream_time`]), which a read may wait for (see [`StreamTime`]). Every
    /// consumer of the group must be a source given the same `time`: entries delivered
    /// otherwise (`XREADGROUP ... >` by another client) are counted by no one. The source
    /// that creates the group clears the key, and so does a source that connects to a group
    /// made again by hand (`XGROUP DESTROY`, `XGROUP CREATE`) or moved back (`XGROUP SETID`)
    /// since the stream time's last read: one whose last delivered entry comes before that
    /// read's last. A group made again at the stream's end (`$`) cannot be told from the
    /// earlier one: delete both keys ([`stream_reads_key`](Self::stream_reads_key) too)
    /// with it.
    pub fn stream_time(mut self, time: StreamTime) -> Self {
        self.stream_time = Some(time);
        self
    }

    /// The key of the group's stream time: `STREAM:GROUP:time`, a hash (its fields are
    /// listed in [`StreamTime`]).
    pub fn stream_time_key(&self) -> String {
        format!("{}:{}:time", self.stream, self.group)
    }

    /// The key of the reads folded into the stream time that may still hold pending entries:
    /// `STREAM:GROUP:time:reads`, a sorted set (see [`StreamTime`]).
    pub fn stream_reads_key(&self) -> String {
        format!("{}:{}:time:reads", self.stream, self.group)
    }

    /// The key of the group's count of the claims that took entries from a consumer:
    /// `STREAM:GROUP:taken`, a number that only grows (see [`Entry::taken`]). Every claim a
    /// source makes raises it in the claim's own script.
    pub fn taken_key(&self) -> String {
        format!("{}:{}:taken", self.stream, self.group)
    }

    /// This consumer's name in a ledger: `STREAM:GROUP:CONSUMER`.
    pub fn ledger_name(&self) -> String {
        format!("{}:{}:{}", self.stream, self.group, self.consumer)
    }

    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// This consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The name a source gives its reading connection (`CLIENT SETNAME`):
    /// `weir:STREAM:GROUP:CONSUMER`, spaces and control characters made `_`. While a process
    /// reads as this consumer, the server lists a connection of that name
    /// ([`consumer_connected`]).
    pub fn client_name(&self) -> String {
        client_name(&self.stream, &self.group, &self.consumer)
    }
}

/// The name of the reading connection of `consumer` (see [`StreamGroup::client_name`]).
pub(super) fn client_name(stream: &str, group: &str, consumer: &str) -> String {
    format!("weir:{stream}:{group}:{consumer}")
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Whether `clients` (a `CLIENT LIST` reply) lists a connection named `name`.
pub(super) fn client_listed(clients: &str, name: &str) -> bool {
    client_idle(clients, name).is_some()
}

/// How long the connection named `name` in `clients` (a `CLIENT LIST` reply) has sent
/// nothing, as the server counts (`idle=`: the seconds its clock, in whole seconds, moved on
/// since, so more than one less than that really passed); the least of several of that name,
/// `None` when none is listed.
pub(super) fn client_idle(clients: &str, name: &str) -> Option<u64> {
    let name = format!("name={name}");
    clients
        .lines()
        .filter(|line| line.split(' ').any(|field| field == name))
        .map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("idle="))
                .and_then(|idle| idle.parse().ok())
                .unwrap_or(0)
        })
        .min()
}

/// Whether the server lists `consumer`'s reading connection as having sent a command less
/// than `idle` ms ago, or may have (the count is in whole seconds), by `clients` (a
/// `CLIENT LIST` reply): a consumer alive and reading, whose entries are its own however
/// long they have been pending (it holds them in windows not written yet, or its reads wait
/// for another's word).
pub(super) fn reading(clients: &str, stream: &str, group: &str, consumer: &str, idle: u64) -> bool {
    client_idle(clients, &client_name(stream, group, consumer))
        .is_some_and(|secs| secs.saturating_sub(1).saturating_mul(1_000) < idle)
}

/// Whether a connection reads as `group`'s consumer now (a [`RedisSource`](super::RedisSource) of another
/// process, alive or stopped): a fact the server holds (`CLIENT LIST`), not a guess from how
/// long the consumer has been quiet.
///
/// # Errors
///
/// Connecting, or `CLIENT LIST` (refused to a user without the right: `NOPERM`).
pub async fn consumer_connected(client: &redis::Client, group: &StreamGroup) -> RedisResult<bool> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let clients = client_list(&mut conn).await?;
    Ok(client_listed(&clients, &group.client_name()))
}

/// The server's clients (`CLIENT LIST TYPE normal`), for [`client_listed`].
pub(super) async fn client_list(conn: &mut impl redis::aio::ConnectionLike) -> RedisResult<String> {
    redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query_async(conn)
        .await
}

/// The time of an entry a reader admits as an event, or `None` for one it does not.
type TimeOf = dyn Fn(&Entry) -> Option<u64> + Send + Sync;

/// Which entries of a stream count toward its event time, and their time: a function of the
/// entry, the same for every consumer of the group (the entries a reader admits as events,
/// at their event time; `None` for an entry it rejects or filters out).
///
/// # How
///
/// Each read of new entries takes a number in the same transaction as the `XREADGROUP`
/// (`MULTI`): reads are numbered in the order the group delivered them. The reader then
/// posts its read's largest time (as [`StreamTime`] judges its entries, on the client) with
/// the read's first and last ids, and the server folds the posted reads in number order into
/// the *stream time through* each read. A read's entries come with the stream time through the
/// read before it ([`Entry::stream_time`]): when that read is not folded yet (its reader has
/// not posted), the reader of this one waits for it, polling. Meanwhile the reader's next
/// read is on its way, sent right behind the post: the entries of a read wait for the post's
/// reply, not for the next read.
///
/// A read whose reader will never post it (its process died, or it lost the reply) would hold
/// every later read back. Its entries lie between the last entry of the reads folded and the
/// first entry of the next read posted with entries: a waiting reader reads them (`XRANGE`),
/// judges them itself and posts for the missing reads, once the server says each of their
/// readers is gone: no connection of its name (`CLIENT LIST`), or the reader marked the read
/// as lost when it started reading again. A reader that is connected but silent (stopped) is
/// waited for as long as the group's `claim_idle` (for ever without one), after which its
/// entries may be claimed and its commits refused anyway.
///
/// An entry read again long after its read (claimed from a consumer that died, or re-read by
/// one started again) gets its stream time from the record of its read: each read folded
/// with entries is kept, with the stream time before it, until no entry of the group's
/// older than its last is pending; the source adds the times of the read's entries before
/// the one read again (`XRANGE`). A read never folded because nobody has read after it (its
/// reader died before posting it) is recovered first, as above, once its reader is gone or
/// marked it lost, or, for entries claimed (idle for the group's `claim_idle`), once it was
/// numbered at least `claim_idle` ago (`t:N`) by a reader still connected but silent: its
/// entries are all the group delivered after the last read folded (`XINFO GROUPS`' last
/// delivered id), posted only if no read was numbered meanwhile. While an entry's read cannot
/// be recovered yet (a later read not posted either, by a reader still connected and not
/// silent for `claim_idle` yet), a claim leaves the entry pending and a re-read waits; with
/// no `claim_idle`, a re-read entry whose read waits on a connected reader has none.
///
/// All of it lives in one hash, [`StreamGroup::stream_time_key`]: `seq` (the last number
/// given), `through` (every read up to it folded), `max` and `last` (the largest time and
/// the last id folded), and per read not folded yet `m:N` (its largest time, empty for none),
/// `f:N` and `l:N` (its first and last ids, empty for none), `w:N` (its reader), `t:N` (when
/// it was numbered, in ms on the server's clock), `gone:N`;
/// `p:N`, the stream time through read `N`, for the reader of `N + 1` to take; `own:NAME`,
/// the read a consumer has made and not posted. And in one sorted set,
/// [`StreamGroup::stream_reads_key`]: the reads folded, `FIRST:LAST:TIME` (ids written
/// with 20 digits each, so that they sort as text; the stream time before the read).
///
/// ```
/// use weir::io::redis::{StreamGroup, StreamTime};
///
/// let time = StreamTime::new(|entry| entry.field("timestamp")?.trim().parse().ok());
/// let group = StreamGroup::new("events", "weir", "worker-1").stream_time(time);
/// # let _ = group;
/// ```
#[derive(Clone)]
pub struct StreamTime(pub(super) Arc<TimeOf>);

impl StreamTime {
    /// Entries count at the time `time_of` gives them.
    pub fn new(time_of: impl Fn(&Entry) -> Option<u64> + Send + Sync + 'static) -> Self {
        StreamTime(Arc::new(time_of))
    }
}

impl fmt::Debug for StreamTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamTime(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENTS: &str = "\
id=3 addr=127.0.0.1:5 laddr=127.0.0.1:6379 fd=8 name=weir:s:g:a age=9 idle=4 flags=N db=0
id=4 addr=127.0.0.1:6 laddr=127.0.0.1:6379 fd=9 name=weir:s:g:b age=9 idle=7 flags=N db=0
id=5 addr=127.0.0.1:7 laddr=127.0.0.1:6379 fd=10 name=weir:s:g:b age=9 idle=2 flags=N db=0
id=6 addr=127.0.0.1:8 laddr=127.0.0.1:6379 fd=11 name=weir:s:g:ab age=9 idle=0 flags=N db=0
";

    #[test]
    fn a_connection_s_silence_is_the_least_of_its_name_s() {
        assert_eq!(client_idle(CLIENTS, "weir:s:g:a"), Some(4));
        assert_eq!(client_idle(CLIENTS, "weir:s:g:b"), Some(2));
        assert_eq!(client_idle(CLIENTS, "weir:s:g:c"), None);
        assert!(client_listed(CLIENTS, "weir:s:g:ab"));
        assert!(!client_listed(CLIENTS, "weir:s:g"));
    }

    #[test]
    fn a_consumer_reads_until_its_connection_is_surely_silent_for_the_claim_time() {
        // idle=4: more than 3 s passed, maybe not 4.
        assert!(reading(CLIENTS, "s", "g", "a", 3_001));
        assert!(!reading(CLIENTS, "s", "g", "a", 3_000));
        // One of b's connections was heard from 1 to 2 s ago.
        assert!(reading(CLIENTS, "s", "g", "b", 1_001));
        assert!(!reading(CLIENTS, "s", "g", "b", 1_000));
        // Not listed: not reading, however short the claim time.
        assert!(!reading(CLIENTS, "s", "g", "c", u64::MAX));
        // idle=0 with a claim time of zero.
        assert!(!reading(CLIENTS, "s", "g", "ab", 0));
    }
}
