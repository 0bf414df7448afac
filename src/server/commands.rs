//! Commands: the RFC 5321 sequence rules and what each command does.

use bytes::Bytes;

use super::canned::{self, Canned};
use super::envelope::{MailCommand, RcptCommand};
use super::event::AuthTicket;
use super::event::{AbortReason, ServerEvent};
use super::session::{AuthExchange, BdatBody, Hello, Kind, Phase, ServerSession, Step};
use crate::framing::{BdatReader, Framed};
use crate::sasl::{self, Mechanism};
use crate::wire::{
    AttributeValue, BodyType, ClientAttributes, Command, ForwardPath, Host, InitialResponse, MailParameters,
    MailboxSpan, RcptParameters, ReversePath,
};

/// The largest refused `BDAT` chunk the session reads to drop it, so that the client can
/// go on; a larger one is answered, and the connection closed.
const BDAT_SKIP_LIMIT: u64 = 1 << 20;

/// How many replies may wait behind undecided `RCPT`s, and how many bytes of the
/// session's own replies, before the session stops reading more commands.
const MAX_OWED: usize = 512;
const MAX_HELD_REPLIES: usize = 32 * 1024;

impl ServerSession {
    /// Reads and runs the next command line, if a whole one has arrived and nothing it
    /// depends on is still being decided.
    pub(super) fn next_command(&mut self) -> Step {
        // Behind a decision other than RCPT's nothing can run, and what follows in the
        // input may not be commands at all (the body after an undecided DATA): leave it
        // unread. Behind RCPT decisions only, the next line is read to see whether it
        // is another RCPT; a broken line is answered in its place in the queue.
        if !self.owed.is_empty() {
            if self.undecided().any(|kind| !matches!(kind, Kind::Rcpt)) {
                return Step::Blocked;
            }
            // Nor behind a queue of replies that has grown long: the session's own
            // replies to lines read behind RCPT decisions (refused parameters, errors)
            // are held until those decisions come, and must stay bounded.
            if self.owed.len() >= MAX_OWED || self.held.len() >= MAX_HELD_REPLIES {
                return Step::Blocked;
            }
        }
        let framed = self.framer.next_line(&self.input);
        if !matches!(framed, Framed::Incomplete { .. }) {
            // The line's deadline is over; the next line's starts with its first byte.
            self.line_deadline = false;
        }
        match framed {
            Framed::Incomplete { discard } => {
                self.consume(discard);
                Step::NeedInput
            }
            // RFC 2920 section 3.2: replies to commands that fail are not held back.
            Framed::LineTooLong { consumed } => {
                self.consume(consumed);
                self.error(canned::LINE_TOO_LONG);
                self.synchronise();
                Step::Progress
            }
            // What follows a bare LF is never run as another command: a proxy in front
            // that splits lines otherwise would see different commands. Answer, close.
            Framed::BareLf { consumed } => {
                self.consume(consumed);
                self.stop_with(canned::BARE_LF_COMMAND);
                Step::Progress
            }
            Framed::Line { len, consumed } => {
                let head = Head::of(&self.input[..len]);
                if !self.may_run(head) {
                    return Step::Blocked;
                }
                // Input after this line arrived with it, before its reply.
                let behind = self.input.len() > consumed;
                if matches!(head, Head::Mail | Head::Rcpt) {
                    // MAIL and RCPT go to the application as slices of the input.
                    let mut line = self.input.split_to(consumed).freeze();
                    line.truncate(len);
                    if let Some(envelope) = self.line(&line, head, behind) {
                        self.ask_envelope(envelope, line);
                    }
                } else {
                    // Other lines are read in place: the buffer is taken out while the
                    // command borrows it (no copy, no allocation), then put back.
                    let input = core::mem::take(&mut self.input);
                    let _ = self.line(&input[..len], head, behind);
                    self.input = input;
                    self.consume(consumed);
                    if matches!(self.phase, Phase::Closing | Phase::Closed) {
                        self.input.clear();
                    }
                }
                if let Phase::StartTls { discarded } = &mut self.phase {
                    // Bytes after the STARTTLS line arrived in plaintext: never commands
                    // (CVE-2011-0411). They are reported once the handshake is done.
                    *discarded += self.input.len();
                    self.input.clear();
                }
                Step::Progress
            }
        }
    }

