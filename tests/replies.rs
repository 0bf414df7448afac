//! Reply parsing and encoding, and EHLO capabilities.

mod support;

use bytes::BytesMut;
use smtp_sansio::{
    BareLf, Capabilities, Capability, EncodeError, EnhancedStatus, Reply, ReplyCode, ReplyError, ReplyParser,
};
use support::{parse_replies, replies_all_ways, split_invariant};

fn encode(reply: &Reply) -> String {
    let mut out = BytesMut::new();
    reply.encode(&mut out).unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn single_and_multi_line_replies() {
    let replies =
        replies_all_ways(b"220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n354\r\n");
    let replies: Vec<Reply> = replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(replies[0], Reply::new(ReplyCode::SERVICE_READY, "mx.example ESMTP"));
    assert_eq!(replies[1], Reply::with_lines(ReplyCode::OK, ["mx.example", "PIPELINING", "SIZE 100"]));
    assert_eq!(replies[2], Reply::new(ReplyCode::START_MAIL_INPUT, ""));
    assert_eq!(replies.len(), 3);
}

#[test]
fn enhanced_status_codes_are_read_from_every_line() {
    let replies = replies_all_ways(b"550-5.1.1 no such user\r\n550 5.1.1 try another\r\n250 2.0.0\r\n");
    let first = replies[0].as_ref().unwrap();
    assert_eq!(first.enhanced(), Some(EnhancedStatus::new(5, 1, 1)));
    assert_eq!(first.lines().collect::<Vec<_>>(), ["no such user", "try another"]);
    assert_eq!(replies[1].as_ref().unwrap().enhanced(), Some(EnhancedStatus::new(2, 0, 0)));
    assert_eq!(replies[1].as_ref().unwrap().lines().collect::<Vec<_>>(), [""]);
}

#[test]
fn an_enhanced_code_of_another_class_is_text() {
    let replies = replies_all_ways(b"250 5.0.0 odd\r\n250 2.0.0x not a code\r\n");
    assert_eq!(replies[0].as_ref().unwrap().enhanced(), None);
    assert_eq!(replies[0].as_ref().unwrap().lines().next(), Some("5.0.0 odd"));
    assert_eq!(replies[1].as_ref().unwrap().enhanced(), None);
}

#[test]
fn lines_with_different_codes_are_an_error() {
    let replies = replies_all_ways(b"250-first\r\n251 second\r\n221 bye\r\n");
    assert_eq!(replies[0], Err(ReplyError::MismatchedCodes));
    assert_eq!(replies[1].as_ref().unwrap().code(), ReplyCode::CLOSING, "the parser starts afresh after an error");
}

#[test]
fn malformed_lines_are_errors() {
    for line in [
        &b"25 short\r\n"[..],
        b"2500 long\r\n",
        b"abc text\r\n",
        b"600 out of range\r\n",
        b"199 too low\r\n",
        b"250_x\r\n",
        b"\r\n",
    ] {
        assert_eq!(replies_all_ways(line), [Err(ReplyError::Malformed)], "{:?}", String::from_utf8_lossy(line));
    }
}

// Issue 10, defect 6: real servers send codes whose second digit is over 5; RFC 5321
// section 4.2.1 judges a reply by its first digit.
#[test]
fn codes_with_any_second_digit_are_judged_by_their_first() {
    let replies = replies_all_ways(b"471 4.7.1 Try again later\r\n291 odd but fine\r\n599 no\r\n");
    let codes: Vec<_> = replies.iter().map(|reply| reply.as_ref().unwrap().code()).collect();
    assert_eq!(codes.iter().map(|code| code.get()).collect::<Vec<_>>(), [471, 291, 599]);
    assert!(codes[0].is_transient() && codes[1].is_positive() && codes[2].is_permanent());
    assert_eq!(replies[0].as_ref().unwrap().enhanced(), Some(EnhancedStatus::new(4, 7, 1)));
}

#[test]
fn control_characters_in_reply_text_make_it_malformed() {
    // A bare CR inside a line is what a response-injection attempt against a lenient
    // client looks like; RFC 5321 `textstring` allows only HT and printable characters.
    for line in [&b"250 ok\rRCPT\r\n"[..], b"250 a\0b\r\n", b"250-x\x1b[31m\r\n"] {
        assert_eq!(replies_all_ways(line), [Err(ReplyError::Malformed)], "{:?}", String::from_utf8_lossy(line));
    }
    assert_eq!(replies_all_ways(b"250 tab\tok\r\n"), [Ok(Reply::new(ReplyCode::OK, "tab\tok"))]);
}

#[test]
fn an_overlong_reply_line_is_an_error_with_bounded_memory() {
    let mut input = b"250-".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\r\n250 ok\r\n");
    let replies = split_invariant(&input, |pieces| {
        let (replies, rest) = parse_replies(ReplyParser::new(), pieces);
        assert!(rest.len() < 512);
        replies
    });
    assert_eq!(replies, [Err(ReplyError::LineTooLong), Ok(Reply::new(ReplyCode::OK, "ok"))]);
}

#[test]
fn an_endless_multi_line_reply_is_cut_off() {
    let input = "250-more\r\n".repeat(1000);
    let replies = replies_all_ways(input.as_bytes());
    assert_eq!(replies, [Err(ReplyError::TooManyLines)]);
}

#[test]
fn bare_lf_in_replies_is_accepted_by_default_and_refusable() {
    assert_eq!(replies_all_ways(b"250 ok\n"), [Ok(Reply::new(ReplyCode::OK, "ok"))]);
    let strict = ReplyParser::with_limits(512, 16, BareLf::Reject);
    let (replies, _) = split_invariant(b"250 ok\n", |pieces| parse_replies(strict.clone(), pieces));
    assert_eq!(replies, [Err(ReplyError::BareLf)]);
}

#[test]
fn non_utf8_text_does_not_cost_the_code() {
    let replies = replies_all_ways(b"220 caf\xe9 ready\r\n");
    let reply = replies[0].as_ref().unwrap();
    assert_eq!(reply.code(), ReplyCode::SERVICE_READY);
    assert_eq!(reply.lines().next(), Some("caf\u{fffd} ready"));
}

#[test]
fn encoding_writes_the_enhanced_code_on_every_line() {
    let reply = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "no such user")
        .with_line("really")
        .with_enhanced(EnhancedStatus::new(5, 1, 1));
    assert_eq!(encode(&reply), "550-5.1.1 no such user\r\n550 5.1.1 really\r\n");
    assert_eq!(encode(&Reply::new(ReplyCode::START_MAIL_INPUT, "")), "354 \r\n");
}

