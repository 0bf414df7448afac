//! A quirk corpus for the client session: conversations with servers that behave the
//! way public reports show real ones behave (Gmail, Exchange Online, Exchange on
//! premises, Postfix, Exim, OpenSMTPD, Sendmail, Dovecot's LMTP, greylisting policy
//! services, middleboxes and servers that break PIPELINING). The servers' words are our
//! own, written in the style of those reports; what matters is the shape: multi-line
//! greetings and refusals, proprietary EHLO keywords, lower-case keywords, legacy
//! `AUTH=` lines, bare codes, codes such as `471`, greylisting on every recipient.
//!
//! Each case says exactly what the client must reach: its events (every message
//! accepted or failed, with the right failure and whether a retry can succeed), and
//! where it matters what it sent and when. Every server block is fed whole, byte by
//! byte, in pieces of 2, 3 and 7 octets and split at random: all must agree.

mod support;

use std::collections::VecDeque;

use smtp_sansio::client::{
    ClientCredentials, ClientEvent, ClientSession, CloseReason, Failure, LocalFailure, Stage, TlsPolicy,
};
use smtp_sansio::wire::{Capability, ForwardPath, MailParameters, RcptParameters};
use smtp_sansio::{Output, Reply};
use support::scripted::{BODY, TIMEOUT, b64, config, converse, converse_with, envelope, password};

fn code(reply: Option<&Reply>) -> Option<u16> {
    reply.map(|reply| reply.code().get())
}

