//! The AX88772's bulk framing (device-facts §2.7, §2.8).
//!
//! Transmit: each frame becomes one bulk-OUT transfer, behind a 4-byte
//! header; a trailing empty header replaces the zero-length packet USB
//! would otherwise need:
//!
//! ```text
//!  +--------+--------+==================+ (+--------+--------+)
//!  | len LE | !len LE|  frame (len)     |  | 0x0000 | 0xFFFF |  only if
//!  +--------+--------+==================+  +--------+--------+  len + 4 is a
//!    2 bytes  2 bytes                                             multiple of
//!                                                                 the max packet
//! ```
//!
//! Receive: a bulk-IN transfer carries several frames, each behind the same
//! header and padded to an even offset; a frame, and even a header, may
//! continue in the next transfer. [`RxDeframer`] carries that state across
//! transfers and resynchronises at the next transfer after a bad header.

/// The header in front of every frame: `len | !len << 16`, little-endian.
pub const HEADER: usize = 4;

/// The longest frame the driver accepts (1500-byte MTU + 14-byte Ethernet
/// header + 4 for a VLAN tag; Linux rejects longer ones).
pub const MAX_FRAME: usize = 1518;

/// The header of a frame of `len` bytes.
pub fn header(len: u16) -> [u8; HEADER] {
    let word = u32::from(len) | (u32::from(!len) << 16);
    word.to_le_bytes()
}

/// The bulk-OUT transfer for `frame`, given the endpoint's max packet size.
pub fn encode_tx(frame: &[u8], max_packet: usize, out: &mut Vec<u8>) {
    out.clear();
    let len = frame.len().min(usize::from(u16::MAX)) as u16;
    out.extend_from_slice(&header(len));
    out.extend_from_slice(&frame[..usize::from(len)]);
    if max_packet > 0 && out.len().is_multiple_of(max_packet) {
        // An empty frame's header instead of a zero-length packet.
        out.extend_from_slice(&[0x00, 0x00, 0xFF, 0xFF]);
    }
}

/// What went wrong in a received transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// A header whose length and complement disagree.
    BadHeader,
    /// A header announcing a frame longer than [`MAX_FRAME`].
    TooLong(usize),
}

/// Splits bulk-IN transfers into frames, across transfer boundaries.
#[derive(Debug, Default)]
pub struct RxDeframer {
    /// Bytes of a header split across transfers.
    head: Vec<u8>,
    /// The frame being assembled and how long it will be.
    frame: Vec<u8>,
    want: usize,
    /// A pad byte is still due (odd frame length, split after the frame).
    pad_due: bool,
    /// Counters.
    frames: u64,
    errors: u64,
}

impl RxDeframer {
    /// A deframer at the start of a stream.
    pub fn new() -> RxDeframer {
        RxDeframer::default()
    }

    /// Frames completed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Header errors so far (each dropped the rest of its transfer).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Forgets a partial frame (after a transfer failed, or on resume).
    pub fn reset(&mut self) {
        self.head.clear();
        self.frame.clear();
        self.want = 0;
        self.pad_due = false;
    }

    /// Feeds one transfer; calls `deliver` with each complete frame. On a bad
    /// header the partial frame and the rest of this transfer are dropped
    /// and the error is returned; the next transfer starts afresh.
    pub fn push(&mut self, mut data: &[u8], mut deliver: impl FnMut(&[u8])) -> Result<(), RxError> {
        loop {
            if self.pad_due {
                if data.is_empty() {
                    return Ok(());
                }
                data = &data[1..];
                self.pad_due = false;
            }
            if self.want > 0 {
                let take = (self.want - self.frame.len()).min(data.len());
                self.frame.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.frame.len() < self.want {
                    return Ok(());
                }
                deliver(&self.frame);
                self.frames += 1;
                self.frame.clear();
                let odd = self.want % 2 == 1;
                self.want = 0;
                if odd {
                    self.pad_due = true;
                    continue;
                }
            }
            if data.is_empty() {
                return Ok(());
            }
            let need = HEADER - self.head.len();
            let take = need.min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.head.len() < HEADER {
                return Ok(());
            }
            let word = u32::from_le_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
            self.head.clear();
            let len = (word & 0xFFFF) as u16;
            let check = (word >> 16) as u16;
            // Linux compares the low 11 bits of the length and complement.
            if (len ^ check) & 0x7FF != 0x7FF {
                self.errors += 1;
                self.reset();
                return Err(RxError::BadHeader);
            }
            let len = usize::from(len & 0x7FF);
            if len > MAX_FRAME {
                self.errors += 1;
                self.reset();
                return Err(RxError::TooLong(len));
            }
            if len == 0 {
                continue;
            }
            self.want = len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_adds_the_trailer_only_at_packet_multiples() {
        let mut out = Vec::new();
        encode_tx(&[0xAA; 60], 512, &mut out);
        assert_eq!(out.len(), 64);
        assert_eq!(&out[..4], &[60, 0, 0xC3, 0xFF]);
        encode_tx(&[0xAA; 508], 512, &mut out);
        assert_eq!(out.len(), 516);
        assert_eq!(&out[512..], &[0, 0, 0xFF, 0xFF]);
        encode_tx(&[0xAA; 1020], 512, &mut out);
        assert_eq!(out.len(), 1028);
    }

    #[test]
    fn a_bad_header_drops_the_transfer_and_the_next_one_resyncs() {
        let mut d = RxDeframer::new();
        let mut got = Vec::new();
        let r = d.push(&[1, 2, 3, 4, 5, 6], |f| got.push(f.to_vec()));
        assert_eq!(r, Err(RxError::BadHeader));
        let mut t = header(3).to_vec();
        t.extend_from_slice(&[7, 8, 9, 0]);
        d.push(&t, |f| got.push(f.to_vec())).unwrap();
        assert_eq!(got, vec![vec![7, 8, 9]]);
        assert_eq!((d.frames(), d.errors()), (1, 1));
    }
}
