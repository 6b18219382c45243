//! What every operator's `poll_next` shares: the poll budget, the filtering loop, the self-wake
//! before yielding, the accessors to an upstream, and, for operators with an idle timer, the
//! check that a late firing was a stall.
//!
//! Every operator follows the same rules, written up in `docs/ARCHITECTURE.md`:
//! - it never polls its upstream again after the upstream returned `None` (each holds its
//!   upstream in a [`Fuse`]), so every operator is a [`FusedStream`](futures_core::FusedStream);
//! - it returns `Pending` only after a waker was registered, by the upstream (which returned
//!   `Pending` to it), by a timer it polled, or by waking itself;
//! - an operator that loops while its upstream is ready takes at most [`POLL_BUDGET`] upstream
//!   items in one poll, then wakes its own task and returns `Pending`, so an endless ready
//!   upstream cannot starve the other tasks of its executor.

use ::core::pin::Pin;
use core::ops::ControlFlow;
use core::task::{Context, Poll};

use futures_core::Stream;

/// Accessors to the upstream of an operator whose upstream field is `stream: Fuse<St>`, or,
/// with a field name, whose field of that name (pinned) has the same four accessors itself
/// (the concurrent stages' engines).
macro_rules! upstream_accessors {
    () => {
        upstream_accessors!(stream);
    };
    ($field:ident) => {
        /// The upstream stream.
        pub fn get_ref(&self) -> &St {
            self.$field.get_ref()
        }

        /// The upstream stream, mutably. Taking items from it directly bypasses this operator.
        pub fn get_mut(&mut self) -> &mut St {
            self.$field.get_mut()
        }

        /// The pinned upstream stream, mutably. Taking items from it directly bypasses this
        /// operator.
        pub fn get_pin_mut(self: ::core::pin::Pin<&mut Self>) -> ::core::pin::Pin<&mut St> {
            self.project().$field.get_pin_mut()
        }

        /// The upstream stream, by value. Whatever state this operator held is dropped.
        pub fn into_inner(self) -> St {
            self.$field.into_inner()
        }
    };
}

/// How many upstream items an operator (or a consuming future) takes in one poll before it
/// yields control.
///
/// 128 is tokio's cooperative budget per task tick: large enough that the wake-and-requeue
/// round trip it costs is spread over many items, small enough that a task running an endless
/// ready stream still lets the other tasks of its executor run every few microseconds.
pub const POLL_BUDGET: usize = 128;

/// The loop of the filtering operators (filter, filter_map, the samplers): polls `upstream`
/// until `select` maps an item to `Some`, the upstream returns `Pending` or ends (then `done`
/// is set and the upstream is never polled again), or [`POLL_BUDGET`] items were rejected in
/// this poll (then the task is woken and `Pending` returned).
///
/// The first item is taken before the loop is entered. In the common case it is accepted and
/// the poll returns having run no loop at all, so the set-up a compiler adds to a loop it
/// expects to run long (unrolling, strength-reduced induction variables) is paid only after a
/// rejection. Both functions must inline: an out-of-line call inside the consumer's loop makes
/// the stream's state escape to memory, and every item then pays a store and a reload.
#[inline(always)]
pub(crate) fn poll_select<St, T>(
    mut upstream: Pin<&mut St>,
    done: &mut bool,
    cx: &mut Context<'_>,
    mut select: impl FnMut(St::Item) -> Option<T>,
) -> Poll<Option<T>>
where
    St: Stream + ?Sized,
{
    if *done {
        return Poll::Ready(None);
    }
    match poll_one(upstream.as_mut(), done, cx, &mut select) {
        ControlFlow::Break(poll) => poll,
        ControlFlow::Continue(()) => poll_select_rejected(upstream, done, cx, select),
    }
}