fn enhanced(reply: &Reply) -> String {
    reply.enhanced().map(|status| status.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------
// Gmail
// ---------------------------------------------------------------------------------

const GMAIL_GREETING: &[u8] = b"220 smtp.gmail.com ESMTP q7-20020a17 - gsmtp\r\n";
const GMAIL_EHLO_PLAIN: &[u8] = b"250-smtp.gmail.com at your service, [198.51.100.23]\r\n\
250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n\
250-CHUNKING\r\n250 SMTPUTF8\r\n";
const GMAIL_EHLO_TLS: &[u8] = b"250-smtp.gmail.com at your service, [198.51.100.23]\r\n\
250-SIZE 35882577\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

/// Submission to Gmail on port 587: STARTTLS required, AUTH PLAIN over TLS, then the
/// envelope and DATA in one pipelined group, with the size declared.
#[test]
fn gmail_submission_starttls_auth_plain_and_a_pipelined_message() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let message = envelope("<alice@example.net>", &["<bob@gmail.com>"]).for_body(BODY);
    let run = converse(
        &config,
        &[(message, BODY)],
        &[
            GMAIL_GREETING,
            GMAIL_EHLO_PLAIN,
            b"220 2.0.0 Ready to start TLS\r\n",
            GMAIL_EHLO_TLS,
            b"235 2.7.0 Accepted\r\n",
            b"250 2.1.0 OK q7-20020a17 - gsmtp\r\n250 2.1.5 OK q7-20020a17 - gsmtp\r\n354  Go ahead q7-20020a17 - gsmtp\r\n",
            b"250 2.0.0 OK  1714990000 q7-20020a17 - gsmtp\r\n",
            b"221 2.0.0 closing connection q7-20020a17 - gsmtp\r\n",
        ],
    );
    let plain = b64("\0alice@example.net\0correct horse");
    assert_eq!(
        run.turns,
        [
            String::new(),
            "EHLO client.example.net\r\n".into(),
            "STARTTLS\r\n".into(),
            "EHLO client.example.net\r\n".into(),
            format!("AUTH PLAIN {plain}\r\n"),
            format!("MAIL FROM:<alice@example.net> SIZE={}\r\nRCPT TO:<bob@gmail.com>\r\nDATA\r\n", BODY.len()),
            format!("{}.\r\n", String::from_utf8_lossy(BODY)),
            "QUIT\r\n".into(),
            String::new(),
        ]
    );
    let (capabilities, tls, authenticated) = run.ready();
    assert!(tls && authenticated);
    assert_eq!(capabilities.size_limit(), Some(35_882_577));
    assert!(capabilities.has(&Capability::Chunking) && capabilities.has(&Capability::SmtpUtf8));
    assert_eq!(run.accepted(0).enhanced().map(|status| status.to_string()).as_deref(), Some("2.0.0"));
    assert_eq!(run.close_reason(), &CloseReason::Quit);
}

/// Gmail's MX limiting the sending rate: a multi-line `421 4.7.28` to the pipelined
/// MAIL, then the connection closes. Every message fails with the `421`, a retry can
/// succeed, and no QUIT goes to a server that is closing.
#[test]
fn gmail_rate_limit_421_fails_every_message_transiently_without_quit() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let messages = [
        (envelope("<news@example.net>", &["<bob@gmail.com>"]), BODY),
        (envelope("<news@example.net>", &["<carol@gmail.com>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            b"220 mx.google.com ESMTP a1si2345 - gsmtp\r\n",
            b"250-mx.google.com at your service, [198.51.100.23]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n\
250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
            b"421-4.7.28 [198.51.100.23] Mail from your address arrives at an unusual rate,\r\n\
421-4.7.28 so it is rate limited for now. Please retry later and read\r\n421 4.7.28 the guidelines for bulk senders. a1si2345 - gsmtp\r\n",
        ],
    );
    assert_eq!(
        run.sent(),
        "EHLO client.example.net\r\nMAIL FROM:<news@example.net>\r\nRCPT TO:<bob@gmail.com>\r\nDATA\r\n",
        "nothing after the 421, QUIT included"
    );
    for index in 0..2 {
        let failure = run.failure(index);
        assert!(failure.is_transient(), "{failure:?}");
        assert_eq!(code(failure.reply()), Some(421), "{failure:?}");
        assert_eq!(failure.reply().map(|reply| reply.lines().count()), Some(3));
    }
    match run.close_reason() {
        CloseReason::Rejected(reply) => assert_eq!(enhanced(reply), "4.7.28"),
        other => panic!("{other:?}"),
    }
    assert!(run.close_reason().is_transient());
}

/// Gmail refusing a message for policy after its data: a multi-line `550 5.7.1`. The
/// message fails for good with the whole reply; the next message goes after RSET.
#[test]
fn gmail_policy_550_after_the_data_is_permanent_and_the_next_message_follows_rset() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let messages = [
        (envelope("<alice@example.net>", &["<bob@gmail.com>"]), &b"Subject: win big\r\n\r\n!!!\r\n"[..]),
        (envelope("<alice@example.net>", &["<bob@gmail.com>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            b"220 mx.google.com ESMTP a1si2345 - gsmtp\r\n",
            b"250-mx.google.com at your service\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"250 2.1.0 OK a1si2345 - gsmtp\r\n250 2.1.5 OK a1si2345 - gsmtp\r\n354  Go ahead a1si2345 - gsmtp\r\n",
            b"550-5.7.1 [198.51.100.23] This message does not meet our policy for\r\n\
550-5.7.1 unsolicited mail and was not accepted. See the sender guidelines.\r\n550 5.7.1 a1si2345 - gsmtp\r\n",
            b"250 2.1.5 Flushed a1si2345 - gsmtp\r\n",
            b"250 2.1.0 OK a1si2345 - gsmtp\r\n250 2.1.5 OK a1si2345 - gsmtp\r\n354  Go ahead a1si2345 - gsmtp\r\n",
            b"250 2.0.0 OK  1714990001 a1si2345 - gsmtp\r\n",
            b"221 2.0.0 closing connection a1si2345 - gsmtp\r\n",
        ],
    );
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::EndOfData, reply } => {
            assert!(!failure.is_transient());
            assert_eq!(reply.code().get(), 550);
            assert_eq!(enhanced(reply), "5.7.1");
            assert_eq!(reply.lines().count(), 3);
        }
        other => panic!("{other:?}"),
    }
    run.accepted(1);
    assert_eq!(run.turns[4], "RSET\r\n");
    assert!(run.turns[5].starts_with("MAIL FROM:<alice@example.net>\r\n"), "{:?}", run.turns);
}

/// Gmail refusing the password: a multi-line `535 5.7.8`. Authentication was
/// required, so every queued message fails with the refusal, for good; QUIT goes and
/// no MAIL ever does.
#[test]
fn gmail_535_bad_credentials_fails_every_message_permanently_and_sends_no_mail() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let messages = [
        (envelope("<alice@example.net>", &["<bob@gmail.com>"]), BODY),
        (envelope("<alice@example.net>", &["<carol@gmail.com>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            GMAIL_GREETING,
            GMAIL_EHLO_PLAIN,
            b"220 2.0.0 Ready to start TLS\r\n",
            GMAIL_EHLO_TLS,
            b"535-5.7.8 Username and Password not accepted. For help, see\r\n535 5.7.8 the help centre on bad credentials. q7-20020a17 - gsmtp\r\n",
            b"221 2.0.0 closing connection q7-20020a17 - gsmtp\r\n",
        ],
    );
    let sent = run.sent();
    assert!(sent.ends_with("\r\nQUIT\r\n"), "{sent}");
    assert!(!sent.contains("MAIL FROM"), "{sent}");
    for index in 0..2 {
        match run.failure(index) {
            failure @ Failure::AuthFailed(Some(reply)) => {
                assert_eq!(reply.code().get(), 535);
                assert!(!failure.is_transient());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(run.close_reason(), CloseReason::AuthFailed(Some(reply)) if reply.code().get() == 535));
    assert!(!run.close_reason().is_transient());
    assert!(
        !run.events.iter().any(|event| matches!(event, ClientEvent::Ready { .. })),
        "never ready: {:?}",
        run.events
    );
}

/// A provider throttling logins: `454 4.7.0` to AUTH. Every message fails with it and
/// a retry can succeed; QUIT goes, MAIL never does.
#[test]
fn a_454_to_auth_fails_every_message_transiently_and_sends_no_mail() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let messages = [
        (envelope("<alice@example.net>", &["<bob@gmail.com>"]), BODY),
        (envelope("<alice@example.net>", &["<carol@gmail.com>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            GMAIL_GREETING,
            GMAIL_EHLO_PLAIN,
            b"220 2.0.0 Ready to start TLS\r\n",
            GMAIL_EHLO_TLS,
            b"454 4.7.0 Too many login attempts, please try again later. q7-20020a17 - gsmtp\r\n",
            b"221 2.0.0 closing connection q7-20020a17 - gsmtp\r\n",
        ],
    );
    let plain = b64("\0alice@example.net\0correct horse");
    assert_eq!(
        run.sent(),
        format!("EHLO client.example.net\r\nSTARTTLS\r\nEHLO client.example.net\r\nAUTH PLAIN {plain}\r\nQUIT\r\n")
    );
    for index in 0..2 {
        match run.failure(index) {
            failure @ Failure::AuthFailed(Some(reply)) => {
                assert_eq!(reply.code().get(), 454);
                assert!(failure.is_transient(), "{failure:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(run.close_reason().is_transient());
}

/// Gmail with CHUNKING and PIPELINING: with BDAT preferred, the body goes in chunks
/// without waiting between them, the last one marked LAST; no dot-stuffing.
#[test]
fn gmail_chunking_with_pipelining_sends_chunks_back_to_back() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    config.prefer_bdat = true;
    let body: &[u8] = b"Subject: dots\r\n\r\n.one\r\n.\r\ntwo\r\n";
    assert_eq!(body.len(), 17 + 14);
    let run = converse_with(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@gmail.com>"]), body)],
        &[
            b"220 mx.google.com ESMTP a1si2345 - gsmtp\r\n",
            b"250-mx.google.com at your service\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n",
            b"250 2.1.0 OK a1si2345 - gsmtp\r\n250 2.1.5 OK a1si2345 - gsmtp\r\n",
            b"250 2.0.0 17 bytes received\r\n250 2.0.0 14 bytes received\r\n250 2.0.0 OK  1714990002 a1si2345 - gsmtp\r\n",
            b"221 2.0.0 closing connection a1si2345 - gsmtp\r\n",
        ],
        17,
        true,
    );
    assert_eq!(run.turns[2], "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@gmail.com>\r\n");
    assert_eq!(run.turns[3], "BDAT 17\r\nSubject: dots\r\n\r\nBDAT 14\r\n.one\r\n.\r\ntwo\r\nBDAT 0 LAST\r\n");
    assert_eq!(run.turns[4], "QUIT\r\n");
    run.accepted(0);
}

// ---------------------------------------------------------------------------------
// Exchange Online and Exchange on premises
// ---------------------------------------------------------------------------------

const EXO_GREETING: &[u8] =
    b"220 AM6PR04CA0012.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, 6 May 2024 09:41:00 +0000\r\n";
const EXO_EHLO_PLAIN: &[u8] = b"250-AM6PR04CA0012.outlook.office365.com Hello [198.51.100.23]\r\n\
250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n\
250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";
const EXO_EHLO_TLS: &[u8] = b"250-AM6PR04CA0012.outlook.office365.com Hello [198.51.100.23]\r\n\
250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n\
250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

/// Exchange Online offers `AUTH LOGIN XOAUTH2` and no PLAIN: a password goes by LOGIN,
/// user name and password each after its own `334`.
#[test]
fn exchange_online_offers_login_and_xoauth2_so_a_password_goes_by_login() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            EXO_GREETING,
            EXO_EHLO_PLAIN,
            b"220 2.0.0 SMTP server ready\r\n",
            EXO_EHLO_TLS,
            b"334 VXNlcm5hbWU6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"235 2.7.0 Authentication successful\r\n",
            b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            b"250 2.0.0 OK <AM6PR04MB1234.eurprd04.prod.outlook.com> [Hostname=AM6PR04MB1234.eurprd04.prod.outlook.com]\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    assert_eq!(run.turns[4], "AUTH LOGIN\r\n");
    assert_eq!(run.turns[5], format!("{}\r\n", b64("alice@example.net")));
    assert_eq!(run.turns[6], format!("{}\r\n", b64("correct horse")));
    assert_eq!(run.turns[7], "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    assert!(run.ready().2, "authenticated");
    run.accepted(0);
}

/// Exchange Online with an OAuth token: XOAUTH2. Its access tokens run to well over a
/// kilobyte, so the initial response cannot fit a 512-octet AUTH line: `AUTH XOAUTH2`
/// goes alone and the response after the server's empty `334`.
#[test]
fn exchange_online_xoauth2_with_a_long_token_goes_after_the_334() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    let token = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.sig", "A".repeat(1400));
    config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: token.clone() });
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            EXO_GREETING,
            EXO_EHLO_PLAIN,
            b"220 2.0.0 SMTP server ready\r\n",
            EXO_EHLO_TLS,
            b"334 \r\n",
            b"235 2.7.0 Authentication successful\r\n",
            b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            b"250 2.0.0 OK <AM6PR04MB1234.eurprd04.prod.outlook.com>\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    let response = b64(&format!("user=alice@example.net\x01auth=Bearer {token}\x01\x01"));
    assert_eq!(run.turns[4], "AUTH XOAUTH2\r\n");
    assert_eq!(run.turns[5], format!("{response}\r\n"));
    run.accepted(0);
}

/// A short token still goes in the AUTH line, and XOAUTH2 is chosen for a token even
/// though LOGIN is offered first.
#[test]
fn exchange_online_xoauth2_with_a_short_token_goes_in_the_auth_line() {
    let mut config = config();
    config.implicit_tls = true;
    config.credentials = Some(ClientCredentials::Bearer { user: "alice@example.net".into(), token: "t0k3n".into() });
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            EXO_GREETING,
            EXO_EHLO_TLS,
            b"235 2.7.0 Authentication successful\r\n",
            b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            b"250 2.0.0 OK <AM6PR04MB1234.eurprd04.prod.outlook.com>\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    let response = b64("user=alice@example.net\x01auth=Bearer t0k3n\x01\x01");
    assert_eq!(run.turns[2], format!("AUTH XOAUTH2 {response}\r\n"));
    run.accepted(0);
}

const EXCHANGE_GREETING: &[u8] =
    b"220 mail.corp.example.com Microsoft ESMTP MAIL Service ready at Tue, 7 May 2024 08:00:00 +0200\r\n";

/// Exchange on premises lists proprietary keywords (`X-ANONYMOUSTLS`, `X-EXPS GSSAPI
/// NTLM`, `XEXCH50`, `XRDST`, `XSHADOWREQUEST`): they are kept as they are, taken for
/// no AUTH mechanism, and change nothing about the message.
#[test]
fn exchange_on_premises_proprietary_keywords_are_kept_and_ignored() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@corp.example.com>"]).for_body(BODY), BODY)],
        &[
            EXCHANGE_GREETING,
            b"250-mail.corp.example.com Hello [198.51.100.23]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n\
250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n\
250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n\
250 XSHADOWREQUEST\r\n",
            b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            b"250 2.6.0 <f00@mail.corp.example.com> [InternalId=123456789] Queued mail for delivery\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    let (capabilities, ..) = run.ready();
    for keyword in ["X-ANONYMOUSTLS", "XEXCH50", "XRDST", "XSHADOWREQUEST", "x-exps"] {
        assert!(capabilities.has_keyword(keyword), "{keyword} is kept: {capabilities:?}");
    }
    assert!(
        capabilities.has(&Capability::Other { keyword: "X-EXPS".into(), params: vec!["GSSAPI".into(), "NTLM".into()] })
    );
    assert_eq!(capabilities.auth_mechanisms(), ["NTLM"]);
    assert_eq!(
        run.turns[2],
        format!("MAIL FROM:<alice@example.net> SIZE={}\r\nRCPT TO:<bob@corp.example.com>\r\nDATA\r\n", BODY.len())
    );
    assert_eq!(enhanced(run.accepted(0)), "2.6.0");
}

/// Exchange on premises offering only NTLM (and GSSAPI under `X-EXPS`): no mechanism
/// fits a password, so with authentication required every message fails at once,
/// for good (retrying will not make NTLM appear), and nothing but QUIT is sent.
#[test]
fn exchange_on_premises_with_only_ntlm_fails_every_message_without_mail() {
    let mut config = config();
    config.starttls = TlsPolicy::Required;
    password(&mut config);
    let messages = [
        (envelope("<alice@example.net>", &["<bob@corp.example.com>"]), BODY),
        (envelope("<alice@example.net>", &["<carol@corp.example.com>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            EXCHANGE_GREETING,
            b"250-mail.corp.example.com Hello [198.51.100.23]\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250 8BITMIME\r\n",
            b"220 2.0.0 SMTP server ready\r\n",
            b"250-mail.corp.example.com Hello [198.51.100.23]\r\n250-PIPELINING\r\n250-AUTH NTLM\r\n\
250-X-EXPS GSSAPI NTLM\r\n250-XEXCH50\r\n250 8BITMIME\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    assert_eq!(
        run.sent(),
        "EHLO client.example.net\r\nSTARTTLS\r\nEHLO client.example.net\r\nQUIT\r\n",
        "no AUTH NTLM, no X-EXPS, no MAIL"
    );
    for index in 0..2 {
        let failure = run.failure(index);
        assert_eq!(failure, &Failure::AuthFailed(None));
        assert!(!failure.is_transient());
    }
    assert_eq!(run.close_reason(), &CloseReason::AuthFailed(None));
}

/// An Exchange connector that wants authentication answers a pipelined MAIL with
/// `530 5.7.57`, and the RCPT and DATA behind it with `503`: the message failed at
/// MAIL (not at RCPT or DATA), for good.
#[test]
fn exchange_530_to_a_pipelined_mail_fails_the_message_at_mail() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@corp.example.com>"]), BODY)],
        &[
            EXCHANGE_GREETING,
            b"250-mail.corp.example.com Hello [198.51.100.23]\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
            b"530 5.7.57 Client not authenticated to send mail during MAIL FROM\r\n\
503 5.5.2 Need mail command\r\n503 5.5.2 Need rcpt command\r\n",
            b"221 2.0.0 Service closing transmission channel\r\n",
        ],
    );
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::Mail, reply } => {
            assert_eq!((reply.code().get(), enhanced(reply).as_str()), (530, "5.7.57"));
            assert!(!failure.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert!(!run.sent().contains("Hi Bob"), "no body after a refused DATA");
    assert_eq!(run.close_reason(), &CloseReason::Quit);
}

// ---------------------------------------------------------------------------------
// EHLO replies in their many shapes
// ---------------------------------------------------------------------------------

/// Old servers (Exchange 2003, some qmail patches) announce AUTH in the legacy
/// `AUTH=LOGIN` form, alone or beside an `AUTH` line: it counts as offering LOGIN.
#[test]
fn a_legacy_auth_equals_line_offers_its_mechanisms() {
    let mut config = config();
    config.implicit_tls = true;
    password(&mut config);
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220 mail.example.org Microsoft ESMTP MAIL Service, Version: 6.0.3790.4675 ready\r\n",
            b"250-mail.example.org Hello [198.51.100.23]\r\n250-TURN\r\n250-SIZE\r\n250-ETRN\r\n250-PIPELINING\r\n\
250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-VRFY\r\n\
250-X-EXPS GSSAPI NTLM\r\n250-AUTH=LOGIN\r\n250-X-LINK2STATE\r\n250-XEXCH50\r\n250 OK\r\n",
            b"334 VXNlcm5hbWU6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"235 2.7.0 Authentication successful.\r\n",
            b"250 2.1.0 alice@example.net....Sender OK\r\n250 2.1.5 bob@example.org \r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            b"250 2.6.0 <queued@mail.example.org> Queued mail for delivery\r\n",
            b"221 2.0.0 mail.example.org Service closing transmission channel\r\n",
        ],
    );
    assert_eq!(run.turns[2], "AUTH LOGIN\r\n");
    assert_eq!(run.turns[3], format!("{}\r\n", b64("alice@example.net")));
    assert!(run.ready().2, "authenticated");
    run.accepted(0);

    // Both forms, as most servers of that time sent them: the mechanisms of the two
    // lines count together (LOGIN is only in the legacy one here).
    let run = converse(
        &config,
        &[],
        &[
            b"220 mail.example.org ESMTP\r\n",
            b"250-mail.example.org\r\n250-AUTH GSSAPI CRAM-MD5\r\n250-AUTH=LOGIN\r\n250 PIPELINING\r\n",
            b"334 VXNlcm5hbWU6\r\n",
            b"334 UGFzc3dvcmQ6\r\n",
            b"235 2.7.0 Authentication successful\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(run.turns[2], "AUTH LOGIN\r\n");
    assert!(run.ready().2, "authenticated");
}

/// Keywords in lower case (some older servers write them so) mean the same: PIPELINING
/// groups the envelope, `8bitmime` lets an 8-bit body go, `size` sets the limit a
/// bigger message is refused against before anything is sent.
#[test]
fn lower_case_keywords_mean_the_same() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let eight_bit: &[u8] = "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n".as_bytes();
    let big = vec![b'x'; 2000];
    let messages = [
        (envelope("<alice@example.net>", &["<bob@example.org>"]).for_body(&big), &big[..]),
        (envelope("<alice@example.net>", &["<bob@example.org>"]).for_body(eight_bit), eight_bit),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            b"220 mail.example.org ESMTP\r\n",
            b"250-mail.example.org\r\n250-pipelining\r\n250-8bitmime\r\n250 size 1000\r\n",
            b"250 ok\r\n250 ok\r\n354 go ahead\r\n",
            b"250 ok 1714990003 qp 4242\r\n",
            b"221 mail.example.org\r\n",
        ],
    );
    assert_eq!(run.failure(0), &Failure::Local(LocalFailure::TooBig));
    assert_eq!(
        run.turns[2],
        format!(
            "MAIL FROM:<alice@example.net> SIZE={} BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
            eight_bit.len()
        )
    );
    run.accepted(1);
}

/// `SIZE` with no value (Sendmail's default, old Exchange): the server takes SIZE but
/// declares no limit. A large declared size goes, and is declared.
#[test]
fn size_without_a_value_declares_no_limit() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let mut message = envelope("<alice@example.net>", &["<bob@example.org>"]);
    message.params.size = Some(60_000_000);
    let run = converse(
        &config,
        &[(message, BODY)],
        &[
            b"220 mail.example.org ESMTP Sendmail 8.17.1/8.17.1; Tue, 7 May 2024 08:00:00 GMT\r\n",
            b"250-mail.example.org Hello client.example.net [198.51.100.23], pleased to meet you\r\n\
250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250-ETRN\r\n\
250-DELIVERBY\r\n250 HELP\r\n",
            b"250 2.1.0 <alice@example.net>... Sender ok\r\n250 2.1.5 <bob@example.org>... Recipient ok\r\n\
354 Enter mail, end with \".\" on a line by itself\r\n",
            b"250 2.0.0 447I0abc012345 Message accepted for delivery\r\n",
            b"221 2.0.0 mail.example.org closing connection\r\n",
        ],
    );
    assert_eq!(run.ready().0.size_limit(), None);
    assert!(run.sent().contains("MAIL FROM:<alice@example.net> SIZE=60000000\r\n"), "{}", run.sent());
    run.accepted(0);
}

/// Replies with a bare code and no text: `250` ending the EHLO list, and to MAIL and
/// RCPT. The extensions before it still count (PIPELINING here) and the message goes.
#[test]
fn bare_250_lines_with_no_text_are_replies() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220 gw.example.org\r\n",
            b"250-gw.example.org\r\n250-PIPELINING\r\n250-8BITMIME\r\n250\r\n",
            b"250\r\n250\r\n354\r\n",
            b"250\r\n",
            b"221\r\n",
        ],
    );
    assert!(run.ready().0.has(&Capability::Pipelining));
    assert_eq!(run.turns[2], "MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    assert_eq!(run.accepted(0).code().get(), 250);
    assert_eq!(run.close_reason(), &CloseReason::Quit);
}

/// A greeting of several lines (Postfix with a multi-line banner, many ISPs): the
/// client waits for its last line before EHLO, however it arrives.
#[test]
fn a_multi_line_greeting_is_one_reply() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220-mx.example.org ESMTP Postfix (Debian/GNU)\r\n220-Unsolicited bulk mail is refused here.\r\n",
            b"220 Relaying only for our own users\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            b"250 2.0.0 Ok: queued as 4VqZ1k2Lm8z9sXY\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(run.turns[0..3], [String::new(), String::new(), "EHLO client.example.net\r\n".to_string()]);
    run.accepted(0);
}

/// `SMTPUTF8` followed by a word (some servers add one, though the keyword takes
/// none): still offered, so an internationalized address goes, with `SMTPUTF8` on MAIL.
#[test]
fn smtputf8_followed_by_a_word_is_still_offered() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<j\u{f6}rg@b\u{fc}cher.example>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8 enabled\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
            b"250 2.0.0 Ok: queued\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(
        run.turns[2],
        "MAIL FROM:<alice@example.net> SMTPUTF8\r\nRCPT TO:<j\u{f6}rg@b\u{fc}cher.example>\r\nDATA\r\n"
    );
    run.accepted(0);
}

