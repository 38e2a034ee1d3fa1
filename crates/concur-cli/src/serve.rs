//! The book server (issue 5): a folder (or an in-memory [`Books`] set) over HTTP/1.1 on loopback, with
//! simulated latency and bandwidth, hardened against hostile paths and slow clients.
//!
//! Contract:
//! - **Where.** Binds `addr` (default `127.0.0.1:0`, a free port); any non-loopback address is refused
//!   with [`ServeError::NonLoopback`] unless `allow_non_loopback` is set. [`Bound::base_url`] says where.
//! - **What.** `GET`/`HEAD /{name}` answers the file under the folder (tower-http `ServeDir`, ranges and
//!   conditional requests included; no directory index) or the in-memory book. Traversal (`..`, `%2e%2e`,
//!   `%2f`, `%5c`, `\`, empty segments) is a `400`; a path whose symlinks resolve outside the folder, or
//!   that does not exist, is a `404`. Nothing outside the folder is ever read.
//! - **Conditions.** Every response (errors too) waits `latency + U[0, jitter]` before its first byte
//!   (seeded, reproducible); with `bandwidth` each body streams at that many bytes per second.
//! - **Limits.** At most `max_connections` open connections (more wait in the backlog, they are not
//!   refused); request heads above `header_limit` bytes are refused; a head not received within
//!   `header_read_timeout` (slowloris, or an idle kept-alive connection) closes the connection; a client
//!   that reads nothing for `idle_timeout` is dropped.
//! - **Lifetime.** [`serve`] / [`Bound::run`] run on the caller's tokio runtime until the shutdown future
//!   completes, then stop accepting, let responses in flight finish for up to `shutdown_grace`, abort the
//!   rest and return. [`start`] does the same on its own runtime thread; [`RunningServer::shutdown`] or
//!   dropping it stops the server and joins the thread.
//!
//! Design note: the routing is an axum `Router` (ServeDir or the books handler behind one middleware), but
//! connections are driven by hyper's HTTP/1.1 builder directly rather than `axum::serve`, because
//! `axum::serve` exposes neither a request-head read timeout nor a head size cap, and its connection count
//! is unbounded. HTTP/2 is not offered: the clients are HTTP/1.1 and h2 would need its own set of limits.
//!
//! ```no_run
//! use concur_cli::serve::{start, ServerConfig};
//! use std::time::Duration;
//! let server = start(ServerConfig {
//!     latency: Duration::from_millis(300),
//!     ..ServerConfig::dir("../shared/data/books")
//! })?;
//! println!("serving at {}", server.base_url());
//! let url = server.url_for("A Tale of Two Cities.txt"); // .../A%20Tale%20of%20Two%20Cities.txt
//! # let _ = url;
//! server.shutdown()?;
//! # Ok::<(), concur_cli::serve::ServeError>(())
//! ```

mod books;
mod conn;
mod guard;
mod pace;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tower_http::services::ServeDir;

pub use books::Books;

/// What the server serves.
#[derive(Clone, Debug)]
pub enum Content {
    /// The files under this folder (symlinks allowed only while they stay inside it).
    Dir(PathBuf),
    /// These in-memory books.
    Books(Books),
}

/// Everything [`bind`], [`serve`] and [`start`] need. Build with [`ServerConfig::dir`] or
/// [`ServerConfig::books`] and override fields with struct-update syntax.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// What to serve.
    pub content: Content,
    /// Address to bind; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Delay before each response's first byte. Default zero.
    pub latency: Duration,
    /// Extra uniform random delay in `[0, jitter]` added to `latency`. Default zero.
    pub jitter: Duration,
    /// Seed of the jitter generator. Default 0.
    pub seed: u64,
    /// Body pacing in bytes per second, per response; `None` = unlimited (default). `Some(0)` is an error.
    pub bandwidth: Option<u64>,
    /// Permit a non-loopback `addr`. Default false.
    pub allow_non_loopback: bool,
    /// Connections served at once; the rest wait in the listen backlog. Default 1024.
    pub max_connections: usize,
    /// Listen backlog. Default 1024.
    pub backlog: u32,
    /// Largest accepted request head (request line + headers) in bytes. Default 16 KiB.
    pub header_limit: usize,
    /// Time allowed to receive a whole request head; also closes idle kept-alive connections. Default 10 s.
    pub header_read_timeout: Duration,
    /// A response write that makes no progress this long drops the client. Default 30 s.
    pub idle_timeout: Duration,
    /// After the shutdown signal, how long responses in flight may take to finish. Default 5 s.
    pub shutdown_grace: Duration,
    /// Runtime worker threads used by [`start`] (ignored by [`serve`]). Default 2.
    pub runtime_threads: usize,
}