#[test]
fn encoding_refuses_cr_lf_and_control_characters() {
    for text in ["ok\r\n250 injected", "ok\nDATA", "a\rb", "nul\0", "esc\x1b[2J"] {
        let mut out = BytesMut::new();
        assert_eq!(Reply::new(ReplyCode::OK, text).encode(&mut out), Err(EncodeError::ControlCharacter), "{text:?}");
        assert!(out.is_empty());
    }
    let mut out = BytesMut::new();
    Reply::new(ReplyCode::OK, "tab\tis fine").encode(&mut out).unwrap();
}

#[test]
fn long_text_is_split_into_lines_of_at_most_512_octets() {
    let words: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
    let text = words.join(" ");
    let reply = Reply::new(ReplyCode::OK, text.clone()).with_enhanced(EnhancedStatus::new(2, 0, 0));
    let encoded = encode(&reply);
    assert!(encoded.split_inclusive("\r\n").count() > 1);
    for line in encoded.split_inclusive("\r\n") {
        assert!(line.len() <= 512, "{} octets", line.len());
        assert!(line.starts_with("250-2.0.0 ") || line.starts_with("250 2.0.0 "));
    }
    let parsed = replies_all_ways(encoded.as_bytes());
    let rejoined = parsed[0].as_ref().unwrap().lines().collect::<Vec<_>>().join(" ");
    assert_eq!(rejoined, text, "splitting at spaces loses nothing but the spaces");

    let unbroken = "x".repeat(2000);
    let encoded = encode(&Reply::new(ReplyCode::OK, unbroken.clone()));
    assert!(encoded.split_inclusive("\r\n").all(|line| line.len() <= 512));
    let parsed = replies_all_ways(encoded.as_bytes());
    assert_eq!(parsed[0].as_ref().unwrap().lines().collect::<String>(), unbroken);
}

#[test]
fn reply_codes_are_validated_and_classified() {
    assert!(ReplyCode::new(199).is_none() && ReplyCode::new(600).is_none());
    let code = ReplyCode::new(451).unwrap();
    assert!(code.is_transient() && !code.is_permanent() && !code.is_positive());
    assert!(ReplyCode::START_MAIL_INPUT.is_intermediate());
    assert!(EnhancedStatus::try_new(3, 0, 0).is_none());
    assert!(EnhancedStatus::try_new(5, 1000, 0).is_none());
}

// --- EHLO capabilities ---------------------------------------------------------------------

