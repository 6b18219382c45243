//! What the commands share for Redis Streams: addresses (`redis://HOST:PORT/STREAM`), the
//! entries consumers write for the combiner, a source that rides out a lost server and gives
//! up after a set time, and the waits between attempts. Only with the `redis` feature: without
//! it, a command asked to use Redis says how to get it and exits with status 2.

mod entries;
mod resilient;

pub(crate) use entries::{Marker, Partial, Report};
pub(crate) use resilient::{Resilient, waits};

/// A stream on a Redis server, from `redis://HOST:PORT/STREAM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The server, as the client takes it: `redis://HOST:PORT/`.
    pub(crate) server: String,
    pub(crate) stream: String,
}

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

/// How long a read waits on the server for new entries: 1 s, or 100 ms with
/// `--until-idle`, whose first read that finds nothing new ends the command.
pub(crate) fn block(until_idle: bool) -> std::time::Duration {
    std::time::Duration::from_millis(if until_idle { 100 } else { 1_000 })
}

#[cfg(test)]
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
