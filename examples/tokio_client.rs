//! Sends one message over tokio, and says what became of it.
//!
//! ```text
//! cargo run --example tokio_client -- --server 127.0.0.1:2525 --from a@example.net --to b@example.org message.eml
//! ```
//!
//! Exits 0 when every recipient and the message were accepted, 75 on a transient
//! failure, 69 on a permanent one.

#[path = "support/client_args.rs"]
mod client_args;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tokio_link.rs"]
mod tokio_link;

use smtp_sansio::Output;
use smtp_sansio::client::{ClientEvent, ClientSession};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use client_args::{ClientArgs, report, trace};
use tokio_link::Link;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = match ClientArgs::parse(std::env::args()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let connector = TlsConnector::from(args.tls.clone());
    let name = tls::server_name(&args.server)?;
    let mut stream: Link<TlsStream<TcpStream>> = Link::Plain(TcpStream::connect(&args.server).await?);
    if args.config.implicit_tls {
        let plain = stream.take_plain()?;
        stream = Link::Tls(Box::new(connector.connect(name.clone(), plain).await?));
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
                stream.write_all(&bytes).await?;
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
            Output::Wait(timeout) => match tokio::time::timeout(timeout, stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => session.handle_eof(),
                Ok(Ok(n)) => {
                    trace(args.verbose, "S", &buffer[..n]);
                    session.handle_input(&buffer[..n]);
                }
                Err(_) => session.handle_timeout(),
            },
            Output::StartTls => {
                let plain = stream.take_plain()?;
                stream = Link::Tls(Box::new(connector.connect(name.clone(), plain).await?));
                session.tls_established();
            }
            Output::Pending => unreachable!("the body is pushed at once"),
            Output::Closed => break,
        }
    }
    std::process::exit(exit)
}
