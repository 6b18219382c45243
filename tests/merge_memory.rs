//! A long-running merge fed through its handle holds memory for the sources it has now, not
//! for every source it has ever had. The allocator of this test binary counts the bytes
//! live, so the check is exact, not a reading of the process's size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use weir::prelude::*;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[tokio::test(flavor = "current_thread")]
async fn a_million_sources_pushed_and_ended_leave_no_memory_behind() {
    type Source = weir::sources::Iter<std::array::IntoIter<u64, 1>>;
    let mut merged = weir::merge::merge_tagged(std::iter::empty::<(u64, Source)>());
    let handle = merged.handle();
    let mut after_warm_up = 0;
    for i in 0..1_000_000u64 {
        handle.push(i, weir::iter([i]));
        assert_eq!(merged.next().await, Some((i, i)));
        if i == 10_000 {
            after_warm_up = LIVE.load(Ordering::Relaxed);
        }
    }
    let grown = LIVE.load(Ordering::Relaxed) - after_warm_up;
    // At most one source is still there (the last one has not been polled to its end yet).
    assert!(merged.live_sources() <= 1);
    assert!(
        grown < 64 << 10,
        "990 000 sources pushed and ended grew the live memory by {grown} bytes"
    );
    let ended = merged.ended_sources();
    assert!(ended.sources >= 999_999, "{ended:?}");
    assert_eq!(
        ended.items + merged.source_counts().iter().map(|(_, n)| n).sum::<u64>(),
        1_000_000
    );
}
