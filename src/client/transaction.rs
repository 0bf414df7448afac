//! Messages: the checks before `MAIL`, the `XFORWARD` lines (Postfix's XFORWARD_README),
//! the envelope, the body (`DATA` or `BDAT`) and the outcome, with the transaction's
//! state in one type ([`Stage`]). A message that the server's `LIMITS` (RFC 9422) split
//! goes in several transactions, one after the other; its outcome is reported once, when
//! the last is over.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt::Write;

use bytes::{Bytes, BytesMut};

use super::event::{ClientEvent, Envelope, Failure, LocalFailure, MessageId, Stage as FailedStage};
use super::outbox::Outbox;
use super::parts;
use super::session::{ClientError, ClientSession, Expect};
use crate::framing::DataEncoder;
use crate::wire::{
    AttributeCommand, BodyType, Capabilities, Capability, ClientAttributes, Command, MailParameters, Parameter,
    RcptParameters, Reply,
};

/// The message in progress, and its transaction in progress: one, or one after the
/// other when the server's `LIMITS` split the message (RFC 9422 section 4).
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) id: MessageId,
    /// The `XFORWARD` lines (CRLF included) that go before each `MAIL` (Postfix's
    /// XFORWARD_README): the envelope's attributes the server lists; none when it does
    /// not offer `XFORWARD` or the envelope has none.
    xforward: VecDeque<Bytes>,
    /// The `MAIL` command, sent again for each transaction.
    mail: Command<'static>,
    /// The `RCPT` commands, in envelope order.
    rcpts: Vec<Command<'static>>,
    /// How many transactions the message was split into (1: not split).
    planned: usize,
    /// The transactions not started yet: each its recipients' indexes in the envelope.
    parts: VecDeque<Vec<usize>>,
    /// This transaction's recipients (indexes in the envelope), in the order their
    /// `RCPT`s go.
    part: Vec<usize>,
    /// The recipients the server accepted in this transaction (their indexes), in order.
    accepted: Vec<usize>,
    /// Every recipient the server refused at `RCPT`, in any transaction, with its reply.
    refusals: Vec<(usize, Reply)>,
    /// The recipients delivered by the transactions so far (SMTP: accepted in a
    /// transaction whose body was accepted; LMTP: a positive delivery reply).
    delivered: Vec<usize>,
    /// The reply that ended the last transaction whose body the server took (in LMTP,
    /// the last delivery reply); `None` while none did.
    through: Option<Reply>,
    /// The body goes in `BDAT` chunks.
    bdat: bool,
    /// The server offers PIPELINING: `RCPT`s, `DATA` and `BDAT` chunks go without
    /// waiting for the replies before them (RFC 2920, RFC 3030 section 4.2).
    pipelining: bool,
    encoder: DataEncoder,
    /// The encoder each transaction's body starts with.
    fresh: DataEncoder,
    /// `BDAT` chunks that wait for the reply to the one before (no PIPELINING).
    waiting: VecDeque<Frame>,
    stage: Stage,
}

/// Where a message is: where its transaction in progress is, or that the next one is
/// due.
#[derive(Debug)]
enum Stage {
    /// The next transaction of the message goes once the session is free (after `RSET`
    /// when the one before failed): its `MAIL` has not gone.
    Next,
    /// Without PIPELINING, the `XFORWARD` lines before this position went, each after the
    /// reply to the one before; the others, then `MAIL`, go once the reply is in.
    Xforward { next_line: usize },
    /// `MAIL` went; the `RCPT`s from this position in the transaction's recipients on
    /// have not (without PIPELINING they go one at a time, each after the reply before).
    Envelope { next_rcpt: usize },
    /// `DATA` went; its `354` is awaited.
    Data,
    /// The application pushes the body.
    Body,
    /// The body ended; its last replies are awaited.
    Ending,
    /// The server refused every recipient of the transaction at `RCPT` (each has its
    /// reply); the replies still owed are read, then the message goes on with its next
    /// transaction, or ends.
    Refused,
    /// The transaction failed, and with it the message: the replies still owed are read,
    /// then it is reported. `in_body`: the application was pushing its body then.
    Failed { failure: Failure, in_body: bool },
    /// The server took the transaction (for LMTP, each recipient's reply said how it
    /// went).
    Done,
}

/// A `BDAT` chunk ready to go (the command and the chunk), with the replies it is owed.
#[derive(Debug)]
struct Frame {
    bytes: Outbox,
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

