//! The client role's XFORWARD (Postfix's XFORWARD_README): a content filter hands a
//! message back with the original client's attributes (`Envelope::xforward`), sent
//! before each `MAIL` to a server that offers XFORWARD, only those the server lists.
//! Scripted servers check the exact commands; our own server, trusting the client or
//! not, checks what arrives.

mod support;

use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope, Failure, Stage};
use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
use smtp_sansio::wire::{AttributeValue, ClientAttributes};
use support::pair::{Exchange, exchange};
use support::scripted::{BODY, BYE, GREETING, Run, converse, ehlo, envelope, plain};

fn value(text: &str) -> Option<AttributeValue> {
    Some(AttributeValue::Value(text.into()))
}

/// The original client, as a content filter knows it: every XFORWARD attribute.
fn original_client() -> ClientAttributes {
    let mut attributes = ClientAttributes::default();
    attributes.name = value("mail.example.net");
    attributes.addr = value("2001:db8::7");
    attributes.port = value("4711");
    attributes.proto = value("ESMTPSA");
    attributes.helo = value("mail.example.net");
    attributes.ident = value("4VqZ1k");
    attributes.source = value("REMOTE");
    attributes
}

/// Every attribute of [`original_client`], in the order `ClientAttributes::encode`
/// writes them.
const ALL_ON_ONE_LINE: &str = "XFORWARD HELO=mail.example.net PROTO=ESMTPSA IDENT=4VqZ1k SOURCE=REMOTE PORT=4711 \
                               NAME=mail.example.net ADDR=IPV6:2001:db8::7\r\n";

/// The keyword of a server that takes every XFORWARD attribute.
const EVERY_NAME: &str = "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE";

/// A message from alice to `to`, with `attributes` for XFORWARD.
fn forwarded(to: &[&str], attributes: Option<ClientAttributes>) -> Envelope {
    let mut envelope = envelope("<alice@example.net>", to);
    envelope.xforward = attributes;
    envelope
}

/// The commands the client sent (`XFORWARD`/`MAIL`/`RCPT`/`DATA`/`RSET`/`QUIT` lines), in
/// order.
fn commands(run: &Run) -> Vec<String> {
    run.sent()
        .split("\r\n")
        .filter(|line| {
            ["XFORWARD ", "MAIL ", "RCPT ", "DATA", "RSET", "QUIT"].iter().any(|verb| line.starts_with(verb))
        })
        .map(String::from)
        .collect()
}

const BODY_SENT: &str = "From: alice@example.net\r\nSubject: hello\r\n\r\nHi Bob.\r\n.\r\n";

#[test]
fn xforward_goes_before_mail_when_offered() {
    let message = forwarded(&["<bob@example.org>"], Some(original_client()));
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", EVERY_NAME]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued as 4VqZ1k\r\n",
            BYE,
        ],
    );
    // XFORWARD, MAIL and RCPT in one group (PIPELINING); DATA once their replies are in,
    // so that a refused XFORWARD never meets a 354.
    let expected = [
        "",
        "EHLO client.example.net\r\n",
        &format!("{ALL_ON_ONE_LINE}MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n"),
        "DATA\r\n",
        BODY_SENT,
        "QUIT\r\n",
        "",
    ];
    assert_eq!(run.turns, expected);
    assert_eq!(run.accepted(0).code().get(), 250);

    // With BDAT, the same group; the chunks once the replies are in.
    let mut config = plain();
    config.prefer_bdat = true;
    let message = forwarded(&["<bob@example.org>"], Some(original_client()));
    let run = converse(
        &config,
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "CHUNKING", EVERY_NAME]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"250 2.0.0 Chunk\r\n250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(
        run.turns[2],
        format!("{ALL_ON_ONE_LINE}MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n")
    );
    assert!(run.turns[3].starts_with("BDAT "), "{:?}", run.turns);
    assert_eq!(run.accepted(0).code().get(), 250);
}

