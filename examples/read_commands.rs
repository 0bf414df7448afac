//! Reads the client side of an SMTP conversation from standard input and prints what
//! a server would make of it: each command, the reply each bad line deserves, and each
//! message body. The wire layer's driver loop, as a program.
//!
//! ```text
//! printf 'EHLO me\r\nMAIL FROM:<a@b.example>\r\nDATA\r\nHi\r\n.\r\nQUIT\r\n' | cargo run --example read_commands
//! ```

use std::io::Read;

use bytes::BytesMut;
use smtp_sansio::{Command, DataDecoder, Decoded, Framed, LineFramer, ParseOptions};

fn main() -> std::io::Result<()> {
    let (mut framer, options) = (LineFramer::commands(), ParseOptions::default());
    let mut input = BytesMut::new();
    let mut body: Option<(DataDecoder, usize)> = None;
    let mut stdin = std::io::stdin().lock();
    let mut read = [0u8; 8192];
    loop {
        let n = stdin.read(&mut read)?;
        if n == 0 {
            break;
        }
        input.extend_from_slice(&read[..n]);
        loop {
            if let Some((decoder, size)) = &mut body {
                match decoder.decode(&mut input) {
                    Some(Decoded::Data(chunk)) => *size += chunk.len(),
                    Some(Decoded::End) => {
                        println!("   message of {size} octets, bare line endings: {:?}", decoder.bare_line_endings());
                        body = None;
                    }
                    None => break,
                }
                continue;
            }
            match framer.next_line(&input) {
                Framed::Line { len, consumed } => {
                    match Command::parse(&input[..len], &options) {
                        Ok(command) => {
                            println!("C: {command}");
                            if command == Command::Data {
                                body = Some((DataDecoder::new(), 0));
                            }
                        }
                        Err(error) => println!("!  {}", error.reply()),
                    }
                    let _ = input.split_to(consumed);
                }
                Framed::LineTooLong { consumed } => {
                    println!("!  500 5.5.6 line too long");
                    let _ = input.split_to(consumed);
                }
                Framed::BareLf { consumed } => {
                    println!("!  500 5.5.2 bare LF");
                    let _ = input.split_to(consumed);
                }
                Framed::Incomplete { discard } => {
                    let _ = input.split_to(discard);
                    break;
                }
            }
        }
    }
    if body.is_some() {
        println!("!  input ended inside a message body");
    }
    Ok(())
}
