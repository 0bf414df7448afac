//! The conversations of `tests/transcripts/` (RFC 5321 Appendix D and classic
//! tutorials) played against a `ServerSession`. The application decides as the
//! transcript's server did (a 4xx/5xx in the transcript is a rejection with that
//! code), and the session must answer every command with the transcript's reply code,
//! in every chunking. Where the transcript's server lacked a feature this one has (no
//! `EHLO`), the difference is named.

mod support;

use std::collections::{HashMap, VecDeque};

use bytes::BytesMut;
use smtp_sansio::server::{ServerConfig, ServerEvent};
use smtp_sansio::{Reply, ReplyCode, ReplyParser};
use support::conversation::{Conversation, client_stream, conversations};
use support::server::{Verdict, run_pieces};
use support::split_invariant;

/// The reply codes of a run of `S:` lines or of transmitted bytes, one per reply.
fn codes(bytes: &[u8]) -> Vec<u16> {
    let mut input = BytesMut::from(bytes);
    let mut parser = ReplyParser::new();
    let mut codes = Vec::new();
    while let Some(reply) = parser.parse(&mut input) {
        codes.push(reply.expect("a valid reply").code().get());
    }
    assert!(input.is_empty(), "a partial reply");
    codes
}

/// The command verb a decision event answers, as written in the transcript.
fn verb_of(event: &ServerEvent) -> Option<&'static str> {
    Some(match event {
        ServerEvent::Mail { .. } => "MAIL",
        ServerEvent::Rcpt { .. } => "RCPT",
        ServerEvent::Data { .. } => "DATA",
        ServerEvent::MessageEnd { .. } => ".",
        ServerEvent::Verify { .. } => "VRFY",
        ServerEvent::Expand { .. } => "EXPN",
        _ => return None,
    })
}

/// Each client command line (body lines left out; the final dot in) with the code the
/// transcript's server answered it with.
fn commands_with_codes(conversation: &Conversation) -> Vec<(String, u16)> {
    let server: String = conversation.server_lines.iter().map(|line| format!("{line}\r\n")).collect();
    let mut codes = codes(server.as_bytes()).into_iter();
    codes.next(); // the greeting
    let mut commands = Vec::new();
    let mut in_body = false;
    for line in &conversation.client_lines {
        if in_body && line != "." {
            continue;
        }
        in_body = line.eq_ignore_ascii_case("DATA");
        if let Some(code) = codes.next() {
            commands.push((line.clone(), code));
        }
        if in_body && commands.last().is_some_and(|(_, code)| *code != 354) {
            in_body = false;
        }
    }
    commands
}

fn play(file: &str, markdown: &str) -> usize {
    let mut played = 0;
    for conversation in conversations(markdown) {
        let commands = commands_with_codes(&conversation);
        if commands.is_empty() {
            continue;
        }
        // What the application answers, per verb, in order.
        let mut decisions: HashMap<&'static str, VecDeque<u16>> = HashMap::new();
        for (line, code) in &commands {
            let verb = if line == "." { "." } else { line.get(..4).unwrap_or("") };
            let verb = ["MAIL", "RCPT", "DATA", ".", "VRFY", "EXPN"].into_iter().find(|v| v.eq_ignore_ascii_case(verb));
            if let Some(verb) = verb {
                decisions.entry(verb).or_default().push_back(*code);
            }
        }
        let decisions = std::sync::Mutex::new(decisions);
        let decide = |event: &ServerEvent| {
            let code = verb_of(event).and_then(|verb| decisions.lock().unwrap().get_mut(verb)?.pop_front());
            let reply = |code| Reply::new(ReplyCode::new(code).expect("a reply code"), "as in the transcript");
            match code {
                Some(code) if code >= 400 => Verdict::Reject(reply(code)),
                Some(code) => Verdict::AcceptWith(reply(code)),
                None => Verdict::Accept,
            }
        };
        let (client, _, _) = client_stream(&conversation);
        // The decisions are used up as a session runs: each chunking starts from a copy.
        let snapshot = decisions.lock().unwrap().clone();
        let mut config = ServerConfig::new("mx.example.org");
        // The client side is fed whole and cut every which way, not by a client that
        // waits for its replies: the synchronisation checks depend on the cuts by design.
        config.sync_checks = smtp_sansio::server::SyncChecks::NONE;
        // The transcripts' servers answer VRFY and EXPN themselves.
        (config.decide_vrfy, config.decide_expn) = (true, true);
        let result = split_invariant(&client, |pieces| {
            *decisions.lock().unwrap() = snapshot.clone();
            run_pieces(&config, pieces, &decide)
        });
        let ours = codes(result.sent.as_bytes());
        let mut expected: Vec<u16> = vec![220];
        for (line, code) in &commands {
            // This server knows EHLO; the transcript's did not.
            let code = if line.starts_with("EHLO") && *code >= 500 { 250 } else { *code };
            expected.push(code);
        }
        assert_eq!(ours, expected, "{file}: {}: reply codes differ\n{}", conversation.title, result.sent);
        played += 1;
    }
    played
}

#[test]
fn rfc5321_appendix_d_against_the_server() {
    assert_eq!(play("rfc5321-appendix-d.md", include_str!("transcripts/rfc5321-appendix-d.md")), 5);
}

#[test]
fn classic_conversations_against_the_server() {
    assert_eq!(play("classic.md", include_str!("transcripts/classic.md")), 6);
}
