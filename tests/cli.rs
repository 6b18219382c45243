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
        stderr
            .contains("summary: 8 lines read, 7 events processed, 1 malformed, 1 late, 0 dropped"),
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
        stderr.contains("4 lines read, 2 events processed, 2 malformed"),
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
    assert!(text(&out.stderr).contains("4 events processed, 0 malformed, 0 late"));
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
    assert!(stdout.contains("backpressure Received: 10000"), "{stdout}");
}
