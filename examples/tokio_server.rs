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

use std::net::SocketAddr;
use std::sync::Arc;

use smtp_sansio::Output;
use smtp_sansio::server::{ServerConfig, ServerSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use mail_sink::{Connection, Maildir};
use server_args::{ServerArgs, trace};

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
    for addr in &args.listen {
        let listener = TcpListener::bind(addr).await?;
        eprintln!("listening on {} (Maildir {})", listener.local_addr()?, args.maildir.display());
        let (config, maildir, verbose) = (config.clone(), maildir.clone(), args.verbose);
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (config, maildir) = (config.clone(), maildir.clone());
                        tokio::spawn(async move {
                            if let Err(error) = serve(stream, peer, config, &maildir, verbose).await {
                                eprintln!("{peer}: {error}");
                            }
                        });
                    }
                    Err(error) => eprintln!("accept: {error}"),
                }
            }
        });
    }
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down");
    Ok(())
}

/// One connection: the driver loop.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    maildir: &Maildir,
    verbose: bool,
) -> std::io::Result<()> {
    let mut session = ServerSession::new(config);
    let mut app = Connection::new(maildir, peer.ip());
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                trace(verbose, "S", &bytes);
                stream.write_all(&bytes).await?;
            }
            // Writing messages blocks: tell the runtime, so other connections go on.
            Output::Event(event) if Connection::does_io(&event) => {
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
            Output::StartTls | Output::Pending => unreachable!("STARTTLS is not offered; decisions are made at once"),
            Output::Closed => return stream.shutdown().await,
        }
    }
}
