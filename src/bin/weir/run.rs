//! `weir run`: its flags, checked, and the pipeline they ask for (`pipeline.rs`): files or
//! stdin, or a Redis stream through a consumer group, into event-time windows, out as JSON
//! lines or as partial windows for `weir combine`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use weir::window::{MAX_PANES_PER_WINDOW, window_panes};

use crate::admission::{Admission, Rules, Shed};
use crate::common::{millis, parse_duration, stdout_open, write_failure};
use crate::observe::MetricsArgs;
use crate::pipeline;
use crate::sink::{Lines, Sink};
use crate::source;
use crate::until_signal::watch_signals;
use crate::windows::Windows;

/// `weir run` options.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = SUMMARY_HELP)]
pub struct RunArgs {
    /// Files of JSON-lines events, each one source (stdin when none, or `-`).
    pub files: Vec<PathBuf>,
    /// Window size (at least 1ms). Durations are written 250ms, 1.5s, 2m or 1h; a bare number
    /// is milliseconds.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub window: Duration,
    /// Slide, for sliding windows (default: tumbling windows). Larger than --window gives
    /// sampling windows: events between two windows are counted as outside every window.
    #[arg(long, value_parser = parse_duration)]
    pub slide: Option<Duration>,
    /// One set of statistics per key in each window.
    #[arg(long, value_enum)]
    pub by: Option<Key>,
    /// Allowed out-of-orderness within each input: windows stay open this long past their
    /// end.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub lateness: Duration,
    /// An input that delivers nothing for this long stops holding event time back until it
    /// delivers again (default: inputs are waited for; use it when an input may fall
    /// silent, e.g. a live stdin).
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Reject events stamped more than this ahead of the wall clock (a guard against a bad
    /// clock, whose one far-future event would make every later event late).
    #[arg(long, value_parser = parse_duration)]
    pub max_future: Option<Duration>,
    /// Keep only events whose value is at least this (negative numbers too: --min-value -5).
    #[arg(long, allow_negative_numbers = true)]
    pub min_value: Option<f64>,
    /// Keep only events whose value is at most this.
    #[arg(long, allow_negative_numbers = true)]
    pub max_value: Option<f64>,
    /// Keep each event with this probability (Bernoulli sampling), in [0, 1].
    #[arg(long)]
    pub sample: Option<f64>,
    /// Put a drop-oldest buffer of this many events (at least 1) between the input and the
    /// windows: the input is read on while the output is slow to take the windows, and the
    /// oldest events are dropped (and counted) once the buffer is full. With a fast output
    /// nothing is dropped if the buffer holds what arrives during one write (100000 is
    /// plenty).
    #[arg(long)]
    pub buffer: Option<usize>,
    /// Report no malformed or rejected line (by default the first 10 of each kind per input
    /// are shown, then how many more); the summary counts them all.
    #[arg(long, short)]
    pub quiet: bool,
    /// Longest accepted line, in bytes (at least 1); longer lines are reported and skipped
    /// unread.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line: usize,
    /// Read the events from a Redis stream instead of files, through a consumer group
    /// (needs weir built with `--features redis`): `redis://[USER:PASSWORD@]HOST:PORT/STREAM`
    /// (the password is shown nowhere), entries with the fields `value`, `source` and
    /// `timestamp` (ms; optional: the time of reading).
    #[arg(long, conflicts_with = "files", help_heading = "Redis")]
    pub from: Option<String>,
    /// The consumer group to read in (created if missing, reading the stream from its
    /// start).
    /// (default: weir)
    #[arg(long, help_heading = "Redis")]
    pub group: Option<String>,
    /// This consumer's name in the group (required with --from): keep it across restarts, a
    /// restarted consumer first reads again what it had not acknowledged.
    #[arg(long, help_heading = "Redis")]
    pub consumer: Option<String>,
    /// Write partial windows to this Redis stream, `redis://HOST:PORT/STREAM`, for `weir
    /// combine` to merge with other consumers' (default: complete windows on stdout).
    #[arg(long, help_heading = "Redis")]
    pub to: Option<String>,
    /// Claim the entries another consumer has left unacknowledged this long, if the server
    /// has heard nothing from it for as long (it died or is stopped; the server counts in
    /// whole seconds), looking for them this often and whenever a read finds nothing new. A
    /// consumer still reading keeps its entries however long it holds them in open windows;
    /// one that was stopped and had its entries claimed has its next commit refused.
    /// (default: 30s)
    #[arg(long, value_parser = parse_duration, help_heading = "Redis")]
    pub claim_idle: Option<Duration>,
    /// Stop at the first read that finds no new entry and nothing to claim, writing every
    /// open window (for draining a stream) instead of waiting for more. A read that finds
    /// nothing waits WAIT (100ms) and reads once more; `--until-idle=0s` stops at the first,
    /// for a stream whose producers have finished.
    #[arg(long, value_name = "WAIT", num_args = 0..=1, require_equals = true,
          default_missing_value = "100ms", value_parser = parse_duration, help_heading = "Redis")]
    pub until_idle: Option<Duration>,
    /// Read as --consumer even though the server lists a connection reading under that name
    /// (by default refused with status 2: two processes of one name would both count the
    /// entries redelivered to it). For a process that is stopped and will not read again.
    #[arg(long, help_heading = "Redis")]
    pub force: bool,
    /// Exit with status 1 once reading, writing or acknowledging has failed this long
    /// without a success (the server gone); until then, try again with backoff. (default:
    /// 60s)
    #[arg(long, value_parser = parse_duration, help_heading = "Redis")]
    pub give_up_after: Option<Duration>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// The end of `weir run --help`: exit statuses and the summary's counts.
