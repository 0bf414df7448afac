//! The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2): known
//! answers, every one checked for every prefix of its input, and property tests for
//! the round trip and for answers that never change once given.

// `settle`: every prefix is `Incomplete` until one is not, and from there on the answer
// never changes; the fuzz target's own check, shared.
#[allow(dead_code)] // the other checks are the fuzz targets'
#[path = "../fuzz/checks.rs"]
mod checks;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use bytes::BytesMut;
use checks::settle_proxy_header as settle;
use proptest::prelude::*;
use smtp_sansio::EncodeError;
use smtp_sansio::proxy::{
    ProxyAddresses, ProxyError, ProxyHeader, ProxyParse, ProxyVersion, ProxyVersions, V1_MAX_LEN, V2_MAX_LEN, tlv,
};

const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const ALL: [ProxyVersions; 3] = [ProxyVersions::Both, ProxyVersions::V1, ProxyVersions::V2];

/// Checks that `bytes` is one whole header for `versions`: every proper prefix is
/// `Incomplete`, the whole is `Complete` with all of it consumed, also with bytes
/// after it. Returns the header.
fn whole_and_split_anywhere(bytes: &[u8], versions: ProxyVersions) -> ProxyHeader {
    let (at, answer) = settle(bytes, versions);
    let Ok(ProxyParse::Complete { header, consumed }) = answer else {
        panic!("{versions:?}: b\"{}\" gave {answer:?}", bytes.escape_ascii())
    };
    assert_eq!((at, consumed), (bytes.len(), bytes.len()), "b\"{}\"", bytes.escape_ascii());
    for tail in [&b"EHLO client.example\r\n"[..], b"\r\n", b"P", b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\0"] {
        let followed = [bytes, tail].concat();
        let (at, answer) = settle(&followed, versions);
        assert_eq!(at, bytes.len());
        assert_eq!(answer, Ok(ProxyParse::Complete { header: header.clone(), consumed: bytes.len() }));
    }
    header
}

/// The same, with both versions accepted and the header's own version only; and the
/// other version alone refuses it at its first byte.
fn header_of(bytes: &[u8]) -> ProxyHeader {
    let header = whole_and_split_anywhere(bytes, ProxyVersions::Both);
    let (own, other) = match header.version {
        ProxyVersion::V1 => (ProxyVersions::V1, ProxyVersions::V2),
        ProxyVersion::V2 => (ProxyVersions::V2, ProxyVersions::V1),
    };
    assert_eq!(whole_and_split_anywhere(bytes, own), header);
    assert_eq!(settle(bytes, other), (1, Err(ProxyError::Version)));
    header
}

/// Checks that `input` is refused with `error`, first at prefix length `at`, whatever
/// versions are accepted that include `version`.
fn refused(input: &[u8], version: ProxyVersion, error: ProxyError, at: usize) {
    for versions in ALL.into_iter().filter(|versions| versions.accepts(version)) {
        assert_eq!(settle(input, versions), (at, Err(error)), "{versions:?}: b\"{}\"", input.escape_ascii());
    }
}

fn v4(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::from(ip).into(), port)
}

fn v6(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<Ipv6Addr>().unwrap().into(), port)
}

fn pair(source: SocketAddr, destination: SocketAddr) -> Option<ProxyAddresses> {
    Some(ProxyAddresses { source, destination })
}

/// A v2 header: signature, version and command, family and transport, length, block.
fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let length = u16::try_from(block.len()).unwrap();
    [&SIGNATURE[..], &[command, family], &length.to_be_bytes(), block].concat()
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let length = u16::try_from(value.len()).unwrap();
    [&[kind][..], &length.to_be_bytes(), value].concat()
}

/// The IPv4 address block of section 2.2: 192.0.2.1:51234 to 198.51.100.7:25.
const IPV4_BLOCK: [u8; 12] = [192, 0, 2, 1, 198, 51, 100, 7, 0xC8, 0x22, 0, 25];

