//! Command parsing from a raw, pipelined byte stream.
//!
//! The corpus is a few thousand CRLF-terminated command lines (EHLO, MAIL FROM with
//! SIZE/BODY, RCPT TO with NOTIFY/ORCPT, RSET, NOOP, VRFY, QUIT, some verbs in lower
//! case), generated deterministically, so every run measures the same bytes.
//!
//! * `smtp-sansio`: `LineFramer::commands()` + `Command::parse` over the whole buffer,
//!   framing included (the crate docs' driver loop, walking an offset into a `&[u8]`
//!   instead of splitting a `BytesMut`).
//! * `smtp-proto`: `Request::parse` over the same buffer (it frames by itself).
//! * `mailrs-smtp-proto/presplit`: `parse_command` over lines that were split, stripped
//!   of CRLF and UTF-8 checked *before* timing. This is an advantage: it does no
//!   framing and no UTF-8 validation in the timed loop.
//! * `mailrs-smtp-proto/framed`: the same, with the split, CRLF strip and UTF-8 check
//!   done inside the timed loop, as a server would have to.
//!
//! Every parser must parse the same number of commands with no error (checked once
//! before timing). Throughput is the bytes of the wire buffer for all of them.

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use smtp_sansio::{Command, Framed, LineFramer, ParseOptions};

#[path = "support/ratio.rs"]
mod ratio;
#[path = "support/rng.rs"]
mod rng;

use rng::Rng;

/// Number of command lines in the corpus.
const LINES: usize = 4000;

const SENDER_DOMAINS: &[&str] =
    &["example.com", "mail.example.org", "newsletters.example.net", "smtp-out.corp.example", "lists.example.io"];
const RCPT_DOMAINS: &[&str] =
    &["example.org", "inbound.example.com", "mx1.example.net", "users.example.edu", "department.example.co.uk"];
const LOCAL_PARTS: &[&str] =
    &["alice", "bob.smith", "carol+tag", "dave_jones", "eve-ops", "frank.o.neil", "grace", "heidi.w", "bounces-4821"];

/// Writes one verb, sometimes in lower case.
fn verb(out: &mut String, rng: &mut Rng, upper: &str) {
    if rng.chance(15) {
        out.push_str(&upper.to_ascii_lowercase());
    } else {
        out.push_str(upper);
    }
}

fn mailbox(rng: &mut Rng, domains: &[&str], n: usize) -> String {
    let local = LOCAL_PARTS[rng.below(LOCAL_PARTS.len() as u64) as usize];
    let domain = domains[rng.below(domains.len() as u64) as usize];
    format!("{local}{n}@{domain}")
}

/// The pipelined corpus: sessions of EHLO, transactions of MAIL + RCPTs, with RSET,
/// NOOP and VRFY mixed in, and QUIT at the end of each session.
fn corpus() -> Vec<u8> {
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let mut text = String::new();
    let mut lines = 0;
    let mut n = 0;
    while lines < LINES {
        n += 1;
        // A session.
        verb(&mut text, &mut rng, "EHLO");
        text.push_str(&format!(" client{n}.{}\r\n", SENDER_DOMAINS[n % SENDER_DOMAINS.len()]));
        lines += 1;
        for _ in 0..1 + rng.below(4) {
            // A transaction.
            verb(&mut text, &mut rng, "MAIL");
            text.push_str(" FROM:<");
            text.push_str(&mailbox(&mut rng, SENDER_DOMAINS, n));
            text.push('>');
            if rng.chance(80) {
                text.push_str(&format!(" SIZE={}", 1000 + rng.below(5_000_000)));
            }
            if rng.chance(60) {
                text.push_str(if rng.chance(80) { " BODY=8BITMIME" } else { " BODY=7BIT" });
            }
            text.push_str("\r\n");
            lines += 1;
            for r in 0..1 + rng.below(5) {
                verb(&mut text, &mut rng, "RCPT");
                let to = mailbox(&mut rng, RCPT_DOMAINS, r as usize);
                text.push_str(" TO:<");
                text.push_str(&to);
                text.push('>');
                if rng.chance(30) {
                    text.push_str(if rng.chance(50) { " NOTIFY=SUCCESS,FAILURE" } else { " NOTIFY=FAILURE,DELAY" });
                }
                if rng.chance(20) {
                    // `+` has to be written as xtext `+2B`.
                    text.push_str(&format!(" ORCPT=rfc822;{}", to.replace('+', "+2B")));
                }
                text.push_str("\r\n");
                lines += 1;
            }
            if rng.chance(15) {
                verb(&mut text, &mut rng, "NOOP");
                text.push_str("\r\n");
                lines += 1;
            }
            if rng.chance(25) {
                verb(&mut text, &mut rng, "RSET");
                text.push_str("\r\n");
                lines += 1;
            }
        }
        if rng.chance(20) {
            verb(&mut text, &mut rng, "VRFY");
            text.push_str(&format!(" {}\r\n", LOCAL_PARTS[rng.below(LOCAL_PARTS.len() as u64) as usize]));
            lines += 1;
        }
        verb(&mut text, &mut rng, "QUIT");
        text.push_str("\r\n");
        lines += 1;
    }
    text.into_bytes()
}

/// Ours: framer + parser, the driver loop over an offset. Returns (commands, errors).
fn parse_ours(buf: &[u8], options: &ParseOptions) -> (usize, usize) {
    let mut framer = LineFramer::commands();
    let (mut commands, mut errors) = (0, 0);
    let mut offset = 0;
    loop {
        match framer.next_line(&buf[offset..]) {
            Framed::Line { len, consumed } => {
                let command = Command::parse(&buf[offset..offset + len], options);
                errors += usize::from(command.is_err());
                let _ = black_box(command);
                commands += 1;
                offset += consumed;
            }
            Framed::LineTooLong { consumed } | Framed::BareLf { consumed } => {
                errors += 1;
                offset += consumed;
            }
            Framed::Incomplete { discard } => {
                offset += discard;
                break;
            }
        }
    }
    // Every byte was a whole line.
    errors += usize::from(offset != buf.len());
    (commands, errors)
}

