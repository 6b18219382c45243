//! `--metrics` against the real things a user points at it: a Prometheus server that scrapes
//! a run, `promtool` that checks the exposition, and a headless Chromium (driven through
//! chromedriver's WebDriver API) that watches the live page of `weir demo`. Only with
//! `--features e2e`; `.ci/run` installs the Debian packages prometheus, chromium and
//! chromium-driver. Each test starts the servers it needs on free loopback ports.
//!
//! These tests take real time: they wait on the servers (polling them), never on a guess.

#![cfg(feature = "e2e")]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use common::watched::{Watched, free_port, get, summary_count};

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This test's directory of files, fresh.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `ready` every 50 ms until it holds, `limit` at most.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Prometheus server scraping `target` every 100 ms, keeping its data in `dir`; and its
/// address.
fn prometheus(dir: &Path, target: &str) -> (Killed, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\nscrape_configs:\n  - \
             job_name: weir\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("prometheus on the PATH (Debian package prometheus)");
    let prometheus = Killed(child);
    let ready = format!("http://{addr}/-/ready");
    wait_until(Duration::from_secs(60), "prometheus ready", || {
        ureq::get(&ready).call().is_ok()
    });
    (prometheus, addr)
}

/// The value of the PromQL `query` now: a number, or `None` when it selects nothing.
fn promql(prometheus: &str, query: &str) -> Option<f64> {
    let url = format!(
        "http://{prometheus}/api/v1/query?query={}",
        query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    );
    let answer: Value = serde_json::from_str(&get(&url)).unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
    let result = answer["data"]["result"].as_array()?.first()?.clone();
    result["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_a_run_and_ends_with_the_summary_s_counts() {
    let dir = scratch("e2e-prometheus");
    // Events enough for the run to be scraped while it goes (about a second here).
    let events = dir.join("events.jsonl");
    let produced = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["produce", "--events", "10000000", "--start-ms", "0"])
        .stdout(std::fs::File::create(&events).unwrap())
        .status()
        .unwrap();
    assert!(produced.success());
    let weir_addr = format!("127.0.0.1:{}", free_port());
    let (_prometheus, prom) = prometheus(&dir, &weir_addr);
    let weir = Watched::start_at(
        &[
            "run",
            events.to_str().unwrap(),
            "--lateness",
            "200ms",
            "--sample",
            "0.9",
            "--metrics-linger",
            "30s",
        ],
        &weir_addr,
    );
    // promtool accepts the exposition as served while the run goes.
    let exposition = weir.get("/metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool on the PATH (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool: {}{}\n{exposition}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // weir serves its final counts until a scrape has read them, then ends.
    let ended = weir.wait(Duration::from_secs(120));
    assert!(ended.status.success(), "{}", ended.stderr);
    let processed = summary_count(&ended.stderr, "processed");
    let dropped = summary_count(&ended.stderr, "dropped");
    assert!(
        processed > 8_000_000 && dropped > 500_000,
        "{}",
        ended.stderr
    );
    // Prometheus holds the final counts (the largest sample of a counter is its last)...
    let last = |outcome: &str| {
        let q = format!("max_over_time(weir_events_total{{outcome=\"{outcome}\"}}[10m])");
        promql(&prom, &q).unwrap_or_else(|| panic!("no {q}")) as u64
    };
    wait_until(Duration::from_secs(10), "the final scrape stored", || {
        last("processed") == processed
    });
    assert_eq!(last("dropped"), dropped);
    assert_eq!(last("late"), summary_count(&ended.stderr, "late"));
    assert_eq!(
        promql(&prom, "max_over_time(weir_lines_read_total[10m])"),
        Some(10_000_000.0)
    );
    // ...and saw the run while it went: a sample below the final count.
    let first = promql(
        &prom,
        "min_over_time(weir_events_total{outcome=\"processed\"}[10m])",
    )
    .unwrap();
    assert!(first < processed as f64, "{first} {processed}");
}

/// A chromedriver session of a headless Chromium: `POST`s and `GET`s of the WebDriver API.
struct Browser {
    url: String,
    _driver: Killed,
}

impl Browser {
    fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Killed(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver on the PATH (Debian package chromium-driver)"),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_until(Duration::from_secs(30), "chromedriver ready", || {
            ureq::get(&format!("{base}/status")).call().is_ok()
        });
        // The viewport is set by Chromium's device emulation: a desktop window is never
        // narrower than 500 px.
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,1200"],
                "mobileEmulation": {"deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 1.0,
                }},
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let session = post(&format!("{base}/session"), &capabilities);
        let id = session["value"]["sessionId"].as_str().unwrap().to_owned();
        Browser {
            url: format!("{base}/session/{id}"),
            _driver: driver,
        }
    }

    fn open(&self, url: &str) {
        post(&format!("{}/url", self.url), &json!({ "url": url }));
    }

    /// The value of `script`'s `return`.
    fn run(&self, script: &str) -> Value {
        let answer = post(
            &format!("{}/execute/sync", self.url),
            &json!({"script": script, "args": []}),
        );
        answer["value"].clone()
    }

    /// The browser's console messages so far.
    fn console(&self) -> Vec<Value> {
        let answer = post(&format!("{}/se/log", self.url), &json!({"type": "browser"}));
        answer["value"].as_array().cloned().unwrap_or_default()
    }

    /// A PNG of the page as shown, saved at `path`.
    fn screenshot(&self, path: &Path) {
        let answer: Value =
            serde_json::from_str(&get(&format!("{}/screenshot", self.url))).unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(answer["value"].as_str().unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.url).call();
    }
}

