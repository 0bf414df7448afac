//! DATA body decoding: a 4 MiB dot-stuffed message arriving in 64 KiB reads.
//!
//! The message is a header section and then text lines of 70 to 78 octets, about one
//! in twenty starting with `.` (so stuffed as `..` on the wire), generated
//! deterministically and ended by `<CRLF>.<CRLF>`.
//!
//! * `smtp-sansio`: each read lands in the input `BytesMut` the way a driver's
//!   `read_buf` puts it there, with no copy of its own: before timing, the wire bytes
//!   are placed in one buffer and cut into 64 KiB reads, and the timed loop joins each
//!   read onto the input (`BytesMut::unsplit`, which is free for neighbouring pieces).
//!   Then `DataDecoder::decode` runs until `None`. Each chunk's length is black-boxed
//!   (the chunks are zero-copy slices of the input buffer).
//! * `smtp-proto`: `DataReceiver::ingest` on each read, primed with `"\r\n"` as its
//!   notes require. It appends the decoded bytes to a `Vec`; after each read the
//!   decoded bytes are "flushed" (length black-boxed, `Vec` drained) except a trailing
//!   CR, which the receiver may still pop if it turns out to be part of the
//!   terminator. So both decoders stream with a small, cache-resident buffer.
//! * `memmem`: a plain `memchr::memmem::find(read, b"\r\n.\r\n")` over the same
//!   reads, stopping at the first read that holds the terminator. No copy, no
//!   unstuffing, no terminator straddling reads: the floor for "find the end".
//! * `memcpy`: a plain copy of each read into a buffer, for scale: the cost of
//!   touching every byte once, which `smtp-proto` pays on top of its search.
//!
//! Throughput is the wire size for all of them. Besides criterion's means, the bench
//! prints, paired round by round (`ratio::paired_times`: every contender once a round,
//! 300 rounds, the reads of ours landed before its timing starts), how many times
//! smtp-proto's and memmem's time ours takes.
//! Before timing, the decoded output of
//! `smtp-sansio` and `smtp-proto` is checked to be byte for byte the same (and equal
//! to the message that was stuffed).

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use smtp_proto::request::receiver::DataReceiver;
use smtp_sansio::{DataDecoder, Decoded};

#[path = "support/ratio.rs"]
mod ratio;
#[path = "support/rng.rs"]
mod rng;

use rng::Rng;

/// Decoded size of the message.
const BODY: usize = 4 << 20;
/// Size of one socket read.
const READ: usize = 64 << 10;
/// The end of data.
const TERMINATOR: &[u8] = b"\r\n.\r\n";

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
    "message",
    "delivery",
    "server",
    "Quarterly",
    "report,",
    "attached.",
    "Regards,",
    "meeting",
    "schedule",
    "(draft)",
    "invoice",
    "#4821",
    "2024-05-17",
];

/// Returns (wire bytes, decoded message). The wire form is dot-stuffed and ends with
/// `.<CRLF>` after the message's last CRLF.
fn message() -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x0DD5_EED5_1234_5678);
    let mut plain = Vec::with_capacity(BODY + 128);
    for header in [
        "Received: from client.example.net (client.example.net [192.0.2.25])\r\n\tby mx.example.org with ESMTPS id 4VqZ1k3Xyz; Fri, 17 May 2024 10:21:04 +0000\r\n",
        "From: Alice Example <alice@example.net>\r\n",
        "To: Bob Example <bob@example.org>\r\n",
        "Subject: Quarterly report and the meeting schedule\r\n",
        "Date: Fri, 17 May 2024 10:21:03 +0000\r\n",
        "Message-ID: <20240517102103.4821@client.example.net>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: 8bit\r\n",
        "\r\n",
    ] {
        plain.extend_from_slice(header.as_bytes());
    }
    let mut line = String::with_capacity(80);
    while plain.len() < BODY {
        let target = 70 + rng.below(9) as usize;
        line.clear();
        if rng.below(20) == 0 {
            line.push('.');
        }
        while line.len() < target {
            if !line.is_empty() && line != "." {
                line.push(' ');
            }
            line.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        }
        line.truncate(target);
        let line = line.trim_end();
        plain.extend_from_slice(line.as_bytes());
        plain.extend_from_slice(b"\r\n");
    }
    let mut wire = Vec::with_capacity(plain.len() + plain.len() / 32 + 8);
    for line in plain.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    (wire, plain)
}

/// The wire bytes in one buffer, cut into reads: what a driver's `read_buf` calls
/// leave behind, one read at a time.
fn landed_reads(wire: &[u8]) -> Vec<BytesMut> {
    let mut all = BytesMut::from(wire);
    let mut reads = Vec::with_capacity(wire.len() / READ + 1);
    while !all.is_empty() {
        reads.push(all.split_to(READ.min(all.len())));
    }
    reads
}

/// Ours: join each read onto the input, decode until `None`. Calls `sink` with each
/// chunk; returns (decoded bytes, finished, what is left of the input). The input goes
/// back to the caller so that freeing its buffer is not timed.
fn decode_ours(reads: Vec<BytesMut>, mut sink: impl FnMut(&[u8])) -> (usize, bool, BytesMut) {
    let mut input = BytesMut::new();
    let mut decoder = DataDecoder::new();
    let mut total = 0;
    for read in reads {
        input.unsplit(read);
        while let Some(decoded) = decoder.decode(&mut input) {
            if let Decoded::Data(chunk) = decoded {
                total += black_box(chunk.len());
                sink(&chunk);
            }
        }
        if decoder.is_finished() {
            break;
        }
    }
    (total, decoder.is_finished(), input)
}