// ---------------------------------------------------------------------------------
// Greylisting
// ---------------------------------------------------------------------------------

/// Postfix with postgrey: every recipient greylisted with `450 4.2.0`, and the
/// pipelined DATA answered `554 5.5.1 no valid recipients`. The message fails with
/// every recipient's reply, and a retry can succeed (the 554 to DATA does not make it
/// permanent).
#[test]
fn postgrey_greylisting_every_recipient_is_transient() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>", "<carol@example.org>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP Postfix\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n",
            b"250 2.1.0 Ok\r\n\
450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, come back in 300 seconds\r\n\
450 4.2.0 <carol@example.org>: Recipient address rejected: Greylisted, come back in 300 seconds\r\n\
554 5.5.1 Error: no valid recipients\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(run.recipients(0), [(0, 450), (1, 450)]);
    match run.failure(0) {
        failure @ Failure::NoRecipients { replies } => {
            assert_eq!(replies.iter().map(|reply| reply.code().get()).collect::<Vec<_>>(), [450, 450]);
            assert_eq!(enhanced(&replies[0]), "4.2.0");
            assert!(failure.is_transient(), "greylisting: retry later");
        }
        other => panic!("{other:?}"),
    }
    assert!(!run.sent().contains("Hi Bob"), "no body");
    assert_eq!(run.close_reason(), &CloseReason::Quit);
}

