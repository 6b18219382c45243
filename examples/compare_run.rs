//! `weir run` against what a user would use instead, on the same file and the same windows.
//!
//! ```sh
//! cargo run --release --example compare_run                  # 10 M events, every mode
//! cargo run --release --example compare_run -- --events 2000000 --runs 3 --mode sliding
//! cargo run --release --example compare_run -- --events 2000000 --keys 100000   # by source
//! ```
//!
//! Modes: `tumbling` (1 s windows), `sliding` (1 s windows every 250 ms: `--slide 250ms`),
//! `by-source` (1 s windows, one row per source: `--by source`), or `all` (the default; with
//! `--keys`, `by-source`).
//!
//! 1. Generates (once, seeded) a file of JSON lines like
//!    `{"timestamp":1700000000000,"source":"sensor-3","value":45.06}`: 8 sources (`--keys N`:
//!    N), taking turns, one event per 100 µs of event time on average, 2% of the events
//!    stamped up to 500 ms early (out of order). It goes to `target/compare_run/`.
//! 2. Times, one after the other, each best of `--runs`:
//!    - `weir run --window 1s --lateness 1s` (the release binary, built first; with
//!      `--slide 250ms` or `--by source` in those modes), whose lateness covers the
//!      generator's disorder, so that no event is late;
//!    - a hand-written single-thread loop (in this file: `BufRead::read_line`,
//!      `serde_json::from_str`, a `BTreeMap` of windows);
//!    - DuckDB with 2 threads (`read_json`, `GROUP BY timestamp // 1000`, each event joined
//!      with its 4 window starts when sliding, and the source when by source), through Python
//!      (`pip install duckdb` is tried when it is missing; skipped with a note otherwise).
//! 3. Checks that every implementation found the same windows (start, key, count, mean, max)
//!    and prints the times, the throughputs, the peak memory of weir and of DuckDB's process
//!    (Python included), and weir's ratio to each.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Sources unless `--keys` says otherwise.
const SOURCES: u64 = 8;
const START_MS: u64 = 1_700_000_000_000;

/// One window (of one source, by source) as every implementation reports it: start (ms),
/// key, count, mean and max value.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    start: u64,
    key: Option<String>,
    count: u64,
    mean: f64,
    max: f64,
}

/// What is computed: which windows, grouped how.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Tumbling,
    Sliding,
    BySource,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Tumbling => "1 s tumbling windows",
            Mode::Sliding => "1 s windows sliding by 250 ms",
            Mode::BySource => "1 s tumbling windows by source",
        }
    }

    /// The ms of the window starts an event at `ts` falls in.
    fn starts(self, ts: u64) -> impl Iterator<Item = u64> {
        let (slide, count) = if self == Mode::Sliding {
            (250, 4)
        } else {
            (1000, 1)
        };
        let last = ts / slide;
        (0..count)
            .filter_map(move |j| last.checked_sub(j))
            .map(move |k| k * slide)
    }
}

fn main() {
    let mut events: u64 = 10_000_000;
    let mut runs = 1;
    let mut keys = SOURCES;
    let mut modes = None;
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
            "--keys" => keys = value("--keys").max(1),
            "--mode" => {
                modes = Some(match args.next().as_deref() {
                    Some("tumbling") => vec![Mode::Tumbling],
                    Some("sliding") => vec![Mode::Sliding],
                    Some("by-source") => vec![Mode::BySource],
                    Some("all") => vec![Mode::Tumbling, Mode::Sliding, Mode::BySource],
                    other => {
                        panic!("--mode takes tumbling, sliding, by-source or all, not {other:?}")
                    }
                })
            }
            other => {
                panic!("unknown argument {other:?} (try --events N, --runs N, --mode M, --keys N)")
            }
        }
    }
    let modes = modes.unwrap_or_else(|| {
        if keys == SOURCES {
            vec![Mode::Tumbling, Mode::Sliding, Mode::BySource]
        } else {
            vec![Mode::BySource]
        }
    });
    let dir = PathBuf::from("target/compare_run");
    std::fs::create_dir_all(&dir).expect("creating target/compare_run");
    let data = if keys == SOURCES {
        dir.join(format!("events-{events}.jsonl"))
    } else {
        dir.join(format!("events-{events}-{keys}-keys.jsonl"))
    };
    if !data.exists() {
        let started = Instant::now();
        generate(&data, events, keys);
        eprintln!("generated {} in {:.1?}", data.display(), started.elapsed());
    }
    let bytes = std::fs::metadata(&data).expect("the data file").len();
    let weir = build_weir();
    let duckdb = duckdb_available();
    for mode in modes {
        compare(mode, &weir, &data, (events, keys, bytes), runs, duckdb);
    }
    if !duckdb {
        println!("\nDuckDB: not measured (python3 -c 'import duckdb' failed, pip too)");
    }
}

