//! Review of the client session (issue 10): reproductions of what a mail client
//! operator would meet in production. Each test asserts the correct behaviour; the
//! ones marked `// Failed before the fix:` failed against the code under review and
//! are regression tests now.

mod support;

use smtp_sansio::Output;
use smtp_sansio::client::{
    ClientCredentials, ClientError, ClientEvent, ClientSession, CloseReason, Failure, MessageId, TlsPolicy,
};
use support::XorShift;
use support::scripted::{
    BODY, BYE, GREETING, TIMEOUT, b64, config, converse, converse_with, ehlo, envelope, password, plain,
};

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
    // Failed before the fix: QUIT sent by `step` leaves the phase `Ready`; the parse error then goes
    // to `give_up`, which writes QUIT again and waits the QUIT timeout for its reply.
    let run = converse(&plain(), &[], &[GREETING, &ehlo(&["PIPELINING"]), b"HTTP/1.1 400 Bad Request\r\n"]);
    assert_eq!(count(&run.sent(), "QUIT\r\n"), 1, "sent: {:?}", run.sent());
}

/// The same with a message delivered first: the outcome stands, one QUIT.
#[test]
fn garbage_after_quit_with_a_delivered_message_sends_one_quit() {
    // Failed before the fix: as above, a second QUIT.
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
    // Failed before the fix: `give_up` appends "QUIT\r\n" to the half-sent body and waits for a reply
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
    // Failed before the fix: `CloseReason::TlsUnavailable` is permanent and has no reply, so every
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
    // Failed before the fix: the session goes on in plaintext, finds AUTH impossible, and fails every
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
    friendly: bool,
}

