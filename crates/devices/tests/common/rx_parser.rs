//! A reference RX parser, after Linux 6.1's `asix_rx_fixup_common`
//! (device-facts.md §2.7, §2.14 item 4): headers compared on their low 11
//! bits, frames and headers continuing across transfers, a resync check at
//! the expected offset of the next header, the whole transfer dropped on a
//! bad header, and the parse required to end exactly at the transfer's end.

/// Linux's limit: MTU + ETH_HLEN + VLAN_HLEN.
const MAX_LEN: usize = 1500 + 14 + 4;

#[derive(Debug, Default)]
pub struct RxParser {
    header: u32,
    split_head: bool,
    remaining: usize,
    frame: Option<Vec<u8>>,
    /// Complete frames, in order.
    pub frames: Vec<Vec<u8>>,
    /// Transfers (partly) dropped for a bad header or length.
    pub errors: u32,
}

fn header_ok(header: u32) -> bool {
    header & 0x7FF == !header >> 16 & 0x7FF
}

impl RxParser {
    fn reset(&mut self) {
        self.errors += 1;
        self.header = 0;
        self.split_head = false;
        self.remaining = 0;
        self.frame = None;
    }

    fn le32(data: &[u8], offset: usize) -> u32 {
        u32::from_le_bytes(data[offset..offset + 4].try_into().unwrap())
    }

    fn le16(data: &[u8], offset: usize) -> u32 {
        u32::from(u16::from_le_bytes(
            data[offset..offset + 2].try_into().unwrap(),
        ))
    }

    /// One bulk-IN transfer. Returns false if (part of) it was dropped.
    pub fn feed(&mut self, data: &[u8]) -> bool {
        let len = data.len();
        if self.remaining > 0 && self.remaining + 4 <= len {
            let next = (self.remaining + 1) & !1;
            if !header_ok(Self::le32(data, next)) {
                self.reset();
            }
        }
        let mut offset = 0;
        while offset + 2 <= len {
            if self.remaining == 0 {
                if len - offset == 2 {
                    self.header = Self::le16(data, offset);
                    self.split_head = true;
                    offset += 2;
                    break;
                }
                if !self.split_head && len - offset < 4 {
                    break; // a torn header: the length check below fails
                }
                if self.split_head {
                    self.header |= Self::le16(data, offset) << 16;
                    self.split_head = false;
                    offset += 2;
                } else {
                    self.header = Self::le32(data, offset);
                    offset += 4;
                }
                let size = (self.header & 0x7FF) as usize;
                if !header_ok(self.header) || size > MAX_LEN {
                    self.reset();
                    return false;
                }
                self.frame = Some(Vec::with_capacity(size));
                self.remaining = size;
            }
            let copy = self.remaining.min(len - offset);
            self.remaining -= copy;
            if let Some(frame) = self.frame.as_mut() {
                frame.extend_from_slice(&data[offset..offset + copy]);
                if self.remaining == 0 {
                    self.frames.extend(self.frame.take());
                }
            }
            offset += (copy + 1) & !1;
        }
        if offset != len {
            self.reset();
            return false;
        }
        true
    }
}
