//! The synchronisation checks (`SyncChecks`, issue 11): a client that sends before a
//! reply it must wait for is answered `554 5.5.0` and cut off.
//!
//! "Before the reply" is decided at the sans-IO boundary: input handed to the session
//! before `poll_output` handed out that reply. How reads are cut decides what arrives
//! together, so these checks are the one documented exception to "the same bytes give
//! the same result however they are cut" (the explorer in `support::server` runs with
//! them off). What holds instead, and is checked here under every cutting: a client
//! that waits for each reply it must wait for never trips a check, and gets exactly
//! what it gets with the checks off; one that does not is cut off.

mod support;

use std::time::Duration;

use smtp_sansio::Output;
use smtp_sansio::server::{AbortReason, ServerConfig, ServerEvent, ServerSession, SyncChecks};
use support::manual::{drain, drain_accepting, session as start, ticket};
use support::server::Verdict;

const OUT_OF_STEP: &str = "554 5.5.0 Synchronization error: input sent before the reply, closing connection\r\n";
const GREETING: &str = "220 mx.example.org ESMTP ready\r\n";

fn checked() -> ServerConfig {
    ServerConfig::new("mx.example.org")
}

/// What a session sent and whether it closed, fed `reads` one at a time, each only
/// once the session waits for the peer; every decision accepted at once.
fn lockstep(config: &ServerConfig, reads: &[&[u8]]) -> (String, bool) {
    let mut session = ServerSession::new(&config.clone().build().unwrap());
    let mut reads = reads.iter();
    let mut sent = String::new();
    loop {
        let drained = drain_accepting(&mut session);
        sent.push_str(&drained.sent);
        match drained.stop {
            Output::Wait(_) => match reads.next() {
                Some(read) => session.handle_input(read),
                None => session.handle_eof(),
            },
            Output::Closed => return (sent, true),
            other => panic!("unexpected {other:?} after {sent}"),
        }
    }
}

/// Every way the explorer cuts a conversation: whole, byte by byte, and seeded random
/// cuts.
fn cuttings(read: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![read], read.chunks(1).collect()];
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ read.len() as u64;
    for _ in 0..8 {
        let mut pieces = Vec::new();
        let mut rest = read;
        while !rest.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let take = 1 + (seed % 7) as usize;
            let (piece, tail) = rest.split_at(take.min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        all.push(pieces);
    }
    all
}

/// A client that waits for what it must wait for: each of `groups` is sent once the
/// session waits, cut every which way (each piece handed over when the session waits
/// again). The result must not depend on the cuts, never show a 554, and equal what
/// the same client gets with the checks off.
fn a_waiting_client_passes(config: &ServerConfig, groups: &[&[u8]]) -> String {
    let mut off = config.clone();
    off.sync_checks = SyncChecks::NONE;
    let (expected, closed) = lockstep(&off, groups);
    assert!(closed);
    assert!(!expected.contains("554"), "{expected}");
    for (index, group) in groups.iter().enumerate() {
        for cutting in cuttings(group) {
            let mut reads: Vec<&[u8]> = groups[..index].to_vec();
            reads.extend(cutting);
            reads.extend_from_slice(&groups[index + 1..]);
            let (sent, closed) = lockstep(config, &reads);
            assert!(closed);
            assert_eq!(sent, expected, "group {index} cut as {reads:?}");
        }
    }
    expected
}

