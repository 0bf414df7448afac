//! XCLIENT and XFORWARD in the server session (issue 11; Postfix's XCLIENT_README and
//! XFORWARD_README): offered to, and taken from, a peer the application trusts only.
//! Each conversation is fed whole, byte by byte and cut at every point, by a client
//! that waits for the replies it must wait for.

mod support;

use smtp_sansio::Output;
use smtp_sansio::sasl::Mechanism;
use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
use smtp_sansio::wire::{AttributeValue, ClientAttributes};
use support::manual::drain_accepting;

const GREETING: &str = "220 mx.example.org ESMTP ready\r\n";

/// Each of `reads` handed over once the session waits, cut in two at `cut` (or whole);
/// returns the replies to each read and every event.
fn converse(config: &ServerConfig, trusted: bool, reads: &[&[u8]], cut: usize) -> (Vec<String>, Vec<ServerEvent>) {
    let mut session = ServerSession::new(&config.clone().build().unwrap());
    if trusted {
        session.trust_proxy();
    }
    let first = drain_accepting(&mut session);
    assert_eq!(first.sent, GREETING);
    let (mut replies, mut events) = (Vec::new(), first.events);
    for read in reads {
        let pieces: Vec<&[u8]> = match cut {
            0 => vec![read],
            cut if cut < read.len() => vec![&read[..cut], &read[cut..]],
            _ => read.chunks(1).collect(),
        };
        let mut sent = String::new();
        for piece in pieces {
            session.handle_input(piece);
            let drained = drain_accepting(&mut session);
            sent.push_str(&drained.sent);
            events.extend(drained.events);
            if let Output::Closed = drained.stop {
                break;
            }
        }
        replies.push(sent);
    }
    (replies, events)
}

/// The same conversation under every cutting gives the same replies and events.
fn every_cutting(config: &ServerConfig, trusted: bool, reads: &[&[u8]]) -> (Vec<String>, Vec<ServerEvent>) {
    // Events are compared as shown: tickets name their session, which differs.
    let shown = |(replies, events): &(Vec<String>, Vec<ServerEvent>)| (replies.clone(), format!("{events:?}"));
    let whole = converse(config, trusted, reads, 0);
    let longest = reads.iter().map(|read| read.len()).max().unwrap_or(0);
    for cut in 1..=longest + 1 {
        assert_eq!(shown(&converse(config, trusted, reads, cut)), shown(&whole), "cut at {cut}");
    }
    whole
}

fn config() -> ServerConfig {
    ServerConfig::new("mx.example.org")
}

#[test]
fn xclient_and_xforward_are_offered_only_to_a_trusted_peer() {
    let (trusted, _) = every_cutting(&config(), true, &[b"EHLO proxy.example\r\n"]);
    assert!(
        trusted[0].contains("250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT REVERSE_NAME\r\n"),
        "{}",
        trusted[0]
    );
    assert!(trusted[0].contains("XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n"), "{}", trusted[0]);
    let (untrusted, _) = every_cutting(&config(), false, &[b"EHLO client.example\r\n"]);
    assert!(!untrusted[0].contains("XCLIENT") && !untrusted[0].contains("XFORWARD"), "{}", untrusted[0]);
}

#[test]
fn an_untrusted_peer_is_refused_and_nothing_changes() {
    let (replies, events) = every_cutting(
        &config(),
        false,
        &[
            b"EHLO client.example\r\n",
            b"XCLIENT NAME=spoofed.example ADDR=192.0.2.7\r\n",
            b"XFORWARD ADDR=192.0.2.7\r\n",
            b"XCLIENT NOT=AN+ATTRIBUTE\r\n",
            b"MAIL FROM:<a@example.net>\r\n",
        ],
    );
    for reply in &replies[1..4] {
        assert_eq!(reply, "550 5.7.0 Insufficient authorization\r\n");
    }
    assert_eq!(replies[4], "250 2.1.0 Sender OK\r\n", "still greeted: nothing changed");
    assert!(!events.iter().any(|event| matches!(event, ServerEvent::Xclient(_) | ServerEvent::Xforward(_))));
}