    /// Whether the message's next transaction is due: its `MAIL` goes once the session
    /// is free.
    pub(super) fn next_due(&self) -> bool {
        matches!(self.stage, Stage::Next)
    }

    /// The message failed for `failure`: the event that says so. For a split message of
    /// which some recipients were delivered, [`Failure::Partial`] says which.
    pub(super) fn failed(mut self, failure: Failure) -> ClientEvent {
        let failure = match self.planned > 1 && !self.delivered.is_empty() {
            true => {
                self.delivered.sort_unstable();
                Failure::Partial { delivered: self.delivered, failure: alloc::boxed::Box::new(failure) }
            }
            false => failure,
        };
        ClientEvent::Failed { message: self.id, failure }
    }

    /// The message is over, every transaction sent: `Accepted` with the reply to the last
    /// transaction the server took (nothing in LMTP, where each recipient had its
    /// reply), or `NoRecipients` when the server refused every recipient.
    fn outcome(mut self, lmtp: bool) -> Option<ClientEvent> {
        match self.through.take() {
            Some(reply) if !lmtp => Some(ClientEvent::Accepted { message: self.id, reply }),
            Some(_) => None,
            // Every refusal, in envelope order.
            None => {
                self.refusals.sort_by_key(|(index, _)| *index);
                let replies = self.refusals.into_iter().map(|(_, reply)| reply).collect();
                Some(ClientEvent::Failed { message: self.id, failure: Failure::NoRecipients { replies } })
            }
        }
    }

    /// The session ended for `reason` (the failure it means is `cause`), with the
    /// message in progress: the event that reports it, if any. `pending`: the LMTP
    /// recipients whose delivery reply was still owed.
    pub(super) fn ended(
        mut self,
        pending: Vec<usize>,
        reason: &crate::client::CloseReason,
        cause: Failure,
        lmtp: bool,
    ) -> Option<ClientEvent> {
        match core::mem::replace(&mut self.stage, Stage::Done) {
            // Its last transaction was over but for replies that change nothing.
            Stage::Refused if self.parts.is_empty() => self.outcome(lmtp),
            Stage::Failed { failure, .. } => Some(self.failed(failure)),
            _ if !pending.is_empty() => {
                let mut recipients = pending;
                recipients.extend(self.parts.iter().flatten());
                recipients.sort_unstable();
                Some(self.failed(Failure::Undelivered { recipients, reason: reason.clone() }))
            }
            _ => Some(self.failed(cause)),
        }
    }

    /// The transaction failed (the first reason stands).
    fn fail(&mut self, failure: Failure) {
        if !matches!(self.stage, Stage::Failed { .. } | Stage::Refused) {
            let in_body = matches!(self.stage, Stage::Body);
            self.stage = Stage::Failed { failure, in_body };
            self.waiting.clear();
        }
    }

    /// Every recipient of the transaction was refused (unless it failed already).
    fn refuse(&mut self) {
        if !matches!(self.stage, Stage::Failed { .. } | Stage::Refused) {
            self.stage = Stage::Refused;
            self.waiting.clear();
        }
    }

    /// The replies that end the transaction: one, or in LMTP one per accepted recipient.
    fn end_expects(&self, lmtp: bool) -> Vec<Expect> {
        match lmtp {
            true => self.accepted.iter().map(|&index| Expect::End(Some(index))).collect(),
            false => alloc::vec![Expect::End(None)],
        }
    }
}

