//! [`TryStreamOps`]: the operators and consumers of streams of `Result`s.

use futures_core::Stream;

use crate::adapters::SkipErrors;
use crate::consume::{TryCollectFuture, TryFoldFuture, TryForEachFuture};
use crate::stats::ErrorStats;
use crate::sync::Arc;

/// Operators and consumers for every stream of `Result`s: stop at the first error
/// (`try_collect`, `try_fold`, `try_for_each`), or skip the errors and count them
/// (`skip_errors`). In the prelude.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use weir::prelude::*;
///
/// let results = || weir::iter([Ok(1), Ok(2), Err("bad"), Ok(4)]);
/// // Stop at the first error: Ok(4) is never looked at.
/// let all: Result<Vec<i32>, &str> = results().try_collect().await;
/// assert_eq!(all, Err("bad"));
/// // Or keep going: the error is counted, not lost.
/// let stats = weir::ErrorStats::shared();
/// let ok: Vec<i32> = results().skip_errors(stats.clone()).collect().await;
/// assert_eq!(ok, [1, 2, 4]);
/// assert_eq!(stats.error_rate(), 25.0);
/// # }
/// ```
pub trait TryStreamOps<T, E>: Stream<Item = Result<T, E>> {
    /// Gathers every `Ok` value into a collection; the first `Err` ends it with that error.
    /// See [`TryCollectFuture`].
    fn try_collect<C>(self) -> TryCollectFuture<Self, C>
    where
        C: Default + Extend<T>,
        Self: Sized,
    {
        TryCollectFuture::new(self)
    }

    /// Folds every `Ok` value with a function that may fail; the first error (an `Err` item,
    /// or one `f` returned) ends it with that error. See [`TryFoldFuture`].
    fn try_fold<B, F>(self, init: B, f: F) -> TryFoldFuture<Self, F, B>
    where
        F: FnMut(B, T) -> Result<B, E>,
        Self: Sized,
    {
        TryFoldFuture::new(self, init, f)
    }

    /// Calls a function that may fail on every `Ok` value; the first error ends it with that
    /// error. See [`TryForEachFuture`].
    fn try_for_each<F>(self, f: F) -> TryForEachFuture<Self, F>
    where
        F: FnMut(T) -> Result<(), E>,
        Self: Sized,
    {
        TryForEachFuture::new(self, f)
    }

    /// The `Ok` values; each result is recorded in `stats` (errors and total), and the
    /// errors are dropped. See [`SkipErrors`].
    fn skip_errors(self, stats: Arc<ErrorStats>) -> SkipErrors<Self>
    where
        Self: Sized,
    {
        SkipErrors::new(self, stats)
    }
}

impl<St, T, E> TryStreamOps<T, E> for St where St: Stream<Item = Result<T, E>> + ?Sized {}
