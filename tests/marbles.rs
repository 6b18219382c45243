//! The marble diagrams in `docs/operators/marbles/` are drawn from real runs of the operators
//! (`cargo run --example marbles`). This test draws them again and fails, naming the
//! operator, when a committed diagram differs from what the code does now.

#[path = "../examples/marbles/diagrams.rs"]
mod diagrams;
#[path = "../examples/marbles/marble.rs"]
mod marble;

use std::path::Path;

#[test]
fn committed_marble_diagrams_match_the_operators() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operators/marbles");
    let mut stale = Vec::new();
    for diagram in diagrams::all() {
        for (ext, drawn) in [("txt", diagram.ascii()), ("svg", diagram.svg())] {
            let path = dir.join(format!("{}.{ext}", diagram.name));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != drawn {
                stale.push(format!("{} ({ext})", diagram.name));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these marble diagrams differ from what the operators do now: {}; \
         run `cargo run --example marbles` and look at the diff",
        stale.join(", ")
    );
}

#[test]
fn diagrams_have_distinct_names() {
    let mut names: Vec<&str> = diagrams::all().iter().map(|d| d.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
}

#[test]
fn scripts_read_marble_notation() {
    let (items, end) = marble::script("a@10 b@40ms |@120");
    assert_eq!(items, [(10, "a".to_owned()), (40, "b".to_owned())]);
    assert_eq!(end, 120);
}

#[test]
#[should_panic(expected = "script: `b40` is not `label@ms`")]
fn a_script_without_times_is_refused() {
    let _ = marble::script("a@10 b40 |@50");
}
