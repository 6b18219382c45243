//! Unit tests of the pane bookkeeping: geometry, budgeted window assembly, the end of time.

use super::geometry::Geometry;
use super::panes::Panes;
use crate::window::Count;

fn drain(panes: &mut Panes<u64>) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut budget = usize::MAX;
    while let Some((k, (_, n))) = panes.next_window::<u64, _>(&Count, &mut budget) {
        let (start, end) = panes.geometry().window_ms(k);
        out.push((start, end, n));
    }
    out
}

#[test]
fn the_shift_puts_window_starts_at_the_offset() {
    // size 10, slide 4, offset 1: windows start at ..., -7, -3, 1, 5, 9, 13, ...
    let mut g = Geometry::new(10, 4);
    g.set_offset(1);
    let starts: Vec<_> = (0..5).map(|k| g.window_ms(k)).collect();
    assert_eq!(starts, [(0, 3), (0, 7), (1, 11), (5, 15), (9, 19)]);
    // An item at 0 lies in the first two windows, which reach back before 0.
    assert_eq!(g.first_window_of(g.pane_of(0)), 0);
    assert_eq!(g.first_window_of(g.pane_of(12)), 3);
}

#[test]
fn panes_at_the_end_of_time() {
    // size 10, slide 3: 1 ms panes, shifted by 9 so that windows reaching back before 0
    // have k >= 0; the pane of u64::MAX then lies past u64::MAX in pane space.
    let g = Geometry::new(10, 3);
    let pane = g.pane_of(u64::MAX);
    assert_eq!(pane, u128::from(u64::MAX) + 9);
    assert_eq!(g.pane_span(pane), (u64::MAX, 1));
    // Its first window starts 9 ms before it and would end past u64::MAX: clamped.
    let (start, end) = g.window_ms(g.first_window_of(pane));
    assert_eq!((start, end), (u64::MAX - 9, u64::MAX));
    assert_eq!(g.watermark_pane(u64::MAX, u64::MAX), 9);
    assert_eq!(g.next_watermark_ts(pane, 0), u64::MAX);
}

#[test]
fn steps_are_bounded_by_the_budget() {
    let g = Geometry::new(1_000, 1);
    let mut panes = Panes::new(g, (0u64, 0));
    assert!(panes.add(&Count, 5, &5u64));
    panes.close(u128::MAX);
    let mut budget = 10;
    assert!(panes.next_window::<u64, _>(&Count, &mut budget).is_none());
    assert_eq!(budget, 0);
    assert_eq!(drain(&mut panes).len(), 1_000);
}

#[test]
fn gap_windows_between_windows_that_saw_items() {
    let g = Geometry::new(10, 10);
    let mut panes = Panes::new(g, (0u64, 0));
    panes.set_emit_empty();
    panes.add(&Count, 5, &0u64);
    panes.add(&Count, 35, &0u64);
    panes.close(u128::MAX);
    assert_eq!(
        drain(&mut panes),
        [(0, 10, 1), (10, 20, 0), (20, 30, 0), (30, 40, 1)]
    );
}
