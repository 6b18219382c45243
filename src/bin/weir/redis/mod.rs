//! What the commands share for Redis Streams: addresses (`redis://HOST:PORT/STREAM`), the
//! entries consumers write for the combiner, a source that rides out a lost server and gives
//! up after a set time, and `weir produce --to redis://...`. Without the `redis` feature, a
//! command asked to use Redis says how to get it and exits with status 2.

pub(crate) mod combine;
#[cfg(feature = "redis")]
mod entries;
#[cfg(feature = "redis")]
mod resilient;

#[cfg(feature = "redis")]
pub(crate) use entries::{Marker, Partial};
#[cfg(feature = "redis")]
pub(crate) use resilient::Resilient;

use std::io::Write;
use std::process::ExitCode;

/// A stream on a Redis server, from `redis://HOST:PORT/STREAM`.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The server, as the client takes it: `redis://HOST:PORT/`.
    pub(crate) server: String,
    pub(crate) stream: String,
}

#[cfg(feature = "redis")]
impl Target {
    /// Parses `redis://HOST[:PORT]/STREAM` (port 6379 by default).
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("`{text}` {why}: expected redis://HOST:PORT/STREAM");
        let rest = text
            .strip_prefix("redis://")
            .ok_or_else(|| bad("is not a Redis address"))?;
        let (host, stream) = rest.split_once('/').ok_or_else(|| bad("names no stream"))?;
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        if stream.is_empty() || stream.contains('/') {
            return Err(bad("names no stream, or more than one"));
        }
        let host = match host.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                return Err(bad(&format!("has a port `{port}` that is not a number")));
            }
            Some(_) => host.to_owned(),
            None => format!("{host}:6379"),
        };
        Ok(Target {
            server: format!("redis://{host}/"),
            stream: stream.to_owned(),
        })
    }
}

/// Reports a command-line problem and returns exit status 2.
pub(crate) fn usage(command: &str, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "weir {command}: {message}");
    ExitCode::from(2)
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

/// How long a read waits on the server for new entries: 1 s, or 100 ms with
/// `--until-idle`, whose first read that finds nothing new ends the command.
#[cfg(feature = "redis")]
pub(crate) fn block(until_idle: bool) -> std::time::Duration {
    std::time::Duration::from_millis(if until_idle { 100 } else { 1_000 })
}

/// The waits between attempts after a failure: 100 ms doubling up to 2 s. Reads and
/// connections wait `nominal(k)` before attempt `k + 1`; a sink retries with its jitter.
#[cfg(feature = "redis")]
pub(crate) fn waits() -> weir::concurrent::Backoff {
    use std::time::Duration;
    weir::concurrent::Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
}

/// Entries or windows taken per batch at most.
#[cfg(feature = "redis")]
const MAX_BATCH: usize = 1_024;

/// Takes the items of `stream` that are ready into `batch`: `Ready(true)` when the stream
/// ended, `Ready(false)` with items (at most [`MAX_BATCH`]), `Pending` (the waker registered)
/// with none ready.
#[cfg(feature = "redis")]
pub(crate) fn pull<S: weir::Stream>(
    mut stream: std::pin::Pin<&mut S>,
    batch: &mut Vec<S::Item>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<bool> {
    use std::task::Poll;
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

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:7000/events"),
            Ok(Target {
                server: "redis://127.0.0.1:7000/".to_owned(),
                stream: "events".to_owned()
            })
        );
        assert_eq!(
            Target::parse("redis://cache/events").map(|t| t.server),
            Ok("redis://cache:6379/".to_owned())
        );
        for bad in [
            "http://host/events",
            "redis://host",
            "redis://host/",
            "redis:///events",
            "redis://host:port/events",
            "redis://host/a/b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
