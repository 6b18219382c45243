//! The wake queue: where the wakers of a merge's sources report, so that a wake-up costs the
//! merge O(1) work instead of a scan of its sources.

use std::task::Wake;

use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering, WakeArc, WakerCell};

/// Ids of woken sources, and the merge task's waker.
pub(super) struct WakeQueue {
    pub(super) woken: Mutex<Vec<usize>>,
    /// Set after an id is pushed to `woken`, and after a handle pushed a source: lets the
    /// merge end a round without taking a lock when nothing was woken or pushed, which is
    /// every round of a merge whose sources are all ready.
    pub(super) any: AtomicBool,
    pub(super) parent: WakerCell,
}

impl WakeQueue {
    /// An empty queue with no task registered.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(WakeQueue {
            woken: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
            parent: WakerCell::new(),
        })
    }

    /// Flags the queue and wakes the merge's task: something (a woken source, a pushed one)
    /// waits for the end of the round.
    pub(super) fn notify(&self) {
        self.any.store(true, Ordering::Release);
        self.parent.wake();
    }
}

/// The waker state of one source: a [`Waker`](std::task::Waker) is built from it.
pub(super) struct SourceWaker {
    pub(super) id: usize,
    /// In `woken` already (so a burst of wakes queues it once).
    pub(super) queued: AtomicBool,
    /// The source ended and its id may be reused: wakes are ignored.
    pub(super) closed: AtomicBool,
    /// Items this source yielded, as last published by the merge (see `MergeTagged::count`).
    pub(super) items: AtomicU64,
    wakes: Arc<WakeQueue>,
}

impl SourceWaker {
    /// The waker state of source `id`, reporting to `wakes`.
    pub(super) fn new(id: usize, wakes: Arc<WakeQueue>) -> WakeArc<Self> {
        WakeArc::new(SourceWaker {
            id,
            queued: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            items: AtomicU64::new(0),
            wakes,
        })
    }
}

impl Wake for SourceWaker {
    fn wake(self: WakeArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &WakeArc<Self>) {
        if self.closed.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.wakes.woken.lock().push(self.id);
        self.wakes.notify();
    }
}
