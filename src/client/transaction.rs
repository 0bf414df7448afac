//! Messages: the checks before `MAIL`, the envelope, the body (`DATA` or `BDAT`) and
//! the outcome, with the transaction's state in one type ([`Stage`]).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt::Write;

use bytes::{BufMut, BytesMut};

use super::event::{ClientEvent, Envelope, Failure, LocalFailure, MessageId, Stage as FailedStage};
use super::session::{ClientError, ClientSession, Expect};
use crate::framing::DataEncoder;
use crate::wire::{BodyType, Capabilities, Capability, Command, MailParameters, Parameter, RcptParameters, Reply};

/// The message in progress.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) id: MessageId,
    /// The `RCPT` commands, in envelope order.
    rcpts: Vec<Command<'static>>,
    /// The recipients the server accepted (their indexes), in order.
    accepted: Vec<usize>,
    /// The replies of the recipients it refused, in order.
    refusals: Vec<Reply>,
    /// The body goes in `BDAT` chunks.
    bdat: bool,
    /// The server offers PIPELINING: `RCPT`s, `DATA` and `BDAT` chunks go without
    /// waiting for the replies before them (RFC 2920, RFC 3030 section 4.2).
    pipelining: bool,
    encoder: DataEncoder,
    /// `BDAT` chunks that wait for the reply to the one before (no PIPELINING).
    waiting: VecDeque<Frame>,
    stage: Stage,
}

/// Where a message is.
#[derive(Debug)]
enum Stage {
    /// `MAIL` went; the `RCPT`s from this index on have not (without PIPELINING they go
    /// one at a time, each after the reply before).
    Envelope { next_rcpt: usize },
    /// `DATA` went; its `354` is awaited.
    Data,
    /// The application pushes the body.
    Body,
    /// The body ended; its last replies are awaited.
    Ending,
    /// The message failed; the replies still owed are read, then it is reported.
    /// `in_body`: the application was pushing its body then.
    Failed { failure: Failure, in_body: bool },
    /// The server took it (for LMTP, each recipient's reply said how it went).
    Done,
}

/// A `BDAT` chunk ready to go, with the replies it is owed.
#[derive(Debug)]
struct Frame {
    bytes: BytesMut,
    expects: Vec<Expect>,
}

impl Transaction {
    /// Whether the application owes the body now.
    pub(super) fn wants_body(&self) -> bool {
        matches!(self.stage, Stage::Body)
    }

    /// Whether a `DATA` body is being written: the server reads everything as message
    /// text until the final dot.
    pub(super) fn in_data_body(&self) -> bool {
        !self.bdat && matches!(self.stage, Stage::Body)
    }

