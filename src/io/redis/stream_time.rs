//! [`StreamTime`]: a stream's event time as its consumer group has delivered it, kept on the
//! server, so that every consumer of the group judges lateness against the same prefix of the
//! stream as one reader of the whole stream would.
//!
//! One reader of a stream takes an event as late when an earlier event of the stream (in
//! stream order) was stamped far enough ahead of it. Several consumers each see a share of
//! the stream: the largest time a consumer has seen itself is below the stream's, so on its
//! own it would keep events that one reader drops. How the consumers share the stream's:
//! see [`StreamTime`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Value};
use tokio::time::{Instant, sleep};

use super::entry::{Entry, count_of, read_reply};
use super::group::{StreamGroup, StreamTime, client_list, client_listed, client_name};
use super::{query, replies};
use crate::window::Underway;

/// How often a reader looks again for the stream time it waits for, at most.
const POLL: Duration = Duration::from_millis(20);

/// How long a reader waits without the stream time moving before it looks at the missing
/// reads' readers.
const STALLED: Duration = Duration::from_millis(300);

/// `lose(h, consumer)`: marks the read of new entries `consumer` made last as lost, if it is
/// not posted (its post deletes the mark `own:CONSUMER`) and not folded. A macro, so that
/// the scripts that use it stay single literals.
macro_rules! lose {
    () => {
        r"
local function lose(h, consumer)
  local n = redis.call('HGET', h, 'own:' .. consumer)
  if n then
    redis.call('HDEL', h, 'own:' .. consumer)
    if tonumber(n) > tonumber(redis.call('HGET', h, 'through') or '0') then
      redis.call('HSET', h, 'gone:' .. n, 1)
    end
  end
end
"
    };
}

/// Numbers a read, and records its reader and when (ms, the server's clock). `KEYS`: the
/// hash; `ARGV`: the consumer. Run in the `MULTI` of the read. A read of the same consumer
/// still marked its own is lost: a consumer sends its next read after the post of the one
/// before, on the same connection, so that post failed (the connection lost before it ran),
/// and the failure that says so to the source may come after this read is numbered.
const NUMBER: &str = concat!(
    lose!(),
    r"
lose(KEYS[1], ARGV[1])
local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local now = redis.call('TIME')
now = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[1], 'w:' .. n, ARGV[1], 'own:' .. ARGV[1], n, 't:' .. n, now)
return n
"
);