    /// Whether a command may run now: once every decision it depends on is made. RCPT
    /// needs MAIL's (and may run beside other RCPTs); everything else needs all of them.
    fn may_run(&self, head: Head) -> bool {
        if self.owed.is_empty() {
            return true;
        }
        let mut undecided = self.undecided().peekable();
        if undecided.peek().is_none() {
            return true;
        }
        // Beside other RCPTs, while the recipient limit cannot be reached whatever they
        // are answered (so that the 452 does not depend on when they are decided).
        let room = self.transaction.as_ref().is_some_and(|transaction| {
            transaction.recipients + transaction.undecided < self.shared.config.max_recipients
        });
        room && head == Head::Rcpt && undecided.all(|kind| matches!(kind, Kind::Rcpt))
    }

    /// Runs one command line, CRLF removed. An accepted `MAIL` or `RCPT` comes back
    /// ready to go to the application: it needs the line itself, which `line` borrows.
    fn line(&mut self, line: &[u8], head: Head, behind: bool) -> Option<Envelope> {
        // Each command has its own cap, raised for MAIL and RCPT by the extensions
        // offered; the framer was built with the largest.
        let caps = &self.shared.caps;
        let cap = match head {
            Head::Mail => caps.mail,
            Head::Rcpt => caps.rcpt,
            Head::Auth => caps.auth,
            Head::Other => caps.other,
        };
        if line.len() + 2 > cap {
            self.error(canned::LINE_TOO_LONG);
            return None;
        }
        let parsed = Command::parse(line, &self.options);
        // XCLIENT and XFORWARD from a peer not trusted with them are refused whatever
        // they say, and change nothing (Postfix's XCLIENT_README: 550 5.7.0).
        // Decided by the verb, before anything of the arguments shows in a reply (a line
        // that failed may be XCLIENT with a control character in it). Lines that parsed
        // as another command are not looked at again.
        let proxy_verb = match &parsed {
            Ok(Command::Xclient { .. } | Command::Xforward { .. }) => true,
            Ok(_) => false,
            Err(_) => is_proxy_verb(line),
        };
        if proxy_verb && !self.trusted_proxy {
            self.error(canned::PROXY_NOT_TRUSTED);
            return None;
        }
        if self.hello == Hello::Refused {
            // RFC 5321 section 3.1: after a 554 greeting, only QUIT is honoured.
            match &parsed {
                Ok(Command::Quit) => self.stop_with(canned::BYE),
                command => self.refuse(command.as_ref().ok(), canned::NO_SERVICE),
            }
            return None;
        }
        if let Ok(command) = &parsed
            && self.must_wait(command)
        {
            if behind {
                self.out_of_step();
                return None;
            }
            // Input from now until the reply is handed out is out of step too.
            self.awaiting = Some(super::session::Awaited::Reply);
        }
        // RFC 3207 section 4: a server that requires TLS answers 530 to every command
        // but NOOP, EHLO, STARTTLS and QUIT until it has it.
        if let Ok(command) = &parsed
            && self.shared.config.require_starttls
            && !self.tls
            && !matches!(command, Command::Noop { .. } | Command::Ehlo { .. } | Command::Lhlo { .. })
            && !matches!(command, Command::StartTls | Command::Quit)
        {
            self.refuse(Some(command), canned::STARTTLS_FIRST);
            return None;
        }
        match parsed {
            Ok(Command::Mail { from, params }) => self.mail(&from, &params, line),
            Ok(Command::Rcpt { to, params }) => self.rcpt(&to, &params, line),
            Ok(command) => {
                self.command(command);
                None
            }
            // Cross-protocol requests (a browser made to talk to the SMTP port), and
            // header lines where a command belongs (a DATA desynchronisation): nothing
            // good follows. Postfix answers 221 2.7.0 and closes.
            Err(_) if is_http_request(line) => {
                self.stop_with(canned::NOT_HTTP);
                None
            }
            Err(_) if is_header_line(line) => {
                self.stop_with(canned::TEXT_AT_COMMAND);
                None
            }
            Err(error) => {
                let reply = error.reply();
                let enhanced = self.shared.config.enhanced_status_codes;
                self.write_reply(|out| {
                    let status = reply.enhanced().filter(|_| enhanced);
                    let status = status.map(|s| (s.class(), s.subject(), s.detail()));
                    let text = reply.lines().next().unwrap_or("Syntax error");
                    canned::write_line(out, reply.code().get(), status, text);
                });
                self.count_error();
                self.synchronise();
                // A BDAT whose size does not parse: its chunk, if one follows, cannot
                // be told from commands. Nothing more is read.
                if starts_with_ignore_case(line, b"BDAT") {
                    self.stop_reading();
                }
                None
            }
        }
    }

