//! Redis Streams against a real server: each test starts `redis-server` on a free loopback
//! port (no persistence) and kills it at the end. Only with `--features redis`.

#![cfg(feature = "redis")]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::redis_server::Server;

use weir::io::redis::{
    Acker, Acks, Commit, Committer, Entry, Ledger, Previous, Recorded, RedisSink, RedisSource,
    StreamGroup, StreamTime,
};
use weir::prelude::*;
use weir::window::Count;

/// Writes `n` entries `{i, value}` in batches of 1 000.
async fn produce(client: &redis::Client, stream: &str, n: u64) -> Vec<String> {
    let mut sink = RedisSink::connect(client, stream).await.unwrap();
    let mut ids = Vec::new();
    let all: Vec<u64> = (0..n).collect();
    for chunk in all.chunks(1000) {
        let batch: Vec<Vec<(&str, String)>> = chunk
            .iter()
            .map(|i| vec![("i", i.to_string()), ("value", (i % 97).to_string())])
            .collect();
        ids.extend(sink.send(&batch).await.unwrap());
    }
    assert_eq!(sink.written(), n);
    ids
}

/// Entries pending in `group`, from `XPENDING`'s summary.
async fn pending(client: &redis::Client, stream: &str, group: &str) -> u64 {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // XPENDING's summary starts with the number of pending entries.
    let summary: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(&mut conn)
        .await
        .unwrap();
    redis::from_redis_value_ref(&summary[0]).unwrap()
}

/// Reads `events` as consumer `a` of group `weir` until idle, acknowledging nothing: the
/// entries, and the consumer's acker.
async fn read_as_a(client: &redis::Client) -> (Vec<Entry>, Acker) {
    let group = StreamGroup::new("events", "weir", "a")
        .block(Duration::from_millis(50))
        .claim_idle(None);
    let (source, acker) = RedisSource::connect(client, group).await.unwrap();
    let entries = source.until_idle().map(Result::unwrap).collect().await;
    (entries, acker)
}

/// Reads the group as `consumer` until idle, acknowledging each entry: the `i` fields read.
async fn consume(client: redis::Client, group: StreamGroup) -> Vec<u64> {
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    let mut source = source.until_idle();
    let mut seen = Vec::new();
    while let Some(entry) = source.next().await {
        let entry = entry.unwrap();
        seen.push(entry.field("i").unwrap().parse().unwrap());
        acker.ack(&entry.id);
    }
    acker.flush().await.unwrap();
    seen
}

/// A source reading until idle waits `block` after a read that finds nothing, then reads
/// once more: an entry added meanwhile is read, with and without a stream time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_reading_until_idle_reads_once_more_after_its_wait() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 1).await;
    for (consumer, timed) in [("plain", false), ("timed", true)] {
        let mut group = StreamGroup::new("events", consumer, consumer)
            .block(Duration::from_secs(1))
            .claim_idle(None);
        if timed {
            group = group.stream_time(time_of_t());
        }
        let (source, _acker) = RedisSource::connect(&client, group).await.unwrap();
        let mut source = source.until_idle();
        assert_eq!(source.next().await.unwrap().unwrap().field("i"), Some("0"));
        // The next read finds nothing and waits; an entry comes meanwhile.
        let adding = {
            let client = client.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut sink = RedisSink::connect(&client, "events").await.unwrap();
                sink.send(&[vec![("i", "1"), ("value", "1")]])
                    .await
                    .unwrap()
            })
        };
        let late = source.next().await.unwrap().unwrap();
        assert_eq!(late.id, adding.await.unwrap()[0], "{consumer}");
        assert!(source.next().await.is_none(), "{consumer}");
        // The next group reads from the stream's start: it finds entry 0 alone at first.
        let _: u64 = ask(&client, redis::cmd("XDEL").arg("events").arg(&late.id)).await;
    }
}

/// XREADGROUP calls the server has run since its counts were last reset.
async fn group_reads(client: &redis::Client) -> u64 {
    let info: String = ask(client, redis::cmd("INFO").arg("commandstats")).await;
    let line = info.lines().find(|l| l.starts_with("cmdstat_xreadgroup:"));
    let calls = line.and_then(|l| l.split(['=', ',']).nth(1));
    calls.map_or(0, |n| n.parse().unwrap())
}

/// Draining with no wait, the first read that finds nothing ends the stream: three reads
/// (its own pending entries, the entries, nothing), where a source that waits reads once
/// more; with and without a stream time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_draining_with_no_wait_ends_at_the_first_read_that_finds_nothing() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 3).await;
    for timed in [false, true] {
        for (consumer, wait, reads) in [
            ("at-once", Duration::ZERO, 3),
            ("waits", Duration::from_millis(1), 4),
        ] {
            let consumer = format!("{consumer}-{timed}");
            let mut group = StreamGroup::new("events", &consumer, &consumer).claim_idle(None);
            if timed {
                group = group.stream_time(time_of_t());
            }
            let (source, _acker) = RedisSource::connect(&client, group).await.unwrap();
            let _: () = ask(&client, redis::cmd("CONFIG").arg("RESETSTAT")).await;
            let read: Vec<_> = source.until_idle_for(wait).collect().await;
            assert_eq!(read.len(), 3, "{consumer}");
            assert_eq!(group_reads(&client).await, reads, "{consumer}");
        }
    }
}

