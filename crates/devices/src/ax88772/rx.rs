//! The receive path: frames from the wire, through the address filter and
//! the RX FIFO, framed onto bulk IN (device-facts.md §2.7).
//!
//! # Bulk-IN framing
//!
//! ```text
//!  one bulk-IN transfer
//!  ┌────────────┬──────────────┬───┬────────────┬───────────────┐
//!  │ len | !len │ frame (len)  │pad│ len | !len │ frame (len)   │ ...
//!  │  4 bytes LE│              │0/1│  4 bytes LE│               │
//!  └────────────┴──────────────┴───┴────────────┴───────────────┘
//!   header = len (low 16 bits) | !len << 16; the next header starts at
//!   the next even offset (one pad byte after an odd-length frame)
//! ```
//!
//! How frames are cut into transfers is [`RxPacking`]: whole frames only
//! (the default), one frame per transfer, or a byte stream in which a frame
//! and even its header may continue in the next transfer:
//!
//! ```text
//!   Stream / Chunked:  ┌─ transfer 1 ──────────────┐┌─ transfer 2 ─────────
//!                      │hdr│ frame A │hdr│ frame B ││… B │hdr│ frame C │ …
//!                      └───────────────────────────┘└──────────────────────
//!   Chunked(n) also caps a transfer at n bytes, e.g. Chunked(2) splits
//!   every header 2 + 2.
//! ```
//!
//! A transfer never exceeds the host's buffer nor the MFB burst size in
//! RX_CTL (2 KiB << MFB). The FIFO holds frames as framed for bulk IN,
//! bounded by [`Config::rx_fifo_bytes`](super::Config::rx_fifo_bytes)
//! (16 KiB by default, like the chip's SRAM).

use std::collections::VecDeque;

use usb::device::{InPoll, TransferError};

use super::descriptors::EP_BULK_IN;
use super::faults::{self, RxHold, Verdict};
use super::filter::{AddressFilter, ETH_ALEN};
use super::state::State;
use super::{ETH_HLEN, MAX_FRAME_LEN, MIN_FRAME_LEN};

/// Length of the header before each frame on bulk IN (§2.7).
pub const RX_HEADER_LEN: usize = 4;

/// How received frames are cut into bulk-IN transfers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxPacking {
    /// As many whole frames as fit in the transfer; a frame never spans two
    /// transfers, except one that alone does not fit in the host's buffer.
    #[default]
    WholeFrames,
    /// One frame per transfer (split only if it does not fit).
    SingleFrame,
    /// A byte stream like the real chip's: each transfer is filled to the
    /// limit, so frames and headers split wherever a transfer ends.
    Stream,
    /// A byte stream with transfers capped at this many bytes (at least 1).
    ///
    /// The real chip ends a transfer only at a full 512-byte packet or at a
    /// frame boundary, so its splits fall at even offsets with at least a
    /// whole header's worth of bytes after a split header's first half.
    /// Odd sizes, or 2 (a transfer holding only the second half of a
    /// header), make splits the chip never makes and that Linux's parser
    /// does not follow; they are here to test parsers beyond the chip.
    Chunked(usize),
}

/// The RX header for a frame of `len` bytes: `len | !len << 16`, LE.
pub(crate) fn rx_header(len: u16) -> [u8; RX_HEADER_LEN] {
    (u32::from(len) | u32::from(!len) << 16).to_le_bytes()
}

/// A frame framed for bulk IN: header, data, pad.
#[derive(Debug)]
struct FramedFrame {
    bytes: Vec<u8>,
    /// The transfer carrying this frame's last byte ends with it.
    ends_transfer: bool,
}

/// The RX FIFO: framed frames not yet sent, and the unsent tail of a frame
/// that was split.
#[derive(Debug)]
pub(crate) struct RxFifo {
    frames: VecDeque<FramedFrame>,
    tail: VecDeque<u8>,
    tail_ends_transfer: bool,
    bytes: usize,
    capacity: usize,
}

impl RxFifo {
    pub(crate) fn new(capacity: usize) -> Self {
        RxFifo {
            frames: VecDeque::new(),
            tail: VecDeque::new(),
            tail_ends_transfer: false,
            bytes: 0,
            capacity,
        }
    }

