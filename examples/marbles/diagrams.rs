//! Every diagram: a script of items and pauses, the real operator run on it on the paused
//! clock, and what came out, when.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use weir::adapters::TimerStart;
use weir::channel::Delivery;
use weir::channel::error::Lagged;
use weir::prelude::*;

use crate::marble::{Diagram, Lane, Mark, Style, labelled, record, run, script, scripted};

const NOW: Duration = Duration::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Items `a`, `b`, `c`... at `times`.
fn letters(times: &[u64]) -> Vec<(u64, String)> {
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, char::from(b'a' + i as u8).to_string()))
        .collect()
}

/// The labels of `items`.
fn labels(items: &[(u64, String)]) -> Vec<String> {
    items.iter().map(|(_, l)| l.clone()).collect()
}

fn diagram(name: &'static str, operator: &str, note: &str, end: u64, lanes: Vec<Lane>) -> Diagram {
    // Wide enough for every mark (a window may end after the last item).
    let last = lanes
        .iter()
        .flat_map(|l| &l.marks)
        .map(|m| match m {
            Mark::Item { t, .. } | Mark::Tick { t, .. } => *t,
            Mark::Span { to, .. } => *to,
        })
        .max()
        .unwrap_or(0);
    let end = end.max(last + 10);
    Diagram {
        name,
        operator: operator.to_owned(),
        lanes,
        end,
        step: if end > 400 { 10 } else { 5 },
        note: note.to_owned(),
    }
}

/// A one-input, one-output diagram of `op` over `script` (ending at `end`), with a consumer
/// that takes `busy` per item; input items missing from the output are drawn dropped.
/// A scripted input: items at their times, when it ends, how long the consumer takes per
/// item, and whether input items missing from the output are drawn as dropped.
struct Input {
    script: Vec<(u64, String)>,
    end: u64,
    busy: Duration,
    drops: bool,
}