#[test]
fn xforward_waits_for_its_reply_without_pipelining() {
    // Attributes too long for one line: two XFORWARD commands, NAME and ADDR last, each
    // after the reply to the one before, then MAIL.
    let mut attributes = original_client();
    let helo = format!("{}.example.net", "h".repeat(230));
    let name = format!("{}.example.net", "n".repeat(230));
    attributes.helo = value(&helo);
    attributes.name = value(&name);
    let message = forwarded(&["<bob@example.org>"], Some(attributes.clone()));
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&[EVERY_NAME]),
            b"250 2.0.0 Ok\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    let first = &run.turns[2];
    let second = &run.turns[3];
    assert!(first.starts_with("XFORWARD HELO=hhh") && first.matches("\r\n").count() == 1, "{first:?}");
    assert!(second.starts_with("XFORWARD ") && second.ends_with(" ADDR=IPV6:2001:db8::7\r\n"), "{second:?}");
    assert!(second.contains(&format!(" NAME={name} ")), "{second:?}");
    assert!(first.len() <= 512 && second.len() <= 512);
    // What the two lines say together is every attribute.
    let mut merged = ClientAttributes::default();
    for line in [first, second] {
        let args = line.trim_end_matches("\r\n").strip_prefix("XFORWARD ").unwrap();
        merged.merge(ClientAttributes::parse(args, smtp_sansio::wire::AttributeCommand::Xforward).unwrap());
    }
    assert_eq!(merged, attributes);
    assert_eq!(
        &run.turns[4..8],
        ["MAIL FROM:<alice@example.net>\r\n", "RCPT TO:<bob@example.org>\r\n", "DATA\r\n", BODY_SENT]
    );
    assert_eq!(run.accepted(0).code().get(), 250);
}

