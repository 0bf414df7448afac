//! Review of the client role's recent work (issue 11): LIMITS splitting and MAILMAX,
//! XCLIENT, XFORWARD. A hostile or quirky server, or a misusing application.
//!
//! Each test but those marked "guard, passes" FAILS on the code it was written against
//! (f7384ea): it states what an expert expects, with the RFC, README or reference
//! implementation it rests on. The guards pin down behaviour that was attacked and
//! found sound.

mod support;

use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope, Failure, Stage};
use smtp_sansio::wire::{AttributeValue, ClientAttributes};
use support::XorShift;
use support::scripted::{BODY, BYE, GREETING, Run, converse, drive_set_up, ehlo, envelope, plain};

// ---------------------------------------------------------------------------------
// A scripted server for sessions the application sets up (XCLIENT) before they run
// ---------------------------------------------------------------------------------

/// [`support::scripted::drive_set_up`], bodies pushed whole, `QUIT` asked for.
fn drive_with(
    config: &ClientConfig,
    setup: &dyn Fn(&mut ClientSession),
    messages: &[(Envelope, &[u8])],
    script: &[&[u8]],
    cut: &mut dyn FnMut(&[u8]) -> Vec<Vec<u8>>,
) -> Run {
    drive_set_up(config, setup, messages, script, usize::MAX, true, cut)
}

/// [`drive_with`] with every block whole, then cut in pieces of 1, 2, 3 and 7: all
/// must agree.
fn converse_with_setup(
    config: &ClientConfig,
    setup: &dyn Fn(&mut ClientSession),
    messages: &[(Envelope, &[u8])],
    script: &[&[u8]],
) -> Run {
    let whole = drive_with(config, setup, messages, script, &mut |block| vec![block.to_vec()]);
    for piece in [1, 2, 3, 7] {
        let run =
            drive_with(config, setup, messages, script, &mut |block| block.chunks(piece).map(<[u8]>::to_vec).collect());
        assert_eq!(run, whole, "fed in pieces of {piece}, the client did otherwise than fed whole blocks");
    }
    whole
}

fn value(text: &str) -> Option<AttributeValue> {
    Some(AttributeValue::Value(text.into()))
}

/// What a proxy knows of the client it stands for (the attributes of
/// tests/client_xclient.rs).
fn real_client() -> ClientAttributes {
    let mut attributes = ClientAttributes::default();
    attributes.name = value("mail.example.net");
    attributes.addr = value("192.0.2.7");
    attributes.helo = value("mail.example.net");
    attributes
}

/// The lines the client sent that start with one of `verbs`, in order.
fn lines(run: &Run, verbs: &[&str]) -> Vec<String> {
    run.sent().split("\r\n").filter(|line| verbs.iter().any(|verb| line.starts_with(verb))).map(String::from).collect()
}

// ---------------------------------------------------------------------------------
// LIMITS: a split message whose later MAIL is refused
// ---------------------------------------------------------------------------------

/// DESIGN.md, "One outcome per message": after `Failure::Partial`, "an MTA then sends
/// again to exactly the recipients not in `delivered` and not refused for good on their
/// own" (the `Recipient` events say which). With PIPELINING the second transaction's
/// `MAIL` is refused (451, transient) and the server answers the pipelined `RCPT` with
/// `503 5.5.1 Error: need MAIL command`, as Postfix does. The client reports that 503 as
/// recipient 1's own refusal, so an MTA that follows the documented rule bounces
/// recipient 1 for good, although nothing was wrong with it: the transaction was
/// refused, transiently. Postfix's smtp client (smtp_proto.c): "If MAIL FROM was
/// rejected, ignore RCPT TO responses: all recipients are dead already."
#[test]
fn a_refused_mail_in_a_later_transaction_reports_the_pipelined_503s_as_recipient_refusals() {
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"451 4.3.0 Try again later\r\n503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n",
            BYE,
        ],
    );
    let failure = run.failure(0);
    match failure {
        Failure::Partial { delivered, failure: inner } => {
            assert_eq!(delivered, &[0]);
            assert!(matches!(**inner, Failure::Rejected { stage: Stage::Mail, .. }), "{inner:?}");
        }
        other => panic!("a partial failure: {other:?}"),
    }
    assert!(failure.is_transient());
    // Recipient 1 was never judged on its own: no refusal of its own may be reported
    // (and certainly not a permanent one, which makes an MTA bounce it).
    let own: Vec<(usize, u16)> = run.recipients(0).into_iter().filter(|(index, _)| *index == 1).collect();
    assert_eq!(own, [], "recipient 1 is to be tried again, not refused for good: {:#?}", run.events);
}

// ---------------------------------------------------------------------------------
// XCLIENT
// ---------------------------------------------------------------------------------