/// The functions the scripts that fold share: `later` compares two times (decimal digits
/// without leading zeros), `pad` writes an id so that ids sort as text, `fold` folds the
/// posted reads in order into the hash `h`, records each read with entries in the sorted set
/// `r` (its first and last ids, and the stream time before it), and returns `through`.
const FOLD: &str = r"
local function later(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function pad(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 20 - #ms) .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq
end
local function fold(h, r)
  local through = tonumber(redis.call('HGET', h, 'through') or '0')
  local max = redis.call('HGET', h, 'max') or ''
  local last = false
  while true do
    local s = through + 1
    local m = redis.call('HGET', h, 'm:' .. s)
    if not m then break end
    local f = redis.call('HGET', h, 'f:' .. s)
    local l = redis.call('HGET', h, 'l:' .. s)
    if f and f ~= '' and l and l ~= '' then
      redis.call('ZADD', r, 0, pad(f) .. ':' .. pad(l) .. ':' .. max)
    end
    if m ~= '' and (max == '' or later(m, max)) then max = m end
    if l and l ~= '' then last = l end
    redis.call('HDEL', h, 'm:' .. s, 'f:' .. s, 'l:' .. s, 'w:' .. s, 't:' .. s, 'gone:' .. s)
    -- For the reader of the next read, unless that read is posted empty.
    local after = redis.call('HGET', h, 'f:' .. (s + 1))
    if after ~= '' then redis.call('HSET', h, 'p:' .. s, max) end
    through = s
  end
  redis.call('HSET', h, 'through', through)
  if max ~= '' then redis.call('HSET', h, 'max', max) end
  if last then redis.call('HSET', h, 'last', last) end
  return through
end
";

/// Posts a read. `KEYS`: the hash, the reads' sorted set, the stream; `ARGV`: its number, its
/// largest time (empty for none), its first and last ids (empty for an empty read), the
/// consumer, the group. Returns `{1, time}` with the stream time through the read before
/// (empty for none), or `{0, ''}` while that is not known yet. Lets go of the reads recorded
/// before the one that holds the group's oldest pending entry.
const POST: &str = r"
local h, n = KEYS[1], tonumber(ARGV[1])
local through = tonumber(redis.call('HGET', h, 'through') or '0')
if n > through and redis.call('HSETNX', h, 'm:' .. n, ARGV[2]) == 1 then
  redis.call('HSET', h, 'f:' .. n, ARGV[3], 'l:' .. n, ARGV[4])
end
if redis.call('HGET', h, 'own:' .. ARGV[5]) == ARGV[1] then
  redis.call('HDEL', h, 'own:' .. ARGV[5])
end
through = fold(h, KEYS[2])
local pending = redis.call('XPENDING', KEYS[3], ARGV[6])
if pending[1] == 0 then
  redis.call('DEL', KEYS[2])
else
  local holding = redis.call('ZREVRANGEBYLEX', KEYS[2], '(' .. pad(pending[2]) .. ';', '-', 'LIMIT', 0, 1)
  if holding[1] then redis.call('ZREMRANGEBYLEX', KEYS[2], '-', '(' .. holding[1]) end
end
local p = redis.call('HGET', h, 'p:' .. (n - 1))
if ARGV[3] == '' then
  redis.call('HDEL', h, 'p:' .. (n - 1))
  return {1, ''}
end
if n == 1 then return {1, ''} end
if p then
  redis.call('HDEL', h, 'p:' .. (n - 1))
  return {1, p}
end
if n - 1 <= through then return {2, ''} end
return {0, ''}
";

/// Takes the stream time through read `ARGV[1]` if it is known. `KEYS`: the hash. Returns
/// `{1, time}`, `{2, through}` when the read after it was recovered by another reader (see
/// [`TAKEN_OVER`]), or `{0, through}`.
const TAKE: &str = r"
local p = redis.call('HGET', KEYS[1], 'p:' .. ARGV[1])
if p then
  redis.call('HDEL', KEYS[1], 'p:' .. ARGV[1])
  return {1, p}
end
local through = redis.call('HGET', KEYS[1], 'through') or '0'
if tonumber(ARGV[1]) <= tonumber(through) then return {2, through} end
return {0, through}
";

/// What a read taken over fails with: its reader was silent past `claim_idle` (or taken for
/// gone) and another reader posted for it. The source reads again, starting with its own
/// pending entries (those of the read among them), which come without a stream time.
const TAKEN_OVER: &str = "a read of new entries was taken over by another consumer while \
                          this one was silent; reading again";

/// What is known of the reads after `through` up to `ARGV[1]` (empty: up to the last
/// numbered). `KEYS`: the hash. Returns `through`, `last` (empty for none), `seq`, then for
/// each read after `through`: whether it is posted (1/0), its first id, its reader, whether
/// it is marked lost (1/0), and how long ago it was numbered (ms, -1 if not recorded).
const INSPECT: &str = r"
local h = KEYS[1]
local through = tonumber(redis.call('HGET', h, 'through') or '0')
local seq = tonumber(redis.call('HGET', h, 'seq') or '0')
local now = redis.call('TIME')
now = now[1] * 1000 + math.floor(now[2] / 1000)
local out = {through, redis.call('HGET', h, 'last') or '', seq}
for s = through + 1, tonumber(ARGV[1]) or seq do
  local posted = redis.call('HEXISTS', h, 'm:' .. s)
  out[#out + 1] = posted
  out[#out + 1] = redis.call('HGET', h, 'f:' .. s) or ''
  out[#out + 1] = redis.call('HGET', h, 'w:' .. s) or ''
  out[#out + 1] = redis.call('HEXISTS', h, 'gone:' .. s)
  local at = tonumber(redis.call('HGET', h, 't:' .. s) or '')
  out[#out + 1] = at and math.max(now - at, 0) or -1
end
return out
";

/// Posts for reads whose readers are gone. `KEYS`: the hash, the reads' sorted set; `ARGV`:
/// `through` as inspected, `seq` as inspected (empty: not checked), the largest time of their
/// entries (empty for none), the first and the last id among them (empty for none), then
/// their numbers. Their entries are posted as the first's (one read, as far as anyone after
/// can tell), the others empty. Applied only if nothing moved since the inspection (and, with
/// `seq`, no read was numbered since): returns 1, or 0 when it did.
const RECOVER: &str = r"
local h = KEYS[1]
if tonumber(redis.call('HGET', h, 'through') or '0') ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] ~= '' and tonumber(redis.call('HGET', h, 'seq') or '0') ~= tonumber(ARGV[2]) then
  return 0
end
for i = 6, #ARGV do
  if redis.call('HEXISTS', h, 'm:' .. ARGV[i]) == 1 then return 0 end
end
for i = 6, #ARGV do
  local m, f, l = '', '', ''
  if i == 6 then m, f, l = ARGV[3], ARGV[4], ARGV[5] end
  redis.call('HSET', h, 'm:' .. ARGV[i], m, 'f:' .. ARGV[i], f, 'l:' .. ARGV[i], l)
  redis.call('HDEL', h, 'p:' .. (ARGV[i] - 1))
end
fold(h, KEYS[2])
return 1
";

/// Marks the read this consumer made and did not post as lost (it lost the reply, or its
/// process before this one died). `KEYS`: the hash; `ARGV`: the consumer.
pub(super) const LOST: &str = concat!(lose!(), "lose(KEYS[1], ARGV[1])\n");

/// A script that folds: [`FOLD`]'s functions, then `body`.
pub(super) fn folding(body: &str) -> String {
    format!("{FOLD}{body}")
}

/// A read of new entries: its entries, with the stream time before the read on its way, or
/// none and the id of the stream's last entry (to wait for entries after it).
pub(super) enum NewRead {
    /// The entries, and the stream time through the reads before theirs, on its way.
    Entries(Vec<Entry>, Stamp),
    Empty {
        last: Option<String>,
    },
}

impl NewRead {
    /// Whether the read found nothing new.
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, NewRead::Empty { .. })
    }
}

/// The stream time through the reads before a read of new entries, on its way: the reply
/// of the read's post, then, if the reads before it are not all posted yet, the wait for
/// them ([`read_new`]). Keeps the source's [`Underway`] flag up until it is done.
pub(super) type Stamp = Pin<Box<dyn Future<Output = RedisResult<Option<u64>>> + Send>>;

/// Reads up to `count` new entries as `g`'s consumer, numbered, and posts the read (see
/// [`StreamTime`]). The entries come with their stream time on its way ([`Stamp`]): the
/// post's reply, and the wait for the reads before it if they are not all posted yet (on
/// `waits`, another connection than `conn`'s), with `underway` up from the read's reply on.
/// The post is sent before this returns, so that a read sent next goes behind it and
/// travels while the entries wait.
pub(super) async fn read_new(
    conn: &mut ConnectionManager,
    waits: &ConnectionManager,
    g: &StreamGroup,
    count: usize,
    claim_idle: Option<Duration>,
    time: &StreamTime,
    underway: &Underway,
) -> RedisResult<NewRead> {
    let key = g.stream_time_key();
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("EVAL")
        .arg(NUMBER)
        .arg(1)
        .arg(&key)
        .arg(g.consumer());
    pipe.cmd("GET").arg(g.taken_key());
    pipe.cmd("XREADGROUP")
        .arg("GROUP")
        .arg(g.group())
        .arg(g.consumer())
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(g.stream())
        .arg(">")
        .cmd("XREVRANGE")
        .arg(g.stream())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1);
    let mut replies = replies(conn, &pipe).await?;
    let mut next = || replies.pop().unwrap_or(Value::Nil);
    let last: Vec<(String, Value)> = redis::from_redis_value(next())?;
    let mut entries = read_reply(next(), false);
    let taken = Some(count_of(Some(next()))?);
    for entry in &mut entries {
        entry.taken = taken;
    }
    let n: u64 = redis::from_redis_value(next())?;
    let largest = entries.iter().filter_map(|e| (time.0)(e)).max();
    let (first, final_id) = match (entries.first(), entries.last()) {
        (Some(first), Some(last)) => (first.id.as_str(), last.id.as_str()),
        _ => ("", ""),
    };
    let mut post = redis::cmd("EVAL");
    post.arg(folding(POST))
        .arg(3)
        .arg(&key)
        .arg(g.stream_reads_key())
        .arg(g.stream())
        .arg(n)
        .arg(largest.map(|t| t.to_string()).unwrap_or_default())
        .arg(first)
        .arg(final_id)
        .arg(g.consumer())
        .arg(g.group());
    if entries.is_empty() {
        let _: (u8, String) = post.query_async(conn).await?;
        let last = last.into_iter().next().map(|(id, _)| id);
        return Ok(NewRead::Empty { last });
    }
    let busy = underway.raise();
    let mut posting = conn.clone();
    let reply = sent(Box::pin(async move {
        post.query_async::<(u8, String)>(&mut posting).await
    }))
    .await;
    // The wait polls on a connection of its own: on `conn`, each look would queue behind the
    // read sent next, and behind its wait on the server when it finds nothing.
    let (mut conn, g, time) = (waits.clone(), g.clone(), time.clone());
    let stamp = async move {
        let _busy = busy;
        let (ready, before) = reply.await?;
        let before = match ready {
            1 => before,
            2 => return Err(taken_over()),
            _ => wait_for(&mut conn, &g, &key, n, claim_idle, &time).await?,
        };
        // Written by the server from times this module wrote: whole numbers below 2^64.
        Ok(before.parse().ok())
    };
    Ok(NewRead::Entries(entries, Box::pin(stamp)))
}

/// Polls `future` once, so that what it sends goes to the connection's queue behind what
/// was sent before it; returns it to be awaited (or its output, if it is done already).
async fn sent<T: Send + 'static>(
    mut future: Pin<Box<dyn Future<Output = T> + Send>>,
) -> Pin<Box<dyn Future<Output = T> + Send>> {
    match poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        Poll::Ready(done) => Box::pin(std::future::ready(done)),
        Poll::Pending => future,
    }
}

/// Waits for the stream time through read `n - 1`, recovering the reads that hold it back
/// once their readers are gone.
async fn wait_for(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    key: &str,
    n: u64,
    claim_idle: Option<Duration>,
    time: &StreamTime,
) -> RedisResult<String> {
    let mut pause = Duration::from_millis(1);
    let mut through = 0;
    let (mut since, mut looked) = (Instant::now(), Instant::now());
    loop {
        let (ready, got): (u8, String) = redis::cmd("EVAL")
            .arg(TAKE)
            .arg(1)
            .arg(key)
            .arg(n - 1)
            .query_async(conn)
            .await?;
        match ready {
            1 => return Ok(got),
            2 => return Err(taken_over()),
            _ => {}
        }
        let now: u64 = got.parse().unwrap_or(0);
        if now != through {
            (through, since) = (now, Instant::now());
        } else if since.elapsed() >= STALLED && looked.elapsed() >= STALLED {
            looked = Instant::now();
            // Stalled past `claim_idle`: every read holding this one back is taken over.
            let patience = claim_idle
                .filter(|idle| since.elapsed() >= *idle)
                .map(|_| Duration::ZERO);
            recover(conn, g, key, Some(n), patience, time).await?;
        }
        wait_a_little(&mut pause).await;
    }
}

/// Sleeps `pause`, then doubles it, up to [`POLL`]: the wait before looking at the server
/// again for what a reader waits for.
async fn wait_a_little(pause: &mut Duration) {
    sleep(*pause).await;
    *pause = (*pause * 2).min(POLL);
}

/// Posts for the reads between the last folded and the next posted with entries, if every
/// one of them not posted is lost, or its reader gone, or it was numbered at least
/// `patience` ago (zero: whenever it was) while its reader, connected, stayed silent.
async fn recover(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    key: &str,
    n: Option<u64>,
    patience: Option<Duration>,
    time: &StreamTime,
) -> RedisResult<()> {
    let reply: Vec<Value> = redis::cmd("EVAL")
        .arg(INSPECT)
        .arg(1)
        .arg(key)
        .arg(n.map(|n| n.to_string()).unwrap_or_default())
        .query_async(conn)
        .await?;
    let mut items = reply.into_iter();
    let through: u64 = redis::from_redis_value(items.next().unwrap_or(Value::Nil))?;
    let last: String = redis::from_redis_value(items.next().unwrap_or(Value::Nil))?;
    let seq: u64 = redis::from_redis_value(items.next().unwrap_or(Value::Nil))?;
    let rest: Vec<Value> = items.collect();
    let mut missing = Vec::new();
    let mut until = None;
    let mut clients = None;
    for (i, read) in rest.chunks(5).enumerate() {
        let s = through + 1 + i as u64;
        let posted: u8 = redis::from_redis_value_ref(&read[0])?;
        let first: String = redis::from_redis_value_ref(&read[1])?;
        if posted == 1 {
            if !first.is_empty() {
                until = Some(first);
                break;
            }
            continue;
        }
        let reader: String = redis::from_redis_value_ref(&read[2])?;
        let lost: u8 = redis::from_redis_value_ref(&read[3])?;
        let age: i64 = redis::from_redis_value_ref(&read[4])?;
        let silent_long = patience.is_some_and(|patience| {
            let age = u64::try_from(age).ok().map(Duration::from_millis);
            patience.is_zero() || age.is_some_and(|age| age >= patience)
        });
        if lost == 0 && !silent_long {
            if clients.is_none() {
                clients = Some(client_list(conn).await?);
            }
            let name = client_name(g.stream(), g.group(), &reader);
            let listed = client_listed(clients.as_deref().unwrap_or(""), &name);
            if listed {
                return Ok(());
            }
        }
        missing.push(s);
    }
    if missing.is_empty() {
        return Ok(());
    }
    // With no read posted after them, up to the last numbered (`n` is `None`), their entries
    // are all the group delivered after the last folded: through its last delivered id, as
    // long as no read is numbered meanwhile (checked when posting).
    let (until, checked) = match (until, n) {
        (Some(first), _) => (format!("({first}"), None),
        (None, None) => match last_delivered(conn, g).await? {
            Some(id) => (id, Some(seq)),
            None => return Ok(()),
        },
        (None, Some(_)) => return Ok(()),
    };
    // Their entries: after the last folded, before the first of the next read with entries.
    let (mut largest, mut first_id, mut final_id) = (None::<u64>, None::<String>, None);
    let mut from = if last.is_empty() {
        "-".to_owned()
    } else {
        format!("({last}")
    };
    loop {
        let reply: Value = redis::cmd("XRANGE")
            .arg(g.stream())
            .arg(&from)
            .arg(&until)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        let page: Vec<Entry> = match reply {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|e| Entry::from_value(e, true))
                .collect(),
            _ => Vec::new(),
        };
        largest = page.iter().filter_map(|e| (time.0)(e)).chain(largest).max();
        match page.last() {
            Some(e) => {
                from = format!("({}", e.id);
                first_id = first_id.or_else(|| page.first().map(|e| e.id.clone()));
                final_id = Some(e.id.clone());
            }
            None => break,
        }
    }
    let mut eval = redis::cmd("EVAL");
    eval.arg(folding(RECOVER)).arg(2).arg(key);
    eval.arg(g.stream_reads_key()).arg(through);
    eval.arg(checked.map(|s| s.to_string()).unwrap_or_default());
    eval.arg(largest.map(|t| t.to_string()).unwrap_or_default());
    eval.arg(first_id.unwrap_or_default());
    eval.arg(final_id.unwrap_or_default());
    let _: u8 = eval.arg(&missing).query_async(conn).await?;
    Ok(())
}

