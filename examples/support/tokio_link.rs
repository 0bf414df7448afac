//! An async connection before and after its TLS handshake (STARTTLS or implicit TLS),
//! for the tokio examples.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The connection: plain TCP, or a TLS stream `T` over it (the server's or the
/// client's `tokio_rustls` stream).
pub enum Link<T> {
    Plain(TcpStream),
    Tls(Box<T>),
    /// Only while the handshake runs.
    Upgrading,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Link<T> {
    /// Reads into the spare capacity of `buffer` (cancel safe: in a `select!` that
    /// another branch wins, nothing was read).
    #[allow(dead_code)] // the server reads with `poll_read`
    pub async fn read_buf(&mut self, buffer: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read_buf(buffer).await,
            Self::Tls(stream) => stream.read_buf(buffer).await,
            Self::Upgrading => Ok(0),
        }
    }

    /// Reads into `buffer` if the peer sent something, else arranges for `cx` to be
    /// woken when it does. For a buffer that is lent only for one poll (the server's
    /// per-thread read buffer).
    #[allow(dead_code)] // the client reads with `read_buf`
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buffer: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buffer),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buffer),
            Self::Upgrading => Poll::Ready(Ok(())),
        }
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.write_all(bytes).await,
            Self::Tls(stream) => stream.write_all(bytes).await,
            Self::Upgrading => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes all of `buf`, with vectored writes where the stream takes them (the
    /// client's gathered pieces, `support/pieces.rs`).
    #[allow(dead_code)] // the server writes whole replies
    pub async fn write_all_buf<B: bytes::Buf>(&mut self, buf: &mut B) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.write_all_buf(buf).await,
            Self::Tls(stream) => stream.write_all_buf(buf).await,
            Self::Upgrading => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    #[allow(dead_code)] // the client just drops the connection
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.shutdown().await,
            Self::Tls(stream) => stream.shutdown().await,
            Self::Upgrading => Ok(()),
        }
    }

    /// The plain stream, for the handshake; the link is `Upgrading` until it is put
    /// back as `Tls`.
    pub fn take_plain(&mut self) -> io::Result<TcpStream> {
        match std::mem::replace(self, Self::Upgrading) {
            Self::Plain(stream) => Ok(stream),
            other => {
                *self = other;
                Err(io::Error::other("TLS is already on"))
            }
        }
    }
}
