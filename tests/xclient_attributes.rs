//! The attribute grammar of Postfix's XCLIENT and XFORWARD (XCLIENT_README,
//! XFORWARD_README): names, xtext values, the special values, the typed attributes,
//! what is refused, and encoding over lines of at most 512 octets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use proptest::prelude::*;
use smtp_sansio::error::AttributeError;
use smtp_sansio::wire::{AttributeCommand, AttributeValue, ClientAttributes};
use smtp_sansio::{Command, EncodeError, ParseError, ParseOptions, ReplyCode};

const XCLIENT: AttributeCommand = AttributeCommand::Xclient;
const XFORWARD: AttributeCommand = AttributeCommand::Xforward;

fn value(text: &str) -> Option<AttributeValue> {
    Some(AttributeValue::Value(text.into()))
}

fn xclient(args: &str) -> Result<ClientAttributes, AttributeError> {
    ClientAttributes::parse(args, XCLIENT)
}

fn xforward(args: &str) -> Result<ClientAttributes, AttributeError> {
    ClientAttributes::parse(args, XFORWARD)
}

/// Encodes, checks every line (the verb, at most 512 octets with CRLF, nothing but
/// printable ASCII inside), and gives the lines without their CRLF.
fn encode_lines(attributes: &ClientAttributes, command: AttributeCommand) -> Result<Vec<String>, EncodeError> {
    let mut out = BytesMut::new();
    attributes.encode(command, &mut out)?;
    let text = String::from_utf8(out.to_vec()).expect("encoding is ASCII");
    assert!(text.ends_with("\r\n"), "{text:?}");
    let lines: Vec<String> = text.split_terminator("\r\n").map(String::from).collect();
    for line in &lines {
        assert!(line.len() + 2 <= 512, "a line of {} octets: {line:?}", line.len() + 2);
        assert!(line.starts_with(&format!("{} ", command.verb())), "{line:?}");
        assert!(line.bytes().all(|b| (b' '..=b'~').contains(&b)), "{line:?}");
    }
    Ok(lines)
}

/// Parses each encoded line and merges the results in order.
fn parse_lines(lines: &[String], command: AttributeCommand) -> ClientAttributes {
    let mut merged = ClientAttributes::default();
    for line in lines {
        let args = line.strip_prefix(&format!("{} ", command.verb())).unwrap();
        merged.merge(ClientAttributes::parse(args, command).unwrap_or_else(|e| panic!("{line:?}: {e}")));
    }
    merged
}

#[test]
fn xclient_all_attributes() {
    let attributes = xclient(
        "NAME=spike.porcupine.org REVERSE_NAME=unknown.porcupine.org ADDR=168.100.189.2 PORT=4711 PROTO=ESMTP \
         HELO=spike.porcupine.org LOGIN=wietse DESTADDR=192.0.2.25 DESTPORT=587",
    )
    .unwrap();
    assert_eq!(attributes.name, value("spike.porcupine.org"));
    assert_eq!(attributes.reverse_name, value("unknown.porcupine.org"));
    assert_eq!(attributes.addr, value("168.100.189.2"));
    assert_eq!(attributes.port, value("4711"));
    assert_eq!(attributes.proto, value("ESMTP"));
    assert_eq!(attributes.helo, value("spike.porcupine.org"));
    assert_eq!(attributes.login, value("wietse"));
    assert_eq!(attributes.destaddr, value("192.0.2.25"));
    assert_eq!(attributes.destport, value("587"));
    assert_eq!((attributes.ident.clone(), attributes.source.clone()), (None, None));
    assert_eq!(attributes.addr_ip(), Some(IpAddr::V4(Ipv4Addr::new(168, 100, 189, 2))));
    assert_eq!(attributes.port_number(), Some(4711));
    assert_eq!(attributes.destaddr_ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25))));
    assert_eq!(attributes.destport_number(), Some(587));

    // Attributes not sent stay None; XCLIENT's PROTO is SMTP or ESMTP and nothing else.
    let only = xclient("PROTO=SMTP").unwrap();
    assert_eq!(only.proto, value("SMTP"));
    assert_eq!(only.name, None);
    assert_eq!(only.addr_ip(), None);
    assert_eq!(only.port_number(), None);
    assert_eq!(xclient("PROTO=LMTP"), Err(AttributeError::BadValue));
}

