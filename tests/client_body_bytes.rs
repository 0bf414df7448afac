//! A body pushed as `Bytes` (`ClientSession::push_body_bytes`) against the same body
//! pushed as `&[u8]` (`push_body`): our server receives the same bytes, the client writes
//! the same wire bytes (`BDAT` chunk sizes included) and reports the same outcomes, for
//! DATA and BDAT, SMTP and LMTP, with and without PIPELINING, line endings repaired or
//! not; and the runs of a body that need no change reach the driver as slices of it.

mod support;

use bytes::Bytes;
use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use smtp_sansio::server::ServerConfig;
use smtp_sansio::wire::{ForwardPath, ReversePath};
use support::XorShift;
use support::pair::{Push, run_pair_pushing};
use support::server::{Schedule, accept_all};

fn envelope(to: &[&str]) -> Envelope {
    let from = ReversePath::parse("<a@example.net>").unwrap().into_owned();
    Envelope::new(from, to.iter().map(|to| ForwardPath::parse(to).unwrap().into_owned()))
}

/// Bodies with what the encoder must change: dots at line starts, bare CR and LF, a
/// lookalike of the end of data, no final CRLF; and a long one with nothing to change.
fn bodies() -> Vec<Vec<u8>> {
    let mut rng = XorShift::new(2033);
    let mut bodies = vec![
        b"Subject: one\r\n\r\n.leading dot\r\n..two\r\n.\r\nnot the end\r\nlast\r\n".to_vec(),
        b"bare\nline\rendings\n.\nand\r.\rno final CRLF".to_vec(),
        b"\r\n.\r\n".to_vec(),
        Vec::new(),
    ];
    let mut long = Vec::new();
    while long.len() < 20_000 {
        if rng.below(10) == 0 {
            long.push(b'.');
        }
        long.extend((0..40 + rng.below(40)).map(|_| b'a' + rng.below(26) as u8));
        long.extend_from_slice(match rng.below(50) {
            0 => b"\n",
            1 => b"\r",
            _ => b"\r\n",
        });
    }
    bodies.push(long);
    bodies.push(b"clean line\r\n".repeat(2000));
    bodies
}

#[test]
fn a_body_pushed_as_bytes_arrives_as_when_pushed_as_a_slice() {
    let bodies = bodies();
    for lmtp in [false, true] {
        for bdat in [false, true] {
            for pipelining in [true, false] {
                for normalize in [true, false] {
                    let mut client = ClientConfig::new("client.example.net");
                    client.lmtp = lmtp;
                    client.prefer_bdat = bdat;
                    client.normalize_line_endings = normalize;
                    let mut server = ServerConfig::new("mx.example.org");
                    server.lmtp = lmtp;
                    server.pipelining = pipelining;
                    server.max_message_size = None;
                    let messages: Vec<(Envelope, Vec<u8>)> = bodies
                        .iter()
                        .map(|body| (envelope(&["<b@example.org>", "<c@example.org>"]), body.clone()))
                        .collect();
                    let mode = format!("lmtp {lmtp}, bdat {bdat}, pipelining {pipelining}, normalize {normalize}");
                    for (piece, split) in [(usize::MAX, 0), (1, 3), (7, 0), (600, 5), (4096, 0)] {
                        let run = |push| {
                            let schedule = Schedule::Immediate;
                            run_pair_pushing(&client, &server, &messages, piece, split, &accept_all, schedule, push)
                        };
                        let (copied, sliced) = (run(Push::Copied), run(Push::Sliced));
                        let context = format!("{mode}, pieces of {piece}, split {split}");
                        assert!(copied.client_bytes == sliced.client_bytes, "{context}: the wire bytes differ");
                        assert_eq!(copied.bodies, sliced.bodies, "{context}: the server received different bodies");
                        assert_eq!(copied.client, sliced.client, "{context}: the client's events differ");
                        assert_eq!(copied.server, sliced.server, "{context}: the server's events differ");
                        // And the bodies arrived (bare endings refused when sent raw by DATA).
                        assert!(copied.bodies.len() >= 3, "{context}: {:?}", copied.client);
                    }
                }
            }
        }
    }
}