/// Times and checks every implementation on one mode, and prints the table. The data holds
/// `events` events of `keys` sources in `bytes`.
fn compare(
    mode: Mode,
    weir: &Path,
    data: &Path,
    (events, keys, bytes): (u64, u64, u64),
    runs: u64,
    duckdb: bool,
) {
    println!(
        "\n{events} events of {keys} sources, {:.0} MB, {}, best of {runs}\n",
        bytes as f64 / 1e6,
        mode.name()
    );
    let (weir_time, weir_rows, weir_rss) = best_of(runs, || run_weir(weir, data, mode));
    let (loop_time, loop_rows, _) = best_of(runs, || {
        let started = Instant::now();
        let rows = hand_written_loop(data, mode);
        (started.elapsed(), rows, None)
    });
    let duckdb = duckdb.then(|| best_of(runs, || run_duckdb(data, mode)));

    assert_same("the hand-written loop", &loop_rows, &weir_rows);
    if let Some((_, rows, _)) = &duckdb {
        assert_same("DuckDB", rows, &weir_rows);
    }
    let per_event = if mode == Mode::Sliding { 4 } else { 1 };
    let total: u64 = weir_rows.iter().map(|r| r.count).sum();
    let expected = events * per_event;
    assert!(
        total.abs_diff(expected) <= 8,
        "weir counted {total} events in windows, {expected} expected"
    );
    println!(
        "every implementation found the same {} rows over {events} events\n",
        weir_rows.len()
    );

    let rate = |t: Duration| events as f64 / t.as_secs_f64() / 1e6;
    let mib =
        |kib: Option<u64>| kib.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!("| implementation | time | events/s | peak RSS, MiB | weir / it |");
    println!("|---|---|---|---|---|");
    println!(
        "| weir run | {:.2} s | {:.2} M | {} | |",
        weir_time.as_secs_f64(),
        rate(weir_time),
        mib(weir_rss)
    );
    let row = |name: &str, t: Duration, rss: Option<u64>| {
        println!(
            "| {name} | {:.2} s | {:.2} M | {} | {:.2}x |",
            t.as_secs_f64(),
            rate(t),
            mib(rss),
            t.as_secs_f64() / weir_time.as_secs_f64()
        );
    };
    row("hand-written loop, 1 thread", loop_time, None);
    if let Some((t, _, rss)) = duckdb {
        row("DuckDB, 2 threads (RSS: its Python process)", t, rss);
    }
}

/// Writes `n` events of `keys` sources: sources take turns, event time advances 100 µs per
/// event on average, 2% are stamped up to 500 ms early. Seeded: the same file every time.
fn generate(path: &Path, n: u64, keys: u64) {
    let mut rng = SmallRng::seed_from_u64(0x5EED);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("creating data"));
    let mut now_us = START_MS * 1000;
    for i in 0..n {
        now_us += rng.random_range(0..200);
        let mut ts = now_us / 1000;
        if rng.random_range(0..100) < 2 {
            ts = ts.saturating_sub(rng.random_range(1..=500));
        }
        let source = i % keys;
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
fn run_weir(weir: &Path, data: &Path, mode: Mode) -> (Duration, Vec<Row>, Option<u64>) {
    let timed = Path::new("/usr/bin/time").exists();
    let mut command = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M"]).arg(weir);
        c
    } else {
        Command::new(weir)
    };
    command.args(["run", "--window", "1s", "--lateness", "1s"]);
    match mode {
        Mode::Tumbling => {}
        Mode::Sliding => {
            command.args(["--slide", "250ms"]);
        }
        Mode::BySource => {
            command.args(["--by", "source"]);
        }
    }
    command
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
                key: w["key"].as_str().map(str::to_owned),
                count: w["event_count"].as_u64().expect("event_count"),
                mean: w["avg_value"].as_f64().expect("avg_value"),
                max: w["max_value"].as_f64().expect("max_value"),
            }
        })
        .collect();
    (elapsed, rows, rss)
}

