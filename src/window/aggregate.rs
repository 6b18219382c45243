//! Incremental aggregates: [`Aggregate`] and the built-ins [`Count`], [`Sum`], [`Mean`], [`Min`],
//! [`Max`] and [`Summarize`].

use std::fmt;

/// An incremental aggregation, in the spirit of Flink's `AggregateFunction`: an accumulator is
/// created empty, items are added one at a time, two accumulators can be combined, and a
/// result is read at the end. Windows keep accumulators only, never the items.
///
/// `combine` must be associative, with [`init`](Self::init) as its identity: sliding windows
/// combine per-pane accumulators in any grouping.
///
/// # Example: a count per key
///
/// ```
/// use std::collections::HashMap;
/// use weir::window::Aggregate;
///
/// /// Counts events per source name.
/// struct CountBySource;
///
/// impl Aggregate<(String, f64)> for CountBySource {
///     type Acc = HashMap<String, u64>;
///     type Output = HashMap<String, u64>;
///
///     fn init(&self) -> Self::Acc {
///         HashMap::new()
///     }
///     fn add(&self, acc: &mut Self::Acc, item: &(String, f64)) {
///         *acc.entry(item.0.clone()).or_default() += 1;
///     }
///     fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc {
///         let mut sum = a.clone();
///         for (k, n) in b {
///             *sum.entry(k.clone()).or_default() += n;
///         }
///         sum
///     }
///     fn result(&self, acc: &Self::Acc) -> Self::Output {
///         acc.clone()
///     }
/// }
///
/// let agg = CountBySource;
/// let mut acc = agg.init();
/// agg.add(&mut acc, &("sensor-1".into(), 0.5));
/// agg.add(&mut acc, &("sensor-1".into(), 0.7));
/// assert_eq!(agg.result(&acc)["sensor-1"], 2);
/// ```
pub trait Aggregate<T> {
    /// The running state.
    type Acc: Clone;
    /// What a window reports.
    type Output;

    /// An empty accumulator.
    fn init(&self) -> Self::Acc;

    /// Adds one item.
    fn add(&self, acc: &mut Self::Acc, item: &T);

    /// Two accumulators as one (associative; `init()` is the identity).
    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc;

    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Output;
}

/// The accumulator of every numeric built-in: count, sum, min and max of the values seen, and
/// how many NaN values were skipped.
///
/// # The sum
///
/// The sum is kept compensated (a running sum and the rounding error of each addition, Knuth's
/// TwoSum), so that [`sum`](Self::sum) and [`mean`](Self::mean) are the exact result
/// rounded once, in all but pathological cases, whatever order the values came in and however
/// panes were combined: the same values give the same digits. It is also scaled by a power of
/// two when it would overflow, so the mean of finite values is always finite (two values of
/// `1.7e308` have mean `1.7e308`), and the sum is infinite only when the true sum is beyond
/// `f64::MAX`. Infinite values are summed apart: a sum with `+inf` is `+inf`, with both
/// signs NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Values added (NaN excluded).
    pub count: u64,
    /// NaN values skipped.
    pub skipped: u64,
    /// Smallest value (`+inf` while empty).
    pub min: f64,
    /// Largest value (`-inf` while empty).
    pub max: f64,
    sum: CompensatedSum,
}

/// `(hi + lo) * 2^exp`, plus the infinite values apart.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CompensatedSum {
    hi: f64,
    lo: f64,
    exp: i32,
    infinite: f64,
}

/// How far a sum is scaled down each time it would overflow.
const RESCALE: i32 = 64;

/// `a + b` and its rounding error, exactly (Knuth's TwoSum, no branch).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

impl CompensatedSum {
    const ZERO: CompensatedSum = CompensatedSum {
        hi: 0.0,
        lo: 0.0,
        exp: 0,
        infinite: 0.0,
    };

    #[inline(always)]
    fn add(&mut self, x: f64) {
        let scaled = if self.exp == 0 {
            x
        } else {
            scale(x, -self.exp)
        };
        let (s, e) = two_sum(self.hi, scaled);
        if s.is_finite() {
            self.hi = s;
            self.lo += e;
        } else {
            self.add_cold(x);
        }
    }

