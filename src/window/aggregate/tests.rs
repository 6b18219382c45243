//! Unit tests of the built-in aggregates and of the compensated sum.

use super::*;

#[test]
fn nan_is_skipped_and_counted_and_negatives_are_handled() {
    let stats = Summarize(|x: &f64| *x);
    let mut acc = Aggregate::<f64>::init(&stats);
    for x in [-3.0, f64::NAN, -1.5, -7.25] {
        stats.add(&mut acc, &x);
    }
    let Measured { value: s, skipped } = Aggregate::<f64>::result(&stats, &acc);
    assert_eq!(s.count, 3);
    assert_eq!(skipped, 1);
    assert_eq!(s.min, Some(-7.25));
    assert_eq!(s.max, Some(-1.5));
    assert_eq!(s.sum, -11.75);
    assert_eq!(s.mean, Some(-11.75 / 3.0));
}

#[test]
fn an_empty_window_has_no_min_max_or_mean() {
    let s = Aggregate::<f64>::result(&Summarize(|x: &f64| *x), &Moments::EMPTY).value;
    assert_eq!(
        (s.count, s.sum, s.mean, s.min, s.max),
        (0, 0.0, None, None, None)
    );
}

#[test]
fn sums_and_means_of_huge_values_stay_finite() {
    let stats = Summarize(|x: &f64| *x);
    let mut acc = Aggregate::<f64>::init(&stats);
    for x in [1.7e308, 1.7e308, -1.0e308] {
        stats.add(&mut acc, &x);
    }
    let s = Aggregate::<f64>::result(&stats, &acc).value;
    let mean = s.mean.unwrap();
    assert!((mean / 8e307 - 1.0).abs() < 1e-15, "{mean}");
    // The true sum, 2.4e308, is beyond f64::MAX.
    assert_eq!(s.sum, f64::INFINITY);
    let mut two = Moments::EMPTY;
    two.add(1.7e308);
    two.add(1.7e308);
    assert_eq!(two.mean(), Some(1.7e308));
    // Combining two panes that each hold one huge value.
    let (mut a, mut b) = (Moments::EMPTY, Moments::EMPTY);
    a.add(f64::MAX);
    b.add(f64::MAX);
    assert_eq!(a.combine(&b).mean(), Some(f64::MAX));
    assert_eq!(a.combine(&b).combine(&a).mean(), Some(f64::MAX));
    // Infinite values are summed apart.
    let mut inf = Moments::EMPTY;
    inf.add(1.0);
    inf.add(f64::INFINITY);
    assert_eq!(inf.sum(), f64::INFINITY);
    inf.add(f64::NEG_INFINITY);
    assert!(inf.sum().is_nan());
}

#[test]
fn the_sum_does_not_depend_on_the_order_of_the_values() {
    // 0.1 + 0.2 + 0.3 rounds differently in different orders when summed naively.
    let values = [0.1, 0.2, 0.3, 1e16, -1e16, 0.7, 45.06, 38.94];
    let exact_order: Vec<f64> = (0..values.len())
        .map(|rot| {
            let mut m = Moments::EMPTY;
            for i in 0..values.len() {
                m.add(values[(i + rot) % values.len()]);
            }
            m.sum()
        })
        .collect();
    assert!(
        exact_order.iter().all(|s| *s == exact_order[0]),
        "{exact_order:?}"
    );
    assert_eq!(exact_order[0], 85.3);
    let naive: Vec<f64> = (0..values.len())
        .map(|rot| {
            (0..values.len())
                .map(|i| values[(i + rot) % values.len()])
                .sum()
        })
        .collect();
    assert!(
        naive.iter().any(|s| *s != naive[0]),
        "the naive sums differ"
    );
}

#[test]
fn combine_is_associative_with_init_as_identity() {
    let mut a = Moments::EMPTY;
    a.add(1.0);
    let mut b = Moments::EMPTY;
    b.add(-2.0);
    b.add(f64::NAN);
    let mut c = Moments::EMPTY;
    c.add(5.0);
    assert_eq!(a.combine(&b).combine(&c), a.combine(&b.combine(&c)));
    assert_eq!(Moments::EMPTY.combine(&a), a);
}
