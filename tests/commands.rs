//! Command parsing and encoding: known answers, strict and lenient envelopes, the reply
//! each error deserves, and the encoder's refusals.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use smtp_sansio::wire::{
    AddressLiteral, BodyType, ByMode, DeliverBy, ForwardPath, Hold, Host, InitialResponse, MailParameters, Notify,
    Parameter, RcptParameters, Ret, ReversePath, XText,
};
use smtp_sansio::{Command, EncodeError, ParseError, ParseOptions, ReplyCode, error::AddressError};

fn lenient(line: &str) -> Result<Command<'_>, ParseError> {
    Command::parse(line.as_bytes(), &ParseOptions::default())
}

fn strict(line: &str) -> Result<Command<'_>, ParseError> {
    Command::parse(line.as_bytes(), &ParseOptions::strict())
}

/// Parses in both modes, expects the same command, and checks it encodes back to `line`.
fn canonical(line: &str) -> Command<'_> {
    let command = strict(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(lenient(line).as_ref(), Ok(&command), "{line:?}");
    let mut out = BytesMut::new();
    command.encode(&mut out).unwrap();
    assert_eq!(out, format!("{line}\r\n").as_bytes(), "re-encoding {line:?}");
    command
}

fn mailbox_of(command: &Command<'_>) -> String {
    match command {
        Command::Mail { from, .. } => from.to_string(),
        Command::Rcpt { to, .. } => to.to_string(),
        other => panic!("not MAIL or RCPT: {other:?}"),
    }
}

#[test]
fn every_verb_parses_and_encodes_back() {
    for line in [
        "HELO relay.example.com",
        "EHLO bar.com",
        "LHLO client.example",
        "EHLO [192.0.2.1]",
        "EHLO [IPv6:2001:db8::1]",
        "MAIL FROM:<Smith@bar.com>",
        "MAIL FROM:<>",
        "RCPT TO:<Jones@foo.com>",
        "RCPT TO:<Postmaster>",
        "DATA",
        "BDAT 1000",
        "BDAT 0 LAST",
        "RSET",
        "VRFY Crispin",
        "EXPN Example-People",
        "HELP",
        "HELP MAIL",
        "NOOP",
        "NOOP anything at all",
        "QUIT",
        "STARTTLS",
        "AUTH PLAIN",
        "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
        "AUTH EXTERNAL =",
    ] {
        canonical(line);
    }
}

#[test]
fn verbs_are_case_insensitive() {
    assert_eq!(lenient("ehlo x.example"), strict("EHLO x.example"));
    assert_eq!(strict("mail from:<a@b.example>"), strict("MAIL FROM:<a@b.example>"));
    assert_eq!(strict("StartTLS"), Ok(Command::StartTls));
    assert_eq!(strict("rcpt to:<postmaster>"), strict("RCPT TO:<Postmaster>"));
}

#[test]
fn unknown_verbs_are_500_5_5_2() {
    for line in ["GET / HTTP/1.1", "XYZZ", "MAILFROM:<a@b>", "", " ", "STARTTLZ", "ETRN example.com"] {
        let error = lenient(line).unwrap_err();
        assert_eq!(error, ParseError::UnknownCommand, "{line:?}");
        let reply = error.reply();
        assert_eq!(reply.code(), ReplyCode::SYNTAX_ERROR);
        assert_eq!(reply.enhanced().unwrap().to_string(), "5.5.2");
    }
}

#[test]
fn nul_control_and_invalid_utf8_bytes_are_refused() {
    // Including the text the grammar does not parse: free text, the words a lenient
    // HELO ignores, and a display name a lenient MAIL drops.
    for line in [
        &b"NOOP a\0b"[..],
        b"NOOP a\tb",
        b"MAIL FROM:<a\x01@b>",
        b"HELO \xff\xfe",
        b"RCPT TO:<\x80@b>",
        b"QUIT\x7f",
        b"EHLO client.example \x1b[2J",
        b"MAIL FROM:Mallory\r <a@b.example>",
        b"VRFY \x7f",
        b"RCPT TO:<a@b.example> X-P=v\x00",
        b"\x00\x00\x00\x00",
    ] {
        assert_eq!(Command::parse(line, &ParseOptions::default()), Err(ParseError::InvalidCharacters), "{line:?}");
    }
}