/// The recorded reads that hold the entries of `ids`, by their first id.
async fn recorded_reads(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    ids: &[&str],
) -> RedisResult<BTreeMap<(u64, u64), RecordedRead>> {
    let key = g.stream_reads_key();
    let mut pipe = redis::pipe();
    for id in ids {
        let id = super::id_parts(id).unwrap_or_default();
        pipe.cmd("ZREVRANGEBYLEX")
            .arg(&key)
            .arg(format!("({};", padded(id)))
            .arg("-")
            .arg("LIMIT")
            .arg(0)
            .arg(1);
    }
    let found: Vec<Vec<String>> = query(&pipe, conn).await?;
    let mut reads: BTreeMap<(u64, u64), RecordedRead> = BTreeMap::new();
    for (at, (wanted, read)) in ids.iter().zip(found).enumerate() {
        let Some(read) = read.first() else { continue };
        let mut parts = read.splitn(3, ':');
        let (Some(first), Some(last), Some(before)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Some(first), Some(last), Some(id)) = (
            super::id_parts(first),
            super::id_parts(last),
            super::id_parts(wanted),
        ) else {
            continue;
        };
        if id > last {
            continue;
        }
        let read = reads.entry(first).or_insert_with(|| RecordedRead {
            first: format!("{}-{}", first.0, first.1),
            before: before.parse().ok(),
            at: Vec::new(),
        });
        read.at.push(at);
    }
    Ok(reads)
}

