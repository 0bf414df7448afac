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

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;

use smtp_sansio::Output;
use smtp_sansio::server::{ServerConfig, ServerSession};

use mail_sink::{Connection, Maildir};
use server_args::{ServerArgs, trace};

fn main() -> std::io::Result<()> {
    let args = match ServerArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let config = args.config();
    let maildir = Arc::new(Maildir::open(&args.maildir, args.fsync, &args.hostname, args.users.clone())?);
    let mut listeners = Vec::new();
    for addr in &args.listen {
        let listener = TcpListener::bind(addr)?;
        eprintln!("listening on {} (Maildir {})", listener.local_addr()?, args.maildir.display());
        let (config, maildir, verbose) = (config.clone(), maildir.clone(), args.verbose);
        listeners.push(std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, maildir) = (config.clone(), maildir.clone());
                std::thread::spawn(move || {
                    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    if let Err(error) = serve(stream, config, &maildir, verbose) {
                        eprintln!("{peer}: {error}");
                    }
                });
            }
        }));
    }
    for listener in listeners {
        let _ = listener.join();
    }
    Ok(())
}

/// One connection: the driver loop.
fn serve(mut stream: TcpStream, config: Arc<ServerConfig>, maildir: &Maildir, verbose: bool) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut session = ServerSession::new(config);
    let mut app = Connection::new(maildir, peer.ip());
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                trace(verbose, "S", &bytes);
                stream.write_all(&bytes)?;
            }
            Output::Event(event) => app.handle(event, &mut session),
            Output::Wait(timeout) => {
                stream.set_read_timeout(Some(timeout))?;
                match stream.read(&mut buffer) {
                    Ok(0) => session.handle_eof(),
                    Ok(n) => {
                        trace(verbose, "C", &buffer[..n]);
                        session.handle_input(&buffer[..n]);
                    }
                    Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        session.handle_timeout()
                    }
                    Err(_) => session.handle_eof(),
                }
            }
            Output::StartTls | Output::Pending => unreachable!("STARTTLS is not offered; decisions are made at once"),
            Output::Closed => return stream.shutdown(Shutdown::Both),
        }
    }
}
