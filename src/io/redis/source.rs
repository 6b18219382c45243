//! [`RedisSource`]: one stream read through a consumer group.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use redis::aio::ConnectionManager;
use redis::{RedisResult, Value};

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::commit::{FORGET, LedgerKeys};
use super::entry::{Entry, Previous, count_of, read_reply};
use super::group::{StreamGroup, client_list, client_listed, client_name, reading};
use super::stream_time::{
    LOST, NewRead, Stamp, folding, not_stamped_yet, read_new, stamp_again, stamp_own_again,
};
use super::{Acker, connect, query, replies};
use crate::poll::{POLL_BUDGET, wake_self};
use crate::sync::{Arc, AtomicU64, Ordering, StdArc};
use crate::window::{Raised, Underway};

/// Where the reading is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Re-reading this consumer's own pending entries, from after this id.
    Pending(String),
    /// Claiming other consumers' idle entries, from this id.
    Claim(String),
    /// Reading new entries (`>`).
    New,
}

/// A read's result: its entries, the phase after it, and, for the first page of this
/// consumer's pending entries, the claims the ledger had counted for it just before.
struct Read {
    entries: Vec<Entry>,
    next: Phase,
    claims: Option<u64>,
    /// For the first page of this consumer's pending entries, with a ledger: the progress
    /// its last commit recorded.
    own_progress: Option<Option<String>>,
    /// Reading new entries with a stream time: the stream time before them, on its way.
    stamp: Option<Stamp>,
    /// A read of new entries that found some: when it was asked.
    asked: Option<Instant>,
}

type Fetch = Pin<Box<dyn Future<Output = RedisResult<Read>> + Send>>;

/// Claims what an `XCLAIM` would, counts the claim in the ledger if it took any entry, and
/// reads the progress the owners' last commits recorded; an owner that no connection reads
/// as any more (it died) and has nothing left pending after the claim leaves the ledger and
/// the group, as [`Committer::leave`](super::Committer::leave) would (after [`FORGET`]).
/// As [`CLAIM`] without a ledger. `KEYS`: the stream and the group's count of claims
/// ([`StreamGroup::taken_key`]); `ARGV`: the group, the consumer, the least idle time, then
/// the ids. The claimed entries, and the count after the claim.
const CLAIM_ALONE: &str = r"
local claimed, taken = claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], 4)
return {claimed, taken}
";

/// A Lua function the claims share: `claim(stream, count, group, consumer, idle, first)`
/// claims the ids `ARGV[first..]` as `XCLAIM` would and, if it took any entry, raises the
/// group's count of claims `count` ([`StreamGroup::taken_key`]); the claimed entries and the
/// count after the claim.
const TAKE: &str = r"
local function claim(stream, count, group, consumer, idle, first)
  local claimed = redis.call('XCLAIM', stream, group, consumer, idle, unpack(ARGV, first))
  local taken = tonumber(redis.call('GET', count) or '0')
  if #claimed > 0 then taken = redis.call('INCR', count) end
  return claimed, taken
end
";

/// A claim that takes entries also raises the group's count of claims that took entries
/// (see [`Entry::taken`]). `KEYS`: the stream, that count, then the ledger's
/// [listing](LedgerKeys::listing): commit numbers, progress, claims, and inputs' streams,
/// groups and consumers; `ARGV`: the group, the consumer, the least idle time, its name in
/// the ledger, the number of owners `k`, for each owner its name in the ledger, its consumer
/// name and whether it is gone (`1` or `0`), then the ids. The claimed entries, each owner's
/// progress (or nil), and the count after the claim.
const CLAIM: &str = r"
local k = tonumber(ARGV[5])
local claimed, taken = claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], 6 + 3 * k)
if #claimed > 0 then redis.call('HINCRBY', KEYS[5], ARGV[4], 1) end
local progress = {}
for i = 1, k do
  local at = 6 + 3 * (i - 1)
  local name, owner = ARGV[at], ARGV[at + 1]
  progress[i] = redis.call('HGET', KEYS[4], name)
  if ARGV[at + 2] == '1' then forget(KEYS[1], ARGV[1], owner, name, {unpack(KEYS, 3)}) end
end
return {claimed, progress, taken}
";

/// Creates the group if missing, reading the stream from its start (`MKSTREAM`), and then
/// clears its stream time. `KEYS`: the stream, its stream time's keys (the hash, the reads);
/// `ARGV`: the group. Run after the stream time's `FOLD` (its `pad`).
///
/// A group that exists keeps its stream time, unless that has folded a read past the last
/// entry the group delivered: the group was made again by hand (`XGROUP CREATE`), or moved
/// back (`XGROUP SETID`), since, and the stream time is of reads it has not made. Nothing
/// else moves a group's last delivered id back, so a group read by running consumers keeps
/// its stream time, whenever they connect.
const CREATE: &str = r"
local created = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(created) == 'table' and created.err then
  if string.sub(created.err, 1, 9) ~= 'BUSYGROUP' then return created end
  local last = redis.call('HGET', KEYS[2], 'last')
  if not last then return end
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local fields = {}
    for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
    if fields['name'] == ARGV[1] and pad(last) <= pad(fields['last-delivered-id']) then
      return
    end
  end
