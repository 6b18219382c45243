//! Loom models of the windows' [`Underway`] flag, raised and lowered from another thread.

use super::Underway;
use crate::sync::{model, thread};

/// Invariant: no busy period is missed. A window takes its mark, a source on another
/// thread raises and lowers the flag while the window looks: once the source is done,
/// the window sees that the flag moved since its mark, and that it is down.
#[test]
fn a_raise_on_another_thread_is_never_missed() {
    model(|| {
        let underway = Underway::new();
        let mut mark = underway.mark();
        let source = {
            let underway = underway.clone();
            thread::spawn(move || {
                let guard = underway.raise();
                drop(guard);
            })
        };
        // A look while the source may be anywhere: whatever it saw, the look after the
        // source is done sees the raise or the lower still to come.
        let first = underway.busy_since(&mut mark);
        source.join().unwrap();
        let second = underway.busy_since(&mut mark);
        assert!(first || second, "the raise was missed");
        assert!(!underway.is_raised());
    });
}

/// Invariant: conservation of guards. Two sources raise and lower at once: when both
/// are done the flag is down, and while one holds its guard it is up.
#[test]
fn guards_raised_on_two_threads_all_come_down() {
    model(|| {
        let underway = Underway::new();
        let other = {
            let underway = underway.clone();
            thread::spawn(move || {
                let guard = underway.raise();
                drop(guard);
            })
        };
        let guard = underway.raise();
        assert!(underway.is_raised());
        drop(guard);
        other.join().unwrap();
        assert!(!underway.is_raised());
    });
}

/// Invariant: the latest instant heard is never lost. Two readers on two threads hear at
/// once, the earlier answer last or first: once both are done, quiet counts up to the later.
#[test]
fn the_latest_instant_heard_wins_whatever_the_order() {
    model(|| {
        let underway = Underway::vouching();
        let made = underway.quiet_until().unwrap();
        let (early, late) = (
            made + std::time::Duration::from_millis(1),
            made + std::time::Duration::from_millis(2),
        );
        let other = {
            let underway = underway.clone();
            thread::spawn(move || underway.heard(late))
        };
        underway.heard(early);
        other.join().unwrap();
        assert_eq!(underway.quiet_until(), Some(late));
    });
}
