//! [`Committer`]: output entries and the acknowledgements of the entries they came from, in
//! one transaction.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::{ConnectionManager, MultiplexedConnection};

use super::{StreamGroup, connect, connect_once, query};
use crate::concurrent::{Backoff, retry};

/// The commit, run by the server as one script: nothing else runs between its steps, and
/// its effects reach the append-only file and the replicas together (as `MULTI`/`EXEC`).
///
/// `KEYS`: the input stream, the output stream, and the ledger's hashes: commit numbers,
/// progress, refusals, and the inputs' streams, groups and consumers (set again if missing:
/// a consumer taken out of the ledger as gone that commits after all is listed whole); then
/// the group's count of claims that took entries. `ARGV`: the group, the consumer, the
/// committer's name in the ledger, the commit's number, the progress to record (or an empty
/// string), the count of claims the ids were all read under (or an empty string), the least
/// and the greatest id, the number of ids `n`, the `n` ids, then each output entry as its
/// number of arguments and its field names and values.
///
/// The ids' owner is checked with one `XPENDING` over the consumer's own pending entries
/// between the least and the greatest, unless the count of claims is still the one the ids
/// were read under: no claim has taken an entry from anyone since, so each id is still
/// pending for the consumer it was delivered to, this one.
///
/// Every check comes before the first write (a script's writes are not undone by a later
/// error): an output key of another type is `WRONGTYPE`, a missing group `NOGROUP`.
///
/// A commit numbered at or below the one the ledger holds was applied already (a retry of a
/// commit whose reply was lost): `{0, 0}`. An id that is not pending for the consumer (it
/// was claimed by another, or acknowledged) refuses the whole commit, counted in the
/// ledger's refusals: `{-1, ids not owned}`. Otherwise the entries are added, the ids
/// acknowledged and the number recorded (and the progress, if given): `{1, ids acknowledged}`.
const SCRIPT: &str = r"
local kind = redis.call('TYPE', KEYS[2]).ok
if kind ~= 'stream' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE the output key holds a ' .. kind .. ', not a stream')
end
local group, consumer, field = ARGV[1], ARGV[2], ARGV[3]
local seq = tonumber(ARGV[4])
local last = tonumber(redis.call('HGET', KEYS[3], field) or '0')
if seq <= last then return {0, 0} end
local n = tonumber(ARGV[9])
local first, last_id = 10, 9 + n
local not_owned = 0
local unmoved = ARGV[6] ~= '' and (redis.call('GET', KEYS[9]) or '0') == ARGV[6]
if n > 0 and not unmoved then
  local owned = {}
  local mine = redis.call('XPENDING', KEYS[1], group, ARGV[7], ARGV[8], 4294967295, consumer)
  for _, e in ipairs(mine) do owned[e[1]] = true end
  for i = first, last_id do
    if not owned[ARGV[i]] then not_owned = not_owned + 1 end
  end
end
if not_owned > 0 then
  redis.call('HINCRBY', KEYS[5], field, 1)
  return {-1, not_owned}
end
local at = last_id + 1
while at <= #ARGV do
  local count = tonumber(ARGV[at])
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, at + 1, at + count))
  at = at + count + 1
end
local acked = 0
for i = first, last_id, 1000 do
  acked = acked + redis.call('XACK', KEYS[1], group, unpack(ARGV, i, math.min(i + 999, last_id)))
end
redis.call('HSET', KEYS[3], field, seq)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], field, ARGV[5]) end
redis.call('HSETNX', KEYS[6], field, KEYS[1])
redis.call('HSETNX', KEYS[7], field, group)
redis.call('HSETNX', KEYS[8], field, consumer)
return {1, acked}
";

/// A Lua function the scripts that take a consumer out of the ledger share:
/// `forget(stream, group, consumer, name, hashes)` deletes `name` from the ledger's `hashes`
/// and `consumer` from `group` (`XGROUP DELCONSUMER`) if nothing is pending for it there, and
/// says whether it did.
pub(super) const FORGET: &str = r"
local function forget(stream, group, consumer, name, hashes)
  if #redis.call('XPENDING', stream, group, '-', '+', 1, consumer) > 0 then return false end
  for _, hash in ipairs(hashes) do redis.call('HDEL', hash, name) end
  redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
  return true
end
";