fn one_to_one<S, F>(name: &'static str, operator: &str, note: &str, input: Input, op: F) -> Diagram
where
    S: Stream<Item = String> + Unpin,
    F: FnOnce(weir::sources::Recv<String>) -> S,
{
    let Input {
        script,
        end,
        busy,
        drops,
    } = input;
    let (out, done) = run(async {
        let start = Instant::now();
        record(start, op(scripted(start, script.clone(), end)), busy).await
    });
    let mut input = Lane::items("input", &script, Some(end));
    if drops {
        input = input.drop_unless(&labels(&out));
    }
    let output = Lane::items("output", &out, Some(done));
    diagram(
        name,
        operator,
        note,
        done.max(end) + 20,
        vec![input, output],
    )
}

fn map() -> Diagram {
    let script: Vec<(u64, String)> = [(10, 1), (40, 2), (70, 3)]
        .map(|(t, x)| (t, x.to_string()))
        .to_vec();
    one_to_one(
        "map",
        ".map(|x| x * 10)",
        "each item, transformed, as soon as it arrives",
        Input {
            script,
            end: 100,
            busy: NOW,
            drops: false,
        },
        |s| s.map(|x: String| (x.parse::<u32>().unwrap() * 10).to_string()),
    )
}

fn filter() -> Diagram {
    let script = (1..=5u64).map(|i| (i * 20 - 10, i.to_string())).collect();
    one_to_one(
        "filter",
        ".filter(|x| x % 2 == 1)",
        "the items the predicate accepts; the others are dropped",
        Input {
            script,
            end: 110,
            busy: NOW,
            drops: true,
        },
        |s| s.filter(|x: &String| x.parse::<u32>().unwrap() % 2 == 1),
    )
}

fn filter_map() -> Diagram {
    let script = [(10, "1"), (30, "x"), (50, "3"), (70, "4.5"), (90, "5")]
        .map(|(t, x)| (t, x.to_owned()))
        .to_vec();
    one_to_one(
        "filter_map",
        ".filter_map(|s| s.parse::<u32>().ok())",
        "maps and filters in one step: the lines that do not parse are dropped",
        Input {
            script,
            end: 110,
            busy: NOW,
            drops: true,
        },
        |s| s.filter_map(|x: String| x.parse::<u32>().ok().map(|n| n.to_string())),
    )
}

fn chunks_timeout(name: &'static str, start: TimerStart, note: &str) -> Diagram {
    let (items, end) = script("a@10 b@20 c@30 d@60 e@140 |@160");
    one_to_one(
        name,
        &format!(".chunks_timeout(3, 50ms).timer_start(TimerStart::{start:?})"),
        note,
        Input {
            script: items,
            end,
            busy: NOW,
            drops: false,
        },
        move |s| {
            Box::pin(
                s.chunks_timeout(3, ms(50))
                    .timer_start(start)
                    .map(|b: Vec<String>| format!("[{}]", b.join(","))),
            )
        },
    )
}

fn take() -> Diagram {
    one_to_one(
        "take",
        ".take(2)",
        "the first two items, then the end: the upstream is dropped at once",
        Input {
            script: letters(&[10, 40, 70]),
            end: 100,
            busy: NOW,
            drops: true,
        },
        |s| s.take(2),
    )
}

fn ring_buffer(name: &'static str, overflow: Overflow) -> Diagram {
    let script = letters(&[10, 25, 40, 55, 70, 85, 100, 115]);
    let call = match overflow {
        Overflow::DropOldest => ".drop_oldest(2)",
        _ => ".drop_newest(2)",
    };
    one_to_one(
        name,
        call,
        "a consumer that takes 45 ms per item falls behind; a buffer of 2 keeps the newest (or the oldest) and counts the rest",
        Input {
            script,
            end: 130,
            busy: ms(45),
            drops: true,
        },
        move |s| s.buffer(2, overflow),
    )
}

fn sample_adaptive() -> Diagram {
    let (items, end) =
        script("a@10 b@20 c@30 d@40 e@50 f@60 g@70 h@80 i@90 j@100 k@110 l@120 m@130 n@140 |@150");
    // The load the gauge reads: 0.3 until 50 ms, 0.6 until 100 ms, then 0.9.
    let load = |t: u64| match t {
        0..50 => 0.3,
        50..100 => 0.6,
        _ => 0.9,
    };
    let (out, done) = run(async {
        let start = Instant::now();
        let gauge = move || load(crate::marble::ms_since(start));
        let policy = weir::adapters::Adaptive::seeded(gauge, Default::default(), 7);
        let sampled = scripted(start, items.clone(), end).sample_with(policy);
        record(start, sampled, NOW).await
    });
    let input = Lane::items("input", &items, Some(end)).drop_unless(&labels(&out));
    let mut gauge = Lane::new("load (gauge)");
    for t in [0, 50, 100] {
        gauge.tick(t, load(t));
    }
    diagram(
        "sample_adaptive",
        ".sample_with(Adaptive::seeded(gauge, AdaptiveRates::default(), 7))",
        "all items while the load is under 0.5, half from 0.5, 10% from 0.8 (seeded draws)",
        end + 20,
        vec![input, gauge, Lane::items("output", &out, Some(done))],
    )
}

fn sampler(name: &'static str, call: &str, note: &str, which: u8) -> Diagram {
    let script = letters(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    one_to_one(
        name,
        call,
        note,
        Input {
            script,
            end: 120,
            busy: NOW,
            drops: true,
        },
        move |s| match which {
            0 => s.sample_every(2).boxed(),
            1 => s.sample_seeded(0.5, 7).boxed(),
            _ => s.sample_latest(ms(30)).boxed(),
        },
    )
}

/// Event-time windows over items whose label is their timestamp, arriving at the script's
/// times; `size == slide` for tumbling ones. Late items drawn red, the watermark noted.
fn event_time(
    name: &'static str,
    size: u64,
    slide: u64,
    script: Vec<(u64, u64)>,
    end: u64,
) -> Diagram {
    let bound = 20;
    let late = Arc::new(Mutex::new(Vec::new()));
    let seen = late.clone();
    let (out, done) = run(async {
        let start = Instant::now();
        let timestamps = scripted(start, script.clone(), end);
        let windows = timestamps.sliding_window(size, slide, |ts: &u64| *ts, Count);
        let windows = windows
            .out_of_orderness(bound)
            .on_late(move |ts| seen.lock().unwrap().push(ts));
        record(start, Box::pin(windows), NOW).await
    });
    let late = late.lock().unwrap().clone();
    let mut input = Lane::new("input (event time)");
    let mut watermark = Lane::new("watermark");
    let mut max_ts = None;
    for (t, ts) in &script {
        let style = if late.contains(ts) {
            Style::Late
        } else {
            Style::Plain
        };
        input.item(*t, ts, style);
        let before = max_ts;
        max_ts = Some(max_ts.map_or(*ts, |m: u64| m.max(*ts)));
        if max_ts != before {
            watermark.tick(*t, max_ts.unwrap().saturating_sub(bound));
        }
    }
    input.end = Some(end);
    let mut output = Lane::new("windows");
    for (t, w) in &out {
        output.item(*t, w.count, Style::Plain);
        output.span(w.start, w.end, format!("n={}", w.count));
    }
    output.end = Some(done);
    let note = format!(
        "windows of {size} ms by event time, every {slide} ms; watermark = largest timestamp - {bound} ms; red: late, counted"
    );
    let lanes = vec![input, watermark, output];
    let call = if size == slide {
        format!(".tumbling_window({size}, |e| e.ts, Count).out_of_orderness({bound})")
    } else {
        format!(".sliding_window({size}, {slide}, |e| e.ts, Count).out_of_orderness({bound})")
    };
    diagram(name, &call, &note, done.max(end) + 20, lanes)
}

/// Tumbling windows per key over items labelled `key:timestamp`, arriving at the script's
/// times: one output per key with items in a window, labelled `key:count`.
fn keyed_window() -> Diagram {
    let script: Vec<(u64, (char, u64))> = vec![
        (10, ('a', 5)),
        (40, ('b', 20)),
        (70, ('a', 35)),
        (100, ('b', 55)),
        (130, ('a', 85)),
        (160, ('a', 30)),
        (190, ('b', 120)),
    ];
    let end = 220;
    let late = Arc::new(Mutex::new(Vec::new()));
    let seen = late.clone();
    let (out, done) = run(async {
        let start = Instant::now();
        let items = scripted(start, script.clone(), end);
        let windows = items
            .key_by(|i: &(char, u64)| i.0)
            .tumbling_window(50, |i: &(char, u64)| i.1, Count)
            .out_of_orderness(10)
            .on_late(move |i| seen.lock().unwrap().push(i));
        record(start, Box::pin(windows), NOW).await
    });
    let late = late.lock().unwrap().clone();
    let mut input = Lane::new("input (key:time)");
    for (t, item) in &script {
        let (key, ts) = item;
        let style = if late.contains(item) {
            Style::Late
        } else {
            Style::Plain
        };
        input.item(*t, format!("{key}:{ts}"), style);
    }
    input.end = Some(end);
    let mut output = Lane::new("windows");
    let mut spans = Vec::new();
    for (t, (key, w)) in &out {
        output.item(*t, format!("{key}:{}", w.count), Style::Plain);
        if !spans.contains(&w.start) {
            spans.push(w.start);
            output.span(w.start, w.end, format!("[{},{})", w.start, w.end));
        }
    }
    output.end = Some(done);
    diagram(
        "keyed_window",
        ".key_by(|e| e.key).tumbling_window(50, |e| e.ts, Count).out_of_orderness(10)",
        "one window per key with items; the watermark (largest timestamp - 10) is shared by all keys; red: late",
        done.max(end) + 20,
        vec![input, output],
    )
}

fn processing_window() -> Diagram {
    let script = letters(&[10, 30, 40, 120, 130, 260]);
    let (out, done) = run(async {
        let start = Instant::now();
        let windows = scripted(start, script.clone(), 280).processing_window(ms(100), Count);
        record(start, Box::pin(windows), NOW).await
    });
    let mut output = Lane::new("output");
    for (t, w) in &out {
        output.item(*t, w.count, Style::Plain);
        // The window's bounds are on the runtime's clock: drawn as the 100 ms before its
        // emission.
        output.span(t.saturating_sub(100), *t, format!("n={}", w.count));
    }
    output.end = Some(done);
    diagram(
        "processing_window",
        ".processing_window(100ms, Count)",
        "windows by arrival time, emitted when each closes on the clock",
        done.max(280) + 20,
        vec![Lane::items("input", &script, Some(280)), output],
    )
}

fn count_window() -> Diagram {
    let script: Vec<(u64, u64)> = (1..=7).map(|i| (i * 15, i)).collect();
    let (out, done) = run(async {
        let start = Instant::now();
        let windows = scripted(start, script.clone(), 120).count_window(3, 2, Count);
        record(start, Box::pin(windows), NOW).await
    });
    let out = labelled(&out, |w| format!("{}..{}", w.start, w.end));
    diagram(
        "count_window",
        ".count_window(3, 2, Count)",
        "windows of 3 items, one every 2 items, labelled by the item positions they hold (the first one partial)",
        done.max(120) + 20,
        vec![
            Lane::items("input", &script, Some(120)),
            Lane::items("output", &out, Some(done)),
        ],
    )
}

fn merge_three() -> Diagram {
    let scripts = [
        letters(&[10, 50, 90]),
        vec![
            (20, "1".to_owned()),
            (30, "2".to_owned()),
            (100, "3".to_owned()),
        ],
        vec![(60, "x".to_owned()), (70, "y".to_owned())],
    ];
    let (out, done) = run(async {
        let start = Instant::now();
        let sources: Vec<_> = scripts
            .iter()
            .map(|s| scripted(start, s.clone(), 120))
            .collect();
        record(start, weir::merge::merge(sources), NOW).await
    });
    let source_of = |label: &str| {
        scripts
            .iter()
            .position(|s| s.iter().any(|(_, l)| l == label))
            .expect("every output item came from a source") as u8
    };
    let mut lanes: Vec<Lane> = scripts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut lane = Lane::new(&format!("source {}", i + 1));
            for (t, l) in s {
                lane.item(*t, l, Style::Source(i as u8));
            }
            lane.end = Some(120);
            lane
        })
        .collect();
    let mut output = Lane::new("merged");
    for (t, l) in &out {
        output.item(*t, l, Style::Source(source_of(l)));
    }
    output.end = Some(done);
    lanes.push(output);
    diagram(
        "merge",
        "merge([source_1, source_2, source_3])",
        "every item of every source, as it arrives; ends when all have ended",
        140,
        lanes,
    )
}