impl Model {
    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        if self.friendly && self.rng.below(10) > 0 {
            return choices[0];
        }
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
            // LMTP: as many replies to the last chunk as the client expects (the
            // one-reply server is `lmtp_bdat_refused_chunk_...`).
            let replies = if self.lmtp && last && self.mail_ok { self.accepted.max(1) } else { 1 };
            for _ in 0..replies {
                self.reply("503 5.5.1 No transaction");
            }
            self.chunk_refused = !last;
            return;
        }
        match (last, self.rng.below(5)) {
            (false, 0) if !self.friendly || self.rng.below(10) == 0 => {
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
            "EHLO" | "LHLO" => match self.rng.below(if self.friendly { 100 } else { 12 }) {
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
                true => match self.rng.below(if self.friendly { 60 } else { 6 }) {
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
                if !self.caps.contains(&"CHUNKING") {
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

/// An LMTP message refused at a chunk: the replies to its pipelined last chunk come as
/// Delivery events too (see `lmtp_bdat_refused_chunk_...`).
fn chunk_refused(found: &[&ClientEvent]) -> bool {
    found.iter().any(|e| {
        matches!(
            e,
            ClientEvent::Failed { failure: Failure::Rejected { stage: smtp_sansio::client::Stage::Chunk, .. }, .. }
        )
    })
}

/// An LMTP message whose session ended between its Delivery replies (see
/// `lmtp_recipients_delivered_before_the_connection_dropped_...`).
fn session_ended(found: &[&ClientEvent]) -> bool {
    found.iter().any(|e| matches!(e, ClientEvent::Failed { failure: Failure::SessionEnded(_), .. }))
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
        friendly: !seed.is_multiple_of(3),
    };
    let noise = if !seed.is_multiple_of(3) { 400 } else { 40 };
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
    let trace = std::env::var("FUZZ_TRACE").is_ok_and(|value| value == seed.to_string());
    let mut v = Vec::new();
    for _ in 0..20_000 {
        let output = session.poll_output();
        if trace {
            eprintln!("OUT {output:?}");
        }
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
                if let ClientEvent::Failed { message, .. } = &event
                    && owed.as_ref().is_some_and(|(id, _)| id == message)
                {
                    owed = None;
                    let ended = session.ended().is_some();
                    match session.end_body() {
                        Err(ClientError::NoBodyWanted) if ended => {}
                        Err(error) => v.push(format!("end_body of a refused body: {error:?}")),
                        Ok(()) => {}
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
                        let result = session.end_body();
                        if trace {
                            eprintln!("END {result:?}");
                        }
                        owed = None;
                    } else {
                        let take = 1 + rng.below(body.len());
                        let piece: Vec<u8> = body.drain(..take).collect();
                        let result = session.push_body(&piece);
                        if trace {
                            eprintln!("PUSH {piece:?} {result:?}");
                        }
                    }
                    continue;
                }
                match rng.below(noise) {
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
                        if trace {
                            eprintln!("IN {:?}", String::from_utf8_lossy(&piece));
                        }
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
            true if failed > 0 && deliveries > 0 && !chunk_refused(&found) && !session_ended(&found) => {
                v.push(format!("LMTP {id:?} has both Delivery and Failed"))
            }
            _ => {}
        }
    }
    v.extend(model.violations);
    if std::env::var("FUZZ_STATS").is_ok() {
        let sent = String::from_utf8_lossy(&sent_all);
        let mut stats = String::new();
        for (tag, on) in [
            ("acc", events.iter().any(|e| matches!(e, ClientEvent::Accepted { .. }))),
            ("dlv", events.iter().any(|e| matches!(e, ClientEvent::Delivery { .. }))),
            ("tls", sent.matches("EHLO").count() > 1 || sent.matches("LHLO").count() > 1),
            ("auth", sent.contains("AUTH")),
            ("bdat", sent.contains("BDAT")),
            ("rset", sent.contains("RSET")),
            ("noop", sent.contains("NOOP")),
            ("quit", sent.contains("QUIT")),
        ] {
            if on {
                stats.push_str(tag);
                stats.push(' ');
            }
        }
        eprintln!("STATS {stats}");
    }
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
    let seeds = std::env::var("FUZZ_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000u64);
    let mut kinds: std::collections::BTreeMap<String, (u64, Vec<String>)> = Default::default();
    for seed in 1..=seeds {
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

// ---------------------------------------------------------------------------------
// BDAT and the application's body
// ---------------------------------------------------------------------------------

/// A chunk refused while the application streams the body (pipelined BDAT): once the
/// failure is reported, the application ends the body it was streaming. `end_body`
/// must accept that (its documentation: "After a refused chunk nothing more goes"),
/// not call it a misuse.
#[test]
fn end_body_after_the_refusal_is_reported_is_accepted() {
    let mut config = plain();
    config.prefer_bdat = true;
    let mut session = ClientSession::new(&config.build().unwrap());
    let id = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    session.handle_input(GREETING);
    let _ = drain(&mut session);
    session.handle_input(&ehlo(&["PIPELINING", "CHUNKING"]));
    let _ = drain(&mut session);
    session.handle_input(b"250 Ok\r\n250 Ok\r\n");
    let (_, events, _) = drain(&mut session);
    assert!(events.contains(&ClientEvent::BodyWanted { message: id }));
    session.push_body(b"first chunk\r\n").unwrap();
    assert_eq!(drain(&mut session).0, "BDAT 13\r\nfirst chunk\r\n");
    session.handle_input(b"552 5.3.4 Message too big\r\n");
    let mut failed = false;
    loop {
        match session.poll_output() {
            Output::Event(ClientEvent::Failed { message, .. }) => {
                assert_eq!(message, id);
                failed = true;
                assert_eq!(session.push_body(b"more\r\n"), Err(ClientError::MessageRefused));
                assert_eq!(session.end_body(), Ok(()), "ending the refused body");
            }
            Output::Transmit(bytes) => panic!("sent {bytes:?}"),
            Output::Event(_) => {}
            _ => break,
        }
    }
    assert!(failed);
}

/// The same when the refusal comes after more chunks went (pipelined): the later
/// chunks' replies are read, the failure is reported once, and `end_body` then is
/// accepted.
#[test]
fn end_body_after_a_refusal_behind_later_chunks_is_accepted() {
    let mut config = plain();
    config.prefer_bdat = true;
    let mut session = ClientSession::new(&config.build().unwrap());
    let id = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    session.handle_input(GREETING);
    let _ = drain(&mut session);
    session.handle_input(&ehlo(&["PIPELINING", "CHUNKING"]));
    let _ = drain(&mut session);
    session.handle_input(b"250 Ok\r\n250 Ok\r\n");
    let _ = drain(&mut session);
    session.push_body(b"first\r\n").unwrap();
    session.push_body(b"second\r\n").unwrap();
    session.push_body(b"third\r\n").unwrap();
    assert_eq!(drain(&mut session).0, "BDAT 7\r\nfirst\r\nBDAT 8\r\nsecond\r\nBDAT 7\r\nthird\r\n");
    session.handle_input(b"552 5.3.4 Too big\r\n503 5.5.1 No transaction\r\n503 5.5.1 No transaction\r\n");
    let mut failed = 0;
    loop {
        match session.poll_output() {
            Output::Event(ClientEvent::Failed { message, .. }) => {
                assert_eq!(message, id);
                failed += 1;
                assert_eq!(session.push_body(b"more\r\n"), Err(ClientError::MessageRefused));
                assert_eq!(session.end_body(), Ok(()), "ending the refused body");
            }
            Output::Transmit(bytes) => panic!("sent {bytes:?}"),
            Output::Event(_) => {}
            _ => break,
        }
    }
    assert_eq!(failed, 1);
}

// ---------------------------------------------------------------------------------
// LMTP
// ---------------------------------------------------------------------------------

/// LMTP with pipelined BDAT: a chunk before the last is refused. RFC 3030 section 2:
/// the chunks already in the pipeline are discarded by the server, and a server that
/// has dropped the transaction answers the pipelined `BDAT 0 LAST` with one error
/// (there is no transaction, so no recipient list to answer for). The client cannot
/// know whether one reply or one per recipient comes, so it must not pipeline
/// `BDAT ... LAST` behind unanswered chunks in LMTP, or must not count on RFC 2033's
/// per-recipient replies after a refusal. Here it waits for a second reply that never
/// comes, and takes the next reply the server sends as recipient 1's delivery.
#[test]
fn lmtp_bdat_refused_chunk_does_not_desynchronise_the_replies() {
    // Failed before the fix: the client pipelined `BDAT 0 LAST` behind the unanswered
    // chunks, expected a reply per recipient to it, and took the server's next reply
    // as recipient 1's delivery. Now, in LMTP, the last chunk waits for the replies to
    // the ones before, so after the refusal it never goes.
    let mut config = plain();
    config.lmtp = true;
    config.prefer_bdat = true;
    let run = converse_with(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>", "<c@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n",
            b"552 5.3.4 Message too big\r\n503 5.5.1 No transaction\r\n",
            BYE,
        ],
        30,
        true,
    );
    assert!(run.turns[3].contains("BDAT 30\r\n"), "{:?}", run.turns);
    assert!(!run.sent().contains("LAST"), "no last chunk after a refused one: {:?}", run.turns);
    assert!(run.deliveries(0).is_empty(), "no delivery reply to a refused message: {:?}", run.deliveries(0));
    assert!(matches!(run.failure(0), Failure::Rejected { .. }));
    assert_eq!(run.turns[4], "QUIT\r\n", "{:?}", run.turns);
}

/// LMTP: the first recipient's delivery reply came (`250`: delivered), then the
/// connection dropped before the second's. The message must not be reported failed as
/// a whole: an application that retries a `Failed` message delivers it to the first
/// recipient twice. The missing recipient's outcome should come per recipient
/// (a transient failure for index 1), and never `Failed` beside a `Delivery` (brief:
/// "never both").
#[test]
fn lmtp_recipients_delivered_before_the_connection_dropped_are_not_failed_again() {
    // Failed before the fix: `end()` reported `Failed { SessionEnded(Eof) }` for the
    // whole message after `Delivery { index: 0, 250 }`. Now the failure names only the
    // recipients without an outcome (`Failure::Undelivered`), so a retry goes to them.
    let mut config = plain();
    config.lmtp = true;
    let run = converse(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>", "<c@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "ENHANCEDSTATUSCODES"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 <b@example.org> Saved\r\n",
        ],
    );
    assert_eq!(run.deliveries(0), [(0, 250)]);
    match run.failure(0) {
        failure @ Failure::Undelivered { recipients, .. } => {
            assert_eq!(recipients, &[1], "only recipient 1 is without an outcome");
            assert!(failure.is_transient());
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Early replies during a DATA body
// ---------------------------------------------------------------------------------

/// Some servers refuse a message while it is still coming (a size limit hit during
/// DATA: `552 5.3.4`, then they close). The reply is the message's outcome: the
/// failure must be permanent and carry the 552, not a transient
/// `SessionEnded(ProtocolViolation)` that has the application retry for days.
#[test]
fn an_early_552_during_the_data_body_fails_the_message_permanently() {
    // Failed before the fix: the reply is taken as a reply to nothing: the message fails with
    // `SessionEnded(ProtocolViolation)` (transient, the 552 lost), and QUIT is written
    // into the body.
    let mut session = ClientSession::new(&plain().build().unwrap());
    let id = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    for reply in [GREETING, &ehlo(&["PIPELINING", "SIZE 1000"])[..], b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n"] {
        session.handle_input(reply);
        let _ = drain(&mut session);
    }
    session.push_body(b"Subject: big\r\n\r\n").unwrap();
    let _ = drain(&mut session);
    session.handle_input(b"552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    let (_, mut events, _) = drain(&mut session);
    session.handle_eof();
    events.extend(drain(&mut session).1);
    let found = outcomes(&events, id);
    assert_eq!(found.len(), 1, "{events:?}");
    match found[0] {
        ClientEvent::Failed { failure, .. } => {
            assert!(!failure.is_transient(), "{failure:?}");
            assert_eq!(failure.reply().map(|reply| reply.code().get()), Some(552), "{failure:?}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Timeouts and 421 at every step
// ---------------------------------------------------------------------------------

/// A submission (STARTTLS, AUTH PLAIN, two pipelined messages): at each step in turn
/// the server goes quiet, or answers 421. Every message gets exactly one outcome,
/// transient; QUIT goes at most once (never after a 421); nothing goes after it; the
/// session closes.
#[test]
fn a_timeout_or_421_at_every_step_fails_every_message_once_and_transiently() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let messages = [
        (envelope("<a@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<a@example.net>", &["<c@example.org>"]), BODY),
    ];
    let caps = ehlo(&["PIPELINING", "STARTTLS", "AUTH PLAIN", "ENHANCEDSTATUSCODES"]);
    let script: Vec<&[u8]> = vec![
        GREETING,
        &caps,
        b"220 2.0.0 Go ahead\r\n",
        &caps,
        b"235 2.7.0 Ok\r\n",
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
        b"250 2.0.0 Queued\r\n",
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
        b"250 2.0.0 Queued\r\n",
        BYE,
    ];
    for step in 0..script.len() - 1 {
        for fault in [TIMEOUT, b"421 4.3.2 Shutting down\r\n"] {
            let mut faulty = script[..step].to_vec();
            faulty.push(fault);
            faulty.push(BYE);
            let run = converse(&config, &messages, &faulty);
            let what = format!("{} at step {step}", if fault == TIMEOUT { "timeout" } else { "421" });
            for index in 0..2 {
                let outcome = run.outcome(index);
                if let ClientEvent::Failed { failure, .. } = outcome {
                    assert!(failure.is_transient(), "{what}: {failure:?}");
                }
            }
            let sent = run.sent();
            let quits = count(&sent, "QUIT\r\n");
            assert!(quits <= 1, "{what}: {sent:?}");
            if fault != TIMEOUT {
                assert_eq!(quits, 0, "{what}: no QUIT after 421: {sent:?}");
            }
            if quits == 1 {
                assert!(sent.ends_with("QUIT\r\n"), "{what}: nothing after QUIT: {sent:?}");
            }
            assert!(run.closed, "{what}");
            run.close_reason();
        }
    }
}

// ---------------------------------------------------------------------------------
// SASL
// ---------------------------------------------------------------------------------

/// AUTH LOGIN: a `334` after the password (the exchange is over): cancelled with
/// `*`; the server's `535` then fails every message, and no MAIL goes.
#[test]
fn a_334_after_the_login_password_is_cancelled_and_no_mail_goes() {
    let mut config = plain();
    password(&mut config);
    config.plaintext_auth = true;
    config.mechanisms = vec![smtp_sansio::sasl::Mechanism::Login];
    let run = converse(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "AUTH LOGIN"]),
            b"334 VXNlcm5hbWU6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"535 5.7.8 Authentication failed\r\n",
            BYE,
        ],
    );
    assert_eq!(
        run.turns[2..7],
        [
            "AUTH LOGIN\r\n".to_string(),
            format!("{}\r\n", b64("alice@example.net")),
            format!("{}\r\n", b64("correct horse")),
            "*\r\n".to_string(),
            "QUIT\r\n".to_string(),
        ]
    );
    assert!(matches!(run.failure(0), Failure::AuthFailed(Some(reply)) if reply.code().get() == 535));
    assert!(!run.failure(0).is_transient());
}

/// RFC 4954 section 4: the AUTH line, CRLF included, stays within 512 octets: an
/// initial response that makes it exactly 512 goes inline; one octet more and it
/// goes after the `334`.
#[test]
fn the_initial_response_limit_is_exactly_512_octets_with_crlf() {
    for (password_len, inline) in [(369usize, true), (372, false)] {
        let mut config = plain();
        config.plaintext_auth = true;
        config.credentials =
            Some(ClientCredentials::Password { username: "u".into(), password: "p".repeat(password_len) });
        let response = b64(&format!("\0u\0{}", "p".repeat(password_len)));
        let line = format!("AUTH PLAIN {response}\r\n");
        let script: Vec<&[u8]> = match inline {
            true => vec![GREETING, &b"250-mx\r\n250 AUTH PLAIN\r\n"[..], b"235 2.7.0 Ok\r\n", BYE],
            false => vec![GREETING, b"250-mx\r\n250 AUTH PLAIN\r\n", b"334 \r\n", b"235 2.7.0 Ok\r\n", BYE],
        };
        let run = converse(&config, &[], &script);
        match inline {
            true => {
                assert!(line.len() <= 512, "{}", line.len());
                assert_eq!(run.turns[2], line);
            }
            false => {
                assert!(line.len() > 512, "{}", line.len());
                assert_eq!(run.turns[2], "AUTH PLAIN\r\n");
                assert_eq!(run.turns[3], format!("{response}\r\n"));
            }
        }
        assert!(run.ready().2, "authenticated");
    }
}

// ---------------------------------------------------------------------------------
// Misuse by the application
// ---------------------------------------------------------------------------------

/// `noop`, `push_body` and `end_body` at the wrong times are refused and send nothing;
/// a message sent once QUIT is on its way is reported failed, never lost.
#[test]
fn misuse_at_odd_times_is_refused_and_nothing_is_lost() {
    let mut session = ClientSession::new(&plain().build().unwrap());
    assert!(!session.noop());
    assert_eq!(session.push_body(b"x"), Err(ClientError::NoBodyWanted));
    assert_eq!(session.end_body(), Err(ClientError::NoBodyWanted));
    session.handle_input(GREETING);
    let _ = drain(&mut session);
    session.handle_input(&ehlo(&["PIPELINING"]));
    let (_, _, stop) = drain(&mut session);
    assert_eq!(stop, Output::Idle);
    assert_eq!(session.push_body(b"x"), Err(ClientError::NoBodyWanted));
    let first = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    let _ = drain(&mut session);
    assert!(!session.noop(), "busy");
    assert_eq!(session.push_body(b"x"), Err(ClientError::NoBodyWanted), "before 354");
    session.handle_input(b"250 Ok\r\n250 Ok\r\n354 Go\r\n");
    let _ = drain(&mut session);
    assert!(!session.noop(), "a body is owed");
    session.push_body(BODY).unwrap();
    session.end_body().unwrap();
    assert_eq!(session.end_body(), Err(ClientError::NoBodyWanted), "twice");
    session.quit();
    let _ = drain(&mut session);
    session.handle_input(b"250 Ok\r\n");
    let (sent, events, _) = drain(&mut session);
    assert_eq!(sent, "QUIT\r\n");
    assert!(matches!(outcomes(&events, first)[..], [ClientEvent::Accepted { .. }]));
    // QUIT is out; a message sent now cannot go.
    let late = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    assert!(!session.noop());
    session.handle_input(BYE);
    let (sent, events, stop) = drain(&mut session);
    assert_eq!((sent.as_str(), stop), ("", Output::Closed));
    assert!(matches!(outcomes(&events, late)[..], [ClientEvent::Failed { .. }]), "{events:?}");
}

// ---------------------------------------------------------------------------------
// EOF right behind the last reply
// ---------------------------------------------------------------------------------

/// The server writes its reply and closes at once; the driver's read returns both the
/// bytes and the end of the stream, and it hands them over in that order
/// (`handle_input`, then `handle_eof`) before polling. The reply must count: here the
/// `250` that accepted the message. Losing it reports the message failed (transient),
/// and the application sends it again: a duplicate delivery.
#[test]
fn a_reply_handed_over_just_before_eof_is_not_lost() {
    // Failed before the fix: `handle_eof` closes at once and `close` clears the unparsed input: the
    // message that was accepted is reported `Failed { SessionEnded(Eof) }`.
    let mut session = ClientSession::new(&plain().build().unwrap());
    let id = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    for reply in [GREETING, &ehlo(&["PIPELINING"])[..], b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n"] {
        session.handle_input(reply);
        let _ = drain(&mut session);
    }
    session.push_body(BODY).unwrap();
    session.end_body().unwrap();
    let _ = drain(&mut session);
    session.handle_input(b"250 2.0.0 Ok: queued as 4VqZ1k\r\n");
    session.handle_eof();
    let (_, events, stop) = drain(&mut session);
    assert_eq!(stop, Output::Closed);
    assert!(matches!(outcomes(&events, id)[..], [ClientEvent::Accepted { .. }]), "{events:?}");
}

/// The same for a `421` greeting followed by the close: the session ended because
/// the server refused it (with its reply, for the log), not "EOF".
#[test]
fn a_421_greeting_handed_over_with_eof_is_the_close_reason() {
    // Failed before the fix: the reason is `Eof`; the 421 is dropped unread.
    let mut session = ClientSession::new(&plain().build().unwrap());
    session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    let _ = drain(&mut session);
    session.handle_input(b"421 4.7.0 mx.example.org Too many connections, try later\r\n");
    session.handle_eof();
    let (_, events, _) = drain(&mut session);
    let reason = events.iter().find_map(|event| match event {
        ClientEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(matches!(&reason, Some(CloseReason::Rejected(reply)) if reply.code().get() == 421), "{reason:?}");
}
