//! Review of issue 12 (command parsing fast paths: `wire/swar.rs`, `plain_envelope`,
//! `plain_mailbox`, the `Domain` fast path, SWAR parameter scanning, `text_from`).
//!
//! The contract under review: every fast path gives exactly what the full grammar gives
//! (accept or refuse, the same error, the same value) for every input, in strict and
//! lenient mode, under any `AddressLimits`, and nothing panics.
//!
//! The tests marked FAILS failed on the reviewed revision (03645e4):
//! `orcpt_with_an_empty_address_is_refused_as_before` and
//! `the_server_refuses_rcpt_with_an_empty_orcpt_address` (one defect, `XText::parse_value`
//! in `Orcpt::parse`). The others are regression tests for the fast paths; they pass on
//! the reviewed revision and on the one before the change (10c83a0), and each was seen
//! to fail on a deliberately broken copy of the fast path it covers. Each says which
//! rule or invariant it checks.

mod support;

use proptest::prelude::*;
use smtp_sansio::error::AddressError;
use smtp_sansio::wire::{
    AddressLimits, Domain, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath, XText,
};
use smtp_sansio::{Command, ParseError, ParseOptions};
use support::server::{Seen, Verdict, config, run};

fn options(strict: bool) -> ParseOptions {
    if strict { ParseOptions::strict() } else { ParseOptions::default() }
}

fn with_limits(strict: bool, limits: AddressLimits) -> ParseOptions {
    let mut options = options(strict);
    options.limits = limits;
    options
}

fn parse(line: &str, strict: bool) -> Result<Command<'_>, ParseError> {
    Command::parse(line.as_bytes(), &options(strict))
}

// ---------------------------------------------------------------------------------
// Defects
// ---------------------------------------------------------------------------------

// FAILS. RFC 3461 section 4.2: `ORCPT=addr-type;xtext` carries the original recipient's
// address, and for `rfc822` that is an RFC 822 address, never empty. This crate has
// always refused an empty xtext (`XText::parse("")` is `None`, tests/commands.rs
// `xtext_encodes_what_it_must`), and before the change `ORCPT=rfc822;` was refused with
// `InvalidParameter("ORCPT")`. `Orcpt::parse` now calls `XText::parse_value`, which
// skips the class check on the claim that "the parameter grammar already checked" the
// text; but the grammar checked the whole value (`rfc822;`), not the part after `;`,
// which may be empty. So `RCPT TO:<a@b> ORCPT=rfc822;` is accepted, with an `Orcpt`
// whose address is an `XText` that `XText::parse` refuses; and because the bad ORCPT no
// longer stops the walk, a later broken parameter changes the error reported.
// CHANGELOG: "Nothing accepted or refused changed".
#[test]
fn orcpt_with_an_empty_address_is_refused_as_before() {
    for strict in [true, false] {
        // The fast path's shape, and shapes that take the full grammar (quoted local
        // part, source route): all must refuse.
        for line in [
            "RCPT TO:<a@b> ORCPT=rfc822;",
            "RCPT TO:<bob@example.org> NOTIFY=SUCCESS ORCPT=rfc822;",
            "RCPT TO:<\"a b\"@example.org> ORCPT=rfc822;",
            "RCPT TO:<@relay.example:bob@example.org> ORCPT=utf-8;",
        ] {
            assert_eq!(parse(line, strict), Err(ParseError::InvalidParameter("ORCPT")), "{line:?} strict={strict}");
        }
        assert_eq!(
            RcptParameters::parse("ORCPT=rfc822;", strict),
            Err(ParseError::InvalidParameter("ORCPT")),
            "strict={strict}"
        );
        // The invalid ORCPT is what is wrong with the line: it is reported first, as
        // every other invalid parameter value is (`SIZE=x =` says `SIZE`).
        assert_eq!(parse("MAIL FROM:<a@b> SIZE=x =", strict), Err(ParseError::InvalidParameter("SIZE")));
        assert_eq!(parse("RCPT TO:<a@b> ORCPT=rfc822;+zz =", strict), Err(ParseError::InvalidParameter("ORCPT")));
        assert_eq!(parse("RCPT TO:<a@b> ORCPT=rfc822; =", strict), Err(ParseError::InvalidParameter("ORCPT")));
    }
    // Invariant: whatever ORCPT the parser hands out holds an address its own type takes.
    if let Ok(params) = RcptParameters::parse("ORCPT=rfc822;", true) {
        let orcpt = params.orcpt.expect("ORCPT parsed");
        assert!(XText::parse(orcpt.address().as_str()).is_some(), "an XText that XText::parse refuses: {orcpt:?}");
    }
}

