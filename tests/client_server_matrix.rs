//! Our client against our server in memory, in every combination of modes: {SMTP,
//! LMTP} x {DATA, BDAT} x {PIPELINING offered, not} x {plain, STARTTLS + AUTH} x
//! {accepted, refused recipient, refused body, greylisted}, each with the server's
//! decisions made at once, late and out of order, and the transmissions whole and cut
//! at random. Every message must get its right outcome and nothing may hang (the pair
//! driver fails when both sides are stuck or the run does not finish).

mod support;

use smtp_sansio::client::{ClientConfig, ClientCredentials, Envelope, TlsPolicy};
use smtp_sansio::sasl::{Credentials, Mechanism};
use smtp_sansio::server::{ServerConfig, ServerEvent};
use smtp_sansio::wire::{ForwardPath, ReversePath};
use smtp_sansio::{Reply, ReplyCode};
use support::pair::{PairRun, run_pair_scheduled};
use support::server::{Schedule, Verdict};

const BODY: &[u8] = b"Subject: matrix\r\n\r\n.leading dot\r\nline\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    RefusedRecipient,
    RefusedBody,
    Greylisted,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    lmtp: bool,
    bdat: bool,
    pipelining: bool,
    secure: bool,
    outcome: Outcome,
}

fn configs(mode: Mode) -> (ClientConfig, ServerConfig) {
    let mut server = ServerConfig::new("mx.example.org");
    server.lmtp = mode.lmtp;
    server.pipelining = mode.pipelining;
    let mut client = ClientConfig::new("client.example.net");
    client.lmtp = mode.lmtp;
    client.prefer_bdat = mode.bdat;
    if mode.secure {
        server.starttls = true;
        server.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        client.starttls = TlsPolicy::Required;
        client.credentials = Some(ClientCredentials::Password { username: "tim".into(), password: "pw".into() });
    }
    (client, server)
}

fn decide(outcome: Outcome) -> impl Fn(&ServerEvent) -> Verdict {
    move |event| {
        let no = |code: u16, text: &'static str| Verdict::Reject(Reply::new(ReplyCode::new(code).unwrap(), text));
        match (event, outcome) {
            (ServerEvent::Auth { credentials, .. }, _) => match &**credentials {
                Credentials::Password { username, password, .. } if username == "tim" && password == "pw" => {
                    Verdict::Accept
                }
                _ => no(535, "5.7.8 Bad credentials"),
            },
            (ServerEvent::Rcpt { command, .. }, Outcome::RefusedRecipient)
                if command.to().to_string().contains("nobody") =>
            {
                no(550, "5.1.1 No such user")
            }
            (ServerEvent::Rcpt { .. }, Outcome::Greylisted) => no(450, "4.7.1 Greylisted, try again later"),
            (ServerEvent::MessageEnd { .. } | ServerEvent::Delivery { .. }, Outcome::RefusedBody) => {
                no(554, "5.6.0 Content refused")
            }
            _ => Verdict::Accept,
        }
    }
}

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|e| e.starts_with(prefix)).count()
}

fn messages() -> Vec<(Envelope, Vec<u8>)> {
    let from = ReversePath::parse("<a@example.net>").unwrap().into_owned();
    let to = |t: &str| ForwardPath::parse(t).unwrap().into_owned();
    (0..2)
        .map(|_| (Envelope::new(from.clone(), [to("<b@example.org>"), to("<nobody@example.org>")]), BODY.to_vec()))
        .collect()
}