/// A source reading until idle, once it has yielded `None`, is terminated and yields
/// `None` again without reading: with and without a stream time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_source_is_terminated_and_stays_ended() {
    use futures_core::FusedStream;
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 12).await;
    for timed in [false, true] {
        let consumer = format!("c-{timed}");
        let mut group = StreamGroup::new("events", &consumer, &consumer)
            .count(8)
            .claim_idle(None);
        if timed {
            group = group.stream_time(time_of_t());
        }
        let (source, _acker) = RedisSource::connect(&client, group).await.unwrap();
        let mut source = source.until_idle_for(Duration::ZERO);
        let mut read = 0;
        while !source.is_terminated() {
            match source.next().await {
                Some(entry) => {
                    entry.unwrap();
                    read += 1;
                }
                None => break,
            }
            // The read after comes back meanwhile: the last, which finds nothing, with
            // entries of the one before still to hand out.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(read, 12, "{consumer}");
        assert!(source.is_terminated(), "{consumer}");
        let _: () = ask(&client, redis::cmd("CONFIG").arg("RESETSTAT")).await;
        assert!(source.next().await.is_none(), "{consumer}");
        assert_eq!(
            group_reads(&client).await,
            0,
            "{consumer}: read after its end"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_share_a_stream_and_acknowledge_everything() {
    let server = Server::start();
    let client = server.client();
    let ids = produce(&client, "events", 100_000).await;
    assert_eq!(ids.len(), 100_000);
    let group = |name: &str| {
        StreamGroup::new("events", "weir", name)
            .count(500)
            .block(Duration::from_millis(200))
            .claim_idle(None)
    };
    let a = tokio::spawn(consume(client.clone(), group("a")));
    let b = tokio::spawn(consume(client.clone(), group("b")));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "a {} b {}",
        a.len(),
        b.len()
    );
    let all: HashSet<u64> = a.iter().chain(&b).copied().collect();
    assert_eq!(a.len() + b.len(), 100_000, "an entry delivered twice");
    assert_eq!(all.len(), 100_000);
    assert_eq!(pending(&client, "events", "weir").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_consumer_reads_its_unacknowledged_entries_first() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 300).await;
    // Reads of 50: the first run handles three batches.
    let group = StreamGroup::new("events", "weir", "a")
        .count(50)
        .block(Duration::from_millis(100))
        .claim_idle(None);
    // First run: takes 150 entries, acknowledges the first 100, then "crashes".
    {
        let (mut source, acker) = RedisSource::connect(&client, group.clone()).await.unwrap();
        for i in 0..150 {
            let entry = source.next().await.unwrap().unwrap();
            assert!(!entry.redelivered);
            if i < 100 {
                acker.ack(&entry.id);
            }
        }
        acker.flush().await.unwrap();
    }
    // The 50 taken but not acknowledged, and the next batch of 50 if the source's read-ahead
    // reached the server before the "crash" (delivered, never seen).
    let left = pending(&client, "events", "weir").await;
    assert!(left == 50 || left == 100, "{left}");
    // Second run under the same name: those come back first, marked, then the rest.
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    let entries: Vec<_> = source.until_idle().collect::<Vec<_>>().await;
    let entries: Vec<_> = entries.into_iter().map(Result::unwrap).collect();
    let fields: Vec<u64> = entries
        .iter()
        .map(|e| e.field("i").unwrap().parse().unwrap())
        .collect();
    assert_eq!(fields, (100..300).collect::<Vec<_>>());
    let left = left as usize;
    assert!(entries[..left].iter().all(|e| e.redelivered));
    assert!(entries[left..].iter().all(|e| !e.redelivered));
    for e in &entries {
        acker.ack(&e.id);
    }
    acker.flush().await.unwrap();
    assert_eq!(acker.acked(), 200);
    assert_eq!(pending(&client, "events", "weir").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_a_dead_consumer_left_pending_are_claimed() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 40).await;
    // "dead" takes 40 entries and never acknowledges them.
    {
        let group = StreamGroup::new("events", "weir", "dead").claim_idle(None);
        let (mut source, _acker) = RedisSource::connect(&client, group).await.unwrap();
        for _ in 0..40 {
            source.next().await.unwrap().unwrap();
        }
    }
    // Wait past the idle time the survivor claims at.
    tokio::time::sleep(Duration::from_millis(150)).await;
    // 16 at a time: the claim goes over three pages.
    let group = StreamGroup::new("events", "weir", "survivor")
        .count(16)
        .block(Duration::from_millis(50))
        .claim_idle(Some(Duration::from_millis(100)));
    let seen = consume(client.clone(), group).await;
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..40).collect::<Vec<_>>());
    assert_eq!(pending(&client, "events", "weir").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_never_claims_the_entries_it_holds() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    let group = StreamGroup::new("events", "weir", "holder")
        .block(Duration::from_millis(20))
        .claim_idle(Some(Duration::from_millis(50)));
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    let mut source = source.until_idle();
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(source.next().await.unwrap().unwrap());
    }
    // Held past the claim idle time, unacknowledged: the next reads find nothing new and
    // nothing to claim, and the stream ends instead of handing them out again.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(source.next().await.is_none());
    assert_eq!(source.read(), 10);
    assert_eq!(pending(&client, "events", "weir").await, 10);
    for e in &held {
        acker.ack(&e.id);
    }
    acker.flush().await.unwrap();
    assert_eq!(pending(&client, "events", "weir").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_trims_with_maxlen() {
    let server = Server::start();
    let client = server.client();
    let mut sink = RedisSink::connect(&client, "windows")
        .await
        .unwrap()
        .max_len(1000);
    for round in 0..20u32 {
        let batch: Vec<Vec<(&str, u32)>> = (0..500).map(|i| vec![("n", round * 500 + i)]).collect();
        sink.send(&batch).await.unwrap();
    }
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let len: u64 = redis::cmd("XLEN")
        .arg("windows")
        .query_async(&mut conn)
        .await
        .unwrap();
    // `~` trims whole macro nodes: about 1 000, never below it.
    assert!((1000..1000 + 500).contains(&len), "{len}");
    assert_eq!(sink.written(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_whose_server_is_gone_reports_the_error_after_its_retries() {
    let server = Server::start();
    let client = server.client();
    let mut sink = RedisSink::connect(&client, "windows")
        .await
        .unwrap()
        .backoff(
            weir::concurrent::Backoff::new(Duration::from_millis(1), Duration::from_millis(5))
                .retries(2),
        );
    drop(server);
    let result = sink.send(&[vec![("n", 1)]]).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(sink.written(), 0);
    // The first try and its two retries failed.
    assert_eq!(sink.retried(), 2);
}

#[tokio::test]
async fn an_acker_whose_server_is_gone_counts_its_retries_and_reports_the_error() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 1).await;
    let group = StreamGroup::new("events", "weir", "a");
    let (_source, acker) = RedisSource::connect(&client, group).await.unwrap();
    drop(server);
    acker.ack("1-0");
    // The XACK and its five retries (50 ms doubling) fail, then the flush says so.
    assert!(acker.flush().await.is_err());
    assert_eq!((acker.acked(), acker.retried()), (0, 5));
}

/// Each acknowledgement and dead letter has its place in the order queued, counted across
/// the acker's clones; the server has answered those up to `answered()`, which a flush
/// brings to the last queued before it, whether they were applied or failed for good.
#[tokio::test]
async fn an_acker_s_requests_are_answered_in_the_order_queued() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 3).await;
    let group = StreamGroup::new("events", "weir", "a");
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    let entries: Vec<Entry> = source.until_idle().map(Result::unwrap).collect().await;
    let clone = acker.clone();
    assert_eq!(acker.ack(&entries[0].id), 1);
    assert_eq!(clone.dead_letter(entries[1].clone(), "unreadable"), 2);
    assert_eq!(acker.ack(&entries[2].id), 3);
    acker.flush().await.unwrap();
    assert_eq!(clone.answered(), 3);
    assert_eq!((acker.acked(), acker.dead_lettered()), (3, 1));
    assert_eq!(pending(&client, "events", "weir").await, 0);
    drop(server);
    assert_eq!(clone.ack("9-0"), 4);
    assert!(acker.flush().await.is_err());
    // Failed for good, so answered too: the entry is left pending.
    assert_eq!(acker.answered(), 4);
}

/// A source reading the stream `events` as `a` of `g`, `count` entries a read, blocking up
/// to `block`, claiming nothing, after one entry (`i` 0) is written to it.
async fn one_entry_source(
    client: &redis::Client,
    count: usize,
    block: Duration,
) -> (RedisSource, Acker) {
    produce(client, "events", 1).await;
    let group = StreamGroup::new("events", "g", "a")
        .count(count)
        .block(block)
        .claim_idle(None);
    RedisSource::connect(client, group).await.unwrap()
}

/// From a read that failed until one succeeds, the source's flag for the windows is up: a
/// read asked during an outage may be answered after it with nothing of what producers sent
/// meanwhile. Reads that come back empty leave it down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_is_busy_from_a_failed_read_until_one_succeeds() {
    let server = Server::start();
    let client = server.client();
    let (source, acker) = one_entry_source(&client, 1_000, Duration::from_millis(100)).await;
    let underway = source.underway();
    let mut source = Box::pin(source);
    let entry = source.next().await.unwrap().unwrap();
    acker.ack(&entry.id);
    acker.flush().await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(500), source.next()).await;
    assert!(quiet.is_err() && !underway.is_raised(), "quiet");
    server.signal("STOP");
    // The read times out 2 s after its block.
    assert!(source.next().await.unwrap().is_err());
    // Not read again yet (a caller waiting before it tries again): busy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(underway.is_raised(), "a failed read is no quiet");
    server.signal("CONT");
    let quiet = tokio::time::timeout(Duration::from_millis(1_000), source.next()).await;
    assert!(quiet.is_err() && !underway.is_raised(), "quiet again");
}

/// A pass over the consumer's own pending entries is on from its asking until it has
/// handed out what it found: at the start, and again after a failed read, when it brings
/// back the entry not acknowledged yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_over_the_pending_entries_is_on_until_it_has_handed_them_out() {
    let server = Server::start();
    let client = server.client();
    let (source, _acker) = one_entry_source(&client, 1_000, Duration::from_millis(100)).await;
    let rereads = source.rereads();
    assert!(!rereads.is_on(), "nothing asked yet");
    let mut source = Box::pin(source);
    let entry = source.next().await.unwrap().unwrap();
    assert!(!entry.redelivered);
    assert!(!rereads.is_on(), "the pass at the start found nothing");
    server.signal("STOP");
    // The read times out 2 s after its block.
    assert!(source.next().await.unwrap().is_err());
    assert!(!rereads.is_on(), "no pass asked yet");
    server.signal("CONT");
    let again = source.next().await.unwrap().unwrap();
    assert!(again.redelivered && again.id == entry.id);
    assert!(rereads.is_on(), "the pass may hold more");
    let quiet = tokio::time::timeout(Duration::from_millis(500), source.next()).await;
    assert!(quiet.is_err() && !rereads.is_on(), "the pass is over");
}

/// Counts in tumbling windows of `size` ms over the entries of `source` that `keep` keeps,
/// each timed by its `i`, read again after a failed read or not (counted once), closing after
/// `idle` of the quiet the source's flag vouches for.
fn windows_by_i(
    source: RedisSource,
    size: u64,
    idle: Duration,
    mut keep: impl FnMut(&u64) -> bool,
) -> std::pin::Pin<Box<impl Stream<Item = weir::window::Window<u64>>>> {
    let underway = source.underway();
    Box::pin(
        source
            .filter_map(|entry| entry.ok().filter(|e| !e.redelivered))
            .map(|entry| entry.field("i").unwrap().parse::<u64>().unwrap())
            .filter(move |ts: &u64| keep(ts))
            .tumbling_window(size, |ts: &u64| *ts, Count)
            .idle_timeout(idle)
            .underway(underway),
    )
}

/// A window over the source, with an idle timeout shorter than the server stays frozen: the
/// silence is not taken for quiet (the source vouches only for quiet its server reported),
/// so the window stays open; once the server answers again, quiet counts and it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_s_silence_is_not_taken_for_quiet() {
    let server = Server::start();
    let client = server.client();
    let (source, _acker) = one_entry_source(&client, 1_000, Duration::from_millis(100)).await;
    // The entry waits in the window [0, 1000).
    let mut windows = windows_by_i(source, 1_000, Duration::from_millis(500), |_| true);
    let open = tokio::time::timeout(Duration::from_millis(100), windows.next()).await;
    assert!(open.is_err(), "the window closed before the freeze");
    server.signal("STOP");
    // Past the idle timeout, and past the read's failure (2 s after its block).
    let frozen = tokio::time::timeout(Duration::from_millis(3_000), windows.next()).await;
    assert!(frozen.is_err(), "a frozen server's silence taken for quiet");
    server.signal("CONT");
    let closed = tokio::time::timeout(Duration::from_millis(3_000), windows.next()).await;
    let window = closed
        .expect("the window closes once the server answers")
        .unwrap();
    assert_eq!((window.start, window.count), (0, 1));
}

