//! SASL for `AUTH` (RFC 4954): the mechanisms a server understands, base64, and the
//! credentials each mechanism carries.
//!
//! The library decodes and splits what the client sent; checking a password or a
//! token is the application's job.

use alloc::string::String;
use alloc::vec::Vec;

/// A SASL mechanism the server side can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): authorization identity, user name and password in one message.
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login): user name and password asked for in turn.
    Login,
    /// `XOAUTH2` (Google's): a user and an OAuth 2.0 bearer token.
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628): a GS2 header and an OAuth 2.0 bearer token.
    OAuthBearer,
}

impl Mechanism {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism called `name` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Plain, Self::Login, Self::XOAuth2, Self::OAuthBearer]
            .into_iter()
            .find(|mechanism| mechanism.as_str().eq_ignore_ascii_case(name))
    }
}

/// What a client proved itself with, decoded from its SASL messages.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (`PLAIN` or `LOGIN`).
    Password {
        /// The identity to act as, when it differs from `username` (`PLAIN` only).
        authzid: Option<String>,
        /// The identity whose password this is.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth 2.0 bearer token (`XOAUTH2` or `OAUTHBEARER`).
    Bearer {
        /// The user the token is for, when the client named one.
        user: Option<String>,
        /// The token.
        token: String,
    },
}

impl core::fmt::Debug for Credentials {
    // Secrets stay out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Password { authzid, username, .. } => f
                .debug_struct("Password")
                .field("authzid", authzid)
                .field("username", username)
                .field("password", &"<hidden>")
                .finish(),
            Self::Bearer { user, .. } => {
                f.debug_struct("Bearer").field("user", user).field("token", &"<hidden>").finish()
            }
        }
    }
}

/// `PLAIN` (RFC 4616 section 2): `[authzid] NUL authcid NUL passwd`, UTF-8, no NUL
/// inside a field, user name and password not empty.
pub(crate) fn plain(message: &[u8]) -> Option<Credentials> {
    let mut fields = message.split(|&b| b == 0);
    let (authzid, username, password) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || username.is_empty() || password.is_empty() {
        return None;
    }
    let text = |bytes: &[u8]| core::str::from_utf8(bytes).ok().map(String::from);
    let authzid = if authzid.is_empty() { None } else { Some(text(authzid)?) };
    Some(Credentials::Password { authzid, username: text(username)?, password: text(password)? })
}

/// `XOAUTH2`: `user=<user> ^A auth=Bearer <token> ^A ^A`.
pub(crate) fn xoauth2(message: &[u8]) -> Option<Credentials> {
    let text = core::str::from_utf8(message).ok()?;
    let body = text.strip_suffix("\x01\x01")?;
    let (mut user, mut token) = (None, None);
    for field in body.split('\x01') {
        if let Some(value) = field.strip_prefix("user=") {
            user = Some(String::from(value));
        } else if let Some(value) = field.strip_prefix("auth=") {
            token = Some(bearer(value)?);
        } else {
            return None;
        }
    }
    Some(Credentials::Bearer { user, token: token? })
}

/// `OAUTHBEARER` (RFC 7628 section 3.1): `gs2-header ^A key=value ^A ... ^A ^A`, where
/// the GS2 header may name the user (`n,a=user,`) and `auth=Bearer <token>` is required.
pub(crate) fn oauthbearer(message: &[u8]) -> Option<Credentials> {
    let text = core::str::from_utf8(message).ok()?;
    let body = text.strip_suffix("\x01\x01")?;
    let (header, pairs) = body.split_once('\x01')?;
    let mut header = header.split(',');
    if !matches!(header.next()?, "n" | "y") {
        return None;
    }
    let user = match header.next()? {
        "" => None,
        authzid => Some(gs2_unescape(authzid.strip_prefix("a=")?)?),
    };
    if header.next() != Some("") || header.next().is_some() {
        return None;
    }
    let mut token = None;
    for pair in pairs.split('\x01') {
        let (key, value) = pair.split_once('=')?;
        if key == "auth" {
            token = Some(bearer(value)?);
        }
    }
    Some(Credentials::Bearer { user, token: token? })
}