const EHLO: &[u8] = b"250-mx.example Hello client [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN XOAUTH2\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-REQUIRETLS\r\n250-MT-PRIORITY MIXER\r\n250-DELIVERBY 240\r\n250-FUTURERELEASE 604800 2026-12-31T00:00:00Z\r\n250-LIMITS RCPTMAX=100 MAILMAX=50\r\n250-X-EXPS GSSAPI NTLM\r\n250-AUTH=LOGIN PLAIN\r\n250-SIZE big\r\n250 HELP\r\n";

#[test]
fn capabilities_are_typed_and_lossless() {
    let reply = replies_all_ways(EHLO).remove(0).unwrap();
    let caps = Capabilities::from_reply(&reply).unwrap();
    assert_eq!(caps.domain(), "mx.example");
    assert_eq!(caps.greeting(), Some("Hello client [192.0.2.1]"));
    let expected = [
        Capability::Pipelining,
        Capability::Size(Some(52_428_800)),
        Capability::EightBitMime,
        Capability::BinaryMime,
        Capability::Chunking,
        Capability::SmtpUtf8,
        Capability::StartTls,
        Capability::Auth(vec!["PLAIN".into(), "LOGIN".into(), "XOAUTH2".into()]),
        Capability::EnhancedStatusCodes,
        Capability::Dsn,
        Capability::RequireTls,
        Capability::MtPriority(Some("MIXER".into())),
        Capability::DeliverBy(Some(240)),
        Capability::FutureRelease { max_interval: 604_800, max_datetime: "2026-12-31T00:00:00Z".into() },
        Capability::Limits(vec![("RCPTMAX".into(), "100".into()), ("MAILMAX".into(), "50".into())]),
        Capability::Other { keyword: "X-EXPS".into(), params: vec!["GSSAPI".into(), "NTLM".into()] },
        Capability::Other { keyword: "AUTH=LOGIN".into(), params: vec!["PLAIN".into()] },
        Capability::Other { keyword: "SIZE".into(), params: vec!["big".into()] },
        Capability::Other { keyword: "HELP".into(), params: vec![] },
    ];
    assert_eq!(caps.iter().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(caps.size_limit(), Some(52_428_800));
    assert_eq!(caps.auth_mechanisms(), ["PLAIN", "LOGIN", "XOAUTH2"]);
    assert!(caps.has_keyword("pipelining") && caps.has_keyword("help") && !caps.has_keyword("ETRN"));

    let mut out = BytesMut::new();
    caps.to_reply().encode(&mut out).unwrap();
    assert_eq!(&out[..], EHLO, "re-encoding gives the server's bytes back");
}

#[test]
fn keywords_are_case_insensitive() {
    let caps = Capabilities::from_reply(&Reply::with_lines(ReplyCode::OK, ["x", "pipelining", "size 10"])).unwrap();
    assert!(caps.has(&Capability::Pipelining));
    assert_eq!(caps.size_limit(), Some(10));
}

#[test]
fn only_a_250_reply_with_a_domain_announces_capabilities() {
    assert!(Capabilities::from_reply(&Reply::new(ReplyCode::NOT_IMPLEMENTED, "no EHLO here")).is_err());
    assert!(Capabilities::from_reply(&Reply::new(ReplyCode::OK, "")).is_err());
    let single = Capabilities::from_reply(&Reply::new(ReplyCode::OK, "xyz.com is on the air")).unwrap();
    assert_eq!((single.domain(), single.iter().count()), ("xyz.com", 0));
}

#[test]
fn an_ehlo_reply_from_a_server_named_like_a_status_code_keeps_its_name() {
    // Found by proptest: `250 2.0.0` is a server called `2.0.0`, since an EHLO reply
    // carries no enhanced status code (RFC 2034 section 3).
    for wire in [&b"250 2.0.0\r\n"[..], b"250-2.0.0 hi\r\n250 PIPELINING\r\n"] {
        let (replies, _) = parse_replies(ReplyParser::new(), &[wire]);
        let capabilities = Capabilities::from_reply(replies[0].as_ref().unwrap()).unwrap();
        assert_eq!(capabilities.domain(), "2.0.0");
    }
}

// Issue 10, defect 6: `SMTPUTF8` with a parameter (which no RFC defines) still means the
// extension is offered.
#[test]
fn smtputf8_with_a_parameter_is_still_offered() {
    let reply = replies_all_ways(b"250-mx.example.org\r\n250-SMTPUTF8 LOCAL\r\n250 8BITMIME\r\n").remove(0).unwrap();
    let capabilities = Capabilities::from_reply(&reply).unwrap();
    assert!(capabilities.has(&Capability::SmtpUtf8));
    assert!(capabilities.has(&Capability::EightBitMime));
}