end
redis.call('DEL', KEYS[2], KEYS[3])
";

/// How many of a source's claims (those counted in the ledger) it has handed out whole: a
/// handle that another task reads ([`RedisSource::claims`]).
#[derive(Debug, Clone, Default)]
pub struct Claims(Arc<AtomicU64>);

impl Claims {
    /// Claims whose every entry the source has yielded.
    pub fn handed_out(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether a source is re-reading its consumer's own pending entries: from the moment it
/// asks for the first page of such a pass (at its start, or after a failed read) until it
/// has handed out every entry the pass found. A handle that another task reads
/// ([`RedisSource::rereads`]).
///
/// An entry the consumer has finished with, but whose acknowledgement the server may not
/// have applied yet, can come back in such a pass. Once the acknowledgement is applied and
/// no pass [`is_on`](Self::is_on), no pass can bring the entry back: one asked later is
/// answered after the acknowledgement.
#[derive(Debug, Clone)]
pub struct Rereads(Arc<(AtomicU64, AtomicU64)>);

impl Default for Rereads {
    fn default() -> Self {
        Rereads(Arc::new((AtomicU64::new(0), AtomicU64::new(0))))
    }
}

impl Rereads {
    /// Whether a pass is on: asked, and not all its entries handed out yet.
    pub fn is_on(&self) -> bool {
        let (asked, out) = &*self.0;
        // The count handed out first: a pass asked meanwhile shows in the later load.
        let out = out.load(Ordering::Acquire);
        asked.load(Ordering::Acquire) > out
    }

    /// One more pass is asked.
    pub(super) fn ask(&self) {
        self.0.0.fetch_add(1, Ordering::Release);
    }

    /// The passes asked so far, as the source that asks them counts: the last one's number.
    fn asked(&self) -> u64 {
        self.0.0.load(Ordering::Relaxed)
    }

    /// Pass `pass` is handed out whole, and every pass before it is over.
    pub(super) fn handed_out(&self, pass: u64) {
        self.0.1.fetch_max(pass, Ordering::Release);
    }
}

/// A stream of the entries of one Redis stream, read through a consumer group.
///
/// # State machine
///
/// Three phases. First it re-reads its own pending entries (`XREADGROUP ... STREAMS s 0`, paged):
/// the entries delivered to this consumer name before a restart and never acknowledged. Then it
/// reads new entries (`>`), `count` at a time, each read blocking up to `block` on the server (with
/// a [stream time](StreamGroup::stream_time), a transaction that cannot block reads them, numbered,
/// and when it finds nothing the source waits up to `block` for an entry after the stream's last,
/// then reads once more; at its start, a read this consumer's name made and never posted is marked
/// lost). Whenever a read comes back empty, and at least once every `claim_idle` while reads find
/// entries, if `claim_idle` is set, it claims the entries other consumers left pending at least
/// that long (`XPENDING ... IDLE`, paged, then `XCLAIM` of those not its own: its own it still
/// holds; nor those of a consumer still reading, whose connection the server lists as active
/// within `claim_idle`, see [`StreamGroup::claim_idle`]; with a stream time, nor those whose
/// read cannot be given theirs yet, left to a later pass) and yields them before reading new
/// ones again. With a [ledger](StreamGroup::ledger), a claim that takes entries is counted there
/// in the same script, and [`claims`](Self::claims) says how many the source has handed out
/// whole (re-reading its pending entries hands out every claim counted before). One read is in flight at a time, started as soon as the buffer is half
/// empty, or as soon as a read's entries wait for their stream time (they go out once it is in,
/// before any read after them), so that the next batch travels while this one is handled. A
/// read runs as a task of its own on the Tokio runtime (`tokio::spawn`, aborted when the
/// source is dropped): it takes its number, reads and posts whether or not the source is
/// polled meanwhile, so that a consumer busy downstream (writing its windows) never holds the
/// other consumers' reads back. The entries are yielded one per poll.
///
/// The stream does not end on its own: a stream may always get more entries. With
/// [`until_idle`](Self::until_idle) it ends at the first read that finds nothing new and
/// nothing to claim (a read that finds nothing waits `block`, or the wait given to
/// [`until_idle_for`](Self::until_idle_for), in the process, not on the server, then reads
/// once more: a server ends a blocked read on its own timer, up to 100 ms late at its default
/// `hz 10`; with no wait, the read that finds nothing is the last). A failed read is yielded
/// as `Err` and the phase goes back to re-reading this consumer's pending entries (a read
/// whose reply was lost may have delivered some; so may entries whose acknowledgement is
/// still on its way, which [`rereads`](Self::rereads) lets the consumer tell); the next poll
/// reads again, over a connection that re-establishes itself.
///
/// # Wake-up contract
///
/// `Pending` when the read in flight (its task's `JoinHandle`, which registers the waker) is
/// and nothing is buffered, or when the stream time of the read whose entries come next is
/// (a future of the `redis` client, which registers the waker), or after
/// [`POLL_BUDGET`](crate::POLL_BUDGET) reads in one poll that came back at once (then it
/// wakes its own task first).
///
/// # Panics
///
/// Polled outside a Tokio runtime (a read is a task on it); and with the panic of a read's
/// task, if it panicked.
#[must_use = "streams do nothing unless polled"]
pub struct RedisSource {
    conn: ConnectionManager,
    /// With a stream time: the connection a read's entries wait for the stream time on,
    /// polling the server, so that the waits do not queue behind the reads on `conn` (the
    /// next read, a wait on the server for new entries, up to `block`).
    waits: Option<ConnectionManager>,
    group: StreamGroup,
    phase: Phase,
    buffer: VecDeque<Entry>,
    /// The read in flight, a task of its own.
    fetch: Option<JoinHandle<RedisResult<Read>>>,
    /// Reading until idle: how long a read that finds nothing waits before the last one.
    until_idle: Option<Duration>,
    done: bool,
    read: u64,
    /// When the last claim pass started.
    last_claim: Instant,
    /// The last read of new entries found none.
    found_nothing: bool,
    /// Claims counted in the ledger that this source knows of.
    claimed: u64,
    /// When each claim is handed out whole: `(entries yielded, claims)`.
    marks: VecDeque<(u64, u64)>,
    /// When each read of new entries is handed out whole, and when it was asked: the server
    /// had nothing newer then, so once its entries are out (in the windows, or dropped on
    /// the way) the flag hears so (`(entries yielded, asked)`).
    asked: VecDeque<(u64, Instant)>,
    handed_out: Claims,
    /// When each pass over this consumer's pending entries is handed out whole
    /// (`(entries yielded, pass)`).
    pass_ends: VecDeque<(u64, u64)>,
    rereads: Rereads,
    /// The claims the ledger counted before this consumer's pending entries were last
    /// re-read from the start.
    resync: Option<u64>,
    /// Re-reading the pending entries this consumer's name held before this source started
    /// (the first pass, not one after a failed read), and who held them.
    starting: bool,
    previous: Option<StdArc<Previous>>,
    /// Up while the source works on entries it has read: see [`Self::underway`].
    underway: Underway,
    /// A read's entries waiting for their stream time, which go out before any read after
    /// them.
    stamping: Option<(Vec<Entry>, Stamp)>,
    /// A read that came back while the one before waited for its stream time.
    arrived: Option<RedisResult<Read>>,
    /// A read in flight when the one before it failed, waited for (and its result dropped)
    /// before the next read starts.
    abandoned: Option<JoinHandle<RedisResult<Read>>>,
    /// Up from a failed read until a read succeeds: an outage is no quiet.
    failing: Option<Raised>,
}

impl fmt::Debug for RedisSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSource")
            .field("group", &self.group)
            .field("phase", &self.phase)
            .field("buffered", &self.buffer.len())
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl RedisSource {
    /// Connects twice (one connection for the blocking reads, one for the acknowledgements),
    /// three times with a [stream time](StreamGroup::stream_time) (one more for the waits
    /// for it), creates the group if it is missing (reading the stream from its start,
    /// `MKSTREAM`), and returns the source and its [`Acker`].
    ///
    /// # Errors
    ///
    /// Connecting, or creating the group for a reason other than its existing already.
    pub async fn connect(
        client: &redis::Client,
        group: StreamGroup,
    ) -> RedisResult<(RedisSource, Acker)> {
        let mut conn = connect(client, group.block).await?;
        // A new group starts without a stream time: one left by a group of that name before
        // is not its. Cleared in the script that creates the group, before any read of it,
        // or that finds the group made again or moved back by hand.
        let () = redis::cmd("EVAL")
            .arg(folding(CREATE))
            .arg(3)
            .arg(&group.stream)
            .arg(group.stream_time_key())
            .arg(group.stream_reads_key())
            .arg(&group.group)
            .query_async(&mut conn)
            .await?;
        let acks = connect(client, Duration::ZERO).await?;
        let waits = match group.stream_time {
            Some(_) => Some(connect(client, Duration::ZERO).await?),
            None => None,
        };
        let acker = Acker::new(
            acks,
            &group.stream,
            &group.group,
            &group.consumer,
            group.ack_backoff.clone(),
        );
        let source = RedisSource {
            conn,
            waits,
            group,
            phase: Phase::Pending("0".to_owned()),
            buffer: VecDeque::new(),
            fetch: None,
            until_idle: None,
            done: false,
            read: 0,
            last_claim: Instant::now(),
            found_nothing: false,
            claimed: 0,
            marks: VecDeque::new(),
            asked: VecDeque::new(),
            handed_out: Claims::default(),
            pass_ends: VecDeque::new(),
            rereads: Rereads::default(),
            resync: None,
            starting: true,
            previous: None,
            underway: Underway::vouching(),
            stamping: None,
            arrived: None,
            abandoned: None,
            failing: None,
        };
        Ok((source, acker))
    }

    /// Ends the stream at the first read that finds no new entry and nothing to claim,
    /// instead of waiting for more: for draining a stream (a batch job, a test). A read that
    /// finds nothing waits the group's [`block`](StreamGroup::block), then reads once more.
    pub fn until_idle(self) -> Self {
        let wait = self.group.block;
        self.until_idle_for(wait)
    }

    /// [`until_idle`](Self::until_idle), with a read that finds nothing waiting `wait`
    /// before the one more read that ends the stream if it finds nothing either. With a
    /// zero `wait`, the first read that finds nothing ends it: for a stream whose
    /// producers have finished.
    pub fn until_idle_for(mut self, wait: Duration) -> Self {
        self.until_idle = Some(wait);
        self
    }

    /// Entries yielded so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The stream, group and consumer read.
    pub fn group(&self) -> &StreamGroup {
        &self.group
    }

    /// A flag that is up while this source works on entries it has read rather than waits
    /// for new ones: a read of new entries waiting for the [stream
    /// time](StreamGroup::stream_time) of the reads before it (another consumer's post, or
    /// `claim_idle` for one that is stopped), a claim of entries, a re-read of this
    /// consumer's pending entries. Meanwhile new entries may wait on the server for it. It
    /// is up too from a read that failed until one succeeds: a read asked during an outage
    /// and answered once it ends may find nothing of what producers sent meanwhile. The flag
    /// is down while the source waits for new entries, and during a claim pass that finds
    /// nothing to claim (a pass runs whenever nothing is new: a flag that moved every time
    /// would keep a quiet stream's windows open for ever).
    ///
    /// The flag [vouches](Underway::vouching) for quiet: each read of new entries says it
    /// [heard](Underway::heard) that nothing newer was on the server as of the instant it
    /// asked, at once when it found none, else once it has handed out all it found (so that
    /// entries dropped before the windows, filtered out say, leave the stream quiet for
    /// them); a wait on the server for new entries (`block`) that ends with none, on time,
    /// says so as of its end. A server that is slow, frozen or gone answers nothing, so the
    /// time since the last read was asked is not quiet. With an idle timeout shorter than
    /// `block`, a quiet stream's windows close when such a wait ends.
    ///
    /// Give it to the windows downstream
    /// ([`EventTimeWindow::underway`](crate::window::EventTimeWindow::underway)) so that
    /// their idle timeout does not take that work for a quiet stream, and close windows the
    /// entries still on their way belong to.
    pub fn underway(&self) -> Underway {
        self.underway.clone()
    }

    /// A handle that tells whether the source is re-reading its consumer's pending entries
    /// ([`Rereads`]).
    pub fn rereads(&self) -> Rereads {
        self.rereads.clone()
    }

    /// A handle on how many of its claims counted in the ledger this source has handed out
    /// whole (0 without a [ledger](StreamGroup::ledger)).
    pub fn claims(&self) -> Claims {
        self.handed_out.clone()
    }

    /// Takes a read's result: its entries into the buffer and its phase on, or, for an
    /// error, the phase back to this consumer's pending entries (a read whose reply was lost
    /// may have delivered some) and the error to yield.
    fn take(&mut self, result: RedisResult<Read>) -> RedisResult<()> {
        let Read {
            mut entries,
            mut next,
            claims,
            own_progress,
            stamp,
            asked,
        } = match result {
            Ok(read) => {
                self.failing = None;
                read
            }
            Err(e) => {
                self.failing = Some(self.underway.raise());
                // Entries of the reads below may be dropped, to be read again.
                self.asked.clear();
                self.stamping = None;
                self.arrived = None;
                // A read on its way behind the one that failed: it ends before the
                // pending entries are read again, so that those it delivered, if any, are
                // among them.
                self.abandoned = self.fetch.take();
                self.phase = Phase::Pending("0".to_owned());
                self.starting = false;
                self.previous = None;
                return Err(e);
            }
        };
        // Idle: a read of new entries that found none, and a claim pass (if any) that found
        // none either.
        let idle = entries.is_empty()
            && next == Phase::New
            && match self.phase {
                Phase::New => true,
                Phase::Claim(_) => self.found_nothing,
                Phase::Pending(_) => false,
            };
        // The reads after which this read's entries are all handed out.
        let out_after = self.read + (self.buffer.len() + entries.len()) as u64;
        if let Some(asked) = asked {
            self.asked.push_back((out_after, asked));
        }
        match &self.phase {
            Phase::New => {
                self.found_nothing = entries.is_empty();
                // Claims on a timer too, however busy the stream.
                let due = self
                    .group
                    .claim_idle
                    .is_some_and(|idle| self.last_claim.elapsed() >= idle);
                if next == Phase::New && due {
                    next = Phase::Claim("-".to_owned());
                }
            }
            Phase::Claim(_) if !entries.is_empty() && self.group.ledger.is_some() => {
                self.claimed += 1;
                self.marks.push_back((out_after, self.claimed));
            }
            Phase::Claim(_) => {}
            Phase::Pending(after) => {
                if claims.is_some() {
                    self.resync = claims;
                }
                if next == Phase::New {
                    self.pass_ends.push_back((out_after, self.rereads.asked()));
                }
                if self.starting {
                    if after == "0" {
                        self.previous = Some(StdArc::new(Previous {
                            consumer: self.group.consumer.clone(),
                            progress: own_progress.flatten(),
                        }));
                    }
                    for entry in &mut entries {
                        entry.previous.clone_from(&self.previous);
                    }
                    if next == Phase::New {
                        self.starting = false;
                        self.previous = None;
                    }
                }
                if let (Phase::New, Some(counted)) = (&next, self.resync) {
                    // Every claim counted before the re-read is among the entries re-read.
                    self.resync = None;
                    self.claimed = self.claimed.max(counted);
                    self.marks.push_back((out_after, counted));
                }
            }
        }
        if matches!(next, Phase::Claim(_)) && !matches!(self.phase, Phase::Claim(_)) {
            self.last_claim = Instant::now();
        }
        self.phase = next;
        if idle && self.until_idle.is_some() {
            self.done = true;
        }
        match stamp {
            Some(stamp) => self.stamping = Some((entries, stamp)),
            None => self.buffer.extend(entries),
        }
        self.hand_out();
        Ok(())
    }

    /// Takes the stream time of the read waiting for it: its entries into the buffer, then
    /// the read that came back meanwhile, if any; or, for an error, as a failed read.
    fn stamped(&mut self, before: RedisResult<Option<u64>>) -> RedisResult<()> {
        let (mut entries, _) = self.stamping.take().expect("a read waits for its stamp");
        let before = match before {
            Ok(before) => before,
            Err(e) => return self.take(Err(e)),
        };
        for entry in &mut entries {
            entry.stream_time = before;
        }
        self.buffer.extend(entries);
        match self.arrived.take() {
            Some(read) => self.take(read),
            None => Ok(()),
        }
    }

    /// Counts the claims whose entries are all yielded, and tells the flag of the reads of
    /// new entries all yielded when they were asked.
    fn hand_out(&mut self) {
        for claims in due(&mut self.marks, self.read) {
            self.handed_out.0.fetch_max(claims, Ordering::Relaxed);
        }
        for asked in due(&mut self.asked, self.read) {
            self.underway.heard(asked);
        }
        for pass in due(&mut self.pass_ends, self.read) {
            self.rereads.handed_out(pass);
        }
    }

    /// The read for the current phase, as a future that owns what it needs.
    fn start_fetch(&mut self) -> Fetch {
        let mut conn = self.conn.clone();
        let waits = self.waits.clone();
        let g = self.group.clone();
        let phase = self.phase.clone();
        let underway = self.underway.clone();
        let until_idle = self.until_idle;
        Box::pin(async move {
            match phase {
                Phase::Pending(after) => {
                    // Entries read before (at the start, after a failed read): busy.
                    let _busy = underway.raise();
                    // The first read on a connection, and on the one a failure may have
                    // replaced: the connection is named for this consumer first.
                    let mut pipe = redis::pipe();
                    pipe.cmd("CLIENT")
                        .arg("SETNAME")
                        .arg(g.client_name())
                        .ignore();
                    // A read of new entries this consumer made and never posted (it lost the
                    // reply, or the process before this one died) is lost: its entries are
                    // among those re-read.
                    if let (true, Some(_)) = (after == "0", &g.stream_time) {
                        pipe.cmd("EVAL")
                            .arg(LOST)
                            .arg(1)
                            .arg(g.stream_time_key())
                            .arg(&g.consumer)
                            .ignore();
                    }
                    // The claims counted before the re-read starts (all among its entries),
                    // and the progress the last commit recorded.
                    let count_claims = after == "0" && g.ledger.is_some();
                    if let (true, Some(output)) = (count_claims, &g.ledger) {
                        pipe.cmd("HGET")
                            .arg(format!("{output}:claims"))
                            .arg(g.ledger_name());
                        pipe.cmd("HGET")
                            .arg(format!("{output}:progress"))
                            .arg(g.ledger_name());
                    }
                    pipe.cmd("GET").arg(g.taken_key());
                    pipe.cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg(&g.group)
                        .arg(&g.consumer)
                        .arg("COUNT")
                        .arg(g.count)
                        .arg("STREAMS")
                        .arg(&g.stream)
                        .arg(&after);
                    let mut replies: Vec<Value> = query(&pipe, &mut conn).await?;
                    let reply = replies.pop().unwrap_or(Value::Nil);
                    let taken = Some(count_of(replies.pop())?);
                    let (claims, own_progress) = if count_claims {
                        let progress = replies.pop().unwrap_or(Value::Nil);
                        let progress: Option<String> = redis::from_redis_value(progress)?;
                        (Some(count_of(replies.pop())?), Some(progress))
                    } else {
                        (None, None)
                    };
                    let mut entries = read_reply(reply, true);
                    for entry in &mut entries {
                        entry.taken = taken;
                    }
                    if let Some(time) = &g.stream_time {
                        stamp_own_again(&mut conn, &g, time, g.claim_idle, &mut entries).await?;
                    }
                    let next = match entries.last() {
                        Some(last) => Phase::Pending(last.id.clone()),
                        None => Phase::New,
                    };
                    Ok(Read {
                        entries,
                        next,
                        claims,
                        own_progress,
                        stamp: None,
                        asked: None,
                    })
                }
                Phase::Claim(start) => {
                    let idle = g.claim_idle.unwrap_or_default();
                    let idle = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
                    // The entries idle long enough, with their owners: a page of them.
                    let page: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
                        .arg(&g.stream)
                        .arg(&g.group)
                        .arg("IDLE")
                        .arg(idle)
                        .arg(&start)
                        .arg("+")
                        .arg(g.count)
                        .query_async(&mut conn)
                        .await?;
                    let next = match page.last() {
                        Some((last, ..)) if page.len() == g.count => {
                            Phase::Claim(format!("({last}"))
                        }
                        _ => Phase::New,
                    };
                    // Never this consumer's own: it still holds them.
                    let mut page: Vec<&(String, String, u64, u64)> = page
                        .iter()
                        .filter(|(_, owner, ..)| *owner != g.consumer)
                        .collect();
                    // Nor those of a consumer the server lists as reading: theirs however
                    // long pending. What is left is a stopped or dead consumer's.
                    let clients = if page.is_empty() {
                        String::new()
                    } else {
                        client_list(&mut conn).await?
                    };
                    page.retain(|(_, owner, ..)| {
                        !reading(&clients, &g.stream, &g.group, owner, idle)
                    });
                    // Nor, yet, those whose read cannot be given its stream time now.
                    if let (Some(time), false) = (&g.stream_time, page.is_empty()) {
                        let ids: Vec<&str> = page.iter().map(|(id, ..)| id.as_str()).collect();
                        let later = not_stamped_yet(&mut conn, &g, time, g.claim_idle, &ids);
                        let later = later.await?;
                        page.retain(|(id, ..)| !later.contains(id));
                    }
                    if page.is_empty() {
                        return Ok(Read {
                            entries: Vec::new(),
                            next,
                            claims: None,
                            own_progress: None,
                            stamp: None,
                            asked: None,
                        });
                    }
                    // Entries to claim: busy (a pass that finds none is not).
                    let _busy = underway.raise();
                    let ids: Vec<&String> = page.iter().map(|(id, ..)| id).collect();
                    let mut owners: Vec<&String> =
                        page.iter().map(|(_, owner, ..)| owner).collect();
                    owners.sort_unstable();
                    owners.dedup();
                    let (entries, progress, taken) = match &g.ledger {
                        None => {
                            let mut eval = redis::cmd("EVAL");
                            eval.arg(format!("{TAKE}{CLAIM_ALONE}")).arg(2);
                            eval.arg(&g.stream).arg(g.taken_key());
                            eval.arg(&g.group).arg(&g.consumer).arg(idle);
                            let (reply, taken): (Value, u64) =
                                eval.arg(&ids).query_async(&mut conn).await?;
                            (reply, vec![None; owners.len()], taken)
                        }
                        Some(output) => {
                            // Owners no connection reads as any more: they died.
                            let ledger = LedgerKeys::of(output);
                            let listing = ledger.listing();
                            let mut eval = redis::cmd("EVAL");
                            eval.arg(format!("{FORGET}{TAKE}{CLAIM}"));
                            eval.arg(2 + listing.len());
                            eval.arg(&g.stream).arg(g.taken_key()).arg(&listing);
                            eval.arg(&g.group).arg(&g.consumer).arg(idle);
                            eval.arg(g.ledger_name()).arg(owners.len());
                            for owner in &owners {
                                let name = client_name(&g.stream, &g.group, owner);
                                let gone = !client_listed(&clients, &name);
                                eval.arg(format!("{}:{}:{owner}", g.stream, g.group));
                                eval.arg(owner.as_str()).arg(u8::from(gone));
                            }
                            let (reply, progress, taken): (Value, Vec<Option<String>>, u64) =
                                eval.arg(&ids).query_async(&mut conn).await?;
                            (reply, progress, taken)
                        }
                    };
                    // Each entry with the consumer it was claimed from.
                    let previous: HashMap<&str, StdArc<Previous>> = owners
                        .iter()
                        .zip(progress)
                        .map(|(owner, progress)| {
                            let consumer = owner.to_string();
                            (owner.as_str(), StdArc::new(Previous { consumer, progress }))
                        })
                        .collect();
                    let from: HashMap<&str, &str> = page
                        .iter()
                        .map(|(id, owner, ..)| (id.as_str(), owner.as_str()))
                        .collect();
                    let mut entries = claim_reply(entries);
                    for entry in &mut entries {
                        let owner = from.get(entry.id.as_str());
                        entry.previous = owner.and_then(|o| previous.get(o)).cloned();
                        entry.taken = Some(taken);
                    }
                    // Idle for `claim_idle`, the entries' read is as old: a reader that has
                    // not posted it by now, connected or not, is taken over.
                    if let Some(time) = &g.stream_time {
                        stamp_again(&mut conn, &g, time, g.claim_idle, &mut entries).await?;
                    }
                    Ok(Read {
                        entries,
                        next,
                        claims: None,
                        own_progress: None,
                        stamp: None,
                        asked: None,
                    })
                }
                Phase::New => {
                    let block = u64::try_from(g.block.as_millis()).unwrap_or(u64::MAX);
                    let wait = until_idle.unwrap_or_default();
                    let drain_at_once = until_idle.is_some_and(|wait| wait.is_zero());
                    let (mut stamp, mut asked) = (None, None);
                    // `waits` is there exactly when the stream time is (`connect`).
                    let entries = match g.stream_time.as_ref().zip(waits.as_ref()) {
                        // Draining: a read that finds nothing waits here, then reads once
                        // more (unless the wait is zero).
                        None if until_idle.is_some() => {
                            let read = read_plain(&mut conn, &g, None);
                            match asking(read, Vec::is_empty, &underway, &mut asked).await? {
                                entries if entries.is_empty() && !drain_at_once => {
                                    tokio::time::sleep(wait).await;
                                    let read = read_plain(&mut conn, &g, None);
                                    asking(read, Vec::is_empty, &underway, &mut asked).await?
                                }
                                entries => entries,
                            }
                        }
                        None => {
                            let waiting = Instant::now();
                            let entries = read_plain(&mut conn, &g, Some(block)).await?;
                            if entries.is_empty() {
                                heard_nothing_during(&underway, waiting, g.block);
                            } else {
                                asked = Some(waiting);
                            }
                            entries
                        }
                        Some((time, waits)) => {
                            let (claim_idle, count) = (g.claim_idle, g.count);
                            let mut read = asking(
                                read_new(&mut conn, waits, &g, count, claim_idle, time, &underway),
                                NewRead::is_empty,
                                &underway,
                                &mut asked,
                            )
                            .await?;
                            match read {
                                // Nothing new (a transaction cannot block): wait on the server
                                // for an entry after the last one (draining: wait here, or
                                // not at all), then read once more.
                                NewRead::Empty { .. } if drain_at_once => {}
                                NewRead::Empty { last } => {
                                    if until_idle.is_some() {
                                        tokio::time::sleep(wait).await;
                                    } else {
                                        let waiting = Instant::now();
                                        let reply: Value = redis::cmd("XREAD")
                                            .arg("COUNT")
                                            .arg(1)
                                            .arg("BLOCK")
                                            .arg(block)
                                            .arg("STREAMS")
                                            .arg(&g.stream)
                                            .arg(last.as_deref().unwrap_or("0-0"))
                                            .query_async(&mut conn)
                                            .await?;
                                        if reply == Value::Nil {
                                            heard_nothing_during(&underway, waiting, g.block);
                                        }
                                    }
                                    read = asking(
                                        read_new(
                                            &mut conn, waits, &g, count, claim_idle, time,
                                            &underway,
                                        ),
                                        NewRead::is_empty,
                                        &underway,
                                        &mut asked,
                                    )
                                    .await?;
                                }
                                NewRead::Entries(..) => {}
                            }
                            match read {
                                NewRead::Entries(entries, on_its_way) => {
                                    stamp = Some(on_its_way);
                                    entries
                                }
                                NewRead::Empty { .. } => Vec::new(),
                            }
                        }
                    };
                    // Nothing new: look for entries other consumers left behind.
                    let next = match (&entries[..], g.claim_idle) {
                        ([], Some(_)) => Phase::Claim("-".to_owned()),
                        _ => Phase::New,
                    };
                    Ok(Read {
                        entries,
                        next,
                        claims: None,
                        own_progress: None,
                        stamp,
                        asked,
                    })
                }
            }
        })
    }
}

/// Reads up to `count` new entries as `g`'s consumer, blocking up to `block` ms on the
/// server if given, each with the group's count of claims read just before.
async fn read_plain(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    block: Option<u64>,
) -> RedisResult<Vec<Entry>> {
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(g.taken_key());
    let read = pipe.cmd("XREADGROUP");
    read.arg("GROUP").arg(&g.group).arg(&g.consumer);
    read.arg("COUNT").arg(g.count);
    if let Some(block) = block {
        read.arg("BLOCK").arg(block);
    }
    read.arg("STREAMS").arg(&g.stream).arg(">");
    let mut replies = replies(conn, &pipe).await?;
    let mut entries = read_reply(replies.pop().unwrap_or(Value::Nil), false);
    let taken = Some(count_of(replies.pop())?);
    for entry in &mut entries {
        entry.taken = taken;
    }
    Ok(entries)
}

/// Takes off the front of `queue` what is due once `read` entries are yielded (each item
/// with the count of entries after which it is).
fn due<T: Copy>(queue: &mut VecDeque<(u64, T)>, read: u64) -> impl Iterator<Item = T> + '_ {
    std::iter::from_fn(move || {
        let &(after, item) = queue.front()?;
        (after <= read).then(|| {
            queue.pop_front();
            item
        })
    })
}

/// `read` of new entries. When it finds none (`empty`), tells `underway` at once that the
/// server had nothing new as of the instant it was asked; else sets `asked` to that instant,
/// for the source to tell once it has handed out the entries.
async fn asking<T>(
    read: impl Future<Output = RedisResult<T>>,
    empty: impl FnOnce(&T) -> bool,
    underway: &Underway,
    asked: &mut Option<Instant>,
) -> RedisResult<T> {
    let at = Instant::now();
    let read = read.await?;
    if empty(&read) {
        underway.heard(at);
    } else {
        *asked = Some(at);
    }
    Ok(read)
}

/// How much later than the wait it asked for a server's answer that nothing came may be and
/// still vouch for the whole wait: a server ends a blocked read on its own timer, up to
/// 100 ms late at its default `hz`.
const ON_TIME: Duration = Duration::from_millis(250);

/// Tells `underway` that nothing new came during a wait on the server for up to `block`,
/// asked at `asked` and answered with nothing now: as of now when the answer came on time,
/// else as of the asking (a server slow or frozen meanwhile answers late, and its answer says
/// nothing of the time in between).
fn heard_nothing_during(underway: &Underway, asked: Instant, block: Duration) {
    let now = Instant::now();
    let on_time = now.saturating_duration_since(asked) <= block.saturating_add(ON_TIME);
    underway.heard(if on_time { now } else { asked });
}

/// The entries of an `XCLAIM` reply: `[entry, ...]`.
fn claim_reply(reply: Value) -> Vec<Entry> {
    match reply {
        Value::Array(entries) => entries
            .into_iter()
            .filter_map(|entry| Entry::from_value(entry, true))
            .collect(),
        _ => Vec::new(),
    }
}

/// Ended once a source reading [until idle](RedisSource::until_idle) has handed out the
/// entries of its reads: it reads nothing more, and yields `None` from then on.
impl FusedStream for RedisSource {
    fn is_terminated(&self) -> bool {
        self.done && self.buffer.is_empty() && self.stamping.is_none() && self.arrived.is_none()
    }
}

impl Drop for RedisSource {
    fn drop(&mut self) {
        // Reads nobody will take: their entries, if they delivered any, stay pending for
        // this consumer, as when the process stops.
        for read in [&self.fetch, &self.abandoned].into_iter().flatten() {
            read.abort();
        }
    }
}

impl Stream for RedisSource {
    type Item = RedisResult<Entry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(abandoned) = &mut this.abandoned {
            // It ends first: what it sent reaches the server before the next read does, so
            // the pending entries read again hold those it delivered, if any.
            match Pin::new(abandoned).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Poll::Ready(_) => this.abandoned = None,
            }
        }
        for _ in 0..POLL_BUDGET {
            // A read waiting for its stream time: its entries go out once it is in.
            if let Some((_, stamp)) = &mut this.stamping
                && let Poll::Ready(before) = stamp.as_mut().poll(cx)
            {
                if let Err(e) = this.stamped(before) {
                    return Poll::Ready(Some(Err(e)));
                }
                continue;
            }
            // One read in flight whenever the buffer is half empty (or waits for its stream
            // time): the next batch travels while this one is handled. A read that comes
            // back before the one waiting for its stream time waits behind it.
            let read_ahead = this.buffer.len() <= this.group.count / 2;
            if !this.done && this.arrived.is_none() && (this.fetch.is_some() || read_ahead) {
                if this.fetch.is_none() {
                    if matches!(&this.phase, Phase::Pending(after) if after == "0") {
                        this.rereads.ask();
                    }
                    this.fetch = Some(tokio::spawn(this.start_fetch()));
                }
                let fetch = this.fetch.as_mut().expect("set above");
                match Pin::new(fetch).poll(cx) {
                    Poll::Ready(result) => {
                        this.fetch = None;
                        // The task is never aborted while the source lives: a panic in it
                        // is the read's, and goes on here.
                        let result =
                            result.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                        if this.stamping.is_some() {
                            this.arrived = Some(result);
                        } else if let Err(e) = this.take(result) {
                            return Poll::Ready(Some(Err(e)));
                        }
                        continue;
                    }
                    // The read registered the waker; meanwhile, the buffer.
                    Poll::Pending if this.buffer.is_empty() => return Poll::Pending,
                    Poll::Pending => {}
                }
            }
            if let Some(entry) = this.buffer.pop_front() {
                this.read += 1;
                this.hand_out();
                return Poll::Ready(Some(Ok(entry)));
            }
            // The stamp registered the waker; the read after it came back, or none is due.
            if this.stamping.is_some() {
                return Poll::Pending;
            }
            if this.done {
                return Poll::Ready(None);
            }
        }
        // Reads that came back at once, one after the other, used up the budget.
        wake_self(cx);
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.buffer.len();
        (buffered, self.done.then_some(buffered))
    }
}