#[test]
fn commands_without_arguments_refuse_them() {
    for line in ["DATA now", "QUIT please", "RSET x", "STARTTLS x"] {
        assert_eq!(lenient(line), Err(ParseError::InvalidArguments), "{line:?}");
    }
    for line in ["MAIL", "RCPT", "EHLO", "HELO ", "VRFY", "EXPN ", "AUTH", "BDAT", "BDAT x", "BDAT 10 FIRST"] {
        let error = strict(line).unwrap_err();
        assert_eq!(error.status().0, ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, "{line:?}: {error:?}");
    }
}

#[test]
fn lenient_mode_takes_trailing_spaces_and_strict_does_not() {
    assert_eq!(lenient("DATA "), Ok(Command::Data));
    assert_eq!(lenient("QUIT\t"), Ok(Command::Quit));
    assert_eq!(strict("DATA "), Err(ParseError::InvalidArguments));
    // Free text never keeps a trailing space, so both modes agree on what they accept.
    assert_eq!(lenient("VRFY a "), Ok(Command::Vrfy { target: "a".into() }));
    assert_eq!(strict("VRFY a "), Err(ParseError::InvalidArguments));
    assert_eq!(lenient("NOOP "), Ok(Command::Noop { text: None }));
    assert_eq!(strict("NOOP "), Err(ParseError::InvalidArguments));
}

#[test]
fn bdat_size_is_digits_that_fit_u64() {
    assert_eq!(strict("BDAT 18446744073709551615 LAST"), Ok(Command::Bdat { size: u64::MAX, last: true }));
    assert_eq!(strict("BDAT 18446744073709551616"), Err(ParseError::InvalidArguments));
    assert_eq!(strict("BDAT +5"), Err(ParseError::InvalidArguments));
    assert_eq!(strict("bdat 5 last"), Ok(Command::Bdat { size: 5, last: true }));
}

#[test]
fn auth_takes_a_mechanism_and_an_optional_base64_response() {
    assert_eq!(
        strict("AUTH plain dGVzdA=="),
        Ok(Command::Auth {
            mechanism: "plain".into(),
            initial_response: Some(InitialResponse::Base64("dGVzdA==".into()))
        })
    );
    assert_eq!(
        strict("AUTH XOAUTH2 ="),
        Ok(Command::Auth { mechanism: "XOAUTH2".into(), initial_response: Some(InitialResponse::Empty) })
    );
    let bad = strict("AUTH PLAIN not*base64").unwrap_err();
    assert_eq!(bad, ParseError::InvalidBase64);
    assert_eq!(bad.reply().enhanced().unwrap().to_string(), "5.5.2");
    assert_eq!(bad.reply().code(), ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS);
    assert_eq!(strict("AUTH TOO-LONG-MECHANISM-NAME-XX"), Err(ParseError::InvalidArguments));
}

// --- paths -------------------------------------------------------------------------------

#[test]
fn null_reverse_path_and_postmaster_are_their_own_values() {
    let Command::Mail { from, .. } = canonical("MAIL FROM:<>") else { panic!() };
    assert_eq!(from, ReversePath::Null);
    let Command::Rcpt { to, .. } = strict("RCPT TO:<POSTMASTER>").unwrap() else { panic!() };
    assert_eq!(to, ForwardPath::Postmaster);
    let Command::Rcpt { to, .. } = canonical("RCPT TO:<postmaster@example.com>") else { panic!() };
    assert!(matches!(to, ForwardPath::Mailbox(_)), "postmaster@domain is an ordinary mailbox");
    assert_eq!(strict("RCPT TO:<>"), Err(ParseError::ForwardPath(AddressError::Syntax)));
    assert_eq!(strict("MAIL FROM:<Postmaster>"), Err(ParseError::ReversePath(AddressError::Syntax)));
}

