//! Marble diagrams recorded from real runs: the model (a diagram is lanes of marks on one
//! time axis), the recorder (a scripted source and a consumer on tokio's paused clock), and the
//! two renderings (ASCII for rustdoc, SVG for the docs).

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use svg::Document;
use svg::node::element::{Circle, Line, Rectangle as Rect, Text};
use tokio::time::Instant;
use weir::prelude::*;

/// One diagram: lanes over a time axis from 0 to `end` ms.
pub struct Diagram {
    /// The file name, and what the test names when it differs.
    pub name: &'static str,
    /// The operator call, as written in a pipeline.
    pub operator: String,
    pub lanes: Vec<Lane>,
    pub end: u64,
    /// Milliseconds per ASCII column.
    pub step: u64,
    /// What the diagram shows, in a sentence (the SVG's caption).
    pub note: String,
}

/// One line of a diagram: an input, an output, or a line of annotations (watermark, lag).
pub struct Lane {
    pub label: String,
    pub marks: Vec<Mark>,
    /// When the stream ended, if it did within the diagram.
    pub end: Option<u64>,
}

/// What a lane shows at a time.
pub enum Mark {
    /// An item, at the time it went in or came out.
    Item { t: u64, label: String, style: Style },
    /// A time span with a result: a window, drawn from `from` to `to`.
    Span { from: u64, to: u64, label: String },
    /// A note at a time (a watermark's value, a lag).
    Tick { t: u64, label: String },
}

/// How an item is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    /// Dropped by the operator (evicted, rejected, not sampled, skipped by a lagging reader).
    Dropped,
    /// Arrived after the watermark passed its window: counted late.
    Late,
    /// From source `n` of a merge: a colour per source.
    Source(u8),
}

impl Lane {
    pub fn new(label: &str) -> Self {
        Lane {
            label: label.to_owned(),
            marks: Vec::new(),
            end: None,
        }
    }

    /// A lane of items, each with its time and label, ending at `end`.
    pub fn items<L: std::fmt::Display>(label: &str, items: &[(u64, L)], end: Option<u64>) -> Self {
        let mut lane = Lane::new(label);
        for (t, l) in items {
            lane.item(*t, l, Style::Plain);
        }
        lane.end = end;
        lane
    }

    pub fn item(&mut self, t: u64, label: impl ToString, style: Style) -> &mut Self {
        self.marks.push(Mark::Item {
            t,
            label: label.to_string(),
            style,
        });
        self
    }

    pub fn span(&mut self, from: u64, to: u64, label: impl ToString) -> &mut Self {
        self.marks.push(Mark::Span {
            from,
            to,
            label: label.to_string(),
        });
        self
    }

    pub fn tick(&mut self, t: u64, label: impl ToString) -> &mut Self {
        self.marks.push(Mark::Tick {
            t,
            label: label.to_string(),
        });
        self
    }

    /// Marks `Dropped` every item whose label is not in `kept`.
    pub fn drop_unless(mut self, kept: &[String]) -> Self {
        for mark in &mut self.marks {
            if let Mark::Item { label, style, .. } = mark {
                if !kept.contains(label) {
                    *style = Style::Dropped;
                }
            }
        }
        self
    }
}

impl Lane {
    /// Rows (in lane heights) the SVG adds under the lane for its spans and notes.
    fn extra_rows(&self) -> f64 {
        let spans = self.span_rows().iter().max().map_or(0, |m| m + 1) as f64;
        let notes = !self.is_notes() && self.marks.iter().any(|m| matches!(m, Mark::Tick { .. }));
        0.45 * spans + if notes { 0.45 } else { 0.0 }
    }

    /// Whether the lane only carries notes: no axis line, the notes on its own row.
    fn is_notes(&self) -> bool {
        !self
            .marks
            .iter()
            .any(|m| matches!(m, Mark::Item { .. } | Mark::Span { .. }))
    }