/// Takes a committer that has ended out of the ledger and out of its input group, if nothing
/// is pending for it there and its last commit is the ledger's (after [`FORGET`]). `KEYS`:
/// the input stream and the ledger's [listing](LedgerKeys::listing), the commit numbers first
/// (its refusals stay counted). `ARGV`: the group, the consumer, the name in the ledger, the
/// number of its last commit. Returns 1 if it left (or had left: a retry after a lost reply),
/// 0 if not.
const LEAVE: &str = r"
local last = redis.call('HGET', KEYS[2], ARGV[3])
if last and last ~= ARGV[4] then return 0 end
if forget(KEYS[1], ARGV[1], ARGV[2], ARGV[3], {unpack(KEYS, 2)}) then return 1 end
return 0
";

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The entries were added and the ids acknowledged, together.
    Applied,
    /// Nothing was applied: `not_owned` of the ids were no longer pending for this consumer
    /// (claimed by another consumer, or acknowledged). Whatever this consumer derived from
    /// its entries is stale: it should stop, and read again what is still its own.
    Refused {
        /// Ids that were not this consumer's.
        not_owned: u64,
    },
}

/// The input entries a [commit](Committer::commit) acknowledges: their ids, and the least
/// count of claims they were read under ([`Entry::taken`](super::Entry::taken)).
///
/// Made from bare ids (`From<Vec<String>>`, `From<&[String]>`), the count is unknown and the
/// commit checks each id's owner; made with [`push`](Self::push) from entries a
/// [`RedisSource`](super::RedisSource) read, the commit skips that check while no claim in
/// the group has taken an entry since the oldest of them was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acks {
    ids: Vec<String>,
    /// The least count among the ids, `None` if one's is unknown (`u64::MAX` for none).
    taken: Option<u64>,
}

impl Acks {
    /// No ids.
    pub fn new() -> Self {
        Acks {
            ids: Vec::new(),
            taken: Some(u64::MAX),
        }
    }

    /// `ids`, of entries all read when the group's count of claims was at least `taken`
    /// (the least of their [`Entry::taken`](super::Entry::taken); `None` when unknown).
    pub fn of(ids: Vec<String>, taken: Option<u64>) -> Self {
        Acks { ids, taken }
    }

    /// Adds the id of an entry read when the group's count of claims was `taken` (its
    /// [`Entry::taken`](super::Entry::taken); `None` when unknown).
    pub fn push(&mut self, id: String, taken: Option<u64>) {
        self.ids.push(id);
        self.taken = self.taken.zip(taken).map(|(a, b)| a.min(b));
    }

    /// The ids, in the order they were added.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The least count of claims among the ids (`None` if one's is unknown, `u64::MAX`
    /// without ids).
    pub fn taken(&self) -> Option<u64> {
        self.taken
    }

