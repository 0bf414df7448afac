//! The client's side of `docs/CONFORMANCE.md`: one test per client row (`C-...`) that
//! the client session implements since issue 10, named after the rule and named in the
//! row's Test column. Scripted servers feed every block whole, byte by byte, in small
//! pieces and split at random (all must agree); where the order of commands and
//! replies is the rule, the test says what the client wrote before each reply.

mod support;

use smtp_sansio::client::{
    ClientConfig, ClientCredentials, ClientError, ClientEvent, ClientSession, CloseReason, Envelope, Failure,
    LocalFailure, Stage, TlsPolicy,
};
use smtp_sansio::sasl::Mechanism;
use smtp_sansio::wire::{ForwardPath, MailParameters, Parameter, RcptParameters};
use smtp_sansio::{ConfigError, Output};
use support::scripted::{BODY, BYE, GREETING, b64, config, converse, converse_with, ehlo, envelope, password, plain};

/// Polls until the session stops, completing any TLS handshake asked for: what it
/// wrote, its events, and how it stopped.
fn drain(session: &mut ClientSession) -> (String, Vec<ClientEvent>, Output<ClientEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => events.push(event),
            Output::StartTls => session.tls_established(),
            stop => return (String::from_utf8_lossy(&sent).into_owned(), events, stop),
        }
    }
}

/// The `BDAT` frames in `sent`: each chunk's declared size, whether it is the last,
/// and its octets (which must be exactly the declared size).
fn bdat_frames(sent: &str) -> Vec<(usize, bool, String)> {
    let mut frames = Vec::new();
    let mut rest = sent;
    while let Some(at) = rest.find("BDAT ") {
        let line_end = rest[at..].find("\r\n").expect("a BDAT line") + at;
        let mut words = rest[at + 5..line_end].split(' ');
        let size: usize = words.next().unwrap().parse().expect("a chunk size");
        let last = words.next() == Some("LAST");
        let chunk = &rest[line_end + 2..line_end + 2 + size];
        frames.push((size, last, chunk.to_string()));
        rest = &rest[line_end + 2 + size..];
    }
    frames
}

fn mail_line(sent: &str) -> &str {
    sent.lines().find(|line| line.starts_with("MAIL FROM:")).unwrap_or_else(|| panic!("no MAIL in {sent:?}"))
}

// ---------------------------------------------------------------------------------
// RFC 5321
// ---------------------------------------------------------------------------------

/// C-5321-2: the greeting name is a domain or an address literal, never a stand-in:
/// a name that does not parse (or has `_`) is a configuration error when the
/// configuration is built, and a good one is sent exactly as configured.
#[test]
fn the_ehlo_name_is_checked_when_the_configuration_is_built() {
    for bad in ["my_host.example", "two words.example", "", "host.example\r\nRCPT TO:<x@y>", "[192.0.2.256]"] {
        assert_eq!(
            ClientConfig::new(bad).build().unwrap_err(),
            ConfigError::Hostname(bad.into()),
            "{bad:?} must be refused, not replaced"
        );
    }
    for good in ["client.example.net", "[192.0.2.1]", "[IPv6:2001:db8::1]", "xn--bcher-kva.example"] {
        assert!(ClientConfig::new(good).build().is_ok(), "{good:?}");
    }
    let mut literal = ClientConfig::new("[192.0.2.1]");
    literal.starttls = TlsPolicy::Off;
    let run = converse(&literal, &[], &[GREETING, &ehlo(&["PIPELINING"]), BYE]);
    assert_eq!(run.sent(), "EHLO [192.0.2.1]\r\nQUIT\r\n");
}

