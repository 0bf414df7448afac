//! LIMITS (RFC 9422), client side: the limits are read from the EHLO reply in force,
//! and the client keeps to them: `RCPTMAX` and `RCPTDOMAINMAX` split a message over
//! several transactions on the same connection, `MAILMAX` stops the session and says
//! "reconnect" for what is left. Scripted servers check the exact commands; our client
//! against our server checks that no limit is ever overrun, in every mode.

mod support;

use smtp_sansio::client::{ClientConfig, ClientEvent, Envelope, Failure};
use smtp_sansio::server::{ServerConfig, ServerEvent};
use smtp_sansio::wire::Limits;
use smtp_sansio::{Capabilities, Capability, Reply, ReplyCode};
use support::pair::run_pair_scheduled;
use support::scripted::{BODY, BYE, GREETING, Run, converse, converse_with, ehlo, envelope, plain};
use support::server::{Schedule, Verdict};

/// The limits of an EHLO reply listing `keywords`.
fn limits_of(keywords: &[&str]) -> Limits {
    let lines = std::iter::once("mx.example.org").chain(keywords.iter().copied()).map(String::from);
    let reply = Reply::with_lines(ReplyCode::OK, lines);
    Capabilities::from_reply(&reply).unwrap().limits()
}

/// `(MAILMAX, RCPTMAX, RCPTDOMAINMAX)`.
fn triple(limits: Limits) -> (Option<u32>, Option<u32>, Option<u32>) {
    (limits.mail_max, limits.rcpt_max, limits.rcpt_domain_max)
}

/// How many times the client asked for message `index`'s body.
fn bodies_wanted(run: &Run, index: usize) -> usize {
    let id = run.ids[index];
    run.events.iter().filter(|event| matches!(event, ClientEvent::BodyWanted { message } if *message == id)).count()
}

/// The commands the client sent (`MAIL`/`RCPT`/`DATA`/`RSET`/`QUIT` lines), in order.
fn commands(run: &Run) -> Vec<String> {
    run.sent()
        .split("\r\n")
        .filter(|line| ["MAIL ", "RCPT ", "DATA", "RSET", "QUIT", "BDAT "].iter().any(|verb| line.starts_with(verb)))
        .map(String::from)
        .collect()
}

const DATA_BODY: &str = "From: alice@example.net\r\nSubject: hello\r\n\r\nHi Bob.\r\n.\r\n";

#[test]
fn limits_are_read_from_ehlo() {
    // The typed view: known limits, any case, unknown ones ignored.
    let limits = limits_of(&["PIPELINING", "LIMITS MAILMAX=10 rcptmax=100 RCPTDOMAINMAX=5 X-FUTURE=abc FLAG"]);
    assert_eq!(triple(limits), (Some(10), Some(100), Some(5)));
    // Zero, more than six digits, not a number, no value: that limit is ignored.
    let limits = limits_of(&["LIMITS MAILMAX=0 RCPTMAX=1000000 RCPTDOMAINMAX=2x"]);
    assert_eq!(triple(limits), (None, None, None));
    assert_eq!(triple(limits_of(&["LIMITS RCPTMAX MAILMAX=3"])), (Some(3), None, None));
    assert_eq!(triple(limits_of(&["LIMITS RCPTMAX=999999"])), (None, Some(999_999), None));
    // A line that does not fit the grammar is ignored whole.
    assert_eq!(triple(limits_of(&["LIMITS RCPTMAX=5 MAILMAX=;"])), (None, None, None));
    assert_eq!(triple(limits_of(&["LIMITS"])), (None, None, None));
    // No LIMITS, no limits; two LIMITS lines, the smaller of each.
    assert_eq!(limits_of(&["PIPELINING", "SIZE 1000"]), Limits::default());
    assert_eq!(triple(limits_of(&["LIMITS RCPTMAX=50", "LIMITS RCPTMAX=20 MAILMAX=9"])), (Some(9), Some(20), None));
    // What the server wrote is kept as it was.
    let reply = Reply::with_lines(ReplyCode::OK, ["mx.example.org", "LIMITS RCPTMAX=0 FOO=bar"]);
    let caps = Capabilities::from_reply(&reply).unwrap();
    assert!(caps.has(&Capability::Limits(vec![("RCPTMAX".into(), "0".into()), ("FOO".into(), "bar".into())])));
    assert_eq!(caps.to_reply(), reply);

    // The session reads them from the EHLO reply, and hands them out with `Ready`.
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=0 MAILMAX=7 UNKNOWN=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(triple(run.ready().0.limits()), (Some(7), None, None));
    run.accepted(0);
}