    /// `x` is infinite, or the sum would overflow.
    #[cold]
    #[inline(never)]
    fn add_cold(&mut self, x: f64) {
        if x.is_infinite() {
            self.infinite += x;
            return;
        }
        self.rescale(self.exp + RESCALE);
        let (s, e) = two_sum(self.hi, scale(x, -self.exp));
        self.hi = s;
        self.lo += e;
    }

    /// Expresses the sum with the exponent `exp` (not below the current one).
    fn rescale(&mut self, exp: i32) {
        let by = self.exp - exp;
        self.hi = scale(self.hi, by);
        self.lo = scale(self.lo, by);
        self.exp = exp;
    }

    #[inline(always)]
    fn combine(&self, other: &CompensatedSum) -> CompensatedSum {
        if self.exp == other.exp {
            let (s, e) = two_sum(self.hi, other.hi);
            if s.is_finite() {
                return CompensatedSum {
                    hi: s,
                    lo: self.lo + other.lo + e,
                    exp: self.exp,
                    infinite: self.infinite + other.infinite,
                };
            }
        }
        self.combine_cold(other)
    }

    /// [`combine`](Self::combine) of sums at different scales, or that would overflow.
    #[cold]
    #[inline(never)]
    fn combine_cold(&self, other: &CompensatedSum) -> CompensatedSum {
        let (mut a, mut b) = (*self, *other);
        let exp = a.exp.max(b.exp);
        a.rescale(exp);
        b.rescale(exp);
        let (mut s, mut e) = two_sum(a.hi, b.hi);
        if !s.is_finite() {
            a.rescale(exp + RESCALE);
            b.rescale(exp + RESCALE);
            (s, e) = two_sum(a.hi, b.hi);
        }
        CompensatedSum {
            hi: s,
            lo: a.lo + b.lo + e,
            exp: a.exp,
            infinite: a.infinite + b.infinite,
        }
    }

    /// The sum divided by `divisor`, rounded once at the end.
    fn value(&self, divisor: f64) -> f64 {
        if self.infinite != 0.0 {
            return self.infinite;
        }
        scale((self.hi + self.lo) / divisor, self.exp)
    }
}

/// `x * 2^exp`, exactly (unless the result is outside the range of `f64`).
fn scale(x: f64, exp: i32) -> f64 {
    // 2^exp in at most two steps, each a normal power of two.
    let step = exp.clamp(-1022, 1023);
    let x = x * pow2(step);
    if step == exp {
        x
    } else {
        x * pow2((exp - step).clamp(-1022, 1023))
    }
}

/// `2^exp` for `exp` in the normal range, from its bits.
fn pow2(exp: i32) -> f64 {
    let biased = u64::try_from(exp + 1023).expect("a normal exponent");
    f64::from_bits(biased << 52)
}

impl Moments {
    /// No values.
    pub const EMPTY: Moments = Moments {
        count: 0,
        skipped: 0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        sum: CompensatedSum::ZERO,
    };

    /// Adds `value`, or counts it as skipped if it is NaN.
    #[inline]
    pub fn add(&mut self, value: f64) {
        if value.is_nan() {
            self.skipped += 1;
        } else {
            self.count += 1;
            self.sum.add(value);
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
    }

    /// Both sets of values.
    #[inline]
    pub fn combine(&self, other: &Moments) -> Moments {
        Moments {
            count: self.count + other.count,
            skipped: self.skipped + other.skipped,
            sum: self.sum.combine(&other.sum),
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    /// The sum of the values (0.0 when empty); see [The sum](Self#the-sum).
    pub fn sum(&self) -> f64 {
        self.sum.value(1.0)
    }

    /// The mean, `None` when empty; finite whenever the values are.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum.value(self.count as f64))
    }

    /// The minimum, `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The maximum, `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
}

/// A result with the number of NaN values that were skipped to get it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured<V> {
    /// The result.
    pub value: V,
    /// NaN values skipped.
    pub skipped: u64,
}

/// Everything [`Summarize`] reports, as the `value` of a [`Measured`] (which holds the NaN values
/// skipped, as for every numeric built-in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Values counted (NaN excluded).
    pub count: u64,
    /// Sum (0.0 when empty).
    pub sum: f64,
    /// Mean, `None` when empty.
    pub mean: Option<f64>,
    /// Minimum, `None` when empty.
    pub min: Option<f64>,
    /// Maximum, `None` when empty.
    pub max: Option<f64>,
}