#[test]
fn xforward_all_attributes() {
    let attributes = xforward(
        "NAME=spike.porcupine.org ADDR=168.100.189.2 PORT=12345 PROTO=ESMTP HELO=spike.porcupine.org \
         IDENT=3CF6B2AAE8 SOURCE=REMOTE",
    )
    .unwrap();
    assert_eq!(attributes.name, value("spike.porcupine.org"));
    assert_eq!(attributes.addr, value("168.100.189.2"));
    assert_eq!(attributes.port, value("12345"));
    assert_eq!(attributes.proto, value("ESMTP"));
    assert_eq!(attributes.helo, value("spike.porcupine.org"));
    assert_eq!(attributes.ident, value("3CF6B2AAE8"));
    assert_eq!(attributes.source, value("REMOTE"));
    assert_eq!(attributes.login, None);
    assert_eq!(attributes.addr_ip(), Some(IpAddr::V4(Ipv4Addr::new(168, 100, 189, 2))));
    assert_eq!(attributes.port_number(), Some(12345));

    // XFORWARD's PROTO is any protocol name up to 64 characters; SOURCE is LOCAL or REMOTE.
    assert_eq!(xforward("PROTO=QMQP").unwrap().proto, value("QMQP"));
    assert_eq!(xforward(&format!("PROTO={}", "P".repeat(64))).unwrap().proto, value(&"P".repeat(64)));
    assert_eq!(xforward(&format!("PROTO={}", "P".repeat(65))), Err(AttributeError::BadValue));
    assert_eq!(xforward("SOURCE=LOCAL").unwrap().source, value("LOCAL"));
    assert_eq!(xforward("SOURCE=ELSEWHERE"), Err(AttributeError::BadValue));

    // The README's example, sent in two commands, merged.
    let mut merged = xforward("NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP").unwrap();
    merged.merge(xforward("HELO=spike.porcupine.org").unwrap());
    assert_eq!(merged.name, value("spike.porcupine.org"));
    assert_eq!(merged.helo, value("spike.porcupine.org"));
    // A later value replaces an earlier one; an absent one keeps it.
    merged.merge(xforward("ADDR=[UNAVAILABLE]").unwrap());
    assert_eq!(merged.addr, Some(AttributeValue::Unavailable));
    assert_eq!(merged.proto, value("ESMTP"));
}

#[test]
fn names_are_case_insensitive() {
    let upper = xclient("NAME=a.example ADDR=192.0.2.1 REVERSE_NAME=b.example HELO=c LOGIN=d").unwrap();
    let lower = xclient("name=a.example addr=192.0.2.1 reverse_name=b.example helo=c login=d").unwrap();
    let mixed = xclient("Name=a.example aDdR=192.0.2.1 Reverse_Name=b.example Helo=c LoGiN=d").unwrap();
    assert_eq!(lower, upper);
    assert_eq!(mixed, upper);
    assert_eq!(xforward("ident=x source=local").unwrap(), xforward("IDENT=x SOURCE=local").unwrap());
    // Special values, the IPV6: prefix and PROTO and SOURCE keywords ignore case too;
    // values are kept as sent.
    let attributes = xclient("NAME=[unavailable] ADDR=ipv6:2001:db8::1 PROTO=esmtp").unwrap();
    assert_eq!(attributes.name, Some(AttributeValue::Unavailable));
    assert_eq!(attributes.addr, value("2001:db8::1"));
    assert_eq!(attributes.proto, value("esmtp"));
    assert_eq!(xforward("SOURCE=Remote").unwrap().source, value("Remote"));
}

#[test]
fn xtext_is_decoded() {
    let attributes = xclient("HELO=a+2Bb+3Dc LOGIN=+41lice+21").unwrap();
    assert_eq!(attributes.helo, value("a+b=c"));
    assert_eq!(attributes.login, value("Alice!"));
    // Every printable character but `+` and `=` stands for itself.
    assert_eq!(
        xforward("IDENT=!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~").unwrap().ident,
        value("!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~")
    );
    // An escape that decodes to a special value is that value.
    assert_eq!(xclient("NAME=+5BUNAVAILABLE+5D").unwrap().name, Some(AttributeValue::Unavailable));
    // The address of ADDR may be escaped too.
    assert_eq!(xclient("ADDR=192+2E0.2.1").unwrap().addr, value("192.0.2.1"));
}

