//! The example servers and clients over loopback TCP: our clients against our servers,
//! std and tokio crossed, with delivery checked byte for byte in the Maildir. Every
//! server started here is killed when its test ends; every wait is bounded.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An example binary, built by `cargo test` next to this test's own.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe.parent().and_then(Path::parent).expect("target/<profile>");
    debug.join("examples").join(name)
}

/// A server example running on a free loopback port, killed on drop.
struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let maildir = std::env::temp_dir().join(format!("smtp-sansio-{name}-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        let child = Command::new(example(name))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--maildir"])
            .arg(&maildir)
            .args(["--no-fsync"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, maildir }
    }

    /// The messages in `new/`, each without the two trace fields the server added.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> =
            std::fs::read_dir(self.maildir.join("new")).expect("new/").map(|e| e.unwrap().path()).collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path).expect("a message");
                assert!(bytes.starts_with(b"Return-Path: <"), "Return-Path first");
                // Skip Return-Path and Received, continuation lines included.
                let mut rest = &bytes[..];
                while rest.starts_with(b"Return-Path:") || rest.starts_with(b"Received:") || rest.starts_with(b"\t") {
                    let end = rest.windows(2).position(|w| w == b"\r\n").expect("a CRLF") + 2;
                    rest = &rest[end..];
                }
                rest.to_vec()
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// Runs a client example against `port` with `body`; returns its exit code and output.
fn send(client: &str, port: u16, to: &[&str], extra: &[&str], body: &[u8]) -> (i32, String) {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("smtp-sansio-message-{port}-{}-{n}", std::process::id()));
    std::fs::write(&file, body).expect("the message file");
    let mut command = Command::new(example(client));
    command.args(["--server", &format!("127.0.0.1:{port}"), "--from", "sender@example.net"]);
    for address in to {
        command.args(["--to", address]);
    }
    let mut child =
        command.args(extra).arg(&file).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the client");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{client} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut stdout, &mut output);
    }
    let _ = std::fs::remove_file(&file);
    (status.code().unwrap_or(-1), output)
}

const MESSAGE: &[u8] =
    b"From: <sender@example.net>\r\nSubject: loopback\r\n\r\n.a line with a dot\r\n..two\r\nlast\r\n";

#[test]
fn tokio_server_and_std_client() {
    let server = Server::start("tokio_server", &[]);
    let (code, output) = send("std_client", server.port, &["rcpt@example.org"], &[], MESSAGE);
    assert_eq!(code, 0, "{output}");
    assert_eq!(server.messages(), [MESSAGE.to_vec()]);
}

#[test]
fn std_server_and_tokio_client_with_bdat_and_two_recipients() {
    let server = Server::start("std_server", &[]);
    let (code, output) = send("tokio_client", server.port, &["a@example.org", "b@example.org"], &["--bdat"], MESSAGE);
    assert_eq!(code, 0, "{output}");
    assert_eq!(server.messages(), [MESSAGE.to_vec()]);
}

#[test]
fn auth_and_lmtp() {
    let server = Server::start("tokio_server", &["--auth", "user:secret", "--allow-insecure-auth", "--lmtp"]);
    let (code, output) = send(
        "tokio_client",
        server.port,
        &["a@example.org", "b@example.org"],
        &["--auth", "user:secret", "--lmtp"],
        MESSAGE,
    );
    assert_eq!(code, 0, "{output}");
    assert_eq!(output.matches("delivery to").count(), 2, "{output}");
    assert_eq!(server.messages(), [MESSAGE.to_vec()]);
}

#[test]
fn a_ten_mib_body_arrives_byte_for_byte() {
    let server = Server::start("std_server", &["--max-size", "20000000"]);
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.0123456789\r\n";
    let mut body = Vec::with_capacity(10 << 20);
    while body.len() < 10 << 20 {
        if body.len() % 7 == 0 {
            body.push(b'.');
        }
        body.extend_from_slice(line);
    }
    let (code, output) = send("std_client", server.port, &["big@example.org"], &[], &body);
    assert_eq!(code, 0, "{output}");
    assert!(server.messages() == [body], "the 10 MiB body changed on the way");
}

#[test]
fn fifty_concurrent_connections() {
    let server = Server::start("tokio_server", &[]);
    let port = server.port;
    let clients: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let body = format!("Subject: message {i}\r\n\r\nbody {i}\r\n");
                send(
                    if i % 2 == 0 { "std_client" } else { "tokio_client" },
                    port,
                    &["many@example.org"],
                    &[],
                    body.as_bytes(),
                )
            })
        })
        .collect();
    for client in clients {
        let (code, output) = client.join().expect("a client thread");
        assert_eq!(code, 0, "{output}");
    }
    let mut messages = server.messages();
    messages.sort();
    let mut expected: Vec<Vec<u8>> =
        (0..50).map(|i| format!("Subject: message {i}\r\n\r\nbody {i}\r\n").into_bytes()).collect();
    expected.sort();
    assert_eq!(messages, expected);
}

#[test]
fn starttls_required_with_auth_over_tls_std_and_tokio_crossed() {
    for (server_example, client_example) in [("tokio_server", "std_client"), ("std_server", "tokio_client")] {
        let server = Server::start(server_example, &["--tls-self-signed", "--auth", "user:secret"]);
        let flags = ["--starttls", "required", "--insecure-skip-verify", "--auth", "user:secret"];
        let (code, output) = send(client_example, server.port, &["tls@example.org"], &flags, MESSAGE);
        assert_eq!(code, 0, "{server_example} and {client_example}: {output}");
        assert!(!output.contains("authentication failed"), "{output}");
        assert_eq!(server.messages(), [MESSAGE.to_vec()], "{server_example} and {client_example}");
    }
}

#[test]
fn implicit_tls_std_and_tokio_crossed() {
    for (server_example, client_example) in [("std_server", "std_client"), ("tokio_server", "tokio_client")] {
        let server = Server::start(server_example, &["--tls-self-signed", "--implicit-tls"]);
        let flags = ["--implicit-tls", "--insecure-skip-verify"];
        let (code, output) = send(client_example, server.port, &["465@example.org"], &flags, MESSAGE);
        assert_eq!(code, 0, "{server_example} and {client_example}: {output}");
        assert_eq!(server.messages(), [MESSAGE.to_vec()], "{server_example} and {client_example}");
    }
}

#[test]
fn a_certificate_the_client_does_not_trust_stops_it() {
    let server = Server::start("tokio_server", &["--tls-self-signed"]);
    let (code, output) = send("tokio_client", server.port, &["x@example.org"], &["--starttls", "required"], MESSAGE);
    assert_ne!(code, 0, "{output}");
    assert!(std::fs::read_dir(server.maildir.join("new")).map(|d| d.count()).unwrap_or(0) == 0);
}