    /// The row (0, 1, ...) of each span, in order: the first row where it overlaps no
    /// span already placed.
    fn span_rows(&self) -> Vec<usize> {
        let mut rows: Vec<u64> = Vec::new(); // where each row is free from
        let mut placed = Vec::new();
        for mark in &self.marks {
            if let Mark::Span { from, to, .. } = mark {
                let row = match rows.iter().position(|&free| free <= *from) {
                    Some(r) => r,
                    None => {
                        rows.push(0);
                        rows.len() - 1
                    }
                };
                rows[row] = *to;
                placed.push(row);
            }
        }
        placed
    }
}

// ---- recording ----

/// A script in marble notation: `"a@10 b@40 |@120"` is `a` at 10 ms, `b` at 40 ms and the
/// end at 120 ms (the end is required, written last).
///
/// # Panics
///
/// On anything else, naming the bad part.
pub fn script(text: &str) -> (Vec<(u64, String)>, u64) {
    let mut items = Vec::new();
    for part in text.split_whitespace() {
        let (label, at) = part
            .split_once('@')
            .unwrap_or_else(|| panic!("script: `{part}` is not `label@ms`"));
        let at: u64 = at
            .trim_end_matches("ms")
            .parse()
            .unwrap_or_else(|_| panic!("script: `{part}`: the time is not a number of ms"));
        if label == "|" {
            return (items, at);
        }
        items.push((at, label.to_owned()));
    }
    panic!("script: `{text}` has no end (`|@ms`)");
}

/// Runs `f` on a current-thread runtime whose clock is paused: timers fire in virtual time,
/// exactly, and the run takes no real time.
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// Milliseconds since `start` on the (paused) tokio clock.
pub fn ms_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A source that yields each item of `script` at its time (ms after `start`) and ends at
/// `end`. It is fed by a task of its own, as a real source would be.
pub fn scripted<T: Send + 'static>(
    start: Instant,
    script: Vec<(u64, T)>,
    end: u64,
) -> weir::sources::Recv<T> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move {
        for (t, item) in script {
            tokio::time::sleep_until(start + Duration::from_millis(t)).await;
            if tx.send(item).await.is_err() {
                return;
            }
        }
        tokio::time::sleep_until(start + Duration::from_millis(end)).await;
    });
    weir::from_receiver(rx)
}

/// Drains `stream`, taking `busy` after each item (a slow consumer when not zero): each item
/// with the time it came out, and the time the stream ended.
pub async fn record<S: Stream + Unpin>(
    start: Instant,
    mut stream: S,
    busy: Duration,
) -> (Vec<(u64, S::Item)>, u64) {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push((ms_since(start), item));
        if !busy.is_zero() {
            tokio::time::sleep(busy).await;
        }
    }
    (out, ms_since(start))
}

/// `(t, item)` pairs as `(t, label)`.
pub fn labelled<T>(items: &[(u64, T)], label: impl Fn(&T) -> String) -> Vec<(u64, String)> {
    items.iter().map(|(t, x)| (*t, label(x))).collect()
}

// ---- ASCII ----

