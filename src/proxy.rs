//! The PROXY protocol header, versions 1 and 2 (HAProxy's "The PROXY protocol,
//! Versions 1 & 2", revision 2020/03/05; section numbers below are that document's).
//!
//! A load balancer or TLS terminator that relays TCP connections hides the client: the
//! server sees the balancer's address, not the client's. The PROXY protocol gives it
//! back. The balancer sends one header at the start of every connection it opens to
//! the server, naming the original connection's source and destination, and then
//! relays the client's bytes untouched. Version 1 is a line of text
//! (`PROXY TCP4 192.0.2.1 198.51.100.7 51234 25\r\n`, section 2.1); version 2 is a
//! binary block that starts with a fixed signature and can carry TLVs, such as the
//! name the client asked for in TLS SNI (section 2.2).
//!
//! # When to enable it
//!
//! Only on a listener that nothing but trusted balancers can reach. The header is
//! believed as it is sent: anyone who can connect to a listener that reads it can
//! claim any address, and get past every check made on the client's address with it
//! (section 5). The spec also forbids guessing whether a header is there (section 2):
//! a listener reads one on every connection or on none. So [`ProxyHeader::parse`]
//! refuses input that does not start with a header, an SMTP client's `EHLO` included,
//! at the first byte that shows it.
//!
//! # Reading the header
//!
//! The header comes before anything else on the connection, and a server must not
//! start the protocol before it has the whole header (section 2 names SMTP, where the
//! server speaks first): send the greeting, or create the
//! [`ServerSession`](crate::server::ServerSession), only after [`ProxyParse::Complete`].
//! Until then, append what each read returns to a buffer and parse it again. Section 2
//! suggests a timeout of a few seconds (at least 3) for the wait. The buffer never
//! needs more than [`V2_MAX_LEN`] bytes: by then every header is complete or refused.
//!
//! ```
//! use std::net::SocketAddr;
//! use smtp_sansio::proxy::{ProxyAddresses, ProxyHeader, ProxyParse, ProxyVersion, ProxyVersions};
//!
//! // The header split by the network, the client's first command right behind it.
//! let mut reads = [&b"PROXY TCP4 192.0.2.1 198.51.100.7 5"[..], b"1234 25\r\nEHLO client.example\r\n"].into_iter();
//! let mut buffer = Vec::new();
//! let (header, consumed) = loop {
//!     buffer.extend_from_slice(reads.next().expect("the connection stays open"));
//!     match ProxyHeader::parse(&buffer, ProxyVersions::Both) {
//!         Ok(ProxyParse::Complete { header, consumed }) => break (header, consumed),
//!         Ok(ProxyParse::Incomplete) => continue, // read again
//!         Err(error) => panic!("a server closes the connection here: {error}"),
//!     }
//! };
//! assert_eq!(header.version, ProxyVersion::V1);
//! let client: SocketAddr = "192.0.2.1:51234".parse().unwrap();
//! let server: SocketAddr = "198.51.100.7:25".parse().unwrap();
//! assert_eq!(header.addresses, Some(ProxyAddresses { source: client, destination: server }));
//! // What follows the header is the client's, for the session.
//! assert_eq!(&buffer[consumed..], b"EHLO client.example\r\n");
//!
//! // A client that connects past the balancer is refused at its first byte.
//! assert!(ProxyHeader::parse(b"E", ProxyVersions::Both).is_err());
//! ```

use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, BytesMut};
use nom::branch::alt;
use nom::bytes::{tag, take_while, take_while_m_n};
use nom::combinator::{all_consuming, opt, recognize};
use nom::error::{ErrorKind, FromExternalError, ParseError};
use nom::multi::{length_data, many0};
use nom::number::{be_u8, be_u16, be_u32, be_u128};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::error::EncodeError;

/// The longest v1 header, CRLF included: 107 bytes (section 2.1, the worst case of
/// `UNKNOWN` followed by two IPv6 addresses and two ports). A line without CRLF within
/// them is [`ProxyError::TooLong`].
pub const V1_MAX_LEN: usize = 107;

