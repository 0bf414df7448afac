//! Property tests: `parse(encode(x)) == x` for commands, replies, paths, parameters and
//! capabilities, and the DATA decoder inverting the encoder for any body and chunking.

use bytes::BytesMut;
use proptest::prelude::*;
use smtp_sansio::wire::{
    BodyType, ByMode, DeliverBy, ForwardPath, Hold, Host, InitialResponse, MailParameters, Mailbox, Notify, Orcpt,
    Parameter, RcptParameters, Ret, ReversePath, XText,
};
use smtp_sansio::{
    Capabilities, Capability, Command, DataDecoder, DataEncoder, Decoded, EnhancedStatus, ParseOptions, Reply,
    ReplyCode, ReplyParser,
};

fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|labels| labels.join("."))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => domain(),
        1 => any::<[u8; 4]>().prop_map(|ip| format!("[{}]", std::net::Ipv4Addr::from(ip))),
        1 => any::<u128>().prop_map(|ip| format!("[IPv6:{}]", std::net::Ipv6Addr::from(ip))),
        1 => ("[a-z][a-z0-9-]{0,5}[a-z0-9]", "[!-Z^-~]{1,10}").prop_map(|(tag, content)| format!("[x{tag}:{content}]")),
    ]
}

fn local_part() -> impl Strategy<Value = String> {
    let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}";
    prop_oneof![
        3 => prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join(".")),
        1 => r#"([ !#-\[\]-~]|\\[ -~]){0,12}"#.prop_map(|inner| format!("\"{inner}\"")),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    (local_part(), host()).prop_map(|(local, host)| {
        let text = format!("{local}@{host}");
        Mailbox::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}")).into_owned()
    })
}

fn xtext() -> impl Strategy<Value = XText<'static>> {
    prop::collection::vec(any::<u8>(), 1..16).prop_map(|bytes| XText::encode(&bytes))
}

fn other_parameters() -> impl Strategy<Value = Vec<Parameter<'static>>> {
    prop::collection::btree_map("X-[A-Z0-9]{1,6}", prop::option::of("[!-<>-~]{1,10}"), 0..3).prop_map(|map| {
        map.into_iter()
            .map(|(keyword, value)| Parameter { keyword: keyword.into(), value: value.map(Into::into) })
            .collect()
    })
}

fn mail_parameters() -> impl Strategy<Value = MailParameters<'static>> {
    let body = prop_oneof![Just(BodyType::SevenBit), Just(BodyType::EightBitMime), Just(BodyType::BinaryMime)];
    let ret = prop_oneof![Just(Ret::Full), Just(Ret::Headers)];
    let hold = prop_oneof![
        any::<u64>().prop_map(Hold::For),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z".prop_map(|t| Hold::Until(t.into())),
    ];
    let by = prop_oneof![
        (1..=999_999_999i32, any::<bool>()).prop_map(|(seconds, trace)| DeliverBy {
            seconds,
            mode: ByMode::Return,
            trace
        }),
        (-999_999_999..=999_999_999i32, any::<bool>()).prop_map(|(seconds, trace)| DeliverBy {
            seconds,
            mode: ByMode::Notify,
            trace
        }),
    ];
    (
        (prop::option::of(any::<u64>()), prop::option::of(body), any::<bool>(), prop::option::of(ret)),
        (prop::option::of(xtext()), prop::option::of(xtext()), any::<bool>(), prop::option::of(-9..=9i8)),
        (prop::option::of(hold), prop::option::of(by), other_parameters()),
    )
        .prop_map(|((size, body, smtputf8, ret), (envid, auth, requiretls, mt_priority), (hold, by, other))| {
            MailParameters { size, body, smtputf8, ret, envid, auth, requiretls, mt_priority, hold, by, other }
        })
}