const SUMMARY_HELP: &str = "\
Exit status: 0 when the inputs were read to their end (malformed lines do not change it, unless
not one line was an event); 1 when the output could not be written (a closed standard output
included; a pipe closed by its reader is not an error: weir stops quietly with 0), when an
input could not be read to its end, or when every line that was not blank was malformed; 2 for
a flag that makes no sense or an input that cannot be opened; 130 after Ctrl-C (SIGINT) and 143
after SIGTERM: on either signal weir stops reading, emits every window still open and prints
the summary. Malformed and rejected lines: the first 10 of each kind per input are reported on
stderr, then how many more (--quiet: none); the summary counts them all.

The summary on stderr counts every line and every event:
  lines read = events + malformed + blank
  events     = processed + late + dropped + filtered + too far ahead + outside every window
processed: in at least one window; late: behind the watermark when it came (--lateness;
with --from and --to, the stream's: of every entry before it, whichever consumer read it);
dropped: by --sample or --buffer; filtered: outside --min-value / --max-value; too far ahead:
rejected by --max-future; outside every window: in the gaps of sampling windows (--slide
larger than --window).

With --from redis://..., the summary counts entries:
  entries read = events + malformed + duplicates skipped
and says how many were acknowledged and dead-lettered (malformed and rejected entries go to
STREAM:dead with the reason). Exit status 1 also when the server stayed out of reach (or
stopped answering) for --give-up-after, or at once when it refused the password or the
stream's key is of another type; entries not yet acknowledged then stay pending for a
restart or another consumer. Exit status 2 when the server lists a connection reading as
--consumer already (another weir process; --force reads anyway).";

/// What `--by` groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Key {
    /// The event's `source`.
    Source,
}

/// Stdout for the windows: written aside (from tokio's blocking pool) with --buffer, so that
/// the input goes on into the buffer while a write waits for a slow reader.
fn stdout(args: &RunArgs) -> Lines {
    if args.buffer.is_some() {
        Lines::StdoutAside(tokio::io::stdout())
    } else {
        Lines::Stdout
    }
}