#[test]
fn xclient_starts_the_session_over_and_greets_again() {
    let (replies, events) = every_cutting(
        &config(),
        true,
        &[
            b"EHLO proxy.example\r\n",
            b"XCLIENT NAME=mail.example.net ADDR=192.0.2.7 HELO=mail.example.net PROTO=ESMTP\r\n",
            b"MAIL FROM:<a@example.net>\r\n",
            b"EHLO mail.example.net\r\n",
        ],
    );
    assert_eq!(replies[1], GREETING);
    assert_eq!(replies[2], "503 5.5.1 Send EHLO or HELO first\r\n", "greeted again: EHLO first");
    assert!(!replies[3].contains("XCLIENT"), "the trust was the proxy's, not the client's: {}", replies[3]);
    let attributes = events.iter().find_map(|event| match event {
        ServerEvent::Xclient(attributes) => Some(attributes),
        _ => None,
    });
    let attributes = attributes.expect("an Xclient event");
    assert_eq!(attributes.addr_ip(), Some("192.0.2.7".parse().unwrap()));
    assert_eq!(attributes.name, Some(AttributeValue::Value("mail.example.net".into())));
}

#[test]
fn an_xclient_login_is_an_authenticated_client() {
    let mut submission = config();
    submission.submission = true;
    submission.auth_mechanisms = vec![Mechanism::Plain];
    submission.plaintext_auth = true;
    let reads: [&[u8]; 4] = [
        b"EHLO proxy.example\r\n",
        b"XCLIENT ADDR=192.0.2.7 LOGIN=alice\r\n",
        b"EHLO mail.example.net\r\n",
        b"MAIL FROM:<alice@example.net>\r\n",
    ];
    let (replies, _) = every_cutting(&submission, true, &reads);
    assert_eq!(replies[3], "250 2.1.0 Sender OK\r\n");
    let anonymous: [&[u8]; 4] = [reads[0], b"XCLIENT ADDR=192.0.2.7 LOGIN=[UNAVAILABLE]\r\n", reads[2], reads[3]];
    let (replies, _) = every_cutting(&submission, true, &anonymous);
    assert!(replies[3].starts_with("530 5.7.0"), "{}", replies[3]);
}

#[test]
fn xforward_attributes_reach_the_application() {
    let (replies, events) = every_cutting(
        &config(),
        true,
        &[
            b"EHLO filter.example\r\n",
            b"XFORWARD NAME=mail.example.net ADDR=IPV6:2001:db8::7\r\nXFORWARD HELO=mail.example.net\r\n\
              MAIL FROM:<a@example.net>\r\n",
        ],
    );
    assert_eq!(replies[1], "250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.1.0 Sender OK\r\n");
    let mut merged = ClientAttributes::default();
    for event in &events {
        if let ServerEvent::Xforward(attributes) = event {
            merged.merge((**attributes).clone());
        }
    }
    assert_eq!(merged.addr_ip(), Some("2001:db8::7".parse().unwrap()));
    assert_eq!(merged.helo, Some(AttributeValue::Value("mail.example.net".into())));
}

#[test]
fn inside_a_transaction_both_get_503_and_bad_attributes_501() {
    let (replies, events) = every_cutting(
        &config(),
        true,
        &[
            b"EHLO proxy.example\r\n",
            b"MAIL FROM:<a@example.net>\r\n",
            b"XFORWARD ADDR=192.0.2.7\r\n",
            b"XCLIENT ADDR=192.0.2.7\r\n",
            b"RSET\r\n",
            b"XCLIENT ADDR=not-an-address\r\n",
            b"XFORWARD COLOUR=blue\r\n",
        ],
    );
    assert_eq!(replies[2], "503 5.5.1 Not allowed in a mail transaction\r\n");
    assert_eq!(replies[3], "503 5.5.1 Not allowed in a mail transaction\r\n");
    assert!(replies[5].starts_with("501 5.5.4"), "{}", replies[5]);
    assert!(replies[6].starts_with("501 5.5.4"), "{}", replies[6]);
    assert!(!events.iter().any(|event| matches!(event, ServerEvent::Xclient(_) | ServerEvent::Xforward(_))));
}