/// A read that waits on the server (`block`, 1 s here) and comes back empty on time vouches
/// for the whole wait: a quiet stream's window closes when the first such wait after its
/// item ends, not a wait later (the next read's asking, which a wait's start alone would
/// put off to 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_wait_on_the_server_vouches_for_its_whole_length() {
    let server = Server::start();
    let client = server.client();
    let (source, _acker) = one_entry_source(&client, 1_000, Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut windows = windows_by_i(source, 200, Duration::from_millis(300), |_| true);
    let window = windows.next().await.unwrap();
    assert_eq!((window.start, window.count), (0, 1));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1_700), "closed after {took:?}");
}

/// A consumer stopped for a moment shorter than the idle timer's slack, just as the timer is
/// due, while an entry for its open window reaches the server: once it runs again, the timer
/// has fired only a little late (no stall), and nothing vouches for the time it was stopped,
/// so its window waits for the entry. The process is stopped here as SIGSTOP would: the
/// runtime's one thread blocks, nothing of weir runs, the entry is written meanwhile.
#[tokio::test]
async fn a_consumer_stopped_for_less_than_the_slack_is_not_taken_for_quiet() {
    let server = Server::start();
    let client = server.client();
    let (source, _acker) = one_entry_source(&client, 1_000, Duration::from_millis(100)).await;
    // Entries at 0 now and 400 later, both in [0, 500); quiet for 800 ms would move event
    // time to 800 and close it.
    let mut windows = windows_by_i(source, 500, Duration::from_millis(800), |_| true);
    // 750 ms of quiet the server vouches for, reads finding nothing every 100 ms.
    let open = tokio::time::timeout(Duration::from_millis(750), windows.next()).await;
    assert!(open.is_err(), "the window closed before 800 ms of quiet");
    // Stopped 90 ms (the slack is 100 ms), past the timer's 800 ms; the entry comes.
    let mut conn = client.get_connection().unwrap();
    let _: String = redis::cmd("XADD")
        .arg("events")
        .arg("*")
        .arg("i")
        .arg(400)
        .query(&mut conn)
        .unwrap();
    std::thread::sleep(Duration::from_millis(90));
    let closed = tokio::time::timeout(Duration::from_secs(3), windows.next()).await;
    let window = closed.expect("the window closes").unwrap();
    assert_eq!(
        (window.start, window.count),
        (0, 2),
        "the entry found its window"
    );
}

/// Entries that never reach the windows (filtered out on the way) leave the stream quiet for
/// them: once a read's entries are handed out, the server had nothing newer when the read
/// was asked. Every read here finds entries (a producer writes far faster than 10 entries a
/// read are read), all filtered out but the first; its window closes after the idle
/// timeout all the same, while the producer still writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_filtered_out_on_the_way_leave_the_stream_quiet_for_the_windows() {
    let server = Server::start();
    let client = server.client();
    let (source, _acker) = one_entry_source(&client, 10, Duration::from_millis(100)).await;
    let producing = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                let mut pipe = redis::pipe();
                for _ in 0..500 {
                    pipe.cmd("XADD").arg("events").arg("*").arg("i").arg(1_000);
                    pipe.ignore();
                }
                let () = pipe.query_async(&mut conn).await.unwrap();
            }
        })
    };
    // Only the entry at 0 passes the filter, into the window [0, 200).
    let mut windows = windows_by_i(source, 200, Duration::from_millis(300), |ts| *ts == 0);
    let closed = tokio::time::timeout(Duration::from_millis(1_500), windows.next()).await;
    assert!(!producing.is_finished(), "the producer still writes");
    let window = closed
        .expect("closed while every read finds entries")
        .unwrap();
    assert_eq!((window.start, window.count), (0, 1));
    producing.abort();
}

