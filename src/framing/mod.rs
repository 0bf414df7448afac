//! Framing: what sits in front of the grammar.
//!
//! * [`LineFramer`]: command and reply lines, with a hard length cap.
//! * [`DataDecoder`] and [`DataEncoder`]: the `DATA` body, dot-unstuffed on the way in and
//!   dot-stuffed on the way out (RFC 5321 section 4.5.2).
//! * [`BdatReader`]: the exact octet count of an RFC 3030 `BDAT` chunk.
//!
//! None of them keeps bytes of its own: the caller owns the buffer, and each call
//! says how much of it was used. Bytes a framer cannot judge yet (a CR at the very
//! end, a `.` at the start of a line) stay in the caller's buffer until more arrive,
//! which is what makes every split of the input give the same result.

mod bdat;
mod data;
mod line;
mod pairs;

pub use bdat::BdatReader;
pub use data::{BareLineEndings, DataDecoder, DataEncoder, Decoded};
pub use line::{BareLf, Framed, LineFramer};