    /// Bytes a frame of `len` takes once framed.
    fn framed_len(len: usize) -> usize {
        RX_HEADER_LEN + len + len % 2
    }

    /// Whether a frame of `len` bytes fits.
    pub(crate) fn has_room_for(&self, len: usize) -> bool {
        self.bytes + Self::framed_len(len) <= self.capacity
    }

    /// Queue a frame (the caller checked the room and the length).
    pub(crate) fn push(&mut self, frame: &[u8], corrupt_header: bool) {
        let mut header = rx_header(frame.len() as u16);
        if corrupt_header {
            header[2] ^= 0x01; // the complement no longer matches
        }
        let mut bytes = Vec::with_capacity(Self::framed_len(frame.len()));
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(frame);
        if frame.len() % 2 == 1 {
            bytes.push(0);
        }
        self.bytes += bytes.len();
        self.frames.push_back(FramedFrame {
            bytes,
            ends_transfer: corrupt_header,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.tail.is_empty()
    }

    /// Frames waiting, counting a split frame's tail as one.
    pub(crate) fn frames(&self) -> usize {
        self.frames.len() + usize::from(!self.tail.is_empty())
    }

    /// Bytes waiting.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Empty the FIFO; returns the frames discarded.
    pub(crate) fn clear(&mut self) -> u64 {
        let frames = self.frames() as u64;
        self.frames.clear();
        self.tail.clear();
        self.tail_ends_transfer = false;
        self.bytes = 0;
        frames
    }

    /// Take the bytes of the next bulk-IN transfer, at most `limit`.
    pub(crate) fn next_transfer(&mut self, limit: usize, packing: RxPacking) -> Vec<u8> {
        let limit = match packing {
            RxPacking::Chunked(cap) => limit.min(cap.max(1)),
            _ => limit,
        };
        let mut out = Vec::with_capacity(limit.min(self.bytes));
        let transfer_done = self.send_tail(&mut out, limit, packing);
        if !transfer_done {
            self.send_frames(&mut out, limit, packing);
        }
        self.bytes -= out.len();
        out
    }

    /// Continue a split frame; returns whether the transfer must end here.
    fn send_tail(&mut self, out: &mut Vec<u8>, limit: usize, packing: RxPacking) -> bool {
        if self.tail.is_empty() {
            return false;
        }
        let n = limit.min(self.tail.len());
        out.extend(self.tail.drain(..n));
        !self.tail.is_empty()
            || std::mem::take(&mut self.tail_ends_transfer)
            || packing == RxPacking::SingleFrame
    }

    fn send_frames(&mut self, out: &mut Vec<u8>, limit: usize, packing: RxPacking) {
        let may_split_any = matches!(packing, RxPacking::Stream | RxPacking::Chunked(_));
        while let Some(next) = self.frames.front() {
            let room = limit - out.len();
            let fits = next.bytes.len() <= room;
            if room == 0 || !(fits || may_split_any || out.is_empty()) {
                break;
            }
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            if !fits {
                out.extend_from_slice(&frame.bytes[..room]);
                self.tail.extend(&frame.bytes[room..]);
                self.tail_ends_transfer = frame.ends_transfer;
                break;
            }
            out.extend_from_slice(&frame.bytes);
            if frame.ends_transfer || packing == RxPacking::SingleFrame {
                break;
            }
        }
    }
}

/// Receive-path state besides the FIFO.
#[derive(Debug)]
pub(crate) struct RxPath {
    pub(crate) fifo: RxFifo,
    pub(crate) packing: RxPacking,
    /// SW_RESET BZ: the next bulk-IN poll answers a zero-length packet.
    pub(crate) zero_length_pending: bool,
}

/// Why a frame from the wire is not received, if it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    NoLink,
    ReceiverOff,
    Runt,
    TooLong,
    Filtered,
}

impl State {
    /// A frame arrives from the wire.
    pub(crate) fn receive_from_wire(&mut self, frame: &[u8]) {
        // MAC-control frames are the MAC's own business (flow control).
        if self.phy.link_up() && super::pause::is_mac_control(frame) {
            if let Some(quanta) = super::pause::parse(frame) {
                self.pause_received(quanta);
            }
            return;
        }
        if let Err(refusal) = self.admit(frame) {
            self.count_refusal(refusal);
            return;
        }
        let mut frame = frame.to_vec();
        frame.resize(frame.len().max(MIN_FRAME_LEN), 0); // the sender's MAC pads on a real wire
        match self.faults.judge_rx(frame.len()) {
            Verdict::Drop => {
                self.stats.rx_dropped.fault += 1;
                return;
            }
            Verdict::Corrupt(index) => {
                faults::corrupt(&mut frame, index);
                self.stats.rx_corrupted += 1;
            }
            Verdict::Pass => {}
        }
        if !self.rx.fifo.has_room_for(frame.len()) {
            self.stats.rx_dropped.fifo_full += 1;
            return;
        }
        let corrupt_header = self.faults.take_header_corruption();
        self.stats.rx_headers_corrupted += u64::from(corrupt_header);
        self.rx.fifo.push(&frame, corrupt_header);
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += frame.len() as u64;
        self.wake.bulk_in = true;
        self.pause_check_fifo();
    }