/// The longest v2 header taken: the 16-byte fixed part and up to 1536 bytes of
/// addresses and TLVs.
///
/// The length field could announce up to 65535 bytes. Addresses need at most 216
/// (two `AF_UNIX` paths, section 2.2); the TLVs of section 2.2.1 to 2.2.7 (ALPN, an
/// SNI host name, a unique ID of up to 128 bytes, the TLS version, cipher, algorithms
/// and client certificate name) and a provider's custom ones (section 2.2.8) fit in
/// the rest with room to spare, while section 2 designs the whole header to fit 536
/// bytes. The bound keeps what a connection buffers before it is known to be a valid
/// header small and fixed: a longer length is refused as soon as its two bytes arrive,
/// before anything it announces.
pub const V2_MAX_LEN: usize = V2_FIXED_LEN + 1536;

/// The v2 header's fixed part: signature, version and command, family and transport,
/// length (section 2.2).
const V2_FIXED_LEN: usize = 16;

/// The v2 signature (section 2.2): `\r\n\r\n\0\r\nQUIT\n`.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// TLV types registered by section 2.2 (the `PP2_TYPE_*` names), for
/// [`ProxyHeader::tlvs`] and [`ProxyHeader::tlv`].
///
/// Values are passed on as they are sent: none is interpreted, and a `CRC32C`
/// checksum (section 2.2.3) is not verified.
pub mod tlv {
    /// `PP2_TYPE_ALPN`: the protocol the client negotiated with TLS ALPN (section 2.2.1).
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for, often TLS SNI, in UTF-8
    /// (section 2.2.2).
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: a CRC32c checksum of the header (section 2.2.3).
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding, to be ignored (section 2.2.4).
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: an opaque ID of the connection, up to 128 bytes (section 2.2.5).
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: how the client used TLS, with sub-TLVs (section 2.2.6).
    pub const SSL: u8 = 0x20;
    /// `PP2_TYPE_NETNS`: the name of the network namespace, in US-ASCII (section 2.2.7).
    pub const NETNS: u8 = 0x30;
}

/// Which header versions a server takes.
///
/// Section 2: version 2 receivers must take the binary header and are recommended to
/// take the text one too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersions {
    /// Only the text header of section 2.1.
    V1,
    /// Only the binary header of section 2.2.
    V2,
    /// Either: the first byte tells them apart (`P` for v1, CR for v2).
    Both,
}

impl ProxyVersions {
    /// Whether `version` is one of these.
    pub fn accepts(self, version: ProxyVersion) -> bool {
        matches!((self, version), (Self::Both, _) | (Self::V1, ProxyVersion::V1) | (Self::V2, ProxyVersion::V2))
    }
}

/// The version of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    /// The text header (section 2.1).
    V1,
    /// The binary header (section 2.2).
    V2,
}

/// The addresses of the original connection.
///
/// IPv6 flow information and scope IDs are not carried by either version: they are
/// always 0 after parsing and are dropped by [`ProxyHeader::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyAddresses {
    /// The client's address and port: the connection's source.
    pub source: SocketAddr,
    /// The address and port the client connected to: the connection's destination.
    pub destination: SocketAddr,
}

/// A PROXY protocol header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The version it came in, or is to be encoded in.
    pub version: ProxyVersion,
    /// The original connection's addresses. `None` when the proxy says nothing about the
    /// original connection, and the receiver keeps the real peer's address: v1 `UNKNOWN`
    /// (section 2.1), v2 `LOCAL` (section 2.2: the proxy's own connection, such as a
    /// health check), and the v2 `PROXY` headers that carry no TCP addresses: family
    /// `AF_UNSPEC`, family `AF_UNIX` (section 2.2 has the receiver use the real
    /// connection's addresses for what it does not implement), and transport `UNSPEC`
    /// or `DGRAM` (SMTP runs over a stream; section 2.2 has a receiver that does not
    /// implement a family and transport fall back to `UNSPEC`).
    pub addresses: Option<ProxyAddresses>,
    /// The v2 TLVs as (type, value), in the order sent (the types are in [`tlv`]).
    /// Always empty for v1, and for a v2 `LOCAL` header, whose address block is skipped
    /// unread.
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// What [`ProxyHeader::parse`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyParse {
    /// More bytes are needed (every byte so far agrees with a header).
    Incomplete,
    /// A whole header: it and how many bytes of the input it took.
    Complete {
        /// The header.
        header: ProxyHeader,
        /// The header's length: the bytes after it are the client's.
        consumed: usize,
    },
}