/// The server is killed and restarted (from its append-only file) between two reads of a
/// consumer: its next reads and acknowledgements fail for a while, its connections come back
/// by themselves, the acknowledgements are retried, and in the end every entry was seen and
/// nothing is pending. (A read whose reply is lost in the crash, after the server delivered
/// it, also makes the source re-read its pending entries; a kill cannot be timed to hit that
/// window reliably, so this test does not.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_survives_a_server_restart() {
    let dir = std::env::temp_dir().join(format!("weir-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Server::start_persistent(&dir);
    let client = server.client();
    produce(&client, "events", 5_000).await;
    let group = StreamGroup::new("events", "weir", "a")
        .count(100)
        .block(Duration::from_millis(100))
        .claim_idle(None);
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    let mut source = source.until_idle();
    let mut seen = Vec::new();
    let mut errors = 0;
    let mut restarted = false;
    while let Some(entry) = source.next().await {
        match entry {
            Ok(entry) => {
                seen.push(entry.field("i").unwrap().parse::<u64>().unwrap());
                acker.ack(&entry.id);
            }
            Err(_) => {
                errors += 1;
                assert!(errors < 100, "the consumer never got its connection back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if seen.len() == 2_000 && !restarted {
            restarted = true;
            // Some of what was read is acknowledged, some not yet, some in flight.
            let _ = acker.flush().await;
            server.restart();
        }
    }
    // Acknowledgements sent while the server was down were retried until it came back.
    acker.flush().await.unwrap();
    let distinct: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 5_000, "an entry was lost");
    assert!(restarted);
    assert_eq!(pending(&client, "events", "weir").await, 0);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reading connection of a consumer that keeps the stream time is killed again and
/// again while it reads, one entry or a few at a time: reads, posts and the reads sent ahead
/// of them fail in every order, and the source reads its pending entries again after each
/// failure (a read sent ahead is waited for first, so that what it delivered is among them).
/// In the end every entry was handed out and, acknowledged, nothing is pending.
///
/// The kills stop after `KILLS`, more than a run takes on a fast machine (86 to 247 failed
/// reads): the source must then finish on its own. A read whose post a kill lost, numbered
/// again before the source saw the failure, stays unposted for ever unless the next read's
/// numbering marks it lost; while the kills went on, one of them hid that (a reader whose
/// connection is down is taken for gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_connection_is_killed_again_and_again_leaves_nothing_pending() {
    const KILLS: usize = 400;
    let server = Server::start();
    let client = server.client();
    let times: Vec<u64> = (1..=600).collect();
    stamped(&client, "events", &times).await;
    let group = StreamGroup::new("events", "g", "a")
        .count(3)
        .claim_idle(None)
        .stream_time(time_of_t());
    let name = group.client_name();
    let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
    // Kills the reading connection every 3 ms, up to `KILLS` times or until the source ends.
    let killing = tokio::spawn({
        let client = client.clone();
        let named = format!("name={name}");
        async move {
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let mut kills = 0;
            while kills < KILLS {
                let clients: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let id = clients.lines().find_map(|line| {
                    let mut fields = line.split(' ');
                    let id = fields.next()?.strip_prefix("id=")?.to_owned();
                    fields.any(|f| f == named).then_some(id)
                });
                if let Some(id) = id {
                    let _: redis::RedisResult<()> = redis::cmd("CLIENT")
                        .arg("KILL")
                        .arg("ID")
                        .arg(id)
                        .query_async(&mut conn)
                        .await;
                    kills += 1;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
    });
    let mut source = source.until_idle_for(Duration::ZERO);
    let (mut seen, mut errors) = (HashSet::new(), 0);
    let reading = async {
        while let Some(entry) = source.next().await {
            match entry {
                Ok(entry) => {
                    acker.ack(&entry.id);
                    seen.insert(entry.id);
                }
                Err(_) => errors += 1,
            }
        }
    };
    let read = tokio::time::timeout(Duration::from_secs(60), reading).await;
    assert!(
        read.is_ok(),
        "the source never got its connection back: {} entries, {errors} failed reads",
        seen.len()
    );
    killing.abort();
    assert!(errors > 0, "no read failed");
    acker.flush().await.unwrap();
    assert_eq!(seen.len(), times.len(), "an entry was never handed out");
    assert_eq!(pending(&client, "events", "g").await, 0);
}

/// Entries that cannot be handled are copied to `STREAM:dead` with the reason, counted and
/// acknowledged: nothing pending, nothing delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_go_to_the_dead_letter_stream() {
    let server = Server::start();
    let client = server.client();
    let mut sink = RedisSink::connect(&client, "events").await.unwrap();
    let batch: Vec<Vec<(&str, &str)>> = vec![
        vec![("value", "1.5")],
        vec![("value", "oops")],
        vec![("other", "2")],
        vec![("value", "4")],
    ];
    sink.send(&batch).await.unwrap();
    let group = StreamGroup::new("events", "weir", "a")
        .block(Duration::from_millis(50))
        .claim_idle(None);
    let (source, acker) = RedisSource::connect(&client, group.clone()).await.unwrap();
    let mut good = Vec::new();
    let mut source = source.until_idle();
    while let Some(entry) = source.next().await {
        let entry = entry.unwrap();
        match entry.field("value").map(str::parse::<f64>) {
            Some(Ok(v)) => {
                good.push(v);
                acker.ack(&entry.id);
            }
            Some(Err(_)) => {
                acker.dead_letter(entry, "`value` is not a number");
            }
            None => {
                acker.dead_letter(entry, "no `value` field");
            }
        }
    }
    acker.flush().await.unwrap();
    assert_eq!(good, [1.5, 4.0]);
    assert_eq!((acker.acked(), acker.dead_lettered()), (4, 2));
    assert_eq!(pending(&client, "events", "weir").await, 0);
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("events:dead")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let reasons: Vec<String> = dead
        .ids
        .iter()
        .map(|e| e.get::<String>("reason").unwrap())
        .collect();
    assert_eq!(reasons, ["`value` is not a number", "no `value` field"]);
    assert_eq!(dead.ids[0].get::<String>("value").as_deref(), Some("oops"));
    // Read again from the start by a new consumer of the same group: nothing comes back.
    let (source, _) = RedisSource::connect(&client, group).await.unwrap();
    assert_eq!(source.until_idle().count().await, 0);
}

/// An entry's fields come in the order the entry holds them, a name it repeats gives its last
/// value, and its dead letter keeps them all, in that order, after the id and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_keeps_its_fields_in_order_down_to_its_dead_letter() {
    let server = Server::start();
    let client = server.client();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let id: String = redis::cmd("XADD")
        .arg("events")
        .arg("*")
        .arg(&["b", "1", "a", "2", "b", "3"][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let (mut entries, acker) = read_as_a(&client).await;
    assert_eq!(entries.len(), 1);
    let entry = entries.remove(0);
    let fields: Vec<(&str, &str)> = entry
        .fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(fields, [("b", "1"), ("a", "2"), ("b", "3")]);
    assert_eq!((entry.field("b"), entry.field("a")), (Some("3"), Some("2")));
    assert_eq!(entry.field("c"), None);
    acker.dead_letter(entry, "why");
    acker.flush().await.unwrap();
    let dead: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("events:dead")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let expected = ["id", &id, "reason", "why", "b", "1", "a", "2", "b", "3"];
    assert_eq!(dead[0].1, expected);
}

/// A dead letter and the acknowledgement of its entry are one script, applied only while the
/// entry is pending for the consumer: asked twice (as a script sent again after its reply was
/// lost would be), it writes one letter; for an entry another consumer claimed meanwhile, none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_written_once_and_only_for_an_entry_still_held() {
    let server = Server::start();
    let client = server.client();
    let mut sink = RedisSink::connect(&client, "events").await.unwrap();
    sink.send(&[vec![("value", "oops")], vec![("value", "?")]])
        .await
        .unwrap();
    let (entries, acker) = read_as_a(&client).await;
    assert_eq!(entries.len(), 2);
    // The second is claimed by b while a still holds it.
    let _: redis::Value = ask(
        &client,
        redis::cmd("XCLAIM")
            .arg("events")
            .arg("weir")
            .arg("b")
            .arg(0)
            .arg(&entries[1].id),
    )
    .await;
    acker.dead_letter(entries[0].clone(), "twice");
    acker.flush().await.unwrap();
    acker.dead_letter(entries[0].clone(), "twice");
    acker.dead_letter(entries[1].clone(), "b's now");
    acker.flush().await.unwrap();
    assert_eq!(ask::<u64>(&client, &xlen("events:dead")).await, 1);
    assert_eq!((acker.dead_lettered(), acker.acked()), (1, 1));
    // b's entry is still pending, for b.
    let left: Vec<(String, String, u64, u64)> = ask(
        &client,
        redis::cmd("XPENDING")
            .arg("events")
            .arg("weir")
            .arg("-")
            .arg("+")
            .arg(10),
    )
    .await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].0.as_str(), left[0].1.as_str()),
        (entries[1].id.as_str(), "b")
    );
}

/// Consumer `name` of the group `g` of `events`, counting its claims in the ledger of `out`,
/// claiming entries idle for 1 ms, waiting 10 ms for new ones.
fn claiming(name: &str) -> StreamGroup {
    StreamGroup::new("events", "g", name)
        .ledger("out")
        .claim_idle(Some(Duration::from_millis(1)))
        .block(Duration::from_millis(10))
}

/// The consumers the group `g` of `events` lists.
async fn group_members(client: &redis::Client) -> usize {
    let reply: Vec<redis::Value> = ask(
        client,
        redis::cmd("XINFO").arg("CONSUMERS").arg("events").arg("g"),
    )
    .await;
    reply.len()
}

/// Reads up to `n` entries as `group`'s consumer (they are then pending for it): their ids.
async fn take(client: &redis::Client, group: StreamGroup, n: usize) -> Vec<String> {
    let (source, _acker) = RedisSource::connect(client, group.claim_idle(None))
        .await
        .unwrap();
    let source = source.until_idle();
    let entries: Vec<_> = source.take(n).collect().await;
    entries.into_iter().map(|e| e.unwrap().id).collect()
}

/// A query's reply, on a connection of its own.
/// Waits until `g`'s reading connection has sent nothing for `secs` seconds, as a claim
/// sees it (`CLIENT LIST`'s `idle=` is the seconds the server's clock, in whole seconds,
/// moved on since: `secs + 1` of them): from then on, for a claim with a `claim_idle` up to
/// `secs`, `g`'s consumer is stopped, not reading.
async fn until_silent(client: &redis::Client, g: &StreamGroup, secs: u64) {
    let name = format!("name={}", g.client_name());
    loop {
        let clients: String = ask(client, redis::cmd("CLIENT").arg("LIST")).await;
        let idle = clients
            .lines()
            .filter(|line| line.split(' ').any(|field| field == name))
            .find_map(|line| line.split(' ').find_map(|f| f.strip_prefix("idle=")))
            .map(|idle| idle.parse::<u64>().unwrap());
        assert!(idle.is_some(), "no connection {name}");
        if idle > Some(secs) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ask<T: redis::FromRedisValue>(client: &redis::Client, cmd: &redis::Cmd) -> T {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    cmd.query_async(&mut conn).await.unwrap()
}

fn xlen(stream: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("XLEN");
    cmd.arg(stream);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_writes_and_acknowledges_together_and_only_once() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    let group = StreamGroup::new("events", "g", "a");
    let ids = take(&client, group.clone(), 10).await;
    let mut committer = Committer::connect(&client, &group, "out").await.unwrap();
    // The same consumer, connected before the commit: its first commit has the same number,
    // as a commit sent again after its reply was lost.
    let mut again = Committer::connect(&client, &group, "out").await.unwrap();
    let entries = vec![vec![("window", "1")], vec![("window", "2")]];
    let first = committer.commit(&ids[..6], &entries).await.unwrap();
    assert_eq!(first, Commit::Applied);
    assert_eq!((committer.acknowledged(), committer.written()), (6, 2));
    assert_eq!(pending(&client, "events", "g").await, 4);
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 2);
    // Applied already: not again.
    assert_eq!(
        again.commit(&ids[..6], &entries).await.unwrap(),
        Commit::Applied
    );
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 2);
    // The ledger holds the last number, for a committer connected later.
    let mut ledger = redis::cmd("HGET");
    ledger.arg("out:commits").arg("events:g:a");
    assert_eq!(ask::<u64>(&client, &ledger).await, 1);
    let mut later = Committer::connect(&client, &group, "out").await.unwrap();
    assert_eq!(later.progress(), None);
    let rest = later.commit_through(&ids[6..], &entries[..1], "through 7");
    assert_eq!(rest.await.unwrap(), Commit::Applied);
    assert_eq!(pending(&client, "events", "g").await, 0);
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 3);
    assert_eq!(ask::<u64>(&client, &ledger).await, 2);
    // The progress is recorded with the commit; a reader of the ledger sees it with the
    // output's last id, and a committer connected later goes on from it.
    let last: Vec<(String, HashMap<String, String>)> = ask(
        &client,
        redis::cmd("XREVRANGE")
            .arg("out")
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1),
    )
    .await;
    let mut reader = Ledger::connect(&client, "out").await.unwrap();
    let snapshot = reader.snapshot().await.unwrap();
    assert_eq!(snapshot.through.as_deref(), Some(&*last[0].0));
    let committers: Vec<_> = snapshot.committers.into_iter().collect();
    let recorded = Recorded {
        progress: Some("through 7".to_owned()),
        pending: 0,
        claims: 0,
    };
    assert_eq!(committers, [("events:g:a".to_owned(), recorded)]);
    let again = Committer::connect(&client, &group, "out").await.unwrap();
    assert_eq!(again.progress(), Some("through 7"));
    // Another consumer is listed as soon as it connects, with nothing recorded.
    let b = StreamGroup::new("events", "g", "b");
    let connected = Committer::connect(&client, &b, "out").await.unwrap();
    assert_eq!(connected.name(), "events:g:b");
    let snapshot = reader.snapshot().await.unwrap();
    assert_eq!(
        snapshot.committers.get("events:g:b"),
        Some(&Recorded::default())
    );
}