#[test]
fn quoted_local_parts_round_trip_exactly() {
    for line in [
        r#"MAIL FROM:<"john doe"@example.com>"#,
        r#"RCPT TO:<"a\"b\\c"@example.com>"#,
        r#"RCPT TO:<"@weird>:"@example.com>"#,
        r#"RCPT TO:<""@example.com>"#,
    ] {
        canonical(line);
    }
    let Command::Rcpt { to: ForwardPath::Mailbox(mailbox), .. } = strict(r#"RCPT TO:<"a\"b c"@x.example>"#).unwrap()
    else {
        panic!()
    };
    assert!(mailbox.local_part().is_quoted());
    assert_eq!(mailbox.local_part().value(), "a\"b c");
}

#[test]
fn address_literals_in_every_form() {
    let cases = [
        ("RCPT TO:<a@[192.0.2.1]>", AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1))),
        ("RCPT TO:<a@[IPv6:2001:db8::1]>", AddressLiteral::Ipv6("2001:db8::1".parse().unwrap())),
        ("RCPT TO:<a@[IPv6:::]>", AddressLiteral::Ipv6(Ipv6Addr::UNSPECIFIED)),
        ("RCPT TO:<a@[IPv6:::1]>", AddressLiteral::Ipv6(Ipv6Addr::LOCALHOST)),
        (
            "RCPT TO:<a@[ipv6:2001:0db8:0000:0000:0000:ff00:0042:8329]>",
            AddressLiteral::Ipv6("2001:db8::ff00:42:8329".parse().unwrap()),
        ),
        ("RCPT TO:<a@[IPv6:::ffff:192.0.2.1]>", AddressLiteral::Ipv6("::ffff:192.0.2.1".parse().unwrap())),
        ("RCPT TO:<a@[IPv6:1:2:3:4:5:6:192.0.2.1]>", AddressLiteral::Ipv6("1:2:3:4:5:6:192.0.2.1".parse().unwrap())),
        ("RCPT TO:<a@[IPv6:fe80::]>", AddressLiteral::Ipv6("fe80::".parse().unwrap())),
    ];
    for (line, literal) in cases {
        let Command::Rcpt { to: ForwardPath::Mailbox(mailbox), .. } = strict(line).unwrap() else { panic!("{line}") };
        assert_eq!(mailbox.host(), Host::Literal(literal), "{line}");
    }
    let general = strict("RCPT TO:<a@[x-tag:some!content]>").unwrap();
    assert_eq!(mailbox_of(&general), "<a@[x-tag:some!content]>");
    for bad in [
        "RCPT TO:<a@[256.0.0.1]>",
        "RCPT TO:<a@[1.2.3]>",
        "RCPT TO:<a@[IPv6:1::2::3]>",
        "RCPT TO:<a@[IPv6:12345::]>",
        "RCPT TO:<a@[IPv6:garbage]>",
        "RCPT TO:<a@[IPv6:fe80::1%eth0]>",
        "RCPT TO:<a@[192.0.2.1>",
        "RCPT TO:<a@[]>",
    ] {
        assert_eq!(strict(bad), Err(ParseError::ForwardPath(AddressError::Syntax)), "{bad}");
    }
}

#[test]
fn source_routes_are_accepted_and_dropped() {
    let command = strict("RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>").unwrap();
    assert_eq!(mailbox_of(&command), "<userc@d.bar.org>");
    let command = strict("MAIL FROM:<@a.example:user@b.example>").unwrap();
    assert_eq!(mailbox_of(&command), "<user@b.example>");
}