/// Checks one run against what `mode` must give.
fn check(mode: Mode, run: &PairRun) {
    let client = &run.client;
    let context = format!("{mode:?}: client events {client:#?}");
    assert_eq!(client.last().map(String::as_str), Some("Closed { reason: Quit }"), "{context}");
    assert_eq!(count(client, "Recipient"), 4, "every RCPT gets its outcome: {context}");
    let refused_rcpts = client.iter().filter(|e| e.starts_with("Recipient") && e.contains("code: ReplyCode(5")).count();
    let deferred_rcpts =
        client.iter().filter(|e| e.starts_with("Recipient") && e.contains("code: ReplyCode(4")).count();
    match mode.outcome {
        Outcome::Accepted | Outcome::RefusedRecipient => {
            assert_eq!(run.bodies, [BODY.to_vec(), BODY.to_vec()], "{context}");
            let accepted_rcpts = if mode.outcome == Outcome::Accepted { 2 } else { 1 };
            assert_eq!(refused_rcpts, 4 - 2 * accepted_rcpts, "{context}");
            match mode.lmtp {
                true => {
                    assert_eq!(count(client, "Delivery"), 2 * accepted_rcpts, "{context}");
                    assert!(
                        !client.iter().any(|e| e.starts_with("Delivery") && !e.contains("ReplyCode(250)")),
                        "{context}"
                    );
                }
                false => assert_eq!(count(client, "Accepted"), 2, "{context}"),
            }
            assert_eq!(count(client, "Failed"), 0, "{context}");
        }
        Outcome::RefusedBody => {
            assert_eq!(run.bodies, [BODY.to_vec(), BODY.to_vec()], "the server read both bodies: {context}");
            assert_eq!(count(client, "Accepted"), 0, "{context}");
            match mode.lmtp {
                true => {
                    assert_eq!(count(client, "Delivery"), 4, "{context}");
                    assert!(
                        client.iter().filter(|e| e.starts_with("Delivery")).all(|e| e.contains("ReplyCode(554)")),
                        "{context}"
                    );
                }
                false => assert_eq!(count(client, "Failed"), 2, "{context}"),
            }
        }
        Outcome::Greylisted => {
            assert!(run.bodies.is_empty(), "no body goes to a server that took no recipient: {context}");
            assert_eq!(deferred_rcpts, 4, "{context}");
            assert_eq!(count(client, "Failed"), 2, "{context}");
            assert_eq!(count(client, "Accepted") + count(client, "Delivery"), 0, "{context}");
        }
    }
    if mode.secure {
        let sent = String::from_utf8_lossy(&run.client_bytes);
        let tls = sent.find("STARTTLS\r\n").expect("STARTTLS sent");
        let auth = sent.find("AUTH ").expect("AUTH sent");
        let mail = sent.find("MAIL FROM").expect("MAIL sent");
        assert!(tls < auth && auth < mail, "{context}");
    }
}

const SCHEDULES: [Schedule; 5] =
    [Schedule::Immediate, Schedule::ReverseAtEnd, Schedule::Random(1), Schedule::Random(2), Schedule::Random(3)];

fn every_mode() -> Vec<Mode> {
    let mut modes = Vec::new();
    for lmtp in [false, true] {
        for bdat in [false, true] {
            for pipelining in [true, false] {
                for secure in [false, true] {
                    for outcome in
                        [Outcome::Accepted, Outcome::RefusedRecipient, Outcome::RefusedBody, Outcome::Greylisted]
                    {
                        modes.push(Mode { lmtp, bdat, pipelining, secure, outcome });
                    }
                }
            }
        }
    }
    modes
}

#[test]
fn every_combination_of_modes_gets_its_outcome_under_every_schedule() {
    let modes = every_mode();
    assert_eq!(modes.len(), 64);
    for mode in modes {
        let (client, server) = configs(mode);
        let decide = decide(mode.outcome);
        for schedule in SCHEDULES {
            for (split, piece) in [(0, usize::MAX), (3, 5), (9, 64)] {
                let run = run_pair_scheduled(&client, &server, &messages(), piece, split, &decide, schedule);
                check(mode, &run);
            }
        }
    }
}

#[test]
fn lmtp_with_bdat_client_and_server_agree_on_the_replies() {
    let mode = Mode { lmtp: true, bdat: true, pipelining: true, secure: false, outcome: Outcome::RefusedRecipient };
    let (client, server) = configs(mode);
    let run =
        run_pair_scheduled(&client, &server, &messages(), usize::MAX, 0, &decide(mode.outcome), Schedule::Immediate);
    check(mode, &run);
    let sent = String::from_utf8_lossy(&run.client_bytes);
    assert!(sent.contains("BDAT 0 LAST\r\n"), "{sent}");
}
