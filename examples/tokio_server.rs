//! A local mail sink on tokio: every message to any address is stored in a Maildir.
//!
//! ```text
//! cargo run --example tokio_server -- --listen 127.0.0.1:2525 --maildir ./maildir
//! cargo run --example tokio_server -- --decide-after-ms 20   # decisions from other tasks
//! ```
//!
//! [`serve`] is the asynchronous driver loop: one task per connection owns its session,
//! writes what the session says, reads what the peer sends, and takes decisions back
//! from the tasks that make them. The decisions themselves (and the disk work behind
//! them) are in `support/mail_sink.rs`, the options in `support/server_args.rs`.

#[path = "support/mail_sink.rs"]
mod mail_sink;
#[path = "support/server_args.rs"]
mod server_args;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tokio_link.rs"]
mod tokio_link;
#[path = "support/trace.rs"]
mod trace;

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use smtp_sansio::Output;
use smtp_sansio::server::{Server, ServerEvent, ServerSession};
use tokio::io::ReadBuf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use mail_sink::{Connection, Decision, Maildir};
use server_args::ServerArgs;
use tokio_link::Link;
use trace::Tracer;

fn main() -> io::Result<()> {
    let args = ServerArgs::from_command_line();
    runtime(&args)?.block_on(run(args))
}

