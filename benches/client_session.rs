//! The client side: whole transactions against the server in memory, and
//! dot-stuffing a large body compared with copying it.
//!
//! * `transactions/smtp-sansio`: one connection, 100 messages of 1 KiB to 2 recipients
//!   each, pipelined: `ClientSession` and `ServerSession` wired together, every reply
//!   and command encoded and parsed, the body stuffed and unstuffed. Throughput is in
//!   messages.
//! * `dot_stuffing`: a 4 MiB body (text lines of 70 to 78 octets, one in twenty starting
//!   with `.`) encoded in 64 KiB pieces, bare line endings normalised (the default).
//!   `DataEncoder/copy`: from `&[u8]` pieces into a buffer cleared after each piece.
//!   `DataEncoder/bytes`: from `Bytes` pieces (slices of one buffer, made before timing)
//!   with `encode_bytes` into a `Vec<Bytes>` cleared after each piece: the runs that need
//!   no change are slices, so the cost is the scan and the pieces' reference counts.
//!   `memcpy`: the same pieces copied into the same buffer: the floor for touching every
//!   byte once. Besides criterion's means, the bench prints how many times memcpy's time
//!   each encoder takes, paired round by round (`ratio::paired_times`).

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group};
use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use smtp_sansio::server::{Server, ServerConfig, ServerEvent, ServerSession};
use smtp_sansio::wire::{ForwardPath, ReversePath};
use smtp_sansio::{DataDecoder, DataEncoder, Decoded};

#[path = "support/ratio.rs"]
mod ratio;
#[path = "support/rng.rs"]
mod rng;

use rng::Rng;

const MESSAGES: usize = 100;

/// A body of text lines, `size` octets or a little more, some starting with a dot.
fn body(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut body = Vec::with_capacity(size + 80);
    while body.len() < size {
        if rng.chance(5) {
            body.push(b'.');
        }
        let len = 70 + rng.below(9) as usize;
        body.extend((0..len).map(|i| if i % 6 == 5 { b' ' } else { b'a' + (rng.below(26) as u8) }));
        body.extend_from_slice(b"\r\n");
    }
    body
}

/// Runs one connection of `MESSAGES` messages; returns the messages accepted.
fn transactions(client_config: &ClientConfig, server: &Server, envelope: &Envelope, message: &[u8]) -> usize {
    let mut client = ClientSession::new(&client_config.clone().build().unwrap());
    let mut server = ServerSession::new(server);
    for _ in 0..MESSAGES {
        client.send(envelope.clone());
    }
    client.quit();
    let (mut accepted, mut received) = (0, 0);
    let (mut client_done, mut server_done) = (false, false);
    while !(client_done && server_done) {
        let mut progress = false;
        loop {
            match client.poll_output() {
                Output::Transmit(bytes) => server.handle_input(&bytes),
                Output::Event(ClientEvent::BodyWanted { .. }) => {
                    let _ = client.push_body(message);
                    let _ = client.end_body();
                }
                Output::Event(ClientEvent::Accepted { .. }) => accepted += 1,
                Output::Event(_) => {}
                Output::Closed => client_done = true,
                _ => break,
            }
            progress = true;
            if client_done {
                break;
            }
        }
        loop {
            match server.poll_output() {
                Output::Transmit(bytes) => client.handle_input(&bytes),
                Output::Event(ServerEvent::BodyChunk(chunk)) => received += black_box(chunk.len()),
                Output::Event(event) => {
                    if let Some(ticket) = event.ticket() {
                        let _ = server.accept(ticket);
                    }
                }
                Output::Closed => server_done = true,
                Output::Wait(_) if client_done => server.handle_eof(),
                _ => break,
            }
            progress = true;
            if server_done {
                break;
            }
        }
        assert!(progress, "stuck");
    }
    black_box(received);
    accepted
}

fn stuff(pieces: &[&[u8]], out: &mut BytesMut) -> usize {
    let mut encoder = DataEncoder::new();
    let mut total = 0;
    for piece in pieces {
        encoder.encode(piece, out);
        total += black_box(out.len());
        out.clear();
    }
    encoder.finish(out);
    total + out.len()
}

