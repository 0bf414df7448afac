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

/// Runs a client example against `port` with `body`; returns its exit code and output
/// (standard output, then standard error).
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
    let errors = file.with_extension("stderr");
    let stderr = std::fs::File::create(&errors).expect("the client's stderr file");
    let mut child = command.args(extra).arg(&file).stdout(Stdio::piped()).stderr(stderr).spawn().expect("the client");
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
    output.push_str(&std::fs::read_to_string(&errors).unwrap_or_default());
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&errors);
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
    for client in ["tokio_client", "std_client"] {
        let (code, output) = send(client, server.port, &["x@example.org"], &["--starttls", "required"], MESSAGE);
        // EX_UNAVAILABLE: trying again will not help.
        assert_eq!(code, 69, "{client}: {output}");
        assert!(output.contains("certificate not trusted: "), "{client}: {output}");
    }
    assert!(std::fs::read_dir(server.maildir.join("new")).map(|d| d.count()).unwrap_or(0) == 0);
}

#[test]
fn a_server_that_is_not_there_is_a_transient_failure() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    for client in ["tokio_client", "std_client"] {
        let (code, output) = send(client, port, &["x@example.org"], &[], MESSAGE);
        // EX_TEMPFAIL: it may work later.
        assert_eq!(code, 75, "{client}: {output}");
    }
}

/// One SMTP conversation over a raw `TcpStream`, pipelined as far as RFC 2920 and RFC
/// 3030 allow: commands are queued with the replies they owe, and written only when a
/// reply must be seen first (`354` before a `DATA` body, and at the end).
struct Pipeline {
    stream: std::io::BufReader<TcpStream>,
    outbox: Vec<u8>,
    /// The replies owed for what was queued: the code, and text the reply must hold.
    owed: Vec<(u16, &'static str)>,
}

impl Pipeline {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
        let mut pipeline = Self { stream: std::io::BufReader::new(stream), outbox: Vec::new(), owed: vec![(220, "")] };
        pipeline.queue(b"EHLO pipeline.example\r\n", &[(250, "PIPELINING")]);
        pipeline.flush();
        pipeline
    }

