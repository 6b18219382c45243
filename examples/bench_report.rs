//! Writes `docs/BENCHMARKS.md` from criterion's results.
//!
//! `cargo bench` first, then `cargo run --release --example bench_report [OUT]`. Reads every
//! `target/criterion/**/new/benchmark.json` with its `estimates.json` (median time per
//! iteration), turns each into items per second with the benchmark's `Throughput::Elements`,
//! and writes one table per benchmark group: each implementation, its throughput, and a ratio
//! measured in the same run (weir's throughput over a peer's, or, in the groups that compare
//! weir's operators with each other, an operator's over the one it is measured against, from
//! [`COMPARED`]). Above each table, a bar chart of the group (`docs/bench_charts/GROUP.svg`,
//! the ratios written on the bars). Also records the machine and the date. A section headed
//! `## Notes` in the existing report (measurements made outside criterion, written by hand) is
//! kept, after the tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use svg::Document;
use svg::node::element::{Rectangle, Text};

/// In the groups where every implementation is weir's, what each one is measured against:
/// `(group, implementation, against)`, a row per comparison.
const COMPARED: &[(&str, &str, &str)] = &[
    ("adapters", "drop_oldest_1024", "filter_all"),
    ("adapters", "sample_latest_1ms", "filter_all"),
    ("adapters", "sample_every_2", "filter_half"),
    ("adapters", "sample_every_2", "filter_half_opaque"),
    ("adapters", "sample_seeded_0.5", "filter_half"),
    ("adapters", "sample_seeded_0.5", "filter_half_opaque"),
    ("adapters", "sample_seeded_0.5", "filter_random_half"),
    ("adapters", "sample_adaptive_at_0.6", "filter_half"),
    ("adapters", "sample_seeded_0.01", "filter_1_in_100"),
    ("channel", "weir_ring_block_count", "weir_ring_block"),
    (
        "channel",
        "weir_ring_block_recv_many",
        "tokio_mpsc_recv_many",
    ),
    ("keeps_up", "drop_oldest_1024", "filter_all"),
    ("pipeline", "event", "compact"),
    ("pipeline", "event", "event_empty_source"),
    ("pipeline", "event", "event_sources_only"),
    ("tumbling", "weir_tumbling_stats", "weir_map_filter"),
    ("tumbling", "weir_tumbling_stats", "hand_written_loop"),
    ("tumbling_merged", "4_sources_interleaved", "one_source"),
    ("tumbling_merged", "4_sources_ranges", "one_source"),
];

struct Result {
    case: String,
    implementation: String,
    per_second: f64,
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found);
        } else if path.ends_with("new/benchmark.json") {
            found.push(path);
        }
    }
}

fn read(path: &Path) -> Option<(String, Result)> {
    let bench: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let estimates: Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_file_name("estimates.json")).ok()?)
            .ok()?;
    let elements = bench["throughput"]["Elements"].as_f64()?;
    let nanos = estimates["median"]["point_estimate"].as_f64()?;
    let function = bench["function_id"].as_str()?;
    let (case, implementation) = match bench["value_str"].as_str() {
        Some(value) => (value.to_owned(), function.to_owned()),
        None => match function.rsplit_once('/') {
            Some((case, implementation)) => (case.to_owned(), implementation.to_owned()),
            None => (String::new(), function.to_owned()),
        },
    };
    let result = Result {
        case,
        implementation,
        per_second: elements / (nanos * 1e-9),
    };
    Some((bench["group_id"].as_str()?.to_owned(), result))
}

/// The ratio shown next to `r`: weir's throughput over a peer's in the same case, or `r`'s
/// over what [`COMPARED`] names; empty for weir's own rows and for the rows [`COMPARED`]
/// compares against (their ratio is on the row compared with them).
fn ratio(group: &str, r: &Result, all: &[Result]) -> String {
    let against: Vec<String> = COMPARED
        .iter()
        .filter(|(g, i, _)| *g == group && *i == r.implementation)
        .filter_map(|&(_, _, against)| {
            let base = all
                .iter()
                .find(|b| b.case == r.case && b.implementation == against)?;
            Some(format!(
                "{:.2}x of {against}",
                r.per_second / base.per_second
            ))
        })
        .collect();
    if !against.is_empty() {
        return against.join(", ");
    }
    let compared_against = COMPARED
        .iter()
        .any(|(g, _, against)| *g == group && *against == r.implementation);
    if r.implementation.starts_with("weir") || compared_against {
        return String::new();
    }
    all.iter()
        .find(|w| w.case == r.case && w.implementation.starts_with("weir"))
        .map_or_else(String::new, |w| {
            format!("weir {:.2}x", w.per_second / r.per_second)
        })
}

