//! Every decision schedule of small conversations: at each point where the session
//! waits for the application, every held decision may be made next, or the next read
//! (or the end of input) may come first. All of them must give the replies and events
//! of deciding at once. (Larger conversations get the eight fixed and random schedules
//! of `support::server::run`, which every server test uses.)

mod support;

use smtp_sansio::server::{ServerConfig, ServerEvent};
use smtp_sansio::{Reply, ReplyCode};
use support::server::{Schedule, Verdict, config, explore_every_schedule, run_scheduled};

fn decide(event: &ServerEvent) -> Verdict {
    let no = |code: u16, text: &'static str| Verdict::Reject(Reply::new(ReplyCode::new(code).unwrap(), text));
    match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<no") => no(550, "5.1.1 No such user"),
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<grey") => no(450, "4.7.1 Later"),
        ServerEvent::Mail { command, .. } if command.from().to_string().contains("<spam") => no(550, "5.7.1 No"),
        _ => Verdict::Accept,
    }
}

/// Explores `pieces` exhaustively and returns how many schedules there were.
fn explore(config: &ServerConfig, pieces: &[&[u8]]) -> usize {
    let expected = run_scheduled(config, pieces, b"", &decide, Schedule::Immediate);
    assert!(expected.closed);
    let explored = explore_every_schedule(config, pieces, &decide, &expected, 50_000);
    assert!(explored > 1, "no decision was ever held");
    explored
}

#[test]
fn every_schedule_of_a_pipelined_transaction() {
    let pieces: [&[u8]; 3] = [
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<one@example.org>\r\n",
        b"RCPT TO:<nobody@example.org>\r\nRCPT TO:<grey@example.org>\r\nDATA\r\nSubject: x\r\n",
        b"\r\nbody\r\n.\r\nQUIT\r\n",
    ];
    let explored = explore(&config(), &pieces);
    eprintln!("{explored} schedules");
}

#[test]
fn every_schedule_of_two_transactions_with_a_refused_sender() {
    let pieces: [&[u8]; 2] = [
        b"EHLO c.example\r\nMAIL FROM:<spam@example.net>\r\nRCPT TO:<one@example.org>\r\nDATA\r\n",
        b"MAIL FROM:<a@example.net>\r\nRCPT TO:<one@example.org>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\n",
    ];
    explore(&config(), &pieces);
}

#[test]
fn every_schedule_of_lmtp_with_bdat() {
    let mut config = config();
    config.lmtp = true;
    let pieces: [&[u8]; 2] = [
        b"LHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<one@example.org>\r\nRCPT TO:<nobody@example.org>\r\n",
        b"RCPT TO:<two@example.org>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde",
    ];
    explore(&config, &pieces);
}

#[test]
fn every_schedule_of_auth_then_mail() {
    let mut config = config();
    config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain];
    config.plaintext_auth = true;
    let pieces: [&[u8]; 2] = [
        b"EHLO c.example\r\nAUTH PLAIN AHRpbQBzZWNyZXQ=\r\n",
        b"MAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.org>\r\nQUIT\r\n",
    ];
    explore(&config, &pieces);
}

#[test]
fn every_schedule_of_a_421_among_pipelined_recipients() {
    let decide_421 = |event: &ServerEvent| match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<two") => {
            Verdict::Reject(Reply::new(ReplyCode::new(421).unwrap(), "4.3.2 Going down"))
        }
        event => decide(event),
    };
    let pieces: [&[u8]; 2] = [
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<one@example.org>\r\nRCPT TO:<two@example.org>\r\n",
        b"RCPT TO:<three@example.org>\r\nDATA\r\n",
    ];
    let expected = run_scheduled(&config(), &pieces, b"", &decide_421, Schedule::Immediate);
    assert!(expected.sent.ends_with("250 2.1.5 Recipient OK\r\n421 4.3.2 Going down\r\n"), "{}", expected.sent);
    explore_every_schedule(&config(), &pieces, &decide_421, &expected, 50_000);
}