#[test]
fn limits_are_those_of_the_ehlo_after_starttls() {
    let message = [(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>"]), BODY)];
    // Before TLS, RCPTMAX=1; after, no LIMITS: one transaction.
    let run = converse(
        &support::scripted::config(),
        &message,
        &[
            GREETING,
            &ehlo(&["STARTTLS", "LIMITS RCPTMAX=1"]),
            b"220 2.0.0 Go ahead\r\n",
            &ehlo(&["PIPELINING"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            BYE,
        ],
    );
    assert_eq!(run.sent().matches("MAIL FROM").count(), 1, "{:?}", run.turns);
    assert_eq!(run.ready().0.limits(), Limits::default());
    run.accepted(0);
    // Before TLS, nothing; after, RCPTMAX=1: two transactions.
    let run = converse(
        &support::scripted::config(),
        &message,
        &[
            GREETING,
            &ehlo(&["STARTTLS"]),
            b"220 2.0.0 Go ahead\r\n",
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 2\r\n",
            BYE,
        ],
    );
    assert_eq!(run.sent().matches("MAIL FROM").count(), 2, "{:?}", run.turns);
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as 2"));
}

#[test]
fn rcptmax_splits_a_message_over_transactions() {
    let to = ["<a@x.example>", "<b@y.example>", "<c@x.example>", "<d@z.example>"];
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &to), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=2"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n354 Go\r\n",
            b"250 2.0.0 Queued as AAA\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as BBB\r\n",
            BYE,
        ],
    );
    // With RCPTMAX alone, the envelope is cut in order: MAIL, its share of RCPTs, DATA,
    // the body, then the next transaction.
    let mail = "MAIL FROM:<alice@example.net>\r\n";
    assert_eq!(
        run.turns,
        [
            String::new(),
            "EHLO client.example.net\r\n".into(),
            format!("{mail}RCPT TO:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"),
            DATA_BODY.into(),
            format!("{mail}RCPT TO:<c@x.example>\r\nRCPT TO:<d@z.example>\r\nDATA\r\n"),
            DATA_BODY.into(),
            "QUIT\r\n".into(),
            String::new(),
        ]
    );
    assert_eq!(bodies_wanted(&run, 0), 2, "the body is asked for once per transaction");
    // Indexes are those of the envelope, whatever the transaction.
    assert_eq!(run.recipients(0), [(0, 250), (1, 550), (2, 250), (3, 250)]);
    // One outcome: accepted, with the last transaction's reply.
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as BBB"));
    assert!(!run.sent().contains("RSET"), "no transaction failed: no RSET");
}

#[test]
fn rcptmax_without_pipelining_sends_one_command_at_a_time() {
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &["<a@x.example>", "<b@x.example>", "<c@x.example>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["LIMITS RCPTMAX=2"]),
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 Go\r\n",
            b"250 2.0.0 Queued as 2\r\n",
            BYE,
        ],
    );
    let expected: Vec<String> = [
        "EHLO client.example.net\r\n",
        "MAIL FROM:<alice@example.net>\r\n",
        "RCPT TO:<a@x.example>\r\n",
        "RCPT TO:<b@x.example>\r\n",
        "DATA\r\n",
        DATA_BODY,
        "MAIL FROM:<alice@example.net>\r\n",
        "RCPT TO:<c@x.example>\r\n",
        "DATA\r\n",
        DATA_BODY,
        "QUIT\r\n",
        "",
    ]
    .iter()
    .map(|turn| turn.to_string())
    .collect();
    assert_eq!(run.turns[1..], expected[..]);
    assert_eq!(bodies_wanted(&run, 0), 2);
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as 2"));
}

