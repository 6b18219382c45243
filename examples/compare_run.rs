//! `weir run` against what a user would use instead, on the same file and the same windows.
//!
//! ```sh
//! cargo run --release --example compare_run                  # 10 M events
//! cargo run --release --example compare_run -- --events 2000000 --runs 3
//! ```
//!
//! 1. Generates (once, seeded) a file of JSON lines like
//!    `{"timestamp":1700000000000,"source":"sensor-3","value":45.06}`: 8 sources, one event per
//!    100 µs of event time on average, 2% of the events stamped up to 500 ms early (out of
//!    order). It goes to `target/compare_run/`.
//! 2. Times, one after the other, each best of `--runs`:
//!    - `weir run --window 1s --lateness 1s` (the release binary, built first), whose
//!      lateness covers the generator's disorder, so that no event is late;
//!    - a hand-written single-thread loop (in this file: `BufRead::read_line`,
//!      `serde_json::from_str`, a `BTreeMap` of windows);
//!    - DuckDB with 2 threads (`read_json`, `GROUP BY timestamp // 1000`), through Python
//!      (`pip install duckdb` is tried when it is missing; skipped with a note otherwise).
//! 3. Checks that every implementation found the same windows (start, count, mean, max) and
//!    prints the times, the throughputs, weir's peak memory and weir's ratio to each.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const SOURCES: u64 = 8;
const START_MS: u64 = 1_700_000_000_000;

/// One window as every implementation reports it: start (ms), count, mean and max value.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    start: u64,
    count: u64,
    mean: f64,
    max: f64,
}

fn main() {
    let mut events: u64 = 10_000_000;
    let mut runs = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a positive number"))
        };
        match arg.as_str() {
            "--events" => events = value("--events"),
            "--runs" => runs = value("--runs").max(1),
            other => panic!("unknown argument {other:?} (try --events N, --runs N)"),
        }
    }
    let dir = PathBuf::from("target/compare_run");
    std::fs::create_dir_all(&dir).expect("creating target/compare_run");
    let data = dir.join(format!("events-{events}.jsonl"));
    if !data.exists() {
        let started = Instant::now();
        generate(&data, events);
        eprintln!("generated {} in {:.1?}", data.display(), started.elapsed());
    }
    let bytes = std::fs::metadata(&data).expect("the data file").len();
    println!(
        "{events} events, {:.0} MB, 1 s tumbling windows, best of {runs}\n",
        bytes as f64 / 1e6
    );

    let weir = build_weir();
    let (weir_time, weir_rows, weir_rss) = best_of(runs, || run_weir(&weir, &data));
    let (loop_time, loop_rows, _) = best_of(runs, || {
        let started = Instant::now();
        let rows = hand_written_loop(&data);
        (started.elapsed(), rows, None)
    });
    let duckdb = duckdb_available().then(|| best_of(runs, || run_duckdb(&data)));

    assert_same("the hand-written loop", &loop_rows, &weir_rows);
    if let Some((_, rows, _)) = &duckdb {
        assert_same("DuckDB", rows, &weir_rows);
    }
    let total: u64 = weir_rows.iter().map(|r| r.count).sum();
    assert_eq!(total, events, "weir counted {total} events of {events}");
    println!(
        "every implementation found the same {} windows over {total} events\n",
        weir_rows.len()
    );

    let rate = |t: Duration| events as f64 / t.as_secs_f64() / 1e6;
    println!("| implementation | time | events/s | weir / it |");
    println!("|---|---|---|---|");
    let rss = weir_rss.map_or(String::new(), |kib| {
        format!(", peak RSS {:.1} MiB", kib as f64 / 1024.0)
    });
    println!(
        "| weir run{rss} | {:.2} s | {:.2} M | |",
        weir_time.as_secs_f64(),
        rate(weir_time)
    );
    let row = |name: &str, t: Duration| {
        println!(
            "| {name} | {:.2} s | {:.2} M | {:.2}x |",
            t.as_secs_f64(),
            rate(t),
            t.as_secs_f64() / weir_time.as_secs_f64()
        );
    };
    row("hand-written loop, 1 thread", loop_time);
    match duckdb {
        Some((t, _, _)) => row("DuckDB, 2 threads", t),
        None => println!("\nDuckDB: not measured (python3 -c 'import duckdb' failed, pip too)"),
    }
}

/// Writes `n` events: sources take turns, event time advances 100 µs per event on average
/// (12.5 ms per source), 2% are stamped up to 500 ms early. Seeded: the same file every time.
fn generate(path: &Path, n: u64) {
    let mut rng = SmallRng::seed_from_u64(0x5EED);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("creating data"));
    let mut now_us = START_MS * 1000;
    for i in 0..n {
        now_us += rng.random_range(0..200);
        let mut ts = now_us / 1000;
        if rng.random_range(0..100) < 2 {
            ts = ts.saturating_sub(rng.random_range(1..=500));
        }
        let source = i % SOURCES;
        let value = f64::from(rng.random_range(0..10_000u32)) / 100.0;
        writeln!(
            out,
            r#"{{"timestamp":{ts},"source":"sensor-{source}","value":{value}}}"#
        )
        .expect("writing data");
    }
    out.flush().expect("writing data");
}

