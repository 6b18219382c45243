//! Where `weir run`'s readings come from: files and stdin (`files/`), or a Redis stream
//! through a consumer group (`redis.rs`). A [`Source`] is its readings, admitted by the
//! rules of admission where they are parsed, the names of their sources, and a [`Control`]:
//! what the pipeline asks of the source as windows are written (which entries to
//! acknowledge), what it has counted so far ([`Progress`]), and what it hands back at the end
//! ([`Finished`]).

pub(crate) mod files;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use crate::admission::Rules;
use crate::names::SourceNames;
use crate::observe::RedisCounts;
use crate::reading::{Done, Readings, Tally};
use crate::until_signal::Stop;
#[cfg(feature = "redis")]
use crate::until_signal::UntilSignal;

/// A source, as the pipeline takes it.
pub(crate) struct Source<R> {
    pub(crate) readings: R,
    /// The sources' names, by the numbers the readings carry.
    pub(crate) names: Rc<RefCell<SourceNames>>,
    pub(crate) control: Control,
}

/// Files (stdin when none, or `-`), lines of at most `max_line` bytes, merged by event time;
/// an input silent for `idle` stops holding the others back. Or which input cannot be opened,
/// and why.
pub(crate) fn files(
    paths: &[impl AsRef<Path>],
    max_line: usize,
    rules: Rules,
    idle: Option<Duration>,
    quiet: bool,
    stop: &Stop,
) -> Result<Source<impl Readings>, String> {
    let (readings, names, files) = files::open(paths, max_line, rules, idle, quiet, stop)?;
    Ok(Source {
        readings,
        names,
        control: Control::Files(files),
    })
}

/// The entries of a Redis stream, read through a consumer group; or what failed (the server
/// out of reach for the whole give-up time).
#[cfg(feature = "redis")]
pub(crate) async fn redis(
    input: redis::RedisInput,
    rules: Rules,
    stop: &Stop,
) -> Result<Source<impl Readings>, String> {
    let (readings, names, acks) = redis::open(input, rules).await?;
    Ok(Source {
        readings: UntilSignal::new(readings, stop.clone()),
        names,
        control: Control::Redis(acks),
    })
}

/// What the pipeline asks of a source besides its readings.
pub(crate) enum Control {
    Files(files::Files),
    #[cfg(feature = "redis")]
    Redis(redis::Acks),
}

/// What a source hands back once its readings are dropped.
pub(crate) struct Finished {
    pub(crate) tally: Tally,
    pub(crate) origin: Origin,
    /// A Redis consumer's entries acknowledged and dead-lettered.
    pub(crate) redis: Option<RedisCounts>,
    /// Every input could be read to where the run stopped (what failed was reported).
    pub(crate) read: bool,
}

/// What the source read from, for the summary.
pub(crate) enum Origin {
    /// Lines of files or stdin.
    Lines,
    /// Entries of a Redis stream, read as `consumer`.
    #[cfg(feature = "redis")]
    Entries { from: String, consumer: String },
}

/// What a source has counted so far, read from its stages as it runs.
pub(crate) struct Progress {
    pub(crate) tally: Tally,
    pub(crate) origin: Origin,
    /// Each input's name, and the latest event time it handed on.
    pub(crate) inputs: Vec<(String, Option<u64>)>,
    /// A Redis consumer's entries acknowledged, dead-lettered and held.
    pub(crate) redis: Option<RedisCounts>,
}

impl Control {
    /// What the source has counted so far.
    pub(crate) fn progress(&self) -> Progress {
        match self {
            Control::Files(files) => {
                let (tally, inputs) = files.progress();
                Progress {
                    tally,
                    origin: Origin::Lines,
                    inputs: inputs
                        .into_iter()
                        .map(|(name, latest)| (name.to_owned(), latest))
                        .collect(),
                    redis: None,
                }
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => {
                let (progress, counts) = acks.progress();
                Progress {
                    tally: progress.tally,
                    origin: Origin::Entries {
                        from: acks.from().to_owned(),
                        consumer: acks.consumer().to_owned(),
                    },
                    inputs: vec![(acks.from().to_owned(), progress.latest)],
                    redis: Some(counts),
                }
            }
        }
    }

    /// The error the source gave up on (the server out of reach too long), once it has.
    pub(crate) fn gave_up(&mut self) -> Option<String> {
        match self {
            Control::Files(_) => None,
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.gave_up(),
        }
    }

    /// Whether the source holds readings that windows ending at or after `settled` may still
    /// count (or may still read some).
    pub(crate) fn holding(&self, settled: u64) -> bool {
        match self {
            Control::Files(_) => {
                let _ = settled;
                false
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.holding(settled),
        }
    }

    /// The windows ending before `settled` (every window with `None`) are about to be
    /// written, and the first `handled` readings the source handed on have reached the
    /// windows or been dropped: the source lets go of what they held, and names the entries
    /// to acknowledge once they are (none for files).
    pub(crate) fn done(&mut self, settled: Option<u64>, handled: u64) -> Done {
        match self {
            Control::Files(_) => {
                let _ = (settled, handled);
                Done::new()
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.done(settled, handled),
        }
    }

    /// The source's flag for entries read and waiting to go out (none for files): see
    /// `RedisSource::underway`.
    pub(crate) fn underway(&self) -> Option<weir::window::Underway> {
        match self {
            Control::Files(_) => None,
            #[cfg(feature = "redis")]
            Control::Redis(acks) => Some(acks.underway()),
        }
    }

    /// How many of its claims counted in the ledger the source has handed out whole (none
    /// for files): their entries are in the windows, or late and handed on.
    pub(crate) fn claims(&self) -> u64 {
        match self {
            Control::Files(_) => 0,
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.claims(),
        }
    }

    /// Readings replayed outside the windows since the last call (entries another consumer,
    /// or this one before a restart, held), each with the end before which their windows
    /// were committed already; none for files.
    pub(crate) fn replayed(&self) -> Vec<(crate::reading::Reading, u64)> {
        match self {
            Control::Files(_) => Vec::new(),
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.replayed(),
        }
    }

    /// The commits of the first `batches` batches [`done`](Self::done) named are applied
    /// (their entries acknowledged with them): until then, an entry of theirs delivered
    /// again is known for one.
    pub(crate) fn committed(&mut self, batches: u64) {
        match self {
            Control::Files(_) => {
                let _ = batches;
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.committed(batches),
        }
    }

    /// Acknowledges the entries [`done`](Self::done) named, now that their windows are
    /// written.
    pub(crate) fn acknowledge(&mut self, ids: Done) {
        match self {
            Control::Files(_) => {
                let _ = ids;
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => acks.acknowledge(ids),
        }
    }

    /// Once the readings are dropped: what the source counted, or why it could not finish
    /// (acknowledgements that did not reach the server).
    pub(crate) async fn finish(self) -> Result<Finished, String> {
        match self {
            Control::Files(files) => {
                let (tally, read) = files.finish();
                Ok(Finished {
                    tally,
                    origin: Origin::Lines,
                    redis: None,
                    read,
                })
            }
            #[cfg(feature = "redis")]
            Control::Redis(acks) => {
                let (from, consumer) = (acks.from().to_owned(), acks.consumer().to_owned());
                let (tally, counts) = acks.finish().await?;
                Ok(Finished {
                    tally,
                    origin: Origin::Entries { from, consumer },
                    redis: Some(counts),
                    read: true,
                })
            }
        }
    }
}