    /// The failure to report, if the message failed.
    pub(super) fn into_failure(self) -> Option<Failure> {
        match self.stage {
            Stage::Failed { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// The message failed (the first reason stands).
    fn fail(&mut self, failure: Failure) {
        if !matches!(self.stage, Stage::Failed { .. }) {
            let in_body = matches!(self.stage, Stage::Body);
            self.stage = Stage::Failed { failure, in_body };
            self.waiting.clear();
        }
    }

    /// The replies that end the message: one, or in LMTP one per accepted recipient.
    fn end_expects(&self, lmtp: bool) -> Vec<Expect> {
        match lmtp {
            true => self.accepted.iter().map(|&index| Expect::End(Some(index))).collect(),
            false => alloc::vec![Expect::End(None)],
        }
    }
}

impl ClientSession {
    /// Starts a message: checks it against what the server offers, then `MAIL`, and
    /// with PIPELINING every `RCPT` (and `DATA`) in the same group.
    pub(super) fn start(&mut self, id: MessageId, envelope: Envelope) {
        let params = match mail_parameters(&envelope, &self.capabilities, self.tls) {
            Ok(params) => params,
            Err(failure) => {
                self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Local(failure) });
                return;
            }
        };
        let caps = &self.capabilities;
        let bdat = params.body == Some(BodyType::BinaryMime)
            || (caps.has(&Capability::Chunking) && self.client.config.prefer_bdat);
        let pipelining = caps.has(&Capability::Pipelining);
        let rcpts: Vec<Command<'static>> = envelope
            .recipients
            .iter()
            .map(|(to, params)| Command::Rcpt { to: to.clone(), params: rcpt_parameters(params, caps) })
            .collect();
        let before = self.out.len();
        let mut scratch = BytesMut::new();
        let encoded = Command::Mail { from: envelope.from.clone(), params }.encode(&mut self.out).is_ok()
            && rcpts.iter().all(|command| command.encode(&mut scratch).is_ok());
        if !encoded {
            self.out.truncate(before);
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Local(LocalFailure::Encoding) });
            return;
        }
        self.expected.push_back(Expect::Mail);
        let raw = !self.client.config.normalize_line_endings;
        let encoder = match () {
            // BINARYMIME is sent as it is; other bodies get CRLF line endings (RFC 5321
            // section 2.3.8); DATA bodies are dot-stuffed, BDAT chunks never.
            _ if bdat && (raw || envelope.params.body == Some(BodyType::BinaryMime)) => DataEncoder::verbatim(),
            _ if bdat => DataEncoder::line_endings_only(),
            _ if raw => DataEncoder::raw(),
            _ => DataEncoder::new(),
        };
        let recipients = rcpts.len();
        let mut transaction = Transaction {
            id,
            rcpts,
            accepted: Vec::new(),
            refusals: Vec::new(),
            bdat,
            pipelining,
            encoder,
            waiting: VecDeque::new(),
            stage: Stage::Envelope { next_rcpt: 0 },
        };
        if pipelining {
            // RFC 2920 section 3.1: MAIL, every RCPT and DATA in one group.
            self.out.unsplit(scratch);
            self.expected.extend((0..recipients).map(Expect::Rcpt));
            transaction.stage = Stage::Envelope { next_rcpt: recipients };
            if !bdat {
                self.out.put_slice(b"DATA\r\n");
                self.expected.push_back(Expect::Data);
                transaction.stage = Stage::Data;
            }
        }
        self.current = Some(transaction);
    }

    /// A reply to a command of the message in progress.
    pub(super) fn on_transaction_reply(&mut self, expect: Expect, reply: Reply) {
        let Some(transaction) = self.current.as_mut() else { return };
        let id = transaction.id;
        let code = reply.code();
        match expect {
            Expect::Mail if !code.is_positive() => {
                transaction.fail(Failure::Rejected { stage: FailedStage::Mail, reply });
            }
            Expect::Rcpt(index) => {
                match code.is_positive() {
                    true => transaction.accepted.push(index),
                    false => transaction.refusals.push(reply.clone()),
                }
                self.events.push_back(ClientEvent::Recipient { message: id, index, reply });
            }
            // Any 3yz goes ahead (RFC 5321 section 4.2.1), not only 354.
            Expect::Data if code.is_intermediate() => match transaction.stage {
                Stage::Data if !transaction.accepted.is_empty() => {
                    transaction.stage = Stage::Body;
                    self.refused_body = None;
                    self.events.push_back(ClientEvent::BodyWanted { message: id });
                }
                // The server wants a body for nobody: end it at once, empty.
                _ => {
                    let failure = Failure::NoRecipients { replies: transaction.refusals.clone() };
                    transaction.fail(failure);
                    self.out.put_slice(b".\r\n");
                    self.expected.push_back(Expect::End(None));
                }
            },
            Expect::Data => {
                let failure = match transaction.accepted.is_empty() {
                    true => Failure::NoRecipients { replies: transaction.refusals.clone() },
                    false => Failure::Rejected { stage: FailedStage::Data, reply },
                };
                transaction.fail(failure);
            }
            // RFC 3030 section 2: after a refused chunk, no more chunks of the message.
            Expect::Chunk if !code.is_positive() => {
                transaction.fail(Failure::Rejected { stage: FailedStage::Chunk, reply });
            }
            // The next frame goes once no chunk's reply is owed any more.
            Expect::Chunk => {
                let chunk_owed = self.expected.iter().any(|expect| matches!(expect, Expect::Chunk));
                if !chunk_owed && let Some(frame) = transaction.waiting.pop_front() {
                    self.out.unsplit(frame.bytes);
                    self.expected.extend(frame.expects);
                }
            }
            Expect::End(None) if code.is_positive() => {
                if matches!(transaction.stage, Stage::Ending) {
                    transaction.stage = Stage::Done;
                    self.events.push_back(ClientEvent::Accepted { message: id, reply });
                }
            }
            Expect::End(None) => transaction.fail(Failure::Rejected { stage: FailedStage::EndOfData, reply }),
            Expect::End(Some(index)) => {
                if !lmtp_ends_owed(&self.expected) && matches!(transaction.stage, Stage::Ending) {
                    transaction.stage = Stage::Done;
                }
                self.events.push_back(ClientEvent::Delivery { message: id, index, reply });
            }
            _ => {}
        }
        self.advance();
    }

    /// Sends what the message in progress needs next, or ends it once its last reply
    /// is in.
    pub(super) fn advance(&mut self) {
        let in_flight = self.expected.iter().any(|expect| expect.is_transaction());
        let Some(transaction) = self.current.as_mut() else { return };
        match &mut transaction.stage {
            _ if in_flight => {}
            Stage::Envelope { next_rcpt } if *next_rcpt < transaction.rcpts.len() => {
                let index = *next_rcpt;
                *next_rcpt += 1;
                if let Some(command) = transaction.rcpts.get(index).cloned() {
                    self.command(&command, Expect::Rcpt(index));
                }
            }
            Stage::Envelope { .. } if transaction.accepted.is_empty() => {
                transaction.fail(Failure::NoRecipients { replies: transaction.refusals.clone() });
                self.advance();
            }
            Stage::Envelope { .. } if transaction.bdat => {
                transaction.stage = Stage::Body;
                self.refused_body = None;
                self.events.push_back(ClientEvent::BodyWanted { message: transaction.id });
            }
            Stage::Envelope { .. } => {
                transaction.stage = Stage::Data;
                self.command(&Command::Data, Expect::Data);
            }
            Stage::Failed { in_body, .. } => {
                let in_body = *in_body;
                if let Some(transaction) = self.current.take() {
                    let id = transaction.id;
                    if in_body {
                        self.refused_body = Some(id);
                    }
                    if let Some(failure) = transaction.into_failure() {
                        self.events.push_back(ClientEvent::Failed { message: id, failure });
                    }
                }
                // RFC 5321 section 4.1.1.5: RSET before the next transaction.
                self.needs_reset = true;
            }
            Stage::Done => self.current = None,
            // The body is owed by the application, or its replies are not all in.
            Stage::Data | Stage::Body | Stage::Ending => {}
        }
    }

    /// The next piece of the body asked for by [`ClientEvent::BodyWanted`]: dot-stuffed
    /// for `DATA`, or one `BDAT` chunk; bare CR and LF made CRLF unless the body is
    /// `BINARYMIME` or the configuration says not to. Without PIPELINING, a `BDAT` chunk
    /// waits for the reply to the one before (RFC 3030 section 4.2); once the server
    /// refuses one, the message has failed and this says [`ClientError::MessageRefused`].
    pub fn push_body(&mut self, piece: &[u8]) -> Result<(), ClientError> {
        let chunk_in_flight = self.expected.iter().any(|expect| matches!(expect, Expect::Chunk | Expect::End(_)));
        let refused = self.refused_body.is_some();
        let Some(transaction) = self.current.as_mut() else {
            return Err(if refused { ClientError::MessageRefused } else { ClientError::NoBodyWanted });
        };
        match transaction.stage {
            Stage::Body => {}
            Stage::Failed { in_body: true, .. } => return Err(ClientError::MessageRefused),
            _ if refused => return Err(ClientError::MessageRefused),
            _ => return Err(ClientError::NoBodyWanted),
        }
        if !transaction.bdat {
            transaction.encoder.encode(piece, &mut self.out);
            return Ok(());
        }
        let mut chunk = BytesMut::new();
        transaction.encoder.encode(piece, &mut chunk);
        if !chunk.is_empty() {
            let frame = bdat_frame(chunk, false, alloc::vec![Expect::Chunk]);
            self.send_frame(frame, chunk_in_flight);
        }
        Ok(())
    }

    /// Ends the body: the final `.` line for `DATA`, `BDAT <n> LAST` for `BDAT`. After a
    /// refused chunk nothing more goes (the failure is reported).
    pub fn end_body(&mut self) -> Result<(), ClientError> {
        let lmtp = self.client.config.lmtp;
        let chunk_in_flight = self.expected.iter().any(|expect| matches!(expect, Expect::Chunk | Expect::End(_)));
        // The body of a message the server refused meanwhile ends with nothing sent.
        if self.refused_body.take().is_some() && !self.current.as_ref().is_some_and(Transaction::wants_body) {
            return Ok(());
        }
        let transaction = self.current.as_mut().ok_or(ClientError::NoBodyWanted)?;
        match transaction.stage {
            Stage::Body => transaction.stage = Stage::Ending,
            Stage::Failed { in_body: true, .. } => return Ok(()),
            _ => return Err(ClientError::NoBodyWanted),
        }
        if !transaction.bdat {
            transaction.encoder.finish(&mut self.out);
            match lmtp {
                true => self.expected.extend(transaction.accepted.iter().map(|&index| Expect::End(Some(index)))),
                false => self.expected.push_back(Expect::End(None)),
            }
            return Ok(());
        }
        let expects = transaction.end_expects(lmtp);
        let mut tail = BytesMut::new();
        transaction.encoder.finish(&mut tail);
        self.send_frame(bdat_frame(tail, true, expects), chunk_in_flight);
        Ok(())
    }

    /// A refusal that came while the `DATA` body was being written: the message fails
    /// with it.
    pub(super) fn refuse_body(&mut self, reply: Reply) {
        if let Some(transaction) = self.current.as_mut() {
            transaction.fail(Failure::Rejected { stage: FailedStage::EndOfData, reply });
        }
    }

    /// Sends a `BDAT` frame now, or once the replies before it are in: without
    /// PIPELINING always; with it, the last frame of an LMTP message, whose replies
    /// (one per recipient) could not be told apart from a lone refusal of a chunk
    /// before it.
    fn send_frame(&mut self, frame: Frame, chunk_in_flight: bool) {
        let lmtp_last = self.client.config.lmtp && frame.expects.iter().any(|expect| matches!(expect, Expect::End(_)));
        let Some(transaction) = self.current.as_mut() else { return };
        let pipelined = transaction.pipelining && !lmtp_last;
        if pipelined || (!chunk_in_flight && transaction.waiting.is_empty()) {
            self.out.unsplit(frame.bytes);
            self.expected.extend(frame.expects);
        } else {
            transaction.waiting.push_back(frame);
        }
    }
}