/// `ClientSession::xclient` on a session that is ready (a pooled connection reused for
/// the next proxied client) returns `Ok(())` and is then silently ignored: the message
/// goes without XCLIENT, as from the proxy itself (or from the client named before).
/// The method's own documentation: "a proxy must not pass mail on as itself".
/// XCLIENT_README: "The XCLIENT command may be sent at any time, except in the middle of
/// a mail delivery transaction". Expected: XCLIENT (and EHLO again) before the next
/// MAIL, or an error from `xclient()`; never a silent no-op.
#[test]
fn xclient_asked_on_a_ready_session_is_ignored_and_mail_goes_as_the_proxy() {
    let client = plain().build().unwrap();
    let mut session = ClientSession::new(&client);
    let mut sent = String::new();
    let mut events = Vec::new();
    let pump = |session: &mut ClientSession, input: &[u8], sent: &mut String, events: &mut Vec<ClientEvent>| {
        session.handle_input(input);
        for _ in 0..1000 {
            match session.poll_output() {
                Output::Transmit(bytes) => sent.push_str(&String::from_utf8_lossy(&bytes)),
                Output::Event(ClientEvent::BodyWanted { .. }) => {
                    session.push_body(BODY).unwrap();
                    session.end_body().unwrap();
                }
                Output::Event(event) => events.push(event),
                _ => return,
            }
        }
        panic!("no end");
    };
    pump(&mut session, GREETING, &mut sent, &mut events);
    pump(&mut session, &ehlo(&["PIPELINING", "XCLIENT NAME ADDR HELO"]), &mut sent, &mut events);
    assert!(matches!(session.poll_output(), Output::Idle), "ready and idle");
    let asked = session.xclient(&real_client());
    session.send(envelope("<alice@example.net>", &["<bob@example.org>"]));
    pump(&mut session, b"", &mut sent, &mut events);
    let before_mail = sent.split("MAIL FROM").next().unwrap_or_default().to_string();
    assert!(
        asked.is_err() || before_mail.contains("XCLIENT "),
        "xclient() said {asked:?}, and then the client sent {sent:?}: the mail goes as the proxy"
    );
}