    fn admit(&self, frame: &[u8]) -> Result<(), Refusal> {
        let destination: Option<&[u8; ETH_ALEN]> = frame.first_chunk();
        if !self.phy.link_up() {
            Err(Refusal::NoLink)
        } else if !self.regs.receiver_on() {
            Err(Refusal::ReceiverOff)
        } else if frame.len() < ETH_HLEN {
            Err(Refusal::Runt)
        } else if frame.len() > MAX_FRAME_LEN {
            Err(Refusal::TooLong)
        } else if !destination.is_some_and(|d| self.address_filter().accepts(d)) {
            Err(Refusal::Filtered)
        } else {
            Ok(())
        }
    }

    fn address_filter(&self) -> AddressFilter<'_> {
        AddressFilter {
            rx_ctl: self.regs.rx_ctl,
            node_id: &self.regs.node_id,
            multicast_hash: &self.regs.multicast_hash,
        }
    }

    fn count_refusal(&mut self, refusal: Refusal) {
        let drops = &mut self.stats.rx_dropped;
        let counter = match refusal {
            Refusal::NoLink => &mut drops.no_link,
            Refusal::ReceiverOff => &mut drops.receiver_off,
            Refusal::Runt => &mut drops.runt,
            Refusal::TooLong => &mut drops.too_long,
            Refusal::Filtered => &mut drops.filtered,
        };
        *counter += 1;
    }

    /// The host polls bulk IN (0x82) with `buf`.
    pub(crate) fn poll_bulk_in(&mut self, buf: &mut [u8]) -> InPoll {
        if let Err(error) = self.usb.check_data_transfer(EP_BULK_IN) {
            return InPoll::Failed(error);
        }
        if std::mem::take(&mut self.rx.zero_length_pending) {
            return InPoll::Ready(0);
        }
        if self.rx.fifo.is_empty() || self.rx_held() {
            return InPoll::Pending;
        }
        if buf.is_empty() {
            return InPoll::Failed(TransferError::Overflow);
        }
        let limit = buf.len().min(self.regs.bulk_in_burst());
        let bytes = self.rx.fifo.next_transfer(limit, self.rx.packing);
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.stats.bulk_in_transfers += 1;
        self.stats.bulk_in_bytes += bytes.len() as u64;
        self.pause_check_fifo();
        InPoll::Ready(bytes.len())
    }

    /// Whether the RX-hold fault withholds data from this poll.
    fn rx_held(&mut self) -> bool {
        let hold = &mut self.faults.config.rx_hold;
        match *hold {
            RxHold::None | RxHold::Polls(0) => false,
            RxHold::UntilReleased => true,
            RxHold::Polls(n) => {
                *hold = if n == 1 {
                    RxHold::None
                } else {
                    RxHold::Polls(n - 1)
                };
                self.wake.bulk_in = true; // so the host polls again
                true
            }
        }
    }
}
