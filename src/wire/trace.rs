//! Trace information a server adds to each message it accepts: the `Received:` header
//! field of RFC 5321 section 4.4 and the `Return-Path:` field of section 4.4 / RFC 5322
//! section 3.6.7.
//!
//! The library has no clock: the caller passes the time, as seconds since the Unix
//! epoch, and the field is written in UTC.

use alloc::string::String;
use core::fmt::Write;
use core::net::IpAddr;

use super::address::{ForwardPath, ReversePath};
use crate::error::EncodeError;

/// The `WITH` protocol of a `Received:` field (RFC 5321 section 4.4, RFC 3848).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceProtocol {
    /// `SMTP`: the client greeted with `HELO`.
    Smtp,
    /// `ESMTP`, and with RFC 3848's suffixes: `S` for TLS, `A` for AUTH.
    Esmtp {
        /// The connection was encrypted.
        tls: bool,
        /// The client authenticated.
        authenticated: bool,
    },
    /// `LMTP`, with the same suffixes.
    Lmtp {
        /// The connection was encrypted.
        tls: bool,
        /// The client authenticated.
        authenticated: bool,
    },
}

impl TraceProtocol {
    /// The keyword: `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `LMTP`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "SMTP",
            Self::Esmtp { tls, authenticated } => match (tls, authenticated) {
                (false, false) => "ESMTP",
                (true, false) => "ESMTPS",
                (false, true) => "ESMTPA",
                (true, true) => "ESMTPSA",
            },
            Self::Lmtp { tls, authenticated } => match (tls, authenticated) {
                (false, false) => "LMTP",
                (true, false) => "LMTPS",
                (false, true) => "LMTPA",
                (true, true) => "LMTPSA",
            },
        }
    }
}

/// A `Received:` header field, built from what the server knows about a message.
///
/// ```
/// use smtp_sansio::wire::{Received, TraceProtocol};
///
/// let field = Received {
///     helo: "client.example.net",
///     reverse_dns: Some("client.example.net"),
///     ip: Some("192.0.2.25".parse().unwrap()),
///     by: "mx.example.org",
///     protocol: TraceProtocol::Esmtp { tls: true, authenticated: false },
///     id: Some("4VqZ1k3Xyz"),
///     recipient: None,
///     unix_time: 1_715_941_264,
///     utc_offset_minutes: 120,
/// }
/// .to_field()
/// .unwrap();
/// assert_eq!(
///     field,
///     "Received: from client.example.net (client.example.net [192.0.2.25])\r\n\
///      \tby mx.example.org with ESMTPS id 4VqZ1k3Xyz;\r\n\
///      \tFri, 17 May 2024 12:21:04 +0200\r\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<'a> {
    /// The name the client gave in `HELO`/`EHLO`/`LHLO`, as given.
    pub helo: &'a str,
    /// The client's name by reverse DNS, if the server looked it up.
    pub reverse_dns: Option<&'a str>,
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The server's own name.
    pub by: &'a str,
    /// How the message came.
    pub protocol: TraceProtocol,
    /// The server's identifier for the message (a queue id).
    pub id: Option<&'a str>,
    /// The recipient, for a message with exactly one (RFC 5321 section 7.6: naming one
    /// of several would tell every recipient about the others).
    pub recipient: Option<&'a ForwardPath<'a>>,
    /// When the message was received, in seconds since the Unix epoch.
    pub unix_time: i64,
    /// The server's offset from UTC at that time, in minutes (`120` for `+0200`,
    /// `-300` for `-0500`). RFC 5321 section 4.4 asks for local time with its offset
    /// rather than UT where feasible; the library has no clock or time zone data, so
    /// the caller says. Offsets beyond a day are clamped to `±23:59`.
    pub utc_offset_minutes: i16,
}

impl Received<'_> {
    /// The header field, folded over lines of at most 78 octets where it can be, and
    /// ended by CRLF. Refuses names and ids with characters that could end the field
    /// early or break its grammar (controls, spaces, parentheses, `;`).
    pub fn to_field(&self) -> Result<String, EncodeError> {
        let words = [Some(self.helo), self.reverse_dns, Some(self.by), self.id];
        if words.into_iter().flatten().any(|word| !is_trace_word(word)) {
            return Err(EncodeError::InvalidArgument);
        }
        let mut field = String::from("Received: from ");
        field.push_str(self.helo);
        match (self.reverse_dns, self.ip) {
            (None, None) => {}
            (name, ip) => {
                field.push_str(" (");
                if let Some(name) = name {
                    field.push_str(name);
                }
                if let Some(ip) = ip {
                    if name.is_some() {
                        field.push(' ');
                    }
                    write_address_literal(&mut field, ip);
                }
                field.push(')');
            }
        }
        field.push_str("\r\n\tby ");
        field.push_str(self.by);
        field.push_str(" with ");
        field.push_str(self.protocol.as_str());
        if let Some(id) = self.id {
            field.push_str(" id ");
            field.push_str(id);
        }
        if let Some(recipient) = self.recipient {
            // A parsed path holds no control characters: it writes as it parsed.
            let _ = write!(field, "\r\n\tfor {recipient}");
        }
        field.push_str(";\r\n\t");
        write_date(&mut field, self.unix_time, self.utc_offset_minutes);
        field.push_str("\r\n");
        Ok(field)
    }
}