#[test]
fn commands_behind_xclient_are_out_of_step() {
    let (replies, _) = converse(
        &config(),
        true,
        &[b"EHLO proxy.example\r\n", b"XCLIENT ADDR=192.0.2.7\r\nEHLO mail.example.net\r\n"],
        0,
    );
    assert_eq!(replies[1], "554 5.5.0 Synchronization error: input sent before the reply, closing connection\r\n");
}

// XCLIENT_README: a proxy may split the attributes over several XCLIENT commands, NAME
// and ADDR last. One without ADDR leaves the client what it was (the proxy), still
// trusted; the one with ADDR names another client, and the trust ends.
#[test]
fn xclient_split_over_several_commands_keeps_the_trust_until_addr() {
    let (replies, events) = every_cutting(
        &config(),
        true,
        &[
            b"EHLO proxy.example\r\n",
            b"XCLIENT HELO=mail.example.net PROTO=ESMTP\r\n",
            b"XCLIENT NAME=mail.example.net ADDR=192.0.2.7\r\n",
            b"XCLIENT ADDR=192.0.2.8\r\n",
        ],
    );
    assert_eq!(replies[1], GREETING);
    assert_eq!(replies[2], GREETING, "still trusted: ADDR was not sent yet");
    assert_eq!(replies[3], "550 5.7.0 Insufficient authorization\r\n", "the named client is not trusted");
    assert_eq!(events.iter().filter(|event| matches!(event, ServerEvent::Xclient(_))).count(), 2);
}

// XCLIENT_README: XCLIENT does not reset TLS; the session stays encrypted and STARTTLS
// is not offered again.
#[test]
fn xclient_keeps_tls() {
    let mut config = config();
    config.starttls = true;
    let mut session = ServerSession::new(&config.build().unwrap());
    session.trust_proxy();
    let _ = drain_accepting(&mut session);
    session.handle_input(b"EHLO proxy.example\r\n");
    let _ = drain_accepting(&mut session);
    session.handle_input(b"STARTTLS\r\n");
    let mut sent = String::new();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.push_str(std::str::from_utf8(&bytes).unwrap()),
            Output::StartTls => break,
            other => panic!("{other:?} after {sent}"),
        }
    }
    session.tls_established().unwrap();
    session.handle_input(b"EHLO proxy.example\r\n");
    let _ = drain_accepting(&mut session);
    session.handle_input(b"XCLIENT NAME=mail.example.net ADDR=192.0.2.7\r\n");
    assert_eq!(drain_accepting(&mut session).sent, GREETING);
    session.handle_input(b"EHLO mail.example.net\r\n");
    let reply = drain_accepting(&mut session).sent;
    assert!(session.is_tls());
    assert!(!reply.contains("STARTTLS"), "{reply}");
    assert!(matches!(session.trace_protocol(), smtp_sansio::wire::TraceProtocol::Esmtp { tls: true, .. }));
}

// XCLIENT_README: PROTO is the protocol the named client spoke (SMTP or ESMTP); the
// trace fields say that one, not the proxy's EHLO.
#[test]
fn xclient_proto_names_the_trace_protocol() {
    use smtp_sansio::wire::TraceProtocol;
    for (proto, expected) in
        [("SMTP", TraceProtocol::Smtp), ("esmtp", TraceProtocol::Esmtp { tls: false, authenticated: false })]
    {
        let mut session = ServerSession::new(&config().build().unwrap());
        session.trust_proxy();
        let _ = drain_accepting(&mut session);
        session.handle_input(b"EHLO proxy.example\r\n");
        let _ = drain_accepting(&mut session);
        session.handle_input(format!("XCLIENT ADDR=192.0.2.7 PROTO={proto}\r\n").as_bytes());
        assert_eq!(drain_accepting(&mut session).sent, GREETING);
        session.handle_input(b"EHLO proxy.example\r\n");
        let _ = drain_accepting(&mut session);
        assert_eq!(session.trace_protocol(), expected, "PROTO={proto}");
    }
}