/// [`poll_select`] after its first item was rejected.
#[inline(always)]
fn poll_select_rejected<St, T>(
    mut upstream: Pin<&mut St>,
    done: &mut bool,
    cx: &mut Context<'_>,
    mut select: impl FnMut(St::Item) -> Option<T>,
) -> Poll<Option<T>>
where
    St: Stream + ?Sized,
{
    for _ in 1..POLL_BUDGET {
        if let ControlFlow::Break(poll) = poll_one(upstream.as_mut(), done, cx, &mut select) {
            return poll;
        }
    }
    wake_self(cx);
    Poll::Pending
}

/// Takes one item: `Continue` if `select` rejected it, otherwise what the poll returns.
#[inline(always)]
fn poll_one<St, T>(
    upstream: Pin<&mut St>,
    done: &mut bool,
    cx: &mut Context<'_>,
    select: &mut impl FnMut(St::Item) -> Option<T>,
) -> ControlFlow<Poll<Option<T>>>
where
    St: Stream + ?Sized,
{
    match upstream.poll_next(cx) {
        Poll::Ready(Some(item)) => match select(item) {
            Some(out) => ControlFlow::Break(Poll::Ready(Some(out))),
            None => ControlFlow::Continue(()),
        },
        Poll::Ready(None) => {
            *done = true;
            ControlFlow::Break(Poll::Ready(None))
        }
        Poll::Pending => ControlFlow::Break(Poll::Pending),
    }
}

/// Wakes the current task so that the executor polls it again: what an operator that stops on
/// its budget with work left calls before it returns `Pending`. Out of line and cold, so that
/// the item loops stay tight.
#[cold]
#[inline(never)]
pub(crate) fn wake_self(cx: &Context<'_>) {
    cx.waker().wake_by_ref();
}

/// Whether a consumer (a future draining a stream: `fold`, `for_each`, `collect`...) that has
/// taken `*runs` runs of [`POLL_BUDGET`] items in this poll may take another; `false` once a
/// wake-up is registered, and the consumer returns `Pending`.
///
/// Outside a tokio runtime, never: the consumer wakes its task and yields after each run, as
/// an operator does. Inside one, it spends the task's cooperative budget, one unit per run, as
/// tokio's own resources spend it per operation, and yields when tokio says the task's budget
/// is used up (tokio registers the wake-up). Each yield to tokio's scheduler costs a pass
/// through its driver, which a run of cheap items does not pay for; and tokio's budget is the
/// measure of fairness its other tasks expect. In both cases at most [`POLL_BUDGET`] runs
/// are taken in one poll (`tokio::task::unconstrained` lifts tokio's budget, not this one).
#[inline(never)]
pub(crate) fn another_run(cx: &mut Context<'_>, runs: &mut usize) -> bool {
    *runs += 1;
    if *runs >= POLL_BUDGET || tokio::runtime::Handle::try_current().is_err() {
        wake_self(cx);
        return false;
    }
    match tokio::task::coop::poll_proceed(cx) {
        Poll::Ready(restore) => {
            restore.made_progress();
            true
        }
        Poll::Pending => false,
    }
}

/// Tells an idle timer that fired late because its task did not run (a stall, a process that
/// was stopped: what feeds the operator may have had items meanwhile, which it could not see)
/// from one that fired on time, so that the quiet period it measured is not vouched for.
///
/// Late by more than a whole period is always a stall. Late by more than the slack, an
/// eighth of the period and at least 5 ms (more than a busy runtime delays a timer), is one
/// unless the firing before was one too: a runtime that is always that slow still sees its
/// quiet time, one period later.
#[derive(Debug, Default)]
pub(crate) struct Stalls {
    /// The last firing looked at was taken for a stall.
    last: bool,
}

impl Stalls {
    /// Whether the timer of a quiet `period`, due at `due` and found fired at `now`, fired
    /// too late to vouch for the quiet time before it.
    pub(crate) fn stalled(
        &mut self,
        due: tokio::time::Instant,
        now: tokio::time::Instant,
        period: core::time::Duration,
    ) -> bool {
        let late = now.saturating_duration_since(due);
        let slack = (period / 8).max(core::time::Duration::from_millis(5));
        let stalled = late > period || (late > slack && !self.last);
        self.last = stalled;
        stalled
    }
}