/// Without fsync, nothing the server does blocks for long, and most of its work is
/// system calls: one thread serves every connection, with no wake-ups from one thread
/// to another (and leaves the other cores to the clients, on a loopback benchmark).
/// With fsync, storing a message blocks for milliseconds: a thread per core, and
/// `block_in_place` (see [`act`]) lets the others go on while one waits for the disk.
fn runtime(args: &ServerArgs) -> io::Result<tokio::runtime::Runtime> {
    let mut builder = match args.fsync {
        true => tokio::runtime::Builder::new_multi_thread(),
        false => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build()
}

/// Listens, serves every connection in a task of its own, and on Ctrl-C waits for the
/// ones in progress.
async fn run(args: ServerArgs) -> io::Result<()> {
    // The configuration is checked once; every session shares it.
    let tls = args.tls().unwrap_or_else(|message| exit(&message));
    let server = args.server(tls.is_some()).unwrap_or_else(|message| exit(&message));
    let shared = Arc::new(Shared {
        server,
        maildir: Arc::new(Maildir::open(&args.maildir, args.fsync, &args.hostname, args.users.clone())?),
        tls: tls.map(TlsAcceptor::from),
        verbose: args.verbose,
        decide_after: args.decide_after(),
        xclient: args.xclient.clone(),
    });
    // Connections in progress; Ctrl-C waits for them (up to a minute) before exiting.
    let active = Arc::new(tokio::sync::Semaphore::new(args.max_connections as usize));
    let mut accepting = Vec::new();
    for addr in &args.listen {
        let listener = TcpListener::bind(addr).await?;
        eprintln!("listening on {} (Maildir {})", listener.local_addr()?, args.maildir.display());
        let (shared, active) = (shared.clone(), active.clone());
        accepting.push(tokio::spawn(async move {
            loop {
                let Ok(permit) = active.clone().acquire_owned().await else { return };
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            if let Err(error) = serve(stream, peer, &shared).await {
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
    if tokio::time::timeout(Duration::from_secs(60), active.acquire_many(args.max_connections)).await.is_err() {
        eprintln!("some connections were still open after a minute");
    }
    Ok(())
}

/// Prints what is wrong with the command line, and exits.
fn exit(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

/// What every connection shares.
struct Shared {
    server: Server,
    maildir: Arc<Maildir>,
    /// For STARTTLS, or for every connection with `--implicit-tls`.
    tls: Option<TlsAcceptor>,
    verbose: bool,
    /// How long each decision takes to come back (zero: it is answered at once).
    decide_after: Duration,
    /// Peers trusted with XCLIENT and XFORWARD.
    xclient: Vec<server_args::Cidr>,
}

/// One connection: the asynchronous driver loop.
///
/// Events are acted on at once, in order (the message goes to disk as it comes); only
/// the answers to tickets may wait. Then the session says whom it waits for, and the
/// loop waits for exactly that:
///
/// * `Wait(timeout)`: the peer alone. Nothing is owed by the application, so no decision
///   can arrive: read, with the session's inactivity timeout.
/// * `Pending(pending)`: the application owes `pending.owed()` decisions; other tasks
///   make them and send them back over a channel. Wait for a decision and, if the
///   session can use input meanwhile (pipelined `RCPT`s while one is looked up), for
///   the peer too: whichever comes first. No timeout: the client is not to blame for
///   the application's slowness, and the application's own deadlines are its own.
async fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let mut link: Link<TlsStream<TcpStream>> = Link::Plain(stream);
    if shared.server.config().implicit_tls {
        link = Box::pin(handshake(link, shared)).await?;
    }
    let mut session = ServerSession::new(&shared.server);
    let mut app = Connection::new(&shared.maildir, peer.ip());
    // Behind the PROXY protocol, trust is decided by the address in the header.
    let proxied = shared.server.config().proxy_protocol.is_some();
    if !proxied && ServerArgs::xclient_allowed(&shared.xclient, peer.ip()) {
        session.trust_proxy();
    }
    // Decisions made by other tasks come back here: only this loop touches the session.
    let mut later = LaterDecisions::default();
    let mut tracer = Tracer::new(shared.verbose);
    // When the session's timer fires; a wait that does not restart it keeps it (the
    // deadline of a command line that arrives in pieces).
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                tracer.server(&bytes);
                link.write_all(&bytes).await?;
            }
            // Every event is acted on now, in order: body chunks go to the file as they
            // come, and a message is stored when its end arrives. Only the answer to a
            // ticket may wait.
            Output::Event(event) => match act(&mut app, event, &mut session, shared) {
                None => {}
                Some(decision) if shared.decide_after.is_zero() => decision.apply(&mut session),
                // As an application that asks a database or a policy service would: the
                // decision comes back later, from another task.
                Some(decision) => later.send_after(decision, shared.decide_after),
            },
            Output::Wait(wait) => {
                let fires_at = wait.deadline(tokio::time::Instant::now(), deadline);
                deadline = Some(fires_at);
                match tokio::time::timeout_at(fires_at, read(&mut link)).await {
                    Ok(input) => hand_over(input, &mut session, &mut tracer),
                    Err(_elapsed) => session.handle_timeout(),
                }
            }
            Output::Pending(pending) => tokio::select! {
                // Both futures are cancel safe: the one that loses has taken nothing.
                Some(decision) = later.next(), if pending.owed() > 0 => decision.apply(&mut session),
                // When the session cannot use input (a command waits on a decision that
                // everything after it depends on), reading would only fill its buffer.
                input = read(&mut link), if pending.wants_input() => hand_over(input, &mut session, &mut tracer),
                // Nothing owed and nothing to read: only the TLS handshake, which is never
                // left pending here. A bug, then: close rather than wait forever.
                else => {
                    eprintln!("{peer}: the session waits for nothing this loop can give; closing");
                    session.close();
                }
            },
            Output::StartTls => {
                // Boxed, here and above: the handshake's state is over a kilobyte, and
                // inline it would make every connection's task that much bigger.
                link = Box::pin(handshake(link, shared)).await?;
                session.tls_established().map_err(io::Error::other)?;
            }
            Output::Idle => unreachable!("a server session is never idle"),
            Output::Closed => return close(link).await,
        }
    }
}

/// Acts on one event; returns the decision it calls for, if any.
fn act(app: &mut Connection<'_>, event: ServerEvent, session: &mut ServerSession, shared: &Shared) -> Option<Decision> {
    let protocol = session.trace_protocol();
    if let ServerEvent::ProxyRefused(error) = &event {
        eprintln!("{}: no PROXY protocol header ({error}): closed", app.peer());
    }
    // The peer's address changed: whether it is trusted with XCLIENT is decided anew.
    let proxied = matches!(event, ServerEvent::Proxied(_) | ServerEvent::Xclient(_));
    // Storing a message with fsync blocks for milliseconds: tell the runtime, so other
    // connections go on (with fsync the runtime has a thread per core: see [`runtime`]).
    // Without fsync the file operations only touch the page cache, and handing the
    // worker over would cost more than they do.
    let decision = if shared.maildir.fsync() && Connection::may_block(&event) {
        tokio::task::block_in_place(|| app.handle(event, protocol))
    } else {
        app.handle(event, protocol)
    };
    if proxied && ServerArgs::xclient_allowed(&shared.xclient, app.peer()) {
        session.trust_proxy();
    }
    decision
}

thread_local! {
    /// Where every connection served by this thread reads, so that a connection waiting
    /// for its peer holds no read buffer of its own (most of an idle connection's
    /// memory, when each had one).
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; 64 * 1024].into_boxed_slice());
}

/// Waits for what the peer sends, and returns it: a copy of the bytes read, exactly
/// their size, or nothing at the end of input. Cancel safe: the thread's buffer is only
/// lent for one poll, and a poll that reads returns at once.
async fn read(link: &mut Link<TlsStream<TcpStream>>) -> io::Result<BytesMut> {
    std::future::poll_fn(|cx| {
        READ_BUFFER.with_borrow_mut(|buffer| {
            let mut buffer = ReadBuf::new(buffer);
            std::task::ready!(link.poll_read(cx, &mut buffer))?;
            Poll::Ready(Ok(BytesMut::from(buffer.filled())))
        })
    })
    .await
}

/// Gives the session one read (it keeps the bytes it does not use yet, and body chunks
/// are slices of them), or the end of input.
fn hand_over(input: io::Result<BytesMut>, session: &mut ServerSession, tracer: &mut Tracer) {
    match input {
        Ok(bytes) if !bytes.is_empty() => {
            tracer.client(&bytes);
            session.handle_input_buf(bytes);
        }
        // The end of input, or a connection that broke: the same to the session.
        _ => session.handle_eof(),
    }
}

/// Decisions answered later, from other tasks (`--decide-after-ms`): they come back over
/// a channel to the connection's loop, the only one that touches its session. The
/// channel is made with the first such decision: an unused one would cost every
/// connection about 2 KB.
#[derive(Default)]
struct LaterDecisions {
    channel: Option<(mpsc::UnboundedSender<Decision>, mpsc::UnboundedReceiver<Decision>)>,
}

impl LaterDecisions {
    /// Gives `decision` back after `delay`, as an application that asks a database or a
    /// policy service would.
    fn send_after(&mut self, decision: Decision, delay: Duration) {
        let (sender, _) = self.channel.get_or_insert_with(mpsc::unbounded_channel);
        let sender = sender.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // The connection may be gone by now: then nobody waits for it.
            let _ = sender.send(decision);
        });
    }

    /// The next decision that came back; `None` if none was ever sent away. Cancel safe.
    async fn next(&mut self) -> Option<Decision> {
        match &mut self.channel {
            Some((_, receiver)) => receiver.recv().await,
            None => None,
        }
    }
}

/// Ends the connection. TLS says so with its `close_notify` alert; plain TCP needs only
/// the close that dropping the stream makes, which sends the FIN (a `shutdown` first
/// would cost one more system call per connection, and send nothing more).
async fn close(link: Link<TlsStream<TcpStream>>) -> io::Result<()> {
    match link {
        Link::Plain(_) => Ok(()),
        mut tls => tls.shutdown().await,
    }
}

/// The TLS handshake, for STARTTLS or implicit TLS.
async fn handshake(mut link: Link<TlsStream<TcpStream>>, shared: &Shared) -> io::Result<Link<TlsStream<TcpStream>>> {
    let acceptor = shared.tls.as_ref().ok_or_else(|| io::Error::other("TLS without a certificate"))?;
    let plain = link.take_plain()?;
    Ok(Link::Tls(Box::new(acceptor.accept(plain).await?)))
}
