//! The replies a server session writes by itself.

use bytes::{BufMut, BytesMut};

/// A reply known when the crate is compiled, as the bytes of its line: with its
/// enhanced status code (RFC 3463) and without. Written with one copy, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canned {
    enhanced: &'static str,
    plain: &'static str,
}

impl Canned {
    /// The length of the reply line, with its enhanced status code if `enhanced`.
    pub(crate) fn len(&self, enhanced: bool) -> usize {
        if enhanced { self.enhanced.len() } else { self.plain.len() }
    }

    /// Writes the reply line, with its enhanced status code if `enhanced`.
    pub(crate) fn write(&self, out: &mut BytesMut, enhanced: bool) {
        out.put_slice(if enhanced { self.enhanced } else { self.plain }.as_bytes());
    }
}

/// One reply line, the last of its reply: `code [status ]text CRLF`. Callers pass text
/// without CR or LF.
pub(crate) fn write_line(out: &mut BytesMut, code: u16, status: Option<(u8, u16, u16)>, text: &str) {
    let mut number = [0; 20];
    out.put_slice(decimal(u64::from(code), &mut number));
    out.put_u8(b' ');
    if let Some((class, subject, detail)) = status {
        out.put_slice(decimal(u64::from(class), &mut number));
        out.put_u8(b'.');
        out.put_slice(decimal(u64::from(subject), &mut number));
        out.put_u8(b'.');
        out.put_slice(decimal(u64::from(detail), &mut number));
        out.put_u8(b' ');
    }
    out.put_slice(text.as_bytes());
    out.put_slice(b"\r\n");
}

/// `value` in decimal, written at the end of `buffer`.
pub(crate) fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        // `value % 10` is a digit; 20 places hold any u64.
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buffer[start..];
        }
    }
}