/// Why input is not a header to accept. Every one means: close the connection (section
/// 2.1: "Any sequence which does not exactly match the protocol must be discarded and
/// cause the receiver to abort the connection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The input is not a PROXY header: its first byte is neither `P` nor CR, or a later
    /// byte differs from v1's `PROXY` or from the v2 signature. (A first byte that
    /// starts a header of a version not accepted is [`Version`](Self::Version).)
    #[error("not a PROXY protocol header")]
    NoHeader,
    /// A header of a version not accepted: with only v1 accepted, input that starts with
    /// CR, as the v2 signature does; with only v2, input that starts with `P`, as v1's
    /// `PROXY` does; or a v2 signature followed by a version other than 2 (section 2.2:
    /// "the receiver must only accept this value").
    #[error("PROXY protocol version not accepted")]
    Version,
    /// A v1 line without CRLF in its first 107 bytes (section 2.1), or a v2 length that
    /// announces more than [`V2_MAX_LEN`] bytes in all.
    #[error("PROXY protocol header too long")]
    TooLong,
    /// A v1 line that breaks section 2.1's grammar (a field, a space, a bare CR or LF),
    /// or a v2 length shorter than the family's addresses (section 2.2: 12 bytes for
    /// IPv4, 36 for IPv6, 216 for `AF_UNIX`).
    #[error("malformed PROXY protocol header")]
    Malformed,
    /// A v2 command other than `LOCAL` (0) and `PROXY` (1) (section 2.2: "Receivers must
    /// drop connections presenting unexpected values here").
    #[error("unknown PROXY protocol command")]
    UnknownCommand,
    /// A v2 `PROXY` header with an address family other than 0 to 3, or a transport
    /// other than 0 to 2 (section 2.2: "must be rejected as invalid by receivers").
    #[error("unknown PROXY protocol address family or transport")]
    UnknownFamily,
    /// v2 TLVs that do not fill the header exactly: a value that runs past its end, or
    /// one or two bytes left over, too few for a TLV (section 2.2).
    #[error("PROXY protocol TLVs do not fill the header")]
    BadTlv,
}

impl ProxyHeader {
    /// Parses a header at the start of `input`.
    ///
    /// `input` is everything the connection has received so far. The answer depends on
    /// the bytes alone, never on how they arrived, and it is given as early as the bytes
    /// allow:
    ///
    /// * While every byte agrees with a header, the answer is
    ///   [`Incomplete`](ProxyParse::Incomplete); once the header is whole, it is
    ///   [`Complete`](ProxyParse::Complete), whatever follows it.
    /// * An error comes with the first byte that no header can have there, and more
    ///   bytes never change it. Input that cannot start a header of an accepted version
    ///   is refused at its first byte (with [`ProxyVersions::Both`], the first byte must
    ///   be `P` or CR).
    ///
    /// A v1 line is checked field by field as it arrives. A v2 header's fixed part is
    /// checked byte by byte (so a length over [`V2_MAX_LEN`] is refused before what it
    /// announces arrives); its addresses and TLVs are read once all of them are there
    /// (section 2.2: "The receiver must not start to parse an address before the whole
    /// address block is received").
    ///
    /// Decisions where the spec leaves room:
    ///
    /// * v1 numbers, IPv4 octets and ports alike, have no heading zeroes (section 2.1
    ///   forbids them): `0` is a number, `00` and `025` are not. Ports have no sign.
    /// * A v1 `TCP6` address is what [`Ipv6Addr`]'s parser takes: groups of up to 4 hex
    ///   digits and one `::` as section 2.1 says, and also the IPv4-mapped form
    ///   (`::ffff:192.0.2.1`), which proxies write for IPv4 clients of IPv6 sockets.
    /// * After v1 `UNKNOWN` comes CRLF, or a space and anything up to CRLF (section
    ///   2.1: ignored). A CR or LF alone is refused there too: section 2.1 says "The
    ///   receiver must not tolerate a single CR or LF character to end the line".
    /// * A v2 `LOCAL` header's address block is skipped unread, family byte and TLVs
    ///   included (section 2.2: the receiver must "discard the protocol block including
    ///   the family which is ignored"); its length is still checked against
    ///   [`V2_MAX_LEN`].
    /// * The TLVs are checked for framing only (section 2.2.3's checksum is not
    ///   verified), and unknown types are kept.
    pub fn parse(input: &[u8], versions: ProxyVersions) -> Result<ProxyParse, ProxyError> {
        // The first byte is enough to tell the versions apart (section 2.2), and to
        // refuse what is neither.
        let Some(&first) = input.first() else { return Ok(ProxyParse::Incomplete) };
        let version = match first {
            b'P' => ProxyVersion::V1,
            b'\r' => ProxyVersion::V2,
            _ => return Err(ProxyError::NoHeader),
        };
        if !versions.accepts(version) {
            return Err(ProxyError::Version);
        }
        match version {
            ProxyVersion::V1 => parse_v1(input),
            ProxyVersion::V2 => answer(input, v2_header(input)),
        }
    }