/// smtp-proto: `Request::parse` over the whole buffer. Returns (commands, errors).
fn parse_smtp_proto(buf: &[u8]) -> (usize, usize) {
    let mut it = buf.iter();
    let (mut commands, mut errors) = (0, 0);
    loop {
        let before = it.as_slice().len();
        if before == 0 {
            break;
        }
        match smtp_proto::Request::<Cow<'_, str>>::parse(&mut it) {
            Ok(request) => {
                let _ = black_box(request);
                commands += 1;
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => {
                // An incomplete last line: should not happen with this corpus.
                errors += 1;
                break;
            }
            Err(error) => {
                let _ = black_box(error);
                commands += 1;
                errors += 1;
            }
        }
    }
    (commands, errors)
}

/// Splits the buffer into lines without their CRLF, as `&str` (mailrs-smtp-proto's input).
fn split_lines(buf: &[u8]) -> Vec<&str> {
    buf.split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let line = std::str::from_utf8(line).expect("corpus is UTF-8");
            line.strip_suffix("\r\n").expect("corpus is CRLF-terminated")
        })
        .collect()
}

/// mailrs-smtp-proto over pre-split lines. Returns (commands, errors).
fn parse_mailrs_presplit(lines: &[&str]) -> (usize, usize) {
    let (mut commands, mut errors) = (0, 0);
    for line in lines {
        let command = mailrs_smtp_proto::parse_command(line);
        errors += usize::from(command.is_err());
        let _ = black_box(command);
        commands += 1;
    }
    (commands, errors)
}

/// mailrs-smtp-proto with the caller's framing (split at LF, strip CRLF, UTF-8 check)
/// inside the loop. Returns (commands, errors).
fn parse_mailrs_framed(buf: &[u8]) -> (usize, usize) {
    let (mut commands, mut errors) = (0, 0);
    let mut rest = buf;
    while let Some(lf) = memchr::memchr(b'\n', rest) {
        let (line, tail) = rest.split_at(lf + 1);
        rest = tail;
        let command = match line.strip_suffix(b"\r\n").map(std::str::from_utf8) {
            Some(Ok(line)) => mailrs_smtp_proto::parse_command(line).map_err(|_| ()),
            _ => Err(()),
        };
        errors += usize::from(command.is_err());
        let _ = black_box(command);
        commands += 1;
    }
    errors += usize::from(!rest.is_empty());
    (commands, errors)
}

fn command_parsing(c: &mut Criterion) {
    let buf = corpus();
    let options = ParseOptions::default();
    let lines = split_lines(&buf);

    // Like for like: every parser sees the same commands and accepts all of them.
    let ours = parse_ours(&buf, &options);
    let peer = parse_smtp_proto(&buf);
    let mailrs = parse_mailrs_presplit(&lines);
    let mailrs_framed = parse_mailrs_framed(&buf);
    eprintln!(
        "corpus: {} bytes, {} lines; commands (parsed, errors): smtp-sansio {ours:?}, smtp-proto {peer:?}, \
         mailrs presplit {mailrs:?}, mailrs framed {mailrs_framed:?}",
        buf.len(),
        lines.len()
    );
    assert_eq!(ours, (lines.len(), 0), "smtp-sansio");
    assert_eq!(peer, (lines.len(), 0), "smtp-proto");
    assert_eq!(mailrs, (lines.len(), 0), "mailrs-smtp-proto presplit");
    assert_eq!(mailrs_framed, (lines.len(), 0), "mailrs-smtp-proto framed");

    let mut group = c.benchmark_group("command_parsing");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("smtp-sansio", |b| {
        b.iter(|| {
            let (commands, _) = parse_ours(black_box(&buf), &options);
            commands
        })
    });
    group.bench_function("smtp-proto", |b| {
        b.iter(|| {
            let (commands, _) = parse_smtp_proto(black_box(&buf));
            commands
        })
    });
    group.bench_function("mailrs-smtp-proto/presplit", |b| {
        b.iter(|| {
            let (commands, _) = parse_mailrs_presplit(black_box(&lines));
            commands
        })
    });
    group.bench_function("mailrs-smtp-proto/framed", |b| {
        b.iter(|| {
            let (commands, _) = parse_mailrs_framed(black_box(&buf));
            commands
        })
    });
    group.finish();
}

criterion_group!(benches, command_parsing);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::report(
        "command_parsing",
        "smtp-sansio",
        &["smtp-proto", "mailrs-smtp-proto/presplit", "mailrs-smtp-proto/framed"],
    );
    if ratio::whole_run() {
        let buf = corpus();
        let options = ParseOptions::default();
        let lines = split_lines(&buf);
        ratio::paired(
            "command_parsing",
            2000,
            &mut || {
                black_box(parse_ours(black_box(&buf), &options));
            },
            &mut [
                ("smtp-proto", &mut || {
                    black_box(parse_smtp_proto(black_box(&buf)));
                }),
                ("mailrs-smtp-proto/presplit", &mut || {
                    black_box(parse_mailrs_presplit(black_box(&lines)));
                }),
                ("mailrs-smtp-proto/framed", &mut || {
                    black_box(parse_mailrs_framed(black_box(&buf)));
                }),
            ],
        );
    }
}
