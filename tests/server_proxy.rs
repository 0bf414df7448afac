//! The PROXY protocol in the server session (issue 11): with
//! `ServerConfig::proxy_protocol`, every connection starts with a header from the
//! balancer, read before the greeting, fed whole and cut anywhere.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use smtp_sansio::Output;
use smtp_sansio::proxy::{ProxyAddresses, ProxyError, ProxyHeader, ProxyVersion, ProxyVersions};
use smtp_sansio::server::{ServerConfig, ServerEvent};
use support::manual::{drain, session as start};

const GREETING: &str = "220 mx.example.org ESMTP ready\r\n";

fn behind(versions: ProxyVersions) -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org");
    config.proxy_protocol = Some(versions);
    config
}

fn addresses(source: &str, destination: &str) -> Option<ProxyAddresses> {
    Some(ProxyAddresses { source: source.parse().unwrap(), destination: destination.parse().unwrap() })
}

/// Every way to cut `bytes` in two, and byte by byte.
fn cuttings(bytes: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all: Vec<Vec<&[u8]>> = (1..bytes.len()).map(|cut| vec![&bytes[..cut], &bytes[cut..]]).collect();
    all.push(vec![bytes]);
    all.push(bytes.chunks(1).collect());
    all
}

/// Feeds `pieces` one at a time, draining after each; returns what was sent, the
/// events, and how the session stopped.
fn feed(config: &ServerConfig, pieces: &[&[u8]]) -> (String, Vec<ServerEvent>, Output<ServerEvent>) {
    let mut session = start(config.clone());
    let mut drained = drain(&mut session);
    let (mut sent, mut events) = (drained.sent.clone(), std::mem::take(&mut drained.events));
    for piece in pieces {
        assert!(matches!(drained.stop, Output::Wait(_)), "fed after {:?}", drained.stop);
        session.handle_input(piece);
        drained = drain(&mut session);
        sent.push_str(&drained.sent);
        events.append(&mut drained.events);
    }
    (sent, events, drained.stop)
}

#[test]
fn a_v1_header_comes_before_the_greeting_whole_or_cut_anywhere() {
    let header = b"PROXY TCP4 192.0.2.10 198.51.100.5 40312 25\r\n";
    for cutting in cuttings(header) {
        let (sent, events, stop) = feed(&behind(ProxyVersions::Both), &cutting);
        assert_eq!(sent, GREETING, "{cutting:?}");
        let expected = ProxyHeader {
            version: ProxyVersion::V1,
            addresses: addresses("192.0.2.10:40312", "198.51.100.5:25"),
            tlvs: Vec::new(),
        };
        assert_eq!(events, vec![ServerEvent::Proxied(Box::new(expected))]);
        assert!(matches!(stop, Output::Wait(_)));
    }
}

#[test]
fn a_v2_header_with_tlvs_comes_before_the_greeting() {
    let header = ProxyHeader {
        version: ProxyVersion::V2,
        addresses: addresses("[2001:db8::7]:51000", "[2001:db8::25]:25"),
        tlvs: vec![(smtp_sansio::proxy::tlv::AUTHORITY, b"mx.example.org".to_vec())],
    };
    let mut bytes = BytesMut::new();
    header.encode(&mut bytes).unwrap();
    for cutting in cuttings(&bytes) {
        let (sent, events, _) = feed(&behind(ProxyVersions::V2), &cutting);
        assert_eq!(sent, GREETING);
        assert_eq!(events, vec![ServerEvent::Proxied(Box::new(header.clone()))]);
    }
}

#[test]
fn local_and_unknown_keep_the_real_peer() {
    for header in [&b"PROXY UNKNOWN\r\n"[..], b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"] {
        let (sent, events, _) = feed(&behind(ProxyVersions::Both), &[header]);
        assert_eq!(sent, GREETING);
        assert!(matches!(&events[..], [ServerEvent::Proxied(header)] if header.addresses.is_none()), "{events:?}");
    }
    let mut local = BytesMut::new();
    ProxyHeader { version: ProxyVersion::V2, addresses: None, tlvs: Vec::new() }.encode(&mut local).unwrap();
    let (sent, events, _) = feed(&behind(ProxyVersions::Both), &[&local]);
    assert_eq!(sent, GREETING);
    assert!(matches!(&events[..], [ServerEvent::Proxied(header)] if header.addresses.is_none()), "{events:?}");
}

