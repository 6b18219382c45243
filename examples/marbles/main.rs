//! Draws every operator's marble diagram from a real run: `cargo run --example marbles`.
//!
//! Each diagram runs the operator on a scripted source on tokio's paused clock and records
//! what went in and what came out, when. It writes `docs/operators/marbles/NAME.svg` (shown
//! in `docs/operators/*.md`) and `NAME.txt` (the ASCII rendering the operators' rustdoc
//! includes). `tests/marbles.rs` draws them again and fails, naming the operator, when a
//! committed file differs: they cannot drift from the code.
//!
//! A new diagram whose text an operator's rustdoc includes needs its `.txt` to exist (empty
//! will do) before the library builds: create it, then run this.

mod diagrams;
mod marble;

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operators/marbles");
    std::fs::create_dir_all(&dir).expect("creating docs/operators/marbles");
    for diagram in diagrams::all() {
        std::fs::write(dir.join(format!("{}.txt", diagram.name)), diagram.ascii())
            .expect("writing a diagram");
        std::fs::write(dir.join(format!("{}.svg", diagram.name)), diagram.svg())
            .expect("writing a diagram");
        println!("{}", diagram.ascii());
    }
}
