//! Streams of `Result`s: the `try_*` consumers stop at the first error and poll no further;
//! `skip_errors` goes on and counts. After the seed's "Error Handling in Streams" and
//! futures-util's `try_stream` tests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use weir::ErrorStats;
use weir::prelude::*;

use common::{Script, Step, drive};

fn results() -> Vec<Result<u32, String>> {
    vec![Ok(1), Ok(2), Err("bad".into()), Ok(4)]
}

/// A stream of `results()` that counts how many items were taken from it.
fn counted(taken: &Arc<AtomicUsize>) -> impl Stream<Item = Result<u32, String>> + use<> {
    let t = taken.clone();
    weir::iter(results()).inspect(move |_| {
        t.fetch_add(1, Ordering::SeqCst);
    })
}

#[tokio::test]
async fn try_collect_stops_at_the_first_error() {
    let taken = Arc::new(AtomicUsize::new(0));
    let all: Result<Vec<u32>, String> = counted(&taken).try_collect().await;
    assert_eq!(all, Err("bad".to_string()));
    assert_eq!(taken.load(Ordering::SeqCst), 3, "looked past the error");
    let fine: Result<Vec<u32>, String> = weir::iter(vec![Ok(1), Ok(2)]).try_collect().await;
    assert_eq!(fine, Ok(vec![1, 2]));
}

#[tokio::test]
async fn try_fold_stops_at_an_error_of_the_stream_or_of_the_function() {
    let sum = weir::iter(vec![Ok::<u32, String>(1), Ok(2), Ok(3)])
        .try_fold(0, |acc, x| Ok(acc + x))
        .await;
    assert_eq!(sum, Ok(6));
    let taken = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        counted(&taken).try_fold(0, |acc, x| Ok(acc + x)).await,
        Err("bad".to_string())
    );
    assert_eq!(taken.load(Ordering::SeqCst), 3);
    let checked = weir::iter(vec![Ok::<u32, String>(u32::MAX), Ok(1)])
        .try_fold(0u32, |acc, x| {
            acc.checked_add(x).ok_or("overflow".to_string())
        })
        .await;
    assert_eq!(checked, Err("overflow".to_string()));
}

#[tokio::test]
async fn try_for_each_stops_at_the_first_error() {
    let mut seen = Vec::new();
    let taken = Arc::new(AtomicUsize::new(0));
    let result = counted(&taken)
        .try_for_each(|x| {
            seen.push(x);
            Ok(())
        })
        .await;
    assert_eq!(result, Err("bad".to_string()));
    assert_eq!(seen, [1, 2]);
    assert_eq!(taken.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn skip_errors_keeps_going_and_counts_every_result() {
    let stats = Arc::new(ErrorStats::new());
    let ok: Vec<u32> = weir::iter(results())
        .skip_errors(stats.clone())
        .collect()
        .await;
    assert_eq!(ok, [1, 2, 4]);
    assert_eq!((stats.total(), stats.errors()), (4, 1));
    assert_eq!(stats.error_rate(), 25.0);
    assert_eq!(ErrorStats::new().error_rate(), 0.0);
}

#[test]
fn skip_errors_yields_on_its_budget_through_a_run_of_errors() {
    let stats = Arc::new(ErrorStats::new());
    let steps = (0..1_000u32)
        .map(|i| Step::Item(if i % 500 == 499 { Ok(i) } else { Err(i) }))
        .chain([Step::Pending, Step::Item(Ok(1_000))]);
    let (source, state) = Script::new(steps);
    let driven = drive(source.skip_errors(stats.clone()), &state);
    assert_eq!(driven.items, [499, 999, 1_000]);
    assert!(driven.self_wakes >= 6, "{driven:?}");
    assert_eq!(driven.source_wakes, 1);
    assert_eq!((stats.total(), stats.errors()), (1_001, 998));
}

/// The seed's monitoring pattern: `inspect` records, the consumer keeps the `Ok`s.
#[tokio::test]
async fn inspect_with_error_stats_as_the_seed_writes_it() {
    let stats = Arc::new(ErrorStats::new());
    let s = stats.clone();
    let mut kept = Vec::new();
    weir::iter(results())
        .inspect(move |r| s.record(r))
        .for_each(|r| {
            if let Ok(x) = r {
                kept.push(x);
            }
        })
        .await;
    assert_eq!(kept, [1, 2, 4]);
    assert_eq!(stats.error_rate(), 25.0);
}