/// The recorded reads that hold the entries of `ids`, as [`recorded_reads`], after
/// recovering the reads not folded yet if some entry's is one: when nobody posted after it
/// and its reader is gone (or marked it lost, as a consumer does when it starts again, or
/// stayed silent past `patience`), this reader posts for it.
async fn recovered_reads(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    time: &StreamTime,
    patience: Option<Duration>,
    ids: &[&str],
) -> RedisResult<BTreeMap<(u64, u64), RecordedRead>> {
    let reads = recorded_reads(conn, g, ids).await?;
    let found: usize = reads.values().map(|read| read.at.len()).sum();
    if found == ids.len() {
        return Ok(reads);
    }
    recover(conn, g, &g.stream_time_key(), None, patience, time).await?;
    recorded_reads(conn, g, ids).await
}

/// Of `ids` (entries about to be claimed, or re-read), those whose read cannot be given its
/// stream time yet, even after recovering the reads it can ([`recovered_reads`], with
/// `patience`): entries after the last one folded (so in a read numbered but not folded), in
/// no read recorded. A read after theirs is not posted either, by a reader that is connected
/// and was not silent for `patience` yet (or still reading). Stamped now, they would come
/// without a stream time; once that read is posted or taken over, they can be. An entry up to the last one folded that no recorded
/// read holds was never in a numbered read (a reader without the stream time delivered
/// it): it is not held back.
pub(super) async fn not_stamped_yet(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    time: &StreamTime,
    patience: Option<Duration>,
    ids: &[&str],
) -> RedisResult<HashSet<String>> {
    let reads = recovered_reads(conn, g, time, patience, ids).await?;
    let mut held = vec![true; ids.len()];
    for read in reads.values() {
        for &at in &read.at {
            held[at] = false;
        }
    }
    if !held.contains(&true) {
        return Ok(HashSet::new());
    }
    let last: Option<String> = redis::cmd("HGET")
        .arg(g.stream_time_key())
        .arg("last")
        .query_async(conn)
        .await?;
    let last = last.as_deref().and_then(super::id_parts);
    Ok(ids
        .iter()
        .zip(held)
        .filter(|&(id, held)| held && super::id_parts(id) > last)
        .map(|(id, _)| id.to_string())
        .collect())
}