    /// The ids, in the order they were added.
    pub fn into_ids(self) -> Vec<String> {
        self.ids
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl Default for Acks {
    fn default() -> Self {
        Acks::new()
    }
}

impl From<Vec<String>> for Acks {
    fn from(ids: Vec<String>) -> Self {
        Acks::of(ids, None)
    }
}

impl From<&[String]> for Acks {
    fn from(ids: &[String]) -> Self {
        Acks::from(ids.to_vec())
    }
}

impl From<&Vec<String>> for Acks {
    fn from(ids: &Vec<String>) -> Self {
        Acks::from(ids.to_vec())
    }
}

/// Writes entries to an output stream and acknowledges the input entries they came from in
/// one transaction: a crash, a kill or a lost connection at any instant leaves either both
/// done or neither, so that what a consumer derived from an entry is counted once.
///
/// Each [`commit`](Self::commit) is applied whole by the server, after checking that every
/// id it acknowledges is still pending for this consumer in the group: a consumer that was
/// stopped long enough for another to claim its entries (a *zombie*) has its commit
/// refused, never applied twice. An entry delivered to this consumer stays its own until a
/// claim takes it, and every claim a [`RedisSource`](super::RedisSource) makes raises the
/// group's count of claims that took entries ([`StreamGroup::taken_key`]) in the claim's
/// own script. So when that count is still the one the ids were all read under
/// ([`Acks`]), the commit is a `MULTI`/`EXEC` on a connection that `WATCH`es the count
/// (and the output) from the check on: a claim in between makes the server refuse the
/// transaction. Otherwise
/// (or when a claim came in between) the commit is a Lua script that checks each id with
/// `XPENDING` before writing. An `XCLAIM` made by hand is not counted: claim through a
/// source, or commit bare ids. Commits are numbered, and the server keeps
/// each committer's last number in a [`Ledger`] of the output stream (under the
/// committer's [`name`](Self::name), `STREAM:GROUP:CONSUMER`): a commit sent again after its
/// reply was lost is recognised and not applied twice. A connected committer starts from the
/// number the ledger holds, and is listed in it from then on.
///
/// The input and the output stream must be on the same server (in a cluster, in the same
/// hash slot: `{tag}` both keys). A failed commit (connection lost, server loading) is sent
/// again after a backoff (by default 50 ms doubling up to 2 s, 5 retries) and its error
/// returned only when the retries are spent.
pub struct Committer {
    conn: ConnectionManager,
    client: redis::Client,
    /// The commits' connection (one that never reconnects by itself, for `WATCH`), made at
    /// the first commit and again after an error.
    commits: Option<MultiplexedConnection>,
    group: StreamGroup,
    output: String,
    ledger: LedgerKeys,
    /// Its name in the ledger.
    name: String,
    /// The number of the last commit applied.
    seq: u64,
    /// The progress the last commit that gave one recorded.
    progress: Option<String>,
    backoff: Backoff,
    retried: u64,
    acknowledged: u64,
    written: u64,
    refused: u64,
}

impl Committer {
    /// A committer acknowledging entries of `group`'s stream as its consumer, and writing to
    /// the stream `output` of the same server; it goes on from the last commit the ledger
    /// holds for that consumer.
    ///
    /// # Errors
    ///
    /// Connecting; the input stream has no such group on this server (create it first, as
    /// [`RedisSource::connect`](super::RedisSource::connect) does); reading the ledger
    /// (`WRONGTYPE` if `OUTPUT:commits` is not a hash).
    pub async fn connect(
        client: &redis::Client,
        group: &StreamGroup,
        output: &str,
    ) -> RedisResult<Committer> {
        let mut conn = connect(client, Duration::ZERO).await?;
        let groups: RedisResult<redis::streams::StreamInfoGroupsReply> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(group.stream())
            .query_async(&mut conn)
            .await;
        let groups = match groups {
            Ok(reply) => reply.groups,
            // A stream that does not exist has no groups.
            Err(e)
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
            {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let names = groups.into_iter().map(|g| g.name);
        if !names.into_iter().any(|name| name == group.group()) {
            let why = "the input stream has no such group on the output's server: the \
                       input and the output are committed together, on one server";
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "NOGROUP",
                format!("{} {}: {why}", group.stream(), group.group()),
            )));
        }
        let ledger = LedgerKeys::of(output);
        let name = group.ledger_name();
        // Listed from now on (number 0 until a first commit), with its input, and what it
        // recorded last.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("HSETNX")
            .arg(&ledger.commits)
            .arg(&name)
            .arg(0)
            .ignore();
        for (key, value) in ledger.input(group) {
            pipe.cmd("HSET").arg(key).arg(&name).arg(value).ignore();
        }
        pipe.cmd("HGET")
            .arg(&ledger.commits)
            .arg(&name)
            .cmd("HGET")
            .arg(&ledger.progress)
            .arg(&name);
        let (seq, progress): (u64, Option<String>) = query(&pipe, &mut conn).await?;
        Ok(Committer {
            conn,
            client: client.clone(),
            commits: None,
            group: group.clone(),
            output: output.to_owned(),
            ledger,
            name,
            seq,
            progress,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).retries(5),
            retried: 0,
            acknowledged: 0,
            written: 0,
            refused: 0,
        })
    }

