//! The async stages: `then`, `map_concurrent`, `map_concurrent_unordered`, `spawn_concurrent`,
//! `for_each_concurrent`, `retry`. Cases after futures-util's `buffered` /
//! `buffer_unordered` / `for_each_concurrent` tests and the problems known in them, on tokio's
//! paused clock.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::oneshot;
use tokio::time::Instant;
use weir::POLL_BUDGET;
use weir::concurrent::{Backoff, retry};
use weir::prelude::*;

use common::{Script, Step, WakeCounter, drive, poll_once};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn sleep_then<T>(delay: u64, value: T) -> T {
    tokio::time::sleep(ms(delay)).await;
    value
}

/// Counts the futures alive and the most alive at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self.clone())
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

struct GaugeGuard(Arc<Gauge>);

/// A stage function whose future for `d` sleeps `d` ms and returns `d`, counted in `gauge`
/// while it runs.
fn sleeping(gauge: &Arc<Gauge>) -> impl FnMut(u64) -> Pin<Box<dyn Future<Output = u64>>> {
    let gauge = gauge.clone();
    move |d| {
        let guard = gauge.enter();
        Box::pin(async move {
            let v = sleep_then(d, d).await;
            drop(guard);
            v
        })
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn then_runs_one_future_at_a_time_in_order() {
    let gauge = Arc::new(Gauge::default());
    let start = Instant::now();
    let out: Vec<u64> = weir::iter([30u64, 10, 20])
        .then(sleeping(&gauge))
        .collect()
        .await;
    assert_eq!(out, [30, 10, 20]);
    assert_eq!(start.elapsed(), ms(60));
    assert_eq!(gauge.peak(), 1);
}

#[tokio::test(start_paused = true)]
async fn map_concurrent_keeps_order_and_runs_n_at_once() {
    let gauge = Arc::new(Gauge::default());
    let start = Instant::now();
    let out: Vec<u64> = weir::iter([40u64, 10, 30, 20, 10, 10])
        .map_concurrent(3, sleeping(&gauge))
        .collect()
        .await;
    assert_eq!(out, [40, 10, 30, 20, 10, 10]);
    assert_eq!(gauge.peak(), 3);
    // 40, 10 and 30 start at 0; the 10 and the 30 wait for the 40, which frees the window at
    // 40; 20, 10 and 10 then start and the last is out at 60.
    assert_eq!(start.elapsed(), ms(60));
}

#[tokio::test(start_paused = true)]
async fn map_concurrent_unordered_yields_as_futures_complete() {
    let gauge = Arc::new(Gauge::default());
    let start = Instant::now();
    let out: Vec<u64> = weir::iter([40u64, 10, 30, 20])
        .map_concurrent_unordered(2, sleeping(&gauge))
        .collect()
        .await;
    // t=10: 10 done, 30 starts; t=40: 40 and 30 done, 20 starts; t=60: 20.
    assert_eq!(out, [10, 40, 30, 20]);
    assert_eq!(start.elapsed(), ms(60));
    assert_eq!(gauge.peak(), 2);
}

/// futures-util's `buffered` problem: finished outputs pile up behind one slow future while
/// more items are taken. Here the stage holds at most `n` futures and outputs together: with
/// the first future stuck, it takes exactly `n` items and waits.
#[tokio::test(start_paused = true)]
async fn a_slow_first_future_stops_the_ordered_stage_at_n() {
    let (release, stuck) = oneshot::channel::<()>();
    let mut stuck = Some(stuck);
    let taken = Arc::new(AtomicUsize::new(0));
    let t = taken.clone();
    let mut stage = Box::pin(
        weir::iter(0..100u32)
            .inspect(move |_| {
                t.fetch_add(1, Ordering::SeqCst);
            })
            .map_concurrent(4, move |i| {
                let wait = if i == 0 { stuck.take() } else { None };
                async move {
                    if let Some(wait) = wait {
                        wait.await.unwrap();
                    }
                    i
                }
            }),
    );
    let (poll, _) = poll_once(&mut stage.next());
    assert!(poll.is_pending());
    assert_eq!(taken.load(Ordering::SeqCst), 4);
    assert_eq!(stage.in_flight(), 1);
    assert_eq!(stage.held(), 3);
    release.send(()).unwrap();
    let out: Vec<u32> = stage.collect().await;
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}

/// A wake-up polls only the future that was woken, not the others in flight.
#[tokio::test(start_paused = true)]
async fn only_the_woken_future_is_polled() {
    let polls: Arc<Vec<AtomicUsize>> = Arc::new((0..16).map(|_| AtomicUsize::new(0)).collect());
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..16 {
        let (tx, rx) = oneshot::channel::<u32>();
        senders.push(tx);
        receivers.push(rx);
    }
    let p = polls.clone();
    let mut stage = Box::pin(
        weir::iter(receivers.into_iter().enumerate()).map_concurrent_unordered(
            16,
            move |(i, rx)| CountPolls {
                polls: p.clone(),
                i,
                rx,
            },
        ),
    );
    assert!(poll_once(&mut stage.next()).0.is_pending());
    let first: Vec<usize> = polls.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    assert_eq!(first, vec![1; 16]);
    senders.remove(5).send(55).unwrap();
    assert_eq!(poll_once(&mut stage.next()).0, Poll::Ready(Some(55)));
    let after: Vec<usize> = polls.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    let mut want = vec![1; 16];
    want[5] = 2;
    assert_eq!(after, want);
}

struct CountPolls {
    polls: Arc<Vec<AtomicUsize>>,
    i: usize,
    rx: oneshot::Receiver<u32>,
}

impl Future for CountPolls {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls[self.i].fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.rx).poll(cx).map(|r| r.unwrap())
    }
}

