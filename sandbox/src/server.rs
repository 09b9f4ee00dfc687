//! The HTTP/1.1 server: accept loop, per-connection serving with graceful shutdown, the response body
//! type (which can also be cut short on purpose), and the connection wrapper that can reset a connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::handlers;
use crate::state::Shared;

/// How long shutdown waits for in-flight requests before it returns anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long a connection may wait for (the headers of) its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a truncated body waits after its first half before aborting, so that the half is flushed.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(30);

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: complete, or (for the `truncate` fault) half of it followed by an error, while the
/// headers promise the full length.
pub(crate) enum SBody {
    Full(Option<Bytes>),
    Truncated { first: Option<Bytes>, full_len: u64, pause: Option<Pin<Box<tokio::time::Sleep>>> },
}

impl SBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        SBody::Full(if b.is_empty() { None } else { Some(b) })
    }

    pub fn empty() -> Self {
        SBody::Full(None)
    }

    /// The same body, cut after about half.
    pub fn truncate(self) -> Self {
        match self {
            SBody::Full(b) => {
                let b = b.unwrap_or_default();
                let full_len = b.len() as u64;
                let half = b.slice(..b.len() / 2);
                SBody::Truncated { first: Some(half).filter(|h| !h.is_empty()), full_len, pause: None }
            }
            t => t,
        }
    }

    /// The complete bytes of a full body.
    #[cfg(test)]
    pub fn bytes(&self) -> Bytes {
        match self {
            SBody::Full(b) => b.clone().unwrap_or_default(),
            SBody::Truncated { .. } => Bytes::new(),
        }
    }
}

#[derive(Debug)]
struct Truncated;

impl std::fmt::Display for Truncated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response body truncated by fault injection")
    }
}
impl std::error::Error for Truncated {}

impl Body for SBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            SBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            SBody::Truncated { first, pause, .. } => {
                if let Some(b) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                // Pending for a moment makes hyper flush what it has before the abort.
                let sleep = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(TRUNCATE_PAUSE)));
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(Truncated))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            SBody::Truncated { full_len, .. } => SizeHint::with_exact(*full_len),
        }
    }
}

/// The error a handler returns to make hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed without a response (fault injection)")
    }
}
impl std::error::Error for CloseConnection {}

/// A TCP stream that, when `reset` was requested, ends with a TCP reset (RST) instead of a FIN.
struct Conn {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            // No FIN: the drop sends the reset.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts connections until `stop` turns true (or its sender is dropped), then shuts the open
/// connections down gracefully, waiting at most [`SHUTDOWN_GRACE`].
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let (conn_stop, conn_stop_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    // Idle keep-alive connections are closed only after IDLE_TIMEOUT: longer than the idle timeouts of
    // the clients' pools, so a client never reuses a connection the sandbox is just closing.
    builder.timer(TokioTimer::new()).keep_alive(true).pipeline_flush(true).header_read_timeout(IDLE_TIMEOUT);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let mut stop_rx = conn_stop_rx.clone();
        tokio::spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let io = TokioIo::new(Conn { stream, reset: reset.clone() });
            let service = service_fn(move |req| {
                let shared = shared.clone();
                let reset = reset.clone();
                async move { handlers::handle(shared, peer, req, reset).await }
            });
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, %peer, "connection ended");
                    }
                    return;
                }
                _ = stop_rx.wait_for(|stopped| *stopped) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    drop(conn_stop_rx);
    let _ = conn_stop.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn_stop.closed()).await;
    tracing::info!("sandbox stopped");
}