/// Encodes `Bytes` pieces into slices of them; returns the bytes encoded.
fn stuff_bytes(pieces: &[Bytes], out: &mut Vec<Bytes>) -> usize {
    let mut encoder = DataEncoder::new();
    let mut total = 0;
    for piece in pieces {
        encoder.encode_bytes(piece.clone(), out);
        total += black_box(out.iter().map(Bytes::len).sum::<usize>());
        out.clear();
    }
    encoder.finish(out);
    total + out.drain(..).map(|piece| piece.len()).sum::<usize>()
}

fn copy(pieces: &[&[u8]], out: &mut BytesMut) -> usize {
    let mut total = 0;
    for piece in pieces {
        out.extend_from_slice(piece);
        total += black_box(out.len());
        out.clear();
    }
    total
}

fn client_session(c: &mut Criterion) {
    let from = ReversePath::parse("<sender@example.net>").unwrap().into_owned();
    let to = ["<alice@example.org>", "<bob@example.org>"].map(|t| ForwardPath::parse(t).unwrap().into_owned());
    let message = body(1024, 7);
    let envelope = Envelope::new(from, to).for_body(&message);
    let client_config = ClientConfig::new("client.example.net");
    let server_config = ServerConfig::new("mx.example.org").build().expect("a valid configuration");
    assert_eq!(transactions(&client_config, &server_config, &envelope, &message), MESSAGES);

    // Dot-stuffing: the decoder must give the body back.
    let large = body(4 << 20, 11);
    let pieces: Vec<&[u8]> = large.chunks(64 << 10).collect();
    let mut wire = BytesMut::new();
    let mut encoder = DataEncoder::new();
    for piece in &pieces {
        encoder.encode(piece, &mut wire);
    }
    encoder.finish(&mut wire);
    // The same bytes from `Bytes` pieces, as slices of them.
    let large_bytes = Bytes::from(large.clone());
    let byte_pieces: Vec<Bytes> =
        (0..large.len()).step_by(64 << 10).map(|at| large_bytes.slice(at..large.len().min(at + (64 << 10)))).collect();
    let mut sliced: Vec<Bytes> = Vec::new();
    let mut encoder = DataEncoder::new();
    for piece in &byte_pieces {
        encoder.encode_bytes(piece.clone(), &mut sliced);
    }
    encoder.finish(&mut sliced);
    assert!(sliced.concat() == wire[..], "encode_bytes and encode differ");
    let mut decoder = DataDecoder::new();
    let mut decoded = Vec::new();
    while let Some(Decoded::Data(chunk)) = decoder.decode(&mut wire) {
        decoded.extend_from_slice(&chunk);
    }
    assert!(decoder.is_finished() && decoded == large, "stuffing does not round-trip");

    let mut group = c.benchmark_group("transactions");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("smtp-sansio", |b| {
        b.iter(|| transactions(&client_config, &server_config, black_box(&envelope), black_box(&message)))
    });
    group.finish();

    let mut group = c.benchmark_group("dot_stuffing");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Bytes(large.len() as u64));
    let mut out = BytesMut::with_capacity(128 << 10);
    let mut slices: Vec<Bytes> = Vec::with_capacity(1024);
    group.bench_function("DataEncoder/copy", |b| b.iter(|| stuff(black_box(&pieces), &mut out)));
    group.bench_function("DataEncoder/bytes", |b| b.iter(|| stuff_bytes(black_box(&byte_pieces), &mut slices)));
    group.bench_function("memcpy", |b| b.iter(|| copy(black_box(&pieces), &mut out)));
    group.finish();

    if ratio::whole_run() {
        let mut copied = BytesMut::with_capacity(128 << 10);
        ratio::paired_times(
            "dot_stuffing",
            1000,
            &mut [
                ("DataEncoder/copy", &mut || {
                    ratio::seconds(|| {
                        black_box(stuff(black_box(&pieces), &mut out));
                    })
                }),
                ("DataEncoder/bytes", &mut || {
                    ratio::seconds(|| {
                        black_box(stuff_bytes(black_box(&byte_pieces), &mut slices));
                    })
                }),
                ("memcpy", &mut || {
                    ratio::seconds(|| {
                        black_box(copy(black_box(&pieces), &mut copied));
                    })
                }),
            ],
            &[("DataEncoder/copy", "memcpy"), ("DataEncoder/bytes", "memcpy")],
        );
    }
}

criterion_group!(benches, client_session);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::report("dot_stuffing", "DataEncoder/copy", &["memcpy"]);
    ratio::report("dot_stuffing", "DataEncoder/bytes", &["memcpy"]);
}
