//! The wake queue: where the wakers of the members of a group (a merge's sources, a concurrent
//! stage's futures) report, so that a wake-up costs the group's owner O(1) work instead of a
//! scan of its members.
//!
//! Each member has a [`Member`] waker state with a small id. Waking it pushes the id to the
//! queue (once per burst of wakes) and wakes the owner's task; the owner takes the ids with
//! [`WakeQueue::take_woken`] and polls just those members.

use std::task::Wake;

use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering, StdArc, WakerCell};

/// Ids of woken members, and the owner task's waker.
pub(crate) struct WakeQueue {
    pub(crate) woken: Mutex<Vec<usize>>,
    /// Set after an id is pushed to `woken` (and, for a merge, after a handle pushed a
    /// source): lets the owner skip the lock when nothing was woken, which is every time for
    /// members that are always ready. Written only under `woken`'s lock.
    pub(crate) any: AtomicBool,
    pub(crate) parent: WakerCell,
}

impl WakeQueue {
    /// An empty queue with no task registered.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(WakeQueue {
            woken: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
            parent: WakerCell::new(),
        })
    }

    /// Flags the queue and wakes the owner's task: something (a woken member, a pushed
    /// source) waits for it.
    pub(crate) fn notify(&self) {
        self.raise(self.woken.lock());
    }

    /// Raises the flag while `queue`, the lock on the woken ids, is held, releases it, and
    /// wakes the owner's task.
    fn raise(&self, queue: MutexGuard<'_, Vec<usize>>) {
        self.any.store(true, Ordering::Release);
        drop(queue);
        self.parent.wake();
    }

    /// The ids woken since the last call, in the order woken, each once, when the flag says
    /// something was woken (or, for a merge, pushed); `None` otherwise, without taking the
    /// lock, which is every time for members that are always ready. `members` are the states
    /// by id, whose `queued` marks are cleared so that their next wake queues them again.
    ///
    /// The flag is raised and cleared only under the queue's lock, with the ids: a wake either
    /// lands before the ids are taken (and is taken with them) or after (and raises the flag
    /// again). Cleared with a load and then a store outside the lock, the store may land after
    /// a `notify` that came between them, and that wake is lost (`docs/LOOM.md` says why the
    /// lock and not a `swap`).
    pub(crate) fn take_woken(&self, members: &[StdArc<Member>]) -> Option<Vec<usize>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let woken = {
            let mut queue = self.woken.lock();
            self.any.store(false, Ordering::Relaxed);
            std::mem::take(&mut *queue)
        };
        for &id in &woken {
            members[id].queued.store(false, Ordering::Release);
        }
        Some(woken)
    }
}

/// The waker state of one member: a [`Waker`](std::task::Waker) is built from it.
pub(crate) struct Member {
    pub(crate) id: usize,
    /// In `woken` already (so a burst of wakes queues it once).
    pub(crate) queued: AtomicBool,
    /// The member is gone and its id may be reused: wakes are ignored.
    pub(crate) closed: AtomicBool,
    /// A count the owner publishes for readers on other threads (a merge's items per
    /// source); unused by owners that publish nothing.
    pub(crate) items: AtomicU64,
    wakes: Arc<WakeQueue>,
}

impl Member {
    /// The waker state of member `id`, reporting to `wakes`.
    pub(crate) fn new(id: usize, wakes: Arc<WakeQueue>) -> StdArc<Self> {
        StdArc::new(Member {
            id,
            queued: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            items: AtomicU64::new(0),
            wakes,
        })
    }
}

impl Wake for Member {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        if self.closed.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut queue = self.wakes.woken.lock();
        queue.push(self.id);
        self.wakes.raise(queue);
    }
}
