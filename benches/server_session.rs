//! A whole server session: a pipelined, multi-transaction script processed end to end
//! (framing, parsing, state, reply encoding), with the peers on the same script.
//!
//! The script is one connection: `EHLO`, then 200 transactions of `MAIL FROM`, one to
//! four `RCPT TO`, `DATA`, a body of ten to thirty lines (one in ten dot-stuffed) and
//! the final dot, with a `NOOP` or `RSET` now and then, and `QUIT`. No ESMTP
//! parameters: mailin accepts none but `BODY`.
//!
//! * `smtp-sansio`: `ServerSession` fed the raw script in 16 KiB reads, every decision
//!   accepted at once, every reply encoded (the bytes are counted), body chunks
//!   counted.
//! * `mailrs-smtp-proto`: `parse_command` + `Session::handle_command` over lines that
//!   were split, stripped of CRLF and UTF-8 checked *before* timing (an advantage: no
//!   framing in the timed loop); body lines through `unstuff_line`; every reply
//!   formatted as its `Response` says.
//! * `mailin`: `Session::process` over the same pre-split lines (with CRLF, as it
//!   wants), a `Handler` counting body bytes; every reply encoded.
//!
//! Before timing, all three must see the same number of commands and body bytes.
//! Throughput is in commands (body lines are not commands). The allocations each
//! makes per command are counted with a counting global allocator and printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use smtp_sansio::Output;
use smtp_sansio::server::{Server, ServerConfig, ServerEvent, ServerSession, SyncChecks};

#[path = "support/ratio.rs"]
mod ratio;
#[path = "support/rng.rs"]
mod rng;

use rng::Rng;

/// Counts allocations, to report them per command.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TRANSACTIONS: usize = 200;
const READ: usize = 16 << 10;

/// The script, and how many commands it holds.
fn script() -> (Vec<u8>, usize) {
    let mut rng = Rng(0x5E55_1017_CAFE_0001);
    let mut s = String::from("EHLO client.example.net\r\n");
    let mut commands = 1;
    for t in 0..TRANSACTIONS {
        s.push_str(&format!("MAIL FROM:<sender{t}@example.net>\r\n"));
        commands += 1;
        for r in 0..1 + rng.below(4) {
            s.push_str(&format!("RCPT TO:<user{r}.{t}@example.org>\r\n"));
            commands += 1;
        }
        s.push_str("DATA\r\n");
        commands += 1;
        s.push_str(&format!("From: <sender{t}@example.net>\r\nSubject: message {t}\r\n\r\n"));
        for line in 0..10 + rng.below(21) {
            if rng.chance(10) {
                s.push('.');
            }
            s.push_str(&format!("Line {line} of the message, with some words to make it look like text.\r\n"));
        }
        // Dot-stuffed as a client would send it.
        let body_start = s.rfind("From: <").expect("body");
        let stuffed = s[body_start..].replace("\r\n.", "\r\n..");
        s.truncate(body_start);
        s.push_str(&stuffed);
        s.push_str(".\r\n");
        commands += 1; // the final dot is answered like a command
        if rng.chance(20) {
            s.push_str(if rng.chance(50) { "NOOP\r\n" } else { "RSET\r\n" });
            commands += 1;
        }
    }
    s.push_str("QUIT\r\n");
    commands += 1;
    (s.into_bytes(), commands)
}

/// (commands answered, body bytes, reply bytes)
type Tally = (usize, usize, usize);

fn run_ours(server: &Server, script: &[u8]) -> Tally {
    let mut session = ServerSession::new(server);
    let mut reads = script.chunks(READ);
    let (mut decisions, mut body, mut sent) = (0, 0, 0);
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent += black_box(bytes.len()),
            Output::Event(ServerEvent::BodyChunk(chunk)) => body += black_box(chunk.len()),
            Output::Event(
                ServerEvent::Mail { ticket, .. }
                | ServerEvent::Rcpt { ticket, .. }
                | ServerEvent::Data { ticket }
                | ServerEvent::MessageEnd { ticket },
            ) => {
                decisions += 1;
                let _ = session.accept(ticket);
            }
            Output::Event(_) => {}
            Output::Wait(_) => match reads.next() {
                Some(read) => session.handle_input(read),
                None => session.handle_eof(),
            },
            Output::Closed => break,
            Output::StartTls | Output::Pending(_) | Output::Idle => unreachable!("every decision is made at once"),
        }
    }
    // Decisions are MAIL, RCPT, DATA and the end of each message; the rest are EHLO,
    // NOOP/RSET and QUIT, counted from the replies' side below.
    (decisions, body, sent)
}

/// Lines split before timing: (line without CRLF, as UTF-8) for mailrs, raw for mailin.
fn split(script: &[u8]) -> (Vec<&str>, Vec<&[u8]>) {
    let raw: Vec<&[u8]> = script.split_inclusive(|&b| b == b'\n').collect();
    let text =
        raw.iter().map(|line| std::str::from_utf8(line).expect("UTF-8").strip_suffix("\r\n").expect("CRLF")).collect();
    (text, raw)
}