    fn queue(&mut self, bytes: &[u8], replies: &[(u16, &'static str)]) {
        self.outbox.extend_from_slice(bytes);
        self.owed.extend_from_slice(replies);
    }

    /// Writes what is queued in one go, then reads every reply owed, in order.
    fn flush(&mut self) {
        use std::io::{BufRead, Write};
        self.stream.get_mut().write_all(&self.outbox).expect("writing");
        self.outbox.clear();
        for (code, text) in std::mem::take(&mut self.owed) {
            let mut reply = String::new();
            loop {
                let mut line = String::new();
                let n = self.stream.read_line(&mut line).unwrap_or_else(|e| panic!("waiting for {code}: {e}"));
                assert!(n > 0, "the connection closed while {code} was owed");
                reply.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
            assert!(
                reply.starts_with(&code.to_string()) && reply.contains(text),
                "wanted {code} {text:?}, got {reply:?}"
            );
        }
    }

    /// One message to `recipients`: with `DATA` (dot-stuffed, the body written once the
    /// `354` came) or with two `BDAT` chunks, queued behind everything before.
    fn message(&mut self, recipients: &[String], body: &[u8], bdat: bool) {
        self.queue(b"MAIL FROM:<pipeline@example.net>\r\n", &[(250, "")]);
        for recipient in recipients {
            self.queue(format!("RCPT TO:<{recipient}>\r\n").as_bytes(), &[(250, "")]);
        }
        if bdat {
            let (first, last) = body.split_at(body.len() / 2);
            self.queue(format!("BDAT {}\r\n", first.len()).as_bytes(), &[(250, "")]);
            self.queue(first, &[]);
            self.queue(format!("BDAT {} LAST\r\n", last.len()).as_bytes(), &[(250, "Queued as")]);
            self.queue(last, &[]);
        } else {
            self.queue(b"DATA\r\n", &[(354, "")]);
            self.flush();
            let mut stuffed = Vec::new();
            for line in body.split_inclusive(|&b| b == b'\n') {
                if line.starts_with(b".") {
                    stuffed.push(b'.');
                }
                stuffed.extend_from_slice(line);
            }
            stuffed.extend_from_slice(b".\r\n");
            self.queue(&stuffed, &[(250, "Queued as")]);
        }
    }

    fn quit(mut self) {
        use std::io::Read;
        self.queue(b"QUIT\r\n", &[(221, "")]);
        self.flush();
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "more after 221: {:?}", String::from_utf8_lossy(&rest));
    }
}

#[test]
fn decisions_from_another_task_pipelined_messages_arrive_whole_and_every_reply_comes() {
    let server = Server::start("tokio_server", &["--decide-after-ms", "20"]);
    let port = server.port;
    let body = |connection: usize, message: usize| {
        format!(
            "Subject: pipelined {connection}/{message}\r\n\r\n.a dot first\r\n..two\r\nbody {connection} {message}\r\n"
        )
        .into_bytes()
    };
    let (connections, messages) = (4, 6);
    let conversations: Vec<_> = (0..connections)
        .map(|c| {
            std::thread::spawn(move || {
                let recipients: Vec<String> = (0..3).map(|r| format!("r{r}.c{c}@example.org")).collect();
                let mut pipeline = Pipeline::connect(port);
                // The first group owes three rounds of decisions (MAIL, then the RCPTs
                // together, then DATA): each comes back 20 ms after its event at least.
                let started = Instant::now();
                pipeline.message(&recipients, &body(c, 0), false);
                assert!(started.elapsed() >= Duration::from_millis(60), "decisions came back early");
                for m in 1..messages {
                    pipeline.message(&recipients, &body(c, m), m % 2 == 1);
                }
                pipeline.quit();
            })
        })
        .collect();
    // The example clients too, while the raw conversations run.
    let recipients = ["x@example.org", "y@example.org", "z@example.org"];
    let (code, output) = send("std_client", port, &recipients, &[], MESSAGE);
    assert_eq!(code, 0, "{output}");
    assert_eq!(output.matches("250 2.1.5").count(), 3, "{output}");
    let (code, output) = send("tokio_client", port, &recipients, &["--bdat"], MESSAGE);
    assert_eq!(code, 0, "{output}");
    for conversation in conversations {
        conversation.join().expect("a pipelined conversation");
    }
    let mut stored = server.messages();
    stored.sort();
    let mut expected: Vec<Vec<u8>> = (0..connections).flat_map(|c| (0..messages).map(move |m| body(c, m))).collect();
    expected.extend([MESSAGE.to_vec(), MESSAGE.to_vec()]);
    expected.sort();
    assert!(stored == expected, "{} messages stored, {} sent; or one changed on the way", stored.len(), expected.len());
}

#[test]
fn decisions_from_another_task_with_auth_and_lmtp() {
    let server = Server::start(
        "tokio_server",
        &["--decide-after-ms", "20", "--auth", "user:secret", "--allow-insecure-auth", "--lmtp"],
    );
    let flags = ["--auth", "user:secret", "--lmtp"];
    let (code, output) = send("tokio_client", server.port, &["a@example.org", "b@example.org"], &flags, MESSAGE);
    assert_eq!(code, 0, "{output}");
    assert_eq!(output.matches("delivery to").count(), 2, "{output}");
    // A refused password fails the message (535: for good) and nothing goes
    // unauthenticated (issue 10, defect 1).
    let (code, output) =
        send("std_client", server.port, &["c@example.org"], &["--auth", "user:wrong", "--lmtp"], MESSAGE);
    assert_eq!(code, 69, "{output}");
    assert!(output.contains("authentication refused: 535"), "{code}: {output}");
    assert_eq!(server.messages().len(), 1, "the first message is stored once; the second did not go");
}