    /// The value of the first TLV of type `kind` (one of [`tlv`]'s, say), if any.
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs.iter().find(|(k, _)| *k == kind).map(|(_, value)| value.as_slice())
    }

    /// Encodes the header, for proxies and tests. Nothing is written on error.
    ///
    /// * v1: `TCP4` or `TCP6` with the addresses, or `PROXY UNKNOWN\r\n` for `None`.
    /// * v2: a `PROXY` header with `TCP over IPv4` (`\x11`) or `TCP over IPv6` (`\x21`)
    ///   addresses and the TLVs. `None` with no TLVs is a `LOCAL` header (the form every
    ///   receiver must accept, section 2.2); `None` with TLVs is a `PROXY` header of
    ///   family `AF_UNSPEC`, since a `LOCAL` header's TLVs are not read.
    ///
    /// [`ProxyHeader::parse`] gives back exactly this header for what is written.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidArgument`] when the header cannot be sent as it is: a
    /// source and destination of different families, TLVs in a v1 header, a TLV value
    /// longer than 65535 bytes, or a v2 header longer than [`V2_MAX_LEN`].
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self.version {
            ProxyVersion::V1 => self.encode_v1(out),
            ProxyVersion::V2 => self.encode_v2(out),
        }
    }

    fn encode_v1(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        if !self.tlvs.is_empty() {
            return Err(EncodeError::InvalidArgument);
        }
        let Some(addresses) = self.addresses else {
            out.put_slice(b"PROXY UNKNOWN\r\n");
            return Ok(());
        };
        let family = match family(addresses)? {
            Family::Inet4 => "TCP4",
            Family::Inet6 => "TCP6",
        };
        let (source, destination) = (addresses.source, addresses.destination);
        // `Display` writes both address families in section 2.1's form (no heading
        // zeroes in IPv4 octets; IPv6 with `::` and at most 39 characters, or 22 for
        // the IPv4-mapped form), so the line stays within 104 bytes. Writing to a
        // `BytesMut` cannot fail: it grows.
        let _ = write!(
            out,
            "PROXY {family} {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        );
        Ok(())
    }

    fn encode_v2(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        // Version 2 in the high nibble; LOCAL (0) or PROXY (1) in the low one. The
        // family in the high nibble of the next byte, the transport (1, STREAM) in the
        // low one (section 2.2).
        let (command, family_and_transport, address_len) = match self.addresses.map(family).transpose()? {
            None if self.tlvs.is_empty() => (0x20, 0x00, 0),
            None => (0x21, 0x00, 0),
            Some(Family::Inet4) => (0x21, 0x11, 12),
            Some(Family::Inet6) => (0x21, 0x21, 36),
        };
        let mut length: usize = address_len;
        for (_, value) in &self.tlvs {
            if value.len() > usize::from(u16::MAX) {
                return Err(EncodeError::InvalidArgument);
            }
            length = length.saturating_add(3 + value.len());
        }
        if V2_FIXED_LEN.saturating_add(length) > V2_MAX_LEN {
            return Err(EncodeError::InvalidArgument);
        }
        let length = u16::try_from(length).map_err(|_| EncodeError::InvalidArgument)?;

        out.reserve(V2_FIXED_LEN + usize::from(length));
        out.put_slice(V2_SIGNATURE);
        out.put_u8(command);
        out.put_u8(family_and_transport);
        out.put_u16(length);
        if let Some(ProxyAddresses { source, destination }) = self.addresses {
            // Source address, destination address, source port, destination port, all
            // in network byte order (section 2.2). `family` made sure both addresses
            // are of the family written in the header.
            for ip in [source.ip(), destination.ip()] {
                match ip {
                    IpAddr::V4(ip) => out.put_slice(&ip.octets()),
                    IpAddr::V6(ip) => out.put_slice(&ip.octets()),
                }
            }
            out.put_u16(source.port());
            out.put_u16(destination.port());
        }
        for (kind, value) in &self.tlvs {
            out.put_u8(*kind);
            // Checked above: at most u16::MAX.
            out.put_u16(value.len() as u16);
            out.put_slice(value);
        }
        Ok(())
    }
}