#[test]
fn rcptdomainmax_groups_recipients_by_domain() {
    // Four domains (x twice, in two cases), and <Postmaster>, which has none; at most two
    // domains per transaction: x and y together (with Postmaster), z alone.
    let to = ["<a@x.example>", "<b@y.example>", "<c@z.example>", "<d@X.EXAMPLE>", "<e@y.example>", "<Postmaster>"];
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &to), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTDOMAINMAX=2"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.1.0 Ok\r\n451 4.3.0 Try later\r\n554 5.5.1 No valid recipients\r\n",
            BYE,
        ],
    );
    assert_eq!(
        commands(&run),
        [
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<a@x.example>",
            "RCPT TO:<b@y.example>",
            "RCPT TO:<d@X.EXAMPLE>",
            "RCPT TO:<e@y.example>",
            "RCPT TO:<Postmaster>",
            "DATA",
            "MAIL FROM:<alice@example.net>",
            "RCPT TO:<c@z.example>",
            "DATA",
            "QUIT",
        ]
    );
    assert_eq!(bodies_wanted(&run, 0), 1, "no body for a transaction whose recipients were all refused");
    assert_eq!(run.recipients(0), [(0, 250), (1, 250), (3, 250), (4, 250), (5, 250), (2, 451)]);
    // The recipient refused alone does not fail the message: it has its own reply.
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as 1"));
}

#[test]
fn both_limits_together() {
    // x has five recipients, y two; RCPTMAX=4 and one domain per transaction: x in four
    // and one (in envelope order), y in one. Cutting the envelope in order would take
    // four transactions.
    let to = ["<a@x.example>", "<b@y.example>", "<c@x.example>", "<d@x.example>", "<e@x.example>", "<f@x.example>"];
    let mut to = to.to_vec();
    to.push("<g@y.example>");
    let ok = "250 2.1.5 Ok\r\n";
    let first = format!("250 2.1.0 Ok\r\n{}354 Go\r\n", ok.repeat(4));
    let second = format!("250 2.1.0 Ok\r\n{ok}354 Go\r\n");
    let third = format!("250 2.1.0 Ok\r\n{}354 Go\r\n", ok.repeat(2));
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &to), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=4 RCPTDOMAINMAX=1"]),
            first.as_bytes(),
            b"250 2.0.0 Queued as 1\r\n",
            second.as_bytes(),
            b"250 2.0.0 Queued as 2\r\n",
            third.as_bytes(),
            b"250 2.0.0 Queued as 3\r\n",
            BYE,
        ],
    );
    let mail = "MAIL FROM:<alice@example.net>";
    assert_eq!(
        commands(&run),
        [
            mail,
            "RCPT TO:<a@x.example>",
            "RCPT TO:<c@x.example>",
            "RCPT TO:<d@x.example>",
            "RCPT TO:<e@x.example>",
            "DATA",
            mail,
            "RCPT TO:<f@x.example>",
            "DATA",
            mail,
            "RCPT TO:<b@y.example>",
            "RCPT TO:<g@y.example>",
            "DATA",
            "QUIT",
        ]
    );
    assert_eq!(bodies_wanted(&run, 0), 3);
    assert_eq!(run.recipients(0), [(0, 250), (2, 250), (3, 250), (4, 250), (5, 250), (1, 250), (6, 250)]);
    assert_eq!(run.accepted(0).lines().next(), Some("Queued as 3"));
}

#[test]
fn mailmax_stops_and_says_reconnect() {
    // MAILMAX=2: the second MAIL is refused, and counts all the same; the third message
    // (and the fourth) are not tried here. `quit()` is not called: the session ends
    // anyway, for it can carry no more mail.
    let messages = [
        (envelope("<alice@example.net>", &["<a@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<b@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<c@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<d@example.org>"]), BODY),
    ];
    let run = converse_with(
        &plain(),
        &messages,
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS MAILMAX=2"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued\r\n",
            b"451 4.7.1 Sender deferred\r\n503 5.5.1 No MAIL\r\n503 5.5.1 No MAIL\r\n",
            BYE,
        ],
        usize::MAX,
        false,
    );
    assert_eq!(run.sent().matches("MAIL FROM").count(), 2, "no MAIL beyond MAILMAX: {:?}", run.turns);
    assert_eq!(run.turns[5], "QUIT\r\n", "QUIT at once, no RSET first: {:?}", run.turns);
    assert!(run.closed);
    assert_eq!(run.close_reason(), &smtp_sansio::client::CloseReason::Quit);
    run.accepted(0);
    assert!(matches!(run.failure(1), Failure::Rejected { .. }));
    for index in [2, 3] {
        let failure = run.failure(index);
        assert_eq!(failure, &Failure::Reconnect);
        assert!(failure.is_transient(), "a new connection may take it");
        assert!(failure.reply().is_none());
    }
}