/// A consumer that stopped for good leaves the ledger and its group, but only once nothing
/// is pending for it; leaving again (a retry) is harmless, and one of its name connecting
/// later is listed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committer_leaves_the_ledger_and_the_group_only_with_nothing_pending() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 3).await;
    let group = StreamGroup::new("events", "g", "a").block(Duration::from_millis(10));
    let ids = take(&client, group.clone(), 3).await;
    let mut committer = Committer::connect(&client, &group, "out").await.unwrap();
    let entry = vec![vec![("n", "1")]];
    let done = committer.commit_through(&ids[..2], &entry, "end 0").await;
    assert_eq!(done.unwrap(), Commit::Applied);
    let mut reader = Ledger::connect(&client, "out").await.unwrap();
    // One entry still pending: it stays, listed with it.
    assert!(!committer.leave().await.unwrap());
    let snapshot = reader.snapshot().await.unwrap();
    assert_eq!(snapshot.committers["events:g:a"].pending, 1);
    assert_eq!(group_members(&client).await, 1);
    let done = committer.commit_through(&ids[2..], &entry, "end 0").await;
    assert_eq!(done.unwrap(), Commit::Applied);
    assert!(committer.leave().await.unwrap());
    assert!(committer.leave().await.unwrap(), "a retry");
    assert!(reader.snapshot().await.unwrap().committers.is_empty());
    assert_eq!(group_members(&client).await, 0);
    for hash in [
        "commits",
        "progress",
        "claims",
        "streams",
        "groups",
        "consumers",
    ] {
        let left: u64 = ask(&client, redis::cmd("HLEN").arg(format!("out:{hash}"))).await;
        assert_eq!(left, 0, "out:{hash}");
    }
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 2);
    let _again = Committer::connect(&client, &group, "out").await.unwrap();
    let snapshot = reader.snapshot().await.unwrap();
    assert_eq!(snapshot.committers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_shows_entries_pending_and_claims_a_commit_has_not_covered() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    // a takes every entry and stops; b connects and claims them.
    let a = take(&client, claiming("a"), 10).await;
    assert_eq!(a.len(), 10);
    let _a = Committer::connect(&client, &claiming("a"), "out")
        .await
        .unwrap();
    let mut b_committer = Committer::connect(&client, &claiming("b"), "out")
        .await
        .unwrap();
    let mut reader = Ledger::connect(&client, "out").await.unwrap();
    let snapshot = reader.snapshot().await.unwrap();
    assert_eq!(snapshot.committers["events:g:a"].pending, 10);
    // Idle past `claim_idle` on the server's clock.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (b, _acker) = RedisSource::connect(&client, claiming("b")).await.unwrap();
    let claims = b.claims();
    let mut b = b.until_idle();
    let (mut claimed, mut claimed_from) = (Vec::new(), Vec::new());
    while let Some(entry) = b.next().await {
        let entry = entry.unwrap();
        claimed.push(entry.id);
        claimed_from.push(entry.previous);
    }
    assert_eq!(claimed, a);
    // Counted in the same script as the claim; handed out whole by b.
    assert!(claimed_from.iter().all(|p| p.as_deref()
        == Some(&Previous {
            consumer: "a".to_owned(),
            progress: None,
        })));
    let snapshot = reader.snapshot().await.unwrap();
    let rb = &snapshot.committers["events:g:b"];
    assert_eq!((rb.pending, rb.claims), (10, 1));
    assert_eq!(claims.handed_out(), 1);
    // a, which no connection reads as any more, had nothing left pending: the claim took it
    // out of the ledger and the group.
    assert!(!snapshot.committers.contains_key("events:g:a"));
    assert_eq!(
        group_members(&client).await,
        1,
        "only b is left in the group"
    );
    // b commits them, saying it had handed out that claim.
    let window = [vec![("w", "1")]];
    let applied = b_committer.commit_through(&claimed, &window, "1").await;
    assert_eq!(applied.unwrap(), Commit::Applied);
    let snapshot = reader.snapshot().await.unwrap();
    let rb = &snapshot.committers["events:g:b"];
    assert_eq!(
        (rb.pending, rb.claims, rb.progress.as_deref()),
        (0, 1, Some("1"))
    );
    // A source started again under b's name knows the claims from the ledger once it has
    // re-read its pending entries (none now).
    let (again, _acker) = RedisSource::connect(&client, claiming("b")).await.unwrap();
    let claims = again.claims();
    let read: Vec<_> = again.until_idle().collect().await;
    assert!(read.is_empty());
    assert_eq!(claims.handed_out(), 1);
}

/// A consumer whose entries are all claimed while a connection still reads as it (stopped,
/// not dead) stays in the ledger and the group: it may wake up and commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_leaves_a_consumer_that_is_still_connected_listed() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 3).await;
    let (a, _a_acker) = RedisSource::connect(&client, claiming("a")).await.unwrap();
    let mut a = a.until_idle();
    for _ in 0..3 {
        a.next().await.unwrap().unwrap();
    }
    let _a = Committer::connect(&client, &claiming("a"), "out")
        .await
        .unwrap();
    until_silent(&client, &claiming("a"), 1).await;
    let (b, _b_acker) = RedisSource::connect(&client, claiming("b")).await.unwrap();
    let claimed: Vec<_> = b.until_idle().collect().await;
    assert_eq!(claimed.len(), 3);
    let snapshot = Ledger::connect(&client, "out")
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    assert_eq!(snapshot.committers["events:g:a"].pending, 0);
    assert_eq!(group_members(&client).await, 2);
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_of_entries_claimed_by_another_consumer_is_refused_whole() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    let a = StreamGroup::new("events", "g", "a");
    let ids = take(&client, a.clone(), 10).await;
    let mut zombie = Committer::connect(&client, &a, "out").await.unwrap();
    // b claims three of a's entries, as it would once a had been stopped for long enough.
    let mut claim = redis::cmd("XCLAIM");
    claim.arg("events").arg("g").arg("b").arg(0).arg(&ids[7..]);
    let claimed: redis::Value = ask(&client, &claim).await;
    assert!(matches!(claimed, redis::Value::Array(ref c) if c.len() == 3));
    let entries = vec![vec![("window", "1")]];
    let refused = zombie.commit(&ids, &entries).await.unwrap();
    assert_eq!(refused, Commit::Refused { not_owned: 3 });
    assert_eq!((zombie.refused(), zombie.acknowledged()), (1, 0));
    // Nothing of it was applied.
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 0);
    assert_eq!(pending(&client, "events", "g").await, 10);
    let mut ledger = Ledger::connect(&client, "out").await.unwrap();
    assert_eq!(ledger.refused("events:g:a").await.unwrap(), 1);
    // An entry acknowledged already is not a's either.
    let mut xack = redis::cmd("XACK");
    xack.arg("events").arg("g").arg(&ids[0]);
    let _: u64 = ask(&client, &xack).await;
    let refused = zombie.commit(&ids[..7], &entries).await.unwrap();
    assert_eq!(refused, Commit::Refused { not_owned: 1 });
    // Its own entries alone commit.
    let applied = zombie.commit(&ids[1..7], &entries).await.unwrap();
    assert_eq!(applied, Commit::Applied);
    assert_eq!(pending(&client, "events", "g").await, 3);
}

/// The ids of `entries`, with the counts of claims they were read under.
fn acks(entries: &[Entry]) -> Acks {
    let mut acks = Acks::new();
    for e in entries {
        acks.push(e.id.clone(), e.taken);
    }
    acks
}

