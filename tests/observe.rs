//! `--metrics`: the exposition equals the summary, the page and its events are served, and bad
//! requests get errors without holding up the server or the run. The binary is run as a
//! user runs it; the requests go over real sockets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::watched::{Watched, assert_outcomes_are_the_summary, run_watched, summary_count};

#[test]
fn the_final_metrics_are_the_summary_s_counts() {
    let (m, ended) = run_watched(&["run", "examples/data/events.jsonl"]);
    // The shipped example, exactly: 8 lines, 1 malformed, 6 processed, 1 late, 3 windows.
    assert_eq!(m.get("weir_lines_read_total"), 8.0);
    assert_eq!(m.outcome("processed"), 6);
    assert_eq!(m.outcome("late"), 1);
    assert_eq!(m.outcome("malformed"), 1);
    assert_eq!(m.get("weir_windows_emitted_total"), 3.0);
    assert_eq!(ended.stdout.lines().count(), 3);
    assert_outcomes_are_the_summary(
        &m,
        &ended.stderr,
        &[
            ("processed", "processed"),
            ("late", "late"),
            ("dropped", "dropped"),
            ("filtered", "filtered"),
            ("too_far_ahead", "too far ahead"),
            ("outside_windows", "outside every window"),
            ("malformed", "malformed"),
        ],
    );
    assert_eq!(
        m.get("weir_lines_read_total") as u64,
        summary_count(&ended.stderr, "lines read")
    );
    // The input's watermark is its latest event time (3 200 ms) less the lateness (0).
    assert_eq!(
        m.get("weir_input_watermark_seconds{input=\"examples/data/events.jsonl\"}"),
        3.2
    );
    // The windows' too: the library's `watermark()`, the same here with one input.
    assert_eq!(m.get("weir_windows_watermark_seconds"), 3.2);
}

#[test]
fn every_drop_is_counted_by_its_policy() {
    let events: String = (0..20_000)
        .map(|i| {
            format!(
                "{{\"timestamp\": {i}, \"source\": \"s\", \"value\": {}}}\n",
                i % 100
            )
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("weir-observe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("drops.jsonl");
    std::fs::write(&path, events).unwrap();
    let (m, ended) = run_watched(&[
        "run",
        path.to_str().unwrap(),
        "--sample",
        "0.5",
        "--min-value",
        "10",
        "--buffer",
        "100000",
    ]);
    let sampled = m.get("weir_dropped_total{policy=\"sample\"}") as u64;
    let buffer = m.get("weir_dropped_total{policy=\"drop_oldest\"}") as u64;
    // Values 0..9 of each hundred are filtered; about half the rest are sampled out.
    assert_eq!(m.outcome("filtered"), 2_000);
    assert!((8_000..10_000).contains(&sampled), "{sampled}");
    assert_eq!(m.outcome("dropped"), sampled + buffer);
    assert_eq!(
        m.outcome("dropped"),
        summary_count(&ended.stderr, "dropped")
    );
    assert_eq!(
        m.outcome("processed") + m.outcome("late") + m.outcome("dropped"),
        18_000
    );
    assert_eq!(m.get("weir_buffer_capacity_events"), 100_000.0);
}

#[test]
fn the_page_and_its_events_are_served_from_weir_alone() {
    let weir = Watched::start(&["demo", "--duration", "30s", "--rate", "200"]);
    let page = weir.get("/");
    assert!(page.contains("<svg") && page.contains("new EventSource(\"/events\")"));
    // Offline: nothing is fetched from elsewhere. The icon is inline; the one URL is the SVG
    // namespace.
    for line in page.lines() {
        assert!(!line.contains("src="), "{line}");
        if line.contains("href=") {
            assert!(line.contains("<link rel=\"icon\" href=\"data:"), "{line}");
        } else if line.contains("http") {
            assert!(line.contains("\"http://www.w3.org/2000/svg\""), "{line}");
        }
    }
    // The events stream: a snapshot as JSON per event, counts that grow.
    let mut events = ureq::get(&weir.url("/events")).call().unwrap();
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut reader = std::io::BufReader::new(events.body_mut().as_reader());
    let mut read = Vec::new();
    while read.len() < 2 || read.last() <= read.first() {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        if let Some(json) = line.strip_prefix("data: ") {
            let snapshot: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(snapshot["command"], "demo");
            read.push(snapshot["read"].as_u64().unwrap());
        }
        assert!(read.len() < 40, "the counts did not grow: {read:?}");
    }
}

/// Sends `request` on a new connection and reads what comes back, until the server closes
/// it or 10 s pass.
fn exchange(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read a huge request to its end.
    let _ = stream.write_all(request);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn bad_requests_get_errors_and_hold_nothing_up() {
    let weir = Watched::start(&["demo", "--duration", "30s", "--rate", "200"]);
    let addr = weir.addr.clone();
    let status = |reply: &str| reply.lines().next().unwrap_or_default().to_owned();
    let unknown = exchange(
        &addr,
        b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&unknown), "HTTP/1.1 404 Not Found");
    let post = exchange(
        &addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&post), "HTTP/1.1 405 Method Not Allowed");
    assert!(post.contains("allow: GET"), "{post}");
    // A head over the 16 KiB accepted (small enough that the whole request is sent before
    // the answer, which a larger one could overtake and reset).
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(20 << 10)
    );
    let huge = exchange(&addr, huge.as_bytes());
    assert_eq!(
        status(&huge),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // Clients that send half a request, or open the events and never read them, hold only
    // their own connections: the metrics are served at once meanwhile.
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut half = TcpStream::connect(&addr).unwrap();
        half.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
        idle.push(half);
        let mut never_reads = TcpStream::connect(&addr).unwrap();
        never_reads
            .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        idle.push(never_reads);
    }
    let start = Instant::now();
    let m = weir.metrics();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(m.get("weir_ended"), 0.0);
    // A request head not finished within the server's 5 s is cut off.
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    half.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = half.read_to_end(&mut rest);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

#[test]
fn metrics_flags_that_make_no_sense_are_refused() {
    let weir = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["run", "examples/data/events.jsonl", "--metrics", "nowhere"][..],
        &[
            "run",
            "examples/data/events.jsonl",
            "--metrics-linger",
            "1s",
        ],
        &["demo", "--metrics", "127.0.0.1:99999"],
    ] {
        let out = weir(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // An address already in use is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = weir(&["run", "examples/data/events.jsonl", "--metrics", &addr]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&addr) && stderr.contains("cannot listen"),
        "{stderr}"
    );
}