    /// Retries failed commits as `backoff` says.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Adds `entries` (each its fields, in order) to the output stream and acknowledges
    /// `ids` ([`Acks`], or bare ids), all or nothing; refused when an id is no longer this
    /// consumer's.
    ///
    /// # Errors
    ///
    /// The last error, once the retries are spent: then the commit may or may not have been
    /// applied, and the next commit (numbered after it) is refused only if it was not and
    /// its ids have been claimed since.
    pub async fn commit<K, V>(
        &mut self,
        ids: impl Into<Acks>,
        entries: &[Vec<(K, V)>],
    ) -> RedisResult<Commit>
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        self.apply(&ids.into(), entries, None).await
    }

    /// As [`commit`](Self::commit), and records `progress` in the ledger in the same
    /// transaction (how far the consumer's output goes, as it writes it): a committer
    /// connected later reads it back with [`progress`](Self::progress).
    ///
    /// # Errors
    ///
    /// As [`commit`](Self::commit).
    pub async fn commit_through<K, V>(
        &mut self,
        ids: impl Into<Acks>,
        entries: &[Vec<(K, V)>],
        progress: &str,
    ) -> RedisResult<Commit>
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        self.apply(&ids.into(), entries, Some(progress)).await
    }

    /// The progress the last applied commit recorded ([`commit_through`](Self::commit_through)),
    /// or that the ledger held when this committer connected.
    pub fn progress(&self) -> Option<&str> {
        self.progress.as_deref()
    }

    /// For a consumer that has stopped for good after its last commit: takes it out of the
    /// ledger (its refusals stay counted) and out of its input group (`XGROUP DELCONSUMER`),
    /// so that neither grows with every consumer name that ever ran. Only if nothing is
    /// pending for it in the group (a consumer that stopped holding entries still counts for
    /// the windows they may fall in) and the ledger's last commit for its name is this
    /// committer's (not another process's of the same name since). Whether it left.
    ///
    /// A consumer of that name started again later is listed again when it connects.
    ///
    /// # Errors
    ///
    /// The query's, once the retries are spent (sent again, it is applied once).
    pub async fn leave(&mut self) -> RedisResult<bool> {
        let mut eval = redis::cmd("EVAL");
        let listing = self.ledger.listing();
        eval.arg(format!("{FORGET}{LEAVE}")).arg(1 + listing.len());
        eval.arg(self.group.stream()).arg(&listing);
        eval.arg(self.group.group()).arg(self.group.consumer());
        eval.arg(&self.name).arg(self.seq);
        let conn = self.conn.clone();
        let left: u8 = retry(self.backoff.clone(), || {
            let (eval, mut conn) = (eval.clone(), conn.clone());
            async move { eval.query_async(&mut conn).await }
        })
        .await?;
        Ok(left == 1)
    }

    async fn apply<K, V>(
        &mut self,
        acks: &Acks,
        entries: &[Vec<(K, V)>],
        progress: Option<&str>,
    ) -> RedisResult<Commit>
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        let ids = &acks.ids;
        if ids.is_empty() && entries.is_empty() && progress.is_none() {
            return Ok(Commit::Applied);
        }
        let seq = self.seq + 1;
        let watched = match acks.taken {
            Some(taken) if !ids.is_empty() => {
                Some(self.watched(taken, seq, ids, entries, progress))
            }
            _ => None,
        };
        let mut conn = self.commits.take();
        let (client, scripted) = (&self.client, || self.scripted(acks, seq, entries, progress));
        let mut attempts = 0;
        let reply: RedisResult<((i64, u64), MultiplexedConnection)> =
            retry(self.backoff.clone(), || {
                attempts += 1;
                // A connection that failed is dropped with its attempt: WATCH went with it.
                let (conn, scripted, watched) = (conn.take(), &scripted, &watched);
                async move {
                    let mut conn = match conn {
                        Some(conn) => conn,
                        None => connect_once(client).await?,
                    };
                    if let Some(watched) = watched
                        && let Some(acked) = watched.apply(&mut conn).await?
                    {
                        return Ok(((1, acked), conn));
                    }
                    let (reply,): ((i64, u64),) = query(&scripted(), &mut conn).await?;
                    Ok((reply, conn))
                }
            })
            .await;
        let reply = reply.map(|(reply, conn)| {
            self.commits = Some(conn);
            reply
        });
        self.retried += attempts - 1;
        match reply? {
            (-1, not_owned) => {
                self.refused += 1;
                Ok(Commit::Refused { not_owned })
            }
            (applied, acked) => {
                self.seq = seq;
                if let Some(progress) = progress {
                    self.progress = Some(progress.to_owned());
                }
                // Applied by an attempt whose reply was lost: every id was this consumer's.
                let acked = if applied == 0 {
                    ids.len() as u64
                } else {
                    acked
                };
                self.acknowledged += acked;
                self.written += entries.len() as u64;
                Ok(Commit::Applied)
            }
        }
    }

    /// The commit numbered `seq` as the script ([`SCRIPT`]), after an `UNWATCH` (a watched
    /// attempt before it on the connection may have left its keys watched).
    fn scripted<K, V>(
        &self,
        acks: &Acks,
        seq: u64,
        entries: &[Vec<(K, V)>],
        progress: Option<&str>,
    ) -> redis::Pipeline
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        let ids = &acks.ids;
        let mut eval = redis::cmd("EVAL");
        eval.arg(SCRIPT).arg(9);
        eval.arg(self.group.stream()).arg(&self.output);
        let ledger = &self.ledger;
        eval.arg(&ledger.commits)
            .arg(&ledger.progress)
            .arg(&ledger.refused);
        eval.arg(&ledger.streams)
            .arg(&ledger.groups)
            .arg(&ledger.consumers)
            .arg(self.group.taken_key());
        eval.arg(self.group.group()).arg(self.group.consumer());
        let (least, greatest) = bounds(ids);
        eval.arg(&self.name).arg(seq).arg(progress.unwrap_or(""));
        match acks.taken {
            Some(taken) => eval.arg(taken),
            None => eval.arg(""),
        };
        eval.arg(least).arg(greatest);
        eval.arg(ids.len()).arg(ids);
        for fields in entries {
            eval.arg(fields.len() * 2);
            for (k, v) in fields {
                eval.arg(k).arg(v);
            }
        }
        let mut pipe = redis::pipe();
        pipe.cmd("UNWATCH").ignore().add_command(eval);
        pipe
    }

    /// The commit numbered `seq` as a [`Watched`] transaction, for `ids` all read under the
    /// group's count of claims `taken`.
    fn watched<K, V>(
        &self,
        taken: u64,
        seq: u64,
        ids: &[String],
        entries: &[Vec<(K, V)>],
        progress: Option<&str>,
    ) -> Watched
    where
        K: redis::ToRedisArgs,
        V: redis::ToRedisArgs,
    {
        let ledger = &self.ledger;
        let taken_key = self.group.taken_key();
        let mut check = redis::pipe();
        check
            .cmd("WATCH")
            .arg(&taken_key)
            .arg(&self.output)
            .ignore();
        check.cmd("GET").arg(&taken_key);
        check.cmd("HGET").arg(&ledger.commits).arg(&self.name);
        check.cmd("TYPE").arg(&self.output);
        let mut apply = redis::pipe();
        apply.atomic();
        for fields in entries {
            let xadd = apply.cmd("XADD").arg(&self.output).arg("*");
            for (k, v) in fields {
                xadd.arg(k).arg(v);
            }
            xadd.ignore();
        }
        apply
            .cmd("XACK")
            .arg(self.group.stream())
            .arg(self.group.group())
            .arg(ids);
        apply
            .cmd("HSET")
            .arg(&ledger.commits)
            .arg(&self.name)
            .arg(seq)
            .ignore();
        if let Some(progress) = progress {
            apply
                .cmd("HSET")
                .arg(&ledger.progress)
                .arg(&self.name)
                .arg(progress)
                .ignore();
        }
        for (key, value) in ledger.input(&self.group) {
            apply
                .cmd("HSETNX")
                .arg(key)
                .arg(&self.name)
                .arg(value)
                .ignore();
        }
        Watched {
            check,
            taken,
            seq,
            apply,
        }
    }

    /// Its name in the ledger: `STREAM:GROUP:CONSUMER`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Entries acknowledged by the commits applied so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// Entries written by the commits applied so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Commits refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Commits sent again after a failure so far.
    pub fn retried(&self) -> u64 {
        self.retried
    }
}

