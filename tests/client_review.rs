//! Review of the client session (issue 10): reproductions of what a mail client
//! operator would meet in production. Each test asserts the correct behaviour; the
//! ones marked `// FAILS:` fail against the code under review.

mod support;

use smtp_sansio::Output;
use smtp_sansio::client::{
    ClientConfig, ClientCredentials, ClientError, ClientEvent, ClientSession, CloseReason, Envelope, Failure,
    MessageId, TlsPolicy,
};
use support::XorShift;
use support::scripted::{BODY, TIMEOUT, b64, config, converse, converse_with, envelope, password};

const GREETING: &[u8] = b"220 mx.example.org ESMTP\r\n";
const BYE: &[u8] = b"221 2.0.0 Bye\r\n";

/// An EHLO reply listing `keywords`.
fn ehlo(keywords: &[&str]) -> Vec<u8> {
    let mut lines = vec!["mx.example.org".to_string()];
    lines.extend(keywords.iter().map(|keyword| keyword.to_string()));
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| format!("250{}{line}\r\n", if index == last { ' ' } else { '-' }))
        .collect::<String>()
        .into_bytes()
}

fn plain() -> ClientConfig {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    config
}

/// Polls until the session stops, completing any TLS handshake asked for.
fn drain(session: &mut ClientSession) -> (String, Vec<ClientEvent>, Output<ClientEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    for _ in 0..100_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => events.push(event),
            Output::StartTls => session.tls_established(),
            stop => return (String::from_utf8_lossy(&sent).into_owned(), events, stop),
        }
    }
    panic!("poll_output never stopped");
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