fn rcpt_parameters() -> impl Strategy<Value = RcptParameters<'static>> {
    let notify = (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(success, failure, delay)| Notify {
        success,
        failure,
        delay,
    });
    let orcpt = ("rfc822|utf-8|x400", xtext()).prop_map(|(kind, address)| Orcpt::new(kind, address).unwrap());
    (prop::option::of(notify), prop::option::of(orcpt), other_parameters())
        .prop_map(|(notify, orcpt, other)| RcptParameters { notify, orcpt, other })
}

fn command() -> impl Strategy<Value = Command<'static>> {
    let host = || host().prop_map(|h| Host::parse(&h).unwrap().into_owned());
    let text = "[!-~]([ -~]{0,20}[!-~])?";
    let optional_text = prop::option::of(text.prop_map(Into::into));
    prop_oneof![
        host().prop_map(|host| Command::Helo { host }),
        host().prop_map(|host| Command::Ehlo { host }),
        host().prop_map(|host| Command::Lhlo { host }),
        (prop::option::of(mailbox()), mail_parameters()).prop_map(|(mailbox, params)| Command::Mail {
            from: mailbox.map_or(ReversePath::Null, ReversePath::Mailbox),
            params
        }),
        (prop::option::of(mailbox()), rcpt_parameters()).prop_map(|(mailbox, params)| Command::Rcpt {
            to: mailbox.map_or(ForwardPath::Postmaster, ForwardPath::Mailbox),
            params
        }),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        text.prop_map(|t| Command::Vrfy { target: t.into() }),
        text.prop_map(|t| Command::Expn { list: t.into() }),
        optional_text.clone().prop_map(|topic| Command::Help { topic }),
        optional_text.prop_map(|text| Command::Noop { text }),
        (
            "[A-Z0-9_-]{1,20}",
            prop::option::of(prop_oneof![
                Just(InitialResponse::Empty),
                "[A-Za-z0-9+/]{1,40}={0,2}".prop_map(|b| InitialResponse::Base64(b.into()))
            ])
        )
            .prop_map(|(mechanism, initial_response)| Command::Auth { mechanism: mechanism.into(), initial_response }),
        prop_oneof![Just(Command::Data), Just(Command::Rset), Just(Command::Quit), Just(Command::StartTls)],
    ]
}

/// Subject and detail of an enhanced status code.
fn enhanced() -> impl Strategy<Value = (u16, u16)> {
    (0..1000u16, 0..1000u16)
}

fn reply() -> impl Strategy<Value = Reply> {
    let code = (2..=5u16, 0..=9u16, 0..=9u16).prop_map(|(a, b, c)| ReplyCode::new(a * 100 + b * 10 + c).unwrap());
    // Text that does not itself start like an enhanced code or with a space.
    let line = "([a-zA-Z][ -~]{0,60})?";
    (code, prop::option::of(enhanced()), prop::collection::vec(line, 1..5)).prop_map(|(code, status, lines)| {
        let reply = Reply::with_lines(code, lines);
        match status {
            // RFC 3463 has no class 3: intermediate replies carry no enhanced code.
            Some((subject, detail)) if code.class() != 3 => {
                reply.with_enhanced(EnhancedStatus::new(code.class(), subject, detail))
            }
            _ => reply,
        }
    })
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        prop::option::of(any::<u64>()).prop_map(Capability::Size),
        Just(Capability::Pipelining),
        Just(Capability::EightBitMime),
        Just(Capability::Chunking),
        Just(Capability::StartTls),
        Just(Capability::Dsn),
        prop::collection::vec("[A-Z0-9-]{1,12}", 0..4).prop_map(Capability::Auth),
        prop::option::of(any::<u64>()).prop_map(Capability::DeliverBy),
        prop::collection::vec(("[A-Z]{1,8}", "[0-9]{1,4}"), 0..3).prop_map(Capability::Limits),
        ("X-[A-Z0-9]{1,8}", prop::collection::vec("[!-~]{1,8}", 0..3))
            .prop_map(|(keyword, params)| Capability::Other { keyword, params }),
    ]
}

