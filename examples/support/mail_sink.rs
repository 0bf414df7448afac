//! The application behind the example servers: it accepts every sender and recipient,
//! checks AUTH against the `--auth` list, and stores each message in a Maildir
//! (`tmp/` then `new/`, fsync before the rename unless told not to) with `Return-Path:`
//! and `Received:` prepended. The `250` goes out only once the file is in `new/`.
//!
//! Deciding is apart from answering: [`Connection::handle`] does the disk work an event
//! calls for and returns a [`Decision`]; [`Decision::apply`] gives it to the session,
//! at once or later, from whatever owns the session (the driver loop).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use smtp_sansio::sasl::Credentials;
use smtp_sansio::server::{AuthTicket, ServerEvent, ServerSession, Ticket};
use smtp_sansio::wire::{Received, TraceProtocol, return_path};
use smtp_sansio::{DecisionError, Reply, ReplyCode};

/// Where messages go, shared by every connection.
pub struct Maildir {
    root: PathBuf,
    fsync: bool,
    hostname: String,
    users: Vec<(String, String)>,
    counter: AtomicU64,
    /// This process's id, for the names (asking for it is a system call each time).
    pid: u32,
    /// Creating and renaming files one at a time: the directories' locks are then
    /// taken without contention, which under load costs more than the work itself.
    directory_operations: std::sync::Mutex<()>,
}

impl Maildir {
    /// Creates `root/{tmp,new,cur}` if needed.
    pub fn open(root: &Path, fsync: bool, hostname: &str, users: Vec<(String, String)>) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        // Maildir names hold no `/` or `:`.
        let hostname = hostname.replace(['/', ':'], "_");
        Ok(Self {
            root: root.to_path_buf(),
            fsync,
            hostname,
            users,
            counter: AtomicU64::new(0),
            pid: std::process::id(),
            directory_operations: std::sync::Mutex::new(()),
        })
    }

    /// Whether messages are fsynced before they are acknowledged.
    #[allow(dead_code)] // the std server blocks anyway
    pub fn fsync(&self) -> bool {
        self.fsync
    }

    /// A name no other message of this process has (Maildir's `time.pid_n.host`).
    fn unique_name(&self) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}.{}_{n}.{}", now.as_secs(), self.pid, self.hostname)
    }
}

/// One connection's application state.
pub struct Connection<'a> {
    maildir: &'a Maildir,
    peer: IpAddr,
    helo: String,
    from: String,
    recipients: Vec<String>,
    /// The message being received: its name and its file in `tmp/` (buffered: a small
    /// message is one write).
    file: Option<(String, BufWriter<File>)>,
    /// LMTP: the message is in `new/` and its deliveries are being answered.
    stored: Option<String>,
    /// Octets of the message body received so far.
    size: u64,
}

impl<'a> Connection<'a> {
    pub fn new(maildir: &'a Maildir, peer: IpAddr) -> Self {
        Self {
            maildir,
            peer,
            helo: String::new(),
            from: String::new(),
            recipients: Vec::new(),
            file: None,
            stored: None,
            size: 0,
        }
    }

    /// The client's address, as far as this connection knows it (the PROXY header's,
    /// XCLIENT's).
    #[allow(dead_code)] // the std server takes neither
    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// Whether acting on `event` may wait for the disk: creating a message's file and
    /// storing it (fsync, rename). Body chunks only fill the file's buffer, or are
    /// written as they come, which the page cache takes at once. (The std server blocks
    /// anyway.)
    #[allow(dead_code)]
    pub fn may_block(event: &ServerEvent) -> bool {
        matches!(event, ServerEvent::Data { .. } | ServerEvent::MessageEnd { .. } | ServerEvent::Delivery { .. })
    }