fn merge_added() -> Diagram {
    let first = letters(&[10, 40, 70, 100]);
    let later = vec![(60, "1".to_owned()), (80, "2".to_owned())];
    let (out, done) = run(async {
        let start = Instant::now();
        let merged = weir::merge::merge([scripted(start, first.clone(), 120)]);
        let handle = merged.handle();
        let late = later.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(50)).await;
            handle.push(scripted(start, late, 120));
        });
        record(start, merged, NOW).await
    });
    let mut a = Lane::new("source 1");
    for (t, l) in &first {
        a.item(*t, l, Style::Source(0));
    }
    a.end = Some(120);
    let mut b = Lane::new("pushed at 50");
    b.tick(50, "push");
    for (t, l) in &later {
        b.item(*t, l, Style::Source(1));
    }
    b.end = Some(120);
    let mut output = Lane::new("merged");
    for (t, l) in &out {
        let style = Style::Source(u8::from(later.iter().any(|(_, x)| x == l)));
        output.item(*t, l, style);
    }
    output.end = Some(done);
    diagram(
        "merge_added",
        "merged.handle().push(source_2) at 50 ms",
        "a source added while the merge runs joins its next round",
        140,
        vec![a, b, output],
    )
}

fn broadcast() -> Diagram {
    let script = letters(&[10, 20, 30, 40, 50, 60]);
    let ((critical, c_done), lagging, l_done) = run(async {
        let start = Instant::now();
        let (driver, mut subs) = scripted(start, script.clone(), 80)
            .fan_out_with([Delivery::Critical, Delivery::Lagging], 2);
        let lagging = subs.pop().expect("two").with_lag();
        let critical = subs.pop().expect("two");
        let slow = tokio::spawn(async move { record(start, lagging, ms(35)).await });
        let critical = record(start, critical, ms(15)).await;
        let (lagging, l_done) = slow.await.unwrap();
        driver.await.unwrap();
        (critical, lagging, l_done)
    });
    let mut lag_lane = Lane::new("lagging (35 ms/item)");
    for (t, item) in &lagging {
        match item {
            Ok(l) => {
                lag_lane.item(*t, l, Style::Plain);
            }
            Err(Lagged(n)) => {
                lag_lane.tick(*t, format!("lagged {n}"));
            }
        }
    }
    lag_lane.end = Some(l_done);
    diagram(
        "broadcast",
        ".fan_out_with([Delivery::Critical, Delivery::Lagging], 2)",
        "a ring of 2: the critical subscriber gets every item; the slow lagging one skips what was overwritten",
        l_done.max(c_done) + 20,
        vec![
            Lane::items("published", &script, Some(80)),
            Lane::items("critical (15 ms/item)", &critical, Some(c_done)),
            lag_lane,
        ],
    )
}