/// A future that wakes itself and returns `Pending` on every poll, for ever.
struct Spin(Arc<AtomicUsize>);

impl Future for Spin {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// futures-util's `FuturesUnordered` starvation: futures that are always ready again keep
/// one poll from returning. Here one poll spends at most `POLL_BUDGET` polls, then yields
/// with the task woken.
#[test]
fn self_waking_futures_cannot_starve_the_executor() {
    let spins = Arc::new(AtomicUsize::new(0));
    let s = spins.clone();
    let mut stage =
        Box::pin(weir::iter(0..8).map_concurrent_unordered(8, move |_| Spin(s.clone())));
    for round in 1..=3 {
        let (poll, woke) = poll_once(&mut stage.next());
        assert!(poll.is_pending());
        assert!(woke, "yielded on the budget without waking its task");
        assert!(spins.load(Ordering::SeqCst) <= round * POLL_BUDGET);
    }
    assert!(spins.load(Ordering::SeqCst) >= 3 * (POLL_BUDGET - 8));
}

#[test]
fn ready_futures_give_one_output_per_poll() {
    let (source, state) = Script::ready(0..1_000u32);
    let driven = drive(source.map_concurrent(2, std::future::ready), &state);
    assert_eq!(driven.items, (0..1_000).collect::<Vec<_>>());
    assert_eq!((driven.self_wakes, driven.source_wakes), (0, 0));
    assert_eq!(state.polls(), 1_001, "polled after its end, or too often");
}

#[test]
fn stages_pass_on_pending_upstreams_without_losing_wakes() {
    let steps = (0..20).flat_map(|i| [Step::Item(i), Step::Pending]);
    let (source, state) = Script::new(steps);
    let driven = drive(source.map_concurrent(3, std::future::ready), &state);
    assert_eq!(driven.items, (0..20).collect::<Vec<_>>());
    let (source, state) = Script::new((0..20).flat_map(|i| [Step::Item(i), Step::Pending]));
    let mut driven = drive(
        source.map_concurrent_unordered(3, std::future::ready),
        &state,
    )
    .items;
    driven.sort_unstable();
    assert_eq!(driven, (0..20).collect::<Vec<_>>());
    let (source, state) = Script::new((0..5).flat_map(|i| [Step::Pending, Step::Item(i)]));
    let driven = drive(source.then(std::future::ready), &state);
    assert_eq!(driven.items, (0..5).collect::<Vec<_>>());
}

#[tokio::test]
async fn size_hints_count_what_is_in_flight() {
    let mut stage = Box::pin(weir::iter(0..10u32).map_concurrent(4, std::future::ready));
    assert_eq!(stage.size_hint(), (10, Some(10)));
    assert_eq!(stage.next().await, Some(0));
    assert_eq!(stage.size_hint(), (9, Some(9)));
    let rest: Vec<u32> = (&mut stage).collect().await;
    assert_eq!(rest.len(), 9);
    assert_eq!(stage.size_hint(), (0, Some(0)));
    assert!(stage.is_terminated());
    let mut then = Box::pin(weir::iter(0..3u32).then(std::future::ready));
    assert_eq!(then.size_hint(), (3, Some(3)));
    while then.next().await.is_some() {}
    assert!(then.is_terminated());
    assert_eq!(then.next().await, None);
}

#[test]
#[should_panic(expected = "map_concurrent: `n` must be at least 1, got 0")]
fn map_concurrent_of_zero_panics() {
    let _ = weir::iter(0..1).map_concurrent(0, std::future::ready);
}

#[test]
#[should_panic(expected = "for_each_concurrent: `n` must be at least 1, got 0")]
fn for_each_concurrent_of_zero_panics() {
    drop(weir::iter(0..1).for_each_concurrent(0, |_| std::future::ready(())));
}

/// A stage function whose futures each hold a clone of `token` for a second.
fn holding(token: Arc<()>) -> impl FnMut(u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    move |i| {
        let held = token.clone();
        Box::pin(async move {
            tokio::time::sleep(ms(1000)).await;
            drop(held);
            i
        })
    }
}

/// Dropping a stage drops its futures in flight and whatever they hold.
#[tokio::test(start_paused = true)]
async fn dropping_a_stage_releases_its_futures() {
    let token = Arc::new(());
    let t = token.clone();
    let mut stage = Box::pin(weir::iter(0..10u32).map_concurrent_unordered(4, holding(t)));
    assert!(poll_once(&mut stage.next()).0.is_pending());
    assert_eq!(Arc::strong_count(&token), 6); // ours, the closure's, four in flight
    drop(stage);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[tokio::test(start_paused = true)]
async fn for_each_concurrent_writes_batches_in_parallel() {
    for (n, want) in [(1u64, 1000u64), (10, 100), (100, 10)] {
        let writes = Arc::new(AtomicUsize::new(0));
        let w = writes.clone();
        let start = Instant::now();
        weir::iter(0..100)
            .for_each_concurrent(n as usize, move |_| {
                let w = w.clone();
                async move {
                    tokio::time::sleep(ms(10)).await;
                    w.fetch_add(1, Ordering::SeqCst);
                }
            })
            .await;
        assert_eq!(writes.load(Ordering::SeqCst), 100);
        assert_eq!(start.elapsed(), ms(want), "concurrency {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_concurrent_keeps_order_across_worker_threads() {
    let out: Vec<u64> = weir::iter(0..200u64)
        .spawn_concurrent(8, |i| async move {
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
            (0..=i).sum::<u64>()
        })
        .collect()
        .await;
    assert_eq!(
        out,
        (0..200u64).map(|i| i * (i + 1) / 2).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "task 3 failed")]
async fn a_panicking_task_panics_the_stage() {
    let _: Vec<u32> = weir::iter(0..10u32)
        .spawn_concurrent(2, |i| async move {
            assert_ne!(i, 3, "task 3 failed");
            i
        })
        .collect()
        .await;
}

#[tokio::test(start_paused = true)]
async fn dropping_a_spawning_stage_aborts_its_tasks() {
    let token = Arc::new(());
    let t = token.clone();
    let mut stage = Box::pin(weir::iter(0..4u32).spawn_concurrent(4, holding(t)));
    assert!(poll_once(&mut stage.next()).0.is_pending());
    tokio::task::yield_now().await;
    assert_eq!(Arc::strong_count(&token), 6);
    drop(stage);
    // The aborted tasks drop their futures when the runtime next runs them.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(Arc::strong_count(&token), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_waits_the_backoff_and_returns_the_last_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let start = Instant::now();
    let backoff = Backoff::new(ms(100), ms(250)).retries(3).without_jitter();
    let result: Result<(), usize> = retry(backoff, move || {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Err(n) }
    })
    .await;
    assert_eq!(result, Err(4));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // 100, 200, then 400 capped at 250.
    assert_eq!(start.elapsed(), ms(550));
}

#[tokio::test(start_paused = true)]
async fn retry_with_jitter_waits_between_half_and_all_of_the_backoff() {
    for seed in 0..20 {
        let start = Instant::now();
        let backoff = Backoff::new(ms(100), ms(1000)).retries(2).seeded(seed);
        let _: Result<(), ()> = retry(backoff, || async { Err(()) }).await;
        let waited = start.elapsed();
        // 100 then 200 nominal: between 50 + 100 and 100 + 200.
        assert!(waited >= ms(150) && waited <= ms(300), "{waited:?}");
    }
}

#[test]
fn backoff_saturates_instead_of_overflowing() {
    let backoff = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
    assert_eq!(backoff.nominal(1), Duration::from_secs(u64::MAX / 2));
    assert_eq!(backoff.nominal(3), Duration::MAX);
    assert_eq!(backoff.nominal(u32::MAX), Duration::MAX);
    let small = Backoff::new(ms(1), ms(5000));
    assert_eq!(small.nominal(0), ms(1));
    assert_eq!(small.nominal(40), ms(5000));
}

#[test]
#[should_panic(expected = "Backoff::new: `initial` (2s) must not exceed `max` (1s)")]
fn a_backoff_whose_start_exceeds_its_cap_panics() {
    let _ = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
}

#[test]
fn a_stage_that_yields_on_its_budget_wakes_itself() {
    // The consumer side: `for_each_concurrent` over an endless ready upstream.
    let counter = Arc::new(WakeCounter::default());
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut all = Box::pin(weir::iter(0..).for_each_concurrent(4, |_: u64| std::future::ready(())));
    assert!(all.as_mut().poll(&mut cx).is_pending());
    assert_eq!(counter.count(), 1);
    assert!(all.started() <= POLL_BUDGET as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Against a plain sequential map: same outputs in the same order for the ordered stage,
    /// the same multiset for the unordered one, whatever the delays and the limit.
    #[test]
    fn stages_match_a_sequential_map(
        delays in proptest::collection::vec(0u64..50, 0..40),
        n in 1usize..8,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let want: Vec<u64> = delays.iter().map(|d| d * 3).collect();
        let (ordered, mut unordered) = rt.block_on(async {
            let ordered: Vec<u64> = weir::iter(delays.clone())
                .map_concurrent(n, |d| sleep_then(d, d * 3))
                .collect()
                .await;
            let unordered: Vec<u64> = weir::iter(delays.clone())
                .map_concurrent_unordered(n, |d| sleep_then(d, d * 3))
                .collect()
                .await;
            (ordered, unordered)
        });
        prop_assert_eq!(&ordered, &want);
        unordered.sort_unstable();
        let mut sorted = want.clone();
        sorted.sort_unstable();
        prop_assert_eq!(unordered, sorted);
    }
}

/// A future under the test's control: pending, its waker kept, until the test opens it; or,
/// `lingering`, ready at once but keeping its waker, which the test fires after the future
/// completed (a late wake, which futures allow).
#[derive(Clone, Default)]
struct Gate(Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);

impl Gate {
    fn open_and_wake(&self) {
        let waker = {
            let mut gate = self.0.lock().unwrap();
            gate.0 = true;
            gate.1.take()
        };
        waker.expect("the future was polled").wake();
    }

    /// Fires the waker the future kept (after it completed).
    fn wake_late(&self) {
        self.0
            .lock()
            .unwrap()
            .1
            .take()
            .expect("a kept waker")
            .wake();
    }

    fn future(&self, value: u32, lingering: bool) -> impl Future<Output = u32> + use<> {
        let gate = self.0.clone();
        std::future::poll_fn(move |cx| {
            let mut gate = gate.lock().unwrap();
            gate.1 = Some(cx.waker().clone());
            if gate.0 || lingering {
                Poll::Ready(value)
            } else {
                Poll::Pending
            }
        })
    }
}

/// Two completed futures' late wakes queued ahead of a live future's wake: the empty places
/// are skipped and the live future is polled in the same pass, not left queued behind them
/// with its wake-up spent.
#[test]
fn late_wakes_of_empty_places_do_not_hide_a_live_future() {
    let gates: Vec<Gate> = (0..3).map(|_| Gate::default()).collect();
    let futures = gates.clone();
    let mut stage = weir::iter(0..3u32)
        .map_concurrent_unordered(3, move |i| futures[i as usize].future(i, i < 2))
        .boxed();
    let mut next = || poll_once(&mut stage.next()).0;
    assert_eq!(next(), Poll::Ready(Some(0)));
    assert_eq!(next(), Poll::Ready(Some(1)));
    assert_eq!(next(), Poll::Pending);
    // Late wakes of 0 and 1 (their places are empty now), then 2 opens.
    gates[0].wake_late();
    gates[1].wake_late();
    gates[2].open_and_wake();
    assert_eq!(next(), Poll::Ready(Some(2)));
    assert_eq!(next(), Poll::Ready(None));
}

/// One place, reused by each future in turn: the waker of the place must work for every
/// future it holds, not only the first.
#[test]
fn a_reused_place_wakes_the_stage_for_its_next_future() {
    for ordered in [false, true] {
        let gates: Vec<Gate> = (0..3).map(|_| Gate::default()).collect();
        let futures = gates.clone();
        let source = weir::iter(0..3u32);
        let make = move |i: u32| futures[i as usize].future(i, false);
        let mut stage = if ordered {
            source.map_concurrent(1, make).boxed()
        } else {
            source.map_concurrent_unordered(1, make).boxed()
        };
        for i in 0..3u32 {
            let counter = Arc::new(WakeCounter::default());
            let waker = std::task::Waker::from(counter.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(stage.as_mut().poll_next(&mut cx).is_pending());
            gates[i as usize].open_and_wake();
            assert!(
                counter.count() > 0,
                "future {i} woke the stage (ordered: {ordered})"
            );
            assert_eq!(stage.as_mut().poll_next(&mut cx), Poll::Ready(Some(i)));
        }
        assert_eq!(poll_once(&mut stage.next()).0, Poll::Ready(None));
    }
}