impl Diagram {
    /// The diagram in plain text: one row per lane, `step` ms per column, `|` where a stream
    /// ends, `(a)` for a dropped item, `a!` for a late one, windows as `[=label=)` on a row of
    /// their own, notes as `^label`.
    pub fn ascii(&self) -> String {
        let cols = (self.end / self.step) as usize + 2;
        let width = self.lanes.iter().map(|l| l.label.len()).max().unwrap_or(0) + 2;
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.operator);
        // The time axis: a label every 10 columns.
        let mut axis = vec![b' '; cols + 8];
        for col in (0..cols).step_by(10) {
            for (i, b) in format!("{}ms", col as u64 * self.step).bytes().enumerate() {
                if col + i < axis.len() {
                    axis[col + i] = b;
                }
            }
        }
        let axis = String::from_utf8(axis).expect("ascii");
        let _ = writeln!(out, "{:width$}{}", "", axis.trim_end());
        for lane in &self.lanes {
            let text = |v: &[u8]| {
                String::from_utf8(v.to_vec())
                    .expect("ascii")
                    .trim_end()
                    .to_owned()
            };
            let mut row = vec![b' '; cols + 40];
            let span_rows = lane.span_rows();
            let mut spans =
                vec![vec![b' '; cols + 40]; span_rows.iter().max().map_or(0, |m| m + 1)];
            let mut ticks = vec![b' '; cols + 40];
            if !lane.is_notes() {
                let line_to = lane.end.map_or(cols, |e| self.col(e));
                for c in row.iter_mut().take(line_to) {
                    *c = b'-';
                }
            }
            if let Some(e) = lane.end {
                row[self.col(e)] = b'|';
            }
            let mut free = 0;
            let mut has_ticks = false;
            let mut span_index = 0;
            for mark in &lane.marks {
                match mark {
                    Mark::Item { t, label, style } => {
                        let text = match style {
                            Style::Dropped => format!("({label})"),
                            Style::Late => format!("{label}!"),
                            Style::Plain | Style::Source(_) => label.clone(),
                        };
                        let at = self.col(*t).max(free);
                        put(&mut row, at, &text);
                        free = at + text.len() + 1;
                    }
                    Mark::Span { from, to, label } => {
                        let line = &mut spans[span_rows[span_index]];
                        span_index += 1;
                        let (a, b) = (self.col(*from), self.col(*to).max(self.col(*from) + 1));
                        for c in line.iter_mut().take(b).skip(a) {
                            *c = b'=';
                        }
                        line[a] = b'[';
                        line[b] = b')';
                        let inner = b - a - 1;
                        let text: String = label.chars().take(inner).collect();
                        put(line, a + 1 + (inner - text.len()) / 2, &text);
                    }
                    Mark::Tick { t, label } => {
                        has_ticks = true;
                        let at = self.col(*t);
                        let line = if lane.is_notes() {
                            &mut row
                        } else {
                            &mut ticks
                        };
                        let at = (at..)
                            .find(|&c| c == 0 || line.get(c - 1).is_none_or(|&b| b == b' '))
                            .expect("room");
                        put(line, at, &format!("^{label}"));
                    }
                }
            }
            let _ = writeln!(out, "{:width$}{}", lane.label, text(&row));
            for line in &spans {
                let _ = writeln!(out, "{:width$}{}", "", text(line));
            }
            if has_ticks && !lane.is_notes() {
                let _ = writeln!(out, "{:width$}{}", "", text(&ticks));
            }
        }
        out
    }

    fn col(&self, t: u64) -> usize {
        (t / self.step) as usize
    }
}

/// Writes `text` into `row` from `at`, growing the row if needed.
fn put(row: &mut Vec<u8>, at: usize, text: &str) {
    if row.len() < at + text.len() + 1 {
        row.resize(at + text.len() + 1, b' ');
    }
    row[at..at + text.len()].copy_from_slice(text.as_bytes());
}

// ---- SVG ----

const LANE: f64 = 64.0;
const TOP: f64 = 58.0;
const PALETTE: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1"];

impl Diagram {
    /// Pixels per millisecond: a 150 ms diagram is about 600 px wide, a long one at most
    /// 900 px.
    fn scale(&self) -> f64 {
        (900.0 / self.end as f64).clamp(0.5, 4.0)
    }

    /// Where the time axis starts: right of the longest lane label.
    fn left(&self) -> f64 {
        let longest = self
            .lanes
            .iter()
            .map(|l| l.label.chars().count())
            .max()
            .unwrap_or(0);
        (longest as f64 * 7.5 + 40.0).max(110.0)
    }

    fn x(&self, t: u64) -> f64 {
        self.left() + t as f64 * self.scale()
    }