/// C-5321-12: a connection lost in the middle of a transaction counts as a 451: the
/// message fails, and a retry can succeed. Nothing is sent after the end.
#[test]
fn a_connection_lost_mid_transaction_fails_the_message_transiently() {
    let script: [&[u8]; 4] =
        [GREETING, &ehlo(&["PIPELINING"]), b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n", b"250 2.0.0 Ok\r\n"];
    let messages = [
        (envelope("<a@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<a@example.net>", &["<c@example.org>"]), BODY),
    ];
    // Closed with the envelope in flight, then with the body's reply owed.
    for blocks in [2, 3] {
        let run = converse(&plain(), &messages, &script[..blocks]);
        for index in 0..2 {
            let failure = run.failure(index);
            assert_eq!(failure, &Failure::SessionEnded(CloseReason::Eof), "after {blocks} blocks");
            assert!(failure.is_transient());
        }
        assert_eq!(run.close_reason(), &CloseReason::Eof);
        assert!(!run.sent().contains("QUIT"), "nothing is sent to a closed connection");
    }
    // With BDAT too, the chunk's reply owed.
    let mut bdat = plain();
    bdat.prefer_bdat = true;
    let run = converse(
        &bdat,
        &messages[..1],
        &[GREETING, &ehlo(&["PIPELINING", "CHUNKING"]), b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"],
    );
    assert!(run.sent().ends_with("BDAT 0 LAST\r\n"), "{}", run.sent());
    assert_eq!(run.failure(0), &Failure::SessionEnded(CloseReason::Eof));
    assert!(run.failure(0).is_transient());
}

/// C-5321-19 (with RFC 1870, 3461, 4954, 6710, 4865 and 2852): MAIL and RCPT carry
/// only the parameters of extensions the server listed. Those that change nothing
/// about delivery are left out; `HOLDFOR` and `BY` fail the message before MAIL
/// instead; with every extension offered, everything goes.
#[test]
fn only_parameters_the_server_offered_are_sent() {
    let mut everything = envelope("<a@example.net>", &[]);
    everything.params =
        MailParameters::parse("SIZE=100 BODY=7BIT RET=FULL ENVID=abc AUTH=<> MT-PRIORITY=3 XFOO=1", false)
            .unwrap()
            .into_owned();
    everything.recipients.push((
        ForwardPath::parse("<b@example.org>").unwrap().into_owned(),
        RcptParameters::parse("NOTIFY=NEVER ORCPT=rfc822;b@example.org XRCPT=2", false).unwrap().into_owned(),
    ));
    let mut hold = envelope("<a@example.net>", &["<b@example.org>"]);
    hold.params = MailParameters::parse("HOLDFOR=3600", false).unwrap().into_owned();
    let mut by = envelope("<a@example.net>", &["<b@example.org>"]);
    by.params = MailParameters::parse("BY=3600;R", false).unwrap().into_owned();
    let messages = [(everything, BODY), (hold, BODY), (by, BODY)];
    let accepted: &[u8] = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n";

    // A server that offers none of them.
    let run = converse(&plain(), &messages, &[GREETING, &ehlo(&["PIPELINING"]), accepted, b"250 2.0.0 Ok\r\n", BYE]);
    assert_eq!(run.turns[2], "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    run.accepted(0);
    assert_eq!(run.failure(1), &Failure::Local(LocalFailure::NotOffered("FUTURERELEASE")));
    assert_eq!(run.failure(2), &Failure::Local(LocalFailure::NotOffered("DELIVERBY")));
    assert_eq!(run.sent().matches("MAIL FROM").count(), 1, "the refused messages send nothing");

    // A server that offers all of them.
    let all = ehlo(&[
        "PIPELINING",
        "SIZE 1000000",
        "8BITMIME",
        "DSN",
        "AUTH PLAIN",
        "MT-PRIORITY",
        "XFOO",
        "XRCPT",
        "FUTURERELEASE 604800 2030-01-01T00:00:00Z",
        "DELIVERBY 240",
    ]);
    let script: [&[u8]; 9] = [
        GREETING,
        &all,
        accepted,
        b"250 2.0.0 Ok\r\n",
        accepted,
        b"250 2.0.0 Ok\r\n",
        accepted,
        b"250 2.0.0 Ok\r\n",
        BYE,
    ];
    let run = converse(&plain(), &messages, &script);
    assert_eq!(
        run.turns[2],
        "MAIL FROM:<a@example.net> SIZE=100 BODY=7BIT RET=FULL ENVID=abc AUTH=<> MT-PRIORITY=3 XFOO=1\r\n\
         RCPT TO:<b@example.org> NOTIFY=NEVER ORCPT=rfc822;b@example.org XRCPT=2\r\nDATA\r\n"
    );
    assert_eq!(mail_line(&run.turns[4]), "MAIL FROM:<a@example.net> HOLDFOR=3600");
    assert_eq!(mail_line(&run.turns[6]), "MAIL FROM:<a@example.net> BY=3600;R");
    for index in 0..3 {
        run.accepted(index);
    }
}

/// C-5321-23, C-5321-24: QUIT ends every session the client ends, also after an
/// error reply, a reply that is not one, or a timeout; its reply is awaited (for the
/// QUIT timeout at most) before the connection closes.
#[test]
fn quit_is_answered_before_the_session_closes_after_an_error() {
    let client = config().build().unwrap();
    let timeouts = client.config().timeouts;
    for ending in ["a refused greeting", "a malformed reply", "a timeout"] {
        for answered in [true, false] {
            let mut session = ClientSession::new(&client);
            session.send(envelope("<a@example.net>", &["<b@example.org>"]));
            assert_eq!(waits_for(drain(&mut session).2), Some(timeouts.greeting));
            match ending {
                "a refused greeting" => session.handle_input(b"554 5.7.1 No SMTP service here\r\n"),
                _ => {
                    session.handle_input(GREETING);
                    assert_eq!(drain(&mut session).0, "EHLO client.example.net\r\n");
                    match ending {
                        "a malformed reply" => session.handle_input(b"HTTP/1.1 400 Bad Request\r\n"),
                        _ => session.handle_timeout(),
                    }
                }
            }
            let (sent, events, stop) = drain(&mut session);
            assert_eq!(sent, "QUIT\r\n", "after {ending}");
            assert_eq!(waits_for(stop), Some(timeouts.quit), "after {ending}, QUIT's reply is awaited");
            assert!(matches!(events.first(), Some(ClientEvent::Failed { .. })), "{events:?}");
            assert!(matches!(events.last(), Some(ClientEvent::Closed { .. })), "{events:?}");
            assert_eq!(waits_for(session.poll_output()), Some(timeouts.quit), "still waiting");
            match answered {
                true => session.handle_input(b"221 2.0.0 Bye\r\n"),
                false => session.handle_timeout(),
            }
            assert_eq!(drain(&mut session), (String::new(), Vec::new(), Output::Closed), "after {ending}");
        }
    }
}

/// C-5321-32: without PIPELINING, each command waits for the reply to the one
/// before: MAIL, each RCPT, DATA, the body, RSET, QUIT.
#[test]
fn without_pipelining_each_command_waits_for_its_reply() {
    let messages = [
        (envelope("<a@example.net>", &["<b@example.org>", "<c@example.org>"]), BODY),
        (envelope("<a@example.net>", &["<d@example.org>"]), BODY),
    ];
    let run = converse(
        &plain(),
        &messages,
        &[
            GREETING,
            &ehlo(&["8BITMIME", "ENHANCEDSTATUSCODES"]),
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"554 5.5.0 No thanks\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Ok\r\n",
            BYE,
        ],
    );
    let body = String::from_utf8_lossy(BODY);
    assert_eq!(
        run.turns,
        [
            String::new(),
            "EHLO client.example.net\r\n".into(),
            "MAIL FROM:<a@example.net>\r\n".into(),
            "RCPT TO:<b@example.org>\r\n".into(),
            "RCPT TO:<c@example.org>\r\n".into(),
            "DATA\r\n".into(),
            "RSET\r\n".into(),
            "MAIL FROM:<a@example.net>\r\n".into(),
            "RCPT TO:<d@example.org>\r\n".into(),
            "DATA\r\n".into(),
            format!("{body}.\r\n"),
            "QUIT\r\n".into(),
            String::new(),
        ]
    );
    assert!(matches!(run.failure(0), Failure::Rejected { stage: Stage::Data, .. }));
    run.accepted(1);
}

/// C-5321-27: an idle session says `Output::Idle`; `noop()` probes it with NOOP (only
/// once greeted, and only when nothing is in flight), and a later message goes on the
/// same connection; a `421` to the probe closes it as "reconnect", without QUIT, and a
/// message sent after that fails at once.
#[test]
fn an_idle_session_says_idle_and_noop_probes_it() {
    let client = plain().build().unwrap();
    let mut session = ClientSession::new(&client);
    assert!(!session.noop(), "no NOOP before the greeting");
    assert_eq!(waits_for(drain(&mut session).2), Some(client.config().timeouts.greeting));
    session.handle_input(GREETING);
    assert_eq!(drain(&mut session).0, "EHLO client.example.net\r\n");
    session.handle_input(&ehlo(&["PIPELINING"]));
    let (sent, events, stop) = drain(&mut session);
    assert_eq!((sent.as_str(), stop), ("", Output::Idle));
    assert!(matches!(events[..], [ClientEvent::Ready { .. }]), "{events:?}");
    assert!(session.noop());
    assert!(!session.noop(), "one probe at a time");
    assert!(matches!(drain(&mut session), (sent, _, Output::Wait(_)) if sent == "NOOP\r\n"));
    session.handle_input(b"250 2.0.0 Ok\r\n");
    assert_eq!(drain(&mut session), (String::new(), Vec::new(), Output::Idle));
    // Reused for a message.
    let message = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    assert!(!session.noop(), "not while a message is queued");
    let (sent, ..) = drain(&mut session);
    assert_eq!(sent, "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    session.handle_input(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n");
    let (_, events, _) = drain(&mut session);
    assert!(events.contains(&ClientEvent::BodyWanted { message }), "{events:?}");
    assert!(matches!(drain(&mut session).2, Output::Pending(pending) if pending.owed() > 0), "the body is owed");
    session.push_body(BODY).unwrap();
    session.end_body().unwrap();
    let (sent, ..) = drain(&mut session);
    assert!(sent.ends_with("Hi Bob.\r\n.\r\n"), "{sent}");
    session.handle_input(b"250 2.0.0 Ok: queued\r\n");
    let (_, events, stop) = drain(&mut session);
    assert!(matches!(events[..], [ClientEvent::Accepted { .. }]), "{events:?}");
    assert_eq!(stop, Output::Idle);
    // Probed, and the server is closing.
    assert!(session.noop());
    let _ = drain(&mut session);
    session.handle_input(b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n");
    let (sent, events, stop) = drain(&mut session);
    assert_eq!((sent.as_str(), stop), ("", Output::Closed), "no QUIT after a 421");
    match &events[..] {
        [ClientEvent::Closed { reason }] => {
            assert!(matches!(reason, CloseReason::Rejected(reply) if reply.code().get() == 421));
            assert!(reason.is_transient(), "reconnect");
        }
        other => panic!("{other:?}"),
    }
    let late = session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    assert!(
        matches!(session.poll_output(), Output::Event(ClientEvent::Failed { message, failure: Failure::SessionEnded(_) }) if message == late)
    );
    assert_eq!(session.poll_output(), Output::Closed);
}

// ---------------------------------------------------------------------------------
// RFC 1870, 2920, 3030
// ---------------------------------------------------------------------------------

/// C-1870-1: `SIZE=` goes only to a server that lists SIZE (with a limit or without).
#[test]
fn size_is_declared_only_to_a_server_that_offers_size() {
    let message = envelope("<a@example.net>", &["<b@example.org>"]).for_body(BODY);
    let mut declared = Vec::new();
    for keywords in [&["PIPELINING"][..], &["PIPELINING", "SIZE 1000000"], &["PIPELINING", "SIZE"]] {
        let run = converse(
            &plain(),
            &[(message.clone(), BODY)],
            &[GREETING, &ehlo(keywords), b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE],
        );
        run.accepted(0);
        declared.push(mail_line(&run.sent()).to_string());
    }
    let with_size = format!("MAIL FROM:<a@example.net> SIZE={}", BODY.len());
    assert_eq!(declared, ["MAIL FROM:<a@example.net>", &with_size, &with_size]);
}

/// C-2920-1: EHLO, DATA, QUIT and NOOP each end a group: nothing follows them before
/// their reply, even with PIPELINING (a message enqueued while NOOP is out waits).
#[test]
fn ehlo_data_quit_and_noop_each_end_a_group() {
    let messages = [
        (envelope("<a@example.net>", &["<b@example.org>", "<c@example.org>"]), BODY),
        (envelope("<a@example.net>", &["<d@example.org>"]), BODY),
    ];
    let group: &[u8] = b"250 Ok\r\n250 Ok\r\n250 Ok\r\n354 Go ahead\r\n";
    let run = converse(
        &plain(),
        &messages,
        &[
            GREETING,
            &ehlo(&["PIPELINING"]),
            group,
            b"250 Ok\r\n",
            b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n",
            b"250 Ok\r\n",
            BYE,
        ],
    );
    for turn in &run.turns {
        let lines: Vec<&str> = turn.split_inclusive("\r\n").collect();
        for (at, line) in lines.iter().enumerate() {
            let ends_group = line.starts_with("EHLO ") || ["DATA\r\n", "QUIT\r\n", "NOOP\r\n"].contains(line);
            assert!(
                !ends_group || at + 1 == lines.len(),
                "{line:?} is followed by {:?} before its reply",
                &lines[at + 1..]
            );
        }
    }
    assert_eq!(run.turns[1], "EHLO client.example.net\r\n");
    assert!(run.turns[2].ends_with("DATA\r\n") && run.turns[4].ends_with("DATA\r\n"), "{:?}", run.turns);
    run.accepted(0);
    run.accepted(1);

    // NOOP: a message enqueued behind it waits for its reply.
    let client = plain().build().unwrap();
    let mut session = ClientSession::new(&client);
    session.handle_input(GREETING);
    let _ = drain(&mut session);
    session.handle_input(&ehlo(&["PIPELINING"]));
    assert_eq!(drain(&mut session).2, Output::Idle);
    assert!(session.noop());
    session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    let (sent, _, stop) = drain(&mut session);
    assert_eq!(sent, "NOOP\r\n");
    assert!(matches!(stop, Output::Wait(_)), "{stop:?}");
    session.handle_input(b"250 2.0.0 Ok\r\n");
    assert_eq!(drain(&mut session).0, "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
}

/// C-3030-1: BDAT only with a server that lists CHUNKING; otherwise DATA, even when
/// BDAT is preferred.
#[test]
fn bdat_is_used_only_with_a_server_that_offers_chunking() {
    let mut config = plain();
    config.prefer_bdat = true;
    let message = [(envelope("<a@example.net>", &["<b@example.org>"]), BODY)];
    let run = converse(
        &config,
        &message,
        &[GREETING, &ehlo(&["PIPELINING"]), b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE],
    );
    assert!(run.turns[2].ends_with("DATA\r\n") && !run.sent().contains("BDAT"), "{}", run.sent());
    run.accepted(0);
    let run = converse(
        &config,
        &message,
        &[GREETING, &ehlo(&["PIPELINING", "CHUNKING"]), b"250 Ok\r\n250 Ok\r\n", b"250 Ok\r\n250 Ok\r\n", BYE],
    );
    assert!(!run.sent().contains("DATA"), "{}", run.sent());
    assert_eq!(
        bdat_frames(&run.sent()),
        [(BODY.len(), false, String::from_utf8_lossy(BODY).into_owned()), (0, true, String::new())]
    );
    run.accepted(0);
}

/// C-3030-3: once a chunk is refused, no further chunk goes (neither those pushed
/// before the refusal came, nor `BDAT 0 LAST`): the message fails at that chunk.
#[test]
fn no_bdat_chunk_follows_a_refused_one() {
    let body: &[u8] = b"first chunk\r\nsecond chunk\r\nthird chunk\r\n";
    let message = [(envelope("<a@example.net>", &["<b@example.org>"]), body)];
    let mut config = plain();
    config.prefer_bdat = true;
    // Without PIPELINING the second chunk waits, so it never goes.
    let run = converse_with(
        &config,
        &message,
        &[
            GREETING,
            &ehlo(&["CHUNKING"]),
            b"250 Ok\r\n",
            b"250 Ok\r\n",
            b"552 5.3.4 Message too big for system\r\n",
            BYE,
        ],
        13,
        true,
    );
    assert_eq!(run.turns[4..], ["BDAT 13\r\nfirst chunk\r\n", "QUIT\r\n", ""]);
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::Chunk, reply } => {
            assert_eq!(reply.code().get(), 552);
            assert!(!failure.is_transient());
        }
        other => panic!("{other:?}"),
    }
    // With PIPELINING the chunks already sent get their replies read; nothing else goes.
    let mut session = ClientSession::new(&config.clone().build().unwrap());
    session.send(message[0].0.clone());
    session.handle_input(GREETING);
    let _ = drain(&mut session);
    session.handle_input(&ehlo(&["PIPELINING", "CHUNKING"]));
    let _ = drain(&mut session);
    session.handle_input(b"250 Ok\r\n250 Ok\r\n");
    let (_, events, _) = drain(&mut session);
    assert!(matches!(events[..], [ClientEvent::Recipient { .. }, ClientEvent::BodyWanted { .. }]), "{events:?}");
    session.push_body(b"first chunk\r\n").unwrap();
    session.push_body(b"second chunk\r\n").unwrap();
    assert_eq!(drain(&mut session).0, "BDAT 13\r\nfirst chunk\r\nBDAT 14\r\nsecond chunk\r\n");
    session.handle_input(b"554 5.6.0 Content refused\r\n");
    let (sent, events, _) = drain(&mut session);
    assert_eq!((sent.as_str(), events.len()), ("", 0), "the second chunk's reply is still owed");
    assert_eq!(session.push_body(b"third chunk\r\n"), Err(ClientError::MessageRefused));
    assert_eq!(drain(&mut session).0, "", "no chunk after the refusal");
    session.end_body().unwrap();
    assert_eq!(drain(&mut session).0, "", "no BDAT LAST after the refusal");
    session.handle_input(b"503 5.5.1 Error: no transaction\r\n");
    let (sent, events, stop) = drain(&mut session);
    assert_eq!((sent.as_str(), stop), ("", Output::Idle));
    assert!(
        matches!(&events[..], [ClientEvent::Failed { failure: Failure::Rejected { stage: Stage::Chunk, reply }, .. }] if reply.code().get() == 554),
        "{events:?}"
    );
}

/// C-3030-3 (the API side): pushing more of a body whose chunk the server refused
/// says `ClientError::MessageRefused`, as `push_body`'s documentation promises, also
/// once the failure has been reported.
#[test]
fn push_body_after_a_refused_chunk_says_message_refused() {
    let mut config = plain();
    config.prefer_bdat = true;
    let mut session = ClientSession::new(&config.build().unwrap());
    session.send(envelope("<a@example.net>", &["<b@example.org>"]));
    for reply in [GREETING, &ehlo(&["CHUNKING"]), b"250 Ok\r\n"] {
        session.handle_input(reply);
        let _ = drain(&mut session);
    }
    session.handle_input(b"250 Ok\r\n");
    let (_, events, _) = drain(&mut session);
    assert!(matches!(events.last(), Some(ClientEvent::BodyWanted { .. })), "{events:?}");
    session.push_body(b"first chunk\r\n").unwrap();
    assert_eq!(drain(&mut session).0, "BDAT 13\r\nfirst chunk\r\n");
    session.handle_input(b"552 5.3.4 Message too big for system\r\n");
    let (sent, events, _) = drain(&mut session);
    assert_eq!(sent, "");
    assert!(matches!(events[..], [ClientEvent::Failed { .. }]), "{events:?}");
    // Failed before the fix: once the refused transaction has been reported it is dropped, and
    // `push_body` says `NoBodyWanted` instead of the documented `MessageRefused`
    // (which the application needs to tell "stop streaming" from its own misuse).
    assert_eq!(session.push_body(b"second chunk\r\n"), Err(ClientError::MessageRefused));
    assert_eq!(drain(&mut session).0, "", "no chunk after the refusal");
}

/// C-3030-4: after a refused BDAT, RSET goes before the next transaction's MAIL.
#[test]
fn a_refused_bdat_transaction_is_reset_before_the_next_message() {
    let mut config = plain();
    config.prefer_bdat = true;
    let messages = [
        (envelope("<a@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<a@example.net>", &["<c@example.org>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            GREETING,
            &ehlo(&["CHUNKING"]),
            b"250 Ok\r\n",
            b"250 Ok\r\n",
            b"451 4.3.0 Temporary failure, try again\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 Ok\r\n",
            b"250 Ok\r\n",
            b"250 Ok\r\n",
            b"250 Ok: queued\r\n",
            BYE,
        ],
    );
    let body = String::from_utf8_lossy(BODY);
    assert_eq!(
        run.turns[4..10],
        [
            format!("BDAT {}\r\n{body}", BODY.len()),
            "RSET\r\n".into(),
            "MAIL FROM:<a@example.net>\r\n".into(),
            "RCPT TO:<c@example.org>\r\n".into(),
            format!("BDAT {}\r\n{body}", BODY.len()),
            "BDAT 0 LAST\r\n".into(),
        ]
    );
    assert!(run.failure(0).is_transient());
    run.accepted(1);
}

/// C-3030-5: text sent with BDAT is canonical: bare CR and bare LF go as CRLF (also
/// across the pieces the application pushes), and each chunk's size counts what goes;
/// a `BINARYMIME` body goes octet for octet.
#[test]
fn bdat_text_goes_in_canonical_form_unless_binarymime() {
    let mut config = plain();
    config.prefer_bdat = true;
    let server = ehlo(&["PIPELINING", "CHUNKING", "8BITMIME", "BINARYMIME"]);
    // One block per reply, as many as any chunking needs: the one after QUIT's is unused.
    let script: Vec<&[u8]> =
        [GREETING, &server, b"250 Ok\r\n250 Ok\r\n"].into_iter().chain([&b"250 Ok\r\n"[..]; 64]).collect();
    let text: &[u8] = b"line one\nline two\rline three\r\n.line four\r";
    for piece in [usize::MAX, 1, 4, 9] {
        let run =
            converse_with(&config, &[(envelope("<a@example.net>", &["<b@example.org>"]), text)], &script, piece, true);
        let frames = bdat_frames(&run.sent());
        let sent: String = frames.iter().map(|(_, _, chunk)| chunk.as_str()).collect();
        assert_eq!(sent, "line one\r\nline two\r\nline three\r\n.line four\r\n", "pushed in pieces of {piece}");
        assert!(frames.iter().all(|(size, _, chunk)| *size == chunk.len()));
        assert_eq!(frames.iter().filter(|(_, last, _)| *last).count(), 1);
        assert!(frames.last().is_some_and(|(_, last, _)| *last));
    }
    let binary: &[u8] = b"\x00\nbare\rcr\r\r\n.dot\n\x7f\r";
    let mut message = envelope("<a@example.net>", &["<b@example.org>"]);
    message.params = MailParameters::parse("BODY=BINARYMIME", false).unwrap().into_owned();
    for piece in [usize::MAX, 1, 3] {
        let run = converse_with(&config, &[(message.clone(), binary)], &script, piece, true);
        assert_eq!(mail_line(&run.sent()), "MAIL FROM:<a@example.net> BODY=BINARYMIME");
        let sent: String = bdat_frames(&run.sent()).iter().map(|(_, _, chunk)| chunk.as_str()).collect();
        // Failed before the fix: a BINARYMIME body is encoded with `DataEncoder::raw()`, which stuffs
        // dots (`.dot` goes as `..dot`) and ends with DATA's `CRLF . CRLF` inside the
        // last chunk: the server gets a different body. BDAT bodies are never stuffed.
        assert_eq!(sent.as_bytes(), binary, "pushed in pieces of {piece}");
    }
}

/// C-3030-6: BDAT and DATA do not mix: a body sent by BDAT carries none of DATA's
/// framing (no stuffed dots, no `.` line), also when line endings are left alone
/// (`normalize_line_endings: false`, for a body known to be canonical).
#[test]
fn bdat_bodies_are_never_dot_stuffed_nor_dot_terminated() {
    let body: &[u8] = b"Subject: dots\r\n\r\n.one\r\n.\r\n..two\r\n";
    for normalize in [true, false] {
        let mut config = plain();
        config.prefer_bdat = true;
        config.normalize_line_endings = normalize;
        let run = converse(
            &config,
            &[(envelope("<a@example.net>", &["<b@example.org>"]), body)],
            &[GREETING, &ehlo(&["PIPELINING", "CHUNKING"]), b"250 Ok\r\n250 Ok\r\n", b"250 Ok\r\n250 Ok\r\n", BYE],
        );
        // Failed before the fix (normalize: false): the body is encoded with `DataEncoder::raw()`, made
        // for DATA: `.one` goes as `..one` and the last chunk holds `.\r\n`.
        assert_eq!(
            run.turns[3],
            format!("BDAT {}\r\n{}BDAT 0 LAST\r\n", body.len(), String::from_utf8_lossy(body)),
            "normalize_line_endings: {normalize}"
        );
        run.accepted(0);
    }
}

/// C-3030-7: without PIPELINING, each chunk (the last included) waits for the `250`
/// to the chunk before.
#[test]
fn without_pipelining_each_bdat_chunk_waits_for_its_reply() {
    let mut config = plain();
    config.prefer_bdat = true;
    let body: &[u8] = b"aaaa\r\nbbbb\r\ncccc\r\n";
    let run = converse_with(
        &config,
        &[(envelope("<a@example.net>", &["<b@example.org>"]), body)],
        &[
            GREETING,
            &ehlo(&["CHUNKING", "8BITMIME"]),
            b"250 Ok\r\n",
            b"250 Ok\r\n",
            b"250 6 octets\r\n",
            b"250 6 octets\r\n",
            b"250 6 octets\r\n",
            b"250 Ok: queued\r\n",
            BYE,
        ],
        6,
        true,
    );
    assert_eq!(
        run.turns[2..],
        [
            "MAIL FROM:<a@example.net>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "BDAT 6\r\naaaa\r\n",
            "BDAT 6\r\nbbbb\r\n",
            "BDAT 6\r\ncccc\r\n",
            "BDAT 0 LAST\r\n",
            "QUIT\r\n",
            "",
        ]
    );
    run.accepted(0);
}

/// C-3030-8: `BODY=BINARYMIME` only to a server listing both BINARYMIME and CHUNKING
/// (otherwise the message fails before MAIL), and its body goes by BDAT, never DATA,
/// whether or not BDAT is preferred.
#[test]
fn binarymime_goes_by_bdat_and_only_to_a_server_that_offers_it() {
    let mut message = envelope("<a@example.net>", &["<b@example.org>"]);
    message.params = MailParameters::parse("BODY=BINARYMIME", false).unwrap().into_owned();
    let messages = [(message, &b"\x00binary\n"[..])];
    for keywords in [&["PIPELINING", "CHUNKING"][..], &["PIPELINING", "BINARYMIME"], &["PIPELINING", "8BITMIME"]] {
        let run = converse(&plain(), &messages, &[GREETING, &ehlo(keywords), BYE]);
        assert_eq!(run.failure(0), &Failure::Local(LocalFailure::NeedsBinaryMime), "{keywords:?}");
        assert!(!run.failure(0).is_transient());
        assert_eq!(run.sent(), "EHLO client.example.net\r\nQUIT\r\n");
    }
    let run = converse(
        &plain(),
        &messages,
        &[
            GREETING,
            &ehlo(&["PIPELINING", "CHUNKING", "BINARYMIME"]),
            b"250 Ok\r\n250 Ok\r\n",
            b"250 Ok\r\n250 Ok\r\n",
            BYE,
        ],
    );
    assert_eq!(run.turns[2], "MAIL FROM:<a@example.net> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\n");
    // Failed before the fix: `end_body` puts DATA's end-of-data line (`CRLF . CRLF`) into the last
    // chunk of a BINARYMIME body (`BDAT 5 LAST` holding `\r\n.\r\n`), see
    // `bdat_text_goes_in_canonical_form_unless_binarymime`.
    assert_eq!(run.turns[3], "BDAT 8\r\n\x00binary\nBDAT 0 LAST\r\n");
    assert!(!run.sent().contains("DATA"));
    run.accepted(0);
}

// ---------------------------------------------------------------------------------
// RFC 3207, 4954, 7628
// ---------------------------------------------------------------------------------

/// C-3207-4: no STARTTLS over TLS: not on an implicit-TLS connection, and not again
/// when the post-TLS EHLO (wrongly) lists STARTTLS once more.
#[test]
fn starttls_is_never_sent_while_tls_is_active() {
    let accepted: &[&[u8]] = &[b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE];
    let message = [(envelope("<a@example.net>", &["<b@example.org>"]), BODY)];
    let offers = ehlo(&["PIPELINING", "STARTTLS"]);
    let mut implicit = config();
    implicit.implicit_tls = true;
    let run = converse(&implicit, &message, &[&[GREETING, &offers][..], accepted].concat());
    assert!(!run.sent().contains("STARTTLS"), "{}", run.sent());
    assert!(run.ready().1, "over TLS");
    run.accepted(0);
    let mut required = config();
    required.starttls = TlsPolicy::Required;
    let run = converse(
        &required,
        &message,
        &[&[GREETING, &offers, b"220 2.0.0 Ready to start TLS\r\n", &offers][..], accepted].concat(),
    );
    assert_eq!(run.sent().matches("STARTTLS").count(), 1, "{}", run.sent());
    assert_eq!(run.turns[4], "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    run.accepted(0);
}

/// C-4954-2: an initial response that would make the AUTH line longer than 512
/// octets goes after the server's empty `334` instead (here PLAIN at 509 and 513
/// octets, and OAUTHBEARER with a long token).
#[test]
fn an_initial_response_too_long_for_the_auth_line_goes_after_the_334() {
    let authenticated: &[&[u8]] = &[b"235 2.7.0 Authentication successful\r\n", BYE];
    for (length, inline) in [(369, true), (372, false)] {
        let mut config = config();
        config.implicit_tls = true;
        config.credentials = Some(ClientCredentials::Password { username: "u".into(), password: "p".repeat(length) });
        let response = b64(&format!("\0u\0{}", "p".repeat(length)));
        let line = format!("AUTH PLAIN {response}\r\n");
        assert_eq!(line.len(), if inline { 509 } else { 513 });
        let run = match inline {
            true => converse(&config, &[], &[&[GREETING, &ehlo(&["AUTH PLAIN LOGIN"])][..], authenticated].concat()),
            false => converse(
                &config,
                &[],
                &[&[GREETING, &ehlo(&["AUTH PLAIN LOGIN"]), b"334 \r\n"][..], authenticated].concat(),
            ),
        };
        match inline {
            true => assert_eq!(run.turns[2], line),
            false => assert_eq!(run.turns[2..4], ["AUTH PLAIN\r\n".to_string(), format!("{response}\r\n")]),
        }
        assert!(run.turns.iter().all(|turn| turn.lines().all(|l| !l.starts_with("AUTH") || l.len() + 2 <= 512)));
        assert!(run.ready().2, "authenticated");
    }
    let mut config = config();
    config.implicit_tls = true;
    let token = "T".repeat(600);
    config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: token.clone() });
    let run =
        converse(&config, &[], &[&[GREETING, &ehlo(&["AUTH OAUTHBEARER"]), b"334 \r\n"][..], authenticated].concat());
    let response = b64(&format!("n,a=alice@example.net,\x01auth=Bearer {token}\x01\x01"));
    assert_eq!(run.turns[2..4], ["AUTH OAUTHBEARER\r\n".to_string(), format!("{response}\r\n")]);
    assert!(run.ready().2);
}

/// C-4954-4: AUTH once: after it succeeded no AUTH follows, however many messages go.
#[test]
fn auth_is_not_repeated_after_it_succeeded() {
    let mut config = config();
    config.implicit_tls = true;
    password(&mut config);
    let accepted: &[&[u8]] = &[b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n"];
    let messages = [
        (envelope("<alice@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<c@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<d@example.org>"]), BODY),
    ];
    let offer = ehlo(&["PIPELINING", "AUTH PLAIN LOGIN"]);
    let script = [&[GREETING, &offer, b"235 2.7.0 Accepted\r\n"][..], accepted, accepted, accepted, &[BYE]].concat();
    let run = converse(&config, &messages, &script);
    assert_eq!(run.sent().matches("AUTH").count(), 1, "{}", run.sent());
    for index in 0..3 {
        run.accepted(index);
    }
}

/// C-4954-5: a challenge that is not strict base64 (a character outside the
/// alphabet, `=` not at the end) is cancelled with `*`; the server's reply to the
/// cancellation ends AUTH, and (AUTH being required) the session.
#[test]
fn an_undecodable_challenge_is_cancelled_with_a_star() {
    for (mechanism, challenge) in [
        ("XOAUTH2", &b"334 not base64 at all!\r\n"[..]),
        ("XOAUTH2", b"334 =AAA\r\n"),
        ("OAUTHBEARER", b"334 AAA=BBBB\r\n"),
        ("OAUTHBEARER", b"334 eyJzdGF0dXMiOiI0MDEifQ\r\n"),
    ] {
        let mut config = config();
        config.implicit_tls = true;
        config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: "t0k".into() });
        let run = converse(
            &config,
            &[(envelope("<alice@example.net>", &["<b@example.org>"]), BODY)],
            &[
                GREETING,
                &ehlo(&[&format!("AUTH {mechanism}")]),
                challenge,
                b"501 5.7.0 Authentication cancelled\r\n",
                BYE,
            ],
        );
        assert!(run.turns[2].starts_with(&format!("AUTH {mechanism} ")), "{:?}", run.turns);
        assert_eq!(run.turns[3], "*\r\n", "{mechanism} {:?}", String::from_utf8_lossy(challenge));
        assert_eq!(run.turns[4], "QUIT\r\n");
        assert!(matches!(run.failure(0), Failure::AuthFailed(Some(reply)) if reply.code().get() == 501));
    }
}

/// C-4954-5 for LOGIN: a prompt that is not base64 (`334 Username:` in plain text,
/// which a few servers send) is cancelled with `*`, not answered with the user name.
#[test]
fn a_login_prompt_that_is_not_base64_is_cancelled_with_a_star() {
    let mut config = config();
    config.implicit_tls = true;
    password(&mut config);
    config.mechanisms = vec![Mechanism::Login];
    let run = converse(
        &config,
        &[],
        &[GREETING, &ehlo(&["AUTH LOGIN"]), b"334 Username:\r\n", b"501 5.7.0 Authentication cancelled\r\n", BYE],
    );
    assert_eq!(run.turns[2], "AUTH LOGIN\r\n");
    // Failed before the fix: the LOGIN steps answer any 334 without decoding it, so the user name goes;
    // RFC 4954 section 4: a client that cannot decode a challenge MUST cancel with `*`.
    assert_eq!(run.turns[3], "*\r\n");
    assert!(matches!(run.close_reason(), CloseReason::AuthFailed(Some(reply)) if reply.code().get() == 501));
}

/// C-4954-10: a client configured to authenticate sends no mail when AUTH fails or
/// cannot be tried: refused, not offered, no mechanism in common, no TLS for the
/// password, an EHLO-less server. Every message fails; only with `auth_optional`
/// does mail go unauthenticated.
#[test]
fn a_client_that_must_authenticate_sends_no_mail_when_auth_fails() {
    let messages = [
        (envelope("<alice@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<c@example.org>"]), BODY),
    ];
    // Over TLS or not, what the server offers, its answer, and the refusal expected.
    let cases = [
        (
            true,
            ehlo(&["PIPELINING", "AUTH PLAIN"]),
            &b"535 5.7.8 Authentication credentials invalid\r\n"[..],
            Some(535),
        ),
        (true, ehlo(&["PIPELINING"]), BYE, None),
        (true, ehlo(&["PIPELINING", "AUTH CRAM-MD5 GSSAPI"]), BYE, None),
        (false, ehlo(&["PIPELINING", "AUTH PLAIN LOGIN"]), BYE, None),
    ];
    for (tls, offer, answer, code) in cases {
        let mut config = plain();
        config.implicit_tls = tls;
        password(&mut config);
        let run = converse(&config, &messages, &[GREETING, &offer, answer, BYE]);
        let sent = run.sent();
        assert!(!sent.contains("MAIL") && sent.ends_with("QUIT\r\n"), "{sent}");
        for index in 0..2 {
            match run.failure(index) {
                Failure::AuthFailed(reply) => assert_eq!(reply.as_ref().map(|reply| reply.code().get()), code),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(run.close_reason(), CloseReason::AuthFailed(_)));
    }
    // A server that does not know EHLO cannot authenticate: no HELO, no MAIL.
    let mut config = plain();
    config.implicit_tls = true;
    password(&mut config);
    let run = converse(&config, &messages, &[GREETING, b"502 5.5.1 Command not implemented\r\n", BYE]);
    assert_eq!(run.sent(), "EHLO client.example.net\r\nQUIT\r\n");
    assert!(
        matches!(run.outcome(0), ClientEvent::Failed { .. }) && matches!(run.outcome(1), ClientEvent::Failed { .. })
    );
    // Opted in: the refusal is reported and mail goes unauthenticated.
    config.auth_optional = true;
    let run = converse(
        &config,
        &messages[..1],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "AUTH PLAIN"]),
            b"535 5.7.8 Authentication credentials invalid\r\n",
            b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n",
            b"250 Ok\r\n",
            BYE,
        ],
    );
    assert!(
        matches!(&run.events[0], ClientEvent::AuthFailed { reply: Some(reply) } if reply.code().get() == 535),
        "{:?}",
        run.events
    );
    assert!(!run.ready().2, "not authenticated");
    run.accepted(0);
}

