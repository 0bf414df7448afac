//! Sends one message over `std::net`, and says what became of it.
//!
//! ```text
//! cargo run --example std_client -- --server 127.0.0.1:2525 --from a@example.net --to b@example.org message.eml
//! ```
//!
//! Exits 0 when every recipient and the message were accepted, 75 on a transient
//! failure, 69 on a permanent one.

#[path = "support/client_args.rs"]
mod client_args;
#[path = "support/tls.rs"]
mod tls;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use smtp_sansio::Output;
use smtp_sansio::client::{ClientEvent, ClientSession};

use client_args::{ClientArgs, report, trace};

fn main() -> std::io::Result<()> {
    let args = match ClientArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let name = tls::server_name(&args.server)?;
    let mut stream = Link::Plain(TcpStream::connect(&args.server)?);
    if args.config.implicit_tls {
        stream = stream.upgrade(&args.tls, name.clone())?;
    }
    let mut session = ClientSession::new(args.config.clone());
    session.send(args.envelope.clone());
    session.quit();
    let mut exit = 0;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                trace(args.verbose, "C", &bytes);
                stream.write_all(&bytes)?;
                stream.flush()?;
            }
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                for piece in args.body.chunks(64 * 1024) {
                    session.push_body(piece).map_err(std::io::Error::other)?;
                }
                session.end_body().map_err(std::io::Error::other)?;
            }
            Output::Event(event) => {
                if let Some(code) = report(&event, &args.envelope) {
                    exit = exit.max(code);
                }
            }
            Output::Wait(timeout) => {
                stream.tcp().set_read_timeout(Some(timeout))?;
                match stream.read(&mut buffer) {
                    Ok(0) => session.handle_eof(),
                    Ok(n) => {
                        trace(args.verbose, "S", &buffer[..n]);
                        session.handle_input(&buffer[..n]);
                    }
                    Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        session.handle_timeout()
                    }
                    Err(_) => session.handle_eof(),
                }
            }
            Output::StartTls => {
                stream = stream.upgrade(&args.tls, name.clone())?;
                session.tls_established();
            }
            Output::Pending => unreachable!("the body is pushed at once"),
            Output::Closed => break,
        }
    }
    std::process::exit(exit)
}

/// The connection, before and after STARTTLS.
enum Link {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Link {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => &stream.sock,
        }
    }

    fn upgrade(
        self,
        config: &std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> std::io::Result<Self> {
        let Self::Plain(mut stream) = self else { return Err(std::io::Error::other("TLS is already on")) };
        let mut connection = rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
        while connection.is_handshaking() {
            connection.complete_io(&mut stream)?;
        }
        Ok(Self::Tls(Box::new(rustls::StreamOwned::new(connection, stream))))
    }
}

impl Read for Link {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buffer),
            Self::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Link {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(bytes),
            Self::Tls(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            Self::Tls(stream) => stream.flush(),
        }
    }
}