/// The address family of a header's addresses.
#[derive(Clone, Copy)]
enum Family {
    Inet4,
    Inet6,
}

/// The family of both addresses; a header has one family for both.
fn family(addresses: ProxyAddresses) -> Result<Family, EncodeError> {
    match (addresses.source, addresses.destination) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => Ok(Family::Inet4),
        (SocketAddr::V6(_), SocketAddr::V6(_)) => Ok(Family::Inet6),
        _ => Err(EncodeError::InvalidArgument),
    }
}

// ---------------------------------------------------------------------------------
// Parsing, shared
// ---------------------------------------------------------------------------------

/// nom's error type here: the [`ProxyError`] a failed step stands for. A mismatch in
/// the grammar (a tag, a digit) is [`ProxyError::Malformed`]; the steps that know
/// better (the signatures, the v2 fixed part) say so through `map_res` or `map_err`.
#[derive(Debug)]
struct Fault(ProxyError);

impl<I> ParseError<I> for Fault {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        Self(ProxyError::Malformed)
    }

    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

impl<I> FromExternalError<I, ProxyError> for Fault {
    fn from_external_error(_: I, _: ErrorKind, error: ProxyError) -> Self {
        Self(error)
    }
}

/// Any nom error in a step as `error`: for the signatures, whose mismatch means the
/// input is not a header at all.
fn refuse_as(error: ProxyError) -> impl Fn(nom::Err<Fault>) -> nom::Err<Fault> {
    move |failure| failure.map(|_| Fault(error))
}

/// A streaming parser's result over `input` as [`ProxyHeader::parse`]'s answer. The
/// parsers here are all streaming: nom's `Incomplete` means that every byte so far
/// agrees with a header.
fn answer(input: &[u8], result: IResult<&[u8], ProxyHeader, Fault>) -> Result<ProxyParse, ProxyError> {
    match result {
        // The rest is a suffix of the input: no parser here adds bytes.
        Ok((rest, header)) => Ok(ProxyParse::Complete { header, consumed: input.len() - rest.len() }),
        Err(nom::Err::Incomplete(_)) => Ok(ProxyParse::Incomplete),
        Err(nom::Err::Error(Fault(error)) | nom::Err::Failure(Fault(error))) => Err(error),
    }
}

// ---------------------------------------------------------------------------------
// Version 1 (section 2.1)
// ---------------------------------------------------------------------------------

/// Parses a v1 line at the start of `input`.
fn parse_v1(input: &[u8]) -> Result<ProxyParse, ProxyError> {
    // Section 2.1: "If the CRLF sequence is not found in the first 107 characters, the
    // receiver should declare the line invalid." Nothing past them is looked at, so an
    // answer given for a shorter input stays the same; a line still incomplete at 107
    // bytes is too long.
    let window = input.get(..V1_MAX_LEN).unwrap_or(input);
    match answer(window, v1_line(window)) {
        Ok(ProxyParse::Incomplete) if window.len() == V1_MAX_LEN => Err(ProxyError::TooLong),
        other => other,
    }
}