fn ring_channel(name: &'static str, overflow: Overflow) -> Diagram {
    let script = letters(&[10, 20, 30, 40, 50, 60]);
    let (sent, (out, done)) = run(async {
        let start = Instant::now();
        let (tx, rx) = weir::channel::ring_channel(2, overflow);
        let items = script.clone();
        let sender = tokio::spawn(async move {
            let mut sent = Vec::new();
            for (t, item) in items {
                tokio::time::sleep_until(start + ms(t)).await;
                let _ = tx.send(item.clone()).await;
                sent.push((crate::marble::ms_since(start), item));
            }
            sent
        });
        let out = record(start, rx, ms(30)).await;
        (sender.await.unwrap(), out)
    });
    let label = format!("send ({overflow:?})");
    let last_send = sent.last().map(|(t, _)| *t);
    let input = Lane::items(&label, &sent, last_send).drop_unless(&labels(&out));
    diagram(
        name,
        &format!("ring_channel(2, Overflow::{overflow:?})"),
        match overflow {
            Overflow::Block => "the sender waits for room: nothing is lost, the sends come later",
            Overflow::DropOldest => "a send never waits: the oldest buffered item makes room",
            Overflow::DropNewest => "a send never waits: the new item is refused when full",
        },
        done + 20,
        vec![input, Lane::items("receive (30 ms/item)", &out, Some(done))],
    )
}

