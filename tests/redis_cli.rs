//! `weir run --from redis://...`, `weir combine` and `weir produce --to redis://...` as a
//! user runs them: child processes against a `redis-server` of the test's own. Only with
//! `--features redis`.
//!
//! These tests take real time: the server's clock decides when an entry has been idle long
//! enough to claim, so they wait on the server (polling it), never on a guess.

#![cfg(feature = "redis")]

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::redis_server::Server;
use common::watched::{Watched, assert_outcomes_are_the_summary, run_watched, summary_count};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const EVENTS: u64 = 100_000;

fn weir(args: &[&str]) -> Command {
    let mut command = Command::new(WEIR);
    command.args(args);
    command
}

/// Runs `weir` to its end; panics with its stderr unless it exits with 0.
fn run_ok(args: &[&str]) -> Output {
    let out = weir(args).output().expect("running weir");
    assert!(
        out.status.success(),
        "weir {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn spawn(args: &[&str]) -> Child {
    weir(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting weir")
}

fn wait_ok(child: Child) -> String {
    let out = child.wait_with_output().expect("waiting for weir");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    stderr
}

/// The same events, as a file's JSON lines and in the stream `events` of `server`.
/// The arguments of `weir produce` for the tests' events.
const PRODUCE: [&str; 7] = [
    "produce",
    "--events",
    "100000",
    "--seed",
    "7",
    "--start-ms",
    "1700000000000",
];

/// Writes the events to a file, and returns its path.
fn produce_file(server: &Server) -> String {
    produce_file_with(server, &[])
}

/// Writes the events, made with the `extra` arguments of `weir produce` too, to a file, and
/// returns its path.
fn produce_file_with(server: &Server, extra: &[&str]) -> String {
    assert_eq!(PRODUCE[2], EVENTS.to_string());
    let dir = std::env::temp_dir().join(format!("weir-redis-cli-{}", server.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let out = run_ok(&[&PRODUCE[..], extra].concat());
    std::fs::write(&file, out.stdout).unwrap();
    file.to_string_lossy().into_owned()
}

/// Writes the events to a file and to the stream `events`; the file's path.
fn produce(server: &Server) -> String {
    produce_with(server, &[])
}

/// [`produce`] with the `extra` arguments of `weir produce`.
fn produce_with(server: &Server, extra: &[&str]) -> String {
    let file = produce_file_with(server, extra);
    let to = format!("{}/events", url(server));
    run_ok(&[&PRODUCE[..], extra, &["--to", &to]].concat());
    file
}

/// Feeds the events of `file` to the stream `events` as a live source would: 1 000 every
/// 50 ms, on a thread of its own. A feed cut off (the server restarted) connects again and
/// goes on from the entries the stream holds, so that it holds each event once. The thread
/// returns how many times it lost its connection.
fn feed(server: &Server, file: &str) -> std::thread::JoinHandle<u32> {
    let lines: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let client = server.client();
    std::thread::spawn(move || {
        let (mut conn, mut fed, mut failing, mut cut) = (None, 0, None, 0);
        while fed < lines.len() {
            match feed_more(&client, &mut conn, &lines, &mut fed, failing.is_some()) {
                Ok(()) => failing = None,
                Err(e) => {
                    if conn.take().is_some() {
                        cut += 1;
                    }
                    let since = *failing.get_or_insert_with(Instant::now);
                    assert!(since.elapsed() < Duration::from_secs(30), "feeding: {e}");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        cut
    })
}

/// Adds the next 1 000 events of `lines` from `fed` on, through `conn` (connected first if
/// `None`); after a failure (`again`), from as many as the stream holds.
fn feed_more(
    client: &redis::Client,
    conn: &mut Option<redis::Connection>,
    lines: &[String],
    fed: &mut usize,
    again: bool,
) -> redis::RedisResult<()> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(client.get_connection()?),
    };
    if again {
        *fed = redis::cmd("XLEN").arg("events").query(conn)?;
    }
    let end = (*fed + 1_000).min(lines.len());
    let mut pipe = redis::pipe();
    for line in &lines[*fed..end] {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        pipe.cmd("XADD")
            .arg("events")
            .arg("*")
            .arg("timestamp")
            .arg(event["timestamp"].as_u64().unwrap())
            .arg("source")
            .arg(event["source"].as_str().unwrap())
            .arg("value")
            .arg(event["value"].as_f64().unwrap())
            .ignore();
    }
    let () = pipe.query(conn)?;
    *fed = end;
    Ok(())
}

/// The URLs of the tests' streams on `server`: the events, the partials and the final
/// windows.
fn streams(server: &Server) -> [String; 3] {
    ["events", "partials", "final"].map(|stream| format!("{}/{stream}", url(server)))
}

fn url(server: &Server) -> String {
    format!("redis://127.0.0.1:{}", server.port())
}

/// Window results by `(start, end, key)`: the event count and the whole line.
fn windows(stdout: &[u8]) -> Windows {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let key = (
                v["window_start"].as_u64().unwrap(),
                v["window_end"].as_u64().unwrap(),
                v["key"].as_str().unwrap_or_default().to_owned(),
            );
            (key, (v["event_count"].as_u64().unwrap(), line.to_owned()))
        })
        .collect()
}

type Windows = BTreeMap<(u64, u64, String), (u64, String)>;

/// Panics unless `got` equals `want`, naming the first windows that differ (not every
/// window of both).
fn assert_same_windows(got: &Windows, want: &Windows, what: &str) {
    let differ: std::collections::BTreeSet<_> = want
        .keys()
        .chain(got.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: {} of {} windows differ ({} events against {}); the first: {:#?}",
        differ.len(),
        want.len(),
        got.values().map(|(n, _)| n).sum::<u64>(),
        want.values().map(|(n, _)| n).sum::<u64>(),
        differ
            .iter()
            .take(8)
            .map(|k| (k, got.get(*k).map(|w| w.0), want.get(*k).map(|w| w.0)))
            .collect::<Vec<_>>()
    );
}

fn query<T: redis::FromRedisValue>(server: &Server, cmd: &mut redis::Cmd) -> T {
    let mut conn = server.client().get_connection().expect("a connection");
    cmd.query(&mut conn).expect("a query")
}

/// Entries pending in `group`, of `consumer` (all consumers with `None`), idle at least
/// `idle_ms`.
fn pending(server: &Server, group: &str, consumer: Option<&str>, idle_ms: u64) -> usize {
    let mut cmd = redis::cmd("XPENDING");
    cmd.arg("events").arg(group).arg("IDLE").arg(idle_ms);
    cmd.arg("-").arg("+").arg(10_000_000);
    if let Some(consumer) = consumer {
        cmd.arg(consumer);
    }
    let entries: Vec<redis::Value> = query(server, &mut cmd);
    entries.len()
}

/// Polls `ready` every 20 ms; panics naming `what` after 60 s.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the group of `events` (the only one) has been delivered all `EVENTS` entries.
fn every_entry_read(server: &Server) -> bool {
    every_entry_read_of(server, EVENTS)
}

/// Whether the group of `events` (the only one) has been delivered `n` entries.
fn every_entry_read_of(server: &Server, n: u64) -> bool {
    let info: redis::streams::StreamInfoGroupsReply =
        query(server, redis::cmd("XINFO").arg("GROUPS").arg("events"));
    info.groups
        .first()
        .is_some_and(|g| g.entries_read == Some(n as usize))
}

/// Whether every read of new entries numbered in the group `stream_group` (`STREAM:GROUP`)
/// has been folded into its stream time: each was posted, and its entries were given their
/// stream time.
fn every_read_folded(server: &Server, stream_group: &str) -> bool {
    let (seq, through): (Option<u64>, Option<u64>) = query(
        server,
        redis::cmd("HMGET")
            .arg(format!("{stream_group}:time"))
            .arg("seq")
            .arg("through"),
    );
    seq.is_some() && seq == through
}

/// Entries in the stream `partials`.
fn written(server: &Server) -> u64 {
    query(server, redis::cmd("XLEN").arg("partials"))
}

/// The number in `summary: N entries read` of a consumer's stderr.
fn entries_read(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn consumer_args<'a>(from: &'a str, to: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--from",
        from,
        "--group",
        "g",
        "--consumer",
        name,
        "--to",
        to,
        "--by",
        "source",
        "--lateness",
        "1s",
        "--until-idle",
    ]
}

#[test]
fn two_consumers_combined_give_the_single_process_windows() {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    for (group, shape) in [
        ("tumbling", &[][..]),
        ("sliding", &["--slide", "250ms"][..]),
    ] {
        let single =
            run_ok(&[&["run", &file, "--by", "source", "--lateness", "1s"], shape].concat());
        let single = windows(&single.stdout);
        assert!(single.len() > 50, "{} windows", single.len());
        let partials = format!("{to}-{group}");
        let args = |name| {
            let mut args = consumer_args(&from, &partials, name);
            args[4] = group;
            [&args[..], shape].concat()
        };
        let (a, b) = (spawn(&args("a")), spawn(&args("b")));
        let (a, b) = (wait_ok(a), wait_ok(b));
        // Both took a share, and between them every entry once.
        let (read_a, read_b) = (entries_read(&a), entries_read(&b));
        assert!(read_a > 0 && read_b > 0, "{read_a} and {read_b}");
        assert_eq!(read_a + read_b, EVENTS);
        assert_eq!(pending(&server, group, None, 0), 0);
        // Stopped for good with nothing pending, both left the ledger and the group.
        let commits = format!("partials-{group}:commits");
        let listed: u64 = query(&server, redis::cmd("HLEN").arg(&commits));
        assert_eq!(listed, 0, "{group}: consumers left in the ledger");
        let members: Vec<redis::Value> = query(
            &server,
            redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg("events")
                .arg(group),
        );
        assert!(members.is_empty(), "{group}: consumers left in the group");
        // Every consumer has ended: no need to wait for more partials.
        let combined = run_ok(&["combine", "--from", &partials, "--until-idle=0s"]);
        let combined = windows(&combined.stdout);
        // Window for window, key for key, digit for digit.
        assert_eq!(combined, single, "{group}");
        // A second combiner, in a group of its own, writes the same lines to a stream.
        let out = format!("{}/final-{group}", url(&server));
        let args = [
            "combine", "--from", &partials, "--group", "again", "--to", &out,
        ];
        run_ok(&[&args[..], &["--until-idle"]].concat());
        let reply: redis::streams::StreamRangeReply = query(
            &server,
            redis::cmd("XRANGE")
                .arg(format!("final-{group}"))
                .arg("-")
                .arg("+"),
        );
        let lines: Vec<String> = reply
            .ids
            .iter()
            .map(|e| e.get::<String>("window").unwrap())
            .collect();
        assert_eq!(windows(lines.join("\n").as_bytes()), single, "{group}");
    }
}

/// Combines the partials in `to` (draining them) and checks them against one process's
/// windows over `file`: window for window, key for key, digit for digit.
fn assert_combined_exactly(to: &str, file: &str) {
    assert_combined_exactly_as(to, file, &[]);
}

/// [`assert_combined_exactly`] for windows of the `shape` (`--slide ...`).
fn assert_combined_exactly_as(to: &str, file: &str, shape: &[&str]) {
    assert_combined_exactly_as_single(to, &single_windows(file, shape));
}

/// One process's windows over `file`, of the `shape` (`--slide ...`), as the consumers make
/// them (by source, 1 s of lateness).
fn single_windows(file: &str, shape: &[&str]) -> Windows {
    let single = run_ok(&[&["run", file, "--by", "source", "--lateness", "1s"], shape].concat());
    windows(&single.stdout)
}

/// Consumer `name`'s arguments without `--until-idle` (it runs until told to stop), then
/// `extra`.
fn live_args<'a>(from: &'a str, to: &'a str, name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = consumer_args(from, to, name);
    assert_eq!(args.pop(), Some("--until-idle"));
    args.extend_from_slice(extra);
    args
}

/// Checks the windows in the stream `final` against `single`: each window and key written
/// once, as one process computes it.
fn assert_final_stream_exactly(server: &Server, single: &Windows) {
    let lines = window_lines(server, "final");
    let combined = windows(lines.join("\n").as_bytes());
    assert_eq!(lines.len(), combined.len(), "a window written twice");
    assert_same_windows(&combined, single, "combined");
}

/// Freezes `a` (SIGSTOP) once windows have been written and it holds entries, so that what
/// it holds cannot change between the look and what the test does next: its pending count.
fn freeze_holding(server: &Server, a: &Child) -> usize {
    freeze_holding_as(server, a, "a")
}

/// [`freeze_holding`] for the consumer `name`.
fn freeze_holding_as(server: &Server, child: &Child, name: &str) -> usize {
    loop {
        wait_until("windows written", || {
            written(server) >= 40 && pending(server, "g", Some(name), 0) > 0
        });
        signal(child, "STOP");
        let held = pending(server, "g", Some(name), 0);
        if held > 0 {
            return held;
        }
        signal(child, "CONT");
    }
}

/// Runs consumer `b` (`args`) until it has claimed every entry `a` left pending: they are
/// claimable once idle for `--claim-idle` (3 s) on the server's clock, and `b` claims those
/// it finds idle when it runs out of new entries.
fn claim_all_of_a(server: &Server, args: &[&str]) {
    while pending(server, "g", Some("a"), 0) > 0 {
        wait_until("a's entries idle", || {
            pending(server, "g", Some("a"), 3_000) == pending(server, "g", Some("a"), 0)
        });
        wait_ok(spawn(args));
    }
    assert_eq!(pending(server, "g", None, 0), 0, "entries left pending");
}

#[test]
fn a_consumer_killed_mid_run_is_counted_exactly_once() {
    killed_mid_run(&[]);
}

#[test]
fn a_consumer_killed_mid_run_is_counted_exactly_once_in_sliding_windows() {
    // Each entry counts in four windows, committed one after the other: those committed
    // before the kill are not counted again when the entry is claimed.
    killed_mid_run(&["--slide", "250ms"]);
}

/// Kills consumer `a` mid-run (frozen first, holding entries), lets `b` claim what it left,
/// and checks the combined windows of the `shape` against one process's.
fn killed_mid_run(shape: &[&str]) {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    // Longer than a window and the lateness together (1 s + 1 s), as the docs ask: a live
    // consumer's entries are never idle that long.
    let claim = ["--claim-idle", "3s"];
    kill_a_under_b(&server, |name| {
        [&consumer_args(&from, &to, name)[..], &claim[..], shape].concat()
    });
    // What a committed, it acknowledged in the same transaction; what it had not, b counts
    // in the windows a had not committed.
    assert_combined_exactly_as(&to, &file, shape);
}

/// A consumer stopped again and again under a live feed, each time for 1.5 of its idle
/// timeouts (past the idle timer's slack, short of two timeouts, far short of its claim
/// time): no stop is taken for quiet, no event is late, and the combined windows equal one
/// process's.
#[test]
fn a_consumer_stopped_for_moments_under_a_live_feed_is_counted_exactly() {
    let server = Server::start();
    let file = produce_file(&server);
    let [from, to, out] = streams(&server);
    let single = single_windows(&file, &[]);
    let args = |name| live_args(&from, &to, name, &["--idle-timeout", "1s"]);
    let a = spawn(&args("a"));
    let b = spawn(&args("b"));
    let combiner = spawn(&["combine", "--from", &to, "--to", &out]);
    let feeding = feed(&server, &file);
    while !feeding.is_finished() {
        std::thread::sleep(Duration::from_millis(300));
        signal(&a, "STOP");
        std::thread::sleep(Duration::from_millis(1_500));
        signal(&a, "CONT");
    }
    feeding.join().unwrap();
    let [a, b, _] = stop_live_and_compare(&server, &single, [a, b, combiner]);
    assert_none_late(&[a, b]);
}

/// Once every window is in the final stream: stops the `live` processes (SIGINT), then
/// checks the final windows against one process's, window for window, and that nothing is
/// left pending; each process's stderr, in order.
fn stop_live_and_compare<const N: usize>(
    server: &Server,
    single: &Windows,
    live: [Child; N],
) -> [String; N] {
    wait_until("every window combined", || {
        query::<usize>(server, redis::cmd("XLEN").arg("final")) >= single.len()
    });
    for child in &live {
        interrupt(child);
    }
    let stderr = live.map(wait_ok_or_interrupted);
    assert_final_stream_exactly(server, single);
    assert_eq!(pending(server, "g", None, 0), 0, "entries left pending");
    stderr
}

#[test]
fn a_consumer_killed_under_a_live_feed_holds_its_windows_until_they_are_claimed() {
    let server = Server::start();
    // Live consumers (no --until-idle), claiming on a timer every 3 s; a live combiner that
    // gives up on a silent consumer after 1 s, unless the server lists entries pending for it.
    let mut live = Live::start(&server, "1s");
    // a dies holding entries while the feed goes on: its windows wait for b to claim and
    // commit them, however long a has been silent.
    freeze_holding(&server, &live.a);
    live.a.kill().unwrap();
    live.a.wait().unwrap();
    live.feeding.join().unwrap();
    stop_live_and_compare(&server, &live.single, [live.b, live.combiner]);
}

/// Checks that the consumers whose `stderr` is given counted no event late, as one process
/// counts none of the tests' events: an outage or a stop taken for quiet closes windows
/// early, and the combiner may have written them before their late partials come.
fn assert_none_late(stderr: &[String]) {
    for stderr in stderr {
        assert_eq!(
            late_in(stderr),
            0,
            "late as one process counts them: {stderr}"
        );
    }
}

/// The number before ` late` in a summary line of `stderr`.
fn late_in(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "late,").unwrap();
    words[at - 1].parse().unwrap()
}

/// With no lateness allowed, events out of order are late as one process reading the file
/// finds them, whichever consumer reads them: the stream's event time is kept on the server
/// as the group delivers entries, so each consumer judges an entry against every entry before
/// it in the stream, not only those it read itself. One event in five is stamped up to 500 ms
/// early, and 1 000 entries (one read) span about a second.
#[test]
fn three_consumers_find_late_the_events_one_process_finds_late() {
    let server = Server::start();
    let file = produce_file_with(&server, &DISORDER);
    let [from, to, out] = streams(&server);
    let (single, single_late) = one_process_over(&file);
    // Live consumers and a live combiner, fed 1 000 events every 50 ms.
    let args = |name| no_lateness(live_args(&from, &to, name, &[]));
    let consumers: Vec<Child> = ["a", "b", "c"].map(|name| spawn(&args(name))).into();
    let combiner = spawn(&["combine", "--from", &to, "--to", &out]);
    feed(&server, &file).join().unwrap();
    wait_until("every entry read", || every_entry_read(&server));
    wait_until("every read folded", || {
        every_read_folded(&server, "events:g")
    });
    let mut late = 0;
    for consumer in consumers {
        interrupt(&consumer);
        let stderr = wait_ok_or_interrupted(consumer);
        assert!(entries_read(&stderr) > 0, "{stderr}");
        late += late_in(&stderr);
    }
    // What a consumer had read but not handed on when stopped is still pending for it:
    // started again, it reads that first, judged by the stream time of its read.
    for name in ["a", "b", "c"] {
        if pending(&server, "g", Some(name), 0) > 0 {
            let drained = run_ok(&[&args(name)[..], &["--until-idle"]].concat());
            late += late_in(&String::from_utf8_lossy(&drained.stderr));
        }
    }
    assert_eq!(late, single_late, "late events");
    stop_live_and_compare(&server, &single, [combiner]);

    // Sliding windows, the stream read again by three consumers of a new group, 200 ms of
    // lateness, a combiner draining the partials.
    let shape = ["--slide", "250ms", "--lateness", "200ms"];
    let single = run_ok(&[&["run", &file, "--by", "source"][..], &shape].concat());
    let single_late = late_in(&String::from_utf8_lossy(&single.stderr));
    assert!(single_late > 10, "{single_late} late");
    let to = format!("{}/partials-sliding", url(&server));
    let args = |name| {
        let mut args = consumer_args(&from, &to, name);
        args[4] = "sliding";
        args.retain(|a| !["--lateness", "1s"].contains(a));
        [&args[..], &shape].concat()
    };
    let consumers: Vec<Child> = ["a", "b", "c"].map(|name| spawn(&args(name))).into();
    let late: u64 = consumers.into_iter().map(|c| late_in(&wait_ok(c))).sum();
    assert_eq!(late, single_late, "late events in sliding windows");
    let combined = run_ok(&["combine", "--from", &to, "--until-idle"]);
    assert_same_windows(
        &windows(&combined.stdout),
        &windows(&single.stdout),
        "combined sliding",
    );
}

/// With no lateness allowed, a consumer killed holding entries, some of them late in stream
/// order: the consumer that claims them finds late exactly those one process finds late.
#[test]
fn a_consumer_killed_mid_run_finds_late_what_one_process_finds_late() {
    let server = Server::start();
    let file = produce_with(&server, &DISORDER);
    let [from, to, _] = streams(&server);
    let (single, _) = one_process_over(&file);
    kill_a_under_b(&server, |name| {
        let args = no_lateness(consumer_args(&from, &to, name));
        [&args[..], &["--claim-idle", "3s"]].concat()
    });
    assert_combined_exactly_as_single(&to, &single);
}

/// Runs consumers `a` and `b` (`args` of their names), kills `a` once it holds entries
/// (frozen first), and has `b` claim everything `a` left.
fn kill_a_under_b<'a>(server: &Server, args: impl Fn(&'static str) -> Vec<&'a str>) {
    let mut a = spawn(&args("a"));
    let b = spawn(&args("b"));
    assert!(freeze_holding(server, &a) > 0);
    a.kill().unwrap();
    a.wait().unwrap();
    wait_ok(b);
    claim_all_of_a(server, &args("b"));
}

