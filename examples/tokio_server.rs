//! A local mail sink on tokio: every message to any address is stored in a Maildir.
//!
//! ```text
//! cargo run --example tokio_server -- --listen 127.0.0.1:2525 --maildir ./maildir
//! ```
//!
//! The driver loop of the crate documentation, over a `TcpStream`; the decisions are
//! in `support/mail_sink.rs`, the options in `support/server_args.rs`.

#[path = "support/mail_sink.rs"]
mod mail_sink;
#[path = "support/server_args.rs"]
mod server_args;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tokio_link.rs"]
mod tokio_link;

use std::net::SocketAddr;
use std::sync::Arc;

use smtp_sansio::Output;
use smtp_sansio::server::{ServerConfig, ServerSession};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use mail_sink::{Connection, Maildir};
use server_args::{ServerArgs, trace};
use tokio_link::Link;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = match ServerArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let config = args.config();
    let maildir = Arc::new(Maildir::open(&args.maildir, args.fsync, &args.hostname, args.users.clone())?);
    // Connections in progress; Ctrl-C waits for them (up to a minute) before exiting.
    let active = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut accepting = Vec::new();
    for addr in &args.listen {
        let listener = TcpListener::bind(addr).await?;
        eprintln!("listening on {} (Maildir {})", listener.local_addr()?, args.maildir.display());
        let (config, maildir, verbose) = (config.clone(), maildir.clone(), args.verbose);
        let (tls, implicit) = (args.tls.clone().map(TlsAcceptor::from), args.implicit_tls);
        let active = active.clone();
        accepting.push(tokio::spawn(async move {
            loop {
                let Ok(permit) = active.clone().acquire_owned().await else { return };
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (config, maildir, tls) = (config.clone(), maildir.clone(), tls.clone());
                        tokio::spawn(async move {
                            if let Err(error) = serve(stream, peer, config, &maildir, tls, implicit, verbose).await {
                                eprintln!("{peer}: {error}");
                            }
                            drop(permit);
                        });
                    }
                    Err(error) => eprintln!("accept: {error}"),
                }
            }
        }));
    }
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down: no new connections; waiting for the ones in progress");
    for task in accepting {
        task.abort();
    }
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    if tokio::time::timeout(std::time::Duration::from_secs(60), active.acquire_many(all)).await.is_err() {
        eprintln!("some connections were still open after a minute");
    }
    Ok(())
}

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 1024;

/// One connection: the driver loop.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    maildir: &Maildir,
    tls: Option<TlsAcceptor>,
    implicit_tls: bool,
    verbose: bool,
) -> std::io::Result<()> {
    let fsync = maildir.fsync();
    let mut stream: Link<TlsStream<TcpStream>> = Link::Plain(stream);
    if let (true, Some(acceptor)) = (implicit_tls, &tls) {
        let plain = stream.take_plain()?;
        stream = Link::Tls(Box::new(acceptor.accept(plain).await?));
    }
    let mut session = ServerSession::new(config);
    let mut app = Connection::new(maildir, peer.ip());
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                trace(verbose, "S", &bytes);
                stream.write_all(&bytes).await?;
            }
            // Storing a message with fsync blocks for milliseconds: tell the runtime, so
            // other connections go on. Without fsync the file operations only touch the
            // page cache, and handing the worker over would cost more than they do.
            Output::Event(event) if fsync && Connection::may_block(&event) => {
                tokio::task::block_in_place(|| app.handle(event, &mut session))
            }
            Output::Event(event) => app.handle(event, &mut session),
            Output::Wait(timeout) => match tokio::time::timeout(timeout, stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => session.handle_eof(),
                Ok(Ok(n)) => {
                    trace(verbose, "C", &buffer[..n]);
                    session.handle_input(&buffer[..n]);
                }
                Err(_) => session.handle_timeout(),
            },
            Output::StartTls => {
                let acceptor = tls.as_ref().ok_or_else(|| std::io::Error::other("STARTTLS without a certificate"))?;
                let plain = stream.take_plain()?;
                stream = Link::Tls(Box::new(acceptor.accept(plain).await?));
                session.tls_established();
            }
            Output::Pending => unreachable!("decisions are made at once"),
            Output::Closed => return stream.shutdown().await,
        }
    }
}