    /// The diagram as an SVG document: lanes as arrows, items as labelled marbles (grey and
    /// crossed out when dropped, orange when late, a colour per source in a merge), windows as
    /// spans under their lane, notes as small flags, ends as bars, and a time axis.
    pub fn svg(&self) -> String {
        let rows: f64 = self.lanes.iter().map(|l| 1.0 + l.extra_rows()).sum();
        // Wide enough for the time axis, the operator and the note.
        let width = (self.x(self.end) + 60.0)
            .max(self.operator.chars().count() as f64 * 8.6 + 30.0)
            .max(self.note.chars().count() as f64 * 6.7 + 30.0);
        let height = TOP + rows * LANE + 50.0;
        let mut doc = Document::new()
            .set("viewBox", (0, 0, width.round(), height.round()))
            .set("width", width.round())
            .set("height", height.round())
            .set("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif")
            .set("font-size", 13)
            .add(
                Rect::new()
                    .set("width", "100%")
                    .set("height", "100%")
                    .set("fill", "white"),
            )
            .add(
                Text::new(self.operator.clone())
                    .set("x", 12)
                    .set("y", 22)
                    .set("font-family", "DejaVu Sans Mono, Menlo, monospace")
                    .set("font-size", 14)
                    .set("font-weight", "bold"),
            )
            .add(
                Text::new(self.note.clone())
                    .set("x", 12)
                    .set("y", 42)
                    .set("fill", "#555"),
            );
        let mut y = TOP + LANE / 2.0;
        for lane in &self.lanes {
            let to = lane.end.map_or(self.x(self.end) + 30.0, |e| self.x(e));
            doc = doc.add(
                Text::new(lane.label.clone())
                    .set("x", 12)
                    .set("y", y + 4.0)
                    .set("fill", "#333"),
            );
            if !lane.is_notes() {
                doc = doc.add(
                    Line::new()
                        .set("x1", self.left() - 10.0)
                        .set("y1", y)
                        .set("x2", to)
                        .set("y2", y)
                        .set("stroke", "#444")
                        .set("stroke-width", 1.5),
                );
            }
            if let Some(e) = lane.end {
                let x = self.x(e);
                doc = doc.add(
                    Line::new()
                        .set("x1", x)
                        .set("y1", y - 14.0)
                        .set("x2", x)
                        .set("y2", y + 14.0)
                        .set("stroke", "#222")
                        .set("stroke-width", 3),
                );
            }
            let span_rows = lane.span_rows();
            let span_count = span_rows.iter().max().map_or(0, |m| m + 1) as f64;
            let (mut span_index, mut alternate) = (0, false);
            // Items at the same time (a batch of outputs in one poll) are set side by side:
            // each starts right of the one before.
            let mut free_x = f64::MIN;
            // Notes go on the lane's own row when it has nothing else, else under its spans.
            let notes_y = if lane.is_notes() {
                y + 4.0
            } else {
                y + 30.0 + span_count * LANE * 0.45
            };
            for mark in &lane.marks {
                match mark {
                    Mark::Item { t, label, style } => {
                        let half = marble_width(label) / 2.0;
                        let x = self.x(*t).max(free_x + half);
                        free_x = x + half + 2.0;
                        doc = marble(doc, x, y, label, *style);
                    }
                    Mark::Span { from, to, label } => {
                        let (a, b) = (self.x(*from), self.x(*to));
                        let top = y + 20.0 + span_rows[span_index] as f64 * LANE * 0.45;
                        span_index += 1;
                        doc = doc
                            .add(
                                Rect::new()
                                    .set("x", a + 1.0)
                                    .set("y", top)
                                    .set("width", (b - a - 2.0).max(2.0))
                                    .set("height", 20)
                                    .set("rx", 4)
                                    .set("fill", "#e8eef7")
                                    .set("stroke", "#4e79a7"),
                            )
                            .add(
                                Text::new(label.clone())
                                    .set("x", (a + b) / 2.0)
                                    .set("y", top + 14.0)
                                    .set("text-anchor", "middle")
                                    .set("font-size", 11),
                            );
                    }
                    Mark::Tick { t, label } => {
                        let x = self.x(*t);
                        // Neighbouring notes alternate between two heights so that they
                        // never overlap.
                        let ty = notes_y + if alternate { 13.0 } else { 0.0 };
                        alternate = !alternate;
                        doc = doc
                            .add(
                                Line::new()
                                    .set("x1", x)
                                    .set("y1", if lane.is_notes() { y - 12.0 } else { y + 8.0 })
                                    .set("x2", x)
                                    .set("y2", ty + 2.0)
                                    .set("stroke", "#999")
                                    .set("stroke-dasharray", "3,2"),
                            )
                            .add(
                                Text::new(label.clone())
                                    .set("x", x + 3.0)
                                    .set("y", ty)
                                    .set("font-size", 10)
                                    .set("fill", "#666"),
                            );
                    }
                }
            }
            y += LANE * (1.0 + lane.extra_rows());
        }
        // The time axis.
        let axis_y = y - LANE / 2.0 + 24.0;
        doc = doc.add(
            Line::new()
                .set("x1", self.left())
                .set("y1", axis_y)
                .set("x2", self.x(self.end))
                .set("y2", axis_y)
                .set("stroke", "#bbb"),
        );
        let every = axis_step(self.end);
        for t in (0..=self.end).step_by(every as usize) {
            let x = self.x(t);
            doc = doc
                .add(
                    Line::new()
                        .set("x1", x)
                        .set("y1", axis_y - 3.0)
                        .set("x2", x)
                        .set("y2", axis_y + 3.0)
                        .set("stroke", "#bbb"),
                )
                .add(
                    Text::new(format!("{t} ms"))
                        .set("x", x)
                        .set("y", axis_y + 16.0)
                        .set("text-anchor", "middle")
                        .set("font-size", 10)
                        .set("fill", "#888"),
                );
        }
        format!("{doc}\n")
    }
}