/// Splits `bytes` at the given fractions of its length.
fn split_at<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => Just(b'.'), 4 => Just(b'\r'), 4 => Just(b'\n'), 4 => b'a'..=b'z', 1 => any::<u8>()];
    prop::collection::vec(byte, 0..200)
}

/// What a normalizing encoder promises the receiver: every line ending CRLF, and a CRLF
/// at the end of a non-empty body.
fn normalized(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match (body[i], body.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            (b'\r' | b'\n', _) => out.extend_from_slice(b"\r\n"),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn commands_round_trip(command in command()) {
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        let line = &out[..out.len() - 2];
        prop_assert_eq!(Command::parse(line, &ParseOptions::strict()).map(Command::into_owned), Ok(command.clone()));
        prop_assert_eq!(Command::parse(line, &ParseOptions::default()).map(Command::into_owned), Ok(command));
    }

    #[test]
    fn paths_round_trip(mailbox in mailbox()) {
        let reverse = ReversePath::Mailbox(mailbox.clone());
        prop_assert_eq!(ReversePath::parse(&reverse.to_string()).map(ReversePath::into_owned), Ok(reverse));
        let forward = ForwardPath::Mailbox(mailbox);
        prop_assert_eq!(ForwardPath::parse(&forward.to_string()).map(ForwardPath::into_owned), Ok(forward));
    }

    #[test]
    fn replies_round_trip(reply in reply(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let mut wire = BytesMut::new();
        reply.encode(&mut wire).unwrap();
        let mut parser = ReplyParser::new();
        let mut input = BytesMut::new();
        let mut parsed = Vec::new();
        for piece in split_at(&wire, &cuts) {
            input.extend_from_slice(piece);
            while let Some(result) = parser.parse(&mut input) {
                parsed.push(result);
            }
        }
        prop_assert_eq!(parsed, vec![Ok(reply)]);
    }

    #[test]
    fn capabilities_round_trip(domain in domain(), greeting in prop::option::of("[!-~]{1,10}"), capabilities in prop::collection::vec(capability(), 0..8)) {
        let mut caps = Capabilities::new(domain);
        if let Some(greeting) = greeting {
            caps = caps.with_greeting(greeting);
        }
        for capability in capabilities {
            caps = caps.with(capability);
        }
        let mut wire = BytesMut::new();
        caps.to_reply().encode(&mut wire).unwrap();
        let reply = ReplyParser::new().parse(&mut wire).unwrap().unwrap();
        prop_assert_eq!(Capabilities::from_reply(&reply), Ok(caps));
    }

    #[test]
    fn the_decoder_inverts_the_encoder(
        body in body_bytes(),
        encode_cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        decode_cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        raw in any::<bool>(),
    ) {
        let mut encoder = if raw { DataEncoder::raw() } else { DataEncoder::new() };
        let mut wire = BytesMut::new();
        for piece in split_at(&body, &encode_cuts) {
            encoder.encode(piece, &mut wire);
        }
        encoder.finish(&mut wire);
        wire.extend_from_slice(b"NEXT");

        let mut decoder = DataDecoder::new();
        let (mut input, mut decoded, mut ended) = (BytesMut::new(), Vec::new(), false);
        for piece in split_at(&wire, &decode_cuts) {
            input.extend_from_slice(piece);
            while let Some(item) = decoder.decode(&mut input) {
                match item {
                    Decoded::Data(chunk) => decoded.extend_from_slice(&chunk),
                    Decoded::End => ended = true,
                }
            }
        }
        prop_assert!(ended);
        prop_assert_eq!(&input[..], b"NEXT");
        let expected = if raw {
            let mut expected = body.clone();
            if !expected.is_empty() && !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            expected
        } else {
            normalized(&body)
        };
        prop_assert_eq!(decoded, expected);
    }
}