/// smtp-proto: `DataReceiver` on each read, flushing its output after each read but
/// for a trailing CR. Calls `sink` with each flush; returns (decoded bytes, finished).
fn decode_smtp_proto(reads: &[&[u8]], out: &mut Vec<u8>, mut sink: impl FnMut(&[u8])) -> (usize, bool) {
    let mut receiver = DataReceiver::new();
    out.clear();
    // A fresh receiver does not know it is at a line start: tell it.
    receiver.ingest(&mut b"\r\n".iter(), out);
    out.clear();
    let mut total = 0;
    for read in reads {
        let mut bytes = read.iter();
        let done = receiver.ingest(&mut bytes, out);
        // The receiver pops the CR before the final LF out of `out`: keep a trailing
        // CR until the next read.
        let ready = out.len() - usize::from(!done && out.last() == Some(&b'\r'));
        total += black_box(ready);
        sink(&out[..ready]);
        out.drain(..ready);
        if done {
            return (total, true);
        }
    }
    (total, false)
}

/// The baseline: find `<CRLF>.<CRLF>` in each read. Returns its offset in the stream.
fn find_memmem(reads: &[&[u8]]) -> Option<usize> {
    let mut offset = 0;
    for read in reads {
        if let Some(at) = memchr::memmem::find(read, TERMINATOR) {
            return Some(offset + at);
        }
        offset += read.len();
    }
    None
}

/// Every read copied once into a buffer, for scale.
fn copy_only(reads: &[&[u8]], input: &mut BytesMut) -> usize {
    let mut total = 0;
    for read in reads {
        input.extend_from_slice(read);
        total += black_box(input.len());
        input.clear();
    }
    total
}

fn data_decoding(c: &mut Criterion) {
    let (wire, plain) = message();
    let reads: Vec<&[u8]> = wire.chunks(READ).collect();

    // Like for like: both decoders give the same bytes, which are the message.
    let mut ours = Vec::with_capacity(plain.len());
    let (total, finished, left) = decode_ours(landed_reads(&wire), |chunk| ours.extend_from_slice(chunk));
    assert!(finished && left.is_empty(), "smtp-sansio did not end cleanly: finished {finished}, {left:?} left");
    assert_eq!(total, ours.len());
    let mut peer = Vec::with_capacity(plain.len());
    let mut out = Vec::with_capacity(2 * READ);
    let (total, finished) = decode_smtp_proto(&reads, &mut out, |chunk| peer.extend_from_slice(chunk));
    assert!(finished, "smtp-proto did not find the end");
    assert_eq!(total, peer.len());
    assert!(ours == peer, "smtp-sansio and smtp-proto decoded different bytes");
    assert!(ours == plain, "decoded bytes are not the message");
    // The baseline finds the one terminator, at the very end, within the last read.
    assert_eq!(find_memmem(&reads), Some(wire.len() - TERMINATOR.len()));
    assert!(reads.last().unwrap().ends_with(TERMINATOR));
    let stuffed = plain.split_inclusive(|&b| b == b'\n').filter(|l| l.starts_with(b".")).count();
    eprintln!(
        "message: {} bytes on the wire, {} decoded, {stuffed} stuffed lines, {} reads of {READ} bytes",
        wire.len(),
        plain.len(),
        reads.len()
    );

    let mut group = c.benchmark_group("data_decoding");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("smtp-sansio", |b| {
        b.iter_batched(|| landed_reads(&wire), |reads| decode_ours(black_box(reads), |_| ()), BatchSize::LargeInput)
    });
    group.bench_function("smtp-proto", |b| b.iter(|| decode_smtp_proto(black_box(&reads), &mut out, |_| ()).0));
    group.bench_function("memmem", |b| b.iter(|| find_memmem(black_box(&reads))));
    let mut input = BytesMut::with_capacity(2 * READ);
    group.bench_function("memcpy", |b| b.iter(|| copy_only(black_box(&reads), &mut input)));
    group.finish();
}

criterion_group!(benches, data_decoding);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::report("data_decoding", "smtp-sansio", &["smtp-proto", "memmem", "memcpy"]);
    if ratio::whole_run() {
        paired();
    }
}

/// The paired comparison (see the module's documentation).
fn paired() {
    let (wire, _) = message();
    let reads: Vec<&[u8]> = wire.chunks(READ).collect();
    let mut out = Vec::with_capacity(2 * READ);
    let mut input = BytesMut::with_capacity(2 * READ);
    ratio::paired_times(
        "data_decoding",
        300,
        &mut [
            ("smtp-sansio", &mut || {
                let landed = landed_reads(&wire);
                let start = std::time::Instant::now();
                let decoded = black_box(decode_ours(black_box(landed), |_| ()));
                let elapsed = start.elapsed().as_secs_f64();
                // Freeing the input buffer is not timed, as in the criterion bench.
                drop(decoded);
                elapsed
            }),
            ("smtp-proto", &mut || {
                ratio::seconds(|| {
                    black_box(decode_smtp_proto(black_box(&reads), &mut out, |_| ()));
                })
            }),
            ("memmem", &mut || {
                ratio::seconds(|| {
                    black_box(find_memmem(black_box(&reads)));
                })
            }),
            ("memcpy", &mut || {
                ratio::seconds(|| {
                    black_box(copy_only(black_box(&reads), &mut input));
                })
            }),
        ],
        &[("smtp-sansio", "smtp-proto"), ("smtp-sansio", "memmem"), ("smtp-sansio", "memcpy")],
    );
}