#[test]
fn attributes_the_server_does_not_list_are_left_out() {
    let mut attributes = original_client();
    // An XCLIENT attribute: XFORWARD does not define it, so it never goes, even to a
    // server that (wrongly) lists it.
    attributes.login = value("alice");
    // Names in any case; only those listed go.
    let run = converse(
        &plain(),
        &[(forwarded(&["<bob@example.org>"], Some(attributes)), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XFORWARD name Addr LOGIN"]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(
        commands(&run)[..2],
        ["XFORWARD NAME=mail.example.net ADDR=IPV6:2001:db8::7", "MAIL FROM:<alice@example.net>"]
    );
    assert_eq!(run.accepted(0).code().get(), 250);

    // A server that lists none of the envelope's attributes, or none at all: no XFORWARD,
    // and the message goes as usual (DATA in MAIL's group).
    let mut few = ClientAttributes::default();
    few.ident = value("4VqZ1k");
    let bare = |keyword: &str, attributes: ClientAttributes| {
        let message = forwarded(&["<bob@example.org>"], Some(attributes));
        converse(
            &plain(),
            &[(message, BODY)],
            &[
                GREETING,
                &ehlo(&["PIPELINING", keyword]),
                b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
                b"250 2.0.0 Queued\r\n",
                BYE,
            ],
        )
    };
    for run in [bare("XFORWARD NAME ADDR", few), bare("XFORWARD", original_client())] {
        assert!(!run.sent().contains("XFORWARD"), "{}", run.sent());
        assert_eq!(run.turns[2], "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
        assert_eq!(run.accepted(0).code().get(), 250);
    }
}

#[test]
fn nothing_is_sent_to_a_server_without_xforward() {
    let script: [&[u8]; 5] = [
        GREETING,
        &ehlo(&["PIPELINING", "XCLIENT NAME ADDR"]),
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        b"250 2.0.0 Queued\r\n",
        BYE,
    ];
    let with = converse(&plain(), &[(forwarded(&["<bob@example.org>"], Some(original_client())), BODY)], &script);
    let without = converse(&plain(), &[(forwarded(&["<bob@example.org>"], None), BODY)], &script);
    assert!(!with.sent().contains("XFORWARD"), "{}", with.sent());
    // The message goes exactly as one without attributes.
    assert_eq!(with.turns, without.turns);
    assert_eq!(with.accepted(0).code().get(), 250);

    // After HELO (no extensions at all), the same.
    let run = converse(
        &plain(),
        &[(forwarded(&["<bob@example.org>"], Some(original_client())), BODY)],
        &[
            GREETING,
            b"502 5.5.1 EHLO not implemented\r\n",
            b"250 mx.example.org\r\n",
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert!(!run.sent().contains("XFORWARD"), "{}", run.sent());
    assert_eq!(run.accepted(0).code().get(), 250);
}

#[test]
fn a_refused_xforward_fails_the_message_at_that_stage() {
    // PIPELINING: the server refuses XFORWARD but takes MAIL and RCPT, as Postfix's
    // server does for a client it does not authorize. Their replies are read, DATA never
    // goes, RSET precedes the next message, which goes.
    let first = forwarded(&["<bob@example.org>"], Some(original_client()));
    let second = forwarded(&["<carol@example.org>"], Some(original_client()));
    let run = converse(
        &plain(),
        &[(first, BODY), (second, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", EVERY_NAME]),
            b"550 5.7.0 Insufficient authorization\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::Xforward, reply } => {
            assert_eq!(reply.code().get(), 550);
            assert!(!failure.is_transient());
        }
        other => panic!("refused at XFORWARD: {other:?}"),
    }
    assert_eq!(run.turns[3], "RSET\r\n");
    assert!(run.turns[4].starts_with("XFORWARD ") && run.turns[4].contains("RCPT TO:<carol@example.org>\r\n"));
    assert_eq!(run.accepted(1).code().get(), 250);
    let sent = commands(&run);
    assert_eq!(sent.iter().filter(|line| *line == "DATA").count(), 1, "only the second message's DATA: {sent:?}");

    // Without PIPELINING, attributes over two lines. A 421 to one closes the session,
    // whatever it answers: the message fails with the session.
    let mut long = original_client();
    long.helo = value(&format!("{}.example.net", "h".repeat(230)));
    long.name = value(&format!("{}.example.net", "n".repeat(230)));
    let run = converse(
        &plain(),
        &[
            (forwarded(&["<bob@example.org>"], Some(long.clone())), BODY),
            (forwarded(&["<carol@example.org>"], None), BODY),
        ],
        &[GREETING, &ehlo(&[EVERY_NAME]), b"250 2.0.0 Ok\r\n", b"421-4.3.0 not now\r\n421 4.3.0 come back\r\n"],
    );
    assert!(matches!(run.failure(0), Failure::SessionEnded(_)), "{:?}", run.failure(0));
    // A 4xx to the second line (transient): nothing after it, then RSET and the next
    // message.
    let run = converse(
        &plain(),
        &[(forwarded(&["<bob@example.org>"], Some(long)), BODY), (forwarded(&["<carol@example.org>"], None), BODY)],
        &[
            GREETING,
            &ehlo(&[EVERY_NAME]),
            b"250 2.0.0 Ok\r\n",
            b"451 4.3.0 Try again later\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::Xforward, reply } => {
            assert_eq!(reply.code().get(), 451);
            assert!(failure.is_transient());
        }
        other => panic!("refused at XFORWARD: {other:?}"),
    }
    assert!(run.turns[2].starts_with("XFORWARD ") && run.turns[3].starts_with("XFORWARD "), "{:?}", run.turns);
    assert_eq!(run.turns[4], "RSET\r\n");
    assert_eq!(run.turns[5], "MAIL FROM:<alice@example.net>\r\n");
    assert_eq!(run.accepted(1).code().get(), 250);
    assert!(!commands(&run).iter().any(|line| line.starts_with("RCPT TO:<bob")), "{:?}", commands(&run));
}

#[test]
fn each_transaction_of_a_split_message_gets_its_xforward() {
    // RCPTMAX=2, three recipients: two transactions, each XFORWARD then MAIL (the server
    // forgets the attributes at the end of each).
    let message = forwarded(&["<b1@example.org>", "<b2@example.org>", "<b3@example.org>"], Some(original_client()));
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=2", EVERY_NAME]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued as A\r\n",
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued as B\r\n",
            BYE,
        ],
    );
    let line = ALL_ON_ONE_LINE.trim_end_matches("\r\n");
    assert_eq!(
        commands(&run),
        [
            line,
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<b1@example.org>",
            "RCPT TO:<b2@example.org>",
            "DATA",
            line,
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<b3@example.org>",
            "DATA",
            "QUIT",
        ]
    );
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as B"));

    // The second transaction's XFORWARD refused: the first one's recipients were
    // delivered, the message fails partly, at XFORWARD.
    let message = forwarded(&["<b1@example.org>", "<b2@example.org>", "<b3@example.org>"], Some(original_client()));
    let run = converse(
        &plain(),
        &[(message, BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=2", EVERY_NAME]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued as A\r\n",
            b"550 5.7.0 Insufficient authorization\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"250 2.0.0 Ok\r\n",
            BYE,
        ],
    );
    match run.failure(0) {
        Failure::Partial { delivered, failure } => {
            assert_eq!(delivered, &[0, 1]);
            assert!(matches!(**failure, Failure::Rejected { stage: Stage::Xforward, .. }), "{failure:?}");
        }
        other => panic!("a partial failure: {other:?}"),
    }
    // The replies owed are read; no DATA for the second transaction, and (nothing left
    // to send) QUIT.
    let sent = commands(&run);
    assert_eq!(sent[5..], [line, "MAIL FROM:<alice@example.net>", "RCPT TO:<b3@example.org>", "QUIT"]);
}

// XFORWARD only informs the server's logs: an attribute that cannot go on the wire
// (a SOURCE that is neither LOCAL nor REMOTE) is left out, and the message goes
// (Postfix's server neuters such values; bouncing mail for a log field would be worse).
#[test]
fn attributes_that_do_not_encode_are_left_out_and_the_message_goes() {
    let mut attributes = ClientAttributes::default();
    attributes.name = value("mail.example.net");
    attributes.source = value("ELSEWHERE");
    let run = converse(
        &plain(),
        &[(forwarded(&["<bob@example.org>"], Some(attributes)), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XFORWARD NAME SOURCE"]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(commands(&run)[0], "XFORWARD NAME=mail.example.net");
    assert_eq!(run.accepted(0).code().get(), 250);

    // A server that does not list SOURCE never gets it: the rest goes.
    let mut full = original_client();
    full.source = value("ELSEWHERE");
    let run = converse(
        &plain(),
        &[(forwarded(&["<bob@example.org>"], Some(full)), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "XFORWARD NAME ADDR"]),
            b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
            b"354 Go ahead\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(commands(&run)[0], "XFORWARD NAME=mail.example.net ADDR=IPV6:2001:db8::7");
    assert_eq!(run.accepted(0).code().get(), 250);
}

// ---------------------------------------------------------------------------------
// Against our own server
// ---------------------------------------------------------------------------------

fn sessions(trusted: bool) -> (ClientSession, ServerSession) {
    let mut server = ServerSession::new(&ServerConfig::new("mx.example.org").build().unwrap());
    if trusted {
        server.trust_proxy();
    }
    let client = ClientSession::new(&ClientConfig::new("filter.example").build().unwrap());
    (client, server)
}

/// The attributes the server merged for each transaction: the `Xforward` events before
/// each `Mail`.
fn merged_per_transaction(events: &[ServerEvent]) -> Vec<ClientAttributes> {
    let mut transactions = Vec::new();
    let mut current = ClientAttributes::default();
    for event in events {
        match event {
            ServerEvent::Xforward(attributes) => current.merge((**attributes).clone()),
            ServerEvent::Mail { .. } => transactions.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    transactions
}

fn outcomes(done: &Exchange) -> Vec<Result<u16, Failure>> {
    done.client_events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Accepted { reply, .. } => Some(Ok(reply.code().get())),
            ClientEvent::Failed { failure, .. } => Some(Err(failure.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn our_server_gets_the_attributes_when_it_trusts_the_client() {
    let (mut client, mut server) = sessions(true);
    // Long enough for two lines; and a second message from another client, with fewer
    // attributes: nothing of the first one's carries over.
    let mut first = original_client();
    first.helo = value(&format!("{}.example.net", "h".repeat(230)));
    first.name = value(&format!("{}.example.net", "n".repeat(230)));
    let mut second = ClientAttributes::default();
    second.addr = value("192.0.2.7");
    second.source = value("LOCAL");
    client.send(forwarded(&["<bob@example.org>"], Some(first.clone())));
    client.send(forwarded(&["<carol@example.org>"], Some(second.clone())));
    client.quit();
    let done = exchange(&mut client, &mut server, &|bytes| bytes.to_vec());
    assert!(done.client_sent.matches("XFORWARD ").count() >= 3, "{}", done.client_sent);
    assert_eq!(merged_per_transaction(&done.server_events), [first, second]);
    assert_eq!(outcomes(&done), [Ok(250), Ok(250)]);
}

#[test]
fn our_untrusted_server_gets_no_xforward_and_the_message_goes() {
    let (mut client, mut server) = sessions(false);
    client.send(forwarded(&["<bob@example.org>"], Some(original_client())));
    client.quit();
    let done = exchange(&mut client, &mut server, &|bytes| bytes.to_vec());
    assert!(!done.client_sent.contains("XFORWARD"), "{}", done.client_sent);
    assert!(!done.server_events.iter().any(|event| matches!(event, ServerEvent::Xforward(_))));
    assert_eq!(outcomes(&done), [Ok(250)]);
}

#[test]
fn our_untrusted_server_refuses_xforward_it_did_not_offer_and_the_message_fails() {
    // The EHLO reply is changed on its way to list XFORWARD (a stale or wrong view of
    // the server): the server, which does not trust the client, answers 550 5.7.0. The
    // message fails at XFORWARD without reaching the server's queue; the next one goes.
    let (mut client, mut server) = sessions(false);
    client.send(forwarded(&["<bob@example.org>"], Some(original_client())));
    client.send(forwarded(&["<carol@example.org>"], None));
    client.quit();
    let offer = |bytes: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(bytes);
        match text.starts_with("250-mx.example.org") {
            true => text.replacen("\r\n", &format!("\r\n250-{EVERY_NAME}\r\n"), 1).into_bytes(),
            false => bytes.to_vec(),
        }
    };
    let done = exchange(&mut client, &mut server, &offer);
    assert!(done.client_sent.contains("XFORWARD "), "{}", done.client_sent);
    match &outcomes(&done)[..] {
        [Err(Failure::Rejected { stage: Stage::Xforward, reply }), Ok(250)] => {
            assert_eq!(reply.code().get(), 550);
            assert_eq!(reply.enhanced().map(|status| status.to_string()), Some("5.7.0".to_string()));
        }
        other => panic!("refused at XFORWARD, then the next message: {other:?}"),
    }
    // One message reached the server's queue: the second.
    let ends = done.server_events.iter().filter(|event| matches!(event, ServerEvent::MessageEnd { .. })).count();
    assert_eq!(ends, 1, "{:?}", done.server_events);
    assert!(!done.server_events.iter().any(|event| matches!(event, ServerEvent::Xforward(_))));
    assert!(done.client_sent.contains("RSET\r\n"), "{}", done.client_sent);
}
