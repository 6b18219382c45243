//! A `weir` command started with `--metrics 127.0.0.1:0`, as a child process: the address it
//! serves on (read from its stderr), what it writes, and the metrics read over HTTP. Shared
//! by `tests/observe.rs` and `tests/e2e.rs`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running `weir` with `--metrics`.
pub struct Watched {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stderr: Option<JoinHandle<String>>,
    stdout: Option<JoinHandle<String>>,
}

/// What a watched command wrote once it ended.
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Watched {
    /// Starts `weir ARGS --metrics 127.0.0.1:0` and waits for the address it serves.
    pub fn start(args: &[&str]) -> Watched {
        Watched::start_at(args, "127.0.0.1:0")
    }

    /// Starts `weir ARGS --metrics ADDR` and waits for the address it serves.
    pub fn start_at(args: &[&str], addr: &str) -> Watched {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["--metrics", addr])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting weir");
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            out.read_to_string(&mut text).unwrap();
            text
        });
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(err).lines() {
                let line = line.unwrap();
                if let Some(at) = line.find("metrics at http://") {
                    let rest = &line[at + "metrics at http://".len()..];
                    let _ = tx.send(rest.split('/').next().unwrap().to_owned());
                }
                text += &line;
                text.push('\n');
            }
            text
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("weir reports the address it serves");
        Watched {
            child,
            addr,
            stderr: Some(stderr),
            stdout: Some(stdout),
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The body of `GET path`.
    pub fn get(&self, path: &str) -> String {
        get(&self.url(path))
    }

    /// The metrics served now.
    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics"))
    }

    /// Waits until the metrics say the command ended (it needs `--metrics-linger`): the last
    /// exposition.
    pub fn final_metrics(&self) -> Metrics {
        let start = Instant::now();
        loop {
            let metrics = self.metrics();
            if metrics.get("weir_ended") == 1.0 {
                return metrics;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the command to end (`limit` at most, then kills it and fails).
    pub fn wait(mut self, limit: Duration) -> Ended {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("weir did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ended {
            status,
            stdout: self.stdout.take().unwrap().join().unwrap(),
            stderr: self.stderr.take().unwrap().join().unwrap(),
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `weir ARGS --metrics 127.0.0.1:0 --metrics-linger 60s` to its end, which must be a
/// success: its last exposition (read once it ended), and what it wrote.
pub fn run_watched(args: &[&str]) -> (Metrics, Ended) {
    let weir = Watched::start(&[args, &["--metrics-linger", "60s"]].concat());
    let metrics = weir.final_metrics();
    let ended = weir.wait(Duration::from_secs(60));
    assert!(ended.status.success(), "{}", ended.stderr);
    (metrics, ended)
}

/// Checks each `weir_events_total{outcome="OUTCOME"}` against the summary's `N WORDS`.
pub fn assert_outcomes_are_the_summary(metrics: &Metrics, stderr: &str, pairs: &[(&str, &str)]) {
    for &(outcome, words) in pairs {
        let summary = summary_count(stderr, words);
        assert_eq!(metrics.outcome(outcome), summary, "{outcome}: {stderr}");
    }
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The body of `GET url` (a status other than 200 fails).
pub fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// A metrics exposition: every sample by its name and labels as written
/// (`weir_events_total{outcome="processed"}`).
#[derive(Debug)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').expect("NAME VALUE");
                (name.to_owned(), value.parse().expect("a number"))
            })
            .collect();
        Metrics(samples)
    }

    /// The sample `name`, or a failure naming what there is.
    pub fn get(&self, name: &str) -> f64 {
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:#?}", self.0))
    }

    /// `weir_events_total{outcome="..."}`.
    pub fn outcome(&self, outcome: &str) -> u64 {
        self.get(&format!("weir_events_total{{outcome=\"{outcome}\"}}")) as u64
    }
}

/// The count of `what` in a summary line (`6 processed` -> 6).
pub fn summary_count(stderr: &str, what: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let at = line
        .find(&format!(" {what}"))
        .unwrap_or_else(|| panic!("no {what} in {line}"));
    let number = line[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap();
    number.parse().unwrap()
}