impl ClientSession {
    /// Starts a message: checks it against what the server offers, splits its
    /// recipients into transactions that keep to the server's `LIMITS`, and sends the
    /// first transaction.
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
        let mail = Command::Mail { from: envelope.from.clone(), params };
        let xforward = xforward_lines(envelope.xforward.as_ref(), caps);
        // Every command is tried once here, so that none fails to encode later.
        let mut scratch = BytesMut::new();
        let encoded = core::iter::once(&mail).chain(&rcpts).all(|command| command.encode(&mut scratch).is_ok());
        let Some(xforward) = xforward.filter(|_| encoded) else {
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Local(LocalFailure::Encoding) });
            return;
        };
        let raw = !self.client.config.normalize_line_endings;
        let encoder = match () {
            // BINARYMIME is sent as it is; other bodies get CRLF line endings (RFC 5321
            // section 2.3.8); DATA bodies are dot-stuffed, BDAT chunks never.
            _ if bdat && (raw || envelope.params.body == Some(BodyType::BinaryMime)) => DataEncoder::verbatim(),
            _ if bdat => DataEncoder::line_endings_only(),
            _ if raw => DataEncoder::raw(),
            _ => DataEncoder::new(),
        };
        let parts: VecDeque<Vec<usize>> = parts::plan(envelope.recipients.iter().map(|(to, _)| to), self.limits).into();
        self.current = Some(Transaction {
            id,
            xforward,
            mail,
            rcpts,
            planned: parts.len(),
            parts,
            part: Vec::new(),
            accepted: Vec::new(),
            refusals: Vec::new(),
            delivered: Vec::new(),
            through: None,
            bdat,
            pipelining,
            encoder: encoder.clone(),
            fresh: encoder,
            waiting: VecDeque::new(),
            stage: Stage::Next,
        });
        self.send_part();
    }

    /// Sends the next transaction of the message in progress: its `XFORWARD` lines and
    /// `MAIL`, and with PIPELINING every `RCPT` (and `DATA`) in the same group (RFC 2920
    /// section 3.1). Without PIPELINING, the first `XFORWARD` line alone, or `MAIL`.
    pub(super) fn send_part(&mut self) {
        let Some(transaction) = self.current.as_mut() else { return };
        let Some(part) = transaction.parts.pop_front() else { return };
        transaction.part = part;
        transaction.accepted.clear();
        transaction.encoder = transaction.fresh.clone();
        transaction.waiting.clear();
        let rollback = (self.out.mark(), self.expected.len());
        // Postfix's XFORWARD_README: XFORWARD outside a transaction, so before MAIL; it
        // "may be pipelined when the server supports ESMTP command pipelining".
        match transaction.xforward.front() {
            Some(line) if !transaction.pipelining => {
                let line = line.clone();
                transaction.stage = Stage::Xforward { next_line: 1 };
                self.out.put_slice(&line);
                self.expected.push_back(Expect::Xforward);
            }
            _ => {
                for line in &transaction.xforward {
                    self.out.put_slice(line);
                    self.expected.push_back(Expect::Xforward);
                }
                self.send_mail(rollback);
            }
        }
    }

    /// Sends the `MAIL` of the transaction in progress, and with PIPELINING every `RCPT`
    /// in the same group, and `DATA` unless the body goes in `BDAT` chunks or `XFORWARD`
    /// went with them. (The server takes `MAIL` after a refused `XFORWARD`: a `354` to a
    /// pipelined `DATA` could then only be answered by an empty message or a dropped
    /// connection, so `DATA` waits for the replies before it.) `rollback`: what the
    /// output and the replies awaited were before the transaction's first command, to
    /// go back to if `MAIL` does not encode.
    fn send_mail(&mut self, rollback: (usize, usize)) {
        let Some(transaction) = self.current.as_mut() else { return };
        // Each command encoded when the message started.
        if transaction.mail.encode(self.out.buffer()).is_err() {
            self.out.rewind(rollback.0);
            self.expected.truncate(rollback.1);
            if let Some(transaction) = self.current.take() {
                self.events.push_back(transaction.failed(Failure::Local(LocalFailure::Encoding)));
            }
            return;
        }
        // RFC 9422 MAILMAX counts every MAIL, whatever its reply.
        self.mails = self.mails.saturating_add(1);
        self.expected.push_back(Expect::Mail);
        transaction.stage = Stage::Envelope { next_rcpt: 0 };
        if transaction.pipelining {
            for &index in &transaction.part {
                // Encoded once when the message started: it encodes again.
                if let Some(command) = transaction.rcpts.get(index)
                    && command.encode(self.out.buffer()).is_ok()
                {
                    self.expected.push_back(Expect::Rcpt(index));
                }
            }
            transaction.stage = Stage::Envelope { next_rcpt: transaction.part.len() };
            if !transaction.bdat && transaction.xforward.is_empty() {
                self.out.put_slice(b"DATA\r\n");
                self.expected.push_back(Expect::Data);
                transaction.stage = Stage::Data;
            }
        }
    }

    /// A reply to a command of the message in progress.
    pub(super) fn on_transaction_reply(&mut self, expect: Expect, reply: Reply) {
        let Some(transaction) = self.current.as_mut() else { return };
        let id = transaction.id;
        let code = reply.code();
        match expect {
            // Postfix's XFORWARD_README: 250 is success (read by class, as every reply);
            // anything else refuses it.
            Expect::Xforward if !code.is_positive() => {
                transaction.fail(Failure::Rejected { stage: FailedStage::Xforward, reply });
            }
            Expect::Mail if !code.is_positive() => {
                transaction.fail(Failure::Rejected { stage: FailedStage::Mail, reply });
            }
            // MAIL (or its XFORWARD) was refused: the RCPTs pipelined behind it get
            // replies (503s) that say nothing of their recipients, who are not refused
            // on their own. As Postfix's client does, they are read and ignored.
            Expect::Rcpt(_)
                if matches!(
                    &transaction.stage,
                    Stage::Failed {
                        failure: Failure::Rejected { stage: FailedStage::Mail | FailedStage::Xforward, .. },
                        ..
                    }
                ) => {}
            Expect::Rcpt(index) => {
                match code.is_positive() {
                    true => transaction.accepted.push(index),
                    false => transaction.refusals.push((index, reply.clone())),
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
                    transaction.refuse();
                    self.out.put_slice(b".\r\n");
                    self.expected.push_back(Expect::End(None));
                }
            },
            Expect::Data if transaction.accepted.is_empty() => transaction.refuse(),
            Expect::Data => transaction.fail(Failure::Rejected { stage: FailedStage::Data, reply }),
            // RFC 3030 section 2: after a refused chunk, no more chunks of the message.
            Expect::Chunk if !code.is_positive() => {
                transaction.fail(Failure::Rejected { stage: FailedStage::Chunk, reply });
            }
            // The next frame goes once no chunk's reply is owed any more.
            Expect::Chunk => {
                let chunk_owed = self.expected.iter().any(|expect| matches!(expect, Expect::Chunk));
                if !chunk_owed && let Some(frame) = transaction.waiting.pop_front() {
                    self.out.append(frame.bytes);
                    self.expected.extend(frame.expects);
                }
            }
            Expect::End(None) if code.is_positive() => {
                if matches!(transaction.stage, Stage::Ending) {
                    transaction.stage = Stage::Done;
                    let accepted = core::mem::take(&mut transaction.accepted);
                    transaction.delivered.extend(accepted);
                    transaction.through = Some(reply);
                }
            }
            Expect::End(None) => transaction.fail(Failure::Rejected { stage: FailedStage::EndOfData, reply }),
            Expect::End(Some(index)) => {
                if !lmtp_ends_owed(&self.expected) && matches!(transaction.stage, Stage::Ending) {
                    transaction.stage = Stage::Done;
                }
                if code.is_positive() {
                    transaction.delivered.push(index);
                }
                transaction.through = Some(reply.clone());
                self.events.push_back(ClientEvent::Delivery { message: id, index, reply });
            }
            _ => {}
        }
        self.advance();
    }

    /// Sends what the message in progress needs next, ends its transaction once the last
    /// reply is in, and ends the message once its last transaction is over.
    pub(super) fn advance(&mut self) {
        let in_flight = self.expected.iter().any(|expect| expect.is_transaction());
        let lmtp = self.client.config.lmtp;
        let Some(transaction) = self.current.as_mut() else { return };
        match &mut transaction.stage {
            _ if in_flight => {}
            // Without PIPELINING: the next XFORWARD line, or once they are all answered,
            // MAIL.
            Stage::Xforward { next_line } => {
                let line = transaction.xforward.get(*next_line).cloned();
                *next_line += 1;
                match line {
                    Some(line) => self.command_line(&line, Expect::Xforward),
                    None => self.send_mail((self.out.mark(), self.expected.len())),
                }
            }
            Stage::Envelope { next_rcpt } if *next_rcpt < transaction.part.len() => {
                let position = *next_rcpt;
                *next_rcpt += 1;
                let index = transaction.part.get(position).copied();
                if let Some((index, command)) = index.and_then(|i| Some((i, transaction.rcpts.get(i)?.clone()))) {
                    self.command(&command, Expect::Rcpt(index));
                }
            }
            Stage::Envelope { .. } if transaction.accepted.is_empty() => {
                transaction.refuse();
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
            // Each refused recipient has its reply: the message goes on with its next
            // transaction, after RSET (RFC 5321 section 4.1.1.5), or ends.
            Stage::Refused => {
                self.needs_reset = true;
                match transaction.parts.is_empty() {
                    true => self.finish(lmtp),
                    false => transaction.stage = Stage::Next,
                }
            }
            Stage::Failed { in_body, .. } => {
                if *in_body {
                    self.refused_body = Some(transaction.id);
                }
                // RFC 5321 section 4.1.1.5: RSET before the next transaction.
                self.needs_reset = true;
                if let Some(mut transaction) = self.current.take()
                    && let Stage::Failed { failure, .. } = core::mem::replace(&mut transaction.stage, Stage::Done)
                {
                    self.events.push_back(transaction.failed(failure));
                }
            }
            Stage::Done if !transaction.parts.is_empty() => transaction.stage = Stage::Next,
            Stage::Done => self.finish(lmtp),
            // The next transaction waits for the session; the body is owed by the
            // application; or the replies are not all in.
            Stage::Next | Stage::Data | Stage::Body | Stage::Ending => {}
        }
    }

    /// The message in progress is over, every transaction sent: reports its outcome.
    fn finish(&mut self, lmtp: bool) {
        if let Some(event) = self.current.take().and_then(|transaction| transaction.outcome(lmtp)) {
            self.events.push_back(event);
        }
    }

    /// The next piece of the body asked for by [`ClientEvent::BodyWanted`] (asked for once
    /// per transaction: a message split by the server's `LIMITS` is pushed whole each
    /// time, from its start): dot-stuffed for `DATA`, or one `BDAT` chunk; bare CR and LF
    /// made CRLF unless the body is `BINARYMIME` or the configuration says not to. Without
    /// PIPELINING, a `BDAT` chunk waits for the reply to the one before (RFC 3030 section
    /// 4.2); once the server refuses one, the message has failed and this says
    /// [`ClientError::MessageRefused`].
    ///
    /// The piece is copied. A body held as [`Bytes`] can go without a copy:
    /// [`push_body_bytes`](Self::push_body_bytes).
    pub fn push_body(&mut self, piece: &[u8]) -> Result<(), ClientError> {
        self.push_body_with(|encoder, out| encoder.encode(piece, out.buffer()))
    }

    /// Like [`push_body`](Self::push_body), for a piece held as [`Bytes`] (or anything
    /// that becomes one without a copy: a `Vec<u8>`, a `String`, a `BytesMut`, a
    /// `&'static [u8]`), which is not copied: its runs that need no change reach the
    /// driver as [`Output::Transmit`](crate::Output::Transmit) slices of it, and only
    /// what the encoding adds (a stuffing dot, a line ending) and the commands around it
    /// are written into the session's own buffer. Short runs (under 512 octets) are
    /// copied there too, so that a body with line after line to stuff still goes in few
    /// pieces. The
    /// bytes on the wire are the same as with `push_body`, `BDAT` chunk sizes included.
    ///
    /// The session then hands out several `Transmit`s in a row: a driver gathers them
    /// into one vectored write.
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    ///
    /// use bytes::Bytes;
    /// use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
    /// use smtp_sansio::wire::{ForwardPath, ReversePath};
    /// use smtp_sansio::Output;
    ///
    /// /// Writes every piece, in order, with as few calls as the writer allows.
    /// fn write_all_pieces(socket: &mut impl Write, pieces: &[Bytes]) -> std::io::Result<()> {
    ///     let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|piece| IoSlice::new(piece)).collect();
    ///     let mut slices = &mut slices[..];
    ///     while !slices.is_empty() {
    ///         let written = socket.write_vectored(slices)?;
    ///         if written == 0 {
    ///             return Err(std::io::ErrorKind::WriteZero.into());
    ///         }
    ///         IoSlice::advance_slices(&mut slices, written);
    ///     }
    ///     Ok(())
    /// }
    ///
    /// // A large body, read from a file or built by the application, held as `Bytes`.
    /// let body = Bytes::from("Subject: report\r\n\r\n".to_string() + &"figures, figures\r\n".repeat(4096));
    ///
    /// let client = ClientConfig::new("client.example.net").build().unwrap();
    /// let mut session = ClientSession::new(&client);
    /// let from = ReversePath::parse("<alice@example.net>").unwrap().into_owned();
    /// let to = ForwardPath::parse("<bob@example.org>").unwrap().into_owned();
    /// session.send(Envelope::new(from, [to]).for_body(&body));
    /// session.quit();
    /// let mut server: Vec<&[u8]> = vec![
    ///     b"220 mx.example.org ESMTP\r\n",
    ///     b"250-mx.example.org\r\n250 PIPELINING\r\n",
    ///     b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 Go ahead\r\n",
    ///     b"250 2.0.0 Queued\r\n",
    ///     b"221 2.0.0 Bye\r\n",
    /// ];
    /// server.reverse();
    /// let mut socket: Vec<u8> = Vec::new(); // stands for the connection
    /// let mut pieces: Vec<Bytes> = Vec::new();
    /// let (mut writes, mut body_sliced) = (0, false);
    /// loop {
    ///     let output = session.poll_output();
    ///     // Consecutive `Transmit`s are gathered, and written once something else comes.
    ///     if let Output::Transmit(bytes) = output {
    ///         pieces.push(bytes);
    ///         continue;
    ///     }
    ///     if !pieces.is_empty() {
    ///         // The body has nothing to stuff: it goes out as it is, not as a copy.
    ///         body_sliced |= pieces.iter().any(|piece| piece.as_ptr() == body.as_ptr() && piece.len() == body.len());
    ///         write_all_pieces(&mut socket, &pieces).unwrap();
    ///         writes += 1;
    ///         pieces.clear();
    ///     }
    ///     match output {
    ///         Output::Event(ClientEvent::BodyWanted { .. }) => {
    ///             session.push_body_bytes(body.clone()).unwrap();
    ///             session.end_body().unwrap();
    ///         }
    ///         Output::Event(_) => {}
    ///         Output::Wait(_) => match server.pop() {
    ///             Some(reply) => session.handle_input(reply),
    ///             None => session.handle_eof(),
    ///         },
    ///         Output::Closed => break,
    ///         other => panic!("unexpected {other:?}"),
    ///     }
    /// }
    /// let body_at = socket.windows(body.len()).position(|window| window == body).unwrap();
    /// assert!(socket[..body_at].ends_with(b"DATA\r\n"));
    /// assert_eq!(&socket[body_at + body.len()..], b".\r\nQUIT\r\n");
    /// assert!(body_sliced);
    /// assert_eq!(writes, 4); // EHLO; MAIL, RCPT and DATA; the body and its final dot; QUIT
    /// ```
    pub fn push_body_bytes(&mut self, piece: impl Into<Bytes>) -> Result<(), ClientError> {
        let piece = piece.into();
        self.push_body_with(|encoder, out| encoder.encode_bytes(piece, out))
    }

    /// Checks that a body is wanted, then encodes a piece of it with `encode`: into the
    /// output for `DATA`, as one chunk for `BDAT`.
    fn push_body_with(&mut self, encode: impl FnOnce(&mut DataEncoder, &mut Outbox)) -> Result<(), ClientError> {
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
            encode(&mut transaction.encoder, &mut self.out);
            return Ok(());
        }
        let mut chunk = Outbox::default();
        encode(&mut transaction.encoder, &mut chunk);
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
        let mut tail = Outbox::default();
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
            self.out.append(frame.bytes);
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

/// `BDAT <size> [LAST]` and the chunk (RFC 3030 section 2: the size is the chunk's, to
/// the octet).
fn bdat_frame(chunk: Outbox, last: bool, expects: Vec<Expect>) -> Frame {
    let mut bytes = Outbox::default();
    // Writing into a BytesMut cannot fail.
    let _ = write!(bytes.buffer(), "BDAT {}{}\r\n", chunk.len(), if last { " LAST" } else { "" });
    bytes.append(chunk);
    Frame { bytes, expects }
}

/// The `XFORWARD` lines to send before each `MAIL` of a message: the attributes the
/// server lists in its `XFORWARD` keyword (Postfix's `smtp` client sends no others), none
/// when it does not offer `XFORWARD`, lists no attribute of the envelope's, or the
/// envelope has none. `None` when attributes to send do not encode.
fn xforward_lines(attributes: Option<&ClientAttributes>, caps: &Capabilities) -> Option<VecDeque<Bytes>> {
    let Some(attributes) = attributes else { return Some(VecDeque::new()) };
    // XFORWARD is no typed capability: its names are the parameters of `Other` (every
    // XFORWARD line's, should a server send more than one).
    let listed: Vec<alloc::string::String> = caps.params_of("XFORWARD").cloned().collect();
    // XFORWARD only informs the server's logs: an attribute that cannot go on the wire
    // is left out rather than failing the message (Postfix neuters such values).
    let sent = attributes.listed(AttributeCommand::Xforward, &listed).encodable(AttributeCommand::Xforward);
    if sent == ClientAttributes::default() {
        return Some(VecDeque::new());
    }
    sent.encode_lines(AttributeCommand::Xforward).ok()
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
