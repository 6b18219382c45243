//! Loom models of the Redis source's and acker's shared state:
//! - [`Rereads`]: the flag a source keeps up while it re-reads its consumer's pending
//!   entries, read by the task that decides when an id it let go of can be forgotten;
//! - [`Places`]: the places an [`Acker`](super::Acker)'s clones give their requests, which
//!   [`Acker::answered`](super::Acker::answered) is compared with.

use super::ack::Places;
use super::source::Rereads;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, model, thread};

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

/// Each request's place is its place in the queue, whichever of two clones sends first: the
/// request the acknowledging task takes n-th was given place n, so that once the task has
/// answered n requests, the sender of place n knows its own is among them. It would not be
/// if the place were counted under the lock and the send made after it (a clone counted
/// first and overtaken in the queue by the other).
#[test]
fn places_follow_the_order_requests_reach_the_queue() {
    model(|| {
        let places = Arc::new(Places::default());
        let queue = Arc::new(Mutex::new(Vec::new()));
        let clone = |sender: u8| {
            let (places, queue) = (places.clone(), queue.clone());
            thread::spawn(move || (sender, places.send(|| queue.lock().push(sender))))
        };
        let (a, b) = (clone(1), clone(2));
        let mut sent = [a.join().unwrap(), b.join().unwrap()];
        sent.sort_by_key(|&(_, place)| place);
        let in_queue: Vec<u8> = queue.lock().clone();
        let by_place: Vec<u8> = sent.iter().map(|&(sender, _)| sender).collect();
        assert_eq!(by_place, in_queue, "the n-th request queued has place n");
        assert_eq!(
            sent.iter().map(|&(_, place)| place).collect::<Vec<_>>(),
            [1, 2]
        );
    });
}