impl ServerConfig {
    /// Serves the folder `dir` with the defaults listed on each field.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        Self::with_content(Content::Dir(dir.into()))
    }

    /// Serves `books` from memory with the defaults listed on each field.
    pub fn books(books: Books) -> Self {
        Self::with_content(Content::Books(books))
    }

    fn with_content(content: Content) -> Self {
        Self {
            content,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: 0,
            bandwidth: None,
            allow_non_loopback: false,
            max_connections: 1024,
            backlog: 1024,
            header_limit: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            runtime_threads: 2,
        }
    }

    fn check(&self) -> Result<(), ServeError> {
        let bad = |what: &str| Err(ServeError::Config(what.to_string()));
        if !self.allow_non_loopback && !self.addr.ip().is_loopback() {
            return Err(ServeError::NonLoopback { addr: self.addr });
        }
        match () {
            () if self.bandwidth == Some(0) => bad("bandwidth must be at least 1 byte per second"),
            () if self.max_connections == 0 => bad("max_connections must be at least 1"),
            () if self.header_limit < 256 => bad("header_limit must be at least 256 bytes"),
            () if self.header_read_timeout.is_zero() => bad("header_read_timeout must be positive"),
            () if self.idle_timeout.is_zero() => bad("idle_timeout must be positive"),
            () if self.runtime_threads == 0 => bad("runtime_threads must be at least 1"),
            () => Ok(()),
        }
    }
}

/// Why the server could not start or run; each names the address, folder or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `addr` is not loopback and `allow_non_loopback` is off.
    #[error("refusing to serve on non-loopback address {addr} (allow it explicitly to expose the books)")]
    NonLoopback {
        /// The refused address.
        addr: SocketAddr,
    },
    /// The socket could not be created, bound or listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The folder to serve is missing or not a folder.
    #[error("cannot serve folder {}: {source}", path.display())]
    Dir {
        /// The folder asked for.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A setting is out of range.
    #[error("invalid server setting: {0}")]
    Config(String),
    /// The server's own runtime or thread failed.
    #[error("server runtime failed: {0}")]
    Runtime(String),
}

/// A snapshot of the server's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections open now.
    pub open: usize,
    /// Most connections ever open at once (never above `max_connections`).
    pub peak_open: usize,
    /// Requests that reached the server's handler.
    pub requests: u64,
    /// Connections closed because a request head arrived too slowly.
    pub header_timeouts: u64,
    /// Connections closed because the client stopped reading a response.
    pub stalled: u64,
    /// `accept` failures (the loop backs off and continues).
    pub accept_errors: u64,
}

/// Reads a server's counters from anywhere; cheap to clone.
#[derive(Clone, Debug)]
pub struct StatsHandle(Arc<conn::Counters>);

impl StatsHandle {
    /// The counters now.
    pub fn get(&self) -> ServerStats {
        let c = &self.0;
        ServerStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            open: c.open.load(Ordering::Relaxed),
            peak_open: c.peak_open.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            header_timeouts: c.header_timeouts.load(Ordering::Relaxed),
            stalled: c.stalled.load(Ordering::Relaxed),
            accept_errors: c.accept_errors.load(Ordering::Relaxed),
        }
    }
}

/// Shared by every request.
struct Shared {
    root: Option<PathBuf>,
    delays: pace::Delays,
    bandwidth: Option<u64>,
    counters: Arc<conn::Counters>,
}

/// A listening server that has not started answering yet: [`bind`] made it, [`Bound::run`] serves.
pub struct Bound {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Router,
    limits: conn::Limits,
    counters: Arc<conn::Counters>,
}

/// Checks `config`, opens the folder and binds the socket. Must be called inside a tokio runtime.
pub async fn bind(config: ServerConfig) -> Result<Bound, ServeError> {
    config.check()?;
    let counters = Arc::new(conn::Counters::default());
    let (root, inner) = match config.content {
        Content::Dir(dir) => {
            let root = open_dir(&dir).await?;
            let files = ServeDir::new(&root).append_index_html_on_directories(false);
            (Some(root), Router::new().fallback_service(files))
        }
        Content::Books(books) => (
            None,
            Router::new()
                .fallback(books::answer)
                .with_state(Arc::new(books)),
        ),
    };
    let shared = Arc::new(Shared {
        root,
        delays: pace::Delays::new(config.latency, config.jitter, config.seed),
        bandwidth: config.bandwidth,
        counters: counters.clone(),
    });
    let app = inner.layer(middleware::from_fn_with_state(shared, guard));
    let addr = config.addr;
    let bind_err = |source| ServeError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_err)?;
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(addr).map_err(bind_err)?;
    let listener = socket.listen(config.backlog).map_err(bind_err)?;
    let local_addr = listener.local_addr().map_err(bind_err)?;
    let limits = conn::Limits {
        max_connections: config.max_connections,
        header_limit: config.header_limit,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        shutdown_grace: config.shutdown_grace,
    };
    Ok(Bound {
        listener,
        local_addr,
        app,
        limits,
        counters,
    })
}