#[test]
fn garbage_after_the_closing_bracket_is_an_error() {
    for line in ["MAIL FROM:<a@b.example>x", "RCPT TO:<a@b.example>>", "MAIL FROM:<a@b.example>,<c@d.example>"] {
        assert!(lenient(line).is_err(), "{line}");
        assert!(strict(line).is_err(), "{line}");
    }
    assert_eq!(lenient("RCPT TO:<a@b.example>x").unwrap_err().reply().enhanced().unwrap().to_string(), "5.1.3");
    assert_eq!(lenient("MAIL FROM:<a@b.example>x").unwrap_err().reply().enhanced().unwrap().to_string(), "5.1.7");
}

#[test]
fn invalid_mailboxes_are_refused() {
    for path in [
        "<a@b..c>",
        "<a@-b.c>",
        "<a@b-.c>",
        "<.a@b.c>",
        "<a.@b.c>",
        "<a..b@c.d>",
        "<a@>",
        "<@b.c>",
        "<a b@c.d>",
        "<a>",
        "<a@b_c.d>",
        "<a@b.c.>",
        "<\"unterminated@b.c>",
        "<a@b@c.d>",
    ] {
        let line = format!("RCPT TO:{path}");
        assert_eq!(strict(&line), Err(ParseError::ForwardPath(AddressError::Syntax)), "{line}");
    }
}

#[test]
fn the_rfc_length_limits_are_enforced_and_configurable() {
    let local = "l".repeat(64);
    canonical(&format!("RCPT TO:<{local}@example.com>"));
    let long_local = format!("RCPT TO:<{}@example.com>", "l".repeat(65));
    assert_eq!(strict(&long_local), Err(ParseError::ForwardPath(AddressError::LocalPartTooLong)));

    let label = "d".repeat(63);
    canonical(&format!("RCPT TO:<a@{label}.example>"));
    let long_label = format!("RCPT TO:<a@{}.example>", "d".repeat(64));
    assert_eq!(strict(&long_label), Err(ParseError::ForwardPath(AddressError::DomainTooLong)));

    let domain = vec!["d".repeat(50); 6].join("."); // 305 octets
    let long_domain = format!("MAIL FROM:<a@{domain}>");
    assert_eq!(strict(&long_domain), Err(ParseError::ReversePath(AddressError::PathTooLong)));
    let mut roomy = ParseOptions::strict();
    roomy.limits.path = 400;
    assert_eq!(
        Command::parse(long_domain.as_bytes(), &roomy),
        Err(ParseError::ReversePath(AddressError::DomainTooLong))
    );
    roomy.limits.domain = 400;
    assert!(Command::parse(long_domain.as_bytes(), &roomy).is_ok());

    let path_257 = format!("RCPT TO:<{}@{}.{}.{}>", "l".repeat(64), "d".repeat(63), "e".repeat(63), "f".repeat(62));
    assert_eq!(path_257.len() - "RCPT TO:".len(), 257);
    assert_eq!(strict(&path_257), Err(ParseError::ForwardPath(AddressError::PathTooLong)));
    let error = strict(&path_257).unwrap_err().reply();
    assert_eq!(
        (error.code(), error.enhanced().unwrap().to_string()),
        (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, "5.1.3".into())
    );
}

#[test]
fn utf8_addresses_need_smtputf8() {
    let line = "MAIL FROM:<用户@例子.广告> SMTPUTF8";
    let command = canonical(line);
    assert_eq!(mailbox_of(&command), "<用户@例子.广告>");
    let error = strict("MAIL FROM:<用户@例子.广告>").unwrap_err();
    assert_eq!(error, ParseError::ReversePath(AddressError::NonAscii));
    let reply = error.reply();
    assert_eq!(
        (reply.code(), reply.enhanced().unwrap().to_string()),
        (ReplyCode::MAILBOX_NAME_NOT_ALLOWED, "5.6.7".into())
    );
    // RCPT cannot know the transaction's SMTPUTF8; it parses and says it is not ASCII.
    let Command::Rcpt { to, .. } = strict("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>").unwrap() else {
        panic!()
    };
    assert!(!to.is_ascii());
}

