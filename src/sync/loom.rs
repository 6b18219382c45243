//! Loom models of [`WakerCell`]: a registration racing a wake. Each states its invariant.

use std::future::poll_fn;
use std::task::Poll;

use super::{Arc, AtomicBool, Ordering, WakerCell, block_on, model, thread};

/// A cell and a flag, and a thread that raises the flag and then wakes the cell.
fn raise_and_wake() -> (Arc<WakerCell>, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let cell = Arc::new(WakerCell::new());
    let flag = Arc::new(AtomicBool::new(false));
    let (cell2, flag2) = (cell.clone(), flag.clone());
    let waker_thread = thread::spawn(move || {
        flag2.store(true, Ordering::Release);
        cell2.wake();
    });
    (cell, flag, waker_thread)
}

/// Whether the flag is up: `Ready` if so, else `Pending` (after a registration by the caller).
fn raised(flag: &AtomicBool) -> Poll<()> {
    if flag.load(Ordering::Acquire) {
        Poll::Ready(())
    } else {
        Poll::Pending
    }
}

/// Invariant: no lost wake-up. A waiter that registers and re-checks while another thread
/// sets the flag and wakes always completes (`loom::future::block_on` reports a deadlock
/// if the waiter is left pending with nobody to wake it).
#[test]
fn register_wake_race() {
    model(|| {
        let (cell, flag, waker_thread) = raise_and_wake();
        block_on(poll_fn(|cx| {
            if raised(&flag).is_ready() {
                return Poll::Ready(());
            }
            cell.register(cx.waker());
            raised(&flag)
        }));
        waker_thread.join().unwrap();
    });
}

/// Invariant: no lost wake-up across re-registration. The waiter polls twice (registering
/// the same waker again) while the waker thread wakes once; it must still finish.
#[test]
fn reregister_wake_race() {
    model(|| {
        let (cell, flag, waker_thread) = raise_and_wake();
        let mut polls = 0;
        block_on(poll_fn(|cx| {
            polls += 1;
            cell.register(cx.waker());
            if polls == 1 {
                cell.register(cx.waker());
            }
            raised(&flag)
        }));
        waker_thread.join().unwrap();
    });
}

/// Invariant: the wake reaches the task that waits now. A waiter first registers one waker
/// (a task that then moved on) and then, from another task, registers its own and waits
/// while the waker thread raises the flag and wakes: the second task must be woken. A cell
/// that kept the first waker would wake the wrong task, and loom reports the deadlock.
#[test]
fn a_waiter_moved_to_another_task_is_woken() {
    model(|| {
        let (cell, flag, waker_thread) = raise_and_wake();
        let first_task = futures::task::noop_waker();
        cell.register(&first_task);
        block_on(poll_fn(|cx| {
            cell.register(cx.waker());
            raised(&flag)
        }));
        waker_thread.join().unwrap();
    });
}
