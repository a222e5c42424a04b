//! The connection loop that serves the poem endpoint. poem's own `Server` caps nothing and
//! times out nothing that matters here: idle sockets and half-sent headers stayed open forever,
//! and enough of them used up every file descriptor. This loop accepts at most
//! `max_connections` at a time and closes connections that keep a slot without using it.
//!
//! The two timeouts, as nginx means them:
//! - `header_read_timeout`: from accepting a connection, or from the first byte of a following
//!   request, until that request's headers are complete;
//! - `keep_alive_timeout`: from the end of a response until the first byte of the next request.
//!
//! While a request is being handled (its body read, the handler run, the response sent) neither
//! applies: `REQUEST_TIMEOUT_SECS` bounds that. hyper's own `header_read_timeout` is not used,
//! because it also runs while a kept-alive connection waits for its next request, which would
//! make the keep-alive timeout the shorter of the two.

use std::{
    convert::Infallible,
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use poem::{
    Endpoint,
    http::uri::Scheme,
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};

/// How long to wait before accepting again after `accept` failed (out of file descriptors,
/// say), rather than spinning on the error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How connections are limited.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
}

/// Serves `endpoint` on the connections `acceptor` gives until `shutdown` completes; then stops
/// accepting, lets in-flight requests finish and closes idle connections, for at most `drain`.
pub async fn serve<A, E>(
    mut acceptor: A,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) where
    A: Acceptor,
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own limit of 100 headers stays: raising it makes hyper prepare that many slots
    // for every request, which cost a tenth of `GET /api/user` for the sake of a JSON 431.
    builder.http1().header_read_timeout(None);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(finished) = connections.join_next() => report_panic(finished),
            // While every slot is taken nothing is accepted: new clients wait in the kernel's
            // backlog until a connection closes, instead of costing a file descriptor each.
            (slot, accepted) = async {
                let slot = Arc::clone(&slots).acquire_owned().await;
                (slot, acceptor.accept().await)
            } => {
                let Ok(slot) = slot else { break };
                match accepted {
                    Ok((io, local, remote, scheme)) => {
                        connections.spawn(serve_connection(Connection {
                            io,
                            local,
                            remote,
                            scheme,
                            endpoint: Arc::clone(&endpoint),
                            builder: Arc::clone(&builder),
                            limits,
                            closing: closing_seen.clone(),
                            _slot: slot,
                        }));
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                }
            }
        }
    }

    drop(acceptor);
    closing.send_replace(true);
    let drained = tokio::time::timeout(drain, async {
        while let Some(finished) = connections.join_next().await {
            report_panic(finished);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "requests still running after {} s: closing their connections",
            drain.as_secs()
        );
        connections.shutdown().await;
    }
}

fn report_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(err) = finished
        && err.is_panic()
    {
        tracing::error!(error = %err, "a connection's task panicked");
    }
}

/// One accepted connection and what serving it needs.
struct Connection<Io, E> {
    io: Io,
    local: LocalAddr,
    remote: RemoteAddr,
    scheme: Scheme,
    endpoint: Arc<E>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    closing: watch::Receiver<bool>,
    /// Held until the connection is closed.
    _slot: OwnedSemaphorePermit,
}

async fn serve_connection<Io, E>(connection: Connection<Io, E>)
where
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    E: Endpoint + 'static,
{
    let Connection {
        io,
        local,
        remote,
        scheme,
        endpoint,
        builder,
        limits,
        mut closing,
        _slot,
    } = connection;
    let clock = Clock::start(limits);
    let service = hyper::service::service_fn({
        let clock = Arc::clone(&clock);
        move |request: hyper::Request<Incoming>| {
            let in_flight = clock.request_started();
            let endpoint = Arc::clone(&endpoint);
            let request =
                poem::Request::from((request, local.clone(), remote.clone(), scheme.clone()));
            async move {
                let response: hyper::Response<BoxBody<Bytes, io::Error>> =
                    endpoint.get_response(request).await.into();
                Ok::<_, Infallible>(response.map(|body| TrackedBody {
                    body,
                    _in_flight: in_flight,
                }))
            }
        }
    });
    let io = TokioIo::new(WatchedIo {
        io,
        clock: Arc::clone(&clock),
    });
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);

    tokio::select! {
        result = served.as_mut() => return log_connection_error(result),
        () = expired(&clock) => return,
        _ = closing.wait_for(|closing| *closing) => {}
    }
    // Shutting down: the request in flight gets its answer, then the connection closes.
    served.as_mut().graceful_shutdown();
    tokio::select! {
        result = served => log_connection_error(result),
        () = expired(&clock) => {}
    }
}

fn log_connection_error(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// Where a connection stands, and so when it is closed unless something happens first.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's headers to be complete.
    ReadingHead { deadline: Instant },
    /// Between requests, waiting for the first byte of the next one.
    Idle { deadline: Instant },
    /// Handling this many requests (more than one on HTTP/2): no deadline here.
    Busy { requests: usize },
}

impl Phase {
    fn deadline(self) -> Option<Instant> {
        match self {
            Self::ReadingHead { deadline } | Self::Idle { deadline } => Some(deadline),
            Self::Busy { .. } => None,
        }
    }
}

/// Moves a connection's phase as bytes arrive and requests start and finish. A request only
/// takes a lock and reads the clock: the timer task is never woken by it, it wakes on its own
/// (see [`expired`]) and looks at the phase then.
struct Clock {
    phase: Mutex<Phase>,
    limits: ConnectionLimits,
}

impl Clock {
    fn start(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::ReadingHead {
                deadline: Instant::now() + limits.header_read_timeout,
            }),
            limits,
        })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::ReadingHead {
                deadline: Instant::now() + self.limits.header_read_timeout,
            };
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            Phase::ReadingHead { .. } | Phase::Idle { .. } => Phase::Busy { requests: 1 },
        };
        drop(phase);
        InFlight(Arc::clone(self))
    }

    fn request_finished(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            _ => Phase::Idle {
                deadline: Instant::now() + self.limits.keep_alive_timeout,
            },
        };
    }

    /// How long the timer may sleep before looking again: a deadline can move earlier (the
    /// first byte of a new request starts the shorter header timeout), so never longer than a
    /// quarter of the shorter timeout. A connection closes at most that late.
    fn nap(&self) -> Duration {
        self.limits
            .header_read_timeout
            .min(self.limits.keep_alive_timeout)
            / 4
    }
}

/// Completes when the connection's current deadline passes.
async fn expired(clock: &Clock) {
    loop {
        let deadline = clock.phase().deadline();
        let now = Instant::now();
        let wake = match deadline {
            Some(deadline) if deadline <= now => return,
            Some(deadline) => deadline.min(now + clock.nap()),
            None => now + clock.nap(),
        };
        tokio::time::sleep_until(wake).await;
    }
}

/// A request being handled, from its headers until its response is sent (or abandoned).
struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that marks its request finished when hyper is done with it.
struct TrackedBody {
    body: BoxBody<Bytes, io::Error>,
    _in_flight: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the clock when bytes arrive.
struct WatchedIo<Io> {
    io: Io,
    clock: Arc<Clock>,
}

impl<Io: AsyncRead + Unpin> AsyncRead for WatchedIo<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        polled
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for WatchedIo<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