/// Events of which one in five is stamped up to 500 ms early, 1 000 a second: 1 000 entries
/// (one read) span about a second.
const DISORDER: [&str; 4] = ["--disorder", "20", "--rate", "1000"];

/// One process's windows over `file` (by source, no lateness allowed), and how many events
/// it found late: more than 100.
fn one_process_over(file: &str) -> (Windows, u64) {
    let single = run_ok(&["run", file, "--by", "source"]);
    let late = late_in(&String::from_utf8_lossy(&single.stderr));
    assert!(late > 100, "{late} late");
    (windows(&single.stdout), late)
}

/// A consumer's arguments with no lateness allowed.
fn no_lateness(mut args: Vec<&str>) -> Vec<&str> {
    let at = args.iter().position(|a| *a == "--lateness").unwrap();
    args[at + 1] = "0ms";
    args
}

/// Combines the partials in `to` (draining them) and checks them against `single`.
fn assert_combined_exactly_as_single(to: &str, single: &Windows) {
    let combined = run_ok(&["combine", "--from", to, "--until-idle"]);
    assert_same_windows(&windows(&combined.stdout), single, "combined");
}

/// Waits for a process told to stop (SIGINT): status 130. Its stderr.
fn wait_ok_or_interrupted(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    stderr
}

#[test]
fn a_stopped_consumer_s_commit_is_refused_once_its_entries_are_claimed() {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    let claim = ["--claim-idle", "3s"];
    let args = |name| [&consumer_args(&from, &to, name)[..], &claim[..]].concat();
    let a = spawn(&args("a"));
    let b = spawn(&args("b"));
    freeze_holding(&server, &a);
    wait_ok(b);
    claim_all_of_a(&server, &args("b"));
    // a wakes up holding windows of entries that are b's now: its commit is refused whole.
    signal(&a, "CONT");
    let out = a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Nothing a counted after it was frozen reached the partials: b counted it.
    assert_combined_exactly(&to, &file);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("commit refused"), "{stderr}");
    let refused: u64 = query(
        &server,
        redis::cmd("HGET").arg("partials:refused").arg("events:g:a"),
    );
    assert_eq!(refused, 1);
}