/// Whether LMTP replies to the end of the message are still owed.
fn lmtp_ends_owed(expected: &VecDeque<Expect>) -> bool {
    expected.iter().any(|expect| matches!(expect, Expect::End(Some(_))))
}

/// `BDAT <size> [LAST]` and the chunk.
fn bdat_frame(chunk: BytesMut, last: bool, expects: Vec<Expect>) -> Frame {
    let mut bytes = BytesMut::with_capacity(chunk.len() + 24);
    // Writing into a BytesMut cannot fail.
    let _ = write!(bytes, "BDAT {}{}\r\n", chunk.len(), if last { " LAST" } else { "" });
    bytes.unsplit(chunk);
    Frame { bytes, expects }
}

/// The `MAIL` parameters to send: only those of extensions the server offers (RFC 5321
/// section 4.1.1.11). Those that change nothing about delivery are dropped when not
/// offered; for those that do, the message fails before `MAIL` with the reason.
fn mail_parameters(
    envelope: &Envelope,
    caps: &Capabilities,
    tls: bool,
) -> Result<MailParameters<'static>, LocalFailure> {
    let mut params = envelope.params.clone();
    let offers = |capability: &Capability| caps.has(capability);
    let utf8 = !envelope.from.is_ascii() || envelope.recipients.iter().any(|(to, _)| !to.is_ascii());
    if envelope.recipients.is_empty() {
        return Err(LocalFailure::NoRecipients);
    }
    if matches!((params.size, caps.size_limit()), (Some(size), Some(limit)) if size > limit) {
        return Err(LocalFailure::TooBig);
    }
    // An address, or the message (the application says so with `params.smtputf8`),
    // needs SMTPUTF8 (RFC 6531 section 3.2).
    if (utf8 || params.smtputf8) && !offers(&Capability::SmtpUtf8) {
        return Err(LocalFailure::NeedsSmtpUtf8);
    }
    match params.body {
        Some(BodyType::EightBitMime) if !offers(&Capability::EightBitMime) => {
            return Err(LocalFailure::NeedsEightBitMime);
        }
        Some(BodyType::BinaryMime) if !(offers(&Capability::Chunking) && offers(&Capability::BinaryMime)) => {
            return Err(LocalFailure::NeedsBinaryMime);
        }
        // BODY=7BIT changes nothing; it goes only to a server that knows BODY.
        Some(BodyType::SevenBit) if !offers(&Capability::EightBitMime) => params.body = None,
        _ => {}
    }
    // RFC 8689 section 4: a REQUIRETLS message goes only over TLS, to a server that offers it.
    if params.requiretls && !(tls && offers(&Capability::RequireTls)) {
        return Err(LocalFailure::NeedsRequireTls);
    }
    if params.hold.is_some() && !caps.has_keyword("FUTURERELEASE") {
        return Err(LocalFailure::NotOffered("FUTURERELEASE"));
    }
    if params.by.is_some() && !caps.has_keyword("DELIVERBY") {
        return Err(LocalFailure::NotOffered("DELIVERBY"));
    }
    if !caps.has_keyword("SIZE") {
        params.size = None;
    }
    params.smtputf8 |= utf8;
    if !offers(&Capability::Dsn) {
        params.ret = None;
        params.envid = None;
    }
    if !caps.has_keyword("AUTH") {
        params.auth = None;
    }
    if !caps.has_keyword("MT-PRIORITY") {
        params.mt_priority = None;
    }
    params.other.retain(|parameter| offered(parameter, caps) && !typed(parameter, MAIL_TYPED));
    Ok(params)
}