    /// Acts on one event: writes what it says to the Maildir, and returns the decision
    /// it calls for, if it carries a ticket. Only the answer may wait: the disk work is
    /// done here, in the order the events come (the file is created at `DATA`, written
    /// with each chunk, stored at the end of the message).
    ///
    /// `protocol` is the session's [`ServerSession::trace_protocol`] now, for the
    /// `Received:` field.
    pub fn handle(&mut self, event: ServerEvent, protocol: TraceProtocol) -> Option<Decision> {
        match event {
            // Behind a balancer: the original client is the peer from now on.
            ServerEvent::Proxied(header) => {
                if let Some(addresses) = header.addresses {
                    self.peer = addresses.source.ip();
                }
                None
            }
            // A trusted proxy names the real client: it is the peer from now on, for
            // the Received: field and the log line.
            ServerEvent::Xclient(attributes) => {
                if let Some(ip) = attributes.addr_ip() {
                    self.peer = ip;
                }
                if let Some(helo) = attributes.helo.as_ref().and_then(|helo| helo.value()) {
                    self.helo = helo.to_string();
                }
                None
            }
            ServerEvent::Hello { ticket, host, .. } => {
                self.helo = host.to_string();
                ticket.map(Decision::Accept)
            }
            ServerEvent::Mail { ticket, command } => {
                self.from = command.from().to_string();
                self.recipients.clear();
                self.stored = None;
                Some(Decision::Accept(ticket))
            }
            ServerEvent::Rcpt { ticket, command } => {
                self.recipients.push(command.to().to_string());
                Some(Decision::Accept(ticket))
            }
            ServerEvent::Data { ticket } => match self.start(protocol) {
                Ok(()) => Some(Decision::Accept(ticket)),
                Err(error) => Some(Decision::Reject(ticket, local_error(&error))),
            },
            ServerEvent::BodyChunk(chunk) => {
                // BDAT has no `Data` event: the file opens with the first chunk.
                if self.file.is_none() && self.start(protocol).is_err() {
                    return None;
                }
                self.size += chunk.len() as u64;
                if let Some((_, file)) = &mut self.file
                    && file.write_all(&chunk).is_err()
                {
                    // Reported at the end of the message.
                    self.file = None;
                }
                None
            }
            ServerEvent::MessageEnd { ticket } => {
                // `BDAT 0 LAST` alone: an empty message with no chunk.
                if self.file.is_none() {
                    let _ = self.start(protocol);
                }
                Some(verdict(ticket, self.store()))
            }
            // LMTP: the message is stored once, at its first recipient's delivery.
            ServerEvent::Delivery { ticket, .. } => match self.stored.clone() {
                Some(name) => Some(Decision::AcceptWith(ticket, queued(&name))),
                None => {
                    let stored = self.store();
                    self.stored = stored.as_ref().ok().cloned();
                    Some(verdict(ticket, stored))
                }
            },
            ServerEvent::TransactionAborted(_) => {
                if let Some((name, _)) = self.file.take() {
                    let _ = fs::remove_file(self.maildir.root.join("tmp").join(name));
                }
                None
            }
            ServerEvent::Auth { ticket, credentials, .. } => {
                let known = matches!(&*credentials, Credentials::Password { username, password, .. }
                    if self.maildir.users.iter().any(|(u, p)| u == username && p == password));
                Some(match known {
                    true => Decision::AcceptAuth(ticket),
                    false => Decision::RejectAuth(
                        ticket,
                        Reply::new(ReplyCode::AUTH_FAILED, "5.7.8 Authentication credentials invalid"),
                    ),
                })
            }
            // VRFY and EXPN (when the configuration asks the application), and whatever
            // later versions add: the usual answer.
            other => other.ticket().map(Decision::Accept),
        }
    }

    /// Opens the message's file in `tmp/` and writes the trace fields.
    fn start(&mut self, protocol: TraceProtocol) -> io::Result<()> {
        let name = self.maildir.unique_name();
        let created = {
            let _one_at_a_time = self.maildir.directory_operations.lock();
            File::create(self.maildir.root.join("tmp").join(&name))?
        };
        // Small chunks gather here (a small message is one write); a chunk at least as
        // large as the buffer is written as it is. A bigger buffer would cost a fresh
        // allocation, and its page faults, for every message.
        let mut file = BufWriter::with_capacity(8 * 1024, created);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let recipient = match self.recipients.as_slice() {
            [one] => smtp_sansio::wire::ForwardPath::parse(one).ok(),
            _ => None,
        };
        let helo = if self.helo.is_empty() { "unknown" } else { &self.helo };
        let received = Received {
            helo,
            reverse_dns: None,
            ip: Some(self.peer),
            by: &self.maildir.hostname,
            protocol,
            id: Some(name.split('.').nth(1).unwrap_or("0")),
            recipient: recipient.as_ref(),
            unix_time: now as i64,
            // The sink writes UTC: the library has no time zone data, nor does std.
            utc_offset_minutes: 0,
        }
        .to_field()
        .map_err(|_| io::Error::other("the Received: field cannot be written"))?;
        let from = smtp_sansio::wire::ReversePath::parse(&self.from)
            .map_err(|_| io::Error::other("the reverse path does not parse"))?;
        file.write_all(return_path(&from).as_bytes())?;
        file.write_all(received.as_bytes())?;
        self.file = Some((name, file));
        self.size = 0;
        Ok(())
    }