/// A Sendmail with milter-greylist and no PIPELINING: each RCPT on its own gets
/// `451 4.7.1`, so DATA is never sent; the next message gets `471 4.7.1` (a code
/// whose second digit is above 5, which real servers send). Both fail transiently,
/// and the second goes after RSET.
#[test]
fn greylisting_with_451_and_471_on_every_recipient_is_transient() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let messages = [
        (envelope("<alice@example.net>", &["<bob@example.org>", "<carol@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<dave@example.org>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            b"220 mail.example.org ESMTP Sendmail 8.17.1/8.17.1; Tue, 7 May 2024 08:00:00 GMT\r\n",
            b"250-mail.example.org Hello client.example.net [198.51.100.23], pleased to meet you\r\n\
250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
            b"250 2.1.0 <alice@example.net>... Sender ok\r\n",
            b"451 4.7.1 Greylisting in action, please come back in 00:05:00\r\n",
            b"451 4.7.1 Greylisting in action, please come back in 00:05:00\r\n",
            b"250 2.0.0 Reset state\r\n",
            b"250 2.1.0 <alice@example.net>... Sender ok\r\n",
            b"471 4.7.1 Try again later\r\n",
            b"221 2.0.0 mail.example.org closing connection\r\n",
        ],
    );
    assert_eq!(
        run.turns[2..9],
        [
            "MAIL FROM:<alice@example.net>\r\n",
            "RCPT TO:<bob@example.org>\r\n",
            "RCPT TO:<carol@example.org>\r\n",
            "RSET\r\n",
            "MAIL FROM:<alice@example.net>\r\n",
            "RCPT TO:<dave@example.org>\r\n",
            "QUIT\r\n",
        ]
    );
    for (index, codes) in [(0, vec![451, 451]), (1, vec![471])] {
        match run.failure(index) {
            failure @ Failure::NoRecipients { replies } => {
                assert_eq!(replies.iter().map(|reply| reply.code().get()).collect::<Vec<_>>(), codes);
                assert!(failure.is_transient(), "{failure:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Postfix, Exim, OpenSMTPD, Dovecot
// ---------------------------------------------------------------------------------

/// Postfix refusing the sender of a pipelined group: `553` to MAIL, then `503 need
/// MAIL` and `503 need RCPT` for the rest. The message failed at MAIL; the next one
/// goes after RSET.
#[test]
fn postfix_refused_sender_in_a_pipelined_group_fails_at_mail() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let messages = [
        (envelope("<promo@example.net>", &["<bob@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<bob@example.org>"]), BODY),
    ];
    let run = converse(
        &config,
        &messages,
        &[
            b"220 mx.example.org ESMTP Postfix\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n",
            b"553 5.7.1 <promo@example.net>: Sender address rejected: not owned by user\r\n\
503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            b"250 2.0.0 Ok: queued as 4VqZ1k2Lm8z9sXY\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    match run.failure(0) {
        failure @ Failure::Rejected { stage: Stage::Mail, reply } => {
            assert_eq!(reply.code().get(), 553);
            assert!(!failure.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.turns[3], "RSET\r\n");
    run.accepted(1);
}

/// Postfix's recipient limit: `452 4.5.3 too many recipients` for the third. The
/// message is accepted for the first two, and the event for the third says it can be
/// sent again (in another transaction).
#[test]
fn postfix_too_many_recipients_452_leaves_the_rest_to_retry() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<a@example.org>", "<b@example.org>", "<c@example.org>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP Postfix\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n\
354 End data with <CR><LF>.<CR><LF>\r\n",
            b"250 2.0.0 Ok: queued as 4VqZ1k2Lm8z9sXY\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(run.recipients(0), [(0, 250), (1, 250), (2, 452)]);
    run.accepted(0);
}

/// Exim, every recipient refused in a pipelined group, answers DATA with a multi-line
/// `503` that repeats the refusal. The message failed for its recipients (`550`,
/// permanent), not at DATA.
#[test]
fn exim_refusing_every_recipient_fails_the_message_for_its_recipients() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<nobody@example.org>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP Exim 4.97 Tue, 07 May 2024 08:00:00 +0000\r\n",
            b"250-mx.example.org Hello client.example.net [198.51.100.23]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-CHUNKING\r\n250-PRDR\r\n250 HELP\r\n",
            b"250 OK\r\n550 Unrouteable address\r\n503-Every RCPT was refused, with this error:\r\n\
503-550 Unrouteable address\r\n503 A valid RCPT must come before DATA\r\n",
            b"221 mx.example.org closing connection\r\n",
        ],
    );
    assert!(run.ready().0.has_keyword("PIPE_CONNECT") && run.ready().0.has_keyword("PRDR"));
    match run.failure(0) {
        failure @ Failure::NoRecipients { replies } => {
            assert_eq!(replies.iter().map(|reply| reply.code().get()).collect::<Vec<_>>(), [550]);
            assert!(!failure.is_transient());
        }
        other => panic!("{other:?}"),
    }
}

/// OpenSMTPD offers DSN but not PIPELINING: each command waits for the reply before
/// it, and the DSN parameters go.
#[test]
fn opensmtpd_without_pipelining_gets_one_command_at_a_time_with_dsn() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let mut message = envelope("<alice@example.net>", &[]);
    message.params = MailParameters::parse("RET=HDRS ENVID=QQ314159", false).unwrap().into_owned();
    message.recipients.push((
        ForwardPath::parse("<bob@example.org>").unwrap().into_owned(),
        RcptParameters::parse("NOTIFY=SUCCESS,FAILURE", false).unwrap().into_owned(),
    ));
    let run = converse(
        &config,
        &[(message, BODY)],
        &[
            b"220 mx.example.org ESMTP OpenSMTPD\r\n",
            b"250-mx.example.org Hello client.example.net [198.51.100.23], pleased to meet you\r\n\
250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE 36700160\r\n250-DSN\r\n250 HELP\r\n",
            b"250 2.0.0 Ok\r\n",
            b"250 2.1.5 Destination address valid: Recipient ok\r\n",
            b"354 Enter mail, end with \".\" on a line by itself\r\n",
            b"250 2.0.0 5f2c9a1e Message accepted for delivery\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(
        run.turns[2..6],
        [
            "MAIL FROM:<alice@example.net> RET=HDRS ENVID=QQ314159\r\n".to_string(),
            "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE\r\n".to_string(),
            "DATA\r\n".to_string(),
            format!("{}.\r\n", String::from_utf8_lossy(BODY)),
        ]
    );
    run.accepted(0);
}

/// Dovecot's LMTP with BDAT: one recipient refused at RCPT, the chunk answered, and
/// after `BDAT ... LAST` one reply per accepted recipient (one saved, one over quota),
/// then nothing more is awaited: QUIT follows at once.
#[test]
fn dovecot_lmtp_with_bdat_reports_each_accepted_recipient_once() {
    let mut config = config();
    config.lmtp = true;
    config.prefer_bdat = true;
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(
            envelope("<alice@example.net>", &["<bob@example.org>", "<ghost@example.org>", "<carol@example.org>"]),
            BODY,
        )],
        &[
            b"220 mail.example.org Dovecot ready.\r\n",
            b"250-mail.example.org\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n\
250 STARTTLS\r\n",
            b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 <ghost@example.org> User doesn't exist: ghost@example.org\r\n\
250 2.1.5 OK\r\n",
            b"250 2.0.0 OK\r\n",
            b"250 2.0.0 <bob@example.org> kV4bAA2fOmZ Saved\r\n\
452 4.2.2 <carol@example.org> Quota exceeded (mailbox for user is full)\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert!(run.turns[0..2].concat().ends_with("LHLO client.example.net\r\n"));
    assert_eq!(run.recipients(0), [(0, 250), (1, 550), (2, 250)]);
    assert_eq!(run.turns[3], format!("BDAT {}\r\n{}", BODY.len(), String::from_utf8_lossy(BODY)));
    // In LMTP the last chunk waits for the replies before it: its replies (one per
    // recipient) could not be told from a lone refusal of an earlier chunk.
    assert_eq!(run.turns[4], "BDAT 0 LAST\r\n");
    assert_eq!(run.deliveries(0), [(0, 250), (2, 452)]);
    assert_eq!(run.turns[5], "QUIT\r\n", "QUIT right after the last delivery reply");
    assert_eq!(run.close_reason(), &CloseReason::Quit);
}

// ---------------------------------------------------------------------------------
// Broken PIPELINING, CHUNKING without PIPELINING, middleboxes, closing servers
// ---------------------------------------------------------------------------------

/// A server that offers CHUNKING but not PIPELINING: each BDAT chunk waits for the
/// reply to the one before (RFC 5321 section 4.3.1), `BDAT 0 LAST` included.
#[test]
fn chunking_without_pipelining_waits_for_each_chunk() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    config.prefer_bdat = true;
    let body: &[u8] = b"0123456789abcdefghij01234567\r\n";
    let run = converse_with(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), body)],
        &[
            b"220 relay.example.org ESMTP\r\n",
            b"250-relay.example.org\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
            b"250 2.1.0 Sender OK\r\n",
            b"250 2.1.5 Recipient OK\r\n",
            b"250 2.0.0 10 octets received\r\n",
            b"250 2.0.0 10 octets received\r\n",
            b"250 2.0.0 10 octets received\r\n",
            b"250 2.0.0 Message accepted\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
        10,
        true,
    );
    assert_eq!(
        run.turns[2..9],
        [
            "MAIL FROM:<alice@example.net>\r\n",
            "RCPT TO:<bob@example.org>\r\n",
            "BDAT 10\r\n0123456789",
            "BDAT 10\r\nabcdefghij",
            "BDAT 10\r\n01234567\r\n",
            "BDAT 0 LAST\r\n",
            "QUIT\r\n",
        ]
    );
    run.accepted(0);
}

/// A server that offers PIPELINING but loses the commands after the first of a group
/// (seen behind broken firewalls): only MAIL is answered, the client times out, sends
/// QUIT and awaits its reply. The message fails transiently.
#[test]
fn a_server_that_loses_pipelined_commands_times_out_and_fails_transiently() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"250 2.1.0 Sender OK\r\n",
            TIMEOUT,
            b"221 2.0.0 Bye\r\n",
        ],
    );
    assert_eq!(run.turns[4], "QUIT\r\n", "QUIT after the timeout");
    assert!(run.closed);
    let failure = run.failure(0);
    assert_eq!(failure, &Failure::SessionEnded(CloseReason::Timeout));
    assert!(failure.is_transient());
    assert_eq!(run.close_reason(), &CloseReason::Timeout);
}

