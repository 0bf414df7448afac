//! A blocking connection before and after its TLS handshake (STARTTLS or implicit TLS),
//! for the std examples.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::ops::{Deref, DerefMut};

use rustls::{ConnectionCommon, SideData, StreamOwned};

/// The connection: plain TCP, or rustls over it (`C` is the server's or the client's
/// rustls connection).
pub enum Link<C> {
    Plain(TcpStream),
    Tls(Box<StreamOwned<C, TcpStream>>),
}

impl<C, S> Link<C>
where
    C: Deref<Target = ConnectionCommon<S>> + DerefMut,
    S: SideData,
{
    /// The TCP stream underneath, for timeouts and shutdown.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => &stream.sock,
        }
    }

    /// Runs the handshake of `connection` on the plain stream.
    pub fn upgrade(self, mut connection: C) -> io::Result<Self> {
        let Self::Plain(mut stream) = self else { return Err(io::Error::other("TLS is already on")) };
        while connection.is_handshaking() {
            connection.complete_io(&mut stream)?;
        }
        Ok(Self::Tls(Box::new(StreamOwned::new(connection, stream))))
    }

    /// Says goodbye on TLS, then closes both directions.
    pub fn close(&mut self) -> io::Result<()> {
        if let Self::Tls(stream) = self {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
        self.tcp().shutdown(std::net::Shutdown::Both)
    }
}

impl<C, S> Read for Link<C>
where
    C: Deref<Target = ConnectionCommon<S>> + DerefMut,
    S: SideData,
{
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buffer),
            Self::Tls(stream) => stream.read(buffer),
        }
    }
}

impl<C, S> Write for Link<C>
where
    C: Deref<Target = ConnectionCommon<S>> + DerefMut,
    S: SideData,
{
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(bytes),
            Self::Tls(stream) => stream.write(bytes),
        }
    }

    /// One `writev` on plain TCP (rustls copies into its records anyway).
    fn write_vectored(&mut self, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write_vectored(slices),
            Self::Tls(stream) => stream.write_vectored(slices),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            Self::Tls(stream) => stream.flush(),
        }
    }
}