/// How many times a [`Watched`] commit is tried before it is left to the script.
const WATCHED_TRIES: usize = 3;

/// A commit whose ids were all read under the group's count of claims `taken`, made without
/// the script: `check` watches the count and the output key (`WATCH`) and reads the count,
/// the ledger's last commit number for the committer and the output key's type; if the
/// count is still `taken`, the number below `seq` and the key a stream (or none), `apply`
/// adds the entries, acknowledges the ids and records the number in one `MULTI`/`EXEC`,
/// which the server refuses whole if a claim raised the count since the check, or the
/// output changed (another committer's entries, or a key of another type, which would fail
/// the `XADD`s alone). The same commit the script
/// makes when it finds the count unmoved, with the server's own `XACK` (a script's
/// arguments cost the server more than the acknowledgements themselves).
struct Watched {
    check: redis::Pipeline,
    taken: u64,
    seq: u64,
    apply: redis::Pipeline,
}

impl Watched {
    /// Checks, then applies: the ids acknowledged, or `None` if the count moved, the commit
    /// was applied before (a reply lost) or the output is not a stream; the script then
    /// decides. A transaction refused because a watched key changed is checked and sent
    /// again ([`WATCHED_TRIES`] in all): consumers whose windows close together commit to
    /// one output together.
    async fn apply(&self, conn: &mut MultiplexedConnection) -> RedisResult<Option<u64>> {
        for _ in 0..WATCHED_TRIES {
            if !self.check(conn).await? {
                return Ok(None);
            }
            if let Some(acked) = self.exec(conn).await? {
                return Ok(Some(acked));
            }
        }
        Ok(None)
    }

