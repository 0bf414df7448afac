//! Sends one message over tokio, and says what became of it.
//!
//! ```text
//! cargo run --example tokio_client -- --server 127.0.0.1:2525 --from a@example.net --to b@example.org message.eml
//! ```
//!
//! Exits 0 when every recipient and the message were accepted, 75 on a transient
//! failure (the server refused for now, or could not be reached), 69 on a permanent
//! one (a refusal, or a certificate that is not trusted).

#[path = "support/client_args.rs"]
mod client_args;
#[path = "support/pieces.rs"]
mod pieces;
#[path = "support/tls.rs"]
mod tls;
// The client writes what it gathered with `write_all_buf`, not `write_all`.
#[allow(dead_code)]
#[path = "support/tokio_link.rs"]
mod tokio_link;

use bytes::{Bytes, BytesMut};
use smtp_sansio::Output;
use smtp_sansio::client::{ClientEvent, ClientSession};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use client_args::{ClientArgs, exit_code, report, trace};
use pieces::Pieces;
use tokio_link::Link;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match ClientArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let code = run(&args).await.unwrap_or_else(|error| exit_code(&error));
    std::process::exit(code)
}

/// The session's driver loop; returns the exit code its outcomes call for.
async fn run(args: &ClientArgs) -> std::io::Result<i32> {
    let connector = TlsConnector::from(args.tls.clone());
    let name = tls::server_name(&args.server)?;
    let mut stream: Link<TlsStream<TcpStream>> = Link::Plain(TcpStream::connect(&args.server).await?);
    if args.client.config().implicit_tls {
        let plain = stream.take_plain()?;
        stream = Link::Tls(Box::new(connector.connect(name.clone(), plain).await?));
    }
    let mut session = ClientSession::new(&args.client);
    session.send(args.envelope.clone());
    session.quit();
    let mut exit = 0;
    let mut buffer = BytesMut::with_capacity(64 * 1024);
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
            stream.write_all_buf(&mut pieces).await?;
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
                buffer.clear();
                match tokio::time::timeout(wait.timeout(), stream.read_buf(&mut buffer)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => session.handle_eof(),
                    Ok(Ok(_)) => {
                        trace(args.verbose, "S", &buffer);
                        session.handle_input(&buffer);
                    }
                    Err(_) => session.handle_timeout(),
                }
            }
            Output::StartTls => {
                let plain = stream.take_plain()?;
                stream = Link::Tls(Box::new(connector.connect(name.clone(), plain).await?));
                session.tls_established();
            }
            // Waiting for this program: the body is pushed as soon as it is asked for, and
            // QUIT was asked for up front, so the session is idle only if it has nothing
            // more to send and no reply to wait for without having closed. Nothing more to
            // do, then; the conversation did not end as it should: a transient failure.
            Output::Pending(_) | Output::Idle => {
                eprintln!("the session stopped with nothing to send and no reply to wait for");
                return Ok(exit.max(75));
            }
            Output::Closed => return Ok(exit),
        }
    }
}
