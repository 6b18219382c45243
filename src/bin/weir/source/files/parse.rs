//! Parsing a block of lines into readings, on a parser thread: the fast path for the common
//! shape of a line (`fast_json.rs`), serde_json for anything else, then admission's rules.

use std::borrow::Cow;

use serde::Deserialize;
use weir::event::EventType;

use super::fast_json::{self, Fields};
use super::read::Block;
use crate::admission::{Rules, Verdict};
use crate::names::SourceCache;
use crate::reading::Reading;

/// One input line as JSON: `source` and `value` required, the rest optional. `id` and
/// `event_type` are not used by the run, but a line where they are present and wrong is
/// malformed.
#[derive(Debug, Deserialize)]
struct InputEvent<'a> {
    #[allow(dead_code)]
    id: Option<u64>,
    timestamp: Option<u64>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    value: f64,
    #[allow(dead_code)]
    event_type: Option<EventType>,
}

/// How the lines of an input are parsed and judged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parse {
    /// Longest accepted line, in bytes.
    pub(super) max_line: usize,
    pub(super) rules: Rules,
}

/// A block, parsed: its readings in line order and what became of its other lines.
pub(super) struct Parsed {
    pub(super) readings: Vec<Reading>,
    /// Lines in the block (the run numbers them: the parser does not know where it starts).
    pub(super) lines: u64,
    /// Lines that were not readings: blank, filtered out, malformed (with what to report) and
    /// too far ahead (the same), each in line order.
    pub(super) blank: u64,
    pub(super) filtered: u64,
    pub(super) malformed: Vec<Note>,
    pub(super) ahead: Vec<Note>,
    /// Bytes of input the block covers.
    pub(super) bytes: u64,
    /// The error that ended the input, after this block's lines.
    pub(super) error: Option<String>,
    /// Sources the parser met for the first time in this block, in the order of its numbers.
    pub(super) new_sources: Vec<Box<str>>,
}

/// What to report about a line: where it is (its index in its block, from 0; `None` for the
/// input as a whole) and what is wrong.
pub(super) struct Note {
    pub(super) line: Option<u64>,
    pub(super) text: String,
}

/// Parses one block.
pub(super) fn parse_block(block: Block, how: Parse, sources: &mut SourceCache) -> Parsed {
    let mut parsed = Parsed {
        readings: Vec::with_capacity(block.text.len() / 48),
        lines: 0,
        blank: 0,
        filtered: 0,
        malformed: Vec::new(),
        error: None,
        ahead: Vec::new(),
        bytes: (block.text.len() + block.skipped.map_or(0, |n| n + 1)) as u64,
        new_sources: Vec::new(),
    };
    let text = &block.text[..];
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        let len = match fast_json::scan(rest) {
            Some((fields, len)) if len <= how.max_line => {
                parsed.admit(fields, how.rules, sources);
                len
            }
            _ => {
                let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                parse_line(&rest[..len], how, sources, &mut parsed);
                len
            }
        };
        parsed.lines += 1;
        start += len + 1;
    }
    if let Some(len) = block.skipped {
        let text = format!(
            "line of {len} bytes is longer than the limit of {}",
            how.max_line
        );
        parsed.note_malformed(text);
        parsed.lines += 1;
    }
    parsed.error = block.error;
    parsed.new_sources = sources.take_new();
    parsed
}

impl Parsed {
    /// Reports the line being parsed as malformed.
    fn note_malformed(&mut self, text: String) {
        self.malformed.push(Note {
            line: Some(self.lines),
            text,
        });
    }

    /// Judges the line being parsed by admission's rules, and keeps it as a reading if they
    /// admit it.
    fn admit(&mut self, input: Fields<'_>, rules: Rules, sources: &mut SourceCache) {
        match rules.judge(input.timestamp, input.value) {
            Verdict::Admit(timestamp) => {
                let source = if rules.by_source {
                    sources.index(input.source)
                } else {
                    0
                };
                self.readings.push(Reading {
                    timestamp,
                    value: input.value,
                    source,
                });
            }
            Verdict::Filtered => self.filtered += 1,
            Verdict::Ahead(ahead) => self.ahead.push(Note {
                line: Some(self.lines),
                text: ahead.to_string(),
            }),
        }
    }
}

/// Parses the next line of a block into `parsed`, when the fast path did not take it.
fn parse_line(bytes: &[u8], how: Parse, sources: &mut SourceCache, parsed: &mut Parsed) {
    if bytes.len() > how.max_line {
        parsed.note_malformed(format!(
            "line of {} bytes is longer than the limit of {}",
            bytes.len(),
            how.max_line
        ));
        return;
    }
    let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        parsed.blank += 1;
        return;
    };
    if bytes[first] != b'{' {
        parsed.note_malformed("not a JSON object".to_owned());
        return;
    }
    match serde_json::from_slice::<InputEvent<'_>>(bytes) {
        Ok(input) => {
            let fields = Fields {
                timestamp: input.timestamp,
                source: input.source.as_bytes(),
                value: input.value,
            };
            parsed.admit(fields, how.rules, sources);
        }
        Err(e) => parsed.note_malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::super::read::read_blocks;
    use super::*;

    /// A reader that hands out at most 3 bytes per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn cut(reader: impl Read, max_line: usize) -> Vec<(String, Option<usize>)> {
        let mut blocks = Vec::new();
        read_blocks(reader, max_line, |b| {
            blocks.push((String::from_utf8(b.text).unwrap(), b.skipped));
            true
        });
        blocks
    }

    #[test]
    fn a_long_line_is_skipped_unread_or_reported_by_the_parser() {
        let text = format!("a\n{}\nbc\nd", "x".repeat(10));
        // Arriving slowly, the long line is skipped by the reader, never held.
        let blocks = cut(Trickle(text.as_bytes()), 5);
        let lines: String = blocks.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(lines, "a\nbc\nd");
        let skipped: Vec<_> = blocks.iter().filter_map(|b| b.1).collect();
        assert_eq!(skipped, [10]);
        // Read whole, it reaches a parser, which reports it; either way it is line 2.
        let blocks = cut(text.as_bytes(), 5);
        let whole = [
            ("a\nxxxxxxxxxx\nbc\n".to_owned(), None),
            ("d".to_owned(), None),
        ];
        assert_eq!(blocks, whole);
        let how = Parse {
            max_line: 5,
            rules: Rules {
                max_future: None,
                min_value: None,
                max_value: None,
                by_source: false,
            },
        };
        let mut sources = SourceCache::default();
        let block = Block {
            text: text.into_bytes(),
            skipped: None,
            error: None,
        };
        let parsed = parse_block(block, how, &mut sources);
        let notes: Vec<_> = parsed
            .malformed
            .iter()
            .map(|n| (n.line, &n.text[..]))
            .collect();
        assert_eq!(
            notes,
            [
                (Some(0), "not a JSON object"),
                (Some(1), "line of 10 bytes is longer than the limit of 5"),
                (Some(2), "not a JSON object"),
                (Some(3), "not a JSON object"),
            ]
        );
        assert_eq!(parsed.lines, 4);
    }
}