/// A commit of entries read since the ledger last counted a claim skips checking their
/// owner; a claim sends the commits of entries read before it back to the check, so that a
/// zombie's commit is refused as when every commit is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_sends_the_commits_of_entries_read_before_it_to_the_owner_check() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    let (a, _a_acker) = RedisSource::connect(&client, claiming("a").claim_idle(None))
        .await
        .unwrap();
    let mut a = a.until_idle();
    let mut read = Vec::new();
    for _ in 0..10 {
        read.push(a.next().await.unwrap().unwrap());
    }
    // No claim has taken an entry yet.
    assert!(read.iter().all(|e| e.taken == Some(0)));
    let mut zombie = Committer::connect(&client, &claiming("a"), "out")
        .await
        .unwrap();
    let window = [vec![("window", "1")]];
    let applied = zombie.commit(acks(&read[..3]), &window).await.unwrap();
    assert_eq!(applied, Commit::Applied);
    // a stops for longer than b's claim_idle: b claims the seven it still holds, and the
    // claim is counted in the group (by a source without a ledger too).
    until_silent(&client, &claiming("a"), 1).await;
    let b = StreamGroup::new("events", "g", "b")
        .claim_idle(Some(Duration::from_millis(1)))
        .block(Duration::from_millis(10));
    let (b, _b_acker) = RedisSource::connect(&client, b).await.unwrap();
    let claimed: Vec<Entry> = b.until_idle().map(Result::unwrap).collect().await;
    let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
    let held: Vec<&str> = read[3..].iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, held);
    assert!(claimed.iter().all(|e| e.taken == Some(1)));
    let count = redis::cmd("GET").arg(claiming("a").taken_key()).clone();
    assert_eq!(ask::<u64>(&client, &count).await, 1);
    // a wakes up and commits what it read before the claim: checked, refused.
    let refused = zombie.commit(acks(&read[3..]), &window).await.unwrap();
    assert_eq!(refused, Commit::Refused { not_owned: 7 });
    // b's commit, of entries read under the count the ledger holds, is applied.
    let mut b_committer = Committer::connect(&client, &claiming("b"), "out")
        .await
        .unwrap();
    let applied = b_committer.commit(acks(&claimed), &window).await.unwrap();
    assert_eq!(applied, Commit::Applied);
    assert_eq!(b_committer.acknowledged(), 7);
    assert_eq!(pending(&client, "events", "g").await, 0);
    assert_eq!(ask::<u64>(&client, &xlen("out")).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_checks_everything_before_it_writes() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 10).await;
    let group = StreamGroup::new("events", "g", "a");
    // The input's group must be on the output's server.
    let other = StreamGroup::new("events", "h", "a");
    let missing = Committer::connect(&client, &other, "out")
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("no such group"), "{missing}");
    let ids = take(&client, group.clone(), 10).await;
    let mut committer = Committer::connect(&client, &group, "out")
        .await
        .unwrap()
        .backoff(weir::concurrent::Backoff::new(Duration::ZERO, Duration::ZERO).retries(0));
    // An output key of another type: an error, and not one id acknowledged.
    let mut set = redis::cmd("SET");
    set.arg("out").arg("x");
    let _: () = ask(&client, &set).await;
    let wrong = committer.commit(&ids, &[vec![("window", "1")]]).await;
    assert_eq!(wrong.unwrap_err().code(), Some("WRONGTYPE"));
    assert_eq!(pending(&client, "events", "g").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_run_on_a_timer_while_reads_find_entries() {
    let server = Server::start();
    let client = server.client();
    produce(&client, "events", 100).await;
    let group = |name: &str| StreamGroup::new("events", "g", name).count(100);
    let a = take(&client, group("a").claim_idle(None), 10).await;
    produce(&client, "events", 20_000).await;
    // Idle past `claim_idle` on the server's clock.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = group("b").claim_idle(Some(Duration::from_millis(10)));
    let (b, acker) = RedisSource::connect(&client, b).await.unwrap();
    // Acknowledged as read, as a consumer does: a claim pass pages through what is pending.
    let ids: Vec<String> = b
        .until_idle()
        .map(|e| {
            let id = e.unwrap().id;
            acker.ack(&id);
            id
        })
        .collect::<Vec<_>>()
        .await;
    assert_eq!(ids.len(), 20_100);
    // a's entries came while new ones were still being read, not after the last of them.
    let last_claimed = ids.iter().rposition(|id| a.contains(id)).unwrap();
    assert!(
        last_claimed < ids.len() - 1_000,
        "claimed at {last_claimed}"
    );
}

/// Writes entries `{t}` with these times to `stream`.
async fn stamped(client: &redis::Client, stream: &str, times: &[u64]) {
    let mut sink = RedisSink::connect(client, stream).await.unwrap();
    let batch: Vec<Vec<(&str, String)>> =
        times.iter().map(|t| vec![("t", t.to_string())]).collect();
    sink.send(&batch).await.unwrap();
}

/// Entries count at their field `t`; `0` does not count.
fn time_of_t() -> StreamTime {
    StreamTime::new(|e| e.field("t")?.parse().ok().filter(|t| *t > 0))
}

/// The stream time each entry should come with when every read takes one entry: the largest
/// time among the entries before it (those at 0 do not count).
fn prefix_maxima(times: &[u64]) -> Vec<Option<u64>> {
    let mut latest = None;
    times
        .iter()
        .map(|&t| {
            let before = latest;
            if t > 0 {
                latest = latest.max(Some(t));
            }
            before
        })
        .collect()
}

/// One consumer reading two entries at a time: each of its reads follows its own, whose
/// stream time it knows without the server's answer; each entry comes with the largest time
/// of the reads before its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_s_own_reads_in_a_row_know_the_stream_time_through_each() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 0, 0, 4, 12, 7, 1];
    stamped(&client, "events", &times).await;
    let group = StreamGroup::new("events", "g", "a")
        .count(2)
        .claim_idle(None)
        .stream_time(time_of_t());
    let (source, _acker) = RedisSource::connect(&client, group).await.unwrap();
    let got: Vec<Option<u64>> = source
        .until_idle_for(Duration::ZERO)
        .map(|e| e.unwrap().stream_time)
        .collect()
        .await;
    let (five, nine, twelve) = (Some(5), Some(9), Some(12));
    let want = [
        None, None, five, five, nine, nine, nine, nine, twelve, twelve,
    ];
    assert_eq!(got, want);
}

/// The stream times a new consumer `name` of group `g` reads `events` with, two entries a
/// read, to the end.
async fn read_through(client: &redis::Client, name: &str) -> Vec<Option<u64>> {
    let group = StreamGroup::new("events", "g", name)
        .count(2)
        .claim_idle(None)
        .stream_time(time_of_t());
    let (source, _acker) = RedisSource::connect(client, group).await.unwrap();
    source
        .until_idle_for(Duration::ZERO)
        .map(|e| e.unwrap().stream_time)
        .collect()
        .await
}

/// A group deleted and made again, by a source or by hand, or moved back to the stream's
/// start by hand, reads the stream again with a stream time of its own reads, not of the
/// earlier group's (whose stream time, 12 from the first read on, would come with every
/// entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_made_again_or_moved_back_starts_a_stream_time_of_its_own() {
    let server = Server::start();
    let client = server.client();
    stamped(&client, "events", &[12, 3, 9, 4, 7, 1]).await;
    let twelve = Some(12);
    let want = [None, None, twelve, twelve, twelve, twelve];
    let xgroup = |args: &[&str]| {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg(args);
        cmd
    };
    assert_eq!(read_through(&client, "a").await, want);
    let _: u8 = ask(&client, &xgroup(&["DESTROY", "events", "g"])).await;
    assert_eq!(
        read_through(&client, "b").await,
        want,
        "made again by a source"
    );
    let _: u8 = ask(&client, &xgroup(&["DESTROY", "events", "g"])).await;
    let _: String = ask(&client, &xgroup(&["CREATE", "events", "g", "0"])).await;
    assert_eq!(read_through(&client, "c").await, want, "made again by hand");
    let _: String = ask(&client, &xgroup(&["SETID", "events", "g", "0"])).await;
    assert_eq!(read_through(&client, "d").await, want, "moved back by hand");
    // A group that was not moved keeps its stream time: a consumer connecting later reads
    // new entries after it.
    stamped(&client, "events", &[2, 5]).await;
    assert_eq!(read_through(&client, "e").await, [twelve, twelve]);
}

/// Three consumers reading one entry at a time, in turn: each entry comes with the largest
/// time of the entries before it in the stream, whichever consumer read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_read_learns_the_stream_time_of_every_read_before_it() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 4, 12, 7, 12, 1, 15, 2, 8];
    stamped(&client, "events", &times).await;
    let want = prefix_maxima(&times);
    let mut sources = Vec::new();
    for name in ["a", "b", "c"] {
        let group = StreamGroup::new("events", "g", name)
            .count(1)
            .block(Duration::from_millis(10))
            .stream_time(time_of_t());
        let (source, _acker) = RedisSource::connect(&client, group).await.unwrap();
        sources.push(source.until_idle());
    }
    let mut got = HashMap::new();
    let mut ended = 0;
    while ended < sources.len() {
        ended = 0;
        for source in &mut sources {
            match source.next().await {
                Some(entry) => {
                    let entry = entry.unwrap();
                    got.insert(entry.id.clone(), entry.stream_time);
                }
                None => ended += 1,
            }
        }
    }
    let entries: Vec<(String, redis::Value)> = ask(
        &client,
        redis::cmd("XRANGE").arg("events").arg("-").arg("+"),
    )
    .await;
    let ids: Vec<String> = entries.into_iter().map(|(id, _)| id).collect();
    let got: Vec<Option<u64>> = ids.iter().map(|id| got[id]).collect();
    assert_eq!(got, want);
}