fn post(url: &str, body: &Value) -> Value {
    let mut reply = ureq::post(url)
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap()
}

/// What the page shows: processed events (as a number), windows drawn, and whether the page
/// is wider than the window.
fn shown(browser: &Browser) -> (u64, u64, bool) {
    let v = browser.run(
        "const n = (id) => Number(document.getElementById(id).textContent.replace(/,/g, '')) || 0;
         const points = document.querySelector('#count path');
         const segments = points ? (points.getAttribute('d').match(/[ML]/g) || []).length : 0;
         return [n('processed'), segments,
                 document.documentElement.scrollWidth > window.innerWidth];",
    );
    (
        v[0].as_u64().unwrap(),
        v[1].as_u64().unwrap(),
        v[2].as_bool().unwrap(),
    )
}

/// Opens the page of a running demo in a window `width` wide: the counters rise and the chart
/// gains points within seconds, nothing spills sideways, the console stays clean; saves a
/// screenshot.
fn watch_the_demo(width: u32, height: u32, screenshot: &str) {
    let dir = scratch(&format!("e2e-page-{width}"));
    let weir = Watched::start(&["demo", "--duration", "60s", "--rate", "500"]);
    let browser = Browser::start(width, height);
    browser.open(&weir.url("/"));
    assert_eq!(browser.run("return window.innerWidth;"), json!(width));
    let mut first = None;
    wait_until(Duration::from_secs(20), "the page counts events", || {
        let (processed, points, _) = shown(&browser);
        first = Some((processed, points));
        processed > 0
    });
    let (processed, points) = first.unwrap();
    wait_until(Duration::from_secs(20), "counters and chart grow", || {
        let (now, now_points, _) = shown(&browser);
        now > processed && now_points > points.max(1)
    });
    let (_, _, spills) = shown(&browser);
    assert!(!spills, "the page is wider than a {width} px window");
    let path = dir.join(screenshot);
    browser.screenshot(&path);
    let problems: Vec<_> = browser
        .console()
        .into_iter()
        .filter(|m| m["level"] == "SEVERE" || m["level"] == "WARNING")
        .collect();
    assert!(problems.is_empty(), "console: {problems:?}");
    println!("screenshot: {}", path.display());
}

#[test]
fn chromium_watches_the_demo_live() {
    watch_the_demo(1000, 1100, "dashboard.png");
}

#[test]
fn the_page_fits_a_phone_sized_window() {
    watch_the_demo(390, 844, "dashboard-390.png");
}
