//! The synchronization primitives weir's shared-state types are built on.
//!
//! This is the only module that names `std::sync`, `parking_lot` or `loom`. Under
//! `cfg(all(test, feature = "loom"))` (the crate's own unit-test build with the `loom` feature)
//! every type here is loom's, so the loom models that live next to the code they check explore
//! all interleavings. Everywhere else (the library as users build it, integration tests,
//! doctests, benches, the binary) these are the `std` atomics and `Arc` and `parking_lot`'s
//! mutex, so `cargo test --features loom` keeps every other test working unchanged.
//!
//! The mutex is `parking_lot`'s rather than `std`'s because weir's locks guard a few
//! instructions each (a ring's push or pop, a waker swap) and are taken from two threads at
//! once in the common case, a producer and a consumer: `parking_lot` spins and yields a
//! little before it parks a thread, where `std`'s parks sooner, and a parked thread costs two
//! system calls and a context switch for a lock held for nanoseconds
//! (`docs/operators/backpressure.md` has the measurement).
//!
//! Two types are written here rather than re-exported:
//! - [`Mutex`] does not poison: a panic while holding the lock leaves the data as it was, and
//!   the next `lock` returns it. Every weir structure keeps its invariants across each
//!   individual statement that can panic, so poisoning would only turn one panic into many.
//!   (`parking_lot`'s mutex never poisons; loom's does, and the wrapper takes the lock over.)
//! - [`WakerCell`] holds at most one [`Waker`] that one side registers and the other side wakes
//!   (the role `AtomicWaker` plays in futures). See its docs for the no-lost-wake-up argument.

use std::fmt;
use std::task::Waker;

#[cfg(not(all(test, feature = "loom")))]
mod imp {
    pub(crate) use parking_lot::Mutex as RawMutex;
    pub(crate) use parking_lot::MutexGuard;
    #[allow(unused_imports)]
    pub(crate) use std::sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    };
    #[allow(unused_imports)]
    pub(crate) use std::thread;
}

#[cfg(all(test, feature = "loom"))]
mod imp {
    #[allow(unused_imports)]
    pub(crate) use loom::future::block_on;
    pub(crate) use loom::sync::Mutex as RawMutex;
    pub(crate) use loom::sync::MutexGuard;
    #[allow(unused_imports)]
    pub(crate) use loom::sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    };
    pub(crate) use loom::thread;
}

/// Loom's executor, for the loom models next to the code they check.
#[cfg(all(test, feature = "loom"))]
pub(crate) use imp::block_on;

/// Checks `f` under every interleaving loom explores: loom's model checker, with at most two
/// preemptions per interleaving unless `LOOM_MAX_PREEMPTIONS` says otherwise. Without a
/// bound the models take hours in a debug build (`cargo test --all-features`); with two
/// they take minutes there and seconds with `--release`, and every model still fails on the
/// mutants of `scripts/loom-mutants.sh`, which are run with the same bound.
#[cfg(all(test, feature = "loom"))]
pub(crate) fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = ::loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

/// Runs the body of an ordinary unit test that uses this module's types: as it is, or, in the
/// loom build (where they are loom's, which work only inside a model), once inside a model,
/// so that `cargo test --features loom` (and `--all-features`) runs these tests too.
#[cfg(test)]
pub(crate) fn unit<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    #[cfg(feature = "loom")]
    model(f);
    #[cfg(not(feature = "loom"))]
    f();
}

#[allow(unused_imports)]
pub(crate) use imp::{Arc, AtomicBool, AtomicU64, AtomicUsize, MutexGuard, Ordering, thread};

/// The `Arc` that stays std's even under loom, for two kinds of data:
/// - what a [`Waker`] is built from: [`Waker::from`] takes a `std::sync::Arc` (a waker from
///   loom's `Arc` would need a hand-written `RawWaker` vtable, which is `unsafe`). Only the
///   reference count lives outside loom's view; everything a waker reads or writes inside it
///   uses this module's types, so loom still sees every access that matters, and ordinary
///   tests check the counts (`docs/LOOM.md`);
/// - immutable data shared by reference count (a Redis entry's previous owner, a stream's
///   time function): nothing in it is written once it is built, so loom has nothing to check
///   there, and public types that hold it keep std's comparisons and unsized coercion.
pub(crate) type StdArc<T> = std::sync::Arc<T>;

/// A mutual-exclusion lock that never poisons.
#[derive(Default)]
pub(crate) struct Mutex<T>(imp::RawMutex<T>);

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(imp::RawMutex::new(value))
    }

    /// Locks the mutex, blocking the thread until it is available. A lock released by a
    /// panicking thread is taken over as it is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(all(test, feature = "loom")))]
        {
            self.0.lock()
        }
        #[cfg(all(test, feature = "loom"))]
        {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Mutex").field(&*self.lock()).finish()
    }
}

/// One task's [`Waker`], registered by the side that waits and taken by the side that wakes.
///
/// # Contract
///
/// The waiting side follows *try, register, try again*: it checks its condition, calls
/// [`register`](Self::register), then checks the condition once more before returning
/// `Pending`. The waking side makes the condition true and then calls [`wake`](Self::wake).
/// Both calls go through one lock, so they are totally ordered: either `register` comes first
/// and `wake` finds the waker, or `wake` comes first and the waiter's second check (which runs
/// after its `register`, hence after the `wake`, hence after the condition was made true) sees
/// the condition. In neither order is a wake-up lost. The loom model `register_wake_race`
/// checks exactly this.
///
/// Registering a waker that [`will_wake`](Waker::will_wake) the stored one keeps the stored one,
/// so a task that re-polls costs no clone.
#[derive(Default)]
pub(crate) struct WakerCell {
    waker: Mutex<Option<Waker>>,
}

impl WakerCell {
    /// An empty cell.
    pub(crate) fn new() -> Self {
        WakerCell {
            waker: Mutex::new(None),
        }
    }

    /// Stores `waker`, replacing any other waker held.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        match &*slot {
            Some(held) if held.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Wakes and removes the held waker, if any. The waker runs after the lock is released.
    pub(crate) fn wake(&self) {
        let taken = self.waker.lock().take();
        if let Some(waker) = taken {
            waker.wake();
        }
    }
}

impl fmt::Debug for WakerCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registered = self.waker.lock().is_some();
        f.debug_struct("WakerCell")
            .field("registered", &registered)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Counter(std::sync::atomic::AtomicUsize);
    impl Wake for Counter {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wake_reaches_the_registered_waker_once() {
        unit(wake_reaches_the_registered_waker_once_body);
    }

    fn wake_reaches_the_registered_waker_once_body() {
        let counter = std::sync::Arc::new(Counter(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let cell = WakerCell::new();
        cell.wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        cell.register(&waker);
        cell.register(&waker);
        cell.wake();
        cell.wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    /// Not in the loom build: a thread that panics inside a loom model ends the model.
    #[cfg(not(feature = "loom"))]
    #[test]
    fn mutex_survives_a_panic_while_locked() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _guard = m2.lock();
            panic!("poison attempt");
        })
        .join();
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom;
