//! Setting a client session up: the greeting, `EHLO` (or `HELO`), STARTTLS and AUTH.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::config::{ClientCredentials, TlsPolicy, mechanism_fits};
use super::event::{ClientEvent, CloseReason};
use super::session::{AuthStep, ClientSession, Expect, Phase, Xclient};
use crate::sasl::{Mechanism, decode_base64, encode_base64};
use crate::wire::{
    AttributeCommand, Capabilities, Capability, ClientAttributes, Command, Host, InitialResponse, Limits, Reply,
};

/// The longest command line (RFC 5321 section 4.5.3.1.4; RFC 4954 section 4 asks
/// clients to keep `AUTH` lines within it too).
const MAX_COMMAND_LINE: usize = 512;

impl ClientSession {
    /// A reply to a setup command.
    pub(super) fn on_setup_reply(&mut self, expect: Expect, reply: Reply) {
        match expect {
            Expect::Greeting => match reply.code().is_positive() {
                true => self.send_ehlo(),
                false => self.give_up(CloseReason::Rejected(reply)),
            },
            Expect::Ehlo => self.on_ehlo(reply),
            Expect::Helo => match reply.code().is_positive() {
                true => {
                    self.capabilities = Capabilities::default();
                    self.limits = Limits::default();
                    self.introduce();
                }
                false => self.give_up(CloseReason::Rejected(reply)),
            },
            Expect::StartTls => match reply.code().is_positive() {
                true if self.input.is_empty() => self.phase = Phase::StartTls,
                // Anything after the 220, before the handshake, was injected.
                true => self.close(CloseReason::ProtocolViolation),
                false if self.client.config.starttls == TlsPolicy::Required => {
                    self.give_up(CloseReason::TlsUnavailable(Some(reply)))
                }
                false => {
                    self.tls_refusal = Some(reply);
                    self.introduce();
                }
            },
            // XCLIENT's answer is a new greeting (Postfix's XCLIENT_README): the next
            // XCLIENT line, or EHLO again.
            // Read by class, as every reply (Postfix before 2.3 answered `250`).
            Expect::Xclient => match reply.code().is_positive() {
                true => self.introduce(),
                false => self.give_up(CloseReason::XclientRefused(Some(reply))),
            },
            Expect::Auth(mechanism, step) => self.on_auth(mechanism, step, reply),
            _ => {}
        }
    }