    /// Whether the client must wait for this command's reply before it sends more
    /// ([`SyncChecks`](super::SyncChecks)).
    fn must_wait(&self, command: &Command<'_>) -> bool {
        let checks = self.shared.config.sync_checks;
        let pipelining = self.pipelining_offered();
        match command {
            Command::Helo { .. } | Command::Ehlo { .. } | Command::Lhlo { .. } => checks.group_end,
            // XCLIENT: the client waits for the new greeting.
            Command::StartTls | Command::Quit | Command::Xclient { .. } => checks.group_end,
            Command::Data => checks.early_body,
            // A chunk follows its BDAT line by design.
            Command::Bdat { .. } => false,
            _ => checks.unoffered_pipelining && !pipelining,
        }
    }

    /// Whether the client was offered PIPELINING: configured, and it said `EHLO`.
    pub(super) fn pipelining_offered(&self) -> bool {
        self.shared.config.pipelining && self.hello == Hello::Ehlo
    }

    /// Hands an accepted `MAIL` or `RCPT` to the application, with its line.
    fn ask_envelope(&mut self, envelope: Envelope, line: Bytes) {
        let options = self.options;
        match envelope {
            Envelope::Mail { kind, from } => {
                let command = MailCommand::new(line, options, from);
                self.ask(kind, |ticket| ServerEvent::Mail { ticket, command });
            }
            Envelope::Rcpt { to } => {
                let command = RcptCommand::new(line, options, to);
                // LMTP keeps each recipient until the message ends: a copy of its own
                // line, not a slice that would keep the whole read it came in alive.
                let lmtp_copy = self.shared.config.lmtp.then(|| command.detached());
                let ticket = self.ask(Kind::Rcpt, |ticket| ServerEvent::Rcpt { ticket, command });
                if let Some(transaction) = &mut self.transaction {
                    transaction.undecided += 1;
                    if let Some(command) = lmtp_copy {
                        transaction.lmtp_recipients.push((ticket, command, false));
                    }
                }
            }
        }
    }

