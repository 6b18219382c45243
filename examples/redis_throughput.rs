//! Events per second through Redis Streams: weir's source, acknowledgements, a tumbling
//! window and a sink, against the bare loop a user would write with the `redis` crate.
//!
//! `cargo run --release --features redis --example redis_throughput [-- --events N --runs R]`
//!
//! Starts its own `redis-server` on a free port (no persistence), writes `N` entries
//! (`{"timestamp", "source", "value"}`, 200 000 by default) with `RedisSink`, and times, best of
//! `R` (3), each on a fresh consumer group over the same entries:
//! - `bare`: `XREADGROUP COUNT 1000` then one `XACK` of the batch, in a loop: the ceiling;
//! - `weir, 1 consumer`: `RedisSource` (1 000 per read) → parse → `tumbling_window(1 s)`
//!   (count, sum) → windows written with `RedisSink`; every entry acknowledged with `Acker`
//!   once read (the windows are written at the end);
//! - `weir, 2 consumers`: the same, two consumers of one group in one process;
//! - `weir run, 1 consumer`: the command, `weir run --from ... --to ... --by source
//!   --until-idle=0s` (release build), writing partial windows; entries acknowledged once their
//!   windows are written;
//! - `weir run, 2 + combine`: two such processes at once, then `weir combine
//!   --until-idle=0s`, all timed.
//!
//! It checks that every run saw every entry and left nothing pending, then prints the ratios
//! to the bare loop, and two processes and `weir combine` against one process. Beside each
//! case, how busy its best run kept the server (its CPU time, from `INFO cpu`, over the run's
//! time) and the machine (the server's CPU time and the clients', this process's and its
//! children's from `/proc/self/stat`, over the run's time on every core). The server runs
//! one command at a time, and its work to read and acknowledge an entry is the same whoever
//! asks: when either figure nears 100%, more consumers have little left to use.
//! Like the bare loop, every reader stops at its first read that finds nothing new
//! (`until_idle_for(Duration::ZERO)`, `--until-idle=0s`): the default `--until-idle` waits
//! 100 ms and reads once more, which would add a fixed 100 ms to each command.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir::io::redis::{RedisSink, RedisSource, StreamGroup};
use weir::prelude::*;

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

async fn pending(client: &redis::Client, group: &str) -> u64 {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let summary: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg("events")
        .arg(group)
        .query_async(&mut conn)
        .await
        .unwrap();
    redis::from_redis_value_ref(&summary[0]).unwrap()
}

/// The server's CPU time so far, user and system (`INFO cpu`), in seconds.
async fn server_cpu(client: &redis::Client) -> f64 {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            l.strip_prefix("used_cpu_user:")
                .or_else(|| l.strip_prefix("used_cpu_sys:"))
        })
        .map(|v| v.trim().parse::<f64>().expect("a number of seconds"))
        .sum()
}

/// CPU time (user and system) of this process and of the children it has waited for, in
/// seconds, from `/proc/self/stat` (clock ticks of 1/100 s); `None` where there is no such
/// file.
fn own_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, and it may hold spaces) start at the
    // third: utime, stime, cutime and cstime are the 14th to the 17th.
    let (_, rest) = stat.rsplit_once(')')?;
    let ticks: Option<Vec<u64>> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().ok())
        .collect();
    Some(ticks?.iter().sum::<u64>() as f64 / 100.0)
}

/// The bare loop: entries read.
async fn bare(client: &redis::Client, group: &str) -> u64 {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("events")
        .arg(group)
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut read = 0;
    loop {
        let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg("c")
            .arg("COUNT")
            .arg(1000)
            .arg("STREAMS")
            .arg("events")
            .arg(">")
            .query_async(&mut conn)
            .await
            .unwrap();
        let ids: Vec<String> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| {
                // Touch the fields as a user would.
                std::hint::black_box(e.map.len());
                e.id
            })
            .collect();
        if ids.is_empty() {
            return read;
        }
        read += ids.len() as u64;
        let _: u64 = redis::cmd("XACK")
            .arg("events")
            .arg(group)
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// weir with `consumers` consumers: entries read, windows written.
async fn weir(client: &redis::Client, group: &str, consumers: usize) -> (u64, u64) {
    let tasks: Vec<_> = (0..consumers)
        .map(|c| {
            let client = client.clone();
            // Draining with no wait: no read blocks on the server.
            let group = StreamGroup::new("events", group, &format!("c{c}")).claim_idle(None);
            tokio::spawn(async move {
                let (source, acker) = RedisSource::connect(&client, group).await.unwrap();
                let ack = acker.clone();
                let windows: Vec<_> = source
                    .until_idle_for(Duration::ZERO)
                    .map(|e| e.expect("a read"))
                    .map(move |e| {
                        let ts: u64 = e.field("timestamp").unwrap().parse().unwrap();
                        let value: f64 = e.field("value").unwrap().parse().unwrap();
                        ack.ack(e.id);
                        (ts, value)
                    })
                    .tumbling_window(1_000, |r: &(u64, f64)| r.0, weir::window::Count)
                    .collect()
                    .await;
                acker.flush().await.unwrap();
                let mut sink = RedisSink::connect(&client, "windows").await.unwrap();
                let batch: Vec<Vec<(&str, u64)>> = windows
                    .iter()
                    .map(|w| vec![("start", w.start), ("count", w.count)])
                    .collect();
                sink.send(&batch).await.unwrap();
                (acker.acked(), windows.len() as u64)
            })
        })
        .collect();
    let mut totals = (0, 0);
    for t in tasks {
        let (read, windows) = t.await.unwrap();
        totals.0 += read;
        totals.1 += windows;
    }
    totals
}

/// Builds the release binary with Redis support and returns its path.
fn build_weir() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--features",
            "redis",
            "--bin",
            "weir",
        ])
        .status()
        .expect("running cargo build");
    assert!(
        status.success(),
        "cargo build --release --features redis failed"
    );
    "target/release/weir".to_owned()
}