/// A tick on the time axis about every 80 px: 10, 20, 50, 100, 200, 500 ms...
fn axis_step(end: u64) -> u64 {
    let want = end / 8;
    [10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000]
        .into_iter()
        .find(|&s| s >= want)
        .unwrap_or(10_000)
}

/// How wide an item's marble is drawn.
fn marble_width(label: &str) -> f64 {
    let chars = label.chars().count() as f64;
    if chars <= 2.0 {
        24.0
    } else {
        chars * 7.2 + 10.0
    }
}

/// One item: a circle (a rounded box when the label is long) with its label.
fn marble(doc: Document, x: f64, y: f64, label: &str, style: Style) -> Document {
    let (fill, text) = match style {
        Style::Plain => ("#4e79a7", "white"),
        Style::Dropped => ("#d0d0d0", "#777"),
        Style::Late => ("#e15759", "white"),
        Style::Source(n) => (PALETTE[usize::from(n) % PALETTE.len()], "white"),
    };
    let chars = label.chars().count() as f64;
    let doc = if chars <= 2.0 {
        doc.add(
            Circle::new()
                .set("cx", x)
                .set("cy", y)
                .set("r", 12)
                .set("fill", fill)
                .set("stroke", "#222")
                .set("stroke-width", 0.8),
        )
    } else {
        let w = chars * 7.2 + 10.0;
        doc.add(
            Rect::new()
                .set("x", x - w / 2.0)
                .set("y", y - 11.0)
                .set("width", w)
                .set("height", 22)
                .set("rx", 11)
                .set("fill", fill)
                .set("stroke", "#222")
                .set("stroke-width", 0.8),
        )
    };
    let mut doc = doc.add(
        Text::new(label.to_owned())
            .set("x", x)
            .set("y", y + 4.5)
            .set("text-anchor", "middle")
            .set("fill", text)
            .set("font-size", 12),
    );
    if style == Style::Dropped {
        for (dx1, dx2) in [(-9.0, 9.0), (9.0, -9.0)] {
            doc = doc.add(
                Line::new()
                    .set("x1", x + dx1)
                    .set("y1", y - 9.0)
                    .set("x2", x + dx2)
                    .set("y2", y + 9.0)
                    .set("stroke", "#c0392b")
                    .set("stroke-width", 2),
            );
        }
    }
    doc
}
