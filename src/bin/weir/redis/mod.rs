//! What the commands share for Redis Streams: addresses (`redis://HOST:PORT/STREAM`), the
//! entries consumers write for the combiner, a source that rides out a lost server and gives
//! up after a set time, and the waits between attempts. Only with the `redis` feature: without
//! it, a command asked to use Redis says how to get it and exits with status 2.

mod entries;
mod resilient;
mod settling;

pub(crate) use entries::{Marker, NOT_UTF8, Partial, Progress, Report};
pub(crate) use resilient::{Resilient, retries_over, waits};
pub(crate) use settling::Settling;

/// A stream on a Redis server, from `redis://[USER:PASSWORD@]HOST:PORT/STREAM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The server, as the client takes it: `redis://[USER:PASSWORD@]HOST:PORT/`.
    pub(crate) server: String,
    pub(crate) stream: String,
    /// The address as reports and metrics show it: `redis://HOST:PORT/STREAM`, without the
    /// user name and password.
    pub(crate) shown: String,
}

impl Target {
    /// Parses `redis://[USER:PASSWORD@]HOST[:PORT]/STREAM` (port 6379 by default). What is
    /// wrong is said without the password.
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        let shown_text = without_credentials(text);
        let bad = |why: &str| format!("`{shown_text}` {why}: expected redis://HOST:PORT/STREAM");
        let rest = text
            .strip_prefix("redis://")
            .ok_or_else(|| bad("is not a Redis address"))?;
        let (address, stream) = rest.split_once('/').ok_or_else(|| bad("names no stream"))?;
        let (credentials, host) = match address.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, address),
        };
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
        let credentials = credentials.map_or(String::new(), |c| format!("{c}@"));
        Ok(Target {
            server: format!("redis://{credentials}{host}/"),
            stream: stream.to_owned(),
            shown: format!("redis://{host}/{stream}"),
        })
    }
}

/// `text` without the user name and password an address may carry (`redis://:secret@host/s`
/// -> `redis://host/s`).
fn without_credentials(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let address = rest.split('/').next().unwrap_or_default();
    match address.rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => text.to_owned(),
    }
}

/// A stream entry id, `1700000000000-3`, as its two numbers (`None` for anything else).
pub(crate) fn id_key(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// How long a read waits on the server for new entries: 1 s, or 100 ms with
/// `--until-idle` (whose reads wait in the process, and only for `--until-idle`'s WAIT).
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
                stream: "events".to_owned(),
                shown: "redis://127.0.0.1:7000/events".to_owned(),
            })
        );
        // A password is handed to the client, and shown nowhere.
        assert_eq!(
            Target::parse("redis://:p@ss:w@rd@cache/events"),
            Ok(Target {
                server: "redis://:p@ss:w@rd@cache:6379/".to_owned(),
                stream: "events".to_owned(),
                shown: "redis://cache:6379/events".to_owned(),
            })
        );
        let refused = Target::parse("redis://user:secret@host:port/events").unwrap_err();
        assert!(!refused.contains("secret"), "{refused}");
        assert_eq!(without_credentials("redis://host/a@b"), "redis://host/a@b");
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