    /// Watches the count and the output, and says whether the commit can go without the
    /// script.
    async fn check(&self, conn: &mut MultiplexedConnection) -> RedisResult<bool> {
        let (now, last, kind): (Option<u64>, Option<u64>, String) =
            query(&self.check, conn).await?;
        let output = kind == "stream" || kind == "none";
        Ok(now.unwrap_or(0) == self.taken && last.unwrap_or(0) < self.seq && output)
    }

    /// The transaction: the ids acknowledged, `None` if a watched key changed.
    async fn exec(&self, conn: &mut MultiplexedConnection) -> RedisResult<Option<u64>> {
        let applied: Option<(u64,)> = query(&self.apply, conn).await?;
        Ok(applied.map(|(acked,)| acked))
    }
}

/// The ledger of the committers that write to one output stream: hashes keyed by committer
/// name (`STREAM:GROUP:CONSUMER`): `OUTPUT:commits` (the number of its last commit),
/// `OUTPUT:progress` (what its last commit recorded as its progress, if any),
/// `OUTPUT:refused` (its commits refused), `OUTPUT:claims` (its claims that took entries,
/// with a [ledger](StreamGroup::ledger)), and its input (`OUTPUT:streams`, `OUTPUT:groups`,
/// `OUTPUT:consumers`). Every change to it comes with the output entries
/// of the same commit, in one transaction. A reader of the output stream reads the ledger
/// with [`Ledger::snapshot`].
pub struct Ledger {
    conn: ConnectionManager,
    keys: LedgerKeys,
}

/// The keys of the ledger of `output`.
#[derive(Debug, Clone)]
pub(super) struct LedgerKeys {
    output: String,
    commits: String,
    progress: String,
    refused: String,
    claims: String,
    /// Each committer's input: its stream, group and consumer.
    streams: String,
    groups: String,
    consumers: String,
}

impl LedgerKeys {
    /// Where the ledger lists a committer's input, with `group`'s stream, group and consumer.
    fn input<'a>(&'a self, group: &'a StreamGroup) -> [(&'a str, &'a str); 3] {
        [
            (&self.streams, group.stream()),
            (&self.groups, group.group()),
            (&self.consumers, group.consumer()),
        ]
    }

    pub(super) fn of(output: &str) -> LedgerKeys {
        LedgerKeys {
            output: output.to_owned(),
            commits: format!("{output}:commits"),
            progress: format!("{output}:progress"),
            refused: format!("{output}:refused"),
            claims: format!("{output}:claims"),
            streams: format!("{output}:streams"),
            groups: format!("{output}:groups"),
            consumers: format!("{output}:consumers"),
        }
    }

    /// The hashes that list a committer, commit numbers first: all but its refusals.
    pub(super) fn listing(&self) -> [&str; 6] {
        [
            &self.commits,
            &self.progress,
            &self.claims,
            &self.streams,
            &self.groups,
            &self.consumers,
        ]
    }
}

/// Reads a ledger whole. `KEYS`: the commit numbers, the progress, the claims, the inputs'
/// streams, groups and consumers, the output stream. For each committer listed: its name, its
/// progress (or nil), its entries pending in its input group (`XPENDING`'s summary, once
/// per group), its claims counted; then the output's last id (or nil).
const SNAPSHOT: &str = r"
local rows, counts = {}, {}
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  local stream = redis.call('HGET', KEYS[4], name)
  local group = redis.call('HGET', KEYS[5], name)
  local consumer = redis.call('HGET', KEYS[6], name)
  local pending = 0
  if stream and group and consumer then
    local at = stream .. '\0' .. group
    if counts[at] == nil then
      counts[at] = {}
      local summary = redis.pcall('XPENDING', stream, group)
      if type(summary) == 'table' and summary.err == nil and summary[4] then
        for _, c in ipairs(summary[4]) do counts[at][c[1]] = tonumber(c[2]) end
      end
    end
    pending = counts[at][consumer] or 0
  end
  local claims = tonumber(redis.call('HGET', KEYS[3], name) or '0')
  rows[#rows + 1] = {name, redis.call('HGET', KEYS[2], name), pending, claims}
end
local last = redis.call('XREVRANGE', KEYS[7], '+', '-', 'COUNT', 1)
local through = false
if last[1] then through = last[1][1] end
return {rows, through}
";

/// What a [`Ledger`] lists of one committer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The progress its last commit recorded (`None`: none yet).
    pub progress: Option<String>,
    /// Its entries pending in its input group (delivered to it and not acknowledged).
    pub pending: u64,
    /// Its claims that took entries, counted with each ([`StreamGroup::ledger`]).
    pub claims: u64,
}