async fn open_dir(dir: &Path) -> Result<PathBuf, ServeError> {
    let dir_err = |source| ServeError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    let root = tokio::fs::canonicalize(dir).await.map_err(dir_err)?;
    if !tokio::fs::metadata(&root).await.map_err(dir_err)?.is_dir() {
        return Err(dir_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a folder",
        )));
    }
    Ok(root)
}

impl Bound {
    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://{local_addr}` with no trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.local_addr)
    }

    /// A handle on the server's counters that stays valid while (and after) [`Bound::run`] runs.
    pub fn stats(&self) -> StatsHandle {
        StatsHandle(self.counters.clone())
    }

    /// Serves until `shutdown` completes, then drains (see the module contract) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        conn::run(
            self.listener,
            self.app,
            self.limits,
            self.counters,
            shutdown,
        )
        .await;
    }
}

/// Binds and serves on the current tokio runtime until `shutdown` completes (for `concur serve`;
/// pair with [`shutdown_signal`]). `on_bound` receives the base URL once the socket listens.
pub async fn serve(
    config: ServerConfig,
    on_bound: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let bound = bind(config).await?;
    on_bound(&bound.base_url());
    bound.run(shutdown).await;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM on Unix. If a handler cannot be installed, that signal is ignored.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A server running on its own runtime thread; [`start`] makes one. Dropping it shuts it down.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stats: StatsHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the server on a new thread with its own multi-thread tokio runtime (`runtime_threads` workers)
/// and returns once it listens. Safe to call from inside another runtime.
pub fn start(config: ServerConfig) -> Result<RunningServer, ServeError> {
    let threads = config.runtime_threads.max(1);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("concur-serve".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("concur-serve-worker")
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => return drop(ready_tx.send(Err(ServeError::Runtime(e.to_string())))),
            };
            runtime.block_on(async move {
                match bind(config).await {
                    Ok(bound) => {
                        let _ = ready_tx.send(Ok((bound.local_addr, bound.stats())));
                        // A dropped sender (RunningServer dropped) stops the server as well.
                        bound.run(async { drop(stopped.await) }).await;
                    }
                    Err(e) => drop(ready_tx.send(Err(e))),
                }
            });
        })
        .map_err(|e| ServeError::Runtime(format!("cannot spawn the server thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok((local_addr, stats))) => Ok(RunningServer {
            local_addr,
            stats,
            stop: Some(stop),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(ServeError::Runtime(
                "the server thread ended before listening".into(),
            ))
        }
    }
}

impl RunningServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://{local_addr}` with no trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.local_addr)
    }

    /// The URL of the book `name`, percent-encoded as one path segment (`a b.txt` -> `.../a%20b.txt`).
    pub fn url_for(&self, name: &str) -> String {
        url_for(&self.base_url(), name)
    }

    /// The server's counters now.
    pub fn stats(&self) -> ServerStats {
        self.stats.get()
    }

    /// Stops accepting, drains (up to `shutdown_grace`), and joins the server thread.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(ServeError::Runtime(format!(
                "the server thread for {} panicked",
                self.local_addr
            ))),
            _ => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// `http://{addr}` (IPv6 in brackets), no trailing slash.
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// `{base}/{name}` with `name` percent-encoded as one path segment.
pub fn url_for(base: &str, name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(name, SEGMENT)
    )
}

/// Every request passes here: latency first, then the path checks, then the content, then pacing.
async fn guard(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let delay = shared.delays.next();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match guard::decode(req.uri().path()) {
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
        Ok(path) => match &shared.root {
            Some(root) if !guard::contained(root, &path.0).await => (
                StatusCode::NOT_FOUND,
                format!("no file at {}", req.uri().path()),
            )
                .into_response(),
            _ => {
                req.extensions_mut().insert(path);
                next.run(req).await
            }
        },
    };
    match shared.bandwidth {
        Some(rate) => response.map(|body| Body::new(pace::Paced::new(body, rate))),
        None => response,
    }
}
