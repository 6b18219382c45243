//! The consumers of a stream of `Result`s that stop at the first error: [`TryCollectFuture`],
//! [`TryFoldFuture`], [`TryForEachFuture`].
//!
//! Each resolves to `Err` with the first error it meets (an `Err` item, or an error its
//! function returned) and then polls the stream no more; the items after it are left in the
//! stream. Like the other consumers, each takes its items in runs of [`POLL_BUDGET`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, another_run};

/// Feeds the `Ok` items `stream` has ready to `sink`, up to the budget: `Ready(Ok)` once the
/// stream has ended, `Ready(Err)` at the first error (of the stream or of `sink`), `Pending`
/// with a wake-up registered otherwise.
fn try_drain<St, T, E>(
    stream: Pin<&mut Fuse<St>>,
    cx: &mut Context<'_>,
    mut sink: impl FnMut(T) -> Result<(), E>,
) -> Poll<Result<(), E>>
where
    St: Stream<Item = Result<T, E>>,
{
    let (mut upstream, done) = stream.split();
    if *done {
        return Poll::Ready(Ok(()));
    }
    let mut runs = 0;
    loop {
        for _ in 0..POLL_BUDGET {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if let Err(error) = item.and_then(&mut sink) {
                        return Poll::Ready(Err(error));
                    }
                }
                Poll::Ready(None) => {
                    *done = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if !another_run(cx, &mut runs) {
            return Poll::Pending;
        }
    }
}

pin_project! {
    /// Future for [`TryStreamOps::try_collect`](crate::TryStreamOps::try_collect): every `Ok`
    /// item gathered into a collection, or the first error.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TryCollectFuture<St, C> {
        #[pin]
        stream: Fuse<St>,
        collection: C,
    }
}

impl<St, C: Default> TryCollectFuture<St, C> {
    pub(crate) fn new(stream: St) -> Self {
        TryCollectFuture {
            stream: Fuse::new(stream),
            collection: C::default(),
        }
    }
}

impl<St, T, E, C> Future for TryCollectFuture<St, C>
where
    St: Stream<Item = Result<T, E>>,
    C: Default + Extend<T>,
{
    type Output = Result<C, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<C, E>> {
        let this = self.project();
        let collection = this.collection;
        let poll = try_drain(this.stream, cx, |item| {
            collection.extend(Some(item));
            Ok(())
        });
        poll.map(|done| done.map(|()| core::mem::take(collection)))
    }
}

impl<St: fmt::Debug, C: fmt::Debug> fmt::Debug for TryCollectFuture<St, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryCollectFuture")
            .field("stream", &self.stream)
            .field("collection", &self.collection)
            .finish()
    }
}

pin_project! {
    /// Future for [`TryStreamOps::try_fold`](crate::TryStreamOps::try_fold): one value
    /// accumulated from every `Ok` item by a function that may fail, or the first error.
    ///
    /// # Panics
    ///
    /// Polling it again after it completed panics.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TryFoldFuture<St, F, B> {
        #[pin]
        stream: Fuse<St>,
        f: F,
        acc: Option<B>,
    }
}

impl<St, F, B> TryFoldFuture<St, F, B> {
    pub(crate) fn new(stream: St, init: B, f: F) -> Self {
        TryFoldFuture {
            stream: Fuse::new(stream),
            f,
            acc: Some(init),
        }
    }
}

impl<St, T, E, F, B> Future for TryFoldFuture<St, F, B>
where
    St: Stream<Item = Result<T, E>>,
    F: FnMut(B, T) -> Result<B, E>,
{
    type Output = Result<B, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<B, E>> {
        let this = self.project();
        let (slot, f) = (this.acc, this.f);
        assert!(slot.is_some(), "TryFoldFuture polled after completion");
        let poll = try_drain(this.stream, cx, |item| {
            let acc = slot.take().expect("the accumulator is held between items");
            *slot = Some(f(acc, item)?);
            Ok(())
        });
        poll.map(|done| done.map(|()| slot.take().expect("the accumulator is held at the end")))
    }
}

impl<St: fmt::Debug, F, B: fmt::Debug> fmt::Debug for TryFoldFuture<St, F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryFoldFuture")
            .field("stream", &self.stream)
            .field("acc", &self.acc)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future for [`TryStreamOps::try_for_each`](crate::TryStreamOps::try_for_each): calls a
    /// function that may fail on every `Ok` item; the first error ends it.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TryForEachFuture<St, F> {
        #[pin]
        stream: Fuse<St>,
        f: F,
    }
}

impl<St, F> TryForEachFuture<St, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        TryForEachFuture {
            stream: Fuse::new(stream),
            f,
        }
    }
}

impl<St, T, E, F> Future for TryForEachFuture<St, F>
where
    St: Stream<Item = Result<T, E>>,
    F: FnMut(T) -> Result<(), E>,
{
    type Output = Result<(), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let this = self.project();
        try_drain(this.stream, cx, this.f)
    }
}

impl<St: fmt::Debug, F> fmt::Debug for TryForEachFuture<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryForEachFuture")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}
