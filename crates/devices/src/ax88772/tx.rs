//! The transmit path: bulk-OUT data decoded into frames for the wire
//! (device-facts.md §2.8).
//!
//! ```text
//!  one bulk-OUT transfer
//!  ┌────────────┬──────────────┬────────────┬─────────┬─────────────┐
//!  │ len | !len │ frame (len)  │ len | !len │ frame   │ 00 00 FF FF │
//!  └────────────┴──────────────┴────────────┴─────────┴─────────────┘
//!   header = len | (len ^ 0xFFFF) << 16, LE; frames back to back, no
//!   alignment; a zero-length header (0x0000FFFF) is padding that Linux
//!   appends when len + 4 is a multiple of 512 instead of a ZLP: skipped.
//! ```
//!
//! A transfer holds whole frames (Linux sends one per transfer; FreeBSD
//! packs several). On a malformed header (bad complement, a length beyond
//! [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN), a header or frame cut short by
//! the end of the transfer) the frames before it are sent, the rest of the
//! transfer is discarded and one framing error is counted; the transfer
//! itself still succeeds, as the chip has taken the bytes. Frames shorter
//! than 60 bytes are padded with zeros, as the MAC would on the wire.

use usb::device::TransferError;

use super::descriptors::EP_BULK_OUT;
use super::faults::{self, Verdict};
use super::state::State;
use super::{MAX_FRAME_LEN, MIN_FRAME_LEN};

/// Length of the header before each frame on bulk OUT (§2.8).
pub const TX_HEADER_LEN: usize = 4;

/// Why bulk-OUT data could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxFramingError {
    /// Fewer than 4 bytes left for a header.
    TruncatedHeader,
    /// The high half is not the complement of the length.
    BadComplement,
    /// The length exceeds the largest frame.
    TooLong,
    /// The transfer ends inside the frame.
    TruncatedFrame,
}

/// What one bulk-OUT transfer holds.
#[derive(Debug, Default)]
pub(crate) struct TxDecoded<'a> {
    pub(crate) frames: Vec<&'a [u8]>,
    pub(crate) padding_headers: u64,
    pub(crate) error: Option<TxFramingError>,
}

/// Split bulk-OUT data into frames.
pub(crate) fn decode_bulk_out(data: &[u8]) -> TxDecoded<'_> {
    let mut decoded = TxDecoded::default();
    let mut rest = data;
    while !rest.is_empty() {
        match next_frame(rest) {
            Ok((None, after)) => {
                decoded.padding_headers += 1;
                rest = after;
            }
            Ok((Some(frame), after)) => {
                decoded.frames.push(frame);
                rest = after;
            }
            Err(error) => {
                decoded.error = Some(error);
                break;
            }
        }
    }
    decoded
}

/// One header and its frame (`None` for a padding header), and what follows.
type Decoded<'a> = (Option<&'a [u8]>, &'a [u8]);

fn next_frame(data: &[u8]) -> Result<Decoded<'_>, TxFramingError> {
    let (header, rest) = data
        .split_first_chunk::<TX_HEADER_LEN>()
        .ok_or(TxFramingError::TruncatedHeader)?;
    let header = u32::from_le_bytes(*header);
    let len = header as u16;
    if (header >> 16) as u16 != len ^ 0xFFFF {
        return Err(TxFramingError::BadComplement);
    }
    let len = usize::from(len);
    if len == 0 {
        Ok((None, rest))
    } else if len > MAX_FRAME_LEN {
        Err(TxFramingError::TooLong)
    } else {
        let frame = rest.get(..len).ok_or(TxFramingError::TruncatedFrame)?;
        Ok((Some(frame), &rest[len..]))
    }
}

impl State {
    /// A bulk-OUT transfer on 0x03: returns the frames for the wire.
    pub(crate) fn accept_bulk_out(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, TransferError> {
        self.usb.check_data_transfer(EP_BULK_OUT)?;
        let decoded = decode_bulk_out(data);
        self.stats.tx_padding_headers += decoded.padding_headers;
        self.stats.tx_framing_errors += u64::from(decoded.error.is_some());
        Ok(decoded
            .frames
            .into_iter()
            .filter_map(|frame| self.transmit(frame))
            .collect())
    }

    /// One frame towards the wire, unless it is lost on the way.
    fn transmit(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let drops = &mut self.stats.tx_dropped;
        if !self.phy.link_up() {
            drops.no_link += 1;
            return None;
        }
        if self.wire.is_none() {
            drops.no_wire += 1;
            return None;
        }
        let mut frame = frame.to_vec();
        frame.resize(frame.len().max(MIN_FRAME_LEN), 0);
        match self.faults.judge_tx(frame.len()) {
            Verdict::Drop => {
                self.stats.tx_dropped.fault += 1;
                return None;
            }
            Verdict::Corrupt(index) => {
                faults::corrupt(&mut frame, index);
                self.stats.tx_corrupted += 1;
            }
            Verdict::Pass => {}
        }
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += frame.len() as u64;
        Some(frame)
    }
}
