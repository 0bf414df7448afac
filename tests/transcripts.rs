//! The conversations in `tests/transcripts/` (RFC 5321 Appendix D and classic
//! tutorials), replayed through both directions of the grammar.
//!
//! The client's side goes through the line framer, the command parser and, after
//! `DATA`, the DATA decoder; the server's side goes through the reply parser. Each
//! stream is fed whole, byte by byte and split at random, and everything must
//! re-encode to the exact bytes of the transcript.

mod support;

use bytes::BytesMut;
use smtp_sansio::{Command, DataDecoder, DataEncoder, Framed, LineFramer, ParseOptions};
use support::{decode_data, replies_all_ways, split_invariant};

/// One fenced conversation of a transcript file.
struct Conversation {
    title: String,
    /// Lines that only a lenient server takes.
    lenient_only: bool,
    client_lines: Vec<String>,
    server_lines: Vec<String>,
}

fn conversations(markdown: &str) -> Vec<Conversation> {
    let mut found = Vec::new();
    let mut title = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            title = heading.to_string();
        } else if line.starts_with("```") {
            in_block = !in_block;
            if in_block {
                let lenient_only = title.contains("lenient");
                found.push(Conversation {
                    title: title.clone(),
                    lenient_only,
                    client_lines: vec![],
                    server_lines: vec![],
                });
            }
        } else if in_block {
            let conversation = found.last_mut().expect("inside a block");
            let text = |prefix: &str| line.strip_prefix(prefix).map(|t| t.strip_prefix(' ').unwrap_or(t).to_string());
            if let Some(client) = text("C:") {
                conversation.client_lines.push(client);
            } else if let Some(server) = text("S:") {
                conversation.server_lines.push(server);
            }
        }
    }
    found.retain(|c| !c.client_lines.is_empty() || !c.server_lines.is_empty());
    found
}

/// The client's bytes: commands, and after DATA the body lines dot-stuffed by our own
/// encoder, then the `.` line. Returns the bytes, the command lines, and each body as
/// the server must see it.
fn client_stream(conversation: &Conversation) -> (Vec<u8>, Vec<&str>, Vec<Vec<u8>>) {
    let (mut wire, mut commands, mut bodies) = (BytesMut::new(), Vec::new(), Vec::new());
    let mut lines = conversation.client_lines.iter();
    while let Some(line) = lines.next() {
        commands.push(line.as_str());
        wire.extend_from_slice(format!("{line}\r\n").as_bytes());
        if line.eq_ignore_ascii_case("DATA") {
            let mut body = Vec::new();
            for body_line in lines.by_ref().take_while(|l| *l != ".") {
                body.extend_from_slice(format!("{body_line}\r\n").as_bytes());
            }
            let mut encoder = DataEncoder::new();
            encoder.encode(&body, &mut wire);
            encoder.finish(&mut wire);
            bodies.push(body);
        }
    }
    (wire.to_vec(), commands, bodies)
}

/// What the server side makes of the client's bytes: each command re-encoded (or the
/// error), and each body.
fn serve(options: &ParseOptions, pieces: &[&[u8]]) -> (Vec<Result<String, String>>, Vec<Vec<u8>>) {
    let mut framer = LineFramer::commands();
    let mut input = BytesMut::new();
    let (mut commands, mut bodies) = (Vec::new(), Vec::new());
    let mut body: Option<(DataDecoder, Vec<u8>)> = None;
    let mut pieces = pieces.iter();
    loop {
        if let Some((decoder, _)) = &body {
            // Hand the decoder everything that has arrived; `decode_data` takes it from there.
            let buffered = input.to_vec();
            let mut rest: Vec<&[u8]> = vec![&buffered];
            for piece in pieces.by_ref() {
                rest.push(piece);
            }
            let decoding = decode_data(decoder.clone(), &rest);
            assert!(decoding.ended, "the body did not end");
            bodies.push(decoding.body);
            input = BytesMut::from(&decoding.rest[..]);
            body = None;
            continue;
        }
        match framer.next_line(&input) {
            Framed::Line { len, consumed } => {
                let parsed = Command::parse(&input[..len], options);
                if let Ok(Command::Data) = parsed {
                    body = Some((DataDecoder::new(), Vec::new()));
                }
                commands.push(parsed.map(|c| c.to_string()).map_err(|e| e.to_string()));
                let _ = input.split_to(consumed);
            }
            Framed::LineTooLong { .. } | Framed::BareLf { .. } => panic!("transcripts have only proper lines"),
            Framed::Incomplete { .. } => match pieces.next() {
                Some(piece) => input.extend_from_slice(piece),
                None => break,
            },
        }
    }
    assert!(input.is_empty(), "left over: {:?}", String::from_utf8_lossy(&input));
    (commands, bodies)
}

fn replay(file: &str, markdown: &str) -> usize {
    let conversations = conversations(markdown);
    assert!(!conversations.is_empty(), "no conversations in {file}");
    for conversation in &conversations {
        let context = format!("{file}, {}", conversation.title);
        let (client_wire, commands, expected_bodies) = client_stream(conversation);

        // The server side: every command parses; in strict mode each re-encodes to the
        // transcript's exact line, in lenient mode the hand-typed ones parse too.
        let modes = [(ParseOptions::default(), true), (ParseOptions::strict(), !conversation.lenient_only)];
        for (options, must_all_parse) in modes {
            let (parsed, bodies) = split_invariant(&client_wire, |pieces| serve(&options, pieces));
            assert_eq!(parsed.len(), commands.len(), "{context}: command count");
            assert_eq!(bodies, expected_bodies, "{context}: bodies");
            for (line, result) in commands.iter().zip(&parsed) {
                match result {
                    Ok(encoded) if options.strict => assert_eq!(encoded, *line, "{context}: strict re-encoding"),
                    Ok(_) => {}
                    Err(error) => assert!(!must_all_parse, "{context}: {line:?} failed: {error}"),
                }
            }
        }

        // The client side: every reply parses and re-encodes to the transcript's bytes.
        let server_wire: String = conversation.server_lines.iter().map(|l| format!("{l}\r\n")).collect();
        let replies = replies_all_ways(server_wire.as_bytes());
        let finals = conversation.server_lines.iter().filter(|l| l.as_bytes().get(3) != Some(&b'-')).count();
        assert_eq!(replies.len(), finals, "{context}: reply count");
        let mut encoded = BytesMut::new();
        for reply in replies {
            reply.unwrap_or_else(|e| panic!("{context}: {e}")).encode(&mut encoded).unwrap();
        }
        assert_eq!(String::from_utf8_lossy(&encoded), server_wire, "{context}: replies re-encoded");
    }
    conversations.len()
}

#[test]
fn rfc5321_appendix_d() {
    let count = replay("rfc5321-appendix-d.md", include_str!("transcripts/rfc5321-appendix-d.md"));
    assert_eq!(count, 5);
}

#[test]
fn classic_conversations() {
    let count = replay("classic.md", include_str!("transcripts/classic.md"));
    assert_eq!(count, 6);
}