/// C-7628-1: OAUTHBEARER's error challenge (a JSON status in base64) is answered with a
/// single `%x01`, `AQ==`; the server's final reply then decides.
#[test]
fn the_oauthbearer_error_challenge_is_answered_with_0x01() {
    let mut config = config();
    config.implicit_tls = true;
    config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: "t0k".into() });
    let challenge = format!("334 {}\r\n", b64(r#"{"status":"invalid_token","scope":"mail","schemes":"bearer"}"#));
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<b@example.org>"]), BODY)],
        &[GREETING, &ehlo(&["AUTH OAUTHBEARER"]), challenge.as_bytes(), b"535 5.7.8 Token expired\r\n", BYE],
    );
    let response = b64("n,a=alice@example.net,\x01auth=Bearer t0k\x01\x01");
    assert_eq!(run.turns[2..5], [format!("AUTH OAUTHBEARER {response}\r\n"), "AQ==\r\n".into(), "QUIT\r\n".into()]);
    assert!(matches!(run.failure(0), Failure::AuthFailed(Some(reply)) if reply.code().get() == 535));
}

/// C-4954-6: a challenge longer than a reply line may be (here a 1.4 KB OAUTHBEARER error
/// document) is read, and answered.
#[test]
fn a_challenge_longer_than_a_reply_line_is_answered() {
    let mut config = config();
    config.implicit_tls = true;
    config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: "t0k".into() });
    let document = format!(r#"{{"status":"invalid_token","scope":"{}","schemes":"bearer"}}"#, "mail ".repeat(200));
    let challenge = format!("334 {}\r\n", b64(&document));
    assert!(challenge.len() > 1024);
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<b@example.org>"]), BODY)],
        &[GREETING, &ehlo(&["AUTH OAUTHBEARER"]), challenge.as_bytes(), b"535 5.7.8 Token expired\r\n", BYE],
    );
    assert_eq!(run.turns[3..5], ["AQ==\r\n".to_string(), "QUIT\r\n".into()]);
    assert!(matches!(run.failure(0), Failure::AuthFailed(Some(reply)) if reply.code().get() == 535));
}

