//! The conversations in `tests/transcripts/` (RFC 5321 Appendix D and classic
//! tutorials), replayed through both directions of the grammar.
//!
//! The client's side goes through the line framer, the command parser and, after
//! `DATA`, the DATA decoder; the server's side goes through the reply parser. Each
//! stream is fed whole, byte by byte and split at random, and everything must
//! re-encode to the exact bytes of the transcript.

mod support;

use bytes::BytesMut;
use smtp_sansio::{Command, DataDecoder, Framed, LineFramer, ParseOptions};
use support::conversation::{client_stream, conversations};
use support::{decode_data, replies_all_ways, split_invariant};

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