// --- lenient envelopes (the classic hand-typed forms) ---------------------------------------

#[test]
fn lenient_mode_takes_hand_typed_envelopes_and_strict_mode_refuses_them() {
    let cases = [
        ("MAIL FROM: <a@b.example>", "<a@b.example>"),
        ("MAIL FROM:a@b.example", "<a@b.example>"),
        ("MAIL FROM: aryamansharda@example.com", "<aryamansharda@example.com>"),
        ("MAIL FROM:Finn the Human <finn@treehouse>", "<finn@treehouse>"),
        ("RCPT TO:Jake the Dog <jake@treehouse>", "<jake@treehouse>"),
        ("RCPT TO: steve@apple.com", "<steve@apple.com>"),
        ("RCPT TO:postmaster", "<Postmaster>"),
    ];
    for (line, path) in cases {
        let command = lenient(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(mailbox_of(&command), path, "{line}");
        let error = strict(line).unwrap_err();
        assert_eq!(error.status().0, ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, "{line}: {error:?}");
    }
    let Command::Mail { params, .. } = lenient("MAIL FROM:a@b.example  SIZE=10   BODY=8BITMIME").unwrap() else {
        panic!()
    };
    assert_eq!((params.size, params.body), (Some(10), Some(BodyType::EightBitMime)));
    assert!(strict("MAIL FROM:<a@b.example>  SIZE=10").is_err());
}

#[test]
fn lenient_helo_takes_underscores_and_extra_words() {
    let Command::Ehlo { host } = lenient("EHLO DESKTOP_7F3 extra words").unwrap() else { panic!() };
    assert_eq!(host.to_string(), "DESKTOP_7F3");
    assert_eq!(strict("EHLO DESKTOP_7F3"), Err(ParseError::InvalidArguments));
    assert_eq!(strict("EHLO a b"), Err(ParseError::InvalidArguments));
}

// --- parameters ------------------------------------------------------------------------------

#[test]
fn mail_parameters_are_typed() {
    let command = canonical(
        "MAIL FROM:<a@b.example> SIZE=12345 BODY=BINARYMIME SMTPUTF8 RET=HDRS ENVID=QQ314159+2B1 AUTH=<> REQUIRETLS MT-PRIORITY=-3 HOLDFOR=600 BY=120;RT X-CUSTOM=yes X-FLAG",
    );
    let Command::Mail { params, .. } = command else { panic!() };
    let expected = MailParameters {
        size: Some(12345),
        body: Some(BodyType::BinaryMime),
        smtputf8: true,
        ret: Some(Ret::Headers),
        envid: XText::parse("QQ314159+2B1"),
        auth: XText::parse("<>"),
        requiretls: true,
        mt_priority: Some(-3),
        hold: Some(Hold::For(600)),
        by: Some(DeliverBy { seconds: 120, mode: ByMode::Return, trace: true }),
        other: vec![
            Parameter { keyword: "X-CUSTOM".into(), value: Some("yes".into()) },
            Parameter { keyword: "X-FLAG".into(), value: None },
        ],
    };
    assert_eq!(params, expected);
    assert_eq!(params.envid.unwrap().decode().as_ref(), b"QQ314159+1");
}

#[test]
fn rcpt_parameters_are_typed() {
    let Command::Rcpt { params, .. } =
        canonical("RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@c.example")
    else {
        panic!()
    };
    assert_eq!(params.notify, Some(Notify { success: true, failure: false, delay: true }));
    let orcpt = params.orcpt.unwrap();
    assert_eq!(orcpt.address_type(), "rfc822");
    assert_eq!(orcpt.address().decode().as_ref(), b"a+b@c.example");
    let Command::Rcpt { params, .. } = canonical("RCPT TO:<a@b.example> NOTIFY=NEVER") else { panic!() };
    assert_eq!(params, RcptParameters { notify: Some(Notify::NEVER), ..Default::default() });
}

#[test]
fn parameter_keywords_and_values_are_case_insensitive_where_the_rfcs_say() {
    let Command::Mail { params, .. } = strict("MAIL FROM:<a@b.example> size=5 body=8bitmime ret=full").unwrap() else {
        panic!()
    };
    assert_eq!((params.size, params.body, params.ret), (Some(5), Some(BodyType::EightBitMime), Some(Ret::Full)));
}

#[test]
fn invalid_or_repeated_parameters_are_501_5_5_4() {
    for (line, error) in [
        ("MAIL FROM:<a@b.example> SIZE=abc", ParseError::InvalidParameter("SIZE")),
        ("MAIL FROM:<a@b.example> SIZE=-1", ParseError::InvalidParameter("SIZE")),
        ("MAIL FROM:<a@b.example> SIZE=99999999999999999999999", ParseError::InvalidParameter("SIZE")),
        ("MAIL FROM:<a@b.example> SIZE", ParseError::InvalidParameter("SIZE")),
        ("MAIL FROM:<a@b.example> BODY=9BIT", ParseError::InvalidParameter("BODY")),
        ("MAIL FROM:<a@b.example> SMTPUTF8=yes", ParseError::InvalidParameter("SMTPUTF8")),
        ("MAIL FROM:<a@b.example> RET=ALL", ParseError::InvalidParameter("RET")),
        ("MAIL FROM:<a@b.example> ENVID=a+zz", ParseError::InvalidParameter("ENVID")),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=10", ParseError::InvalidParameter("MT-PRIORITY")),
        ("MAIL FROM:<a@b.example> BY=-10;R", ParseError::InvalidParameter("BY")),
        ("MAIL FROM:<a@b.example> BY=10;X", ParseError::InvalidParameter("BY")),
        ("MAIL FROM:<a@b.example> HOLDFOR=soon", ParseError::InvalidParameter("HOLDFOR")),
        ("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", ParseError::InvalidParameter("NOTIFY")),
        ("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", ParseError::InvalidParameter("NOTIFY")),
        ("RCPT TO:<a@b.example> ORCPT=no-semicolon", ParseError::InvalidParameter("ORCPT")),
        ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", ParseError::DuplicateParameter("SIZE")),
        (
            "MAIL FROM:<a@b.example> HOLDFOR=1 HOLDUNTIL=2030-01-01T00:00:00Z",
            ParseError::DuplicateParameter("HOLDUNTIL"),
        ),
        ("MAIL FROM:<a@b.example> SMTPUTF8 smtputf8", ParseError::DuplicateParameter("SMTPUTF8")),
        ("MAIL FROM:<a@b.example> X-A=1 x-a=2", ParseError::DuplicateParameter("(extension)")),
        ("MAIL FROM:<a@b.example> =1", ParseError::InvalidArguments),
        ("MAIL FROM:<a@b.example> X=", ParseError::InvalidArguments),
        ("MAIL FROM:<a@b.example> -X=1", ParseError::InvalidArguments),
    ] {
        assert_eq!(strict(line), Err(error), "{line}");
        let reply = error.reply();
        assert_eq!(
            (reply.code(), reply.enhanced().unwrap().to_string()),
            (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, "5.5.4".into()),
            "{line}"
        );
    }
}

#[test]
fn a_parameter_of_the_wrong_command_is_kept_as_unknown() {
    let Command::Rcpt { params, .. } = strict("RCPT TO:<a@b.example> SIZE=10").unwrap() else { panic!() };
    assert_eq!(params.other, [Parameter { keyword: "SIZE".into(), value: Some("10".into()) }]);
}

#[test]
fn xtext_encodes_what_it_must() {
    let text = XText::encode(b"a+b=c d\xff");
    assert_eq!(text.as_str(), "a+2Bb+3Dc+20d+FF");
    assert_eq!(text.decode().as_ref(), b"a+b=c d\xff");
    assert!(XText::parse("a+2").is_none());
    assert!(XText::parse("a=b").is_none());
    assert!(XText::parse("").is_none());
}

// --- encoding refuses injection -------------------------------------------------------------

#[test]
fn the_encoder_refuses_crlf_injection_and_writes_nothing() {
    let injections = [
        Command::Vrfy { target: "user\r\nRCPT TO:<victim@example.com>".into() },
        Command::Noop { text: Some("x\nQUIT".into()) },
        Command::Help { topic: Some("\rDATA".into()) },
        Command::Expn { list: "a\0b".into() },
    ];
    for command in injections {
        let mut out = BytesMut::from(&b"EHLO x\r\n"[..]);
        assert_eq!(command.encode(&mut out), Err(EncodeError::ControlCharacter), "{command:?}");
        assert_eq!(&out[..], b"EHLO x\r\n", "something was written for {command:?}");
    }
    let mut params = RcptParameters::default();
    params.other.push(Parameter { keyword: "X".into(), value: Some("a\r\nDATA".into()) });
    let command = Command::Rcpt { to: ForwardPath::Postmaster, params };
    assert!(command.encode(&mut BytesMut::new()).is_err());
}

#[test]
fn the_encoder_refuses_arguments_outside_their_grammar() {
    for command in [
        Command::Vrfy { target: "".into() },
        Command::Noop { text: Some("".into()) },
        Command::Help { topic: Some("trailing ".into()) },
        Command::Mail {
            from: ReversePath::parse("<用户@例子.广告>").unwrap(),
            params: MailParameters::default(), // no SMTPUTF8
        },
        Command::Auth { mechanism: "PLAIN EXTRA".into(), initial_response: None },
        Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some(InitialResponse::Base64("no spaces".into())),
        },
    ] {
        assert_eq!(command.encode(&mut BytesMut::new()), Err(EncodeError::InvalidArgument), "{command:?}");
    }
}