/// The consumer group of `--from` unless `--group` names another.
#[cfg(feature = "redis")]
const DEFAULT_GROUP: &str = "weir";
/// `--claim-idle` unless given.
#[cfg(feature = "redis")]
const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(30);
/// `--give-up-after` unless given.
#[cfg(feature = "redis")]
const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// The window geometry the flags ask for, in ms, or what is wrong with them.
fn check(args: &RunArgs) -> Result<(u64, u64), String> {
    if args.from.is_none() {
        let redis_only = [
            ("--group", args.group.is_some()),
            ("--consumer", args.consumer.is_some()),
            ("--to", args.to.is_some()),
            ("--claim-idle", args.claim_idle.is_some()),
            ("--until-idle", args.until_idle.is_some()),
            ("--force", args.force),
            ("--give-up-after", args.give_up_after.is_some()),
        ];
        if let Some((flag, _)) = redis_only.iter().find(|(_, given)| *given) {
            return Err(format!(
                "{flag} is for reading a Redis stream (--from redis://...); it means nothing \
                 with files or stdin"
            ));
        }
    }
    let size = millis(args.window);
    if size == 0 {
        return Err("--window must be at least 1ms".to_owned());
    }
    let slide = args.slide.map_or(size, millis);
    if slide == 0 {
        return Err("--slide must be at least 1ms".to_owned());
    }
    let (pane, per_window) = window_panes(size, slide);
    if per_window > MAX_PANES_PER_WINDOW {
        return Err(format!(
            "--window {size}ms with --slide {slide}ms makes windows of {per_window} panes of \
             {pane}ms (the greatest common divisor of the two); at most {MAX_PANES_PER_WINDOW} \
             are allowed"
        ));
    }
    if args.buffer == Some(0) {
        return Err("--buffer must be at least 1".to_owned());
    }
    if args.max_line == 0 {
        return Err("--max-line must be at least 1".to_owned());
    }
    for (flag, value) in [
        ("--min-value", args.min_value),
        ("--max-value", args.max_value),
    ] {
        if value.is_some_and(f64::is_nan) {
            return Err(format!("{flag} must be a number, got NaN"));
        }
    }
    if let (Some(min), Some(max)) = (args.min_value, args.max_value) {
        if min > max {
            return Err(format!(
                "--min-value {min} is above --max-value {max}: no event could pass"
            ));
        }
    }
    if let Some(rate) = args.sample {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("--sample must be within [0, 1], got {rate}"));
        }
    }
    if args.idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err("--idle-timeout must be at least 1ms".to_owned());
    }
    Ok((size, slide))
}

/// Runs `weir run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let (size, slide) = match check(&args) {
        Ok(geometry) => geometry,
        Err(message) => clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).exit(),
    };
    let admission = Admission {
        rules: Rules {
            max_future: args.max_future,
            min_value: args.min_value,
            max_value: args.max_value,
            by_source: args.by.is_some(),
        },
        shed: Shed {
            sample: args.sample,
            buffer: args.buffer,
        },
    };
    let mut windows = Windows {
        size,
        slide,
        lateness: millis(args.lateness),
        idle: None,
        by_source: args.by.is_some(),
    };
    let Some(from) = &args.from else {
        // Files: each input's idleness is the merge's to handle.
        let stop = watch_signals();
        let source = source::files(
            &args.files,
            args.max_line,
            admission.rules,
            args.idle_timeout,
            args.quiet,
            &stop,
        );
        let source = match source {
            Ok(source) => source,
            Err(e) => return crate::common::usage("run", &e),
        };
        if let Err(e) = stdout_open() {
            return write_failure("run", &e);
        }
        let sink = Sink::lines(stdout(&args), args.by.is_some());
        let watching = match args.metrics.start("run") {
            Ok(watching) => watching,
            Err(e) => return crate::common::usage("run", &e),
        };
        return pipeline::run(source, &admission, windows, sink, stop, watching).await;
    };
    windows.idle = args.idle_timeout;
    #[cfg(feature = "redis")]
    return from_redis::run(&args, from, &admission, windows).await;
    #[cfg(not(feature = "redis"))]
    {
        let _ = (from, &mut windows);
        crate::common::unsupported("run")
    }
}