#[test]
fn a_connection_without_a_valid_header_is_closed_without_a_greeting() {
    let cases: [(&[u8], ProxyVersions, ProxyError); 5] = [
        (b"EHLO client.example\r\n", ProxyVersions::Both, ProxyError::NoHeader),
        (b"PROXY TCP4 192.0.2.10 198.51.100.5 40312\r\n", ProxyVersions::Both, ProxyError::Malformed),
        (b"PROXY TCP4 192.0.2.10 198.51.100.5 40312 25\r\n", ProxyVersions::V2, ProxyError::Version),
        (b"GET / HTTP/1.1\r\n", ProxyVersions::V1, ProxyError::NoHeader),
        (&[b'P'; 200], ProxyVersions::V1, ProxyError::NoHeader),
    ];
    for (input, versions, error) in cases {
        for cutting in cuttings(input) {
            let mut session = start(behind(versions));
            let mut sent = drain(&mut session).sent;
            let mut events = Vec::new();
            for piece in cutting {
                session.handle_input(piece);
                let drained = drain(&mut session);
                sent.push_str(&drained.sent);
                events.extend(drained.events);
                if drained.stop == Output::Closed {
                    break;
                }
            }
            assert_eq!(sent, "", "no greeting, no reply: {input:?}");
            assert_eq!(events, vec![ServerEvent::ProxyRefused(error)], "{input:?}");
            assert_eq!(session.poll_output(), Output::Closed);
        }
    }
    // Too long: refused once the length is known to be over, before the rest arrives.
    let mut too_long = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    too_long.extend_from_slice(&u16::MAX.to_be_bytes());
    let (sent, events, stop) = feed(&behind(ProxyVersions::Both), &[&too_long]);
    assert_eq!(
        (sent.as_str(), events, stop),
        ("", vec![ServerEvent::ProxyRefused(ProxyError::TooLong)], Output::Closed)
    );
}

#[test]
fn a_header_that_never_ends_is_given_one_deadline() {
    let mut session = start(behind(ProxyVersions::V1));
    let Output::Wait(first) = drain(&mut session).stop else { panic!() };
    assert!(first.restarts());
    session.handle_input(b"PROXY TCP4 192.0.2.10");
    let Output::Wait(next) = drain(&mut session).stop else { panic!() };
    assert!(!next.restarts(), "the header's deadline keeps running");
    session.handle_timeout();
    let drained = drain(&mut session);
    assert_eq!((drained.sent.as_str(), drained.stop), ("", Output::Closed));
    // The peer leaving before a whole header: closed, silently.
    let mut session = start(behind(ProxyVersions::V1));
    session.handle_input(b"PROXY TCP4 192.0.2.10");
    session.handle_eof();
    let drained = drain(&mut session);
    assert_eq!((drained.sent.as_str(), drained.events, drained.stop), ("", vec![], Output::Closed));
}

#[test]
fn client_bytes_with_the_header_were_sent_before_the_greeting() {
    let input = b"PROXY TCP4 192.0.2.10 198.51.100.5 40312 25\r\nEHLO bot.example\r\n";
    let (sent, events, stop) = feed(&behind(ProxyVersions::Both), &[input]);
    assert!(matches!(&events[..], [ServerEvent::Proxied(_), ..]), "{events:?}");
    assert_eq!(sent, "554 5.5.0 Synchronization error: input sent before the reply, closing connection\r\n");
    assert_eq!(stop, Output::Closed);
}

#[test]
fn the_greet_delay_starts_after_the_header() {
    let mut config = behind(ProxyVersions::Both);
    config.greet_delay = Some(Duration::from_secs(3));
    let mut session = start(config);
    let _ = drain(&mut session);
    session.handle_input(b"PROXY TCP6 2001:db8::7 2001:db8::25 51000 25\r\n");
    let drained = drain(&mut session);
    assert_eq!(drained.sent, "");
    assert!(matches!(drained.stop, Output::Wait(wait) if wait.timeout() == Duration::from_secs(3)));
    session.handle_timeout();
    assert_eq!(drain(&mut session).sent, GREETING);
}

#[test]
fn no_header_is_taken_unless_configured() {
    let mut session = start(ServerConfig::new("mx.example.org"));
    assert_eq!(drain(&mut session).sent, GREETING);
    session.handle_input(b"PROXY TCP4 192.0.2.10 198.51.100.5 40312 25\r\n");
    let drained = drain(&mut session);
    assert!(drained.sent.starts_with("500"), "an unknown command: {}", drained.sent);
    assert!(!drained.events.iter().any(|event| matches!(event, ServerEvent::Proxied(_))));
}