    /// Runs a command other than `MAIL` and `RCPT`.
    fn command(&mut self, command: Command<'_>) {
        let junk = matches!(
            command,
            Command::Noop { .. } | Command::Rset | Command::Vrfy { .. } | Command::Expn { .. } | Command::Help { .. }
        );
        if junk {
            self.junk = self.junk.saturating_add(1);
            if self.junk > self.shared.config.max_junk_commands {
                // Answered as usual, and counted as an error: enough of them close.
                self.count_error();
                if matches!(self.phase, Phase::Closing) {
                    return;
                }
            }
        }
        match command {
            Command::Helo { host } => self.hello(host, Hello::Helo, false),
            Command::Ehlo { host } => self.hello(host, Hello::Ehlo, false),
            Command::Lhlo { host } => self.hello(host, Hello::Ehlo, true),
            // Handled by `line`.
            Command::Mail { .. } | Command::Rcpt { .. } => {}
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.abort_transaction(AbortReason::Reset);
                self.reply(canned::RESET);
            }
            // RFC 5321 section 3.5.3: 252 when the server will not say.
            Command::Vrfy { target } if self.shared.config.decide_vrfy => {
                self.ask(Kind::Verify, |ticket| ServerEvent::Verify { ticket, target: target.into_owned() });
                self.synchronise();
            }
            Command::Vrfy { .. } => {
                self.reply(canned::CANNOT_VERIFY);
                self.synchronise();
            }
            Command::Expn { list } if self.shared.config.decide_expn => {
                self.ask(Kind::Expand, |ticket| ServerEvent::Expand { ticket, list: list.into_owned() });
                self.synchronise();
            }
            Command::Expn { .. } => {
                self.reply(canned::EXPN_NOT_AVAILABLE);
                self.synchronise();
            }
            Command::Help { .. } => {
                self.reply(canned::HELP);
                self.synchronise();
            }
            Command::Noop { .. } => {
                self.reply(canned::OK);
                self.synchronise();
            }
            Command::Quit => {
                self.abort_transaction(AbortReason::Quit);
                self.stop_with(canned::BYE);
            }
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial_response } => self.auth(&mechanism, initial_response),
            Command::Xclient { attributes } => self.xclient(*attributes),
            Command::Xforward { attributes } => self.xforward(*attributes),
        }
    }

    /// HELO, EHLO and LHLO (RFC 5321 section 4.1.1.1, RFC 2033 section 4.1): each
    /// resets the session to "greeted, no transaction". With `decide_hello` the
    /// application answers.
    fn hello(&mut self, host: Host<'_>, kind: Hello, lmtp: bool) {
        if lmtp != self.shared.config.lmtp {
            return self.error(canned::WRONG_HELLO);
        }
        let extended = kind == Hello::Ehlo;
        let host = host.into_owned();
        if self.shared.config.decide_hello {
            // Accepted, it resets the session; refused, nothing changes (RFC 5321
            // section 4.1.4).
            self.ask(Kind::Hello(kind), |ticket| ServerEvent::Hello { ticket: Some(ticket), host, extended });
        } else {
            self.abort_transaction(AbortReason::Reset);
            self.hello = kind;
            let shared = self.shared.clone();
            self.put_reply_bytes(super::decide::hello_reply(&shared, kind, self.tls, self.trusted_proxy));
            self.events.push_back(ServerEvent::Hello { ticket: None, host, extended });
        }
        self.synchronise();
    }

    /// MAIL (RFC 5321 section 4.1.1.2), parsed from `line`.
    fn mail(&mut self, from: &ReversePath<'_>, params: &MailParameters<'_>, line: &[u8]) -> Option<Envelope> {
        let refusal = match () {
            _ if self.hello == Hello::None => canned::NO_HELLO,
            _ if self.transaction.is_some() => canned::NESTED_MAIL,
            _ if self.shared.config.submission && !self.authenticated => canned::AUTH_REQUIRED,
            // RFC 9422 MAILMAX: transient; the client goes on over a new connection.
            _ if self.shared.config.max_messages.is_some_and(|max| self.mails >= max) => {
                self.reply(canned::TOO_MANY_MESSAGES);
                return None;
            }
            _ => {
                if let Some(refusal) = self.check_mail_parameters(params) {
                    self.reply(refusal);
                    return None;
                }
                self.mails = self.mails.saturating_add(1);
                let kind = Kind::Mail { body: params.body, smtputf8: params.smtputf8 };
                let from = match from {
                    ReversePath::Null => None,
                    // `from` was parsed from `line`, so its place there is always found.
                    ReversePath::Mailbox(mailbox) => match MailboxSpan::of(mailbox, line) {
                        Some(span) => Some(span),
                        None => {
                            self.reply(canned::INTERNAL_ERROR);
                            return None;
                        }
                    },
                };
                return Some(Envelope::Mail { kind, from });
            }
        };
        self.error(refusal);
        None
    }

    /// Refuses a parameter of an extension that was not offered (`555 5.5.4`, RFC 5321
    /// section 4.1.1.11) and a declared size over the limit (`552 5.3.4`, RFC 1870).
    fn check_mail_parameters(&self, params: &MailParameters<'_>) -> Option<Canned> {
        let config = &self.shared.config;
        let extended = self.hello == Hello::Ehlo;
        let body_offered = match params.body {
            None | Some(BodyType::SevenBit) => true,
            Some(BodyType::EightBitMime) => config.eight_bit_mime,
            Some(BodyType::BinaryMime) => config.binary_mime && config.chunking,
        };
        let dsn = params.ret.is_some() || params.envid.is_some();
        let offered = body_offered
            && (!params.smtputf8 || config.smtputf8)
            && (!dsn || config.dsn)
            && (params.auth.is_none() || !config.auth_mechanisms.is_empty())
            && params.mt_priority.is_none()
            && params.hold.is_none()
            && params.by.is_none()
            && params.other.is_empty();
        let any = params.size.is_some()
            || params.body.is_some()
            || params.smtputf8
            || dsn
            || params.auth.is_some()
            || params.requiretls
            || params.mt_priority.is_some()
            || params.hold.is_some()
            || params.by.is_some()
            || !params.other.is_empty();
        if !offered || (any && !extended) {
            return Some(canned::PARAMETER_NOT_OFFERED);
        }
        if params.requiretls && !(config.requiretls && self.tls) {
            return Some(match config.requiretls {
                true => canned::REQUIRETLS_NEEDS_TLS,
                false => canned::PARAMETER_NOT_OFFERED,
            });
        }
        match (params.size, config.max_message_size) {
            (Some(size), Some(limit)) if size > limit => Some(canned::MESSAGE_TOO_BIG),
            _ => None,
        }
    }

    /// RCPT (RFC 5321 section 4.1.1.3), parsed from `line`.
    fn rcpt(&mut self, to: &ForwardPath<'_>, params: &RcptParameters<'_>, line: &[u8]) -> Option<Envelope> {
        let (dsn, max) = (self.shared.config.dsn, self.shared.config.max_recipients);
        let refusal = match &self.transaction {
            _ if self.hello == Hello::None => canned::NO_HELLO,
            None => canned::NO_MAIL,
            Some(transaction) if transaction.chunking => canned::RCPT_AFTER_BODY,
            // RFC 5321 section 4.5.3.1.10: 452, and the client sends the rest later.
            Some(transaction) if transaction.recipients + transaction.undecided >= max => {
                self.reply(canned::TOO_MANY_RECIPIENTS);
                return None;
            }
            // RFC 6531 section 3.4: a UTF-8 address needs MAIL's SMTPUTF8.
            Some(transaction) if !to.is_ascii() && !transaction.smtputf8 => {
                self.reply(canned::UTF8_NEEDS_SMTPUTF8);
                return None;
            }
            Some(_) => {
                let dsn_params = params.notify.is_some() || params.orcpt.is_some();
                if (dsn_params && !dsn) || !params.other.is_empty() {
                    self.reply(canned::PARAMETER_NOT_OFFERED);
                    return None;
                }
                if !self.take_domain(to) {
                    self.reply(canned::TOO_MANY_DOMAINS);
                    return None;
                }
                let to = match to {
                    ForwardPath::Postmaster => None,
                    // `to` was parsed from `line`, so its place there is always found.
                    ForwardPath::Mailbox(mailbox) => match MailboxSpan::of(mailbox, line) {
                        Some(span) => Some(span),
                        None => {
                            self.reply(canned::INTERNAL_ERROR);
                            return None;
                        }
                    },
                };
                return Some(Envelope::Rcpt { to });
            }
        };
        self.error(refusal);
        None
    }

    /// Counts the recipient's domain against RFC 9422's `RCPTDOMAINMAX`, if set; `false`
    /// when it is one domain too many. Every `RCPT` handed to the application counts,
    /// whatever its decision, so that the limit does not depend on when decisions come.
    fn take_domain(&mut self, to: &ForwardPath<'_>) -> bool {
        let (Some(max), Some(transaction), ForwardPath::Mailbox(mailbox)) =
            (self.shared.config.max_recipient_domains, &mut self.transaction, to)
        else {
            return true;
        };
        // The domain follows the last `@` (a quoted local part may hold one too).
        let host = mailbox.as_str().rsplit_once('@').map_or("", |(_, host)| host);
        let domains = transaction.domains.get_or_insert_with(Default::default);
        if domains.iter().any(|domain| domain.eq_ignore_ascii_case(host)) {
            return true;
        }
        if domains.len() >= max {
            return false;
        }
        domains.push(host.into());
        true
    }

    /// DATA (RFC 5321 section 4.1.1.4).
    fn data(&mut self) {
        let refusal = match &self.transaction {
            None if self.hello == Hello::None => Some(canned::NO_HELLO),
            None => Some(canned::NO_MAIL),
            Some(transaction) if transaction.chunking => Some(canned::DATA_AFTER_BDAT),
            Some(transaction) if transaction.body == Some(BodyType::BinaryMime) => Some(canned::BINARY_NEEDS_BDAT),
            // RFC 2033 section 4.2: 503 in LMTP; RFC 5321 section 3.3: 554 in SMTP.
            Some(transaction) if transaction.recipients == 0 && self.shared.config.lmtp => {
                Some(canned::NO_RECIPIENTS_LMTP)
            }
            Some(transaction) if transaction.recipients == 0 => Some(canned::NO_RECIPIENTS),
            Some(_) => None,
        };
        match refusal {
            Some(refusal) => self.error(refusal),
            None => {
                self.ask(Kind::Data, |ticket| ServerEvent::Data { ticket });
            }
        }
        self.synchronise();
    }

    /// BDAT (RFC 3030 section 2). The chunk follows the line whatever the answer, so a
    /// refused chunk is still read, and dropped.
    fn bdat(&mut self, size: u64, last: bool) {
        let limit = self.shared.config.max_message_size.unwrap_or(u64::MAX);
        let lmtp = self.shared.config.lmtp;
        let mut too_big = false;
        // The message was refused for its size by an earlier chunk: this one is dropped too.
        let refused_already = self.transaction.as_ref().is_some_and(|transaction| transaction.refused.is_some());
        let refusal = match &mut self.transaction {
            _ if !self.shared.config.chunking => Some(canned::NOT_OFFERED),
            None if self.hello == Hello::None => Some(canned::NO_HELLO),
            None => Some(canned::NO_MAIL),
            // As for DATA: 503 in LMTP (RFC 2033 section 4.2), 554 in SMTP.
            Some(transaction) if transaction.recipients == 0 && lmtp => Some(canned::NO_RECIPIENTS_LMTP),
            Some(transaction) if transaction.recipients == 0 => Some(canned::NO_RECIPIENTS),
            Some(transaction) => {
                transaction.chunking = true;
                // A chunk that would take the message past the limit ends it (RFC 1870
                // section 6.3); the rest of the chunks are read and dropped.
                if transaction.refused.is_none() && transaction.received.saturating_add(size) > limit {
                    transaction.refused = Some(AbortReason::TooBig);
                    too_big = true;
                }
                None
            }
        };
        if too_big {
            self.events.push_back(ServerEvent::TransactionAborted(AbortReason::TooBig));
        }
        match refusal {
            Some(refusal) => self.refuse_bdat(refusal, size, last),
            // A chunk too big to be worth reading only to drop it: 552, and close.
            None if (too_big || refused_already) && size > BDAT_SKIP_LIMIT => {
                // The last chunk's refusal is owed once per accepted recipient in LMTP.
                let replies = if last { self.lmtp_replies() } else { 1 };
                for _ in 0..replies {
                    self.reply(canned::MESSAGE_TOO_BIG);
                }
                self.transaction = None;
                self.stop_reading();
            }
            None => self.enter(Phase::Bdat(BdatBody { reader: BdatReader::new(size), last, size, refused: None })),
        }
    }

    /// Refuses a `BDAT` with `reply`: its chunk follows the line whatever the answer,
    /// and is read and dropped first (RFC 3030 section 2: the refusal goes after the
    /// chunk), so its octets are never commands. A refusal that is one error too many
    /// goes at once, with the `421` after it: nothing more is read.
    fn refuse_bdat(&mut self, reply: Canned, size: u64, last: bool) {
        if self.errors + 1 >= self.shared.config.max_errors {
            return self.error(reply);
        }
        // A chunk too big to be worth reading only to drop it: the reply, and close.
        if size > BDAT_SKIP_LIMIT {
            self.error(reply);
            return self.stop_reading();
        }
        self.enter(Phase::Bdat(BdatBody { reader: BdatReader::new(size), last, size, refused: Some(reply) }));
    }

    /// Refuses a command before it runs (the connection was refused at the greeting, or
    /// TLS is required first); a `BDAT`'s chunk is still read and dropped.
    fn refuse(&mut self, command: Option<&Command<'_>>, reply: Canned) {
        match command {
            Some(Command::Bdat { size, last }) => self.refuse_bdat(reply, *size, *last),
            _ => self.error(reply),
        }
    }

    /// XCLIENT from a trusted peer (Postfix's XCLIENT_README): the client is now the one
    /// the attributes name. The session starts over, as just connected (TLS stays), and
    /// greets again. An `ADDR` names another client: the trust ends, since it was given
    /// to the peer that sent XCLIENT, not to the client it names (the application gives
    /// it again, on [`ServerEvent::Xclient`], if that one is trusted too), as Postfix
    /// decides again by the new address. Without `ADDR` the client is still the proxy,
    /// which may go on (the README's split form: `NAME` and `ADDR` last). A `LOGIN`
    /// attribute means the client authenticated.
    fn xclient(&mut self, attributes: ClientAttributes) {
        if self.transaction.is_some() {
            return self.error(canned::PROXY_IN_TRANSACTION);
        }
        self.hello = Hello::None;
        self.authenticated = matches!(attributes.login, Some(AttributeValue::Value(_)));
        if let Some(proto) = attributes.proto.as_ref().and_then(AttributeValue::value) {
            self.xclient_proto = Some(match proto.eq_ignore_ascii_case("ESMTP") {
                true => Hello::Ehlo,
                false => Hello::Helo,
            });
        }
        if attributes.addr.is_some() {
            self.trusted_proxy = false;
        }
        self.events.push_back(ServerEvent::Xclient(alloc::boxed::Box::new(attributes)));
        let shared = self.shared.clone();
        self.put_reply_bytes(&shared.greeting);
        self.synchronise();
    }

    /// XFORWARD from a trusted peer (Postfix's XFORWARD_README): attributes of the
    /// original client for the next transaction, handed to the application.
    fn xforward(&mut self, attributes: ClientAttributes) {
        if self.transaction.is_some() {
            return self.error(canned::PROXY_IN_TRANSACTION);
        }
        self.events.push_back(ServerEvent::Xforward(alloc::boxed::Box::new(attributes)));
        self.reply(canned::OK);
    }

    /// STARTTLS (RFC 3207 section 4).
    fn starttls(&mut self) {
        if !self.shared.config.starttls {
            return self.error(canned::NOT_OFFERED);
        }
        if self.tls {
            return self.error(canned::ALREADY_TLS);
        }
        self.abort_transaction(AbortReason::StartTls);
        self.reply(canned::TLS_GO);
        self.synchronise();
        self.enter(Phase::StartTls { discarded: 0 });
    }

    /// AUTH (RFC 4954 section 4).
    fn auth(&mut self, name: &str, initial_response: Option<InitialResponse<'_>>) {
        let refusal = match () {
            _ if self.shared.config.auth_mechanisms.is_empty() => Some(canned::NOT_OFFERED),
            // RFC 4954 section 4: AUTH is an extension, offered only after EHLO.
            _ if self.hello != Hello::Ehlo => Some(canned::NO_EHLO),
            _ if self.authenticated => Some(canned::ALREADY_AUTHENTICATED),
            _ if self.transaction.is_some() => Some(canned::AUTH_IN_TRANSACTION),
            _ => None,
        };
        if let Some(refusal) = refusal {
            return self.error(refusal);
        }
        let offered = Mechanism::from_name(name).filter(|m| self.shared.config.auth_mechanisms.contains(m));
        let Some(mechanism) = offered else { return self.error(canned::UNKNOWN_MECHANISM) };
        self.synchronise();
        if !self.tls && !self.shared.config.plaintext_auth {
            return self.reply(canned::ENCRYPTION_REQUIRED);
        }
        let exchange = AuthExchange { mechanism, username: None };
        match initial_response {
            None => {
                self.enter(Phase::Auth(exchange));
                let challenge = match mechanism {
                    Mechanism::Login => "VXNlcm5hbWU6",
                    _ => "",
                };
                self.challenge(challenge);
            }
            Some(InitialResponse::Empty) => self.sasl_message(exchange, &[]),
            Some(InitialResponse::Base64(text)) => match sasl::decode_base64(text.as_bytes()) {
                Some(message) => self.sasl_message(exchange, &message),
                None => self.error(canned::BAD_BASE64),
            },
        }
    }

    /// A `334` challenge (RFC 4954 section 4), base64 already.
    pub(super) fn challenge(&mut self, base64: &str) {
        self.write_reply(|out| canned::write_line(out, 334, None, base64));
        self.synchronise();
    }

    /// One decoded client message of an exchange.
    pub(super) fn sasl_message(&mut self, mut exchange: AuthExchange, message: &[u8]) {
        let credentials = match exchange.mechanism {
            Mechanism::Plain => sasl::plain(message),
            Mechanism::XOAuth2 => sasl::xoauth2(message),
            Mechanism::OAuthBearer => sasl::oauthbearer(message),
            Mechanism::Login => match exchange.username.take() {
                None => match core::str::from_utf8(message) {
                    Ok(username) if !username.is_empty() => {
                        exchange.username = Some(username.into());
                        self.enter(Phase::Auth(exchange));
                        return self.challenge("UGFzc3dvcmQ6");
                    }
                    _ => None,
                },
                Some(username) => core::str::from_utf8(message).ok().map(|password| sasl::Credentials::Password {
                    authzid: None,
                    username,
                    password: password.into(),
                }),
            },
        };
        self.enter(Phase::Commands);
        match credentials {
            Some(credentials) => {
                let mechanism = exchange.mechanism;
                let credentials = alloc::boxed::Box::new(credentials);
                self.ask(Kind::Auth, |ticket| ServerEvent::Auth { ticket: AuthTicket(ticket), mechanism, credentials });
            }
            None => self.error(canned::BAD_CREDENTIALS_FORMAT),
        }
    }

    /// The client's answer to a `334` challenge.
    pub(super) fn auth_step(&mut self) -> Step {
        match self.framer.next_line(&self.input) {
            Framed::Incomplete { discard } => {
                self.consume(discard);
                Step::NeedInput
            }
            Framed::LineTooLong { consumed } => {
                self.consume(consumed);
                self.enter(Phase::Commands);
                self.error(canned::LINE_TOO_LONG);
                Step::Progress
            }
            Framed::BareLf { consumed } => {
                self.consume(consumed);
                self.enter(Phase::Commands);
                self.error(canned::BARE_LF_COMMAND);
                Step::Progress
            }
            Framed::Line { len, consumed } => {
                self.line_deadline = false;
                let Phase::Auth(exchange) = core::mem::replace(&mut self.phase, Phase::Commands) else {
                    return Step::Progress;
                };
                self.framer.reset();
                // RFC 4954 section 4: `*` cancels.
                let message = match &self.input[..len] {
                    b"*" => None,
                    line => Some(sasl::decode_base64(line)),
                };
                self.consume(consumed);
                match message {
                    // A cancelled exchange counts as an error: a loop of them would
                    // otherwise hold the connection for free.
                    None => self.error(canned::AUTH_CANCELLED),
                    Some(None) => self.error(canned::BAD_BASE64),
                    Some(Some(message)) => self.sasl_message(exchange, &message),
                }
                Step::Progress
            }
        }
    }
}