/// The same fault under a live feed, with a live combiner that gives up on a silent consumer
/// after 5 s: `a` is frozen holding entries until `b`'s claim timer has taken every one of
/// them (3 s idle), then let go while the feed goes on. Its windows wait for `b`'s commits of
/// the entries, however long `a` is silent; its own commit of them is refused (status 1).
#[test]
fn a_consumer_stopped_past_its_claim_time_under_a_live_feed_is_counted_exactly() {
    stopped_past_claim_time_under_a_live_feed("5s");
}

/// As above with a combiner that waits 60 s for a silent consumer: `a` counts while it is
/// stopped, and what it committed is not counted again once it is let go.
#[test]
fn a_consumer_stopped_past_its_claim_time_is_counted_once_by_a_patient_combiner() {
    stopped_past_claim_time_under_a_live_feed("60s");
}

fn stopped_past_claim_time_under_a_live_feed(consumer_timeout: &str) {
    let server = Server::start();
    let live = Live::start(&server, consumer_timeout);
    freeze_holding(&server, &live.a);
    wait_until("b claims what a holds", || {
        pending(&server, "g", Some("a"), 0) == 0
    });
    signal(&live.a, "CONT");
    let out = live.a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("commit refused"), "{stderr}");
    live.feeding.join().unwrap();
    stop_live_and_compare(&server, &live.single, [live.b, live.combiner]);
}