#[test]
fn into_owned_outlives_the_line() {
    let owned = {
        let line = String::from("MAIL FROM:<a@b.example> ENVID=x X-Y=z");
        lenient(&line).unwrap().into_owned()
    };
    assert_eq!(owned.to_string(), "MAIL FROM:<a@b.example> ENVID=x X-Y=z");
}

#[test]
fn every_parse_error_names_the_reply_it_deserves() {
    let cases = [
        (ParseError::UnknownCommand, 500, "5.5.2"),
        (ParseError::InvalidCharacters, 501, "5.5.2"),
        (ParseError::InvalidArguments, 501, "5.5.4"),
        (ParseError::InvalidBase64, 501, "5.5.2"),
        (ParseError::InvalidParameter("SIZE"), 501, "5.5.4"),
        (ParseError::DuplicateParameter("SIZE"), 501, "5.5.4"),
        (ParseError::ReversePath(AddressError::Syntax), 501, "5.1.7"),
        (ParseError::ReversePath(AddressError::PathTooLong), 501, "5.1.7"),
        (ParseError::ReversePath(AddressError::NonAscii), 553, "5.6.7"),
        (ParseError::ForwardPath(AddressError::LocalPartTooLong), 501, "5.1.3"),
        (ParseError::ForwardPath(AddressError::DomainTooLong), 501, "5.1.3"),
        (ParseError::ForwardPath(AddressError::NonAscii), 553, "5.6.7"),
    ];
    for (error, code, enhanced) in cases {
        let reply = error.reply();
        assert_eq!(reply.code().get(), code, "{error:?}");
        assert_eq!(reply.enhanced().map(|e| e.to_string()).as_deref(), Some(enhanced), "{error:?}");
        let mut out = BytesMut::new();
        reply.encode(&mut out).unwrap();
        assert!(out.starts_with(format!("{code} {enhanced} ").as_bytes()), "{error:?}: {out:?}");
    }
}