/// The `Return-Path:` header field a final delivery adds (RFC 5321 section 4.4), from
/// the `MAIL FROM` path: `Return-Path: <a@example.net>` or `Return-Path: <>`.
pub fn return_path(from: &ReversePath<'_>) -> String {
    let mut field = String::new();
    // Writing into a String cannot fail.
    let _ = write!(field, "Return-Path: {from}\r\n");
    field
}

/// A name or id that can stand in a `Received:` field as one word.
fn is_trace_word(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| !c.is_control() && !matches!(c, ' ' | '(' | ')' | ';' | '\\' | '"'))
}

/// `[192.0.2.25]` or `[IPv6:2001:db8::1]` (RFC 5321 section 4.1.3).
fn write_address_literal(out: &mut String, ip: IpAddr) {
    // Writing into a String cannot fail.
    let _ = match ip {
        IpAddr::V4(ip) => write!(out, "[{ip}]"),
        IpAddr::V6(ip) => write!(out, "[IPv6:{ip}]"),
    };
}

/// An RFC 5322 `date-time` in UTC: `Fri, 17 May 2024 10:21:04 +0000`.
fn write_date(out: &mut String, unix_time: i64, utc_offset_minutes: i16) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let offset = i64::from(utc_offset_minutes.clamp(-(23 * 60 + 59), 23 * 60 + 59));
    let local = unix_time.saturating_add(offset * 60);
    let days = local.div_euclid(86_400);
    let seconds = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1 January 1970 was a Thursday; `rem_euclid(7)` is in 0..7 and `month` in 1..=12.
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let sign = if offset < 0 { '-' } else { '+' };
    let (offset_hours, offset_minutes) = (offset.abs() / 60, offset.abs() % 60);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{weekday}, {day} {month} {year} {hour:02}:{minute:02}:{second:02} {sign}{offset_hours:02}{offset_minutes:02}"
    );
}

/// The proleptic Gregorian (year, month 1..=12, day 1..=31) of a day count from
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix_time: i64) -> String {
        let mut out = String::new();
        write_date(&mut out, unix_time, 0);
        out
    }

    /// RFC 5321 section 4.4 (S-5321-72): local time with its offset.
    #[test]
    fn dates_carry_the_servers_offset() {
        let with = |offset: i16| {
            let mut out = String::new();
            write_date(&mut out, 1_715_941_264, offset);
            out
        };
        assert_eq!(with(0), "Fri, 17 May 2024 10:21:04 +0000");
        assert_eq!(with(120), "Fri, 17 May 2024 12:21:04 +0200");
        assert_eq!(with(-330), "Fri, 17 May 2024 04:51:04 -0530");
        assert_eq!(with(-660), "Thu, 16 May 2024 23:21:04 -1100");
        assert_eq!(with(i16::MAX), "Sat, 18 May 2024 10:20:04 +2359");
    }

    #[test]
    fn dates_are_rfc5322_in_utc() {
        assert_eq!(date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(date(1_715_941_264), "Fri, 17 May 2024 10:21:04 +0000");
        assert_eq!(date(1_795_383_318), "Sun, 22 Nov 2026 21:35:18 +0000");
        assert_eq!(date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
        assert_eq!(date(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 +0000");
        assert_eq!(date(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 +0000");
    }

    #[test]
    fn fields_refuse_injected_text() {
        let mut received = Received {
            helo: "c.example",
            reverse_dns: None,
            ip: Some("2001:db8::1".parse().unwrap()),
            by: "mx.example.org",
            protocol: TraceProtocol::Smtp,
            id: Some("1\r\nBcc: x@y"),
            recipient: None,
            unix_time: 0,
            utc_offset_minutes: 0,
        };
        assert_eq!(received.to_field(), Err(EncodeError::InvalidArgument));
        received.id = None;
        let to = ForwardPath::parse("<bob@example.org>").unwrap();
        received.recipient = Some(&to);
        assert_eq!(
            received.to_field().unwrap(),
            "Received: from c.example ([IPv6:2001:db8::1])\r\n\tby mx.example.org with SMTP\r\n\tfor <bob@example.org>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_eq!(return_path(&ReversePath::Null), "Return-Path: <>\r\n");
    }
}