#[test]
fn a_client_that_waits_for_its_replies_never_trips_a_check() {
    // ESMTP with PIPELINING: EHLO alone, then a group up to DATA, then the body with
    // the QUIT behind its final dot.
    let sent = a_waiting_client_passes(
        &checked(),
        &[
            b"EHLO c.example\r\n",
            b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
            b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n",
        ],
    );
    assert!(sent.ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{sent}");
    // HELO: no PIPELINING, one command at a time.
    a_waiting_client_passes(
        &checked(),
        &[
            b"HELO c.example\r\n",
            b"MAIL FROM:<a@example.net>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"DATA\r\n",
            b"Hello\r\n.\r\n",
            b"NOOP\r\n",
            b"QUIT\r\n",
        ],
    );
    // BDAT: the chunk follows its command by design.
    a_waiting_client_passes(
        &checked(),
        &[
            b"EHLO c.example\r\n",
            b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n",
        ],
    );
    // LMTP.
    let mut lmtp = checked();
    lmtp.lmtp = true;
    a_waiting_client_passes(
        &lmtp,
        &[
            b"LHLO c.example\r\n",
            b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
            b"Hello\r\n.\r\nQUIT\r\n",
        ],
    );
}

#[test]
fn talking_before_the_greeting_is_refused_in_its_place() {
    for cutting in cuttings(b"EHLO c.example\r\n") {
        let mut session = start(checked());
        // Nothing was handed out yet: the client cannot have seen a greeting.
        session.handle_input(cutting[0]);
        let drained = drain(&mut session);
        assert_eq!(drained.sent, OUT_OF_STEP, "the 554 takes the greeting's place");
        assert_eq!(drained.stop, Output::Closed);
    }
}

#[test]
fn a_greet_delay_waits_then_greets() {
    let mut config = checked();
    config.greet_delay = Some(Duration::from_millis(300));
    let mut session = start(config.clone());
    let drained = drain(&mut session);
    assert_eq!(drained.sent, "", "nothing before the delay is over");
    let Output::Wait(wait) = drained.stop else { panic!("{:?}", drained.stop) };
    assert_eq!((wait.timeout(), wait.restarts()), (Duration::from_millis(300), true));
    session.handle_timeout();
    let drained = drain(&mut session);
    assert_eq!(drained.sent, GREETING);
    assert!(matches!(drained.stop, Output::Wait(wait) if wait.timeout() == Duration::from_secs(300)));
    // Then a client that waits goes through as usual.
    session.handle_input(b"EHLO c.example\r\n");
    assert!(drain(&mut session).sent.ends_with("250 HELP\r\n"));
}

#[test]
fn talking_during_the_greet_delay_is_refused() {
    let mut config = checked();
    config.greet_delay = Some(Duration::from_secs(6));
    for cutting in cuttings(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n") {
        let mut session = start(config.clone());
        assert!(matches!(drain(&mut session).stop, Output::Wait(_)));
        for piece in cutting {
            session.handle_input(piece);
        }
        let drained = drain(&mut session);
        assert_eq!(drained.sent, OUT_OF_STEP, "no greeting, only the 554");
        assert_eq!(drained.stop, Output::Closed);
    }
    // With the check off, what came during the delay is answered after the greeting.
    config.sync_checks.before_greeting = false;
    let mut session = start(config);
    let _ = drain(&mut session);
    session.handle_input(b"NOOP\r\n");
    assert!(matches!(drain(&mut session).stop, Output::Wait(_)), "still waiting out the delay");
    session.handle_timeout();
    assert_eq!(drain(&mut session).sent, format!("{GREETING}250 2.0.0 OK\r\n"));
}

#[test]
fn leaving_during_the_greet_delay_closes_without_a_greeting() {
    let mut config = checked();
    config.greet_delay = Some(Duration::from_secs(6));
    let mut session = start(config);
    let _ = drain(&mut session);
    session.handle_eof();
    let drained = drain(&mut session);
    assert_eq!((drained.sent.as_str(), drained.stop), ("", Output::Closed));
}

/// `first` sent whole after the greeting, then whatever the session says.
fn after_greeting(config: &ServerConfig, first: &[&[u8]]) -> (String, Vec<ServerEvent>, bool) {
    let mut session = start(config.clone());
    let mut sent = drain(&mut session).sent;
    assert_eq!(sent, GREETING);
    let mut events = Vec::new();
    for read in first {
        session.handle_input(read);
        let drained = drain_accepting(&mut session);
        sent.push_str(&drained.sent);
        events.extend(drained.events);
        if drained.stop == Output::Closed {
            return (sent, events, true);
        }
    }
    (sent, events, false)
}

#[test]
fn commands_behind_a_group_ending_command_are_refused() {
    let cases: [(&[u8], &str); 5] = [
        (b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n", ""),
        (b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\n", ""),
        (b"EHLO c.example\r\n", "QUIT\r\nNOOP\r\n"),
        (b"EHLO c.example\r\n", "MAIL FROM:<a@example.net>\r\nRSET\r\nHELO again\r\nNOOP\r\n"),
        (b"EHLO c.example\r\n", "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: x\r\n"),
    ];
    for (first, second) in cases {
        let reads: Vec<&[u8]> = [first, second.as_bytes()].into_iter().filter(|read| !read.is_empty()).collect();
        let (sent, _, closed) = after_greeting(&checked(), &reads);
        assert!(closed, "{sent}");
        assert!(sent.ends_with(OUT_OF_STEP), "{first:?} then {second:?}: {sent}");
        assert!(!sent.contains("221"), "QUIT behind another command is not run: {sent}");
    }
    // LHLO in LMTP.
    let mut lmtp = checked();
    lmtp.lmtp = true;
    let (sent, _, _) = after_greeting(&lmtp, &[b"LHLO c.example\r\nMAIL FROM:<a@example.net>\r\n"]);
    assert_eq!(sent, format!("{GREETING}{OUT_OF_STEP}"));
    // With the check off, the group is answered as it comes.
    let mut off = checked();
    off.sync_checks.group_end = false;
    let (sent, _, closed) = after_greeting(&off, &[b"EHLO c.example\r\nNOOP\r\n"]);
    assert!(!closed && sent.ends_with("250 HELP\r\n250 2.0.0 OK\r\n"), "{sent}");
}

#[test]
fn starttls_with_commands_behind_it_is_refused_before_the_handshake() {
    let mut config = checked();
    config.starttls = true;
    let (sent, _, closed) = after_greeting(&config, &[b"EHLO c.example\r\n", b"STARTTLS\r\nMAIL FROM:<a@evil>\r\n"]);
    assert!(closed);
    assert!(sent.ends_with(&format!("250 HELP\r\n{OUT_OF_STEP}")), "no 220 for the handshake: {sent}");
    // Bytes that arrive after the 220 is queued but before it is handed out.
    let mut session = start(config);
    let _ = drain(&mut session);
    session.handle_input(b"EHLO c.example\r\n");
    let _ = drain(&mut session);
    session.handle_input(b"STARTTLS\r\n");
    session.handle_input(b"MAIL FROM:<a@evil>\r\n");
    let drained = drain(&mut session);
    assert_eq!(drained.sent, OUT_OF_STEP, "the 554 replaces the 220 not yet sent");
    assert_eq!(drained.stop, Output::Closed);
}

#[test]
fn text_after_data_before_the_354_is_refused() {
    let envelope: &[u8] = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n";
    // In the same read as DATA.
    let mut read = envelope.to_vec();
    read.extend_from_slice(b"DATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\n");
    let (sent, events, closed) = after_greeting(&checked(), &[b"EHLO c.example\r\n", &read]);
    assert!(closed && sent.ends_with(&format!("250 2.1.5 Recipient OK\r\n{OUT_OF_STEP}")), "{sent}");
    assert!(events.contains(&ServerEvent::TransactionAborted(AbortReason::OutOfStep)), "{events:?}");
    assert!(!events.iter().any(|event| matches!(event, ServerEvent::Data { .. } | ServerEvent::BodyChunk(_))));

    // In a later read, while the application decides DATA: whenever that decision
    // comes, the body arrived before the 354.
    let (mut session, data) = data_owed(envelope);
    session.handle_input(b"Subject: hi\r\n");
    let drained = drain(&mut session);
    assert_eq!(drained.sent, OUT_OF_STEP, "the 354 never goes out");
    assert_eq!(drained.stop, Output::Closed);
    assert_eq!(session.accept(data), Err(smtp_sansio::DecisionError::Closed));

    // After the decision, before the 354 is handed out.
    let (mut session, data) = data_owed(envelope);
    session.accept(data).unwrap();
    session.handle_input(b"Subject: hi\r\n");
    let drained = drain(&mut session);
    // The 354 was decided and queued: it goes, and the 554 ends the session before a
    // byte of the body is read.
    assert_eq!(drained.sent, format!("354 End data with <CR><LF>.<CR><LF>\r\n{OUT_OF_STEP}"));
    assert!(!drained.events.iter().any(|event| matches!(event, ServerEvent::BodyChunk(_))));
    assert_eq!(drained.stop, Output::Closed);

    // With the check off, the body is read as the body.
    let mut off = checked();
    off.sync_checks.early_body = false;
    let (sent, _, _) = after_greeting(&off, &[b"EHLO c.example\r\n", &read]);
    assert!(sent.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Message accepted\r\n"), "{sent}");
}

/// A session that greeted, took `envelope` and `DATA`, and waits for DATA's decision.
fn data_owed(envelope: &[u8]) -> (ServerSession, smtp_sansio::server::Ticket) {
    let mut session = start(checked());
    let _ = drain(&mut session);
    session.handle_input(b"EHLO c.example\r\n");
    let _ = drain_accepting(&mut session);
    session.handle_input(&[envelope, b"DATA\r\n"].concat());
    let drained = drain_accepting_but_data(&mut session);
    let data = ticket(&drained.events, smtp_sansio::server::TicketKind::Data);
    (session, data)
}

/// Drains, accepting every ticket but DATA's.
fn drain_accepting_but_data(session: &mut ServerSession) -> support::manual::Drained {
    let mut all = support::manual::Drained { sent: String::new(), events: Vec::new(), stop: Output::Closed };
    loop {
        let drained = drain(session);
        all.sent.push_str(&drained.sent);
        let mut decided = false;
        for event in &drained.events {
            if let Some(ticket) = event.ticket().filter(|t| t.kind() != smtp_sansio::server::TicketKind::Data) {
                session.accept(ticket).unwrap();
                decided = true;
            }
        }
        all.events.extend(drained.events);
        if !decided {
            all.stop = drained.stop;
            return all;
        }
    }
}

#[test]
fn pipelining_from_a_client_not_offered_it_is_refused() {
    let group: &[u8] = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n";
    // Not offered at all.
    let mut unoffered = checked();
    unoffered.pipelining = false;
    let (sent, _, closed) = after_greeting(&unoffered, &[b"EHLO c.example\r\n", group]);
    assert!(!sent.contains("PIPELINING"));
    assert!(closed && sent.ends_with(&format!("250 HELP\r\n{OUT_OF_STEP}")), "{sent}");
    // Offered, but the client said HELO: it never saw the offer.
    let (sent, _, closed) = after_greeting(&checked(), &[b"HELO c.example\r\n", group]);
    assert!(closed && sent.ends_with(OUT_OF_STEP), "{sent}");
    // After EHLO with PIPELINING: the same group is fine.
    let (sent, _, closed) = after_greeting(&checked(), &[b"EHLO c.example\r\n", group]);
    assert!(!closed && sent.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"), "{sent}");
    // With the check off, Postfix's "permit" behaviour: answered in order.
    unoffered.sync_checks.unoffered_pipelining = false;
    let (sent, _, closed) = after_greeting(&unoffered, &[b"EHLO c.example\r\n", group]);
    assert!(!closed && sent.ends_with("250 2.1.5 Recipient OK\r\n"), "{sent}");
}

#[test]
fn without_pipelining_a_command_sent_before_the_reply_is_out_is_refused() {
    // The reply to MAIL is owed (the application decides): RCPT arrives meanwhile.
    let mut session = start(checked());
    let _ = drain(&mut session);
    session.handle_input(b"HELO c.example\r\n");
    let _ = drain(&mut session);
    session.handle_input(b"MAIL FROM:<a@example.net>\r\n");
    let drained = drain(&mut session);
    assert!(matches!(drained.stop, Output::Pending(_)));
    session.handle_input(b"RCPT TO:<b@example.org>\r\n");
    let drained = drain(&mut session);
    assert_eq!(drained.sent, OUT_OF_STEP);
    assert_eq!(drained.stop, Output::Closed);
}

#[test]
fn every_check_off_is_the_old_behaviour() {
    let mut off = checked();
    off.sync_checks = SyncChecks::NONE;
    let whole =
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nHi\r\n.\r\nQUIT\r\n";
    let run = support::server::run(&off, whole, &|_: &ServerEvent| Verdict::Accept);
    assert!(
        run.sent.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n")
    );
    let mut session = start(off);
    session.handle_input(whole);
    assert!(drain_accepting(&mut session).sent.starts_with(GREETING), "input before the greeting waits for it");
}