/// An accepted `MAIL` or `RCPT`, ready to go to the application once the line it
/// borrows from is free to move into the event.
pub(super) enum Envelope {
    Mail { kind: Kind, from: Option<MailboxSpan> },
    Rcpt { to: Option<MailboxSpan> },
}

/// What the session needs to know of a command line before it is parsed: whether it is
/// `MAIL` or `RCPT` (the only commands whose line the application keeps; `RCPT` the
/// only one that may run beside undecided `RCPT`s) or `AUTH`, each of which has a line
/// cap of its own. (The parser splits the verb at the first space, so a parsed `MAIL`,
/// `RCPT` or `AUTH` always starts like this.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Mail,
    Rcpt,
    Auth,
    Other,
}

impl Head {
    fn of(line: &[u8]) -> Self {
        let Some(&[a, b, c, d, b' ']) = line.get(..5) else { return Self::Other };
        // Clearing bit 5 upper-cases an ASCII letter, and makes no other byte a letter.
        match [a, b, c, d].map(|byte| byte & !0x20) {
            [b'M', b'A', b'I', b'L'] => Self::Mail,
            [b'R', b'C', b'P', b'T'] => Self::Rcpt,
            [b'A', b'U', b'T', b'H'] => Self::Auth,
            _ => Self::Other,
        }
    }
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Whether a line is `XCLIENT` or `XFORWARD`, whatever follows the verb.
fn is_proxy_verb(line: &[u8]) -> bool {
    let verb = line.split(|&b| b == b' ').next().unwrap_or_default();
    verb.eq_ignore_ascii_case(b"XCLIENT") || verb.eq_ignore_ascii_case(b"XFORWARD")
}

/// A header field line (`Subject: hi`): a name of letters, digits and hyphens, then a
/// colon. At command position it means message text arrived where commands belong.
fn is_header_line(line: &[u8]) -> bool {
    let name_len = line.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
    name_len > 0 && line.get(name_len) == Some(&b':')
}

/// An HTTP request line (`GET / HTTP/1.1`), as sent by browsers and proxies that are
/// made to talk to an SMTP port in cross-protocol attacks.
fn is_http_request(line: &[u8]) -> bool {
    const METHODS: [&[u8]; 7] = [b"GET ", b"POST ", b"HEAD ", b"PUT ", b"CONNECT ", b"OPTIONS ", b"DELETE "];
    METHODS.iter().any(|method| line.starts_with(method)) && memchr::memmem::find(line, b" HTTP/").is_some()
}
