//! Connections: the accept loop, its limits, and the slow-client defences.
//!
//! Contract: at most `max_connections` connections are open at once; the next one waits in the kernel's
//! listen backlog until a slot frees (it is not refused). Each connection speaks HTTP/1.1 through hyper
//! with a request-head size cap and a head read timeout (this timer also runs while a kept-alive
//! connection sits idle, so idle clients are closed too). A response write that makes no progress for
//! `idle_timeout` (a client that stops reading) fails with `TimedOut` and closes the connection. On the
//! shutdown signal the listener closes at once, open connections finish their current response within
//! `shutdown_grace`, and whatever is left after that is aborted: `run` returns with no task left behind.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// The connection limits, copied from the server's configuration.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) max_connections: usize,
    pub(super) header_limit: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) shutdown_grace: Duration,
}

/// Live counters, shared by the accept loop, the connections and the request middleware.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) open: AtomicUsize,
    pub(super) peak_open: AtomicUsize,
    pub(super) requests: AtomicU64,
    pub(super) header_timeouts: AtomicU64,
    pub(super) stalled: AtomicU64,
    pub(super) accept_errors: AtomicU64,
}

/// Decrements the open-connection count when the connection's task ends, however it ends.
struct Open(Arc<Counters>);

impl Open {
    fn new(counters: Arc<Counters>) -> Self {
        let now = counters.open.fetch_add(1, Ordering::AcqRel) + 1;
        counters.peak_open.fetch_max(now, Ordering::AcqRel);
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        Self(counters)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts and serves connections on `listener` until `shutdown` completes, then drains them.
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.header_limit)
        .max_buf_size(limits.header_limit.max(8192))
        .max_headers(100);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed; nothing to serve with
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(_) => {
                    // Per-connection failures (reset before accept) and fd exhaustion alike: back off a
                    // little so a full fd table does not spin, then keep serving.
                    counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let open = Open::new(counters.clone());
        let io = TokioIo::new(StallGuard::new(stream, limits.idle_timeout));
        let conn = graceful.watch(http.serve_connection(io, TowerToHyperService::new(app.clone())));
        tasks.spawn(async move {
            let _slot = permit;
            if let Err(e) = conn.await {
                if is_stall(&e) {
                    open.0.stalled.fetch_add(1, Ordering::Relaxed);
                } else if e.is_timeout() {
                    open.0.header_timeouts.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
    tasks.shutdown().await;
}

/// True when hyper gave up because [`StallGuard`] timed a write out.
fn is_stall(e: &hyper::Error) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if s.downcast_ref::<Stalled>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<Stalled>()) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// The error a stalled write ends with.
#[derive(Debug)]
struct Stalled(Duration);

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client read nothing for {:?}; connection closed", self.0)
    }
}

impl StdError for Stalled {}

/// A stream whose writes fail with `TimedOut` after `limit` of continuous no-progress.
///
/// The timer starts at the first `Pending` write (or flush, or shutdown) and is cleared by any write that
/// completes, so a slow but steady reader is never cut off; reads pass straight through.
struct StallGuard<T> {
    inner: T,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            timer: None,
        }
    }

    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.timer = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, Stalled(limit))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}