/// A built-in's struct: a value extractor, and a `Debug` that names the aggregate (closures
/// have none).
macro_rules! extractor_struct {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<F>(pub F);

        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

/// Defines a numeric built-in: a struct over a value extractor, [`Moments`] as accumulator.
macro_rules! numeric_aggregate {
    ($(#[$doc:meta])* $name:ident, $output:ty, |$m:ident| $result:expr) => {
        extractor_struct!($(#[$doc])* $name);

        impl<T, F: Fn(&T) -> f64> Aggregate<T> for $name<F> {
            type Acc = Moments;
            type Output = $output;

            #[inline]
            fn init(&self) -> Moments {
                Moments::EMPTY
            }

            #[inline]
            fn add(&self, acc: &mut Moments, item: &T) {
                acc.add((self.0)(item));
            }

            #[inline]
            fn combine(&self, a: &Moments, b: &Moments) -> Moments {
                a.combine(b)
            }

            fn result(&self, $m: &Moments) -> $output {
                $result
            }
        }
    };
}

numeric_aggregate!(
    /// The sum of the values `F` extracts; NaN values are skipped and counted.
    Sum, Measured<f64>, |m| Measured { value: m.sum(), skipped: m.skipped }
);
numeric_aggregate!(
    /// The mean of the values `F` extracts (`None` for an empty window).
    Mean, Measured<Option<f64>>, |m| Measured { value: m.mean(), skipped: m.skipped }
);
/// The accumulator of [`Min`] and [`Max`]: the extreme value seen (`+inf` for a minimum,
/// `-inf` for a maximum while empty), how many values it was taken over, how many NaN values
/// were skipped. A third of the size of [`Moments`], which matters to sliding windows: they
/// queue one accumulator per pane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extremum {
    /// Values seen (NaN excluded).
    pub count: u64,
    /// NaN values skipped.
    pub skipped: u64,
    /// The smallest (for [`Min`]) or largest (for [`Max`]) value.
    pub value: f64,
}

/// Defines [`Min`] or [`Max`] over [`Extremum`].
macro_rules! extremum_aggregate {
    ($(#[$doc:meta])* $name:ident, $empty:expr, $pick:ident) => {
        extractor_struct!($(#[$doc])* $name);

        impl<T, F: Fn(&T) -> f64> Aggregate<T> for $name<F> {
            type Acc = Extremum;
            type Output = Measured<Option<f64>>;

            #[inline]
            fn init(&self) -> Extremum {
                Extremum { count: 0, skipped: 0, value: $empty }
            }

            #[inline]
            fn add(&self, acc: &mut Extremum, item: &T) {
                let value = (self.0)(item);
                if value.is_nan() {
                    acc.skipped += 1;
                } else {
                    acc.count += 1;
                    acc.value = acc.value.$pick(value);
                }
            }

            #[inline]
            fn combine(&self, a: &Extremum, b: &Extremum) -> Extremum {
                Extremum {
                    count: a.count + b.count,
                    skipped: a.skipped + b.skipped,
                    value: a.value.$pick(b.value),
                }
            }

            fn result(&self, acc: &Extremum) -> Measured<Option<f64>> {
                Measured {
                    value: (acc.count > 0).then_some(acc.value),
                    skipped: acc.skipped,
                }
            }
        }
    };
}

extremum_aggregate!(
    /// The true minimum of the values `F` extracts (`None` for an empty window).
    Min, f64::INFINITY, min
);
extremum_aggregate!(
    /// The true maximum of the values `F` extracts, correct for all-negative values (`None`
    /// for an empty window).
    Max, f64::NEG_INFINITY, max
);
numeric_aggregate!(
    /// Count, sum, mean, min and max of the values `F` extracts, in one pass.
    Summarize, Measured<Summary>, |m| Measured {
        value: Summary {
            count: m.count,
            sum: m.sum(),
            mean: m.mean(),
            min: m.min(),
            max: m.max(),
        },
        skipped: m.skipped,
    }
);

/// The number of items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<T> Aggregate<T> for Count {
    type Acc = u64;
    type Output = u64;

    #[inline]
    fn init(&self) -> u64 {
        0
    }

    #[inline]
    fn add(&self, acc: &mut u64, _item: &T) {
        *acc += 1;
    }

    #[inline]
    fn combine(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

#[cfg(test)]
mod tests {
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
}