// ---------------------------------------------------------------------------------
// RFC 6531, 6152, 3461, 8689
// ---------------------------------------------------------------------------------

/// C-6531-3: a message that needs SMTPUTF8 (the application says so: its headers are
/// internationalized) does not go to a server without SMTPUTF8; it fails before MAIL.
#[test]
fn a_message_that_needs_smtputf8_fails_with_a_server_without_it() {
    let mut message = envelope("<a@example.net>", &["<b@example.org>"]);
    message.params.smtputf8 = true;
    let body = "Subject: gr\u{fc}\u{df}e\r\n\r\nHi\r\n".as_bytes();
    let run = converse(
        &plain(),
        &[(message, body)],
        &[GREETING, &ehlo(&["PIPELINING", "8BITMIME"]), b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE],
    );
    // Failed before the fix: an application-set `SMTPUTF8` is dropped for a server that does not offer
    // it and the message goes; issue 10 ("fail before MAIL ... SMTPUTF8 when an address
    // or the message needs it") and RFC 6531 section 3.2 ask for a local failure.
    assert_eq!(run.failure(0), &Failure::Local(LocalFailure::NeedsSmtpUtf8));
    assert_eq!(run.sent(), "EHLO client.example.net\r\nQUIT\r\n");
}

/// C-6531-5: `SMTPUTF8` (with no value) goes on MAIL when the envelope or the message
/// needs it, to a server that offers it; not otherwise (C-6531-6).
#[test]
fn smtputf8_is_added_when_the_envelope_or_message_needs_it() {
    let server = ehlo(&["PIPELINING", "8BITMIME", "SMTPUTF8"]);
    let mut headers = envelope("<a@example.net>", &["<b@example.org>"]);
    headers.params.smtputf8 = true;
    for (message, expected) in [
        (envelope("<a@example.net>", &["<j\u{f6}rg@example.org>"]), "MAIL FROM:<a@example.net> SMTPUTF8"),
        (envelope("<j\u{f6}rg@example.net>", &["<b@example.org>"]), "MAIL FROM:<j\u{f6}rg@example.net> SMTPUTF8"),
        (headers, "MAIL FROM:<a@example.net> SMTPUTF8"),
        (envelope("<a@example.net>", &["<b@example.org>"]), "MAIL FROM:<a@example.net>"),
    ] {
        let run = converse(
            &plain(),
            &[(message, BODY)],
            &[GREETING, &server, b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE],
        );
        assert_eq!(mail_line(&run.sent()), expected);
        run.accepted(0);
    }
}

