//! The parameters of the `LIMITS` EHLO keyword (RFC 9422): the limits a server says it
//! applies in this session.
//!
//! ```text
//! limits-param     = limit-name-value 0*[SP limit-name-value]
//! limit-name-value = limit-name ["=" limit-value]
//! limit-name       = 1*(ALPHA / DIGIT / "-" / "_")
//! limit-value      = 1*(%x21-3A / %x3C-7E) ; Any VCHAR except ";"
//! ```
//!
//! Read with `nom`: this runs once per `EHLO` reply, off the hot path.

use nom::Parser;
use nom::bytes::complete::{take_while_m_n, take_while1};
use nom::character::complete::char;
use nom::combinator::{all_consuming, opt};
use nom::multi::separated_list1;
use nom::sequence::preceded;

/// The most digits of a limit's value: RFC 9422 section 4 gives `MAILMAX`, `RCPTMAX`
/// and `RCPTDOMAINMAX` values from 1 to 999999.
const MAX_DIGITS: usize = 6;

/// The limits a server announced with `LIMITS` (RFC 9422) that the client acts on. `None`:
/// not announced, or announced with a value that is not valid, which RFC 9422 has the
/// client ignore.
///
/// Read from an `EHLO` reply with [`Capabilities::limits`](super::Capabilities::limits).
///
/// ```
/// use smtp_sansio::wire::Limits;
///
/// let limits = Limits::parse("RCPTMAX=50 MAILMAX=0 RCPTDOMAINMAX=5 FUTURE=yes");
/// assert_eq!(limits.rcpt_max, Some(50));
/// assert_eq!(limits.mail_max, None); // zero is not a valid value: ignored
/// assert_eq!(limits.rcpt_domain_max, Some(5));
/// assert_eq!(Limits::parse("RCPTMAX=50 ;bad"), Limits::default()); // not LIMITS syntax
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Limits {
    /// `MAILMAX` (RFC 9422 section 4): the most transactions (`MAIL` commands, whatever
    /// their replies) the server takes in this session. A client that has more to send
    /// goes on over a new connection.
    pub mail_max: Option<u32>,
    /// `RCPTMAX` (RFC 9422 section 4): the most `RCPT` commands the server takes in one
    /// transaction. A message for more recipients goes in several transactions.
    pub rcpt_max: Option<u32>,
    /// `RCPTDOMAINMAX` (RFC 9422 section 4): the most different domains the recipients
    /// of one transaction may have.
    pub rcpt_domain_max: Option<u32>,
}

impl Limits {
    /// Reads the parameters of one `LIMITS` line: the text after the keyword, such as
    /// `RCPTMAX=100 MAILMAX=1000`.
    ///
    /// What RFC 9422 has a client ignore is ignored: limits it does not know (section 3:
    /// more are registered with IANA), a known limit without a value or with a value that
    /// is not a number from 1 to 999999 (section 4: zero is not one; leading zeros are
    /// tolerated within the six digits), and the whole line when it does not fit the
    /// `limits-param` grammar of section 3, which leaves no way to tell where a limit
    /// ends. Names are compared without regard to case. A limit given twice counts with
    /// its smaller value: a client that keeps to it keeps to both.
    pub fn parse(params: &str) -> Self {
        let mut limits = Self::default();
        let Ok((_, list)) = all_consuming(limits_param).parse(params) else {
            return limits;
        };
        for (name, value) in list {
            let Some(value) = value.and_then(number) else { continue };
            let slot = match () {
                _ if name.eq_ignore_ascii_case("MAILMAX") => &mut limits.mail_max,
                _ if name.eq_ignore_ascii_case("RCPTMAX") => &mut limits.rcpt_max,
                _ if name.eq_ignore_ascii_case("RCPTDOMAINMAX") => &mut limits.rcpt_domain_max,
                _ => continue,
            };
            *slot = Some(slot.map_or(value, |old| old.min(value)));
        }
        limits
    }

    /// Both sets of limits, the smaller value of each that both have.
    pub(crate) fn merge(self, other: Self) -> Self {
        let min = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            mail_max: min(self.mail_max, other.mail_max),
            rcpt_max: min(self.rcpt_max, other.rcpt_max),
            rcpt_domain_max: min(self.rcpt_domain_max, other.rcpt_domain_max),
        }
    }
}

/// `limits-param`: one or more `limit-name-value`, each after a single space.
fn limits_param(input: &str) -> nom::IResult<&str, alloc::vec::Vec<(&str, Option<&str>)>> {
    separated_list1(char(' '), limit_name_value).parse(input)
}

/// `limit-name ["=" limit-value]`.
fn limit_name_value(input: &str) -> nom::IResult<&str, (&str, Option<&str>)> {
    let name = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let value = take_while1(|c: char| matches!(c, '\x21'..='\x3a' | '\x3c'..='\x7e'));
    (name, opt(preceded(char('='), value))).parse(input)
}

/// A limit's value as a number: 1 to 6 digits, not zero.
fn number(value: &str) -> Option<u32> {
    let digits = take_while_m_n::<_, _, nom::error::Error<&str>>(1, MAX_DIGITS, |c: char| c.is_ascii_digit());
    let (_, digits) = all_consuming(digits).parse(value).ok()?;
    // At most six ASCII digits: always a u32.
    digits.parse::<u32>().ok().filter(|value| *value > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_values_are_read_as_rfc_9422_says() {
        let limits = Limits::parse("MAILMAX=1000 RCPTMAX=100 RCPTDOMAINMAX=10");
        assert_eq!((limits.mail_max, limits.rcpt_max, limits.rcpt_domain_max), (Some(1000), Some(100), Some(10)));
        assert_eq!(Limits::parse("rcptmax=999999").rcpt_max, Some(999_999));
        assert_eq!(Limits::parse("RCPTMAX=0010").rcpt_max, Some(10));
        for ignored in ["RCPTMAX=0", "RCPTMAX=1000000", "RCPTMAX=1x", "RCPTMAX", "RCPTMAX=-1", "RCPTMAX=+5"] {
            assert_eq!(Limits::parse(ignored), Limits::default(), "{ignored}");
        }
        for malformed in ["", " RCPTMAX=5", "RCPTMAX=5 ", "RCPTMAX=5  MAILMAX=3", "RCPTMAX=", "=5", "RCPTMAX=5;"] {
            assert_eq!(Limits::parse(malformed), Limits::default(), "{malformed:?}");
        }
        assert_eq!(Limits::parse("RCPTMAX=50 RCPTMAX=20 RCPTMAX=30").rcpt_max, Some(20));
        assert_eq!(Limits::parse("X_NEW=a=b RCPTMAX=7 FLAG").rcpt_max, Some(7));
    }
}