/// What a [`Ledger`] held at one instant, and how far the output stream went then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// Every committer listed, by name.
    pub committers: HashMap<String, Recorded>,
    /// The id of the output stream's last entry then (`None`: no entry). Everything the
    /// listed committers had committed is at or before it.
    pub through: Option<String>,
}

impl Ledger {
    /// The ledger of the stream `output`, on a connection of its own.
    ///
    /// # Errors
    ///
    /// Connecting.
    pub async fn connect(client: &redis::Client, output: &str) -> RedisResult<Ledger> {
        Ok(Ledger {
            conn: connect(client, Duration::ZERO).await?,
            keys: LedgerKeys::of(output),
        })
    }

    /// The ledger, each committer's entries pending in its input group, and the output
    /// stream's last id, read in one script: a reader of the output that has read through
    /// [`through`](LedgerSnapshot::through) has read every entry committed with the progress
    /// the snapshot shows.
    ///
    /// # Errors
    ///
    /// The query's (`WRONGTYPE` when a key is not a hash, or the output not a stream).
    pub async fn snapshot(&mut self) -> RedisResult<LedgerSnapshot> {
        type Row = (String, Option<String>, u64, u64);
        let k = &self.keys;
        let mut eval = redis::cmd("EVAL");
        eval.arg(SNAPSHOT).arg(7);
        eval.arg(&k.commits).arg(&k.progress).arg(&k.claims);
        eval.arg(&k.streams).arg(&k.groups).arg(&k.consumers);
        eval.arg(&k.output);
        let (rows, through): (Vec<Row>, Option<String>) = eval.query_async(&mut self.conn).await?;
        let committers = rows
            .into_iter()
            .map(|(name, progress, pending, claims)| {
                let recorded = Recorded {
                    progress,
                    pending,
                    claims,
                };
                (name, recorded)
            })
            .collect();
        Ok(LedgerSnapshot {
            committers,
            through,
        })
    }

    /// Commits refused to the committer `name` so far.
    ///
    /// # Errors
    ///
    /// The query's.
    pub async fn refused(&mut self, name: &str) -> RedisResult<u64> {
        let refused: Option<u64> = redis::cmd("HGET")
            .arg(&self.keys.refused)
            .arg(name)
            .query_async(&mut self.conn)
            .await?;
        Ok(refused.unwrap_or(0))
    }
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("output", &self.keys.output)
            .finish_non_exhaustive()
    }
}

/// The least and the greatest of stream ids (`-` and `+`, every id, when one is not of the
/// form `MS-SEQ`).
fn bounds(ids: &[String]) -> (String, String) {
    let parsed: Option<Vec<(u64, u64)>> = ids.iter().map(|id| super::id_parts(id)).collect();
    let shown = |(ms, seq): (u64, u64)| format!("{ms}-{seq}");
    match parsed.as_deref() {
        Some([first, rest @ ..]) => {
            let (least, greatest) = rest
                .iter()
                .fold((*first, *first), |(lo, hi), &id| (lo.min(id), hi.max(id)));
            (shown(least), shown(greatest))
        }
        _ => ("-".to_owned(), "+".to_owned()),
    }
}

impl fmt::Debug for Committer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Committer")
            .field("group", &self.group)
            .field("output", &self.output)
            .field("seq", &self.seq)
            .field("acknowledged", &self.acknowledged)
            .field("written", &self.written)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "../../../tests/common/redis_server.rs"]
mod redis_server;

#[cfg(test)]
mod tests {
    use super::redis_server::Server;
    use super::{Acks, Commit, Committer, StreamGroup, bounds, connect_once};

    #[test]
    fn acks_keep_the_least_count_and_lose_it_to_an_unknown_one() {
        let mut acks = Acks::new();
        assert_eq!((acks.is_empty(), acks.taken()), (true, Some(u64::MAX)));
        acks.push("1-0".to_owned(), Some(4));
        acks.push("2-0".to_owned(), Some(2));
        acks.push("3-0".to_owned(), Some(7));
        assert_eq!((acks.len(), acks.taken()), (3, Some(2)));
        acks.push("4-0".to_owned(), None);
        acks.push("5-0".to_owned(), Some(1));
        assert_eq!(acks.taken(), None);
        assert_eq!(acks.ids(), ["1-0", "2-0", "3-0", "4-0", "5-0"]);
        // Bare ids: checked one by one.
        let ids = vec!["1-0".to_owned()];
        assert_eq!(Acks::from(&ids).taken(), None);
        assert_eq!(Acks::from(&ids[..]), Acks::of(ids.clone(), None));
        assert_eq!(Acks::from(ids).into_ids(), ["1-0"]);
    }