    /// The name to greet with, checked when the configuration was built.
    fn own_name(&self) -> Host<'static> {
        // `ClientConfig::build` refused a name that does not parse.
        Host::parse(&self.client.config.ehlo_name)
            .map(Host::into_owned)
            .unwrap_or(Host::Domain(crate::wire::Domain::LOCALHOST))
    }

    pub(super) fn send_ehlo(&mut self) {
        let host = self.own_name();
        let command = match self.client.config.lmtp {
            true => Command::Lhlo { host },
            false => Command::Ehlo { host },
        };
        self.command(&command, Expect::Ehlo);
    }

    fn on_ehlo(&mut self, reply: Reply) {
        let config = self.client.config.clone();
        if reply.code().is_positive() {
            self.capabilities = Capabilities::from_reply(&reply).unwrap_or_default();
            // RFC 9422: the limits of the EHLO reply in force (after STARTTLS, the new one's).
            self.limits = self.capabilities.limits();
            let offered = self.capabilities.has(&Capability::StartTls);
            return match config.starttls {
                _ if self.tls => self.introduce(),
                TlsPolicy::Off => self.introduce(),
                _ if offered => {
                    self.command(&Command::StartTls, Expect::StartTls);
                }
                TlsPolicy::Required => self.give_up(CloseReason::TlsUnavailable(None)),
                TlsPolicy::Opportunistic => self.introduce(),
            };
        }
        // RFC 5321 section 4.1.4: a server that does not know EHLO gets HELO, unless
        // TLS or AUTH is needed, which HELO cannot give, or this is LMTP.
        let code = reply.code().get();
        let needs_tls = config.starttls == TlsPolicy::Required && !self.tls;
        let needs_auth = config.credentials.is_some() && !config.auth_optional;
        if (code == 500 || code == 502) && !needs_tls && !needs_auth && !config.lmtp {
            let host = self.own_name();
            self.command(&Command::Helo { host }, Expect::Helo);
            return;
        }
        match needs_tls {
            true => self.give_up(CloseReason::TlsUnavailable(None)),
            false => self.give_up(CloseReason::Rejected(reply)),
        }
    }

    /// After greeting (and TLS): `XCLIENT`, if the application asked for it, then
    /// `AUTH`. After the last `XCLIENT` line's greeting, `EHLO` again.
    fn introduce(&mut self) {
        let state = match core::mem::take(&mut self.xclient) {
            Xclient::Asked(attributes) => match self.xclient_lines(&attributes) {
                Some(lines) => Xclient::Sending(lines),
                None => return self.give_up(CloseReason::XclientRefused(None)),
            },
            other => other,
        };
        match state {
            Xclient::Sending(mut lines) => match lines.pop_front() {
                Some(line) => {
                    self.xclient = Xclient::Sending(lines);
                    self.command_line(&line, Expect::Xclient);
                }
                // Greeted again as the client XCLIENT named: EHLO again (TLS and AUTH
                // follow as configured).
                None => self.send_ehlo(),
            },
            Xclient::None | Xclient::Asked(_) => self.authenticate(),
        }
    }

    /// The `XCLIENT` lines for `attributes`: those the server's keyword lists
    /// (XCLIENT_README: the keyword names the attributes the server takes; Exim's takes
    /// no `HELO`). `None` when the server does not offer XCLIENT, or leaves out `ADDR`
    /// while it is given, or lists none of them: the mail would go as the proxy.
    fn xclient_lines(&self, attributes: &ClientAttributes) -> Option<VecDeque<bytes::Bytes>> {
        if !self.capabilities.has_keyword("XCLIENT") {
            return None;
        }
        let listed: Vec<String> = self.capabilities.params_of("XCLIENT").cloned().collect();
        let sent = attributes.listed(AttributeCommand::Xclient, &listed);
        if (attributes.addr.is_some() && sent.addr.is_none()) || sent == ClientAttributes::default() {
            return None;
        }
        sent.encode_lines(AttributeCommand::Xclient).ok()
    }

    /// After greeting (and TLS): `AUTH`, if configured, then ready.
    pub(super) fn authenticate(&mut self) {
        let config = self.client.config.clone();
        let Some(credentials) = &config.credentials else { return self.ready() };
        if self.authenticated {
            return self.ready();
        }
        let offered = offered_mechanisms(&self.capabilities);
        let mechanism =
            config.mechanisms.iter().copied().find(|m| {
                mechanism_fits(*m, credentials) && offered.iter().any(|o| o.eq_ignore_ascii_case(m.as_str()))
            });
        let Some(mechanism) = mechanism.filter(|_| self.tls || config.plaintext_auth) else {
            // Without TLS because the server refused STARTTLS for now, the refusal is why.
            let reply = if mechanism.is_some() && !self.tls { self.tls_refusal.clone() } else { None };
            return self.auth_failed(reply);
        };
        let message = match (credentials, mechanism) {
            (ClientCredentials::Password { username, password }, Mechanism::Plain) => {
                Some(alloc::format!("\0{username}\0{password}"))
            }
            (ClientCredentials::Bearer { user, token }, Mechanism::XOAuth2) => {
                Some(alloc::format!("user={user}\x01auth=Bearer {token}\x01\x01"))
            }
            (ClientCredentials::Bearer { user, token }, Mechanism::OAuthBearer) => {
                Some(alloc::format!("n,a={user},\x01auth=Bearer {token}\x01\x01"))
            }
            _ => None,
        };
        let (initial_response, step) = match message {
            Some(message) => {
                let encoded = encode_base64(message.as_bytes());
                // `AUTH <mechanism> <response>` CRLF must fit a command line; a longer
                // response goes after the server's empty 334 (RFC 4954 section 4).
                let line = "AUTH ".len() + mechanism.as_str().len() + 1 + encoded.len() + 2;
                if line > MAX_COMMAND_LINE {
                    self.initial_response = Some(encoded);
                    (None, AuthStep::InitialResponse)
                } else {
                    (Some(InitialResponse::Base64(encoded.into())), AuthStep::Sent)
                }
            }
            None => (None, AuthStep::LoginUsername),
        };
        let command = Command::Auth { mechanism: mechanism.as_str().into(), initial_response };
        // Challenges may be as long as responses (RFC 4954 section 4), 12288 octets.
        self.parser.set_max_line(crate::framing::LineFramer::AUTH_LINE.max(self.client.config.max_reply_line));
        self.command(&command, Expect::Auth(mechanism, step));
    }

    /// `AUTH` failed or could not be tried: without it, no message may go (unless the
    /// configuration makes it optional).
    fn auth_failed(&mut self, reply: Option<Reply>) {
        if self.client.config.auth_optional {
            self.events.push_back(ClientEvent::AuthFailed { reply });
            return self.ready();
        }
        self.give_up(CloseReason::AuthFailed(reply));
    }

    fn on_auth(&mut self, mechanism: Mechanism, step: AuthStep, reply: Reply) {
        // Judged by class (RFC 5321 section 4.2.1): 2yz succeeded, 3yz is a challenge.
        if reply.code().is_positive() {
            self.authenticated = true;
            return self.ready();
        }
        if !reply.code().is_intermediate() || step == AuthStep::Closing {
            return self.auth_failed(Some(reply));
        }
        let credentials = self.client.config.credentials.clone();
        // RFC 4954 section 4: a challenge that is not base64 is cancelled with `*`.
        let decodes = decodes(&reply);
        let (response, next) = match (&credentials, step) {
            (_, AuthStep::InitialResponse) => (self.initial_response.take().unwrap_or_default(), AuthStep::Sent),
            (Some(ClientCredentials::Password { username, .. }), AuthStep::LoginUsername) if decodes => {
                (encode_base64(username.as_bytes()), AuthStep::LoginPassword)
            }
            (Some(ClientCredentials::Password { password, .. }), AuthStep::LoginPassword) if decodes => {
                (encode_base64(password.as_bytes()), AuthStep::Sent)
            }
            _ => (error_challenge_answer(mechanism, decodes), AuthStep::Closing),
        };
        self.out.put_slice(response.as_bytes());
        self.out.put_slice(b"\r\n");
        self.expected.push_back(Expect::Auth(mechanism, next));
    }

    /// Setup is over: messages may go.
    fn ready(&mut self) {
        self.parser.set_max_line(self.client.config.max_reply_line);
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Ready {
            capabilities: self.capabilities.clone(),
            tls: self.tls,
            authenticated: self.authenticated,
        });
    }
}

