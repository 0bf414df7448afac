//! Sends one message over `std::net`, and says what became of it.
//!
//! ```text
//! cargo run --example std_client -- --server 127.0.0.1:2525 --from a@example.net --to b@example.org message.eml
//! ```
//!
//! Exits 0 when every recipient and the message were accepted, 75 on a transient
//! failure (the server refused for now, or could not be reached), 69 on a permanent
//! one (a refusal, or a certificate that is not trusted).

#[path = "support/client_args.rs"]
mod client_args;
#[path = "support/pieces.rs"]
mod pieces;
#[path = "support/std_link.rs"]
mod std_link;
#[path = "support/tls.rs"]
mod tls;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use smtp_sansio::Output;
use smtp_sansio::client::{ClientEvent, ClientSession};

use client_args::{ClientArgs, exit_code, report, trace};
use pieces::Pieces;
use std_link::Link;

fn main() {
    let args = match ClientArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let code = run(&args).unwrap_or_else(|error| exit_code(&error));
    std::process::exit(code)
}

/// The session's driver loop; returns the exit code its outcomes call for.
fn run(args: &ClientArgs) -> std::io::Result<i32> {
    let name = tls::server_name(&args.server)?;
    let handshake = || rustls::ClientConnection::new(args.tls.clone(), name.clone()).map_err(std::io::Error::other);
    let mut stream = Link::Plain(TcpStream::connect(&args.server)?);
    if args.client.config().implicit_tls {
        stream = stream.upgrade(handshake()?)?;
    }
    let mut session = ClientSession::new(&args.client);
    session.send(args.envelope.clone());
    session.quit();
    let mut exit = 0;
    let mut buffer = vec![0; 64 * 1024];
    // The body as `Bytes`, so that the session can hand it out without copying it.
    let body = Bytes::copy_from_slice(&args.body);
    // What the session hands out in a row, written at once with vectored writes.
    let mut pieces = Pieces::default();
    loop {
        let output = session.poll_output();
        if let Output::Transmit(bytes) = output {
            trace(args.verbose, "C", &bytes);
            pieces.push(bytes);
            continue;
        }
        if !pieces.is_empty() {
            pieces.write_all_to(&mut stream)?;
            stream.flush()?;
        }
        match output {
            Output::Transmit(_) => unreachable!("gathered above"),
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                // Its clean runs go out as slices of it: only stuffing dots and line ending
                // repairs are written into the session's buffer.
                session.push_body_bytes(body.clone()).map_err(std::io::Error::other)?;
                session.end_body().map_err(std::io::Error::other)?;
            }
            Output::Event(event) => {
                if let Some(code) = report(&event, &args.envelope) {
                    exit = exit.max(code);
                }
            }
            // A client's waits always start the timer afresh.
            Output::Wait(wait) => {
                stream.tcp().set_read_timeout(Some(wait.timeout()))?;
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
                stream = stream.upgrade(handshake()?)?;
                session.tls_established();
            }
            // Waiting for this program: the body is pushed as soon as it is asked for, and
            // QUIT was asked for up front, so the session is idle only if it has nothing
            // more to send and no reply to wait for without having closed. Nothing more to
            // do, then; the conversation did not end as it should: a transient failure.
            Output::Pending(_) | Output::Idle => {
                eprintln!("the session stopped with nothing to send and no reply to wait for");
                let _ = stream.close();
                return Ok(exit.max(75));
            }
            Output::Closed => {
                let _ = stream.close();
                return Ok(exit);
            }
        }
    }
}