    #[test]
    fn ids_are_bounded_as_numbers() {
        let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        assert_eq!(
            (bounds(&ids(&["10-2", "9-7", "10-10", "100-0"]))),
            ("9-7".to_owned(), "100-0".to_owned())
        );
        assert_eq!(
            bounds(&ids(&["18446744073709551615-18446744073709551615"])),
            (
                "18446744073709551615-18446744073709551615".to_owned(),
                "18446744073709551615-18446744073709551615".to_owned()
            )
        );
        for odd in [&["1-0", "x"][..], &[]] {
            assert_eq!(bounds(&ids(odd)), ("-".to_owned(), "+".to_owned()));
        }
    }

    async fn ask<T: redis::FromRedisValue>(
        conn: &mut redis::aio::MultiplexedConnection,
        cmd: &str,
        args: &[&str],
    ) -> T {
        redis::cmd(cmd).arg(args).query_async(conn).await.unwrap()
    }

    async fn pending(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
        let summary: Vec<redis::Value> = ask(conn, "XPENDING", &["events", "g"]).await;
        redis::from_redis_value_ref(&summary[0]).unwrap()
    }

    /// A commit made without the script watches the group's count of claims between its
    /// check and its transaction: a claim in between refuses the transaction whole, and the
    /// script then checks each id.
    #[tokio::test]
    async fn a_claim_between_a_watched_commit_s_check_and_its_transaction_refuses_it() {
        let server = Server::start();
        let client = server.client();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        for i in 0..4 {
            let _: String = ask(&mut conn, "XADD", &["events", "*", "n", &i.to_string()]).await;
        }
        let _: () = ask(&mut conn, "XGROUP", &["CREATE", "events", "g", "0"]).await;
        let read: redis::streams::StreamReadReply = ask(
            &mut conn,
            "XREADGROUP",
            &["GROUP", "g", "a", "STREAMS", "events", ">"],
        )
        .await;
        let ids: Vec<String> = read.keys[0].ids.iter().map(|e| e.id.clone()).collect();
        let a = StreamGroup::new("events", "g", "a");
        let mut committer = Committer::connect(&client, &a, "out").await.unwrap();
        let window = [vec![("window", "1")]];
        let mut commits = connect_once(&client).await.unwrap();
        let watched = committer.watched(0, 1, &ids, &window, None);
        assert!(watched.check(&mut commits).await.unwrap());
        // b claims one of a's entries, counted as a source's claim counts it.
        let _: redis::Value = ask(&mut conn, "XCLAIM", &["events", "g", "b", "0", &ids[3]]).await;
        let _: u64 = ask(&mut conn, "INCR", &[&a.taken_key()]).await;
        assert_eq!(watched.exec(&mut commits).await.unwrap(), None);
        assert_eq!(ask::<u64>(&mut conn, "XLEN", &["out"]).await, 0);
        assert_eq!(pending(&mut conn).await, 4);
        // The commit itself goes on to the script, which finds the claimed id.
        let refused = committer
            .commit(Acks::of(ids.clone(), Some(0)), &window)
            .await;
        assert_eq!(refused.unwrap(), Commit::Refused { not_owned: 1 });
        // a's own entries, read under the count as it is now: another committer's entries
        // in between refuse the transaction too; then it is applied without the script.
        let own = &ids[..3];
        let watched = committer.watched(1, 1, own, &window, Some("p"));
        assert!(watched.check(&mut commits).await.unwrap());
        let _: String = ask(&mut conn, "XADD", &["out", "*", "window", "0"]).await;
        assert_eq!(watched.exec(&mut commits).await.unwrap(), None);
        assert_eq!(watched.apply(&mut commits).await.unwrap(), Some(3));
        assert_eq!(ask::<u64>(&mut conn, "XLEN", &["out"]).await, 2);
        assert_eq!(pending(&mut conn).await, 1);
        let seq: u64 = ask(&mut conn, "HGET", &["out:commits", "events:g:a"]).await;
        let progress: String = ask(&mut conn, "HGET", &["out:progress", "events:g:a"]).await;
        assert_eq!((seq, progress.as_str()), (1, "p"));
        // Sent again (its reply lost), or to an output of another type: left to the script.
        assert!(!watched.check(&mut commits).await.unwrap());
        let _: () = ask(&mut conn, "SET", &["other", "x"]).await;
        let other = Committer::connect(&client, &a, "other").await.unwrap();
        let wrong = other.watched(1, 1, own, &window, None);
        assert!(!wrong.check(&mut commits).await.unwrap());
    }
}