macro_rules! canned {
    ($($(#[$doc:meta])* $name:ident = $code:literal $class:literal . $subject:literal . $detail:literal $text:literal;)*) => {
        $($(#[$doc])* pub(crate) const $name: Canned = Canned {
            enhanced: concat!($code, " ", $class, ".", $subject, ".", $detail, " ", $text, "\r\n"),
            plain: concat!($code, " ", $text, "\r\n"),
        };)*

        /// Every canned reply, for the tests.
        #[cfg(test)]
        const ALL: &[Canned] = &[DATA_GO, $($name),*];
    };
}

/// `354` never carries an enhanced status code (RFC 2034 section 3 gives 3xx none).
pub(crate) const DATA_GO: Canned =
    Canned { enhanced: "354 End data with <CR><LF>.<CR><LF>\r\n", plain: "354 End data with <CR><LF>.<CR><LF>\r\n" };

canned! {
    OK = 250 2 . 0 . 0 "OK";
    RESET = 250 2 . 0 . 0 "Reset";
    SENDER_OK = 250 2 . 1 . 0 "Sender OK";
    RECIPIENT_OK = 250 2 . 1 . 5 "Recipient OK";
    MESSAGE_ACCEPTED = 250 2 . 0 . 0 "Message accepted";
    CANNOT_VERIFY = 252 2 . 5 . 0 "Cannot verify the user, but will try delivery";
    HELP = 214 2 . 0 . 0 "See RFC 5321";
    BYE = 221 2 . 0 . 0 "Bye";
    AUTH_OK = 235 2 . 7 . 0 "Authentication succeeded";
    TLS_GO = 220 2 . 0 . 0 "Ready to start TLS";
    TIMEOUT = 421 4 . 4 . 2 "Timeout, closing connection";
    SHUTTING_DOWN = 421 4 . 3 . 2 "Service shutting down, closing connection";
    NO_SERVICE = 503 5 . 5 . 1 "No SMTP service here, send QUIT";
    EXPN_NOT_AVAILABLE = 502 5 . 5 . 1 "EXPN not available";
    NO_RECIPIENTS_LMTP = 503 5 . 5 . 1 "No valid recipients";
    TOO_MANY_ERRORS = 421 4 . 7 . 0 "Too many errors, closing connection";
    OUT_OF_STEP = 554 5 . 5 . 0 "Synchronization error: input sent before the reply, closing connection";
    PROXY_NOT_TRUSTED = 550 5 . 7 . 0 "Insufficient authorization";
    PROXY_IN_TRANSACTION = 503 5 . 5 . 1 "Not allowed in a mail transaction";
    INPUT_FLOOD = 421 4 . 7 . 0 "Too much input while busy, closing connection";
    NOT_HTTP = 221 2 . 7 . 0 "This is an SMTP server, closing connection";
    TEXT_AT_COMMAND = 221 2 . 7 . 0 "Message text where a command belongs, closing connection";
    AUTH_LIMIT = 421 4 . 7 . 0 "Too many failed authentication attempts, closing connection";
    INTERNAL_ERROR = 451 4 . 3 . 0 "Internal error";
    TOO_MANY_RECIPIENTS = 452 4 . 5 . 3 "Too many recipients";
    TOO_MANY_DOMAINS = 452 4 . 5 . 3 "Too many recipient domains";
    TOO_MANY_MESSAGES = 451 4 . 5 . 3 "Too many transactions in this session, reconnect";
    LINE_TOO_LONG = 500 5 . 5 . 6 "Line too long";
    BARE_LF_COMMAND = 500 5 . 5 . 2 "Command line ended by a bare LF";
    NO_HELLO = 503 5 . 5 . 1 "Send EHLO or HELO first";
    NO_EHLO = 503 5 . 5 . 1 "Send EHLO first";
    NESTED_MAIL = 503 5 . 5 . 1 "Sender already given";
    NO_MAIL = 503 5 . 5 . 1 "Send MAIL first";
    NO_RECIPIENTS = 554 5 . 5 . 1 "No valid recipients";
    RCPT_AFTER_BODY = 503 5 . 5 . 1 "RCPT cannot follow message data";
    DATA_AFTER_BDAT = 503 5 . 5 . 1 "DATA cannot follow BDAT in one transaction";
    BINARY_NEEDS_BDAT = 503 5 . 5 . 1 "BODY=BINARYMIME needs BDAT";
    AUTH_IN_TRANSACTION = 503 5 . 5 . 1 "AUTH not allowed in a transaction";
    ALREADY_AUTHENTICATED = 503 5 . 5 . 1 "Already authenticated";
    ALREADY_TLS = 503 5 . 5 . 1 "TLS already active";
    WRONG_HELLO = 500 5 . 5 . 1 "Wrong greeting command for this protocol";
    NOT_OFFERED = 502 5 . 5 . 1 "Command not implemented";
    UNKNOWN_MECHANISM = 504 5 . 5 . 4 "Unrecognized authentication type";
    AUTH_CANCELLED = 501 5 . 7 . 0 "Authentication cancelled";
    BAD_BASE64 = 501 5 . 5 . 2 "Invalid base64 data";
    BAD_CREDENTIALS_FORMAT = 501 5 . 5 . 2 "Malformed authentication data";
    AUTH_REQUIRED = 530 5 . 7 . 0 "Authentication required";
    STARTTLS_FIRST = 530 5 . 7 . 0 "Must issue a STARTTLS command first";
    ENCRYPTION_REQUIRED = 538 5 . 7 . 11 "Encryption required for requested authentication mechanism";
    REQUIRETLS_NEEDS_TLS = 530 5 . 7 . 10 "REQUIRETLS needs an encrypted connection";
    MESSAGE_TOO_BIG = 552 5 . 3 . 4 "Message size exceeds fixed limit";
    BARE_LINE_ENDING = 550 5 . 5 . 2 "Message contains a bare CR or LF";
    PARAMETER_NOT_OFFERED = 555 5 . 5 . 4 "Parameter not offered by this server";
    UTF8_NEEDS_SMTPUTF8 = 553 5 . 6 . 7 "Non-ASCII address needs SMTPUTF8";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5321 section 4.2 (S-5321-59): only codes the RFCs list. Section 4.2.3's,
    /// and 530, 535 and 538 (RFC 4954), 555 (section 4.1.1.11).
    #[test]
    fn canned_replies_use_only_codes_the_rfcs_list() {
        const LISTED: [&str; 24] = [
            "211", "214", "220", "221", "235", "250", "251", "252", "354", "421", "450", "451", "452", "455", "500",
            "501", "502", "503", "504", "530", "538", "550", "552", "553",
        ];
        for canned in ALL {
            let code = &canned.plain[..3];
            assert!(LISTED.contains(&code) || ["554", "555", "535"].contains(&code), "{}", canned.plain);
            assert_eq!(&canned.enhanced[..3], code);
            // RFC 3463: the enhanced code's class is the reply's (3xx carries none).
            if !code.starts_with('3') {
                assert_eq!(canned.enhanced.as_bytes()[4], code.as_bytes()[0], "{}", canned.enhanced);
            }
        }
    }

    #[test]
    fn canned_replies_are_well_formed_lines() {
        let mut out = BytesMut::new();
        SENDER_OK.write(&mut out, true);
        ENCRYPTION_REQUIRED.write(&mut out, true);
        SENDER_OK.write(&mut out, false);
        assert_eq!(
            &out[..],
            b"250 2.1.0 Sender OK\r\n538 5.7.11 Encryption required for requested authentication mechanism\r\n250 Sender OK\r\n"
        );
    }
}