/// A horizontal bar chart of one group: a bar per implementation (weir's blue, the others
/// grey), grouped by case, its length the throughput (on a log scale when the group spans
/// more than 30x), the throughput and ratio written after it.
fn chart(group: &str, results: &[Result], ratios: &[String]) -> String {
    const LEFT: f64 = 250.0;
    const BAR: f64 = 420.0;
    const ROW: f64 = 26.0;
    let max = results.iter().map(|r| r.per_second).fold(0.0, f64::max);
    let min = results
        .iter()
        .map(|r| r.per_second)
        .fold(f64::INFINITY, f64::min);
    let log = max / min > 30.0;
    let length = |v: f64| {
        if log {
            // From a tenth of the smallest to the largest.
            let (lo, hi) = ((min / 10.0).log10(), max.log10());
            BAR * (v.log10() - lo) / (hi - lo)
        } else {
            BAR * v / max
        }
    };
    let height = 50.0 + ROW * results.len() as f64 + 20.0;
    let width = LEFT + BAR + 260.0;
    let title = if log {
        format!("{group} (items per second, log scale)")
    } else {
        format!("{group} (items per second)")
    };
    let mut doc = Document::new()
        .set("viewBox", (0, 0, width, height.round()))
        .set("width", width)
        .set("height", height.round())
        .set("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif")
        .set("font-size", 12)
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(
            Text::new(title)
                .set("x", 10)
                .set("y", 22)
                .set("font-size", 14)
                .set("font-weight", "bold"),
        );
    let mut y = 44.0;
    for (r, ratio) in results.iter().zip(ratios) {
        let name = if r.case.is_empty() {
            r.implementation.clone()
        } else {
            format!("{} · {}", r.case, r.implementation)
        };
        let fill = if r.implementation.starts_with("weir")
            || COMPARED
                .iter()
                .any(|(g, i, _)| *g == group && *i == r.implementation)
        {
            "#4e79a7"
        } else {
            "#a0a0a0"
        };
        let w = length(r.per_second).max(1.0);
        let label = if ratio.is_empty() {
            rate(r.per_second)
        } else {
            format!("{} · {ratio}", rate(r.per_second))
        };
        doc = doc
            .add(
                Text::new(name)
                    .set("x", LEFT - 8.0)
                    .set("y", y + 14.0)
                    .set("text-anchor", "end"),
            )
            .add(
                Rectangle::new()
                    .set("x", LEFT)
                    .set("y", y + 2.0)
                    .set("width", w)
                    .set("height", ROW - 8.0)
                    .set("fill", fill),
            )
            .add(
                Text::new(label)
                    .set("x", LEFT + w + 6.0)
                    .set("y", y + 14.0)
                    .set("fill", "#333"),
            );
        y += ROW;
    }
    format!("{doc}\n")
}

fn rate(per_second: f64) -> String {
    if per_second >= 1e9 {
        format!("{:.2} G/s", per_second / 1e9)
    } else if per_second >= 1e6 {
        format!("{:.1} M/s", per_second / 1e6)
    } else if per_second >= 1e4 {
        format!("{:.0} k/s", per_second / 1e3)
    } else if per_second >= 1e3 {
        format!("{:.2} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.1} /s")
    }
}

/// Today's date, from the system clock (UTC).
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("docs/BENCHMARKS.md"), PathBuf::from);
    let mut files = Vec::new();
    walk(Path::new("target/criterion"), &mut files);
    let mut groups: BTreeMap<String, Vec<Result>> = BTreeMap::new();
    for file in &files {
        if let Some((group, result)) = read(file) {
            groups.entry(group).or_default().push(result);
        }
    }
    if groups.is_empty() {
        eprintln!("no criterion results under target/criterion: run `cargo bench` first");
        std::process::exit(1);
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release --example bench_report` from the results of \
         `cargo bench` on {}, on {} ({cores} cores). Throughput is items per second from \
         criterion's median. A ratio reads `weir 2.00x` (weir's throughput over this \
         implementation's) or, where weir's operators are measured against each other, \
         `0.50x of filter_half` (this one's throughput over that one's); each is **measured \
         in the same run, on the same source**. Absolute figures drift between runs on a \
         shared machine; ratios much less. What each benchmark measures, and why the ratios \
         are what they are: `docs/operators/*.md` and the doc comment at the top of each file \
         in `benches/`.\n",
        today(),
        cpu_model()
    );
    let charts = out.parent().unwrap_or(Path::new(".")).join("bench_charts");
    std::fs::create_dir_all(&charts).expect("creating docs/bench_charts");
    for (group, mut results) in groups {
        results.sort_by(|a, b| (&a.case, &a.implementation).cmp(&(&b.case, &b.implementation)));
        let ratios: Vec<String> = results.iter().map(|r| ratio(&group, r, &results)).collect();
        std::fs::write(
            charts.join(format!("{group}.svg")),
            chart(&group, &results, &ratios),
        )
        .expect("writing a chart");
        let _ = writeln!(md, "## {group}\n");
        let _ = writeln!(md, "![{group}](bench_charts/{group}.svg)\n");
        let cases = results.iter().any(|r| !r.case.is_empty());
        if cases {
            let _ = writeln!(md, "| case | implementation | throughput | ratio |");
            let _ = writeln!(md, "|---|---|---|---|");
        } else {
            let _ = writeln!(md, "| implementation | throughput | ratio |");
            let _ = writeln!(md, "|---|---|---|");
        }
        for (r, ratio) in results.iter().zip(&ratios) {
            let case = if cases {
                format!("| {} ", r.case)
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "{case}| {} | {} | {ratio} |",
                r.implementation,
                rate(r.per_second)
            );
        }
        md.push('\n');
    }
    // Keep the hand-written notes of the previous report.
    if let Ok(previous) = std::fs::read_to_string(&out) {
        if let Some(at) = previous.find("\n## Notes\n") {
            md.push_str(&previous[at + 1..]);
        }
    }
    std::fs::write(&out, md).expect("writing the report");
    println!("wrote {} ({} benchmarks)", out.display(), files.len());
}
