//! Driving a `ServerSession` by hand, one drain at a time, for tests that decide at
//! chosen moments.

use smtp_sansio::Output;
use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession, Ticket, TicketKind};

/// What one drain of the session gave: the bytes, the events, and how it stopped.
pub struct Drained {
    pub sent: String,
    pub events: Vec<ServerEvent>,
    pub stop: Output<ServerEvent>,
}

/// Polls until the session stops (`Wait`, `Pending` or `Closed`), deciding nothing.
pub fn drain(session: &mut ServerSession) -> Drained {
    drain_deciding(session, false)
}

/// Drains, accepting every ticket at once, until the session stops.
pub fn drain_accepting(session: &mut ServerSession) -> Drained {
    drain_deciding(session, true)
}

fn drain_deciding(session: &mut ServerSession, accept: bool) -> Drained {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket().filter(|_| accept) {
                    session.accept(ticket).unwrap();
                }
                events.push(event);
            }
            Output::StartTls => panic!("no STARTTLS expected here"),
            stop => return Drained { sent: String::from_utf8(sent).unwrap(), events, stop },
        }
    }
}

/// The tickets of `kind` among `events`, in order.
pub fn tickets(events: &[ServerEvent], kind: TicketKind) -> Vec<Ticket> {
    events.iter().filter_map(ServerEvent::ticket).filter(|t| t.kind() == kind).collect()
}

/// The first ticket of `kind` among `events`.
pub fn ticket(events: &[ServerEvent], kind: TicketKind) -> Ticket {
    tickets(events, kind).into_iter().next().expect("a ticket of that kind")
}

/// A session of `config`.
pub fn session(config: ServerConfig) -> ServerSession {
    ServerSession::new(&config.build().unwrap())
}