/// C-6152-1: an 8-bit body is announced with `BODY=8BITMIME`, once, even when the
/// application also put a `BODY` among its other parameters.
#[test]
fn an_eight_bit_body_is_announced_with_one_body_parameter() {
    let body = "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n".as_bytes();
    let plain_message = envelope("<a@example.net>", &["<b@example.org>"]).for_body(body);
    let mut doubled = plain_message.clone();
    doubled.params.other.push(Parameter { keyword: "BODY".into(), value: Some("8BITMIME".into()) });
    for message in [plain_message, doubled] {
        let run = converse(
            &plain(),
            &[(message, body)],
            &[
                GREETING,
                &ehlo(&["PIPELINING", "8BITMIME", "SIZE 1000000"]),
                b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n",
                b"250 Ok\r\n",
                BYE,
            ],
        );
        assert_eq!(mail_line(&run.sent()), format!("MAIL FROM:<a@example.net> SIZE={} BODY=8BITMIME", body.len()));
        run.accepted(0);
    }
}

/// C-6152-2: a server without 8BITMIME gets no 8-bit content: the message fails
/// before MAIL, for good (sending it again to the same server cannot succeed).
#[test]
fn an_eight_bit_body_fails_permanently_without_8bitmime() {
    let body = "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n".as_bytes();
    let run = converse(
        &plain(),
        &[(envelope("<a@example.net>", &["<b@example.org>"]).for_body(body), body)],
        &[GREETING, &ehlo(&["PIPELINING", "SIZE 1000000"]), BYE],
    );
    assert_eq!(run.failure(0), &Failure::Local(LocalFailure::NeedsEightBitMime));
    assert!(!run.failure(0).is_transient());
    assert_eq!(run.sent(), "EHLO client.example.net\r\nQUIT\r\n");
}