fn encode(header: &ProxyHeader) -> Result<Vec<u8>, EncodeError> {
    let mut out = BytesMut::new();
    header.encode(&mut out).map(|()| out.to_vec())
}

// ---------------------------------------------------------------------------------
// Version 1
// ---------------------------------------------------------------------------------

#[test]
fn v1_tcp4_whole_and_split_anywhere() {
    let header = header_of(b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n");
    assert_eq!(
        header,
        ProxyHeader {
            version: ProxyVersion::V1,
            addresses: pair(v4([192, 0, 2, 1], 51234), v4([198, 51, 100, 7], 25)),
            tlvs: vec![],
        }
    );
    // Section 2.1's longest TCP4 line, 56 bytes, and the smallest numbers.
    let longest = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_eq!(longest.len(), 56);
    assert_eq!(header_of(longest).addresses, pair(v4([255; 4], 65535), v4([255; 4], 65535)));
    assert_eq!(
        header_of(b"PROXY TCP4 0.0.0.0 10.0.0.10 0 0\r\n").addresses,
        pair(v4([0; 4], 0), v4([10, 0, 0, 10], 0))
    );
}

#[test]
fn v1_tcp6() {
    let header = header_of(b"PROXY TCP6 2001:db8::1 2001:DB8::2:0 4242 587\r\n");
    assert_eq!(header.addresses, pair(v6("2001:db8::1", 4242), v6("2001:db8::2:0", 587)));
    assert!(header.tlvs.is_empty());

    // Section 2.1's longest TCP6 line, 104 bytes.
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let longest = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
    assert_eq!(longest.len(), 104);
    assert_eq!(header_of(longest.as_bytes()).addresses, pair(v6(full, 65535), v6(full, 65535)));

    // The IPv4-mapped form proxies write for IPv4 clients of IPv6 sockets, and `::`.
    let mapped = header_of(b"PROXY TCP6 ::ffff:192.0.2.1 :: 51234 25\r\n");
    assert_eq!(mapped.addresses, pair(v6("::ffff:c000:201", 51234), v6("::", 25)));
}

#[test]
fn v1_unknown_keeps_the_real_peer() {
    let short = header_of(b"PROXY UNKNOWN\r\n");
    assert_eq!(short, ProxyHeader { version: ProxyVersion::V1, addresses: None, tlvs: vec![] });

    // Section 2.1's worst case: 107 bytes, the rest of the line ignored.
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let worst = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(worst.len(), V1_MAX_LEN);
    assert_eq!(header_of(worst.as_bytes()), short);

    // Anything up to the CRLF is ignored, even what would be malformed elsewhere.
    for line in [&b"PROXY UNKNOWN \r\n"[..], b"PROXY UNKNOWN 1.2.3.4  x\t\0\xff 99999\r\n"] {
        assert_eq!(header_of(line), short, "b\"{}\"", line.escape_ascii());
    }
}

#[test]
fn v1_too_long_is_refused() {
    // 107 bytes with the CRLF fit; 108 do not, refused at byte 107 whatever follows.
    let fits = format!("PROXY UNKNOWN {}\r\n", "x".repeat(91));
    assert_eq!(fits.len(), 107);
    assert_eq!(header_of(fits.as_bytes()).addresses, None);
    let too_long = format!("PROXY UNKNOWN {}\r\nEHLO x\r\n", "x".repeat(92));
    refused(too_long.as_bytes(), ProxyVersion::V1, ProxyError::TooLong, 107);
    refused(&[b"PROXY UNKNOWN ", &[b'x'; 500][..]].concat(), ProxyVersion::V1, ProxyError::TooLong, 107);

    // A TCP6 line with the longest (IPv4-tailed) addresses: 116 bytes.
    let long = "0000:0000:0000:0000:0000:ffff:255.255.255.255";
    let tcp6 = format!("PROXY TCP6 {long} {long} 65535 65535\r\n");
    assert_eq!(tcp6.len(), 116);
    refused(tcp6.as_bytes(), ProxyVersion::V1, ProxyError::TooLong, 107);
}

#[test]
fn v1_malformed_lines() {
    use ProxyError::{Malformed, NoHeader};
    // (what is wrong, the input, the error, the length of the first prefix that shows it)
    let cases: &[(&str, &[u8], ProxyError, usize)] = &[
        ("two spaces after PROXY", b"PROXY  TCP4 192.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 7),
        ("two spaces between addresses", b"PROXY TCP4 192.0.2.1  198.51.100.7 51234 25\r\n", Malformed, 22),
        ("a tab for a space", b"PROXY\tTCP4 192.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 6),
        ("a space at the end", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25 \r\n", Malformed, 43),
        ("missing port", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234\r\n", Malformed, 40),
        ("port 65536", b"PROXY TCP4 192.0.2.1 198.51.100.7 65536 25\r\n", Malformed, 40),
        ("six-digit port", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 250000\r\n", Malformed, 46),
        ("port with a sign", b"PROXY TCP4 192.0.2.1 198.51.100.7 +25 25\r\n", Malformed, 35),
        ("port with a heading zero", b"PROXY TCP4 192.0.2.1 198.51.100.7 025 25\r\n", Malformed, 36),
        ("port 00", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 00\r\n", Malformed, 42),
        ("octet with a heading zero", b"PROXY TCP4 192.0.2.01 198.51.100.7 51234 25\r\n", Malformed, 21),
        ("octet 256", b"PROXY TCP4 256.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 15),
        ("three octets", b"PROXY TCP4 192.0.2 198.51.100.7 51234 25\r\n", Malformed, 19),
        ("IPv6 in TCP4", b"PROXY TCP4 ::1 ::1 51234 25\r\n", Malformed, 12),
        ("IPv4 in TCP6", b"PROXY TCP6 192.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 21),
        ("two double colons", b"PROXY TCP6 1::2::3 ::1 51234 25\r\n", Malformed, 19),
        ("IPv6 with a zone", b"PROXY TCP6 fe80::1%eth0 ::1 51234 25\r\n", Malformed, 19),
        ("lowercase proxy", b"proxy TCP4 192.0.2.1 198.51.100.7 51234 25\r\n", NoHeader, 1),
        ("PROXZ", b"PROXZ TCP4 192.0.2.1 198.51.100.7 51234 25\r\n", NoHeader, 5),
        ("lowercase tcp4", b"PROXY tcp4 192.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 7),
        ("TCP5", b"PROXY TCP5 192.0.2.1 198.51.100.7 51234 25\r\n", Malformed, 10),
        ("no protocol", b"PROXY\r\n", Malformed, 6),
        ("bare LF at the end", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\nEHLO x\r\n", Malformed, 43),
        ("bare CR at the end", b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\rEHLO x\r\n", Malformed, 44),
        ("UNKNOWN with a bare LF", b"PROXY UNKNOWN\nEHLO x\r\n", Malformed, 14),
        ("UNKNOWN with a bare CR inside", b"PROXY UNKNOWN x\ry\r\n", Malformed, 17),
        ("UNKNOWN with a bare LF inside", b"PROXY UNKNOWN x\ny\r\n", Malformed, 16),
        ("UNKNOWN run into a word", b"PROXY UNKNOWNX\r\n", Malformed, 14),
    ];
    for &(what, input, error, at) in cases {
        assert_eq!(settle(input, ProxyVersions::Both), (at, Err(error)), "{what}: b\"{}\"", input.escape_ascii());
        assert_eq!(settle(input, ProxyVersions::V1), (at, Err(error)), "{what}, V1 only");
    }
}

// ---------------------------------------------------------------------------------
// Version 2
// ---------------------------------------------------------------------------------

#[test]
fn v2_ipv4_with_tlvs() {
    let tlvs = [tlv(tlv::AUTHORITY, b"mx.example.org"), tlv(tlv::ALPN, b"smtp"), tlv(0xE0, b""), tlv(0x02, b"again")];
    let bytes = v2(0x21, 0x11, &[&IPV4_BLOCK[..], &tlvs.concat()].concat());
    let header = header_of(&bytes);
    assert_eq!(
        header,
        ProxyHeader {
            version: ProxyVersion::V2,
            addresses: pair(v4([192, 0, 2, 1], 51234), v4([198, 51, 100, 7], 25)),
            tlvs: vec![
                (0x02, b"mx.example.org".to_vec()),
                (0x01, b"smtp".to_vec()),
                (0xE0, vec![]),
                (0x02, b"again".to_vec())
            ],
        }
    );
    assert_eq!(header.tlv(tlv::AUTHORITY), Some(&b"mx.example.org"[..]));
    assert_eq!(header.tlv(tlv::UNIQUE_ID), None);

    // No TLVs: the length is the addresses' 12 bytes.
    assert!(header_of(&v2(0x21, 0x11, &IPV4_BLOCK)).tlvs.is_empty());
}

#[test]
fn v2_ipv6() {
    let source: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let destination: Ipv6Addr = "2001:db8:ffff::25".parse().unwrap();
    let block = [&source.octets()[..], &destination.octets(), &[0xC8, 0x22, 0x02, 0x4B]].concat();
    let header = header_of(&v2(0x21, 0x21, &[&block[..], &tlv(tlv::UNIQUE_ID, &[7; 128])].concat()));
    assert_eq!(header.addresses, pair(v6("2001:db8::1", 51234), v6("2001:db8:ffff::25", 587)));
    assert_eq!(header.tlvs, [(tlv::UNIQUE_ID, vec![7; 128])]);
}

#[test]
fn v2_local_keeps_the_real_peer() {
    let none = ProxyHeader { version: ProxyVersion::V2, addresses: None, tlvs: vec![] };
    // What health checks send: LOCAL, AF_UNSPEC, no addresses.
    assert_eq!(header_of(&v2(0x20, 0x00, &[])), none);
    // The family is ignored and the block skipped unread, whatever it holds (section
    // 2.2), TLVs included; only its length counts.
    assert_eq!(header_of(&v2(0x20, 0x11, &IPV4_BLOCK)), none);
    assert_eq!(header_of(&v2(0x20, 0xFF, b"x")), none);
    assert_eq!(header_of(&v2(0x20, 0x00, &tlv(tlv::NOOP, b"ignored"))), none);
    let bytes = v2(0x20, 0x11, &[&IPV4_BLOCK[..], &[0xFF; 3]].concat());
    assert_eq!(header_of(&bytes), none);
}

#[test]
fn v2_unix_keeps_the_real_peer() {
    let mut paths = [0u8; 216];
    paths[..15].copy_from_slice(b"/run/proxy.sock");
    let bytes = v2(0x21, 0x31, &[&paths[..], &tlv(tlv::NETNS, b"blue")].concat());
    let header = header_of(&bytes);
    assert_eq!(header.addresses, None);
    assert_eq!(header.tlvs, [(tlv::NETNS, b"blue".to_vec())]);
    // UNIX datagrams alike.
    assert_eq!(header_of(&v2(0x21, 0x32, &paths)).addresses, None);
}

#[test]
fn v2_unspec_and_udp_keep_the_real_peer() {
    // AF_UNSPEC: no addresses, the TLVs right after the fixed part.
    let unspec = header_of(&v2(0x21, 0x00, &tlv(tlv::AUTHORITY, b"a.example")));
    assert_eq!((unspec.addresses, unspec.tlvs), (None, vec![(tlv::AUTHORITY, b"a.example".to_vec())]));
    // IPv4 or IPv6 over an UNSPEC or DGRAM transport: the addresses' bytes are there,
    // skipped, and the TLVs after them read.
    let ipv6_block = [0u8; 36];
    for (family, block) in [(0x10, &IPV4_BLOCK[..]), (0x12, &IPV4_BLOCK), (0x20, &ipv6_block), (0x22, &ipv6_block)] {
        let header = header_of(&v2(0x21, family, &[block, &tlv(0xEA, b"vpce-1")].concat()));
        assert_eq!((header.addresses, header.tlvs), (None, vec![(0xEA, b"vpce-1".to_vec())]), "family {family:#x}");
    }
}

#[test]
fn v2_bad_signature() {
    let good = v2(0x21, 0x11, &IPV4_BLOCK);
    for i in 0..SIGNATURE.len() {
        let mut bad = good.clone();
        bad[i] = if bad[i] == 0 { 0xFF } else { 0 };
        // Refused at the byte that differs.
        refused(&bad, ProxyVersion::V2, ProxyError::NoHeader, i + 1);
    }
    // A v1-looking tail after a signature's start is no better.
    refused(b"\r\nPROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n", ProxyVersion::V2, ProxyError::NoHeader, 3);
}

#[test]
fn v2_bad_version() {
    for byte in [0x11, 0x31, 0x01, 0xF1, 0x10] {
        refused(&v2(byte, 0x11, &IPV4_BLOCK), ProxyVersion::V2, ProxyError::Version, 13);
    }
}

#[test]
fn v2_unknown_command() {
    for byte in [0x22, 0x23, 0x2F] {
        refused(&v2(byte, 0x11, &IPV4_BLOCK), ProxyVersion::V2, ProxyError::UnknownCommand, 13);
    }
}

#[test]
fn v2_unknown_family() {
    for family in [0x41, 0xF1, 0x13, 0x1F, 0x03, 0x33] {
        refused(&v2(0x21, family, &IPV4_BLOCK), ProxyVersion::V2, ProxyError::UnknownFamily, 14);
    }
}

#[test]
fn v2_length_shorter_than_addresses() {
    // Refused at the length's second byte, before the block arrives.
    for (family, length) in [(0x11, 11), (0x21, 35), (0x31, 215), (0x11, 0), (0x12, 11), (0x10, 11)] {
        let bytes = v2(0x21, family, &vec![0; length]);
        refused(&bytes, ProxyVersion::V2, ProxyError::Malformed, 16);
    }
}

#[test]
fn v2_tlv_overruns() {
    let cases: [(&str, Vec<u8>); 5] = [
        ("a value past the end", [&tlv(1, b"abc")[..], &[0x02, 0x00, 0x09, b'x']].concat()),
        ("a length of 65535", [0x02, 0xFF, 0xFF, b'x'].to_vec()),
        ("one byte left", [&tlv(1, b"abc")[..], &[0x04]].concat()),
        ("two bytes left", [&tlv(1, b"abc")[..], &[0x04, 0x00]].concat()),
        ("a type alone", vec![0x04]),
    ];
    for (what, tlvs) in cases {
        let bytes = v2(0x21, 0x11, &[&IPV4_BLOCK[..], &tlvs].concat());
        // Found once the whole header is there.
        for versions in [ProxyVersions::Both, ProxyVersions::V2] {
            assert_eq!(settle(&bytes, versions), (bytes.len(), Err(ProxyError::BadTlv)), "{what}");
        }
        let unspec = v2(0x21, 0x00, &tlvs);
        assert_eq!(settle(&unspec, ProxyVersions::Both), (unspec.len(), Err(ProxyError::BadTlv)), "{what}");
    }
}

#[test]
fn v2_too_long_is_refused_before_it_arrives() {
    assert_eq!(V2_MAX_LEN, 16 + 1536);
    // The longest taken: 12 bytes of addresses and a TLV of 1521.
    let longest = v2(0x21, 0x11, &[&IPV4_BLOCK[..], &tlv(0xE1, &[b'x'; 1521])].concat());
    assert_eq!(longest.len(), V2_MAX_LEN);
    assert_eq!(header_of(&longest).tlvs, [(0xE1, vec![b'x'; 1521])]);
    assert_eq!(header_of(&v2(0x20, 0x00, &[0; 1536])).addresses, None);

    // One more is refused at the length's second byte; so is LOCAL's, and 65535.
    for (command, length) in [(0x21, 1537), (0x20, 1537), (0x21, 0xFFFF)] {
        let fixed = [&SIGNATURE[..], &[command, 0x11], &u16::to_be_bytes(length)].concat();
        refused(&fixed, ProxyVersion::V2, ProxyError::TooLong, 16);
        refused(&[&fixed[..], &[0; 2000]].concat(), ProxyVersion::V2, ProxyError::TooLong, 16);
    }
}

// ---------------------------------------------------------------------------------
// Either version
// ---------------------------------------------------------------------------------

#[test]
fn truncated_headers_are_incomplete() {
    let headers: [Vec<u8>; 4] = [
        b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(0x21, 0x11, &[&IPV4_BLOCK[..], &tlv(1, b"h2")].concat()),
        v2(0x20, 0x00, &[]),
    ];
    for header in &headers {
        for k in 0..header.len() {
            for versions in [ProxyVersions::Both, if header[0] == b'P' { ProxyVersions::V1 } else { ProxyVersions::V2 }]
            {
                assert_eq!(ProxyHeader::parse(&header[..k], versions), Ok(ProxyParse::Incomplete), "{k} bytes");
            }
        }
    }
    assert_eq!(ProxyHeader::parse(b"", ProxyVersions::V1), Ok(ProxyParse::Incomplete));
    // A v2 header whose block has not all arrived, however long the wait.
    assert_eq!(ProxyHeader::parse(&v2(0x21, 0x11, &[0; 1000])[..1015], ProxyVersions::V2), Ok(ProxyParse::Incomplete));
}

#[test]
fn versions_not_accepted_are_refused() {
    assert!(ProxyVersions::Both.accepts(ProxyVersion::V1) && ProxyVersions::Both.accepts(ProxyVersion::V2));
    assert!(ProxyVersions::V1.accepts(ProxyVersion::V1) && !ProxyVersions::V1.accepts(ProxyVersion::V2));
    assert!(ProxyVersions::V2.accepts(ProxyVersion::V2) && !ProxyVersions::V2.accepts(ProxyVersion::V1));
    // `header_of` checks each header against the other version alone too.
    let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n";
    assert_eq!(settle(v1, ProxyVersions::V2), (1, Err(ProxyError::Version)));
    assert_eq!(header_of(v1).version, ProxyVersion::V1);
    let v2 = v2(0x21, 0x11, &IPV4_BLOCK);
    assert_eq!(settle(&v2, ProxyVersions::V1), (1, Err(ProxyError::Version)));
    assert_eq!(header_of(&v2).version, ProxyVersion::V2);
    // The first byte decides: a CR is v2's, whatever follows.
    assert_eq!(settle(b"\r\nEHLO x\r\n", ProxyVersions::V1), (1, Err(ProxyError::Version)));
    assert_eq!(settle(b"\r\nEHLO x\r\n", ProxyVersions::Both), (3, Err(ProxyError::NoHeader)));
}

#[test]
fn smtp_instead_of_a_header_is_refused_at_once() {
    let inputs: [&[u8]; 7] = [
        b"EHLO client.example\r\n",
        b"HELO client.example\r\n",
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01\x02\x00\x01",
        b"QUIT\r\n",
        b" PROXY UNKNOWN\r\n",
        b"\nPROXY UNKNOWN\r\n",
    ];
    for input in inputs {
        for versions in ALL {
            assert_eq!(settle(input, versions), (1, Err(ProxyError::NoHeader)), "b\"{}\"", input.escape_ascii());
        }
    }
    // `P` could start v1's `PROXY`: refused at the byte that shows it does not.
    assert_eq!(settle(b"POST / HTTP/1.1\r\n", ProxyVersions::Both), (2, Err(ProxyError::NoHeader)));
    assert_eq!(settle(b"PROXY", ProxyVersions::Both), (6, Ok(ProxyParse::Incomplete)));
}

// ---------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------

#[test]
fn encode_writes_the_spec_forms() {
    let tcp = pair(v4([192, 0, 2, 1], 51234), v4([198, 51, 100, 7], 25));
    let v1 = |addresses| ProxyHeader { version: ProxyVersion::V1, addresses, tlvs: vec![] };
    assert_eq!(encode(&v1(tcp)).unwrap(), b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n");
    assert_eq!(encode(&v1(None)).unwrap(), b"PROXY UNKNOWN\r\n");
    let mapped = pair(v6("::ffff:192.0.2.1", 1), v6("2001:db8::", 2));
    assert_eq!(encode(&v1(mapped)).unwrap(), b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8:: 1 2\r\n");

    let v2_of = |addresses, tlvs| ProxyHeader { version: ProxyVersion::V2, addresses, tlvs };
    assert_eq!(encode(&v2_of(tcp, vec![])).unwrap(), v2(0x21, 0x11, &IPV4_BLOCK));
    let with_tlv = v2_of(tcp, vec![(tlv::ALPN, b"smtp".to_vec())]);
    assert_eq!(encode(&with_tlv).unwrap(), v2(0x21, 0x11, &[&IPV4_BLOCK[..], &tlv(tlv::ALPN, b"smtp")].concat()));
    // No addresses: LOCAL, or PROXY with AF_UNSPEC when there are TLVs to read.
    assert_eq!(encode(&v2_of(None, vec![])).unwrap(), v2(0x20, 0x00, &[]));
    let unspec = v2_of(None, vec![(0xE0, vec![1, 2])]);
    assert_eq!(encode(&unspec).unwrap(), v2(0x21, 0x00, &tlv(0xE0, &[1, 2])));
    // Scope IDs and flow information are not carried.
    let scoped = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 25, 7, 3));
    let sent = encode(&v2_of(pair(scoped, scoped), vec![])).unwrap();
    assert_eq!(header_of(&sent).addresses, pair(v6("fe80::1", 25), v6("fe80::1", 25)));
}

#[test]
fn encode_refuses_what_cannot_be_sent() {
    let mixed = pair(v4([192, 0, 2, 1], 1), v6("2001:db8::1", 2));
    let cases = [
        ProxyHeader { version: ProxyVersion::V1, addresses: mixed, tlvs: vec![] },
        ProxyHeader { version: ProxyVersion::V2, addresses: mixed, tlvs: vec![] },
        ProxyHeader { version: ProxyVersion::V1, addresses: None, tlvs: vec![(1, vec![])] },
        ProxyHeader { version: ProxyVersion::V2, addresses: None, tlvs: vec![(1, vec![0; 65536])] },
        // One byte over the bound: 12 + 3 + 1522.
        ProxyHeader {
            version: ProxyVersion::V2,
            addresses: pair(v4([1; 4], 1), v4([2; 4], 2)),
            tlvs: vec![(1, vec![0; 1522])],
        },
    ];
    for header in cases {
        let mut out = BytesMut::from(&b"kept"[..]);
        assert_eq!(header.encode(&mut out), Err(EncodeError::InvalidArgument), "{header:?}");
        assert_eq!(&out[..], b"kept", "nothing written for {header:?}");
    }
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    // The groups whose bit is set in `zeros` are 0, to make runs of zeros, and so `::`
    // in each place, likely; one address in four is IPv4-mapped.
    (any::<[u16; 8]>(), any::<u8>(), 0..4u8).prop_map(|(groups, zeros, form)| {
        let groups: [u16; 8] = std::array::from_fn(|i| if zeros & (1 << i) != 0 { 0 } else { groups[i] });
        match form {
            0 => Ipv4Addr::from(u32::from(groups[0]) << 16 | u32::from(groups[1])).to_ipv6_mapped(),
            _ => Ipv6Addr::from(groups),
        }
    })
}

fn addresses() -> impl Strategy<Value = ProxyAddresses> {
    let ipv4 = (any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u16>(), any::<u16>())
        .prop_map(|(s, d, sp, dp)| ProxyAddresses { source: v4(s, sp), destination: v4(d, dp) });
    let ipv6 = (ipv6(), ipv6(), any::<u16>(), any::<u16>()).prop_map(|(s, d, sp, dp)| ProxyAddresses {
        source: SocketAddr::new(s.into(), sp),
        destination: SocketAddr::new(d.into(), dp),
    });
    prop_oneof![ipv4, ipv6]
}

fn header() -> impl Strategy<Value = ProxyHeader> {
    let v1 = proptest::option::of(addresses()).prop_map(|addresses| ProxyHeader {
        version: ProxyVersion::V1,
        addresses,
        tlvs: vec![],
    });
    // At most 6 TLVs of at most 203 bytes: within the bound with any addresses.
    let tlvs = proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..6);
    let v2 = (proptest::option::of(addresses()), tlvs).prop_map(|(addresses, tlvs)| ProxyHeader {
        version: ProxyVersion::V2,
        addresses,
        tlvs,
    });
    prop_oneof![v1, v2]
}

/// Starts that get random bytes past the first byte.
const STARTS: [&[u8]; 8] = [
    b"",
    b"PROXY ",
    b"PROXY TCP4 ",
    b"PROXY TCP6 ",
    b"PROXY UNKNOWN",
    b"\r\n\r\n\0\r\nQUIT\n",
    b"\r\n\r\n\0\r\nQUIT\n\x21",
    b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encoded_headers_parse_back_whole_and_split_anywhere(
        header in header(),
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let bytes = encode(&header).expect("the strategy makes encodable headers");
        let limit = match header.version { ProxyVersion::V1 => V1_MAX_LEN, ProxyVersion::V2 => V2_MAX_LEN };
        prop_assert!(bytes.len() <= limit);
        let own = match header.version { ProxyVersion::V1 => ProxyVersions::V1, ProxyVersion::V2 => ProxyVersions::V2 };
        for versions in [ProxyVersions::Both, own] {
            // Every proper prefix is Incomplete, the whole is this header, and what
            // follows it is not looked at.
            let (at, answer) = settle(&[&bytes[..], &tail].concat(), versions);
            prop_assert_eq!(at, bytes.len());
            prop_assert_eq!(answer, Ok(ProxyParse::Complete { header: header.clone(), consumed: bytes.len() }));
        }
    }

    #[test]
    fn answers_never_change_once_given(
        start in proptest::sample::select(STARTS.to_vec()),
        rest in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b' '), Just(b'\r'), Just(b'\n'), Just(b'1')], 0..64),
        mutation in proptest::option::of((header(), any::<proptest::sample::Index>(), any::<u8>())),
    ) {
        // Random bytes after a header's start, or a valid header with one byte changed.
        let input = match mutation {
            Some((header, index, byte)) => {
                let mut bytes = encode(&header).expect("the strategy makes encodable headers");
                let i = index.index(bytes.len());
                bytes[i] = byte;
                bytes
            }
            None => [start, &rest[..]].concat(),
        };
        for versions in ALL {
            // `settle` checks that answers never change once given.
            let (at, answer) = settle(&input, versions);
            if let Ok(ProxyParse::Complete { header, consumed }) = answer {
                prop_assert_eq!(at, consumed);
                let again = encode(&header).expect("a parsed header encodes");
                prop_assert_eq!(
                    ProxyHeader::parse(&again, versions),
                    Ok(ProxyParse::Complete { header, consumed: again.len() })
                );
            }
        }
    }
}