/// Whether a `334` challenge is base64 (an empty one is).
fn decodes(challenge: &Reply) -> bool {
    let text: String = challenge.lines().collect();
    decode_base64(text.trim().as_bytes()).is_some()
}

/// The answer to a `334` after the whole response went: an error challenge. XOAUTH2
/// (Google's documentation) and OAUTHBEARER (RFC 7628 section 3.2.3: `%x01`, `AQ==` in
/// base64) each have theirs; a challenge that does not decode, or one to another
/// mechanism, is cancelled with `*` (RFC 4954 section 4). The server's final reply then
/// decides.
fn error_challenge_answer(mechanism: Mechanism, decodes: bool) -> String {
    match mechanism {
        Mechanism::OAuthBearer if decodes => String::from("AQ=="),
        Mechanism::XOAuth2 if decodes => String::new(),
        _ => String::from("*"),
    }
}

/// The SASL mechanisms the server offers: `AUTH` lines, and the legacy `AUTH=` lines
/// some servers still send beside them (or instead).
fn offered_mechanisms(capabilities: &Capabilities) -> Vec<String> {
    let mut offered: Vec<String> = Vec::new();
    for capability in capabilities.iter() {
        match capability {
            Capability::Auth(mechanisms) => offered.extend(mechanisms.iter().cloned()),
            Capability::Other { keyword, params } => {
                let legacy = keyword.get(..5).is_some_and(|head| head.eq_ignore_ascii_case("AUTH="));
                if let Some(first) = keyword.get(5..).filter(|first| legacy && !first.is_empty()) {
                    offered.push(String::from(first));
                    offered.extend(params.iter().cloned());
                }
            }
            _ => {}
        }
    }
    offered
}