// FAILS. The same defect as the server shows it: with DSN offered, a RCPT with an empty
// ORCPT address used to get `501 5.5.4 invalid value for parameter ORCPT`; now the
// recipient is accepted (`250 2.1.5`) and handed to the application.
#[test]
fn the_server_refuses_rcpt_with_an_empty_orcpt_address() {
    let mut with_dsn = config();
    with_dsn.dsn = true;
    let input = "EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org> ORCPT=rfc822;\r\nQUIT\r\n";
    let ran = run(&with_dsn, input.as_bytes(), &|_| Verdict::Accept);
    assert!(ran.sent.contains("501 5.5.4 invalid value for parameter ORCPT\r\n"), "{}", ran.sent);
    assert!(!ran.sent.contains("250 2.1.5"), "{}", ran.sent);
    assert!(!ran.events.iter().any(|event| format!("{event:?}").contains("Rcpt {")), "{:?}", ran.events);
}

// ---------------------------------------------------------------------------------
// Regression tests (passed)
// ---------------------------------------------------------------------------------

/// Lines for the alignment and truncation sweeps: every verb, the fast path's shape,
/// shapes next to it, UTF-8 valid and not, C1 controls, ASCII controls.
const LINES: &[&[u8]] = &[
    b"MAIL FROM:<bob.smith@mx-1.example.org> SIZE=1024 BODY=8BITMIME",
    b"mail from:<a@b>",
    b"RCPT TO:<x+tag@example.co.uk> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2Btag@example.co.uk",
    b"rcpt to:<Postmaster>",
    b"RCPT TO:<postmaster@example.org>",
    b"MAIL FROM:<> RET=HDRS ENVID=abc+2Bdef",
    b"MAIL FROM:<\"john doe\"@[192.0.2.1]> SMTPUTF8",
    b"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.example> SMTPUTF8",
    b"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.example>",
    b"MAIL FROM:<a\xc2\x85b@example.org> SMTPUTF8",
    b"MAIL FROM:<ab@example.org> X=\xc3\xa9\xc2\x85",
    b"MAIL FROM:<ab@example.org> X=abcdefgh\xc3\xa9",
    b"MAIL FROM:<ab@example.org> X=abcdefgh\xff",
    b"MAIL FROM:<ab@exa\xffmple.org>",
    b"MAIL FROM:<ab@exa\x7fmple.org>",
    b"MAIL FROM:<ab@example.org>\tSIZE=1",
    b"MAIL FROM:<ab@example.org> SIZE=1\x00",
    b"MAIL FROM: <ab@example.org>",
    b"MAIL FROM:<@r1.example,@r2.example:ab@example.org>",
    b"RCPT TO:<a..b@example.org>",
    b"RCPT TO:<.a@example.org>",
    b"RCPT TO:<a.@example.org>",
    b"RCPT TO:<a@-example.org>",
    b"RCPT TO:<a@example-.org>",
    b"RCPT TO:<a@example..org>",
    b"RCPT TO:<a@example.org.>",
    b"RCPT TO:<a@b@c>",
    b"RCPT TO:<a@example.org>>",
    b"RCPT TO:<a@example.org> ",
    b"RCPT TO:<a@example.org>  ",
    b"RCPT TO:<a@example.org> \t",
    b"EHLO mx.example.org",
    b"EHLO mx_1.example.org",
    b"EHLO [IPv6:2001:db8::1]",
    b"HELO b\xc3\xbccher.example",
    b"HELO b\xc3\xbccher\xff.example",
    b"LHLO abcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefgh",
    b"VRFY \xc3\xa9t\xc3\xa9",
    b"NOOP \xc3",
    b"DATA",
    b"BDAT 100 LAST",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    b"STARTTLS",
    b"XCLIENT NAME=mx.example.org ADDR=192.0.2.1",
    b"XFORWARD NAME=\xc3\xa9",
    b"XCLIENT \xe2\x82",
    b"QUIT",
];

