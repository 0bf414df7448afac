//! `--verbose`: the conversation as `C:` and `S:` lines on standard error, with
//! credentials left out. An `AUTH` command's initial response and every SASL response
//! after a `334` challenge are printed as `[redacted]`: they hold passwords or tokens
//! (a base64 password is a password).

/// Prints one connection's conversation, when on.
pub struct Tracer {
    on: bool,
    /// The server's last line was a `334` challenge: the client's next line is a SASL
    /// response.
    response_next: bool,
}

impl Tracer {
    pub fn new(on: bool) -> Self {
        Self { on, response_next: false }
    }

    /// What the client sent (read by a server, written by a client).
    pub fn client(&mut self, bytes: &[u8]) {
        if !self.on {
            return;
        }
        for line in lines(bytes) {
            let shown = if std::mem::take(&mut self.response_next) && line != "*" {
                String::from("[redacted]")
            } else {
                redact_auth(&line)
            };
            eprintln!("C: {shown}");
        }
    }

    /// What the server sent.
    pub fn server(&mut self, bytes: &[u8]) {
        if !self.on {
            return;
        }
        for line in lines(bytes) {
            self.response_next = line.starts_with("334 ");
            eprintln!("S: {line}");
        }
    }
}

/// The lines of `bytes`, without their endings, controls shown escaped.
fn lines(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\n").unwrap_or(line))
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .map(|line| line.escape_ascii().to_string())
}

/// `AUTH PLAIN <initial response>` as `AUTH PLAIN [redacted]`; any other line as it is.
fn redact_auth(line: &str) -> String {
    let mut words = line.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(verb), Some(mechanism), Some(_)) if verb.eq_ignore_ascii_case("AUTH") => {
            format!("{verb} {mechanism} [redacted]")
        }
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_redacted() {
        assert_eq!(super::redact_auth("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), "AUTH PLAIN [redacted]");
        assert_eq!(super::redact_auth("auth login"), "auth login");
        assert_eq!(super::redact_auth("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");
    }
}