/// `PROXY`, exactly one space, then one of the three protocol forms.
fn v1_line(input: &[u8]) -> IResult<&[u8], ProxyHeader, Fault> {
    let (input, _) = tag("PROXY").parse(input).map_err(refuse_as(ProxyError::NoHeader))?;
    let (input, addresses) = preceded(tag(" "), alt((tcp4, tcp6, unknown))).parse(input)?;
    Ok((input, ProxyHeader { version: ProxyVersion::V1, addresses, tlvs: Vec::new() }))
}

/// `TCP4 <source> <destination> <source port> <destination port>\r\n`, IPv4 addresses.
fn tcp4(input: &[u8]) -> IResult<&[u8], Option<ProxyAddresses>, Fault> {
    let (input, _) = tag("TCP4 ").parse(input)?;
    let (input, addresses) = endpoints(input, ipv4)?;
    Ok((input, Some(addresses)))
}

/// `TCP6 <source> <destination> <source port> <destination port>\r\n`, IPv6 addresses.
fn tcp6(input: &[u8]) -> IResult<&[u8], Option<ProxyAddresses>, Fault> {
    let (input, _) = tag("TCP6 ").parse(input)?;
    let (input, addresses) = endpoints(input, ipv6)?;
    Ok((input, Some(addresses)))
}

/// `UNKNOWN`, then CRLF, or a space and anything but CR and LF up to CRLF. What
/// follows the space is ignored (section 2.1: "the receiver must ignore anything
/// presented before the CRLF is found"), but a lone CR or LF would end the line where
/// only CRLF may.
fn unknown(input: &[u8]) -> IResult<&[u8], Option<ProxyAddresses>, Fault> {
    let ignored = (tag(" "), take_while(|b: u8| b != b'\r' && b != b'\n'));
    let (input, _) = (tag("UNKNOWN"), opt(ignored), tag("\r\n")).parse(input)?;
    Ok((input, None))
}

/// An address parser of one family.
type AddressParser = fn(&[u8]) -> IResult<&[u8], IpAddr, Fault>;

/// The four fields after the protocol, with exactly one space between them, and the
/// CRLF: both addresses are of the protocol's family (section 2.1: "The advertised
/// protocol family dictates what format to use").
fn endpoints(input: &[u8], address: AddressParser) -> IResult<&[u8], ProxyAddresses, Fault> {
    let (input, (source, _, destination, _, source_port, _, destination_port, _)) =
        (address, tag(" "), address, tag(" "), port, tag(" "), port, tag("\r\n")).parse(input)?;
    let addresses = ProxyAddresses {
        source: SocketAddr::new(source, source_port),
        destination: SocketAddr::new(destination, destination_port),
    };
    Ok((input, addresses))
}

/// An IPv4 address as section 2.1 writes it: four numbers 0 to 255, one dot between
/// each two, no heading zeroes.
fn ipv4(input: &[u8]) -> IResult<&[u8], IpAddr, Fault> {
    let dot = || tag(".");
    let (input, (a, _, b, _, c, _, d)) = (octet, dot(), octet, dot(), octet, dot(), octet).parse(input)?;
    Ok((input, IpAddr::V4(Ipv4Addr::new(a, b, c, d))))
}

/// One of an IPv4 address's four numbers: 0 to 255.
fn octet(input: &[u8]) -> IResult<&[u8], u8, Fault> {
    decimal(3).map_opt(|n| u8::try_from(n).ok()).parse(input)
}

/// A port: 0 to 65535 (section 2.1).
fn port(input: &[u8]) -> IResult<&[u8], u16, Fault> {
    decimal(5).map_opt(|n| u16::try_from(n).ok()).parse(input)
}