/// Builds the release binary and returns its path.
fn build_weir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "weir"])
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build --release --bin weir failed");
    PathBuf::from("target/release/weir")
}

/// Runs `f` `runs` times; keeps the fastest time, with its rows and memory.
fn best_of(
    runs: u64,
    mut f: impl FnMut() -> (Duration, Vec<Row>, Option<u64>),
) -> (Duration, Vec<Row>, Option<u64>) {
    let mut best = f();
    for _ in 1..runs {
        let next = f();
        if next.0 < best.0 {
            best = next;
        }
    }
    best
}

/// `weir run`, under `/usr/bin/time` for its peak memory when that exists.
fn run_weir(weir: &Path, data: &Path) -> (Duration, Vec<Row>, Option<u64>) {
    let timed = Path::new("/usr/bin/time").exists();
    let mut command = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M"]).arg(weir);
        c
    } else {
        Command::new(weir)
    };
    command
        .args(["run", "--window", "1s", "--lateness", "1s"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output().expect("running weir");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "weir run failed: {stderr}");
    let rss = timed
        .then(|| stderr.lines().last().and_then(|l| l.trim().parse().ok()))
        .flatten();
    let rows = String::from_utf8(output.stdout)
        .expect("weir's output is UTF-8")
        .lines()
        .map(|line| {
            let w: serde_json::Value = serde_json::from_str(line).expect("a window as JSON");
            Row {
                start: w["window_start"].as_u64().expect("window_start"),
                count: w["event_count"].as_u64().expect("event_count"),
                mean: w["avg_value"].as_f64().expect("avg_value"),
                max: w["max_value"].as_f64().expect("max_value"),
            }
        })
        .collect();
    (elapsed, rows, rss)
}

/// What a user would write by hand: one thread, a line at a time, a map of windows.
fn hand_written_loop(data: &Path) -> Vec<Row> {
    #[derive(serde::Deserialize)]
    struct Input {
        timestamp: u64,
        #[allow(dead_code)]
        source: String,
        value: f64,
    }
    let mut windows: BTreeMap<u64, (u64, f64, f64)> = BTreeMap::new();
    let mut reader = BufReader::new(File::open(data).expect("the data file"));
    let mut line = String::new();
    while reader.read_line(&mut line).expect("reading data") > 0 {
        let e: Input = serde_json::from_str(&line).expect("a JSON event");
        let w = windows
            .entry(e.timestamp / 1000 * 1000)
            .or_insert((0, 0.0, f64::NEG_INFINITY));
        w.0 += 1;
        w.1 += e.value;
        w.2 = w.2.max(e.value);
        line.clear();
    }
    windows
        .into_iter()
        .map(|(start, (count, sum, max))| Row {
            start,
            count,
            mean: sum / count as f64,
            max,
        })
        .collect()
}

/// Whether `import duckdb` works, installing it with pip once if it does not.
fn duckdb_available() -> bool {
    let import = || {
        Command::new("python3")
            .args(["-c", "import duckdb"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if import() {
        return true;
    }
    eprintln!("installing duckdb with pip...");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "duckdb"])
        .status();
    import()
}

/// DuckDB, 2 threads: the same windows as CSV on stdout; the time is DuckDB's query alone
/// (Python's start-up is left out).
fn run_duckdb(data: &Path) -> (Duration, Vec<Row>, Option<u64>) {
    let script = format!(
        r#"
import duckdb, sys, time
con = duckdb.connect()
con.execute("SET threads = 2")
t = time.perf_counter()
rows = con.execute("""
    SELECT timestamp // 1000 * 1000 AS start, count(*), avg(value), max(value)
    FROM read_json('{}', format = 'newline_delimited',
                   columns = {{timestamp: 'UBIGINT', source: 'VARCHAR', value: 'DOUBLE'}})
    GROUP BY start ORDER BY start""").fetchall()
elapsed = time.perf_counter() - t
print(elapsed)
for r in rows:
    print(f"{{r[0]}},{{r[1]}},{{r[2]!r}},{{r[3]!r}}")
"#,
        data.display()
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("running python3");
    assert!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut lines = text.lines();
    let secs: f64 = lines.next().and_then(|l| l.parse().ok()).expect("a time");
    let rows = lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Row {
                start: f[0].parse().expect("start"),
                count: f[1].parse().expect("count"),
                mean: f[2].parse().expect("mean"),
                max: f[3].parse().expect("max"),
            }
        })
        .collect();
    (Duration::from_secs_f64(secs), rows, None)
}

/// Panics, naming `who` and the first difference, unless `rows` are `weir`'s windows (means
/// within a relative 1e-9: the sums are added in different orders).
fn assert_same(who: &str, rows: &[Row], weir: &[Row]) {
    assert_eq!(
        rows.len(),
        weir.len(),
        "{who} found {} windows, weir {}",
        rows.len(),
        weir.len()
    );
    for (a, b) in rows.iter().zip(weir) {
        let close = (a.mean - b.mean).abs() <= 1e-9 * a.mean.abs().max(1.0);
        assert!(
            a.start == b.start && a.count == b.count && a.max == b.max && close,
            "{who} and weir differ: {a:?} against {b:?}"
        );
    }
}