/// The arguments of a live combiner from the partials `to` to the final windows `out`, giving
/// up on a silent consumer after `consumer_timeout` unless the server lists entries pending
/// for it.
fn live_combine<'a>(to: &'a str, out: &'a str, consumer_timeout: &'a str) -> [&'a str; 7] {
    let flag = "--consumer-timeout";
    ["combine", "--from", to, "--to", out, flag, consumer_timeout]
}

/// Two live consumers, `a` and `b` (1 s idle timeout, claims every 3 s), and a live combiner
/// (giving up on a silent consumer after `consumer_timeout`) under a live feed of the events,
/// with one process's windows over them.
struct Live {
    single: Windows,
    a: Child,
    b: Child,
    combiner: Child,
    feeding: std::thread::JoinHandle<u32>,
}

impl Live {
    fn start(server: &Server, consumer_timeout: &str) -> Live {
        let file = produce_file(server);
        let [from, to, out] = streams(server);
        let args = |name| {
            let flags = ["--idle-timeout", "1s", "--claim-idle", "3s"];
            live_args(&from, &to, name, &flags)
        };
        let (a, b) = (spawn(&args("a")), spawn(&args("b")));
        let combiner = spawn(&live_combine(&to, &out, consumer_timeout));
        Live {
            single: single_windows(&file, &[]),
            a,
            b,
            combiner,
            feeding: feed(server, &file),
        }
    }
}

/// The lines of the windows in the stream `stream`, in order.
fn window_lines(server: &Server, stream: &str) -> Vec<String> {
    let reply: redis::streams::StreamRangeReply =
        query(server, redis::cmd("XRANGE").arg(stream).arg("-").arg("+"));
    reply
        .ids
        .iter()
        .map(|e| e.get::<String>("window").unwrap())
        .collect()
}

