//! The futures that consume a stream: [`NextFuture`], [`CollectFuture`], [`FoldFuture`],
//! [`ForEachFuture`], [`CountFuture`]; and, for streams of `Result`s, those that stop at the
//! first error (in `fallible.rs`): [`TryCollectFuture`], [`TryFoldFuture`],
//! [`TryForEachFuture`]. The consumer that runs futures,
//! [`ForEachConcurrent`](crate::concurrent::ForEachConcurrent), is with the other async stages.
//!
//! The ones that drain a whole stream take items in runs of [`POLL_BUDGET`]. After a run, they
//! wake their task and return `Pending`, like the operators do, so that a future draining an
//! endless ready stream still lets its executor run other tasks; inside a tokio runtime they
//! go on while the task's cooperative budget lasts (one unit per run), and yield when tokio
//! says so. Each holds its stream in a
//! [`Fuse`], so polling it again after it completed never polls the stream after its `None`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::adapters::Fuse;
use crate::poll::{POLL_BUDGET, another_run};

mod fallible;

pub use fallible::{TryCollectFuture, TryFoldFuture, TryForEachFuture};

/// Feeds every item `stream` has ready to `sink`, up to the budget. `Ready` once the stream has
/// ended; `Pending` with a wake-up registered (by the stream, or by waking the task when the
/// budget ran out) otherwise.
fn drain<St: Stream>(
    stream: Pin<&mut Fuse<St>>,
    cx: &mut Context<'_>,
    mut sink: impl FnMut(St::Item),
) -> Poll<()> {
    let (mut upstream, done) = stream.split();
    if *done {
        return Poll::Ready(());
    }
    let mut runs = 0;
    loop {
        for _ in 0..POLL_BUDGET {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => sink(item),
                Poll::Ready(None) => {
                    *done = true;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if !another_run(cx, &mut runs) {
            return Poll::Pending;
        }
    }
}

/// Future for [`StreamOps::next`](crate::StreamOps::next): the next item, or `None` at the end.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct NextFuture<'a, St: ?Sized> {
    stream: &'a mut St,
}

impl<'a, St: ?Sized + Stream + Unpin> NextFuture<'a, St> {
    pub(crate) fn new(stream: &'a mut St) -> Self {
        NextFuture { stream }
    }
}

impl<St: ?Sized + Stream + Unpin> Future for NextFuture<'_, St> {
    type Output = Option<St::Item>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.stream).poll_next(cx)
    }
}

pin_project! {
    /// Future for [`StreamOps::collect`](crate::StreamOps::collect): every item, gathered into
    /// a collection.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CollectFuture<St, C> {
        #[pin]
        stream: Fuse<St>,
        collection: C,
    }
}

impl<St: fmt::Debug, C: fmt::Debug> fmt::Debug for CollectFuture<St, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectFuture")
            .field("stream", &self.stream)
            .field("collection", &self.collection)
            .finish()
    }
}

impl<St: Stream, C: Default> CollectFuture<St, C> {
    pub(crate) fn new(stream: St) -> Self {
        CollectFuture {
            stream: Fuse::new(stream),
            collection: C::default(),
        }
    }
}

impl<St: Stream, C: Default + Extend<St::Item>> Future for CollectFuture<St, C> {
    type Output = C;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C> {
        let this = self.project();
        let collection = this.collection;
        let poll = drain(this.stream, cx, |item| collection.extend(Some(item)));
        poll.map(|()| core::mem::take(collection))
    }
}

pin_project! {
    /// Future for [`StreamOps::fold`](crate::StreamOps::fold): one value accumulated from every
    /// item.
    ///
    /// # Panics
    ///
    /// Polling it again after it completed panics.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct FoldFuture<St, F, B> {
        #[pin]
        stream: Fuse<St>,
        f: F,
        acc: Option<B>,
    }
}

impl<St: fmt::Debug, F, B: fmt::Debug> fmt::Debug for FoldFuture<St, F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoldFuture")
            .field("stream", &self.stream)
            .field("acc", &self.acc)
            .finish_non_exhaustive()
    }
}

impl<St: Stream, F, B> FoldFuture<St, F, B> {
    pub(crate) fn new(stream: St, init: B, f: F) -> Self {
        FoldFuture {
            stream: Fuse::new(stream),
            f,
            acc: Some(init),
        }
    }
}

impl<St, F, B> Future for FoldFuture<St, F, B>
where
    St: Stream,
    F: FnMut(B, St::Item) -> B,
{
    type Output = B;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<B> {
        let this = self.project();
        let mut acc = this.acc.take().expect("FoldFuture polled after completion");
        let (mut upstream, done) = this.stream.split();
        let mut runs = 0;
        loop {
            for _ in 0..POLL_BUDGET {
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => acc = (this.f)(acc, item),
                    Poll::Ready(None) => {
                        *done = true;
                        return Poll::Ready(acc);
                    }
                    Poll::Pending => {
                        *this.acc = Some(acc);
                        return Poll::Pending;
                    }
                }
            }
            if !another_run(cx, &mut runs) {
                *this.acc = Some(acc);
                return Poll::Pending;
            }
        }
    }
}

pin_project! {
    /// Future for [`StreamOps::for_each`](crate::StreamOps::for_each): calls a function on every
    /// item.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ForEachFuture<St, F> {
        #[pin]
        stream: Fuse<St>,
        f: F,
    }
}

impl<St: fmt::Debug, F> fmt::Debug for ForEachFuture<St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForEachFuture")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<St: Stream, F> ForEachFuture<St, F> {
    pub(crate) fn new(stream: St, f: F) -> Self {
        ForEachFuture {
            stream: Fuse::new(stream),
            f,
        }
    }
}

impl<St: Stream, F: FnMut(St::Item)> Future for ForEachFuture<St, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        drain(this.stream, cx, this.f)
    }
}

pin_project! {
    /// Future for [`StreamOps::count`](crate::StreamOps::count): how many items the stream
    /// yields.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CountFuture<St> {
        #[pin]
        stream: Fuse<St>,
        count: usize,
    }
}

impl<St: fmt::Debug> fmt::Debug for CountFuture<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountFuture")
            .field("stream", &self.stream)
            .field("count", &self.count)
            .finish()
    }
}

impl<St: Stream> CountFuture<St> {
    pub(crate) fn new(stream: St) -> Self {
        CountFuture {
            stream: Fuse::new(stream),
            count: 0,
        }
    }
}

impl<St: Stream> Future for CountFuture<St> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.project();
        let count = this.count;
        drain(this.stream, cx, |_| *count += 1).map(|()| *count)
    }
}