/// A firewall's SMTP "fixup" masks the banner with asterisks and refuses EHLO with
/// `500`: the client falls back to HELO and the message goes by plain DATA.
#[test]
fn a_firewall_that_hides_esmtp_gets_helo() {
    let run = converse(
        &config(),
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220 ****************************************\r\n",
            b"500 5.5.1 Command unrecognized: \"XXXX client.example.net\"\r\n",
            b"250 mail.example.org Hello client.example.net [198.51.100.23], pleased to meet you\r\n",
            b"250 2.1.0 Sender ok\r\n",
            b"250 2.1.5 Recipient ok\r\n",
            b"354 Enter mail, end with \".\" on a line by itself\r\n",
            b"250 2.0.0 Message accepted for delivery\r\n",
            b"221 2.0.0 closing connection\r\n",
        ],
    );
    assert_eq!(run.turns[2], "HELO client.example.net\r\n");
    assert_eq!(run.turns[3], "MAIL FROM:<alice@example.net>\r\n", "no PIPELINING after HELO");
    let (capabilities, tls, authenticated) = run.ready();
    assert_eq!((capabilities.iter().count(), tls, authenticated), (0, false, false));
    run.accepted(0);
}

/// Postfix refusing a connection at the greeting: `421 4.7.0 too many connections`.
/// Every message fails transiently, and no command at all is sent.
#[test]
fn a_421_greeting_fails_every_message_transiently_and_sends_nothing() {
    let messages = [
        (envelope("<alice@example.net>", &["<bob@example.org>"]), BODY),
        (envelope("<alice@example.net>", &["<carol@example.org>"]), BODY),
    ];
    let run = converse(
        &config(),
        &messages,
        &[b"421 4.7.0 mx.example.org Error: too many connections from 198.51.100.23\r\n"],
    );
    assert_eq!(run.sent(), "");
    for index in 0..2 {
        assert!(run.failure(index).is_transient(), "{:?}", run.failure(index));
    }
    assert!(matches!(run.close_reason(), CloseReason::Rejected(reply) if reply.code().get() == 421));
}