/// What a user would write by hand: one thread, a line at a time, a map of windows.
fn hand_written_loop(data: &Path, mode: Mode) -> Vec<Row> {
    #[derive(serde::Deserialize)]
    struct Input {
        timestamp: u64,
        source: String,
        value: f64,
    }
    let mut windows: BTreeMap<(u64, Option<String>), (u64, f64, f64)> = BTreeMap::new();
    let mut reader = BufReader::new(File::open(data).expect("the data file"));
    let mut line = String::new();
    while reader.read_line(&mut line).expect("reading data") > 0 {
        let e: Input = serde_json::from_str(&line).expect("a JSON event");
        let key = (mode == Mode::BySource).then_some(e.source);
        for start in mode.starts(e.timestamp) {
            let w = windows
                .entry((start, key.clone()))
                .or_insert((0, 0.0, f64::NEG_INFINITY));
            w.0 += 1;
            w.1 += e.value;
            w.2 = w.2.max(e.value);
        }
        line.clear();
    }
    windows
        .into_iter()
        .map(|((start, key), (count, sum, max))| Row {
            start,
            key,
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
fn run_duckdb(data: &Path, mode: Mode) -> (Duration, Vec<Row>, Option<u64>) {
    let input = format!(
        "read_json('{}', format = 'newline_delimited', \
         columns = {{timestamp: 'UBIGINT', source: 'VARCHAR', value: 'DOUBLE'}})",
        data.display()
    );
    let query = match mode {
        Mode::Tumbling => format!(
            "SELECT timestamp // 1000 * 1000 AS start, NULL, count(*), avg(value), max(value) \
             FROM {input} GROUP BY start ORDER BY start"
        ),
        Mode::Sliding => format!(
            "SELECT (timestamp // 250 - j) * 250 AS start, NULL, count(*), avg(value), \
             max(value) FROM {input}, range(4) AS r(j) GROUP BY start ORDER BY start"
        ),
        Mode::BySource => format!(
            "SELECT timestamp // 1000 * 1000 AS start, source, count(*), avg(value), \
             max(value) FROM {input} GROUP BY start, source ORDER BY start, source"
        ),
    };
    let script = format!(
        r#"
import duckdb, time
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
rows = con.execute("""{query}""").fetchall()
elapsed = time.perf_counter() - t
print(elapsed)
for r in rows:
    print(f"{{r[0]}},{{r[1] or ''}},{{r[2]}},{{r[3]!r}},{{r[4]!r}}")
"#
    );
    let timed = Path::new("/usr/bin/time").exists();
    let output = if timed {
        Command::new("/usr/bin/time")
            .args(["-f", "%M", "python3", "-c", &script])
            .output()
    } else {
        Command::new("python3").args(["-c", &script]).output()
    };
    let output = output.expect("running python3");
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
                key: (!f[1].is_empty()).then(|| f[1].to_owned()),
                count: f[2].parse().expect("count"),
                mean: f[3].parse().expect("mean"),
                max: f[4].parse().expect("max"),
            }
        })
        .collect();
    let rss = timed
        .then(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            stderr.lines().last().and_then(|l| l.trim().parse().ok())
        })
        .flatten();
    (Duration::from_secs_f64(secs), rows, rss)
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
            a.start == b.start && a.key == b.key && a.count == b.count && a.max == b.max && close,
            "{who} and weir differ: {a:?} against {b:?}"
        );
    }
}
