//! Test helpers: a scripted source that checks it is never polled after its end, and a driver
//! that polls like an executor and fails on a lost wake-up.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;

#[cfg(feature = "redis")]
pub mod redis_server;

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Yield this item.
    Item(T),
    /// Return `Pending`, holding the caller's waker as a real source would.
    Pending,
}

/// What a [`Script`] shares with the test.
#[derive(Default)]
pub struct ScriptState {
    waker: Mutex<Option<Waker>>,
    polls: AtomicUsize,
    items: AtomicUsize,
}

impl ScriptState {
    /// How many times the script was polled.
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }

    /// How many items the script yielded.
    pub fn items(&self) -> usize {
        self.items.load(Ordering::SeqCst)
    }

    /// Takes the waker the script holds since its last `Pending`, as readiness would.
    pub fn take_waker(&self) -> Option<Waker> {
        self.waker.lock().unwrap().take()
    }
}

/// A stream that plays its steps, then ends; polling it after its end panics.
pub struct Script<T> {
    steps: VecDeque<Step<T>>,
    ended: bool,
    state: Arc<ScriptState>,
}

impl<T> Script<T> {
    pub fn new(steps: impl IntoIterator<Item = Step<T>>) -> (Self, Arc<ScriptState>) {
        let state = Arc::new(ScriptState::default());
        let script = Script {
            steps: steps.into_iter().collect(),
            ended: false,
            state: state.clone(),
        };
        (script, state)
    }

    /// Every item ready at once.
    pub fn ready(items: impl IntoIterator<Item = T>) -> (Self, Arc<ScriptState>) {
        Self::new(items.into_iter().map(Step::Item))
    }
}

impl<T> Unpin for Script<T> {}

impl<T> Stream for Script<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        assert!(
            !self.ended,
            "the upstream was polled after it returned None"
        );
        self.state.polls.fetch_add(1, Ordering::SeqCst);
        match self.steps.pop_front() {
            Some(Step::Item(item)) => {
                self.state.items.fetch_add(1, Ordering::SeqCst);
                Poll::Ready(Some(item))
            }
            Some(Step::Pending) => {
                *self.state.waker.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }
            None => {
                self.ended = true;
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let items = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Item(_)))
            .count();
        (items, Some(items))
    }
}

/// Counts the wake-ups of the driver's task.
#[derive(Default)]
pub struct WakeCounter(AtomicUsize);

impl WakeCounter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// What [`drive`] saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Driven<T> {
    pub items: Vec<T>,
    /// `Pending`s after which the stream had woken its own task (budget).
    pub self_wakes: usize,
    /// `Pending`s after which the source held the waker (the source became ready later).
    pub source_wakes: usize,
}

/// Polls `stream` to its end as an executor would: after each `Pending`, it polls again only
/// once the task was woken, either already by the stream itself or by the script's held waker
/// (standing in for the source becoming ready). A `Pending` with neither is a lost wake-up and
/// fails the test. Afterwards it polls once more to check the stream stays ended.
pub fn drive<S>(stream: S, source: &ScriptState) -> Driven<S::Item>
where
    S: Stream + Unpin,
{
    drive_inspect(stream, source, |_| {})
}

/// [`drive`], calling `inspect` with the stream after every poll.
pub fn drive_inspect<S>(
    mut stream: S,
    source: &ScriptState,
    mut inspect: impl FnMut(&S),
) -> Driven<S::Item>
where
    S: Stream + Unpin,
{
    let counter = Arc::new(WakeCounter::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut driven = Driven {
        items: Vec::new(),
        self_wakes: 0,
        source_wakes: 0,
    };
    loop {
        let wakes_before = counter.count();
        let poll = Pin::new(&mut stream).poll_next(&mut cx);
        inspect(&stream);
        match poll {
            Poll::Ready(Some(item)) => driven.items.push(item),
            Poll::Ready(None) => break,
            Poll::Pending => {
                if counter.count() > wakes_before {
                    driven.self_wakes += 1;
                    continue;
                }
                let held = source
                    .take_waker()
                    .expect("Pending with no wake-up registered: the task would sleep forever");
                assert!(
                    held.will_wake(&waker),
                    "the source holds another task's waker"
                );
                held.wake();
                driven.source_wakes += 1;
            }
        }
    }
    assert!(
        matches!(Pin::new(&mut stream).poll_next(&mut cx), Poll::Ready(None)),
        "the stream yielded again after None"
    );
    driven
}

/// Polls a future once with a counting waker: its result and whether it woke itself.
pub fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> (Poll<F::Output>, bool) {
    let counter = Arc::new(WakeCounter::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let poll = Pin::new(fut).poll(&mut cx);
    (poll, counter.count() > 0)
}

/// A source that returns `Pending` (waking its task first) where the script says `None`: for
/// driving with any executor.
pub struct Gappy<T>(pub VecDeque<Option<T>>);

impl<T: Unpin> Stream for Gappy<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.0.pop_front() {
            Some(Some(item)) => Poll::Ready(Some(item)),
            Some(None) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            None => Poll::Ready(None),
        }
    }
}
pub mod watched;
