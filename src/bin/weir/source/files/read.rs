//! Cutting an input into blocks of whole lines, on its reader thread.

use std::io::{self, Read};

/// The reader cuts blocks of about this many bytes (whole lines; a block ends where a read
/// ends, so a pipe that delivers a line at a time gets a block per line and no wait).
const BLOCK: usize = 256 << 10;

/// Whole lines of an input, as the reader cut them.
pub(super) struct Block {
    /// Lines, each ending in `\n` but perhaps the last of the input.
    pub(super) text: Vec<u8>,
    /// A line after `text` that was longer than `--max-line`: skipped unread, its length.
    pub(super) skipped: Option<usize>,
    /// The error that ended the input, after `text`.
    pub(super) error: Option<String>,
}

/// Reads `reader` in blocks of whole lines, handing each to `send` until it returns `false`
/// or the input ends. A line longer than `max_line` is skipped to its end without being
/// held, and handed on as [`Block::skipped`].
pub(super) fn read_blocks(reader: impl Read, max_line: usize, mut send: impl FnMut(Block) -> bool) {
    if let Err(e) = cut_blocks(reader, max_line, &mut send) {
        send(Block {
            text: Vec::new(),
            skipped: None,
            error: Some(format!("read error: {e}")),
        });
    }
}

/// [`read_blocks`] until an error.
fn cut_blocks(
    mut reader: impl Read,
    max_line: usize,
    send: &mut impl FnMut(Block) -> bool,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    loop {
        let start = buf.len();
        buf.resize(start + BLOCK.max(start / 2), 0);
        let n = match reader.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(start);
                continue;
            }
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            if !buf.is_empty() {
                send(Block {
                    text: buf,
                    skipped: None,
                    error: None,
                });
            }
            return Ok(());
        }
        match memchr::memrchr(b'\n', &buf[start..]) {
            Some(last) => {
                let last = start + last;
                let mut text = std::mem::replace(&mut buf, Vec::with_capacity(BLOCK));
                buf.extend_from_slice(&text[last + 1..]);
                text.truncate(last + 1);
                if !send(Block {
                    text,
                    skipped: None,
                    error: None,
                }) {
                    return Ok(());
                }
            }
            None if buf.len() > max_line => {
                let len = buf.len() + skip_line(&mut reader, &mut buf)?;
                if !send(Block {
                    text: Vec::new(),
                    skipped: Some(len),
                    error: None,
                }) {
                    return Ok(());
                }
            }
            None => {}
        }
    }
}

/// Reads past the end of the current line; returns how many more bytes it had, and leaves
/// in `buf` what was read after its `\n`.
fn skip_line(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut skipped = 0;
    loop {
        buf.clear();
        buf.resize(BLOCK, 0);
        let n = reader.read(buf)?;
        buf.truncate(n);
        if n == 0 {
            return Ok(skipped);
        }
        if let Some(end) = memchr::memchr(b'\n', buf) {
            buf.drain(..=end);
            return Ok(skipped + end);
        }
        skipped += n;
    }
}
