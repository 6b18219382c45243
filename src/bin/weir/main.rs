//! `weir`: real-time event stream processing from the command line.
//!
//! - `weir` or `weir demo`: a pipeline over simulated sources, with a report.
//! - `weir run [FILE ...]`: JSON lines of events in (stdin when no file or `-`), one JSON line
//!   per closed window out.

/// Writes a line to stderr, ignoring a closed stderr: a report must never abort a command.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod demo;
mod produce;
mod redis;
mod run;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "weir", version, about = "Real-time event stream processing")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the demo pipeline over simulated sources (the default).
    Demo(demo::DemoArgs),
    /// Window JSON-lines events from files or stdin, or a Redis stream.
    Run(run::RunArgs),
    /// Write simulated sensor events as JSON lines, or to a Redis stream.
    Produce(produce::ProduceArgs),
    /// Merge the partial windows that several `weir run --to redis://...` consumers wrote.
    Combine(redis::combine::CombineArgs),
}

/// Parses `250ms`, `1s`, `2m`, `1h` or a bare number of milliseconds. A duration of more than
/// `u64::MAX` milliseconds is an error, never a wrapped value.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "`{text}` is not a duration such as 250ms, 1s or 2m"
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
    let n: u64 = number.parse().map_err(|_| too_long())?;
    let ms = n.checked_mul(per_unit).ok_or_else(too_long)?;
    Ok(Duration::from_millis(ms))
}

/// SIGINT and SIGTERM, listened for: what `weir run` and `weir combine` stop on.
pub(crate) fn signals()
-> std::io::Result<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => demo::demo(demo::DemoArgs::default()).await,
        Some(Command::Demo(args)) => demo::demo(args).await,
        Some(Command::Run(args)) => run::run(args).await,
        Some(Command::Produce(args)) => produce::produce(args).await,
        Some(Command::Combine(args)) => redis::combine::combine(args).await,
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
        assert!(parse_duration("1.5s").is_err());
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