fn outcomes(events: &[ClientEvent], id: MessageId) -> Vec<&ClientEvent> {
    events
        .iter()
        .filter(|event| match event {
            ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. } => *message == id,
            _ => false,
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// QUIT and the end of a session
// ---------------------------------------------------------------------------------

/// A reply to QUIT that does not parse (a middlebox, a confused server): the session
/// ends. It must not send QUIT a second time (RFC 5321 section 4.1.1.10: QUIT is the
/// last command; nothing follows it).
#[test]
fn a_malformed_reply_to_quit_does_not_send_a_second_quit() {
    // FAILS: QUIT sent by `step` leaves the phase `Ready`; the parse error then goes
    // to `give_up`, which writes QUIT again and waits the QUIT timeout for its reply.
    let run = converse(&plain(), &[], &[GREETING, &ehlo(&["PIPELINING"]), b"HTTP/1.1 400 Bad Request\r\n"]);
    assert_eq!(count(&run.sent(), "QUIT\r\n"), 1, "sent: {:?}", run.sent());
}

/// The same with a message delivered first: the outcome stands, one QUIT.
#[test]
fn garbage_after_quit_with_a_delivered_message_sends_one_quit() {
    // FAILS: as above, a second QUIT.
    let run = converse(
        &plain(),
        &[(envelope("<a@example.net>", &["<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING"]),
            b"250 Ok\r\n250 Ok\r\n354 Go\r\n",
            b"250 Ok queued\r\n",
            b"\x16\x03\x01garbage\r\n",
        ],
    );
    run.accepted(0);
    assert_eq!(count(&run.sent(), "QUIT\r\n"), 1, "sent: {:?}", run.sent());
}

/// While the application streams a DATA body, the server sends something that is
/// not a reply to anything (a stray line, or garbage). The session must end, but it
/// must not write `QUIT` into the middle of the message body, where the server reads
/// it as message text and never answers it.
#[test]
fn no_quit_is_written_into_an_unfinished_data_body() {
    // FAILS: `give_up` appends "QUIT\r\n" to the half-sent body and waits for a reply
    // that cannot come (the server is still reading the body) for the QUIT timeout.
    for stray in [&b"250 2.0.0 stray\r\n"[..], b"this is not a reply\r\n"] {
        let mut session = ClientSession::new(&plain().build().unwrap());
        let id = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
        session.handle_input(GREETING);
        let _ = drain(&mut session);
        session.handle_input(&ehlo(&["PIPELINING"]));
        let _ = drain(&mut session);
        session.handle_input(b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n");
        let (_, events, stop) = drain(&mut session);
        assert!(events.contains(&ClientEvent::BodyWanted { message: id }));
        assert!(matches!(stop, Output::Pending(_)));
        session.push_body(b"Subject: half\r\n\r\nfirst half of the body").unwrap();
        let (sent, ..) = drain(&mut session);
        assert!(sent.ends_with("first half of the body"), "{sent:?}");
        session.handle_input(stray);
        let (sent, events, stop) = drain(&mut session);
        assert!(!sent.contains("QUIT"), "QUIT written into the body: {sent:?}");
        assert_eq!(outcomes(&events, id).len(), 1, "{events:?}");
        assert_eq!(stop, Output::Closed, "nothing can be awaited from a server reading a body");
    }
}

// ---------------------------------------------------------------------------------
// STARTTLS: transient refusals must not bounce mail
// ---------------------------------------------------------------------------------

/// RFC 3207 section 4: `454 TLS not available due to temporary reason`. With TLS
/// required, the message cannot go now, but a retry can succeed: the failure must be
/// transient (Postfix defers: "TLS is required, but ... 454"), and carry the reply.
#[test]
fn a_454_to_starttls_with_tls_required_is_transient() {
    // FAILS: `CloseReason::TlsUnavailable` is permanent and has no reply, so every
    // queued message fails with `is_transient() == false`: the application bounces.
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    let run = converse(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "STARTTLS"]),
            b"454 4.7.0 TLS not available due to temporary reason\r\n",
            BYE,
        ],
    );
    assert!(!run.sent().contains("MAIL"));
    let failure = run.failure(0);
    assert!(failure.is_transient(), "454 is temporary: {failure:?}");
    assert_eq!(failure.reply().map(|reply| reply.code().get()), Some(454), "{failure:?}");
}

/// Submission with a password and opportunistic STARTTLS: the server offers STARTTLS
/// and answers it `454`. AUTH cannot go in plaintext, so no message can go now; but
/// the refusal was temporary, so the failure must be transient, not a bounce.
#[test]
fn a_454_to_starttls_before_required_auth_is_transient() {
    // FAILS: the session goes on in plaintext, finds AUTH impossible, and fails every
    // message with `Failure::AuthFailed(None)`, which is permanent.
    let mut config = config();
    password(&mut config);
    let run = converse(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"]),
            b"454 4.7.0 TLS not available due to temporary reason\r\n",
            BYE,
        ],
    );
    assert!(!run.sent().contains("MAIL"));
    assert!(!run.sent().contains("AUTH"), "no credentials in plaintext");
    let failure = run.failure(0);
    assert!(failure.is_transient(), "{failure:?}");
}

// ---------------------------------------------------------------------------------
// A randomised model server: invariants over many conversations
// ---------------------------------------------------------------------------------

/// What the model server is reading.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Commands,
    /// A DATA body, until CRLF.CRLF.
    Data,
    /// A BDAT chunk: octets left, and whether it is the last.
    Bdat(usize, bool),
    /// 220 to STARTTLS went: nothing may arrive before the handshake.
    Tls,
    /// An AUTH exchange: each line is a SASL response.
    Sasl,
    Gone,
}

struct Model {
    rng: XorShift,
    caps: Vec<&'static str>,
    lmtp: bool,
    mode: Mode,
    inbox: Vec<u8>,
    replies: Vec<u8>,
    /// Accepted RCPTs in the transaction.
    accepted: usize,
    mail_ok: bool,
    chunk_refused: bool,
    authenticated: bool,
    violations: Vec<String>,
}