/// The `MAIL` and `RCPT` parameters the library knows: their typed fields are what is
/// sent, so one also given as an unknown parameter would go twice.
const MAIL_TYPED: &[&str] =
    &["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", "REQUIRETLS", "MT-PRIORITY", "HOLDFOR", "HOLDUNTIL", "BY"];
const RCPT_TYPED: &[&str] = &["NOTIFY", "ORCPT"];

fn typed(parameter: &Parameter<'_>, known: &[&str]) -> bool {
    known.iter().any(|keyword| keyword.eq_ignore_ascii_case(&parameter.keyword))
}

/// The `RCPT` parameters to send: DSN's only to a server that offers it, and unknown
/// ones only to a server whose `EHLO` names them.
fn rcpt_parameters(params: &RcptParameters<'static>, caps: &Capabilities) -> RcptParameters<'static> {
    let mut params = params.clone();
    if !caps.has(&Capability::Dsn) {
        params.notify = None;
        params.orcpt = None;
    }
    params.other.retain(|parameter| offered(parameter, caps) && !typed(parameter, RCPT_TYPED));
    params
}

/// Whether the server's `EHLO` names a parameter the library does not know.
fn offered(parameter: &Parameter<'_>, caps: &Capabilities) -> bool {
    caps.has_keyword(&parameter.keyword)
}
