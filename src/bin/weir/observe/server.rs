//! The HTTP server of `--metrics`: hyper's HTTP/1 on a tokio runtime of its own thread, so
//! that what its clients do (a scrape, a page left open, a client that never reads) never
//! takes the pipeline's task. It serves the latest snapshot only:
//!
//! - `GET /metrics`: Prometheus' text exposition (`exposition.rs`);
//! - `GET /`: the live page (`page.html`, everything inline: it fetches nothing else);
//! - `GET /events`: Server-Sent Events, the snapshot as JSON every [`UPDATE_EVERY`].
//!
//! Anything else is answered 404 (or 405 for another method). Headers larger than
//! [`MAX_HEADERS`] get 431, a client that sends no complete request head within
//! [`HEAD_TIMEOUT`] is cut off, and at most [`MAX_CONNECTIONS`] are served at once (more are
//! closed as they come). A client that does not read holds up only its own connection, and
//! the server holds no more for it than the latest snapshot.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Interval, MissedTickBehavior, interval};

use super::Snapshot;
use super::exposition::registry;

/// How often the page is sent the latest snapshot.
pub(crate) const UPDATE_EVERY: Duration = Duration::from_millis(500);
/// The largest request head accepted, in bytes.
pub(crate) const MAX_HEADERS: usize = 16 * 1024;
/// How long a client has to send a request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// How long the final scrape's reply is given to go out (it is marked read as it is made).
const REPLY_GRACE: Duration = Duration::from_millis(100);

/// The page, as served.
const PAGE: &str = include_str!("page.html");

/// The running server: its address, and whether a scrape has read the final counts.
pub(crate) struct Server {
    addr: SocketAddr,
    final_scraped: watch::Receiver<bool>,
}

/// What every connection shares, for as long as the process lives (it is leaked once, so
/// that each connection's task can borrow it).
struct Shared {
    snapshots: watch::Receiver<Snapshot>,
    registry: Registry,
    final_scraped: watch::Sender<bool>,
    /// Connections served at once.
    slots: Semaphore,
}

impl Server {
    /// Listens on `addr` and serves on a thread of its own; or why it cannot listen.
    pub(super) fn start(
        addr: SocketAddr,
        snapshots: watch::Receiver<Snapshot>,
        writes: Histogram,
    ) -> Result<Server, String> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("--metrics {addr}: cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (final_tx, final_scraped) = watch::channel(false);
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            registry: registry(snapshots.clone(), writes),
            snapshots,
            final_scraped: final_tx,
            slots: Semaphore::new(MAX_CONNECTIONS),
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("--metrics: cannot start its runtime: {e}"))?;
        std::thread::Builder::new()
            .name("weir-metrics".to_owned())
            .spawn(move || runtime.block_on(accept(listener, shared)))
            .map_err(|e| format!("--metrics: cannot start its thread: {e}"))?;
        Ok(Server {
            addr,
            final_scraped,
        })
    }

    /// The address served.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until a scrape of `/metrics` has read the final counts, `linger` at most; then
    /// [`REPLY_GRACE`] more, for the reply to go out before the process ends.
    pub(super) async fn scraped_within(mut self, linger: Duration) {
        let scraped = self.final_scraped.wait_for(|&done| done);
        if let Ok(Ok(_)) = tokio::time::timeout(linger, scraped).await {
            tokio::time::sleep(REPLY_GRACE).await;
        }
    }
}

/// Accepts connections for ever (the process ends the thread).
async fn accept(listener: std::net::TcpListener, shared: &'static Shared) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            report!("weir: --metrics: cannot serve: {e}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Over the limit: the connection is closed as it comes.
        let Ok(slot) = shared.slots.try_acquire() else {
            continue;
        };
        tokio::spawn(async move {
            let service =
                service_fn(|request| async move { Ok::<_, Infallible>(respond(shared, &request)) });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

type Reply = Response<Either<Full<Bytes>, Updates>>;

/// The response to `request`.
fn respond(shared: &Shared, request: &Request<Incoming>) -> Reply {
    let path = request.uri().path();
    if !matches!(path, "/" | "/metrics" | "/events") {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: try /, /metrics or /events\n",
        );
    }
    if request.method() != Method::GET {
        let mut reply = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        reply
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return reply;
    }
    match path {
        "/metrics" => {
            // The encoding reads the latest snapshot itself. `ended` turns true once: read on
            // both sides of the encoding, it is what the encoding read, unless it turned
            // meanwhile (then the counts are encoded again, from the final snapshot).
            let (text, ended) = loop {
                let before = shared.snapshots.borrow().ended;
                let mut text = String::new();
                if prometheus_text::encode(&mut text, &shared.registry).is_err() {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode\n");
                }
                if shared.snapshots.borrow().ended == before {
                    break (text, before);
                }
            };
            if ended {
                shared.final_scraped.send_replace(true);
            }
            with_type(
                Either::Left(Full::from(text)),
                prometheus_text::CONTENT_TYPE,
            )
        }
        "/events" => {
            let mut tick = interval(UPDATE_EVERY);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let updates = Updates {
                snapshots: shared.snapshots.clone(),
                tick,
            };
            let mut reply = with_type(Either::Right(updates), "text/event-stream");
            reply
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            reply
        }
        _ => with_type(Either::Left(Full::from(PAGE)), "text/html; charset=utf-8"),
    }
}

fn with_type(body: Either<Full<Bytes>, Updates>, content_type: &'static str) -> Reply {
    let mut reply = Response::new(body);
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut reply = with_type(Either::Left(Full::from(text)), "text/plain; charset=utf-8");
    *reply.status_mut() = status;
    reply
}

/// The body of `/events`: an event with the latest snapshot, as JSON, at each tick. It is
/// polled only as the client takes what was sent, so a client that does not read holds
/// nothing but the latest snapshot.
struct Updates {
    snapshots: watch::Receiver<Snapshot>,
    tick: Interval,
}

impl Body for Updates {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        ready!(self.tick.poll_tick(cx));
        let json = serde_json::to_string(&*self.snapshots.borrow_and_update())
            .unwrap_or_else(|_| "{}".to_owned());
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(format!(
            "data: {json}\n\n"
        ))))))
    }
}
