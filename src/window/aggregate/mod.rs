//! Incremental aggregates: [`Aggregate`] and the built-ins [`Count`], [`Sum`], [`Mean`], [`Min`],
//! [`Max`] and [`Summarize`].

use std::fmt;

mod moments;
#[cfg(test)]
mod tests;

pub use moments::Moments;

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
    ///
    /// A window calls this once per item, in a loop over the run of items its upstream has
    /// ready. Unless the body is trivial, mark the implementation `#[inline]`, as the
    /// built-ins are: the compiler can then inline it into that loop and keep the
    /// accumulator in registers from one item to the next. Left to itself, it may keep it a
    /// call, and each item pays the call and a round trip of the accumulator through memory.
    fn add(&self, acc: &mut Self::Acc, item: &T);

    /// Two accumulators as one (associative; `init()` is the identity).
    fn combine(&self, a: &Self::Acc, b: &Self::Acc) -> Self::Acc;

    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Output;
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
