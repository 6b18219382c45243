//! The `weir` binary, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("running weir")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file under the target directory's temp area, written with `content`.
fn fixture(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn run_windows_the_shipped_example_exactly() {
    let out = weir(&["run", "examples/data/events.jsonl"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"avg_value":49.833333333333336,"event_count":3,"max_value":97.0,"severity_counts":{"Critical":1,"Low":1,"Medium":1},"window_end":2000,"window_start":1000}"#,
            r#"{"avg_value":76.5,"event_count":2,"max_value":88.0,"severity_counts":{"High":2},"window_end":3000,"window_start":2000}"#,
            r#"{"avg_value":20.0,"event_count":1,"max_value":20.0,"severity_counts":{"Low":1},"window_end":4000,"window_start":3000}"#,
        ]
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("events.jsonl:5:"), "{stderr}");
    assert!(
        stderr.contains(
            "summary: 8 lines read (7 events, 1 malformed, 0 blank); 6 processed, 1 late, 0 \
             dropped, 0 filtered, 0 too far ahead, 0 outside every window"
        ),
        "{stderr}"
    );
}

#[test]
fn malformed_and_oversized_lines_are_reported_and_skipped() {
    let long = format!(
        r#"{{"timestamp": 10, "source": "x", "value": 1, "pad": "{}"}}"#,
        "a".repeat(500)
    );
    let content = format!(
        "{}\n{}\n{}\n{}\n",
        r#"{"timestamp": 10, "source": "a", "value": 1}"#,
        long,
        r#"{"timestamp": 20, "source": "a"}"#,
        r#"{"timestamp": 30, "source": "a", "value": 3}"#,
    );
    let path = fixture("bad.jsonl", &content);
    let out = weir(&["run", "--max-line", "200", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.jsonl:2: line of"), "{stderr}");
    assert!(stderr.contains("longer than the limit of 200"), "{stderr}");
    assert!(
        stderr.contains("bad.jsonl:3: missing field `value`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 lines read (2 events, 2 malformed, 0 blank); 2 processed"),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.contains(r#""event_count":2"#), "{stdout}");
}

#[test]
fn two_files_are_merged_as_two_sources() {
    let a = fixture(
        "a.jsonl",
        "{\"timestamp\": 100, \"source\": \"a\", \"value\": 10}\n{\"timestamp\": 1100, \"source\": \"a\", \"value\": 30}\n",
    );
    let b = fixture(
        "b.jsonl",
        "{\"timestamp\": 200, \"source\": \"b\", \"value\": 50}\n{\"timestamp\": 1200, \"source\": \"b\", \"value\": 70}\n",
    );
    let out = weir(&[
        "run",
        "--by",
        "source",
        "--lateness",
        "2s",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let keys: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_owned(),
                v["window_start"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("a".to_owned(), "0".to_owned()),
            ("b".to_owned(), "0".to_owned()),
            ("a".to_owned(), "1000".to_owned()),
            ("b".to_owned(), "1000".to_owned()),
        ]
    );
    assert!(
        text(&out.stderr).contains("(4 events, 0 malformed, 0 blank); 4 processed, 0 late"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn redis_flags_with_files_are_refused() {
    for flag in [
        &["--to", "redis://127.0.0.1:6379/out"][..],
        &["--group", "g"],
        &["--consumer", "c"],
        &["--until-idle"],
        &["--claim-idle", "5s"],
        &["--give-up-after", "5s"],
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(flag);
        args.push("examples/data/events.jsonl");
        let out = weir(&args);
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(flag[0]) && stderr.contains("--from"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn negative_values_and_fractional_durations_are_accepted() {
    let file = fixture(
        "negative.jsonl",
        "{\"timestamp\":100,\"source\":\"a\",\"value\":-7.5}\n\
         {\"timestamp\":1600,\"source\":\"a\",\"value\":-2}\n\
         {\"timestamp\":1700,\"source\":\"a\",\"value\":3}\n",
    );
    let path = file.to_str().unwrap();
    let out = weir(&[
        "run",
        "--min-value",
        "-5",
        "--max-value",
        "-1",
        "--window",
        "1.5s",
        path,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // Only -2 passes; 1.5 s windows: [1500, 3000).
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains(r#""window_start":1500"#) && lines[0].contains(r#""avg_value":-2.0"#)
    );
    assert!(text(&out.stderr).contains("2 filtered"));
    for bad in ["1.5ms", "1.2.3s", "-1s"] {
        assert_eq!(
            weir(&["run", "--window", bad, path]).status.code(),
            Some(2),
            "{bad}"
        );
    }
}

#[test]
fn malformed_lines_are_reported_a_few_at_a_time() {
    let mut content = String::new();
    for i in 0..500 {
        content += &format!("garbage {i}\n");
    }
    content += "{\"timestamp\":10,\"source\":\"a\",\"value\":1}\n";
    let file = fixture("garbage.jsonl", &content);
    let path = file.to_str().unwrap();
    let out = weir(&["run", path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let shown = stderr
        .lines()
        .filter(|l| l.ends_with("not a JSON object"))
        .count();
    assert_eq!(shown, 10, "{stderr}");
    assert!(
        stderr.contains("490 more malformed lines not shown"),
        "{stderr}"
    );
    assert!(
        stderr.contains("501 lines read (1 events, 500 malformed"),
        "{stderr}"
    );
    // --quiet: the summary alone.
    let out = weir(&["run", "--quiet", path]);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("summary: 501 lines read"), "{stderr}");
}

#[test]
fn an_input_of_nothing_but_malformed_lines_fails() {
    let file = fixture("all-garbage.jsonl", "not json\n\n{\"timestamp\": 1}\n");
    let out = weir(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no line of the input was an event (2 malformed)"),
        "{stderr}"
    );
    // An empty input is not an error.
    let empty = fixture("empty.jsonl", "\n");
    assert!(weir(&["run", empty.to_str().unwrap()]).status.success());
}

#[test]
fn a_read_error_names_the_input_and_fails() {
    // Reading /proc/self/mem from offset 0 fails with EIO.
    let out = weir(&["run", "/proc/self/mem"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/proc/self/mem: read error:"), "{stderr}");
    assert!(!stderr.contains("malformed: "), "{stderr}");
}

#[test]
fn a_closed_standard_output_is_an_error() {
    let run_with = |redirect: &str| {
        let weir = env!("CARGO_BIN_EXE_weir");
        let line = format!("{weir} run examples/data/events.jsonl {redirect}");
        Command::new("sh").arg("-c").arg(line).output().unwrap()
    };
    let out = run_with(">&-");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the standard output is closed"));
    // Sent to /dev/null on purpose, it is not.
    assert_eq!(run_with(">/dev/null").status.code(), Some(0));
}

/// The count of `what` in a summary line.
fn summary_count(stderr: &str, what: &str) -> u64 {
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .expect("a summary");
    let at = summary
        .find(what)
        .unwrap_or_else(|| panic!("{what} in {summary}"));
    let number = summary[..at].trim_end().rsplit([' ', '(']).next().unwrap();
    number.parse().unwrap()
}

/// `--buffer` sheds only when the output cannot keep up: a file whose windows go to a reader
/// that takes them at once loses nothing, run after run; a reader that waits makes the buffer
/// drop its oldest events, all counted.
#[test]
fn a_buffer_drops_only_when_the_output_falls_behind() {
    let lines: String = (0..200_000u64)
        .map(|i| {
            format!(
                r#"{{"timestamp":{i},"source":"s{}","value":{}}}"#,
                i % 7,
                i % 100
            ) + "\n"
        })
        .collect();
    let file = fixture("buffered.jsonl", &lines);
    let path = file.to_str().unwrap();
    let plain = weir(&["run", path]);
    for _ in 0..3 {
        let out = weir(&["run", "--buffer", "100000", path]);
        assert!(out.status.success());
        let stderr = text(&out.stderr);
        assert_eq!(summary_count(&stderr, "dropped"), 0, "{stderr}");
        assert_eq!(out.stdout, plain.stdout);
    }
    // One window per event, and a reader that waits a second before it reads: the pipe
    // fills, the writes wait, the input goes on into the buffer of 100, which sheds.
    let mut child = spawn(["run", "--buffer", "100", "--window", "1ms", path]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(60));
    assert!(status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let (processed, dropped) = (
        summary_count(&stderr, "processed"),
        summary_count(&stderr, "dropped"),
    );
    assert!(dropped > 0, "{stderr}");
    assert_eq!(processed + dropped, 200_000, "{stderr}");
    assert_eq!(
        out.lines().count() as u64,
        processed,
        "one window per event processed"
    );
}

#[test]
fn an_input_that_cannot_be_opened_fails() {
    let out = weir(&["run", "/nonexistent/weir/input.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot open"));
}

#[test]
fn the_demo_runs_and_reports() {
    let out = weir(&["demo", "--duration", "2s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("report"), "{stdout}");
    // What the demo promises: every event sent is received, and processed or dropped; the
    // sources send the 10 000 events asked for (2 s at the default rate), or the report says
    // how many they could send in the time (a machine under load).
    let counts = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("backpressure Received: "))
        .expect("a backpressure line");
    let numbers: Vec<u64> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    let (received, processed, dropped) = (numbers[0], numbers[1], numbers[2]);
    assert_eq!(received, processed + dropped, "{stdout}");
    if received != 10_000 {
        let short = format!("the sources sent {received} of the 10000 events asked for");
        assert!(stdout.contains(&short), "{stdout}");
    }
}

/// 2 400 events from 4 sensors, 1 s apart per sensor on average, each stamped up to 400 ms
/// off its place in the file (so within `--lateness 500ms`), with values whose sums depend on
/// the order they are added in.
fn sensor_events() -> Vec<(usize, String)> {
    (0..2_400u64)
        .map(|i| {
            let source = (i % 4) as usize;
            let jitter = (i * 7_919) % 401;
            let ts = 1_700_000_000_000 + i * 250 + 400 - jitter;
            let value = ((i * 37) % 1_000) as f64 / 7.0 + 0.1;
            let line =
                format!(r#"{{"timestamp":{ts},"source":"sensor-{source}","value":{value}}}"#);
            (source, line)
        })
        .collect()
}

/// Writes `lines` split into `n` files, by `part(index, source)`.
fn split_files(
    tag: &str,
    events: &[(usize, String)],
    n: usize,
    part: impl Fn(usize, usize) -> usize,
) -> Vec<PathBuf> {
    let mut parts = vec![String::new(); n];
    for (i, (source, line)) in events.iter().enumerate() {
        let p = &mut parts[part(i, *source)];
        p.push_str(line);
        p.push('\n');
    }
    parts
        .iter()
        .enumerate()
        .map(|(k, content)| fixture(&format!("{tag}-{n}-{k}.jsonl"), content))
        .collect()
}

fn run_files(flags: &[&str], files: &[PathBuf]) -> (String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = weir(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr)
        .lines()
        .find(|l| l.starts_with("summary:"))
        .expect("a summary")
        .to_owned();
    (text(&out.stdout), summary)
}

/// The same events in one file or split across 2 and 4 files, by source or by line ranges:
/// byte-identical windows and the same summary, late count included.
#[test]
fn split_files_give_the_windows_of_one_file() {
    let events = sensor_events();
    let whole = split_files("whole", &events, 1, |_, _| 0);
    for flags in [
        &["--lateness", "500ms"][..],
        &["--lateness", "500ms", "--slide", "250ms", "--by", "source"][..],
    ] {
        let (want, want_summary) = run_files(flags, &whole);
        assert!(
            want_summary.contains("2400 processed, 0 late"),
            "{want_summary}"
        );
        assert!(want.lines().count() > 100);
        for n in [2, 4] {
            let by_source = split_files("source", &events, n, |_, s| s % n);
            let by_range = split_files("range", &events, n, |i, _| i * n / events.len());
            for files in [by_source, by_range] {
                let (got, summary) = run_files(flags, &files);
                assert!(got == want, "{n} files {flags:?}: the windows differ");
                assert_eq!(summary, want_summary);
            }
        }
    }
}

/// Two copies of one ordered file: no event late (one watermark for the merged files made
/// most of them late), every window counted twice.
#[test]
fn two_copies_of_an_ordered_file_have_no_late_event() {
    let lines: String = (0..5_000u64)
        .map(|i| {
            format!(
                r#"{{"timestamp":{},"source":"s","value":1}}"#,
                1_000 + i * 3
            ) + "\n"
        })
        .collect();
    let file = fixture("ordered.jsonl", &lines);
    let (out, summary) = run_files(&[], &[file.clone(), file]);
    assert!(
        summary.contains(
            "10000 lines read (10000 events, 0 malformed, 0 blank); 10000 processed, 0 late"
        ),
        "{summary}"
    );
    let counts: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_count"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 10_000);
    assert!(
        counts[1..counts.len() - 1]
            .iter()
            .all(|&n| n == 2 * 334 || n == 2 * 333)
    );
}

/// stdin and a file together, and a file that ends long before the other: the windows of the
/// single file.
#[test]
fn stdin_with_files_and_a_file_that_ends_early() {
    let events = sensor_events();
    let whole = split_files("whole-stdin", &events, 1, |_, _| 0);
    let (want, want_summary) = run_files(&["--lateness", "500ms"], &whole);
    // The first tenth in one file, the rest from stdin.
    let early: String = events[..240]
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let rest: String = events[240..]
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let early = fixture("early.jsonl", &early);
    let mut child = spawn(["run", "--lateness", "500ms", early.to_str().unwrap(), "-"]);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, rest.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout) == want, "the windows differ");
    assert!(
        text(&out.stderr).contains(&want_summary),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_event_at_the_end_of_time_is_windowed_not_lost() {
    let file = fixture(
        "end-of-time.jsonl",
        "{\"timestamp\": 18446744073709551614, \"source\": \"a\", \"value\": 1}\n\
         {\"timestamp\": 18446744073709551615, \"source\": \"a\", \"value\": 2}\n",
    );
    let (out, summary) = run_files(&["--window", "1ms"], std::slice::from_ref(&file));
    let windows = spans(&out);
    assert_eq!(
        windows,
        [(u64::MAX - 1, u64::MAX, 1), (u64::MAX, u64::MAX, 1)]
    );
    assert!(summary.contains("2 processed, 0 late"), "{summary}");
    // A window as long as time, sliding by half of it: the two windows that hold the last
    // two milliseconds, [2^63 - 1, 2^64 + 2^63 - 3) and [2^64 - 2, 2^65 - 4), ends clamped.
    let (out, _) = run_files(
        &[
            "--window",
            "18446744073709551614ms",
            "--slide",
            "9223372036854775807ms",
        ],
        &[file],
    );
    let windows = spans(&out);
    assert_eq!(
        windows,
        [(u64::MAX / 2, u64::MAX, 2), (u64::MAX - 1, u64::MAX, 2)]
    );
}

/// Each window line of `out` as (start, end, events).
fn spans(out: &str) -> Vec<(u64, u64, u64)> {
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let n = |k: &str| v[k].as_u64().unwrap();
            (n("window_start"), n("window_end"), n("event_count"))
        })
        .collect()
}

fn assert_usage_error(args: &[&str], mentions: &[&str]) {
    let out = weir(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        text(&out.stderr)
    );
    let stderr = text(&out.stderr);
    for m in mentions {
        assert!(stderr.contains(m), "{args:?}: {stderr}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn flags_that_make_no_sense_are_rejected_before_anything_runs() {
    let file = fixture(
        "flags.jsonl",
        "{\"timestamp\": 1, \"source\": \"a\", \"value\": 1}\n",
    );
    let f = file.to_str().unwrap();
    assert_usage_error(&["run", "--window", "0", f], &["--window", "at least 1ms"]);
    assert_usage_error(&["run", "--slide", "0ms", f], &["--slide", "at least 1ms"]);
    assert_usage_error(&["run", "--buffer", "0", f], &["--buffer", "at least 1"]);
    assert_usage_error(
        &["run", "--min-value", "5", "--max-value", "3", f],
        &["--min-value 5 is above --max-value 3"],
    );
    assert_usage_error(&["run", "--sample", "1.5", f], &["--sample", "[0, 1]"]);
    assert_usage_error(
        &["run", "--window", "100000s", "--slide", "1ms", f],
        &["--window 100000000ms", "--slide 1ms", "at most 100000"],
    );
    assert_usage_error(
        &["run", "--window", "5124095576030432h", f],
        &["--window", "too long"],
    );
    assert_usage_error(&["demo", "--rate", "0"], &["--rate", "1..=100000000"]);
    assert_usage_error(&["demo", "--buffer", "0"], &["--buffer", "1..=1048576"]);
    let dir = std::env::temp_dir();
    assert_usage_error(&["run", dir.to_str().unwrap()], &["is a directory"]);
    assert_usage_error(&["run", "-", "-"], &["stdin"]);
}

/// Blank lines, arrays, huge values, events beyond the clock and in no window: each counted
/// on its line of the summary, which adds up.
#[test]
fn every_line_and_every_event_is_accounted_for() {
    let content = "\
{\"timestamp\": 100, \"source\": \"a\", \"value\": 1.7e308}

[1,1000,\"a\",5,null]
{\"timestamp\": 200, \"source\": \"a\", \"value\": 1.7e308}
   
{\"timestamp\": 4102444800000, \"source\": \"a\", \"value\": 1}
{\"timestamp\": 700, \"source\": \"a\", \"value\": 1}
{\"timestamp\": 1300, \"source\": \"a\", \"value\": 9}
{\"timestamp\": 1400, \"source\": \"a\", \"value\": -9}
";
    let file = fixture("accounting.jsonl", content);
    let out = weir(&[
        "run",
        "--window",
        "500ms",
        "--slide",
        "1s",
        "--max-future",
        "1h",
        "--min-value",
        "0",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("accounting.jsonl:3: not a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains("accounting.jsonl:6: timestamp 4102444800000"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "summary: 9 lines read (6 events, 1 malformed, 2 blank); 3 processed, 0 late, 0 \
             dropped, 1 filtered, 1 too far ahead, 1 outside every window"
        ),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(r#"{"avg_value":1.7e+308,"event_count":2,"max_value":1.7e+308"#),
        "{stdout}"
    );
}

#[test]
fn a_full_disk_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "examples/data/events.jsonl"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot write the output: No space left on device"),
        "{}",
        text(&out.stderr)
    );
}

/// Starts the binary with every standard stream piped.
fn spawn<I, S>(args: I) -> std::process::Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` at most `limit`, killing it and failing past that.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `weir run big | head -1` and `weir demo | head -2`: the reader goes away, weir stops
/// reading and ends with status 0 and no message.
#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let lines: String = (0..400_000u64)
        .map(|i| format!(r#"{{"timestamp":{},"source":"s","value":1}}"#, i * 10) + "\n")
        .collect();
    let big = fixture("big.jsonl", &lines);
    for args in [
        vec!["run", big.to_str().unwrap()],
        vec!["demo", "--duration", "60s"],
    ] {
        let mut child = spawn(&args);
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
        assert!(!first.is_empty());
        drop(stdout);
        let status = wait_at_most(&mut child, std::time::Duration::from_secs(30));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("summary") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

fn kill(child: &std::process::Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal}");
}

/// Sends `signal` to `child`, waits for it to exit with `code`, and returns what is left to
/// read on `rest` (its stderr or stdout).
fn stop_with(
    child: &mut std::process::Child,
    signal: &str,
    code: i32,
    rest: &mut impl std::io::Read,
) -> String {
    kill(child, signal);
    let status = wait_at_most(child, std::time::Duration::from_secs(30));
    assert_eq!(status.code(), Some(code));
    let mut text = String::new();
    rest.read_to_string(&mut text).unwrap();
    text
}

/// SIGINT and SIGTERM on `weir run`: reading stops, every open window is emitted, the summary
/// printed, and the status says which signal.
#[test]
fn a_signal_flushes_the_open_windows_and_the_summary() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let mut child = spawn(["run", "--lateness", "10s"]);
        let mut stdin = child.stdin.take().unwrap();
        // Three events whose windows stay open (lateness 10 s), then a malformed line: its
        // report on stderr shows the events before it went through.
        std::io::Write::write_all(
            &mut stdin,
            b"{\"timestamp\": 1000, \"source\": \"a\", \"value\": 1}\n\
              {\"timestamp\": 2000, \"source\": \"a\", \"value\": 2}\n\
              {\"timestamp\": 2500, \"source\": \"a\", \"value\": 4}\n\
              oops\n",
        )
        .unwrap();
        std::io::Write::flush(&mut stdin).unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(line.contains("stdin:4"), "{line}");
        let rest = stop_with(&mut child, signal, code, &mut stderr);
        assert!(
            rest.contains("summary: 4 lines read (3 events, 1 malformed, 0 blank); 3 processed"),
            "{rest}"
        );
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        let counts: Vec<&str> = out
            .lines()
            .map(|l| {
                if l.contains("\"event_count\":1") {
                    "1"
                } else {
                    "2"
                }
            })
            .collect();
        assert_eq!(counts, ["1", "2"], "{out}");
        drop(stdin);
    }
}

/// A signal while the event-time merge holds a file's events back for a silent stdin: the
/// events are handed on and windowed, not lost, and the summary counts them.
#[test]
fn a_signal_flushes_what_the_merge_holds() {
    let file = fixture(
        "held.jsonl",
        "{\"timestamp\": 1000, \"source\": \"a\", \"value\": 1}\n\
         {\"timestamp\": 1500, \"source\": \"a\", \"value\": 2}\n\
         {\"timestamp\": 2500, \"source\": \"a\", \"value\": 3}\n\
         oops\n",
    );
    let mut child = spawn(["run", "-", file.to_str().unwrap()]);
    // stdin stays open and silent: its watermark holds the file's events in the merge.
    let stdin = child.stdin.take().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("held.jsonl:4"), "{line}");
    let rest = stop_with(&mut child, "-TERM", 143, &mut stderr);
    assert!(
        rest.contains("summary: 4 lines read (3 events, 1 malformed, 0 blank); 3 processed"),
        "{rest}"
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(spans(&out), [(1000, 2000, 2), (2000, 3000, 1)], "{out}");
    drop(stdin);
}

/// Ctrl-C on the demo: the sources stop, the pipeline drains and the report comes.
#[test]
fn ctrl_c_on_the_demo_prints_the_report() {
    let mut child = spawn(["demo", "--duration", "60s"]);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The header, a blank line, then the first window: the pipeline is running.
    for _ in 0..3 {
        line.clear();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    }
    assert!(line.contains("window"), "{line}");
    let rest = stop_with(&mut child, "-INT", 130, &mut stdout);
    assert!(
        rest.contains("report") && rest.contains("stopped      by a signal"),
        "{rest}"
    );
}

#[test]
fn the_demo_stops_at_its_duration_whatever_the_rate() {
    let out = weir(&[
        "demo",
        "--duration",
        "1s",
        "--rate",
        "100000000",
        "--sensors",
        "1",
    ]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("more than they could keep up"), "{stdout}");
}

#[test]
fn lines_are_numbered_across_the_blocks_every_parser_takes() {
    // About 3 MB: more than ten blocks, handed to the parsers in turn. Malformed lines here
    // and there, side by side, and the last line of the file must be reported with their own
    // numbers, in order, and the windows must count every other event once.
    let bad = [7, 4_000, 4_001, 29_999, 50_000];
    let mut content = String::new();
    let mut per_window = std::collections::BTreeMap::new();
    for i in 1..=50_000u64 {
        if bad.contains(&i) {
            content.push_str(&format!("{{\"timestamp\": {i}, \"source\": \"s\"}}\n"));
        } else {
            content.push_str(&format!(
                "{{\"timestamp\":{i},\"source\":\"sensor-{}\",\"value\":{}.5,\"pad\":\"{}\"}}\n",
                i % 3,
                i % 100,
                "p".repeat(i as usize % 40)
            ));
            *per_window.entry(i / 10_000 * 10_000).or_insert(0) += 1;
        }
    }
    let path = fixture("numbered.jsonl", &content);
    let out = weir(&["run", "--window", "10s", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    let reported: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("malformed:"))
        .collect();
    assert_eq!(reported.len(), bad.len(), "{stderr}");
    for (got, i) in reported.iter().zip(bad) {
        let want = format!("malformed: {}:{i}: missing field `value`", path.display());
        assert!(got.starts_with(&want), "{got} against {want}");
    }
    assert!(
        stderr.contains("50000 lines read (49995 events, 5 malformed, 0 blank); 49995 processed"),
        "{stderr}"
    );
    let expected: Vec<(u64, u64, u64)> = per_window
        .into_iter()
        .map(|(start, n)| (start, start + 10_000, n))
        .collect();
    assert_eq!(spans(&text(&out.stdout)), expected);
}

#[test]
fn values_of_seventeen_digits_are_read_to_the_last_bit() {
    // 54.02 + 40.0 in f64, printed shortest: the window's max must be that value exactly,
    // not its neighbour 94.02.
    let path = fixture(
        "digits.jsonl",
        "{\"timestamp\":1000,\"source\":\"a\",\"value\":94.02000000000001}\n",
    );
    let out = weir(&["run", path.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains(r#""max_value":94.02000000000001"#),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn produce_writes_the_same_events_for_the_same_seed() {
    let args = [
        "produce",
        "--events",
        "1000",
        "--seed",
        "3",
        "--start-ms",
        "5000",
    ];
    let (a, b) = (weir(&args), weir(&args));
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let lines: Vec<String> = text(&a.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1000);
    assert!(lines[0].starts_with(r#"{"timestamp":5000,"source":"sensor-0","value":"#));
    // They run through `weir run` without a malformed line.
    let path = fixture("produced.jsonl", &text(&a.stdout));
    let out = weir(&["run", path.to_str().unwrap(), "--lateness", "500ms"]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1000 lines read (1000 events, 0 malformed, 0 blank); 1000 processed"),
        "{stderr}"
    );
    let other = weir(&[
        "produce",
        "--events",
        "1000",
        "--seed",
        "4",
        "--start-ms",
        "5000",
    ]);
    assert_ne!(a.stdout, other.stdout);
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_commands_say_how_to_get_them() {
    for args in [
        &[
            "run",
            "--from",
            "redis://127.0.0.1:1/events",
            "--consumer",
            "c",
        ][..],
        &["produce", "--to", "redis://127.0.0.1:1/events"],
        &["combine", "--from", "redis://127.0.0.1:1/partials"],
    ] {
        let out = weir(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("--features redis"), "{args:?}");
    }
}