fn merge_event_time() -> Diagram {
    let fast: Vec<(u64, u64)> = vec![(10, 10), (20, 20), (30, 30), (40, 40), (50, 50)];
    let slow: Vec<(u64, u64)> = vec![(35, 15), (70, 45)];
    let (out, done) = run(async {
        let start = Instant::now();
        let merged = weir::merge::merge_event_time(
            [
                scripted(start, fast.clone(), 90),
                scripted(start, slow.clone(), 90),
            ],
            |ts: &u64| *ts,
        );
        record(start, merged, NOW).await
    });
    let lane = |name: &str, items: &[(u64, u64)], n: u8| {
        let mut lane = Lane::new(name);
        for (t, ts) in items {
            lane.item(*t, ts, Style::Source(n));
        }
        lane.end = Some(90);
        lane
    };
    // The merge's watermark: the smallest of the sources' latest timestamps, once each has
    // shown one.
    let mut watermark = Lane::new("watermark");
    let (mut latest_fast, mut latest_slow, mut shown) = (None, None, None);
    let mut arrivals: Vec<(u64, bool, u64)> = fast.iter().map(|&(t, ts)| (t, true, ts)).collect();
    arrivals.extend(slow.iter().map(|&(t, ts)| (t, false, ts)));
    arrivals.sort_unstable();
    for (t, is_fast, ts) in arrivals {
        if is_fast {
            latest_fast = Some(ts);
        } else {
            latest_slow = Some(ts);
        }
        if let (Some(a), Some(b)) = (latest_fast, latest_slow) {
            let now = a.min(b);
            if shown != Some(now) {
                watermark.tick(t, now);
                shown = Some(now);
            }
        }
    }
    let mut output = Lane::new("merged by event time");
    for (t, ts) in &out {
        let n = u8::from(slow.iter().any(|(_, x)| x == ts));
        output.item(*t, ts, Style::Source(n));
    }
    output.end = Some(done);
    diagram(
        "merge_event_time",
        "merge_event_time([fast, slow], |e| e.ts)",
        "an item goes out once every live source has shown one at least as late: the slow source holds the others back",
        110,
        vec![
            lane("fast", &fast, 0),
            lane("slow", &slow, 1),
            watermark,
            output,
        ],
    )
}

/// Every diagram, in the order the docs show them.
pub fn all() -> Vec<Diagram> {
    vec![
        map(),
        filter(),
        filter_map(),
        take(),
        chunks_timeout(
            "chunks_timeout",
            TimerStart::FirstItem,
            "a batch goes out when full, or 50 ms after its first item",
        ),
        chunks_timeout(
            "chunks_timeout_last_emit",
            TimerStart::LastEmit,
            "the timer runs from the previous emission (Akka's groupedWithin)",
        ),
        ring_buffer("drop_oldest", Overflow::DropOldest),
        ring_buffer("drop_newest", Overflow::DropNewest),
        sampler("sample_every", ".sample_every(2)", "every second item", 0),
        sampler(
            "sample",
            ".sample_seeded(0.5, 7)",
            "each item kept with probability 1/2 (seeded: the same every run)",
            1,
        ),
        sampler(
            "sample_latest",
            ".sample_latest(30ms)",
            "the newest item of each 30 ms interval",
            2,
        ),
        sample_adaptive(),
        event_time(
            "tumbling_window",
            50,
            50,
            vec![
                (10, 5),
                (30, 25),
                (45, 48),
                (60, 55),
                (80, 95),
                (100, 30),
                (120, 130),
            ],
            150,
        ),
        event_time(
            "sliding_window",
            100,
            50,
            vec![
                (10, 10),
                (40, 40),
                (70, 70),
                (100, 100),
                (130, 130),
                (145, 20),
                (160, 160),
            ],
            190,
        ),
        keyed_window(),
        processing_window(),
        count_window(),
        merge_three(),
        merge_added(),
        merge_event_time(),
        broadcast(),
        ring_channel("ring_channel_block", Overflow::Block),
        ring_channel("ring_channel_drop_oldest", Overflow::DropOldest),
        ring_channel("ring_channel_drop_newest", Overflow::DropNewest),
    ]
}