/// A consumer `a` (one entry a read, made by `a_group` for a stream name) over a fresh stream
/// named after `prefix` and holding `times`, that has handed out its first entry (with no
/// stream time) and whose second read the server has numbered: the stream's name, `a`, its
/// acker, and its second entry if it handed it out meanwhile.
///
/// A read ahead goes out by itself (a task the source spawned while the read before waited
/// for its stream time), unless the read before had its stream time in when the source took
/// it in: then the next read waits for the next poll, so after a second without it `a` is
/// polled once. On a loaded machine a spawned read can take longer than that to be
/// numbered; the poll then takes its result and sends a third read, and the set-up is not
/// the one asked for: it starts over on a fresh stream (at most three times). Fails after
/// 10 s on one stream, or at a third read numbered without that poll.
async fn with_second_read_numbered(
    client: &redis::Client,
    prefix: &str,
    times: &[u64],
    a_group: impl Fn(&str) -> StreamGroup,
) -> (String, RedisSource, Acker, Option<Entry>) {
    for attempt in 0..3 {
        let stream = format!("{prefix}-{attempt}");
        stamped(client, &stream, times).await;
        let group = a_group(&stream);
        let key = group.stream_time_key();
        let (a, acker) = RedisSource::connect(client, group).await.unwrap();
        let mut a = a.until_idle();
        assert_eq!(a.next().await.unwrap().unwrap().stream_time, None);
        let start = Instant::now();
        let (mut polled, mut handed_out) = (false, None);
        let numbered = loop {
            let seq = ask::<Option<u64>>(client, redis::cmd("HGET").arg(&key).arg("seq")).await;
            if seq == Some(2) {
                break true;
            }
            if seq > Some(2) && polled {
                break false;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10) && seq < Some(2),
                "{key}: a's reads numbered {seq:?}, not 2 (polled: {polled})"
            );
            if seq == Some(1) && !polled && start.elapsed() > Duration::from_secs(1) {
                polled = true;
                if let Ok(next) = tokio::time::timeout(Duration::ZERO, a.next()).await {
                    handed_out = next.map(Result::unwrap);
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        if numbered {
            return (stream, a, acker, handed_out);
        }
    }
    panic!("{prefix}: a third read after the poll on three streams in a row");
}

/// A read runs as a task of its own: a consumer that has handed out an entry, with its next
/// read on its way, and is not polled again for a while (busy downstream) still posts that
/// read, so the other consumers' reads after it get their stream time meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_not_polled_holds_no_other_consumer_s_read_back() {
    let server = Server::start();
    let client = server.client();
    let group = |stream: &str, name| {
        StreamGroup::new(stream, "g", name)
            .count(1)
            .claim_idle(None)
            .stream_time(time_of_t())
    };
    // a's next read is numbered: a is not polled from here on.
    let (stream, mut a, _a_acker, second) =
        with_second_read_numbered(&client, "events", &[5, 3, 40, 7], |s| group(s, "a")).await;
    let (b, _b_acker) = RedisSource::connect(&client, group(&stream, "b"))
        .await
        .unwrap();
    let mut b = b.until_idle();
    // Without a's post, b's read would wait for it for ever (no claim_idle to take it over).
    let third = tokio::time::timeout(Duration::from_secs(5), b.next())
        .await
        .expect("b waited for a, which was not polled")
        .unwrap()
        .unwrap();
    assert_eq!(third.field("t"), Some("40"));
    assert_eq!(third.stream_time, Some(5));
    let second = match second {
        Some(second) => second,
        None => a.next().await.unwrap().unwrap(),
    };
    assert_eq!(
        (second.field("t"), second.stream_time),
        (Some("3"), Some(5))
    );
}

/// A read's entries waiting for the stream time of the read before theirs (another reader's,
/// never posted) are not held behind their reader's next read: that one finds nothing new
/// and waits on the server for an entry (`block`, 30 s here) on the reading connection, while
/// the wait for the stream time looks at the server on a connection of its own and, once the
/// silent reader's connection is gone, recovers its read and hands the entry out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_waiting_for_its_stream_time_is_not_held_behind_the_next_read() {
    let server = Server::start();
    let client = server.client();
    stamped(&client, "s", &[5, 3]).await;
    let group = |name| {
        StreamGroup::new("s", "g", name)
            .count(1)
            .claim_idle(None)
            .block(Duration::from_secs(30))
            .stream_time(time_of_t())
    };
    // b creates the group; "stopped" reads the first entry and never posts, its connection
    // open.
    let (mut b, _acker) = RedisSource::connect(&client, group("b")).await.unwrap();
    let stopped = silent_reader(&client, &group("stopped"), 1).await;
    let second = tokio::spawn(async move { b.next().await.map(Result::unwrap) });
    // b read the second entry, which waits for the first read's stream time, and its next
    // read found nothing and waits on the server.
    let name = format!("name={}", group("b").client_name());
    let start = Instant::now();
    loop {
        let clients: String = ask(&client, redis::cmd("CLIENT").arg("LIST")).await;
        let blocked = clients.lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.contains(&name.as_str()) && fields.contains(&"cmd=xread")
        });
        if blocked {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "b's reading connection never waited on the server: {clients}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !second.is_finished(),
        "the second entry came without the first read's post"
    );
    // The silent reader goes: its read can be recovered.
    drop(stopped);
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the stream time waited behind the read on the server")
        .unwrap()
        .unwrap();
    assert_eq!(
        (second.field("t"), second.stream_time),
        (Some("3"), Some(5))
    );
}

/// Entries read again long after their read, claimed from a consumer that died or re-read
/// by one started again, come with the stream time one reader of the whole stream had
/// before them: every entry delivered before, their own read's earlier entries too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_claimed_or_read_again_know_the_stream_time_before_them() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 4, 12, 7, 12, 1, 15, 2, 8];
    let want = prefix_maxima(&times);
    for (stream, restart) in [("claimed", false), ("restarted", true)] {
        stamped(&client, stream, &times[..6]).await;
        let group = |name| {
            StreamGroup::new(stream, "g", name)
                .count(3)
                .block(Duration::from_millis(10))
                .stream_time(time_of_t())
        };
        // a reads the first six, in two reads of three, then three more in a read it dies
        // before posting, holding all nine.
        {
            let (a, _acker) = RedisSource::connect(&client, group("a")).await.unwrap();
            let read: Vec<_> = a.until_idle().collect().await;
            assert_eq!(read.len(), 6);
        }
        stamped(&client, stream, &times[6..]).await;
        let mut dead = client.get_multiplexed_async_connection().await.unwrap();
        read_never_posted(&mut dead, &group("a"), 3).await;
        drop(dead);
        // The rest is read new; a's nine come back claimed (the reads after its last one
        // recover it), or re-read by a started again (which posts for it itself).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let name = if restart { "a" } else { "b" };
        let claim = Some(Duration::from_millis(100));
        let (source, acker) = RedisSource::connect(&client, group(name).claim_idle(claim))
            .await
            .unwrap();
        let mut source = source.until_idle();
        let mut again = BTreeMap::new();
        while let Some(entry) = source.next().await {
            let entry = entry.unwrap();
            if entry.redelivered {
                again.insert(entry.id.clone(), entry.stream_time);
            }
        }
        let entries: Vec<(String, redis::Value)> =
            ask(&client, redis::cmd("XRANGE").arg(stream).arg("-").arg("+")).await;
        let held = again.len();
        assert_eq!(held, 9, "{stream}");
        let got: Vec<Option<u64>> = entries[..held].iter().map(|(id, _)| again[id]).collect();
        assert_eq!(got, want[..held], "{stream}");
        // Every entry acknowledged, the next read lets go of the reads recorded before it:
        // the record follows the entries pending, not the stream's length.
        let key = group("c").stream_reads_key();
        let recorded = || {
            let (client, key) = (client.clone(), key.clone());
            async move { ask::<usize>(&client, redis::cmd("ZCARD").arg(key)).await }
        };
        assert!(recorded().await >= 3, "{stream}");
        for (id, _) in &entries {
            acker.ack(id);
        }
        acker.flush().await.unwrap();
        stamped(&client, stream, &[20]).await;
        let (c, _acker) = RedisSource::connect(&client, group("c")).await.unwrap();
        let mut c = c.until_idle();
        assert_eq!(c.next().await.unwrap().unwrap().stream_time, Some(15));
        assert_eq!(recorded().await, 1, "{stream}");
    }
}

/// Group `g` of stream `s` as consumer `name`: reads of three, blocking 10 ms.
fn small_group(name: &str) -> StreamGroup {
    StreamGroup::new("s", "g", name)
        .count(3)
        .block(Duration::from_millis(10))
}

/// [`small_group`] with a stream time, from the entries' `t`.
fn stamped_group(name: &str) -> StreamGroup {
    small_group(name).stream_time(time_of_t())
}

/// Everything `group`'s source hands out until a read finds nothing new and nothing to
/// claim, and its acknowledger.
async fn read_all(client: &redis::Client, group: StreamGroup) -> (Vec<Entry>, Acker) {
    let (source, acker) = RedisSource::connect(client, group).await.unwrap();
    let entries = source.until_idle().map(Result::unwrap).collect().await;
    (entries, acker)
}

/// The entries' stream times, in order.
fn stream_times(entries: &[Entry]) -> Vec<Option<u64>> {
    entries.iter().map(|e| e.stream_time).collect()
}

/// Acknowledges `entries` and waits until the server has.
async fn ack_all(acker: &Acker, entries: &[Entry]) {
    for entry in entries {
        acker.ack(&entry.id);
    }
    acker.flush().await.unwrap();
}

/// A connection named as `g`'s consumer's, that made a read of `count` as a source does and
/// never posted it: a reader still connected, stopped.
async fn silent_reader(
    client: &redis::Client,
    g: &StreamGroup,
    count: usize,
) -> redis::aio::MultiplexedConnection {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(g.client_name())
        .query_async(&mut conn)
        .await
        .unwrap();
    read_never_posted(&mut conn, g, count).await;
    conn
}