/// `weir run --from redis://...`: the source and the sink the Redis flags ask for.
#[cfg(feature = "redis")]
mod from_redis {
    use std::process::ExitCode;

    use super::RunArgs;
    use crate::admission::Admission;
    use crate::common::{failure, stdout_open, usage, write_failure};
    use crate::pipeline;
    use crate::redis::Target;
    use crate::sink::Sink;
    use crate::sink::partials::Partials;
    use crate::source;
    use crate::source::redis::RedisInput;
    use crate::windows::Windows;
    use weir::io::redis::StreamGroup;

    use super::{DEFAULT_CLAIM_IDLE, DEFAULT_GIVE_UP_AFTER, DEFAULT_GROUP};
    use crate::until_signal::watch_signals;

    pub(super) async fn run(
        args: &RunArgs,
        from: &str,
        admission: &Admission,
        windows: Windows,
    ) -> ExitCode {
        let target = match Target::parse(from) {
            Ok(target) => target,
            Err(e) => return usage("run", &format!("--from: {e}")),
        };
        let Some(consumer) = args.consumer.clone() else {
            return usage(
                "run",
                "--from needs --consumer NAME, a name that stays the same when this consumer \
                 is restarted (it then reads again what it left unacknowledged)",
            );
        };
        let to = match args.to.as_deref().map(Target::parse).transpose() {
            Ok(to) => to,
            Err(e) => return usage("run", &format!("--to: {e}")),
        };
        if let Some(to) = to.as_ref().filter(|to| to.server != target.server) {
            return usage(
                "run",
                &format!(
                    "--to {} is not on the server of --from {}: the partials and the \
                     acknowledgements of the entries they count are committed together, on \
                     one server",
                    to.shown, target.shown
                ),
            );
        }
        let give_up = args.give_up_after.unwrap_or(DEFAULT_GIVE_UP_AFTER);
        let input = RedisInput {
            target,
            group: args
                .group
                .clone()
                .unwrap_or_else(|| DEFAULT_GROUP.to_owned()),
            consumer: consumer.clone(),
            claim_idle: args.claim_idle.unwrap_or(DEFAULT_CLAIM_IDLE),
            until_idle: args.until_idle,
            give_up,
            idle: args.idle_timeout,
            size: windows.size,
            slide: windows.slide,
            lateness: windows.lateness,
            ledger: to.as_ref().map(|to| to.stream.clone()),
        };
        if !args.force {
            match source::redis::connected(&input).await {
                Ok(false) => {}
                Ok(true) => {
                    return usage(
                        "run",
                        &format!(
                            "consumer {consumer} of group {} on {}: the server lists a \
                             connection reading as it (another weir process); give another \
                             --consumer, or --force if that process will not read again",
                            input.group, input.target.shown
                        ),
                    );
                }
                Err(e) => report!("weir run: cannot tell whether {consumer} is in use: {e}"),
            }
        }
        let group = StreamGroup::new(&input.target.stream, &input.group, &consumer);
        let stop = watch_signals();
        let source = match source::redis(input, admission.rules, &stop).await {
            Ok(source) => source,
            Err(e) => return failure("run", e),
        };
        let by = args.by.is_some();
        let sink = match &to {
            None => match stdout_open() {
                Ok(()) => Sink::lines(super::stdout(args), by),
                Err(e) => return write_failure("run", &e),
            },
            Some(target) => {
                let geometry = (windows.size, windows.slide);
                let partials = Partials::connect(target, &group, give_up, geometry, by);
                match partials.await {
                    Ok(partials) => Sink::Partials(Box::new(partials)),
                    Err(e) => return failure("run", e),
                }
            }
        };
        let watching = match args.metrics.start("run") {
            Ok(watching) => watching,
            Err(e) => return usage("run", &e),
        };
        pipeline::run(source, admission, windows, sink, stop, watching).await
    }
}