    /// Moves the finished message to `new/` (fsync, rename, and the directory too) and
    /// returns its name.
    fn store(&mut self) -> Result<String, Reply> {
        let Some((name, file)) = self.file.take() else {
            return Err(Reply::new(ReplyCode::LOCAL_ERROR, "4.3.0 The message could not be stored"));
        };
        let result = (|| {
            let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
            if self.maildir.fsync {
                file.sync_all()?;
            }
            drop(file);
            {
                let _one_at_a_time = self.maildir.directory_operations.lock();
                fs::rename(self.maildir.root.join("tmp").join(&name), self.maildir.root.join("new").join(&name))?;
            }
            if self.maildir.fsync {
                File::open(self.maildir.root.join("new"))?.sync_all()?;
            }
            io::Result::Ok(())
        })();
        result.map_err(|error| local_error(&error))?;
        // One line per stored message: when, from whom, for whom, how big, where. Made
        // whole and written at once: standard error is unbuffered, and `eprintln!` would
        // make a system call for each piece of its format (a dozen per message).
        let line = format!(
            "{} stored peer={} from={} to={} size={} file={}\n",
            rfc3339_utc(SystemTime::now()),
            self.peer,
            self.from,
            self.recipients.join(","),
            self.size,
            self.maildir.root.join("new").join(&name).display()
        );
        let _ = io::stderr().write_all(line.as_bytes());
        Ok(name)
    }
}

/// A decision on one ticket, made but not yet given to the session: deciding and
/// answering are apart, so the answer can wait (`tokio_server --decide-after-ms`) or be
/// given at once. `AUTH` credentials take their own ticket and variants: a catch-all
/// `Accept` cannot accept a password.
#[derive(Debug)]
pub enum Decision {
    Accept(Ticket),
    AcceptWith(Ticket, Reply),
    Reject(Ticket, Reply),
    AcceptAuth(AuthTicket),
    RejectAuth(AuthTicket, Reply),
}

impl Decision {
    /// Gives the decision to its session.
    pub fn apply(self, session: &mut ServerSession) {
        let result = match self {
            Self::Accept(ticket) => session.accept(ticket),
            Self::AcceptWith(ticket, reply) => session.accept_with(ticket, reply),
            Self::Reject(ticket, reply) => session.reject(ticket, reply),
            Self::AcceptAuth(ticket) => session.accept_auth(ticket),
            Self::RejectAuth(ticket, reply) => session.reject_auth(ticket, reply),
        };
        match result {
            // A decision that comes after the session closed (a timeout, the peer
            // flooding it, a shutdown) is no longer awaited: nothing to do.
            Ok(()) | Err(DecisionError::Closed) => {}
            Err(error) => eprintln!("decision refused: {error}"),
        }
    }
}

/// The answer to the end of a message: `250` with its name once it is in `new/`, or
/// the error that kept it out.
fn verdict(ticket: Ticket, stored: Result<String, Reply>) -> Decision {
    match stored {
        Ok(name) => Decision::AcceptWith(ticket, queued(&name)),
        Err(reply) => Decision::Reject(ticket, reply),
    }
}

fn queued(name: &str) -> Reply {
    Reply::new(ReplyCode::OK, format!("Queued as {name}")).with_enhanced(smtp_sansio::EnhancedStatus::new(2, 0, 0))
}

/// `2026-12-02T00:30:00Z`. (Days to a civil date: Howard Hinnant's algorithm.)
fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(super::rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let time = UNIX_EPOCH + Duration::from_secs(1_796_171_400);
        assert_eq!(super::rfc3339_utc(time), "2026-12-02T00:30:00Z");
    }
}

fn local_error(error: &io::Error) -> Reply {
    eprintln!("storing a message failed: {error}");
    Reply::new(ReplyCode::LOCAL_ERROR, "4.3.0 The message could not be stored")
}
