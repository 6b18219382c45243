//! Loom model of [`Rereads`]: the flag a source keeps up while it re-reads its consumer's
//! pending entries, read by the task that decides when an id it let go of can be forgotten.

use super::source::Rereads;
use crate::sync::{Arc, AtomicBool, Ordering, model, thread};

/// A pass asked before the look is seen, whatever the source does meanwhile. Here a second
/// pass is asked before the first is handed out (a read failed during the first), so that
/// from the first asking on no instant is quiet: `is_on` must say so however its loads
/// interleave with the source's stores. It would not if it loaded the count asked before
/// the count handed out (the first pass taken for handed out, the second missed), or with
/// relaxed orderings (the count handed out seen without the asking before it).
#[test]
fn a_pass_asked_before_the_look_is_seen_whatever_comes_meanwhile() {
    model(|| {
        let rereads = Rereads::default();
        let first_asked = Arc::new(AtomicBool::new(false));
        let source = {
            let (rereads, first_asked) = (rereads.clone(), first_asked.clone());
            thread::spawn(move || {
                rereads.ask();
                first_asked.store(true, Ordering::SeqCst);
                rereads.ask();
                rereads.handed_out(1);
            })
        };
        if first_asked.load(Ordering::SeqCst) {
            assert!(rereads.is_on(), "a pass is on from the first asking on");
        }
        source.join().unwrap();
        assert!(rereads.is_on(), "the second pass is not handed out");
        rereads.handed_out(2);
        assert!(!rereads.is_on(), "every pass is over");
    });
}
