//! Review 3: adversarial tests of the front-line defences. Both failed on the reviewed
//! revision (a huge chunk after a refused one was read in full; an LMTP last chunk over
//! 1 MiB got one 552 for several recipients) and are regression tests now.

mod support;

use support::server::{accept_all, config, run};

// After a chunk that passes the size limit (552, the transaction refused), a further
// chunk over 1 MiB is read only to be dropped: the "over 1 MiB closes" defence is
// bypassed, and `BDAT 18446744073709551615` keeps the session reading forever.
#[test]
fn a_huge_chunk_after_a_refused_one_closes_too() {
    let mut small = config();
    small.max_message_size = Some(100);
    let mut client = b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 200\r\n".to_vec();
    client.extend_from_slice(&[b'x'; 200]);
    client.extend_from_slice(b"BDAT 2000000 LAST\r\n");
    let run = run(&small, &client, &accept_all);
    assert!(run.sent.matches("552 5.3.4").count() == 2, "the huge chunk is not answered at once: {}", run.sent);
}

// LMTP: a final BDAT chunk over the limit and over 1 MiB gets one 552 only, where RFC
// 2033 section 4.2 wants one reply per accepted recipient after the last chunk (as the
// same chunk under 1 MiB gets).
#[test]
fn lmtp_huge_last_chunk_gets_one_reply_per_recipient() {
    let mut lmtp = config();
    lmtp.lmtp = true;
    lmtp.max_message_size = Some(100);
    let head = "LHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n";
    let small = run(&lmtp, format!("{head}BDAT 200 LAST\r\n{}", "x".repeat(200)).as_bytes(), &accept_all);
    let small_552 = small.sent.matches("552 ").count();
    assert_eq!(small_552, 2, "{}", small.sent);
    let huge = run(&lmtp, format!("{head}BDAT 2000000 LAST\r\n").as_bytes(), &accept_all);
    assert_eq!(huge.sent.matches("552 ").count(), 2, "one reply per recipient: {}", huge.sent);
}
