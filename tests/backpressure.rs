//! Ring buffers and samplers: exact outputs, exact drop counts, and the accounting identity.

mod common;

use common::{Script, Step, drive, drive_inspect};
use proptest::prelude::*;
use weir::POLL_BUDGET;
use weir::prelude::*;

fn gappy(steps: &str) -> Vec<Step<u32>> {
    // "01P2P34": digits are items, P is a Pending.
    steps
        .chars()
        .map(|c| match c {
            'P' => Step::Pending,
            d => Step::Item(d.to_digit(10).unwrap()),
        })
        .collect()
}

#[tokio::test]
async fn ten_ready_items_into_five_slots() {
    let s = weir::iter(0..10).drop_oldest(5);
    let stats = s.stats();
    assert_eq!(s.collect::<Vec<_>>().await, [5, 6, 7, 8, 9]);
    assert_eq!(
        stats.to_string(),
        "Received: 10, Processed: 5, Dropped: 5 (50.0% drop rate)"
    );

    let s = weir::iter(0..10).drop_newest(5);
    let stats = s.stats();
    assert_eq!(s.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    assert_eq!(stats.dropped(), 5);
    assert_eq!(stats.processed(), 5);
}

#[test]
fn capacity_one_with_pauses() {
    let (src, state) = Script::new(gappy("01P2P34"));
    let s = src.drop_oldest(1);
    let stats = s.stats();
    assert_eq!(drive(s, &state).items, [1, 2, 4]);
    assert_eq!((stats.received(), stats.dropped()), (5, 2));

    let (src, state) = Script::new(gappy("01P2P34"));
    let s = src.drop_newest(1);
    let stats = s.stats();
    assert_eq!(drive(s, &state).items, [0, 2, 3]);
    assert_eq!((stats.received(), stats.dropped()), (5, 2));
}

#[test]
fn block_drops_nothing() {
    let (src, state) = Script::new(gappy("0123P45P6789"));
    let s = src.buffer(2, Overflow::Block);
    let stats = s.stats();
    assert_eq!(drive(s, &state).items, (0..10).collect::<Vec<_>>());
    assert_eq!(stats.dropped(), 0);
    assert_eq!(stats.processed(), 10);
}

#[test]
#[should_panic(expected = "`capacity` must be at least 1")]
fn zero_capacity_panics() {
    let _ = weir::iter([1]).drop_oldest(0);
}

#[test]
fn buffered_items_outlive_the_upstream() {
    let (src, state) = Script::ready(0..3);
    let mut s = src.drop_newest(8);
    let driven = drive_inspect(&mut s, &state, |_| {});
    assert_eq!(driven.items, [0, 1, 2]);
    assert!(s.is_terminated());
    assert_eq!(s.size_hint(), (0, Some(0)));
}

#[tokio::test]
async fn sample_every_keeps_the_first_and_every_nth() {
    let s = weir::iter(0..10).sample_every(3);
    let stats = s.stats();
    assert_eq!(s.collect::<Vec<_>>().await, [0, 3, 6, 9]);
    assert_eq!((stats.processed(), stats.dropped()), (4, 6));
    let all: Vec<_> = weir::iter(0..4).sample_every(1).collect().await;
    assert_eq!(all, [0, 1, 2, 3]);
}

#[tokio::test]
async fn seeded_samples_are_reproducible_and_the_extremes_are_exact() {
    let a: Vec<u32> = weir::iter(0..1000).sample_seeded(0.3, 7).collect().await;
    let b: Vec<u32> = weir::iter(0..1000).sample_seeded(0.3, 7).collect().await;
    let c: Vec<u32> = weir::iter(0..1000).sample_seeded(0.3, 8).collect().await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let all: Vec<u32> = weir::iter(0..1000).sample(1.0).collect().await;
    assert_eq!(all.len(), 1000);
    let s = weir::iter(0..1000).sample(0.0);
    let stats = s.stats();
    assert_eq!(s.count().await, 0);
    assert_eq!(stats.dropped(), 1000);
}

#[tokio::test]
async fn bernoulli_rate_holds_within_a_wide_tolerance() {
    // 10 000 draws at 0.5: the standard deviation of the kept share is 0.5%, so 45..55% is
    // ten standard deviations wide, for every seed.
    for seed in 0..20 {
        let kept = weir::iter(0..10_000).sample_seeded(0.5, seed).count().await;
        assert!((4_500..=5_500).contains(&kept), "seed {seed}: kept {kept}");
    }
    let kept = weir::iter(0..10_000).sample(0.5).count().await;
    assert!((4_500..=5_500).contains(&kept), "kept {kept}");
}

/// The chi-square statistic of the gaps between kept items (and before the first) against
/// the geometric law of independent keeps at `rate`, and its degrees of freedom. Buckets for
/// gaps 0 to `k - 1` and one for `k` or more, with `k` at most 10 and small enough that every
/// bucket expects at least 5 gaps (the test's usual condition).
fn gap_chi_square(kept: &[u32], rate: f64) -> (f64, usize) {
    let n = kept.len() as f64;
    let miss = 1.0 - rate;
    let k = ((5.0 / n).ln() / miss.ln()).floor().clamp(1.0, 10.0) as usize;
    let mut counts = vec![0f64; k + 1];
    let mut previous: i64 = -1;
    for &i in kept {
        let gap = (i64::from(i) - previous - 1) as usize;
        counts[gap.min(k)] += 1.0;
        previous = i64::from(i);
    }
    let chi = counts
        .iter()
        .enumerate()
        .map(|(g, &observed)| {
            let p = if g < k {
                miss.powi(g as i32) * rate
            } else {
                miss.powi(k as i32)
            };
            let expected = n * p;
            (observed - expected).powi(2) / expected
        })
        .sum();
    (chi, k)
}

/// The chi-square statistic exceeded with probability 0.001, by degrees of freedom (1 to 10).
const CHI_SQUARE_0_001: [f64; 10] = [
    10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59,
];

#[tokio::test]
async fn bernoulli_keeps_at_its_rate_with_geometric_gaps() {
    // Independent keeps at rate p have gaps with P(gap = g) = (1 - p)^g * p, and the dropped
    // items, each dropped independently with probability 1 - p, have gaps of the same law
    // with 1 - p for p. The rates cover both ways the sampler draws: the gaps between kept
    // items (below 1/32) and one draw per item. The seeds are fixed, so the test is
    // deterministic; a sampler with the wrong law (keeping every other item, say, or drawing
    // gaps with the wrong parameter) lands far above the threshold.
    for (rate, seed) in [
        (0.5, 1),
        (0.1, 2),
        (0.9, 3),
        (0.3, 4),
        (0.01, 5),
        (0.99, 6),
        (0.03, 7),
        (0.97, 8),
    ] {
        let n = 200_000u32;
        let kept: Vec<u32> = weir::iter(0..n).sample_seeded(rate, seed).collect().await;
        let expected = f64::from(n) * rate;
        let sd = (expected * (1.0 - rate)).sqrt();
        let share = kept.len() as f64;
        assert!(
            (share - expected).abs() < 5.0 * sd,
            "rate {rate}: kept {share}"
        );
        let mut is_kept = vec![false; n as usize];
        for &i in &kept {
            is_kept[i as usize] = true;
        }
        let dropped: Vec<u32> = (0..n).filter(|&i| !is_kept[i as usize]).collect();
        for (which, items, p) in [("kept", &kept, rate), ("dropped", &dropped, 1.0 - rate)] {
            let (chi, df) = gap_chi_square(items, p);
            let limit = CHI_SQUARE_0_001[df - 1];
            assert!(
                chi < limit,
                "rate {rate}, seed {seed}, gaps between {which} items: chi-square {chi:.1} > \
                 {limit} ({df} df)"
            );
        }
    }
    // The statistic has teeth: every other item is the right share at 0.5, the wrong law.
    let alternate: Vec<u32> = (0..200_000).step_by(2).collect();
    assert!(gap_chi_square(&alternate, 0.5).0 > 1_000.0);
}

#[test]
fn a_sampler_dropping_everything_yields_on_its_budget() {
    let (src, state) = Script::ready(0..(3 * POLL_BUDGET as u32 + 1));
    let driven = drive(src.sample(0.0), &state);
    assert!(driven.items.is_empty());
    assert_eq!(driven.self_wakes, 3);
}

#[test]
fn bad_rates_panic_naming_the_argument() {
    for rate in [1.5, -0.1, f64::NAN] {
        let err = std::panic::catch_unwind(|| weir::iter([1]).sample(rate)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("`rate` must be within [0, 1]"), "{msg}");
    }
    let err = std::panic::catch_unwind(|| weir::iter([1]).sample_every(0)).unwrap_err();
    assert!(
        err.downcast_ref::<&str>()
            .unwrap()
            .contains("`n` must be at least 1")
    );
}

proptest! {
    /// After every poll, received == processed + dropped + buffered; at the end the output is
    /// an in-order subsequence of the input and every item is either emitted or dropped.
    #[test]
    fn accounting_holds_at_every_poll(
        steps in prop::collection::vec(prop_oneof![4 => any::<u8>().prop_map(Step::Item), 1 => Just(Step::Pending)], 0..200),
        capacity in 1usize..6,
        policy in prop_oneof![Just(Overflow::DropOldest), Just(Overflow::DropNewest), Just(Overflow::Block)],
    ) {
        let input: Vec<u8> = steps.iter().filter_map(|s| match s { Step::Item(x) => Some(*x), _ => None }).collect();
        let (src, state) = Script::new(steps);
        let s = src.buffer(capacity, policy);
        let stats = s.stats();
        let mut checked = 0;
        let driven = drive_inspect(s, &state, |s| {
            assert_eq!(stats.received(), stats.processed() + stats.dropped() + s.buffered());
            assert!(s.buffered() <= capacity);
            checked += 1;
        });
        prop_assert!(checked > 0);
        prop_assert_eq!(driven.items.len() + stats.dropped(), input.len());
        if policy == Overflow::Block {
            prop_assert_eq!(&driven.items, &input);
        }
        let mut rest = input.iter();
        for x in &driven.items {
            prop_assert!(rest.any(|y| y == x), "output is not an in-order subsequence");
        }
    }
}

mod latest {
    use std::time::Duration;

    use tokio::time::{Instant, sleep_until};
    use weir::prelude::*;

    /// Sends each `(ms, item)` at that instant, ends the stream at `end_ms`, and returns what
    /// `sample_latest(100 ms)` yields, with the instants, plus the drop count.
    async fn timeline(sends: &[(u64, char)], end_ms: u64) -> (Vec<(u64, char)>, usize) {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let start = Instant::now();
        let sends = sends.to_vec();
        tokio::spawn(async move {
            for (at, item) in sends {
                sleep_until(start + Duration::from_millis(at)).await;
                tx.send(item).await.unwrap();
            }
            sleep_until(start + Duration::from_millis(end_ms)).await;
        });
        let s = weir::from_receiver(rx).sample_latest(Duration::from_millis(100));
        let stats = s.stats();
        let mut s = pin!(s);
        let mut out = Vec::new();
        while let Some(item) = s.next().await {
            out.push((start.elapsed().as_millis() as u64, item));
        }
        assert_eq!(
            stats.received(),
            stats.processed() + stats.dropped(),
            "everything received is emitted or dropped once the stream ends"
        );
        (out, stats.dropped())
    }

    #[tokio::test(start_paused = true)]
    async fn the_latest_item_of_each_interval() {
        // The timeline in `SampleLatest`'s docs.
        let sends = [
            (10, 'a'),
            (40, 'b'),
            (130, 'c'),
            (310, 'e'),
            (350, 'f'),
            (410, 'd'),
        ];
        let (out, dropped) = timeline(&sends, 420).await;
        assert_eq!(out, [(100, 'b'), (200, 'c'), (400, 'f'), (420, 'd')]);
        assert_eq!(dropped, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_intervals_yield_nothing_and_the_grid_holds() {
        let (out, dropped) = timeline(&[(10, 'a'), (750, 'b'), (760, 'c')], 1000).await;
        assert_eq!(out, [(100, 'a'), (800, 'c')]);
        assert_eq!(dropped, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_waiting_at_the_end_means_no_flush() {
        let (out, _) = timeline(&[(10, 'a')], 500).await;
        assert_eq!(out, [(100, 'a')]);
    }

    #[test]
    #[should_panic(expected = "`interval` must be longer than zero")]
    fn zero_interval_panics() {
        let _ = weir::iter([1]).sample_latest(Duration::ZERO);
    }
}

mod adaptive {
    use std::cell::Cell;
    use std::rc::Rc;

    use weir::adapters::{Adaptive, AdaptiveRates};
    use weir::prelude::*;

    async fn kept_at(load: f64, n: u32) -> usize {
        let gauge = move || load;
        weir::iter(0..n)
            .sample_with(Adaptive::seeded(gauge, AdaptiveRates::default(), 3))
            .count()
            .await
    }

    #[tokio::test]
    async fn the_rate_follows_the_load() {
        assert_eq!(kept_at(0.0, 10_000).await, 10_000);
        assert_eq!(kept_at(0.49, 10_000).await, 10_000);
        let half = kept_at(0.6, 10_000).await;
        assert!((4_500..=5_500).contains(&half), "{half}");
        let tenth = kept_at(0.8, 10_000).await;
        assert!((800..=1_200).contains(&tenth), "{tenth}");
        let nan = kept_at(f64::NAN, 10_000).await;
        assert!(
            (800..=1_200).contains(&nan),
            "NaN counts as overload: {nan}"
        );
    }

    #[tokio::test]
    async fn the_gauge_is_read_per_item() {
        // Load rises from 0 to 1 over the run: the first half passes untouched.
        let i = Rc::new(Cell::new(0u32));
        let seen = i.clone();
        let gauge = move || {
            seen.set(seen.get() + 1);
            f64::from(seen.get()) / 1000.0
        };
        let kept: Vec<u32> = weir::iter(0..1000).sample_adaptive(gauge).collect().await;
        assert_eq!(i.get(), 1000);
        assert_eq!(&kept[..499], &(0..499).collect::<Vec<_>>()[..]);
        assert!(kept.len() < 1000);
    }

    #[test]
    fn bad_rates_panic_naming_the_argument() {
        let bad = AdaptiveRates {
            high_rate: 1.5,
            ..AdaptiveRates::default()
        };
        let err = std::panic::catch_unwind(|| Adaptive::new(|| 0.0, bad)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("`high_rate` must be within [0, 1]"), "{msg}");
        let inverted = AdaptiveRates {
            low_load: 0.9,
            high_load: 0.5,
            ..AdaptiveRates::default()
        };
        assert!(std::panic::catch_unwind(|| Adaptive::new(|| 0.0, inverted)).is_err());
    }
}