/// Drives one session against a scripted server that accepts everything, pushing `body`
/// as `Bytes` in one piece; returns every `Transmit` the session handed out.
fn transmits(config: ClientConfig, body: &Bytes) -> Vec<Bytes> {
    let mut session = ClientSession::new(&config.build().unwrap());
    session.send(envelope(&["<b@example.org>"]).for_body(body));
    session.quit();
    let ehlo: &[u8] = b"250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
    let mut replies: Vec<&[u8]> = vec![b"220 mx.example.org\r\n", ehlo, b"250 OK\r\n250 OK\r\n"];
    replies.extend([&b"354 Go\r\n"[..], b"250 Queued\r\n", b"221 Bye\r\n"]);
    replies.reverse();
    let mut sent = Vec::new();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.push(bytes),
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                session.push_body_bytes(body.clone()).unwrap();
                session.end_body().unwrap();
            }
            Output::Event(_) => {}
            Output::Wait(_) => match replies.pop() {
                Some(reply) => session.handle_input(reply),
                None => session.handle_eof(),
            },
            Output::Closed => return sent,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// How many bytes of `body` went out as slices of it, and the shortest of those slices.
fn sliced(sent: &[Bytes], body: &Bytes) -> (usize, usize) {
    let range = body.as_ptr_range();
    let slices: Vec<&Bytes> = sent.iter().filter(|piece| range.contains(&piece.as_ptr())).collect();
    (slices.iter().map(|piece| piece.len()).sum(), slices.iter().map(|piece| piece.len()).min().unwrap_or(0))
}

#[test]
fn clean_runs_reach_the_driver_as_slices_of_the_body() {
    // 64 KiB of lines, one in twenty starting with a dot (stuffed), two bare LFs (made
    // CRLF): everything but the stuffing dots and the added CRs goes out as the body itself.
    let mut rng = XorShift::new(5);
    let mut body = Vec::new();
    while body.len() < 64 << 10 {
        if rng.below(20) == 0 {
            body.push(b'.');
        }
        body.extend((0..70).map(|_| b'a' + rng.below(26) as u8));
        body.extend_from_slice(if body.len() % 31_000 < 72 { b"\n" } else { b"\r\n" });
    }
    let body = Bytes::from(body);
    for bdat in [false, true] {
        let mut config = ClientConfig::new("client.example.net");
        config.prefer_bdat = bdat;
        let sent = transmits(config, &body);
        let (bytes, shortest) = sliced(&sent, &body);
        // Runs under 512 octets are copied into the session's buffer; the rest are slices.
        assert!(shortest >= 512, "bdat {bdat}: a slice of {shortest} octets");
        assert!(bytes > body.len() * 9 / 10, "bdat {bdat}: only {bytes} of {} octets went as slices", body.len());
        // What went is the body, stuffed for DATA, with CRLF line endings.
        let wire = sent.concat();
        let expected_start: &[u8] = if bdat { b"BDAT " } else { b"DATA\r\n" };
        let at = wire.windows(expected_start.len()).position(|w| w == expected_start).unwrap();
        assert!(!wire[at..].windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "bdat {bdat}: a bare LF went");
    }
}

#[test]
fn a_body_with_nothing_to_change_goes_as_one_slice_whatever_the_mode() {
    let body = Bytes::from(b"clean line\r\n".repeat(1000));
    for (bdat, normalize) in [(false, true), (false, false), (true, true), (true, false)] {
        let mut config = ClientConfig::new("client.example.net");
        config.prefer_bdat = bdat;
        config.normalize_line_endings = normalize;
        let sent = transmits(config, &body);
        let whole = sent.iter().filter(|piece| piece.as_ptr() == body.as_ptr() && piece.len() == body.len()).count();
        assert_eq!(whole, 1, "bdat {bdat}, normalize {normalize}: {} pieces", sent.len());
    }
}
