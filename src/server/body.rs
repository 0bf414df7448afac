//! Message bodies: `DATA` (dot-stuffed, ends at `<CRLF>.<CRLF>`) and `BDAT` chunks.

use super::BareLineEndingPolicy;
use super::canned;
use super::event::{AbortReason, ServerEvent};
use super::session::{Kind, Phase, Refusal, ServerSession, Step};
use crate::framing::Decoded;

impl ServerSession {
    /// The next piece of a `DATA` body.
    pub(super) fn data_step(&mut self) -> Step {
        let Phase::Data(body) = &mut self.phase else { return Step::Progress };
        let limit = self.shared.config.max_message_size.unwrap_or(u64::MAX);
        let reject_bare = self.shared.config.bare_line_endings == BareLineEndingPolicy::Reject;
        let bare_before = body.decoder.bare_line_endings().any();
        match body.decoder.decode(&mut self.input) {
            None => Step::NeedInput,
            Some(Decoded::Data(mut chunk)) => {
                let start = body.received;
                body.received = body.received.saturating_add(chunk.len() as u64);
                if body.refused.is_some() {
                    return Step::Progress;
                }
                // What goes out of a refused body does not depend on how the input was
                // split: the first `limit` octets, or every octet before the first bare
                // ending (the decoder normalises under this policy, so the call that
                // finds one returns only its replacement CRLF).
                let refused = if body.received > limit {
                    // `limit - start` is less than the chunk's length here.
                    let _ = chunk.split_off((limit.saturating_sub(start)) as usize);
                    Some(AbortReason::TooBig)
                } else if reject_bare && body.decoder.bare_line_endings().any() != bare_before {
                    chunk.clear();
                    Some(AbortReason::BareLineEnding)
                } else {
                    None
                };
                if !chunk.is_empty() {
                    self.events.push_back(ServerEvent::BodyChunk(chunk));
                }
                if let Some(reason) = refused {
                    let replies = self.lmtp_replies();
                    if let Phase::Data(body) = &mut self.phase {
                        body.refused = Some(Refusal { reason, replies });
                    }
                    self.transaction = None;
                    self.events.push_back(ServerEvent::TransactionAborted(reason));
                }
                Step::Progress
            }
            Some(Decoded::End) => {
                let refused = body.refused;
                self.enter(Phase::Commands);
                if self.body_ended_out_of_step() {
                    return Step::Progress;
                }
                match refused {
                    Some(Refusal { reason, replies }) => {
                        let reply = match reason {
                            AbortReason::BareLineEnding => canned::BARE_LINE_ENDING,
                            _ => canned::MESSAGE_TOO_BIG,
                        };
                        for _ in 0..replies {
                            self.reply(reply);
                        }
                    }
                    None => self.message_end(),
                }
                Step::Progress
            }
        }
    }

    /// The next piece of a `BDAT` chunk, or its end.
    pub(super) fn bdat_step(&mut self) -> Step {
        let Phase::Bdat(body) = &mut self.phase else { return Step::Progress };
        if let Some(chunk) = body.reader.read(&mut self.input) {
            let transaction = self.transaction.as_mut().filter(|t| t.refused.is_none());
            if let (None, Some(transaction)) = (body.refused, transaction) {
                transaction.received = transaction.received.saturating_add(chunk.len() as u64);
                self.events.push_back(ServerEvent::BodyChunk(chunk));
            }
            return Step::Progress;
        }
        if !body.reader.is_finished() {
            return Step::NeedInput;
        }
        let (last, size, refused) = (body.last, body.size, body.refused);
        self.enter(Phase::Commands);
        if self.body_ended_out_of_step() {
            return Step::Progress;
        }
        let too_big = self.transaction.as_ref().is_some_and(|t| t.refused.is_some());
        match refused {
            Some(reply) => self.error(reply),
            None if too_big && last => {
                for _ in 0..self.lmtp_replies() {
                    self.reply(canned::MESSAGE_TOO_BIG);
                }
                self.transaction = None;
            }
            None if too_big => self.reply(canned::MESSAGE_TOO_BIG),
            None if last => self.message_end(),
            None => {
                let status = self.shared.config.enhanced_status_codes.then_some((2, 0, 0));
                self.write_reply(|out| {
                    let mut digits = [0; 20];
                    canned::write_line(out, 250, status, "");
                    // "250 2.0.0 " is written; put the count and text before the CRLF.
                    out.truncate(out.len() - 2);
                    out.extend_from_slice(canned::decimal(size, &mut digits));
                    out.extend_from_slice(b" octets received\r\n");
                });
            }
        }
        Step::Progress
    }

    /// A body (or a `BDAT` chunk) ended: a client not offered PIPELINING waits for its
    /// reply before it sends more ([`SyncChecks::unoffered_pipelining`](super::SyncChecks::unoffered_pipelining)).
    /// One that sent more already is answered `554 5.5.0` instead, and its message is
    /// never handed over: `true`.
    fn body_ended_out_of_step(&mut self) -> bool {
        if !self.shared.config.sync_checks.unoffered_pipelining || self.pipelining_offered() {
            return false;
        }
        if self.input.is_empty() {
            self.awaiting = Some(super::session::Awaited::Reply);
            return false;
        }
        self.out_of_step();
        true
    }

    /// How many replies the end of the current message gets: one, or in LMTP one per
    /// accepted recipient (RFC 2033 section 4.2), whatever the outcome.
    pub(super) fn lmtp_replies(&self) -> usize {
        match &self.transaction {
            Some(transaction) if self.shared.config.lmtp => transaction.recipients,
            _ => 1,
        }
    }

    /// The whole message is in: the transaction ends and the application decides, once
    /// for SMTP, once for each accepted recipient for LMTP (RFC 2033 section 4.2).
    fn message_end(&mut self) {
        let Some(transaction) = self.transaction.take() else { return };
        if !self.shared.config.lmtp {
            self.ask(Kind::MessageEnd, |ticket| ServerEvent::MessageEnd { ticket });
            return;
        }
        for (_, recipient, accepted) in transaction.lmtp_recipients {
            if accepted {
                self.ask(Kind::Delivery, |ticket| ServerEvent::Delivery { ticket, recipient });
            }
        }
    }
}