fn run_mailrs(lines: &[&str]) -> Tally {
    use mailrs_smtp_proto::{
        Command, Event, Response, Session, SessionConfig, format_ehlo_response, parse_command, unstuff_line,
    };
    let mut session = Session::new(
        "mx.example.org",
        SessionConfig { require_tls_for_auth: false, max_recipients: 100, ..SessionConfig::default() },
    );
    let mut sent = Response::greeting(&session.hostname).format_greeting().len();
    let (mut commands, mut body) = (0, 0);
    let mut in_data = false;
    let mut crlf_line = String::new();
    for line in lines {
        if in_data {
            // `unstuff_line` wants the CRLF.
            crlf_line.clear();
            crlf_line.push_str(line);
            crlf_line.push_str("\r\n");
            match unstuff_line(crlf_line.as_bytes()) {
                Some(data) => body += black_box(data.len()),
                None => {
                    in_data = false;
                    commands += 1;
                    sent += black_box(Response::data_ok().format().len());
                }
            }
            continue;
        }
        commands += 1;
        let command = match parse_command(line) {
            Ok(command) => command,
            Err(_) => {
                sent += Response::syntax_error().format().len();
                continue;
            }
        };
        match session.handle_command(&command) {
            Event::Reply(reply) if matches!(command, Command::Ehlo(_)) => {
                let _ = reply;
                sent += format_ehlo_response(&session.hostname, &session.capabilities()).len();
            }
            Event::Reply(reply) => sent += black_box(reply.format().len()),
            Event::NeedData { .. } => {
                sent += Response::data_start().format().len();
                in_data = true;
            }
            Event::Shutdown(reply) => {
                sent += reply.format().len();
                break;
            }
            Event::StartTls(reply) | Event::AuthChallenge { response: reply, .. } => sent += reply.format().len(),
            Event::NeedAuth { .. } => {}
        }
    }
    (commands, body, sent)
}

#[derive(Default)]
struct MailinCounter {
    body: usize,
}

impl mailin::Handler for &mut MailinCounter {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.body += black_box(buf.len());
        Ok(())
    }
}

fn run_mailin(lines: &[&[u8]]) -> Tally {
    let mut counter = MailinCounter::default();
    let (mut commands, mut sent) = (0, 0);
    {
        let mut session =
            mailin::SessionBuilder::new("mx.example.org").build(IpAddr::V4(Ipv4Addr::LOCALHOST), &mut counter);
        let mut out = Vec::with_capacity(256);
        session.greeting().write_to(&mut out).expect("write to a Vec");
        for line in lines {
            let response = session.process(line);
            if response.action == mailin::Action::NoReply {
                continue;
            }
            commands += 1;
            out.clear();
            response.write_to(&mut out).expect("write to a Vec");
            sent += black_box(out.len());
            if response.action == mailin::Action::Close {
                break;
            }
        }
    }
    (commands, counter.body, sent)
}

/// Allocations one call of `run` makes, per command.
fn allocations_per_command(commands: usize, run: impl FnOnce()) -> f64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run();
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / commands as f64
}

/// The server under test: the defaults, without the synchronisation checks (the script
/// is a whole connection handed over in reads cut anywhere, as the peers get it, not a
/// client waiting for its replies).
fn server() -> Server {
    let mut config = ServerConfig::new("mx.example.org");
    config.sync_checks = SyncChecks::NONE;
    config.build().expect("a valid configuration")
}

fn server_session(c: &mut Criterion) {
    let (script, commands) = script();
    let config = server();
    let (text_lines, raw_lines) = split(&script);

    // Like for like: the same commands and the same body bytes for all three.
    let (decisions, body, sent) = run_ours(&config, &script);
    let others = commands - decisions;
    let (mailrs_commands, mailrs_body, mailrs_sent) = run_mailrs(&text_lines);
    let (mailin_commands, mailin_body, mailin_sent) = run_mailin(&raw_lines);
    eprintln!(
        "script: {} bytes, {commands} commands ({decisions} decided, {others} answered by the session), {body} body bytes; \
         replies: smtp-sansio {sent} B, mailrs {mailrs_sent} B, mailin {mailin_sent} B",
        script.len()
    );
    assert_eq!(mailrs_commands, commands, "mailrs-smtp-proto commands");
    assert_eq!(mailin_commands, commands, "mailin commands");
    assert_eq!(mailrs_body, body, "mailrs-smtp-proto body bytes");
    assert_eq!(mailin_body, body, "mailin body bytes");

    // Allocations, counted on a warm second run of each.
    let ours = allocations_per_command(commands, || {
        black_box(run_ours(&config, &script));
    });
    let mailrs = allocations_per_command(commands, || {
        black_box(run_mailrs(&text_lines));
    });
    let mailin = allocations_per_command(commands, || {
        black_box(run_mailin(&raw_lines));
    });
    eprintln!(
        "heap allocations per command (whole session, connection setup included): smtp-sansio {ours:.2}, \
         mailrs-smtp-proto {mailrs:.2}, mailin {mailin:.2}"
    );

    let mut group = c.benchmark_group("server_session");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(commands as u64));
    group.bench_function("smtp-sansio", |b| b.iter(|| run_ours(&config, black_box(&script))));
    group.bench_function("mailrs-smtp-proto", |b| b.iter(|| run_mailrs(black_box(&text_lines))));
    group.bench_function("mailin", |b| b.iter(|| run_mailin(black_box(&raw_lines))));
    group.finish();
}

criterion_group!(benches, server_session);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::report("server_session", "smtp-sansio", &["mailrs-smtp-proto", "mailin"]);
    if ratio::whole_run() {
        let (script, _) = script();
        let config = server();
        let (text_lines, raw_lines) = split(&script);
        ratio::paired(
            "server_session",
            2000,
            &mut || {
                black_box(run_ours(&config, black_box(&script)));
            },
            &mut [
                ("mailrs-smtp-proto", &mut || {
                    black_box(run_mailrs(black_box(&text_lines)));
                }),
                ("mailin", &mut || {
                    black_box(run_mailin(black_box(&raw_lines)));
                }),
            ],
        );
    }
}
