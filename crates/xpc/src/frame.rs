//! Frames: what crosses between two domains, and their validation.
//!
//! Every frame is big-endian, in 4-byte units like XDR:
//!
//! ```text
//!   call   ┌──────┬────────┬───────────┬──────────────┬────────┬─────────────┐
//!          │ 1:u32│ id:u64 │ proc:u32  │ deadline:u64 │ len:u32│ payload,pad │
//!          └──────┴────────┴───────────┴──────────────┴────────┴─────────────┘
//!   reply  ┌──────┬────────┬───────────┬────────┬─────────────┐
//!          │ 2:u32│ id:u64 │ status:u32│ len:u32│ payload,pad │   status 0: ok,
//!          └──────┴────────┴───────────┴────────┴─────────────┘   else an error
//!                                                                 (payload: text)
//! ```
//!
//! The deadline is in microseconds on the caller's clock (0: none). The
//! receiver trusts nothing: [`Frame::decode`] checks the kind, the length
//! against the bytes present and a maximum, the padding, and that nothing
//! follows; it never panics and allocates at most the payload's length.

use std::fmt;

/// The largest payload a frame may carry.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// A message between domains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A procedure call.
    Call {
        /// Identifies the call; its reply carries the same id.
        id: u64,
        /// The procedure number.
        procedure: u32,
        /// Microseconds on the caller's clock after which it gives up; 0 for
        /// none.
        deadline_us: u64,
        /// The arguments, marshaled (XDR).
        payload: Vec<u8>,
    },
    /// The reply to a call.
    Reply {
        /// The call's id.
        id: u64,
        /// The results, marshaled, or what went wrong.
        result: Result<Vec<u8>, Fault>,
    },
}

/// Why a call failed on the callee's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No handler for the procedure.
    NoSuchProcedure(u32),
    /// The handler refused the arguments or failed.
    Failed(String),
    /// The call arrived after its deadline.
    TooLate,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NoSuchProcedure(p) => write!(f, "no procedure {p}"),
            Fault::Failed(why) => write!(f, "the call failed: {why}"),
            Fault::TooLate => f.write_str("the call arrived after its deadline"),
        }
    }
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header or the payload needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// An unknown frame kind.
    BadKind(u32),
    /// An unknown reply status.
    BadStatus(u32),
    /// A payload longer than [`MAX_PAYLOAD`].
    TooLong(usize),
    /// Nonzero padding bytes.
    BadPadding,
    /// Bytes after the frame.
    Trailing(usize),
    /// An error text that is not UTF-8.
    BadText,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { needed, got } => {
                write!(f, "truncated frame: {needed} bytes needed, {got} present")
            }
            FrameError::BadKind(k) => write!(f, "unknown frame kind {k}"),
            FrameError::BadStatus(s) => write!(f, "unknown reply status {s}"),
            FrameError::TooLong(n) => write!(f, "payload of {n} bytes (at most {MAX_PAYLOAD})"),
            FrameError::BadPadding => f.write_str("nonzero padding"),
            FrameError::Trailing(n) => write!(f, "{n} bytes after the frame"),
            FrameError::BadText => f.write_str("error text is not UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

const CALL: u32 = 1;
const REPLY: u32 = 2;
const OK: u32 = 0;
const NO_SUCH_PROCEDURE: u32 = 1;
const FAILED: u32 = 2;
const TOO_LATE: u32 = 3;

fn pad(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl Frame {
    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Writes the frame's bytes into `out` (replacing its contents).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let payload = |out: &mut Vec<u8>, p: &[u8]| {
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            out.extend_from_slice(p);
            out.resize(out.len() + pad(p.len()), 0);
        };
        match self {
            Frame::Call {
                id,
                procedure,
                deadline_us,
                payload: p,
            } => {
                out.extend_from_slice(&CALL.to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&procedure.to_be_bytes());
                out.extend_from_slice(&deadline_us.to_be_bytes());
                payload(out, p);
            }
            Frame::Reply { id, result } => {
                out.extend_from_slice(&REPLY.to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
                let (status, p): (u32, Vec<u8>) = match result {
                    Ok(p) => (OK, p.clone()),
                    Err(Fault::NoSuchProcedure(n)) => (NO_SUCH_PROCEDURE, n.to_be_bytes().to_vec()),
                    Err(Fault::Failed(why)) => (FAILED, why.as_bytes().to_vec()),
                    Err(Fault::TooLate) => (TOO_LATE, Vec::new()),
                };
                out.extend_from_slice(&status.to_be_bytes());
                payload(out, &p);
            }
        }
    }

    /// The frame in `bytes`, which must hold exactly one.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let mut r = Reader { bytes, at: 0 };
        let kind = r.u32()?;
        let frame = match kind {
            CALL => {
                let id = r.u64()?;
                let procedure = r.u32()?;
                let deadline_us = r.u64()?;
                let payload = r.payload()?;
                Frame::Call {
                    id,
                    procedure,
                    deadline_us,
                    payload,
                }
            }
            REPLY => {
                let id = r.u64()?;
                let status = r.u32()?;
                let payload = r.payload()?;
                let result = match status {
                    OK => Ok(payload),
                    NO_SUCH_PROCEDURE => {
                        let n: [u8; 4] = payload
                            .as_slice()
                            .try_into()
                            .map_err(|_| FrameError::BadStatus(status))?;
                        Err(Fault::NoSuchProcedure(u32::from_be_bytes(n)))
                    }
                    FAILED => Err(Fault::Failed(
                        String::from_utf8(payload).map_err(|_| FrameError::BadText)?,
                    )),
                    TOO_LATE => Err(Fault::TooLate),
                    other => return Err(FrameError::BadStatus(other)),
                };
                Frame::Reply { id, result }
            }
            other => return Err(FrameError::BadKind(other)),
        };
        if r.at != bytes.len() {
            return Err(FrameError::Trailing(bytes.len() - r.at));
        }
        Ok(frame)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FrameError> {
        let end = self.at.checked_add(n).ok_or(FrameError::TooLong(n))?;
        let s = self.bytes.get(self.at..end).ok_or(FrameError::Truncated {
            needed: end,
            got: self.bytes.len(),
        })?;
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        let hi = u64::from(self.u32()?);
        let lo = u64::from(self.u32()?);
        Ok(hi << 32 | lo)
    }

    fn payload(&mut self) -> Result<Vec<u8>, FrameError> {
        let n = self.u32()? as usize;
        if n > MAX_PAYLOAD {
            return Err(FrameError::TooLong(n));
        }
        // `take` checks the bytes are there before anything is allocated.
        let p = self.take(n)?.to_vec();
        if self.take(pad(n))?.iter().any(|&b| b != 0) {
            return Err(FrameError::BadPadding);
        }
        Ok(p)
    }
}