/// `weir run` as `consumers` processes at once, then, with more than one, `weir combine`:
/// entries read, from the consumers' summaries.
fn weir_run(weir: &str, url: &str, group: &str, consumers: usize) -> u64 {
    let (from, to) = (format!("{url}/events"), format!("{url}/partials-{group}"));
    let children: Vec<_> = (0..consumers)
        .map(|c| {
            Command::new(weir)
                .args(["run", "--from", &from, "--group", group, "--consumer"])
                .arg(format!("c{c}"))
                .args(["--to", &to, "--by", "source", "--until-idle=0s"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting weir run")
        })
        .collect();
    let mut read = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let summary = stderr.lines().find(|l| l.starts_with("summary:")).unwrap();
        read += summary
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    if consumers > 1 {
        let out = Command::new(weir)
            .args([
                "combine",
                "--from",
                &to,
                "--group",
                group,
                "--until-idle=0s",
            ])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(!out.stdout.is_empty());
    }
    read
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events = arg("--events", 200_000);
    let runs = arg("--runs", 3);
    let weir_bin = build_weir();
    let server = redis_server::Server::start();
    let url = format!("redis://127.0.0.1:{}", server.port());
    let client = server.client();
    let mut sink = RedisSink::connect(&client, "events").await.unwrap();
    let all: Vec<u64> = (0..events).collect();
    for chunk in all.chunks(1000) {
        let batch: Vec<Vec<(&str, String)>> = chunk
            .iter()
            .map(|i| {
                vec![
                    ("timestamp", (1_700_000_000_000 + i / 10).to_string()),
                    ("source", format!("sensor-{}", i % 8)),
                    ("value", ((i * 37) % 1000).to_string()),
                ]
            })
            .collect();
        sink.send(&batch).await.unwrap();
    }
    // Each case's best time, and the server's and the clients' CPU time over that run.
    let mut best = [(f64::INFINITY, 0.0, None); 5];
    for run in 0..runs {
        for (k, best) in best.iter_mut().enumerate() {
            let group = format!("g{run}-{k}");
            let cpu = server_cpu(&client).await;
            let clients = own_cpu();
            let start = Instant::now();
            let read = match k {
                0 => bare(&client, &group).await,
                1 | 2 => weir(&client, &group, k).await.0,
                _ => weir_run(&weir_bin, &url, &group, k - 2),
            };
            let took = start.elapsed().as_secs_f64();
            let clients = own_cpu().zip(clients).map(|(after, before)| after - before);
            let cpu = server_cpu(&client).await - cpu;
            assert_eq!(read, events, "run {run}, case {k}: an entry was missed");
            assert_eq!(pending(&client, &group).await, 0);
            if took < best.0 {
                *best = (took, cpu, clients);
            }
        }
    }
    let cores = std::thread::available_parallelism().ok().map(|n| n.get());
    let on = cores.map_or("cores unknown".to_owned(), |n| format!("{n} cores"));
    println!("\n{events} entries, best of {runs}, on one redis-server ({on}):\n");
    let names = [
        "bare XREADGROUP + XACK",
        "weir, 1 consumer",
        "weir, 2 consumers",
        "weir run, 1 consumer",
        "weir run, 2 + combine",
    ];
    println!(
        "{:<24} {:>9}  {:>10}  {:>19}  {:>6}  {:>7}",
        "", "time", "entries/s", "", "server", "machine"
    );
    for (name, (t, cpu, clients)) in names.iter().zip(best) {
        // Unknown without /proc or a count of cores.
        let machine = clients
            .zip(cores)
            .map_or("-".to_owned(), |(clients, cores)| {
                format!("{:.0}%", 100.0 * (cpu + clients) / (t * cores as f64))
            });
        println!(
            "{name:<24} {t:>7.3} s  {:>10.0}  {:>5.2}x the bare loop  {:>5.0}%  {machine:>7}",
            events as f64 / t,
            best[0].0 / t,
            100.0 * cpu / t
        );
    }
    println!(
        "\nweir run, 2 + combine: {:.2}x weir run, 1 consumer",
        best[3].0 / best[4].0
    );
}
