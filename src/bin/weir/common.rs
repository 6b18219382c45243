//! What every command shares and nothing else: writing to stderr, reading durations, listening
//! for signals, saying a flag is wrong, and taking the ready items of a stream in batches.
//! This module imports nothing from the rest of the command.

use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use weir::Stream;

/// Writes a line to stderr, ignoring a closed stderr: a report must never abort a command.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Parses `250ms`, `1.5s`, `2m`, `1h` or a bare number of milliseconds; a fraction must come
/// to a whole number of milliseconds. A duration of more than `u64::MAX` milliseconds is an
/// error, never a wrapped value.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if number.is_empty() || number == "." || fraction.contains('.') {
        return Err(format!(
            "`{text}` is not a duration such as 250ms, 1.5s or 2m (a bare number is ms)"
        ));
    }
    let per_unit: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ));
        }
    };
    let too_long = || format!("`{text}` is too long: at most {} ms", u64::MAX);
    // In ms: the whole part times the unit, plus the fraction of the unit, which must come
    // to a whole number of ms.
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut ms = u128::from(whole) * u128::from(per_unit);
    let (mut numerator, mut denominator) = (0u128, 1u128);
    for digit in fraction.bytes().take(30) {
        numerator = numerator * 10 + u128::from(digit - b'0');
        denominator *= 10;
    }
    if fraction.bytes().skip(30).any(|d| d != b'0') {
        return Err(format!("`{text}` is finer than a millisecond"));
    }
    let part = numerator * u128::from(per_unit);
    if part % denominator != 0 {
        return Err(format!("`{text}` is finer than a millisecond"));
    }
    ms += part / denominator;
    let ms = u64::try_from(ms).map_err(|_| too_long())?;
    Ok(Duration::from_millis(ms))
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// SIGINT and SIGTERM, listened for: what `weir run` and `weir combine` stop on.
pub(crate) type Signals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// Starts listening for SIGINT and SIGTERM.
pub(crate) fn signals() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ))
}

/// Reports a command-line problem and returns exit status 2.
pub(crate) fn usage(command: &str, message: &str) -> ExitCode {
    report!("weir {command}: {message}");
    ExitCode::from(2)
}

/// Reports what failed (`weir COMMAND: WHAT`) and returns exit status 1.
pub(crate) fn failure(command: &str, what: impl std::fmt::Display) -> ExitCode {
    report!("weir {command}: {what}");
    ExitCode::from(1)
}

/// A write of the output failed: a closed pipe (`weir ... | head`) ends the command quietly
/// with status 0, like any filter; anything else is reported, status 1.
pub(crate) fn write_failure(command: &str, e: &std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    failure(command, format_args!("cannot write the output: {e}"))
}

/// Whether the standard output was open when weir started. A closed one (`weir run >&-`)
/// is reopened on `/dev/null` by Rust's start-up, read-write, where a shell's `>/dev/null`
/// opens it write-only: that is how it is told apart (on Linux, from `/proc`), so that the
/// output is not lost without a word.
pub(crate) fn stdout_open() -> std::io::Result<()> {
    let target = std::fs::read_link("/proc/self/fd/1");
    if !target.is_ok_and(|t| t == std::path::Path::new("/dev/null")) {
        return Ok(());
    }
    let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
    // O_RDWR: the access mode Rust's start-up opens /dev/null with.
    if flags.is_some_and(|f| f & 0o3 == 0o2) {
        return Err(std::io::Error::other("the standard output is closed"));
    }
    Ok(())
}

/// Reports that this build has no Redis support.
#[cfg(not(feature = "redis"))]
pub(crate) fn unsupported(command: &str) -> ExitCode {
    usage(
        command,
        "this weir was built without Redis support; build it with `cargo build --release \
         --features redis`",
    )
}

/// Items taken per batch at most.
pub(crate) const MAX_BATCH: usize = 1_024;

/// Takes the items of `stream` that are ready into `batch`: `Ready(true)` when the stream
/// ended, `Ready(false)` with items (at most [`MAX_BATCH`]), `Pending` (the waker registered)
/// with none ready.
pub(crate) fn pull<S: Stream>(
    mut stream: Pin<&mut S>,
    batch: &mut Vec<S::Item>,
    cx: &mut Context<'_>,
) -> Poll<bool> {
    loop {
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                batch.push(item);
                if batch.len() >= MAX_BATCH {
                    return Poll::Ready(false);
                }
            }
            Poll::Ready(None) => return Poll::Ready(true),
            Poll::Pending if batch.is_empty() => return Poll::Pending,
            Poll::Pending => return Poll::Ready(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("40"), Ok(Duration::from_millis(40)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("0.25m"), Ok(Duration::from_millis(15_000)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.000ms"), Ok(Duration::from_millis(2)));
        assert!(parse_duration("1.5ms").is_err());
        assert!(parse_duration("1.0001s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration(".").is_err());
        assert!(parse_duration("18446744073709551616").is_err());
        assert!(parse_duration("18446744073709551.615s").is_ok());
        assert!(parse_duration("18446744073709551.616s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("ms").is_err());
        assert_eq!(
            parse_duration("18446744073709551615ms"),
            Ok(Duration::from_millis(u64::MAX))
        );
        // Beyond u64::MAX ms, in the number or after the unit: an error, not a wrap.
        let err = parse_duration("5124095576030432h").unwrap_err();
        assert!(err.contains("too long"), "{err}");
        assert!(parse_duration("18446744073709551616").is_err());
    }
}