/// A decimal number of at most `digits` digits (1 or more) without heading zeroes
/// (section 2.1: "Heading zeroes are not permitted in front of numbers in order to
/// avoid any possible confusion with octal numbers"): `0`, or a digit from 1 to 9 and
/// up to `digits - 1` more. A zero followed by a digit is refused at that digit.
fn decimal<'a>(digits: usize) -> impl Parser<&'a [u8], Output = u32, Error = Fault> {
    let leading = take_while_m_n(1, 1, |b: u8| matches!(b, b'1'..=b'9'));
    let more = take_while_m_n(0, digits.saturating_sub(1), |b: u8| b.is_ascii_digit());
    alt((tag("0"), recognize((leading, more))))
        // At most 5 ASCII digits, each taken by a digit test above: no overflow, and
        // `d - b'0'` is the digit's value.
        .map(|text: &[u8]| text.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// An IPv6 address: what [`Ipv6Addr`]'s parser takes, at most 45 characters (the
/// longest form, with an IPv4 tail). Section 2.1's form, hex groups and one `::`, is
/// a part of it; the IPv4-mapped form (`::ffff:192.0.2.1`) is the rest that proxies
/// send. The characters are checked as they arrive, the address at its end.
fn ipv6(input: &[u8]) -> IResult<&[u8], IpAddr, Fault> {
    take_while_m_n(2, 45, |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        .map_opt(|text: &[u8]| core::str::from_utf8(text).ok()?.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
        .parse(input)
}

// ---------------------------------------------------------------------------------
// Version 2 (section 2.2)
// ---------------------------------------------------------------------------------

/// The signature, then the fixed part's three fields, each checked as it arrives; then
/// the address block, read once whole.
fn v2_header(input: &[u8]) -> IResult<&[u8], ProxyHeader, Fault> {
    let (input, _) = tag(&V2_SIGNATURE[..]).parse(input).map_err(refuse_as(ProxyError::NoHeader))?;
    let (input, command) = be_u8().map_res(Command::from_byte).parse(input)?;
    let (input, block) = be_u8().map_res(|byte| AddressBlock::from_byte(command, byte)).parse(input)?;
    let (input, contents) = length_data(be_u16().map_res(|length| block.check_length(length))).parse(input)?;
    let (addresses, tlvs) = block.read(contents).map_err(|error| nom::Err::Error(Fault(error)))?;
    Ok((input, ProxyHeader { version: ProxyVersion::V2, addresses, tlvs }))
}

/// The command: byte 13's low nibble.
#[derive(Clone, Copy)]
enum Command {
    /// The proxy's own connection (a health check): the real endpoints stand.
    Local,
    /// A relayed connection, whose original endpoints follow.
    Proxy,
}

impl Command {
    /// Byte 13: the version in the high nibble ("it must always be sent as \x2 and the
    /// receiver must only accept this value"), the command in the low one.
    fn from_byte(byte: u8) -> Result<Self, ProxyError> {
        match (byte >> 4, byte & 0x0F) {
            (2, 0) => Ok(Self::Local),
            (2, 1) => Ok(Self::Proxy),
            (2, _) => Err(ProxyError::UnknownCommand),
            _ => Err(ProxyError::Version),
        }
    }
}

/// What the bytes after the fixed part hold, from byte 14: the address family in the
/// high nibble, the transport in the low one.
#[derive(Clone, Copy)]
enum AddressBlock {
    /// A `LOCAL` header's: skipped unread.
    Skipped,
    /// `AF_UNSPEC`: no addresses, the TLVs start at once.
    Unspecified,
    /// `AF_INET`: 4-byte addresses and 2-byte ports, 12 bytes. `tcp` when the transport
    /// is `STREAM`: only then are the addresses reported.
    Inet4 { tcp: bool },
    /// `AF_INET6`: 16-byte addresses and 2-byte ports, 36 bytes.
    Inet6 { tcp: bool },
    /// `AF_UNIX`: two 108-byte paths, 216 bytes, not reported.
    Unix,
}

impl AddressBlock {
    fn from_byte(command: Command, byte: u8) -> Result<Self, ProxyError> {
        if let Command::Local = command {
            return Ok(Self::Skipped);
        }
        // Transport: 0 UNSPEC, 1 STREAM, 2 DGRAM.
        let tcp = match byte & 0x0F {
            0 | 2 => false,
            1 => true,
            _ => return Err(ProxyError::UnknownFamily),
        };
        match byte >> 4 {
            0 => Ok(Self::Unspecified),
            1 => Ok(Self::Inet4 { tcp }),
            2 => Ok(Self::Inet6 { tcp }),
            3 => Ok(Self::Unix),
            _ => Err(ProxyError::UnknownFamily),
        }
    }

    /// The bytes the addresses take (section 2.2's "Address length").
    fn address_len(self) -> usize {
        match self {
            Self::Skipped | Self::Unspecified => 0,
            Self::Inet4 { .. } => 12,
            Self::Inet6 { .. } => 36,
            Self::Unix => 216,
        }
    }

    /// Checks bytes 15 and 16, the length of what follows the fixed part, before any of
    /// it arrives.
    fn check_length(self, length: u16) -> Result<u16, ProxyError> {
        if V2_FIXED_LEN + usize::from(length) > V2_MAX_LEN {
            Err(ProxyError::TooLong)
        } else if usize::from(length) < self.address_len() {
            Err(ProxyError::Malformed)
        } else {
            Ok(length)
        }
    }

    /// Reads the whole block: the addresses, then the TLVs that fill the rest.
    fn read(self, block: &[u8]) -> Result<(Option<ProxyAddresses>, Tlvs), ProxyError> {
        let (addresses, rest) = match self {
            Self::Skipped => return Ok((None, Vec::new())),
            Self::Unspecified => (None, block),
            // `check_length` made sure the block holds the addresses: the error is for
            // form's sake.
            Self::Inet4 { tcp } => {
                let (rest, addresses) = inet4_addresses(block).map_err(|_| ProxyError::Malformed)?;
                (tcp.then_some(addresses), rest)
            }
            Self::Inet6 { tcp } => {
                let (rest, addresses) = inet6_addresses(block).map_err(|_| ProxyError::Malformed)?;
                (tcp.then_some(addresses), rest)
            }
            Self::Unix => (None, block.get(self.address_len()..).ok_or(ProxyError::Malformed)?),
        };
        Ok((addresses, tlvs(rest)?))
    }
}

/// TLVs as [`ProxyHeader::tlvs`] holds them.
type Tlvs = Vec<(u8, Vec<u8>)>;

/// IPv4 addresses and ports (section 2.2's `ipv4_addr`), from a whole block.
fn inet4_addresses(block: &[u8]) -> IResult<&[u8], ProxyAddresses, Fault> {
    (be_u32(), be_u32(), be_u16(), be_u16())
        .map(|(source, destination, source_port, destination_port)| ProxyAddresses {
            source: SocketAddr::new(Ipv4Addr::from(source).into(), source_port),
            destination: SocketAddr::new(Ipv4Addr::from(destination).into(), destination_port),
        })
        .parse_complete(block)
}

/// IPv6 addresses and ports (section 2.2's `ipv6_addr`), from a whole block.
fn inet6_addresses(block: &[u8]) -> IResult<&[u8], ProxyAddresses, Fault> {
    (be_u128(), be_u128(), be_u16(), be_u16())
        .map(|(source, destination, source_port, destination_port)| ProxyAddresses {
            source: SocketAddr::new(Ipv6Addr::from(source).into(), source_port),
            destination: SocketAddr::new(Ipv6Addr::from(destination).into(), destination_port),
        })
        .parse_complete(block)
}

/// The TLVs that fill `input` exactly (section 2.2): each a type byte, a 16-bit
/// big-endian length and that many bytes of value.
fn tlvs(input: &[u8]) -> Result<Tlvs, ProxyError> {
    let tlv = (be_u8(), length_data(be_u16())).map(|(kind, value): (u8, &[u8])| (kind, value.to_vec()));
    // On the whole block: a TLV cut short by its end is not an error of its own but
    // stops the list, and what it leaves fails `all_consuming`.
    all_consuming(many0(tlv))
        .parse_complete(input)
        .map(|(_, tlvs)| tlvs)
        .map_err(|_: nom::Err<Fault>| ProxyError::BadTlv)
}