#[test]
fn a_message_sent_once_mailmax_is_reached_fails_at_once() {
    use smtp_sansio::Output;
    use smtp_sansio::client::ClientSession;
    let client = plain().build().unwrap();
    let mut session = ClientSession::new(&client);
    let first = session.send(envelope("<alice@example.net>", &["<a@example.org>"]));
    let script: Vec<Vec<u8>> = vec![
        GREETING.to_vec(),
        ehlo(&["LIMITS MAILMAX=1"]),
        b"250 2.1.0 Ok\r\n".to_vec(),
        b"250 2.1.5 Ok\r\n".to_vec(),
        b"354 Go\r\n".to_vec(),
    ];
    let mut script = script.into_iter();
    let mut events = Vec::new();
    let mut second = None;
    loop {
        match session.poll_output() {
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                // The MAIL that reached MAILMAX is out: a new message cannot go here.
                second = Some(session.send(envelope("<alice@example.net>", &["<b@example.org>"])));
                session.push_body(BODY).unwrap();
                session.end_body().unwrap();
            }
            Output::Event(event) => events.push(event),
            Output::Transmit(_) => {}
            Output::Wait(_) => match script.next() {
                Some(block) => session.handle_input(&block),
                None => break,
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    let second = second.expect("asked for the body");
    assert!(events.contains(&ClientEvent::Failed { message: second, failure: Failure::Reconnect }), "{events:#?}");
    assert!(!events.iter().any(|event| matches!(event, ClientEvent::Accepted { message, .. } if *message == first)));
}

#[test]
fn a_split_message_that_hits_mailmax_reports_what_went() {
    // MAILMAX=2 and RCPTMAX=2: the first message takes a MAIL, the second's first
    // transaction the other; its second transaction cannot go. Of the first transaction,
    // recipient 0 was delivered and recipient 1 refused (its own reply says so).
    let messages = [
        (envelope("<alice@example.net>", &["<z@example.org>"]), BODY),
        (
            envelope(
                "<alice@example.net>",
                &["<a@example.org>", "<b@example.org>", "<c@example.org>", "<d@example.org>"],
            ),
            BODY,
        ),
    ];
    let run = converse(
        &plain(),
        &messages,
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS MAILMAX=2 RCPTMAX=2"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 2\r\n",
            BYE,
        ],
    );
    assert_eq!(run.sent().matches("MAIL FROM").count(), 2);
    assert!(run.sent().ends_with(&format!("{DATA_BODY}QUIT\r\n")), "{:?}", run.turns);
    run.accepted(0);
    assert_eq!(run.recipients(1), [(0, 250), (1, 550)]);
    let failure = run.failure(1);
    assert_eq!(failure, &Failure::Partial { delivered: vec![0], failure: Box::new(Failure::Reconnect) });
    assert_eq!(failure.delivered(), [0]);
    assert!(failure.is_transient(), "recipients 2 and 3 can go over a new connection");
}

#[test]
fn a_split_message_that_fails_after_a_delivered_part_says_which_went() {
    // RCPTMAX=1: the first transaction is accepted, the second's DATA refused for good.
    let run = converse(
        &plain(),
        &[(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>", "<c@example.org>"]), BODY)],
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.7.1 Not today\r\n",
            BYE,
        ],
    );
    // The message stops at the failed transaction: its third recipient is not tried.
    assert_eq!(run.sent().matches("MAIL FROM").count(), 2, "{:?}", run.turns);
    assert!(!run.sent().contains("<c@example.org>"));
    match run.failure(0) {
        failure @ Failure::Partial { delivered, failure: inner } => {
            assert_eq!(delivered, &[0]);
            assert!(matches!(**inner, Failure::Rejected { stage: smtp_sansio::client::Stage::Data, .. }));
            assert!(!failure.is_transient());
            assert_eq!(failure.reply().map(|reply| reply.code().get()), Some(554));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_split_message_cut_off_says_which_recipients_went() {
    use smtp_sansio::client::CloseReason;
    let three = [(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>", "<c@example.org>"]), BODY)];
    // SMTP: the connection drops after the first transaction.
    let run = converse(
        &plain(),
        &three,
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 Queued as 1\r\n",
        ],
    );
    let failure = run.failure(0);
    let expected = Failure::Partial { delivered: vec![0], failure: Box::new(Failure::SessionEnded(CloseReason::Eof)) };
    assert_eq!(failure, &expected);
    assert!(failure.is_transient());
    // LMTP: it drops after the second transaction's body, before its delivery reply:
    // recipient 1 has no outcome, recipient 2 was never sent.
    let mut lmtp = plain();
    lmtp.lmtp = true;
    let run = converse(
        &lmtp,
        &three,
        &[
            GREETING,
            &ehlo(&["PIPELINING", "LIMITS RCPTMAX=1"]),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
            b"250 2.0.0 <a@example.org> Saved\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
        ],
    );
    assert_eq!(run.deliveries(0), [(0, 250)]);
    let undelivered = Failure::Undelivered { recipients: vec![1, 2], reason: CloseReason::Eof };
    assert_eq!(run.failure(0), &Failure::Partial { delivered: vec![0], failure: Box::new(undelivered) });
}

#[test]
fn without_limits_nothing_changes() {
    // No LIMITS: every recipient in one transaction, and the server's 452 for the one
    // too many is a recipient's refusal, as always.
    let to = ["<a@x.example>", "<b@y.example>", "<c@z.example>"];
    let script = |keywords: &[&str]| -> Vec<Vec<u8>> {
        vec![
            GREETING.to_vec(),
            ehlo(keywords),
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 Too many recipients\r\n354 Go\r\n".to_vec(),
            b"250 2.0.0 Queued\r\n".to_vec(),
            BYE.to_vec(),
        ]
    };
    let run = |keywords: &[&str]| {
        let script = script(keywords);
        let blocks: Vec<&[u8]> = script.iter().map(Vec::as_slice).collect();
        converse(&plain(), &[(envelope("<alice@example.net>", &to), BODY)], &blocks)
    };
    let without = run(&["PIPELINING"]);
    let mail = "MAIL FROM:<alice@example.net>\r\n";
    assert_eq!(
        without.turns[2],
        format!("{mail}RCPT TO:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@z.example>\r\nDATA\r\n")
    );
    assert_eq!(without.sent().matches("MAIL FROM").count(), 1);
    assert_eq!(bodies_wanted(&without, 0), 1);
    assert_eq!(without.recipients(0), [(0, 250), (1, 250), (2, 452)]);
    without.accepted(0);
    // Limits the envelope fits change nothing either; an unknown limit neither.
    let within = run(&["PIPELINING", "LIMITS RCPTMAX=3 RCPTDOMAINMAX=3 MAILMAX=1 X-OTHER=2"]);
    assert_eq!(within.turns, without.turns);
    let strip = |events: &[ClientEvent]| -> Vec<ClientEvent> {
        events.iter().filter(|event| !matches!(event, ClientEvent::Ready { .. })).cloned().collect()
    };
    assert_eq!(strip(&within.events), strip(&without.events));
}

// ---------------------------------------------------------------------------------
// Our client against our server

/// What happened to each recipient of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Delivered,
    Reconnect,
}

#[test]
fn our_client_keeps_to_our_servers_limits() {
    let to = |names: &[&str]| -> Vec<String> { names.iter().map(|name| format!("<{name}>")).collect() };
    // Three transactions, then two of which MAILMAX lets only the first go, then two
    // messages for another connection.
    let recipients = [
        to(&["a@x.example", "b@y.example", "c@x.example", "d@z.example", "e@x.example", "f@y.example", "g@x.example"]),
        to(&["i@x.example", "j@y.example", "k@z.example", "l@w.example", "m@x.example"]),
        to(&["h@z.example", "Postmaster"]),
        to(&["n@x.example"]),
    ];
    let messages: Vec<(Envelope, Vec<u8>)> = recipients
        .iter()
        .map(|names| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            (envelope("<alice@example.net>", &names), BODY.to_vec())
        })
        .collect();
    for lmtp in [false, true] {
        for bdat in [false, true] {
            for pipelining in [false, true] {
                let mut server = ServerConfig::new("mx.example.org");
                server.lmtp = lmtp;
                server.pipelining = pipelining;
                server.advertise_limits = true;
                server.max_recipients = 3;
                server.max_messages = Some(4);
                server.max_recipient_domains = Some(2);
                let mut client = ClientConfig::new("client.example.net");
                client.lmtp = lmtp;
                client.prefer_bdat = bdat;
                for schedule in [Schedule::Immediate, Schedule::ReverseAtEnd, Schedule::Random(5)] {
                    for split in [0, 3] {
                        let what =
                            format!("lmtp {lmtp}, bdat {bdat}, pipelining {pipelining}, {schedule:?}, split {split}");
                        let run = run_pair_scheduled(&client, &server, &messages, 16, split, &accept, schedule);
                        let mails = String::from_utf8_lossy(&run.client_bytes).matches("MAIL FROM").count();
                        assert!(mails <= 4, "{what}: {mails} MAILs past MAILMAX=4");
                        assert_eq!(run.bodies.len(), mails, "{what}: one body per transaction");
                        for event in &run.events {
                            let reply = match event {
                                ClientEvent::Recipient { reply, .. } | ClientEvent::Delivery { reply, .. } => {
                                    Some(reply)
                                }
                                ClientEvent::Failed { failure, .. } => failure.reply(),
                                _ => None,
                            };
                            if let Some(reply) = reply {
                                assert!(reply.code().is_positive(), "{what}: a limit was overrun: {event:?}");
                            }
                        }
                        let mut all = Vec::new();
                        for (index, names) in recipients.iter().enumerate() {
                            let fates = fates(&run.events, run.ids[index], names.len(), lmtp);
                            assert!(
                                fates.iter().all(Option::is_some),
                                "{what}: message {index}: {fates:?}\n{:#?}",
                                run.events
                            );
                            all.push(fates);
                        }
                        // Message 1 is split: its first transaction was delivered, the
                        // second is for another connection, and so are messages 2 and 3.
                        let delivered = Some(Fate::Delivered);
                        let reconnect = Some(Fate::Reconnect);
                        assert_eq!(all[0], [delivered; 7], "{what}");
                        assert_eq!(all[1], [delivered, delivered, reconnect, reconnect, delivered], "{what}");
                        assert_eq!(all[2], [reconnect; 2], "{what}");
                        assert_eq!(all[3], [reconnect; 1], "{what}");
                        assert!(
                            run.client.last().is_some_and(|event| event.contains("Quit")),
                            "{what}: {:?}",
                            run.client
                        );
                    }
                }
            }
        }
    }
}

/// Accepts everything.
fn accept(_: &ServerEvent) -> Verdict {
    Verdict::Accept
}

/// Each recipient's fate in message `id`: delivered, reported for reconnect, or `None`
/// (lost, or reported twice).
fn fates(events: &[ClientEvent], id: smtp_sansio::client::MessageId, count: usize, lmtp: bool) -> Vec<Option<Fate>> {
    let mut accepted_rcpt = vec![false; count];
    let mut delivered = vec![false; count];
    let mut outcome: Vec<&ClientEvent> = Vec::new();
    for event in events {
        match event {
            ClientEvent::Recipient { message, index, reply } if *message == id => {
                assert!(reply.code().is_positive());
                accepted_rcpt[*index] = true;
            }
            ClientEvent::Delivery { message, index, reply } if *message == id => {
                assert!(lmtp && reply.code().is_positive());
                delivered[*index] = true;
            }
            ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. } if *message == id => {
                outcome.push(event);
            }
            _ => {}
        }
    }
    assert!(outcome.len() <= 1, "one outcome per message: {outcome:?}");
    let mut fates = vec![None; count];
    match outcome.first() {
        // SMTP: every recipient whose RCPT was accepted was delivered.
        Some(ClientEvent::Accepted { .. }) => {
            assert!(!lmtp);
            for index in 0..count {
                if accepted_rcpt[index] {
                    fates[index] = Some(Fate::Delivered);
                }
            }
        }
        Some(ClientEvent::Failed { failure, .. }) => {
            let inner = match failure {
                Failure::Partial { failure, .. } => &**failure,
                other => other,
            };
            assert_eq!(inner, &Failure::Reconnect, "the only failure is MAILMAX's");
            for index in 0..count {
                let went = failure.delivered().contains(&index);
                assert!(!lmtp || went == delivered[index], "LMTP: delivered is what the Delivery events said");
                fates[index] = Some(if went { Fate::Delivered } else { Fate::Reconnect });
            }
        }
        // LMTP: each recipient had its Delivery.
        None => {
            assert!(lmtp, "an SMTP message has an outcome");
            for index in 0..count {
                if delivered[index] {
                    fates[index] = Some(Fate::Delivered);
                }
            }
        }
        Some(other) => panic!("{other:?}"),
    }
    fates
}