/// Postfix closing an idle connection: after its timeout it sends `421 4.4.2 ...
/// timeout exceeded` unasked and closes. For a connection pool that is "reconnect":
/// the session closes with the server's `421` as the reason, and sends no QUIT to a
/// server that is closing.
#[test]
fn an_idle_connection_closed_by_the_server_with_421_is_a_reconnect() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let run = converse_with(
        &config,
        &[(envelope("<alice@example.net>", &["<bob@example.org>"]), BODY)],
        &[
            b"220 mx.example.org ESMTP Postfix\r\n",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            b"250 2.0.0 Ok: queued as 4VqZ1k2Lm8z9sXY\r\n",
            b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n",
        ],
        usize::MAX,
        false,
    );
    run.accepted(0);
    // Failed before the fix: an unsolicited 421 while idle is taken for a reply to nothing
    // (`CloseReason::ProtocolViolation`) and answered with QUIT; issue 10 asks that a
    // 421 while idle close with `Rejected(421)` (reconnect), and that no QUIT follow a 421.
    assert!(
        matches!(run.close_reason(), CloseReason::Rejected(reply) if reply.code().get() == 421),
        "{:?}",
        run.events
    );
    assert!(!run.sent().contains("QUIT"), "{:?}", run.turns);
    assert!(run.close_reason().is_transient());
}

/// The server closing an idle connection without a word: `Closed { Eof }`, which a
/// pool takes for "reconnect"; nothing is sent.
#[test]
fn an_idle_connection_closed_by_the_server_is_a_reconnect() {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    let client = config.build().unwrap();
    let mut session = ClientSession::new(&client);
    let mut script: VecDeque<&[u8]> =
        VecDeque::from([&b"220 mx.example.org ESMTP Postfix\r\n"[..], b"250-mx.example.org\r\n250 PIPELINING\r\n"]);
    let mut events = Vec::new();
    let mut sent = Vec::new();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => events.push(event),
            Output::Wait(_) => session.handle_input(script.pop_front().expect("the script")),
            Output::Idle => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(script.is_empty());
    session.handle_eof();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => events.push(event),
            Output::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, b"EHLO client.example.net\r\n");
    assert_eq!(events.last(), Some(&ClientEvent::Closed { reason: CloseReason::Eof }));
    assert!(CloseReason::Eof.is_transient());
}
