//! `weir`: real-time event stream processing from the command line.
//!
//! - `weir` or `weir demo`: a pipeline over simulated sources, with a report.
//! - `weir run [FILE ...]`: JSON lines of events in (stdin when no file or `-`), one JSON line
//!   per closed window out; or the entries of a Redis stream (`--from redis://...`).
//! - `weir produce`: simulated events, as JSON lines or to a Redis stream.
//! - `weir combine`: the final windows of several `weir run --to redis://...` consumers.
//!
//! `weir run` is one pipeline, source -> admission -> windows -> sink (see `pipeline.rs` and
//! docs/ARCHITECTURE.md). This file only parses the arguments and dispatches.

#[macro_use]
mod common;

mod admission;
mod combine;
mod demo;
mod names;
mod observe;
mod pipeline;
mod produce;
mod reading;
#[cfg(feature = "redis")]
mod redis;
mod run;
mod sink;
mod source;
mod until_signal;
mod windows;

use std::process::ExitCode;

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
    Run(Box<run::RunArgs>),
    /// Write simulated sensor events as JSON lines, or to a Redis stream.
    Produce(produce::ProduceArgs),
    /// Merge the partial windows that several `weir run --to redis://...` consumers wrote.
    Combine(combine::CombineArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => demo::demo(demo::DemoArgs::default()).await,
        Some(Command::Demo(args)) => demo::demo(args).await,
        Some(Command::Run(args)) => run::run(*args).await,
        Some(Command::Produce(args)) => produce::produce(args).await,
        Some(Command::Combine(args)) => combine::combine(args).await,
    }
}
