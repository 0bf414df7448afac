//! What a server session costs in memory: an idle session's size and heap, and heap
//! allocations per command once a connection is in its steady state, counted by a
//! global allocator that tallies each thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use smtp_sansio::Output;
use smtp_sansio::server::{ServerConfig, ServerSession};

/// Counts the allocations of the thread that runs a test, and nothing else: the test
/// harness allocates on other threads meanwhile.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn tally(allocations: usize, bytes: isize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + allocations));
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        tally(1, layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        tally(0, -(layout.size() as isize));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        tally(1, new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs the session until it waits, accepting every decision. Returns the bytes sent.
fn drive(session: &mut ServerSession) -> usize {
    let mut sent = 0;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent += bytes.len(),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    session.accept(ticket).expect("decision");
                }
            }
            Output::Wait(_) | Output::Closed => return sent,
            other => panic!("{other:?}"),
        }
    }
}

const TRANSACTION: &[u8] = b"MAIL FROM:<alice@example.net> SIZE=2000\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org> NOTIFY=NEVER\r\nDATA\r\n";
const BODY: &[u8] = b"Subject: steady\r\n\r\nline one\r\n..line two\r\n.\r\nRSET\r\nNOOP\r\n";

#[test]
fn an_idle_session_holds_at_most_1_kib() {
    // The configuration is shared by every session of a server, so it is not counted.
    let server = ServerConfig::new("mx.example.org").build().unwrap();
    let before = live_bytes();
    let mut session = ServerSession::new(&server);
    drive(&mut session);
    session.handle_input(b"EHLO client.example.net\r\n");
    drive(&mut session);
    let heap = (live_bytes() - before) as usize;
    let total = heap + size_of::<ServerSession>();
    eprintln!("idle session: {} bytes inline + {heap} on the heap", size_of::<ServerSession>());
    assert!(total <= 1024, "an idle session holds {total} bytes");
    drop(session);
}

#[test]
fn commands_allocate_nothing_in_the_steady_state() {
    let mut session = ServerSession::new(&ServerConfig::new("mx.example.org").build().unwrap());
    drive(&mut session);
    session.handle_input(b"EHLO client.example.net\r\n");
    drive(&mut session);
    // Two warm-up transactions let every buffer reach its working size.
    for _ in 0..2 {
        session.handle_input(TRANSACTION);
        drive(&mut session);
        session.handle_input(BODY);
        drive(&mut session);
    }
    let before = allocations();
    let rounds = 100;
    let mut sent = 0;
    for _ in 0..rounds {
        session.handle_input(TRANSACTION);
        sent += drive(&mut session);
        session.handle_input(BODY);
        sent += drive(&mut session);
    }
    let allocations = allocations() - before;
    assert!(sent > 0);
    // Seven commands a round: MAIL, two RCPT, DATA, the body's end, RSET, NOOP.
    let commands = rounds * 7;
    assert_eq!(allocations, 0, "{allocations} allocations for {commands} commands");
}

// Issue 9, defect 10: an LMTP session kept each recipient as a slice of the read it
// arrived in, until the message ended: 100 recipients in 60 KB reads pinned 6 MiB.
#[test]
fn lmtp_recipients_hold_only_their_own_line() {
    let mut config = ServerConfig::new("mx.example.org");
    config.lmtp = true;
    let server = config.build().unwrap();
    let mut session = ServerSession::new(&server);
    drive(&mut session);
    session.handle_input(b"LHLO client.example.net\r\nMAIL FROM:<alice@example.net>\r\n");
    drive(&mut session);
    let before = live_bytes();
    let filler = "NOOP\r\n".repeat(10_000);
    for n in 0..100 {
        // Each recipient arrives at the front of a 60 KB read.
        let read = format!("RCPT TO:<r{n}@example.org>\r\n{filler}");
        session.handle_input(read.as_bytes());
        drive(&mut session);
    }
    let held = live_bytes() - before;
    eprintln!("100 LMTP recipients hold {held} bytes");
    assert!(held < 256 * 1024, "100 recipients hold {held} bytes");
    session.handle_input(b"DATA\r\nhi\r\n.\r\n");
    drive(&mut session);
}