/// A read as recorded when folded, with the entries read again that it holds.
struct RecordedRead {
    /// Its first id, as the stream writes it.
    first: String,
    /// The stream time before it.
    before: Option<u64>,
    /// Its entries read again, by their place among them.
    at: Vec<usize>,
}

/// An id written so that ids sort as text (`FOLD`'s `pad`).
fn padded((ms, seq): (u64, u64)) -> String {
    format!("{ms:020}-{seq:020}")
}

/// Gives entries read again (claimed from another consumer, or re-read from this one's
/// pending entries) their stream time: for each, the stream time before its read, as the
/// read was recorded when folded, and the times of the entries before it in that read. That
/// is the largest time of every entry the group delivered before it, as for an entry read
/// new. A read not folded yet is recovered first when nobody posted after it and its reader
/// is gone or marked it lost, or (with `patience`, for entries claimed) its reader,
/// connected, has not posted it for that long since it was numbered; an entry whose read is
/// still not folded keeps none.
pub(super) async fn stamp_again(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    time: &StreamTime,
    patience: Option<Duration>,
    entries: &mut [Entry],
) -> RedisResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let reads = recovered_reads(conn, g, time, patience, &ids).await?;
    if reads.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for RecordedRead { first, at, .. } in reads.values() {
        let until = at
            .iter()
            .map(|&i| entries[i].id.as_str())
            .max_by_key(|id| super::id_parts(id));
        pipe.cmd("XRANGE")
            .arg(g.stream())
            .arg(first)
            .arg(until.unwrap_or(first.as_str()));
    }
    let ranges: Vec<Value> = query(&pipe, conn).await?;
    for (RecordedRead { before, at, .. }, range) in reads.values().zip(ranges) {
        let range: Vec<Entry> = match range {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|e| Entry::from_value(e, true))
                .collect(),
            _ => continue,
        };
        // The largest time before each entry of the read, in order.
        let mut so_far = *before;
        let mut before_each = HashMap::new();
        for e in &range {
            before_each.insert(e.id.as_str(), so_far);
            so_far = so_far.max((time.0)(e));
        }
        for &i in at {
            entries[i].stream_time = before_each.get(entries[i].id.as_str()).copied().flatten();
        }
    }
    Ok(())
}