/// The token of `Bearer <token>` (the scheme's case ignored).
fn bearer(value: &str) -> Option<String> {
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then(|| String::from(token))
}

/// A GS2 `saslname` (RFC 5801 section 4): `=2C` is `,` and `=3D` is `=`.
fn gs2_unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// The value of a base64 digit (RFC 4648 section 4), or `None`.
fn digit(byte: u8) -> Option<u32> {
    let value = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes padded base64 (RFC 4648 section 4), as RFC 4954 requires. Anything else,
/// including missing padding or bits left over, is `None`.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (groups, _) = text.as_chunks::<4>();
    let last = groups.len().saturating_sub(1);
    for (index, group) in groups.iter().enumerate() {
        let padding = match group {
            [_, _, b'=', b'='] => 2,
            [_, _, _, b'='] => 1,
            _ => 0,
        };
        if padding > 0 && index != last {
            return None;
        }
        let mut value = 0u32;
        for &byte in &group[..4 - padding] {
            value = value << 6 | digit(byte)?;
        }
        value <<= 6 * padding;
        let [_, a, b, c] = value.to_be_bytes();
        // Bits under the padding must be zero (RFC 4648 section 3.5).
        let (keep, spare) = match padding {
            2 => (&[a][..], u32::from(b) | u32::from(c)),
            1 => (&[a, b][..], u32::from(c)),
            _ => (&[a, b, c][..], 0),
        };
        if spare != 0 {
            return None;
        }
        out.extend_from_slice(keep);
    }
    Some(out)
}

/// Encodes bytes as padded base64 (RFC 4648 section 4).
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| group.get(i).copied().unwrap_or(0));
        let value = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        for position in 0..4 {
            if position <= group.len() {
                // A six-bit value indexes the 64-entry alphabet.
                out.push(char::from(ALPHABET[(value >> (18 - 6 * position) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_refuses_sloppy_input() {
        for sample in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", b"\0user\0pass"] {
            let encoded = encode_base64(sample);
            assert_eq!(decode_base64(encoded.as_bytes()).as_deref(), Some(sample), "{encoded}");
        }
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        for bad in [&b"Zm9"[..], b"Zm9=v", b"Zg=a", b"Zh==", b"Z===", b"Zm 9", b"Zg==Zg=="] {
            assert_eq!(decode_base64(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn mechanisms_split_their_messages() {
        let password = |authzid: Option<&str>, username: &str, password: &str| Credentials::Password {
            authzid: authzid.map(String::from),
            username: username.into(),
            password: password.into(),
        };
        assert_eq!(plain(b"\0tim\0tanstaaftanstaaf"), Some(password(None, "tim", "tanstaaftanstaaf")));
        assert_eq!(plain(b"Ursel\0Kurt\0xipj3plmq"), Some(password(Some("Ursel"), "Kurt", "xipj3plmq")));
        assert_eq!(plain(b"\0tim\0"), None);
        assert_eq!(plain(b"\0tim\0pw\0"), None);
        let bearer =
            |user: Option<&str>, token: &str| Credentials::Bearer { user: user.map(String::from), token: token.into() };
        assert_eq!(
            xoauth2(b"user=a@b.example\x01auth=Bearer ya29.x\x01\x01"),
            Some(bearer(Some("a@b.example"), "ya29.x"))
        );
        assert_eq!(xoauth2(b"user=a@b.example\x01auth=Bearer ya29.x\x01"), None);
        assert_eq!(
            oauthbearer(b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"),
            Some(bearer(Some("user@example.com"), "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="))
        );
        assert_eq!(oauthbearer(b"n,,\x01auth=Bearer t\x01\x01"), Some(bearer(None, "t")));
        assert_eq!(oauthbearer(b"n,a=a=2Cb,\x01auth=Bearer t\x01\x01"), Some(bearer(Some("a,b"), "t")));
        assert_eq!(oauthbearer(b"p=x,,\x01auth=Bearer t\x01\x01"), None);
        assert_eq!(oauthbearer(b"n,,\x01host=h\x01\x01"), None);
        assert!(!alloc::format!("{:?}", password(None, "u", "secret")).contains("secret"));
    }
}