/// Makes a read of new entries on `conn` as `g`'s consumer does, numbered, and never posts
/// it (its reader died with the reply): up to `count` entries, now pending for that consumer.
async fn read_never_posted(
    conn: &mut redis::aio::MultiplexedConnection,
    g: &StreamGroup,
    count: usize,
) {
    let key = g.stream_time_key();
    let (n, _): (u64, redis::Value) = redis::pipe()
        .atomic()
        .cmd("HINCRBY")
        .arg(&key)
        .arg("seq")
        .arg(1)
        .cmd("XREADGROUP")
        .arg("GROUP")
        .arg(g.group())
        .arg(g.consumer())
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(g.stream())
        .arg(">")
        .query_async(conn)
        .await
        .unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(format!("w:{n}"))
        .arg(g.consumer())
        .arg(format!("own:{}", g.consumer()))
        .arg(n)
        .arg(format!("t:{n}"))
        .arg(secs * 1000 + micros / 1000)
        .query_async(conn)
        .await
        .unwrap();
}

/// A read never posted by a reader that is still connected (stopped), with no read after
/// it: the consumer that claims its entries, idle for the group's `claim_idle`, takes the
/// read over, and the entries know the stream time before them, as when claimed from a
/// reader that died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_claimed_from_a_silent_reader_know_the_stream_time_before_them() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 4, 12];
    let want = prefix_maxima(&times);
    stamped(&client, "s", &times[..3]).await;
    // a reads and posts the first three, and goes.
    let (read, _) = read_all(&client, stamped_group("a")).await;
    assert_eq!(read.len(), 3);
    // "stopped" reads the last three and never posts, its connection open.
    stamped(&client, "s", &times[3..]).await;
    let stopped = silent_reader(&client, &stamped_group("stopped"), 3).await;
    until_silent(&client, &stamped_group("stopped"), 1).await;
    // b finds nothing new and claims all six.
    let claim = Some(Duration::from_millis(100));
    let (claimed, acker) = read_all(&client, stamped_group("b").claim_idle(claim)).await;
    assert!(claimed.iter().all(|e| e.redelivered));
    assert_eq!(stream_times(&claimed), want);
    ack_all(&acker, &claimed).await;
    assert_eq!(pending(&client, "s", "g").await, 0);
    drop(stopped);
}

/// Two readers stopped one after the other, each with a read never posted: the first one's
/// entries, idle for `claim_idle` (and its connection silent as long), are not claimed while
/// the read after theirs, numbered less than `claim_idle` ago, keeps theirs from being
/// recovered (they would come without a stream time); a later pass claims all six, each
/// with the stream time before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_whose_read_cannot_be_recovered_yet_are_claimed_once_it_can() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 4, 12, 1, 2, 7];
    let want = prefix_maxima(&times);
    stamped(&client, "s", &times[..3]).await;
    // a reads, posts and acknowledges the first three.
    {
        let (read, acker) = read_all(&client, stamped_group("a")).await;
        assert_eq!(read.len(), 3);
        ack_all(&acker, &read).await;
    }
    // The connections' silence counts in whole seconds: a claim_idle of 2 s.
    let mut stopped = Vec::new();
    for (name, range) in [("first", 3..6), ("second", 6..9)] {
        stamped(&client, "s", &times[range]).await;
        let conn = silent_reader(&client, &stamped_group(name), 3).await;
        stopped.push(conn);
        if name == "first" {
            until_silent(&client, &stamped_group(name), 2).await;
        }
    }
    let b = || {
        read_all(
            &client,
            stamped_group("b").claim_idle(Some(Duration::from_secs(2))),
        )
    };
    // The first reader's entries are idle long enough, but not the second one's read.
    let (early, _acker) = b().await;
    assert_eq!(early.len(), 0);
    assert_eq!(pending(&client, "s", "g").await, 6);
    until_silent(&client, &stamped_group("second"), 2).await;
    let (claimed, acker) = b().await;
    assert_eq!(stream_times(&claimed), want[3..]);
    ack_all(&acker, &claimed).await;
    assert_eq!(pending(&client, "s", "g").await, 0);
    drop(stopped);
}

/// A consumer started again whose last read was never posted re-reads its entries; while
/// that read cannot be recovered (the read after it, by a reader connected and silent, is
/// not posted either), it waits, until that reader has been silent for `claim_idle`: then
/// both reads are recovered, and its entries, and the silent reader's once claimed, know the
/// stream time before them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_started_again_waits_until_its_read_can_be_recovered() {
    let server = Server::start();
    let client = server.client();
    let times = [5, 3, 9, 0, 4, 12, 1, 2, 7];
    let want = prefix_maxima(&times);
    stamped(&client, "s", &times[..3]).await;
    let claim_idle = Some(Duration::from_millis(200));
    let group = |name| stamped_group(name).claim_idle(claim_idle);
    let (read, acker) = read_all(&client, group("a")).await;
    ack_all(&acker, &read).await;
    // r reads three and dies before posting; "silent" reads the last three, and stays.
    stamped(&client, "s", &times[3..6]).await;
    drop(silent_reader(&client, &group("r"), 3).await);
    stamped(&client, "s", &times[6..]).await;
    let silent = silent_reader(&client, &group("silent"), 3).await;
    let (mut got, acker) = read_all(&client, group("r")).await;
    assert!(got[..3].iter().all(|e| e.redelivered));
    ack_all(&acker, &got).await;
    // Whatever of the silent reader's r did not claim yet, b does.
    until_silent(&client, &group("silent"), 1).await;
    let (claimed, acker) = read_all(&client, group("b")).await;
    ack_all(&acker, &claimed).await;
    got.extend(claimed);
    assert_eq!(stream_times(&got), want[3..]);
    assert_eq!(pending(&client, "s", "g").await, 0);
    drop(silent);
}

/// Entries a reader without the stream time was delivered (no read of theirs was numbered)
/// are claimed as before, once reads with it have gone past them: only an entry after the
/// last one folded can be in a read that is merely not posted yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_in_no_numbered_read_are_claimed_without_a_stream_time() {
    let server = Server::start();
    let client = server.client();
    stamped(&client, "s", &[5, 3, 9]).await;
    // "plain" reads the first three without the stream time, and goes.
    let (held, _acker) = read_all(&client, small_group("plain")).await;
    assert_eq!(held.len(), 3);
    // a reads the next three with it, posts and acknowledges them.
    stamped(&client, "s", &[4, 12, 1]).await;
    let (read, acker) = read_all(&client, stamped_group("a")).await;
    assert_eq!(read.len(), 3);
    ack_all(&acker, &read).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let b = stamped_group("b").claim_idle(Some(Duration::from_millis(100)));
    let (claimed, acker) = read_all(&client, b).await;
    let ids = |entries: &[Entry]| entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&claimed), ids(&held));
    assert!(claimed.iter().all(|e| e.stream_time.is_none()));
    ack_all(&acker, &claimed).await;
    assert_eq!(pending(&client, "s", "g").await, 0);
}

/// A consumer that made a read and died before posting it (its connection gone) holds the
/// others back only until they see it gone: then one of them reads its entries itself.
/// One that is still connected is waited for as long as the group's `claim_idle`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_never_posted_is_recovered_once_its_reader_is_gone() {
    let server = Server::start();
    let client = server.client();
    for (prefix, close) in [("closed", true), ("stopped", false)] {
        let times = [5, 3, 40, 7, 8, 2, 9];
        // a's first read (of one entry) is posted, and its next is on its way meanwhile;
        // once the server has numbered that one, "dead" reads the next two by hand, as a
        // source does, and never posts.
        let a_group = |stream: &str| {
            StreamGroup::new(stream, "g", "a")
                .stream_time(time_of_t())
                .count(1)
                .claim_idle(Some(Duration::from_secs(3)))
        };
        let (stream, mut a, _acker, second) =
            with_second_read_numbered(&client, prefix, &times, a_group).await;
        let stream = stream.as_str();
        let group = |name| StreamGroup::new(stream, "g", name).stream_time(time_of_t());
        let dead = silent_reader(&client, &group("dead"), 2).await;
        if close {
            drop(dead);
        }
        let second = match second {
            Some(second) => second,
            None => a.next().await.unwrap().unwrap(),
        };
        assert_eq!(second.stream_time, Some(5), "{stream}");
        // a reads on: its next entry (the fifth) must know the dead read's 40. While its
        // read waits for that, its flag for the windows is up (it is busy, not quiet).
        let started = Instant::now();
        let underway = a.underway();
        let (mut raised, next) = (false, a.next());
        tokio::pin!(next);
        let next = loop {
            tokio::select! {
                next = &mut next => break next.unwrap().unwrap(),
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    raised |= underway.is_raised();
                }
            }
        };
        let waited = started.elapsed();
        assert_eq!(next.stream_time, Some(40), "{stream}");
        if !close {
            assert!(raised, "{stream}: the flag was up while the read waited");
        }
        if close {
            assert!(
                waited < Duration::from_secs(3),
                "{stream}: waited {waited:?}"
            );
        } else {
            assert!(
                waited >= Duration::from_secs(3),
                "{stream}: waited {waited:?}"
            );
        }
        // (The dead one's entries, claimed once idle 3 s, come last, read long before.)
        let rest: Vec<Option<u64>> = a
            .map(Result::unwrap)
            .filter(|e| !e.redelivered)
            .map(|e| e.stream_time)
            .collect()
            .await;
        assert_eq!(rest, [Some(40); 2], "{stream}");
        assert!(
            !underway.is_raised(),
            "{stream}: the flag is down once every read is in"
        );
    }
}