// Invariant: the result of parsing a line does not depend on where the line sits in
// memory. `text_from` starts `from_utf8` at a word boundary computed from
// `line.as_ptr()`, and the server parses the same line again from another buffer
// (`RcptCommand::params`, `detached`). Every line, cut at every length (so that every
// byte is the last one, and the eight-byte loads read past the end at every position),
// is parsed at 16 addresses, in both modes; all must agree, and nothing may panic.
#[test]
fn parsing_does_not_depend_on_where_the_line_sits_in_memory() {
    let mut buffer = vec![0u8; 1024];
    for line in LINES {
        for len in 0..=line.len() {
            let line = &line[..len];
            for strict in [true, false] {
                let options = options(strict);
                let expected = format!("{:?}", Command::parse(line, &options));
                for offset in 1..16 {
                    buffer[offset..offset + len].copy_from_slice(line);
                    let got = format!("{:?}", Command::parse(&buffer[offset..offset + len], &options));
                    assert_eq!(
                        got,
                        expected,
                        "{:?} at offset {offset}, strict={strict}",
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
    }
}

// RFC 5321 section 4.1.1.2/4.1.1.3: `FROM:` and `TO:` are case-insensitive, and nothing
// else matches them. The fast path compares `FROM:<` / `TO:<` as one masked word: the
// mask clears bit 5 of the letters only. Every byte at every place of the prefix: the
// line parses to the same command only when the byte is that letter in either case (or
// the very byte, for `:` and `<`).
#[test]
fn the_masked_prefix_compare_takes_only_the_prefix() {
    for (verb, prefix, path) in [("MAIL", "FROM:<", "bob@example.org> SIZE=1"), ("RCPT", "TO:<", "bob@example.org>")] {
        for strict in [true, false] {
            let canonical = parse(&format!("{verb} {prefix}{path}"), strict).unwrap().into_owned();
            for place in 0..prefix.len() {
                for byte in 0..=255u8 {
                    let mut line = format!("{verb} ").into_bytes();
                    line.extend_from_slice(prefix.as_bytes());
                    line[5 + place] = byte;
                    line.extend_from_slice(path.as_bytes());
                    let parsed = Command::parse(&line, &options(strict)).map(Command::into_owned);
                    let original = prefix.as_bytes()[place];
                    let same = byte == original || (original.is_ascii_alphabetic() && byte ^ 0x20 == original);
                    // Lenient mode reads `FROM:` followed by other things than `<` (a
                    // bare address, a display name): those are not the canonical command
                    // here either, since the byte is kept in what is parsed.
                    if same {
                        assert_eq!(parsed.as_ref(), Ok(&canonical), "{:?}", String::from_utf8_lossy(&line));
                    } else {
                        assert_ne!(parsed.as_ref(), Ok(&canonical), "{:?}", String::from_utf8_lossy(&line));
                    }
                }
            }
        }
    }
}

// RFC 5321 section 4.1.2 and 4.5.3.1: the limits at their edges, in the fast path's
// shape (`<local@domain>`, ASCII), with the RFC's limits and custom ones, where the fast
// path must give way to the full grammar's error. Expected values from the RFC.
#[test]
fn limits_at_their_edges_in_the_fast_shape() {
    let label63 = "a".repeat(63);
    let label64 = "a".repeat(64);
    for strict in [true, false] {
        let check = |path: &str, limits: AddressLimits, expected: Result<(), AddressError>| {
            for (verb, prefix, wrap) in [
                ("MAIL", "FROM:", ParseError::ReversePath as fn(AddressError) -> ParseError),
                ("RCPT", "TO:", ParseError::ForwardPath),
            ] {
                let line = format!("{verb} {prefix}{path}");
                let parsed = Command::parse(line.as_bytes(), &with_limits(strict, limits));
                match expected {
                    Ok(()) => assert!(parsed.is_ok(), "{line:?} {limits:?}: {parsed:?}"),
                    Err(error) => assert_eq!(parsed, Err(wrap(error)), "{line:?} {limits:?}"),
                }
            }
        };
        let rfc = AddressLimits::RFC5321;
        check(&format!("<{}@example.org>", "l".repeat(64)), rfc, Ok(()));
        check(&format!("<{}@example.org>", "l".repeat(65)), rfc, Err(AddressError::LocalPartTooLong));
        check(&format!("<{}@example.org>", "l.".repeat(32) + "l"), rfc, Err(AddressError::LocalPartTooLong));
        check(&format!("<a@{label63}.org>"), rfc, Ok(()));
        check(&format!("<a@{label64}.org>"), rfc, Err(AddressError::DomainTooLong));
        check(&format!("<a@x.{label64}>"), rfc, Err(AddressError::DomainTooLong));
        check(&format!("<a@{label63}>"), rfc, Ok(()));
        check(&format!("<a@{label64}>"), rfc, Err(AddressError::DomainTooLong));
        // A domain of 255 octets (four labels of 63 and three dots) and of 256.
        let domain255 = [label63.as_str(); 4].join(".");
        assert_eq!(domain255.len(), 255);
        // With the RFC's path limit such a domain makes the path too long ("<a@" and
        // ">" are 4 more octets than 256 allows for the domain); a larger path limit
        // lets the domain limit speak.
        check(&format!("<a@{domain255}>"), rfc, Err(AddressError::PathTooLong));
        let roomy = AddressLimits { path: 300, ..rfc };
        check(&format!("<a@{domain255}>"), roomy, Ok(()));
        check(&format!("<ab@{domain255}>"), roomy, Ok(()));
        let domain256 = format!("{}.{}", vec!["c".repeat(50); 4].join("."), "d".repeat(52));
        assert_eq!(domain256.len(), 256);
        check(&format!("<a@{domain256}>"), roomy, Err(AddressError::DomainTooLong));
        // A path at its limit and one octet over it.
        let local = "l".repeat(64);
        let domain = [label63.as_str(), &"d".repeat(63), &"e".repeat(60)].join(".");
        let path = format!("<{local}@{domain}>");
        let limits = AddressLimits { local_part: 64, domain: 255, path: path.len() };
        check(&path, limits, Ok(()));
        check(&path, AddressLimits { path: path.len() - 1, ..limits }, Err(AddressError::PathTooLong));
        // Custom limits smaller than the RFC's, at their edges.
        let small = AddressLimits { local_part: 3, domain: 5, path: 12 };
        check("<abc@d.efg>", small, Ok(()));
        check("<abcd@d.efg>", small, Err(AddressError::LocalPartTooLong));
        check("<abc@d.efgh>", small, Err(AddressError::DomainTooLong));
        check("<a.c@de.fg>", small, Ok(()));
        check("<abc@de.fg> ", AddressLimits { path: 10, ..small }, Err(AddressError::PathTooLong));
        // Zero limits refuse every mailbox, and the error is the grammar's order.
        let zero = AddressLimits { local_part: 0, domain: 0, path: 0 };
        check("<a@b>", zero, Err(AddressError::PathTooLong));
        check("<a@b>", AddressLimits { path: 5, ..zero }, Err(AddressError::LocalPartTooLong));
        check("<a@b>", AddressLimits { path: 5, local_part: 1, domain: 0 }, Err(AddressError::DomainTooLong));
    }
}

// RFC 5321 section 4.1.1.11 and RFC 1869: keywords are case-insensitive; the keys are
// now built from eight-byte loads at any offset (`swar::key`). The same parameters,
// in every case pattern, shifted by unknown parameters of every length from 1 to 17
// (so that each keyword starts at every place of a word, and keywords of 16 and 17
// octets are seen), parse to the same values.
#[test]
fn keywords_and_values_match_at_every_offset_and_in_any_case() {
    let known = "SIZE=1024 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2Bb AUTH=<> REQUIRETLS MT-PRIORITY=3 HOLDFOR=9";
    let flip = |text: &str, pattern: u64| -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| if pattern >> (i % 64) & 1 == 1 { c.to_ascii_lowercase() } else { c })
            .collect()
    };
    for strict in [true, false] {
        let expected = MailParameters::parse(known, strict).unwrap();
        assert_eq!(expected.size, Some(1024));
        assert!(expected.smtputf8 && expected.requiretls);
        for shift in 1..=17 {
            let filler = format!("X{}", "Y".repeat(shift - 1));
            for pattern in [0, u64::MAX, 0x5555_5555_5555_5555, 0xF0F0_F0F0_0F0F_0F0F, 0x1234_5678_9ABC_DEF0] {
                let text = format!("{filler} {}", flip(known, pattern));
                let mut parsed = MailParameters::parse(&text, strict).unwrap_or_else(|e| panic!("{text:?}: {e}"));
                assert_eq!(parsed.other.len(), 1, "{text:?}");
                assert_eq!(parsed.other[0].keyword, filler);
                parsed.other.clear();
                // Values are case-insensitive where their RFCs say so (BODY, RET), kept
                // as written otherwise: compare the typed ones.
                assert_eq!(
                    (parsed.size, parsed.body, parsed.smtputf8, parsed.ret, parsed.requiretls, parsed.mt_priority),
                    (
                        expected.size,
                        expected.body,
                        expected.smtputf8,
                        expected.ret,
                        expected.requiretls,
                        expected.mt_priority
                    ),
                    "{text:?}"
                );
                assert_eq!(parsed.envid.map(|x| x.as_str().to_ascii_uppercase()), Some("A+2BB".to_string()));
            }
            // A keyword one octet longer than a known one is not that one.
            let text = format!("{filler} SIZEX=1 SMTPUTF8X BODYY=7BIT");
            let parsed = MailParameters::parse(&text, strict).unwrap();
            assert_eq!((parsed.size, parsed.smtputf8, parsed.body), (None, false, None), "{text:?}");
            assert_eq!(parsed.other.len(), 4);
        }
        // Duplicates in another case are still duplicates.
        assert_eq!(MailParameters::parse("SIZE=1 size=2", strict), Err(ParseError::DuplicateParameter("SIZE")));
        assert_eq!(
            MailParameters::parse("ABCDEFGHIJKLMNOPQ=1 abcdefghijklmnopq=2", strict),
            Err(ParseError::DuplicateParameter("(extension)"))
        );
        assert_eq!(
            RcptParameters::parse("NOTIFY=success,Delay notify=NEVER", strict),
            Err(ParseError::DuplicateParameter("NOTIFY"))
        );
        // RFC 3461 section 4.1: NEVER alone, or a list without repeats; an empty member is
        // not a keyword.
        for bad in ["NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,", "NOTIFY=,", "NOTIFY=SUCCESS,success", "NOTIFY=NEVERX"] {
            assert_eq!(RcptParameters::parse(bad, strict), Err(ParseError::InvalidParameter("NOTIFY")), "{bad}");
        }
        // Values that look like known ones but for one octet.
        for bad in ["BODY=8BITMIMEX", "BODY=8BITMIM", "BODY=7BI", "RET=FUL", "RET=FULLL"] {
            assert!(matches!(MailParameters::parse(bad, strict), Err(ParseError::InvalidParameter(_))), "{bad}");
        }
    }
}

// RFC 6531 section 3.3: parameter values may hold UTF-8, never a control character
// (C1 controls, U+0080 to U+009F, included). The SWAR value scan stops at the first
// octet of 0x80 and up and hands the value to the byte-at-a-time scan, which alone
// checks for C1 controls: the control at every place of a value, after ASCII of every
// length, must be refused; UTF-8 without one must be kept whole.
#[test]
fn utf8_parameter_values_keep_their_checks() {
    for strict in [true, false] {
        for before in 0..20 {
            let ascii = "v".repeat(before);
            for after in ["", "w", "wwwwwwwww"] {
                let good = format!("X={ascii}\u{e9}{after} Y=1");
                let parsed = MailParameters::parse(&good, strict).unwrap_or_else(|e| panic!("{good:?}: {e}"));
                assert_eq!(parsed.other[0].value.as_deref(), Some(&format!("{ascii}\u{e9}{after}")[..]));
                for control in ["\u{80}", "\u{85}", "\u{9f}"] {
                    for text in [
                        format!("X={ascii}{control}{after}"),
                        format!("X={ascii}\u{e9}{after}{control}"),
                        format!("X={ascii}\u{e9}{control}{after}"),
                    ] {
                        assert_eq!(MailParameters::parse(&text, strict), Err(ParseError::InvalidArguments), "{text:?}");
                    }
                }
                // ASCII controls and DEL end the value: the line is refused.
                for control in ["\u{7f}", "\u{1}", "\u{1f}", "\t"] {
                    let text = format!("X={ascii}{control}{after}");
                    assert!(MailParameters::parse(&text, strict).is_err(), "{text:?}");
                }
            }
        }
    }
}

// Invariant: `MailboxSpan` finds a fast-path mailbox in the line, and the server's
// `MailCommand::from` / `RcptCommand::to` read it back as `Command::parse` gave it.
#[test]
fn the_session_reads_back_the_mailbox_the_fast_path_parsed() {
    let mut with_dsn = config();
    with_dsn.dsn = true;
    with_dsn.smtputf8 = true;
    let mails =
        ["MAIL FROM:<bob.smith@mx-1.example.org>", "mail from:<a@b> SIZE=10", "MAIL FROM:<x{y}|~z@abcdefgh.ij>"];
    let rcpts = [
        "RCPT TO:<a.b.c.d.e.f.g.h@abcdefgh.abcdefgh.abcdefgh>",
        "rcpt to:<Postmaster@example.org> NOTIFY=NEVER",
        "RCPT TO:<1@2.3> ORCPT=rfc822;1@2.3",
    ];
    for strict in [true, false] {
        with_dsn.strict = strict;
        let mut input = String::from("EHLO c\r\n");
        for mail in mails {
            input.push_str(mail);
            input.push_str("\r\n");
            for rcpt in rcpts {
                input.push_str(rcpt);
                input.push_str("\r\n");
            }
            input.push_str("RSET\r\n");
        }
        let ran = run(&with_dsn, input.as_bytes(), &|_| Verdict::Accept);
        let described: Vec<&str> = ran
            .events
            .iter()
            .filter_map(|event| match event {
                Seen::Event(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        for line in mails.iter().chain(&rcpts) {
            let mailbox = match parse(line, strict).unwrap() {
                Command::Mail { from: ReversePath::Mailbox(mailbox), .. } => mailbox,
                Command::Rcpt { to: ForwardPath::Mailbox(mailbox), .. } => mailbox,
                other => panic!("{other:?}"),
            };
            let shown = format!("{mailbox:?}");
            assert!(described.iter().any(|event| event.contains(&shown)), "{shown} not in {described:#?}");
        }
        assert!(!ran.sent.contains(" 5."), "{}", ran.sent);
    }
}

// The same oracle as `the_fast_path_agrees_with_the_source_routed_full_grammar`, but
// exhaustive over short strings of the octets that matter to the eight-byte scans
// (atom, dot, hyphen, `+`, `@`, `>`, UTF-8, space), placed after 0 to 8 octets of
// padding so that every octet, and every pair of neighbours (`..`, `.-`, `-.`), sits at
// every place of a word and across two words: in the local part and in the domain,
// in both modes.
#[test]
fn every_short_local_part_and_domain_at_every_word_position_agrees_with_the_routed_grammar() {
    const ALPHABET: [&str; 8] = ["a", ".", "-", "+", "@", ">", "\u{e9}", " "];
    // Every string of up to four of them.
    let mut strings = vec![String::new()];
    let mut layer = vec![String::new()];
    for _ in 0..4 {
        layer = layer.iter().flat_map(|s| ALPHABET.iter().map(move |c| format!("{s}{c}"))).collect();
        strings.extend(layer.iter().cloned());
    }
    let roomy = AddressLimits { local_part: 64, domain: 255, path: 512 };
    let mut compared = 0;
    for pad in 0..=8 {
        let padding = "b".repeat(pad);
        for s in &strings {
            for (local, domain) in
                [(format!("{padding}{s}"), "x.example".to_string()), ("x".to_string(), format!("{padding}{s}"))]
            {
                if local.starts_with('>') || local.starts_with('@') || local.is_empty() {
                    continue;
                }
                for strict in [true, false] {
                    let plain = format!("RCPT TO:<{local}@{domain}> NOTIFY=NEVER");
                    let routed = format!("RCPT TO:<@r.example:{local}@{domain}> NOTIFY=NEVER");
                    let options = with_limits(strict, roomy);
                    assert_eq!(
                        Command::parse(plain.as_bytes(), &options),
                        Command::parse(routed.as_bytes(), &options),
                        "{plain:?} against {routed:?}, strict={strict}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 50_000, "{compared}");
}

// ---------------------------------------------------------------------------------
// Differential property tests: the fast path against the full grammar, with an oracle
// the fast path cannot touch.
// ---------------------------------------------------------------------------------

/// Local parts from the pieces that matter to the dot-string rules and to the
/// eight-byte words: atext of every kind, dots, specials, UTF-8, C1, controls.
fn local_part() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "Z",
        "0",
        "bob",
        "abcdefgh",
        "abcdefg",
        ".",
        "..",
        "-",
        "_",
        "+",
        "=",
        "!",
        "~",
        "{",
        "}",
        "|",
        "`",
        "'",
        "*",
        "/",
        "?",
        "^",
        "#",
        "$",
        "%",
        "&",
        "\u{e9}",
        "\u{85}",
        "\u{a0}",
        "\"q\"",
        "\"a b\"",
        "\\",
        " ",
        "(",
        ")",
        ",",
        ";",
        ":",
        "[",
        "]",
        "\u{7f}",
        "\t",
        "<",
        ">",
        "Postmaster",
    ]);
    (prop::collection::vec(piece, 1..8), 0..70usize).prop_map(|(pieces, extra)| {
        let mut text: String = pieces.concat();
        text.push_str(&"a".repeat(extra % 7 * (extra / 7 % 2) * 10));
        text
    })
}

/// Domains likewise: labels, dots and hyphens at every place, long labels, literals.
fn domain() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "Z",
        "9",
        "example",
        "org",
        "abcdefgh",
        "abcdefg",
        "-",
        ".",
        "..",
        "x-y",
        "_",
        "\u{e9}",
        "b\u{fc}cher",
        "\u{85}",
        "[1.2.3.4]",
        "[IPv6:::1]",
        "a-",
        "-a",
        "xn--bcher-kva",
        "\u{7f}",
        " ",
        ">",
        "@",
    ]);
    (prop::collection::vec(piece, 1..8), prop::option::of(0..130usize)).prop_map(|(pieces, long)| {
        let mut text: String = pieces.concat();
        if let Some(n) = long {
            text.push('.');
            text.push_str(&"q".repeat(n));
        }
        text
    })
}

fn limits() -> impl Strategy<Value = AddressLimits> {
    prop_oneof![
        Just(AddressLimits::RFC5321),
        (0..80usize, 0..300usize, 0..320usize).prop_map(|(local_part, domain, path)| AddressLimits {
            local_part,
            domain,
            path
        }),
    ]
}

fn params() -> impl Strategy<Value = String> {
    let param = prop::sample::select(vec![
        "",
        " SIZE=10",
        " size=10",
        " BODY=8bitmime",
        " SMTPUTF8",
        " NOTIFY=SUCCESS,FAILURE",
        " ORCPT=rfc822;a+2Bb",
        " X=\u{e9}",
        " X=a\u{85}",
        " X=",
        " X=a=b",
        " ABCDEFGHIJKLMNOPQ=1",
        "  SIZE=1",
        " ",
        "\t",
    ]);
    prop::collection::vec(param, 0..3).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    // RFC 5321 Appendix C: a source route is accepted and ignored. `<@r.example:L@D>`
    // never takes the fast path (its `@` comes first), and is `<L@D>` to the grammar
    // once the route is skipped: the two lines must parse to the same command or the
    // same error, in both modes and under any limits (the path limit raised by the
    // route's length). `<L@D>` takes the fast path whenever it can.
    #[test]
    fn the_fast_path_agrees_with_the_source_routed_full_grammar(
        local in local_part(), domain in domain(), params in params(), limits in limits(),
        strict in any::<bool>(), rcpt in any::<bool>(),
    ) {
        prop_assume!(!local.starts_with('@'));
        let route = "@r.example:";
        let head = if rcpt { "RCPT TO:" } else { "MAIL FROM:" };
        let plain = format!("{head}<{local}@{domain}>{params}");
        let routed = format!("{head}<{route}{local}@{domain}>{params}");
        let plain_result = Command::parse(plain.as_bytes(), &with_limits(strict, limits));
        let routed_limits = AddressLimits { path: limits.path + route.len(), ..limits };
        let routed_result = Command::parse(routed.as_bytes(), &with_limits(strict, routed_limits));
        // `<Postmaster>` and `<>` have no route form.
        prop_assume!(!local.to_ascii_lowercase().starts_with("postmaster>") && !local.starts_with('>'));
        prop_assert_eq!(&plain_result, &routed_result, "{:?} against {:?}", plain, routed);
    }

    // RFC 5321 section 4.1.2 `Domain`: the EHLO/HELO name's fast path (`Domain::parse`
    // through `swar::domain`) against the domain of a mailbox, which `Mailbox::parse`
    // reads with the byte-at-a-time grammar only. Same verdict, same error.
    #[test]
    fn the_domain_fast_path_agrees_with_the_mailbox_grammar(domain in domain()) {
        prop_assume!(!domain.starts_with('['));
        let mailbox = format!("x@{domain}");
        let as_domain = Domain::parse(&domain).map(|d| d.as_str().to_string());
        let as_mailbox = Mailbox::parse(&mailbox).map(|m| m.as_str()[2..].to_string());
        prop_assert_eq!(&as_domain, &as_mailbox, "{:?}", domain);
        // And EHLO/HELO take the name exactly as `Domain::parse` does (strict mode: the
        // whole argument is the name).
        let ehlo = format!("EHLO {domain}");
        let parsed = Command::parse(ehlo.as_bytes(), &ParseOptions::strict());
        match (&as_domain, &parsed) {
            (Ok(name), Ok(Command::Ehlo { host })) => prop_assert_eq!(host.to_string(), name.clone()),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{:?}: Domain::parse {:?}, EHLO {:?}", domain, as_domain, parsed),
        }
    }

    // Invariant: letter case of the verb and of `FROM:`/`TO:` changes nothing, and a
    // parsed command encodes to a line that parses back to it (strict).
    #[test]
    fn case_and_round_trip_invariants(
        local in local_part(), domain in domain(), params in params(), strict in any::<bool>(), rcpt in any::<bool>(),
        pattern in any::<u16>(),
    ) {
        let head = if rcpt { "RCPT TO:" } else { "MAIL FROM:" };
        let cased: String = head
            .chars()
            .enumerate()
            .map(|(i, c)| if pattern >> i & 1 == 1 { c.to_ascii_lowercase() } else { c })
            .collect();
        let line = format!("{head}<{local}@{domain}>{params}");
        let other = format!("{cased}<{local}@{domain}>{params}");
        let first = Command::parse(line.as_bytes(), &options(strict));
        let second = Command::parse(other.as_bytes(), &options(strict));
        prop_assert_eq!(&first, &second, "{:?} against {:?}", line, other);
        if let Ok(command) = first {
            let mut out = bytes::BytesMut::new();
            command.encode(&mut out).unwrap();
            let encoded = out.strip_suffix(b"\r\n").unwrap();
            let again = Command::parse(encoded, &ParseOptions::strict());
            prop_assert_eq!(again.as_ref(), Ok(&command), "{:?}", String::from_utf8_lossy(encoded));
        }
    }
}