impl Model {
    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.rng.below(choices.len())]
    }

    fn reply(&mut self, text: &str) {
        self.replies.extend_from_slice(text.as_bytes());
        self.replies.extend_from_slice(b"\r\n");
    }

    fn ehlo(&mut self) {
        let mut lines = vec!["mx.example.org".to_string()];
        lines.extend(self.caps.iter().map(|c| c.to_string()));
        let last = lines.len() - 1;
        for (index, line) in lines.iter().enumerate() {
            let text = format!("250{}{line}", if index == last { ' ' } else { '-' });
            self.reply(&text);
        }
    }

    /// Reads what the client sent and queues the replies.
    fn feed(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Gone => return,
            Mode::Tls => {
                self.violations.push(format!("plaintext after 220 to STARTTLS: {:?}", String::from_utf8_lossy(bytes)));
                return;
            }
            _ => {}
        }
        self.inbox.extend_from_slice(bytes);
        loop {
            match self.mode {
                Mode::Bdat(left, last) => {
                    if self.inbox.len() < left {
                        return;
                    }
                    self.inbox.drain(..left);
                    self.mode = Mode::Commands;
                    self.end_chunk(last);
                }
                Mode::Data => {
                    let Some(at) = find(&self.inbox, b"\r\n.\r\n") else { return };
                    self.inbox.drain(..at + 5);
                    self.mode = Mode::Commands;
                    self.end_message();
                }
                Mode::Gone | Mode::Tls => return,
                Mode::Commands | Mode::Sasl => {
                    let Some(at) = find(&self.inbox, b"\r\n") else { return };
                    let line = String::from_utf8_lossy(&self.inbox[..at]).into_owned();
                    self.inbox.drain(..at + 2);
                    self.command(&line);
                }
            }
        }
    }

    fn end_chunk(&mut self, last: bool) {
        if self.chunk_refused || !self.mail_ok {
            self.reply("503 5.5.1 No transaction");
            self.chunk_refused = !last;
            return;
        }
        match (last, self.rng.below(5)) {
            (false, 0) => {
                self.chunk_refused = true;
                self.reply("552 5.3.4 Too big");
            }
            (false, _) => self.reply("250 2.0.0 Chunk ok"),
            (true, _) => self.end_message(),
        }
    }

    fn end_message(&mut self) {
        let replies = if self.lmtp { self.accepted } else { 1 };
        for _ in 0..replies {
            let reply = self.pick(&["250 2.0.0 Queued", "250 2.0.0 Queued", "451 4.3.0 Later", "554 5.7.1 Spam"]);
            self.reply(reply);
        }
        self.accepted = 0;
        self.mail_ok = false;
    }

    fn command(&mut self, line: &str) {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        if self.mode == Mode::Sasl {
            let reply = match line {
                "*" => "501 5.7.0 Cancelled",
                _ => self.pick(&[
                    "235 2.7.0 Ok",
                    "235 2.7.0 Ok",
                    "535 5.7.8 Bad",
                    "334 ",
                    "334 bm8gd2F5",
                    "454 4.7.0 Later",
                ]),
            };
            if !reply.starts_with("334") {
                self.mode = Mode::Commands;
                self.authenticated |= reply.starts_with("235");
            }
            return self.reply(reply);
        }
        match verb.as_str() {
            "EHLO" | "LHLO" => match self.rng.below(12) {
                0 => self.reply("500 5.5.1 What"),
                _ => self.ehlo(),
            },
            "HELO" => self.reply("250 mx.example.org"),
            "STARTTLS" => {
                let reply = self.pick(&["220 2.0.0 Go", "220 2.0.0 Go", "454 4.7.0 Later"]);
                if reply.starts_with("220") {
                    self.mode = Mode::Tls;
                }
                self.reply(reply);
            }
            "AUTH" => {
                let with_ir = line.split(' ').count() > 2;
                let reply = match with_ir {
                    true => self.pick(&[
                        "235 2.7.0 Ok",
                        "235 2.7.0 Ok",
                        "535 5.7.8 Bad",
                        "334 eyJzdGF0dXMiOiI0MDAifQ==",
                        "454 4.7.0 Later",
                    ]),
                    false => self.pick(&["334 ", "334 VXNlcm5hbWU6", "334 VXNlcm5hbWU6", "504 5.5.4 No"]),
                };
                if reply.starts_with("334") {
                    self.mode = Mode::Sasl;
                }
                self.authenticated |= reply.starts_with("235");
                self.reply(reply);
            }
            "MAIL" => {
                self.accepted = 0;
                self.chunk_refused = false;
                let reply =
                    self.pick(&["250 2.1.0 Ok", "250 2.1.0 Ok", "250 2.1.0 Ok", "451 4.3.0 Later", "550 5.7.1 No"]);
                self.mail_ok = reply.starts_with('2');
                self.reply(reply);
            }
            "RCPT" => {
                let reply = match self.mail_ok {
                    false => "503 5.5.1 Need MAIL",
                    true => self.pick(&[
                        "250 2.1.5 Ok",
                        "250 2.1.5 Ok",
                        "450 4.2.0 Greylisted",
                        "550 5.1.1 Unknown",
                        "452 4.5.3 Too many",
                    ]),
                };
                if reply.starts_with('2') {
                    self.accepted += 1;
                }
                self.reply(reply);
            }
            "DATA" => match self.mail_ok && self.accepted > 0 {
                true => match self.rng.below(6) {
                    0 => self.reply("451 4.3.0 Not now"),
                    _ => {
                        self.mode = Mode::Data;
                        self.reply("354 Go ahead");
                    }
                },
                false => self.reply("554 5.5.1 No valid recipients"),
            },
            "BDAT" => {
                let mut words = line.split(' ').skip(1);
                let size: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                if !self.caps.iter().any(|c| *c == "CHUNKING") {
                    self.violations.push("BDAT to a server without CHUNKING".into());
                }
                self.mode = Mode::Bdat(size, last);
            }
            "RSET" => {
                self.accepted = 0;
                self.mail_ok = false;
                self.chunk_refused = false;
                self.reply("250 2.0.0 Ok");
            }
            "NOOP" => self.reply("250 2.0.0 Ok"),
            "QUIT" => {
                self.reply("221 2.0.0 Bye");
                self.mode = Mode::Gone;
            }
            _ => self.reply("500 5.5.2 Unknown command"),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Runs one random conversation and returns the invariant violations found.
fn fuzz_one(seed: u64) -> Vec<String> {
    let mut rng = XorShift::new(seed);
    let mut config = plain();
    config.lmtp = rng.below(4) == 0;
    config.prefer_bdat = rng.below(2) == 0;
    config.starttls = [TlsPolicy::Off, TlsPolicy::Opportunistic, TlsPolicy::Required][rng.below(3)];
    let auth_required = match rng.below(3) {
        0 => {
            password(&mut config);
            config.plaintext_auth = rng.below(2) == 0;
            config.auth_optional = rng.below(3) == 0;
            !config.auth_optional
        }
        1 => {
            config.credentials =
                Some(ClientCredentials::Bearer { user: "a@example.net".into(), token: "t".repeat(rng.below(700)) });
            config.plaintext_auth = true;
            config.auth_optional = rng.below(3) == 0;
            !config.auth_optional
        }
        _ => false,
    };
    let mut caps = vec!["ENHANCEDSTATUSCODES"];
    for cap in ["PIPELINING", "CHUNKING", "STARTTLS", "8BITMIME", "SIZE 100000", "AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER"]
    {
        if rng.below(2) == 0 {
            caps.push(cap);
        }
    }
    let lmtp = config.lmtp;
    let mut model = Model {
        rng: XorShift::new(seed ^ 0xabcdef),
        caps,
        lmtp,
        mode: Mode::Commands,
        inbox: Vec::new(),
        replies: b"220 mx.example.org ESMTP\r\n".to_vec(),
        accepted: 0,
        mail_ok: false,
        chunk_refused: false,
        authenticated: false,
        violations: Vec::new(),
    };
    let mut session = ClientSession::new(&config.build().unwrap());
    let bodies: [&[u8]; 3] = [BODY, b"Subject: x\r\n\r\n.dot\nbare lf\r\n", b""];
    let mut ids: Vec<MessageId> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        ids.push(
            session.send(envelope("<a@example.net>", &["<b@example.org>", "<c@example.org>"][..1 + rng.below(2)])),
        );
    }
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut owed: Option<(MessageId, Vec<u8>)> = None;
    let mut closed_event = false;
    let mut quit_seen = false;
    let mut sent_all = Vec::new();
    let mut just_timed_out = false;
    let mut quit_asked = false;
    let mut at_line_start = true;
    let mut v = Vec::new();
    for _ in 0..20_000 {
        let output = session.poll_output();
        if !matches!(output, Output::Wait(_)) {
            just_timed_out = false;
        }
        match output {
            Output::Transmit(bytes) => {
                sent_all.extend_from_slice(&bytes);
                let text = String::from_utf8_lossy(&bytes).into_owned();
                // A second QUIT is the known bug of
                // `a_malformed_reply_to_quit_does_not_send_a_second_quit`.
                if quit_seen && text != "QUIT\r\n" {
                    v.push(format!("sent after QUIT: {text:?}"));
                }
                if closed_event && text != "QUIT\r\n" {
                    v.push(format!("sent after Closed: {text:?}"));
                }
                if text.contains("MAIL FROM") && auth_required && !model.authenticated {
                    v.push("MAIL without required authentication".into());
                }
                // QUIT as a command (not inside a body).
                if model.mode == Mode::Commands && (text.starts_with("QUIT\r\n") || text.contains("\r\nQUIT\r\n")) {
                    quit_seen = true;
                }
                if model.mode == Mode::Tls && !model.replies.is_empty() {
                    // The client gave up before it read the 220.
                    model.mode = Mode::Gone;
                }
                model.feed(&bytes);
            }
            Output::Event(event) => {
                if closed_event && !matches!(event, ClientEvent::Failed { failure: Failure::SessionEnded(_), .. }) {
                    v.push(format!("event after Closed: {event:?}"));
                }
                if let ClientEvent::BodyWanted { message } = &event {
                    if owed.is_some() {
                        v.push("BodyWanted while a body is owed".into());
                    }
                    owed = Some((*message, bodies[rng.below(3)].to_vec()));
                }
                if matches!(event, ClientEvent::Closed { .. }) {
                    closed_event = true;
                }
                // The application stops streaming a body the server refused.
                if let ClientEvent::Failed { message, .. } = &event {
                    if owed.as_ref().is_some_and(|(id, _)| id == message) {
                        owed = None;
                        let ended = matches!(event, ClientEvent::Failed { failure: Failure::SessionEnded(_), .. });
                        match session.end_body() {
                            Err(ClientError::NoBodyWanted) if ended => {}
                            Err(error) => v.push(format!("end_body of a refused body: {error:?}")),
                            Ok(()) => {}
                        }
                    }
                }
                events.push(event);
            }
            Output::StartTls => {
                if model.mode != Mode::Tls {
                    v.push("StartTls without a 220".into());
                }
                model.mode = Mode::Commands;
                session.tls_established();
            }
            Output::Closed => {
                if !closed_event {
                    v.push("Closed without a Closed event".into());
                }
                break;
            }
            Output::Pending(pending) if pending.owed() > 0 => {
                let Some((_, body)) = owed.as_mut() else {
                    v.push("Pending(owed) with no body owed".into());
                    break;
                };
                if body.is_empty() || rng.below(4) == 0 {
                    if let Err(error) = session.end_body() {
                        v.push(format!("end_body refused while Pending: {error:?}"));
                    }
                    owed = None;
                } else {
                    let take = 1 + rng.below(body.len());
                    let piece: Vec<u8> = body.drain(..take).collect();
                    if let Err(error) = session.push_body(&piece) {
                        v.push(format!("push_body refused while Pending: {error:?}"));
                    }
                }
            }
            Output::Pending(_) => v.push("Pending(0) outside a handshake".into()),
            Output::Wait(_) => {
                if just_timed_out {
                    v.push("Wait again right after a timeout: the timeout was ignored".into());
                    break;
                }
                // The application may stream a BDAT body meanwhile.
                if let Some((_, body)) = owed.as_mut().filter(|_| rng.below(3) == 0) {
                    if body.is_empty() {
                        let _ = session.end_body();
                        owed = None;
                    } else {
                        let take = 1 + rng.below(body.len());
                        let piece: Vec<u8> = body.drain(..take).collect();
                        let _ = session.push_body(&piece);
                    }
                    continue;
                }
                match rng.below(40) {
                    0 => {
                        session.handle_timeout();
                        just_timed_out = true;
                    }
                    1 => session.handle_eof(),
                    2 if at_line_start => session.handle_input(b"421 4.4.2 Closing\r\n"),
                    _ if !model.replies.is_empty() => {
                        let take = 1 + rng.below(model.replies.len());
                        let piece: Vec<u8> = model.replies.drain(..take).collect();
                        at_line_start = piece.ends_with(b"\n");
                        session.handle_input(&piece);
                    }
                    _ if model.mode == Mode::Gone => session.handle_eof(),
                    _ => {
                        // The model owes nothing: a lost reply; time out.
                        session.handle_timeout();
                        just_timed_out = true;
                    }
                }
            }
            Output::Idle => {
                if owed.is_some() {
                    v.push("Idle while a body is owed".into());
                }
                for id in &ids {
                    let done = !outcomes(&events, *id).is_empty()
                        || (lmtp
                            && events
                                .iter()
                                .any(|e| matches!(e, ClientEvent::Delivery { message, .. } if message == id)));
                    if !done {
                        v.push(format!("Idle with {id:?} unfinished"));
                    }
                }
                if !model.replies.is_empty() {
                    let piece = std::mem::take(&mut model.replies);
                    at_line_start = true;
                    session.handle_input(&piece);
                    continue;
                }
                match rng.below(4) {
                    0 if ids.len() < 5 => ids.push(session.send(envelope("<a@example.net>", &["<d@example.org>"]))),
                    1 => {
                        let _ = session.noop();
                    }
                    _ if !quit_asked => {
                        quit_asked = true;
                        session.quit();
                    }
                    _ => session.handle_eof(),
                }
            }
        }
        if !v.is_empty() {
            break;
        }
    }
    if v.is_empty() && !closed_event {
        // Make sure it can end.
        if !quit_asked {
            session.quit();
        }
        session.handle_eof();
        let (_, more, stop) = drain(&mut session);
        events.extend(more);
        if stop != Output::Closed {
            v.push(format!("did not close after EOF: {stop:?}"));
        }
    }
    for id in &ids {
        let found = outcomes(&events, *id);
        let deliveries =
            events.iter().filter(|e| matches!(e, ClientEvent::Delivery { message, .. } if message == id)).count();
        let failed = found.iter().filter(|e| matches!(e, ClientEvent::Failed { .. })).count();
        match lmtp {
            false if found.len() != 1 => v.push(format!("{id:?} has {} outcomes: {found:?}", found.len())),
            true if found.len() > 1 || found.iter().any(|e| matches!(e, ClientEvent::Accepted { .. })) => {
                v.push(format!("LMTP {id:?} outcomes: {found:?}"))
            }
            true if found.is_empty() && deliveries == 0 => v.push(format!("LMTP {id:?} has no outcome")),
            true if failed > 0 && deliveries > 0 => v.push(format!("LMTP {id:?} has both Delivery and Failed")),
            _ => {}
        }
    }
    v.extend(model.violations);
    if !v.is_empty() {
        v.push(format!("sent: {:?}", String::from_utf8_lossy(&sent_all)));
        v.push(format!("events: {events:?}"));
    }
    v
}

/// Many random conversations against the model server; reports the first few kinds
/// of violation with a seed to replay.
#[test]
fn random_conversations_keep_the_invariants() {
    let mut kinds: std::collections::BTreeMap<String, (u64, Vec<String>)> = Default::default();
    for seed in 1..=3000 {
        let violations = fuzz_one(seed);
        if let Some(first) = violations.first() {
            let kind: String = first.chars().take(40).collect();
            kinds.entry(kind).or_insert((seed, violations));
        }
    }
    if !kinds.is_empty() {
        for (kind, (seed, violations)) in &kinds {
            eprintln!("== {kind} (seed {seed})");
            for line in violations {
                eprintln!("   {line}");
            }
        }
        panic!("{} kinds of violation", kinds.len());
    }
}