fn dsn_message() -> Envelope {
    let mut message = envelope("<a@example.net>", &[]);
    message.params = MailParameters::parse("RET=HDRS ENVID=QQ314159", false).unwrap().into_owned();
    message.recipients.push((
        ForwardPath::parse("<b@example.org>").unwrap().into_owned(),
        RcptParameters::parse("NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.org", false).unwrap().into_owned(),
    ));
    message
}

/// C-3461-1: NOTIFY, ORCPT, RET and ENVID go only to a server that lists DSN.
#[test]
fn dsn_parameters_go_only_to_a_server_that_offers_dsn() {
    let accepted: &[&[u8]] = &[b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE];
    let without =
        converse(&plain(), &[(dsn_message(), BODY)], &[&[GREETING, &ehlo(&["PIPELINING"])][..], accepted].concat());
    assert_eq!(without.turns[2], "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    without.accepted(0);
    let with = converse(
        &plain(),
        &[(dsn_message(), BODY)],
        &[&[GREETING, &ehlo(&["PIPELINING", "DSN"])][..], accepted].concat(),
    );
    assert_eq!(
        with.turns[2],
        "MAIL FROM:<a@example.net> RET=HDRS ENVID=QQ314159\r\nRCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.org\r\nDATA\r\n"
    );
    with.accepted(0);
}

/// C-3461-3: each DSN parameter at most once per command, even when the application
/// also put one among its other parameters.
#[test]
fn each_dsn_parameter_goes_at_most_once() {
    let mut message = dsn_message();
    let extra =
        |keyword: &'static str, value: &'static str| Parameter { keyword: keyword.into(), value: Some(value.into()) };
    message.params.other.extend([extra("RET", "FULL"), extra("ENVID", "other")]);
    message.recipients[0].1.other.extend([extra("NOTIFY", "NEVER"), extra("ORCPT", "rfc822;c@example.org")]);
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[GREETING, &ehlo(&["PIPELINING", "DSN"]), b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE],
    );
    let sent = run.sent();
    let rcpt = sent.lines().find(|line| line.starts_with("RCPT TO:")).unwrap();
    for (line, keyword) in
        [(mail_line(&sent), "RET="), (mail_line(&sent), "ENVID="), (rcpt, "NOTIFY="), (rcpt, "ORCPT=")]
    {
        assert_eq!(line.matches(keyword).count(), 1, "{keyword} in {line:?}");
    }
    run.accepted(0);
}