#[test]
fn a_combiner_killed_and_started_again_writes_every_window_once() {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, out] = streams(&server);
    let single = single_windows(&file, &[]);
    let combine = ["combine", "--from", &to, "--to", &out];
    let (a, b) = (
        spawn(&consumer_args(&from, &to, "a")),
        spawn(&consumer_args(&from, &to, "b")),
    );
    // Killed twice at whatever it is doing, once windows are written.
    let mut written = 0;
    for _ in 0..2 {
        let mut combiner = spawn(&combine);
        wait_until("windows written", || {
            query::<u64>(&server, redis::cmd("XLEN").arg("final")) > written
        });
        combiner.kill().unwrap();
        combiner.wait().unwrap();
        written = query(&server, redis::cmd("XLEN").arg("final"));
    }
    wait_ok(a);
    wait_ok(b);
    run_ok(&[&combine[..], &["--until-idle"]].concat());
    assert_final_stream_exactly(&server, &single);
    // Every partial acknowledged, by a commit or as late.
    let partials_pending: Vec<redis::Value> = query(
        &server,
        redis::cmd("XPENDING")
            .arg("partials")
            .arg("weir-combine")
            .arg("-")
            .arg("+")
            .arg(10),
    );
    assert!(partials_pending.is_empty());
}

#[test]
fn a_combiner_started_again_while_a_consumer_lags_waits_for_it() {
    let server = Server::start();
    let file = produce_file(&server);
    let [from, to, out] = streams(&server);
    let single = single_windows(&file, &[]);
    // Live consumers, without an idle timeout (b, frozen, would find its input quiet for 5 s
    // when let go): they write their last windows when told to stop.
    let args = |name| live_args(&from, &to, name, &[]);
    let (a, b) = (spawn(&args("a")), spawn(&args("b")));
    // A combiner that gives up on a silent consumer after 1 s, unless the server lists
    // entries pending for it.
    let combine = live_combine(&to, &out, "1s");
    let mut combiner = spawn(&combine);
    let feeding = feed(&server, &file);
    wait_until("windows written", || {
        query::<u64>(&server, redis::cmd("XLEN").arg("final")) > 0
    });
    // b lags (frozen, holding entries) while the combiner is killed and started again: the
    // new one re-reads no marker of b's, and must not close b's windows.
    freeze_holding_as(&server, &b, "b");
    combiner.kill().unwrap();
    combiner.wait().unwrap();
    let combiner = spawn(&combine);
    std::thread::sleep(Duration::from_secs(5));
    signal(&b, "CONT");
    feeding.join().unwrap();
    wait_until("every entry read", || every_entry_read(&server));
    for child in [&a, &b] {
        interrupt(child);
    }
    for child in [a, b] {
        eprintln!("{}", wait_ok_or_interrupted(child));
    }
    // What a consumer had read but not handed on when stopped is still pending for it: the
    // consumers started again read it first.
    for name in ["a", "b"] {
        let out = run_ok(&[&args(name)[..], &["--until-idle"]].concat());
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(pending(&server, "g", None, 0), 0, "entries left pending");
    let deadline = Instant::now() + Duration::from_secs(30);
    while query::<usize>(&server, redis::cmd("XLEN").arg("final")) < single.len()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt(&combiner);
    eprintln!("{}", wait_ok_or_interrupted(combiner));
    assert_final_stream_exactly(&server, &single);
}

#[test]
fn a_combiner_printing_to_stdout_says_when_it_prints_windows_again() {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    for name in ["a", "b"] {
        run_ok(&consumer_args(&from, &to, name));
    }
    // A combiner read partials and died before writing their windows: they are pending
    // for its name.
    let _: () = query(
        &server,
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg("partials")
            .arg("weir-combine")
            .arg("0"),
    );
    let _: redis::Value = query(
        &server,
        redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("weir-combine")
            .arg("combiner")
            .arg("COUNT")
            .arg(50)
            .arg("STREAMS")
            .arg("partials")
            .arg(">"),
    );
    let again = run_ok(&["combine", "--from", &to, "--until-idle"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("any window it printed from them is printed again"),
        "{stderr}"
    );
    let single = run_ok(&["run", &file, "--by", "source", "--lateness", "1s"]);
    assert_same_windows(
        &windows(&again.stdout),
        &windows(&single.stdout),
        "combined",
    );
    // Written to a stream, the windows are committed: nothing to say.
    let out = format!("{}/final", url(&server));
    let args = [
        "combine",
        "--from",
        &to,
        "--group",
        "g2",
        "--to",
        &out,
        "--until-idle",
    ];
    let committed = run_ok(&args);
    let stderr = String::from_utf8_lossy(&committed.stderr);
    assert!(!stderr.contains("printed again"), "{stderr}");
}

#[test]
fn a_buffered_consumer_acknowledges_every_entry_it_read() {
    let server = Server::start();
    produce(&server);
    let [from, to, _] = streams(&server);
    let args = [&consumer_args(&from, &to, "a")[..], &["--buffer", "64"]].concat();
    let out = run_ok(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Every entry read is acknowledged by a commit, none left pending, though entries are
    // held until their readings leave the buffer (that order is checked by the unit test
    // `a_reading_still_on_its_way_keeps_its_entry`, `source/redis.rs`).
    assert_eq!(summary_count(&stderr, "acknowledged"), EVENTS, "{stderr}");
    assert_eq!(pending(&server, "g", None, 0), 0, "{stderr}");
}

#[test]
fn an_output_on_another_server_is_refused() {
    let (server, other) = (Server::start(), Server::start());
    let from = format!("{}/partials", url(&server));
    let to = format!("{}/final", url(&other));
    for command in [
        &["combine", "--from", &from, "--to", &to, "--until-idle"][..],
        &["run", "--from", &from, "--consumer", "a", "--to", &to],
    ] {
        let out = weir(command).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("is not on the server of --from"),
            "{stderr}"
        );
    }
}

#[test]
fn malformed_entries_are_dead_lettered_counted_and_acknowledged() {
    let server = Server::start();
    let entries: [&[(&str, &str)]; 6] = [
        &[("timestamp", "1000"), ("source", "s"), ("value", "1.5")],
        &[("timestamp", "1100"), ("source", "s")],
        &[("timestamp", "1200"), ("source", "s"), ("value", "hot")],
        &[("timestamp", "soon"), ("source", "s"), ("value", "2")],
        &[("timestamp", "1300"), ("value", "2")],
        &[("timestamp", "1400"), ("source", "s"), ("value", "2.5")],
    ];
    for fields in entries {
        let _: String = query(
            &server,
            redis::cmd("XADD").arg("events").arg("*").arg(fields),
        );
    }
    let from = format!("{}/events", url(&server));
    let args = ["run", "--from", &from, "--consumer", "c", "--until-idle"];
    let out = run_ok(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for why in [
        "no `value` field",
        "`value` is not a finite number: `hot`",
        "`timestamp` is not a time in ms since the epoch: `soon`",
        "no `source` field",
    ] {
        assert!(stderr.contains(why), "{why}: {stderr}");
    }
    assert!(stderr.contains("6 entries read"), "{stderr}");
    assert!(
        stderr.contains("(2 events, 4 malformed, 0 duplicates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("6 acknowledged, 4 dead-lettered"),
        "{stderr}"
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["event_count"].as_u64(), line["avg_value"].as_f64()),
        (Some(2), Some(2.0))
    );
    assert_eq!(pending(&server, "weir", None, 0), 0);
    let dead: Vec<redis::streams::StreamId> = {
        let reply: redis::streams::StreamRangeReply = query(
            &server,
            redis::cmd("XRANGE").arg("events:dead").arg("-").arg("+"),
        );
        reply.ids
    };
    let reasons: Vec<String> = dead
        .iter()
        .map(|e| e.get::<String>("reason").unwrap())
        .collect();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[0], "no `value` field");
}

#[test]
fn a_consumer_gives_up_with_status_1_when_the_server_stays_away() {
    let mut server = Server::start();
    let from = format!("{}/events", url(&server));
    let child = spawn(&[
        "run",
        "--from",
        &from,
        "--consumer",
        "c",
        "--give-up-after",
        "3s",
    ]);
    // Once its group (and with it the stream) exists, it is reading.
    wait_until("the stream created", || {
        query::<u64>(&server, redis::cmd("EXISTS").arg("events")) == 1
    });
    server.kill();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gave up after"), "{stderr}");
    // Within a second and a half of the give-up time (the last wait ends at it).
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(4_500),
        "took {took:?}: {stderr}"
    );
}

#[test]
fn bad_redis_flags_exit_with_status_2() {
    for args in [
        &["run", "--from", "redis://127.0.0.1:1/events"][..],
        &[
            "run",
            "--from",
            "http://127.0.0.1/events",
            "--consumer",
            "c",
        ],
        &[
            "run",
            "--from",
            "redis://127.0.0.1:1/events",
            "--consumer",
            "c",
            "--to",
            "redis://x",
        ],
        &["run", "--to", "redis://127.0.0.1:1/out"],
        &["combine", "--from", "redis://127.0.0.1:1"],
        &[
            "combine",
            "--from",
            "redis://127.0.0.1:1/p",
            "--until-idle=soon",
        ],
        &["produce", "--to", "redis://127.0.0.1:1"],
    ] {
        let out = weir(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn consumers_ride_out_a_server_restart() {
    let dir = std::env::temp_dir().join(format!("weir-redis-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Server::start_persistent(&dir);
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    let args = |name| {
        let mut args = consumer_args(&from, &to, name);
        args.extend(["--metrics-linger", "60s"]);
        Watched::start(&args)
    };
    let (a, b) = (args("a"), args("b"));
    // Restart the server (SIGKILL; the append-only file keeps the streams and the group)
    // once windows have been written.
    wait_until("windows written", || written(&server) >= 40);
    server.restart();
    let (metrics_a, metrics_b) = (a.final_metrics(), b.final_metrics());
    let (a, b) = (
        a.wait(Duration::from_secs(60)),
        b.wait(Duration::from_secs(60)),
    );
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        a.stderr,
        b.stderr
    );
    let (a, b) = (a.stderr, b.stderr);
    // At least one of them lost a read to the restart and read again.
    assert!(
        a.contains("reading again after") || b.contains("reading again after"),
        "{a}\n{b}"
    );
    // Each read tried again is reported on stderr and counted in the metrics.
    for (stderr, metrics) in [(&a, &metrics_a), (&b, &metrics_b)] {
        assert_eq!(
            metrics.get("weir_redis_retries_total{op=\"read\"}") as usize,
            stderr.matches("; reading again in ").count(),
            "{stderr}"
        );
    }
    assert_eq!(pending(&server, "g", None, 0), 0, "entries left pending");
    assert_combined_exactly(&to, &file);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server killed and started again from its append-only file under a live feed, with
/// live consumers and a live combiner: each reads again (a read whose reply the kill lost is
/// read again from the consumer's pending entries), and the final windows equal one
/// process's.
#[test]
fn a_server_restarted_under_a_live_feed_loses_and_doubles_nothing() {
    let dir = std::env::temp_dir().join(format!("weir-redis-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Server::start_persistent(&dir);
    let cut = live_under_server_fault(&mut server, Server::restart);
    assert!(cut > 0, "the restart cut the feed off");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server frozen (SIGSTOP) for 4 s under a live feed, longer than every process's
/// response timeout and idle timeout: the consumers take its silence for no quiet, and the
/// final windows equal one process's.
#[test]
fn a_server_frozen_under_a_live_feed_loses_and_doubles_nothing() {
    live_under_server_fault(&mut Server::start(), |server| {
        server.signal("STOP");
        std::thread::sleep(Duration::from_secs(4));
        server.signal("CONT");
    });
}

/// Consumers `a` and `b` live (1 s idle timeout, claims every 3 s) and a live combiner (5 s
/// consumer timeout) under a live feed, `fault` done to the server once windows have been
/// written: checks that the stream holds each event once, that the final windows equal one
/// process's, nothing left pending, and that neither consumer counted an event late. How
/// many times the feed lost its connection.
fn live_under_server_fault(server: &mut Server, fault: impl FnOnce(&mut Server)) -> u32 {
    let live = Live::start(server, "5s");
    wait_until("windows written", || written(server) >= 40);
    assert!(
        !live.feeding.is_finished(),
        "the fault comes while the feed goes on"
    );
    fault(server);
    let cut = live.feeding.join().unwrap();
    let fed: u64 = query(server, redis::cmd("XLEN").arg("events"));
    assert_eq!(fed, EVENTS, "the stream holds each event once");
    let [a, b, _] = stop_live_and_compare(server, &live.single, [live.a, live.b, live.combiner]);
    assert_none_late(&[a, b]);
    cut
}

fn interrupt(child: &Child) {
    signal(child, "INT");
}

/// Sends `child` the signal `name` (`INT`, `STOP`, `CONT`...).
fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn live_consumers_and_combiner_emit_promptly_and_stop_on_a_signal() {
    let server = Server::start();
    let file = produce(&server);
    let [from, to, _] = streams(&server);
    let single = single_windows(&file, &[]);
    // No --until-idle: they run until told to stop; windows close once the input has been
    // quiet for a second.
    let live = |name| live_args(&from, &to, name, &["--idle-timeout", "1s"]);
    let consumers = [spawn(&live("a")), spawn(&live("b"))];
    let mut combiner = weir(&["combine", "--from", &to, "--consumer-timeout", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = combiner.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    // Every final window comes out while everyone is still running.
    let mut lines = Vec::new();
    while lines.len() < single.len() {
        let line = rx.recv_timeout(Duration::from_secs(30));
        lines.push(line.expect("the final windows within 30 s"));
    }
    let combined = windows(lines.join("\n").as_bytes());
    assert_eq!(combined, single);
    for child in consumers.iter().chain([&combiner]) {
        interrupt(child);
    }
    for child in consumers {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130));
    }
    let status = combiner.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // Nothing more came, and nothing is left unacknowledged.
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    assert_eq!(pending(&server, "g", None, 0), 0);
}

#[test]
fn a_consumer_s_and_the_combiner_s_metrics_are_their_summaries() {
    let server = Server::start();
    produce(&server);
    let [from, to, _] = streams(&server);
    let (m, ended) = run_watched(&consumer_args(&from, &to, "a"));
    assert_eq!(m.get("weir_entries_read_total") as u64, EVENTS);
    assert_eq!(entries_read(&ended.stderr), EVENTS);
    let same = ["processed", "late", "dropped", "filtered", "malformed"].map(|o| (o, o));
    assert_outcomes_are_the_summary(&m, &ended.stderr, &same);
    assert_eq!(
        m.get("weir_redis_acknowledged_total") as u64,
        summary_count(&ended.stderr, "acknowledged")
    );
    assert_eq!(m.get("weir_redis_acknowledged_total") as u64, EVENTS);
    assert_eq!(m.get("weir_redis_pending_entries"), 0.0);
    // The input's label carries no password (none here), only the stream's URL.
    assert!(m.0.keys().any(|k| k.contains(&format!("input=\"{from}\""))));

    let (m, ended) = run_watched(&["combine", "--from", &to, "--until-idle"]);
    let read = m.get("weir_entries_read_total") as u64;
    assert_eq!(read, written(&server));
    assert_eq!(
        m.outcome("merged")
            + m.outcome("late")
            + m.outcome("malformed")
            + m.get("weir_not_events_total{kind=\"marker\"}") as u64,
        read
    );
    assert_eq!(
        m.outcome("merged") + m.outcome("late"),
        summary_count(&ended.stderr, "partials")
    );
    assert_eq!(
        m.outcome("late"),
        summary_count(&ended.stderr, "late partials")
    );
    assert_eq!(
        m.get("weir_windows_emitted_total") as u64,
        ended.stdout.lines().count() as u64
    );
    assert_eq!(
        m.get("weir_windows_emitted_total") as u64,
        summary_count(&ended.stderr, "window results written")
    );
    assert_eq!(m.get("weir_redis_pending_entries"), 0.0);
    assert_eq!(m.get("weir_redis_acknowledged_total") as u64, read);
}

/// Runs `weir ARGS`, which must fail with status 1 within `limit`: its stderr.
fn fails_within(args: &[&str], limit: Duration) -> String {
    let start = Instant::now();
    let out = weir(args).output().expect("running weir");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < limit, "took {took:?}: {stderr}");
    stderr
}

#[test]
fn a_key_of_another_type_fails_at_once() {
    let server = Server::start();
    let _: () = query(&server, redis::cmd("SET").arg("events").arg("not a stream"));
    let from = format!("{}/events", url(&server));
    let stderr = fails_within(
        &["run", "--from", &from, "--consumer", "a", "--until-idle"],
        Duration::from_secs(10),
    );
    assert!(stderr.contains("WRONGTYPE"), "{stderr}");
}

#[test]
fn a_password_is_asked_for_at_once_and_never_shown() {
    let server = Server::start();
    produce(&server);
    let secret = "s3cret-pw";
    let _: () = query(
        &server,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg(secret),
    );
    let port = server.port();
    let without = format!("redis://127.0.0.1:{port}/events");
    let wrong = format!("redis://:wrong-{secret}@127.0.0.1:{port}/events");
    let right = format!("redis://:{secret}@127.0.0.1:{port}/events");
    for from in [&without, &wrong] {
        let stderr = fails_within(
            &["run", "--from", from, "--consumer", "a", "--until-idle"],
            Duration::from_secs(10),
        );
        let refused = ["NOAUTH", "WRONGPASS", "Password authentication failed"];
        assert!(refused.iter().any(|r| stderr.contains(r)), "{stderr}");
        assert!(!stderr.contains(secret), "{stderr}");
    }
    let out = run_ok(&["run", "--from", &right, "--consumer", "a", "--until-idle"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(entries_read(&stderr), EVENTS);
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(stderr.contains(&format!("from {without} as a")), "{stderr}");
}

#[test]
fn a_frozen_server_is_given_up_on() {
    let server = Server::start();
    produce(&server);
    let from = format!("{}/events", url(&server));
    let consumer = spawn(&[
        "run",
        "--from",
        &from,
        "--consumer",
        "a",
        "--give-up-after",
        "2s",
    ]);
    // Once it has read everything (nothing left undelivered), the server stops answering.
    wait_until("every entry read", || every_entry_read(&server));
    server.signal("STOP");
    let start = Instant::now();
    let out = consumer.wait_with_output().unwrap();
    let took = start.elapsed();
    server.signal("CONT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Each read waits 1 s on the server, and 2 s more for a reply: the second read that
    // times out is past the give-up time.
    assert!(took < Duration::from_secs(12), "took {took:?}: {stderr}");
    assert!(stderr.contains("gave up after"), "{stderr}");
}

#[test]
fn acknowledgements_wait_for_a_server_loading_its_data() {
    let dir = std::env::temp_dir().join(format!("weir-redis-loading-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Server::start_persistent(&dir);
    produce(&server);
    // Three million keys besides: a restart answers LOADING for a few seconds.
    let _: () = query(&server, redis::cmd("DEBUG").arg("POPULATE").arg(3_000_000));
    let _: String = query(&server, &mut redis::cmd("BGREWRITEAOF"));
    wait_until("the append-only file rewritten", || {
        let info: String = query(&server, redis::cmd("INFO").arg("persistence"));
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    });
    let from = format!("{}/events", url(&server));
    let consumer = spawn(&[
        "run",
        "--from",
        &from,
        "--consumer",
        "a",
        "--give-up-after",
        "30s",
    ]);
    wait_until("every entry read", || every_entry_read(&server));
    // The consumer stops while the server loads: the entries of its open windows are
    // acknowledged as the server answers LOADING, for seconds.
    server.restart_loading();
    interrupt(&consumer);
    let out = consumer.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    server.wait_loaded();
    // Every entry it received is acknowledged. A read the server answered just before it was
    // killed may have lost its reply: those entries stay pending for this consumer. (Its own
    // count of acknowledgements may fall short of what it read: an `XACK` applied just before
    // the kill, whose reply was lost, counts nothing when sent again. What the server holds
    // pending is the fact.)
    let read = entries_read(&stderr);
    assert!(summary_count(&stderr, "acknowledged") <= read, "{stderr}");
    let in_flight = EVENTS - read;
    assert_eq!(
        pending(&server, "weir", None, 0) as u64,
        in_flight,
        "{stderr}"
    );
    // Started again, the consumer re-reads them first.
    let again = run_ok(&["run", "--from", &from, "--consumer", "a", "--until-idle"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(entries_read(&stderr), in_flight, "{stderr}");
    assert_eq!(pending(&server, "weir", None, 0), 0, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn entries_that_are_not_utf8_are_dead_lettered_and_block_nothing() {
    let server = Server::start();
    let add = |fields: &[(&[u8], &[u8])]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("events").arg("*");
        for (name, value) in fields {
            cmd.arg(*name).arg(*value);
        }
        let _: String = query(&server, &mut cmd);
    };
    add(&[
        (b"timestamp", b"1000"),
        (b"source", b"s"),
        (b"value", b"1.5"),
    ]);
    // A field name, then a value, that are not UTF-8: once, every read of the group failed.
    add(&[
        (b"timestamp", b"1100"),
        (b"source", b"s"),
        (b"val\xffue", b"2"),
    ]);
    add(&[
        (b"timestamp", b"1200"),
        (b"source", b"s\xfe"),
        (b"value", b"2"),
    ]);
    add(&[
        (b"timestamp", b"1400"),
        (b"source", b"s"),
        (b"value", b"2.5"),
    ]);
    let from = format!("{}/events", url(&server));
    let out = run_ok(&["run", "--from", &from, "--consumer", "c", "--until-idle"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 entries read"), "{stderr}");
    assert!(stderr.contains("(2 events, 2 malformed"), "{stderr}");
    assert!(
        stderr.contains("4 acknowledged, 2 dead-lettered"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("is not UTF-8").count(), 2, "{stderr}");
    assert_eq!(pending(&server, "weir", None, 0), 0);
    let dead: redis::streams::StreamRangeReply = query(
        &server,
        redis::cmd("XRANGE").arg("events:dead").arg("-").arg("+"),
    );
    assert_eq!(dead.ids.len(), 2);
    // The combiner dead-letters such an entry of the partials' stream too.
    let _: String = query(
        &server,
        redis::cmd("XADD")
            .arg("partials")
            .arg("*")
            .arg(&b"consumer\xff"[..])
            .arg("a"),
    );
    let out = run_ok(&[
        "combine",
        "--from",
        &format!("{}/partials", url(&server)),
        "--until-idle",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 malformed") && stderr.contains("1 dead-lettered"),
        "{stderr}"
    );
}

#[test]
fn an_event_at_the_end_of_time_is_combined_like_a_single_run_windows_it() {
    let server = Server::start();
    // In time order: what a single run finds late, consumers and the combiner do not judge
    // alike yet.
    let events = [
        ("1000", "a", "1.5"),
        ("1200", "a", "3"),
        ("18446744073709551615", "b", "2"),
    ];
    let dir = std::env::temp_dir().join(format!("weir-redis-end-{}", server.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let lines: String = events
        .iter()
        .map(|(ts, source, value)| {
            format!("{{\"timestamp\": {ts}, \"source\": \"{source}\", \"value\": {value}}}\n")
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    for (ts, source, value) in events {
        let _: String = query(
            &server,
            redis::cmd("XADD").arg("events").arg("*").arg(&[
                ("timestamp", ts),
                ("source", source),
                ("value", value),
            ]),
        );
    }
    let single = run_ok(&[
        "run",
        file.to_str().unwrap(),
        "--by",
        "source",
        "--lateness",
        "1s",
    ]);
    let single = windows(&single.stdout);
    assert_eq!(single.len(), 2);
    let [from, to, _] = streams(&server);
    run_ok(&consumer_args(&from, &to, "a"));
    let combined = run_ok(&["combine", "--from", &to, "--until-idle"]);
    assert_eq!(windows(&combined.stdout), single);
    // Every partial and marker acknowledged.
    let pending: Vec<redis::Value> = query(
        &server,
        redis::cmd("XPENDING")
            .arg("partials")
            .arg("weir-combine")
            .arg("-")
            .arg("+")
            .arg(100),
    );
    assert!(pending.is_empty(), "{pending:?}");
}

#[test]
fn a_consumer_name_in_use_is_refused_unless_forced() {
    let server = Server::start();
    produce(&server);
    let from = format!("{}/events", url(&server));
    let args = ["run", "--from", &from, "--consumer", "a"];
    let mut first = spawn(&args);
    wait_until("a reading", || {
        let clients: String = query(&server, redis::cmd("CLIENT").arg("LIST"));
        clients.contains("name=weir:events:weir:a ")
    });
    // Two processes of one name: refused, before anything is read.
    let out = weir(&[&args[..], &["--until-idle"]].concat())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another weir process") && stderr.contains("--force"),
        "{stderr}"
    );
    // Forced: it reads.
    let forced = run_ok(&[&args[..], &["--until-idle", "--force"]].concat());
    assert!(String::from_utf8_lossy(&forced.stderr).contains("summary:"));
    // Once the first is gone (SIGKILL: the server sees its connection close), the name is free.
    first.kill().unwrap();
    first.wait().unwrap();
    wait_until("a gone", || {
        let clients: String = query(&server, redis::cmd("CLIENT").arg("LIST"));
        !clients.contains("name=weir:events:weir:a ")
    });
    run_ok(&[&args[..], &["--until-idle"]].concat());
}

/// Readings late only because the idle timeout closed their window (late for the windows,
/// not in stream order) are written as partials of their window, about a batch (1 024) at a
/// time, so that the consumer never holds many more.
#[test]
fn late_readings_go_out_in_batches_not_all_at_the_end() {
    let server = Server::start();
    let mut conn = server.client().get_connection().unwrap();
    let add = |conn: &mut redis::Connection, n: usize, ts: &str| {
        let mut pipe = redis::pipe();
        for _ in 0..n {
            pipe.cmd("XADD")
                .arg("events")
                .arg("*")
                .arg(&[("timestamp", ts), ("source", "s"), ("value", "1")])
                .ignore();
        }
        let () = pipe.query(conn).unwrap();
    };
    let [from, to, _] = streams(&server);
    let consumer = spawn(&[
        "run",
        "--from",
        &from,
        "--consumer",
        "a",
        "--to",
        &to,
        "--idle-timeout",
        "100ms",
    ]);
    add(&mut conn, 1, "1000");
    // Quiet for a second of event time: the idle timeout closes the window [1 000, 2 000).
    let window_of = |start: &str| {
        let reply: redis::streams::StreamRangeReply = query(
            &server,
            redis::cmd("XRANGE").arg("partials").arg("-").arg("+"),
        );
        let start = format!("\"window_start\":{start},");
        reply
            .ids
            .iter()
            .filter(|e| e.get::<String>("kind").as_deref() == Some("partial"))
            .filter(|e| e.get::<String>("data").is_some_and(|d| d.contains(&start)))
            .count()
    };
    wait_until("the window closed", || window_of("1000") == 1);
    // 30 000 readings in it, on time in stream order: late for the windows only.
    add(&mut conn, 30_000, "1500");
    wait_until("every entry acknowledged", || {
        every_entry_read_of(&server, 30_001) && pending(&server, "weir", None, 0) == 0
    });
    interrupt(&consumer);
    let stderr = wait_ok_or_interrupted(consumer);
    assert!(stderr.contains("1 processed, 30000 late"), "{stderr}");
    // 30 batches' worth, give or take what a poll adds past the bound (all at the end, it
    // would be 2).
    let late_partials = window_of("1000");
    assert!(late_partials >= 20, "{late_partials} late partials");
}
