//! A local mail sink on `std::net`, a thread per connection: every message to any
//! address is stored in a Maildir.
//!
//! ```text
//! cargo run --example std_server -- --listen 127.0.0.1:2525 --maildir ./maildir
//! ```
//!
//! The driver loop of the crate documentation over a blocking `TcpStream`; the
//! decisions are in `support/mail_sink.rs`, the options in `support/server_args.rs`.

#[path = "support/mail_sink.rs"]
mod mail_sink;
#[path = "support/server_args.rs"]
mod server_args;
#[path = "support/std_link.rs"]
mod std_link;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/trace.rs"]
mod trace;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smtp_sansio::Output;
use smtp_sansio::server::{Server, ServerSession};

use mail_sink::{Connection, Maildir};
use server_args::ServerArgs;
use std_link::Link;
use trace::Tracer;

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_command_line();
    if args.decide_after_ms != 0 || args.proxy_protocol || !args.xclient.is_empty() {
        eprintln!("--decide-after-ms, --proxy-protocol and --xclient are for tokio_server");
        std::process::exit(2);
    }
    // The configuration is checked once; every session shares it.
    let tls = args.tls().unwrap_or_else(|message| exit(&message));
    let server = args.server(tls.is_some()).unwrap_or_else(|message| exit(&message));
    let maildir = Arc::new(Maildir::open(&args.maildir, args.fsync, &args.hostname, args.users.clone())?);
    // Ctrl-C stops new connections; the ones in progress finish (up to a minute).
    ctrlc::set_handler(|| SHUTDOWN.store(true, Ordering::SeqCst)).map_err(std::io::Error::other)?;
    let mut listeners = Vec::new();
    for addr in &args.listen {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        eprintln!("listening on {} (Maildir {})", listener.local_addr()?, args.maildir.display());
        let (server, maildir, verbose, tls) = (server.clone(), maildir.clone(), args.verbose, tls.clone());
        let max_connections = args.max_connections as usize;
        listeners.push(std::thread::spawn(move || {
            while !SHUTDOWN.load(Ordering::SeqCst) {
                // At the limit, more connections wait in the listen queue until one ends.
                // (Each listener checks on its own: with several, each may take one more.)
                if ACTIVE.load(Ordering::SeqCst) >= max_connections {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    Err(error) => {
                        eprintln!("accept: {error}");
                        continue;
                    }
                };
                let (server, maildir, tls) = (server.clone(), maildir.clone(), tls.clone());
                ACTIVE.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    let served =
                        stream.set_nonblocking(false).and_then(|()| serve(stream, &server, &maildir, tls, verbose));
                    if let Err(error) = served {
                        eprintln!("{peer}: {error}");
                    }
                    ACTIVE.fetch_sub(1, Ordering::SeqCst);
                });
            }
        }));
    }
    for listener in listeners {
        let _ = listener.join();
    }
    eprintln!("shutting down: no new connections; waiting for the ones in progress");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ACTIVE.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Prints what is wrong with the command line, and exits.
fn exit(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

/// Set by Ctrl-C.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);
/// Connections in progress.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One connection: the driver loop.
fn serve(
    stream: TcpStream,
    server: &Server,
    maildir: &Maildir,
    tls: Option<Arc<rustls::ServerConfig>>,
    verbose: bool,
) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let handshake =
        |tls: &Arc<rustls::ServerConfig>| rustls::ServerConnection::new(tls.clone()).map_err(std::io::Error::other);
    let mut stream = Link::Plain(stream);
    if let (true, Some(tls)) = (server.config().implicit_tls, &tls) {
        stream = stream.upgrade(handshake(tls)?)?;
    }
    let mut session = ServerSession::new(server);
    let mut app = Connection::new(maildir, peer.ip());
    let mut buffer = vec![0; 64 * 1024];
    let mut tracer = Tracer::new(verbose);
    // When the session's timer fires; a wait that does not restart it keeps it.
    let mut deadline: Option<Instant> = None;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                tracer.server(&bytes);
                stream.write_all(&bytes)?;
                stream.flush()?;
            }
            // Every decision is made at once, on this thread.
            Output::Event(event) => {
                if let Some(decision) = app.handle(event, session.trace_protocol()) {
                    decision.apply(&mut session);
                }
            }
            Output::Wait(wait) => {
                let fires_at = wait.deadline(Instant::now(), deadline);
                deadline = Some(fires_at);
                // A zero read timeout means none: wait at least a millisecond.
                let left = fires_at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
                stream.tcp().set_read_timeout(Some(left))?;
                match stream.read(&mut buffer) {
                    Ok(0) => session.handle_eof(),
                    Ok(n) => {
                        tracer.client(&buffer[..n]);
                        session.handle_input(&buffer[..n]);
                    }
                    Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        session.handle_timeout()
                    }
                    Err(_) => session.handle_eof(),
                }
            }
            Output::StartTls => {
                let tls = tls.as_ref().ok_or_else(|| std::io::Error::other("STARTTLS without a certificate"))?;
                stream.tcp().set_read_timeout(Some(Duration::from_secs(60)))?;
                stream = stream.upgrade(handshake(tls)?)?;
                session.tls_established().map_err(std::io::Error::other)?;
            }
            // Every ticket is answered as soon as its event is out, and the handshake is
            // done before the loop goes on: the session waiting for this thread is a bug.
            // Say so, and close with 421 rather than wait forever.
            Output::Pending(pending) => {
                eprintln!("{peer}: bug: {} decisions owed, but every one was answered; closing", pending.owed());
                session.close();
            }
            Output::Idle => unreachable!("a server session is never idle"),
            Output::Closed => return stream.close(),
        }
    }
}
