//! The conversations of `tests/transcripts/*.md`: fenced blocks of `C:` and `S:` lines
//! under `## ` headings.

use bytes::BytesMut;
use smtp_sansio::DataEncoder;

/// One fenced conversation of a transcript file.
pub struct Conversation {
    pub title: String,
    /// Lines that only a lenient server takes.
    pub lenient_only: bool,
    pub client_lines: Vec<String>,
    pub server_lines: Vec<String>,
}

pub fn conversations(markdown: &str) -> Vec<Conversation> {
    let mut found = Vec::new();
    let mut title = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            title = heading.to_string();
        } else if line.starts_with("```") {
            in_block = !in_block;
            if in_block {
                let lenient_only = title.contains("lenient");
                found.push(Conversation {
                    title: title.clone(),
                    lenient_only,
                    client_lines: vec![],
                    server_lines: vec![],
                });
            }
        } else if in_block {
            let conversation = found.last_mut().expect("inside a block");
            let text = |prefix: &str| line.strip_prefix(prefix).map(|t| t.strip_prefix(' ').unwrap_or(t).to_string());
            if let Some(client) = text("C:") {
                conversation.client_lines.push(client);
            } else if let Some(server) = text("S:") {
                conversation.server_lines.push(server);
            }
        }
    }
    found.retain(|c| !c.client_lines.is_empty() || !c.server_lines.is_empty());
    found
}

/// The client's bytes: commands, and after DATA the body lines dot-stuffed by our own
/// encoder, then the `.` line. Returns the bytes, the command lines, and each body as
/// the server must see it.
pub fn client_stream(conversation: &Conversation) -> (Vec<u8>, Vec<&str>, Vec<Vec<u8>>) {
    let (mut wire, mut commands, mut bodies) = (BytesMut::new(), Vec::new(), Vec::new());
    let mut lines = conversation.client_lines.iter();
    while let Some(line) = lines.next() {
        commands.push(line.as_str());
        wire.extend_from_slice(format!("{line}\r\n").as_bytes());
        if line.eq_ignore_ascii_case("DATA") {
            let mut body = Vec::new();
            for body_line in lines.by_ref().take_while(|l| *l != ".") {
                body.extend_from_slice(format!("{body_line}\r\n").as_bytes());
            }
            let mut encoder = DataEncoder::new();
            encoder.encode(&body, &mut wire);
            encoder.finish(&mut wire);
            bodies.push(body);
        }
    }
    (wire.to_vec(), commands, bodies)
}