/// C-8689-1: a `REQUIRETLS` message goes only over TLS, to a server whose EHLO after
/// TLS lists REQUIRETLS; otherwise it fails before MAIL (what the server said before
/// TLS counts for nothing).
#[test]
fn requiretls_goes_only_over_tls_to_a_server_that_offers_it() {
    let mut message = envelope("<a@example.net>", &["<b@example.org>"]);
    message.params.requiretls = true;
    let messages = [(message, BODY)];
    let ready_tls: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";
    let accepted: &[&[u8]] = &[b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n", b"250 Ok\r\n", BYE];
    // In plaintext: never, whether TLS is off or merely not offered.
    let offers = ehlo(&["PIPELINING", "REQUIRETLS"]);
    for config in [plain(), config()] {
        let run = converse(&config, &messages, &[GREETING, &offers, BYE]);
        assert_eq!(run.failure(0), &Failure::Local(LocalFailure::NeedsRequireTls));
        assert_eq!(run.sent(), "EHLO client.example.net\r\nQUIT\r\n");
    }
    // Over TLS, to a server whose post-TLS EHLO does not list it: never.
    let before = ehlo(&["PIPELINING", "STARTTLS", "REQUIRETLS"]);
    let run = converse(&config(), &messages, &[GREETING, &before, ready_tls, &ehlo(&["PIPELINING"]), BYE]);
    assert_eq!(run.failure(0), &Failure::Local(LocalFailure::NeedsRequireTls));
    assert!(!run.sent().contains("MAIL"), "{}", run.sent());
    // Over TLS to a server that lists it: it goes, with REQUIRETLS.
    let script = [&[GREETING, &before, ready_tls, &offers][..], accepted].concat();
    let run = converse(&config(), &messages, &script);
    assert_eq!(run.turns[4], "MAIL FROM:<a@example.net> REQUIRETLS\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    run.accepted(0);
}

// RFC 5321 section 4.5.3.1.10 (C-5321-39): a 552 to RCPT for too many recipients is
// treated as the 452 it should have been.
#[test]
fn a_552_to_rcpt_counts_as_temporary() {
    use smtp_sansio::Reply;
    use smtp_sansio::ReplyCode;
    use smtp_sansio::client::Failure;
    let too_many = Reply::new(ReplyCode::EXCEEDED_STORAGE, "5.5.3 Too many recipients");
    assert!(Failure::NoRecipients { replies: vec![too_many.clone()] }.is_transient());
    let unknown = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user");
    assert!(!Failure::NoRecipients { replies: vec![too_many, unknown] }.is_transient());
}

// RFC 1870 section 6 (C-1870-2): the declared size is not below what goes: bare line
// endings count as CRLF, and a missing final CRLF is counted.
#[test]
fn the_declared_size_is_that_of_the_message_as_it_goes() {
    let size = |body: &[u8]| envelope("<a@example.net>", &["<b@example.org>"]).for_body(body).params.size;
    assert_eq!(size(b"a\r\nb\r\n"), Some(6));
    assert_eq!(size(b"a\nb\n"), Some(6));
    assert_eq!(size(b"a\rb"), Some(6));
    assert_eq!(size(b"no final newline"), Some(18));
    assert_eq!(size(b""), Some(0));
}

/// The timeout of a wait that starts the timer afresh (every wait of a client does).
fn waits_for<E>(output: Output<E>) -> Option<std::time::Duration> {
    match output {
        Output::Wait(wait) if wait.restarts() => Some(wait.timeout()),
        _ => None,
    }
}