/// Gives the entries this consumer re-reads from its own pending ones their stream time, as
/// [`stamp_again`], recovering a read whose reader stayed silent for `patience` (the
/// group's `claim_idle`). First, while the read of one of them cannot be recovered yet
/// ([`not_stamped_yet`]: the read after it is not posted either, by a reader connected and
/// not silent for that long yet), it waits, polling, as a read new waits for the stream time
/// before it: that read is posted, or becomes old enough to be taken over. Without
/// `patience`, nothing takes a connected reader's read over: such entries keep none.
pub(super) async fn stamp_own_again(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    time: &StreamTime,
    patience: Option<Duration>,
    entries: &mut [Entry],
) -> RedisResult<()> {
    if patience.is_some() && !entries.is_empty() {
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let mut pause = Duration::from_millis(1);
        while !not_stamped_yet(conn, g, time, patience, &ids)
            .await?
            .is_empty()
        {
            wait_a_little(&mut pause).await;
        }
    }
    stamp_again(conn, g, time, patience, entries).await
}

/// The id of the last entry the group delivered (`XINFO GROUPS`), if any.
async fn last_delivered(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
) -> RedisResult<Option<String>> {
    let info: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(g.stream())
        .query_async(conn)
        .await?;
    Ok(info
        .groups
        .into_iter()
        .find(|group| group.name == g.group())
        .map(|group| group.last_delivered_id)
        .filter(|id| id.as_str() != "0-0"))
}

/// The error of a read taken over ([`TAKEN_OVER`]): worth reading again.
fn taken_over() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
        "TAKENOVER",
        TAKEN_OVER.to_owned(),
    ))
}
