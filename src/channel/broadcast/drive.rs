//! The task that drives a stream into a [`Publisher`]: what
//! [`StreamOps::fan_out`](crate::StreamOps::fan_out) spawns.

use std::task::Poll;

use futures_core::Stream;

use super::Publisher;
use crate::poll::{POLL_BUDGET, wake_self};

/// Drives `upstream` into `publisher` until the upstream ends or every subscriber is gone:
/// the task behind [`StreamOps::fan_out`](crate::StreamOps::fan_out). It feeds items while
/// the upstream has them ready and flushes the subscribers' wake-ups when the upstream pauses
/// (or every [`POLL_BUDGET`] items), so a burst costs each subscriber one wake-up.
pub(crate) async fn drive<St>(upstream: St, mut publisher: Publisher<St::Item>)
where
    St: Stream,
    St::Item: Clone,
{
    let mut upstream = std::pin::pin!(upstream);
    // Subscribers are woken, and the task yields so that they run, at least every half ring:
    // a lagging subscriber that keeps up is never lapped by a burst.
    let batch = publisher.shared.capacity.div_ceil(2).clamp(1, POLL_BUDGET);
    let mut fed = 0;
    loop {
        let next = std::future::poll_fn(|cx| match upstream.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Ready(None),
            Poll::Ready(next) => Poll::Ready(Some(next)),
        })
        .await;
        let item = match next {
            // The upstream paused: wake the subscribers, then wait for the upstream, or for
            // every subscriber to go (then the upstream is dropped at once).
            None => {
                publisher.flush();
                fed = 0;
                let next = std::future::poll_fn(|cx| {
                    if publisher.poll_unsubscribed(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    upstream.as_mut().poll_next(cx).map(Some)
                })
                .await;
                match next {
                    Some(Some(item)) => item,
                    Some(None) | None => return,
                }
            }
            Some(Some(item)) => item,
            Some(None) => return,
        };
        publisher.feed(item).await;
        fed += 1;
        if fed == batch {
            publisher.flush();
            fed = 0;
            yield_once().await;
        }
        if publisher.subscriber_count() == 0 {
            return;
        }
    }
}

/// Returns `Pending` once, waking the task first: lets the tasks just woken run.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            wake_self(cx);
            Poll::Pending
        }
    })
    .await;
}
