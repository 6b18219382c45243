//! [`Moments`]: the accumulator of the numeric built-ins, with a compensated, rescaling sum.

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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// The fields are laid out so that `min` and `max` are not side by side, nor the sum's `hi`
// and `lo`: adjacent, LLVM packs each pair into one vector register in a window's loop, which
// chains the two running values' dependencies into one.
#[repr(C)]
pub struct Moments {
    /// Smallest value (`+inf` while empty).
    pub min: f64,
    /// Values added (NaN excluded).
    pub count: u64,
    /// Largest value (`-inf` while empty).
    pub max: f64,
    /// NaN values skipped.
    pub skipped: u64,
    sum: CompensatedSum,
}

/// `(hi + lo) * 2^exp`, plus the infinite values apart.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(C)]
struct CompensatedSum {
    hi: f64,
    infinite: f64,
    lo: f64,
    exp: i32,
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
        if self.exp == 0 && self.try_add_scaled(x) {
            return;
        }
        *self = self.add_cold(x);
    }

    /// Adds `scaled`, a value already in the sum's scale, unless the sum would overflow;
    /// whether it added.
    #[inline(always)]
    fn try_add_scaled(&mut self, scaled: f64) -> bool {
        let (s, e) = two_sum(self.hi, scaled);
        let fits = s.is_finite();
        if fits {
            self.hi = s;
            self.lo += e;
        }
        fits
    }

    /// The sum is scaled, `x` is infinite, or the sum would overflow. By value: given a
    /// reference to the sum, the caller would keep the sum in memory instead of registers on
    /// the common path too. Out of line, so that an `add` that calls this stays small enough
    /// to be inlined where it is used.
    #[cold]
    #[inline(never)]
    fn add_cold(mut self, x: f64) -> CompensatedSum {
        if x.is_infinite() {
            self.infinite += x;
            return self;
        }
        if !self.try_add_scaled(scale(x, -self.exp)) {
            self.rescale(self.exp + RESCALE);
            let added = self.try_add_scaled(scale(x, -self.exp));
            debug_assert!(added, "a finite value overflowed a sum just scaled down");
        }
        self
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
            // Plain comparisons, which compile to one `minsd` / `maxsd` each: `value` is not
            // NaN here and neither bound ever is, so they give `f64::min` / `f64::max`'s answer
            // without their NaN handling.
            if value < self.min {
                self.min = value;
            }
            if value > self.max {
                self.max = value;
            }
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