/// XCLIENT_README: "In SMTP server EHLO replies, the keyword associated with this
/// extension is XCLIENT. It is followed by the names of the attributes that the XCLIENT
/// implementation supports." Exim (EXPERIMENTAL_XCLIENT, src/miscmods/xclient.c)
/// announces `XCLIENT ADDR NAME PORT LOGIN DESTADDR DESTPORT` and answers any other name
/// with `501 XCLIENT: unrecognised parameter 'HELO'` (HELO and PROTO are compiled in only
/// with `XCLIENT_V1`, which Exim leaves undefined). The client sends every attribute
/// it was given, listed or not (XFORWARD, by contrast, is filtered by its keyword), so a
/// proxy that knows the client's HELO name cannot use XCLIENT with Exim at all: the
/// session ends with `XclientRefused(501)`, permanent. Expected: the attributes the
/// server does not list are left out (NAME and ADDR, which it lists, go).
#[test]
fn xclient_sends_attributes_the_servers_keyword_does_not_list() {
    let exim = "XCLIENT ADDR NAME PORT LOGIN DESTADDR DESTPORT";
    // Exim also wants PORT ("missing PORT for XCLIENT"): the proxy knows it.
    let mut attributes = real_client();
    attributes.port = value("4711");
    let run = converse_with_setup(
        &plain(),
        &|session| session.xclient(&attributes).unwrap(),
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", exim]),
            b"220 XCLIENT success\r\n",
            &ehlo(&["PIPELINING", exim]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    let xclient = lines(&run, &["XCLIENT "]);
    assert_eq!(xclient, ["XCLIENT PORT=4711 NAME=mail.example.net ADDR=192.0.2.7"], "only what the server lists");
    run.accepted(0);
}

/// The reply to XCLIENT is judged by its exact code: anything but 220 ends the session
/// with `XclientRefused`, and a 2yz reply other than 220 becomes a *permanent* failure of
/// every message (`is_transient` is false for a 250). Postfix before 2.3 answered a
/// successful XCLIENT with `250 Ok` (XCLIENT_README: "Postfix implementations prior to
/// version 2.3 do not jump back to the initial SMTP greeting protocol stage"), and
/// DESIGN.md's own rule is "Replies are judged by their first digit (RFC 5321 section
/// 4.2.1) ... any 2yz to AUTH succeeds". Expected: a 2yz to XCLIENT is success (EHLO
/// again, then the mail); at the very least a positive reply never makes a permanent
/// failure.
#[test]
fn a_250_to_xclient_is_taken_for_a_permanent_refusal() {
    let run = converse_with_setup(
        &plain(),
        &|session| session.xclient(&real_client()).unwrap(),
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XCLIENT NAME ADDR PROTO HELO"]),
            b"250 2.0.0 Ok\r\n",
            &ehlo(&["PIPELINING", "XCLIENT NAME ADDR PROTO HELO"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    let outcome = run.outcome(0).clone();
    assert!(matches!(outcome, ClientEvent::Accepted { .. }), "a 250 to XCLIENT is success: {:#?}", run.events);
}

// ---------------------------------------------------------------------------------
// XFORWARD
// ---------------------------------------------------------------------------------

/// XFORWARD only changes what the next server logs (XFORWARD_README: "an SMTP client
/// may send information that overrides one or more client-related logging
/// attributes"). A content filter hands back a message whose original client said
/// `HELO mail example` (Postfix's smtpd takes a HELO argument of several words) — xtext
/// writes the space as `+20`, and Postfix's XFORWARD handler takes any value and neuters
/// the characters that could mess up headers (smtpd.c, `SMTPD_STATE_XFORWARD_HELO`:
/// `neuter(attr_value, NEUTER_CHARACTERS, '?')`). The client refuses to encode the value
/// and fails the whole message with `Failure::Local(LocalFailure::Encoding)`, which is
/// permanent: the filter bounces mail over a log attribute. Expected: the message goes;
/// the attribute that cannot go is left out (or sent as `[UNAVAILABLE]`), the others go.
#[test]
fn an_xforward_attribute_that_does_not_encode_bounces_the_message() {
    let mut attributes = forwarded_client();
    attributes.helo = value("mail example");
    let mut message = envelope("<alice@example.net>", &["<bob@example.org>"]);
    message.xforward = Some(attributes);
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XFORWARD NAME ADDR PROTO HELO IDENT SOURCE"]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    let outcome = run.outcome(0).clone();
    if let ClientEvent::Failed { failure, .. } = &outcome {
        assert!(failure.is_transient(), "a log attribute bounces the message for good: {failure:?}");
    }
    assert!(matches!(outcome, ClientEvent::Accepted { .. }), "{outcome:?}");
    let xforward = lines(&run, &["XFORWARD "]);
    assert_eq!(xforward.len(), 1, "{:?}", run.turns);
    assert!(xforward[0].contains(" ADDR=192.0.2.7"), "{xforward:?}");
}

// ---------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------

/// Guard, passes. XFORWARD is no transaction: with MAILMAX=2 and RCPTMAX=1, a message
/// for two recipients goes in two transactions, each with its XFORWARD (pipelined in
/// MAIL's group, DATA after the group's replies); the next message is for another
/// connection (`Reconnect`), and QUIT follows without RSET.
#[test]
fn guard_xforward_does_not_count_against_mailmax() {
    let mut first = envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>"]);
    first.xforward = Some(forwarded_client());
    let second = envelope("<alice@example.net>", &["<c@example.org>"]);
    let run = converse(
        &plain(),
        &[(first, BODY), (second, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XFORWARD NAME ADDR IDENT", "LIMITS MAILMAX=2 RCPTMAX=1"]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go\r\n",
            b"250 2.0.0 Queued as 2\r\n",
            BYE,
        ],
    );
    let xforward = "XFORWARD IDENT=4VqZ1k NAME=mail.example.net ADDR=192.0.2.7";
    assert_eq!(
        lines(&run, &["XFORWARD", "MAIL", "RCPT", "DATA", "RSET", "QUIT"]),
        [
            xforward,
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<a@example.org>",
            "DATA",
            xforward,
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<b@example.org>",
            "DATA",
            "QUIT",
        ]
    );
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as 2"));
    assert_eq!(run.failure(1), &Failure::Reconnect);
}

/// Guard, passes. XCLIENT with TLS required: TLS first (the first EHLO's limits are
/// forgotten), then XCLIENT, then EHLO again, whose limits (none) are those that apply:
/// the message goes in one transaction, although both earlier EHLO replies said
/// RCPTMAX=1.
#[test]
fn guard_xclient_after_tls_and_the_last_ehlo_sets_the_limits() {
    let mut config = support::scripted::config();
    config.starttls = smtp_sansio::client::TlsPolicy::Required;
    let run = converse_with_setup(
        &config,
        &|session| session.xclient(&real_client()).unwrap(),
        &[(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["STARTTLS", "LIMITS RCPTMAX=1"]),
            b"220 2.0.0 Go ahead\r\n",
            &ehlo(&["PIPELINING", "XCLIENT NAME ADDR HELO", "LIMITS RCPTMAX=1"]),
            b"220-mx.example.org ESMTP\r\n220 welcome, mail.example.net\r\n",
            &ehlo(&["PIPELINING", "XCLIENT NAME ADDR HELO"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(
        lines(&run, &["EHLO", "STARTTLS", "XCLIENT", "MAIL"]),
        [
            "EHLO client.example.net",
            "STARTTLS",
            "EHLO client.example.net",
            "XCLIENT HELO=mail.example.net NAME=mail.example.net ADDR=192.0.2.7",
            "EHLO client.example.net",
            "MAIL FROM:<alice@example.net>",
        ]
    );
    assert_eq!(run.ready().0.limits(), smtp_sansio::wire::Limits::default());
    run.accepted(0);
}

// ---------------------------------------------------------------------------------
// Any server at all: no panic, an end, and the invariants
// ---------------------------------------------------------------------------------

/// What a random server may send, block by block.
const VOCABULARY: &[&[u8]] = &[
    b"220 mx.example.org ESMTP\r\n",
    b"220-mx.example.org\r\n220 go on\r\n",
    b"250 2.0.0 Ok\r\n",
    b"250-first\r\n250 last\r\n",
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-XCLIENT NAME ADDR HELO\r\n250-XFORWARD NAME ADDR IDENT\r\n250 LIMITS RCPTMAX=2 RCPTDOMAINMAX=1 MAILMAX=3\r\n",
    b"250-mx.example.org\r\n250-CHUNKING\r\n250-XCLIENT NAME ADDR\r\n250 LIMITS RCPTMAX=1 MAILMAX=2\r\n",
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-XFORWARD NAME ADDR PROTO HELO IDENT SOURCE\r\n250 LIMITS RCPTMAX=1\r\n",
    b"250-mx.example.org\r\n250-STARTTLS\r\n250 LIMITS MAILMAX=1 RCPTDOMAINMAX=1\r\n",
    b"250-mx.example.org\r\n250 PIPELINING\r\n",
    b"354 Go ahead\r\n",
    b"421 4.3.2 Closing\r\n",
    b"451 4.3.0 Later\r\n",
    b"452 4.5.3 Too many recipients\r\n",
    b"503 5.5.1 Bad sequence\r\n",
    b"550 5.1.1 No\r\n",
    b"552 5.3.4 Too big\r\n",
    b"221 2.0.0 Bye\r\n",
    b"334 \r\n",
    b"250 2.0.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
    b"250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.1.5 Ok\r\n",
    b"garbage without a code\r\n",
    b"25",
    b"0 2.0.0 Ok\r\n",
    b"\r\n",
    b"999 what\r\n",
];

/// The recipients of the random messages: several domains, a duplicate, Postmaster.
const RECIPIENTS: &[&str] =
    &["<a@x.example>", "<b@y.example>", "<c@X.EXAMPLE>", "<Postmaster>", "<d@z.example>", "<a@x.example>"];

fn forwarded_client() -> ClientAttributes {
    let mut attributes = ClientAttributes::default();
    attributes.name = value("mail.example.net");
    attributes.addr = value("192.0.2.7");
    attributes.ident = value("4VqZ1k");
    attributes
}

/// A client session in `mode` (bit 0 LMTP, 1 BDAT, 2 opportunistic STARTTLS, 3
/// XCLIENT) with `messages` queued (first recipient, how many, with XFORWARD) and QUIT
/// after them; with its configuration, the messages' ids and their recipient counts.
fn queued_session(
    mode: u8,
    messages: &[(usize, usize, bool)],
) -> (ClientConfig, ClientSession, Vec<smtp_sansio::client::MessageId>, Vec<usize>) {
    let mut config = plain();
    config.lmtp = mode & 1 != 0;
    config.prefer_bdat = mode & 2 != 0;
    if mode & 4 != 0 {
        config.starttls = smtp_sansio::client::TlsPolicy::Opportunistic;
    }
    let client = config.clone().build().unwrap();
    let mut session = ClientSession::new(&client);
    if mode & 8 != 0 {
        session.xclient(&real_client()).unwrap();
    }
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for &(start, count, xforward) in messages {
        let to: Vec<&str> = (0..count).map(|i| RECIPIENTS[(start + i) % RECIPIENTS.len()]).collect();
        let mut message = envelope("<alice@example.net>", &to);
        if xforward {
            message.xforward = Some(forwarded_client());
        }
        ids.push(session.send(message));
        sizes.push(count);
    }
    session.quit();
    (config, session, ids, sizes)
}

/// What went wrong in one conversation with a random server, if anything.
fn check_random_server(blocks: &[usize], seed: u64, mode: u8, messages: &[(usize, usize, bool)]) -> Result<(), String> {
    let (config, mut session, ids, sizes) = queued_session(mode, messages);
    let mut rng = XorShift::new(seed);
    let mut sent = String::new();
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut script = blocks.iter().map(|&index| VOCABULARY[index % VOCABULARY.len()]);
    let mut pending: std::collections::VecDeque<Vec<u8>> = Default::default();
    let mut eof = false;
    let mut closed = false;
    for _ in 0..20_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                if sent.contains("QUIT\r\n") {
                    return Err(format!("bytes after QUIT: {:?} after {sent:?}", String::from_utf8_lossy(&bytes)));
                }
                sent.push_str(&String::from_utf8_lossy(&bytes));
            }
            Output::Event(event) => {
                if let ClientEvent::BodyWanted { .. } = event {
                    for piece in BODY.chunks(1 + rng.below(20)) {
                        let _ = session.push_body(piece);
                    }
                    let _ = session.end_body();
                }
                events.push(event);
            }
            Output::StartTls => session.tls_established(),
            Output::Closed => {
                closed = true;
                break;
            }
            _ => {
                if let Some(piece) = pending.pop_front() {
                    session.handle_input(&piece);
                    continue;
                }
                match script.next() {
                    Some(block) => {
                        let mut rest = block;
                        while !rest.is_empty() {
                            let take = 1 + rng.below(rest.len());
                            pending.push_back(rest[..take].to_vec());
                            rest = &rest[take..];
                        }
                        if rng.below(8) == 0 {
                            session.handle_timeout();
                        }
                    }
                    None if !eof => {
                        eof = true;
                        session.handle_eof();
                    }
                    None => return Err(format!("no end after EOF: {sent:?}\n{events:#?}")),
                }
            }
        }
    }
    if !closed {
        return Err(format!("the session did not close: {sent:?}"));
    }
    // One Closed, last.
    let closes = events.iter().filter(|event| matches!(event, ClientEvent::Closed { .. })).count();
    if closes != 1 || !matches!(events.last(), Some(ClientEvent::Closed { .. })) {
        return Err(format!("Closed once and last: {events:#?}"));
    }
    // Every message: exactly one outcome (LMTP: at most one), each recipient answered at
    // most once, `delivered` only recipients the server took.
    for (position, id) in ids.iter().enumerate() {
        let outcomes: Vec<&ClientEvent> = events
            .iter()
            .filter(|event| matches!(event, ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. } if message == id))
            .collect();
        let expected_outcomes = if config.lmtp { outcomes.len() <= 1 } else { outcomes.len() == 1 };
        if !expected_outcomes {
            return Err(format!("message {position}: {} outcomes\n{sent:?}\n{events:#?}", outcomes.len()));
        }
        let mut answered = vec![0usize; sizes[position]];
        let mut positive = vec![false; sizes[position]];
        for event in &events {
            if let ClientEvent::Recipient { message, index, reply } = event
                && message == id
            {
                if *index >= answered.len() {
                    return Err(format!("message {position}: recipient index {index} out of range"));
                }
                answered[*index] += 1;
                positive[*index] |= reply.code().is_positive();
            }
        }
        if answered.iter().any(|count| *count > 1) {
            return Err(format!("message {position}: a recipient answered twice: {answered:?}\n{events:#?}"));
        }
        if let Some(ClientEvent::Failed { failure, .. }) = outcomes.first()
            && failure.delivered().iter().any(|&index| !positive.get(index).copied().unwrap_or(false))
        {
            return Err(format!("message {position}: delivered {:?} not all accepted", failure.delivered()));
        }
    }
    // Limits: those of the EHLO reply in force when mail went (every EHLO comes before
    // the first MAIL).
    let limits = session.capabilities().limits();
    let after_last_ehlo = sent.rsplit("EHLO ").next().unwrap_or_default().to_string();
    let mails = after_last_ehlo.matches("MAIL FROM:").count();
    if let Some(max) = limits.mail_max
        && mails > max as usize
    {
        return Err(format!("{mails} MAIL past MAILMAX={max}: {sent:?}"));
    }
    for transaction in after_last_ehlo.split("MAIL FROM:").skip(1) {
        let rcpts: Vec<&str> = transaction.split("\r\n").filter(|line| line.starts_with("RCPT TO:")).collect();
        if let Some(max) = limits.rcpt_max
            && rcpts.len() > max as usize
        {
            return Err(format!("{} RCPT past RCPTMAX={max}: {sent:?}", rcpts.len()));
        }
        let mut domains: Vec<String> = rcpts
            .iter()
            .filter_map(|line| {
                line.rsplit_once('@').map(|(_, domain)| domain.trim_end_matches('>').to_ascii_lowercase())
            })
            .collect();
        domains.sort();
        domains.dedup();
        if let Some(max) = limits.rcpt_domain_max
            && domains.len() > max as usize
        {
            return Err(format!("{domains:?} past RCPTDOMAINMAX={max}: {sent:?}"));
        }
    }
    let bodies = events.iter().filter(|event| matches!(event, ClientEvent::BodyWanted { .. })).count();
    if bodies > mails {
        return Err(format!("{bodies} bodies asked for, {mails} transactions"));
    }
    Ok(())
}

mod random_server {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Guard, passes. Against any sequence of replies, garbage included, cut at
        /// random: no panic, an end within a bound, one outcome per message, no MAIL past
        /// MAILMAX, no RCPT past RCPTMAX or RCPTDOMAINMAX in a transaction, nothing after
        /// QUIT.
        #[test]
        fn any_server_no_panic_and_the_invariants_hold(
            blocks in proptest::collection::vec(0usize..64, 0..40),
            seed in any::<u64>(),
            mode in 0u8..16,
            messages in proptest::collection::vec((0usize..6, 1usize..6, any::<bool>()), 1..4),
        ) {
            if let Err(problem) = super::check_random_server(&blocks, seed, mode, &messages) {
                panic!("{problem}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// A server that answers every command it reads, at random (but plausibly)
// ---------------------------------------------------------------------------------

/// EHLO replies the reactive server picks from: limits of 1, domain limits, MAILMAX,
/// XCLIENT and XFORWARD, STARTTLS, with and without PIPELINING and CHUNKING.
const EHLOS: &[&[&str]] = &[
    &["PIPELINING", "XCLIENT NAME ADDR HELO", "XFORWARD NAME ADDR IDENT", "LIMITS RCPTMAX=2 RCPTDOMAINMAX=1 MAILMAX=3"],
    &["CHUNKING", "XCLIENT NAME ADDR HELO", "LIMITS RCPTMAX=1 MAILMAX=2"],
    &["PIPELINING", "CHUNKING", "XFORWARD NAME ADDR PROTO HELO IDENT SOURCE", "LIMITS RCPTMAX=1"],
    &["STARTTLS", "XCLIENT NAME ADDR HELO", "LIMITS MAILMAX=1 RCPTDOMAINMAX=1"],
    &["PIPELINING", "XCLIENT NAME ADDR HELO", "LIMITS RCPTMAX=3 RCPTDOMAINMAX=2 MAILMAX=2"],
    &["PIPELINING", "CHUNKING", "XFORWARD NAME ADDR", "XCLIENT NAME ADDR HELO", "LIMITS MAILMAX=1"],
    &["PIPELINING"],
    &[],
];

#[derive(Debug)]
enum Reading {
    Commands,
    DataBody,
    Chunk { left: usize, last: bool },
}

struct ReactiveServer {
    rng: XorShift,
    lmtp: bool,
    input: Vec<u8>,
    reading: Reading,
    out: Vec<u8>,
    /// RCPTs accepted in the transaction.
    accepted: usize,
    /// The RCPTs of the transaction so far, and every transaction's.
    rcpts: usize,
    transactions: Vec<usize>,
    /// The limits of the EHLO reply it gave last.
    limits: (Option<usize>, Option<usize>, Option<usize>),
    mails: usize,
    /// The transaction's MAIL was refused: its RCPT and DATA get 503.
    no_mail: bool,
    /// The recipients the transaction took, and every recipient a message was
    /// delivered to (lower case).
    taken: Vec<String>,
    delivered: Vec<String>,
    chunk_failed: bool,
    /// The server said 221 or 421, or decided to drop the connection.
    gone: bool,
}

impl ReactiveServer {
    fn new(seed: u64, lmtp: bool) -> Self {
        let mut server = Self {
            rng: XorShift::new(seed),
            lmtp,
            input: Vec::new(),
            reading: Reading::Commands,
            out: Vec::new(),
            accepted: 0,
            rcpts: 0,
            transactions: Vec::new(),
            limits: (None, None, None),
            mails: 0,
            no_mail: false,
            taken: Vec::new(),
            delivered: Vec::new(),
            chunk_failed: false,
            gone: false,
        };
        let multiline = server.rng.below(20) == 0;
        server.say(if multiline { "220-mx.example.org\r\n220 ESMTP" } else { "220 mx.example.org ESMTP" });
        server
    }

    /// One of `choices`, the first `weight` times more likely than each other.
    fn pick<'a>(&mut self, weight: usize, choices: &[&'a str]) -> &'a str {
        let roll = self.rng.below(weight + choices.len() - 1);
        choices[roll.saturating_sub(weight - 1).min(choices.len() - 1)]
    }

    fn say(&mut self, reply: &str) {
        self.out.extend_from_slice(reply.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        if reply.starts_with("421") || reply.starts_with("221") {
            self.gone = true;
        }
    }

    fn end_transaction(&mut self) {
        if self.rcpts > 0 || self.accepted > 0 {
            self.transactions.push(self.rcpts);
        }
        self.rcpts = 0;
        self.accepted = 0;
        self.taken.clear();
    }

    fn feed(&mut self, bytes: &[u8]) {
        // Bytes after the server went are dropped, as by a closed socket.
        if self.gone {
            return;
        }
        self.input.extend_from_slice(bytes);
        loop {
            if self.gone {
                self.input.clear();
                return;
            }
            match self.reading {
                Reading::Chunk { left, last } => {
                    let take = left.min(self.input.len());
                    self.input.drain(..take);
                    if take < left {
                        self.reading = Reading::Chunk { left: left - take, last };
                        return;
                    }
                    self.reading = Reading::Commands;
                    self.body_end(last);
                }
                Reading::DataBody | Reading::Commands => {
                    let Some(end) = self.input.windows(2).position(|pair| pair == b"\r\n") else { return };
                    let line: Vec<u8> = self.input.drain(..end + 2).take(end).collect();
                    let line = String::from_utf8_lossy(&line).into_owned();
                    match self.reading {
                        Reading::DataBody if line == "." => {
                            self.reading = Reading::Commands;
                            self.body_end(true);
                        }
                        Reading::DataBody => {}
                        _ => self.command(&line),
                    }
                }
            }
        }
    }

    fn body_end(&mut self, last: bool) {
        // RFC 3030: once a chunk failed, the rest of the message fails too.
        if self.chunk_failed {
            self.say("554 5.5.0 An earlier chunk failed");
            if last {
                self.chunk_failed = false;
                self.end_transaction();
            }
            return;
        }
        if !last {
            let reply = self.pick(12, &["250 2.0.0 Chunk", "552 5.3.4 Too big", "451 4.3.0 Later"]);
            self.chunk_failed = !reply.starts_with('2');
            return self.say(reply);
        }
        let replies = if self.lmtp { self.accepted } else { 1 };
        for index in 0..replies {
            let reply = self.pick(6, &["250 2.0.0 Queued", "554 5.7.1 No", "451 4.3.0 Later", "452 4.2.2 Full"]);
            if reply.starts_with('2') {
                match self.lmtp {
                    true => self.delivered.push(self.taken[index].clone()),
                    false => self.delivered.extend(self.taken.iter().cloned()),
                }
            }
            self.say(reply);
        }
        self.end_transaction();
    }

    fn command(&mut self, line: &str) {
        // Now and then the server gives up at once.
        if self.rng.below(60) == 0 {
            return self.say("421 4.3.2 Shutting down");
        }
        let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "LHLO" => {
                if self.rng.below(25) == 0 {
                    return self.say("502 5.5.1 Not implemented");
                }
                let keywords = EHLOS[self.rng.below(EHLOS.len())];
                let reply = ehlo(keywords);
                self.out.extend_from_slice(&reply);
                let lines = std::iter::once("mx.example.org").chain(keywords.iter().copied()).map(String::from);
                let reply = smtp_sansio::Reply::with_lines(smtp_sansio::ReplyCode::OK, lines);
                let caps = smtp_sansio::Capabilities::from_reply(&reply).unwrap().limits();
                self.limits = (
                    caps.mail_max.map(|max| max as usize),
                    caps.rcpt_max.map(|max| max as usize),
                    caps.rcpt_domain_max.map(|max| max as usize),
                );
            }
            "HELO" => {
                self.limits = (None, None, None);
                self.say("250 mx.example.org");
            }
            "STARTTLS" => {
                let reply = self.pick(6, &["220 2.0.0 Ready", "454 4.7.0 Not now"]);
                self.say(reply);
            }
            "XCLIENT" => {
                let reply = self.pick(
                    8,
                    &[
                        "220 mx.example.org ESMTP",
                        "220-mx.example.org\r\n220 again",
                        "250 2.0.0 Ok",
                        "550 5.7.0 Insufficient authorization",
                        "451 4.3.0 Later",
                    ],
                );
                self.say(reply);
            }
            "XFORWARD" => {
                let reply = self.pick(10, &["250 2.0.0 Ok", "550 5.7.0 Insufficient authorization", "501 5.5.4 Bad"]);
                self.say(reply);
            }
            "MAIL" => {
                self.end_transaction();
                self.mails += 1;
                let reply = self.pick(10, &["250 2.1.0 Ok", "451 4.3.0 Later", "550 5.7.1 No", "452 4.5.3 Too many"]);
                self.no_mail = !reply.starts_with('2');
                self.say(reply);
            }
            "RCPT" | "DATA" if self.no_mail => self.say("503 5.5.1 Error: need MAIL command"),
            "RCPT" => {
                self.rcpts += 1;
                let reply = self
                    .pick(6, &["250 2.1.5 Ok", "452 4.5.3 Too many", "550 5.1.1 No such user", "503 5.5.1 Need MAIL"]);
                if reply.starts_with('2') {
                    self.accepted += 1;
                    self.taken.push(line.trim_start_matches("RCPT TO:").to_ascii_lowercase());
                }
                self.say(reply);
            }
            "DATA" => {
                let reply = match self.accepted {
                    0 => self.pick(8, &["554 5.5.1 No valid recipients", "354 Go ahead anyway"]),
                    _ => self.pick(10, &["354 Go ahead", "554 5.7.1 No", "451 4.3.0 Later"]),
                };
                if reply.starts_with('3') {
                    self.reading = Reading::DataBody;
                } else {
                    self.end_transaction();
                }
                self.say(reply);
            }
            "BDAT" => {
                let mut words = line.split(' ').skip(1);
                let size = words.next().and_then(|size| size.parse().ok()).unwrap_or(0);
                let last = words.next().is_some_and(|word| word.eq_ignore_ascii_case("LAST"));
                self.reading = Reading::Chunk { left: size, last };
            }
            "RSET" => {
                self.no_mail = false;
                self.end_transaction();
                self.say("250 2.0.0 Ok");
            }
            "NOOP" => self.say("250 2.0.0 Ok"),
            "QUIT" => self.say("221 2.0.0 Bye"),
            _ => self.say("500 5.5.2 Unknown command"),
        }
    }
}

/// Runs the client with `mode` (LMTP, BDAT, opportunistic TLS, XCLIENT) and `messages`
/// against a [`ReactiveServer`] seeded with `seed`, its replies cut by `cut_seed` (0:
/// whole). Returns what the client sent and its events, or what went wrong.
fn run_reactive(
    seed: u64,
    cut_seed: u64,
    mode: u8,
    messages: &[(usize, usize, bool)],
) -> Result<(String, Vec<ClientEvent>), String> {
    let (config, mut session, ids, sizes) = queued_session(mode, messages);
    let mut server = ReactiveServer::new(seed, config.lmtp);
    let mut cutter = XorShift::new(cut_seed);
    let mut sent = String::new();
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut eof = false;
    let mut timeouts = 0;
    let mut closed = false;
    for _ in 0..50_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                if sent.contains("QUIT\r\n") {
                    return Err(format!("bytes after QUIT: {:?} after {sent:?}", String::from_utf8_lossy(&bytes)));
                }
                sent.push_str(&String::from_utf8_lossy(&bytes));
                server.feed(&bytes);
            }
            Output::Event(event) => {
                if let ClientEvent::BodyWanted { .. } = event {
                    let _ = session.push_body(BODY);
                    let _ = session.end_body();
                }
                events.push(event);
            }
            Output::StartTls => session.tls_established(),
            Output::Closed => {
                closed = true;
                break;
            }
            _ => {
                if !server.out.is_empty() {
                    let take = match cut_seed {
                        0 => server.out.len(),
                        _ => 1 + cutter.below(server.out.len()),
                    };
                    let piece: Vec<u8> = server.out.drain(..take).collect();
                    session.handle_input(&piece);
                } else if server.gone && !eof {
                    eof = true;
                    session.handle_eof();
                } else if timeouts < 3 {
                    timeouts += 1;
                    session.handle_timeout();
                } else {
                    return Err(format!("no end: {sent:?}\n{events:#?}"));
                }
            }
        }
    }
    if !closed {
        return Err(format!("the session did not close: {sent:?}"));
    }
    let closes = events.iter().filter(|event| matches!(event, ClientEvent::Closed { .. })).count();
    if closes != 1 || !matches!(events.last(), Some(ClientEvent::Closed { .. })) {
        return Err(format!("Closed once and last: {events:#?}"));
    }
    for (position, id) in ids.iter().enumerate() {
        let outcomes: Vec<&ClientEvent> = events
            .iter()
            .filter(|event| matches!(event, ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. } if message == id))
            .collect();
        let right = if config.lmtp { outcomes.len() <= 1 } else { outcomes.len() == 1 };
        if !right {
            return Err(format!("message {position}: {} outcomes\n{sent:?}\n{events:#?}", outcomes.len()));
        }
        let mut answered = vec![0usize; sizes[position]];
        let mut positive = vec![false; sizes[position]];
        let mut delivered = vec![0usize; sizes[position]];
        for event in &events {
            match event {
                ClientEvent::Recipient { message, index, reply } if message == id => {
                    answered[*index] += 1;
                    positive[*index] |= reply.code().is_positive();
                }
                ClientEvent::Delivery { message, index, .. } if message == id => delivered[*index] += 1,
                _ => {}
            }
        }
        if answered.iter().chain(&delivered).any(|count| *count > 1) {
            return Err(format!("message {position}: answered twice: {answered:?} {delivered:?}\n{events:#?}"));
        }
        match outcomes.first() {
            Some(ClientEvent::Accepted { .. }) if answered.contains(&0) => {
                return Err(format!(
                    "message {position}: accepted with recipients never tried: {answered:?}\n{sent:?}"
                ));
            }
            Some(ClientEvent::Failed { failure: Failure::NoRecipients { replies }, .. })
                if replies.len() != sizes[position] || positive.iter().any(|p| *p) =>
            {
                return Err(format!("message {position}: NoRecipients {replies:?}, but {positive:?}\n{sent:?}"));
            }
            Some(ClientEvent::Failed { failure, .. })
                if failure.delivered().iter().any(|&index| !positive.get(index).copied().unwrap_or(false)) =>
            {
                return Err(format!("message {position}: delivered {:?} not accepted", failure.delivered()));
            }
            _ => {}
        }
    }
    // What the client says was delivered is what the server delivered.
    let mut claimed: Vec<String> = Vec::new();
    for (position, id) in ids.iter().enumerate() {
        let (start, _, _) = messages[position];
        let address = |index: usize| RECIPIENTS[(start + index) % RECIPIENTS.len()].to_ascii_lowercase();
        for event in &events {
            match event {
                ClientEvent::Accepted { message, .. } if message == id => {
                    for other in &events {
                        if let ClientEvent::Recipient { message, index, reply } = other
                            && message == id
                            && reply.code().is_positive()
                        {
                            claimed.push(address(*index));
                        }
                    }
                }
                ClientEvent::Failed { message, failure } if message == id && !config.lmtp => {
                    claimed.extend(failure.delivered().iter().map(|&index| address(index)));
                }
                ClientEvent::Delivery { message, index, reply } if message == id && reply.code().is_positive() => {
                    claimed.push(address(*index));
                }
                _ => {}
            }
        }
    }
    let mut really = server.delivered.clone();
    claimed.sort();
    really.sort();
    if claimed != really {
        return Err(format!(
            "the client says {claimed:?} were delivered, the server delivered {really:?}\n{sent:?}\n{events:#?}"
        ));
    }
    let (mail_max, rcpt_max, domain_max) = server.limits;
    if let Some(max) = mail_max
        && server.mails > max
    {
        return Err(format!("{} MAIL past MAILMAX={max}: {sent:?}", server.mails));
    }
    let after_last_ehlo = sent.rsplit("HLO ").next().unwrap_or_default().to_string();
    for transaction in after_last_ehlo.split("MAIL FROM:").skip(1) {
        let rcpts: Vec<&str> = transaction.split("\r\n").filter(|line| line.starts_with("RCPT TO:")).collect();
        if rcpt_max.is_some_and(|max| rcpts.len() > max) {
            return Err(format!("{} RCPT past RCPTMAX={rcpt_max:?}: {sent:?}", rcpts.len()));
        }
        let mut domains: Vec<String> = rcpts
            .iter()
            .filter_map(|line| {
                line.rsplit_once('@').map(|(_, domain)| domain.trim_end_matches('>').to_ascii_lowercase())
            })
            .collect();
        domains.sort();
        domains.dedup();
        if domain_max.is_some_and(|max| domains.len() > max) {
            return Err(format!("{domains:?} past RCPTDOMAINMAX={domain_max:?}: {sent:?}"));
        }
    }
    Ok((sent, events))
}

mod reactive_server {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Guard, passes. Against a server that answers each command plausibly but at
        /// random (limits of 1, limits that change at each EHLO, MAILMAX, XCLIENT,
        /// XFORWARD, refusals, 421): no panic, an end, one outcome per message, what the
        /// client says was delivered is what the server delivered, no limit overrun,
        /// nothing after QUIT, and the same conversation however the replies are cut.
        #[test]
        fn a_reactive_random_server(
            seed in any::<u64>(),
            cut in 1u64..u64::MAX,
            mode in 0u8..16,
            messages in proptest::collection::vec((0usize..6, 1usize..6, any::<bool>()), 1..4),
        ) {
            let whole = super::run_reactive(seed, 0, mode, &messages);
            let whole = match whole {
                Ok(whole) => whole,
                Err(problem) => panic!("{problem}"),
            };
            let cut = super::run_reactive(seed, cut, mode, &messages).unwrap_or_else(|problem| panic!("{problem}"));
            prop_assert_eq!(whole, cut, "the cutting of the replies changed the conversation");
        }
    }
}