#[test]
fn unavailable_and_tempunavail() {
    let all = "NAME=[UNAVAILABLE] REVERSE_NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] \
               PROTO=[UNAVAILABLE] HELO=[UNAVAILABLE] LOGIN=[UNAVAILABLE] DESTADDR=[UNAVAILABLE] \
               DESTPORT=[UNAVAILABLE]";
    let attributes = xclient(all).unwrap();
    for field in [
        &attributes.name,
        &attributes.reverse_name,
        &attributes.addr,
        &attributes.port,
        &attributes.proto,
        &attributes.helo,
        &attributes.login,
        &attributes.destaddr,
        &attributes.destport,
    ] {
        assert_eq!(field, &Some(AttributeValue::Unavailable));
    }
    assert_eq!(attributes.addr_ip(), None);
    assert_eq!(attributes.port_number(), None);
    let forwarded = xforward("SOURCE=[unavailable] IDENT=[Unavailable]").unwrap();
    assert_eq!(
        (forwarded.source, forwarded.ident),
        (Some(AttributeValue::Unavailable), Some(AttributeValue::Unavailable))
    );

    // [TEMPUNAVAIL]: XCLIENT's NAME and REVERSE_NAME only.
    let temporary = xclient("NAME=[TEMPUNAVAIL] REVERSE_NAME=[tempunavail]").unwrap();
    assert_eq!(temporary.name, Some(AttributeValue::TempUnavailable));
    assert_eq!(temporary.reverse_name, Some(AttributeValue::TempUnavailable));
    assert_eq!(temporary.name.as_ref().and_then(AttributeValue::value), None);
    for args in ["ADDR=[TEMPUNAVAIL]", "HELO=[TEMPUNAVAIL]", "PORT=[TEMPUNAVAIL]", "LOGIN=[TEMPUNAVAIL]"] {
        assert_eq!(xclient(args), Err(AttributeError::BadValue), "{args}");
    }
    assert_eq!(xforward("NAME=[TEMPUNAVAIL]"), Err(AttributeError::BadValue));

    // Encoding writes them as such, and refuses [TEMPUNAVAIL] where it does not belong,
    // and a value that spells a special one.
    let lines = encode_lines(&temporary, XCLIENT).unwrap();
    assert_eq!(lines, ["XCLIENT REVERSE_NAME=[TEMPUNAVAIL] NAME=[TEMPUNAVAIL]"]);
    let mut wrong = ClientAttributes::default();
    wrong.helo = Some(AttributeValue::TempUnavailable);
    assert_eq!(wrong.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
    let mut forwarded = ClientAttributes::default();
    forwarded.name = Some(AttributeValue::TempUnavailable);
    assert_eq!(forwarded.encode(XFORWARD, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
    let mut spelled = ClientAttributes::default();
    spelled.helo = value("[unavailable]");
    assert_eq!(spelled.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
}

#[test]
fn ipv6_addr_with_postfix_prefix() {
    let v6: IpAddr = IpAddr::V6("2001:db8::25".parse::<Ipv6Addr>().unwrap());
    for args in ["ADDR=IPV6:2001:db8::25", "ADDR=ipv6:2001:db8::25", "ADDR=IpV6:2001:db8::25", "ADDR=2001:db8::25"] {
        let attributes = xclient(args).unwrap();
        assert_eq!(attributes.addr, value("2001:db8::25"), "{args}");
        assert_eq!(attributes.addr_ip(), Some(v6), "{args}");
        assert_eq!(xforward(args).unwrap().addr_ip(), Some(v6), "{args}");
    }
    let destination = xclient("DESTADDR=IPV6:::1 ADDR=IPV6:::ffff:192.0.2.1").unwrap();
    assert_eq!(destination.destaddr_ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(destination.addr, value("::ffff:192.0.2.1"));
    // The prefix is for IPv6 only, and is followed by an address.
    for args in ["ADDR=IPV6:192.0.2.1", "ADDR=IPV6:", "ADDR=IPV6", "ADDR=IPV4:192.0.2.1", "ADDR=IPV6:IPV6:::1"] {
        assert_eq!(xclient(args), Err(AttributeError::BadValue), "{args}");
    }
    // Encoding always writes the prefix for IPv6, never for IPv4.
    let lines = encode_lines(&destination, XCLIENT).unwrap();
    assert_eq!(lines, ["XCLIENT DESTADDR=IPV6:::1 ADDR=IPV6:::ffff:192.0.2.1"]);
    let mut prefixed = ClientAttributes::default();
    prefixed.addr = value("IPV6:2001:db8::25");
    assert_eq!(prefixed.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
}

#[test]
fn unknown_name_is_refused() {
    for args in ["FOO=bar", "NAME=a FOO=bar", "X-NAME=a", "NAMES=a", "NAM=a", "ADDR_=192.0.2.1"] {
        assert_eq!(xclient(args), Err(AttributeError::UnknownName), "{args}");
        assert_eq!(xforward(args), Err(AttributeError::UnknownName), "{args}");
    }
    // Through the command parser: a 501, as Postfix answers.
    let error = Command::parse(b"XCLIENT NAME=a FOO=bar", &ParseOptions::default()).unwrap_err();
    assert_eq!(error, ParseError::Attribute(AttributeError::UnknownName));
    let reply = error.reply();
    assert_eq!(reply.code(), ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS);
    assert_eq!(reply.enhanced().unwrap().to_string(), "5.5.4");
}

#[test]
fn xforward_refuses_xclient_only_names() {
    for args in ["REVERSE_NAME=a.example", "LOGIN=alice", "DESTADDR=192.0.2.1", "DESTPORT=25"] {
        assert!(xclient(args).is_ok(), "{args}");
        assert_eq!(xforward(args), Err(AttributeError::UnknownName), "{args}");
    }
    let mut attributes = ClientAttributes::default();
    attributes.login = value("alice");
    assert_eq!(attributes.encode(XFORWARD, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
}

#[test]
fn xclient_refuses_xforward_only_names() {
    for args in ["IDENT=3CF6B2AAE8", "SOURCE=LOCAL"] {
        assert!(xforward(args).is_ok(), "{args}");
        assert_eq!(xclient(args), Err(AttributeError::UnknownName), "{args}");
    }
    let mut attributes = ClientAttributes::default();
    attributes.source = value("LOCAL");
    assert_eq!(attributes.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
}

#[test]
fn duplicate_name_is_refused() {
    for args in ["NAME=a NAME=a", "NAME=a name=b", "HELO=x ADDR=192.0.2.1 helo=[UNAVAILABLE]", "PORT=1 PORT=1"] {
        assert_eq!(xclient(args), Err(AttributeError::Duplicate), "{args}");
    }
    assert_eq!(xforward("IDENT=a IDENT=b"), Err(AttributeError::Duplicate));
}

#[test]
fn bad_xtext_is_refused() {
    for args in [
        "NAME=a=b",    // `=` must be escaped
        "NAME=a+",     // `+` starts an escape
        "NAME=a+0",    // of two digits
        "NAME=a+0G",   // hexadecimal ones
        "NAME=a+0a",   // in upper case (RFC 3461 section 4)
        "NAME=+2b",    // likewise
        "NAME=\u{e9}", // xtext is ASCII
        "NAME=a\tb",   // a tab is not an xchar
        "NAME=a\r\n",  // nor are CR and LF
        "NAME=a\0",    // nor NUL
    ] {
        assert_eq!(xclient(args), Err(AttributeError::BadXtext), "{args:?}");
    }
    // The value is at most 255 octets as sent.
    assert!(xclient(&format!("HELO={}", "h".repeat(255))).is_ok());
    assert_eq!(xclient(&format!("HELO={}", "h".repeat(256))), Err(AttributeError::TooLong));
    assert_eq!(xclient(&format!("HELO={}", "+41".repeat(86))), Err(AttributeError::TooLong));
    // Text that is not NAME=value pairs between single spaces.
    for args in ["NAME", "=a", "NAME=a  ADDR=192.0.2.1", " NAME=a", "NAME=a ", "NAME=a ADDR", "NAME=a =b"] {
        assert_eq!(xclient(args), Err(AttributeError::Syntax), "{args:?}");
    }
    assert_eq!(xclient(""), Err(AttributeError::Empty));
}

#[test]
fn control_characters_never_pass() {
    for escaped in ["+0D+0A", "+0D", "+0A", "+00", "+09", "+1B", "+7F", "+20", "+C3+A9", "+80", "+FF"] {
        for name in ["NAME", "HELO", "LOGIN", "REVERSE_NAME"] {
            let args = format!("{name}=a{escaped}b");
            assert_eq!(xclient(&args), Err(AttributeError::BadValue), "{args}");
            let line = format!("XCLIENT {args}");
            assert_eq!(
                Command::parse(line.as_bytes(), &ParseOptions::default()),
                Err(ParseError::Attribute(AttributeError::BadValue)),
                "{line}"
            );
        }
        let args = format!("IDENT=x{escaped}");
        assert_eq!(xforward(&args), Err(AttributeError::BadValue), "{args}");
    }
    // An injected line would have to come through a decoded CR LF: refused, so no
    // value can carry one into a log line or a Received field.
    assert_eq!(xforward("HELO=x+0D+0AMAIL+20FROM:<a@b.example>"), Err(AttributeError::BadValue));
    // An empty value says nothing: "unknown" is [UNAVAILABLE].
    assert_eq!(xclient("NAME="), Err(AttributeError::BadValue));

    // The encoder refuses them as well, writing nothing.
    let mut attributes = ClientAttributes::default();
    attributes.helo = value("a\r\nMAIL FROM:<a@b.example>");
    let mut out = BytesMut::from(&b"kept"[..]);
    assert_eq!(attributes.encode(XCLIENT, &mut out), Err(EncodeError::ControlCharacter));
    assert_eq!(&out[..], b"kept");
    let command = Command::Xclient { attributes: Box::new(attributes.clone()) };
    assert_eq!(command.encode(&mut out), Err(EncodeError::ControlCharacter));
    assert_eq!(&out[..], b"kept");
    for bad in ["a b", "", "caf\u{e9}", "a\u{85}b", "\0"] {
        attributes.helo = value(bad);
        assert!(attributes.encode(XCLIENT, &mut out).is_err(), "{bad:?}");
        assert_eq!(&out[..], b"kept");
    }
}

#[test]
fn bad_port_and_addr() {
    for args in [
        "PORT=65536",
        "PORT=-1",
        "PORT=123456",
        "PORT=12a",
        "PORT=0x19",
        "PORT=000025",
        "DESTPORT=70000",
        "ADDR=256.1.1.1",
        "ADDR=192.0.2",
        "ADDR=mail.example.com",
        "ADDR=[192.0.2.1]",
        "ADDR=192.0.2.1:25",
        "ADDR=fe80::1%25eth0",
        "DESTADDR=localhost",
    ] {
        assert_eq!(xclient(args), Err(AttributeError::BadValue), "{args}");
    }
    // XFORWARD's ADDR and PORT are checked the same way.
    assert_eq!(xforward("ADDR=mail.example.com"), Err(AttributeError::BadValue));
    assert_eq!(xforward("PORT=65536"), Err(AttributeError::BadValue));
    let edges = xclient("PORT=0 DESTPORT=65535 ADDR=0.0.0.0").unwrap();
    assert_eq!((edges.port_number(), edges.destport_number()), (Some(0), Some(65535)));
    assert_eq!(edges.addr_ip(), Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    assert_eq!(xclient("PORT=00025").unwrap().port_number(), Some(25));
    // The encoder refuses what the parser would.
    for (field, bad) in [("port", "65536"), ("addr", "mail.example.com"), ("destport", "x")] {
        let mut attributes = ClientAttributes::default();
        *match field {
            "port" => &mut attributes.port,
            "addr" => &mut attributes.addr,
            _ => &mut attributes.destport,
        } = value(bad);
        assert_eq!(attributes.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument), "{field}");
    }
}

#[test]
fn encode_splits_long_attribute_sets_under_512_octets() {
    let mut attributes = ClientAttributes::default();
    attributes.name = value(&format!("n{}", ".example".repeat(31)));
    attributes.reverse_name = value(&"r".repeat(255));
    attributes.helo = value(&"h".repeat(250));
    attributes.login = value(&format!("{}+=", "l".repeat(200)));
    attributes.proto = value("ESMTP");
    attributes.addr = value("2001:db8:1234:5678:9abc:def0:1234:5678");
    attributes.port = value("65535");
    attributes.destaddr = value("192.0.2.25");
    attributes.destport = value("25");
    let lines = encode_lines(&attributes, XCLIENT).unwrap();
    assert!(lines.len() >= 3, "{lines:#?}");
    // HELO and PROTO first; NAME and ADDR together, last of all.
    assert!(lines[0].starts_with("XCLIENT HELO="), "{lines:#?}");
    let last = lines.last().unwrap();
    assert!(last.contains(" NAME=n.example"), "{last}");
    assert!(last.ends_with(" ADDR=IPV6:2001:db8:1234:5678:9abc:def0:1234:5678"), "{last}");
    assert_eq!(parse_lines(&lines, XCLIENT), attributes);

    // Command::encode puts them on one line, whatever its length, and it parses back.
    let command = Command::Xclient { attributes: Box::new(attributes.clone()) };
    let mut out = BytesMut::new();
    command.encode(&mut out).unwrap();
    assert!(out.len() > 512);
    let line = out.strip_suffix(b"\r\n").unwrap();
    assert_eq!(Command::parse(line, &ParseOptions::strict()), Ok(command.clone()));
    assert_eq!(command.to_string().as_bytes(), line);

    // A value over 255 octets once encoded cannot be sent, and a set with nothing in it
    // is not a command.
    attributes.login = value(&"+".repeat(86));
    assert_eq!(attributes.encode(XCLIENT, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
    attributes.login = value(&"+".repeat(85));
    assert!(attributes.encode(XCLIENT, &mut BytesMut::new()).is_ok());
    let empty = ClientAttributes::default();
    assert_eq!(empty.encode(XFORWARD, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
    assert_eq!(
        Command::Xforward { attributes: Box::new(empty) }.encode(&mut BytesMut::new()),
        Err(EncodeError::InvalidArgument)
    );
}

#[test]
fn command_parse_xclient_and_xforward() {
    for options in [ParseOptions::default(), ParseOptions::strict()] {
        let command = Command::parse(b"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2", &options).unwrap();
        let Command::Xclient { attributes } = &command else { panic!("{command:?}") };
        assert_eq!(attributes.name, value("spike.porcupine.org"));
        assert_eq!(command.verb(), "XCLIENT");
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        assert_eq!(&out[..], b"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2\r\n");

        let command = Command::parse(b"xforward helo=spike.porcupine.org ident=ABC source=LOCAL", &options).unwrap();
        let Command::Xforward { attributes } = &command else { panic!("{command:?}") };
        assert_eq!(attributes.ident, value("ABC"));
        assert_eq!(command.verb(), "XFORWARD");
        assert_eq!(command.to_string(), "XFORWARD HELO=spike.porcupine.org IDENT=ABC SOURCE=LOCAL");
        assert_eq!(command.clone().into_owned(), command);

        // The verb alone has no attributes; the other command's names are unknown.
        let empty = Err(ParseError::Attribute(AttributeError::Empty));
        assert_eq!(Command::parse(b"XCLIENT", &options), empty);
        assert_eq!(Command::parse(b"XFORWARD", &options), empty);
        assert_eq!(
            Command::parse(b"XFORWARD LOGIN=a", &options),
            Err(ParseError::Attribute(AttributeError::UnknownName))
        );
        // Close misses are other verbs; STARTTLS still parses.
        for line in ["XCLIENTS NAME=a", "XCLIEN NAME=a", "XFORWAR NAME=a", "XFORWARDS NAME=a", "X NAME=a"] {
            assert_eq!(Command::parse(line.as_bytes(), &options), Err(ParseError::UnknownCommand), "{line}");
        }
        assert_eq!(Command::parse(b"starttls", &options), Ok(Command::StartTls));
        // A raw control character is the line's fault, as for every command.
        assert_eq!(Command::parse(b"XCLIENT NAME=a\x00", &options), Err(ParseError::InvalidCharacters));
    }
    // Trailing white space: lenient mode forgives it, strict mode does not.
    let line = b"XCLIENT NAME=a.example ";
    assert!(Command::parse(line, &ParseOptions::default()).is_ok());
    assert_eq!(Command::parse(line, &ParseOptions::strict()), Err(ParseError::Attribute(AttributeError::Syntax)));
}

// ---------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------

/// 1 to 80 printable ASCII characters, `+` and `=` (which need escapes) included: at
/// most 240 octets as xtext.
fn text() -> impl Strategy<Value = String> {
    "[!-~]{1,80}".prop_filter("a special value", |text| {
        !text.eq_ignore_ascii_case("[UNAVAILABLE]") && !text.eq_ignore_ascii_case("[TEMPUNAVAIL]")
    })
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|octets| Ipv4Addr::from(octets).to_string()),
        any::<[u16; 8]>().prop_map(|segments| Ipv6Addr::from(segments).to_string()),
    ]
}

fn port() -> impl Strategy<Value = String> {
    any::<u16>().prop_map(|port| port.to_string())
}

/// A value from `values`, `[UNAVAILABLE]`, `[TEMPUNAVAIL]` when `temporary`, or absent.
fn attribute(values: BoxedStrategy<String>, temporary: bool) -> BoxedStrategy<Option<AttributeValue>> {
    let special = if temporary {
        prop_oneof![Just(AttributeValue::Unavailable), Just(AttributeValue::TempUnavailable)].boxed()
    } else {
        Just(AttributeValue::Unavailable).boxed()
    };
    prop_oneof![
        2 => Just(None::<AttributeValue>),
        4 => values.prop_map(|value| Some(AttributeValue::Value(value))),
        1 => special.prop_map(Some),
    ]
    .boxed()
}

fn attributes(command: AttributeCommand) -> impl Strategy<Value = ClientAttributes> {
    let xclient = command == AttributeCommand::Xclient;
    let only = |defined: bool, strategy: BoxedStrategy<Option<AttributeValue>>| {
        if defined { strategy } else { Just(None).boxed() }
    };
    let proto = match xclient {
        true => prop_oneof![Just("SMTP"), Just("ESMTP"), Just("esmtp"), Just("Smtp")].prop_map(String::from).boxed(),
        false => "[!-~]{1,64}".boxed(),
    };
    let source = prop_oneof![Just("LOCAL"), Just("REMOTE"), Just("local")].prop_map(String::from).boxed();
    (
        (
            attribute(text().boxed(), xclient),
            only(xclient, attribute(text().boxed(), true)),
            attribute(ip().boxed(), false),
            attribute(port().boxed(), false),
            attribute(proto, false),
            attribute(text().boxed(), false),
        ),
        (
            only(xclient, attribute(text().boxed(), false)),
            only(!xclient, attribute(text().boxed(), false)),
            only(!xclient, attribute(source, false)),
            only(xclient, attribute(ip().boxed(), false)),
            only(xclient, attribute(port().boxed(), false)),
        ),
    )
        .prop_map(|((name, reverse_name, addr, port, proto, helo), (login, ident, source, destaddr, destport))| {
            let mut attributes = ClientAttributes::default();
            attributes.name = name;
            attributes.reverse_name = reverse_name;
            attributes.addr = addr;
            attributes.port = port;
            attributes.proto = proto;
            attributes.helo = helo;
            attributes.login = login;
            attributes.ident = ident;
            attributes.source = source;
            attributes.destaddr = destaddr;
            attributes.destport = destport;
            attributes
        })
}

fn command_and_attributes() -> impl Strategy<Value = (AttributeCommand, ClientAttributes)> {
    prop_oneof![Just(AttributeCommand::Xclient), Just(AttributeCommand::Xforward)]
        .prop_flat_map(|command| (Just(command), attributes(command)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_round_trips((command, attributes) in command_and_attributes()) {
        if attributes == ClientAttributes::default() {
            prop_assert_eq!(attributes.encode(command, &mut BytesMut::new()), Err(EncodeError::InvalidArgument));
            return Ok(());
        }
        let lines = encode_lines(&attributes, command).unwrap();
        prop_assert_eq!(parse_lines(&lines, command), attributes.clone());
        // Each line is also a command the command parser takes, in both modes, and
        // encodes back the same.
        for line in &lines {
            for options in [ParseOptions::strict(), ParseOptions::default()] {
                let parsed = Command::parse(line.as_bytes(), &options).unwrap();
                let mut out = BytesMut::new();
                parsed.encode(&mut out).unwrap();
                let expected = format!("{line}\r\n");
                prop_assert_eq!(&out[..], expected.as_bytes());
            }
        }
        // And the whole set on one line through Command.
        let whole = match command {
            AttributeCommand::Xclient => Command::Xclient { attributes: Box::new(attributes.clone()) },
            AttributeCommand::Xforward => Command::Xforward { attributes: Box::new(attributes.clone()) },
        };
        let mut out = BytesMut::new();
        whole.encode(&mut out).unwrap();
        let reparsed = Command::parse(out.strip_suffix(b"\r\n").unwrap(), &ParseOptions::strict());
        prop_assert_eq!(reparsed, Ok(whole));
    }
}
